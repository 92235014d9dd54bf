//! VXLAN decapsulation (DESIGN "Packet paths" 1): outer IPv4/UDP to our VTEP from a
//! known VTEP, I flag set, configured VNI; learn the inner source against the VTEP,
//! strip the outer headers, then bridge the inner frame.

use super::bridge;
use super::decision::{Decision, DropReason, Origin};
use super::learn;
use super::{Ctx, Event, PacketBuf, Step};
use crate::tables::fdb::FdbDest;
use crate::tables::snapshot::UnderlayView;
use std::net::Ipv4Addr;

use crate::wire::checksum;
use crate::wire::frame::{field as at, IP};
use crate::wire::ipv4::{self, protocol, Ipv4Packet};
use crate::wire::vxlan::{self, FLAG_I, VXLAN_HEADER_LEN};
use crate::wire::{ethernet, udp};

#[inline]
pub(super) fn decap<B: PacketBuf>(ctx: &Ctx, ul: &UnderlayView, buf: &mut B) -> Decision {
    let (src, vni_id, inner_off, outer_end) = match parse_outer(ul, buf.data()) {
        Ok(p) => p,
        Err(r) => return Decision::Drop(r),
    };
    ctx.note(|| Step::Vxlan {
        src,
        vni: vni_id,
        vtep_known: ctx.snap.vteps.iter().any(|v| v.ip == src),
        vni_known: ctx.snap.vni_slot(vni_id).is_some(),
    });
    let Some(vtep) = ctx.burst.vtep_slot(ctx.snap, src) else {
        return Decision::Drop(DropReason::UnknownVtep);
    };
    let Some(vni) = ctx.snap.vni_slot(vni_id) else {
        return Decision::Drop(DropReason::UnknownVni);
    };
    let padding = buf.data().len() - outer_end;
    if padding > 0 && !buf.trim(padding) {
        return Decision::Drop(DropReason::Truncated);
    }
    if !buf.adj(inner_off) {
        return Decision::Drop(DropReason::Truncated);
    }
    ctx.counters.event(Event::Decapsulated);
    if let Some(d) = learn::learn_source(ctx, vni, buf.data(), FdbDest::Vtep(src)) {
        return d;
    }
    bridge::forward(ctx, vni, Origin::Vtep(vtep), buf)
}

/// Validates the outer IPv4/UDP/VXLAN headers of a frame addressed to our VTEP and
/// returns (outer source, VNI, offset of the inner frame, end of the outer packet).
/// The common case (no IP options) reads fixed offsets; options take the general path.
#[inline(always)]
fn parse_outer(ul: &UnderlayView, f: &[u8]) -> Result<(Ipv4Addr, u32, usize, usize), DropReason> {
    if f.len() >= IP + ipv4::MIN_HEADER_LEN && f[at::IP_VER_IHL] == 0x45 {
        let total = u16::from_be_bytes([f[at::IP_TOTAL_LEN], f[at::IP_TOTAL_LEN + 1]]) as usize;
        let outer_end = IP + total;
        let verifies = f[IP..]
            .first_chunk::<{ ipv4::MIN_HEADER_LEN }>()
            .is_some_and(checksum::ipv4_header_verifies);
        if total < ipv4::MIN_HEADER_LEN || outer_end > f.len() || !verifies {
            return Err(DropReason::MalformedIpv4);
        }
        return parse_udp_vxlan(ul, f, IP + ipv4::MIN_HEADER_LEN, outer_end);
    }
    let ip = Ipv4Packet::new_checked(&f[IP..]).map_err(|_| DropReason::MalformedIpv4)?;
    if !ip.verify_checksum() {
        return Err(DropReason::MalformedIpv4);
    }
    parse_udp_vxlan(ul, f, IP + ip.header_len(), IP + ip.total_len() as usize)
}

/// The rest of `parse_outer` once the IPv4 header (ending at `l4`) is known valid.
#[inline(always)]
fn parse_udp_vxlan(
    ul: &UnderlayView,
    f: &[u8],
    l4: usize,
    outer_end: usize,
) -> Result<(Ipv4Addr, u32, usize, usize), DropReason> {
    let frag = at::IP_FLAGS_FRAG;
    if u16::from_be_bytes([f[frag], f[frag + 1]]) & 0x3fff != 0 {
        return Err(DropReason::OuterFragment);
    }
    if f[at::IP_PROTOCOL] != protocol::UDP {
        return Err(DropReason::UnsupportedProtocol);
    }
    if outer_end < l4 + udp::HEADER_LEN {
        return Err(DropReason::MalformedUdp);
    }
    let (len, port) = (l4 + udp::field::LENGTH, l4 + udp::field::DST_PORT);
    let udp_len = u16::from_be_bytes([f[len], f[len + 1]]) as usize;
    if udp_len < udp::HEADER_LEN || l4 + udp_len > outer_end {
        return Err(DropReason::MalformedUdp);
    }
    if u16::from_be_bytes([f[port], f[port + 1]]) != ul.vxlan_port {
        return Err(DropReason::UnsupportedProtocol);
    }
    let vx = l4 + udp::HEADER_LEN;
    let inner = vx + VXLAN_HEADER_LEN;
    // The UDP payload must hold the VXLAN header and at least an inner Ethernet header.
    if udp_len < udp::HEADER_LEN + VXLAN_HEADER_LEN + ethernet::HEADER_LEN {
        return Err(DropReason::MalformedVxlan);
    }
    if f[vx + vxlan::field::FLAGS] & FLAG_I == 0 {
        return Err(DropReason::VxlanNoIFlag);
    }
    let vni_at = vx + vxlan::field::VNI;
    let vni = u32::from_be_bytes([0, f[vni_at], f[vni_at + 1], f[vni_at + 2]]);
    let a = at::IP_SRC_ADDR.start;
    let src = Ipv4Addr::new(f[a], f[a + 1], f[a + 2], f[a + 3]);
    Ok((src, vni, inner, l4 + udp_len))
}
