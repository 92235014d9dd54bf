//! Tests of the state machine: steady states, assurance, TCP and UDP transitions.

use super::super::test_support::*;
use super::super::{Conntrack, CtHit};
use super::*;

#[test]
fn a_steady_state_is_one_no_packet_changes() {
    let mut steady_seen = 0;
    for st in CtState::ALL {
        for assured in [false, true] {
            for flags in 0..=u8::MAX {
                for dir in [Dir::Original, Dir::Reply] {
                    let word = st as u64 | if assured { ST_ASSURED } else { 0 };
                    if !steady(word, flags, dir) {
                        continue;
                    }
                    steady_seen += 1;
                    for aux in [false, true] {
                        assert_eq!(
                            step(st, aux, assured, dir, flags),
                            (st, aux, assured),
                            "{st:?} {flags:#x} {dir:?}"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(
        steady_seen,
        2 * 32 + 32 + 2 * 2 * 256,
        "established without SYN/FIN/RST (unassured: the client's side only), \
         replied UDP (assured or not)"
    );
}

#[test]
fn a_connection_is_assured_only_once_the_backend_answered() {
    use CtState::*;
    let o = Dir::Original;
    let r = Dir::Reply;
    // Handshake: SYN, SYN-ACK, ACK; assured at the ACK, not before.
    assert_eq!(
        step(SynSent, false, false, r, SYNACK),
        (SynRecv, false, false)
    );
    assert_eq!(
        step(SynRecv, false, false, o, ACK),
        (Established, false, true)
    );
    // A client's ACK without a SYN-ACK first changes nothing.
    assert_eq!(step(SynSent, false, false, o, ACK), (SynSent, false, false));
    // Picked up mid-stream: the client's segments never assure it, a reply does.
    for flags in [ACK, ACK | 0x08, FINACK] {
        let (st, _, assured) = step(Established, false, false, o, flags);
        assert!(!assured, "{st:?} {flags:#x}");
    }
    assert_eq!(
        step(Established, false, false, r, ACK),
        (Established, false, true)
    );
    // UDP: the first reply.
    assert_eq!(step(UdpNew, false, false, o, 0), (UdpNew, false, false));
    assert_eq!(step(UdpNew, false, false, r, 0), (UdpReplied, false, true));
    // A reused 5-tuple starts over unassured.
    assert_eq!(step(TimeWait, false, true, o, SYN), (SynSent, false, false));
    // Assured stays assured through the close.
    assert_eq!(
        step(Established, false, true, o, FINACK),
        (FinWait, false, true)
    );
    assert_eq!(step(FinWait, false, true, r, FINACK), (Closing, true, true));
}

/// Runs packets (dir, flags) through `observe` and returns the states after each.
fn run(t: &Conntrack, hit: &CtHit, pkts: &[(Dir, u8)]) -> Vec<CtState> {
    pkts.iter()
        .map(|&(d, f)| t.observe(&CtHit { dir: d, ..*hit }, f, 1))
        .collect()
}

/// Start state, packets (direction, flags), states after each packet.
type Case = (CtState, &'static [(Dir, u8)], &'static [CtState]);

#[test]
fn tcp_state_machine() {
    use CtState::*;
    use Dir::{Original as O, Reply as R};
    let cases: &[Case] = &[
        // Handshake.
        (
            SynSent,
            &[(O, SYN), (R, SYNACK), (R, SYNACK), (O, ACK), (R, ACK)],
            &[SynSent, SynRecv, SynRecv, Established, Established],
        ),
        // Client closes first: FIN, ACK, FIN, ACK.
        (
            Established,
            &[(O, FINACK), (R, ACK), (R, FINACK), (R, FINACK), (O, ACK)],
            &[FinWait, FinWait, Closing, Closing, TimeWait],
        ),
        // Backend closes first; the client's retransmitted FIN is not the last ACK.
        (
            Established,
            &[(R, FINACK), (O, FINACK), (O, FINACK), (R, ACK)],
            &[FinWait, Closing, Closing, TimeWait],
        ),
        // Half-close: data keeps flowing after one FIN.
        (Established, &[(O, FIN), (O, ACK), (R, ACK)], &[FinWait; 3]),
        // Simultaneous close: the FINs cross, then both ACK.
        (
            Established,
            &[(O, FINACK), (R, FINACK), (R, ACK), (O, ACK)],
            &[FinWait, Closing, Closing, TimeWait],
        ),
        // RST from either side, in any TCP state.
        (SynSent, &[(R, RST | ACK)], &[Closed]),
        (SynRecv, &[(O, RST)], &[Closed]),
        (Established, &[(R, RST)], &[Closed]),
        (FinWait, &[(O, RST)], &[Closed]),
        (TimeWait, &[(O, RST)], &[Closed]),
        // A new SYN reuses the tuple after close; a reply SYN does not.
        (TimeWait, &[(R, SYN), (O, SYN)], &[TimeWait, SynSent]),
        (
            Closed,
            &[(O, SYNACK), (O, SYN), (R, SYNACK)],
            &[Closed, SynSent, SynRecv],
        ),
        // Simultaneous open; FIN in the third step of the handshake.
        (SynSent, &[(R, SYN), (O, FINACK)], &[SynRecv, FinWait]),
        // Nothing moves a SYN_SENT but the backend's SYN.
        (SynSent, &[(O, ACK), (O, FIN), (R, ACK)], &[SynSent; 3]),
        // UDP: replied on the first reply, whatever the flags.
        (
            UdpNew,
            &[(O, 0), (O, RST), (R, 0), (O, 0), (R, FIN)],
            &[UdpNew, UdpNew, UdpReplied, UdpReplied, UdpReplied],
        ),
    ];
    let t = Conntrack::with_seed(64, Timeouts::default(), 3);
    for (n, &(start, pkts, want)) in cases.iter().enumerate() {
        let hit = t.insert(&conn(n as u32, true), start, 1).unwrap();
        assert_eq!(run(&t, &hit, pkts), want, "case {n}: from {start:?}");
        assert_eq!(
            t.lookup(&hit.conn().original_key()).unwrap().state,
            *want.last().unwrap()
        );
    }
    validate(&t).unwrap();
    // Gauges follow the transitions.
    let s = t.stats();
    let finals: Vec<CtState> = cases.iter().map(|c| *c.2.last().unwrap()).collect();
    for st in CtState::ALL {
        let n = finals.iter().filter(|&&f| f == st).count() as u64;
        assert_eq!(s.in_state(st), n, "{st}");
    }
}
