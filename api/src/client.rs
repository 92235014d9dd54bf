//! A client of vxgw's Unix control socket (vxgwctl, vxgw-swarm): connect, send the request as one
//! JSON line, read one line back and parse it as a reply. What can go wrong is
//! returned as a [`Failure`]; the caller says why (vxgwctl picks its exit status from it).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::{Reply, Request};

/// Why no reply came back.
#[derive(Debug)]
pub enum Failure {
    /// The socket is missing or not accessible, or the connection failed before an
    /// answer: why, to print after the socket's path (exit 3).
    Socket(String),
    /// vxgw answered something that is not a reply (exit 1).
    Malformed(serde_json::Error),
}

/// Sends `req` to the vxgw listening on `socket` and reads its reply.
pub fn round_trip(socket: &Path, req: &Request) -> Result<Reply, Failure> {
    let mut conn = match UnixStream::connect(socket) {
        Ok(c) => c,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    "no vxgw is listening there (is it running? see --socket)".to_string()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "permission denied (run as root or a member of the socket's group)".to_string()
                }
                _ => e.to_string(),
            };
            return Err(Failure::Socket(why));
        }
    };
    if writeln!(conn, "{}", req.to_line()).is_err() {
        return Err(Failure::Socket("connection lost".into()));
    }
    let mut line = String::new();
    if BufReader::new(&conn).read_line(&mut line).is_err() || line.is_empty() {
        return Err(Failure::Socket("no answer".into()));
    }
    serde_json::from_str(&line).map_err(Failure::Malformed)
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Socket(why) => write!(f, "{why}"),
            Failure::Malformed(e) => write!(f, "malformed answer from vxgw: {e}"),
        }
    }
}

impl std::error::Error for Failure {}
