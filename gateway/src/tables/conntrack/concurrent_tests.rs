//! Concurrency tests: workers inserting, looking up and observing beside a
//! sweeper, and lookups racing the removal and reuse of entries.

use super::test_support::*;
use super::*;
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The conn a stress thread may have stored for flow `n` (SNAT port encodes the
/// thread): anything else in a hit is a torn or foreign read.
fn stress_conn(n: u32, thread: u16) -> Conn {
    Conn {
        snat: Some(SocketAddrV4::new(
            Ipv4Addr::new(10, 255, 0, 2),
            (n as u16) ^ (thread << 13),
        )),
        owner: thread,
        ..conn(n, true)
    }
}

#[test]
fn concurrent_inserts_lookups_observes_and_a_sweeper() {
    const THREADS: u16 = 3;
    const FLOWS: u32 = 3000;
    let released = Arc::new(AtomicU64::new(0));
    let r2 = released.clone();
    let mut t = Conntrack::with_seed(
        1200,
        Timeouts {
            syn: 2,
            established: 3,
            ..Timeouts::default()
        },
        21,
    );
    t.release = Some(Box::new(move |_| {
        r2.fetch_add(1, Relaxed);
    }));
    let t = Arc::new(t);
    let clock = Arc::new(AtomicU32::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut handles = Vec::new();
    for th in 0..THREADS {
        let (t, clock, stop) = (t.clone(), clock.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = XorShift(0x9e37_79b9 * (th as u64 + 1));
            let mut n_ok = [0u64; 6]; // inserted, exists, full, hits, observes, removed
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                i += 1;
                let r = rng.next();
                let n = (r % FLOWS as u64) as u32;
                let now = clock.load(Relaxed);
                let c = stress_conn(n, th);
                let dir = if r & (1 << 40) != 0 {
                    Dir::Reply
                } else {
                    Dir::Original
                };
                match t.lookup(&c.key(Dir::Original)) {
                    Some(h) => {
                        n_ok[3] += 1;
                        assert_eq!(h.dir, Dir::Original);
                        assert!(
                            (0..THREADS).any(|o| h.conn() == stress_conn(n, o)),
                            "hit for flow {n} has a foreign conn {:?}",
                            h.conn()
                        );
                        // The reply key of whatever conn won also finds it (unless
                        // it is being removed right now).
                        if let Some(r) = t.lookup(&h.conn().reply_key()) {
                            if r.gen == h.gen && r.idx == h.idx {
                                assert_eq!((r.dir, r.conn()), (Dir::Reply, h.conn()));
                            }
                        }
                        let flags = [SYN, SYNACK, ACK, FINACK, RST][(r >> 20) as usize % 5];
                        t.observe(&CtHit { dir, ..h }, flags, now);
                        n_ok[4] += 1;
                        if (r >> 50) & 7 == 7 && t.remove(h.idx, h.gen).is_some() {
                            n_ok[5] += 1;
                        }
                    }
                    None => {
                        let st = if r & (1 << 45) != 0 {
                            CtState::Established
                        } else {
                            CtState::SynSent
                        };
                        match t.insert(&c, st, now) {
                            Ok(_) => n_ok[0] += 1,
                            Err(CtInsertError::Exists(h)) => {
                                n_ok[1] += 1;
                                assert!((0..THREADS).any(|o| h.conn() == stress_conn(n, o)));
                            }
                            Err(CtInsertError::Full) => n_ok[2] += 1,
                            Err(CtInsertError::KeyConflict) => panic!("no conflicts here"),
                        }
                    }
                }
                if i.is_multiple_of(1024) && Instant::now() > deadline {
                    stop.store(true, Relaxed);
                }
            }
            n_ok
        }));
    }
    let sweeper = {
        let (t, clock, stop) = (t.clone(), clock.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut rounds, mut swept, mut flushed) = (0u64, 0usize, 0usize);
            while !stop.load(Relaxed) {
                rounds += 1;
                let now = clock.fetch_add(1, Relaxed) + 1;
                swept += t.sweep(now, |_| t.timeouts(), |_| {});
                if rounds.is_multiple_of(5) {
                    flushed += t.flush(
                        &CtFilter::all()
                            .service((rounds % 3) as u32)
                            .state(CtState::Closed),
                    );
                }
                let es = t.entries(&CtFilter::all(), now);
                let mut idx = HashSet::new();
                for e in &es {
                    assert!(idx.insert(e.idx));
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            (rounds, swept, flushed)
        })
    };
    let mut tot = [0u64; 6];
    for h in handles {
        for (a, b) in tot.iter_mut().zip(h.join().unwrap()) {
            *a += b;
        }
    }
    let (rounds, swept, flushed) = sweeper.join().unwrap();
    println!("inserted/exists/full/hits/observes/removed {tot:?}; {rounds} sweeps: {swept} expired, {flushed} flushed");
    validate(&t).unwrap();
    let s = t.stats();
    assert!(rounds > 10 && swept > 0, "the sweeper hardly ran");
    assert!(tot[0] > 1000 && tot[3] > 1000, "{tot:?}");
    assert_eq!(s.created, tot[0]);
    assert_eq!(s.exists, tot[1]);
    assert_eq!(s.refused, tot[2]);
    assert_eq!(s.removed, tot[5] + flushed as u64);
    assert!(s.expired >= swept as u64);
    assert_eq!(
        s.created,
        t.len() as u64 + s.expired + s.evicted + s.removed,
        "{s:?}"
    );
    assert_eq!(released.load(Relaxed), s.expired + s.evicted + s.removed);
    assert!(s.evicted + s.refused > 0, "the table never filled: {s:?}");
}

#[test]
fn concurrent_removal_and_reuse_never_returns_a_wrong_conn() {
    // Two flows per entry-sized table keep reusing the same few entries while a
    // reader looks both keys up, one by one and as a burst (whose hinted slot
    // may be reused between its passes): a hit must always be the looked-up flow.
    let t = Arc::new(Conntrack::with_seed(4, Timeouts::default(), 5));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (t, stop) = (t.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Relaxed) {
                for n in 0..8 {
                    let _ = t.insert(&conn(n, n % 2 == 0), CtState::Established, 1);
                    if (n as u64 + rounds).is_multiple_of(2) {
                        t.remove_key(&conn(n, n % 2 == 0).original_key());
                    }
                }
                rounds += 1;
            }
            rounds
        })
    };
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut hits = 0u64;
    while Instant::now() < deadline {
        for n in 0..8 {
            let c = conn(n, n % 2 == 0);
            for dir in [Dir::Original, Dir::Reply] {
                if let Some(h) = t.lookup(&c.key(dir)) {
                    hits += 1;
                    assert_eq!((h.conn(), h.dir), (c, dir));
                }
            }
        }
        let want: Vec<(Conn, Dir)> = (0..8)
            .flat_map(|n| [Dir::Original, Dir::Reply].map(|d| (conn(n, n % 2 == 0), d)))
            .collect();
        let keys: Vec<FlowKey> = want.iter().map(|(c, d)| c.key(*d)).collect();
        let mut out = vec![None; keys.len()];
        t.lookup_burst(&keys, &mut out);
        for (h, w) in out.iter().zip(&want) {
            if let Some(h) = h {
                hits += 1;
                assert_eq!((h.conn(), h.dir), *w);
            }
        }
    }
    stop.store(true, Relaxed);
    let rounds = writer.join().unwrap();
    assert!(hits > 1000 && rounds > 100, "{hits} hits, {rounds} rounds");
    validate(&t).unwrap();
}
