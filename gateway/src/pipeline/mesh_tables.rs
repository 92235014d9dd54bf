//! The routing mesh's tables and per-worker state, as one burst sees them.

use std::cell::RefCell;

use super::{Admission, BackendCounters, MeshCache};
use crate::tables::conntrack::Conntrack;
use crate::tables::overlay_neighbours::OverlayNeighbours;
use crate::tables::snat_source::SnatSource;

/// The routing mesh's tables, for one worker's burst.
pub struct MeshTables<'a> {
    /// Connection tracking (shared by all workers).
    pub conntrack: &'a Conntrack,
    /// Overlay neighbours: backend IP -> MAC (learned from ARP in the VNIs).
    pub overlay_neigh: &'a OverlayNeighbours,
    /// This worker's SNAT source ports (a `RefCell`: the worker's own, never shared).
    pub snat: &'a RefCell<SnatSource>,
    /// This worker's per-backend counters.
    pub backends: &'a BackendCounters,
    /// This worker's caches (the burst's conntrack hits, backends' delivery).
    pub cache: &'a MeshCache,
    /// This worker's admission of new connections (flood guard, cheap refusals).
    pub admission: &'a Admission,
}
