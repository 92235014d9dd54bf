//! Rendering vxgw's answers for the terminal: aligned tables and lines for people
//! (the default), or the raw `result` as pretty JSON for scripts (`-j/--json`).
//! Nothing here talks to vxgw or decides an exit status.

use serde_json::Value;
use vxgw_api::{self as api, Answer};

fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    table_indented("", headers, rows)
}

fn table_indented(indent: &str, headers: &[&str], rows: Vec<Vec<String>>) {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!(
        "{indent}{}",
        line(headers.iter().map(|h| h.to_string()).collect())
    );
    for r in rows {
        println!("{indent}{}", line(r));
    }
}

/// An optional value as a table cell: `-` when absent.
fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".into(), |v| v.to_string())
}

/// A list as a table cell: comma-separated, `-` when empty.
fn list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.iter().map(f).collect::<Vec<_>>().join(",")
    }
}

fn kind(is_static: bool) -> String {
    if is_static { "static" } else { "dynamic" }.into()
}

/// What a change did: one line per difference, then counts and the generation.
fn print_change(r: &api::ChangeOutcome) {
    for c in &r.changes {
        println!("{c}");
    }
    if r.removed == Some(api::Removed::Dynamic) {
        println!("forgot the learned entry");
    }
    if let Some(n) = r.flushed {
        println!("flushed {n} learned entries");
    }
    if r.fdb_removed > 0 {
        println!("{} FDB entries removed with it", r.fdb_removed);
    }
    if r.connections_removed > 0 {
        println!("{} connections removed with it", r.connections_removed);
    }
    if r.changes.is_empty() && r.removed.is_none() && r.flushed.is_none() {
        println!("no change");
    }
    if !r.changes.is_empty() {
        let mut tail = format!("generation {}", r.generation);
        if let Some(us) = r.in_effect_us {
            tail.push_str(&format!(", in effect on every worker after {us} us"));
        }
        if let Some(f) = &r.saved {
            tail.push_str(&format!(", saved to {f}"));
        }
        println!("({tail})");
    }
}

/// The services, then each one's backends.
fn print_services(services: &[api::ServiceRow]) {
    table(
        &[
            "NAME",
            "PROTO",
            "PUBLISHED",
            "VNI",
            "INGRESS",
            "TARGET",
            "MODE",
            "BACKENDS",
            "CONNS",
            "MANAGED_BY",
        ],
        services
            .iter()
            .map(|v| {
                let drained = v
                    .backends
                    .iter()
                    .filter(|b| b.state == api::BackendState::Drained)
                    .count();
                vec![
                    v.name.clone(),
                    v.protocol.to_string(),
                    format!(
                        "{}:{}",
                        v.published_ip
                            .map_or_else(|| "*".into(), |ip| ip.to_string()),
                        v.published_port
                    ),
                    v.vni.to_string(),
                    v.ingress_ip.to_string(),
                    v.target_port.to_string(),
                    v.mode.to_string(),
                    if drained > 0 {
                        format!("{} ({drained} drained)", v.backends.len())
                    } else {
                        v.backends.len().to_string()
                    },
                    v.connections.to_string(),
                    v.managed_by.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    );
    for v in services.iter().filter(|v| !v.backends.is_empty()) {
        println!("\nbackends of {}:", v.name);
        table_indented(
            "  ",
            &["IP", "WEIGHT", "STATE", "CONNS"],
            v.backends
                .iter()
                .map(|b| {
                    vec![
                        b.ip.to_string(),
                        b.weight.to_string(),
                        b.state.to_string(),
                        b.connections.to_string(),
                    ]
                })
                .collect(),
        );
    }
}

/// The answer as tables and lines for people.
pub(crate) fn print_human(answer: &Answer) {
    match answer {
        Answer::Fdb(rows) => table(
            &["VNI", "MAC", "DESTINATION", "TYPE", "AGE"],
            rows.iter()
                .map(|e| {
                    let dest = match &e.destination {
                        api::FdbDestination::Vtep(ip) => format!("vtep {ip}"),
                        api::FdbDestination::Access { port, vlan } => {
                            format!("port {port} vlan {vlan}")
                        }
                    };
                    vec![
                        e.vni.to_string(),
                        e.mac.to_string(),
                        dest,
                        kind(e.is_static),
                        if e.is_static {
                            "-".into()
                        } else {
                            format!("{}s", e.age_s)
                        },
                    ]
                })
                .collect(),
        ),
        Answer::Neighbours(rows) => table(
            &["IP", "MAC", "TYPE", "AGE", "TABLE", "VNI"],
            rows.iter()
                .map(|e| {
                    vec![
                        e.ip.to_string(),
                        opt(&e.mac),
                        kind(e.is_static),
                        format!("{}s", e.age_s),
                        e.table.to_string(),
                        opt(&e.vni),
                    ]
                })
                .collect(),
        ),
        Answer::Vnis(rows) => table(
            &[
                "VNI",
                "FLOOD",
                "ACCESS",
                "LEARN_LIMIT",
                "AGEING",
                "GATEWAY",
                "ARP",
                "FDB",
                "MANAGED_BY",
            ],
            rows.iter()
                .map(|v| {
                    vec![
                        v.id.to_string(),
                        list(&v.flood, |ip| ip.to_string()),
                        list(&v.access, |a| format!("{}:{}", a.port, a.vlan)),
                        v.learn_limit.to_string(),
                        format!("{}s", v.ageing_secs),
                        opt(&v.gateway_ip),
                        v.arp.len().to_string(),
                        format!("{} ({} learned)", v.fdb_entries, v.fdb_learned),
                        v.managed_by.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect(),
        ),
        Answer::Vteps(rows) => table(
            &[
                "VTEP",
                "NEXT_HOP",
                "NEXT_HOP_MAC",
                "FLOOD_VNIS",
                "STATIC_FDB",
            ],
            rows.iter()
                .map(|t| {
                    vec![
                        t.ip.to_string(),
                        t.next_hop.to_string(),
                        opt(&t.next_hop_mac),
                        list(&t.flood_vnis, |v| v.to_string()),
                        t.static_fdb.to_string(),
                    ]
                })
                .collect(),
        ),
        Answer::Arp(rows) => table(
            &["VNI", "IP", "MAC"],
            rows.iter()
                .map(|e| vec![e.vni.to_string(), e.ip.to_string(), e.mac.to_string()])
                .collect(),
        ),
        Answer::Config(c) => print!("{}", c.toml),
        Answer::LiveTrace(t) => {
            println!(
                "live trace: {} of {} packets ({}), {}",
                t.packets.len(),
                t.requested,
                t.port.as_deref().unwrap_or("any port"),
                if t.armed { "recording" } else { "stopped" }
            );
            if let Some(f) = &t.filter {
                println!("filter: {f}");
            }
            for (i, p) in t.packets.iter().enumerate() {
                println!(
                    "\nPacket {}  worker {}  {}  +{}us  {} bytes",
                    i + 1,
                    p.worker,
                    p.port,
                    p.t_us,
                    p.len
                );
                println!("  {}", p.headers);
                let w = p.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
                for s in &p.steps {
                    println!("    {:<w$}  {}", s.step, s.detail);
                }
                println!("  verdict: {}", p.verdict);
            }
        }
        Answer::Trace(t) => {
            println!("packet on {}", t.port);
            let w = t.steps.iter().map(|s| s.step.len()).max().unwrap_or(0);
            for (i, s) in t.steps.iter().enumerate() {
                println!("{:>3}  {:<w$}  {}", i + 1, s.step, s.detail);
            }
            println!("verdict: {}", t.verdict);
            for o in &t.out {
                println!("  -> {o}");
            }
        }
        Answer::Status(r) => {
            println!(
                "vxgw {}  up {}s  workers {}  config generation {}  state {}",
                r.version,
                r.uptime_s,
                serde_json::to_string(&r.workers).unwrap_or_default(),
                r.generation,
                r.state_file.as_deref().unwrap_or("not saved"),
            );
            table(
                &["PORT", "NAME", "MAC", "LINK", "MTU", "RX", "TX", "MISSED"],
                r.ports
                    .iter()
                    .map(|p| {
                        vec![
                            p.id.to_string(),
                            p.name.clone(),
                            p.mac.to_string(),
                            if p.link_up { "up" } else { "down" }.into(),
                            p.mtu.to_string(),
                            p.rx_packets.to_string(),
                            p.tx_packets.to_string(),
                            p.rx_missed.to_string(),
                        ]
                    })
                    .collect(),
            );
            for p in &r.ports {
                if let Some(rss) = &p.rss {
                    println!("port {} rss: {}", p.id, rss_summary(rss));
                }
            }
        }
        Answer::Stats(r) => {
            println!("rx_packets {}  tx_packets {}", r.rx_packets, r.tx_packets);
            for (section, m) in [("events", &r.events), ("drops", &r.drops)] {
                println!("{section}:");
                for (k, v) in m {
                    println!("  {k:<28} {v}");
                }
            }
        }
        Answer::Services(rows) => print_services(rows),
        Answer::Connections(rows) => table(
            &[
                "PROTO",
                "CLIENT",
                "PUBLISHED",
                "BACKEND",
                "SNAT",
                "SERVICE",
                "STATE",
                "IDLE",
                "OWNER",
            ],
            rows.iter()
                .map(|c| {
                    vec![
                        c.proto.clone(),
                        c.client.to_string(),
                        c.published.to_string(),
                        c.backend.to_string(),
                        opt(&c.snat),
                        match &c.service {
                            api::ServiceRef::Name(n) => n.clone(),
                            api::ServiceRef::Id(id) => id.to_string(),
                        },
                        c.state.clone(),
                        format!("{}s", c.idle_s),
                        c.owner.to_string(),
                    ]
                })
                .collect(),
        ),
        Answer::ConnectionCount(r) => {
            println!("{} connections", r.count);
            for (k, v) in r.states.iter().filter(|(_, &v)| v != 0) {
                println!("  {k:<12} {v}");
            }
            println!("  assured {}  unassured {}", r.assured, r.unassured);
            println!(
                "table: capacity {}  created {}  expired {}  evicted {} (unassured {})  refused {}  removed {}",
                r.capacity, r.created, r.expired, r.evicted, r.early_evicted, r.refused, r.removed
            );
        }
        Answer::ConnectionsRemoved(r) => println!("removed {} connections", r.removed),
        Answer::Change(r) => print_change(r),
    }
}

/// The answer's `result` as scripts read it: pretty JSON, as vxgw sent it.
pub(crate) fn print_json(result: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(result).unwrap_or_default()
    );
}

/// One line for a port's RSS: its hash types, key, and how its redirection table
/// spreads over the queues (`128 entries: queue 0 x64, queue 1 x64`).
fn rss_summary(rss: &api::RssStatus) -> String {
    let mut per_queue = std::collections::BTreeMap::new();
    for q in &rss.reta {
        *per_queue.entry(*q).or_insert(0usize) += 1;
    }
    let spread: Vec<String> = per_queue
        .iter()
        .map(|(q, n)| format!("queue {q} x{n}"))
        .collect();
    format!(
        "hash {}, key {}, table of {} entries: {}",
        rss.fields.join(" "),
        rss.key,
        rss.reta.len(),
        spread.join(", ")
    )
}
