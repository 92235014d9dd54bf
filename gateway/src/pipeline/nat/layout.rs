//! Where the fields the rewrites touch lie (IPv4 and L4 header offsets), how they
//! are read and written (network order, or raw for checksum words), and the IPv4
//! header checks every rewrite starts with.

use super::NatError;

// IPv4 header offsets.
pub(super) const IP_TOTAL_LEN: usize = 2;
pub(super) const IP_FLG_OFF: usize = 6;
pub(super) const IP_TTL: usize = 8;
pub(super) const IP_PROTO: usize = 9;
pub(super) const IP_CSUM: usize = 10;
pub(super) const IP_SRC: usize = 12;
pub(super) const IP_DST: usize = 16;
pub(super) const IP_MIN: usize = 20;
pub(super) const IP_OFFSET_MASK: u16 = 0x1fff;

// L4 offsets.
pub(super) const TCP_MIN: usize = 20;
pub(super) const TCP_CSUM: usize = 16;
pub(super) const UDP_LEN: usize = 8;
pub(super) const UDP_CSUM: usize = 6;
pub(super) const ICMP_HDR: usize = 8;
pub(super) const ICMP_CSUM: usize = 2;
pub(super) const ICMP_ID: usize = 4;

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
    if ip[0] >> 4 != 4 {
        return Err(NatError::Malformed);
    }
    let hl = usize::from(ip[0] & 0x0f) * 4;
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
