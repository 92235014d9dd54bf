//! Jumbo frames through the gateway on net_pcap ports: with the underlay's MTU at
//! 9000, inner frames of 3000 and 8900 bytes are decapsulated and encapsulated
//! byte-exact (the mbufs are sized from the configured MTUs, so nothing arrives
//! chained), beside 142- and 1442-byte ones; an inner packet that would not fit the
//! underlay MTU once encapsulated is dropped as `mtu_exceeded`. net_pcap cannot set
//! an MTU: vxgw says so once and carries on.

use std::path::Path;
use std::time::Duration;

use etherparse::PacketBuilder;
use vxgw_tests::pcap_gateway::{pcap_ports, tagged, vxlan, C1, CONFIG, NODE1_MAC, SRV};
use vxgw_tests::{cleanup_prefix, eal_args, file_prefix, read_pcap, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");

/// Inner frame sizes carried both ways (Ethernet header included, no tag).
const SIZES: [usize; 4] = [142, 1442, 3000, 8900];
/// VXLAN's outer headers: Ethernet, IPv4, UDP, VXLAN.
const ENCAP: usize = 50;

/// An untagged UDP frame `src` -> `dst` of exactly `len` bytes, its payload a
/// pattern that starts with `seed` (so that a frame cut short or shifted shows).
fn frame_of(src: [u8; 6], dst: [u8; 6], len: usize, seed: u8) -> Vec<u8> {
    let payload: Vec<u8> = (0..len - 42).map(|i| seed.wrapping_add(i as u8)).collect();
    let mut v = Vec::new();
    PacketBuilder::ethernet2(src, dst)
        .ipv4([10, 255, 0, 100], [10, 255, 0, 11], 64)
        .udp(1000 + seed as u16, 80)
        .write(&mut v, &payload)
        .unwrap();
    assert_eq!(v.len(), len);
    v
}

#[test]
fn jumbo_inner_frames_cross_both_ways_byte_exact() {
    let dir = TempDir::new("gw_jumbo");
    let prefix = file_prefix("gwjumbo");
    let config = CONFIG.replace(
        "name = \"net_pcap0\"\nroles = [\"underlay\"]",
        "name = \"net_pcap0\"\nroles = [\"underlay\"]\nmtu = 9000",
    );
    assert!(config.contains("mtu = 9000"), "the underlay port changed");
    std::fs::write(dir.join("gw.toml"), config).unwrap();

    let from_overlay: Vec<Vec<u8>> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &n)| frame_of(C1, SRV, n, i as u8))
        .collect();
    let to_overlay: Vec<Vec<u8>> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &n)| frame_of(SRV, C1, n, 100 + i as u8))
        .collect();
    let ul_in: Vec<Vec<u8>> = from_overlay
        .iter()
        .map(|f| vxlan([172, 30, 0, 11], 4096, f))
        .collect();
    let mut acc_in: Vec<Vec<u8>> = to_overlay.iter().map(|f| tagged(f, 100)).collect();
    // 8951 bytes of IP: 9001 once encapsulated, one more than the underlay's MTU.
    acc_in.push(tagged(&frame_of(SRV, C1, 8951 + 14, 200), 100));
    let vdevs = pcap_ports(&dir, &ul_in, &acc_in);

    let mut a: Vec<String> = ["--config", &dir.join("gw.toml").display().to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for s in ["--state", "none", "--metrics-addr", "none", "--socket"] {
        a.push(s.into());
    }
    a.push(dir.join("vxgw.sock").display().to_string());
    a.extend(["--stats-period".into(), "1".into(), "--".into()]);
    a.extend(eal_args(&prefix, &vdevs));
    let mut p = Process::spawn(Path::new(VXGW), &a);
    let total = (ul_in.len() + acc_in.len()) as u64;
    let mut seen = false;
    for _ in 0..10 {
        match p.next_json(Duration::from_secs(5)) {
            Some(s) if s["rx_packets"].as_u64() == Some(total) => {
                seen = true;
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(seen, "vxgw did not receive everything:\n{}", p.stderr());
    assert!(p.stop().expect("exits").success(), "{}", p.stderr());
    let err = p.stderr();
    assert_eq!(
        err.matches("cannot set an MTU").count(),
        1,
        "net_pcap's MTU said once, not as a failure:\n{err}"
    );
    assert!(err.contains("frames up to MTU 9000"), "{err}");

    // Overlay -> access: decapsulated, VLAN 100 pushed, every byte of the inner frame.
    let acc_out = read_pcap(&dir.join("acc_out.pcap"));
    assert_eq!(acc_out.len(), from_overlay.len(), "{err}");
    for (out, want) in acc_out.iter().zip(&from_overlay) {
        assert_eq!(out, &tagged(want, 100), "a {}-byte inner frame", want.len());
    }
    // Access -> overlay: tag popped, VXLAN to the VTEP, outer lengths right.
    let ul_out = read_pcap(&dir.join("ul_out.pcap"));
    assert_eq!(
        ul_out.len(),
        to_overlay.len(),
        "the 9001-byte one dropped: {err}"
    );
    for (out, want) in ul_out.iter().zip(&to_overlay) {
        assert_eq!(out.len(), ENCAP + want.len());
        assert_eq!(&out[..6], &NODE1_MAC);
        let ip_len = u16::from_be_bytes([out[16], out[17]]) as usize;
        assert_eq!(ip_len, ENCAP - 14 + want.len(), "outer IPv4 total length");
        assert_eq!(
            &out[ENCAP..],
            &want[..],
            "a {}-byte inner frame",
            want.len()
        );
    }
    let stats: serde_json::Value = serde_json::from_str(
        err.lines()
            .find_map(|l| l.strip_prefix("vxgw: stopped: "))
            .expect("final stats line"),
    )
    .unwrap();
    assert_eq!(stats["drops"]["mtu_exceeded"], 1, "{stats}");
    assert_eq!(stats["drops"].get("multi_segment"), None, "{stats}");
    cleanup_prefix(&prefix);
}
