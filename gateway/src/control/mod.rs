//! Control plane: the configuration file, the running configuration and its live
//! changes, persistence, and the control socket.

pub mod commands;
pub mod config;
pub mod live;
pub mod peer;
pub mod persist;
pub mod server;
pub mod service_cmds;
pub mod snapshot_build;
pub mod trace_cmd;

#[cfg(test)]
mod live_tests;
