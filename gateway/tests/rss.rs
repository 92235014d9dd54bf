//! RSS set explicitly and shown: with two workers, the gateway's ports hash by role
//! (the underlay VXLAN's outer UDP 4-tuple, the access and external ports the
//! 5-tuple), with vxgw's symmetric key, and a redirection table that spreads over
//! both queues in turn; `status` reads all of it back from the device. net_null is
//! the virtual device that implements RSS configuration. With one worker a port
//! does not hash, and `status` says nothing of RSS.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use vxgw_tests::{cleanup_prefix, file_prefix, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");

const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"
external_prefix_len = 24

[[port]]
name = "net_null0"
roles = ["underlay"]

[[port]]
name = "net_null1"
roles = ["access", "external"]

[[vtep]]
ip = "172.30.0.11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{ port = "net_null1", vlan = 100 }]
"#;

fn status(sock: &Path) -> Value {
    use std::io::{BufRead, BufReader, Write};
    let mut c = std::os::unix::net::UnixStream::connect(sock).expect("control socket");
    writeln!(c, "{}", json!({"v": 1, "cmd": "status"})).unwrap();
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).expect("JSON answer");
    assert_eq!(v["ok"], true, "{v}");
    v["result"].clone()
}

/// Starts vxgw on two net_null ports with EAL lcores `lcores`; returns the process
/// and its status once up.
fn start(dir: &TempDir, prefix: &str, lcores: &str) -> (Process, Value) {
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    let sock = dir.join("vxgw.sock");
    let args: Vec<String> = [
        "--config",
        &dir.join("gw.toml").display().to_string(),
        "--state",
        "none",
        "--metrics-addr",
        "none",
        "--socket",
        &sock.display().to_string(),
        "--",
        lcores,
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        &format!("--file-prefix={prefix}"),
        "--vdev=net_null0",
        "--vdev=net_null1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let p = Process::spawn(Path::new(VXGW), &args);
    assert!(
        p.wait_stderr("gateway running", Duration::from_secs(20)),
        "{}",
        p.stderr()
    );
    let s = status(&sock);
    (p, s)
}

#[test]
fn two_workers_hash_by_role_with_the_symmetric_key_and_an_even_table() {
    let dir = TempDir::new("rss");
    let prefix = file_prefix("rss");
    // Two workers on lcores 1 and 2, both on CPU 1.
    let (mut p, s) = start(&dir, &prefix, "--lcores=0@0,1@1,2@1");
    let ports = s["ports"].as_array().unwrap();
    let port = |name: &str| ports.iter().find(|p| p["name"] == name).unwrap().clone();
    let key = "6d5a".repeat(20);
    let underlay = port("net_null0");
    let rss = &underlay["rss"];
    assert_eq!(
        rss["fields"],
        json!(["ipv4", "ipv4-frag", "ipv4-udp"]),
        "{underlay}"
    );
    assert_eq!(rss["key"], key.as_str());
    let access = port("net_null1");
    assert_eq!(
        access["rss"]["fields"],
        json!(["ipv4", "ipv4-frag", "ipv4-tcp", "ipv4-udp"]),
        "{access}"
    );
    for p in [&underlay, &access] {
        let reta: Vec<u64> = p["rss"]["reta"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q.as_u64().unwrap())
            .collect();
        assert!(reta.len() >= 64, "{p}");
        assert!(
            reta.iter().enumerate().all(|(i, &q)| q == i as u64 % 2),
            "entries alternate between the two queues: {reta:?}"
        );
    }
    assert!(p.stop().expect("exits").success(), "{}", p.stderr());
    cleanup_prefix(&prefix);

    // One worker: nothing to spread, the ports do not hash.
    let prefix = file_prefix("rss1");
    let (mut p, s) = start(&dir, &prefix, "-l0-1");
    for port in s["ports"].as_array().unwrap() {
        assert!(port.get("rss").is_none(), "{port}");
    }
    assert!(p.stop().expect("exits").success(), "{}", p.stderr());
    cleanup_prefix(&prefix);
}
