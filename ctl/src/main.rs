//! `vxgwctl`: the operator's CLI over vxgw's control socket (JSON lines).
//!
//! Commands in the style of `ip`/`bridge` (`vxgwctl vni add 5000 --flood IP,IP`),
//! human tables by default, `-j/--json` for scripts. Exit status: 0 success, 1 vxgw
//! refused the request (its reason is printed), 2 usage error (including values
//! checked here: VNI range, MAC and IP syntax, VLAN and port ranges, protocol and NAT
//! mode names; connection-state and service names are vxgw's to check), 3 the control
//! socket is missing or not accessible.

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand};
use serde_json::Value;
use vxgw_api::{self as api, Answer, Mac, Request};

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
struct Cli {
    /// Control socket of the vxgw to talk to.
    #[arg(short, long, default_value = "/run/vxgw/vxgw.sock", global = true)]
    socket: PathBuf,
    /// Print the raw JSON result instead of a table.
    #[arg(short, long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
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
}

#[derive(Subcommand)]
enum ServiceCmd {
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
    },
    /// Delete a service; its connections are removed.
    Del { name: String },
}

#[derive(Subcommand)]
enum BackendCmd {
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
struct CtFilterArgs {
    /// Only this service.
    #[arg(long, value_name = "NAME")]
    service: Option<String>,
    /// Only this client address.
    #[arg(long, value_name = "IP")]
    client: Option<Ipv4Addr>,
    /// Only this backend address.
    #[arg(long, value_name = "IP")]
    backend: Option<Ipv4Addr>,
    /// Only this state (syn_sent, syn_recv, established, fin_wait, closing,
    /// time_wait, closed, udp_new, udp_replied).
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
}

#[derive(Subcommand)]
enum ConntrackCmd {
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
enum VniCmd {
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
    /// Add or delete access members (PORT[:VLAN]).
    Access {
        #[command(subcommand)]
        action: AccessCmd,
    },
}

#[derive(Subcommand)]
enum FloodCmd {
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
enum AccessCmd {
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
enum VtepCmd {
    /// List VTEPs with next hop and flood-list use.
    Show,
    /// Add a VTEP (accept its VXLAN; usable in flood lists and static entries).
    Add { ip: Ipv4Addr },
    /// Delete a VTEP (refused while a flood list or static entry names it); entries
    /// learned behind it are flushed.
    Del { ip: Ipv4Addr },
}

#[derive(Subcommand)]
enum FdbCmd {
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
enum NeighCmd {
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
enum ArpCmd {
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
enum ConfigCmd {
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
struct OrDefault(Option<u32>);

/// An address, or `none` (None).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrNone(Option<Ipv4Addr>);

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

/// The protocol's MAC from a string `parse_mac` accepted.
fn mac(s: &str) -> Result<Mac, String> {
    s.parse().map_err(|e: api::ApiError| e.to_string())
}

/// The request for a command, typed: vxgw_api serializes it (nothing here writes
/// JSON by hand). Reading a file can fail (usage error).
fn request(cmd: &Cmd) -> Result<Request, String> {
    let access = |(p, v): &(String, u16)| api::Access {
        port: p.clone(),
        vlan: *v,
    };
    let ct = |f: &CtFilterArgs| api::CtFilter {
        service: f.service.clone(),
        client: f.client,
        backend: f.backend,
        state: f.state.clone(),
    };
    let none = api::NoArgs {};
    Ok(match cmd {
        Cmd::Status => Request::Status(none),
        Cmd::Stats => Request::Stats(none),
        Cmd::Vni { action } => match action {
            VniCmd::Show { id } => Request::VniShow(api::MaybeId { id: *id }),
            VniCmd::Add {
                id,
                flood,
                access: acc,
                learn_limit,
                ageing,
                gateway_ip,
                arp,
            } => Request::VniAdd(api::VniAdd {
                id: *id,
                flood: flood.clone(),
                access: acc.iter().map(access).collect(),
                learn_limit: *learn_limit,
                ageing_secs: *ageing,
                gateway_ip: *gateway_ip,
                arp: arp
                    .iter()
                    .map(|(ip, m)| {
                        Ok(api::ArpEntry {
                            ip: *ip,
                            mac: mac(m)?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            }),
            VniCmd::Del { id } => Request::VniDel(api::Id { id: *id }),
            VniCmd::Set {
                id,
                learn_limit,
                ageing,
                gateway_ip,
            } => Request::VniSet(api::VniSet {
                id: *id,
                learn_limit: learn_limit.map(|OrDefault(n)| n),
                ageing_secs: ageing.map(|OrDefault(n)| n),
                gateway_ip: gateway_ip.map(|OrNone(ip)| ip),
            }),
            VniCmd::Flood { action } => match action {
                FloodCmd::Add { id, ip } => Request::VniFloodAdd(api::IdIp { id: *id, ip: *ip }),
                FloodCmd::Del { id, ip } => Request::VniFloodDel(api::IdIp { id: *id, ip: *ip }),
            },
            VniCmd::Access { action } => match action {
                AccessCmd::Add { id, member } => Request::VniAccessAdd(api::IdAccess {
                    id: *id,
                    port: member.0.clone(),
                    vlan: member.1,
                }),
                AccessCmd::Del { id, member } => Request::VniAccessDel(api::IdAccess {
                    id: *id,
                    port: member.0.clone(),
                    vlan: member.1,
                }),
            },
        },
        Cmd::Vtep { action } => match action {
            VtepCmd::Show => Request::VtepShow(none),
            VtepCmd::Add { ip } => Request::VtepAdd(api::Ip { ip: *ip }),
            VtepCmd::Del { ip } => Request::VtepDel(api::Ip { ip: *ip }),
        },
        Cmd::Fdb { action } => match action {
            FdbCmd::Show { vni, mac: m } => Request::FdbShow(api::FdbShow {
                vni: *vni,
                mac: m.as_deref().map(mac).transpose()?,
            }),
            FdbCmd::Add {
                vni,
                mac: m,
                vtep,
                port,
                vlan,
            } => Request::FdbAdd(api::FdbAdd {
                vni: *vni,
                mac: mac(m)?,
                vtep: *vtep,
                port: port.clone(),
                vlan: port.as_ref().map(|_| vlan.unwrap_or(0)),
            }),
            FdbCmd::Del { vni, mac: m } => Request::FdbDel(api::VniMac {
                vni: *vni,
                mac: mac(m)?,
            }),
            FdbCmd::Flush { vni, all } => Request::FdbFlush(api::FdbFlush {
                vni: *vni,
                dynamic_only: !all,
            }),
        },
        Cmd::Neigh { action } => match action {
            NeighCmd::Show => Request::NeighShow(none),
            NeighCmd::Add { ip, mac: m } => Request::NeighAdd(api::NeighAdd {
                ip: *ip,
                mac: mac(m)?,
            }),
            NeighCmd::Del { ip } => Request::NeighDel(api::Ip { ip: *ip }),
        },
        Cmd::Arp { action } => match action {
            ArpCmd::Show { vni } => Request::ArpShow(api::MaybeVni { vni: *vni }),
            ArpCmd::Add { vni, ip, mac: m } => Request::ArpAdd(api::ArpAdd {
                vni: *vni,
                ip: *ip,
                mac: mac(m)?,
            }),
            ArpCmd::Del { vni, ip } => Request::ArpDel(api::ArpDel {
                vni: *vni,
                ip: *ip,
                mac: None,
            }),
        },
        Cmd::Config { action } => match action {
            ConfigCmd::Show => Request::ConfigShow(none),
            ConfigCmd::Apply { file } => {
                let toml = std::fs::read_to_string(file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                Request::ConfigApply(api::ConfigApply { toml })
            }
        },
        Cmd::Service { action } => match action {
            ServiceCmd::Show { name } => {
                Request::ServiceShow(api::MaybeName { name: name.clone() })
            }
            ServiceCmd::Add {
                name,
                proto,
                port,
                ip,
                vni,
                ingress,
                target_port,
                mode,
                backend,
                maglev_size,
                new_connection_rate,
            } => Request::ServiceAdd(api::ServiceAdd {
                name: name.clone(),
                // clap admits only these names.
                protocol: match proto.as_str() {
                    "udp" => api::Proto::Udp,
                    _ => api::Proto::Tcp,
                },
                published_ip: *ip,
                published_port: *port,
                vni: *vni,
                ingress_ip: *ingress,
                target_port: *target_port,
                mode: mode.as_deref().map(|m| match m {
                    "preserve" => api::Mode::Preserve,
                    _ => api::Mode::Snat,
                }),
                maglev_size: *maglev_size,
                timeouts: None,
                backends: backend
                    .iter()
                    .map(|&(ip, weight)| api::Backend { ip, weight })
                    .collect(),
                new_connection_rate: *new_connection_rate,
            }),
            ServiceCmd::Del { name } => Request::ServiceDel(api::Name { name: name.clone() }),
        },
        Cmd::Backend { action } => match action {
            BackendCmd::Add {
                service,
                ip,
                weight,
            } => Request::BackendAdd(api::BackendAdd {
                service: service.clone(),
                ip: *ip,
                weight: *weight,
            }),
            BackendCmd::Del { service, ip } => Request::BackendDel(api::BackendRef {
                service: service.clone(),
                ip: *ip,
            }),
            BackendCmd::Drain { service, ip } => Request::BackendDrain(api::BackendRef {
                service: service.clone(),
                ip: *ip,
            }),
            BackendCmd::Set {
                service,
                ip,
                weight,
            } => Request::BackendSet(api::BackendSet {
                service: service.clone(),
                ip: *ip,
                weight: *weight,
            }),
        },
        Cmd::Conntrack { action } => match action {
            ConntrackCmd::Show { filter, limit } => {
                let f = ct(filter);
                Request::ConntrackShow(api::CtShow {
                    service: f.service,
                    client: f.client,
                    backend: f.backend,
                    state: f.state,
                    limit: limit.map(|n| n as usize),
                })
            }
            ConntrackCmd::Count { filter } => Request::ConntrackCount(ct(filter)),
            ConntrackCmd::Flush { filter, all } => {
                let f = ct(filter);
                Request::ConntrackFlush(api::CtFlush {
                    service: f.service,
                    client: f.client,
                    backend: f.backend,
                    state: f.state,
                    all: *all,
                })
            }
        },
    })
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    table_indented("", headers, rows)
}

fn table_indented(indent: &str, headers: &[&str], rows: Vec<Vec<String>>) {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!(
        "{indent}{}",
        line(headers.iter().map(|h| h.to_string()).collect())
    );
    for r in rows {
        println!("{indent}{}", line(r));
    }
}

/// An optional value as a table cell: `-` when absent.
fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".into(), |v| v.to_string())
}

/// A list as a table cell: comma-separated, `-` when empty.
fn list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.iter().map(f).collect::<Vec<_>>().join(",")
    }
}

fn kind(is_static: bool) -> String {
    if is_static { "static" } else { "dynamic" }.into()
}

/// What a change did: one line per difference, then counts and the generation.
fn print_change(r: &api::ChangeOutcome) {
    for c in &r.changes {
        println!("{c}");
    }
    if r.removed == Some(api::Removed::Dynamic) {
        println!("forgot the learned entry");
    }
    if let Some(n) = r.flushed {
        println!("flushed {n} learned entries");
    }
    if r.fdb_removed > 0 {
        println!("{} FDB entries removed with it", r.fdb_removed);
    }
    if r.connections_removed > 0 {
        println!("{} connections removed with it", r.connections_removed);
    }
    if r.changes.is_empty() && r.removed.is_none() && r.flushed.is_none() {
        println!("no change");
    }
    if !r.changes.is_empty() {
        let mut tail = format!("generation {}", r.generation);
        if let Some(us) = r.in_effect_us {
            tail.push_str(&format!(", in effect on every worker after {us} us"));
        }
        if let Some(f) = &r.saved {
            tail.push_str(&format!(", saved to {f}"));
        }
        println!("({tail})");
    }
}

/// The services, then each one's backends.
fn print_services(services: &[api::ServiceRow]) {
    table(
        &[
            "NAME",
            "PROTO",
            "PUBLISHED",
            "VNI",
            "INGRESS",
            "TARGET",
            "MODE",
            "BACKENDS",
            "CONNS",
        ],
        services
            .iter()
            .map(|v| {
                let drained = v
                    .backends
                    .iter()
                    .filter(|b| b.state == api::BackendState::Drained)
                    .count();
                vec![
                    v.name.clone(),
                    v.protocol.to_string(),
                    format!(
                        "{}:{}",
                        v.published_ip
                            .map_or_else(|| "*".into(), |ip| ip.to_string()),
                        v.published_port
                    ),
                    v.vni.to_string(),
                    v.ingress_ip.to_string(),
                    v.target_port.to_string(),
                    v.mode.to_string(),
                    if drained > 0 {
                        format!("{} ({drained} drained)", v.backends.len())
                    } else {
                        v.backends.len().to_string()
                    },
                    v.connections.to_string(),
                ]
            })
            .collect(),
    );
    for v in services.iter().filter(|v| !v.backends.is_empty()) {
        println!("\nbackends of {}:", v.name);
        table_indented(
            "  ",
            &["IP", "WEIGHT", "STATE", "CONNS"],
            v.backends
                .iter()
                .map(|b| {
                    vec![
                        b.ip.to_string(),
                        b.weight.to_string(),
                        b.state.to_string(),
                        b.connections.to_string(),
                    ]
                })
                .collect(),
        );
    }
}

/// The answer as tables and lines for people.
fn print_human(answer: &Answer) {
    match answer {
        Answer::Fdb(rows) => table(
            &["VNI", "MAC", "DESTINATION", "TYPE", "AGE"],
            rows.iter()
                .map(|e| {
                    let dest = match &e.destination {
                        api::FdbDestination::Vtep(ip) => format!("vtep {ip}"),
                        api::FdbDestination::Access { port, vlan } => {
                            format!("port {port} vlan {vlan}")
                        }
                    };
                    vec![
                        e.vni.to_string(),
                        e.mac.to_string(),
                        dest,
                        kind(e.is_static),
                        if e.is_static {
                            "-".into()
                        } else {
                            format!("{}s", e.age_s)
                        },
                    ]
                })
                .collect(),
        ),
        Answer::Neighbours(rows) => table(
            &["IP", "MAC", "TYPE", "AGE", "TABLE", "VNI"],
            rows.iter()
                .map(|e| {
                    vec![
                        e.ip.to_string(),
                        opt(&e.mac),
                        kind(e.is_static),
                        format!("{}s", e.age_s),
                        e.table.to_string(),
                        opt(&e.vni),
                    ]
                })
                .collect(),
        ),
        Answer::Vnis(rows) => table(
            &[
                "VNI",
                "FLOOD",
                "ACCESS",
                "LEARN_LIMIT",
                "AGEING",
                "GATEWAY",
                "ARP",
                "FDB",
            ],
            rows.iter()
                .map(|v| {
                    vec![
                        v.id.to_string(),
                        list(&v.flood, |ip| ip.to_string()),
                        list(&v.access, |a| format!("{}:{}", a.port, a.vlan)),
                        v.learn_limit.to_string(),
                        format!("{}s", v.ageing_secs),
                        opt(&v.gateway_ip),
                        v.arp.len().to_string(),
                        format!("{} ({} learned)", v.fdb_entries, v.fdb_learned),
                    ]
                })
                .collect(),
        ),
        Answer::Vteps(rows) => table(
            &[
                "VTEP",
                "NEXT_HOP",
                "NEXT_HOP_MAC",
                "FLOOD_VNIS",
                "STATIC_FDB",
            ],
            rows.iter()
                .map(|t| {
                    vec![
                        t.ip.to_string(),
                        t.next_hop.to_string(),
                        opt(&t.next_hop_mac),
                        list(&t.flood_vnis, |v| v.to_string()),
                        t.static_fdb.to_string(),
                    ]
                })
                .collect(),
        ),
        Answer::Arp(rows) => table(
            &["VNI", "IP", "MAC"],
            rows.iter()
                .map(|e| vec![e.vni.to_string(), e.ip.to_string(), e.mac.to_string()])
                .collect(),
        ),
        Answer::Config(c) => print!("{}", c.toml),
        Answer::Status(r) => {
            println!(
                "vxgw {}  up {}s  workers {}  config generation {}  state {}",
                r.version,
                r.uptime_s,
                serde_json::to_string(&r.workers).unwrap_or_default(),
                r.generation,
                r.state_file.as_deref().unwrap_or("not saved"),
            );
            table(
                &["PORT", "NAME", "MAC", "LINK", "MTU", "RX", "TX", "MISSED"],
                r.ports
                    .iter()
                    .map(|p| {
                        vec![
                            p.id.to_string(),
                            p.name.clone(),
                            p.mac.to_string(),
                            if p.link_up { "up" } else { "down" }.into(),
                            p.mtu.to_string(),
                            p.rx_packets.to_string(),
                            p.tx_packets.to_string(),
                            p.rx_missed.to_string(),
                        ]
                    })
                    .collect(),
            );
        }
        Answer::Stats(r) => {
            println!("rx_packets {}  tx_packets {}", r.rx_packets, r.tx_packets);
            for (section, m) in [("events", &r.events), ("drops", &r.drops)] {
                println!("{section}:");
                for (k, v) in m {
                    println!("  {k:<28} {v}");
                }
            }
        }
        Answer::Services(rows) => print_services(rows),
        Answer::Connections(rows) => table(
            &[
                "PROTO",
                "CLIENT",
                "PUBLISHED",
                "BACKEND",
                "SNAT",
                "SERVICE",
                "STATE",
                "IDLE",
                "OWNER",
            ],
            rows.iter()
                .map(|c| {
                    vec![
                        c.proto.clone(),
                        c.client.to_string(),
                        c.published.to_string(),
                        c.backend.to_string(),
                        opt(&c.snat),
                        match &c.service {
                            api::ServiceRef::Name(n) => n.clone(),
                            api::ServiceRef::Id(id) => id.to_string(),
                        },
                        c.state.clone(),
                        format!("{}s", c.idle_s),
                        c.owner.to_string(),
                    ]
                })
                .collect(),
        ),
        Answer::ConnectionCount(r) => {
            println!("{} connections", r.count);
            for (k, v) in r.states.iter().filter(|(_, &v)| v != 0) {
                println!("  {k:<12} {v}");
            }
            println!("  assured {}  unassured {}", r.assured, r.unassured);
            println!(
                "table: capacity {}  created {}  expired {}  evicted {} (unassured {})  refused {}  removed {}",
                r.capacity, r.created, r.expired, r.evicted, r.early_evicted, r.refused, r.removed
            );
        }
        Answer::ConnectionsRemoved(r) => println!("removed {} connections", r.removed),
        Answer::Change(r) => print_change(r),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let req = match request(&cli.cmd) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vxgwctl: {e}");
            return ExitCode::from(2);
        }
    };
    let mut conn = match UnixStream::connect(&cli.socket) {
        Ok(c) => c,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    "no vxgw is listening there (is it running? see --socket)".to_string()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied (run as root or a member of the socket's group)".to_string()
                }
                _ => e.to_string(),
            };
            eprintln!("vxgwctl: {}: {why}", cli.socket.display());
            return ExitCode::from(3);
        }
    };
    if writeln!(conn, "{}", req.to_line()).is_err() {
        eprintln!("vxgwctl: {}: connection lost", cli.socket.display());
        return ExitCode::from(3);
    }
    let mut line = String::new();
    if BufReader::new(&conn).read_line(&mut line).is_err() || line.is_empty() {
        eprintln!("vxgwctl: {}: no answer", cli.socket.display());
        return ExitCode::from(3);
    }
    let resp: api::Reply = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("vxgwctl: malformed answer from vxgw: {e}");
            return ExitCode::from(1);
        }
    };
    if !resp.ok {
        eprintln!(
            "vxgwctl: {}",
            resp.error.as_deref().unwrap_or("refused (no reason given)")
        );
        return ExitCode::from(1);
    }
    let result = resp.result.unwrap_or(Value::Null);
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    match Answer::decode(&req, result) {
        Ok(answer) => print_human(&answer),
        Err(e) => {
            eprintln!(
                "vxgwctl: unexpected answer to {} from vxgw: {e} (try --json)",
                req.cmd()
            );
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn values_checked_before_sending() {
        assert_eq!(parse_mac("02:42:0A:ff:00:0b").unwrap(), "02:42:0a:ff:00:0b");
        assert!(parse_mac("zz").is_err() && parse_mac("02:42:0a:ff:00").is_err());
        assert!(parse_vni("0").is_err() && parse_vni("16777216").is_err());
        assert_eq!(parse_vni("16777215"), Ok(16777215));
        assert_eq!(parse_access("net_pcap1:100"), Ok(("net_pcap1".into(), 100)));
        assert_eq!(parse_access("net_pcap1"), Ok(("net_pcap1".into(), 0)));
        assert_eq!(
            parse_access("0000:01:00.0:7"),
            Ok(("0000:01:00.0".into(), 7))
        );
        assert_eq!(parse_access("0000:01:00.0"), Ok(("0000:01:00.0".into(), 0)));
        assert!(parse_access("p:5000").is_err());
        assert!(parse_arp("10.0.0.1=02:00:00:00:00:01").is_ok());
        assert!(parse_arp("10.0.0.1").is_err());
        assert_eq!(parse_port("65535"), Ok(65535));
        assert!(
            parse_port("0").is_err() && parse_port("65536").is_err() && parse_port("http").is_err()
        );
        assert_eq!(
            parse_backend("10.0.0.1:0"),
            Ok((Ipv4Addr::new(10, 0, 0, 1), Some(0)))
        );
        assert_eq!(
            parse_backend("10.0.0.1"),
            Ok((Ipv4Addr::new(10, 0, 0, 1), None))
        );
        assert!(parse_backend("10.0.0.1:").is_err() && parse_backend("host:1").is_err());
    }

    #[test]
    fn command_lines_become_requests() {
        let req = |args: &[&str]| {
            let cli = Cli::try_parse_from(std::iter::once("vxgwctl").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
            request(&cli.cmd).map(|r| json!({"cmd": r.cmd(), "args": r.args()}))
        };
        assert_eq!(
            req(&[
                "vni",
                "add",
                "5000",
                "--flood",
                "172.30.0.11,172.30.0.12",
                "--access",
                "p1:200",
                "--arp",
                "10.0.0.9=02:00:00:00:00:09"
            ])
            .unwrap(),
            json!({"cmd": "vni.add", "args": {"id": 5000, "flood": ["172.30.0.11", "172.30.0.12"],
                   "access": [{"port": "p1", "vlan": 200}], "arp": [{"ip": "10.0.0.9", "mac": "02:00:00:00:00:09"}]}})
        );
        assert_eq!(
            req(&[
                "fdb",
                "add",
                "5000",
                "02:00:00:00:00:01",
                "--port",
                "p1",
                "--vlan",
                "3"
            ])
            .unwrap()["args"],
            json!({"vni": 5000, "mac": "02:00:00:00:00:01", "port": "p1", "vlan": 3})
        );
        assert_eq!(
            req(&["fdb", "flush", "--all"]).unwrap()["args"],
            json!({"dynamic_only": false})
        );
        assert_eq!(
            req(&[
                "vni",
                "set",
                "7",
                "--learn-limit",
                "default",
                "--gateway-ip",
                "none"
            ])
            .unwrap()["args"],
            json!({"id": 7, "learn_limit": null, "gateway_ip": null})
        );
        assert_eq!(
            req(&["vni", "access", "del", "7", "p1"]).unwrap(),
            json!({"cmd": "vni.access.del", "args": {"id": 7, "port": "p1", "vlan": 0}})
        );
        // Services, backends, connections.
        assert_eq!(
            req(&[
                "service",
                "add",
                "web",
                "--proto",
                "tcp",
                "--port",
                "80",
                "--vni",
                "4096",
                "--ingress",
                "10.255.0.2",
                "--backend",
                "10.255.0.11",
                "--backend",
                "10.255.0.12:3",
                "--target-port",
                "8080",
                "--mode",
                "preserve",
                "--ip",
                "192.0.2.1",
                "--maglev-size",
                "251"
            ])
            .unwrap(),
            json!({"cmd": "service.add", "args": {"name": "web", "protocol": "tcp", "published_port": 80,
                   "vni": 4096, "ingress_ip": "10.255.0.2", "published_ip": "192.0.2.1",
                   "target_port": 8080, "mode": "preserve", "maglev_size": 251,
                   "backends": [{"ip": "10.255.0.11"}, {"ip": "10.255.0.12", "weight": 3}]}})
        );
        assert_eq!(
            req(&[
                "service",
                "add",
                "dns",
                "--proto",
                "udp",
                "--port",
                "53",
                "--vni",
                "7",
                "--ingress",
                "10.0.0.2"
            ])
            .unwrap()["args"],
            json!({"name": "dns", "protocol": "udp", "published_port": 53, "vni": 7, "ingress_ip": "10.0.0.2"})
        );
        assert_eq!(
            req(&["service", "show"]).unwrap(),
            json!({"cmd": "service.show", "args": {}})
        );
        assert_eq!(
            req(&["service", "show", "web"]).unwrap()["args"],
            json!({"name": "web"})
        );
        assert_eq!(
            req(&["service", "del", "web"]).unwrap(),
            json!({"cmd": "service.del", "args": {"name": "web"}})
        );
        assert_eq!(
            req(&["backend", "add", "web", "10.255.0.13"]).unwrap(),
            json!({"cmd": "backend.add", "args": {"service": "web", "ip": "10.255.0.13"}})
        );
        assert_eq!(
            req(&["backend", "add", "web", "10.255.0.13", "--weight", "0"]).unwrap()["args"],
            json!({"service": "web", "ip": "10.255.0.13", "weight": 0})
        );
        assert_eq!(
            req(&["backend", "set", "web", "10.255.0.13", "--weight", "4"]).unwrap(),
            json!({"cmd": "backend.set", "args": {"service": "web", "ip": "10.255.0.13", "weight": 4}})
        );
        assert_eq!(
            req(&["backend", "drain", "web", "10.255.0.13"]).unwrap(),
            json!({"cmd": "backend.drain", "args": {"service": "web", "ip": "10.255.0.13"}})
        );
        assert_eq!(
            req(&["backend", "del", "web", "10.255.0.13"]).unwrap(),
            json!({"cmd": "backend.del", "args": {"service": "web", "ip": "10.255.0.13"}})
        );
        assert_eq!(
            req(&[
                "conntrack",
                "show",
                "--service",
                "web",
                "--client",
                "198.51.100.1",
                "--backend",
                "10.255.0.11",
                "--state",
                "established",
                "--limit",
                "10"
            ])
            .unwrap(),
            json!({"cmd": "conntrack.show", "args": {"service": "web", "client": "198.51.100.1",
                   "backend": "10.255.0.11", "state": "established", "limit": 10}})
        );
        assert_eq!(
            req(&["conntrack", "count"]).unwrap(),
            json!({"cmd": "conntrack.count", "args": {}})
        );
        assert_eq!(
            req(&["conntrack", "flush", "--all"]).unwrap(),
            json!({"cmd": "conntrack.flush", "args": {"all": true}})
        );
        assert_eq!(
            req(&["conntrack", "flush", "--state", "time_wait"]).unwrap()["args"],
            json!({"state": "time_wait"})
        );
        // State names are vxgw's to check (exit 1), not a usage error.
        assert!(req(&["conntrack", "count", "--state", "bogus"]).is_ok());
        // Usage errors (exit 2).
        for bad in [
            &["fdb", "add", "5000", "zz", "--vtep", "1.2.3.4"][..],
            &["fdb", "add", "5000", "02:00:00:00:00:01"],
            &[
                "fdb",
                "add",
                "5000",
                "02:00:00:00:00:01",
                "--vtep",
                "1.2.3.4",
                "--port",
                "p",
            ],
            &["vni", "add", "0"],
            &["vni", "add", "16777216"],
            &["vni", "set", "5"],
            &["vtep", "add", "1.2.3"],
            &["vni", "access", "add", "5", "p:4095"],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "sctp",
                "--port",
                "80",
                "--vni",
                "1",
                "--ingress",
                "10.0.0.2",
            ],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "tcp",
                "--port",
                "0",
                "--vni",
                "1",
                "--ingress",
                "10.0.0.2",
            ],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "tcp",
                "--port",
                "65536",
                "--vni",
                "1",
                "--ingress",
                "10.0.0.2",
            ],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "tcp",
                "--port",
                "80",
                "--vni",
                "0",
                "--ingress",
                "10.0.0.2",
            ],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "tcp",
                "--port",
                "80",
                "--vni",
                "1",
                "--ingress",
                "10.0.0",
            ],
            &[
                "service", "add", "w", "--proto", "tcp", "--port", "80", "--vni", "1",
            ],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "tcp",
                "--port",
                "80",
                "--vni",
                "1",
                "--ingress",
                "10.0.0.2",
                "--mode",
                "dsr",
            ],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "tcp",
                "--port",
                "80",
                "--vni",
                "1",
                "--ingress",
                "10.0.0.2",
                "--target-port",
                "0",
            ],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "tcp",
                "--port",
                "80",
                "--vni",
                "1",
                "--ingress",
                "10.0.0.2",
                "--backend",
                "10.0.0.3:x",
            ],
            &[
                "service",
                "add",
                "w",
                "--proto",
                "tcp",
                "--port",
                "80",
                "--vni",
                "1",
                "--ingress",
                "10.0.0.2",
                "--backend",
                "10.0.0:1",
            ],
            &["backend", "add", "web", "10.0.0.300"],
            &["backend", "add", "web", "10.0.0.3", "--weight", "-1"],
            &["backend", "set", "web", "10.0.0.3"],
            &["backend", "drain", "web"],
            &["conntrack", "show", "--client", "1.2.3"],
            &["conntrack", "show", "--limit", "0"],
            &["conntrack", "flush", "--all", "--service", "web"],
            &["conntrack", "count", "--all"],
        ] {
            assert!(req(bad).is_err(), "{bad:?} must be a usage error");
        }
    }
}
