//! Per-worker caches of the routing mesh, so that a steady flow costs one conntrack
//! lookup and no backend resolution per packet:
//!
//! * the burst's conntrack hits: [`super::mesh::warm_conntrack`] looks up a whole burst,
//!   32 keys at a time (overlapping their cache misses), and keeps the results by
//!   packet position;
//!   the per-packet path takes packet `i`'s hit when its key is the one looked up,
//!   and re-validates it ([`Conntrack::observe_checked`](crate::tables::conntrack::Conntrack::observe_checked)
//!   fails if the entry was removed or reused since), else looks up again;
//! * the burst's new connections: for a client's SYN the warm-up computes the flow
//!   hash (Maglev's input), takes the connection's first SNAT port from the worker's
//!   cursor and prefetches both keys' buckets; the per-packet path uses that hash and
//!   port, so the insert finds its lines in the cache;
//! * the published-port lookup (`Snapshot::service_for`) of the destinations seen,
//!   direct-mapped, for one snapshot generation;
//! * each backend's delivery (its MAC and where the FDB sends it), keyed by the
//!   backend's counter slot, valid for one snapshot generation and one second of the
//!   coarse clock: a backend's MAC or VTEP change reaches its packets within a second.
//!
//! Owned by one worker (`Cell`s, no sharing, no atomics).

use std::cell::{Cell, RefCell};
use std::net::Ipv4Addr;

use super::decision::Decision;
use super::fragments::Fragments;
use super::MAX_BURST;
use crate::tables::conntrack::{Conntrack, CtHit, PackedKey, LOOKUP_BURST};
use crate::tables::snapshot::{Snapshot, MAX_BACKEND_SLOTS};
use crate::wire::MacAddr;

/// Where a backend's frames go, as resolved at (generation, second).
#[derive(Clone, Copy)]
struct BackendRoute {
    generation: u64,
    second: u32,
    mac: MacAddr,
    decision: Decision,
}

struct BurstHits {
    /// Frames looked up: the first `len` keys and hits are this burst's.
    len: usize,
    /// Bit `i`: frame `i` is a client's packet the forward fast path may take
    /// (`mesh_fast::plain_client`), checked once, by the warm-up.
    plain: u64,
    keys: [PackedKey; MAX_BURST],
    hits: [Option<CtHit>; MAX_BURST],
}

/// The burst's new connections, apart from its hits: they are noted while the hits'
/// keys are being written, and only by SYNs.
struct BurstSyns {
    /// Bit `i`: frame `i` of the burst last warmed is a new connection, `syns[i]`.
    mask: u64,
    syns: [WarmedSyn; MAX_BURST],
}

/// What the warm-up worked out for a client's SYN (see [`MeshCache::note_syn`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarmedSyn {
    /// The SYN's (original) key.
    pub key: PackedKey,
    /// Its flow hash (`FlowSeed::DEFAULT.hash_flow`), Maglev's input.
    pub flow_hash: u64,
    /// The SNAT port taken for its first insert (none in preserve mode).
    pub snat_port: Option<u16>,
}

const NO_SYN: WarmedSyn = WarmedSyn {
    key: PackedKey::NONE,
    flow_hash: 0,
    snat_port: None,
};

/// A published-port lookup's answer: (protocol, port, address) packed in `key`.
#[derive(Clone, Copy)]
struct ServiceMemo {
    generation: u64,
    key: u64,
    service: Option<u16>,
}

/// Entries of the published-port memo (a power of two).
const SERVICE_MEMO: usize = 16;

/// One worker's routing-mesh caches.
pub struct MeshCache {
    burst: RefCell<BurstHits>,
    syns: RefCell<BurstSyns>,
    current: Cell<usize>,
    services: [Cell<ServiceMemo>; SERVICE_MEMO],
    backends: Box<[Cell<Option<BackendRoute>>]>,
    /// The ports of fragmented datagrams' first fragments (see `fragments`).
    pub(super) fragments: Fragments,
}

impl Default for MeshCache {
    fn default() -> Self {
        MeshCache {
            burst: RefCell::new(BurstHits {
                len: 0,
                plain: 0,
                keys: [PackedKey::NONE; MAX_BURST],
                hits: [None; MAX_BURST],
            }),
            syns: RefCell::new(BurstSyns {
                mask: 0,
                syns: [NO_SYN; MAX_BURST],
            }),
            current: Cell::new(0),
            // No snapshot has generation u64::MAX, so every entry starts invalid.
            services: std::array::from_fn(|_| {
                Cell::new(ServiceMemo {
                    generation: u64::MAX,
                    key: 0,
                    service: None,
                })
            }),
            backends: (0..MAX_BACKEND_SLOTS).map(|_| Cell::new(None)).collect(),
            fragments: Fragments::default(),
        }
    }
}

impl MeshCache {
    /// How many first fragments of datagrams this worker remembered (wrapping): when
    /// it moved, later fragments held for their first may now be translated.
    #[inline]
    pub fn first_fragments_remembered(&self) -> u32 {
        self.fragments.remembered()
    }

    /// The worker is about to decide packet `i` of the burst last warmed.
    #[inline]
    pub fn set_current(&self, i: usize) {
        self.current.set(i);
    }

    /// The packet last set by [`MeshCache::set_current`].
    #[inline]
    pub fn current(&self) -> usize {
        self.current.get()
    }

    /// Looks up a burst's flows: `key_of(i, frame)` gives frame `i`'s key
    /// ([`PackedKey::NONE`] for one that is not looked up; a SYN is noted with
    /// [`MeshCache::note_syn`] instead) and whether it is a plain client packet
    /// (see [`MeshCache::with_plain_hit`]); the keys and the hits are kept by the frames'
    /// positions, written in place (no copies of the burst's arrays).
    #[inline]
    pub(super) fn look_up_burst<'f>(
        &self,
        conntrack: &Conntrack,
        frames: impl Iterator<Item = &'f [u8]>,
        key_of: impl Fn(usize, &[u8]) -> (PackedKey, bool),
    ) {
        self.syns.borrow_mut().mask = 0;
        let mut b = self.burst.borrow_mut();
        let b = &mut *b;
        let mut n = 0;
        let mut plain = 0u64;
        for (k, f) in b.keys.iter_mut().zip(frames) {
            let (key, is_plain) = key_of(n, f);
            *k = key;
            plain |= (is_plain as u64) << n;
            n += 1;
        }
        b.len = n;
        b.plain = plain;
        if b.keys[..n].iter().all(|k| *k == PackedKey::NONE) {
            // Nothing to look up (a burst of ARP: a MAC flood's).
            b.hits[..n].fill(None);
            return;
        }
        // In chunks: one chunk's misses are about as many as a core keeps in flight.
        let chunks = b.keys[..n].chunks(LOOKUP_BURST);
        for (k, h) in chunks.zip(b.hits[..n].chunks_mut(LOOKUP_BURST)) {
            conntrack.lookup_packed_burst(k, h);
        }
    }

    /// Forgets the burst's hits and new connections (a burst that is not looked up).
    #[inline]
    pub fn clear_burst(&self) {
        self.burst.borrow_mut().len = 0;
        self.syns.borrow_mut().mask = 0;
    }

    /// Notes frame `i` of the burst being warmed as the new connection `syn`.
    #[inline]
    pub(super) fn note_syn(&self, i: usize, syn: WarmedSyn) {
        let mut s = self.syns.borrow_mut();
        if let Some(slot) = s.syns.get_mut(i) {
            *slot = syn;
            s.mask |= 1u64 << i;
        }
    }

    /// The warm-up's work for the current packet, if it was noted as a new
    /// connection with `key`.
    #[inline]
    pub(super) fn warmed_syn(&self, key: &PackedKey) -> Option<WarmedSyn> {
        let i = self.current.get();
        let s = self.syns.borrow();
        let w = s.syns.get(i).filter(|_| s.mask >> i & 1 != 0)?;
        (w.key == *key).then_some(*w)
    }

    /// What the warm-up's lookup of the current packet found, if it looked it up
    /// with `key`: `Some(None)` is a miss.
    #[inline(always)]
    pub(super) fn warmed_lookup(&self, key: &PackedKey) -> Option<Option<CtHit>> {
        let i = self.current.get();
        let b = self.burst.borrow();
        if i >= b.len || *key == PackedKey::NONE {
            return None;
        }
        match (b.keys.get(i), b.hits.get(i)) {
            (Some(k), Some(&h)) if k == key => Some(h),
            _ => None,
        }
    }

    /// The warmed hit of the current packet, if it was looked up with `key` and hit.
    #[inline(always)]
    pub(super) fn hit_for(&self, key: &PackedKey) -> Option<CtHit> {
        let i = self.current.get();
        let b = self.burst.borrow();
        if i >= b.len {
            return None;
        }
        match (b.keys.get(i), b.hits.get(i)) {
            (Some(k), Some(&h)) if k == key => h,
            _ => None,
        }
    }

    /// The current packet's key, if the warm-up found it a plain client packet
    /// ([`plain_client`](super::mesh_key::plain_client)'s checks, made there) and its
    /// lookup found no connection: what the early refusal would otherwise parse again.
    #[inline(always)]
    pub(super) fn plain_miss(&self) -> Option<PackedKey> {
        let i = self.current.get();
        let b = self.burst.borrow();
        if i >= b.len || b.plain >> i & 1 == 0 {
            return None;
        }
        match (b.keys.get(i), b.hits.get(i)) {
            (Some(k), Some(None)) => Some(*k),
            _ => None,
        }
    }

    /// `f` of the current packet's key and connection, if the warm-up found it a
    /// plain client packet ([`super::mesh_fast`]'s checks, made once there, not
    /// again) and looked it up with a hit. The packet is the one warmed at the
    /// current position: the worker sets the position of each frame of the burst it
    /// just warmed, and a burst that is not looked up is forgotten. `f` reads them in
    /// place (a hit is ~60 bytes: copied out, it cost the forward path ~4
    /// instructions a packet).
    #[inline(always)]
    pub(super) fn with_plain_hit<R>(
        &self,
        f: impl FnOnce(&PackedKey, &CtHit) -> Option<R>,
    ) -> Option<R> {
        let i = self.current.get();
        let b = self.burst.borrow();
        if i >= b.len || b.plain >> i & 1 == 0 {
            return None;
        }
        match (b.keys.get(i), b.hits.get(i)) {
            (Some(k), Some(Some(h))) => f(k, h),
            _ => None,
        }
    }

    /// `snap.service_for(proto, dst, port)`, remembered per destination for the
    /// snapshot's generation (the lookup is an index probe and a list scan; a
    /// client's packets ask it once per packet).
    #[inline(always)]
    pub(super) fn service_for(
        &self,
        snap: &Snapshot,
        proto: u8,
        dst: Ipv4Addr,
        port: u16,
    ) -> Option<u16> {
        let ip = u32::from(dst);
        let key = (proto as u64) << 48 | (port as u64) << 32 | ip as u64;
        let c = &self.services[(ip ^ port as u32) as usize % SERVICE_MEMO];
        let m = c.get();
        if m.generation == snap.generation && m.key == key {
            return m.service;
        }
        let service = snap.service_for(proto, dst, port);
        c.set(ServiceMemo {
            generation: snap.generation,
            key,
            service,
        });
        service
    }

    /// The cached delivery of backend `slot`, if resolved in this generation and second.
    #[inline]
    pub(super) fn route(
        &self,
        slot: u32,
        generation: u64,
        second: u32,
    ) -> Option<(MacAddr, Decision)> {
        let r = self.backends.get(slot as usize)?.get()?;
        (r.generation == generation && r.second == second).then_some((r.mac, r.decision))
    }

    /// Caches the delivery of backend `slot`.
    #[inline]
    pub(super) fn set_route(
        &self,
        slot: u32,
        generation: u64,
        second: u32,
        mac: MacAddr,
        decision: Decision,
    ) {
        if let Some(c) = self.backends.get(slot as usize) {
            c.set(Some(BackendRoute {
                generation,
                second,
                mac,
                decision,
            }));
        }
    }
}
