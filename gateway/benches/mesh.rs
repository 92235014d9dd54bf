//! Routing-mesh cost without DPDK: new connections per second per core with the
//! connection table half full, and the established and reply paths over the same
//! table. Packets go through the pipeline as the worker runs it: copied into buffers
//! (as the NIC would have written them) 32 at a time, the burst warmed (its
//! conntrack lookups together, their misses overlapped), then the fast path or
//! `pipeline::ingress` decides each (conntrack, Maglev, SNAT port, NAT, MACs, FDB).
//!
//!   cargo bench -p vxgw --bench mesh        (VXGW_BENCH_FLOWS, default 1000000)
//!
//! Setup: a 4 x FLOWS connection table, first filled with 1.5 x FLOWS established
//! connections (37.5 %); then FLOWS new SYNs (the table half full on average) (distinct client 5-tuples, four
//! published ports, eight backends each, SNAT) are timed; then the same flows'
//! next segments (established lookups + NAT); then the backends' replies (VXLAN,
//! decap + reverse lookup + un-NAT).

#[path = "common/buf.rs"]
mod buf;
#[path = "common/frames.rs"]
mod frames;
use frames::{ipv4, tcp};

use std::cell::RefCell;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use buf::Buf;
use vxgw::control::config::Config;
use vxgw::pipeline::fast_path::{self, FastPort};
use vxgw::pipeline::EncapCache;
use vxgw::pipeline::{
    ingress, warm_burst, Admission, BackendCounters, Ctx, Decision, LearnCache, MeshCache,
    MeshTables, PacketBuf, PipelineCounters,
};
use vxgw::tables::conntrack::{Conn, Conntrack, CtState, Timeouts};
use vxgw::tables::fdb::{Fdb, FdbDest};
use vxgw::tables::fdb_cache::FdbCache;
use vxgw::tables::neighbours::Neighbours;
use vxgw::tables::overlay_neighbours::OverlayNeighbours;
use vxgw::tables::snapshot::{ResolvedPort, Snapshot, ENCAP_LEN};
use vxgw::tables::snat_source::SnatSource;
use vxgw::wire::MacAddr;

const UL_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x00];
const EXT_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x01];
const SERVICES: u32 = 4;
/// Frames per burst, as the worker receives them.
const BURST: usize = 32;

/// Runs `frames` received on `port` through the pipeline as the worker does: in
/// bursts, each warmed first, then the fast path or `ingress` per frame. `each` gets
/// every decision (`None`: the fast path sent it) and the buffer after it.
fn run_bursts(
    ctx: &Ctx,
    cache: &MeshCache,
    port: u16,
    frames: &[Vec<u8>],
    bufs: &mut [Buf],
    mut each: impl FnMut(Option<Decision>, &Buf),
) {
    let fast = FastPort::of(ctx.snap, port);
    for chunk in frames.chunks(BURST) {
        let bufs = &mut bufs[..chunk.len()];
        for (b, f) in bufs.iter_mut().zip(chunk) {
            b.load(f);
        }
        ctx.learn_cache.sync(ctx.fdb.changes(), ctx.snap.generation);
        warm_burst(ctx, port, bufs.iter().map(|b| b.data()));
        for (i, b) in bufs.iter_mut().enumerate() {
            cache.set_current(i);
            if fast_path::forward(ctx, fast, port, b).is_some() {
                each(None, b);
                continue;
            }
            let d = ingress(ctx, port, b);
            each(Some(d), b);
        }
    }
}
const BACKENDS: u32 = 8;

fn backend_ip(s: u32, b: u32) -> [u8; 4] {
    [10, 255, 1, (1 + s * BACKENDS + b) as u8]
}

fn backend_mac(s: u32, b: u32) -> [u8; 6] {
    let ip = backend_ip(s, b);
    [0x02, 0x42, ip[0], ip[1], ip[2], ip[3]]
}

fn config() -> String {
    let mut c = String::from(
        r#"
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"
external_gateway = "192.0.2.254"
conntrack_capacity = 1024
[[port]]
name = "ul"
roles = ["underlay"]
[[port]]
name = "ext"
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

fn client(i: u32) -> ([u8; 4], u16) {
    let ip = [198, 18 + (i >> 16 & 1) as u8, (i >> 8) as u8, i as u8];
    (ip, (1024 + (i >> 17) * 7 + i % 7) as u16)
}

fn client_frame(i: u32, flags: u8) -> Vec<u8> {
    let (cip, cport) = client(i);
    let mut f = EXT_MAC.to_vec();
    f.extend_from_slice(&[0x02, 0xc0, 0, 0, 2, 0xfe, 0x08, 0x00]);
    f.extend_from_slice(&ipv4(
        cip,
        [192, 0, 2, 1],
        6,
        &tcp(cport, 8000 + (i % SERVICES) as u16, flags),
    ));
    f.resize(60, 0);
    f
}

/// The backend's reply to what vxgw sent it, as VXLAN from the backend's node.
fn reply_frame(sent: &[u8]) -> Vec<u8> {
    let ip = &sent[14..];
    let (src, dst) = (
        [ip[12], ip[13], ip[14], ip[15]],
        [ip[16], ip[17], ip[18], ip[19]],
    );
    let (sport, dport) = (
        u16::from_be_bytes([ip[20], ip[21]]),
        u16::from_be_bytes([ip[22], ip[23]]),
    );
    let mut inner = UL_MAC.to_vec();
    inner.extend_from_slice(&sent[0..6]);
    inner.extend_from_slice(&[0x08, 0x00]);
    inner.extend_from_slice(&ipv4(dst, src, 6, &tcp(dport, sport, 0x10)));
    inner.resize(60, 0);
    let mut vx = vec![0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0x00];
    vx.extend_from_slice(&inner);
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

fn main() {
    let flows: u32 = std::env::var("VXGW_BENCH_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let cfg = Config::parse(&config()).unwrap();
    let snap = Snapshot::build(
        &cfg,
        &|n| match n {
            "ul" => Some(ResolvedPort {
                id: 0,
                mac: MacAddr(UL_MAC),
                mtu: 1500,
            }),
            "ext" => Some(ResolvedPort {
                id: 1,
                mac: MacAddr(EXT_MAC),
                mtu: 1500,
            }),
            _ => None,
        },
        1,
    )
    .unwrap();
    let fdb = Fdb::new(1024, 16);
    let neigh = Neighbours::new(64);
    let overlay = OverlayNeighbours::new(256);
    let vtep = Ipv4Addr::new(172, 30, 0, 11);
    neigh.learn(vtep, MacAddr([2, 0, 0, 0, 0x11, 0x11]), 0);
    neigh.learn(
        Ipv4Addr::new(192, 0, 2, 254),
        MacAddr([2, 0xc0, 0, 0, 2, 0xfe]),
        0,
    );
    for s in 0..SERVICES {
        for b in 0..BACKENDS {
            overlay.learn(
                4096,
                Ipv4Addr::from(backend_ip(s, b)),
                MacAddr(backend_mac(s, b)),
                0,
            );
            fdb.add_static(4096, MacAddr(backend_mac(s, b)), FdbDest::Vtep(vtep))
                .unwrap();
        }
    }
    let ct = Conntrack::new(4 * flows as usize, Timeouts::default());
    // 1.5 x FLOWS established connections of other clients.
    let t = Instant::now();
    for i in 0..flows + flows / 2 {
        let c = Conn {
            proto: 6,
            client: SocketAddrV4::new(
                Ipv4Addr::new(100, 64 + (i >> 16) as u8, (i >> 8) as u8, i as u8),
                40000,
            ),
            published: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 8000),
            backend: SocketAddrV4::new(Ipv4Addr::from(backend_ip(0, i % BACKENDS)), 80),
            snat: None,
            service: 0,
            backend_id: 0,
            owner: 0,
        };
        ct.insert(&c, CtState::Established, 1).unwrap();
    }
    println!(
        "# mesh bench: {} connections pre-inserted in a {}-connection table in {:.2?}",
        ct.len(),
        4 * flows,
        t.elapsed()
    );
    let snat = RefCell::new(SnatSource::for_workers(1024, 65535, 1).unwrap().remove(0));
    let backends = BackendCounters::default();
    let mesh_cache = MeshCache::default();
    let admission = Admission::new(1);
    let counters = PipelineCounters::default();
    let cache = LearnCache::default();
    let fdb_cache = FdbCache::default();
    let encap_cache = EncapCache::default();
    let ctx = Ctx {
        snap: &snap,
        fdb: &fdb,
        neigh: &neigh,
        now: 2,
        counters: &counters,
        learn_cache: &cache,
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
    let order: Vec<u32> = (0..flows)
        .map(|k| ((k as u64 * 7919 + 13) % flows as u64) as u32)
        .collect();
    let syns: Vec<Vec<u8>> = order.iter().map(|&i| client_frame(i, 0x02)).collect();
    let mut bufs: Vec<Buf> = (0..BURST).map(|_| Buf::new()).collect();
    let mut replies = Vec::with_capacity(flows as usize);
    let mut ok = 0u64;
    let t = Instant::now();
    let mut other = None;
    run_bursts(&ctx, &mesh_cache, 1, &syns, &mut bufs, |d, _| {
        if matches!(d, Some(Decision::Forward { .. })) {
            ok += 1;
        } else {
            other = d;
        }
        black_box(&d);
    });
    if let Some(d) = other {
        println!("# not forwarded, e.g.: {d:?}");
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "RESULT mesh-new table={} occupancy={:.1}%..{:.1}% new_conns={ok} conns_per_s={:.0} ns_per_conn={:.0}",
        4 * flows,
        150.0 / 4.0,
        ct.len() as f64 * 100.0 / (4.0 * flows as f64),
        ok as f64 / el,
        el * 1e9 / flows as f64
    );
    drop(syns);
    for r in vxgw::pipeline::DropReason::ALL {
        if counters.drops(r) > 0 {
            println!("# drops {}: {}", r.name(), counters.drops(r));
        }
    }
    let acks: Vec<Vec<u8>> = order.iter().map(|&i| client_frame(i, 0x10)).collect();
    let (mut ok, t) = (0u64, Instant::now());
    // `None`: the fast path translated and encapsulated it (see `run_bursts`).
    let mut fast = 0u64;
    run_bursts(&ctx, &mesh_cache, 1, &acks, &mut bufs, |d, _| {
        if matches!(d, None | Some(Decision::Forward { .. })) {
            ok += 1;
        }
        fast += d.is_none() as u64;
        black_box(&d);
    });
    let el = t.elapsed().as_secs_f64();
    println!(
        "RESULT mesh-established tracked={} forwarded={ok} fast_path={fast} mpps={:.2} ns_per_pkt={:.0}",
        ct.len(),
        ok as f64 / el / 1e6,
        el * 1e9 / flows as f64
    );
    // The fast path's frames are encapsulated already; the general path's are not.
    run_bursts(&ctx, &mesh_cache, 1, &acks, &mut bufs, |d, b| {
        let inner = if d.is_none() { ENCAP_LEN } else { 0 };
        replies.push(reply_frame(&black_box(b).data()[inner..]))
    });
    let (mut ok, t) = (0u64, Instant::now());
    let mut fast = 0u64;
    run_bursts(&ctx, &mesh_cache, 0, &replies, &mut bufs, |d, _| {
        if matches!(d, None | Some(Decision::Route { .. })) {
            ok += 1;
        }
        fast += d.is_none() as u64;
        black_box(&d);
    });
    let el = t.elapsed().as_secs_f64();
    println!(
        "RESULT mesh-reply tracked={} routed={ok} fast_path={fast} mpps={:.2} ns_per_pkt={:.0}",
        ct.len(),
        ok as f64 / el / 1e6,
        el * 1e9 / flows as f64
    );
}
