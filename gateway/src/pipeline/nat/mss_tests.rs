//! Tests of MSS clamping, at any option alignment.

use etherparse::TcpOptionElement;
use proptest::prelude::*;

use super::super::test_packets::*;
use super::*;

#[test]
fn mss_clamp() {
    let mut p = tcp_pkt(CLIENT, NODE, 64, &[], true, &syn_opts(), b"");
    assert_eq!(clamp_mss(&mut p, 1410), Ok(Some((1460, 1410))));
    assert_checksums(&p);
    let mut o = syn_opts();
    o[0] = TcpOptionElement::MaximumSegmentSize(1410);
    assert_eq!(p, tcp_pkt(CLIENT, NODE, 64, &[], true, &o, b""));
    assert_eq!(clamp_mss(&mut p, 1410), Ok(None));
    assert_eq!(clamp_mss(&mut p, 1500), Ok(None));
    // Odd alignment: one NOP before MSS.
    let odd = [
        TcpOptionElement::Noop,
        TcpOptionElement::MaximumSegmentSize(9000),
        TcpOptionElement::Noop,
        TcpOptionElement::Noop,
        TcpOptionElement::Noop,
    ];
    let mut p = tcp_pkt(CLIENT, NODE, 64, &[1, 1, 1, 1], true, &odd, b"");
    assert_eq!(clamp_mss(&mut p, 1410), Ok(Some((9000, 1410))));
    assert_checksums(&p);
    // Not a SYN: untouched.
    let mut p = tcp_pkt(CLIENT, NODE, 64, &[], false, &syn_opts(), b"");
    let c = p.clone();
    assert_eq!(clamp_mss(&mut p, 536), Ok(None));
    assert_eq!(p, c);
}

proptest! {
    #[test]
    fn clamp_equals_full_recompute(
        nops in 0usize..4, mss in any::<u16>(), max in any::<u16>(), opts in ip_opts(),
        payload in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut o = vec![TcpOptionElement::Noop; nops];
        o.push(TcpOptionElement::MaximumSegmentSize(mss));
        let mut p = tcp_pkt(CLIENT, NODE, 64, &opts, true, &o, &payload);
        let r = clamp_mss(&mut p, max).unwrap();
        if mss > max {
            prop_assert_eq!(r, Some((mss, max)));
            *o.last_mut().unwrap() = TcpOptionElement::MaximumSegmentSize(max);
        } else {
            prop_assert_eq!(r, None);
        }
        prop_assert_eq!(&p, &tcp_pkt(CLIENT, NODE, 64, &opts, true, &o, &payload));
        assert_checksums(&p);
    }
}
