//! IPv4 header view (RFC 791), options-aware.

use super::checksum;
use super::{read_ipv4, read_u16, write_u16, WireError};
use std::net::Ipv4Addr;

/// IP protocol numbers used by the gateway.
pub mod protocol {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// Length of an IPv4 header with the maximum 40 bytes of options.
pub const MAX_HEADER_LEN: usize = 60;

/// Where each field lies in an IPv4 header, from its first byte.
pub mod field {
    use core::ops::Range;
    /// Version (high 4 bits) and header length in 32-bit words (low 4 bits).
    pub const VER_IHL: usize = 0;
    /// DSCP (high 6 bits) and ECN (low 2 bits).
    pub const DSCP_ECN: usize = 1;
    /// Total length (header and payload), 2 bytes.
    pub const TOTAL_LEN: usize = 2;
    /// Identification, 2 bytes.
    pub const IDENT: usize = 4;
    /// Flags (DF, MF) and fragment offset, 2 bytes.
    pub const FLAGS_FRAG: usize = 6;
    /// Time to live.
    pub const TTL: usize = 8;
    /// Protocol (see [`super::protocol`]).
    pub const PROTOCOL: usize = 9;
    /// Header checksum, 2 bytes.
    pub const CHECKSUM: usize = 10;
    /// Source address.
    pub const SRC_ADDR: Range<usize> = 12..16;
    /// Destination address.
    pub const DST_ADDR: Range<usize> = 16..20;
    /// Source and destination addresses together (read as one 8-byte word).
    pub const ADDRS: Range<usize> = SRC_ADDR.start..DST_ADDR.end;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet (header, options and payload).
///
/// The buffer may extend past `total_len` (e.g. Ethernet padding);
/// [`Ipv4Packet::payload`] stops at `total_len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without validation (see the module-level bounds invariant).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after [`Ipv4Packet::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validates: buffer >= 20 and >= header_len and >= total_len (`Truncated`); version 4, IHL >= 5, total_len >= header_len (`Malformed`).
    ///
    /// The checksum is not verified here (see [`Ipv4Packet::verify_checksum`]).
    #[inline]
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 {
            return Err(WireError::Malformed);
        }
        let hl = self.header_len();
        if hl < MIN_HEADER_LEN {
            return Err(WireError::Malformed);
        }
        let tl = usize::from(self.total_len());
        if tl < hl {
            return Err(WireError::Malformed);
        }
        if b.len() < hl || b.len() < tl {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (4 once validated).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4, options included).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point (6 bits).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification (2 bits).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length (header + payload) in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't-fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FLAG_DF != 0
    }

    /// More-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FLAG_MF != 0
    }

    /// Fragment offset in **bytes** (the 13-bit field times 8).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & OFFSET_MASK) << 3
    }

    /// True if this is a fragment (MF set or offset non-zero).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol number (see [`protocol`]).
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address bytes.
    #[inline]
    pub fn src_addr(&self) -> [u8; 4] {
        read_ipv4(self.buffer.as_ref(), field::SRC_ADDR.start)
    }

    /// Destination address bytes.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 4] {
        read_ipv4(self.buffer.as_ref(), field::DST_ADDR.start)
    }

    /// Source address as `Ipv4Addr`.
    #[inline]
    pub fn src_ipv4(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src_addr())
    }

    /// Destination address as `Ipv4Addr`.
    #[inline]
    pub fn dst_ipv4(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst_addr())
    }

    /// Option bytes (between byte 20 and `header_len`; empty without options).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[MIN_HEADER_LEN..self.header_len()]
    }

    /// The whole header (`header_len` bytes).
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// Payload: bytes `header_len..total_len` (trailing link-layer padding excluded).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }

    /// True when the header checksum (over `header_len` bytes) is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(self.header()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version nibble.
    #[inline]
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Sets the header length in bytes (stored as `len / 4`; length field: re-check afterwards).
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    /// Sets the DSCP (low 6 bits used).
    #[inline]
    pub fn set_dscp(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (v << 2);
    }

    /// Sets the ECN bits (low 2 bits used).
    #[inline]
    pub fn set_ecn(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (v & 0x03);
    }

    /// Sets the total length (length field: re-check afterwards).
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::TOTAL_LEN, v);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, v);
    }

    #[inline]
    fn set_flg_off_bits(&mut self, mask: u16, value: u16) {
        let b = self.buffer.as_mut();
        let w = (read_u16(b, field::FLAGS_FRAG) & !mask) | (value & mask);
        write_u16(b, field::FLAGS_FRAG, w);
    }

    /// Sets the don't-fragment flag.
    #[inline]
    pub fn set_dont_frag(&mut self, v: bool) {
        self.set_flg_off_bits(FLAG_DF, if v { FLAG_DF } else { 0 });
    }

    /// Sets the more-fragments flag.
    #[inline]
    pub fn set_more_frags(&mut self, v: bool) {
        self.set_flg_off_bits(FLAG_MF, if v { FLAG_MF } else { 0 });
    }

    /// Sets the fragment offset from a byte offset (low 3 bits dropped).
    #[inline]
    pub fn set_frag_offset(&mut self, bytes: u16) {
        self.set_flg_off_bits(OFFSET_MASK, bytes >> 3);
    }

    /// Sets the TTL (checksum not updated).
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Sets the protocol number.
    #[inline]
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }

    /// Sets the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets the source address (checksums not updated).
    #[inline]
    pub fn set_src_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a);
    }

    /// Sets the destination address (checksums not updated).
    #[inline]
    pub fn set_dst_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a);
    }

    /// Swaps source and destination addresses; the IP checksum (and any L4 pseudo-header sum) stays valid.
    #[inline]
    pub fn swap_addrs(&mut self) {
        let (s, d) = (self.src_addr(), self.dst_addr());
        self.set_src_addr(d);
        self.set_dst_addr(s);
    }

    /// Decrements the TTL and updates the checksum incrementally; returns the new TTL, or `None` (packet untouched) if TTL <= 1.
    #[inline]
    pub fn decrement_ttl(&mut self) -> Option<u8> {
        let ttl = self.ttl();
        if ttl <= 1 {
            return None;
        }
        let proto = self.protocol();
        self.set_ttl(ttl - 1);
        self.update_checksum16(
            u16::from_be_bytes([ttl, proto]),
            u16::from_be_bytes([ttl - 1, proto]),
        );
        Some(ttl - 1)
    }

    /// Recomputes and stores the header checksum.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.header());
        self.set_checksum(c);
    }

    /// RFC 1624 update of the header checksum after a 16-bit header word changed from `old` to `new`.
    #[inline]
    pub fn update_checksum16(&mut self, old: u16, new: u16) {
        let c = checksum::update16(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// RFC 1624 update of the header checksum after a 32-bit header field (an address) changed.
    #[inline]
    pub fn update_checksum32(&mut self, old: u32, new: u32) {
        let c = checksum::update32(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// RFC 1624 update of the header checksum after the bytes `old` at an even header offset became `new`.
    #[inline]
    pub fn update_checksum_bytes(&mut self, old: &[u8], new: &[u8]) {
        let c = checksum::update_bytes(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// Mutable option bytes.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[MIN_HEADER_LEN..hl]
    }

    /// Mutable payload (`header_len..total_len`).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (hl, tl) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[hl..tl]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{IpHeaders, IpNumber, Ipv4Header, PacketBuilder};
    use proptest::prelude::*;

    #[allow(clippy::too_many_arguments)]
    fn build(
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        ident: u16,
        dscp: u8,
        ecn: u8,
        df: bool,
        mf: bool,
        frag_units: u16,
        options: &[u8],
        payload: &[u8],
    ) -> (Ipv4Header, Vec<u8>) {
        let mut h = Ipv4Header::new(0, ttl, IpNumber::UDP, src, dst).unwrap();
        h.identification = ident;
        h.dscp = dscp.try_into().unwrap();
        h.ecn = ecn.try_into().unwrap();
        h.dont_fragment = df;
        h.more_fragments = mf;
        h.fragment_offset = frag_units.try_into().unwrap();
        h.options = options.try_into().unwrap();
        let b = PacketBuilder::ip(IpHeaders::Ipv4(h.clone(), Default::default())).udp(53, 5353);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        let (parsed, _) = Ipv4Header::from_slice(&v).unwrap();
        (parsed, v)
    }

    fn simple(payload: &[u8]) -> Vec<u8> {
        build(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            64,
            7,
            0,
            0,
            true,
            false,
            0,
            &[],
            payload,
        )
        .1
    }

    fn check_fields(p: &Ipv4Packet<&[u8]>, h: &Ipv4Header, v: &[u8]) {
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), h.header_len());
        assert_eq!(p.dscp(), h.dscp.value());
        assert_eq!(p.ecn(), h.ecn.value());
        assert_eq!(p.total_len(), h.total_len);
        assert_eq!(p.ident(), h.identification);
        assert_eq!(p.dont_frag(), h.dont_fragment);
        assert_eq!(p.more_frags(), h.more_fragments);
        assert_eq!(p.frag_offset(), h.fragment_offset.value() * 8);
        assert_eq!(p.is_fragment(), h.is_fragmenting_payload());
        assert_eq!(p.ttl(), h.time_to_live);
        assert_eq!(p.protocol(), h.protocol.0);
        assert_eq!(p.checksum(), h.header_checksum);
        assert_eq!(p.src_addr(), h.source);
        assert_eq!(p.dst_addr(), h.destination);
        assert_eq!(p.src_ipv4(), Ipv4Addr::from(h.source));
        assert_eq!(p.dst_ipv4(), Ipv4Addr::from(h.destination));
        assert_eq!(p.options(), h.options.as_slice());
        assert_eq!(p.payload(), &v[h.header_len()..]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn parse_etherparse_packet_with_options() {
        let opts = [0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00]; // router alert + NOPs + EOL
        let (h, v) = build(
            [192, 168, 1, 1],
            [8, 8, 4, 4],
            3,
            0xbeef,
            46,
            2,
            false,
            true,
            100,
            &opts,
            b"some payload",
        );
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        check_fields(&p, &h, &v);
        assert_eq!(p.header_len(), 28);
        assert!(p.is_fragment());
        assert_eq!(p.frag_offset(), 800);
        assert_eq!(p.protocol(), protocol::UDP);
    }

    #[test]
    fn fill_checksum_matches_etherparse() {
        let (h, mut v) = build(
            [1, 2, 3, 4],
            [5, 6, 7, 8],
            255,
            1,
            10,
            1,
            true,
            false,
            0,
            &[1, 1, 1, 0],
            b"x",
        );
        let mut p = Ipv4Packet::new_checked(&mut v[..]).unwrap();
        p.set_checksum(0xdead);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert_eq!(p.checksum(), h.header_checksum);
        assert_eq!(p.checksum(), h.calc_header_checksum());
        assert!(p.verify_checksum());
    }

    #[test]
    fn padding_excluded_from_payload() {
        let mut v = simple(b"abc");
        let real = v.len();
        v.extend_from_slice(&[0; 10]);
        let p = Ipv4Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.payload().len(), real - 20);
    }

    #[test]
    fn validation_errors() {
        let v = simple(b"abcdef");
        assert_eq!(
            Ipv4Packet::new_checked(&v[..19]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            Ipv4Packet::new_checked(&v[..v.len() - 1]).unwrap_err(),
            WireError::Truncated
        );
        let mut bad = v.clone();
        bad[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        bad[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        bad[0] = 0x4f; // 60-byte header in a shorter buffer... total_len < header_len first
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut bad = v.clone();
        bad[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut bad = [0u8; 24];
        bad[0] = 0x46; // 24-byte header, total_len 24, buffer 23
        bad[3] = 24;
        assert!(Ipv4Packet::new_checked(&bad[..]).is_ok());
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..23]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn setters_roundtrip() {
        let mut v = simple(b"0123456789");
        let mut p = Ipv4Packet::new_checked(&mut v[..]).unwrap();
        p.set_dscp(0x3f);
        p.set_ecn(3);
        p.set_ident(0x1234);
        p.set_dont_frag(false);
        p.set_more_frags(true);
        p.set_frag_offset(8 * 0x1fff);
        p.set_ttl(9);
        p.set_protocol(protocol::TCP);
        p.set_src_addr([9, 9, 9, 9]);
        p.set_dst_addr([8, 8, 8, 8]);
        p.fill_checksum();
        assert_eq!((p.dscp(), p.ecn()), (0x3f, 3));
        p.set_ecn(0);
        assert_eq!((p.dscp(), p.ecn()), (0x3f, 0));
        p.set_dscp(1);
        p.set_ecn(2);
        assert_eq!((p.dscp(), p.ecn()), (1, 2));
        assert_eq!(p.ident(), 0x1234);
        assert!(!p.dont_frag() && p.more_frags());
        assert_eq!(p.frag_offset(), 8 * 0x1fff);
        p.set_more_frags(false);
        assert!(p.is_fragment());
        p.set_frag_offset(0);
        assert!(!p.is_fragment());
        p.set_dont_frag(true);
        assert!(p.dont_frag() && !p.is_fragment());
        p.swap_addrs();
        assert_eq!((p.src_addr(), p.dst_addr()), ([8, 8, 8, 8], [9, 9, 9, 9]));
        p.fill_checksum();
        let c = p.checksum();
        p.swap_addrs();
        assert_eq!(p.checksum(), c);
        assert!(p.verify_checksum());
        p.set_version(4);
        p.set_header_len(24);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options_mut().len(), 4);
        p.set_total_len(30);
        assert_eq!(p.payload_mut().len(), 6);
        p.payload_mut()[0] = 0xaa;
        assert_eq!(v[24], 0xaa);
        // etherparse agrees with the rewritten header.
        let (h, _) = Ipv4Header::from_slice(&v).unwrap();
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.total_len, 30);
    }

    #[test]
    fn decrement_ttl_keeps_checksum_valid() {
        let mut v = simple(b"hi");
        let mut p = Ipv4Packet::new_checked(&mut v[..]).unwrap();
        p.set_ttl(2);
        p.fill_checksum();
        assert_eq!(p.decrement_ttl(), Some(1));
        assert!(p.verify_checksum());
        let before = p.checksum();
        assert_eq!(p.decrement_ttl(), None);
        assert_eq!((p.ttl(), p.checksum()), (1, before));
        p.set_ttl(0);
        assert_eq!(p.decrement_ttl(), None);
    }

    proptest! {
        #[test]
        fn etherparse_roundtrip(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), ttl in any::<u8>(),
            ident in any::<u16>(), dscp in 0u8..64, ecn in 0u8..4, df in any::<bool>(),
            mf in any::<bool>(), frag in 0u16..0x2000, opt_words in 0usize..11,
            payload in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let opts = vec![1u8; opt_words * 4];
            let (h, v) = build(src, dst, ttl, ident, dscp, ecn, df, mf, frag, &opts, &payload);
            let p = Ipv4Packet::new_checked(&v[..]).unwrap();
            check_fields(&p, &h, &v);
        }

        #[test]
        fn decrement_ttl_equals_recompute(ttl in 2u8..=255, src in any::<[u8; 4]>()) {
            let mut v = simple(b"");
            let mut p = Ipv4Packet::new_checked(&mut v[..]).unwrap();
            p.set_ttl(ttl);
            p.set_src_addr(src);
            p.fill_checksum();
            prop_assert_eq!(p.decrement_ttl(), Some(ttl - 1));
            let incr = p.checksum();
            p.fill_checksum();
            prop_assert_eq!(incr, p.checksum());
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            mut data in proptest::collection::vec(any::<u8>(), 0..200),
            fix in any::<bool>(), r1 in any::<u16>(), r2 in any::<u16>(),
        ) {
            // Half of the cases get a consistent version/IHL/total_len so that
            // the success branch is exercised, not just the rejections.
            if fix && data.len() >= 20 {
                let max_words = (data.len() / 4).min(15);
                let hl = 4 * (5 + usize::from(r1) % (max_words - 4));
                let tl = hl + usize::from(r2) % (data.len() - hl + 1);
                data[0] = 0x40 | (hl / 4) as u8;
                data[2..4].copy_from_slice(&(tl as u16).to_be_bytes());
                prop_assert!(Ipv4Packet::new_checked(&data[..]).is_ok());
            }
            match Ipv4Packet::new_checked(&data[..]) {
                Ok(p) => {
                    let _ = (p.version(), p.header_len(), p.dscp(), p.ecn(), p.total_len(),
                        p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset(), p.is_fragment(),
                        p.ttl(), p.protocol(), p.checksum(), p.src_addr(), p.dst_addr(),
                        p.src_ipv4(), p.dst_ipv4(), p.options().len(), p.header().len(),
                        p.payload().len(), p.verify_checksum());
                    prop_assert!(p.header_len() + p.payload().len() <= data.len());
                    let mut copy = data.clone();
                    let mut m = Ipv4Packet::new_unchecked(&mut copy[..]);
                    m.fill_checksum();
                    prop_assert!(m.verify_checksum());
                    let _ = m.decrement_ttl();
                    prop_assert!(m.verify_checksum());
                    m.swap_addrs();
                    let _ = (m.options_mut().len(), m.payload_mut().len());
                }
                Err(_) => {
                    // Exercise the accessors that only need 20 bytes on rejected input too.
                    if data.len() >= 20 {
                        let p = Ipv4Packet::new_unchecked(&data[..]);
                        let _ = (p.version(), p.total_len(), p.src_addr(), p.dst_addr());
                    }
                }
            }
        }
    }
}
