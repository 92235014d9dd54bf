//! Live changes over the control socket of a real vxgw (net_null / net_pcap virtual
//! devices, no hugepages, a temporary --socket and --state):
//! - every changing command round-trips (the change, the matching show, config.show);
//! - malformed, oversized, unknown, invalid and wrong-version requests get clear
//!   errors and leave config.show byte-identical and the state file untouched;
//! - 20 clients at once are all answered;
//! - kill -9 after changes, restart with the same --state (and the original
//!   --config): the running configuration is restored; a broken state file or one
//!   for other ports stops vxgw with a message naming it;
//! - under traffic, a live VLAN mapping is in effect on the worker within 10 ms, and
//!   many unrelated changes lose or misroute nothing;
//! - the routing mesh's commands on connections the workers created from client
//!   SYNs (net_pcap external port): service.show counts them per backend,
//!   conntrack.show/count/flush filter them, a drained backend keeps its
//!   connections and a deleted one loses them.
//!
//! The tests take a lock so that only one vxgw spins at a time (the 10 ms bound is
//! measured on shared cores).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vxgw::control::config::Config;
use vxgw_tests::{cleanup_prefix, eal_args, file_prefix, write_pcap, Process, TempDir};

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

[[vtep]]
ip = "172.30.0.12"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{ port = "net_null1", vlan = 100 }]
"#;

fn null_vdevs() -> Vec<String> {
    vec!["net_null0,no-rx=1".into(), "net_null1,no-rx=1".into()]
}

struct Gw {
    p: Process,
    sock: PathBuf,
    prefix: String,
}

impl Gw {
    /// Starts vxgw and waits until its socket answers.
    fn start(dir: &TempDir, tag: &str, vdevs: &[String]) -> Gw {
        let p = spawn(dir, tag, vdevs);
        let sock = dir.join("vxgw.sock");
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Ok(c) = UnixStream::connect(&sock) {
                drop(c);
                if try_req(&sock, &json!({"v": 1, "cmd": "status"})).is_some() {
                    return Gw {
                        p,
                        sock,
                        prefix: file_prefix(tag),
                    };
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("vxgw did not come up; stderr:\n{}", p.stderr());
    }

    fn req(&self, v: Value) -> Value {
        try_req(&self.sock, &v).unwrap_or_else(|| panic!("no answer to {v}; {}", self.p.stderr()))
    }

    /// A command that must succeed; its result.
    fn ok(&self, cmd: &str, args: Value) -> Value {
        let r = self.req(json!({"v": 1, "cmd": cmd, "args": args}));
        assert_eq!(r["ok"], true, "{cmd} {args}: {r}");
        r["result"].clone()
    }

    /// A command that must fail; its error.
    fn err(&self, cmd: &str, args: Value) -> String {
        let r = self.req(json!({"v": 1, "cmd": cmd, "args": args}));
        assert_eq!(r["ok"], false, "{cmd} {args} must fail: {r}");
        r["error"].as_str().unwrap_or_default().to_string()
    }

    fn toml(&self) -> String {
        self.ok("config.show", json!({}))["toml"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn config(&self) -> Config {
        Config::parse(&self.toml()).expect("config.show is a valid startup file")
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        self.p.stop();
        cleanup_prefix(&self.prefix);
    }
}

fn spawn(dir: &TempDir, tag: &str, vdevs: &[String]) -> Process {
    let mut a: Vec<String> = [
        "--config",
        &dir.join("gw.toml").display().to_string(),
        "--socket",
        &dir.join("vxgw.sock").display().to_string(),
        "--state",
        &dir.join("state/running.toml").display().to_string(),
        "--metrics-addr",
        "none",
        "--",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(eal_args(&file_prefix(tag), vdevs));
    Process::spawn(Path::new(VXGW), &a)
}

fn try_req(sock: &Path, v: &Value) -> Option<Value> {
    raw(sock, format!("{v}\n").as_bytes())
}

/// Sends raw bytes on a fresh connection; the answer line as JSON.
fn raw(sock: &Path, bytes: &[u8]) -> Option<Value> {
    let mut c = UnixStream::connect(sock).ok()?;
    c.write_all(bytes).ok()?;
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}

#[test]
fn every_change_round_trips() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("ctl_roundtrip");
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    let gw = Gw::start(&dir, "ctlrt", &null_vdevs());
    let state = dir.join("state/running.toml");
    assert!(!state.exists(), "nothing is saved before the first change");
    assert_eq!(gw.ok("status", json!({}))["generation"], 1);
    // Each step: the change, what the matching show must say, what the config must say.
    type Check = Box<dyn Fn(&Gw, &Config)>;
    let steps: Vec<(&str, Value, Check)> = vec![
        (
            "vtep.add",
            json!({"ip": "172.30.0.13"}),
            Box::new(|g, c| {
                assert!(c.vteps.iter().any(|v| v.ip.to_string() == "172.30.0.13"));
                let shown = g.ok("vtep.show", json!({}));
                assert!(
                    shown
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|v| v["ip"] == "172.30.0.13"),
                    "{shown}"
                );
            }),
        ),
        (
            "vni.add",
            json!({"id": 5000, "flood": ["172.30.0.12"], "access": [{"port": "net_null1", "vlan": 200}],
                   "learn_limit": 100, "gateway_ip": "10.0.5.1"}),
            Box::new(|g, c| {
                let v = c.vnis.iter().find(|v| v.id == 5000).expect("in config");
                assert_eq!((v.learn_limit, v.access[0].vlan), (Some(100), 200));
                let shown = g.ok("vni.show", json!({"id": 5000}));
                assert_eq!(shown[0]["flood"], json!(["172.30.0.12"]), "{shown}");
                assert_eq!(shown[0]["gateway_ip"], "10.0.5.1", "{shown}");
            }),
        ),
        (
            "vni.flood.add",
            json!({"id": 5000, "ip": "172.30.0.13"}),
            Box::new(|g, c| {
                assert_eq!(c.vnis[1].flood.len(), 2);
                assert_eq!(
                    g.ok("vni.show", json!({"id": 5000}))[0]["flood"],
                    json!(["172.30.0.12", "172.30.0.13"])
                );
            }),
        ),
        (
            "vni.flood.del",
            json!({"id": 5000, "ip": "172.30.0.12"}),
            Box::new(|g, c| {
                assert_eq!(c.vnis[1].flood.len(), 1);
                assert_eq!(
                    g.ok("vni.show", json!({"id": 5000}))[0]["flood"],
                    json!(["172.30.0.13"])
                );
            }),
        ),
        (
            "vni.access.add",
            json!({"id": 5000, "port": "net_null1", "vlan": 201}),
            Box::new(|g, c| {
                assert_eq!(c.vnis[1].access.len(), 2);
                let shown = g.ok("vni.show", json!({"id": 5000}));
                assert_eq!(
                    shown[0]["access"][1],
                    json!({"port": "net_null1", "vlan": 201}),
                    "{shown}"
                );
            }),
        ),
        (
            "vni.access.del",
            json!({"id": 5000, "port": "net_null1", "vlan": 200}),
            Box::new(|g, c| {
                assert_eq!(c.vnis[1].access.len(), 1);
                assert_eq!(
                    g.ok("vni.show", json!({"id": 5000}))[0]["access"]
                        .as_array()
                        .unwrap()
                        .len(),
                    1
                );
            }),
        ),
        (
            "vni.set",
            json!({"id": 5000, "ageing_secs": 42, "learn_limit": null}),
            Box::new(|g, c| {
                assert_eq!(
                    (c.vnis[1].ageing_secs, c.vnis[1].learn_limit),
                    (Some(42), None)
                );
                let shown = g.ok("vni.show", json!({"id": 5000}));
                assert_eq!(
                    (
                        shown[0]["ageing_secs"].clone(),
                        shown[0]["learn_limit"].clone()
                    ),
                    (json!(42), json!(65536))
                );
            }),
        ),
        (
            "fdb.add",
            json!({"vni": 5000, "mac": "02:00:00:00:50:01", "vtep": "172.30.0.13"}),
            Box::new(|g, c| {
                assert_eq!(c.fdb.len(), 1);
                let shown = g.ok("fdb.show", json!({"vni": 5000}));
                assert_eq!(shown[0]["dest"], "172.30.0.13", "{shown}");
                assert_eq!(shown[0]["static"], true, "{shown}");
            }),
        ),
        (
            "fdb.add",
            json!({"vni": 5000, "mac": "02:00:00:00:50:02", "port": "net_null1", "vlan": 201}),
            Box::new(|g, c| {
                assert_eq!(c.fdb[1].port.as_deref(), Some("net_null1"));
                let shown = g.ok("fdb.show", json!({"vni": 5000, "mac": "02:00:00:00:50:02"}));
                assert_eq!(
                    shown[0]["dest"],
                    json!({"port": "net_null1", "vlan": 201}),
                    "{shown}"
                );
            }),
        ),
        (
            "fdb.del",
            json!({"vni": 5000, "mac": "02:00:00:00:50:02"}),
            Box::new(|g, c| {
                assert_eq!(c.fdb.len(), 1);
                assert_eq!(
                    g.ok("fdb.show", json!({"vni": 5000}))
                        .as_array()
                        .unwrap()
                        .len(),
                    1
                );
            }),
        ),
        (
            "neigh.add",
            json!({"ip": "172.30.0.13", "mac": "02:00:00:00:13:13"}),
            Box::new(|g, c| {
                assert_eq!(c.neighbours.len(), 1);
                let shown = g.ok("neigh.show", json!({}));
                let n = shown
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|n| n["ip"] == "172.30.0.13")
                    .cloned();
                assert_eq!(
                    n.map(|n| (n["mac"].clone(), n["static"].clone())),
                    Some((json!("02:00:00:00:13:13"), json!(true)))
                );
                assert_eq!(
                    g.ok("vtep.show", json!({}))[2]["next_hop_mac"],
                    "02:00:00:00:13:13"
                );
            }),
        ),
        (
            "arp.add",
            json!({"vni": 5000, "ip": "10.0.5.9", "mac": "02:00:00:00:05:09"}),
            Box::new(|g, c| {
                assert_eq!(c.vnis[1].arp.len(), 1);
                assert_eq!(
                    g.ok("arp.show", json!({"vni": 5000})),
                    json!([{"vni": 5000, "ip": "10.0.5.9", "mac": "02:00:00:00:05:09"}])
                );
            }),
        ),
        (
            "arp.del",
            json!({"vni": 5000, "ip": "10.0.5.9"}),
            Box::new(|g, c| {
                assert!(c.vnis[1].arp.is_empty());
                assert_eq!(g.ok("arp.show", json!({})), json!([]));
            }),
        ),
        (
            "neigh.del",
            json!({"ip": "172.30.0.13"}),
            Box::new(|g, c| {
                assert!(c.neighbours.is_empty());
                let shown = g.ok("neigh.show", json!({}));
                assert!(
                    shown.as_array().unwrap().iter().all(|n| n["mac"].is_null()),
                    "{shown}"
                );
            }),
        ),
        (
            "fdb.flush",
            json!({"vni": 5000, "dynamic_only": false}),
            Box::new(|g, c| {
                assert!(c.fdb.is_empty());
                assert_eq!(g.ok("fdb.show", json!({})), json!([]));
            }),
        ),
        (
            "vni.flood.del",
            json!({"id": 5000, "ip": "172.30.0.13"}),
            Box::new(|_, c| assert!(c.vnis[1].flood.is_empty())),
        ),
        (
            "vtep.del",
            json!({"ip": "172.30.0.13"}),
            Box::new(|g, c| {
                assert_eq!(c.vteps.len(), 2);
                assert_eq!(g.ok("vtep.show", json!({})).as_array().unwrap().len(), 2);
            }),
        ),
        (
            "vni.del",
            json!({"id": 5000}),
            Box::new(|g, c| {
                assert_eq!(c.vnis.len(), 1);
                assert!(g
                    .err("vni.show", json!({"id": 5000}))
                    .contains("unknown VNI 5000"));
            }),
        ),
    ];
    let mut generation = 1;
    for (cmd, args, check) in &steps {
        let before = gw.toml();
        let r = gw.ok(cmd, args.clone());
        generation += 1;
        assert_eq!(r["generation"], generation, "{cmd}: {r}");
        assert!(!r["changes"].as_array().unwrap().is_empty(), "{cmd}: {r}");
        // Timing is the traffic test's business; here: published, and adopted by the
        // worker before the grace period ran out.
        assert!(r["in_effect_us"].is_u64(), "{cmd}: {r}");
        let after = gw.toml();
        assert_ne!(before, after, "{cmd} shows in config.show");
        let cfg = Config::parse(&after).expect("valid TOML");
        check(&gw, &cfg);
        // Saved as it happened, in the same format.
        assert_eq!(
            Config::load(&state).expect("state file"),
            cfg,
            "{cmd}: saved"
        );
        assert_eq!(gw.ok("status", json!({}))["generation"], generation);
    }
    // config.apply: back to the startup file, with a summary of the differences.
    gw.ok("vni.add", json!({"id": 7000}));
    gw.ok("vtep.add", json!({"ip": "172.30.0.14"}));
    let new = CONFIG.replace(
        "flood = [\"172.30.0.11\"]",
        "flood = [\"172.30.0.11\", \"172.30.0.12\"]",
    );
    let r = gw.ok("config.apply", json!({"toml": new}));
    assert_eq!(
        r["changes"],
        json!([
            "vtep 172.30.0.14 deleted",
            "vni 4096: flood +172.30.0.12",
            "vni 7000 deleted"
        ]),
        "{r}"
    );
    assert_eq!(gw.config(), Config::parse(&new).unwrap());
    // The same file again: accepted, nothing changes.
    let r = gw.ok("config.apply", json!({"toml": new}));
    assert_eq!(r["changes"], json!([]), "{r}");
    assert_eq!(r["generation"], generation + 3, "{r}");
}

#[test]
fn invalid_requests_get_clear_errors_and_change_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("ctl_invalid");
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    let gw = Gw::start(&dir, "ctlinv", &null_vdevs());
    let before = gw.toml();
    let state = dir.join("state/running.toml");
    let line = |o: Value| format!("{o}\n").into_bytes();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "malformed JSON",
            b"{\"v\":1,\"cmd\":\"vni.add\",\n".to_vec(),
            "malformed JSON",
        ),
        (
            "not an object",
            b"[1,2]\n".to_vec(),
            "a request is a JSON object",
        ),
        ("not UTF-8", b"\xff\xfe\n".to_vec(), "not UTF-8"),
        (
            "unknown command",
            line(json!({"v":1,"cmd":"vni.frobnicate"})),
            "unknown command 'vni.frobnicate'",
        ),
        (
            "wrong version",
            line(json!({"v":2,"cmd":"vni.add","args":{"id":5000}})),
            "unsupported protocol version 2",
        ),
        (
            "no version",
            line(json!({"cmd":"vni.add","args":{"id":5000}})),
            "missing protocol version",
        ),
        (
            "args not an object",
            line(json!({"v":1,"cmd":"vni.add","args":[5000]})),
            "\"args\" must be an object",
        ),
        (
            "invalid MAC",
            line(
                json!({"v":1,"cmd":"fdb.add","args":{"vni":4096,"mac":"zz","vtep":"172.30.0.11"}}),
            ),
            "invalid MAC address 'zz'",
        ),
        (
            "invalid MAC (neighbour)",
            line(
                json!({"v":1,"cmd":"neigh.add","args":{"ip":"172.30.0.11","mac":"02:00:00:00:00"}}),
            ),
            "invalid MAC address '02:00:00:00:00'",
        ),
        (
            "unknown VNI",
            line(json!({"v":1,"cmd":"vni.del","args":{"id":4097}})),
            "unknown VNI 4097",
        ),
        (
            "unknown VNI (fdb)",
            line(
                json!({"v":1,"cmd":"fdb.add","args":{"vni":4097,"mac":"02:00:00:00:00:01","vtep":"172.30.0.11"}}),
            ),
            "unknown VNI 4097",
        ),
        (
            "flood IP not a VTEP",
            line(json!({"v":1,"cmd":"vni.flood.add","args":{"id":4096,"ip":"172.30.0.99"}})),
            "vni[0].flood[1]: 172.30.0.99 is not a configured [[vtep]]",
        ),
        (
            "new VNI flooding to a non-VTEP",
            line(
                json!({"v":1,"cmd":"vni.add","args":{"id":5000,"flood":["172.30.0.11","172.30.0.99"]}}),
            ),
            "vni[1].flood[1]: 172.30.0.99 is not a configured [[vtep]]",
        ),
        (
            "VNI out of range",
            line(json!({"v":1,"cmd":"vni.add","args":{"id":16777216}})),
            "is not 1-16777215",
        ),
        (
            "unknown argument",
            line(json!({"v":1,"cmd":"vtep.add","args":{"ip":"172.30.0.13","x":1}})),
            "unknown field `x`",
        ),
        (
            "missing argument",
            line(json!({"v":1,"cmd":"vtep.add","args":{}})),
            "missing field `ip`",
        ),
        (
            "VTEP still in a flood list",
            line(json!({"v":1,"cmd":"vtep.del","args":{"ip":"172.30.0.11"}})),
            "VTEP 172.30.0.11 is still used by the flood list of VNI 4096",
        ),
        (
            "ports changed by config.apply",
            line(
                json!({"v":1,"cmd":"config.apply","args":{"toml": CONFIG.replace("net_null1", "net_null2")}}),
            ),
            "ports cannot change while running; restart with a new config",
        ),
        (
            "config.apply with an error",
            line(
                json!({"v":1,"cmd":"config.apply","args":{"toml": CONFIG.replace("vlan = 100", "vlan = 5000")}}),
            ),
            "vni[0].access[0].vlan: 5000 is not 0-4094",
        ),
    ];
    for (what, bytes, want) in &cases {
        let r = raw(&gw.sock, bytes).unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(r["ok"], false, "{what}: {r}");
        let e = r["error"].as_str().unwrap_or_default();
        assert!(e.contains(want), "{what}: {e:?} lacks {want:?}");
        assert_eq!(
            gw.toml(),
            before,
            "{what} changed the running configuration"
        );
        assert!(!state.exists(), "{what} wrote the state file");
    }
    // An oversized request: one error, and the same connection still works.
    let mut c = UnixStream::connect(&gw.sock).unwrap();
    let mut big = format!(
        "{{\"v\":1,\"cmd\":\"vni.add\",\"args\":{{\"id\":5000,\"pad\":\"{}\"}}}}\n",
        "x".repeat(70_000)
    );
    big.push_str(&format!("{}\n", json!({"v":1,"cmd":"status"})));
    c.write_all(big.as_bytes()).unwrap();
    let mut rd = BufReader::new(&c);
    let mut l1 = String::new();
    let mut l2 = String::new();
    rd.read_line(&mut l1).unwrap();
    rd.read_line(&mut l2).unwrap();
    let r1: Value = serde_json::from_str(&l1).unwrap();
    let r2: Value = serde_json::from_str(&l2).unwrap();
    assert_eq!(r1["ok"], false, "{r1}");
    assert!(
        r1["error"]
            .as_str()
            .unwrap()
            .contains("request larger than 65536 bytes"),
        "{r1}"
    );
    assert_eq!(r2["ok"], true, "the connection survives: {r2}");
    assert_eq!(gw.toml(), before);
    assert_eq!(
        gw.ok("status", json!({}))["generation"],
        1,
        "nothing was published"
    );
    assert!(!state.exists());
}

#[test]
fn twenty_clients_at_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("ctl_clients");
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    let gw = Gw::start(&dir, "ctlcli", &null_vdevs());
    let sock = gw.sock.clone();
    let t0 = Instant::now();
    let threads: Vec<_> = (0..20u32)
        .map(|i| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let id = 6000 + i;
                let reqs = [
                    json!({"v":1,"cmd":"vni.add","args":{"id": id, "access": [{"port":"net_null1","vlan": 1000 + i}]}}),
                    json!({"v":1,"cmd":"vni.show","args":{"id": id}}),
                    json!({"v":1,"cmd":"fdb.add","args":{"vni": id, "mac": format!("02:00:00:00:00:{i:02x}"), "vtep": "172.30.0.12"}}),
                    json!({"v":1,"cmd":"status"}),
                    json!({"v":1,"cmd":"config.show"}),
                    json!({"v":1,"cmd":"vni.del","args":{"id": 4097}}), // refused, answered
                ];
                // Half the clients keep one connection, half open one per request.
                let mut answers = Vec::new();
                if i % 2 == 0 {
                    let mut c = UnixStream::connect(&sock).expect("connect");
                    let mut rd = BufReader::new(c.try_clone().unwrap());
                    for r in &reqs {
                        writeln!(c, "{r}").unwrap();
                        let mut l = String::new();
                        rd.read_line(&mut l).unwrap();
                        answers.push(serde_json::from_str::<Value>(&l).expect("JSON"));
                    }
                } else {
                    for r in &reqs {
                        answers.push(try_req(&sock, r).expect("answer"));
                    }
                }
                answers
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let a = t.join().expect("client thread");
        assert_eq!(a.len(), 6);
        for (j, r) in a.iter().enumerate() {
            assert_eq!(r["ok"], j != 5, "client {i} request {j}: {r}");
        }
        assert_eq!(a[1]["result"][0]["id"], 6000 + i as u64);
    }
    let took = t0.elapsed();
    let cfg = gw.config();
    assert_eq!(cfg.vnis.len(), 21);
    assert_eq!(cfg.fdb.len(), 20);
    assert_eq!(
        gw.ok("status", json!({}))["generation"],
        41,
        "40 changes, one at a time"
    );
    assert_eq!(gw.ok("fdb.show", json!({})).as_array().unwrap().len(), 20);
    eprintln!("20 clients x 6 requests answered in {took:?}");
}

#[test]
fn kill_9_then_restart_restores_the_running_configuration() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("ctl_restore");
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    let state = dir.join("state/running.toml");
    let shown = {
        let mut gw = Gw::start(&dir, "ctlrs1", &null_vdevs());
        gw.ok("vtep.add", json!({"ip": "172.30.0.13"}));
        gw.ok("vni.add", json!({"id": 5000, "flood": ["172.30.0.13"], "access": [{"port": "net_null1", "vlan": 200}]}));
        gw.ok(
            "fdb.add",
            json!({"vni": 5000, "mac": "02:00:00:00:50:01", "vtep": "172.30.0.13"}),
        );
        gw.ok(
            "neigh.add",
            json!({"ip": "172.30.0.13", "mac": "02:00:00:00:13:13"}),
        );
        gw.ok(
            "arp.add",
            json!({"vni": 4096, "ip": "10.255.0.9", "mac": "02:00:00:00:00:09"}),
        );
        let shown = gw.toml();
        let pid = gw.p.pid().to_string();
        assert!(std::process::Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success());
        let st = gw.p.wait_exit(Duration::from_secs(10)).expect("killed");
        assert!(!st.success());
        shown
    };
    assert!(!dir.join("state/running.toml.tmp").exists());
    // Same --state, the ORIGINAL --config: the saved state wins.
    let gw = Gw::start(&dir, "ctlrs2", &null_vdevs());
    assert!(
        gw.p.stderr().contains(&format!(
            "restoring running configuration from {}",
            state.display()
        )),
        "{}",
        gw.p.stderr()
    );
    assert_eq!(gw.toml(), shown, "config.show after restart");
    // The tables are rebuilt from it.
    let fdb = gw.ok("fdb.show", json!({"vni": 5000}));
    assert_eq!(fdb[0]["mac"], "02:00:00:00:50:01", "{fdb}");
    let vteps = gw.ok("vtep.show", json!({}));
    assert_eq!(vteps[2]["next_hop_mac"], "02:00:00:00:13:13", "{vteps}");
    drop(gw);

    // A state file for other ports: refused, naming the file.
    let other = std::fs::read_to_string(&state)
        .unwrap()
        .replace("net_null1", "net_null9");
    std::fs::write(&state, other).unwrap();
    let (code, err) = run_to_exit(&dir, "ctlrs3");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&state.display().to_string()) && err.contains("other [[port]]s"),
        "{err}"
    );
    // A broken state file: refused, naming the file; no silent fallback to --config.
    std::fs::write(&state, "[[vni]]\nid = \"five\"\n").unwrap();
    let (code, err) = run_to_exit(&dir, "ctlrs4");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&state.display().to_string()) && err.contains("invalid"),
        "{err}"
    );
}

fn run_to_exit(dir: &TempDir, tag: &str) -> (Option<i32>, String) {
    let mut p = spawn(dir, tag, &null_vdevs());
    let st = p.wait_exit(Duration::from_secs(30));
    cleanup_prefix(&file_prefix(tag));
    (st.and_then(|s| s.code()), p.stderr())
}

fn counter(stats: &Value, section: &str, name: &str) -> u64 {
    stats[section][name].as_u64().unwrap_or(0)
}

/// VLAN 100 frames arrive without end (net_pcap infinite_rx) towards a MAC with a
/// static FDB entry behind a VTEP; VLAN 100 is not mapped, so they are dropped as
/// unknown_vlan, until the mapping is added live.
#[test]
fn a_live_change_is_in_effect_under_traffic_within_10ms() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("ctl_traffic");
    let cfg = r#"
[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = 4096

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
access = [{ port = "net_pcap0", vlan = 200 }]

[[fdb]]
vni = 4096
mac = "02:42:0a:ff:00:0b"
vtep = "172.30.0.11"
"#;
    std::fs::write(dir.join("gw.toml"), cfg).unwrap();
    let frames: Vec<Vec<u8>> = (0..64u8)
        .map(|n| {
            let mut f = vec![
                0x02, 0x42, 0x0a, 0xff, 0x00, 0x0b, 0x02, 0, 0x0a, 0xff, 0, 0x64,
            ];
            f.extend_from_slice(&[0x81, 0x00, 0x00, 100, 0x08, 0x00]);
            f.extend_from_slice(&[
                0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 10, 255, 0, 100, 10, 255, 0, 11,
            ]);
            f.extend_from_slice(&[0x03, 0xe8, 0, 80, 0, 26, 0, 0]);
            f.extend_from_slice(&[n; 18]);
            f
        })
        .collect();
    write_pcap(&dir.join("acc_in.pcap"), &frames);
    let vdevs = vec![
        "net_null0,no-rx=1".to_string(),
        format!(
            "net_pcap0,rx_pcap={},infinite_rx=1",
            dir.join("acc_in.pcap").display()
        ),
    ];
    let gw = Gw::start(&dir, "ctltraffic", &vdevs);
    // Traffic is dropped as unknown_vlan, nothing is encapsulated.
    let s0 = gw.ok("stats", json!({}));
    std::thread::sleep(Duration::from_millis(100));
    let s1 = gw.ok("stats", json!({}));
    assert!(
        counter(&s1, "drops", "unknown_vlan") > counter(&s0, "drops", "unknown_vlan"),
        "{s1}"
    );
    assert_eq!(counter(&s1, "events", "encapsulated"), 0, "{s1}");

    // Map VLAN 100 live.
    let r = gw.ok(
        "vni.access.add",
        json!({"id": 4096, "port": "net_pcap0", "vlan": 100}),
    );
    let answered = Instant::now();
    let in_effect = r["in_effect_us"].as_u64().expect("in effect");
    // From the outside: poll the counters until encapsulation starts. Each poll is a
    // socket round trip through the control thread on a shared core, so this bounds
    // the delay loosely (100 ms); the exact figure is in_effect_us above: the time
    // from publication until the worker no longer held the previous snapshot.
    let mut first = None;
    while answered.elapsed() < Duration::from_secs(2) {
        let s = gw.ok("stats", json!({}));
        if counter(&s, "events", "encapsulated") > 0 {
            first = Some(answered.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let first = first.expect("frames are encapsulated after the change");
    eprintln!("VLAN mapping in effect on the worker {in_effect} us after publication; first encapsulation seen {first:?} after the answer");
    assert!(
        first < Duration::from_millis(100),
        "first encapsulation seen after {first:?}"
    );

    // Every frame is now encapsulated: unknown_vlan stops, encapsulated grows.
    let a = gw.ok("stats", json!({}));
    // Many unrelated changes while traffic runs: nothing is lost or misrouted.
    let mut times = vec![in_effect];
    for i in 0..50u32 {
        let r = if i % 2 == 0 {
            gw.ok(
                "vni.add",
                json!({"id": 5000, "access": [{"port": "net_pcap0", "vlan": 300}]}),
            )
        } else {
            gw.ok("vni.del", json!({"id": 5000}))
        };
        times.push(r["in_effect_us"].as_u64().expect("adopted"));
        let r = if i % 2 == 0 {
            gw.ok("vtep.add", json!({"ip": "172.30.0.12"}))
        } else {
            gw.ok("vtep.del", json!({"ip": "172.30.0.12"}))
        };
        times.push(r["in_effect_us"].as_u64().expect("adopted"));
    }
    let b = gw.ok("stats", json!({}));
    times.sort_unstable();
    let pct = |p: usize| times[(times.len() - 1) * p / 100];
    eprintln!(
        "101 changes under traffic, in effect on the worker after (us): median {} p90 {} p99 {} max {}; encapsulated {} -> {}",
        pct(50),
        pct(90),
        pct(99),
        pct(100),
        counter(&a, "events", "encapsulated"),
        counter(&b, "events", "encapsulated")
    );
    assert_eq!(
        counter(&a, "drops", "unknown_vlan"),
        counter(&b, "drops", "unknown_vlan"),
        "no VLAN 100 frame dropped after the change: {a} {b}"
    );
    let drops: Vec<&String> = b["drops"].as_object().unwrap().keys().collect();
    assert_eq!(drops, vec!["unknown_vlan"], "no other drop reason: {b}");
    assert!(
        counter(&b, "events", "encapsulated") > counter(&a, "events", "encapsulated") + 1000,
        "traffic kept flowing: {a} {b}"
    );
    assert_eq!(
        counter(&b, "events", "flooded"),
        0,
        "nothing misrouted into flooding: {b}"
    );
    // A worker adopts a snapshot at its next poll round (microseconds). On cores it
    // shares with other processes (these tests, CI, other builds) the OS may preempt
    // it in the middle of a round, holding the old snapshot for a scheduler slice: that
    // tail belongs to the machine, so the bound is on the 90th percentile; every change
    // was adopted (the 200 ms grace period never ran out).
    assert!(
        pct(90) < 10_000,
        "90% of changes in effect within 10 ms: {times:?}"
    );
    assert_eq!(gw.ok("status", json!({}))["generation"], 102);
}

/// Client SYNs to a published port arrive once on the external port (net_pcap): the
/// workers track them, and the control commands see and change that table.
#[test]
fn service_backend_and_conntrack_commands_on_live_connections() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("ctl_mesh");
    let cfg = r#"
[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = 4096
external_ip = "192.0.2.1"
conntrack_capacity = 4096

[[port]]
name = "net_null0"
roles = ["underlay"]

[[port]]
name = "net_pcap0"
roles = ["external"]

[[vtep]]
ip = "172.30.0.11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]

[[service]]
name = "web"
protocol = "tcp"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
target_port = 8080
timeouts = { syn = 600 }
backends = [{ ip = "10.255.0.11" }, { ip = "10.255.0.12" }]
"#;
    std::fs::write(dir.join("gw.toml"), cfg).unwrap();
    // net_pcap's MAC of its first device: 02:70:63:61:70:00.
    const CLIENTS: u8 = 40;
    let frames: Vec<Vec<u8>> = (1..=CLIENTS)
        .map(|i| {
            let mut v = Vec::new();
            etherparse::PacketBuilder::ethernet2(
                [0x02, 0, 0, 0, 0x64, i],
                [0x02, 0x70, 0x63, 0x61, 0x70, 0x00],
            )
            .ipv4([198, 51, 100, i], [192, 0, 2, 1], 64)
            .tcp(1000 + i as u16, 80, 1, 64240)
            .syn()
            .write(&mut v, &[])
            .unwrap();
            v
        })
        .collect();
    write_pcap(&dir.join("ext_in.pcap"), &frames);
    let vdevs = vec![
        "net_null0,no-rx=1".to_string(),
        format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            dir.join("ext_in.pcap").display(),
            dir.join("ext_out.pcap").display()
        ),
    ];
    let gw = Gw::start(&dir, "ctlmesh", &vdevs);
    let count = |args: Value| gw.ok("conntrack.count", args)["count"].as_u64().unwrap();
    let t0 = Instant::now();
    while count(json!({})) < CLIENTS as u64 && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let c = gw.ok("conntrack.count", json!({"service": "web"}));
    assert_eq!(
        c["count"],
        CLIENTS,
        "every SYN tracked: {c}; {}",
        gw.p.stderr()
    );
    assert_eq!(c["states"]["syn_sent"], CLIENTS, "{c}");
    assert!(c["created"].as_u64().unwrap() >= CLIENTS as u64, "{c}");

    // service.show: per backend, summing to the service's total.
    let per_backend = |g: &Gw| -> Vec<(String, String, u64)> {
        let web = &g.ok("service.show", json!({"name": "web"}))[0];
        web["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["ip"].as_str().unwrap().to_string(),
                    b["state"].as_str().unwrap().to_string(),
                    b["connections"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let web = gw.ok("service.show", json!({}));
    assert_eq!(web[0]["connections"], CLIENTS, "{web}");
    let b = per_backend(&gw);
    let (n11, n12) = (b[0].2, b[1].2);
    assert_eq!(n11 + n12, CLIENTS as u64, "{b:?}");
    assert!(n11 > 0 && n12 > 0, "Maglev spreads 40 clients: {b:?}");

    // conntrack.show: what the workers recorded, with filters.
    let all = gw.ok("conntrack.show", json!({}));
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), CLIENTS as usize);
    for e in all {
        assert_eq!(
            (&e["proto"], &e["published"], &e["service"], &e["state"]),
            (
                &json!("tcp"),
                &json!("192.0.2.1:80"),
                &json!("web"),
                &json!("syn_sent")
            ),
            "{e}"
        );
        let snat = e["snat"].as_str().unwrap();
        assert!(snat.starts_with("10.255.0.2:"), "{e}");
        let backend = e["backend"].as_str().unwrap();
        assert!(
            backend == "10.255.0.11:8080" || backend == "10.255.0.12:8080",
            "{e}"
        );
        assert!(e["idle_s"].as_u64().unwrap() < 60, "{e}");
    }
    let one = gw.ok("conntrack.show", json!({"client": "198.51.100.7"}));
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one[0]["client"], "198.51.100.7:1007", "{one}");
    assert_eq!(
        gw.ok("conntrack.show", json!({"limit": 5}))
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(count(json!({"backend": "10.255.0.11"})), n11);
    assert_eq!(count(json!({"state": "established"})), 0);
    assert!(gw
        .err("conntrack.show", json!({"state": "syn"}))
        .contains("unknown connection state 'syn'"));
    assert!(gw
        .err("conntrack.flush", json!({}))
        .contains("give a filter"));
    assert_eq!(count(json!({})), CLIENTS as u64, "refusals removed nothing");

    // Draining keeps the connections; deleting the backend removes its own only.
    gw.ok(
        "backend.drain",
        json!({"service": "web", "ip": "10.255.0.11"}),
    );
    let b = per_backend(&gw);
    assert_eq!(
        (b[0].1.as_str(), b[0].2, b[1].2),
        ("drained", n11, n12),
        "{b:?}"
    );
    let r = gw.ok(
        "backend.del",
        json!({"service": "web", "ip": "10.255.0.11"}),
    );
    assert_eq!(r["connections_removed"], n11, "{r}");
    assert_eq!(count(json!({})), n12);
    assert_eq!(
        per_backend(&gw),
        vec![("10.255.0.12".into(), "active".into(), n12)]
    );

    // Flushes: one client, then everything.
    let left = gw.ok("conntrack.show", json!({"limit": 1}));
    let client = left[0]["client"]
        .as_str()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let r = gw.ok("conntrack.flush", json!({"client": client}));
    assert_eq!(r, json!({"removed": 1}));
    let r = gw.ok("conntrack.flush", json!({"all": true}));
    assert_eq!(r, json!({"removed": n12 - 1}));
    let c = gw.ok("conntrack.count", json!({}));
    assert_eq!(c["count"], 0, "{c}");
    assert_eq!(c["removed"], CLIENTS, "{c}");
    assert_eq!(gw.ok("service.show", json!({}))[0]["connections"], 0);
    gw.ok("service.del", json!({"name": "web"}));
    assert!(gw
        .err("conntrack.count", json!({"service": "web"}))
        .contains("unknown service 'web'"));
    assert!(!gw.toml().contains("[[service]]"));
}
