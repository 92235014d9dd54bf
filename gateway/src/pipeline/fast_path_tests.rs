//! The fast path against the general path: the frames it takes leave exactly what
//! the general path (ingress, then the worker's egress) leaves, the bytes, the port,
//! the counters and the FDB; the frames it declines are untouched and nothing was
//! learned or counted for them.

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::fast_path::{self, FastPort};
use super::tests::*;
use super::*;
use crate::tables::fdb::{FdbDest, NO_LIMIT};
use crate::wire::MacAddr;

/// Untagged on the access port.
const SRV0: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x65];
const UNKNOWN: [u8; 6] = [0x02, 0x77, 0, 0, 0, 0x01];

/// A lab with known MACs on every side: SRV (access, VLAN 100), SRV0 (access,
/// untagged), C1 behind node1 (next hop resolved), C3 behind node2 (next hop not
/// resolved).
fn lab() -> Lab {
    let lab = Lab::new();
    let acc = |vlan| FdbDest::Access { port: ACC, vlan };
    let vtep = |ip| FdbDest::Vtep(Ipv4Addr::from(ip));
    for (mac, dest) in [
        (SRV, acc(100)),
        (SRV0, acc(0)),
        (C1, vtep(NODE1)),
        (C3, vtep(NODE2)),
    ] {
        lab.fdb.learn(4096, MacAddr(mac), dest, 10, NO_LIMIT);
    }
    lab.neigh
        .learn(Ipv4Addr::from(NODE1), MacAddr(NODE1_MAC), 10);
    lab
}

/// The fast path on `frame` received on `port`.
fn fast(lab: &Lab, port: u16, frame: &[u8]) -> (Option<u16>, VecBuf) {
    let mut b = VecBuf::new(frame);
    let ctx = lab.ctx();
    let to = fast_path::forward(&ctx, FastPort::of(&lab.snap, port), port, &mut b);
    (to, b)
}

/// What the worker does without the fast path: ingress, then the egress of a
/// forwarding decision (`None` for every other decision).
fn general(lab: &Lab, port: u16, frame: &[u8]) -> (Option<u16>, VecBuf) {
    let mut b = VecBuf::new(frame);
    let ctx = lab.ctx();
    let d = ingress(&ctx, port, &mut b);
    let to = forward_egress(&ctx, d, &mut b);
    (to, b)
}

/// Every event and drop counter of a lab.
fn counts(lab: &Lab) -> Vec<u64> {
    let events = Event::ALL.iter().map(|&e| lab.counters.events(e));
    events.chain([lab.counters.total_drops()]).collect()
}

/// Where each MAC of `macs` is in each VNI.
fn fdb_view(lab: &Lab, macs: &[[u8; 6]]) -> Vec<Option<FdbDest>> {
    let mut v = Vec::new();
    for vni in [4096, 5000] {
        for &m in macs {
            v.push(lab.fdb.lookup(vni, MacAddr(m)));
        }
    }
    v
}

/// Checks one frame on fresh labs; returns whether the fast path took it.
fn check(port: u16, frame: &[u8]) -> Result<bool, TestCaseError> {
    check_after(port, None, frame)
}

/// [`check`] on labs that have seen `primer` first (if any), on the lab the fast path
/// runs on the worker's way (the fast path, else the general path): `frame` may then
/// hit what `primer` left in the worker's caches, the encap actions.
fn check_after(port: u16, primer: Option<&[u8]>, frame: &[u8]) -> Result<bool, TestCaseError> {
    let primed = || {
        let lab = lab();
        if let Some(p) = primer {
            general(&lab, port, p);
        }
        lab
    };
    let (a, b) = (lab(), primed());
    if let Some(p) = primer {
        if fast(&a, port, p).0.is_none() {
            general(&a, port, p);
        }
    }
    let (fast_to, fast_buf) = fast(&a, port, frame);
    let macs: Vec<[u8; 6]> = [0, 6, 50, 56]
        .iter()
        .filter_map(|&o| frame.get(o..o + 6))
        .map(|m| m.try_into().unwrap())
        .collect();
    match fast_to {
        Some(to) => {
            let (gen_to, gen_buf) = general(&b, port, frame);
            prop_assert_eq!(gen_to, Some(to), "the general path sends it elsewhere");
            prop_assert_eq!(fast_buf, gen_buf, "different bytes");
            prop_assert_eq!(counts(&a), counts(&b), "different counters");
            prop_assert_eq!(fdb_view(&a, &macs), fdb_view(&b, &macs), "different FDB");
            Ok(true)
        }
        None => {
            prop_assert_eq!(fast_buf, VecBuf::new(frame), "declined but changed");
            prop_assert_eq!(counts(&a), counts(&primed()), "declined but counted");
            prop_assert_eq!(
                fdb_view(&a, &macs),
                fdb_view(&primed(), &macs),
                "declined but learned"
            );
            Ok(false)
        }
    }
}

/// An inner frame from `src` to `dst` with `payload` bytes of UDP payload.
fn inner(src: [u8; 6], dst: [u8; 6], payload: usize) -> Vec<u8> {
    let mut f = inner_udp(src, dst, 7);
    f.resize(f.len() - 40 + payload, 0xab);
    f
}

#[test]
fn fast_path_takes_known_unicast_both_ways_and_matches_the_general_path() {
    let vx = |from, vni, f: &[u8]| vxlan_from(from, vni, 0x08, f);
    let taken = [
        (ACC, inner(SRV0, C1, 40)),
        (ACC, tagged(&inner(SRV, C1, 40), 100)),
        (UL, vx(NODE1, 4096, &inner(C1, SRV0, 40))),
        (UL, vx(NODE1, 4096, &inner(C1, SRV, 40))),
        (UL, vx(NODE2, 4096, &inner(C3, SRV, 40))),
    ];
    for (port, f) in &taken {
        let took = check(*port, f).unwrap_or_else(|e| panic!("{e}: port {port} frame {f:02x?}"));
        assert!(took, "not taken: port {port} frame {f:02x?}");
    }
    let declined = [
        // Broadcast, unknown destination, next hop unresolved, VLAN not mapped,
        // an 802.1ad tag.
        (ACC, inner(SRV0, [0xff; 6], 40)),
        (ACC, inner(SRV0, UNKNOWN, 40)),
        (ACC, inner(SRV0, C3, 40)),
        (ACC, tagged(&inner(SRV, C1, 40), 300)),
        (ACC, {
            let mut f = tagged(&inner(SRV, C1, 40), 100);
            f[12..14].copy_from_slice(&[0x88, 0xa8]);
            f
        }),
        // Too big for the underlay once encapsulated.
        (ACC, inner(SRV0, C1, 1500 - 28)),
        // ARP, VXLAN without the I flag, from an unknown VTEP, unknown VNI, split
        // horizon.
        (ACC, arp_request(SRV0, [10, 255, 0, 100], [10, 255, 0, 11])),
        (UL, vxlan_from(NODE1, 4096, 0x00, &inner(C1, SRV, 40))),
        (UL, vx([172, 30, 0, 99], 4096, &inner(C1, SRV, 40))),
        (UL, vx(NODE1, 7, &inner(C1, SRV, 40))),
        (UL, vx(NODE1, 4096, &inner(C1, C3, 40))),
        // Bytes after the outer packet: the general path trims them.
        (UL, {
            let mut f = vx(NODE1, 4096, &inner(C1, SRV, 40));
            f.extend_from_slice(&[0xee; 4]);
            f
        }),
    ];
    for (port, f) in &declined {
        let took = check(*port, f).unwrap_or_else(|e| panic!("{e}: port {port} frame {f:02x?}"));
        assert!(!took, "taken: port {port} frame {f:02x?}");
    }
    // ARP to a destination that has an encap action (made for the frame before) is
    // still the general path's: vxgw may answer it.
    let mut arp = arp_request(SRV0, [10, 255, 0, 100], [10, 255, 0, 11]);
    arp[0..6].copy_from_slice(&C1);
    let primer = inner(SRV0, C1, 40);
    let took = check_after(ACC, Some(&primer), &arp).unwrap_or_else(|e| panic!("{e}: ARP"));
    assert!(!took, "unicast ARP taken");
}

/// An encap action holds for the round it was made in and no longer once what it
/// was made from changes: the next hop's MAC (a new one, then none), the FDB (a
/// move). Each `lab.ctx()` is a new poll round.
#[test]
fn an_encap_action_ends_with_what_it_was_made_from() {
    let lab = lab();
    let frame = inner(SRV0, C1, 40);
    let outer_dst = |lab: &Lab| {
        let (to, b) = fast(lab, ACC, &frame);
        to.map(|_| (b.data()[0..6].to_vec(), b.data()[30..34].to_vec()))
    };
    let node1 = Some((NODE1_MAC.to_vec(), NODE1.to_vec()));
    assert_eq!(outer_dst(&lab), node1);
    assert_eq!(outer_dst(&lab), node1, "kept, and used");
    let new_mac = [0x02, 0, 0, 0, 0x11, 0x99];
    lab.neigh.learn(Ipv4Addr::from(NODE1), MacAddr(new_mac), 11);
    assert_eq!(outer_dst(&lab), Some((new_mac.to_vec(), NODE1.to_vec())));
    lab.neigh.invalidate(Ipv4Addr::from(NODE1));
    assert_eq!(
        outer_dst(&lab),
        None,
        "next hop unresolved: the general path's"
    );
    lab.neigh
        .learn(Ipv4Addr::from(NODE1), MacAddr(NODE1_MAC), 12);
    assert_eq!(outer_dst(&lab), node1);
    // C1 moves behind node2, whose next hop resolves to node1's MAC here.
    lab.neigh
        .learn(Ipv4Addr::from(NODE2), MacAddr(NODE1_MAC), 12);
    lab.fdb.learn(
        4096,
        MacAddr(C1),
        FdbDest::Vtep(Ipv4Addr::from(NODE2)),
        12,
        NO_LIMIT,
    );
    assert_eq!(outer_dst(&lab), Some((NODE1_MAC.to_vec(), NODE2.to_vec())));
    // Within one round, a change is not seen before the next (as the worker's other
    // per-round caches): the action made before it stands.
    let ctx = lab.ctx();
    let mut b = VecBuf::new(&frame);
    let fp = FastPort::of(&lab.snap, ACC);
    assert!(fast_path::forward(&ctx, fp, ACC, &mut b).is_some());
    lab.fdb.learn(
        4096,
        MacAddr(C1),
        FdbDest::Vtep(Ipv4Addr::from(NODE1)),
        13,
        NO_LIMIT,
    );
    let mut b = VecBuf::new(&frame);
    assert!(fast_path::forward(&ctx, fp, ACC, &mut b).is_some());
    assert_eq!(&b.data()[30..34], &NODE2, "the round's action");
    assert_eq!(outer_dst(&lab), node1, "the next round's");
}

/// A MAC that this worker moves within a round (a frame from it arrives on the
/// access port) is not sent on to where it was by the round's encap action: the
/// general path would find it on the access port (fuzz/regressions/access).
#[test]
fn a_mac_moved_within_the_round_forgets_its_encap_action() {
    let lab = lab();
    let ctx = lab.ctx();
    let fp = FastPort::of(&lab.snap, ACC);
    let to_c1 = inner(SRV0, C1, 40);
    let mut b = VecBuf::new(&to_c1);
    assert!(fast_path::forward(&ctx, fp, ACC, &mut b).is_some(), "made");
    // C1 now speaks from the access port, in the same round.
    let mut from_c1 = VecBuf::new(&inner(C1, SRV, 40));
    assert!(fast_path::forward(&ctx, fp, ACC, &mut from_c1).is_none());
    let d = ingress(&ctx, ACC, &mut from_c1);
    forward_egress(&ctx, d, &mut from_c1);
    assert_eq!(
        lab.fdb.lookup(4096, MacAddr(C1)),
        Some(FdbDest::Access { port: ACC, vlan: 0 })
    );
    let mut b = VecBuf::new(&to_c1);
    assert_eq!(fast_path::forward(&ctx, fp, ACC, &mut b), None, "forgotten");
    assert_eq!(
        ingress(&ctx, ACC, &mut b),
        Decision::Drop(DropReason::SameSegment)
    );
}

/// `packet` with the outer IPv4 flags and fragment offset set to `frag`, its
/// header checksum still right.
fn with_outer_frag(mut packet: Vec<u8>, frag: u16) -> Vec<u8> {
    packet[20..22].copy_from_slice(&frag.to_be_bytes());
    packet[24..26].copy_from_slice(&[0, 0]);
    let sum = crate::wire::checksum::sum(&packet[14..34]);
    packet[24..26].copy_from_slice(&(!sum).to_be_bytes());
    packet
}

/// A burst mixing VNIs, VTEPs and sides, through one context (one burst cache, as
/// the worker runs it: fast path, else the general path) gives what each frame gives
/// on its own through the general path.
/// Frames that still carry a tag inside their VNI are the general path's (it drops
/// them): a decapsulated one to a known access MAC, an access frame tagged twice.
#[test]
fn the_fast_path_leaves_frames_tagged_twice_to_the_general_path() {
    let lab = lab();
    let frame = vxlan_from(NODE1, 4096, 0x08, &tagged(&inner(C1, SRV0, 20), 200));
    let (to, b) = fast(&lab, UL, &frame);
    assert_eq!((to, b.data()), (None, &frame[..]));
    let twice = tagged(&tagged(&inner(SRV, C1, 20), 200), 100);
    let (to, b) = fast(&lab, ACC, &twice);
    assert_eq!((to, b.data()), (None, &twice[..]));
    assert!(!check(UL, &frame).unwrap());
    assert!(!check(ACC, &twice).unwrap());
}

#[test]
fn a_mixed_burst_through_one_context_matches_frame_by_frame() {
    let setup = || {
        let lab = lab();
        let srv_200 = FdbDest::Access {
            port: ACC,
            vlan: 200,
        };
        lab.fdb.learn(5000, MacAddr(SRV), srv_200, 10, NO_LIMIT);
        lab
    };
    let vx = |from, vni, f: &[u8]| vxlan_from(from, vni, 0x08, f);
    let burst = [
        (UL, vx(NODE1, 4096, &inner(C1, SRV0, 40))),
        (UL, vx(NODE1, 5000, &inner(C1, SRV, 40))),
        (UL, vx(NODE1, 7, &inner(C1, SRV, 40))),
        (UL, vx(NODE2, 4096, &inner(C3, SRV, 40))),
        (UL, vx(NODE1, 5000, &inner(C1, SRV, 40))),
        (UL, vx(NODE1, 4096, &inner(C1, SRV, 40))),
        (ACC, inner(SRV0, C1, 40)),
        (ACC, inner(SRV0, C3, 40)),
        (ACC, tagged(&inner(SRV, C1, 40), 100)),
        (UL, vx([172, 30, 0, 99], 4096, &inner(C1, SRV, 40))),
        (UL, vx(NODE1, 4096, &inner(C1, SRV0, 40))),
    ];
    let (a, b) = (setup(), setup());
    let ctx = a.ctx();
    let mut taken = 0;
    for (port, f) in &burst {
        let mut buf = VecBuf::new(f);
        let fast = fast_path::forward(&ctx, FastPort::of(&a.snap, *port), *port, &mut buf);
        let (expect_to, expect_buf) = general(&b, *port, f);
        match fast {
            Some(to) => {
                taken += 1;
                assert_eq!((Some(to), &buf), (expect_to, &expect_buf), "frame {f:02x?}");
            }
            None => {
                assert_eq!(buf, VecBuf::new(f), "declined but changed");
                let (to, gen_buf) = general(&a, *port, f);
                assert_eq!((to, gen_buf), (expect_to, expect_buf), "frame {f:02x?}");
            }
        }
    }
    assert_eq!(taken, 8, "the known unicast frames take the fast path");
    assert_eq!(counts(&a), counts(&b));
}

/// MACs the generated frames use: known on each side, unknown, group, zero.
fn mac_pool() -> impl Strategy<Value = [u8; 6]> {
    prop::sample::select(vec![
        SRV,
        SRV0,
        C1,
        C3,
        UNKNOWN,
        [0xff; 6],
        [0x01, 0, 0x5e, 0, 0, 1],
        [0; 6],
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// Generated access frames and VXLAN packets, then up to three bytes
    /// overwritten anywhere and a length change: whatever the fast path takes, it
    /// does as the general path would; whatever it declines, it leaves alone.
    #[test]
    fn fast_path_matches_the_general_path(
        kind in 0u8..3,
        src in mac_pool(),
        dst in mac_pool(),
        // 2148 is not mapped, but its low 11 bits are VLAN 100's.
        vid in prop::sample::select(vec![0u16, 100, 200, 300, 2148]),
        // Priority and drop-eligible bits of the tag: not part of the VLAN.
        pcp_dei in prop::sample::select(vec![0u16, 0xa000, 0x1000]),
        from in prop::sample::select(vec![NODE1, NODE2, [172, 30, 0, 99]]),
        vni in prop::sample::select(vec![4096u32, 5000, 7]),
        arp in any::<bool>(),
        flags in prop::sample::select(vec![0x08u8, 0x00, 0x0c]),
        frag in prop::sample::select(vec![0u16, 0x4000, 0x2000, 0x0001]),
        tpid in prop::sample::select(vec![[0x81u8, 0x00], [0x88, 0xa8]]),
        payload in prop::sample::select(vec![0usize, 18, 40, 1000, 1500]),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        resize in -8i32..8,
        wrong_port in prop::bool::weighted(0.1),
    ) {
        let mut f = inner(src, dst, payload);
        if arp {
            f[12..14].copy_from_slice(&[0x08, 0x06]);
        }
        let (mut f, port) = match kind {
            0 => (f, ACC),
            1 => {
                let mut t = tagged(&f, vid | pcp_dei);
                t[12..14].copy_from_slice(&tpid);
                (t, ACC)
            }
            _ => (with_outer_frag(vxlan_from(from, vni, flags, &f), frag), UL),
        };
        let primer = f.clone();
        mutate(&mut f, edits, resize);
        let port = if wrong_port { UL + ACC - port } else { port };
        check(port, &f)?;
        // The same after the unchanged frame, which may have left an encap action
        // that the changed one looks up.
        check_after(port, Some(&primer), &f)?;
    }
}
