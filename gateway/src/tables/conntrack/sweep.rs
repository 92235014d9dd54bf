//! Expiry: the control thread's [`Conntrack::sweep`] removes the connections idle
//! for their state's timeout (per service, through its callback; the timeouts and
//! their defaults are in `state.rs`).

use super::{Conn, Conntrack, CtState, Timeouts, C_EXPIRED, LIVE, ST_ASSURED, ST_DYING};
use crate::tables::buckets::header::SEQ_MASK;
use crate::tables::seconds::{elapsed, latest};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

impl Conntrack {
    /// Removes every connection idle for at least its state's timeout at `now`, the
    /// timeouts of a connection being `timeouts_of(conn.service)` (make it cheap:
    /// it is called for every live entry). Control thread: walks all entries. Each
    /// removed connection goes through the release hook, then `on_removed`. Returns
    /// how many were removed (counted as expired).
    pub fn sweep(
        &self,
        now: u32,
        timeouts_of: impl Fn(u32) -> Timeouts,
        mut on_removed: impl FnMut(&Conn),
    ) -> usize {
        let mut removed = 0;
        let mut cache: Option<(u32, Timeouts)> = None;
        let mut timeout = |service: u32, st: u64| -> u32 {
            let (state, assured) = (CtState::from_word(st), st & ST_ASSURED != 0);
            match cache {
                Some((s, t)) if s == service => t.of_entry(state, assured),
                _ => {
                    let t = timeouts_of(service);
                    cache = Some((service, t));
                    t.of_entry(state, assured)
                }
            }
        };
        for (i, e) in self.entries.iter().enumerate() {
            // Lock-free pre-check; whatever it read is re-validated by the claim.
            let m = e.meta.load(Relaxed);
            if m & LIVE == 0 {
                continue;
            }
            let st = e.state.load(Acquire);
            if st & ST_DYING != 0 || st >> 32 != m & SEQ_MASK {
                continue;
            }
            let service = (e.w[3].load(Relaxed) >> 32) as u32;
            let last = latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed));
            if elapsed(now, last) < timeout(service, st) {
                continue;
            }
            if e.state
                .compare_exchange(st, st | ST_DYING, AcqRel, Relaxed)
                .is_err()
            {
                continue; // changed: the next sweep looks again
            }
            // Claimed: the entry is this generation, its words are stable.
            let Some(snap) = self.read_entry(i) else {
                debug_assert!(false, "claimed entry {i} not live");
                continue;
            };
            let service = (snap.w[3] >> 32) as u32;
            let last = latest(e.last_seen[0].load(Relaxed), e.last_seen[1].load(Relaxed));
            if elapsed(now, last) < timeout(service, st) {
                e.state.store(st, Release);
                continue;
            }
            let conn = self.remove_claimed(i as u32, st);
            self.count(conn.owner as usize, C_EXPIRED, 1);
            removed += 1;
            on_removed(&conn);
        }
        removed
    }
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
