//! Each worker's counters ([`WorkerStats`], in a padded [`WorkerCounters`] block):
//! written by their worker only, summed by the control socket, the exporter and the
//! telemetry commands.

use crate::metrics::{CachePadded, Counter};
use crate::pipeline::{BackendCounters, PipelineCounters};

/// One worker's counters.
#[derive(Default)]
pub struct WorkerStats {
    /// Pipeline drops and events.
    pub pipeline: PipelineCounters,
    /// Packets received.
    pub rx_packets: Counter,
    /// Packets the tx queues took.
    pub tx_packets: Counter,
    /// Poll rounds.
    pub polls: Counter,
    /// Poll rounds that received something.
    pub busy_polls: Counter,
    /// TSC cycles spent in busy rounds.
    pub busy_cycles: Counter,
    /// Routing-mesh counters per backend.
    pub backends: BackendCounters,
}

/// Padded per-worker stats block.
pub type WorkerCounters = CachePadded<WorkerStats>;
