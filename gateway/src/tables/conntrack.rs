//! Connection tracking for the routing mesh: one table shared by every worker,
//! because the two directions of a routed flow reach different workers (client
//! traffic is hashed on the client 5-tuple by RSS; replies arrive as VXLAN hashed on
//! the outer headers).
//!
//! A routed flow `C:cp -> P:pp` (client to published port, TCP or UDP) is DNATed to
//! the backend `B:bp` and, in SNAT mode, SNATed to the ingress endpoint `S:sp`; its
//! replies come back as `B:bp -> S:sp`. In preserve-client-IP mode there is no SNAT
//! and the replies are `B:bp -> C:cp`. A [`Conn`] records those addresses; its two
//! keys ([`Conn::original_key`], [`Conn::reply_key`]) are derived from it, so the
//! table stores each connection once and the keys can never disagree with it.
//!
//! # Layout
//!
//! Fixed capacity, all memory allocated in [`Conntrack::new`]; nothing after that
//! allocates (except the listings of the control side).
//!
//! * **Entries**: `capacity` connections, one 64-byte line each (`repr(align(64))`):
//!   - `meta`: a 32-bit sequence (odd while the entry is being written) and a
//!     `LIVE` bit. The sequence value after an insert is the entry's *generation*.
//!   - `state`: the generation (bits 32-63), a `DYING` claim bit (bit 8), the
//!     `ASSURED` bit (bit 5, see below), one auxiliary bit of the TCP machine (bit
//!     4: which side sent the FIN) and the [`CtState`] (bits 0-3). Changed by
//!     compare-and-swap.
//!   - five words of the packed [`Conn`] (addresses, ports, service, backend,
//!     protocol, owner worker);
//!   - `last_seen`: one `u32` second per direction.
//! * **Key index**: buckets of [`SLOTS_PER_BUCKET`] = 15 key slots plus a header
//!   word, 128 bytes (one adjacent-line prefetch pair), like the FDB's key lines. A
//!   slot is one `u64`: a 32-bit *tag* (a hash of the key independent of its bucket
//!   numbers, never 0), a direction bit and the 31-bit entry index; 0 marks a free
//!   slot. The index holds two keys per connection and is made of
//!   `2 * capacity * 4/3` slots (whole buckets), i.e. a full table fills 75 % of
//!   them. The header packs the bucket's seqlock sequence (bits 0-31), its
//!   writer-lock bit (bit 32), the overflow count (bits 33-48: how many keys
//!   whose primary bucket this is live in their secondary) and the slots'
//!   occupancy (bits 49-63, one per slot: an insert finds a free slot and the
//!   bucket's load in the header instead of loading 15 slots).
//! * **Summaries**: two `u64` per bucket, in an array of their own (16 bytes a
//!   bucket: a 1M table's fit in 2.8 MB, a 128k table's in 380 KB, i.e. in a
//!   core's L2), with bit `tag >> 33 & 63` of word `tag >> 39 & 1` set for every
//!   key the bucket holds. A burst's lookup reads the key's word of each of its two
//!   buckets first and searches no bucket when its bit is clear in both (~84 % of
//!   absent keys in a full table; one word a bucket ruled out ~70 %): a flood of new flows (spoofed ACKs, UDP) is
//!   answered "absent" mostly from L2 instead of from two to four bucket lines.
//!   Set before a slot is published, recomputed from the slots after one is
//!   cleared, by the bucket's lock holder (a load and a store).
//! * **Free entries**: 16 Treiber stacks (tagged head words, each its own 128
//!   bytes), linked through the first conn word of the free entries. An insert
//!   pops from stripe `conn.owner % 16` (a worker's own stripe, so workers do not
//!   contend on one line), falling back to the other stripes; a removal pushes the
//!   entry to its owner's stripe. The 32-bit tag in the head word defeats ABA.
//!
//! Memory: 64 bytes of entry + 2 x (128 + 16)/15 / 0.75 = 25.6 bytes of index and
//! summaries = **89.6 bytes per connection** of capacity (a 1M table: 94 MB; the
//! 2M-capacity table of the timing test: 188 MB). A lookup touches the key's bucket (one line, or the pair
//! when the bucket holds more than 7 keys) and the entry (one line).
//!
//! # Hashing, placement and the probe bound
//!
//! A seeded folded-multiply hash of the packed key (104 bits: protocol, addresses,
//! ports) gives a primary and a secondary bucket (multiply-shift onto the bucket
//! count) and the tag. The seed is random per table, so nobody can choose
//! 5-tuples that collide. A key lives in its primary while that holds fewer than 9
//! keys or is not fuller than the secondary, else in the less loaded of the two
//! ("two choices", biased to the primary); keys never move. **Probe bound: two
//! buckets**; a lookup reads the secondary only when the primary's overflow count
//! is not zero. Measured (`fill_until_a_window_is_full`, random keys): the first
//! key that finds both its buckets full comes at 84-85 % of the key slots with 3M
//! slots, 84-88 % with 300 000, 87-91 % with 3 000, so a table filled to its
//! capacity (75 %) does not run out of key slots before it runs out of entries
//! (7-slot, one-line buckets were tried first: they fail at 54-58 % with 2M slots).
//! A tag match is confirmed against the entry itself (the key is recomputed from
//! the entry's conn words for the slot's direction), so a tag collision costs one
//! extra entry read and is never a wrong answer.
//!
//! # Performance
//!
//! Measured by `bench_conntrack` (release, one thread; a 2-core KVM guest on an
//! AMD EPYC (Zen 3), 4 KiB pages, other builds running): 1M flows in a 2M table
//! (182 MB): a lookup hit costs 300-420 ns (a std `HashMap` of the same flows:
//! 260-310 ns; both are two dependent DRAM + page-walk misses here), a miss
//! 210-290 ns; [`Conntrack::lookup_burst`], which overlaps the misses of 32 keys,
//! 74-84 ns per key (100-110 when it touched the lines with plain loads instead of
//! prefetching them): the data path should look up a whole burst at once. In a
//! 10 000-flow table a lookup is 45-55 ns. Inserting with the table half full:
//! 430-480 ns (2.1-2.3M new connections per second per core); remove + insert
//! 840-970 ns; a full sweep of 2M entries 10-12 ms. Transparent huge pages under
//! the table changed nothing measurable here (the guest's memory is backed by 4 KiB
//! host pages, so every random line still costs a nested page walk); on bare metal
//! they remove most of the page walks.
//!
//! # Concurrency (safe atomics only)
//!
//! * **Lookups** ([`Conntrack::lookup`]) never write: a seqlock read of the bucket
//!   (load header, copy the 15 slots, Acquire fence, re-check the sequence), then a
//!   seqlock read of each tag-matching entry (its `meta` word plays the sequence)
//!   and a comparison of the entry's key. An entry freed and reused between the two
//!   reads no longer has the key (or has it for a new connection of the same
//!   5-tuple, which is then the right answer); a freed one is not `LIVE`.
//! * **Inserts** take the writer locks of the (up to four) buckets of the two new
//!   keys, in increasing bucket order, search both keys (so a racing insert of the
//!   same flow by another worker is found: [`CtInsertError::Exists`]), choose the two
//!   slots, pop a free entry, write it (meta odd, words, meta even + `LIVE`), then
//!   publish the reply key and the original key, and unlock. No global lock.
//! * **Removals** (sweep, flush, [`Conntrack::remove`], eviction) first *claim* the
//!   entry with a CAS that sets `DYING` in its state word (the generation in the same
//!   word makes a stale claim fail), so exactly one thread removes it; the claimer
//!   clears the reply key, then the original key, each under that key's two bucket
//!   locks (never holding more than two; the reverse of the publishing order, so a
//!   racing re-insert of the same flow sees either `Exists` or no key at all),
//!   marks the entry free (meta without `LIVE`, Release fence), pushes it on a
//!   free stack and calls the release hook. Locks are always taken in increasing
//!   bucket order and no thread waits for a lock while holding locks of another
//!   operation, so there is no deadlock. Eviction happens *between* insert attempts,
//!   with the insert's locks released.
//! * **Observing a packet** ([`Conntrack::observe`]) loads the state word; if the
//!   generation is not the one the lookup returned, the connection is gone
//!   ([`CtState::Closed`] is returned and nothing is written). It stores `now` in the
//!   direction's `last_seen` only when that is later than the stored second (a plain
//!   store, no read-modify-write): at most one write per second per direction, to
//!   the entry line, which the other direction's worker then re-reads once. A state
//!   transition is one CAS on the state word, a few times per connection.
//!
//! A reader spins only while a writer is inside a few-store critical section, and
//! yields after 1024 spins (a descheduled control thread on a shared core).
//!
//! # TCP state machine
//!
//! Driven by the flags of each packet and its direction (O = original, from the
//! client; R = reply, from the backend). Sequence numbers are not tracked (this is
//! a load balancer's table, not a firewall):
//!
//! | state        | event                                     | next          |
//! |--------------|-------------------------------------------|---------------|
//! | any TCP      | RST either way                            | `Closed`      |
//! | `SynSent`    | R: SYN (with or without ACK)              | `SynRecv`     |
//! | `SynRecv`    | O: ACK without SYN (FIN too: `FinWait`)   | `Established` |
//! | `SynRecv`    | FIN without SYN from side d               | `FinWait`(d)  |
//! | `Established`| FIN from side d                           | `FinWait`(d)  |
//! | `FinWait`(d) | FIN from the other side e                 | `Closing`(e)  |
//! | `Closing`(e) | ACK without FIN from the side that is not e | `TimeWait`  |
//! | `TimeWait`, `Closed` | O: SYN without ACK (port reuse)   | `SynSent`     |
//! | otherwise    |                                           | unchanged     |
//!
//! `(d)` is the auxiliary bit: in `FinWait` the side of the first FIN, in `Closing`
//! the side of the second; the final ACK of a close comes from the other side. A
//! connection picked up mid-stream (an unknown non-SYN segment that the pipeline
//! chooses to re-balance) is inserted directly as `Established`.
//! Non-TCP flows start in `UdpNew` and become `UdpReplied` on the first packet in
//! the reply direction; their flags are ignored.
//!
//! # Assured connections
//!
//! As in Linux conntrack, a connection is *assured* once the backend has answered:
//! the client's ACK that completes a handshake the backend answered (`SynRecv` ->
//! `Established`), any reply to a connection picked up mid-stream, the first reply
//! of a UDP flow. Until then it is *unassured*: anyone can create one with a
//! spoofed source (a SYN, or a mid-stream segment that the pipeline picks up), so
//! an unassured connection
//! - lives at most the SYN timeout whatever its state ([`Timeouts::of_entry`]);
//! - is evicted, oldest first, when a new connection needs its room;
//! - gives up its reply key (in SNAT mode, its source port towards that backend)
//!   to a new connection that needs it, once idle for a second.
//!
//! Assured established, closing and replied-UDP connections are never evicted by
//! new ones. A reused 5-tuple (`SynSent` again) starts unassured.
//!
//! # Timeouts
//!
//! An entry expires when no packet was seen in either direction for its state's
//! timeout ([`Timeouts`]; defaults: SYN 30 s, established 7440 s, FIN/closing
//! 120 s, TIME_WAIT 120 s, closed by RST 10 s, UDP 30 s, UDP replied 180 s).
//! Established is 2 h 4 min, neither the 15 min of Linux IPVS (what Swarm's
//! routing mesh uses: its cut of idle long-lived connections is a known Swarm
//! complaint) nor the 5 days of nf_conntrack: it outlives the Linux default TCP
//! keepalive (first probe after 7200 s idle), so an idle connection that uses
//! keepalives is never cut. `now` is a `u32` second of a coarse clock; ages are
//! wrapping differences, so the clock may wrap.
//! The control thread's [`Conntrack::sweep`] applies per-service timeouts
//! through its callback. Removal is the sweep's job; lookups return expired but
//! not yet swept entries (they are still the right translation).
//!
//! # Eviction when full
//!
//! An insert needs a free slot in the two buckets of each key and a free entry.
//! When one is missing it evicts from the *window* (the connections whose keys sit
//! in the new keys' buckets), one victim per missing thing, then retries (at most
//! three evictions): first an entry already expired by the table's default
//! timeouts, else the unassured one (half-open: `SynSent`, `SynRecv`, `UdpNew`, or
//! picked up and never answered) seen least recently, else a finished one
//! (`TimeWait`, `Closed`) seen least recently. Assured established, closing and
//! replied-UDP entries are never evicted: if nothing else can go, the insert fails
//! with [`CtInsertError::Full`] and is counted as refused. A SYN or spoofed-ACK
//! flood therefore recycles its own unassured entries and cannot push out
//! established connections. Per-service timeout overrides are not known on this
//! path: under pressure, "expired" means expired by the table defaults.
//!
//! When the reply key of a new connection belongs to an unassured connection idle
//! for a second or more (a stranger's flow holding the SNAT port the new one
//! drew), that connection is removed and the insert retried (same bound of three).
//!
//! # Releasing connections
//!
//! Every removal, whatever the path (sweep, flush, remove, eviction by another
//! worker's insert), calls the table's *release hook* ([`Conntrack::with_release`])
//! exactly once with the removed [`Conn`], on the removing thread: the place to take
//! back a resource a connection held. The hook must not block. vxgw itself sets
//! none: its SNAT ports come back by themselves (see `snat_source`).
//!
//! # Counters
//!
//! Events are per connection, not per packet: created, expired, evicted (and of
//! those, early-evicted: unassured), refused, removed (by `remove`/`flush`), insert
//! races ([`CtInsertError::Exists`]) and key conflicts, plus a gauge per state and
//! one of assured connections. Each is a Relaxed `fetch_add` on one of 16
//! counter stripes (128 bytes each) chosen by entry index (or bucket, for refusals),
//! so workers spread over lines; [`Conntrack::stats`] sums them. Nothing is counted
//! per packet.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use super::buckets::header::{backoff, bump_seq, BucketHeader, SEQ_MASK};
use super::buckets::locking::{lock_in_order, unlock_in_order};
use super::buckets::placement;
use super::buckets::striped::{Striped, STRIPES};
pub use super::flow_hash::FlowKey;
use super::folded_mul::folded_mul;
use super::seconds::{elapsed, is_later, latest};
use crate::dpdk::{huge_table, prefetch};
use crate::wire::tcp::flags as tcp;
use core::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicI64, AtomicU32, AtomicU64};

/// Key slots per bucket (the header and 15 slots fill an adjacent-line pair).
pub const SLOTS_PER_BUCKET: usize = 15;
/// Largest capacity (entry indices have 31 bits).
pub const MAX_CAPACITY: usize = (1 << 31) - 1;

const SLOTS: usize = SLOTS_PER_BUCKET;
/// Slots in a bucket's first cache line, beside the header. A bucket fills from its
/// first free slot and holds ~5.6 keys on average in a half-full table, so nearly
/// every key is there: a burst lookup prefetches and scans only that line, and the
/// few keys beyond it are found by the full search afterwards.
const FIRST_LINE_SLOTS: usize = (64 - 8) / 8;
/// The primary takes new keys while it holds fewer than this many.
const PRIMARY_FILL: usize = 9;
/// Most evictions one insert performs before giving up.
const MAX_EVICTIONS: usize = 3;

// Key slot word.
const SLOT_IDX_MASK: u64 = 0x7fff_ffff;
const SLOT_REPLY: u64 = 1 << 31;
const SLOT_TAG_MASK: u64 = 0xffff_ffff << 32;

/// Bucket header (`buckets/header.rs`): a 16-bit overflow count (as the FDB's), then
/// the slots' occupancy bits.
type Header = BucketHeader<16>;
const OCC_SHIFT: u32 = Header::TABLE_SHIFT;
const OCC_MASK: u32 = (1 << SLOTS) - 1;
const _: () = assert!(OCC_SHIFT as usize + SLOTS <= 64);

// Entry meta word: sequence (bits 0-31) | LIVE.
const LIVE: u64 = 1 << 32;

// Entry state word: generation (bits 32-63) | DYING | ASSURED | AUX | state.
const ST_STATE: u64 = 0xf;
const ST_AUX: u64 = 1 << 4;
const ST_ASSURED: u64 = 1 << 5;
const ST_DYING: u64 = 1 << 8;

// Conn word 4: proto << 24 | HAS_SNAT | owner.
const W4_HAS_SNAT: u64 = 1 << 16;
const W4_PROTO_SHIFT: u32 = 24;
const LO32: u64 = 0xffff_ffff;

// Counter indices.
const C_CREATED: usize = 0;
const C_EXPIRED: usize = 1;
const C_EVICTED: usize = 2;
const C_REFUSED: usize = 3;
const C_REMOVED: usize = 4;
const C_EXISTS: usize = 5;
const C_CONFLICT: usize = 6;
const C_EARLY_EVICTED: usize = 7;
const N_EVENTS: usize = 8;
/// Most seconds an unassured connection may have been idle and still keep its reply
/// key from a new connection that needs it (see [`Conntrack::insert`]).
const TAKEOVER_IDLE: u32 = 1;
const FREE_STRIPES: usize = 16;
/// Keys whose memory accesses [`Conntrack::lookup_burst`] overlaps.
pub const LOOKUP_BURST: usize = 32;

/// The state of a tracked connection (see the module docs for the TCP machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CtState {
    /// TCP: the client's SYN was seen.
    SynSent = 0,
    /// TCP: the backend answered with SYN-ACK.
    SynRecv,
    /// TCP: the three-way handshake completed (or the flow was picked up mid-stream).
    Established,
    /// TCP: one side sent a FIN.
    FinWait,
    /// TCP: both sides sent a FIN; the last ACK is outstanding.
    Closing,
    /// TCP: closed by FINs; kept to translate stray retransmissions.
    TimeWait,
    /// TCP: reset; kept briefly for the same reason.
    Closed,
    /// UDP (or another non-TCP protocol): only original-direction packets so far.
    UdpNew,
    /// UDP: a reply was seen.
    UdpReplied,
}

impl CtState {
    /// Number of states.
    pub const COUNT: usize = 9;
    /// Every state, in index order.
    pub const ALL: [CtState; CtState::COUNT] = [
        CtState::SynSent,
        CtState::SynRecv,
        CtState::Established,
        CtState::FinWait,
        CtState::Closing,
        CtState::TimeWait,
        CtState::Closed,
        CtState::UdpNew,
        CtState::UdpReplied,
    ];

    /// Index into [`CtState::ALL`] (and [`CtStats::states`]).
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in metrics and listings.
    pub fn name(self) -> &'static str {
        match self {
            CtState::SynSent => "syn_sent",
            CtState::SynRecv => "syn_recv",
            CtState::Established => "established",
            CtState::FinWait => "fin_wait",
            CtState::Closing => "closing",
            CtState::TimeWait => "time_wait",
            CtState::Closed => "closed",
            CtState::UdpNew => "udp_new",
            CtState::UdpReplied => "udp_replied",
        }
    }

    /// Half-open: evicted (oldest first) before anything that is not expired.
    pub fn is_half_open(self) -> bool {
        matches!(self, CtState::SynSent | CtState::SynRecv | CtState::UdpNew)
    }

    /// Finished: evicted after the half-open ones.
    pub fn is_finished(self) -> bool {
        matches!(self, CtState::TimeWait | CtState::Closed)
    }

    /// A state of the non-TCP machine.
    pub fn is_udp(self) -> bool {
        matches!(self, CtState::UdpNew | CtState::UdpReplied)
    }

    /// The state in a state word's low bits (values past the last state read as
    /// it). A table load: a `match` here became a jump table, run for every packet.
    #[inline]
    fn from_word(w: u64) -> CtState {
        CtState::ALL[((w & ST_STATE) as usize).min(CtState::COUNT - 1)]
    }
}

impl fmt::Display for CtState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The direction of a packet relative to its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to published port (matched the original key).
    Original = 0,
    /// Backend to the ingress endpoint or client (matched the reply key).
    Reply = 1,
}

/// True when a packet with TCP `flags` in direction `dir` does not change the
/// state word `s` (whatever its auxiliary bit): the packets of an established TCP
/// connection without SYN, FIN or RST (but the first reply of an unassured one,
/// which assures it), and of a replied UDP flow. Nearly every packet; `observe`
/// skips [`step`] for them.
#[inline(always)]
fn steady(s: u64, flags: u8, dir: Dir) -> bool {
    if s & ST_STATE == CtState::Established as u64 {
        return flags & (tcp::SYN | tcp::FIN | tcp::RST) == 0
            && (s & ST_ASSURED != 0 || dir == Dir::Original);
    }
    s & ST_STATE == CtState::UdpReplied as u64
}

/// The next (state, auxiliary bit, assured bit) of a connection after a packet in
/// `dir` with TCP `flags` (the tables in the module docs).
#[inline]
fn step(st: CtState, aux: bool, assured: bool, dir: Dir, flags: u8) -> (CtState, bool, bool) {
    use CtState::*;
    let (next, aux) = transition(st, aux, dir, flags);
    let reply = dir == Dir::Reply;
    let assured = match next {
        // A new connection on a reused 5-tuple starts over; a finished one keeps
        // what it was (it is evictable either way).
        SynSent => false,
        TimeWait | Closed => assured,
        SynRecv => assured,
        // The backend answered: its SYN-ACK, then the client's ACK completing the
        // handshake, or any reply to a connection picked up mid-stream.
        Established | FinWait | Closing => assured || reply || st == SynRecv,
        UdpReplied => assured || st == UdpNew,
        UdpNew => assured,
    };
    (next, aux, assured)
}

/// The next (state, auxiliary bit) of the TCP and UDP machines.
#[inline]
fn transition(st: CtState, aux: bool, dir: Dir, flags: u8) -> (CtState, bool) {
    use CtState::*;
    let reply = dir == Dir::Reply;
    let syn = flags & tcp::SYN != 0;
    let ack = flags & tcp::ACK != 0;
    let fin = flags & tcp::FIN != 0;
    let rst = flags & tcp::RST != 0;
    match st {
        UdpNew if reply => (UdpReplied, false),
        UdpNew | UdpReplied => (st, aux),
        _ if rst => (Closed, false),
        TimeWait | Closed if syn && !ack && !reply => (SynSent, false),
        SynSent if reply && syn => (SynRecv, false),
        SynRecv if !reply && ack && !syn => (if fin { FinWait } else { Established }, false),
        SynRecv | Established if fin && !syn => (FinWait, reply),
        FinWait if fin && reply != aux => (Closing, reply),
        Closing if ack && !fin && reply != aux => (TimeWait, false),
        _ => (st, aux),
    }
}

/// A tracked connection: who talks to whom, before and after translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conn {
    /// IP protocol (6 TCP, 17 UDP).
    pub proto: u8,
    /// The client's address and port (source of original packets).
    pub client: SocketAddrV4,
    /// The published address and port the client connected to.
    pub published: SocketAddrV4,
    /// The backend (DNAT destination).
    pub backend: SocketAddrV4,
    /// The SNAT source (ingress endpoint IP and a port of `owner`); `None` in
    /// preserve-client-IP mode.
    pub snat: Option<SocketAddrV4>,
    /// Service id.
    pub service: u32,
    /// Backend id within the service.
    pub backend_id: u32,
    /// The worker that created the connection; it owns the SNAT port, if any.
    pub owner: u16,
}

impl Conn {
    /// The key of original-direction packets: client -> published.
    #[inline]
    pub fn original_key(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            src: *self.client.ip(),
            src_port: self.client.port(),
            dst: *self.published.ip(),
            dst_port: self.published.port(),
        }
    }

    /// The key of reply packets: backend -> SNAT endpoint (or -> client when the
    /// client's address is preserved).
    #[inline]
    pub fn reply_key(&self) -> FlowKey {
        let to = self.snat.unwrap_or(self.client);
        FlowKey {
            proto: self.proto,
            src: *self.backend.ip(),
            src_port: self.backend.port(),
            dst: *to.ip(),
            dst_port: to.port(),
        }
    }

    /// The key of packets in `dir`.
    pub fn key(&self, dir: Dir) -> FlowKey {
        match dir {
            Dir::Original => self.original_key(),
            Dir::Reply => self.reply_key(),
        }
    }

    fn pack(&self) -> [u64; 5] {
        let ip = |a: &SocketAddrV4| u32::from(*a.ip()) as u64;
        let (sip, sport) = self.snat.map_or((0, 0), |s| (ip(&s), s.port() as u64));
        [
            ip(&self.client) << 32 | ip(&self.published),
            ip(&self.backend) << 32 | sip,
            (self.client.port() as u64) << 48
                | (self.published.port() as u64) << 32
                | (self.backend.port() as u64) << 16
                | sport,
            (self.service as u64) << 32 | self.backend_id as u64,
            (self.proto as u64) << W4_PROTO_SHIFT
                | if self.snat.is_some() { W4_HAS_SNAT } else { 0 }
                | self.owner as u64,
        ]
    }

    fn unpack(w: &[u64; 5]) -> Conn {
        Conn {
            proto: (w[4] >> W4_PROTO_SHIFT) as u8,
            client: client_of(w),
            published: published_of(w),
            backend: backend_of(w),
            snat: snat_of(w),
            service: (w[3] >> 32) as u32,
            backend_id: w[3] as u32,
            owner: w[4] as u16,
        }
    }
}

/// The fields of a conn packed by `Conn::pack`, one decoder each.
#[inline(always)]
fn sock(ip: u64, port: u64) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(ip as u32), port as u16)
}

#[inline(always)]
fn client_of(w: &[u64; 5]) -> SocketAddrV4 {
    sock(w[0] >> 32, w[2] >> 48)
}

#[inline(always)]
fn published_of(w: &[u64; 5]) -> SocketAddrV4 {
    sock(w[0] & LO32, (w[2] >> 32) & 0xffff)
}

#[inline(always)]
fn backend_of(w: &[u64; 5]) -> SocketAddrV4 {
    sock(w[1] >> 32, (w[2] >> 16) & 0xffff)
}

#[inline(always)]
fn snat_of(w: &[u64; 5]) -> Option<SocketAddrV4> {
    (w[4] & W4_HAS_SNAT != 0).then(|| sock(w[1] & LO32, w[2] & 0xffff))
}

/// A flow key as the table compares it: two words, `src << 32 | dst` and
/// `sport << 48 | dport << 32 | proto`. The data path builds it straight from a
/// packet's header ([`PackedKey::from_wire`]) and keeps it beside the burst, so that
/// a lookup and the check that a warmed hit is the packet's are two word compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedKey {
    a: u64,
    b: u64,
}

impl PackedKey {
    /// A key no packet has (protocol 0): the slot of a frame that is not looked up.
    pub const NONE: PackedKey = PackedKey { a: 0, b: 0 };

    /// The packed form of `k`.
    #[inline]
    pub fn of(k: &FlowKey) -> PackedKey {
        pack_key(k)
    }

    /// The key of an IPv4 packet from its header's words: `addrs`, the source and
    /// destination addresses as one big-endian word (header bytes 12..20); `ports`,
    /// the source and destination ports as one (the first 4 bytes after the header);
    /// and the protocol. Equal to `PackedKey::of` of the same fields.
    #[inline(always)]
    pub fn from_wire(addrs: u64, ports: u32, proto: u8) -> PackedKey {
        PackedKey {
            a: addrs,
            b: (ports as u64) << 32 | proto as u64,
        }
    }

    /// The flow key it packs.
    #[inline]
    pub fn flow(&self) -> FlowKey {
        FlowKey {
            proto: self.b as u8,
            src: Ipv4Addr::from((self.a >> 32) as u32),
            dst: Ipv4Addr::from(self.a as u32),
            src_port: (self.b >> 48) as u16,
            dst_port: (self.b >> 32) as u16,
        }
    }

    /// The destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.a as u32)
    }

    /// The destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        (self.b >> 32) as u16
    }

    /// The protocol.
    #[inline]
    pub fn proto(&self) -> u8 {
        self.b as u8
    }
}

#[inline]
fn pack_key(k: &FlowKey) -> PackedKey {
    PackedKey {
        a: (u32::from(k.src) as u64) << 32 | u32::from(k.dst) as u64,
        b: (k.src_port as u64) << 48 | (k.dst_port as u64) << 32 | k.proto as u64,
    }
}

/// The key of direction `reply` of the conn packed in `w` (same as packing
/// `Conn::unpack(w).key(dir)`, without building the conn).
#[inline]
fn entry_key(w: &[u64; 5], reply: bool) -> PackedKey {
    let proto = (w[4] >> W4_PROTO_SHIFT) & 0xff;
    if !reply {
        return PackedKey {
            a: w[0],
            b: (w[2] & !LO32) | proto,
        };
    }
    let (dst_ip, dst_port) = if w[4] & W4_HAS_SNAT != 0 {
        (w[1] & LO32, w[2] & 0xffff)
    } else {
        (w[0] >> 32, w[2] >> 48)
    };
    PackedKey {
        a: (w[1] & !LO32) | dst_ip,
        b: ((w[2] >> 16) & 0xffff) << 48 | dst_port << 32 | proto,
    }
}

/// Per-state idle timeouts in seconds (see the module docs for the defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// `SynSent`, `SynRecv`.
    pub syn: u32,
    /// `Established`.
    pub established: u32,
    /// `FinWait`, `Closing`.
    pub closing: u32,
    /// `TimeWait`.
    pub time_wait: u32,
    /// `Closed` (reset).
    pub closed: u32,
    /// `UdpNew`.
    pub udp: u32,
    /// `UdpReplied`.
    pub udp_replied: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            syn: 30,
            established: 7440,
            closing: 120,
            time_wait: 120,
            closed: 10,
            udp: 30,
            udp_replied: 180,
        }
    }
}

impl Timeouts {
    /// The timeout of a connection in `state`, `assured` or not: an unassured TCP
    /// connection (picked up mid-stream, the backend has not answered) lives at most
    /// the SYN timeout even when established or closing, so a stranger's packets
    /// cannot keep entries for long. (Half-open and unreplied UDP have short
    /// timeouts of their own.)
    #[inline]
    pub fn of_entry(&self, state: CtState, assured: bool) -> u32 {
        let t = self.of(state);
        match state {
            CtState::Established | CtState::FinWait | CtState::Closing if !assured => {
                t.min(self.syn)
            }
            _ => t,
        }
    }

    /// The timeout of `state` (assured; see [`Timeouts::of_entry`]).
    #[inline]
    pub fn of(&self, state: CtState) -> u32 {
        match state {
            CtState::SynSent | CtState::SynRecv => self.syn,
            CtState::Established => self.established,
            CtState::FinWait | CtState::Closing => self.closing,
            CtState::TimeWait => self.time_wait,
            CtState::Closed => self.closed,
            CtState::UdpNew => self.udp,
            CtState::UdpReplied => self.udp_replied,
        }
    }
}

/// A lookup (or insert) result: everything the data path needs to translate. The
/// connection stays in the entry's packed words, read as copied: the data path
/// decodes the few fields it uses ([`CtHit::backend`], [`CtHit::snat`], ...), not a
/// whole [`Conn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtHit {
    /// Entry index.
    pub idx: u32,
    /// The entry's generation (changes whenever the entry is reused).
    pub gen: u32,
    /// Which key the packet matched.
    pub dir: Dir,
    /// Its state when looked up.
    pub state: CtState,
    /// Whether it was assured when looked up (the backend has answered).
    pub assured: bool,
    /// The connection's words (see `Conn::pack`).
    words: [u64; 5],
}

impl CtHit {
    /// The connection.
    #[inline]
    pub fn conn(&self) -> Conn {
        Conn::unpack(&self.words)
    }

    /// The client's address and port.
    #[inline(always)]
    pub fn client(&self) -> SocketAddrV4 {
        client_of(&self.words)
    }

    /// The published address and port.
    #[inline(always)]
    pub fn published(&self) -> SocketAddrV4 {
        published_of(&self.words)
    }

    /// The backend's address and port.
    #[inline(always)]
    pub fn backend(&self) -> SocketAddrV4 {
        backend_of(&self.words)
    }

    /// The SNAT source, if the connection has one.
    #[inline(always)]
    pub fn snat(&self) -> Option<SocketAddrV4> {
        snat_of(&self.words)
    }

    /// Backend id within the service.
    #[inline(always)]
    pub fn backend_id(&self) -> u32 {
        self.words[3] as u32
    }
}

/// Why [`Conntrack::insert`] did not create the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtInsertError {
    /// The original key is already tracked (another worker raced, or a retransmitted
    /// first packet): translate with this entry instead.
    Exists(CtHit),
    /// One of the keys belongs to another connection (e.g. in preserve-client-IP
    /// mode, two published ports mapped to the same backend port, and the client used
    /// the same source port for both), or the two keys are equal.
    KeyConflict,
    /// No room, and nothing in the window could be evicted (counted as refused).
    Full,
}

impl fmt::Display for CtInsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtInsertError::Exists(h) => write!(f, "connection already tracked (entry {})", h.idx),
            CtInsertError::KeyConflict => f.write_str("a key of the connection is in use"),
            CtInsertError::Full => f.write_str("connection table full"),
        }
    }
}

impl std::error::Error for CtInsertError {}

/// Selects connections for [`Conntrack::entries`] and [`Conntrack::flush`]; all set
/// fields must match.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtFilter {
    /// Only this service.
    pub service: Option<u32>,
    /// Only this client address.
    pub client: Option<Ipv4Addr>,
    /// Only this backend address.
    pub backend: Option<Ipv4Addr>,
    /// Only this backend id.
    pub backend_id: Option<u32>,
    /// Only this state.
    pub state: Option<CtState>,
}

impl CtFilter {
    /// Every connection.
    pub const fn all() -> CtFilter {
        CtFilter {
            service: None,
            client: None,
            backend: None,
            backend_id: None,
            state: None,
        }
    }

    /// Restricts to a service.
    pub const fn service(mut self, s: u32) -> CtFilter {
        self.service = Some(s);
        self
    }

    /// Restricts to a client address.
    pub const fn client(mut self, ip: Ipv4Addr) -> CtFilter {
        self.client = Some(ip);
        self
    }

    /// Restricts to a backend address.
    pub const fn backend(mut self, ip: Ipv4Addr) -> CtFilter {
        self.backend = Some(ip);
        self
    }

    /// Restricts to a backend id.
    pub const fn backend_id(mut self, id: u32) -> CtFilter {
        self.backend_id = Some(id);
        self
    }

    /// Restricts to a state.
    pub const fn state(mut self, s: CtState) -> CtFilter {
        self.state = Some(s);
        self
    }

    /// Does `conn` in `state` match?
    pub fn matches(&self, conn: &Conn, state: CtState) -> bool {
        self.service.is_none_or(|s| s == conn.service)
            && self.client.is_none_or(|ip| ip == *conn.client.ip())
            && self.backend.is_none_or(|ip| ip == *conn.backend.ip())
            && self.backend_id.is_none_or(|b| b == conn.backend_id)
            && self.state.is_none_or(|s| s == state)
    }
}

/// One connection, as listed by [`Conntrack::entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtEntry {
    /// Entry index.
    pub idx: u32,
    /// Generation.
    pub gen: u32,
    /// The connection.
    pub conn: Conn,
    /// Its state.
    pub state: CtState,
    /// The backend has answered (see "Assured connections" in the module docs).
    pub assured: bool,
    /// Last second a packet was seen, per direction ([`Dir`] as index).
    pub last_seen: [u32; 2],
    /// Seconds since the later of the two at the listing's `now`.
    pub idle: u32,
}

/// Counters and gauges, summed when asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtStats {
    /// Connections created.
    pub created: u64,
    /// Removed because their timeout passed (by the sweep, or reclaimed by an insert).
    pub expired: u64,
    /// Live (not expired) half-open or finished connections evicted for a new one.
    pub evicted: u64,
    /// New connections refused: no room and nothing evictable.
    pub refused: u64,
    /// Removed by [`Conntrack::remove`] or [`Conntrack::flush`].
    pub removed: u64,
    /// Inserts that found their flow already tracked (races, retransmitted SYNs).
    pub exists: u64,
    /// Inserts refused because a key belonged to another connection.
    pub conflicts: u64,
    /// Of `evicted`, the unassured connections (half-open, or picked up mid-stream
    /// and never answered) evicted for a new one, or whose reply key a new one took.
    pub early_evicted: u64,
    /// Connections per state, indexed by [`CtState::index`].
    pub states: [u64; CtState::COUNT],
    /// Assured connections (the backend has answered), all states.
    pub assured: u64,
}

impl CtStats {
    /// Connections in `state`.
    pub fn in_state(&self, state: CtState) -> u64 {
        self.states[state.index()]
    }

    /// Connections in all states.
    pub fn entries(&self) -> u64 {
        self.states.iter().sum()
    }

    /// Connections the backend has not answered yet.
    pub fn unassured(&self) -> u64 {
        self.entries().saturating_sub(self.assured)
    }
}

/// A key's bit in its bucket's 128-bit summary: which of the two words (tag bit 39)
/// and which bit of it (tag bits 33-38), from the tag of a slot word or a [`Pos`]
/// (the tag's lowest bit, 32, is always set). A lookup reads one word a bucket, in
/// which half the bucket's keys have their bits: ~16 % of absent keys find their bit
/// set in a full table, against ~30 % with one 64-bit word a bucket.
#[inline(always)]
fn summary_bit(tag_or_slot: u64) -> (usize, u64) {
    (
        ((tag_or_slot >> 39) & 1) as usize,
        1 << ((tag_or_slot >> 33) & 63),
    )
}

/// Both words of a bucket's summary, from the slot words it holds.
fn summary_of(slots: impl Iterator<Item = u64>) -> [u64; 2] {
    slots.filter(|&s| s != 0).fold([0; 2], |mut m, s| {
        let (w, bit) = summary_bit(s);
        m[w] |= bit;
        m
    })
}

/// A bucket's summary: 128 bits, a bit per key it holds ([`summary_bit`]), 16-byte
/// aligned so that both words sit in one line.
#[repr(C, align(16))]
#[derive(Default)]
struct Summary([AtomicU64; 2]);

impl Summary {
    /// False when the bucket certainly does not hold a key with this tag.
    #[inline(always)]
    fn holds(&self, tag: u64) -> bool {
        let (w, bit) = summary_bit(tag);
        self.0[w].load(Relaxed) & bit != 0
    }

    #[cfg(test)]
    fn words(&self) -> [u64; 2] {
        [self.0[0].load(Relaxed), self.0[1].load(Relaxed)]
    }
}

/// One bucket of the key index: header and 15 slots, 128 bytes.
#[repr(C, align(128))]
#[derive(Default)]
struct Bucket {
    header: Header,
    slots: [AtomicU64; SLOTS],
}

/// One connection, one cache line.
#[repr(C, align(64))]
#[derive(Default)]
struct Entry {
    meta: AtomicU64,
    state: AtomicU64,
    w: [AtomicU64; 5],
    last_seen: [AtomicU32; 2],
}

/// A free-stack head: tag << 32 | (index + 1), 0 = empty. Its own 128 bytes.
#[repr(align(128))]
#[derive(Default)]
struct FreeHead(AtomicU64);

/// The counters of one stripe.
#[derive(Default)]
struct CounterBlock {
    events: [AtomicU64; N_EVENTS],
    states: [AtomicI64; CtState::COUNT],
    assured: AtomicI64,
}

impl Bucket {
    /// A consistent copy of the slots (seqlock read) and the header it was read under.
    #[inline]
    fn read(&self) -> ([u64; SLOTS], u64) {
        self.read_with(|| {})
    }

    /// `read` with a hook run halfway through the slot loads (tests interleave a
    /// writer there; the empty hook compiles away).
    #[inline(always)]
    fn read_with(&self, mid: impl Fn()) -> ([u64; SLOTS], u64) {
        self.header.read(|| {
            std::array::from_fn(|i| {
                if i == SLOTS / 2 {
                    mid();
                }
                self.slots[i].load(Relaxed)
            })
        })
    }

    /// Stores `word` in slot `i` inside a write section (lock held), and its
    /// occupancy bit.
    fn write_slot(&self, i: usize, word: u64) {
        self.header.begin_write();
        self.slots[i].store(word, Relaxed);
        self.header
            .set_table_bits(1 << (OCC_SHIFT + i as u32), word != 0);
        self.header.end_write();
    }

    /// The slots in use, one bit each (lock held).
    fn occupancy(&self) -> u32 {
        (self.header.load() >> OCC_SHIFT) as u32 & OCC_MASK
    }

    /// First free slot not in `skip`, and the number of used slots counting `skip`
    /// (lock held), from the occupancy bits.
    #[inline(always)]
    fn free_slot(&self, skip: Option<usize>) -> (Option<usize>, usize) {
        placement::free_slot(
            self.occupancy(),
            OCC_MASK,
            None,
            skip.filter(|&k| k < SLOTS),
        )
    }
}

/// A key's place: its two buckets and its tag (already in slot position).
#[derive(Clone, Copy, Debug)]
struct Pos {
    b1: usize,
    b2: usize,
    tag: u64,
}

impl Pos {
    fn buckets(&self) -> impl Iterator<Item = usize> {
        let b2 = (self.b2 != self.b1).then_some(self.b2);
        std::iter::once(self.b1).chain(b2)
    }
}

/// A consistent read of a live entry.
#[derive(Clone, Copy, Debug)]
struct Snap {
    meta: u64,
    state: u64,
    w: [u64; 5],
}

impl Snap {
    fn gen(&self) -> u32 {
        self.meta as u32
    }
}

/// The release hook type: called once per removed connection.
pub type ReleaseHook = Box<dyn Fn(&Conn) + Send + Sync>;

/// What one locked insert attempt found.
enum Attempt {
    Done(CtHit),
    Exists(CtHit),
    /// A key is another connection's: the connection holding the reply key, when it
    /// is that one.
    Conflict(Option<CtHit>),
    /// Which thing is missing: a slot for the original key, one for the reply key,
    /// or a free entry.
    NoRoom(Need),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    FwdSlot,
    RevSlot,
    Entry,
}

/// The connection table: fixed capacity, lock-free lookups, per-bucket locks for
/// inserts and removals. `Send + Sync`; share it by `Arc`.
pub struct Conntrack {
    entries: Box<[Entry]>,
    buckets: Box<[Bucket]>,
    /// Per bucket, a bit per key it holds ([`summary_bit`] of the key's tag): a
    /// key whose bit is clear in the words of both its buckets is in neither, and a
    /// burst's lookup answers it from one word of each instead of the buckets' lines.
    summary: Box<[Summary]>,
    free: Box<[FreeHead]>,
    counters: Striped<CounterBlock>,
    timeouts: Timeouts,
    k0: u64,
    k1: u64,
    release: Option<ReleaseHook>,
}

impl fmt::Debug for Conntrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conntrack")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl Conntrack {
    /// A table for `capacity` connections with default `timeouts`, randomly seeded,
    /// without a release hook.
    pub fn new(capacity: usize, timeouts: Timeouts) -> Conntrack {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0xc0ff_ee00);
        Conntrack::build(capacity, timeouts, h.finish(), None)
    }

    /// Like [`Conntrack::new`], with a hook called (on the removing thread) with
    /// every connection removed, whatever removes it.
    pub fn with_release(
        capacity: usize,
        timeouts: Timeouts,
        release: impl Fn(&Conn) + Send + Sync + 'static,
    ) -> Conntrack {
        let mut t = Conntrack::new(capacity, timeouts);
        t.release = Some(Box::new(release));
        t
    }

    /// Like [`Conntrack::new`] with a fixed hash seed (reproducible layouts, tests).
    pub fn with_seed(capacity: usize, timeouts: Timeouts, seed: u64) -> Conntrack {
        Conntrack::build(capacity, timeouts, seed, None)
    }

    fn build(capacity: usize, timeouts: Timeouts, seed: u64, release: Option<ReleaseHook>) -> Self {
        // 4/3 headroom: a full table fills 75 % of the key slots.
        let n_buckets = (2 * capacity.max(1) * 4).div_ceil(3 * SLOTS);
        Conntrack::with_layout(capacity, n_buckets, timeouts, seed, release)
    }

    fn with_layout(
        capacity: usize,
        n_buckets: usize,
        timeouts: Timeouts,
        seed: u64,
        release: Option<ReleaseHook>,
    ) -> Self {
        let capacity = capacity.max(1);
        assert!(capacity <= MAX_CAPACITY, "conntrack capacity too large");
        let n_buckets = n_buckets.max(2);
        let mix = |x: u64| folded_mul(x ^ 0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344) | 1;
        let t = Conntrack {
            entries: huge_table(capacity, Entry::default),
            buckets: huge_table(n_buckets, Bucket::default),
            summary: huge_table(n_buckets, Summary::default),
            free: (0..FREE_STRIPES).map(|_| FreeHead::default()).collect(),
            counters: Striped::default(),
            timeouts,
            k0: mix(seed),
            k1: mix(seed.rotate_left(32) ^ 0xa409_3822_299f_31d0),
            release,
        };
        // Entry i starts on free stripe i % FREE_STRIPES, lowest index on top.
        for s in 0..FREE_STRIPES.min(capacity) {
            let mut next = 0u64;
            let last = s + (capacity - 1 - s) / FREE_STRIPES * FREE_STRIPES;
            let mut i = last as isize;
            while i >= s as isize {
                t.entries[i as usize].w[0].store(next, Relaxed);
                next = i as u64 + 1;
                i -= FREE_STRIPES as isize;
            }
            t.free[s].0.store(next, Relaxed);
        }
        t
    }

    /// Most connections the table holds.
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Key slots of the index (2 per connection plus headroom).
    pub fn key_slots(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    /// The default timeouts (used by eviction, and by sweeps whose callback returns them).
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Bytes allocated for entries, index, free heads and counters.
    pub fn memory_bytes(&self) -> usize {
        self.entries.len() * std::mem::size_of::<Entry>()
            + self.buckets.len() * std::mem::size_of::<Bucket>()
            + self.summary.len() * std::mem::size_of::<Summary>()
            + self.free.len() * std::mem::size_of::<FreeHead>()
            + STRIPES * 128usize.max(std::mem::size_of::<CounterBlock>())
    }

    #[inline]
    fn pos(&self, k: &PackedKey) -> Pos {
        let x1 = folded_mul(k.a ^ self.k0, k.b ^ self.k1);
        let x2 = folded_mul(x1, 0x9e37_79b9_7f4a_7c15);
        let n = self.buckets.len() as u128;
        // The buckets come from the top bits of x1 and x2; the tag from x2's low
        // half, which the keys of one bucket do not share.
        Pos {
            b1: ((x1 as u128 * n) >> 64) as usize,
            b2: ((x2 as u128 * n) >> 64) as usize,
            tag: ((x2 as u32 | 1) as u64) << 32,
        }
    }

    #[inline]
    fn count(&self, stripe: usize, which: usize, n: u64) {
        self.counters[stripe].events[which].fetch_add(n, Relaxed);
    }

    #[inline]
    fn gauge(&self, stripe: usize, state: CtState, delta: i64) {
        self.counters[stripe].states[state.index()].fetch_add(delta, Relaxed);
    }

    #[inline]
    fn assured_gauge(&self, stripe: usize, delta: i64) {
        self.counters[stripe].assured.fetch_add(delta, Relaxed);
    }

    /// Seqlock read of a live entry; `None` if it is free.
    #[inline]
    fn read_entry(&self, idx: usize) -> Option<Snap> {
        self.read_entry_with(idx, || {})
    }

    /// `read_entry` with a hook run after the first conn word is loaded (tests
    /// interleave a writer there; the empty hook compiles away).
    #[inline(always)]
    fn read_entry_with(&self, idx: usize, mid: impl Fn()) -> Option<Snap> {
        let e = self.entries.get(idx)?;
        let mut spins = 0;
        loop {
            let m1 = e.meta.load(Acquire);
            if m1 & 1 == 0 {
                if m1 & LIVE == 0 {
                    return None;
                }
                let state = e.state.load(Relaxed);
                let w: [u64; 5] = std::array::from_fn(|i| {
                    if i == 1 {
                        mid();
                    }
                    e.w[i].load(Relaxed)
                });
                fence(Acquire);
                let m2 = e.meta.load(Relaxed);
                if m1 == m2 && state >> 32 == m1 & SEQ_MASK {
                    return Some(Snap { meta: m1, state, w });
                }
            }
            backoff(&mut spins);
        }
    }

    /// The entry a slot snapshot holds for `k`, if any.
    #[inline]
    fn match_slots(&self, slots: &[u64; SLOTS], k: &PackedKey, tag: u64) -> Option<CtHit> {
        // Every tag compared into a bit mask first (no branch per slot), then only
        // the slots whose tag matches are read: a miss in a full bucket (what a
        // flood of new flows meets) costs ~40 instructions instead of ~120.
        let mut matches = 0u32;
        for (j, &s) in slots.iter().enumerate() {
            matches |= u32::from(s & SLOT_TAG_MASK == tag) << j;
        }
        while matches != 0 {
            let j = matches.trailing_zeros() as usize;
            if let Some(hit) = slots.get(j).and_then(|&s| self.match_slot(s, k)) {
                return Some(hit);
            }
            matches &= matches - 1;
        }
        None
    }

    /// The connection slot word `s` points to, if its key (in the slot's direction)
    /// is `k`.
    #[inline(always)]
    fn match_slot(&self, s: u64, k: &PackedKey) -> Option<CtHit> {
        let idx = (s & SLOT_IDX_MASK) as usize;
        let reply = s & SLOT_REPLY != 0;
        let snap = self.read_entry(idx)?;
        (entry_key(&snap.w, reply) == *k).then(|| CtHit {
            idx: idx as u32,
            gen: snap.gen(),
            dir: if reply { Dir::Reply } else { Dir::Original },
            state: CtState::from_word(snap.state),
            assured: snap.state & ST_ASSURED != 0,
            words: snap.w,
        })
    }

    /// [`Conntrack::find`], trying first slot `hint` of the primary bucket (where the
    /// burst's scan saw the key's tag a moment ago): a match there, read under an
    /// unchanged bucket sequence, is the answer without scanning the bucket again (a
    /// key is in one slot at most); anything else takes the full search.
    #[inline(always)]
    fn find_hinted(&self, k: &PackedKey, p: &Pos, hint: usize) -> Option<CtHit> {
        let b = &self.buckets[p.b1];
        if let Some(slot) = b.slots.get(hint) {
            let h1 = b.header.load_acquire();
            let s = slot.load(Relaxed);
            if h1 & 1 == 0 && s & SLOT_TAG_MASK == p.tag {
                if let Some(hit) = self.match_slot(s, k) {
                    fence(Acquire);
                    if b.header.unchanged_since(h1) {
                        return Some(hit);
                    }
                }
            }
        }
        self.find(k, p)
    }

    #[inline]
    fn find(&self, k: &PackedKey, p: &Pos) -> Option<CtHit> {
        let (slots, h) = self.buckets[p.b1].read();
        if let Some(hit) = self.match_slots(&slots, k, p.tag) {
            return Some(hit);
        }
        if Header::overflow(h) == 0 || p.b2 == p.b1 {
            return None;
        }
        let (slots, _) = self.buckets[p.b2].read();
        self.match_slots(&slots, k, p.tag)
    }

    /// [`Conntrack::find`] with the key's buckets locked by the caller: their slots
    /// cannot change, so they are read in place instead of copied under the seqlock.
    fn find_locked(&self, k: &PackedKey, p: &Pos) -> Option<CtHit> {
        let scan = |b: &Bucket| {
            b.slots
                .iter()
                .map(|s| s.load(Relaxed))
                .filter(|&s| s & SLOT_TAG_MASK == p.tag)
                .find_map(|s| self.match_slot(s, k))
        };
        let b1 = &self.buckets[p.b1];
        if let Some(hit) = scan(b1) {
            return Some(hit);
        }
        if Header::overflow(b1.header.load()) == 0 || p.b2 == p.b1 {
            return None;
        }
        scan(&self.buckets[p.b2])
    }

    /// The connection a packet with `key` belongs to, and its direction. Lock-free;
    /// never writes.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<CtHit> {
        let k = pack_key(key);
        self.find(&k, &self.pos(&k))
    }

    /// Prefetches what an insert of `key` coming soon will lock and scan: its primary
    /// bucket and its secondary's header (a burst's new connections, both keys of
    /// each, so that their misses overlap before the inserts' lock CASes wait for
    /// them one connection at a time). Reads nothing.
    #[inline]
    pub fn prefetch_key(&self, key: &PackedKey) {
        let p = self.pos(key);
        let b = &self.buckets[p.b1];
        prefetch(&b.header);
        prefetch(&b.slots[SLOTS - 1]);
        prefetch(&self.buckets[p.b2].header);
    }

    /// [`Conntrack::lookup`] of every key of `keys` into `out` (same length), with
    /// the cache misses of up to [`LOOKUP_BURST`] keys overlapped
    /// ([`Conntrack::lookup_packed_burst`] of the packed keys).
    pub fn lookup_burst(&self, keys: &[FlowKey], out: &mut [Option<CtHit>]) {
        assert_eq!(keys.len(), out.len(), "lookup_burst: lengths differ");
        let mut packed = [PackedKey::NONE; LOOKUP_BURST];
        for (ks, os) in keys.chunks(LOOKUP_BURST).zip(out.chunks_mut(LOOKUP_BURST)) {
            for (p, k) in packed.iter_mut().zip(ks) {
                *p = pack_key(k);
            }
            self.lookup_packed_burst(&packed[..ks.len()], os);
        }
    }

    /// [`Conntrack::lookup`] of every key of `keys` (at most [`LOOKUP_BURST`]) into
    /// `out` (same length), with their cache misses overlapped, in three passes over
    /// the burst: hash every key and prefetch the first line of its primary bucket;
    /// scan that line for the key's tag and prefetch the entry it names (or, when the
    /// tag is not there, the bucket's second line if it holds keys and the secondary
    /// bucket if keys overflowed into it); then look up as `lookup` does, now from
    /// the cache, starting with the slot the scan found. One line per key in the
    /// first pass, not two: 32 keys' lines are about as many misses as a core keeps
    /// in flight, and 94 % of the keys of a half-full table are in the first line
    /// (perf/RESULTS.md, section 4). The first two
    /// passes only give hints (their unsynchronised reads decide nothing), so the
    /// results are those of one `lookup` per key. While one pass runs, the misses it
    /// asked for in the previous one are in flight together instead of one or two at
    /// a time.
    #[inline]
    pub fn lookup_packed_burst(&self, keys: &[PackedKey], out: &mut [Option<CtHit>]) {
        assert!(
            keys.len() == out.len() && keys.len() <= LOOKUP_BURST,
            "lookup_packed_burst: lengths differ or exceed a burst"
        );
        let n = keys.len();
        let mut pos = [Pos {
            b1: 0,
            b2: 0,
            tag: 0,
        }; LOOKUP_BURST];
        // A frame that is not looked up (a SYN, anything not TCP or UDP: a MAC
        // flood's ARP) has the key NONE: not hashed, no search (it cost a SYN flood
        // ~500 instructions a packet in full buckets).
        for (k, p) in keys.iter().zip(pos.iter_mut()) {
            if *k == PackedKey::NONE {
                continue;
            }
            *p = self.pos(k);
            prefetch(&self.summary[p.b1]);
            prefetch(&self.summary[p.b2]);
        }
        // SLOTS: search from the first slot; ABSENT: the summaries say no bucket
        // holds the key (or it is not looked up): no search.
        const ABSENT: usize = SLOTS + 1;
        let mut hint = [SLOTS; LOOKUP_BURST];
        for ((p, h), k) in pos[..n].iter().zip(hint.iter_mut()).zip(keys) {
            // A new flow (a flood's) is mostly answered here: in a full table
            // (11-12 keys a bucket, ~6 of them in the word read) ~84 % of absent
            // keys find their bit clear in both.
            if *k == PackedKey::NONE
                || !(self.summary[p.b1].holds(p.tag) | self.summary[p.b2].holds(p.tag))
            {
                *h = ABSENT;
                continue;
            }
            prefetch(&self.buckets[p.b1].header);
        }
        for (p, h) in pos[..n].iter().zip(hint.iter_mut()) {
            if *h == ABSENT {
                continue;
            }
            let b = &self.buckets[p.b1];
            // Every slot of the line is compared and the matches kept as bits: a
            // scan that stops at the match ends at a different slot for every key,
            // and that exit was mispredicted for most packets (callgrind
            // --branch-sim: 0.85 of the forward path's 1.52 a packet). 33 more
            // instructions, and 7 % more packets a second (perf/RESULTS.md).
            let Some(line) = b.slots.first_chunk::<FIRST_LINE_SLOTS>() else {
                continue;
            };
            let mut matches = 0u32;
            for (j, s) in line.iter().enumerate() {
                matches |= ((s.load(Relaxed) & SLOT_TAG_MASK == p.tag) as u32) << j;
            }
            if matches != 0 {
                let j = matches.trailing_zeros() as usize;
                let s = line[j].load(Relaxed);
                if let Some(e) = self.entries.get((s & SLOT_IDX_MASK) as usize) {
                    prefetch(e);
                    *h = j;
                }
                continue;
            }
            // Not in the first line: the key may be in the second one or in the
            // secondary bucket; ask for those now, while the other keys are scanned.
            let hw = b.header.load();
            if ((hw >> OCC_SHIFT) as u32 & OCC_MASK) >> FIRST_LINE_SLOTS != 0 {
                prefetch(&b.slots[SLOTS - 1]);
            }
            if Header::overflow(hw) != 0 {
                // Both lines of the secondary bucket: a key that is not there is
                // searched in all of it.
                let b2 = &self.buckets[p.b2];
                prefetch(&b2.header);
                prefetch(&b2.slots[SLOTS - 1]);
            }
        }
        for (((k, p), h), o) in keys.iter().zip(&pos).zip(&hint).zip(out.iter_mut()) {
            *o = if *h == ABSENT {
                None
            } else {
                self.find_hinted(k, p, *h)
            };
        }
    }

    /// Accounts a packet of `hit`'s connection in `hit.dir` with TCP `tcp_flags` (0
    /// for UDP) at second `now`: refreshes `last_seen` (a store at most once per
    /// second per direction) and applies the state machine (a CAS, only when the
    /// state changes). Returns the resulting state; [`CtState::Closed`] when the
    /// connection was removed since the lookup (nothing is written then).
    #[inline]
    pub fn observe(&self, hit: &CtHit, tcp_flags: u8, now: u32) -> CtState {
        self.observe_checked(hit, tcp_flags, now)
            .unwrap_or(CtState::Closed)
    }

    /// [`Conntrack::observe`], but `None` when the connection of `hit` is gone since
    /// the lookup (being removed, removed, or its entry reused; nothing is written
    /// except, at most, the `last_seen` of a connection being removed): the caller's
    /// hit is stale and must be looked up again.
    #[inline(always)]
    pub fn observe_checked(&self, hit: &CtHit, tcp_flags: u8, now: u32) -> Option<CtState> {
        let e = self.entries.get(hit.idx as usize)?;
        let mut s = e.state.load(Acquire);
        if (s >> 32) as u32 != hit.gen {
            return None;
        }
        let ls = &e.last_seen[hit.dir as usize];
        if is_later(now, ls.load(Relaxed)) {
            ls.store(now, Relaxed);
        }
        loop {
            let st = CtState::from_word(s);
            if s & ST_DYING != 0 {
                // Being removed, or removed and not reused yet: gone for the caller.
                return None;
            }
            if steady(s, tcp_flags, hit.dir) {
                return Some(st);
            }
            let was_assured = s & ST_ASSURED != 0;
            let (nst, aux, assured) = step(st, s & ST_AUX != 0, was_assured, hit.dir, tcp_flags);
            let n = (s & !(ST_STATE | ST_AUX | ST_ASSURED))
                | nst as u64
                | if aux { ST_AUX } else { 0 }
                | if assured { ST_ASSURED } else { 0 };
            if n == s {
                return Some(st);
            }
            match e.state.compare_exchange(s, n, AcqRel, Acquire) {
                Ok(_) => {
                    if nst != st {
                        self.gauge(hit.idx as usize, nst, 1);
                        self.gauge(hit.idx as usize, st, -1);
                    }
                    if assured != was_assured {
                        self.assured_gauge(hit.idx as usize, if assured { 1 } else { -1 });
                    }
                    return Some(nst);
                }
                Err(x) if (x >> 32) as u32 != hit.gen => return None,
                Err(x) => s = x,
            }
        }
    }

    /// Tracks a new connection in `state` (`SynSent` for a SYN, `Established` for a
    /// flow picked up mid-stream, `UdpNew` for non-TCP) seen at second `now`. See the
    /// module docs for eviction when there is no room.
    pub fn insert(&self, conn: &Conn, state: CtState, now: u32) -> Result<CtHit, CtInsertError> {
        let w = conn.pack();
        let fk = entry_key(&w, false);
        let rk = entry_key(&w, true);
        let pf = self.pos(&fk);
        let pr = self.pos(&rk);
        if fk == rk {
            self.count(pf.b1, C_CONFLICT, 1);
            return Err(CtInsertError::KeyConflict);
        }
        let mut locks = [pf.b1, pf.b2, pr.b1, pr.b2];
        locks.sort_unstable();
        // Prefetch the four buckets and the entry the insert will probably pop, so
        // that their misses overlap instead of being paid one after another by the
        // serialising lock CASes.
        let head = self.free[conn.owner as usize % FREE_STRIPES]
            .0
            .load(Relaxed)
            & LO32;
        for &b in &locks {
            prefetch(&self.buckets[b].header);
        }
        if let Some(e) = self.entries.get((head as usize).wrapping_sub(1)) {
            prefetch(e);
        }
        let mut evictions = 0;
        loop {
            self.lock_all(&locks);
            let r = self.insert_locked(&w, conn.owner, (&fk, &pf), (&rk, &pr), state, now);
            self.unlock_all(&locks);
            match r {
                Attempt::Done(hit) => {
                    self.count(hit.idx as usize, C_CREATED, 1);
                    self.gauge(hit.idx as usize, state, 1);
                    return Ok(hit);
                }
                Attempt::Exists(hit) => {
                    self.count(pf.b1, C_EXISTS, 1);
                    return Err(CtInsertError::Exists(hit));
                }
                Attempt::Conflict(holder) => {
                    let taken = evictions < MAX_EVICTIONS
                        && holder.is_some_and(|h| self.take_over(&h, now));
                    if !taken {
                        self.count(pf.b1, C_CONFLICT, 1);
                        return Err(CtInsertError::KeyConflict);
                    }
                    evictions += 1;
                }
                Attempt::NoRoom(need) => {
                    let evicted = evictions < MAX_EVICTIONS && self.evict_one(&pf, &pr, need, now);
                    if !evicted {
                        self.count(pf.b1, C_REFUSED, 1);
                        return Err(CtInsertError::Full);
                    }
                    evictions += 1;
                }
            }
        }
    }

    /// Locks a sorted list of buckets, skipping repeats.
    fn lock_all(&self, sorted: &[usize; 4]) {
        lock_in_order(*sorted, |b| self.buckets[b].header.lock());
    }

    fn unlock_all(&self, sorted: &[usize; 4]) {
        unlock_in_order(sorted, |b| self.buckets[b].header.unlock());
    }

    /// The slot (bucket, index) a new key of place `p` goes to (its buckets locked);
    /// `taken` is a slot already chosen for the other key.
    fn choose_slot(&self, p: &Pos, taken: Option<(usize, usize)>) -> Option<(usize, usize)> {
        let skip = |b: usize| taken.filter(|t| t.0 == b).map(|t| t.1);
        placement::two_choice(p.b1, p.b2, SLOTS, PRIMARY_FILL, |b| {
            self.buckets[b].free_slot(skip(b))
        })
    }

    /// One insert attempt with every bucket of both keys locked.
    fn insert_locked(
        &self,
        w: &[u64; 5],
        owner: u16,
        (fk, pf): (&PackedKey, &Pos),
        (rk, pr): (&PackedKey, &Pos),
        state: CtState,
        now: u32,
    ) -> Attempt {
        if let Some(hit) = self.find_locked(fk, pf) {
            return if hit.dir == Dir::Original {
                Attempt::Exists(hit)
            } else {
                Attempt::Conflict(None)
            };
        }
        if let Some(holder) = self.find_locked(rk, pr) {
            return Attempt::Conflict(Some(holder));
        }
        let Some(sf) = self.choose_slot(pf, None) else {
            return Attempt::NoRoom(Need::FwdSlot);
        };
        let Some(sr) = self.choose_slot(pr, Some(sf)) else {
            return Attempt::NoRoom(Need::RevSlot);
        };
        let Some(idx) = self.pop_free(owner as usize) else {
            return Attempt::NoRoom(Need::Entry);
        };
        // Write the entry (seqlock write on its meta word; nobody else writes a popped
        // entry), then publish its keys.
        let e = &self.entries[idx as usize];
        let m = e.meta.load(Relaxed);
        e.meta.store(bump_seq(m & !LIVE), Relaxed);
        fence(Release);
        let gen = (m.wrapping_add(2) & SEQ_MASK) as u32;
        for (dst, &src) in e.w.iter().zip(w) {
            dst.store(src, Relaxed);
        }
        e.state.store((gen as u64) << 32 | state as u64, Relaxed);
        e.last_seen[0].store(now, Relaxed);
        e.last_seen[1].store(now, Relaxed);
        e.meta.store(gen as u64 | LIVE, Release);
        self.publish(pr, sr, pr.tag | SLOT_REPLY | idx as u64);
        self.publish(pf, sf, pf.tag | idx as u64);
        Attempt::Done(CtHit {
            idx,
            gen,
            dir: Dir::Original,
            state,
            assured: false,
            words: *w,
        })
    }

    /// Stores a key slot (the key's buckets locked), raising the primary's overflow
    /// count first when it goes to the secondary.
    fn publish(&self, p: &Pos, (bi, si): (usize, usize), word: u64) {
        if bi != p.b1 {
            self.buckets[p.b1].header.add_overflow(1);
        }
        // The summary bit before the slot: a lookup that finds the bit clear never
        // misses a key already in the slot. One writer per bucket (its lock): a
        // load and a store, not a read-modify-write.
        let (w, bit) = summary_bit(word);
        let sum = &self.summary[bi].0[w];
        sum.store(sum.load(Relaxed) | bit, Relaxed);
        self.buckets[bi].write_slot(si, word);
    }

    /// Recomputes bucket `bi`'s summary from its slots (lock held) after a removal.
    fn resummarize(&self, bi: usize) {
        let words = summary_of(self.buckets[bi].slots.iter().map(|s| s.load(Relaxed)));
        for (sum, w) in self.summary[bi].0.iter().zip(words) {
            sum.store(w, Relaxed);
        }
    }

    /// Is any entry free? (16 loads: for a refusal, not for every insert.)
    pub fn has_free_entry(&self) -> bool {
        self.free.iter().any(|h| h.0.load(Relaxed) & LO32 != 0)
    }

    fn pop_free(&self, home: usize) -> Option<u32> {
        (0..FREE_STRIPES).find_map(|k| self.pop_stripe((home + k) % FREE_STRIPES))
    }

    fn pop_stripe(&self, s: usize) -> Option<u32> {
        let head = &self.free[s].0;
        let mut h = head.load(Acquire);
        loop {
            let top = h & LO32;
            if top == 0 {
                return None;
            }
            let i = (top - 1) as usize;
            // A stale read (the entry was popped meanwhile) fails the CAS below (the tag
            // changed); the bound check keeps even a wrapped tag from indexing out.
            let next = self.entries[i].w[0].load(Relaxed) & LO32;
            if next <= self.entries.len() as u64 {
                let new = ((h >> 32).wrapping_add(1) << 32) | next;
                match head.compare_exchange_weak(h, new, Acquire, Acquire) {
                    Ok(_) => return Some(i as u32),
                    Err(x) => h = x,
                }
            } else {
                h = head.load(Acquire);
            }
        }
    }

    fn push_free(&self, s: usize, idx: u32) {
        let head = &self.free[s % FREE_STRIPES].0;
        let mut h = head.load(Relaxed);
        loop {
            self.entries[idx as usize].w[0].store(h & LO32, Relaxed);
            let new = ((h >> 32).wrapping_add(1) << 32) | (idx as u64 + 1);
            match head.compare_exchange_weak(h, new, Release, Relaxed) {
                Ok(_) => return,
                Err(x) => h = x,
            }
        }
    }

    /// Eviction rank of an entry with state word `st` at `now` (lower goes first),
    /// or `None` if it may not be evicted: 0 expired by the default timeouts, 1
    /// unassured (half-open, or picked up and never answered), 2 finished.
    fn rank(&self, st: u64, last: u32, now: u32) -> Option<u8> {
        let state = CtState::from_word(st);
        let assured = st & ST_ASSURED != 0;
        if elapsed(now, last) >= self.timeouts.of_entry(state, assured) {
            Some(0)
        } else if state.is_finished() {
            Some(2)
        } else if !assured {
            Some(1)
        } else {
            None
        }
    }

    /// Evicts the best victim among the connections whose keys sit in the buckets
    /// of the missing thing; false if there is none. No locks are held by the caller.
    fn evict_one(&self, pf: &Pos, pr: &Pos, need: Need, now: u32) -> bool {
        let mut window = [usize::MAX; 4];
        let mut n = 0;
        let from: &[&Pos] = match need {
            Need::FwdSlot => &[pf],
            Need::RevSlot => &[pr],
            Need::Entry => &[pf, pr],
        };
        for p in from {
            for b in p.buckets() {
                if !window[..n].contains(&b) {
                    window[n] = b;
                    n += 1;
                }
            }
        }
        // The window's slots, their entries asked for all at once: up to 60 misses
        // overlapped instead of a few at a time (a flood of new connections into a
        // full table pays this for every one).
        let mut words = [[0u64; SLOTS]; 4];
        for (w, &b) in words.iter_mut().zip(&window[..n]) {
            *w = self.buckets[b].read().0;
            for &s in w.iter().filter(|&&s| s != 0) {
                if let Some(e) = self.entries.get((s & SLOT_IDX_MASK) as usize) {
                    prefetch(e);
                }
            }
        }
        // (rank, last_seen age, idx, state word)
        let mut best: Option<(u8, u32, u32, u64)> = None;
        for slots in &words[..n] {
            for &s in slots {
                if s == 0 {
                    continue;
                }
                let idx = (s & SLOT_IDX_MASK) as u32;
                let e = &self.entries[idx as usize];
                let st = e.state.load(Acquire);
                if st & ST_DYING != 0 || e.meta.load(Relaxed) & LIVE == 0 {
                    continue;
                }
                let last = latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed));
                let Some(r) = self.rank(st, last, now) else {
                    continue;
                };
                let age = elapsed(now, last);
                if best.is_none_or(|(br, bage, _, _)| (r, u32::MAX - age) < (br, u32::MAX - bage)) {
                    best = Some((r, age, idx, st));
                }
            }
        }
        let Some((_, _, idx, st)) = best else {
            return false;
        };
        let e = &self.entries[idx as usize];
        if e.state
            .compare_exchange(st, st | ST_DYING, AcqRel, Relaxed)
            .is_err()
        {
            // It changed under us: let the caller retry (bounded by MAX_EVICTIONS).
            return true;
        }
        // Re-check with a fresh last_seen (a packet may just have arrived).
        let last = latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed));
        match self.rank(st, last, now) {
            Some(r) => {
                self.remove_claimed(idx, st);
                self.count(idx as usize, if r == 0 { C_EXPIRED } else { C_EVICTED }, 1);
                if r == 1 {
                    self.count(idx as usize, C_EARLY_EVICTED, 1);
                }
                true
            }
            None => {
                e.state.store(st, Release);
                true
            }
        }
    }

    /// Removes `holder`, the connection holding the reply key a new connection needs
    /// (in SNAT mode: its source port towards that backend), when it is unassured,
    /// not finished, and idle for at least [`TAKEOVER_IDLE`] seconds, so that
    /// strangers' packets cannot pin SNAT ports. True when the insert should try
    /// again (the holder is gone, whoever removed it).
    fn take_over(&self, holder: &CtHit, now: u32) -> bool {
        let Some(e) = self.entries.get(holder.idx as usize) else {
            return false;
        };
        let idle = |e: &Entry| {
            elapsed(
                now,
                latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed)),
            )
        };
        let evictable = |st: u64| {
            st & ST_ASSURED == 0
                && !CtState::from_word(st).is_finished()
                && idle(e) >= TAKEOVER_IDLE
        };
        if !evictable(e.state.load(Acquire)) {
            return false;
        }
        let Some(st) = self.claim(holder.idx, holder.gen) else {
            return true;
        };
        if !evictable(st) {
            e.state.store(st, Release);
            return false;
        }
        self.remove_claimed(holder.idx, st);
        self.count(holder.idx as usize, C_EVICTED, 1);
        self.count(holder.idx as usize, C_EARLY_EVICTED, 1);
        true
    }

    /// Claims a live entry of generation `gen` for removal; the claimed state word.
    fn claim(&self, idx: u32, gen: u32) -> Option<u64> {
        let e = self.entries.get(idx as usize)?;
        let mut s = e.state.load(Acquire);
        loop {
            if (s >> 32) as u32 != gen || s & ST_DYING != 0 || e.meta.load(Relaxed) & LIVE == 0 {
                return None;
            }
            match e.state.compare_exchange(s, s | ST_DYING, AcqRel, Acquire) {
                Ok(_) => return Some(s),
                Err(x) => s = x,
            }
        }
    }

    /// Removes a claimed entry: clears both keys, frees the entry, runs the release
    /// hook. `st` is the state word it was claimed with.
    fn remove_claimed(&self, idx: u32, st: u64) -> Conn {
        let e = &self.entries[idx as usize];
        let m = e.meta.load(Acquire);
        debug_assert!(m & LIVE != 0 && (m & SEQ_MASK) == st >> 32);
        let w: [u64; 5] = std::array::from_fn(|i| e.w[i].load(Relaxed));
        // Reply key first: an insert of the same flow that finds the original key
        // gone then finds the reply key gone too (inserts publish in the other
        // order), so a racing re-insert never sees a half-removed flow as a conflict.
        for reply in [true, false] {
            let k = entry_key(&w, reply);
            let p = self.pos(&k);
            let word = p.tag | if reply { SLOT_REPLY } else { 0 } | idx as u64;
            self.clear_key(&p, word);
        }
        // Free the entry: readers that loaded the live meta see it change.
        e.meta.store(m & !LIVE, Relaxed);
        fence(Release);
        let conn = Conn::unpack(&w);
        self.gauge(idx as usize, CtState::from_word(st), -1);
        if st & ST_ASSURED != 0 {
            self.assured_gauge(idx as usize, -1);
        }
        self.push_free(conn.owner as usize, idx);
        if let Some(release) = &self.release {
            release(&conn);
        }
        conn
    }

    /// Clears the slot holding exactly `word` in the buckets of `p`.
    fn clear_key(&self, p: &Pos, word: u64) {
        let (lo, hi) = (p.b1.min(p.b2), p.b1.max(p.b2));
        self.buckets[lo].header.lock();
        if hi != lo {
            self.buckets[hi].header.lock();
        }
        let mut found = false;
        for b in p.buckets() {
            let bucket = &self.buckets[b];
            if let Some(i) = bucket.slots.iter().position(|s| s.load(Relaxed) == word) {
                bucket.write_slot(i, 0);
                self.resummarize(b);
                if b != p.b1 {
                    self.buckets[p.b1].header.add_overflow(-1);
                }
                found = true;
                break;
            }
        }
        debug_assert!(found, "key slot {word:#x} of a live entry missing");
        self.buckets[p.b1].header.unlock();
        if p.b2 != p.b1 {
            self.buckets[p.b2].header.unlock();
        }
    }

    /// Removes the connection in entry `idx` if it still has generation `gen` (from
    /// a [`CtHit`] or [`CtEntry`]); returns it. Counted as removed.
    pub fn remove(&self, idx: u32, gen: u32) -> Option<Conn> {
        let st = self.claim(idx, gen)?;
        let conn = self.remove_claimed(idx, st);
        self.count(idx as usize, C_REMOVED, 1);
        Some(conn)
    }

    /// Removes the connection `key` (either direction) belongs to; returns it.
    pub fn remove_key(&self, key: &FlowKey) -> Option<Conn> {
        let hit = self.lookup(key)?;
        self.remove(hit.idx, hit.gen)
    }

    /// Removes every connection idle for at least its state's timeout at `now`, the
    /// timeouts of a connection being `timeouts_of(conn.service)` (make it cheap:
    /// it is called for every live entry). Control thread: walks all entries. Each
    /// removed connection goes through the release hook, then `on_removed`. Returns
    /// how many were removed (counted as expired).
    pub fn sweep(
        &self,
        now: u32,
        timeouts_of: impl Fn(u32) -> Timeouts,
        mut on_removed: impl FnMut(&Conn),
    ) -> usize {
        let mut removed = 0;
        let mut cache: Option<(u32, Timeouts)> = None;
        let mut timeout = |service: u32, st: u64| -> u32 {
            let (state, assured) = (CtState::from_word(st), st & ST_ASSURED != 0);
            match cache {
                Some((s, t)) if s == service => t.of_entry(state, assured),
                _ => {
                    let t = timeouts_of(service);
                    cache = Some((service, t));
                    t.of_entry(state, assured)
                }
            }
        };
        for (i, e) in self.entries.iter().enumerate() {
            // Lock-free pre-check; whatever it read is re-validated by the claim.
            let m = e.meta.load(Relaxed);
            if m & LIVE == 0 {
                continue;
            }
            let st = e.state.load(Acquire);
            if st & ST_DYING != 0 || st >> 32 != m & SEQ_MASK {
                continue;
            }
            let service = (e.w[3].load(Relaxed) >> 32) as u32;
            let last = latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed));
            if elapsed(now, last) < timeout(service, st) {
                continue;
            }
            if e.state
                .compare_exchange(st, st | ST_DYING, AcqRel, Relaxed)
                .is_err()
            {
                continue; // changed: the next sweep looks again
            }
            // Claimed: the entry is this generation, its words are stable.
            let Some(snap) = self.read_entry(i) else {
                debug_assert!(false, "claimed entry {i} not live");
                continue;
            };
            let service = (snap.w[3] >> 32) as u32;
            let last = latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed));
            if elapsed(now, last) < timeout(service, st) {
                e.state.store(st, Release);
                continue;
            }
            let conn = self.remove_claimed(i as u32, st);
            self.count(i, C_EXPIRED, 1);
            removed += 1;
            on_removed(&conn);
        }
        removed
    }

    /// Removes every connection `filter` selects (each through the release hook);
    /// returns how many (counted as removed).
    pub fn flush(&self, filter: &CtFilter) -> usize {
        let mut removed = 0;
        for i in 0..self.entries.len() {
            // Retry while the entry changes under us but still matches.
            while let Some(snap) = self.read_entry(i) {
                let st = snap.state;
                if st & ST_DYING != 0
                    || !filter.matches(&Conn::unpack(&snap.w), CtState::from_word(st))
                {
                    break;
                }
                if self.entries[i]
                    .state
                    .compare_exchange(st, st | ST_DYING, AcqRel, Relaxed)
                    .is_ok()
                {
                    self.remove_claimed(i as u32, st);
                    self.count(i, C_REMOVED, 1);
                    removed += 1;
                    break;
                }
            }
        }
        removed
    }

    /// Lists the connections `filter` selects, with idle times at `now` (allocates;
    /// each entry is read consistently, the table as a whole is not a snapshot).
    pub fn entries(&self, filter: &CtFilter, now: u32) -> Vec<CtEntry> {
        let mut out = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if e.meta.load(Relaxed) & LIVE == 0 {
                continue;
            }
            let Some(snap) = self.read_entry(i) else {
                continue;
            };
            let conn = Conn::unpack(&snap.w);
            let state = CtState::from_word(snap.state);
            if !filter.matches(&conn, state) {
                continue;
            }
            let last_seen = [e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed)];
            out.push(CtEntry {
                idx: i as u32,
                gen: snap.gen(),
                conn,
                state,
                assured: snap.state & ST_ASSURED != 0,
                last_seen,
                idle: elapsed(now, latest(last_seen[0], last_seen[1])),
            });
        }
        out
    }

    /// Calls `f` with every live connection and its state (control side: walks all
    /// entries, allocates nothing; each entry is read consistently).
    pub fn for_each(&self, mut f: impl FnMut(&Conn, CtState)) {
        for (i, e) in self.entries.iter().enumerate() {
            if e.meta.load(Relaxed) & LIVE == 0 {
                continue;
            }
            if let Some(snap) = self.read_entry(i) {
                f(&Conn::unpack(&snap.w), CtState::from_word(snap.state));
            }
        }
    }

    /// Number of connections (from the per-state gauges).
    pub fn len(&self) -> usize {
        self.stats().entries() as usize
    }

    /// True when no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters and per-state gauges.
    pub fn stats(&self) -> CtStats {
        let sum = |c: usize| -> u64 {
            self.counters
                .iter()
                .map(|b| b.events[c].load(Relaxed))
                .sum()
        };
        let states = std::array::from_fn(|s| {
            let n: i64 = self
                .counters
                .iter()
                .map(|b| b.states[s].load(Relaxed))
                .sum();
            n.max(0) as u64
        });
        CtStats {
            created: sum(C_CREATED),
            expired: sum(C_EXPIRED),
            evicted: sum(C_EVICTED),
            refused: sum(C_REFUSED),
            removed: sum(C_REMOVED),
            exists: sum(C_EXISTS),
            conflicts: sum(C_CONFLICT),
            early_evicted: sum(C_EARLY_EVICTED),
            states,
            assured: self
                .counters
                .iter()
                .map(|b| b.assured.load(Relaxed))
                .sum::<i64>()
                .max(0) as u64,
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
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const TCP: u8 = 6;
    const UDP: u8 = 17;
    const SYN: u8 = tcp::SYN;
    const ACK: u8 = tcp::ACK;
    const FIN: u8 = tcp::FIN;
    const RST: u8 = tcp::RST;
    const SYNACK: u8 = SYN | ACK;
    const FINACK: u8 = FIN | ACK;

    fn sa(ip: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(ip), port)
    }

    #[test]
    fn a_steady_state_is_one_no_packet_changes() {
        let mut steady_seen = 0;
        for st in CtState::ALL {
            for assured in [false, true] {
                for flags in 0..=u8::MAX {
                    for dir in [Dir::Original, Dir::Reply] {
                        let word = st as u64 | if assured { ST_ASSURED } else { 0 };
                        if !steady(word, flags, dir) {
                            continue;
                        }
                        steady_seen += 1;
                        for aux in [false, true] {
                            assert_eq!(
                                step(st, aux, assured, dir, flags),
                                (st, aux, assured),
                                "{st:?} {flags:#x} {dir:?}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(
            steady_seen,
            2 * 32 + 32 + 2 * 2 * 256,
            "established without SYN/FIN/RST (unassured: the client's side only), \
             replied UDP (assured or not)"
        );
    }

    #[test]
    fn a_connection_is_assured_only_once_the_backend_answered() {
        use CtState::*;
        let o = Dir::Original;
        let r = Dir::Reply;
        // Handshake: SYN, SYN-ACK, ACK; assured at the ACK, not before.
        assert_eq!(
            step(SynSent, false, false, r, SYNACK),
            (SynRecv, false, false)
        );
        assert_eq!(
            step(SynRecv, false, false, o, ACK),
            (Established, false, true)
        );
        // A client's ACK without a SYN-ACK first changes nothing.
        assert_eq!(step(SynSent, false, false, o, ACK), (SynSent, false, false));
        // Picked up mid-stream: the client's segments never assure it, a reply does.
        for flags in [ACK, ACK | 0x08, FINACK] {
            let (st, _, assured) = step(Established, false, false, o, flags);
            assert!(!assured, "{st:?} {flags:#x}");
        }
        assert_eq!(
            step(Established, false, false, r, ACK),
            (Established, false, true)
        );
        // UDP: the first reply.
        assert_eq!(step(UdpNew, false, false, o, 0), (UdpNew, false, false));
        assert_eq!(step(UdpNew, false, false, r, 0), (UdpReplied, false, true));
        // A reused 5-tuple starts over unassured.
        assert_eq!(step(TimeWait, false, true, o, SYN), (SynSent, false, false));
        // Assured stays assured through the close.
        assert_eq!(
            step(Established, false, true, o, FINACK),
            (FinWait, false, true)
        );
        assert_eq!(step(FinWait, false, true, r, FINACK), (Closing, true, true));
    }

    /// The seeds' trace: 92.234.68.72:53711 -> 10.0.0.4:80, backend 10.255.0.6:80,
    /// SNAT 10.255.0.2:65408.
    fn trace_conn() -> Conn {
        Conn {
            proto: TCP,
            client: sa([92, 234, 68, 72], 53711),
            published: sa([10, 0, 0, 4], 80),
            backend: sa([10, 255, 0, 6], 80),
            snat: Some(sa([10, 255, 0, 2], 65408)),
            service: 1,
            backend_id: 3,
            owner: 2,
        }
    }

    /// Flow `n`: a distinct client port (and client IP above 65535) to one service.
    fn conn(n: u32, snat: bool) -> Conn {
        Conn {
            proto: TCP,
            client: SocketAddrV4::new(Ipv4Addr::from(0x5c00_0000 | (n >> 16)), n as u16),
            published: sa([10, 0, 0, 4], 80),
            backend: sa([10, 255, 0, 10 + (n % 5) as u8], 8080),
            snat: snat.then(|| SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 2), n as u16)),
            service: n % 3,
            backend_id: n % 5,
            owner: (n % 4) as u16,
        }
    }

    fn udp(n: u32) -> Conn {
        Conn {
            proto: UDP,
            ..conn(n, true)
        }
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

    /// Every structural invariant of a quiescent table.
    fn validate(t: &Conntrack) -> Result<(), String> {
        let cap = t.capacity();
        let mut slot_of: HashMap<(u32, bool), (usize, usize)> = HashMap::new();
        let mut keys = HashSet::new();
        let mut ovf = vec![0u64; t.buckets.len()];
        for (bi, b) in t.buckets.iter().enumerate() {
            let h = b.header.load();
            if h & (LOCK | 1) != 0 {
                return Err(format!("bucket {bi}: header {h:#x} locked or odd"));
            }
            for (si, s) in b.slots.iter().enumerate() {
                let s = s.load(Relaxed);
                if s == 0 {
                    continue;
                }
                let idx = (s & SLOT_IDX_MASK) as usize;
                let reply = s & SLOT_REPLY != 0;
                if idx >= cap {
                    return Err(format!("slot {bi}/{si}: index {idx}"));
                }
                let e = &t.entries[idx];
                if e.meta.load(Relaxed) & LIVE == 0 {
                    return Err(format!("slot {bi}/{si} -> free entry {idx}"));
                }
                let w: [u64; 5] = std::array::from_fn(|i| e.w[i].load(Relaxed));
                let k = entry_key(&w, reply);
                let p = t.pos(&k);
                if p.tag != s & SLOT_TAG_MASK {
                    return Err(format!("slot {bi}/{si}: tag"));
                }
                if bi == p.b2 && bi != p.b1 {
                    ovf[p.b1] += 1;
                } else if bi != p.b1 {
                    return Err(format!("slot {bi}/{si}: misplaced {p:?}"));
                }
                if slot_of.insert((idx as u32, reply), (bi, si)).is_some() {
                    return Err(format!("entry {idx} reply={reply} has two slots"));
                }
                if !keys.insert((k.a, k.b)) {
                    return Err(format!("duplicate key {k:?}"));
                }
            }
        }
        for (bi, b) in t.buckets.iter().enumerate() {
            let got = Header::overflow(b.header.load());
            if got != ovf[bi] {
                return Err(format!("bucket {bi}: overflow {got}, counted {}", ovf[bi]));
            }
            let used = b
                .slots
                .iter()
                .enumerate()
                .fold(0, |m, (i, s)| m | u32::from(s.load(Relaxed) != 0) << i);
            if b.occupancy() != used {
                return Err(format!(
                    "bucket {bi}: occupancy {:#x}, slots {used:#x}",
                    b.occupancy()
                ));
            }
            let bits = summary_of(b.slots.iter().map(|s| s.load(Relaxed)));
            if t.summary[bi].words() != bits {
                return Err(format!(
                    "bucket {bi}: summary {:x?}, slots' bits {bits:x?}",
                    t.summary[bi].words()
                ));
            }
        }
        let mut live = 0usize;
        let mut per_state = [0u64; CtState::COUNT];
        for (i, e) in t.entries.iter().enumerate() {
            let m = e.meta.load(Relaxed);
            if m & 1 != 0 {
                return Err(format!("entry {i}: odd meta"));
            }
            if m & LIVE == 0 {
                continue;
            }
            live += 1;
            let st = e.state.load(Relaxed);
            if st >> 32 != m & SEQ_MASK || st & ST_DYING != 0 {
                return Err(format!("entry {i}: state {st:#x} meta {m:#x}"));
            }
            per_state[CtState::from_word(st).index()] += 1;
            for reply in [false, true] {
                if !slot_of.contains_key(&(i as u32, reply)) {
                    return Err(format!("entry {i}: no key slot reply={reply}"));
                }
                let c = Conn::unpack(&std::array::from_fn(|j| e.w[j].load(Relaxed)));
                let dir = if reply { Dir::Reply } else { Dir::Original };
                match t.lookup(&c.key(dir)) {
                    Some(h) if h.idx == i as u32 && h.dir == dir => {}
                    other => return Err(format!("entry {i} {dir:?}: lookup {other:?}")),
                }
            }
        }
        if slot_of.len() != 2 * live {
            return Err(format!("{} slots for {live} entries", slot_of.len()));
        }
        // Free stacks: every non-live entry exactly once.
        let mut free = HashSet::new();
        for f in t.free.iter() {
            let mut top = f.0.load(Relaxed) & LO32;
            while top != 0 {
                let i = (top - 1) as usize;
                if !free.insert(i) {
                    return Err(format!("entry {i} twice on the free stacks"));
                }
                if t.entries[i].meta.load(Relaxed) & LIVE != 0 {
                    return Err(format!("live entry {i} on a free stack"));
                }
                top = t.entries[i].w[0].load(Relaxed) & LO32;
            }
        }
        if free.len() + live != cap {
            return Err(format!("{} free + {live} live != {cap}", free.len()));
        }
        let s = t.stats();
        if s.states != per_state {
            return Err(format!("gauges {:?} vs counted {per_state:?}", s.states));
        }
        if t.len() != live {
            return Err(format!("len {} vs {live}", t.len()));
        }
        Ok(())
    }

    #[test]
    fn layout_and_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<Conntrack>();
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::size_of::<Bucket>(), 128);
        assert_eq!(std::mem::align_of::<Bucket>(), 128);
        assert_eq!(std::mem::offset_of!(Bucket, slots), 8);
        assert!(std::mem::offset_of!(Bucket, slots) + FIRST_LINE_SLOTS * 8 <= 64);
        assert!(std::mem::size_of::<CounterBlock>() <= 256);
        let t = Conntrack::with_seed(1000, Timeouts::default(), 1);
        assert_eq!(t.capacity(), 1000);
        assert!(t.key_slots() >= 2000 * 4 / 3 && t.key_slots() < 2000 * 4 / 3 + SLOTS);
        assert!(t.is_empty());
        validate(&t).unwrap();
        // 64 + 2 * (128 + 16)/15 * 4/3 bytes per connection (+ 4 KiB of stack heads
        // and counters).
        let t = Conntrack::with_seed(100_000, Timeouts::default(), 1);
        let per = t.memory_bytes() as f64 / 100_000.0;
        assert!((89.3..90.3).contains(&per), "{per} bytes per connection");
    }

    #[test]
    fn conn_packing_round_trips_and_keys() {
        let c = trace_conn();
        assert_eq!(Conn::unpack(&c.pack()), c);
        let p = Conn {
            snat: None,
            owner: 0xffff,
            service: u32::MAX,
            backend_id: 7,
            ..c
        };
        assert_eq!(Conn::unpack(&p.pack()), p);
        for x in [c, p] {
            let w = x.pack();
            assert_eq!(entry_key(&w, false), pack_key(&x.original_key()));
            assert_eq!(entry_key(&w, true), pack_key(&x.reply_key()));
        }
        let rk = c.reply_key();
        assert_eq!(
            (rk.src, rk.src_port, rk.dst, rk.dst_port),
            (
                Ipv4Addr::new(10, 255, 0, 6),
                80,
                Ipv4Addr::new(10, 255, 0, 2),
                65408
            )
        );
        let rk = p.reply_key();
        assert_eq!(
            (rk.dst, rk.dst_port),
            (Ipv4Addr::new(92, 234, 68, 72), 53711)
        );
    }

    #[test]
    fn free_slot_finds_the_first_free_slot_and_counts_the_used_ones() {
        let b = Bucket::default();
        b.header.lock();
        assert_eq!(b.free_slot(None), (Some(0), 0));
        assert_eq!(b.free_slot(Some(0)), (Some(1), 1));
        for i in [0, 1, 3] {
            b.write_slot(i, 1);
        }
        assert_eq!(b.free_slot(None), (Some(2), 3));
        assert_eq!(b.free_slot(Some(2)), (Some(4), 4));
        for i in 0..SLOTS {
            b.write_slot(i, 1);
        }
        assert_eq!(b.free_slot(None), (None, SLOTS));
        b.write_slot(SLOTS - 1, 0);
        assert_eq!(b.free_slot(None), (Some(SLOTS - 1), SLOTS - 1));
        assert_eq!(b.free_slot(Some(SLOTS - 1)), (None, SLOTS));
        assert_eq!(b.occupancy(), OCC_MASK >> 1);
        b.header.unlock();
    }

    #[test]
    fn a_hit_decodes_the_fields_of_its_conn() {
        let t = Conntrack::with_seed(64, Timeouts::default(), 7);
        for c in [
            trace_conn(),
            Conn {
                snat: None,
                ..trace_conn()
            },
        ] {
            let hit = t.insert(&c, CtState::SynSent, 100).unwrap();
            for h in [hit, t.lookup(&c.reply_key()).unwrap()] {
                assert_eq!(h.conn(), c);
                assert_eq!(
                    (
                        h.client(),
                        h.published(),
                        h.backend(),
                        h.snat(),
                        h.backend_id()
                    ),
                    (c.client, c.published, c.backend, c.snat, c.backend_id)
                );
            }
            t.remove(hit.idx, hit.gen).unwrap();
        }
    }

    proptest! {
        #[test]
        fn a_key_packed_from_the_wire_is_the_key_packed(
            proto: u8, src: u32, dst: u32, src_port: u16, dst_port: u16
        ) {
            let k = FlowKey { proto, src: src.into(), dst: dst.into(), src_port, dst_port };
            let wire = PackedKey::from_wire(
                (src as u64) << 32 | dst as u64,
                (src_port as u32) << 16 | dst_port as u32,
                proto,
            );
            prop_assert_eq!(wire, PackedKey::of(&k));
            prop_assert_eq!(wire.proto(), proto);
        }
    }

    #[test]
    fn insert_and_lookup_both_directions() {
        let t = Conntrack::with_seed(64, Timeouts::default(), 7);
        let c = trace_conn();
        let hit = t.insert(&c, CtState::SynSent, 100).unwrap();
        assert_eq!(
            (hit.dir, hit.conn(), hit.state),
            (Dir::Original, c, CtState::SynSent)
        );
        let o = t.lookup(&c.original_key()).unwrap();
        assert_eq!(
            (o.idx, o.gen, o.dir, o.conn()),
            (hit.idx, hit.gen, Dir::Original, c)
        );
        let r = t.lookup(&c.reply_key()).unwrap();
        assert_eq!((r.idx, r.dir, r.conn()), (hit.idx, Dir::Reply, c));
        // The other ways round, and near misses, are not tracked.
        let mut k = c.original_key();
        k.src_port += 1;
        assert!(t.lookup(&k).is_none());
        let mut k = c.original_key();
        k.proto = UDP;
        assert!(t.lookup(&k).is_none());
        let k = c.original_key();
        let swapped = FlowKey {
            src: k.dst,
            dst: k.src,
            src_port: k.dst_port,
            dst_port: k.src_port,
            ..k
        };
        assert!(t.lookup(&swapped).is_none());
        // Preserve-client-IP mode: the reply key is backend -> client.
        let p = Conn {
            snat: None,
            client: sa([92, 234, 68, 73], 53711),
            ..c
        };
        let ph = t.insert(&p, CtState::SynSent, 100).unwrap();
        let pr = t.lookup(&FlowKey {
            proto: TCP,
            src: Ipv4Addr::new(10, 255, 0, 6),
            src_port: 80,
            dst: Ipv4Addr::new(92, 234, 68, 73),
            dst_port: 53711,
        });
        assert_eq!(pr.map(|h| (h.idx, h.dir)), Some((ph.idx, Dir::Reply)));
        assert_eq!(t.len(), 2);
        assert_eq!(t.stats().created, 2);
        assert_eq!(t.stats().in_state(CtState::SynSent), 2);
        validate(&t).unwrap();
    }

    #[test]
    fn summaries_hold_every_key_and_rule_out_most_absent_ones() {
        // A full table: 75 % of the key slots.
        let t = Conntrack::with_seed(4096, Timeouts::default(), 5);
        let hits: Vec<CtHit> = (0..4096)
            .map(|n| {
                t.insert(&conn(n, n % 2 == 0), CtState::Established, 1)
                    .unwrap()
            })
            .collect();
        validate(&t).unwrap();
        let absent: Vec<FlowKey> = (0..8192)
            .map(|i| conn(100_000 + i, true).original_key())
            .collect();
        let ruled_out = absent
            .iter()
            .filter(|k| {
                let p = t.pos(&pack_key(k));
                !t.summary[p.b1].holds(p.tag) && !t.summary[p.b2].holds(p.tag)
            })
            .count();
        // ~6 bits of 64 set in each word read: ~84 % ruled out.
        assert!(
            ruled_out * 100 > absent.len() * 78,
            "{ruled_out} of {}",
            absent.len()
        );
        let mut out = vec![None; absent.len()];
        t.lookup_burst(&absent, &mut out);
        assert!(out.iter().all(|h| h.is_none()));
        // Removals clear their bits (validate recomputes every word); what is left
        // is still found, what was removed is not.
        for h in hits.iter().step_by(2) {
            t.remove(h.idx, h.gen).unwrap();
        }
        validate(&t).unwrap();
        let keys: Vec<FlowKey> = (0..4096)
            .flat_map(|n| {
                let c = conn(n, n % 2 == 0);
                [c.original_key(), c.reply_key()]
            })
            .collect();
        let mut out = vec![None; keys.len()];
        t.lookup_burst(&keys, &mut out);
        for (i, h) in out.iter().enumerate() {
            assert_eq!(h.is_some(), (i / 2) % 2 == 1, "key {i}");
        }
    }

    #[test]
    fn lookup_burst_matches_lookup() {
        let t = Conntrack::with_seed(300, Timeouts::default(), 17);
        for n in 0..225 {
            t.insert(&conn(n, n % 3 != 0), CtState::Established, 1)
                .unwrap();
        }
        // 75 keys: hits in both directions and misses, across a partial second chunk.
        let keys: Vec<FlowKey> = (0..75u32)
            .map(|i| {
                let c = conn(i * 3, (i * 3) % 3 != 0);
                match i % 3 {
                    0 => c.original_key(),
                    1 => c.reply_key(),
                    _ => conn(1000 + i, true).original_key(),
                }
            })
            .collect();
        let mut out = vec![None; keys.len()];
        t.lookup_burst(&keys, &mut out);
        let want: Vec<Option<CtHit>> = keys.iter().map(|k| t.lookup(k)).collect();
        assert_eq!(out, want);
        assert_eq!(out.iter().filter(|h| h.is_some()).count(), 50);
        t.lookup_burst(&[], &mut []);
        // Every key of the table, including those the burst's scan of first lines
        // does not see: in a bucket's second line, or in the secondary bucket.
        let beyond_first_line = t
            .buckets
            .iter()
            .flat_map(|b| &b.slots[FIRST_LINE_SLOTS..])
            .filter(|s| s.load(Relaxed) != 0)
            .count();
        let overflowing = t
            .buckets
            .iter()
            .filter(|b| Header::overflow(b.header.load()) != 0)
            .count();
        assert!(beyond_first_line > 0 && overflowing > 0);
        let all: Vec<FlowKey> = (0..225)
            .flat_map(|n| {
                let c = conn(n, n % 3 != 0);
                [c.original_key(), c.reply_key()]
            })
            .collect();
        let mut out = vec![None; all.len()];
        t.lookup_burst(&all, &mut out);
        assert!(out.iter().all(|h| h.is_some()));
        let want: Vec<Option<CtHit>> = all.iter().map(|k| t.lookup(k)).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn insert_of_a_tracked_flow_returns_the_existing_entry() {
        let t = Conntrack::with_seed(64, Timeouts::default(), 7);
        let c = trace_conn();
        let first = t.insert(&c, CtState::SynSent, 1).unwrap();
        // Another worker raced with another SNAT port: the first entry wins.
        let other = Conn {
            snat: Some(sa([10, 255, 0, 2], 1111)),
            owner: 5,
            ..c
        };
        match t.insert(&other, CtState::SynSent, 1) {
            Err(CtInsertError::Exists(h)) => {
                assert_eq!((h.idx, h.gen, h.conn()), (first.idx, first.gen, c))
            }
            r => panic!("{r:?}"),
        }
        // Its reply key (a different SNAT port) was not published.
        assert!(t.lookup(&other.reply_key()).is_none());
        // A different flow whose reply key is taken: conflict (preserve mode, two
        // published ports on the same backend port, same client port).
        let p1 = Conn { snat: None, ..c };
        let p2 = Conn {
            snat: None,
            published: sa([10, 0, 0, 4], 8080),
            ..c
        };
        t.remove(first.idx, first.gen).unwrap();
        t.insert(&p1, CtState::SynSent, 1).unwrap();
        assert_eq!(
            t.insert(&p2, CtState::SynSent, 1),
            Err(CtInsertError::KeyConflict)
        );
        let s = t.stats();
        assert_eq!((s.created, s.exists, s.conflicts, s.removed), (2, 1, 1, 1));
        assert_eq!(t.len(), 1);
        validate(&t).unwrap();
    }

    /// Runs packets (dir, flags) through `observe` and returns the states after each.
    fn run(t: &Conntrack, hit: &CtHit, pkts: &[(Dir, u8)]) -> Vec<CtState> {
        pkts.iter()
            .map(|&(d, f)| t.observe(&CtHit { dir: d, ..*hit }, f, 1))
            .collect()
    }

    /// Start state, packets (direction, flags), states after each packet.
    type Case = (CtState, &'static [(Dir, u8)], &'static [CtState]);

    #[test]
    fn tcp_state_machine() {
        use CtState::*;
        use Dir::{Original as O, Reply as R};
        let cases: &[Case] = &[
            // Handshake.
            (
                SynSent,
                &[(O, SYN), (R, SYNACK), (R, SYNACK), (O, ACK), (R, ACK)],
                &[SynSent, SynRecv, SynRecv, Established, Established],
            ),
            // Client closes first: FIN, ACK, FIN, ACK.
            (
                Established,
                &[(O, FINACK), (R, ACK), (R, FINACK), (R, FINACK), (O, ACK)],
                &[FinWait, FinWait, Closing, Closing, TimeWait],
            ),
            // Backend closes first; the client's retransmitted FIN is not the last ACK.
            (
                Established,
                &[(R, FINACK), (O, FINACK), (O, FINACK), (R, ACK)],
                &[FinWait, Closing, Closing, TimeWait],
            ),
            // Half-close: data keeps flowing after one FIN.
            (Established, &[(O, FIN), (O, ACK), (R, ACK)], &[FinWait; 3]),
            // Simultaneous close: the FINs cross, then both ACK.
            (
                Established,
                &[(O, FINACK), (R, FINACK), (R, ACK), (O, ACK)],
                &[FinWait, Closing, Closing, TimeWait],
            ),
            // RST from either side, in any TCP state.
            (SynSent, &[(R, RST | ACK)], &[Closed]),
            (SynRecv, &[(O, RST)], &[Closed]),
            (Established, &[(R, RST)], &[Closed]),
            (FinWait, &[(O, RST)], &[Closed]),
            (TimeWait, &[(O, RST)], &[Closed]),
            // A new SYN reuses the tuple after close; a reply SYN does not.
            (TimeWait, &[(R, SYN), (O, SYN)], &[TimeWait, SynSent]),
            (
                Closed,
                &[(O, SYNACK), (O, SYN), (R, SYNACK)],
                &[Closed, SynSent, SynRecv],
            ),
            // Simultaneous open; FIN in the third step of the handshake.
            (SynSent, &[(R, SYN), (O, FINACK)], &[SynRecv, FinWait]),
            // Nothing moves a SYN_SENT but the backend's SYN.
            (SynSent, &[(O, ACK), (O, FIN), (R, ACK)], &[SynSent; 3]),
            // UDP: replied on the first reply, whatever the flags.
            (
                UdpNew,
                &[(O, 0), (O, RST), (R, 0), (O, 0), (R, FIN)],
                &[UdpNew, UdpNew, UdpReplied, UdpReplied, UdpReplied],
            ),
        ];
        let t = Conntrack::with_seed(64, Timeouts::default(), 3);
        for (n, &(start, pkts, want)) in cases.iter().enumerate() {
            let hit = t.insert(&conn(n as u32, true), start, 1).unwrap();
            assert_eq!(run(&t, &hit, pkts), want, "case {n}: from {start:?}");
            assert_eq!(
                t.lookup(&hit.conn().original_key()).unwrap().state,
                *want.last().unwrap()
            );
        }
        validate(&t).unwrap();
        // Gauges follow the transitions.
        let s = t.stats();
        let finals: Vec<CtState> = cases.iter().map(|c| *c.2.last().unwrap()).collect();
        for st in CtState::ALL {
            let n = finals.iter().filter(|&&f| f == st).count() as u64;
            assert_eq!(s.in_state(st), n, "{st}");
        }
    }

    #[test]
    fn observe_refreshes_last_seen_once_per_second_and_per_direction() {
        let t = Conntrack::with_seed(16, Timeouts::default(), 3);
        let hit = insert_assured(&t, &conn(1, true), 100);
        let e = &t.entries[hit.idx as usize];
        let words = |e: &Entry| {
            (
                e.state.load(Relaxed),
                e.last_seen[0].load(Relaxed),
                e.last_seen[1].load(Relaxed),
            )
        };
        let before = words(e);
        t.observe(&hit, ACK, 100);
        t.observe(&hit, ACK, 99); // a lagging clock never moves it back
        assert_eq!(words(e), before, "a same-second packet wrote");
        t.observe(&hit, ACK, 105);
        t.observe(
            &CtHit {
                dir: Dir::Reply,
                ..hit
            },
            ACK,
            107,
        );
        assert_eq!(words(e), (before.0, 105, 107));
        assert_eq!(t.entries(&CtFilter::all(), 110)[0].idle, 3);
        // A stale hit (the entry was reused) changes nothing.
        t.remove(hit.idx, hit.gen).unwrap();
        let c2 = Conn {
            owner: hit.conn().owner,
            ..conn(2, true)
        };
        let again = t.insert(&c2, CtState::SynSent, 200).unwrap();
        assert_eq!(again.idx, hit.idx, "the freed entry is reused first");
        assert_ne!(again.gen, hit.gen);
        let before = words(e);
        assert_eq!(t.observe(&hit, RST, 300), CtState::Closed);
        assert_eq!(words(e), before);
        assert_eq!(
            t.lookup(&again.conn().original_key()).unwrap().state,
            CtState::SynSent
        );
        validate(&t).unwrap();
    }

    #[test]
    fn timeouts_per_state() {
        let to = Timeouts {
            syn: 11,
            established: 100,
            closing: 13,
            time_wait: 14,
            closed: 5,
            udp: 16,
            udp_replied: 17,
        };
        let long = Timeouts {
            established: 1000,
            ..to
        };
        // Service 1 has a longer established timeout.
        let per_service = |s: u32| if s == 1 { long } else { to };
        for st in CtState::ALL {
            for service in [0u32, 1] {
                let t = Conntrack::with_seed(8, to, 5);
                let c = Conn {
                    service,
                    ..if st.is_udp() { udp(1) } else { conn(1, true) }
                };
                let hit = t.insert(&c, st, 1000).unwrap();
                // A later packet (reply direction for TCP: the latest of the two
                // counts; original for UDP, to stay `UdpNew`) keeps it alive.
                let dir = if st.is_udp() {
                    Dir::Original
                } else {
                    Dir::Reply
                };
                assert_eq!(t.observe(&CtHit { dir, ..hit }, 0, 1002), st);
                let limit = per_service(service).of(st);
                let mut removed = Vec::new();
                assert_eq!(
                    t.sweep(1002 + limit - 1, per_service, |c| removed.push(*c)),
                    0
                );
                assert_eq!(t.len(), 1, "{st} removed before {limit} s");
                assert_eq!(t.sweep(1002 + limit, per_service, |c| removed.push(*c)), 1);
                assert!(t.is_empty(), "{st} kept after {limit} s");
                assert_eq!(removed, vec![c]);
                assert_eq!(t.stats().expired, 1);
                assert!(t.lookup(&c.original_key()).is_none());
                assert!(t.lookup(&c.reply_key()).is_none());
                validate(&t).unwrap();
            }
        }
        assert_eq!(Timeouts::default().of(CtState::Established), 7440);
    }

    /// Inserts `c` as established and assures it with a reply at `now`.
    fn insert_assured(t: &Conntrack, c: &Conn, now: u32) -> CtHit {
        let hit = t.insert(c, CtState::Established, now).unwrap();
        let reply = CtHit {
            dir: Dir::Reply,
            ..hit
        };
        assert_eq!(t.observe(&reply, ACK, now), CtState::Established);
        t.lookup(&c.original_key()).unwrap()
    }

    #[test]
    fn full_table_refuses_and_counts() {
        let t = Conntrack::with_seed(100, Timeouts::default(), 9);
        for n in 0..100 {
            insert_assured(&t, &conn(n, true), 1);
        }
        assert_eq!(t.len(), 100);
        assert_eq!(
            t.insert(&conn(100, true), CtState::SynSent, 2),
            Err(CtInsertError::Full)
        );
        assert_eq!(
            t.insert(&conn(101, false), CtState::SynSent, 2),
            Err(CtInsertError::Full)
        );
        let s = t.stats();
        assert_eq!((s.created, s.refused, s.evicted, s.expired), (100, 2, 0, 0));
        assert!(t.lookup(&conn(100, true).original_key()).is_none());
        validate(&t).unwrap();
        // Once the established entries have expired, an insert reclaims one itself.
        let hit = t
            .insert(&conn(100, true), CtState::SynSent, 1 + 7440)
            .unwrap();
        assert_eq!(t.stats().expired, 1);
        assert_eq!(t.len(), 100);
        assert_eq!(t.lookup(&conn(100, true).reply_key()).unwrap().idx, hit.idx);
        validate(&t).unwrap();
    }

    /// The ACK flood of the edge-hardening issue: a table filled by spoofed
    /// mid-stream segments (picked up, never answered) does not lock out new
    /// clients: each new one evicts the oldest stranger, assured connections stay.
    #[test]
    fn a_table_full_of_unassured_pickups_admits_new_connections() {
        let t = Conntrack::with_seed(64, Timeouts::default(), 21);
        for n in 0..8 {
            insert_assured(&t, &conn(n, true), 1);
        }
        let mut flood = 0;
        for n in 1000..1000 + 64 {
            if t.insert(&conn(n, true), CtState::Established, 2).is_ok() {
                flood += 1;
            }
        }
        assert_eq!(t.len(), 64, "{flood} pick-ups fill the table");
        let s = t.stats();
        assert_eq!((s.assured, s.unassured()), (8, 56));
        for n in 100..140 {
            let hit = t
                .insert(&conn(n, true), CtState::SynSent, 3)
                .expect("a new client is admitted");
            assert!(!hit.assured);
        }
        let s = t.stats();
        assert_eq!(s.refused, 0);
        assert!(s.early_evicted >= 40, "{s:?}");
        assert_eq!(s.early_evicted, s.evicted);
        for n in 0..8 {
            let h = t.lookup(&conn(n, true).original_key()).unwrap();
            assert!(h.assured && h.state == CtState::Established);
        }
        validate(&t).unwrap();
        // And the pick-ups that are left expire after the SYN timeout, the assured
        // ones only after the established timeout.
        let to = Timeouts::default();
        t.sweep(3 + to.syn, |_| to, |_| {});
        assert_eq!(t.len(), 8);
        assert_eq!(t.stats().assured, 8);
        validate(&t).unwrap();
    }

    #[test]
    fn an_idle_unassured_connection_gives_up_its_reply_key() {
        let t = Conntrack::with_seed(64, Timeouts::default(), 22);
        // Two flows of other clients drawing the same SNAT port towards one backend.
        let holder = conn(7, true);
        let newcomer = Conn {
            client: sa([198, 51, 100, 9], 40000),
            ..holder
        };
        assert_eq!(holder.reply_key(), newcomer.reply_key());
        t.insert(&holder, CtState::Established, 10).unwrap();
        // Not yet idle for a second: kept.
        assert_eq!(
            t.insert(&newcomer, CtState::SynSent, 10),
            Err(CtInsertError::KeyConflict)
        );
        // Idle: taken over.
        let hit = t.insert(&newcomer, CtState::SynSent, 11).unwrap();
        assert_eq!(t.lookup(&holder.original_key()), None);
        assert_eq!(t.lookup(&newcomer.reply_key()).unwrap().idx, hit.idx);
        let s = t.stats();
        assert_eq!((s.early_evicted, s.evicted, s.conflicts), (1, 1, 1));
        // An assured holder is never taken over, however idle.
        let t = Conntrack::with_seed(64, Timeouts::default(), 22);
        insert_assured(&t, &holder, 10);
        assert_eq!(
            t.insert(&newcomer, CtState::SynSent, 500),
            Err(CtInsertError::KeyConflict)
        );
        assert!(t.lookup(&holder.original_key()).is_some());
        // Nor a finished one (TIME_WAIT keeps its port, as in Linux NAT).
        let t = Conntrack::with_seed(64, Timeouts::default(), 22);
        t.insert(&holder, CtState::TimeWait, 10).unwrap();
        assert_eq!(
            t.insert(&newcomer, CtState::SynSent, 20),
            Err(CtInsertError::KeyConflict)
        );
        validate(&t).unwrap();
    }

    #[test]
    fn eviction_order_expired_then_half_open_oldest_then_finished_never_established() {
        let to = Timeouts {
            syn: 1000,
            established: 1000,
            closing: 1000,
            time_wait: 1000,
            closed: 30,
            udp: 1000,
            udp_replied: 1000,
        };
        // Capacity 5: two buckets, so every entry is in every insert's window.
        let released = Arc::new(Mutex::new(Vec::new()));
        let r2 = released.clone();
        let mut t = Conntrack::with_seed(5, to, 11);
        t.release = Some(Box::new(move |c: &Conn| {
            r2.lock().unwrap().push(c.client.port())
        }));
        assert_eq!(t.buckets.len(), 2);
        let ins = |n: u32, st, now| t.insert(&conn(n, true), st, now).unwrap();
        insert_assured(&t, &conn(1, true), 1); // oldest of all, never evicted
        ins(2, CtState::SynSent, 10);
        ins(3, CtState::Closed, 100); // expired at 130, although the newest
        ins(4, CtState::UdpNew, 12);
        ins(5, CtState::TimeWait, 20); // finished
        let order = |n: u32| {
            t.insert(&conn(n, true), CtState::Established, 140)
                .map(|h| {
                    // Assured at once, so that it is not the next victim.
                    t.observe(
                        &CtHit {
                            dir: Dir::Reply,
                            ..h
                        },
                        ACK,
                        140,
                    );
                    *released.lock().unwrap().last().unwrap()
                })
        };
        assert_eq!(order(10), Ok(3), "expired first");
        assert_eq!(order(11), Ok(2), "then the oldest half-open (SynSent @10)");
        assert_eq!(order(12), Ok(4), "then UdpNew @12");
        assert_eq!(order(13), Ok(5), "then the finished TimeWait");
        assert_eq!(order(14), Err(CtInsertError::Full), "only established left");
        let s = t.stats();
        assert_eq!((s.expired, s.evicted, s.refused), (1, 3, 1));
        assert_eq!(t.len(), 5);
        assert!(t.lookup(&conn(1, true).original_key()).is_some());
        assert_eq!(released.lock().unwrap().len(), 4);
        validate(&t).unwrap();
    }

    #[test]
    fn window_full_evicts_from_the_window_only() {
        // A table with plenty of entries but keys crammed into a few buckets is not
        // reachable with random hashing; instead fill until the first key-slot
        // failure and check that a half-open entry in the window makes room.
        let t = Conntrack::with_seed(2000, Timeouts::default(), 13);
        let mut n = 0;
        loop {
            match t.insert(&conn(n, true), CtState::SynSent, 1) {
                Ok(_) => n += 1,
                Err(CtInsertError::Full) => unreachable!("half-open entries are evictable"),
                Err(e) => panic!("{e}"),
            }
            if t.stats().evicted > 0 {
                break;
            }
            assert!(n < 10_000, "no eviction");
        }
        let s = t.stats();
        assert_eq!(s.refused, 0);
        assert_eq!(t.len() as u64, s.created - s.evicted);
        validate(&t).unwrap();
    }

    #[test]
    fn flush_remove_entries_and_release_hook() {
        let released = Arc::new(AtomicU64::new(0));
        let r2 = released.clone();
        let t = Conntrack::with_release(64, Timeouts::default(), move |_| {
            r2.fetch_add(1, Relaxed);
        });
        for n in 0..30 {
            t.insert(&conn(n, n % 2 == 0), CtState::Established, 5)
                .unwrap();
        }
        let f = CtFilter::all().service(1);
        let listed = t.entries(&f, 9);
        assert_eq!(listed.len(), 10);
        assert!(listed.iter().all(|e| e.conn.service == 1 && e.idle == 4));
        assert_eq!(
            t.entries(
                &CtFilter::all().backend_id(2).state(CtState::Established),
                9
            )
            .len(),
            6
        );
        assert_eq!(
            t.entries(&CtFilter::all().backend(Ipv4Addr::new(10, 255, 0, 12)), 9)
                .len(),
            6
        );
        assert_eq!(
            t.entries(&CtFilter::all().client(*conn(7, true).client.ip()), 9)
                .len(),
            30
        );
        assert_eq!(t.flush(&f), 10);
        assert_eq!(t.flush(&f), 0);
        assert_eq!(t.len(), 20);
        let e = listed[0];
        assert_eq!(t.remove(e.idx, e.gen), None, "already flushed");
        let c = conn(0, true);
        assert_eq!(t.remove_key(&c.reply_key()), Some(c));
        assert_eq!(t.remove_key(&c.reply_key()), None);
        assert_eq!(t.sweep(5 + 7440, |_| Timeouts::default(), |_| {}), 19);
        assert_eq!(released.load(Relaxed), 30);
        let s = t.stats();
        assert_eq!((s.removed, s.expired, s.created), (11, 19, 30));
        validate(&t).unwrap();
    }

    #[test]
    fn seqlock_read_retries_when_a_write_lands_in_the_middle() {
        let b = Bucket::default();
        b.slots[0].store(11, Relaxed);
        b.slots[SLOTS - 1].store(111, Relaxed);
        let calls = std::cell::Cell::new(0);
        // A writer slips in after the first half of the slots was copied.
        let (s, _) = b.read_with(|| {
            if calls.get() == 0 {
                b.header.lock();
                b.write_slot(0, 22);
                b.write_slot(SLOTS - 1, 222);
                b.header.unlock();
            }
            calls.set(calls.get() + 1);
        });
        assert_eq!(
            (s[0], s[SLOTS - 1]),
            (22, 222),
            "a torn (old, new) copy was accepted"
        );
        assert_eq!(calls.get(), 2);
        // The lock bit and the overflow count alone do not force a retry.
        calls.set(0);
        let (s, _) = b.read_with(|| {
            if calls.get() == 0 {
                b.header.lock();
                b.header.add_overflow(1);
                b.header.unlock();
            }
            calls.set(calls.get() + 1);
        });
        assert_eq!((s[0], calls.get()), (22, 1));
        // A reader waits while a write is in progress.
        let b = Arc::new(Bucket::default());
        b.header.lock();
        b.header.begin_write();
        b.slots[0].store(5, Relaxed);
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (b, done) = (b.clone(), done.clone());
            std::thread::spawn(move || {
                let (s, _) = b.read();
                done.store(true, Relaxed);
                s[0]
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!done.load(Relaxed), "read while the sequence was odd");
        b.slots[0].store(6, Relaxed);
        b.header.end_write();
        b.header.unlock();
        assert_eq!(reader.join().unwrap(), 6);
    }

    #[test]
    fn entry_read_retries_when_the_entry_is_reused_in_the_middle() {
        let t = Conntrack::with_seed(8, Timeouts::default(), 2);
        let a = conn(1, true);
        let b = Conn {
            owner: a.owner,
            ..conn(2, false)
        };
        let ha = t.insert(&a, CtState::Established, 1).unwrap();
        let calls = std::cell::Cell::new(0);
        let snap = t
            .read_entry_with(ha.idx as usize, || {
                if calls.get() == 0 {
                    // Another thread removes the connection and reuses the entry.
                    t.remove(ha.idx, ha.gen).unwrap();
                    let hb = t.insert(&b, CtState::SynSent, 2).unwrap();
                    assert_eq!(hb.idx, ha.idx);
                }
                calls.set(calls.get() + 1);
            })
            .unwrap();
        assert_eq!(Conn::unpack(&snap.w), b, "a torn (a, b) entry was accepted");
        assert_eq!(CtState::from_word(snap.state), CtState::SynSent);
        assert_eq!(calls.get(), 2);
        // A freed entry reads as None.
        t.remove(ha.idx, snap.gen()).unwrap();
        assert!(t.read_entry(ha.idx as usize).is_none());
    }

    /// The conn a stress thread may have stored for flow `n` (SNAT port encodes the
    /// thread): anything else in a hit is a torn or foreign read.
    fn stress_conn(n: u32, thread: u16) -> Conn {
        Conn {
            snat: Some(SocketAddrV4::new(
                Ipv4Addr::new(10, 255, 0, 2),
                (n as u16) ^ (thread << 13),
            )),
            owner: thread,
            ..conn(n, true)
        }
    }

    #[test]
    fn concurrent_inserts_lookups_observes_and_a_sweeper() {
        const THREADS: u16 = 3;
        const FLOWS: u32 = 3000;
        let released = Arc::new(AtomicU64::new(0));
        let r2 = released.clone();
        let mut t = Conntrack::with_seed(
            1200,
            Timeouts {
                syn: 2,
                established: 3,
                ..Timeouts::default()
            },
            21,
        );
        t.release = Some(Box::new(move |_| {
            r2.fetch_add(1, Relaxed);
        }));
        let t = Arc::new(t);
        let clock = Arc::new(AtomicU32::new(1));
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + Duration::from_millis(1500);
        let mut handles = Vec::new();
        for th in 0..THREADS {
            let (t, clock, stop) = (t.clone(), clock.clone(), stop.clone());
            handles.push(std::thread::spawn(move || {
                let mut rng = XorShift(0x9e37_79b9 * (th as u64 + 1));
                let mut n_ok = [0u64; 6]; // inserted, exists, full, hits, observes, removed
                let mut i = 0u64;
                while !stop.load(Relaxed) {
                    i += 1;
                    let r = rng.next();
                    let n = (r % FLOWS as u64) as u32;
                    let now = clock.load(Relaxed);
                    let c = stress_conn(n, th);
                    let dir = if r & (1 << 40) != 0 {
                        Dir::Reply
                    } else {
                        Dir::Original
                    };
                    match t.lookup(&c.key(Dir::Original)) {
                        Some(h) => {
                            n_ok[3] += 1;
                            assert_eq!(h.dir, Dir::Original);
                            assert!(
                                (0..THREADS).any(|o| h.conn() == stress_conn(n, o)),
                                "hit for flow {n} has a foreign conn {:?}",
                                h.conn()
                            );
                            // The reply key of whatever conn won also finds it (unless
                            // it is being removed right now).
                            if let Some(r) = t.lookup(&h.conn().reply_key()) {
                                if r.gen == h.gen && r.idx == h.idx {
                                    assert_eq!((r.dir, r.conn()), (Dir::Reply, h.conn()));
                                }
                            }
                            let flags = [SYN, SYNACK, ACK, FINACK, RST][(r >> 20) as usize % 5];
                            t.observe(&CtHit { dir, ..h }, flags, now);
                            n_ok[4] += 1;
                            if (r >> 50) & 7 == 7 && t.remove(h.idx, h.gen).is_some() {
                                n_ok[5] += 1;
                            }
                        }
                        None => {
                            let st = if r & (1 << 45) != 0 {
                                CtState::Established
                            } else {
                                CtState::SynSent
                            };
                            match t.insert(&c, st, now) {
                                Ok(_) => n_ok[0] += 1,
                                Err(CtInsertError::Exists(h)) => {
                                    n_ok[1] += 1;
                                    assert!((0..THREADS).any(|o| h.conn() == stress_conn(n, o)));
                                }
                                Err(CtInsertError::Full) => n_ok[2] += 1,
                                Err(CtInsertError::KeyConflict) => panic!("no conflicts here"),
                            }
                        }
                    }
                    if i.is_multiple_of(1024) && Instant::now() > deadline {
                        stop.store(true, Relaxed);
                    }
                }
                n_ok
            }));
        }
        let sweeper = {
            let (t, clock, stop) = (t.clone(), clock.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut rounds, mut swept, mut flushed) = (0u64, 0usize, 0usize);
                while !stop.load(Relaxed) {
                    rounds += 1;
                    let now = clock.fetch_add(1, Relaxed) + 1;
                    swept += t.sweep(now, |_| t.timeouts(), |_| {});
                    if rounds.is_multiple_of(5) {
                        flushed += t.flush(
                            &CtFilter::all()
                                .service((rounds % 3) as u32)
                                .state(CtState::Closed),
                        );
                    }
                    let es = t.entries(&CtFilter::all(), now);
                    let mut idx = HashSet::new();
                    for e in &es {
                        assert!(idx.insert(e.idx));
                    }
                    std::thread::sleep(Duration::from_micros(500));
                }
                (rounds, swept, flushed)
            })
        };
        let mut tot = [0u64; 6];
        for h in handles {
            for (a, b) in tot.iter_mut().zip(h.join().unwrap()) {
                *a += b;
            }
        }
        let (rounds, swept, flushed) = sweeper.join().unwrap();
        println!("inserted/exists/full/hits/observes/removed {tot:?}; {rounds} sweeps: {swept} expired, {flushed} flushed");
        validate(&t).unwrap();
        let s = t.stats();
        assert!(rounds > 10 && swept > 0, "the sweeper hardly ran");
        assert!(tot[0] > 1000 && tot[3] > 1000, "{tot:?}");
        assert_eq!(s.created, tot[0]);
        assert_eq!(s.exists, tot[1]);
        assert_eq!(s.refused, tot[2]);
        assert_eq!(s.removed, tot[5] + flushed as u64);
        assert!(s.expired >= swept as u64);
        assert_eq!(
            s.created,
            t.len() as u64 + s.expired + s.evicted + s.removed,
            "{s:?}"
        );
        assert_eq!(released.load(Relaxed), s.expired + s.evicted + s.removed);
        assert!(s.evicted + s.refused > 0, "the table never filled: {s:?}");
    }

    #[test]
    fn concurrent_removal_and_reuse_never_returns_a_wrong_conn() {
        // Two flows per entry-sized table keep reusing the same few entries while a
        // reader looks both keys up, one by one and as a burst (whose hinted slot
        // may be reused between its passes): a hit must always be the looked-up flow.
        let t = Arc::new(Conntrack::with_seed(4, Timeouts::default(), 5));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (t, stop) = (t.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rounds = 0u64;
                while !stop.load(Relaxed) {
                    for n in 0..8 {
                        let _ = t.insert(&conn(n, n % 2 == 0), CtState::Established, 1);
                        if (n as u64 + rounds).is_multiple_of(2) {
                            t.remove_key(&conn(n, n % 2 == 0).original_key());
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
            for n in 0..8 {
                let c = conn(n, n % 2 == 0);
                for dir in [Dir::Original, Dir::Reply] {
                    if let Some(h) = t.lookup(&c.key(dir)) {
                        hits += 1;
                        assert_eq!((h.conn(), h.dir), (c, dir));
                    }
                }
            }
            let want: Vec<(Conn, Dir)> = (0..8)
                .flat_map(|n| [Dir::Original, Dir::Reply].map(|d| (conn(n, n % 2 == 0), d)))
                .collect();
            let keys: Vec<FlowKey> = want.iter().map(|(c, d)| c.key(*d)).collect();
            let mut out = vec![None; keys.len()];
            t.lookup_burst(&keys, &mut out);
            for (h, w) in out.iter().zip(&want) {
                if let Some(h) = h {
                    hits += 1;
                    assert_eq!((h.conn(), h.dir), *w);
                }
            }
        }
        stop.store(true, Relaxed);
        let rounds = writer.join().unwrap();
        assert!(hits > 1000 && rounds > 100, "{hits} hits, {rounds} rounds");
        validate(&t).unwrap();
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u32, bool),
        Lookup(u32, bool),
        Observe(u32, bool, u8),
        Remove(u32),
        Sweep(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u32..24, any::<bool>()).prop_map(|(n, u)| Op::Insert(n, u)),
            3 => (0u32..24, any::<bool>()).prop_map(|(n, r)| Op::Lookup(n, r)),
            3 => (0u32..24, any::<bool>(), prop::sample::select(vec![SYN, SYNACK, ACK, FINACK, RST, 0]))
                .prop_map(|(n, r, f)| Op::Observe(n, r, f)),
            1 => (0u32..24).prop_map(Op::Remove),
            1 => (0u32..40).prop_map(Op::Sweep),
        ]
    }

    /// Flow `n` of the model: even ones SNATed, odd ones preserve the client IP.
    /// Flows 20-23 reuse the client port of 1-4 towards another published port,
    /// so preserve-mode ones collide on the reply key.
    fn model_conn(n: u32, udp_flow: bool) -> Conn {
        let base = n % 20;
        Conn {
            proto: if udp_flow { UDP } else { TCP },
            published: sa([10, 0, 0, 4], if n >= 20 { 81 } else { 80 }),
            ..conn(base, base.is_multiple_of(2))
        }
    }

    /// The model of one connection: conn, state, auxiliary bit, last_seen per
    /// direction, assured bit.
    type ModelConn = (Conn, CtState, bool, [u32; 2], bool);

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn matches_a_hashmap_model(ops in prop::collection::vec(op(), 1..120)) {
            let to = Timeouts { syn: 5, established: 20, closing: 7, time_wait: 9, closed: 3, udp: 6, udp_replied: 12 };
            let t = Conntrack::with_seed(64, to, 99);
            // (flow, udp) -> (conn, state, aux, last_seen[2])
            let mut model: HashMap<(u32, bool), ModelConn> = HashMap::new();
            let mut now = 100u32;
            for op in ops {
                match op {
                    Op::Insert(n, u) => {
                        let c = model_conn(n, u);
                        let st = if u { CtState::UdpNew } else { CtState::SynSent };
                        let exists = model.values().any(|m| m.0.original_key() == c.original_key());
                        let fwd_conflict = model.values().any(|m| {
                            let ks = [m.0.original_key(), m.0.reply_key()];
                            ks.contains(&c.original_key()) && m.0.original_key() != c.original_key()
                        });
                        // The reply key's holder gives it up when unassured, not
                        // finished and idle for TAKEOVER_IDLE.
                        let holder = model.iter().find(|(_, m)| {
                            [m.0.original_key(), m.0.reply_key()].contains(&c.reply_key())
                        }).map(|(&k, m)| (k, !m.4 && !m.1.is_finished()
                            && elapsed(now, latest(m.3[0], m.3[1])) >= TAKEOVER_IDLE));
                        let conflict = fwd_conflict || holder.is_some_and(|(_, takeable)| !takeable);
                        match t.insert(&c, st, now) {
                            Ok(h) => {
                                prop_assert!(!exists && !conflict);
                                prop_assert_eq!(h.conn(), c);
                                if let Some((k, _)) = holder {
                                    model.remove(&k);
                                }
                                model.insert((n, u), (c, st, false, [now; 2], false));
                            }
                            Err(CtInsertError::Exists(h)) => {
                                prop_assert!(exists);
                                prop_assert_eq!(h.conn().original_key(), c.original_key());
                            }
                            Err(CtInsertError::KeyConflict) => prop_assert!(conflict && !exists),
                            Err(CtInsertError::Full) => prop_assert!(false, "full at {}", model.len()),
                        }
                    }
                    Op::Lookup(n, reply) => {
                        for u in [false, true] {
                            let c = model_conn(n, u);
                            let dir = if reply { Dir::Reply } else { Dir::Original };
                            let key = c.key(dir);
                            let want = model.iter().find_map(|(&m, e)| {
                                if e.0.original_key() == key { Some((m, Dir::Original)) }
                                else if e.0.reply_key() == key { Some((m, Dir::Reply)) }
                                else { None }
                            });
                            let got = t.lookup(&key);
                            prop_assert_eq!(got.is_some(), want.is_some(), "{:?}", key);
                            if let (Some(h), Some((m, d))) = (got, want) {
                                prop_assert_eq!(h.dir, d);
                                prop_assert_eq!(h.conn(), model[&m].0);
                                prop_assert_eq!(h.state, model[&m].1);
                            }
                        }
                    }
                    Op::Observe(n, reply, flags) => {
                        now += 1;
                        let dir = if reply { Dir::Reply } else { Dir::Original };
                        for u in [false, true] {
                            let key = model_conn(n, u).original_key();
                            if let Some(h) = t.lookup(&key) {
                                let got = t.observe(&CtHit { dir, ..h }, flags, now);
                                let m = model.values_mut().find(|m| m.0.original_key() == key).unwrap();
                                let (st, aux, assured) = step(m.1, m.2, m.4, dir, flags);
                                m.1 = st;
                                m.2 = aux;
                                m.4 = assured;
                                m.3[dir as usize] = now;
                                prop_assert_eq!(got, st);
                            }
                        }
                    }
                    Op::Remove(n) => {
                        for u in [false, true] {
                            let key = model_conn(n, u).original_key();
                            let want = model.iter().find(|(_, e)| e.0.original_key() == key).map(|(&m, _)| m);
                            let got = t.remove_key(&key);
                            prop_assert_eq!(got, want.map(|m| model[&m].0));
                            if let Some(m) = want {
                                model.remove(&m);
                            }
                        }
                    }
                    Op::Sweep(dt) => {
                        now += dt;
                        let mut gone = HashSet::new();
                        t.sweep(now, |_| to, |c| { gone.insert(c.original_key()); });
                        let want: HashSet<FlowKey> = model.values()
                            .filter(|m| elapsed(now, latest(m.3[0], m.3[1])) >= to.of_entry(m.1, m.4))
                            .map(|m| m.0.original_key())
                            .collect();
                        prop_assert_eq!(&gone, &want);
                        model.retain(|_, m| !want.contains(&m.0.original_key()));
                    }
                }
                prop_assert_eq!(t.len(), model.len());
            }
            validate(&t).map_err(TestCaseError::fail)?;
        }
    }

    // ---- Timing (not a test: run with --release -- --ignored --nocapture) ----

    #[test]
    #[ignore]
    fn bench_conntrack() {
        use std::hint::black_box;
        let cap = 2usize << 20;
        let n = 1usize << 20;
        let t0 = Instant::now();
        let t = Conntrack::new(cap, Timeouts::default());
        let build = t0.elapsed();
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let mk = |r: u64, i: u32| Conn {
            proto: TCP,
            client: SocketAddrV4::new(Ipv4Addr::from((r >> 32) as u32), r as u16),
            published: sa([10, 0, 0, 4], 443),
            backend: SocketAddrV4::new(Ipv4Addr::from(0x0aff_0000 | (i % 200)), 8080),
            snat: Some(SocketAddrV4::new(
                Ipv4Addr::from(0x0aff_0002 + (i >> 16)),
                i as u16,
            )),
            service: i % 8,
            backend_id: i % 200,
            owner: 0,
        };
        let mut conns = Vec::with_capacity(cap);
        let t0 = Instant::now();
        while conns.len() < n {
            let c = mk(rng.next(), conns.len() as u32);
            if t.insert(&c, CtState::Established, 1).is_ok() {
                conns.push(c);
            }
        }
        let fill = t0.elapsed().as_nanos() as f64 / n as f64;
        let order: Vec<usize> = (0..1 << 22)
            .map(|_| (rng.next() % n as u64) as usize)
            .collect();
        let keys: Vec<FlowKey> = order.iter().map(|&i| conns[i].original_key()).collect();
        let rkeys: Vec<FlowKey> = order.iter().map(|&i| conns[i].reply_key()).collect();
        let per = |d: Duration| d.as_nanos() as f64 / order.len() as f64;
        let t0 = Instant::now();
        let mut hits = 0;
        for k in &keys {
            hits += black_box(t.lookup(black_box(k))).is_some() as usize;
        }
        let hit_ns = per(t0.elapsed());
        assert_eq!(hits, order.len());
        let mut out = vec![None; LOOKUP_BURST];
        let t0 = Instant::now();
        let mut hits = 0;
        for ks in keys.chunks(LOOKUP_BURST) {
            t.lookup_burst(black_box(ks), &mut out[..ks.len()]);
            hits += out.iter().filter(|h| h.is_some()).count();
        }
        let burst_ns = per(t0.elapsed());
        assert_eq!(hits, order.len());
        // References on this machine: std HashMap (SipHash) with the same flows, and
        // one independent random 8-byte load per key from an array of the table's size.
        let map: HashMap<FlowKey, u32> = conns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.original_key(), i as u32))
            .collect();
        let t0 = Instant::now();
        for k in &keys {
            black_box(map.get(black_box(k)));
        }
        let map_ns = per(t0.elapsed());
        drop(map);
        let big: Vec<u64> = vec![1; t.memory_bytes() / 8];
        let t0 = Instant::now();
        let mut acc = 0u64;
        for &i in &order {
            acc = acc.wrapping_add(big[(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7) % big.len()]);
        }
        black_box(acc);
        let load_ns = per(t0.elapsed());
        drop(big);
        let t0 = Instant::now();
        for k in &rkeys {
            black_box(t.lookup(black_box(k)));
        }
        let rhit_ns = per(t0.elapsed());
        let t0 = Instant::now();
        for k in &keys {
            if let Some(h) = t.lookup(k) {
                black_box(t.observe(&h, ACK, 1));
            }
        }
        let obs_ns = per(t0.elapsed());
        let misses: Vec<FlowKey> = (0..order.len())
            .map(|i| mk(rng.next(), i as u32).original_key())
            .collect();
        let t0 = Instant::now();
        for k in &misses {
            black_box(t.lookup(black_box(k)));
        }
        let miss_ns = per(t0.elapsed());
        // Same lookups in a small (cache-resident) table for comparison.
        let small = Conntrack::new(20_000, Timeouts::default());
        for c in &conns[..10_000] {
            small.insert(c, CtState::Established, 1).unwrap();
        }
        let skeys: Vec<FlowKey> = order
            .iter()
            .map(|&i| conns[i % 10_000].original_key())
            .collect();
        let t0 = Instant::now();
        for k in &skeys {
            black_box(small.lookup(black_box(k)));
        }
        let small_ns = per(t0.elapsed());
        // New connections with the table half full (1M of 2M), one thread.
        let extra = 200_000;
        let new: Vec<Conn> = (0..extra).map(|i| mk(rng.next(), (n + i) as u32)).collect();
        let t0 = Instant::now();
        let mut ok = 0;
        for c in &new {
            ok += t.insert(black_box(c), CtState::SynSent, 2).is_ok() as usize;
        }
        let ins = t0.elapsed();
        assert_eq!(ok, extra);
        // Steady state: remove one old, insert one new.
        let fresh: Vec<Conn> = (0..extra)
            .map(|i| mk(rng.next(), (n + extra + i) as u32))
            .collect();
        let t0 = Instant::now();
        for (i, c) in fresh.iter().enumerate() {
            t.remove_key(&conns[i].original_key()).unwrap();
            black_box(t.insert(c, CtState::SynSent, 2)).unwrap();
        }
        let churn = t0.elapsed();
        let t0 = Instant::now();
        let swept = t.sweep(3, |_| Timeouts::default(), |_| {});
        let sweep = t0.elapsed();
        assert_eq!(swept, 0);
        println!(
            "conntrack {n} flows, capacity {cap}, {:.0} MB ({:.1} B/conn), built in {:?}, filled at {fill:.0} ns/insert",
            t.memory_bytes() as f64 / 1e6,
            t.memory_bytes() as f64 / cap as f64,
            build
        );
        println!(
            "lookup hit original {hit_ns:.1} ns, reply {rhit_ns:.1} ns, miss {miss_ns:.1} ns, lookup+observe {obs_ns:.1} ns, lookup_burst {burst_ns:.1} ns/key; 10k-flow table hit {small_ns:.1} ns"
        );
        println!(
            "reference: std HashMap<FlowKey, u32> 1M get {map_ns:.1} ns; one random load from {} MB {load_ns:.1} ns",
            t.memory_bytes() >> 20
        );
        println!(
            "insert at 50% full: {:.0} ns = {:.2} M conn/s; remove+insert churn {:.0} ns/pair; full sweep of {cap} entries {:?}",
            ins.as_nanos() as f64 / extra as f64,
            extra as f64 / ins.as_secs_f64() / 1e6,
            churn.as_nanos() as f64 / extra as f64,
            sweep
        );
    }

    #[test]
    #[ignore]
    fn fill_until_a_window_is_full() {
        // More entries than keys fit: the first Full is the first full window.
        for &slots in &[3000usize, 300_000, 3 << 20] {
            for seed in 0..3u64 {
                let t =
                    Conntrack::with_layout(slots, slots / SLOTS, Timeouts::default(), seed, None);
                let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
                let mut n = 0usize;
                loop {
                    let r = rng.next();
                    let c = Conn {
                        client: SocketAddrV4::new(Ipv4Addr::from((r >> 32) as u32), r as u16),
                        snat: Some(SocketAddrV4::new(
                            Ipv4Addr::from(0x0aff_0002 + (n as u32 >> 16)),
                            n as u16,
                        )),
                        ..conn(0, true)
                    };
                    match t.insert(&c, CtState::Established, 1) {
                        Ok(_) => n += 1,
                        Err(CtInsertError::Full) => break,
                        Err(e) => panic!("{e}"),
                    }
                }
                println!(
                    "{} key slots, seed {seed}: first Full at {:.3} of the key slots (a table's capacity is 0.75)",
                    t.key_slots(),
                    2.0 * n as f64 / t.key_slots() as f64
                );
            }
        }
    }
}
