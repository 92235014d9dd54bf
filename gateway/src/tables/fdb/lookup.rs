//! The lock-free lookups: the seqlock read of a key's primary bucket, and of its
//! secondary when the primary has overflowed.
//!
//! [`Fdb::lookup`] returns the destination only (what forwarding needs);
//! [`Fdb::lookup_hit`] also says whether the entry is static.

use super::bucket::{Header, Pos};
use super::entry::{FdbDest, STATIC};
use super::fingerprints::fingerprint;
use super::{Fdb, SLOTS};
use crate::dpdk::prefetch;
use crate::wire::ethernet::MacAddr;

/// A lookup result with the entry's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbHit {
    /// Where the MAC is.
    pub dest: FdbDest,
    /// True for a static (control-plane) entry.
    pub is_static: bool,
}

impl Fdb {
    /// Lock-free search: (bucket index, slot, value). Always inlined: the callers are
    /// the per-packet lookup and learn, and inlined the secondary bucket's hash is
    /// only computed on the rare overflow path.
    #[inline(always)]
    pub(super) fn find(&self, p: &Pos) -> Option<(usize, usize, u64)> {
        let (r, h) = self.buckets[p.b1].read(|b| b.find(p.key, p.vhi, p.home));
        if let Some((i, v)) = r {
            return Some((p.b1, i, v));
        }
        if Header::overflow(h) == 0 {
            return None;
        }
        let b2 = p.b2();
        if b2 == p.b1 {
            return None;
        }
        let (r, _) = self.buckets[b2].read(|b| b.find(p.key, p.vhi, p.home));
        r.map(|(i, v)| (b2, i, v))
    }

    /// False when the fingerprints say that neither of the key's buckets holds it.
    #[inline(always)]
    pub(super) fn may_hold(&self, p: &Pos) -> bool {
        let fp = fingerprint(p.x1);
        // The secondary's only when the primary's do not hold it: a known MAC is
        // mostly in its primary (a learn refresh then reads one line of them).
        self.fingerprints[p.b1].may_hold(fp) || self.fingerprints[p.b2()].may_hold(fp)
    }

    /// Where frames to `mac` in `vni` go, if known. Lock-free; never writes.
    #[inline(always)]
    pub fn lookup(&self, vni: u32, mac: MacAddr) -> Option<FdbDest> {
        self.lookup_key(vni, mac.to_u64())
    }

    /// [`Fdb::lookup`] of a MAC given as [`MacAddr::to_u64`] (the bridge reads it so).
    /// Always inlined: it is the bridge's per-packet lookup, and as a call its frame
    /// cost ~20 of its ~140 instructions.
    #[inline(always)]
    pub fn lookup_key(&self, vni: u32, mac: u64) -> Option<FdbDest> {
        let p = self.pos(vni, mac);
        self.find(&p).map(|(_, _, v)| FdbDest::decode(v))
    }

    /// Hints the CPU to load the bucket where `mac` of `vni` would be (all four of
    /// its lines): a burst's lookups prefetched together overlap their misses.
    /// `mac` as [`MacAddr::to_u64`] has it.
    #[inline]
    pub fn prefetch(&self, vni: u32, mac: u64) {
        let b = &self.buckets[self.pos(vni, mac).b1];
        prefetch(&b.header);
        prefetch(&b.keys[SLOTS / 2]);
        prefetch(&b.values[0]);
        prefetch(&b.values[SLOTS / 2 + 1]);
    }

    /// Hints the CPU to load what learning `mac` of `vni` reads first: the
    /// fingerprints of its two buckets (a new MAC mostly reads nothing else).
    #[inline]
    pub fn prefetch_learn(&self, vni: u32, mac: u64) {
        let p = self.pos(vni, mac);
        prefetch(self.fingerprints[p.b1].line());
        prefetch(self.fingerprints[p.b2()].line());
    }

    /// Like [`Fdb::lookup`], also telling whether the entry is static.
    #[inline]
    pub fn lookup_hit(&self, vni: u32, mac: MacAddr) -> Option<FdbHit> {
        let p = self.pos(vni, mac.to_u64());
        self.find(&p).map(|(_, _, v)| FdbHit {
            dest: FdbDest::decode(v),
            is_static: v & STATIC != 0,
        })
    }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
