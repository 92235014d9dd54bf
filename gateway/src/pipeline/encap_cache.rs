//! A per-worker cache of encap actions, as Open vSwitch caches a flow's actions and
//! not only its lookups: (VNI slot, destination MAC) -> the outer headers a frame to
//! it gets, ready but for the four per-frame fields (IPv4 total length and checksum,
//! UDP source port and length). The VNI, the VTEP and its next hop's MAC are in
//! them. A hit replaces the VNI's view, the "for vxgw?" check (ARP aside), the FDB
//! probe, the VTEP route and the template choice of the encap fast path with one
//! probe of one line (what it saves: perf/RESULTS.md, section 2).
//!
//! Exact as of the start of the worker's poll round. Everything an action was made
//! from counts its changes: the FDB ([`Fdb::changes`](crate::tables::fdb::Fdb::changes):
//! moves, removals, ageing, flushes), the configuration snapshot (its generation:
//! VNIs, VTEPs, the underlay, templates) and the underlay neighbours
//! ([`Neighbours::changes`](crate::tables::neighbours::Neighbours::changes): a next
//! hop's new MAC, or its loss). Once a round the worker calls [`EncapCache::sync`]
//! with the three; when any moved, the epoch moves, and an action is used only in the
//! epoch it was made in. The counts are read before the tables are asked, so an
//! action is never younger than its epoch says. Misses (unknown destinations,
//! unresolved next hops) are never cached: the general path handles those frames.
//!
//! Two-way set associative: 2048 sets of two 64-byte actions (4096 actions, 256 KiB
//! per worker), as many answers as the FDB cache beside it. The sets cost memory, not
//! cache: a worker's footprint is one line per destination in use either way, but
//! with 1024 sets a tenth of 1k destinations sat in way 1, and the probe's branch to
//! it missed (2048 sets measured faster: perf/RESULTS.md). Used only while the FDB
//! is small enough for the caches ([`crate::pipeline::Ctx::fdb_in_cache`]): with
//! more MACs in use than it holds, every probe would be a miss and a fill. Owned by
//! one worker (`Cell`s, nothing shared).

use std::cell::Cell;

use crate::tables::snapshot::ENCAP_LEN;

/// Sets (a power of two).
const SETS: usize = 2048;

/// One cached action in one cache line. `epoch == 0` never matches: epochs start
/// at 1.
#[repr(C, align(64))]
struct Action {
    /// [`EncapCache::key`] of the VNI slot and destination MAC.
    key: Cell<u64>,
    epoch: Cell<u32>,
    /// The outer headers, their IPv4 checksum field holding the sum of the template's
    /// other fields (what the total length is added to).
    header: Cell<[u8; ENCAP_LEN]>,
}

impl Default for Action {
    fn default() -> Self {
        Action {
            key: Cell::new(0),
            epoch: Cell::new(0),
            header: Cell::new([0; ENCAP_LEN]),
        }
    }
}

const _: () = assert!(std::mem::size_of::<Action>() == 64);

/// An action in the cache (or the scratch line): its outer headers are read when
/// they are written into the frame, not copied out before.
#[derive(Clone, Copy)]
pub struct EncapAction<'a>(&'a Action);

impl EncapAction<'_> {
    /// The outer headers, the checksum field holding the base sum.
    #[inline(always)]
    pub fn header(self) -> [u8; ENCAP_LEN] {
        self.0.header.get()
    }
}

/// One worker's encap actions.
pub struct EncapCache {
    sets: Box<[[Action; 2]; SETS]>,
    /// This worker's epoch, and the counts it stands for.
    epoch: Cell<u32>,
    seen: Cell<[u64; 3]>,
    /// Where an action that is not kept is made ([`EncapCache::scratch`]).
    scratch: Action,
}

impl Default for EncapCache {
    fn default() -> Self {
        let sets: Box<[[Action; 2]]> = (0..SETS).map(|_| Default::default()).collect();
        EncapCache {
            sets: sets
                .try_into()
                .unwrap_or_else(|_| unreachable!("SETS sets")),
            epoch: Cell::new(0),
            seen: Cell::new([0; 3]),
            scratch: Action::default(),
        }
    }
}

impl EncapCache {
    /// The epoch to probe and fill with in a round that starts now: a new one when the
    /// FDB's change count, the snapshot generation or the neighbours' change count
    /// (each read now) moved since the last call.
    #[inline]
    pub fn sync(&self, fdb_changes: u64, generation: u64, neigh_changes: u64) -> u32 {
        let now = [fdb_changes, generation, neigh_changes];
        if self.seen.get() != now || self.epoch.get() == 0 {
            self.seen.set(now);
            // After 2^32 epochs the count starts again at 1, and an action that no
            // probe has displaced since could be taken for new: forget them all first.
            if self.epoch.get() == u32::MAX {
                self.sets.iter().flatten().for_each(|a| a.epoch.set(0));
                self.epoch.set(0);
            }
            self.epoch.set(self.epoch.get() + 1);
        }
        self.epoch.get()
    }

    /// The key of (VNI slot, MAC as [`crate::wire::ethernet::dst_mac_u64`] reads
    /// it): one word, one compare.
    #[inline(always)]
    pub fn key(slot: u16, mac: u64) -> u64 {
        mac | (slot as u64) << 48
    }

    #[inline(always)]
    fn set(&self, key: u64) -> &[Action; 2] {
        let h = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.sets[(h >> (64 - SETS.trailing_zeros())) as usize]
    }

    /// The action made for `key` in `epoch`, if any.
    #[inline(always)]
    pub fn get(&self, key: u64, epoch: u32) -> Option<EncapAction<'_>> {
        let [w0, w1] = self.set(key);
        if w0.key.get() == key && w0.epoch.get() == epoch {
            return Some(EncapAction(w0));
        }
        if w1.key.get() == key && w1.epoch.get() == epoch {
            return Some(EncapAction(w1));
        }
        None
    }

    /// Keeps `header` (outer headers with the checksum field holding the base sum)
    /// as `key`'s action in `epoch`, in way 0 (way 0's goes to way 1), and returns it.
    #[inline]
    pub fn put(&self, key: u64, epoch: u32, header: [u8; ENCAP_LEN]) -> EncapAction<'_> {
        let [w0, w1] = self.set(key);
        w1.key.set(w0.key.get());
        w1.epoch.set(w0.epoch.get());
        w1.header.set(w0.header.get());
        w0.key.set(key);
        w0.epoch.set(epoch);
        w0.header.set(header);
        EncapAction(w0)
    }

    /// Forgets `key`'s action: its MAC moved within the round, and the round's epoch
    /// would otherwise still send its later frames to where it was.
    #[inline]
    pub fn forget(&self, key: u64) {
        for w in self.set(key) {
            if w.key.get() == key {
                w.epoch.set(0);
            }
        }
    }

    /// `header` as an action that is not kept (for a frame whose destinations are
    /// too many to cache): valid until the next call.
    #[inline]
    pub fn scratch(&self, header: [u8; ENCAP_LEN]) -> EncapAction<'_> {
        self.scratch.header.set(header);
        EncapAction(&self.scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(b: u8) -> [u8; ENCAP_LEN] {
        [b; ENCAP_LEN]
    }

    #[test]
    fn an_action_is_used_in_its_epoch_only() {
        let c = EncapCache::default();
        let e1 = c.sync(1, 1, 1);
        let k = EncapCache::key(3, 0x0242_0aff_0006);
        assert!(c.get(k, e1).is_none());
        c.put(k, e1, header(7));
        assert_eq!(c.get(k, e1).map(|a| a.header()), Some(header(7)));
        // The same counts: the same epoch.
        assert_eq!(c.sync(1, 1, 1), e1);
        // Any of the three moving ends it.
        for (i, counts) in [[2, 1, 1], [2, 2, 1], [2, 2, 2]].into_iter().enumerate() {
            let e = c.sync(counts[0], counts[1], counts[2]);
            assert_ne!(e, e1, "change {i}");
            assert!(c.get(k, e).is_none(), "change {i}");
        }
    }

    #[test]
    fn two_keys_of_one_set_are_both_kept_a_third_displaces_the_oldest() {
        let c = EncapCache::default();
        let e = c.sync(1, 1, 1);
        let k0 = EncapCache::key(0, 0x0242_0a00_0001);
        let set = |k: u64| std::ptr::from_ref(c.set(k));
        let mut same: Vec<u64> = (1..100_000u64)
            .map(|i| EncapCache::key(0, 0x0242_0a00_0001 + i))
            .filter(|&k| set(k) == set(k0))
            .take(2)
            .collect();
        let (k2, k1) = (same.pop().unwrap(), same.pop().unwrap());
        c.put(k0, e, header(0));
        c.put(k1, e, header(1));
        assert_eq!(c.get(k0, e).map(|a| a.header()), Some(header(0)));
        assert_eq!(c.get(k1, e).map(|a| a.header()), Some(header(1)));
        c.put(k2, e, header(2));
        assert!(c.get(k0, e).is_none());
        assert_eq!(c.get(k1, e).map(|a| a.header()), Some(header(1)));
        assert_eq!(c.get(k2, e).map(|a| a.header()), Some(header(2)));
    }

    #[test]
    fn the_slot_is_part_of_the_key() {
        let c = EncapCache::default();
        let e = c.sync(1, 1, 1);
        c.put(EncapCache::key(1, 0x0242_0a00_0001), e, header(1));
        assert!(c.get(EncapCache::key(2, 0x0242_0a00_0001), e).is_none());
    }
}
