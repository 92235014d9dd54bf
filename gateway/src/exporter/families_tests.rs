//! Tests of the metric families: built in [`SPECS`] order, named and typed as
//! Prometheus expects, every worker summed and every label value exported.

use prometheus::{Encoder, Registry, TextEncoder};

use super::super::fixture::{reading, Fixed};
use super::*;

fn scrape(r: Reading) -> String {
    let reg = Registry::new();
    reg.register(Box::new(Fixed(r, descs().unwrap()))).unwrap();
    let mut out = Vec::new();
    TextEncoder::new().encode(&reg.gather(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn families_follow_specs() {
    let fams = reading().families();
    let names: Vec<&str> = fams.iter().map(|f| f.name()).collect();
    let specs: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
    assert_eq!(
        names, specs,
        "collect() builds exactly the described families"
    );
    for (f, s) in fams.iter().zip(SPECS) {
        assert!(!f.get_metric().is_empty(), "{} has samples", s.name);
        assert_eq!(f.get_field_type(), s.kind);
        if s.kind == MetricType::COUNTER {
            assert!(s.name.ends_with("_total"), "{}", s.name);
        } else {
            assert!(!s.name.ends_with("_total"), "{}", s.name);
        }
        assert!(s.name.starts_with("vxgw_"));
    }
    descs().expect("valid names and labels");
}

#[test]
fn sums_workers_and_exports_every_reason() {
    let text = scrape(reading());
    assert!(
        text.contains("vxgw_drops_total{reason=\"unknown_vtep\"} 3\n"),
        "{text}"
    );
    assert!(text.contains("vxgw_drops_total{reason=\"tx_queue_full\"} 0\n"));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("vxgw_drops_total{"))
            .count(),
        DropReason::ALL.len()
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("vxgw_events_total{"))
            .count(),
        Event::ALL.len()
    );
    assert!(text.contains("vxgw_events_total{event=\"encapsulated\"} 7\n"));
    assert!(text.contains("vxgw_worker_rx_packets_total{worker=\"1\"} 10\n"));
    assert!(text.contains("vxgw_worker_rx_packets_total{worker=\"3\"} 5\n"));
    assert!(text.contains("vxgw_worker_busy_seconds_total{worker=\"1\"} 0.003\n"));
    assert!(text.contains("vxgw_port_rx_packets_total{port=\"net_pcap0\"} 23\n"));
    assert!(text.contains("vxgw_port_rx_bytes_total{port=\"net_pcap0\"} 2300\n"));
    assert!(text.contains("vxgw_port_link_up{port=\"net_pcap0\"} 1\n"));
    assert!(text.contains("vxgw_port_link_up{port=\"0000:01:00.0\"} 0\n"));
    assert!(text.contains("vxgw_fdb_entries{kind=\"static\"} 1\n"));
    assert!(text.contains("vxgw_fdb_entries{kind=\"dynamic\"} 0\n"));
    // The FDB's refusals are the workers' counts (the table counts its changes).
    assert!(text.contains("vxgw_fdb_limit_hits_total 9\n"), "{text}");
    assert!(text.contains("vxgw_fdb_static_kept_total 1\n"));
    assert!(text.contains("vxgw_fdb_table_full_total 0\n"));
    assert!(text.contains("vxgw_fdb_not_unicast_total 6\n"));
    assert!(text.contains("vxgw_neighbours{state=\"static\"} 1\n"));
    assert!(text.contains("vxgw_neighbours{state=\"resolved\"} 1\n"));
    assert!(text.contains("vxgw_neighbours{state=\"incomplete\"} 0\n"));
    assert!(text.contains(&format!(
        "vxgw_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
    for s in SPECS {
        assert!(
            text.contains(&format!("# HELP {} {}\n", s.name, s.help)),
            "{}",
            s.name
        );
        let t = if s.kind == MetricType::COUNTER {
            "counter"
        } else {
            "gauge"
        };
        assert!(
            text.contains(&format!("# TYPE {} {t}\n", s.name)),
            "{}",
            s.name
        );
    }
}
