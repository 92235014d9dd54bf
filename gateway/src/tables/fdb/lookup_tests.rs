//! Tests of the lookups. (Their timing is `benches/fdb.rs`.)

use super::super::test_support::*;
use super::super::*;
use super::*;

#[test]
fn learn_and_lookup_both_kinds() {
    let f = Fdb::new(1000, 16);
    assert_eq!(f.lookup(10, mac(1)), None);
    assert_eq!(
        f.learn(10, mac(1), acc(2, 100), 5, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(
        f.learn(10, mac(2), vtep(9), 5, NO_LIMIT),
        LearnOutcome::Learned
    );
    assert_eq!(f.lookup(10, mac(1)), Some(acc(2, 100)));
    assert_eq!(f.lookup(10, mac(2)), Some(vtep(9)));
    assert_eq!(
        f.lookup_hit(10, mac(2)),
        Some(FdbHit {
            dest: vtep(9),
            is_static: false
        })
    );
    // Same MAC, other VNI: a different entry.
    assert_eq!(f.lookup(11, mac(1)), None);
    assert_eq!(f.len(), 2);
    assert_eq!(f.len_vni(10), 2);
    assert_eq!(f.learned_vni(10), 2);
    assert_eq!(f.len_vni(11), 0);
    let s = f.stats();
    assert_eq!((s.learned, s.dynamic_entries, s.static_entries), (2, 2, 0));
    validate(&f).unwrap();
}
