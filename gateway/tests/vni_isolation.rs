//! Issue 24, cross-VNI leak, end to end on a real vxgw with net_pcap ports: VNI 4096
//! on net_pcap1 VLAN 100, VNI 5000 on net_pcap1 VLAN 904.
//! - a static FDB entry of VNI 4096 towards VLAN 904 (VNI 5000's segment) or VLAN
//!   5000 (904 once masked to 12 bits) is refused at config time: `--check-config`
//!   and `--config` both name it;
//! - with such entries forced into the table (the debug-build test hook
//!   `VXGW_TEST_FORCE_FDB`, past the validator, as a corrupted table would hold
//!   them), VNI 4096's frames to them never leave on the access port: the egress
//!   drops them as `vni_isolation`, while VNI 4096's own member still gets its frames.

use std::path::Path;
use std::time::Duration;

use vxgw_tests::pcap_gateway::{inner, pcap_ports, vxlan, C1, CONFIG, SRV};
use vxgw_tests::{cleanup_prefix, eal_args, file_prefix, read_pcap, Process, TempDir};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");
const SRV2: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x65];
const SRV3: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x66];

/// Two VNIs on the access port, and a static entry for SRV3 on VNI 4096's member.
fn two_vnis() -> String {
    format!(
        "{CONFIG}\n[[vni]]\nid = 5000\naccess = [{{ port = \"net_pcap1\", vlan = 904 }}]\n\n\
         [[fdb]]\nvni = 4096\nmac = \"02:00:0a:ff:00:66\"\nport = \"net_pcap1\"\nvlan = 100\n"
    )
}

fn leaking(vlan: u16) -> String {
    format!(
        "{}\n[[fdb]]\nvni = 4096\nmac = \"02:00:0a:ff:00:64\"\nport = \"net_pcap1\"\nvlan = {vlan}\n",
        two_vnis()
    )
}

#[test]
fn a_leaking_static_entry_is_refused_at_config_time() {
    let dir = TempDir::new("vniiso_cfg");
    std::fs::write(dir.join("ok.toml"), two_vnis()).unwrap();
    let ok = std::process::Command::new(VXGW)
        .args(["--check-config", &dir.join("ok.toml").display().to_string()])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    for (vlan, want) in [
        (
            904,
            "fdb[1]: port 'net_pcap1' vlan 904 is not an access member of VNI 4096",
        ),
        (5000, "fdb[1].vlan: 5000 is not 0-4094"),
    ] {
        let f = dir.join(&format!("leak{vlan}.toml"));
        std::fs::write(&f, leaking(vlan)).unwrap();
        let out = std::process::Command::new(VXGW)
            .args(["--check-config", &f.display().to_string()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(want), "{err}");
        // And the gateway does not start on it.
        let prefix = file_prefix(&format!("vniisocfg{vlan}"));
        let vdevs = pcap_ports(&dir, &[], &[]);
        let mut a: Vec<String> = vec![
            "--config".into(),
            f.display().to_string(),
            "--state".into(),
            "none".into(),
            "--metrics-addr".into(),
            "none".into(),
            "--socket".into(),
            dir.join("vxgw.sock").display().to_string(),
            "--".into(),
        ];
        a.extend(eal_args(&prefix, &vdevs));
        let mut p = Process::spawn(Path::new(VXGW), &a);
        let st = p.wait_exit(Duration::from_secs(30)).expect("vxgw exits");
        assert_eq!(st.code(), Some(1), "{}", p.stderr());
        assert!(p.stderr().contains(want), "{}", p.stderr());
        cleanup_prefix(&prefix);
    }
}

#[test]
fn the_egress_drops_a_forced_cross_vni_entry() {
    let dir = TempDir::new("vniiso_pcap");
    let prefix = file_prefix("vniisopcap");
    std::fs::write(dir.join("gw.toml"), two_vnis()).unwrap();
    // VNI 4096's frames: 10 to SRV (forced: VLAN 5000, i.e. VID 904 on the wire),
    // 10 to SRV2 (forced: VLAN 904, VNI 5000's segment), 5 to SRV3 (its own member).
    let mut ul_in = Vec::new();
    for n in 0..10 {
        ul_in.push(vxlan([172, 30, 0, 11], 4096, &inner(C1, SRV, n)));
        ul_in.push(vxlan([172, 30, 0, 11], 4096, &inner(C1, SRV2, 100 + n)));
    }
    for n in 0..5 {
        ul_in.push(vxlan([172, 30, 0, 11], 4096, &inner(C1, SRV3, 200 + n)));
    }
    let vdevs = pcap_ports(&dir, &ul_in, &[]);
    let mut a: Vec<String> = vec![
        "--config".into(),
        dir.join("gw.toml").display().to_string(),
        "--state".into(),
        "none".into(),
        "--metrics-addr".into(),
        "none".into(),
        "--socket".into(),
        dir.join("vxgw.sock").display().to_string(),
        "--stats-period".into(),
        "1".into(),
        "--".into(),
    ];
    a.extend(eal_args(&prefix, &vdevs));
    let forced = "4096,02:00:0a:ff:00:64,net_pcap1,5000;4096,02:00:0a:ff:00:65,net_pcap1,904";
    let mut p = Process::spawn_env(Path::new(VXGW), &a, &[("VXGW_TEST_FORCE_FDB", forced)]);
    let mut seen = false;
    for _ in 0..10 {
        match p.next_json(Duration::from_secs(5)) {
            Some(s) if s["rx_packets"].as_u64() == Some(ul_in.len() as u64) => {
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
    assert!(err.contains("TEST HOOK: forced FDB entry"), "{err}");
    let stats: serde_json::Value = serde_json::from_str(
        err.lines()
            .find_map(|l| l.strip_prefix("vxgw: stopped: "))
            .expect("final stats line"),
    )
    .unwrap();
    let acc_out = read_pcap(&dir.join("acc_out.pcap"));
    for f in &acc_out {
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 100], "only VLAN 100 leaves");
        assert_eq!(&f[..6], &SRV3, "only VNI 4096's own member is reached");
    }
    assert_eq!(acc_out.len(), 5, "{stats}");
    assert_eq!(stats["drops"]["vni_isolation"], 20, "{stats}");
    cleanup_prefix(&prefix);
}
