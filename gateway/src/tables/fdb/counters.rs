//! The counters of the FDB's events ([`Fdb::stats`]).
//!
//! The table counts its rare events itself: learned, moved, aged, flushed, and,
//! because a MAC flood or a misbehaving host makes them per packet, limit hits,
//! table-full, refused sources and attempts to move a static MAC. Each count is a
//! Relaxed `fetch_add` on one of 16 counter stripes (each its own 128 bytes) chosen
//! by the key's primary bucket, so workers hit by a flood of random MACs spread over
//! the stripes instead of bouncing one line. A static MAC seen on its own
//! destination is reported as [`LearnOutcome::StaticKept`] but not counted (that
//! would be per packet). Per-VNI entry counts take `fetch_add`/`fetch_sub` only when
//! an entry is created or removed; at the limit, `learn` answers `LimitHit` after a
//! plain load of the count, before any lock or read-modify-write. Refreshes count
//! nothing: the caller sees the outcome and may count it in its own per-worker counters.
//!
//! [`LearnOutcome::StaticKept`]: super::LearnOutcome::StaticKept

use super::Fdb;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

// Counter indices.
pub(super) const C_LEARNED: usize = 0;
pub(super) const C_MOVED: usize = 1;
pub(super) const C_AGED: usize = 2;
pub(super) const C_FLUSHED: usize = 3;
pub(super) const C_LIMIT: usize = 4;
pub(super) const C_FULL: usize = 5;
pub(super) const C_STATIC_KEPT: usize = 6;
pub(super) const C_NOT_UNICAST: usize = 7;
const N_COUNTERS: usize = 8;

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
    /// New MACs not learned because their VNI was at its limit.
    pub limit_hits: u64,
    /// New MACs not learned because their probe window (or the VNI table) was full.
    pub table_full: u64,
    /// Learn attempts that would have moved a static entry.
    pub static_kept: u64,
    /// Multicast/broadcast/zero source MACs refused.
    pub not_unicast: u64,
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
            limit_hits: sum(C_LIMIT),
            table_full: sum(C_FULL),
            static_kept: sum(C_STATIC_KEPT),
            not_unicast: sum(C_NOT_UNICAST),
            dynamic_entries: dynamic,
            static_entries: statics,
            vnis: self.vnis_in_use(),
            max_vnis: self.max_vnis(),
        }
    }
}
