//! VXLAN decapsulation (DESIGN "Packet paths" 1): outer IPv4/UDP to our VTEP from a
//! known VTEP, I flag set, configured VNI; learn the inner source against the VTEP,
//! strip the outer headers, then bridge the inner frame.

use super::bridge;
use super::decision::{Decision, DropReason, Origin};
use super::{Ctx, Event, PacketBuf};
use crate::tables::fdb::FdbDest;
use crate::tables::snapshot::UnderlayView;
use crate::wire::ipv4::{protocol, Ipv4Packet};
use crate::wire::udp::UdpPacket;
use crate::wire::vxlan::{VxlanHeader, VXLAN_HEADER_LEN};

#[inline]
pub(super) fn decap<B: PacketBuf>(ctx: &Ctx, ul: &UnderlayView, buf: &mut B) -> Decision {
    let frame = buf.data();
    let Ok(ip) = Ipv4Packet::new_checked(&frame[14..]) else {
        return Decision::Drop(DropReason::MalformedIpv4);
    };
    if !ip.verify_checksum() {
        return Decision::Drop(DropReason::MalformedIpv4);
    }
    if ip.is_fragment() {
        return Decision::Drop(DropReason::OuterFragment);
    }
    if ip.protocol() != protocol::UDP {
        return Decision::Drop(DropReason::UnsupportedProtocol);
    }
    let ip_total = ip.total_len() as usize;
    let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
        return Decision::Drop(DropReason::MalformedUdp);
    };
    if udp.dst_port() != ul.vxlan_port {
        return Decision::Drop(DropReason::UnsupportedProtocol);
    }
    let src = ip.src_ipv4();
    let Some(vtep) = ctx.snap.vtep_slot(src) else {
        return Decision::Drop(DropReason::UnknownVtep);
    };
    let Ok(vx) = VxlanHeader::new_checked(udp.payload()) else {
        return Decision::Drop(DropReason::MalformedVxlan);
    };
    if !vx.i_flag() {
        return Decision::Drop(DropReason::VxlanNoIFlag);
    }
    let Some(vni) = ctx.snap.vni_slot(vx.vni()) else {
        return Decision::Drop(DropReason::UnknownVni);
    };
    let inner_off = 14 + ip.header_len() + 8 + VXLAN_HEADER_LEN;
    let outer_end = 14 + ip_total;
    // The UDP length must cover VXLAN and at least an inner Ethernet header.
    if (udp.length() as usize) < 8 + VXLAN_HEADER_LEN + 14 || inner_off + 14 > outer_end {
        return Decision::Drop(DropReason::MalformedVxlan);
    }
    let padding = frame.len() - outer_end;
    if padding > 0 && !buf.trim(padding) {
        return Decision::Drop(DropReason::Truncated);
    }
    if !buf.adj(inner_off) {
        return Decision::Drop(DropReason::Truncated);
    }
    ctx.counters.event(Event::Decapsulated);
    let origin = Origin::Vtep(vtep);
    if let Some(d) = bridge::learn_source(ctx, vni, buf.data(), FdbDest::Vtep(src)) {
        return d;
    }
    bridge::forward(ctx, vni, origin, buf)
}
