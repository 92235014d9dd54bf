//! `vxgw-swarm node-agent`: on each swarm node, makes the node's overlay sandboxes
//! of the networks vxgw serves know vxgw. Docker's overlay runs its VXLAN device
//! with `proxy l2miss l3miss` and no flood entry: it only reaches MACs its gossip
//! installed. So vxgw's MAC goes into the device's FDB (towards vxgw's VTEP) and
//! vxgw's overlay addresses (ingress, gateway) into the sandbox's neighbour table,
//! both permanent, the way Docker installs its own peers. Re-done every period, so
//! a sandbox Docker recreates (the network's first task on the node) gets them again.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use bollard::query_parameters::ListNetworksOptionsBuilder;
use tokio::process::Command;

use crate::docker;

/// What the agent installs.
pub struct AgentConfig {
    /// This node's Docker API socket.
    pub docker: String,
    /// Docker's exec root (its `netns/` holds the sandboxes).
    pub exec_root: PathBuf,
    /// vxgw's MAC in the overlay (its underlay port's MAC).
    pub vxgw_mac: vxgw_api::Mac,
    /// vxgw's VTEP address.
    pub vxgw_vtep: Ipv4Addr,
    /// Served networks by name, with vxgw's addresses in each.
    pub networks: Vec<(String, Vec<Ipv4Addr>)>,
    /// Seconds between passes.
    pub period: Duration,
}

/// One pass: the sandboxes found and made to know vxgw, or why it failed.
pub async fn pass(cfg: &AgentConfig) -> Result<usize, String> {
    let d = docker::connect(&cfg.docker)
        .await
        .map_err(|e| e.to_string())?;
    let filters = HashMap::from([("driver".to_string(), vec!["overlay".to_string()])]);
    let nets = d
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .map_err(|e| e.to_string())?;
    let mut done = 0;
    for n in nets {
        let (Some(id), Some(name)) = (n.id, n.name) else {
            continue;
        };
        let Some((_, addrs)) = cfg.networks.iter().find(|(net, _)| *net == name) else {
            continue;
        };
        let sandbox = cfg
            .exec_root
            .join("netns")
            .join(format!("1-{}", &id[..id.len().min(10)]));
        if !sandbox.exists() {
            continue; // no task of this network on this node (yet)
        }
        let ns = format!("--net={}", sandbox.display());
        let dev = vxlan_device(&ns).await?;
        let mac = cfg.vxgw_mac.to_string();
        let vtep = cfg.vxgw_vtep.to_string();
        run(
            &ns,
            &[
                "bridge",
                "fdb",
                "replace",
                &mac,
                "dev",
                &dev,
                "dst",
                &vtep,
                "self",
                "permanent",
            ],
        )
        .await?;
        for a in addrs {
            let ip = a.to_string();
            run(
                &ns,
                &[
                    "ip",
                    "neigh",
                    "replace",
                    &ip,
                    "lladdr",
                    &mac,
                    "dev",
                    &dev,
                    "nud",
                    "permanent",
                ],
            )
            .await?;
        }
        done += 1;
    }
    Ok(done)
}

/// The sandbox's VXLAN device.
async fn vxlan_device(ns: &str) -> Result<String, String> {
    let out = Command::new("nsenter")
        .args([ns, "ip", "-o", "link", "show", "type", "vxlan"])
        .output()
        .await
        .map_err(|e| format!("nsenter: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "7: vxlan0: <...>": the name, without an "@if" suffix.
    text.lines()
        .next()
        .and_then(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("no VXLAN device in {ns}"))
}

async fn run(ns: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new("nsenter")
        .arg(ns)
        .args(args)
        .output()
        .await
        .map_err(|e| format!("nsenter: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Passes until `stop` resolves.
pub async fn run_agent(cfg: AgentConfig, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut last = usize::MAX;
    loop {
        match pass(&cfg).await {
            Ok(n) if n != last => {
                eprintln!("vxgw-swarm node-agent: vxgw installed in {n} overlay sandbox(es)");
                last = n;
            }
            Ok(_) => {}
            Err(e) => eprintln!("vxgw-swarm node-agent: {e}"),
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(cfg.period) => {}
        }
    }
}
