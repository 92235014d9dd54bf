//! Tests of the TCP/UDP rewrite: the seeds' trace, one-sided and UDP rewrites, the
//! TTL, first fragments, equality with a full recomputation, and its timing.

use proptest::prelude::*;

use super::super::test_packets::*;
use super::super::{decrement_ttl, parse_flow};
use super::*;
use crate::wire::checksum;

/// The seeds' trace: client 92.234.68.72:53711 -> node 10.0.0.4:80 arrives at
/// container 10.255.0.6:80 from ingress endpoint 10.255.0.2:65408, and the
/// container's SYN-ACK goes back to the client from 10.0.0.4:80.
#[test]
fn swarm_routing_mesh_trace() {
    let opts = syn_opts();
    // Forward: DNAT + SNAT + routed hop, one pass.
    let mut p = tcp_pkt(CLIENT, NODE, 128, &[], true, &opts, b"");
    assert_checksums(&p);
    let r = rewrite(&mut p, Some(INGRESS), Some(CONTAINER), true).unwrap();
    assert_eq!(
        r.before,
        Flow {
            proto: 6,
            src: CLIENT.0,
            src_port: CLIENT.1,
            dst: NODE.0,
            dst_port: NODE.1
        }
    );
    assert_eq!((r.l4_offset, r.ttl), (20, 127));
    assert_checksums(&p);
    assert_eq!(p, tcp_pkt(INGRESS, CONTAINER, 127, &[], true, &opts, b""));
    assert_eq!(parse_flow(&p).unwrap().reversed().src, CONTAINER.0);

    // Reverse: the SYN-ACK un-NATed back to the client.
    let mut p = tcp_pkt(
        CONTAINER,
        INGRESS,
        64,
        &[],
        false,
        &[],
        b"HTTP/1.1 200 OK\r\n",
    );
    let r = rewrite(&mut p, Some(NODE), Some(CLIENT), true).unwrap();
    assert_eq!(
        r.before.reversed(),
        parse_flow(&tcp_pkt(INGRESS, CONTAINER, 1, &[], true, &[], b"")).unwrap()
    );
    assert_checksums(&p);
    assert_eq!(
        p,
        tcp_pkt(NODE, CLIENT, 63, &[], false, &[], b"HTTP/1.1 200 OK\r\n")
    );
}

#[test]
fn one_sided_rewrites_and_udp() {
    let mut p = udp_pkt(CLIENT, (NODE.0, 53), 64, &[], true, b"query");
    rewrite_dst(&mut p, CONTAINER.0, 5353).unwrap();
    assert_eq!(
        p,
        udp_pkt(CLIENT, (CONTAINER.0, 5353), 64, &[], true, b"query")
    );
    rewrite_src(&mut p, INGRESS.0, INGRESS.1).unwrap();
    assert_eq!(
        p,
        udp_pkt(INGRESS, (CONTAINER.0, 5353), 64, &[], true, b"query")
    );
    assert_checksums(&p);
    // No checksum stays no checksum.
    let mut p = udp_pkt(CLIENT, NODE, 64, &[], false, b"x");
    rewrite(&mut p, Some(INGRESS), Some(CONTAINER), false).unwrap();
    assert_eq!(p, udp_pkt(INGRESS, CONTAINER, 64, &[], false, b"x"));
    assert_eq!(&p[26..28], &[0, 0]);
}

/// A UDP rewrite whose result is 0 must be sent as 0xffff: search for a port
/// that makes the checksum come out at 0 (the full computation gives 0xffff).
#[test]
fn udp_zero_result_becomes_ffff() {
    let p0 = udp_pkt(CLIENT, NODE, 64, &[], true, b"zero");
    let c0 = rd16(&p0, 26);
    // Changing the source port from s to s' changes the sum by s' - s; pick s'
    // so the new sum is 0xffff (checksum 0): s' = s + c0 (ones' complement).
    let target = checksum::fold(u64::from(CLIENT.1) + u64::from(c0));
    let mut p = p0.clone();
    rewrite_src(&mut p, CLIENT.0, target).unwrap();
    assert_eq!(rd16(&p, 26), 0xffff);
    assert_eq!(p, udp_pkt((CLIENT.0, target), NODE, 64, &[], true, b"zero"));
    assert_checksums(&p);
}

#[test]
fn ttl_handling() {
    for ttl in [0u8, 1] {
        let mut p = tcp_pkt(CLIENT, NODE, ttl, &[], true, &[], b"");
        let copy = p.clone();
        assert_eq!(
            rewrite(&mut p, Some(INGRESS), Some(CONTAINER), true),
            Err(NatError::TtlExpired)
        );
        assert_eq!(decrement_ttl(&mut p), Err(NatError::TtlExpired));
        assert_eq!(p, copy, "untouched on TtlExpired");
        // Without ttl_dec, TTL 1 is rewritten.
        rewrite(&mut p, Some(INGRESS), Some(CONTAINER), false).unwrap();
        assert_eq!(p, tcp_pkt(INGRESS, CONTAINER, ttl, &[], true, &[], b""));
    }
    let mut p = echo_pkt(CLIENT.0, NODE.0, true, 7, 1, b"ping");
    assert_eq!(decrement_ttl(&mut p), Ok(63));
    assert_checksums(&p);
}

#[test]
fn fragments() {
    let payload: Vec<u8> = (0..200u8).collect();
    for udp in [false, true] {
        let build = |s: Ep, d: Ep| {
            if udp {
                udp_pkt(s, d, 64, &[], true, &payload)
            } else {
                tcp_pkt(s, d, 64, &[], false, &[], &payload)
            }
        };
        // The first fragment's L4 checksum (of the whole datagram) is updated
        // to the checksum of the whole rewritten datagram.
        let mut f = first_fragment(&build(CLIENT, NODE), 48);
        rewrite(&mut f, Some(INGRESS), Some(CONTAINER), true).unwrap();
        let mut expect = first_fragment(&build(INGRESS, CONTAINER), 48);
        decrement_ttl(&mut expect).unwrap();
        assert_eq!(f, expect);
        // A non-first fragment is refused, untouched.
        let mut nf = first_fragment(&build(CLIENT, NODE), 48);
        nf[7] = 6; // offset 48 bytes
        let c = nf.clone();
        assert_eq!(
            rewrite(&mut nf, Some(INGRESS), Some(CONTAINER), true),
            Err(NatError::Fragment)
        );
        assert_eq!(parse_flow(&nf), Err(NatError::Fragment));
        assert_eq!(nf, c);
    }
}

proptest! {
    /// Incremental DNAT/SNAT (+TTL) equals etherparse building the rewritten
    /// packet from scratch, for TCP, UDP with and without checksum, with IP options.
    #[test]
    fn rewrite_equals_full_recompute(
        kind in 0u8..3, src in ep(), dst in ep(), ttl in any::<u8>(), opts in ip_opts(),
        payload in proptest::collection::vec(any::<u8>(), 0..120),
        nsrc in proptest::option::of(ep()), ndst in proptest::option::of(ep()),
        ttl_dec in any::<bool>(),
    ) {
        let build = |s: Ep, d: Ep, ttl: u8| match kind {
            0 => tcp_pkt(s, d, ttl, &opts, false, &[], &payload),
            1 => udp_pkt(s, d, ttl, &opts, true, &payload),
            _ => udp_pkt(s, d, ttl, &opts, false, &payload),
        };
        let mut p = build(src, dst, ttl);
        let orig = p.clone();
        let r = rewrite(&mut p, nsrc, ndst, ttl_dec);
        if ttl_dec && ttl <= 1 {
            prop_assert_eq!(r, Err(NatError::TtlExpired));
            prop_assert_eq!(p, orig);
        } else {
            let r = r.unwrap();
            prop_assert_eq!(r.before, parse_flow(&orig).unwrap());
            let nttl = if ttl_dec { ttl - 1 } else { ttl };
            prop_assert_eq!(r.ttl, nttl);
            let expect = build(nsrc.unwrap_or(src), ndst.unwrap_or(dst), nttl);
            prop_assert_eq!(&p, &expect);
            assert_checksums(&p);
        }
    }
}
