//! `vxgwctl`: the operator's CLI over vxgw's control socket (JSON lines).
//!
//! Commands in the style of `ip`/`bridge` (`vxgwctl vni add 5000 --flood IP,IP`),
//! human tables by default, `-j/--json` for scripts. Exit status: 0 success, 1 vxgw
//! refused the request (its reason is printed), 2 usage error (including values
//! checked here: VNI range, MAC and IP syntax, VLAN and port ranges, protocol and NAT
//! mode names; connection-state and service names are vxgw's to check), 3 the control
//! socket is missing or not accessible.

mod args;
mod live;
mod render;
mod request;
mod spec;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::Value;
use vxgw_api::{client, Answer};

use args::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let req = match request::request(&cli.cmd) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vxgwctl: {e}");
            return ExitCode::from(2);
        }
    };
    let mut resp = client::round_trip(&cli.socket, &req);
    // `trace live` waits for the trace it started.
    if let args::Cmd::Trace {
        action: args::TraceCmd::Live { wait, .. },
    } = &cli.cmd
    {
        if resp.as_ref().is_ok_and(|r| r.ok) {
            resp = live::wait_for_trace(&cli.socket, Duration::from_secs(*wait));
        }
    }
    let resp = match resp {
        Ok(r) => r,
        Err(client::Failure::Socket(why)) => {
            eprintln!("vxgwctl: {}: {why}", cli.socket.display());
            return ExitCode::from(3);
        }
        Err(client::Failure::Malformed(e)) => {
            eprintln!("vxgwctl: malformed answer from vxgw: {e}");
            return ExitCode::from(1);
        }
    };
    if !resp.ok {
        eprintln!(
            "vxgwctl: {}",
            resp.error.as_deref().unwrap_or("refused (no reason given)")
        );
        return ExitCode::from(1);
    }
    let result = resp.result.unwrap_or(Value::Null);
    if cli.json {
        render::print_json(&result);
        return ExitCode::SUCCESS;
    }
    match Answer::decode(&req, result) {
        Ok(answer) => render::print_human(&answer),
        Err(e) => {
            eprintln!(
                "vxgwctl: unexpected answer to {} from vxgw: {e} (try --json)",
                req.cmd()
            );
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
