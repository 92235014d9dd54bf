//! Issue 24 on a real vxgw (net_null ports): the control socket's holes, each a test
//! that failed before.
//! - unknown argument keys are errors for every command (`status {"x":1}`,
//!   `fdb.show {"vni":4096,"foo":1}` were accepted);
//! - invalid values are refused and change nothing (`fdb.add` with VLAN 5000, or to
//!   another VNI's segment; `neigh.add` with a multicast MAC moved the generation);
//! - bounded memory: a client streaming 256 MiB without a newline leaves vxgw's RSS
//!   within a few MiB (it grew by 257 MiB), and the connection still works after;
//! - 64 idle clients do not lock root out (they did, for up to 300 s), and idle
//!   clients are closed after `--control-idle`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vxgw_tests::{cleanup_prefix, eal_args, file_prefix, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = 4096

[[port]]
name = "net_null0"
roles = ["underlay"]

[[port]]
name = "net_null1"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{ port = "net_null1", vlan = 100 }]

[[vni]]
id = 5000
access = [{ port = "net_null1", vlan = 904 }]
"#;

struct Gw {
    p: Process,
    sock: PathBuf,
    prefix: String,
    _dir: TempDir,
}

impl Gw {
    fn start(tag: &str, extra: &[&str]) -> Gw {
        let dir = TempDir::new(tag);
        std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
        let sock = dir.join("vxgw.sock");
        let prefix = file_prefix(tag);
        let mut a: Vec<String> = vec![
            "--config".into(),
            dir.join("gw.toml").display().to_string(),
            "--socket".into(),
            sock.display().to_string(),
            "--state".into(),
            "none".into(),
            "--metrics-addr".into(),
            "none".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push("--".into());
        a.extend(eal_args(
            &prefix,
            &["net_null0,no-rx=1".into(), "net_null1,no-rx=1".into()],
        ));
        let p = Process::spawn(Path::new(VXGW), &a);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if req(&sock, &json!({"v": 1, "cmd": "status"})).is_some() {
                return Gw {
                    p,
                    sock,
                    prefix,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("vxgw did not come up; stderr:\n{}", p.stderr());
    }

    fn ask(&self, cmd: &str, args: Value) -> Value {
        req(&self.sock, &json!({"v": 1, "cmd": cmd, "args": args}))
            .unwrap_or_else(|| panic!("no answer to {cmd}; {}", self.p.stderr()))
    }

    fn generation(&self) -> u64 {
        self.ask("status", json!({}))["result"]["generation"]
            .as_u64()
            .unwrap()
    }

    fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.p.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        self.p.stop();
        cleanup_prefix(&self.prefix);
    }
}

fn req(sock: &Path, v: &Value) -> Option<Value> {
    let mut c = UnixStream::connect(sock).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    writeln!(c, "{v}").ok()?;
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}

#[test]
fn unknown_keys_and_invalid_values_are_refused_and_change_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let gw = Gw::start("ctllim_keys", &[]);
    let before = gw.ask("config.show", json!({}))["result"]["toml"].clone();
    let gen = gw.generation();
    let cases: &[(&str, Value, &str)] = &[
        ("status", json!({"x": 1}), "unknown field `x`"),
        ("stats", json!({"x": 1}), "unknown field `x`"),
        ("neigh.show", json!({"x": 1}), "unknown field `x`"),
        (
            "fdb.show",
            json!({"vni": 4096, "foo": 1}),
            "unknown field `foo`",
        ),
        ("vtep.show", json!({"x": 1}), "unknown field `x`"),
        (
            "fdb.add",
            json!({"vni": 4096, "mac": "02:00:00:00:00:09", "port": "net_null1", "vlan": 5000}),
            "fdb[0].vlan: 5000 is not 0-4094",
        ),
        (
            "fdb.add",
            json!({"vni": 4096, "mac": "02:00:00:00:00:09", "port": "net_null1", "vlan": 904}),
            "fdb[0]: port 'net_null1' vlan 904 is not an access member of VNI 4096",
        ),
        (
            "fdb.add",
            json!({"vni": 4096, "mac": "01:00:5e:00:00:01", "vtep": "172.30.0.11"}),
            "fdb[0].mac: 01:00:5e:00:00:01 is not a unicast MAC",
        ),
        (
            "neigh.add",
            json!({"ip": "172.30.0.11", "mac": "01:00:5e:00:00:01"}),
            "neighbour[0].mac: 01:00:5e:00:00:01 is not a unicast MAC",
        ),
        (
            "neigh.add",
            json!({"ip": "224.0.0.1", "mac": "02:00:00:00:00:01"}),
            "neighbour[0].ip: 224.0.0.1 is not a unicast host address",
        ),
        (
            "arp.add",
            json!({"vni": 4096, "ip": "10.0.0.1", "mac": "ff:ff:ff:ff:ff:ff"}),
            "vni[0].arp[0].mac: ff:ff:ff:ff:ff:ff is not a unicast MAC",
        ),
        (
            "vtep.add",
            json!({"ip": "255.255.255.255"}),
            "vtep[1].ip: 255.255.255.255 is not a unicast host address",
        ),
    ];
    for (cmd, args, want) in cases {
        let r = gw.ask(cmd, args.clone());
        assert_eq!(r["ok"], false, "{cmd} {args}: {r}");
        let e = r["error"].as_str().unwrap_or_default();
        assert!(e.contains(want), "{cmd} {args}: {e:?} lacks {want:?}");
    }
    assert_eq!(gw.generation(), gen, "a refused request published");
    assert_eq!(gw.ask("config.show", json!({}))["result"]["toml"], before);
    // The same commands without the bad key or value still work.
    for (cmd, args) in [
        ("status", json!({})),
        ("fdb.show", json!({"vni": 4096})),
        ("neigh.show", json!(null)),
    ] {
        assert_eq!(gw.ask(cmd, args.clone())["ok"], true, "{cmd} {args}");
    }
    let r = gw.ask(
        "fdb.add",
        json!({"vni": 4096, "mac": "02:00:00:00:00:09", "port": "net_null1", "vlan": 100}),
    );
    assert_eq!(r["ok"], true, "{r}");
}

#[test]
fn streaming_256_mib_without_a_newline_keeps_memory_flat() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let gw = Gw::start("ctllim_mem", &[]);
    let base = gw.rss_kib();
    let mut c = UnixStream::connect(&gw.sock).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut peak = base;
    for i in 0..256 {
        c.write_all(&chunk).unwrap();
        if i % 16 == 15 {
            peak = peak.max(gw.rss_kib());
        }
    }
    writeln!(c).unwrap();
    writeln!(c, "{}", json!({"v": 1, "cmd": "status"})).unwrap();
    let mut rd = BufReader::new(&c);
    let (mut l1, mut l2) = (String::new(), String::new());
    rd.read_line(&mut l1).unwrap();
    rd.read_line(&mut l2).unwrap();
    peak = peak.max(gw.rss_kib());
    let r1: Value = serde_json::from_str(&l1).unwrap();
    let r2: Value = serde_json::from_str(&l2).unwrap();
    assert!(
        r1["error"]
            .as_str()
            .unwrap_or_default()
            .contains("request larger than 65536 bytes"),
        "{r1}"
    );
    assert_eq!(r2["ok"], true, "the connection survives: {r2}");
    assert!(
        peak < base + 4 * 1024,
        "RSS grew from {base} KiB to {peak} KiB while 256 MiB streamed"
    );
}

#[test]
fn sixty_four_idle_clients_do_not_lock_out_root() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let gw = Gw::start("ctllim_full", &[]);
    let idle: Vec<UnixStream> = (0..64)
        .map(|_| UnixStream::connect(&gw.sock).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    // This test runs as root (DPDK needs it): a full house of idle clients still
    // answers, again and again (each newcomer takes the longest-idle slot).
    let t0 = Instant::now();
    for _ in 0..8 {
        let r = gw.ask("status", json!({}));
        assert_eq!(r["ok"], true, "{r}");
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The longest-idle client was closed with a word why.
    let mut first = BufReader::new(&idle[0]);
    idle[0]
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut l = String::new();
    first.read_line(&mut l).unwrap();
    assert!(
        l.contains("idle while every control slot was taken"),
        "{l:?}"
    );
    let mut rest = Vec::new();
    assert_eq!(first.read_to_end(&mut rest).unwrap(), 0, "then closed");
}

#[test]
fn idle_clients_are_closed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let gw = Gw::start("ctllim_idle", &["--control-idle", "1"]);
    let c = UnixStream::connect(&gw.sock).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t0 = Instant::now();
    let mut l = String::new();
    let mut rd = BufReader::new(&c);
    rd.read_line(&mut l).unwrap();
    assert!(l.contains("idle for 1 s; connection closed"), "{l:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    let mut rest = Vec::new();
    assert_eq!(rd.read_to_end(&mut rest).unwrap(), 0, "then closed");
    assert_eq!(gw.ask("status", json!({}))["ok"], true);
}
