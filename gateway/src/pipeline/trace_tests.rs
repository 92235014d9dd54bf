//! The dry trace against the pipeline itself: for every frame of the property
//! corpora (the overlay's and the routing mesh's, mutated), a dry run decides what
//! the worker's run of the same frame on the same tables then decides, and leaves
//! the shared tables (FDB, neighbours, connections) exactly as they were. And the
//! steps a trace records name the decision points the packet passed.

use super::mesh_tests::{
    client_tcp, from_node1, mesh_corpus, Mesh, BACKENDS, EXT, INGRESS, MESH_SEEDS,
};
use super::tests::{inner_udp, Lab, ACC, UL as LAB_UL};
use super::*;
use crate::tables::conntrack::{CtFilter, Dir};
use crate::tables::fdb::{FdbDest, FdbFilter};
use crate::wire::MacAddr;
use std::net::Ipv4Addr;

/// Everything a dry run must leave alone, as the control plane lists it.
fn mesh_tables_of(m: &Mesh) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{}",
        m.fdb.entries(&FdbFilter::default(), m.now.get()),
        m.neigh.entries(),
        m.overlay.entries(),
        m.ct.entries(&CtFilter::all(), m.now.get()),
        m.fdb.changes(),
    )
}

fn dry_mesh(m: &Mesh, port: u16, frame: &[u8]) -> DryRun {
    dry_run(
        &DryTables {
            snap: &m.snap,
            fdb: &m.fdb,
            neigh: &m.neigh,
            mesh: Some((&m.ct, &m.overlay)),
            now: m.now.get(),
        },
        port,
        frame,
    )
}

fn dry_lab(l: &Lab, port: u16, frame: &[u8]) -> DryRun {
    dry_run(
        &DryTables {
            snap: &l.snap,
            fdb: &l.fdb,
            neigh: &l.neigh,
            mesh: None,
            now: 10,
        },
        port,
        frame,
    )
}

/// A VXLAN frame from node 1 (172.30.0.11) carrying `inner`, VNI 4096.
fn vxlan_from_node1(inner: &[u8]) -> Vec<u8> {
    from_node1(inner)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
    /// The routing mesh's corpus ([`mesh_corpus`], which includes a backend's ARP that
    /// vxgw learns from): the dry run's decision is the worker's, and the dry run
    /// changed no table.
    #[test]
    fn a_dry_run_decides_as_the_pipeline_and_changes_nothing(
        seed in 0usize..MESH_SEEDS,
        cut in 0usize..120,
        flip in proptest::option::of((0usize..120, proptest::prelude::any::<u8>())),
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..160),
    ) {
        let m = Mesh::new(if seed % 2 == 0 { "snat" } else { "preserve" });
        let (port, f) = mesh_corpus(&m, seed, cut, flip, &body);
        let before = mesh_tables_of(&m);
        let dry = dry_mesh(&m, port, &f);
        proptest::prop_assert_eq!(&mesh_tables_of(&m), &before, "the dry run changed a table");
        let (real, _) = m.ingress(port, &f);
        proptest::prop_assert_eq!(dry.decision, real, "steps: {:?}", dry.steps);
    }

    /// The overlay's corpus: VXLAN from a VTEP and access frames, tagged or not, cut
    /// and mutated: the same decision, and nothing learned by the dry run.
    #[test]
    fn a_dry_overlay_run_decides_as_the_pipeline_and_learns_nothing(
        seed in 0usize..4,
        flip in proptest::option::of((0usize..90, proptest::prelude::any::<u8>())),
        cut in 0usize..40,
    ) {
        let l = Lab::new();
        let c1 = [0x02, 0x42, 0x0a, 0xff, 0x00, 0x0b];
        let srv = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x64];
        let seeds = [
            (LAB_UL, vxlan_from_node1(&inner_udp(c1, srv, 1))),
            (ACC, super::tests::tagged(&inner_udp(srv, c1, 2), 100)),
            (ACC, super::tests::tagged(&inner_udp(srv, [0xff; 6], 3), 100)),
            (LAB_UL, vxlan_from_node1(&inner_udp(c1, [0xff; 6], 4))),
        ];
        let (port, mut f) = seeds[seed].clone();
        match flip {
            Some((at, v)) if at < f.len() => f[at] = v,
            _ => f.truncate(f.len().saturating_sub(cut)),
        }
        let before = (l.fdb.entries(&FdbFilter::default(), 10), l.fdb.changes());
        let dry = dry_lab(&l, port, &f);
        proptest::prop_assert_eq!(
            (l.fdb.entries(&FdbFilter::default(), 10), l.fdb.changes()),
            before
        );
        let (real, _) = l.ingress(port, &f);
        proptest::prop_assert_eq!(dry.decision, real, "steps: {:?}", dry.steps);
    }
}

#[test]
fn a_traced_decap_names_its_vtep_vni_learn_and_fdb_answer() {
    let l = Lab::new();
    let c1 = MacAddr([0x02, 0x42, 0x0a, 0xff, 0x00, 0x0b]);
    let srv = MacAddr([0x02, 0x00, 0x0a, 0xff, 0x00, 0x64]);
    let dry = dry_lab(&l, LAB_UL, &vxlan_from_node1(&inner_udp(c1.0, srv.0, 1)));
    let node1 = Ipv4Addr::new(172, 30, 0, 11);
    assert_eq!(
        dry.steps,
        [
            Step::Port {
                port: LAB_UL,
                underlay: true,
                access: false,
                external: false
            },
            Step::Vxlan {
                src: node1,
                vni: 4096,
                vtep_known: true,
                vni_known: true
            },
            Step::Learn {
                vni: 4096,
                mac: c1,
                dest: FdbDest::Vtep(node1),
                done: false
            },
            Step::Fdb {
                vni: 4096,
                mac: srv,
                dest: None
            },
        ]
    );
    assert!(matches!(dry.decision, Decision::Flood { .. }));
    assert_eq!(l.fdb.len(), 0, "nothing learned");
}

#[test]
fn a_traced_client_packet_names_its_service_backend_and_translation() {
    let m = Mesh::new("snat");
    let dry = dry_mesh(&m, EXT, &client_tcp(40000, true, false, &[]));
    let new = dry
        .steps
        .iter()
        .find_map(|s| match s {
            Step::NewConnection {
                backend,
                snat,
                made,
            } => Some((*backend, *snat, *made)),
            _ => None,
        })
        .expect("a new connection step");
    assert!(!new.2, "not made: the run is dry");
    assert!(BACKENDS.iter().any(|b| Ipv4Addr::from(*b) == *new.0.ip()));
    assert_eq!(new.1.map(|s| *s.ip()), Some(Ipv4Addr::from(INGRESS)));
    assert!(dry.steps.contains(&Step::Service(0)), "{:?}", dry.steps);
    assert!(
        dry.steps
            .iter()
            .any(|s| matches!(s, Step::Translated { dst, .. } if *dst == new.0)),
        "{:?}",
        dry.steps
    );
    assert_eq!(m.ct.len(), 0, "no connection made");
    // The worker's run makes it; a trace of the next packet finds it.
    let (d, _) = m.ingress(EXT, &client_tcp(40000, true, false, &[]));
    assert!(matches!(d, Decision::Forward { .. }));
    let dry = dry_mesh(&m, EXT, &client_tcp(40000, false, true, b"x"));
    assert!(
        dry.steps.iter().any(|s| matches!(
            s,
            Step::Conntrack {
                dir: Dir::Original,
                ..
            }
        )),
        "{:?}",
        dry.steps
    );
}

#[test]
fn a_frame_from_an_unknown_vtep_is_traced_to_its_drop() {
    let l = Lab::new();
    let mut f = vxlan_from_node1(&inner_udp([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8], 1));
    // Outer source 172.30.0.99 (checksum fixed up), a VTEP not in the list.
    f[29] = 99;
    f[24..26].copy_from_slice(&[0, 0]);
    let sum = crate::wire::checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    let dry = dry_lab(&l, LAB_UL, &f);
    assert_eq!(
        dry.steps[1],
        Step::Vxlan {
            src: Ipv4Addr::new(172, 30, 0, 99),
            vni: 4096,
            vtep_known: false,
            vni_known: true
        }
    );
    assert_eq!(dry.decision, Decision::Drop(DropReason::UnknownVtep));
    assert_eq!(dry.steps.len(), 2);
}
