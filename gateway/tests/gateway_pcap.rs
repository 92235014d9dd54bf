//! The gateway on net_pcap ports with crafted captures: 802.1Q-tagged access traffic
//! is popped and encapsulated into VXLAN towards the VTEP, VXLAN from the VTEP is
//! decapsulated and pushed onto the access port with the VNI's VLAN tag, and bad
//! input (unknown VTEP, unknown VLAN, unknown VNI, garbage) is dropped and counted.
//! (The kernel here has no 802.1Q devices, so tagging is proven with pcaps.)

use std::path::Path;
use std::time::Duration;

use etherparse::{SlicedPacket, TransportSlice};
use vxgw_tests::pcap_gateway::{inner, pcap_ports, tagged, vxlan, C1, CONFIG, NODE1_MAC, SRV};
use vxgw_tests::{cleanup_prefix, eal_args, file_prefix, read_pcap, write_pcap, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");

fn control(sock: &Path, req: &str) -> serde_json::Value {
    use std::io::{BufRead, BufReader, Write};
    let mut c = std::os::unix::net::UnixStream::connect(sock).expect("control socket");
    writeln!(c, "{req}").unwrap();
    let mut line = String::new();
    BufReader::new(&c).read_line(&mut line).unwrap();
    serde_json::from_str(&line).expect("JSON answer")
}

#[test]
fn vlan_tagged_access_and_vxlan_both_directions() {
    let dir = TempDir::new("gw_pcap");
    let prefix = file_prefix("gwpcap");
    std::fs::write(dir.join("gw.toml"), CONFIG).unwrap();

    let to_overlay: Vec<Vec<u8>> = (0..20).map(|n| inner(SRV, C1, n)).collect();
    let from_overlay: Vec<Vec<u8>> = (0..20).map(|n| inner(C1, SRV, 100 + n)).collect();
    // PCP 1 in the tag: the VID alone selects the VNI.
    let mut acc_in: Vec<Vec<u8>> = to_overlay.iter().map(|f| tagged(f, 0x2000 | 100)).collect();
    acc_in.push(tagged(&inner(SRV, C1, 999), 999)); // unmapped VLAN
    let mut ul_in: Vec<Vec<u8>> = from_overlay
        .iter()
        .map(|f| vxlan([172, 30, 0, 11], 4096, f))
        .collect();
    ul_in.push(vxlan([172, 30, 0, 66], 4096, &inner(C1, SRV, 7))); // unknown VTEP
    ul_in.push(vxlan([172, 30, 0, 11], 4097, &inner(C1, SRV, 8))); // unknown VNI
    ul_in.push(vec![0xff; 7]); // garbage
    let vdevs = pcap_ports(&dir, &ul_in, &acc_in);
    let mut a = vec![
        "--config".to_string(),
        dir.join("gw.toml").display().to_string(),
    ];
    let sock = dir.join("vxgw.sock");
    a.push("--state".into());
    a.push("none".into());
    a.push("--metrics-addr".into());
    a.push("none".into());
    a.push("--socket".into());
    a.push(sock.display().to_string());
    a.push("--stats-period".into());
    a.push("1".into());
    a.push("--".into());
    a.extend(eal_args(&prefix, &vdevs));
    let mut p = Process::spawn(Path::new(VXGW), &a);
    let mut seen = false;
    for _ in 0..10 {
        match p.next_json(Duration::from_secs(5)) {
            Some(s) if s["rx_packets"].as_u64() == Some((ul_in.len() + acc_in.len()) as u64) => {
                seen = true;
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(
        seen,
        "vxgw did not receive everything; stderr:\n{}",
        p.stderr()
    );
    // The FDB over the control socket: SRV on the access port VLAN 100, C1 behind the VTEP.
    let fdb = control(&sock, r#"{"v":1,"cmd":"fdb.show","args":{"vni":4096}}"#);
    assert_eq!(fdb["ok"], true, "{fdb}");
    let rows = fdb["result"].as_array().unwrap();
    let find = |mac: &str| {
        rows.iter()
            .find(|r| r["mac"] == mac)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(find("02:42:0a:ff:00:0b")["dest"], "172.30.0.11", "{fdb}");
    assert_eq!(find("02:00:0a:ff:00:64")["dest"]["vlan"], 100, "{fdb}");
    assert_eq!(
        find("02:00:0a:ff:00:64")["dest"]["port"],
        "net_pcap1",
        "{fdb}"
    );
    let bad = control(&sock, r#"{"v":1,"cmd":"fdb.show","args":{"vni":"x"}}"#);
    assert_eq!(bad["ok"], false);
    assert!(p.stop().expect("exits").success(), "{}", p.stderr());
    let err = p.stderr();
    let stats: serde_json::Value = serde_json::from_str(
        err.lines()
            .find_map(|l| l.strip_prefix("vxgw: stopped: "))
            .expect("final stats line"),
    )
    .unwrap();

    // Access -> overlay: tag popped, VXLAN VNI 4096 to 172.30.0.11, inner intact.
    let ul_out = read_pcap(&dir.join("ul_out.pcap"));
    assert_eq!(
        ul_out.len(),
        to_overlay.len(),
        "one VXLAN frame per access frame"
    );
    for (out, want) in ul_out.iter().zip(&to_overlay) {
        let p = SlicedPacket::from_ethernet(out).expect("parses");
        let etherparse::NetSlice::Ipv4(ip) = p.net.as_ref().unwrap() else {
            panic!()
        };
        assert_eq!(ip.header().destination(), [172, 30, 0, 11]);
        assert_eq!(ip.header().source(), [172, 30, 0, 1]);
        let TransportSlice::Udp(udp) = p.transport.as_ref().unwrap() else {
            panic!()
        };
        assert_eq!(udp.destination_port(), 4789);
        assert_eq!(&out[42..50], &[0x08, 0, 0, 0, 0, 0x10, 0, 0]);
        assert_eq!(&out[50..], &want[..], "inner frame, untagged");
        assert_eq!(&out[0..6], &NODE1_MAC, "outer dst = static neighbour");
    }
    // Overlay -> access: decapsulated, VLAN 100 pushed (PCP 0), inner intact.
    let acc_out = read_pcap(&dir.join("acc_out.pcap"));
    assert_eq!(acc_out.len(), from_overlay.len());
    for (out, want) in acc_out.iter().zip(&from_overlay) {
        assert_eq!(&out[12..16], &[0x81, 0x00, 0x00, 100]);
        assert_eq!(&out[..12], &want[..12]);
        assert_eq!(&out[16..], &want[12..]);
    }
    let drops = &stats["drops"];
    assert_eq!(drops["unknown_vtep"], 1, "{stats}");
    assert_eq!(drops["unknown_vni"], 1, "{stats}");
    assert_eq!(drops["unknown_vlan"], 1, "{stats}");
    assert_eq!(drops["truncated"], 1, "{stats}");
    assert_eq!(stats["events"]["encapsulated"], 20, "{stats}");
    assert_eq!(
        stats["events"]["decapsulated"], 20,
        "unknown VTEP/VNI are not decapsulated: {stats}"
    );
    assert_eq!(
        stats["fdb_entries"], 2,
        "SRV on the access port, C1 behind the VTEP: {stats}"
    );
    cleanup_prefix(&prefix);
}

/// Runs vxgw on `dir`'s gw.toml and the pcap ports `vdevs` until it has received
/// `frames` frames, then stops it (a clean exit flushes the output captures).
/// Returns the stopped process (for its stderr).
fn run_until_received(dir: &TempDir, prefix: &str, vdevs: &[String], frames: usize) -> Process {
    let mut a: Vec<String> = ["--config", &dir.join("gw.toml").display().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for s in ["--state", "none", "--metrics-addr", "none", "--socket"] {
        a.push(s.into());
    }
    a.push(dir.join("vxgw.sock").display().to_string());
    a.extend(["--stats-period".into(), "1".into(), "--".into()]);
    a.extend(eal_args(prefix, vdevs));
    let mut p = Process::spawn(Path::new(VXGW), &a);
    let mut seen = false;
    for _ in 0..10 {
        match p.next_json(Duration::from_secs(5)) {
            Some(s) if s["rx_packets"].as_u64() == Some(frames as u64) => {
                seen = true;
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(seen, "vxgw did not receive everything:\n{}", p.stderr());
    assert!(p.stop().expect("exits").success(), "{}", p.stderr());
    p
}

/// A burst's decapsulated frames to two access ports, interleaved in runs of
/// different lengths: each leaves on its own port, in order (the worker queues a
/// burst's fast-path frames run by run, one port's buffer per run).
#[test]
fn decap_runs_to_two_ports_each_reach_their_port() {
    let dir = TempDir::new("gw_pcap_runs");
    let prefix = file_prefix("gwpcapruns");
    const SRV2: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x65];
    // A second access port, untagged in the same VNI; SRV on net_pcap1 (VLAN 100),
    // SRV2 on net_pcap2, both static so that every frame takes the fast path.
    let config = CONFIG.replace(
        "access = [{ port = \"net_pcap1\", vlan = 100 }]",
        "access = [{ port = \"net_pcap1\", vlan = 100 }, { port = \"net_pcap2\", vlan = 0 }]",
    ) + "\n[[port]]\nname = \"net_pcap2\"\nroles = [\"access\"]\n\n[[fdb]]\nvni = 4096\nmac = \"02:00:0a:ff:00:64\"\nport = \"net_pcap1\"\nvlan = 100\n\n[[fdb]]\nvni = 4096\nmac = \"02:00:0a:ff:00:65\"\nport = \"net_pcap2\"\nvlan = 0\n";
    assert!(
        config.contains("net_pcap2\", vlan = 0"),
        "the VNI's access list changed"
    );
    std::fs::write(dir.join("gw.toml"), config).unwrap();
    // Runs of 1, 2, 3, ... frames to alternate ports (40 frames: one burst).
    let mut to_second = Vec::new();
    let mut run = 1;
    let mut second = false;
    while to_second.len() < 40 {
        to_second.extend(std::iter::repeat_n(second, run));
        run += 1;
        second = !second;
    }
    to_second.truncate(40);
    let ul_in: Vec<Vec<u8>> = to_second
        .iter()
        .enumerate()
        .map(|(n, &s)| {
            vxlan(
                [172, 30, 0, 11],
                4096,
                &inner(C1, if s { SRV2 } else { SRV }, n as u16),
            )
        })
        .collect();
    let mut vdevs = pcap_ports(&dir, &ul_in, &[]);
    write_pcap(&dir.join("acc2_in.pcap"), &[]);
    vdevs.push(format!(
        "net_pcap2,rx_pcap={},tx_pcap={}",
        dir.join("acc2_in.pcap").display(),
        dir.join("acc2_out.pcap").display()
    ));
    let p = run_until_received(&dir, &prefix, &vdevs, ul_in.len());
    // The payload byte is the frame's number; tagged frames carry it at the end too.
    let numbers = |f: &str| -> Vec<u8> {
        read_pcap(&dir.join(f))
            .iter()
            .map(|f| *f.last().unwrap())
            .collect()
    };
    let want = |second: bool| -> Vec<u8> {
        (0..40u8)
            .filter(|&n| to_second[n as usize] == second)
            .collect()
    };
    assert_eq!(numbers("acc_out.pcap"), want(false), "{}", p.stderr());
    assert_eq!(numbers("acc2_out.pcap"), want(true), "{}", p.stderr());
    cleanup_prefix(&prefix);
}

/// Decapsulated frames leave in the order they came, when the fast path (known
/// unicast) and the general path (a broadcast, flooded) take turns within one burst:
/// the worker queues a burst's fast-path frames after its loop, and must send them
/// before a frame the general path takes.
#[test]
fn decap_keeps_the_order_of_fast_and_general_frames() {
    let dir = TempDir::new("gw_pcap_order");
    let prefix = file_prefix("gwpcaporder");
    // SRV known from the start (a static entry), so its frames take the fast path.
    let config = format!(
        "{CONFIG}\n[[fdb]]\nvni = 4096\nmac = \"02:00:0a:ff:00:64\"\nport = \"net_pcap1\"\nvlan = 100\n"
    );
    std::fs::write(dir.join("gw.toml"), config).unwrap();
    const BCAST: [u8; 6] = [0xff; 6];
    let frames: Vec<Vec<u8>> = (0..21u16)
        .map(|n| inner(C1, if n % 7 == 3 { BCAST } else { SRV }, n))
        .collect();
    let ul_in: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| vxlan([172, 30, 0, 11], 4096, f))
        .collect();
    let vdevs = pcap_ports(&dir, &ul_in, &[]);
    let p = run_until_received(&dir, &prefix, &vdevs, ul_in.len());
    let acc_out = read_pcap(&dir.join("acc_out.pcap"));
    // The payload byte is the frame's number; tagged frames carry it at the end.
    let order: Vec<u8> = acc_out.iter().map(|f| *f.last().unwrap()).collect();
    assert_eq!(order, (0..21u8).collect::<Vec<_>>(), "{}", p.stderr());
    cleanup_prefix(&prefix);
}
