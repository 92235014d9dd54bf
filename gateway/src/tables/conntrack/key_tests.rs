//! Tests of the keys and the summaries.

use super::super::test_support::*;
use super::super::{CtHit, CtState, Timeouts};
use super::*;
use proptest::prelude::*;

proptest! {
    #[test]
    fn a_key_packed_from_the_wire_is_the_key_packed(
        proto: u8, src: u32, dst: u32, src_port: u16, dst_port: u16
    ) {
        let k = FlowKey { proto, src: src.into(), dst: dst.into(), src_port, dst_port };
        let wire = PackedKey::from_wire(
            (src as u64) << 32 | dst as u64,
            (src_port as u32) << 16 | dst_port as u32,
            proto,
        );
        prop_assert_eq!(wire, PackedKey::of(&k));
        prop_assert_eq!(wire.proto(), proto);
    }
}

#[test]
fn summaries_hold_every_key_and_rule_out_most_absent_ones() {
    // A full table: 75 % of the key slots.
    let t = Conntrack::with_seed(4096, Timeouts::default(), 5);
    let hits: Vec<CtHit> = (0..4096)
        .map(|n| {
            t.insert(&conn(n, n % 2 == 0), CtState::Established, 1)
                .unwrap()
        })
        .collect();
    validate(&t).unwrap();
    let absent: Vec<FlowKey> = (0..8192)
        .map(|i| conn(100_000 + i, true).original_key())
        .collect();
    let ruled_out = absent
        .iter()
        .filter(|k| {
            let p = t.pos(&pack_key(k));
            !t.summary[p.b1].holds(p.tag) && !t.summary[p.b2].holds(p.tag)
        })
        .count();
    // ~11 bits of 64 set in each word read, a key's two both set in ~2.6 % of
    // them: ~95 % ruled out (one bit a key: ~84 %).
    assert!(
        ruled_out * 100 > absent.len() * 92,
        "{ruled_out} of {}",
        absent.len()
    );
    let mut out = vec![None; absent.len()];
    t.lookup_burst(&absent, &mut out);
    assert!(out.iter().all(|h| h.is_none()));
    // Removals clear their bits (validate recomputes every word); what is left
    // is still found, what was removed is not.
    for h in hits.iter().step_by(2) {
        t.remove(h.idx, h.gen).unwrap();
    }
    validate(&t).unwrap();
    let keys: Vec<FlowKey> = (0..4096)
        .flat_map(|n| {
            let c = conn(n, n % 2 == 0);
            [c.original_key(), c.reply_key()]
        })
        .collect();
    let mut out = vec![None; keys.len()];
    t.lookup_burst(&keys, &mut out);
    for (i, h) in out.iter().enumerate() {
        assert_eq!(h.is_some(), (i / 2) % 2 == 1, "key {i}");
    }
}
