//! The data path's side: lock-free lookups (one key, or a burst with its cache
//! misses overlapped), the seqlock read of an entry ([`Snap`]), and the accounting
//! of a packet of a found connection ([`Conntrack::observe`]: `last_seen` and the
//! state machine).

use super::bucket::Bucket;
use super::conn::owner_of;
use super::key::{entry_key, pack_key, Pos};
use super::state::{steady, step};
use super::{
    Conntrack, CtHit, CtState, Dir, FlowKey, Header, PackedKey, FIRST_LINE_SLOTS, LIVE,
    LOOKUP_BURST, OCC_MASK, OCC_SHIFT, SLOTS, SLOT_IDX_MASK, SLOT_REPLY, SLOT_TAG_MASK, ST_ASSURED,
    ST_AUX, ST_DYING, ST_STATE,
};
use crate::dpdk::{prefetch, prefetch_ptr};
use crate::tables::buckets::header::{backoff, SEQ_MASK};
use crate::tables::seconds::is_later;
use std::sync::atomic::fence;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

/// A consistent read of a live entry.
#[derive(Clone, Copy, Debug)]
pub(super) struct Snap {
    pub(super) meta: u64,
    pub(super) state: u64,
    pub(super) w: [u64; 5],
}

impl Snap {
    pub(super) fn gen(&self) -> u32 {
        self.meta as u32
    }
}

impl Conntrack {
    /// Seqlock read of a live entry; `None` if it is free.
    #[inline]
    pub(super) fn read_entry(&self, idx: usize) -> Option<Snap> {
        self.read_entry_with(idx, || {})
    }

    /// `read_entry` with a hook run after the first conn word is loaded (tests
    /// interleave a writer there; the empty hook compiles away).
    #[inline(always)]
    fn read_entry_with(&self, idx: usize, mid: impl Fn()) -> Option<Snap> {
        let e = self.entries.get(idx)?;
        let mut spins = 0;
        loop {
            let m1 = e.meta.load(Acquire);
            if m1 & 1 == 0 {
                if m1 & LIVE == 0 {
                    return None;
                }
                let state = e.state.load(Relaxed);
                let w: [u64; 5] = std::array::from_fn(|i| {
                    if i == 1 {
                        mid();
                    }
                    e.w[i].load(Relaxed)
                });
                fence(Acquire);
                let m2 = e.meta.load(Relaxed);
                if m1 == m2 && state >> 32 == m1 & SEQ_MASK {
                    return Some(Snap { meta: m1, state, w });
                }
            }
            backoff(&mut spins);
        }
    }

    /// The entry a slot snapshot holds for `k`, if any.
    #[inline]
    fn match_slots(&self, slots: &[u64; SLOTS], k: &PackedKey, tag: u64) -> Option<CtHit> {
        // Every tag compared into a bit mask first (no branch per slot), then only
        // the slots whose tag matches are read: a miss in a full bucket (what a
        // flood of new flows meets) costs ~40 instructions instead of ~120.
        let mut matches = 0u32;
        for (j, &s) in slots.iter().enumerate() {
            matches |= u32::from(s & SLOT_TAG_MASK == tag) << j;
        }
        while matches != 0 {
            let j = matches.trailing_zeros() as usize;
            if let Some(hit) = slots.get(j).and_then(|&s| self.match_slot(s, k)) {
                return Some(hit);
            }
            matches &= matches - 1;
        }
        None
    }

    /// The connection slot word `s` points to, if its key (in the slot's direction)
    /// is `k`.
    #[inline(always)]
    fn match_slot(&self, s: u64, k: &PackedKey) -> Option<CtHit> {
        let idx = (s & SLOT_IDX_MASK) as usize;
        let reply = s & SLOT_REPLY != 0;
        let snap = self.read_entry(idx)?;
        (entry_key(&snap.w, reply) == *k).then(|| CtHit {
            idx: idx as u32,
            gen: snap.gen(),
            dir: if reply { Dir::Reply } else { Dir::Original },
            state: CtState::from_word(snap.state),
            assured: snap.state & ST_ASSURED != 0,
            words: snap.w,
        })
    }

    /// [`Conntrack::find`], trying first slot `hint` of the primary bucket (where the
    /// burst's scan saw the key's tag a moment ago): a match there, read under an
    /// unchanged bucket sequence, is the answer without scanning the bucket again (a
    /// key is in one slot at most); anything else takes the full search.
    #[inline(always)]
    fn find_hinted(&self, k: &PackedKey, p: &Pos, hint: usize) -> Option<CtHit> {
        let b = &self.buckets[p.b1];
        if let Some(slot) = b.slots.get(hint) {
            let h1 = b.header.load_acquire();
            let s = slot.load(Relaxed);
            if h1 & 1 == 0 && s & SLOT_TAG_MASK == p.tag {
                if let Some(hit) = self.match_slot(s, k) {
                    fence(Acquire);
                    if b.header.unchanged_since(h1) {
                        return Some(hit);
                    }
                }
            }
        }
        self.find(k, p)
    }

    #[inline]
    fn find(&self, k: &PackedKey, p: &Pos) -> Option<CtHit> {
        let (slots, h) = self.buckets[p.b1].read();
        if let Some(hit) = self.match_slots(&slots, k, p.tag) {
            return Some(hit);
        }
        if Header::overflow(h) == 0 || p.b2 == p.b1 {
            return None;
        }
        let (slots, _) = self.buckets[p.b2].read();
        self.match_slots(&slots, k, p.tag)
    }

    /// [`Conntrack::find`] with the key's buckets locked by the caller: their slots
    /// cannot change, so they are read in place instead of copied under the seqlock.
    pub(super) fn find_locked(&self, k: &PackedKey, p: &Pos) -> Option<CtHit> {
        let scan = |b: &Bucket| {
            b.slots
                .iter()
                .map(|s| s.load(Relaxed))
                .filter(|&s| s & SLOT_TAG_MASK == p.tag)
                .find_map(|s| self.match_slot(s, k))
        };
        let b1 = &self.buckets[p.b1];
        if let Some(hit) = scan(b1) {
            return Some(hit);
        }
        if Header::overflow(b1.header.load()) == 0 || p.b2 == p.b1 {
            return None;
        }
        scan(&self.buckets[p.b2])
    }

    /// The connection a packet with `key` belongs to, and its direction. Lock-free;
    /// never writes.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<CtHit> {
        let k = pack_key(key);
        self.find(&k, &self.pos(&k))
    }

    /// Prefetches what an insert of `key` coming soon will lock and scan: its primary
    /// bucket and its secondary's header (a burst's new connections, both keys of
    /// each, so that their misses overlap before the inserts' lock CASes wait for
    /// them one connection at a time). Reads nothing.
    #[inline]
    pub fn prefetch_key(&self, key: &PackedKey) {
        let p = self.pos(key);
        let b = &self.buckets[p.b1];
        prefetch(&b.header);
        prefetch(&b.slots[SLOTS - 1]);
        prefetch(&self.buckets[p.b2].header);
    }

    /// [`Conntrack::lookup`] of every key of `keys` into `out` (same length), with
    /// the cache misses of up to [`LOOKUP_BURST`] keys overlapped
    /// ([`Conntrack::lookup_packed_burst`] of the packed keys).
    pub fn lookup_burst(&self, keys: &[FlowKey], out: &mut [Option<CtHit>]) {
        assert_eq!(keys.len(), out.len(), "lookup_burst: lengths differ");
        let mut packed = [PackedKey::NONE; LOOKUP_BURST];
        for (ks, os) in keys.chunks(LOOKUP_BURST).zip(out.chunks_mut(LOOKUP_BURST)) {
            for (p, k) in packed.iter_mut().zip(ks) {
                *p = pack_key(k);
            }
            self.lookup_packed_burst(&packed[..ks.len()], os);
        }
    }

    /// [`Conntrack::lookup`] of every key of `keys` (at most [`LOOKUP_BURST`]) into
    /// `out` (same length), with their cache misses overlapped, in passes over the
    /// burst: hash every key and prefetch its buckets' summaries; read those, and
    /// prefetch the first line of the primary bucket of each key they may hold
    /// (most absent keys end here); scan that line for the key's tag and prefetch
    /// the entry it names (or, when the tag is not there, the bucket's second line
    /// if it holds keys and the secondary bucket if keys overflowed into it); then
    /// look up as `lookup` does, now from the cache, starting with the slot the
    /// scan found. One bucket line per key, not two: 32 keys' lines are about as
    /// many misses as a core keeps in flight, and 94 % of the keys of a half-full
    /// table are in the first line (perf/RESULTS.md, section 4). The passes before
    /// the last only give hints (their unsynchronised reads decide nothing), so the
    /// results are those of one `lookup` per key. While one pass runs, the misses it
    /// asked for in the previous one are in flight together instead of one or two at
    /// a time.
    #[inline]
    pub fn lookup_packed_burst(&self, keys: &[PackedKey], out: &mut [Option<CtHit>]) {
        assert!(
            keys.len() == out.len() && keys.len() <= LOOKUP_BURST,
            "lookup_packed_burst: lengths differ or exceed a burst"
        );
        let n = keys.len();
        let mut pos = [Pos {
            b1: 0,
            b2: 0,
            tag: 0,
        }; LOOKUP_BURST];
        // A frame that is not looked up (a SYN, anything not TCP or UDP: a MAC
        // flood's ARP) has the key NONE: not hashed, no search (it cost a SYN flood
        // ~500 instructions a packet in full buckets).
        for (k, p) in keys.iter().zip(pos.iter_mut()) {
            if *k == PackedKey::NONE {
                continue;
            }
            *p = self.pos(k);
            prefetch(&self.summary[p.b1]);
            prefetch(&self.summary[p.b2]);
        }
        // The keys to search (a summary holds their bits), as a mask made without a
        // branch per key: a flood's new flows (~95 % ruled out in a full table, at
        // random places in the burst) made a mispredicted branch at every change
        // between the two kinds in each pass below. The prefetch too is branch-free:
        // for a key not searched it asks for the summary just read (in the cache).
        let mut live = 0u32;
        for (i, (p, k)) in pos[..n].iter().zip(keys).enumerate() {
            // A key not looked up has no place (`pos` 0): its summary read is only
            // a hint; `&` keeps both sides without a branch.
            let held = self.summary[p.b1].holds(p.tag) | self.summary[p.b2].holds(p.tag);
            let search = (*k != PackedKey::NONE) & held;
            live |= u32::from(search) << i;
            // Selected by a mask: LLVM made a branch of an `if` here.
            let header = &self.buckets[p.b1].header as *const _ as usize;
            let summary = &self.summary[p.b1] as *const _ as usize;
            let pick = usize::from(search).wrapping_neg();
            prefetch_ptr((summary ^ ((header ^ summary) & pick)) as *const u8);
        }
        // Where to start the search: the slot of the first line whose tag matched,
        // or SLOTS (from the first slot).
        let mut hint = [SLOTS; LOOKUP_BURST];
        for i in bits(live) {
            let (p, h) = (&pos[i], &mut hint[i]);
            let b = &self.buckets[p.b1];
            // Every slot of the line is compared and the matches kept as bits: a
            // scan that stops at the match ends at a different slot for every key,
            // and that exit was mispredicted for most packets (callgrind
            // --branch-sim: 0.85 of the forward path's 1.52 a packet). 33 more
            // instructions, and 7 % more packets a second (perf/RESULTS.md).
            let Some(line) = b.slots.first_chunk::<FIRST_LINE_SLOTS>() else {
                continue;
            };
            let mut matches = 0u32;
            for (j, s) in line.iter().enumerate() {
                matches |= ((s.load(Relaxed) & SLOT_TAG_MASK == p.tag) as u32) << j;
            }
            if matches != 0 {
                let j = matches.trailing_zeros() as usize;
                let s = line[j].load(Relaxed);
                if let Some(e) = self.entries.get((s & SLOT_IDX_MASK) as usize) {
                    prefetch(e);
                    *h = j;
                }
                continue;
            }
            // Not in the first line: the key may be in the second one or in the
            // secondary bucket; ask for those now, while the other keys are scanned.
            let hw = b.header.load();
            if ((hw >> OCC_SHIFT) as u32 & OCC_MASK) >> FIRST_LINE_SLOTS != 0 {
                prefetch(&b.slots[SLOTS - 1]);
            }
            if Header::overflow(hw) != 0 {
                // Both lines of the secondary bucket: a key that is not there is
                // searched in all of it.
                let b2 = &self.buckets[p.b2];
                prefetch(&b2.header);
                prefetch(&b2.slots[SLOTS - 1]);
            }
        }
        let all = if n == LOOKUP_BURST {
            u32::MAX
        } else {
            (1u32 << n) - 1
        };
        for i in bits(!live & all) {
            out[i] = None;
        }
        for i in bits(live) {
            out[i] = self.find_hinted(&keys[i], &pos[i], hint[i]);
        }
    }

    /// Accounts a packet of `hit`'s connection in `hit.dir` with TCP `tcp_flags` (0
    /// for UDP) at second `now`: refreshes `last_seen` (a store at most once per
    /// second per direction) and applies the state machine (a CAS, only when the
    /// state changes). Returns the resulting state; [`CtState::Closed`] when the
    /// connection was removed since the lookup (nothing is written then).
    #[inline]
    pub fn observe(&self, hit: &CtHit, tcp_flags: u8, now: u32) -> CtState {
        self.observe_checked(hit, tcp_flags, now)
            .unwrap_or(CtState::Closed)
    }

    /// [`Conntrack::observe`], but `None` when the connection of `hit` is gone since
    /// the lookup (being removed, removed, or its entry reused; nothing is written
    /// except, at most, the `last_seen` of a connection being removed): the caller's
    /// hit is stale and must be looked up again.
    #[inline(always)]
    pub fn observe_checked(&self, hit: &CtHit, tcp_flags: u8, now: u32) -> Option<CtState> {
        let e = self.entries.get(hit.idx as usize)?;
        let mut s = e.state.load(Acquire);
        if (s >> 32) as u32 != hit.gen {
            return None;
        }
        let ls = &e.last_seen[hit.dir as usize];
        if is_later(now, ls.load(Relaxed)) {
            ls.store(now, Relaxed);
        }
        loop {
            let st = CtState::from_word(s);
            if s & ST_DYING != 0 {
                // Being removed, or removed and not reused yet: gone for the caller.
                return None;
            }
            if steady(s, tcp_flags, hit.dir) {
                return Some(st);
            }
            let was_assured = s & ST_ASSURED != 0;
            let (nst, aux, assured) = step(st, s & ST_AUX != 0, was_assured, hit.dir, tcp_flags);
            let n = (s & !(ST_STATE | ST_AUX | ST_ASSURED))
                | nst as u64
                | if aux { ST_AUX } else { 0 }
                | if assured { ST_ASSURED } else { 0 };
            if n == s {
                return Some(st);
            }
            match e.state.compare_exchange(s, n, AcqRel, Acquire) {
                Ok(_) => {
                    let stripe = owner_of(&hit.words) as usize;
                    if nst != st {
                        self.gauge(stripe, nst, 1);
                        self.gauge(stripe, st, -1);
                    }
                    if assured != was_assured {
                        self.assured_gauge(stripe, if assured { 1 } else { -1 });
                    }
                    return Some(nst);
                }
                Err(x) if (x >> 32) as u32 != hit.gen => return None,
                Err(x) => s = x,
            }
        }
    }
}

/// The positions of the set bits of `mask`, lowest first.
#[inline(always)]
fn bits(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            i
        })
    })
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
