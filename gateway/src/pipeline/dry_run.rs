//! A described packet through the live tables, changing nothing: the pipeline's own
//! [`ingress`](fn@super::ingress) with a dry [`Trace`] in its context, and every
//! per-worker part of that context (counters, caches, admission, SNAT draws) a
//! private, fresh one. What `vxgwctl trace packet` shows.
//!
//! What it does not model: the flood guard's budget of the second and the other
//! per-worker history (a fresh admission refuses nothing for being spent), and the
//! SNAT port, which the worker draws at random (the trace shows one it might draw).

use std::cell::RefCell;

use super::egress::{self, EncapResult};
use super::{
    ingress, inner_flow_hash, Admission, BackendCounters, Ctx, Decision, DropReason, EncapCache,
    LearnCache, MeshCache, MeshTables, PacketBuf, PipelineCounters, Step, Target, Trace, VecBuf,
};
use crate::tables::conntrack::Conntrack;
use crate::tables::fdb::Fdb;
use crate::tables::fdb_cache::FdbCache;
use crate::tables::neighbours::Neighbours;
use crate::tables::overlay_neighbours::OverlayNeighbours;
use crate::tables::snapshot::Snapshot;
use crate::tables::snat_source::{SnatSource, DEFAULT_HI, DEFAULT_LO};

/// The shared tables a dry run reads (never writes).
pub struct DryTables<'a> {
    /// The configuration snapshot.
    pub snap: &'a Snapshot,
    /// The FDB.
    pub fdb: &'a Fdb,
    /// Underlay and external neighbours.
    pub neigh: &'a Neighbours,
    /// The routing mesh's tables (None: no routing mesh).
    pub mesh: Option<(&'a Conntrack, &'a OverlayNeighbours)>,
    /// The clock (seconds), as the workers read it.
    pub now: u32,
}

/// What a dry run found.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The pipeline's decision.
    pub decision: Decision,
    /// The steps recorded on the way (the first [`super::TRACE_STEPS`]).
    pub steps: Vec<Step>,
    /// How many steps were recorded in all.
    pub recorded: usize,
    /// The frame as the decision leaves it (decapsulated, translated, ...).
    pub frame: Vec<u8>,
    /// For a frame forwarded to one destination: what the worker's egress makes of
    /// it (the VXLAN or VLAN headers it gets, or the egress's refusal).
    pub egress: Option<Egress>,
}

/// What the egress does with a forwarded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Egress {
    /// The frame as it leaves (outer headers included).
    Sent(Vec<u8>),
    /// The next hop's MAC is unknown: the worker holds the frame and ARPs.
    AwaitsNeighbour,
    /// Refused at egress (MTU, VNI isolation, ...).
    Dropped(DropReason),
}

/// Runs `frame`, as received on port `rx_port`, through the pipeline against `t`.
pub fn dry_run(t: &DryTables, rx_port: u16, frame: &[u8]) -> DryRun {
    let trace = Trace::new(true);
    let counters = PipelineCounters::default();
    let learn_cache = LearnCache::default();
    let fdb_cache = FdbCache::default();
    let encap_cache = EncapCache::default();
    let mesh_cache = MeshCache::default();
    let admission = Admission::new(1);
    let backends = BackendCounters::default();
    let snat = RefCell::new(
        SnatSource::for_workers(DEFAULT_LO, DEFAULT_HI, 1)
            .ok()
            .and_then(|mut v| v.pop())
            .expect("the default SNAT range is valid"),
    );
    let ctx = Ctx {
        snap: t.snap,
        fdb: t.fdb,
        neigh: t.neigh,
        now: t.now,
        counters: &counters,
        learn_cache: &learn_cache,
        fdb_cache: &fdb_cache,
        encap_cache: &encap_cache,
        encap_epoch: encap_cache.sync(t.fdb.changes(), t.snap.generation, t.neigh.changes()),
        burst: Default::default(),
        trace: Some(&trace),
        mesh: t.mesh.map(|(conntrack, overlay_neigh)| MeshTables {
            conntrack,
            overlay_neigh,
            snat: &snat,
            backends: &backends,
            cache: &mesh_cache,
            admission: &admission,
        }),
    };
    let mut buf = VecBuf::new(frame);
    let decision = ingress(&ctx, rx_port, &mut buf);
    let (steps, recorded) = trace.steps();
    let after = buf.data().to_vec();
    let egress = match decision {
        Decision::Forward {
            vni,
            to: Target::Vtep(i),
        } => {
            let vni_id = t.snap.vnis.get(vni as usize).map_or(0, |v| v.vni);
            let hash = inner_flow_hash(buf.data());
            Some(match egress::to_vtep(&ctx, &mut buf, vni_id, i, hash) {
                EncapResult::Ready { .. } => Egress::Sent(buf.data().to_vec()),
                EncapResult::NeedNeighbour { .. } => Egress::AwaitsNeighbour,
                EncapResult::Drop(r) => Egress::Dropped(r),
            })
        }
        Decision::Forward {
            vni,
            to: Target::Access { port, vlan },
        } => Some(match egress::to_access(&ctx, &mut buf, vni, port, vlan) {
            Ok(()) => Egress::Sent(buf.data().to_vec()),
            Err(r) => Egress::Dropped(r),
        }),
        _ => None,
    };
    DryRun {
        decision,
        steps,
        recorded,
        frame: after,
        egress,
    }
}
