//! Ingress on an underlay port: VXLAN to our VTEP address (decap), ARP for our VTEP
//! address and from neighbours, ICMP echo to our VTEP address. `None` means "not
//! underlay traffic" so a port that is also an access port can take it.

use super::decision::{Decision, DropReason};
use super::{decap, local, Ctx, Event, PacketBuf};
use crate::tables::snapshot::PortView;
use crate::wire::ethernet::field::ETHERTYPE;
use crate::wire::ethernet::{dst_mac_u64, ethertype, MacAddr, HEADER_LEN};
use crate::wire::frame::{field as at, L4};

pub(super) fn ingress<B: PacketBuf>(
    ctx: &Ctx,
    rx_port: u16,
    port: &PortView,
    buf: &mut B,
) -> Option<Decision> {
    let ul = ctx.snap.underlay.as_ref().filter(|u| u.port == rx_port)?;
    let frame = buf.data();
    // The caller checked that a whole Ethernet header is there; the MACs as words.
    let h = frame.first_chunk::<HEADER_LEN>()?;
    let dst = dst_mac_u64(h);
    let to_port = dst == port.mac.to_u64();
    match u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]) {
        ethertype::IPV4 if to_port => {
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
        ethertype::ARP if to_port || dst == MacAddr::BROADCAST.to_u64() => {
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
