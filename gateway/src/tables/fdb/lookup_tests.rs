//! Tests of the lookups; and their timing (ignored).

use super::super::entry::ALT;
use super::super::test_support::*;
use super::super::*;
use super::*;
use std::collections::HashMap;
use std::time::Instant;

#[test]
fn learn_and_lookup_both_kinds() {
    let f = Fdb::new(1000, 16);
    assert_eq!(f.lookup(10, mac(1)), None);
    assert_eq!(
        f.learn(10, mac(1), acc(2, 100), 5, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(
        f.learn(10, mac(2), vtep(9), 5, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(f.lookup(10, mac(1)), Some(acc(2, 100)));
    assert_eq!(f.lookup(10, mac(2)), Some(vtep(9)));
    assert_eq!(
        f.lookup_hit(10, mac(2)),
        Some(FdbHit {
            dest: vtep(9),
            is_static: false
        })
    );
    // Same MAC, other VNI: a different entry.
    assert_eq!(f.lookup(11, mac(1)), None);
    assert_eq!(f.len(), 2);
    assert_eq!(f.len_vni(10), 2);
    assert_eq!(f.learned_vni(10), 2);
    assert_eq!(f.len_vni(11), 0);
    let s = f.stats();
    assert_eq!((s.learned, s.dynamic_entries, s.static_entries), (2, 2, 0));
    validate(&f).unwrap();
}

// ---- Timing (not a test: run with --release -- --ignored --nocapture) ----

#[test]
#[ignore]
fn bench_lookup() {
    use std::hint::black_box;
    for &n in &[1_000usize, 100_000] {
        let f = Fdb::new(n, 64);
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut keys = Vec::with_capacity(n);
        while keys.len() < n {
            let m = MacAddr::from_u64(rng.next() & 0xfeff_ffff_ffff);
            let vni = (rng.next() % 16) as u32 + 1;
            if f.learn(vni, m, vtep(1), 1, NO_LIMIT) == LearnOutcome::Learned {
                keys.push((vni, m));
            }
        }
        let order: Vec<usize> = (0..1 << 22)
            .map(|_| (rng.next() % n as u64) as usize)
            .collect();
        let misses: Vec<(u32, MacAddr)> = (0..1 << 16)
            .map(|_| (1, MacAddr::from_u64(rng.next() & 0xfeff_ffff_ffff)))
            .collect();
        let t = Instant::now();
        let mut hits = 0usize;
        for &i in &order {
            let (v, m) = keys[i];
            hits += black_box(f.lookup(black_box(v), black_box(m))).is_some() as usize;
        }
        let hit_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
        assert_eq!(hits, order.len());
        let t = Instant::now();
        for j in 0..order.len() {
            let (v, m) = misses[j & 0xffff];
            black_box(f.lookup(black_box(v), black_box(m)));
        }
        let miss_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
        let t = Instant::now();
        for &i in &order {
            let (v, m) = keys[i];
            black_box(f.learn(v, m, vtep(1), 1, NO_LIMIT));
        }
        let learn_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
        let map: HashMap<(u32, MacAddr), FdbDest> = keys.iter().map(|&k| (k, vtep(1))).collect();
        let t = Instant::now();
        for &i in &order {
            black_box(map.get(black_box(&keys[i])));
        }
        let std_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
        let in_primary = f
            .entries(&FdbFilter::all(), 1)
            .iter()
            .filter(|e| f.find(&f.pos(e.vni, e.mac.to_u64())).unwrap().2 & ALT == 0)
            .count();
        println!(
            "{n} entries ({} slots, {:.0}% in primary): lookup hit {hit_ns:.1} ns, miss {miss_ns:.1} ns, learn refresh {learn_ns:.1} ns; std HashMap (SipHash) get {std_ns:.1} ns",
            f.capacity(),
            100.0 * in_primary as f64 / n as f64
        );
    }
}
