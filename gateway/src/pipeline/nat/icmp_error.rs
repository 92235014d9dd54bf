//! ICMP errors about a tracked flow: [`parse_icmp_error`] finds the flow an error
//! quotes, and [`translate_icmp_error`] translates the error (outer and quoted
//! addresses, quoted ports or echo identifier, every checksum involved).

use std::net::Ipv4Addr;

use super::delta::{fix_csum, set_addr, set_word, Delta};
use super::layout::{
    ip_bounds, non_first_fragment, rd16, rd_addr, rd_raw, wr_raw, ICMP_CSUM, ICMP_HDR, ICMP_ID,
    IP_CSUM, IP_DST, IP_MIN, IP_PROTO, IP_SRC, L4_DST_PORT, L4_SRC_PORT, TCP_CSUM, UDP_CSUM,
};
use super::{EmbeddedFlow, Flow, NatError};
use crate::wire::icmp::msg_type;
use crate::wire::ipv4::protocol;
use crate::wire::udp::udp_wire_checksum;

/// ICMP error message types (RFC 792): destination unreachable, source quench,
/// redirect, time exceeded, parameter problem.
#[inline(always)]
pub(super) fn is_icmp_error(t: u8) -> bool {
    matches!(
        t,
        msg_type::DEST_UNREACHABLE
            | msg_type::SOURCE_QUENCH
            | msg_type::REDIRECT
            | msg_type::TIME_EXCEEDED
            | msg_type::PARAMETER_PROBLEM
    )
}

/// Offsets of an ICMP error and the packet it quotes.
struct ErrorLayout {
    /// Outer IPv4 header length (= offset of the ICMP message).
    hl: usize,
    /// Offset of the quoted IPv4 header.
    emb: usize,
    /// Offset of the quoted L4 header.
    l4: usize,
    /// Quoted L4 bytes present.
    l4_len: usize,
    /// Quoted protocol.
    proto: u8,
}

fn error_layout(ip: &[u8]) -> Result<ErrorLayout, NatError> {
    let (hl, tl) = ip_bounds(ip)?;
    if ip[IP_PROTO] != protocol::ICMP {
        return Err(NatError::NotIcmpError);
    }
    if non_first_fragment(ip, 0) {
        return Err(NatError::Fragment);
    }
    if tl - hl < ICMP_HDR {
        return Err(NatError::Truncated);
    }
    if !is_icmp_error(ip[hl]) {
        return Err(NatError::NotIcmpError);
    }
    let emb = hl + ICMP_HDR;
    if tl - emb < IP_MIN {
        return Err(NatError::Truncated);
    }
    if ip[emb] >> 4 != 4 {
        return Err(NatError::Malformed);
    }
    let ehl = usize::from(ip[emb] & 0x0f) * 4;
    if ehl < IP_MIN {
        return Err(NatError::Malformed);
    }
    if tl - emb < ehl {
        return Err(NatError::Truncated);
    }
    if non_first_fragment(ip, emb) {
        return Err(NatError::Fragment);
    }
    let l4 = emb + ehl;
    let l4_len = tl - l4;
    let proto = ip[emb + IP_PROTO];
    match proto {
        protocol::TCP | protocol::UDP | protocol::ICMP => {}
        _ => return Err(NatError::NotTcpUdp),
    }
    // RFC 792 guarantees 8 quoted bytes: ports (and the UDP checksum, the echo id).
    if l4_len < 8 {
        return Err(NatError::Truncated);
    }
    if proto == protocol::ICMP && !matches!(ip[l4], msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY) {
        return Err(NatError::NotTcpUdp);
    }
    Ok(ErrorLayout {
        hl,
        emb,
        l4,
        l4_len,
        proto,
    })
}

fn embedded_flow(ip: &[u8], l: &ErrorLayout) -> EmbeddedFlow {
    let (src_port, dst_port) = if l.proto == protocol::ICMP {
        let id = rd16(ip, l.l4 + ICMP_ID);
        (id, id)
    } else {
        (rd16(ip, l.l4 + L4_SRC_PORT), rd16(ip, l.l4 + L4_DST_PORT))
    };
    Flow {
        proto: l.proto,
        src: Ipv4Addr::from(rd_addr(ip, l.emb + IP_SRC)),
        src_port,
        dst: Ipv4Addr::from(rd_addr(ip, l.emb + IP_DST)),
        dst_port,
    }
}

/// The flow quoted by an ICMP error message (types 3, 4, 5, 11, 12), if it is a
/// TCP, UDP or ICMP echo packet with at least 8 quoted L4 bytes and not a
/// non-first fragment. The quote is the packet as the error's sender saw it, so the
/// caller looks up conntrack with [`Flow::reversed`] of the result when the quoted
/// packet was one the gateway sent. `None` for anything else (same rules as
/// [`translate_icmp_error`], which reports the reason).
#[inline]
pub fn parse_icmp_error(ip: &[u8]) -> Option<EmbeddedFlow> {
    let l = error_layout(ip).ok()?;
    Some(embedded_flow(ip, &l))
}

/// Translates an ICMP error about a tracked flow: the outer IPv4 addresses, the
/// quoted IPv4 addresses and header checksum, the quoted ports (or echo
/// identifier) and, if present in full, the quoted L4 checksum; then the ICMP
/// checksum over every quoted word that changed, and the outer header checksum.
/// Returns the quoted flow before translation.
///
/// For a quoted ICMP echo, `inner_src`'s port is the new identifier and
/// `inner_dst`'s port is ignored.
///
/// The quoted L4 checksum belongs to the original, usually truncated, datagram; an
/// incremental update keeps it equal to the checksum of the translated original,
/// which is what the receiving host expects to see. It is updated only when its two
/// bytes are quoted: always for UDP (bytes 6-7; a quoted 0 stays 0) and ICMP echo
/// (bytes 2-3, no pseudo-header), for TCP only when at least 18 bytes of the TCP
/// header are quoted (RFC 792's minimum is 8, RFC 1812 routers quote more); a TCP
/// checksum not quoted is simply not there to fix.
///
/// Errors: [`NatError::NotIcmpError`], [`NatError::NotTcpUdp`] (quoted protocol),
/// [`NatError::Fragment`] (outer non-first fragment, or quoting one),
/// [`NatError::Truncated`] / [`NatError::Malformed`] (outer or quoted header, fewer
/// than 8 quoted L4 bytes). On error nothing is written.
#[inline]
pub fn translate_icmp_error(
    ip: &mut [u8],
    outer_src: Option<Ipv4Addr>,
    outer_dst: Option<Ipv4Addr>,
    inner_src: Option<(Ipv4Addr, u16)>,
    inner_dst: Option<(Ipv4Addr, u16)>,
) -> Result<EmbeddedFlow, NatError> {
    let l = error_layout(ip)?;
    let before = embedded_flow(ip, &l);

    let mut outer = Delta::default();
    if let Some(a) = outer_src {
        set_addr(ip, IP_SRC, a, &mut outer);
    }
    if let Some(a) = outer_dst {
        set_addr(ip, IP_DST, a, &mut outer);
    }

    // Quoted addresses and ports (or echo identifier).
    let mut addrs = Delta::default();
    let mut ports = Delta::default();
    let icmp_echo = l.proto == protocol::ICMP;
    if let Some((a, p)) = inner_src {
        set_addr(ip, l.emb + IP_SRC, a, &mut addrs);
        let at = if icmp_echo {
            l.l4 + ICMP_ID
        } else {
            l.l4 + L4_SRC_PORT
        };
        set_word(ip, at, p, &mut ports);
    }
    if let Some((a, p)) = inner_dst {
        set_addr(ip, l.emb + IP_DST, a, &mut addrs);
        if !icmp_echo {
            set_word(ip, l.l4 + L4_DST_PORT, p, &mut ports);
        }
    }
    // Every word above lies inside the ICMP message.
    let mut icmp = addrs.plus(ports);

    // Quoted IPv4 header checksum.
    let (old, new) = fix_csum(ip, l.emb + IP_CSUM, addrs);
    icmp.word(old, new);

    // Quoted L4 checksum, when quoted in full.
    match l.proto {
        protocol::TCP if l.l4_len >= TCP_CSUM + 2 => {
            let (old, new) = fix_csum(ip, l.l4 + TCP_CSUM, addrs.plus(ports));
            icmp.word(old, new);
        }
        protocol::UDP => {
            let at = l.l4 + UDP_CSUM;
            let old = rd_raw(ip, at);
            if old != 0 {
                let new = udp_wire_checksum(addrs.plus(ports).apply(old));
                wr_raw(ip, at, new);
                icmp.word(old, new);
            }
        }
        protocol::ICMP => {
            let (old, new) = fix_csum(ip, l.l4 + ICMP_CSUM, ports);
            icmp.word(old, new);
        }
        _ => {}
    }

    // The error's type is non-zero, so RFC 1624's all-zero corner cannot occur.
    fix_csum(ip, l.hl + ICMP_CSUM, icmp);
    fix_csum(ip, IP_CSUM, outer);
    Ok(before)
}

#[cfg(test)]
#[path = "icmp_error_tests.rs"]
mod tests;
