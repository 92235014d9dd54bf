//! A per-worker exact-match cache in front of the FDB, as Open vSwitch keeps one in
//! front of its classifier: (VNI, MAC) -> destination in one multiply and one line,
//! instead of the FDB's hash, seqlock and bucket scan (what it saves: perf/RESULTS.md,
//! section 2).
//!
//! It is exact, not "recent enough": the FDB counts every change that can alter or
//! remove an answer it gave ([`Fdb::changes`]: moves, static overrides, removals,
//! ageing, flushes; a new entry alters no answer, and misses are never cached). An
//! answer is cached with the count read before the FDB was asked, and used only
//! while the count has not moved. A change thus invalidates every worker's cache at
//! once, at the cost of one load per lookup; a table that changes all the time (a
//! MAC flapping between ports) only makes every lookup a miss, i.e. the FDB's own.
//!
//! Two-way set associative: 2048 sets of one 64-byte line (4096 answers, 128 KiB per
//! worker). A miss puts its answer in way 0 and moves way 0's to way 1. An FDB too
//! big for the caches is asked directly instead ([`crate::pipeline::Ctx::fdb_lookup`]):
//! with more MACs in use than the cache holds, every probe would be a miss and a
//! fill. Owned by one worker (`Cell`s, nothing shared).

use std::cell::Cell;

use super::fdb::{Fdb, FdbDest};

/// Sets (a power of two).
const SETS: usize = 2048;

/// One cached answer, one `Cell` per word so that a probe loads only what it
/// compares. `changes == 0` never matches: the FDB's count starts at 1.
#[derive(Default)]
struct Way {
    mac: Cell<u64>,
    /// The VNI (bits 40-63) and the destination ([`encode`]).
    word: Cell<u64>,
    changes: Cell<u64>,
}

impl Way {
    #[inline(always)]
    fn answers(&self, vni: u32, mac: u64, changes: u64) -> Option<FdbDest> {
        let w = self.word.get();
        (self.mac.get() == mac && w >> VNI_SHIFT == vni as u64 && self.changes.get() == changes)
            .then(|| FdbDest::decode(w))
    }

    #[inline(always)]
    fn copy_from(&self, o: &Way) {
        self.mac.set(o.mac.get());
        self.word.set(o.word.get());
        self.changes.set(o.changes.get());
    }
}

const VNI_SHIFT: u32 = 40;
/// The cache word of an answer: the VNI above the FDB's own destination bits
/// ([`FdbDest::encode`], bits 0-33).
#[inline(always)]
fn encode(vni: u32, d: FdbDest) -> u64 {
    (vni as u64) << VNI_SHIFT | d.encode()
}

/// One set: its ways in one cache line.
#[repr(C, align(64))]
#[derive(Default)]
struct Set([Way; 2]);

/// One worker's cache of FDB answers.
pub struct FdbCache {
    sets: Box<[Set; SETS]>,
}

impl Default for FdbCache {
    fn default() -> Self {
        let sets: Box<[Set]> = (0..SETS).map(|_| Set::default()).collect();
        FdbCache {
            sets: sets
                .try_into()
                .unwrap_or_else(|_| unreachable!("SETS sets")),
        }
    }
}

impl FdbCache {
    /// [`Fdb::lookup_key`] of (`vni`, `mac`), answered from the cache when the FDB has
    /// not changed since the answer was cached.
    #[inline(always)]
    pub fn lookup(&self, fdb: &Fdb, vni: u32, mac: u64) -> Option<FdbDest> {
        let changes = fdb.changes();
        let set = &self.sets[set_of(vni, mac)];
        if let Some(d) = set.0[0].answers(vni, mac, changes) {
            return Some(d);
        }
        if let Some(d) = set.0[1].answers(vni, mac, changes) {
            return Some(d);
        }
        Self::miss(set, fdb, vni, mac, changes)
    }

    /// A miss: the FDB's answer, cached in way 0 (way 0's goes to way 1). Out of
    /// line: inlined, it cost the hit path registers.
    #[inline(never)]
    fn miss(set: &Set, fdb: &Fdb, vni: u32, mac: u64, changes: u64) -> Option<FdbDest> {
        let dest = fdb.lookup_key(vni, mac)?;
        set.0[1].copy_from(&set.0[0]);
        let w = &set.0[0];
        w.mac.set(mac);
        w.word.set(encode(vni, dest));
        w.changes.set(changes);
        Some(dest)
    }
}

/// The set of (`vni`, `mac`): the top bits of one multiply (MACs often differ only
/// in their low bytes, and many share their top ones).
#[inline(always)]
fn set_of(vni: u32, mac: u64) -> usize {
    let h = (mac ^ (vni as u64) << 48).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> (64 - SETS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MacAddr;
    use std::net::Ipv4Addr;

    fn vtep(n: u8) -> FdbDest {
        FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, n))
    }

    /// Every answer is the FDB's, through learns, moves, static overrides, removals,
    /// ageing and flushes, for keys that share sets and VNIs that share MACs.
    #[test]
    fn answers_are_the_fdbs_through_every_kind_of_change() {
        let fdb = Fdb::with_seed(8192, 16, 3);
        let c = FdbCache::default();
        // 3000 keys in 2048 sets: many sets see three or more keys.
        let keys: Vec<(u32, u64)> = (0..3000u64)
            .map(|i| ((i % 3) as u32 + 10, 0x0242_0a00_0000 + i / 3))
            .collect();
        let check = |what: &str| {
            for &(vni, mac) in &keys {
                for _ in 0..2 {
                    assert_eq!(
                        c.lookup(&fdb, vni, mac),
                        fdb.lookup_key(vni, mac),
                        "{what}: vni {vni} mac {mac:x}"
                    );
                }
            }
        };
        check("empty");
        for (n, &(vni, mac)) in keys.iter().enumerate() {
            fdb.learn(vni, MacAddr::from_u64(mac), vtep(n as u8 % 4), 1, u32::MAX);
        }
        check("learned");
        for &(vni, mac) in keys.iter().step_by(7) {
            fdb.learn(vni, MacAddr::from_u64(mac), vtep(99), 2, u32::MAX);
        }
        check("moved");
        for &(vni, mac) in keys.iter().step_by(11) {
            fdb.add_static(vni, MacAddr::from_u64(mac), vtep(77))
                .unwrap();
        }
        check("static");
        for &(vni, mac) in keys.iter().step_by(5) {
            fdb.remove(vni, MacAddr::from_u64(mac));
        }
        check("removed");
        // The moved entries were refreshed at 2, the others not since 1.
        assert!(fdb.age(302, |_| 300) > 0);
        check("aged");
        assert!(fdb.flush(&Default::default()) > 0);
        check("flushed");
    }

    #[test]
    fn destinations_round_trip_through_the_cache_word() {
        for (vni, d) in [
            (
                0xff_ffff,
                FdbDest::Access {
                    port: 31,
                    vlan: 4095,
                },
            ),
            (1, FdbDest::Access { port: 0, vlan: 0 }),
            (4096, FdbDest::Vtep(Ipv4Addr::new(255, 255, 255, 255))),
            (0, FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 11))),
        ] {
            let w = encode(vni, d);
            assert_eq!((w >> VNI_SHIFT, FdbDest::decode(w)), (vni as u64, d));
        }
    }

    #[test]
    fn new_entries_and_refreshes_keep_the_cache_a_move_does_not() {
        let fdb = Fdb::with_seed(1024, 4, 5);
        let c = FdbCache::default();
        let a = MacAddr([2, 0, 0, 0, 0, 1]);
        fdb.learn(1, a, vtep(1), 1, u32::MAX);
        let before = fdb.changes();
        assert_eq!(c.lookup(&fdb, 1, a.to_u64()), Some(vtep(1)));
        // New entries and refreshes are not changes.
        fdb.learn(1, MacAddr([2, 0, 0, 0, 0, 2]), vtep(2), 1, u32::MAX);
        fdb.learn(1, a, vtep(1), 5, u32::MAX);
        assert_eq!(fdb.changes(), before);
        // A move is.
        fdb.learn(1, a, vtep(3), 6, u32::MAX);
        assert!(fdb.changes() > before);
        assert_eq!(c.lookup(&fdb, 1, a.to_u64()), Some(vtep(3)));
    }
}
