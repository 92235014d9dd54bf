//! The table against a `HashMap` model, on random operations (proptest).

use super::state::step;
use super::test_support::*;
use super::*;
use crate::tables::seconds::{elapsed, latest};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug)]
enum Op {
    Insert(u32, bool),
    Lookup(u32, bool),
    Observe(u32, bool, u8),
    Remove(u32),
    Sweep(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..24, any::<bool>()).prop_map(|(n, u)| Op::Insert(n, u)),
        3 => (0u32..24, any::<bool>()).prop_map(|(n, r)| Op::Lookup(n, r)),
        3 => (0u32..24, any::<bool>(), prop::sample::select(vec![SYN, SYNACK, ACK, FINACK, RST, 0]))
            .prop_map(|(n, r, f)| Op::Observe(n, r, f)),
        1 => (0u32..24).prop_map(Op::Remove),
        1 => (0u32..40).prop_map(Op::Sweep),
    ]
}

/// Flow `n` of the model: even ones SNATed, odd ones preserve the client IP.
/// Flows 20-23 reuse the client port of 1-4 towards another published port,
/// so preserve-mode ones collide on the reply key.
fn model_conn(n: u32, udp_flow: bool) -> Conn {
    let base = n % 20;
    Conn {
        proto: if udp_flow { UDP } else { TCP },
        published: sa([10, 0, 0, 4], if n >= 20 { 81 } else { 80 }),
        ..conn(base, base.is_multiple_of(2))
    }
}

/// The model of one connection: conn, state, auxiliary bit, last_seen per
/// direction, assured bit.
type ModelConn = (Conn, CtState, bool, [u32; 2], bool);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn matches_a_hashmap_model(ops in prop::collection::vec(op(), 1..120)) {
        let to = Timeouts { syn: 5, established: 20, closing: 7, time_wait: 9, closed: 3, udp: 6, udp_replied: 12 };
        let t = Conntrack::with_seed(64, to, 99);
        // (flow, udp) -> (conn, state, aux, last_seen[2])
        let mut model: HashMap<(u32, bool), ModelConn> = HashMap::new();
        let mut now = 100u32;
        for op in ops {
            match op {
                Op::Insert(n, u) => {
                    let c = model_conn(n, u);
                    let st = if u { CtState::UdpNew } else { CtState::SynSent };
                    let exists = model.values().any(|m| m.0.original_key() == c.original_key());
                    let fwd_conflict = model.values().any(|m| {
                        let ks = [m.0.original_key(), m.0.reply_key()];
                        ks.contains(&c.original_key()) && m.0.original_key() != c.original_key()
                    });
                    // The reply key's holder gives it up when unassured, not
                    // finished and idle for TAKEOVER_IDLE.
                    let holder = model.iter().find(|(_, m)| {
                        [m.0.original_key(), m.0.reply_key()].contains(&c.reply_key())
                    }).map(|(&k, m)| (k, !m.4 && !m.1.is_finished()
                        && elapsed(now, latest(m.3[0], m.3[1])) >= TAKEOVER_IDLE));
                    let conflict = fwd_conflict || holder.is_some_and(|(_, takeable)| !takeable);
                    match t.insert(&c, st, now) {
                        Ok(h) => {
                            prop_assert!(!exists && !conflict);
                            prop_assert_eq!(h.conn(), c);
                            if let Some((k, _)) = holder {
                                model.remove(&k);
                            }
                            model.insert((n, u), (c, st, false, [now; 2], false));
                        }
                        Err(CtInsertError::Exists(h)) => {
                            prop_assert!(exists);
                            prop_assert_eq!(h.conn().original_key(), c.original_key());
                        }
                        Err(CtInsertError::KeyConflict) => prop_assert!(conflict && !exists),
                        Err(CtInsertError::Full) => prop_assert!(false, "full at {}", model.len()),
                    }
                }
                Op::Lookup(n, reply) => {
                    for u in [false, true] {
                        let c = model_conn(n, u);
                        let dir = if reply { Dir::Reply } else { Dir::Original };
                        let key = c.key(dir);
                        let want = model.iter().find_map(|(&m, e)| {
                            if e.0.original_key() == key { Some((m, Dir::Original)) }
                            else if e.0.reply_key() == key { Some((m, Dir::Reply)) }
                            else { None }
                        });
                        let got = t.lookup(&key);
                        prop_assert_eq!(got.is_some(), want.is_some(), "{:?}", key);
                        if let (Some(h), Some((m, d))) = (got, want) {
                            prop_assert_eq!(h.dir, d);
                            prop_assert_eq!(h.conn(), model[&m].0);
                            prop_assert_eq!(h.state, model[&m].1);
                        }
                    }
                }
                Op::Observe(n, reply, flags) => {
                    now += 1;
                    let dir = if reply { Dir::Reply } else { Dir::Original };
                    for u in [false, true] {
                        let key = model_conn(n, u).original_key();
                        if let Some(h) = t.lookup(&key) {
                            let got = t.observe(&CtHit { dir, ..h }, flags, now);
                            let m = model.values_mut().find(|m| m.0.original_key() == key).unwrap();
                            let (st, aux, assured) = step(m.1, m.2, m.4, dir, flags);
                            m.1 = st;
                            m.2 = aux;
                            m.4 = assured;
                            m.3[dir as usize] = now;
                            prop_assert_eq!(got, st);
                        }
                    }
                }
                Op::Remove(n) => {
                    for u in [false, true] {
                        let key = model_conn(n, u).original_key();
                        let want = model.iter().find(|(_, e)| e.0.original_key() == key).map(|(&m, _)| m);
                        let got = t.remove_key(&key);
                        prop_assert_eq!(got, want.map(|m| model[&m].0));
                        if let Some(m) = want {
                            model.remove(&m);
                        }
                    }
                }
                Op::Sweep(dt) => {
                    now += dt;
                    let mut gone = HashSet::new();
                    t.sweep(now, |_| to, |c| { gone.insert(c.original_key()); });
                    let want: HashSet<FlowKey> = model.values()
                        .filter(|m| elapsed(now, latest(m.3[0], m.3[1])) >= to.of_entry(m.1, m.4))
                        .map(|m| m.0.original_key())
                        .collect();
                    prop_assert_eq!(&gone, &want);
                    model.retain(|_, m| !want.contains(&m.0.original_key()));
                }
            }
            prop_assert_eq!(t.len(), model.len());
        }
        validate(&t).map_err(TestCaseError::fail)?;
    }
}
