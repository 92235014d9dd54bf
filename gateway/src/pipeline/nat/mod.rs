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
//!   ([`udp_wire_checksum`](crate::wire::udp::udp_wire_checksum)).
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
//!
//! # Files
//!
//! One concept a file; everything public is re-exported here, so callers name
//! `pipeline::nat::X` whatever file `X` lives in.
//!
//! - `error`: [`NatError`], every refusal.
//! - `flow`: [`Flow`] (and [`EmbeddedFlow`], [`Rewrite`]), and [`parse_flow`].
//! - `layout`: header offsets, byte access, the IPv4 header checks all share.
//! - `delta`: the incremental checksum update (RFC 1624) and the field writes
//!   that record their change in it.
//! - `l4`: the TCP/UDP rewrite, [`rewrite`] and its variants.
//! - `header`: the IPv4-header-only rewrites, the TTL step of a routed hop,
//!   [`decrement_ttl`] and [`rewrite_later_fragment`].
//! - `echo`: [`rewrite_icmp_echo`].
//! - `icmp_error`: [`parse_icmp_error`] and [`translate_icmp_error`].
//! - `mss`: [`clamp_mss`].
//! - `icmp_build`: the ICMP errors the gateway originates.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod delta;
mod echo;
mod error;
mod flow;
mod header;
mod icmp_build;
mod icmp_error;
mod l4;
mod layout;
mod mss;

#[cfg(test)]
mod test_packets;
#[cfg(test)]
mod tests;

pub use echo::rewrite_icmp_echo;
pub use error::NatError;
pub use flow::{parse_flow, EmbeddedFlow, Flow, Rewrite};
pub use header::{decrement_ttl, rewrite_later_fragment};
pub use icmp_build::{
    build_icmp_frag_needed, build_icmp_time_exceeded, ICMP_ERROR_MAX_LEN, ICMP_ERROR_QUOTE,
    ICMP_ERROR_TTL,
};
pub use icmp_error::{parse_icmp_error, translate_icmp_error};
pub use l4::{
    rewrite, rewrite_checked, rewrite_dst, rewrite_src, CHECKED_TCP_LEN, CHECKED_UDP_LEN,
};
pub use mss::clamp_mss;
