//! Control plane: the configuration file and (with the management plane) the control
//! thread and socket.

pub mod config;
pub mod server;
