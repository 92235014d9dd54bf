//! Zero-copy, allocation-free views over packet bytes (Ethernet, 802.1Q,
//! ARP, IPv4, UDP, TCP, ICMPv4, VXLAN) plus internet-checksum helpers.
//!
//! The module knows nothing about DPDK: every view wraps anything that is
//! `AsRef<[u8]>` (and `AsMut<[u8]>` for setters), in the style of smoltcp's
//! `wire` module.
//!
//! # The bounds invariant
//!
//! Each view `Foo<T>` has two constructors:
//!
//! * `Foo::new_checked(buf)` validates the buffer once (length and the
//!   length/version fields the accessors rely on) and returns
//!   [`WireError::Truncated`] or [`WireError::Malformed`] on failure. It never
//!   panics, whatever the input bytes.
//! * `Foo::new_unchecked(buf)` skips validation.
//!
//! Once `new_checked` (or `check_len`) has succeeded, **every getter,
//! `payload()`, and every setter that does not change a length field** indexes
//! the buffer without further checks and cannot panic or read past the buffer.
//! Accessors on a view built with `new_unchecked` over a buffer that would not
//! pass `check_len` may panic (slice index out of range) — never undefined
//! behaviour, as there is no `unsafe` here. Setters that change a length
//! field (`set_header_len`, `set_total_len`, `set_length`) can break the
//! invariant; call `check_len()` again before reading through them. The
//! free functions (`vlan::parse_l2`, `vlan::push_vlan_tag_in_place`,
//! `vlan::pop_vlan_tag_in_place`, `tcp::find_mss_value_offset`) check bounds
//! themselves and never panic.
//!
//! Multi-byte fields are big-endian (network order) on the wire; getters and
//! setters take and return host integers.
//!
//! # Header offsets
//!
//! This module is the only place that knows where a field lies in a header: each
//! header's `field` module (`ipv4::field::PROTOCOL`, `ethernet::field::ETHERTYPE`,
//! ...) gives its offsets from the header's first byte, and [`frame`] and [`encap`]
//! add up the fixed places the fast paths index directly (an IPv4 frame's fields,
//! the VXLAN encapsulation's). Code outside `wire` indexes packet bytes only through
//! these names (`scripts/check_header_literals.sh` checks it).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arp;
pub mod checksum;
pub mod encap;
pub mod ethernet;
pub mod frame;
pub mod icmp;
pub mod ipv4;
pub mod outer_match;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

pub use arp::ArpPacket;
pub use ethernet::{EthernetFrame, MacAddr};
pub use icmp::IcmpPacket;
pub use ipv4::Ipv4Packet;
pub use tcp::TcpPacket;
pub use udp::UdpPacket;
pub use vlan::VlanHeader;
pub use vxlan::VxlanHeader;

use core::fmt;

/// Why a buffer could not be parsed (or an in-place operation refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The buffer is shorter than the header or than a length field claims.
    Truncated,
    /// A field holds a value this module does not accept (bad version,
    /// header length below the minimum, unsupported ARP types, ...).
    Malformed,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated packet"),
            WireError::Malformed => f.write_str("malformed packet"),
        }
    }
}

impl std::error::Error for WireError {}

// Byte helpers shared by the submodules. Callers guarantee the indices are in
// bounds (see the module-level invariant); they are only `#[inline]`
// shorthands for `from_be_bytes`/`to_be_bytes`.

#[inline]
fn read_u16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

#[inline]
fn read_u32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

#[inline]
fn write_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
fn write_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

#[inline]
fn read_ipv4(b: &[u8], off: usize) -> [u8; 4] {
    [b[off], b[off + 1], b[off + 2], b[off + 3]]
}

#[inline]
fn read_mac(b: &[u8], off: usize) -> MacAddr {
    MacAddr([
        b[off],
        b[off + 1],
        b[off + 2],
        b[off + 3],
        b[off + 4],
        b[off + 5],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display() {
        assert_eq!(WireError::Truncated.to_string(), "truncated packet");
        assert_eq!(WireError::Malformed.to_string(), "malformed packet");
        let e: Box<dyn std::error::Error> = Box::new(WireError::Malformed);
        assert_eq!(e.to_string(), "malformed packet");
    }

    #[test]
    fn byte_helpers() {
        let mut b = [0u8; 8];
        write_u16(&mut b, 1, 0xabcd);
        write_u32(&mut b, 3, 0x0102_0304);
        assert_eq!(b, [0, 0xab, 0xcd, 1, 2, 3, 4, 0]);
        assert_eq!(read_u16(&b, 1), 0xabcd);
        assert_eq!(read_u32(&b, 3), 0x0102_0304);
        assert_eq!(read_ipv4(&b, 3), [1, 2, 3, 4]);
        assert_eq!(read_mac(&b, 2), MacAddr([0xcd, 1, 2, 3, 4, 0]));
    }
}
