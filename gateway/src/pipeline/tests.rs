//! Pipeline tests on byte buffers: decap, access ingress, bridging, egress, local
//! replies, drops by name; and a property test that arbitrary bytes on any port never
//! panic and every drop is counted.

use std::net::Ipv4Addr;

use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
use proptest::prelude::*;

use super::egress::{self, EncapResult};
use super::EncapCache;
use super::*;
use crate::control::config::Config;
use crate::tables::fdb::{Fdb, FdbDest, FdbFilter};
use crate::tables::fdb_cache::FdbCache;
use crate::tables::neighbours::Neighbours;
use crate::tables::snapshot::{ResolvedPort, Snapshot};
use crate::wire::MacAddr;

pub(super) const UL: u16 = 0;
pub(super) const ACC: u16 = 1;
pub(super) const UL_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
pub(super) const ACC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
pub(super) const VTEP_IP: [u8; 4] = [172, 30, 0, 1];
pub(super) const NODE1: [u8; 4] = [172, 30, 0, 11];
pub(super) const NODE2: [u8; 4] = [172, 30, 0, 12];
pub(super) const NODE1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x11, 0x11];
pub(super) const C1: [u8; 6] = [0x02, 0x42, 0x0a, 0xff, 0x00, 0x0b];
pub(super) const C3: [u8; 6] = [0x02, 0x42, 0x0a, 0xff, 0x00, 0x0d];
pub(super) const SRV: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x64];

const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"

[[port]]
name = "ul"
roles = ["underlay"]

[[port]]
name = "acc"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[vtep]]
ip = "172.30.0.12"

[[vni]]
id = 4096
flood = ["172.30.0.11", "172.30.0.12"]
access = [{ port = "acc", vlan = 0 }, { port = "acc", vlan = 100 }]
gateway_ip = "10.255.0.1"
arp = [{ ip = "10.255.0.13", mac = "02:42:0a:ff:00:0d" }]

[[vni]]
id = 5000
access = [{ port = "acc", vlan = 200 }]
"#;

pub(super) struct Lab {
    pub(super) snap: Snapshot,
    pub(super) fdb: Fdb,
    pub(super) neigh: Neighbours,
    pub(super) counters: PipelineCounters,
    pub(super) cache: LearnCache,
    pub(super) fdb_cache: FdbCache,
    pub(super) encap_cache: EncapCache,
}

impl Lab {
    pub(super) fn new() -> Lab {
        let cfg = Config::parse(CONFIG).expect("config");
        let snap = Snapshot::build(
            &cfg,
            &|n| match n {
                "ul" => Some(ResolvedPort {
                    id: UL,
                    mac: MacAddr(UL_MAC),
                    mtu: 1500,
                }),
                "acc" => Some(ResolvedPort {
                    id: ACC,
                    mac: MacAddr(ACC_MAC),
                    mtu: 1500,
                }),
                _ => None,
            },
            1,
        )
        .expect("snapshot");
        Lab {
            snap,
            fdb: Fdb::new(1024, 64),
            neigh: Neighbours::new(64),
            counters: PipelineCounters::default(),
            cache: LearnCache::default(),
            fdb_cache: FdbCache::default(),
            encap_cache: EncapCache::default(),
        }
    }

    pub(super) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            snap: &self.snap,
            fdb: &self.fdb,
            neigh: &self.neigh,
            now: 10,
            counters: &self.counters,
            learn_cache: &self.cache,
            fdb_cache: &self.fdb_cache,
            encap_cache: &self.encap_cache,
            encap_epoch: self.encap_cache.sync(
                self.fdb.changes(),
                self.snap.generation,
                self.neigh.changes(),
            ),
            burst: Default::default(),
            trace: None,
            mesh: None,
        }
    }

    /// What the worker does with a burst of one frame: warm the tables, then decide.
    pub(super) fn ingress(&self, port: u16, frame: &[u8]) -> (Decision, VecBuf) {
        let mut b = VecBuf::new(frame);
        self.cache.sync(self.fdb.changes(), self.snap.generation);
        warm_burst(&self.ctx(), port, std::iter::once(frame));
        let d = ingress(&self.ctx(), port, &mut b);
        (d, b)
    }
}

pub(super) fn inner_udp(src: [u8; 6], dst: [u8; 6], sport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(src, dst)
        .ipv4([10, 255, 0, 100], [10, 255, 0, 11], 64)
        .udp(sport, 80)
        .write(&mut v, &[0xab; 40])
        .unwrap();
    v
}

pub(super) fn vxlan_from(src_ip: [u8; 4], vni: u32, flags: u8, inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![flags, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(NODE1_MAC, UL_MAC)
        .ipv4(src_ip, VTEP_IP, 64)
        .udp(40000, 4789)
        .write(&mut v, &payload)
        .unwrap();
    v
}

pub(super) fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    v.extend_from_slice(&[0x81, 0x00]);
    v.extend_from_slice(&vid.to_be_bytes());
    v.extend_from_slice(&frame[12..]);
    v
}

pub(super) fn arp_request(sender_mac: [u8; 6], sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&sender_mac);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&sender_mac);
    f[28..32].copy_from_slice(&sender_ip);
    f[38..42].copy_from_slice(&target_ip);
    f
}

#[test]
fn decap_learns_and_floods_unknown_to_access_only() {
    let lab = Lab::new();
    let inner = inner_udp(C1, SRV, 1);
    let (d, b) = lab.ingress(UL, &vxlan_from(NODE1, 4096, 0x08, &inner));
    assert_eq!(
        d,
        Decision::Flood {
            vni: 0,
            from: Origin::Vtep(0)
        }
    );
    assert_eq!(b.data(), &inner[..], "outer headers stripped, inner intact");
    assert_eq!(
        lab.fdb.lookup(4096, MacAddr(C1)),
        Some(FdbDest::Vtep(Ipv4Addr::from(NODE1)))
    );
    assert_eq!(lab.counters.events(Event::Decapsulated), 1);
    assert_eq!(lab.counters.events(Event::FdbLearned), 1);
}

/// A static MAC claimed from another VTEP is not moved, and the refusal is the
/// worker's count (`fdb_static_kept`), not the FDB's: a spoofer makes it per packet.
#[test]
fn a_static_mac_seen_elsewhere_is_kept_and_counted_by_the_worker() {
    let lab = Lab::new();
    lab.fdb
        .add_static(4096, MacAddr(C1), FdbDest::Vtep(Ipv4Addr::from(NODE1)))
        .unwrap();
    let before = lab.fdb.stats();
    // From its own VTEP: nothing to count; from the access port: kept, counted.
    lab.ingress(UL, &vxlan_from(NODE1, 4096, 0x08, &inner_udp(C1, SRV, 1)));
    assert_eq!(lab.counters.events(Event::FdbStaticKept), 0);
    lab.ingress(ACC, &inner_udp(C1, SRV, 2));
    assert_eq!(lab.counters.events(Event::FdbStaticKept), 1);
    assert_eq!(
        lab.fdb.lookup(4096, MacAddr(C1)),
        Some(FdbDest::Vtep(Ipv4Addr::from(NODE1)))
    );
    assert_eq!(lab.fdb.stats(), before, "the FDB counts no refusal");
}

/// A VNI's frames are untagged. A decapsulated frame that still carries a tag (here
/// VLAN 200, VNI 5000's on the access port) would leave the access port in that
/// VLAN, in another VNI; it is dropped and its source not learned. The same for an
/// access frame with a second tag. (Found by fuzzing: the fuzz crate's regression
/// `underlay/inner_tagged_into_other_vlan`.)
#[test]
fn a_frame_still_tagged_inside_its_vni_is_dropped() {
    let lab = Lab::new();
    lab.ingress(ACC, &inner_udp(SRV, C1, 1));
    for tpid in [[0x81, 0x00], [0x88, 0xa8]] {
        let mut inner = tagged(&inner_udp(C1, SRV, 2), 200);
        inner[12..14].copy_from_slice(&tpid);
        let (d, _) = lab.ingress(UL, &vxlan_from(NODE1, 4096, 0x08, &inner));
        assert_eq!(d, Decision::Drop(DropReason::UnsupportedTag), "{tpid:x?}");
        assert_eq!(lab.fdb.lookup(4096, MacAddr(C1)), None, "not learned");
        let twice = tagged(&tagged(&inner_udp(SRV, C1, 3), 200), 100);
        let (d, _) = lab.ingress(ACC, &twice);
        assert_eq!(d, Decision::Drop(DropReason::UnsupportedTag));
    }
}

#[test]
fn a_host_is_learned_again_right_after_a_flush() {
    let lab = Lab::new();
    let frame = vxlan_from(NODE1, 4096, 0x08, &inner_udp(C1, SRV, 1));
    lab.ingress(UL, &frame);
    let learned = Some(FdbDest::Vtep(Ipv4Addr::from(NODE1)));
    assert_eq!(lab.fdb.lookup(4096, MacAddr(C1)), learned);
    assert_eq!(lab.fdb.flush(&FdbFilter::all()), 1);
    // The same second: the worker's learn cache remembers C1, but the FDB changed.
    lab.ingress(UL, &frame);
    assert_eq!(lab.fdb.lookup(4096, MacAddr(C1)), learned);
    assert_eq!(lab.counters.events(Event::FdbLearned), 2);
    // Without a change in between, a repeated learn in the same second is skipped.
    lab.ingress(UL, &frame);
    assert_eq!(lab.counters.events(Event::FdbLearned), 2);
}

#[test]
fn decap_to_known_access_mac_forwards_with_its_vlan() {
    let lab = Lab::new();
    // SRV learned on the access port, VLAN 100.
    let (d, _) = lab.ingress(ACC, &tagged(&inner_udp(SRV, C1, 2), 100));
    assert_eq!(
        d,
        Decision::Flood {
            vni: 0,
            from: Origin::Access {
                port: ACC,
                vlan: 100
            }
        }
    );
    let (d, _) = lab.ingress(UL, &vxlan_from(NODE1, 4096, 0x08, &inner_udp(C1, SRV, 3)));
    assert_eq!(
        d,
        Decision::Forward {
            vni: 0,
            to: Target::Access {
                port: ACC,
                vlan: 100
            }
        }
    );
}

/// Bytes after the outer packet (an Ethernet trailer) are not part of the inner
/// frame: the general path trims them (the fast path leaves such frames to it).
#[test]
fn decap_trims_bytes_after_the_outer_packet() {
    let lab = Lab::new();
    lab.ingress(ACC, &tagged(&inner_udp(SRV, C1, 2), 100));
    let inner = inner_udp(C1, SRV, 3);
    let mut frame = vxlan_from(NODE1, 4096, 0x08, &inner);
    frame.extend_from_slice(&[0xee; 6]);
    let (d, b) = lab.ingress(UL, &frame);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(b.data(), &inner[..], "the inner frame, without the trailer");
}

#[test]
fn split_horizon_never_sends_overlay_frames_back_to_vteps() {
    let lab = Lab::new();
    // C3 is behind node2.
    lab.ingress(UL, &vxlan_from(NODE2, 4096, 0x08, &inner_udp(C3, SRV, 1)));
    // A frame from node1 to C3 must not be bounced to node2.
    let (d, _) = lab.ingress(UL, &vxlan_from(NODE1, 4096, 0x08, &inner_udp(C1, C3, 1)));
    assert_eq!(d, Decision::Drop(DropReason::SplitHorizon));
    assert_eq!(
        lab.counters.drops(DropReason::SplitHorizon),
        0,
        "ingress decides; the worker counts"
    );
}

#[test]
fn decap_drops_by_name() {
    let lab = Lab::new();
    let inner = inner_udp(C1, SRV, 1);
    let cases = [
        (
            vxlan_from([172, 30, 0, 99], 4096, 0x08, &inner),
            DropReason::UnknownVtep,
        ),
        (
            vxlan_from(NODE1, 4097, 0x08, &inner),
            DropReason::UnknownVni,
        ),
        (
            vxlan_from(NODE1, 4096, 0x00, &inner),
            DropReason::VxlanNoIFlag,
        ),
        (
            vxlan_from(NODE1, 4096, 0x08, &inner[..10]),
            DropReason::MalformedVxlan,
        ),
    ];
    for (pkt, want) in cases {
        assert_eq!(lab.ingress(UL, &pkt).0, Decision::Drop(want));
    }
    // Outer fragment.
    let mut frag = vxlan_from(NODE1, 4096, 0x08, &inner);
    frag[20] = 0x20; // MF
    let sum = crate::wire::checksum::checksum(&{
        let mut h = frag[14..34].to_vec();
        h[10] = 0;
        h[11] = 0;
        h
    });
    frag[24..26].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(
        lab.ingress(UL, &frag).0,
        Decision::Drop(DropReason::OuterFragment)
    );
    // Bad outer IP checksum.
    let mut bad = vxlan_from(NODE1, 4096, 0x08, &inner);
    bad[24] ^= 0xff;
    assert_eq!(
        lab.ingress(UL, &bad).0,
        Decision::Drop(DropReason::MalformedIpv4)
    );
    // Not our VTEP address: not underlay traffic, and the port has no access role.
    let mut other = vxlan_from(NODE1, 4096, 0x08, &inner);
    other[33] = 2;
    assert_eq!(
        lab.ingress(UL, &other).0,
        Decision::Drop(DropReason::NotForUs)
    );
    assert_eq!(
        lab.ingress(UL, &[0u8; 10]).0,
        Decision::Drop(DropReason::Truncated)
    );
    assert_eq!(
        lab.ingress(7, &inner).0,
        Decision::Drop(DropReason::UnknownPort)
    );
}

#[test]
fn access_ingress_maps_vlans_and_pops_tags() {
    let lab = Lab::new();
    let f = inner_udp(SRV, C1, 5);
    let (d, b) = lab.ingress(ACC, &tagged(&f, 200));
    assert_eq!(
        d,
        Decision::Flood {
            vni: 1,
            from: Origin::Access {
                port: ACC,
                vlan: 200
            }
        }
    );
    assert_eq!(b.data(), &f[..], "tag popped");
    assert_eq!(
        lab.fdb.lookup(5000, MacAddr(SRV)),
        Some(FdbDest::Access {
            port: ACC,
            vlan: 200
        })
    );
    assert_eq!(
        lab.fdb.lookup(4096, MacAddr(SRV)),
        None,
        "VNIs are separate"
    );
    assert_eq!(
        lab.ingress(ACC, &tagged(&f, 300)).0,
        Decision::Drop(DropReason::UnknownVlan)
    );
    // Priority-tagged (VID 0) is the untagged segment.
    let (d, _) = lab.ingress(ACC, &tagged(&f, 0x6000));
    assert_eq!(
        d,
        Decision::Flood {
            vni: 0,
            from: Origin::Access { port: ACC, vlan: 0 }
        }
    );
    // Known destination behind a VTEP.
    lab.ingress(UL, &vxlan_from(NODE1, 4096, 0x08, &inner_udp(C1, SRV, 1)));
    assert_eq!(
        lab.ingress(ACC, &f).0,
        Decision::Forward {
            vni: 0,
            to: Target::Vtep(0)
        }
    );
    // Same segment: filtered (and C3 is learned on the untagged segment).
    let (d, _) = lab.ingress(ACC, &inner_udp(C3, SRV, 1));
    assert_eq!(d, Decision::Drop(DropReason::SameSegment));
    assert_eq!(
        lab.ingress(ACC, &inner_udp(SRV, C3, 1)).0,
        Decision::Drop(DropReason::SameSegment)
    );
    // Multicast source.
    let mut m = f.clone();
    m[6] = 0x01;
    assert_eq!(
        lab.ingress(ACC, &m).0,
        Decision::Drop(DropReason::InvalidSourceMac)
    );
    assert_eq!(
        lab.ingress(ACC, &tagged(&f, 5)[..16]).0,
        Decision::Drop(DropReason::Truncated)
    );
}

#[test]
fn encap_writes_well_formed_vxlan() {
    let lab = Lab::new();
    lab.neigh
        .learn(Ipv4Addr::from(NODE2), MacAddr(NODE1_MAC), 0);
    let inner = inner_udp(SRV, C3, 777);
    let mut b = VecBuf::new(&inner);
    let h = inner_flow_hash(b.data());
    let r = egress::to_vtep(&lab.ctx(), &mut b, 4096, 1, h);
    assert_eq!(r, EncapResult::Ready { port: UL });
    let out = b.data();
    assert_eq!(out.len(), inner.len() + 50);
    let p = SlicedPacket::from_ethernet(out).expect("etherparse parses it");
    let eth = p.link.as_ref().unwrap().to_header().unwrap();
    let eth = eth.ethernet2().unwrap();
    assert_eq!(eth.source, UL_MAC);
    assert_eq!(eth.destination, NODE1_MAC);
    let ip = match p.net.as_ref().unwrap() {
        etherparse::NetSlice::Ipv4(ip) => ip.header().to_header(),
        _ => panic!("not ipv4"),
    };
    assert_eq!(ip.source, VTEP_IP);
    assert_eq!(ip.destination, NODE2);
    assert_eq!(ip.time_to_live, 64);
    assert!(ip.dont_fragment);
    assert_eq!(
        ip.header_checksum,
        ip.calc_header_checksum(),
        "outer IPv4 checksum"
    );
    assert_eq!(ip.total_len as usize, out.len() - 14);
    let TransportSlice::Udp(udp) = p.transport.unwrap() else {
        panic!("not udp")
    };
    assert_eq!(udp.destination_port(), 4789);
    assert!(udp.source_port() >= 49152);
    assert_eq!(udp.checksum(), 0);
    assert_eq!(udp.length() as usize, out.len() - 34);
    assert_eq!(
        &out[42..50],
        &[0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0x00],
        "I flag, VNI 4096"
    );
    assert_eq!(&out[50..], &inner[..]);
    // Same flow, same source port; the template is per VTEP.
    let mut b2 = VecBuf::new(&inner);
    egress::to_vtep(&lab.ctx(), &mut b2, 4096, 1, h);
    assert_eq!(b2.data(), out);
}

#[test]
fn encap_waits_for_the_neighbour_and_respects_mtu() {
    let lab = Lab::new();
    let mut b = VecBuf::new(&inner_udp(SRV, C3, 1));
    assert_eq!(
        egress::to_vtep(&lab.ctx(), &mut b, 4096, 0, 1),
        EncapResult::NeedNeighbour {
            next_hop: Ipv4Addr::from(NODE1)
        }
    );
    assert_eq!(
        b.data(),
        &inner_udp(SRV, C3, 1)[..],
        "untouched while waiting"
    );
    lab.neigh
        .learn(Ipv4Addr::from(NODE1), MacAddr(NODE1_MAC), 0);
    // A 1465-byte inner frame makes a 1501-byte outer IP packet: one too many.
    let mut big = inner_udp(SRV, C3, 1);
    big.resize(1465, 0);
    let mut b = VecBuf::new(&big);
    assert_eq!(
        egress::to_vtep(&lab.ctx(), &mut b, 4096, 0, 1),
        EncapResult::Drop(DropReason::MtuExceeded)
    );
    big.truncate(1464);
    let mut b = VecBuf::new(&big);
    assert_eq!(
        egress::to_vtep(&lab.ctx(), &mut b, 4096, 0, 1),
        EncapResult::Ready { port: UL }
    );
}

#[test]
fn access_egress_pushes_the_tag() {
    let lab = Lab::new();
    let f = inner_udp(C1, SRV, 1);
    let mut b = VecBuf::new(&f);
    egress::to_access(&lab.ctx(), &mut b, 0, ACC, 100).unwrap();
    assert_eq!(b.data(), &tagged(&f, 100)[..]);
    let mut b = VecBuf::new(&f);
    egress::to_access(&lab.ctx(), &mut b, 0, ACC, 0).unwrap();
    assert_eq!(b.data(), &f[..]);
}

/// Issue 24: VNI isolation holds in the data plane even when the FDB is corrupted
/// (the validator refuses such entries; here they are forced into the table). A
/// frame of VNI 4096 to a MAC the FDB has on VNI 5000's (port, VLAN), on a VLAN no
/// VNI has, on one beyond 4094 (5000 would leave as VID 904) or on a port that does
/// not exist is dropped as `vni_isolation` by the egress, and the fast path leaves it
/// to the general path. VNI 5000's own member still works.
#[test]
fn vni_isolation_holds_with_a_corrupted_fdb_entry() {
    let lab = Lab::new();
    let targets = [
        (ACC, 200),
        (ACC, 300),
        (ACC, 5000),
        (ACC, 4095),
        (7, 0),
        (UL, 0),
    ];
    for (n, &(port, vlan)) in targets.iter().enumerate() {
        let dst = [0x02, 0x42, 0x0a, 0xff, 0x01, n as u8];
        lab.fdb
            .add_static(4096, MacAddr(dst), FdbDest::Access { port, vlan })
            .unwrap();
        let frame = vxlan_from(NODE1, 4096, 0x08, &inner_udp(C1, dst, 3));
        let ctx = lab.ctx();
        let mut b = VecBuf::new(&frame);
        let fp = fast_path::FastPort::of(&lab.snap, UL);
        assert_eq!(
            fast_path::forward(&ctx, fp, UL, &mut b),
            None,
            "the fast path sent VNI 4096's frame to port {port} vlan {vlan}"
        );
        assert_eq!(b.data(), &frame[..], "the fast path left it untouched");
        let (d, mut b) = lab.ingress(UL, &frame);
        assert_eq!(
            d,
            Decision::Forward {
                vni: 0,
                to: Target::Access { port, vlan }
            }
        );
        let before = b.data().to_vec();
        assert_eq!(
            egress::to_access(&lab.ctx(), &mut b, 0, port, vlan),
            Err(DropReason::VniIsolation),
            "port {port} vlan {vlan}"
        );
        assert_eq!(b.data(), &before[..], "nothing was written");
    }
    assert_eq!(DropReason::VniIsolation.name(), "vni_isolation");
    // The member of VNI 5000 (slot 1) is fine for VNI 5000, and VNI 4096's own are.
    let f = inner_udp(C1, SRV, 1);
    let mut b = VecBuf::new(&f);
    egress::to_access(&lab.ctx(), &mut b, 1, ACC, 200).unwrap();
    assert_eq!(b.data(), &tagged(&f, 200)[..]);
    assert!(egress::is_member(&lab.snap, 0, ACC, 100));
    assert!(!egress::is_member(&lab.snap, 1, ACC, 100));
}

#[test]
fn underlay_arp_is_answered_and_learned() {
    let lab = Lab::new();
    let (d, b) = lab.ingress(UL, &arp_request(NODE1_MAC, NODE1, VTEP_IP));
    assert_eq!(d, Decision::Send { port: UL });
    let r = b.data();
    assert_eq!(&r[0..6], &NODE1_MAC);
    assert_eq!(&r[6..12], &UL_MAC);
    assert_eq!(&r[20..22], &[0, 2], "ARP reply");
    assert_eq!(&r[22..28], &UL_MAC);
    assert_eq!(&r[28..32], &VTEP_IP);
    assert_eq!(&r[32..38], &NODE1_MAC);
    assert_eq!(
        lab.neigh.lookup(Ipv4Addr::from(NODE1)),
        Some(MacAddr(NODE1_MAC))
    );
    // Someone else's request: not answered, but counted.
    let (d, _) = lab.ingress(UL, &arp_request(NODE1_MAC, NODE1, NODE2));
    assert_eq!(d, Decision::Drop(DropReason::ArpIgnored));
}

#[test]
fn arp_suppression_and_gateway_address() {
    let lab = Lab::new();
    // Suppressed: 10.255.0.13 is known to the control plane.
    let (d, b) = lab.ingress(ACC, &arp_request(SRV, [10, 255, 0, 100], [10, 255, 0, 13]));
    assert_eq!(
        d,
        Decision::Forward {
            vni: 0,
            to: Target::Access { port: ACC, vlan: 0 }
        }
    );
    assert_eq!(&b.data()[22..28], &C3, "answered with the entry's MAC");
    assert_eq!(lab.counters.events(Event::ArpSuppressed), 1);
    // Not known: flooded.
    let (d, _) = lab.ingress(ACC, &arp_request(SRV, [10, 255, 0, 100], [10, 255, 0, 12]));
    assert!(matches!(d, Decision::Flood { .. }));
    // The gateway's own overlay address, asked from a VTEP: answered back to it.
    let (d, b) = lab.ingress(
        UL,
        &vxlan_from(
            NODE1,
            4096,
            0x08,
            &arp_request(C1, [10, 255, 0, 11], [10, 255, 0, 1]),
        ),
    );
    assert_eq!(
        d,
        Decision::Forward {
            vni: 0,
            to: Target::Vtep(0)
        }
    );
    assert_eq!(&b.data()[22..28], &UL_MAC);
    // Ping the gateway address.
    let mut ping = Vec::new();
    PacketBuilder::ethernet2(C1, UL_MAC)
        .ipv4([10, 255, 0, 11], [10, 255, 0, 1], 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut ping, b"hello")
        .unwrap();
    let (d, b) = lab.ingress(UL, &vxlan_from(NODE1, 4096, 0x08, &ping));
    assert_eq!(
        d,
        Decision::Forward {
            vni: 0,
            to: Target::Vtep(0)
        }
    );
    let p = SlicedPacket::from_ethernet(b.data()).unwrap();
    let etherparse::NetSlice::Ipv4(ip) = p.net.unwrap() else {
        panic!()
    };
    assert_eq!(ip.header().source(), [10, 255, 0, 1]);
    assert_eq!(ip.header().destination(), [10, 255, 0, 11]);
    let TransportSlice::Icmpv4(icmp) = p.transport.unwrap() else {
        panic!()
    };
    assert!(matches!(
        icmp.icmp_type(),
        etherparse::Icmpv4Type::EchoReply(_)
    ));
}

#[test]
fn echo_to_vtep_address_is_answered() {
    let lab = Lab::new();
    let mut ping = Vec::new();
    PacketBuilder::ethernet2(NODE1_MAC, UL_MAC)
        .ipv4(NODE1, VTEP_IP, 64)
        .icmpv4_echo_request(1, 2)
        .write(&mut ping, b"abcdefgh")
        .unwrap();
    let (d, b) = lab.ingress(UL, &ping);
    assert_eq!(d, Decision::Send { port: UL });
    let p = SlicedPacket::from_ethernet(b.data()).unwrap();
    let TransportSlice::Icmpv4(icmp) = p.transport.unwrap() else {
        panic!()
    };
    assert!(matches!(
        icmp.icmp_type(),
        etherparse::Icmpv4Type::EchoReply(_)
    ));
}

#[test]
fn arp_request_builder() {
    let mut out = [0u8; 64];
    let n = build_arp_request(
        &mut out,
        MacAddr(UL_MAC),
        Ipv4Addr::from(VTEP_IP),
        Ipv4Addr::from(NODE1),
    );
    assert_eq!(n, 60);
    let lab = Lab::new();
    // A second gateway receiving it would see a request for NODE1: not for it.
    assert_eq!(
        lab.ingress(UL, &out[..n]).0,
        Decision::Drop(DropReason::ArpIgnored)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Any bytes, on any port, after any prefix: no panic, buffer bounds respected,
    /// and the decision is one of the defined ones.
    #[test]
    fn arbitrary_bytes_never_panic(port in 0u16..3, prefix in 0usize..4, body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let lab = Lab::new();
        // Start from plausible headers so the deep paths are reached too.
        let seeds = [
            vxlan_from(NODE1, 4096, 0x08, &inner_udp(C1, SRV, 1)),
            tagged(&inner_udp(SRV, C1, 1), 100),
            arp_request(NODE1_MAC, NODE1, VTEP_IP),
            Vec::new(),
        ];
        let mut f = seeds[prefix].clone();
        let cut = body.len().min(f.len());
        f.truncate(f.len() - cut / 2);
        f.extend_from_slice(&body);
        let (d, b) = lab.ingress(port, &f);
        match d {
            Decision::Forward { vni, to: Target::Vtep(i) } => {
                prop_assert!((vni as usize) < lab.snap.vnis.len());
                prop_assert!((i as usize) < lab.snap.vteps.len());
                let mut b = b;
                let h = inner_flow_hash(b.data());
                let _ = egress::to_vtep(&lab.ctx(), &mut b, 4096, i, h);
            }
            Decision::Forward { vni, to: Target::Access { port, vlan } } => {
                let mut b = b;
                prop_assert!(egress::to_access(&lab.ctx(), &mut b, vni, port, vlan).is_ok());
            }
            _ => {}
        }
    }
}

#[test]
fn the_learn_cache_remembers_interleaved_sources_within_a_second() {
    let c = LearnCache::default();
    let macs: Vec<u64> = (0..8u64).map(|i| 0x0242_0aff_0000 + i * 0x1_0001).collect();
    for &m in &macs {
        assert!(!c.seen(3, m, 7, 10), "first learn of {m:x}");
    }
    // Interleaved again in the same second: remembered, unless two of them share a
    // slot (then the later one evicted the earlier, which is learned again).
    let hits = macs.iter().filter(|&&m| c.seen(3, m, 7, 10)).count();
    assert!(hits >= 6, "only {hits} of 8 remembered");
    // Another destination, VNI slot or second is a new learn.
    assert!(!c.seen(3, macs[0], 8, 10));
    assert!(!c.seen(4, macs[1], 7, 10));
    assert!(!c.seen(3, macs[2], 7, 11));
    // A run from one host (its learn kept as the last one) is remembered, until the
    // FDB changes, or the configuration (a slot may be another VNI's then).
    assert!(c.seen(3, macs[2], 7, 11));
    c.sync(1, 0);
    assert!(!c.seen(3, macs[2], 7, 11), "forgotten when the FDB changed");
    assert!(c.seen(3, macs[2], 7, 11));
    c.sync(1, 1);
    assert!(
        !c.seen(3, macs[2], 7, 11),
        "forgotten when the configuration changed"
    );
    assert!(c.seen(3, macs[2], 7, 11));
}

/// What the worker does with a forwarding decision for `b`: the egress to a VTEP or
/// an access port, and the port it sends on (`None`: any other decision, or an
/// egress that does not send). The fast-path tests compare against it.
pub(super) fn forward_egress(ctx: &Ctx, d: Decision, b: &mut VecBuf) -> Option<u16> {
    match d {
        Decision::Forward {
            vni,
            to: Target::Vtep(i),
        } => {
            let hash = inner_flow_hash(b.data());
            let vni = ctx.snap.vnis[vni as usize].vni;
            match egress::to_vtep(ctx, b, vni, i, hash) {
                EncapResult::Ready { port } => Some(port),
                _ => None,
            }
        }
        Decision::Forward {
            vni,
            to: Target::Access { port, vlan },
        } => egress::to_access(ctx, b, vni, port, vlan)
            .ok()
            .map(|()| port),
        _ => None,
    }
}

/// A frame mutated as the property tests do: bytes overwritten at `edits` (indices
/// into the frame as it is), then the length changed by `resize`.
pub(super) fn mutate(f: &mut Vec<u8>, edits: Vec<(prop::sample::Index, u8)>, resize: i32) {
    for (at, byte) in edits {
        let i = at.index(f.len());
        f[i] = byte;
    }
    let len = (f.len() as i32 + resize).max(0) as usize;
    f.resize(len, 0);
}
