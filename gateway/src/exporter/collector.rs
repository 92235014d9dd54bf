//! [`GatewayCollector`]: the exporter's [`Collector`], which reads the gateway when
//! Prometheus scrapes.
//!
//! It holds what `run_gateway` already has (the shared tables, the workers' counter
//! blocks, the started ports) and, on each scrape, fills a [`Reading`] from them and
//! turns it into families. Nothing here runs on the packet path.

use std::sync::Arc;
use std::time::Instant;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;

use super::families::descs;
use super::reading::{BackendReading, Reading};
use crate::dpdk::StartedPort;
use crate::pipeline::BackendStat;
use crate::runtime::{Shared, WorkerCounters};

/// The gateway's metrics, read from the workers' counters, the tables and the ports
/// when Prometheus scrapes (why so: the [`exporter`](super) module documentation).
pub struct GatewayCollector {
    shared: Arc<Shared>,
    workers: Arc<Vec<WorkerCounters>>,
    lcores: Vec<u32>,
    ports: Vec<StartedPort>,
    started: Instant,
    tsc_hz: u64,
    descs: Vec<Desc>,
}

impl GatewayCollector {
    /// A collector over what `run_gateway` already holds: the shared tables, the
    /// workers' counter blocks with their lcore ids (same order), and the started
    /// ports. Uptime counts from now. Needs EAL (for the TSC rate).
    pub fn new(
        shared: Arc<Shared>,
        workers: Arc<Vec<WorkerCounters>>,
        lcores: Vec<u32>,
        ports: Vec<StartedPort>,
    ) -> prometheus::Result<GatewayCollector> {
        if workers.len() != lcores.len() {
            return Err(prometheus::Error::Msg(format!(
                "{} worker counter blocks for {} worker lcores",
                workers.len(),
                lcores.len()
            )));
        }
        Ok(GatewayCollector {
            shared,
            workers,
            lcores,
            ports,
            started: Instant::now(),
            tsc_hz: crate::dpdk::tsc_hz(),
            descs: descs()?,
        })
    }

    fn read(&self) -> Reading {
        let sh = &self.shared;
        let mut r = Reading::tables(&self.workers, &self.lcores, &sh.fdb, &sh.neigh);
        r.ports = self
            .ports
            .iter()
            .map(|p| (p.name().to_string(), p.stats(), p.link().up))
            .collect();
        let snap = sh.snap.load_full();
        r.generation = snap.generation;
        r.conntrack = sh.conntrack.stats();
        r.conntrack_capacity = sh.conntrack.capacity();
        let mut active = vec![0u64; crate::tables::snapshot::MAX_BACKEND_SLOTS];
        if !snap.services.is_empty() {
            sh.conntrack.for_each(|c, _| {
                if let Some(a) = active.get_mut(c.backend_id as usize) {
                    *a += 1;
                }
            });
        }
        for s in &snap.services {
            for b in &s.backends {
                let mut counters = [0u64; 5];
                for w in self.workers.iter() {
                    for (i, st) in [
                        BackendStat::Connections,
                        BackendStat::PacketsIn,
                        BackendStat::BytesIn,
                        BackendStat::PacketsOut,
                        BackendStat::BytesOut,
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        counters[i] += w.backends.get(b.slot, st);
                    }
                }
                r.backends.push(BackendReading {
                    service: s.name.clone(),
                    backend: b.ip.to_string(),
                    weight: b.weight,
                    counters,
                    active: active[b.slot as usize],
                });
            }
        }
        r.uptime = self.started.elapsed().as_secs_f64();
        r.tsc_hz = self.tsc_hz;
        r
    }
}

impl Collector for GatewayCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let r = self.read();
        let mut f = r.families();
        f.extend(
            r.mesh_families()
                .into_iter()
                .filter(|f| !f.get_metric().is_empty()),
        );
        f
    }
}
