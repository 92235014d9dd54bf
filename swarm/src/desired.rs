//! What vxgw should hold for a swarm: per served overlay network a VNI (its peers as
//! flood list and VTEPs, vxgw's gateway address), a static FDB entry and an ARP
//! suppression entry per task running in it, and a vxgw service per port a swarm
//! service publishes (label `vxgw.publish`), its running tasks as backends and its
//! stopping ones drained.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use vxgw_api::{Mac, Mode, Proto};

use crate::model::{task_mac, Swarm, TaskPhase};

/// A network vxgw serves, from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The swarm network's name.
    pub network: String,
    /// vxgw's address in it: the source of SNATed connections to its tasks.
    pub ingress_ip: Ipv4Addr,
    /// vxgw's gateway address in it (what preserve-mode tasks route clients via).
    pub gateway_ip: Option<Ipv4Addr>,
}

/// How vxgw-swarm maps the swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The networks vxgw serves: it owns their VNIs and everything in them.
    pub served: Vec<Served>,
    /// The external address published ports are reached on (None: any of vxgw's).
    pub published_ip: Option<Ipv4Addr>,
    /// SNAT (Swarm's routing mesh) or preserve (the client's address kept).
    pub mode: Mode,
}

/// One VNI's share of vxgw's tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VniState {
    /// Flood list.
    pub flood: BTreeSet<Ipv4Addr>,
    /// vxgw's gateway address.
    pub gateway_ip: Option<Ipv4Addr>,
    /// Static FDB: MAC -> VTEP.
    pub fdb: BTreeMap<Mac, Ipv4Addr>,
    /// ARP suppression: IP -> MAC.
    pub arp: BTreeMap<Ipv4Addr, Mac>,
}

/// A vxgw service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState {
    /// tcp or udp.
    pub proto: Proto,
    /// External address.
    pub published_ip: Option<Ipv4Addr>,
    /// External port.
    pub port: u16,
    /// The tasks' port.
    pub target: u16,
    /// The VNI of its tasks.
    pub vni: u32,
    /// vxgw's address there.
    pub ingress_ip: Ipv4Addr,
    /// NAT mode.
    pub mode: Mode,
    /// Backends: address -> weight (0: drained).
    pub backends: BTreeMap<Ipv4Addr, u32>,
}

/// vxgw's tables as far as the swarm owns them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// VTEPs the swarm's VNIs use.
    pub vteps: BTreeSet<Ipv4Addr>,
    /// The served VNIs.
    pub vnis: BTreeMap<u32, VniState>,
    /// Services by vxgw name.
    pub services: BTreeMap<String, ServiceState>,
}

/// vxgw's name for a service's published port: `web-tcp-80`.
pub fn service_name(service: &str, proto: Proto, port: u16) -> String {
    let p = match proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    format!("{service}-{p}-{port}")
}

/// What vxgw should hold for `swarm`. Networks not in the swarm (yet) get no VNI;
/// a service whose network vxgw does not serve is skipped (and said so in
/// `warnings`).
pub fn desired(swarm: &Swarm, opts: &Options) -> (State, Vec<String>) {
    let mut st = State::default();
    let mut warnings = Vec::new();
    // Served network id -> (VNI, served).
    let mut served = BTreeMap::new();
    for s in &opts.served {
        let Some(n) = swarm.networks.iter().find(|n| n.name == s.network) else {
            warnings.push(format!("network {}: not in the swarm", s.network));
            continue;
        };
        let v = st.vnis.entry(n.vni).or_default();
        v.flood.extend(n.peers.iter().copied());
        v.gateway_ip = s.gateway_ip;
        st.vteps.extend(n.peers.iter().copied());
        served.insert(n.id.clone(), (n.vni, s));
    }
    for t in &swarm.tasks {
        if t.phase == TaskPhase::Gone {
            continue;
        }
        let Some(node) = t.node_addr else { continue };
        for (net, ip) in &t.addresses {
            if let Some((vni, _)) = served.get(net) {
                let v = st.vnis.get_mut(vni).expect("made above");
                v.fdb.insert(task_mac(*ip), node);
                v.arp.insert(*ip, task_mac(*ip));
                // A node that runs a task takes part, whatever Peers said.
                v.flood.insert(node);
                st.vteps.insert(node);
            }
        }
    }
    for svc in &swarm.services {
        if svc.publish.is_empty() {
            continue;
        }
        let net = svc.networks.iter().find_map(|id| {
            let (vni, s) = served.get(id)?;
            svc.network_label
                .as_deref()
                .is_none_or(|want| s.network == want)
                .then(|| (id.clone(), *vni, *s))
        });
        let Some((net_id, vni, s)) = net else {
            warnings.push(format!("service {}: in no network vxgw serves", svc.name));
            continue;
        };
        let mut backends = BTreeMap::new();
        for t in swarm.tasks.iter().filter(|t| t.service_id == svc.id) {
            let w = match t.phase {
                TaskPhase::Running => 1,
                TaskPhase::Stopping => 0,
                TaskPhase::Gone => continue,
            };
            for (net, ip) in &t.addresses {
                if *net == net_id {
                    backends.insert(*ip, w);
                }
            }
        }
        for p in &svc.publish {
            st.services.insert(
                service_name(&svc.name, p.proto, p.port),
                ServiceState {
                    proto: p.proto,
                    published_ip: opts.published_ip,
                    port: p.port,
                    target: p.target,
                    vni,
                    ingress_ip: s.ingress_ip,
                    mode: svc.mode_label.unwrap_or(opts.mode),
                    backends: backends.clone(),
                },
            );
        }
    }
    (st, warnings)
}
