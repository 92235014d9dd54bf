//! Reads a swarm from a manager's Docker API (bollard): nodes (their addresses are
//! the VTEPs), overlay networks (VNI from the overlay driver's options, peers, and,
//! with `verbose`, each service's tasks with their endpoint addresses and host),
//! services (labels `vxgw.publish`, `vxgw.network`) and tasks (running, stopping,
//! or gone). One call of [`read_swarm`] is one consistent-enough look: the diff
//! that follows is idempotent, and the next look corrects what moved in between.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use bollard::models::TaskState;
use bollard::query_parameters::{
    InspectNetworkOptionsBuilder, ListNetworksOptionsBuilder, ListNodesOptions,
    ListServicesOptions, ListTasksOptions,
};
use bollard::Docker;
use vxgw_api::Mode;

use crate::model::{parse_publish, Network, Publish, Service, Swarm, Task, TaskPhase};

/// The overlay driver's option holding a network's VNI.
const VNI_OPTION: &str = "com.docker.network.driver.overlay.vxlanid_list";
/// Service labels.
pub const PUBLISH_LABEL: &str = "vxgw.publish";
/// The network a service is reached in, when it is attached to several.
pub const NETWORK_LABEL: &str = "vxgw.network";
/// A service's NAT mode.
pub const MODE_LABEL: &str = "vxgw.mode";

/// Connects to the Docker API at `socket` (`unix:///var/run/docker.sock` or a
/// path), agreeing on the API version with the daemon (Docker 20.10 speaks 1.41).
pub async fn connect(socket: &str) -> Result<Docker, bollard::errors::Error> {
    Docker::connect_with_unix(socket, 30, bollard::API_DEFAULT_VERSION)?
        .negotiate_version()
        .await
}

/// One look at the swarm: every overlay network named in `networks` (others are
/// not read), all services and tasks. Warnings (a bad label) are returned, not
/// fatal.
pub async fn read_swarm(
    docker: &Docker,
    networks: &[String],
) -> Result<(Swarm, Vec<String>), bollard::errors::Error> {
    let mut warnings = Vec::new();
    let nodes: HashMap<String, Ipv4Addr> = docker
        .list_nodes(None::<ListNodesOptions>)
        .await?
        .into_iter()
        .filter_map(|n| {
            let addr = n.status?.addr?.parse().ok()?;
            Some((n.id?, addr))
        })
        .collect();
    let filters = HashMap::from([("driver".to_string(), vec!["overlay".to_string()])]);
    let list = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await?;
    let mut swarm = Swarm::default();
    // Task name -> (network id, endpoint address) from the verbose inspections.
    let mut endpoints: HashMap<String, Vec<(String, Ipv4Addr)>> = HashMap::new();
    for n in list {
        let (Some(id), Some(name)) = (n.id, n.name) else {
            continue;
        };
        if !networks.contains(&name) {
            continue;
        }
        let inspect = docker
            .inspect_network(
                &id,
                Some(InspectNetworkOptionsBuilder::new().verbose(true).build()),
            )
            .await?;
        let Some(vni) = inspect
            .options
            .as_ref()
            .and_then(|o| o.get(VNI_OPTION))
            .and_then(|v| v.split(',').next()?.trim().parse().ok())
        else {
            warnings.push(format!("network {name}: no VNI in its options"));
            continue;
        };
        let peers = inspect
            .peers
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.ip?.parse().ok())
            .collect();
        for svc in inspect.services.unwrap_or_default().values() {
            for t in svc["Tasks"].as_array().into_iter().flatten() {
                let (Some(task), Some(ip)) = (
                    t["Name"].as_str(),
                    t["EndpointIP"].as_str().and_then(|a| a.parse().ok()),
                ) else {
                    continue;
                };
                endpoints
                    .entry(task.to_string())
                    .or_default()
                    .push((id.clone(), ip));
            }
        }
        swarm.networks.push(Network {
            id,
            name,
            vni,
            peers,
        });
    }
    let mut service_names = HashMap::new();
    for s in docker.list_services(None::<ListServicesOptions>).await? {
        let (Some(id), Some(spec)) = (s.id, s.spec) else {
            continue;
        };
        let name = spec.name.unwrap_or_default();
        service_names.insert(id.clone(), name.clone());
        let labels = spec.labels.unwrap_or_default();
        let publish: Vec<Publish> = match labels.get(PUBLISH_LABEL) {
            None => Vec::new(),
            Some(l) => parse_publish(l).unwrap_or_else(|e| {
                warnings.push(format!("service {name}: label {PUBLISH_LABEL}: {e}"));
                Vec::new()
            }),
        };
        let attached = spec
            .task_template
            .and_then(|t| t.networks)
            .or(spec.networks)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| a.target)
            .map(|target| {
                // A target may be a name or an id: ids are what tasks carry.
                swarm
                    .networks
                    .iter()
                    .find(|n| n.name == target || n.id == target)
                    .map_or(target, |n| n.id.clone())
            })
            .collect();
        let mode_label = match labels.get(MODE_LABEL).map(String::as_str) {
            None => None,
            Some("snat") => Some(Mode::Snat),
            Some("preserve") => Some(Mode::Preserve),
            Some(other) => {
                warnings.push(format!(
                    "service {name}: label {MODE_LABEL}: '{other}' (snat or preserve)"
                ));
                None
            }
        };
        swarm.services.push(Service {
            id,
            name,
            publish,
            networks: attached,
            network_label: labels.get(NETWORK_LABEL).cloned(),
            mode_label,
        });
    }
    for t in docker.list_tasks(None::<ListTasksOptions>).await? {
        let (Some(id), Some(service_id)) = (t.id, t.service_id) else {
            continue;
        };
        let service = service_names.get(&service_id).cloned().unwrap_or_default();
        // Docker names a task's container service.slot.id (global: service.node.id).
        let slot = t
            .slot
            .map(|s| s.to_string())
            .or_else(|| t.node_id.clone())
            .unwrap_or_default();
        let name = format!("{service}.{slot}.{id}");
        let state = t.status.and_then(|s| s.state);
        let phase = match (state, t.desired_state) {
            (Some(TaskState::RUNNING), Some(TaskState::RUNNING)) => TaskPhase::Running,
            (Some(TaskState::RUNNING), _) => TaskPhase::Stopping,
            _ => TaskPhase::Gone,
        };
        swarm.tasks.push(Task {
            addresses: endpoints.remove(&name).unwrap_or_default(),
            name,
            service_id,
            phase,
            node_addr: t.node_id.and_then(|n| nodes.get(&n).copied()),
        });
    }
    Ok((swarm, warnings))
}
