//! vxgw's control protocol, shared by the gateway (`vxgw`) and the operator CLI
//! (`vxgwctl`): one typed [`Request`] per command, one typed answer per command
//! ([`Answer`], `replies.rs`), the reply envelope, and a typed [`ApiError`] with
//! stable codes. No DPDK, no tables: only the wire.
//!
//! The wire is JSON lines, protocol version 1:
//! `{"v":1,"cmd":"fdb.show","args":{"vni":4096}}` -> `{"ok":true,"result":...}` or
//! `{"ok":false,"error":"...","code":"..."}`. Every argument object refuses unknown
//! keys (`deny_unknown_fields`); `args` may be omitted or `null` when a command needs
//! none. [`parse_request`] is the one way a request line becomes a [`Request`];
//! [`Request::to_line`] is the one way a client writes one.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

pub mod client;
mod replies;
pub use replies::*;

/// Protocol version spoken.
pub const PROTOCOL_VERSION: u64 = 1;
/// Largest request line accepted (bytes, without the newline).
pub const MAX_REQUEST: usize = 64 * 1024;
/// Largest VXLAN network identifier.
pub const VNI_MAX: u32 = 0x00ff_ffff;

/// A MAC address as the protocol writes it: six hex bytes, `02:42:0a:ff:00:0b`
/// (`-` accepted as the separator when reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl FromStr for Mac {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Mac, ApiError> {
        let bad = || ApiError::InvalidValue(format!("invalid MAC address '{s}'"));
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in &mut out {
            let p = parts.next().ok_or_else(bad)?;
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `Some(None)` for an explicit `null`, `None` when the key is absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

macro_rules! args {
    ($(#[$m:meta])* $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { $($body)* }
    };
}

args!(
    /// No arguments (any key is an error).
    NoArgs {}
);

args!(
    /// `fdb.show`: filters.
    FdbShow {
        /// Only this VNI.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vni: Option<u32>,
        /// Only this MAC.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mac: Option<Mac>,
    }
);

args!(
    /// A VNI by `id`, optional (`vni.show`).
    MaybeId {
        /// The VNI.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<u32>,
    }
);

args!(
    /// A VNI by `vni`, optional (`arp.show`).
    MaybeVni {
        /// The VNI.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vni: Option<u32>,
    }
);

args!(
    /// A VNI by `id` (`vni.del`).
    Id {
        /// The VNI.
        pub id: u32,
    }
);

args!(
    /// An access member of a VNI: a port and a VLAN (0 = untagged).
    Access {
        /// Port name (role access).
        pub port: String,
        /// 802.1Q VLAN id, 0 = untagged.
        #[serde(default)]
        pub vlan: u16,
    }
);

args!(
    /// An ARP suppression entry.
    ArpEntry {
        /// Overlay IP.
        pub ip: Ipv4Addr,
        /// Its MAC.
        pub mac: Mac,
    }
);

args!(
    /// `vni.add`: a `[[vni]]` of the startup file.
    VniAdd {
        /// The 24-bit VNI.
        pub id: u32,
        /// Head-end replication list (configured VTEPs).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub flood: Vec<Ipv4Addr>,
        /// Access members.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub access: Vec<Access>,
        /// Learned-entry limit (default: the gateway's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub learn_limit: Option<u32>,
        /// Age of learned entries in seconds (default: the gateway's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ageing_secs: Option<u32>,
        /// vxgw's own address in the VNI.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub gateway_ip: Option<Ipv4Addr>,
        /// ARP suppression entries.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub arp: Vec<ArpEntry>,
        /// Who manages it (`vxgw-swarm` sets this): shown, not interpreted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub managed_by: Option<String>,
    }
);

args!(
    /// `vni.set`: each key given is set; `null` goes back to the default
    /// (`learn_limit`, `ageing_secs`) or to none (`gateway_ip`).
    VniSet {
        /// The VNI.
        pub id: u32,
        /// Learned-entry limit.
        #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
        pub learn_limit: Option<Option<u32>>,
        /// Age of learned entries.
        #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
        pub ageing_secs: Option<Option<u32>>,
        /// vxgw's own address in the VNI.
        #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
        pub gateway_ip: Option<Option<Ipv4Addr>>,
    }
);

args!(
    /// `vni.flood.add`, `vni.flood.del`.
    IdIp {
        /// The VNI.
        pub id: u32,
        /// The VTEP.
        pub ip: Ipv4Addr,
    }
);

args!(
    /// `vni.access.add`, `vni.access.del`.
    IdAccess {
        /// The VNI.
        pub id: u32,
        /// Port name.
        pub port: String,
        /// VLAN, 0 = untagged.
        #[serde(default)]
        pub vlan: u16,
    }
);

args!(
    /// An address (`vtep.add`, `vtep.del`, `neigh.del`).
    Ip {
        /// The address.
        pub ip: Ipv4Addr,
    }
);

args!(
    /// `fdb.add`: a static entry, behind a VTEP or on an access port.
    FdbAdd {
        /// VNI.
        pub vni: u32,
        /// MAC.
        pub mac: Mac,
        /// The remote VTEP holding it, or
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vtep: Option<Ipv4Addr>,
        /// the access port holding it (with `vlan`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port: Option<String>,
        /// Its VLAN on that port (0 = untagged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vlan: Option<u16>,
    }
);

args!(
    /// `fdb.del`.
    VniMac {
        /// VNI.
        pub vni: u32,
        /// MAC.
        pub mac: Mac,
    }
);

args!(
    /// `fdb.flush`.
    FdbFlush {
        /// Only this VNI.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vni: Option<u32>,
        /// Learned entries only (default); false: static ones too.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        pub dynamic_only: bool,
    }
);

args!(
    /// `neigh.add`.
    NeighAdd {
        /// Underlay IP.
        pub ip: Ipv4Addr,
        /// Its MAC.
        pub mac: Mac,
    }
);

args!(
    /// `arp.add`.
    ArpAdd {
        /// VNI.
        pub vni: u32,
        /// Overlay IP.
        pub ip: Ipv4Addr,
        /// Its MAC.
        pub mac: Mac,
    }
);

args!(
    /// `arp.del` (only when the MAC matches, if given).
    ArpDel {
        /// VNI.
        pub vni: u32,
        /// Overlay IP.
        pub ip: Ipv4Addr,
        /// Its MAC.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mac: Option<Mac>,
    }
);

args!(
    /// `config.apply`: the whole configuration, in the startup file's TOML.
    ConfigApply {
        /// The TOML text.
        pub toml: String,
    }
);

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// How a service rewrites the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The backend sees the ingress endpoint as the source.
    Snat,
    /// The backend sees the client's address.
    Preserve,
}

args!(
    /// One backend of a service.
    Backend {
        /// Overlay IP.
        pub ip: Ipv4Addr,
        /// Share of new flows (default 1; 0 = drained).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub weight: Option<u32>,
    }
);

args!(
    /// Per-state connection timeouts in seconds.
    Timeouts {
        /// TCP handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub syn: Option<u32>,
        /// TCP established.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub established: Option<u32>,
        /// TCP closing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub closing: Option<u32>,
        /// UDP before a reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub udp: Option<u32>,
        /// UDP after a reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub udp_replied: Option<u32>,
    }
);

args!(
    /// `service.add`: a `[[service]]` of the startup file.
    ServiceAdd {
        /// Unique name.
        pub name: String,
        /// tcp or udp.
        pub protocol: Proto,
        /// External address (absent: any address of the external port).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub published_ip: Option<Ipv4Addr>,
        /// External port.
        pub published_port: u16,
        /// The backends' VNI.
        pub vni: u32,
        /// vxgw's ingress endpoint in that VNI.
        pub ingress_ip: Ipv4Addr,
        /// Port on the backends (default: the published port).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub target_port: Option<u16>,
        /// snat (default) or preserve.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mode: Option<Mode>,
        /// Maglev table size (a prime).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub maglev_size: Option<u32>,
        /// Connection timeouts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub timeouts: Option<Timeouts>,
        /// The backends.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub backends: Vec<Backend>,
        /// Flood guard: new connections a second, all workers (absent: no limit).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub new_connection_rate: Option<u32>,
        /// Who manages it (`vxgw-swarm` sets this): shown, not interpreted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub managed_by: Option<String>,
    }
);

args!(
    /// A service by name, optional (`service.show`).
    MaybeName {
        /// The service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
    }
);

args!(
    /// `trace.packet`: a frame as received on a port.
    TracePacket {
        /// The port it arrives on (its name in the configuration).
        pub port: String,
        /// The whole Ethernet frame, in hex (VLAN tag included, if any).
        pub frame: String,
    }
);

args!(
    /// `trace.start`: the next `count` packets, on one port or any.
    TraceStart {
        /// How many packets (1-1000).
        pub count: u32,
        /// Only packets received on this port (its name); none: any port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port: Option<String>,
        /// Only packets this filter matches; none: every packet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub filter: Option<TraceFilter>,
    }
);

args!(
    /// Which packets a live trace records: every field given must match. Header
    /// fields match the frame's own headers or, for a VXLAN frame, its inner
    /// frame's (all within one of the two); `vni` is the VNI the packet is bridged
    /// in (the VXLAN header's, or its access VLAN's). Written as text like
    /// tcpdump's: `vni 4097 and host 10.0.1.5 and tcp port 80` (see [`FromStr`]).
    TraceFilter {
        /// The VNI.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vni: Option<u32>,
        /// An 802.1Q VLAN id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub vlan: Option<u16>,
        /// Source or destination MAC.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mac: Option<Mac>,
        /// Source or destination IPv4 address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub host: Option<Ipv4Addr>,
        /// TCP or UDP source or destination port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub port: Option<u16>,
        /// The transport.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub proto: Option<TraceProto>,
    }
);

/// A transport a [`TraceFilter`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceProto {
    /// IPv4 TCP.
    Tcp,
    /// IPv4 UDP.
    Udp,
    /// IPv4 ICMP.
    Icmp,
    /// ARP.
    Arp,
}

impl TraceProto {
    /// Its name in a filter.
    pub fn name(self) -> &'static str {
        match self {
            TraceProto::Tcp => "tcp",
            TraceProto::Udp => "udp",
            TraceProto::Icmp => "icmp",
            TraceProto::Arp => "arp",
        }
    }
}

impl FromStr for TraceFilter {
    type Err = ApiError;
    /// Terms joined by spaces or `and`: `vni N`, `vlan N`, `mac MAC`, `host IPV4`,
    /// `port N`, `tcp`, `udp`, `icmp`, `arp`; each at most once.
    fn from_str(s: &str) -> Result<TraceFilter, ApiError> {
        let bad = |m: String| ApiError::InvalidValue(format!("filter: {m}"));
        let mut f = TraceFilter {
            vni: None,
            vlan: None,
            mac: None,
            host: None,
            port: None,
            proto: None,
        };
        let mut words = s.split_whitespace().filter(|w| *w != "and");
        fn set<T>(slot: &mut Option<T>, term: &str, v: T) -> Result<(), ApiError> {
            if slot.is_some() {
                return Err(ApiError::InvalidValue(format!(
                    "filter: '{term}' given twice"
                )));
            }
            *slot = Some(v);
            Ok(())
        }
        while let Some(term) = words.next() {
            let proto = match term {
                "tcp" => Some(TraceProto::Tcp),
                "udp" => Some(TraceProto::Udp),
                "icmp" => Some(TraceProto::Icmp),
                "arp" => Some(TraceProto::Arp),
                _ => None,
            };
            if let Some(p) = proto {
                set(&mut f.proto, "protocol", p)?;
                continue;
            }
            let value = words
                .next()
                .ok_or_else(|| bad(format!("'{term}' needs a value")))?;
            let num = |max: u32| -> Result<u32, ApiError> {
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| bad(format!("{term} must be 0-{max}, not '{value}'")))
            };
            match term {
                "vni" => set(&mut f.vni, term, num(VNI_MAX)?)?,
                "vlan" => set(&mut f.vlan, term, num(4095)? as u16)?,
                "port" => set(&mut f.port, term, num(65535)? as u16)?,
                "mac" => set(&mut f.mac, term, value.parse()?)?,
                "host" => set(
                    &mut f.host,
                    term,
                    value
                        .parse()
                        .map_err(|_| bad(format!("host: invalid IPv4 address '{value}'")))?,
                )?,
                _ => {
                    return Err(bad(format!(
                        "unknown term '{term}' (vni, vlan, mac, host, port, tcp, udp, icmp, arp)"
                    )))
                }
            }
        }
        Ok(f)
    }
}

impl fmt::Display for TraceFilter {
    /// The text [`FromStr`] reads: `vni 4097 and host 10.0.1.5 and tcp port 80`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut terms = Vec::new();
        if let Some(v) = self.vni {
            terms.push(format!("vni {v}"));
        }
        if let Some(v) = self.vlan {
            terms.push(format!("vlan {v}"));
        }
        if let Some(m) = self.mac {
            terms.push(format!("mac {m}"));
        }
        if let Some(h) = self.host {
            terms.push(format!("host {h}"));
        }
        match (self.proto, self.port) {
            (Some(p), Some(n)) => terms.push(format!("{} port {n}", p.name())),
            (Some(p), None) => terms.push(p.name().into()),
            (None, Some(n)) => terms.push(format!("port {n}")),
            (None, None) => {}
        }
        if terms.is_empty() {
            return write!(f, "any");
        }
        write!(f, "{}", terms.join(" and "))
    }
}

args!(
    /// A service by name (`service.del`).
    Name {
        /// The service.
        pub name: String,
    }
);

args!(
    /// `backend.add`.
    BackendAdd {
        /// The service.
        pub service: String,
        /// The backend.
        pub ip: Ipv4Addr,
        /// Share of new flows (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub weight: Option<u32>,
    }
);

args!(
    /// A backend of a service (`backend.del`, `backend.drain`).
    BackendRef {
        /// The service.
        pub service: String,
        /// The backend.
        pub ip: Ipv4Addr,
    }
);

args!(
    /// `backend.set`.
    BackendSet {
        /// The service.
        pub service: String,
        /// The backend.
        pub ip: Ipv4Addr,
        /// Its new weight.
        pub weight: u32,
    }
);

args!(
    /// Connection filters (all given must match): `conntrack.count`.
    CtFilter {
        /// Only this service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service: Option<String>,
        /// Only this client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client: Option<Ipv4Addr>,
        /// Only this backend.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub backend: Option<Ipv4Addr>,
        /// Only this state (`established`, `time_wait`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub state: Option<String>,
    }
);

args!(
    /// `conntrack.show`: filters and a limit.
    CtShow {
        /// Only this service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service: Option<String>,
        /// Only this client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client: Option<Ipv4Addr>,
        /// Only this backend.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub backend: Option<Ipv4Addr>,
        /// Only this state.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub state: Option<String>,
        /// At most this many connections (default 1000).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub limit: Option<usize>,
    }
);

args!(
    /// `conntrack.flush`: filters, or `all`.
    CtFlush {
        /// Only this service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service: Option<String>,
        /// Only this client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client: Option<Ipv4Addr>,
        /// Only this backend.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub backend: Option<Ipv4Addr>,
        /// Only this state.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub state: Option<String>,
        /// Every connection (no filter).
        #[serde(default, skip_serializing_if = "is_false")]
        pub all: bool,
    }
);

macro_rules! requests {
    ($($(#[$m:meta])* $variant:ident($args:ty) => $cmd:literal,)*) => {
        /// One request: the command (`cmd` on the wire) and its arguments (`args`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "cmd", content = "args")]
        pub enum Request {
            $($(#[$m])* #[serde(rename = $cmd)] $variant($args),)*
        }

        impl Request {
            /// Every command name, in the protocol's order.
            pub const COMMANDS: &'static [&'static str] = &[$($cmd,)*];

            /// The request `cmd` with arguments `args` (an object), the error with
            /// the path of the key it is about; `None` for an unknown command.
            fn from_args(
                cmd: &str,
                args: Value,
            ) -> Option<Result<Request, serde_path_to_error::Error<serde_json::Error>>> {
                Some(match cmd {
                    $($cmd => serde_path_to_error::deserialize(args).map(Request::$variant),)*
                    _ => return None,
                })
            }

            /// The command's name on the wire.
            pub fn cmd(&self) -> &'static str {
                match self { $(Request::$variant(_) => $cmd,)* }
            }
        }
    };
}

requests! {
    /// Ports, workers, uptime, generation.
    Status(NoArgs) => "status",
    /// Counters summed over the workers.
    Stats(NoArgs) => "stats",
    /// The FDB.
    FdbShow(FdbShow) => "fdb.show",
    /// Link and overlay neighbours.
    NeighShow(NoArgs) => "neigh.show",
    /// The running configuration as TOML.
    ConfigShow(NoArgs) => "config.show",
    /// Replace the running configuration.
    ConfigApply(ConfigApply) => "config.apply",
    /// VNIs.
    VniShow(MaybeId) => "vni.show",
    /// Add a VNI.
    VniAdd(VniAdd) => "vni.add",
    /// Delete a VNI.
    VniDel(Id) => "vni.del",
    /// Change a VNI's limits and gateway address.
    VniSet(VniSet) => "vni.set",
    /// Add a VTEP to a flood list.
    VniFloodAdd(IdIp) => "vni.flood.add",
    /// Remove a VTEP from a flood list.
    VniFloodDel(IdIp) => "vni.flood.del",
    /// Map an access (port, VLAN) into a VNI.
    VniAccessAdd(IdAccess) => "vni.access.add",
    /// Unmap it.
    VniAccessDel(IdAccess) => "vni.access.del",
    /// VTEPs.
    VtepShow(NoArgs) => "vtep.show",
    /// Add a VTEP.
    VtepAdd(Ip) => "vtep.add",
    /// Delete a VTEP.
    VtepDel(Ip) => "vtep.del",
    /// Add or re-point a static FDB entry.
    FdbAdd(FdbAdd) => "fdb.add",
    /// Delete a static entry or forget a learned one.
    FdbDel(VniMac) => "fdb.del",
    /// Flush entries.
    FdbFlush(FdbFlush) => "fdb.flush",
    /// Add or replace a static neighbour.
    NeighAdd(NeighAdd) => "neigh.add",
    /// Delete a static neighbour or forget a learned one.
    NeighDel(Ip) => "neigh.del",
    /// ARP suppression entries.
    ArpShow(MaybeVni) => "arp.show",
    /// Add or replace an ARP suppression entry.
    ArpAdd(ArpAdd) => "arp.add",
    /// Delete one.
    ArpDel(ArpDel) => "arp.del",
    /// Services.
    ServiceShow(MaybeName) => "service.show",
    /// Publish a port.
    ServiceAdd(ServiceAdd) => "service.add",
    /// Delete a service.
    ServiceDel(Name) => "service.del",
    /// Add a backend.
    BackendAdd(BackendAdd) => "backend.add",
    /// Remove a backend.
    BackendDel(BackendRef) => "backend.del",
    /// Change a backend's weight.
    BackendSet(BackendSet) => "backend.set",
    /// Drain a backend (weight 0).
    BackendDrain(BackendRef) => "backend.drain",
    /// List connections.
    ConntrackShow(CtShow) => "conntrack.show",
    /// Count connections.
    ConntrackCount(CtFilter) => "conntrack.count",
    /// Remove connections.
    ConntrackFlush(CtFlush) => "conntrack.flush",
    /// Run a packet through the pipeline against the live tables, changing nothing.
    TracePacket(TracePacket) => "trace.packet",
    /// Record the decisions of the next N packets the workers receive.
    TraceStart(TraceStart) => "trace.start",
    /// The live trace's state and the packets it recorded.
    TraceShow(NoArgs) => "trace.show",
    /// Stop the live trace (what it recorded stays).
    TraceStop(NoArgs) => "trace.stop",
}

impl Request {
    /// The request line a client sends (without the newline).
    pub fn to_line(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Value::Object(m) = &mut v {
            m.insert("v".into(), json!(PROTOCOL_VERSION));
        }
        v.to_string()
    }

    /// The arguments as the wire carries them (an object).
    pub fn args(&self) -> Value {
        serde_json::to_value(self)
            .ok()
            .and_then(|mut v| v.get_mut("args").map(Value::take))
            .unwrap_or_else(|| json!({}))
    }
}

/// Why a request was refused. `code()` is stable (scripts may match on it); the
/// message (`Display`) is for people and may be worded better over time.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The line is not JSON.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// The line is not UTF-8.
    #[error("request is not UTF-8")]
    NotUtf8,
    /// The line is longer than [`MAX_REQUEST`].
    #[error("request larger than {MAX_REQUEST} bytes")]
    TooLarge,
    /// The request's shape is wrong (not an object, no `v`, no `cmd`, ...).
    #[error("{0}")]
    BadRequest(String),
    /// Another protocol version.
    #[error("unsupported protocol version {0} (this vxgw speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u64),
    /// No such command.
    #[error("unknown command '{0}' (known: {known})", known = Request::COMMANDS.join(", "))]
    UnknownCommand(String),
    /// The arguments do not fit the command (unknown or missing key, wrong type or
    /// syntax).
    #[error("{cmd}: {msg}")]
    InvalidArguments {
        /// The command.
        cmd: String,
        /// What is wrong, naming the key.
        msg: String,
    },
    /// A value that parsed but is not acceptable (e.g. a MAC's syntax).
    #[error("{0}")]
    InvalidValue(String),
    /// The configuration the request would make does not validate: every problem,
    /// each with its location (`vni[0].flood[1]: 172.30.0.99 is not a configured
    /// [[vtep]]`). Nothing changed.
    #[error("{}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// What the request names does not exist (`unknown VNI 4097`).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the running configuration (already exists, still
    /// in use, ports fixed while running).
    #[error("{0}")]
    Conflict(String),
    /// The change was valid but could not be carried out (a table full, the state
    /// file not written); nothing changed.
    #[error("{0}")]
    Failed(String),
    /// Every control slot is taken.
    #[error("too many clients")]
    TooManyClients,
    /// The peer may not use the socket.
    #[error("{0}")]
    PermissionDenied(String),
    /// The client sent nothing for too long.
    #[error("idle for {0} s; connection closed")]
    Idle(u64),
    /// The client was idle while a newcomer needed its slot.
    #[error("closed: idle while every control slot was taken")]
    Evicted,
}

impl ApiError {
    /// The stable code of the error (`"code"` in the reply).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::NotUtf8 => "not_utf8",
            ApiError::TooLarge => "too_large",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnsupportedVersion(_) => "unsupported_version",
            ApiError::UnknownCommand(_) => "unknown_command",
            ApiError::InvalidArguments { .. } => "invalid_arguments",
            ApiError::InvalidValue(_) => "invalid_value",
            ApiError::InvalidConfig(_) => "invalid_config",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Failed(_) => "failed",
            ApiError::TooManyClients => "too_many_clients",
            ApiError::PermissionDenied(_) => "permission_denied",
            ApiError::Idle(_) => "idle_timeout",
            ApiError::Evicted => "evicted",
        }
    }

    /// The reply line's JSON.
    pub fn to_reply(&self) -> Value {
        json!({"ok": false, "error": self.to_string(), "code": self.code()})
    }
}

/// The reply to a request: `{"ok":true,"result":...}` or
/// `{"ok":false,"error":"...","code":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Success.
    pub ok: bool,
    /// The result, when `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// The reason, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's stable code, when not `ok` (absent from older servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Reply {
    /// The reply for a result.
    pub fn from_result(r: Result<Value, ApiError>) -> Value {
        match r {
            Ok(result) => json!({"ok": true, "result": result}),
            Err(e) => e.to_reply(),
        }
    }
}

/// What a change answers: the generation published, one line per difference, how
/// long until every worker had it, what went with it, where it was saved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeOutcome {
    /// Generation of the published snapshot.
    pub generation: u64,
    /// One line per difference.
    #[serde(default)]
    pub changes: Vec<String>,
    /// Microseconds until no worker held the previous snapshot (null: nothing was
    /// published, or the grace period timed out).
    #[serde(default)]
    pub in_effect_us: Option<u64>,
    /// FDB entries removed as a consequence.
    #[serde(default)]
    pub fdb_removed: usize,
    /// Connections removed with a service or backend.
    #[serde(default)]
    pub connections_removed: usize,
    /// The state file written (null: not saved, or nothing changed).
    #[serde(default)]
    pub saved: Option<String>,
    /// What `fdb.del` or `neigh.del` removed (absent for other commands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Removed>,
    /// Learned entries flushed (`fdb.flush`; absent for other commands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flushed: Option<usize>,
}

/// What a delete removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Removed {
    /// A configured entry (the running configuration changed).
    Static,
    /// A learned entry, forgotten (it may be learned again).
    Dynamic,
}

/// Parses one request line (without its newline): the envelope (`v`, `cmd`,
/// `args`; nothing else), then the command's arguments, strictly.
pub fn parse_request(line: &str) -> Result<Request, ApiError> {
    let req: Value =
        serde_json::from_str(line).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let Value::Object(mut obj) = req else {
        return Err(ApiError::BadRequest("a request is a JSON object".into()));
    };
    match obj.get("v") {
        Some(v) if v.as_u64() == Some(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(match v.as_u64() {
                Some(n) => ApiError::UnsupportedVersion(n),
                None => ApiError::BadRequest(format!(
                    "\"v\" must be the protocol version {PROTOCOL_VERSION}, not {v}"
                )),
            })
        }
        None => {
            return Err(ApiError::BadRequest(
                "missing protocol version \"v\"".into(),
            ))
        }
    }
    let cmd = match obj.remove("cmd") {
        Some(Value::String(c)) => c,
        _ => return Err(ApiError::BadRequest("missing \"cmd\"".into())),
    };
    let args = match obj.remove("args") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Err(ApiError::BadRequest("\"args\" must be an object".into())),
    };
    if let Some(k) = obj.keys().find(|k| *k != "v") {
        return Err(ApiError::BadRequest(format!(
            "unknown key `{k}` in the request (expected `v`, `cmd`, `args`)"
        )));
    }
    // The error names the key it is about (`client: invalid type: ...`), however
    // deep (`access[1].vlan: ...`): serde's own message names only unknown and
    // missing keys.
    let Some(res) = Request::from_args(&cmd, args) else {
        return Err(ApiError::UnknownCommand(cmd));
    };
    res.map_err(|e| {
        let mut segments: Vec<String> = e
            .path()
            .iter()
            .map(|s| match s {
                serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
                serde_path_to_error::Segment::Map { key } => format!(".{key}"),
                serde_path_to_error::Segment::Enum { variant } => format!(".{variant}"),
                serde_path_to_error::Segment::Unknown => String::new(),
            })
            .collect();
        let inner = e.into_inner().to_string();
        if inner.starts_with("unknown field") {
            // The path ends with the unknown key itself, which the message names.
            segments.pop();
        }
        let path = segments.concat();
        let path = path.trim_start_matches('.');
        let msg = if path.is_empty() {
            inner
        } else {
            format!("{path}: {inner}")
        };
        ApiError::InvalidArguments { cmd, msg }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> ApiError {
        parse_request(line).unwrap_err()
    }

    #[test]
    fn requests_round_trip_and_omit_what_is_not_given() {
        let r = Request::FdbAdd(FdbAdd {
            vni: 5000,
            mac: "02:00:00:00:00:01".parse().unwrap(),
            vtep: None,
            port: Some("p1".into()),
            vlan: Some(3),
        });
        let line = r.to_line();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({"v": 1, "cmd": "fdb.add", "args": {"vni": 5000, "mac": "02:00:00:00:00:01", "port": "p1", "vlan": 3}})
        );
        assert_eq!(parse_request(&line).unwrap(), r);
        let set = Request::VniSet(VniSet {
            id: 7,
            learn_limit: Some(None),
            ageing_secs: None,
            gateway_ip: Some(None),
        });
        assert_eq!(
            set.args(),
            json!({"id": 7, "learn_limit": null, "gateway_ip": null})
        );
        assert_eq!(parse_request(&set.to_line()).unwrap(), set);
        assert_eq!(Request::Status(NoArgs {}).args(), json!({}));
    }

    #[test]
    fn every_command_parses_without_args_or_names_what_is_missing() {
        for cmd in Request::COMMANDS {
            for args in ["", ",\"args\":null", ",\"args\":{}"] {
                match parse_request(&format!("{{\"v\":1,\"cmd\":\"{cmd}\"{args}}}")) {
                    Ok(r) => assert_eq!(r.cmd(), *cmd),
                    Err(ApiError::InvalidArguments { cmd: c, msg }) => {
                        assert_eq!(c, *cmd);
                        assert!(msg.contains("missing field `"), "{cmd}: {msg}");
                    }
                    Err(e) => panic!("{cmd}: {e}"),
                }
            }
        }
    }

    #[test]
    fn unknown_keys_are_errors_everywhere() {
        for cmd in Request::COMMANDS {
            let e = err(&format!(
                "{{\"v\":1,\"cmd\":\"{cmd}\",\"args\":{{\"bogus\":1}}}}"
            ));
            assert_eq!(e.code(), "invalid_arguments", "{cmd}: {e}");
            assert!(e.to_string().contains("`bogus`"), "{cmd}: {e}");
        }
        let e = err(r#"{"v":1,"cmd":"fdb.show","args":{"vni":4096,"foo":1}}"#);
        assert_eq!(
            e.to_string(),
            "fdb.show: unknown field `foo`, expected `vni` or `mac`"
        );
        let e = err(r#"{"v":1,"cmd":"status","extra":1}"#);
        assert_eq!(e.code(), "bad_request");
    }

    #[test]
    fn envelope_errors_keep_their_words() {
        for (line, want, code) in [
            ("{\"v\":1,", "malformed JSON", "malformed_json"),
            ("[1,2]", "a request is a JSON object", "bad_request"),
            (
                r#"{"v":2,"cmd":"status"}"#,
                "unsupported protocol version 2",
                "unsupported_version",
            ),
            (
                r#"{"cmd":"status"}"#,
                "missing protocol version",
                "bad_request",
            ),
            (r#"{"v":1}"#, "missing \"cmd\"", "bad_request"),
            (
                r#"{"v":1,"cmd":"vni.add","args":[5000]}"#,
                "\"args\" must be an object",
                "bad_request",
            ),
            (
                r#"{"v":1,"cmd":"vni.frobnicate"}"#,
                "unknown command 'vni.frobnicate'",
                "unknown_command",
            ),
            (
                r#"{"v":1,"cmd":"fdb.add","args":{"vni":4096,"mac":"zz","vtep":"172.30.0.11"}}"#,
                "invalid MAC address 'zz'",
                "invalid_arguments",
            ),
            (
                r#"{"v":1,"cmd":"vtep.add","args":{}}"#,
                "missing field `ip`",
                "invalid_arguments",
            ),
        ] {
            let e = err(line);
            assert!(e.to_string().contains(want), "{line}: {e}");
            assert_eq!(e.code(), code, "{line}");
        }
    }

    #[test]
    fn type_errors_name_the_key() {
        let e = err(r#"{"v":1,"cmd":"conntrack.show","args":{"client":[]}}"#);
        assert!(
            e.to_string()
                .starts_with("conntrack.show: client: invalid type"),
            "{e}"
        );
        let e = err(
            r#"{"v":1,"cmd":"vni.add","args":{"id":5,"access":[{"port":"p"},{"port":"p","vlan":-1}]}}"#,
        );
        assert!(
            e.to_string()
                .starts_with("vni.add: access[1].vlan: invalid value"),
            "{e}"
        );
        let e = err(
            r#"{"v":1,"cmd":"vni.add","args":{"id":5,"arp":[{"ip":"1.2.3.4","mac":"02:00:00:00:00:01","x":1}]}}"#,
        );
        assert_eq!(
            e.to_string(),
            "vni.add: arp[0]: unknown field `x`, expected `ip` or `mac`"
        );
    }

    #[test]
    fn macs_parse_strictly() {
        assert_eq!(
            "02-42-0A-ff-00-0b".parse::<Mac>().unwrap().to_string(),
            "02:42:0a:ff:00:0b"
        );
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:00:00",
            "zz:00:00:00:00:00",
            "2:0:0:0:0:0",
            "+2:00:00:00:00:00",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn trace_filters_read_like_tcpdump_and_write_back_the_same() {
        let f: TraceFilter = "vni 4097 and host 10.0.1.5 and tcp port 80"
            .parse()
            .unwrap();
        assert_eq!(f.vni, Some(4097));
        assert_eq!(f.host, Some(Ipv4Addr::new(10, 0, 1, 5)));
        assert_eq!((f.proto, f.port), (Some(TraceProto::Tcp), Some(80)));
        assert_eq!(f.to_string(), "vni 4097 and host 10.0.1.5 and tcp port 80");
        let g: TraceFilter = "mac 02:42:0a:00:01:05 vlan 100 arp".parse().unwrap();
        assert_eq!(g.to_string().parse::<TraceFilter>().unwrap(), g);
        assert_eq!("".parse::<TraceFilter>().unwrap().to_string(), "any");
        // The request carries it typed, and refuses a field it does not know.
        let req = Request::TraceStart(TraceStart {
            count: 5,
            port: None,
            filter: Some(f.clone()),
        });
        assert_eq!(parse_request(&req.to_line()).unwrap(), req);
        assert!(matches!(
            err(r#"{"v":1,"cmd":"trace.start","args":{"count":5,"filter":{"ip":"10.0.0.1"}}}"#),
            ApiError::InvalidArguments { .. }
        ));
        for bad in [
            "vni 16777216",
            "vlan 4096",
            "port 65536",
            "host 10.0.0",
            "mac 02:42",
            "tcp udp",
            "vni 1 vni 2",
            "port",
            "src 10.0.0.1",
        ] {
            assert!(bad.parse::<TraceFilter>().is_err(), "{bad}");
        }
    }
}
