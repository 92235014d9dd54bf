//! ICMPv4 message view (RFC 792): echo fields, error payloads, echo reply in place.
//!
//! An `IcmpPacket` covers the whole ICMP message: pass exactly the IP payload
//! (`Ipv4Packet::payload()`), since the checksum covers every byte of the
//! buffer.

use super::checksum;
use super::ipv4::MIN_HEADER_LEN as IPV4_MIN_HEADER_LEN;
use super::{read_u16, write_u16, WireError};

/// Length of the fixed ICMP header (type, code, checksum, 4 bytes rest-of-header).
pub const HEADER_LEN: usize = 8;

/// ICMPv4 message types.
pub mod msg_type {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable (error).
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Source quench (error, deprecated).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect (error).
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded (error).
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem (error).
    pub const PARAMETER_PROBLEM: u8 = 12;
}

/// Destination-unreachable code "fragmentation needed and DF set" (carries the next-hop MTU).
pub const CODE_FRAG_NEEDED: u8 = 4;

/// Where each field lies in an ICMPv4 header, from its first byte.
pub mod field {
    /// Message type (see [`super::msg_type`]).
    pub const TYPE: usize = 0;
    /// Message code.
    pub const CODE: usize = 1;
    /// Checksum, 2 bytes.
    pub const CHECKSUM: usize = 2;
    /// The 4 bytes of rest-of-header.
    pub const REST: usize = 4;
    /// Echo identifier, 2 bytes.
    pub const ECHO_IDENT: usize = 4;
    /// Echo sequence number, 2 bytes.
    pub const ECHO_SEQ: usize = 6;
    /// Next-hop MTU of "fragmentation needed", 2 bytes.
    pub const NEXT_HOP_MTU: usize = 6;
}

/// A view of an ICMPv4 message (header + data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wraps `buffer` without validation (see the module-level bounds invariant).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        IcmpPacket { buffer }
    }

    /// Wraps `buffer` after [`IcmpPacket::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` below the 8-byte header.
    #[inline]
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type (see [`msg_type`]).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The 4 type-specific bytes after the checksum.
    #[inline]
    pub fn rest_of_header(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[4], b[5], b[6], b[7]]
    }

    /// Echo identifier (meaningful for echo request/reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (meaningful for echo request/reply).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQ)
    }

    /// Next-hop MTU (meaningful for dest-unreachable code 4, RFC 1191).
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// True for error messages (dest unreachable, source quench, redirect, time exceeded, parameter problem).
    #[inline]
    pub fn is_error(&self) -> bool {
        matches!(
            self.msg_type(),
            msg_type::DEST_UNREACHABLE
                | msg_type::SOURCE_QUENCH
                | msg_type::REDIRECT
                | msg_type::TIME_EXCEEDED
                | msg_type::PARAMETER_PROBLEM
        )
    }

    /// Bytes after the 8-byte header (echo data, or the offending datagram for errors).
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// For an error message, the embedded original IPv4 header (options included) if it is present and sane.
    ///
    /// `None` for non-error types, or when the data is shorter than 20 bytes,
    /// not version 4, IHL < 5, or shorter than the embedded IHL says.
    #[inline]
    pub fn embedded_ip_header(&self) -> Option<&[u8]> {
        self.embedded_split().map(|(h, _)| h)
    }

    /// For an error message, the bytes following the embedded IPv4 header (usually the first 8+ bytes of its L4 header).
    #[inline]
    pub fn embedded_l4(&self) -> Option<&[u8]> {
        self.embedded_split().map(|(_, l4)| l4)
    }

    #[inline]
    fn embedded_split(&self) -> Option<(&[u8], &[u8])> {
        if !self.is_error() {
            return None;
        }
        let d = self.data();
        let first = *d.first()?;
        let hl = usize::from(first & 0x0f) * 4;
        if first >> 4 != 4 || hl < IPV4_MIN_HEADER_LEN || d.len() < hl {
            return None;
        }
        Some(d.split_at(hl))
    }

    /// True when the checksum over the whole buffer is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::sum(self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    /// Sets the message type (checksum not updated).
    #[inline]
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    /// Sets the code (checksum not updated).
    #[inline]
    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Sets the 4 type-specific bytes.
    #[inline]
    pub fn set_rest_of_header(&mut self, v: [u8; 4]) {
        self.buffer.as_mut()[field::REST..field::REST + 4].copy_from_slice(&v);
    }

    /// Sets the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, v);
    }

    /// Sets the echo sequence number.
    #[inline]
    pub fn set_echo_seq_no(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQ, v);
    }

    /// Sets the next-hop MTU field.
    #[inline]
    pub fn set_next_hop_mtu(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU, v);
    }

    /// Mutable bytes after the 8-byte header.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Recomputes and stores the checksum over the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }

    /// Turns an echo request into an echo reply (type 0, code 0) with an incremental checksum update; `Malformed` (untouched) if not a request.
    ///
    /// Identifier, sequence number and data are kept. A request with a bad
    /// checksum yields a reply with a bad checksum (the error is carried,
    /// not hidden). The IP layer is not touched: the caller swaps the IPv4
    /// addresses (`Ipv4Packet::swap_addrs`, checksum-neutral) and sets TTL.
    #[inline]
    pub fn make_echo_reply_in_place(&mut self) -> Result<(), WireError> {
        if self.msg_type() != msg_type::ECHO_REQUEST {
            return Err(WireError::Malformed);
        }
        let old = u16::from_be_bytes([self.msg_type(), self.code()]);
        self.set_msg_type(msg_type::ECHO_REPLY);
        self.set_code(0);
        let c = checksum::update16(self.checksum(), old, 0);
        // RFC 1624 eqn. 3 yields 0x0000 where a full computation yields
        // 0xffff only if every other byte is zero, which an echo reply with
        // id 0, seq 0 and zero data is; keep the canonical value then.
        let all_zero =
            c == 0 && self.data().iter().all(|&b| b == 0) && self.rest_of_header() == [0; 4];
        self.set_checksum(if all_zero { 0xffff } else { c });
        Ok(())
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for IcmpPacket<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::{protocol, Ipv4Packet};
    use etherparse::{
        icmpv4::{DestUnreachableHeader, TimeExceededCode},
        Icmpv4Slice, Icmpv4Type, PacketBuilder,
    };
    use proptest::prelude::*;

    fn build(t: Icmpv4Type, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).icmpv4(t);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn echo_request(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64).icmpv4_echo_request(id, seq);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn echo_reply(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64).icmpv4_echo_reply(id, seq);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn parse_echo_request() {
        let v = echo_request(0x1234, 7, b"ping payload");
        let ip = Ipv4Packet::new_checked(&v[..]).unwrap();
        assert_eq!(ip.protocol(), protocol::ICMP);
        let i = IcmpPacket::new_checked(ip.payload()).unwrap();
        let es = Icmpv4Slice::from_slice(ip.payload()).unwrap();
        assert_eq!(i.msg_type(), msg_type::ECHO_REQUEST);
        assert_eq!(i.msg_type(), es.type_u8());
        assert_eq!(i.code(), es.code_u8());
        assert_eq!(i.checksum(), es.checksum());
        assert_eq!(i.rest_of_header(), es.bytes5to8());
        assert_eq!(i.echo_ident(), 0x1234);
        assert_eq!(i.echo_seq_no(), 7);
        assert_eq!(i.data(), b"ping payload");
        assert_eq!(i.data(), es.payload());
        assert!(!i.is_error());
        assert_eq!(i.embedded_ip_header(), None);
        assert!(i.verify_checksum());
    }

    #[test]
    fn echo_reply_in_place_matches_etherparse() {
        let mut v = echo_request(0xabcd, 0x0102, b"0123456789abcdef");
        {
            let mut ip = Ipv4Packet::new_checked(&mut v[..]).unwrap();
            ip.swap_addrs();
            let mut i = IcmpPacket::new_checked(ip.payload_mut()).unwrap();
            i.make_echo_reply_in_place().unwrap();
            assert!(i.verify_checksum());
            assert_eq!(i.make_echo_reply_in_place(), Err(WireError::Malformed));
            assert!(ip.verify_checksum());
        }
        assert_eq!(v, echo_reply(0xabcd, 0x0102, b"0123456789abcdef"));
    }

    #[test]
    fn dest_unreachable_frag_needed_embeds_ip_header() {
        let orig = echo_request(1, 2, b"original datagram bytes");
        let t = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 1450,
        });
        let v = build(t, &orig[..28]);
        let ip = Ipv4Packet::new_checked(&v[..]).unwrap();
        let i = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(i.msg_type(), msg_type::DEST_UNREACHABLE);
        assert_eq!(i.code(), CODE_FRAG_NEEDED);
        assert_eq!(i.next_hop_mtu(), 1450);
        assert!(i.is_error());
        assert!(i.verify_checksum());
        assert_eq!(i.embedded_ip_header(), Some(&orig[..20]));
        assert_eq!(i.embedded_l4(), Some(&orig[20..28]));
        let es = Icmpv4Slice::from_slice(ip.payload()).unwrap();
        assert_eq!(i.checksum(), es.checksum());
    }

    #[test]
    fn time_exceeded_and_bad_embedded() {
        let orig = echo_request(1, 2, b"x");
        let v = build(
            Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
            &orig[..19],
        );
        let ip = Ipv4Packet::new_checked(&v[..]).unwrap();
        let i = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!((i.msg_type(), i.code()), (msg_type::TIME_EXCEEDED, 0));
        assert!(i.is_error());
        assert_eq!(i.embedded_ip_header(), None); // 19 bytes only
        let mut data = [0u8; 8 + 24];
        data[0] = msg_type::PARAMETER_PROBLEM;
        data[8] = 0x46;
        assert_eq!(
            IcmpPacket::new_checked(&data[..])
                .unwrap()
                .embedded_ip_header()
                .map(<[u8]>::len),
            Some(24)
        );
        data[8] = 0x47; // 28-byte header > 24 bytes of data
        assert_eq!(
            IcmpPacket::new_checked(&data[..])
                .unwrap()
                .embedded_ip_header(),
            None
        );
        data[8] = 0x44;
        assert_eq!(
            IcmpPacket::new_checked(&data[..]).unwrap().embedded_l4(),
            None
        );
        data[8] = 0x65;
        assert_eq!(
            IcmpPacket::new_checked(&data[..]).unwrap().embedded_l4(),
            None
        );
        assert_eq!(
            IcmpPacket::new_checked(&data[..7]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn echo_reply_all_zero_message() {
        let v = echo_request(0, 0, &[0; 6]);
        let mut seg = v[20..].to_vec();
        let mut i = IcmpPacket::new_checked(&mut seg[..]).unwrap();
        i.make_echo_reply_in_place().unwrap();
        assert_eq!(i.checksum(), 0xffff);
        assert!(i.verify_checksum());
        assert_eq!(&seg[..], &echo_reply(0, 0, &[0; 6])[20..]);
    }

    #[test]
    fn setters_and_fill() {
        let mut b = [0u8; 12];
        let mut i = IcmpPacket::new_checked(&mut b[..]).unwrap();
        i.set_msg_type(msg_type::ECHO_REQUEST);
        i.set_code(0);
        i.set_echo_ident(0x0a0b);
        i.set_echo_seq_no(0x0c0d);
        i.data_mut().copy_from_slice(b"abcd");
        i.fill_checksum();
        assert!(i.verify_checksum());
        let c = i.checksum();
        let es = Icmpv4Slice::from_slice(&b).unwrap();
        assert_eq!(
            es.icmp_type(),
            Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader {
                id: 0x0a0b,
                seq: 0x0c0d
            })
        );
        let h = etherparse::Icmpv4Header::with_checksum(es.icmp_type(), b"abcd");
        assert_eq!(h.checksum, c);
        let mut i = IcmpPacket::new_unchecked(&mut b[..]);
        i.set_rest_of_header([1, 2, 3, 4]);
        assert_eq!(i.rest_of_header(), [1, 2, 3, 4]);
        i.set_next_hop_mtu(1500);
        assert_eq!(i.next_hop_mtu(), 1500);
    }

    proptest! {
        #[test]
        fn echo_roundtrip_and_reply(id in any::<u16>(), seq in any::<u16>(), code in any::<u8>(),
            payload in proptest::collection::vec(any::<u8>(), 0..100)) {
            let v = echo_request(id, seq, &payload);
            let mut seg = v[20..].to_vec();
            let mut i = IcmpPacket::new_checked(&mut seg[..]).unwrap();
            prop_assert_eq!((i.echo_ident(), i.echo_seq_no()), (id, seq));
            prop_assert_eq!(i.data(), &payload[..]);
            // Non-zero code on a request: the reply helper clears it and stays valid.
            let old = u16::from_be_bytes([i.msg_type(), i.code()]);
            i.set_code(code);
            let c = checksum::update16(i.checksum(), old, u16::from_be_bytes([8, code]));
            i.set_checksum(c);
            prop_assert!(i.verify_checksum());
            i.make_echo_reply_in_place().unwrap();
            prop_assert!(i.verify_checksum());
            let expect = echo_reply(id, seq, &payload);
            prop_assert_eq!(&seg[..], &expect[20..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            mut data in proptest::collection::vec(any::<u8>(), 0..200),
            fix in 0u8..3, ihl in 0u8..16,
        ) {
            // A third of the cases become echo requests, a third errors with a
            // plausible embedded IPv4 header, so every branch is exercised.
            if data.len() >= 9 {
                match fix {
                    0 => data[0] = msg_type::ECHO_REQUEST,
                    1 => {
                        data[0] = msg_type::TIME_EXCEEDED;
                        data[8] = 0x40 | ihl;
                    }
                    _ => {}
                }
            }
            if let Ok(i) = IcmpPacket::new_checked(&data[..]) {
                let _ = (i.msg_type(), i.code(), i.checksum(), i.rest_of_header(), i.echo_ident(),
                    i.echo_seq_no(), i.next_hop_mtu(), i.is_error(), i.data().len(),
                    i.embedded_ip_header(), i.embedded_l4(), i.verify_checksum());
                if let (Some(h), Some(l4)) = (i.embedded_ip_header(), i.embedded_l4()) {
                    prop_assert_eq!(8 + h.len() + l4.len(), data.len());
                }
                let mut copy = data.clone();
                let mut m = IcmpPacket::new_unchecked(&mut copy[..]);
                m.fill_checksum();
                let was_request = m.msg_type() == msg_type::ECHO_REQUEST;
                prop_assert_eq!(m.make_echo_reply_in_place().is_ok(), was_request);
                prop_assert!(m.verify_checksum());
                let _ = m.data_mut().len();
            } else {
                prop_assert!(data.len() < 8);
            }
        }
    }
}
