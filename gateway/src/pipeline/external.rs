//! Ingress on the external port (DESIGN "Packet paths" 3a and 4): ARP and ping for
//! vxgw's external addresses (its own and the published ones), and client traffic
//! to published ports, handed to the routing mesh. `None` means "not for the
//! external side" so a port with other roles can take it.

use super::decision::{Decision, DropReason};
use super::{edge, local, mesh, Ctx, Event, PacketBuf};
use crate::tables::snapshot::ExternalView;
use crate::wire::ethernet::{ethertype, MacAddr};
use crate::wire::frame::field as at;
use crate::wire::ipv4::protocol;
use crate::wire::EthernetFrame;
use std::net::Ipv4Addr;

pub(super) fn ingress<B: PacketBuf>(
    ctx: &Ctx,
    ext: &ExternalView,
    buf: &mut B,
) -> Option<Decision> {
    let frame = buf.data();
    let eth = EthernetFrame::new_unchecked(frame);
    let dst = eth.dst_addr();
    match eth.ethertype() {
        ethertype::IPV4 if dst == ext.mac => {
            if let Err(reason) = edge::check_client(ext, frame) {
                return Some(Decision::Drop(reason));
            }
            let d = at::IP_DST_ADDR.start;
            let to = Ipv4Addr::new(frame[d], frame[d + 1], frame[d + 2], frame[d + 3]);
            if frame[at::IP_PROTOCOL] == protocol::ICMP && ext.is_local(to) {
                match local::echo_reply_in_place(buf.data_mut(), to, ext.mac) {
                    Ok(true) => {
                        ctx.counters.event(Event::EchoReplied);
                        return Some(Decision::Send { port: ext.port });
                    }
                    Ok(false) => {} // an ICMP error about a connection: the mesh's
                    Err(_) => return Some(Decision::Drop(DropReason::MalformedIcmp)),
                }
            }
            Some(mesh::from_client(ctx, ext, buf))
        }
        ethertype::ARP if dst == ext.mac || dst == MacAddr::BROADCAST => Some(local::arp_on_link(
            ctx,
            ext.port,
            ext.mac,
            buf,
            |ip| ext.is_local(ip),
            |_| false,
        )),
        _ => None,
    }
}
