//! The table itself: [`Conntrack`], its allocation and seeding (every entry on a
//! free stack), and its sizes.

use super::bucket::{Bucket, CounterBlock, Entry, FreeHead};
use super::summary::Summary;
use super::{Conn, Timeouts, FREE_STRIPES, MAX_CAPACITY, SLOTS};
use crate::dpdk::huge_table;
use crate::tables::buckets::striped::{Striped, STRIPES};
use crate::tables::folded_mul::folded_mul;
use core::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering::Relaxed;

/// The release hook type: called once per removed connection.
pub type ReleaseHook = Box<dyn Fn(&Conn) + Send + Sync>;

/// The connection table: fixed capacity, lock-free lookups, per-bucket locks for
/// inserts and removals. `Send + Sync`; share it by `Arc`.
pub struct Conntrack {
    pub(super) entries: Box<[Entry]>,
    pub(super) buckets: Box<[Bucket]>,
    /// Per bucket, two bits per key it holds ([`summary_bits`](super::summary::summary_bits)
    /// of the key's tag): a key with a bit clear in the word of each of its buckets
    /// is in neither, and a burst's lookup answers it from one word of each instead
    /// of the buckets' lines.
    pub(super) summary: Box<[Summary]>,
    pub(super) free: Box<[FreeHead]>,
    pub(super) counters: Striped<CounterBlock>,
    pub(super) timeouts: Timeouts,
    pub(super) k0: u64,
    pub(super) k1: u64,
    pub(super) release: Option<ReleaseHook>,
}

impl fmt::Debug for Conntrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conntrack")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl Conntrack {
    /// A table for `capacity` connections with default `timeouts`, randomly seeded,
    /// without a release hook.
    pub fn new(capacity: usize, timeouts: Timeouts) -> Conntrack {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0xc0ff_ee00);
        Conntrack::build(capacity, timeouts, h.finish(), None)
    }

    /// Like [`Conntrack::new`], with a hook called (on the removing thread) with
    /// every connection removed, whatever removes it.
    pub fn with_release(
        capacity: usize,
        timeouts: Timeouts,
        release: impl Fn(&Conn) + Send + Sync + 'static,
    ) -> Conntrack {
        let mut t = Conntrack::new(capacity, timeouts);
        t.release = Some(Box::new(release));
        t
    }

    /// Like [`Conntrack::new`] with a fixed hash seed (reproducible layouts, tests).
    pub fn with_seed(capacity: usize, timeouts: Timeouts, seed: u64) -> Conntrack {
        Conntrack::build(capacity, timeouts, seed, None)
    }

    fn build(capacity: usize, timeouts: Timeouts, seed: u64, release: Option<ReleaseHook>) -> Self {
        // 4/3 headroom: a full table fills 75 % of the key slots.
        let n_buckets = (2 * capacity.max(1) * 4).div_ceil(3 * SLOTS);
        Conntrack::with_layout(capacity, n_buckets, timeouts, seed, release)
    }

    /// A table for `capacity` connections whose key index has `n_buckets` buckets
    /// (instead of the 4/3 headroom [`Conntrack::new`] gives two keys a connection),
    /// with a fixed seed: tests, and `benches/conntrack.rs`, which fills more entries
    /// than the key slots index to find the load at which the first window fills.
    #[doc(hidden)]
    pub fn with_layout(
        capacity: usize,
        n_buckets: usize,
        timeouts: Timeouts,
        seed: u64,
        release: Option<ReleaseHook>,
    ) -> Self {
        let capacity = capacity.max(1);
        assert!(capacity <= MAX_CAPACITY, "conntrack capacity too large");
        let n_buckets = n_buckets.max(2);
        let mix = |x: u64| folded_mul(x ^ 0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344) | 1;
        let t = Conntrack {
            entries: huge_table(capacity, Entry::default),
            buckets: huge_table(n_buckets, Bucket::default),
            summary: huge_table(n_buckets, Summary::default),
            free: (0..FREE_STRIPES).map(|_| FreeHead::default()).collect(),
            counters: Striped::default(),
            timeouts,
            k0: mix(seed),
            k1: mix(seed.rotate_left(32) ^ 0xa409_3822_299f_31d0),
            release,
        };
        // Entry i starts on free stripe i % FREE_STRIPES, lowest index on top.
        for s in 0..FREE_STRIPES.min(capacity) {
            let mut next = 0u64;
            let last = s + (capacity - 1 - s) / FREE_STRIPES * FREE_STRIPES;
            let mut i = last as isize;
            while i >= s as isize {
                t.entries[i as usize].w[0].store(next, Relaxed);
                next = i as u64 + 1;
                i -= FREE_STRIPES as isize;
            }
            t.free[s].0.store(next, Relaxed);
        }
        t
    }

    /// Most connections the table holds.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Key slots of the index (2 per connection plus headroom).
    pub fn key_slots(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    /// The default timeouts (used by eviction, and by sweeps whose callback returns them).
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Bytes allocated for entries, index, free heads and counters.
    pub fn memory_bytes(&self) -> usize {
        self.entries.len() * std::mem::size_of::<Entry>()
            + self.buckets.len() * std::mem::size_of::<Bucket>()
            + self.summary.len() * std::mem::size_of::<Summary>()
            + self.free.len() * std::mem::size_of::<FreeHead>()
            + STRIPES * 128usize.max(std::mem::size_of::<CounterBlock>())
    }
}
