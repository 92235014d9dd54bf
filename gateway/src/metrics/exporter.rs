//! The Prometheus exporter: `GET /metrics` on the management address (loopback by
//! default, never a DPDK port), served by one thread of its own.
//!
//! # Why the counters are summed when scraped
//!
//! Workers count with owner-written counters ([`Counter`](super::Counter)): a relaxed
//! load and store on the worker's own cache lines, no atomic read-modify-write and no
//! line shared with another writer. Keeping Prometheus metric objects (`IntCounter`,
//! `with_label_values`) on the packet path would put a shared atomic increment (and,
//! for labelled vectors, a hash lookup) behind every packet and make every worker
//! bounce the same cache lines. Instead [`GatewayCollector`] is a custom
//! [`Collector`]: on each scrape it reads every worker's block once, sums the blocks
//! per metric, reads the FDB's and neighbour table's own counters, and asks DPDK for
//! the port counters. The packet path pays nothing for the exporter, and the cost of
//! a scrape (a few hundred relaxed loads per worker and one `rte_eth_stats_get` per
//! port) lands on the management thread, at the scrape rate.
//!
//! A sum read this way is not an atomic snapshot across workers, but each worker's
//! counter only grows, so every sum is monotonic from one scrape to the next: what
//! `rate()` needs. Every label value that can exist (every drop reason, every event,
//! every port and worker) is exported from the first scrape on, zeros included, so
//! `rate()` and `increase()` see a series start at 0 rather than appear mid-way.
//!
//! # HTTP
//!
//! A deliberately small HTTP/1.1 server on std's `TcpListener`: `GET`/`HEAD` of
//! `/metrics` (text exposition format 0.0.4) and `/` (a pointer to `/metrics`), 404
//! for other paths, 405 for other methods, 400 for malformed requests, 431 for request
//! heads over 8 KiB. One connection at a time, one request per connection
//! (`Connection: close`), with a deadline on reading the request so a stalled client
//! cannot hold the exporter.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Encoder, Registry, TextEncoder};

use crate::dpdk::{PortStats, StartedPort};
use crate::pipeline::{BackendStat, DropReason, Event, DROP_REASON_COUNT, EVENT_COUNT};
use crate::tables::conntrack::{CtState, CtStats};
use crate::tables::fdb::{Fdb, FdbStats};
use crate::tables::neighbours::Neighbours;
use crate::worker::{Shared, WorkerCounters};

/// The management address used when `--metrics-addr` is not given.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9465";

/// Parses a `--metrics-addr` value: `IP:PORT` (`127.0.0.1:9465`, `[::1]:9465`), or
/// `none`/`off` to disable the exporter.
pub fn parse_metrics_addr(s: &str) -> Result<Option<SocketAddr>, String> {
    match s.trim() {
        "none" | "off" => Ok(None),
        t => t.parse::<SocketAddr>().map(Some).map_err(|_| {
            format!(
                "'{s}' is not IP:PORT (e.g. {DEFAULT_METRICS_ADDR} or [::1]:9465), or none/off to disable the exporter"
            )
        }),
    }
}

// ---------------------------------------------------------------------------------
// Metric families
// ---------------------------------------------------------------------------------

/// One metric family: name, help, type, and its one label (if any).
#[derive(Debug, Clone, Copy)]
struct Spec {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    label: Option<&'static str>,
}

const fn counter(name: &'static str, label: Option<&'static str>, help: &'static str) -> Spec {
    Spec {
        name,
        help,
        kind: MetricType::COUNTER,
        label,
    }
}

const fn gauge(name: &'static str, label: Option<&'static str>, help: &'static str) -> Spec {
    Spec {
        name,
        help,
        kind: MetricType::GAUGE,
        label,
    }
}

const PORT: Option<&str> = Some("port");
const WORKER: Option<&str> = Some("worker");

const PORT_RX_PACKETS: Spec = counter(
    "vxgw_port_rx_packets_total",
    PORT,
    "Packets received by the DPDK port (ethdev ipackets).",
);
const PORT_TX_PACKETS: Spec = counter(
    "vxgw_port_tx_packets_total",
    PORT,
    "Packets sent by the DPDK port (ethdev opackets).",
);
const PORT_RX_BYTES: Spec = counter(
    "vxgw_port_rx_bytes_total",
    PORT,
    "Bytes received by the DPDK port (ethdev ibytes).",
);
const PORT_TX_BYTES: Spec = counter(
    "vxgw_port_tx_bytes_total",
    PORT,
    "Bytes sent by the DPDK port (ethdev obytes).",
);
const PORT_RX_ERRORS: Spec = counter(
    "vxgw_port_rx_errors_total",
    PORT,
    "Erroneous packets received by the DPDK port (ethdev ierrors).",
);
const PORT_TX_ERRORS: Spec = counter(
    "vxgw_port_tx_errors_total",
    PORT,
    "Packets the DPDK port failed to send (ethdev oerrors).",
);
const PORT_RX_MISSED: Spec = counter(
    "vxgw_port_rx_missed_total",
    PORT,
    "Packets the device dropped because its rx queue was full (ethdev imissed): the workers did not keep up.",
);
const PORT_RX_NOMBUF: Spec = counter(
    "vxgw_port_rx_nombuf_total",
    PORT,
    "Receive mbuf allocation failures on the DPDK port (ethdev rx_nombuf): the packet pool ran dry.",
);
const PORT_LINK_UP: Spec = gauge(
    "vxgw_port_link_up",
    PORT,
    "1 when the DPDK port's link is up, 0 when it is down.",
);
const WORKER_RX_PACKETS: Spec = counter(
    "vxgw_worker_rx_packets_total",
    WORKER,
    "Packets the worker lcore received from its rx queues.",
);
const WORKER_TX_PACKETS: Spec = counter(
    "vxgw_worker_tx_packets_total",
    WORKER,
    "Packets the worker lcore handed to tx queues that the queues accepted.",
);
const WORKER_POLLS: Spec = counter(
    "vxgw_worker_polls_total",
    WORKER,
    "Poll rounds of the worker lcore (one rx burst attempt on each of its queues).",
);
const WORKER_BUSY_POLLS: Spec = counter(
    "vxgw_worker_busy_polls_total",
    WORKER,
    "Poll rounds of the worker lcore that received at least one packet.",
);
const WORKER_BUSY_CYCLES: Spec = counter(
    "vxgw_worker_busy_cycles_total",
    WORKER,
    "TSC cycles the worker lcore spent in poll rounds that received packets.",
);
const WORKER_BUSY_SECONDS: Spec = counter(
    "vxgw_worker_busy_seconds_total",
    WORKER,
    "Seconds the worker lcore spent in poll rounds that received packets (busy cycles / TSC rate); its rate is the worker's load, 0 to 1.",
);
const DROPS: Spec = counter(
    "vxgw_drops_total",
    Some("reason"),
    "Packets dropped by the gateway, by reason (every drop has exactly one reason).",
);
const EVENTS: Spec = counter(
    "vxgw_events_total",
    Some("event"),
    "Packet-path events (encapsulated, decapsulated, flooded, learned, replied, ...), by event.",
);
const FDB_ENTRIES: Spec = gauge(
    "vxgw_fdb_entries",
    Some("kind"),
    "Entries in the FDB (all VNIs), by kind: dynamic (learned) or static (configured).",
);
const FDB_CAPACITY: Spec = gauge(
    "vxgw_fdb_capacity",
    None,
    "Entry slots in the FDB, all VNIs (preallocated at start, with headroom over the configured gateway.fdb_capacity).",
);
const FDB_VNIS: Spec = gauge(
    "vxgw_fdb_vnis",
    None,
    "VNIs holding an FDB count slot (every configured VNI; a deleted VNI's slot is released for the next).",
);
const FDB_VNIS_MAX: Spec = gauge(
    "vxgw_fdb_vnis_max",
    None,
    "Most VNIs the FDB holds at once.",
);
const FDB_LEARNED: Spec = counter(
    "vxgw_fdb_learned_total",
    None,
    "Dynamic FDB entries created by learning.",
);
const FDB_MOVED: Spec = counter(
    "vxgw_fdb_moved_total",
    None,
    "Dynamic FDB entries moved to a new destination (a MAC seen behind another port, VLAN or VTEP).",
);
const FDB_AGED: Spec = counter(
    "vxgw_fdb_aged_total",
    None,
    "Dynamic FDB entries removed by ageing.",
);
const FDB_FLUSHED: Spec = counter(
    "vxgw_fdb_flushed_total",
    None,
    "FDB entries removed by flushes.",
);
const FDB_LIMIT_HITS: Spec = counter(
    "vxgw_fdb_limit_hits_total",
    None,
    "New MACs not learned because their VNI was at its learn limit.",
);
const FDB_TABLE_FULL: Spec = counter(
    "vxgw_fdb_table_full_total",
    None,
    "New MACs not learned because the FDB had no room (probe window or VNI table full).",
);
const FDB_STATIC_KEPT: Spec = counter(
    "vxgw_fdb_static_kept_total",
    None,
    "Learn attempts refused because they would have moved a static FDB entry.",
);
const FDB_NOT_UNICAST: Spec = counter(
    "vxgw_fdb_not_unicast_total",
    None,
    "Source MACs not learned because they were multicast, broadcast or zero.",
);
const NEIGHBOURS: Spec = gauge(
    "vxgw_neighbours",
    Some("state"),
    "Underlay neighbours, by state: static (configured), resolved (learned by ARP), incomplete (asked, no answer yet).",
);
const CONFIG_GENERATION: Spec = gauge(
    "vxgw_config_generation",
    None,
    "Generation of the configuration snapshot the workers use (increments with every published change).",
);
const BUILD_INFO: Spec = gauge(
    "vxgw_build_info",
    Some("version"),
    "Always 1; the version label says which vxgw is running.",
);
const UPTIME: Spec = gauge(
    "vxgw_uptime_seconds",
    None,
    "Seconds since the gateway started serving.",
);

const CONNTRACK_ENTRIES: Spec = gauge(
    "vxgw_conntrack_entries",
    Some("state"),
    "Tracked routing-mesh connections, by state.",
);
const CONNTRACK_ASSURED: Spec = gauge(
    "vxgw_conntrack_assured_entries",
    Some("assured"),
    "Tracked connections by whether the backend has answered (assured: never evicted by new connections; unassured: short-lived, evicted first).",
);
const CONNTRACK_CAPACITY: Spec = gauge(
    "vxgw_conntrack_capacity",
    None,
    "Connections the conntrack table holds (preallocated).",
);
const CONNTRACK_EVENTS: Spec = counter(
    "vxgw_conntrack_events_total",
    Some("event"),
    "Conntrack events: created, expired, evicted (unassured or finished, for a new one), early_evicted (of those, unassured), refused (full), removed (flush, backend removal), exists (insert races), conflicts.",
);

/// A family with several labels (the routing mesh's per-service and per-backend
/// families); its samples exist only while services do.
#[derive(Debug, Clone, Copy)]
struct MultiSpec {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    labels: &'static [&'static str],
}

const SVC_BACKEND: &[&str] = &["service", "backend"];
const SVC_BACKEND_DIR: &[&str] = &["service", "backend", "direction"];

const BACKEND_CONNECTIONS: MultiSpec = MultiSpec {
    name: "vxgw_backend_connections_total",
    help: "Connections created to a backend of a published service.",
    kind: MetricType::COUNTER,
    labels: SVC_BACKEND,
};
const BACKEND_ACTIVE: MultiSpec = MultiSpec {
    name: "vxgw_backend_active_connections",
    help: "Connections to a backend tracked now (any state).",
    kind: MetricType::GAUGE,
    labels: SVC_BACKEND,
};
const BACKEND_WEIGHT: MultiSpec = MultiSpec {
    name: "vxgw_backend_weight",
    help: "A backend's Maglev weight (0: drained, no new connections).",
    kind: MetricType::GAUGE,
    labels: SVC_BACKEND,
};
const BACKEND_PACKETS: MultiSpec = MultiSpec {
    name: "vxgw_backend_packets_total",
    help: "Routing-mesh packets of a backend, direction to_backend (client to container) or to_client.",
    kind: MetricType::COUNTER,
    labels: SVC_BACKEND_DIR,
};
const BACKEND_BYTES: MultiSpec = MultiSpec {
    name: "vxgw_backend_bytes_total",
    help: "Routing-mesh bytes (IP packets) of a backend, by direction.",
    kind: MetricType::COUNTER,
    labels: SVC_BACKEND_DIR,
};

/// The multi-label families, in the order the collector builds them.
const MULTI_SPECS: &[MultiSpec] = &[
    BACKEND_CONNECTIONS,
    BACKEND_ACTIVE,
    BACKEND_WEIGHT,
    BACKEND_PACKETS,
    BACKEND_BYTES,
];

/// One scrape's view of one backend.
#[derive(Debug, Clone, Default)]
struct BackendReading {
    service: String,
    backend: String,
    weight: u32,
    /// Connections created, packets/bytes to backend, packets/bytes to client.
    counters: [u64; 5],
    active: u64,
}

/// One multi-label family from its spec and samples (label values, value).
fn family_n(spec: &MultiSpec, samples: Vec<(Vec<String>, f64)>) -> MetricFamily {
    build_family(spec.name, spec.help, spec.kind, spec.labels, samples)
}

/// A metric family: one metric per sample, its label values in `labels` order.
fn build_family(
    name: &str,
    help: &str,
    kind: MetricType,
    labels: &[&str],
    samples: Vec<(Vec<String>, f64)>,
) -> MetricFamily {
    let metrics = samples
        .into_iter()
        .map(|(values, v)| {
            let mut m = proto::Metric::default();
            debug_assert_eq!(values.len(), labels.len(), "{name}");
            m.set_label(
                labels
                    .iter()
                    .zip(values)
                    .map(|(n, v)| {
                        let mut lp = proto::LabelPair::default();
                        lp.set_name(n.to_string());
                        lp.set_value(v);
                        lp
                    })
                    .collect(),
            );
            if kind == MetricType::COUNTER {
                let mut c = proto::Counter::default();
                c.set_value(v);
                m.set_counter(c);
            } else {
                let mut g = proto::Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
            }
            m
        })
        .collect();
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

/// Every family the collector exports, in the order it builds them.
const SPECS: &[Spec] = &[
    PORT_RX_PACKETS,
    PORT_TX_PACKETS,
    PORT_RX_BYTES,
    PORT_TX_BYTES,
    PORT_RX_ERRORS,
    PORT_TX_ERRORS,
    PORT_RX_MISSED,
    PORT_RX_NOMBUF,
    PORT_LINK_UP,
    WORKER_RX_PACKETS,
    WORKER_TX_PACKETS,
    WORKER_POLLS,
    WORKER_BUSY_POLLS,
    WORKER_BUSY_CYCLES,
    WORKER_BUSY_SECONDS,
    DROPS,
    EVENTS,
    FDB_ENTRIES,
    FDB_CAPACITY,
    FDB_VNIS,
    FDB_VNIS_MAX,
    FDB_LEARNED,
    FDB_MOVED,
    FDB_AGED,
    FDB_FLUSHED,
    FDB_LIMIT_HITS,
    FDB_TABLE_FULL,
    FDB_STATIC_KEPT,
    FDB_NOT_UNICAST,
    NEIGHBOURS,
    CONNTRACK_ENTRIES,
    CONNTRACK_ASSURED,
    CONNTRACK_CAPACITY,
    CONNTRACK_EVENTS,
    CONFIG_GENERATION,
    BUILD_INFO,
    UPTIME,
];

/// One metric family from its spec and samples (label value, value).
fn family(spec: &Spec, samples: Vec<(Option<String>, f64)>) -> MetricFamily {
    let labels: &[&str] = match &spec.label {
        Some(l) => std::slice::from_ref(l),
        None => &[],
    };
    build_family(
        spec.name,
        spec.help,
        spec.kind,
        labels,
        samples
            .into_iter()
            .map(|(label, v)| {
                debug_assert_eq!(label.is_some(), spec.label.is_some(), "{}", spec.name);
                (label.into_iter().collect(), v)
            })
            .collect(),
    )
}

/// One scrape's worth of values, read once from workers, tables and ports.
#[derive(Debug, Clone, Default)]
struct Reading {
    /// (name, counters, link up) per port.
    ports: Vec<(String, PortStats, bool)>,
    /// Per worker: (lcore, rx, tx, polls, busy polls, busy cycles).
    workers: Vec<(u32, [u64; 5])>,
    /// Drops per reason, summed over workers.
    drops: Vec<u64>,
    /// Events per event, summed over workers.
    events: Vec<u64>,
    fdb: FdbStats,
    fdb_capacity: usize,
    /// (static, resolved, incomplete) neighbours.
    neighbours: [usize; 3],
    generation: u64,
    uptime: f64,
    tsc_hz: u64,
    conntrack: CtStats,
    conntrack_capacity: usize,
    backends: Vec<BackendReading>,
}

impl Reading {
    /// Reads the workers' blocks (each counter once) and sums them per reason/event,
    /// and the FDB's and neighbour table's own counts. No DPDK involved.
    fn tables(
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

    /// The metric families of this reading, one per [`SPECS`] entry, in that order.
    fn families(&self) -> Vec<MetricFamily> {
        let per_port = |f: &dyn Fn(&PortStats) -> u64| -> Vec<(Option<String>, f64)> {
            self.ports
                .iter()
                .map(|(name, st, _)| (Some(name.clone()), f(st) as f64))
                .collect()
        };
        let per_worker = |i: usize| -> Vec<(Option<String>, f64)> {
            self.workers
                .iter()
                .map(|(lcore, v)| (Some(lcore.to_string()), v[i] as f64))
                .collect()
        };
        let hz = self.tsc_hz.max(1) as f64;
        let one = |v: f64| vec![(None, v)];
        let fdb = &self.fdb;
        vec![
            family(&PORT_RX_PACKETS, per_port(&|s| s.rx_packets)),
            family(&PORT_TX_PACKETS, per_port(&|s| s.tx_packets)),
            family(&PORT_RX_BYTES, per_port(&|s| s.rx_bytes)),
            family(&PORT_TX_BYTES, per_port(&|s| s.tx_bytes)),
            family(&PORT_RX_ERRORS, per_port(&|s| s.rx_errors)),
            family(&PORT_TX_ERRORS, per_port(&|s| s.tx_errors)),
            family(&PORT_RX_MISSED, per_port(&|s| s.rx_missed)),
            family(&PORT_RX_NOMBUF, per_port(&|s| s.rx_nombuf)),
            family(
                &PORT_LINK_UP,
                self.ports
                    .iter()
                    .map(|(name, _, up)| (Some(name.clone()), if *up { 1.0 } else { 0.0 }))
                    .collect(),
            ),
            family(&WORKER_RX_PACKETS, per_worker(0)),
            family(&WORKER_TX_PACKETS, per_worker(1)),
            family(&WORKER_POLLS, per_worker(2)),
            family(&WORKER_BUSY_POLLS, per_worker(3)),
            family(&WORKER_BUSY_CYCLES, per_worker(4)),
            family(
                &WORKER_BUSY_SECONDS,
                per_worker(4)
                    .into_iter()
                    .map(|(l, c)| (l, c / hz))
                    .collect(),
            ),
            family(
                &DROPS,
                DropReason::ALL
                    .iter()
                    .zip(&self.drops)
                    .map(|(r, &v)| (Some(r.name().to_string()), v as f64))
                    .collect(),
            ),
            family(
                &EVENTS,
                Event::ALL
                    .iter()
                    .zip(&self.events)
                    .map(|(e, &v)| (Some(e.name().to_string()), v as f64))
                    .collect(),
            ),
            family(
                &FDB_ENTRIES,
                vec![
                    (Some("dynamic".into()), fdb.dynamic_entries as f64),
                    (Some("static".into()), fdb.static_entries as f64),
                ],
            ),
            family(&FDB_CAPACITY, one(self.fdb_capacity as f64)),
            family(&FDB_VNIS, one(fdb.vnis as f64)),
            family(&FDB_VNIS_MAX, one(fdb.max_vnis as f64)),
            family(&FDB_LEARNED, one(fdb.learned as f64)),
            family(&FDB_MOVED, one(fdb.moved as f64)),
            family(&FDB_AGED, one(fdb.aged as f64)),
            family(&FDB_FLUSHED, one(fdb.flushed as f64)),
            family(&FDB_LIMIT_HITS, one(fdb.limit_hits as f64)),
            family(&FDB_TABLE_FULL, one(fdb.table_full as f64)),
            family(&FDB_STATIC_KEPT, one(fdb.static_kept as f64)),
            family(&FDB_NOT_UNICAST, one(fdb.not_unicast as f64)),
            family(
                &NEIGHBOURS,
                ["static", "resolved", "incomplete"]
                    .iter()
                    .zip(self.neighbours)
                    .map(|(s, n)| (Some(s.to_string()), n as f64))
                    .collect(),
            ),
            family(
                &CONNTRACK_ENTRIES,
                CtState::ALL
                    .iter()
                    .map(|st| {
                        (
                            Some(st.name().to_string()),
                            self.conntrack.in_state(*st) as f64,
                        )
                    })
                    .collect(),
            ),
            family(
                &CONNTRACK_ASSURED,
                vec![
                    (Some("true".to_string()), self.conntrack.assured as f64),
                    (Some("false".to_string()), self.conntrack.unassured() as f64),
                ],
            ),
            family(&CONNTRACK_CAPACITY, one(self.conntrack_capacity as f64)),
            family(&CONNTRACK_EVENTS, {
                let c = &self.conntrack;
                [
                    ("created", c.created),
                    ("expired", c.expired),
                    ("evicted", c.evicted),
                    ("early_evicted", c.early_evicted),
                    ("refused", c.refused),
                    ("removed", c.removed),
                    ("exists", c.exists),
                    ("conflicts", c.conflicts),
                ]
                .iter()
                .map(|(n, v)| (Some(n.to_string()), *v as f64))
                .collect()
            }),
            family(&CONFIG_GENERATION, one(self.generation as f64)),
            family(
                &BUILD_INFO,
                vec![(Some(env!("CARGO_PKG_VERSION").to_string()), 1.0)],
            ),
            family(&UPTIME, one(self.uptime)),
        ]
    }

    /// The per-service and per-backend families ([`MULTI_SPECS`], in that order).
    fn mesh_families(&self) -> Vec<MetricFamily> {
        let ids = |b: &BackendReading| vec![b.service.clone(), b.backend.clone()];
        let dir =
            |b: &BackendReading, d: &str| vec![b.service.clone(), b.backend.clone(), d.to_string()];
        let both = |i: usize, j: usize| -> Vec<(Vec<String>, f64)> {
            self.backends
                .iter()
                .flat_map(|b| {
                    [
                        (dir(b, "to_backend"), b.counters[i] as f64),
                        (dir(b, "to_client"), b.counters[j] as f64),
                    ]
                })
                .collect()
        };
        vec![
            family_n(
                &BACKEND_CONNECTIONS,
                self.backends
                    .iter()
                    .map(|b| (ids(b), b.counters[0] as f64))
                    .collect(),
            ),
            family_n(
                &BACKEND_ACTIVE,
                self.backends
                    .iter()
                    .map(|b| (ids(b), b.active as f64))
                    .collect(),
            ),
            family_n(
                &BACKEND_WEIGHT,
                self.backends
                    .iter()
                    .map(|b| (ids(b), b.weight as f64))
                    .collect(),
            ),
            family_n(&BACKEND_PACKETS, both(1, 3)),
            family_n(&BACKEND_BYTES, both(2, 4)),
        ]
    }
}

/// The gateway's metrics, read from the workers' counters, the tables and the ports
/// when Prometheus scrapes (see the module documentation).
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

/// Descriptors of every family (validates names and label names).
fn descs() -> prometheus::Result<Vec<Desc>> {
    let one = SPECS.iter().map(|s| {
        Desc::new(
            s.name.to_string(),
            s.help.to_string(),
            s.label.iter().map(|l| l.to_string()).collect(),
            Default::default(),
        )
    });
    let multi = MULTI_SPECS.iter().map(|s| {
        Desc::new(
            s.name.to_string(),
            s.help.to_string(),
            s.labels.iter().map(|l| l.to_string()).collect(),
            Default::default(),
        )
    });
    one.chain(multi).collect()
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

// ---------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------

/// Largest request head accepted (request line and headers).
const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its request head.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Time a client has to take the response.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The management listener, bound early (so a bad or busy address fails before the
/// ports start) and served once the collector exists.
pub struct MetricsListener {
    listener: TcpListener,
}

impl MetricsListener {
    /// Binds `addr` (TCP, kernel stack).
    pub fn bind(addr: SocketAddr) -> std::io::Result<MetricsListener> {
        Ok(MetricsListener {
            listener: TcpListener::bind(addr)?,
        })
    }

    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Registers `collector` in a registry of its own and serves it on a thread
    /// named `vxgw-metrics` until the returned [`Exporter`] is dropped.
    pub fn serve(self, collector: impl Collector + 'static) -> Result<Exporter, ExporterError> {
        let registry = Registry::new();
        registry.register(Box::new(collector))?;
        let addr = self.listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let listener = self.listener;
        let thread = std::thread::Builder::new()
            .name("vxgw-metrics".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::Acquire) {
                        break;
                    }
                    match conn {
                        Ok(s) => serve_connection(s, &registry),
                        // Out of descriptors or an aborted handshake: back off briefly.
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })?;
        Ok(Exporter {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The collector's metrics were refused by the registry.
    #[error("metrics registry: {0}")]
    Registry(#[from] prometheus::Error),
    /// Socket or thread.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running exporter; stops (and drops the collector, with its port handles) when
/// dropped.
pub struct Exporter {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept with a connection of our own.
        let ip = match self.addr.ip() {
            IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let woke = TcpStream::connect_timeout(
            &SocketAddr::new(ip, self.addr.port()),
            Duration::from_secs(1),
        )
        .is_ok();
        if let Some(t) = self.thread.take() {
            // Without the wake-up the thread may sleep in accept forever: leave it.
            if woke {
                let _ = t.join();
            }
        }
    }
}

/// A response: status, content type, body.
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    allow: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            allow: false,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Why no request head was read.
#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    /// The client closed, stalled past the deadline, or the socket failed: nobody
    /// to answer.
    Gone,
    /// Over [`MAX_HEAD`] bytes without the blank line: answered with 431.
    TooLarge,
}

/// Reads the request head (until the blank line), within the deadline and size limit.
fn read_head(s: &mut TcpStream) -> Result<Vec<u8>, HeadError> {
    let deadline = Instant::now() + READ_DEADLINE;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = find_blank_line(&head) {
            if end > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            head.truncate(end);
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(HeadError::Gone)?;
        s.set_read_timeout(Some(left))
            .map_err(|_| HeadError::Gone)?;
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return Err(HeadError::Gone),
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// End of the request line and headers (`\r\n\r\n`, or `\n\n` from lax clients).
fn find_blank_line(b: &[u8]) -> Option<usize> {
    (0..b.len()).find(|&i| b[i..].starts_with(b"\r\n\r\n") || b[i..].starts_with(b"\n\n"))
}

/// The answer to one request head.
fn respond(head: &[u8], registry: &Registry) -> (Response, bool) {
    let bad = |msg: &str| (Response::text(400, msg), false);
    let Ok(head) = std::str::from_utf8(head) else {
        return bad("bad request: not UTF-8\n");
    };
    let line = head.lines().next().unwrap_or("").trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return bad("bad request: expected METHOD TARGET HTTP/1.x\n");
    };
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return bad("bad request: only HTTP/1.0 and HTTP/1.1 are served\n");
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut r = Response::text(405, "method not allowed: GET or HEAD\n");
            r.allow = true;
            return (r, false);
        }
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    let r = match path {
        "/metrics" => {
            let enc = TextEncoder::new();
            let mut body = Vec::with_capacity(16 * 1024);
            match enc.encode(&registry.gather(), &mut body) {
                Ok(()) => Response {
                    status: 200,
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    body,
                    allow: false,
                },
                Err(e) => Response::text(500, &format!("encoding metrics: {e}\n")),
            }
        }
        "/" => Response::text(200, "vxgw Prometheus exporter: metrics are at /metrics\n"),
        _ => Response::text(404, "not found: metrics are at /metrics\n"),
    };
    (r, head_only)
}

fn serve_connection(mut s: TcpStream, registry: &Registry) {
    let (resp, head_only) = match read_head(&mut s) {
        Ok(head) => respond(&head, registry),
        Err(HeadError::Gone) => return,
        Err(HeadError::TooLarge) => (
            Response::text(431, "request head larger than 8 KiB\n"),
            false,
        ),
    };
    let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nDate: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
        resp.status,
        reason(resp.status),
        http_date(SystemTime::now()),
        resp.content_type,
        resp.body.len(),
        if resp.allow { "Allow: GET, HEAD\r\n" } else { "" },
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    if s.write_all(&out).is_err() {
        return;
    }
    // Close politely: stop sending, then take (briefly) what the client still sends,
    // so unread request bytes do not turn the close into a reset that loses the answer.
    let _ = s.shutdown(Shutdown::Write);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut sink = [0u8; 1024];
    let mut drained = 0;
    while drained < 64 * 1024 {
        match s.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// An HTTP date (IMF-fixdate, RFC 9110 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm), non-negative days.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WD[(days % 7) as usize],
        day,
        MON[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::fdb::FdbDest;
    use crate::wire::MacAddr;

    /// A collector over plain values (no DPDK): the families of a fixed reading.
    struct Fixed(Reading, Vec<Desc>);

    impl Collector for Fixed {
        fn desc(&self) -> Vec<&Desc> {
            self.1.iter().collect()
        }
        fn collect(&self) -> Vec<MetricFamily> {
            self.0.families()
        }
    }

    fn reading() -> Reading {
        let workers: Vec<WorkerCounters> = (0..2).map(|_| WorkerCounters::default()).collect();
        workers[0].rx_packets.add(10);
        workers[1].rx_packets.add(5);
        workers[0].busy_cycles.add(3_000_000);
        workers[0].pipeline.drop(DropReason::UnknownVtep);
        workers[1].pipeline.drop_n(DropReason::UnknownVtep, 2);
        workers[1].pipeline.event_n(Event::Encapsulated, 7);
        let fdb = Fdb::new(1024, 16);
        let mac = |b| MacAddr([2, 0, 0, 0, 0, b]);
        fdb.add_static(4096, mac(1), FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 11)))
            .unwrap();
        let neigh = Neighbours::new(16);
        neigh
            .set_static(Ipv4Addr::new(172, 30, 0, 11), mac(2))
            .unwrap();
        neigh.learn(Ipv4Addr::new(172, 30, 0, 12), mac(3), 1);
        let mut r = Reading::tables(&workers, &[1, 3], &fdb, &neigh);
        r.ports = vec![
            (
                "net_pcap0".into(),
                PortStats {
                    rx_packets: 23,
                    rx_bytes: 2300,
                    ..PortStats::default()
                },
                true,
            ),
            ("0000:01:00.0".into(), PortStats::default(), false),
        ];
        r.tsc_hz = 1_000_000_000;
        r.uptime = 1.5;
        r
    }

    fn scrape(r: Reading) -> String {
        let reg = Registry::new();
        reg.register(Box::new(Fixed(r, descs().unwrap()))).unwrap();
        let mut out = Vec::new();
        TextEncoder::new().encode(&reg.gather(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn families_follow_specs() {
        let fams = reading().families();
        let names: Vec<&str> = fams.iter().map(|f| f.name()).collect();
        let specs: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
        assert_eq!(
            names, specs,
            "collect() builds exactly the described families"
        );
        for (f, s) in fams.iter().zip(SPECS) {
            assert!(!f.get_metric().is_empty(), "{} has samples", s.name);
            assert_eq!(f.get_field_type(), s.kind);
            if s.kind == MetricType::COUNTER {
                assert!(s.name.ends_with("_total"), "{}", s.name);
            } else {
                assert!(!s.name.ends_with("_total"), "{}", s.name);
            }
            assert!(s.name.starts_with("vxgw_"));
        }
        descs().expect("valid names and labels");
    }

    #[test]
    fn sums_workers_and_exports_every_reason() {
        let text = scrape(reading());
        assert!(
            text.contains("vxgw_drops_total{reason=\"unknown_vtep\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("vxgw_drops_total{reason=\"tx_queue_full\"} 0\n"));
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("vxgw_drops_total{"))
                .count(),
            DropReason::ALL.len()
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("vxgw_events_total{"))
                .count(),
            Event::ALL.len()
        );
        assert!(text.contains("vxgw_events_total{event=\"encapsulated\"} 7\n"));
        assert!(text.contains("vxgw_worker_rx_packets_total{worker=\"1\"} 10\n"));
        assert!(text.contains("vxgw_worker_rx_packets_total{worker=\"3\"} 5\n"));
        assert!(text.contains("vxgw_worker_busy_seconds_total{worker=\"1\"} 0.003\n"));
        assert!(text.contains("vxgw_port_rx_packets_total{port=\"net_pcap0\"} 23\n"));
        assert!(text.contains("vxgw_port_rx_bytes_total{port=\"net_pcap0\"} 2300\n"));
        assert!(text.contains("vxgw_port_link_up{port=\"net_pcap0\"} 1\n"));
        assert!(text.contains("vxgw_port_link_up{port=\"0000:01:00.0\"} 0\n"));
        assert!(text.contains("vxgw_fdb_entries{kind=\"static\"} 1\n"));
        assert!(text.contains("vxgw_fdb_entries{kind=\"dynamic\"} 0\n"));
        assert!(text.contains("vxgw_neighbours{state=\"static\"} 1\n"));
        assert!(text.contains("vxgw_neighbours{state=\"resolved\"} 1\n"));
        assert!(text.contains("vxgw_neighbours{state=\"incomplete\"} 0\n"));
        assert!(text.contains(&format!(
            "vxgw_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        for s in SPECS {
            assert!(
                text.contains(&format!("# HELP {} {}\n", s.name, s.help)),
                "{}",
                s.name
            );
            let t = if s.kind == MetricType::COUNTER {
                "counter"
            } else {
                "gauge"
            };
            assert!(
                text.contains(&format!("# TYPE {} {t}\n", s.name)),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn metrics_addr_values() {
        assert_eq!(parse_metrics_addr("none"), Ok(None));
        assert_eq!(parse_metrics_addr("off"), Ok(None));
        assert_eq!(
            parse_metrics_addr(DEFAULT_METRICS_ADDR),
            Ok(Some("127.0.0.1:9465".parse().unwrap()))
        );
        assert_eq!(
            parse_metrics_addr("[::1]:9100"),
            Ok(Some("[::1]:9100".parse().unwrap()))
        );
        for bad in [
            "",
            "127.0.0.1",
            "localhost:9465",
            "1.2.3.4:99999",
            ":9465",
            "nope",
        ] {
            let e = parse_metrics_addr(bad).unwrap_err();
            assert!(e.contains("IP:PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn http_dates() {
        let at = |s: u64| http_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_709_251_199), "Thu, 29 Feb 2024 23:59:59 GMT");
        assert_eq!(at(4_102_444_800), "Fri, 01 Jan 2100 00:00:00 GMT");
    }

    fn get(addr: SocketAddr, req: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn http_server() {
        let l = MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let ex = l.serve(Fixed(reading(), descs().unwrap())).unwrap();
        let a = ex.local_addr();
        let r = get(a, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        assert!(head.contains("\r\nDate: ") && head.contains(" GMT\r\n"));
        assert!(body.contains("# TYPE vxgw_drops_total counter\n"));
        let r = get(a, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        let r = get(a, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\n"),
            "{r}"
        );
        assert!(get(a, "GET / HTTP/1.1\r\n\r\n")
            .ends_with("\r\n\r\nvxgw Prometheus exporter: metrics are at /metrics\n"));
        assert!(get(a, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
        let r = get(a, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        assert!(
            r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
                && r.contains("\r\nAllow: GET, HEAD\r\n"),
            "{r}"
        );
        assert!(get(a, "garbage\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(get(a, "GET /metrics HTTP/2.0\r\n\r\n").starts_with("HTTP/1.1 400 "));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        let r = get(a, &big);
        assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
        drop(ex);
        assert!(TcpStream::connect(a).is_err(), "closed after drop");
    }
}
