//! New connections: [`Conntrack::insert`] locks the buckets of both keys, checks
//! that neither is tracked, chooses their slots (two choices), pops a free entry,
//! writes it and publishes the keys; when something is missing it evicts (see
//! `evict.rs`) and tries again.

use super::key::{entry_key, PackedKey, Pos};
use super::summary::{summary_bits, summary_of};
use super::{
    Conn, Conntrack, CtHit, CtState, Dir, C_CONFLICT, C_CREATED, C_EXISTS, C_REFUSED, FREE_STRIPES,
    LIVE, LO32, SLOTS, SLOT_REPLY,
};
use crate::dpdk::prefetch;
use crate::tables::buckets::header::{bump_seq, SEQ_MASK};
use crate::tables::buckets::locking::{lock_in_order, unlock_in_order};
use crate::tables::buckets::placement;
use core::fmt;
use std::sync::atomic::fence;
use std::sync::atomic::Ordering::{Relaxed, Release};

/// The primary takes new keys while it holds fewer than this many.
const PRIMARY_FILL: usize = 9;
/// Most evictions one insert performs before giving up.
const MAX_EVICTIONS: usize = 3;

/// Why [`Conntrack::insert`] did not create the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtInsertError {
    /// The original key is already tracked (another worker raced, or a retransmitted
    /// first packet): translate with this entry instead.
    Exists(CtHit),
    /// One of the keys belongs to another connection (e.g. in preserve-client-IP
    /// mode, two published ports mapped to the same backend port, and the client used
    /// the same source port for both), or the two keys are equal.
    KeyConflict,
    /// No room, and nothing in the window could be evicted (counted as refused).
    Full,
}

impl fmt::Display for CtInsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtInsertError::Exists(h) => write!(f, "connection already tracked (entry {})", h.idx),
            CtInsertError::KeyConflict => f.write_str("a key of the connection is in use"),
            CtInsertError::Full => f.write_str("connection table full"),
        }
    }
}

impl std::error::Error for CtInsertError {}

/// What one locked insert attempt found.
enum Attempt {
    Done(CtHit),
    Exists(CtHit),
    /// A key is another connection's: the connection holding the reply key, when it
    /// is that one.
    Conflict(Option<CtHit>),
    /// Which thing is missing: a slot for the original key, one for the reply key,
    /// or a free entry.
    NoRoom(Need),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Need {
    FwdSlot,
    RevSlot,
    Entry,
}

impl Conntrack {
    /// Tracks a new connection in `state` (`SynSent` for a SYN, `Established` for a
    /// flow picked up mid-stream, `UdpNew` for non-TCP) seen at second `now`. See
    /// `evict.rs` for eviction when there is no room.
    pub fn insert(&self, conn: &Conn, state: CtState, now: u32) -> Result<CtHit, CtInsertError> {
        let w = conn.pack();
        let fk = entry_key(&w, false);
        let rk = entry_key(&w, true);
        let pf = self.pos(&fk);
        let pr = self.pos(&rk);
        // Counted on the stripe of the worker inserting (the new connection's owner).
        let stripe = conn.owner as usize;
        if fk == rk {
            self.count(stripe, C_CONFLICT, 1);
            return Err(CtInsertError::KeyConflict);
        }
        let mut locks = [pf.b1, pf.b2, pr.b1, pr.b2];
        locks.sort_unstable();
        // Prefetch the four buckets and the entry the insert will probably pop, so
        // that their misses overlap instead of being paid one after another by the
        // serialising lock CASes.
        let head = self.free[conn.owner as usize % FREE_STRIPES]
            .0
            .load(Relaxed)
            & LO32;
        for &b in &locks {
            prefetch(&self.buckets[b].header);
        }
        if let Some(e) = self.entries.get((head as usize).wrapping_sub(1)) {
            prefetch(e);
        }
        let mut evictions = 0;
        loop {
            self.lock_all(&locks);
            let r = self.insert_locked(&w, conn.owner, (&fk, &pf), (&rk, &pr), state, now);
            self.unlock_all(&locks);
            match r {
                Attempt::Done(hit) => {
                    self.count(stripe, C_CREATED, 1);
                    self.gauge(stripe, state, 1);
                    return Ok(hit);
                }
                Attempt::Exists(hit) => {
                    self.count(stripe, C_EXISTS, 1);
                    return Err(CtInsertError::Exists(hit));
                }
                Attempt::Conflict(holder) => {
                    let taken = evictions < MAX_EVICTIONS
                        && holder.is_some_and(|h| self.take_over(&h, now));
                    if !taken {
                        self.count(stripe, C_CONFLICT, 1);
                        return Err(CtInsertError::KeyConflict);
                    }
                    evictions += 1;
                }
                Attempt::NoRoom(need) => {
                    let evicted = evictions < MAX_EVICTIONS && self.evict_one(&pf, &pr, need, now);
                    if !evicted {
                        self.count(stripe, C_REFUSED, 1);
                        return Err(CtInsertError::Full);
                    }
                    evictions += 1;
                }
            }
        }
    }

    /// Locks a sorted list of buckets, skipping repeats.
    fn lock_all(&self, sorted: &[usize; 4]) {
        lock_in_order(*sorted, |b| self.buckets[b].header.lock());
    }

    fn unlock_all(&self, sorted: &[usize; 4]) {
        unlock_in_order(sorted, |b| self.buckets[b].header.unlock());
    }

    /// The slot (bucket, index) a new key of place `p` goes to (its buckets locked);
    /// `taken` is a slot already chosen for the other key.
    fn choose_slot(&self, p: &Pos, taken: Option<(usize, usize)>) -> Option<(usize, usize)> {
        let skip = |b: usize| taken.filter(|t| t.0 == b).map(|t| t.1);
        placement::two_choice(p.b1, p.b2, SLOTS, PRIMARY_FILL, |b| {
            self.buckets[b].free_slot(skip(b))
        })
    }

    /// One insert attempt with every bucket of both keys locked.
    fn insert_locked(
        &self,
        w: &[u64; 5],
        owner: u16,
        (fk, pf): (&PackedKey, &Pos),
        (rk, pr): (&PackedKey, &Pos),
        state: CtState,
        now: u32,
    ) -> Attempt {
        if let Some(hit) = self.find_locked(fk, pf) {
            return if hit.dir == Dir::Original {
                Attempt::Exists(hit)
            } else {
                Attempt::Conflict(None)
            };
        }
        if let Some(holder) = self.find_locked(rk, pr) {
            return Attempt::Conflict(Some(holder));
        }
        let Some(sf) = self.choose_slot(pf, None) else {
            return Attempt::NoRoom(Need::FwdSlot);
        };
        let Some(sr) = self.choose_slot(pr, Some(sf)) else {
            return Attempt::NoRoom(Need::RevSlot);
        };
        let Some(idx) = self.pop_free(owner as usize) else {
            return Attempt::NoRoom(Need::Entry);
        };
        // Write the entry (seqlock write on its meta word; nobody else writes a popped
        // entry), then publish its keys.
        let e = &self.entries[idx as usize];
        let m = e.meta.load(Relaxed);
        e.meta.store(bump_seq(m & !LIVE), Relaxed);
        fence(Release);
        let gen = (m.wrapping_add(2) & SEQ_MASK) as u32;
        for (dst, &src) in e.w.iter().zip(w) {
            dst.store(src, Relaxed);
        }
        e.state.store((gen as u64) << 32 | state as u64, Relaxed);
        e.last_seen[0].store(now, Relaxed);
        e.last_seen[1].store(now, Relaxed);
        e.meta.store(gen as u64 | LIVE, Release);
        self.publish(pr, sr, pr.tag | SLOT_REPLY | idx as u64);
        self.publish(pf, sf, pf.tag | idx as u64);
        Attempt::Done(CtHit {
            idx,
            gen,
            dir: Dir::Original,
            state,
            assured: false,
            words: *w,
        })
    }

    /// Stores a key slot (the key's buckets locked), raising the primary's overflow
    /// count first when it goes to the secondary.
    fn publish(&self, p: &Pos, (bi, si): (usize, usize), word: u64) {
        if bi != p.b1 {
            self.buckets[p.b1].header.add_overflow(1);
        }
        // The summary bits before the slot: a lookup that finds one of them clear
        // never misses a key already in the slot. One writer per bucket (its lock): a
        // load and a store, not a read-modify-write.
        let (w, bits) = summary_bits(word);
        let sum = &self.summary[bi].0[w];
        sum.store(sum.load(Relaxed) | bits, Relaxed);
        self.buckets[bi].write_slot(si, word);
    }

    /// Recomputes bucket `bi`'s summary from its slots (lock held) after a removal.
    pub(super) fn resummarize(&self, bi: usize) {
        let words = summary_of(self.buckets[bi].slots.iter().map(|s| s.load(Relaxed)));
        for (sum, w) in self.summary[bi].0.iter().zip(words) {
            sum.store(w, Relaxed);
        }
    }
}

#[cfg(test)]
#[path = "insert_tests.rs"]
mod tests;
