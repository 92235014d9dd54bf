//! Tests of the HTTP server: dates, and every answer it gives over a real socket.

use super::super::families::descs;
use super::super::fixture::{reading, Fixed};
use super::*;

#[test]
fn http_dates() {
    let at = |s: u64| http_date(UNIX_EPOCH + Duration::from_secs(s));
    assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(at(1_709_251_199), "Thu, 29 Feb 2024 23:59:59 GMT");
    assert_eq!(at(4_102_444_800), "Fri, 01 Jan 2100 00:00:00 GMT");
    // Clocks outside what httpdate formats are clamped, not a panic.
    assert_eq!(
        http_date(UNIX_EPOCH - Duration::from_secs(86_400)),
        "Thu, 01 Jan 1970 00:00:00 GMT"
    );
    assert_eq!(at(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_eq!(at(253_402_300_800), "Fri, 31 Dec 9999 23:59:59 GMT");
    assert_eq!(
        at(u64::from(u32::MAX) * 1000),
        "Fri, 31 Dec 9999 23:59:59 GMT"
    );
}

fn get(addr: SocketAddr, req: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn http_server() {
    let l = MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let ex = l.serve(Fixed(reading(), descs().unwrap())).unwrap();
    let a = ex.local_addr();
    let r = get(a, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
    assert!(head.contains("\r\nDate: ") && head.contains(" GMT\r\n"));
    assert!(body.contains("# TYPE vxgw_drops_total counter\n"));
    let r = get(a, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
    let r = get(a, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\n"),
        "{r}"
    );
    assert!(get(a, "GET / HTTP/1.1\r\n\r\n")
        .ends_with("\r\n\r\nvxgw Prometheus exporter: metrics are at /metrics\n"));
    assert!(get(a, "GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
    let r = get(a, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    assert!(
        r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
            && r.contains("\r\nAllow: GET, HEAD\r\n"),
        "{r}"
    );
    assert!(get(a, "garbage\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(get(a, "GET /metrics HTTP/2.0\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
    let r = get(a, &big);
    assert!(r.starts_with("HTTP/1.1 431 "), "{r}");
    drop(ex);
    assert!(TcpStream::connect(a).is_err(), "closed after drop");
}

/// What the parser must not change: heads are framed by their blank line alone,
/// header lines are not judged (nor counted, within the size limit), and anything
/// but a clean request line or UTF-8 is a 400.
#[test]
fn http_heads() {
    let l = MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let ex = l.serve(Fixed(reading(), descs().unwrap())).unwrap();
    let a = ex.local_addr();
    let ok = |req: &str| {
        let r = get(a, req);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{req:?}: {r}");
    };
    let bad = |req: &[u8]| {
        let mut c = TcpStream::connect(a).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(req).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{req:?}: {out}"
        );
    };
    ok("GET /metrics HTTP/1.0\n\n");
    ok("GET / HTTP/1.1\r\n\n");
    ok("GET / HTTP/1.1\nHost: x\r\n\r\n");
    ok("GET / HTTP/1.1\r\nnot a header\r\nHost: x\r\n\r\n");
    ok("GET / HTTP/1.1\r\nX: caf\u{e9}\r\n\r\n");
    let many = format!("GET / HTTP/1.1\r\n{}\r\n", "a: b\r\n".repeat(1300));
    assert!(many.len() < MAX_HEAD);
    ok(&many);
    let sparse = format!("GET / HTTP/1.1\n{}\n", "a:\n".repeat(MAX_HEAD / 3 - 6));
    assert!(sparse.len() <= MAX_HEAD);
    ok(&sparse);
    bad(b"\r\n\r\n");
    bad(b"\n\n");
    bad(b"GET / HTTP/1.1 x\r\n\r\n");
    bad(b"GET  / HTTP/1.1\r\n\r\n");
    bad(b"GET /\r\n\r\n");
    bad(b"GET / http/1.1\r\n\r\n");
    bad(b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n");
    // The blank line may end exactly at the limit; one byte more is too much.
    let line = "GET / HTTP/1.1\r\nX: ";
    let at_limit = format!("{line}{}\r\n\r\n", "a".repeat(MAX_HEAD - line.len()));
    ok(&at_limit);
    let over = format!("{line}{}\r\n\r\n", "a".repeat(MAX_HEAD - line.len() + 1));
    assert!(get(a, &over).starts_with("HTTP/1.1 431 "));
}
