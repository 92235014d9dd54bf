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
//!   the writer-lock bit (bit 32), and (bits 40-47) the *overflow count*: how many
//!   entries whose primary bucket this is are stored in their secondary bucket.
//! * **last_seen**: a parallel array, one 64-byte line of `AtomicU32` per bucket,
//!   never read by [`Fdb::lookup`]. Refreshing a MAC's `last_seen` therefore never
//!   invalidates a line that other workers' lookups read.
//! * **VNI slots**: a fixed open-addressing table (`max_vnis` rounded up to a power
//!   of two, times two) of `{vni, dynamic count, static count}`, one per 64-byte
//!   line. A VNI takes a slot when its first entry is created and keeps it.
//!
//! Memory: (256 + 64) bytes per 15 slots = 21.3 bytes per slot. [`Fdb::new`] makes
//! `capacity * 4/3` slots (whole buckets), i.e. about 28.5 bytes per requested entry.
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
//! Measured (random keys): the first `TableFull` comes at about 84 % of the slots
//! with a million slots (88 % with ten thousand), so the requested capacity (75 %
//! of the slots) fits; at 70 % load about 85 % of the entries sit in their primary.
//! A lookup reads the primary's key lines (one 128-byte pair) and, on a hit, the
//! value's line; it reads the secondary only when the primary's overflow count is
//! not zero.
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
//! the count at zero may skip the secondary.
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

use crate::wire::ethernet::MacAddr;
use core::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicU32, AtomicU64};

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

// Bucket header word.
const SEQ_MASK: u64 = 0xffff_ffff;
const LOCK: u64 = 1 << 32;
const OVF_SHIFT: u32 = 40;
const OVF_MASK: u64 = 0xff << OVF_SHIFT;

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
const STRIPES: usize = 16;

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
    /// The destination bits of a value word (payload and kind).
    #[inline]
    fn encode(self) -> u64 {
        match self {
            FdbDest::Access { port, vlan } => KIND_ACCESS | (port as u64) << 16 | vlan as u64,
            FdbDest::Vtep(ip) => KIND_VTEP | u32::from(ip) as u64,
        }
    }

    /// Inverse of `encode` for an occupied value word.
    #[inline]
    fn decode(v: u64) -> FdbDest {
        let p = (v & PAYLOAD_MASK) as u32;
        if v & KIND_MASK == KIND_ACCESS {
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
}

/// One bucket: header and keys in the first two cache lines, values in the next two.
#[repr(C, align(128))]
#[derive(Default)]
struct Bucket {
    header: AtomicU64,
    keys: [AtomicU64; SLOTS],
    values: [AtomicU64; SLOTS],
}

/// `last_seen` of one bucket's slots (the 16th is unused): one line per bucket.
#[repr(align(64))]
#[derive(Default)]
struct LastSeen([AtomicU32; 16]);

/// Per-VNI entry counts.
#[repr(align(64))]
#[derive(Default)]
struct VniSlot {
    /// VNI + 1; 0 = free.
    tag: AtomicU32,
    dynamic: AtomicU32,
    statics: AtomicU32,
}

/// One stripe of event counters, its own 128 bytes.
#[repr(align(128))]
#[derive(Default)]
struct CounterBlock([AtomicU64; N_COUNTERS]);

/// Spins, then yields once a writer has obviously been descheduled.
#[inline]
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 1024 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

#[inline]
fn bump_seq(h: u64) -> u64 {
    (h & !SEQ_MASK) | (h.wrapping_add(1) & SEQ_MASK)
}

#[inline]
fn overflow(h: u64) -> u64 {
    (h & OVF_MASK) >> OVF_SHIFT
}

impl Bucket {
    /// Runs `f` on a consistent snapshot of the bucket (seqlock read) and returns
    /// its result with the header word it was read under. `f` must only read.
    #[inline]
    fn read<R>(&self, f: impl Fn(&Bucket) -> R) -> (R, u64) {
        let mut spins = 0;
        loop {
            let h1 = self.header.load(Acquire);
            if h1 & 1 == 0 {
                let r = f(self);
                fence(Acquire);
                let h2 = self.header.load(Relaxed);
                if (h1 ^ h2) & SEQ_MASK == 0 {
                    return (r, h1);
                }
            }
            backoff(&mut spins);
        }
    }

    /// The slot holding `key` with VNI top bits `vhi` (unsynchronised: call it
    /// inside `read`, or with the lock held).
    #[inline]
    fn find(&self, key: u64, vhi: u64) -> Option<(usize, u64)> {
        for (i, k) in self.keys.iter().enumerate() {
            if k.load(Relaxed) == key {
                let v = self.values[i].load(Relaxed);
                if v & VNI_HI_MASK == vhi && v & KIND_MASK != 0 {
                    return Some((i, v));
                }
            }
        }
        None
    }

    fn lock(&self) {
        let mut spins = 0;
        loop {
            let h = self.header.load(Relaxed);
            if h & LOCK == 0
                && self
                    .header
                    .compare_exchange_weak(h, h | LOCK, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
            backoff(&mut spins);
        }
    }

    // Only the lock holder stores the header, so the following are plain stores.

    fn unlock(&self) {
        let h = self.header.load(Relaxed);
        debug_assert!(h & LOCK != 0 && h & 1 == 0);
        self.header.store(h & !LOCK, Release);
    }

    fn begin_write(&self) {
        let h = self.header.load(Relaxed);
        debug_assert!(h & LOCK != 0 && h & 1 == 0);
        self.header.store(bump_seq(h), Relaxed);
        fence(Release);
    }

    fn end_write(&self) {
        let h = self.header.load(Relaxed);
        debug_assert!(h & LOCK != 0 && h & 1 == 1);
        self.header.store(bump_seq(h), Release);
    }

    /// Changes the overflow count (lock held). It does not bump the sequence:
    /// readers use the count they loaded with their snapshot.
    fn add_overflow(&self, delta: i64) {
        let h = self.header.load(Relaxed);
        debug_assert!(h & LOCK != 0);
        let n = overflow(h) as i64 + delta;
        debug_assert!((0..=SLOTS as i64).contains(&n));
        self.header
            .store((h & !OVF_MASK) | ((n as u64) << OVF_SHIFT), Release);
    }

    /// First free slot and the number of entries (lock held).
    fn free_slot(&self) -> (Option<usize>, usize) {
        let mut free = None;
        let mut used = 0;
        for (i, k) in self.keys.iter().enumerate() {
            if k.load(Relaxed) == 0 {
                free = free.or(Some(i));
            } else {
                used += 1;
            }
        }
        (free, used)
    }
}

#[inline]
fn folded_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Is `now` later than `then` on the wrapping u32 clock?
#[inline]
fn is_later(now: u32, then: u32) -> bool {
    (now.wrapping_sub(then) as i32) > 0
}

/// Seconds from `then` to `now` on the wrapping clock; 0 if `then` is in the future.
#[inline]
fn elapsed(now: u32, then: u32) -> u32 {
    (now.wrapping_sub(then) as i32).max(0) as u32
}

/// A key's place: its two buckets, its key word, its VNI top bits (value position).
#[derive(Clone, Copy, Debug)]
struct Pos {
    b1: usize,
    b2: usize,
    key: u64,
    vhi: u64,
}

#[inline]
fn entry_vni(key: u64, value: u64) -> u32 {
    ((key >> KEY_VNI_SHIFT) as u32) | (((value & VNI_HI_MASK) >> VNI_HI_SHIFT) as u32) << 16
}

/// The filtering database: fixed capacity, lock-free lookups, per-bucket locks for
/// writers. `Send + Sync`; share it by `Arc`.
pub struct Fdb {
    buckets: Box<[Bucket]>,
    last_seen: Box<[LastSeen]>,
    k0: u64,
    k1: u64,
    vnis: Box<[VniSlot]>,
    vni_mask: usize,
    max_vnis: u32,
    vnis_used: AtomicU32,
    counters: Box<[CounterBlock]>,
}

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
            buckets: (0..n_buckets).map(|_| Bucket::default()).collect(),
            last_seen: (0..n_buckets).map(|_| LastSeen::default()).collect(),
            k0: mix(seed),
            k1: mix(seed.rotate_left(32) ^ 0xa409_3822_299f_31d0),
            vnis: (0..vni_slots).map(|_| VniSlot::default()).collect(),
            vni_mask: vni_slots - 1,
            max_vnis: max_vnis as u32,
            vnis_used: AtomicU32::new(0),
            counters: (0..STRIPES).map(|_| CounterBlock::default()).collect(),
        }
    }

    /// Total slots; the capacity asked of [`Fdb::new`] is 75 % of it.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    /// Most VNIs the table can hold entries for.
    pub fn max_vnis(&self) -> usize {
        self.max_vnis as usize
    }

    #[inline]
    fn pos(&self, vni: u32, mac: u64) -> Pos {
        let vni = vni & MAX_VNI;
        let x = folded_mul(mac ^ self.k0, vni as u64 ^ self.k1);
        let x1 = folded_mul(x, 0x9e37_79b9_7f4a_7c15);
        let x2 = folded_mul(x1, 0xd6e8_feb8_6659_fd93);
        let n = self.buckets.len() as u128;
        Pos {
            b1: ((x1 as u128 * n) >> 64) as usize,
            b2: ((x2 as u128 * n) >> 64) as usize,
            key: (vni as u64 & 0xffff) << KEY_VNI_SHIFT | mac,
            vhi: ((vni >> 16) as u64) << VNI_HI_SHIFT,
        }
    }

    #[inline]
    fn count(&self, stripe: usize, which: usize) {
        self.counters[stripe % STRIPES].0[which].fetch_add(1, Relaxed);
    }

    fn count_n(&self, which: usize, n: usize) {
        if n > 0 {
            self.counters[0].0[which].fetch_add(n as u64, Relaxed);
        }
    }

    /// Lock-free search: (bucket index, slot, value).
    #[inline]
    fn find(&self, p: &Pos) -> Option<(usize, usize, u64)> {
        let (r, h) = self.buckets[p.b1].read(|b| b.find(p.key, p.vhi));
        if let Some((i, v)) = r {
            return Some((p.b1, i, v));
        }
        if overflow(h) == 0 || p.b2 == p.b1 {
            return None;
        }
        let (r, _) = self.buckets[p.b2].read(|b| b.find(p.key, p.vhi));
        r.map(|(i, v)| (p.b2, i, v))
    }

    /// Where frames to `mac` in `vni` go, if known. Lock-free; never writes.
    #[inline]
    pub fn lookup(&self, vni: u32, mac: MacAddr) -> Option<FdbDest> {
        let p = self.pos(vni, mac.to_u64());
        self.find(&p).map(|(_, _, v)| FdbDest::decode(v))
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
        let known = match self.find(&p) {
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
        let (lo, hi) = (p.b1.min(p.b2), p.b1.max(p.b2));
        self.buckets[lo].lock();
        if hi != lo {
            self.buckets[hi].lock();
        }
    }

    fn unlock_pair(&self, p: &Pos) {
        self.buckets[p.b1].unlock();
        if p.b2 != p.b1 {
            self.buckets[p.b2].unlock();
        }
    }

    /// Rewrites the value of an existing entry (both locks held).
    fn store_value(&self, bi: usize, i: usize, value: u64, now: Option<u32>) {
        let b = &self.buckets[bi];
        b.begin_write();
        b.values[i].store(value, Relaxed);
        if let Some(now) = now {
            self.last_seen[bi].0[i].store(now, Relaxed);
        }
        b.end_write();
    }

    /// Stores a new entry in its primary or secondary (both locks held); false if
    /// both are full.
    fn insert_locked(&self, p: &Pos, value: u64, last_seen: u32) -> bool {
        let (free1, used1) = self.buckets[p.b1].free_slot();
        let (free2, used2) = if p.b2 != p.b1 {
            self.buckets[p.b2].free_slot()
        } else {
            (None, SLOTS)
        };
        let primary_first = used1 < PRIMARY_FILL || used1 <= used2;
        let (bi, i) = match (free1, free2) {
            (Some(i), _) if primary_first => (p.b1, i),
            (_, Some(i)) => (p.b2, i),
            (Some(i), None) => (p.b1, i),
            (None, None) => return false,
        };
        let value = if bi != p.b1 {
            self.buckets[p.b1].add_overflow(1);
            value | ALT
        } else {
            value
        };
        let b = &self.buckets[bi];
        b.begin_write();
        self.last_seen[bi].0[i].store(last_seen, Relaxed);
        b.values[i].store(value, Relaxed);
        b.keys[i].store(p.key, Relaxed);
        b.end_write();
        true
    }

    /// Empties slot `i` of bucket `bi` and fixes the counts (both locks of the
    /// entry's key held).
    fn clear_slot(&self, p: &Pos, bi: usize, i: usize, value: u64) {
        let b = &self.buckets[bi];
        b.begin_write();
        b.keys[i].store(0, Relaxed);
        b.values[i].store(0, Relaxed);
        b.end_write();
        if value & ALT != 0 {
            self.buckets[p.b1].add_overflow(-1);
        }
        if let Some(s) = self.vni_slot(entry_vni(p.key, value), false) {
            let c = if value & STATIC != 0 {
                &s.statics
            } else {
                &s.dynamic
            };
            c.fetch_sub(1, Relaxed);
        }
    }

    /// The VNI's count slot; registers the VNI when `create` (None: table full).
    fn vni_slot(&self, vni: u32, create: bool) -> Option<&VniSlot> {
        let tag = vni + 1;
        let mut i =
            folded_mul(vni as u64 ^ self.k1, 0x9e37_79b9_7f4a_7c15) as usize & self.vni_mask;
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

    /// Adds or replaces a static entry (it replaces a dynamic entry of the same MAC).
    pub fn add_static(&self, vni: u32, mac: MacAddr, dest: FdbDest) -> Result<(), FdbError> {
        let m = mac.to_u64();
        if mac.is_multicast() || m == 0 {
            return Err(FdbError::NotUnicast);
        }
        if vni > MAX_VNI {
            return Err(FdbError::BadVni);
        }
        let slot = self.vni_slot(vni, true).ok_or(FdbError::VniTableFull)?;
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
        let mut removed = 0;
        for (bi, b) in self.buckets.iter().enumerate() {
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
        let sum = |c: usize| -> u64 { self.counters.iter().map(|b| b.0[c].load(Relaxed)).sum() };
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
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn mac(n: u64) -> MacAddr {
        MacAddr::from_u64(0x0200_0000_0000 | n)
    }

    fn vtep(n: u8) -> FdbDest {
        FdbDest::Vtep(Ipv4Addr::new(10, 0, 0, n))
    }

    fn acc(port: u16, vlan: u16) -> FdbDest {
        FdbDest::Access { port, vlan }
    }

    #[test]
    #[ignore]
    fn fill_experiment() {
        for &n in &[1000usize, 100_000, 1 << 20] {
            for seed in 0..5u64 {
                let f = Fdb::with_seed(n, 16, seed);
                let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let mut learned = 0usize;
                loop {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
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
