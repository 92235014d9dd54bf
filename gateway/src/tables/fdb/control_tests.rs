//! Tests of the control side: sweeps (ageing, flushes), removals.

use super::super::test_support::*;
use super::super::*;

#[test]
fn occupied_bytes_follow_the_sweeps() {
    let f = Fdb::with_seed(3000, 16, 9);
    let bucket = std::mem::size_of::<Bucket>();
    let all = f.capacity() / SLOTS * bucket;
    assert_eq!(f.occupied_bytes(), all, "before the first sweep: all of it");
    f.age(1, |_| 300);
    assert_eq!(f.occupied_bytes(), 0);
    f.add_static(1, mac(1), vtep(1)).unwrap();
    f.learn(1, mac(2), vtep(1), 1, NO_LIMIT);
    assert_eq!(f.occupied_bytes(), 0, "measured by sweeps only");
    f.age(2, |_| 300);
    let two = f.occupied_bytes();
    assert!(two == bucket || two == 2 * bucket, "{two}");
    for i in 3..2000 {
        f.add_static(1, mac(i), vtep(1)).unwrap();
    }
    f.age(3, |_| 300);
    assert!(
        f.occupied_bytes() > all * 9 / 10,
        "{} of {all}",
        f.occupied_bytes()
    );
    // The learned one ages out; a flush of the rest empties the table.
    f.age(1000, |_| 300);
    f.flush(&FdbFilter::default());
    f.age(1001, |_| 300);
    assert_eq!(f.occupied_bytes(), 0);
}

#[test]
fn ageing_removes_only_old_dynamic_entries_at_the_right_time() {
    let f = Fdb::new(1000, 16);
    f.learn(1, mac(1), vtep(1), 100, NO_LIMIT);
    f.learn(1, mac(2), vtep(1), 150, NO_LIMIT);
    f.learn(2, mac(1), vtep(1), 100, NO_LIMIT); // VNI 2 ages after 10 s
    f.learn(3, mac(1), vtep(1), 100, NO_LIMIT); // VNI 3 never ages (0)
    f.add_static(1, mac(3), vtep(1)).unwrap();
    let age_of = |vni: u32| match vni {
        1 => 300,
        2 => 10,
        _ => 0,
    };
    assert_eq!(f.age(109, age_of), 0);
    assert_eq!(f.age(110, age_of), 1);
    assert_eq!(f.lookup(2, mac(1)), None);
    // mac(1) seen at 100: still there at 399, gone at 400; refreshed mac(2) stays.
    f.learn(1, mac(2), vtep(1), 350, NO_LIMIT);
    assert_eq!(f.age(399, age_of), 0);
    assert_eq!(f.age(400, age_of), 1);
    assert_eq!(f.lookup(1, mac(1)), None);
    assert_eq!(f.lookup(1, mac(2)), Some(vtep(1)));
    assert_eq!(f.age(649, age_of), 0);
    assert_eq!(f.age(650, age_of), 1);
    // Static and never-ageing entries survive anything.
    assert_eq!(f.age(4_000_000_000, age_of), 0);
    assert_eq!(f.lookup(1, mac(3)), Some(vtep(1)));
    assert_eq!(f.lookup(3, mac(1)), Some(vtep(1)));
    assert_eq!(f.stats().aged, 3);
    assert_eq!(f.len(), 2);
    validate(&f).unwrap();
}

#[test]
fn ageing_across_clock_wrap_and_with_a_clock_behind() {
    let f = Fdb::new(100, 4);
    f.learn(1, mac(1), vtep(1), u32::MAX - 5, NO_LIMIT);
    f.learn(1, mac(2), vtep(1), 20, NO_LIMIT);
    // mac(2)'s last_seen is "in the future" for a sweep at 10: not aged.
    assert_eq!(f.age(3, |_| 10), 0);
    assert_eq!(f.age(4, |_| 10), 1, "10 s after u32::MAX - 5 is 4");
    assert_eq!(f.lookup(1, mac(2)), Some(vtep(1)));
    assert_eq!(f.age(29, |_| 10), 0);
    assert_eq!(f.age(30, |_| 10), 1);
    validate(&f).unwrap();
}

#[test]
fn flush_variants() {
    let f = Fdb::new(1000, 16);
    let fill = |f: &Fdb| {
        for n in 0..4 {
            f.learn(1, mac(n), vtep(1), 1, NO_LIMIT);
            f.learn(1, mac(10 + n), vtep(2), 1, NO_LIMIT);
            f.learn(2, mac(n), acc(3, 10), 1, NO_LIMIT);
            f.learn(2, mac(10 + n), acc(4, 10), 1, NO_LIMIT);
        }
        f.add_static(1, mac(20), vtep(1)).unwrap();
        f.add_static(2, mac(20), acc(3, 20)).unwrap();
    };
    fill(&f);
    assert_eq!(f.len(), 18);
    let by_vtep = FdbFilter::all().dest(DestFilter::Exact(vtep(1)));
    assert_eq!(f.entries(&by_vtep, 1).len(), 5);
    assert_eq!(f.flush(&by_vtep.dynamic_only()), 4);
    assert_eq!(f.lookup(1, mac(0)), None);
    assert_eq!(f.lookup(1, mac(10)), Some(vtep(2)));
    assert_eq!(
        f.lookup(1, mac(20)),
        Some(vtep(1)),
        "static kept by a dynamic flush"
    );
    // By port, any VLAN, static included.
    assert_eq!(f.flush(&FdbFilter::all().dest(DestFilter::Port(3))), 5);
    assert_eq!(f.lookup(2, mac(20)), None);
    assert_eq!(f.lookup(2, mac(10)), Some(acc(4, 10)));
    // By VNI.
    assert_eq!(f.flush(&FdbFilter::all().vni(2)), 4);
    assert_eq!(f.len_vni(2), 0);
    assert_eq!(f.len(), 5);
    // Everything.
    assert_eq!(f.flush(&FdbFilter::all()), 5);
    assert!(f.is_empty());
    validate(&f).unwrap();
    // Dynamic only over a full table; then static only.
    fill(&f);
    assert_eq!(f.flush(&FdbFilter::all().dynamic_only()), 16);
    assert_eq!(f.len(), 2);
    assert_eq!(f.flush(&FdbFilter::all().static_only()), 2);
    assert_eq!(f.stats().flushed, 4 + 5 + 4 + 5 + 16 + 2);
    assert_eq!(f.flush(&FdbFilter::all()), 0);
    validate(&f).unwrap();
}

#[test]
fn remove_then_relearn() {
    let f = Fdb::new(100, 4);
    f.learn(5, mac(1), vtep(1), 1, NO_LIMIT);
    f.add_static(5, mac(2), vtep(2)).unwrap();
    assert!(f.remove(5, mac(1)));
    assert!(!f.remove(5, mac(1)));
    assert!(f.remove(5, mac(2)));
    assert!(!f.remove(6, mac(1)));
    assert_eq!(f.lookup(5, mac(1)), None);
    assert!(f.is_empty());
    assert_eq!(
        f.learn(5, mac(1), vtep(3), 2, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(
        f.learn(5, mac(2), vtep(3), 2, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(
        f.lookup_hit(5, mac(2)),
        Some(FdbHit {
            dest: vtep(3),
            is_static: false
        })
    );
    assert_eq!(f.learned_vni(5), 2);
    validate(&f).unwrap();
}
