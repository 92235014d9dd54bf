//! Routing-mesh pipeline tests on byte buffers: a client's SYN to a published port
//! becomes a DNAT+SNAT'ed frame to the backend's MAC and VTEP; the backend's
//! SYN-ACK (as VXLAN) becomes the un-NATed reply to the client; preserve mode;
//! unknown non-SYN, RST, no service, MSS clamp, frag needed, ICMP translation,
//! ARP for the ingress endpoint and the external address. Checksums are verified
//! with etherparse.

use std::cell::RefCell;
use std::net::Ipv4Addr;

use etherparse::{
    Icmpv4Type, NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice,
};

use super::EncapCache;
use super::*;
use crate::control::config::Config;
use crate::tables::conntrack::{Conntrack, CtFilter, CtState, Timeouts};
use crate::tables::fdb::{Fdb, FdbDest};
use crate::tables::fdb_cache::FdbCache;
use crate::tables::neighbours::Neighbours;
use crate::tables::overlay_neighbours::OverlayNeighbours;
use crate::tables::snapshot::{ResolvedPort, Snapshot};
use crate::tables::snat_source::SnatSource;
use crate::wire::ipv4::protocol;
use crate::wire::MacAddr;

pub(super) const UL: u16 = 0;
pub(super) const EXT: u16 = 2;
pub(super) const UL_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub(super) const EXT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x03];
pub(super) const CLIENT_MAC: [u8; 6] = [0x02, 0, 0xc0, 0, 0x02, 0x0a];
pub(super) const NODE1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x11, 0x11];
pub(super) const CLIENT: [u8; 4] = [192, 0, 2, 10];
pub(super) const PUBLISHED: [u8; 4] = [192, 0, 2, 1];
pub(super) const INGRESS: [u8; 4] = [10, 255, 0, 2];
pub(super) const BACKENDS: [[u8; 4]; 2] = [[10, 255, 0, 11], [10, 255, 0, 12]];

pub(super) fn config(mode: &str) -> String {
    format!(
        r#"
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"
[[port]]
name = "ul"
roles = ["underlay"]
mtu = 1500
[[port]]
name = "ext"
roles = ["external"]
[[vtep]]
ip = "172.30.0.11"
[[vni]]
id = 4096
flood = ["172.30.0.11"]
gateway_ip = "10.255.0.1"
[[service]]
name = "web"
protocol = "tcp"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
mode = "{mode}"
backends = [{{ ip = "10.255.0.11" }}, {{ ip = "10.255.0.12" }}]
[[service]]
name = "dns"
protocol = "udp"
published_port = 53
vni = 4096
ingress_ip = "10.255.0.2"
backends = [{{ ip = "10.255.0.11" }}]
"#
    )
}

/// The lab's port names as the gateway resolves them.
fn resolve_port(name: &str) -> Option<ResolvedPort> {
    let (id, mac) = match name {
        "ul" => (UL, UL_MAC),
        "ext" => (EXT, EXT_MAC),
        _ => return None,
    };
    Some(ResolvedPort {
        id,
        mac: MacAddr(mac),
        mtu: 1500,
    })
}

pub(super) struct Mesh {
    pub(super) snap: Snapshot,
    pub(super) fdb: Fdb,
    pub(super) neigh: Neighbours,
    pub(super) overlay: OverlayNeighbours,
    pub(super) ct: Conntrack,
    pub(super) snat: RefCell<SnatSource>,
    pub(super) backends: BackendCounters,
    pub(super) mesh_cache: MeshCache,
    pub(super) admission: Admission,
    pub(super) counters: PipelineCounters,
    pub(super) cache: LearnCache,
    pub(super) fdb_cache: FdbCache,
    pub(super) encap_cache: EncapCache,
    /// The clock the contexts see (10 unless a test moves it).
    pub(super) now: std::cell::Cell<u32>,
}

/// The fixture's SNAT draws are keyed: two fixtures draw the same ports.
const SNAT_KEY: [u8; 16] = *b"vxgw-test-snat-k";

impl Mesh {
    pub(super) fn new(mode: &str) -> Mesh {
        Mesh::with_config(&config(mode))
    }

    /// The fixture with another configuration (same ports, VTEP, VNI and backends).
    pub(super) fn with_config(text: &str) -> Mesh {
        let cfg = Config::parse(text).expect("config");
        let snap = Snapshot::build(&cfg, &resolve_port, 1).expect("snapshot");
        let mut ports = SnatSource::for_workers_keyed(1024, 65535, 1, SNAT_KEY).unwrap();
        let m = Mesh {
            snap,
            fdb: Fdb::new(1024, 64),
            neigh: Neighbours::new(64),
            overlay: OverlayNeighbours::new(64),
            ct: Conntrack::new(4096, Timeouts::default()),
            snat: RefCell::new(ports.remove(0)),
            backends: BackendCounters::default(),
            mesh_cache: MeshCache::default(),
            admission: Admission::new(1),
            counters: PipelineCounters::default(),
            cache: LearnCache::default(),
            fdb_cache: FdbCache::default(),
            encap_cache: EncapCache::default(),
            now: std::cell::Cell::new(10),
        };
        // Backends: MACs learned, behind VTEP 172.30.0.11.
        for (i, b) in BACKENDS.iter().enumerate() {
            m.overlay
                .learn(4096, Ipv4Addr::from(*b), MacAddr(backend_mac(i)), 1);
            m.fdb
                .add_static(
                    4096,
                    MacAddr(backend_mac(i)),
                    FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 11)),
                )
                .unwrap();
        }
        m
    }

    pub(super) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            snap: &self.snap,
            fdb: &self.fdb,
            neigh: &self.neigh,
            now: self.now.get(),
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
            mesh: Some(MeshTables {
                conntrack: &self.ct,
                overlay_neigh: &self.overlay,
                snat: &self.snat,
                backends: &self.backends,
                cache: &self.mesh_cache,
                admission: &self.admission,
            }),
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

pub(super) fn backend_mac(i: usize) -> [u8; 6] {
    [0x02, 0x42, 10, 255, 0, 11 + i as u8]
}

pub(super) fn client_tcp(sport: u16, syn: bool, ack: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b = PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
        .ipv4(CLIENT, PUBLISHED, 64)
        .tcp(sport, 80, 1000, 64240);
    if syn {
        b = b.syn();
        b = b
            .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
            .unwrap();
    }
    if ack {
        b = b.ack(1);
    }
    b.write(&mut v, payload).unwrap();
    v
}

/// A VXLAN frame from node 1 carrying `inner`.
pub(super) fn from_node1(inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(4096u32 << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(NODE1_MAC, UL_MAC)
        .ipv4([172, 30, 0, 11], [172, 30, 0, 1], 64)
        .udp(40000, 4789)
        .write(&mut v, &payload)
        .unwrap();
    v
}

/// The TCP reply a backend sends to `to` (`to_port`), from `from`:80.
pub(super) fn backend_reply(
    from: [u8; 4],
    i: usize,
    to: [u8; 4],
    to_port: u16,
    syn: bool,
) -> Vec<u8> {
    let mut v = Vec::new();
    let mut b = PacketBuilder::ethernet2(backend_mac(i), UL_MAC)
        .ipv4(from, to, 64)
        .tcp(80, to_port, 5000, 64240)
        .ack(1001);
    if syn {
        b = b.syn();
    }
    b.write(&mut v, b"hello").unwrap();
    v
}

pub(super) struct Seen {
    pub(super) src: Ipv4Addr,
    pub(super) dst: Ipv4Addr,
    pub(super) sport: u16,
    pub(super) dport: u16,
    pub(super) ttl: u8,
    pub(super) mss: Option<u16>,
}

/// Parses an Ethernet frame and checks every checksum.
pub(super) fn tcp_of(frame: &[u8]) -> Seen {
    let p = SlicedPacket::from_ethernet(frame).expect("parses");
    let Some(NetSlice::Ipv4(ip)) = p.net else {
        panic!("not IPv4")
    };
    let h = ip.header().to_header();
    assert_eq!(h.calc_header_checksum(), h.header_checksum, "IPv4 checksum");
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    let want = t.to_header().calc_checksum_ipv4(&h, t.payload()).unwrap();
    assert_eq!(t.checksum(), want, "TCP checksum");
    let mss = t.options_iterator().find_map(|o| match o {
        Ok(TcpOptionElement::MaximumSegmentSize(m)) => Some(m),
        _ => None,
    });
    Seen {
        src: Ipv4Addr::from(h.source),
        dst: Ipv4Addr::from(h.destination),
        sport: t.source_port(),
        dport: t.destination_port(),
        ttl: h.time_to_live,
        mss,
    }
}

#[test]
fn syn_is_balanced_natted_and_encapsulated_and_the_reply_comes_back() {
    let m = Mesh::new("snat");
    let (d, b) = m.ingress(EXT, &client_tcp(53711, true, false, &[]));
    let Decision::Forward {
        vni: 0,
        to: Target::Vtep(0),
    } = d
    else {
        panic!("{d:?}")
    };
    let f = b.data();
    let seen = tcp_of(f);
    assert_eq!(
        seen.src,
        Ipv4Addr::from(INGRESS),
        "SNAT to the ingress endpoint"
    );
    assert!(seen.sport >= 1024);
    assert_eq!(seen.dport, 80);
    assert_eq!(seen.ttl, 63, "a routed hop");
    assert_eq!(seen.mss, Some(1500 - 50 - 40), "MSS clamped to the overlay");
    let i = BACKENDS
        .iter()
        .position(|b| Ipv4Addr::from(*b) == seen.dst)
        .expect("a backend");
    assert_eq!(&f[0..6], &backend_mac(i), "backend MAC");
    assert_eq!(&f[6..12], &UL_MAC, "vxgw's overlay MAC");
    assert_eq!(m.ct.len(), 1);
    assert_eq!(m.counters.events(Event::MeshNewConnections), 1);
    assert_eq!(m.counters.events(Event::MssClamped), 1);
    let slot = m.snap.services[0].backends[i].slot;
    assert_eq!(m.backends.get(slot, BackendStat::Connections), 1);

    // The backend's SYN-ACK, as VXLAN from node 1, addressed to vxgw's overlay MAC.
    let reply = backend_reply(BACKENDS[i], i, INGRESS, seen.sport, true);
    let (d, b) = m.ingress(UL, &from_node1(&reply));
    assert_eq!(
        d,
        Decision::Route {
            port: EXT,
            next_hop: Ipv4Addr::from(CLIENT)
        }
    );
    let back = tcp_of(b.data());
    assert_eq!((back.src, back.sport), (Ipv4Addr::from(PUBLISHED), 80));
    assert_eq!((back.dst, back.dport), (Ipv4Addr::from(CLIENT), 53711));
    assert_eq!(&b.data()[6..12], &EXT_MAC);
    let e = m.ct.entries(&CtFilter::all(), 10);
    assert_eq!(e[0].state, CtState::SynRecv);

    // The client's ACK continues on the same backend and port.
    let (d, b) = m.ingress(EXT, &client_tcp(53711, false, true, b"GET /"));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    let again = tcp_of(b.data());
    assert_eq!((again.dst, again.sport), (seen.dst, seen.sport));
    assert_eq!(
        m.ct.entries(&CtFilter::all(), 10)[0].state,
        CtState::Established
    );
    assert_eq!(m.backends.get(slot, BackendStat::PacketsIn), 2);
    assert_eq!(m.backends.get(slot, BackendStat::PacketsOut), 1);
}

#[test]
fn preserve_mode_keeps_the_client_address() {
    let m = Mesh::new("preserve");
    let (d, b) = m.ingress(EXT, &client_tcp(40000, true, false, &[]));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    let seen = tcp_of(b.data());
    assert_eq!((seen.src, seen.sport), (Ipv4Addr::from(CLIENT), 40000));
    let i = BACKENDS
        .iter()
        .position(|b| Ipv4Addr::from(*b) == seen.dst)
        .unwrap();
    // The backend replies to the client through vxgw (its overlay gateway).
    let reply = backend_reply(BACKENDS[i], i, CLIENT, 40000, true);
    let (d, b) = m.ingress(UL, &from_node1(&reply));
    assert!(matches!(d, Decision::Route { .. }), "{d:?}");
    let back = tcp_of(b.data());
    assert_eq!((back.src, back.sport), (Ipv4Addr::from(PUBLISHED), 80));
    assert_eq!((back.dst, back.dport), (Ipv4Addr::from(CLIENT), 40000));
}

#[test]
fn maglev_spreads_clients_over_backends() {
    let m = Mesh::new("snat");
    let mut hits = [0u32; 2];
    for p in 0..400u16 {
        let (_, b) = m.ingress(EXT, &client_tcp(20000 + p, true, false, &[]));
        let dst = tcp_of(b.data()).dst;
        hits[BACKENDS
            .iter()
            .position(|b| Ipv4Addr::from(*b) == dst)
            .unwrap()] += 1;
    }
    assert!(hits.iter().all(|&h| h > 150), "{hits:?}");
    assert_eq!(m.ct.len(), 400);
}

#[test]
fn unknown_flows_are_rebalanced_or_dropped_by_name() {
    let m = Mesh::new("snat");
    // A mid-stream segment: re-balanced (established), never a black hole.
    let (d, _) = m.ingress(EXT, &client_tcp(1111, false, true, b"x"));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(m.counters.events(Event::MeshRepicked), 1);
    assert_eq!(
        m.ct.entries(&CtFilter::all(), 10)[0].state,
        CtState::Established
    );
    // A RST of an unknown flow creates nothing.
    let mut rst = client_tcp(2222, false, false, &[]);
    rst[14 + 20 + 13] = 0x04;
    let (d, _) = m.ingress(EXT, &rst);
    assert_eq!(d, Decision::Drop(DropReason::NoConnection));
    // Nothing published on 81.
    let mut other = client_tcp(3333, true, false, &[]);
    other[14 + 22..14 + 24].copy_from_slice(&81u16.to_be_bytes());
    let (d, _) = m.ingress(EXT, &other);
    assert_eq!(d, Decision::Drop(DropReason::NoService));
    // A reply nobody asked for.
    let stray = backend_reply(BACKENDS[0], 0, INGRESS, 9999, false);
    let (d, _) = m.ingress(UL, &from_node1(&stray));
    assert_eq!(d, Decision::Drop(DropReason::NoConnection));
    assert_eq!(m.ct.len(), 1);
}

#[test]
fn oversize_with_df_gets_frag_needed_back() {
    let m = Mesh::new("snat");
    let big = client_tcp(4444, false, true, &[0u8; 1440]);
    let (d, b) = m.ingress(EXT, &big);
    assert_eq!(d, Decision::Send { port: EXT });
    let p = SlicedPacket::from_ethernet(b.data()).unwrap();
    let Some(TransportSlice::Icmpv4(icmp)) = p.transport else {
        panic!("not ICMP")
    };
    match icmp.icmp_type() {
        Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu },
        ) => {
            assert_eq!(next_hop_mtu, 1450)
        }
        t => panic!("{t:?}"),
    }
    assert_eq!(&b.data()[0..6], &CLIENT_MAC);
    assert_eq!(m.ct.len(), 0, "nothing tracked for a refused packet");
    assert_eq!(m.counters.drops(DropReason::MtuExceeded), 1);
}

#[test]
fn icmp_port_unreachable_from_a_udp_backend_reaches_the_client() {
    let m = Mesh::new("snat");
    let mut q = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
        .ipv4(CLIENT, PUBLISHED, 64)
        .udp(5353, 53)
        .write(&mut q, b"query")
        .unwrap();
    let (d, b) = m.ingress(EXT, &q);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    let p = SlicedPacket::from_ethernet(b.data()).unwrap();
    let Some(TransportSlice::Udp(u)) = p.transport else {
        panic!()
    };
    let snat_port = u.source_port();
    // The backend answers port unreachable about what it received.
    let sent = &b.data()[14..];
    let mut err = Vec::new();
    PacketBuilder::ethernet2(backend_mac(0), UL_MAC)
        .ipv4(BACKENDS[0], INGRESS, 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut err, &sent[..28])
        .unwrap();
    let (d, b) = m.ingress(UL, &from_node1(&err));
    assert!(matches!(d, Decision::Route { .. }), "{d:?}");
    let p = SlicedPacket::from_ethernet(b.data()).unwrap();
    let Some(NetSlice::Ipv4(ip)) = p.net else {
        panic!()
    };
    assert_eq!(ip.header().destination(), CLIENT);
    assert_eq!(ip.header().source(), PUBLISHED);
    // The quote now shows client -> published, as the client sent it.
    let quote = &b.data()[14 + 20 + 8..];
    assert_eq!(&quote[12..16], &CLIENT);
    assert_eq!(&quote[16..20], &PUBLISHED);
    assert_eq!(u16::from_be_bytes([quote[20], quote[21]]), 5353);
    assert_ne!(snat_port, 5353);
    assert_eq!(m.counters.events(Event::IcmpErrorsTranslated), 1);
}

/// ICMP errors are routed like every other packet: one hop less, and none left is
/// a drop (they were passed on with their TTL as received, 0 included). Found by
/// fuzzing (the fuzz crate's regression `underlay/icmp_error_ttl_0`).
#[test]
fn translated_icmp_errors_lose_a_hop_and_expire() {
    let m = Mesh::new("snat");
    let (_, b) = m.ingress(EXT, &client_tcp(40100, true, false, &[]));
    let sent = b.data()[14..].to_vec();
    let i = BACKENDS
        .iter()
        .position(|b| sent[16..20] == *b)
        .expect("a backend");
    let seen = tcp_of(b.data());
    let error_from_backend = |ttl: u8| {
        let mut err = Vec::new();
        PacketBuilder::ethernet2(backend_mac(i), UL_MAC)
            .ipv4(BACKENDS[i], seen.src.octets(), ttl)
            .icmpv4(Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut err, &sent[..28])
            .unwrap();
        from_node1(&err)
    };
    let (d, b) = m.ingress(UL, &error_from_backend(64));
    assert!(matches!(d, Decision::Route { .. }), "{d:?}");
    let p = SlicedPacket::from_ethernet(b.data()).unwrap();
    let Some(NetSlice::Ipv4(ip)) = p.net else {
        panic!()
    };
    let h = ip.header().to_header();
    assert_eq!(h.time_to_live, 63);
    assert_eq!(h.calc_header_checksum(), h.header_checksum);
    for ttl in [0, 1] {
        let (d, _) = m.ingress(UL, &error_from_backend(ttl));
        assert_eq!(d, Decision::Drop(DropReason::TtlExpired), "TTL {ttl}");
    }
    // The client's side: an error about what vxgw sent it (published -> client).
    let reply = backend_reply(BACKENDS[i], i, seen.src.octets(), seen.sport, true);
    let (_, back) = m.ingress(UL, &from_node1(&reply));
    let quoted = back.data()[14..14 + 28].to_vec();
    let error_from_client = |ttl: u8| {
        let mut err = Vec::new();
        PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
            .ipv4(CLIENT, PUBLISHED, ttl)
            .icmpv4(Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut err, &quoted)
            .unwrap();
        err
    };
    let (d, b) = m.ingress(EXT, &error_from_client(64));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(b.data()[14 + 8], 63);
    for ttl in [0, 1] {
        let (d, _) = m.ingress(EXT, &error_from_client(ttl));
        assert_eq!(d, Decision::Drop(DropReason::TtlExpired), "TTL {ttl}");
    }
}

/// The neighbour table serves both links: an ARP packet on one must not move the
/// other's addresses. A client claiming node 1's address took the VXLAN traffic to
/// node 1 (the outer frames went to the client's MAC); a host on the underlay
/// claiming the client's address would take the client's replies. Found by fuzzing
/// (the fuzz crate's regression `external/arp_claims_a_vtep`).
#[test]
fn arp_on_one_link_does_not_move_the_other_links_neighbours() {
    let m = Mesh::new("snat");
    let node1 = Ipv4Addr::new(172, 30, 0, 11);
    m.neigh.learn(node1, MacAddr(NODE1_MAC), 1);
    m.neigh
        .learn(Ipv4Addr::from(CLIENT), MacAddr(CLIENT_MAC), 1);
    let arp = |op: u8, sender: ([u8; 6], [u8; 4]), target: [u8; 4], dst: [u8; 6]| {
        let mut f = vec![0u8; 60];
        f[0..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&sender.0);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, op]);
        f[22..28].copy_from_slice(&sender.0);
        f[28..32].copy_from_slice(&sender.1);
        f[38..42].copy_from_slice(&target);
        f
    };
    let evil = [0x02, 0xee, 0, 0, 0, 1];
    // From the external side, node 1's address: a request for the published address
    // and a reply.
    m.ingress(EXT, &arp(1, (evil, node1.octets()), PUBLISHED, [0xff; 6]));
    m.ingress(EXT, &arp(2, (evil, node1.octets()), PUBLISHED, EXT_MAC));
    assert_eq!(m.neigh.lookup(node1), Some(MacAddr(NODE1_MAC)));
    // From the underlay, the client's address.
    m.ingress(UL, &arp(1, (evil, CLIENT), [172, 30, 0, 1], [0xff; 6]));
    m.ingress(UL, &arp(2, (evil, CLIENT), [172, 30, 0, 1], UL_MAC));
    assert_eq!(
        m.neigh.lookup(Ipv4Addr::from(CLIENT)),
        Some(MacAddr(CLIENT_MAC))
    );
    // Each link still learns its own.
    let moved = [0x02, 0, 0, 0, 0x11, 0x12];
    m.ingress(
        UL,
        &arp(2, (moved, node1.octets()), [172, 30, 0, 1], UL_MAC),
    );
    assert_eq!(m.neigh.lookup(node1), Some(MacAddr(moved)));
    let other_client = [0x02, 0, 0xc0, 0, 2, 0x0b];
    m.ingress(
        EXT,
        &arp(1, (other_client, [192, 0, 2, 11]), PUBLISHED, [0xff; 6]),
    );
    assert_eq!(
        m.neigh.lookup(Ipv4Addr::new(192, 0, 2, 11)),
        Some(MacAddr(other_client))
    );
}

/// ARP that is neither a request nor a reply (RARP, InARP, an unknown operation)
/// teaches nothing, on either link: the fuzzer moved a VTEP's next hop with
/// operation 0x010f (`fuzz/regressions/underlay/arp_unknown_operation`).
#[test]
fn arp_of_another_operation_moves_no_neighbour() {
    let m = Mesh::new("snat");
    let node1 = Ipv4Addr::new(172, 30, 0, 11);
    m.neigh.learn(node1, MacAddr(NODE1_MAC), 1);
    let evil = [0x00, 0x00, 0x5e, 0xab, 0xab, 0xab];
    for (port, dst, target) in [
        (UL, UL_MAC, [172, 30, 0, 1]),
        (UL, [0xff; 6], [172, 30, 0, 1]),
        (EXT, EXT_MAC, PUBLISHED),
    ] {
        for op in [3u16, 4, 8, 9, 0x010f, 0] {
            let mut f = vec![0u8; 60];
            f[0..6].copy_from_slice(&dst);
            f[6..12].copy_from_slice(&evil);
            f[12..14].copy_from_slice(&[0x08, 0x06]);
            f[14..20].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
            f[20..22].copy_from_slice(&op.to_be_bytes());
            f[22..28].copy_from_slice(&evil);
            f[28..32].copy_from_slice(&node1.octets());
            f[38..42].copy_from_slice(&target);
            let (d, _) = m.ingress(port, &f);
            assert_eq!(d, Decision::Drop(DropReason::ArpIgnored), "op {op:#x}");
            assert_eq!(
                m.neigh.lookup(node1),
                Some(MacAddr(NODE1_MAC)),
                "op {op:#x}"
            );
        }
    }
}

#[test]
fn arp_for_the_ingress_endpoint_and_the_external_address_is_answered() {
    let m = Mesh::new("snat");
    // A container asks for the ingress endpoint (its SNAT peer).
    let mut req = Vec::new();
    let arp = etherparse::ArpPacket::new(
        etherparse::ArpHardwareId::ETHERNET,
        etherparse::EtherType::IPV4,
        etherparse::ArpOperation::REQUEST,
        &[0x02, 0x42, 10, 255, 0, 99],
        &[10, 255, 0, 99],
        &[0; 6],
        &INGRESS,
    )
    .unwrap();
    PacketBuilder::ethernet2([0x02, 0x42, 10, 255, 0, 99], [0xff; 6])
        .arp(arp)
        .write(&mut req)
        .unwrap();
    let (d, b) = m.ingress(UL, &from_node1(&req));
    assert_eq!(
        d,
        Decision::Forward {
            vni: 0,
            to: Target::Vtep(0)
        }
    );
    assert_eq!(&b.data()[6..12], &UL_MAC);
    assert_eq!(
        m.overlay.lookup(4096, Ipv4Addr::new(10, 255, 0, 99)),
        Some(MacAddr([0x02, 0x42, 10, 255, 0, 99])),
        "the asker is learned"
    );
    assert_eq!(
        m.overlay.lookup(4097, Ipv4Addr::new(10, 255, 0, 99)),
        None,
        "in its own VNI only"
    );
    // A client asks for the external address.
    let mut req = Vec::new();
    let arp = etherparse::ArpPacket::new(
        etherparse::ArpHardwareId::ETHERNET,
        etherparse::EtherType::IPV4,
        etherparse::ArpOperation::REQUEST,
        &CLIENT_MAC,
        &CLIENT,
        &[0; 6],
        &PUBLISHED,
    )
    .unwrap();
    PacketBuilder::ethernet2(CLIENT_MAC, [0xff; 6])
        .arp(arp)
        .write(&mut req)
        .unwrap();
    let (d, _) = m.ingress(EXT, &req);
    assert_eq!(d, Decision::Send { port: EXT });
    assert_eq!(
        m.neigh.lookup(Ipv4Addr::from(CLIENT)),
        Some(MacAddr(CLIENT_MAC))
    );
}

#[test]
fn an_unresolved_backend_asks_for_resolution() {
    let m = Mesh::new("snat");
    m.overlay.invalidate(4096, Ipv4Addr::from(BACKENDS[0]));
    m.overlay.invalidate(4096, Ipv4Addr::from(BACKENDS[1]));
    let (d, _) = m.ingress(EXT, &client_tcp(7777, true, false, &[]));
    assert!(matches!(d, Decision::Resolve { vni: 0, .. }), "{d:?}");
}

pub(super) fn client_udp(sport: u16) -> Vec<u8> {
    let mut q = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
        .ipv4(CLIENT, PUBLISHED, 64)
        .udp(sport, 53)
        .write(&mut q, b"query")
        .unwrap();
    q
}

#[test]
fn a_snat_port_is_unique_per_backend_and_exhaustion_is_counted() {
    let mut m = Mesh::new("snat");
    // Two source ports only; "dns" has one backend.
    m.snat = RefCell::new(SnatSource::for_workers(5000, 5001, 1).unwrap().remove(0));
    let mut ports = Vec::new();
    for sport in [100, 101] {
        let (d, b) = m.ingress(EXT, &client_udp(sport));
        assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
        ports.push(u16::from_be_bytes([b.data()[34], b.data()[35]]));
    }
    ports.sort();
    assert_eq!(ports, [5000, 5001]);
    let (d, _) = m.ingress(EXT, &client_udp(102));
    assert_eq!(d, Decision::Drop(DropReason::SnatPortsExhausted));
    // The same two ports serve other backends (the reply key has the backend's address
    // and port): "web" gets both ports towards 10.255.0.11:80 and 10.255.0.12:80.
    let mut served = [0; 2];
    for sport in 0..40u16 {
        let (d, b) = m.ingress(EXT, &client_tcp(30000 + sport, true, false, &[]));
        if let Decision::Forward { .. } = d {
            let dst = tcp_of(b.data()).dst;
            served[BACKENDS
                .iter()
                .position(|b| Ipv4Addr::from(*b) == dst)
                .unwrap()] += 1;
        }
    }
    assert_eq!(served, [2, 2], "two ports towards each backend");
}

/// With two workers, the flows that all land on one of them may use every port
/// (there are no per-worker shares), and the other worker finds them busy too.
#[test]
fn snat_capacity_does_not_depend_on_the_worker() {
    let mut m = Mesh::new("snat");
    let mut workers = SnatSource::for_workers(5000, 5003, 2).unwrap();
    m.snat = RefCell::new(workers.remove(0));
    let mut ports = Vec::new();
    for sport in 100..104 {
        let (d, b) = m.ingress(EXT, &client_udp(sport));
        assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
        ports.push(u16::from_be_bytes([b.data()[34], b.data()[35]]));
    }
    ports.sort();
    assert_eq!(
        ports,
        [5000, 5001, 5002, 5003],
        "worker 0 alone uses all four"
    );
    let (d, _) = m.ingress(EXT, &client_udp(104));
    assert_eq!(d, Decision::Drop(DropReason::SnatPortsExhausted));
    // Worker 1, same conntrack: its draws find the same four ports busy.
    m.snat = RefCell::new(workers.remove(0));
    let (d, _) = m.ingress(EXT, &client_udp(105));
    assert!(matches!(d, Decision::Drop(_)), "{d:?}");
    assert_eq!(m.ct.entries(&CtFilter::all(), 10).len(), 4);
}

#[test]
fn a_syn_reusing_a_finished_connection_is_balanced_afresh() {
    let m = Mesh::new("snat");
    let (_, b) = m.ingress(EXT, &client_tcp(6000, true, false, &[]));
    let first = tcp_of(b.data());
    let mut rst = client_tcp(6000, false, false, &[]);
    rst[14 + 20 + 13] = 0x04;
    let (d, _) = m.ingress(EXT, &rst);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(m.ct.entries(&CtFilter::all(), 10)[0].state, CtState::Closed);
    let (d, b) = m.ingress(EXT, &client_tcp(6000, true, false, &[]));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    let second = tcp_of(b.data());
    assert_ne!(second.sport, first.sport, "a new SNAT port");
    assert_eq!(m.counters.events(Event::MeshNewConnections), 2);
    let e = m.ct.entries(&CtFilter::all(), 10);
    assert_eq!((e.len(), e[0].state), (1, CtState::SynSent));
}

#[test]
fn a_syn_retransmitted_after_its_backend_is_gone_is_balanced_afresh() {
    let mut m = Mesh::new("snat");
    let syn = client_tcp(6100, true, false, &[]);
    let (_, b) = m.ingress(EXT, &syn);
    let first: [u8; 4] = b.data()[30..34].try_into().unwrap();
    // Retransmitted while its backend is there: the same connection, the same backend.
    let (_, b) = m.ingress(EXT, &syn);
    assert_eq!(b.data()[30..34], first);
    assert_eq!(m.counters.events(Event::MeshRepickedGone), 0);
    // The backend removed (its task died before answering): the next retransmission
    // goes to the one that is left, not after the dead one.
    let other = if first == [10, 255, 0, 11] {
        "10.255.0.12"
    } else {
        "10.255.0.11"
    };
    let text = config("snat").replace(
        r#"backends = [{ ip = "10.255.0.11" }, { ip = "10.255.0.12" }]"#,
        &format!(r#"backends = [{{ ip = "{other}" }}]"#),
    );
    m.snap = Snapshot::build(&Config::parse(&text).unwrap(), &resolve_port, 2).unwrap();
    let (d, b) = m.ingress(EXT, &syn);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(
        Ipv4Addr::from(<[u8; 4]>::try_from(&b.data()[30..34]).unwrap()).to_string(),
        other
    );
    assert_eq!(m.counters.events(Event::MeshRepickedGone), 1);
    let e = m.ct.entries(&CtFilter::all(), 10);
    assert_eq!((e.len(), e[0].state), (1, CtState::SynSent));
}

/// The RST+ACK backend `i` answers a SYN with when nothing listens (its task is
/// being killed), to `to`:`to_port`.
fn backend_refusal(i: usize, to: Ipv4Addr, to_port: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(backend_mac(i), UL_MAC)
        .ipv4(BACKENDS[i], to.octets(), 64)
        .tcp(80, to_port, 0, 0)
        .rst()
        .ack(1001)
        .write(&mut v, &[])
        .unwrap();
    v
}

fn backend_index(ip: Ipv4Addr) -> usize {
    BACKENDS
        .iter()
        .position(|b| Ipv4Addr::from(*b) == ip)
        .expect("a backend")
}

#[test]
fn a_syn_refused_by_its_backend_is_retried_on_another() {
    for mode in ["snat", "preserve"] {
        let m = Mesh::new(mode);
        let syn = client_tcp(6200, true, false, &[]);
        let (_, b) = m.ingress(EXT, &syn);
        let first = tcp_of(b.data());
        let i = backend_index(first.dst);
        // Nothing listens on that backend: its RST is withheld from the client.
        let (d, _) = m.ingress(UL, &from_node1(&backend_refusal(i, first.src, first.sport)));
        assert_eq!(d, Decision::Drop(DropReason::BackendRefused), "{mode}");
        let e = m.ct.entries(&CtFilter::all(), 10);
        assert_eq!((e.len(), e[0].state), (1, CtState::Closed));
        // The client's retransmission goes to the other backend, and stays there.
        for _ in 0..2 {
            let (d, b) = m.ingress(EXT, &syn);
            assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
            let again = tcp_of(b.data());
            assert_eq!(backend_index(again.dst), 1 - i, "{mode}");
        }
        assert_eq!(m.counters.events(Event::MeshRepickedRefused), 1);
        let e = m.ct.entries(&CtFilter::all(), 10);
        assert_eq!((e.len(), e[0].state), (1, CtState::SynSent));
        // That one answers; its SYN-ACK reaches the client.
        let (_, b) = m.ingress(EXT, &syn);
        let to = tcp_of(b.data());
        let reply = backend_reply(BACKENDS[1 - i], 1 - i, to.src.octets(), to.sport, true);
        let (d, _) = m.ingress(UL, &from_node1(&reply));
        assert!(matches!(d, Decision::Route { port: EXT, .. }), "{d:?}");
        // It refuses too: the first backend is tried again (the others' turn
        // comes round; the client gives up on its own schedule).
        let (d, _) = m.ingress(UL, &from_node1(&backend_refusal(1 - i, to.src, to.sport)));
        assert!(
            matches!(d, Decision::Route { port: EXT, .. }),
            "answered: {d:?}"
        );
    }
}

#[test]
fn a_refusal_goes_through_when_no_other_backend_may_answer() {
    let mut m = Mesh::new("snat");
    let text = config("snat").replace(
        r#"backends = [{ ip = "10.255.0.11" }, { ip = "10.255.0.12" }]"#,
        r#"backends = [{ ip = "10.255.0.11" }, { ip = "10.255.0.12", weight = 0 }]"#,
    );
    m.snap = Snapshot::build(&Config::parse(&text).unwrap(), &resolve_port, 2).unwrap();
    let syn = client_tcp(6300, true, false, &[]);
    let (_, b) = m.ingress(EXT, &syn);
    let first = tcp_of(b.data());
    assert_eq!(backend_index(first.dst), 0);
    let (d, b) = m.ingress(UL, &from_node1(&backend_refusal(0, first.src, first.sport)));
    assert!(matches!(d, Decision::Route { port: EXT, .. }), "{d:?}");
    let p = SlicedPacket::from_ethernet(b.data()).unwrap();
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    assert!(t.rst(), "the client learns at once");
    assert_eq!(t.destination_port(), 6300);
    assert_eq!(m.counters.events(Event::MeshRepickedRefused), 0);
}

/// How many seed frames [`mesh_corpus`] has.
pub(super) const MESH_SEEDS: usize = 6;

/// A frame of the routing mesh's property corpus: seed `seed` (a client SYN, a UDP
/// query, a backend's reply to a tracked connection, an ICMP error about it, a
/// mid-stream client segment, a backend's ARP for vxgw's overlay address) on its
/// port, with one byte overwritten (`flip`) or cut by `cut` bytes and extended with
/// `body`. Makes the connection the reply and the error are about in `m` first.
pub(super) fn mesh_corpus(
    m: &Mesh,
    seed: usize,
    cut: usize,
    flip: Option<(usize, u8)>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let (_, sent) = m.ingress(EXT, &client_tcp(53711, true, false, &[]));
    // The backend's reply to it: its backend and SNAT port read off the forwarded
    // packet, so that replies reach a tracked connection.
    let inner = sent.data();
    let backend: [u8; 4] = inner[30..34].try_into().unwrap();
    let to: [u8; 4] = inner[26..30].try_into().unwrap();
    let to_port = u16::from_be_bytes([inner[34], inner[35]]);
    let i = BACKENDS.iter().position(|b| *b == backend).unwrap_or(0);
    let reply = from_node1(&backend_reply(backend, i, to, to_port, true));
    let mut err = Vec::new();
    PacketBuilder::ethernet2(backend_mac(0), UL_MAC)
        .ipv4(BACKENDS[0], INGRESS, 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut err, &sent.data()[14..42])
        .unwrap();
    let arp =
        super::tests::arp_request([2, 0x42, 10, 255, 0, 99], [10, 255, 0, 99], [10, 255, 0, 1]);
    let seeds = [
        (EXT, client_tcp(40000, true, false, b"x")),
        (EXT, client_udp(999)),
        (UL, reply),
        (UL, from_node1(&err)),
        (EXT, client_tcp(40001, false, true, &[0u8; 1440])),
        (UL, from_node1(&arp)),
    ];
    let (port, mut f) = seeds[seed % MESH_SEEDS].clone();
    match flip {
        Some((at, v)) if at < f.len() => f[at] = v,
        _ => {
            f.truncate(f.len().saturating_sub(cut));
            f.extend_from_slice(body);
        }
    }
    (port, f)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1500))]
    /// Any bytes on the external or underlay port of a gateway with the routing mesh,
    /// starting from plausible mesh frames ([`mesh_corpus`]) cut and extended with
    /// arbitrary bytes, or with one byte overwritten: no panic, and whatever is
    /// forwarded stays inside the buffer's bounds.
    #[test]
    fn arbitrary_mesh_frames_never_panic(
        seed in 0usize..MESH_SEEDS,
        cut in 0usize..120,
        flip in proptest::option::of((0usize..120, proptest::prelude::any::<u8>())),
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160),
    ) {
        let m = Mesh::new(if seed % 2 == 0 { "snat" } else { "preserve" });
        let (port, f) = mesh_corpus(&m, seed, cut, flip, &body);
        let (d, b) = m.ingress(port, &f);
        let len = b.data().len();
        proptest::prop_assert!(len <= f.len() + 64, "{d:?}");
        if let Decision::Route { port, .. } | Decision::Send { port } = d {
            proptest::prop_assert!(port == EXT || port == UL);
        }
    }
}

#[test]
fn a_warmed_hit_is_used_only_while_its_connection_lives() {
    let m = Mesh::new("snat");
    let (_, _) = m.ingress(EXT, &client_tcp(6100, true, false, &[]));
    let ack = client_tcp(6100, false, true, b"x");
    // Warm a burst holding the ACK at position 0; the cache now has its hit.
    warm_burst(&m.ctx(), EXT, [ack.as_slice()].into_iter());
    m.mesh_cache.set_current(0);
    let (d, _) = m.ingress(EXT, &ack);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(
        m.counters.events(Event::MeshRepicked),
        0,
        "the warmed hit served"
    );
    // The connection goes after the warm-up: the stale hit must not be used.
    warm_burst(&m.ctx(), EXT, [ack.as_slice()].into_iter());
    assert_eq!(m.ct.flush(&CtFilter::all()), 1);
    let (d, _) = m.ingress(EXT, &ack);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(
        m.counters.events(Event::MeshRepicked),
        1,
        "looked up again: unknown, so re-balanced"
    );
}

#[test]
fn the_published_port_memo_answers_for_its_snapshot_only() {
    let m = Mesh::new("snat");
    let moved =
        Config::parse(&config("snat").replace("published_port = 80", "published_port = 8080"))
            .expect("config");
    let next = Snapshot::build(&moved, &resolve_port, m.snap.generation + 1).expect("snapshot");
    let web = |snap: &Snapshot, port| {
        m.mesh_cache
            .service_for(snap, protocol::TCP, PUBLISHED.into(), port)
    };
    let want = m.snap.service_for(protocol::TCP, PUBLISHED.into(), 80);
    assert!(want.is_some());
    assert_eq!(web(&m.snap, 80), want);
    assert_eq!(web(&m.snap, 80), want, "remembered");
    assert_eq!(web(&next, 80), None, "a new generation asks again");
    assert_eq!(web(&next, 8080), want);
    assert_eq!(web(&m.snap, 80), want);
    assert_eq!(
        m.mesh_cache
            .service_for(&m.snap, protocol::UDP, PUBLISHED.into(), 80),
        None,
        "the protocol is part of the key"
    );
}

#[test]
fn a_burst_of_syns_takes_its_snat_ports_at_warm_up_in_burst_order() {
    let m = Mesh::new("snat");
    let syns: Vec<Vec<u8>> = (0..4)
        .map(|i| client_tcp(7000 + i, true, false, &[]))
        .collect();
    // The fixture's draws, in order.
    let mut same = SnatSource::for_workers_keyed(1024, 65535, 1, SNAT_KEY).unwrap();
    let draws: Vec<u16> = (0..5).map(|_| same[0].candidate()).collect();
    warm_burst(&m.ctx(), EXT, syns.iter().map(|f| f.as_slice()));
    // Decided in reverse order, each SYN still gets the port taken for its position.
    for i in (0..4).rev() {
        m.mesh_cache.set_current(i);
        let mut b = VecBuf::new(&syns[i]);
        let d = ingress(&m.ctx(), EXT, &mut b);
        assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
        assert_eq!(tcp_of(b.data()).sport, draws[i], "SYN {i}");
    }
    // A SYN that is not the frame warmed at the current position draws the next
    // port (the warm-up took the first four).
    m.mesh_cache.set_current(0);
    let other = client_tcp(7100, true, false, &[]);
    let mut b = VecBuf::new(&other);
    let d = ingress(&m.ctx(), EXT, &mut b);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(tcp_of(b.data()).sport, draws[4]);
    assert_eq!(m.counters.events(Event::MeshNewConnections), 5);
}

proptest::proptest! {
    /// The warm-up and the fast path key a packet straight from its header; the
    /// general path from `parse_flow`: the keys must be the same.
    #[test]
    fn a_packet_keyed_at_fixed_offsets_has_the_general_paths_key(
        tcp: bool, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16
    ) {
        let mut ip = vec![0u8; 40];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&40u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = if tcp { 6 } else { 17 };
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        ip[20..22].copy_from_slice(&sport.to_be_bytes());
        ip[22..24].copy_from_slice(&dport.to_be_bytes());
        ip[32] = 0x50;
        if !tcp {
            ip[24..26].copy_from_slice(&20u16.to_be_bytes());
        }
        let f = nat::parse_flow(&ip).unwrap();
        let general = crate::tables::conntrack::PackedKey::of(&super::mesh_key::key_of(&f));
        proptest::prop_assert_eq!(super::mesh_key::packed_at(ip.first_chunk().unwrap()), general);
    }
}
