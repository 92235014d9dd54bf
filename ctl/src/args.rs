//! The command line's shape: clap's types for `vxgwctl` and its sub-commands, and
//! the value parsers that check VNIs, ports, VLANs, MACs, access members, backends
//! and ARP entries before anything is sent (a bad value is a usage error, exit 2).
//!
//! Only parsing lives here; turning the parsed command into a request is
//! `request.rs`'s job.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use clap::{ArgGroup, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vxgwctl",
    version,
    about = "Control a running vxgw over its Unix socket",
    after_help = "Examples:\n  vxgwctl vni add 5000 --flood 172.30.0.11,172.30.0.12 --access net_af_packet1:200\n  \
                  vxgwctl fdb add 5000 02:42:0a:ff:00:0d --vtep 172.30.0.12\n  \
                  vxgwctl service add web --proto tcp --port 80 --vni 4096 --ingress 10.255.0.2 --backend 10.255.0.11 --backend 10.255.0.12:2\n  \
                  vxgwctl backend drain web 10.255.0.11\n  \
                  vxgwctl conntrack show --service web --state established\n  \
                  vxgwctl config show > running.toml\n\n\
                  Exit status: 0 success, 1 vxgw refused the request, 2 usage error, 3 socket missing or not accessible."
)]
pub(crate) struct Cli {
    /// Control socket of the vxgw to talk to.
    #[arg(short, long, default_value = "/run/vxgw/vxgw.sock", global = true)]
    pub(crate) socket: PathBuf,
    /// Print the raw JSON result instead of a table.
    #[arg(short, long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Ports, link, workers, uptime.
    Status,
    /// Packet, drop and event counters (summed over workers).
    Stats,
    /// VXLAN segments: VLAN mappings, flood lists, learning, ageing.
    Vni {
        #[command(subcommand)]
        action: VniCmd,
    },
    /// Remote VTEPs (the decap allow-list).
    Vtep {
        #[command(subcommand)]
        action: VtepCmd,
    },
    /// The filtering database: list, static entries, flush.
    Fdb {
        #[command(subcommand)]
        action: FdbCmd,
    },
    /// Neighbours: the link's (underlay next hops, external clients; static or ARP)
    /// and the overlay's (backends' MACs, learned by ARP in the VNIs).
    Neigh {
        #[command(subcommand)]
        action: NeighCmd,
    },
    /// ARP suppression entries of the VNIs.
    Arp {
        #[command(subcommand)]
        action: ArpCmd,
    },
    /// The running configuration (the startup file's TOML format).
    Config {
        #[command(subcommand)]
        action: ConfigCmd,
    },
    /// Published ports of the routing mesh (load-balanced to backends in a VNI).
    Service {
        #[command(subcommand)]
        action: ServiceCmd,
    },
    /// The backends of a service: add, delete, drain, weight.
    Backend {
        #[command(subcommand)]
        action: BackendCmd,
    },
    /// The routing mesh's connection table: list, count, flush.
    Conntrack {
        #[command(subcommand)]
        action: ConntrackCmd,
    },
    /// Why a packet goes where it goes: run one through the pipeline against the
    /// live tables (nothing is learned, made, counted or sent).
    Trace {
        #[command(subcommand)]
        action: TraceCmd,
    },
}

#[derive(Subcommand)]
pub(crate) enum TraceCmd {
    /// A frame as it would arrive on a port: its steps and the verdict.
    Packet {
        /// The port it arrives on (its name in the configuration).
        #[arg(long)]
        port: String,
        /// The whole Ethernet frame in hex (spaces and colons allowed).
        #[arg(
            long,
            value_name = "HEX",
            conflicts_with_all = ["pcap", "spec"],
            required_unless_present_any = ["pcap", "spec"]
        )]
        hex: Option<String>,
        /// The frame described: "eth src=MAC dst=MAC [vlan=N] / ipv4 src=IP dst=IP /
        /// tcp 1234>80 syn" (or "udp S>D", and "udp S>4789 / vxlan VNI / eth ..." for
        /// VXLAN).
        #[arg(long, value_name = "LAYERS", conflicts_with = "pcap")]
        spec: Option<String>,
        /// A pcap file (Ethernet): its frame number --index (from 1).
        #[arg(long, value_name = "FILE")]
        pcap: Option<std::path::PathBuf>,
        /// Which frame of the pcap file (from 1).
        #[arg(long, value_name = "N", default_value_t = 1, requires = "pcap",
              value_parser = clap::value_parser!(u64).range(1..))]
        index: u64,
    },
    /// Live trace: record the decisions of the next N packets the workers receive
    /// (that --filter matches), wait for them and print them as VPP's `show trace`
    /// does. After --wait seconds the trace stops with what it has.
    Live {
        #[command(flatten)]
        what: LiveTraceArgs,
        /// Seconds to wait for the packets (then the trace is stopped).
        #[arg(long, value_name = "SECS", default_value_t = 10,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        wait: u64,
    },
    /// Live trace in the background: start it and return (`trace show` prints what
    /// it recorded so far, `trace stop` ends it).
    Start {
        #[command(flatten)]
        what: LiveTraceArgs,
    },
    /// The live trace's packets so far, and whether it still records.
    Show,
    /// Stop the live trace (what it recorded stays for `trace show`).
    Stop,
}

/// Which packets a live trace records.
#[derive(clap::Args)]
pub(crate) struct LiveTraceArgs {
    /// How many packets (1-1000).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub count: u32,
    /// Only packets received on this port (its name in the configuration).
    #[arg(long)]
    pub port: Option<String>,
    /// Only packets that match, tcpdump-like: "vni N", "vlan N", "mac MAC",
    /// "host IPV4", "port N", "tcp|udp|icmp|arp", joined by "and". Header terms
    /// match the frame or, for VXLAN, its inner frame; vni is the VNI it is bridged in.
    #[arg(long, value_name = "TERMS", value_parser = parse_filter)]
    pub filter: Option<vxgw_api::TraceFilter>,
}

#[derive(Subcommand)]
pub(crate) enum ServiceCmd {
    /// List services (or one) with their backends and connection counts.
    Show { name: Option<String> },
    /// Publish a port: clients reaching it are balanced over the backends (Maglev).
    Add {
        name: String,
        /// tcp or udp.
        #[arg(long, value_name = "tcp|udp", value_parser = ["tcp", "udp"])]
        proto: String,
        /// The published port.
        #[arg(long, value_name = "N", value_parser = parse_port)]
        port: u16,
        /// The published address (default: any address on the external port).
        #[arg(long, value_name = "PUBLISHED_IP")]
        ip: Option<Ipv4Addr>,
        /// The backends' VNI.
        #[arg(long, value_parser = parse_vni)]
        vni: u32,
        /// vxgw's ingress endpoint in that VNI (the backends see it as the source in
        /// snat mode).
        #[arg(long, value_name = "IP")]
        ingress: Ipv4Addr,
        /// Port on the backends (default: the published port).
        #[arg(long, value_name = "N", value_parser = parse_port)]
        target_port: Option<u16>,
        /// snat (default) or preserve (the backends see the client's address).
        #[arg(long, value_name = "snat|preserve", value_parser = ["snat", "preserve"])]
        mode: Option<String>,
        /// A backend, with an optional weight (default 1; 0 = drained); repeatable.
        #[arg(long, value_name = "IP[:WEIGHT]", value_parser = parse_backend)]
        backend: Vec<(Ipv4Addr, Option<u32>)>,
        /// Maglev table size (a prime; default 65537).
        #[arg(long, value_name = "N")]
        maglev_size: Option<u32>,
        /// Flood guard: new connections a second, all workers (default: no limit).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        new_connection_rate: Option<u32>,
        /// Who manages it (shown by `show`; vxgw-swarm marks what it makes).
        #[arg(long, value_name = "NAME")]
        managed_by: Option<String>,
    },
    /// Delete a service; its connections are removed.
    Del { name: String },
}

#[derive(Subcommand)]
pub(crate) enum BackendCmd {
    /// Add a backend to a service.
    Add {
        service: String,
        ip: Ipv4Addr,
        /// Share of new flows (default 1; 0 = drained).
        #[arg(long, value_name = "N")]
        weight: Option<u32>,
    },
    /// Remove a backend; its connections are removed (their next packets are
    /// balanced again).
    Del { service: String, ip: Ipv4Addr },
    /// Drain a backend (weight 0): no new flows, existing ones continue.
    Drain { service: String, ip: Ipv4Addr },
    /// Change a backend's weight.
    Set {
        service: String,
        ip: Ipv4Addr,
        #[arg(long, value_name = "N")]
        weight: u32,
    },
}

/// Connection filters (all given must match).
#[derive(clap::Args)]
pub(crate) struct CtFilterArgs {
    /// Only this service.
    #[arg(long, value_name = "NAME")]
    pub(crate) service: Option<String>,
    /// Only this client address.
    #[arg(long, value_name = "IP")]
    pub(crate) client: Option<Ipv4Addr>,
    /// Only this backend address.
    #[arg(long, value_name = "IP")]
    pub(crate) backend: Option<Ipv4Addr>,
    /// Only this state (syn_sent, syn_recv, established, fin_wait, closing,
    /// time_wait, closed, udp_new, udp_replied).
    #[arg(long, value_name = "STATE")]
    pub(crate) state: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum ConntrackCmd {
    /// List connections (most recently active first).
    Show {
        #[command(flatten)]
        filter: CtFilterArgs,
        /// At most N connections (default 1000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        limit: Option<u64>,
    },
    /// Count connections per state; with the table's counters.
    Count {
        #[command(flatten)]
        filter: CtFilterArgs,
    },
    /// Remove connections (their next packets are balanced again); without a filter,
    /// --all is required.
    Flush {
        #[command(flatten)]
        filter: CtFilterArgs,
        /// Every connection.
        #[arg(long, conflicts_with_all = ["service", "client", "backend", "state"])]
        all: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum VniCmd {
    /// List VNIs (or one).
    Show {
        #[arg(value_parser = parse_vni)]
        id: Option<u32>,
    },
    /// Add a VNI.
    Add {
        #[arg(value_parser = parse_vni)]
        id: u32,
        /// VTEPs for head-end replication (configured VTEPs), comma-separated.
        #[arg(long, value_name = "IP,IP", value_delimiter = ',')]
        flood: Vec<Ipv4Addr>,
        /// Access member: an access port and VLAN (0 or none = untagged); repeatable.
        #[arg(long, value_name = "PORT[:VLAN]", value_parser = parse_access)]
        access: Vec<(String, u16)>,
        /// Learned-entry limit (default: the gateway's).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        learn_limit: Option<u32>,
        /// Age of learned entries in seconds (default: the gateway's).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..))]
        ageing: Option<u32>,
        /// vxgw's own address in the VNI (answers ARP and ping).
        #[arg(long, value_name = "IP")]
        gateway_ip: Option<Ipv4Addr>,
        /// Who manages it (shown by `show`; vxgw-swarm marks what it makes).
        #[arg(long, value_name = "NAME")]
        managed_by: Option<String>,
        /// ARP suppression entry; repeatable.
        #[arg(long, value_name = "IP=MAC", value_parser = parse_arp)]
        arp: Vec<(Ipv4Addr, String)>,
    },
    /// Delete a VNI, its static FDB entries and everything learned in it.
    Del {
        #[arg(value_parser = parse_vni)]
        id: u32,
    },
    /// Change a VNI's learn limit, ageing or gateway address.
    #[command(group(ArgGroup::new("what").required(true).multiple(true).args(["learn_limit", "ageing", "gateway_ip"])))]
    Set {
        #[arg(value_parser = parse_vni)]
        id: u32,
        /// N, or `default`.
        #[arg(long, value_name = "N|default", value_parser = parse_or_default)]
        learn_limit: Option<OrDefault>,
        /// SECS, or `default`.
        #[arg(long, value_name = "SECS|default", value_parser = parse_or_default)]
        ageing: Option<OrDefault>,
        /// IP, or `none`.
        #[arg(long, value_name = "IP|none", value_parser = parse_ip_or_none)]
        gateway_ip: Option<OrNone>,
    },
    /// Add or delete flood-list VTEPs.
    Flood {
        #[command(subcommand)]
        action: FloodCmd,
    },
    // The help text as an attribute: rustdoc would read `[:VLAN]` as a link.
    #[command(about = "Add or delete access members (PORT[:VLAN])")]
    Access {
        #[command(subcommand)]
        action: AccessCmd,
    },
}

#[derive(Subcommand)]
pub(crate) enum FloodCmd {
    /// Add a VTEP to a VNI's flood list.
    Add {
        #[arg(value_parser = parse_vni)]
        id: u32,
        ip: Ipv4Addr,
    },
    /// Remove a VTEP from a VNI's flood list.
    Del {
        #[arg(value_parser = parse_vni)]
        id: u32,
        ip: Ipv4Addr,
    },
}

#[derive(Subcommand)]
pub(crate) enum AccessCmd {
    /// Map an access port's VLAN into the VNI.
    Add {
        #[arg(value_parser = parse_vni)]
        id: u32,
        #[arg(value_name = "PORT[:VLAN]", value_parser = parse_access)]
        member: (String, u16),
    },
    /// Unmap it (its learned entries are flushed).
    Del {
        #[arg(value_parser = parse_vni)]
        id: u32,
        #[arg(value_name = "PORT[:VLAN]", value_parser = parse_access)]
        member: (String, u16),
    },
}

#[derive(Subcommand)]
pub(crate) enum VtepCmd {
    /// List VTEPs with next hop and flood-list use.
    Show,
    /// Add a VTEP (accept its VXLAN; usable in flood lists and static entries).
    Add { ip: Ipv4Addr },
    /// Delete a VTEP (refused while a flood list or static entry names it); entries
    /// learned behind it are flushed.
    Del { ip: Ipv4Addr },
}

#[derive(Subcommand)]
pub(crate) enum FdbCmd {
    /// List entries, optionally of one VNI or one MAC.
    Show {
        /// Only this VNI.
        #[arg(long, value_parser = parse_vni)]
        vni: Option<u32>,
        /// Only this MAC.
        #[arg(long, value_parser = parse_mac)]
        mac: Option<String>,
    },
    /// Add (or re-point) a static entry: behind a VTEP, or on an access port.
    #[command(group(ArgGroup::new("dest").required(true).args(["vtep", "port"])))]
    Add {
        #[arg(value_parser = parse_vni)]
        vni: u32,
        #[arg(value_parser = parse_mac)]
        mac: String,
        /// The remote VTEP holding the MAC.
        #[arg(long, value_name = "IP")]
        vtep: Option<Ipv4Addr>,
        /// The access port holding the MAC.
        #[arg(long, value_name = "NAME")]
        port: Option<String>,
        /// Its VLAN on that port (default 0: untagged).
        #[arg(long, value_name = "N", requires = "port", value_parser = parse_vlan)]
        vlan: Option<u16>,
    },
    /// Delete a static entry, or forget a learned one.
    Del {
        #[arg(value_parser = parse_vni)]
        vni: u32,
        #[arg(value_parser = parse_mac)]
        mac: String,
    },
    /// Flush learned entries (of one VNI, or all); --all flushes static ones too.
    Flush {
        #[arg(long, value_parser = parse_vni)]
        vni: Option<u32>,
        /// Static entries too (they leave the running configuration).
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum NeighCmd {
    /// List neighbours.
    Show,
    /// Add (or replace) a static neighbour.
    Add {
        ip: Ipv4Addr,
        #[arg(value_parser = parse_mac)]
        mac: String,
    },
    /// Delete a static neighbour, or forget a learned one.
    Del { ip: Ipv4Addr },
}

#[derive(Subcommand)]
pub(crate) enum ArpCmd {
    /// List ARP suppression entries.
    Show {
        #[arg(long, value_parser = parse_vni)]
        vni: Option<u32>,
    },
    /// Answer ARP requests for IP in VNI with MAC (added or replaced).
    Add {
        #[arg(value_parser = parse_vni)]
        vni: u32,
        ip: Ipv4Addr,
        #[arg(value_parser = parse_mac)]
        mac: String,
    },
    /// Delete an ARP suppression entry.
    Del {
        #[arg(value_parser = parse_vni)]
        vni: u32,
        ip: Ipv4Addr,
    },
}

#[derive(Subcommand)]
pub(crate) enum ConfigCmd {
    /// Print the running configuration as TOML (the startup file's format).
    Show,
    /// Move the running configuration to what FILE says, atomically (ports must not
    /// change); prints what changed.
    Apply { file: PathBuf },
}

fn parse_vni(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=0x00ff_ffff).contains(&n) => Ok(n),
        _ => Err(format!("'{s}' is not a VNI (1-16777215)")),
    }
}

fn parse_filter(s: &str) -> Result<vxgw_api::TraceFilter, String> {
    s.parse().map_err(|e: vxgw_api::ApiError| e.to_string())
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{s}' is not a port (1-65535)")),
    }
}

/// IP or IP:WEIGHT.
fn parse_backend(s: &str) -> Result<(Ipv4Addr, Option<u32>), String> {
    let (ip, weight) = match s.split_once(':') {
        Some((ip, w)) => (
            ip,
            Some(
                w.parse::<u32>()
                    .map_err(|_| format!("'{w}' is not a weight (0-4294967295)"))?,
            ),
        ),
        None => (s, None),
    };
    let ip = ip
        .parse()
        .map_err(|_| format!("'{ip}' is not an IPv4 address"))?;
    Ok((ip, weight))
}

fn parse_vlan(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if n <= 4094 => Ok(n),
        _ => Err(format!("'{s}' is not a VLAN id (0-4094; 0 = untagged)")),
    }
}

/// Six hex bytes separated by ':' (or '-'); normalized to lower-case with ':'.
fn parse_mac(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        Ok(parts.join(":").to_ascii_lowercase())
    } else {
        Err(format!(
            "'{s}' is not a MAC address (like 02:42:0a:ff:00:0b)"
        ))
    }
}

/// PORT or PORT:VLAN. PCI names contain colons (0000:01:00.0), so a VLAN is only
/// split off when what follows the last colon is a number.
fn parse_access(s: &str) -> Result<(String, u16), String> {
    match s.rsplit_once(':') {
        Some((port, vlan))
            if !port.is_empty() && !vlan.is_empty() && vlan.chars().all(|c| c.is_ascii_digit()) =>
        {
            Ok((port.to_string(), parse_vlan(vlan)?))
        }
        _ if !s.is_empty() => Ok((s.to_string(), 0)),
        _ => Err("an access member is PORT or PORT:VLAN".into()),
    }
}

fn parse_arp(s: &str) -> Result<(Ipv4Addr, String), String> {
    let (ip, mac) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not IP=MAC"))?;
    Ok((
        ip.parse()
            .map_err(|_| format!("'{ip}' is not an IPv4 address"))?,
        parse_mac(mac)?,
    ))
}

/// A number, or `default` (None).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OrDefault(pub(crate) Option<u32>);

/// An address, or `none` (None).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct OrNone(pub(crate) Option<Ipv4Addr>);

fn parse_or_default(s: &str) -> Result<OrDefault, String> {
    if s == "default" {
        return Ok(OrDefault(None));
    }
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(OrDefault(Some(n))),
        _ => Err(format!("'{s}' is not a positive number or `default`")),
    }
}

fn parse_ip_or_none(s: &str) -> Result<OrNone, String> {
    if s == "none" {
        return Ok(OrNone(None));
    }
    s.parse::<Ipv4Addr>()
        .map(|ip| OrNone(Some(ip)))
        .map_err(|_| format!("'{s}' is not an IPv4 address or `none`"))
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
