//! Tests of the mapping from command lines to requests (and of the usage errors
//! that stop a command line before it becomes one).

use super::*;
use crate::args::Cli;
use clap::Parser;
use serde_json::json;

#[test]
fn command_lines_become_requests() {
    let req = |args: &[&str]| {
        let cli = Cli::try_parse_from(std::iter::once("vxgwctl").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        request(&cli.cmd).map(|r| json!({"cmd": r.cmd(), "args": r.args()}))
    };
    assert_eq!(
        req(&[
            "vni",
            "add",
            "5000",
            "--flood",
            "172.30.0.11,172.30.0.12",
            "--access",
            "p1:200",
            "--arp",
            "10.0.0.9=02:00:00:00:00:09"
        ])
        .unwrap(),
        json!({"cmd": "vni.add", "args": {"id": 5000, "flood": ["172.30.0.11", "172.30.0.12"],
               "access": [{"port": "p1", "vlan": 200}], "arp": [{"ip": "10.0.0.9", "mac": "02:00:00:00:00:09"}]}})
    );
    assert_eq!(
        req(&[
            "fdb",
            "add",
            "5000",
            "02:00:00:00:00:01",
            "--port",
            "p1",
            "--vlan",
            "3"
        ])
        .unwrap()["args"],
        json!({"vni": 5000, "mac": "02:00:00:00:00:01", "port": "p1", "vlan": 3})
    );
    assert_eq!(
        req(&["fdb", "flush", "--all"]).unwrap()["args"],
        json!({"dynamic_only": false})
    );
    assert_eq!(
        req(&[
            "vni",
            "set",
            "7",
            "--learn-limit",
            "default",
            "--gateway-ip",
            "none"
        ])
        .unwrap()["args"],
        json!({"id": 7, "learn_limit": null, "gateway_ip": null})
    );
    assert_eq!(
        req(&["vni", "access", "del", "7", "p1"]).unwrap(),
        json!({"cmd": "vni.access.del", "args": {"id": 7, "port": "p1", "vlan": 0}})
    );
    // Services, backends, connections.
    assert_eq!(
        req(&[
            "service",
            "add",
            "web",
            "--proto",
            "tcp",
            "--port",
            "80",
            "--vni",
            "4096",
            "--ingress",
            "10.255.0.2",
            "--backend",
            "10.255.0.11",
            "--backend",
            "10.255.0.12:3",
            "--target-port",
            "8080",
            "--mode",
            "preserve",
            "--ip",
            "192.0.2.1",
            "--maglev-size",
            "251"
        ])
        .unwrap(),
        json!({"cmd": "service.add", "args": {"name": "web", "protocol": "tcp", "published_port": 80,
               "vni": 4096, "ingress_ip": "10.255.0.2", "published_ip": "192.0.2.1",
               "target_port": 8080, "mode": "preserve", "maglev_size": 251,
               "backends": [{"ip": "10.255.0.11"}, {"ip": "10.255.0.12", "weight": 3}]}})
    );
    assert_eq!(
        req(&[
            "service",
            "add",
            "dns",
            "--proto",
            "udp",
            "--port",
            "53",
            "--vni",
            "7",
            "--ingress",
            "10.0.0.2"
        ])
        .unwrap()["args"],
        json!({"name": "dns", "protocol": "udp", "published_port": 53, "vni": 7, "ingress_ip": "10.0.0.2"})
    );
    assert_eq!(
        req(&["service", "show"]).unwrap(),
        json!({"cmd": "service.show", "args": {}})
    );
    assert_eq!(
        req(&["service", "show", "web"]).unwrap()["args"],
        json!({"name": "web"})
    );
    assert_eq!(
        req(&["service", "del", "web"]).unwrap(),
        json!({"cmd": "service.del", "args": {"name": "web"}})
    );
    assert_eq!(
        req(&["backend", "add", "web", "10.255.0.13"]).unwrap(),
        json!({"cmd": "backend.add", "args": {"service": "web", "ip": "10.255.0.13"}})
    );
    assert_eq!(
        req(&["backend", "add", "web", "10.255.0.13", "--weight", "0"]).unwrap()["args"],
        json!({"service": "web", "ip": "10.255.0.13", "weight": 0})
    );
    assert_eq!(
        req(&["backend", "set", "web", "10.255.0.13", "--weight", "4"]).unwrap(),
        json!({"cmd": "backend.set", "args": {"service": "web", "ip": "10.255.0.13", "weight": 4}})
    );
    assert_eq!(
        req(&["backend", "drain", "web", "10.255.0.13"]).unwrap(),
        json!({"cmd": "backend.drain", "args": {"service": "web", "ip": "10.255.0.13"}})
    );
    assert_eq!(
        req(&["backend", "del", "web", "10.255.0.13"]).unwrap(),
        json!({"cmd": "backend.del", "args": {"service": "web", "ip": "10.255.0.13"}})
    );
    assert_eq!(
        req(&[
            "conntrack",
            "show",
            "--service",
            "web",
            "--client",
            "198.51.100.1",
            "--backend",
            "10.255.0.11",
            "--state",
            "established",
            "--limit",
            "10"
        ])
        .unwrap(),
        json!({"cmd": "conntrack.show", "args": {"service": "web", "client": "198.51.100.1",
               "backend": "10.255.0.11", "state": "established", "limit": 10}})
    );
    assert_eq!(
        req(&["conntrack", "count"]).unwrap(),
        json!({"cmd": "conntrack.count", "args": {}})
    );
    assert_eq!(
        req(&["conntrack", "flush", "--all"]).unwrap(),
        json!({"cmd": "conntrack.flush", "args": {"all": true}})
    );
    assert_eq!(
        req(&["conntrack", "flush", "--state", "time_wait"]).unwrap()["args"],
        json!({"state": "time_wait"})
    );
    // State names are vxgw's to check (exit 1), not a usage error.
    assert!(req(&["conntrack", "count", "--state", "bogus"]).is_ok());
    // Usage errors (exit 2).
    for bad in [
        &["fdb", "add", "5000", "zz", "--vtep", "1.2.3.4"][..],
        &["fdb", "add", "5000", "02:00:00:00:00:01"],
        &[
            "fdb",
            "add",
            "5000",
            "02:00:00:00:00:01",
            "--vtep",
            "1.2.3.4",
            "--port",
            "p",
        ],
        &["vni", "add", "0"],
        &["vni", "add", "16777216"],
        &["vni", "set", "5"],
        &["vtep", "add", "1.2.3"],
        &["vni", "access", "add", "5", "p:4095"],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "sctp",
            "--port",
            "80",
            "--vni",
            "1",
            "--ingress",
            "10.0.0.2",
        ],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "tcp",
            "--port",
            "0",
            "--vni",
            "1",
            "--ingress",
            "10.0.0.2",
        ],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "tcp",
            "--port",
            "65536",
            "--vni",
            "1",
            "--ingress",
            "10.0.0.2",
        ],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "tcp",
            "--port",
            "80",
            "--vni",
            "0",
            "--ingress",
            "10.0.0.2",
        ],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "tcp",
            "--port",
            "80",
            "--vni",
            "1",
            "--ingress",
            "10.0.0",
        ],
        &[
            "service", "add", "w", "--proto", "tcp", "--port", "80", "--vni", "1",
        ],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "tcp",
            "--port",
            "80",
            "--vni",
            "1",
            "--ingress",
            "10.0.0.2",
            "--mode",
            "dsr",
        ],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "tcp",
            "--port",
            "80",
            "--vni",
            "1",
            "--ingress",
            "10.0.0.2",
            "--target-port",
            "0",
        ],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "tcp",
            "--port",
            "80",
            "--vni",
            "1",
            "--ingress",
            "10.0.0.2",
            "--backend",
            "10.0.0.3:x",
        ],
        &[
            "service",
            "add",
            "w",
            "--proto",
            "tcp",
            "--port",
            "80",
            "--vni",
            "1",
            "--ingress",
            "10.0.0.2",
            "--backend",
            "10.0.0:1",
        ],
        &["backend", "add", "web", "10.0.0.300"],
        &["backend", "add", "web", "10.0.0.3", "--weight", "-1"],
        &["backend", "set", "web", "10.0.0.3"],
        &["backend", "drain", "web"],
        &["conntrack", "show", "--client", "1.2.3"],
        &["conntrack", "show", "--limit", "0"],
        &["conntrack", "flush", "--all", "--service", "web"],
        &["conntrack", "count", "--all"],
    ] {
        assert!(req(bad).is_err(), "{bad:?} must be a usage error");
    }
}

#[test]
fn a_trace_takes_hex_or_a_frame_of_a_pcap_file() {
    let req = |args: &[&str]| {
        let cli = Cli::try_parse_from(std::iter::once("vxgwctl").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        request(&cli.cmd).map(|r| json!({"cmd": r.cmd(), "args": r.args()}))
    };
    assert_eq!(
        req(&["trace", "packet", "--port", "p0", "--hex", "ff:ff 00"]).unwrap(),
        json!({"cmd": "trace.packet", "args": {"port": "p0", "frame": "ff:ff 00"}})
    );
    // Frame 2 of a pcap file, in hex.
    let dir = std::env::temp_dir().join(format!("vxgwctl-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("two.pcap");
    {
        let mut w =
            pcap_file::pcap::PcapWriter::new(std::fs::File::create(&file).unwrap()).unwrap();
        for data in [&[1u8, 2][..], &[0xab, 0xcd, 0xef][..]] {
            let p = pcap_file::pcap::PcapPacket::new(
                std::time::Duration::ZERO,
                data.len() as u32,
                data,
            );
            w.write_packet(&p).unwrap();
        }
    }
    let path = file.display().to_string();
    assert_eq!(
        req(&["trace", "packet", "--port", "p0", "--pcap", &path, "--index", "2"]).unwrap()["args"]
            ["frame"],
        "abcdef"
    );
    let three = req(&[
        "trace", "packet", "--port", "p0", "--pcap", &path, "--index", "3",
    ]);
    assert!(three.unwrap_err().contains("2 frames, no frame 3"));
    assert!(
        req(&["trace", "packet", "--port", "p0"]).is_err(),
        "a frame is needed"
    );
    assert!(req(&["trace", "packet", "--port", "p0", "--hex", "00", "--pcap", &path]).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_live_trace_takes_a_filter_checked_before_sending() {
    let req = |args: &[&str]| {
        let cli = Cli::try_parse_from(std::iter::once("vxgwctl").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        request(&cli.cmd).map(|r| json!({"cmd": r.cmd(), "args": r.args()}))
    };
    let filter = "vni 4097 and host 10.0.1.5 and tcp port 80";
    let want = json!({"cmd": "trace.start", "args": {"count": 3, "port": "p0",
        "filter": {"vni": 4097, "host": "10.0.1.5", "port": 80, "proto": "tcp"}}});
    for verb in ["live", "start"] {
        let args = [
            "trace", verb, "--count", "3", "--port", "p0", "--filter", filter,
        ];
        assert_eq!(req(&args).unwrap(), want, "{verb}");
    }
    assert_eq!(
        req(&["trace", "live"]).unwrap(),
        json!({"cmd": "trace.start", "args": {"count": 10}})
    );
    for bad in ["src 10.0.0.1", "vni", "host 10.0.1", "tcp and udp"] {
        let e = req(&["trace", "live", "--filter", bad]).unwrap_err();
        assert!(e.contains("filter"), "{bad}: {e}");
    }
    assert!(req(&["trace", "live", "--wait", "0"]).is_err());
}
