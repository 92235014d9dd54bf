//! The filtering database (IEEE 802.1Q clause 8.8) of every VNI: which access port
//! (and VLAN) or which remote VTEP a unicast MAC lives behind.
//!
//! Entries are either *dynamic* (learned by the data path from source MACs, carry a
//! `last_seen` second and age out) or *static* (added by the control plane; learning
//! never overrides them and ageing never removes them). A MAC seen on a different
//! destination *moves*. A per-VNI limit on learned entries (passed with each
//! [`Fdb::learn`] call, from the VNI's configuration) stops a MAC flood in one VNI
//! from taking the table. Multicast, broadcast and all-zero source MACs are never
//! learned (802.1Q 8.7: the learning process only records individual addresses).
//!
//! # Layout
//!
//! Fixed capacity, all memory allocated in [`Fdb::new`]; nothing on the packet path
//! allocates, locks, or makes a syscall.
//!
//! * **Buckets** of [`SLOTS_PER_BUCKET`] = 7 slots, 128 bytes, 128-byte aligned
//!   (an x86 adjacent-line prefetch pair):
//!   - line 0: the bucket `header` word + 7 `keys`;
//!   - line 1: 7 `values` + 8 bytes of padding.
//!
//!   A **key** is `(vni & 0xffff) << 48 | mac`, where `mac` is the 48-bit address
//!   ([`MacAddr::to_u64`]). The VNI is 24 bits, so its top 8 bits live in the value.
//!   Key 0 marks a free slot: it would need MAC 00:00:00:00:00:00, which is refused.
//!   A **value** packs: bits 0-31 the destination payload (access: port << 16 | vlan;
//!   VTEP: the IPv4 address), bits 32-33 its kind (1 access, 2 VTEP, 0 free), bit 34
//!   static, bits 35-36 the entry's distance from its home bucket, bits 40-47 the
//!   VNI's top 8 bits. A slot matches when the key word *and* the VNI bits in the
//!   value match (two VNIs that differ only above bit 15 share key words).
//!   The **header** packs a 32-bit sequence number (bit 0 odd = a write is in
//!   progress), the writer-lock bit (bit 32), and (bits 40-47) the *overflow count*:
//!   how many entries whose home is this bucket were stored in a later bucket.
//! * **last_seen**: a parallel array, one 32-byte group of `AtomicU32` per bucket (two
//!   buckets per cache line), never read by [`Fdb::lookup`]. Refreshing a MAC's
//!   `last_seen` therefore never invalidates the key/value lines other workers read.
//! * **VNI slots**: a fixed open-addressing table (`max_vnis` rounded up to a power
//!   of two, times two) of `{vni, dynamic count, static count}`, one per 64-byte line.
//!   A VNI gets a slot the first time an entry is created in it and keeps it.
//!
//! Memory: 128 + 32 bytes per 7 slots = 22.9 bytes per slot. [`Fdb::new`] makes
//! `capacity * 8/7` slots (rounded up to whole buckets) plus the 3 tail buckets, so a
//! table asked for N entries holds N with headroom: at most 7/8 of the slots are in
//! use when N entries are stored, i.e. about 26 bytes per requested entry.
//!
//! # Hashing and the probe bound
//!
//! The home bucket is a seeded, folded-multiply hash of (vni, mac) mapped onto the
//! `n_home` home buckets with a multiply-shift (no power-of-two rounding). The seed
//! is random per table (from std's `RandomState`) so that nobody can choose MACs
//! that collide. An entry lives in its home bucket `h` or one of the next
//! [`PROBE_BUCKETS`] - 1 = 3 buckets (`h..h+3`; the table has `n_home + 3` buckets, so
//! the probe never wraps). When all 28 slots of that window are taken, `learn`
//! returns [`LearnOutcome::TableFull`] (counted) and the frame is simply flooded.
//! Lookups read the home bucket's two lines and stop there on a miss unless the
//! home's overflow count is non-zero; only then do they read the next buckets.
//!
//! # Concurrency: a per-bucket seqlock, all in safe atomics
//!
//! Readers ([`Fdb::lookup`], the check at the start of [`Fdb::learn`], listings)
//! never write. They load the header (Acquire); if the sequence is odd they retry;
//! they read the keys and values with Relaxed loads, issue an Acquire fence, reload
//! the header and retry if the sequence changed. Writers take the bucket's lock bit
//! with `compare_exchange` (Acquire), make the sequence odd, issue a Release fence,
//! store the slot words (Relaxed), make the sequence even again (Release store) and
//! release the lock. Every shared word is an atomic, so a racing reader can see a
//! stale or mixed snapshot but never undefined behaviour, and the sequence check
//! throws mixed snapshots away: a hit always returns a (key, value) pair that one
//! writer stored together. A reader only ever waits while a writer is inside its
//! few-store critical section; after 1024 spins it yields (only reachable when that
//! writer's thread was descheduled, e.g. the control thread on a shared core).
//!
//! Lock discipline (no global lock, no deadlock): every change to the entry of key
//! K holds the lock of K's *home* bucket (which makes "search, then insert" atomic
//! per key, so there are never duplicates), plus the lock of the bucket whose slots
//! it stores into when that is a later bucket. Locks are always taken in increasing
//! bucket order (home first; the probe window never wraps), so there is no cycle.
//! The home's overflow count only changes under the home's lock: it is raised
//! before an overflow entry is published and lowered after it is removed.
//!
//! # Why a refresh writes nothing
//!
//! The common case of `learn` is a known MAC on the same destination in the same
//! second. It is a pure read: the seqlock read of the slot, then a load of its
//! `last_seen`; only when `now` is later than the stored value does it store
//! `now` (a plain Relaxed store, no read-modify-write, no lock), so a hot MAC
//! writes its shared line at most once per clock tick, and that line is not one a
//! lookup reads. The store is not ordered with the seqlock: if the slot was
//! removed and reused in between, the new entry's `last_seen` (set to the current
//! second when it was created) becomes the current second again, which is harmless.
//! A clock that is behind (another worker's coarse clock not yet ticked) never
//! moves `last_seen` backwards. Ages use wrapping, signed differences, so the u32
//! clock may wrap.
//!
//! # Counters
//!
//! The table counts rare events itself: learned, moved, aged, flushed, and, because
//! a flood or a misbehaving host makes them per-packet, limit hits, table-full,
//! refused sources, and attempts to move a static MAC. Each count is a relaxed
//! `fetch_add` on one of 16 counter stripes (each its own 128-byte block) chosen by
//! the key's home bucket, so several workers hit by a MAC flood spread over the
//! stripes instead of bouncing one line. A static MAC seen on its own destination is
//! reported as [`LearnOutcome::StaticKept`] but not counted (that is per packet).
//! The per-VNI entry counts are `fetch_add`/`fetch_sub` only when an entry is created
//! or removed; at the limit, `learn` checks the count with a plain load before
//! taking any lock or doing any read-modify-write.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use crate::wire::ethernet::MacAddr;
use core::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicU32, AtomicU64};

/// Slots per bucket (7 keys + the header fill one 64-byte line).
pub const SLOTS_PER_BUCKET: usize = 7;
/// Buckets an entry may live in: its home bucket and the next three.
pub const PROBE_BUCKETS: usize = 4;
/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;
/// A learn limit that never bites.
pub const NO_LIMIT: u32 = u32::MAX;

const SLOTS: usize = SLOTS_PER_BUCKET;

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
const DIST_SHIFT: u32 = 35;
const DIST_MASK: u64 = 3 << DIST_SHIFT;
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

/// One bucket: header and keys in the first cache line, values in the second.
#[repr(C, align(128))]
#[derive(Default)]
struct Bucket {
    header: AtomicU64,
    keys: [AtomicU64; SLOTS],
    values: [AtomicU64; SLOTS],
}

/// `last_seen` of one bucket's slots (slot 7 unused); two buckets per line.
#[repr(align(32))]
#[derive(Default)]
struct LastSeen([AtomicU32; 8]);

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

    /// The slot holding `key` with VNI top bits `vhi` (unsynchronised; call in `read`
    /// or under the lock).
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

    /// Only the lock holder stores the header, so these are plain stores.
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

    /// Changes the overflow count (lock held; readers tolerate it without a seq bump).
    fn add_overflow(&self, delta: i64) {
        let h = self.header.load(Relaxed);
        debug_assert!(h & LOCK != 0);
        let n = overflow(h) as i64 + delta;
        debug_assert!((0..=((PROBE_BUCKETS - 1) * SLOTS) as i64).contains(&n));
        self.header
            .store((h & !OVF_MASK) | ((n as u64) << OVF_SHIFT), Release);
    }

    fn has_free_slot(&self) -> bool {
        self.keys.iter().any(|k| k.load(Relaxed) == 0)
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

/// A key's place: home bucket, key word, VNI top bits in value position.
#[derive(Clone, Copy)]
struct Pos {
    home: usize,
    key: u64,
    vhi: u64,
}

#[inline]
fn entry_vni(key: u64, value: u64) -> u32 {
    ((key >> KEY_VNI_SHIFT) as u32) | (((value & VNI_HI_MASK) >> VNI_HI_SHIFT) as u32) << 16
}

/// The filtering database: fixed capacity, lock-free lookups, per-bucket locks for
/// writers. Share it by `Arc`.
pub struct Fdb {
    buckets: Box<[Bucket]>,
    last_seen: Box<[LastSeen]>,
    n_home: u64,
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
        let rs = std::collections::hash_map::RandomState::new();
        let mut h = rs.build_hasher();
        h.write_u64(0x5eed);
        Fdb::with_seed(capacity, max_vnis, h.finish())
    }

    /// Like [`Fdb::new`] with a fixed hash seed (reproducible layouts for tests).
    pub fn with_seed(capacity: usize, max_vnis: usize, seed: u64) -> Fdb {
        let capacity = capacity.max(1);
        // 8/7 headroom: with N entries stored at most 7/8 of the home slots are used.
        let n_home = (capacity * 8).div_ceil(7 * SLOTS);
        let n_buckets = n_home + PROBE_BUCKETS - 1;
        assert!(
            n_buckets * SLOTS < (u32::MAX / 2) as usize,
            "FDB capacity too large"
        );
        let max_vnis = max_vnis.clamp(1, 1 << 24);
        let vni_slots = max_vnis.next_power_of_two() * 2;
        let mix = |x: u64| folded_mul(x ^ 0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344) | 1;
        Fdb {
            buckets: (0..n_buckets).map(|_| Bucket::default()).collect(),
            last_seen: (0..n_buckets).map(|_| LastSeen::default()).collect(),
            n_home: n_home as u64,
            k0: mix(seed),
            k1: mix(seed.rotate_left(32) ^ 0xa409_3822_299f_31d0),
            vnis: (0..vni_slots).map(|_| VniSlot::default()).collect(),
            vni_mask: vni_slots - 1,
            max_vnis: max_vnis as u32,
            vnis_used: AtomicU32::new(0),
            counters: (0..STRIPES).map(|_| CounterBlock::default()).collect(),
        }
    }

    /// Total slots (at least the requested capacity; see the module doc for headroom).
    pub fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    #[inline]
    fn pos(&self, vni: u32, mac: u64) -> Pos {
        let vni = vni & MAX_VNI;
        let x = folded_mul(mac ^ self.k0, vni as u64 ^ self.k1);
        let x = folded_mul(x, 0x9e37_79b9_7f4a_7c15);
        Pos {
            home: ((x as u128 * self.n_home as u128) >> 64) as usize,
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
        let (r, h) = self.buckets[p.home].read(|b| b.find(p.key, p.vhi));
        if let Some((i, v)) = r {
            return Some((p.home, i, v));
        }
        if overflow(h) == 0 {
            return None;
        }
        for bi in p.home + 1..p.home + PROBE_BUCKETS {
            if let (Some((i, v)), _) = self.buckets[bi].read(|b| b.find(p.key, p.vhi)) {
                return Some((bi, i, v));
            }
        }
        None
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
    /// on the same destination, is lock-free and stores at most once per second.
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
                    self.count(p.home, C_STATIC_KEPT);
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
            self.count(p.home, C_FULL);
            return LearnOutcome::TableFull;
        };
        // At the limit a flood costs a load, no lock and no RMW.
        if !known && slot.dynamic.load(Relaxed) >= limit {
            self.count(p.home, C_LIMIT);
            return LearnOutcome::LimitHit;
        }
        let home = &self.buckets[p.home];
        home.lock();
        let out = self.learn_locked(p, slot, want, now, limit);
        home.unlock();
        match out {
            LearnOutcome::Learned => self.count(p.home, C_LEARNED),
            LearnOutcome::Moved => self.count(p.home, C_MOVED),
            LearnOutcome::LimitHit => self.count(p.home, C_LIMIT),
            LearnOutcome::TableFull => self.count(p.home, C_FULL),
            _ => {}
        }
        out
    }

    /// The search-then-change part of learning; the home bucket's lock is held.
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
                    self.count(p.home, C_STATIC_KEPT);
                }
                return LearnOutcome::StaticKept;
            }
            if v & DEST_MASK == want {
                self.touch(bi, i, now);
                return LearnOutcome::Refreshed;
            }
            self.store_value(p.home, bi, i, (v & !DEST_MASK) | want, Some(now));
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

    /// Rewrites the value of an existing entry (home lock held).
    fn store_value(&self, home: usize, bi: usize, i: usize, value: u64, now: Option<u32>) {
        let b = &self.buckets[bi];
        if bi != home {
            b.lock();
        }
        b.begin_write();
        b.values[i].store(value, Relaxed);
        if let Some(now) = now {
            self.last_seen[bi].0[i].store(now, Relaxed);
        }
        b.end_write();
        if bi != home {
            b.unlock();
        }
    }

    /// Puts a new entry in the first free slot of its window (home lock held).
    fn insert_locked(&self, p: &Pos, value: u64, last_seen: u32) -> bool {
        let home = &self.buckets[p.home];
        for d in 0..PROBE_BUCKETS {
            let bi = p.home + d;
            let b = &self.buckets[bi];
            if d > 0 {
                if !b.has_free_slot() {
                    continue;
                }
                b.lock();
            }
            if let Some(i) = b.keys.iter().position(|k| k.load(Relaxed) == 0) {
                if d > 0 {
                    home.add_overflow(1);
                }
                b.begin_write();
                self.last_seen[bi].0[i].store(last_seen, Relaxed);
                b.values[i].store(value | (d as u64) << DIST_SHIFT, Relaxed);
                b.keys[i].store(p.key, Relaxed);
                b.end_write();
                if d > 0 {
                    b.unlock();
                }
                return true;
            }
            if d > 0 {
                b.unlock();
            }
        }
        false
    }

    /// The VNI's count slot; registers the VNI when `create` (None: table full).
    fn vni_slot(&self, vni: u32, create: bool) -> Option<&VniSlot> {
        let tag = vni + 1;
        let mut i =
            (folded_mul(vni as u64 ^ self.k1, 0x9e37_79b9_7f4a_7c15) as usize) & self.vni_mask;
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
        let home = &self.buckets[p.home];
        home.lock();
        let r = if let Some((bi, i, v)) = self.find(&p) {
            if v & STATIC == 0 {
                slot.statics.fetch_add(1, Relaxed);
                slot.dynamic.fetch_sub(1, Relaxed);
            }
            self.store_value(p.home, bi, i, (v & !(DEST_MASK | STATIC)) | want, None);
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
        home.unlock();
        r
    }

    /// Removes the entry of `mac` in `vni` (static or dynamic); true if there was one.
    pub fn remove(&self, vni: u32, mac: MacAddr) -> bool {
        let m = mac.to_u64();
        if vni > MAX_VNI || m == 0 {
            return false;
        }
        let p = self.pos(vni, m);
        let home = &self.buckets[p.home];
        home.lock();
        let found = self.find(&p);
        if let Some((bi, i, _)) = found {
            let b = &self.buckets[bi];
            if bi != p.home {
                b.lock();
            }
            self.clear_slots(p.home, bi, 1 << i);
            if bi != p.home {
                b.unlock();
            }
        }
        home.unlock();
        found.is_some()
    }

    /// Empties the slots in `mask` of bucket `bi` and fixes the counts (locks of the
    /// home bucket `home` and of `bi` held).
    fn clear_slots(&self, home: usize, bi: usize, mask: u32) {
        let b = &self.buckets[bi];
        let mut gone = [(0u64, 0u64); SLOTS];
        b.begin_write();
        for (i, g) in gone.iter_mut().enumerate() {
            if mask & 1 << i != 0 {
                *g = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                b.keys[i].store(0, Relaxed);
                b.values[i].store(0, Relaxed);
            }
        }
        b.end_write();
        if bi != home {
            self.buckets[home].add_overflow(-(mask.count_ones() as i64));
        }
        for &(k, v) in gone.iter().filter(|(k, _)| *k != 0) {
            if let Some(s) = self.vni_slot(entry_vni(k, v), false) {
                let c = if v & STATIC != 0 {
                    &s.statics
                } else {
                    &s.dynamic
                };
                c.fetch_sub(1, Relaxed);
            }
        }
    }

    /// Removes every entry for which `pred(vni, value, last_seen)` holds; returns how
    /// many. Buckets with no candidate (lock-free pre-scan) are not locked.
    fn sweep(&self, pred: impl Fn(u32, u64, u32) -> bool) -> usize {
        let mut removed = 0;
        for h in 0..self.n_home as usize {
            // Candidates in bucket bi homed at h (distance d), under a seqlock read.
            let scan = |bi: usize, d: usize| -> u32 {
                let b = &self.buckets[bi];
                let mut mask = 0;
                for (i, k) in b.keys.iter().enumerate() {
                    let k = k.load(Relaxed);
                    let v = b.values[i].load(Relaxed);
                    if k != 0
                        && v & KIND_MASK != 0
                        && (v & DIST_MASK) >> DIST_SHIFT == d as u64
                        && pred(entry_vni(k, v), v, self.last_seen[bi].0[i].load(Relaxed))
                    {
                        mask |= 1 << i;
                    }
                }
                mask
            };
            let (mask, hdr) = self.buckets[h].read(|_| scan(h, 0));
            let candidates = mask != 0
                || (overflow(hdr) > 0
                    && (1..PROBE_BUCKETS)
                        .any(|d| self.buckets[h + d].read(|_| scan(h + d, d)).0 != 0));
            if !candidates {
                continue;
            }
            let home = &self.buckets[h];
            home.lock();
            let span = if overflow(home.header.load(Relaxed)) > 0 {
                PROBE_BUCKETS
            } else {
                1
            };
            for d in 0..span {
                let bi = h + d;
                let b = &self.buckets[bi];
                if d > 0 {
                    b.lock();
                }
                let mask = scan(bi, d);
                if mask != 0 {
                    self.clear_slots(h, bi, mask);
                    removed += mask.count_ones() as usize;
                }
                if d > 0 {
                    b.unlock();
                }
            }
            home.unlock();
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

    /// Lists the entries `filter` selects, with ages at `now` (allocates; not atomic
    /// across buckets).
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

    /// Number of learned (dynamic) entries in `vni`, the number the limit applies to.
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
