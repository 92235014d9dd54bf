//! Bringing the gateway up and down: EAL, pool, ports, workers, the control loop,
//! shutdown. Two modes: the gateway (a configuration file: VXLAN bridging) and plain
//! forwarding (port pairs, the plumbing check and performance baseline).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::config::{Config, Role};
use crate::dpdk::{
    self, Eal, LaunchedWorker, Mempool, MtuRefusal, Port, PortConfig, RxQueue, SharedTxQueue,
    StartedPort, TxQueue, TxTarget, BURST_SIZE,
};
use crate::forward::{self, Lane};
use crate::pipeline::{DropReason, Event};
use crate::runtime::{Clock, Shared, WorkerCounters};
use crate::shutdown::StopFlag;
use crate::tables::fdb::Fdb;
use crate::tables::neighbours::Neighbours;
use crate::tables::overlay_neighbours::OverlayNeighbours;
use crate::tables::snapshot::{ResolvedPort, Snapshot, SnapshotCell};
use crate::worker::Worker;

/// What the operator asked for on the command line (everything before `--`).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Gateway mode: the configuration file.
    pub config: Option<PathBuf>,
    /// Forwarding mode: port pairs, both directions (ids or device names).
    /// Empty: all ports paired in id order (0<->1, 2<->3, ...).
    pub forward: Vec<(String, String)>,
    /// Print a JSON stats line every this many seconds (0: never).
    pub stats_period: u64,
    /// Receive descriptors per queue.
    pub rx_desc: u16,
    /// Transmit descriptors per queue.
    pub tx_desc: u16,
    /// Mbufs in the pool (0: sized from ports, queues and descriptors).
    pub mbufs: u32,
    /// Control socket path (gateway mode).
    pub socket: Option<PathBuf>,
    /// Group whose members may use the control socket (besides root).
    pub socket_group: Option<u32>,
    /// A control client that sends nothing for this long is closed.
    pub control_idle: Duration,
    /// Where the running configuration is saved after every change and restored
    /// from at start (gateway mode; None: changes are not saved).
    pub state: Option<PathBuf>,
    /// Prometheus exporter address, `GET /metrics` (gateway mode; None: no exporter).
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// A failure that stops vxgw, with the message the operator sees.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// EAL refused its arguments or the environment.
    #[error("EAL initialisation failed: {0} (check the EAL arguments after `--`)")]
    Eal(dpdk::DpdkError),
    /// Nothing to run on.
    #[error("no worker lcore: the EAL lcore list (-l/--lcores) must name at least one lcore besides the main lcore {0}")]
    NoWorkerLcore(u32),
    /// A port named on the command line or in the configuration does not exist.
    #[error("unknown port '{name}': known ports are {known}")]
    UnknownPort { name: String, known: String },
    /// The configuration file is not valid.
    #[error("invalid configuration:\n  {}", .0.join("\n  "))]
    InvalidConfig(Vec<String>),
    /// Bad combination of options.
    #[error("{0}")]
    Config(String),
    /// A DPDK call failed while bringing things up.
    #[error("{0}")]
    Dpdk(#[from] dpdk::DpdkError),
    /// Signal handler installation failed.
    #[error("signal setup: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs until SIGINT/SIGTERM. `eal_args[0]` is the program name.
pub fn run(opts: &Options, eal_args: &[String]) -> Result<(), AppError> {
    // Read the configuration before EAL starts, so a bad file fails fast. A saved
    // running configuration (--state) takes precedence over --config.
    let cfg = match (&opts.config, &opts.state) {
        (None, None) => None,
        (Some(p), None) => Some(Config::load(p).map_err(AppError::InvalidConfig)?),
        (c, Some(s)) => {
            let (cfg, origin) = crate::control::persist::startup_config(c.as_deref(), Some(s))
                .map_err(AppError::Config)?;
            if let crate::control::persist::Origin::StateFile(f) = origin {
                eprintln!("vxgw: restoring running configuration from {}", f.display());
            }
            Some(cfg)
        }
    };
    if cfg.is_some() && !opts.forward.is_empty() {
        return Err(AppError::Config(
            "--config and --forward are exclusive (gateway or plain forwarding)".into(),
        ));
    }
    let eal = Eal::init(eal_args).map_err(AppError::Eal)?;
    if eal.worker_lcores().is_empty() {
        return Err(AppError::NoWorkerLcore(eal.main_lcore()));
    }
    match cfg {
        Some(cfg) => run_gateway(&eal, opts, &cfg),
        None => run_forward(&eal, opts),
    }
}

fn resolve_port(spec: &str, all: &[Port]) -> Result<u16, AppError> {
    let found = all.iter().find(|p| p.name() == spec).or_else(|| {
        spec.parse::<u16>()
            .ok()
            .and_then(|id| all.iter().find(|p| p.id() == id))
    });
    found.map(|p| p.id()).ok_or_else(|| AppError::UnknownPort {
        name: spec.to_string(),
        known: if all.is_empty() {
            "none (add --vdev=... or bind a NIC)".to_string()
        } else {
            all.iter()
                .map(|p| format!("{} ({})", p.id(), p.name()))
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}

/// Started ports with one rx and one tx queue per worker.
struct Ports {
    pool: Arc<Mempool>,
    started: Vec<StartedPort>,
    rx: HashMap<u16, Vec<RxQueue>>,
    tx: HashMap<u16, Vec<TxQueue>>,
}

/// The headroom DPDK leaves in front of a received frame (`RTE_PKTMBUF_HEADROOM`):
/// where the 50 bytes of VXLAN encapsulation are pushed.
const MBUF_HEADROOM: u16 = 128;
/// The `rte_mbuf` header in front of each buffer (two cache lines).
const MBUF_HEADER: u16 = 128;

/// The packet bytes an mbuf holds after its headroom, so that the largest frame any
/// port's MTU lets in (`max_mtu` bytes of IP, an Ethernet header, one VLAN tag and
/// room for a kept FCS) arrives in one segment: the pipeline works on one segment
/// and drops chained mbufs (`multi_segment`). 2048 at least (MTU 1500); 9088 for an
/// MTU of 9000, which carries inner frames of up to 8950 bytes encapsulated.
pub fn mbuf_data_len(max_mtu: u16) -> u16 {
    const FCS: usize = 4;
    const FRAME_OVERHEAD: usize = crate::wire::vlan::TAGGED_HEADER_LEN + FCS;
    let frame = usize::from(max_mtu) + FRAME_OVERHEAD;
    frame.max(2048).next_multiple_of(128) as u16
}

/// What a port hashes with RSS, by its roles: the underlay only VXLAN's outer UDP
/// (its source port carries the sender's inner-flow entropy), the access and external
/// ports the 5-tuple.
fn rss_fields_of(roles: &[Role]) -> u64 {
    if roles.iter().all(|r| *r == Role::Underlay) {
        dpdk::RSS_IPV4_UDP
    } else {
        dpdk::RSS_IPV4_TCP_UDP
    }
}

fn bring_up(
    eal: &Eal,
    ids: &[u16],
    mtus: &HashMap<u16, u16>,
    rss_fields: &HashMap<u16, u64>,
    fewer_queues: bool,
    opts: &Options,
) -> Result<Ports, AppError> {
    let workers = eal.worker_lcores();
    let nq = workers.len() as u16;
    let cache = 256u32;
    let mbufs = if opts.mbufs > 0 {
        opts.mbufs
    } else {
        // Every rx ring full, every tx ring full, a burst and a cache per worker, slack.
        let per_port = (opts.rx_desc as u32 + opts.tx_desc as u32) * nq as u32;
        let want = per_port * ids.len() as u32
            + workers.len() as u32 * (cache + 4 * BURST_SIZE as u32)
            + 4096;
        want.next_power_of_two() - 1
    };
    let max_mtu = mtus.values().copied().max().unwrap_or(1500);
    let data_len = mbuf_data_len(max_mtu);
    let pool = Arc::new(Mempool::new(
        eal,
        "vxgw_pool",
        mbufs,
        cache,
        data_len + MBUF_HEADROOM,
        eal.lcore_socket(workers[0]),
    )?);
    eprintln!(
        "vxgw: {mbufs} mbufs of {data_len} bytes (frames up to MTU {max_mtu}): {} MiB",
        (mbufs as u64 * (data_len + MBUF_HEADROOM + MBUF_HEADER) as u64) >> 20
    );
    let mut ports = Ports {
        pool,
        started: Vec::new(),
        rx: HashMap::new(),
        tx: HashMap::new(),
    };
    for &id in ids {
        // A device with fewer queues than workers (where the caller can live with
        // it): the first workers poll its rx queues, and its tx queues are shared.
        let (max_rx, max_tx) = if fewer_queues {
            Port::by_id(id)?.max_queues()?
        } else {
            (nq, nq)
        };
        let (nrx, ntx) = (nq.min(max_rx.max(1)), nq.min(max_tx.max(1)));
        let cfg = PortConfig {
            rx_queues: nrx,
            tx_queues: ntx,
            rx_desc: opts.rx_desc,
            tx_desc: opts.tx_desc,
            mtu: mtus.get(&id).copied(),
            rss_fields: rss_fields
                .get(&id)
                .copied()
                .unwrap_or(dpdk::RSS_IPV4_TCP_UDP),
            ..PortConfig::default()
        };
        let (sp, rx, tx) = Port::by_id(id)?.start(&cfg, &ports.pool)?;
        if nrx < nq || ntx < nq {
            let pollers = if nrx == 1 {
                "worker 0 polls it".to_string()
            } else {
                format!("workers 0-{} poll it", nrx - 1)
            };
            let senders = if ntx < nq {
                "its tx queues are shared under a lock (a burst at a time)"
            } else {
                "every worker has a tx queue of its own"
            };
            eprintln!(
                "vxgw: port {} {} offers {nrx} rx / {ntx} tx queues for {nq} workers: \
                 {pollers}, {senders}",
                sp.id(),
                sp.name(),
            );
        }
        let why = match sp.mtu_refusal() {
            None => None,
            Some(MtuRefusal::Unsupported) => Some("its driver cannot set an MTU".to_string()),
            Some(MtuRefusal::AboveDriverMax(max)) => Some(format!(
                "its driver states frames of at most {max} bytes; the kernel interface's MTU is the link's"
            )),
        };
        if let Some(why) = why {
            eprintln!(
                "vxgw: port {} {}: MTU {} not set ({why}); vxgw carries frames of up to \
                 {data_len} bytes on it",
                sp.id(),
                sp.name(),
                cfg.mtu.unwrap_or(1500),
            );
        }
        eprintln!(
            "vxgw: port {} {} up (mac {}, {} rx/tx queues, mtu {}, link {})",
            sp.id(),
            sp.name(),
            crate::wire::MacAddr(sp.mac()),
            nq,
            sp.mtu(),
            if sp.link().up { "up" } else { "down" }
        );
        ports.started.push(sp);
        ports.rx.insert(id, rx);
        ports.tx.insert(id, tx);
    }
    Ok(ports)
}

fn run_forward(eal: &Eal, opts: &Options) -> Result<(), AppError> {
    let workers = eal.worker_lcores().to_vec();
    let all = Port::all();
    let pairs: Vec<(u16, u16)> = if opts.forward.is_empty() {
        if all.len() < 2 || !all.len().is_multiple_of(2) {
            return Err(AppError::Config(format!(
                "{} port(s) found: plain forwarding pairs ports, give an even number, --forward A,B or --config FILE",
                all.len()
            )));
        }
        all.chunks(2).map(|c| (c[0].id(), c[1].id())).collect()
    } else {
        opts.forward
            .iter()
            .map(|(a, b)| Ok((resolve_port(a, &all)?, resolve_port(b, &all)?)))
            .collect::<Result<_, AppError>>()?
    };
    let mut used: Vec<u16> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    used.sort_unstable();
    if used.windows(2).any(|w| w[0] == w[1]) {
        return Err(AppError::Config(
            "a port appears in more than one --forward pair".into(),
        ));
    }
    let mut ports = bring_up(eal, &used, &HashMap::new(), &HashMap::new(), false, opts)?;
    // Worker w serves queue w of every port, both directions of every pair.
    let mut lanes: Vec<Vec<Lane>> = (0..workers.len()).map(|_| Vec::new()).collect();
    for &(a, b) in &pairs {
        for (src, dst) in [(a, b), (b, a)] {
            let rx: Vec<RxQueue> = ports.rx.get_mut(&src).expect("started").drain(..).collect();
            let tx: Vec<TxQueue> = ports.tx.get_mut(&dst).expect("started").drain(..).collect();
            for (w, (r, t)) in rx.into_iter().zip(tx).enumerate() {
                lanes[w].push(Lane { rx: r, tx: t });
            }
        }
    }
    let stop = StopFlag::on_signals()?;
    let counters: Arc<Vec<forward::WorkerCounters>> = Arc::new(
        (0..workers.len())
            .map(|_| forward::WorkerCounters::default())
            .collect(),
    );
    let mut launched = Vec::new();
    for (w, (lcore, worker_lanes)) in workers.iter().zip(lanes).enumerate() {
        let (stop, counters) = (stop.clone(), counters.clone());
        launched.push(LaunchedWorker::launch(*lcore, move || {
            forward::run(worker_lanes, &stop, &counters[w]);
            0
        })?);
    }
    eprintln!(
        "vxgw: forwarding on {} worker lcore(s) {:?}, pairs {:?}; SIGINT/SIGTERM to stop",
        workers.len(),
        workers,
        pairs
    );
    let worker_json = |c: &forward::WorkerCounters| {
        let rx = c.rx_packets.get();
        serde_json::json!({
            "rx_packets": rx, "tx_packets": c.tx_packets.get(), "tx_dropped": c.tx_dropped.get(),
            "polls": c.polls.get(), "busy_polls": c.busy_polls.get(),
            "busy_cycles_per_packet": per_packet(c.busy_cycles.get(), rx),
        })
    };
    control_loop(
        opts,
        &stop,
        &ports.started,
        |_| serde_json::json!({ "workers": counters.iter().map(worker_json).collect::<Vec<_>>() }),
    );
    for w in launched {
        w.wait();
    }
    for p in &ports.started {
        p.stop();
    }
    let t: (u64, u64, u64) = counters.iter().fold((0, 0, 0), |a, c| {
        (
            a.0 + c.rx_packets.get(),
            a.1 + c.tx_packets.get(),
            a.2 + c.tx_dropped.get(),
        )
    });
    eprintln!("vxgw: stopped: rx {} tx {} tx_dropped {}", t.0, t.1, t.2);
    Ok(())
}

fn per_packet(cycles: u64, packets: u64) -> f64 {
    if packets == 0 {
        0.0
    } else {
        cycles as f64 / packets as f64
    }
}

fn run_gateway(eal: &Eal, opts: &Options, cfg: &Config) -> Result<(), AppError> {
    run_gateway_until(eal, opts, cfg, StopFlag::on_signals()?)
}

/// The gateway on `eal`'s worker lcores and the ports `cfg` names (already probed:
/// NICs, `--vdev`s, or ports over rings made in the same process), until `stop` is
/// set. What [`run`] does after EAL's start; in-process tests call it themselves.
pub fn run_gateway_until(
    eal: &Eal,
    opts: &Options,
    cfg: &Config,
    stop: StopFlag,
) -> Result<(), AppError> {
    if eal.worker_lcores().is_empty() {
        return Err(AppError::NoWorkerLcore(eal.main_lcore()));
    }
    let workers = eal.worker_lcores().to_vec();
    let all = Port::all();
    let mut ids = Vec::new();
    let mut by_name = HashMap::new();
    let mut mtus = HashMap::new();
    let mut rss_fields = HashMap::new();
    for p in &cfg.ports {
        let id = resolve_port(&p.name, &all)?;
        ids.push(id);
        by_name.insert(p.name.clone(), id);
        if let Some(m) = p.mtu {
            mtus.insert(id, m);
        }
        rss_fields.insert(id, rss_fields_of(&p.roles));
    }
    // Bind the exporter's address before the ports start: a bad or busy one fails fast.
    let metrics = match opts.metrics_addr {
        Some(a) => Some(
            crate::exporter::MetricsListener::bind(a)
                .map_err(|e| AppError::Config(format!("metrics address {a}: {e}")))?,
        ),
        None => None,
    };
    let mut ports = bring_up(eal, &ids, &mtus, &rss_fields, true, opts)?;
    let resolved: HashMap<String, ResolvedPort> = by_name
        .iter()
        .map(|(name, &id)| {
            let sp = ports
                .started
                .iter()
                .find(|s| s.id() == id)
                .expect("started");
            (
                name.clone(),
                ResolvedPort {
                    id,
                    mac: sp.mac().into(),
                    mtu: sp.mtu(),
                },
            )
        })
        .collect();
    let snap = Snapshot::build(cfg, &|n| resolved.get(n).copied(), 1).map_err(AppError::Config)?;

    let fdb = Arc::new(Fdb::new(cfg.gateway.fdb_capacity as usize, 4096));
    let neigh = Arc::new(Neighbours::new(1024));
    let overlay_neigh = Arc::new(OverlayNeighbours::new(8192));
    // SNAT source ports: every worker draws from the whole range (tables/snat_source.rs).
    let snat_ports = crate::tables::snat_source::SnatSource::for_workers(
        crate::tables::snat_source::DEFAULT_LO,
        crate::tables::snat_source::DEFAULT_HI,
        workers.len() as u16,
    )
    .map_err(|e| AppError::Config(format!("SNAT ports: {e}")))?;
    let conntrack = Arc::new(crate::tables::conntrack::Conntrack::new(
        cfg.gateway.conntrack_capacity as usize,
        crate::tables::conntrack::Timeouts::default(),
    ));
    let cell = Arc::new(SnapshotCell::new(snap));
    // The running configuration: owned by the control side, changed only through
    // live::Writer::commit (workers never see it, only the snapshots it publishes).
    let live = Arc::new(crate::control::live::Live::new(
        cfg.clone(),
        resolved.clone(),
        cell.clone(),
        fdb.clone(),
        neigh.clone(),
        opts.state.clone(),
    ));
    live.set_conntrack(conntrack.clone());
    live.install_statics().map_err(AppError::Config)?;
    #[cfg(debug_assertions)]
    force_fdb_for_tests(&fdb, &resolved)?;
    let shared = Arc::new(Shared {
        snap: cell,
        fdb,
        neigh,
        overlay_neigh,
        conntrack,
        pool: ports.pool.clone(),
        stop: stop.clone(),
        clock: Clock::start(dpdk::tsc_hz()),
        live_trace: Default::default(),
    });
    let counters: Arc<Vec<WorkerCounters>> = Arc::new(
        (0..workers.len())
            .map(|_| WorkerCounters::default())
            .collect(),
    );
    // DPDK's own tools keep working: telemetry shows our tables, dpdk-dumpcap can
    // attach to our ports (it needs EAL's shared memory: not with --in-memory/--no-huge).
    crate::telemetry_cmds::register(shared.clone(), counters.clone())?;
    if let Err(e) = eal.enable_pdump() {
        eprintln!("vxgw: packet capture (pdump) unavailable: {e}");
    }
    let exporter = match metrics {
        Some(l) => {
            let collector = crate::exporter::GatewayCollector::new(
                shared.clone(),
                counters.clone(),
                workers.clone(),
                ports.started.clone(),
            )
            .map_err(|e| AppError::Config(format!("metrics: {e}")))?;
            Some(
                l.serve(collector)
                    .map_err(|e| AppError::Config(format!("metrics exporter: {e}")))?,
            )
        }
        None => None,
    };
    let mut launched = Vec::new();
    let mut snat_ports = snat_ports.into_iter();
    // Worker w polls rx queue w of every port that has one, and sends on tx queue w,
    // its own; on a port with fewer tx queues than workers, on queue w % n, shared.
    let mut rx_of: HashMap<u16, Vec<Option<RxQueue>>> = HashMap::new();
    let mut tx_of: HashMap<u16, Vec<TxTarget>> = HashMap::new();
    for id in &ids {
        let rx = std::mem::take(ports.rx.get_mut(id).expect("started"));
        rx_of.insert(*id, rx.into_iter().map(Some).collect());
        let tx = std::mem::take(ports.tx.get_mut(id).expect("started"));
        let targets = if tx.len() >= workers.len() {
            tx.into_iter().map(TxTarget::Own).collect()
        } else {
            let shared: Vec<_> = tx.into_iter().map(SharedTxQueue::new).collect();
            (0..workers.len())
                .map(|w| TxTarget::Shared(shared[w % shared.len()].clone()))
                .collect()
        };
        tx_of.insert(*id, targets);
    }
    let mut tx_of: HashMap<u16, std::vec::IntoIter<TxTarget>> = tx_of
        .into_iter()
        .map(|(id, t)| (id, t.into_iter()))
        .collect();
    for (w, lcore) in workers.iter().enumerate() {
        let snat = snat_ports.next().expect("one SNAT range per worker");
        let mut rx = Vec::new();
        let mut tx = Vec::new();
        for id in &ids {
            if let Some(q) = rx_of
                .get_mut(id)
                .and_then(|v| v.get_mut(w))
                .and_then(Option::take)
            {
                rx.push(q);
            }
            tx.push(
                tx_of
                    .get_mut(id)
                    .and_then(Iterator::next)
                    .expect("a tx target per worker"),
            );
        }
        let (shared, counters) = (shared.clone(), counters.clone());
        launched.push(LaunchedWorker::launch(*lcore, move || {
            Worker::new(rx, tx, snat).run(&shared, &counters[w]);
            0
        })?);
    }
    let started_ports = ports.started.clone();
    let (sh2, c2) = (shared.clone(), counters.clone());
    let control = crate::control::server::ControlState {
        shared: shared.clone(),
        stats: Box::new(move || gateway_stats(&sh2, &c2)),
        ports: Box::new(move || {
            started_ports
                .iter()
                .map(|p| {
                    let st = p.stats();
                    vxgw_api::PortStatus {
                        id: p.id(),
                        name: p.name().to_string(),
                        mac: vxgw_api::Mac(p.mac()),
                        link_up: p.link().up,
                        mtu: p.mtu().into(),
                        rx_packets: st.rx_packets,
                        tx_packets: st.tx_packets,
                        rx_missed: st.rx_missed,
                        rx_errors: st.rx_errors,
                        tx_errors: st.tx_errors,
                        rss: p.rss().map(|r| vxgw_api::RssStatus {
                            fields: dpdk::rss_field_names(r.fields)
                                .into_iter()
                                .map(String::from)
                                .collect(),
                            key: r.key.iter().map(|b| format!("{b:02x}")).collect(),
                            reta: r.reta,
                        }),
                    }
                })
                .collect()
        }),
        started: Instant::now(),
        workers: workers.clone(),
        live,
    };
    let _server = match &opts.socket {
        Some(path) => Some(
            crate::control::server::ControlServer::start(
                path,
                Arc::new(control),
                opts.socket_group,
                crate::control::server::Limits {
                    idle: opts.control_idle,
                },
            )
            .map_err(|e| AppError::Config(format!("control socket {}: {e}", path.display())))?,
        ),
        None => None,
    };
    eprintln!(
        "vxgw: gateway running on {} worker lcore(s) {:?}{}{}; SIGINT/SIGTERM to stop",
        workers.len(),
        workers,
        opts.socket
            .as_ref()
            .map(|p| format!(", control socket {}", p.display()))
            .unwrap_or_default(),
        exporter
            .as_ref()
            .map(|e| format!(", metrics http://{}/metrics", e.local_addr()))
            .unwrap_or_default()
    );
    let sh = shared.clone();
    let mut last_age = 0u32;
    control_loop(opts, &stop, &ports.started, |housekeeping| {
        if housekeeping {
            let now = sh.clock.now();
            if now != last_age {
                last_age = now;
                let snap = sh.snap.load_full();
                sh.fdb.age(now, |vni| snap.ageing_of(vni));
                // Expired connections (per-service timeouts); their SNAT ports go
                // back to their workers through the release hook.
                sh.conntrack
                    .sweep(now, |service| snap.timeouts_of(service), |_| {});
            }
            return serde_json::Value::Null;
        }
        gateway_stats_json(&sh, &counters)
    });
    drop(exporter); // joins its thread: no scrape reads the ports from here on
    for w in launched {
        w.wait();
    }
    for p in &ports.started {
        p.stop();
    }
    let s = gateway_stats_json(&shared, &counters);
    eprintln!("vxgw: stopped: {s}");
    Ok(())
}

/// Sums the workers' counters (drops and events by name, zeros left out).
fn gateway_stats(sh: &Shared, counters: &[WorkerCounters]) -> vxgw_api::Stats {
    let sum = |f: &dyn Fn(&WorkerCounters) -> u64| counters.iter().map(f).sum::<u64>();
    let drops = DropReason::ALL
        .iter()
        .map(|&r| (r.name().to_string(), sum(&|c| c.pipeline.drops(r))))
        .filter(|&(_, n)| n != 0)
        .collect();
    let events = Event::ALL
        .iter()
        .map(|&e| (e.name().to_string(), sum(&|c| c.pipeline.events(e))))
        .filter(|&(_, n)| n != 0)
        .collect();
    let rx = sum(&|c| c.rx_packets.get());
    vxgw_api::Stats {
        rx_packets: rx,
        tx_packets: sum(&|c| c.tx_packets.get()),
        busy_cycles_per_packet: per_packet(sum(&|c| c.busy_cycles.get()), rx),
        workers: counters
            .iter()
            .map(|c| vxgw_api::WorkerStats {
                rx_packets: c.rx_packets.get(),
                tx_packets: c.tx_packets.get(),
                polls: c.polls.get(),
                busy_polls: c.busy_polls.get(),
                busy_cycles_per_packet: per_packet(c.busy_cycles.get(), c.rx_packets.get()),
            })
            .collect(),
        drops,
        events,
        fdb_entries: sh.fdb.len(),
    }
}

/// [`gateway_stats`] as the statistics line prints it.
fn gateway_stats_json(sh: &Shared, counters: &[WorkerCounters]) -> serde_json::Value {
    serde_json::to_value(gateway_stats(sh, counters)).unwrap_or_default()
}

/// The main lcore's loop until stop: housekeeping every 50 ms (`extra(true)`), and a
/// JSON statistics line every `stats_period` seconds with `extra(false)` merged in.
fn control_loop(
    opts: &Options,
    stop: &StopFlag,
    ports: &[StartedPort],
    mut extra: impl FnMut(bool) -> serde_json::Value,
) {
    let t0 = Instant::now();
    let snapshot = || ports.iter().map(|p| p.stats()).collect::<Vec<_>>();
    let mut last = (Instant::now(), snapshot());
    while !stop.is_set() {
        std::thread::sleep(Duration::from_millis(50));
        extra(true);
        if opts.stats_period > 0 && last.0.elapsed() >= Duration::from_secs(opts.stats_period) {
            let now = (Instant::now(), snapshot());
            let dt = now.0.duration_since(last.0).as_secs_f64();
            let rate = |a: u64, b: u64| (b.saturating_sub(a) as f64 / dt).round() as u64;
            let ports_json: Vec<_> = ports
                .iter()
                .zip(last.1.iter().zip(now.1.iter()))
                .map(|(p, (a, b))| {
                    serde_json::json!({
                        "id": p.id(), "name": p.name(),
                        "rx_pps": rate(a.rx_packets, b.rx_packets), "tx_pps": rate(a.tx_packets, b.tx_packets),
                        "rx_packets": b.rx_packets, "tx_packets": b.tx_packets,
                        "rx_missed": b.rx_missed, "rx_nombuf": b.rx_nombuf, "tx_errors": b.tx_errors,
                    })
                })
                .collect();
            let mut line = serde_json::json!({
                "uptime_s": t0.elapsed().as_secs_f64(),
                "ports": ports_json,
            });
            if let serde_json::Value::Object(m) = extra(false) {
                line.as_object_mut().expect("object").extend(m);
            }
            println!("{line}");
            last = now;
        }
    }
}

/// Test hook, debug builds only (never in a release build): `VXGW_TEST_FORCE_FDB` =
/// `VNI,MAC,PORT,VLAN;...` puts static FDB entries into the table behind the
/// validator's back, as a corrupted table would have them, so that the tests can show
/// the data plane's own VNI-isolation check (`vni_isolation` drops) on a real vxgw.
#[cfg(debug_assertions)]
fn force_fdb_for_tests(
    fdb: &Fdb,
    ports: &std::collections::HashMap<String, crate::tables::snapshot::ResolvedPort>,
) -> Result<(), AppError> {
    let Ok(spec) = std::env::var("VXGW_TEST_FORCE_FDB") else {
        return Ok(());
    };
    for e in spec.split(';').filter(|e| !e.is_empty()) {
        let bad = || AppError::Config(format!("VXGW_TEST_FORCE_FDB: bad entry '{e}'"));
        let f: Vec<&str> = e.split(',').collect();
        let [vni, mac, port, vlan] = f[..] else {
            return Err(bad());
        };
        let vni: u32 = vni.parse().map_err(|_| bad())?;
        let mac: crate::wire::MacAddr = mac.parse().map_err(|_| bad())?;
        let port = ports.get(port).ok_or_else(bad)?.id;
        let vlan: u16 = vlan.parse().map_err(|_| bad())?;
        fdb.add_static(vni, mac, crate::tables::fdb::FdbDest::Access { port, vlan })
            .map_err(|err| AppError::Config(format!("VXGW_TEST_FORCE_FDB: {e}: {err}")))?;
        eprintln!("vxgw: TEST HOOK: forced FDB entry {e} past the validator");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::mbuf_data_len;

    #[test]
    fn mbufs_hold_the_largest_frame_of_the_largest_mtu() {
        assert_eq!(mbuf_data_len(68), 2048);
        assert_eq!(mbuf_data_len(1500), 2048);
        // 9000 + 14 + 4 + 4 = 9022, in whole 128-byte lines.
        assert_eq!(mbuf_data_len(9000), 9088);
        assert_eq!(
            mbuf_data_len(9600),
            9728,
            "the largest MTU the config allows"
        );
        for mtu in [1500u16, 4000, 9000, 9600] {
            assert!(usize::from(mbuf_data_len(mtu)) >= usize::from(mtu) + 22);
        }
    }
}
