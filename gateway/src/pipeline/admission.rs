//! Admission of new routing-mesh connections on one worker: the refusals that
//! must stay cheap while the gateway sheds an attack.
//!
//! A new connection costs a Maglev pick, an SNAT port search and a conntrack
//! insert (four bucket locks); refusing one must not cost more than forwarding a
//! packet, or a flood of refused flows starves the established ones. So each
//! worker keeps, in memory of its own (no atomics):
//! - **a new-connection budget per service** ([`ServiceView::new_connection_rate`],
//!   the service's rate split evenly between the workers, refilled every second):
//!   the flood guard, as Katran's per-CPU new-connection rate limit. Over it, new
//!   flows are dropped (`new_connection_rate`) before any state is touched, and
//!   established connections keep flowing.
//! - **SNAT exhaustion per backend**: when every SNAT port this worker tried
//!   towards a backend was busy, further new flows to that backend are refused
//!   (`snat_ports_exhausted`) without a search until the next second.
//!   When that holds for every backend of a service, the service is marked too,
//!   and its new flows are refused before the flow hash and the Maglev pick.
//! - **A full table**: when the conntrack had no free entry and nothing it may
//!   evict, new flows are refused (`conntrack_full`) without an insert until the
//!   next second.
//!
//! A refused flow leaves no state, and its next packet is refused the same way
//! (it is new again): in O(1) while the condition holds. While any of these
//! refuses ([`Admission::refusing`]), the pipeline decides client packets by the
//! early refusal (`mesh::refusal`: one parse, no general path), so that a flood
//! of refused flows costs about what forwarding costs.
#![forbid(unsafe_code)]

use std::cell::Cell;

use crate::tables::snapshot::{ServiceView, MAX_BACKEND_SLOTS};

/// Budgets kept per worker; services share a budget only beyond this many (by
/// snapshot index).
const SERVICE_SLOTS: usize = 1024;

/// One service's budget for one second.
#[derive(Clone, Copy, Debug, Default)]
struct Budget {
    /// Service id (the slot's owner; another id starts afresh).
    service: u32,
    /// The second it is for.
    second: u32,
    /// New connections left in it.
    left: u32,
}

/// A service all of whose backends had no SNAT port left on this worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ServiceExhausted {
    /// Service id (the slot's owner).
    service: u32,
    /// The snapshot it was true in: another may add a backend.
    generation: u64,
    /// The second it holds for.
    second: u32,
}

/// One worker's admission state (see the module docs).
#[derive(Debug)]
pub struct Admission {
    workers: u32,
    budgets: Box<[Cell<Budget>]>,
    /// Per backend counter slot: the second in which no SNAT port towards it was
    /// free (new flows to it are refused for the rest of that second).
    snat_exhausted_in: Box<[Cell<Option<u32>>]>,
    /// Per service (by snapshot index): every backend exhausted, as above.
    service_exhausted: Box<[Cell<Option<ServiceExhausted>>]>,
    /// The second in which the table had no room (new flows are refused for the
    /// rest of it).
    table_full_in: Cell<Option<u32>>,
    /// The last second in which any of the above refused a flow.
    refused_in: Cell<Option<u32>>,
}

impl Admission {
    /// The state of one of `workers` workers.
    pub fn new(workers: u16) -> Admission {
        Admission {
            workers: u32::from(workers.max(1)),
            budgets: (0..SERVICE_SLOTS).map(|_| Cell::default()).collect(),
            snat_exhausted_in: (0..MAX_BACKEND_SLOTS).map(|_| Cell::new(None)).collect(),
            service_exhausted: (0..SERVICE_SLOTS).map(|_| Cell::new(None)).collect(),
            table_full_in: Cell::new(None),
            refused_in: Cell::new(None),
        }
    }

    /// Takes one new connection of service `svc` (snapshot index `index`) from this
    /// second's budget; false when it is spent. Unlimited services always pass.
    #[inline]
    pub fn take(&self, index: u16, svc: &ServiceView, now: u32) -> bool {
        if svc.new_connection_rate == 0 {
            return true;
        }
        let cell = &self.budgets[index as usize % SERVICE_SLOTS];
        let mut b = cell.get();
        if b.service != svc.id || b.second != now {
            b = Budget {
                service: svc.id,
                second: now,
                left: svc.new_connection_rate.div_ceil(self.workers),
            };
        }
        let ok = b.left > 0;
        b.left = b.left.saturating_sub(1);
        cell.set(b);
        if !ok {
            self.refused_in.set(Some(now));
        }
        ok
    }

    /// Notes that a flow was refused at `now` (a spent budget, seen by
    /// [`Admission::spent`]).
    #[inline]
    pub fn note_refused(&self, now: u32) {
        self.refused_in.set(Some(now));
    }

    /// Did a budget, a backend's SNAT ports or the table refuse a flow in second
    /// `now`? (Then floods are likely: the early refusal is worth its parse.)
    #[inline]
    pub fn refusing(&self, now: u32) -> bool {
        self.refused_in.get() == Some(now)
    }

    /// Is the budget of service `svc` (snapshot index `index`) spent for second
    /// `now`? (Reads only: the burst's warm-up skips work for a SYN that will be
    /// refused.)
    #[inline]
    pub fn spent(&self, index: u16, svc: &ServiceView, now: u32) -> bool {
        let b = self.budgets[index as usize % SERVICE_SLOTS].get();
        svc.new_connection_rate != 0 && b.service == svc.id && b.second == now && b.left == 0
    }

    /// Is backend `slot` known to have no SNAT port left on this worker?
    #[inline]
    pub fn snat_exhausted(&self, slot: u32, now: u32) -> bool {
        self.snat_exhausted_in
            .get(slot as usize)
            .is_some_and(|c| c.get() == Some(now))
    }

    /// Notes that no SNAT port towards backend `slot` was free at `now`.
    pub fn note_snat_exhausted(&self, slot: u32, now: u32) {
        if let Some(c) = self.snat_exhausted_in.get(slot as usize) {
            c.set(Some(now));
        }
        self.refused_in.set(Some(now));
    }

    /// Notes that no SNAT port towards backend `slot` of service `svc` (snapshot
    /// index `index`, snapshot `generation`) was free at `now`, and the service too
    /// when that now holds for every backend the pick may give (weight > 0: a
    /// drained one, as during a rolling update, takes no new flow).
    pub fn note_service_backend_exhausted(
        &self,
        index: u16,
        svc: &ServiceView,
        generation: u64,
        slot: u32,
        now: u32,
    ) {
        self.note_snat_exhausted(slot, now);
        if svc
            .backends
            .iter()
            .filter(|b| b.weight > 0)
            .all(|b| self.snat_exhausted(b.slot, now))
        {
            self.service_exhausted[index as usize % SERVICE_SLOTS].set(Some(ServiceExhausted {
                service: svc.id,
                generation,
                second: now,
            }));
        }
    }

    /// Is every backend of service `svc` (snapshot index `index`) known to have no
    /// SNAT port left on this worker in snapshot `generation`, second `now`? Then any
    /// backend a new flow would be given is one of them.
    #[inline]
    pub fn service_exhausted(
        &self,
        index: u16,
        svc: &ServiceView,
        generation: u64,
        now: u32,
    ) -> bool {
        self.service_exhausted[index as usize % SERVICE_SLOTS].get()
            == Some(ServiceExhausted {
                service: svc.id,
                generation,
                second: now,
            })
    }

    /// Is the connection table known to be full of connections it may not evict?
    #[inline]
    pub fn table_full(&self, now: u32) -> bool {
        self.table_full_in.get() == Some(now)
    }

    /// Notes that the connection table had no room at `now`.
    pub fn note_table_full(&self, now: u32) {
        self.table_full_in.set(Some(now));
        self.refused_in.set(Some(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::maglev::MaglevTable;

    fn service(id: u32, rate: u32) -> ServiceView {
        ServiceView {
            id,
            name: format!("s{id}"),
            proto: 6,
            published_ip: None,
            published_port: 80,
            vni: 0,
            ingress_ip: std::net::Ipv4Addr::new(10, 255, 0, 2),
            target_port: 80,
            preserve_client: false,
            backends: Vec::new(),
            maglev: MaglevTable::build(&[], 7).unwrap(),
            timeouts: Default::default(),
            new_connection_rate: rate,
        }
    }

    #[test]
    fn the_budget_is_the_rate_split_between_workers_per_second() {
        let a = Admission::new(4);
        let s = service(1, 10); // 3 a second on each of 4 workers (rounded up)
        let taken = |now| (0..10).filter(|_| a.take(0, &s, now)).count();
        assert!(!a.spent(0, &s, 100));
        assert_eq!(taken(100), 3);
        assert!(a.spent(0, &s, 100));
        assert_eq!(taken(100), 0, "spent for the rest of the second");
        assert!(!a.spent(0, &s, 101));
        assert_eq!(taken(101), 3, "refilled the next second");
        // Another service in the same slot has a budget of its own.
        let t = service(2, 10);
        assert!(a.take(0, &t, 101));
        // Unlimited.
        let u = service(3, 0);
        assert!((0..100_000).all(|_| a.take(1, &u, 101)));
    }

    #[test]
    fn a_service_is_exhausted_when_every_backend_is() {
        let a = Admission::new(1);
        let mut s = service(1, 0);
        // Backend 5 is drained: never picked, so its ports do not matter.
        for (slot, weight) in [(3, 1), (4, 1), (5, 0)] {
            s.backends.push(crate::tables::snapshot::BackendView {
                ip: std::net::Ipv4Addr::new(10, 0, 0, slot as u8),
                weight,
                slot,
            });
        }
        a.note_service_backend_exhausted(0, &s, 9, 3, 50);
        assert!(a.snat_exhausted(3, 50));
        assert!(!a.service_exhausted(0, &s, 9, 50), "backend 4 has ports");
        a.note_service_backend_exhausted(0, &s, 9, 4, 50);
        assert!(a.service_exhausted(0, &s, 9, 50));
        assert!(!a.service_exhausted(0, &s, 9, 51), "for that second only");
        assert!(
            !a.service_exhausted(0, &s, 10, 50),
            "for that snapshot only"
        );
        assert!(
            !a.service_exhausted(0, &service(2, 0), 9, 50),
            "another service"
        );
        assert!(!a.service_exhausted(1, &s, 9, 50), "another index");
    }

    #[test]
    fn exhaustion_and_a_full_table_hold_for_the_rest_of_the_second() {
        let a = Admission::new(1);
        assert!(!a.snat_exhausted(7, 50));
        a.note_snat_exhausted(7, 50);
        assert!(a.snat_exhausted(7, 50));
        assert!(!a.snat_exhausted(8, 50), "per backend");
        assert!(!a.snat_exhausted(7, 51));
        assert!(!a.snat_exhausted(u32::MAX, 50), "out of range: never");
        assert!(!a.table_full(50));
        a.note_table_full(u32::MAX);
        assert!(a.table_full(u32::MAX));
        assert!(!a.table_full(0), "the clock may wrap");
        assert!(!Admission::new(1).table_full(3_000_000_000), "none noted");
    }
}
