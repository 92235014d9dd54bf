//! vxgw: a DPDK poll-mode VXLAN gateway.
//!
//! - [`dpdk`]: the only safe layer over DPDK (moves mbufs, knows no VXLAN).
//! - [`forward`]: plain port-to-port forwarding, the plumbing baseline.
//! - [`metrics`]: per-worker counters and the Prometheus exporter.
//! - [`wire`]: typed views over packet bytes; checksums.
//! - [`tables`]: configuration snapshot, FDB, neighbours, Maglev.
//! - [`pipeline`]: per-packet decisions over bytes and tables (no DPDK).
//! - [`worker`]: the glue that runs the pipeline on DPDK queues.
//! - [`control`]: configuration (and the control socket).

pub mod app;
pub mod control;
pub mod dpdk;
pub mod forward;
pub mod metrics;
pub mod pipeline;
pub mod shutdown;
pub mod tables;
pub mod telemetry_cmds;
pub mod wire;
pub mod worker;
