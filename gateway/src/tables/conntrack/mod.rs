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
//!     `ASSURED` bit (bit 5, see `state.rs`), one auxiliary bit of the TCP machine (bit
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
//!   core's L2), with bits `tag >> 33 & 63` and `tag >> 39 & 63` of word
//!   `tag >> 45 & 1` set for every key the bucket holds. A burst's lookup reads the
//!   key's word of each of its two buckets first and searches no bucket when one of
//!   its two bits is clear in both (~95 % of absent keys in a full table; one bit a
//!   key ruled out ~84 %, one word a bucket ~70 %): a flood of new flows (spoofed
//!   ACKs, UDP) is answered "absent" mostly from L2 instead of from two to four
//!   bucket lines.
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
//! 2M-capacity table of the conntrack bench: 188 MB). A lookup touches the key's
//! bucket (one line, or the pair when the bucket holds more than 7 keys) and the
//! entry (one line).
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
//! is not zero. Measured (random keys, `benches/conntrack.rs`'s `fill`): the first
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
//! A lookup of a large table costs two dependent cache misses (the bucket, then the
//! entry), so the data path looks up a whole burst at once
//! ([`Conntrack::lookup_burst`]: the misses of 32 keys overlap). The conntrack bench
//! (`gateway/benches/conntrack.rs`, `cargo bench -p vxgw --bench conntrack`) times
//! lookups, bursts, inserts and sweeps; the figures are in perf/RESULTS.md.
//! Transparent huge pages under the table help on bare metal (most page walks go);
//! in a guest backed by 4 KiB host pages they change little.
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
//! # Files
//!
//! One concept a file; the [`Conntrack`] methods are spread over them by concept.
//!
//! * `state.rs`: [`CtState`], [`Dir`], the TCP and UDP state machine, assured
//!   connections and [`Timeouts`] (their sections of these docs are there).
//! * `conn.rs`: [`Conn`] and its packing into an entry's words, [`CtHit`],
//!   [`CtFilter`], [`CtEntry`].
//! * `key.rs`: [`PackedKey`], the keys of a packed conn, a key's buckets and tag,
//!   the buckets' summaries.
//! * `bucket.rs`: the layouts of buckets, entries, free heads and counter stripes.
//! * `table.rs`: [`Conntrack`], its allocation and sizes.
//! * `lookup.rs`: lookups (one key, bursts) and [`Conntrack::observe`].
//! * `insert.rs`: [`Conntrack::insert`]; `evict.rs`: eviction when full (its
//!   section of these docs is there); `free.rs`: the free stacks.
//! * `remove.rs`: claims, removal, flush, the release hook (its section is there);
//!   `sweep.rs`: expiry.
//! * `query.rs`: listings, [`CtStats`] and the counters (their section is there).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bucket;
mod conn;
mod evict;
mod free;
mod insert;
mod key;
mod lookup;
mod query;
mod remove;
mod state;
mod summary;
mod sweep;
mod table;

#[cfg(test)]
mod concurrent_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod test_support;

use super::buckets::header::BucketHeader;
pub use super::flow_hash::FlowKey;
pub use conn::{Conn, CtEntry, CtFilter, CtHit};
pub use insert::CtInsertError;
pub use key::PackedKey;
pub use query::CtStats;
pub use state::{CtState, Dir, Timeouts};
pub use table::{Conntrack, ReleaseHook};

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
