//! vxgw: a DPDK poll-mode VXLAN gateway.
//!
//! - [`dpdk`]: the only safe layer over DPDK (moves mbufs, knows no VXLAN).
//! - [`forward`]: plain port-to-port forwarding, the plumbing baseline.
//! - [`metrics`]: per-worker counters.

pub mod app;
pub mod dpdk;
pub mod forward;
pub mod metrics;
pub mod shutdown;
pub mod wire;
