//! Model-based property test: the FDB against a `HashMap` model, operation by
//! operation.

use super::test_support::*;
use super::*;
use crate::tables::seconds::{elapsed, is_later};
use crate::wire::ethernet::MacAddr;
use proptest::prelude::*;
use std::collections::HashMap;

const P_VNIS: [u32; 3] = [1, 0x01_0001, 0xff_0001];
const P_LIMITS: [u32; 3] = [3, NO_LIMIT, 5];
const P_AGES: [u32; 3] = [5, 0, 2];

fn p_mac(i: usize) -> MacAddr {
    match i {
        10 => "01:00:5e:00:00:01".parse().unwrap(),
        11 => MacAddr::BROADCAST,
        _ => mac(i as u64 + 1),
    }
}

fn p_dest(i: usize) -> FdbDest {
    [acc(1, 0), acc(1, 10), vtep(1), vtep(2)][i]
}

#[derive(Clone, Debug)]
enum Op {
    Learn(usize, usize, usize, u32),
    Static(usize, usize, usize),
    Remove(usize, usize),
    Age(u32),
    Flush(usize, usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..3usize, 0..12usize, 0..4usize, 0..3u32).prop_map(|(v, m, d, t)| Op::Learn(v, m, d, t)),
        2 => (0..3usize, 0..12usize, 0..4usize).prop_map(|(v, m, d)| Op::Static(v, m, d)),
        2 => (0..3usize, 0..12usize).prop_map(|(v, m)| Op::Remove(v, m)),
        2 => (0..4u32).prop_map(Op::Age),
        1 => (0..6usize, 0..3usize, 0..4usize).prop_map(|(k, v, d)| Op::Flush(k, v, d)),
    ]
}

#[derive(Default)]
struct Model {
    map: HashMap<(u32, MacAddr), (FdbDest, bool, u32)>,
    learned: u64,
    moved: u64,
    aged: u64,
    flushed: u64,
}

impl Model {
    fn learned_in(&self, vni: u32) -> u32 {
        self.map
            .iter()
            .filter(|((v, _), e)| *v == vni && !e.1)
            .count() as u32
    }

    fn learn(&mut self, vni: u32, m: MacAddr, d: FdbDest, now: u32, limit: u32) -> LearnOutcome {
        if m.is_multicast() {
            return LearnOutcome::NotUnicast;
        }
        let n = self.learned_in(vni);
        match self.map.get_mut(&(vni, m)) {
            Some(e) if e.1 && e.0 == d => LearnOutcome::StaticKept,
            Some(e) if e.1 => LearnOutcome::StaticRefused,
            Some(e) if e.0 == d => {
                if is_later(now, e.2) {
                    e.2 = now;
                }
                LearnOutcome::Refreshed
            }
            Some(e) => {
                *e = (d, false, now);
                self.moved += 1;
                LearnOutcome::Moved
            }
            None if n >= limit => LearnOutcome::LimitHit,
            None => {
                self.map.insert((vni, m), (d, false, now));
                self.learned += 1;
                LearnOutcome::Learned
            }
        }
    }
}

fn flush_filter(k: usize, v: usize, d: usize) -> FdbFilter {
    match k {
        0 => FdbFilter::all(),
        1 => FdbFilter::all().dynamic_only(),
        2 => FdbFilter::all().vni(P_VNIS[v]),
        3 => FdbFilter::all().dest(DestFilter::Exact(p_dest(d))),
        4 => FdbFilter::all().dest(DestFilter::Port(1)).vni(P_VNIS[v]),
        _ => FdbFilter::all().static_only(),
    }
}

fn model_matches(f: &FdbFilter, vni: u32, e: &(FdbDest, bool, u32)) -> bool {
    f.vni.is_none_or(|v| v == vni)
        && match f.kind {
            KindFilter::All => true,
            KindFilter::Dynamic => !e.1,
            KindFilter::Static => e.1,
        }
        && match f.dest {
            None => true,
            Some(DestFilter::Exact(d)) => e.0 == d,
            Some(DestFilter::Port(p)) => {
                matches!(e.0, FdbDest::Access { port, .. } if port == p)
            }
        }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn matches_a_hashmap_model(ops in proptest::collection::vec(op(), 1..120), seed in any::<u64>()) {
        let f = Fdb::with_seed(1024, 16, seed);
        let mut m = Model::default();
        let mut now = 1000u32;
        for op in ops {
            match op {
                Op::Learn(v, mi, d, dt) => {
                    now += dt;
                    let (vni, mac, dest) = (P_VNIS[v], p_mac(mi), p_dest(d));
                    let want = m.learn(vni, mac, dest, now, P_LIMITS[v]);
                    prop_assert_eq!(f.learn(vni, mac, dest, now, P_LIMITS[v]), want);
                }
                Op::Static(v, mi, d) => {
                    let (vni, mac, dest) = (P_VNIS[v], p_mac(mi), p_dest(d));
                    let r = f.add_static(vni, mac, dest);
                    if mac.is_multicast() {
                        prop_assert_eq!(r, Err(FdbError::NotUnicast));
                    } else {
                        prop_assert_eq!(r, Ok(()));
                        m.map.insert((vni, mac), (dest, true, 0));
                    }
                }
                Op::Remove(v, mi) => {
                    let key = (P_VNIS[v], p_mac(mi));
                    prop_assert_eq!(f.remove(key.0, key.1), m.map.remove(&key).is_some());
                }
                Op::Age(dt) => {
                    now += dt;
                    let age_of = |vni: u32| P_AGES[P_VNIS.iter().position(|&v| v == vni).unwrap()];
                    let before = m.map.len();
                    m.map.retain(|&(vni, _), e| {
                        let a = age_of(vni);
                        e.1 || a == 0 || elapsed(now, e.2) < a
                    });
                    let n = before - m.map.len();
                    m.aged += n as u64;
                    prop_assert_eq!(f.age(now, age_of), n);
                }
                Op::Flush(k, v, d) => {
                    let filt = flush_filter(k, v, d);
                    let before = m.map.len();
                    m.map.retain(|&(vni, _), e| !model_matches(&filt, vni, e));
                    let n = before - m.map.len();
                    m.flushed += n as u64;
                    prop_assert_eq!(f.flush(&filt), n);
                }
            }
            for &vni in &P_VNIS {
                for mi in 0..12 {
                    let got = f.lookup_hit(vni, p_mac(mi));
                    let want = m.map.get(&(vni, p_mac(mi))).map(|e| FdbHit { dest: e.0, is_static: e.1 });
                    prop_assert_eq!(got, want);
                }
                prop_assert_eq!(f.len_vni(vni), m.map.keys().filter(|k| k.0 == vni).count());
                prop_assert_eq!(f.learned_vni(vni), m.learned_in(vni) as usize);
            }
            prop_assert_eq!(f.len(), m.map.len());
        }
        if let Err(e) = validate(&f) {
            return Err(TestCaseError::fail(e));
        }
        let mut listed: Vec<_> = f
            .entries(&FdbFilter::all(), now)
            .into_iter()
            .map(|e| ((e.vni, e.mac), (e.dest, e.is_static, e.last_seen), e.age))
            .collect();
        listed.sort_by_key(|x| (x.0 .0, x.0 .1));
        let mut want: Vec<_> = m
            .map
            .iter()
            .map(|(&k, &e)| (k, e, if e.1 { 0 } else { elapsed(now, e.2) }))
            .collect();
        want.sort_by_key(|x| (x.0 .0, x.0 .1));
        prop_assert_eq!(listed, want);
        let s = f.stats();
        prop_assert_eq!(
            (s.learned, s.moved, s.aged, s.flushed),
            (m.learned, m.moved, m.aged, m.flushed)
        );
    }
}
