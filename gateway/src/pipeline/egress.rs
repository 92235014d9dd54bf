//! Dressing an untagged inner frame for one destination: a VLAN tag for an access
//! port, or the outer Ethernet/IPv4/UDP/VXLAN headers of a VTEP.

use std::net::Ipv4Addr;

use super::decision::DropReason;
use super::flow::source_port;
use super::{Ctx, EncapAction, Event, PacketBuf};
use crate::tables::snapshot::{Snapshot, VtepView, ENCAP_LEN};
use crate::wire::checksum;
use crate::wire::encap::field::{
    DST_MAC, IP_CHECKSUM, IP_TOTAL_LEN, UDP_LENGTH, UDP_SRC_PORT, VNI_WORD,
};
use crate::wire::{ethernet, ipv4, vlan};

/// Result of [`to_vtep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncapResult {
    /// Encapsulated; send on the underlay port.
    Ready {
        /// Underlay port id.
        port: u16,
    },
    /// The next hop's MAC is unknown: queue the frame (still unencapsulated) and ARP
    /// for `next_hop`.
    NeedNeighbour {
        /// Whom to ask for.
        next_hop: Ipv4Addr,
    },
    /// Cannot be sent.
    Drop(DropReason),
}

/// VNI isolation: whether `(port, vlan)` is an access member of VNI slot `vni` in
/// `snap`. The validator refuses any configuration that points a VNI elsewhere; this
/// is the data plane's own guard (a corrupted or stale FDB entry, e.g. one learned on
/// a member that has just moved to another VNI, must never put a frame into another
/// VNI's segment). One compare with the VNI's first member on data the snapshot
/// has; the port's VLAN map for the VNI's other members.
#[inline(always)]
pub fn is_member(snap: &Snapshot, vni: u16, port: u16, vlan: u16) -> bool {
    let first = snap
        .vnis
        .get(vni as usize)
        .map_or(u32::MAX, |v| v.first_member);
    is_member_of(snap, first, vni, port, vlan)
}

/// [`is_member`] for VNI slot `vni` whose `first_member` the caller has at hand:
/// one compare for the VNI's first member (most VNIs have one access member), the
/// port's VLAN map for the others.
#[inline(always)]
pub fn is_member_of(snap: &Snapshot, first: u32, vni: u16, port: u16, vlan: u16) -> bool {
    u32::from(port) << 16 | u32::from(vlan) == first || in_vlan_map(snap, vni, port, vlan)
}

#[inline(never)]
#[cold]
fn in_vlan_map(snap: &Snapshot, vni: u16, port: u16, vlan: u16) -> bool {
    snap.ports
        .get(port as usize)
        .and_then(|p| p.vlan_to_vni.as_deref())
        .and_then(|map| map.get(vlan as usize))
        .is_some_and(|&s| u32::from(s) == u32::from(vni) + 1)
}

/// Tags a frame of VNI slot `vni` with `vlan` for access port `port` (0 = leave
/// untagged); refuses (`VniIsolation`) when `(port, vlan)` is not a member of the VNI.
#[inline]
pub fn to_access<B: PacketBuf>(
    ctx: &Ctx,
    buf: &mut B,
    vni: u16,
    port: u16,
    vlan: u16,
) -> Result<(), DropReason> {
    if !is_member(ctx.snap, vni, port, vlan) {
        return Err(DropReason::VniIsolation);
    }
    if vlan != 0 {
        let data = buf
            .prepend(vlan::HEADER_LEN)
            .ok_or(DropReason::NoHeadroom)?;
        vlan::push_vlan_tag_in_place(data, vlan).map_err(|_| DropReason::Truncated)?;
    }
    ctx.counters.event(Event::AccessOut);
    Ok(())
}

/// Encapsulates the frame of VNI `vni` for VTEP `vtep` (snapshot index). `flow_hash`
/// is the inner frame's [`super::inner_flow_hash`] (computed once per frame, even when
/// flooding to many VTEPs).
#[inline(always)]
pub fn to_vtep<B: PacketBuf>(
    ctx: &Ctx,
    buf: &mut B,
    vni: u32,
    vtep: u16,
    flow_hash: u64,
) -> EncapResult {
    let Some(ul) = ctx.snap.underlay.as_ref() else {
        return EncapResult::Drop(DropReason::NoUnderlay);
    };
    let Some(v) = ctx.snap.vteps.get(vtep as usize) else {
        return EncapResult::Drop(DropReason::UnknownVtep);
    };
    let Some(nh_mac) = ctx.burst.next_hop_mac(ctx.neigh, vtep, v.next_hop) else {
        return EncapResult::NeedNeighbour {
            next_hop: v.next_hop,
        };
    };
    let inner = buf.data().len();
    let ip_len = inner + ENCAP_LEN - ethernet::HEADER_LEN;
    if ip_len > ul.mtu as usize {
        return EncapResult::Drop(DropReason::MtuExceeded);
    }
    let Some(data) = buf.prepend(ENCAP_LEN) else {
        return EncapResult::Drop(DropReason::NoHeadroom);
    };
    write_outer(
        &mut data[..ENCAP_LEN],
        v,
        nh_mac.0,
        ip_len as u16,
        vni,
        flow_hash,
    );
    ctx.counters.event(Event::Encapsulated);
    EncapResult::Ready { port: ul.port }
}

/// Fills the outer headers from the VTEP's template: the constant 50 bytes are one
/// copy; six fields are written per packet, and the IPv4 checksum is the template's
/// precomputed sum plus the total length.
#[inline(always)]
pub(super) fn write_outer(
    h: &mut [u8],
    v: &VtepView,
    dst_mac: [u8; 6],
    ip_len: u16,
    vni: u32,
    flow_hash: u64,
) {
    // The fields written in place, not through `outer_header`: building that array
    // first cost the mesh's forward path 14 instructions a packet.
    h.copy_from_slice(&v.header);
    h[DST_MAC].copy_from_slice(&dst_mac);
    let vni = vni << 8;
    h[VNI_WORD].copy_from_slice(&vni.to_be_bytes());
    write_frame_fields(h, v.ip_sum_base, ip_len, flow_hash);
}

/// The outer headers of a frame of VNI `vni` to VTEP `v` via the next hop `dst_mac`,
/// as the encap cache keeps them ([`super::EncapCache`]): all but the per-frame
/// fields, the IPv4 checksum field holding the template's base sum.
#[inline]
pub(super) fn outer_header(v: &VtepView, dst_mac: [u8; 6], vni: u32) -> [u8; ENCAP_LEN] {
    let mut h = v.header;
    h[DST_MAC].copy_from_slice(&dst_mac);
    h[IP_CHECKSUM..IP_CHECKSUM + 2].copy_from_slice(&v.ip_sum_base.to_be_bytes());
    let vni = vni << 8;
    h[VNI_WORD].copy_from_slice(&vni.to_be_bytes());
    h
}

/// Writes the outer headers of encap action `a` ([`outer_header`]) and the frame's
/// own fields: the same bytes as [`write_outer`] with its VTEP, next hop and VNI.
#[inline(always)]
pub(super) fn write_outer_from(h: &mut [u8], a: EncapAction, ip_len: u16, flow_hash: u64) {
    h.copy_from_slice(&a.header());
    let base = u16::from_be_bytes([h[IP_CHECKSUM], h[IP_CHECKSUM + 1]]);
    write_frame_fields(h, base, ip_len, flow_hash);
}

/// The four fields of the outer headers that differ per frame: IPv4 total length and
/// checksum (`ip_sum_base` plus the length), UDP source port and length.
#[inline(always)]
fn write_frame_fields(h: &mut [u8], ip_sum_base: u16, ip_len: u16, flow_hash: u64) {
    h[IP_TOTAL_LEN..IP_TOTAL_LEN + 2].copy_from_slice(&ip_len.to_be_bytes());
    let csum = !checksum::add16(ip_sum_base, ip_len);
    h[IP_CHECKSUM..IP_CHECKSUM + 2].copy_from_slice(&csum.to_be_bytes());
    h[UDP_SRC_PORT..UDP_SRC_PORT + 2].copy_from_slice(&source_port(flow_hash).to_be_bytes());
    h[UDP_LENGTH..UDP_LENGTH + 2]
        .copy_from_slice(&(ip_len - ipv4::MIN_HEADER_LEN as u16).to_be_bytes());
}
