//! The leaf counter types the packet path counts with: [`Counter`], written by one
//! worker and read by anyone, and [`CachePadded`], which keeps one worker's counters
//! off another's cache lines.
//!
//! Only these live here, so that the pipeline and the worker can use them without
//! depending on anything above; the Prometheus exporter, which reads them, is the
//! top-level `exporter` module.

mod worker_counter;

pub use worker_counter::{CachePadded, Counter};
