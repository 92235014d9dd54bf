//! The e2e lab (tests/e2e/overlay_mesh.sh, configs/lab.toml) as tables in memory:
//! the configuration the routing-mesh lab runs with, the service scripts/lab.sh and
//! the mesh test publish with vxgwctl, and what the lab's traffic leaves in the tables
//! (learned FDB entries, resolved neighbours, tracked connections).
//!
//! Two additions to the lab, so that the checks have something to catch: a second
//! VNI (5000, VLAN 200 on the access port, flooded to node 2) so that a frame leaking
//! from one VNI into another is visible, and ARP suppression entries.
//!
//! The tables a frame changes are rebuilt (or flushed and refilled) for every fuzz
//! input, so that an input decides the same way whatever ran before it; the
//! per-worker caches are kept (allocating them per input would cost more than the
//! pipeline) and are invalidated the way the worker's are, by a new snapshot
//! generation and FDB change count per input.

use std::cell::RefCell;
use std::net::Ipv4Addr;

use vxgw::control::config::Config;
use vxgw::pipeline::{
    Admission, BackendCounters, Ctx, EncapCache, LearnCache, MeshCache, MeshTables,
    PipelineCounters,
};
use vxgw::tables::conntrack::{Conntrack, Timeouts};
use vxgw::tables::fdb::{Fdb, FdbDest, FdbFilter, NO_LIMIT};
use vxgw::tables::fdb_cache::FdbCache;
use vxgw::tables::neighbours::Neighbours;
use vxgw::tables::overlay_neighbours::OverlayNeighbours;
use vxgw::tables::snapshot::{ResolvedPort, Snapshot};
use vxgw::tables::snat_source::SnatSource;
use vxgw::wire::MacAddr;

/// Port ids as the lab's vdevs get them.
pub const UL: u16 = 0;
/// The access port (net_af_packet1).
pub const ACC: u16 = 1;
/// The external port (net_af_packet2).
pub const EXT: u16 = 2;
/// The ports' MACs.
pub const UL_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// The access port's MAC.
pub const ACC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
/// The external port's MAC.
pub const EXT_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x03];

/// vxgw's VTEP address.
pub const VTEP_IP: [u8; 4] = [172, 30, 0, 1];
/// The two swarm nodes (kernel VTEPs) and their underlay MACs.
pub const NODES: [[u8; 4]; 2] = [[172, 30, 0, 11], [172, 30, 0, 12]];
/// Node 1's and node 2's MACs on the underlay.
pub const NODE_MACS: [[u8; 6]; 2] = [[0x02, 0, 0, 0, 0x11, 0x11], [0x02, 0, 0, 0, 0x12, 0x12]];
/// The containers c1, c2, c3 (the web service's backends) in VNI 4096.
pub const CONTAINERS: [[u8; 4]; 3] = [[10, 255, 0, 11], [10, 255, 0, 12], [10, 255, 0, 13]];
/// Their MACs (the lab's LAB_C{1,2,3}_MAC).
pub const CONTAINER_MACS: [[u8; 6]; 3] = [
    [0x02, 0x42, 0x0a, 0xff, 0x00, 0x0b],
    [0x02, 0x42, 0x0a, 0xff, 0x00, 0x0c],
    [0x02, 0x42, 0x0a, 0xff, 0x00, 0x0d],
];
/// The server on the access port (untagged, VNI 4096).
pub const SRV: [u8; 4] = [10, 255, 0, 100];
/// Its MAC (LAB_SRV_MAC).
pub const SRV_MAC: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x64];
/// A host of VNI 5000 on the access port (VLAN 200), and one behind node 2.
pub const V5000_ACC_MAC: [u8; 6] = [0x02, 0x50, 0, 0, 0, 0x01];
/// The host of VNI 5000 behind node 2.
pub const V5000_REMOTE_MAC: [u8; 6] = [0x02, 0x50, 0, 0, 0, 0x02];
/// The client on the external port.
pub const CLIENT: [u8; 4] = [192, 0, 2, 10];
/// Its MAC.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0xc0, 0x00, 0x02, 0x0a];
/// The published address (vxgw's external address).
pub const PUBLISHED: [u8; 4] = [192, 0, 2, 1];
/// The services' ingress endpoint in VNI 4096.
pub const INGRESS: [u8; 4] = [10, 255, 0, 2];
/// The client ports of the connections every input starts with: TCP to web:80
/// (established), UDP to dns:53 (replied).
pub const TCP_CLIENT_PORT: u16 = 53711;
/// The UDP flow's client port.
pub const UDP_CLIENT_PORT: u16 = 5353;
/// The coarse clock of an input's frames (seconds).
pub const NOW: u32 = 1000;

/// configs/lab.toml (the routing mesh lab, tests/e2e/overlay_mesh.sh), with the
/// services published live in the lab, and the two additions above. `{mode}` is the
/// web service's mode.
const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"

[[port]]
name = "net_af_packet0"
roles = ["underlay"]

[[port]]
name = "net_af_packet1"
roles = ["access"]

[[port]]
name = "net_af_packet2"
roles = ["external"]

[[vtep]]
ip = "172.30.0.11"

[[vtep]]
ip = "172.30.0.12"

[[vni]]
id = 4096
flood = ["172.30.0.11", "172.30.0.12"]
access = [{ port = "net_af_packet1", vlan = 0 }]
gateway_ip = "10.255.0.1"
arp = [{ ip = "10.255.0.13", mac = "02:42:0a:ff:00:0d" }]

[[vni]]
id = 5000
flood = ["172.30.0.12"]
access = [{ port = "net_af_packet1", vlan = 200 }]
arp = [{ ip = "10.50.0.1", mac = "02:50:00:00:00:01" }]

[[service]]
name = "web"
protocol = "tcp"
published_ip = "192.0.2.1"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
mode = "{mode}"
backends = [{ ip = "10.255.0.11" }, { ip = "10.255.0.12" }, { ip = "10.255.0.13" }]

[[service]]
name = "dns"
protocol = "udp"
published_port = 53
vni = 4096
ingress_ip = "10.255.0.2"
backends = [{ ip = "10.255.0.11" }]
"#;

/// The lab's configuration, its web service in `mode` ("snat" or "preserve").
pub fn config_text(mode: &str) -> String {
    CONFIG.replace("{mode}", mode)
}

/// The lab's ports as DPDK resolves them.
fn resolve(name: &str) -> Option<ResolvedPort> {
    let (id, mac) = match name {
        "net_af_packet0" => (UL, UL_MAC),
        "net_af_packet1" => (ACC, ACC_MAC),
        "net_af_packet2" => (EXT, EXT_MAC),
        _ => return None,
    };
    Some(ResolvedPort {
        id,
        mac: MacAddr(mac),
        mtu: 1500,
    })
}

/// The lab's snapshot with the web service in `mode`.
pub fn snapshot(mode: &str) -> Snapshot {
    let cfg = Config::parse(&config_text(mode)).expect("the lab's configuration parses");
    Snapshot::build(&cfg, &resolve, 1).expect("the lab's ports resolve")
}

/// What a worker keeps from one poll round to the next: its caches and counters.
/// Kept across inputs (see the module's doc).
#[derive(Default)]
pub struct WorkerState {
    /// Pipeline counters.
    pub counters: PipelineCounters,
    /// Per-backend counters.
    pub backends: BackendCounters,
    /// Recent learns.
    pub learn_cache: LearnCache,
    /// FDB answers.
    pub fdb_cache: FdbCache,
    /// Encap actions.
    pub encap_cache: EncapCache,
    /// Routing-mesh caches.
    pub mesh_cache: MeshCache,
}

/// The shared tables a frame may change, fresh for each input (the FDB is kept and
/// refilled: its change count must only grow, the worker's FDB cache depends on it).
pub struct Tables {
    /// Filtering database.
    pub fdb: Fdb,
    /// Underlay and external neighbours.
    pub neigh: Neighbours,
    /// Overlay neighbours.
    pub overlay: OverlayNeighbours,
    /// Connection tracking.
    pub ct: Conntrack,
    /// The worker's SNAT ports.
    pub snat: RefCell<SnatSource>,
    /// The worker's admission state (new-connection budgets, exhaustion marks).
    pub admission: Admission,
}

impl Tables {
    /// Empty tables (the FDB is filled by [`Tables::reset`]).
    pub fn new() -> Tables {
        Tables {
            fdb: Fdb::new(256, 8),
            neigh: Neighbours::new(16),
            overlay: OverlayNeighbours::new(16),
            ct: Conntrack::with_seed(64, Timeouts::default(), 0x5eed),
            snat: RefCell::new(fresh_snat()),
            admission: Admission::new(1),
        }
    }

    /// Back to the lab's state before the tracked connections: the FDB as the lab's
    /// traffic leaves it, the neighbours resolved (unless `unresolved`), no
    /// connections, the SNAT cursor at its start.
    pub fn reset(&mut self, now: u32, unresolved: bool) {
        self.fdb.flush(&FdbFilter::all());
        let vtep = |i: usize| FdbDest::Vtep(Ipv4Addr::from(NODES[i]));
        let acc = |vlan| FdbDest::Access { port: ACC, vlan };
        let learned = [
            (4096, CONTAINER_MACS[0], vtep(0)),
            (4096, CONTAINER_MACS[1], vtep(1)),
            (4096, CONTAINER_MACS[2], vtep(0)),
            (4096, SRV_MAC, acc(0)),
            (4096, CLIENT_MAC, vtep(1)),
            (5000, V5000_ACC_MAC, acc(200)),
            (5000, V5000_REMOTE_MAC, vtep(1)),
        ];
        for (vni, mac, dest) in learned {
            self.fdb.learn(vni, MacAddr(mac), dest, now, NO_LIMIT);
        }
        // A static entry too (the lab's vxgwctl fdb add).
        let _ = self
            .fdb
            .add_static(4096, MacAddr([0x02, 0x42, 0x0a, 0xff, 0x00, 0x20]), vtep(1));
        self.neigh = Neighbours::new(16);
        self.overlay = OverlayNeighbours::new(16);
        self.ct = Conntrack::with_seed(64, Timeouts::default(), 0x5eed);
        self.snat = RefCell::new(fresh_snat());
        self.admission = Admission::new(1);
        self.neigh
            .learn(Ipv4Addr::from(CLIENT), MacAddr(CLIENT_MAC), now);
        if !unresolved {
            for (ip, mac) in NODES.iter().zip(NODE_MACS) {
                self.neigh.learn(Ipv4Addr::from(*ip), MacAddr(mac), now);
            }
            for (ip, mac) in CONTAINERS.iter().zip(CONTAINER_MACS) {
                self.overlay
                    .learn(4096, Ipv4Addr::from(*ip), MacAddr(mac), now);
            }
        }
    }
}

impl Default for Tables {
    fn default() -> Self {
        Tables::new()
    }
}

fn fresh_snat() -> SnatSource {
    // Keyed: both labs of an input draw the same ports.
    SnatSource::for_workers_keyed(1024, 65535, 1, [0x5e; 16])
        .expect("SNAT range")
        .remove(0)
}

/// The pipeline's context over a snapshot, tables and a worker's state, at `now`.
pub fn ctx<'a>(snap: &'a Snapshot, t: &'a Tables, w: &'a WorkerState, now: u32) -> Ctx<'a> {
    w.learn_cache.sync(t.fdb.changes(), snap.generation);
    let encap_epoch = w
        .encap_cache
        .sync(t.fdb.changes(), snap.generation, t.neigh.changes());
    Ctx {
        snap,
        fdb: &t.fdb,
        neigh: &t.neigh,
        now,
        counters: &w.counters,
        learn_cache: &w.learn_cache,
        fdb_cache: &w.fdb_cache,
        encap_cache: &w.encap_cache,
        encap_epoch,
        burst: Default::default(),
        trace: None,
        mesh: Some(MeshTables {
            conntrack: &t.ct,
            overlay_neigh: &t.overlay,
            snat: &t.snat,
            admission: &t.admission,
            backends: &w.backends,
            cache: &w.mesh_cache,
        }),
    }
}
