//! What the FDB's tests share: MACs and destinations, a small generator, the
//! structural check of a quiescent table, and a dump of its every word.

use super::bucket::Header;
use super::entry::{
    entry_vni, ALT, KIND_ACCESS, KIND_MASK, KIND_VTEP, MAC_MASK, STATIC, VNI_HI_MASK,
};
use super::{Fdb, FdbDest, SLOTS};
use crate::tables::buckets::header::LOCK;
use crate::wire::ethernet::MacAddr;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering::Relaxed;

pub(super) fn mac(n: u64) -> MacAddr {
    MacAddr::from_u64(0x0200_0000_0000 | n)
}

pub(super) fn vtep(n: u8) -> FdbDest {
    FdbDest::Vtep(Ipv4Addr::new(10, 0, 0, n))
}

pub(super) fn acc(port: u16, vlan: u16) -> FdbDest {
    FdbDest::Access { port, vlan }
}

pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Checks every structural invariant of a quiescent table.
pub(super) fn validate(f: &Fdb) -> Result<(), String> {
    let mut seen = HashSet::new();
    let mut per_vni: HashMap<u32, (usize, usize)> = HashMap::new();
    let mut ovf = vec![0u64; f.buckets.len()];
    for (bi, b) in f.buckets.iter().enumerate() {
        let h = b.header.load();
        if h & (LOCK | 1) != 0 {
            return Err(format!("bucket {bi}: header {h:#x} locked or odd"));
        }
        for i in 0..SLOTS {
            let (k, v) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
            if (k == 0) != (v == 0) {
                return Err(format!("bucket {bi} slot {i}: key {k:#x} value {v:#x}"));
            }
            if k == 0 {
                continue;
            }
            let kind = v & KIND_MASK;
            if kind != KIND_ACCESS && kind != KIND_VTEP {
                return Err(format!("bucket {bi} slot {i}: kind of {v:#x}"));
            }
            let (vni, m) = (entry_vni(k, v), k & MAC_MASK);
            if MacAddr::from_u64(m).is_multicast() || m == 0 {
                return Err(format!("stored source {m:#x}"));
            }
            let p = f.pos(vni, m);
            let alt = v & ALT != 0;
            if p.key != k || p.vhi != v & VNI_HI_MASK {
                return Err(format!("bucket {bi} slot {i}: key bits"));
            }
            if (if alt { p.b2() } else { p.b1 }) != bi || (alt && p.b1 == p.b2()) {
                return Err(format!("bucket {bi} slot {i}: misplaced {p:?}"));
            }
            if alt {
                ovf[p.b1] += 1;
            }
            if !seen.insert((vni, m)) {
                return Err(format!("duplicate vni {vni} mac {m:#x}"));
            }
            let e = per_vni.entry(vni).or_default();
            if v & STATIC != 0 {
                e.1 += 1;
            } else {
                e.0 += 1;
            }
        }
    }
    for (bi, b) in f.buckets.iter().enumerate() {
        let want = f.fingerprints_of(bi);
        let got: [u16; SLOTS] = std::array::from_fn(|i| f.fingerprints[bi].get(i));
        if got != want {
            return Err(format!(
                "bucket {bi}: fingerprints {got:x?}, keys' {want:x?}"
            ));
        }
        let got = Header::overflow(b.header.load());
        if got != ovf[bi] {
            return Err(format!("bucket {bi}: overflow {got}, counted {}", ovf[bi]));
        }
    }
    for (&vni, &(d, s)) in &per_vni {
        if f.learned_vni(vni) != d || f.len_vni(vni) != d + s {
            return Err(format!(
                "vni {vni}: counts {}/{} vs entries {d}/{}",
                f.learned_vni(vni),
                f.len_vni(vni),
                d + s
            ));
        }
    }
    if f.len() != seen.len() {
        return Err(format!("len {} vs {} entries", f.len(), seen.len()));
    }
    Ok(())
}

/// Every word of the table, to prove that an operation stored nothing.
pub(super) fn words(f: &Fdb) -> Vec<u64> {
    let mut w = Vec::new();
    for (b, ls) in f.buckets.iter().zip(f.last_seen.iter()) {
        w.push(b.header.load());
        w.extend(b.keys.iter().map(|k| k.load(Relaxed)));
        w.extend(b.values.iter().map(|v| v.load(Relaxed)));
        w.extend(ls.0.iter().map(|x| x.load(Relaxed) as u64));
    }
    for s in f.vnis.iter() {
        w.extend([&s.tag, &s.dynamic, &s.statics].map(|x| x.load(Relaxed) as u64));
    }
    for c in f.counters.iter() {
        w.extend(c.iter().map(|x| x.load(Relaxed)));
    }
    w
}
