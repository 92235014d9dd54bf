//! Link neighbours: IPv4 -> MAC for the next hops of VTEPs and the external port's
//! clients and gateway (ARP cache). The overlay's neighbours (backends' MACs, per VNI)
//! use the same table through [`super::overlay_neighbours::OverlayNeighbours`], which
//! puts the VNI in the key's upper half.
//!
//! Fixed capacity, preallocated, open addressing with a bounded linear probe. A slot's
//! key is one `AtomicU64` (0 = free; 0.0.0.0 is never a neighbour) and its value one
//! `AtomicU64` (MAC in the low 48 bits, flags above), so a reader sees either the old
//! or the new MAC, never a torn one, without locks. Keys are claimed with
//! compare-exchange and never removed while the gateway runs (the set of next hops is
//! small and bounded by the capacity); entries are invalidated instead.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::wire::MacAddr;

const VALID: u64 = 1 << 63;
const STATIC: u64 = 1 << 62;
const MAC_MASK: u64 = (1 << 48) - 1;
/// Slots probed for a key before giving up.
const PROBE: usize = 16;

struct Slot {
    /// Scope (VNI in the overlay table, 0 on links) << 32 | IPv4 address.
    key: AtomicU64,
    value: AtomicU64,
    /// Seconds (caller's clock) when we last asked for this IP, to rate-limit ARP.
    asked: AtomicU32,
    /// Seconds when the entry was last confirmed.
    updated: AtomicU32,
}

/// What a learn did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighbourUpdate {
    /// Same MAC as before (nothing written).
    Unchanged,
    /// New or changed MAC stored.
    Updated,
    /// A static entry exists; not overridden.
    StaticKept,
    /// No free slot within the probe bound.
    TableFull,
}

/// One row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighbourEntry {
    /// The VNI it was learned in (overlay neighbours; `None` on links).
    pub vni: Option<u32>,
    /// Neighbour IP.
    pub ip: Ipv4Addr,
    /// Its MAC, if resolved.
    pub mac: Option<MacAddr>,
    /// Configured, not learned.
    pub is_static: bool,
    /// Seconds of the caller's clock when last confirmed.
    pub updated: u32,
}

/// The neighbour table. `Sync`: shared by all workers and the control thread.
pub struct Neighbours {
    slots: Box<[Slot]>,
    mask: usize,
    /// See [`Neighbours::changes`]. Written only when a MAC changes or goes (ARP
    /// replies, the control plane), never per packet.
    changes: AtomicU64,
}

impl Neighbours {
    /// A table for at least `capacity` neighbours (rounded up to a power of two).
    pub fn new(capacity: usize) -> Neighbours {
        let n = capacity.max(PROBE).next_power_of_two();
        let slots = (0..n)
            .map(|_| Slot {
                key: AtomicU64::new(0),
                value: AtomicU64::new(0),
                asked: AtomicU32::new(0),
                updated: AtomicU32::new(0),
            })
            .collect();
        Neighbours {
            slots,
            mask: n - 1,
            changes: AtomicU64::new(1),
        }
    }

    /// How many times a resolved MAC changed or went (learned anew, made static,
    /// invalidated), from 1. A first resolution does not count: nothing had an
    /// answer to change. Bumped after the change is visible, so an answer read after
    /// reading the count is valid while the count stays (the worker's encap actions,
    /// `pipeline/encap_cache.rs`).
    #[inline]
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn changed(&self, old: u64) {
        if old & VALID != 0 {
            self.changes.fetch_add(1, Ordering::AcqRel);
        }
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & self.mask
    }

    #[inline]
    fn find(&self, key: u64) -> Option<&Slot> {
        let h = self.home(key);
        for i in 0..PROBE {
            let s = &self.slots[(h + i) & self.mask];
            match s.key.load(Ordering::Acquire) {
                k if k == key => return Some(s),
                0 => return None,
                _ => {}
            }
        }
        None
    }

    fn find_or_claim(&self, key: u64) -> Option<&Slot> {
        let h = self.home(key);
        for i in 0..PROBE {
            let s = &self.slots[(h + i) & self.mask];
            match s
                .key
                .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(s),
                Err(k) if k == key => return Some(s),
                Err(_) => {}
            }
        }
        None
    }

    /// The MAC of `ip`, if resolved. Lock-free; one or two cache lines.
    #[inline]
    pub fn lookup(&self, ip: Ipv4Addr) -> Option<MacAddr> {
        self.lookup_key(link_key(ip))
    }

    /// Records `ip` is at `mac` (from an ARP packet seen on the link).
    /// Writes nothing when the MAC is unchanged and `now` equals the last confirmation.
    pub fn learn(&self, ip: Ipv4Addr, mac: MacAddr, now: u32) -> NeighbourUpdate {
        self.learn_key(link_key(ip), mac, now)
    }

    /// Configures a static entry (control plane); learning never overrides it.
    pub fn set_static(&self, ip: Ipv4Addr, mac: MacAddr) -> Result<(), NeighbourUpdate> {
        let s = self
            .find_or_claim(link_key(ip))
            .ok_or(NeighbourUpdate::TableFull)?;
        let old = s
            .value
            .swap(VALID | STATIC | mac.to_u64(), Ordering::AcqRel);
        if old != VALID | STATIC | mac.to_u64() {
            self.changed(old);
        }
        Ok(())
    }

    /// Forgets `ip`'s MAC (static or learned); the slot stays reserved for it.
    pub fn invalidate(&self, ip: Ipv4Addr) -> bool {
        self.invalidate_key(link_key(ip))
    }

    pub(super) fn invalidate_key(&self, key: u64) -> bool {
        match self.find(key) {
            Some(s) => {
                self.changed(s.value.swap(0, Ordering::AcqRel));
                true
            }
            None => false,
        }
    }

    /// True if an ARP request for `ip` should go out now: at most one per second per
    /// IP across all workers (a benign race may send two).
    pub fn should_ask(&self, ip: Ipv4Addr, now: u32) -> bool {
        self.should_ask_key(link_key(ip), now)
    }

    /// Every known neighbour (control plane).
    pub fn entries(&self) -> Vec<NeighbourEntry> {
        self.entries_with(|_| None)
    }

    // The same operations on a whole key, for the overlay table.

    #[inline]
    pub(super) fn lookup_key(&self, key: u64) -> Option<MacAddr> {
        let v = self.find(key)?.value.load(Ordering::Acquire);
        (v & VALID != 0).then(|| MacAddr::from_u64(v & MAC_MASK))
    }

    pub(super) fn learn_key(&self, key: u64, mac: MacAddr, now: u32) -> NeighbourUpdate {
        let Some(s) = self.find_or_claim(key) else {
            return NeighbourUpdate::TableFull;
        };
        let old = s.value.load(Ordering::Acquire);
        if old & STATIC != 0 {
            return NeighbourUpdate::StaticKept;
        }
        let new = VALID | mac.to_u64();
        if old == new {
            if s.updated.load(Ordering::Relaxed) != now {
                s.updated.store(now, Ordering::Relaxed);
            }
            return NeighbourUpdate::Unchanged;
        }
        s.value.store(new, Ordering::Release);
        s.updated.store(now, Ordering::Relaxed);
        self.changed(old);
        NeighbourUpdate::Updated
    }

    pub(super) fn should_ask_key(&self, key: u64, now: u32) -> bool {
        let Some(s) = self.find_or_claim(key) else {
            return false;
        };
        if s.asked.load(Ordering::Relaxed) == now.wrapping_add(1) {
            return false;
        }
        // Stored as now+1 so that 0 means "never asked".
        s.asked.store(now.wrapping_add(1), Ordering::Relaxed);
        true
    }

    /// Every entry, its `vni` field from `scope` applied to the key's upper half.
    pub(super) fn entries_with(&self, scope: impl Fn(u32) -> Option<u32>) -> Vec<NeighbourEntry> {
        self.slots
            .iter()
            .filter_map(|s| {
                let k = s.key.load(Ordering::Acquire);
                if k == 0 {
                    return None;
                }
                let v = s.value.load(Ordering::Acquire);
                Some(NeighbourEntry {
                    vni: scope((k >> 32) as u32),
                    ip: Ipv4Addr::from(k as u32),
                    mac: (v & VALID != 0).then(|| MacAddr::from_u64(v & MAC_MASK)),
                    is_static: v & STATIC != 0,
                    updated: s.updated.load(Ordering::Relaxed),
                })
            })
            .collect()
    }
}

/// The key of a link neighbour: its address alone.
#[inline]
fn link_key(ip: Ipv4Addr) -> u64 {
    u32::from(ip) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(b: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, b])
    }

    #[test]
    fn learn_lookup_static_invalidate() {
        let n = Neighbours::new(64);
        let ip = Ipv4Addr::new(172, 30, 0, 11);
        assert_eq!(n.lookup(ip), None);
        assert_eq!(n.learn(ip, mac(1), 5), NeighbourUpdate::Updated);
        assert_eq!(n.lookup(ip), Some(mac(1)));
        assert_eq!(n.learn(ip, mac(1), 5), NeighbourUpdate::Unchanged);
        assert_eq!(n.learn(ip, mac(2), 6), NeighbourUpdate::Updated);
        assert_eq!(n.lookup(ip), Some(mac(2)));
        n.set_static(ip, mac(9)).unwrap();
        assert_eq!(n.learn(ip, mac(3), 7), NeighbourUpdate::StaticKept);
        assert_eq!(n.lookup(ip), Some(mac(9)));
        assert!(n.invalidate(ip));
        assert_eq!(n.lookup(ip), None);
        let e = n.entries();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].ip, ip);
    }

    /// Every change of a resolved MAC counts; a first resolution, a confirmation,
    /// a refused learn and the same static entry again do not.
    #[test]
    fn changes_count_what_alters_an_answer() {
        let n = Neighbours::new(64);
        let ip = Ipv4Addr::new(172, 30, 0, 11);
        let c = |n: &Neighbours| n.changes();
        let c0 = c(&n);
        n.learn(ip, mac(1), 5);
        n.learn(ip, mac(1), 6);
        assert_eq!(c(&n), c0, "first resolution and confirmation");
        n.learn(ip, mac(2), 7);
        assert_eq!(c(&n), c0 + 1, "new MAC");
        n.set_static(ip, mac(9)).unwrap();
        assert_eq!(c(&n), c0 + 2, "made static");
        n.set_static(ip, mac(9)).unwrap();
        n.learn(ip, mac(3), 8);
        assert_eq!(c(&n), c0 + 2, "same static, refused learn");
        assert!(n.invalidate(ip));
        assert_eq!(c(&n), c0 + 3, "invalidated");
        assert!(n.invalidate(ip));
        n.set_static(ip, mac(4)).unwrap();
        assert_eq!(
            c(&n),
            c0 + 3,
            "nothing left to change, then a first resolution"
        );
    }

    #[test]
    fn ask_rate_limited_per_second() {
        let n = Neighbours::new(64);
        let ip = Ipv4Addr::new(10, 0, 0, 1);
        assert!(n.should_ask(ip, 0));
        assert!(!n.should_ask(ip, 0));
        assert!(n.should_ask(ip, 1));
        assert!(!n.should_ask(ip, 1));
    }

    #[test]
    fn fills_up_and_reports_full() {
        let n = Neighbours::new(16);
        let mut full = 0;
        for i in 1..=40u32 {
            if n.learn(Ipv4Addr::from(i), mac(i as u8), 0) == NeighbourUpdate::TableFull {
                full += 1;
            }
        }
        assert_eq!(full, 40 - 16);
        for i in 1..=40u32 {
            if let Some(m) = n.lookup(Ipv4Addr::from(i)) {
                assert_eq!(m, mac(i as u8));
            }
        }
    }
}
