//! Tests of the slot words: destinations' encoding, VNIs that share key words.

use super::super::test_support::*;
use super::super::*;
use super::*;
use std::collections::HashSet;

#[test]
fn dest_encoding_roundtrips() {
    for d in [
        acc(0, 0),
        acc(65535, 4095),
        acc(3, 65535),
        vtep(7),
        FdbDest::Vtep(Ipv4Addr::new(255, 255, 255, 255)),
        FdbDest::Vtep(Ipv4Addr::UNSPECIFIED),
    ] {
        assert_eq!(FdbDest::decode(d.encode()), d);
    }
    assert_eq!(acc(2, 10).to_string(), "port 2 vlan 10");
    assert_eq!(vtep(3).to_string(), "vtep 10.0.0.3");
}

#[test]
fn vnis_sharing_low_bits_are_distinct() {
    let f = Fdb::with_seed(100, 16, 3);
    let vnis = [0x00_0001, 0x01_0001, 0xff_0001, 0xff_ffff, 0];
    for (n, &v) in vnis.iter().enumerate() {
        assert_eq!(
            f.learn(v, mac(1), vtep(n as u8), 1, NO_LIMIT),
            LearnOutcome::Learned
        );
    }
    for (n, &v) in vnis.iter().enumerate() {
        assert_eq!(f.lookup(v, mac(1)), Some(vtep(n as u8)), "vni {v:#x}");
    }
    assert_eq!(f.lookup(0x02_0001, mac(1)), None);
    assert!(f.remove(0x01_0001, mac(1)));
    assert_eq!(f.lookup(0x01_0001, mac(1)), None);
    assert_eq!(f.lookup(0xff_0001, mac(1)), Some(vtep(2)));
    let listed: HashSet<u32> = f
        .entries(&FdbFilter::all(), 1)
        .iter()
        .map(|e| e.vni)
        .collect();
    assert_eq!(listed, HashSet::from([0x00_0001, 0xff_0001, 0xff_ffff, 0]));
    validate(&f).unwrap();
}
