//! Where the fields the rewrites touch lie (IPv4 and L4 header offsets), how they
//! are read and written (network order, or raw for checksum words), and the IPv4
//! header checks every rewrite starts with.

use super::NatError;
use crate::wire::ipv4;

// IPv4 header offsets and lengths (wire's, under the names the rewrites use).
pub(super) use crate::wire::ipv4::field::{
    CHECKSUM as IP_CSUM, FLAGS_FRAG as IP_FLG_OFF, PROTOCOL as IP_PROTO, TOTAL_LEN as IP_TOTAL_LEN,
    TTL as IP_TTL, VER_IHL as IP_VER_IHL,
};
pub(super) use crate::wire::ipv4::MIN_HEADER_LEN as IP_MIN;
/// The source address's offset (added to a header's start: an ICMP error's quote).
pub(super) const IP_SRC: usize = ipv4::field::SRC_ADDR.start;
/// The destination address's offset.
pub(super) const IP_DST: usize = ipv4::field::DST_ADDR.start;
pub(super) const IP_OFFSET_MASK: u16 = 0x1fff;

// L4 offsets and lengths.
pub(super) use crate::wire::icmp::field::{CHECKSUM as ICMP_CSUM, ECHO_IDENT as ICMP_ID};
pub(super) use crate::wire::icmp::HEADER_LEN as ICMP_HDR;
pub(super) use crate::wire::tcp::{field::CHECKSUM as TCP_CSUM, MIN_HEADER_LEN as TCP_MIN};
/// TCP's and UDP's source and destination ports (the same place in both).
pub(super) use crate::wire::udp::field::{DST_PORT as L4_DST_PORT, SRC_PORT as L4_SRC_PORT};
pub(super) use crate::wire::udp::{field::CHECKSUM as UDP_CSUM, HEADER_LEN as UDP_LEN};
/// The ports' length: they start the L4 header.
pub(super) const L4_PORTS_LEN: usize = crate::wire::udp::field::PORTS.end;

#[inline(always)]
pub(super) fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

#[inline(always)]
pub(super) fn wr16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
pub(super) fn rd_addr(b: &[u8], o: usize) -> [u8; 4] {
    [b[o], b[o + 1], b[o + 2], b[o + 3]]
}

#[inline(always)]
pub(super) fn wr_addr(b: &mut [u8], o: usize, a: [u8; 4]) {
    b[o..o + 4].copy_from_slice(&a);
}

/// A 16-bit word as it lies in memory (native byte order, no swap).
#[inline(always)]
pub(super) fn rd_raw(b: &[u8], o: usize) -> u16 {
    u16::from_ne_bytes([b[o], b[o + 1]])
}

#[inline(always)]
pub(super) fn wr_raw(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_ne_bytes());
}

/// Validates the IPv4 header at the start of `ip`; returns (header length, total length).
#[inline(always)]
pub(super) fn ip_bounds(ip: &[u8]) -> Result<(usize, usize), NatError> {
    if ip.len() < IP_MIN {
        return Err(NatError::Truncated);
    }
    if ip[IP_VER_IHL] >> 4 != 4 {
        return Err(NatError::Malformed);
    }
    let hl = usize::from(ip[IP_VER_IHL] & 0x0f) * 4;
    let tl = usize::from(rd16(ip, IP_TOTAL_LEN));
    if hl < IP_MIN || tl < hl {
        return Err(NatError::Malformed);
    }
    if ip.len() < tl {
        return Err(NatError::Truncated);
    }
    Ok((hl, tl))
}

/// Non-zero fragment offset (a non-first fragment) of the header at `ip[at..]`.
#[inline(always)]
pub(super) fn non_first_fragment(ip: &[u8], at: usize) -> bool {
    rd16(ip, at + IP_FLG_OFF) & IP_OFFSET_MASK != 0
}
