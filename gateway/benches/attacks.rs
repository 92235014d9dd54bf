//! Attacks as benchmarks: the routing mesh's established traffic beside a flood,
//! over the same traffic alone, on one core, without DPDK (the pipeline as the
//! worker runs it: bursts of 32 copied into mbuf-like buffers, warmed, then the
//! fast path or `pipeline::ingress`).
//!
//!   cargo bench -p vxgw --bench attacks        (perf/attacks.sh runs it)
//!
//! `VXGW_ATTACKS=syn+guard,mac` runs only those cases; `VXGW_ATTACK_ROUNDS=1` one
//! round of each (for `valgrind --tool=callgrind --toggle-collect='*attack_burst*'`:
//! instructions an attack packet, `perf/attacks.sh --instructions`).
//!
//! Established: 8,192 assured connections to a published TCP port (SNAT, 8
//! backends), one data segment each in turn. The attacks, each 524,288 packets of
//! distinct flows to the same gateway, one attack burst after each established
//! burst (so the attack is as many packets as the established traffic), sent
//! [`PASSES`] times in a run:
//! - `syn`: a SYN flood to the same published port (spoofed sources);
//! - `ack`: a flood of spoofed mid-stream ACKs to it (each would be picked up);
//! - `snat`: new UDP flows to a service whose one backend has no SNAT port left
//!   (64,512 assured connections hold them all), so each is refused;
//! - `mac`: VXLAN from a known VTEP with a new inner source MAC in every frame
//!   (learning, the learn limit, flooding decisions) on the underlay port.
//!
//! The figure is `ratio` = packets per second with the attack / packets per second
//! of the established traffic alone (the mean of the runs just before and after):
//! 1.0 when refusing or shedding an attack packet costs what forwarding an
//! established one does. A core that forwards the established traffic with room to
//! spare then keeps forwarding it whole while the attack arrives at the same rate;
//! a ratio of 0.06 (the refused flows of the issue that asked for this bench: 30x a
//! forwarded packet) means the established traffic starves. Every established packet
//! must be forwarded in every run, or the bench says so and fails.

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
use vxgw::pipeline::{
    ingress, warm_burst, Admission, BackendCounters, Ctx, Decision, DropReason, EncapCache, Event,
    LearnCache, MeshCache, MeshTables, PipelineCounters,
};
use vxgw::tables::conntrack::{Conn, Conntrack, CtState, Timeouts};
use vxgw::tables::fdb::{Fdb, FdbDest};
use vxgw::tables::fdb_cache::FdbCache;
use vxgw::tables::neighbours::Neighbours;
use vxgw::tables::overlay_neighbours::OverlayNeighbours;
use vxgw::tables::snapshot::{ResolvedPort, Snapshot};
use vxgw::tables::snat_source::SnatSource;
use vxgw::wire::MacAddr;

const UL_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x00];
const EXT_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x01];
const UL: u16 = 0;
const EXT: u16 = 1;
const BURST: usize = 32;
const BACKENDS: u32 = 8;
const ESTABLISHED: u32 = 8192;
const ATTACK: u32 = 1 << 19;
const DNS_BACKEND: [u8; 4] = [10, 255, 1, 200];
const INGRESS: [u8; 4] = [10, 255, 0, 2];
const PUBLISHED: [u8; 4] = [192, 0, 2, 1];
const VTEP: [u8; 4] = [172, 30, 0, 11];
/// The flood guard of the `+guard` cases: new connections a second to the service.
const GUARD: u32 = 20_000;
/// Passes over the frames in one run: ~0.5 s a run at ~10 Mpps, so that the flood
/// guard's budget (per wall-clock second) is a second's share of a run, not all of
/// a short run's new connections or none of them.
const PASSES: usize = 5;

fn backend_ip(b: u32) -> [u8; 4] {
    [10, 255, 1, 1 + b as u8]
}

fn mac_of(ip: [u8; 4]) -> [u8; 6] {
    [0x02, 0x42, ip[0], ip[1], ip[2], ip[3]]
}

fn config() -> String {
    let bes: Vec<String> = (0..BACKENDS)
        .map(|b| format!("{{ ip = \"{}\" }}", Ipv4Addr::from(backend_ip(b))))
        .collect();
    format!(
        r#"
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"
external_gateway = "192.0.2.254"
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
[[service]]
name = "web"
protocol = "tcp"
published_ip = "192.0.2.1"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
backends = [{}]
[[service]]
name = "dns"
protocol = "udp"
published_ip = "192.0.2.1"
published_port = 53
vni = 4096
ingress_ip = "10.255.0.2"
backends = [{{ ip = "10.255.1.200" }}]
"#,
        bes.join(", ")
    )
}

fn udp(sport: u16, dport: u16) -> Vec<u8> {
    let mut u = vec![0u8; 12];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&12u16.to_be_bytes());
    u
}

/// A client frame on the external port: `l4` of protocol `proto` from `src`.
fn client_frame(src: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = EXT_MAC.to_vec();
    f.extend_from_slice(&[0x02, 0xc0, 0, 0, 2, 0xfe, 0x08, 0x00]);
    f.extend_from_slice(&ipv4(src, PUBLISHED, proto, l4));
    f.resize(60, 0);
    f
}

/// Established client `i`: address and port.
fn established_client(i: u32) -> ([u8; 4], u16) {
    ([198, 18, (i >> 8) as u8, i as u8], 40000 + (i % 7) as u16)
}

/// A spoofed source for attack packet `i` (never one of the established clients).
fn spoofed(i: u32) -> ([u8; 4], u16) {
    (
        [100, 64 + (i >> 16 & 0x3f) as u8, (i >> 8) as u8, i as u8],
        1024 + (i >> 22) as u16,
    )
}

/// VXLAN from the VTEP in VNI 4096 with an inner broadcast from a new MAC.
fn mac_flood_frame(i: u32) -> Vec<u8> {
    let mut inner = vec![0xff; 6];
    inner.extend_from_slice(&[
        0x02,
        0x66,
        (i >> 24) as u8,
        (i >> 16) as u8,
        (i >> 8) as u8,
        i as u8,
    ]);
    inner.extend_from_slice(&[0x08, 0x06]);
    inner.resize(60, 0);
    let mut vx = vec![0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0x00];
    vx.extend_from_slice(&inner);
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&(49152 + (i % 1024) as u16).to_be_bytes());
    u[2..4].copy_from_slice(&4789u16.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + vx.len()) as u16).to_be_bytes());
    u.extend_from_slice(&vx);
    let mut f = UL_MAC.to_vec();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0x11, 0x11, 0x08, 0x00]);
    f.extend_from_slice(&ipv4(VTEP, [172, 30, 0, 1], 17, &u));
    f
}

/// One burst through the pipeline as the worker runs it (drops counted as the
/// worker counts them): the frames forwarded, and one decision that was not.
fn run_burst(
    ctx: &Ctx,
    cache: &MeshCache,
    port: u16,
    frames: &[Vec<u8>],
    bufs: &mut [Buf],
) -> (u64, Option<Decision>) {
    let fast = FastPort::of(ctx.snap, port);
    let bufs = &mut bufs[..frames.len()];
    for (b, f) in bufs.iter_mut().zip(frames) {
        b.load(f);
    }
    ctx.learn_cache.sync(ctx.fdb.changes(), ctx.snap.generation);
    warm_burst(ctx, port, bufs.iter().map(vxgw::pipeline::PacketBuf::data));
    let (mut forwarded, mut other) = (0, None);
    for (i, b) in bufs.iter_mut().enumerate() {
        cache.set_current(i);
        if fast_path::forward(ctx, fast, port, b).is_some() {
            forwarded += 1;
            continue;
        }
        let d = ingress(ctx, port, b);
        match d {
            Decision::Forward { .. } => forwarded += 1,
            Decision::Drop(r) => {
                ctx.counters.drop(r);
                other = Some(d);
            }
            _ => other = Some(d),
        }
        black_box(&d);
    }
    (forwarded, other)
}

/// The bench's clock: the wall clock's seconds, or those of packets at `pps`.
struct Clock {
    start: Instant,
    packets: u64,
    pps: Option<u64>,
}

impl Clock {
    fn secs(&self) -> u32 {
        match self.pps {
            Some(pps) => (self.packets / pps) as u32,
            None => self.start.elapsed().as_secs() as u32,
        }
    }

    fn count(&mut self, packets: usize) {
        self.packets += packets as u64;
    }
}

/// An attack's burst (a function of its own, so that callgrind can count it).
#[inline(never)]
fn attack_burst(ctx: &Ctx, cache: &MeshCache, port: u16, frames: &[Vec<u8>], bufs: &mut [Buf]) {
    black_box(run_burst(ctx, cache, port, frames, bufs));
}

/// The established traffic through the pipeline, alone or with an attack's burst
/// after each of its bursts, the clock moving from `start` with `clock`: packets a
/// second.
fn run_traffic(
    ctx: &mut Ctx,
    cache: &MeshCache,
    established: &[Vec<u8>],
    attack: Option<(u16, &[Vec<u8>])>,
    bufs: &mut [Buf],
    start: u32,
    clock: &mut Clock,
) -> f64 {
    let t = Instant::now();
    let (mut forwarded, mut sent) = (0, 0);
    let passes = established.chunks(BURST).enumerate().cycle();
    for (k, est) in passes.take(PASSES * established.len() / BURST) {
        ctx.now = start + clock.secs();
        let (n, other) = run_burst(ctx, cache, EXT, est, bufs);
        if n != est.len() as u64 {
            panic!("an established packet was not forwarded: {other:?}");
        }
        forwarded += n;
        sent += est.len();
        if let Some((port, frames)) = attack {
            let a = &frames[k * BURST..(k + 1) * BURST];
            attack_burst(ctx, cache, port, a, bufs);
            sent += a.len();
        }
        clock.count(BURST * if attack.is_some() { 2 } else { 1 });
    }
    assert_eq!(forwarded, (PASSES * established.len()) as u64);
    sent as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let resolve = |n: &str| match n {
        "ul" => Some(ResolvedPort {
            id: UL,
            mac: MacAddr(UL_MAC),
            mtu: 1500,
        }),
        "ext" => Some(ResolvedPort {
            id: EXT,
            mac: MacAddr(EXT_MAC),
            mtu: 1500,
        }),
        _ => None,
    };
    let snap = Snapshot::build(&Config::parse(&config()).unwrap(), &resolve, 1).unwrap();
    // The same with the flood guard on the web service.
    let guarded = config().replacen(
        "name = \"web\"",
        &format!("name = \"web\"\nnew_connection_rate = {GUARD}"),
        1,
    );
    let guarded = Snapshot::build(&Config::parse(&guarded).unwrap(), &resolve, 1).unwrap();
    let fdb = Fdb::new(1 << 16, 16);
    let neigh = Neighbours::new(64);
    let overlay = OverlayNeighbours::new(256);
    let vtep = Ipv4Addr::from(VTEP);
    neigh.learn(vtep, MacAddr([2, 0, 0, 0, 0x11, 0x11]), 0);
    neigh.learn(
        Ipv4Addr::new(192, 0, 2, 254),
        MacAddr([2, 0xc0, 0, 0, 2, 0xfe]),
        0,
    );
    for ip in (0..BACKENDS).map(backend_ip).chain([DNS_BACKEND]) {
        overlay.learn(4096, Ipv4Addr::from(ip), MacAddr(mac_of(ip)), 0);
        fdb.add_static(4096, MacAddr(mac_of(ip)), FdbDest::Vtep(vtep))
            .unwrap();
    }
    let ct = Conntrack::new(1 << 17, Timeouts::default());
    let now = 100;
    // The established connections, assured (the backend answered), and 64,512
    // assured UDP flows holding every SNAT port towards the DNS backend.
    let web = &snap.services[0];
    // A packet of the backend's (the reply key's hit) assures a connection.
    let assure = |c: &Conn, state: CtState| {
        ct.insert(c, state, now).unwrap();
        let reply = ct.lookup(&c.reply_key()).unwrap();
        ct.observe(&reply, 0x10, now);
    };
    for i in 0..ESTABLISHED {
        let (ip, port) = established_client(i);
        let b = (i % BACKENDS) as usize;
        assure(
            &Conn {
                proto: 6,
                client: SocketAddrV4::new(ip.into(), port),
                published: SocketAddrV4::new(PUBLISHED.into(), 80),
                backend: SocketAddrV4::new(web.backends[b].ip, 80),
                snat: Some(SocketAddrV4::new(
                    INGRESS.into(),
                    1024 + (i / BACKENDS) as u16,
                )),
                service: web.id,
                backend_id: web.backends[b].slot,
                owner: 0,
            },
            CtState::Established,
        );
    }
    let dns = &snap.services[1];
    for p in 1024..=65535u16 {
        assure(
            &Conn {
                proto: 17,
                client: SocketAddrV4::new(Ipv4Addr::new(198, 19, (p >> 8) as u8, p as u8), 5353),
                published: SocketAddrV4::new(PUBLISHED.into(), 53),
                backend: SocketAddrV4::new(DNS_BACKEND.into(), 53),
                snat: Some(SocketAddrV4::new(INGRESS.into(), p)),
                service: dns.id,
                backend_id: dns.backends[0].slot,
                owner: 0,
            },
            CtState::UdpNew,
        );
    }
    println!(
        "# attacks bench: {} connections tracked ({} assured) in a {}-entry table",
        ct.len(),
        ct.stats().assured,
        ct.capacity()
    );

    let snat = RefCell::new(SnatSource::for_workers(1024, 65535, 1).unwrap().remove(0));
    let backends = BackendCounters::default();
    let mesh_cache = MeshCache::default();
    let admission = Admission::new(1);
    let counters = PipelineCounters::default();
    let cache = LearnCache::default();
    let fdb_cache = FdbCache::default();
    let encap_cache = EncapCache::default();
    let mut ctx = Ctx {
        snap: &snap,
        fdb: &fdb,
        neigh: &neigh,
        now,
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

    let established: Vec<Vec<u8>> = (0..ATTACK)
        .map(|k| {
            let (ip, port) = established_client(k % ESTABLISHED);
            client_frame(ip, 6, &tcp(port, 80, 0x18))
        })
        .collect();
    let attacks: Vec<(&str, u16, Vec<Vec<u8>>)> = vec![
        (
            "syn",
            EXT,
            (0..ATTACK)
                .map(|i| {
                    let (ip, port) = spoofed(i);
                    client_frame(ip, 6, &tcp(port, 80, 0x02))
                })
                .collect(),
        ),
        (
            "ack",
            EXT,
            (0..ATTACK)
                .map(|i| {
                    let (ip, port) = spoofed(i);
                    client_frame(ip, 6, &tcp(port, 80, 0x10))
                })
                .collect(),
        ),
        (
            "snat",
            EXT,
            (0..ATTACK)
                .map(|i| {
                    let (ip, port) = spoofed(i);
                    client_frame(ip, 17, &udp(port, 53))
                })
                .collect(),
        ),
        ("mac", UL, (0..ATTACK).map(mac_flood_frame).collect()),
    ];
    let mut bufs: Vec<Buf> = (0..BURST).map(|_| Buf::new()).collect();
    // Under callgrind (50x slower), the wall clock would refill the flood guard's
    // budgets 50x as often per packet: VXGW_ATTACK_PPS=8000000 makes the clock
    // move with the packets instead, as at that rate.
    let mut clock = Clock {
        start: Instant::now(),
        packets: 0,
        pps: std::env::var("VXGW_ATTACK_PPS")
            .ok()
            .and_then(|r| r.parse().ok()),
    };
    let mut run = |ctx: &mut Ctx, attack: Option<(u16, &[Vec<u8>])>| {
        run_traffic(
            ctx,
            &mesh_cache,
            &established,
            attack,
            &mut bufs,
            now,
            &mut clock,
        )
    };
    run(&mut ctx, None); // warm the caches and the tables
    let rounds: usize = std::env::var("VXGW_ATTACK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let only = std::env::var("VXGW_ATTACKS").ok();
    let wanted = |name: &str| {
        only.as_ref()
            .is_none_or(|o| o.split(',').any(|w| w == name))
    };
    let cases = attacks
        .iter()
        .map(|(n, p, f)| (n.to_string(), &snap, *p, f))
        .chain(
            attacks
                .iter()
                .filter(|a| a.1 == EXT && a.0 != "snat")
                .map(|(n, p, f)| (format!("{n}+guard"), &guarded, *p, f)),
        );
    for (name, snapshot, port, frames) in cases.filter(|c| wanted(&c.0)) {
        ctx.snap = snapshot;
        let mut ratios = Vec::new();
        let mut alone = Vec::new();
        for _ in 0..rounds {
            let before = run(&mut ctx, None);
            let mixed = run(&mut ctx, Some((port, frames)));
            let after = run(&mut ctx, None);
            alone.push((before + after) / 2.0);
            ratios.push(mixed / ((before + after) / 2.0));
        }
        ratios.sort_by(f64::total_cmp);
        alone.sort_by(f64::total_cmp);
        let runs: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "RESULT attack={name} established_mpps_alone={:.2} ratio={:.3} (runs {})",
            alone[rounds / 2] / 1e6,
            ratios[rounds / 2],
            runs.join(" "),
        );
        if name == "ack" {
            // After the flood: new clients are admitted at once (the strangers'
            // entries are unassured and give way).
            let fresh: Vec<Vec<u8>> = (0..BURST as u32)
                .map(|i| {
                    let ip = [203, 0, 113, i as u8];
                    client_frame(ip, 6, &tcp(50000, 80, 0x02))
                })
                .collect();
            let mut fresh_bufs: Vec<Buf> = (0..BURST).map(|_| Buf::new()).collect();
            let (n, other) = run_burst(&ctx, &mesh_cache, EXT, &fresh, &mut fresh_bufs);
            println!(
                "RESULT after-ack-flood new_clients_admitted={n}/{} tracked={} assured={} unassured={} (not admitted: {other:?})",
                fresh.len(),
                ct.len(),
                ct.stats().assured,
                ct.stats().unassured()
            );
            assert_eq!(
                n,
                fresh.len() as u64,
                "a new client was refused after the flood"
            );
        }
    }
    let s = ct.stats();
    println!(
        "# conntrack: created {} evicted {} (early {}) refused {} conflicts {}",
        s.created, s.evicted, s.early_evicted, s.refused, s.conflicts
    );
    let f = fdb.stats();
    println!(
        "# fdb: learned {} limit hits {} table full {} dynamic entries {} of {}",
        f.learned,
        counters.events(Event::FdbLimitHit),
        counters.events(Event::FdbTableFull),
        f.dynamic_entries,
        fdb.capacity()
    );
    for r in DropReason::ALL {
        if counters.drops(r) > 0 {
            println!("# drops {}: {}", r.name(), counters.drops(r));
        }
    }
}
