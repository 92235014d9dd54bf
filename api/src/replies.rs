//! What each command answers (`result` of an `ok` reply), typed: the gateway builds
//! these, vxgwctl reads them. Requests are strict (unknown keys are errors); replies
//! are read tolerantly (a newer vxgw may add keys, an older one may lack some), so
//! every field a client reads has a default.
//!
//! The JSON each type writes is protocol version 1 as it was before the types
//! existed: same keys, `null` where a value is absent.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ChangeOutcome, Mac, Mode, Proto, Request};

/// `status`: the gateway, its workers and ports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// vxgw's version.
    pub version: String,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Worker lcores.
    pub workers: Vec<u32>,
    /// Started ports.
    pub ports: Vec<PortStatus>,
    /// Generation of the published configuration.
    pub generation: u64,
    /// Where the configuration is saved (null: it is not).
    pub state_file: Option<String>,
}

/// One started port in [`Status`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortStatus {
    /// DPDK port id.
    pub id: u16,
    /// Name in the configuration.
    pub name: String,
    /// Its MAC address.
    pub mac: Mac,
    /// Link up.
    #[serde(default)]
    pub link_up: bool,
    /// MTU.
    pub mtu: u32,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Packets the NIC dropped for lack of room.
    pub rx_missed: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Receive-side scaling, as the device reports it (absent: the port does not
    /// hash, with one queue or a device without RSS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss: Option<RssStatus>,
}

/// A port's receive-side scaling in [`PortStatus`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RssStatus {
    /// The hash types, by DPDK's names (`ipv4`, `ipv4-tcp`, `ipv4-udp`, ...).
    pub fields: Vec<String>,
    /// The Toeplitz key, in hex.
    pub key: String,
    /// The redirection table: entry i is the rx queue (the worker) of the packets
    /// whose hash is i modulo its length.
    pub reta: Vec<u16>,
}

/// `stats`: the workers' counters summed (drops and events by name, zeros left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Cycles spent on busy polls, per packet received.
    pub busy_cycles_per_packet: f64,
    /// Each worker's own.
    pub workers: Vec<WorkerStats>,
    /// Drops by reason (`DropReason` names).
    pub drops: BTreeMap<String, u64>,
    /// Events by name.
    pub events: BTreeMap<String, u64>,
    /// Entries in the FDB.
    pub fdb_entries: usize,
}

/// One worker in [`Stats`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Polls.
    pub polls: u64,
    /// Polls that received something.
    pub busy_polls: u64,
    /// Cycles spent on busy polls, per packet received.
    pub busy_cycles_per_packet: f64,
}

/// Where an FDB entry sends its frames: on the wire, `kind` names the variant and
/// `dest` holds it (a VTEP's address, or an access port and VLAN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "dest", rename_all = "lowercase")]
pub enum FdbDestination {
    /// A remote VTEP.
    Vtep(Ipv4Addr),
    /// An access port, with the VLAN the VNI has there (0: untagged).
    Access {
        /// The port's name.
        port: String,
        /// The VLAN.
        vlan: u16,
    },
}

/// One `fdb.show` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FdbRow {
    /// Its VNI.
    pub vni: u32,
    /// The MAC.
    pub mac: Mac,
    /// Where it goes.
    #[serde(flatten)]
    pub destination: FdbDestination,
    /// Configured, not learned.
    #[serde(rename = "static", default)]
    pub is_static: bool,
    /// Seconds since it was last learned.
    #[serde(default)]
    pub age_s: u32,
}

/// The table a neighbour is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeighTable {
    /// A link's (underlay next hops, external clients and gateway).
    #[default]
    Link,
    /// An overlay's (backends, learned by ARP in a VNI).
    Overlay,
}

/// One `neigh.show` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighbourRow {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its MAC (null: not resolved).
    #[serde(default)]
    pub mac: Option<Mac>,
    /// Configured, not learned.
    #[serde(rename = "static", default)]
    pub is_static: bool,
    /// Seconds since it was last updated.
    #[serde(default)]
    pub age_s: u32,
    /// Which table.
    #[serde(default)]
    pub table: NeighTable,
    /// The VNI of an overlay neighbour (null on links).
    #[serde(default)]
    pub vni: Option<u32>,
}

/// An access member: a port and a VLAN (0: untagged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessMember {
    /// The port's name.
    pub port: String,
    /// The VLAN.
    pub vlan: u16,
}

/// An ARP suppression entry of a VNI (in [`VniRow`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArpEntryRow {
    /// The address.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: Mac,
}

/// One `vni.show` entry: the configuration (defaults filled in) and the FDB's use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VniRow {
    /// The VNI.
    pub id: u32,
    /// Its flood list.
    pub flood: Vec<Ipv4Addr>,
    /// Its access members.
    pub access: Vec<AccessMember>,
    /// Learned MACs allowed.
    pub learn_limit: u32,
    /// Seconds a learned MAC lives unseen.
    pub ageing_secs: u32,
    /// vxgw's address in the overlay (null: none).
    pub gateway_ip: Option<Ipv4Addr>,
    /// ARP suppression entries.
    pub arp: Vec<ArpEntryRow>,
    /// FDB entries.
    pub fdb_entries: usize,
    /// Of which learned.
    pub fdb_learned: usize,
    /// Who manages it (none: the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

/// One `vtep.show` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VtepRow {
    /// The VTEP.
    pub ip: Ipv4Addr,
    /// The underlay next hop towards it.
    pub next_hop: Ipv4Addr,
    /// The next hop's MAC (null: not resolved).
    #[serde(default)]
    pub next_hop_mac: Option<Mac>,
    /// VNIs whose flood list has it.
    #[serde(default)]
    pub flood_vnis: Vec<u32>,
    /// Static FDB entries pointing at it.
    #[serde(default)]
    pub static_fdb: usize,
}

/// One `arp.show` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArpRow {
    /// Its VNI.
    pub vni: u32,
    /// The address.
    pub ip: Ipv4Addr,
    /// Its MAC.
    pub mac: Mac,
}

/// `config.show`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigShown {
    /// The running configuration as a startup file.
    pub toml: String,
    /// Its generation.
    pub generation: u64,
    /// Where it is saved (null: it is not).
    pub state_file: Option<String>,
}

/// A service's timeouts as configured (null: the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimeoutsShown {
    /// TCP handshake.
    pub syn: Option<u32>,
    /// TCP established.
    pub established: Option<u32>,
    /// TCP closing.
    pub closing: Option<u32>,
    /// UDP before a reply.
    pub udp: Option<u32>,
    /// UDP after a reply.
    pub udp_replied: Option<u32>,
}

/// Whether a backend takes new connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendState {
    /// Weight above 0.
    #[default]
    Active,
    /// Weight 0: its connections go on, no new ones.
    Drained,
}

/// A backend in [`ServiceRow`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendRow {
    /// Its address in the service's VNI.
    pub ip: Ipv4Addr,
    /// Its share of new connections.
    pub weight: u32,
    /// Active or drained.
    #[serde(default)]
    pub state: BackendState,
    /// Connections to it.
    #[serde(default)]
    pub connections: usize,
}

/// One `service.show` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRow {
    /// Its name.
    pub name: String,
    /// Its id in the published configuration (null: not published yet).
    #[serde(default)]
    pub id: Option<u32>,
    /// tcp or udp.
    pub protocol: Proto,
    /// Its external address (null: any of the external port's).
    #[serde(default)]
    pub published_ip: Option<Ipv4Addr>,
    /// Its external port.
    pub published_port: u16,
    /// The backends' VNI.
    pub vni: u32,
    /// vxgw's endpoint in that VNI.
    pub ingress_ip: Ipv4Addr,
    /// The port on the backends.
    pub target_port: u16,
    /// snat or preserve.
    pub mode: Mode,
    /// Maglev table size.
    #[serde(default)]
    pub maglev_size: u32,
    /// Flood guard: new connections a second (null: no limit).
    #[serde(default)]
    pub new_connection_rate: Option<u32>,
    /// Connection timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsShown,
    /// The backends.
    #[serde(default)]
    pub backends: Vec<BackendRow>,
    /// Connections to the service.
    #[serde(default)]
    pub connections: usize,
    /// Who manages it (none: the operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

/// A connection's service: its name, or its id when the name is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ServiceRef {
    /// By name.
    Name(String),
    /// By id (the service was removed or replaced).
    Id(u32),
}

/// One `conntrack.show` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRow {
    /// tcp, udp, or the IP protocol number.
    pub proto: String,
    /// The client.
    pub client: SocketAddrV4,
    /// The published address it connected to.
    pub published: SocketAddrV4,
    /// The backend.
    pub backend: SocketAddrV4,
    /// The source the backend sees (null: the client's, `preserve`).
    #[serde(default)]
    pub snat: Option<SocketAddrV4>,
    /// Its service.
    pub service: ServiceRef,
    /// Its state.
    pub state: String,
    /// The backend has answered.
    #[serde(default)]
    pub assured: bool,
    /// Seconds since a packet was seen.
    #[serde(default)]
    pub idle_s: u32,
    /// The worker that owns it.
    #[serde(default)]
    pub owner: u16,
}

/// `conntrack.count`: the connections selected, by state, and the table's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionCount {
    /// Connections selected.
    pub count: usize,
    /// Of which in each state (every state, zeros included).
    pub states: BTreeMap<String, u64>,
    /// Entries the table holds at most.
    pub capacity: usize,
    /// Connections created.
    pub created: u64,
    /// Expired.
    pub expired: u64,
    /// Evicted.
    pub evicted: u64,
    /// Of which unassured, evicted early.
    pub early_evicted: u64,
    /// Assured now.
    pub assured: u64,
    /// Unassured now.
    pub unassured: u64,
    /// Refused, the table full.
    pub refused: u64,
    /// Removed by the control plane.
    pub removed: u64,
}

/// `conntrack.flush`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionsRemoved {
    /// Connections removed.
    pub removed: usize,
}

/// `trace.packet`: the steps a packet took through the pipeline (run against the
/// live tables, changing none of them), and the verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceReport {
    /// The port it came in on.
    pub port: String,
    /// The decision points it passed, in order.
    pub steps: Vec<TraceStep>,
    /// What the pipeline decided, in words.
    pub verdict: String,
    /// The drop counter it would count, when dropped (`unknown_vtep`, ...).
    pub drop_reason: Option<String>,
    /// Where it would go: one line per copy (VTEP and next hop, access port and
    /// VLAN, the client's next hop), for a forwarded or flooded packet.
    pub out: Vec<String>,
}

/// The live trace: its state and the packets the workers recorded, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveTraceReport {
    /// Still recording.
    pub armed: bool,
    /// The port traced (none: any).
    pub port: Option<String>,
    /// Packets asked for.
    pub requested: u32,
    /// Only packets this filter matches (none: every packet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<crate::TraceFilter>,
    /// The packets recorded so far.
    pub packets: Vec<LivePacket>,
}

/// One packet of a [`LiveTraceReport`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LivePacket {
    /// The worker that received it.
    pub worker: u16,
    /// Its rx port.
    pub port: String,
    /// Microseconds after the first packet recorded.
    pub t_us: u64,
    /// Its length in bytes.
    pub len: usize,
    /// Its headers in one line (a VXLAN frame's inner ones too).
    pub headers: String,
    /// The decision points it passed.
    pub steps: Vec<TraceStep>,
    /// What the pipeline decided.
    pub verdict: String,
    /// The drop counter counted, when dropped.
    pub drop_reason: Option<String>,
}

/// One decision point of a [`TraceReport`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceStep {
    /// The decision point (`port`, `vxlan`, `access`, `learn`, `fdb`, `local`,
    /// `service`, `conntrack`, `maglev`, `new-connection`, `translate`).
    pub step: String,
    /// What it found.
    pub detail: String,
}

/// A request's answer, typed by the command that asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// `status`.
    Status(Status),
    /// `stats`.
    Stats(Stats),
    /// `fdb.show`.
    Fdb(Vec<FdbRow>),
    /// `neigh.show`.
    Neighbours(Vec<NeighbourRow>),
    /// `config.show`.
    Config(ConfigShown),
    /// `vni.show`.
    Vnis(Vec<VniRow>),
    /// `vtep.show`.
    Vteps(Vec<VtepRow>),
    /// `arp.show`.
    Arp(Vec<ArpRow>),
    /// `service.show`.
    Services(Vec<ServiceRow>),
    /// `conntrack.show`.
    Connections(Vec<ConnectionRow>),
    /// `conntrack.count`.
    ConnectionCount(ConnectionCount),
    /// `conntrack.flush`.
    ConnectionsRemoved(ConnectionsRemoved),
    /// `trace.packet`.
    Trace(TraceReport),
    /// `trace.start`, `trace.show`, `trace.stop`.
    LiveTrace(LiveTraceReport),
    /// Every command that changes the configuration or a table.
    Change(ChangeOutcome),
}

impl Answer {
    /// The answer as the wire carries it (`result`).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Reads the `result` of an `ok` reply to `req`.
    pub fn decode(req: &Request, result: Value) -> Result<Answer, serde_json::Error> {
        use serde_json::from_value as from;
        Ok(match req {
            Request::Status(_) => Answer::Status(from(result)?),
            Request::Stats(_) => Answer::Stats(from(result)?),
            Request::FdbShow(_) => Answer::Fdb(from(result)?),
            Request::NeighShow(_) => Answer::Neighbours(from(result)?),
            Request::ConfigShow(_) => Answer::Config(from(result)?),
            Request::VniShow(_) => Answer::Vnis(from(result)?),
            Request::VtepShow(_) => Answer::Vteps(from(result)?),
            Request::ArpShow(_) => Answer::Arp(from(result)?),
            Request::ServiceShow(_) => Answer::Services(from(result)?),
            Request::ConntrackShow(_) => Answer::Connections(from(result)?),
            Request::ConntrackCount(_) => Answer::ConnectionCount(from(result)?),
            Request::ConntrackFlush(_) => Answer::ConnectionsRemoved(from(result)?),
            Request::TracePacket(_) => Answer::Trace(from(result)?),
            Request::TraceStart(_) | Request::TraceShow(_) | Request::TraceStop(_) => {
                Answer::LiveTrace(from(result)?)
            }
            _ => Answer::Change(from(result)?),
        })
    }
}

/// The enums' names as the wire writes them (`tcp`, `snat`, `drained`, `overlay`).
macro_rules! display_as_wire {
    ($($t:ty { $($v:ident => $name:literal),* })*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self { $(Self::$v => $name),* })
            }
        }
    )*};
}

display_as_wire! {
    Proto { Tcp => "tcp", Udp => "udp" }
    Mode { Snat => "snat", Preserve => "preserve" }
    BackendState { Active => "active", Drained => "drained" }
    NeighTable { Link => "link", Overlay => "overlay" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FdbShow, MaybeName, NoArgs};
    use serde_json::json;

    /// The JSON as the gateway wrote it before the reply types existed (keys, nulls,
    /// nesting): each reads into its type and is written back the same.
    #[test]
    fn replies_keep_the_wire_of_protocol_version_1() {
        let cases = [
            (
                Request::FdbShow(FdbShow {
                    vni: None,
                    mac: None,
                }),
                json!([
                    {"vni": 4096, "mac": "02:42:0a:ff:00:0b", "kind": "vtep", "dest": "172.30.0.11", "static": false, "age_s": 3},
                    {"vni": 5000, "mac": "02:00:00:00:00:01", "kind": "access", "dest": {"port": "p1", "vlan": 200}, "static": true, "age_s": 0}
                ]),
            ),
            (
                Request::NeighShow(NoArgs {}),
                json!([
                    {"ip": "172.30.0.11", "mac": "02:00:00:00:11:11", "static": false, "age_s": 1, "table": "link", "vni": null},
                    {"ip": "10.255.0.11", "mac": null, "static": false, "age_s": 0, "table": "overlay", "vni": 4096}
                ]),
            ),
            (
                Request::ServiceShow(MaybeName { name: None }),
                json!([{"name": "web", "id": 0, "protocol": "tcp", "published_ip": null, "published_port": 80,
                        "vni": 4096, "ingress_ip": "10.255.0.2", "target_port": 8080, "mode": "snat",
                        "maglev_size": 65537, "new_connection_rate": null,
                        "timeouts": {"syn": 600, "established": null, "closing": null, "udp": null, "udp_replied": null},
                        "backends": [{"ip": "10.255.0.11", "weight": 0, "state": "drained", "connections": 2}],
                        "connections": 2}]),
            ),
            (
                Request::ConntrackShow(crate::CtShow {
                    service: None,
                    client: None,
                    backend: None,
                    state: None,
                    limit: None,
                }),
                json!([{"proto": "tcp", "client": "192.0.2.1:40000", "published": "172.31.0.1:80",
                        "backend": "10.255.0.11:8080", "snat": "10.255.0.2:1024", "service": "web",
                        "state": "established", "assured": true, "idle_s": 4, "owner": 1},
                       {"proto": "47", "client": "192.0.2.1:0", "published": "172.31.0.1:0",
                        "backend": "10.255.0.11:0", "snat": null, "service": 3,
                        "state": "syn_sent", "assured": false, "idle_s": 0, "owner": 0}]),
            ),
            (
                Request::FdbDel(crate::VniMac {
                    vni: 1,
                    mac: Mac([2, 0, 0, 0, 0, 1]),
                }),
                json!({"generation": 4, "changes": [], "in_effect_us": null, "fdb_removed": 0,
                       "connections_removed": 0, "saved": null, "removed": "dynamic"}),
            ),
        ];
        for (req, wire) in cases {
            let a = Answer::decode(&req, wire.clone()).unwrap();
            assert_eq!(a.to_value(), wire, "{}", req.cmd());
        }
    }

    #[test]
    fn replies_are_read_tolerantly_and_wrong_shapes_are_errors() {
        // A newer vxgw's extra key, an older one's missing counters.
        let s = Answer::decode(
            &Request::Stats(NoArgs {}),
            json!({"rx_packets": 5, "drops": {"malformed_ipv4": 2}, "new_thing": 1}),
        )
        .unwrap();
        let Answer::Stats(s) = s else { panic!("{s:?}") };
        assert_eq!((s.rx_packets, s.tx_packets), (5, 0));
        assert_eq!(s.drops["malformed_ipv4"], 2);
        // What is not the command's answer is refused, not misread.
        assert!(Answer::decode(
            &Request::FdbShow(FdbShow {
                vni: None,
                mac: None
            }),
            json!({"x": 1})
        )
        .is_err());
        assert!(Answer::decode(
            &Request::FdbShow(FdbShow {
                vni: None,
                mac: None
            }),
            json!([{"vni": 1, "mac": "zz", "kind": "vtep", "dest": "1.2.3.4"}])
        )
        .is_err());
        assert!(Answer::decode(
            &Request::FdbShow(FdbShow {
                vni: None,
                mac: None
            }),
            json!([{"vni": 1, "mac": "02:00:00:00:00:01", "kind": "tunnel", "dest": "1.2.3.4"}])
        )
        .is_err());
    }

    #[test]
    fn enums_display_as_the_wire_names_them() {
        for (shown, wire) in [
            (Proto::Udp.to_string(), json!(Proto::Udp)),
            (Mode::Preserve.to_string(), json!(Mode::Preserve)),
            (
                BackendState::Drained.to_string(),
                json!(BackendState::Drained),
            ),
            (NeighTable::Overlay.to_string(), json!(NeighTable::Overlay)),
        ] {
            assert_eq!(json!(shown), wire);
        }
    }
}
