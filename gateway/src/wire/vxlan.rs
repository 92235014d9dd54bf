//! VXLAN header view (RFC 7348).
//!
//! ```text
//!  0      flags (I = 0x08 means "VNI valid"; other bits reserved)
//!  1..4   reserved (24 bits)
//!  4..7   VNI (24 bits)
//!  7      reserved (8 bits)
//!  8..    inner Ethernet frame
//! ```

use super::ethernet::HEADER_LEN as ETH_HEADER_LEN;
use super::ipv4::MIN_HEADER_LEN as IPV4_HEADER_LEN;
use super::udp::HEADER_LEN as UDP_HEADER_LEN;
use super::WireError;

/// IANA UDP destination port for VXLAN.
pub const VXLAN_PORT: u16 = 4789;

/// Length of the VXLAN header.
pub const VXLAN_HEADER_LEN: usize = 8;

/// Bytes added in front of an inner Ethernet frame by untagged outer Ethernet + IPv4 (no options) + UDP + VXLAN: 14+20+8+8 = 50.
pub const VXLAN_ENCAP_OVERHEAD: usize =
    ETH_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN;

/// The I flag ("VNI is valid") in the flags byte.
pub const FLAG_I: u8 = 0x08;

/// Largest VNI (24 bits).
pub const VNI_MAX: u32 = 0x00ff_ffff;

/// Where each field lies in a VXLAN header, from its first byte.
pub mod field {
    use core::ops::Range;
    /// Flags (see [`super::FLAG_I`]).
    pub const FLAGS: usize = 0;
    /// Reserved, 3 bytes.
    pub const RESERVED1: usize = 1;
    /// VNI, 3 bytes.
    pub const VNI: usize = 4;
    /// Reserved, 1 byte.
    pub const RESERVED2: usize = 7;
    /// The header's second word: the VNI and the reserved byte after it (written
    /// as one, the VNI shifted left by 8).
    pub const VNI_WORD: Range<usize> = VNI..RESERVED2 + 1;
}

/// A view of a VXLAN header followed by the inner Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VxlanHeader<T> {
    /// Wraps `buffer` without validation (see the module-level bounds invariant).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        VxlanHeader { buffer }
    }

    /// Wraps `buffer` after [`VxlanHeader::check_len`] (length only: flags are not checked, see [`VxlanHeader::i_flag`]).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// `Truncated` below 8 bytes.
    #[inline]
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < VXLAN_HEADER_LEN {
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

    /// The flags byte.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// True when the I flag (valid VNI) is set; RFC 7348 receivers drop frames without it.
    #[inline]
    pub fn i_flag(&self) -> bool {
        self.flags() & FLAG_I != 0
    }

    /// The 24-bit VXLAN network identifier.
    #[inline]
    pub fn vni(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[field::VNI], b[field::VNI + 1], b[field::VNI + 2]])
    }

    /// The 24 reserved bits after the flags (should be 0).
    #[inline]
    pub fn reserved1(&self) -> u32 {
        let b = self.buffer.as_ref();
        let r = field::RESERVED1;
        u32::from_be_bytes([0, b[r], b[r + 1], b[r + 2]])
    }

    /// The reserved last byte (should be 0).
    #[inline]
    pub fn reserved2(&self) -> u8 {
        self.buffer.as_ref()[field::RESERVED2]
    }

    /// The inner Ethernet frame (bytes after the 8-byte header).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[VXLAN_HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VxlanHeader<T> {
    /// Writes a standard header: flags = I, reserved fields zero, the given VNI (masked to 24 bits).
    #[inline]
    pub fn init(&mut self, vni: u32) {
        let v = (vni & VNI_MAX).to_be_bytes();
        self.buffer.as_mut()[..VXLAN_HEADER_LEN]
            .copy_from_slice(&[FLAG_I, 0, 0, 0, v[1], v[2], v[3], 0]);
    }

    /// Sets the flags byte.
    #[inline]
    pub fn set_flags(&mut self, v: u8) {
        self.buffer.as_mut()[field::FLAGS] = v;
    }

    /// Sets or clears the I flag, keeping other flag bits.
    #[inline]
    pub fn set_i_flag(&mut self, on: bool) {
        let f = self.flags();
        self.set_flags(if on { f | FLAG_I } else { f & !FLAG_I });
    }

    /// Sets the VNI (masked to 24 bits).
    #[inline]
    pub fn set_vni(&mut self, vni: u32) {
        let v = vni.to_be_bytes();
        self.buffer.as_mut()[field::VNI..field::VNI + 3].copy_from_slice(&v[1..]);
    }

    /// Sets the 24 reserved bits after the flags (masked to 24 bits).
    #[inline]
    pub fn set_reserved1(&mut self, r: u32) {
        let v = r.to_be_bytes();
        self.buffer.as_mut()[field::RESERVED1..field::RESERVED1 + 3].copy_from_slice(&v[1..]);
    }

    /// Sets the reserved last byte.
    #[inline]
    pub fn set_reserved2(&mut self, r: u8) {
        self.buffer.as_mut()[field::RESERVED2] = r;
    }

    /// Mutable inner Ethernet frame.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[VXLAN_HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::{ethertype, EthernetFrame, MacAddr};
    use crate::wire::ipv4::{protocol, Ipv4Packet};
    use crate::wire::udp::UdpPacket;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    #[test]
    fn constants() {
        assert_eq!(VXLAN_PORT, 4789);
        assert_eq!(VXLAN_HEADER_LEN, 8);
        assert_eq!(VXLAN_ENCAP_OVERHEAD, 50);
    }

    #[test]
    fn parse_full_encapsulated_frame() {
        // Inner frame.
        let ib = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb])
            .ipv4([192, 168, 10, 1], [192, 168, 10, 2], 64)
            .udp(5000, 6000);
        let mut inner = Vec::new();
        ib.write(&mut inner, b"inner").unwrap();
        // VXLAN header + inner frame as the outer UDP payload.
        let mut vx = vec![0u8; 8];
        VxlanHeader::new_checked(&mut vx[..])
            .unwrap()
            .init(0x00ab_cdef);
        vx.extend_from_slice(&inner);
        let ob = PacketBuilder::ethernet2([2, 0, 0, 0, 1, 1], [2, 0, 0, 0, 2, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(49152, VXLAN_PORT);
        let mut outer = Vec::new();
        ob.write(&mut outer, &vx).unwrap();
        assert_eq!(outer.len(), inner.len() + VXLAN_ENCAP_OVERHEAD);

        let eth = EthernetFrame::new_checked(&outer[..]).unwrap();
        assert_eq!(eth.ethertype(), ethertype::IPV4);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert_eq!(ip.protocol(), protocol::UDP);
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(udp.dst_port(), VXLAN_PORT);
        assert!(udp.verify_checksum(ip.src_addr(), ip.dst_addr()));
        let v = VxlanHeader::new_checked(udp.payload()).unwrap();
        assert!(v.i_flag());
        assert_eq!(v.flags(), FLAG_I);
        assert_eq!(v.vni(), 0x00ab_cdef);
        assert_eq!((v.reserved1(), v.reserved2()), (0, 0));
        assert_eq!(v.payload(), &inner[..]);
        let ie = EthernetFrame::new_checked(v.payload()).unwrap();
        assert_eq!(ie.src_addr(), MacAddr([2, 0, 0, 0, 0, 0xa]));
        // etherparse sees the same VXLAN bytes in the UDP payload.
        let sliced = etherparse::SlicedPacket::from_ethernet(&outer).unwrap();
        let ep_payload = match sliced.transport {
            Some(etherparse::TransportSlice::Udp(u)) => u.payload().to_vec(),
            _ => panic!("expected UDP"),
        };
        assert_eq!(&ep_payload[..8], &[0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
    }

    #[test]
    fn setters() {
        let mut b = [0u8; 10];
        let mut v = VxlanHeader::new_checked(&mut b[..]).unwrap();
        v.set_flags(0x80);
        v.set_i_flag(true);
        assert_eq!(v.flags(), 0x88);
        v.set_i_flag(false);
        assert!(!v.i_flag());
        assert_eq!(v.flags(), 0x80);
        v.set_vni(0xff12_3456);
        assert_eq!(v.vni(), 0x12_3456);
        v.set_reserved1(0x0100_0203);
        v.set_reserved2(9);
        v.payload_mut().copy_from_slice(&[7, 7]);
        assert_eq!((v.reserved1(), v.reserved2()), (0x0203, 9));
        assert_eq!(b, [0x80, 0, 2, 3, 0x12, 0x34, 0x56, 9, 7, 7]);
        assert_eq!(
            VxlanHeader::new_checked(&b[..7]).unwrap_err(),
            WireError::Truncated
        );
        // init overwrites everything in the header, not the payload.
        let mut v = VxlanHeader::new_unchecked(&mut b[..]);
        v.init(0x0100_0001);
        assert_eq!(b, [0x08, 0, 0, 0, 0, 0, 1, 0, 7, 7]);
    }

    proptest! {
        #[test]
        fn vni_roundtrip(vni in 0u32..=VNI_MAX, flags in any::<u8>()) {
            let mut b = [0u8; 8];
            let mut v = VxlanHeader::new_checked(&mut b[..]).unwrap();
            v.set_flags(flags);
            v.set_vni(vni);
            prop_assert_eq!(v.vni(), vni);
            prop_assert_eq!(v.i_flag(), flags & 0x08 != 0);
            prop_assert_eq!(u32::from_be_bytes([0, b[4], b[5], b[6]]), vni);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(v) = VxlanHeader::new_checked(&data[..]) {
                let _ = (v.flags(), v.i_flag(), v.vni(), v.reserved1(), v.reserved2());
                prop_assert_eq!(v.payload().len(), data.len() - 8);
                prop_assert!(v.vni() <= VNI_MAX);
                let mut copy = data.clone();
                let mut m = VxlanHeader::new_unchecked(&mut copy[..]);
                m.init(u32::MAX);
                m.set_i_flag(false);
                m.set_reserved1(u32::MAX);
                m.set_reserved2(1);
                let _ = m.payload_mut().len();
            } else {
                prop_assert!(data.len() < 8);
            }
        }
    }
}
