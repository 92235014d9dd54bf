//! Conntrack timing (`timing`): lookups (hits in both directions, misses, bursts,
//! with `observe`), inserts at half load, remove+insert churn and a full sweep of a
//! table for 2M connections holding 1M, beside a std HashMap of the same flows, a
//! random load from memory of the table's size and a small (cache-resident) table.
//! And the load at which the first window fills (`fill`): the probe bound's figure
//! in the `tables::conntrack` docs. Figures: perf/RESULTS.md.
//!
//!   cargo bench -p vxgw --bench conntrack [-- timing|fill]   (default: both)

#[path = "common/xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use vxgw::tables::conntrack::{
    Conn, Conntrack, CtInsertError, CtState, FlowKey, Timeouts, LOOKUP_BURST, SLOTS_PER_BUCKET,
};
use vxgw::wire::tcp::flags::ACK;

const TCP: u8 = 6;

fn sa(ip: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(ip), port)
}

/// Lookups, inserts and sweeps of a 2M table.
fn timing() {
    let cap = 2usize << 20;
    let n = 1usize << 20;
    let t0 = Instant::now();
    let t = Conntrack::new(cap, Timeouts::default());
    let build = t0.elapsed();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mk = |r: u64, i: u32| Conn {
        proto: TCP,
        client: SocketAddrV4::new(Ipv4Addr::from((r >> 32) as u32), r as u16),
        published: sa([10, 0, 0, 4], 443),
        backend: SocketAddrV4::new(Ipv4Addr::from(0x0aff_0000 | (i % 200)), 8080),
        snat: Some(SocketAddrV4::new(
            Ipv4Addr::from(0x0aff_0002 + (i >> 16)),
            i as u16,
        )),
        service: i % 8,
        backend_id: i % 200,
        owner: 0,
    };
    let mut conns = Vec::with_capacity(cap);
    let t0 = Instant::now();
    while conns.len() < n {
        let c = mk(rng.next(), conns.len() as u32);
        if t.insert(&c, CtState::Established, 1).is_ok() {
            conns.push(c);
        }
    }
    let fill = t0.elapsed().as_nanos() as f64 / n as f64;
    let order: Vec<usize> = (0..1 << 22)
        .map(|_| (rng.next() % n as u64) as usize)
        .collect();
    let keys: Vec<FlowKey> = order.iter().map(|&i| conns[i].original_key()).collect();
    let rkeys: Vec<FlowKey> = order.iter().map(|&i| conns[i].reply_key()).collect();
    let per = |d: Duration| d.as_nanos() as f64 / order.len() as f64;
    let t0 = Instant::now();
    let mut hits = 0;
    for k in &keys {
        hits += black_box(t.lookup(black_box(k))).is_some() as usize;
    }
    let hit_ns = per(t0.elapsed());
    assert_eq!(hits, order.len());
    let mut out = vec![None; LOOKUP_BURST];
    let t0 = Instant::now();
    let mut hits = 0;
    for ks in keys.chunks(LOOKUP_BURST) {
        t.lookup_burst(black_box(ks), &mut out[..ks.len()]);
        hits += out.iter().filter(|h| h.is_some()).count();
    }
    let burst_ns = per(t0.elapsed());
    assert_eq!(hits, order.len());
    // References on this machine: std HashMap (SipHash) with the same flows, and
    // one independent random 8-byte load per key from an array of the table's size.
    let map: HashMap<FlowKey, u32> = conns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.original_key(), i as u32))
        .collect();
    let t0 = Instant::now();
    for k in &keys {
        black_box(map.get(black_box(k)));
    }
    let map_ns = per(t0.elapsed());
    drop(map);
    let big: Vec<u64> = vec![1; t.memory_bytes() / 8];
    let t0 = Instant::now();
    let mut acc = 0u64;
    for &i in &order {
        acc = acc.wrapping_add(big[(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7) % big.len()]);
    }
    black_box(acc);
    let load_ns = per(t0.elapsed());
    drop(big);
    let t0 = Instant::now();
    for k in &rkeys {
        black_box(t.lookup(black_box(k)));
    }
    let rhit_ns = per(t0.elapsed());
    let t0 = Instant::now();
    for k in &keys {
        if let Some(h) = t.lookup(k) {
            black_box(t.observe(&h, ACK, 1));
        }
    }
    let obs_ns = per(t0.elapsed());
    let misses: Vec<FlowKey> = (0..order.len())
        .map(|i| mk(rng.next(), i as u32).original_key())
        .collect();
    let t0 = Instant::now();
    for k in &misses {
        black_box(t.lookup(black_box(k)));
    }
    let miss_ns = per(t0.elapsed());
    // Same lookups in a small (cache-resident) table for comparison.
    let small = Conntrack::new(20_000, Timeouts::default());
    for c in &conns[..10_000] {
        small.insert(c, CtState::Established, 1).unwrap();
    }
    let skeys: Vec<FlowKey> = order
        .iter()
        .map(|&i| conns[i % 10_000].original_key())
        .collect();
    let t0 = Instant::now();
    for k in &skeys {
        black_box(small.lookup(black_box(k)));
    }
    let small_ns = per(t0.elapsed());
    // New connections with the table half full (1M of 2M), one thread.
    let extra = 200_000;
    let new: Vec<Conn> = (0..extra).map(|i| mk(rng.next(), (n + i) as u32)).collect();
    let t0 = Instant::now();
    let mut ok = 0;
    for c in &new {
        ok += t.insert(black_box(c), CtState::SynSent, 2).is_ok() as usize;
    }
    let ins = t0.elapsed();
    assert_eq!(ok, extra);
    // Steady state: remove one old, insert one new.
    let fresh: Vec<Conn> = (0..extra)
        .map(|i| mk(rng.next(), (n + extra + i) as u32))
        .collect();
    let t0 = Instant::now();
    for (i, c) in fresh.iter().enumerate() {
        t.remove_key(&conns[i].original_key()).unwrap();
        black_box(t.insert(c, CtState::SynSent, 2)).unwrap();
    }
    let churn = t0.elapsed();
    let t0 = Instant::now();
    let swept = t.sweep(3, |_| Timeouts::default(), |_| {});
    let sweep = t0.elapsed();
    assert_eq!(swept, 0);
    println!(
        "conntrack {n} flows, capacity {cap}, {:.0} MB ({:.1} B/conn), built in {:?}, filled at {fill:.0} ns/insert",
        t.memory_bytes() as f64 / 1e6,
        t.memory_bytes() as f64 / cap as f64,
        build
    );
    println!(
        "lookup hit original {hit_ns:.1} ns, reply {rhit_ns:.1} ns, miss {miss_ns:.1} ns, lookup+observe {obs_ns:.1} ns, lookup_burst {burst_ns:.1} ns/key; 10k-flow table hit {small_ns:.1} ns"
    );
    println!(
        "reference: std HashMap<FlowKey, u32> 1M get {map_ns:.1} ns; one random load from {} MB {load_ns:.1} ns",
        t.memory_bytes() >> 20
    );
    println!(
        "insert at 50% full: {:.0} ns = {:.2} M conn/s; remove+insert churn {:.0} ns/pair; full sweep of {cap} entries {:?}",
        ins.as_nanos() as f64 / extra as f64,
        extra as f64 / ins.as_secs_f64() / 1e6,
        churn.as_nanos() as f64 / extra as f64,
        sweep
    );
}

/// The load at which the first window fills: tables with more entries than their
/// key slots can index (so the key slots run out first), filled with random keys.
/// Every connection is assured by a reply as it is inserted: eviction never takes
/// one, so the first `Full` is the first key whose two buckets are both full.
fn fill() {
    for &slots in &[3000usize, 300_000, 3 << 20] {
        for seed in 0..3u64 {
            let buckets = slots / SLOTS_PER_BUCKET;
            let t = Conntrack::with_layout(slots, buckets, Timeouts::default(), seed, None);
            let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut n = 0usize;
            loop {
                let r = rng.next();
                let c = Conn {
                    proto: TCP,
                    client: SocketAddrV4::new(Ipv4Addr::from((r >> 32) as u32), r as u16),
                    published: sa([10, 0, 0, 4], 80),
                    backend: sa([10, 255, 0, 10], 8080),
                    snat: Some(SocketAddrV4::new(
                        Ipv4Addr::from(0x0aff_0002 + (n as u32 >> 16)),
                        n as u16,
                    )),
                    service: 0,
                    backend_id: 0,
                    owner: 0,
                };
                match t.insert(&c, CtState::Established, 1) {
                    Ok(_) => {
                        let reply = t.lookup(&c.reply_key()).expect("the reply key is tracked");
                        assert_eq!(t.observe(&reply, ACK, 1), CtState::Established);
                        n += 1;
                    }
                    Err(CtInsertError::Full) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            println!(
                "{} key slots, seed {seed}: first Full at {:.3} of the key slots (a table's capacity is 0.75)",
                t.key_slots(),
                2.0 * n as f64 / t.key_slots() as f64
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
        "timing" => timing(),
        "fill" => fill(),
        "" => {
            timing();
            fill();
        }
        other => {
            eprintln!("conntrack bench: unknown part {other:?} (timing, fill)");
            std::process::exit(2);
        }
    }
}
