//! [`Shared`]: the tables and resources every worker shares, which the control
//! plane, the exporter and the telemetry commands read too.

use std::sync::Arc;

use super::{Clock, LiveTrace};
use crate::dpdk::Mempool;
use crate::shutdown::StopFlag;
use crate::tables::conntrack::Conntrack;
use crate::tables::fdb::Fdb;
use crate::tables::neighbours::Neighbours;
use crate::tables::overlay_neighbours::OverlayNeighbours;
use crate::tables::snapshot::SnapshotCell;

/// Tables and resources every worker shares.
pub struct Shared {
    /// The published configuration.
    pub snap: Arc<SnapshotCell>,
    /// The filtering database.
    pub fdb: Arc<Fdb>,
    /// Underlay and external neighbours.
    pub neigh: Arc<Neighbours>,
    /// Overlay neighbours (backends' MACs).
    pub overlay_neigh: Arc<OverlayNeighbours>,
    /// Connection tracking of the routing mesh.
    pub conntrack: Arc<Conntrack>,
    /// Pool for replicas and ARP requests.
    pub pool: Arc<Mempool>,
    /// Shutdown flag.
    pub stop: StopFlag,
    /// Coarse clock.
    pub clock: Clock,
    /// The live packet trace (`vxgwctl trace live`).
    pub live_trace: LiveTrace,
}
