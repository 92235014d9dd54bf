//! Starting a burst's table lookups together before its frames are processed one by
//! one: each frame's FDB bucket (access and VXLAN frames) and conntrack lines (the
//! routing mesh) are prefetched, so their cache misses overlap instead of stalling
//! each frame in turn. Only hints: nothing here decides anything or counts, and a
//! malformed frame is simply not warmed (its own processing drops it).
//!
//! The FDB is warmed only when its occupied buckets may not all be in the cache
//! already. Warming parses and hashes each frame a second time: with 100k MACs it
//! pays for itself many times over, with 1k (buckets always in L2) it only costs
//! (the measurements: perf/RESULTS.md, section 2).

use super::{mesh, Ctx};
use crate::tables::snapshot::ENCAP_LEN;
use crate::wire::encap::field as outer;
use crate::wire::ethernet::field::ETHERTYPE;
use crate::wire::ethernet::{dst_mac_u64, ethertype, src_mac_u64, GROUP_BIT_U64, HEADER_LEN};
use crate::wire::vlan;

/// Warms the tables the frames of one burst received on `rx_port` will look up.
#[inline]
pub fn warm_burst<'f, I>(ctx: &Ctx, rx_port: u16, frames: I)
where
    I: Iterator<Item = &'f [u8]> + Clone,
{
    let Some(port) = ctx.snap.port(rx_port) else {
        // Nothing to warm, but the routing mesh forgets the last burst's lookups.
        mesh::warm_conntrack(ctx, rx_port, frames);
        return;
    };
    if ctx.fdb_in_cache() {
        mesh::warm_conntrack(ctx, rx_port, frames);
        return;
    }
    if let Some(map) = port.vlan_to_vni.as_deref().filter(|_| port.access) {
        for f in frames.clone() {
            warm_access(ctx, map, f);
        }
    }
    if ctx
        .snap
        .underlay
        .as_ref()
        .is_some_and(|u| u.port == rx_port)
    {
        for f in frames.clone() {
            warm_vxlan(ctx, f);
        }
    }
    mesh::warm_conntrack(ctx, rx_port, frames);
}

/// An access frame: its VLAN's VNI and its MACs.
#[inline]
fn warm_access(ctx: &Ctx, map: &[u16; 4096], f: &[u8]) {
    let Some(h) = f.first_chunk::<HEADER_LEN>() else {
        return;
    };
    let vid = match u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]) {
        ethertype::VLAN => match f.get(vlan::tagged::TCI..vlan::tagged::TCI + 2) {
            Some(tci) => u16::from_be_bytes([tci[0], tci[1]]) & vlan::VID_MAX,
            None => return,
        },
        _ => 0,
    };
    let slot = map[vid as usize];
    if let Some(v) = (slot as usize)
        .checked_sub(1)
        .and_then(|i| ctx.snap.vnis.get(i))
    {
        prefetch_lookups(ctx, v.vni, src_mac_u64(h), dst_mac_u64(h));
    }
}

/// What a frame of `vni` from `src` to `dst` will look up in the FDB: `dst`'s bucket,
/// or for a broadcast or multicast, which is flooded without a lookup,
/// what learning `src` reads (a MAC flood is broadcasts from new sources, each a
/// learn the worker's learn cache cannot answer).
#[inline]
fn prefetch_lookups(ctx: &Ctx, vni: u32, src: u64, dst: u64) {
    if dst & GROUP_BIT_U64 == 0 {
        ctx.fdb.prefetch(vni, dst);
    } else {
        ctx.fdb.prefetch_learn(vni, src);
    }
}

/// A VXLAN frame without outer IP options: its VNI and its inner MACs.
#[inline]
fn warm_vxlan(ctx: &Ctx, f: &[u8]) {
    let Some(h) = f.first_chunk::<{ ENCAP_LEN + HEADER_LEN }>() else {
        return;
    };
    if h[outer::IP_VER_IHL] != 0x45 || h[outer::IP_PROTOCOL] != crate::wire::ipv4::protocol::UDP {
        return;
    }
    let vni = u32::from_be_bytes([0, h[outer::VNI], h[outer::VNI + 1], h[outer::VNI + 2]]);
    if let Some(inner) = h[ENCAP_LEN..].first_chunk::<HEADER_LEN>() {
        prefetch_lookups(ctx, vni, src_mac_u64(inner), dst_mac_u64(inner));
    }
}
