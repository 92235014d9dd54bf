//! Per-worker pipeline counters: one per drop reason and one per event.

use super::decision::{DropReason, DROP_REASON_COUNT};
use crate::metrics::Counter;

macro_rules! events {
    ($($variant:ident => $name:literal,)*) => {
        /// Things the pipeline does that are worth counting (not drops).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Event { $(#[doc = $name] $variant,)* }

        /// Number of events.
        pub const EVENT_COUNT: usize = [$(Event::$variant,)*].len();

        impl Event {
            /// Every event, in index order.
            pub const ALL: [Event; EVENT_COUNT] = [$(Event::$variant,)*];

            /// The snake_case name used in metrics.
            pub fn name(self) -> &'static str {
                match self { $(Event::$variant => $name,)* }
            }
        }
    };
}

events! {
    Decapsulated => "decapsulated",
    Encapsulated => "encapsulated",
    AccessOut => "access_out",
    Flooded => "flooded",
    FloodReplicas => "flood_replicas",
    FdbLearned => "fdb_learned",
    FdbMoved => "fdb_moved",
    FdbLimitHit => "fdb_limit_hit",
    FdbTableFull => "fdb_table_full",
    ArpReplied => "arp_replied",
    ArpSuppressed => "arp_suppressed",
    EchoReplied => "echo_replied",
    NeighbourLearned => "neighbour_learned",
    ArpRequestsSent => "arp_requests_sent",
    NeighbourQueued => "neighbour_queued",
}

/// One worker's pipeline counters (owner-written; see `metrics::Counter`).
pub struct PipelineCounters {
    drops: [Counter; DROP_REASON_COUNT],
    events: [Counter; EVENT_COUNT],
}

impl Default for PipelineCounters {
    fn default() -> Self {
        PipelineCounters {
            drops: std::array::from_fn(|_| Counter::default()),
            events: std::array::from_fn(|_| Counter::default()),
        }
    }
}

impl PipelineCounters {
    /// Counts one drop.
    #[inline]
    pub fn drop(&self, r: DropReason) {
        self.drops[r.index()].add(1);
    }

    /// Counts `n` drops.
    #[inline]
    pub fn drop_n(&self, r: DropReason, n: u64) {
        self.drops[r.index()].add(n);
    }

    /// Counts one event.
    #[inline]
    pub fn event(&self, e: Event) {
        self.events[e as usize].add(1);
    }

    /// Counts `n` events.
    #[inline]
    pub fn event_n(&self, e: Event, n: u64) {
        self.events[e as usize].add(n);
    }

    /// Drops so far for `r`.
    pub fn drops(&self, r: DropReason) -> u64 {
        self.drops[r.index()].get()
    }

    /// Events so far of `e`.
    pub fn events(&self, e: Event) -> u64 {
        self.events[e as usize].get()
    }

    /// Sum of all drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().map(Counter::get).sum()
    }
}
