//! TCP header view (RFC 9293) with option access and MSS clamping.
//!
//! A `TcpPacket` covers the whole segment: pass exactly the IP payload
//! (`Ipv4Packet::payload()`), since TCP has no length field of its own and the
//! checksum covers every byte of the buffer.

use super::checksum;
use super::ipv4::protocol;
use super::{read_u16, read_u32, write_u16, write_u32, WireError};

/// Length of a TCP header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// Length of a TCP header with the maximum 40 bytes of options.
pub const MAX_HEADER_LEN: usize = 60;

/// TCP flag bits (byte 13 of the header, as returned by [`TcpPacket::flags`]).
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment number is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

/// TCP option kinds used here.
pub mod option_kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No-operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size (length 4).
    pub const MSS: u8 = 2;
}

/// Where each field lies in a TCP header, from its first byte.
pub mod field {
    /// Source port, 2 bytes.
    pub const SRC_PORT: usize = 0;
    /// Destination port, 2 bytes.
    pub const DST_PORT: usize = 2;
    /// Sequence number, 4 bytes.
    pub const SEQ: usize = 4;
    /// Acknowledgment number, 4 bytes.
    pub const ACK: usize = 8;
    /// Data offset in 32-bit words (high 4 bits).
    pub const DATA_OFF: usize = 12;
    /// Flags (see [`super::flags`]).
    pub const FLAGS: usize = 13;
    /// Window, 2 bytes.
    pub const WINDOW: usize = 14;
    /// Checksum, 2 bytes.
    pub const CHECKSUM: usize = 16;
    /// Urgent pointer, 2 bytes.
    pub const URGENT: usize = 18;
}

/// Offset, within `options`, of the 2-byte MSS value; `None` if absent or if the option list is malformed before reaching it.
#[inline]
pub fn find_mss_value_offset(options: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < options.len() {
        match options[i] {
            option_kind::EOL => return None,
            option_kind::NOP => i += 1,
            kind => {
                let len = usize::from(*options.get(i + 1)?);
                if len < 2 || i + len > options.len() {
                    return None;
                }
                if kind == option_kind::MSS {
                    return if len == 4 { Some(i + 2) } else { None };
                }
                i += len;
            }
        }
    }
    None
}

/// A view of a TCP segment (header, options, payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps `buffer` without validation (see the module-level bounds invariant).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps `buffer` after [`TcpPacket::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` if the buffer is below 20 bytes or below the header length; `Malformed` if data offset < 5.
    #[inline]
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let hl = self.header_len();
        if hl < MIN_HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if b.len() < hl {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::SEQ)
    }

    /// Acknowledgment number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        read_u32(self.buffer.as_ref(), field::ACK)
    }

    /// Data offset in 32-bit words (5..=15 once validated).
    #[inline]
    pub fn data_offset(&self) -> u8 {
        self.buffer.as_ref()[field::DATA_OFF] >> 4
    }

    /// Header length in bytes (data offset * 4, options included).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// The 8 flag bits (see [`flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// FIN flag.
    #[inline]
    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    /// SYN flag.
    #[inline]
    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    /// RST flag.
    #[inline]
    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    /// PSH flag.
    #[inline]
    pub fn psh(&self) -> bool {
        self.flags() & flags::PSH != 0
    }

    /// ACK flag.
    #[inline]
    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    /// URG flag.
    #[inline]
    pub fn urg(&self) -> bool {
        self.flags() & flags::URG != 0
    }

    /// ECE flag.
    #[inline]
    pub fn ece(&self) -> bool {
        self.flags() & flags::ECE != 0
    }

    /// CWR flag.
    #[inline]
    pub fn cwr(&self) -> bool {
        self.flags() & flags::CWR != 0
    }

    /// NS flag (historic RFC 3540 bit, low bit of byte 12).
    #[inline]
    pub fn ns(&self) -> bool {
        self.buffer.as_ref()[field::DATA_OFF] & 0x01 != 0
    }

    /// Window size.
    #[inline]
    pub fn window(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// Option bytes (`20..header_len`).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[MIN_HEADER_LEN..self.header_len()]
    }

    /// MSS option value, if present (and the options before it are well-formed).
    #[inline]
    pub fn mss(&self) -> Option<u16> {
        let opts = self.options();
        find_mss_value_offset(opts).map(|o| read_u16(opts, o))
    }

    /// Payload: bytes after the header up to the end of the buffer.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// True when the checksum over the IPv4 pseudo-header and the whole buffer is correct.
    #[inline]
    pub fn verify_checksum(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        let seg = self.buffer.as_ref();
        let pseudo = checksum::pseudo_header_ipv4(src, dst, protocol::TCP, seg.len() as u16);
        checksum::combine(&[pseudo, checksum::sum(seg)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port (checksum not updated).
    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    /// Sets the destination port (checksum not updated).
    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, v: u32) {
        write_u32(self.buffer.as_mut(), field::SEQ, v);
    }

    /// Sets the acknowledgment number.
    #[inline]
    pub fn set_ack_number(&mut self, v: u32) {
        write_u32(self.buffer.as_mut(), field::ACK, v);
    }

    /// Sets the header length in bytes (stored as `len / 4`, NS bit kept; length field: re-check afterwards).
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::DATA_OFF];
        *b = (*b & 0x0f) | (((len / 4) as u8) << 4);
    }

    /// Sets all 8 flag bits.
    #[inline]
    pub fn set_flags(&mut self, v: u8) {
        self.buffer.as_mut()[field::FLAGS] = v;
    }

    /// Sets the window size.
    #[inline]
    pub fn set_window(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::WINDOW, v);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::URGENT, v);
    }

    /// Computes and stores the checksum over the IPv4 pseudo-header and the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self, src: [u8; 4], dst: [u8; 4]) {
        self.set_checksum(0);
        let c = checksum::ipv4_l4_checksum(src, dst, protocol::TCP, self.buffer.as_ref());
        self.set_checksum(c);
    }

    /// RFC 1624 update after a 16-bit word at an even offset (port, ...) changed.
    #[inline]
    pub fn update_checksum16(&mut self, old: u16, new: u16) {
        let c = checksum::update16(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// RFC 1624 update after a 32-bit field (sequence number, pseudo-header IPv4 address) changed.
    #[inline]
    pub fn update_checksum32(&mut self, old: u32, new: u32) {
        let c = checksum::update32(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// RFC 1624 update after bytes at an even offset changed from `old` to `new`.
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

    /// Mutable payload.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }

    /// Lowers the MSS option to `max` if it is larger; returns `(old, new)`. The checksum is **not** updated.
    ///
    /// Only SYN segments carry MSS; checking `syn()` is left to the caller.
    /// Returns `None` (nothing written) when there is no MSS option, the
    /// option list is malformed before it, or the MSS is already `<= max`.
    ///
    /// Caveat for a manual `update_checksum16(old, new)`: that is only
    /// correct when the MSS value sits at an even segment offset, which is
    /// the case unless an odd number of NOPs precedes it. Prefer
    /// [`TcpPacket::clamp_mss_update_checksum`], which handles both cases.
    #[inline]
    pub fn clamp_mss(&mut self, max: u16) -> Option<(u16, u16)> {
        self.clamp_mss_at(max).map(|(old, new, _)| (old, new))
    }

    /// Like [`TcpPacket::clamp_mss`] but also updates the TCP checksum incrementally (correct at any option alignment).
    #[inline]
    pub fn clamp_mss_update_checksum(&mut self, max: u16) -> Option<(u16, u16)> {
        let (old, new, seg_off) = self.clamp_mss_at(max)?;
        if seg_off % 2 == 0 {
            self.update_checksum16(old, new);
        } else {
            // At an odd offset the two bytes straddle two checksum words:
            // their contribution is the byte-swapped value (RFC 1071 §2(B)).
            self.update_checksum16(old.swap_bytes(), new.swap_bytes());
        }
        Some((old, new))
    }

    /// Shared body of the clamp helpers: returns (old, new, segment offset of the MSS value).
    #[inline]
    fn clamp_mss_at(&mut self, max: u16) -> Option<(u16, u16, usize)> {
        let opts = self.options_mut();
        let off = find_mss_value_offset(opts)?;
        let old = read_u16(opts, off);
        if old <= max {
            return None;
        }
        write_u16(opts, off, max);
        Some((old, max, MIN_HEADER_LEN + off))
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for TcpPacket<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use etherparse::{PacketBuilder, TcpHeader, TcpOptionElement};
    use proptest::prelude::*;

    const SRC: [u8; 4] = [10, 0, 0, 1];
    const DST: [u8; 4] = [10, 0, 0, 2];

    /// Returns the TCP segment (IP header stripped) built by etherparse.
    fn build(h: TcpHeader, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4(SRC, DST, 64).tcp_header(h);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        let ip = Ipv4Packet::new_checked(&v[..]).unwrap();
        ip.payload().to_vec()
    }

    fn syn_with_raw_options(opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut h = TcpHeader::new(40000, 443, 0x1234_5678, 64240);
        h.syn = true;
        h.set_options_raw(opts).unwrap();
        build(h, payload)
    }

    fn check_fields(t: &TcpPacket<&[u8]>, h: &TcpHeader, payload: &[u8]) {
        assert_eq!(t.src_port(), h.source_port);
        assert_eq!(t.dst_port(), h.destination_port);
        assert_eq!(t.seq_number(), h.sequence_number);
        assert_eq!(t.ack_number(), h.acknowledgment_number);
        assert_eq!(t.data_offset(), h.data_offset());
        assert_eq!(t.header_len(), h.header_len());
        assert_eq!(t.fin(), h.fin);
        assert_eq!(t.syn(), h.syn);
        assert_eq!(t.rst(), h.rst);
        assert_eq!(t.psh(), h.psh);
        assert_eq!(t.ack(), h.ack);
        assert_eq!(t.urg(), h.urg);
        assert_eq!(t.ece(), h.ece);
        assert_eq!(t.cwr(), h.cwr);
        assert_eq!(t.ns(), h.ns);
        assert_eq!(t.window(), h.window_size);
        assert_eq!(t.checksum(), h.checksum);
        assert_eq!(t.urgent(), h.urgent_pointer);
        assert_eq!(t.options(), h.options.as_slice());
        assert_eq!(t.payload(), payload);
    }

    #[test]
    fn parse_etherparse_segment() {
        let mut h = TcpHeader::new(12345, 80, 1000, 512);
        h.ack = true;
        h.psh = true;
        h.fin = true;
        h.ece = true;
        h.cwr = true;
        h.urg = true;
        h.ns = true;
        h.rst = true;
        h.acknowledgment_number = 0xdead_beef;
        h.urgent_pointer = 3;
        h.set_options(&[
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
            TcpOptionElement::Timestamp(1, 2),
        ])
        .unwrap();
        let seg = build(h, b"GET / HTTP/1.1\r\n");
        let (eh, _) = TcpHeader::from_slice(&seg).unwrap();
        let t = TcpPacket::new_checked(&seg[..]).unwrap();
        check_fields(&t, &eh, b"GET / HTTP/1.1\r\n");
        assert_eq!(t.mss(), Some(1460));
        assert!(t.verify_checksum(SRC, DST));
        assert!(!t.verify_checksum(SRC, [10, 0, 0, 3]));
        assert_eq!(
            t.checksum(),
            eh.calc_checksum_ipv4_raw(SRC, DST, b"GET / HTTP/1.1\r\n")
                .unwrap()
        );
    }

    #[test]
    fn fill_checksum_matches_etherparse() {
        let mut seg = syn_with_raw_options(&[2, 4, 0x05, 0xb4], b"data");
        let expect = TcpPacket::new_checked(&seg[..]).unwrap().checksum();
        let mut t = TcpPacket::new_checked(&mut seg[..]).unwrap();
        t.set_checksum(0);
        assert!(!t.verify_checksum(SRC, DST));
        t.fill_checksum(SRC, DST);
        assert_eq!(t.checksum(), expect);
    }

    #[test]
    fn validation() {
        let seg = syn_with_raw_options(&[2, 4, 0x05, 0xb4], b"");
        assert_eq!(
            TcpPacket::new_checked(&seg[..19]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            TcpPacket::new_checked(&seg[..23]).unwrap_err(),
            WireError::Truncated
        );
        let mut bad = seg.clone();
        bad[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        assert!(TcpPacket::new_checked(&seg[..24]).is_ok());
    }

    #[test]
    fn setters() {
        let mut b = [0u8; 28];
        let mut t = TcpPacket::new_unchecked(&mut b[..]);
        t.set_header_len(24);
        t.set_src_port(1);
        t.set_dst_port(2);
        t.set_seq_number(3);
        t.set_ack_number(4);
        t.set_flags(flags::SYN | flags::ACK);
        t.set_window(5);
        t.set_urgent(6);
        t.options_mut().copy_from_slice(&[2, 4, 0x23, 0x28]);
        t.payload_mut().copy_from_slice(b"abcd");
        t.fill_checksum(SRC, DST);
        assert!(t.verify_checksum(SRC, DST));
        assert_eq!(t.mss(), Some(9000));
        let (eh, rest) = TcpHeader::from_slice(&b).unwrap();
        assert_eq!(rest, b"abcd");
        assert_eq!((eh.source_port, eh.destination_port), (1, 2));
        assert_eq!((eh.sequence_number, eh.acknowledgment_number), (3, 4));
        assert!(eh.syn && eh.ack && !eh.fin && !eh.rst);
        assert_eq!((eh.window_size, eh.urgent_pointer), (5, 6));
        assert_eq!(
            eh.calc_checksum_ipv4_raw(SRC, DST, b"abcd").unwrap(),
            eh.checksum
        );
    }

    #[test]
    fn mss_finder_edge_cases() {
        assert_eq!(find_mss_value_offset(&[]), None);
        assert_eq!(find_mss_value_offset(&[2, 4, 1, 0]), Some(2));
        assert_eq!(find_mss_value_offset(&[1, 1, 1, 2, 4, 5, 0xb4, 0]), Some(5));
        assert_eq!(find_mss_value_offset(&[0, 2, 4, 5, 0xb4]), None); // after EOL
        assert_eq!(find_mss_value_offset(&[2, 3, 5, 0xb4]), None); // bad MSS length
        assert_eq!(find_mss_value_offset(&[3, 0, 2, 4, 5, 0xb4]), None); // len < 2
        assert_eq!(find_mss_value_offset(&[3, 9, 2, 4, 5, 0xb4]), None); // overruns
        assert_eq!(find_mss_value_offset(&[2, 4, 5]), None); // truncated
        assert_eq!(find_mss_value_offset(&[3]), None); // kind without length
        assert_eq!(
            find_mss_value_offset(&[3, 3, 7, 4, 2, 1, 1, 1, 2, 4, 1, 2]),
            Some(10)
        );
    }

    #[test]
    fn clamp_mss_with_manual_update_aligned() {
        let mut seg = syn_with_raw_options(&[2, 4, 0x23, 0x28, 1, 1, 4, 2], b"");
        let mut t = TcpPacket::new_checked(&mut seg[..]).unwrap();
        assert!(t.verify_checksum(SRC, DST));
        assert_eq!(t.clamp_mss(9000), None);
        assert_eq!(t.clamp_mss(9001), None);
        let (old, new) = t.clamp_mss(1410).unwrap();
        assert_eq!((old, new), (9000, 1410));
        assert!(!t.verify_checksum(SRC, DST));
        t.update_checksum16(old, new);
        assert!(t.verify_checksum(SRC, DST));
        assert_eq!(t.mss(), Some(1410));
        // Equal to what etherparse builds with the clamped MSS.
        let expect = syn_with_raw_options(&[2, 4, 0x05, 0x82, 1, 1, 4, 2], b"");
        assert_eq!(seg, expect);
    }

    #[test]
    fn clamp_mss_odd_alignment() {
        let opts = [1, 2, 4, 0x23, 0x28, 1, 1, 0];
        let mut seg = syn_with_raw_options(&opts, b"xyz");
        let mut t = TcpPacket::new_checked(&mut seg[..]).unwrap();
        assert_eq!(t.clamp_mss_update_checksum(1400), Some((9000, 1400)));
        assert!(t.verify_checksum(SRC, DST));
        let expect = syn_with_raw_options(&[1, 2, 4, 0x05, 0x78, 1, 1, 0], b"xyz");
        assert_eq!(seg, expect);
        // A naive update16 on the raw values is wrong here; make sure the test can tell.
        let mut seg2 = syn_with_raw_options(&opts, b"xyz");
        let mut t2 = TcpPacket::new_checked(&mut seg2[..]).unwrap();
        let (o, n) = t2.clamp_mss(1400).unwrap();
        t2.update_checksum16(o, n);
        assert!(!t2.verify_checksum(SRC, DST));
    }

    #[test]
    fn no_mss_no_change() {
        let mut seg = syn_with_raw_options(&[1, 1, 4, 2], b"");
        let before = seg.clone();
        let mut t = TcpPacket::new_checked(&mut seg[..]).unwrap();
        assert_eq!(t.mss(), None);
        assert_eq!(t.clamp_mss_update_checksum(536), None);
        assert_eq!(seg, before);
    }

    proptest! {
        #[test]
        fn etherparse_roundtrip(
            sp in any::<u16>(), dp in any::<u16>(), seq in any::<u32>(), ackn in any::<u32>(),
            win in any::<u16>(), urgp in any::<u16>(), fl in any::<u8>(), ns in any::<bool>(),
            opt_words in 0usize..11,
            payload in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let mut h = TcpHeader::new(sp, dp, seq, win);
            h.acknowledgment_number = ackn;
            h.urgent_pointer = urgp;
            h.fin = fl & flags::FIN != 0;
            h.syn = fl & flags::SYN != 0;
            h.rst = fl & flags::RST != 0;
            h.psh = fl & flags::PSH != 0;
            h.ack = fl & flags::ACK != 0;
            h.urg = fl & flags::URG != 0;
            h.ece = fl & flags::ECE != 0;
            h.cwr = fl & flags::CWR != 0;
            h.ns = ns;
            h.set_options_raw(&vec![1u8; opt_words * 4]).unwrap();
            let seg = build(h, &payload);
            let (eh, _) = TcpHeader::from_slice(&seg).unwrap();
            let t = TcpPacket::new_checked(&seg[..]).unwrap();
            check_fields(&t, &eh, &payload);
            prop_assert_eq!(t.flags(), fl);
            prop_assert!(t.verify_checksum(SRC, DST));
        }

        /// MSS clamp + incremental checksum update is valid for any MSS, limit,
        /// alignment (0..=3 leading NOPs) and payload, and equals a full recompute.
        #[test]
        fn clamp_mss_incremental_is_valid(
            mss in any::<u16>(), max in any::<u16>(), nops in 0usize..4,
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut opts = vec![1u8; nops];
            opts.extend_from_slice(&[2, 4]);
            opts.extend_from_slice(&mss.to_be_bytes());
            while opts.len() % 4 != 0 {
                opts.push(0);
            }
            let mut seg = syn_with_raw_options(&opts, &payload);
            let mut t = TcpPacket::new_checked(&mut seg[..]).unwrap();
            let r = t.clamp_mss_update_checksum(max);
            if mss > max {
                prop_assert_eq!(r, Some((mss, max)));
            } else {
                prop_assert_eq!(r, None);
            }
            prop_assert_eq!(t.mss(), Some(mss.min(max)));
            prop_assert!(t.verify_checksum(SRC, DST));
            let incr = t.checksum();
            t.fill_checksum(SRC, DST);
            prop_assert_eq!(incr, t.checksum());
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            mut data in proptest::collection::vec(any::<u8>(), 0..200),
            fix in any::<bool>(), r in any::<u8>(), mss_at in any::<u8>(),
        ) {
            // Half of the cases get a consistent data offset and, when there is
            // room, an MSS option somewhere, so that the success branch and the
            // clamp path are exercised.
            if fix && data.len() >= 20 {
                let max_words = (data.len() / 4).min(15);
                let words = 5 + usize::from(r) % (max_words - 4);
                data[12] = (data[12] & 0x0f) | ((words as u8) << 4);
                let opts = words * 4 - 20;
                if opts >= 4 {
                    let at = usize::from(mss_at) % (opts - 3);
                    for b in &mut data[20..20 + at] {
                        *b = 1;
                    }
                    data[20 + at] = 2;
                    data[21 + at] = 4;
                }
                prop_assert!(TcpPacket::new_checked(&data[..]).is_ok());
            }
            if let Ok(t) = TcpPacket::new_checked(&data[..]) {
                let _ = (t.src_port(), t.dst_port(), t.seq_number(), t.ack_number(),
                    t.data_offset(), t.header_len(), t.flags(), t.fin(), t.syn(), t.rst(),
                    t.psh(), t.ack(), t.urg(), t.ece(), t.cwr(), t.ns(), t.window(),
                    t.checksum(), t.urgent(), t.options().len(), t.mss(), t.payload().len(),
                    t.verify_checksum(SRC, DST));
                let mut copy = data.clone();
                let mut m = TcpPacket::new_unchecked(&mut copy[..]);
                m.fill_checksum(SRC, DST);
                let _ = m.clamp_mss_update_checksum(100);
                prop_assert!(m.verify_checksum(SRC, DST));
                let _ = m.clamp_mss(50);
                let _ = (m.options_mut().len(), m.payload_mut().len());
            }
            let _ = find_mss_value_offset(&data);
        }
    }
}
