//! The Prometheus exporter: `GET /metrics` on the management address (loopback by
//! default, never a DPDK port), served by one thread of its own.
//!
//! - `addr`: the `--metrics-addr` syntax and default.
//! - `families`: every metric family (name, help, type, labels) and how a reading
//!   becomes families.
//! - `reading`: what one scrape reads from workers, tables and ports.
//! - `collector`: [`GatewayCollector`], which reads the gateway at each scrape.
//! - `http`: the small HTTP server ([`MetricsListener`], [`Exporter`]).
//!
//! It sits above the runtime (it reads [`crate::runtime::Shared`] and the workers'
//! counter blocks, [`crate::runtime::WorkerCounters`]); nothing on the packet path
//! knows it exists.
//!
//! # Why the counters are summed when scraped
//!
//! Workers count with owner-written counters ([`Counter`](crate::metrics::Counter)):
//! a relaxed load and store on the worker's own cache lines, no atomic
//! read-modify-write and no line shared with another writer. Keeping Prometheus
//! metric objects (`IntCounter`, `with_label_values`) on the packet path would put a
//! shared atomic increment (and, for labelled vectors, a hash lookup) behind every
//! packet and make every worker bounce the same cache lines. Instead
//! [`GatewayCollector`] is a custom [`Collector`](prometheus::core::Collector): on
//! each scrape it reads every worker's block once, sums the blocks per metric, reads
//! the FDB's and neighbour table's own counters, and asks DPDK for the port counters.
//! The packet path pays nothing for the exporter, and the cost of a scrape (a few
//! hundred relaxed loads per worker and one `rte_eth_stats_get` per port) lands on
//! the management thread, at the scrape rate.
//!
//! A sum read this way is not an atomic snapshot across workers, but each worker's
//! counter only grows, so every sum is monotonic from one scrape to the next: what
//! `rate()` needs. Every label value that can exist (every drop reason, every event,
//! every port and worker) is exported from the first scrape on, zeros included, so
//! `rate()` and `increase()` see a series start at 0 rather than appear mid-way.

mod addr;
mod collector;
mod families;
mod http;
mod reading;

#[cfg(test)]
mod fixture;

pub use addr::{parse_metrics_addr, DEFAULT_METRICS_ADDR};
pub use collector::GatewayCollector;
pub use http::{Exporter, ExporterError, MetricsListener};
