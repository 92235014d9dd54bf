//! Ingress on an underlay port: VXLAN to our VTEP address (decap), ARP for our VTEP
//! address and from neighbours, ICMP echo to our VTEP address. `None` means "not
//! underlay traffic" so a port that is also an access port can take it.

use super::decision::{Decision, DropReason};
use super::{decap, local, Ctx, Event, PacketBuf};
use crate::tables::snapshot::PortView;
use crate::wire::ethernet::{ethertype, MacAddr};
use crate::wire::frame::{field as at, L4};
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
            if frame.len() < L4 || frame[at::IP_DST_ADDR] != ul.vtep_ip.octets() {
                return None;
            }
            if frame[at::IP_PROTOCOL] == crate::wire::ipv4::protocol::ICMP {
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
            let vtep_ip = ul.vtep_ip;
            Some(local::arp_on_link(
                ctx,
                rx_port,
                port.mac,
                buf,
                |ip| ip == vtep_ip,
                |ip| ctx.snap.vteps.iter().any(|v| v.next_hop == ip),
            ))
        }
        _ => None,
    }
}
