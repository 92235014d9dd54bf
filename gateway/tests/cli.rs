//! The `vxgw` binary on DPDK virtual devices: packets forwarded intact both ways
//! (net_pcap), sustained forwarding (net_null), clean exit on SIGINT, and clear
//! failures for bad EAL arguments, unknown ports and missing worker lcores.

use std::path::Path;
use std::time::Duration;

use vxgw_tests::{
    cleanup_prefix, eal_args, file_prefix, read_pcap, udp_frame, write_pcap, Process, TempDir,
};

const VXGW: &str = env!("CARGO_BIN_EXE_vxgw");

fn args(opts: &[&str], eal: Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    v.push("--".into());
    v.extend(eal);
    v
}

/// Runs vxgw to completion (it must exit by itself) and returns (code, stderr).
fn run_to_exit(a: Vec<String>) -> (Option<i32>, String) {
    let mut p = Process::spawn(Path::new(VXGW), &a);
    let st = p.wait_exit(Duration::from_secs(30));
    (st.and_then(|s| s.code()), p.stderr())
}

#[test]
fn pcap_frames_cross_intact_both_directions() {
    let dir = TempDir::new("cli_pcap");
    let prefix = file_prefix("pcap");
    let a_in: Vec<Vec<u8>> = (0..500)
        .map(|i| udp_frame(i, 60 + (i as usize * 29) % 1455))
        .collect();
    let b_in: Vec<Vec<u8>> = (0..300)
        .map(|i| udp_frame(9000 + i, 64 + i as usize))
        .collect();
    write_pcap(&dir.join("a_in.pcap"), &a_in);
    write_pcap(&dir.join("b_in.pcap"), &b_in);
    let vdevs = vec![
        format!(
            "net_pcap0,rx_pcap={},tx_pcap={}",
            dir.join("a_in.pcap").display(),
            dir.join("a_out.pcap").display()
        ),
        format!(
            "net_pcap1,rx_pcap={},tx_pcap={}",
            dir.join("b_in.pcap").display(),
            dir.join("b_out.pcap").display()
        ),
    ];
    let mut p = Process::spawn(
        Path::new(VXGW),
        &args(
            &["--forward", "net_pcap0,net_pcap1", "--stats-period", "1"],
            eal_args(&prefix, &vdevs),
        ),
    );
    // Wait until the stats show every packet forwarded, then stop (pcap files are
    // flushed when the port closes).
    let mut done = false;
    for _ in 0..20 {
        match p.next_json(Duration::from_secs(5)) {
            Some(s) => {
                let tx: u64 = s["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["tx_packets"].as_u64().unwrap())
                    .sum();
                if tx == 800 {
                    done = true;
                    break;
                }
            }
            None => break,
        }
    }
    assert!(done, "not all packets forwarded; stderr:\n{}", p.stderr());
    let st = p.stop().expect("vxgw exits on SIGINT");
    assert!(st.success(), "exit status {st:?}; stderr:\n{}", p.stderr());
    assert!(
        p.stderr().contains("rx 800 tx 800 tx_dropped 0"),
        "{}",
        p.stderr()
    );
    assert_eq!(read_pcap(&dir.join("b_out.pcap")), a_in, "A->B differs");
    assert_eq!(read_pcap(&dir.join("a_out.pcap")), b_in, "B->A differs");
    cleanup_prefix(&prefix);
}

#[test]
fn null_devices_forward_at_rate() {
    let prefix = file_prefix("null");
    let vdevs = vec!["net_null0".to_string(), "net_null1,no-rx=1".to_string()];
    let mut p = Process::spawn(
        Path::new(VXGW),
        &args(&["--stats-period", "1"], eal_args(&prefix, &vdevs)),
    );
    let _first = p.next_json(Duration::from_secs(10)).expect("stats line");
    let s = p
        .next_json(Duration::from_secs(5))
        .expect("second stats line");
    let ports = s["ports"].as_array().unwrap();
    let rx_pps = ports[0]["rx_pps"].as_u64().unwrap();
    let tx_pps = ports[1]["tx_pps"].as_u64().unwrap();
    assert!(rx_pps > 100_000, "net_null0 rx {rx_pps} pps");
    // Everything received on port 0 leaves on port 1 (net_null never refuses); the
    // counters are read one after the other while the worker runs, so they may be
    // a burst or two apart either way.
    let w = &s["workers"][0];
    assert_eq!(w["tx_dropped"], 0);
    let (rx, tx) = (
        w["rx_packets"].as_u64().unwrap(),
        w["tx_packets"].as_u64().unwrap(),
    );
    assert!(rx.abs_diff(tx) <= 64, "rx {rx} tx {tx}");
    assert!(tx_pps > 100_000, "net_null1 tx {tx_pps} pps");
    assert!(p.stop().expect("exits").success());
    cleanup_prefix(&prefix);
}

#[test]
fn bad_eal_arguments_fail_clearly() {
    let prefix = file_prefix("badeal");
    let mut eal = eal_args(&prefix, &["net_null0".into(), "net_null1".into()]);
    eal.push("--no-such-eal-option".into());
    let (code, err) = run_to_exit(args(&[], eal));
    assert_eq!(code, Some(1), "stderr:\n{err}");
    assert!(err.contains("vxgw: EAL initialisation failed"), "{err}");
    cleanup_prefix(&prefix);
}

#[test]
fn unknown_port_fails_clearly() {
    let prefix = file_prefix("noport");
    let eal = eal_args(&prefix, &["net_null0".into(), "net_null1".into()]);
    let (code, err) = run_to_exit(args(&["--forward", "net_null0,net_foo7"], eal));
    assert_eq!(code, Some(1), "stderr:\n{err}");
    assert!(
        err.contains("vxgw: unknown port 'net_foo7': known ports are 0 (net_null0), 1 (net_null1)"),
        "{err}"
    );
    cleanup_prefix(&prefix);
}

#[test]
fn no_worker_lcore_fails_clearly() {
    let prefix = file_prefix("nolcore");
    let mut eal = eal_args(&prefix, &["net_null0".into(), "net_null1".into()]);
    eal[1] = "0".into(); // "-l 0": the main lcore only
    let (code, err) = run_to_exit(args(&[], eal));
    assert_eq!(code, Some(1), "stderr:\n{err}");
    assert!(err.contains("vxgw: no worker lcore"), "{err}");
    cleanup_prefix(&prefix);
}

#[test]
fn malformed_options_are_usage_errors() {
    let (code, err) = run_to_exit(vec!["--forward".into(), "net_null0".into()]);
    assert_eq!(code, Some(2), "stderr:\n{err}");
    assert!(err.contains("is not A,B"), "{err}");
}
