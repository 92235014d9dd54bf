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

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use vxgw_api::{
    Answer, ApiError, FdbDestination, FdbRow, Mac, NeighTable, NeighbourRow, PortStatus, Reply,
    Request, Stats, Status,
};
pub use vxgw_api::{MAX_REQUEST, PROTOCOL_VERSION};

use crate::runtime::Shared;
use crate::tables::fdb::{FdbDest, FdbFilter};
/// Clients served at once (root gets [`ROOT_RESERVE`] more when none can be evicted).
pub const MAX_CLIENTS: usize = 64;

/// What the control socket can see.
pub struct ControlState {
    /// Tables shared with the workers.
    pub shared: Arc<Shared>,
    /// Sums the workers' counters (the same object the stats line prints).
    pub stats: Box<dyn Fn() -> Stats + Send + Sync>,
    /// The started ports and their counters.
    pub ports: Box<dyn Fn() -> Vec<PortStatus> + Send + Sync>,
    /// When the gateway started.
    pub started: Instant,
    /// Worker lcores.
    pub workers: Vec<u32>,
    /// The running configuration and the one writer that changes it.
    pub live: Arc<super::live::Live>,
}

/// Answers one request line. Never panics on any input.
pub fn handle(state: &ControlState, line: &str) -> Value {
    Reply::from_result(dispatch(state, line).map(|a| a.to_value()))
}

fn dispatch(state: &ControlState, line: &str) -> Result<Answer, ApiError> {
    let req = vxgw_api::parse_request(line)?;
    let sh = &state.shared;
    let now = sh.clock.now();
    match req {
        Request::Status(_) => Ok(Answer::Status(Status {
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_s: state.started.elapsed().as_secs(),
            workers: state.workers.clone(),
            ports: (state.ports)(),
            generation: sh.snap.load().generation,
            state_file: state.live.state_file().map(|p| p.display().to_string()),
        })),
        Request::Stats(_) => Ok(Answer::Stats((state.stats)())),
        Request::FdbShow(a) => {
            let mut filter = FdbFilter::all();
            if let Some(vni) = a.vni {
                if vni == 0 || vni > vxgw_api::VNI_MAX {
                    return Err(ApiError::InvalidArguments {
                        cmd: "fdb.show".into(),
                        msg: "vni must be 1-16777215".into(),
                    });
                }
                filter = filter.vni(vni);
            }
            let mac = a.mac.map(super::commands::mac);
            let snap = sh.snap.load();
            Ok(Answer::Fdb(
                sh.fdb
                    .entries(&filter, now)
                    .into_iter()
                    .filter(|e| mac.is_none_or(|m| m == e.mac))
                    .map(|e| FdbRow {
                        vni: e.vni,
                        mac: Mac(e.mac.0),
                        destination: match e.dest {
                            FdbDest::Vtep(ip) => FdbDestination::Vtep(ip),
                            FdbDest::Access { port, vlan } => FdbDestination::Access {
                                port: snap
                                    .port(port)
                                    .map(|p| p.name.clone())
                                    .unwrap_or_else(|| port.to_string()),
                                vlan,
                            },
                        },
                        is_static: e.is_static,
                        age_s: e.age,
                    })
                    .collect(),
            ))
        }
        // The link neighbours (underlay next hops, external clients and gateway), then
        // the overlay neighbours (backends' MACs, learned by ARP in the VNIs, with the
        // VNI: overlays of different tenants may reuse addresses).
        Request::NeighShow(_) => Ok(Answer::Neighbours(
            sh.neigh
                .entries()
                .into_iter()
                .map(|n| (n, NeighTable::Link))
                .chain(
                    sh.overlay_neigh
                        .entries()
                        .into_iter()
                        .map(|n| (n, NeighTable::Overlay)),
                )
                .map(|(n, table)| NeighbourRow {
                    ip: n.ip,
                    mac: n.mac.map(|m| Mac(m.0)),
                    is_static: n.is_static,
                    age_s: now.saturating_sub(n.updated),
                    table,
                    vni: n.vni,
                })
                .collect(),
        )),
        Request::TracePacket(a) => {
            super::trace_cmd::trace_packet(sh, &state.live, now, &a).map(Answer::Trace)
        }
        Request::TraceStart(a) => {
            super::trace_cmd::trace_start(sh, &state.live, &a).map(Answer::LiveTrace)
        }
        Request::TraceShow(_) => Ok(Answer::LiveTrace(super::trace_cmd::live_report(sh))),
        Request::TraceStop(_) => {
            sh.live_trace.stop();
            Ok(Answer::LiveTrace(super::trace_cmd::live_report(sh)))
        }
        req => super::commands::answer(&state.live, &req)
            .or_else(|| super::service_cmds::answer(&state.live, now, &req))
            .unwrap_or_else(|| Err(ApiError::UnknownCommand(req.cmd().into()))),
    }
}

/// How the control socket treats its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A client that sends nothing for this long is closed.
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { idle: IDLE_TIMEOUT }
    }
}

/// Default idle timeout of a client (`--control-idle`).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// With every slot taken, a client idle for at least this long is closed to make
/// room for a new one (a client in the middle of a request never is).
pub const EVICT_IDLE: Duration = Duration::from_millis(500);
/// Extra slots for root when no client can be evicted: an operator is never locked out.
pub const ROOT_RESERVE: usize = 4;
/// Bytes read from the socket at a time (an oversized line is discarded in these).
const CHUNK: usize = 8 * 1024;
/// Longest a reply may wait for a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// One connected client, as the accept loop sees it.
struct Slot {
    conn: UnixStream,
    last: Instant,
    busy: bool,
}

/// The connected clients, shared by the accept loop and the client threads
/// (management side only: a mutex, never seen by the workers).
#[derive(Default)]
struct Clients {
    next: u64,
    slots: std::collections::HashMap<u64, Slot>,
}

type Registry = Arc<std::sync::Mutex<Clients>>;

fn lock(r: &Registry) -> std::sync::MutexGuard<'_, Clients> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

impl Clients {
    /// Admits `conn` (a clone of it is kept to close it when evicted): `None` when
    /// the house is full, no client can be evicted and the peer is not root.
    fn admit(&mut self, conn: &UnixStream, now: Instant) -> Option<u64> {
        if self.slots.len() >= MAX_CLIENTS {
            let idlest = self
                .slots
                .iter()
                .filter(|(_, s)| !s.busy && now.duration_since(s.last) >= EVICT_IDLE)
                .min_by_key(|(_, s)| s.last)
                .map(|(&id, _)| id);
            match idlest {
                Some(id) => {
                    if let Some(s) = self.slots.remove(&id) {
                        let _ = writeln!(&s.conn, "{}", ApiError::Evicted.to_reply());
                        let _ = s.conn.shutdown(std::net::Shutdown::Both);
                    }
                }
                None if is_root(conn) && self.slots.len() < MAX_CLIENTS + ROOT_RESERVE => {}
                None => return None,
            }
        }
        let keep = conn.try_clone().ok()?;
        self.next += 1;
        self.slots.insert(
            self.next,
            Slot {
                conn: keep,
                last: now,
                busy: false,
            },
        );
        Some(self.next)
    }

    fn set(&mut self, id: u64, busy: bool) {
        if let Some(s) = self.slots.get_mut(&id) {
            s.busy = busy;
            s.last = Instant::now();
        }
    }
}

fn is_root(conn: &UnixStream) -> bool {
    nix::sys::socket::getsockopt(conn, nix::sys::socket::sockopt::PeerCredentials)
        .is_ok_and(|c| c.uid() == 0)
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
        limits: Limits,
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
        let clients: Registry = Arc::default();
        std::thread::Builder::new()
            .name("vxgw-control".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let _ = conn.set_write_timeout(Some(WRITE_TIMEOUT));
                    let Some(id) = lock(&clients).admit(&conn, Instant::now()) else {
                        let _ = writeln!(&conn, "{}", ApiError::TooManyClients.to_reply());
                        continue;
                    };
                    let (state, reg) = (state.clone(), clients.clone());
                    let spawned = std::thread::Builder::new()
                        .name("vxgw-client".into())
                        .spawn(move || {
                            serve(&state, conn, group, limits, &reg, id);
                            lock(&reg).slots.remove(&id);
                        });
                    if spawned.is_err() {
                        lock(&clients).slots.remove(&id);
                    }
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

/// What [`read_request`] got.
#[derive(Debug, PartialEq)]
enum Line {
    /// A whole line (without its newline), at most `MAX_REQUEST` bytes.
    Request(Vec<u8>),
    /// A line longer than `MAX_REQUEST`, discarded up to and including its newline.
    TooLong,
    /// End of stream (or a read error, or the idle timeout).
    End(Option<std::io::ErrorKind>),
}

/// Reads one request line with a hard bound: at most `MAX_REQUEST` bytes are kept;
/// the rest of a longer line is read and discarded in `CHUNK`-sized pieces, so memory
/// stays bounded whatever the client sends (even without a newline).
fn read_request(r: &mut impl BufRead) -> Line {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = match r.fill_buf() {
            Ok([]) => return Line::End(None),
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Line::End(Some(e.kind())),
        };
        let (piece, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if !too_long {
            if line.len() + piece.len() > MAX_REQUEST {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(piece);
            }
        }
        let used = end.unwrap_or(buf.len());
        r.consume(used);
        if end.is_some() {
            return if too_long {
                Line::TooLong
            } else {
                Line::Request(line)
            };
        }
    }
}

fn serve(
    state: &ControlState,
    conn: UnixStream,
    group: Option<u32>,
    limits: Limits,
    reg: &Registry,
    id: u64,
) {
    if let Err(e) = super::peer::authorise(&conn, group) {
        // Read the request (briefly) so the client sees the answer, not a reset.
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = read_request(&mut BufReader::with_capacity(CHUNK, &conn));
        let _ = writeln!(&conn, "{}", ApiError::PermissionDenied(e).to_reply());
        return;
    }
    let _ = conn.set_read_timeout(Some(limits.idle));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(CHUNK, conn);
    loop {
        let resp = match read_request(&mut reader) {
            Line::End(Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)) => {
                let _ = writeln!(out, "{}", ApiError::Idle(limits.idle.as_secs()).to_reply());
                return;
            }
            Line::End(_) => return,
            Line::TooLong => ApiError::TooLarge.to_reply(),
            Line::Request(line) => match std::str::from_utf8(&line) {
                Ok(s) if s.trim().is_empty() => continue,
                Ok(s) => {
                    lock(reg).set(id, true);
                    let r = handle(state, s.trim());
                    lock(reg).set(id, false);
                    r
                }
                Err(_) => ApiError::NotUtf8.to_reply(),
            },
        };
        if writeln!(out, "{resp}").is_err() {
            return;
        }
        lock(reg).set(id, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_bounded() {
        let big = vec![b'x'; MAX_REQUEST + 1];
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"a\":1}\n");
        input.extend_from_slice(&big);
        input.extend_from_slice(b"\nlast");
        input.extend_from_slice(&[b'y'; MAX_REQUEST]);
        input.extend_from_slice(b"\n");
        let mut r = BufReader::with_capacity(CHUNK, &input[..]);
        assert_eq!(read_request(&mut r), Line::Request(b"{\"a\":1}".to_vec()));
        assert_eq!(read_request(&mut r), Line::TooLong);
        assert_eq!(read_request(&mut r), Line::TooLong, "64 KiB + 4");
        assert_eq!(read_request(&mut r), Line::End(None));
        let exact = [vec![b'z'; MAX_REQUEST], vec![b'\n']].concat();
        let mut r = BufReader::with_capacity(CHUNK, &exact[..]);
        assert!(matches!(read_request(&mut r), Line::Request(l) if l.len() == MAX_REQUEST));
    }
}
