//! Tests of learning: refreshes, moves, static entries, the limit, refused sources.

use super::super::test_support::*;
use super::super::*;
use super::*;

#[test]
fn refresh_writes_nothing_in_the_same_second_and_only_last_seen_later() {
    let f = Fdb::with_seed(1000, 16, 5);
    for n in 0..50 {
        f.learn(7, mac(n), vtep(1), 100, NO_LIMIT);
    }
    let before = words(&f);
    for _ in 0..1000 {
        assert_eq!(
            f.learn(7, mac(3), vtep(1), 100, NO_LIMIT),
            LearnOutcome::Refreshed
        );
    }
    // An older clock (a worker a tick behind) writes nothing either.
    assert_eq!(
        f.learn(7, mac(3), vtep(1), 99, NO_LIMIT),
        LearnOutcome::Refreshed
    );
    assert_eq!(words(&f), before, "a same-second refresh stored something");

    assert_eq!(
        f.learn(7, mac(3), vtep(1), 101, NO_LIMIT),
        LearnOutcome::Refreshed
    );
    let after = words(&f);
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    assert_eq!(changed.len(), 1, "only one word may change");
    assert_eq!(after[changed[0]], 101);
    let p = f.pos(7, mac(3).to_u64());
    let (bi, i, _) = f.find(&p).unwrap();
    assert_eq!(f.last_seen[bi].0[i].load(Relaxed), 101);
    let e = f.entries(&FdbFilter::all().vni(7), 110);
    let e3 = e.iter().find(|e| e.mac == mac(3)).unwrap();
    assert_eq!((e3.last_seen, e3.age, e3.dest), (101, 9, vtep(1)));
    assert_eq!(f.stats().learned, 50);
}

#[test]
fn move_is_counted_and_updates_dest_and_time() {
    let f = Fdb::new(100, 4);
    f.learn(1, mac(1), acc(1, 0), 10, NO_LIMIT);
    assert_eq!(
        f.learn(1, mac(1), vtep(4), 12, NO_LIMIT),
        LearnOutcome::Moved
    );
    assert_eq!(f.lookup(1, mac(1)), Some(vtep(4)));
    assert_eq!(
        f.learn(1, mac(1), acc(1, 5), 12, NO_LIMIT),
        LearnOutcome::Moved
    );
    assert_eq!(f.lookup(1, mac(1)), Some(acc(1, 5)));
    let s = f.stats();
    assert_eq!((s.learned, s.moved, s.dynamic_entries), (1, 2, 1));
    assert_eq!(f.entries(&FdbFilter::all(), 12)[0].last_seen, 12);
    // A move does not need room under the limit.
    assert_eq!(f.learn(1, mac(1), vtep(1), 13, 1), LearnOutcome::Moved);
    validate(&f).unwrap();
}

#[test]
fn static_wins_over_learning() {
    let f = Fdb::new(100, 4);
    // A learned entry becomes static.
    f.learn(1, mac(1), acc(1, 0), 10, NO_LIMIT);
    f.add_static(1, mac(1), vtep(2)).unwrap();
    assert_eq!(f.learned_vni(1), 0);
    assert_eq!(f.len_vni(1), 1);
    let before = words(&f);
    assert_eq!(
        f.learn(1, mac(1), vtep(2), 11, NO_LIMIT),
        LearnOutcome::StaticKept
    );
    assert_eq!(
        words(&f),
        before,
        "a static MAC on its own dest writes nothing"
    );
    assert_eq!(
        f.learn(1, mac(1), acc(3, 3), 11, NO_LIMIT),
        LearnOutcome::StaticRefused
    );
    assert_eq!(
        f.learn(1, mac(1), acc(3, 3), 12, NO_LIMIT),
        LearnOutcome::StaticRefused
    );
    assert_eq!(words(&f), before, "nor one on another dest");
    assert_eq!(
        f.lookup_hit(1, mac(1)),
        Some(FdbHit {
            dest: vtep(2),
            is_static: true
        })
    );
    let s = f.stats();
    assert_eq!((s.moved, s.static_entries), (0, 1));
    // A static add on a new MAC, then replacing its dest.
    f.add_static(1, mac(2), acc(1, 1)).unwrap();
    f.add_static(1, mac(2), acc(1, 2)).unwrap();
    assert_eq!(f.lookup(1, mac(2)), Some(acc(1, 2)));
    assert_eq!(f.stats().static_entries, 2);
    let e = f.entries(&FdbFilter::all().static_only(), 50);
    assert_eq!(e.len(), 2);
    assert!(e.iter().all(|e| e.is_static && e.age == 0));
    validate(&f).unwrap();
}

#[test]
fn learn_limit_per_vni() {
    let f = Fdb::new(1000, 16);
    for n in 0..5 {
        assert_eq!(f.learn(1, mac(n), vtep(1), 1, 5), LearnOutcome::Learned);
    }
    assert_eq!(f.learn(1, mac(5), vtep(1), 1, 5), LearnOutcome::LimitHit);
    assert_eq!(f.learn(1, mac(6), vtep(1), 1, 5), LearnOutcome::LimitHit);
    assert_eq!(f.lookup(1, mac(5)), None);
    // Known MACs still refresh and move at the limit.
    assert_eq!(f.learn(1, mac(0), vtep(1), 2, 5), LearnOutcome::Refreshed);
    assert_eq!(f.learn(1, mac(0), vtep(2), 2, 5), LearnOutcome::Moved);
    // Another VNI is unaffected.
    for n in 0..20 {
        assert_eq!(f.learn(2, mac(n), vtep(1), 1, 5_000), LearnOutcome::Learned);
    }
    assert_eq!(f.learned_vni(1), 5);
    assert_eq!(f.learned_vni(2), 20);
    // Room again after a removal; a raised limit applies at once.
    assert!(f.remove(1, mac(4)));
    assert_eq!(f.learn(1, mac(5), vtep(1), 3, 5), LearnOutcome::Learned);
    assert_eq!(f.learn(1, mac(6), vtep(1), 3, 5), LearnOutcome::LimitHit);
    assert_eq!(f.learn(1, mac(6), vtep(1), 3, 6), LearnOutcome::Learned);
    let before = words(&f);
    assert_eq!(f.learn(1, mac(7), vtep(1), 3, 0), LearnOutcome::LimitHit);
    assert_eq!(
        words(&f),
        before,
        "a refusal writes nothing, counters included"
    );
    validate(&f).unwrap();
}

#[test]
fn group_and_zero_sources_are_refused() {
    let f = Fdb::new(100, 4);
    let group = [
        MacAddr::BROADCAST,
        "01:00:5e:00:00:fb".parse().unwrap(),
        "33:33:00:00:00:01".parse().unwrap(),
        MacAddr::ZERO,
    ];
    for m in group {
        assert_eq!(
            f.learn(1, m, vtep(1), 1, NO_LIMIT),
            LearnOutcome::NotUnicast,
            "{m}"
        );
        assert_eq!(f.add_static(1, m, vtep(1)), Err(FdbError::NotUnicast));
        assert_eq!(f.lookup(1, m), None);
    }
    assert_eq!(
        f.learn(0, MacAddr::ZERO, vtep(1), 1, NO_LIMIT),
        LearnOutcome::NotUnicast
    );
    assert_eq!(
        f.lookup(0, MacAddr::ZERO),
        None,
        "key 0 is a free slot, never a hit"
    );
    assert_eq!(
        f.add_static(1 << 24, mac(1), vtep(1)),
        Err(FdbError::BadVni)
    );
    assert!(f.is_empty());
    assert_eq!(
        words(&f),
        words(&Fdb::new(100, 4)),
        "refusals write nothing"
    );
}
