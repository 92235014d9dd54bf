//! Per-packet decisions: pure functions of (packet bytes, tables) -> what to do.
//!
//! The pipeline knows nothing of DPDK. It works on anything that implements
//! [`PacketBuf`] (an mbuf in the gateway, a `Vec` in tests and fuzzing), reads the
//! configuration [`Snapshot`](crate::tables::snapshot::Snapshot), and reads and learns into the FDB and the neighbour
//! table. The worker glue turns a [`Decision`] into transmissions and replicas.
//!
//! Flow: [`ingress`](fn@ingress) classifies by the rx port's roles and normalises the frame to an
//! untagged inner Ethernet frame of one VNI (decap strips the outer headers, access
//! ingress pops the 802.1Q tag), learns its source, and decides where it goes; the
//! [`egress`] functions then dress a frame for one destination (push a VLAN tag, or
//! prepend the outer headers of a VTEP).
//!
//! In front of it, the worker runs the [`fast_path`] on the frames of an access port
//! and of the underlay port: known unicast to the other side, decided and done in one
//! pass. What it declines, untouched, goes through `ingress` as above.

mod access;
mod admission;
mod bridge;
mod buf;
mod burst_cache;
mod counters;
mod ctx;
mod decap;
mod decision;
mod dry_run;
mod edge;
pub mod egress;
mod encap_cache;
mod external;
pub mod fast_path;
mod flow;
mod fragments;
mod ingress;
mod learn;
mod learn_cache;
mod local;
mod mesh;
mod mesh_cache;
mod mesh_fast;
mod mesh_key;
mod mesh_tables;
pub mod nat;
mod packet_filter;
mod trace;
mod underlay;
mod warm;

pub use admission::Admission;
pub use buf::{PacketBuf, VecBuf};
pub use burst_cache::BurstCache;
pub use counters::{BackendCounters, BackendStat, Event, PipelineCounters, EVENT_COUNT};
pub use ctx::Ctx;
pub use decision::{Decision, DropReason, MeshSide, Origin, Target, DROP_REASON_COUNT};
pub use dry_run::{dry_run, DryRun, DryTables, Egress};
pub use encap_cache::{EncapAction, EncapCache};
pub use flow::inner_flow_hash;
pub use fragments::{
    HELD_PER_WORKER as HELD_FRAGMENTS_PER_WORKER, HOLD_SECS as FRAGMENT_HOLD_SECS,
};
pub use ingress::ingress;
pub use learn_cache::LearnCache;
pub use local::build_arp_request;
pub use mesh::{deliver_in_vni, later_fragment};
pub use mesh_cache::MeshCache;
pub use mesh_tables::MeshTables;
pub use packet_filter::{FilterProto, Headers, PacketFilter};
pub use trace::{Step, Trace, TRACE_STEPS};
pub use warm::warm_burst;

/// The most frames the worker hands the pipeline as one burst (the routing mesh's
/// per-burst caches are this big; their bit masks are `u64`s).
pub const MAX_BURST: usize = 64;
const _: () = assert!(MAX_BURST <= 64);

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mesh_tests;

#[cfg(test)]
mod fast_path_tests;

#[cfg(test)]
mod mesh_fast_tests;

#[cfg(test)]
mod edge_tests;

#[cfg(test)]
mod trace_tests;
