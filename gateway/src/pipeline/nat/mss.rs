//! [`clamp_mss`]: MSS clamping of TCP SYN / SYN-ACK segments, so that the
//! connection's segments fit the overlay's MTU.

use super::layout::{ip_bounds, non_first_fragment, IP_PROTO};
use super::NatError;
use crate::wire::ipv4::protocol;
use crate::wire::tcp::TcpPacket;

/// Lowers the MSS option of a TCP SYN / SYN-ACK to `max_mss` (with the TCP checksum
/// updated, at any option alignment, by `TcpPacket::clamp_mss_update_checksum`);
/// returns `Some((old, new))` if it was lowered. `Ok(None)` for a segment without
/// SYN, without an MSS option (or with a malformed option list before it), or with
/// an MSS already <= `max_mss`.
///
/// Errors: [`NatError::NotTcp`], [`NatError::Fragment`] (non-first fragment),
/// [`NatError::Truncated`] / [`NatError::Malformed`] (IPv4 or TCP header).
#[inline]
pub fn clamp_mss(ip: &mut [u8], max_mss: u16) -> Result<Option<(u16, u16)>, NatError> {
    let (hl, tl) = ip_bounds(ip)?;
    if ip[IP_PROTO] != protocol::TCP {
        return Err(NatError::NotTcp);
    }
    if non_first_fragment(ip, 0) {
        return Err(NatError::Fragment);
    }
    let mut tcp = TcpPacket::new_checked(&mut ip[hl..tl])?;
    if !tcp.syn() {
        return Ok(None);
    }
    Ok(tcp.clamp_mss_update_checksum(max_mss))
}

#[cfg(test)]
#[path = "mss_tests.rs"]
mod tests;
