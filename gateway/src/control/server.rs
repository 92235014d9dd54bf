//! The control socket: a Unix stream socket speaking JSON lines.
//!
//! Request:  `{"v":1,"cmd":"fdb.show","args":{"vni":4096}}` + newline
//! Response: `{"ok":true,"result":...}` or `{"ok":false,"error":"..."}` + newline
//!
//! One thread per client (bounded), a size limit per request, and every request is
//! validated before it is acted on. This module answers the read-only table commands
//! (status, stats, fdb.show, neigh.show); [`super::commands`] answers the ones that
//! read or change the running configuration (vni.*, vtep.*, fdb.add/del/flush,
//! neigh.add/del, arp.*, config.*), serialized through [`super::live::Live`];
//! [`super::service_cmds`] the routing mesh's (service.*, backend.*, conntrack.*).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::tables::fdb::FdbFilter;
use crate::wire::MacAddr;
use crate::worker::Shared;

/// Protocol version spoken.
pub const PROTOCOL_VERSION: u64 = 1;
/// Largest request line accepted (bytes).
pub const MAX_REQUEST: usize = 64 * 1024;
/// Clients served at once.
pub const MAX_CLIENTS: usize = 64;

/// What the control socket can see.
pub struct ControlState {
    /// Tables shared with the workers.
    pub shared: Arc<Shared>,
    /// Sums the workers' counters into JSON (the same object the stats line prints).
    pub stats: Box<dyn Fn() -> Value + Send + Sync>,
    /// Started ports: (id, name, mac, link up).
    pub ports: Box<dyn Fn() -> Value + Send + Sync>,
    /// When the gateway started.
    pub started: Instant,
    /// Worker lcores.
    pub workers: Vec<u32>,
    /// The running configuration and the one writer that changes it.
    pub live: Arc<super::live::Live>,
}

/// Answers one request line. Never panics on any input.
pub fn handle(state: &ControlState, line: &str) -> Value {
    match dispatch(state, line) {
        Ok(result) => json!({"ok": true, "result": result}),
        Err(e) => json!({"ok": false, "error": e}),
    }
}

fn dispatch(state: &ControlState, line: &str) -> Result<Value, String> {
    let req: Value = serde_json::from_str(line).map_err(|e| format!("malformed JSON: {e}"))?;
    let obj = req.as_object().ok_or("a request is a JSON object")?;
    match obj.get("v").and_then(Value::as_u64) {
        Some(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "unsupported protocol version {v} (this vxgw speaks {PROTOCOL_VERSION})"
            ))
        }
        None => return Err("missing protocol version \"v\"".into()),
    }
    let cmd = obj
        .get("cmd")
        .and_then(Value::as_str)
        .ok_or("missing \"cmd\"")?;
    let empty = serde_json::Map::new();
    let args = match obj.get("args") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err("\"args\" must be an object".into()),
    };
    let sh = &state.shared;
    let now = sh.clock.now();
    match cmd {
        "status" => Ok(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": state.started.elapsed().as_secs(),
            "workers": state.workers,
            "ports": (state.ports)(),
            "generation": sh.snap.load().generation,
            "state_file": state.live.state_file().map(|p| p.display().to_string()),
        })),
        "stats" => Ok((state.stats)()),
        "fdb.show" => {
            let mut filter = FdbFilter::all();
            if let Some(v) = args.get("vni") {
                let vni = v
                    .as_u64()
                    .filter(|&n| n > 0 && n <= 0xff_ffff)
                    .ok_or("vni must be 1-16777215")?;
                filter = filter.vni(vni as u32);
            }
            let mac = match args.get("mac") {
                Some(m) => Some(
                    m.as_str()
                        .and_then(|s| s.parse::<MacAddr>().ok())
                        .ok_or("mac must be a MAC address like 02:42:0a:ff:00:0b")?,
                ),
                None => None,
            };
            let snap = sh.snap.load();
            let rows: Vec<Value> = sh
                .fdb
                .entries(&filter, now)
                .into_iter()
                .filter(|e| mac.is_none_or(|m| m == e.mac))
                .map(|e| {
                    let (kind, dest) = match e.dest {
                        crate::tables::fdb::FdbDest::Vtep(ip) => ("vtep", json!(ip.to_string())),
                        crate::tables::fdb::FdbDest::Access { port, vlan } => (
                            "access",
                            json!({"port": snap.port(port).map(|p| p.name.clone()).unwrap_or_else(|| port.to_string()), "vlan": vlan}),
                        ),
                    };
                    json!({"vni": e.vni, "mac": e.mac.to_string(), "kind": kind, "dest": dest,
                           "static": e.is_static, "age_s": e.age})
                })
                .collect();
            Ok(Value::Array(rows))
        }
        // The link neighbours (underlay next hops, external clients and gateway), then
        // the overlay neighbours (backends' MACs, learned by ARP in the VNIs, with the
        // VNI: overlays of different tenants may reuse addresses).
        "neigh.show" => Ok(Value::Array(
            sh.neigh
                .entries()
                .into_iter()
                .map(|n| (n, "link"))
                .chain(sh.overlay_neigh.entries().into_iter().map(|n| (n, "overlay")))
                .map(|(n, table)| {
                    json!({"ip": n.ip.to_string(), "mac": n.mac.map(|m| m.to_string()),
                           "static": n.is_static, "age_s": now.saturating_sub(n.updated),
                           "table": table, "vni": n.vni})
                })
                .collect(),
        )),
        other => super::commands::dispatch(&state.live, other, args)
            .or_else(|| super::service_cmds::dispatch(&state.live, now, other, args))
            .unwrap_or_else(|| {
                Err(format!(
                    "unknown command '{other}' (known: status, stats, fdb.show, neigh.show, {}, {})",
                    super::commands::COMMANDS.join(", "),
                    super::service_cmds::COMMANDS.join(", ")
                ))
            }),
    }
}

/// A listening control socket; removed from the filesystem when dropped.
pub struct ControlServer {
    path: PathBuf,
}

impl ControlServer {
    /// Binds `path` (mode 0660; a stale socket file is replaced) and serves requests
    /// on a background thread until the process exits.
    /// Only root, vxgw's own user and members of `group` may talk to it (the socket
    /// file belongs to `group` when one is given).
    pub fn start(
        path: &Path,
        state: Arc<ControlState>,
        group: Option<u32>,
    ) -> std::io::Result<ControlServer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            // A live vxgw answers; a stale file from a crash does not.
            if UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("{} is in use by a running vxgw", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
        if let Some(g) = group {
            nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(g)))
                .map_err(std::io::Error::from)?;
        }
        let clients = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("vxgw-control".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(mut conn) = conn else { continue };
                    if clients.load(Ordering::Relaxed) >= MAX_CLIENTS {
                        let _ = writeln!(
                            conn,
                            "{}",
                            json!({"ok": false, "error": "too many clients"})
                        );
                        continue;
                    }
                    clients.fetch_add(1, Ordering::Relaxed);
                    let (state, clients) = (state.clone(), clients.clone());
                    let _ = std::thread::Builder::new()
                        .name("vxgw-client".into())
                        .spawn(move || {
                            serve(&state, conn, group);
                            clients.fetch_sub(1, Ordering::Relaxed);
                        });
                }
            })?;
        Ok(ControlServer {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(state: &ControlState, conn: UnixStream, group: Option<u32>) {
    if let Err(e) = super::peer::authorise(&conn, group) {
        // Read the request (briefly) so the client sees the answer, not a reset.
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = Vec::new();
        let _ = BufReader::new(&conn)
            .take(MAX_REQUEST as u64)
            .read_until(b'\n', &mut line);
        let _ = writeln!(&conn, "{}", json!({"ok": false, "error": e}));
        return;
    }
    let _ = conn.set_read_timeout(Some(Duration::from_secs(300)));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = Vec::new();
        // Read at most MAX_REQUEST + 1 bytes of one line.
        let n = match (&mut reader)
            .take(MAX_REQUEST as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let resp = if n > MAX_REQUEST {
            // Skip the rest of the oversized line, then answer once.
            let mut sink = Vec::new();
            let _ = reader.read_until(b'\n', &mut sink);
            json!({"ok": false, "error": format!("request larger than {MAX_REQUEST} bytes")})
        } else {
            match std::str::from_utf8(&line) {
                Ok(s) if s.trim().is_empty() => continue,
                Ok(s) => handle(state, s.trim()),
                Err(_) => json!({"ok": false, "error": "request is not UTF-8"}),
            }
        };
        if writeln!(out, "{resp}").is_err() {
            return;
        }
    }
}
