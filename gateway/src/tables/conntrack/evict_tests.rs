//! Tests of eviction and take-over when the table or a window is full.

use super::super::test_support::*;
use super::super::{Conn, CtInsertError, Dir, Timeouts};
use super::*;
use std::sync::{Arc, Mutex};

#[test]
fn full_table_refuses_and_counts() {
    let t = Conntrack::with_seed(100, Timeouts::default(), 9);
    for n in 0..100 {
        insert_assured(&t, &conn(n, true), 1);
    }
    assert_eq!(t.len(), 100);
    assert_eq!(
        t.insert(&conn(100, true), CtState::SynSent, 2),
        Err(CtInsertError::Full)
    );
    assert_eq!(
        t.insert(&conn(101, false), CtState::SynSent, 2),
        Err(CtInsertError::Full)
    );
    let s = t.stats();
    assert_eq!((s.created, s.refused, s.evicted, s.expired), (100, 2, 0, 0));
    assert!(t.lookup(&conn(100, true).original_key()).is_none());
    validate(&t).unwrap();
    // Once the established entries have expired, an insert reclaims one itself.
    let hit = t
        .insert(&conn(100, true), CtState::SynSent, 1 + 7440)
        .unwrap();
    assert_eq!(t.stats().expired, 1);
    assert_eq!(t.len(), 100);
    assert_eq!(t.lookup(&conn(100, true).reply_key()).unwrap().idx, hit.idx);
    validate(&t).unwrap();
}

/// The ACK flood of the edge-hardening issue: a table filled by spoofed
/// mid-stream segments (picked up, never answered) does not lock out new
/// clients: each new one evicts the oldest stranger, assured connections stay.
#[test]
fn a_table_full_of_unassured_pickups_admits_new_connections() {
    let t = Conntrack::with_seed(64, Timeouts::default(), 21);
    for n in 0..8 {
        insert_assured(&t, &conn(n, true), 1);
    }
    let mut flood = 0;
    for n in 1000..1000 + 64 {
        if t.insert(&conn(n, true), CtState::Established, 2).is_ok() {
            flood += 1;
        }
    }
    assert_eq!(t.len(), 64, "{flood} pick-ups fill the table");
    let s = t.stats();
    assert_eq!((s.assured, s.unassured()), (8, 56));
    for n in 100..140 {
        let hit = t
            .insert(&conn(n, true), CtState::SynSent, 3)
            .expect("a new client is admitted");
        assert!(!hit.assured);
    }
    let s = t.stats();
    assert_eq!(s.refused, 0);
    assert!(s.early_evicted >= 40, "{s:?}");
    assert_eq!(s.early_evicted, s.evicted);
    for n in 0..8 {
        let h = t.lookup(&conn(n, true).original_key()).unwrap();
        assert!(h.assured && h.state == CtState::Established);
    }
    validate(&t).unwrap();
    // And the pick-ups that are left expire after the SYN timeout, the assured
    // ones only after the established timeout.
    let to = Timeouts::default();
    t.sweep(3 + to.syn, |_| to, |_| {});
    assert_eq!(t.len(), 8);
    assert_eq!(t.stats().assured, 8);
    validate(&t).unwrap();
}

#[test]
fn an_idle_unassured_connection_gives_up_its_reply_key() {
    let t = Conntrack::with_seed(64, Timeouts::default(), 22);
    // Two flows of other clients drawing the same SNAT port towards one backend.
    let holder = conn(7, true);
    let newcomer = Conn {
        client: sa([198, 51, 100, 9], 40000),
        ..holder
    };
    assert_eq!(holder.reply_key(), newcomer.reply_key());
    t.insert(&holder, CtState::Established, 10).unwrap();
    // Not yet idle for a second: kept.
    assert_eq!(
        t.insert(&newcomer, CtState::SynSent, 10),
        Err(CtInsertError::KeyConflict)
    );
    // Idle: taken over.
    let hit = t.insert(&newcomer, CtState::SynSent, 11).unwrap();
    assert_eq!(t.lookup(&holder.original_key()), None);
    assert_eq!(t.lookup(&newcomer.reply_key()).unwrap().idx, hit.idx);
    let s = t.stats();
    assert_eq!((s.early_evicted, s.evicted, s.conflicts), (1, 1, 1));
    // An assured holder is never taken over, however idle.
    let t = Conntrack::with_seed(64, Timeouts::default(), 22);
    insert_assured(&t, &holder, 10);
    assert_eq!(
        t.insert(&newcomer, CtState::SynSent, 500),
        Err(CtInsertError::KeyConflict)
    );
    assert!(t.lookup(&holder.original_key()).is_some());
    // Nor a finished one (TIME_WAIT keeps its port, as in Linux NAT).
    let t = Conntrack::with_seed(64, Timeouts::default(), 22);
    t.insert(&holder, CtState::TimeWait, 10).unwrap();
    assert_eq!(
        t.insert(&newcomer, CtState::SynSent, 20),
        Err(CtInsertError::KeyConflict)
    );
    validate(&t).unwrap();
}

#[test]
fn eviction_order_expired_then_half_open_oldest_then_finished_never_established() {
    let to = Timeouts {
        syn: 1000,
        established: 1000,
        closing: 1000,
        time_wait: 1000,
        closed: 30,
        udp: 1000,
        udp_replied: 1000,
    };
    // Capacity 5: two buckets, so every entry is in every insert's window.
    let released = Arc::new(Mutex::new(Vec::new()));
    let r2 = released.clone();
    let mut t = Conntrack::with_seed(5, to, 11);
    t.release = Some(Box::new(move |c: &Conn| {
        r2.lock().unwrap().push(c.client.port())
    }));
    assert_eq!(t.buckets.len(), 2);
    let ins = |n: u32, st, now| t.insert(&conn(n, true), st, now).unwrap();
    insert_assured(&t, &conn(1, true), 1); // oldest of all, never evicted
    ins(2, CtState::SynSent, 10);
    ins(3, CtState::Closed, 100); // expired at 130, although the newest
    ins(4, CtState::UdpNew, 12);
    ins(5, CtState::TimeWait, 20); // finished
    let order = |n: u32| {
        t.insert(&conn(n, true), CtState::Established, 140)
            .map(|h| {
                // Assured at once, so that it is not the next victim.
                t.observe(
                    &CtHit {
                        dir: Dir::Reply,
                        ..h
                    },
                    ACK,
                    140,
                );
                *released.lock().unwrap().last().unwrap()
            })
    };
    assert_eq!(order(10), Ok(3), "expired first");
    assert_eq!(order(11), Ok(2), "then the oldest half-open (SynSent @10)");
    assert_eq!(order(12), Ok(4), "then UdpNew @12");
    assert_eq!(order(13), Ok(5), "then the finished TimeWait");
    assert_eq!(order(14), Err(CtInsertError::Full), "only established left");
    let s = t.stats();
    assert_eq!((s.expired, s.evicted, s.refused), (1, 3, 1));
    assert_eq!(t.len(), 5);
    assert!(t.lookup(&conn(1, true).original_key()).is_some());
    assert_eq!(released.lock().unwrap().len(), 4);
    validate(&t).unwrap();
}

#[test]
fn window_full_evicts_from_the_window_only() {
    // A table with plenty of entries but keys crammed into a few buckets is not
    // reachable with random hashing; instead fill until the first key-slot
    // failure and check that a half-open entry in the window makes room.
    let t = Conntrack::with_seed(2000, Timeouts::default(), 13);
    let mut n = 0;
    loop {
        match t.insert(&conn(n, true), CtState::SynSent, 1) {
            Ok(_) => n += 1,
            Err(CtInsertError::Full) => unreachable!("half-open entries are evictable"),
            Err(e) => panic!("{e}"),
        }
        if t.stats().evicted > 0 {
            break;
        }
        assert!(n < 10_000, "no eviction");
    }
    let s = t.stats();
    assert_eq!(s.refused, 0);
    assert_eq!(t.len() as u64, s.created - s.evicted);
    validate(&t).unwrap();
}
