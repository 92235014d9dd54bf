//! Frames of the lab's traffic (for the tracked connections every input starts with,
//! and for the seed corpus), built with etherparse.

use std::net::Ipv4Addr;

use etherparse::{PacketBuilder, TcpOptionElement};
use vxgw::pipeline::{ingress, warm_burst, Decision, PacketBuf, VecBuf};
use vxgw::tables::snapshot::Snapshot;

use crate::lab::{self, Tables, WorkerState};

/// TCP flags.
pub const FIN: u8 = 0x01;
/// SYN.
pub const SYN: u8 = 0x02;
/// RST.
pub const RST: u8 = 0x04;
/// PSH.
pub const PSH: u8 = 0x08;
/// ACK.
pub const ACK: u8 = 0x10;

/// An Ethernet/IPv4/TCP frame.
pub fn tcp(
    macs: ([u8; 6], [u8; 6]),
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1000, 64240);
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & SYN != 0 {
        b = b.syn();
        b = b
            .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
            .expect("MSS option");
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    if flags & ACK != 0 {
        b = b.ack(1);
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).expect("TCP frame");
    v
}

/// An Ethernet/IPv4/UDP frame.
pub fn udp(
    macs: ([u8; 6], [u8; 6]),
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src, dst, 64)
        .udp(sport, dport)
        .write(&mut v, payload)
        .expect("UDP frame");
    v
}

/// An ICMP echo request.
pub fn ping(macs: ([u8; 6], [u8; 6]), src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src, dst, 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut v, b"abcdefgh")
        .expect("ping");
    v
}

/// An ICMP error (`typ`, `code`, `rest`: the header's second word) quoting `quoted`
/// (an IPv4 packet, cut to its first 28 bytes as routers do).
pub fn icmp_error(
    macs: ([u8; 6], [u8; 6]),
    src: [u8; 4],
    dst: [u8; 4],
    typ: u8,
    code: u8,
    rest: [u8; 4],
    quoted: &[u8],
) -> Vec<u8> {
    let q = &quoted[..quoted.len().min(28)];
    let mut icmp = vec![typ, code, 0, 0];
    icmp.extend_from_slice(&rest);
    icmp.extend_from_slice(q);
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let total = (20 + icmp.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut f = macs.1.to_vec();
    f.extend_from_slice(&macs.0);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    f
}

/// The internet checksum of `b`.
pub fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An ARP request (op 1) or reply (op 2), padded to 60 bytes.
pub fn arp(op: u8, eth_dst: [u8; 6], sender: ([u8; 6], [u8; 4]), target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&eth_dst);
    f[6..12].copy_from_slice(&sender.0);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, op]);
    f[22..28].copy_from_slice(&sender.0);
    f[28..32].copy_from_slice(&sender.1);
    if op == 2 {
        f[32..38].copy_from_slice(&eth_dst);
    }
    f[38..42].copy_from_slice(&target);
    f
}

/// `frame` with an 802.1Q tag `vid`.
pub fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    v.extend_from_slice(&[0x81, 0x00]);
    v.extend_from_slice(&vid.to_be_bytes());
    v.extend_from_slice(&frame[12..]);
    v
}

/// A VXLAN packet from node `node` (0 or 1) to vxgw in `vni`, carrying `inner`.
pub fn vxlan(node: usize, vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(lab::NODE_MACS[node], lab::UL_MAC)
        .ipv4(lab::NODES[node], lab::VTEP_IP, 64)
        .udp(40000 + node as u16, 4789)
        .write(&mut v, &payload)
        .expect("VXLAN frame");
    v
}

/// The node a container is behind (the lab's FDB).
pub fn node_of(container: usize) -> usize {
    [0, 1, 0][container]
}

/// The client's TCP segment of the tracked connection.
pub fn client_tcp(flags: u8, payload: &[u8]) -> Vec<u8> {
    tcp(
        (lab::CLIENT_MAC, lab::EXT_MAC),
        (lab::CLIENT, lab::TCP_CLIENT_PORT),
        (lab::PUBLISHED, 80),
        flags,
        payload,
    )
}

/// The client's UDP query of the tracked flow.
pub fn client_udp() -> Vec<u8> {
    udp(
        (lab::CLIENT_MAC, lab::EXT_MAC),
        (lab::CLIENT, lab::UDP_CLIENT_PORT),
        (lab::PUBLISHED, 53),
        b"query",
    )
}

/// Where the tracked connections went: the web connection's backend (index into
/// CONTAINERS) and the address and port it sees the client as; the same for the
/// dns flow (always backend 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flows {
    /// Backend index, and (address, port) of the client as the backend sees it.
    pub tcp: (usize, ([u8; 4], u16)),
    /// (address, port) of the UDP flow's client as backend 0 sees it.
    pub udp: ([u8; 4], u16),
}

/// The backend's TCP segment of the tracked connection, as VXLAN from its node.
pub fn backend_tcp(f: Flows, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (i, to) = f.tcp;
    vxlan(
        node_of(i),
        4096,
        &tcp(
            (lab::CONTAINER_MACS[i], lab::UL_MAC),
            (lab::CONTAINERS[i], 80),
            to,
            flags,
            payload,
        ),
    )
}

/// The backend's reply to the tracked UDP flow, as VXLAN from node 1.
pub fn backend_udp(f: Flows) -> Vec<u8> {
    vxlan(
        node_of(0),
        4096,
        &udp(
            (lab::CONTAINER_MACS[0], lab::UL_MAC),
            (lab::CONTAINERS[0], 53),
            f.udp,
            b"answer",
        ),
    )
}

/// The general path on a burst of one frame.
fn one(
    snap: &Snapshot,
    t: &Tables,
    w: &WorkerState,
    now: u32,
    port: u16,
    frame: &[u8],
) -> (Decision, VecBuf) {
    let ctx = lab::ctx(snap, t, w, now);
    warm_burst(&ctx, port, std::iter::once(frame));
    w.mesh_cache.set_current(0);
    let mut b = VecBuf::new(frame);
    let d = ingress(&ctx, port, &mut b);
    (d, b)
}

/// The (address, port) the backend sees in a frame the mesh sent it (inner frame:
/// Ethernet, IPv4 without options, TCP/UDP).
fn seen(b: &VecBuf) -> Option<(usize, ([u8; 4], u16))> {
    let f = b.data();
    let src: [u8; 4] = f.get(26..30)?.try_into().ok()?;
    let dst: [u8; 4] = f.get(30..34)?.try_into().ok()?;
    let sport = u16::from_be_bytes(f.get(34..36)?.try_into().ok()?);
    let i = lab::CONTAINERS.iter().position(|c| *c == dst)?;
    Some((i, (src, sport)))
}

/// Runs the lab's client through the general path: a TCP connection to web:80
/// (SYN, the backend's SYN-ACK, ACK: established) and a UDP query to dns:53 with its
/// answer. Returns where they went (None when the lab's variant leaves them
/// unanswered, e.g. the backends' MACs unknown).
pub fn establish(snap: &Snapshot, t: &Tables, w: &WorkerState, now: u32) -> Option<Flows> {
    let run = |port: u16, f: Vec<u8>| one(snap, t, w, now, port, &f);
    let (_, syn) = run(lab::EXT, client_tcp(SYN, &[]));
    let tcp = seen(&syn);
    let (_, q) = run(lab::EXT, client_udp());
    let flows = Flows {
        tcp: tcp?,
        udp: seen(&q)?.1,
    };
    run(lab::UL, backend_tcp(flows, SYN | ACK, &[]));
    run(lab::EXT, client_tcp(ACK, &[]));
    run(lab::UL, backend_udp(flows));
    Some(flows)
}

/// The address the backends see the client's connections come from.
pub fn ingress_ip() -> Ipv4Addr {
    Ipv4Addr::from(lab::INGRESS)
}
