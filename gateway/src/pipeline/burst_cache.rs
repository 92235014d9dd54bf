//! Answers that hold for one poll round. A burst usually carries many frames from or
//! to the same VTEP and VNI, so their snapshot slots and the next hop's MAC are looked
//! up once per burst rather than once per frame (what that saved, counted with
//! perf/instructions.sh: perf/RESULTS.md, section 2).
//!
//! It lives in the [`super::Ctx`], which the worker builds once per round beside the
//! snapshot it loads: a slot cannot outlive its snapshot, and a next hop's MAC
//! changed by ARP in the middle of a burst is used from the next burst on.

use std::cell::Cell;
use std::net::Ipv4Addr;

use crate::tables::neighbours::Neighbours;
use crate::tables::snapshot::Snapshot;
use crate::wire::MacAddr;

/// One worker's per-round answers (never shared).
#[derive(Default)]
pub struct BurstCache {
    /// Last VTEP address asked for (0: none) and its snapshot slot.
    vtep: Cell<(u32, u16)>,
    /// Last VTEP slot + 1 whose next hop was resolved (0: none) and that MAC.
    next_hop: Cell<(u16, MacAddr)>,
    /// Last VTEP address whose slot and next hop were resolved together (0: none).
    vtep_route: Cell<(u32, (u16, MacAddr))>,
    /// Last VNI asked for (0: none) and its snapshot slot.
    vni: Cell<(u32, u16)>,
    /// Last routed next hop resolved (0: none) and its MAC.
    route: Cell<(u32, MacAddr)>,
}

impl BurstCache {
    /// The snapshot slot of VTEP `ip` ([`Snapshot::vtep_slot`]).
    #[inline(always)]
    pub fn vtep_slot(&self, snap: &Snapshot, ip: Ipv4Addr) -> Option<u16> {
        match kept(&self.vtep, u32::from(ip)) {
            Some(v) => Some(v),
            None => self.vtep_slot_miss(snap, ip),
        }
    }

    /// The snapshot slot of VNI `vni` ([`Snapshot::vni_slot`]).
    #[inline(always)]
    pub fn vni_slot(&self, snap: &Snapshot, vni: u32) -> Option<u16> {
        match kept(&self.vni, vni) {
            Some(v) => Some(v),
            None => self.vni_slot_miss(snap, vni),
        }
    }

    /// The MAC of the next hop `ip` of VTEP slot `vtep`, if resolved. Only a
    /// resolved MAC is kept: an unresolved one is asked again for every frame.
    #[inline(always)]
    pub fn next_hop_mac(&self, neigh: &Neighbours, vtep: u16, ip: Ipv4Addr) -> Option<MacAddr> {
        match kept(&self.next_hop, vtep.wrapping_add(1)) {
            Some(v) => Some(v),
            None => self.next_hop_miss(neigh, vtep, ip),
        }
    }

    /// The snapshot slot of VTEP `ip` and the MAC of its next hop, if both are
    /// known: [`BurstCache::vtep_slot`] and [`BurstCache::next_hop_mac`] in one
    /// probe, for the encap fast path. Only a resolved pair is kept.
    #[inline(always)]
    pub fn vtep_route(
        &self,
        snap: &Snapshot,
        neigh: &Neighbours,
        ip: Ipv4Addr,
    ) -> Option<(u16, MacAddr)> {
        match kept(&self.vtep_route, u32::from(ip)) {
            Some(v) => Some(v),
            None => self.vtep_route_miss(snap, neigh, ip),
        }
    }

    /// The MAC of the routed next hop `ip` (the external side), if resolved. Only a
    /// resolved MAC is kept.
    #[inline(always)]
    pub fn route_mac(&self, neigh: &Neighbours, ip: Ipv4Addr) -> Option<MacAddr> {
        match kept(&self.route, u32::from(ip)) {
            Some(v) => Some(v),
            None => self.route_miss(neigh, ip),
        }
    }

    // The misses, out of line and with plain arguments: a closure handed to a shared
    // helper had its captures stored to the stack on every frame, hit or miss.

    #[inline(never)]
    fn vtep_slot_miss(&self, snap: &Snapshot, ip: Ipv4Addr) -> Option<u16> {
        keep(&self.vtep, u32::from(ip), snap.vtep_slot(ip)?)
    }

    #[inline(never)]
    fn vni_slot_miss(&self, snap: &Snapshot, vni: u32) -> Option<u16> {
        keep(&self.vni, vni, snap.vni_slot(vni)?)
    }

    #[inline(never)]
    fn next_hop_miss(&self, neigh: &Neighbours, vtep: u16, ip: Ipv4Addr) -> Option<MacAddr> {
        keep(&self.next_hop, vtep.wrapping_add(1), neigh.lookup(ip)?)
    }

    #[inline(never)]
    fn vtep_route_miss(
        &self,
        snap: &Snapshot,
        neigh: &Neighbours,
        ip: Ipv4Addr,
    ) -> Option<(u16, MacAddr)> {
        let slot = snap.vtep_slot(ip)?;
        let next_hop = snap.vteps.get(slot as usize)?.next_hop;
        keep(
            &self.vtep_route,
            u32::from(ip),
            (slot, neigh.lookup(next_hop)?),
        )
    }

    #[inline(never)]
    fn route_miss(&self, neigh: &Neighbours, ip: Ipv4Addr) -> Option<MacAddr> {
        keep(&self.route, u32::from(ip), neigh.lookup(ip)?)
    }
}

/// The answer `cell` keeps for `key`. The zero key means "nothing kept".
#[inline(always)]
fn kept<K: Copy + PartialEq + Default, V: Copy>(cell: &Cell<(K, V)>, key: K) -> Option<V> {
    let (k, v) = cell.get();
    (k == key && key != K::default()).then_some(v)
}

/// Keeps `v` for `key` in `cell` (a miss is asked again next time) and returns it.
#[inline(always)]
fn keep<K: Copy, V: Copy>(cell: &Cell<(K, V)>, key: K, v: V) -> Option<V> {
    cell.set((key, v));
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_hop_is_resolved_once_per_round_and_misses_are_not_kept() {
        let neigh = Neighbours::new(16);
        let ip = Ipv4Addr::new(172, 30, 0, 11);
        let c = BurstCache::default();
        assert_eq!(c.next_hop_mac(&neigh, 0, ip), None);
        let mac = MacAddr([2, 0, 0, 0, 0x11, 0x11]);
        neigh.learn(ip, mac, 1);
        assert_eq!(
            c.next_hop_mac(&neigh, 0, ip),
            Some(mac),
            "a miss is not cached"
        );
        neigh.invalidate(ip);
        // Within the round the answer stands; a new round (new cache) sees the change.
        assert_eq!(c.next_hop_mac(&neigh, 0, ip), Some(mac));
        assert_eq!(BurstCache::default().next_hop_mac(&neigh, 0, ip), None);
        // Another VTEP slot is its own entry.
        assert_eq!(c.next_hop_mac(&neigh, 1, ip), None);
    }
}
