//! Test packets for the NAT tests: built from scratch by etherparse (every checksum
//! computed in full), the seeds' trace endpoints, a checksum check against a full
//! recomputation, and the property tests' strategies.

use std::net::Ipv4Addr;

use etherparse::{
    Icmpv4Slice, Icmpv4Type, IpHeaders, IpNumber, Ipv4Header, PacketBuilder, TcpHeader,
    TcpOptionElement, UdpHeader,
};
use proptest::prelude::*;

use crate::wire::checksum;

pub(super) type Ep = (Ipv4Addr, u16);

pub(super) fn ip4(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

pub(super) fn ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    proto: IpNumber,
    opts: &[u8],
) -> IpHeaders {
    let mut h = Ipv4Header::new(0, ttl, proto, src.octets(), dst.octets()).unwrap();
    h.identification = 0x4242;
    h.dont_fragment = true;
    h.options = opts.try_into().unwrap();
    IpHeaders::Ipv4(h, Default::default())
}

/// A TCP packet built (checksums computed from scratch) by etherparse.
#[allow(clippy::too_many_arguments)]
pub(super) fn tcp_pkt(
    src: Ep,
    dst: Ep,
    ttl: u8,
    opts: &[u8],
    syn: bool,
    tcp_opts: &[TcpOptionElement],
    payload: &[u8],
) -> Vec<u8> {
    let mut t = TcpHeader::new(src.1, dst.1, 1_862_583_515, 65535);
    t.syn = syn;
    t.ack = !syn;
    t.acknowledgment_number = if syn { 0 } else { 3_626_128_582 };
    t.set_options(tcp_opts).unwrap();
    let b = PacketBuilder::ip(ipv4_header(src.0, dst.0, ttl, IpNumber::TCP, opts)).tcp_header(t);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// A UDP packet built by etherparse; `csum` false zeroes the checksum (and the
/// IP header stays valid: it does not cover it).
pub(super) fn udp_pkt(
    src: Ep,
    dst: Ep,
    ttl: u8,
    opts: &[u8],
    csum: bool,
    payload: &[u8],
) -> Vec<u8> {
    let b =
        PacketBuilder::ip(ipv4_header(src.0, dst.0, ttl, IpNumber::UDP, opts)).udp(src.1, dst.1);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    if !csum {
        let hl = usize::from(v[0] & 0x0f) * 4;
        v[hl + 6] = 0;
        v[hl + 7] = 0;
    }
    v
}

pub(super) fn echo_pkt(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    request: bool,
    id: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let b = PacketBuilder::ip(ipv4_header(src, dst, 64, IpNumber::ICMP, &[]));
    let b = if request {
        b.icmpv4_echo_request(id, seq)
    } else {
        b.icmpv4_echo_reply(id, seq)
    };
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub(super) fn icmp_error_pkt(src: Ipv4Addr, dst: Ipv4Addr, t: Icmpv4Type, quote: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ip(ipv4_header(src, dst, 63, IpNumber::ICMP, &[])).icmpv4(t);
    let mut v = Vec::new();
    b.write(&mut v, quote).unwrap();
    v
}

/// Recomputes every checksum from scratch with etherparse and checks the packet
/// against them (IPv4 header; TCP, UDP unless 0, or ICMP over the message).
pub(super) fn assert_checksums(pkt: &[u8]) {
    let (iph, rest) = Ipv4Header::from_slice(pkt).unwrap();
    assert_eq!(iph.header_checksum, iph.calc_header_checksum(), "ip");
    let l4 = &rest[..usize::from(iph.total_len) - iph.header_len()];
    match iph.protocol {
        IpNumber::TCP => {
            let (h, payload) = TcpHeader::from_slice(l4).unwrap();
            assert_eq!(
                h.checksum,
                h.calc_checksum_ipv4(&iph, payload).unwrap(),
                "tcp"
            );
        }
        IpNumber::UDP => {
            let (h, payload) = UdpHeader::from_slice(l4).unwrap();
            if h.checksum != 0 {
                assert_eq!(
                    h.checksum,
                    h.calc_checksum_ipv4(&iph, payload).unwrap(),
                    "udp"
                );
            }
        }
        IpNumber::ICMP => {
            let s = Icmpv4Slice::from_slice(l4).unwrap();
            assert_eq!(
                s.checksum(),
                s.icmp_type().calc_checksum(s.payload()),
                "icmp"
            );
        }
        p => panic!("unexpected protocol {p:?}"),
    }
}

pub(super) const CLIENT: Ep = (Ipv4Addr::new(92, 234, 68, 72), 53711);
pub(super) const NODE: Ep = (Ipv4Addr::new(10, 0, 0, 4), 80);
pub(super) const INGRESS: Ep = (Ipv4Addr::new(10, 255, 0, 2), 65408);
pub(super) const CONTAINER: Ep = (Ipv4Addr::new(10, 255, 0, 6), 80);

pub(super) fn syn_opts() -> Vec<TcpOptionElement> {
    vec![
        TcpOptionElement::MaximumSegmentSize(1460),
        TcpOptionElement::Noop,
        TcpOptionElement::WindowScale(3),
        TcpOptionElement::SelectiveAcknowledgementPermitted,
    ]
}

/// Splits an etherparse-built datagram into its first fragment of `frag_payload`
/// L4 bytes (MF set, offset 0, header checksum recomputed).
pub(super) fn first_fragment(full: &[u8], frag_payload: usize) -> Vec<u8> {
    let hl = usize::from(full[0] & 0x0f) * 4;
    let mut f = full[..hl + frag_payload].to_vec();
    f[2..4].copy_from_slice(&((hl + frag_payload) as u16).to_be_bytes());
    f[6] = 0x20; // MF, offset 0 (DF cleared)
    f[7] = 0;
    f[10] = 0;
    f[11] = 0;
    let c = checksum::checksum(&f[..hl]);
    f[10..12].copy_from_slice(&c.to_be_bytes());
    f
}

pub(super) fn ep() -> impl Strategy<Value = Ep> {
    (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| (ip4(a), p))
}

pub(super) fn ip_opts() -> impl Strategy<Value = Vec<u8>> {
    (0usize..=10).prop_map(|w| vec![1u8; w * 4])
}
