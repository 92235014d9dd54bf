//! Who may use the control socket: root, the user vxgw runs as, and members of the
//! configured group (`--socket-group`). The socket file's mode (0660) is the first
//! gate; the kernel's account of the peer (SO_PEERCRED) is the second, so a socket
//! made world-accessible by mistake still refuses strangers.

use std::os::unix::net::UnixStream;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

/// Checks the connected peer; Err carries the message the client gets.
pub fn authorise(conn: &UnixStream, group: Option<u32>) -> Result<(), String> {
    let cred = getsockopt(conn, PeerCredentials).map_err(|e| format!("peer credentials: {e}"))?;
    let (uid, gid, pid) = (cred.uid(), cred.gid(), cred.pid());
    if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
        return Ok(());
    }
    if let Some(g) = group {
        if gid == g || supplementary_groups(pid).contains(&g) {
            return Ok(());
        }
    }
    Err(format!(
        "permission denied: uid {uid} is neither root nor in the control group{}",
        group.map(|g| format!(" (gid {g})")).unwrap_or_default()
    ))
}

/// The peer's supplementary groups (SO_PEERCRED gives only the primary one).
fn supplementary_groups(pid: i32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Groups:")).map(|g| {
                g.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// Resolves a group name (or a numeric gid) for `--socket-group`.
pub fn group_id(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("no group named '{name}'")),
        Err(e) => Err(format!("group '{name}': {e}")),
    }
}
