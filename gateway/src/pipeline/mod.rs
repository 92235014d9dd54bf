//! Per-packet decisions: pure functions of (packet bytes, tables) -> what to do.
//!
//! The pipeline knows nothing of DPDK. It works on anything that implements
//! [`PacketBuf`] (an mbuf in the gateway, a `Vec` in tests and fuzzing), reads the
//! configuration [`Snapshot`], and reads and learns into the FDB and the neighbour
//! table. The worker glue turns a [`Decision`] into transmissions and replicas.
//!
//! Flow: [`ingress`] classifies by the rx port's roles and normalises the frame to an
//! untagged inner Ethernet frame of one VNI (decap strips the outer headers, access
//! ingress pops the 802.1Q tag), learns its source, and decides where it goes; the
//! [`egress`] functions then dress a frame for one destination (push a VLAN tag, or
//! prepend the outer headers of a VTEP).
//!
//! In front of it, the worker runs the [`fast_path`] on the frames of an access port
//! and of the underlay port: known unicast to the other side, decided and done in one
//! pass. What it declines, untouched, goes through `ingress` as above.

mod access;
mod admission;
mod bridge;
mod buf;
mod burst_cache;
mod counters;
mod decap;
mod decision;
mod edge;
pub mod egress;
mod encap_cache;
mod external;
pub mod fast_path;
mod flow;
mod fragments;
mod local;
mod mesh;
mod mesh_cache;
mod mesh_fast;
pub mod nat;
mod underlay;
mod warm;

pub use admission::Admission;
pub use buf::{PacketBuf, VecBuf};
pub use burst_cache::BurstCache;
pub use counters::{BackendCounters, BackendStat, Event, PipelineCounters, EVENT_COUNT};
pub use decision::{Decision, DropReason, MeshSide, Origin, Target, DROP_REASON_COUNT};
pub use encap_cache::{EncapAction, EncapCache};
pub use flow::inner_flow_hash;
pub use fragments::{
    HELD_PER_WORKER as HELD_FRAGMENTS_PER_WORKER, HOLD_SECS as FRAGMENT_HOLD_SECS,
};
pub use local::build_arp_request;
pub use mesh::{deliver_in_vni, later_fragment, MeshTables};
pub use mesh_cache::MeshCache;
pub use warm::warm_burst;

/// The most frames the worker hands the pipeline as one burst (the routing mesh's
/// per-burst caches are this big; their bit masks are `u64`s).
pub const MAX_BURST: usize = 64;
const _: () = assert!(MAX_BURST <= 64);

use std::cell::Cell;

use crate::tables::fdb::{Fdb, FdbDest};
use crate::tables::fdb_cache::FdbCache;
use crate::tables::neighbours::Neighbours;
use crate::tables::snapshot::Snapshot;

/// Everything a decision reads or learns into, for one burst.
pub struct Ctx<'a> {
    /// The configuration snapshot loaded for this burst.
    pub snap: &'a Snapshot,
    /// The filtering database.
    pub fdb: &'a Fdb,
    /// Underlay neighbours.
    pub neigh: &'a Neighbours,
    /// Coarse clock (seconds) for learning and ageing.
    pub now: u32,
    /// This worker's counters.
    pub counters: &'a PipelineCounters,
    /// This worker's recent learns (see [`LearnCache`]).
    pub learn_cache: &'a LearnCache,
    /// This worker's cache of FDB answers (see [`FdbCache`]).
    pub fdb_cache: &'a FdbCache,
    /// This worker's encap actions (see [`EncapCache`]).
    pub encap_cache: &'a EncapCache,
    /// Their epoch for this round ([`EncapCache::sync`]).
    pub encap_epoch: u32,
    /// The routing mesh's tables (None: no routing mesh, e.g. overlay-only tests).
    pub mesh: Option<MeshTables<'a>>,
    /// Answers kept for this poll round (VTEP slot, next-hop MAC).
    pub burst: BurstCache,
}

impl Ctx<'_> {
    /// Where frames to `mac` (as [`MacAddr::to_u64`](crate::wire::MacAddr::to_u64)
    /// has it) in `vni` go: from the worker's [`FdbCache`] while the FDB is small
    /// enough for the caches, else from the FDB itself (its bucket prefetched by the
    /// burst warm-up, `warm.rs`: with more MACs than the cache holds, every probe
    /// would be a miss and a fill).
    #[inline(always)]
    pub fn fdb_lookup(&self, vni: u32, mac: u64) -> Option<FdbDest> {
        if self.fdb_in_cache() {
            self.fdb_lookup_in::<true, _>(vni, mac, Some)
        } else {
            self.fdb_lookup_in::<false, _>(vni, mac, Some)
        }
    }

    /// True when the FDB is asked through the worker's [`FdbCache`] (its buckets fit
    /// the caches); see [`Ctx::fdb_lookup`].
    #[inline(always)]
    pub fn fdb_in_cache(&self) -> bool {
        !warm::fdb_may_miss(self)
    }

    /// [`Ctx::fdb_lookup`] the way `CACHED` says ([`Ctx::fdb_in_cache`]), decided by
    /// the caller once per burst: a drain loop that only ever asks the cache has no
    /// call to the FDB in it, and keeps its registers. `want` takes what the caller
    /// needs from the destination (an address, a port) in each of the two ways, so
    /// that no whole `FdbDest` is merged from both and taken apart again.
    #[inline(always)]
    pub fn fdb_lookup_in<const CACHED: bool, T>(
        &self,
        vni: u32,
        mac: u64,
        want: impl Fn(FdbDest) -> Option<T>,
    ) -> Option<T> {
        if CACHED {
            self.fdb_cache.lookup(self.fdb, vni, mac).and_then(want)
        } else {
            self.fdb_lookup_uncached(vni, mac).and_then(want)
        }
    }

    /// The big FDB's lookup, out of line (inlined, it cost the cached path
    /// registers; with that many MACs a call is nothing beside the cache misses).
    #[inline(never)]
    fn fdb_lookup_uncached(&self, vni: u32, mac: u64) -> Option<FdbDest> {
        self.fdb.lookup_key(vni, mac)
    }
}

/// Slots of a [`LearnCache`] (a power of two).
const LEARN_CACHE_SLOTS: usize = 64;

/// The (VNI, source MAC, destination, second) this worker learned lately, in a small
/// direct-mapped table (1.5 KiB). A repeated learn within the same second would change
/// nothing (the FDB refreshes at most once per second), so the FDB is not even read:
/// a burst usually carries many frames of a few hosts (a backend's replies, a
/// server's traffic), and with one remembered learn, traffic interleaving four
/// sources went to the FDB on every frame (~145 instructions each). A collision
/// only costs a learn. Per worker, never shared.
///
/// A remembered learn is only true while the FDB still holds it: the worker calls
/// [`LearnCache::sync`] with the FDB's change count ([`Fdb::changes`]: flushes,
/// ageing, moves, removals) once per poll round, and the cache forgets everything
/// when that moved, so a host is learned again right after a flush instead of up to
/// a second later. Learns are keyed by VNI slot (what the fast path has at hand; the
/// VNI itself is in the encap action's line, which the check then waited for), so
/// the snapshot's generation is passed too: a new configuration may give a slot to
/// another VNI.
///
/// The last learn checked is also kept apart and checked first: a run of frames from
/// one host (a server's stream) then skips the table's hash.
pub struct LearnCache {
    last: LearnSlot,
    slots: [LearnSlot; LEARN_CACHE_SLOTS],
    counts: Cell<[u64; 2]>,
}

/// One remembered learn, a `Cell` per word (a check loads only what it compares).
#[derive(Default)]
struct LearnSlot {
    mac: Cell<u64>,
    dest: Cell<u64>,
    /// VNI slot (high 32 bits) and second.
    slot_now: Cell<u64>,
}

impl LearnSlot {
    #[inline(always)]
    fn holds(&self, mac: u64, dest: u64, slot_now: u64) -> bool {
        self.mac.get() == mac && self.dest.get() == dest && self.slot_now.get() == slot_now
    }

    #[inline(always)]
    fn set(&self, mac: u64, dest: u64, slot_now: u64) {
        self.mac.set(mac);
        self.dest.set(dest);
        self.slot_now.set(slot_now);
    }
}

impl Default for LearnCache {
    fn default() -> Self {
        LearnCache {
            last: LearnSlot::default(),
            slots: std::array::from_fn(|_| LearnSlot::default()),
            counts: Cell::new([0; 2]),
        }
    }
}

impl LearnCache {
    /// Forgets every remembered learn if the FDB changed (`fdb_changes`, its
    /// [`Fdb::changes`]) since the last call, an entry remembered here may be gone,
    /// or the configuration did (`generation`, the snapshot's): a slot may be
    /// another VNI's now.
    #[inline]
    pub fn sync(&self, fdb_changes: u64, generation: u64) {
        let now = [fdb_changes, generation];
        if self.counts.get() != now {
            self.counts.set(now);
            for s in std::iter::once(&self.last).chain(&self.slots) {
                s.set(0, 0, 0);
            }
        }
    }

    /// True if this exact learn (in VNI slot `slot`) was done already in second
    /// `now`; records it if not.
    #[inline]
    pub fn seen(&self, slot: u16, mac: u64, dest: u64, now: u32) -> bool {
        let slot_now = (slot as u64) << 32 | now as u64;
        if self.last.holds(mac, dest, slot_now) {
            return true;
        }
        self.seen_in_table(mac, dest, slot_now)
    }

    /// [`LearnCache::seen`] past the last learn: the table, and the learn becomes
    /// the last one.
    #[inline(always)]
    fn seen_in_table(&self, mac: u64, dest: u64, slot_now: u64) -> bool {
        // The MAC's last byte (then the one before) tells hosts apart: locally
        // administered MACs, Docker's and most vendors' count up there.
        let i = (mac ^ mac >> 6 ^ slot_now >> 32) as usize % LEARN_CACHE_SLOTS;
        let slot = &self.slots[i];
        self.last.set(mac, dest, slot_now);
        if slot.holds(mac, dest, slot_now) {
            return true;
        }
        slot.set(mac, dest, slot_now);
        false
    }
}

/// Decides what to do with a frame received on `rx_port`. May rewrite `buf` (strip
/// outer headers, pop a tag, turn a request into a reply). Never panics.
#[inline]
pub fn ingress<B: PacketBuf>(ctx: &Ctx, rx_port: u16, buf: &mut B) -> Decision {
    let Some(port) = ctx.snap.port(rx_port) else {
        return Decision::Drop(DropReason::UnknownPort);
    };
    if buf.data().len() < crate::wire::ethernet::HEADER_LEN {
        return Decision::Drop(DropReason::Truncated);
    }
    if port.underlay {
        if let Some(d) = underlay::ingress(ctx, rx_port, port, buf) {
            return d;
        }
    }
    if port.external {
        if let Some(ext) = ctx.snap.external.as_ref().filter(|e| e.port == rx_port) {
            if let Some(r) = mesh::refusal(ctx, ext, buf.data()) {
                return Decision::Drop(r);
            }
            if let Some(d) = external::ingress(ctx, ext, buf) {
                return d;
            }
        }
    }
    if port.access {
        return access::ingress(ctx, rx_port, port, buf);
    }
    if port.underlay || port.external {
        return Decision::Drop(DropReason::NotForUs);
    }
    Decision::Drop(DropReason::NoRole)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mesh_tests;

#[cfg(test)]
mod fast_path_tests;

#[cfg(test)]
mod mesh_fast_tests;

#[cfg(test)]
mod edge_tests;
