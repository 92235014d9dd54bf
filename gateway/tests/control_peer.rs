//! The control socket checks who is calling (SO_PEERCRED), not only the socket file's
//! mode: even with the file opened to everyone, an unprivileged user outside the
//! control group is refused, a member of the group is served, and root always is.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vxgw_tests::pcap_gateway::CONFIG;
use vxgw_tests::{cleanup_prefix, eal_args, file_prefix, write_pcap, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");

/// Sends one status request as uid/gid `id` (with `groups` as supplementary groups)
/// and returns the answer line.
fn ask_as(sock: &Path, id: u32, groups: &str) -> String {
    let script = format!(
        "import socket;s=socket.socket(socket.AF_UNIX);s.connect({:?});\
         s.sendall(b'{{\"v\":1,\"cmd\":\"status\"}}\\n');print(s.makefile().readline().strip())",
        sock.display().to_string()
    );
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={id}"))
        .arg(format!("--regid={id}"));
    if groups.is_empty() {
        cmd.arg("--clear-groups");
    } else {
        cmd.arg(format!("--groups={groups}"));
    }
    let out = cmd
        .args(["/usr/bin/python3", "-c", &script])
        .output()
        .expect("setpriv (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn strangers_are_refused_members_and_root_are_served() {
    let dir = TempDir::new("ctl_peer");
    let prefix = file_prefix("peer");
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    write_pcap(&dir.join("empty.pcap"), &[]);
    let sock = dir.join("vxgw.sock");
    let vdevs: Vec<String> = (0..2)
        .map(|i| {
            format!(
                "net_pcap{i},rx_pcap={},tx_pcap={}",
                dir.join("empty.pcap").display(),
                dir.join(&format!("out{i}.pcap")).display()
            )
        })
        .collect();
    let mut a: Vec<String> = [
        "--config",
        &dir.join("gw.toml").display().to_string(),
        "--socket",
        &sock.display().to_string(),
        "--socket-group",
        "4242",
        "--state",
        "none",
        "--metrics-addr",
        "none",
        "--",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(eal_args(&prefix, &vdevs));
    let mut p = Process::spawn(Path::new(VXGW), &a);
    assert!(
        p.wait_stderr("gateway running", Duration::from_secs(20)),
        "{}",
        p.stderr()
    );
    // Open the path to everyone (directory and socket), so only SO_PEERCRED stands.
    let tmp = sock.parent().unwrap();
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660, "socket mode");
    assert_eq!(
        std::os::unix::fs::MetadataExt::gid(&meta),
        4242,
        "socket group"
    );
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();

    let stranger = ask_as(&sock, 65534, "");
    assert!(
        stranger.contains("\"ok\":false") && stranger.contains("permission denied: uid 65534"),
        "a stranger must be refused: {stranger}"
    );
    let member = ask_as(&sock, 65534, "4242");
    assert!(
        member.contains("\"ok\":true"),
        "a group member is served: {member}"
    );
    let root = ask_as(&sock, 0, "");
    assert!(root.contains("\"ok\":true"), "root is served: {root}");

    assert!(p.stop().expect("exits").success(), "{}", p.stderr());
    cleanup_prefix(&prefix);
}
