//! Tests of expiry by the sweep, per state and per service.

use super::super::test_support::*;
use super::super::{Conn, CtHit, Dir};
use super::*;

#[test]
fn timeouts_per_state() {
    let to = Timeouts {
        syn: 11,
        established: 100,
        closing: 13,
        time_wait: 14,
        closed: 5,
        udp: 16,
        udp_replied: 17,
    };
    let long = Timeouts {
        established: 1000,
        ..to
    };
    // Service 1 has a longer established timeout.
    let per_service = |s: u32| if s == 1 { long } else { to };
    for st in CtState::ALL {
        for service in [0u32, 1] {
            let t = Conntrack::with_seed(8, to, 5);
            let c = Conn {
                service,
                ..if st.is_udp() { udp(1) } else { conn(1, true) }
            };
            let hit = t.insert(&c, st, 1000).unwrap();
            // A later packet (reply direction for TCP: the latest of the two
            // counts; original for UDP, to stay `UdpNew`) keeps it alive.
            let dir = if st.is_udp() {
                Dir::Original
            } else {
                Dir::Reply
            };
            assert_eq!(t.observe(&CtHit { dir, ..hit }, 0, 1002), st);
            let limit = per_service(service).of(st);
            let mut removed = Vec::new();
            assert_eq!(
                t.sweep(1002 + limit - 1, per_service, |c| removed.push(*c)),
                0
            );
            assert_eq!(t.len(), 1, "{st} removed before {limit} s");
            assert_eq!(t.sweep(1002 + limit, per_service, |c| removed.push(*c)), 1);
            assert!(t.is_empty(), "{st} kept after {limit} s");
            assert_eq!(removed, vec![c]);
            assert_eq!(t.stats().expired, 1);
            assert!(t.lookup(&c.original_key()).is_none());
            assert!(t.lookup(&c.reply_key()).is_none());
            validate(&t).unwrap();
        }
    }
    assert_eq!(Timeouts::default().of(CtState::Established), 7440);
}
