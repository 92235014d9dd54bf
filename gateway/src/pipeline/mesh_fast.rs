//! The routing mesh's fast path: packets of established connections, both ways,
//! decided and done in one pass (like [`super::fast_path`] for the overlay):
//! - **to a backend**: a client's TCP or UDP packet to a published port, which
//!   the burst's warm-up checked ([`plain_client`](super::mesh_key::plain_client): the one parse of its headers)
//!   and whose connection it found, to a backend whose delivery (MAC, VTEP)
//!   this worker resolved this second: NAT, MACs, VXLAN encap;
//! - **to a client**: a backend's reply as VXLAN from a known VTEP, whose
//!   connection the warm-up found, to a client whose next hop's MAC is known:
//!   decap, un-NAT, MACs.
//!
//! The general path ([`super::mesh`]) parses and validates each header in several
//! places (the Ethernet frame, `parse_flow`, `rewrite`, the MSS clamp, then the
//! egress) and goes through a [`super::Decision`]; here each header is checked once, at fixed offsets, and the
//! frame changes only when everything is known. Whatever it does not take (SYNs:
//! they need the MSS clamp or a new connection; IPv4 options, fragments, TTL 1,
//! ICMP, packets too big, unknown flows, a backend not resolved this second,
//! anything malformed) it hands back untouched and uncounted, and the general
//! path decides as before. `mesh_fast_tests.rs` checks, on generated and mutated
//! packets, that whatever this takes ends as the general path would end it: bytes,
//! port, counters, FDB and connection state.

use std::net::Ipv4Addr;

use super::decision::{Decision, Target};
use super::egress::write_outer;
use super::flow::inner_flow_hash;
use super::learn::learn_mac;
use super::mesh_key::{plain_ipv4, total_and_flags};
use super::{Ctx, Event, MeshTables, PacketBuf};
use crate::tables::conntrack::{CtHit, Dir, PackedKey};
use crate::tables::fdb::FdbDest;
use crate::tables::snapshot::{VniView, ENCAP_LEN};
use crate::wire::ethernet::field::{DST, SRC};
use crate::wire::ethernet::{dst_mac_u64, src_mac_u64, GROUP_BIT_U64, HEADER_LEN};
use crate::wire::ipv4::{self, protocol};

use super::nat::{rewrite_checked, CHECKED_TCP_LEN, CHECKED_UDP_LEN};

/// [`rewrite_checked`] of the IPv4 packet after the Ethernet header `ip`, which
/// [`plain_ipv4`] has accepted (so its L4 header is there).
#[inline(always)]
fn translate(ip: &mut [u8], src: Option<(Ipv4Addr, u16)>, dst: Option<(Ipv4Addr, u16)>) {
    if ip.get(ipv4::field::PROTOCOL) == Some(&protocol::TCP) {
        if let Some(ip) = ip.first_chunk_mut::<CHECKED_TCP_LEN>() {
            rewrite_checked(ip, src, dst);
        }
    } else if let Some(ip) = ip.first_chunk_mut::<CHECKED_UDP_LEN>() {
        rewrite_checked(ip, src, dst);
    }
}

/// The burst's warmed hit for `key` in direction `dir` (the warm-up looked up the
/// current packet), not yet observed.
#[inline(always)]
fn warmed(ctx: &Ctx, key: &PackedKey, dir: Dir) -> Option<CtHit> {
    let m = ctx.mesh.as_ref()?;
    m.cache.hit_for(key).filter(|h| h.dir == dir)
}

/// A client's packet on the external port to a backend behind a VTEP. Returns the
/// underlay port, the frame encapsulated; `None`: untouched, nothing counted.
#[inline(always)]
pub(super) fn to_backend<B: PacketBuf>(ctx: &Ctx, buf: &mut B) -> Option<u16> {
    let m = ctx.mesh.as_ref()?;
    // The warm-up found this frame a plain client packet ([`plain_client`]) and
    // its connection.
    m.cache
        .with_plain_hit(|key, hit| client_to_backend(ctx, m, key, hit, buf))
}

/// [`to_backend`] of a plain client packet with `key`, of connection `hit`.
#[inline(always)]
fn client_to_backend<B: PacketBuf>(
    ctx: &Ctx,
    m: &MeshTables,
    key: &PackedKey,
    hit: &CtHit,
    buf: &mut B,
) -> Option<u16> {
    if hit.dir != Dir::Original {
        return None;
    }
    let f = buf.data();
    let len = f.len();
    let (total, flags) = total_and_flags(f, key.proto())?;
    let ul = ctx.snap.underlay.as_ref()?;
    if total > ul.inner_ip_mtu as usize {
        return None;
    }
    let si = m
        .cache
        .service_for(ctx.snap, key.proto(), key.dst(), key.dst_port())?;
    let svc = ctx.snap.services.get(si as usize)?;
    let (mac, d) = m
        .cache
        .route(hit.backend_id(), ctx.snap.generation, ctx.now)?;
    let Decision::Forward {
        vni,
        to: Target::Vtep(vtep),
    } = d
    else {
        return None;
    };
    if vni != svc.vni {
        return None;
    }
    let v: &VniView = ctx.snap.vnis.get(vni as usize)?;
    let t = ctx.snap.vteps.get(vtep as usize)?;
    let next_hop = ctx.burst.next_hop_mac(ctx.neigh, vtep, t.next_hop)?;
    let ip_len = len + ENCAP_LEN - HEADER_LEN;
    if ip_len > ul.mtu as usize {
        return None;
    }
    // Decided, but for the connection's state: room for the outer headers first (it
    // is given back if the connection went away since the warm-up).
    buf.prepend(ENCAP_LEN)?;
    if m.conntrack.observe_checked(hit, flags, ctx.now).is_none() {
        buf.adj(ENCAP_LEN);
        return None;
    }
    // The inner packet is whole (checked above), so the chunks below exist; nothing
    // from here on can decline.
    let (outer, inner) = buf.data_mut().split_at_mut(ENCAP_LEN);
    if let Some((eth, rest)) = inner.split_first_chunk_mut::<HEADER_LEN>() {
        let snat = hit.snat().map(|s| (*s.ip(), s.port()));
        let backend = hit.backend();
        translate(rest, snat, Some((*backend.ip(), backend.port())));
        eth[DST].copy_from_slice(&mac.0);
        eth[SRC].copy_from_slice(&v.router_mac.0);
    }
    let hash = inner_flow_hash(inner);
    write_outer(outer, t, next_hop.0, ip_len as u16, v.vni, hash);
    m.backends.packet(hit.backend_id(), true, total);
    ctx.counters.event(Event::MeshToBackend);
    ctx.counters.event(Event::Encapsulated);
    Some(ul.port)
}

/// A backend's reply, VXLAN whose outer headers the overlay fast path has checked
/// (from VTEP `from`, VNI slot `slot`, the outer packet ending at the frame's end),
/// to vxgw's overlay MAC. Returns the external port, the frame decapsulated and
/// translated; `None`: untouched, nothing learned or counted.
#[inline(always)]
pub(super) fn to_client<B: PacketBuf>(
    ctx: &Ctx,
    slot: u16,
    v: &VniView,
    from: Ipv4Addr,
    buf: &mut B,
) -> Option<u16> {
    let m = ctx.mesh.as_ref()?;
    let ext = ctx.snap.external.as_ref()?;
    let inner = buf.data().get(ENCAP_LEN..)?;
    let eth = inner.first_chunk::<HEADER_LEN>()?;
    let src = src_mac_u64(eth);
    if v.local_ips.is_empty()
        || dst_mac_u64(eth) != v.router_mac.to_u64()
        || src & GROUP_BIT_U64 != 0
        || src == 0
    {
        return None;
    }
    let p = plain_ipv4(inner)?;
    let hit = warmed(ctx, &p.key, Dir::Reply)?;
    let client = hit.client();
    let next_hop = ctx.burst.route_mac(ctx.neigh, ext.next_hop(*client.ip()))?;
    m.conntrack.observe_checked(&hit, p.flags, ctx.now)?;
    // Decided: from here on the frame changes, and nothing declines. The outer
    // headers are inside the frame (checked above).
    buf.adj(ENCAP_LEN);
    if let Some((eth, rest)) = buf.data_mut().split_first_chunk_mut::<HEADER_LEN>() {
        let to_client = hit.snat().map(|_| (*client.ip(), client.port()));
        let published = hit.published();
        let published = (*published.ip(), published.port());
        translate(rest, Some(published), to_client);
        eth[DST].copy_from_slice(&next_hop.0);
        eth[SRC].copy_from_slice(&ext.mac.0);
    }
    learn_mac(ctx, slot, src, FdbDest::Vtep(from));
    m.backends.packet(hit.backend_id(), false, p.total);
    ctx.counters.event(Event::Decapsulated);
    ctx.counters.event(Event::MeshToClient);
    Some(ext.port)
}
