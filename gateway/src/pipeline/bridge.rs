//! Bridging an untagged frame inside one VNI: learning its source, answering what
//! vxgw answers itself (its gateway address, ARP suppression), then the FDB decides:
//! a known destination gets the frame, broadcast/multicast/unknown is flooded.

use super::decision::{Decision, DropReason, Origin, Target};
use super::{local, Ctx, Event, PacketBuf};
use crate::tables::fdb::{FdbDest, LearnOutcome};
use crate::wire::ethernet::{ethertype, MacAddr};

/// Learns the frame's source MAC in VNI slot `vni` against `dest`. Returns a drop
/// when the source is not a unicast MAC (such a frame is invalid, 802.1Q 8.7).
#[inline]
pub(super) fn learn_source(ctx: &Ctx, vni: u16, frame: &[u8], dest: FdbDest) -> Option<Decision> {
    // One bounds check for the whole header (callers guarantee 14 bytes).
    let Some(h) = frame.first_chunk::<14>() else {
        return Some(Decision::Drop(DropReason::Truncated));
    };
    let src = MacAddr([h[6], h[7], h[8], h[9], h[10], h[11]]);
    if !src.is_unicast() || src == MacAddr::ZERO {
        return Some(Decision::Drop(DropReason::InvalidSourceMac));
    }
    let v = &ctx.snap.vnis[vni as usize];
    let dest_key = match dest {
        FdbDest::Access { port, vlan } => (1 << 48) | (port as u64) << 16 | vlan as u64,
        FdbDest::Vtep(ip) => (2 << 48) | u32::from(ip) as u64,
    };
    if ctx.learn_cache.seen(v.vni, src.to_u64(), dest_key, ctx.now) {
        return None;
    }
    match ctx.fdb.learn(v.vni, src, dest, ctx.now, v.learn_limit) {
        LearnOutcome::Learned => ctx.counters.event(Event::FdbLearned),
        LearnOutcome::Moved => ctx.counters.event(Event::FdbMoved),
        LearnOutcome::LimitHit => ctx.counters.event(Event::FdbLimitHit),
        LearnOutcome::TableFull => ctx.counters.event(Event::FdbTableFull),
        _ => {}
    }
    None
}

fn back_to(origin: Origin) -> Target {
    match origin {
        Origin::Access { port, vlan } => Target::Access { port, vlan },
        Origin::Vtep(i) => Target::Vtep(i),
    }
}

/// Decides where an untagged frame of VNI slot `vni` that came from `origin` goes.
#[inline]
pub(super) fn forward<B: PacketBuf>(ctx: &Ctx, vni: u16, origin: Origin, buf: &mut B) -> Decision {
    let v = &ctx.snap.vnis[vni as usize];
    let frame = buf.data();
    let Some(h) = frame.first_chunk::<14>() else {
        return Decision::Drop(DropReason::Truncated);
    };
    let dst = MacAddr([h[0], h[1], h[2], h[3], h[4], h[5]]);
    let etype = u16::from_be_bytes([h[12], h[13]]);

    if etype == ethertype::ARP && dst.is_broadcast() {
        match local::parse_arp(frame) {
            Err(_) => return Decision::Drop(DropReason::MalformedArp),
            Ok(Some(req)) => {
                let answer = match v.gateway {
                    Some((ip, mac)) if ip == req.target => Some((mac, Event::ArpReplied)),
                    // Suppression answers the access side; requests from VTEPs were
                    // already suppressed (or not) by the VTEP that sent them.
                    _ if matches!(origin, Origin::Access { .. }) => {
                        v.arp.get(&req.target).map(|&m| (m, Event::ArpSuppressed))
                    }
                    _ => None,
                };
                if let Some((mac, ev)) = answer {
                    if req.sender_mac != mac
                        && local::arp_reply_in_place(buf.data_mut(), mac).is_ok()
                    {
                        ctx.counters.event(ev);
                        return Decision::Forward {
                            vni,
                            to: back_to(origin),
                        };
                    }
                }
            }
            Ok(None) => {}
        }
    }
    if let Some((ip, mac)) = v.gateway {
        if dst == mac && etype == ethertype::IPV4 {
            return match local::echo_reply_in_place(buf.data_mut(), ip, mac) {
                Ok(true) => {
                    ctx.counters.event(Event::EchoReplied);
                    Decision::Forward {
                        vni,
                        to: back_to(origin),
                    }
                }
                Ok(false) => Decision::Drop(DropReason::UnsupportedProtocol),
                Err(_) => Decision::Drop(DropReason::MalformedIcmp),
            };
        }
    }
    if dst.is_multicast() {
        return Decision::Flood { vni, from: origin };
    }
    match ctx.fdb.lookup(v.vni, dst) {
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
            Origin::Access { .. } => match ctx.snap.vtep_slot(ip) {
                Some(i) => Decision::Forward {
                    vni,
                    to: Target::Vtep(i),
                },
                None => Decision::Flood { vni, from: origin },
            },
        },
    }
}
