//! `vxgw-swarm`: keeps vxgw equal to a Docker Swarm through vxgw's control API.
//!
//! `vxgw-swarm sync` (beside vxgw, pointed at a manager's Docker API) serves the
//! overlay networks it is told: each becomes a VNI whose flood list is its nodes,
//! each running task a static FDB and an ARP suppression entry, each service port
//! labelled `vxgw.publish=tcp/80:8080` a vxgw service with the running tasks as
//! backends (a task being stopped is drained at once, removed when gone). Live
//! from Docker's events, with a full resync every `--resync` seconds; it diffs and
//! never flushes.
//!
//! `vxgw-swarm node-agent` (on every swarm node) makes the node's overlay sandboxes
//! know vxgw's MAC and addresses (`agent.rs`).

mod agent;
mod current;
mod desired;
mod docker;
mod metrics;
mod model;
mod plan;
#[cfg(test)]
mod plan_tests;
mod sync;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use vxgw_api::Mode;

use desired::{Options, Served};

#[derive(Parser)]
#[command(
    name = "vxgw-swarm",
    version,
    about = "Keeps vxgw equal to a Docker Swarm"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Beside vxgw: follow a manager's Docker API and keep vxgw's tables equal to it.
    Sync {
        /// The manager's Docker API socket.
        #[arg(long, default_value = "unix:///var/run/docker.sock")]
        docker: String,
        /// vxgw's control socket.
        #[arg(long, default_value = "/run/vxgw/vxgw.sock")]
        vxgw: PathBuf,
        /// A network vxgw serves: NAME=INGRESS_IP[,gateway=IP] (repeat for more).
        #[arg(long = "network", value_name = "NAME=IP[,gateway=IP]", required = true,
              value_parser = parse_served)]
        networks: Vec<Served>,
        /// The external address published ports are reached on (default: vxgw's).
        #[arg(long)]
        published_ip: Option<Ipv4Addr>,
        /// snat (Swarm's routing mesh) or preserve (tasks see the client's address).
        #[arg(long, default_value = "snat", value_parser = ["snat", "preserve"])]
        mode: String,
        /// Seconds between full resyncs (events trigger one sooner).
        #[arg(long, default_value_t = 30)]
        resync: u64,
        /// Prometheus metrics on this address (`none`: off).
        #[arg(long, default_value = "127.0.0.1:9466")]
        metrics_addr: String,
        /// One sync, then exit (0 when vxgw is in sync).
        #[arg(long)]
        once: bool,
    },
    /// On each swarm node: install vxgw's MAC and addresses in the overlay sandboxes.
    NodeAgent {
        /// This node's Docker API socket.
        #[arg(long, default_value = "unix:///var/run/docker.sock")]
        docker: String,
        /// Docker's exec root (`dockerd --exec-root`).
        #[arg(long, default_value = "/var/run/docker")]
        exec_root: PathBuf,
        /// vxgw's overlay MAC (its underlay port's MAC: `vxgwctl status`).
        #[arg(long)]
        vxgw_mac: vxgw_api::Mac,
        /// vxgw's VTEP address.
        #[arg(long)]
        vxgw_vtep: Ipv4Addr,
        /// A network vxgw serves and vxgw's addresses in it: NAME=IP[,IP...].
        #[arg(long = "network", value_name = "NAME=IP[,IP]", required = true,
              value_parser = parse_agent_net)]
        networks: Vec<(String, Vec<Ipv4Addr>)>,
        /// Seconds between passes.
        #[arg(long, default_value_t = 2)]
        period: u64,
    },
}

fn parse_served(s: &str) -> Result<Served, String> {
    let (name, rest) = s
        .split_once('=')
        .ok_or("want NAME=INGRESS_IP[,gateway=IP]")?;
    let mut parts = rest.split(',');
    let ingress_ip = parts
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| format!("'{rest}': an IPv4 ingress address first"))?;
    let mut gateway_ip = None;
    for p in parts {
        match p.split_once('=') {
            Some(("gateway", ip)) => {
                gateway_ip = Some(ip.parse().map_err(|_| format!("gateway '{ip}'"))?)
            }
            _ => return Err(format!("'{p}': only gateway=IP follows")),
        }
    }
    Ok(Served {
        network: name.to_string(),
        ingress_ip,
        gateway_ip,
    })
}

fn parse_agent_net(s: &str) -> Result<(String, Vec<Ipv4Addr>), String> {
    let (name, ips) = s.split_once('=').ok_or("want NAME=IP[,IP]")?;
    let ips = ips
        .split(',')
        .map(|i| {
            i.parse()
                .map_err(|_| format!("'{i}' is not an IPv4 address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((name.to_string(), ips))
}

async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match Cli::parse().cmd {
        Cmd::Sync {
            docker,
            vxgw,
            networks,
            published_ip,
            mode,
            resync,
            metrics_addr,
            once,
        } => {
            let cfg = sync::SyncConfig {
                docker,
                vxgw,
                options: Options {
                    served: networks,
                    published_ip,
                    mode: if mode == "preserve" {
                        Mode::Preserve
                    } else {
                        Mode::Snat
                    },
                },
                resync: Duration::from_secs(resync.max(1)),
                debounce: Duration::from_millis(200),
            };
            let m = metrics::Metrics::new();
            if once {
                return match sync::sync_once(&cfg, &m).await {
                    Ok(n) => {
                        eprintln!("vxgw-swarm: in sync ({n} changes)");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("vxgw-swarm: {e}");
                        ExitCode::from(1)
                    }
                };
            }
            if metrics_addr != "none" {
                let addr: SocketAddr = match metrics_addr.parse() {
                    Ok(a) => a,
                    Err(_) => {
                        eprintln!("vxgw-swarm: --metrics-addr '{metrics_addr}': HOST:PORT or none");
                        return ExitCode::from(2);
                    }
                };
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => {
                        tokio::spawn(m.clone().serve(l));
                    }
                    Err(e) => {
                        eprintln!("vxgw-swarm: metrics on {addr}: {e}");
                        return ExitCode::from(1);
                    }
                }
            }
            eprintln!(
                "vxgw-swarm: following {} for vxgw at {}",
                cfg.docker,
                cfg.vxgw.display()
            );
            sync::run(cfg, m, stop_signal()).await;
            ExitCode::SUCCESS
        }
        Cmd::NodeAgent {
            docker,
            exec_root,
            vxgw_mac,
            vxgw_vtep,
            networks,
            period,
        } => {
            let cfg = agent::AgentConfig {
                docker,
                exec_root,
                vxgw_mac,
                vxgw_vtep,
                networks,
                period: Duration::from_secs(period.max(1)),
            };
            agent::run_agent(cfg, stop_signal()).await;
            ExitCode::SUCCESS
        }
    }
}
