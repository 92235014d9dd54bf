//! NAT rewrites for the routing mesh (DESIGN.md "Packet paths" 3, issue 5 items 4-6).
//!
//! Pure functions over an IPv4 packet held in a byte slice that starts at the IP
//! header (the caller strips or skips Ethernet/VXLAN). They know nothing of DPDK,
//! conntrack or services: the caller looks the flow up and says what to write.
//! Nothing here allocates, nothing panics on any input (property-tested on
//! arbitrary bytes), and every refusal is a named [`NatError`] the caller can count.
//!
//! - [`rewrite`] (and the one-sided [`rewrite_src`] / [`rewrite_dst`]): TCP/UDP
//!   address + port translation, optionally with the TTL decrement of a routed hop.
//!   The hot path does DNAT and SNAT in one pass.
//! - [`rewrite_icmp_echo`]: echo request/reply, the flow keyed by the identifier.
//! - [`parse_icmp_error`] / [`translate_icmp_error`]: an ICMP error quoting a packet
//!   of a tracked flow (port unreachable, fragmentation needed, time exceeded, ...).
//! - [`clamp_mss`]: MSS clamping of SYN / SYN-ACK segments to fit the overlay.
//! - [`build_icmp_frag_needed`] / [`build_icmp_time_exceeded`]: the errors the
//!   gateway itself originates.
//!
//! # Checksum strategy
//!
//! Every rewrite updates checksums incrementally (RFC 1624 eqn. 3,
//! `HC' = ~(~HC + ~m + m')`), generalised to several words: for each checksum the
//! changed 16-bit words contribute `~old + new` to one wide accumulator, which is
//! folded once (three branch-free end-around-carry rounds). Every changed field
//! sits at an even offset of the data its checksum covers (addresses, ports,
//! TTL/protocol, the echo identifier, quoted header fields — an ICMP error quotes
//! the IP header at offset 8 and its L4 header at an even offset after it), so
//! words never straddle a checksum word boundary. Words and checksums are handled
//! as they lie in memory, in native byte order: the ones' complement sum commutes
//! with byte swapping (RFC 1071 section 2(B)), so no swap is done at all, and an
//! address counts as one 32-bit term (2^16 = 1 mod 0xffff). The cost is
//! independent of the packet length, and a checksum that was wrong stays exactly
//! as wrong (the end host still detects the corruption — NAT does not launder it).
//! Checksums are never verified here.
//!
//! - IPv4 header: addresses (+ TTL/protocol word on a TTL decrement).
//! - TCP/UDP: the pseudo-header addresses plus the ports. A UDP checksum of 0
//!   ("none") stays 0; an updated UDP checksum of 0 is written as 0xffff
//!   ([`udp_wire_checksum`]).
//! - ICMP (no pseudo-header): only words inside the message count — the echo
//!   identifier, or for an error every quoted word that changed (quoted addresses,
//!   quoted header checksum, quoted ports, quoted L4 checksum).
//!
//! RFC 1624's one corner, where eqn. 3 yields 0x0000 and a full recomputation
//! 0xffff, needs the data (checksum excluded) to be all zero. It cannot happen for
//! an IPv4 header (version nibble), TCP/UDP (protocol in the pseudo-header) or an
//! ICMP error (non-zero type); an echo reply with id 0, sequence 0 and zero data can
//! reach it, and [`rewrite_icmp_echo`] writes 0xffff there. Both results verify
//! whenever the data is not all zero, so this is about matching a recomputation
//! bit for bit, which the tests demand.
//!
//! # Fragments
//!
//! A non-first fragment carries no L4 header: the rewrites refuse it with
//! [`NatError::Fragment`] (the caller drops and counts it; the routing mesh does not
//! reassemble). A first fragment (MF set, offset 0) is rewritten normally. Its L4
//! checksum covers the whole datagram, including bytes in later fragments, but the
//! incremental update depends only on the old checksum and on the words that
//! change (ports, in this fragment; addresses, in the pseudo-header), so the value
//! in the first fragment becomes exactly the checksum of the rewritten reassembled
//! datagram — provided the later fragments get the same address rewrite, which is
//! why they cannot simply be passed through. Until the caller tracks fragments
//! (keyed by source, destination, protocol and IP identification, rewriting the
//! later ones' addresses and header checksum only), a fragmented datagram cannot be
//! delivered whole; rewriting its first fragment is still correct, so nothing here
//! needs to change when that tracking arrives. The same argument covers the quoted,
//! truncated datagram inside an ICMP error (see [`translate_icmp_error`]).
//!
//! # Leniency
//!
//! Only what a rewrite needs is validated: the IPv4 header (version, IHL, total
//! length within the slice) and enough L4 bytes for the fields written. Trailing
//! bytes past the IPv4 total length (Ethernet padding) are ignored. TCP data offset
//! and UDP length are not checked (the end host does that; the incremental update
//! is correct whatever they say). IP options are carried unchanged (source-route
//! options are not translated, like Linux NAT).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::net::Ipv4Addr;

use crate::wire::checksum;
use crate::wire::icmp::{msg_type, CODE_FRAG_NEEDED};
use crate::wire::ipv4::protocol;
use crate::wire::tcp::TcpPacket;
use crate::wire::udp::udp_wire_checksum;
use crate::wire::WireError;

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

// IPv4 header offsets.
const IP_TOTAL_LEN: usize = 2;
const IP_FLG_OFF: usize = 6;
const IP_TTL: usize = 8;
const IP_PROTO: usize = 9;
const IP_CSUM: usize = 10;
const IP_SRC: usize = 12;
const IP_DST: usize = 16;
const IP_MIN: usize = 20;
const IP_OFFSET_MASK: u16 = 0x1fff;

// L4 offsets.
const TCP_MIN: usize = 20;
const TCP_CSUM: usize = 16;
const UDP_LEN: usize = 8;
const UDP_CSUM: usize = 6;
const ICMP_HDR: usize = 8;
const ICMP_CSUM: usize = 2;
const ICMP_ID: usize = 4;

/// TTL of the ICMP errors the gateway originates.
pub const ICMP_ERROR_TTL: u8 = 64;

/// Quoted payload bytes in an originated ICMP error (RFC 792: "the internet header
/// plus the first 64 bits of the original datagram's data").
pub const ICMP_ERROR_QUOTE: usize = 8;

/// Largest ICMP error the builders write: 20 (IP) + 8 (ICMP) + 60 (quoted header
/// with options) + 8 (quoted payload).
pub const ICMP_ERROR_MAX_LEN: usize = IP_MIN + ICMP_HDR + 60 + ICMP_ERROR_QUOTE;

#[inline(always)]
fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

#[inline(always)]
fn wr16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline(always)]
fn rd_addr(b: &[u8], o: usize) -> [u8; 4] {
    [b[o], b[o + 1], b[o + 2], b[o + 3]]
}

#[inline(always)]
fn wr_addr(b: &mut [u8], o: usize, a: [u8; 4]) {
    b[o..o + 4].copy_from_slice(&a);
}

/// A 16-bit word as it lies in memory (native byte order, no swap).
#[inline(always)]
fn rd_raw(b: &[u8], o: usize) -> u16 {
    u16::from_ne_bytes([b[o], b[o + 1]])
}

#[inline(always)]
fn wr_raw(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_ne_bytes());
}

/// A pending RFC 1624 update: the sum of `~old + new` over every changed word.
///
/// Words are taken as they lie in memory (native byte order, "raw"): the ones'
/// complement sum commutes with byte swapping (RFC 1071 section 2(B)), so a
/// checksum read raw, updated with raw words and written back raw is the same as
/// doing it all in network order — without a byte swap per word. A 32-bit field
/// counts as one 32-bit term: 2^16 = 1 (mod 0xffff), so that equals its two
/// 16-bit halves.
#[derive(Clone, Copy, Default)]
struct Delta(u64);

impl Delta {
    /// A 16-bit word changed (raw values).
    #[inline(always)]
    fn word(&mut self, old: u16, new: u16) {
        self.0 += u64::from(!old) + u64::from(new);
    }

    /// A 4-byte field (an address) changed.
    #[inline(always)]
    fn addr(&mut self, old: [u8; 4], new: [u8; 4]) {
        self.0 += u64::from(!u32::from_ne_bytes(old)) + u64::from(u32::from_ne_bytes(new));
    }

    #[inline(always)]
    fn plus(self, o: Delta) -> Delta {
        Delta(self.0 + o.0)
    }

    /// The raw checksum `csum` updated by this delta.
    #[inline(always)]
    fn apply(self, csum: u16) -> u16 {
        // A delta holds a few dozen terms at most (< 2^40), so three
        // end-around-carry rounds always reach 16 bits: branch-free, unlike the
        // general `checksum::fold` loop (which it equals, see the tests).
        let a = u64::from(!csum) + self.0;
        let a = (a & 0xffff) + (a >> 16);
        let a = (a & 0xffff) + (a >> 16);
        let a = (a & 0xffff) + (a >> 16);
        !(a as u16)
    }
}

/// Validates the IPv4 header at the start of `ip`; returns (header length, total length).
#[inline(always)]
fn ip_bounds(ip: &[u8]) -> Result<(usize, usize), NatError> {
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
fn non_first_fragment(ip: &[u8], at: usize) -> bool {
    rd16(ip, at + IP_FLG_OFF) & IP_OFFSET_MASK != 0
}

/// Checks TTL for a routed hop; writes the decrement into the header and `ipd`.
#[inline(always)]
fn ttl_step(ip: &mut [u8], ttl_dec: bool, ipd: &mut Delta) -> Result<u8, NatError> {
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

/// Writes an address at `at`, recording the change in `d`.
#[inline(always)]
fn set_addr(ip: &mut [u8], at: usize, new: Ipv4Addr, d: &mut Delta) {
    let new = new.octets();
    d.addr(rd_addr(ip, at), new);
    wr_addr(ip, at, new);
}

/// Writes the 16-bit (host order) value `new` at `at`, recording the change in `d`.
#[inline(always)]
fn set_word(ip: &mut [u8], at: usize, new: u16, d: &mut Delta) {
    let new = new.to_be();
    d.word(rd_raw(ip, at), new);
    wr_raw(ip, at, new);
}

/// Applies `d` to the checksum stored at `at`; returns its (old, new) raw values.
#[inline(always)]
fn fix_csum(ip: &mut [u8], at: usize, d: Delta) -> (u16, u16) {
    let old = rd_raw(ip, at);
    let new = d.apply(old);
    wr_raw(ip, at, new);
    (old, new)
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
        (rd16(ip, hl), rd16(ip, hl + 2))
    };
    Ok(Flow {
        proto,
        src: Ipv4Addr::from(rd_addr(ip, IP_SRC)),
        src_port,
        dst: Ipv4Addr::from(rd_addr(ip, IP_DST)),
        dst_port,
    })
}

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
    let (l4_ports, l4_rest) = l4.split_first_chunk_mut::<4>().ok_or(NatError::Truncated)?;
    let l4_csum = l4_rest
        .get_mut(csum_at - 4..)
        .and_then(|c| c.first_chunk_mut::<2>())
        .ok_or(NatError::Truncated)?;
    let before = Flow {
        proto,
        src: Ipv4Addr::from(rd_addr(hdr, IP_SRC)),
        src_port: rd16(l4_ports, 0),
        dst: Ipv4Addr::from(rd_addr(hdr, IP_DST)),
        dst_port: rd16(l4_ports, 2),
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
    let (l4_ports, l4_rest) = l4.split_at_mut(4);
    let mut ipd = Delta::default();
    let (ttl, proto) = (hdr[IP_TTL], hdr[IP_PROTO]);
    ipd.word(
        u16::from_ne_bytes([ttl, proto]),
        u16::from_ne_bytes([ttl.wrapping_sub(1), proto]),
    );
    hdr[IP_TTL] = ttl.wrapping_sub(1);
    let l4_csum = &mut l4_rest[csum_at - 4..csum_at - 2];
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
        set_word(l4_ports, 0, p, &mut ports);
    }
    if let Some((a, p)) = dst {
        set_addr(hdr, IP_DST, a, &mut addrs);
        set_word(l4_ports, 2, p, &mut ports);
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

/// ICMP error message types (RFC 792): destination unreachable, source quench,
/// redirect, time exceeded, parameter problem.
#[inline(always)]
fn is_icmp_error(t: u8) -> bool {
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
        (rd16(ip, l.l4), rd16(ip, l.l4 + 2))
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
        let at = if icmp_echo { l.l4 + ICMP_ID } else { l.l4 };
        set_word(ip, at, p, &mut ports);
    }
    if let Some((a, p)) = inner_dst {
        set_addr(ip, l.emb + IP_DST, a, &mut addrs);
        if !icmp_echo {
            set_word(ip, l.l4 + 2, p, &mut ports);
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
    rest: [u8; 4],
) -> Result<usize, NatError> {
    if original.len() < IP_MIN {
        return Err(NatError::Truncated);
    }
    if original[0] >> 4 != 4 {
        return Err(NatError::Malformed);
    }
    let hl = usize::from(original[0] & 0x0f) * 4;
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
    m[..ICMP_HDR].copy_from_slice(&[icmp_type, code, 0, 0, rest[0], rest[1], rest[2], rest[3]]);
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
    let m = next_hop_mtu.to_be_bytes();
    build_icmp_error(
        out,
        original_ip,
        our_ip,
        msg_type::DEST_UNREACHABLE,
        CODE_FRAG_NEEDED,
        [0, 0, m[0], m[1]],
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
mod tests {
    use super::*;
    use etherparse::icmpv4::{DestUnreachableHeader, TimeExceededCode};
    use etherparse::{
        IcmpEchoHeader, Icmpv4Slice, Icmpv4Type, IpHeaders, IpNumber, Ipv4Header, PacketBuilder,
        TcpHeader, TcpOptionElement, UdpHeader,
    };
    use proptest::prelude::*;

    type Ep = (Ipv4Addr, u16);

    fn ip4(a: [u8; 4]) -> Ipv4Addr {
        Ipv4Addr::from(a)
    }

    fn ipv4_header(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        proto: IpNumber,
        opts: &[u8],
    ) -> IpHeaders {
        let mut h = Ipv4Header::new(0, ttl, proto, src.octets(), dst.octets()).unwrap();
        h.identification = 0x4242;
        h.dont_fragment = true;
        h.options = opts.try_into().unwrap();
        IpHeaders::Ipv4(h, Default::default())
    }

    /// A TCP packet built (checksums computed from scratch) by etherparse.
    #[allow(clippy::too_many_arguments)]
    fn tcp_pkt(
        src: Ep,
        dst: Ep,
        ttl: u8,
        opts: &[u8],
        syn: bool,
        tcp_opts: &[TcpOptionElement],
        payload: &[u8],
    ) -> Vec<u8> {
        let mut t = TcpHeader::new(src.1, dst.1, 1_862_583_515, 65535);
        t.syn = syn;
        t.ack = !syn;
        t.acknowledgment_number = if syn { 0 } else { 3_626_128_582 };
        t.set_options(tcp_opts).unwrap();
        let b =
            PacketBuilder::ip(ipv4_header(src.0, dst.0, ttl, IpNumber::TCP, opts)).tcp_header(t);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    /// A UDP packet built by etherparse; `csum` false zeroes the checksum (and the
    /// IP header stays valid: it does not cover it).
    fn udp_pkt(src: Ep, dst: Ep, ttl: u8, opts: &[u8], csum: bool, payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ip(ipv4_header(src.0, dst.0, ttl, IpNumber::UDP, opts))
            .udp(src.1, dst.1);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        if !csum {
            let hl = usize::from(v[0] & 0x0f) * 4;
            v[hl + 6] = 0;
            v[hl + 7] = 0;
        }
        v
    }

    fn echo_pkt(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        request: bool,
        id: u16,
        seq: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let b = PacketBuilder::ip(ipv4_header(src, dst, 64, IpNumber::ICMP, &[]));
        let b = if request {
            b.icmpv4_echo_request(id, seq)
        } else {
            b.icmpv4_echo_reply(id, seq)
        };
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn icmp_error_pkt(src: Ipv4Addr, dst: Ipv4Addr, t: Icmpv4Type, quote: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ip(ipv4_header(src, dst, 63, IpNumber::ICMP, &[])).icmpv4(t);
        let mut v = Vec::new();
        b.write(&mut v, quote).unwrap();
        v
    }

    /// Recomputes every checksum from scratch with etherparse and checks the packet
    /// against them (IPv4 header; TCP, UDP unless 0, or ICMP over the message).
    fn assert_checksums(pkt: &[u8]) {
        let (iph, rest) = Ipv4Header::from_slice(pkt).unwrap();
        assert_eq!(iph.header_checksum, iph.calc_header_checksum(), "ip");
        let l4 = &rest[..usize::from(iph.total_len) - iph.header_len()];
        match iph.protocol {
            IpNumber::TCP => {
                let (h, payload) = TcpHeader::from_slice(l4).unwrap();
                assert_eq!(
                    h.checksum,
                    h.calc_checksum_ipv4(&iph, payload).unwrap(),
                    "tcp"
                );
            }
            IpNumber::UDP => {
                let (h, payload) = UdpHeader::from_slice(l4).unwrap();
                if h.checksum != 0 {
                    assert_eq!(
                        h.checksum,
                        h.calc_checksum_ipv4(&iph, payload).unwrap(),
                        "udp"
                    );
                }
            }
            IpNumber::ICMP => {
                let s = Icmpv4Slice::from_slice(l4).unwrap();
                assert_eq!(
                    s.checksum(),
                    s.icmp_type().calc_checksum(s.payload()),
                    "icmp"
                );
            }
            p => panic!("unexpected protocol {p:?}"),
        }
    }

    const CLIENT: Ep = (Ipv4Addr::new(92, 234, 68, 72), 53711);
    const NODE: Ep = (Ipv4Addr::new(10, 0, 0, 4), 80);
    const INGRESS: Ep = (Ipv4Addr::new(10, 255, 0, 2), 65408);
    const CONTAINER: Ep = (Ipv4Addr::new(10, 255, 0, 6), 80);

    fn syn_opts() -> Vec<TcpOptionElement> {
        vec![
            TcpOptionElement::MaximumSegmentSize(1460),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(3),
            TcpOptionElement::SelectiveAcknowledgementPermitted,
        ]
    }

    /// The seeds' trace: client 92.234.68.72:53711 -> node 10.0.0.4:80 arrives at
    /// container 10.255.0.6:80 from ingress endpoint 10.255.0.2:65408, and the
    /// container's SYN-ACK goes back to the client from 10.0.0.4:80.
    #[test]
    fn swarm_routing_mesh_trace() {
        let opts = syn_opts();
        // Forward: DNAT + SNAT + routed hop, one pass.
        let mut p = tcp_pkt(CLIENT, NODE, 128, &[], true, &opts, b"");
        assert_checksums(&p);
        let r = rewrite(&mut p, Some(INGRESS), Some(CONTAINER), true).unwrap();
        assert_eq!(
            r.before,
            Flow {
                proto: 6,
                src: CLIENT.0,
                src_port: CLIENT.1,
                dst: NODE.0,
                dst_port: NODE.1
            }
        );
        assert_eq!((r.l4_offset, r.ttl), (20, 127));
        assert_checksums(&p);
        assert_eq!(p, tcp_pkt(INGRESS, CONTAINER, 127, &[], true, &opts, b""));
        assert_eq!(parse_flow(&p).unwrap().reversed().src, CONTAINER.0);

        // Reverse: the SYN-ACK un-NATed back to the client.
        let mut p = tcp_pkt(
            CONTAINER,
            INGRESS,
            64,
            &[],
            false,
            &[],
            b"HTTP/1.1 200 OK\r\n",
        );
        let r = rewrite(&mut p, Some(NODE), Some(CLIENT), true).unwrap();
        assert_eq!(
            r.before.reversed(),
            parse_flow(&tcp_pkt(INGRESS, CONTAINER, 1, &[], true, &[], b"")).unwrap()
        );
        assert_checksums(&p);
        assert_eq!(
            p,
            tcp_pkt(NODE, CLIENT, 63, &[], false, &[], b"HTTP/1.1 200 OK\r\n")
        );
    }

    #[test]
    fn one_sided_rewrites_and_udp() {
        let mut p = udp_pkt(CLIENT, (NODE.0, 53), 64, &[], true, b"query");
        rewrite_dst(&mut p, CONTAINER.0, 5353).unwrap();
        assert_eq!(
            p,
            udp_pkt(CLIENT, (CONTAINER.0, 5353), 64, &[], true, b"query")
        );
        rewrite_src(&mut p, INGRESS.0, INGRESS.1).unwrap();
        assert_eq!(
            p,
            udp_pkt(INGRESS, (CONTAINER.0, 5353), 64, &[], true, b"query")
        );
        assert_checksums(&p);
        // No checksum stays no checksum.
        let mut p = udp_pkt(CLIENT, NODE, 64, &[], false, b"x");
        rewrite(&mut p, Some(INGRESS), Some(CONTAINER), false).unwrap();
        assert_eq!(p, udp_pkt(INGRESS, CONTAINER, 64, &[], false, b"x"));
        assert_eq!(&p[26..28], &[0, 0]);
    }

    /// A UDP rewrite whose result is 0 must be sent as 0xffff: search for a port
    /// that makes the checksum come out at 0 (the full computation gives 0xffff).
    #[test]
    fn udp_zero_result_becomes_ffff() {
        let p0 = udp_pkt(CLIENT, NODE, 64, &[], true, b"zero");
        let c0 = rd16(&p0, 26);
        // Changing the source port from s to s' changes the sum by s' - s; pick s'
        // so the new sum is 0xffff (checksum 0): s' = s + c0 (ones' complement).
        let target = checksum::fold(u64::from(CLIENT.1) + u64::from(c0));
        let mut p = p0.clone();
        rewrite_src(&mut p, CLIENT.0, target).unwrap();
        assert_eq!(rd16(&p, 26), 0xffff);
        assert_eq!(p, udp_pkt((CLIENT.0, target), NODE, 64, &[], true, b"zero"));
        assert_checksums(&p);
    }

    #[test]
    fn ttl_handling() {
        for ttl in [0u8, 1] {
            let mut p = tcp_pkt(CLIENT, NODE, ttl, &[], true, &[], b"");
            let copy = p.clone();
            assert_eq!(
                rewrite(&mut p, Some(INGRESS), Some(CONTAINER), true),
                Err(NatError::TtlExpired)
            );
            assert_eq!(decrement_ttl(&mut p), Err(NatError::TtlExpired));
            assert_eq!(p, copy, "untouched on TtlExpired");
            // Without ttl_dec, TTL 1 is rewritten.
            rewrite(&mut p, Some(INGRESS), Some(CONTAINER), false).unwrap();
            assert_eq!(p, tcp_pkt(INGRESS, CONTAINER, ttl, &[], true, &[], b""));
        }
        let mut p = echo_pkt(CLIENT.0, NODE.0, true, 7, 1, b"ping");
        assert_eq!(decrement_ttl(&mut p), Ok(63));
        assert_checksums(&p);
    }

    #[test]
    fn rejections_leave_packet_untouched() {
        let mut icmp = echo_pkt(CLIENT.0, NODE.0, true, 1, 1, b"");
        let c = icmp.clone();
        assert_eq!(
            rewrite(&mut icmp, Some(INGRESS), None, false),
            Err(NatError::NotTcpUdp)
        );
        assert_eq!(clamp_mss(&mut icmp, 1000), Err(NatError::NotTcp));
        assert_eq!(
            translate_icmp_error(&mut icmp, Some(NODE.0), None, None, None),
            Err(NatError::NotIcmpError)
        );
        assert_eq!(parse_icmp_error(&icmp), None);
        assert_eq!(icmp, c);
        let mut tcp = tcp_pkt(CLIENT, NODE, 64, &[], true, &[], b"");
        assert_eq!(
            rewrite_icmp_echo(&mut tcp, Some(NODE.0), None, None),
            Err(NatError::NotIcmpEcho)
        );
        // Truncated L4: 19 TCP bytes.
        let mut short = tcp.clone();
        short.truncate(39);
        short[3] = 39;
        assert_eq!(
            rewrite(&mut short, Some(INGRESS), None, false),
            Err(NatError::Truncated)
        );
        // Slice shorter than total length.
        assert_eq!(
            rewrite(&mut tcp[..30], Some(INGRESS), None, false),
            Err(NatError::Truncated)
        );
        assert_eq!(
            rewrite(&mut tcp[..19], Some(INGRESS), None, false),
            Err(NatError::Truncated)
        );
        let mut bad = tcp.clone();
        bad[0] = 0x65;
        assert_eq!(
            rewrite(&mut bad, Some(INGRESS), None, false),
            Err(NatError::Malformed)
        );
        bad[0] = 0x44;
        assert_eq!(
            rewrite(&mut bad, Some(INGRESS), None, false),
            Err(NatError::Malformed)
        );
        assert_eq!(NatError::Suppressed.to_string(), "icmp_error_suppressed");
        assert_eq!(NatError::Suppressed.index(), NatError::COUNT - 1);
        assert_eq!(NatError::from(WireError::Malformed), NatError::Malformed);
    }

    /// Splits an etherparse-built datagram into its first fragment of `frag_payload`
    /// L4 bytes (MF set, offset 0, header checksum recomputed).
    fn first_fragment(full: &[u8], frag_payload: usize) -> Vec<u8> {
        let hl = usize::from(full[0] & 0x0f) * 4;
        let mut f = full[..hl + frag_payload].to_vec();
        f[2..4].copy_from_slice(&((hl + frag_payload) as u16).to_be_bytes());
        f[6] = 0x20; // MF, offset 0 (DF cleared)
        f[7] = 0;
        f[10] = 0;
        f[11] = 0;
        let c = checksum::checksum(&f[..hl]);
        f[10..12].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn fragments() {
        let payload: Vec<u8> = (0..200u8).collect();
        for udp in [false, true] {
            let build = |s: Ep, d: Ep| {
                if udp {
                    udp_pkt(s, d, 64, &[], true, &payload)
                } else {
                    tcp_pkt(s, d, 64, &[], false, &[], &payload)
                }
            };
            // The first fragment's L4 checksum (of the whole datagram) is updated
            // to the checksum of the whole rewritten datagram.
            let mut f = first_fragment(&build(CLIENT, NODE), 48);
            rewrite(&mut f, Some(INGRESS), Some(CONTAINER), true).unwrap();
            let mut expect = first_fragment(&build(INGRESS, CONTAINER), 48);
            decrement_ttl(&mut expect).unwrap();
            assert_eq!(f, expect);
            // A non-first fragment is refused, untouched.
            let mut nf = first_fragment(&build(CLIENT, NODE), 48);
            nf[7] = 6; // offset 48 bytes
            let c = nf.clone();
            assert_eq!(
                rewrite(&mut nf, Some(INGRESS), Some(CONTAINER), true),
                Err(NatError::Fragment)
            );
            assert_eq!(parse_flow(&nf), Err(NatError::Fragment));
            assert_eq!(nf, c);
        }
    }

    #[test]
    fn icmp_echo_rewrite() {
        let mut p = echo_pkt(CLIENT.0, NODE.0, true, 0x1234, 9, b"abcdefgh");
        let r =
            rewrite_icmp_echo(&mut p, Some(INGRESS.0), Some(CONTAINER.0), Some(0xbeef)).unwrap();
        assert_eq!(
            (r.before.src_port, r.before.dst_port, r.before.proto),
            (0x1234, 0x1234, 1)
        );
        assert_eq!(
            p,
            echo_pkt(INGRESS.0, CONTAINER.0, true, 0xbeef, 9, b"abcdefgh")
        );
        assert_checksums(&p);
        let mut p = echo_pkt(CONTAINER.0, INGRESS.0, false, 0xbeef, 9, b"abcdefgh");
        rewrite_icmp_echo(&mut p, Some(NODE.0), Some(CLIENT.0), Some(0x1234)).unwrap();
        assert_eq!(p, echo_pkt(NODE.0, CLIENT.0, false, 0x1234, 9, b"abcdefgh"));
        // Addresses only: the ICMP checksum does not change.
        let mut p = echo_pkt(CLIENT.0, NODE.0, true, 5, 6, b"");
        rewrite_icmp_echo(&mut p, None, Some(CONTAINER.0), None).unwrap();
        assert_eq!(p, echo_pkt(CLIENT.0, CONTAINER.0, true, 5, 6, b""));
        // RFC 1624 corner: an all-zero echo reply after the rewrite.
        let mut p = echo_pkt(CLIENT.0, NODE.0, false, 0x0001, 0, &[0; 4]);
        rewrite_icmp_echo(&mut p, None, None, Some(0)).unwrap();
        assert_eq!(rd16(&p, 22), 0xffff);
        assert_eq!(p, echo_pkt(CLIENT.0, NODE.0, false, 0, 0, &[0; 4]));
        assert_checksums(&p);
        // Not an echo.
        let mut e = icmp_error_pkt(
            NODE.0,
            CLIENT.0,
            Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
            &p[..28],
        );
        assert_eq!(
            rewrite_icmp_echo(&mut e, None, None, Some(1)),
            Err(NatError::NotIcmpEcho)
        );
    }

    /// Port unreachable from the container about a UDP datagram the gateway sent
    /// (10.255.0.2:65408 -> 10.255.0.6:53), translated back for the client.
    #[test]
    fn icmp_port_unreachable_trace() {
        let svc = (NODE.0, 53);
        let backend = (CONTAINER.0, 53);
        let sent = udp_pkt(INGRESS, backend, 63, &[], true, b"dns query bytes");
        let t = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port);
        // Linux quotes the whole datagram (up to 576 bytes).
        let mut err = icmp_error_pkt(CONTAINER.0, INGRESS.0, t.clone(), &sent);
        assert_checksums(&err);
        let emb = parse_icmp_error(&err).unwrap();
        assert_eq!(
            emb,
            Flow {
                proto: 17,
                src: INGRESS.0,
                src_port: INGRESS.1,
                dst: backend.0,
                dst_port: 53
            }
        );
        // The reply-direction conntrack key:
        assert_eq!(
            (emb.reversed().src, emb.reversed().dst_port),
            (backend.0, INGRESS.1)
        );
        let before = translate_icmp_error(
            &mut err,
            Some(svc.0),
            Some(CLIENT.0),
            Some(CLIENT),
            Some(svc),
        )
        .unwrap();
        assert_eq!(before, emb);
        let orig = udp_pkt(CLIENT, svc, 63, &[], true, b"dns query bytes");
        assert_eq!(err, icmp_error_pkt(svc.0, CLIENT.0, t, &orig));
        assert_checksums(&err);
        // The quoted datagram is complete here, so etherparse can check its checksums too.
        assert_checksums(&err[28..]);
    }

    #[test]
    fn icmp_error_with_tcp_quote_full_and_truncated() {
        let t = Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 1450,
        });
        let sent = tcp_pkt(INGRESS, CONTAINER, 63, &[], false, &[], &[7; 1000]);
        let orig = tcp_pkt(CLIENT, NODE, 63, &[], false, &[], &[7; 1000]);
        // 8 bytes (RFC 792: checksum not quoted), 12, 18 (checksum just quoted), 28.
        for q in [8usize, 12, 17, 18, 28] {
            let mut err = icmp_error_pkt(CONTAINER.0, INGRESS.0, t.clone(), &sent[..20 + q]);
            translate_icmp_error(
                &mut err,
                Some(NODE.0),
                Some(CLIENT.0),
                Some(CLIENT),
                Some(NODE),
            )
            .unwrap();
            let mut quote = orig[..20 + q].to_vec();
            if q > 16 && q < 18 {
                // Not quoted in full: whatever was there stays (the bytes that are
                // quoted are the sent packet's).
                quote[20 + 16..].copy_from_slice(&sent[20 + 16..20 + q]);
            }
            assert_eq!(
                err,
                icmp_error_pkt(NODE.0, CLIENT.0, t.clone(), &quote),
                "quote {q}"
            );
            assert_checksums(&err);
            let (eh, _) = Ipv4Header::from_slice(&err[28..]).unwrap();
            assert_eq!(eh.header_checksum, eh.calc_header_checksum());
            assert_eq!(
                (eh.source, eh.destination),
                (CLIENT.0.octets(), NODE.0.octets())
            );
        }
        // Fewer than 8 quoted bytes.
        let mut err = icmp_error_pkt(CONTAINER.0, INGRESS.0, t.clone(), &sent[..27]);
        assert_eq!(parse_icmp_error(&err), None);
        assert_eq!(
            translate_icmp_error(&mut err, None, None, Some(CLIENT), None),
            Err(NatError::Truncated)
        );
        // Quoting a non-first fragment.
        let mut nf = first_fragment(&sent, 48);
        nf[7] = 6;
        let mut err = icmp_error_pkt(CONTAINER.0, INGRESS.0, t, &nf[..28]);
        assert_eq!(
            translate_icmp_error(&mut err, None, None, Some(CLIENT), None),
            Err(NatError::Fragment)
        );
    }

    #[test]
    fn icmp_error_quoting_echo() {
        let t = Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit);
        let sent = echo_pkt(INGRESS.0, CONTAINER.0, true, 0xbeef, 3, b"traceroute probe");
        let mut err = icmp_error_pkt(
            Ipv4Addr::new(10, 255, 0, 1),
            INGRESS.0,
            t.clone(),
            &sent[..28],
        );
        let e = parse_icmp_error(&err).unwrap();
        assert_eq!((e.proto, e.src_port, e.dst_port), (1, 0xbeef, 0xbeef));
        translate_icmp_error(
            &mut err,
            Some(NODE.0),
            Some(CLIENT.0),
            Some((CLIENT.0, 0x1234)),
            Some((NODE.0, 999)),
        )
        .unwrap();
        let orig = echo_pkt(CLIENT.0, NODE.0, true, 0x1234, 3, b"traceroute probe");
        assert_eq!(err, icmp_error_pkt(NODE.0, CLIENT.0, t, &orig[..28]));
        assert_checksums(&err);
    }

    #[test]
    fn mss_clamp() {
        let mut p = tcp_pkt(CLIENT, NODE, 64, &[], true, &syn_opts(), b"");
        assert_eq!(clamp_mss(&mut p, 1410), Ok(Some((1460, 1410))));
        assert_checksums(&p);
        let mut o = syn_opts();
        o[0] = TcpOptionElement::MaximumSegmentSize(1410);
        assert_eq!(p, tcp_pkt(CLIENT, NODE, 64, &[], true, &o, b""));
        assert_eq!(clamp_mss(&mut p, 1410), Ok(None));
        assert_eq!(clamp_mss(&mut p, 1500), Ok(None));
        // Odd alignment: one NOP before MSS.
        let odd = [
            TcpOptionElement::Noop,
            TcpOptionElement::MaximumSegmentSize(9000),
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
            TcpOptionElement::Noop,
        ];
        let mut p = tcp_pkt(CLIENT, NODE, 64, &[1, 1, 1, 1], true, &odd, b"");
        assert_eq!(clamp_mss(&mut p, 1410), Ok(Some((9000, 1410))));
        assert_checksums(&p);
        // Not a SYN: untouched.
        let mut p = tcp_pkt(CLIENT, NODE, 64, &[], false, &syn_opts(), b"");
        let c = p.clone();
        assert_eq!(clamp_mss(&mut p, 536), Ok(None));
        assert_eq!(p, c);
    }

    fn check_built_error(out: &[u8], original: &[u8], our: Ipv4Addr, expect_type: Icmpv4Type) {
        assert_checksums(out);
        let (h, rest) = Ipv4Header::from_slice(out).unwrap();
        let (oh, _) = Ipv4Header::from_slice(original).unwrap();
        assert_eq!(usize::from(h.total_len), out.len());
        assert_eq!(
            (h.source, h.destination, h.time_to_live),
            (our.octets(), oh.source, 64)
        );
        assert_eq!(h.protocol, IpNumber::ICMP);
        let s = Icmpv4Slice::from_slice(rest).unwrap();
        assert_eq!(s.icmp_type(), expect_type);
        let ohl = oh.header_len();
        let n = (usize::from(oh.total_len).min(original.len()) - ohl).min(8);
        assert_eq!(s.payload(), &original[..ohl + n]);
        let (qh, _) = Ipv4Header::from_slice(s.payload()).unwrap();
        assert_eq!(qh, oh);
    }

    #[test]
    fn build_errors() {
        let mut out = [0u8; ICMP_ERROR_MAX_LEN];
        let big = tcp_pkt(CLIENT, NODE, 64, &[], false, &[], &[1; 1460]);
        let n = build_icmp_frag_needed(&mut out, &big, NODE.0, 1450).unwrap();
        assert_eq!(n, 20 + 8 + 20 + 8);
        check_built_error(
            &out[..n],
            &big,
            NODE.0,
            Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
                next_hop_mtu: 1450,
            }),
        );
        // The error, translated by parse_icmp_error, names the client's flow.
        assert_eq!(
            parse_icmp_error(&out[..n]).unwrap(),
            parse_flow(&big).unwrap()
        );
        let expired = udp_pkt(CLIENT, NODE, 1, &[1, 1, 1, 0], true, b"");
        let n = build_icmp_time_exceeded(&mut out, &expired, NODE.0).unwrap();
        assert_eq!(n, 20 + 8 + 24 + 8);
        check_built_error(
            &out[..n],
            &expired,
            NODE.0,
            Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
        );
        // Too small an output buffer.
        assert_eq!(
            build_icmp_time_exceeded(&mut out[..59], &expired, NODE.0),
            Err(NatError::BufferTooSmall)
        );
        // Suppressed: about an ICMP error, a non-first fragment, non-unicast ends.
        let err = icmp_error_pkt(
            NODE.0,
            CLIENT.0,
            Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
            &expired[..32],
        );
        assert_eq!(
            build_icmp_time_exceeded(&mut out, &err, NODE.0),
            Err(NatError::Suppressed)
        );
        let ping = echo_pkt(CLIENT.0, NODE.0, true, 1, 1, b"");
        assert!(build_icmp_time_exceeded(&mut out, &ping, NODE.0).is_ok());
        let mut nf = first_fragment(&big, 64);
        nf[7] = 8;
        assert_eq!(
            build_icmp_frag_needed(&mut out, &nf, NODE.0, 1450),
            Err(NatError::Suppressed)
        );
        for (s, d) in [
            ([224, 0, 0, 1], [10, 0, 0, 4]),
            ([10, 0, 0, 1], [255, 255, 255, 255]),
            ([0, 0, 0, 0], [10, 0, 0, 4]),
            ([127, 0, 0, 1], [10, 0, 0, 4]),
        ] {
            let p = udp_pkt((ip4(s), 1), (ip4(d), 2), 1, &[], true, b"");
            assert_eq!(
                build_icmp_time_exceeded(&mut out, &p, NODE.0),
                Err(NatError::Suppressed)
            );
        }
        assert_eq!(
            build_icmp_time_exceeded(&mut out, &big[..19], NODE.0),
            Err(NatError::Truncated)
        );
    }

    // ---- properties ----

    fn ep() -> impl Strategy<Value = Ep> {
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| (ip4(a), p))
    }

    fn ip_opts() -> impl Strategy<Value = Vec<u8>> {
        (0usize..=10).prop_map(|w| vec![1u8; w * 4])
    }

    proptest! {
        /// Incremental DNAT/SNAT (+TTL) equals etherparse building the rewritten
        /// packet from scratch, for TCP, UDP with and without checksum, with IP options.
        #[test]
        fn rewrite_equals_full_recompute(
            kind in 0u8..3, src in ep(), dst in ep(), ttl in any::<u8>(), opts in ip_opts(),
            payload in proptest::collection::vec(any::<u8>(), 0..120),
            nsrc in proptest::option::of(ep()), ndst in proptest::option::of(ep()),
            ttl_dec in any::<bool>(),
        ) {
            let build = |s: Ep, d: Ep, ttl: u8| match kind {
                0 => tcp_pkt(s, d, ttl, &opts, false, &[], &payload),
                1 => udp_pkt(s, d, ttl, &opts, true, &payload),
                _ => udp_pkt(s, d, ttl, &opts, false, &payload),
            };
            let mut p = build(src, dst, ttl);
            let orig = p.clone();
            let r = rewrite(&mut p, nsrc, ndst, ttl_dec);
            if ttl_dec && ttl <= 1 {
                prop_assert_eq!(r, Err(NatError::TtlExpired));
                prop_assert_eq!(p, orig);
            } else {
                let r = r.unwrap();
                prop_assert_eq!(r.before, parse_flow(&orig).unwrap());
                let nttl = if ttl_dec { ttl - 1 } else { ttl };
                prop_assert_eq!(r.ttl, nttl);
                let expect = build(nsrc.unwrap_or(src), ndst.unwrap_or(dst), nttl);
                prop_assert_eq!(&p, &expect);
                assert_checksums(&p);
            }
        }

        #[test]
        fn echo_equals_full_recompute(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), req in any::<bool>(),
            id in any::<u16>(), seq in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            nsrc in proptest::option::of(any::<[u8; 4]>()), ndst in proptest::option::of(any::<[u8; 4]>()),
            nid in proptest::option::of(any::<u16>()),
        ) {
            let mut p = echo_pkt(ip4(src), ip4(dst), req, id, seq, &payload);
            rewrite_icmp_echo(&mut p, nsrc.map(ip4), ndst.map(ip4), nid).unwrap();
            let expect = echo_pkt(ip4(nsrc.unwrap_or(src)), ip4(ndst.unwrap_or(dst)), req, nid.unwrap_or(id), seq, &payload);
            prop_assert_eq!(&p, &expect);
            assert_checksums(&p);
        }

        /// ICMP errors quoting TCP / UDP (with and without checksum) / echo, quoted
        /// in part or in full: translation equals etherparse building the error
        /// around the translated original.
        #[test]
        fn icmp_error_equals_full_recompute(
            kind in 0u8..4, etype in 0u8..3, mtu in any::<u16>(),
            osrc in any::<[u8; 4]>(), odst in any::<[u8; 4]>(),
            src in ep(), dst in ep(), opts in ip_opts(),
            payload in proptest::collection::vec(any::<u8>(), 0..80), quote in any::<usize>(),
            nosrc in proptest::option::of(any::<[u8; 4]>()), nodst in proptest::option::of(any::<[u8; 4]>()),
            nisrc in proptest::option::of(ep()), nidst in proptest::option::of(ep()),
        ) {
            let build = |s: Ep, d: Ep| match kind {
                0 => tcp_pkt(s, d, 9, &opts, false, &[], &payload),
                1 => udp_pkt(s, d, 9, &opts, true, &payload),
                2 => udp_pkt(s, d, 9, &opts, false, &payload),
                _ => {
                    let p = PacketBuilder::ip(ipv4_header(s.0, d.0, 9, IpNumber::ICMP, &opts))
                        .icmpv4(Icmpv4Type::EchoRequest(IcmpEchoHeader { id: s.1, seq: 77 }));
                    let mut v = Vec::new();
                    p.write(&mut v, &payload).unwrap();
                    v
                }
            };
            let t = match etype {
                0 => Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port),
                1 => Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: mtu }),
                _ => Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit),
            };
            let sent = build(src, dst);
            let hl = 20 + opts.len();
            let q = hl + 8 + quote % (sent.len() - hl - 7);
            let mut err = icmp_error_pkt(ip4(osrc), ip4(odst), t.clone(), &sent[..q]);
            let emb = parse_icmp_error(&err).unwrap();
            prop_assert_eq!(emb, parse_flow(&sent).unwrap());
            prop_assert_eq!(translate_icmp_error(&mut err, nosrc.map(ip4), nodst.map(ip4), nisrc, nidst), Ok(emb));

            // Expected: the translated original, quoted to the same length.
            let new_src = nisrc.unwrap_or(src);
            // (For an echo, build() ignores the destination port: inner_dst's is unused.)
            let new_dst = nidst.unwrap_or(dst);
            let orig = build(new_src, new_dst);
            let mut quoted = orig[..q].to_vec();
            if kind == 0 && q > hl + 16 && q < hl + 18 {
                // TCP checksum not quoted in full: the quoted bytes stay as sent.
                quoted[hl + 16..].copy_from_slice(&sent[hl + 16..q]);
            }
            let expect = icmp_error_pkt(ip4(nosrc.unwrap_or(osrc)), ip4(nodst.unwrap_or(odst)), t, &quoted);
            prop_assert_eq!(&err, &expect);
            assert_checksums(&err);
        }

        #[test]
        fn clamp_equals_full_recompute(
            nops in 0usize..4, mss in any::<u16>(), max in any::<u16>(), opts in ip_opts(),
            payload in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut o = vec![TcpOptionElement::Noop; nops];
            o.push(TcpOptionElement::MaximumSegmentSize(mss));
            let mut p = tcp_pkt(CLIENT, NODE, 64, &opts, true, &o, &payload);
            let r = clamp_mss(&mut p, max).unwrap();
            if mss > max {
                prop_assert_eq!(r, Some((mss, max)));
                *o.last_mut().unwrap() = TcpOptionElement::MaximumSegmentSize(max);
            } else {
                prop_assert_eq!(r, None);
            }
            prop_assert_eq!(&p, &tcp_pkt(CLIENT, NODE, 64, &opts, true, &o, &payload));
            assert_checksums(&p);
        }

        #[test]
        fn built_errors_parse_back(
            kind in 0u8..3, src in ep(), dst in ep(), opts in ip_opts(), mtu in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..40), cut in any::<usize>(),
            our in any::<[u8; 4]>(),
        ) {
            let original = match kind {
                0 => tcp_pkt(src, dst, 1, &opts, false, &[], &payload),
                1 => udp_pkt(src, dst, 1, &opts, true, &payload),
                _ => echo_pkt(src.0, dst.0, true, src.1, 1, &payload),
            };
            // Sometimes only a prefix of the original is at hand.
            let hl = usize::from(original[0] & 0x0f) * 4;
            let len = if cut % 2 == 0 { original.len() } else { hl + cut % (original.len() - hl + 1) };
            let original = &original[..len];
            let mut out = [0u8; ICMP_ERROR_MAX_LEN];
            let suppressed = not_unicast(src.0.octets()) || not_unicast(dst.0.octets());
            match build_icmp_frag_needed(&mut out, original, ip4(our), mtu) {
                Err(NatError::Suppressed) => prop_assert!(suppressed || (kind == 2 && len == hl)),
                Err(e) => prop_assert!(false, "{e}"),
                Ok(n) => {
                    prop_assert!(!suppressed);
                    check_built_error(&out[..n], original, ip4(our),
                        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: mtu }));
                    let n2 = build_icmp_time_exceeded(&mut out, original, ip4(our)).unwrap();
                    prop_assert_eq!(n, n2);
                    check_built_error(&out[..n], original, ip4(our),
                        Icmpv4Type::TimeExceeded(TimeExceededCode::TtlExceededInTransit));
                }
            }
        }

        /// The branch-free fold of `Delta::apply` equals the general one.
        #[test]
        fn delta_apply_equals_fold(csum in any::<u16>(), words in proptest::collection::vec(any::<(u16, u16)>(), 0..64)) {
            let mut d = Delta::default();
            for &(o, n) in &words { d.word(o, n); }
            prop_assert_eq!(d.apply(csum), !checksum::fold(u64::from(!csum) + d.0));
        }

        /// No input makes any function panic; half the inputs get a plausible outer
        /// IPv4 header and a third a plausible quoted one, so the deep paths run.
        #[test]
        fn arbitrary_bytes_never_panic(
            mut data in proptest::collection::vec(any::<u8>(), 0..160),
            fix in 0u8..4, proto in prop::sample::select(vec![1u8, 6, 17, 47]),
            ihl in 5u8..8, r in any::<u16>(), etype in prop::sample::select(vec![0u8, 3, 8, 11, 12, 5]),
            eproto in prop::sample::select(vec![1u8, 6, 17]), ihl2 in 4u8..7, out_len in 0usize..120,
            a in proptest::option::of(ep()), b in proptest::option::of(ep()), ttl_dec in any::<bool>(),
        ) {
            if fix > 0 && data.len() >= 20 {
                let hl = usize::from(ihl) * 4;
                data[0] = 0x40 | ihl;
                let tl = (hl + usize::from(r) % 140).min(data.len());
                data[2..4].copy_from_slice(&(tl as u16).to_be_bytes());
                data[9] = proto;
                if fix > 1 {
                    data[6] &= 0xe0; // offset 0
                    data[7] = 0;
                    if let Some(t) = data.get_mut(hl) { *t = etype; }
                    if let Some(e) = data.get_mut(hl + 8) { *e = 0x40 | ihl2; }
                    if let Some(e) = data.get_mut(hl + 8 + 9) { *e = eproto; }
                    if fix > 2 { if let Some(e) = data.get_mut(hl + 8 + 6) { *e &= 0xe0; }
                        if let Some(e) = data.get_mut(hl + 8 + 7) { *e = 0; } }
                }
            }
            let orig = data.clone();
            let mut d = data.clone();
            let _ = parse_flow(&d);
            let _ = parse_icmp_error(&d);
            let res = rewrite(&mut d, a, b, ttl_dec);
            if res.is_err() { prop_assert_eq!(&d, &orig); }
            let _ = rewrite_src(&mut d, Ipv4Addr::LOCALHOST, 1);
            let _ = rewrite_dst(&mut d, Ipv4Addr::LOCALHOST, 2);
            let mut d = orig.clone();
            if rewrite_icmp_echo(&mut d, a.map(|x| x.0), b.map(|x| x.0), a.map(|x| x.1)).is_err() {
                prop_assert_eq!(&d, &orig);
            }
            let mut d = orig.clone();
            if translate_icmp_error(&mut d, a.map(|x| x.0), b.map(|x| x.0), a, b).is_err() {
                prop_assert_eq!(&d, &orig);
            }
            let mut d = orig.clone();
            let _ = clamp_mss(&mut d, r);
            let _ = decrement_ttl(&mut d);
            let mut out = vec![0u8; out_len];
            if let Ok(n) = build_icmp_frag_needed(&mut out, &orig, Ipv4Addr::LOCALHOST, r) {
                prop_assert!(n <= out_len && n <= ICMP_ERROR_MAX_LEN);
                prop_assert!(checksum::sum(&out[..20]) == 0xffff);
                prop_assert!(checksum::sum(&out[20..n]) == 0xffff);
            }
            let _ = build_icmp_time_exceeded(&mut out, &orig, Ipv4Addr::LOCALHOST);
        }
    }

    /// Release-mode timing of the hot path: DNAT + SNAT (+ TTL) of a TCP packet in a
    /// 64-byte frame (60 bytes without FCS: 14 Ethernet + 46 IPv4 = 20 IP + 20 TCP +
    /// 6 data), over bursts of 32 distinct packets as a worker sees them (no serial
    /// dependency through one buffer). Best of 7 runs, to shed noise from other load.
    /// `cargo test --release -p vxgw nat_rewrite_timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn nat_rewrite_timing() {
        use std::hint::black_box;
        use std::time::Instant;
        const BURST: usize = 32;
        const ROUNDS: usize = 200_000; // each round: NAT then un-NAT over the burst
        let fwd = tcp_pkt(CLIENT, NODE, 64, &[], false, &[], b"GET / ");
        assert_eq!(fwd.len(), 46);
        let mut burst = vec![[0u8; 46]; BURST];
        let run = |burst: &mut Vec<[u8; 46]>, ttl_dec: bool| {
            for p in burst.iter_mut() {
                p.copy_from_slice(&fwd);
            }
            let t = Instant::now();
            for r in 0..ROUNDS {
                if ttl_dec && r % 50 == 0 {
                    // Restore TTL now and then (amortised: 1 copy per 100 rewrites).
                    for p in burst.iter_mut() {
                        p.copy_from_slice(&fwd);
                    }
                }
                for p in burst.iter_mut() {
                    let p = black_box(&mut p[..]);
                    black_box(rewrite(p, Some(INGRESS), Some(CONTAINER), ttl_dec)).unwrap();
                }
                for p in burst.iter_mut() {
                    let p = black_box(&mut p[..]);
                    black_box(rewrite(p, Some(CLIENT), Some(NODE), false)).unwrap();
                }
            }
            t.elapsed().as_nanos() as f64 / (ROUNDS * BURST * 2) as f64
        };
        let best = |ttl_dec: bool, burst: &mut Vec<[u8; 46]>| {
            (0..7)
                .map(|_| run(burst, ttl_dec))
                .fold(f64::INFINITY, f64::min)
        };
        let plain = best(false, &mut burst);
        for p in &burst {
            assert_eq!(&p[..], &fwd[..]);
        }
        let ttl = best(true, &mut burst);
        for p in &burst {
            assert_checksums(p);
        }
        println!(
            "nat rewrite (DNAT+SNAT, 46-byte IPv4/TCP, bursts of {BURST}): {plain:.2} ns/packet; \
             half of them also decrementing TTL: {ttl:.2} ns/packet"
        );
    }
}
