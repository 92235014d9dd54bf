//! The metric families the exporter serves: one [`Spec`] per single-label (or
//! unlabelled) family and one [`MultiSpec`] per routing-mesh family (name, help,
//! type, labels), the order they are built in ([`SPECS`], [`MULTI_SPECS`]), and how a
//! [`Reading`] becomes Prometheus families.
//!
//! Every family's name and help live here, once: the descriptors registered with the
//! registry ([`descs`]) and the families built at each scrape come from the same
//! constants, so they cannot disagree (`families_follow_specs` checks the order).

use prometheus::core::Desc;
use prometheus::proto::{self, MetricFamily, MetricType};

use super::reading::{BackendReading, Reading};
use crate::dpdk::PortStats;
use crate::pipeline::{DropReason, Event};
use crate::tables::conntrack::CtState;

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

/// Descriptors of every family (validates names and label names).
pub(super) fn descs() -> prometheus::Result<Vec<Desc>> {
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

impl Reading {
    /// The metric families of this reading, one per [`SPECS`] entry, in that order.
    pub(super) fn families(&self) -> Vec<MetricFamily> {
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
        let event = |e: Event| self.events.get(e as usize).copied().unwrap_or(0) as f64;
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
            // The FDB's refusals, counted by the workers (tables::fdb::counters).
            family(&FDB_LIMIT_HITS, one(event(Event::FdbLimitHit))),
            family(&FDB_TABLE_FULL, one(event(Event::FdbTableFull))),
            family(&FDB_STATIC_KEPT, one(event(Event::FdbStaticKept))),
            family(
                &FDB_NOT_UNICAST,
                one(self.drops[DropReason::InvalidSourceMac.index()] as f64),
            ),
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
    pub(super) fn mesh_families(&self) -> Vec<MetricFamily> {
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

#[cfg(test)]
#[path = "families_tests.rs"]
mod tests;
