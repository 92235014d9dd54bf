//! Making room: the victim an insert evicts from its window when a slot or an
//! entry is missing, and the take-over of a reply key held by an idle unassured
//! connection.
//!
//! # Eviction when full
//!
//! An insert needs a free slot in the two buckets of each key and a free entry. When
//! one is missing it evicts from the *window* (the connections whose keys sit in the
//! new keys' buckets), one victim per missing thing, then retries (at most three
//! evictions): first an entry already expired by the table's default timeouts, else
//! the unassured one (half-open: `SynSent`, `SynRecv`, `UdpNew`, or picked up and
//! never answered) seen least recently, else a finished one (`TimeWait`, `Closed`)
//! seen least recently. Assured established, closing and replied-UDP entries are
//! never evicted: if nothing else can go, the insert fails with
//! [`CtInsertError::Full`](super::CtInsertError::Full) and is counted as refused. A
//! SYN or spoofed-ACK flood therefore recycles its own unassured entries and cannot
//! push out established connections. Per-service timeout overrides are not known on
//! this path: under pressure, "expired" means expired by the table defaults.
//!
//! When the reply key of a new connection belongs to an unassured connection idle
//! for a second or more (a stranger's flow holding the SNAT port the new one
//! drew), that connection is removed and the insert retried (same bound of three).

use super::bucket::Entry;
use super::insert::Need;
use super::key::Pos;
use super::{
    Conntrack, CtHit, CtState, C_EARLY_EVICTED, C_EVICTED, C_EXPIRED, LIVE, SLOTS, SLOT_IDX_MASK,
    ST_ASSURED, ST_DYING, TAKEOVER_IDLE,
};
use crate::dpdk::prefetch;
use crate::tables::seconds::{elapsed, latest};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

impl Conntrack {
    /// Eviction rank of an entry with state word `st` at `now` (lower goes first),
    /// or `None` if it may not be evicted: 0 expired by the default timeouts, 1
    /// unassured (half-open, or picked up and never answered), 2 finished.
    fn rank(&self, st: u64, last: u32, now: u32) -> Option<u8> {
        let state = CtState::from_word(st);
        let assured = st & ST_ASSURED != 0;
        if elapsed(now, last) >= self.timeouts.of_entry(state, assured) {
            Some(0)
        } else if state.is_finished() {
            Some(2)
        } else if !assured {
            Some(1)
        } else {
            None
        }
    }

    /// Evicts the best victim among the connections whose keys sit in the buckets
    /// of the missing thing; false if there is none. No locks are held by the caller.
    pub(super) fn evict_one(&self, pf: &Pos, pr: &Pos, need: Need, now: u32) -> bool {
        let mut window = [usize::MAX; 4];
        let mut n = 0;
        let from: &[&Pos] = match need {
            Need::FwdSlot => &[pf],
            Need::RevSlot => &[pr],
            Need::Entry => &[pf, pr],
        };
        for p in from {
            for b in p.buckets() {
                if !window[..n].contains(&b) {
                    window[n] = b;
                    n += 1;
                }
            }
        }
        // The window's slots, their entries asked for all at once: up to 60 misses
        // overlapped instead of a few at a time (a flood of new connections into a
        // full table pays this for every one).
        let mut words = [[0u64; SLOTS]; 4];
        for (w, &b) in words.iter_mut().zip(&window[..n]) {
            *w = self.buckets[b].read().0;
            for &s in w.iter().filter(|&&s| s != 0) {
                if let Some(e) = self.entries.get((s & SLOT_IDX_MASK) as usize) {
                    prefetch(e);
                }
            }
        }
        // (rank, last_seen age, idx, state word)
        let mut best: Option<(u8, u32, u32, u64)> = None;
        for slots in &words[..n] {
            for &s in slots {
                if s == 0 {
                    continue;
                }
                let idx = (s & SLOT_IDX_MASK) as u32;
                let e = &self.entries[idx as usize];
                let st = e.state.load(Acquire);
                if st & ST_DYING != 0 || e.meta.load(Relaxed) & LIVE == 0 {
                    continue;
                }
                let last = latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed));
                let Some(r) = self.rank(st, last, now) else {
                    continue;
                };
                let age = elapsed(now, last);
                if best.is_none_or(|(br, bage, _, _)| (r, u32::MAX - age) < (br, u32::MAX - bage)) {
                    best = Some((r, age, idx, st));
                }
            }
        }
        let Some((_, _, idx, st)) = best else {
            return false;
        };
        let e = &self.entries[idx as usize];
        if e.state
            .compare_exchange(st, st | ST_DYING, AcqRel, Relaxed)
            .is_err()
        {
            // It changed under us: let the caller retry (bounded by MAX_EVICTIONS).
            return true;
        }
        // Re-check with a fresh last_seen (a packet may just have arrived).
        let last = latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed));
        match self.rank(st, last, now) {
            Some(r) => {
                let stripe = self.remove_claimed(idx, st).owner as usize;
                self.count(stripe, if r == 0 { C_EXPIRED } else { C_EVICTED }, 1);
                if r == 1 {
                    self.count(stripe, C_EARLY_EVICTED, 1);
                }
                true
            }
            None => {
                e.state.store(st, Release);
                true
            }
        }
    }

    /// Removes `holder`, the connection holding the reply key a new connection needs
    /// (in SNAT mode: its source port towards that backend), when it is unassured,
    /// not finished, and idle for at least [`TAKEOVER_IDLE`] seconds, so that
    /// strangers' packets cannot pin SNAT ports. True when the insert should try
    /// again (the holder is gone, whoever removed it).
    pub(super) fn take_over(&self, holder: &CtHit, now: u32) -> bool {
        let Some(e) = self.entries.get(holder.idx as usize) else {
            return false;
        };
        let idle = |e: &Entry| {
            elapsed(
                now,
                latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed)),
            )
        };
        let evictable = |st: u64| {
            st & ST_ASSURED == 0
                && !CtState::from_word(st).is_finished()
                && idle(e) >= TAKEOVER_IDLE
        };
        if !evictable(e.state.load(Acquire)) {
            return false;
        }
        let Some(st) = self.claim(holder.idx, holder.gen) else {
            return true;
        };
        if !evictable(st) {
            e.state.store(st, Release);
            return false;
        }
        let stripe = self.remove_claimed(holder.idx, st).owner as usize;
        self.count(stripe, C_EVICTED, 1);
        self.count(stripe, C_EARLY_EVICTED, 1);
        true
    }
}

#[cfg(test)]
#[path = "evict_tests.rs"]
mod tests;
