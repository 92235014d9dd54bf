//! Tests of the conn packing: round trips, keys, the decoders of a hit.

use super::super::key::{entry_key, pack_key};
use super::super::test_support::*;
use super::super::{Conntrack, Timeouts};
use super::*;

#[test]
fn conn_packing_round_trips_and_keys() {
    let c = trace_conn();
    assert_eq!(Conn::unpack(&c.pack()), c);
    let p = Conn {
        snat: None,
        owner: 0xffff,
        service: u32::MAX,
        backend_id: 7,
        ..c
    };
    assert_eq!(Conn::unpack(&p.pack()), p);
    for x in [c, p] {
        let w = x.pack();
        assert_eq!(entry_key(&w, false), pack_key(&x.original_key()));
        assert_eq!(entry_key(&w, true), pack_key(&x.reply_key()));
    }
    let rk = c.reply_key();
    assert_eq!(
        (rk.src, rk.src_port, rk.dst, rk.dst_port),
        (
            Ipv4Addr::new(10, 255, 0, 6),
            80,
            Ipv4Addr::new(10, 255, 0, 2),
            65408
        )
    );
    let rk = p.reply_key();
    assert_eq!(
        (rk.dst, rk.dst_port),
        (Ipv4Addr::new(92, 234, 68, 72), 53711)
    );
}

#[test]
fn a_hit_decodes_the_fields_of_its_conn() {
    let t = Conntrack::with_seed(64, Timeouts::default(), 7);
    for c in [
        trace_conn(),
        Conn {
            snat: None,
            ..trace_conn()
        },
    ] {
        let hit = t.insert(&c, CtState::SynSent, 100).unwrap();
        for h in [hit, t.lookup(&c.reply_key()).unwrap()] {
            assert_eq!(h.conn(), c);
            assert_eq!(
                (
                    h.client(),
                    h.published(),
                    h.backend(),
                    h.snat(),
                    h.backend_id()
                ),
                (c.client, c.published, c.backend, c.snat, c.backend_id)
            );
        }
        t.remove(hit.idx, hit.gen).unwrap();
    }
}
