//! Keys and where they go: the [`PackedKey`] a lookup compares, the keys of a
//! packed conn (`entry_key`), a key's place in the index (`Pos`: its two buckets
//! and its tag, from `Conntrack::pos`).

use super::{Conntrack, FlowKey, LO32, W4_HAS_SNAT, W4_PROTO_SHIFT};
use crate::tables::folded_mul::folded_mul;
use std::net::Ipv4Addr;

/// A flow key as the table compares it: two words, `src << 32 | dst` and
/// `sport << 48 | dport << 32 | proto`. The data path builds it straight from a
/// packet's header ([`PackedKey::from_wire`]) and keeps it beside the burst, so that
/// a lookup and the check that a warmed hit is the packet's are two word compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedKey {
    pub(super) a: u64,
    pub(super) b: u64,
}

impl PackedKey {
    /// A key no packet has (protocol 0): the slot of a frame that is not looked up.
    pub const NONE: PackedKey = PackedKey { a: 0, b: 0 };

    /// The packed form of `k`.
    #[inline]
    pub fn of(k: &FlowKey) -> PackedKey {
        pack_key(k)
    }

    /// The key of an IPv4 packet from its header's words: `addrs`, the source and
    /// destination addresses as one big-endian word (header bytes 12..20); `ports`,
    /// the source and destination ports as one (the first 4 bytes after the header);
    /// and the protocol. Equal to `PackedKey::of` of the same fields.
    #[inline(always)]
    pub fn from_wire(addrs: u64, ports: u32, proto: u8) -> PackedKey {
        PackedKey {
            a: addrs,
            b: (ports as u64) << 32 | proto as u64,
        }
    }

    /// The flow key it packs.
    #[inline]
    pub fn flow(&self) -> FlowKey {
        FlowKey {
            proto: self.b as u8,
            src: Ipv4Addr::from((self.a >> 32) as u32),
            dst: Ipv4Addr::from(self.a as u32),
            src_port: (self.b >> 48) as u16,
            dst_port: (self.b >> 32) as u16,
        }
    }

    /// The destination address.
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.a as u32)
    }

    /// The destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        (self.b >> 32) as u16
    }

    /// The protocol.
    #[inline]
    pub fn proto(&self) -> u8 {
        self.b as u8
    }
}

#[inline]
pub(super) fn pack_key(k: &FlowKey) -> PackedKey {
    PackedKey {
        a: (u32::from(k.src) as u64) << 32 | u32::from(k.dst) as u64,
        b: (k.src_port as u64) << 48 | (k.dst_port as u64) << 32 | k.proto as u64,
    }
}

/// The key of direction `reply` of the conn packed in `w` (same as packing
/// `Conn::unpack(w).key(dir)`, without building the conn).
#[inline]
pub(super) fn entry_key(w: &[u64; 5], reply: bool) -> PackedKey {
    let proto = (w[4] >> W4_PROTO_SHIFT) & 0xff;
    if !reply {
        return PackedKey {
            a: w[0],
            b: (w[2] & !LO32) | proto,
        };
    }
    let (dst_ip, dst_port) = if w[4] & W4_HAS_SNAT != 0 {
        (w[1] & LO32, w[2] & 0xffff)
    } else {
        (w[0] >> 32, w[2] >> 48)
    };
    PackedKey {
        a: (w[1] & !LO32) | dst_ip,
        b: ((w[2] >> 16) & 0xffff) << 48 | dst_port << 32 | proto,
    }
}

/// A key's place: its two buckets and its tag (already in slot position).
#[derive(Clone, Copy, Debug)]
pub(super) struct Pos {
    pub(super) b1: usize,
    pub(super) b2: usize,
    pub(super) tag: u64,
}

impl Pos {
    pub(super) fn buckets(&self) -> impl Iterator<Item = usize> {
        let b2 = (self.b2 != self.b1).then_some(self.b2);
        std::iter::once(self.b1).chain(b2)
    }
}

impl Conntrack {
    #[inline]
    pub(super) fn pos(&self, k: &PackedKey) -> Pos {
        let x1 = folded_mul(k.a ^ self.k0, k.b ^ self.k1);
        let x2 = folded_mul(x1, 0x9e37_79b9_7f4a_7c15);
        let n = self.buckets.len() as u128;
        // The buckets come from the top bits of x1 and x2; the tag from x2's low
        // half, which the keys of one bucket do not share.
        Pos {
            b1: ((x1 as u128 * n) >> 64) as usize,
            b2: ((x2 as u128 * n) >> 64) as usize,
            tag: ((x2 as u32 | 1) as u64) << 32,
        }
    }
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
