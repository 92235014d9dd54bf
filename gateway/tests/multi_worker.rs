//! The gateway with two workers, in process, on ports over rings (net_ring): each
//! port has two queues, worker w serves queue w of every port, and the test puts
//! each frame on the queue (so on the worker) it chooses, as RSS would. What one
//! worker does must hold for the other:
//!
//! - the same MAC learned on both workers at once is one entry, learned once;
//! - a MAC that moves, learned by one worker, is followed at once by the other
//!   worker's encapsulation (its cached outer headers for that MAC are stale);
//! - a routing-mesh connection forwarded by worker 0 whose backend's replies come
//!   in on worker 1, and the other way round: both NAT directions, and the backend's
//!   ICMP error about the connection, translated for the client on the other worker;
//! - a port with one queue (fewer than workers): both workers send on it (the queue
//!   shared under a lock, a burst at a time), the first polls it; nothing is lost;
//! - a live trace of N packets records exactly N, from both workers, and stops;
//!   a second trace is refused while one runs;
//! - a broadcast is flooded by either worker the same way: from a VTEP to the access
//!   members only (split horizon), from the access port to every VTEP of the list;
//! - a backend drained (or the connections flushed) through the control socket is
//!   seen by both workers at once: new flows avoid it, its established one goes on;
//! - SNAT source ports of connections taken by both workers never collide, though
//!   each worker draws from the whole range;
//! - a live change while both workers carry traffic loses nothing;
//! - the workers' counters add up to the totals and to what came in.
//!
//! EAL can be initialised once per process: this file is one test that runs its
//! steps in order, the gateway on the test's thread, the steps on another.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etherparse::{Icmpv4Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use serde_json::{json, Value};
use vxgw::app::{run_gateway_until, Options};
use vxgw::control::config::Config;
use vxgw::dpdk::{Eal, Mbuf, Mempool, Port, Ring};
use vxgw::shutdown::StopFlag;
use vxgw_tests::{cleanup_prefix, file_prefix, TempDir};

const WORKERS: usize = 2;
const VTEP_A: [u8; 4] = [172, 30, 0, 11];
const VTEP_B: [u8; 4] = [172, 30, 0, 12];
const VTEP_A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x11, 0x11];
const VTEP_B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x12, 0x12];
const SRV: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x64];
const C1: [u8; 6] = [0x02, 0x42, 0x0a, 0xff, 0x00, 0x0b];
const BACKEND: [u8; 4] = [10, 255, 0, 21];
const BACKEND_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0xff, 0x00, 0x15];
const INGRESS: [u8; 4] = [10, 255, 0, 2];
const PUBLISHED: [u8; 4] = [192, 0, 2, 1];
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0xc0, 0, 0x02, 0xfe];

const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"
external_prefix_len = 24
external_gateway = "192.0.2.254"

[[port]]
name = "net_ring_mw_ul"
roles = ["underlay"]

[[port]]
name = "net_ring_mw_acc"
roles = ["access"]

[[port]]
name = "net_ring_mw_ext"
roles = ["external"]

[[port]]
name = "net_ring_mw_acc2"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[vtep]]
ip = "172.30.0.12"

[[neighbour]]
ip = "172.30.0.11"
mac = "02:00:00:00:11:11"

[[neighbour]]
ip = "172.30.0.12"
mac = "02:00:00:00:12:12"

[[neighbour]]
ip = "192.0.2.254"
mac = "02:00:c0:00:02:fe"

[[vni]]
id = 4096
flood = ["172.30.0.11", "172.30.0.12"]
access = [{ port = "net_ring_mw_acc", vlan = 0 }]
gateway_ip = "10.255.0.1"
arp = [{ ip = "10.255.0.21", mac = "02:42:0a:ff:00:15" }]

[[fdb]]
vni = 4096
mac = "02:42:0a:ff:00:15"
vtep = "172.30.0.11"

[[vni]]
id = 4097
flood = ["172.30.0.11"]
access = [{ port = "net_ring_mw_acc2", vlan = 0 }]

[[fdb]]
vni = 4097
mac = "02:00:0a:ff:00:65"
port = "net_ring_mw_acc2"
vlan = 0

[[service]]
name = "web"
protocol = "tcp"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
backends = [{ ip = "10.255.0.21" }]
"#;

/// A port over rings: the test writes `input[q]`, vxgw's worker q reads it; vxgw
/// writes `output[q]`.
struct RingPort {
    input: Vec<Arc<Ring>>,
    output: Vec<Arc<Ring>>,
}

struct Rig {
    pool: Arc<Mempool>,
    ul: RingPort,
    acc: RingPort,
    /// An access port with one queue (both workers send on it, worker 0 polls it).
    acc2: RingPort,
    ext: RingPort,
    sock: PathBuf,
    ext_mac: [u8; 6],
}

/// Sets the stop flag when dropped, so that a failed step ends the gateway too.
struct StopOnDrop(StopFlag);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

fn control(sock: &Path, cmd: &str, args: Value) -> Value {
    let v = control_reply(sock, cmd, args);
    assert_eq!(v["ok"], true, "{cmd}: {v}");
    v["result"].clone()
}

/// The whole reply (`ok`, `result` or `error`, `code`).
fn control_reply(sock: &Path, cmd: &str, args: Value) -> Value {
    use std::io::{BufRead, BufReader, Write};
    let mut c = std::os::unix::net::UnixStream::connect(sock).expect("control socket");
    writeln!(c, "{}", json!({"v": 1, "cmd": cmd, "args": args})).unwrap();
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).unwrap();
    serde_json::from_str(&line).expect("JSON answer")
}

impl Rig {
    fn inject(&self, ring: &Ring, frames: &[Vec<u8>]) {
        for f in frames {
            let m = Mbuf::from_bytes(&self.pool, f).expect("mbuf");
            assert!(ring.enqueue(m).is_ok(), "input ring has room");
        }
    }

    fn stats(&self) -> Value {
        control(&self.sock, "stats", json!({}))
    }

    fn event(&self, name: &str) -> u64 {
        self.stats()["events"][name].as_u64().unwrap_or(0)
    }

    fn drop_count(&self, name: &str) -> u64 {
        self.stats()["drops"][name].as_u64().unwrap_or(0)
    }
}

/// Everything queued on `rings` within `timeout` once `n` frames are there (or the
/// time is up): (queue, frame) pairs.
fn collect(rings: &[Arc<Ring>], n: usize, timeout: Duration) -> Vec<(usize, Vec<u8>)> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    while out.len() < n && t0.elapsed() < timeout {
        let mut got = false;
        for (q, r) in rings.iter().enumerate() {
            while let Some(m) = r.dequeue() {
                out.push((q, m.data().to_vec()));
                got = true;
            }
        }
        if !got {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Anything more that was on its way (a test expecting n must see no extra).
    std::thread::sleep(Duration::from_millis(50));
    for (q, r) in rings.iter().enumerate() {
        while let Some(m) = r.dequeue() {
            out.push((q, m.data().to_vec()));
        }
    }
    out
}

/// An untagged UDP frame `src` -> `dst` carrying `n`.
fn inner(src: [u8; 6], dst: [u8; 6], n: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(src, dst)
        .ipv4([10, 255, 0, 100], [10, 255, 0, 11], 64)
        .udp(1000 + n, 80)
        .write(&mut v, &n.to_be_bytes())
        .unwrap();
    v
}

/// The MAC of a port over rings (net_ring gives them all zeros): what frames to
/// vxgw carry as their destination.
const RING_MAC: [u8; 6] = [0; 6];

/// `inner` in VXLAN VNI 4096 from VTEP `vtep` (its MAC `mac`) to vxgw.
fn vxlan(vtep: [u8; 4], mac: [u8; 6], inner: &[u8]) -> Vec<u8> {
    vxlan_in(4096, vtep, mac, inner)
}

/// `inner` in VXLAN VNI `vni` from VTEP `vtep` (its MAC `mac`) to vxgw.
fn vxlan_in(vni: u32, vtep: [u8; 4], mac: [u8; 6], inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(mac, RING_MAC)
        .ipv4(vtep, [172, 30, 0, 1], 64)
        .udp(50000, 4789)
        .write(&mut v, &payload)
        .unwrap();
    v
}

/// The outer destination IP of a VXLAN frame.
fn outer_dst(frame: &[u8]) -> [u8; 4] {
    frame[30..34].try_into().unwrap()
}

/// A TCP segment in IPv4 in Ethernet, as its parts.
struct Seg {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    syn: bool,
    ack: bool,
    payload: Vec<u8>,
    checksums_ok: bool,
}

fn tcp_of(eth: &[u8]) -> Seg {
    let p = SlicedPacket::from_ethernet(eth).expect("parses");
    let Some(NetSlice::Ipv4(ip)) = p.net.as_ref() else {
        panic!("not IPv4")
    };
    let Some(TransportSlice::Tcp(t)) = p.transport.as_ref() else {
        panic!("not TCP")
    };
    let h = ip.header().to_header();
    let ip_ok = h.calc_header_checksum() == h.header_checksum;
    let tcp_ok = t
        .to_header()
        .calc_checksum_ipv4(&h, t.payload())
        .map(|c| c == t.checksum())
        .unwrap_or(false);
    Seg {
        src: ip.header().source_addr(),
        dst: ip.header().destination_addr(),
        sport: t.source_port(),
        dport: t.destination_port(),
        syn: t.syn(),
        ack: t.ack(),
        payload: t.payload().to_vec(),
        checksums_ok: ip_ok && tcp_ok,
    }
}

/// A client's TCP segment to the published port, as it arrives on the external port.
fn from_client(rig: &Rig, client: [u8; 4], cport: u16, syn: bool, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ethernet2(ROUTER_MAC, rig.ext_mac)
        .ipv4(client, PUBLISHED, 64)
        .tcp(cport, 80, 1000, 64240);
    let b = if syn { b.syn() } else { b.ack(5000) };
    b.write(&mut v, data).unwrap();
    v
}

/// The backend's TCP segment to vxgw's ingress address, in VXLAN from its VTEP;
/// `router` is vxgw's overlay MAC, as the forwarded frame showed it.
fn from_backend(router: [u8; 6], sport: u16, syn: bool, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ethernet2(BACKEND_MAC, router)
        .ipv4(BACKEND, INGRESS, 64)
        .tcp(80, sport, 5000, 64240);
    let b = if syn { b.syn().ack(1001) } else { b.ack(1001) };
    b.write(&mut v, data).unwrap();
    vxlan(VTEP_A, VTEP_A_MAC, &v)
}

#[test]
fn two_workers_share_state_and_never_mix_it() {
    let prefix = file_prefix("mworker");
    let dir = TempDir::new("mworker");
    // Workers on lcores 1 and 2, both on CPU 1; the main lcore (control) on CPU 0.
    let args: Vec<String> = [
        "multi_worker",
        "--lcores=0@0,1@1,2@1",
        "--no-pci",
        "--no-huge",
        "-m",
        "512",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--file-prefix={prefix}")])
    .collect();
    let eal = Eal::init(&args).expect("EAL init");
    assert_eq!(eal.worker_lcores().len(), WORKERS);
    let pool = Arc::new(Mempool::new(&eal, "mw_test_pool", 16383, 64, 2176, 0).expect("pool"));
    let ring = |n: String| Arc::new(Ring::new(&eal, &n, 4096, 0).expect("ring"));
    let ring_port_of = |name: &str, queues: usize| {
        let input: Vec<_> = (0..queues).map(|q| ring(format!("{name}_i{q}"))).collect();
        let output: Vec<_> = (0..queues).map(|q| ring(format!("{name}_o{q}"))).collect();
        let port = Port::from_rings(name, &input, &output, 0).expect("ring port");
        (RingPort { input, output }, port)
    };
    let ring_port = |name: &str| ring_port_of(name, WORKERS);
    let (ul, _ul_port) = ring_port("mw_ul");
    let (acc2, _acc2_port) = ring_port_of("mw_acc2", 1);
    let (acc, _acc_port) = ring_port("mw_acc");
    let (ext, _ext_port) = ring_port("mw_ext");
    let cfg = Config::parse(CONFIG).expect("config");
    let sock = dir.join("vxgw.sock");
    let opts = Options {
        socket: Some(sock.clone()),
        rx_desc: 512,
        tx_desc: 512,
        control_idle: Duration::from_secs(30),
        ..Options::default()
    };
    let stop = StopFlag::new();
    let mut rig = Rig {
        pool,
        ul,
        acc,
        acc2,
        ext,
        sock,
        ext_mac: [0; 6],
    };
    let steps_stop = StopOnDrop(stop.clone());
    let steps = std::thread::spawn(move || {
        let _stop = steps_stop;
        wait_up(&mut rig);
        same_mac_on_both_workers(&rig);
        moved_mac_followed_by_the_other_worker(&rig);
        flooding_with_split_horizon_on_both_workers(&rig);
        a_port_with_one_queue_for_two_workers(&rig);
        live_trace_records_exactly_n_over_both_workers(&rig);
        mesh_replies_on_the_other_worker(&rig);
        drain_and_flush_seen_by_both_workers(&rig);
        snat_ports_unique_across_workers(&rig);
        live_change_under_traffic(&rig);
        counters_add_up(&rig);
    });
    let ran = run_gateway_until(&eal, &opts, &cfg, stop);
    let stepped = steps.join();
    ran.expect("the gateway ran and stopped cleanly");
    if let Err(e) = stepped {
        std::panic::resume_unwind(e);
    }
    drop(eal);
    cleanup_prefix(&prefix);
}

fn wait_up(rig: &mut Rig) {
    let t0 = Instant::now();
    while !rig.sock.exists() || std::os::unix::net::UnixStream::connect(&rig.sock).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(20), "no control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = control(&rig.sock, "status", json!({}));
    assert_eq!(status["workers"].as_array().unwrap().len(), WORKERS);
    for p in status["ports"].as_array().unwrap() {
        assert_eq!(p["mac"], "00:00:00:00:00:00", "ports over rings: {p}");
    }
    rig.ext_mac = RING_MAC;
    // Until the FDB's first ageing sweep (once a second) has measured it, the
    // workers take it for big and ask it directly; after it, they ask their caches
    // (FDB answers, encapsulations), whose staleness across workers is the point.
    std::thread::sleep(Duration::from_millis(2500));
}

/// C1's frames arrive from VTEP A on both workers at once: one FDB entry, learned
/// once, never moved; every frame flooded to the access port exactly once.
fn same_mac_on_both_workers(rig: &Rig) {
    for q in 0..WORKERS {
        let frames: Vec<_> = (0..50)
            .map(|n| vxlan(VTEP_A, VTEP_A_MAC, &inner(C1, SRV, (q * 100 + n) as u16)))
            .collect();
        rig.inject(&rig.ul.input[q], &frames);
    }
    let out = collect(&rig.acc.output, 100, Duration::from_secs(10));
    assert_eq!(out.len(), 100, "each frame flooded to the access port once");
    let fdb = control(&rig.sock, "fdb.show", json!({"vni": 4096}));
    let c1: Vec<_> = fdb
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["mac"] == "02:42:0a:ff:00:0b")
        .collect();
    assert_eq!(c1.len(), 1, "{fdb}");
    assert_eq!(c1[0]["dest"], "172.30.0.11", "{fdb}");
    assert_eq!(rig.event("fdb_learned"), 1, "learned once, by one worker");
    assert_eq!(rig.event("fdb_moved"), 0, "no flapping between workers");
    let stats = rig.stats();
    for w in 0..WORKERS {
        assert!(
            stats["workers"][w]["rx_packets"].as_u64().unwrap() >= 50,
            "worker {w} took its queue: {stats}"
        );
    }
}

/// Worker 0 encapsulates SRV -> C1 towards VTEP A (and keeps those outer headers);
/// then C1 shows up behind VTEP B on worker 1. Worker 0's next frame to C1 must go
/// to VTEP B.
fn moved_mac_followed_by_the_other_worker(rig: &Rig) {
    let to_c1 = |n| vec![inner(SRV, C1, n)];
    rig.inject(&rig.acc.input[0], &to_c1(1));
    let out = collect(&rig.ul.output, 1, Duration::from_secs(5));
    assert_eq!(out.len(), 1);
    assert_eq!(outer_dst(&out[0].1), VTEP_A, "C1 behind VTEP A");
    assert_eq!(out[0].0, 0, "sent by worker 0");

    rig.inject(
        &rig.ul.input[1],
        &[vxlan(VTEP_B, VTEP_B_MAC, &inner(C1, SRV, 2))],
    );
    let out = collect(&rig.acc.output, 1, Duration::from_secs(5));
    assert_eq!(out.len(), 1);
    assert_eq!(rig.event("fdb_moved"), 1, "C1 moved to VTEP B on worker 1");

    rig.inject(&rig.acc.input[0], &to_c1(3));
    let out = collect(&rig.ul.output, 1, Duration::from_secs(5));
    assert_eq!(out.len(), 1);
    assert_eq!(
        outer_dst(&out[0].1),
        VTEP_B,
        "worker 0 follows the move made by worker 1"
    );
}

/// Broadcasts on both workers: from VTEP A (worker 1) to the access port only, never
/// back to a VTEP; from the access port (worker 0) to both VTEPs of the flood list.
fn flooding_with_split_horizon_on_both_workers(rig: &Rig) {
    const BCAST: [u8; 6] = [0xff; 6];
    for q in 0..WORKERS {
        rig.inject(
            &rig.ul.input[q],
            &[vxlan(VTEP_A, VTEP_A_MAC, &inner(C1, BCAST, 500 + q as u16))],
        );
    }
    let out = collect(&rig.acc.output, WORKERS, Duration::from_secs(5));
    assert_eq!(out.len(), WORKERS, "one copy each on the access port");
    let back = collect(&rig.ul.output, 0, Duration::from_millis(100));
    assert!(back.is_empty(), "split horizon: nothing back to the VTEPs");

    for q in 0..WORKERS {
        rig.inject(&rig.acc.input[q], &[inner(SRV, BCAST, 600 + q as u16)]);
    }
    let out = collect(&rig.ul.output, 2 * WORKERS, Duration::from_secs(5));
    assert_eq!(
        out.len(),
        2 * WORKERS,
        "a copy to each VTEP, from each worker"
    );
    for q in 0..WORKERS {
        let mut to: Vec<[u8; 4]> = out
            .iter()
            .filter(|(w, _)| *w == q)
            .map(|(_, f)| outer_dst(f))
            .collect();
        to.sort();
        assert_eq!(
            to,
            [VTEP_A, VTEP_B],
            "worker {q} replicated to the flood list"
        );
    }
    let back = collect(&rig.acc.output, 0, Duration::from_millis(100));
    assert!(back.is_empty(), "not back to the access port it came from");
}

/// mw_acc2 has one queue: VNI 4097's frames to SRV2 behind it come in on both
/// workers and leave through that queue, which the two share; SRV2's frames, polled
/// by worker 0 alone, are flooded to VTEP A.
fn a_port_with_one_queue_for_two_workers(rig: &Rig) {
    const SRV2: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x65];
    const C9: [u8; 6] = [0x02, 0x42, 0x0a, 0xff, 0x00, 0x99];
    let per_queue = 1500usize;
    let feeders: Vec<_> = (0..WORKERS)
        .map(|q| {
            let ring = rig.ul.input[q].clone();
            let pool = rig.pool.clone();
            std::thread::spawn(move || {
                for n in 0..per_queue {
                    let tag = (q * 10_000 + n) as u16;
                    let f = vxlan_in(4097, VTEP_A, VTEP_A_MAC, &inner(C9, SRV2, tag));
                    let mut m = Some(Mbuf::from_bytes(&pool, &f).expect("mbuf"));
                    let t0 = Instant::now();
                    while let Some(x) = m.take() {
                        if let Err(back) = ring.enqueue(x) {
                            assert!(t0.elapsed() < Duration::from_secs(10), "ring stuck");
                            m = Some(back);
                            std::thread::yield_now();
                        }
                    }
                }
            })
        })
        .collect();
    // Drained as they come: the one output ring holds 4095.
    let out = collect(
        &rig.acc2.output,
        WORKERS * per_queue,
        Duration::from_secs(20),
    );
    for f in feeders {
        f.join().expect("feeder");
    }
    assert_eq!(out.len(), WORKERS * per_queue, "{}", rig.stats());
    // Every frame once: the payload is its tag.
    let got: HashSet<u16> = out
        .iter()
        .map(|(_, f)| u16::from_be_bytes([f[f.len() - 2], f[f.len() - 1]]))
        .collect();
    let want: HashSet<u16> = (0..WORKERS)
        .flat_map(|q| (0..per_queue).map(move |n| (q * 10_000 + n) as u16))
        .collect();
    assert_eq!(got, want);
    assert_eq!(rig.drop_count("tx_queue_full"), 0);
    let stats = rig.stats();
    for w in 0..WORKERS {
        assert!(
            stats["workers"][w]["tx_packets"].as_u64().unwrap() >= per_queue as u64,
            "worker {w} sent its share on the shared queue: {stats}"
        );
    }

    rig.inject(&rig.acc2.input[0], &[inner(SRV2, C9, 7)]);
    let out = collect(&rig.ul.output, 1, Duration::from_secs(5));
    assert_eq!(
        out.len(),
        1,
        "SRV2's frame (worker 0 polls the port) flooded"
    );
    assert_eq!((out[0].0, outer_dst(&out[0].1)), (0, VTEP_A));
    assert_eq!(&out[0].1[46..49], &[0x00, 0x10, 0x01], "VNI 4097");
}

/// A live trace of 6 packets on the underlay: 3 frames on each worker's queue are
/// recorded (steps and verdict), forwarded as usual, and the trace stops; what
/// comes after is not recorded. A second trace is refused while one runs. A filter
/// records only the packets it matches.
fn live_trace_records_exactly_n_over_both_workers(rig: &Rig) {
    let started = control(
        &rig.sock,
        "trace.start",
        json!({"count": 6, "port": "net_ring_mw_ul"}),
    );
    assert_eq!(started["armed"], true, "{started}");
    let refused = control_reply(&rig.sock, "trace.start", json!({"count": 1}));
    assert_eq!(refused["code"], "conflict", "{refused}");
    // A worker reads the flag once a poll round, so a frame of a round begun
    // before the start is not traced: frames go in, one a queue at a time, until
    // the trace has its 6 (and every frame is forwarded all the same).
    let (mut sent, mut forwarded) = (0, 0);
    let t0 = Instant::now();
    let shown = loop {
        for q in 0..WORKERS {
            let n = (700 + sent) as u16;
            rig.inject(
                &rig.ul.input[q],
                &[vxlan(VTEP_A, VTEP_A_MAC, &inner(C1, SRV, n))],
            );
            sent += 1;
        }
        forwarded += collect(&rig.acc.output, WORKERS, Duration::from_secs(2)).len();
        let shown = control(&rig.sock, "trace.show", json!({}));
        if shown["armed"] == false || t0.elapsed() > Duration::from_secs(10) {
            break shown;
        }
    };
    assert_eq!(shown["armed"], false, "stopped after 6: {shown}");
    assert_eq!(forwarded, sent, "traced frames are forwarded as usual");
    let packets = shown["packets"].as_array().unwrap();
    assert_eq!(packets.len(), 6, "{shown}");
    let workers: HashSet<u64> = packets
        .iter()
        .map(|p| p["worker"].as_u64().unwrap())
        .collect();
    assert!(workers.iter().all(|&w| w < WORKERS as u64), "{shown}");
    for p in packets {
        let steps: Vec<&str> = p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        // A learn step where the worker's learn cache had not seen C1 this second.
        let steps: Vec<&str> = steps.into_iter().filter(|s| *s != "learn").collect();
        assert_eq!(steps, ["port", "vxlan", "fdb"], "{p}");
        assert_eq!(p["verdict"], "forwarded in VNI 4096", "{p}");
    }
    // After the 6th: nothing more is recorded.
    rig.inject(
        &rig.ul.input[0],
        &[vxlan(VTEP_A, VTEP_A_MAC, &inner(C1, SRV, 800))],
    );
    assert_eq!(collect(&rig.acc.output, 1, Duration::from_secs(5)).len(), 1);
    let shown = control(&rig.sock, "trace.show", json!({}));
    assert_eq!(shown["packets"].as_array().unwrap().len(), 6);
    // A stopped trace can be started again; stop ends it early.
    control(&rig.sock, "trace.start", json!({"count": 5}));
    let stopped = control(&rig.sock, "trace.stop", json!({}));
    assert_eq!(stopped["armed"], false);

    // A filter picks the packets: of 10 flows in VNI 4096 on both workers, only
    // the inner UDP port 1905 one is recorded (its header fields are the inner
    // frame's; the VNI is the one the pipeline gave it).
    let filter = json!({"vni": 4096, "port": 1905, "proto": "udp"});
    let started = control(
        &rig.sock,
        "trace.start",
        json!({"count": 1, "filter": filter}),
    );
    assert_eq!(started["filter"], filter, "{started}");
    let t0 = Instant::now();
    let shown = loop {
        for n in 900..910u16 {
            let q = usize::from(n) % WORKERS;
            rig.inject(
                &rig.ul.input[q],
                &[vxlan(VTEP_A, VTEP_A_MAC, &inner(C1, SRV, n))],
            );
        }
        assert_eq!(
            collect(&rig.acc.output, 10, Duration::from_secs(2)).len(),
            10
        );
        let shown = control(&rig.sock, "trace.show", json!({}));
        if shown["armed"] == false || t0.elapsed() > Duration::from_secs(10) {
            break shown;
        }
    };
    let packets = shown["packets"].as_array().unwrap();
    assert_eq!(packets.len(), 1, "{shown}");
    let headers = packets[0]["headers"].as_str().unwrap();
    assert!(
        headers.starts_with("02:00:00:00:11:11 > ")
            && headers.contains("172.30.0.11:")
            && headers.ends_with(
                "| vxlan 4096 | 02:42:0a:ff:00:0b > 02:00:0a:ff:00:64 \
                 10.255.0.100:1905 > 10.255.0.11:80 udp"
            ),
        "{headers}"
    );
    // A filter nothing matches records nothing, and stays armed until stopped.
    control(
        &rig.sock,
        "trace.start",
        json!({"count": 1, "filter": {"vni": 4097}}),
    );
    for q in 0..WORKERS {
        rig.inject(
            &rig.ul.input[q],
            &[vxlan(VTEP_A, VTEP_A_MAC, &inner(C1, SRV, 950))],
        );
    }
    assert_eq!(
        collect(&rig.acc.output, WORKERS, Duration::from_secs(5)).len(),
        WORKERS
    );
    let stopped = control(&rig.sock, "trace.stop", json!({}));
    assert_eq!(stopped["armed"], false);
    assert_eq!(stopped["packets"].as_array().unwrap().len(), 0, "{stopped}");
}

/// A connection whose client side is on worker 0 and whose backend side is on
/// worker 1, then the other way round, with an ICMP error from the backend's side.
fn mesh_replies_on_the_other_worker(rig: &Rig) {
    let client = [198, 51, 100, 7];
    // The SYN on worker 0: DNAT + SNAT to the backend, in VXLAN to VTEP A.
    rig.inject(
        &rig.ext.input[0],
        &[from_client(rig, client, 40001, true, &[])],
    );
    let out = collect(&rig.ul.output, 1, Duration::from_secs(5));
    assert_eq!(out.len(), 1, "SYN forwarded");
    let (q, f) = &out[0];
    assert_eq!(*q, 0);
    assert_eq!(outer_dst(f), VTEP_A);
    let router: [u8; 6] = f[56..62].try_into().unwrap();
    let s = tcp_of(&f[50..]);
    assert!(s.syn && s.checksums_ok);
    assert_eq!(
        (s.src, s.dst),
        (Ipv4Addr::from(INGRESS), Ipv4Addr::from(BACKEND))
    );
    let snat_port = s.sport;

    // The backend's SYN-ACK on worker 1: back to the client from the published port.
    rig.inject(
        &rig.ul.input[1],
        &[from_backend(router, snat_port, true, &[])],
    );
    let out = collect(&rig.ext.output, 1, Duration::from_secs(5));
    assert_eq!(
        out.len(),
        1,
        "SYN-ACK on the other worker reached the client"
    );
    let (q, f) = &out[0];
    assert_eq!(*q, 1);
    assert_eq!(&f[..6], &ROUTER_MAC, "to the external gateway");
    let s = tcp_of(f);
    assert!(s.syn && s.ack && s.checksums_ok);
    assert_eq!((s.src, s.sport), (Ipv4Addr::from(PUBLISHED), 80));
    assert_eq!((s.dst, s.dport), (Ipv4Addr::from(client), 40001));

    // Data the other way round: the client's on worker 1, the backend's on worker 0.
    rig.inject(
        &rig.ext.input[1],
        &[from_client(rig, client, 40001, false, b"GET /")],
    );
    let out = collect(&rig.ul.output, 1, Duration::from_secs(5));
    assert_eq!(out.len(), 1);
    let s = tcp_of(&out[0].1[50..]);
    assert_eq!(out[0].0, 1);
    assert_eq!((s.sport, s.payload.as_slice()), (snat_port, &b"GET /"[..]));
    assert!(s.checksums_ok);
    rig.inject(
        &rig.ul.input[0],
        &[from_backend(router, snat_port, false, b"200 OK")],
    );
    let out = collect(&rig.ext.output, 1, Duration::from_secs(5));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, 0);
    let s = tcp_of(&out[0].1);
    assert_eq!((s.dport, s.payload.as_slice()), (40001, &b"200 OK"[..]));
    assert!(s.checksums_ok);

    // An ICMP error from the backend's side (port unreachable, about the segment
    // vxgw sent it) on worker 1: translated for the client, the quote included.
    let quoted = {
        let mut v = Vec::new();
        PacketBuilder::ipv4(INGRESS, BACKEND, 63)
            .tcp(snat_port, 80, 1000, 64240)
            .ack(5000)
            .write(&mut v, b"GET /")
            .unwrap();
        v
    };
    let mut icmp = Vec::new();
    PacketBuilder::ethernet2(BACKEND_MAC, router)
        .ipv4(BACKEND, INGRESS, 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut icmp, &quoted)
        .unwrap();
    rig.inject(&rig.ul.input[1], &[vxlan(VTEP_A, VTEP_A_MAC, &icmp)]);
    let out = collect(&rig.ext.output, 1, Duration::from_secs(5));
    assert_eq!(out.len(), 1, "ICMP error reached the client");
    let p = SlicedPacket::from_ethernet(&out[0].1).expect("parses");
    let Some(NetSlice::Ipv4(ip)) = p.net.as_ref() else {
        panic!()
    };
    assert_eq!(ip.header().destination(), client);
    let Some(TransportSlice::Icmpv4(i)) = p.transport.as_ref() else {
        panic!("not ICMP")
    };
    let q = i.payload();
    // The quoted header, translated back: the client's address and port.
    assert_eq!(&q[12..16], &client, "quoted source is the client");
    assert_eq!(
        &q[16..20],
        &PUBLISHED,
        "quoted destination is the published address"
    );
    assert_eq!(u16::from_be_bytes([q[20], q[21]]), 40001);
}

/// A second backend (behind VTEP B) joins; the first is drained: new flows on both
/// workers go to the second, while the connection made earlier on the first goes on
/// (its data on worker 1). Then its entry is flushed: its next mid-stream segment is
/// re-balanced, and the drained backend takes no new flow, so it goes to the second.
fn drain_and_flush_seen_by_both_workers(rig: &Rig) {
    const SECOND: [u8; 4] = [10, 255, 0, 22];
    control(
        &rig.sock,
        "arp.add",
        json!({"vni": 4096, "ip": "10.255.0.22", "mac": "02:42:0a:ff:00:16"}),
    );
    control(
        &rig.sock,
        "fdb.add",
        json!({"vni": 4096, "mac": "02:42:0a:ff:00:16", "vtep": "172.30.0.12"}),
    );
    control(
        &rig.sock,
        "backend.add",
        json!({"service": "web", "ip": "10.255.0.22"}),
    );
    control(
        &rig.sock,
        "backend.drain",
        json!({"service": "web", "ip": "10.255.0.21"}),
    );
    for q in 0..WORKERS {
        let syns: Vec<_> = (0..20)
            .map(|i| from_client(rig, [198, 51, 100, 50 + q as u8], 30000 + i, true, &[]))
            .collect();
        rig.inject(&rig.ext.input[q], &syns);
    }
    let out = collect(&rig.ul.output, 20 * WORKERS, Duration::from_secs(5));
    assert_eq!(out.len(), 20 * WORKERS);
    for (q, f) in &out {
        assert_eq!(
            tcp_of(&f[50..]).dst,
            Ipv4Addr::from(SECOND),
            "worker {q}: a new flow avoids the drained backend"
        );
        assert_eq!(outer_dst(f), VTEP_B);
    }
    // The established connection of the earlier step goes on to the drained one.
    let client = [198, 51, 100, 7];
    rig.inject(
        &rig.ext.input[1],
        &[from_client(rig, client, 40001, false, b"more")],
    );
    let out = collect(&rig.ul.output, 1, Duration::from_secs(5));
    assert_eq!(out.len(), 1);
    assert_eq!(
        tcp_of(&out[0].1[50..]).dst,
        Ipv4Addr::from(BACKEND),
        "drained, not cut"
    );

    let flushed = control(
        &rig.sock,
        "conntrack.flush",
        json!({"client": "198.51.100.7"}),
    );
    assert_eq!(
        flushed.as_u64().or(flushed["removed"].as_u64()),
        Some(1),
        "{flushed}"
    );
    rig.inject(
        &rig.ext.input[0],
        &[from_client(rig, client, 40001, false, b"again")],
    );
    let out = collect(&rig.ul.output, 1, Duration::from_secs(5));
    assert_eq!(
        out.len(),
        1,
        "a mid-stream segment without state is re-balanced"
    );
    assert_eq!(tcp_of(&out[0].1[50..]).dst, Ipv4Addr::from(SECOND));
}

/// 300 new connections, alternating between the workers: every SNAT source port
/// towards the one backend is distinct, and each worker's come from all of the range.
fn snat_ports_unique_across_workers(rig: &Rig) {
    let n = 300usize;
    for q in 0..WORKERS {
        let syns: Vec<_> = (0..n)
            .filter(|i| i % WORKERS == q)
            .map(|i| {
                let client = [198, 51, 101 + (i / 200) as u8, (i % 200) as u8 + 1];
                from_client(rig, client, 20000 + i as u16, true, &[])
            })
            .collect();
        rig.inject(&rig.ext.input[q], &syns);
    }
    let out = collect(&rig.ul.output, n, Duration::from_secs(10));
    assert_eq!(out.len(), n, "every SYN forwarded");
    let mut ports = HashSet::new();
    let mut by_worker: [Vec<u16>; WORKERS] = Default::default();
    for (q, f) in &out {
        let s = tcp_of(&f[50..]);
        assert_eq!(s.src, Ipv4Addr::from(INGRESS));
        assert!(
            ports.insert((s.dst, s.sport)),
            "SNAT port {} used twice towards {}",
            s.sport,
            s.dst
        );
        by_worker[*q].push(s.sport);
    }
    // Each worker draws from the whole range (capacity does not depend on the worker
    // a flow lands on); the conntrack insert keeps them apart.
    for (w, ports) in by_worker.iter().enumerate() {
        assert!(
            ports.len() >= n / WORKERS - 1,
            "worker {w} made its connections"
        );
        let low = ports.iter().filter(|&&p| p < 33_000).count();
        assert!(
            low > 0 && low < ports.len(),
            "worker {w} draws from both halves of 1024-65535: {ports:?}"
        );
    }
}

/// Both workers carry a steady stream while the configuration changes under them
/// (a VNI added and removed, a backend added): every frame comes out.
fn live_change_under_traffic(rig: &Rig) {
    let per_queue = 2000usize;
    let before = rig.stats();
    let feeder = {
        let inputs = rig.ul.input.clone();
        let pool = rig.pool.clone();
        std::thread::spawn(move || {
            for chunk in 0..per_queue / 100 {
                for (q, ring) in inputs.iter().enumerate() {
                    for n in 0..100 {
                        let f = vxlan(
                            VTEP_A,
                            VTEP_A_MAC,
                            &inner(C1, SRV, (q * 10_000 + chunk * 100 + n) as u16),
                        );
                        let m = Mbuf::from_bytes(&pool, &f).expect("mbuf");
                        let mut m = Some(m);
                        let t0 = Instant::now();
                        while let Some(x) = m.take() {
                            if let Err(back) = ring.enqueue(x) {
                                assert!(t0.elapsed() < Duration::from_secs(10), "ring stuck");
                                m = Some(back);
                                std::thread::yield_now();
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    for i in 0..5 {
        control(&rig.sock, "vni.add", json!({"id": 5000 + i}));
        control(
            &rig.sock,
            "backend.add",
            json!({"service": "web", "ip": format!("10.255.0.{}", 30 + i)}),
        );
        control(&rig.sock, "vni.del", json!({"id": 5000 + i}));
    }
    feeder.join().expect("feeder");
    // C1 is behind VTEP A again (these frames say so); SRV is on the access port.
    // (vxgw's ARP requests for the backends added go out there too: not counted.)
    let is_ipv4 = |f: &Vec<u8>| f[12..14] == [0x08, 0x00];
    let mut out: Vec<_> = Vec::new();
    let t0 = Instant::now();
    while out.len() < WORKERS * per_queue && t0.elapsed() < Duration::from_secs(20) {
        let more = collect(&rig.acc.output, 1, Duration::from_millis(200));
        out.extend(more.into_iter().filter(|(_, f)| is_ipv4(f)));
    }
    assert_eq!(
        out.len(),
        WORKERS * per_queue,
        "frames lost during live changes: {}",
        rig.stats()
    );
    let after = rig.stats();
    let drops = |s: &Value| -> u64 {
        s["drops"]
            .as_object()
            .map(|d| d.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0)
    };
    assert_eq!(drops(&after), drops(&before), "{after}");
    let backends = control(&rig.sock, "service.show", json!({"name": "web"}));
    assert!(backends.to_string().contains("10.255.0.34"), "{backends}");
}

/// The workers' counters add up to the totals, and the totals to what the ports
/// received.
fn counters_add_up(rig: &Rig) {
    let stats = rig.stats();
    let workers = stats["workers"].as_array().unwrap();
    let sum = |k: &str| -> u64 { workers.iter().map(|w| w[k].as_u64().unwrap()).sum() };
    assert_eq!(sum("rx_packets"), stats["rx_packets"].as_u64().unwrap());
    assert_eq!(sum("tx_packets"), stats["tx_packets"].as_u64().unwrap());
    let status = control(&rig.sock, "status", json!({}));
    let port_rx: u64 = status["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rx_packets"].as_u64().unwrap())
        .sum();
    assert_eq!(port_rx, stats["rx_packets"].as_u64().unwrap(), "{status}");
    assert!(rig.drop_count("multi_segment") == 0);
}
