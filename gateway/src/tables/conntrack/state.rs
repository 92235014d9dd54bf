//! Connection states: [`CtState`], the packet's [`Dir`], the TCP and UDP state
//! machine (`steady`, `step`, `transition`), and the per-state idle [`Timeouts`].
//!
//! # TCP state machine
//!
//! Driven by the flags of each packet and its direction (O = original, from the
//! client; R = reply, from the backend). Sequence numbers are not tracked (this is
//! a load balancer's table, not a firewall):
//!
//! | state        | event                                     | next          |
//! |--------------|-------------------------------------------|---------------|
//! | any TCP      | RST either way                            | `Closed`      |
//! | `SynSent`    | R: SYN (with or without ACK)              | `SynRecv`     |
//! | `SynRecv`    | O: ACK without SYN (FIN too: `FinWait`)   | `Established` |
//! | `SynRecv`    | FIN without SYN from side d               | `FinWait`(d)  |
//! | `Established`| FIN from side d                           | `FinWait`(d)  |
//! | `FinWait`(d) | FIN from the other side e                 | `Closing`(e)  |
//! | `Closing`(e) | ACK without FIN from the side that is not e | `TimeWait`  |
//! | `TimeWait`, `Closed` | O: SYN without ACK (port reuse)   | `SynSent`     |
//! | otherwise    |                                           | unchanged     |
//!
//! `(d)` is the auxiliary bit: in `FinWait` the side of the first FIN, in `Closing`
//! the side of the second; the final ACK of a close comes from the other side. A
//! connection picked up mid-stream (an unknown non-SYN segment that the pipeline
//! chooses to re-balance) is inserted directly as `Established`.
//! Non-TCP flows start in `UdpNew` and become `UdpReplied` on the first packet in
//! the reply direction; their flags are ignored.
//!
//! # Assured connections
//!
//! As in Linux conntrack, a connection is *assured* once the backend has answered:
//! the client's ACK that completes a handshake the backend answered (`SynRecv` ->
//! `Established`), any reply to a connection picked up mid-stream, the first reply
//! of a UDP flow. Until then it is *unassured*: anyone can create one with a
//! spoofed source (a SYN, or a mid-stream segment that the pipeline picks up), so
//! an unassured connection
//! - lives at most the SYN timeout whatever its state ([`Timeouts::of_entry`]);
//! - is evicted, oldest first, when a new connection needs its room;
//! - gives up its reply key (in SNAT mode, its source port towards that backend)
//!   to a new connection that needs it, once idle for a second.
//!
//! Assured established, closing and replied-UDP connections are never evicted by
//! new ones. A reused 5-tuple (`SynSent` again) starts unassured.
//!
//! # Timeouts
//!
//! An entry expires when no packet was seen in either direction for its state's
//! timeout ([`Timeouts`]; defaults: SYN 30 s, established 7440 s, FIN/closing
//! 120 s, TIME_WAIT 120 s, closed by RST 10 s, UDP 30 s, UDP replied 180 s).
//! Established is 2 h 4 min, neither the 15 min of Linux IPVS (what Swarm's
//! routing mesh uses: its cut of idle long-lived connections is a known Swarm
//! complaint) nor the 5 days of nf_conntrack: it outlives the Linux default TCP
//! keepalive (first probe after 7200 s idle), so an idle connection that uses
//! keepalives is never cut. `now` is a `u32` second of a coarse clock; ages are
//! wrapping differences, so the clock may wrap.
//! The control thread's [`Conntrack::sweep`](super::Conntrack::sweep) applies
//! per-service timeouts through its callback. Removal is the sweep's job; lookups
//! return expired but not yet swept entries (they are still the right translation).

use super::{ST_ASSURED, ST_STATE};
use crate::wire::tcp::flags as tcp;
use core::fmt;

/// The state of a tracked connection (see the module docs for the TCP machine).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CtState {
    /// TCP: the client's SYN was seen.
    SynSent = 0,
    /// TCP: the backend answered with SYN-ACK.
    SynRecv,
    /// TCP: the three-way handshake completed (or the flow was picked up mid-stream).
    Established,
    /// TCP: one side sent a FIN.
    FinWait,
    /// TCP: both sides sent a FIN; the last ACK is outstanding.
    Closing,
    /// TCP: closed by FINs; kept to translate stray retransmissions.
    TimeWait,
    /// TCP: reset; kept briefly for the same reason.
    Closed,
    /// UDP (or another non-TCP protocol): only original-direction packets so far.
    UdpNew,
    /// UDP: a reply was seen.
    UdpReplied,
}

impl CtState {
    /// Number of states.
    pub const COUNT: usize = 9;
    /// Every state, in index order.
    pub const ALL: [CtState; CtState::COUNT] = [
        CtState::SynSent,
        CtState::SynRecv,
        CtState::Established,
        CtState::FinWait,
        CtState::Closing,
        CtState::TimeWait,
        CtState::Closed,
        CtState::UdpNew,
        CtState::UdpReplied,
    ];

    /// Index into [`CtState::ALL`] (and [`CtStats::states`](super::CtStats::states)).
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in metrics and listings.
    pub fn name(self) -> &'static str {
        match self {
            CtState::SynSent => "syn_sent",
            CtState::SynRecv => "syn_recv",
            CtState::Established => "established",
            CtState::FinWait => "fin_wait",
            CtState::Closing => "closing",
            CtState::TimeWait => "time_wait",
            CtState::Closed => "closed",
            CtState::UdpNew => "udp_new",
            CtState::UdpReplied => "udp_replied",
        }
    }

    /// Half-open: evicted (oldest first) before anything that is not expired.
    pub fn is_half_open(self) -> bool {
        matches!(self, CtState::SynSent | CtState::SynRecv | CtState::UdpNew)
    }

    /// Finished: evicted after the half-open ones.
    pub fn is_finished(self) -> bool {
        matches!(self, CtState::TimeWait | CtState::Closed)
    }

    /// A state of the non-TCP machine.
    pub fn is_udp(self) -> bool {
        matches!(self, CtState::UdpNew | CtState::UdpReplied)
    }

    /// The state in a state word's low bits (values past the last state read as
    /// it). A table load: a `match` here became a jump table, run for every packet.
    #[inline]
    pub(super) fn from_word(w: u64) -> CtState {
        CtState::ALL[((w & ST_STATE) as usize).min(CtState::COUNT - 1)]
    }
}

impl fmt::Display for CtState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The direction of a packet relative to its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to published port (matched the original key).
    Original = 0,
    /// Backend to the ingress endpoint or client (matched the reply key).
    Reply = 1,
}

/// True when a packet with TCP `flags` in direction `dir` does not change the
/// state word `s` (whatever its auxiliary bit): the packets of an established TCP
/// connection without SYN, FIN or RST (but the first reply of an unassured one,
/// which assures it), and of a replied UDP flow. Nearly every packet; `observe`
/// skips [`step`] for them.
#[inline(always)]
pub(super) fn steady(s: u64, flags: u8, dir: Dir) -> bool {
    if s & ST_STATE == CtState::Established as u64 {
        return flags & (tcp::SYN | tcp::FIN | tcp::RST) == 0
            && (s & ST_ASSURED != 0 || dir == Dir::Original);
    }
    s & ST_STATE == CtState::UdpReplied as u64
}

/// The next (state, auxiliary bit, assured bit) of a connection after a packet in
/// `dir` with TCP `flags` (the tables in the module docs).
#[inline]
pub(super) fn step(
    st: CtState,
    aux: bool,
    assured: bool,
    dir: Dir,
    flags: u8,
) -> (CtState, bool, bool) {
    use CtState::*;
    let (next, aux) = transition(st, aux, dir, flags);
    let reply = dir == Dir::Reply;
    let assured = match next {
        // A new connection on a reused 5-tuple starts over; a finished one keeps
        // what it was (it is evictable either way).
        SynSent => false,
        TimeWait | Closed => assured,
        SynRecv => assured,
        // The backend answered: its SYN-ACK, then the client's ACK completing the
        // handshake, or any reply to a connection picked up mid-stream.
        Established | FinWait | Closing => assured || reply || st == SynRecv,
        UdpReplied => assured || st == UdpNew,
        UdpNew => assured,
    };
    (next, aux, assured)
}

/// The next (state, auxiliary bit) of the TCP and UDP machines.
#[inline]
fn transition(st: CtState, aux: bool, dir: Dir, flags: u8) -> (CtState, bool) {
    use CtState::*;
    let reply = dir == Dir::Reply;
    let syn = flags & tcp::SYN != 0;
    let ack = flags & tcp::ACK != 0;
    let fin = flags & tcp::FIN != 0;
    let rst = flags & tcp::RST != 0;
    match st {
        UdpNew if reply => (UdpReplied, false),
        UdpNew | UdpReplied => (st, aux),
        _ if rst => (Closed, false),
        TimeWait | Closed if syn && !ack && !reply => (SynSent, false),
        SynSent if reply && syn => (SynRecv, false),
        SynRecv if !reply && ack && !syn => (if fin { FinWait } else { Established }, false),
        SynRecv | Established if fin && !syn => (FinWait, reply),
        FinWait if fin && reply != aux => (Closing, reply),
        Closing if ack && !fin && reply != aux => (TimeWait, false),
        _ => (st, aux),
    }
}

/// Per-state idle timeouts in seconds (see the module docs for the defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// `SynSent`, `SynRecv`.
    pub syn: u32,
    /// `Established`.
    pub established: u32,
    /// `FinWait`, `Closing`.
    pub closing: u32,
    /// `TimeWait`.
    pub time_wait: u32,
    /// `Closed` (reset).
    pub closed: u32,
    /// `UdpNew`.
    pub udp: u32,
    /// `UdpReplied`.
    pub udp_replied: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            syn: 30,
            established: 7440,
            closing: 120,
            time_wait: 120,
            closed: 10,
            udp: 30,
            udp_replied: 180,
        }
    }
}

impl Timeouts {
    /// The timeout of a connection in `state`, `assured` or not: an unassured TCP
    /// connection (picked up mid-stream, the backend has not answered) lives at most
    /// the SYN timeout even when established or closing, so a stranger's packets
    /// cannot keep entries for long. (Half-open and unreplied UDP have short
    /// timeouts of their own.)
    #[inline]
    pub fn of_entry(&self, state: CtState, assured: bool) -> u32 {
        let t = self.of(state);
        match state {
            CtState::Established | CtState::FinWait | CtState::Closing if !assured => {
                t.min(self.syn)
            }
            _ => t,
        }
    }

    /// The timeout of `state` (assured; see [`Timeouts::of_entry`]).
    #[inline]
    pub fn of(&self, state: CtState) -> u32 {
        match state {
            CtState::SynSent | CtState::SynRecv => self.syn,
            CtState::Established => self.established,
            CtState::FinWait | CtState::Closing => self.closing,
            CtState::TimeWait => self.time_wait,
            CtState::Closed => self.closed,
            CtState::UdpNew => self.udp,
            CtState::UdpReplied => self.udp_replied,
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
