//! The filtering database (IEEE 802.1Q clause 8.8) of every VNI: which access port
//! (and VLAN) or which remote VTEP a unicast MAC lives behind.
//!
//! Entries are either *dynamic* (learned by the data path from source MACs; they
//! carry a `last_seen` second and age out) or *static* (added by the control plane;
//! learning never overrides them and ageing never removes them). A MAC seen on a
//! different destination *moves*. A per-VNI limit on learned entries, passed with
//! each [`Fdb::learn`] call (it comes from the VNI's configuration snapshot, so the
//! table holds no copy to keep in sync), stops a MAC flood in one VNI from taking the
//! table. Multicast, broadcast and all-zero source MACs are never learned (802.1Q
//! 8.7: learning records individual addresses only). VNIs are 24 bits; wider values
//! are a caller bug (debug assertion) and are taken modulo 2^24.
//!
//! # Layout
//!
//! Fixed capacity, all memory allocated in [`Fdb::new`]; nothing on the packet path
//! allocates, locks, or makes a syscall.
//!
//! * **Buckets** of [`SLOTS_PER_BUCKET`] = 15 slots, 256 bytes, 128-byte aligned:
//!   - lines 0-1 (one 128-byte adjacent-line-prefetch pair): the bucket `header`
//!     word and the 15 `keys`;
//!   - lines 2-3: the 15 `values` (+ 8 bytes of padding).
//!
//!   A **key** is `(vni & 0xffff) << 48 | mac`, `mac` being the 48-bit address
//!   ([`MacAddr::to_u64`]). The VNI has 24 bits, so its top 8 bits live in the value.
//!   Key 0 marks a free slot: it would need MAC 00:00:00:00:00:00, which is refused.
//!   A **value** packs: bits 0-31 the destination payload (access: port << 16 | vlan;
//!   VTEP: the IPv4 address), bits 32-33 its kind (1 access, 2 VTEP, 0 free), bit 34
//!   static, bit 35 "stored in the secondary bucket", bits 40-47 the VNI's top 8 bits.
//!   A slot matches when the key word *and* the VNI bits of the value match (two
//!   VNIs that differ only above bit 15 share key words).
//!   The **header** packs a 32-bit sequence number (odd = a write is in progress),
//!   the writer-lock bit (bit 32), and (bits 33-63) the *overflow count*: how many
//!   entries whose primary bucket this is are stored in their (various) secondaries.
//! * **summary**: a parallel array, one `u64` per bucket with a bit per key the
//!   bucket holds (6 bits of the key's hash, [`summary_bit`]). [`Fdb::learn`] reads
//!   the key's two words before any bucket line: when its bit is clear in both, the
//!   MAC is not in the table (a MAC flood's every frame; about 70 % of new keys with
//!   11 entries a bucket), and the learn goes on without searching the buckets.
//!   The bit is set before an entry is published and recomputed from the bucket's
//!   keys after one is removed, by the holder of the bucket's lock (a load and a
//!   store, no read-modify-write).
//! * **last_seen**: a parallel array, one 64-byte line of `AtomicU32` per bucket,
//!   never read by [`Fdb::lookup`]. Refreshing a MAC's `last_seen` therefore never
//!   invalidates a line that other workers' lookups read.
//! * **VNI slots**: a fixed open-addressing table (`max_vnis` rounded up to a power
//!   of two, times two) of `{vni, dynamic count, static count}`, one per 64-byte
//!   line. A VNI takes a slot when the control plane registers it
//!   ([`Fdb::register_vni`]) or when its first entry is created, and keeps it until
//!   the control plane releases it ([`Fdb::release_vni`], once the VNI is deleted and
//!   flushed): the slot becomes a *tombstone* that probes walk past and the next
//!   registration reuses, so VNIs created and deleted over a gateway's life never
//!   exhaust the table.
//!
//! Memory: (256 + 64 + 8) bytes per 15 slots = 21.9 bytes per slot. [`Fdb::new`] makes
//! `capacity * 4/3` slots (whole buckets), i.e. about 29.2 bytes per requested entry.
//!
//! # Hashing, placement and the probe bound
//!
//! A seeded folded-multiply hash of (vni, mac) gives two buckets, *primary* and
//! *secondary* (multiply-shift onto the bucket count, so no power-of-two rounding).
//! The seed is random per table (std `RandomState`) so that nobody can pick MACs
//! that collide. An entry lives in one of its two buckets: the primary while that
//! holds fewer than 9 entries or is not fuller than the secondary, else the less
//! loaded of the two ("two choices", biased to the primary). **Probe bound: two
//! buckets.** When both are full, `learn` returns [`LearnOutcome::TableFull`]
//! (counted; the frame is flooded like any unknown destination) and `add_static`
//! fails with [`FdbError::TableFull`]. Entries never move between buckets.
//! Measured (random keys, `fill_until_table_full`): the first `TableFull` comes at
//! 84 % of the slots with 1.4 million slots, 85-86 % with 133 000, 89-92 % with
//! 1 300, so the requested capacity (75 % of the slots) fits; at 75 % load about 84 %
//! of the entries sit in their primary. Each key also has a home slot (from other
//! bits of its hash), where it is put when that slot is free: a lookup compares the
//! home slot's key first, then the other occupied slots', and on a hit reads one
//! value line; it reads the secondary only when the primary's overflow count is not
//! zero. A learn refresh reads the `last_seen` line as well.
//!
//! [`Fdb::lookup`] returns the destination only (what forwarding needs);
//! [`Fdb::lookup_hit`] also says whether the entry is static.
//!
//! # Concurrency: a per-bucket seqlock, all in safe atomics
//!
//! Readers ([`Fdb::lookup`], the check at the start of [`Fdb::learn`], listings)
//! never write. They load the header (Acquire) and retry while the sequence is odd;
//! they read keys and values with Relaxed loads, issue an Acquire fence, reload the
//! header and retry if the sequence changed. Writers take the bucket's lock bit with
//! `compare_exchange` (Acquire), make the sequence odd, issue a Release fence,
//! store the slot words (Relaxed), make the sequence even again (Release store) and
//! release the lock (Release store). Every shared word is an atomic, so a racing
//! reader can see a stale or mixed snapshot but never undefined behaviour, and the
//! sequence check discards mixed snapshots: a hit always returns a (key, value)
//! pair that one writer stored together. A reader waits only while a writer is
//! inside its few-store critical section; after 1024 spins it yields (reachable only
//! when that writer's thread was descheduled, e.g. a control thread on a shared core).
//!
//! Lock discipline (no global lock, no deadlock): every change to the entry of key K
//! holds the locks of both of K's buckets, taken in increasing bucket index order,
//! and no operation ever holds more than those two. That makes "search, then
//! insert" atomic per key (never a duplicate) and rules out lock cycles. The
//! primary's overflow count changes under its lock: it is raised before an entry is
//! published in the secondary and lowered after it is removed, so a reader that finds
//! the count at zero may skip the secondary. Sweeps (ageing, flushes) pick
//! candidates with lock-free reads and re-check each under its key's two locks, so a
//! bucket with nothing to remove is never locked.
//!
//! # Why a refresh writes nothing
//!
//! The common case of `learn` is a known MAC on the same destination in the same
//! second. It is a pure read: the seqlock read of the slot, then a load of its
//! `last_seen`; only when `now` is later than the stored value does it store `now`
//! (a plain Relaxed store: no read-modify-write, no lock), so a hot MAC writes its
//! shared line at most once per clock tick, and that line is not one a lookup reads.
//! The store is not ordered with the seqlock: if the slot was emptied and reused in
//! between, the new entry's `last_seen` (set to the current second when created)
//! is set to the current second again, which is harmless. A worker whose coarse
//! clock is a tick behind never moves `last_seen` backwards. Ages are wrapping,
//! signed differences, so the u32 clock may wrap.
//!
//! # Counters
//!
//! The table counts its rare events itself: learned, moved, aged, flushed, and,
//! because a MAC flood or a misbehaving host makes them per packet, limit hits,
//! table-full, refused sources and attempts to move a static MAC. Each count is a
//! Relaxed `fetch_add` on one of 16 counter stripes (each its own 128 bytes) chosen
//! by the key's primary bucket, so workers hit by a flood of random MACs spread over
//! the stripes instead of bouncing one line. A static MAC seen on its own
//! destination is reported as [`LearnOutcome::StaticKept`] but not counted (that
//! would be per packet). Per-VNI entry counts take `fetch_add`/`fetch_sub` only when
//! an entry is created or removed; at the limit, `learn` answers `LimitHit` after a
//! plain load of the count, before any lock or read-modify-write. Refreshes count
//! nothing: the caller sees the outcome and may count it in its own per-worker counters.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use super::buckets::header::BucketHeader;
use super::buckets::locking::{lock_in_order, unlock_in_order};
use super::buckets::placement;
use super::buckets::striped::Striped;
use super::folded_mul::folded_mul;
use super::seconds::{elapsed, is_later};
use crate::dpdk::{huge_table, prefetch};
use crate::wire::ethernet::MacAddr;
use core::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};

/// Slots per bucket (the header and 15 keys fill two cache lines).
pub const SLOTS_PER_BUCKET: usize = 15;
/// Buckets a key may live in (its primary and its secondary).
pub const PROBE_BUCKETS: usize = 2;
/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;
/// A learn limit that never bites.
pub const NO_LIMIT: u32 = u32::MAX;

const SLOTS: usize = SLOTS_PER_BUCKET;
/// The primary takes new entries while it holds fewer than this many.
const PRIMARY_FILL: usize = 9;

// Key word.
const MAC_MASK: u64 = 0x0000_ffff_ffff_ffff;
const KEY_VNI_SHIFT: u32 = 48;

// Value word.
const PAYLOAD_MASK: u64 = 0xffff_ffff;
const KIND_SHIFT: u32 = 32;
const KIND_MASK: u64 = 3 << KIND_SHIFT;
const KIND_ACCESS: u64 = 1 << KIND_SHIFT;
const KIND_VTEP: u64 = 2 << KIND_SHIFT;
const DEST_MASK: u64 = PAYLOAD_MASK | KIND_MASK;
const STATIC: u64 = 1 << 34;
const ALT: u64 = 1 << 35;
const VNI_HI_SHIFT: u32 = 40;
const VNI_HI_MASK: u64 = 0xff << VNI_HI_SHIFT;

/// Bucket header (`buckets/header.rs`). Overflow count: 16 bits (an overflow beyond
/// 65535 entries of one primary bucket saturates; lookups then may miss such entries,
/// never read out of bounds).
type Header = BucketHeader<16>;
/// Occupancy, in the header's table bits: bit i set = slot i holds an entry. Lets
/// `find` look only at used slots.
const OCC_SHIFT: u32 = Header::TABLE_SHIFT;
const OCC_MASK: u64 = 0x7fff << OCC_SHIFT;

// Counter indices.
const C_LEARNED: usize = 0;
const C_MOVED: usize = 1;
const C_AGED: usize = 2;
const C_FLUSHED: usize = 3;
const C_LIMIT: usize = 4;
const C_FULL: usize = 5;
const C_STATIC_KEPT: usize = 6;
const C_NOT_UNICAST: usize = 7;
const N_COUNTERS: usize = 8;

/// Where frames for a MAC go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FdbDest {
    /// A local access port (port index) and its VLAN (0 = untagged).
    Access {
        /// Access port index.
        port: u16,
        /// VLAN on that port, 0 = untagged.
        vlan: u16,
    },
    /// A remote VTEP.
    Vtep(Ipv4Addr),
}

impl FdbDest {
    /// The destination bits of a value word (payload and kind: bits 0-33; the
    /// per-worker cache keeps them under its VNI, `fdb_cache.rs`).
    #[inline]
    pub(super) fn encode(self) -> u64 {
        match self {
            FdbDest::Access { port, vlan } => KIND_ACCESS | (port as u64) << 16 | vlan as u64,
            FdbDest::Vtep(ip) => KIND_VTEP | u32::from(ip) as u64,
        }
    }

    /// Inverse of `encode` for an occupied value word (bits above 33 ignored).
    #[inline]
    pub(super) fn decode(v: u64) -> FdbDest {
        let p = (v & PAYLOAD_MASK) as u32;
        // The kinds are 1 and 2: one bit tells them apart.
        if v & KIND_ACCESS != 0 {
            FdbDest::Access {
                port: (p >> 16) as u16,
                vlan: p as u16,
            }
        } else {
            FdbDest::Vtep(Ipv4Addr::from(p))
        }
    }
}

impl fmt::Display for FdbDest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdbDest::Access { port, vlan } => write!(f, "port {port} vlan {vlan}"),
            FdbDest::Vtep(ip) => write!(f, "vtep {ip}"),
        }
    }
}

/// A lookup result with the entry's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbHit {
    /// Where the MAC is.
    pub dest: FdbDest,
    /// True for a static (control-plane) entry.
    pub is_static: bool,
}

/// What [`Fdb::learn`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LearnOutcome {
    /// Known on the same destination; `last_seen` advanced if `now` was later.
    Refreshed,
    /// A new dynamic entry.
    Learned,
    /// The dynamic entry now points to the new destination.
    Moved,
    /// A static entry exists; learning does not touch it.
    StaticKept,
    /// The VNI already has `limit` learned entries; not learned.
    LimitHit,
    /// No free slot in the key's probe window (or no free VNI slot); not learned.
    TableFull,
    /// Multicast, broadcast or all-zero source MAC; never learned.
    NotUnicast,
}

/// Why a control-plane change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FdbError {
    /// The MAC is multicast, broadcast or all-zero.
    NotUnicast,
    /// The VNI does not fit in 24 bits.
    BadVni,
    /// No free slot in the key's probe window.
    TableFull,
    /// The VNI table has no room for another VNI.
    VniTableFull,
}

impl fmt::Display for FdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FdbError::NotUnicast => "not a unicast MAC",
            FdbError::BadVni => "VNI does not fit in 24 bits",
            FdbError::TableFull => "FDB full",
            FdbError::VniTableFull => "FDB VNI table full",
        })
    }
}

impl std::error::Error for FdbError {}

/// Which entries a kind filter selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KindFilter {
    /// Static and dynamic entries.
    #[default]
    All,
    /// Learned entries only.
    Dynamic,
    /// Static entries only.
    Static,
}

/// Which destinations a filter selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestFilter {
    /// Exactly this destination (e.g. every MAC behind one VTEP).
    Exact(FdbDest),
    /// Any VLAN of this access port (e.g. the port went down).
    Port(u16),
}

/// Selects entries for [`Fdb::flush`] and [`Fdb::entries`]; all fields must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FdbFilter {
    /// Only this VNI.
    pub vni: Option<u32>,
    /// Only these destinations.
    pub dest: Option<DestFilter>,
    /// Only these kinds.
    pub kind: KindFilter,
}

impl FdbFilter {
    /// Every entry.
    pub const fn all() -> FdbFilter {
        FdbFilter {
            vni: None,
            dest: None,
            kind: KindFilter::All,
        }
    }

    /// Restricts to one VNI.
    pub const fn vni(mut self, vni: u32) -> FdbFilter {
        self.vni = Some(vni);
        self
    }

    /// Restricts to a destination.
    pub const fn dest(mut self, dest: DestFilter) -> FdbFilter {
        self.dest = Some(dest);
        self
    }

    /// Restricts to dynamic (learned) entries.
    pub const fn dynamic_only(mut self) -> FdbFilter {
        self.kind = KindFilter::Dynamic;
        self
    }

    /// Restricts to static entries.
    pub const fn static_only(mut self) -> FdbFilter {
        self.kind = KindFilter::Static;
        self
    }

    fn matches(&self, vni: u32, value: u64) -> bool {
        if self.vni.is_some_and(|v| v != vni) {
            return false;
        }
        let is_static = value & STATIC != 0;
        match self.kind {
            KindFilter::All => {}
            KindFilter::Dynamic if is_static => return false,
            KindFilter::Static if !is_static => return false,
            _ => {}
        }
        match self.dest {
            None => true,
            Some(DestFilter::Exact(d)) => value & DEST_MASK == d.encode(),
            Some(DestFilter::Port(p)) => matches!(
                FdbDest::decode(value),
                FdbDest::Access { port, .. } if port == p
            ),
        }
    }
}

/// One entry, as listed by [`Fdb::entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbEntry {
    /// VNI.
    pub vni: u32,
    /// MAC.
    pub mac: MacAddr,
    /// Destination.
    pub dest: FdbDest,
    /// Static (control-plane) entry.
    pub is_static: bool,
    /// Second the entry was learned or last refreshed (0 for static entries).
    pub last_seen: u32,
    /// Seconds since `last_seen` at the listing's `now` (0 for static entries).
    pub age: u32,
}

/// Counters and sizes, summed when asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FdbStats {
    /// Dynamic entries created.
    pub learned: u64,
    /// Dynamic entries moved to a new destination.
    pub moved: u64,
    /// Dynamic entries removed by ageing.
    pub aged: u64,
    /// Entries removed by flushes.
    pub flushed: u64,
    /// New MACs not learned because their VNI was at its limit.
    pub limit_hits: u64,
    /// New MACs not learned because their probe window (or the VNI table) was full.
    pub table_full: u64,
    /// Learn attempts that would have moved a static entry.
    pub static_kept: u64,
    /// Multicast/broadcast/zero source MACs refused.
    pub not_unicast: u64,
    /// Dynamic entries now.
    pub dynamic_entries: usize,
    /// Static entries now.
    pub static_entries: usize,
    /// VNIs holding a count slot now (registered, or created by a first learn).
    pub vnis: usize,
    /// Most VNIs the table holds at once.
    pub max_vnis: usize,
}

/// One bucket: header and keys in the first two cache lines, values in the next two.
#[repr(C, align(128))]
#[derive(Default)]
struct Bucket {
    header: Header,
    keys: [AtomicU64; SLOTS],
    values: [AtomicU64; SLOTS],
}

/// `last_seen` of one bucket's slots (the 16th is unused): one line per bucket.
#[repr(align(64))]
#[derive(Default)]
struct LastSeen([AtomicU32; 16]);

/// The tag of a released VNI slot: not free (a probe goes on past it, so the VNIs
/// placed behind it stay reachable), and only [`Fdb::register_vni`] reuses it.
const VNI_TOMBSTONE: u32 = u32::MAX;

/// Per-VNI entry counts.
#[repr(align(64))]
#[derive(Default)]
struct VniSlot {
    /// VNI + 1; 0 = never used; [`VNI_TOMBSTONE`] = released.
    tag: AtomicU32,
    dynamic: AtomicU32,
    statics: AtomicU32,
}

/// The event counters of one stripe.
type CounterBlock = [AtomicU64; N_COUNTERS];

impl Bucket {
    /// Runs `f` on a consistent snapshot of the bucket (seqlock read) and returns
    /// its result with the header word it was read under. `f` must only read.
    #[inline(always)]
    fn read<R>(&self, f: impl Fn(&Bucket) -> R) -> (R, u64) {
        self.header.read(|| f(self))
    }

    /// The slot holding `key` with VNI top bits `vhi` (unsynchronised: call it
    /// inside `read`, or with the lock held). `home` is the key's home slot.
    #[inline]
    fn find(&self, key: u64, vhi: u64, home: usize) -> Option<(usize, u64)> {
        let hit = |i: usize| {
            let v = self.values[i].load(Relaxed);
            (v & VNI_HI_MASK == vhi && v & KIND_MASK != 0).then_some((i, v))
        };
        let occ = ((self.header.load() & OCC_MASK) >> OCC_SHIFT) as u32;
        // The home slot first: most entries sit there, and a hit there costs no scan.
        // (The scan ends at a slot that varies from key to key, so the branch
        // predictor misses its exit about once a lookup: ~15 cycles.)
        if occ & (1 << home) != 0 && self.keys[home].load(Relaxed) == key {
            if let Some(r) = hit(home) {
                return Some(r);
            }
        }
        // Then the other occupied slots (the occupancy bits change only inside a
        // write, so the seqlock validates them with the keys); the first match ends
        // the scan.
        let mut left = occ & !(1 << home);
        while left != 0 {
            let i = left.trailing_zeros() as usize;
            if self.keys[i].load(Relaxed) == key {
                if let Some(r) = hit(i) {
                    return Some(r);
                }
            }
            left &= left - 1;
        }
        None
    }

    /// Marks slot `i` used or free (lock held, inside a write).
    fn set_occupied(&self, i: usize, used: bool) {
        self.header
            .set_table_bits(1 << (OCC_SHIFT + i as u32), used);
    }

    /// A free slot (`home` if it is free, else the first) and the number of
    /// entries (lock held).
    #[inline(always)]
    fn free_slot(&self, home: usize) -> (Option<usize>, usize) {
        let occ = ((self.header.load() & OCC_MASK) >> OCC_SHIFT) as u32;
        placement::free_slot(occ, (OCC_MASK >> OCC_SHIFT) as u32, Some(home), None)
    }
}

/// A key's place: its primary bucket (the secondary is computed when asked for:
/// the per-packet lookup needs it only when the primary has overflowed), its home
/// slot in either (where it is put when that slot is free, and looked for first),
/// its key word, its VNI top bits (value position).
#[derive(Clone, Copy, Debug)]
struct Pos {
    b1: usize,
    /// The first hash, from which the secondary bucket is derived.
    x1: u64,
    /// The number of buckets.
    n: usize,
    home: usize,
    key: u64,
    vhi: u64,
}

impl Pos {
    /// The secondary bucket.
    #[inline(always)]
    fn b2(&self) -> usize {
        let x2 = folded_mul(self.x1, 0x9e37_79b9_7f4a_7c15);
        ((x2 as u128 * self.n as u128) >> 64) as usize
    }
}

/// A key's bit in its bucket's summary word, from hash bits that neither the bucket
/// (the top bits) nor the home slot (bits 0-31) is chosen by.
#[inline(always)]
fn summary_bit(x1: u64) -> u64 {
    1 << ((x1 >> 32) & 63)
}

#[inline]
fn entry_vni(key: u64, value: u64) -> u32 {
    ((key >> KEY_VNI_SHIFT) as u32) | (((value & VNI_HI_MASK) >> VNI_HI_SHIFT) as u32) << 16
}

/// The filtering database: fixed capacity, lock-free lookups, per-bucket locks for
/// writers. `Send + Sync`; share it by `Arc`.
pub struct Fdb {
    buckets: Box<[Bucket]>,
    /// Per bucket, a bit per key it holds ([`summary_bit`]).
    summary: Box<[AtomicU64]>,
    last_seen: Box<[LastSeen]>,
    k0: u64,
    k1: u64,
    vnis: Box<[VniSlot]>,
    vni_mask: usize,
    max_vnis: u32,
    vnis_used: AtomicU32,
    /// Buckets holding at least one entry at the last sweep (all of them before the
    /// first): what a lookup's cache footprint is measured by.
    occupied: AtomicUsize,
    /// Changes that may alter an answer already given (see [`Fdb::changes`]).
    changes: ChangeCount,
    counters: Striped<CounterBlock>,
}

/// The change count, on its own line: every worker reads it per lookup
/// ([`super::fdb_cache::FdbCache`]), writers bump it only when an entry moves or goes.
#[repr(align(128))]
struct ChangeCount(AtomicU64);

impl fmt::Debug for Fdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fdb")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl Fdb {
    /// A table sized for `capacity` entries over at most `max_vnis` VNIs, randomly seeded.
    pub fn new(capacity: usize, max_vnis: usize) -> Fdb {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        Fdb::with_seed(capacity, max_vnis, h.finish())
    }

    /// Like [`Fdb::new`] with a fixed hash seed (reproducible layouts, for tests).
    pub fn with_seed(capacity: usize, max_vnis: usize, seed: u64) -> Fdb {
        // 4/3 headroom: the requested entries fill 75 % of the slots.
        let n_buckets = (capacity.max(1) * 4).div_ceil(3 * SLOTS).max(2);
        assert!(
            n_buckets.saturating_mul(SLOTS) < (u32::MAX / 2) as usize,
            "FDB capacity too large"
        );
        let max_vnis = max_vnis.clamp(1, 1 << 24);
        let vni_slots = max_vnis.next_power_of_two() * 2;
        let mix = |x: u64| folded_mul(x ^ 0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344) | 1;
        Fdb {
            buckets: huge_table(n_buckets, Bucket::default),
            summary: huge_table(n_buckets, AtomicU64::default),
            last_seen: huge_table(n_buckets, LastSeen::default),
            k0: mix(seed),
            k1: mix(seed.rotate_left(32) ^ 0xa409_3822_299f_31d0),
            vnis: (0..vni_slots).map(|_| VniSlot::default()).collect(),
            vni_mask: vni_slots - 1,
            max_vnis: max_vnis as u32,
            vnis_used: AtomicU32::new(0),
            occupied: AtomicUsize::new(n_buckets),
            changes: ChangeCount(AtomicU64::new(1)),
            counters: Striped::default(),
        }
    }

    /// Total slots; the capacity asked of [`Fdb::new`] is 75 % of it.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    /// Bytes of the buckets that held entries at the last sweep (ageing runs one a
    /// second): the memory lookups touch. Before the first sweep, the whole table.
    #[inline]
    pub fn occupied_bytes(&self) -> usize {
        self.occupied.load(Relaxed) * std::mem::size_of::<Bucket>()
    }

    /// How many times an existing entry's answer changed or went (moves, static
    /// overrides, removals, ageing, flushes), from 1. New entries and refreshes do not
    /// count: they alter no answer a lookup gave. Bumped after the change is visible,
    /// so an answer obtained after reading a count is valid while the count stays.
    #[inline(always)]
    pub fn changes(&self) -> u64 {
        self.changes.0.load(Acquire)
    }

    /// Most VNIs the table can hold entries for.
    pub fn max_vnis(&self) -> usize {
        self.max_vnis as usize
    }

    // Always inlined: the secondary bucket is then only computed where it is used.
    #[inline(always)]
    fn pos(&self, vni: u32, mac: u64) -> Pos {
        let vni = vni & MAX_VNI;
        let x1 = folded_mul(mac ^ self.k0, vni as u64 ^ self.k1);
        let n = self.buckets.len();
        Pos {
            b1: ((x1 as u128 * n as u128) >> 64) as usize,
            x1,
            n,
            // The bucket is chosen by the hash's top bits; the home slot by its low
            // 32 (keys of one bucket share the former): uniform in 0..SLOTS.
            home: (((x1 & 0xffff_ffff) * SLOTS as u64) >> 32) as usize,
            key: (vni as u64 & 0xffff) << KEY_VNI_SHIFT | mac,
            vhi: ((vni >> 16) as u64) << VNI_HI_SHIFT,
        }
    }

    #[inline]
    fn count(&self, stripe: usize, which: usize) {
        self.counters[stripe][which].fetch_add(1, Relaxed);
    }

    fn count_n(&self, which: usize, n: usize) {
        if n > 0 {
            self.counters[0][which].fetch_add(n as u64, Relaxed);
        }
    }

    /// Lock-free search: (bucket index, slot, value). Always inlined: the callers are
    /// the per-packet lookup and learn, and inlined the secondary bucket's hash is
    /// only computed on the rare overflow path.
    #[inline(always)]
    fn find(&self, p: &Pos) -> Option<(usize, usize, u64)> {
        let (r, h) = self.buckets[p.b1].read(|b| b.find(p.key, p.vhi, p.home));
        if let Some((i, v)) = r {
            return Some((p.b1, i, v));
        }
        if Header::overflow(h) == 0 {
            return None;
        }
        let b2 = p.b2();
        if b2 == p.b1 {
            return None;
        }
        let (r, _) = self.buckets[b2].read(|b| b.find(p.key, p.vhi, p.home));
        r.map(|(i, v)| (b2, i, v))
    }

    /// False when the summaries say that neither of the key's buckets holds it.
    #[inline(always)]
    fn may_hold(&self, p: &Pos) -> bool {
        let words = self.summary[p.b1].load(Relaxed) | self.summary[p.b2()].load(Relaxed);
        words & summary_bit(p.x1) != 0
    }

    /// The summary bucket `bi`'s keys make (unsynchronised: lock held, or quiescent).
    fn summary_of(&self, bi: usize) -> u64 {
        let b = &self.buckets[bi];
        (0..SLOTS).fold(0, |m, i| {
            let (k, v) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
            if k == 0 {
                return m;
            }
            m | summary_bit(self.pos(entry_vni(k, v), k & MAC_MASK).x1)
        })
    }

    /// Recomputes bucket `bi`'s summary from its keys (lock held) after a removal.
    fn resummarize(&self, bi: usize) {
        self.summary[bi].store(self.summary_of(bi), Relaxed);
    }

    /// Where frames to `mac` in `vni` go, if known. Lock-free; never writes.
    #[inline(always)]
    pub fn lookup(&self, vni: u32, mac: MacAddr) -> Option<FdbDest> {
        self.lookup_key(vni, mac.to_u64())
    }

    /// [`Fdb::lookup`] of a MAC given as [`MacAddr::to_u64`] (the bridge reads it so).
    /// Always inlined: it is the bridge's per-packet lookup, and as a call its frame
    /// cost ~20 of its ~140 instructions.
    #[inline(always)]
    pub fn lookup_key(&self, vni: u32, mac: u64) -> Option<FdbDest> {
        let p = self.pos(vni, mac);
        self.find(&p).map(|(_, _, v)| FdbDest::decode(v))
    }

    /// Hints the CPU to load the bucket where `mac` of `vni` would be (all four of
    /// its lines): a burst's lookups prefetched together overlap their misses.
    /// `mac` as [`MacAddr::to_u64`] has it.
    #[inline]
    pub fn prefetch(&self, vni: u32, mac: u64) {
        let b = &self.buckets[self.pos(vni, mac).b1];
        prefetch(&b.header);
        prefetch(&b.keys[SLOTS / 2]);
        prefetch(&b.values[0]);
        prefetch(&b.values[SLOTS / 2 + 1]);
    }

    /// Like [`Fdb::lookup`], also telling whether the entry is static.
    #[inline]
    pub fn lookup_hit(&self, vni: u32, mac: MacAddr) -> Option<FdbHit> {
        let p = self.pos(vni, mac.to_u64());
        self.find(&p).map(|(_, _, v)| FdbHit {
            dest: FdbDest::decode(v),
            is_static: v & STATIC != 0,
        })
    }

    /// Stores `now` as the slot's `last_seen` if it is later (no RMW, no lock).
    #[inline]
    fn touch(&self, bi: usize, i: usize, now: u32) {
        let ls = &self.last_seen[bi].0[i];
        if is_later(now, ls.load(Relaxed)) {
            ls.store(now, Relaxed);
        }
    }

    /// Learns that `mac` (a frame's source) is behind `dest` in `vni` at second
    /// `now`; `limit` is the VNI's learned-entry limit. The common case, a known MAC
    /// on the same destination, takes no lock and stores at most once per second.
    #[inline]
    pub fn learn(
        &self,
        vni: u32,
        mac: MacAddr,
        dest: FdbDest,
        now: u32,
        limit: u32,
    ) -> LearnOutcome {
        let m = mac.to_u64();
        if mac.is_multicast() || m == 0 {
            self.count(m as usize, C_NOT_UNICAST);
            return LearnOutcome::NotUnicast;
        }
        debug_assert!(vni <= MAX_VNI, "VNI {vni:#x} wider than 24 bits");
        let p = self.pos(vni, m);
        let want = dest.encode();
        // A new MAC is mostly ruled out by the summaries, without a bucket line.
        let found = if self.may_hold(&p) {
            self.find(&p)
        } else {
            None
        };
        let known = match found {
            Some((_, _, v)) if v & STATIC != 0 => {
                if v & DEST_MASK != want {
                    self.count(p.b1, C_STATIC_KEPT);
                }
                return LearnOutcome::StaticKept;
            }
            Some((bi, i, v)) if v & DEST_MASK == want => {
                self.touch(bi, i, now);
                return LearnOutcome::Refreshed;
            }
            Some(_) => true,
            None => false,
        };
        // A MAC flood's frames end here once the VNI is at its limit: a probe and
        // a load, no call, no lock.
        if !known
            && self
                .vni_slot(vni & MAX_VNI, false)
                .is_some_and(|s| s.dynamic.load(Relaxed) >= limit)
        {
            self.count(p.b1, C_LIMIT);
            return LearnOutcome::LimitHit;
        }
        self.learn_slow(&p, vni & MAX_VNI, want, now, limit, known)
    }

    #[cold]
    fn learn_slow(
        &self,
        p: &Pos,
        vni: u32,
        want: u64,
        now: u32,
        limit: u32,
        known: bool,
    ) -> LearnOutcome {
        let Some(slot) = self.vni_slot(vni, true) else {
            self.count(p.b1, C_FULL);
            return LearnOutcome::TableFull;
        };
        // At the limit a flood costs a load: no lock, no read-modify-write.
        if !known && slot.dynamic.load(Relaxed) >= limit {
            self.count(p.b1, C_LIMIT);
            return LearnOutcome::LimitHit;
        }
        self.lock_pair(p);
        let out = self.learn_locked(p, slot, want, now, limit);
        self.unlock_pair(p);
        match out {
            LearnOutcome::Learned => self.count(p.b1, C_LEARNED),
            LearnOutcome::Moved => self.count(p.b1, C_MOVED),
            LearnOutcome::LimitHit => self.count(p.b1, C_LIMIT),
            LearnOutcome::TableFull => self.count(p.b1, C_FULL),
            _ => {}
        }
        out
    }

    /// The search-then-change part of learning; both bucket locks are held.
    fn learn_locked(
        &self,
        p: &Pos,
        slot: &VniSlot,
        want: u64,
        now: u32,
        limit: u32,
    ) -> LearnOutcome {
        if let Some((bi, i, v)) = self.find(p) {
            if v & STATIC != 0 {
                if v & DEST_MASK != want {
                    self.count(p.b1, C_STATIC_KEPT);
                }
                return LearnOutcome::StaticKept;
            }
            if v & DEST_MASK == want {
                self.touch(bi, i, now);
                return LearnOutcome::Refreshed;
            }
            self.store_value(bi, i, (v & !DEST_MASK) | want, Some(now));
            return LearnOutcome::Moved;
        }
        if slot.dynamic.fetch_add(1, Relaxed) >= limit {
            slot.dynamic.fetch_sub(1, Relaxed);
            return LearnOutcome::LimitHit;
        }
        if self.insert_locked(p, p.vhi | want, now) {
            LearnOutcome::Learned
        } else {
            slot.dynamic.fetch_sub(1, Relaxed);
            LearnOutcome::TableFull
        }
    }

    /// Locks both buckets of a key, lower index first.
    fn lock_pair(&self, p: &Pos) {
        lock_in_order([p.b1, p.b2()], |b| self.buckets[b].header.lock());
    }

    fn unlock_pair(&self, p: &Pos) {
        let sorted = [p.b1.min(p.b2()), p.b1.max(p.b2())];
        unlock_in_order(&sorted, |b| self.buckets[b].header.unlock());
    }

    /// Rewrites the value of an existing entry (both locks held).
    fn store_value(&self, bi: usize, i: usize, value: u64, now: Option<u32>) {
        let b = &self.buckets[bi];
        b.header.begin_write();
        b.values[i].store(value, Relaxed);
        if let Some(now) = now {
            self.last_seen[bi].0[i].store(now, Relaxed);
        }
        b.header.end_write();
        self.changes.0.fetch_add(1, Release);
    }

    /// Stores a new entry in its primary or secondary (both locks held); false if
    /// both are full.
    fn insert_locked(&self, p: &Pos, value: u64, last_seen: u32) -> bool {
        let Some((bi, i)) = placement::two_choice(p.b1, p.b2(), SLOTS, PRIMARY_FILL, |b| {
            self.buckets[b].free_slot(p.home)
        }) else {
            return false;
        };
        let value = if bi != p.b1 {
            self.buckets[p.b1].header.add_overflow(1);
            value | ALT
        } else {
            value
        };
        // The summary bit before the slot, so that no reader finds the slot published
        // while the bit is still clear (a learn that misses an entry being published
        // by another worker goes to the locked path, which finds it).
        let sum = &self.summary[bi];
        sum.store(sum.load(Relaxed) | summary_bit(p.x1), Relaxed);
        let b = &self.buckets[bi];
        b.header.begin_write();
        self.last_seen[bi].0[i].store(last_seen, Relaxed);
        b.values[i].store(value, Relaxed);
        b.keys[i].store(p.key, Relaxed);
        b.set_occupied(i, true);
        b.header.end_write();
        true
    }

    /// Empties slot `i` of bucket `bi` and fixes the counts (both locks of the
    /// entry's key held).
    fn clear_slot(&self, p: &Pos, bi: usize, i: usize, value: u64) {
        let b = &self.buckets[bi];
        b.header.begin_write();
        b.keys[i].store(0, Relaxed);
        b.values[i].store(0, Relaxed);
        b.set_occupied(i, false);
        b.header.end_write();
        self.resummarize(bi);
        self.changes.0.fetch_add(1, Release);
        if value & ALT != 0 {
            self.buckets[p.b1].header.add_overflow(-1);
        }
        if let Some(s) = self.vni_slot(entry_vni(p.key, value), false) {
            let c = if value & STATIC != 0 {
                &s.statics
            } else {
                &s.dynamic
            };
            // Saturating: a slot released and reused while this removal ran must not
            // wrap its new VNI's count (off by one at worst, for a moment).
            let _ = c.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Where `vni`'s probe for a count slot starts.
    #[inline]
    fn vni_home(&self, vni: u32) -> usize {
        folded_mul(vni as u64 ^ self.k1, 0x9e37_79b9_7f4a_7c15) as usize & self.vni_mask
    }

    /// The VNI's count slot; registers the VNI when `create` (None: table full).
    /// Claims only never-used slots: tombstones are for [`Fdb::register_vni`].
    fn vni_slot(&self, vni: u32, create: bool) -> Option<&VniSlot> {
        let tag = vni + 1;
        let mut i = self.vni_home(vni);
        for _ in 0..=self.vni_mask {
            let s = &self.vnis[i];
            let t = s.tag.load(Acquire);
            if t == tag {
                return Some(s);
            }
            if t == 0 {
                if !create {
                    return None;
                }
                if self.vnis_used.fetch_add(1, Relaxed) >= self.max_vnis {
                    self.vnis_used.fetch_sub(1, Relaxed);
                    return None;
                }
                match s.tag.compare_exchange(0, tag, AcqRel, Acquire) {
                    Ok(_) => return Some(s),
                    Err(t) => {
                        self.vnis_used.fetch_sub(1, Relaxed);
                        if t == tag {
                            return Some(s);
                        }
                    }
                }
            }
            i = (i + 1) & self.vni_mask;
        }
        None
    }

    /// Reserves `vni`'s count slot ahead of its first entry, reusing a released one
    /// when its probe passes one. Control plane only: one caller at a time, and no
    /// worker may be learning into `vni` yet (register it before a snapshot that has
    /// it is published). Idempotent.
    pub fn register_vni(&self, vni: u32) -> Result<(), FdbError> {
        let vni = vni & MAX_VNI;
        let tag = vni + 1;
        let mut i = self.vni_home(vni);
        let mut tombstone = None;
        for _ in 0..=self.vni_mask {
            let s = &self.vnis[i];
            match s.tag.load(Acquire) {
                t if t == tag => return Ok(()),
                VNI_TOMBSTONE => {
                    tombstone = tombstone.or(Some(i));
                }
                0 => break,
                _ => {}
            }
            i = (i + 1) & self.vni_mask;
        }
        if let Some(t) = tombstone {
            if self.vnis_used.fetch_add(1, Relaxed) >= self.max_vnis {
                self.vnis_used.fetch_sub(1, Relaxed);
                return Err(FdbError::VniTableFull);
            }
            // Workers may only read a tombstone (they never claim one), so plain
            // stores suffice: counts first, then the tag that makes them reachable.
            let s = &self.vnis[t];
            s.dynamic.store(0, Relaxed);
            s.statics.store(0, Relaxed);
            s.tag.store(tag, Release);
            return Ok(());
        }
        // A never-used slot, claimed like a worker's first learn does (a worker may
        // be claiming one for another VNI at the same time).
        self.vni_slot(vni, true)
            .map(|_| ())
            .ok_or(FdbError::VniTableFull)
    }

    /// Releases `vni`'s count slot (a tombstone from now on). Control plane only, once
    /// the VNI's entries are flushed and no worker can learn into it any more (after
    /// the grace period of the snapshot that deleted it). False if it had no slot.
    pub fn release_vni(&self, vni: u32) -> bool {
        let vni = vni & MAX_VNI;
        let Some(s) = self.vni_slot(vni, false) else {
            return false;
        };
        s.tag.store(VNI_TOMBSTONE, Release);
        s.dynamic.store(0, Relaxed);
        s.statics.store(0, Relaxed);
        self.vnis_used.fetch_sub(1, Relaxed);
        true
    }

    /// Number of VNIs holding a count slot.
    pub fn vnis_in_use(&self) -> usize {
        self.vnis_used.load(Relaxed) as usize
    }

    /// Adds or replaces a static entry (it replaces a dynamic entry of the same MAC).
    /// Control plane only, like [`Fdb::register_vni`].
    pub fn add_static(&self, vni: u32, mac: MacAddr, dest: FdbDest) -> Result<(), FdbError> {
        let m = mac.to_u64();
        if mac.is_multicast() || m == 0 {
            return Err(FdbError::NotUnicast);
        }
        if vni > MAX_VNI {
            return Err(FdbError::BadVni);
        }
        // The control plane's own registration: it may reuse a released slot.
        self.register_vni(vni)?;
        let slot = self.vni_slot(vni, false).ok_or(FdbError::VniTableFull)?;
        let p = self.pos(vni, m);
        let want = dest.encode() | STATIC;
        self.lock_pair(&p);
        let r = if let Some((bi, i, v)) = self.find(&p) {
            if v & STATIC == 0 {
                slot.statics.fetch_add(1, Relaxed);
                slot.dynamic.fetch_sub(1, Relaxed);
            }
            self.store_value(bi, i, (v & !(DEST_MASK | STATIC)) | want, None);
            Ok(())
        } else {
            slot.statics.fetch_add(1, Relaxed);
            if self.insert_locked(&p, p.vhi | want, 0) {
                Ok(())
            } else {
                slot.statics.fetch_sub(1, Relaxed);
                Err(FdbError::TableFull)
            }
        };
        self.unlock_pair(&p);
        r
    }

    /// Removes the entry of `mac` in `vni` (static or dynamic); true if there was one.
    pub fn remove(&self, vni: u32, mac: MacAddr) -> bool {
        let m = mac.to_u64();
        if vni > MAX_VNI || m == 0 {
            return false;
        }
        let p = self.pos(vni, m);
        self.lock_pair(&p);
        let found = self.find(&p);
        if let Some((bi, i, v)) = found {
            self.clear_slot(&p, bi, i, v);
        }
        self.unlock_pair(&p);
        found.is_some()
    }

    /// Removes every entry for which `pred(vni, value, last_seen)` holds; returns how
    /// many. A lock-free pre-scan picks candidates; each is re-checked under its
    /// key's two locks, so buckets with nothing to remove are never locked.
    fn sweep(&self, pred: impl Fn(u32, u64, u32) -> bool) -> usize {
        let (mut removed, mut occupied) = (0, 0);
        for (bi, b) in self.buckets.iter().enumerate() {
            if b.header.load() & OCC_MASK != 0 {
                occupied += 1;
            }
            let (cands, _) = b.read(|b| {
                let mut c = [(0u64, 0u64); SLOTS];
                for (i, e) in c.iter_mut().enumerate() {
                    let (k, v) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                    if k != 0
                        && v & KIND_MASK != 0
                        && pred(entry_vni(k, v), v, self.last_seen[bi].0[i].load(Relaxed))
                    {
                        *e = (k, v);
                    }
                }
                c
            });
            for (i, &(k, v)) in cands.iter().enumerate() {
                if k == 0 {
                    continue;
                }
                let p = self.pos(entry_vni(k, v), k & MAC_MASK);
                self.lock_pair(&p);
                let (k2, v2) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                if k2 == k
                    && v2 & (VNI_HI_MASK | KIND_MASK) == v & (VNI_HI_MASK | KIND_MASK)
                    && pred(entry_vni(k2, v2), v2, self.last_seen[bi].0[i].load(Relaxed))
                {
                    self.clear_slot(&p, bi, i, v2);
                    removed += 1;
                }
                self.unlock_pair(&p);
            }
        }
        self.occupied.store(occupied, Relaxed);
        removed
    }

    /// Removes dynamic entries not seen for at least `age_of(vni)` seconds at `now`
    /// (an age of 0 means the VNI's entries never age). Control thread only: it walks
    /// the whole table. Returns how many were removed.
    pub fn age(&self, now: u32, age_of: impl Fn(u32) -> u32) -> usize {
        let n = self.sweep(|vni, v, ls| {
            v & STATIC == 0 && {
                let a = age_of(vni);
                a != 0 && elapsed(now, ls) >= a
            }
        });
        self.count_n(C_AGED, n);
        n
    }

    /// Removes every entry `filter` selects; returns how many.
    pub fn flush(&self, filter: &FdbFilter) -> usize {
        let n = self.sweep(|vni, v, _| filter.matches(vni, v));
        self.count_n(C_FLUSHED, n);
        n
    }

    /// Lists the entries `filter` selects, with ages at `now` (allocates; each
    /// bucket is read consistently, the table as a whole is not a snapshot).
    pub fn entries(&self, filter: &FdbFilter, now: u32) -> Vec<FdbEntry> {
        let mut out = Vec::new();
        for (bi, b) in self.buckets.iter().enumerate() {
            let (snap, _) = b.read(|b| {
                let mut s = [(0u64, 0u64); SLOTS];
                for (i, e) in s.iter_mut().enumerate() {
                    *e = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                }
                s
            });
            for (i, &(k, v)) in snap.iter().enumerate() {
                if k == 0 || v & KIND_MASK == 0 {
                    continue;
                }
                let vni = entry_vni(k, v);
                if !filter.matches(vni, v) {
                    continue;
                }
                let is_static = v & STATIC != 0;
                let last_seen = if is_static {
                    0
                } else {
                    self.last_seen[bi].0[i].load(Relaxed)
                };
                out.push(FdbEntry {
                    vni,
                    mac: MacAddr::from_u64(k & MAC_MASK),
                    dest: FdbDest::decode(v),
                    is_static,
                    last_seen,
                    age: if is_static {
                        0
                    } else {
                        elapsed(now, last_seen)
                    },
                });
            }
        }
        out
    }

    /// Number of entries (static and dynamic), from the per-VNI counts.
    pub fn len(&self) -> usize {
        self.vnis
            .iter()
            .map(|s| s.dynamic.load(Relaxed) as usize + s.statics.load(Relaxed) as usize)
            .sum()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of entries (static and dynamic) in `vni`.
    pub fn len_vni(&self, vni: u32) -> usize {
        self.vni_slot(vni & MAX_VNI, false).map_or(0, |s| {
            s.dynamic.load(Relaxed) as usize + s.statics.load(Relaxed) as usize
        })
    }

    /// Number of learned (dynamic) entries in `vni`: what the learn limit counts.
    pub fn learned_vni(&self, vni: u32) -> usize {
        self.vni_slot(vni & MAX_VNI, false)
            .map_or(0, |s| s.dynamic.load(Relaxed) as usize)
    }

    /// Counters and entry counts.
    pub fn stats(&self) -> FdbStats {
        let sum = |c: usize| -> u64 { self.counters.iter().map(|b| b[c].load(Relaxed)).sum() };
        let (mut dynamic, mut statics) = (0, 0);
        for s in self.vnis.iter() {
            dynamic += s.dynamic.load(Relaxed) as usize;
            statics += s.statics.load(Relaxed) as usize;
        }
        FdbStats {
            learned: sum(C_LEARNED),
            moved: sum(C_MOVED),
            aged: sum(C_AGED),
            flushed: sum(C_FLUSHED),
            limit_hits: sum(C_LIMIT),
            table_full: sum(C_FULL),
            static_kept: sum(C_STATIC_KEPT),
            not_unicast: sum(C_NOT_UNICAST),
            dynamic_entries: dynamic,
            static_entries: statics,
            vnis: self.vnis_in_use(),
            max_vnis: self.max_vnis(),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::buckets::header::LOCK;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn mac(n: u64) -> MacAddr {
        MacAddr::from_u64(0x0200_0000_0000 | n)
    }

    fn vtep(n: u8) -> FdbDest {
        FdbDest::Vtep(Ipv4Addr::new(10, 0, 0, n))
    }

    fn acc(port: u16, vlan: u16) -> FdbDest {
        FdbDest::Access { port, vlan }
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    /// Checks every structural invariant of a quiescent table.
    fn validate(f: &Fdb) -> Result<(), String> {
        let mut seen = HashSet::new();
        let mut per_vni: HashMap<u32, (usize, usize)> = HashMap::new();
        let mut ovf = vec![0u64; f.buckets.len()];
        for (bi, b) in f.buckets.iter().enumerate() {
            let h = b.header.load();
            if h & (LOCK | 1) != 0 {
                return Err(format!("bucket {bi}: header {h:#x} locked or odd"));
            }
            for i in 0..SLOTS {
                let (k, v) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                if (k == 0) != (v == 0) {
                    return Err(format!("bucket {bi} slot {i}: key {k:#x} value {v:#x}"));
                }
                if k == 0 {
                    continue;
                }
                let kind = v & KIND_MASK;
                if kind != KIND_ACCESS && kind != KIND_VTEP {
                    return Err(format!("bucket {bi} slot {i}: kind of {v:#x}"));
                }
                let (vni, m) = (entry_vni(k, v), k & MAC_MASK);
                if MacAddr::from_u64(m).is_multicast() || m == 0 {
                    return Err(format!("stored source {m:#x}"));
                }
                let p = f.pos(vni, m);
                let alt = v & ALT != 0;
                if p.key != k || p.vhi != v & VNI_HI_MASK {
                    return Err(format!("bucket {bi} slot {i}: key bits"));
                }
                if (if alt { p.b2() } else { p.b1 }) != bi || (alt && p.b1 == p.b2()) {
                    return Err(format!("bucket {bi} slot {i}: misplaced {p:?}"));
                }
                if alt {
                    ovf[p.b1] += 1;
                }
                if !seen.insert((vni, m)) {
                    return Err(format!("duplicate vni {vni} mac {m:#x}"));
                }
                let e = per_vni.entry(vni).or_default();
                if v & STATIC != 0 {
                    e.1 += 1;
                } else {
                    e.0 += 1;
                }
            }
        }
        for (bi, b) in f.buckets.iter().enumerate() {
            let bits = f.summary_of(bi);
            if f.summary[bi].load(Relaxed) != bits {
                let got = f.summary[bi].load(Relaxed);
                return Err(format!(
                    "bucket {bi}: summary {got:#x}, keys' bits {bits:#x}"
                ));
            }
            let got = Header::overflow(b.header.load());
            if got != ovf[bi] {
                return Err(format!("bucket {bi}: overflow {got}, counted {}", ovf[bi]));
            }
        }
        for (&vni, &(d, s)) in &per_vni {
            if f.learned_vni(vni) != d || f.len_vni(vni) != d + s {
                return Err(format!(
                    "vni {vni}: counts {}/{} vs entries {d}/{}",
                    f.learned_vni(vni),
                    f.len_vni(vni),
                    d + s
                ));
            }
        }
        if f.len() != seen.len() {
            return Err(format!("len {} vs {} entries", f.len(), seen.len()));
        }
        Ok(())
    }

    /// Every word of the table, to prove that an operation stored nothing.
    fn words(f: &Fdb) -> Vec<u64> {
        let mut w = Vec::new();
        for (b, ls) in f.buckets.iter().zip(f.last_seen.iter()) {
            w.push(b.header.load());
            w.extend(b.keys.iter().map(|k| k.load(Relaxed)));
            w.extend(b.values.iter().map(|v| v.load(Relaxed)));
            w.extend(ls.0.iter().map(|x| x.load(Relaxed) as u64));
        }
        for s in f.vnis.iter() {
            w.extend([&s.tag, &s.dynamic, &s.statics].map(|x| x.load(Relaxed) as u64));
        }
        for c in f.counters.iter() {
            w.extend(c.iter().map(|x| x.load(Relaxed)));
        }
        w
    }

    #[test]
    fn released_vni_slots_are_reused_and_start_empty() {
        let f = Fdb::with_seed(4096, 4, 7);
        let m = |i: u64| MacAddr::from_u64(0x0200_0000_0000 | i);
        let dest = FdbDest::Vtep(Ipv4Addr::new(10, 0, 0, 1));
        // Without releases the table fills: a fifth VNI is refused.
        for v in 0..4 {
            f.register_vni(100 + v).unwrap();
        }
        assert_eq!(f.register_vni(200), Err(FdbError::VniTableFull));
        assert_eq!(
            f.learn(200, m(1), dest, 1, NO_LIMIT),
            LearnOutcome::TableFull
        );
        for v in 0..4 {
            assert!(f.release_vni(100 + v));
        }
        assert!(!f.release_vni(100), "released twice");
        assert_eq!(f.vnis_in_use(), 0);
        // A thousand VNIs created, used, flushed and released in turn.
        for v in 0..1000u32 {
            let vni = 1000 + v;
            f.register_vni(vni).unwrap();
            f.register_vni(vni).unwrap();
            assert_eq!(f.vnis_in_use(), 1, "registering twice takes one slot");
            assert_eq!(f.learned_vni(vni), 0, "a reused slot starts empty");
            assert_eq!(
                f.learn(vni, m(v as u64 + 1), dest, 1, 10),
                LearnOutcome::Learned
            );
            f.add_static(vni, m(0xffff), dest).unwrap();
            assert_eq!((f.len_vni(vni), f.learned_vni(vni)), (2, 1));
            assert_eq!(f.flush(&FdbFilter::all().vni(vni)), 2);
            assert!(f.release_vni(vni));
            assert_eq!(f.len_vni(vni), 0);
        }
        assert_eq!(f.vnis_in_use(), 0);
        // The table still holds four live VNIs (registered or created by a worker's
        // first learn) and refuses a fifth.
        for v in 0..3 {
            f.register_vni(5000 + v).unwrap();
        }
        f.add_static(5003, m(1), dest).unwrap();
        assert_eq!(f.learn(5000, m(2), dest, 2, 10), LearnOutcome::Learned);
        assert_eq!(f.register_vni(6000), Err(FdbError::VniTableFull));
        assert_eq!(f.len_vni(5003), 1);
        validate(&f).unwrap();
    }

    #[test]
    fn fdb_is_send_sync_and_layout() {
        fn check<T: Send + Sync>() {}
        check::<Fdb>();
        check::<Arc<Fdb>>();
        assert_eq!(std::mem::size_of::<Bucket>(), 256);
        assert_eq!(std::mem::align_of::<Bucket>(), 128);
        assert_eq!(std::mem::size_of::<LastSeen>(), 64);
        assert_eq!(std::mem::size_of::<VniSlot>(), 64);
        let f = Fdb::with_seed(1000, 16, 1);
        assert!(f.capacity() >= 1000 * 4 / 3);
        assert!(f.capacity() < 1000 * 4 / 3 + 2 * SLOTS);
        assert!(f.is_empty());
    }

    #[test]
    fn dest_encoding_roundtrips() {
        for d in [
            acc(0, 0),
            acc(65535, 4095),
            acc(3, 65535),
            vtep(7),
            FdbDest::Vtep(Ipv4Addr::new(255, 255, 255, 255)),
            FdbDest::Vtep(Ipv4Addr::UNSPECIFIED),
        ] {
            assert_eq!(FdbDest::decode(d.encode()), d);
        }
        assert_eq!(acc(2, 10).to_string(), "port 2 vlan 10");
        assert_eq!(vtep(3).to_string(), "vtep 10.0.0.3");
    }

    #[test]
    fn learn_and_lookup_both_kinds() {
        let f = Fdb::new(1000, 16);
        assert_eq!(f.lookup(10, mac(1)), None);
        assert_eq!(
            f.learn(10, mac(1), acc(2, 100), 5, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(
            f.learn(10, mac(2), vtep(9), 5, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(f.lookup(10, mac(1)), Some(acc(2, 100)));
        assert_eq!(f.lookup(10, mac(2)), Some(vtep(9)));
        assert_eq!(
            f.lookup_hit(10, mac(2)),
            Some(FdbHit {
                dest: vtep(9),
                is_static: false
            })
        );
        // Same MAC, other VNI: a different entry.
        assert_eq!(f.lookup(11, mac(1)), None);
        assert_eq!(f.len(), 2);
        assert_eq!(f.len_vni(10), 2);
        assert_eq!(f.learned_vni(10), 2);
        assert_eq!(f.len_vni(11), 0);
        let s = f.stats();
        assert_eq!((s.learned, s.dynamic_entries, s.static_entries), (2, 2, 0));
        validate(&f).unwrap();
    }

    #[test]
    fn vnis_sharing_low_bits_are_distinct() {
        let f = Fdb::with_seed(100, 16, 3);
        let vnis = [0x00_0001, 0x01_0001, 0xff_0001, 0xff_ffff, 0];
        for (n, &v) in vnis.iter().enumerate() {
            assert_eq!(
                f.learn(v, mac(1), vtep(n as u8), 1, NO_LIMIT),
                LearnOutcome::Learned
            );
        }
        for (n, &v) in vnis.iter().enumerate() {
            assert_eq!(f.lookup(v, mac(1)), Some(vtep(n as u8)), "vni {v:#x}");
        }
        assert_eq!(f.lookup(0x02_0001, mac(1)), None);
        assert!(f.remove(0x01_0001, mac(1)));
        assert_eq!(f.lookup(0x01_0001, mac(1)), None);
        assert_eq!(f.lookup(0xff_0001, mac(1)), Some(vtep(2)));
        let listed: HashSet<u32> = f
            .entries(&FdbFilter::all(), 1)
            .iter()
            .map(|e| e.vni)
            .collect();
        assert_eq!(listed, HashSet::from([0x00_0001, 0xff_0001, 0xff_ffff, 0]));
        validate(&f).unwrap();
    }

    #[test]
    fn refresh_writes_nothing_in_the_same_second_and_only_last_seen_later() {
        let f = Fdb::with_seed(1000, 16, 5);
        for n in 0..50 {
            f.learn(7, mac(n), vtep(1), 100, NO_LIMIT);
        }
        let before = words(&f);
        for _ in 0..1000 {
            assert_eq!(
                f.learn(7, mac(3), vtep(1), 100, NO_LIMIT),
                LearnOutcome::Refreshed
            );
        }
        // An older clock (a worker a tick behind) writes nothing either.
        assert_eq!(
            f.learn(7, mac(3), vtep(1), 99, NO_LIMIT),
            LearnOutcome::Refreshed
        );
        assert_eq!(words(&f), before, "a same-second refresh stored something");

        assert_eq!(
            f.learn(7, mac(3), vtep(1), 101, NO_LIMIT),
            LearnOutcome::Refreshed
        );
        let after = words(&f);
        let changed: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        assert_eq!(changed.len(), 1, "only one word may change");
        assert_eq!(after[changed[0]], 101);
        let p = f.pos(7, mac(3).to_u64());
        let (bi, i, _) = f.find(&p).unwrap();
        assert_eq!(f.last_seen[bi].0[i].load(Relaxed), 101);
        let e = f.entries(&FdbFilter::all().vni(7), 110);
        let e3 = e.iter().find(|e| e.mac == mac(3)).unwrap();
        assert_eq!((e3.last_seen, e3.age, e3.dest), (101, 9, vtep(1)));
        assert_eq!(f.stats().learned, 50);
    }

    #[test]
    fn move_is_counted_and_updates_dest_and_time() {
        let f = Fdb::new(100, 4);
        f.learn(1, mac(1), acc(1, 0), 10, NO_LIMIT);
        assert_eq!(
            f.learn(1, mac(1), vtep(4), 12, NO_LIMIT),
            LearnOutcome::Moved
        );
        assert_eq!(f.lookup(1, mac(1)), Some(vtep(4)));
        assert_eq!(
            f.learn(1, mac(1), acc(1, 5), 12, NO_LIMIT),
            LearnOutcome::Moved
        );
        assert_eq!(f.lookup(1, mac(1)), Some(acc(1, 5)));
        let s = f.stats();
        assert_eq!((s.learned, s.moved, s.dynamic_entries), (1, 2, 1));
        assert_eq!(f.entries(&FdbFilter::all(), 12)[0].last_seen, 12);
        // A move does not need room under the limit.
        assert_eq!(f.learn(1, mac(1), vtep(1), 13, 1), LearnOutcome::Moved);
        validate(&f).unwrap();
    }

    #[test]
    fn static_wins_over_learning() {
        let f = Fdb::new(100, 4);
        // A learned entry becomes static.
        f.learn(1, mac(1), acc(1, 0), 10, NO_LIMIT);
        f.add_static(1, mac(1), vtep(2)).unwrap();
        assert_eq!(f.learned_vni(1), 0);
        assert_eq!(f.len_vni(1), 1);
        let before = words(&f);
        assert_eq!(
            f.learn(1, mac(1), vtep(2), 11, NO_LIMIT),
            LearnOutcome::StaticKept
        );
        assert_eq!(
            words(&f),
            before,
            "a static MAC on its own dest writes nothing"
        );
        assert_eq!(
            f.learn(1, mac(1), acc(3, 3), 11, NO_LIMIT),
            LearnOutcome::StaticKept
        );
        assert_eq!(
            f.learn(1, mac(1), acc(3, 3), 12, NO_LIMIT),
            LearnOutcome::StaticKept
        );
        assert_eq!(
            f.lookup_hit(1, mac(1)),
            Some(FdbHit {
                dest: vtep(2),
                is_static: true
            })
        );
        let s = f.stats();
        assert_eq!((s.static_kept, s.moved, s.static_entries), (2, 0, 1));
        // A static add on a new MAC, then replacing its dest.
        f.add_static(1, mac(2), acc(1, 1)).unwrap();
        f.add_static(1, mac(2), acc(1, 2)).unwrap();
        assert_eq!(f.lookup(1, mac(2)), Some(acc(1, 2)));
        assert_eq!(f.stats().static_entries, 2);
        let e = f.entries(&FdbFilter::all().static_only(), 50);
        assert_eq!(e.len(), 2);
        assert!(e.iter().all(|e| e.is_static && e.age == 0));
        validate(&f).unwrap();
    }

    #[test]
    fn static_entries_ignore_the_learn_limit() {
        let f = Fdb::new(100, 4);
        assert_eq!(f.learn(1, mac(1), acc(1, 0), 1, 1), LearnOutcome::Learned);
        assert_eq!(f.learn(1, mac(2), acc(1, 0), 1, 1), LearnOutcome::LimitHit);
        f.add_static(1, mac(2), acc(1, 0)).unwrap();
        f.add_static(1, mac(3), acc(1, 0)).unwrap();
        assert_eq!(f.len_vni(1), 3);
        assert_eq!(f.learned_vni(1), 1);
        validate(&f).unwrap();
    }

    #[test]
    fn learn_limit_per_vni() {
        let f = Fdb::new(1000, 16);
        for n in 0..5 {
            assert_eq!(f.learn(1, mac(n), vtep(1), 1, 5), LearnOutcome::Learned);
        }
        assert_eq!(f.learn(1, mac(5), vtep(1), 1, 5), LearnOutcome::LimitHit);
        assert_eq!(f.learn(1, mac(6), vtep(1), 1, 5), LearnOutcome::LimitHit);
        assert_eq!(f.lookup(1, mac(5)), None);
        // Known MACs still refresh and move at the limit.
        assert_eq!(f.learn(1, mac(0), vtep(1), 2, 5), LearnOutcome::Refreshed);
        assert_eq!(f.learn(1, mac(0), vtep(2), 2, 5), LearnOutcome::Moved);
        // Another VNI is unaffected.
        for n in 0..20 {
            assert_eq!(f.learn(2, mac(n), vtep(1), 1, 5_000), LearnOutcome::Learned);
        }
        assert_eq!(f.learned_vni(1), 5);
        assert_eq!(f.learned_vni(2), 20);
        // Room again after a removal; a raised limit applies at once.
        assert!(f.remove(1, mac(4)));
        assert_eq!(f.learn(1, mac(5), vtep(1), 3, 5), LearnOutcome::Learned);
        assert_eq!(f.learn(1, mac(6), vtep(1), 3, 5), LearnOutcome::LimitHit);
        assert_eq!(f.learn(1, mac(6), vtep(1), 3, 6), LearnOutcome::Learned);
        assert_eq!(f.learn(1, mac(7), vtep(1), 3, 0), LearnOutcome::LimitHit);
        assert_eq!(f.stats().limit_hits, 4);
        validate(&f).unwrap();
    }

    #[test]
    fn most_entries_sit_in_their_home_slot() {
        // 1000 entries in a table for 3000 (~4 per bucket): a key is away from home
        // only when an earlier key of its bucket took that slot.
        let f = Fdb::with_seed(3000, 16, 5);
        for i in 0..1000 {
            f.add_static(1, mac(i), vtep(1)).unwrap();
        }
        let home = (0..1000)
            .filter(|&i| {
                let p = f.pos(1, mac(i).to_u64());
                f.find(&p).unwrap().1 == p.home
            })
            .count();
        assert!(home > 800, "{home} of 1000 at home");
        // Home slots spread over the whole bucket.
        let mut seen = [false; SLOTS];
        for i in 0..1000 {
            seen[f.pos(1, mac(i).to_u64()).home] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn summaries_hold_every_key_and_rule_out_most_absent_ones() {
        // 75 % full (the capacity asked for), two VNIs, entries in both buckets.
        let f = Fdb::with_seed(30_000, 16, 11);
        for i in 0..30_000u64 {
            let vni = 1 + (i as u32 & 1) * 0x10_0000;
            assert_eq!(
                f.learn(vni, mac(i), vtep(1), 1, NO_LIMIT),
                LearnOutcome::Learned
            );
        }
        validate(&f).unwrap();
        for i in 0..30_000u64 {
            let vni = 1 + (i as u32 & 1) * 0x10_0000;
            assert!(f.may_hold(&f.pos(vni, mac(i).to_u64())), "key {i}");
        }
        let absent = (30_000..40_000u64)
            .filter(|&i| !f.may_hold(&f.pos(1, mac(i).to_u64())))
            .count();
        // Two words of ~11 bits each: ~70 % of absent keys ruled out.
        assert!(absent > 6_000, "{absent} of 10000 ruled out");
        // Removals clear the bits they leave unused; learns find the keys left.
        for i in (0..30_000u64).step_by(3) {
            let vni = 1 + (i as u32 & 1) * 0x10_0000;
            assert!(f.remove(vni, mac(i)));
        }
        f.age(1_000, |_| 300);
        assert_eq!(f.len(), 0);
        validate(&f).unwrap();
        assert!(f.summary.iter().all(|w| w.load(Relaxed) == 0));
        assert_eq!(
            f.learn(1, mac(1), vtep(1), 1_001, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(
            f.learn(1, mac(1), vtep(2), 1_001, NO_LIMIT),
            LearnOutcome::Moved
        );
        validate(&f).unwrap();
    }

    #[test]
    fn occupied_bytes_follow_the_sweeps() {
        let f = Fdb::with_seed(3000, 16, 9);
        let bucket = std::mem::size_of::<Bucket>();
        let all = f.capacity() / SLOTS * bucket;
        assert_eq!(f.occupied_bytes(), all, "before the first sweep: all of it");
        f.age(1, |_| 300);
        assert_eq!(f.occupied_bytes(), 0);
        f.add_static(1, mac(1), vtep(1)).unwrap();
        f.learn(1, mac(2), vtep(1), 1, NO_LIMIT);
        assert_eq!(f.occupied_bytes(), 0, "measured by sweeps only");
        f.age(2, |_| 300);
        let two = f.occupied_bytes();
        assert!(two == bucket || two == 2 * bucket, "{two}");
        for i in 3..2000 {
            f.add_static(1, mac(i), vtep(1)).unwrap();
        }
        f.age(3, |_| 300);
        assert!(
            f.occupied_bytes() > all * 9 / 10,
            "{} of {all}",
            f.occupied_bytes()
        );
        // The learned one ages out; a flush of the rest empties the table.
        f.age(1000, |_| 300);
        f.flush(&FdbFilter::default());
        f.age(1001, |_| 300);
        assert_eq!(f.occupied_bytes(), 0);
    }

    #[test]
    fn ageing_removes_only_old_dynamic_entries_at_the_right_time() {
        let f = Fdb::new(1000, 16);
        f.learn(1, mac(1), vtep(1), 100, NO_LIMIT);
        f.learn(1, mac(2), vtep(1), 150, NO_LIMIT);
        f.learn(2, mac(1), vtep(1), 100, NO_LIMIT); // VNI 2 ages after 10 s
        f.learn(3, mac(1), vtep(1), 100, NO_LIMIT); // VNI 3 never ages (0)
        f.add_static(1, mac(3), vtep(1)).unwrap();
        let age_of = |vni: u32| match vni {
            1 => 300,
            2 => 10,
            _ => 0,
        };
        assert_eq!(f.age(109, age_of), 0);
        assert_eq!(f.age(110, age_of), 1);
        assert_eq!(f.lookup(2, mac(1)), None);
        // mac(1) seen at 100: still there at 399, gone at 400; refreshed mac(2) stays.
        f.learn(1, mac(2), vtep(1), 350, NO_LIMIT);
        assert_eq!(f.age(399, age_of), 0);
        assert_eq!(f.age(400, age_of), 1);
        assert_eq!(f.lookup(1, mac(1)), None);
        assert_eq!(f.lookup(1, mac(2)), Some(vtep(1)));
        assert_eq!(f.age(649, age_of), 0);
        assert_eq!(f.age(650, age_of), 1);
        // Static and never-ageing entries survive anything.
        assert_eq!(f.age(4_000_000_000, age_of), 0);
        assert_eq!(f.lookup(1, mac(3)), Some(vtep(1)));
        assert_eq!(f.lookup(3, mac(1)), Some(vtep(1)));
        assert_eq!(f.stats().aged, 3);
        assert_eq!(f.len(), 2);
        validate(&f).unwrap();
    }

    #[test]
    fn ageing_across_clock_wrap_and_with_a_clock_behind() {
        let f = Fdb::new(100, 4);
        f.learn(1, mac(1), vtep(1), u32::MAX - 5, NO_LIMIT);
        f.learn(1, mac(2), vtep(1), 20, NO_LIMIT);
        // mac(2)'s last_seen is "in the future" for a sweep at 10: not aged.
        assert_eq!(f.age(3, |_| 10), 0);
        assert_eq!(f.age(4, |_| 10), 1, "10 s after u32::MAX - 5 is 4");
        assert_eq!(f.lookup(1, mac(2)), Some(vtep(1)));
        assert_eq!(f.age(29, |_| 10), 0);
        assert_eq!(f.age(30, |_| 10), 1);
        validate(&f).unwrap();
    }

    #[test]
    fn flush_variants() {
        let f = Fdb::new(1000, 16);
        let fill = |f: &Fdb| {
            for n in 0..4 {
                f.learn(1, mac(n), vtep(1), 1, NO_LIMIT);
                f.learn(1, mac(10 + n), vtep(2), 1, NO_LIMIT);
                f.learn(2, mac(n), acc(3, 10), 1, NO_LIMIT);
                f.learn(2, mac(10 + n), acc(4, 10), 1, NO_LIMIT);
            }
            f.add_static(1, mac(20), vtep(1)).unwrap();
            f.add_static(2, mac(20), acc(3, 20)).unwrap();
        };
        fill(&f);
        assert_eq!(f.len(), 18);
        let by_vtep = FdbFilter::all().dest(DestFilter::Exact(vtep(1)));
        assert_eq!(f.entries(&by_vtep, 1).len(), 5);
        assert_eq!(f.flush(&by_vtep.dynamic_only()), 4);
        assert_eq!(f.lookup(1, mac(0)), None);
        assert_eq!(f.lookup(1, mac(10)), Some(vtep(2)));
        assert_eq!(
            f.lookup(1, mac(20)),
            Some(vtep(1)),
            "static kept by a dynamic flush"
        );
        // By port, any VLAN, static included.
        assert_eq!(f.flush(&FdbFilter::all().dest(DestFilter::Port(3))), 5);
        assert_eq!(f.lookup(2, mac(20)), None);
        assert_eq!(f.lookup(2, mac(10)), Some(acc(4, 10)));
        // By VNI.
        assert_eq!(f.flush(&FdbFilter::all().vni(2)), 4);
        assert_eq!(f.len_vni(2), 0);
        assert_eq!(f.len(), 5);
        // Everything.
        assert_eq!(f.flush(&FdbFilter::all()), 5);
        assert!(f.is_empty());
        validate(&f).unwrap();
        // Dynamic only over a full table; then static only.
        fill(&f);
        assert_eq!(f.flush(&FdbFilter::all().dynamic_only()), 16);
        assert_eq!(f.len(), 2);
        assert_eq!(f.flush(&FdbFilter::all().static_only()), 2);
        assert_eq!(f.stats().flushed, 4 + 5 + 4 + 5 + 16 + 2);
        assert_eq!(f.flush(&FdbFilter::all()), 0);
        validate(&f).unwrap();
    }

    #[test]
    fn group_and_zero_sources_are_refused() {
        let f = Fdb::new(100, 4);
        let group = [
            MacAddr::BROADCAST,
            "01:00:5e:00:00:fb".parse().unwrap(),
            "33:33:00:00:00:01".parse().unwrap(),
            MacAddr::ZERO,
        ];
        for m in group {
            assert_eq!(
                f.learn(1, m, vtep(1), 1, NO_LIMIT),
                LearnOutcome::NotUnicast,
                "{m}"
            );
            assert_eq!(f.add_static(1, m, vtep(1)), Err(FdbError::NotUnicast));
            assert_eq!(f.lookup(1, m), None);
        }
        assert_eq!(
            f.learn(0, MacAddr::ZERO, vtep(1), 1, NO_LIMIT),
            LearnOutcome::NotUnicast
        );
        assert_eq!(
            f.lookup(0, MacAddr::ZERO),
            None,
            "key 0 is a free slot, never a hit"
        );
        assert_eq!(
            f.add_static(1 << 24, mac(1), vtep(1)),
            Err(FdbError::BadVni)
        );
        assert!(f.is_empty());
        assert_eq!(f.stats().not_unicast, 5);
    }

    #[test]
    fn table_full_when_both_buckets_are_full() {
        // Two buckets: every key can only go to bucket 0 or 1.
        let f = Fdb::with_seed(16, 4, 11);
        assert_eq!(f.capacity(), 2 * SLOTS);
        let mut learned = 0;
        let mut full = Vec::new();
        for n in 0..200 {
            match f.learn(1, mac(n), vtep(1), 1, NO_LIMIT) {
                LearnOutcome::Learned => learned += 1,
                LearnOutcome::TableFull => full.push(n),
                o => panic!("{o:?}"),
            }
        }
        assert_eq!(learned, f.capacity());
        assert_eq!(f.len(), f.capacity());
        assert_eq!(f.stats().table_full, full.len() as u64);
        assert!(full.iter().all(|&n| f.lookup(1, mac(n)).is_none()));
        assert_eq!(
            f.add_static(1, mac(full[0]), vtep(1)),
            Err(FdbError::TableFull)
        );
        assert!(f
            .buckets
            .iter()
            .any(|b| Header::overflow(b.header.load()) > 0));
        validate(&f).unwrap();
        // Free a slot in bucket 0 and learn a refused MAC that maps there.
        let victim = f
            .entries(&FdbFilter::all(), 1)
            .into_iter()
            .find(|e| f.find(&f.pos(1, e.mac.to_u64())).unwrap().0 == 0)
            .unwrap();
        assert!(f.remove(1, victim.mac));
        let n = *full
            .iter()
            .find(|&&n| {
                let p = f.pos(1, mac(n).to_u64());
                p.b1 == 0 || p.b2() == 0
            })
            .unwrap();
        assert_eq!(
            f.learn(1, mac(n), vtep(1), 2, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(f.len(), f.capacity());
        validate(&f).unwrap();
        // Emptying the table clears every overflow count.
        assert_eq!(f.flush(&FdbFilter::all()), f.capacity());
        assert!(f
            .buckets
            .iter()
            .all(|b| Header::overflow(b.header.load()) == 0));
        validate(&f).unwrap();
    }

    #[test]
    fn the_requested_capacity_fits() {
        for (n, seed) in [(64usize, 1u64), (1000, 2), (1000, 3), (50_000, 4)] {
            let f = Fdb::with_seed(n, 64, seed);
            let mut rng = XorShift(seed * 0x9e37_79b9 + 1);
            let mut learned = 0;
            while learned < n {
                let m = MacAddr::from_u64(rng.next() & 0xfeff_ffff_ffff);
                let vni = (rng.next() % 50) as u32;
                match f.learn(vni, m, vtep(1), 1, NO_LIMIT) {
                    LearnOutcome::Learned => learned += 1,
                    LearnOutcome::TableFull => panic!("TableFull at {learned} of {n}"),
                    _ => {}
                }
            }
            assert_eq!(f.len(), n);
            validate(&f).unwrap();
        }
        // Structured keys: Docker-style MACs (02:42 + the container IP) in a few VNIs.
        for seed in [5u64, 6] {
            let n = 30_000;
            let f = Fdb::with_seed(n, 64, seed);
            for i in 0..n as u64 {
                let m = MacAddr::from_u64(0x0242_0a00_0000 | (i % 10_000));
                let o = f.learn(4096 + (i / 10_000) as u32, m, vtep(1), 1, NO_LIMIT);
                assert_eq!(o, LearnOutcome::Learned, "entry {i} of {n}");
            }
            validate(&f).unwrap();
        }
    }

    #[test]
    fn vni_table_full() {
        let f = Fdb::new(1000, 2);
        assert_eq!(
            f.learn(1, mac(1), vtep(1), 1, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(
            f.learn(2, mac(1), vtep(1), 1, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(
            f.learn(3, mac(1), vtep(1), 1, NO_LIMIT),
            LearnOutcome::TableFull
        );
        assert_eq!(
            f.add_static(3, mac(1), vtep(1)),
            Err(FdbError::VniTableFull)
        );
        // VNIs keep their slot once emptied.
        f.flush(&FdbFilter::all());
        assert_eq!(
            f.learn(2, mac(1), vtep(1), 1, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(
            f.learn(3, mac(1), vtep(1), 1, NO_LIMIT),
            LearnOutcome::TableFull
        );
        assert_eq!(f.stats().table_full, 2);
    }

    #[test]
    fn remove_then_relearn() {
        let f = Fdb::new(100, 4);
        f.learn(5, mac(1), vtep(1), 1, NO_LIMIT);
        f.add_static(5, mac(2), vtep(2)).unwrap();
        assert!(f.remove(5, mac(1)));
        assert!(!f.remove(5, mac(1)));
        assert!(f.remove(5, mac(2)));
        assert!(!f.remove(6, mac(1)));
        assert_eq!(f.lookup(5, mac(1)), None);
        assert!(f.is_empty());
        assert_eq!(
            f.learn(5, mac(1), vtep(3), 2, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(
            f.learn(5, mac(2), vtep(3), 2, NO_LIMIT),
            LearnOutcome::Learned
        );
        assert_eq!(
            f.lookup_hit(5, mac(2)),
            Some(FdbHit {
                dest: vtep(3),
                is_static: false
            })
        );
        assert_eq!(f.learned_vni(5), 2);
        validate(&f).unwrap();
    }

    // ---- Model-based property test ----

    const P_VNIS: [u32; 3] = [1, 0x01_0001, 0xff_0001];
    const P_LIMITS: [u32; 3] = [3, NO_LIMIT, 5];
    const P_AGES: [u32; 3] = [5, 0, 2];

    fn p_mac(i: usize) -> MacAddr {
        match i {
            10 => "01:00:5e:00:00:01".parse().unwrap(),
            11 => MacAddr::BROADCAST,
            _ => mac(i as u64 + 1),
        }
    }

    fn p_dest(i: usize) -> FdbDest {
        [acc(1, 0), acc(1, 10), vtep(1), vtep(2)][i]
    }

    #[derive(Clone, Debug)]
    enum Op {
        Learn(usize, usize, usize, u32),
        Static(usize, usize, usize),
        Remove(usize, usize),
        Age(u32),
        Flush(usize, usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..3usize, 0..12usize, 0..4usize, 0..3u32).prop_map(|(v, m, d, t)| Op::Learn(v, m, d, t)),
            2 => (0..3usize, 0..12usize, 0..4usize).prop_map(|(v, m, d)| Op::Static(v, m, d)),
            2 => (0..3usize, 0..12usize).prop_map(|(v, m)| Op::Remove(v, m)),
            2 => (0..4u32).prop_map(Op::Age),
            1 => (0..6usize, 0..3usize, 0..4usize).prop_map(|(k, v, d)| Op::Flush(k, v, d)),
        ]
    }

    #[derive(Default)]
    struct Model {
        map: HashMap<(u32, MacAddr), (FdbDest, bool, u32)>,
        learned: u64,
        moved: u64,
        limit_hits: u64,
        static_kept: u64,
        not_unicast: u64,
        aged: u64,
        flushed: u64,
    }

    impl Model {
        fn learned_in(&self, vni: u32) -> u32 {
            self.map
                .iter()
                .filter(|((v, _), e)| *v == vni && !e.1)
                .count() as u32
        }

        fn learn(
            &mut self,
            vni: u32,
            m: MacAddr,
            d: FdbDest,
            now: u32,
            limit: u32,
        ) -> LearnOutcome {
            if m.is_multicast() {
                self.not_unicast += 1;
                return LearnOutcome::NotUnicast;
            }
            let n = self.learned_in(vni);
            match self.map.get_mut(&(vni, m)) {
                Some(e) if e.1 => {
                    if e.0 != d {
                        self.static_kept += 1;
                    }
                    LearnOutcome::StaticKept
                }
                Some(e) if e.0 == d => {
                    if is_later(now, e.2) {
                        e.2 = now;
                    }
                    LearnOutcome::Refreshed
                }
                Some(e) => {
                    *e = (d, false, now);
                    self.moved += 1;
                    LearnOutcome::Moved
                }
                None if n >= limit => {
                    self.limit_hits += 1;
                    LearnOutcome::LimitHit
                }
                None => {
                    self.map.insert((vni, m), (d, false, now));
                    self.learned += 1;
                    LearnOutcome::Learned
                }
            }
        }
    }

    fn flush_filter(k: usize, v: usize, d: usize) -> FdbFilter {
        match k {
            0 => FdbFilter::all(),
            1 => FdbFilter::all().dynamic_only(),
            2 => FdbFilter::all().vni(P_VNIS[v]),
            3 => FdbFilter::all().dest(DestFilter::Exact(p_dest(d))),
            4 => FdbFilter::all().dest(DestFilter::Port(1)).vni(P_VNIS[v]),
            _ => FdbFilter::all().static_only(),
        }
    }

    fn model_matches(f: &FdbFilter, vni: u32, e: &(FdbDest, bool, u32)) -> bool {
        f.vni.is_none_or(|v| v == vni)
            && match f.kind {
                KindFilter::All => true,
                KindFilter::Dynamic => !e.1,
                KindFilter::Static => e.1,
            }
            && match f.dest {
                None => true,
                Some(DestFilter::Exact(d)) => e.0 == d,
                Some(DestFilter::Port(p)) => {
                    matches!(e.0, FdbDest::Access { port, .. } if port == p)
                }
            }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_a_hashmap_model(ops in proptest::collection::vec(op(), 1..120), seed in any::<u64>()) {
            let f = Fdb::with_seed(1024, 16, seed);
            let mut m = Model::default();
            let mut now = 1000u32;
            for op in ops {
                match op {
                    Op::Learn(v, mi, d, dt) => {
                        now += dt;
                        let (vni, mac, dest) = (P_VNIS[v], p_mac(mi), p_dest(d));
                        let want = m.learn(vni, mac, dest, now, P_LIMITS[v]);
                        prop_assert_eq!(f.learn(vni, mac, dest, now, P_LIMITS[v]), want);
                    }
                    Op::Static(v, mi, d) => {
                        let (vni, mac, dest) = (P_VNIS[v], p_mac(mi), p_dest(d));
                        let r = f.add_static(vni, mac, dest);
                        if mac.is_multicast() {
                            prop_assert_eq!(r, Err(FdbError::NotUnicast));
                        } else {
                            prop_assert_eq!(r, Ok(()));
                            m.map.insert((vni, mac), (dest, true, 0));
                        }
                    }
                    Op::Remove(v, mi) => {
                        let key = (P_VNIS[v], p_mac(mi));
                        prop_assert_eq!(f.remove(key.0, key.1), m.map.remove(&key).is_some());
                    }
                    Op::Age(dt) => {
                        now += dt;
                        let age_of = |vni: u32| P_AGES[P_VNIS.iter().position(|&v| v == vni).unwrap()];
                        let before = m.map.len();
                        m.map.retain(|&(vni, _), e| {
                            let a = age_of(vni);
                            e.1 || a == 0 || elapsed(now, e.2) < a
                        });
                        let n = before - m.map.len();
                        m.aged += n as u64;
                        prop_assert_eq!(f.age(now, age_of), n);
                    }
                    Op::Flush(k, v, d) => {
                        let filt = flush_filter(k, v, d);
                        let before = m.map.len();
                        m.map.retain(|&(vni, _), e| !model_matches(&filt, vni, e));
                        let n = before - m.map.len();
                        m.flushed += n as u64;
                        prop_assert_eq!(f.flush(&filt), n);
                    }
                }
                for &vni in &P_VNIS {
                    for mi in 0..12 {
                        let got = f.lookup_hit(vni, p_mac(mi));
                        let want = m.map.get(&(vni, p_mac(mi))).map(|e| FdbHit { dest: e.0, is_static: e.1 });
                        prop_assert_eq!(got, want);
                    }
                    prop_assert_eq!(f.len_vni(vni), m.map.keys().filter(|k| k.0 == vni).count());
                    prop_assert_eq!(f.learned_vni(vni), m.learned_in(vni) as usize);
                }
                prop_assert_eq!(f.len(), m.map.len());
            }
            if let Err(e) = validate(&f) {
                return Err(TestCaseError::fail(e));
            }
            let mut listed: Vec<_> = f
                .entries(&FdbFilter::all(), now)
                .into_iter()
                .map(|e| ((e.vni, e.mac), (e.dest, e.is_static, e.last_seen), e.age))
                .collect();
            listed.sort_by_key(|x| (x.0 .0, x.0 .1));
            let mut want: Vec<_> = m
                .map
                .iter()
                .map(|(&k, &e)| (k, e, if e.1 { 0 } else { elapsed(now, e.2) }))
                .collect();
            want.sort_by_key(|x| (x.0 .0, x.0 .1));
            prop_assert_eq!(listed, want);
            let s = f.stats();
            prop_assert_eq!(
                (s.learned, s.moved, s.limit_hits, s.static_kept, s.not_unicast, s.aged, s.flushed),
                (m.learned, m.moved, m.limit_hits, m.static_kept, m.not_unicast, m.aged, m.flushed)
            );
        }
    }

    // ---- Concurrency ----

    const C_VNIS: [u32; 3] = [7, 0x01_0007, 0x02_0007];
    const C_MACS: u64 = 300;
    const C_LIMIT0: u32 = 150;
    const STATIC_OWNER: u16 = 200;

    /// 24 check bits derived from the key, so a value written for another key (or a
    /// torn mix of two values) is recognisable.
    fn check_bits(vni: u32, m: MacAddr) -> u32 {
        (folded_mul(m.to_u64() ^ 0x5555, vni as u64 | 1 << 40) as u32) & 0xff_ffff
    }

    fn c_dest(owner: u16, vni: u32, m: MacAddr, access: bool) -> FdbDest {
        let c = check_bits(vni, m);
        if access {
            acc(owner << 8 | (c & 0xff) as u16, ((c >> 8) & 0xfff) as u16)
        } else {
            FdbDest::Vtep(Ipv4Addr::from((owner as u32) << 24 | c))
        }
    }

    /// The owner a destination was written by, if it is valid for this key.
    fn c_owner(vni: u32, m: MacAddr, d: FdbDest) -> Option<u16> {
        let c = check_bits(vni, m);
        match d {
            FdbDest::Access { port, vlan } => (port & 0xff == (c & 0xff) as u16
                && vlan == ((c >> 8) & 0xfff) as u16)
                .then_some(port >> 8),
            FdbDest::Vtep(ip) => {
                let ip = u32::from(ip);
                (ip & 0xff_ffff == c).then_some((ip >> 24) as u16)
            }
        }
    }

    fn statics() -> impl Iterator<Item = (u32, MacAddr)> {
        (0..6).map(|n| (C_VNIS[2], mac(n)))
    }

    #[test]
    fn concurrent_learners_readers_and_a_sweeper() {
        const LEARNERS: u16 = 3;
        let f = Arc::new(Fdb::with_seed(400, 8, 42));
        let clock = Arc::new(AtomicU32::new(1));
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_millis(1000);
        let mut handles = Vec::new();
        for t in 1..=LEARNERS {
            let (f, clock, stop) = (f.clone(), clock.clone(), stop.clone());
            handles.push(std::thread::spawn(move || {
                let mut rng = XorShift(0x1234_5678 * t as u64 + 1);
                let mut outcomes = HashMap::new();
                let mut lookups = 0u64;
                let mut i = 0u64;
                while !stop.load(Relaxed) {
                    i += 1;
                    let r = rng.next();
                    let vni = C_VNIS[(r % 3) as usize];
                    let m = mac((r >> 8) % C_MACS);
                    if r & (1 << 40) != 0 {
                        let limit = if vni == C_VNIS[0] { C_LIMIT0 } else { NO_LIMIT };
                        let d = c_dest(t, vni, m, r & (1 << 41) != 0);
                        let o = f.learn(vni, m, d, clock.load(Relaxed), limit);
                        assert_ne!(o, LearnOutcome::NotUnicast);
                        *outcomes.entry(o).or_insert(0u64) += 1;
                    }
                    if let Some(hit) = f.lookup_hit(vni, m) {
                        lookups += 1;
                        let owner = c_owner(vni, m, hit.dest);
                        assert!(
                            matches!(owner, Some(o) if (1..=LEARNERS).contains(&o) || o == STATIC_OWNER),
                            "lookup({vni:#x}, {m}) = {hit:?}: not a value written for this key"
                        );
                        assert_eq!(hit.is_static, owner == Some(STATIC_OWNER));
                    }
                    if i.is_multiple_of(4096) && Instant::now() > deadline {
                        stop.store(true, Relaxed);
                    }
                }
                (outcomes, lookups)
            }));
        }
        let sweeper = {
            let (f, clock, stop) = (f.clone(), clock.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                let mut removed = 0usize;
                while !stop.load(Relaxed) {
                    rounds += 1;
                    let now = clock.fetch_add(1, Relaxed) + 1;
                    removed += f.age(now, |vni| if vni == C_VNIS[1] { 1 } else { 3 });
                    if rounds.is_multiple_of(4) {
                        removed += f.flush(&FdbFilter::all().vni(C_VNIS[0]).dynamic_only());
                    }
                    if rounds.is_multiple_of(7) {
                        removed += f.flush(&FdbFilter::all().dest(DestFilter::Exact(c_dest(
                            1,
                            C_VNIS[2],
                            mac(rounds % C_MACS),
                            false,
                        ))));
                    }
                    for (n, (vni, m)) in statics().enumerate() {
                        if (rounds + n as u64).is_multiple_of(5) {
                            f.remove(vni, m);
                        } else {
                            let _ = f.add_static(vni, m, c_dest(STATIC_OWNER, vni, m, n % 2 == 0));
                        }
                    }
                    let es = f.entries(&FdbFilter::all(), now);
                    let mut keys = HashSet::new();
                    for e in &es {
                        assert!(keys.insert((e.vni, e.mac)), "listed twice: {e:?}");
                        assert!(c_owner(e.vni, e.mac, e.dest).is_some(), "bad entry {e:?}");
                    }
                    assert!(f.learned_vni(C_VNIS[0]) <= C_LIMIT0 as usize);
                    std::thread::sleep(Duration::from_micros(300));
                }
                (rounds, removed)
            })
        };
        let mut total: HashMap<LearnOutcome, u64> = HashMap::new();
        let mut lookups = 0;
        for h in handles {
            let (o, l) = h.join().unwrap();
            lookups += l;
            for (k, v) in o {
                *total.entry(k).or_default() += v;
            }
        }
        let (rounds, removed) = sweeper.join().unwrap();
        println!("outcomes {total:?}, {lookups} hits, {rounds} sweeps removed {removed}");

        validate(&f).unwrap();
        assert!(rounds > 10, "the sweeper hardly ran");
        assert!(removed > 0);
        for o in [
            LearnOutcome::Learned,
            LearnOutcome::Refreshed,
            LearnOutcome::Moved,
            LearnOutcome::StaticKept,
        ] {
            assert!(
                total.get(&o).copied().unwrap_or(0) > 0,
                "no {o:?} at all: {total:?}"
            );
        }
        let s = f.stats();
        assert_eq!(s.learned, total[&LearnOutcome::Learned]);
        assert_eq!(s.moved, total[&LearnOutcome::Moved]);
        assert_eq!(
            s.limit_hits,
            total.get(&LearnOutcome::LimitHit).copied().unwrap_or(0)
        );
        assert_eq!(
            s.table_full,
            total.get(&LearnOutcome::TableFull).copied().unwrap_or(0)
        );
        let es = f.entries(&FdbFilter::all(), clock.load(Relaxed));
        assert_eq!(es.len(), f.len());
        assert_eq!(s.dynamic_entries + s.static_entries, es.len());
        for e in &es {
            let owner = c_owner(e.vni, e.mac, e.dest).expect("entry with a foreign value");
            assert_eq!(e.is_static, owner == STATIC_OWNER, "{e:?}");
        }
        // Statics put back at the end (after making room: the run overfills the
        // table on purpose) are intact and survive learning attempts.
        f.flush(&FdbFilter::all().vni(C_VNIS[2]).dynamic_only());
        for (n, (vni, m)) in statics().enumerate() {
            f.add_static(vni, m, c_dest(STATIC_OWNER, vni, m, n % 2 == 0))
                .unwrap();
            assert_eq!(
                f.learn(vni, m, c_dest(1, vni, m, false), 1, NO_LIMIT),
                LearnOutcome::StaticKept
            );
            assert_eq!(
                f.lookup(vni, m),
                Some(c_dest(STATIC_OWNER, vni, m, n % 2 == 0))
            );
        }
        assert!(f.learned_vni(C_VNIS[0]) <= C_LIMIT0 as usize);
        validate(&f).unwrap();
    }

    #[test]
    fn seqlock_read_retries_when_a_write_lands_in_the_middle() {
        let b = Bucket::default();
        b.keys[0].store(11, Relaxed);
        b.values[0].store(111, Relaxed);
        let calls = std::cell::Cell::new(0);
        let (r, _) = b.read(|b| {
            let k = b.keys[0].load(Relaxed);
            if calls.get() == 0 {
                // A writer slips in between the key and the value load.
                b.header.lock();
                b.header.begin_write();
                b.keys[0].store(22, Relaxed);
                b.values[0].store(222, Relaxed);
                b.header.end_write();
                b.header.unlock();
            }
            calls.set(calls.get() + 1);
            (k, b.values[0].load(Relaxed))
        });
        assert_eq!(
            r,
            (22, 222),
            "a torn (old key, new value) snapshot was accepted"
        );
        assert_eq!(calls.get(), 2);
        // A change of the lock bit or the overflow count alone does not force a retry.
        calls.set(0);
        let (r, _) = b.read(|b| {
            if calls.get() == 0 {
                b.header.lock();
                b.header.add_overflow(1);
                b.header.unlock();
            }
            calls.set(calls.get() + 1);
            b.keys[0].load(Relaxed)
        });
        assert_eq!((r, calls.get()), (22, 1));
    }

    #[test]
    fn seqlock_reader_waits_for_a_write_in_progress() {
        let b = Arc::new(Bucket::default());
        b.keys[0].store(1, Relaxed);
        b.header.lock();
        b.header.begin_write();
        b.keys[0].store(2, Relaxed);
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (b, done) = (b.clone(), done.clone());
            std::thread::spawn(move || {
                let (k, _) = b.read(|b| b.keys[0].load(Relaxed));
                done.store(true, Relaxed);
                k
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!done.load(Relaxed), "read while the sequence was odd");
        b.keys[0].store(3, Relaxed);
        b.header.end_write();
        b.header.unlock();
        assert_eq!(reader.join().unwrap(), 3);
    }

    #[test]
    fn seqlock_readers_never_see_a_key_with_another_keys_value() {
        // Two buckets, keys constantly removed and re-learned: slots are reused by
        // other keys all the time while a reader looks them up.
        let f = Arc::new(Fdb::with_seed(16, 4, 9));
        let stop = Arc::new(AtomicBool::new(false));
        let keys: Vec<(u32, MacAddr)> = (0..40)
            .map(|n| (C_VNIS[(n % 3) as usize], mac(n)))
            .collect();
        let writer = {
            let (f, stop, keys) = (f.clone(), stop.clone(), keys.clone());
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                while !stop.load(Relaxed) {
                    for (n, &(vni, m)) in keys.iter().enumerate() {
                        let owner = 1 + (rounds % 2) as u16;
                        f.learn(vni, m, c_dest(owner, vni, m, n % 2 == 0), 1, NO_LIMIT);
                        if (n as u64 + rounds).is_multiple_of(3) {
                            f.remove(vni, m);
                        }
                    }
                    rounds += 1;
                }
                rounds
            })
        };
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut hits = 0u64;
        while Instant::now() < deadline {
            for _ in 0..1000 {
                for &(vni, m) in &keys {
                    if let Some(d) = f.lookup(vni, m) {
                        hits += 1;
                        assert!(
                            matches!(c_owner(vni, m, d), Some(1 | 2)),
                            "lookup({vni:#x}, {m}) = {d:?}: not a value written for this key"
                        );
                    }
                }
            }
        }
        stop.store(true, Relaxed);
        let rounds = writer.join().unwrap();
        assert!(hits > 1000 && rounds > 100, "{hits} hits, {rounds} rounds");
        validate(&f).unwrap();
    }

    // ---- Timing (not a test: run with --release -- --ignored --nocapture) ----

    #[test]
    #[ignore]
    fn bench_lookup() {
        use std::hint::black_box;
        for &n in &[1_000usize, 100_000] {
            let f = Fdb::new(n, 64);
            let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
            let mut keys = Vec::with_capacity(n);
            while keys.len() < n {
                let m = MacAddr::from_u64(rng.next() & 0xfeff_ffff_ffff);
                let vni = (rng.next() % 16) as u32 + 1;
                if f.learn(vni, m, vtep(1), 1, NO_LIMIT) == LearnOutcome::Learned {
                    keys.push((vni, m));
                }
            }
            let order: Vec<usize> = (0..1 << 22)
                .map(|_| (rng.next() % n as u64) as usize)
                .collect();
            let misses: Vec<(u32, MacAddr)> = (0..1 << 16)
                .map(|_| (1, MacAddr::from_u64(rng.next() & 0xfeff_ffff_ffff)))
                .collect();
            let t = Instant::now();
            let mut hits = 0usize;
            for &i in &order {
                let (v, m) = keys[i];
                hits += black_box(f.lookup(black_box(v), black_box(m))).is_some() as usize;
            }
            let hit_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
            assert_eq!(hits, order.len());
            let t = Instant::now();
            for j in 0..order.len() {
                let (v, m) = misses[j & 0xffff];
                black_box(f.lookup(black_box(v), black_box(m)));
            }
            let miss_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
            let t = Instant::now();
            for &i in &order {
                let (v, m) = keys[i];
                black_box(f.learn(v, m, vtep(1), 1, NO_LIMIT));
            }
            let learn_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
            let map: HashMap<(u32, MacAddr), FdbDest> =
                keys.iter().map(|&k| (k, vtep(1))).collect();
            let t = Instant::now();
            for &i in &order {
                black_box(map.get(black_box(&keys[i])));
            }
            let std_ns = t.elapsed().as_nanos() as f64 / order.len() as f64;
            let in_primary = f
                .entries(&FdbFilter::all(), 1)
                .iter()
                .filter(|e| f.find(&f.pos(e.vni, e.mac.to_u64())).unwrap().2 & ALT == 0)
                .count();
            println!(
                "{n} entries ({} slots, {:.0}% in primary): lookup hit {hit_ns:.1} ns, miss {miss_ns:.1} ns, learn refresh {learn_ns:.1} ns; std HashMap (SipHash) get {std_ns:.1} ns",
                f.capacity(),
                100.0 * in_primary as f64 / n as f64
            );
        }
    }

    #[test]
    #[ignore]
    fn fill_until_table_full() {
        for &n in &[1000usize, 100_000, 1 << 20] {
            for seed in 0..3u64 {
                let f = Fdb::with_seed(n, 16, seed);
                let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
                let mut learned = 0usize;
                loop {
                    let x = rng.next();
                    let m = MacAddr::from_u64(x & 0xfeff_ffff_ffff);
                    match f.learn((x >> 60) as u32, m, vtep(1), 0, NO_LIMIT) {
                        LearnOutcome::Learned => learned += 1,
                        LearnOutcome::TableFull => break,
                        _ => {}
                    }
                }
                println!(
                    "n={n} seed={seed}: first TableFull after {learned} = {:.3} of requested, {:.3} of slots",
                    learned as f64 / n as f64,
                    learned as f64 / f.capacity() as f64
                );
            }
        }
    }
}
