//! Tests of flush, remove, the listings and the release hook.

use super::super::test_support::*;
use super::super::Timeouts;
use super::*;
use std::net::Ipv4Addr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

#[test]
fn flush_remove_entries_and_release_hook() {
    let released = Arc::new(AtomicU64::new(0));
    let r2 = released.clone();
    let t = Conntrack::with_release(64, Timeouts::default(), move |_| {
        r2.fetch_add(1, Relaxed);
    });
    for n in 0..30 {
        t.insert(&conn(n, n % 2 == 0), CtState::Established, 5)
            .unwrap();
    }
    let f = CtFilter::all().service(1);
    let listed = t.entries(&f, 9);
    assert_eq!(listed.len(), 10);
    assert!(listed.iter().all(|e| e.conn.service == 1 && e.idle == 4));
    assert_eq!(
        t.entries(
            &CtFilter::all().backend_id(2).state(CtState::Established),
            9
        )
        .len(),
        6
    );
    assert_eq!(
        t.entries(&CtFilter::all().backend(Ipv4Addr::new(10, 255, 0, 12)), 9)
            .len(),
        6
    );
    assert_eq!(
        t.entries(&CtFilter::all().client(*conn(7, true).client.ip()), 9)
            .len(),
        30
    );
    assert_eq!(t.flush(&f), 10);
    assert_eq!(t.flush(&f), 0);
    assert_eq!(t.len(), 20);
    let e = listed[0];
    assert_eq!(t.remove(e.idx, e.gen), None, "already flushed");
    let c = conn(0, true);
    assert_eq!(t.remove_key(&c.reply_key()), Some(c));
    assert_eq!(t.remove_key(&c.reply_key()), None);
    assert_eq!(t.sweep(5 + 7440, |_| Timeouts::default(), |_| {}), 19);
    assert_eq!(released.load(Relaxed), 30);
    let s = t.stats();
    assert_eq!((s.removed, s.expired, s.created), (11, 19, 30));
    validate(&t).unwrap();
}
