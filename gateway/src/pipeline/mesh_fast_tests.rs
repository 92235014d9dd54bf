//! The routing mesh's fast path against the general path: on labs with established
//! connections (SNAT and preserve mode, TCP and UDP), the packets it takes end
//! exactly as the general path (warm-up, ingress, then the worker's egress or route)
//! ends them: bytes, port, pipeline and backend counters, connection states and
//! FDB; the packets it declines are untouched and change nothing.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;
use proptest::prelude::*;

use super::fast_path::{self, FastPort};
use super::mesh_tests::*;
use super::tests::{forward_egress, mutate};
use super::*;
use crate::tables::conntrack::{CtEntry, CtFilter, CtState, CtStats};
use crate::wire::MacAddr;

const NODE1: [u8; 4] = [172, 30, 0, 11];
/// The tracked TCP client port and UDP client port of every lab.
const TCP_PORT: u16 = 53711;
const UDP_PORT: u16 = 5353;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// A TCP frame with `flags`.
fn tcp(
    macs: ([u8; 6], [u8; 6]),
    (src, sport): ([u8; 4], u16),
    (dst, dport): ([u8; 4], u16),
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1000, 64240);
    for (bit, set) in [(FIN, 0), (SYN, 1), (RST, 2), (PSH, 3), (ACK, 4)] {
        if flags & bit != 0 {
            b = match set {
                0 => b.fin(),
                1 => b.syn(),
                2 => b.rst(),
                3 => b.psh(),
                _ => b.ack(1),
            };
        }
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

fn udp(macs: ([u8; 6], [u8; 6]), src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(src.0, dst.0, 64)
        .udp(src.1, dst.1)
        .write(&mut v, b"query")
        .unwrap();
    v
}

/// What a lab's connections look like from the backends' side.
#[derive(Clone, Copy)]
struct Flows {
    /// The TCP connection's backend (index into BACKENDS) and the address it sees
    /// the client as (the ingress endpoint and a SNAT port, or the client).
    tcp: (usize, ([u8; 4], u16)),
    /// The same for the UDP flow (service "dns", backend 0).
    udp: ([u8; 4], u16),
}

/// A lab in `mode` with an established TCP connection (handshake through the
/// general path) and a replied UDP flow, the backends' delivery cached for this
/// second, the client and node 1 resolved.
fn lab(mode: &str) -> (Mesh, Flows) {
    let m = Mesh::new(mode);
    m.neigh
        .learn(Ipv4Addr::from(CLIENT), MacAddr(CLIENT_MAC), 1);
    m.neigh.learn(Ipv4Addr::from(NODE1), MacAddr(NODE1_MAC), 1);
    let (_, syn) = m.ingress(EXT, &client_tcp(TCP_PORT, true, false, &[]));
    let seen = tcp_of(syn.data());
    let i = BACKENDS
        .iter()
        .position(|b| Ipv4Addr::from(*b) == seen.dst)
        .expect("a backend");
    let as_seen = (seen.src.octets(), seen.sport);
    m.ingress(
        UL,
        &from_node1(&backend_reply(BACKENDS[i], i, as_seen.0, as_seen.1, true)),
    );
    m.ingress(EXT, &client_tcp(TCP_PORT, false, true, &[]));
    let (_, q) = m.ingress(EXT, &client_udp(UDP_PORT));
    let q = q.data();
    let udp_seen = (
        [q[26], q[27], q[28], q[29]],
        u16::from_be_bytes([q[34], q[35]]),
    );
    let flows = Flows {
        tcp: (i, as_seen),
        udp: udp_seen,
    };
    let (d, _) = m.ingress(UL, &reply_udp(flows));
    assert!(matches!(d, Decision::Route { .. }), "{mode}: {d:?}");
    let states: Vec<CtState> =
        m.ct.entries(&CtFilter::all(), 10)
            .iter()
            .map(|e| e.state)
            .collect();
    assert_eq!(states.len(), 2, "{mode}: {states:?}");
    assert!(states.contains(&CtState::Established), "{mode}: {states:?}");
    assert!(states.contains(&CtState::UdpReplied), "{mode}: {states:?}");
    (m, flows)
}

/// The client's packet of the tracked TCP connection with `flags`.
fn client_seg(flags: u8, payload: &[u8]) -> Vec<u8> {
    tcp(
        (CLIENT_MAC, EXT_MAC),
        (CLIENT, TCP_PORT),
        (PUBLISHED, 80),
        flags,
        payload,
    )
}

/// The backend's packet of the tracked TCP connection with `flags`, as VXLAN.
fn backend_seg(f: Flows, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (i, to) = f.tcp;
    from_node1(&tcp(
        (backend_mac(i), UL_MAC),
        (BACKENDS[i], 80),
        to,
        flags,
        payload,
    ))
}

/// The backend's answer to the tracked UDP flow, as VXLAN.
fn reply_udp(f: Flows) -> Vec<u8> {
    from_node1(&udp((backend_mac(0), UL_MAC), (BACKENDS[0], 53), f.udp))
}

/// The fast path on a burst of one frame, as the worker runs it.
fn fast(m: &Mesh, port: u16, frame: &[u8]) -> (Option<u16>, VecBuf) {
    let mut b = VecBuf::new(frame);
    let ctx = m.ctx();
    warm_burst(&ctx, port, std::iter::once(frame));
    m.mesh_cache.set_current(0);
    let to = fast_path::forward(&ctx, FastPort::of(&m.snap, port), port, &mut b);
    (to, b)
}

/// The general path on a burst of one frame: warm-up, ingress, then what the worker
/// does with a forwarding or routing decision (`None` for any other).
fn general(m: &Mesh, port: u16, frame: &[u8]) -> (Option<u16>, VecBuf) {
    let mut b = VecBuf::new(frame);
    let ctx = m.ctx();
    warm_burst(&ctx, port, std::iter::once(frame));
    m.mesh_cache.set_current(0);
    let to = match ingress(&ctx, port, &mut b) {
        Decision::Route { port, next_hop } => m.neigh.lookup(next_hop).map(|mac| {
            b.data_mut()[0..6].copy_from_slice(&mac.0);
            port
        }),
        d => forward_egress(&ctx, d, &mut b),
    };
    (to, b)
}

/// Everything a packet may change in a lab.
#[derive(Debug, PartialEq)]
struct State {
    events: Vec<u64>,
    drops: u64,
    backends: Vec<u64>,
    conns: Vec<CtEntry>,
    ct: CtStats,
    fdb: Vec<Option<crate::tables::fdb::FdbDest>>,
}

fn state(m: &Mesh, frame: &[u8]) -> State {
    use BackendStat::*;
    let slots = m
        .snap
        .services
        .iter()
        .flat_map(|s| s.backends.iter().map(|b| b.slot));
    let macs = [0, 6, 50, 56]
        .into_iter()
        .filter_map(|o| frame.get(o..o + 6));
    State {
        events: Event::ALL.iter().map(|&e| m.counters.events(e)).collect(),
        drops: m.counters.total_drops(),
        backends: slots
            .flat_map(|s| {
                [Connections, PacketsIn, BytesIn, PacketsOut, BytesOut]
                    .map(|st| m.backends.get(s, st))
            })
            .collect(),
        conns: m.ct.entries(&CtFilter::all(), 10),
        ct: m.ct.stats(),
        fdb: macs
            .map(|mac| m.fdb.lookup(4096, MacAddr(mac.try_into().unwrap())))
            .collect(),
    }
}

/// Checks one frame on fresh labs of `mode`; returns whether the fast path took it.
fn check(mode: &str, port: u16, frame: &[u8]) -> Result<bool, TestCaseError> {
    let ((a, _), (b, _)) = (lab(mode), lab(mode));
    let before = state(&a, frame);
    let (fast_to, fast_buf) = fast(&a, port, frame);
    match fast_to {
        Some(to) => {
            let (gen_to, gen_buf) = general(&b, port, frame);
            prop_assert_eq!(gen_to, Some(to), "the general path sends it elsewhere");
            prop_assert_eq!(fast_buf, gen_buf, "different bytes");
            prop_assert_eq!(state(&a, frame), state(&b, frame), "different state");
            Ok(true)
        }
        None => {
            prop_assert_eq!(fast_buf, VecBuf::new(frame), "declined but changed");
            prop_assert_eq!(state(&a, frame), before, "declined but counted or tracked");
            Ok(false)
        }
    }
}

#[test]
fn rewrite_checked_is_rewrite() {
    let frames = [
        client_seg(ACK, b"GET /"),
        client_udp(UDP_PORT),
        udp((CLIENT_MAC, EXT_MAC), (CLIENT, 9), (PUBLISHED, 53)),
    ];
    let addrs = [
        (None, Some((Ipv4Addr::new(10, 255, 0, 11), 8080))),
        (
            Some((Ipv4Addr::new(10, 255, 0, 2), 1024)),
            Some((Ipv4Addr::new(10, 255, 0, 12), 80)),
        ),
        (Some((Ipv4Addr::new(192, 0, 2, 1), 80)), None),
    ];
    for f in &frames {
        for (src, dst) in addrs {
            let mut general = f[14..].to_vec();
            nat::rewrite(&mut general, src, dst, true).unwrap();
            let mut checked = f[14..].to_vec();
            if checked[9] == 6 {
                let ip = checked
                    .first_chunk_mut::<{ nat::CHECKED_TCP_LEN }>()
                    .unwrap();
                nat::rewrite_checked(ip, src, dst);
            } else {
                let ip = checked
                    .first_chunk_mut::<{ nat::CHECKED_UDP_LEN }>()
                    .unwrap();
                nat::rewrite_checked(ip, src, dst);
            }
            assert_eq!(checked, general, "{src:?} {dst:?} {f:02x?}");
        }
    }
    // A UDP checksum of 0 (none) stays 0.
    let mut f = client_udp(UDP_PORT)[14..].to_vec();
    f[26..28].copy_from_slice(&[0, 0]);
    let ip = f.first_chunk_mut::<{ nat::CHECKED_UDP_LEN }>().unwrap();
    nat::rewrite_checked(ip, addrs[1].0, addrs[1].1);
    assert_eq!(&f[26..28], &[0, 0]);
}

#[test]
fn established_traffic_takes_the_fast_path_both_ways_and_matches_the_general_path() {
    for mode in ["snat", "preserve"] {
        let (_, f) = lab(mode);
        let taken = [
            (EXT, client_seg(ACK, b"GET /")),
            (EXT, client_seg(ACK | PSH, &[7; 1000])),
            (EXT, client_seg(ACK | FIN, &[])),
            (EXT, client_udp(UDP_PORT)),
            (UL, backend_seg(f, ACK, b"hello")),
            (UL, backend_seg(f, ACK | FIN, &[])),
            (UL, reply_udp(f)),
            // From a MAC the FDB does not have yet: learned against node 1.
            (UL, {
                let mut x = backend_seg(f, ACK, b"moved");
                x[56 + 5] = 0x99;
                x
            }),
        ];
        for (port, frame) in &taken {
            let took = check(mode, *port, frame)
                .unwrap_or_else(|e| panic!("{mode}: {e}: port {port} frame {frame:02x?}"));
            assert!(took, "{mode}: not taken: port {port} frame {frame:02x?}");
        }
        let mut ttl1 = client_seg(ACK, b"x");
        ttl1[22] = 1;
        ttl1[24..26].copy_from_slice(&[0, 0]);
        let sum = crate::wire::checksum::sum(&ttl1[14..34]);
        ttl1[24..26].copy_from_slice(&(!sum).to_be_bytes());
        let declined = [
            // SYNs (MSS clamp, new connections), an unknown flow, a TTL about to
            // expire, too big for the overlay, a packet to another MAC.
            (EXT, client_seg(SYN, &[])),
            (EXT, client_seg(SYN | ACK, &[])),
            (
                EXT,
                tcp(
                    (CLIENT_MAC, EXT_MAC),
                    (CLIENT, 1),
                    (PUBLISHED, 80),
                    ACK,
                    &[],
                ),
            ),
            (EXT, ttl1),
            (EXT, client_seg(ACK, &[0; 1500 - 40 - 49])),
            (EXT, {
                let mut x = client_seg(ACK, &[]);
                x[0] ^= 0x10;
                x
            }),
            // A reply to an unknown flow, a SYN from the backend.
            (
                UL,
                from_node1(&tcp(
                    (backend_mac(0), UL_MAC),
                    (BACKENDS[0], 80),
                    (CLIENT, 2),
                    ACK,
                    &[],
                )),
            ),
            (UL, backend_seg(f, SYN | ACK, &[])),
            // Resets, both ways: a backend's RST to a SYN may be withheld there
            // (`mesh::another_may_answer`), which the fast path does not decide.
            (EXT, client_seg(RST, &[])),
            (UL, backend_seg(f, RST | ACK, &[])),
        ];
        for (port, frame) in &declined {
            let took = check(mode, *port, frame)
                .unwrap_or_else(|e| panic!("{mode}: {e}: port {port} frame {frame:02x?}"));
            assert!(!took, "{mode}: taken: port {port} frame {frame:02x?}");
        }
    }
}

#[test]
fn a_backend_not_resolved_this_second_or_a_stale_hit_goes_the_general_way() {
    let (m, _) = lab("snat");
    // A new second: the backends' cached delivery is not used.
    let frame = client_seg(ACK, b"x");
    let mut ctx = m.ctx();
    ctx.now = 11;
    let mut b = VecBuf::new(&frame);
    warm_burst(&ctx, EXT, std::iter::once(frame.as_slice()));
    m.mesh_cache.set_current(0);
    assert_eq!(
        fast_path::forward(&ctx, FastPort::of(&m.snap, EXT), EXT, &mut b),
        None
    );
    assert_eq!(b, VecBuf::new(&frame));
    // The connection goes between the warm-up and the packet: declined, untouched.
    let (m, _) = lab("snat");
    let ctx = m.ctx();
    warm_burst(&ctx, EXT, std::iter::once(frame.as_slice()));
    m.mesh_cache.set_current(0);
    assert_eq!(m.ct.flush(&CtFilter::all()), 2);
    let mut b = VecBuf::new(&frame);
    assert_eq!(
        fast_path::forward(&ctx, FastPort::of(&m.snap, EXT), EXT, &mut b),
        None
    );
    assert_eq!(b, VecBuf::new(&frame));
    assert_eq!(m.counters.events(Event::MeshToBackend), 3, "the lab's own");
}

/// The fast path trusts the warm-up's check of each frame (it does not parse the
/// client's headers again), so that check must be the current burst's: a frame the
/// warm-up found not plain is declined even at the position where a plain frame of
/// the same connection stood in the burst before, whose hit and mark are gone.
#[test]
fn the_warm_ups_check_of_a_client_packet_holds_for_its_own_burst_only() {
    let (m, _) = lab("snat");
    let plain = client_seg(ACK, b"x");
    let ctx = m.ctx();
    warm_burst(&ctx, EXT, std::iter::once(plain.as_slice()));
    // The same connection's next packet with TTL 1: not plain (the general path
    // answers it with an ICMP time exceeded), though it has the same key.
    let mut expiring = plain.clone();
    expiring[14 + 8] = 1;
    warm_burst(&ctx, EXT, std::iter::once(expiring.as_slice()));
    m.mesh_cache.set_current(0);
    let mut b = VecBuf::new(&expiring);
    assert_eq!(
        fast_path::forward(&ctx, FastPort::of(&m.snap, EXT), EXT, &mut b),
        None
    );
    assert_eq!(b, VecBuf::new(&expiring));
    // A burst on a port the warm-up does not look up (here: no port at all) clears
    // the marks too.
    warm_burst(&ctx, EXT, std::iter::once(plain.as_slice()));
    warm_burst(&ctx, 7, std::iter::once(plain.as_slice()));
    m.mesh_cache.set_current(0);
    let mut b = VecBuf::new(&plain);
    assert_eq!(
        fast_path::forward(&ctx, FastPort::External, EXT, &mut b),
        None
    );
    // And the plain packet in its own burst is taken.
    warm_burst(&ctx, EXT, std::iter::once(plain.as_slice()));
    m.mesh_cache.set_current(0);
    assert_eq!(
        fast_path::forward(&ctx, FastPort::of(&m.snap, EXT), EXT, &mut b),
        Some(UL)
    );
}

/// A whole burst is warmed, not only the conntrack's lookup chunk: the packet at
/// every position of a full burst (here one connection's, `MAX_BURST` times) finds
/// its warmed hit, the last as the first.
#[test]
fn every_position_of_a_full_burst_is_warmed() {
    let (m, _) = lab("snat");
    let plain = client_seg(ACK, b"x");
    let ctx = m.ctx();
    warm_burst(&ctx, EXT, std::iter::repeat_n(plain.as_slice(), MAX_BURST));
    for i in 0..MAX_BURST {
        m.mesh_cache.set_current(i);
        let mut b = VecBuf::new(&plain);
        assert_eq!(
            fast_path::forward(&ctx, FastPort::of(&m.snap, EXT), EXT, &mut b),
            Some(UL),
            "position {i}"
        );
    }
    // A position beyond the burst has no hit.
    m.mesh_cache.set_current(MAX_BURST);
    let mut b = VecBuf::new(&plain);
    assert_eq!(
        fast_path::forward(&ctx, FastPort::of(&m.snap, EXT), EXT, &mut b),
        None
    );
}

/// The base frames the property test mutates.
fn base(f: Flows, which: u8) -> (u16, Vec<u8>) {
    match which {
        0 => (EXT, client_seg(ACK, b"GET /")),
        1 => (EXT, client_seg(ACK | FIN, &[])),
        2 => (EXT, client_udp(UDP_PORT)),
        3 => (UL, backend_seg(f, ACK, b"hello")),
        4 => (UL, backend_seg(f, FIN | ACK, &[])),
        _ => (UL, reply_udp(f)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    /// Established packets both ways, then up to three bytes overwritten anywhere
    /// and a length change: whatever the fast path takes, it does as the general
    /// path would; whatever it declines, it leaves alone.
    #[test]
    fn mesh_fast_path_matches_the_general_path(
        preserve in any::<bool>(),
        which in 0u8..6,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        resize in -8i32..8,
        wrong_port in prop::bool::weighted(0.1),
    ) {
        let mode = if preserve { "preserve" } else { "snat" };
        let (_, f) = lab(mode);
        let (port, mut frame) = base(f, which);
        mutate(&mut frame, edits, resize);
        let port = if wrong_port { UL + EXT - port } else { port };
        check(mode, port, &frame)?;
    }
}
