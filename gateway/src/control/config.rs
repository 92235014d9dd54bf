//! The startup configuration (TOML): what ports exist and what they do, the VTEP,
//! the VNIs and their members, static entries. Parsed with serde, then validated as
//! a whole so that every problem is reported at once, each with its location.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::wire::MacAddr;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Gateway-wide settings.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// DPDK ports and their roles.
    #[serde(default, rename = "port")]
    pub ports: Vec<PortConfig>,
    /// Remote VTEPs (the decap allow-list; flood lists may only name these).
    #[serde(default, rename = "vtep")]
    pub vteps: Vec<VtepConfig>,
    /// VXLAN segments.
    #[serde(default, rename = "vni")]
    pub vnis: Vec<VniConfig>,
    /// Static FDB entries (never learned over, never aged).
    #[serde(default, rename = "fdb")]
    pub fdb: Vec<StaticFdbConfig>,
    /// Static underlay neighbours (IP -> MAC), overriding ARP.
    #[serde(default, rename = "neighbour")]
    pub neighbours: Vec<NeighbourConfig>,
    /// Published ports of the routing mesh.
    #[serde(default, rename = "service", skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceConfig>,
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The IPv4 protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// How a service rewrites the client's address.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum NatMode {
    /// Swarm's routing mesh: the backend sees the ingress endpoint as the source.
    #[default]
    Snat,
    /// DNAT only: the backend sees the client's address and replies through vxgw.
    Preserve,
}

/// One backend of a service: an overlay address in the service's VNI.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// Overlay IP of the container.
    pub ip: Ipv4Addr,
    /// Share of new flows (0 = drained: no new flows, existing ones continue).
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}

/// Per-state connection timeouts of a service, in seconds (defaults when absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceTimeouts {
    /// TCP handshake not finished.
    pub syn: Option<u32>,
    /// TCP established.
    pub established: Option<u32>,
    /// TCP closing (FIN seen).
    pub closing: Option<u32>,
    /// UDP before a reply.
    pub udp: Option<u32>,
    /// UDP after a reply.
    pub udp_replied: Option<u32>,
}

/// A published port: (protocol, external address, port) -> backends in a VNI.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Name (unique), e.g. the Swarm service name.
    pub name: String,
    /// tcp or udp.
    pub protocol: Protocol,
    /// External address clients connect to (None: any address on external ports).
    #[serde(default)]
    pub published_ip: Option<Ipv4Addr>,
    /// External port clients connect to.
    pub published_port: u16,
    /// The overlay segment of the backends.
    pub vni: u32,
    /// The node's ingress endpoint in that VNI: the source address in SNAT mode.
    pub ingress_ip: Ipv4Addr,
    /// Port on the backends (default: the published port).
    #[serde(default)]
    pub target_port: Option<u16>,
    /// snat (default) or preserve (the client's address reaches the backend).
    #[serde(default)]
    pub mode: NatMode,
    /// Maglev table size (a prime; default 65537).
    #[serde(default)]
    pub maglev_size: Option<u32>,
    /// Connection timeouts.
    #[serde(default, skip_serializing_if = "is_default_timeouts")]
    pub timeouts: ServiceTimeouts,
    /// The backends.
    #[serde(default)]
    pub backends: Vec<BackendConfig>,
    /// Flood guard: new connections a second, all workers together (each worker
    /// admits its share); none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_connection_rate: Option<u32>,
    /// Who manages it (`vxgw-swarm` sets this): shown by `vxgwctl`, not interpreted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

fn is_default_timeouts(t: &ServiceTimeouts) -> bool {
    t == &ServiceTimeouts::default()
}

/// Gateway-wide settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Our VTEP address on the underlay (outer source IP, decap destination).
    pub vtep_ip: Option<Ipv4Addr>,
    /// Underlay prefix length: VTEPs inside it are on-link, others go via `underlay_gateway`.
    pub underlay_prefix_len: u8,
    /// Next hop for VTEPs outside the underlay prefix.
    pub underlay_gateway: Option<Ipv4Addr>,
    /// VXLAN UDP port.
    pub vxlan_port: u16,
    /// Outer IPv4 TTL.
    pub ttl: u8,
    /// Outer IPv4 DSCP (0-63).
    pub dscp: u8,
    /// Set the outer DF bit.
    pub df: bool,
    /// FDB capacity (entries, all VNIs), preallocated at start.
    pub fdb_capacity: u32,
    /// Default dynamic-entry age in seconds (per VNI overridable).
    pub ageing_secs: u32,
    /// Default learned-entry limit per VNI.
    pub learn_limit: u32,
    /// vxgw's address on the external port: answers ARP and ping there, and is the
    /// source of the ICMP errors it sends to clients.
    pub external_ip: Option<Ipv4Addr>,
    /// External prefix length: clients inside it are on-link, others go via
    /// `external_gateway`.
    pub external_prefix_len: u8,
    /// Next hop for clients outside the external prefix.
    pub external_gateway: Option<Ipv4Addr>,
    /// Connection-tracking capacity (connections, all services), preallocated.
    pub conntrack_capacity: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            vtep_ip: None,
            underlay_prefix_len: 24,
            underlay_gateway: None,
            vxlan_port: 4789,
            ttl: 64,
            dscp: 0,
            df: true,
            fdb_capacity: 1 << 18,
            ageing_secs: 300,
            learn_limit: 65536,
            external_ip: None,
            external_prefix_len: 24,
            external_gateway: None,
            conntrack_capacity: 1 << 20,
        }
    }
}

/// The roles a port can play (one port may have several).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// VXLAN to and from VTEPs.
    Underlay,
    /// 802.1Q-tagged (or untagged) L2 segments bridged into VNIs.
    Access,
    /// Clients reach published ports (routing mesh).
    External,
}

/// One DPDK port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    /// DPDK device name ("net_af_packet0", "0000:01:00.0") or port id as a string.
    pub name: String,
    /// What the port does.
    pub roles: Vec<Role>,
    /// MTU to set on the device (None: leave the driver's).
    #[serde(default)]
    pub mtu: Option<u16>,
}

/// A remote VTEP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VtepConfig {
    /// Its underlay address.
    pub ip: Ipv4Addr,
}

/// An access-port membership of a VNI.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// Port name (must have the access role).
    pub port: String,
    /// 802.1Q VLAN id, 0 = untagged (native).
    #[serde(default)]
    pub vlan: u16,
}

/// An ARP-suppression entry: requests for `ip` are answered with `mac`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArpEntryConfig {
    /// Overlay IP.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: MacAddr,
}

/// One VXLAN segment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VniConfig {
    /// The 24-bit VNI.
    pub id: u32,
    /// VTEPs receiving head-end-replicated broadcast/unknown/multicast frames.
    #[serde(default)]
    pub flood: Vec<Ipv4Addr>,
    /// Access ports and VLANs bridged into this VNI.
    #[serde(default)]
    pub access: Vec<AccessConfig>,
    /// Learned-entry limit (default: gateway.learn_limit).
    #[serde(default)]
    pub learn_limit: Option<u32>,
    /// Dynamic-entry age in seconds (default: gateway.ageing_secs).
    #[serde(default)]
    pub ageing_secs: Option<u32>,
    /// An overlay address of vxgw itself in this VNI (answers ARP and ping).
    #[serde(default)]
    pub gateway_ip: Option<Ipv4Addr>,
    /// ARP suppression entries.
    #[serde(default)]
    pub arp: Vec<ArpEntryConfig>,
    /// Who manages it (`vxgw-swarm` sets this): shown by `vxgwctl`, not interpreted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

/// A static FDB entry: a MAC behind a VTEP or on an access port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticFdbConfig {
    /// VNI.
    pub vni: u32,
    /// MAC.
    pub mac: MacAddr,
    /// Remote VTEP holding it, or
    #[serde(default)]
    pub vtep: Option<Ipv4Addr>,
    /// access port holding it (with `vlan`).
    #[serde(default)]
    pub port: Option<String>,
    /// VLAN on that access port (0 = untagged).
    #[serde(default)]
    pub vlan: u16,
}

/// A static underlay neighbour.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NeighbourConfig {
    /// Underlay IP.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: MacAddr,
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom(format!("invalid MAC address '{s}'")))
    }
}

/// A MAC that can name one host: unicast and not all zeros.
pub fn is_host_mac(m: MacAddr) -> bool {
    m.is_unicast() && !m.is_zero()
}

/// An IPv4 address that can name one host: not unspecified, broadcast, multicast,
/// reserved (240/4) or loopback.
pub fn is_host_ip(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_loopback()
        || ip.octets()[0] >= 240)
}

/// Largest VXLAN network identifier.
pub const VNI_MAX: u32 = 0x00ff_ffff;

/// A `managed_by` name: short, printable, no spaces (it lands in tables and logs).
fn valid_manager(m: &str) -> bool {
    (1..=64).contains(&m.len())
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/@".contains(&b))
}

impl Config {
    /// Parses TOML text; syntax and type errors carry line and column.
    pub fn parse(text: &str) -> Result<Config, Vec<String>> {
        let cfg: Config = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a file.
    pub fn load(path: &std::path::Path) -> Result<Config, Vec<String>> {
        let text =
            std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        Config::parse(&text).map_err(|errs| {
            errs.into_iter()
                .map(|e| format!("{}: {e}", path.display()))
                .collect()
        })
    }

    /// Renders the configuration as TOML (the format it is read in).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("configuration serialises")
    }

    /// Checks everything that types cannot; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errs = Vec::new();
        let g = &self.gateway;
        let has_role = |name: &str, role: Role| {
            self.ports
                .iter()
                .any(|p| p.name == name && p.roles.contains(&role))
        };
        if g.underlay_prefix_len > 32 {
            errs.push(format!(
                "gateway.underlay_prefix_len: {} is not 0-32",
                g.underlay_prefix_len
            ));
        }
        if g.dscp > 63 {
            errs.push(format!("gateway.dscp: {} is not 0-63", g.dscp));
        }
        if g.ttl == 0 {
            errs.push("gateway.ttl: must be at least 1".into());
        }
        let managers = self
            .vnis
            .iter()
            .map(|v| (format!("vni {}", v.id), &v.managed_by))
            .chain(
                self.services
                    .iter()
                    .map(|s| (format!("service {}", s.name), &s.managed_by)),
            );
        for (what, m) in managers {
            if let Some(m) = m.as_deref().filter(|m| !valid_manager(m)) {
                errs.push(format!(
                    "{what}: managed_by '{}': 1-64 of A-Z a-z 0-9 . _ - : / @",
                    m.escape_debug()
                ));
            }
        }
        if g.fdb_capacity < 64 || g.fdb_capacity > (1 << 26) {
            errs.push(format!(
                "gateway.fdb_capacity: {} is not 64-67108864",
                g.fdb_capacity
            ));
        }
        let mut names = HashSet::new();
        for (i, p) in self.ports.iter().enumerate() {
            if !names.insert(p.name.as_str()) {
                errs.push(format!("port[{i}].name: '{}' appears twice", p.name));
            }
            if p.roles.is_empty() {
                errs.push(format!("port[{i}].roles: a port needs at least one role"));
            }
            if let Some(m) = p.mtu {
                if !(68..=9600).contains(&m) {
                    errs.push(format!("port[{i}].mtu: {m} is not 68-9600"));
                }
            }
        }
        let underlay = self
            .ports
            .iter()
            .filter(|p| p.roles.contains(&Role::Underlay))
            .count();
        if !self.vnis.is_empty() {
            if underlay != 1 {
                errs.push(format!(
                    "port: VNIs need exactly one port with role \"underlay\", found {underlay}"
                ));
            }
            if g.vtep_ip.is_none() {
                errs.push("gateway.vtep_ip: required when VNIs are configured".into());
            }
        }
        let vteps: HashSet<Ipv4Addr> = self.vteps.iter().map(|v| v.ip).collect();
        for (name, ip) in [
            ("vtep_ip", g.vtep_ip),
            ("underlay_gateway", g.underlay_gateway),
            ("external_ip", g.external_ip),
            ("external_gateway", g.external_gateway),
        ] {
            if let Some(ip) = ip.filter(|ip| !is_host_ip(*ip)) {
                errs.push(format!(
                    "gateway.{name}: {ip} is not a unicast host address"
                ));
            }
        }
        for (i, v) in self.vteps.iter().enumerate() {
            if !is_host_ip(v.ip) {
                errs.push(format!(
                    "vtep[{i}].ip: {} is not a unicast host address",
                    v.ip
                ));
            }
            if Some(v.ip) == g.vtep_ip {
                errs.push(format!("vtep[{i}].ip: {} is our own vtep_ip", v.ip));
            }
            if self.vteps[..i].iter().any(|o| o.ip == v.ip) {
                errs.push(format!("vtep[{i}].ip: {} appears twice", v.ip));
            }
        }
        let mut ids = HashSet::new();
        let mut segments = HashSet::new();
        for (i, v) in self.vnis.iter().enumerate() {
            if v.id == 0 || v.id > VNI_MAX {
                errs.push(format!("vni[{i}].id: {} is not 1-{VNI_MAX}", v.id));
            }
            if !ids.insert(v.id) {
                errs.push(format!("vni[{i}].id: {} appears twice", v.id));
            }
            if let Some(ip) = v.gateway_ip {
                if !is_host_ip(ip) {
                    errs.push(format!(
                        "vni[{i}].gateway_ip: {ip} is not a unicast host address"
                    ));
                }
            }
            for (j, e) in v.arp.iter().enumerate() {
                if !is_host_ip(e.ip) {
                    errs.push(format!(
                        "vni[{i}].arp[{j}].ip: {} is not a unicast host address",
                        e.ip
                    ));
                }
                if !is_host_mac(e.mac) {
                    errs.push(format!(
                        "vni[{i}].arp[{j}].mac: {} is not a unicast MAC",
                        e.mac
                    ));
                }
                if v.arp[..j].iter().any(|o| o.ip == e.ip) {
                    errs.push(format!("vni[{i}].arp[{j}].ip: {} appears twice", e.ip));
                }
            }
            for (j, ip) in v.flood.iter().enumerate() {
                if !vteps.contains(ip) {
                    errs.push(format!(
                        "vni[{i}].flood[{j}]: {ip} is not a configured [[vtep]]"
                    ));
                }
            }
            for (j, a) in v.access.iter().enumerate() {
                if !has_role(&a.port, Role::Access) {
                    errs.push(format!(
                        "vni[{i}].access[{j}].port: '{}' is not a port with role \"access\"",
                        a.port
                    ));
                }
                if a.vlan > 4094 {
                    errs.push(format!(
                        "vni[{i}].access[{j}].vlan: {} is not 0-4094",
                        a.vlan
                    ));
                }
                if !segments.insert((a.port.clone(), a.vlan)) {
                    errs.push(format!(
                        "vni[{i}].access[{j}]: port '{}' vlan {} is already mapped to a VNI",
                        a.port, a.vlan
                    ));
                }
            }
            if v.learn_limit == Some(0) {
                errs.push(format!(
                    "vni[{i}].learn_limit: 0 would disable learning; omit it for the default"
                ));
            }
            if v.ageing_secs == Some(0) {
                errs.push(format!("vni[{i}].ageing_secs: must be at least 1"));
            }
        }
        for (i, f) in self.fdb.iter().enumerate() {
            if !ids.contains(&f.vni) {
                errs.push(format!("fdb[{i}].vni: {} is not a configured VNI", f.vni));
            }
            if !is_host_mac(f.mac) {
                errs.push(format!("fdb[{i}].mac: {} is not a unicast MAC", f.mac));
            }
            if self.fdb[..i]
                .iter()
                .any(|o| o.vni == f.vni && o.mac == f.mac)
            {
                errs.push(format!(
                    "fdb[{i}].mac: {} appears twice in VNI {}",
                    f.mac, f.vni
                ));
            }
            match (&f.vtep, &f.port) {
                (Some(ip), None) => {
                    if !vteps.contains(ip) {
                        errs.push(format!("fdb[{i}].vtep: {ip} is not a configured [[vtep]]"));
                    }
                    if f.vlan != 0 {
                        errs.push(format!(
                            "fdb[{i}].vlan: {} given with `vtep`; a VLAN goes with `port` only",
                            f.vlan
                        ));
                    }
                }
                (None, Some(p)) => {
                    if !has_role(p, Role::Access) {
                        errs.push(format!(
                            "fdb[{i}].port: '{p}' is not a port with role \"access\""
                        ));
                    } else if f.vlan > 4094 {
                        errs.push(format!("fdb[{i}].vlan: {} is not 0-4094", f.vlan));
                    } else if ids.contains(&f.vni) {
                        // VNI isolation: a static entry may only point into its own
                        // VNI's segments, never at another VNI's (port, VLAN).
                        let member = self.vnis.iter().any(|v| {
                            v.id == f.vni
                                && v.access.iter().any(|a| a.port == *p && a.vlan == f.vlan)
                        });
                        if !member {
                            errs.push(format!(
                                "fdb[{i}]: port '{p}' vlan {} is not an access member of VNI {}",
                                f.vlan, f.vni
                            ));
                        }
                    }
                }
                _ => errs.push(format!("fdb[{i}]: give exactly one of `vtep` or `port`")),
            }
        }
        for (i, n) in self.neighbours.iter().enumerate() {
            if !is_host_ip(n.ip) {
                errs.push(format!(
                    "neighbour[{i}].ip: {} is not a unicast host address",
                    n.ip
                ));
            }
            if !is_host_mac(n.mac) {
                errs.push(format!(
                    "neighbour[{i}].mac: {} is not a unicast MAC",
                    n.mac
                ));
            }
            if self.neighbours[..i].iter().any(|o| o.ip == n.ip) {
                errs.push(format!("neighbour[{i}].ip: {} appears twice", n.ip));
            }
        }
        self.validate_services(&ids, &mut errs);
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    fn validate_services(&self, vnis: &HashSet<u32>, errs: &mut Vec<String>) {
        let external = self
            .ports
            .iter()
            .filter(|p| p.roles.contains(&Role::External))
            .count();
        if !self.services.is_empty() && external == 0 {
            errs.push("service: published ports need a port with role \"external\"".into());
        }
        if external > 1 {
            errs.push(format!(
                "port: at most one port may have role \"external\", found {external}"
            ));
        }
        let g = &self.gateway;
        if g.external_prefix_len > 32 {
            errs.push(format!(
                "gateway.external_prefix_len: {} is not 0-32",
                g.external_prefix_len
            ));
        }
        if !(1024..=(1 << 26)).contains(&g.conntrack_capacity) {
            errs.push(format!(
                "gateway.conntrack_capacity: {} is not 1024-67108864",
                g.conntrack_capacity
            ));
        }
        let backends: usize = self.services.iter().map(|s| s.backends.len()).sum();
        if backends > crate::tables::snapshot::MAX_BACKEND_SLOTS {
            errs.push(format!(
                "service: {backends} backends in all; at most {} are supported",
                crate::tables::snapshot::MAX_BACKEND_SLOTS
            ));
        }
        let mut names = HashSet::new();
        let mut published = HashSet::new();
        for (i, sv) in self.services.iter().enumerate() {
            let at = format!("service[{i}]");
            if sv.name.is_empty() || !names.insert(sv.name.as_str()) {
                errs.push(format!(
                    "{at}.name: '{}' is empty or appears twice",
                    sv.name
                ));
            }
            if sv.published_port == 0 {
                errs.push(format!("{at}.published_port: must be 1-65535"));
            }
            if !published.insert((sv.protocol, sv.published_ip, sv.published_port)) {
                errs.push(format!(
                    "{at}: {:?} port {} on {} is already published",
                    sv.protocol,
                    sv.published_port,
                    sv.published_ip
                        .map(|ip| ip.to_string())
                        .unwrap_or_else(|| "any address".into())
                ));
            }
            if !vnis.contains(&sv.vni) {
                errs.push(format!("{at}.vni: {} is not a configured VNI", sv.vni));
            }
            if sv.target_port == Some(0) {
                errs.push(format!("{at}.target_port: must be 1-65535"));
            }
            if sv.new_connection_rate == Some(0) {
                errs.push(format!(
                    "{at}.new_connection_rate: 0 would refuse every connection (omit it for no limit)"
                ));
            }
            let size = sv
                .maglev_size
                .unwrap_or(crate::tables::maglev::DEFAULT_TABLE_SIZE);
            if !crate::tables::maglev::is_prime(size)
                || size > crate::tables::maglev::MAX_TABLE_SIZE
            {
                errs.push(format!(
                    "{at}.maglev_size: {size} is not a prime <= 16777216"
                ));
            } else if (size as usize) < 2 * sv.backends.len().max(1) {
                errs.push(format!(
                    "{at}.maglev_size: {size} is too small for {} backends",
                    sv.backends.len()
                ));
            }
            if let Some(ip) = sv.published_ip.filter(|ip| !is_host_ip(*ip)) {
                errs.push(format!(
                    "{at}.published_ip: {ip} is not a unicast host address"
                ));
            }
            if !is_host_ip(sv.ingress_ip) {
                errs.push(format!(
                    "{at}.ingress_ip: {} is not a unicast host address",
                    sv.ingress_ip
                ));
            }
            let mut seen = HashSet::new();
            for (j, b) in sv.backends.iter().enumerate() {
                if !is_host_ip(b.ip) {
                    errs.push(format!(
                        "{at}.backends[{j}].ip: {} is not a unicast host address",
                        b.ip
                    ));
                }
                if !seen.insert(b.ip) {
                    errs.push(format!("{at}.backends[{j}].ip: {} appears twice", b.ip));
                }
                if b.ip == sv.ingress_ip {
                    errs.push(format!(
                        "{at}.backends[{j}].ip: {} is the ingress endpoint",
                        b.ip
                    ));
                }
            }
            let t = &sv.timeouts;
            for (name, v) in [
                ("syn", t.syn),
                ("established", t.established),
                ("closing", t.closing),
                ("udp", t.udp),
                ("udp_replied", t.udp_replied),
            ] {
                if v == Some(0) {
                    errs.push(format!("{at}.timeouts.{name}: must be at least 1"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"

[[port]]
name = "net_af_packet0"
roles = ["underlay"]

[[port]]
name = "net_af_packet1"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[vtep]]
ip = "172.30.0.12"

[[vni]]
id = 4096
flood = ["172.30.0.11", "172.30.0.12"]
access = [{ port = "net_af_packet1", vlan = 0 }]
gateway_ip = "10.255.0.1"
arp = [{ ip = "10.255.0.11", mac = "02:42:0a:ff:00:0b" }]

[[fdb]]
vni = 4096
mac = "02:42:0a:ff:00:0d"
vtep = "172.30.0.12"
"#;

    #[test]
    fn services_are_validated() {
        let base = GOOD.replace("roles = [\"access\"]", "roles = [\"access\", \"external\"]");
        let good = format!(
            "{base}\n[[service]]\nname = \"web\"\nprotocol = \"tcp\"\npublished_port = 80\nvni = 4096\n\
             ingress_ip = \"10.255.0.2\"\nbackends = [{{ ip = \"10.255.0.11\" }}, {{ ip = \"10.255.0.13\", weight = 2 }}]\n"
        );
        let c = Config::parse(&good).expect("valid service");
        assert_eq!(c.services[0].mode, NatMode::Snat);
        assert_eq!(c.services[0].backends[0].weight, 1);
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c, "round trip");
        let bad = good.replace("vni = 4096\ningress", "vni = 7\ningress").replace("published_port = 80", "published_port = 0")
            + "\n[[service]]\nname = \"web\"\nprotocol = \"udp\"\npublished_port = 53\nvni = 4096\ningress_ip = \"10.255.0.2\"\nmaglev_size = 100\n\
               backends = [{ ip = \"10.255.0.2\" }, { ip = \"10.255.0.2\" }]\n";
        let all = Config::parse(&bad).unwrap_err().join("\n");
        for want in [
            "service[0].vni: 7 is not a configured VNI",
            "service[0].published_port: must be 1-65535",
            "service[1].name: 'web' is empty or appears twice",
            "service[1].maglev_size: 100 is not a prime",
            "service[1].backends[1].ip: 10.255.0.2 appears twice",
            "service[1].backends[0].ip: 10.255.0.2 is the ingress endpoint",
        ] {
            assert!(all.contains(want), "missing '{want}' in:\n{all}");
        }
        let no_external = good.replace("[\"access\", \"external\"]", "[\"access\"]");
        let all = Config::parse(&no_external).unwrap_err().join("\n");
        assert!(all.contains("need a port with role \"external\""), "{all}");
    }

    #[test]
    fn who_manages_a_vni_or_service_is_kept_and_checked() {
        let base = GOOD.replace(
            "gateway_ip = \"10.255.0.1\"",
            "gateway_ip = \"10.255.0.1\"\nmanaged_by = \"vxgw-swarm\"",
        );
        let c = Config::parse(&base).expect("valid");
        assert_eq!(c.vnis[0].managed_by.as_deref(), Some("vxgw-swarm"));
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c, "round trip");
        for bad in ["", "two words", "tab\\t", &"x".repeat(65)] {
            let text = GOOD.replace(
                "gateway_ip = \"10.255.0.1\"",
                &format!("gateway_ip = \"10.255.0.1\"\nmanaged_by = \"{bad}\""),
            );
            let all = Config::parse(&text).unwrap_err().join("\n");
            assert!(all.contains("vni 4096: managed_by"), "{bad:?}: {all}");
        }
    }

    #[test]
    fn shipped_sample_configs_are_valid() {
        for f in [
            "lab.toml",
            "appliance.toml",
            "bench-overlay.toml",
            "bench-mesh.toml",
        ] {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../configs")
                .join(f);
            let c = Config::load(&p).unwrap_or_else(|e| panic!("{f}: {e:?}"));
            assert!(!c.vnis.is_empty(), "{f}");
        }
    }

    #[test]
    fn good_config_parses_and_round_trips() {
        let c = Config::parse(GOOD).expect("valid");
        assert_eq!(c.vnis[0].id, 4096);
        assert_eq!(c.gateway.vxlan_port, 4789);
        assert_eq!(c.vnis[0].arp[0].mac.to_string(), "02:42:0a:ff:00:0b");
        let again = Config::parse(&c.to_toml()).expect("round trip");
        assert_eq!(again, c);
    }

    #[test]
    fn every_error_is_reported_with_its_location() {
        let bad = GOOD
            .replace("id = 4096", "id = 16777216")
            .replace(
                "flood = [\"172.30.0.11\", \"172.30.0.12\"]",
                "flood = [\"172.30.0.13\"]",
            )
            .replace("vlan = 0 }", "vlan = 5000 }")
            .replace(
                "vtep = \"172.30.0.12\"",
                "vtep = \"172.30.0.12\"\nport = \"net_af_packet1\"",
            );
        let errs = Config::parse(&bad).unwrap_err();
        let all = errs.join("\n");
        assert!(all.contains("vni[0].id: 16777216"), "{all}");
        assert!(
            all.contains("vni[0].flood[0]: 172.30.0.13 is not a configured"),
            "{all}"
        );
        assert!(all.contains("vni[0].access[0].vlan: 5000"), "{all}");
        assert!(all.contains("fdb[0]: give exactly one"), "{all}");
        assert_eq!(errs.len(), 5, "{all}"); // + fdb[0].vni no longer exists
    }

    /// Issue 24, cross-VNI leak: a static entry pointing at a (port, VLAN) of
    /// another VNI, or at a VLAN that cannot exist, would send the VNI's frames into
    /// another segment. Passed `--check-config` before.
    #[test]
    fn static_entries_stay_inside_their_vni() {
        let two = GOOD.replace(
            "access = [{ port = \"net_af_packet1\", vlan = 0 }]",
            "access = [{ port = \"net_af_packet1\", vlan = 0 }]\n\n[[vni]]\nid = 5000\n\
             access = [{ port = \"net_af_packet1\", vlan = 904 }]",
        );
        Config::parse(&two).expect("two VNIs");
        let entry = |vlan: u32| {
            format!(
                "{two}\n[[fdb]]\nvni = 4096\nmac = \"02:42:0a:ff:00:99\"\nport = \"net_af_packet1\"\nvlan = {vlan}\n"
            )
        };
        Config::parse(&entry(0)).expect("VNI 4096's own member");
        let all = Config::parse(&entry(904)).unwrap_err().join("\n");
        assert!(
            all.contains(
                "fdb[1]: port 'net_af_packet1' vlan 904 is not an access member of VNI 4096"
            ),
            "{all}"
        );
        let all = Config::parse(&entry(5000)).unwrap_err().join("\n");
        assert!(all.contains("fdb[1].vlan: 5000 is not 0-4094"), "{all}");
        let all = Config::parse(&entry(100)).unwrap_err().join("\n");
        assert!(
            all.contains("vlan 100 is not an access member of VNI 4096"),
            "{all}"
        );
    }

    /// Issue 24, invalid values: multicast or zero MACs where a host is meant,
    /// addresses that cannot be a host.
    #[test]
    fn hosts_are_unicast() {
        let bad = format!(
            "{GOOD}\n[[neighbour]]\nip = \"172.30.0.12\"\nmac = \"01:00:5e:00:00:01\"\n\
             [[neighbour]]\nip = \"224.0.0.1\"\nmac = \"00:00:00:00:00:00\"\n"
        )
        .replace("mac = \"02:42:0a:ff:00:0b\"", "mac = \"ff:ff:ff:ff:ff:ff\"")
        .replace(
            "gateway_ip = \"10.255.0.1\"",
            "gateway_ip = \"255.255.255.255\"",
        )
        .replace(
            "[[vtep]]\nip = \"172.30.0.12\"",
            "[[vtep]]\nip = \"172.30.0.12\"\n\n[[vtep]]\nip = \"0.0.0.0\"",
        );
        let all = Config::parse(&bad).unwrap_err().join("\n");
        for want in [
            "neighbour[0].mac: 01:00:5e:00:00:01 is not a unicast MAC",
            "neighbour[1].ip: 224.0.0.1 is not a unicast host address",
            "neighbour[1].mac: 00:00:00:00:00:00 is not a unicast MAC",
            "vni[0].arp[0].mac: ff:ff:ff:ff:ff:ff is not a unicast MAC",
            "vni[0].gateway_ip: 255.255.255.255 is not a unicast host address",
            "vtep[2].ip: 0.0.0.0 is not a unicast host address",
        ] {
            assert!(all.contains(want), "missing '{want}' in:\n{all}");
        }
    }

    #[test]
    fn syntax_errors_carry_line_numbers() {
        let errs = Config::parse("[gateway]\nvtep_ip = 17\n").unwrap_err();
        assert!(errs[0].contains("line 2"), "{errs:?}");
        let errs = Config::parse("[gateway]\nvtep_ip = \"1.2.3.4\"\nbogus = 1\n").unwrap_err();
        assert!(errs[0].contains("unknown field `bogus`"), "{errs:?}");
        let errs = Config::parse("[[vni]]\nid = 5\narp = [{ ip = \"1.2.3.4\", mac = \"zz\" }]\n")
            .unwrap_err();
        assert!(errs[0].contains("invalid MAC address 'zz'"), "{errs:?}");
    }
}
