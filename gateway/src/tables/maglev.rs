//! Weighted Maglev consistent hashing: the backend pick of the routing mesh.
//!
//! A published port's new flow (conntrack miss, packet path 3a) goes to
//! `table.lookup(flow_hash)`, where the flow hash is the specified, seeded
//! SipHash of [`super::flow_hash`]. The table is built on the control thread
//! and published in the immutable config snapshot; workers only read it.
//!
//! # Algorithm (Eisenbud et al., "Maglev", NSDI 2016, section 3.4)
//!
//! The lookup table has `M` slots, `M` prime (default [`DEFAULT_TABLE_SIZE`]
//! = 65537, at most [`MAX_TABLE_SIZE`] = 2^24, at least twice the number of
//! backends configured, drained ones included). Each backend has a preference
//! list, a permutation of `0..M`:
//!
//! ```text
//! offset = backend_offset_hash(key) mod M
//! skip   = backend_skip_hash(key) mod (M - 1) + 1
//! perm(j) = (offset + j * skip) mod M,   j = 0, 1, ..., M - 1
//! ```
//!
//! (`skip` is in `1..M` and `M` is prime, so `perm` visits every slot.) The
//! backends then take turns; on its turn a backend claims the next slot of its
//! own preference list that is still empty, continuing where its previous turn
//! stopped. Population ends when all `M` slots are claimed, so every slot holds
//! a backend and each backend holds exactly as many slots as turns it took.
//!
//! # Weights
//!
//! The unweighted paper gives every backend one turn per round. Here turn
//! order is weighted fair queueing over virtual time: the `t`-th turn
//! (`t = 0, 1, ...`) of a backend of weight `w > 0` happens at virtual time
//! `t / w`, and all turns are taken in increasing `(t / w, position)` order,
//! `position` being the backend's rank in the key-sorted list (rationals are
//! compared exactly, by cross multiplication). Consequences:
//!
//! * shares are proportional to weight: after the last turn, at virtual time
//!   `T`, a backend has taken `ceil(T * w)` or `floor(T * w) + 1` turns, so its
//!   slot count is within one slot above and `n * w / W` slots below its ideal
//!   `M * w / W` (`n` active backends, `W` total weight): for equal weights
//!   at most one slot from `M / n`; weights 1:2:3 at M = 65537 get 10923,
//!   21846 and 32768 slots (ideal 10922.8, 21845.7, 32768.5);
//! * every backend with `w > 0` takes a turn at time 0 and so holds at least one
//!   slot; a backend with `w = 0` (drained) takes no turn and holds no slot: the
//!   table is *identical* to the one built without it;
//! * with equal weights the order is plain round robin in key order, i.e. the
//!   paper's algorithm;
//! * each backend's turn times depend only on its own weight, so adding or
//!   removing a backend inserts or deletes its turns without reordering the
//!   others' turns, which keeps Maglev's minimal disruption.
//!
//! # Determinism
//!
//! The table depends only on `M` and the set of `(key, weight)` pairs: the
//! input is sorted by [`BackendKey`] (address, then port) before anything else,
//! and the hashes are the fixed-key specification of [`super::flow_hash`].
//! Backend ids are opaque labels returned by [`MaglevTable::lookup`]; they do
//! not influence which slots a backend owns. The `golden_table` test pins the
//! result (cross-checked with an independent Python model of this text).
//!
//! # Lookup
//!
//! `slot = flow_hash mod M` (a 64-bit remainder, as in the paper; this is part
//! of the specification: a multiply-shift reduction would pick other slots),
//! then one load of a `u16` backend index (`u32` if more than 65535 backends
//! are active) and one of the id from a small array. No allocation, no panic.
//!
//! Cost: building is O(M log n) (a heap of turns) plus the paper's O(M log M)
//! probing, milliseconds for M = 65537, on the control thread; a lookup is two
//! loads. `cargo bench -p vxgw --bench maglev` times both.
//!
//! # Disruption (measured by `disruption_report`, M = 65537, equal weights)
//!
//! Share of the table (= of new flows) that changes backend when one of N
//! backends is removed, averaged over removing each backend in turn. The
//! removed backend's own `1/N` must move; "extra" is the share that moved
//! between two surviving backends:
//!
//! | N  | moved  | ideal 1/N | extra (mean) | extra (max) |
//! |---:|-------:|----------:|-------------:|------------:|
//! | 3  | 33.36% | 33.33%    | 0.02%        | 0.03%       |
//! | 10 | 10.23% | 10.00%    | 0.23%        | 0.30%       |
//! | 50 |  2.46% |  2.00%    | 0.46%        | 0.53%       |
//!
//! Adding a backend is the exact mirror image (the same pair of tables, read
//! the other way). Draining (weight 0) is removal. Tests assert extra < 2% for
//! N = 10, on removal of each backend and on adding one.

pub use super::flow_hash::BackendKey;
use super::flow_hash::{backend_offset_hash, backend_skip_hash};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;

/// Default number of slots (prime; the paper's choice, ~100x a typical backend count).
pub const DEFAULT_TABLE_SIZE: u32 = 65537;
/// Largest accepted table size (2^24 slots: 32 MiB of `u16`s at most per service).
pub const MAX_TABLE_SIZE: u32 = 1 << 24;

/// One backend of a service as the control plane configures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backend {
    /// Opaque id returned by lookups (e.g. an index into the service's backend list).
    pub id: u32,
    /// Identity that determines the backend's slots.
    pub key: BackendKey,
    /// Relative weight; 0 = drained (keeps existing flows elsewhere, takes no new ones).
    pub weight: u32,
}

/// Why a Maglev table could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaglevError {
    /// The table size is not prime.
    NotPrime(u32),
    /// The table size exceeds [`MAX_TABLE_SIZE`].
    TooLarge(u32),
    /// The table size is below twice the number of backends.
    TooSmall {
        /// Requested table size.
        size: u32,
        /// Number of backends configured (drained included).
        backends: usize,
    },
    /// Two backends have the same key.
    DuplicateKey(BackendKey),
    /// Two backends have the same id.
    DuplicateId(u32),
}

impl fmt::Display for MaglevError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaglevError::NotPrime(m) => write!(f, "maglev table size {m} is not prime"),
            MaglevError::TooLarge(m) => {
                write!(f, "maglev table size {m} exceeds {MAX_TABLE_SIZE}")
            }
            MaglevError::TooSmall { size, backends } => write!(
                f,
                "maglev table size {size} is less than twice the {backends} backends"
            ),
            MaglevError::DuplicateKey(k) => {
                write!(f, "maglev backend {}:{} listed twice", k.ip, k.port)
            }
            MaglevError::DuplicateId(id) => write!(f, "maglev backend id {id} listed twice"),
        }
    }
}

impl std::error::Error for MaglevError {}

/// Whether `n` is prime (trial division; `n` is at most a few million here).
pub fn is_prime(n: u32) -> bool {
    if n < 2 {
        return false;
    }
    if n & 1 == 0 {
        return n == 2;
    }
    let n = u64::from(n);
    let mut d = 3u64;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}

/// Slot -> index into `MaglevTable::ids`.
#[derive(Clone, PartialEq, Eq)]
enum Slots {
    /// No active backend.
    Empty,
    /// Up to 65535 active backends.
    Narrow(Box<[u16]>),
    /// More than 65535 active backends.
    Wide(Box<[u32]>),
}

/// An immutable weighted Maglev lookup table: flow hash -> backend id.
#[derive(Clone, PartialEq, Eq)]
pub struct MaglevTable {
    size: u32,
    /// Ids of the active backends, in key order (index = slot value).
    ids: Box<[u32]>,
    /// Active backends in key order.
    active: Box<[Backend]>,
    slots: Slots,
}

/// A backend's next turn in the population loop (see "Weights" in the module docs).
#[derive(Clone, Copy)]
struct Turn {
    /// Turns taken so far: this turn happens at virtual time `taken / weight`.
    taken: u64,
    weight: u64,
    /// Rank in key order: tie-break and index into the permutations.
    index: u32,
}

impl Ord for Turn {
    fn cmp(&self, other: &Self) -> Ordering {
        // `BinaryHeap` pops the greatest; the earliest turn must be greatest.
        // self.taken / self.weight vs other.taken / other.weight, exactly:
        // products stay below 2^24 * 2^32.
        let mine = self.taken * other.weight;
        let theirs = other.taken * self.weight;
        theirs.cmp(&mine).then_with(|| other.index.cmp(&self.index))
    }
}

impl PartialOrd for Turn {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Turn {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Turn {}

const EMPTY_SLOT: u32 = u32::MAX;

/// How far [`MaglevTable::lookup_other`] looks for a slot of another backend. Slot
/// owners are spread like random draws: with `k` equal backends the walk stops
/// after `k / (k - 1)` slots on average, and a run of 256 slots of one backend out
/// of two has probability 2^-256.
pub const OTHER_SLOT_STEPS: u32 = 256;

impl MaglevTable {
    /// Builds the table of `size` slots for `backends` (any order; see the module docs).
    pub fn build(backends: &[Backend], size: u32) -> Result<Self, MaglevError> {
        if size > MAX_TABLE_SIZE {
            return Err(MaglevError::TooLarge(size));
        }
        if !is_prime(size) {
            return Err(MaglevError::NotPrime(size));
        }
        if u64::from(size) < 2 * backends.len() as u64 {
            return Err(MaglevError::TooSmall {
                size,
                backends: backends.len(),
            });
        }
        let mut sorted = backends.to_vec();
        sorted.sort_unstable_by_key(|b| b.key);
        if let Some(w) = sorted.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(MaglevError::DuplicateKey(w[0].key));
        }
        let mut ids: Vec<u32> = sorted.iter().map(|b| b.id).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(MaglevError::DuplicateId(w[0]));
        }

        let active: Box<[Backend]> = sorted.into_iter().filter(|b| b.weight > 0).collect();
        let ids: Box<[u32]> = active.iter().map(|b| b.id).collect();
        let slots = if active.is_empty() {
            Slots::Empty
        } else {
            let owners = populate(&active, size);
            if active.len() <= usize::from(u16::MAX) {
                Slots::Narrow(owners.iter().map(|&i| i as u16).collect())
            } else {
                Slots::Wide(owners.into_boxed_slice())
            }
        };
        Ok(MaglevTable {
            size,
            ids,
            active,
            slots,
        })
    }

    /// Builds the table with [`DEFAULT_TABLE_SIZE`] slots.
    pub fn with_default_size(backends: &[Backend]) -> Result<Self, MaglevError> {
        Self::build(backends, DEFAULT_TABLE_SIZE)
    }

    /// The backend id for a flow hash; `None` when no backend is active.
    #[inline]
    pub fn lookup(&self, flow_hash: u64) -> Option<u32> {
        self.slot(self.slot_of(flow_hash))
    }

    /// The backend id for a flow hash when backend `avoid` may not take it: the
    /// owner of the first slot after the flow's slot (wrapping) that another
    /// backend owns, looking at most [`OTHER_SLOT_STEPS`] slots on. Deterministic,
    /// so every retry of one flow lands on the same other backend; `None` when no
    /// other backend is active (or, with weights near all on `avoid`, none owns a
    /// slot in reach).
    pub fn lookup_other(&self, flow_hash: u64, avoid: u32) -> Option<u32> {
        if self.ids.len() < 2 {
            return None;
        }
        let start = self.slot_of(flow_hash);
        (1..=OTHER_SLOT_STEPS.min(self.size))
            .filter_map(|step| self.slot((start + step) % self.size))
            .find(|&id| id != avoid)
    }

    /// The slot a flow hash falls in: `flow_hash mod M`.
    #[inline]
    pub fn slot_of(&self, flow_hash: u64) -> u32 {
        (flow_hash % u64::from(self.size)) as u32
    }

    /// The backend id owning slot `slot`; `None` if out of range or no backend is active.
    #[inline]
    pub fn slot(&self, slot: u32) -> Option<u32> {
        let index = match &self.slots {
            Slots::Empty => return None,
            Slots::Narrow(t) => usize::from(*t.get(slot as usize)?),
            Slots::Wide(t) => *t.get(slot as usize)? as usize,
        };
        self.ids.get(index).copied()
    }

    /// The number of slots `M`.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Whether no backend is active (every lookup returns `None`).
    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// The backends with weight > 0, in key order.
    pub fn active_backends(&self) -> &[Backend] {
        &self.active
    }

    /// Slots held by each active backend, as `(id, slots)` in key order.
    pub fn slot_counts(&self) -> Vec<(u32, u32)> {
        let mut counts = vec![0u32; self.ids.len()];
        match &self.slots {
            Slots::Empty => {}
            Slots::Narrow(t) => t.iter().for_each(|&i| counts[usize::from(i)] += 1),
            Slots::Wide(t) => t.iter().for_each(|&i| counts[i as usize] += 1),
        }
        self.ids.iter().copied().zip(counts).collect()
    }
}

impl fmt::Debug for MaglevTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaglevTable")
            .field("size", &self.size)
            .field("active_backends", &self.active.len())
            .field("slot_counts", &self.slot_counts())
            .finish()
    }
}

/// Runs the weighted population loop; returns, per slot, the owner's index in `active`.
fn populate(active: &[Backend], size: u32) -> Vec<u32> {
    let m = u64::from(size);
    // Current position in each backend's permutation, and its skip.
    let mut pos: Vec<u32> = Vec::with_capacity(active.len());
    let mut skip: Vec<u32> = Vec::with_capacity(active.len());
    let mut turns = BinaryHeap::with_capacity(active.len());
    for (index, b) in active.iter().enumerate() {
        pos.push((backend_offset_hash(&b.key) % m) as u32);
        // size >= 2 (prime), so m - 1 >= 1.
        skip.push((backend_skip_hash(&b.key) % (m - 1) + 1) as u32);
        turns.push(Turn {
            taken: 0,
            weight: u64::from(b.weight),
            index: index as u32,
        });
    }
    let mut owners = vec![EMPTY_SLOT; size as usize];
    let mut filled = 0u32;
    while filled < size {
        let Some(mut turn) = turns.pop() else {
            break; // unreachable: `active` is non-empty and turns are re-queued
        };
        let i = turn.index as usize;
        let mut p = pos[i];
        while owners[p as usize] != EMPTY_SLOT {
            p += skip[i];
            if p >= size {
                p -= size;
            }
        }
        owners[p as usize] = turn.index;
        filled += 1;
        p += skip[i];
        if p >= size {
            p -= size;
        }
        pos[i] = p;
        turn.taken += 1;
        turns.push(turn);
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::super::flow_hash::{siphash13, FlowKey, FlowSeed};
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    const M: u32 = DEFAULT_TABLE_SIZE;

    fn backend(n: u32, weight: u32) -> Backend {
        Backend {
            id: n,
            key: BackendKey::new(Ipv4Addr::new(10, 255, (n >> 8) as u8, n as u8), 80),
            weight,
        }
    }

    fn equal(n: u32) -> Vec<Backend> {
        (0..n).map(|i| backend(i, 1)).collect()
    }

    fn owners(t: &MaglevTable) -> Vec<Option<u32>> {
        (0..t.size()).map(|s| t.slot(s)).collect()
    }

    /// Fraction of all slots whose owner differs, and of slots that changed
    /// although their old owner is still present in `after` (the extra churn).
    fn churn(before: &MaglevTable, after: &MaglevTable) -> (f64, f64) {
        let live: Vec<u32> = after.active_backends().iter().map(|b| b.id).collect();
        let (mut moved, mut extra) = (0u32, 0u32);
        for s in 0..before.size() {
            let (a, b) = (before.slot(s), after.slot(s));
            if a != b {
                moved += 1;
                if a.is_some_and(|id| live.contains(&id)) {
                    extra += 1;
                }
            }
        }
        let m = f64::from(before.size());
        (f64::from(moved) / m, f64::from(extra) / m)
    }

    /// (mean moved, mean extra, max extra) over removing each backend of `n` in turn.
    fn removal_stats(n: u32) -> (f64, f64, f64) {
        let all = MaglevTable::build(&equal(n), M).unwrap();
        let (mut moved, mut extra, mut worst) = (0.0, 0.0, 0.0f64);
        for r in 0..n {
            let rest: Vec<Backend> = equal(n).into_iter().filter(|b| b.id != r).collect();
            let (m, e) = churn(&all, &MaglevTable::build(&rest, M).unwrap());
            moved += m;
            extra += e;
            worst = worst.max(e);
        }
        (moved / f64::from(n), extra / f64::from(n), worst)
    }

    #[test]
    fn size_validation() {
        assert!(is_prime(2) && is_prime(3) && is_prime(65537) && is_prime(16_777_213));
        assert!(!is_prime(0) && !is_prime(1) && !is_prime(65536) && !is_prime(65535));
        assert!(!is_prime(16_777_215) && !is_prime(4097 * 4099));
        assert_eq!(
            MaglevTable::build(&equal(3), 65536).unwrap_err(),
            MaglevError::NotPrime(65536)
        );
        assert_eq!(
            MaglevTable::build(&[], 16_777_259).unwrap_err(),
            MaglevError::TooLarge(16_777_259)
        );
        assert!(MaglevTable::build(&[], 16_777_213).unwrap().is_empty());
        assert_eq!(
            MaglevTable::build(&equal(6), 11).unwrap_err(),
            MaglevError::TooSmall {
                size: 11,
                backends: 6
            }
        );
        // Drained backends count towards the minimum size.
        let mut five = equal(5);
        five[4].weight = 0;
        assert!(MaglevTable::build(&five, 11).is_ok());
        five.push(backend(9, 0));
        assert!(MaglevTable::build(&five, 11).is_err());
        assert!(MaglevTable::build(&equal(6), 13).is_ok());
    }

    #[test]
    fn duplicates_rejected() {
        let mut b = equal(3);
        b[2].key = b[0].key;
        assert_eq!(
            MaglevTable::build(&b, M).unwrap_err(),
            MaglevError::DuplicateKey(b[0].key)
        );
        let mut b = equal(3);
        b[2].id = 0;
        assert_eq!(
            MaglevTable::build(&b, M).unwrap_err(),
            MaglevError::DuplicateId(0)
        );
    }

    #[test]
    fn empty_and_all_drained_return_none() {
        let empty = MaglevTable::build(&[], M).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.lookup(12345), None);
        let drained: Vec<Backend> = (0..4).map(|i| backend(i, 0)).collect();
        let t = MaglevTable::build(&drained, M).unwrap();
        assert!(t.is_empty());
        assert!((0..1000u64).all(|h| t.lookup(h * 7919).is_none()));
        assert!(t.slot_counts().is_empty());
    }

    #[test]
    fn another_backend_is_the_owner_of_a_later_slot() {
        let t = MaglevTable::build(&equal(3), 251).unwrap();
        for h in 0..2000u64 {
            let first = t.lookup(h).unwrap();
            let other = t.lookup_other(h, first).unwrap();
            assert_ne!(other, first);
            // The first slot on that another backend owns, so retries agree.
            let s = t.slot_of(h);
            let step = (1..251)
                .find(|k| t.slot((s + k) % 251) != Some(first))
                .unwrap();
            assert_eq!(Some(other), t.slot((s + step) % 251));
        }
        let one = MaglevTable::build(&equal(1), 251).unwrap();
        assert_eq!(one.lookup_other(7, one.lookup(7).unwrap()), None);
        assert_eq!(
            MaglevTable::build(&[], 251).unwrap().lookup_other(7, 0),
            None
        );
    }

    #[test]
    fn single_backend_owns_everything() {
        let t = MaglevTable::build(&[backend(7, 3)], 13).unwrap();
        assert!((0..13).all(|s| t.slot(s) == Some(7)));
        assert_eq!(t.slot(13), None);
    }

    #[test]
    fn lookup_is_hash_mod_m() {
        let t = MaglevTable::build(&equal(10), 101).unwrap();
        for h in [0u64, 1, 100, 101, 102, u64::MAX, 0x57a1_9eda_8379_be02] {
            assert_eq!(t.lookup(h), t.slot((h % 101) as u32), "{h:#x}");
        }
    }

    #[test]
    fn equal_weights_balance_within_one_percent() {
        for n in [3u32, 5, 10, 100] {
            let t = MaglevTable::build(&equal(n), M).unwrap();
            let counts = t.slot_counts();
            assert_eq!(counts.len(), n as usize);
            assert_eq!(counts.iter().map(|c| c.1).sum::<u32>(), M);
            let ideal = f64::from(M) / f64::from(n);
            for (id, c) in counts {
                let err = (f64::from(c) - ideal).abs() / ideal;
                assert!(
                    err < 0.01,
                    "n={n} backend {id}: {c} slots, ideal {ideal:.1}"
                );
                // Round robin: never more than one slot from the ideal.
                assert!((f64::from(c) - ideal).abs() <= 1.0, "n={n} {id}: {c}");
            }
        }
    }

    #[test]
    fn weights_respected() {
        let b = vec![backend(0, 1), backend(1, 2), backend(2, 3)];
        let t = MaglevTable::build(&b, M).unwrap();
        for (id, c) in t.slot_counts() {
            let ideal = f64::from(M) * f64::from(id + 1) / 6.0;
            let err = (f64::from(c) - ideal).abs() / ideal;
            assert!(err < 0.01, "backend {id}: {c} slots, ideal {ideal:.1}");
        }
        // Very uneven weights: every positive weight still gets a slot.
        let b = vec![backend(0, 1), backend(1, 1_000_000), backend(2, u32::MAX)];
        let t = MaglevTable::build(&b, M).unwrap();
        assert!(t.slot_counts().iter().all(|&(_, c)| c >= 1));
    }

    #[test]
    fn flows_spread_like_slots() {
        // End to end through the flow hash: 200k client flows over 5 backends.
        let t = MaglevTable::build(&equal(5), M).unwrap();
        let seed = FlowSeed::DEFAULT;
        let mut hits = [0u32; 5];
        for i in 0..200_000u32 {
            let flow = FlowKey {
                proto: 6,
                src: Ipv4Addr::from(0x5c00_0000 + i / 50),
                dst: Ipv4Addr::new(10, 0, 0, 4),
                src_port: 32768 + (i % 50) as u16 * 331,
                dst_port: 80,
            };
            hits[t.lookup(seed.hash_flow(&flow)).unwrap() as usize] += 1;
        }
        for (id, h) in hits.iter().enumerate() {
            let err = (f64::from(*h) - 40_000.0).abs() / 40_000.0;
            assert!(err < 0.02, "backend {id}: {h} of 200000 flows");
        }
    }

    #[test]
    fn removing_one_of_ten_moves_little_else() {
        let (moved, extra, worst) = removal_stats(10);
        assert!((0.10..0.12).contains(&moved), "moved {moved}");
        assert!(worst < 0.02, "extra churn {worst} (mean {extra})");
    }

    #[test]
    fn adding_one_to_ten_moves_little_else() {
        let before = MaglevTable::build(&equal(10), M).unwrap();
        for extra_id in [10u32, 200, 777] {
            let mut b = equal(10);
            b.push(backend(extra_id, 1));
            let after = MaglevTable::build(&b, M).unwrap();
            let (mut moved, mut stray) = (0u32, 0u32);
            for s in 0..M {
                let (x, y) = (before.slot(s), after.slot(s));
                if x != y {
                    moved += 1;
                    if y != Some(extra_id) {
                        stray += 1; // moved between two old backends
                    }
                }
            }
            let (moved, stray) = (
                f64::from(moved) / f64::from(M),
                f64::from(stray) / f64::from(M),
            );
            assert!((1.0 / 11.0..0.11).contains(&moved), "moved {moved}");
            assert!(stray < 0.02, "stray churn {stray}");
        }
    }

    #[test]
    fn weight_change_moves_proportionally() {
        let before = MaglevTable::build(&equal(10), M).unwrap();
        let mut b = equal(10);
        b[3].weight = 2;
        let after = MaglevTable::build(&b, M).unwrap();
        // Backend 3 goes from 1/10 to 2/11 of the table: ~8.2% must move to it.
        let (moved, _) = churn(&before, &after);
        assert!((0.08..0.10).contains(&moved), "moved {moved}");
    }

    #[test]
    fn drain_equals_removal() {
        for n in [3u32, 10, 50] {
            let mut drained = equal(n);
            drained[1].weight = 0;
            let removed: Vec<Backend> = equal(n).into_iter().filter(|b| b.id != 1).collect();
            let a = MaglevTable::build(&drained, M).unwrap();
            let b = MaglevTable::build(&removed, M).unwrap();
            assert_eq!(owners(&a), owners(&b), "n={n}");
            assert!(owners(&a).iter().all(|o| *o != Some(1)));
        }
    }

    #[test]
    fn input_order_does_not_matter() {
        let mut b: Vec<Backend> = (0..40u32).map(|i| backend(i, 1 + i % 4)).collect();
        let reference = MaglevTable::build(&b, M).unwrap();
        b.reverse();
        assert_eq!(MaglevTable::build(&b, M).unwrap(), reference);
        b.rotate_left(17);
        assert_eq!(MaglevTable::build(&b, M).unwrap(), reference);
        // A deterministic shuffle.
        let mut x = 0x2545_f491u32;
        for i in (1..b.len()).rev() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b.swap(i, x as usize % (i + 1));
        }
        assert_eq!(MaglevTable::build(&b, M).unwrap(), reference);
    }

    #[test]
    fn ids_do_not_move_slots() {
        // Renumbering ids leaves each key owning the same slots.
        let b = equal(10);
        let renumbered: Vec<Backend> = b
            .iter()
            .map(|x| Backend {
                id: 1000 - x.id,
                ..*x
            })
            .collect();
        let t1 = MaglevTable::build(&b, M).unwrap();
        let t2 = MaglevTable::build(&renumbered, M).unwrap();
        assert!((0..M).all(|s| t2.slot(s) == t1.slot(s).map(|id| 1000 - id)));
    }

    /// Pins the table to the specification: a change here breaks agreement
    /// between gateway versions. Expected values come from an independent
    /// Python model of the module docs (heapq over exact `Fraction(t, w)`).
    #[test]
    fn golden_table() {
        let b = [
            Backend {
                id: 1,
                key: BackendKey::new(Ipv4Addr::new(10, 255, 0, 6), 80),
                weight: 1,
            },
            Backend {
                id: 2,
                key: BackendKey::new(Ipv4Addr::new(10, 255, 0, 7), 80),
                weight: 2,
            },
            Backend {
                id: 3,
                key: BackendKey::new(Ipv4Addr::new(10, 255, 0, 8), 8080),
                weight: 1,
            },
        ];
        let small = MaglevTable::build(&b, 13).unwrap();
        let small: Vec<u32> = (0..13).map(|s| small.slot(s).unwrap()).collect();
        assert_eq!(small, [3, 2, 1, 1, 1, 3, 2, 1, 2, 3, 2, 2, 2]);

        let big = MaglevTable::build(&b, M).unwrap();
        let bytes: Vec<u8> = (0..M)
            .flat_map(|s| big.slot(s).unwrap().to_le_bytes())
            .collect();
        assert_eq!(big.slot_counts(), [(1, 16385), (2, 32768), (3, 16384)]);
        assert_eq!(siphash13(&[0; 16], &bytes), 0x5c11_a451_2edb_c486);
    }

    #[test]
    fn wide_index_for_many_backends() {
        // More than 65535 active backends switch to u32 indices.
        let n = 70_000u32;
        let b: Vec<Backend> = (0..n)
            .map(|i| Backend {
                id: i,
                key: BackendKey::new(Ipv4Addr::from(0x0a00_0000 + i), 80),
                weight: 1,
            })
            .collect();
        let t = MaglevTable::build(&b, 140_009).unwrap();
        assert!(matches!(t.slots, Slots::Wide(_)));
        let counts = t.slot_counts();
        assert_eq!(counts.len(), n as usize);
        assert!(counts.iter().all(|&(_, c)| c == 2 || c == 3));
        assert!((0..140_009).all(|s| t.slot(s).is_some_and(|id| id < n)));
    }

    #[test]
    fn disruption_report() {
        println!("maglev disruption, M = {M}, equal weights, remove one backend (mean over each):");
        println!("| N  | moved   | ideal 1/N | extra (mean) | extra (max) |");
        println!("|---:|--------:|----------:|-------------:|------------:|");
        for n in [3u32, 10, 50] {
            let (moved, extra, worst) = removal_stats(n);
            println!(
                "| {n:<2} | {:6.2}% | {:8.2}% | {:11.2}% | {:10.2}% |",
                moved * 100.0,
                100.0 / f64::from(n),
                extra * 100.0,
                worst * 100.0
            );
            assert!(moved >= 1.0 / f64::from(n) - 1e-9);
            assert!(worst < 0.03, "n={n}: extra churn {worst}");
        }
    }

    proptest! {
        #[test]
        fn any_positive_weight_fills_the_table(
            weights in proptest::collection::vec(0u32..10, 1..50),
            size in prop::sample::select(vec![101u32, 257, 1009, 4099, 65537]),
        ) {
            let b: Vec<Backend> = weights
                .iter()
                .enumerate()
                .map(|(i, &w)| backend(i as u32 * 3 + 1, w))
                .collect();
            let t = MaglevTable::build(&b, size).unwrap();
            let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
            if total == 0 {
                prop_assert!(t.is_empty());
                prop_assert_eq!(t.lookup(1), None);
                return Ok(());
            }
            let weight_of = |id: u32| b.iter().find(|x| x.id == id).unwrap().weight;
            for s in 0..size {
                let id = t.slot(s);
                prop_assert!(id.is_some(), "slot {} empty", s);
                prop_assert!(weight_of(id.unwrap()) > 0, "slot {} -> drained {:?}", s, id);
            }
            let n_active = weights.iter().filter(|&&w| w > 0).count() as f64;
            let counts = t.slot_counts();
            prop_assert_eq!(counts.len() as f64, n_active);
            for (id, c) in counts {
                let w = f64::from(weight_of(id));
                let ideal = f64::from(size) * w / total as f64;
                let c = f64::from(c);
                prop_assert!(c >= 1.0);
                prop_assert!(c <= ideal + 1.0 + 1e-9, "{} > {} + 1", c, ideal);
                prop_assert!(c >= ideal - n_active * w / total as f64 - 1e-9, "{} << {}", c, ideal);
            }
        }
    }
}
