//! The gateway worker: polls its rx queues, runs the pipeline on each burst, and
//! turns decisions into transmissions (one tx buffer per port), flood replicas, local
//! replies, and the short wait for an unresolved underlay neighbour.
//!
//! This is the glue between the DPDK layer (mbufs, queues) and the pipeline (bytes
//! and tables); it holds no packet logic of its own. Nothing here allocates, locks or
//! does an atomic read-modify-write per packet: counters are owner-written, the
//! snapshot is loaded once per poll round, tables are lock-free.
//!
//! What the workers share with the control plane and the readers of their counters
//! ([`Shared`], [`WorkerCounters`], the clock) is in [`crate::runtime`], below this
//! module. Files: this one, the poll loop and its dispatch; `mbuf.rs`, the
//! pipeline's [`PacketBuf`](crate::pipeline::PacketBuf) over an [`Mbuf`].

mod mbuf;

use std::net::Ipv4Addr;

use crate::dpdk::{
    tsc_now, Drain, Flushed, Mbuf, MbufBurst, RxQueue, TxBuffer, TxTarget, BURST_SIZE,
};
use crate::pipeline::egress::{self, EncapResult};
use crate::pipeline::fast_path::{self, FastPort};
use crate::pipeline::{
    build_arp_request, deliver_in_vni, inner_flow_hash, warm_burst, Admission, Ctx, Decision,
    DropReason, EncapCache, Event, LearnCache, MeshCache, MeshSide, MeshTables, Origin,
    PacketFilter, Target, Trace, FRAGMENT_HOLD_SECS, HELD_FRAGMENTS_PER_WORKER, MAX_BURST,
};
use crate::runtime::{LiveRecord, Shared, WorkerCounters, LIVE_HEAD};
use crate::tables::fdb_cache::FdbCache;
use crate::tables::snapshot::{Snapshot, MAX_PORTS};
use crate::tables::snat_source::SnatSource;
use crate::wire::ethernet::field::DST as DST_MAC;
use std::cell::RefCell;

// The pipeline's per-burst caches hold a whole rx burst.
const _: () = assert!(BURST_SIZE <= MAX_BURST);

/// Frames waiting for an underlay neighbour's MAC (bounded; oldest expire).
const PENDING_CAP: usize = 64;
/// Seconds a frame may wait for ARP.
const PENDING_SECS: u32 = 2;

/// What a held frame waits for.
#[derive(Clone, Copy)]
enum Wait {
    /// The underlay next hop of a VTEP (the frame is not encapsulated yet).
    Vtep { vni: u32, vtep: Ipv4Addr, hash: u64 },
    /// A neighbour on `port` (a routed frame missing its destination MAC).
    Route { port: u16, next_hop: Ipv4Addr },
    /// An overlay address in VNI `vni` (a routing-mesh frame to a backend).
    Overlay { vni: u32, ip: Ipv4Addr },
}

struct Pending {
    m: Mbuf,
    wait: Wait,
    since: u32,
}

/// A routing-mesh later fragment waiting for its datagram's first fragment.
struct HeldFragment {
    m: Mbuf,
    from: MeshSide,
    since: u32,
}

struct TxPort {
    q: TxTarget,
    buf: TxBuffer,
}

/// A worker's queues: every rx queue it polls and one tx queue per port.
pub struct Worker {
    rx: Vec<RxQueue>,
    tx: Vec<Option<TxPort>>,
    pending: Vec<Pending>,
    /// Second pending list, swapped with `pending` when retrying (no allocation).
    spare: Vec<Pending>,
    /// Later fragments waiting for their first (bounded: see `pipeline::fragments`).
    held_fragments: Vec<HeldFragment>,
    /// Second list, swapped with `held_fragments` when retrying.
    spare_fragments: Vec<HeldFragment>,
    /// The mesh cache's count of remembered first fragments at the last retry.
    firsts_at_retry: u32,
    /// Packets sent by flushes inside `send` (folded into the counters per round).
    tx_sent: u64,
    /// The ports `tx` has a queue for: the flush visits these, not all MAX_PORTS
    /// slots. (Marking the ports a round queued to cost every frame two instructions
    /// more than visiting the two or three ports a worker has.)
    tx_ports: Vec<u16>,
    /// This worker's SNAT source ports (moved into `run`'s frame).
    snat: Option<SnatSource>,
    /// Worker index (0 does the periodic backend resolution).
    id: u16,
    /// Second of the last backend resolution pass.
    last_refresh: u32,
    /// The live trace's filter, read once per round while a trace is armed.
    trace_filter: PacketFilter,
}

impl Worker {
    /// A worker polling `rx` and sending on `tx` (one queue per port, any order).
    pub fn new(rx: Vec<RxQueue>, tx: Vec<TxTarget>, snat: SnatSource) -> Worker {
        let mut slots: Vec<Option<TxPort>> = (0..MAX_PORTS).map(|_| None).collect();
        let mut tx_ports = Vec::new();
        for q in tx {
            let p = q.port() as usize;
            if p < MAX_PORTS {
                if slots[p].is_none() {
                    tx_ports.push(p as u16);
                }
                slots[p] = Some(TxPort {
                    q,
                    buf: TxBuffer::new(),
                });
            }
        }
        Worker {
            rx,
            tx: slots,
            pending: Vec::with_capacity(PENDING_CAP),
            spare: Vec::with_capacity(PENDING_CAP),
            held_fragments: Vec::with_capacity(HELD_FRAGMENTS_PER_WORKER),
            spare_fragments: Vec::with_capacity(HELD_FRAGMENTS_PER_WORKER),
            firsts_at_retry: 0,
            tx_sent: 0,
            tx_ports,
            id: snat.worker(),
            snat: Some(snat),
            last_refresh: u32::MAX,
            trace_filter: PacketFilter::default(),
        }
    }

    /// Polls until the stop flag is set. Runs on a worker lcore.
    pub fn run(mut self, sh: &Shared, c: &WorkerCounters) {
        let mut burst = MbufBurst::new();
        let mut round: u32 = 0;
        let learn_cache = LearnCache::default();
        let fdb_cache = FdbCache::default();
        let encap_cache = EncapCache::default();
        let snat = RefCell::new(self.snat.take().expect("a worker runs once"));
        let mesh_cache = MeshCache::default();
        let admission = Admission::new(snat.borrow().workers());
        let trace = Trace::new(false);
        while !sh.stop.is_set() {
            // Once a round: is a live trace on? (A line nobody writes until it is.)
            let tracing = sh.live_trace.armed();
            if tracing {
                self.trace_filter = sh.live_trace.filter();
            }
            let t0 = tsc_now();
            let snap = sh.snap.load();
            let fdb_changes = sh.fdb.changes();
            learn_cache.sync(fdb_changes, snap.generation);
            let encap_epoch = encap_cache.sync(fdb_changes, snap.generation, sh.neigh.changes());
            let ctx = Ctx {
                snap: &snap,
                fdb: &sh.fdb,
                neigh: &sh.neigh,
                now: sh.clock.secs_at(t0),
                counters: &c.pipeline,
                learn_cache: &learn_cache,
                fdb_cache: &fdb_cache,
                encap_cache: &encap_cache,
                encap_epoch,
                burst: Default::default(),
                trace: tracing.then_some(&trace),
                mesh: Some(MeshTables {
                    conntrack: &sh.conntrack,
                    overlay_neigh: &sh.overlay_neigh,
                    snat: &snat,
                    backends: &c.backends,
                    cache: &mesh_cache,
                    admission: &admission,
                }),
            };
            let mut got = 0;
            for qi in 0..self.rx.len() {
                let n = self.rx[qi].rx_burst(&mut burst);
                if n == 0 {
                    continue;
                }
                got += n;
                let port = self.rx[qi].port();
                burst.prefetch_all();
                let b = &mut burst;
                if tracing && sh.live_trace.traces_port(port) {
                    // Traced: every frame the general way, where the steps are, and
                    // no warm-up (a connection it found would skip the conntrack step).
                    mesh_cache.clear_burst();
                    self.drain(sh, &ctx, port, b, |_, _, _| None);
                    continue;
                }
                warm_burst(&ctx, port, b.frames());
                // One drain loop per kind of port, each with only its fast path
                // inlined: one loop holding all three spilled their registers.
                // The overlay's loops come in two kinds more: with the FDB asked
                // through the worker's cache, or directly (decided per burst).
                use fast_path::forward_in;
                match (FastPort::of(&snap, port), ctx.fdb_in_cache()) {
                    (FastPort::Access(map), true) => self.drain(sh, &ctx, port, b, |ctx, m, i| {
                        forward_in::<true, _>(ctx, FastPort::Access(map), port, i, m)
                    }),
                    (FastPort::Access(map), false) => self.drain(sh, &ctx, port, b, |ctx, m, i| {
                        forward_in::<false, _>(ctx, FastPort::Access(map), port, i, m)
                    }),
                    (FastPort::Underlay(ul, mac), true) => {
                        self.drain(sh, &ctx, port, b, |ctx, m, i| {
                            forward_in::<true, _>(ctx, FastPort::Underlay(ul, mac), port, i, m)
                        })
                    }
                    (FastPort::Underlay(ul, mac), false) => {
                        self.drain(sh, &ctx, port, b, |ctx, m, i| {
                            forward_in::<false, _>(ctx, FastPort::Underlay(ul, mac), port, i, m)
                        })
                    }
                    // (The routing mesh's path asks no FDB: either way is the same.)
                    (FastPort::External, _) => self.drain(sh, &ctx, port, b, |ctx, m, i| {
                        forward_in::<true, _>(ctx, FastPort::External, port, i, m)
                    }),
                    (FastPort::None, _) => self.drain(sh, &ctx, port, b, |_, _, _| None),
                }
            }
            // Held later fragments go after the first fragment that frees them.
            if !self.held_fragments.is_empty()
                && (mesh_cache.first_fragments_remembered() != self.firsts_at_retry
                    || round.is_multiple_of(1024))
            {
                self.retry_fragments(sh, &ctx, &mesh_cache);
            }
            self.flush(c);
            round = round.wrapping_add(1);
            if round.is_multiple_of(1024) {
                if !self.pending.is_empty() {
                    self.retry_pending(sh, &ctx);
                }
                if ctx.now != self.last_refresh {
                    self.last_refresh = ctx.now;
                    self.resolve_backends(sh, &ctx);
                }
                self.flush(c);
            }
            c.polls.add(1);
            if got > 0 {
                c.rx_packets.add(got as u64);
                c.busy_polls.add(1);
                c.busy_cycles.add(tsc_now().wrapping_sub(t0));
            }
        }
        // Frames still waiting are freed with `self`.
    }

    /// Sends every frame of `burst` (received on `port`) the way `fast` forwards it,
    /// or else the general path's way.
    ///
    /// The fast path's frames stay in the burst, their ports noted, and are queued
    /// after the loop, the whole burst at once when it goes to one port (runs to
    /// one port otherwise). Queueing each as it was decided cost encap 5.5 and the
    /// mesh 10 instructions a frame more, and made a decap frame's tx buffer
    /// address wait for its FDB line (perf/RESULTS.md). A frame the general path
    /// takes first sends the staged ones, so the frames of a flow leave in the
    /// order they came.
    #[inline(never)]
    fn drain<F>(&mut self, sh: &Shared, ctx: &Ctx, port: u16, burst: &mut MbufBurst, fast: F)
    where
        F: Fn(&Ctx, &mut Mbuf, usize) -> Option<u16>,
    {
        let mut to = [0u16; BURST_SIZE];
        let mut frames = burst.drain();
        while let Some((i, m)) = frames.next_in_place() {
            if m.segments() > 1 {
                self.send_staged(ctx, &mut frames, &to, i);
                drop(frames.next());
                ctx.counters.drop(DropReason::MultiSegment);
                continue;
            }
            if let Some(tx) = fast(ctx, m, i) {
                to[i] = tx;
                continue;
            }
            self.send_staged(ctx, &mut frames, &to, i);
            // The general path may route it through the routing mesh.
            fast_path::mark_current(ctx, i);
            if let Some(m) = frames.next() {
                self.general(sh, ctx, port, m);
            }
        }
        let n = frames.end();
        self.send_staged(ctx, &mut frames, &to, n);
    }

    /// Queues the frames [`Worker::drain`] staged before frame `end`, each to its
    /// port in `to`: a run of frames to one port (usually the whole burst) into
    /// that port's buffer in one copy.
    #[inline(always)]
    fn send_staged(&mut self, ctx: &Ctx, frames: &mut Drain, to: &[u16; BURST_SIZE], end: usize) {
        let end = end.min(BURST_SIZE);
        let mut k = frames.taken();
        if k >= end {
            return;
        }
        // Usually the whole burst goes to one port: checked at once (vector
        // compares), not frame by frame.
        let port = to[k];
        if to[k..end].iter().fold(true, |same, &p| same & (p == port)) {
            self.send_run(ctx, frames, port, end - k);
            return;
        }
        while k < end {
            let port = to[k];
            let run = to[k..end].iter().take_while(|&&p| p == port).count();
            k += run;
            self.send_run(ctx, frames, port, run);
        }
    }

    /// Queues the next `run` frames of `frames` to `port`.
    #[inline(always)]
    fn send_run(&mut self, ctx: &Ctx, frames: &mut Drain, port: u16, run: usize) {
        let Some(t) = self.tx.get_mut(port as usize).and_then(Option::as_mut) else {
            frames.by_ref().take(run).for_each(drop);
            ctx.counters.drop_n(DropReason::UnknownPort, run as u64);
            return;
        };
        let f = t.buf.push_run(frames, run, &mut t.q);
        self.count_queued(ctx, f);
    }

    /// Counts what queueing frames sent (a full buffer goes out first) or dropped.
    #[inline(always)]
    fn count_queued(&mut self, ctx: &Ctx, f: Flushed) {
        self.tx_sent += f.sent;
        if f.dropped > 0 {
            ctx.counters.drop_n(DropReason::TxQueueFull, f.dropped);
        }
    }

    /// The general path of one frame: every case, rare ones included.
    #[inline(never)]
    fn general(&mut self, sh: &Shared, ctx: &Ctx, port: u16, mut m: Mbuf) {
        if let Some(t) = ctx.trace {
            return self.general_traced(sh, ctx, t, port, m);
        }
        let d = crate::pipeline::ingress(ctx, port, &mut m);
        self.dispatch(sh, ctx, d, m);
    }

    /// [`Worker::general`] of a live trace: the packet's steps and decision go to
    /// [`LiveTrace`](crate::runtime::LiveTrace) while it still wants packets (and the port is the one traced).
    #[cold]
    #[inline(never)]
    fn general_traced(&mut self, sh: &Shared, ctx: &Ctx, t: &Trace, port: u16, mut m: Mbuf) {
        t.clear();
        let frame = m.data();
        let len = frame.len();
        let headers_match = self.trace_filter.headers_match(frame);
        let mut head = [0u8; LIVE_HEAD];
        let head_len = len.min(LIVE_HEAD);
        head[..head_len].copy_from_slice(&frame[..head_len]);
        let d = crate::pipeline::ingress(ctx, port, &mut m);
        let live = &sh.live_trace;
        let steps = t.kept();
        if headers_match
            && self.trace_filter.vni_matches(&steps)
            && live.traces_port(port)
            && live.take_one()
        {
            live.record(LiveRecord {
                worker: self.id,
                port,
                tsc: tsc_now(),
                len,
                head,
                head_len: head_len as u8,
                steps,
                decision: d,
            });
        }
        self.dispatch(sh, ctx, d, m);
    }

    /// Holds a later fragment until its first fragment comes (bounded).
    fn hold_fragment(&mut self, ctx: &Ctx, from: MeshSide, m: Mbuf) {
        if self.held_fragments.len() == HELD_FRAGMENTS_PER_WORKER {
            ctx.counters.drop(DropReason::FragmentHoldFull);
        } else {
            ctx.counters.event(Event::FragmentsHeld);
            self.held_fragments.push(HeldFragment {
                m,
                from,
                since: ctx.now,
            });
        }
    }

    /// Gives the held later fragments to the pipeline again (a first fragment was
    /// remembered, or the periodic pass): translated ones are sent, the others
    /// wait on until their time is up.
    fn retry_fragments(&mut self, sh: &Shared, ctx: &Ctx, mesh_cache: &MeshCache) {
        self.firsts_at_retry = mesh_cache.first_fragments_remembered();
        let mut held = std::mem::replace(
            &mut self.held_fragments,
            std::mem::take(&mut self.spare_fragments),
        );
        for h in held.drain(..) {
            let mut m = h.m;
            match crate::pipeline::later_fragment(ctx, h.from, &mut m) {
                Decision::AwaitFirstFragment { .. }
                    if ctx.now.wrapping_sub(h.since) >= FRAGMENT_HOLD_SECS =>
                {
                    ctx.counters.drop(DropReason::FragmentTimeout)
                }
                Decision::AwaitFirstFragment { .. } => {
                    self.held_fragments.push(HeldFragment { m, ..h })
                }
                d => self.dispatch(sh, ctx, d, m),
            }
        }
        self.spare_fragments = held;
    }

    #[inline]
    fn flush(&mut self, c: &WorkerCounters) {
        for &p in &self.tx_ports {
            if let Some(t) = self.tx.get_mut(p as usize).and_then(Option::as_mut) {
                let f = t.buf.flush(&mut t.q);
                Self::count_tx(c, f);
            }
        }
        if self.tx_sent > 0 {
            c.tx_packets.add(std::mem::take(&mut self.tx_sent));
        }
    }

    #[inline]
    fn count_tx(c: &WorkerCounters, f: Flushed) {
        c.tx_packets.add(f.sent);
        if f.dropped > 0 {
            c.pipeline.drop_n(DropReason::TxQueueFull, f.dropped);
        }
    }

    #[inline(always)]
    fn send(&mut self, ctx: &Ctx, port: u16, m: Mbuf) {
        match self.tx.get_mut(port as usize).and_then(Option::as_mut) {
            Some(t) => {
                let f = t.buf.push(m, &mut t.q);
                self.count_queued(ctx, f);
            }
            None => ctx.counters.drop(DropReason::UnknownPort),
        }
    }

    // dispatch, egress, send and egress::to_vtep are forced inline: as calls, the
    // Decision and the mbuf crossed three frames per packet (perf/instructions.sh:
    // encap 964 -> 830, decap 944 -> 854 instructions per packet).
    #[inline(always)]
    fn dispatch(&mut self, sh: &Shared, ctx: &Ctx, d: Decision, m: Mbuf) {
        match d {
            Decision::Drop(r) => ctx.counters.drop(r),
            Decision::Consumed => {}
            Decision::Send { port } => self.send(ctx, port, m),
            Decision::Forward { vni, to } => {
                let hash = match to {
                    Target::Vtep(_) => inner_flow_hash(m.data()),
                    Target::Access { .. } => 0,
                };
                self.egress(sh, ctx, vni, to, hash, m);
            }
            Decision::Flood { vni, from } => self.flood(sh, ctx, vni, from, m),
            Decision::Route { port, next_hop } => self.route(sh, ctx, port, next_hop, m),
            Decision::Resolve { vni, ip } => {
                self.ask_overlay(sh, ctx, vni, ip);
                let vni = ctx.snap.vnis[vni as usize].vni;
                self.hold(ctx, m, Wait::Overlay { vni, ip });
            }
            Decision::AwaitFirstFragment { from } => self.hold_fragment(ctx, from, m),
        }
    }

    /// Sends a routed frame to `next_hop`'s MAC, or holds it while ARP asks.
    fn route(&mut self, sh: &Shared, ctx: &Ctx, port: u16, next_hop: Ipv4Addr, mut m: Mbuf) {
        match sh.neigh.lookup(next_hop) {
            Some(mac) => {
                m.data_mut()[DST_MAC].copy_from_slice(&mac.0);
                self.send(ctx, port, m);
            }
            None => {
                self.ask_external(sh, ctx, port, next_hop);
                self.hold(ctx, m, Wait::Route { port, next_hop });
            }
        }
    }

    /// Queues a frame waiting for a neighbour (bounded).
    fn hold(&mut self, ctx: &Ctx, m: Mbuf, wait: Wait) {
        if self.pending.len() == PENDING_CAP {
            ctx.counters.drop(DropReason::NeighbourPendingFull);
        } else {
            ctx.counters.event(Event::NeighbourQueued);
            self.pending.push(Pending {
                m,
                wait,
                since: ctx.now,
            });
        }
    }

    /// ARP for a neighbour on the external port (from vxgw's external address).
    fn ask_external(&mut self, sh: &Shared, ctx: &Ctx, port: u16, ip: Ipv4Addr) {
        if let Some(ext) = ctx.snap.external.as_ref().filter(|e| e.port == port) {
            let from = ext.ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
            self.ask_on_link(sh, ctx, port, ext.mac, from, ip);
        }
    }

    /// ARP for `ip` on a routed link (`port`, from `mac`/`from`), at most once a
    /// second per address.
    fn ask_on_link(
        &mut self,
        sh: &Shared,
        ctx: &Ctx,
        port: u16,
        mac: crate::wire::MacAddr,
        from: Ipv4Addr,
        ip: Ipv4Addr,
    ) {
        if !sh.neigh.should_ask(ip, ctx.now) {
            return;
        }
        if let Some(m) = self.arp_request(sh, ctx, mac, from, ip) {
            ctx.counters.event(Event::ArpRequestsSent);
            self.send(ctx, port, m);
        }
    }

    /// ARP for an overlay address in VNI slot `vni`: the request is flooded in the
    /// VNI from vxgw's overlay MAC and its first overlay address there.
    fn ask_overlay(&mut self, sh: &Shared, ctx: &Ctx, vni: u16, ip: Ipv4Addr) {
        let v = &ctx.snap.vnis[vni as usize];
        let Some(&from) = v.local_ips.first() else {
            return;
        };
        if !sh.overlay_neigh.should_ask(v.vni, ip, ctx.now) {
            return;
        }
        if let Some(m) = self.arp_request(sh, ctx, v.router_mac, from, ip) {
            ctx.counters.event(Event::OverlayArpRequestsSent);
            self.flood(sh, ctx, vni, Origin::Local, m);
        }
    }

    fn arp_request(
        &mut self,
        sh: &Shared,
        ctx: &Ctx,
        mac: crate::wire::MacAddr,
        from: Ipv4Addr,
        target: Ipv4Addr,
    ) -> Option<Mbuf> {
        let Ok(mut m) = Mbuf::alloc(&sh.pool) else {
            ctx.counters.drop(DropReason::ReplicaAllocFailed);
            return None;
        };
        let out = m.append(60)?;
        build_arp_request(out, mac, from, target);
        Some(m)
    }

    /// Once a second (worker 0): ARP for backends whose MAC is not known yet, so the
    /// first connection to a new backend does not wait for it.
    fn resolve_backends(&mut self, sh: &Shared, ctx: &Ctx) {
        if self.id != 0 {
            return;
        }
        for s in &ctx.snap.services {
            let v = &ctx.snap.vnis[s.vni as usize];
            for b in &s.backends {
                if !v.arp.contains_key(&b.ip) && sh.overlay_neigh.lookup(v.vni, b.ip).is_none() {
                    self.ask_overlay(sh, ctx, s.vni, b.ip);
                }
            }
        }
    }

    /// Head-end replication: a copy per member (VTEPs only when the frame came from
    /// an access port: split horizon), the original buffer for the last one.
    fn flood(&mut self, sh: &Shared, ctx: &Ctx, vni: u16, from: Origin, m: Mbuf) {
        let snap: &Snapshot = ctx.snap;
        let v = &snap.vnis[vni as usize];
        // Split horizon: what came from a VTEP is never sent back to VTEPs.
        let from_overlay = matches!(from, Origin::Vtep(_));
        let vteps = if from_overlay { &[][..] } else { &v.flood[..] };
        let access = v
            .access
            .iter()
            .filter(|&&(p, vl)| from != (Origin::Access { port: p, vlan: vl }));
        let n = vteps.len() + access.clone().count();
        if n == 0 {
            ctx.counters.drop(DropReason::FloodNoMembers);
            return;
        }
        ctx.counters.event(Event::Flooded);
        ctx.counters.event_n(Event::FloodReplicas, n as u64);
        let hash = if vteps.is_empty() {
            0
        } else {
            inner_flow_hash(m.data())
        };
        let targets = vteps
            .iter()
            .map(|&i| Target::Vtep(i))
            .chain(access.map(|&(port, vlan)| Target::Access { port, vlan }));
        let mut original = Some(m);
        for (k, t) in targets.enumerate() {
            let copy = if k + 1 == n {
                original.take()
            } else {
                original.as_ref().and_then(|o| o.copy(&sh.pool))
            };
            match copy {
                Some(c) => self.egress(sh, ctx, vni, t, hash, c),
                None => ctx.counters.drop(DropReason::ReplicaAllocFailed),
            }
        }
    }

    #[inline(always)]
    fn egress(&mut self, sh: &Shared, ctx: &Ctx, vni: u16, to: Target, hash: u64, mut m: Mbuf) {
        match to {
            Target::Access { port, vlan } => {
                match egress::to_access(ctx, &mut m, vni, port, vlan) {
                    Ok(()) => self.send(ctx, port, m),
                    Err(r) => ctx.counters.drop(r),
                }
            }
            Target::Vtep(i) => {
                let vni_id = ctx.snap.vnis[vni as usize].vni;
                match egress::to_vtep(ctx, &mut m, vni_id, i, hash) {
                    EncapResult::Ready { port } => self.send(ctx, port, m),
                    EncapResult::Drop(r) => ctx.counters.drop(r),
                    EncapResult::NeedNeighbour { next_hop } => {
                        self.ask_neighbour(sh, ctx, next_hop);
                        let vtep = ctx.snap.vteps[i as usize].ip;
                        self.hold(
                            ctx,
                            m,
                            Wait::Vtep {
                                vni: vni_id,
                                vtep,
                                hash,
                            },
                        );
                    }
                }
            }
        }
    }

    fn ask_neighbour(&mut self, sh: &Shared, ctx: &Ctx, ip: Ipv4Addr) {
        if let Some(ul) = ctx.snap.underlay.as_ref() {
            self.ask_on_link(sh, ctx, ul.port, ul.mac, ul.vtep_ip, ip);
        }
    }

    /// Sends frames whose neighbour got resolved; expires the old ones.
    fn retry_pending(&mut self, sh: &Shared, ctx: &Ctx) {
        let mut waiting = std::mem::replace(&mut self.pending, std::mem::take(&mut self.spare));
        for p in waiting.drain(..) {
            let expired = ctx.now.wrapping_sub(p.since) > PENDING_SECS;
            let mut m = p.m;
            match p.wait {
                Wait::Vtep { vni, vtep, hash } => {
                    let Some(i) = ctx.snap.vtep_slot(vtep) else {
                        ctx.counters.drop(DropReason::UnknownVtep);
                        continue;
                    };
                    match egress::to_vtep(ctx, &mut m, vni, i, hash) {
                        EncapResult::Ready { port } => self.send(ctx, port, m),
                        EncapResult::Drop(r) => ctx.counters.drop(r),
                        EncapResult::NeedNeighbour { .. } if expired => {
                            ctx.counters.drop(DropReason::NeighbourTimeout)
                        }
                        EncapResult::NeedNeighbour { next_hop } => {
                            self.ask_neighbour(sh, ctx, next_hop);
                            self.pending.push(Pending { m, ..p });
                        }
                    }
                }
                Wait::Route { port, next_hop } => match sh.neigh.lookup(next_hop) {
                    Some(mac) => {
                        m.data_mut()[DST_MAC].copy_from_slice(&mac.0);
                        self.send(ctx, port, m);
                    }
                    None if expired => ctx.counters.drop(DropReason::NeighbourTimeout),
                    None => {
                        self.ask_external(sh, ctx, port, next_hop);
                        self.pending.push(Pending { m, ..p });
                    }
                },
                Wait::Overlay { vni, ip } => {
                    let Some(slot) = ctx.snap.vni_slot(vni) else {
                        ctx.counters.drop(DropReason::UnknownVni);
                        continue;
                    };
                    let v = &ctx.snap.vnis[slot as usize];
                    match v
                        .arp
                        .get(&ip)
                        .copied()
                        .or_else(|| sh.overlay_neigh.lookup(vni, ip))
                    {
                        Some(mac) => {
                            m.data_mut()[DST_MAC].copy_from_slice(&mac.0);
                            let d = deliver_in_vni(ctx, slot, mac);
                            self.dispatch(sh, ctx, d, m);
                        }
                        None if expired => ctx.counters.drop(DropReason::OverlayNeighbourTimeout),
                        None => {
                            self.ask_overlay(sh, ctx, slot, ip);
                            self.pending.push(Pending { m, ..p });
                        }
                    }
                }
            }
        }
        self.spare = waiting;
    }
}
