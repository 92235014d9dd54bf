//! 802.1Q VLAN tags: a view of the 4 bytes that follow the TPID, L3-offset
//! helpers for frames with zero or one tag, and in-place tag push/pop.
//!
//! Layout of a tagged frame (offsets from the frame start):
//!
//! ```text
//!  0..6   dst MAC
//!  6..12  src MAC
//! 12..14  TPID 0x8100          <- EthernetFrame::ethertype()
//! 14..16  TCI (PCP:3 DEI:1 VID:12)   <- VlanHeader starts here
//! 16..18  inner EtherType
//! 18..    L3 header
//! ```
//!
//! Only TPID 0x8100 counts as a tag here. A frame whose outer EtherType is
//! 0x88a8 (QinQ S-tag) is reported as untagged with EtherType 0x88a8, and a
//! second 0x8100 tag is reported as inner EtherType 0x8100; callers treat
//! both as unsupported.

use super::ethernet::{ethertype, HEADER_LEN as ETH_HEADER_LEN};
use super::{read_u16, write_u16, WireError};

/// Length of the tag body viewed by [`VlanHeader`] (TCI + inner EtherType).
pub const HEADER_LEN: usize = 4;

/// Length of an Ethernet header carrying one 802.1Q tag (14 + 4).
pub const TAGGED_HEADER_LEN: usize = ETH_HEADER_LEN + HEADER_LEN;

/// Largest VLAN ID value (4095, reserved; 1..=4094 are usable).
pub const VID_MAX: u16 = 0x0fff;

/// Where each field lies in an 802.1Q tag body (the 4 bytes after the TPID, at
/// frame offset [`super::ethernet::field::PAYLOAD`]), from its first byte.
pub mod field {
    /// Tag control information (PCP, DEI, VID), 2 bytes.
    pub const TCI: usize = 0;
    /// The inner EtherType, 2 bytes.
    pub const ETHERTYPE: usize = 2;
    /// The payload after the tag.
    pub const PAYLOAD: usize = 4;
}

/// Where a tagged frame's tag fields lie, from the frame's first byte (the tag body
/// follows the TPID, at [`super::ethernet::field::PAYLOAD`]).
pub mod tagged {
    use super::super::ethernet::field::{ETHERTYPE as TPID_AT, PAYLOAD as TAG_AT};
    use super::field;

    /// The TPID (0x8100), where an untagged frame has its EtherType; 2 bytes.
    pub const TPID: usize = TPID_AT;
    /// The TCI (PCP, DEI, VID), 2 bytes.
    pub const TCI: usize = TAG_AT + field::TCI;
    /// The inner EtherType, 2 bytes.
    pub const ETHERTYPE: usize = TAG_AT + field::ETHERTYPE;
}

/// Builds a TCI from priority (3 bits), drop-eligible flag and VLAN ID (12 bits); excess bits are masked off.
#[inline]
pub const fn make_tci(pcp: u8, dei: bool, vid: u16) -> u16 {
    (((pcp & 0x7) as u16) << 13) | ((dei as u16) << 12) | (vid & VID_MAX)
}

/// A view of an 802.1Q tag body: TCI followed by the inner EtherType (starts at frame offset 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanHeader<T> {
    /// Wraps `buffer` without validation (see the module-level bounds invariant).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        VlanHeader { buffer }
    }

    /// Wraps `buffer` after [`VlanHeader::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Ok when the buffer holds the 4-byte tag body, else `Truncated`.
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

    /// Tag control information (PCP, DEI, VID) as one u16.
    #[inline]
    pub fn tci(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TCI)
    }

    /// Priority code point (3 bits).
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop-eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// VLAN identifier (12 bits).
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & VID_MAX
    }

    /// EtherType of the encapsulated payload.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Bytes after the tag body (the L3 header).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanHeader<T> {
    /// Sets the whole TCI.
    #[inline]
    pub fn set_tci(&mut self, tci: u16) {
        write_u16(self.buffer.as_mut(), field::TCI, tci);
    }

    /// Sets the priority code point (low 3 bits of `pcp` used).
    #[inline]
    pub fn set_pcp(&mut self, pcp: u8) {
        let tci = (self.tci() & 0x1fff) | (u16::from(pcp & 0x7) << 13);
        self.set_tci(tci);
    }

    /// Sets the drop-eligible indicator.
    #[inline]
    pub fn set_dei(&mut self, dei: bool) {
        let tci = (self.tci() & !0x1000) | (u16::from(dei) << 12);
        self.set_tci(tci);
    }

    /// Sets the VLAN identifier (low 12 bits of `vid` used).
    #[inline]
    pub fn set_vid(&mut self, vid: u16) {
        let tci = (self.tci() & !VID_MAX) | (vid & VID_MAX);
        self.set_tci(tci);
    }

    /// Sets the inner EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, value);
    }

    /// Mutable bytes after the tag body.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// Where the L3 header of an Ethernet frame with zero or one 802.1Q tag starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Info {
    /// The TCI when the frame carries an 0x8100 tag.
    pub tci: Option<u16>,
    /// EtherType of the L3 payload (inner EtherType when tagged).
    pub ethertype: u16,
    /// Offset of the L3 header from the frame start: 14 untagged, 18 tagged.
    pub l3_offset: usize,
}

impl L2Info {
    /// VLAN ID of the tag, if any.
    #[inline]
    pub fn vid(&self) -> Option<u16> {
        self.tci.map(|t| t & VID_MAX)
    }
}

/// Parses the Ethernet header and at most one 0x8100 tag of `frame`; `Truncated` if the frame is shorter than those headers.
#[inline]
pub fn parse_l2(frame: &[u8]) -> Result<L2Info, WireError> {
    if frame.len() < ETH_HEADER_LEN {
        return Err(WireError::Truncated);
    }
    let outer = read_u16(frame, 12);
    if outer != ethertype::VLAN {
        return Ok(L2Info {
            tci: None,
            ethertype: outer,
            l3_offset: ETH_HEADER_LEN,
        });
    }
    if frame.len() < TAGGED_HEADER_LEN {
        return Err(WireError::Truncated);
    }
    Ok(L2Info {
        tci: Some(read_u16(frame, tagged::TCI)),
        ethertype: read_u16(frame, tagged::ETHERTYPE),
        l3_offset: TAGGED_HEADER_LEN,
    })
}

/// Offset of the L3 header in `frame` (14 or 18); shorthand for `parse_l2(frame)?.l3_offset`.
#[inline]
pub fn l3_offset(frame: &[u8]) -> Result<usize, WireError> {
    parse_l2(frame).map(|i| i.l3_offset)
}

/// Inserts an 802.1Q tag (TPID 0x8100, `tci`) in place.
///
/// On entry `buf[0..4]` is free headroom (its contents are ignored) and
/// `buf[4..]` is an untagged Ethernet frame. On success `buf[..]` as a whole
/// (same length) is the tagged frame: the 12 MAC bytes are moved from
/// `buf[4..16]` to `buf[0..12]`, `buf[12..14] = 0x8100`, `buf[14..16] = tci`,
/// and the original EtherType and payload stay where they were (from
/// `buf[16..]`). Returns `Truncated` (buffer untouched) when
/// `buf.len() < 4 + 14`. Any EtherType is accepted, including an existing
/// tag (that makes a double-tagged frame).
#[inline]
pub fn push_vlan_tag_in_place(buf: &mut [u8], tci: u16) -> Result<(), WireError> {
    if buf.len() < HEADER_LEN + ETH_HEADER_LEN {
        return Err(WireError::Truncated);
    }
    buf.copy_within(4..16, 0);
    write_u16(buf, tagged::TPID, ethertype::VLAN);
    write_u16(buf, tagged::TCI, tci);
    Ok(())
}

/// Removes the 802.1Q tag of the frame in `buf` in place and returns its TCI.
///
/// On entry `buf[..]` is a tagged frame (`buf[12..14] == 0x8100`). On
/// success the 12 MAC bytes are moved from `buf[0..12]` to `buf[4..16]`, so
/// `buf[4..]` is the untagged frame (inner EtherType at `buf[16..18]`, payload
/// unmoved) and `buf[0..4]` is left-over headroom holding stale bytes.
/// Errors (buffer untouched): `Truncated` when `buf.len() < 18`, `Malformed`
/// when the TPID is not 0x8100.
#[inline]
pub fn pop_vlan_tag_in_place(buf: &mut [u8]) -> Result<u16, WireError> {
    if buf.len() < TAGGED_HEADER_LEN {
        return Err(WireError::Truncated);
    }
    if read_u16(buf, tagged::TPID) != ethertype::VLAN {
        return Err(WireError::Malformed);
    }
    let tci = read_u16(buf, tagged::TCI);
    buf.copy_within(0..12, 4);
    Ok(tci)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::EthernetFrame;
    use etherparse::{PacketBuilder, SingleVlanHeader, VlanHeader as EpVlan};
    use proptest::prelude::*;

    fn tagged_frame(pcp: u8, dei: bool, vid: u16, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .vlan(EpVlan::Single(SingleVlanHeader {
                pcp: pcp.try_into().unwrap(),
                drop_eligible_indicator: dei,
                vlan_id: vid.try_into().unwrap(),
                ether_type: 0.into(),
            }))
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1, 2);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn untagged_frame(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(1, 2);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn parse_etherparse_tag() {
        let v = tagged_frame(5, true, 0x123, b"abc");
        let eth = EthernetFrame::new_checked(&v[..]).unwrap();
        assert_eq!(eth.ethertype(), ethertype::VLAN);
        let tag = VlanHeader::new_checked(eth.payload()).unwrap();
        assert_eq!(tag.pcp(), 5);
        assert!(tag.dei());
        assert_eq!(tag.vid(), 0x123);
        assert_eq!(tag.tci(), make_tci(5, true, 0x123));
        assert_eq!(tag.ethertype(), ethertype::IPV4);
        assert_eq!(tag.payload(), &v[18..]);
        let info = parse_l2(&v).unwrap();
        assert_eq!(
            info,
            L2Info {
                tci: Some(make_tci(5, true, 0x123)),
                ethertype: ethertype::IPV4,
                l3_offset: 18
            }
        );
        assert_eq!(info.vid(), Some(0x123));
        assert_eq!(v[info.l3_offset] >> 4, 4);
    }

    #[test]
    fn parse_untagged_and_short() {
        let v = untagged_frame(b"abc");
        let info = parse_l2(&v).unwrap();
        assert_eq!(info.tci, None);
        assert_eq!(info.vid(), None);
        assert_eq!(info.ethertype, ethertype::IPV4);
        assert_eq!(l3_offset(&v), Ok(14));
        assert_eq!(parse_l2(&v[..13]), Err(WireError::Truncated));
        let t = tagged_frame(0, false, 7, b"");
        assert_eq!(parse_l2(&t[..17]), Err(WireError::Truncated));
        assert_eq!(l3_offset(&t[..18]), Ok(18));
        // QinQ outer tag is not treated as a tag.
        let mut q = t.clone();
        q[12..14].copy_from_slice(&ethertype::QINQ.to_be_bytes());
        assert_eq!(parse_l2(&q).unwrap().ethertype, ethertype::QINQ);
        assert_eq!(parse_l2(&q).unwrap().l3_offset, 14);
    }

    #[test]
    fn setters() {
        let mut b = [0u8; 4];
        let mut h = VlanHeader::new_checked(&mut b[..]).unwrap();
        h.set_vid(0xfff5);
        h.set_pcp(0xff);
        h.set_dei(true);
        h.set_ethertype(ethertype::ARP);
        assert_eq!((h.vid(), h.pcp(), h.dei()), (0xff5, 7, true));
        h.set_dei(false);
        h.set_pcp(2);
        assert_eq!((h.vid(), h.pcp(), h.dei()), (0xff5, 2, false));
        assert_eq!(h.ethertype(), 0x0806);
        assert!(h.payload_mut().is_empty());
        assert_eq!(b, [0x4f, 0xf5, 0x08, 0x06]);
        assert_eq!(
            VlanHeader::new_checked(&b[..3]).unwrap_err(),
            WireError::Truncated
        );
    }

    #[test]
    fn push_matches_etherparse() {
        let untagged = untagged_frame(b"payload");
        let tagged = tagged_frame(3, false, 42, b"payload");
        let mut buf = vec![0xeeu8; 4];
        buf.extend_from_slice(&untagged);
        push_vlan_tag_in_place(&mut buf, make_tci(3, false, 42)).unwrap();
        assert_eq!(buf, tagged);
        assert_eq!(pop_vlan_tag_in_place(&mut buf), Ok(make_tci(3, false, 42)));
        assert_eq!(&buf[4..], &untagged[..]);
    }

    #[test]
    fn push_pop_errors() {
        let mut short = [0u8; 17];
        assert_eq!(
            push_vlan_tag_in_place(&mut short, 1),
            Err(WireError::Truncated)
        );
        assert_eq!(pop_vlan_tag_in_place(&mut short), Err(WireError::Truncated));
        let mut untagged = untagged_frame(b"");
        let before = untagged.clone();
        assert_eq!(
            pop_vlan_tag_in_place(&mut untagged),
            Err(WireError::Malformed)
        );
        assert_eq!(untagged, before);
    }

    proptest! {
        #[test]
        fn push_then_pop_restores(
            headroom in any::<[u8; 4]>(),
            frame in proptest::collection::vec(any::<u8>(), 14..200),
            tci in any::<u16>(),
        ) {
            let mut buf = headroom.to_vec();
            buf.extend_from_slice(&frame);
            push_vlan_tag_in_place(&mut buf, tci).unwrap();
            let info = parse_l2(&buf).unwrap();
            prop_assert_eq!(info.tci, Some(tci));
            prop_assert_eq!(info.ethertype, u16::from_be_bytes([frame[12], frame[13]]));
            prop_assert_eq!(&buf[..12], &frame[..12]);
            prop_assert_eq!(&buf[18..], &frame[14..]);
            prop_assert_eq!(pop_vlan_tag_in_place(&mut buf), Ok(tci));
            prop_assert_eq!(&buf[4..], &frame[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(h) = VlanHeader::new_checked(&data[..]) {
                let _ = (h.tci(), h.pcp(), h.dei(), h.vid(), h.ethertype(), h.payload().len());
                let mut copy = data.clone();
                let mut m = VlanHeader::new_unchecked(&mut copy[..]);
                m.set_pcp(7); m.set_dei(true); m.set_vid(1); m.set_ethertype(1);
                let _ = m.payload_mut().len();
            } else {
                prop_assert!(data.len() < 4);
            }
            if let Ok(info) = parse_l2(&data) {
                prop_assert!(info.l3_offset <= data.len());
            }
            let mut copy = data.clone();
            let _ = pop_vlan_tag_in_place(&mut copy);
            let mut copy = data.clone();
            let _ = push_vlan_tag_in_place(&mut copy, 5);
        }
    }
}
