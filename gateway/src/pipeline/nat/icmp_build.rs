//! The ICMP errors the gateway originates about a packet it cannot forward:
//! fragmentation needed ([`build_icmp_frag_needed`]) and time exceeded
//! ([`build_icmp_time_exceeded`]), with the RFC 1122 / RFC 1812 rules on when none
//! may be sent.

use std::net::Ipv4Addr;

use super::icmp_error::is_icmp_error;
use super::layout::{
    non_first_fragment, rd16, rd_addr, wr16, wr_addr, ICMP_CSUM, ICMP_HDR, IP_CSUM, IP_DST, IP_MIN,
    IP_PROTO, IP_SRC, IP_TOTAL_LEN, IP_VER_IHL,
};
use super::NatError;
use crate::wire::checksum;
use crate::wire::icmp::{msg_type, CODE_FRAG_NEEDED};
use crate::wire::ipv4::protocol;

/// TTL of the ICMP errors the gateway originates.
pub const ICMP_ERROR_TTL: u8 = 64;

/// Quoted payload bytes in an originated ICMP error (RFC 792: "the internet header
/// plus the first 64 bits of the original datagram's data").
pub const ICMP_ERROR_QUOTE: usize = 8;

/// Largest ICMP error the builders write: 20 (IP) + 8 (ICMP) + 60 (quoted header
/// with options) + 8 (quoted payload).
pub const ICMP_ERROR_MAX_LEN: usize =
    IP_MIN + ICMP_HDR + crate::wire::ipv4::MAX_HEADER_LEN + ICMP_ERROR_QUOTE;

/// True for addresses that do not name a single host as an ICMP error's source or
/// destination: 0/8, loopback, multicast, class E and limited broadcast.
#[inline]
fn not_unicast(a: [u8; 4]) -> bool {
    a[0] == 0 || a[0] == 127 || a[0] >= 224
}

/// Builds an ICMP error about `original` into `out`; returns the length written.
fn build_icmp_error(
    out: &mut [u8],
    original: &[u8],
    our_ip: Ipv4Addr,
    icmp_type: u8,
    code: u8,
    rest_of_header: [u8; 4],
) -> Result<usize, NatError> {
    if original.len() < IP_MIN {
        return Err(NatError::Truncated);
    }
    if original[IP_VER_IHL] >> 4 != 4 {
        return Err(NatError::Malformed);
    }
    let hl = usize::from(original[IP_VER_IHL] & 0x0f) * 4;
    let tl = usize::from(rd16(original, IP_TOTAL_LEN));
    if hl < IP_MIN || tl < hl {
        return Err(NatError::Malformed);
    }
    if original.len() < hl {
        return Err(NatError::Truncated);
    }
    // What is there of the original datagram (the slice may be a prefix of it, or
    // carry link padding past its total length).
    let avail = original.len().min(tl);
    let quote = hl + (avail - hl).min(ICMP_ERROR_QUOTE);

    // RFC 1122 3.2.2, RFC 1812 4.3.2.7: never about an ICMP error, a non-first
    // fragment, or a packet to or from an address that is not one host.
    let src = rd_addr(original, IP_SRC);
    let dst = rd_addr(original, IP_DST);
    if non_first_fragment(original, 0) || not_unicast(src) || not_unicast(dst) {
        return Err(NatError::Suppressed);
    }
    // An ICMP message too short to show its type is not answered either.
    if original[IP_PROTO] == protocol::ICMP && (avail == hl || is_icmp_error(original[hl])) {
        return Err(NatError::Suppressed);
    }

    let len = IP_MIN + ICMP_HDR + quote;
    let Some(out) = out.get_mut(..len) else {
        return Err(NatError::BufferTooSmall);
    };
    // IPv4 header: no options, DSCP CS6 (network control, as Linux sends its ICMP
    // errors), ident 0 with DF (an atomic datagram, RFC 6864), TTL 64.
    out[..IP_MIN].copy_from_slice(&[
        0x45,
        0xc0,
        0,
        0,
        0,
        0,
        0x40,
        0,
        ICMP_ERROR_TTL,
        protocol::ICMP,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ]);
    wr16(out, IP_TOTAL_LEN, len as u16);
    wr_addr(out, IP_SRC, our_ip.octets());
    wr_addr(out, IP_DST, src);
    let c = checksum::checksum(&out[..IP_MIN]);
    wr16(out, IP_CSUM, c);
    // ICMP header + quote.
    let m = &mut out[IP_MIN..];
    let [r0, r1, r2, r3] = rest_of_header;
    m[..ICMP_HDR].copy_from_slice(&[icmp_type, code, 0, 0, r0, r1, r2, r3]);
    m[ICMP_HDR..].copy_from_slice(&original[..quote]);
    let c = checksum::checksum(m);
    wr16(m, ICMP_CSUM, c);
    Ok(len)
}

/// Builds ICMP destination unreachable / fragmentation needed (type 3 code 4, RFC
/// 792 + RFC 1191 next-hop MTU) about `original_ip` (the offending packet as
/// received, starting at its IPv4 header), from `our_ip` to the original source,
/// TTL 64, both checksums filled. The message quotes the original IPv4 header
/// (options included) and the first 8 bytes of its payload (fewer if it has fewer).
/// Returns the IPv4 packet length written to `out` (at most
/// [`ICMP_ERROR_MAX_LEN`]); the caller adds the Ethernet header.
///
/// Errors: [`NatError::Truncated`] / [`NatError::Malformed`] (original header),
/// [`NatError::Suppressed`] (no ICMP error may be sent about it),
/// [`NatError::BufferTooSmall`].
#[inline]
pub fn build_icmp_frag_needed(
    out: &mut [u8],
    original_ip: &[u8],
    our_ip: Ipv4Addr,
    next_hop_mtu: u16,
) -> Result<usize, NatError> {
    let mtu = next_hop_mtu.to_be_bytes();
    build_icmp_error(
        out,
        original_ip,
        our_ip,
        msg_type::DEST_UNREACHABLE,
        CODE_FRAG_NEEDED,
        [0, 0, mtu[0], mtu[1]],
    )
}

/// Builds ICMP time exceeded in transit (type 11 code 0) about `original_ip`, like
/// [`build_icmp_frag_needed`] (same quote, addressing, errors and length).
#[inline]
pub fn build_icmp_time_exceeded(
    out: &mut [u8],
    original_ip: &[u8],
    our_ip: Ipv4Addr,
) -> Result<usize, NatError> {
    build_icmp_error(out, original_ip, our_ip, msg_type::TIME_EXCEEDED, 0, [0; 4])
}

#[cfg(test)]
#[path = "icmp_build_tests.rs"]
mod tests;
