//! Bringing the gateway up and down: EAL, pool, ports, workers, stats, shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dpdk::{self, Eal, LaunchedWorker, Mempool, Port, PortConfig, StartedPort, BURST_SIZE};
use crate::forward::{self, Lane, WorkerCounters};
use crate::shutdown::StopFlag;

/// What the operator asked for on the command line (everything before `--`).
#[derive(Debug, Clone)]
pub struct Options {
    /// Port pairs to forward between, both directions (ids or device names).
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
    /// A port named on the command line does not exist.
    #[error("unknown port '{name}': known ports are {known}")]
    UnknownPort { name: String, known: String },
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

fn resolve_port(spec: &str, all: &[Port]) -> Result<u16, AppError> {
    let found = match spec.parse::<u16>() {
        Ok(id) => all.iter().find(|p| p.id() == id),
        Err(_) => all.iter().find(|p| p.name() == spec),
    };
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

/// Runs until SIGINT/SIGTERM. `eal_args[0]` is the program name.
pub fn run(opts: &Options, eal_args: &[String]) -> Result<(), AppError> {
    let eal = Eal::init(eal_args).map_err(AppError::Eal)?;
    let result = run_with_eal(&eal, opts);
    drop(eal);
    result
}

fn run_with_eal(eal: &Eal, opts: &Options) -> Result<(), AppError> {
    let workers = eal.worker_lcores().to_vec();
    if workers.is_empty() {
        return Err(AppError::NoWorkerLcore(eal.main_lcore()));
    }
    let all = Port::all();
    let pairs: Vec<(u16, u16)> = if opts.forward.is_empty() {
        if all.len() < 2 || !all.len().is_multiple_of(2) {
            return Err(AppError::Config(format!(
                "{} port(s) found: plain forwarding pairs ports, give an even number or --forward A,B",
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

    let nq = workers.len() as u16;
    let cache = 256u32;
    let mbufs = if opts.mbufs > 0 {
        opts.mbufs
    } else {
        // Every rx ring full, every tx ring full, a burst and a cache per worker, slack.
        let per_port = (opts.rx_desc as u32 + opts.tx_desc as u32) * nq as u32;
        let want = per_port * used.len() as u32
            + workers.len() as u32 * (cache + 2 * BURST_SIZE as u32)
            + 2048;
        want.next_power_of_two() - 1
    };
    let pool = Arc::new(Mempool::new(
        eal,
        "vxgw_pool",
        mbufs,
        cache,
        dpdk_sys_data_room(),
        eal.lcore_socket(workers[0]),
    )?);

    let cfg = PortConfig {
        rx_queues: nq,
        tx_queues: nq,
        rx_desc: opts.rx_desc,
        tx_desc: opts.tx_desc,
        ..PortConfig::default()
    };
    let mut started: Vec<StartedPort> = Vec::new();
    let mut rxqs = std::collections::HashMap::new();
    let mut txqs = std::collections::HashMap::new();
    for &id in &used {
        let port = Port::by_id(id)?;
        let (sp, rx, tx) = port.start(&cfg, &pool)?;
        eprintln!(
            "vxgw: port {} {} up ({} rx/tx queues, link {})",
            sp.id(),
            sp.name(),
            nq,
            if sp.link().up { "up" } else { "down" }
        );
        started.push(sp);
        rxqs.insert(id, rx);
        txqs.insert(id, tx);
    }
    // Worker w serves queue w of every port, both directions of every pair.
    let mut lanes: Vec<Vec<Lane>> = (0..workers.len()).map(|_| Vec::new()).collect();
    for &(a, b) in &pairs {
        for (src, dst) in [(a, b), (b, a)] {
            let rx = rxqs.get_mut(&src).expect("started");
            let tx = txqs.get_mut(&dst).expect("started");
            for (w, (r, t)) in rx.drain(..).zip(tx.drain(..)).enumerate() {
                lanes[w].push(Lane { rx: r, tx: t });
            }
        }
    }
    drop((rxqs, txqs));

    let stop = StopFlag::on_signals()?;
    let counters: Arc<Vec<WorkerCounters>> = Arc::new(
        (0..workers.len())
            .map(|_| WorkerCounters::default())
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

    let t0 = Instant::now();
    let mut last = (Instant::now(), snapshot(&started));
    while !stop.is_set() {
        std::thread::sleep(Duration::from_millis(50));
        if opts.stats_period > 0 && last.0.elapsed() >= Duration::from_secs(opts.stats_period) {
            let now = (Instant::now(), snapshot(&started));
            print_stats(t0, &started, &last, &now, &counters);
            last = now;
        }
    }
    for w in launched {
        w.wait();
    }
    for p in &started {
        p.stop();
    }
    let end = (Instant::now(), snapshot(&started));
    let totals: (u64, u64, u64) = counters.iter().fold((0, 0, 0), |acc, c| {
        (
            acc.0 + c.rx_packets.get(),
            acc.1 + c.tx_packets.get(),
            acc.2 + c.tx_dropped.get(),
        )
    });
    eprintln!(
        "vxgw: stopped after {:.1} s: rx {} tx {} tx_dropped {}",
        t0.elapsed().as_secs_f64(),
        totals.0,
        totals.1,
        totals.2
    );
    let _ = end;
    Ok(())
}

/// Data room of each mbuf: DPDK's default (2048 + headroom) fits a 1518-byte frame
/// plus the 50-byte VXLAN encapsulation in front.
fn dpdk_sys_data_room() -> u16 {
    2048 + 128
}

fn snapshot(ports: &[StartedPort]) -> Vec<dpdk::PortStats> {
    ports.iter().map(|p| p.stats()).collect()
}

fn print_stats(
    t0: Instant,
    ports: &[StartedPort],
    last: &(Instant, Vec<dpdk::PortStats>),
    now: &(Instant, Vec<dpdk::PortStats>),
    counters: &[WorkerCounters],
) {
    let dt = now.0.duration_since(last.0).as_secs_f64();
    let rate = |a: u64, b: u64| ((b.saturating_sub(a)) as f64 / dt).round() as u64;
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
    let workers_json: Vec<_> = counters
        .iter()
        .map(|c| {
            let rx = c.rx_packets.get();
            serde_json::json!({
                "rx_packets": rx, "tx_packets": c.tx_packets.get(), "tx_dropped": c.tx_dropped.get(),
                "polls": c.polls.get(), "busy_polls": c.busy_polls.get(),
                "busy_cycles_per_packet": if rx > 0 { c.busy_cycles.get() as f64 / rx as f64 } else { 0.0 },
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"uptime_s": t0.elapsed().as_secs_f64(), "ports": ports_json, "workers": workers_json})
    );
}
