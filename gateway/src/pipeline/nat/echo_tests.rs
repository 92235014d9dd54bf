//! Tests of the ICMP echo rewrite, RFC 1624's all-zero corner included.

use etherparse::icmpv4::TimeExceededCode;
use etherparse::Icmpv4Type;
use proptest::prelude::*;

use super::super::test_packets::*;
use super::*;

#[test]
fn icmp_echo_rewrite() {
    let mut p = echo_pkt(CLIENT.0, NODE.0, true, 0x1234, 9, b"abcdefgh");
    let r = rewrite_icmp_echo(&mut p, Some(INGRESS.0), Some(CONTAINER.0), Some(0xbeef)).unwrap();
    assert_eq!(
        (r.before.src_port, r.before.dst_port, r.before.proto),
        (0x1234, 0x1234, 1)
    );
    assert_eq!(
        p,
        echo_pkt(INGRESS.0, CONTAINER.0, true, 0xbeef, 9, b"abcdefgh")
    );
    assert_checksums(&p);
    let mut p = echo_pkt(CONTAINER.0, INGRESS.0, false, 0xbeef, 9, b"abcdefgh");
    rewrite_icmp_echo(&mut p, Some(NODE.0), Some(CLIENT.0), Some(0x1234)).unwrap();
    assert_eq!(p, echo_pkt(NODE.0, CLIENT.0, false, 0x1234, 9, b"abcdefgh"));
    // Addresses only: the ICMP checksum does not change.
    let mut p = echo_pkt(CLIENT.0, NODE.0, true, 5, 6, b"");
    rewrite_icmp_echo(&mut p, None, Some(CONTAINER.0), None).unwrap();
    assert_eq!(p, echo_pkt(CLIENT.0, CONTAINER.0, true, 5, 6, b""));
    // RFC 1624 corner: an all-zero echo reply after the rewrite.
    let mut p = echo_pkt(CLIENT.0, NODE.0, false, 0x0001, 0, &[0; 4]);
    rewrite_icmp_echo(&mut p, None, None, Some(0)).unwrap();
    assert_eq!(rd16(&p, 22), 0xffff);
    assert_eq!(p, echo_pkt(CLIENT.0, NODE.0, false, 0, 0, &[0; 4]));
    assert_checksums(&p);
    // Not an echo.
    let mut e = icmp_error_pkt(
        NODE.0,
        CLIENT.0,
        Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
        &p[..28],
    );
    assert_eq!(
        rewrite_icmp_echo(&mut e, None, None, Some(1)),
        Err(NatError::NotIcmpEcho)
    );
}

proptest! {
    #[test]
    fn echo_equals_full_recompute(
        src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), req in any::<bool>(),
        id in any::<u16>(), seq in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        nsrc in proptest::option::of(any::<[u8; 4]>()), ndst in proptest::option::of(any::<[u8; 4]>()),
        nid in proptest::option::of(any::<u16>()),
    ) {
        let mut p = echo_pkt(ip4(src), ip4(dst), req, id, seq, &payload);
        rewrite_icmp_echo(&mut p, nsrc.map(ip4), ndst.map(ip4), nid).unwrap();
        let expect = echo_pkt(ip4(nsrc.unwrap_or(src)), ip4(ndst.unwrap_or(dst)), req, nid.unwrap_or(id), seq, &payload);
        prop_assert_eq!(&p, &expect);
        assert_checksums(&p);
    }
}
