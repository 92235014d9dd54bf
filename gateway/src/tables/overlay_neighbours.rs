//! Overlay neighbours: (VNI, IPv4) -> MAC of the backends vxgw routes to inside the
//! VNIs, learned from their ARP. Keyed by the VNI as well as the address, because
//! overlay networks of different tenants may use the same subnets: a backend
//! 10.0.1.5 in VNI 4096 and another 10.0.1.5 in VNI 4097 are different hosts.
//!
//! The same lock-free table as the link neighbours ([`Neighbours`]), with the VNI in
//! the upper half of the key.

use std::net::Ipv4Addr;

use super::neighbours::{NeighbourEntry, NeighbourUpdate, Neighbours};
use crate::wire::MacAddr;

/// The overlay neighbour table. `Sync`: shared by all workers and the control thread.
pub struct OverlayNeighbours(Neighbours);

#[inline]
fn key(vni: u32, ip: Ipv4Addr) -> u64 {
    (vni as u64) << 32 | u32::from(ip) as u64
}

impl OverlayNeighbours {
    /// A table for at least `capacity` neighbours over all VNIs.
    pub fn new(capacity: usize) -> OverlayNeighbours {
        OverlayNeighbours(Neighbours::new(capacity))
    }

    /// The MAC of `ip` in `vni`, if resolved. Lock-free.
    #[inline]
    pub fn lookup(&self, vni: u32, ip: Ipv4Addr) -> Option<MacAddr> {
        self.0.lookup_key(key(vni, ip))
    }

    /// Records that `ip` is at `mac` in `vni` (from an ARP packet in that VNI).
    pub fn learn(&self, vni: u32, ip: Ipv4Addr, mac: MacAddr, now: u32) -> NeighbourUpdate {
        self.0.learn_key(key(vni, ip), mac, now)
    }

    /// Forgets the MAC of `ip` in `vni`; the slot stays reserved for it.
    pub fn invalidate(&self, vni: u32, ip: Ipv4Addr) -> bool {
        self.0.invalidate_key(key(vni, ip))
    }

    /// True if an ARP request for `ip` in `vni` should go out now (at most one per
    /// second per VNI and address).
    pub fn should_ask(&self, vni: u32, ip: Ipv4Addr, now: u32) -> bool {
        self.0.should_ask_key(key(vni, ip), now)
    }

    /// Every known overlay neighbour, with its VNI (control plane).
    pub fn entries(&self) -> Vec<NeighbourEntry> {
        self.0.entries_with(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_address_in_two_vnis_is_two_neighbours() {
        let n = OverlayNeighbours::new(64);
        let ip = Ipv4Addr::new(10, 0, 1, 5);
        let (a, b) = (MacAddr([2, 0, 0, 0, 0, 0xa]), MacAddr([2, 0, 0, 0, 0, 0xb]));
        assert_eq!(n.learn(4096, ip, a, 1), NeighbourUpdate::Updated);
        assert_eq!(n.lookup(4097, ip), None);
        assert_eq!(n.learn(4097, ip, b, 1), NeighbourUpdate::Updated);
        assert_eq!(n.lookup(4096, ip), Some(a));
        assert_eq!(n.lookup(4097, ip), Some(b));
        assert!(n.should_ask(4098, ip, 1));
        assert!(!n.should_ask(4098, ip, 1));
        let mut e: Vec<_> = n
            .entries()
            .into_iter()
            .map(|e| (e.vni, e.ip, e.mac))
            .collect();
        e.sort();
        assert_eq!(
            e,
            vec![
                (Some(4096), ip, Some(a)),
                (Some(4097), ip, Some(b)),
                (Some(4098), ip, None)
            ]
        );
    }
}
