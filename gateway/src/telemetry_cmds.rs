//! The gateway's DPDK telemetry commands: `/vxgw/stats`, `/vxgw/fdb`, `/vxgw/neigh`,
//! `/vxgw/services`, `/vxgw/conntrack`, `/vxgw/trace` (`dpdk-telemetry.py -f PREFIX`, then e.g.
//! `/vxgw/fdb,4096`). The same data as the
//! control socket, for operators who live in DPDK's tools. Telemetry names may only
//! hold letters, digits and '_', so an FDB entry is named `VNI_MAC` with '_' for ':'
//! (`4096_02_42_0a_ff_00_0b`) and a neighbour `172_30_0_11`.

use std::sync::Arc;

use crate::control::trace_cmd::trace_filter;
use crate::dpdk::{register_telemetry, DpdkError, TelValue};
use crate::pipeline::{DropReason, Event};
use crate::runtime::{Shared, WorkerCounters};
use crate::tables::fdb::{FdbDest, FdbFilter};

/// Registers the commands; call once after EAL init.
pub fn register(shared: Arc<Shared>, counters: Arc<Vec<WorkerCounters>>) -> Result<(), DpdkError> {
    let c = counters;
    let sh = shared.clone();
    register_telemetry(
        "/vxgw/stats",
        "vxgw packet, event and drop counters (summed over workers)",
        move |_| {
            let sum = |f: &dyn Fn(&WorkerCounters) -> u64| c.iter().map(f).sum::<u64>();
            let mut rows = vec![
                (
                    "rx_packets".to_string(),
                    TelValue::U64(sum(&|w| w.rx_packets.get())),
                ),
                (
                    "tx_packets".to_string(),
                    TelValue::U64(sum(&|w| w.tx_packets.get())),
                ),
                (
                    "fdb_entries".to_string(),
                    TelValue::U64(sh.fdb.len() as u64),
                ),
            ];
            rows.extend(Event::ALL.iter().map(|&e| {
                (
                    format!("event_{}", e.name()),
                    TelValue::U64(sum(&|w| w.pipeline.events(e))),
                )
            }));
            rows.extend(DropReason::ALL.iter().map(|&r| {
                (
                    format!("drop_{}", r.name()),
                    TelValue::U64(sum(&|w| w.pipeline.drops(r))),
                )
            }));
            rows
        },
    )?;
    let sh = shared.clone();
    register_telemetry(
        "/vxgw/fdb",
        "FDB entries as mac@vni: destination (parameter: a VNI to list only that one)",
        move |params| {
            let mut filter = FdbFilter::all();
            if let Ok(vni) = params.trim().parse::<u32>() {
                filter = filter.vni(vni);
            }
            let snap = sh.snap.load();
            sh.fdb
                .entries(&filter, sh.clock.now())
                .into_iter()
                .map(|e| {
                    let dest = match e.dest {
                        FdbDest::Vtep(ip) => format!("vtep {ip}"),
                        FdbDest::Access { port, vlan } => format!(
                            "port {} vlan {vlan}",
                            snap.port(port).map(|p| p.name.as_str()).unwrap_or("?")
                        ),
                    };
                    let kind = if e.is_static { "static" } else { "dynamic" };
                    // Telemetry names allow letters, digits and '_' only: VNI_MAC.
                    let name = format!("{}_{}", e.vni, e.mac.to_string().replace(':', "_"));
                    (name, TelValue::Str(format!("{dest} {kind} age {}s", e.age)))
                })
                .collect()
        },
    )?;
    let sh = shared.clone();
    register_telemetry(
        "/vxgw/services",
        "published services: name: protocol address:port -> backend(weight) ...",
        move |_| {
            sh.snap
                .load()
                .services
                .iter()
                .map(|s| {
                    let published = s
                        .published_ip
                        .map_or_else(|| "any".to_string(), |ip| ip.to_string());
                    let backends: Vec<String> = s
                        .backends
                        .iter()
                        .map(|b| format!("{}({})", b.ip, b.weight))
                        .collect();
                    let proto = if s.proto == 6 { "tcp" } else { "udp" };
                    let mode = if s.preserve_client {
                        "preserve"
                    } else {
                        "snat"
                    };
                    (
                        s.name.clone(),
                        TelValue::Str(format!(
                            "{proto} {published}:{} {mode} -> {}",
                            s.published_port,
                            backends.join(" ")
                        )),
                    )
                })
                .collect()
        },
    )?;
    let sh = shared.clone();
    register_telemetry(
        "/vxgw/conntrack",
        "routing-mesh connections by state, capacity and events",
        move |_| {
            let st = sh.conntrack.stats();
            let mut rows: Vec<(String, TelValue)> = crate::tables::conntrack::CtState::ALL
                .iter()
                .map(|&s| (s.name().to_string(), TelValue::U64(st.in_state(s))))
                .collect();
            rows.extend([
                (
                    "capacity".to_string(),
                    TelValue::U64(sh.conntrack.capacity() as u64),
                ),
                ("created".to_string(), TelValue::U64(st.created)),
                ("expired".to_string(), TelValue::U64(st.expired)),
                ("evicted".to_string(), TelValue::U64(st.evicted)),
                ("early_evicted".to_string(), TelValue::U64(st.early_evicted)),
                ("assured".to_string(), TelValue::U64(st.assured)),
                ("unassured".to_string(), TelValue::U64(st.unassured())),
                ("refused".to_string(), TelValue::U64(st.refused)),
                ("removed".to_string(), TelValue::U64(st.removed)),
            ]);
            rows
        },
    )?;
    let sh = shared.clone();
    register_telemetry(
        "/vxgw/trace",
        "the live packet trace (vxgwctl trace live/start/show): armed, port, filter, requested, recorded",
        move |_| {
            let (armed, port, requested, recorded) = sh.live_trace.state();
            let port = port
                .and_then(|p| sh.snap.load().port(p).map(|v| v.name.clone()))
                .unwrap_or_else(|| "any".into());
            vec![
                ("armed".to_string(), TelValue::U64(armed.into())),
                ("port".to_string(), TelValue::Str(port)),
                (
                    "filter".to_string(),
                    TelValue::Str(trace_filter(&sh.live_trace.filter()).to_string()),
                ),
                ("requested".to_string(), TelValue::U64(requested.into())),
                ("recorded".to_string(), TelValue::U64(recorded.into())),
            ]
        },
    )?;
    let sh = shared;
    register_telemetry("/vxgw/neigh", "underlay neighbours: ip: mac", move |_| {
        sh.neigh
            .entries()
            .into_iter()
            .map(|n| {
                let mac = n
                    .mac
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "incomplete".into());
                (n.ip.to_string().replace('.', "_"), TelValue::Str(mac))
            })
            .collect()
    })?;
    Ok(())
}
