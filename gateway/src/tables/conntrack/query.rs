//! What the control side reads: the listings ([`Conntrack::entries`],
//! [`Conntrack::for_each`]), the counters and gauges ([`CtStats`],
//! [`Conntrack::stats`]), and the per-stripe counting the other files do.
//!
//! # Counters
//!
//! Events are per connection, not per packet: created, expired, evicted (and of
//! those, early-evicted: unassured), refused, removed (by `remove`/`flush`), insert
//! races ([`CtInsertError::Exists`](super::CtInsertError::Exists)) and key
//! conflicts, plus a gauge per state and one of assured connections. Each is a
//! Relaxed `fetch_add` on one of 16 counter stripes (128 bytes each): the stripe of
//! the connection's owner, the worker that inserted it (for an insert refused, the
//! worker inserting). A worker's inserts therefore count on a line no other worker
//! counts its own on (with up to 16 workers); only the other direction's worker
//! writes it, on the few state changes it makes. (Stripes by entry index, as before,
//! had every worker's inserts write every stripe.) [`Conntrack::stats`] sums them;
//! a stripe's gauges alone may be negative. Nothing is counted per packet.

use super::{
    Conn, Conntrack, CtEntry, CtFilter, CtState, C_CONFLICT, C_CREATED, C_EARLY_EVICTED, C_EVICTED,
    C_EXISTS, C_EXPIRED, C_REFUSED, C_REMOVED, LIVE, ST_ASSURED,
};
use crate::tables::seconds::{elapsed, latest};
use std::sync::atomic::Ordering::Relaxed;

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

impl Conntrack {
    #[inline]
    pub(super) fn count(&self, stripe: usize, which: usize, n: u64) {
        self.counters[stripe].events[which].fetch_add(n, Relaxed);
    }

    #[inline]
    pub(super) fn gauge(&self, stripe: usize, state: CtState, delta: i64) {
        self.counters[stripe].states[state.index()].fetch_add(delta, Relaxed);
    }

    #[inline]
    pub(super) fn assured_gauge(&self, stripe: usize, delta: i64) {
        self.counters[stripe].assured.fetch_add(delta, Relaxed);
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
