//! What one burst's decisions read and learn into: the configuration snapshot, the
//! tables, the worker's counters and caches ([`Ctx`]).

use super::{BurstCache, EncapCache, LearnCache, MeshTables, PipelineCounters, Step, Trace};
use crate::tables::fdb::{Fdb, FdbDest};
use crate::tables::fdb_cache::FdbCache;
use crate::tables::neighbours::Neighbours;
use crate::tables::snapshot::Snapshot;

/// Everything a decision reads or learns into, for one burst.
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
    /// Where the decision points record their steps (None: not traced, the usual).
    pub trace: Option<&'a Trace>,
}

impl Ctx<'_> {
    /// Records the step `step` makes when the packet is traced (see [`Trace`]).
    #[inline(always)]
    pub fn note(&self, step: impl FnOnce() -> Step) {
        if let Some(t) = self.trace {
            t.push(step());
        }
    }

    /// True in a dry trace: take no side effect on the shared tables.
    #[inline(always)]
    pub fn dry(&self) -> bool {
        self.trace.is_some_and(Trace::dry)
    }

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
        !fdb_may_miss(self)
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

/// Occupied FDB bucket bytes above which lookups may miss the cache and a burst's
/// buckets are prefetched: half of a 512 KiB L2 (the other half holds mbufs, rings
/// and the other tables). Larger L2s only make the warming early, never missing.
pub const WARM_FDB_ABOVE: usize = 256 * 1024;

/// True when the FDB is worth prefetching (see [`WARM_FDB_ABOVE`]).
#[inline]
pub fn fdb_may_miss(ctx: &Ctx) -> bool {
    ctx.fdb.occupied_bytes() > WARM_FDB_ABOVE
}
