//! What one scrape reads from the gateway: the [`Reading`] snapshot of the workers'
//! counters, the tables' own counts and the ports, and a [`BackendReading`] per
//! routing-mesh backend.
//!
//! Kept apart from the families it becomes ([`super::families`]) so that the part
//! that touches the gateway's state is small and plain: every value is read once,
//! summed where workers each keep their own, and copied out.

use crate::dpdk::PortStats;
use crate::pipeline::{DropReason, Event, DROP_REASON_COUNT, EVENT_COUNT};
use crate::runtime::WorkerCounters;
use crate::tables::conntrack::CtStats;
use crate::tables::fdb::{Fdb, FdbStats};
use crate::tables::neighbours::Neighbours;

/// One scrape's worth of values, read once from workers, tables and ports.
#[derive(Debug, Clone, Default)]
pub(super) struct Reading {
    /// (name, counters, link up) per port.
    pub(super) ports: Vec<(String, PortStats, bool)>,
    /// Per worker: (lcore, rx, tx, polls, busy polls, busy cycles).
    pub(super) workers: Vec<(u32, [u64; 5])>,
    /// Drops per reason, summed over workers.
    pub(super) drops: Vec<u64>,
    /// Events per event, summed over workers.
    pub(super) events: Vec<u64>,
    pub(super) fdb: FdbStats,
    pub(super) fdb_capacity: usize,
    /// (static, resolved, incomplete) neighbours.
    pub(super) neighbours: [usize; 3],
    pub(super) generation: u64,
    pub(super) uptime: f64,
    pub(super) tsc_hz: u64,
    pub(super) conntrack: CtStats,
    pub(super) conntrack_capacity: usize,
    pub(super) backends: Vec<BackendReading>,
}

impl Reading {
    /// Reads the workers' blocks (each counter once) and sums them per reason/event,
    /// and the FDB's and neighbour table's own counts. No DPDK involved.
    pub(super) fn tables(
        workers: &[WorkerCounters],
        lcores: &[u32],
        fdb: &Fdb,
        neigh: &Neighbours,
    ) -> Reading {
        let mut drops = vec![0u64; DROP_REASON_COUNT];
        let mut events = vec![0u64; EVENT_COUNT];
        let mut per_worker = Vec::with_capacity(workers.len());
        for (c, &lcore) in workers.iter().zip(lcores) {
            for (sum, &r) in drops.iter_mut().zip(DropReason::ALL.iter()) {
                *sum += c.pipeline.drops(r);
            }
            for (sum, &e) in events.iter_mut().zip(Event::ALL.iter()) {
                *sum += c.pipeline.events(e);
            }
            per_worker.push((
                lcore,
                [
                    c.rx_packets.get(),
                    c.tx_packets.get(),
                    c.polls.get(),
                    c.busy_polls.get(),
                    c.busy_cycles.get(),
                ],
            ));
        }
        let mut neighbours = [0usize; 3];
        for n in neigh.entries() {
            let i = match (n.mac.is_some(), n.is_static) {
                (false, _) => 2,
                (true, true) => 0,
                (true, false) => 1,
            };
            neighbours[i] += 1;
        }
        Reading {
            workers: per_worker,
            drops,
            events,
            fdb: fdb.stats(),
            fdb_capacity: fdb.capacity(),
            neighbours,
            ..Reading::default()
        }
    }
}

/// One scrape's view of one backend.
#[derive(Debug, Clone, Default)]
pub(super) struct BackendReading {
    pub(super) service: String,
    pub(super) backend: String,
    pub(super) weight: u32,
    /// Connections created, packets/bytes to backend, packets/bytes to client.
    pub(super) counters: [u64; 5],
    pub(super) active: u64,
}
