//! Bridging an untagged frame inside one VNI: learning its source, answering what
//! vxgw answers itself (its gateway address, ARP suppression), then the FDB decides:
//! a known destination gets the frame, broadcast/multicast/unknown is flooded.

use super::decision::{Decision, DropReason, Origin, Target};
use super::{local, Ctx, Event, PacketBuf, Step};
use crate::tables::fdb::FdbDest;
use crate::tables::neighbours::NeighbourUpdate;
use crate::tables::snapshot::VniView;
use crate::wire::ethernet::field::ETHERTYPE;
use crate::wire::ethernet::{dst_mac_u64, ethertype, MacAddr, GROUP_BIT_U64, HEADER_LEN};
use crate::wire::frame::{field as at, L4};

fn back_to(origin: Origin) -> Option<Target> {
    match origin {
        Origin::Access { port, vlan } => Some(Target::Access { port, vlan }),
        Origin::Vtep(i) => Some(Target::Vtep(i)),
        Origin::Local => None,
    }
}

/// True when a frame of VNI `v` to `dst` (as [`dst_mac_u64`] reads it) with ethertype
/// `etype` may be vxgw's to answer (ARP, or its gateway address): the bridge asks
/// `for_vxgw`, the fast path leaves such frames to the bridge.
#[inline(always)]
pub(super) fn may_be_for_vxgw(v: &VniView, dst: u64, etype: u16) -> bool {
    etype == ethertype::ARP || (!v.local_ips.is_empty() && dst == v.router_mac.to_u64())
}

/// Decides where an untagged frame of VNI slot `vni` that came from `origin` goes.
#[inline(always)]
pub(super) fn forward<B: PacketBuf>(ctx: &Ctx, vni: u16, origin: Origin, buf: &mut B) -> Decision {
    let v = &ctx.snap.vnis[vni as usize];
    let frame = buf.data();
    let Some(h) = frame.first_chunk::<HEADER_LEN>() else {
        return Decision::Drop(DropReason::Truncated);
    };
    let dst = dst_mac_u64(h);
    let etype = u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]);
    if may_be_for_vxgw(v, dst, etype) {
        if let Some(d) = for_vxgw(ctx, vni, origin, MacAddr::from_u64(dst), etype, buf) {
            return d;
        }
    }
    if dst & GROUP_BIT_U64 != 0 {
        return Decision::Flood { vni, from: origin };
    }
    let found = ctx.fdb_lookup(v.vni, dst);
    ctx.note(|| Step::Fdb {
        vni: v.vni,
        mac: MacAddr::from_u64(dst),
        dest: found,
    });
    match found {
        None => Decision::Flood { vni, from: origin },
        Some(FdbDest::Access { port, vlan }) => {
            if origin == (Origin::Access { port, vlan }) {
                Decision::Drop(DropReason::SameSegment)
            } else {
                Decision::Forward {
                    vni,
                    to: Target::Access { port, vlan },
                }
            }
        }
        Some(FdbDest::Vtep(ip)) => match origin {
            // Split horizon: what came from the overlay never goes back into it.
            Origin::Vtep(_) => Decision::Drop(DropReason::SplitHorizon),
            Origin::Access { .. } | Origin::Local => match ctx.burst.vtep_slot(ctx.snap, ip) {
                Some(i) => Decision::Forward {
                    vni,
                    to: Target::Vtep(i),
                },
                None => Decision::Flood { vni, from: origin },
            },
        },
    }
}

/// An ARP packet for one of vxgw's overlay addresses: learn the sender (a backend
/// answering our request, or asking for its gateway), answer a request.
fn local_arp<B: PacketBuf>(
    ctx: &Ctx,
    vni: u16,
    origin: Origin,
    a: &local::ArpInfo,
    buf: &mut B,
) -> Decision {
    let v = &ctx.snap.vnis[vni as usize];
    if let Some(m) = ctx.mesh.as_ref() {
        if a.sender_mac.is_unicast()
            && !a.sender_ip.is_unspecified()
            && a.sender_mac != v.router_mac
            && !ctx.dry()
            && m.overlay_neigh
                .learn(v.vni, a.sender_ip, a.sender_mac, ctx.now)
                == NeighbourUpdate::Updated
        {
            ctx.counters.event(Event::NeighbourLearned);
        }
    }
    if !a.is_request {
        return Decision::Consumed;
    }
    if a.sender_mac == v.router_mac {
        return Decision::Drop(DropReason::ArpIgnored);
    }
    match (
        local::arp_reply_in_place(buf.data_mut(), v.router_mac),
        back_to(origin),
    ) {
        (Ok(()), Some(to)) => {
            ctx.counters.event(Event::ArpReplied);
            Decision::Forward { vni, to }
        }
        (Ok(()), None) => Decision::Consumed,
        (Err(_), _) => Decision::Drop(DropReason::MalformedArp),
    }
}

/// Frames vxgw may have to answer or route itself (ARP, and frames to its overlay
/// MAC); `None`: bridge it like any other. Out of line: the bridging fast path stays
/// small.
#[cold]
#[inline(never)]
fn for_vxgw<B: PacketBuf>(
    ctx: &Ctx,
    vni: u16,
    origin: Origin,
    dst: MacAddr,
    etype: u16,
    buf: &mut B,
) -> Option<Decision> {
    let v = &ctx.snap.vnis[vni as usize];
    let frame = buf.data();
    let to_us = !v.local_ips.is_empty() && dst == v.router_mac;

    if etype == ethertype::ARP && (dst.is_broadcast() || to_us) {
        match local::parse_arp_any(frame) {
            Err(_) => return Some(Decision::Drop(DropReason::MalformedArp)),
            Ok(a) if (a.is_request || a.is_reply) && v.local_ips.contains(&a.target) => {
                ctx.note(|| Step::Local("ARP for one of vxgw's overlay addresses"));
                return Some(local_arp(ctx, vni, origin, &a, buf));
            }
            Ok(a) if a.is_request && matches!(origin, Origin::Access { .. }) => {
                // Suppression answers the access side; requests from VTEPs were
                // already suppressed (or not) by the VTEP that sent them.
                if let Some(&mac) = v.arp.get(&a.target) {
                    if a.sender_mac != mac && local::arp_reply_in_place(buf.data_mut(), mac).is_ok()
                    {
                        ctx.counters.event(Event::ArpSuppressed);
                        ctx.note(|| Step::Local("ARP suppressed: answered from the VNI's table"));
                        if let Some(to) = back_to(origin) {
                            return Some(Decision::Forward { vni, to });
                        }
                    }
                }
            }
            Ok(_) => {}
        }
    }
    if to_us && etype == ethertype::IPV4 {
        // Routed by vxgw: ping to one of its overlay addresses, else a backend's reply.
        let frame = buf.data();
        if frame.len() >= L4 && frame[at::IP_PROTOCOL] == crate::wire::ipv4::protocol::ICMP {
            let d = at::IP_DST_ADDR.start;
            let to = std::net::Ipv4Addr::new(frame[d], frame[d + 1], frame[d + 2], frame[d + 3]);
            if v.local_ips.contains(&to) {
                return Some(
                    match local::echo_reply_in_place(buf.data_mut(), to, v.router_mac) {
                        Ok(true) => match back_to(origin) {
                            Some(to) => {
                                ctx.counters.event(Event::EchoReplied);
                                ctx.note(|| Step::Local("ping to one of vxgw's overlay addresses"));
                                Decision::Forward { vni, to }
                            }
                            None => Decision::Consumed,
                        },
                        Ok(false) => super::mesh::from_backend(ctx, buf),
                        Err(_) => Decision::Drop(DropReason::MalformedIcmp),
                    },
                );
            }
        }
        ctx.note(|| Step::Local("routed by vxgw: a backend's packet to a client"));
        return Some(super::mesh::from_backend(ctx, buf));
    }
    None
}
