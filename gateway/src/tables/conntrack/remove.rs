//! Removing connections: the claim (a CAS setting `DYING`), the removal of a
//! claimed entry (keys cleared, entry freed, release hook), and the removals the
//! control side asks for ([`Conntrack::remove`], [`Conntrack::flush`]).
//!
//! # Releasing connections
//!
//! Every removal, whatever the path (sweep, flush, remove, eviction by another
//! worker's insert), calls the table's *release hook* ([`Conntrack::with_release`])
//! exactly once with the removed [`Conn`], on the removing thread: the place to take
//! back a resource a connection held. The hook must not block. vxgw itself sets
//! none: its SNAT ports come back by themselves (see `snat_source`).

use super::key::{entry_key, Pos};
use super::{
    Conn, Conntrack, CtFilter, CtState, FlowKey, C_REMOVED, LIVE, SLOT_REPLY, ST_ASSURED, ST_DYING,
};
use crate::tables::buckets::header::SEQ_MASK;
use std::sync::atomic::fence;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

impl Conntrack {
    /// Claims a live entry of generation `gen` for removal; the claimed state word.
    pub(super) fn claim(&self, idx: u32, gen: u32) -> Option<u64> {
        let e = self.entries.get(idx as usize)?;
        let mut s = e.state.load(Acquire);
        loop {
            if (s >> 32) as u32 != gen || s & ST_DYING != 0 || e.meta.load(Relaxed) & LIVE == 0 {
                return None;
            }
            match e.state.compare_exchange(s, s | ST_DYING, AcqRel, Acquire) {
                Ok(_) => return Some(s),
                Err(x) => s = x,
            }
        }
    }

    /// Removes a claimed entry: clears both keys, frees the entry, runs the release
    /// hook. `st` is the state word it was claimed with.
    pub(super) fn remove_claimed(&self, idx: u32, st: u64) -> Conn {
        let e = &self.entries[idx as usize];
        let m = e.meta.load(Acquire);
        debug_assert!(m & LIVE != 0 && (m & SEQ_MASK) == st >> 32);
        let w: [u64; 5] = std::array::from_fn(|i| e.w[i].load(Relaxed));
        // Reply key first: an insert of the same flow that finds the original key
        // gone then finds the reply key gone too (inserts publish in the other
        // order), so a racing re-insert never sees a half-removed flow as a conflict.
        for reply in [true, false] {
            let k = entry_key(&w, reply);
            let p = self.pos(&k);
            let word = p.tag | if reply { SLOT_REPLY } else { 0 } | idx as u64;
            self.clear_key(&p, word);
        }
        // Free the entry: readers that loaded the live meta see it change.
        e.meta.store(m & !LIVE, Relaxed);
        fence(Release);
        let conn = Conn::unpack(&w);
        let stripe = conn.owner as usize;
        self.gauge(stripe, CtState::from_word(st), -1);
        if st & ST_ASSURED != 0 {
            self.assured_gauge(stripe, -1);
        }
        self.push_free(conn.owner as usize, idx);
        if let Some(release) = &self.release {
            release(&conn);
        }
        conn
    }

    /// Clears the slot holding exactly `word` in the buckets of `p`.
    fn clear_key(&self, p: &Pos, word: u64) {
        let (lo, hi) = (p.b1.min(p.b2), p.b1.max(p.b2));
        self.buckets[lo].header.lock();
        if hi != lo {
            self.buckets[hi].header.lock();
        }
        let mut found = false;
        for b in p.buckets() {
            let bucket = &self.buckets[b];
            if let Some(i) = bucket.slots.iter().position(|s| s.load(Relaxed) == word) {
                bucket.write_slot(i, 0);
                self.resummarize(b);
                if b != p.b1 {
                    self.buckets[p.b1].header.add_overflow(-1);
                }
                found = true;
                break;
            }
        }
        debug_assert!(found, "key slot {word:#x} of a live entry missing");
        self.buckets[p.b1].header.unlock();
        if p.b2 != p.b1 {
            self.buckets[p.b2].header.unlock();
        }
    }

    /// Removes the connection in entry `idx` if it still has generation `gen` (from
    /// a [`CtHit`](super::CtHit) or [`CtEntry`](super::CtEntry)); returns it. Counted as removed.
    pub fn remove(&self, idx: u32, gen: u32) -> Option<Conn> {
        let st = self.claim(idx, gen)?;
        let conn = self.remove_claimed(idx, st);
        self.count(conn.owner as usize, C_REMOVED, 1);
        Some(conn)
    }

    /// Removes the connection `key` (either direction) belongs to; returns it.
    pub fn remove_key(&self, key: &FlowKey) -> Option<Conn> {
        let hit = self.lookup(key)?;
        self.remove(hit.idx, hit.gen)
    }

    /// Removes every connection `filter` selects (each through the release hook);
    /// returns how many (counted as removed).
    pub fn flush(&self, filter: &CtFilter) -> usize {
        let mut removed = 0;
        for i in 0..self.entries.len() {
            // Retry while the entry changes under us but still matches.
            while let Some(snap) = self.read_entry(i) {
                let st = snap.state;
                if st & ST_DYING != 0
                    || !filter.matches(&Conn::unpack(&snap.w), CtState::from_word(st))
                {
                    break;
                }
                if self.entries[i]
                    .state
                    .compare_exchange(st, st | ST_DYING, AcqRel, Relaxed)
                    .is_ok()
                {
                    let conn = self.remove_claimed(i as u32, st);
                    self.count(conn.owner as usize, C_REMOVED, 1);
                    removed += 1;
                    break;
                }
            }
        }
        removed
    }
}

#[cfg(test)]
#[path = "remove_tests.rs"]
mod tests;
