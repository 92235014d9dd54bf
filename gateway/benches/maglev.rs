//! Maglev timing: building a table of the default size over 100 backends, and the
//! per-flow cost of the flow hash and the lookup (each alone and together).
//!
//!   cargo bench -p vxgw --bench maglev

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use vxgw::tables::flow_hash::{BackendKey, FlowKey, FlowSeed};
use vxgw::tables::maglev::{Backend, MaglevTable, DEFAULT_TABLE_SIZE};

const M: u32 = DEFAULT_TABLE_SIZE;

fn equal(n: u32) -> Vec<Backend> {
    (0..n)
        .map(|i| Backend {
            id: i,
            key: BackendKey::new(Ipv4Addr::new(10, 255, (i >> 8) as u8, i as u8), 80),
            weight: 1,
        })
        .collect()
}

fn flow(i: u32) -> FlowKey {
    FlowKey {
        proto: 6,
        src: Ipv4Addr::from(i),
        dst: Ipv4Addr::new(10, 0, 0, 4),
        src_port: i as u16,
        dst_port: 80,
    }
}

fn main() {
    let b = equal(100);
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        let t = MaglevTable::build(&b, M).unwrap();
        times.push(start.elapsed());
        assert!(!t.is_empty());
    }
    times.sort();
    println!(
        "build M={M}, 100 backends: min {:?} median {:?} max {:?}",
        times[0], times[10], times[20]
    );
    let t = MaglevTable::build(&b, M).unwrap();
    let seed = FlowSeed::DEFAULT;
    let n = 10_000_000u32;
    let start = Instant::now();
    let mut acc = 0u64;
    for i in 0..n {
        acc += u64::from(t.lookup(seed.hash_flow(&black_box(flow(i)))).unwrap());
    }
    println!(
        "flow hash + lookup: {:?} per flow (checksum {acc})",
        start.elapsed() / n
    );
    let start = Instant::now();
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..n {
        h = h.wrapping_mul(0x5851_f42d_4c95_7f2d).wrapping_add(1);
        acc += u64::from(t.lookup(h).unwrap());
    }
    println!(
        "lookup alone: {:?} per flow (checksum {acc})",
        start.elapsed() / n
    );
    let start = Instant::now();
    for i in 0..n {
        acc ^= seed.hash_flow(&black_box(flow(i)));
    }
    println!(
        "flow hash alone: {:?} per flow (checksum {acc})",
        start.elapsed() / n
    );
}
