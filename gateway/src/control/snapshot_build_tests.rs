//! Snapshot building: services, Maglev, the external side.

use super::*;
use crate::wire::MacAddr;

const CFG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
[[port]]
name = "ul"
roles = ["underlay"]
[[port]]
name = "ext"
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
backends = [{ ip = "10.255.0.11" }, { ip = "10.255.0.12" }, { ip = "10.255.0.13", weight = 0 }]
[[service]]
name = "web-vip"
protocol = "tcp"
published_ip = "192.0.2.1"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
target_port = 8080
mode = "preserve"
backends = [{ ip = "10.255.0.13" }]
"#;

fn snap() -> Snapshot {
    let cfg = Config::parse(CFG).expect("config");
    Snapshot::build(
        &cfg,
        &|n| {
            Some(ResolvedPort {
                id: if n == "ul" { 0 } else { 1 },
                mac: MacAddr([2, 0, 0, 0, 0, if n == "ul" { 1 } else { 2 }]),
                mtu: 1500,
            })
        },
        1,
    )
    .expect("snapshot")
}

#[test]
fn services_resolve_exact_address_first() {
    let s = snap();
    let any = Ipv4Addr::new(198, 51, 100, 7);
    let vip = Ipv4Addr::new(192, 0, 2, 1);
    assert_eq!(s.service_for(6, any, 80), Some(0));
    assert_eq!(s.service_for(6, vip, 80), Some(1));
    assert_eq!(s.service_for(17, vip, 80), None, "UDP is not published");
    assert_eq!(s.service_for(6, vip, 81), None);
    let vip_svc = &s.services[1];
    assert!(vip_svc.preserve_client);
    assert_eq!(vip_svc.target_port, 8080);
    assert_eq!(
        s.services[0].target_port, 80,
        "defaults to the published port"
    );
}

#[test]
fn maglev_spreads_over_active_backends_only() {
    let s = snap();
    let web = &s.services[0];
    let mut hits = [0u32; 3];
    for h in 0..60_000u64 {
        let b = web
            .maglev
            .lookup(h.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .expect("a backend");
        hits[b as usize] += 1;
    }
    assert_eq!(hits[2], 0, "the drained backend takes no new flows");
    assert!(hits[0].abs_diff(hits[1]) < 3_000, "balanced: {hits:?}");
}
