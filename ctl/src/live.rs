//! `vxgwctl trace live`: once vxgw accepted `trace.start`, ask `trace.show` until the
//! trace holds all its packets, or stop it when the wait is over; the last answer
//! is what is printed.

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use vxgw_api::{self as api, LiveTraceReport, NoArgs, Request};

use vxgw_api::client::{round_trip, Failure};

/// How often the trace is asked.
const POLL: Duration = Duration::from_millis(100);

/// Waits up to `wait` for the live trace started just before; the last reply.
pub(crate) fn wait_for_trace(socket: &Path, wait: Duration) -> Result<api::Reply, Failure> {
    let deadline = Instant::now() + wait;
    loop {
        sleep(POLL);
        let reply = round_trip(socket, &Request::TraceShow(NoArgs {}))?;
        let armed = reply
            .result
            .clone()
            .and_then(|r| serde_json::from_value::<LiveTraceReport>(r).ok())
            .is_some_and(|t| t.armed);
        if !reply.ok || !armed {
            return Ok(reply);
        }
        if Instant::now() >= deadline {
            return round_trip(socket, &Request::TraceStop(NoArgs {}));
        }
    }
}
