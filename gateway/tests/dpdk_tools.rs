//! DPDK's own tools against a running vxgw: `dpdk-telemetry.py` answers DPDK's
//! commands and ours (`/vxgw/stats`, `/vxgw/fdb`, `/vxgw/neigh`), and `dpdk-dumpcap`
//! captures packets on one of vxgw's ports (pdump). Capturing needs EAL's shared
//! hugepage memory (a secondary process maps it): when no hugepages are free the
//! capture part is skipped with a message (scripts/test.sh reserves them).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vxgw_tests::pcap_gateway::{inner, C1, SRV};
use vxgw_tests::{cleanup_prefix, file_prefix, write_pcap, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");

const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"

[[port]]
name = "net_null0"
roles = ["underlay"]

[[port]]
name = "net_pcap0"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[neighbour]]
ip = "172.30.0.11"
mac = "02:00:00:00:11:11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{ port = "net_pcap0", vlan = 0 }]

[[fdb]]
vni = 4096
mac = "02:42:0a:ff:00:0b"
vtep = "172.30.0.11"
"#;

fn free_hugepages() -> u64 {
    let mounted = std::fs::read_to_string("/proc/mounts").is_ok_and(|m| m.contains("hugetlbfs"));
    let free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("HugePages_Free:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    if mounted {
        free
    } else {
        0
    }
}

fn telemetry(prefix: &str, cmd: &str) -> serde_json::Value {
    let mut child = Command::new("dpdk-telemetry.py")
        .args(["-f", prefix])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dpdk-telemetry.py runs (package dpdk)");
    writeln!(child.stdin.take().unwrap(), "{cmd}").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // The script prints a greeting line, then one JSON line per command.
    let line = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .find(|l| l.contains(cmd.split(',').next().unwrap()))
        .unwrap_or_else(|| {
            panic!(
                "no answer to {cmd}: {text} / {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}

#[test]
fn telemetry_and_dumpcap_work_against_vxgw() {
    let dir = TempDir::new("dpdk_tools");
    let prefix = file_prefix("tools");
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    write_pcap(
        &dir.join("in.pcap"),
        &(0..16).map(|n| inner(SRV, C1, n)).collect::<Vec<_>>(),
    );
    let huge = free_hugepages() >= 128;
    let mut args: Vec<String> = [
        "--config",
        &dir.join("gw.toml").display().to_string(),
        "--socket",
        &dir.join("s.sock").display().to_string(),
        "--state",
        "none",
        "--metrics-addr",
        "none",
        "--",
        "-l",
        "0-1",
        "--no-pci",
        &format!("--file-prefix={prefix}"),
        &format!(
            "--vdev=net_pcap0,rx_pcap={},infinite_rx=1",
            dir.join("in.pcap").display()
        ),
        "--vdev=net_null0,no-rx=1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if huge {
        args.extend(["-m", "256"].map(String::from));
    } else {
        args.extend(["--no-huge", "-m", "256"].map(String::from));
    }
    let mut p = Process::spawn(Path::new(VXGW), &args);
    assert!(
        p.wait_stderr("gateway running", Duration::from_secs(20)),
        "vxgw did not start: {}",
        p.stderr()
    );
    std::thread::sleep(Duration::from_millis(500));

    // DPDK's own command and ours.
    let ports = telemetry(&prefix, "/ethdev/list");
    assert_eq!(ports["/ethdev/list"], serde_json::json!([0, 1]), "{ports}");
    let stats = telemetry(&prefix, "/vxgw/stats");
    let s = &stats["/vxgw/stats"];
    assert!(s["rx_packets"].as_u64().unwrap() > 1000, "{stats}");
    assert!(s["event_encapsulated"].as_u64().unwrap() > 1000, "{stats}");
    assert_eq!(s["drop_unknown_vtep"], 0, "every reason is listed: {stats}");
    let fdb = telemetry(&prefix, "/vxgw/fdb,4096");
    assert_eq!(
        fdb["/vxgw/fdb"]["4096_02_42_0a_ff_00_0b"], "vtep 172.30.0.11 static age 0s",
        "{fdb}"
    );
    assert!(
        fdb["/vxgw/fdb"]["4096_02_00_0a_ff_00_64"]
            .as_str()
            .is_some_and(|d| d.starts_with("port net_pcap0 vlan 0 dynamic")),
        "{fdb}"
    );
    let ct = telemetry(&prefix, "/vxgw/conntrack");
    assert_eq!(ct["/vxgw/conntrack"]["capacity"], 1_048_576, "{ct}");
    assert_eq!(ct["/vxgw/conntrack"]["established"], 0, "{ct}");
    let neigh = telemetry(&prefix, "/vxgw/neigh");
    assert_eq!(
        neigh["/vxgw/neigh"]["172_30_0_11"], "02:00:00:00:11:11",
        "{neigh}"
    );

    if huge {
        let cap = dir.join("cap.pcapng");
        let st = Command::new("timeout")
            .args([
                "30",
                "dpdk-dumpcap",
                &format!("--file-prefix={prefix}"),
                "-i",
                "net_null0",
                "-c",
                "50",
                "-w",
            ])
            .arg(&cap)
            .output()
            .expect("dpdk-dumpcap runs");
        assert!(
            st.status.success(),
            "dpdk-dumpcap: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let out = Command::new("tshark")
            .args(["-r"])
            .arg(&cap)
            .args([
                "-Y",
                "vxlan.vni == 4096 && eth.src == 02:00:0a:ff:00:64",
                "-T",
                "fields",
                "-e",
                "ip.dst",
            ])
            .output()
            .expect("tshark runs");
        let rows = String::from_utf8_lossy(&out.stdout);
        // dumpcap stops after the burst that reaches its count.
        assert!(rows.lines().count() >= 50, "captured VXLAN frames: {rows}");
        assert!(
            rows.lines().all(|l| l.starts_with("172.30.0.11,")),
            "{rows}"
        );
    } else {
        eprintln!("dpdk_tools: no free hugepages: dpdk-dumpcap part skipped (telemetry checked)");
    }
    assert!(p.stop().expect("exits").success(), "{}", p.stderr());
    cleanup_prefix(&prefix);
    if let Ok(d) = std::fs::read_dir("/dev/hugepages") {
        for e in d.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{prefix}map_"))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
