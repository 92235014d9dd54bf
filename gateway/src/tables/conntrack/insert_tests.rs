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
