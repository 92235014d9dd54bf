//! The hash-bucket machinery the FDB and the conntrack share: the bucket header
//! word (seqlock, writer lock, overflow count, the table's occupancy bits), the
//! choice of a free slot from those bits, two-choice placement, bucket locks taken
//! in one order, and event counters striped over cache lines. Each table keeps its
//! own key layout and search; what both did the same way lives here once, and
//! `#[inline(always)]` so that it costs what the copies did.

pub(super) mod header;
pub(super) mod locking;
pub(super) mod placement;
pub(super) mod striped;
