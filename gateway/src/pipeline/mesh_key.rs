//! A routing-mesh packet's conntrack key, read at fixed places, and the checks a
//! packet passes before the fast paths may take it ([`plain_client`]).

use super::nat::{Flow, CHECKED_UDP_LEN};
use crate::tables::conntrack::{FlowKey, PackedKey};
use crate::wire::checksum;
use crate::wire::ethernet::field::ETHERTYPE;
use crate::wire::ethernet::{dst_mac_u64, ethertype, src_mac_u64, GROUP_BIT_U64, HEADER_LEN};
use crate::wire::frame::{self, field as at, IP};
use crate::wire::ipv4::field::{ADDRS, PROTOCOL};
use crate::wire::ipv4::{self, protocol, MIN_HEADER_LEN as IP_MIN};
use crate::wire::tcp::flags as tcp;
use crate::wire::{tcp as tcp_hdr, udp};

/// The bytes a conntrack key is read from at fixed places ([`packed_at`]): an IPv4
/// header without options and the ports after it.
pub(super) const KEY_LEN: usize = frame::field::L4_PORTS.end - frame::IP;

pub(super) fn key_of(f: &Flow) -> FlowKey {
    FlowKey {
        proto: f.proto,
        src: f.src,
        dst: f.dst,
        src_port: f.src_port,
        dst_port: f.dst_port,
    }
}

/// The conntrack key of an IPv4 packet without options whose first [`KEY_LEN`] bytes
/// are `ip` (the ports at a fixed place; the caller has checked the header): two
/// big-endian loads.
#[inline(always)]
pub(super) fn packed_at(ip: &[u8; KEY_LEN]) -> PackedKey {
    // The addresses, then the ports at the L4 header's start (there are no options).
    let (_, rest) = ip.split_at(ADDRS.start);
    let addrs = rest
        .first_chunk::<8>()
        .map_or(0, |a| u64::from_be_bytes(*a));
    let ports = rest[IP_MIN - ADDRS.start..]
        .first_chunk::<4>()
        .map_or(0, |p| u32::from_be_bytes(*p));
    PackedKey::from_wire(addrs, ports, ip[PROTOCOL])
}

/// An Ethernet header, an IPv4 header without options and a UDP header (a TCP
/// packet is longer: its length is checked against the frame's).
pub(super) const FRAME_MIN: usize = HEADER_LEN + CHECKED_UDP_LEN;

/// What one inner IPv4 packet (header at 14 of `h`) is, if the fast path may take
/// it: its conntrack key, TCP flags (0 for UDP) and total length.
pub(super) struct Plain {
    pub(super) key: PackedKey,
    pub(super) flags: u8,
    pub(super) total: usize,
}

/// The checks both directions make of an Ethernet frame `f`: IPv4 without options,
/// TCP or UDP, unfragmented (first fragments too go the general way), TTL above 1,
/// the packet inside the frame and long enough for its L4 header, and no SYN (the
/// MSS clamp is the general path's) or RST (a backend's refusal of a SYN is the
/// general path's: `mesh::another_may_answer`); and the edge's checks of a packet
/// (`edge::check_packet`): the header checksum, TCP's data offset inside the
/// segment, UDP's length inside the packet. A packet failing those goes the general
/// way, which drops it with its reason.
#[inline(always)]
pub(super) fn plain_ipv4(f: &[u8]) -> Option<Plain> {
    plain_ipv4_any(f).filter(|p| p.flags & (tcp::SYN | tcp::RST) == 0)
}

/// [`plain_ipv4`], SYNs and RSTs included.
#[inline(always)]
pub(super) fn plain_ipv4_any(f: &[u8]) -> Option<Plain> {
    const IP_MIN: usize = ipv4::MIN_HEADER_LEN;
    let h = f.first_chunk::<FRAME_MIN>()?;
    if u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]) != ethertype::IPV4
        || h[at::IP_VER_IHL] != 0x45
    {
        return None;
    }
    let proto = h[at::IP_PROTOCOL];
    let total = u16::from_be_bytes([h[at::IP_TOTAL_LEN], h[at::IP_TOTAL_LEN + 1]]) as usize;
    let l4_min = match proto {
        protocol::TCP => tcp_hdr::MIN_HEADER_LEN,
        protocol::UDP => udp::HEADER_LEN,
        _ => return None,
    };
    let frag = u16::from_be_bytes([h[at::IP_FLAGS_FRAG], h[at::IP_FLAGS_FRAG + 1]]) & 0x3fff;
    if frag != 0 || h[at::IP_TTL] <= 1 || total < IP_MIN + l4_min || IP + total > f.len() {
        return None;
    }
    let ip = h[IP..].first_chunk::<KEY_LEN>()?;
    if !checksum::ipv4_header_verifies(ip.first_chunk::<IP_MIN>()?) {
        return None;
    }
    // Inside the packet (checked just above): TCP's flags and data offset, UDP's
    // length.
    let flags = match proto {
        protocol::TCP => {
            // The two bytes: data offset, then flags.
            let offset_flags = f.get(at::TCP_DATA_OFF..at::TCP_FLAGS + 1)?;
            let offset = usize::from(offset_flags[0] >> 4) * 4;
            if offset < tcp_hdr::MIN_HEADER_LEN || IP_MIN + offset > total {
                return None;
            }
            offset_flags[1]
        }
        _ => {
            let udp_len = usize::from(u16::from_be_bytes([
                h[at::UDP_LENGTH],
                h[at::UDP_LENGTH + 1],
            ]));
            if udp_len < udp::HEADER_LEN || IP_MIN + udp_len > total {
                return None;
            }
            0
        }
    };
    Some(Plain {
        key: packed_at(ip),
        flags,
        total,
    })
}

/// The conntrack key of a client's packet `f` on the external port (whose MAC, as
/// [`dst_mac_u64`] reads it, is `ext_mac`) if [`to_backend`](super::mesh_fast::to_backend) may take it: to that
/// MAC, and [`plain_ipv4`]. The burst's warm-up checks this once and marks the frame
/// ([`super::MeshCache::with_plain_hit`]); `to_backend` takes only marked frames.
#[inline(always)]
pub(super) fn plain_client(f: &[u8], ext_mac: u64) -> Option<PackedKey> {
    let eth = f.first_chunk()?;
    let src = src_mac_u64(eth);
    if dst_mac_u64(eth) != ext_mac || src & GROUP_BIT_U64 != 0 || src == 0 {
        return None;
    }
    plain_ipv4(f).map(|p| p.key)
}

/// The total length and TCP flags (0 for UDP) of an IPv4 packet of protocol
/// `proto` after the Ethernet header of `f`, which [`plain_client`] has accepted.
#[inline(always)]
pub(super) fn total_and_flags(f: &[u8], proto: u8) -> Option<(usize, u8)> {
    let h = f.first_chunk::<FRAME_MIN>()?;
    let total = u16::from_be_bytes([h[at::IP_TOTAL_LEN], h[at::IP_TOTAL_LEN + 1]]) as usize;
    let flags = match proto {
        protocol::TCP => *f.get(at::TCP_FLAGS)?,
        _ => 0,
    };
    Some((total, flags))
}

/// A client's packet `f` on the external port (MAC `ext_mac`) that passes the
/// checks of [`plain_client`], SYNs included: its key, TCP flags and total length.
/// (The early refusal's parse: `mesh::refusal`.)
#[inline(always)]
pub(super) fn plain_client_any(f: &[u8], ext_mac: u64) -> Option<(PackedKey, u8, usize)> {
    let eth = f.first_chunk()?;
    let src = src_mac_u64(eth);
    if dst_mac_u64(eth) != ext_mac || src & GROUP_BIT_U64 != 0 || src == 0 {
        return None;
    }
    plain_ipv4_any(f).map(|p| (p.key, p.flags, p.total))
}
