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
    FdbStaticKept => "fdb_static_kept",
    ArpReplied => "arp_replied",
    ArpSuppressed => "arp_suppressed",
    EchoReplied => "echo_replied",
    NeighbourLearned => "neighbour_learned",
    ArpRequestsSent => "arp_requests_sent",
    NeighbourQueued => "neighbour_queued",
    MeshNewConnections => "mesh_new_connections",
    MeshRepicked => "mesh_repicked",
    MeshRepickedGone => "mesh_repicked_backend_gone",
    MeshRepickedRefused => "mesh_repicked_backend_refused",
    MeshToBackend => "mesh_to_backend",
    MeshToClient => "mesh_to_client",
    MssClamped => "mss_clamped",
    IcmpErrorsTranslated => "icmp_errors_translated",
    IcmpFragNeededSent => "icmp_frag_needed_sent",
    OverlayArpRequestsSent => "overlay_arp_requests_sent",
    FragmentsHeld => "fragments_held",
}

/// Per-backend counters of one worker, indexed by the backend's counter slot
/// (`BackendView::slot`): connections created, packets and bytes each way.
pub struct BackendCounters {
    slots: Box<[[Counter; 5]]>,
}

/// What [`BackendCounters`] counts per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum BackendStat {
    /// Connections created.
    Connections = 0,
    /// Packets client -> backend.
    PacketsIn,
    /// Bytes (IP) client -> backend.
    BytesIn,
    /// Packets backend -> client.
    PacketsOut,
    /// Bytes (IP) backend -> client.
    BytesOut,
}

impl Default for BackendCounters {
    fn default() -> Self {
        BackendCounters {
            slots: (0..crate::tables::snapshot::MAX_BACKEND_SLOTS)
                .map(|_| std::array::from_fn(|_| Counter::default()))
                .collect(),
        }
    }
}

impl BackendCounters {
    /// Counts a packet of `bytes` towards (`to_backend`) or from backend `slot`.
    #[inline]
    pub fn packet(&self, slot: u32, to_backend: bool, bytes: usize) {
        if let Some(c) = self.slots.get(slot as usize) {
            let (p, b) = if to_backend {
                (BackendStat::PacketsIn, BackendStat::BytesIn)
            } else {
                (BackendStat::PacketsOut, BackendStat::BytesOut)
            };
            c[p as usize].add(1);
            c[b as usize].add(bytes as u64);
        }
    }

    /// Counts a new connection to backend `slot`.
    #[inline]
    pub fn connection(&self, slot: u32) {
        if let Some(c) = self.slots.get(slot as usize) {
            c[BackendStat::Connections as usize].add(1);
        }
    }

    /// The value of `stat` for `slot`.
    pub fn get(&self, slot: u32, stat: BackendStat) -> u64 {
        self.slots
            .get(slot as usize)
            .map_or(0, |c| c[stat as usize].get())
    }
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
