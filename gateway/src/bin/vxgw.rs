//! `vxgw [OPTIONS] -- [EAL ARGS]`: the gateway's data-plane process.
//!
//! vxgw's own options come first; everything after `--` goes to DPDK's EAL untouched
//! (`-l`, `--vdev`, `-a`, `--file-prefix`, `--no-huge`, `--in-memory`, ...).

use clap::Parser;
use vxgw::app::{self, Options};

#[derive(Parser, Debug)]
#[command(
    name = "vxgw",
    version,
    about = "DPDK poll-mode VXLAN gateway",
    after_help = "EAL arguments follow `--`, e.g.\n  vxgw --forward net_pcap0,net_null0 -- -l 0-1 --no-pci --in-memory \\\n       --vdev=net_pcap0,rx_pcap=in.pcap --vdev=net_null0"
)]
struct Cli {
    /// Gateway mode: run the configuration in FILE (TOML; see the README).
    #[arg(long, value_name = "FILE", conflicts_with = "forward")]
    config: Option<std::path::PathBuf>,
    /// Validate FILE and exit: 0 when valid, 1 with every error and its location.
    #[arg(long, value_name = "FILE", exclusive = true)]
    check_config: Option<std::path::PathBuf>,
    /// Forward between two ports, both directions: ID,ID or NAME,NAME (repeatable;
    /// a comma because PCI names contain colons).
    /// Default: all ports paired in id order.
    #[arg(long = "forward", value_name = "A,B", value_parser = parse_pair)]
    forward: Vec<(String, String)>,
    /// Print a JSON statistics line every SECS seconds (0: off).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    stats_period: u64,
    /// Receive descriptors per queue.
    #[arg(long, default_value_t = 1024)]
    rx_desc: u16,
    /// Transmit descriptors per queue.
    #[arg(long, default_value_t = 1024)]
    tx_desc: u16,
    /// Control socket (gateway mode).
    #[arg(long, value_name = "PATH", default_value = "/run/vxgw/vxgw.sock")]
    socket: std::path::PathBuf,
    /// Group (name or gid) whose members may use the control socket besides root;
    /// the socket file gets this group (mode 0660).
    #[arg(long, value_name = "GROUP")]
    socket_group: Option<String>,
    /// Close a control client that sends nothing for SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    control_idle: u64,
    /// Gateway mode: save the running configuration to FILE after every change and
    /// restore it at start, in preference to --config (`none`: do not save or restore).
    /// Default: /var/lib/vxgw/running.toml when --config is given.
    #[arg(long, value_name = "FILE", conflicts_with = "forward")]
    state: Option<std::path::PathBuf>,
    /// Mbufs in the packet pool (0: sized from ports and queues).
    #[arg(long, default_value_t = 0)]
    mbufs: u32,
    /// Prometheus exporter (gateway mode): serve GET /metrics on IP:PORT, kernel
    /// stack, never a DPDK port; `none` or `off` disables it.
    #[arg(long, value_name = "ADDR", default_value = vxgw::exporter::DEFAULT_METRICS_ADDR,
          value_parser = parse_metrics_addr)]
    metrics_addr: MetricsAddr,
    /// EAL arguments (after `--`).
    #[arg(last = true, value_name = "EAL ARGS")]
    eal: Vec<String>,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once(',') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => Err(format!("'{s}' is not A,B (two port ids or names)")),
    }
}

/// `--metrics-addr`: an address, or none (a newtype: clap treats `Option` as "flag may be absent").
#[derive(Debug, Clone, Copy)]
struct MetricsAddr(Option<std::net::SocketAddr>);

fn parse_metrics_addr(s: &str) -> Result<MetricsAddr, String> {
    vxgw::exporter::parse_metrics_addr(s).map(MetricsAddr)
}

/// Exits with a clear message when this build's target CPU features (x86-64-v3, see
/// `.cargo/config.toml`) are missing, rather than dying of an illegal instruction
/// somewhere later.
fn check_cpu() {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        let ok = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("bmi2")
            && std::arch::is_x86_feature_detected!("movbe");
        if !ok {
            eprintln!(
                "vxgw: this build needs an x86-64-v3 CPU (AVX2, BMI2, MOVBE); rebuild with \
                 RUSTFLAGS=\"-C target-cpu=x86-64\" for this one"
            );
            std::process::exit(1);
        }
    }
}

fn main() {
    check_cpu();
    let cli = Cli::parse();
    if let Some(path) = &cli.check_config {
        match vxgw::control::config::Config::load(path) {
            Ok(_) => {
                println!("{}: valid", path.display());
                std::process::exit(0);
            }
            Err(errs) => {
                for e in errs {
                    eprintln!("{e}");
                }
                std::process::exit(1);
            }
        }
    }
    // The default state file only applies to the gateway (--config); an explicit
    // --state without --config starts the gateway from the saved state alone.
    let state = match cli.state {
        Some(p) if p.as_os_str() == "none" => None,
        Some(p) => Some(p),
        None if cli.config.is_some() => Some(vxgw::control::persist::DEFAULT_STATE.into()),
        None => None,
    };
    let socket_group = match cli
        .socket_group
        .as_deref()
        .map(vxgw::control::peer::group_id)
    {
        None => None,
        Some(Ok(g)) => Some(g),
        Some(Err(e)) => {
            eprintln!("vxgw: --socket-group: {e}");
            std::process::exit(2);
        }
    };
    let opts = Options {
        config: cli.config,
        socket_group,
        control_idle: std::time::Duration::from_secs(cli.control_idle),
        state,
        socket: Some(cli.socket),
        forward: cli.forward,
        stats_period: cli.stats_period,
        rx_desc: cli.rx_desc,
        tx_desc: cli.tx_desc,
        mbufs: cli.mbufs,
        metrics_addr: cli.metrics_addr.0,
    };
    let mut eal_args = vec![std::env::args().next().unwrap_or_else(|| "vxgw".into())];
    eal_args.extend(cli.eal);
    if let Err(e) = app::run(&opts, &eal_args) {
        eprintln!("vxgw: {e}");
        std::process::exit(1);
    }
}
