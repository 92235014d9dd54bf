//! The exporter's HTTP server: a deliberately small HTTP/1.1 server on std's
//! `TcpListener`, on a thread of its own, serving one registry.
//!
//! `GET`/`HEAD` of `/metrics` (text exposition format 0.0.4) and `/` (a pointer to
//! `/metrics`), 404 for other paths, 405 (with `Allow: GET, HEAD`) for other methods,
//! 400 for malformed requests, 431 for request heads over 8 KiB. One connection at a
//! time, one request per connection (`Connection: close`), with a deadline on reading
//! the request so a stalled client cannot hold the exporter, and a write timeout so a
//! client that does not read cannot either.
//!
//! The head is framed here (read until its blank line, within the size limit and the
//! deadline: the hardening, which decides between answering and giving up), then
//! parsed by `httparse`; the `Date` header is written by `httpdate`. Header lines are
//! not judged: the server needs none of them, so, as the exporter always did, a
//! malformed one is skipped rather than answered with 400.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus::core::Collector;
use prometheus::{Encoder, Registry, TextEncoder};

/// Largest request head accepted (request line and headers).
const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its request head.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Time a client has to take the response.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The management listener, bound early (so a bad or busy address fails before the
/// ports start) and served once the collector exists.
pub struct MetricsListener {
    listener: TcpListener,
}

impl MetricsListener {
    /// Binds `addr` (TCP, kernel stack).
    pub fn bind(addr: SocketAddr) -> std::io::Result<MetricsListener> {
        Ok(MetricsListener {
            listener: TcpListener::bind(addr)?,
        })
    }

    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Registers `collector` in a registry of its own and serves it on a thread
    /// named `vxgw-metrics` until the returned [`Exporter`] is dropped.
    pub fn serve(self, collector: impl Collector + 'static) -> Result<Exporter, ExporterError> {
        let registry = Registry::new();
        registry.register(Box::new(collector))?;
        let addr = self.listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let listener = self.listener;
        let thread = std::thread::Builder::new()
            .name("vxgw-metrics".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::Acquire) {
                        break;
                    }
                    match conn {
                        Ok(s) => serve_connection(s, &registry),
                        // Out of descriptors or an aborted handshake: back off briefly.
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })?;
        Ok(Exporter {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The collector's metrics were refused by the registry.
    #[error("metrics registry: {0}")]
    Registry(#[from] prometheus::Error),
    /// Socket or thread.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running exporter; stops (and drops the collector, with its port handles) when
/// dropped.
pub struct Exporter {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept with a connection of our own.
        let ip = match self.addr.ip() {
            IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let woke = TcpStream::connect_timeout(
            &SocketAddr::new(ip, self.addr.port()),
            Duration::from_secs(1),
        )
        .is_ok();
        if let Some(t) = self.thread.take() {
            // Without the wake-up the thread may sleep in accept forever: leave it.
            if woke {
                let _ = t.join();
            }
        }
    }
}

/// A response: status, content type, body.
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    allow: bool,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
            allow: false,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Why no request head was read.
#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    /// The client closed, stalled past the deadline, or the socket failed: nobody
    /// to answer.
    Gone,
    /// Over [`MAX_HEAD`] bytes without the blank line: answered with 431.
    TooLarge,
}

/// Reads the request head (through its blank line), within the deadline and size
/// limit.
fn read_head(s: &mut TcpStream) -> Result<Vec<u8>, HeadError> {
    let deadline = Instant::now() + READ_DEADLINE;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        if let Some((blank, end)) = find_blank_line(&head) {
            if blank > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            head.truncate(end);
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(HeadError::Gone)?;
        s.set_read_timeout(Some(left))
            .map_err(|_| HeadError::Gone)?;
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return Err(HeadError::Gone),
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// End of the request line and headers: the first `\r\n\r\n` (or `\n\n`, from lax
/// clients), as (where it starts, where it ends).
fn find_blank_line(b: &[u8]) -> Option<(usize, usize)> {
    (0..b.len()).find_map(|i| {
        if b[i..].starts_with(b"\r\n\r\n") {
            Some((i, i + 4))
        } else if b[i..].starts_with(b"\n\n") {
            Some((i, i + 2))
        } else {
            None
        }
    })
}

/// Header slots for the parser: more than a head of [`MAX_HEAD`] bytes can hold (a
/// header line takes at least 3 bytes, `a:\n`), so that, as before the parser, only
/// the head's size limits its headers.
const MAX_HEADERS: usize = MAX_HEAD / 3 + 1;

/// The request line of a head, as far as the server looks: method and target.
struct RequestLine<'a> {
    method: &'a str,
    target: &'a str,
}

/// Parses a request head (through its blank line) with `httparse`; `Err` holds the
/// body of the 400 answer.
fn parse_head(head: &[u8]) -> Result<RequestLine<'_>, &'static str> {
    const BAD_LINE: &str = "bad request: expected METHOD TARGET HTTP/1.x\n";
    // Not left to the parser, which takes any byte above 0x7f in a header value.
    if std::str::from_utf8(head).is_err() {
        return Err("bad request: not UTF-8\n");
    }
    let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let parsed = httparse::ParserConfig::default()
        .ignore_invalid_headers_in_requests(true)
        .parse_request(&mut req, head);
    match parsed {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::Version) => {
            return Err("bad request: only HTTP/1.0 and HTTP/1.1 are served\n")
        }
        // Partial: nothing but empty lines before the blank line.
        Ok(httparse::Status::Partial) | Err(_) => return Err(BAD_LINE),
    }
    match (req.method, req.path) {
        (Some(method), Some(target)) => Ok(RequestLine { method, target }),
        _ => Err(BAD_LINE),
    }
}

/// The answer to one request head.
fn respond(head: &[u8], registry: &Registry) -> (Response, bool) {
    let req = match parse_head(head) {
        Ok(req) => req,
        Err(msg) => return (Response::text(400, msg), false),
    };
    let head_only = match req.method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut r = Response::text(405, "method not allowed: GET or HEAD\n");
            r.allow = true;
            return (r, false);
        }
    };
    let path = req.target.split(['?', '#']).next().unwrap_or("");
    let r = match path {
        "/metrics" => {
            let enc = TextEncoder::new();
            let mut body = Vec::with_capacity(16 * 1024);
            match enc.encode(&registry.gather(), &mut body) {
                Ok(()) => Response {
                    status: 200,
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    body,
                    allow: false,
                },
                Err(e) => Response::text(500, &format!("encoding metrics: {e}\n")),
            }
        }
        "/" => Response::text(200, "vxgw Prometheus exporter: metrics are at /metrics\n"),
        _ => Response::text(404, "not found: metrics are at /metrics\n"),
    };
    (r, head_only)
}

fn serve_connection(mut s: TcpStream, registry: &Registry) {
    let (resp, head_only) = match read_head(&mut s) {
        Ok(head) => respond(&head, registry),
        Err(HeadError::Gone) => return,
        Err(HeadError::TooLarge) => (
            Response::text(431, "request head larger than 8 KiB\n"),
            false,
        ),
    };
    let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nDate: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
        resp.status,
        reason(resp.status),
        http_date(SystemTime::now()),
        resp.content_type,
        resp.body.len(),
        if resp.allow { "Allow: GET, HEAD\r\n" } else { "" },
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    if s.write_all(&out).is_err() {
        return;
    }
    // Close politely: stop sending, then take (briefly) what the client still sends,
    // so unread request bytes do not turn the close into a reset that loses the answer.
    let _ = s.shutdown(Shutdown::Write);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut sink = [0u8; 1024];
    let mut drained = 0;
    while drained < 64 * 1024 {
        match s.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

/// An HTTP date (IMF-fixdate, RFC 9110 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// `httpdate` panics on a time outside 1970..=9999 (and a panic here would end the
/// exporter, or the process where panics abort): a clock set outside that range is
/// clamped to its ends (before 1970 gives the epoch, as the exporter always wrote).
fn http_date(t: SystemTime) -> String {
    /// 9999-12-31 23:59:59 UTC, the last second `httpdate` formats.
    const LAST: Duration = Duration::from_secs(253_402_300_799);
    httpdate::fmt_http_date(t.clamp(UNIX_EPOCH, UNIX_EPOCH + LAST))
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
