//! Tests that hold for every NAT function: a refusal leaves the packet untouched,
//! and no input, however malformed, makes any of them panic.

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::test_packets::*;
use super::*;
use crate::wire::checksum;
use crate::wire::WireError;

#[test]
fn rejections_leave_packet_untouched() {
    let mut icmp = echo_pkt(CLIENT.0, NODE.0, true, 1, 1, b"");
    let c = icmp.clone();
    assert_eq!(
        rewrite(&mut icmp, Some(INGRESS), None, false),
        Err(NatError::NotTcpUdp)
    );
    assert_eq!(clamp_mss(&mut icmp, 1000), Err(NatError::NotTcp));
    assert_eq!(
        translate_icmp_error(&mut icmp, Some(NODE.0), None, None, None),
        Err(NatError::NotIcmpError)
    );
    assert_eq!(parse_icmp_error(&icmp), None);
    assert_eq!(icmp, c);
    let mut tcp = tcp_pkt(CLIENT, NODE, 64, &[], true, &[], b"");
    assert_eq!(
        rewrite_icmp_echo(&mut tcp, Some(NODE.0), None, None),
        Err(NatError::NotIcmpEcho)
    );
    // Truncated L4: 19 TCP bytes.
    let mut short = tcp.clone();
    short.truncate(39);
    short[3] = 39;
    assert_eq!(
        rewrite(&mut short, Some(INGRESS), None, false),
        Err(NatError::Truncated)
    );
    // Slice shorter than total length.
    assert_eq!(
        rewrite(&mut tcp[..30], Some(INGRESS), None, false),
        Err(NatError::Truncated)
    );
    assert_eq!(
        rewrite(&mut tcp[..19], Some(INGRESS), None, false),
        Err(NatError::Truncated)
    );
    let mut bad = tcp.clone();
    bad[0] = 0x65;
    assert_eq!(
        rewrite(&mut bad, Some(INGRESS), None, false),
        Err(NatError::Malformed)
    );
    bad[0] = 0x44;
    assert_eq!(
        rewrite(&mut bad, Some(INGRESS), None, false),
        Err(NatError::Malformed)
    );
    assert_eq!(NatError::Suppressed.to_string(), "icmp_error_suppressed");
    assert_eq!(NatError::Suppressed.index(), NatError::COUNT - 1);
    assert_eq!(NatError::from(WireError::Malformed), NatError::Malformed);
}

proptest! {
    /// No input makes any function panic; half the inputs get a plausible outer
    /// IPv4 header and a third a plausible quoted one, so the deep paths run.
    #[test]
    fn arbitrary_bytes_never_panic(
        mut data in proptest::collection::vec(any::<u8>(), 0..160),
        fix in 0u8..4, proto in prop::sample::select(vec![1u8, 6, 17, 47]),
        ihl in 5u8..8, r in any::<u16>(), etype in prop::sample::select(vec![0u8, 3, 8, 11, 12, 5]),
        eproto in prop::sample::select(vec![1u8, 6, 17]), ihl2 in 4u8..7, out_len in 0usize..120,
        a in proptest::option::of(ep()), b in proptest::option::of(ep()), ttl_dec in any::<bool>(),
    ) {
        if fix > 0 && data.len() >= 20 {
            let hl = usize::from(ihl) * 4;
            data[0] = 0x40 | ihl;
            let tl = (hl + usize::from(r) % 140).min(data.len());
            data[2..4].copy_from_slice(&(tl as u16).to_be_bytes());
            data[9] = proto;
            if fix > 1 {
                data[6] &= 0xe0; // offset 0
                data[7] = 0;
                if let Some(t) = data.get_mut(hl) { *t = etype; }
                if let Some(e) = data.get_mut(hl + 8) { *e = 0x40 | ihl2; }
                if let Some(e) = data.get_mut(hl + 8 + 9) { *e = eproto; }
                if fix > 2 { if let Some(e) = data.get_mut(hl + 8 + 6) { *e &= 0xe0; }
                    if let Some(e) = data.get_mut(hl + 8 + 7) { *e = 0; } }
            }
        }
        let orig = data.clone();
        let mut d = data.clone();
        let _ = parse_flow(&d);
        let _ = parse_icmp_error(&d);
        let res = rewrite(&mut d, a, b, ttl_dec);
        if res.is_err() { prop_assert_eq!(&d, &orig); }
        let _ = rewrite_src(&mut d, Ipv4Addr::LOCALHOST, 1);
        let _ = rewrite_dst(&mut d, Ipv4Addr::LOCALHOST, 2);
        let mut d = orig.clone();
        if rewrite_icmp_echo(&mut d, a.map(|x| x.0), b.map(|x| x.0), a.map(|x| x.1)).is_err() {
            prop_assert_eq!(&d, &orig);
        }
        let mut d = orig.clone();
        if translate_icmp_error(&mut d, a.map(|x| x.0), b.map(|x| x.0), a, b).is_err() {
            prop_assert_eq!(&d, &orig);
        }
        let mut d = orig.clone();
        let _ = clamp_mss(&mut d, r);
        let _ = decrement_ttl(&mut d);
        let mut out = vec![0u8; out_len];
        if let Ok(n) = build_icmp_frag_needed(&mut out, &orig, Ipv4Addr::LOCALHOST, r) {
            prop_assert!(n <= out_len && n <= ICMP_ERROR_MAX_LEN);
            prop_assert!(checksum::sum(&out[..20]) == 0xffff);
            prop_assert!(checksum::sum(&out[20..n]) == 0xffff);
        }
        let _ = build_icmp_time_exceeded(&mut out, &orig, Ipv4Addr::LOCALHOST);
    }
}
