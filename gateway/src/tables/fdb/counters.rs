//! The counters of the changes the FDB makes ([`Fdb::stats`]).
//!
//! The table counts what it changes: learned, moved, aged, flushed. Each is a Relaxed
//! `fetch_add` on one of 16 counter stripes (each its own 128 bytes) chosen by the
//! key's primary bucket, next to a change that took the bucket locks anyway. What it
//! refuses ([`LearnOutcome`]: the VNI at its limit, no room, a static entry kept, a
//! source that is not unicast) it does not count: a MAC flood or a misbehaving host
//! makes those per packet, and a read-modify-write of a line the workers share, per
//! packet, is what the data plane must not do. The caller counts the outcome in its
//! own counters (the pipeline: its per-worker `fdb_limit_hit`, `fdb_table_full`,
//! `fdb_static_kept` events). At the limit, `learn` answers `LimitHit` after a plain
//! load of the VNI's count, before any lock or write; per-VNI entry counts take
//! `fetch_add`/`fetch_sub` only when an entry is created or removed. Refreshes count
//! nothing.
//!
//! [`LearnOutcome`]: super::LearnOutcome

use super::Fdb;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

// Counter indices.
pub(super) const C_LEARNED: usize = 0;
pub(super) const C_MOVED: usize = 1;
pub(super) const C_AGED: usize = 2;
pub(super) const C_FLUSHED: usize = 3;
const N_COUNTERS: usize = 4;

/// The event counters of one stripe.
pub(super) type CounterBlock = [AtomicU64; N_COUNTERS];

/// Counters and sizes, summed when asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FdbStats {
    /// Dynamic entries created.
    pub learned: u64,
    /// Dynamic entries moved to a new destination.
    pub moved: u64,
    /// Dynamic entries removed by ageing.
    pub aged: u64,
    /// Entries removed by flushes.
    pub flushed: u64,
    /// Dynamic entries now.
    pub dynamic_entries: usize,
    /// Static entries now.
    pub static_entries: usize,
    /// VNIs holding a count slot now (registered, or created by a first learn).
    pub vnis: usize,
    /// Most VNIs the table holds at once.
    pub max_vnis: usize,
}

impl Fdb {
    #[inline]
    pub(super) fn count(&self, stripe: usize, which: usize) {
        self.counters[stripe][which].fetch_add(1, Relaxed);
    }

    pub(super) fn count_n(&self, which: usize, n: usize) {
        if n > 0 {
            self.counters[0][which].fetch_add(n as u64, Relaxed);
        }
    }

    /// Counters and entry counts.
    pub fn stats(&self) -> FdbStats {
        let sum = |c: usize| -> u64 { self.counters.iter().map(|b| b[c].load(Relaxed)).sum() };
        let (mut dynamic, mut statics) = (0, 0);
        for s in self.vnis.iter() {
            dynamic += s.dynamic.load(Relaxed) as usize;
            statics += s.statics.load(Relaxed) as usize;
        }
        FdbStats {
            learned: sum(C_LEARNED),
            moved: sum(C_MOVED),
            aged: sum(C_AGED),
            flushed: sum(C_FLUSHED),
            dynamic_entries: dynamic,
            static_entries: statics,
            vnis: self.vnis_in_use(),
            max_vnis: self.max_vnis(),
        }
    }
}
