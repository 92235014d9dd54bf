//! The routing mesh under hostile traffic, through the pipeline as the worker runs
//! it: martian and malformed packets are refused before any state is made, a flood
//! of spoofed mid-stream segments does not lock out new clients, refusals stay O(1)
//! while their cause lasts, and the flood guard sheds new connections but not
//! established ones.

use std::cell::RefCell;
use std::net::Ipv4Addr;

use etherparse::PacketBuilder;

use super::mesh_tests::{
    backend_reply, client_tcp, client_udp, config, from_node1, tcp_of, Mesh, BACKENDS, CLIENT_MAC,
    EXT, EXT_MAC, INGRESS, PUBLISHED, UL,
};
use super::*;
use crate::tables::conntrack::{Conntrack, CtFilter, CtState, Timeouts};
use crate::tables::snat_source::SnatSource;
use crate::wire::checksum;

/// A client's SYN from `src`:`sport` to the published web port, TTL `ttl`.
fn syn_from(src: [u8; 4], sport: u16, ttl: u8) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
        .ipv4(src, PUBLISHED, ttl)
        .tcp(sport, 80, 1000, 64240)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

/// Rewrites the IPv4 header checksum of a client frame after a test changed it.
fn fix_ip_checksum(f: &mut [u8]) {
    f[24..26].fill(0);
    let c = checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
}

/// Makes connection `sport` of the test client and assures it (SYN, the backend's
/// SYN-ACK, the client's ACK); returns the backend's index.
fn assured_connection(m: &Mesh, sport: u16) -> usize {
    let (d, b) = m.ingress(EXT, &client_tcp(sport, true, false, &[]));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    let seen = tcp_of(b.data());
    let i = BACKENDS
        .iter()
        .position(|b| Ipv4Addr::from(*b) == seen.dst)
        .unwrap();
    let (d, _) = m.ingress(
        UL,
        &from_node1(&backend_reply(BACKENDS[i], i, INGRESS, seen.sport, true)),
    );
    assert!(matches!(d, Decision::Route { .. }), "{d:?}");
    let (d, _) = m.ingress(EXT, &client_tcp(sport, false, true, b"GET /"));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    i
}

#[test]
fn martian_and_malformed_client_packets_are_refused_and_leave_no_state() {
    let m = Mesh::new("snat");
    let valid = client_tcp(40000, true, false, &[]);
    let mut cases: Vec<(&str, Vec<u8>, DropReason)> = Vec::new();
    for (what, src) in [
        ("source 0.0.0.0", [0, 0, 0, 0]),
        ("source 255.255.255.255", [255, 255, 255, 255]),
        ("source 224.0.0.5", [224, 0, 0, 5]),
        ("source 127.0.0.1", [127, 0, 0, 1]),
        ("source 240.1.2.3", [240, 1, 2, 3]),
        ("vxgw's own external address", PUBLISHED),
        ("vxgw's VTEP address", [172, 30, 0, 1]),
        ("an ingress endpoint", INGRESS),
        ("a VNI's gateway address", [10, 255, 0, 1]),
        ("the external prefix's broadcast", [192, 0, 2, 255]),
    ] {
        cases.push((what, syn_from(src, 40000, 64), DropReason::MartianSource));
    }
    let mut to_broadcast = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
        .ipv4([203, 0, 113, 9], [192, 0, 2, 255], 64)
        .udp(4000, 53)
        .write(&mut to_broadcast, b"q")
        .unwrap();
    cases.push((
        "to the external prefix's broadcast",
        to_broadcast,
        DropReason::MartianDestination,
    ));
    let mut broadcast_mac = valid.clone();
    broadcast_mac[6..12].fill(0xff);
    cases.push((
        "a broadcast source MAC",
        broadcast_mac,
        DropReason::InvalidSourceMac,
    ));
    let mut bad_sum = valid.clone();
    bad_sum[25] ^= 0x10;
    cases.push(("a bad header checksum", bad_sum, DropReason::BadIpChecksum));
    for len in [0u16, 7, 200] {
        let mut u = client_udp(4000);
        u[38..40].copy_from_slice(&len.to_be_bytes());
        cases.push(("a bad UDP length", u, DropReason::BadUdpLength));
    }
    for offset in [0u8, 4, 15] {
        let mut t = valid.clone();
        t[46] = offset << 4 | (t[46] & 0x0f);
        cases.push(("a bad TCP data offset", t, DropReason::BadTcpDataOffset));
    }
    let mut long = valid.clone();
    long[16..18].copy_from_slice(&1400u16.to_be_bytes());
    fix_ip_checksum(&mut long);
    cases.push((
        "a total length past the frame",
        long,
        DropReason::BadIpLength,
    ));
    cases.push((
        "TTL 1",
        syn_from([203, 0, 113, 9], 40000, 1),
        DropReason::TtlExpired,
    ));
    for (what, frame, want) in cases {
        let (d, _) = m.ingress(EXT, &frame);
        assert_eq!(d, Decision::Drop(want), "{what}");
        assert_eq!(m.ct.len(), 0, "{what}: a connection was made");
        assert_eq!(m.counters.events(Event::MeshNewConnections), 0, "{what}");
    }
    // The valid one passes.
    let (d, _) = m.ingress(EXT, &valid);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
}

#[test]
fn a_malformed_reply_from_a_backend_is_refused() {
    let m = Mesh::new("snat");
    let (_, b) = m.ingress(EXT, &client_tcp(40001, true, false, &[]));
    let seen = tcp_of(b.data());
    let i = BACKENDS
        .iter()
        .position(|b| Ipv4Addr::from(*b) == seen.dst)
        .unwrap();
    let good = backend_reply(BACKENDS[i], i, INGRESS, seen.sport, true);
    let mut bad_sum = good.clone();
    bad_sum[24] ^= 1;
    let (d, _) = m.ingress(UL, &from_node1(&bad_sum));
    assert_eq!(d, Decision::Drop(DropReason::BadIpChecksum));
    let mut bad_offset = good.clone();
    bad_offset[46] = 0x30 | (bad_offset[46] & 0x0f);
    let (d, _) = m.ingress(UL, &from_node1(&bad_offset));
    assert_eq!(d, Decision::Drop(DropReason::BadTcpDataOffset));
    assert!(!m.ct.entries(&CtFilter::all(), 10)[0].assured);
    let (d, _) = m.ingress(UL, &from_node1(&good));
    assert!(matches!(d, Decision::Route { .. }), "{d:?}");
}

/// The ACK flood: 4,608 spoofed mid-stream segments against a 4,096-entry
/// table used to become established connections for two hours, and refuse every
/// client after them. Now they are unassured: each new client evicts the oldest.
#[test]
fn a_spoofed_ack_flood_does_not_lock_out_new_clients() {
    let m = Mesh::new("snat");
    assert_eq!(m.ct.capacity(), 4096);
    let old = assured_connection(&m, 30000);
    for sport in 0..4608u16 {
        m.ingress(EXT, &client_tcp(1024 + sport, false, true, b"x"));
    }
    let s = m.ct.stats();
    assert_eq!(s.entries(), 4096, "the flood filled the table");
    assert_eq!(s.assured, 1);
    let mut admitted = 0;
    for sport in 0..20u16 {
        let (d, _) = m.ingress(EXT, &client_tcp(50000 + sport, true, false, &[]));
        if matches!(d, Decision::Forward { .. }) {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 20, "every new client is admitted");
    assert!(m.ct.stats().early_evicted >= 20 + 512);
    // The assured connection kept flowing through it all.
    let (d, b) = m.ingress(EXT, &client_tcp(30000, false, true, b"more"));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(tcp_of(b.data()).dst, Ipv4Addr::from(BACKENDS[old]));
    // The strangers that are left go after the SYN timeout, not the established one.
    let to = Timeouts::default();
    m.ct.sweep(10 + to.syn, |_| to, |_| {});
    assert_eq!(m.ct.len(), 1);
}

#[test]
fn snat_exhaustion_is_decided_once_a_second_not_per_packet() {
    let mut m = Mesh::new("snat");
    // Two source ports; "dns" has one backend.
    m.snat = RefCell::new(SnatSource::for_workers(5000, 5001, 1).unwrap().remove(0));
    for sport in [100, 101] {
        let (d, _) = m.ingress(EXT, &client_udp(sport));
        assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    }
    let (web, dns) = (&m.snap.services[0], &m.snap.services[1]);
    let exhausted = |si: u16, svc| {
        m.admission
            .service_exhausted(si, svc, m.snap.generation, 10)
    };
    assert!(!exhausted(1, dns));
    let (d, _) = m.ingress(EXT, &client_udp(102));
    assert_eq!(d, Decision::Drop(DropReason::SnatPortsExhausted));
    let walked = m.ct.stats().conflicts;
    assert!(walked > 0, "the first refusal searched");
    // Its one backend exhausted, the service is: new flows are refused before the
    // flow hash and the pick.
    assert!(exhausted(1, dns));
    assert!(!exhausted(0, web));
    for sport in 103..200 {
        let (d, _) = m.ingress(EXT, &client_udp(sport));
        assert_eq!(d, Decision::Drop(DropReason::SnatPortsExhausted));
    }
    assert_eq!(m.ct.stats().conflicts, walked, "the next ones did not");
    assert_eq!(m.ct.len(), 2);
    // Another backend is not affected; the next second searches again.
    let (d, _) = m.ingress(EXT, &client_tcp(7000, true, false, &[]));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    // The next second searches again, and the strangers' flows (never answered,
    // idle for a second) give up their ports.
    m.now.set(11);
    let (d, _) = m.ingress(EXT, &client_udp(300));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(m.ct.stats().early_evicted, 1);
}

#[test]
fn a_table_full_of_assured_connections_refuses_in_constant_time() {
    let mut m = Mesh::new("snat");
    m.ct = Conntrack::new(8, Timeouts::default());
    for sport in 0..8 {
        assured_connection(&m, 20000 + sport);
    }
    assert_eq!(m.ct.stats().assured, 8);
    let (d, _) = m.ingress(EXT, &client_tcp(21000, true, false, &[]));
    assert_eq!(d, Decision::Drop(DropReason::ConntrackFull));
    assert_eq!(m.ct.stats().refused, 1);
    for sport in 21001..21100 {
        let (d, _) = m.ingress(EXT, &client_tcp(sport, true, false, &[]));
        assert_eq!(d, Decision::Drop(DropReason::ConntrackFull));
    }
    assert_eq!(
        m.ct.stats().refused,
        1,
        "no insert tried for the rest of the second"
    );
    // Established traffic flows meanwhile.
    let (d, _) = m.ingress(EXT, &client_tcp(20003, false, true, b"x"));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    m.now.set(11);
    let (d, _) = m.ingress(EXT, &client_tcp(21200, true, false, &[]));
    assert_eq!(d, Decision::Drop(DropReason::ConntrackFull));
    assert_eq!(m.ct.stats().refused, 2, "tried again the next second");
}

#[test]
fn a_window_of_assured_connections_refuses_its_flow_not_the_table() {
    // Several seeds: which windows hold the stranger depends on the table's hash.
    for seed in 1..=4 {
        let mut m = Mesh::new("snat");
        m.ct = Conntrack::with_seed(64, Timeouts::default(), seed);
        let cap = m.ct.capacity();
        for sport in 0..cap as u16 - 1 {
            assured_connection(&m, 20000 + sport);
        }
        // One stranger: a SYN never answered, evictable.
        let (d, _) = m.ingress(EXT, &client_tcp(30000, true, false, &[]));
        assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
        assert_eq!((m.ct.len(), m.ct.stats().unassured()), (cap, 1));
        let now = m.ctx().now;
        let (mut full, mut admitted_after) = (0, 0);
        for sport in 31000..32000 {
            let (d, _) = m.ingress(EXT, &client_tcp(sport, true, false, &[]));
            match d {
                Decision::Drop(DropReason::ConntrackFull) => {
                    full += 1;
                    // The flow's window held only assured connections; the
                    // table still holds a stranger that another flow may evict.
                    assert!(
                        !m.admission.table_full(now),
                        "seed {seed}: table marked full"
                    );
                }
                Decision::Forward { .. } if full > 0 => admitted_after += 1,
                Decision::Forward { .. } => {}
                d => panic!("seed {seed}: {d:?}"),
            }
            assert_eq!(m.ct.stats().unassured(), 1, "seed {seed}");
        }
        assert!(full > 0, "seed {seed}: no window was all assured");
        assert!(
            admitted_after > 0,
            "seed {seed}: nothing admitted after a refusal"
        );
    }
}

#[test]
fn the_flood_guard_sheds_new_connections_not_established_ones() {
    let text = config("snat").replacen(
        "name = \"web\"",
        "name = \"web\"\nnew_connection_rate = 3",
        1,
    );
    let m = Mesh::with_config(&text);
    assert_eq!(m.snap.services[0].new_connection_rate, 3);
    for sport in 0..3 {
        let (d, _) = m.ingress(EXT, &client_tcp(9000 + sport, true, false, &[]));
        assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    }
    for sport in 3..50 {
        // SYNs and mid-stream pick-ups alike.
        let (d, _) = m.ingress(
            EXT,
            &client_tcp(9000 + sport, sport % 2 == 0, sport % 2 == 1, &[]),
        );
        assert_eq!(d, Decision::Drop(DropReason::NewConnectionRate));
    }
    assert_eq!(m.ct.len(), 3, "nothing made for the refused");
    // The admitted ones keep flowing; another service has its own budget.
    let (d, _) = m.ingress(EXT, &client_tcp(9001, false, true, b"x"));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    let (d, _) = m.ingress(EXT, &client_udp(53000));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    m.now.set(11);
    let (d, _) = m.ingress(EXT, &client_tcp(9100, true, false, &[]));
    assert!(
        matches!(d, Decision::Forward { .. }),
        "refilled the next second: {d:?}"
    );
    assert_eq!(
        m.ct.entries(&CtFilter::all().state(CtState::SynSent), 11)
            .len(),
        4
    );
}

/// The frame `f` (a client's or a backend's, IPv4 at 14) made a fragment: flags and
/// offset `flags_offset`, IP id 0x4242, its header checksum fixed.
fn fragment(mut f: Vec<u8>, flags_offset: u16) -> Vec<u8> {
    f[18..20].copy_from_slice(&0x4242u16.to_be_bytes());
    f[20..22].copy_from_slice(&flags_offset.to_be_bytes());
    fix_ip_checksum(&mut f);
    f
}

/// A later fragment (offset 8 x `offset`, last) of the datagram `first` belongs to:
/// the same IPv4 header, 24 bytes of payload.
fn later_of(first: &[u8], offset: u16) -> Vec<u8> {
    let mut f = first[..34].to_vec();
    f.extend_from_slice(&[0xab; 24]);
    f[16..18].copy_from_slice(&44u16.to_be_bytes());
    fragment(f, offset)
}

#[test]
fn every_fragment_of_a_datagram_reaches_the_backend_of_its_first() {
    let m = Mesh::new("snat");
    let mut first = client_udp(5353);
    first[38..40].copy_from_slice(&1000u16.to_be_bytes()); // the whole datagram's
    let first = fragment(first, 0x2000);
    let later = later_of(&first, 100);
    // A later fragment before its first: to be held, nothing made, nothing changed.
    let (d, mut held) = m.ingress(EXT, &later);
    assert_eq!(
        d,
        Decision::AwaitFirstFragment {
            from: MeshSide::Client
        }
    );
    assert_eq!(held.data(), &later[..]);
    assert_eq!(m.ct.len(), 0);
    let firsts = m.mesh_cache.first_fragments_remembered();
    let d = later_fragment(&m.ctx(), MeshSide::Client, &mut held);
    assert!(matches!(d, Decision::AwaitFirstFragment { .. }), "{d:?}");
    let (d, b1) = m.ingress(EXT, &first);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_ne!(m.mesh_cache.first_fragments_remembered(), firsts);
    // Given again (as the worker does when a first fragment was remembered), the
    // held one is translated like a later fragment that came in order.
    let d = later_fragment(&m.ctx(), MeshSide::Client, &mut held);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    let (d, b2) = m.ingress(EXT, &later);
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    assert_eq!(held.data(), b2.data(), "held or in order, the same frame");
    let (f1, f2) = (b1.data(), b2.data());
    assert_eq!(&f1[0..6], &f2[0..6], "the same backend MAC");
    assert_eq!(&f1[26..34], &f2[26..34], "the same source and destination");
    assert_eq!(&f2[26..30], &INGRESS, "SNAT");
    assert_eq!(&f2[30..34], &BACKENDS[0], "DNAT to dns's backend");
    assert_eq!(f2[22], 63, "a routed hop");
    assert_eq!(checksum::checksum(&f2[14..34]), 0, "header checksum");
    assert_eq!(&f2[34..], &[0xab; 24], "payload untouched");
    assert_eq!(m.ct.len(), 1);

    // The backend's answer, fragmented too, goes back to the client whole.
    let sport = u16::from_be_bytes([f1[34], f1[35]]);
    let mut reply = Vec::new();
    PacketBuilder::ethernet2(super::mesh_tests::backend_mac(0), super::mesh_tests::UL_MAC)
        .ipv4(BACKENDS[0], INGRESS, 64)
        .udp(53, sport)
        .write(&mut reply, b"answer")
        .unwrap();
    reply[38..40].copy_from_slice(&3000u16.to_be_bytes());
    let reply_first = fragment(reply, 0x2000);
    let reply_later = later_of(&reply_first, 300);
    for (what, frame) in [("first", &reply_first), ("later", &reply_later)] {
        let (d, b) = m.ingress(UL, &from_node1(frame));
        assert!(matches!(d, Decision::Route { .. }), "{what}: {d:?}");
        let f = b.data();
        assert_eq!(&f[26..30], &PUBLISHED, "{what}: from the published address");
        assert_eq!(
            &f[30..34],
            &super::mesh_tests::CLIENT,
            "{what}: to the client"
        );
        assert_eq!(checksum::checksum(&f[14..34]), 0, "{what}");
    }
    // Another datagram's later fragment (another id) is not translated: it waits.
    let mut stray = later_of(&first, 100);
    stray[18] = 0x77;
    fix_ip_checksum(&mut stray);
    let (d, _) = m.ingress(EXT, &stray);
    assert!(matches!(d, Decision::AwaitFirstFragment { .. }), "{d:?}");
}

#[test]
fn a_backends_later_fragment_before_its_first_waits_and_then_goes_to_the_client() {
    let m = Mesh::new("snat");
    let (d, b) = m.ingress(EXT, &client_udp(5353));
    assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
    let sport = u16::from_be_bytes([b.data()[34], b.data()[35]]);
    let mut reply = Vec::new();
    PacketBuilder::ethernet2(super::mesh_tests::backend_mac(0), super::mesh_tests::UL_MAC)
        .ipv4(BACKENDS[0], INGRESS, 64)
        .udp(53, sport)
        .write(&mut reply, b"answer")
        .unwrap();
    reply[38..40].copy_from_slice(&3000u16.to_be_bytes());
    let reply_first = fragment(reply, 0x2000);
    let reply_later = later_of(&reply_first, 300);
    let (d, mut held) = m.ingress(UL, &from_node1(&reply_later));
    assert_eq!(
        d,
        Decision::AwaitFirstFragment {
            from: MeshSide::Backend
        }
    );
    let (d, _) = m.ingress(UL, &from_node1(&reply_first));
    assert!(matches!(d, Decision::Route { .. }), "{d:?}");
    let d = later_fragment(&m.ctx(), MeshSide::Backend, &mut held);
    assert!(matches!(d, Decision::Route { .. }), "{d:?}");
    let f = held.data();
    assert_eq!(&f[26..30], &PUBLISHED);
    assert_eq!(&f[30..34], &super::mesh_tests::CLIENT);
    assert_eq!(checksum::checksum(&f[14..34]), 0);
    assert_eq!(&f[34..], &[0xab; 24], "payload untouched");
    // A stranger's fragment claiming to be the backend's: no connection, dropped.
    let mut stray = later_of(&reply_first, 300);
    stray[26..30].copy_from_slice(&[10, 255, 0, 99]);
    fix_ip_checksum(&mut stray);
    let (d, _) = m.ingress(UL, &from_node1(&stray));
    assert!(
        matches!(d, Decision::AwaitFirstFragment { .. } | Decision::Drop(_)),
        "{d:?}"
    );
}

/// Client frames of every kind the early refusal must tell apart: valid and
/// martian sources, published and unpublished ports, TCP flags, a tracked flow, a
/// bad header checksum, TTL 1, too big for the overlay.
fn refusal_frames() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let sources = [
        ("client", super::mesh_tests::CLIENT),
        ("martian", [0, 1, 2, 3]),
        ("own", PUBLISHED),
    ];
    for (sname, src) in sources {
        for dport in [80u16, 53, 81] {
            for sport in [40001u16, 40002] {
                let flag_sets: [(&str, u8); 6] = [
                    ("syn", 0x02),
                    ("ack", 0x10),
                    ("rst", 0x14),
                    ("synack", 0x12),
                    ("fin", 0x11),
                    ("udp", 0),
                ];
                for (fname, flags) in flag_sets {
                    for (vname, payload) in [("small", 10usize), ("big", 1460)] {
                        let mut v = Vec::new();
                        let b =
                            PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC).ipv4(src, PUBLISHED, 64);
                        if fname == "udp" {
                            b.udp(sport, dport)
                                .write(&mut v, &vec![0x55; payload])
                                .unwrap();
                        } else {
                            let mut t = b.tcp(sport, dport, 1000, 64240);
                            if flags & 0x02 != 0 {
                                t = t.syn();
                            }
                            if flags & 0x10 != 0 {
                                t = t.ack(1);
                            }
                            if flags & 0x04 != 0 {
                                t = t.rst();
                            }
                            if flags & 0x01 != 0 {
                                t = t.fin();
                            }
                            t.write(&mut v, &vec![0x55; payload]).unwrap();
                        }
                        let name = format!("{sname} {sport}->{dport} {fname} {vname}");
                        if vname == "small" && sname == "client" {
                            let mut bad = v.clone();
                            bad[24] ^= 0x21;
                            out.push((format!("{name} bad checksum"), bad));
                            let mut ttl1 = v.clone();
                            ttl1[22] = 1;
                            fix_ip_checksum(&mut ttl1);
                            out.push((format!("{name} ttl 1"), ttl1));
                        }
                        out.push((name, v));
                    }
                }
            }
        }
    }
    out
}

/// The early refusal (`mesh::refusal`) refuses only what the general path refuses,
/// for the same reason, and makes no connection: every frame above, under each
/// admission state (nothing refused yet, the flood guard's budget spent, every
/// backend's SNAT ports exhausted, the table full).
#[test]
fn the_early_refusal_refuses_as_the_general_path_does() {
    let guarded = config("snat").replacen(
        "name = \"web\"",
        "name = \"web\"\nnew_connection_rate = 1",
        1,
    );
    let mut seen = std::collections::HashSet::new();
    let mut refused = 0;
    let states = [
        "none",
        "spent",
        "snat_exhausted",
        "service_exhausted",
        "table_full",
    ];
    for state in states {
        for (name, frame) in refusal_frames() {
            let m = Mesh::with_config(&guarded);
            // A tracked connection: client port 40001 to web (takes web's budget).
            let (d, _) = m.ingress(EXT, &client_tcp(40001, true, false, &[]));
            assert!(matches!(d, Decision::Forward { .. }), "{d:?}");
            let now = m.ctx().now;
            match state {
                "spent" => {
                    let web = &m.snap.services[0];
                    assert!(!m.admission.take(0, web, now), "web's budget is 1");
                }
                "snat_exhausted" => {
                    for s in &m.snap.services {
                        for b in &s.backends {
                            m.admission.note_snat_exhausted(b.slot, now);
                        }
                    }
                }
                "service_exhausted" => {
                    let generation = m.snap.generation;
                    for (si, s) in m.snap.services.iter().enumerate() {
                        for b in &s.backends {
                            m.admission.note_service_backend_exhausted(
                                si as u16, s, generation, b.slot, now,
                            );
                        }
                        assert!(m.admission.service_exhausted(si as u16, s, generation, now));
                    }
                }
                "table_full" => m.admission.note_table_full(now),
                _ => {}
            }
            let ext = m.snap.external.as_ref().unwrap();
            warm_burst(&m.ctx(), EXT, std::iter::once(&frame[..]));
            let early = mesh::refusal(&m.ctx(), ext, &frame);
            let tracked = m.ct.len();
            let mut b = VecBuf::new(&frame);
            let full = external::ingress(&m.ctx(), ext, &mut b);
            if state == "none" {
                assert_eq!(early, None, "{name}: nothing refused yet, no early refusal");
            }
            if let Some(r) = early {
                refused += 1;
                seen.insert(r);
                assert_eq!(full, Some(Decision::Drop(r)), "{state}: {name}");
                assert_eq!(m.ct.len(), tracked, "{state}: {name}: a refusal made state");
            }
        }
    }
    for r in [
        DropReason::MartianSource,
        DropReason::NoService,
        DropReason::NewConnectionRate,
        DropReason::SnatPortsExhausted,
        DropReason::ConntrackFull,
    ] {
        assert!(
            seen.contains(&r),
            "no early refusal for {r:?} ({refused} in all)"
        );
    }
}
