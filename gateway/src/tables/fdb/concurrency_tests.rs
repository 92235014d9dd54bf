//! Concurrency tests: learners, readers and a sweeper at once; readers against
//! slots reused by other keys.

use super::test_support::*;
use super::*;
use crate::wire::ethernet::MacAddr;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

const C_VNIS: [u32; 3] = [7, 0x01_0007, 0x02_0007];
const C_MACS: u64 = 300;
const C_LIMIT0: u32 = 150;
const STATIC_OWNER: u16 = 200;

/// 24 check bits derived from the key, so a value written for another key (or a
/// torn mix of two values) is recognisable.
fn check_bits(vni: u32, m: MacAddr) -> u32 {
    (folded_mul(m.to_u64() ^ 0x5555, vni as u64 | 1 << 40) as u32) & 0xff_ffff
}

fn c_dest(owner: u16, vni: u32, m: MacAddr, access: bool) -> FdbDest {
    let c = check_bits(vni, m);
    if access {
        acc(owner << 8 | (c & 0xff) as u16, ((c >> 8) & 0xfff) as u16)
    } else {
        FdbDest::Vtep(Ipv4Addr::from((owner as u32) << 24 | c))
    }
}

/// The owner a destination was written by, if it is valid for this key.
fn c_owner(vni: u32, m: MacAddr, d: FdbDest) -> Option<u16> {
    let c = check_bits(vni, m);
    match d {
        FdbDest::Access { port, vlan } => (port & 0xff == (c & 0xff) as u16
            && vlan == ((c >> 8) & 0xfff) as u16)
            .then_some(port >> 8),
        FdbDest::Vtep(ip) => {
            let ip = u32::from(ip);
            (ip & 0xff_ffff == c).then_some((ip >> 24) as u16)
        }
    }
}

fn statics() -> impl Iterator<Item = (u32, MacAddr)> {
    (0..6).map(|n| (C_VNIS[2], mac(n)))
}

#[test]
fn concurrent_learners_readers_and_a_sweeper() {
    const LEARNERS: u16 = 3;
    let f = Arc::new(Fdb::with_seed(400, 8, 42));
    let clock = Arc::new(AtomicU32::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_millis(1000);
    let mut handles = Vec::new();
    for t in 1..=LEARNERS {
        let (f, clock, stop) = (f.clone(), clock.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = XorShift(0x1234_5678 * t as u64 + 1);
            let mut outcomes = HashMap::new();
            let mut lookups = 0u64;
            let mut i = 0u64;
            while !stop.load(Relaxed) {
                i += 1;
                let r = rng.next();
                let vni = C_VNIS[(r % 3) as usize];
                let m = mac((r >> 8) % C_MACS);
                if r & (1 << 40) != 0 {
                    let limit = if vni == C_VNIS[0] { C_LIMIT0 } else { NO_LIMIT };
                    let d = c_dest(t, vni, m, r & (1 << 41) != 0);
                    let o = f.learn(vni, m, d, clock.load(Relaxed), limit);
                    assert_ne!(o, LearnOutcome::NotUnicast);
                    *outcomes.entry(o).or_insert(0u64) += 1;
                }
                if let Some(hit) = f.lookup_hit(vni, m) {
                    lookups += 1;
                    let owner = c_owner(vni, m, hit.dest);
                    assert!(
                        matches!(owner, Some(o) if (1..=LEARNERS).contains(&o) || o == STATIC_OWNER),
                        "lookup({vni:#x}, {m}) = {hit:?}: not a value written for this key"
                    );
                    assert_eq!(hit.is_static, owner == Some(STATIC_OWNER));
                }
                if i.is_multiple_of(4096) && Instant::now() > deadline {
                    stop.store(true, Relaxed);
                }
            }
            (outcomes, lookups)
        }));
    }
    let sweeper = {
        let (f, clock, stop) = (f.clone(), clock.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            let mut removed = 0usize;
            while !stop.load(Relaxed) {
                rounds += 1;
                let now = clock.fetch_add(1, Relaxed) + 1;
                removed += f.age(now, |vni| if vni == C_VNIS[1] { 1 } else { 3 });
                if rounds.is_multiple_of(4) {
                    removed += f.flush(&FdbFilter::all().vni(C_VNIS[0]).dynamic_only());
                }
                if rounds.is_multiple_of(7) {
                    removed += f.flush(&FdbFilter::all().dest(DestFilter::Exact(c_dest(
                        1,
                        C_VNIS[2],
                        mac(rounds % C_MACS),
                        false,
                    ))));
                }
                for (n, (vni, m)) in statics().enumerate() {
                    if (rounds + n as u64).is_multiple_of(5) {
                        f.remove(vni, m);
                    } else {
                        let _ = f.add_static(vni, m, c_dest(STATIC_OWNER, vni, m, n % 2 == 0));
                    }
                }
                let es = f.entries(&FdbFilter::all(), now);
                let mut keys = HashSet::new();
                for e in &es {
                    assert!(keys.insert((e.vni, e.mac)), "listed twice: {e:?}");
                    assert!(c_owner(e.vni, e.mac, e.dest).is_some(), "bad entry {e:?}");
                }
                assert!(f.learned_vni(C_VNIS[0]) <= C_LIMIT0 as usize);
                std::thread::sleep(Duration::from_micros(300));
            }
            (rounds, removed)
        })
    };
    let mut total: HashMap<LearnOutcome, u64> = HashMap::new();
    let mut lookups = 0;
    for h in handles {
        let (o, l) = h.join().unwrap();
        lookups += l;
        for (k, v) in o {
            *total.entry(k).or_default() += v;
        }
    }
    let (rounds, removed) = sweeper.join().unwrap();
    println!("outcomes {total:?}, {lookups} hits, {rounds} sweeps removed {removed}");

    validate(&f).unwrap();
    assert!(rounds > 10, "the sweeper hardly ran");
    assert!(removed > 0);
    for o in [
        LearnOutcome::Learned,
        LearnOutcome::Refreshed,
        LearnOutcome::Moved,
        LearnOutcome::StaticRefused,
    ] {
        assert!(
            total.get(&o).copied().unwrap_or(0) > 0,
            "no {o:?} at all: {total:?}"
        );
    }
    let s = f.stats();
    assert_eq!(s.learned, total[&LearnOutcome::Learned]);
    assert_eq!(s.moved, total[&LearnOutcome::Moved]);
    let es = f.entries(&FdbFilter::all(), clock.load(Relaxed));
    assert_eq!(es.len(), f.len());
    assert_eq!(s.dynamic_entries + s.static_entries, es.len());
    for e in &es {
        let owner = c_owner(e.vni, e.mac, e.dest).expect("entry with a foreign value");
        assert_eq!(e.is_static, owner == STATIC_OWNER, "{e:?}");
    }
    // Statics put back at the end (after making room: the run overfills the
    // table on purpose) are intact and survive learning attempts.
    f.flush(&FdbFilter::all().vni(C_VNIS[2]).dynamic_only());
    for (n, (vni, m)) in statics().enumerate() {
        f.add_static(vni, m, c_dest(STATIC_OWNER, vni, m, n % 2 == 0))
            .unwrap();
        assert_eq!(
            f.learn(vni, m, c_dest(1, vni, m, false), 1, NO_LIMIT),
            LearnOutcome::StaticRefused
        );
        assert_eq!(
            f.lookup(vni, m),
            Some(c_dest(STATIC_OWNER, vni, m, n % 2 == 0))
        );
    }
    assert!(f.learned_vni(C_VNIS[0]) <= C_LIMIT0 as usize);
    validate(&f).unwrap();
}

#[test]
fn seqlock_readers_never_see_a_key_with_another_keys_value() {
    // Two buckets, keys constantly removed and re-learned: slots are reused by
    // other keys all the time while a reader looks them up.
    let f = Arc::new(Fdb::with_seed(16, 4, 9));
    let stop = Arc::new(AtomicBool::new(false));
    let keys: Vec<(u32, MacAddr)> = (0..40)
        .map(|n| (C_VNIS[(n % 3) as usize], mac(n)))
        .collect();
    let writer = {
        let (f, stop, keys) = (f.clone(), stop.clone(), keys.clone());
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Relaxed) {
                for (n, &(vni, m)) in keys.iter().enumerate() {
                    let owner = 1 + (rounds % 2) as u16;
                    f.learn(vni, m, c_dest(owner, vni, m, n % 2 == 0), 1, NO_LIMIT);
                    if (n as u64 + rounds).is_multiple_of(3) {
                        f.remove(vni, m);
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
        for _ in 0..1000 {
            for &(vni, m) in &keys {
                if let Some(d) = f.lookup(vni, m) {
                    hits += 1;
                    assert!(
                        matches!(c_owner(vni, m, d), Some(1 | 2)),
                        "lookup({vni:#x}, {m}) = {d:?}: not a value written for this key"
                    );
                }
            }
        }
    }
    stop.store(true, Relaxed);
    let rounds = writer.join().unwrap();
    assert!(hits > 1000 && rounds > 100, "{hits} hits, {rounds} rounds");
    validate(&f).unwrap();
}
