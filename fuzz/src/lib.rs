//! Coverage-guided fuzzing of the whole pipeline, one target per port role: the
//! underlay port ([`underlay`]: VXLAN from the VTEPs, the routing mesh's replies, ARP
//! and ping for the VTEP address), the access port ([`access`]: untagged and tagged
//! frames) and the external port ([`external`]: clients of published ports, ARP,
//! ICMP). Each runs its input through what the worker runs (`gateway/src/worker/`),
//! without DPDK: the burst's warm-up, the fast path, else `pipeline::ingress` and the
//! egress of the decision (VLAN tag or VXLAN encapsulation, flood replicas, routing
//! to a neighbour), over the e2e lab's tables ([`lab`]).
//!
//! Not just "no panic": every frame's outcome is checked ([`check`]): every output is
//! a well-formed frame for its port (outer headers and checksums of VXLAN, the VLAN
//! of an access port, NAT'ed checksums still right), nothing leaves in another VNI
//! than it came in, the pipeline counts no drop of its own beside a decision (but the
//! frag-needed answer), and a second lab that takes every frame the general way
//! (no fast path) ends each frame the same way (the fast path's promise).
//!
//! Input: byte 0 picks the lab's variant ([`Variant`]); the rest is up to
//! [`MAX_FRAMES`] frames separated by [`SEPARATOR`], received as one burst.
//!
//! AFL++ drives the targets in `src/bin` (`fuzz/run.sh`); `tests/replay.rs` runs the
//! seed corpus and every crash found (`regressions/`) through the same functions.

#![forbid(unsafe_code)]

pub mod check;
pub mod fix;
pub mod frames;
pub mod lab;

use std::cell::RefCell;

use vxgw::pipeline::egress::{self, EncapResult};
use vxgw::pipeline::fast_path::{self, FastPort};
use vxgw::pipeline::{
    ingress, inner_flow_hash, later_fragment, warm_burst, Ctx, Decision, DropReason, Event,
    MeshCache, MeshSide, Origin, PacketBuf, Target, VecBuf, EVENT_COUNT,
};
use vxgw::tables::conntrack::{Conn, CtFilter, CtState};
use vxgw::tables::snapshot::Snapshot;
use vxgw::tables::snat_source::SnatSource;

use lab::{Tables, WorkerState};

/// Separates the frames of one input.
pub const SEPARATOR: &[u8] = b"\xf0VXGW\x0f";
/// The most frames of one input (one burst).
pub const MAX_FRAMES: usize = 8;
/// Frames longer than this are cut (a jumbo frame; DPDK's mbufs hold 2 KiB).
pub const MAX_FRAME_LEN: usize = 9216;

/// A port role: which port the input's frames arrive on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The underlay port (VXLAN from VTEPs).
    Underlay,
    /// The access port.
    Access,
    /// The external port.
    External,
}

impl Role {
    /// The lab's port of this role.
    pub fn port(self) -> u16 {
        match self {
            Role::Underlay => lab::UL,
            Role::Access => lab::ACC,
            Role::External => lab::EXT,
        }
    }

    /// The corpus directory name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Underlay => "underlay",
            Role::Access => "access",
            Role::External => "external",
        }
    }

    /// Every role.
    pub const ALL: [Role; 3] = [Role::Underlay, Role::Access, Role::External];
}

/// The lab's state an input starts from, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Bit 0: the web service keeps the client's address (preserve) instead of SNAT.
    pub preserve: bool,
    /// Bit 1: no underlay next hop and no backend MAC known yet (frames wait).
    pub unresolved: bool,
    /// Bit 2: no tracked connections (the lab before any client connected).
    pub no_connections: bool,
    /// Bit 3: the frames arrive an hour later: entries aged, connections expired.
    pub later: bool,
    /// Bit 4: the frames' IPv4 header checksums (outer and inner) are made right
    /// before they are received, so that mutated headers get past the checks.
    pub fix_ip: bool,
    /// Bit 5: the innermost packet's TCP, UDP or ICMP checksum is made right too
    /// (NAT must keep it right: [`check`]).
    pub fix_l4: bool,
}

impl Variant {
    /// The variant of control byte `b`.
    pub fn of(b: u8) -> Variant {
        Variant {
            preserve: b & 1 != 0,
            unresolved: b & 2 != 0,
            no_connections: b & 4 != 0,
            later: b & 8 != 0,
            fix_ip: b & 16 != 0,
            fix_l4: b & 32 != 0,
        }
    }

    /// The control byte of this variant.
    pub fn byte(self) -> u8 {
        u8::from(self.preserve)
            | u8::from(self.unresolved) << 1
            | u8::from(self.no_connections) << 2
            | u8::from(self.later) << 3
            | u8::from(self.fix_ip) << 4
            | u8::from(self.fix_l4) << 5
    }
}

/// Splits an input into its variant and frames.
pub fn parse_input(data: &[u8]) -> (Variant, Vec<&[u8]>) {
    let Some((&b, rest)) = data.split_first() else {
        return (Variant::of(0), Vec::new());
    };
    let mut frames = Vec::new();
    let mut rest = rest;
    while frames.len() < MAX_FRAMES {
        match find(rest, SEPARATOR) {
            Some(i) => {
                frames.push(&rest[..i]);
                rest = &rest[i + SEPARATOR.len()..];
            }
            None => {
                frames.push(rest);
                break;
            }
        }
    }
    let frames = frames
        .into_iter()
        .map(|f| &f[..f.len().min(MAX_FRAME_LEN)])
        .collect();
    (Variant::of(b), frames)
}

/// Joins a variant and frames into an input ([`parse_input`]'s inverse).
pub fn make_input(v: Variant, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![v.byte()];
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(SEPARATOR);
        }
        out.extend_from_slice(f);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The underlay port's target.
pub fn underlay(data: &[u8]) {
    run(Role::Underlay, data);
}

/// The access port's target.
pub fn access(data: &[u8]) {
    run(Role::Access, data);
}

/// The external port's target.
pub fn external(data: &[u8]) {
    run(Role::External, data);
}

/// What became of one frame (or of one replica of a flooded frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sent on `port`; `vni`: the VNI slot the decision put it in (bridged frames).
    Out {
        /// Port id.
        port: u16,
        /// The frame as sent.
        bytes: Vec<u8>,
        /// VNI slot of a forwarded or flooded frame.
        vni: Option<u16>,
    },
    /// Dropped, the reason counted.
    Drop(DropReason),
    /// Held for a neighbour (the worker's pending list).
    Held,
    /// A later fragment held for its first one (the burst gives it to
    /// `later_fragment` again at its end, as the worker does after a round).
    HeldFragment {
        /// The side it came from.
        from: MeshSide,
        /// The frame as held.
        bytes: Vec<u8>,
    },
    /// Taken by vxgw itself (an ARP reply learned).
    Consumed,
}

/// One frame's outcomes and whether the fast path took it.
#[derive(Debug, Clone)]
pub struct FrameResult {
    /// The fast path took it.
    pub fast: bool,
    /// What the worker did with it (several for a flood).
    pub outcomes: Vec<Outcome>,
    /// Drops the pipeline counted itself while deciding.
    pub pipeline_drops: u64,
    /// The decision of the general path (None: the fast path took it).
    pub decision: Option<Decision>,
}

/// One lab: a snapshot's tables and a worker.
struct World {
    tables: Tables,
    worker: WorkerState,
}

impl World {
    fn new() -> World {
        World {
            tables: Tables::new(),
            worker: WorkerState::default(),
        }
    }
}

/// What setting up the tracked connections leaves in the tables (the pipeline ran
/// the lab's handshakes once, [`frames::establish`]): the connections with their
/// states, and the SNAT ports' cursor. Restoring them costs two inserts, not five
/// frames through the pipeline per input.
struct Setup {
    conns: Vec<(Conn, CtState)>,
    snat: SnatSource,
}

impl Setup {
    fn record(t: &Tables) -> Setup {
        Setup {
            conns: t
                .ct
                .entries(&CtFilter::all(), lab::NOW)
                .into_iter()
                .map(|e| (e.conn, e.state))
                .collect(),
            snat: t.snat.borrow().clone(),
        }
    }

    fn restore(&self, t: &Tables) {
        for (c, state) in &self.conns {
            t.ct.insert(c, *state, lab::NOW)
                .expect("the lab's connections fit");
        }
        *t.snat.borrow_mut() = self.snat.clone();
    }
}

struct Fuzz {
    snaps: [Snapshot; 2],
    generation: u64,
    main: World,
    shadow: World,
    /// The frames that set up the tracked connections, per (preserve, unresolved).
    setup: [Option<Setup>; 4],
    /// Events the inputs' frames caused (main lab).
    reached: [u64; EVENT_COUNT],
}

thread_local! {
    static FUZZ: RefCell<Option<Fuzz>> = const { RefCell::new(None) };
}

/// Runs one input received on `role`'s port; panics when a check fails.
pub fn run(role: Role, data: &[u8]) -> Vec<FrameResult> {
    FUZZ.with(|f| {
        let mut f = f.borrow_mut();
        let f = f.get_or_insert_with(|| Fuzz {
            snaps: [lab::snapshot("snat"), lab::snapshot("preserve")],
            generation: 1,
            main: World::new(),
            shadow: World::new(),
            setup: Default::default(),
            reached: [0; EVENT_COUNT],
        });
        run_in(f, role, data)
    })
}

fn run_in(f: &mut Fuzz, role: Role, data: &[u8]) -> Vec<FrameResult> {
    let (v, frames) = parse_input(data);
    let mut owned: Vec<Vec<u8>> = Vec::new();
    let frames: Vec<&[u8]> = if v.fix_ip || v.fix_l4 {
        owned.extend(frames.iter().map(|f| {
            let mut f = f.to_vec();
            fix::checksums(&mut f, v.fix_ip, v.fix_l4);
            f
        }));
        owned.iter().map(Vec::as_slice).collect()
    } else {
        frames
    };
    // A new generation per input: the worker's caches forget everything.
    f.generation += 1;
    let snap = &mut f.snaps[usize::from(v.preserve)];
    snap.generation = f.generation;
    let snap = &*snap;
    let now = lab::NOW + if v.later { 3600 } else { 0 };
    let setup = &mut f.setup[usize::from(v.preserve) | usize::from(v.unresolved) << 1];
    let mut prepare = |w: &mut World| {
        w.tables.reset(lab::NOW, v.unresolved);
        // The worker's memory of first fragments too: it names connections of the
        // tables just reset, and the shadow lab runs only after some inputs, so a
        // memory kept across inputs made the two labs differ (found by AFL).
        w.worker.mesh_cache = MeshCache::default();
        if v.no_connections {
            return;
        }
        match setup {
            Some(s) => s.restore(&w.tables),
            None => {
                frames::establish(snap, &w.tables, &w.worker, lab::NOW);
                *setup = Some(Setup::record(&w.tables));
            }
        }
    };
    prepare(&mut f.main);
    let port = role.port();
    let events = |w: &World| Event::ALL.map(|e| w.worker.counters.events(e));
    let before = events(&f.main);
    let main = burst(snap, &f.main, now, port, &frames, true);
    let announced = check::announced_node_macs(role, &frames);
    for ((r, a), b) in f.reached.iter_mut().zip(events(&f.main)).zip(before) {
        *r += a - b;
    }
    for (frame, m) in frames.iter().zip(&main) {
        check::frame(snap, role, frame, m, &announced);
    }
    // The same burst without the fast path: only needed when it took a frame (else
    // both labs ran the same code on the same state).
    if main.iter().any(|r| r.fast) {
        prepare(&mut f.shadow);
        let shadow = burst(snap, &f.shadow, now, port, &frames, false);
        for (i, (frame, (m, s))) in frames.iter().zip(main.iter().zip(&shadow)).enumerate() {
            check::frame(snap, role, frame, s, &announced);
            check::same(i, frame, m, s);
        }
    }
    main
}

/// The events the inputs' frames caused so far on this thread (not their set-up),
/// by [`Event`] index: what paths the inputs reached.
pub fn reached() -> Vec<(Event, u64)> {
    FUZZ.with(|f| {
        f.borrow().as_ref().map_or_else(Vec::new, |f| {
            Event::ALL
                .iter()
                .map(|&e| (e, f.reached[e as usize]))
                .collect()
        })
    })
}

/// Where the lab's tracked connections go in `variant` (the backend picked, the
/// SNAT port), from a lab of its own: what the corpus' replies are addressed to.
pub fn flows(v: Variant) -> Option<frames::Flows> {
    let mut snap = lab::snapshot(if v.preserve { "preserve" } else { "snat" });
    snap.generation = 2;
    let w = World::new();
    let mut t = w.tables;
    t.reset(lab::NOW, v.unresolved);
    frames::establish(&snap, &t, &w.worker, lab::NOW)
}

/// Runs `frames` received on `port` as one burst, as the worker does: the burst
/// warmed, then each frame by the fast path (`fast`) or else the general path.
fn burst(
    snap: &Snapshot,
    w: &World,
    now: u32,
    port: u16,
    frames: &[&[u8]],
    fast: bool,
) -> Vec<FrameResult> {
    let ctx = lab::ctx(snap, &w.tables, &w.worker, now);
    warm_burst(&ctx, port, frames.iter().copied());
    let fp = if fast {
        FastPort::of(snap, port)
    } else {
        FastPort::None
    };
    let cached = ctx.fdb_in_cache();
    let mut results = frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            let mut b = VecBuf::new(frame);
            let drops = ctx.counters.total_drops();
            let taken = if cached {
                fast_path::forward_in::<true, _>(&ctx, fp, port, i, &mut b)
            } else {
                fast_path::forward_in::<false, _>(&ctx, fp, port, i, &mut b)
            };
            if let Some(tx) = taken {
                return FrameResult {
                    fast: true,
                    outcomes: vec![Outcome::Out {
                        port: tx,
                        bytes: b.data().to_vec(),
                        vni: None,
                    }],
                    pipeline_drops: ctx.counters.total_drops() - drops,
                    decision: None,
                };
            }
            fast_path::mark_current(&ctx, i);
            let d = ingress(&ctx, port, &mut b);
            let pipeline_drops = ctx.counters.total_drops() - drops;
            let mut outcomes = Vec::new();
            dispatch(&ctx, &w.tables, d, b, &mut outcomes);
            for o in &outcomes {
                if let Outcome::Drop(r) = o {
                    ctx.counters.drop(*r);
                }
            }
            FrameResult {
                fast: false,
                outcomes,
                pipeline_drops,
                decision: Some(d),
            }
        })
        .collect::<Vec<_>>();
    // The worker's round ends: held later fragments are tried again (a first
    // fragment of the burst may have freed them); those still waiting stay held.
    for r in &mut results {
        let outcomes = std::mem::take(&mut r.outcomes);
        for o in outcomes {
            let Outcome::HeldFragment { from, bytes } = o else {
                r.outcomes.push(o);
                continue;
            };
            let mut b = VecBuf::new(&bytes);
            match later_fragment(&ctx, from, &mut b) {
                Decision::AwaitFirstFragment { .. } => r.outcomes.push(Outcome::Held),
                d => {
                    let mut again = Vec::new();
                    dispatch(&ctx, &w.tables, d, b, &mut again);
                    for o in again {
                        if let Outcome::Drop(reason) = o {
                            ctx.counters.drop(reason);
                        }
                        r.outcomes.push(o);
                    }
                }
            }
        }
    }
    results
}

/// The worker's `dispatch` (gateway/src/worker/mod.rs) without DPDK: what it sends,
/// drops and holds for decision `d` on buffer `b`.
fn dispatch(ctx: &Ctx, t: &Tables, d: Decision, mut b: VecBuf, out: &mut Vec<Outcome>) {
    match d {
        Decision::Drop(r) => out.push(Outcome::Drop(r)),
        Decision::Consumed => out.push(Outcome::Consumed),
        Decision::Send { port } => out.push(Outcome::Out {
            port,
            bytes: b.data().to_vec(),
            vni: None,
        }),
        Decision::Forward { vni, to } => {
            let hash = match to {
                Target::Vtep(_) => inner_flow_hash(b.data()),
                Target::Access { .. } => 0,
            };
            egress_to(ctx, vni, to, hash, b, out);
        }
        Decision::Flood { vni, from } => flood(ctx, vni, from, b, out),
        Decision::Route { port, next_hop } => match t.neigh.lookup(next_hop) {
            Some(mac) => {
                b.data_mut()[0..6].copy_from_slice(&mac.0);
                out.push(Outcome::Out {
                    port,
                    bytes: b.data().to_vec(),
                    vni: None,
                });
            }
            None => out.push(Outcome::Held),
        },
        Decision::Resolve { vni, .. } => {
            // The worker indexes the VNI slot to ARP and to hold the frame.
            let _ = ctx.snap.vnis[vni as usize].vni;
            out.push(Outcome::Held);
        }
        Decision::AwaitFirstFragment { from } => {
            ctx.counters.event(Event::FragmentsHeld);
            out.push(Outcome::HeldFragment {
                from,
                bytes: b.data().to_vec(),
            })
        }
    }
}

/// The worker's head-end replication: a copy per member but the ingress one (no
/// VTEP when the frame came from a VTEP: split horizon).
fn flood(ctx: &Ctx, vni: u16, from: Origin, b: VecBuf, out: &mut Vec<Outcome>) {
    let v = &ctx.snap.vnis[vni as usize];
    let from_overlay = matches!(from, Origin::Vtep(_));
    let vteps = if from_overlay { &[][..] } else { &v.flood[..] };
    let access = v
        .access
        .iter()
        .filter(|&&(p, vl)| from != (Origin::Access { port: p, vlan: vl }));
    let targets: Vec<Target> = vteps
        .iter()
        .map(|&i| Target::Vtep(i))
        .chain(access.map(|&(port, vlan)| Target::Access { port, vlan }))
        .collect();
    if targets.is_empty() {
        out.push(Outcome::Drop(DropReason::FloodNoMembers));
        return;
    }
    ctx.counters.event(Event::Flooded);
    ctx.counters
        .event_n(Event::FloodReplicas, targets.len() as u64);
    let hash = if vteps.is_empty() {
        0
    } else {
        inner_flow_hash(b.data())
    };
    for t in targets {
        egress_to(ctx, vni, t, hash, b.clone(), out);
    }
}

/// The worker's `egress`: dress the frame for `to`.
fn egress_to(ctx: &Ctx, vni: u16, to: Target, hash: u64, mut b: VecBuf, out: &mut Vec<Outcome>) {
    match to {
        Target::Access { port, vlan } => match egress::to_access(ctx, &mut b, vni, port, vlan) {
            Ok(()) => out.push(Outcome::Out {
                port,
                bytes: b.data().to_vec(),
                vni: Some(vni),
            }),
            Err(r) => out.push(Outcome::Drop(r)),
        },
        Target::Vtep(i) => {
            let vni_id = ctx.snap.vnis[vni as usize].vni;
            match egress::to_vtep(ctx, &mut b, vni_id, i, hash) {
                EncapResult::Ready { port } => out.push(Outcome::Out {
                    port,
                    bytes: b.data().to_vec(),
                    vni: Some(vni),
                }),
                EncapResult::Drop(r) => out.push(Outcome::Drop(r)),
                EncapResult::NeedNeighbour { .. } => {
                    // The worker indexes the VTEP to hold the frame.
                    let _ = ctx.snap.vteps[i as usize].ip;
                    out.push(Outcome::Held);
                }
            }
        }
    }
}
