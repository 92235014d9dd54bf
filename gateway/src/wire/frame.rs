//! Where the fields of an untagged Ethernet frame carrying IPv4 without options lie,
//! from the frame's first byte: the places the fast paths, the flow hash and the
//! burst warm-up read directly (once the frame's first bytes show such a packet),
//! instead of going through the views. Each offset is a header's start plus its
//! `field` offset; [`super::encap`] goes on through the VXLAN encapsulation.
//!
//! ```text
//!  0..14   Ethernet (ethernet::field)
//! 14..34   IPv4 without options (ipv4::field, from IP)
//! 34..     TCP or UDP (tcp::field, udp::field, from L4)
//! ```

use core::ops::Range;

use super::{ethernet, ipv4};

/// The IPv4 header.
pub const IP: usize = ethernet::HEADER_LEN;

/// The L4 header after an IPv4 header without options.
pub const L4: usize = IP + ipv4::MIN_HEADER_LEN;

/// Field `r` of a header that starts at `base`.
pub(super) const fn shifted(base: usize, r: Range<usize>) -> Range<usize> {
    base + r.start..base + r.end
}

/// Where each field lies, from the frame's first byte (IPv4 fields `IP_*`, L4 fields
/// after an IPv4 header without options).
pub mod field {
    use core::ops::Range;

    use super::super::{ipv4, tcp, udp};
    use super::{shifted, IP, L4};

    /// IPv4 version and header length.
    pub const IP_VER_IHL: usize = IP + ipv4::field::VER_IHL;
    /// IPv4 DSCP and ECN.
    pub const IP_DSCP_ECN: usize = IP + ipv4::field::DSCP_ECN;
    /// IPv4 total length, 2 bytes.
    pub const IP_TOTAL_LEN: usize = IP + ipv4::field::TOTAL_LEN;
    /// IPv4 identification, 2 bytes.
    pub const IP_IDENT: usize = IP + ipv4::field::IDENT;
    /// IPv4 flags and fragment offset, 2 bytes.
    pub const IP_FLAGS_FRAG: usize = IP + ipv4::field::FLAGS_FRAG;
    /// IPv4 time to live.
    pub const IP_TTL: usize = IP + ipv4::field::TTL;
    /// IPv4 protocol.
    pub const IP_PROTOCOL: usize = IP + ipv4::field::PROTOCOL;
    /// IPv4 header checksum, 2 bytes.
    pub const IP_CHECKSUM: usize = IP + ipv4::field::CHECKSUM;
    /// IPv4 source address.
    pub const IP_SRC_ADDR: Range<usize> = shifted(IP, ipv4::field::SRC_ADDR);
    /// IPv4 destination address.
    pub const IP_DST_ADDR: Range<usize> = shifted(IP, ipv4::field::DST_ADDR);
    /// IPv4 source and destination addresses together.
    pub const IP_ADDRS: Range<usize> = shifted(IP, ipv4::field::ADDRS);
    /// TCP's or UDP's source and destination ports.
    pub const L4_PORTS: Range<usize> = shifted(L4, udp::field::PORTS);
    /// TCP data offset.
    pub const TCP_DATA_OFF: usize = L4 + tcp::field::DATA_OFF;
    /// TCP flags.
    pub const TCP_FLAGS: usize = L4 + tcp::field::FLAGS;
    /// UDP length, 2 bytes.
    pub const UDP_LENGTH: usize = L4 + udp::field::LENGTH;
}
