//! What vxgw-swarm reads of a swarm (from the Docker API, `docker.rs`): its overlay
//! networks with their VNIs and peers, its services with what they publish through
//! vxgw, and its tasks with their addresses and the node each runs on. Plain data:
//! the rest of the crate turns it into vxgw's tables without asking Docker again.

use std::net::Ipv4Addr;

use vxgw_api::{Mode, Proto};

/// An overlay network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Docker's network id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its VXLAN network identifier (the overlay driver's `vxlanid_list`).
    pub vni: u32,
    /// The nodes taking part (their VTEP addresses).
    pub peers: Vec<Ipv4Addr>,
}

/// A port a service publishes through vxgw (its label `vxgw.publish`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish {
    /// tcp or udp.
    pub proto: Proto,
    /// The published port.
    pub port: u16,
    /// The tasks' port.
    pub target: u16,
}

/// A swarm service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Docker's service id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it publishes through vxgw.
    pub publish: Vec<Publish>,
    /// The networks it is attached to (ids).
    pub networks: Vec<String>,
    /// The network vxgw reaches its tasks in, by name (label `vxgw.network`; else
    /// the first attached network that vxgw serves).
    pub network_label: Option<String>,
    /// NAT mode (label `vxgw.mode`: snat or preserve; none: vxgw-swarm's --mode).
    pub mode_label: Option<Mode>,
}

/// Where a task is in its life, as far as vxgw cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskPhase {
    /// Running and meant to: a backend.
    Running,
    /// Still running but being stopped (desired state shutdown): drained, its
    /// connections finish (moby#38841: Swarm's own balancer keeps sending to them).
    Stopping,
    /// Anything else: gone from vxgw.
    Gone,
}

/// A task of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// `service.slot.id`, as `docker ps` names its container.
    pub name: String,
    /// Its service's id.
    pub service_id: String,
    /// Where it is in its life.
    pub phase: TaskPhase,
    /// The address of the node it runs on (its VTEP).
    pub node_addr: Option<Ipv4Addr>,
    /// Its addresses: (network id, IPv4 address).
    pub addresses: Vec<(String, Ipv4Addr)>,
}

/// The swarm, as one read of the API saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swarm {
    /// Overlay networks.
    pub networks: Vec<Network>,
    /// Services.
    pub services: Vec<Service>,
    /// Tasks.
    pub tasks: Vec<Task>,
}

/// A task's MAC in an overlay: Docker's 20.10 convention, 02:42 and its IPv4 address.
pub fn task_mac(ip: Ipv4Addr) -> vxgw_api::Mac {
    let o = ip.octets();
    vxgw_api::Mac([0x02, 0x42, o[0], o[1], o[2], o[3]])
}

/// Reads a service label `vxgw.publish`: `tcp/80:8080,udp/53` (`PORT` alone
/// publishes the same port of the tasks).
pub fn parse_publish(label: &str) -> Result<Vec<Publish>, String> {
    let mut out = Vec::new();
    for item in label.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (proto, ports) = item
            .split_once('/')
            .ok_or_else(|| format!("'{item}': want PROTO/PORT[:TARGET]"))?;
        let proto = match proto {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            p => return Err(format!("'{item}': protocol '{p}' (tcp or udp)")),
        };
        let (port, target) = ports.split_once(':').unwrap_or((ports, ports));
        let num = |s: &str| -> Result<u16, String> {
            s.parse::<u16>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("'{item}': '{s}' is not a port (1-65535)"))
        };
        out.push(Publish {
            proto,
            port: num(port)?,
            target: num(target)?,
        });
    }
    if out.is_empty() {
        return Err("empty".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_labels() {
        assert_eq!(
            parse_publish("tcp/80:8080, udp/53").unwrap(),
            vec![
                Publish {
                    proto: Proto::Tcp,
                    port: 80,
                    target: 8080
                },
                Publish {
                    proto: Proto::Udp,
                    port: 53,
                    target: 53
                }
            ]
        );
        for bad in ["", "80", "sctp/80", "tcp/0", "tcp/80:x", "tcp/70000"] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
        assert_eq!(
            task_mac(Ipv4Addr::new(10, 0, 1, 5)).to_string(),
            "02:42:0a:00:01:05"
        );
    }
}
