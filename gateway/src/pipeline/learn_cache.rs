//! The worker's [`LearnCache`]: the learns it made lately, so that a repeated one
//! does not even read the FDB.

use std::cell::Cell;

/// Slots of a [`LearnCache`] (a power of two).
const LEARN_CACHE_SLOTS: usize = 64;

/// The (VNI, source MAC, destination, second) this worker learned lately, in a small
/// direct-mapped table (1.5 KiB). A repeated learn within the same second would change
/// nothing (the FDB refreshes at most once per second), so the FDB is not even read:
/// a burst usually carries many frames of a few hosts (a backend's replies, a
/// server's traffic), and with one remembered learn, traffic interleaving four
/// sources went to the FDB on every frame (~145 instructions each). A collision
/// only costs a learn. Per worker, never shared.
///
/// A remembered learn is only true while the FDB still holds it: the worker calls
/// [`LearnCache::sync`] with the FDB's change count ([`Fdb::changes`](crate::tables::fdb::Fdb::changes): flushes,
/// ageing, moves, removals) once per poll round, and the cache forgets everything
/// when that moved, so a host is learned again right after a flush instead of up to
/// a second later. Learns are keyed by VNI slot (what the fast path has at hand; the
/// VNI itself is in the encap action's line, which the check then waited for), so
/// the snapshot's generation is passed too: a new configuration may give a slot to
/// another VNI.
///
/// The last learn checked is also kept apart and checked first: a run of frames from
/// one host (a server's stream) then skips the table's hash.
pub struct LearnCache {
    last: LearnSlot,
    slots: [LearnSlot; LEARN_CACHE_SLOTS],
    counts: Cell<[u64; 2]>,
}

/// One remembered learn, a `Cell` per word (a check loads only what it compares).
#[derive(Default)]
struct LearnSlot {
    mac: Cell<u64>,
    dest: Cell<u64>,
    /// VNI slot (high 32 bits) and second.
    slot_now: Cell<u64>,
}

impl LearnSlot {
    #[inline(always)]
    fn holds(&self, mac: u64, dest: u64, slot_now: u64) -> bool {
        self.mac.get() == mac && self.dest.get() == dest && self.slot_now.get() == slot_now
    }

    #[inline(always)]
    fn set(&self, mac: u64, dest: u64, slot_now: u64) {
        self.mac.set(mac);
        self.dest.set(dest);
        self.slot_now.set(slot_now);
    }
}

impl Default for LearnCache {
    fn default() -> Self {
        LearnCache {
            last: LearnSlot::default(),
            slots: std::array::from_fn(|_| LearnSlot::default()),
            counts: Cell::new([0; 2]),
        }
    }
}

impl LearnCache {
    /// Forgets every remembered learn if the FDB changed (`fdb_changes`, its
    /// [`Fdb::changes`](crate::tables::fdb::Fdb::changes)) since the last call, an entry remembered here may be gone,
    /// or the configuration did (`generation`, the snapshot's): a slot may be
    /// another VNI's now.
    #[inline]
    pub fn sync(&self, fdb_changes: u64, generation: u64) {
        let now = [fdb_changes, generation];
        if self.counts.get() != now {
            self.counts.set(now);
            for s in std::iter::once(&self.last).chain(&self.slots) {
                s.set(0, 0, 0);
            }
        }
    }

    /// True if this exact learn (in VNI slot `slot`) was done already in second
    /// `now`; records it if not.
    #[inline]
    pub fn seen(&self, slot: u16, mac: u64, dest: u64, now: u32) -> bool {
        let slot_now = (slot as u64) << 32 | now as u64;
        if self.last.holds(mac, dest, slot_now) {
            return true;
        }
        self.seen_in_table(mac, dest, slot_now)
    }

    /// [`LearnCache::seen`] past the last learn: the table, and the learn becomes
    /// the last one.
    #[inline(always)]
    fn seen_in_table(&self, mac: u64, dest: u64, slot_now: u64) -> bool {
        // The MAC's last byte (then the one before) tells hosts apart: locally
        // administered MACs, Docker's and most vendors' count up there.
        let i = (mac ^ mac >> 6 ^ slot_now >> 32) as usize % LEARN_CACHE_SLOTS;
        let slot = &self.slots[i];
        self.last.set(mac, dest, slot_now);
        if slot.holds(mac, dest, slot_now) {
            return true;
        }
        slot.set(mac, dest, slot_now);
        false
    }
}
