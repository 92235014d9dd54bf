//! The four established paths, counted exactly: the pipeline as the worker runs it
//! (bursts of 32 in mbuf-like buffers, warmed, the fast path or `ingress` + egress per
//! frame), on fixed inputs, fixed hash seeds and a fixed clock, so that the same
//! build executes the same instructions every run. `perf/instructions.sh --gate`
//! runs it under `valgrind --tool=callgrind --toggle-collect='*counted_burst*'` and
//! compares instructions per packet with `perf/instructions.baseline`.
//!
//!   cargo bench -p vxgw --bench paths -- PATH      (PATH: encap, decap, fwd, rev)
//!
//! - `encap`: frames from an access port to 1,000 MACs behind a VTEP (VXLAN out);
//! - `decap`: VXLAN from that VTEP to 1,000 MACs on the access port;
//! - `fwd`: data segments of 10,000 assured routing-mesh connections (SNAT, four
//!   published ports, eight backends each), translated and encapsulated;
//! - `rev`: the backends' replies over VXLAN, decapsulated and un-translated.
//!
//! Setup and warm-up (learning, connection set-up, the first replies that make the
//! connections assured, the caches' first misses) run outside the counted function;
//! then every frame of the path goes through it [`PASSES`] times. Without DPDK: the
//! figure is the pipeline's share of perf/instructions.sh's (no PMD rx/tx).

#[path = "common/buf.rs"]
mod buf;
#[path = "common/frames.rs"]
mod frames;
use frames::{ipv4, tcp};

use std::cell::RefCell;
use std::hint::black_box;
use std::net::Ipv4Addr;

use buf::Buf;
use vxgw::control::config::Config;
use vxgw::pipeline::egress::{self, EncapResult};
use vxgw::pipeline::fast_path::{self, forward_in, FastPort};
use vxgw::pipeline::{
    ingress, inner_flow_hash, warm_burst, Admission, BackendCounters, Ctx, Decision, EncapCache,
    LearnCache, MeshCache, MeshTables, PacketBuf, PipelineCounters, Target,
};
use vxgw::tables::conntrack::{Conntrack, Timeouts};
use vxgw::tables::fdb::{Fdb, FdbDest};
use vxgw::tables::fdb_cache::FdbCache;
use vxgw::tables::neighbours::Neighbours;
use vxgw::tables::overlay_neighbours::OverlayNeighbours;
use vxgw::tables::snapshot::{ResolvedPort, Snapshot, ENCAP_LEN};
use vxgw::tables::snat_source::SnatSource;
use vxgw::wire::MacAddr;

const BURST: usize = 32;
/// Counted passes over each path's frames.
const PASSES: usize = 8;
const MACS: u32 = 1000;
const FLOWS: u32 = 10_000;
const SERVICES: u32 = 4;
const BACKENDS: u32 = 8;
const NOW: u32 = 100;
const FDB_SEED: u64 = 0x7678_6777_6664_6231;
const CT_SEED: u64 = 0x7678_6777_6374_3031;
const SNAT_KEY: [u8; 16] = *b"vxgw-gate-snat-k";

const UL: u16 = 0;
const OTHER: u16 = 1;
const UL_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x00];
const OTHER_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x11, 0x11];
const VTEP: [u8; 4] = [172, 30, 0, 11];

const OVERLAY: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = 4096
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
learn_limit = 4096
"#;

fn mesh_config() -> String {
    let mut c = String::from(
        r#"
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"
external_gateway = "192.0.2.254"
conntrack_capacity = 40000
[[port]]
name = "ul"
roles = ["underlay"]
[[port]]
name = "acc"
roles = ["external"]
[[vtep]]
ip = "172.30.0.11"
[[vni]]
id = 4096
flood = ["172.30.0.11"]
gateway_ip = "10.255.0.1"
"#,
    );
    for s in 0..SERVICES {
        let bes: Vec<String> = (0..BACKENDS)
            .map(|b| format!("{{ ip = \"{}\" }}", Ipv4Addr::from(backend_ip(s, b))))
            .collect();
        c += &format!(
            "[[service]]\nname = \"svc{s}\"\nprotocol = \"tcp\"\npublished_ip = \"192.0.2.1\"\n\
             published_port = {}\ntarget_port = 80\nvni = 4096\ningress_ip = \"10.255.0.2\"\n\
             backends = [{}]\n",
            8000 + s,
            bes.join(", ")
        );
    }
    c
}

fn mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x02, 0x10, b[0], b[1], b[2], b[3]]
}

fn backend_ip(s: u32, b: u32) -> [u8; 4] {
    [10, 255, 1, (1 + s * BACKENDS + b) as u8]
}

fn backend_mac(s: u32, b: u32) -> [u8; 6] {
    let ip = backend_ip(s, b);
    [0x02, 0x42, ip[0], ip[1], ip[2], ip[3]]
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(payload);
    u
}

/// `inner` as VXLAN (VNI 4096) from the VTEP to vxgw.
fn vxlan(inner: &[u8]) -> Vec<u8> {
    let mut vx = vec![0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0x00];
    vx.extend_from_slice(inner);
    let mut f = UL_MAC.to_vec();
    f.extend_from_slice(&PEER_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ipv4(VTEP, [172, 30, 0, 1], 17, &udp(49152, 4789, &vx)));
    f
}

/// A 64-byte UDP frame of the overlay to MAC `i`.
fn overlay_frame(i: u32) -> Vec<u8> {
    let mut f = mac(i).to_vec();
    f.extend_from_slice(&[0x02, 0x20, 0, 0, 0, 1, 0x08, 0x00]);
    let payload = [0u8; 18];
    let l4 = udp((1000 + i % 50000) as u16, 80, &payload);
    f.extend_from_slice(&ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, &l4));
    f
}

fn client_frame(i: u32, flags: u8) -> Vec<u8> {
    let ip = [198, 18 + (i >> 16 & 1) as u8, (i >> 8) as u8, i as u8];
    let port = (1024 + (i >> 17) * 7 + i % 7) as u16;
    let mut f = OTHER_MAC.to_vec();
    f.extend_from_slice(&[0x02, 0xc0, 0, 0, 2, 0xfe, 0x08, 0x00]);
    let l4 = tcp(port, 8000 + (i % SERVICES) as u16, flags);
    f.extend_from_slice(&ipv4(ip, [192, 0, 2, 1], 6, &l4));
    f.resize(60, 0);
    f
}

/// The backend's reply to the (inner) frame vxgw sent it, as VXLAN from its node.
fn reply_frame(sent: &[u8]) -> Vec<u8> {
    let ip = &sent[14..];
    let (src, dst) = (
        [ip[12], ip[13], ip[14], ip[15]],
        [ip[16], ip[17], ip[18], ip[19]],
    );
    let sport = u16::from_be_bytes([ip[20], ip[21]]);
    let dport = u16::from_be_bytes([ip[22], ip[23]]);
    let mut inner = UL_MAC.to_vec();
    inner.extend_from_slice(&sent[0..6]);
    inner.extend_from_slice(&[0x08, 0x00]);
    inner.extend_from_slice(&ipv4(dst, src, 6, &tcp(dport, sport, 0x10)));
    inner.resize(60, 0);
    vxlan(&inner)
}

/// Sent by the fast path (`None`) or what the general path decided, per frame.
type Outcome = Option<Decision>;

/// One loaded burst received on `port` through the pipeline as `Worker::run` and
/// `Worker::drain` take it: warmed, then each frame by the fast path (with the FDB
/// asked the way the worker decides per burst) or else `ingress` and the egress the
/// decision asks for.
#[inline(always)]
fn process_burst(ctx: &Ctx, port: u16, bufs: &mut [Buf], out: &mut Vec<Outcome>) {
    ctx.learn_cache.sync(ctx.fdb.changes(), ctx.snap.generation);
    warm_burst(ctx, port, bufs.iter().map(PacketBuf::data));
    let fast = FastPort::of(ctx.snap, port);
    let cached = ctx.fdb_in_cache();
    for (i, b) in bufs.iter_mut().enumerate() {
        let sent = if cached {
            forward_in::<true, _>(ctx, fast, port, i, b)
        } else {
            forward_in::<false, _>(ctx, fast, port, i, b)
        };
        if sent.is_some() {
            out.push(None);
            continue;
        }
        fast_path::mark_current(ctx, i);
        let d = ingress(ctx, port, b);
        match d {
            Decision::Forward {
                vni,
                to: Target::Access { port, vlan },
            } => {
                black_box(egress::to_access(ctx, b, vni, port, vlan).is_ok());
            }
            Decision::Forward {
                vni,
                to: Target::Vtep(v),
            } => {
                let h = inner_flow_hash(b.data());
                black_box(matches!(
                    egress::to_vtep(ctx, b, ctx.snap.vnis[vni as usize].vni, v, h),
                    EncapResult::Ready { .. }
                ));
            }
            _ => {}
        }
        out.push(Some(d));
    }
}

/// [`process_burst`], the only code callgrind counts (`--toggle-collect`).
#[inline(never)]
fn counted_burst(ctx: &Ctx, port: u16, bufs: &mut [Buf], out: &mut Vec<Outcome>) {
    process_burst(ctx, port, bufs, out)
}

/// Every frame through the pipeline once, in bursts; `each` sees each outcome and
/// the buffer after it. `counted` runs the bursts through [`counted_burst`].
fn run(
    ctx: &Ctx,
    port: u16,
    frames: &[Vec<u8>],
    counted: bool,
    mut each: impl FnMut(&Outcome, &Buf),
) {
    let mut bufs: Vec<Buf> = (0..BURST).map(|_| Buf::new()).collect();
    let mut out = Vec::with_capacity(BURST);
    for chunk in frames.chunks(BURST) {
        let bufs = &mut bufs[..chunk.len()];
        for (b, f) in bufs.iter_mut().zip(chunk) {
            b.load(f);
        }
        out.clear();
        if counted {
            counted_burst(ctx, port, bufs, &mut out);
        } else {
            process_burst(ctx, port, bufs, &mut out);
        }
        for (o, b) in out.iter().zip(bufs.iter()) {
            each(o, b);
        }
    }
}

fn resolved(ports: [&'static str; 2]) -> impl Fn(&str) -> Option<ResolvedPort> {
    move |n| {
        let (id, mac) = match n {
            n if n == ports[0] => (UL, UL_MAC),
            n if n == ports[1] => (OTHER, OTHER_MAC),
            _ => return None,
        };
        Some(ResolvedPort {
            id,
            mac: MacAddr(mac),
            mtu: 1500,
        })
    }
}

/// Runs `frames` on `port` [`PASSES`] times counted, after one pass not counted, and
/// checks that every frame was forwarded the way `forwarded` says.
fn measure(ctx: &Ctx, port: u16, frames: &[Vec<u8>], forwarded: impl Fn(&Outcome) -> bool) {
    run(ctx, port, frames, false, |_, _| {});
    let (mut fast, mut not) = (0u64, None);
    for _ in 0..PASSES {
        run(ctx, port, frames, true, |o, _| {
            fast += o.is_none() as u64;
            if !forwarded(o) {
                not = Some(*o);
            }
        });
    }
    let packets = (PASSES * frames.len()) as u64;
    // The gate divides the counted instructions by this line's packets.
    println!("packets={packets} fast_path={fast}");
    if let Some(o) = not {
        panic!("a frame was not forwarded: {o:?}");
    }
}

fn overlay(path: &str) {
    let cfg = Config::parse(OVERLAY).unwrap();
    let snap = Snapshot::build(&cfg, &resolved(["ul", "acc"]), 1).unwrap();
    let fdb = Fdb::with_seed(4096, 16, FDB_SEED);
    let dest = if path == "decap" {
        FdbDest::Access {
            port: OTHER,
            vlan: 0,
        }
    } else {
        FdbDest::Vtep(Ipv4Addr::from(VTEP))
    };
    for i in 0..MACS {
        fdb.add_static(4096, MacAddr(mac(i)), dest).unwrap();
    }
    let neigh = Neighbours::new(64);
    neigh.learn(Ipv4Addr::from(VTEP), MacAddr(PEER_MAC), 0);
    let (counters, learn_cache) = (PipelineCounters::default(), LearnCache::default());
    let (fdb_cache, encap_cache) = (FdbCache::default(), EncapCache::default());
    let ctx = Ctx {
        snap: &snap,
        fdb: &fdb,
        neigh: &neigh,
        now: NOW,
        counters: &counters,
        learn_cache: &learn_cache,
        fdb_cache: &fdb_cache,
        encap_cache: &encap_cache,
        encap_epoch: encap_cache.sync(fdb.changes(), snap.generation, neigh.changes()),
        burst: Default::default(),
        trace: None,
        mesh: None,
    };
    // Scattered destinations, as perf/overlay.sh sends them.
    let order = (0..MACS).map(|k| (k * 7919) % MACS);
    let (port, frames): (u16, Vec<Vec<u8>>) = if path == "decap" {
        (UL, order.map(|i| vxlan(&overlay_frame(i))).collect())
    } else {
        (OTHER, order.map(overlay_frame).collect())
    };
    measure(&ctx, port, &frames, |o| {
        matches!(o, None | Some(Decision::Forward { .. }))
    });
}

fn mesh(path: &str) {
    let cfg = Config::parse(&mesh_config()).unwrap();
    let snap = Snapshot::build(&cfg, &resolved(["ul", "acc"]), 1).unwrap();
    let fdb = Fdb::with_seed(1024, 16, FDB_SEED);
    let neigh = Neighbours::new(64);
    let overlay = OverlayNeighbours::new(256);
    neigh.learn(Ipv4Addr::from(VTEP), MacAddr(PEER_MAC), 0);
    neigh.learn(
        Ipv4Addr::new(192, 0, 2, 254),
        MacAddr([2, 0xc0, 0, 0, 2, 0xfe]),
        0,
    );
    for s in 0..SERVICES {
        for b in 0..BACKENDS {
            let (ip, mac) = (backend_ip(s, b), MacAddr(backend_mac(s, b)));
            overlay.learn(4096, Ipv4Addr::from(ip), mac, 0);
            fdb.add_static(4096, mac, FdbDest::Vtep(Ipv4Addr::from(VTEP)))
                .unwrap();
        }
    }
    let ct = Conntrack::with_seed(4 * FLOWS as usize, Timeouts::default(), CT_SEED);
    let snat = SnatSource::for_workers_keyed(1024, 65535, 1, SNAT_KEY).unwrap();
    let snat = RefCell::new(snat.into_iter().next().unwrap());
    let (backends, mesh_cache) = (BackendCounters::default(), MeshCache::default());
    let admission = Admission::new(1);
    let (counters, learn_cache) = (PipelineCounters::default(), LearnCache::default());
    let (fdb_cache, encap_cache) = (FdbCache::default(), EncapCache::default());
    let ctx = Ctx {
        snap: &snap,
        fdb: &fdb,
        neigh: &neigh,
        now: NOW,
        counters: &counters,
        learn_cache: &learn_cache,
        fdb_cache: &fdb_cache,
        encap_cache: &encap_cache,
        encap_epoch: encap_cache.sync(fdb.changes(), snap.generation, neigh.changes()),
        burst: Default::default(),
        trace: None,
        mesh: Some(MeshTables {
            conntrack: &ct,
            overlay_neigh: &overlay,
            snat: &snat,
            backends: &backends,
            cache: &mesh_cache,
            admission: &admission,
        }),
    };
    let order: Vec<u32> = (0..FLOWS)
        .map(|k| ((k as u64 * 7919 + 13) % FLOWS as u64) as u32)
        .collect();
    // Handshake and first data segments, then the backends' first replies (which
    // make the connections assured): set-up, not counted.
    let syns: Vec<Vec<u8>> = order.iter().map(|&i| client_frame(i, 0x02)).collect();
    run(&ctx, OTHER, &syns, false, |_, _| {});
    let acks: Vec<Vec<u8>> = order.iter().map(|&i| client_frame(i, 0x10)).collect();
    let mut replies = Vec::with_capacity(FLOWS as usize);
    run(&ctx, OTHER, &acks, false, |o, b| {
        // The fast path's frames are encapsulated already; the general path's not.
        let inner = if o.is_none() { ENCAP_LEN } else { 0 };
        replies.push(reply_frame(&b.data()[inner..]));
    });
    assert_eq!(replies.len(), FLOWS as usize);
    run(&ctx, UL, &replies, false, |_, _| {});
    if path == "fwd" {
        measure(&ctx, OTHER, &acks, |o| {
            matches!(o, None | Some(Decision::Forward { .. }))
        });
    } else {
        measure(&ctx, UL, &replies, |o| {
            matches!(o, None | Some(Decision::Route { .. }))
        });
    }
}

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    match path.as_str() {
        "encap" | "decap" => overlay(&path),
        "fwd" | "rev" => mesh(&path),
        _ => {
            eprintln!("usage: paths encap|decap|fwd|rev");
            std::process::exit(2);
        }
    }
}
