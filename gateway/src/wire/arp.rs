//! ARP for Ethernet/IPv4 only (RFC 826 with htype 1, ptype 0x0800, hlen 6, plen 4).

use super::ethernet::{ethertype, MacAddr};
use super::{read_ipv4, read_mac, read_u16, write_u16, WireError};
use std::net::Ipv4Addr;

/// Length of an Ethernet/IPv4 ARP packet (frames are usually padded beyond it; padding is ignored).
pub const PACKET_LEN: usize = 28;

/// ARP hardware type for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// ARP operation codes.
pub mod op {
    /// ARP request.
    pub const REQUEST: u16 = 1;
    /// ARP reply.
    pub const REPLY: u16 = 2;
}

/// Where each field lies in an Ethernet/IPv4 ARP packet, from its first byte.
pub mod field {
    /// Hardware type, 2 bytes.
    pub const HTYPE: usize = 0;
    /// Protocol type, 2 bytes.
    pub const PTYPE: usize = 2;
    /// Hardware address length.
    pub const HLEN: usize = 4;
    /// Protocol address length.
    pub const PLEN: usize = 5;
    /// Operation, 2 bytes.
    pub const OPER: usize = 6;
    /// Sender hardware address, 6 bytes.
    pub const SHA: usize = 8;
    /// Sender protocol address, 4 bytes.
    pub const SPA: usize = 14;
    /// Target hardware address, 6 bytes.
    pub const THA: usize = 18;
    /// Target protocol address, 4 bytes.
    pub const TPA: usize = 24;
}

/// A view of an Ethernet/IPv4 ARP packet (the Ethernet payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` without validation (see the module-level bounds invariant).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps `buffer` after [`ArpPacket::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` below 28 bytes; `Malformed` unless htype=1, ptype=0x0800, hlen=6, plen=4.
    #[inline]
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if read_u16(b, field::HTYPE) != HTYPE_ETHERNET
            || read_u16(b, field::PTYPE) != ethertype::IPV4
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(WireError::Malformed);
        }
        Ok(())
    }

    /// Returns the wrapped buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 once validated).
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (0x0800 once validated).
    #[inline]
    pub fn protocol_type(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length (6 once validated).
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length (4 once validated).
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation code (see [`op`]).
    #[inline]
    pub fn operation(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::OPER)
    }

    /// Sender hardware address.
    #[inline]
    pub fn sender_hw_addr(&self) -> MacAddr {
        read_mac(self.buffer.as_ref(), field::SHA)
    }

    /// Sender protocol (IPv4) address.
    #[inline]
    pub fn sender_proto_addr(&self) -> [u8; 4] {
        read_ipv4(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address.
    #[inline]
    pub fn target_hw_addr(&self) -> MacAddr {
        read_mac(self.buffer.as_ref(), field::THA)
    }

    /// Target protocol (IPv4) address.
    #[inline]
    pub fn target_proto_addr(&self) -> [u8; 4] {
        read_ipv4(self.buffer.as_ref(), field::TPA)
    }

    /// Sender protocol address as `Ipv4Addr`.
    #[inline]
    pub fn sender_ipv4(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.sender_proto_addr())
    }

    /// Target protocol address as `Ipv4Addr`.
    #[inline]
    pub fn target_ipv4(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.target_proto_addr())
    }

    /// True for a gratuitous ARP (sender and target protocol addresses equal).
    #[inline]
    pub fn is_gratuitous(&self) -> bool {
        self.sender_proto_addr() == self.target_proto_addr()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Writes the fixed Ethernet/IPv4 fields (htype 1, ptype 0x0800, hlen 6, plen 4).
    #[inline]
    pub fn init_eth_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        write_u16(b, field::HTYPE, HTYPE_ETHERNET);
        write_u16(b, field::PTYPE, ethertype::IPV4);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Sets the hardware type.
    #[inline]
    pub fn set_hardware_type(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::HTYPE, v);
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_protocol_type(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::PTYPE, v);
    }

    /// Sets the hardware address length.
    #[inline]
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    /// Sets the protocol address length.
    #[inline]
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    /// Sets the operation code.
    #[inline]
    pub fn set_operation(&mut self, v: u16) {
        write_u16(self.buffer.as_mut(), field::OPER, v);
    }

    /// Sets the sender hardware address.
    #[inline]
    pub fn set_sender_hw_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SHA..field::SHA + 6].copy_from_slice(&a.0);
    }

    /// Sets the sender protocol address.
    #[inline]
    pub fn set_sender_proto_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::SPA..field::SPA + 4].copy_from_slice(&a);
    }

    /// Sets the target hardware address.
    #[inline]
    pub fn set_target_hw_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::THA..field::THA + 6].copy_from_slice(&a.0);
    }

    /// Sets the target protocol address.
    #[inline]
    pub fn set_target_proto_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::TPA..field::TPA + 4].copy_from_slice(&a);
    }

    /// Turns a request into the reply "target IP is at `our_mac`": op=2, tha/tpa=old sha/spa, sha=`our_mac`, spa=old tpa.
    ///
    /// Returns `Malformed` (packet untouched) if the operation is not a
    /// request. The Ethernet header is not touched: the caller sets
    /// dst = old sender MAC and src = `our_mac`.
    #[inline]
    pub fn make_reply_in_place(&mut self, our_mac: MacAddr) -> Result<(), WireError> {
        if self.operation() != op::REQUEST {
            return Err(WireError::Malformed);
        }
        let requester_mac = self.sender_hw_addr();
        let requester_ip = self.sender_proto_addr();
        let asked_ip = self.target_proto_addr();
        self.set_operation(op::REPLY);
        self.set_sender_hw_addr(our_mac);
        self.set_sender_proto_addr(asked_ip);
        self.set_target_hw_addr(requester_mac);
        self.set_target_proto_addr(requester_ip);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::EthernetFrame;
    use etherparse::{ArpHardwareId, ArpOperation, EtherType, PacketBuilder};
    use proptest::prelude::*;

    fn request(sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2(sha, [0xff; 6]).arp(
            etherparse::ArpPacket::new(
                ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                ArpOperation::REQUEST,
                &sha,
                &spa,
                &[0; 6],
                &tpa,
            )
            .unwrap(),
        );
        let mut v = Vec::new();
        b.write(&mut v).unwrap();
        v
    }

    #[test]
    fn parse_etherparse_request() {
        let sha = [2, 0, 0, 0, 0, 9];
        let v = request(sha, [10, 1, 1, 5], [10, 1, 1, 1]);
        let eth = EthernetFrame::new_checked(&v[..]).unwrap();
        assert_eq!(eth.ethertype(), ethertype::ARP);
        let a = ArpPacket::new_checked(eth.payload()).unwrap();
        let ep = etherparse::ArpPacketSlice::from_slice(eth.payload()).unwrap();
        assert_eq!(a.hardware_type(), ep.hw_addr_type().0);
        assert_eq!(a.protocol_type(), ep.proto_addr_type().0);
        assert_eq!(a.hardware_len(), ep.hw_addr_size());
        assert_eq!(a.protocol_len(), ep.proto_addr_size());
        assert_eq!(a.operation(), op::REQUEST);
        assert_eq!(a.operation(), ep.operation().0);
        assert_eq!(a.sender_hw_addr().as_bytes(), ep.sender_hw_addr());
        assert_eq!(&a.sender_proto_addr(), ep.sender_protocol_addr());
        assert_eq!(a.target_hw_addr().as_bytes(), ep.target_hw_addr());
        assert_eq!(&a.target_proto_addr(), ep.target_protocol_addr());
        assert_eq!(a.sender_ipv4(), Ipv4Addr::new(10, 1, 1, 5));
        assert_eq!(a.target_ipv4(), Ipv4Addr::new(10, 1, 1, 1));
        assert!(!a.is_gratuitous());
    }

    #[test]
    fn reply_helper_produces_valid_reply() {
        let sha = [2, 0, 0, 0, 0, 9];
        let ours = MacAddr([2, 0xaa, 0, 0, 0, 1]);
        let mut v = request(sha, [10, 1, 1, 5], [10, 1, 1, 1]);
        {
            let mut eth = EthernetFrame::new_checked(&mut v[..]).unwrap();
            let mut a = ArpPacket::new_checked(eth.payload_mut()).unwrap();
            a.make_reply_in_place(ours).unwrap();
            // A reply is not a request: a second call is refused.
            assert_eq!(a.make_reply_in_place(ours), Err(WireError::Malformed));
            eth.set_dst_addr(MacAddr(sha));
            eth.set_src_addr(ours);
        }
        // Compare byte-for-byte with the reply etherparse would build.
        let b = PacketBuilder::ethernet2(ours.0, sha).arp(
            etherparse::ArpPacket::new(
                ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                ArpOperation::REPLY,
                &ours.0,
                &[10, 1, 1, 1],
                &sha,
                &[10, 1, 1, 5],
            )
            .unwrap(),
        );
        let mut expect = Vec::new();
        b.write(&mut expect).unwrap();
        assert_eq!(v, expect);
        let a = ArpPacket::new_checked(&v[14..]).unwrap();
        assert_eq!(a.operation(), op::REPLY);
        assert_eq!(a.sender_hw_addr(), ours);
    }

    #[test]
    fn build_from_scratch_and_validate() {
        let mut b = [0u8; 28];
        assert_eq!(
            ArpPacket::new_checked(&b[..]).unwrap_err(),
            WireError::Malformed
        );
        let mut a = ArpPacket::new_unchecked(&mut b[..]);
        a.init_eth_ipv4();
        a.set_operation(op::REQUEST);
        a.set_sender_proto_addr([1, 2, 3, 4]);
        a.set_target_proto_addr([1, 2, 3, 4]);
        assert!(a.is_gratuitous());
        assert!(ArpPacket::new_checked(&b[..]).is_ok());
        assert_eq!(
            ArpPacket::new_checked(&b[..27]).unwrap_err(),
            WireError::Truncated
        );
        for (i, bad) in [(1usize, 6u8), (3, 0xdd), (4, 8), (5, 16)] {
            let mut c = b;
            c[i] = bad;
            assert_eq!(
                ArpPacket::new_checked(&c[..]).unwrap_err(),
                WireError::Malformed
            );
        }
        let mut c = b;
        let mut a = ArpPacket::new_unchecked(&mut c[..]);
        a.set_hardware_type(6);
        a.set_protocol_type(0x86dd);
        a.set_hardware_len(1);
        a.set_protocol_len(16);
        assert_eq!(&c[..6], &[0, 6, 0x86, 0xdd, 1, 16]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            mut data in proptest::collection::vec(any::<u8>(), 0..200),
            fix in any::<bool>(), op_code in 0u16..4,
        ) {
            // Half of the cases get the fixed Ethernet/IPv4 fields so that the
            // success branch is exercised, not just the rejections.
            if fix && data.len() >= 8 {
                data[..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 0]);
                data[6..8].copy_from_slice(&op_code.to_be_bytes());
                prop_assert_eq!(ArpPacket::new_checked(&data[..]).is_ok(), data.len() >= 28);
            }
            if let Ok(a) = ArpPacket::new_checked(&data[..]) {
                let _ = (a.hardware_type(), a.protocol_type(), a.hardware_len(), a.protocol_len(),
                    a.operation(), a.sender_hw_addr(), a.sender_proto_addr(), a.target_hw_addr(),
                    a.target_proto_addr(), a.sender_ipv4(), a.target_ipv4(), a.is_gratuitous());
                let mut copy = data.clone();
                let mut m = ArpPacket::new_unchecked(&mut copy[..]);
                let was_request = m.operation() == op::REQUEST;
                prop_assert_eq!(m.make_reply_in_place(MacAddr::ZERO).is_ok(), was_request);
            }
        }

        #[test]
        fn arbitrary_valid_header_parses(
            op_code in any::<u16>(), sha in any::<[u8; 6]>(), spa in any::<[u8; 4]>(),
            tha in any::<[u8; 6]>(), tpa in any::<[u8; 4]>(), pad in 0usize..40,
        ) {
            let mut b = vec![0u8; 28 + pad];
            let mut a = ArpPacket::new_unchecked(&mut b[..]);
            a.init_eth_ipv4();
            a.set_operation(op_code);
            a.set_sender_hw_addr(MacAddr(sha));
            a.set_sender_proto_addr(spa);
            a.set_target_hw_addr(MacAddr(tha));
            a.set_target_proto_addr(tpa);
            let ep = etherparse::ArpPacketSlice::from_slice(&b).unwrap();
            prop_assert_eq!(ep.operation().0, op_code);
            prop_assert_eq!(ep.sender_hw_addr(), &sha[..]);
            prop_assert_eq!(ep.sender_protocol_addr(), &spa[..]);
            prop_assert_eq!(ep.target_hw_addr(), &tha[..]);
            prop_assert_eq!(ep.target_protocol_addr(), &tpa[..]);
            let a = ArpPacket::new_checked(&b[..]).unwrap();
            prop_assert_eq!(a.target_hw_addr(), MacAddr(tha));
        }
    }
}
