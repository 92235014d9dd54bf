//! The fast path: the two cases that carry nearly all overlay traffic, each decided
//! and done in one pass over the frame:
//! - **encap**: a unicast frame from an access port to a MAC the FDB has behind a
//!   VTEP whose next hop is resolved;
//! - **decap**: a VXLAN packet from a known VTEP, in a known VNI, to a MAC the FDB
//!   has on an access port.
//!
//! It reads the same tables and applies the same rules as the general path
//! ([`super::ingress`](fn@super::ingress), then the worker's egress), without the generality that costs
//! there: no [`super::Decision`] in between, no role dispatch, one bounds check per
//! header, and the frame is changed only once everything is known. Whatever it does
//! not take (broadcast and unknown destinations, ARP, frames for vxgw itself, IP
//! options, anything malformed) it hands back untouched, and the general path
//! decides, drops and counts as before. A property test (`fast_path_tests.rs`)
//! checks, on generated and mutated frames, that whatever the fast path takes leaves
//! the same bytes, port, counters and FDB as the general path.
//!
//! The routing mesh's established connections take their own fast path
//! (`pipeline/mesh_fast.rs`): the external port's frames, and VXLAN to vxgw's overlay
//! MAC once `decap` has checked the outer headers.

use std::net::Ipv4Addr;

use super::bridge::may_be_for_vxgw;
use super::egress::{is_member_of, outer_header, write_outer_from};
use super::flow::inner_flow_hash;
use super::learn::{is_tag, learn_mac};
use super::mesh_fast;
use super::{Ctx, EncapAction, EncapCache, Event, PacketBuf};
use crate::tables::fdb::FdbDest;
use crate::tables::snapshot::{Snapshot, UnderlayView, ENCAP_LEN};
use crate::wire::checksum::ipv4_header_verifies;
use crate::wire::encap::{self, field as outer};
use crate::wire::ethernet::field::{ETHERTYPE, MACS};
use crate::wire::ethernet::{dst_mac_u64, ethertype, src_mac_u64, GROUP_BIT_U64, HEADER_LEN};
use crate::wire::{ipv4, vlan};

/// What the fast path may take from one rx port; decided once per burst.
#[derive(Clone, Copy)]
pub enum FastPort<'a> {
    /// An access port with no other role: its VLAN -> VNI slot + 1 map.
    Access(&'a [u16; 4096]),
    /// The underlay port, and its MAC as [`dst_mac_u64`] reads it.
    Underlay(&'a UnderlayView, u64),
    /// The external port (no underlay role).
    External,
    /// Anything else: every frame goes the general way.
    None,
}

impl<'a> FastPort<'a> {
    /// The fast cases of port `rx_port` in `snap`.
    pub fn of(snap: &'a Snapshot, rx_port: u16) -> FastPort<'a> {
        let Some(p) = snap.port(rx_port) else {
            return FastPort::None;
        };
        if let Some(ul) = snap.underlay.as_ref().filter(|u| u.port == rx_port) {
            // The general path looks at VXLAN to our VTEP address before any other
            // role of the port, so the fast path may too.
            return FastPort::Underlay(ul, p.mac.to_u64());
        }
        // The general path looks at the external role before the access role.
        if snap.external.as_ref().is_some_and(|e| e.port == rx_port) && p.external && !p.underlay {
            return FastPort::External;
        }
        match p.vlan_to_vni.as_deref() {
            Some(map) if p.access && !p.underlay && !p.external => FastPort::Access(map),
            _ => FastPort::None,
        }
    }
}

/// Forwards the frame if it is one of the fast cases, and returns the port to send
/// it on, the frame ready. `None`: the frame is untouched and nothing was learned
/// or counted; run the general path. The routing mesh's current packet is the one
/// last set ([`super::MeshCache::set_current`]).
#[inline(always)]
pub fn forward<B: PacketBuf>(ctx: &Ctx, fp: FastPort, rx_port: u16, buf: &mut B) -> Option<u16> {
    let i = ctx.mesh.as_ref().map_or(0, |m| m.cache.current());
    if ctx.fdb_in_cache() {
        forward_in::<true, B>(ctx, fp, rx_port, i, buf)
    } else {
        forward_in::<false, B>(ctx, fp, rx_port, i, buf)
    }
}

/// [`forward`] of packet `i` of the burst last warmed, asking the FDB the way
/// `FDB_CACHED` says ([`Ctx::fdb_in_cache`], which the worker reads once per burst).
/// Only the frames that take a routing-mesh path are marked as the mesh's current
/// packet: marking every frame cost the decap path 4 instructions a frame.
#[inline(always)]
pub fn forward_in<const FDB_CACHED: bool, B: PacketBuf>(
    ctx: &Ctx,
    fp: FastPort,
    rx_port: u16,
    i: usize,
    buf: &mut B,
) -> Option<u16> {
    match fp {
        FastPort::Access(map) => encap::<FDB_CACHED, B>(ctx, map, rx_port, buf),
        FastPort::Underlay(ul, mac) => decap::<FDB_CACHED, B>(ctx, ul, mac, i, buf),
        FastPort::External => {
            mark_current(ctx, i);
            mesh_fast::to_backend(ctx, buf)
        }
        FastPort::None => None,
    }
}

/// Tells the routing mesh's caches that packet `i` of the burst last warmed is the
/// one decided next (its warmed conntrack hit is at `i`). The fast path marks its own
/// routing-mesh frames; the worker marks a frame before the general path takes it.
#[inline(always)]
pub fn mark_current(ctx: &Ctx, i: usize) {
    if let Some(m) = ctx.mesh.as_ref() {
        m.cache.set_current(i);
    }
}

/// The source and destination MACs of a frame the fast path may bridge: both
/// unicast, the source not zero, and not the same (a frame to itself is the general
/// path's business: learning its source changes where its destination is).
#[inline(always)]
fn bridged_macs(h: &[u8; HEADER_LEN]) -> Option<(u64, u64)> {
    let (src, dst) = (src_mac_u64(h), dst_mac_u64(h));
    if (src | dst) & GROUP_BIT_U64 != 0 || src == 0 || src == dst {
        return None;
    }
    Some((src, dst))
}

/// The big-endian word at byte `O` of the outer headers.
#[inline(always)]
fn be32_at<const O: usize>(h: &[u8; ENCAP_LEN + HEADER_LEN]) -> u32 {
    let (_, rest) = h.split_at(O);
    u32::from_be_bytes(*rest.first_chunk::<4>().unwrap_or(&[0; 4]))
}

/// Access port -> known unicast behind a VTEP: pop the tag, encapsulate. The outer
/// headers come from the worker's [`EncapCache`] when it has them for this epoch
/// (while the FDB is asked through the caches, `FDB_CACHED`), else from the tables,
/// and are then kept there.
#[inline(always)]
fn encap<const FDB_CACHED: bool, B: PacketBuf>(
    ctx: &Ctx,
    map: &[u16; 4096],
    rx_port: u16,
    buf: &mut B,
) -> Option<u16> {
    let h = buf.data().first_chunk::<{ vlan::TAGGED_HEADER_LEN }>()?;
    match u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]) {
        ethertype::VLAN => encap_frame::<FDB_CACHED, true, B>(ctx, map, rx_port, buf),
        ethertype::QINQ => None,
        _ => encap_frame::<FDB_CACHED, false, B>(ctx, map, rx_port, buf),
    }
}

/// [`encap`](fn@encap) of a frame with one VLAN tag (`TAGGED`) or none: one copy of the path
/// each, with the tag's length a constant (a variable, it and the tests on it were
/// live through the whole path).
#[inline(always)]
fn encap_frame<const FDB_CACHED: bool, const TAGGED: bool, B: PacketBuf>(
    ctx: &Ctx,
    map: &[u16; 4096],
    rx_port: u16,
    buf: &mut B,
) -> Option<u16> {
    let f = buf.data();
    let h = f.first_chunk::<{ vlan::TAGGED_HEADER_LEN }>()?;
    let (vid, tag_len, etype) = if TAGGED {
        (
            u16::from_be_bytes([h[vlan::tagged::TCI], h[vlan::tagged::TCI + 1]]) & vlan::VID_MAX,
            vlan::HEADER_LEN,
            u16::from_be_bytes([h[vlan::tagged::ETHERTYPE], h[vlan::tagged::ETHERTYPE + 1]]),
        )
    } else {
        (0, 0, u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]))
    };
    // A second tag is the general path's to drop (`learn::is_tag`).
    if TAGGED && is_tag(etype) {
        return None;
    }
    let slot = map[vid as usize].checked_sub(1)?;
    let (src, dst) = bridged_macs(h.first_chunk::<HEADER_LEN>()?)?;
    let ul = ctx.snap.underlay.as_ref()?;
    let ip_len = f.len() - tag_len + ENCAP_LEN - HEADER_LEN;
    if ip_len > ul.mtu as usize {
        return None;
    }
    // An untagged frame is the inner frame already: its hash is read before the
    // prepend, off the path from the new data pointer to the outer headers.
    let early_hash = if TAGGED { 0 } else { inner_flow_hash(f) };
    // An action was made by the lookups below, in this epoch: what they checked
    // still holds, but for the ethertype, which is the frame's own.
    let key = EncapCache::key(slot, dst);
    let cached = if FDB_CACHED && etype != ethertype::ARP {
        ctx.encap_cache.get(key, ctx.encap_epoch)
    } else {
        None
    };
    let action = match cached {
        Some(a) => a,
        None => encap_action::<FDB_CACHED>(ctx, slot, dst, etype, key)?,
    };
    // Decided: from here on the frame changes. The tag's 4 bytes are part of the
    // outer headers' room; the MACs move over the tag.
    let data = buf.prepend(ENCAP_LEN - tag_len)?;
    if TAGGED {
        move_macs_over_tag(data);
    }
    let (outer, inner) = data.split_at_mut(ENCAP_LEN);
    let hash = if TAGGED {
        inner_flow_hash(inner)
    } else {
        early_hash
    };
    write_outer_from(outer, action, ip_len as u16, hash);
    learn_mac(
        ctx,
        slot,
        src,
        FdbDest::Access {
            port: rx_port,
            vlan: vid,
        },
    );
    ctx.counters.event(Event::Encapsulated);
    Some(ul.port)
}

/// The encap action for a frame of VNI slot `slot` to `dst`, made from the tables:
/// `None` when the fast path does not take such a frame. Kept in the worker's
/// [`EncapCache`] under `key` when `FDB_CACHED`. Out of line: once per destination
/// and epoch while the cache is used.
#[inline(never)]
fn encap_action<'c, const FDB_CACHED: bool>(
    ctx: &Ctx<'c>,
    slot: u16,
    dst: u64,
    etype: u16,
    key: u64,
) -> Option<EncapAction<'c>> {
    let v = ctx.snap.vnis.get(slot as usize)?;
    if may_be_for_vxgw(v, dst, etype) {
        return None;
    }
    let ip = ctx.fdb_lookup_in::<FDB_CACHED, _>(v.vni, dst, |d| match d {
        FdbDest::Vtep(ip) => Some(ip),
        FdbDest::Access { .. } => None,
    })?;
    let (vtep, next_hop) = ctx.burst.vtep_route(ctx.snap, ctx.neigh, ip)?;
    let t = ctx.snap.vteps.get(vtep as usize)?;
    let header = outer_header(t, next_hop.0, v.vni);
    Some(if FDB_CACHED {
        ctx.encap_cache.put(key, ctx.encap_epoch, header)
    } else {
        ctx.encap_cache.scratch(header)
    })
}

/// Moves the 12 bytes of MACs at `ENCAP_LEN - 4` (a tagged frame's, after the
/// prepend) to `ENCAP_LEN`, over the tag, through a fixed-size copy: `copy_within`
/// is a call, and the call cost the encap path its registers (spilled on every
/// frame).
#[inline(always)]
fn move_macs_over_tag(data: &mut [u8]) {
    const OLD: usize = ENCAP_LEN - vlan::HEADER_LEN;
    // The MACs' length: they start the frame.
    const LEN: usize = MACS.end;
    let Some(h) = data.first_chunk_mut::<{ ENCAP_LEN + LEN }>() else {
        return;
    };
    let mut macs = [0u8; LEN];
    macs.copy_from_slice(&h[OLD..OLD + LEN]);
    h[ENCAP_LEN..].copy_from_slice(&macs);
}

/// VXLAN from a known VTEP -> known unicast on an access port: strip the outer
/// headers, push the access tag.
#[inline(always)]
fn decap<const FDB_CACHED: bool, B: PacketBuf>(
    ctx: &Ctx,
    ul: &UnderlayView,
    port_mac: u64,
    i: usize,
    buf: &mut B,
) -> Option<u16> {
    let f = buf.data();
    let h = f.first_chunk::<{ ENCAP_LEN + HEADER_LEN }>()?;
    let inner = h[ENCAP_LEN..].first_chunk::<HEADER_LEN>()?;
    if !ul.outer_match.matches(h) {
        return None;
    }
    // The IPv4 and UDP lengths must end the packet at the frame's end. A VXLAN
    // frame is never short enough for Ethernet padding (64 bytes at least), so
    // this takes nearly every frame with two compares; the general path trims the
    // rare one with bytes after its packet. The frame's 64 bytes make the UDP
    // length at least 8 + 8 + `HEADER_LEN`.
    let ip_len = f.len() - encap::IP;
    let total = u16::from_be_bytes([h[outer::IP_TOTAL_LEN], h[outer::IP_TOTAL_LEN + 1]]) as usize;
    let udp_len = u16::from_be_bytes([h[outer::UDP_LENGTH], h[outer::UDP_LENGTH + 1]]) as usize;
    if total != ip_len
        || udp_len + ipv4::MIN_HEADER_LEN != ip_len
        || !ipv4_header_verifies(h[encap::IP..].first_chunk::<{ ipv4::MIN_HEADER_LEN }>()?)
    {
        return None;
    }
    // Whole words, not bytes assembled: LLVM keeps byte loads and shifts otherwise.
    let from = Ipv4Addr::from(be32_at::<{ outer::IP_SRC_ADDR.start }>(h));
    ctx.burst.vtep_slot(ctx.snap, from)?;
    // The VNI is the top 24 bits of the VXLAN header's second word.
    let slot = ctx
        .burst
        .vni_slot(ctx.snap, be32_at::<{ outer::VNI_WORD.start }>(h) >> 8)?;
    let v = ctx.snap.vnis.get(slot as usize)?;
    // Routing-mesh replies are addressed to vxgw's overlay MAC (the underlay port's).
    if dst_mac_u64(inner) == port_mac {
        mark_current(ctx, i);
        return mesh_fast::to_client(ctx, slot, v, from, buf);
    }
    let (src, dst) = bridged_macs(inner)?;
    let etype = u16::from_be_bytes([inner[ETHERTYPE], inner[ETHERTYPE + 1]]);
    // A tagged inner frame is the general path's to drop (`learn::is_tag`).
    if may_be_for_vxgw(v, dst, etype) || is_tag(etype) {
        return None;
    }
    let (port, vlan) = ctx.fdb_lookup_in::<FDB_CACHED, _>(v.vni, dst, |d| match d {
        FdbDest::Access { port, vlan } => Some((port, vlan)),
        FdbDest::Vtep(_) => None,
    })?;
    // VNI isolation: an entry outside the VNI's members goes to the general path,
    // which drops and counts it (`egress::to_access`).
    if !is_member_of(ctx.snap, v.first_member, slot, port, vlan) {
        return None;
    }
    // Decided: from here on the frame changes.
    if vlan == 0 {
        buf.adj(ENCAP_LEN);
    } else {
        // Keep the tag's 4 bytes of the outer headers and write the tag there.
        buf.adj(ENCAP_LEN - vlan::HEADER_LEN);
        let _ = vlan::push_vlan_tag_in_place(buf.data_mut(), vlan);
    }
    learn_mac(ctx, slot, src, FdbDest::Vtep(from));
    // One load of the counters' address for both (each `ctx.counters` is a load:
    // the compiler cannot tell that the first increment leaves `ctx` as it was).
    let counters = ctx.counters;
    counters.event(Event::Decapsulated);
    counters.event(Event::AccessOut);
    Some(port)
}
