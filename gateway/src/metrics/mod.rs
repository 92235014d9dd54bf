//! Counters and the Prometheus exporter.

pub mod exporter;
mod worker_counter;

pub use worker_counter::{CachePadded, Counter};
