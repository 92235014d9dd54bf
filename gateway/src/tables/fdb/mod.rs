//! The filtering database (IEEE 802.1Q clause 8.8) of every VNI: which access port
//! (and VLAN) or which remote VTEP a unicast MAC lives behind.
//!
//! Entries are either *dynamic* (learned by the data path from source MACs; they
//! carry a `last_seen` second and age out) or *static* (added by the control plane;
//! learning never overrides them and ageing never removes them). A MAC seen on a
//! different destination *moves*. A per-VNI limit on learned entries, passed with
//! each [`Fdb::learn`] call (it comes from the VNI's configuration snapshot, so the
//! table holds no copy to keep in sync), stops a MAC flood in one VNI from taking the
//! table. Multicast, broadcast and all-zero source MACs are never learned (802.1Q
//! 8.7: learning records individual addresses only). VNIs are 24 bits; wider values
//! are a caller bug (debug assertion) and are taken modulo 2^24.
//!
//! # Layout
//!
//! Fixed capacity, all memory allocated in [`Fdb::new`]; nothing on the packet path
//! allocates, locks, or makes a syscall. One concept a file:
//!
//! * `entry.rs`: the key and value words of a slot, and [`FdbDest`];
//! * `bucket.rs`: the buckets of [`SLOTS_PER_BUCKET`] = 15 slots, their `last_seen`
//!   lines, and a key's place (its hash);
//! * `fingerprints.rs`: a 16-bit fingerprint per slot, what a learn of a new MAC
//!   reads instead of the buckets;
//! * `vni.rs`: the per-VNI count slots (what the learn limit counts);
//! * `lookup.rs`: the lock-free lookups;
//! * `learn.rs`: learning, and the locked writes every change of an entry goes through;
//! * `control.rs`: static entries, removals, the sweeps (ageing, flushes), listings;
//! * `filter.rs`: which entries a flush or a listing selects;
//! * `counters.rs`: the event counters and [`Fdb::stats`].
//!
//! Memory: (256 + 64 + 32) bytes per 15 slots = 23.5 bytes per slot (bucket,
//! `last_seen` line, fingerprints). [`Fdb::new`] makes `capacity * 4/3` slots (whole
//! buckets), i.e. about 31.3 bytes per requested entry.
//!
//! # Hashing, placement and the probe bound
//!
//! A seeded folded-multiply hash of (vni, mac) gives two buckets, *primary* and
//! *secondary* (multiply-shift onto the bucket count, so no power-of-two rounding).
//! The seed is random per table (std `RandomState`) so that nobody can pick MACs
//! that collide. An entry lives in one of its two buckets: the primary while that
//! holds fewer than 9 entries or is not fuller than the secondary, else the less
//! loaded of the two ("two choices", biased to the primary). **Probe bound: two
//! buckets.** When both are full, `learn` returns [`LearnOutcome::TableFull`]
//! (counted; the frame is flooded like any unknown destination) and `add_static`
//! fails with [`FdbError::TableFull`]. Entries never move between buckets.
//! Measured (random keys, `benches/fdb.rs`'s `fill`): the first `TableFull` comes at
//! 84 % of the slots with 1.4 million slots, 85-86 % with 133 000, 89-92 % with
//! 1 300, so the requested capacity (75 % of the slots) fits; at 75 % load about 84 %
//! of the entries sit in their primary. Each key also has a home slot (from other
//! bits of its hash), where it is put when that slot is free: a lookup compares the
//! home slot's key first, then the other occupied slots', and on a hit reads one
//! value line; it reads the secondary only when the primary's overflow count is not
//! zero. A learn refresh reads the `last_seen` line as well.
//!
//! # Concurrency: a per-bucket seqlock, all in safe atomics
//!
//! Readers ([`Fdb::lookup`], the check at the start of [`Fdb::learn`], listings)
//! never write. They load the header (Acquire) and retry while the sequence is odd;
//! they read keys and values with Relaxed loads, issue an Acquire fence, reload the
//! header and retry if the sequence changed. Writers take the bucket's lock bit with
//! `compare_exchange` (Acquire), make the sequence odd, issue a Release fence,
//! store the slot words (Relaxed), make the sequence even again (Release store) and
//! release the lock (Release store). Every shared word is an atomic, so a racing
//! reader can see a stale or mixed snapshot but never undefined behaviour, and the
//! sequence check discards mixed snapshots: a hit always returns a (key, value)
//! pair that one writer stored together. A reader waits only while a writer is
//! inside its few-store critical section; after 1024 spins it yields (reachable only
//! when that writer's thread was descheduled, e.g. a control thread on a shared core).
//!
//! Lock discipline (no global lock, no deadlock): every change to the entry of key K
//! holds the locks of both of K's buckets, taken in increasing bucket index order,
//! and no operation ever holds more than those two. That makes "search, then
//! insert" atomic per key (never a duplicate) and rules out lock cycles. The
//! primary's overflow count changes under its lock: it is raised before an entry is
//! published in the secondary and lowered after it is removed, so a reader that finds
//! the count at zero may skip the secondary. Sweeps (ageing, flushes) pick
//! candidates with lock-free reads and re-check each under its key's two locks, so a
//! bucket with nothing to remove is never locked.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bucket;
mod control;
mod counters;
mod entry;
mod filter;
mod fingerprints;
mod learn;
mod lookup;
mod vni;

#[cfg(test)]
mod concurrency_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod test_support;

pub use control::{FdbEntry, FdbError};
pub use counters::FdbStats;
pub use entry::FdbDest;
pub use filter::{DestFilter, FdbFilter, KindFilter};
pub use learn::LearnOutcome;
pub use lookup::FdbHit;

use super::buckets::striped::Striped;
use super::folded_mul::folded_mul;
use crate::dpdk::huge_table;
use bucket::{Bucket, LastSeen};
use core::fmt;
use counters::CounterBlock;
use fingerprints::Fingerprints;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
use vni::VniSlot;

/// Slots per bucket (the header and 15 keys fill two cache lines).
pub const SLOTS_PER_BUCKET: usize = 15;
/// Buckets a key may live in (its primary and its secondary).
pub const PROBE_BUCKETS: usize = 2;
/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;
/// A learn limit that never bites.
pub const NO_LIMIT: u32 = u32::MAX;

const SLOTS: usize = SLOTS_PER_BUCKET;

/// The filtering database: fixed capacity, lock-free lookups, per-bucket locks for
/// writers. `Send + Sync`; share it by `Arc`.
pub struct Fdb {
    buckets: Box<[Bucket]>,
    /// Per bucket, a fingerprint of the key in each slot (`fingerprints.rs`).
    fingerprints: Box<[Fingerprints]>,
    last_seen: Box<[LastSeen]>,
    k0: u64,
    k1: u64,
    vnis: Box<[VniSlot]>,
    vni_mask: usize,
    max_vnis: u32,
    vnis_used: AtomicU32,
    /// Buckets holding at least one entry at the last sweep (all of them before the
    /// first): what a lookup's cache footprint is measured by.
    occupied: AtomicUsize,
    /// Changes that may alter an answer already given (see [`Fdb::changes`]).
    changes: ChangeCount,
    counters: Striped<CounterBlock>,
}

/// The change count, on its own line: every worker reads it per lookup
/// ([`super::fdb_cache::FdbCache`]), writers bump it only when an entry moves or goes.
#[repr(align(128))]
struct ChangeCount(AtomicU64);

impl fmt::Debug for Fdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fdb")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl Fdb {
    /// A table sized for `capacity` entries over at most `max_vnis` VNIs, randomly seeded.
    pub fn new(capacity: usize, max_vnis: usize) -> Fdb {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        Fdb::with_seed(capacity, max_vnis, h.finish())
    }

    /// Like [`Fdb::new`] with a fixed hash seed (reproducible layouts, for tests).
    pub fn with_seed(capacity: usize, max_vnis: usize, seed: u64) -> Fdb {
        // 4/3 headroom: the requested entries fill 75 % of the slots.
        let n_buckets = (capacity.max(1) * 4).div_ceil(3 * SLOTS).max(2);
        assert!(
            n_buckets.saturating_mul(SLOTS) < (u32::MAX / 2) as usize,
            "FDB capacity too large"
        );
        let max_vnis = max_vnis.clamp(1, 1 << 24);
        let vni_slots = max_vnis.next_power_of_two() * 2;
        let mix = |x: u64| folded_mul(x ^ 0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344) | 1;
        Fdb {
            buckets: huge_table(n_buckets, Bucket::default),
            fingerprints: huge_table(n_buckets, Fingerprints::default),
            last_seen: huge_table(n_buckets, LastSeen::default),
            k0: mix(seed),
            k1: mix(seed.rotate_left(32) ^ 0xa409_3822_299f_31d0),
            vnis: (0..vni_slots).map(|_| VniSlot::default()).collect(),
            vni_mask: vni_slots - 1,
            max_vnis: max_vnis as u32,
            vnis_used: AtomicU32::new(0),
            occupied: AtomicUsize::new(n_buckets),
            changes: ChangeCount(AtomicU64::new(1)),
            counters: Striped::default(),
        }
    }

    /// Total slots; the capacity asked of [`Fdb::new`] is 75 % of it.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    /// Bytes of the buckets that held entries at the last sweep (ageing runs one a
    /// second): the memory lookups touch. Before the first sweep, the whole table.
    #[inline]
    pub fn occupied_bytes(&self) -> usize {
        self.occupied.load(Relaxed) * std::mem::size_of::<Bucket>()
    }

    /// How many times an existing entry's answer changed or went (moves, static
    /// overrides, removals, ageing, flushes), from 1. New entries and refreshes do not
    /// count: they alter no answer a lookup gave. Bumped after the change is visible,
    /// so an answer obtained after reading a count is valid while the count stays.
    #[inline(always)]
    pub fn changes(&self) -> u64 {
        self.changes.0.load(Acquire)
    }

    /// Most VNIs the table can hold entries for.
    pub fn max_vnis(&self) -> usize {
        self.max_vnis as usize
    }
}
