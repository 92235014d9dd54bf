//! Tests of the ICMP errors the gateway builds: their fields, quote and checksums,
//! when they are suppressed, and that they parse back to the offending flow.

use etherparse::icmpv4::{DestUnreachableHeader, TimeExceededCode};
use etherparse::{Icmpv4Slice, Icmpv4Type, IpNumber, Ipv4Header};
use proptest::prelude::*;

use super::super::test_packets::*;
use super::super::{parse_flow, parse_icmp_error};
use super::*;

fn check_built_error(out: &[u8], original: &[u8], our: Ipv4Addr, expect_type: Icmpv4Type) {
    assert_checksums(out);
    let (h, rest) = Ipv4Header::from_slice(out).unwrap();
    let (oh, _) = Ipv4Header::from_slice(original).unwrap();
    assert_eq!(usize::from(h.total_len), out.len());
    assert_eq!(
        (h.source, h.destination, h.time_to_live),
        (our.octets(), oh.source, 64)
    );
    assert_eq!(h.protocol, IpNumber::ICMP);
    let s = Icmpv4Slice::from_slice(rest).unwrap();
    assert_eq!(s.icmp_type(), expect_type);
    let ohl = oh.header_len();
    let n = (usize::from(oh.total_len).min(original.len()) - ohl).min(8);
    assert_eq!(s.payload(), &original[..ohl + n]);
    let (qh, _) = Ipv4Header::from_slice(s.payload()).unwrap();
    assert_eq!(qh, oh);
}

#[test]
fn build_errors() {
    let mut out = [0u8; ICMP_ERROR_MAX_LEN];
    let big = tcp_pkt(CLIENT, NODE, 64, &[], false, &[], &[1; 1460]);
    let n = build_icmp_frag_needed(&mut out, &big, NODE.0, 1450).unwrap();
    assert_eq!(n, 20 + 8 + 20 + 8);
    check_built_error(
        &out[..n],
        &big,
        NODE.0,
        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 1450,
        }),
    );
    // The error, translated by parse_icmp_error, names the client's flow.
    assert_eq!(
        parse_icmp_error(&out[..n]).unwrap(),
        parse_flow(&big).unwrap()
    );
    let expired = udp_pkt(CLIENT, NODE, 1, &[1, 1, 1, 0], true, b"");
    let n = build_icmp_time_exceeded(&mut out, &expired, NODE.0).unwrap();
    assert_eq!(n, 20 + 8 + 24 + 8);
    check_built_error(
        &out[..n],
        &expired,
        NODE.0,
        Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
    );
    // Too small an output buffer.
    assert_eq!(
        build_icmp_time_exceeded(&mut out[..59], &expired, NODE.0),
        Err(NatError::BufferTooSmall)
    );
    // Suppressed: about an ICMP error, a non-first fragment, non-unicast ends.
    let err = icmp_error_pkt(
        NODE.0,
        CLIENT.0,
        Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
        &expired[..32],
    );
    assert_eq!(
        build_icmp_time_exceeded(&mut out, &err, NODE.0),
        Err(NatError::Suppressed)
    );
    let ping = echo_pkt(CLIENT.0, NODE.0, true, 1, 1, b"");
    assert!(build_icmp_time_exceeded(&mut out, &ping, NODE.0).is_ok());
    let mut nf = first_fragment(&big, 64);
    nf[7] = 8;
    assert_eq!(
        build_icmp_frag_needed(&mut out, &nf, NODE.0, 1450),
        Err(NatError::Suppressed)
    );
    for (s, d) in [
        ([224, 0, 0, 1], [10, 0, 0, 4]),
        ([10, 0, 0, 1], [255, 255, 255, 255]),
        ([0, 0, 0, 0], [10, 0, 0, 4]),
        ([127, 0, 0, 1], [10, 0, 0, 4]),
    ] {
        let p = udp_pkt((ip4(s), 1), (ip4(d), 2), 1, &[], true, b"");
        assert_eq!(
            build_icmp_time_exceeded(&mut out, &p, NODE.0),
            Err(NatError::Suppressed)
        );
    }
    assert_eq!(
        build_icmp_time_exceeded(&mut out, &big[..19], NODE.0),
        Err(NatError::Truncated)
    );
}

proptest! {
    #[test]
    fn built_errors_parse_back(
        kind in 0u8..3, src in ep(), dst in ep(), opts in ip_opts(), mtu in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..40), cut in any::<usize>(),
        our in any::<[u8; 4]>(),
    ) {
        let original = match kind {
            0 => tcp_pkt(src, dst, 1, &opts, false, &[], &payload),
            1 => udp_pkt(src, dst, 1, &opts, true, &payload),
            _ => echo_pkt(src.0, dst.0, true, src.1, 1, &payload),
        };
        // Sometimes only a prefix of the original is at hand.
        let hl = usize::from(original[0] & 0x0f) * 4;
        let len = if cut % 2 == 0 { original.len() } else { hl + cut % (original.len() - hl + 1) };
        let original = &original[..len];
        let mut out = [0u8; ICMP_ERROR_MAX_LEN];
        let suppressed = not_unicast(src.0.octets()) || not_unicast(dst.0.octets());
        match build_icmp_frag_needed(&mut out, original, ip4(our), mtu) {
            Err(NatError::Suppressed) => prop_assert!(suppressed || (kind == 2 && len == hl)),
            Err(e) => prop_assert!(false, "{e}"),
            Ok(n) => {
                prop_assert!(!suppressed);
                check_built_error(&out[..n], original, ip4(our),
                    Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: mtu }));
                let n2 = build_icmp_time_exceeded(&mut out, original, ip4(our)).unwrap();
                prop_assert_eq!(n, n2);
                check_built_error(&out[..n], original, ip4(our),
                    Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit));
            }
        }
    }
}
