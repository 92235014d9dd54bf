//! Shallow virtual reassembly for the routing mesh: the L4 ports of a fragmented
//! datagram's first fragment, remembered so that its later fragments (which carry
//! no L4 header) are translated like it and reach the same backend (or client).
//!
//! A datagram is keyed as RFC 791 does: source, destination, protocol and IP
//! identification. Each worker remembers the datagrams whose first fragment it
//! translated, in a fixed table of [`SLOTS`] (a new first fragment takes its slot
//! from whatever held it), for [`TIMEOUT`] seconds (Linux's `ipfrag_time`).
//!
//! A later fragment that arrives before its first (fragments may be reordered on
//! the way) is not translated: the pipeline answers
//! [`Decision::AwaitFirstFragment`](super::Decision::AwaitFirstFragment) and the
//! worker holds it, at most [`HELD_PER_WORKER`] of them for at most [`HOLD_SECS`]
//! seconds, and hands it to [`super::later_fragment`] again each round in which a
//! first fragment was remembered. One whose first fragment does not come in time
//! (lost, or the fragment is a stranger's) is dropped (`fragment_timeout`), as is
//! one that finds the holding place full (`fragment_hold_full`): the receiver's
//! reassembly then times out, as it would for a lost fragment, and nothing is
//! forwarded half-translated. A flood of orphan fragments costs one hold each and
//! fills a bounded place; it makes no connection and holds no other state.
//!
//! Fragments of one datagram must reach one worker: RSS hashes IPv4 fragments on
//! their addresses (DPDK's `RTE_ETH_RSS_FRAG_IPV4`), and a VTEP's outer source port
//! comes from the inner flow. The slot of a datagram is a keyed hash (random per
//! worker), so outsiders cannot aim fragments at a slot.
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

use crate::tables::folded_mul::folded_mul;
use crate::wire::ipv4::field::{ADDRS, FLAGS_FRAG, IDENT, PROTOCOL};
use crate::wire::ipv4::MIN_HEADER_LEN;

/// Datagrams remembered per worker.
pub const SLOTS: usize = 1024;
/// Seconds a first fragment's ports are remembered.
pub const TIMEOUT: u32 = 30;
/// Later fragments a worker holds while their first fragment is awaited.
pub const HELD_PER_WORKER: usize = 64;
/// Seconds (whole seconds of the worker's clock: 1 to 2 in time) a later fragment
/// waits for its first. Reordering delays fragments by microseconds; a longer hold
/// would only keep a flood's fragments longer.
pub const HOLD_SECS: u32 = 2;

/// One remembered datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot {
    /// Source and destination address (header bytes 12..20).
    addrs: u64,
    /// Protocol << 16 | identification; 0 marks a free slot (protocol 0 is never
    /// remembered).
    proto_id: u32,
    /// Source port << 16 | destination port.
    ports: u32,
    /// The second the first fragment was seen.
    second: u32,
}

/// One worker's remembered first fragments (see the module docs).
#[derive(Debug)]
pub struct Fragments {
    slots: Box<[Cell<Slot>]>,
    /// The slot hash's two keys, random per table.
    seed: [u64; 2],
    /// First fragments remembered so far (wrapping): the worker retries the later
    /// fragments it holds when this moved.
    remembered: Cell<u32>,
}

impl Default for Fragments {
    fn default() -> Self {
        Fragments {
            slots: (0..SLOTS).map(|_| Cell::default()).collect(),
            seed: {
                let random = RandomState::new();
                [random.hash_one(1u8), random.hash_one(2u8)]
            },
            remembered: Cell::new(0),
        }
    }
}

/// Is the IPv4 header `ip` (at least 20 bytes) a first fragment: MF set, offset 0?
#[inline]
pub fn is_first_fragment(ip: &[u8]) -> bool {
    // The flags' and offset's two bytes: MF and the offset's top bits, its low byte.
    ip.get(FLAGS_FRAG..FLAGS_FRAG + 2)
        .is_some_and(|ff| ff[0] & 0x20 != 0 && ff[0] & 0x1f == 0 && ff[1] == 0)
}

impl Fragments {
    /// The datagram key of header `ip` and its slot.
    fn key(&self, ip: &[u8]) -> Option<(u64, u32, usize)> {
        let h = ip.first_chunk::<MIN_HEADER_LEN>()?;
        let addrs = u64::from_be_bytes(h[ADDRS].try_into().ok()?);
        let proto_id =
            u32::from(h[PROTOCOL]) << 16 | u32::from(u16::from_be_bytes([h[IDENT], h[IDENT + 1]]));
        // Two rounds: one sender's identifiers count up, and one multiply maps
        // consecutive keys onto a Weyl sequence whose top bits, for one key in six
        // or so, fall on a fraction of the slots (a single keyed multiply used 55-75 %
        // of them then); the second round mixes the first one's low bits up.
        let x = folded_mul(addrs ^ self.seed[0], u64::from(proto_id) ^ self.seed[1]);
        let x = folded_mul(x, 0x9e37_79b9_7f4a_7c15);
        Some((addrs, proto_id, (x >> 54) as usize % SLOTS))
    }

    /// Remembers the ports of the first fragment whose IPv4 header is `ip`.
    pub fn remember(&self, ip: &[u8], src_port: u16, dst_port: u16, now: u32) {
        let Some((addrs, proto_id, i)) = self.key(ip) else {
            return;
        };
        if proto_id >> 16 == 0 {
            return;
        }
        self.slots[i].set(Slot {
            addrs,
            proto_id,
            ports: u32::from(src_port) << 16 | u32::from(dst_port),
            second: now,
        });
        self.remembered.set(self.remembered.get().wrapping_add(1));
    }

    /// How many first fragments were remembered so far (wrapping).
    pub fn remembered(&self) -> u32 {
        self.remembered.get()
    }

    /// The (source, destination) ports of the datagram of the later fragment whose
    /// IPv4 header is `ip`, if its first fragment was seen in the last [`TIMEOUT`]
    /// seconds.
    pub fn ports_of(&self, ip: &[u8], now: u32) -> Option<(u16, u16)> {
        let (addrs, proto_id, i) = self.key(ip)?;
        let s = self.slots[i].get();
        let fresh = now.wrapping_sub(s.second) < TIMEOUT;
        (s.proto_id != 0 && s.addrs == addrs && s.proto_id == proto_id && fresh)
            .then_some(((s.ports >> 16) as u16, s.ports as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, flags_offset: u16) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[4..6].copy_from_slice(&id.to_be_bytes());
        h[6..8].copy_from_slice(&flags_offset.to_be_bytes());
        h[9] = proto;
        h[12..16].copy_from_slice(&src);
        h[16..20].copy_from_slice(&dst);
        h
    }

    #[test]
    fn later_fragments_find_their_first_fragments_ports() {
        let f = Fragments::default();
        let first = header([203, 0, 113, 7], [192, 0, 2, 1], 17, 0x1234, 0x2000);
        assert!(is_first_fragment(&first));
        assert_eq!(f.remembered(), 0);
        f.remember(&first, 5353, 53, 100);
        assert_eq!(f.remembered(), 1);
        let later = header([203, 0, 113, 7], [192, 0, 2, 1], 17, 0x1234, 185);
        assert!(!is_first_fragment(&later));
        assert_eq!(f.ports_of(&later, 100), Some((5353, 53)));
        assert_eq!(f.ports_of(&later, 129), Some((5353, 53)));
        assert_eq!(f.ports_of(&later, 130), None, "forgotten after the timeout");
        // Another id, source, destination or protocol is another datagram.
        for other in [
            header([203, 0, 113, 7], [192, 0, 2, 1], 17, 0x1235, 185),
            header([203, 0, 113, 8], [192, 0, 2, 1], 17, 0x1234, 185),
            header([203, 0, 113, 7], [192, 0, 2, 2], 17, 0x1234, 185),
            header([203, 0, 113, 7], [192, 0, 2, 1], 6, 0x1234, 185),
        ] {
            assert_eq!(f.ports_of(&other, 100), None);
        }
        assert!(!is_first_fragment(&header(
            [1, 1, 1, 1],
            [2, 2, 2, 2],
            17,
            1,
            0
        )));
    }

    #[test]
    fn the_table_is_bounded_and_a_new_datagram_takes_its_slot() {
        // 64 tables (64 random keys): one sender's 4096 consecutive identifiers fill
        // the slots like 4096 random throws would (1 - e^-4 of them, ~1005).
        for _ in 0..64 {
            let f = Fragments::default();
            for id in 0..(4 * SLOTS) as u16 {
                f.remember(
                    &header([10, 0, 0, 1], [10, 0, 0, 2], 17, id, 0x2000),
                    id,
                    53,
                    7,
                );
            }
            assert_eq!(f.slots.len(), SLOTS);
            let last = header([10, 0, 0, 1], [10, 0, 0, 2], 17, (4 * SLOTS - 1) as u16, 8);
            assert_eq!(f.ports_of(&last, 7), Some(((4 * SLOTS - 1) as u16, 53)));
            let remembered = (0..(4 * SLOTS) as u16)
                .filter(|&id| {
                    f.ports_of(&header([10, 0, 0, 1], [10, 0, 0, 2], 17, id, 8), 7)
                        .is_some()
                })
                .count();
            assert!(
                remembered <= SLOTS && remembered > SLOTS * 9 / 10,
                "{remembered} of {SLOTS} slots used"
            );
        }
    }
}
