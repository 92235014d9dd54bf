//! Learning ([`Fdb::learn`]), and the locked writes that every change of an entry
//! goes through (the control side's too, `control.rs`): the pair of bucket locks, a
//! value's rewrite, an insertion, a removal.
//!
//! # Why a refresh writes nothing
//!
//! The common case of `learn` is a known MAC on the same destination in the same
//! second. It is a pure read: the seqlock read of the slot, then a load of its
//! `last_seen`; only when `now` is later than the stored value does it store `now`
//! (a plain Relaxed store: no read-modify-write, no lock), so a hot MAC writes its
//! shared line at most once per clock tick, and that line is not one a lookup reads.
//! The store is not ordered with the seqlock: if the slot was emptied and reused in
//! between, the new entry's `last_seen` (set to the current second when created)
//! is set to the current second again, which is harmless. A worker whose coarse
//! clock is a tick behind never moves `last_seen` backwards. Ages are wrapping,
//! signed differences, so the u32 clock may wrap.

use super::bucket::{Pos, PRIMARY_FILL};
use super::counters::{C_LEARNED, C_MOVED};
use super::entry::{entry_vni, FdbDest, ALT, DEST_MASK, STATIC};
use super::fingerprints::fingerprint;
use super::vni::VniSlot;
use super::{Fdb, MAX_VNI, SLOTS};
use crate::tables::buckets::locking::{lock_in_order, unlock_in_order};
use crate::tables::buckets::placement;
use crate::tables::seconds::is_later;
use crate::wire::ethernet::MacAddr;
use std::sync::atomic::Ordering::{Relaxed, Release};

/// What [`Fdb::learn`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LearnOutcome {
    /// Known on the same destination; `last_seen` advanced if `now` was later.
    Refreshed,
    /// A new dynamic entry.
    Learned,
    /// The dynamic entry now points to the new destination.
    Moved,
    /// A static entry on the same destination exists; learning does not touch it.
    StaticKept,
    /// A static entry on another destination exists; learning does not move it.
    StaticRefused,
    /// The VNI already has `limit` learned entries; not learned.
    LimitHit,
    /// No free slot in the key's probe window (or no free VNI slot); not learned.
    TableFull,
    /// Multicast, broadcast or all-zero source MAC; never learned.
    NotUnicast,
}

/// What learning does to a static entry of value `v` for destination `want`: nothing.
#[inline]
fn static_outcome(v: u64, want: u64) -> LearnOutcome {
    if v & DEST_MASK == want {
        LearnOutcome::StaticKept
    } else {
        LearnOutcome::StaticRefused
    }
}

impl Fdb {
    /// Stores `now` as the slot's `last_seen` if it is later (no RMW, no lock).
    #[inline]
    fn touch(&self, bi: usize, i: usize, now: u32) {
        let ls = &self.last_seen[bi].0[i];
        if is_later(now, ls.load(Relaxed)) {
            ls.store(now, Relaxed);
        }
    }

    /// Learns that `mac` (a frame's source) is behind `dest` in `vni` at second
    /// `now`; `limit` is the VNI's learned-entry limit. The common case, a known MAC
    /// on the same destination, takes no lock and stores at most once per second.
    #[inline]
    pub fn learn(
        &self,
        vni: u32,
        mac: MacAddr,
        dest: FdbDest,
        now: u32,
        limit: u32,
    ) -> LearnOutcome {
        let m = mac.to_u64();
        if mac.is_multicast() || m == 0 {
            return LearnOutcome::NotUnicast;
        }
        debug_assert!(vni <= MAX_VNI, "VNI {vni:#x} wider than 24 bits");
        let p = self.pos(vni, m);
        let want = dest.encode();
        // A new MAC is mostly ruled out by the fingerprints, without a bucket line.
        let found = if self.may_hold(&p) {
            self.find(&p)
        } else {
            None
        };
        let known = match found {
            Some((_, _, v)) if v & STATIC != 0 => return static_outcome(v, want),
            Some((bi, i, v)) if v & DEST_MASK == want => {
                self.touch(bi, i, now);
                return LearnOutcome::Refreshed;
            }
            Some(_) => true,
            None => false,
        };
        // A MAC flood's frames end here once the VNI is at its limit: a probe and
        // a load, no call, no lock.
        if !known
            && self
                .vni_slot(vni & MAX_VNI, false)
                .is_some_and(|s| s.dynamic.load(Relaxed) >= limit)
        {
            return LearnOutcome::LimitHit;
        }
        self.learn_slow(&p, vni & MAX_VNI, want, now, limit, known)
    }

    #[cold]
    fn learn_slow(
        &self,
        p: &Pos,
        vni: u32,
        want: u64,
        now: u32,
        limit: u32,
        known: bool,
    ) -> LearnOutcome {
        let Some(slot) = self.vni_slot(vni, true) else {
            return LearnOutcome::TableFull;
        };
        // At the limit a flood costs a load: no lock, no read-modify-write.
        if !known && slot.dynamic.load(Relaxed) >= limit {
            return LearnOutcome::LimitHit;
        }
        self.lock_pair(p);
        let out = self.learn_locked(p, slot, want, now, limit);
        self.unlock_pair(p);
        match out {
            LearnOutcome::Learned => self.count(p.b1, C_LEARNED),
            LearnOutcome::Moved => self.count(p.b1, C_MOVED),
            _ => {}
        }
        out
    }

    /// The search-then-change part of learning; both bucket locks are held.
    fn learn_locked(
        &self,
        p: &Pos,
        slot: &VniSlot,
        want: u64,
        now: u32,
        limit: u32,
    ) -> LearnOutcome {
        if let Some((bi, i, v)) = self.find(p) {
            if v & STATIC != 0 {
                return static_outcome(v, want);
            }
            if v & DEST_MASK == want {
                self.touch(bi, i, now);
                return LearnOutcome::Refreshed;
            }
            self.store_value(bi, i, (v & !DEST_MASK) | want, Some(now));
            return LearnOutcome::Moved;
        }
        if slot.dynamic.fetch_add(1, Relaxed) >= limit {
            slot.dynamic.fetch_sub(1, Relaxed);
            return LearnOutcome::LimitHit;
        }
        if self.insert_locked(p, p.vhi | want, now) {
            LearnOutcome::Learned
        } else {
            slot.dynamic.fetch_sub(1, Relaxed);
            LearnOutcome::TableFull
        }
    }

    /// Locks both buckets of a key, lower index first.
    pub(super) fn lock_pair(&self, p: &Pos) {
        lock_in_order([p.b1, p.b2()], |b| self.buckets[b].header.lock());
    }

    pub(super) fn unlock_pair(&self, p: &Pos) {
        let sorted = [p.b1.min(p.b2()), p.b1.max(p.b2())];
        unlock_in_order(&sorted, |b| self.buckets[b].header.unlock());
    }

    /// Rewrites the value of an existing entry (both locks held).
    pub(super) fn store_value(&self, bi: usize, i: usize, value: u64, now: Option<u32>) {
        let b = &self.buckets[bi];
        b.header.begin_write();
        b.values[i].store(value, Relaxed);
        if let Some(now) = now {
            self.last_seen[bi].0[i].store(now, Relaxed);
        }
        b.header.end_write();
        self.changes.0.fetch_add(1, Release);
    }

    /// Stores a new entry in its primary or secondary (both locks held); false if
    /// both are full.
    pub(super) fn insert_locked(&self, p: &Pos, value: u64, last_seen: u32) -> bool {
        let Some((bi, i)) = placement::two_choice(p.b1, p.b2(), SLOTS, PRIMARY_FILL, |b| {
            self.buckets[b].free_slot(p.home)
        }) else {
            return false;
        };
        let value = if bi != p.b1 {
            self.buckets[p.b1].header.add_overflow(1);
            value | ALT
        } else {
            value
        };
        // The fingerprint before the slot, so that no reader finds the slot published
        // while its fingerprint is still absent (a learn that misses an entry being
        // published by another worker goes to the locked path, which finds it).
        self.fingerprints[bi].set(i, fingerprint(p.x1));
        let b = &self.buckets[bi];
        b.header.begin_write();
        self.last_seen[bi].0[i].store(last_seen, Relaxed);
        b.values[i].store(value, Relaxed);
        b.keys[i].store(p.key, Relaxed);
        b.set_occupied(i, true);
        b.header.end_write();
        true
    }

    /// Empties slot `i` of bucket `bi` and fixes the counts (both locks of the
    /// entry's key held).
    pub(super) fn clear_slot(&self, p: &Pos, bi: usize, i: usize, value: u64) {
        let b = &self.buckets[bi];
        b.header.begin_write();
        b.keys[i].store(0, Relaxed);
        b.values[i].store(0, Relaxed);
        b.set_occupied(i, false);
        b.header.end_write();
        self.fingerprints[bi].set(i, 0);
        self.changes.0.fetch_add(1, Release);
        if value & ALT != 0 {
            self.buckets[p.b1].header.add_overflow(-1);
        }
        if let Some(s) = self.vni_slot(entry_vni(p.key, value), false) {
            let c = if value & STATIC != 0 {
                &s.statics
            } else {
                &s.dynamic
            };
            // Saturating: a slot released and reused while this removal ran must not
            // wrap its new VNI's count (off by one at worst, for a moment).
            let _ = c.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        }
    }
}

#[cfg(test)]
#[path = "learn_tests.rs"]
mod tests;
