//! vxgw-swarm's own metrics (Prometheus text on `--metrics-addr`): is the Docker API
//! up, when did the last sync succeed, how long it took, how long after an event
//! vxgw was in sync (the lag), changes made, errors.

use prometheus::{Encoder, Gauge, IntCounter, IntGauge, Registry, TextEncoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// 1 when the last sync succeeded.
    pub up: IntGauge,
    /// Unix time of the last successful sync.
    pub last_success: Gauge,
    /// Seconds the last sync took.
    pub duration: Gauge,
    /// Seconds from the first event of a burst to vxgw in sync.
    pub lag: Gauge,
    /// Changes made in vxgw.
    pub changes: IntCounter,
    /// Failed syncs.
    pub errors: IntCounter,
    /// Backends vxgw holds for the swarm.
    pub backends: IntGauge,
    /// Task endpoints (static FDB entries) vxgw holds for the swarm.
    pub tasks: IntGauge,
}

impl Metrics {
    /// The metrics, registered.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let up = IntGauge::new(
            "vxgw_swarm_up",
            "1 when the last sync with Docker and vxgw succeeded",
        )
        .unwrap();
        let last_success = Gauge::new(
            "vxgw_swarm_last_success_timestamp_seconds",
            "Unix time of the last successful sync",
        )
        .unwrap();
        let duration = Gauge::new(
            "vxgw_swarm_sync_duration_seconds",
            "Seconds the last sync took",
        )
        .unwrap();
        let lag = Gauge::new(
            "vxgw_swarm_sync_lag_seconds",
            "Seconds from a Docker event to vxgw in sync with it (the last burst)",
        )
        .unwrap();
        let changes = IntCounter::new("vxgw_swarm_changes_total", "Changes made in vxgw").unwrap();
        let errors = IntCounter::new(
            "vxgw_swarm_sync_errors_total",
            "Syncs that failed (Docker or vxgw)",
        )
        .unwrap();
        let backends = IntGauge::new(
            "vxgw_swarm_backends",
            "Backends vxgw holds for the swarm's services",
        )
        .unwrap();
        let tasks = IntGauge::new(
            "vxgw_swarm_task_endpoints",
            "Task endpoints vxgw holds in the served networks",
        )
        .unwrap();
        for c in [
            Box::new(up.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(last_success.clone()),
            Box::new(duration.clone()),
            Box::new(lag.clone()),
            Box::new(changes.clone()),
            Box::new(errors.clone()),
            Box::new(backends.clone()),
            Box::new(tasks.clone()),
        ] {
            registry.register(c).unwrap();
        }
        Metrics {
            registry,
            up,
            last_success,
            duration,
            lag,
            changes,
            errors,
            backends,
            tasks,
        }
    }

    /// The text exposition.
    pub fn text(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Serves `GET /metrics` (any path) until the process ends.
    pub async fn serve(self, listener: TcpListener) {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            let m = self.clone();
            tokio::spawn(async move {
                let mut req = [0u8; 1024];
                let _ = conn.read(&mut req).await;
                let body = m.text();
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(body.as_bytes()).await;
            });
        }
    }
}
