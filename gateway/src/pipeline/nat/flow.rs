//! What identifies a packet's flow for conntrack: [`Flow`] (and the quoted
//! [`EmbeddedFlow`]), what a rewrite saw ([`Rewrite`]), and [`parse_flow`], which reads
//! the flow of a packet before it is rewritten.

use std::net::Ipv4Addr;

use super::layout::{
    ip_bounds, non_first_fragment, rd16, rd_addr, ICMP_HDR, ICMP_ID, IP_DST, IP_PROTO, IP_SRC,
    L4_DST_PORT, L4_SRC_PORT, TCP_MIN, UDP_LEN,
};
use super::NatError;
use crate::wire::icmp::msg_type;
use crate::wire::ipv4::protocol;

#[cfg(doc)]
use super::{parse_icmp_error, rewrite, rewrite_icmp_echo};

/// A flow's identifying fields as found in a packet. For ICMP echo both ports hold
/// the echo identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP).
    pub proto: u8,
    /// Source address.
    pub src: Ipv4Addr,
    /// Source port (echo identifier for ICMP).
    pub src_port: u16,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Destination port (echo identifier for ICMP).
    pub dst_port: u16,
}

impl Flow {
    /// The same flow seen from the other direction (source and destination swapped).
    #[inline]
    pub const fn reversed(self) -> Flow {
        Flow {
            proto: self.proto,
            src: self.dst,
            src_port: self.dst_port,
            dst: self.src,
            dst_port: self.src_port,
        }
    }
}

/// The packet quoted by an ICMP error, as sent (so its reply-direction conntrack key
/// is [`Flow::reversed`]).
pub type EmbeddedFlow = Flow;

/// What a successful rewrite saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    /// The flow fields before the rewrite.
    pub before: Flow,
    /// Offset of the L4 header in the slice (the IPv4 header length).
    pub l4_offset: usize,
    /// The TTL now in the packet (decremented if asked).
    pub ttl: u8,
}

/// The flow of an unfragmented (or first-fragment) TCP, UDP or ICMP echo packet,
/// as the caller needs it for a conntrack lookup before [`rewrite`] or
/// [`rewrite_icmp_echo`]. Same validation as those functions, so a packet that
/// parses here is one they accept (TTL aside). Other protocols give
/// [`NatError::NotTcpUdp`], other ICMP types [`NatError::NotIcmpEcho`] (an ICMP
/// error goes to [`parse_icmp_error`]).
#[inline(always)]
pub fn parse_flow(ip: &[u8]) -> Result<Flow, NatError> {
    let (hl, tl) = ip_bounds(ip)?;
    let proto = ip[IP_PROTO];
    let min = match proto {
        protocol::TCP => TCP_MIN,
        protocol::UDP => UDP_LEN,
        protocol::ICMP => ICMP_HDR,
        _ => return Err(NatError::NotTcpUdp),
    };
    if non_first_fragment(ip, 0) {
        return Err(NatError::Fragment);
    }
    if tl - hl < min {
        return Err(NatError::Truncated);
    }
    let (src_port, dst_port) = if proto == protocol::ICMP {
        if !matches!(ip[hl], msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY) {
            return Err(NatError::NotIcmpEcho);
        }
        let id = rd16(ip, hl + ICMP_ID);
        (id, id)
    } else {
        (rd16(ip, hl + L4_SRC_PORT), rd16(ip, hl + L4_DST_PORT))
    };
    Ok(Flow {
        proto,
        src: Ipv4Addr::from(rd_addr(ip, IP_SRC)),
        src_port,
        dst: Ipv4Addr::from(rd_addr(ip, IP_DST)),
        dst_port,
    })
}
