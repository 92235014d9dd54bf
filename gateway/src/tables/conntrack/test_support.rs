//! What the conntrack tests share: flags, connections to insert, a small PRNG and
//! `validate`, the check of every structural invariant of a quiescent table.

use super::key::entry_key;
use super::summary::summary_of;
use super::{
    Conn, Conntrack, CtHit, CtState, Dir, Header, LIVE, LO32, SLOT_IDX_MASK, SLOT_REPLY,
    SLOT_TAG_MASK, ST_DYING,
};
use crate::tables::buckets::header::{LOCK, SEQ_MASK};
use crate::wire::tcp::flags as tcp;
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering::Relaxed;

pub(super) const TCP: u8 = 6;
pub(super) const UDP: u8 = 17;
pub(super) const SYN: u8 = tcp::SYN;
pub(super) const ACK: u8 = tcp::ACK;
pub(super) const FIN: u8 = tcp::FIN;
pub(super) const RST: u8 = tcp::RST;
pub(super) const SYNACK: u8 = SYN | ACK;
pub(super) const FINACK: u8 = FIN | ACK;

pub(super) fn sa(ip: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(ip), port)
}

/// The seeds' trace: 92.234.68.72:53711 -> 10.0.0.4:80, backend 10.255.0.6:80,
/// SNAT 10.255.0.2:65408.
pub(super) fn trace_conn() -> Conn {
    Conn {
        proto: TCP,
        client: sa([92, 234, 68, 72], 53711),
        published: sa([10, 0, 0, 4], 80),
        backend: sa([10, 255, 0, 6], 80),
        snat: Some(sa([10, 255, 0, 2], 65408)),
        service: 1,
        backend_id: 3,
        owner: 2,
    }
}

/// Flow `n`: a distinct client port (and client IP above 65535) to one service.
pub(super) fn conn(n: u32, snat: bool) -> Conn {
    Conn {
        proto: TCP,
        client: SocketAddrV4::new(Ipv4Addr::from(0x5c00_0000 | (n >> 16)), n as u16),
        published: sa([10, 0, 0, 4], 80),
        backend: sa([10, 255, 0, 10 + (n % 5) as u8], 8080),
        snat: snat.then(|| SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 2), n as u16)),
        service: n % 3,
        backend_id: n % 5,
        owner: (n % 4) as u16,
    }
}

pub(super) fn udp(n: u32) -> Conn {
    Conn {
        proto: UDP,
        ..conn(n, true)
    }
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

/// Every structural invariant of a quiescent table.
pub(super) fn validate(t: &Conntrack) -> Result<(), String> {
    let cap = t.capacity();
    let mut slot_of: HashMap<(u32, bool), (usize, usize)> = HashMap::new();
    let mut keys = HashSet::new();
    let mut ovf = vec![0u64; t.buckets.len()];
    for (bi, b) in t.buckets.iter().enumerate() {
        let h = b.header.load();
        if h & (LOCK | 1) != 0 {
            return Err(format!("bucket {bi}: header {h:#x} locked or odd"));
        }
        for (si, s) in b.slots.iter().enumerate() {
            let s = s.load(Relaxed);
            if s == 0 {
                continue;
            }
            let idx = (s & SLOT_IDX_MASK) as usize;
            let reply = s & SLOT_REPLY != 0;
            if idx >= cap {
                return Err(format!("slot {bi}/{si}: index {idx}"));
            }
            let e = &t.entries[idx];
            if e.meta.load(Relaxed) & LIVE == 0 {
                return Err(format!("slot {bi}/{si} -> free entry {idx}"));
            }
            let w: [u64; 5] = std::array::from_fn(|i| e.w[i].load(Relaxed));
            let k = entry_key(&w, reply);
            let p = t.pos(&k);
            if p.tag != s & SLOT_TAG_MASK {
                return Err(format!("slot {bi}/{si}: tag"));
            }
            if bi == p.b2 && bi != p.b1 {
                ovf[p.b1] += 1;
            } else if bi != p.b1 {
                return Err(format!("slot {bi}/{si}: misplaced {p:?}"));
            }
            if slot_of.insert((idx as u32, reply), (bi, si)).is_some() {
                return Err(format!("entry {idx} reply={reply} has two slots"));
            }
            if !keys.insert((k.a, k.b)) {
                return Err(format!("duplicate key {k:?}"));
            }
        }
    }
    for (bi, b) in t.buckets.iter().enumerate() {
        let got = Header::overflow(b.header.load());
        if got != ovf[bi] {
            return Err(format!("bucket {bi}: overflow {got}, counted {}", ovf[bi]));
        }
        let used = b
            .slots
            .iter()
            .enumerate()
            .fold(0, |m, (i, s)| m | u32::from(s.load(Relaxed) != 0) << i);
        if b.occupancy() != used {
            return Err(format!(
                "bucket {bi}: occupancy {:#x}, slots {used:#x}",
                b.occupancy()
            ));
        }
        let bits = summary_of(b.slots.iter().map(|s| s.load(Relaxed)));
        if t.summary[bi].words() != bits {
            return Err(format!(
                "bucket {bi}: summary {:x?}, slots' bits {bits:x?}",
                t.summary[bi].words()
            ));
        }
    }
    let mut live = 0usize;
    let mut per_state = [0u64; CtState::COUNT];
    for (i, e) in t.entries.iter().enumerate() {
        let m = e.meta.load(Relaxed);
        if m & 1 != 0 {
            return Err(format!("entry {i}: odd meta"));
        }
        if m & LIVE == 0 {
            continue;
        }
        live += 1;
        let st = e.state.load(Relaxed);
        if st >> 32 != m & SEQ_MASK || st & ST_DYING != 0 {
            return Err(format!("entry {i}: state {st:#x} meta {m:#x}"));
        }
        per_state[CtState::from_word(st).index()] += 1;
        for reply in [false, true] {
            if !slot_of.contains_key(&(i as u32, reply)) {
                return Err(format!("entry {i}: no key slot reply={reply}"));
            }
            let c = Conn::unpack(&std::array::from_fn(|j| e.w[j].load(Relaxed)));
            let dir = if reply { Dir::Reply } else { Dir::Original };
            match t.lookup(&c.key(dir)) {
                Some(h) if h.idx == i as u32 && h.dir == dir => {}
                other => return Err(format!("entry {i} {dir:?}: lookup {other:?}")),
            }
        }
    }
    if slot_of.len() != 2 * live {
        return Err(format!("{} slots for {live} entries", slot_of.len()));
    }
    // Free stacks: every non-live entry exactly once.
    let mut free = HashSet::new();
    for f in t.free.iter() {
        let mut top = f.0.load(Relaxed) & LO32;
        while top != 0 {
            let i = (top - 1) as usize;
            if !free.insert(i) {
                return Err(format!("entry {i} twice on the free stacks"));
            }
            if t.entries[i].meta.load(Relaxed) & LIVE != 0 {
                return Err(format!("live entry {i} on a free stack"));
            }
            top = t.entries[i].w[0].load(Relaxed) & LO32;
        }
    }
    if free.len() + live != cap {
        return Err(format!("{} free + {live} live != {cap}", free.len()));
    }
    let s = t.stats();
    if s.states != per_state {
        return Err(format!("gauges {:?} vs counted {per_state:?}", s.states));
    }
    if t.len() != live {
        return Err(format!("len {} vs {live}", t.len()));
    }
    Ok(())
}

/// Inserts `c` as established and assures it with a reply at `now`.
pub(super) fn insert_assured(t: &Conntrack, c: &Conn, now: u32) -> CtHit {
    let hit = t.insert(c, CtState::Established, now).unwrap();
    let reply = CtHit {
        dir: Dir::Reply,
        ..hit
    };
    assert_eq!(t.observe(&reply, ACK, now), CtState::Established);
    t.lookup(&c.original_key()).unwrap()
}
