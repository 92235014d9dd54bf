//! Tests of the per-VNI counts: released slots, the learn limit and static entries,
//! a full VNI table.

use super::super::test_support::*;
use super::super::*;
use crate::wire::ethernet::MacAddr;
use std::net::Ipv4Addr;

#[test]
fn released_vni_slots_are_reused_and_start_empty() {
    let f = Fdb::with_seed(4096, 4, 7);
    let m = |i: u64| MacAddr::from_u64(0x0200_0000_0000 | i);
    let dest = FdbDest::Vtep(Ipv4Addr::new(10, 0, 0, 1));
    // Without releases the table fills: a fifth VNI is refused.
    for v in 0..4 {
        f.register_vni(100 + v).unwrap();
    }
    assert_eq!(f.register_vni(200), Err(FdbError::VniTableFull));
    assert_eq!(
        f.learn(200, m(1), dest, 1, NO_LIMIT),
        LearnOutcome::TableFull
    );
    for v in 0..4 {
        assert!(f.release_vni(100 + v));
    }
    assert!(!f.release_vni(100), "released twice");
    assert_eq!(f.vnis_in_use(), 0);
    // A thousand VNIs created, used, flushed and released in turn.
    for v in 0..1000u32 {
        let vni = 1000 + v;
        f.register_vni(vni).unwrap();
        f.register_vni(vni).unwrap();
        assert_eq!(f.vnis_in_use(), 1, "registering twice takes one slot");
        assert_eq!(f.learned_vni(vni), 0, "a reused slot starts empty");
        assert_eq!(
            f.learn(vni, m(v as u64 + 1), dest, 1, 10),
            LearnOutcome::Learned
        );
        f.add_static(vni, m(0xffff), dest).unwrap();
        assert_eq!((f.len_vni(vni), f.learned_vni(vni)), (2, 1));
        assert_eq!(f.flush(&FdbFilter::all().vni(vni)), 2);
        assert!(f.release_vni(vni));
        assert_eq!(f.len_vni(vni), 0);
    }
    assert_eq!(f.vnis_in_use(), 0);
    // The table still holds four live VNIs (registered or created by a worker's
    // first learn) and refuses a fifth.
    for v in 0..3 {
        f.register_vni(5000 + v).unwrap();
    }
    f.add_static(5003, m(1), dest).unwrap();
    assert_eq!(f.learn(5000, m(2), dest, 2, 10), LearnOutcome::Learned);
    assert_eq!(f.register_vni(6000), Err(FdbError::VniTableFull));
    assert_eq!(f.len_vni(5003), 1);
    validate(&f).unwrap();
}

#[test]
fn static_entries_ignore_the_learn_limit() {
    let f = Fdb::new(100, 4);
    assert_eq!(f.learn(1, mac(1), acc(1, 0), 1, 1), LearnOutcome::Learned);
    assert_eq!(f.learn(1, mac(2), acc(1, 0), 1, 1), LearnOutcome::LimitHit);
    f.add_static(1, mac(2), acc(1, 0)).unwrap();
    f.add_static(1, mac(3), acc(1, 0)).unwrap();
    assert_eq!(f.len_vni(1), 3);
    assert_eq!(f.learned_vni(1), 1);
    validate(&f).unwrap();
}

#[test]
fn vni_table_full() {
    let f = Fdb::new(1000, 2);
    assert_eq!(
        f.learn(1, mac(1), vtep(1), 1, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(
        f.learn(2, mac(1), vtep(1), 1, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(
        f.learn(3, mac(1), vtep(1), 1, NO_LIMIT),
        LearnOutcome::TableFull
    );
    assert_eq!(
        f.add_static(3, mac(1), vtep(1)),
        Err(FdbError::VniTableFull)
    );
    // VNIs keep their slot once emptied.
    f.flush(&FdbFilter::all());
    assert_eq!(
        f.learn(2, mac(1), vtep(1), 1, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(
        f.learn(3, mac(1), vtep(1), 1, NO_LIMIT),
        LearnOutcome::TableFull
    );
}
