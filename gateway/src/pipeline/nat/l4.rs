//! The TCP/UDP rewrite: addresses and ports in one pass (DNAT and SNAT), with the
//! TTL step of a routed hop, the IPv4 header and L4 checksums updated incrementally.
//! [`rewrite`] checks the packet; [`rewrite_checked`] is the fast path's, for a
//! packet already checked; [`rewrite_src`] and [`rewrite_dst`] are one-sided.

use std::net::Ipv4Addr;

use super::delta::{fix_csum, set_addr, set_word, Delta};
use super::header::ttl_step;
use super::layout::{
    ip_bounds, non_first_fragment, rd16, rd_addr, rd_raw, wr_raw, IP_CSUM, IP_DST, IP_MIN,
    IP_PROTO, IP_SRC, IP_TTL, L4_DST_PORT, L4_PORTS_LEN, L4_SRC_PORT, TCP_CSUM, TCP_MIN, UDP_CSUM,
    UDP_LEN,
};
use super::{Flow, NatError, Rewrite};
use crate::wire::ipv4::protocol;
use crate::wire::udp::udp_wire_checksum;

#[cfg(doc)]
use super::build_icmp_time_exceeded;

/// Rewrites source and/or destination address and port of a TCP or UDP packet in
/// one pass (the routing mesh's DNAT + SNAT), optionally decrementing the TTL, and
/// updates the IPv4 header and L4 checksums incrementally.
///
/// `None` leaves that side as it is. With `ttl_dec`, a TTL <= 1 gives
/// [`NatError::TtlExpired`] and the packet is untouched (quote it in
/// [`build_icmp_time_exceeded`]). Errors: [`NatError::Truncated`] /
/// [`NatError::Malformed`] (IPv4 header, or fewer than 20 TCP / 8 UDP bytes),
/// [`NatError::NotTcpUdp`], [`NatError::Fragment`] (non-first fragment). On any
/// error nothing is written.
#[inline(always)]
pub fn rewrite(
    ip: &mut [u8],
    src: Option<(Ipv4Addr, u16)>,
    dst: Option<(Ipv4Addr, u16)>,
    ttl_dec: bool,
) -> Result<Rewrite, NatError> {
    let (hl, tl) = ip_bounds(ip)?;
    // Fixed-size views of the IPv4 header and the L4 words written, so that the
    // field accesses below need no bounds checks.
    let (hdr, l4) = ip[..tl].split_at_mut(hl);
    let hdr = hdr.first_chunk_mut::<IP_MIN>().ok_or(NatError::Truncated)?;
    let proto = hdr[IP_PROTO];
    let csum_at = match proto {
        protocol::TCP => TCP_CSUM,
        protocol::UDP => UDP_CSUM,
        _ => return Err(NatError::NotTcpUdp),
    };
    if non_first_fragment(hdr, 0) {
        return Err(NatError::Fragment);
    }
    if proto == protocol::TCP && l4.len() < TCP_MIN {
        return Err(NatError::Truncated);
    }
    let (l4_ports, l4_rest) = l4
        .split_first_chunk_mut::<L4_PORTS_LEN>()
        .ok_or(NatError::Truncated)?;
    let l4_csum = l4_rest
        .get_mut(csum_at - L4_PORTS_LEN..)
        .and_then(|c| c.first_chunk_mut::<2>())
        .ok_or(NatError::Truncated)?;
    let before = Flow {
        proto,
        src: Ipv4Addr::from(rd_addr(hdr, IP_SRC)),
        src_port: rd16(l4_ports, L4_SRC_PORT),
        dst: Ipv4Addr::from(rd_addr(hdr, IP_DST)),
        dst_port: rd16(l4_ports, L4_DST_PORT),
    };
    let mut ipd = Delta::default();
    let ttl = ttl_step(hdr, ttl_dec, &mut ipd)?;
    set_endpoints(hdr, l4_ports, l4_csum, src, dst, ipd);
    Ok(Rewrite {
        before,
        l4_offset: hl,
        ttl,
    })
}

/// Bytes of a TCP packet [`rewrite_checked`] works on: the IPv4 header without
/// options and TCP's fixed header.
pub const CHECKED_TCP_LEN: usize = IP_MIN + TCP_MIN;
/// Bytes of a UDP packet [`rewrite_checked`] works on: the IPv4 header without
/// options and the UDP header.
pub const CHECKED_UDP_LEN: usize = IP_MIN + UDP_LEN;

/// [`rewrite`] with the TTL decrement, for a packet whose caller has already checked
/// what `rewrite` would (the fast path): an IPv4 header without options, TCP or UDP
/// (`ip[9]`; anything else is taken as UDP), unfragmented, TTL above 1, and its L4
/// header inside the packet; `N` is [`CHECKED_TCP_LEN`] or [`CHECKED_UDP_LEN`].
/// Nothing here fails, so nothing is checked twice; the same helpers as `rewrite`
/// write the same bytes (`rewrite_checked_is_rewrite` tests it).
#[inline(always)]
pub fn rewrite_checked<const N: usize>(
    ip: &mut [u8; N],
    src: Option<(Ipv4Addr, u16)>,
    dst: Option<(Ipv4Addr, u16)>,
) {
    let (hdr, l4) = ip.split_at_mut(IP_MIN.min(N));
    let csum_at = if hdr.get(IP_PROTO) == Some(&protocol::TCP) {
        TCP_CSUM
    } else {
        UDP_CSUM
    };
    if hdr.len() < IP_MIN || l4.len() < csum_at + 2 {
        return;
    }
    let (l4_ports, l4_rest) = l4.split_at_mut(L4_PORTS_LEN);
    let mut ipd = Delta::default();
    let (ttl, proto) = (hdr[IP_TTL], hdr[IP_PROTO]);
    ipd.word(
        u16::from_ne_bytes([ttl, proto]),
        u16::from_ne_bytes([ttl.wrapping_sub(1), proto]),
    );
    hdr[IP_TTL] = ttl.wrapping_sub(1);
    let l4_csum = &mut l4_rest[csum_at - L4_PORTS_LEN..csum_at - L4_PORTS_LEN + 2];
    set_endpoints(hdr, l4_ports, l4_csum, src, dst, ipd);
}

/// The rest of [`rewrite`] and [`rewrite_checked`] once the TTL is done (its change
/// in `ipd`): the addresses and ports set, the IPv4 header checksum updated with
/// `ipd` and the addresses, the L4 checksum (`l4_csum`) with the addresses (its
/// pseudo-header) and the ports; a UDP checksum of 0 (none) stays 0.
#[inline(always)]
fn set_endpoints(
    hdr: &mut [u8],
    l4_ports: &mut [u8],
    l4_csum: &mut [u8],
    src: Option<(Ipv4Addr, u16)>,
    dst: Option<(Ipv4Addr, u16)>,
    ipd: Delta,
) {
    let mut addrs = Delta::default();
    let mut ports = Delta::default();
    if let Some((a, p)) = src {
        set_addr(hdr, IP_SRC, a, &mut addrs);
        set_word(l4_ports, L4_SRC_PORT, p, &mut ports);
    }
    if let Some((a, p)) = dst {
        set_addr(hdr, IP_DST, a, &mut addrs);
        set_word(l4_ports, L4_DST_PORT, p, &mut ports);
    }
    fix_csum(hdr, IP_CSUM, ipd.plus(addrs));
    let l4d = addrs.plus(ports);
    // Raw values; 0 and 0xffff read the same in either byte order.
    let old = rd_raw(l4_csum, 0);
    let new = if hdr[IP_PROTO] == protocol::TCP {
        l4d.apply(old)
    } else if old == 0 {
        0
    } else {
        udp_wire_checksum(l4d.apply(old))
    };
    wr_raw(l4_csum, 0, new);
}

/// SNAT only: [`rewrite`] with a new source address and port, no TTL change.
#[inline]
pub fn rewrite_src(ip: &mut [u8], new_ip: Ipv4Addr, new_port: u16) -> Result<Rewrite, NatError> {
    rewrite(ip, Some((new_ip, new_port)), None, false)
}

/// DNAT only: [`rewrite`] with a new destination address and port, no TTL change.
#[inline]
pub fn rewrite_dst(ip: &mut [u8], new_ip: Ipv4Addr, new_port: u16) -> Result<Rewrite, NatError> {
    rewrite(ip, None, Some((new_ip, new_port)), false)
}

#[cfg(test)]
#[path = "l4_tests.rs"]
mod tests;
