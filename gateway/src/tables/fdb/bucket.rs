//! The buckets of the FDB, their `last_seen` lines, and a key's place in them
//! ([`Fdb::pos`]).
//!
//! * **Buckets** of [`SLOTS_PER_BUCKET`] = 15 slots, 256 bytes, 128-byte aligned:
//!   - lines 0-1 (one 128-byte adjacent-line-prefetch pair): the bucket `header`
//!     word and the 15 `keys`;
//!   - lines 2-3: the 15 `values` (+ 8 bytes of padding).
//!
//!   The **header** packs a 32-bit sequence number (odd = a write is in progress),
//!   the writer-lock bit (bit 32), and (bits 33-63) the *overflow count*: how many
//!   entries whose primary bucket this is are stored in their (various) secondaries.
//! * **fingerprints**: a parallel array, 32 bytes per bucket, a 16-bit fingerprint
//!   of the key in each slot (`fingerprints.rs`). [`Fdb::learn`] reads those of the
//!   key's two buckets before any bucket line: when neither holds the key's
//!   fingerprint, the MAC is not in the table (a MAC flood's every frame but
//!   ~0.03 %), and the learn goes on without searching the buckets.
//! * **last_seen**: a parallel array, one 64-byte line of `AtomicU32` per bucket,
//!   never read by [`Fdb::lookup`]. Refreshing a MAC's `last_seen` therefore never
//!   invalidates a line that other workers' lookups read.
//!
//! [`SLOTS_PER_BUCKET`]: super::SLOTS_PER_BUCKET

use super::entry::{ALT, KEY_VNI_SHIFT, KIND_MASK, VNI_HI_MASK, VNI_HI_SHIFT};
#[cfg(test)]
use super::{
    entry::{entry_vni, MAC_MASK},
    fingerprints::fingerprint,
};
use super::{Fdb, MAX_VNI, SLOTS};
use crate::tables::buckets::header::BucketHeader;
use crate::tables::buckets::placement;
use crate::tables::folded_mul::folded_mul;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};

/// The primary takes new entries while it holds fewer than this many.
pub(super) const PRIMARY_FILL: usize = 9;

/// Bucket header (`buckets/header.rs`). Overflow count: 16 bits (an overflow beyond
/// 65535 entries of one primary bucket saturates; lookups then may miss such entries,
/// never read out of bounds).
pub(super) type Header = BucketHeader<16>;
/// Occupancy, in the header's table bits: bit i set = slot i holds an entry. Lets
/// `find` look only at used slots.
pub(super) const OCC_SHIFT: u32 = Header::TABLE_SHIFT;
pub(super) const OCC_MASK: u64 = 0x7fff << OCC_SHIFT;

/// One bucket: header and keys in the first two cache lines, values in the next two.
#[repr(C, align(128))]
#[derive(Default)]
pub(super) struct Bucket {
    pub(super) header: Header,
    pub(super) keys: [AtomicU64; SLOTS],
    pub(super) values: [AtomicU64; SLOTS],
}

/// `last_seen` of one bucket's slots (the 16th is unused): one line per bucket.
#[repr(align(64))]
#[derive(Default)]
pub(super) struct LastSeen(pub(super) [AtomicU32; 16]);

impl Bucket {
    /// Runs `f` on a consistent snapshot of the bucket (seqlock read) and returns
    /// its result with the header word it was read under. `f` must only read.
    #[inline(always)]
    pub(super) fn read<R>(&self, f: impl Fn(&Bucket) -> R) -> (R, u64) {
        self.header.read(|| f(self))
    }

    /// The slot holding `key` with VNI top bits `vhi` (unsynchronised: call it
    /// inside `read`, or with the lock held). `home` is the key's home slot.
    #[inline]
    pub(super) fn find(&self, key: u64, vhi: u64, home: usize) -> Option<(usize, u64)> {
        let hit = |i: usize| {
            let v = self.values[i].load(Relaxed);
            (v & VNI_HI_MASK == vhi && v & KIND_MASK != 0).then_some((i, v))
        };
        let occ = ((self.header.load() & OCC_MASK) >> OCC_SHIFT) as u32;
        // The home slot first: most entries sit there, and a hit there costs no scan.
        // (The scan ends at a slot that varies from key to key, so the branch
        // predictor misses its exit about once a lookup: ~15 cycles.)
        if occ & (1 << home) != 0 && self.keys[home].load(Relaxed) == key {
            if let Some(r) = hit(home) {
                return Some(r);
            }
        }
        // Then the other occupied slots (the occupancy bits change only inside a
        // write, so the seqlock validates them with the keys); the first match ends
        // the scan.
        let mut left = occ & !(1 << home);
        while left != 0 {
            let i = left.trailing_zeros() as usize;
            if self.keys[i].load(Relaxed) == key {
                if let Some(r) = hit(i) {
                    return Some(r);
                }
            }
            left &= left - 1;
        }
        None
    }

    /// Marks slot `i` used or free (lock held, inside a write).
    pub(super) fn set_occupied(&self, i: usize, used: bool) {
        self.header
            .set_table_bits(1 << (OCC_SHIFT + i as u32), used);
    }

    /// A free slot (`home` if it is free, else the first) and the number of
    /// entries (lock held).
    #[inline(always)]
    pub(super) fn free_slot(&self, home: usize) -> (Option<usize>, usize) {
        let occ = ((self.header.load() & OCC_MASK) >> OCC_SHIFT) as u32;
        placement::free_slot(occ, (OCC_MASK >> OCC_SHIFT) as u32, Some(home), None)
    }
}

/// A key's place: its primary bucket (the secondary is computed when asked for:
/// the per-packet lookup needs it only when the primary has overflowed), its home
/// slot in either (where it is put when that slot is free, and looked for first),
/// its key word, its VNI top bits (value position).
#[derive(Clone, Copy, Debug)]
pub(super) struct Pos {
    pub(super) b1: usize,
    /// The first hash, from which the secondary bucket is derived.
    pub(super) x1: u64,
    /// The number of buckets.
    pub(super) n: usize,
    pub(super) home: usize,
    pub(super) key: u64,
    pub(super) vhi: u64,
}

impl Pos {
    /// The secondary bucket.
    #[inline(always)]
    pub(super) fn b2(&self) -> usize {
        let x2 = folded_mul(self.x1, 0x9e37_79b9_7f4a_7c15);
        ((x2 as u128 * self.n as u128) >> 64) as usize
    }
}

impl Fdb {
    // Always inlined: the secondary bucket is then only computed where it is used.
    #[inline(always)]
    pub(super) fn pos(&self, vni: u32, mac: u64) -> Pos {
        let vni = vni & MAX_VNI;
        let x1 = folded_mul(mac ^ self.k0, vni as u64 ^ self.k1);
        let n = self.buckets.len();
        Pos {
            b1: ((x1 as u128 * n as u128) >> 64) as usize,
            x1,
            n,
            // The bucket is chosen by the hash's top bits; the home slot by its low
            // 32 (keys of one bucket share the former): uniform in 0..SLOTS.
            home: (((x1 & 0xffff_ffff) * SLOTS as u64) >> 32) as usize,
            key: (vni as u64 & 0xffff) << KEY_VNI_SHIFT | mac,
            vhi: ((vni >> 16) as u64) << VNI_HI_SHIFT,
        }
    }

    /// The fingerprints bucket `bi`'s keys make, a lane per slot (validation).
    #[cfg(test)]
    pub(super) fn fingerprints_of(&self, bi: usize) -> [u16; SLOTS] {
        let b = &self.buckets[bi];
        std::array::from_fn(|i| {
            let (k, v) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
            if k == 0 {
                return 0;
            }
            fingerprint(self.pos(entry_vni(k, v), k & MAC_MASK).x1)
        })
    }

    /// Entries stored in their primary bucket (the others sit in their secondary):
    /// the placement figure `benches/fdb.rs` prints. Walks the whole table, each
    /// bucket read consistently (like [`Fdb::entries`]); not for the packet path.
    #[doc(hidden)]
    pub fn entries_in_primary(&self) -> usize {
        let in_primary = |b: &Bucket| {
            (0..SLOTS)
                .filter(|&i| {
                    let (k, v) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                    k != 0 && v & KIND_MASK != 0 && v & ALT == 0
                })
                .count()
        };
        self.buckets.iter().map(|b| b.read(in_primary).0).sum()
    }
}

#[cfg(test)]
#[path = "bucket_tests.rs"]
mod tests;
