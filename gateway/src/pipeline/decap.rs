//! VXLAN decapsulation (DESIGN "Packet paths" 1): outer IPv4/UDP to our VTEP from a
//! known VTEP, I flag set, configured VNI; learn the inner source against the VTEP,
//! strip the outer headers, then bridge the inner frame.

use super::bridge;
use super::decision::{Decision, DropReason, Origin};
use super::{Ctx, Event, PacketBuf};
use crate::tables::fdb::FdbDest;
use crate::tables::snapshot::UnderlayView;
use std::net::Ipv4Addr;

use crate::wire::checksum;
use crate::wire::ipv4::{protocol, Ipv4Packet};
use crate::wire::vxlan::{FLAG_I, VXLAN_HEADER_LEN};

#[inline]
pub(super) fn decap<B: PacketBuf>(ctx: &Ctx, ul: &UnderlayView, buf: &mut B) -> Decision {
    let (src, vni_id, inner_off, outer_end) = match parse_outer(ul, buf.data()) {
        Ok(p) => p,
        Err(r) => return Decision::Drop(r),
    };
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
    if let Some(d) = bridge::learn_source(ctx, vni, buf.data(), FdbDest::Vtep(src)) {
        return d;
    }
    bridge::forward(ctx, vni, Origin::Vtep(vtep), buf)
}

/// Validates the outer IPv4/UDP/VXLAN headers of a frame addressed to our VTEP and
/// returns (outer source, VNI, offset of the inner frame, end of the outer packet).
/// The common case (no IP options) reads fixed offsets; options take the general path.
#[inline(always)]
fn parse_outer(ul: &UnderlayView, f: &[u8]) -> Result<(Ipv4Addr, u32, usize, usize), DropReason> {
    const IP: usize = 14;
    if f.len() >= IP + 20 && f[IP] == 0x45 {
        let total = u16::from_be_bytes([f[IP + 2], f[IP + 3]]) as usize;
        let outer_end = IP + total;
        let verifies = f[IP..]
            .first_chunk::<20>()
            .is_some_and(checksum::ipv4_header_verifies);
        if total < 20 || outer_end > f.len() || !verifies {
            return Err(DropReason::MalformedIpv4);
        }
        return parse_udp_vxlan(ul, f, IP + 20, outer_end);
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
    const IP: usize = 14;
    if u16::from_be_bytes([f[IP + 6], f[IP + 7]]) & 0x3fff != 0 {
        return Err(DropReason::OuterFragment);
    }
    if f[IP + 9] != protocol::UDP {
        return Err(DropReason::UnsupportedProtocol);
    }
    if outer_end < l4 + 8 {
        return Err(DropReason::MalformedUdp);
    }
    let udp_len = u16::from_be_bytes([f[l4 + 4], f[l4 + 5]]) as usize;
    if udp_len < 8 || l4 + udp_len > outer_end {
        return Err(DropReason::MalformedUdp);
    }
    if u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]) != ul.vxlan_port {
        return Err(DropReason::UnsupportedProtocol);
    }
    let vx = l4 + 8;
    let inner = vx + VXLAN_HEADER_LEN;
    // The UDP payload must hold the VXLAN header and at least an inner Ethernet header.
    if udp_len < 8 + VXLAN_HEADER_LEN + 14 {
        return Err(DropReason::MalformedVxlan);
    }
    if f[vx] & FLAG_I == 0 {
        return Err(DropReason::VxlanNoIFlag);
    }
    let vni = u32::from_be_bytes([0, f[vx + 4], f[vx + 5], f[vx + 6]]);
    let src = Ipv4Addr::new(f[IP + 12], f[IP + 13], f[IP + 14], f[IP + 15]);
    Ok((src, vni, inner, l4 + udp_len))
}
