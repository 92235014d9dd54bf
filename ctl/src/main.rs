//! `vxgwctl`: the operator's CLI over vxgw's control socket (JSON lines).
//!
//! Human tables by default, `-j/--json` for scripts. Exit status: 0 success,
//! 1 vxgw refused the request (the reason is printed), 2 usage error, 3 the control
//! socket is missing or not accessible.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(
    name = "vxgwctl",
    version,
    about = "Control a running vxgw over its Unix socket"
)]
struct Cli {
    /// Control socket of the vxgw to talk to.
    #[arg(short, long, default_value = "/run/vxgw/vxgw.sock", global = true)]
    socket: PathBuf,
    /// Print the raw JSON result instead of a table.
    #[arg(short, long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Ports, link, workers, uptime.
    Status,
    /// Packet, drop and event counters (summed over workers).
    Stats,
    /// The filtering database.
    Fdb {
        #[command(subcommand)]
        action: FdbCmd,
    },
    /// Underlay neighbours (ARP cache).
    Neigh {
        #[command(subcommand)]
        action: ShowOnly,
    },
}

#[derive(Subcommand)]
enum FdbCmd {
    /// List entries, optionally of one VNI or one MAC.
    Show {
        /// Only this VNI.
        #[arg(long)]
        vni: Option<u32>,
        /// Only this MAC.
        #[arg(long)]
        mac: Option<String>,
    },
}

#[derive(Subcommand)]
enum ShowOnly {
    /// List entries.
    Show,
}

fn request(cli: &Cli) -> Value {
    match &cli.cmd {
        Cmd::Status => json!({"v": 1, "cmd": "status"}),
        Cmd::Stats => json!({"v": 1, "cmd": "stats"}),
        Cmd::Fdb {
            action: FdbCmd::Show { vni, mac },
        } => {
            let mut args = serde_json::Map::new();
            if let Some(v) = vni {
                args.insert("vni".into(), json!(v));
            }
            if let Some(m) = mac {
                args.insert("mac".into(), json!(m));
            }
            json!({"v": 1, "cmd": "fdb.show", "args": args})
        }
        Cmd::Neigh {
            action: ShowOnly::Show,
        } => json!({"v": 1, "cmd": "neigh.show"}),
    }
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) {
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
    println!("{}", line(headers.iter().map(|h| h.to_string()).collect()));
    for r in rows {
        println!("{}", line(r));
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn print_human(cmd: &Cmd, r: &Value) {
    match cmd {
        Cmd::Fdb { .. } => {
            let rows = r.as_array().cloned().unwrap_or_default();
            table(
                &["VNI", "MAC", "DESTINATION", "TYPE", "AGE"],
                rows.iter()
                    .map(|e| {
                        let dest = match e["kind"].as_str() {
                            Some("vtep") => format!("vtep {}", s(&e["dest"])),
                            _ => format!(
                                "port {} vlan {}",
                                s(&e["dest"]["port"]),
                                s(&e["dest"]["vlan"])
                            ),
                        };
                        vec![
                            s(&e["vni"]),
                            s(&e["mac"]),
                            dest,
                            if e["static"] == true {
                                "static"
                            } else {
                                "dynamic"
                            }
                            .into(),
                            if e["static"] == true {
                                "-".into()
                            } else {
                                format!("{}s", s(&e["age_s"]))
                            },
                        ]
                    })
                    .collect(),
            );
        }
        Cmd::Neigh { .. } => {
            let rows = r.as_array().cloned().unwrap_or_default();
            table(
                &["IP", "MAC", "TYPE", "AGE"],
                rows.iter()
                    .map(|e| {
                        vec![
                            s(&e["ip"]),
                            s(&e["mac"]),
                            if e["static"] == true {
                                "static"
                            } else {
                                "dynamic"
                            }
                            .into(),
                            format!("{}s", s(&e["age_s"])),
                        ]
                    })
                    .collect(),
            );
        }
        Cmd::Status => {
            println!(
                "vxgw {}  up {}s  workers {}  config generation {}",
                s(&r["version"]),
                s(&r["uptime_s"]),
                s(&r["workers"]),
                s(&r["generation"])
            );
            let ports = r["ports"].as_array().cloned().unwrap_or_default();
            table(
                &["PORT", "NAME", "MAC", "LINK", "MTU", "RX", "TX", "MISSED"],
                ports
                    .iter()
                    .map(|p| {
                        vec![
                            s(&p["id"]),
                            s(&p["name"]),
                            s(&p["mac"]),
                            if p["link_up"] == true { "up" } else { "down" }.into(),
                            s(&p["mtu"]),
                            s(&p["rx_packets"]),
                            s(&p["tx_packets"]),
                            s(&p["rx_missed"]),
                        ]
                    })
                    .collect(),
            );
        }
        Cmd::Stats => {
            println!(
                "rx_packets {}  tx_packets {}",
                s(&r["rx_packets"]),
                s(&r["tx_packets"])
            );
            for section in ["events", "drops"] {
                if let Some(m) = r[section].as_object() {
                    println!("{section}:");
                    for (k, v) in m {
                        println!("  {k:<28} {v}");
                    }
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut conn = match UnixStream::connect(&cli.socket) {
        Ok(c) => c,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    "no vxgw is listening there (is it running? see --socket)".to_string()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied (run as root or a member of the socket's group)".to_string()
                }
                _ => e.to_string(),
            };
            eprintln!("vxgwctl: {}: {why}", cli.socket.display());
            return ExitCode::from(3);
        }
    };
    let req = request(&cli);
    if writeln!(conn, "{req}").is_err() {
        eprintln!("vxgwctl: {}: connection lost", cli.socket.display());
        return ExitCode::from(3);
    }
    let mut line = String::new();
    if BufReader::new(&conn).read_line(&mut line).is_err() || line.is_empty() {
        eprintln!("vxgwctl: {}: no answer", cli.socket.display());
        return ExitCode::from(3);
    }
    let resp: Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("vxgwctl: malformed answer from vxgw: {e}");
            return ExitCode::from(1);
        }
    };
    if resp["ok"] != true {
        eprintln!("vxgwctl: {}", s(&resp["error"]));
        return ExitCode::from(1);
    }
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&resp["result"]).unwrap_or_default()
        );
    } else {
        print_human(&cli.cmd, &resp["result"]);
    }
    ExitCode::SUCCESS
}
