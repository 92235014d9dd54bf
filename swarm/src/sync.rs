//! The sync loop: a full look at the swarm and a diff into vxgw on every Docker
//! event (debounced) and every `resync` seconds. A Docker API outage or a vxgw
//! refusal leaves vxgw's tables as they were (nothing is flushed) and is counted
//! and said; the next successful look puts right whatever moved meanwhile.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::StreamExt;
use vxgw_api::Request;

use crate::current;
use crate::desired::{desired, Options};
use crate::docker;
use crate::metrics::Metrics;
use crate::plan::plan;

/// What the loop needs.
pub struct SyncConfig {
    /// The manager's Docker API socket.
    pub docker: String,
    /// vxgw's control socket.
    pub vxgw: PathBuf,
    /// The mapping.
    pub options: Options,
    /// Seconds between full resyncs.
    pub resync: Duration,
    /// Wait after an event before looking (events come in bursts).
    pub debounce: Duration,
}

/// One look and one diff: the number of changes made, or why it stopped.
pub async fn sync_once(cfg: &SyncConfig, m: &Metrics) -> Result<usize, String> {
    let docker = docker::connect(&cfg.docker)
        .await
        .map_err(|e| format!("docker API {}: {e}", cfg.docker))?;
    let names: Vec<String> = cfg
        .options
        .served
        .iter()
        .map(|s| s.network.clone())
        .collect();
    let (swarm, mut warnings) = docker::read_swarm(&docker, &names)
        .await
        .map_err(|e| format!("docker API {}: {e}", cfg.docker))?;
    let (want, w) = desired(&swarm, &cfg.options);
    warnings.extend(w);
    for w in warnings {
        eprintln!("vxgw-swarm: {w}");
    }
    let owned: BTreeSet<u32> = want.vnis.keys().copied().collect();
    let (have, elsewhere) = current::read(&cfg.vxgw, &owned).map_err(|e| e.to_string())?;
    let requests = plan(&have, &want, &elsewhere);
    let mut failed = 0;
    for r in &requests {
        match current::ask(&cfg.vxgw, r) {
            Ok(_) => eprintln!("vxgw-swarm: {}", describe(r)),
            Err(e) => {
                failed += 1;
                eprintln!("vxgw-swarm: {}: {e}", describe(r));
            }
        }
    }
    m.changes.inc_by(requests.len() as u64 - failed);
    m.backends.set(
        want.services
            .values()
            .map(|s| s.backends.len())
            .sum::<usize>() as i64,
    );
    m.tasks
        .set(want.vnis.values().map(|v| v.fdb.len()).sum::<usize>() as i64);
    if failed > 0 {
        return Err(format!("{failed} of {} changes refused", requests.len()));
    }
    Ok(requests.len())
}

/// The request in one line, as the log says it.
fn describe(r: &Request) -> String {
    format!("{} {}", r.cmd(), r.args())
}

/// Runs until `stop` resolves.
pub async fn run(cfg: SyncConfig, m: Metrics, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut next = Instant::now();
    let mut events = None;
    let mut pending_since: Option<Instant> = None;
    loop {
        if events.is_none() {
            if let Ok(d) = docker::connect(&cfg.docker).await {
                let filters = HashMap::from([(
                    "type".to_string(),
                    ["service", "container", "network", "node"]
                        .map(String::from)
                        .to_vec(),
                )]);
                let opts = EventsOptionsBuilder::new().filters(&filters).build();
                events = Some(Box::pin(d.events(Some(opts))));
            }
        }
        let now = Instant::now();
        let due = pending_since.map_or(next, |t| (t + cfg.debounce).min(next));
        if now >= due {
            let t0 = Instant::now();
            match sync_once(&cfg, &m).await {
                Ok(n) => {
                    m.last_success.set(unix_now());
                    m.up.set(1);
                    if n > 0 {
                        eprintln!("vxgw-swarm: in sync ({n} changes)");
                    }
                }
                Err(e) => {
                    m.errors.inc();
                    m.up.set(0);
                    eprintln!("vxgw-swarm: sync failed, vxgw's tables left as they are: {e}");
                }
            }
            m.duration.set(t0.elapsed().as_secs_f64());
            if let Some(t) = pending_since.take() {
                m.lag.set(t.elapsed().as_secs_f64());
            }
            next = Instant::now() + cfg.resync;
            continue;
        }
        let wait = due - now;
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
            ev = async {
                match events.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            } => match ev {
                Some(Ok(_)) => {
                    pending_since.get_or_insert_with(Instant::now);
                }
                _ => {
                    // The stream ended (Docker restarted, the manager failed over):
                    // look again soon, reconnect the events then.
                    events = None;
                    pending_since.get_or_insert_with(Instant::now);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
