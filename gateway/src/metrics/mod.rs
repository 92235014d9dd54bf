//! Counters and (with the management plane) the Prometheus exporter.

mod worker_counter;

pub use worker_counter::{CachePadded, Counter};
