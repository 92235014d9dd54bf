//! Tests of the `--metrics-addr` syntax.

use super::*;

#[test]
fn metrics_addr_values() {
    assert_eq!(parse_metrics_addr("none"), Ok(None));
    assert_eq!(parse_metrics_addr("off"), Ok(None));
    assert_eq!(
        parse_metrics_addr(DEFAULT_METRICS_ADDR),
        Ok(Some("127.0.0.1:9465".parse().unwrap()))
    );
    assert_eq!(
        parse_metrics_addr("[::1]:9100"),
        Ok(Some("[::1]:9100".parse().unwrap()))
    );
    for bad in [
        "",
        "127.0.0.1",
        "localhost:9465",
        "1.2.3.4:99999",
        ":9465",
        "nope",
    ] {
        let e = parse_metrics_addr(bad).unwrap_err();
        assert!(e.contains("IP:PORT"), "{bad}: {e}");
    }
}
