//! [`rewrite_icmp_echo`]: NAT of an ICMP echo request or reply, the flow keyed by
//! the echo identifier as TCP and UDP flows are by their ports.

use std::net::Ipv4Addr;

use super::delta::{fix_csum, set_addr, set_word, Delta};
use super::layout::{
    ip_bounds, non_first_fragment, rd16, rd_addr, wr16, ICMP_CSUM, ICMP_HDR, ICMP_ID, IP_CSUM,
    IP_DST, IP_PROTO, IP_SRC, IP_TTL,
};
use super::{Flow, NatError, Rewrite};
use crate::wire::checksum;
use crate::wire::icmp::msg_type;
use crate::wire::ipv4::protocol;

/// Rewrites an ICMP echo request or reply: source and/or destination address (IPv4
/// header checksum updated) and the identifier (ICMP checksum updated), the flow
/// being keyed by the identifier like ports. Returns the flow before the rewrite
/// (both ports = the old identifier).
///
/// Errors: [`NatError::NotIcmpEcho`], [`NatError::Fragment`] (non-first fragment),
/// [`NatError::Truncated`] / [`NatError::Malformed`].
#[inline]
pub fn rewrite_icmp_echo(
    ip: &mut [u8],
    src: Option<Ipv4Addr>,
    dst: Option<Ipv4Addr>,
    new_id: Option<u16>,
) -> Result<Rewrite, NatError> {
    let (hl, tl) = ip_bounds(ip)?;
    if ip[IP_PROTO] != protocol::ICMP {
        return Err(NatError::NotIcmpEcho);
    }
    if non_first_fragment(ip, 0) {
        return Err(NatError::Fragment);
    }
    if tl - hl < ICMP_HDR {
        return Err(NatError::Truncated);
    }
    if !matches!(ip[hl], msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY) {
        return Err(NatError::NotIcmpEcho);
    }
    let id = rd16(ip, hl + ICMP_ID);
    let before = Flow {
        proto: protocol::ICMP,
        src: Ipv4Addr::from(rd_addr(ip, IP_SRC)),
        src_port: id,
        dst: Ipv4Addr::from(rd_addr(ip, IP_DST)),
        dst_port: id,
    };
    let mut ipd = Delta::default();
    if let Some(a) = src {
        set_addr(ip, IP_SRC, a, &mut ipd);
    }
    if let Some(a) = dst {
        set_addr(ip, IP_DST, a, &mut ipd);
    }
    fix_csum(ip, IP_CSUM, ipd);
    if let Some(new) = new_id {
        let mut d = Delta::default();
        set_word(ip, hl + ICMP_ID, new, &mut d);
        let (_, c) = fix_csum(ip, hl + ICMP_CSUM, d);
        // RFC 1624's corner: eqn. 3 gives 0 where a recomputation gives 0xffff
        // only if the message is all zero (an echo reply, id 0, seq 0, zero data).
        // Rare (1 in 65536 updates reach the test at all); 0xffff is valid
        // whenever the data is not all zero, so fragments are safe too.
        if c == 0 && checksum::sum(&ip[hl..tl]) == 0 {
            wr16(ip, hl + ICMP_CSUM, 0xffff);
        }
    }
    Ok(Rewrite {
        before,
        l4_offset: hl,
        ttl: ip[IP_TTL],
    })
}

#[cfg(test)]
#[path = "echo_tests.rs"]
mod tests;
