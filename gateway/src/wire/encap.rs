//! Where the fields of the VXLAN encapsulation lie in the 50 bytes vxgw puts in
//! front of an inner frame (outer Ethernet, IPv4 without options, UDP, VXLAN), from
//! the first byte: the places the encap and decap fast paths, the encap template
//! and the burst warm-up write and read directly. The outer Ethernet and IPv4
//! headers are an untagged IPv4 frame's ([`super::frame`]); each offset is a
//! header's start plus its `field` offset.
//!
//! ```text
//!  0..14   outer Ethernet (ethernet::field)
//! 14..34   outer IPv4 without options (ipv4::field, from IP)
//! 34..42   outer UDP (udp::field, from UDP)
//! 42..50   VXLAN (vxlan::field, from VXLAN)
//! 50..     the inner Ethernet frame (INNER)
//! ```

use super::{frame, udp, vxlan};

/// The outer IPv4 header.
pub const IP: usize = frame::IP;

/// The outer UDP header.
pub const UDP: usize = frame::L4;

/// The VXLAN header.
pub const VXLAN: usize = UDP + udp::HEADER_LEN;

/// The inner Ethernet frame: the encapsulation's length
/// ([`vxlan::VXLAN_ENCAP_OVERHEAD`]).
pub const INNER: usize = VXLAN + vxlan::VXLAN_HEADER_LEN;

/// Where each field lies, from the first byte of the outer Ethernet header.
pub mod field {
    use core::ops::Range;

    use super::super::frame::shifted;
    use super::super::{ethernet, udp, vxlan};
    use super::{UDP, VXLAN};

    pub use super::super::frame::field::{
        IP_ADDRS, IP_CHECKSUM, IP_DSCP_ECN, IP_DST_ADDR, IP_FLAGS_FRAG, IP_IDENT, IP_PROTOCOL,
        IP_SRC_ADDR, IP_TOTAL_LEN, IP_TTL, IP_VER_IHL,
    };

    /// Outer destination MAC (the next hop's).
    pub const DST_MAC: Range<usize> = ethernet::field::DST;
    /// Outer source MAC (the underlay port's).
    pub const SRC_MAC: Range<usize> = ethernet::field::SRC;
    /// Outer EtherType (IPv4), 2 bytes.
    pub const ETHERTYPE: usize = ethernet::field::ETHERTYPE;
    /// UDP source port (from the inner flow's hash), 2 bytes.
    pub const UDP_SRC_PORT: usize = UDP + udp::field::SRC_PORT;
    /// UDP destination port (the VXLAN port), 2 bytes.
    pub const UDP_DST_PORT: usize = UDP + udp::field::DST_PORT;
    /// UDP length, 2 bytes.
    pub const UDP_LENGTH: usize = UDP + udp::field::LENGTH;
    /// UDP checksum (0: none), 2 bytes.
    pub const UDP_CHECKSUM: usize = UDP + udp::field::CHECKSUM;
    /// VXLAN flags.
    pub const VXLAN_FLAGS: usize = VXLAN + vxlan::field::FLAGS;
    /// VNI, 3 bytes.
    pub const VNI: usize = VXLAN + vxlan::field::VNI;
    /// The VXLAN header's second word: the VNI and the reserved byte after it.
    pub const VNI_WORD: Range<usize> = shifted(VXLAN, vxlan::field::VNI_WORD);
}

// The layout the module doc draws (and RFC 7348's figure).
const _: () = {
    use field::*;
    assert!(IP == 14 && UDP == 34 && VXLAN == 42 && INNER == vxlan::VXLAN_ENCAP_OVERHEAD);
    assert!(IP_TOTAL_LEN == 16 && IP_PROTOCOL == 23 && IP_CHECKSUM == 24);
    assert!(IP_SRC_ADDR.start == 26 && IP_DST_ADDR.start == 30 && IP_ADDRS.end == 34);
    assert!(UDP_SRC_PORT == 34 && UDP_LENGTH == 38 && VXLAN_FLAGS == 42);
    assert!(VNI == 46 && VNI_WORD.start == 46 && VNI_WORD.end == 50);
};
