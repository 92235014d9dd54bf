//! Tests of the checksum delta.

use proptest::prelude::*;

use super::*;
use crate::wire::checksum;

proptest! {
    /// The branch-free fold of `Delta::apply` equals the general one.
    #[test]
    fn delta_apply_equals_fold(csum in any::<u16>(), words in proptest::collection::vec(any::<(u16, u16)>(), 0..64)) {
        let mut d = Delta::default();
        for &(o, n) in &words { d.word(o, n); }
        prop_assert_eq!(d.apply(csum), !checksum::fold(u64::from(!csum) + d.0));
    }
}
