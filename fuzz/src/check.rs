//! The checks on every frame's outcome. Written against the bytes with their own
//! small parsers (not `vxgw::wire`), so that a bug there is not repeated here.
//!
//! - accounting: the fast path counts no drop; the general path counts none of its
//!   own beside its decision, but for the frag-needed answer (the frame dropped, an
//!   ICMP error sent back);
//! - every output is well-formed for its port: VXLAN on the underlay (outer
//!   Ethernet from vxgw to a node's MAC, IPv4 header and checksum, lengths, UDP to
//!   4789, the I flag, a configured VNI, within the MTU), an access frame of a mapped
//!   VLAN, IPv4 on the external port with its header checksum; vxgw's own ARP and
//!   ping replies as such; a routed packet's TCP/UDP/ICMP checksum right whenever it
//!   was right when it came in (NAT's incremental updates);
//! - isolation: a frame leaves in the VNI it came in (as the receiver classifies
//!   it: the outer VNI, or the access VLAN it is tagged with); frames of an unmapped
//!   VLAN never reach the overlay; the external side only talks to services' VNIs;
//! - the fast path ends a frame as the general path does ([`same`]).

use vxgw::pipeline::{Decision, DropReason};
use vxgw::tables::snapshot::Snapshot;

use crate::lab;
use crate::{FrameResult, Outcome, Role};

const ETH: usize = 14;

/// The VNI a frame came in (as the classification of its bytes says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InVni {
    /// Not an overlay frame (the external side, or not VXLAN).
    None,
    /// VNI.
    Vni(u32),
    /// An access frame of a VLAN no VNI has.
    Unmapped,
}

fn be16(f: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(f.get(at..at + 2)?.try_into().ok()?))
}

/// Folds a ones'-complement sum.
fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn sum(b: &[u8]) -> u32 {
    b.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

/// An IPv4 packet's parts: (header length, total length).
fn ipv4(p: &[u8]) -> Option<(usize, usize)> {
    let b0 = *p.first()?;
    let hl = usize::from(b0 & 0x0f) * 4;
    let total = usize::from(be16(p, 2)?);
    (b0 >> 4 == 4 && hl >= 20 && total >= hl && total <= p.len()).then_some((hl, total))
}

fn ipv4_header_ok(p: &[u8]) -> bool {
    ipv4(p).is_some_and(|(hl, _)| fold(sum(&p[..hl])) == 0xffff)
}

/// Whether the transport checksum of IPv4 packet `p` verifies: Some(true/false) for
/// an unfragmented TCP, UDP (with a checksum) or ICMP packet, None for anything else.
fn l4_ok(p: &[u8]) -> Option<bool> {
    let (hl, total) = ipv4(p)?;
    if be16(p, 6)? & 0x3fff != 0 {
        return None;
    }
    let l4 = &p[hl..total];
    let proto = p[9];
    let pseudo =
        || sum(&p[12..20]) + u32::from(proto) + u32::try_from(l4.len()).unwrap_or(u32::MAX);
    match proto {
        6 if l4.len() >= 20 => Some(fold(pseudo() + sum(l4)) == 0xffff),
        17 if l4.len() >= 8 && be16(l4, 6)? != 0 => Some(fold(pseudo() + sum(l4)) == 0xffff),
        1 if l4.len() >= 8 => Some(fold(sum(l4)) == 0xffff),
        _ => None,
    }
}

/// The outer VXLAN of a frame: (VNI, inner offset) when it is Ethernet/IPv4/UDP to
/// port 4789 with room for the VXLAN header.
fn vxlan_of(f: &[u8]) -> Option<(u32, usize)> {
    if be16(f, 12)? != 0x0800 {
        return None;
    }
    let p = f.get(ETH..)?;
    let (hl, _) = ipv4(p)?;
    if p[9] != 17 || be16(p, hl + 2)? != 4789 {
        return None;
    }
    let vx = ETH + hl + 8;
    let h = f.get(vx..vx + 8)?;
    Some((u32::from_be_bytes([0, h[4], h[5], h[6]]), vx + 8))
}

/// The VNI the access port's receiver puts a frame in: its tag's VLAN (or VLAN 0),
/// through the port's map.
fn access_vni(snap: &Snapshot, f: &[u8]) -> InVni {
    let Some(map) = snap.port(lab::ACC).and_then(|p| p.vlan_to_vni.as_deref()) else {
        return InVni::Unmapped;
    };
    let vid = match be16(f, 12) {
        Some(0x8100) => be16(f, 14).map_or(0, |t| t & 0x0fff),
        Some(0x88a8) => return InVni::Unmapped,
        _ => 0,
    };
    match map[usize::from(vid)].checked_sub(1) {
        Some(slot) => InVni::Vni(snap.vnis[usize::from(slot)].vni),
        None => InVni::Unmapped,
    }
}

fn in_vni(snap: &Snapshot, role: Role, f: &[u8]) -> InVni {
    match role {
        Role::Underlay => vxlan_of(f).map_or(InVni::None, |(v, _)| InVni::Vni(v)),
        Role::Access => access_vni(snap, f),
        Role::External => InVni::None,
    }
}

/// The IPv4 packet a frame carries (after VXLAN, after a tag), if any.
fn ip_packet(role: Role, f: &[u8]) -> Option<&[u8]> {
    let f = match (role, vxlan_of(f)) {
        (Role::Underlay, Some((_, inner))) => &f[inner..],
        _ => f,
    };
    let off = match be16(f, 12)? {
        0x0800 => ETH,
        0x8100 if be16(f, 16)? == 0x0800 => ETH + 4,
        _ => return None,
    };
    f.get(off..)
}

/// Checks one frame's outcome; panics with what is wrong.
pub fn frame(snap: &Snapshot, role: Role, input: &[u8], r: &FrameResult, announced: &[[u8; 6]]) {
    let fail = |what: String| -> ! {
        panic!(
            "{} frame {:02x?}: {what}\n  result: {r:?}",
            role.name(),
            input
        )
    };
    // Accounting.
    if r.outcomes.is_empty() {
        fail("no outcome".into());
    }
    if r.fast && r.pipeline_drops != 0 {
        fail("the fast path counted a drop".into());
    }
    if !r.fast && r.pipeline_drops != 0 {
        let frag_needed = r.pipeline_drops == 1
            && matches!(r.decision, Some(Decision::Send { port }) if port == lab::EXT);
        if !frag_needed {
            fail(format!(
                "the pipeline counted {} drops of its own beside its decision",
                r.pipeline_drops
            ));
        }
    }
    if let Some(Decision::Drop(_)) = r.decision {
        if r.outcomes.len() != 1 {
            fail("a dropped frame has outputs".into());
        }
    }
    let vin = in_vni(snap, role, input);
    let ip_in = ip_packet(role, input);
    // The transport checksum of what came in, as a routed packet carries it.
    let l4_in = ip_in.and_then(l4_ok);
    // Whether its IPv4 header checksum was right (the mesh updates it incrementally:
    // a wrong one stays wrong).
    let hdr_in = ip_in.is_none_or(ipv4_header_ok);
    for o in &r.outcomes {
        let Outcome::Out { port, bytes, vni } = o else {
            continue;
        };
        let f = &bytes[..];
        if f.len() < ETH {
            fail(format!("a {}-byte frame sent", f.len()));
        }
        let send = matches!(r.decision, Some(Decision::Send { .. }));
        // The VNI the output is in, as its receiver sees it.
        let vout = match *port {
            lab::UL => {
                if send {
                    local_reply(f, lab::UL_MAC, snap_vtep(snap), l4_in).unwrap_or_else(|e| fail(e));
                    None
                } else {
                    Some(vxlan_out(snap, f, announced).unwrap_or_else(|e| fail(e)))
                }
            }
            lab::ACC => match access_vni(snap, f) {
                InVni::Vni(v) => Some(v),
                _ => fail("sent on the access port in no mapped VLAN".into()),
            },
            lab::EXT => {
                if send {
                    let ext = snap.external.as_ref().expect("external");
                    local_reply(f, lab::EXT_MAC, ext.local_ips.clone(), l4_in)
                        .or_else(|_| frag_needed(f))
                        .unwrap_or_else(|e| fail(e));
                } else {
                    external_out(f, hdr_in).unwrap_or_else(|e| fail(e));
                }
                None
            }
            p => fail(format!("sent on port {p}, not one of the lab's")),
        };
        if let (Some(slot), Some(v)) = (vni, vout) {
            let want = snap.vnis[usize::from(*slot)].vni;
            if want != v {
                fail(format!("decided for VNI {want}, sent in VNI {v}"));
            }
        }
        // Isolation.
        let a_service_vni = |v: u32| {
            snap.services
                .iter()
                .any(|s| snap.vnis[usize::from(s.vni)].vni == v)
        };
        match (vin, vout) {
            (InVni::Vni(a), Some(b)) if a != b => {
                fail(format!("came in in VNI {a}, sent in VNI {b}"))
            }
            (InVni::Unmapped, Some(b)) => fail(format!(
                "came in in no VNI (unmapped VLAN), sent in VNI {b}"
            )),
            (InVni::None, Some(b)) if role == Role::External && !a_service_vni(b) => {
                fail(format!("a client's frame sent in VNI {b}, no service's"))
            }
            (InVni::Vni(a), None) if *port == lab::EXT && !a_service_vni(a) => {
                fail(format!("VNI {a}, no service's, sent to the external side"))
            }
            _ => {}
        }
        // A routed packet: one hop less; its checksums stay right (NAT).
        let routed = *port == lab::EXT || (role == Role::External && *port == lab::UL);
        if routed && !send {
            let role_out = if *port == lab::UL {
                Role::Underlay
            } else {
                Role::External
            };
            if let Some(p) = ip_packet(role_out, f) {
                if let (Some(a), Some(b)) = (ip_in.and_then(|p| p.get(8)), p.get(8)) {
                    if a.wrapping_sub(1) != *b || *a <= 1 {
                        fail(format!("routed with TTL {a} in, {b} out"));
                    }
                }
                if hdr_in && !ipv4_header_ok(p) {
                    fail("routed packet: bad IPv4 header checksum".into());
                }
                if l4_in == Some(true) && l4_ok(p) == Some(false) {
                    fail("routed packet: its transport checksum was right, now wrong".into());
                }
            }
        }
    }
}

fn snap_vtep(snap: &Snapshot) -> Vec<std::net::Ipv4Addr> {
    snap.underlay.iter().map(|u| u.vtep_ip).collect()
}

/// The MACs that ARP requests or replies among the underlay's `frames` gave for a
/// node's address: a node may change its MAC (a new NIC, a VRRP gateway), and vxgw
/// learns it from such ARP, so VXLAN may leave towards it.
pub fn announced_node_macs(role: Role, frames: &[&[u8]]) -> Vec<[u8; 6]> {
    if role != Role::Underlay {
        return Vec::new();
    }
    frames
        .iter()
        .filter_map(|f| {
            let a = f.get(..42)?;
            let op = u16::from_be_bytes([a[20], a[21]]);
            let arp = a[12..14] == [0x08, 0x06] && a[14..20] == [0, 1, 8, 0, 6, 4];
            let node = lab::NODES.iter().any(|n| a[28..32] == *n);
            (arp && (op == 1 || op == 2) && node && a[22] & 1 == 0)
                .then(|| a[22..28].try_into().ok())
                .flatten()
        })
        .collect()
}

/// VXLAN sent on the underlay: returns its VNI. Its outer destination is a node's
/// MAC (the lab's, or one `announced` by ARP in the input).
fn vxlan_out(snap: &Snapshot, f: &[u8], announced: &[[u8; 6]]) -> Result<u32, String> {
    let ul = snap.underlay.as_ref().ok_or("no underlay")?;
    if f[6..12] != lab::UL_MAC {
        return Err("outer source MAC is not the underlay port's".into());
    }
    if !lab::NODE_MACS
        .iter()
        .chain(announced)
        .any(|m| f[0..6] == *m)
    {
        return Err(format!(
            "outer destination MAC {:02x?} is no node's",
            &f[0..6]
        ));
    }
    if be16(f, 12) != Some(0x0800) {
        return Err("outer ethertype is not IPv4".into());
    }
    let p = &f[ETH..];
    if p.len() < 20 || p[0] != 0x45 {
        return Err("outer IPv4 header".into());
    }
    if !ipv4_header_ok(p) {
        return Err("outer IPv4 checksum".into());
    }
    let total = usize::from(be16(p, 2).unwrap_or(0));
    if total != p.len() {
        return Err(format!("outer IPv4 length {total}, packet {}", p.len()));
    }
    if total > usize::from(ul.mtu) {
        return Err(format!("outer IPv4 length {total} over the MTU {}", ul.mtu));
    }
    if p[12..16] != lab::VTEP_IP || !lab::NODES.iter().any(|n| p[16..20] == *n) {
        return Err("outer addresses".into());
    }
    if p[9] != 17 || be16(p, 6).unwrap_or(0) & 0x3fff != 0 {
        return Err("outer protocol or fragment".into());
    }
    let udp = &p[20..];
    if udp.len() < 16 + ETH {
        return Err("UDP/VXLAN/inner Ethernet truncated".into());
    }
    if be16(udp, 2) != Some(4789) || usize::from(be16(udp, 4).unwrap_or(0)) != udp.len() {
        return Err("UDP port or length".into());
    }
    let vx = &udp[8..16];
    if vx[0] != 0x08 || vx[1..4] != [0, 0, 0] || vx[7] != 0 {
        return Err("VXLAN flags or reserved bits".into());
    }
    let vni = u32::from_be_bytes([0, vx[4], vx[5], vx[6]]);
    if snap.vni_slot(vni).is_none() {
        return Err(format!("VXLAN in VNI {vni}, not configured"));
    }
    let inner = &udp[16..];
    if inner[6] & 1 != 0 {
        return Err("inner source MAC is a group address".into());
    }
    Ok(vni)
}

/// vxgw's own ARP or echo reply from `mac` for one of `ips`.
/// An echo reply's checksum must be right when the request's was (`l4_in`).
fn local_reply(
    f: &[u8],
    mac: [u8; 6],
    ips: Vec<std::net::Ipv4Addr>,
    l4_in: Option<bool>,
) -> Result<(), String> {
    if f[6..12] != mac {
        return Err("reply not from the port's MAC".into());
    }
    let ours = |a: &[u8]| ips.iter().any(|ip| ip.octets() == a);
    match be16(f, 12) {
        Some(0x0806) => {
            let a = f.get(ETH..ETH + 28).ok_or("ARP reply truncated")?;
            if a[0..8] != [0, 1, 8, 0, 6, 4, 0, 2] || a[8..14] != mac || !ours(&a[14..18]) {
                return Err("not an ARP reply from vxgw".into());
            }
            Ok(())
        }
        Some(0x0800) => {
            let p = &f[ETH..];
            let (hl, total) = ipv4(p).ok_or("echo reply: IPv4 header")?;
            if !ipv4_header_ok(p) || p[9] != 1 || !ours(&p[12..16]) {
                return Err("not an echo reply from vxgw".into());
            }
            let icmp = &p[hl..total];
            if icmp.first() != Some(&0) || (l4_in == Some(true) && fold(sum(icmp)) != 0xffff) {
                return Err("echo reply: ICMP type or checksum".into());
            }
            Ok(())
        }
        _ => Err("reply neither ARP nor IPv4".into()),
    }
}

/// The routing mesh's ICMP fragmentation-needed answer to a client.
fn frag_needed(f: &[u8]) -> Result<(), String> {
    external_out(f, true)?;
    let p = &f[ETH..];
    let (hl, total) = ipv4(p).ok_or("frag needed: IPv4")?;
    let icmp = &p[hl..total];
    if p[9] != 1 || icmp.len() < 8 + 20 || icmp[0] != 3 || icmp[1] != 4 {
        return Err("frag needed: not ICMP 3/4 with the quoted header".into());
    }
    if fold(sum(icmp)) != 0xffff {
        return Err("frag needed: ICMP checksum".into());
    }
    Ok(())
}

/// An IPv4 packet routed to the external side; its header checksum right if it was
/// when it came in (`hdr_in`).
fn external_out(f: &[u8], hdr_in: bool) -> Result<(), String> {
    if f[6..12] != lab::EXT_MAC {
        return Err("not from the external port's MAC".into());
    }
    if be16(f, 12) != Some(0x0800) {
        return Err("not IPv4 on the external side".into());
    }
    let p = &f[ETH..];
    let (_, total) = ipv4(p).ok_or("IPv4 header or length")?;
    if hdr_in && !ipv4_header_ok(p) {
        return Err("IPv4 header checksum".into());
    }
    if p[8] == 0 {
        return Err("sent with TTL 0".into());
    }
    if total > p.len() {
        return Err(format!("IPv4 length {total}, packet {}", p.len()));
    }
    Ok(())
}

/// The fast path's promise: a frame ends the same way without it (`s`: the lab
/// that took every frame the general way).
pub fn same(i: usize, input: &[u8], m: &FrameResult, s: &FrameResult) {
    let strip = |r: &FrameResult| -> Vec<Outcome> {
        r.outcomes
            .iter()
            .map(|o| match o {
                Outcome::Out { port, bytes, .. } => Outcome::Out {
                    port: *port,
                    bytes: bytes.clone(),
                    vni: None,
                },
                o => o.clone(),
            })
            .collect()
    };
    let (a, b) = (strip(m), strip(s));
    if a != b {
        panic!(
            "frame {i} {:02x?} ends differently with the fast path ({}):\n  with: {a:?}\n  without: {b:?}",
            input,
            if m.fast { "taken" } else { "declined" }
        );
    }
    let _ = DropReason::Truncated;
}
