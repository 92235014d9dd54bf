//! Tests of inserts of a flow already tracked and of conflicting keys.

use super::super::test_support::*;
use super::super::Timeouts;
use super::*;

#[test]
fn insert_of_a_tracked_flow_returns_the_existing_entry() {
    let t = Conntrack::with_seed(64, Timeouts::default(), 7);
    let c = trace_conn();
    let first = t.insert(&c, CtState::SynSent, 1).unwrap();
    // Another worker raced with another SNAT port: the first entry wins.
    let other = Conn {
        snat: Some(sa([10, 255, 0, 2], 1111)),
        owner: 5,
        ..c
    };
    match t.insert(&other, CtState::SynSent, 1) {
        Err(CtInsertError::Exists(h)) => {
            assert_eq!((h.idx, h.gen, h.conn()), (first.idx, first.gen, c))
        }
        r => panic!("{r:?}"),
    }
    // Its reply key (a different SNAT port) was not published.
    assert!(t.lookup(&other.reply_key()).is_none());
    // A different flow whose reply key is taken: conflict (preserve mode, two
    // published ports on the same backend port, same client port).
    let p1 = Conn { snat: None, ..c };
    let p2 = Conn {
        snat: None,
        published: sa([10, 0, 0, 4], 8080),
        ..c
    };
    t.remove(first.idx, first.gen).unwrap();
    t.insert(&p1, CtState::SynSent, 1).unwrap();
    assert_eq!(
        t.insert(&p2, CtState::SynSent, 1),
        Err(CtInsertError::KeyConflict)
    );
    let s = t.stats();
    assert_eq!((s.created, s.exists, s.conflicts, s.removed), (2, 1, 1, 1));
    assert_eq!(t.len(), 1);
    validate(&t).unwrap();
}

#[test]
fn a_connections_events_count_on_its_owners_stripe() {
    // Workers 3 and 7 insert, assure, remove and are refused: every counter and
    // gauge moves on their two stripes only (the entries, spread over the table,
    // would have written every stripe), and the sums are the table's.
    let t = Conntrack::with_seed(64, Timeouts::default(), 7);
    let mut hits = Vec::new();
    for n in 0..40u32 {
        let c = Conn {
            owner: if n % 2 == 0 { 3 } else { 7 },
            ..conn(n, true)
        };
        hits.push(insert_assured(&t, &c, 1));
    }
    for h in &hits[..10] {
        assert!(t.remove(h.idx, h.gen).is_some());
    }
    // Worker 7 races worker 3's connection 20: counted on 7's stripe.
    let c = Conn {
        owner: 7,
        ..conn(20, true)
    };
    assert!(matches!(
        t.insert(&c, CtState::Established, 1),
        Err(CtInsertError::Exists(_))
    ));
    let used: Vec<usize> = t
        .counters
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            b.events.iter().any(|e| e.load(Relaxed) != 0)
                || b.states.iter().any(|g| g.load(Relaxed) != 0)
                || b.assured.load(Relaxed) != 0
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(used, [3, 7]);
    let s = t.stats();
    assert_eq!((s.created, s.removed, s.exists), (40, 10, 1));
    assert_eq!((s.in_state(CtState::Established), s.assured), (30, 30));
    validate(&t).unwrap();
}
