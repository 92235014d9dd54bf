//! What the workers run on and share with the control plane, the exporter and the
//! telemetry commands: the coarse [`Clock`], the [`Shared`] tables and resources,
//! and each worker's counter block ([`WorkerStats`] in a padded [`WorkerCounters`]).
//!
//! It sits below the worker and below everything that reads the workers (control,
//! exporter, telemetry commands, app), so that those depend on this state and not
//! on the poll loop (`worker`).
//!
//! - `clock`: [`Clock`], seconds since start from the TSC.
//! - `shared`: [`Shared`], the tables and resources every worker shares.
//! - `stats`: [`WorkerStats`] and [`WorkerCounters`], one worker's counters.

mod clock;
mod live_trace;
mod shared;
mod stats;

pub use clock::Clock;
pub use live_trace::{LiveRecord, LiveTrace, LiveTraceError, LIVE_HEAD, LIVE_TRACE_MAX};
pub use shared::Shared;
pub use stats::{WorkerCounters, WorkerStats};
