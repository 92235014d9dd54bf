//! The Prometheus exporter, end to end: vxgw on net_pcap ports bridges crafted VLAN
//! and VXLAN traffic, `/metrics` (read with a plain TCP client) shows every family
//! with its HELP and TYPE and counts exactly the packets sent, `promtool check
//! metrics` accepts the text, and a real Prometheus server scrapes the exporter and
//! answers queries over its HTTP API. Also: bad `--metrics-addr` values and a busy
//! address are refused clearly, and `--metrics-addr none` opens no TCP port.
//!
//! Needs `/usr/bin/prometheus` and `promtool` (Debian package `prometheus`, installed
//! by `scripts/install-deps.sh`). Every process is a [`Process`] guard: stopped by its
//! PID on every path. Loopback addresses only; every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vxgw::pipeline::{DropReason, Event};
use vxgw_tests::pcap_gateway::{inner, pcap_ports, tagged, vxlan, C1, CONFIG, SRV};
use vxgw_tests::{cleanup_prefix, eal_args, file_prefix, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");
const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "promtool";

/// Every family the exporter must serve: (name, type, label).
const FAMILIES: &[(&str, &str, Option<&str>)] = &[
    ("vxgw_port_rx_packets_total", "counter", Some("port")),
    ("vxgw_port_tx_packets_total", "counter", Some("port")),
    ("vxgw_port_rx_bytes_total", "counter", Some("port")),
    ("vxgw_port_tx_bytes_total", "counter", Some("port")),
    ("vxgw_port_rx_errors_total", "counter", Some("port")),
    ("vxgw_port_tx_errors_total", "counter", Some("port")),
    ("vxgw_port_rx_missed_total", "counter", Some("port")),
    ("vxgw_port_rx_nombuf_total", "counter", Some("port")),
    ("vxgw_port_link_up", "gauge", Some("port")),
    ("vxgw_worker_rx_packets_total", "counter", Some("worker")),
    ("vxgw_worker_tx_packets_total", "counter", Some("worker")),
    ("vxgw_worker_polls_total", "counter", Some("worker")),
    ("vxgw_worker_busy_polls_total", "counter", Some("worker")),
    ("vxgw_worker_busy_cycles_total", "counter", Some("worker")),
    ("vxgw_worker_busy_seconds_total", "counter", Some("worker")),
    ("vxgw_drops_total", "counter", Some("reason")),
    ("vxgw_events_total", "counter", Some("event")),
    ("vxgw_fdb_entries", "gauge", Some("kind")),
    ("vxgw_fdb_capacity", "gauge", None),
    ("vxgw_fdb_vnis", "gauge", None),
    ("vxgw_fdb_vnis_max", "gauge", None),
    ("vxgw_fdb_learned_total", "counter", None),
    ("vxgw_fdb_moved_total", "counter", None),
    ("vxgw_fdb_aged_total", "counter", None),
    ("vxgw_fdb_flushed_total", "counter", None),
    ("vxgw_fdb_limit_hits_total", "counter", None),
    ("vxgw_fdb_table_full_total", "counter", None),
    ("vxgw_fdb_static_kept_total", "counter", None),
    ("vxgw_fdb_not_unicast_total", "counter", None),
    ("vxgw_neighbours", "gauge", Some("state")),
    ("vxgw_conntrack_entries", "gauge", Some("state")),
    ("vxgw_conntrack_assured_entries", "gauge", Some("assured")),
    ("vxgw_conntrack_capacity", "gauge", None),
    ("vxgw_conntrack_events_total", "counter", Some("event")),
    ("vxgw_config_generation", "gauge", None),
    ("vxgw_build_info", "gauge", Some("version")),
    ("vxgw_uptime_seconds", "gauge", None),
];

/// Removes EAL's runtime directory of a file prefix when dropped (every path).
struct Prefix(String);

impl Prefix {
    fn new(tag: &str) -> Prefix {
        Prefix(file_prefix(tag))
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        cleanup_prefix(&self.0);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` every 100 ms until it returns Some, for at most `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if t0.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A response: status, head (status line and headers), body.
struct Http {
    status: u16,
    head: String,
    body: String,
}

/// One GET over a fresh connection (`version` "1.0" keeps Go's server from chunking).
fn http_get(addr: SocketAddr, path: &str, version: &str) -> Result<Http, String> {
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET {path} HTTP/{version}\r\nHost: {addr}\r\nUser-Agent: vxgw-test\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let raw = String::from_utf8(raw).map_err(|_| "response is not UTF-8".to_string())?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of head in {raw:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    Ok(Http {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// The value of the sample `name{labels}` (labels as written by the exporter, e.g.
/// `port="net_pcap0"`; empty for none) in exposition text.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
}

/// TCP ports `pid` listens on (its socket inodes matched against /proc/PID/net/tcp{,6}).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let s = l.to_string_lossy().into_owned();
                    Some(s.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(t) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for row in t.lines().skip(1) {
            let f: Vec<&str> = row.split_whitespace().collect();
            // sl local_address rem_address st ... uid timeout inode
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                if let Some(port) = f[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                {
                    ports.push(port);
                }
            }
        }
    }
    ports
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An instant query against Prometheus' HTTP API: (labels, value) per series.
fn prom_query(addr: SocketAddr, q: &str) -> Result<Vec<(serde_json::Value, f64)>, String> {
    let r = http_get(
        addr,
        &format!("/api/v1/query?query={}", percent_encode(q)),
        "1.0",
    )?;
    let v: serde_json::Value =
        serde_json::from_str(&r.body).map_err(|e| format!("{e}: {}", r.body))?;
    if v["status"] != "success" {
        return Err(format!("query {q}: {}", r.body));
    }
    Ok(v["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| {
            let val = s["value"][1].as_str()?.parse().ok()?;
            Some((s["metric"].clone(), val))
        })
        .collect())
}

fn control(sock: &Path, req: &str) -> serde_json::Value {
    use std::io::{BufRead, BufReader};
    let mut c = std::os::unix::net::UnixStream::connect(sock).expect("control socket");
    writeln!(c, "{req}").unwrap();
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).unwrap();
    serde_json::from_str(&line).expect("JSON answer")
}

fn vxgw_args(dir: &TempDir, prefix: &str, metrics: &str, vdevs: &[String]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--config".into(),
        dir.join("gw.toml").display().to_string(),
        "--socket".into(),
        dir.join("vxgw.sock").display().to_string(),
        "--state".into(),
        "none".into(),
        "--metrics-addr".into(),
        metrics.into(),
        "--".into(),
    ];
    a.extend(eal_args(prefix, vdevs));
    a
}

/// Two net_pcap ports whose rx captures hold `ul_in` and `acc_in`, and the config.
fn pcap_vdevs(dir: &TempDir, ul_in: &[Vec<u8>], acc_in: &[Vec<u8>]) -> Vec<String> {
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    pcap_ports(dir, ul_in, acc_in)
}

#[test]
fn exporter_counts_traffic_and_a_real_prometheus_scrapes_it() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} missing: install the Debian package prometheus (scripts/install-deps.sh)"
    );
    let t0 = Instant::now();
    let dir = TempDir::new("metrics_prom");
    let prefix = Prefix::new("metrics");

    // 20 frames each way plus one bad frame per kind: unknown VLAN, unknown VTEP,
    // unknown VNI, garbage.
    let mut acc_in: Vec<Vec<u8>> = (0..20).map(|n| tagged(&inner(SRV, C1, n), 100)).collect();
    acc_in.push(tagged(&inner(SRV, C1, 999), 999));
    let mut ul_in: Vec<Vec<u8>> = (0..20)
        .map(|n| vxlan([172, 30, 0, 11], 4096, &inner(C1, SRV, 100 + n)))
        .collect();
    ul_in.push(vxlan([172, 30, 0, 66], 4096, &inner(C1, SRV, 7)));
    ul_in.push(vxlan([172, 30, 0, 11], 4097, &inner(C1, SRV, 8)));
    ul_in.push(vec![0xff; 7]);
    let ul_bytes: usize = ul_in.iter().map(Vec::len).sum();
    let vdevs = pcap_vdevs(&dir, &ul_in, &acc_in);

    let maddr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut gw = Process::spawn(
        Path::new(VXGW),
        &vxgw_args(&dir, &prefix.0, &maddr.to_string(), &vdevs),
    );
    assert!(
        gw.wait_stderr("gateway running", Duration::from_secs(30)),
        "vxgw did not start; stderr:\n{}",
        gw.stderr()
    );
    assert!(
        gw.stderr()
            .contains(&format!("metrics http://{maddr}/metrics")),
        "{}",
        gw.stderr()
    );
    assert_eq!(
        listening_ports(gw.pid()),
        vec![maddr.port()],
        "vxgw listens on the metrics port and no other TCP port"
    );

    // (1) Scrape until every packet is counted (a few ms of work; 20 s bound).
    let total = (ul_in.len() + acc_in.len()) as f64;
    let text = wait_for(Duration::from_secs(20), || {
        let r = http_get(maddr, "/metrics", "1.1").ok()?;
        let rx = sample(&r.body, "vxgw_port_rx_packets_total", "port=\"net_pcap0\"")?
            + sample(&r.body, "vxgw_port_rx_packets_total", "port=\"net_pcap1\"")?;
        let enc = sample(&r.body, "vxgw_events_total", "event=\"encapsulated\"")?;
        let dec = sample(&r.body, "vxgw_events_total", "event=\"decapsulated\"")?;
        (rx == total && enc == 20.0 && dec == 20.0).then_some(r)
    });
    let Some(r) = text else {
        let last = http_get(maddr, "/metrics", "1.1").map(|r| r.body);
        panic!(
            "counters never reached the traffic sent; last scrape: {last:?}\nstderr:\n{}",
            gw.stderr()
        );
    };
    assert_eq!(r.status, 200);
    assert!(
        r.head
            .contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{}",
        r.head
    );
    let text = r.body;
    for (name, kind, label) in FAMILIES {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {name} ")) && l.len() > name.len() + 12),
            "HELP for {name}:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "TYPE {kind} for {name}:\n{text}"
        );
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
            .collect();
        assert!(!samples.is_empty(), "samples of {name}");
        for s in samples {
            match label {
                Some(l) => assert!(s.starts_with(&format!("{name}{{{l}=\"")), "{s}"),
                None => assert!(s.starts_with(&format!("{name} ")), "{s}"),
            }
        }
    }
    let families = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
    assert_eq!(families, FAMILIES.len(), "no unlisted family:\n{text}");
    let port = |n: &str, p: &str| sample(&text, n, &format!("port=\"{p}\""));
    assert_eq!(
        port("vxgw_port_rx_packets_total", "net_pcap0"),
        Some(ul_in.len() as f64)
    );
    assert_eq!(
        port("vxgw_port_rx_packets_total", "net_pcap1"),
        Some(acc_in.len() as f64)
    );
    assert_eq!(
        port("vxgw_port_rx_bytes_total", "net_pcap0"),
        Some(ul_bytes as f64)
    );
    assert_eq!(
        port("vxgw_port_tx_packets_total", "net_pcap0"),
        Some(20.0),
        "one VXLAN frame per access frame"
    );
    assert_eq!(
        port("vxgw_port_tx_packets_total", "net_pcap1"),
        Some(20.0),
        "one access frame per VXLAN frame"
    );
    assert_eq!(port("vxgw_port_link_up", "net_pcap0"), Some(1.0));
    assert_eq!(port("vxgw_port_rx_missed_total", "net_pcap1"), Some(0.0));
    // One worker, lcore 1 (eal_args: -l 0-1): its counters are the totals.
    assert_eq!(
        sample(&text, "vxgw_worker_rx_packets_total", "worker=\"1\""),
        Some(total)
    );
    assert_eq!(
        sample(&text, "vxgw_worker_tx_packets_total", "worker=\"1\""),
        Some(40.0)
    );
    assert!(sample(&text, "vxgw_worker_polls_total", "worker=\"1\"").unwrap() >= 1.0);
    assert!(sample(&text, "vxgw_worker_busy_polls_total", "worker=\"1\"").unwrap() >= 1.0);
    assert!(sample(&text, "vxgw_worker_busy_cycles_total", "worker=\"1\"").unwrap() > 0.0);
    // Every drop reason and event, zeros included.
    for r in DropReason::ALL {
        let want = match r.name() {
            "unknown_vtep" | "unknown_vni" | "unknown_vlan" | "truncated" => 1.0,
            _ => 0.0,
        };
        assert_eq!(
            sample(
                &text,
                "vxgw_drops_total",
                &format!("reason=\"{}\"", r.name())
            ),
            Some(want),
            "drops {}",
            r.name()
        );
    }
    for e in Event::ALL {
        assert!(
            sample(
                &text,
                "vxgw_events_total",
                &format!("event=\"{}\"", e.name())
            )
            .is_some(),
            "event {}",
            e.name()
        );
    }
    // SRV learned on the access port, C1 behind the VTEP; one static neighbour.
    assert_eq!(
        sample(&text, "vxgw_fdb_entries", "kind=\"dynamic\""),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "vxgw_fdb_entries", "kind=\"static\""),
        Some(0.0)
    );
    assert_eq!(sample(&text, "vxgw_fdb_learned_total", ""), Some(2.0));
    assert!(
        sample(&text, "vxgw_fdb_capacity", "").unwrap() >= 262_144.0,
        "slots for at least the configured capacity"
    );
    assert_eq!(
        sample(&text, "vxgw_fdb_vnis", ""),
        Some(1.0),
        "the configured VNI is registered"
    );
    assert_eq!(sample(&text, "vxgw_fdb_vnis_max", ""), Some(4096.0));
    assert_eq!(
        sample(&text, "vxgw_neighbours", "state=\"static\""),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "vxgw_build_info",
            &format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))
        ),
        Some(1.0)
    );
    assert!(sample(&text, "vxgw_uptime_seconds", "").unwrap() > 0.0);
    // The control socket's sums agree with the exporter's.
    let stats = control(&dir.join("vxgw.sock"), r#"{"v":1,"cmd":"stats"}"#);
    assert_eq!(
        stats["result"]["rx_packets"].as_f64(),
        Some(total),
        "{stats}"
    );
    assert_eq!(stats["result"]["drops"]["unknown_vtep"], 1, "{stats}");

    // The other paths.
    let root = http_get(maddr, "/", "1.1").unwrap();
    assert_eq!(root.status, 200);
    assert!(root.body.contains("/metrics"), "{}", root.body);
    assert_eq!(http_get(maddr, "/favicon.ico", "1.1").unwrap().status, 404);
    assert_eq!(http_get(maddr, "/metrics/", "1.0").unwrap().status, 404);

    // (2) promtool's linter accepts the exposition text.
    let mut lint = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{PROMTOOL}: {e} (install the Debian package prometheus: scripts/install-deps.sh)"
            )
        });
    lint.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // (3) A real Prometheus scraping every second.
    let paddr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: vxgw\n    static_configs:\n      - targets: ['{maddr}']\n"
        ),
    )
    .unwrap();
    let mut prom = Process::spawn(
        Path::new(PROMETHEUS),
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            format!("--web.listen-address={paddr}"),
            "--log.level=warn".into(),
        ],
    );
    let scraped = wait_for(Duration::from_secs(60), || {
        let rx = prom_query(paddr, "vxgw_port_rx_packets_total").ok()?;
        let up = prom_query(paddr, "up{job=\"vxgw\"}").ok()?;
        let sum: f64 = rx.iter().map(|(_, v)| v).sum();
        (rx.len() == 2 && sum > 0.0 && up.len() == 1 && up[0].1 == 1.0).then_some((rx, sum))
    });
    let Some((rx, sum)) = scraped else {
        panic!(
            "Prometheus never saw the exporter: up = {:?}, rx = {:?}\nprometheus stderr:\n{}",
            prom_query(paddr, "up"),
            prom_query(paddr, "vxgw_port_rx_packets_total"),
            prom.stderr()
        );
    };
    assert_eq!(sum, total, "{rx:?}");
    assert!(
        rx.iter()
            .all(|(m, _)| m["job"] == "vxgw" && m["instance"] == maddr.to_string()),
        "{rx:?}"
    );
    let enc = prom_query(paddr, "vxgw_events_total{event=\"encapsulated\"}").unwrap();
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0].1, 20.0);
    let reasons = prom_query(paddr, "vxgw_drops_total").unwrap();
    assert_eq!(reasons.len(), DropReason::ALL.len(), "every reason stored");
    let samples = prom_query(paddr, "scrape_samples_scraped{job=\"vxgw\"}").unwrap();
    assert!(samples[0].1 > 60.0, "{samples:?}");
    let st = prom.stop();
    assert!(
        st.is_some_and(|s| s.success()),
        "prometheus exit {st:?}:\n{}",
        prom.stderr()
    );

    // vxgw stops cleanly, and the exporter with it.
    let st = gw.stop();
    assert!(
        st.is_some_and(|s| s.success()),
        "vxgw exit {st:?}:\n{}",
        gw.stderr()
    );
    assert!(
        TcpStream::connect(maddr).is_err(),
        "exporter closed after exit"
    );
    eprintln!(
        "metrics_prometheus: end to end in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn bad_metrics_addresses_are_refused() {
    for bad in ["127.0.0.1", "localhost:9465", "127.0.0.1:70000", "nope"] {
        let mut p = Process::spawn(
            Path::new(VXGW),
            &[
                "--config".into(),
                "/nonexistent.toml".into(),
                "--metrics-addr".into(),
                bad.into(),
            ],
        );
        let st = p.wait_exit(Duration::from_secs(10)).expect("exits");
        let err = p.stderr();
        assert_eq!(st.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("--metrics-addr") && err.contains(bad) && err.contains("IP:PORT"),
            "{bad}: {err}"
        );
    }

    // An address already taken: vxgw says which and exits 1 before starting ports.
    let dir = TempDir::new("metrics_busy");
    let prefix = Prefix::new("metrics_busy");
    let vdevs = pcap_vdevs(&dir, &[], &[]);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut p = Process::spawn(
        Path::new(VXGW),
        &vxgw_args(&dir, &prefix.0, &addr.to_string(), &vdevs),
    );
    let st = p.wait_exit(Duration::from_secs(30)).expect("exits");
    let err = p.stderr();
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("vxgw: metrics address {addr}: ")) && err.contains("in use"),
        "{err}"
    );
    assert!(!err.contains("gateway running"), "{err}");
}

#[test]
fn metrics_addr_none_opens_no_port() {
    let dir = TempDir::new("metrics_none");
    let prefix = Prefix::new("metrics_none");
    let vdevs = pcap_vdevs(&dir, &[], &[]);
    for off in ["none", "off"] {
        let mut p = Process::spawn(Path::new(VXGW), &vxgw_args(&dir, &prefix.0, off, &vdevs));
        assert!(
            p.wait_stderr("gateway running", Duration::from_secs(30)),
            "{}",
            p.stderr()
        );
        assert!(!p.stderr().contains("metrics http"), "{}", p.stderr());
        assert!(
            std::fs::read_dir(format!("/proc/{}/fd", p.pid())).is_ok(),
            "vxgw is running"
        );
        assert_eq!(
            listening_ports(p.pid()),
            Vec::<u16>::new(),
            "--metrics-addr {off}: no TCP listener"
        );
        let st = p.stop();
        assert!(st.is_some_and(|s| s.success()), "{}", p.stderr());
    }
}
