//! Ingress on an underlay port: VXLAN to our VTEP address (decap), ARP for our VTEP
//! address and from neighbours, ICMP echo to our VTEP address. `None` means "not
//! underlay traffic" so a port that is also an access port can take it.

use super::decision::{Decision, DropReason};
use super::{decap, local, Ctx, Event, PacketBuf};
use crate::tables::neighbours::NeighbourUpdate;
use crate::tables::snapshot::PortView;
use crate::wire::arp::ArpPacket;
use crate::wire::ethernet::{ethertype, MacAddr};
use crate::wire::EthernetFrame;

pub(super) fn ingress<B: PacketBuf>(
    ctx: &Ctx,
    rx_port: u16,
    port: &PortView,
    buf: &mut B,
) -> Option<Decision> {
    let ul = ctx.snap.underlay.as_ref().filter(|u| u.port == rx_port)?;
    let frame = buf.data();
    let eth = EthernetFrame::new_unchecked(frame);
    let dst = eth.dst_addr();
    match eth.ethertype() {
        ethertype::IPV4 if dst == port.mac => {
            // Only traffic to our VTEP address is ours; the rest may be access traffic
            // on a shared port.
            if frame.len() < 34 || frame[30..34] != ul.vtep_ip.octets() {
                return None;
            }
            if frame[23] == crate::wire::ipv4::protocol::ICMP {
                return Some(
                    match local::echo_reply_in_place(buf.data_mut(), ul.vtep_ip, port.mac) {
                        Ok(true) => {
                            ctx.counters.event(Event::EchoReplied);
                            Decision::Send { port: rx_port }
                        }
                        Ok(false) => Decision::Drop(DropReason::UnsupportedProtocol),
                        Err(_) => Decision::Drop(DropReason::MalformedIcmp),
                    },
                );
            }
            Some(decap::decap(ctx, ul, buf))
        }
        ethertype::ARP if dst == port.mac || dst == MacAddr::BROADCAST => {
            let Ok(a) = ArpPacket::new_checked(eth.payload()) else {
                return Some(Decision::Drop(DropReason::MalformedArp));
            };
            let (sender, sender_mac, target) =
                (a.sender_ipv4(), a.sender_hw_addr(), a.target_ipv4());
            let for_us = target == ul.vtep_ip;
            // Learn the sender if it is someone we talk to, or it is talking to us
            // (RFC 826: update an existing entry; add one when we are the target).
            if sender_mac.is_unicast() && !sender.is_unspecified() {
                let known = ctx.neigh.lookup(sender).is_some()
                    || ctx.snap.vteps.iter().any(|v| v.next_hop == sender);
                if (for_us || known)
                    && ctx.neigh.learn(sender, sender_mac, ctx.now) == NeighbourUpdate::Updated
                {
                    ctx.counters.event(Event::NeighbourLearned);
                }
            }
            if !for_us {
                // Someone else's ARP on the underlay segment (or a reply we learned from).
                return Some(if a.operation() == crate::wire::arp::op::REPLY {
                    Decision::Consumed
                } else {
                    Decision::Drop(DropReason::ArpIgnored)
                });
            }
            match a.operation() {
                crate::wire::arp::op::REQUEST => {
                    Some(match local::arp_reply_in_place(buf.data_mut(), port.mac) {
                        Ok(()) => {
                            ctx.counters.event(Event::ArpReplied);
                            Decision::Send { port: rx_port }
                        }
                        Err(_) => Decision::Drop(DropReason::MalformedArp),
                    })
                }
                _ => Some(Decision::Consumed),
            }
        }
        _ => None,
    }
}
