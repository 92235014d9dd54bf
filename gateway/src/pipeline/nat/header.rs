//! Rewrites of the IPv4 header alone: the TTL step of a routed hop (shared with the
//! TCP/UDP rewrite), [`decrement_ttl`], and [`rewrite_later_fragment`] for the
//! fragments that carry no L4 header.

use std::net::Ipv4Addr;

use super::delta::{fix_csum, set_addr, Delta};
use super::layout::{ip_bounds, non_first_fragment, IP_CSUM, IP_DST, IP_PROTO, IP_SRC, IP_TTL};
use super::NatError;

/// Checks TTL for a routed hop; writes the decrement into the header and `ipd`.
#[inline(always)]
pub(super) fn ttl_step(ip: &mut [u8], ttl_dec: bool, ipd: &mut Delta) -> Result<u8, NatError> {
    let ttl = ip[IP_TTL];
    if !ttl_dec {
        return Ok(ttl);
    }
    if ttl <= 1 {
        return Err(NatError::TtlExpired);
    }
    let proto = ip[IP_PROTO];
    ipd.word(
        u16::from_ne_bytes([ttl, proto]),
        u16::from_ne_bytes([ttl - 1, proto]),
    );
    ip[IP_TTL] = ttl - 1;
    Ok(ttl - 1)
}

/// Rewrites the addresses of a later fragment (no L4 header: its ports were in the
/// first fragment, and the L4 checksum, which covers the whole datagram, was updated
/// there), decrementing the TTL; the IPv4 header checksum is updated incrementally.
/// `None` leaves that address. Errors: [`NatError::Truncated`] /
/// [`NatError::Malformed`], [`NatError::TtlExpired`] (untouched), and
/// [`NatError::NotTcpUdp`] for a packet that is not a later fragment.
#[inline]
pub fn rewrite_later_fragment(
    ip: &mut [u8],
    src: Option<Ipv4Addr>,
    dst: Option<Ipv4Addr>,
) -> Result<(), NatError> {
    ip_bounds(ip)?;
    if !non_first_fragment(ip, 0) {
        return Err(NatError::NotTcpUdp);
    }
    let mut d = Delta::default();
    ttl_step(ip, true, &mut d)?;
    if let Some(a) = src {
        set_addr(ip, IP_SRC, a, &mut d);
    }
    if let Some(a) = dst {
        set_addr(ip, IP_DST, a, &mut d);
    }
    fix_csum(ip, IP_CSUM, d);
    Ok(())
}

/// Decrements the TTL of a routed packet (any protocol) with an incremental header
/// checksum update; returns the new TTL. [`NatError::TtlExpired`] (untouched) if
/// TTL <= 1. For the ICMP rewrites, which take no `ttl_dec`: call this first, so
/// that an expired packet is still the one received.
#[inline]
pub fn decrement_ttl(ip: &mut [u8]) -> Result<u8, NatError> {
    ip_bounds(ip)?;
    let mut d = Delta::default();
    let ttl = ttl_step(ip, true, &mut d)?;
    fix_csum(ip, IP_CSUM, d);
    Ok(ttl)
}
