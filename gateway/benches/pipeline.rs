//! Pipeline cost without DPDK: ns per packet of the fast path, else
//! `pipeline::ingress` (+ egress), as the worker runs them, on
//! byte buffers, per path and FDB size. Diagnostic: it tells where the cycles of the
//! perf/overlay.sh figures go (that script's numbers are the ones that count).
//!
//!   cargo bench -p vxgw --bench pipeline
//!
//! Each case replays a fixed set of frames (scattered destination MACs) through a
//! reusable buffer: a copy of the frame (as the NIC would have written it), ingress,
//! and the egress the decision asks for.

use std::hint::black_box;
use std::time::Instant;

use vxgw::control::config::Config;
use vxgw::pipeline::egress::{self, EncapResult};
use vxgw::pipeline::fast_path::{self, FastPort};
use vxgw::pipeline::EncapCache;
use vxgw::pipeline::{
    ingress, inner_flow_hash, Ctx, Decision, LearnCache, PacketBuf, PipelineCounters, Target,
};
use vxgw::tables::fdb::{Fdb, FdbDest};
use vxgw::tables::fdb_cache::FdbCache;
use vxgw::tables::neighbours::Neighbours;
use vxgw::tables::snapshot::{ResolvedPort, Snapshot};
use vxgw::wire::MacAddr;

#[path = "common/buf.rs"]
mod buf;
#[path = "common/frames.rs"]
mod frames;
use buf::Buf;
use frames::ipv4;

const UL_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x00];

fn mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x02, 0x10, b[0], b[1], b[2], b[3]]
}

fn inner(i: u32) -> Vec<u8> {
    let mut udp = vec![0u8; 26];
    udp[0..2].copy_from_slice(&((1000 + i % 50000) as u16).to_be_bytes());
    udp[2..4].copy_from_slice(&80u16.to_be_bytes());
    udp[4..6].copy_from_slice(&26u16.to_be_bytes());
    let mut f = mac(i).to_vec();
    f.extend_from_slice(&[0x02, 0x20, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(&ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, &udp));
    f
}

fn vxlan(i: u32) -> Vec<u8> {
    let mut vx = vec![0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0x00];
    vx.extend_from_slice(&inner(i));
    let mut udp = vec![0u8; 8];
    udp[0..2].copy_from_slice(&49152u16.to_be_bytes());
    udp[2..4].copy_from_slice(&4789u16.to_be_bytes());
    udp[4..6].copy_from_slice(&((8 + vx.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&vx);
    let mut f = UL_MAC.to_vec();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0x11, 0x11, 0x08, 0x00]);
    f.extend_from_slice(&ipv4([172, 30, 0, 11], [172, 30, 0, 1], 17, &udp));
    f
}

const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = 400000
[[port]]
name = "ul"
roles = ["underlay"]
[[port]]
name = "acc"
roles = ["access"]
[[vtep]]
ip = "172.30.0.11"
[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{ port = "acc", vlan = 0 }]
learn_limit = 400000
"#;

fn run(mode: &str, macs: u32) {
    let cfg = Config::parse(CONFIG).unwrap();
    let snap = Snapshot::build(
        &cfg,
        &|n| match n {
            "ul" => Some(ResolvedPort {
                id: 0,
                mac: MacAddr(UL_MAC),
                mtu: 1500,
            }),
            "acc" => Some(ResolvedPort {
                id: 1,
                mac: MacAddr([2, 0, 0, 0, 0, 2]),
                mtu: 1500,
            }),
            _ => None,
        },
        1,
    )
    .unwrap();
    let fdb = Fdb::new(400_000, 16);
    let dest = if mode == "decap" {
        FdbDest::Access { port: 1, vlan: 0 }
    } else {
        FdbDest::Vtep("172.30.0.11".parse().unwrap())
    };
    for i in 0..macs {
        fdb.add_static(4096, MacAddr(mac(i)), dest).unwrap();
    }
    let neigh = Neighbours::new(64);
    neigh.learn(
        "172.30.0.11".parse().unwrap(),
        MacAddr([2, 0, 0, 0, 0x11, 0x11]),
        0,
    );
    let counters = PipelineCounters::default();
    let cache = LearnCache::default();
    let fdb_cache = FdbCache::default();
    let encap_cache = EncapCache::default();
    let ctx = Ctx {
        snap: &snap,
        fdb: &fdb,
        neigh: &neigh,
        now: 1,
        counters: &counters,
        learn_cache: &cache,
        fdb_cache: &fdb_cache,
        encap_cache: &encap_cache,
        encap_epoch: encap_cache.sync(fdb.changes(), snap.generation, neigh.changes()),
        burst: Default::default(),
        trace: None,
        mesh: None,
    };
    let frames: Vec<Vec<u8>> = (0..macs.min(100_000))
        .map(|k| (k * 7919) % macs.min(100_000))
        .map(|i| if mode == "decap" { vxlan(i) } else { inner(i) })
        .collect();
    let port = if mode == "decap" { 0 } else { 1 };
    let mut buf = Buf::new();
    let n: u64 = std::env::var("VXGW_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let mut ok = 0u64;
    let copy_only = {
        let t = Instant::now();
        for k in 0..n as usize {
            buf.load(&frames[k % frames.len()]);
            black_box(&buf);
        }
        t.elapsed().as_nanos() as f64 / n as f64
    };
    let fast = FastPort::of(&snap, port);
    let t = Instant::now();
    for k in 0..n as usize {
        buf.load(&frames[k % frames.len()]);
        if fast_path::forward(&ctx, fast, port, &mut buf).is_some() {
            ok += 1;
            black_box(&buf);
            continue;
        }
        match ingress(&ctx, port, &mut buf) {
            Decision::Forward {
                vni,
                to: Target::Access { port, vlan },
            } => {
                ok += egress::to_access(&ctx, &mut buf, vni, port, vlan).is_ok() as u64;
            }
            Decision::Forward {
                to: Target::Vtep(i),
                ..
            } => {
                let h = inner_flow_hash(buf.data());
                ok += matches!(
                    egress::to_vtep(&ctx, &mut buf, 4096, i, h),
                    EncapResult::Ready { .. }
                ) as u64;
            }
            d => panic!("unexpected {d:?}"),
        }
        black_box(&buf);
    }
    let ns = t.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(ok, n);
    println!(
        "{mode:<6} macs={macs:<7} {:.1} ns/packet ({:.1} ns of it copying the frame in) = {:.1} Mpps/core",
        ns,
        copy_only,
        1e3 / ns
    );
}

fn main() {
    // Optional filters: `-- decap 1000` runs one case.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for mode in ["decap", "encap"] {
        for macs in [1, 1000, 100_000] {
            if args.first().is_some_and(|m| m != mode)
                || args.get(1).is_some_and(|n| *n != macs.to_string())
            {
                continue;
            }
            run(mode, macs);
        }
    }
}
