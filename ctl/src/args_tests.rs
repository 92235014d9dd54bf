//! Tests of the command line's definition and of the value parsers.

use super::*;

#[test]
fn the_command_line_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

#[test]
fn values_checked_before_sending() {
    assert_eq!(parse_mac("02:42:0A:ff:00:0b").unwrap(), "02:42:0a:ff:00:0b");
    assert!(parse_mac("zz").is_err() && parse_mac("02:42:0a:ff:00").is_err());
    assert!(parse_vni("0").is_err() && parse_vni("16777216").is_err());
    assert_eq!(parse_vni("16777215"), Ok(16777215));
    assert_eq!(parse_access("net_pcap1:100"), Ok(("net_pcap1".into(), 100)));
    assert_eq!(parse_access("net_pcap1"), Ok(("net_pcap1".into(), 0)));
    assert_eq!(
        parse_access("0000:01:00.0:7"),
        Ok(("0000:01:00.0".into(), 7))
    );
    assert_eq!(parse_access("0000:01:00.0"), Ok(("0000:01:00.0".into(), 0)));
    assert!(parse_access("p:5000").is_err());
    assert!(parse_arp("10.0.0.1=02:00:00:00:00:01").is_ok());
    assert!(parse_arp("10.0.0.1").is_err());
    assert_eq!(parse_port("65535"), Ok(65535));
    assert!(
        parse_port("0").is_err() && parse_port("65536").is_err() && parse_port("http").is_err()
    );
    assert_eq!(
        parse_backend("10.0.0.1:0"),
        Ok((Ipv4Addr::new(10, 0, 0, 1), Some(0)))
    );
    assert_eq!(
        parse_backend("10.0.0.1"),
        Ok((Ipv4Addr::new(10, 0, 0, 1), None))
    );
    assert!(parse_backend("10.0.0.1:").is_err() && parse_backend("host:1").is_err());
}
