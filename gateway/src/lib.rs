//! vxgw: a DPDK poll-mode VXLAN gateway.
//!
//! - [`dpdk`]: the only safe layer over DPDK (moves mbufs, knows no VXLAN).
//! - [`forward`]: plain port-to-port forwarding, the plumbing baseline.
//! - [`metrics`]: the per-worker leaf counters the packet path counts with.
//! - [`wire`]: typed views over packet bytes; checksums.
//! - [`tables`]: configuration snapshot, FDB, neighbours, Maglev.
//! - [`pipeline`]: per-packet decisions over bytes and tables (no DPDK).
//! - [`runtime`]: what the workers share with the control plane and the readers of
//!   their counters: the clock, the shared tables, the per-worker counter blocks.
//! - [`worker`]: the glue that runs the pipeline on DPDK queues.
//! - [`control`]: configuration (and the control socket).
//! - [`exporter`]: the Prometheus exporter (reads the workers' counters and the
//!   tables when scraped).

pub mod app;
pub mod control;
pub mod dpdk;
pub mod exporter;
pub mod forward;
pub mod metrics;
pub mod pipeline;
pub mod runtime;
pub mod shutdown;
pub mod tables;
pub mod telemetry_cmds;
pub mod wire;
pub mod worker;
