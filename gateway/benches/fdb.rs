//! FDB timing (`lookup`): lookups (hits, misses), learn refreshes and learns of new
//! MACs refused at the VNI's limit (a MAC flood's) in tables of 1,000 and 100,000
//! entries, beside a std HashMap of the same keys, with the share of entries in
//! their primary bucket. And the load at which the first `TableFull`
//! comes (`fill`): the probe bound's figure in the `tables::fdb` docs.
//!
//!   cargo bench -p vxgw --bench fdb [-- lookup|fill]   (default: both)

#[path = "common/xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

use std::collections::HashMap;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use vxgw::tables::fdb::{Fdb, FdbDest, LearnOutcome, NO_LIMIT};
use vxgw::wire::MacAddr;

fn vtep(n: u8) -> FdbDest {
    FdbDest::Vtep(Ipv4Addr::new(10, 0, 0, n))
}

/// Lookups and learn refreshes of full tables.
fn lookup() {
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
        // New MACs in a VNI at its learn limit (every key's VNI holds ~n/16 entries).
        let t = Instant::now();
        for j in 0..order.len() {
            let (_, m) = misses[j & 0xffff];
            let out = f.learn(black_box(1), black_box(m), vtep(1), 1, 1);
            debug_assert_eq!(out, LearnOutcome::LimitHit);
            black_box(out);
        }
        let flood_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
        let map: HashMap<(u32, MacAddr), FdbDest> = keys.iter().map(|&k| (k, vtep(1))).collect();
        let t = Instant::now();
        for &i in &order {
            black_box(map.get(black_box(&keys[i])));
        }
        let std_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
        let in_primary = f.entries_in_primary();
        println!(
            "{n} entries ({} slots, {:.0}% in primary): lookup hit {hit_ns:.1} ns, miss {miss_ns:.1} ns, learn refresh {learn_ns:.1} ns, new MAC at the limit {flood_ns:.1} ns; std HashMap (SipHash) get {std_ns:.1} ns",
            f.capacity(),
            100.0 * in_primary as f64 / n as f64
        );
    }
}

/// The load at which the first `TableFull` comes: tables filled with random keys
/// until a key finds both its buckets full.
fn fill() {
    for &n in &[1000usize, 100_000, 1 << 20] {
        for seed in 0..3u64 {
            let f = Fdb::with_seed(n, 16, seed);
            let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut learned = 0usize;
            loop {
                let x = rng.next();
                let m = MacAddr::from_u64(x & 0xfeff_ffff_ffff);
                match f.learn((x >> 60) as u32, m, vtep(1), 0, NO_LIMIT) {
                    LearnOutcome::Learned => learned += 1,
                    LearnOutcome::TableFull => break,
                    _ => {}
                }
            }
            println!(
                "n={n} seed={seed}: first TableFull after {learned} = {:.3} of requested, {:.3} of slots",
                learned as f64 / n as f64,
                learned as f64 / f.capacity() as f64
            );
        }
    }
}

fn main() {
    let part = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    match part.as_str() {
        "lookup" => lookup(),
        "fill" => fill(),
        "" => {
            lookup();
            fill();
        }
        other => {
            eprintln!("fdb bench: unknown part {other:?} (lookup, fill)");
            std::process::exit(2);
        }
    }
}
