//! Ethernet II frames and MAC addresses.

use super::{read_mac, read_u16, write_u16, WireError};
use core::fmt;
use core::str::FromStr;

/// EtherType values used by the gateway (host-order `u16`, compare with [`EthernetFrame::ethertype`]).
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// 802.1Q VLAN tag (C-tag TPID).
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad QinQ service tag (S-tag TPID).
    pub const QINQ: u16 = 0x88a8;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
}

/// Length of an untagged Ethernet II header (dst, src, ethertype).
pub const HEADER_LEN: usize = 14;

/// Where each field lies in an Ethernet II header, from its first byte.
pub mod field {
    use core::ops::Range;
    /// Destination MAC.
    pub const DST: Range<usize> = 0..6;
    /// Source MAC.
    pub const SRC: Range<usize> = 6..12;
    /// Both MACs (destination, then source).
    pub const MACS: Range<usize> = DST.start..SRC.end;
    /// EtherType (or an 802.1Q TPID), 2 bytes.
    pub const ETHERTYPE: usize = 12;
    /// The payload (or an 802.1Q tag's body).
    pub const PAYLOAD: usize = 14;
}

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

/// The destination MAC of an Ethernet header as [`MacAddr::to_u64`] has it: one
/// 8-byte load and a byte swap, where building a [`MacAddr`] takes six byte loads.
#[inline(always)]
pub fn dst_mac_u64(h: &[u8; HEADER_LEN]) -> u64 {
    word_at::<0>(h) >> 16
}

/// The source MAC of an Ethernet header, like [`dst_mac_u64`].
#[inline(always)]
pub fn src_mac_u64(h: &[u8; HEADER_LEN]) -> u64 {
    // Bytes 6..14 shifted, not 4..12 masked: LLVM narrows a masked load to the six
    // bytes it keeps, which takes three loads.
    word_at::<6>(h) >> 16
}

/// The big-endian word at byte `O` of `h`, read as one 8-byte array (built from
/// `h[O]`, `h[O + 1]`, ... LLVM sometimes keeps the eight byte loads and shifts,
/// ~18 instructions instead of a load and a swap).
#[inline(always)]
fn word_at<const O: usize>(h: &[u8; HEADER_LEN]) -> u64 {
    let (_, rest) = h.split_at(O);
    u64::from_be_bytes(*rest.first_chunk::<8>().unwrap_or(&[0; 8]))
}

/// The group (multicast) bit of a MAC in [`MacAddr::to_u64`] form.
pub const GROUP_BIT_U64: u64 = 1 << 40;

impl MacAddr {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// The all-zero address 00:00:00:00:00:00.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Wraps six bytes as a MAC address.
    #[inline]
    pub const fn new(bytes: [u8; 6]) -> MacAddr {
        MacAddr(bytes)
    }

    /// The six address bytes.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// True for ff:ff:ff:ff:ff:ff.
    #[inline]
    pub const fn is_broadcast(&self) -> bool {
        u64::from_be_bytes([
            0, 0, self.0[0], self.0[1], self.0[2], self.0[3], self.0[4], self.0[5],
        ]) == 0xffff_ffff_ffff
    }

    /// True when the group bit (LSB of the first byte) is set; broadcast is multicast.
    #[inline]
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True when the group bit is clear (individual address).
    #[inline]
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// True when the locally-administered bit (second LSB of the first byte) is set.
    #[inline]
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// True for 00:00:00:00:00:00.
    #[inline]
    pub const fn is_zero(&self) -> bool {
        self.to_u64() == 0
    }

    /// Packs the address into the low 48 bits of a u64, first byte most significant (upper 16 bits are zero).
    #[inline]
    pub const fn to_u64(&self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// Inverse of [`MacAddr::to_u64`]; the upper 16 bits of `v` are ignored.
    #[inline]
    pub const fn from_u64(v: u64) -> MacAddr {
        let b = v.to_be_bytes();
        MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}

impl From<[u8; 6]> for MacAddr {
    #[inline]
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

impl From<MacAddr> for [u8; 6] {
    #[inline]
    fn from(m: MacAddr) -> Self {
        m.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with `-` separators); exactly two hex digits per byte, case-insensitive.
impl FromStr for MacAddr {
    type Err = WireError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.as_bytes();
        if s.len() != 17 {
            return Err(WireError::Malformed);
        }
        let sep = s[2];
        if sep != b':' && sep != b'-' {
            return Err(WireError::Malformed);
        }
        let mut out = [0u8; 6];
        for (i, byte) in out.iter_mut().enumerate() {
            let p = i * 3;
            if i > 0 && s[p - 1] != sep {
                return Err(WireError::Malformed);
            }
            *byte = (hex_digit(s[p])? << 4) | hex_digit(s[p + 1])?;
        }
        Ok(MacAddr(out))
    }
}

#[inline]
fn hex_digit(c: u8) -> Result<u8, WireError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(WireError::Malformed),
    }
}

/// A read/write view of an Ethernet II frame (no FCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without validation (see the module-level bounds invariant).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` after [`EthernetFrame::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Ok when the buffer holds at least the 14-byte header, else `Truncated`.
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

    /// Header length, always 14 (VLAN tags are part of the payload; see [`super::vlan`]).
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> MacAddr {
        read_mac(self.buffer.as_ref(), field::DST.start)
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> MacAddr {
        read_mac(self.buffer.as_ref(), field::SRC.start)
    }

    /// EtherType (or TPID 0x8100 for a tagged frame).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Bytes after the 14-byte header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr.0);
    }

    /// Sets the source MAC address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr.0);
    }

    /// Sets the EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, value);
    }

    /// Mutable bytes after the 14-byte header.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for EthernetFrame<T> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    #[test]
    fn mac_display_parse_roundtrip() {
        let m = MacAddr([0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0x0f]);
        assert_eq!(m.to_string(), "aa:bb:cc:0d:ee:0f");
        assert_eq!(format!("{m:?}"), "MacAddr(aa:bb:cc:0d:ee:0f)");
        assert_eq!("aa:bb:cc:0d:ee:0f".parse::<MacAddr>(), Ok(m));
        assert_eq!("AA-BB-CC-0D-EE-0F".parse::<MacAddr>(), Ok(m));
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:",
            "aa:bb:cc:dd:ee:fg",
            "aa:bb-cc:dd:ee:ff",
            "aa.bb.cc.dd.ee.ff",
            "a:bb:cc:dd:ee:fff",
            "+a:bb:cc:dd:ee:ff",
            "aa:bb:cc:dd:ee:ffé",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(WireError::Malformed), "{bad}");
        }
    }

    #[test]
    fn mac_classes() {
        assert!(MacAddr::BROADCAST.is_broadcast());
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr::BROADCAST.is_unicast());
        let mc = MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(mc.is_multicast() && !mc.is_broadcast() && !mc.is_unicast());
        let uc = MacAddr([0x02, 0x42, 0xac, 0x11, 0, 2]);
        assert!(uc.is_unicast() && !uc.is_multicast() && !uc.is_broadcast());
        assert!(uc.is_local());
        assert!(!MacAddr([0x00, 0x50, 0x56, 1, 2, 3]).is_local());
        assert!(MacAddr::ZERO.is_zero() && MacAddr::ZERO.is_unicast());
        assert!(!MacAddr([0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]).is_broadcast());
    }

    #[test]
    fn mac_u64_packing() {
        let m = MacAddr([1, 2, 3, 4, 5, 6]);
        assert_eq!(m.to_u64(), 0x0102_0304_0506);
        assert_eq!(MacAddr::from_u64(0x0102_0304_0506), m);
        assert_eq!(MacAddr::from_u64(0xffff_0102_0304_0506), m);
        assert_eq!(MacAddr::BROADCAST.to_u64(), 0xffff_ffff_ffff);
    }

    #[test]
    fn parse_etherparse_frame() {
        let src = [0x02, 0, 0, 0, 0, 1];
        let dst = [0x02, 0, 0, 0, 0, 2];
        let b = PacketBuilder::ethernet2(src, dst)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1000, 2000);
        let mut v = Vec::new();
        b.write(&mut v, b"hello").unwrap();
        let f = EthernetFrame::new_checked(&v[..]).unwrap();
        assert_eq!(f.src_addr(), MacAddr(src));
        assert_eq!(f.dst_addr(), MacAddr(dst));
        assert_eq!(f.ethertype(), ethertype::IPV4);
        assert_eq!(f.header_len(), 14);
        assert_eq!(f.payload(), &v[14..]);
        let eh = etherparse::Ethernet2Header::from_slice(&v).unwrap().0;
        assert_eq!(f.ethertype(), eh.ether_type.0);
    }

    #[test]
    fn setters_roundtrip() {
        let mut buf = [0u8; 20];
        let mut f = EthernetFrame::new_checked(&mut buf[..]).unwrap();
        f.set_dst_addr(MacAddr::BROADCAST);
        f.set_src_addr(MacAddr([1, 2, 3, 4, 5, 6]));
        f.set_ethertype(ethertype::ARP);
        f.payload_mut()[0] = 0x99;
        assert_eq!(f.dst_addr(), MacAddr::BROADCAST);
        assert_eq!(f.src_addr(), MacAddr([1, 2, 3, 4, 5, 6]));
        assert_eq!(f.ethertype(), 0x0806);
        assert_eq!(
            &buf[..15],
            &[255, 255, 255, 255, 255, 255, 1, 2, 3, 4, 5, 6, 8, 6, 0x99]
        );
    }

    #[test]
    fn too_short() {
        assert_eq!(
            EthernetFrame::new_checked(&[0u8; 13][..]).unwrap_err(),
            WireError::Truncated
        );
        assert!(EthernetFrame::new_checked(&[0u8; 14][..]).is_ok());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(f) = EthernetFrame::new_checked(&data[..]) {
                let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload().len());
                let mut copy = data.clone();
                let mut g = EthernetFrame::new_unchecked(&mut copy[..]);
                g.set_dst_addr(f.src_addr());
                g.set_src_addr(f.dst_addr());
                g.set_ethertype(0);
                prop_assert_eq!(g.payload_mut().len(), data.len() - 14);
            } else {
                prop_assert!(data.len() < 14);
            }
        }

        #[test]
        fn mac_string_roundtrip(b in any::<[u8; 6]>()) {
            let m = MacAddr(b);
            prop_assert_eq!(m.to_string().parse::<MacAddr>(), Ok(m));
            prop_assert_eq!(MacAddr::from_u64(m.to_u64()), m);
        }

        #[test]
        fn mac_parse_never_panics(s in ".{0,20}") {
            let _ = s.parse::<MacAddr>();
        }
    }
}
