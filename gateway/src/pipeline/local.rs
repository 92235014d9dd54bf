//! Replies vxgw makes itself: ARP replies (own addresses, suppression) and ICMP echo
//! replies, rewritten in place; and ARP requests for underlay next hops.

use std::net::Ipv4Addr;

use crate::wire::arp::{self, ArpPacket};
use crate::wire::ethernet::field::{DST, ETHERTYPE, PAYLOAD, SRC};
use crate::wire::ethernet::{ethertype, EthernetFrame, MacAddr};
use crate::wire::icmp::IcmpPacket;
use crate::wire::ipv4::{protocol, Ipv4Packet};
use crate::wire::WireError;

use super::decision::{Decision, DropReason};
use super::{Ctx, Event, PacketBuf};
use crate::tables::neighbours::NeighbourUpdate;

/// An untagged ARP frame's fields, as the overlay side needs them.
pub struct ArpInfo {
    /// A request.
    pub is_request: bool,
    /// A reply.
    pub is_reply: bool,
    /// Sender's IP.
    pub sender_ip: Ipv4Addr,
    /// Sender's MAC.
    pub sender_mac: MacAddr,
    /// Target IP.
    pub target: Ipv4Addr,
}

/// Parses an untagged ARP frame.
pub fn parse_arp_any(frame: &[u8]) -> Result<ArpInfo, WireError> {
    let eth = EthernetFrame::new_checked(frame)?;
    let a = ArpPacket::new_checked(eth.payload())?;
    Ok(ArpInfo {
        is_request: a.operation() == arp::op::REQUEST,
        is_reply: a.operation() == arp::op::REPLY,
        sender_ip: a.sender_ipv4(),
        sender_mac: a.sender_hw_addr(),
        target: a.target_ipv4(),
    })
}

/// Turns the ARP request in `frame` into the reply "`target` is at `mac`", addressed
/// back to the asker.
pub fn arp_reply_in_place(frame: &mut [u8], mac: MacAddr) -> Result<(), WireError> {
    let mut eth = EthernetFrame::new_checked(&mut *frame)?;
    let asker = eth.src_addr();
    eth.set_dst_addr(asker);
    eth.set_src_addr(mac);
    let mut a = ArpPacket::new_checked(eth.payload_mut())?;
    a.make_reply_in_place(mac)
}

/// If `frame` is an ICMP echo request to `ip`, turns it into the reply (addresses
/// swapped, MACs swapped with `mac` as source) and returns true.
pub fn echo_reply_in_place(
    frame: &mut [u8],
    ip: Ipv4Addr,
    mac: MacAddr,
) -> Result<bool, WireError> {
    let mut eth = EthernetFrame::new_checked(&mut *frame)?;
    if eth.ethertype() != ethertype::IPV4 {
        return Ok(false);
    }
    let asker = eth.src_addr();
    {
        let mut p = Ipv4Packet::new_checked(eth.payload_mut())?;
        if p.dst_ipv4() != ip || p.protocol() != protocol::ICMP || p.is_fragment() {
            return Ok(false);
        }
        let hl = p.header_len();
        let total = p.total_len() as usize;
        let mut icmp = IcmpPacket::new_checked(&mut p.payload_mut()[..total - hl])?;
        if icmp.msg_type() != 8 || icmp.code() != 0 {
            return Ok(false);
        }
        icmp.make_echo_reply_in_place()?;
        p.swap_addrs();
        p.set_ttl(64);
        p.fill_checksum();
    }
    eth.set_dst_addr(asker);
    eth.set_src_addr(mac);
    Ok(true)
}

/// Writes a broadcast ARP request "who has `target`? tell `our_ip`" into `out`
/// (at least 60 bytes: the minimum Ethernet frame, zero padded). Returns its length.
pub fn build_arp_request(
    out: &mut [u8],
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    target: Ipv4Addr,
) -> usize {
    const LEN: usize = 60;
    assert!(out.len() >= LEN, "ARP request buffer too small");
    out[..LEN].fill(0);
    out[DST].copy_from_slice(&MacAddr::BROADCAST.0);
    out[SRC].copy_from_slice(&our_mac.0);
    out[ETHERTYPE..ETHERTYPE + 2].copy_from_slice(&ethertype::ARP.to_be_bytes());
    let mut a = ArpPacket::new_unchecked(&mut out[PAYLOAD..PAYLOAD + arp::PACKET_LEN]);
    a.init_eth_ipv4();
    a.set_operation(arp::op::REQUEST);
    a.set_sender_hw_addr(our_mac);
    a.set_sender_proto_addr(our_ip.octets());
    a.set_target_hw_addr(MacAddr::ZERO);
    a.set_target_proto_addr(target.octets());
    LEN
}

/// An ARP packet on a routed link (the underlay or the external port, `port` with
/// MAC `mac`): learn the sender into the neighbour table when it asks for one of our
/// addresses (`ours`) or is a neighbour already known or `expected` (RFC 826: update
/// an existing entry, add one when we are the target); answer requests for our
/// addresses; other people's ARP is consumed (a reply) or ignored.
pub(super) fn arp_on_link<B: PacketBuf>(
    ctx: &Ctx,
    port: u16,
    mac: MacAddr,
    buf: &mut B,
    ours: impl Fn(Ipv4Addr) -> bool,
    expected: impl Fn(Ipv4Addr) -> bool,
) -> Decision {
    let a = match parse_arp_any(buf.data()) {
        Ok(a) => a,
        Err(_) => return Decision::Drop(DropReason::MalformedArp),
    };
    // Only requests and replies are ARP for a host (RARP, InARP and unknown
    // operations are not): nothing is learned from the others, as in Linux. (The
    // fuzzer moved a VTEP's next hop with operation 0x010f.)
    if !a.is_request && !a.is_reply {
        return Decision::Drop(DropReason::ArpIgnored);
    }
    let for_us = ours(a.target);
    // One table holds the underlay's neighbours (the VTEPs' next hops) and the
    // external side's (clients, their gateway): an ARP packet on one link must not
    // move an address of the other (a client claiming a VTEP's address took its
    // VXLAN traffic). The underlay learns its next hops, the external side anything
    // but them.
    let next_hop = ctx.snap.vteps.iter().any(|v| v.next_hop == a.sender_ip);
    let underlay = ctx.snap.underlay.as_ref().is_some_and(|u| u.port == port);
    if a.sender_mac.is_unicast()
        && !a.sender_ip.is_unspecified()
        && next_hop == underlay
        && (for_us || ctx.neigh.lookup(a.sender_ip).is_some() || expected(a.sender_ip))
        && !ctx.dry()
        && ctx.neigh.learn(a.sender_ip, a.sender_mac, ctx.now) == NeighbourUpdate::Updated
    {
        ctx.counters.event(Event::NeighbourLearned);
    }
    match (for_us, a.is_request) {
        (true, true) => match arp_reply_in_place(buf.data_mut(), mac) {
            Ok(()) => {
                ctx.counters.event(Event::ArpReplied);
                Decision::Send { port }
            }
            Err(_) => Decision::Drop(DropReason::MalformedArp),
        },
        (true, false) => Decision::Consumed,
        // Someone else's ARP on the segment (or a reply we learned from).
        (false, _) if a.is_reply => Decision::Consumed,
        (false, _) => Decision::Drop(DropReason::ArpIgnored),
    }
}
