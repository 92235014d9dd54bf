//! RFC 1071 internet checksum, the IPv4 pseudo-header sum for UDP/TCP, and
//! RFC 1624 incremental updates.
//!
//! Vocabulary used below:
//!
//! * a **sum** is the folded 16-bit ones' complement sum of big-endian words,
//!   *not* complemented ([`sum`], [`combine`], [`pseudo_header_ipv4`]);
//! * a **checksum** is the complement of a sum, i.e. the value written into a
//!   header field ([`checksum`], [`ipv4_l4_checksum`]).
//!
//! A header verifies when the sum over it (checksum field included) is
//! `0xffff`.
//!
//! UDP over IPv4: a checksum field of `0` means "no checksum"; a computed `0`
//! must therefore be transmitted as `0xffff` (see `UdpPacket::fill_checksum`
//! and `UdpPacket::update_checksum16`, which handle both rules).
//!
//! Incremental updates ([`update16`], [`update32`], [`update_bytes`]) use
//! RFC 1624 equation 3, `HC' = ~(~HC + ~m + m')`. The result equals a full
//! recomputation except in one corner: if the updated data (checksum field
//! excluded) is entirely zero, the update gives `0x0000` where a full
//! computation gives `0xffff`. That cannot happen for an IPv4 header
//! (version nibble) or UDP/TCP (protocol in the pseudo-header); the ICMP echo
//! reply helper handles it. They
//! assume the changed field starts at an **even** byte offset of the
//! checksummed data (true for IP addresses, ports, TTL/protocol, ...). For a
//! 16-bit value at an odd offset pass `old.swap_bytes()` / `new.swap_bytes()`
//! to [`update16`].

/// Folds a wide ones' complement accumulator down to 16 bits (end-around carry).
/// Four fixed steps, no loop: 64 -> 33 bits -> 18 bits -> 17 bits -> 16 bits.
#[inline]
pub fn fold(acc: u64) -> u16 {
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    let acc = (acc & 0xffff) + (acc >> 16);
    let acc = (acc & 0xffff) + (acc >> 16);
    ((acc & 0xffff) + (acc >> 16)) as u16
}

/// Ones' complement sum of two 16-bit values (one end-around carry is enough).
#[inline(always)]
pub fn add16(a: u16, b: u16) -> u16 {
    let s = a as u32 + b as u32;
    ((s & 0xffff) + (s >> 16)) as u16
}

/// True when an option-less IPv4 header's checksum verifies (its sum is 0xffff).
/// The words are summed in memory order: a ones' complement sum of byte-swapped
/// words is the byte-swapped sum (RFC 1071 section 2(B)), and 0xffff is its own
/// swap, so the check needs no swaps.
#[inline(always)]
pub fn ipv4_header_verifies(h: &[u8; 20]) -> bool {
    let w = |i: usize| u64::from(u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    let s = w(0) + w(4) + w(8) + w(12) + w(16);
    // Folding keeps the sum modulo 0xffff (2^16 = 1 mod 0xffff) and gives a value in
    // 1..=0xffff for any non-zero sum: it is 0xffff exactly when the sum is a
    // non-zero multiple of 0xffff. One multiply instead of four folding steps.
    s != 0 && s % 0xffff == 0
}

/// Folded ones' complement sum of `data` as big-endian 16-bit words (a trailing odd byte is padded with zero).
#[inline]
pub fn sum(data: &[u8]) -> u16 {
    // Summing 32-bit big-endian words is equivalent modulo 0xffff
    // (2^16 == 1 mod 0xffff) and halves the iterations; a u64 accumulator
    // cannot overflow below 16 GiB of input.
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    match *words.remainder() {
        [a] => acc += u64::from(a) << 8,
        [a, b] => acc += u64::from(u16::from_be_bytes([a, b])),
        [a, b, c] => {
            acc += u64::from(u16::from_be_bytes([a, b]));
            acc += u64::from(c) << 8;
        }
        _ => {}
    }
    fold(acc)
}

/// Ones' complement addition of several partial sums.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// RFC 1071 internet checksum of `data` (the value to store in a header field).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// Folded sum of the IPv4 pseudo-header (src, dst, zero, protocol, L4 length) for UDP/TCP.
#[inline]
pub fn pseudo_header_ipv4(src: [u8; 4], dst: [u8; 4], protocol: u8, l4_len: u16) -> u16 {
    let acc = u64::from(u16::from_be_bytes([src[0], src[1]]))
        + u64::from(u16::from_be_bytes([src[2], src[3]]))
        + u64::from(u16::from_be_bytes([dst[0], dst[1]]))
        + u64::from(u16::from_be_bytes([dst[2], dst[3]]))
        + u64::from(protocol)
        + u64::from(l4_len);
    fold(acc)
}

/// Full UDP/TCP checksum over an IPv4 pseudo-header and `segment` (header + data, checksum field zeroed); `segment.len()` must fit in u16.
#[inline]
pub fn ipv4_l4_checksum(src: [u8; 4], dst: [u8; 4], protocol: u8, segment: &[u8]) -> u16 {
    let pseudo = pseudo_header_ipv4(src, dst, protocol, segment.len() as u16);
    !combine(&[pseudo, sum(segment)])
}

/// RFC 1624 incremental update of checksum `csum` after a 16-bit word changed from `old` to `new`.
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!csum) + u64::from(!old) + u64::from(new))
}

/// RFC 1624 incremental update of `csum` after a 32-bit field (e.g. an IPv4 address) changed from `old` to `new`.
#[inline]
pub fn update32(csum: u16, old: u32, new: u32) -> u16 {
    let acc = u64::from(!csum)
        + u64::from(!(old >> 16) as u16)
        + u64::from(!(old as u16))
        + u64::from(new >> 16)
        + u64::from(new as u16);
    !fold(acc)
}

/// RFC 1624 incremental update of `csum` after the bytes `old` were replaced by `new` (same length, field at an even offset; e.g. a 6-byte MAC).
#[inline]
pub fn update_bytes(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    !combine(&[!csum, !sum(old), sum(new)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use crate::wire::tcp::TcpPacket;
    use crate::wire::udp::UdpPacket;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    /// Straightforward reference implementation: 16-bit words, one at a time.
    fn naive_sum(data: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for c in data.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            acc += u32::from(w);
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 -> sum 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn known_ipv4_header() {
        // Classic example header (Wikipedia): checksum 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(sum(&h), 0xffff);
    }

    #[test]
    fn empty_and_zero() {
        assert_eq!(sum(&[]), 0);
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0, 0, 0]), 0xffff);
        assert_eq!(sum(&[0xff]), 0xff00);
    }

    #[test]
    fn update_examples() {
        // RFC 1624 section 4 example: HC=0xdd2f, m=0x5555 -> m'=0x3285 gives 0x0000.
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
        assert_eq!(update32(0xdd2f, 0x5555_0000, 0x3285_0000), 0x0000);
        assert_eq!(update_bytes(0xdd2f, &[0x55, 0x55], &[0x32, 0x85]), 0x0000);
    }

    #[test]
    fn pseudo_header_matches_bytes() {
        let src = [10, 0, 0, 1];
        let dst = [192, 168, 200, 254];
        let bytes = [10, 0, 0, 1, 192, 168, 200, 254, 0, 17, 0x01, 0x23];
        assert_eq!(pseudo_header_ipv4(src, dst, 17, 0x0123), sum(&bytes));
    }

    fn build_udp(src: [u8; 4], dst: [u8; 4], ttl: u8, sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4(src, dst, ttl).udp(sp, dp);
        let mut v = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut v, payload).unwrap();
        v
    }

    #[allow(clippy::too_many_arguments)]
    fn build_tcp(
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        sp: u16,
        dp: u16,
        seq: u32,
        win: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let b = PacketBuilder::ipv4(src, dst, ttl)
            .tcp(sp, dp, seq, win)
            .syn()
            .ack(7);
        let mut v = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut v, payload).unwrap();
        v
    }

    /// The end-around-carry fold done the slow way.
    fn fold_by_loop(mut acc: u64) -> u16 {
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn fold_edges() {
        for acc in [
            0,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
            u64::MAX - 1,
        ] {
            assert_eq!(fold(acc), fold_by_loop(acc), "{acc:#x}");
        }
    }

    proptest! {
        #[test]
        fn fold_equals_the_loop(acc in any::<u64>()) {
            prop_assert_eq!(fold(acc), fold_by_loop(acc));
        }

        #[test]
        fn ipv4_header_check_agrees_with_the_sum(mut h in proptest::array::uniform20(any::<u8>()), fix in any::<bool>()) {
            if fix {
                // Make it verify: write the checksum over the rest.
                h[10] = 0;
                h[11] = 0;
                let c = checksum(&h);
                h[10..12].copy_from_slice(&c.to_be_bytes());
            }
            prop_assert_eq!(ipv4_header_verifies(&h), sum(&h) == 0xffff);
            if fix {
                prop_assert!(ipv4_header_verifies(&h));
            }
        }

        #[test]
        fn add16_is_the_sum_of_two_words(a in any::<u16>(), b in any::<u16>()) {
            let mut words = a.to_be_bytes().to_vec();
            words.extend_from_slice(&b.to_be_bytes());
            // Equal as ones' complement numbers: 0 and 0xffff are both zero.
            let norm = |x: u16| if x == 0xffff { 0 } else { x };
            prop_assert_eq!(norm(add16(a, b)), norm(sum(&words)));
        }

        #[test]
        fn fast_sum_equals_naive(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(sum(&data), naive_sum(&data));
        }

        #[test]
        fn sum_is_split_invariant(data in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..150) {
            let cut = (cut * 2).min(data.len() & !1);
            prop_assert_eq!(sum(&data), combine(&[sum(&data[..cut]), sum(&data[cut..])]));
        }

        #[test]
        fn update16_equals_recompute(
            mut data in proptest::collection::vec(any::<u8>(), 4..100),
            idx in 0usize..50,
            new in any::<u16>(),
        ) {
            // Keep the first word non-zero and unchanged so the data never
            // becomes all-zero (the one case where eqn. 3 gives 0 vs 0xffff).
            data[0] |= 1;
            let idx = 2 * (1 + idx % (data.len() / 2 - 1));
            let before = checksum(&data);
            let old = u16::from_be_bytes([data[idx], data[idx + 1]]);
            data[idx..idx + 2].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update16(before, old, new), checksum(&data));
        }

        #[test]
        fn update16_odd_offset_with_swap(
            mut data in proptest::collection::vec(any::<u8>(), 4..100),
            idx in 0usize..50,
            new in any::<u16>(),
        ) {
            data[0] = 0x45;
            let idx = ((idx * 2) % ((data.len() - 2) & !1)) + 1;
            let before = checksum(&data);
            let old = u16::from_be_bytes([data[idx], data[idx + 1]]);
            data[idx..idx + 2].copy_from_slice(&new.to_be_bytes());
            prop_assert_eq!(update16(before, old.swap_bytes(), new.swap_bytes()), checksum(&data));
        }

        #[test]
        fn update_bytes_equals_recompute(
            mut data in proptest::collection::vec(any::<u8>(), 8..100),
            new in proptest::array::uniform6(any::<u8>()),
        ) {
            data[0] = 0x45;
            let before = checksum(&data);
            let old: Vec<u8> = data[2..8].to_vec();
            data[2..8].copy_from_slice(&new);
            prop_assert_eq!(update_bytes(before, &old, &new), checksum(&data));
        }

        /// Rewrite IPv4 addresses, UDP ports and TTL on random UDP packets;
        /// incremental updates of the IP and UDP checksums must equal a full recompute.
        #[test]
        fn udp_nat_incremental_equals_full(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), ttl in any::<u8>(),
            sp in any::<u16>(), dp in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            nsrc in any::<[u8; 4]>(), ndst in any::<[u8; 4]>(), nttl in any::<u8>(),
            nsp in any::<u16>(), ndp in any::<u16>(),
        ) {
            let mut buf = build_udp(src, dst, ttl, sp, dp, &payload);
            {
                let mut ip = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
                prop_assert!(ip.verify_checksum());
                let old_ttl_word = u16::from_be_bytes([ip.ttl(), ip.protocol()]);
                ip.set_ttl(nttl);
                let new_ttl_word = u16::from_be_bytes([nttl, ip.protocol()]);
                ip.update_checksum16(old_ttl_word, new_ttl_word);
                ip.set_src_addr(nsrc);
                ip.update_checksum32(u32::from_be_bytes(src), u32::from_be_bytes(nsrc));
                ip.set_dst_addr(ndst);
                ip.update_checksum_bytes(&dst, &ndst);
                prop_assert!(ip.verify_checksum());
                let incr = ip.checksum();
                ip.fill_checksum();
                prop_assert_eq!(incr, ip.checksum());

                let mut udp = UdpPacket::new_checked(ip.payload_mut()).unwrap();
                prop_assert!(udp.verify_checksum(src, dst));
                udp.set_src_port(nsp);
                udp.update_checksum16(sp, nsp);
                udp.set_dst_port(ndp);
                udp.update_checksum16(dp, ndp);
                udp.update_checksum32(u32::from_be_bytes(src), u32::from_be_bytes(nsrc));
                udp.update_checksum32(u32::from_be_bytes(dst), u32::from_be_bytes(ndst));
                let incr = udp.checksum();
                prop_assert!(udp.verify_checksum(nsrc, ndst));
                udp.fill_checksum(nsrc, ndst);
                prop_assert_eq!(incr, udp.checksum());
            }
            // And the result still matches what etherparse would build from scratch.
            let expect = build_udp(nsrc, ndst, nttl, nsp, ndp, &payload);
            prop_assert_eq!(buf, expect);
        }

        /// Same for TCP (no zero special case).
        #[test]
        fn tcp_nat_incremental_equals_full(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), ttl in any::<u8>(),
            sp in any::<u16>(), dp in any::<u16>(), seq in any::<u32>(), win in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            nsrc in any::<[u8; 4]>(), ndst in any::<[u8; 4]>(), nttl in any::<u8>(),
            nsp in any::<u16>(), ndp in any::<u16>(),
        ) {
            let mut buf = build_tcp(src, dst, ttl, sp, dp, seq, win, &payload);
            {
                let mut ip = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
                let old_word = u16::from_be_bytes([ip.ttl(), ip.protocol()]);
                ip.set_ttl(nttl);
                ip.update_checksum16(old_word, u16::from_be_bytes([nttl, ip.protocol()]));
                ip.set_src_addr(nsrc);
                ip.update_checksum32(u32::from_be_bytes(src), u32::from_be_bytes(nsrc));
                ip.set_dst_addr(ndst);
                ip.update_checksum32(u32::from_be_bytes(dst), u32::from_be_bytes(ndst));
                prop_assert!(ip.verify_checksum());

                let mut tcp = TcpPacket::new_checked(ip.payload_mut()).unwrap();
                prop_assert!(tcp.verify_checksum(src, dst));
                tcp.set_src_port(nsp);
                tcp.update_checksum16(sp, nsp);
                tcp.set_dst_port(ndp);
                tcp.update_checksum16(dp, ndp);
                tcp.update_checksum_bytes(&src, &nsrc);
                tcp.update_checksum_bytes(&dst, &ndst);
                prop_assert!(tcp.verify_checksum(nsrc, ndst));
            }
            let expect = build_tcp(nsrc, ndst, nttl, nsp, ndp, seq, win, &payload);
            prop_assert_eq!(buf, expect);
        }
    }
}
