//! In-process tests of the DPDK layer and the forwarding worker on net_ring ports
//! (EAL with --no-huge): every packet arrives intact and in order, and the mempool's
//! in-use count returns to where it started (no mbuf leaks), including when a full
//! tx queue forces drops.
//!
//! EAL can be initialised once per process, so this file is one test that runs its
//! steps in order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vxgw::dpdk::{
    Eal, LaunchedWorker, Mbuf, MbufBurst, Mempool, Port, PortConfig, Ring, TxBuffer, BURST_SIZE,
};
use vxgw::forward::{self, Lane, WorkerCounters};
use vxgw::shutdown::StopFlag;
use vxgw_tests::{cleanup_prefix, file_prefix, udp_frame};

fn wait_count(ring: &Ring, n: u32, timeout: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if ring.count() >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn inject(pool: &Mempool, ring: &Ring, frames: &[Vec<u8>]) {
    for f in frames {
        let m = Mbuf::from_bytes(pool, f).expect("alloc");
        assert!(ring.enqueue(m).is_ok(), "input ring has room");
    }
}

fn collect(ring: &Ring) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(m) = ring.dequeue() {
        out.push(m.data().to_vec());
    }
    out
}

#[test]
fn dpdk_layer_and_forwarding_on_net_ring() {
    let prefix = file_prefix("layer");
    // Lcores 1 and 2 both on CPU 1: two workers on this two-core machine.
    let args: Vec<String> = [
        "dpdk_layer",
        "--lcores=0@0,1@1,2@1",
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        "--no-telemetry",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--file-prefix={prefix}")])
    .collect();
    let eal = Eal::init(&args).expect("EAL init");
    assert_eq!(eal.worker_lcores(), &[1, 2]);
    assert!(Eal::init(&args).is_err(), "second EAL init must be refused");

    let pool = Arc::new(Mempool::new(&eal, "t_pool", 8191, 64, 2176, 0).expect("pool"));
    assert_eq!(pool.in_use(), 0);

    mbuf_operations(&pool);
    assert_eq!(pool.in_use(), 0, "mbuf operations leaked");
    tx_buffer_runs(&eal, &pool);
    assert_eq!(pool.in_use(), 0, "tx buffer runs leaked");

    // Two ports over rings, two queues each: port A rx <- a_in[q], tx -> a_out[q].
    let ring = |n: &str, size| Arc::new(Ring::new(&eal, n, size, 0).expect("ring"));
    let a_in = [ring("a_in0", 4096), ring("a_in1", 4096)];
    let a_out = [ring("a_out0", 4096), ring("a_out1", 4096)];
    let b_in = [ring("b_in0", 4096), ring("b_in1", 4096)];
    // Small output ring on queue 1 so the tx-full path is exercised.
    let b_out = [ring("b_out0", 4096), ring("b_out1", 64)];
    let pa = Port::from_rings("ring_a", &a_in, &a_out, 0).expect("port a");
    let pb = Port::from_rings("ring_b", &b_in, &b_out, 0).expect("port b");
    assert_eq!(pa.max_queues().unwrap(), (2, 2));
    let cfg = PortConfig {
        rx_queues: 2,
        tx_queues: 2,
        ..PortConfig::default()
    };
    let (spa, arx, atx) = pa.start(&cfg, &pool).expect("start a");
    let (spb, brx, btx) = pb.start(&cfg, &pool).expect("start b");
    assert!(spa.link().up);
    let baseline = pool.in_use();

    // Worker w: A.rx[w] -> B.tx[w] and B.rx[w] -> A.tx[w].
    let stop = StopFlag::new();
    let counters: Arc<Vec<WorkerCounters>> =
        Arc::new((0..2).map(|_| WorkerCounters::default()).collect());
    let mut lanes: Vec<Vec<Lane>> = vec![Vec::new(), Vec::new()];
    for (w, (r, t)) in arx.into_iter().zip(btx).enumerate() {
        lanes[w].push(Lane { rx: r, tx: t });
    }
    for (w, (r, t)) in brx.into_iter().zip(atx).enumerate() {
        lanes[w].push(Lane { rx: r, tx: t });
    }
    let mut workers = Vec::new();
    for (w, (lcore, l)) in eal.worker_lcores().iter().zip(lanes).enumerate() {
        let (stop, c) = (stop.clone(), counters.clone());
        workers.push(
            LaunchedWorker::launch(*lcore, move || {
                forward::run(l, &stop, &c[w]);
                0
            })
            .expect("launch"),
        );
    }

    // Queue 0, both directions: sizes from 60 to 1514 bytes, every byte checked.
    let ab: Vec<Vec<u8>> = (0..1000)
        .map(|i| udp_frame(i, 60 + (i as usize * 37) % 1455))
        .collect();
    let ba: Vec<Vec<u8>> = (0..600)
        .map(|i| udp_frame(100_000 + i, 60 + (i as usize * 53) % 1455))
        .collect();
    for chunk in ab.chunks(500) {
        inject(&pool, &a_in[0], chunk);
        assert!(wait_count(&b_out[0], 1, Duration::from_secs(5)));
    }
    inject(&pool, &b_in[0], &ba);
    assert!(
        wait_count(&b_out[0], 1000, Duration::from_secs(10)),
        "A->B incomplete: {}",
        b_out[0].count()
    );
    assert!(
        wait_count(&a_out[0], 600, Duration::from_secs(10)),
        "B->A incomplete: {}",
        a_out[0].count()
    );
    assert_eq!(collect(&b_out[0]), ab, "A->B frames differ or reordered");
    assert_eq!(collect(&a_out[0]), ba, "B->A frames differ or reordered");

    // Queue 1 (the other worker) into a 63-slot output ring nobody drains: the
    // surplus must be dropped, counted and freed.
    let burst: Vec<Vec<u8>> = (0..300).map(|i| udp_frame(200_000 + i, 128)).collect();
    inject(&pool, &a_in[1], &burst);
    let t0 = Instant::now();
    while counters[1].rx_packets.get() < 300 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(counters[1].rx_packets.get(), 300);
    let got = collect(&b_out[1]);
    assert_eq!(got.len(), 63, "the 64-entry ring holds 63");
    assert_eq!(got[..], burst[..63]);
    assert_eq!(counters[1].tx_dropped.get(), 300 - 63);
    assert_eq!(counters[1].tx_packets.get(), 63);

    stop.stop();
    for w in workers {
        assert_eq!(w.wait(), 0);
    }
    assert_eq!(counters[0].rx_packets.get(), 1600);
    assert_eq!(counters[0].tx_packets.get(), 1600);
    assert_eq!(
        pool.in_use(),
        baseline,
        "mbufs leaked: {} in use, {} at start",
        pool.in_use(),
        baseline
    );
    let st = spb.stats();
    assert_eq!(st.tx_packets, 1000 + 63);
    drop((spa, spb));
    drop(pool);
    drop(eal);
    cleanup_prefix(&prefix);
}

fn mbuf_operations(pool: &Mempool) {
    let f = udp_frame(7, 100);
    let mut m = Mbuf::from_bytes(pool, &f).unwrap();
    assert_eq!(m.data(), &f[..]);
    assert_eq!(m.pkt_len(), 100);
    assert_eq!(m.segments(), 1);
    let head = m.headroom();
    let d = m.prepend(50).expect("headroom for an outer header");
    d[..4].copy_from_slice(b"VXLN");
    assert_eq!(m.pkt_len(), 150);
    assert_eq!(m.headroom(), head - 50);
    assert_eq!(&m.data()[50..], &f[..]);
    assert!(
        m.prepend(head).is_none(),
        "prepend beyond headroom must fail"
    );
    assert!(m.adj(50));
    assert_eq!(m.data(), &f[..]);
    assert!(!m.adj(101), "adj beyond the data must fail");
    assert!(m.trim(10));
    assert_eq!(m.data(), &f[..90]);
    let c = m.copy(pool).expect("copy");
    assert_eq!(c.data(), m.data());
    assert_eq!(pool.in_use(), 2);
    let mut b = MbufBurst::new();
    assert!(b.push(m).is_ok());
    assert!(b.push(c).is_ok());
    for i in 0..BURST_SIZE - 2 {
        assert!(b
            .push(Mbuf::from_bytes(pool, &udp_frame(i as u32, 64)).unwrap())
            .is_ok());
    }
    assert!(b.is_full());
    let extra = Mbuf::alloc(pool).unwrap();
    assert!(b.push(extra).is_err(), "a full burst gives the mbuf back");
    assert_eq!(b.frames().nth(2), Some(&udp_frame(0, 64)[..]));
    let drained: Vec<Mbuf> = b.drain().take(5).collect();
    assert_eq!(drained.len(), 5);
    assert!(b.is_empty());
    drop(drained);
    // Bursts free what they hold when dropped.
    let mut b2 = MbufBurst::new();
    for i in 0..10 {
        assert!(b2
            .push(Mbuf::from_bytes(pool, &udp_frame(i, 64)).unwrap())
            .is_ok());
    }
    drop(b2);
}

/// `TxBuffer::push_run`: runs queued behind single frames, one overflowing the
/// buffer (a full burst sent first), one asking for more than is left; every frame
/// leaves once, in order.
fn tx_buffer_runs(eal: &Eal, pool: &Arc<Mempool>) {
    let rx = [Arc::new(Ring::new(eal, "runs_in", 256, 0).expect("ring"))];
    let tx = [Arc::new(Ring::new(eal, "runs_out", 1024, 0).expect("ring"))];
    let port = Port::from_rings("ring_runs", &rx, &tx, 0).expect("port");
    let (started, _rxq, mut txq) = port.start(&PortConfig::default(), pool).expect("start");
    let q = &mut txq[0];
    let frames: Vec<Vec<u8>> = (0..3 * BURST_SIZE as u32)
        .map(|i| udp_frame(300_000 + i, 64))
        .collect();
    let burst_of = |fs: &[Vec<u8>]| {
        let mut b = MbufBurst::new();
        for f in fs {
            assert!(b.push(Mbuf::from_bytes(pool, f).unwrap()).is_ok());
        }
        b
    };
    let mut buf = TxBuffer::new();
    let (singles, rest) = frames.split_at(10);
    for f in singles {
        assert_eq!(buf.push(Mbuf::from_bytes(pool, f).unwrap(), q).sent, 0);
    }
    // A whole burst behind 10: the buffer fills, is sent, and keeps 10.
    let (whole, rest) = rest.split_at(BURST_SIZE);
    let mut b = burst_of(whole);
    let mut d = b.drain();
    assert_eq!(buf.push_run(&mut d, BURST_SIZE, q).sent, BURST_SIZE as u64);
    drop(d);
    assert_eq!(buf.len(), 10);
    // Two runs of one drain, the second asking for more than is left.
    let (two, _) = rest.split_at(BURST_SIZE);
    let mut b = burst_of(two);
    let mut d = b.drain();
    assert_eq!(buf.push_run(&mut d, 5, q).sent, 0);
    assert_eq!(
        buf.push_run(&mut d, 2 * BURST_SIZE, q).sent,
        BURST_SIZE as u64
    );
    assert!(d.next().is_none(), "the drain is empty");
    drop(d);
    assert_eq!(buf.flush(q).sent, 10);
    let sent = collect(&tx[0]);
    assert_eq!(sent.len(), 10 + 2 * BURST_SIZE);
    assert_eq!(
        sent[..],
        frames[..10 + 2 * BURST_SIZE],
        "frames lost, repeated or reordered"
    );
    drop(started);
}
