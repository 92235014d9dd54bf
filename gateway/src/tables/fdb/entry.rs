//! The words of a slot: its key and its value (the destination, its kind, the
//! entry's flags and the VNI's top bits), and [`FdbDest`], the destination a value
//! holds.
//!
//! A **key** is `(vni & 0xffff) << 48 | mac`, `mac` being the 48-bit address
//! ([`MacAddr::to_u64`]). The VNI has 24 bits, so its top 8 bits live in the value.
//! Key 0 marks a free slot: it would need MAC 00:00:00:00:00:00, which is refused.
//! A **value** packs: bits 0-31 the destination payload (access: port << 16 | vlan;
//! VTEP: the IPv4 address), bits 32-33 its kind (1 access, 2 VTEP, 0 free), bit 34
//! static, bit 35 "stored in the secondary bucket", bits 40-47 the VNI's top 8 bits.
//! A slot matches when the key word *and* the VNI bits of the value match (two
//! VNIs that differ only above bit 15 share key words).
//!
//! [`MacAddr::to_u64`]: crate::wire::ethernet::MacAddr::to_u64

use core::fmt;
use std::net::Ipv4Addr;

// Key word.
pub(super) const MAC_MASK: u64 = 0x0000_ffff_ffff_ffff;
pub(super) const KEY_VNI_SHIFT: u32 = 48;

// Value word.
const PAYLOAD_MASK: u64 = 0xffff_ffff;
const KIND_SHIFT: u32 = 32;
pub(super) const KIND_MASK: u64 = 3 << KIND_SHIFT;
pub(super) const KIND_ACCESS: u64 = 1 << KIND_SHIFT;
pub(super) const KIND_VTEP: u64 = 2 << KIND_SHIFT;
pub(super) const DEST_MASK: u64 = PAYLOAD_MASK | KIND_MASK;
pub(super) const STATIC: u64 = 1 << 34;
pub(super) const ALT: u64 = 1 << 35;
pub(super) const VNI_HI_SHIFT: u32 = 40;
pub(super) const VNI_HI_MASK: u64 = 0xff << VNI_HI_SHIFT;

/// Where frames for a MAC go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FdbDest {
    /// A local access port (port index) and its VLAN (0 = untagged).
    Access {
        /// Access port index.
        port: u16,
        /// VLAN on that port, 0 = untagged.
        vlan: u16,
    },
    /// A remote VTEP.
    Vtep(Ipv4Addr),
}

impl FdbDest {
    /// The destination bits of a value word (payload and kind: bits 0-33; the
    /// per-worker cache keeps them under its VNI, `fdb_cache.rs`).
    #[inline]
    pub(in crate::tables) fn encode(self) -> u64 {
        match self {
            FdbDest::Access { port, vlan } => KIND_ACCESS | (port as u64) << 16 | vlan as u64,
            FdbDest::Vtep(ip) => KIND_VTEP | u32::from(ip) as u64,
        }
    }

    /// Inverse of `encode` for an occupied value word (bits above 33 ignored).
    #[inline]
    pub(in crate::tables) fn decode(v: u64) -> FdbDest {
        let p = (v & PAYLOAD_MASK) as u32;
        // The kinds are 1 and 2: one bit tells them apart.
        if v & KIND_ACCESS != 0 {
            FdbDest::Access {
                port: (p >> 16) as u16,
                vlan: p as u16,
            }
        } else {
            FdbDest::Vtep(Ipv4Addr::from(p))
        }
    }
}

impl fmt::Display for FdbDest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdbDest::Access { port, vlan } => write!(f, "port {port} vlan {vlan}"),
            FdbDest::Vtep(ip) => write!(f, "vtep {ip}"),
        }
    }
}

#[inline]
pub(super) fn entry_vni(key: u64, value: u64) -> u32 {
    ((key >> KEY_VNI_SHIFT) as u32) | (((value & VNI_HI_MASK) >> VNI_HI_SHIFT) as u32) << 16
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
