//! UDP header view (RFC 768) with IPv4 checksum rules.
//!
//! Over IPv4 a checksum field of `0` means "no checksum" (common for VXLAN
//! outer headers, RFC 7348); a computed checksum of `0` is transmitted as
//! `0xffff`. [`UdpPacket::fill_checksum`], [`UdpPacket::verify_checksum`] and
//! the `update_checksum*` methods implement both rules.

use super::checksum;
use super::ipv4::protocol;
use super::{read_u16, write_u16, WireError};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// Where each field lies in a UDP header, from its first byte.
pub mod field {
    use core::ops::Range;
    /// Source port, 2 bytes.
    pub const SRC_PORT: usize = 0;
    /// Destination port, 2 bytes.
    pub const DST_PORT: usize = 2;
    /// Both ports (source, then destination; where TCP has them too).
    pub const PORTS: Range<usize> = SRC_PORT..DST_PORT + 2;
    /// Length (header and payload), 2 bytes.
    pub const LENGTH: usize = 4;
    /// Checksum, 2 bytes.
    pub const CHECKSUM: usize = 6;
}

/// A view of a UDP datagram (header + payload).
///
/// The buffer may extend past the UDP length field; [`UdpPacket::payload`]
/// and the checksum stop at `length()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

/// Maps a computed UDP checksum of 0 to 0xffff (0 on the wire means "no checksum").
#[inline]
pub const fn udp_wire_checksum(computed: u16) -> u16 {
    if computed == 0 {
        0xffff
    } else {
        computed
    }
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps `buffer` without validation (see the module-level bounds invariant).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps `buffer` after [`UdpPacket::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` if the buffer is below 8 bytes or below the length field; `Malformed` if the length field is below 8.
    #[inline]
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = usize::from(self.length());
        if len < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if b.len() < len {
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

    /// Length field (header + payload, bytes).
    #[inline]
    pub fn length(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Checksum field (0 = none).
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// True when the checksum field is non-zero.
    #[inline]
    pub fn has_checksum(&self) -> bool {
        self.checksum() != 0
    }

    /// Payload: bytes `8..length`.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.length())]
    }

    /// True if the checksum is absent (0) or correct for the given IPv4 pseudo-header addresses.
    #[inline]
    pub fn verify_checksum(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        if !self.has_checksum() {
            return true;
        }
        let seg = &self.buffer.as_ref()[..usize::from(self.length())];
        let pseudo = checksum::pseudo_header_ipv4(src, dst, protocol::UDP, self.length());
        checksum::combine(&[pseudo, checksum::sum(seg)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
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

    /// Sets the length field (length field: re-check afterwards).
    #[inline]
    pub fn set_length(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Sets the checksum field verbatim (0 disables the checksum).
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Computes and stores the checksum over the IPv4 pseudo-header and `0..length` (a computed 0 is stored as 0xffff).
    #[inline]
    pub fn fill_checksum(&mut self, src: [u8; 4], dst: [u8; 4]) {
        self.set_checksum(0);
        let len = usize::from(self.length());
        let c = checksum::ipv4_l4_checksum(src, dst, protocol::UDP, &self.buffer.as_ref()[..len]);
        self.set_checksum(udp_wire_checksum(c));
    }

    #[inline]
    fn store_updated(&mut self, c: u16) {
        self.set_checksum(udp_wire_checksum(c));
    }

    /// RFC 1624 update after a 16-bit word (port, length, ...) changed; no-op when the checksum is 0 (none).
    #[inline]
    pub fn update_checksum16(&mut self, old: u16, new: u16) {
        if self.has_checksum() {
            let c = checksum::update16(self.checksum(), old, new);
            self.store_updated(c);
        }
    }

    /// RFC 1624 update after a 32-bit pseudo-header field (an IPv4 address) changed; no-op when the checksum is 0.
    #[inline]
    pub fn update_checksum32(&mut self, old: u32, new: u32) {
        if self.has_checksum() {
            let c = checksum::update32(self.checksum(), old, new);
            self.store_updated(c);
        }
    }

    /// RFC 1624 update after bytes at an even offset changed from `old` to `new`; no-op when the checksum is 0.
    #[inline]
    pub fn update_checksum_bytes(&mut self, old: &[u8], new: &[u8]) {
        if self.has_checksum() {
            let c = checksum::update_bytes(self.checksum(), old, new);
            self.store_updated(c);
        }
    }

    /// Mutable payload (`8..length`).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = usize::from(self.length());
        &mut self.buffer.as_mut()[HEADER_LEN..len]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for UdpPacket<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use etherparse::{PacketBuilder, UdpHeader};
    use proptest::prelude::*;

    fn build(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ipv4(src, dst, 64).udp(sp, dp);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn zero_checksum_rules() {
        // Search for a payload whose UDP checksum computes to 0.
        let (src, dst) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let mut found = false;
        for x in 0..=u16::MAX {
            let v = build(src, dst, 1, 2, &x.to_be_bytes());
            let mut ip = v.clone();
            let mut p = Ipv4Packet::new_checked(&mut ip[..]).unwrap();
            let mut u = UdpPacket::new_checked(p.payload_mut()).unwrap();
            u.set_checksum(0);
            let raw = checksum::ipv4_l4_checksum(src, dst, protocol::UDP, u.as_ref());
            if raw == 0 {
                u.fill_checksum(src, dst);
                assert_eq!(u.checksum(), 0xffff);
                assert!(u.verify_checksum(src, dst));
                assert_eq!(&v[20..], u.as_ref(), "etherparse also sends 0xffff");
                // Reaching the same packet incrementally (src port 2 -> 1)
                // must also store 0xffff, not 0 ("no checksum").
                let mut v2 = build(src, dst, 2, 2, &x.to_be_bytes());
                let mut u2 = UdpPacket::new_checked(&mut v2[20..]).unwrap();
                assert_ne!(u2.checksum(), 0xffff);
                u2.set_src_port(1);
                u2.update_checksum16(2, 1);
                assert_eq!(u2.checksum(), 0xffff);
                assert_eq!(v2, v);
                found = true;
                break;
            }
        }
        assert!(found);
        // A zero checksum is "none": verification passes, updates leave it at 0.
        let mut v = build(src, dst, 1, 2, b"abc");
        let mut u = UdpPacket::new_checked(&mut v[20..]).unwrap();
        u.set_checksum(0);
        assert!(!u.has_checksum());
        assert!(u.verify_checksum([1, 1, 1, 1], dst));
        u.set_src_port(99);
        u.update_checksum16(1, 99);
        u.update_checksum32(1, 2);
        u.update_checksum_bytes(&[1, 2], &[3, 4]);
        assert_eq!(u.checksum(), 0);
    }

    #[test]
    fn parse_and_fill_match_etherparse() {
        let (src, dst) = ([192, 168, 0, 10], [172, 16, 5, 4]);
        let mut v = build(src, dst, 4789, 4789, b"vxlan-ish payload!");
        let (eh, _) = UdpHeader::from_slice(&v[20..]).unwrap();
        let mut u = UdpPacket::new_checked(&mut v[20..]).unwrap();
        assert_eq!(u.src_port(), eh.source_port);
        assert_eq!(u.dst_port(), eh.destination_port);
        assert_eq!(u.length(), eh.length);
        assert_eq!(u.checksum(), eh.checksum);
        assert_eq!(u.payload(), b"vxlan-ish payload!");
        assert!(u.verify_checksum(src, dst));
        assert!(!u.verify_checksum(src, [172, 16, 5, 5]));
        u.set_checksum(0x1234);
        assert!(!u.verify_checksum(src, dst));
        u.fill_checksum(src, dst);
        assert_eq!(u.checksum(), eh.checksum);
        let expect = eh
            .calc_checksum_ipv4_raw(src, dst, b"vxlan-ish payload!")
            .unwrap();
        assert_eq!(u.checksum(), expect);
    }

    #[test]
    fn validation() {
        let v = build([1; 4], [2; 4], 1, 2, b"abcd");
        let seg = &v[20..];
        assert_eq!(
            UdpPacket::new_checked(&seg[..7]).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            UdpPacket::new_checked(&seg[..11]).unwrap_err(),
            WireError::Truncated
        );
        let mut bad = seg.to_vec();
        bad[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&bad[..]).unwrap_err(),
            WireError::Malformed
        );
        // Trailing bytes beyond the length field are ignored.
        let mut long = seg.to_vec();
        long.extend_from_slice(&[9, 9, 9]);
        let u = UdpPacket::new_checked(&long[..]).unwrap();
        assert_eq!(u.payload(), b"abcd");
        assert!(u.verify_checksum([1; 4], [2; 4]));
    }

    #[test]
    fn setters() {
        let mut b = [0u8; 12];
        let mut u = UdpPacket::new_unchecked(&mut b[..]);
        u.set_src_port(0x0102);
        u.set_dst_port(0x0304);
        u.set_length(12);
        u.payload_mut().copy_from_slice(b"wxyz");
        u.fill_checksum([1, 2, 3, 4], [5, 6, 7, 8]);
        let c = u.checksum();
        assert!(u.verify_checksum([1, 2, 3, 4], [5, 6, 7, 8]));
        assert_eq!(&b[..6], &[1, 2, 3, 4, 0, 12]);
        let eh = UdpHeader {
            source_port: 0x0102,
            destination_port: 0x0304,
            length: 12,
            checksum: 0,
        };
        assert_eq!(
            eh.calc_checksum_ipv4_raw([1, 2, 3, 4], [5, 6, 7, 8], b"wxyz")
                .unwrap(),
            c
        );
    }

    proptest! {
        #[test]
        fn etherparse_roundtrip(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), sp in any::<u16>(), dp in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let mut v = build(src, dst, sp, dp, &payload);
            let (eh, _) = UdpHeader::from_slice(&v[20..]).unwrap();
            let mut u = UdpPacket::new_checked(&mut v[20..]).unwrap();
            prop_assert_eq!(u.src_port(), sp);
            prop_assert_eq!(u.dst_port(), dp);
            prop_assert_eq!(u.length() as usize, 8 + payload.len());
            prop_assert_eq!(u.payload(), &payload[..]);
            prop_assert!(u.verify_checksum(src, dst));
            u.set_checksum(0);
            u.fill_checksum(src, dst);
            prop_assert_eq!(u.checksum(), eh.checksum);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            mut data in proptest::collection::vec(any::<u8>(), 0..200),
            fix in any::<bool>(), r in any::<u16>(),
        ) {
            // Half of the cases get a consistent length field so that the
            // success branch is exercised, not just the rejections.
            if fix && data.len() >= 8 {
                let len = 8 + usize::from(r) % (data.len() - 7);
                data[4..6].copy_from_slice(&(len as u16).to_be_bytes());
                prop_assert!(UdpPacket::new_checked(&data[..]).is_ok());
            }
            if let Ok(u) = UdpPacket::new_checked(&data[..]) {
                let _ = (u.src_port(), u.dst_port(), u.length(), u.checksum(), u.has_checksum(),
                    u.payload().len(), u.verify_checksum([1, 2, 3, 4], [5, 6, 7, 8]));
                let mut copy = data.clone();
                let mut m = UdpPacket::new_unchecked(&mut copy[..]);
                m.fill_checksum([1, 2, 3, 4], [5, 6, 7, 8]);
                prop_assert!(m.verify_checksum([1, 2, 3, 4], [5, 6, 7, 8]));
                m.update_checksum16(m.src_port(), 7);
                let _ = m.payload_mut().len();
            }
        }
    }
}
