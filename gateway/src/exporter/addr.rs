//! The exporter's management address: its default and the `--metrics-addr` syntax.
//!
//! Apart from the collector and the server so that the binary's argument parser can
//! use it without anything else of the exporter.

use std::net::SocketAddr;

/// The management address used when `--metrics-addr` is not given.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9465";

/// Parses a `--metrics-addr` value: `IP:PORT` (`127.0.0.1:9465`, `[::1]:9465`), or
/// `none`/`off` to disable the exporter.
pub fn parse_metrics_addr(s: &str) -> Result<Option<SocketAddr>, String> {
    match s.trim() {
        "none" | "off" => Ok(None),
        t => t.parse::<SocketAddr>().map(Some).map_err(|_| {
            format!(
                "'{s}' is not IP:PORT (e.g. {DEFAULT_METRICS_ADDR} or [::1]:9465), or none/off to disable the exporter"
            )
        }),
    }
}

#[cfg(test)]
#[path = "addr_tests.rs"]
mod tests;
