//! [`NatError`]: why a packet was not rewritten (or an ICMP error not built), one
//! named reason per refusal so that the caller can count it.

use std::fmt;

use crate::wire::WireError;

#[cfg(doc)]
use super::{
    build_icmp_time_exceeded, clamp_mss, rewrite, rewrite_icmp_echo, translate_icmp_error,
};

/// Why a packet was not rewritten (or an ICMP error not built). The packet is left
/// untouched whenever one of these is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatError {
    /// The slice (or the IPv4 total length) is too short for the headers needed,
    /// outer or quoted.
    Truncated,
    /// Not IPv4, IHL below 5, or total length below the header length (outer or
    /// quoted header).
    Malformed,
    /// The protocol is not TCP or UDP ([`rewrite`]); for an ICMP error, the quoted
    /// packet is not TCP, UDP or an ICMP echo.
    NotTcpUdp,
    /// [`clamp_mss`] on a packet that is not TCP.
    NotTcp,
    /// [`rewrite_icmp_echo`] on a packet that is not an ICMP echo request/reply.
    NotIcmpEcho,
    /// [`translate_icmp_error`] on a packet that is not an ICMP error message.
    NotIcmpError,
    /// A non-first fragment (no L4 header), or an ICMP error quoting one.
    Fragment,
    /// TTL <= 1 on a routed hop: the caller sends ICMP time exceeded
    /// ([`build_icmp_time_exceeded`]) about the untouched packet.
    TtlExpired,
    /// The output buffer of an ICMP builder is too small.
    BufferTooSmall,
    /// RFC 1122 3.2.2 / RFC 1812 4.3.2.7 forbid an ICMP error about this packet
    /// (it is an ICMP error, a non-first fragment, or to/from a non-unicast address).
    Suppressed,
}

impl NatError {
    /// Number of variants (for counter arrays indexed by [`NatError::index`]).
    pub const COUNT: usize = 10;

    /// A stable snake_case name, for counters and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            NatError::Truncated => "truncated",
            NatError::Malformed => "malformed",
            NatError::NotTcpUdp => "not_tcp_udp",
            NatError::NotTcp => "not_tcp",
            NatError::NotIcmpEcho => "not_icmp_echo",
            NatError::NotIcmpError => "not_icmp_error",
            NatError::Fragment => "fragment",
            NatError::TtlExpired => "ttl_expired",
            NatError::BufferTooSmall => "buffer_too_small",
            NatError::Suppressed => "icmp_error_suppressed",
        }
    }

    /// A dense index in `0..COUNT`.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for NatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for NatError {}

impl From<WireError> for NatError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated => NatError::Truncated,
            WireError::Malformed => NatError::Malformed,
        }
    }
}
