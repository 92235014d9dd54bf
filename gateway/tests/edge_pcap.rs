//! The routing mesh's edge on a real vxgw (net_pcap): martian and malformed client
//! packets to a published port are dropped with their named counters and make no
//! connection; the valid one among them is translated and encapsulated. Fragments
//! that come out of order are held by the worker and sent after their first.

use std::path::Path;
use std::time::Duration;

use etherparse::PacketBuilder;
use vxgw_tests::{cleanup_prefix, eal_args, file_prefix, read_pcap, write_pcap, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");
/// net_pcap1's MAC (the external port).
const EXT_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x01];
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0xc0, 0, 0x02, 0x0a];

const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"
external_prefix_len = 24

[[port]]
name = "net_pcap0"
roles = ["underlay"]

[[port]]
name = "net_pcap1"
roles = ["external"]

[[vtep]]
ip = "172.30.0.11"

[[neighbour]]
ip = "172.30.0.11"
mac = "02:00:00:00:11:11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
gateway_ip = "10.255.0.1"
arp = [{ ip = "10.255.0.11", mac = "02:42:0a:ff:00:0b" }]

[[fdb]]
vni = 4096
mac = "02:42:0a:ff:00:0b"
vtep = "172.30.0.11"

[[service]]
name = "web"
protocol = "tcp"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
backends = [{ ip = "10.255.0.11" }]

[[service]]
name = "dns"
protocol = "udp"
published_port = 53
vni = 4096
ingress_ip = "10.255.0.2"
backends = [{ ip = "10.255.0.11" }]
"#;

fn control(sock: &Path, req: &str) -> serde_json::Value {
    use std::io::{BufRead, BufReader, Write};
    let mut c = std::os::unix::net::UnixStream::connect(sock).expect("control socket");
    writeln!(c, "{req}").unwrap();
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).unwrap();
    serde_json::from_str(&line).expect("JSON answer")
}

/// A client's SYN from `src` (TTL `ttl`) to 192.0.2.1:80.
fn syn(src: [u8; 4], ttl: u8) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
        .ipv4(src, [192, 0, 2, 1], ttl)
        .tcp(40000, 80, 1, 64240)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

/// Runs vxgw on `ext_in` (the external port's input; nothing on the underlay)
/// until it received all of it and `done(stats)` holds for a periodic stats line;
/// returns the conntrack count answer, the final stats and what left on the
/// underlay.
fn run_vxgw(
    name: &str,
    ext_in: &[Vec<u8>],
    done: impl Fn(&serde_json::Value) -> bool,
) -> (serde_json::Value, serde_json::Value, Vec<Vec<u8>>) {
    let dir = TempDir::new(name);
    let prefix = file_prefix(name);
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();
    write_pcap(&dir.join("ul_in.pcap"), &[]);
    write_pcap(&dir.join("ext_in.pcap"), ext_in);
    let vdevs: Vec<String> = ["ul", "ext"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "net_pcap{i},rx_pcap={},tx_pcap={}",
                dir.join(&format!("{n}_in.pcap")).display(),
                dir.join(&format!("{n}_out.pcap")).display()
            )
        })
        .collect();
    let sock = dir.join("vxgw.sock");
    let mut a: Vec<String> = ["--config", &dir.join("gw.toml").display().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for s in ["--state", "none", "--metrics-addr", "none", "--socket"] {
        a.push(s.into());
    }
    a.push(sock.display().to_string());
    a.extend(["--stats-period".into(), "1".into(), "--".into()]);
    a.extend(eal_args(&prefix, &vdevs));
    let mut p = Process::spawn(Path::new(VXGW), &a);
    let mut seen = false;
    for _ in 0..15 {
        match p.next_json(Duration::from_secs(5)) {
            Some(s) if s["rx_packets"].as_u64() == Some(ext_in.len() as u64) && done(&s) => {
                seen = true;
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(seen, "vxgw did not receive everything:\n{}", p.stderr());
    let count = control(&sock, r#"{"v":1,"cmd":"conntrack.count","args":{}}"#);
    assert!(p.stop().expect("exits").success(), "{}", p.stderr());
    let err = p.stderr();
    let stats: serde_json::Value = serde_json::from_str(
        err.lines()
            .find_map(|l| l.strip_prefix("vxgw: stopped: "))
            .expect("final stats line"),
    )
    .unwrap();
    let ul_out = read_pcap(&dir.join("ul_out.pcap"));
    cleanup_prefix(&prefix);
    (count, stats, ul_out)
}

#[test]
fn martians_and_malformed_packets_are_dropped_by_name_and_leave_no_connection() {
    let valid = syn([203, 0, 113, 7], 64);
    let mut ext_in = vec![
        syn([0, 0, 0, 0], 64),
        syn([255, 255, 255, 255], 64),
        syn([224, 0, 0, 5], 64),
        syn([192, 0, 2, 1], 64), // vxgw's own external address
        syn([192, 0, 2, 255], 64),
        syn([203, 0, 113, 8], 1),
    ];
    let mut bcast_mac = valid.clone();
    bcast_mac[6..12].fill(0xff);
    ext_in.push(bcast_mac);
    let mut bad_sum = valid.clone();
    bad_sum[24] ^= 0x55;
    ext_in.push(bad_sum);
    let mut bad_offset = valid.clone();
    bad_offset[46] = 0x20;
    ext_in.push(bad_offset);
    let mut bad_udp = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
        .ipv4([203, 0, 113, 9], [192, 0, 2, 1], 64)
        .udp(4000, 80)
        .write(&mut bad_udp, b"x")
        .unwrap();
    bad_udp[38..40].copy_from_slice(&7u16.to_be_bytes());
    ext_in.push(bad_udp);
    ext_in.push(valid);
    let (count, stats, ul_out) = run_vxgw("edgepcap", &ext_in, |_| true);
    assert_eq!(count["result"]["count"], 1, "only the valid SYN: {count}");
    assert_eq!(count["result"]["unassured"], 1, "{count}");
    let drops = &stats["drops"];
    for (reason, n) in [
        ("martian_source", 5),
        ("ttl_expired", 1),
        ("invalid_source_mac", 1),
        ("bad_ip_checksum", 1),
        ("bad_tcp_data_offset", 1),
        ("bad_udp_length", 1),
    ] {
        assert_eq!(drops[reason], n, "{reason}: {stats}");
    }
    assert_eq!(ul_out.len(), 1, "the valid SYN, encapsulated: {stats}");
    // Inner: from the ingress endpoint to the backend.
    let inner = &ul_out[0][50..];
    assert_eq!(&inner[14 + 12..14 + 16], &[10, 255, 0, 2]);
    assert_eq!(&inner[14 + 16..14 + 20], &[10, 255, 0, 11]);
}

/// A UDP datagram from 203.0.113.7:5353 to 192.0.2.1:53 in two fragments, IP id
/// `id`: the first (its UDP header and 16 bytes) and the later one (16 bytes).
fn fragmented_query(id: u16) -> (Vec<u8>, Vec<u8>) {
    let payload: Vec<u8> = (0..24u8).collect();
    let mut whole = Vec::new();
    PacketBuilder::ethernet2(CLIENT_MAC, EXT_MAC)
        .ipv4([203, 0, 113, 7], [192, 0, 2, 1], 64)
        .udp(5353, 53)
        .write(&mut whole, &payload)
        .unwrap();
    let ip_fix = |f: &mut Vec<u8>, total: usize, flags_offset: u16| {
        f[16..18].copy_from_slice(&(total as u16).to_be_bytes());
        f[18..20].copy_from_slice(&id.to_be_bytes());
        f[20..22].copy_from_slice(&flags_offset.to_be_bytes());
        f[24..26].fill(0);
        let mut sum = 0u32;
        for w in f[14..34].chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        f[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    };
    // First: IP header + UDP header (8) + 16 bytes = offset 0..24, MF.
    let mut first = whole[..14 + 20 + 24].to_vec();
    ip_fix(&mut first, 20 + 24, 0x2000);
    // Later: the last 8 bytes of the payload, at offset 24 (3 units of 8), last.
    let mut later = whole[..14 + 20].to_vec();
    later.extend_from_slice(&whole[14 + 20 + 24..]);
    ip_fix(&mut later, 20 + 8, 3);
    (first, later)
}

#[test]
fn a_fragment_before_its_first_is_held_and_sent_after_it_an_orphan_times_out() {
    let (first, later) = fragmented_query(0x4242);
    let (_, orphan) = fragmented_query(0x7777);
    // Reordered on the way: the later fragment first. And one whose first never comes.
    let ext_in = vec![later.clone(), orphan, first.clone()];
    let (count, stats, ul_out) = run_vxgw("edgefrag", &ext_in, |s| {
        s["drops"]["fragment_timeout"].as_u64() == Some(1)
    });
    assert_eq!(
        count["result"]["count"], 1,
        "one datagram, one flow: {count}"
    );
    assert_eq!(stats["drops"]["fragment_timeout"], 1, "the orphan: {stats}");
    assert_eq!(stats["events"]["fragments_held"], 2, "{stats}");
    assert_eq!(ul_out.len(), 2, "both fragments of the datagram: {stats}");
    // Inner IPv4 at 50 + 14: the first fragment first, then the held one, both
    // from the ingress address to the backend, with the datagram's id.
    let inner = |f: &[u8]| f[50 + 14..].to_vec();
    let (a, b) = (inner(&ul_out[0]), inner(&ul_out[1]));
    assert_eq!(&a[6..8], &[0x20, 0], "the first fragment leaves first");
    assert_eq!(&b[6..8], &[0, 3], "then the later one");
    for f in [&a, &b] {
        assert_eq!(&f[4..6], &[0x42, 0x42]);
        assert_eq!(&f[12..16], &[10, 255, 0, 2], "SNAT to the ingress address");
        assert_eq!(&f[16..20], &[10, 255, 0, 11], "DNAT to the backend");
    }
    assert_eq!(
        &b[20..],
        &later[34..],
        "the later fragment's payload untouched"
    );
}
