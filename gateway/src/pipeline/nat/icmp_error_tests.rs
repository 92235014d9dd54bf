//! Tests of ICMP error translation: quoting UDP, TCP (its checksum quoted or not)
//! and echo, against etherparse building the translated error from scratch.

use etherparse::icmpv4::{DestUnreachableHeader, TimeExceededCode};
use etherparse::{IcmpEchoHeader, Icmpv4Type, IpNumber, Ipv4Header, PacketBuilder};
use proptest::prelude::*;

use super::super::parse_flow;
use super::super::test_packets::*;
use super::*;

/// Port unreachable from the container about a UDP datagram the gateway sent
/// (10.255.0.2:65408 -> 10.255.0.6:53), translated back for the client.
#[test]
fn icmp_port_unreachable_trace() {
    let svc = (NODE.0, 53);
    let backend = (CONTAINER.0, 53);
    let sent = udp_pkt(INGRESS, backend, 63, &[], true, b"dns query bytes");
    let t = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port);
    // Linux quotes the whole datagram (up to 576 bytes).
    let mut err = icmp_error_pkt(CONTAINER.0, INGRESS.0, t.clone(), &sent);
    assert_checksums(&err);
    let emb = parse_icmp_error(&err).unwrap();
    assert_eq!(
        emb,
        Flow {
            proto: 17,
            src: INGRESS.0,
            src_port: INGRESS.1,
            dst: backend.0,
            dst_port: 53
        }
    );
    // The reply-direction conntrack key:
    assert_eq!(
        (emb.reversed().src, emb.reversed().dst_port),
        (backend.0, INGRESS.1)
    );
    let before = translate_icmp_error(
        &mut err,
        Some(svc.0),
        Some(CLIENT.0),
        Some(CLIENT),
        Some(svc),
    )
    .unwrap();
    assert_eq!(before, emb);
    let orig = udp_pkt(CLIENT, svc, 63, &[], true, b"dns query bytes");
    assert_eq!(err, icmp_error_pkt(svc.0, CLIENT.0, t, &orig));
    assert_checksums(&err);
    // The quoted datagram is complete here, so etherparse can check its checksums too.
    assert_checksums(&err[28..]);
}

#[test]
fn icmp_error_with_tcp_quote_full_and_truncated() {
    let t = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
        next_hop_mtu: 1450,
    });
    let sent = tcp_pkt(INGRESS, CONTAINER, 63, &[], false, &[], &[7; 1000]);
    let orig = tcp_pkt(CLIENT, NODE, 63, &[], false, &[], &[7; 1000]);
    // 8 bytes (RFC 792: checksum not quoted), 12, 18 (checksum just quoted), 28.
    for q in [8usize, 12, 17, 18, 28] {
        let mut err = icmp_error_pkt(CONTAINER.0, INGRESS.0, t.clone(), &sent[..20 + q]);
        translate_icmp_error(
            &mut err,
            Some(NODE.0),
            Some(CLIENT.0),
            Some(CLIENT),
            Some(NODE),
        )
        .unwrap();
        let mut quote = orig[..20 + q].to_vec();
        if q > 16 && q < 18 {
            // Not quoted in full: whatever was there stays (the bytes that are
            // quoted are the sent packet's).
            quote[20 + 16..].copy_from_slice(&sent[20 + 16..20 + q]);
        }
        assert_eq!(
            err,
            icmp_error_pkt(NODE.0, CLIENT.0, t.clone(), &quote),
            "quote {q}"
        );
        assert_checksums(&err);
        let (eh, _) = Ipv4Header::from_slice(&err[28..]).unwrap();
        assert_eq!(eh.header_checksum, eh.calc_header_checksum());
        assert_eq!(
            (eh.source, eh.destination),
            (CLIENT.0.octets(), NODE.0.octets())
        );
    }
    // Fewer than 8 quoted bytes.
    let mut err = icmp_error_pkt(CONTAINER.0, INGRESS.0, t.clone(), &sent[..27]);
    assert_eq!(parse_icmp_error(&err), None);
    assert_eq!(
        translate_icmp_error(&mut err, None, None, Some(CLIENT), None),
        Err(NatError::Truncated)
    );
    // Quoting a non-first fragment.
    let mut nf = first_fragment(&sent, 48);
    nf[7] = 6;
    let mut err = icmp_error_pkt(CONTAINER.0, INGRESS.0, t, &nf[..28]);
    assert_eq!(
        translate_icmp_error(&mut err, None, None, Some(CLIENT), None),
        Err(NatError::Fragment)
    );
}

#[test]
fn icmp_error_quoting_echo() {
    let t = Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit);
    let sent = echo_pkt(INGRESS.0, CONTAINER.0, true, 0xbeef, 3, b"traceroute probe");
    let mut err = icmp_error_pkt(
        Ipv4Addr::new(10, 255, 0, 1),
        INGRESS.0,
        t.clone(),
        &sent[..28],
    );
    let e = parse_icmp_error(&err).unwrap();
    assert_eq!((e.proto, e.src_port, e.dst_port), (1, 0xbeef, 0xbeef));
    translate_icmp_error(
        &mut err,
        Some(NODE.0),
        Some(CLIENT.0),
        Some((CLIENT.0, 0x1234)),
        Some((NODE.0, 999)),
    )
    .unwrap();
    let orig = echo_pkt(CLIENT.0, NODE.0, true, 0x1234, 3, b"traceroute probe");
    assert_eq!(err, icmp_error_pkt(NODE.0, CLIENT.0, t, &orig[..28]));
    assert_checksums(&err);
}

proptest! {
    /// ICMP errors quoting TCP / UDP (with and without checksum) / echo, quoted
    /// in part or in full: translation equals etherparse building the error
    /// around the translated original.
    #[test]
    fn icmp_error_equals_full_recompute(
        kind in 0u8..4, etype in 0u8..3, mtu in any::<u16>(),
        osrc in any::<[u8; 4]>(), odst in any::<[u8; 4]>(),
        src in ep(), dst in ep(), opts in ip_opts(),
        payload in proptest::collection::vec(any::<u8>(), 0..80), quote in any::<usize>(),
        nosrc in proptest::option::of(any::<[u8; 4]>()), nodst in proptest::option::of(any::<[u8; 4]>()),
        nisrc in proptest::option::of(ep()), nidst in proptest::option::of(ep()),
    ) {
        let build = |s: Ep, d: Ep| match kind {
            0 => tcp_pkt(s, d, 9, &opts, false, &[], &payload),
            1 => udp_pkt(s, d, 9, &opts, true, &payload),
            2 => udp_pkt(s, d, 9, &opts, false, &payload),
            _ => {
                let p = PacketBuilder::ip(ipv4_header(s.0, d.0, 9, IpNumber::ICMP, &opts))
                    .icmpv4(Icmpv4Type::EchoRequest(IcmpEchoHeader { id: s.1, seq: 77 }));
                let mut v = Vec::new();
                p.write(&mut v, &payload).unwrap();
                v
            }
        };
        let t = match etype {
            0 => Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port),
            1 => Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: mtu }),
            _ => Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
        };
        let sent = build(src, dst);
        let hl = 20 + opts.len();
        let q = hl + 8 + quote % (sent.len() - hl - 7);
        let mut err = icmp_error_pkt(ip4(osrc), ip4(odst), t.clone(), &sent[..q]);
        let emb = parse_icmp_error(&err).unwrap();
        prop_assert_eq!(emb, parse_flow(&sent).unwrap());
        prop_assert_eq!(translate_icmp_error(&mut err, nosrc.map(ip4), nodst.map(ip4), nisrc, nidst), Ok(emb));

        // Expected: the translated original, quoted to the same length.
        let new_src = nisrc.unwrap_or(src);
        // (For an echo, build() ignores the destination port: inner_dst's is unused.)
        let new_dst = nidst.unwrap_or(dst);
        let orig = build(new_src, new_dst);
        let mut quoted = orig[..q].to_vec();
        if kind == 0 && q > hl + 16 && q < hl + 18 {
            // TCP checksum not quoted in full: the quoted bytes stay as sent.
            quoted[hl + 16..].copy_from_slice(&sent[hl + 16..q]);
        }
        let expect = icmp_error_pkt(ip4(nosrc.unwrap_or(osrc)), ip4(nodst.unwrap_or(odst)), t, &quoted);
        prop_assert_eq!(&err, &expect);
        assert_checksums(&err);
    }
}
