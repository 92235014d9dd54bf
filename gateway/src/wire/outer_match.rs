//! The constant fields of a VXLAN packet's outer headers addressed to one VTEP,
//! checked at once: the first 64 bytes (the outer headers and the inner Ethernet
//! header, which every frame the decap fast path takes has), masked and compared
//! with what they must hold. It replaces a dozen byte compares and branches on the
//! decap fast path with one branch. 64 bytes, not the 48 the checked fields span:
//! two whole 32-byte vectors fold into one test, 8 instructions instead of 17.
//!
//! Checked: destination MAC, ethertype IPv4, IPv4 version 4 without options, no
//! fragment (offset and MF zero), protocol UDP, destination address, UDP destination
//! port, and the VXLAN I flag. Lengths and the header checksum vary per packet and
//! are checked by the caller.

use std::net::Ipv4Addr;

use super::encap::{field as at, INNER};
use super::ethernet::{self, ethertype, MacAddr};
use super::ipv4::protocol;
use super::vxlan::FLAG_I;

/// Bytes [`OuterMatch::matches`] looks at: the outer Ethernet, IPv4 without options,
/// UDP and VXLAN headers, and the inner Ethernet header (not checked).
pub const OUTER_MATCH_LEN: usize = INNER + ethernet::HEADER_LEN;
const WORDS: usize = OUTER_MATCH_LEN / 8;

/// A precomputed masked compare of the outer headers (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuterMatch {
    want: [u64; WORDS],
    mask: [u64; WORDS],
}

impl OuterMatch {
    /// VXLAN to `vtep_ip` on UDP port `udp_port`, in frames to `mac`.
    pub fn new(mac: MacAddr, vtep_ip: Ipv4Addr, udp_port: u16) -> OuterMatch {
        let mut want = [0u8; OUTER_MATCH_LEN];
        let mut mask = [0u8; OUTER_MATCH_LEN];
        let mut field = |at: usize, w: &[u8], m: &[u8]| {
            want[at..at + w.len()].copy_from_slice(w);
            mask[at..at + m.len()].copy_from_slice(m);
        };
        field(at::DST_MAC.start, &mac.0, &[0xff; 6]);
        field(at::ETHERTYPE, &ethertype::IPV4.to_be_bytes(), &[0xff; 2]);
        field(at::IP_VER_IHL, &[0x45], &[0xff]);
        field(at::IP_FLAGS_FRAG, &[0, 0], &[0x3f, 0xff]);
        field(at::IP_PROTOCOL, &[protocol::UDP], &[0xff]);
        field(at::IP_DST_ADDR.start, &vtep_ip.octets(), &[0xff; 4]);
        field(at::UDP_DST_PORT, &udp_port.to_be_bytes(), &[0xff; 2]);
        field(at::VXLAN_FLAGS, &[FLAG_I], &[FLAG_I]);
        OuterMatch {
            want: words(&want),
            mask: words(&mask),
        }
    }

    /// True when every checked field of `h` holds what it must.
    #[inline(always)]
    pub fn matches(&self, h: &[u8; OUTER_MATCH_LEN]) -> bool {
        let diff = words(h)
            .iter()
            .zip(&self.want)
            .zip(&self.mask)
            .fold(0, |d, ((w, want), mask)| d | ((w ^ want) & mask));
        diff == 0
    }
}

/// The bytes as words in memory order (both sides read the same way).
#[inline(always)]
fn words(b: &[u8; OUTER_MATCH_LEN]) -> [u64; WORDS] {
    let mut w = [0u64; WORDS];
    for (i, c) in b.chunks_exact(8).enumerate() {
        w[i] = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr([0x02, 0x70, 0x63, 0x61, 0x70, 0x00]);
    const VTEP: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 1);

    fn good() -> [u8; OUTER_MATCH_LEN] {
        let mut h = [0u8; OUTER_MATCH_LEN];
        h[0..6].copy_from_slice(&MAC.0);
        h[6..12].copy_from_slice(&[2, 0, 0, 0, 0x11, 0x11]);
        h[12..14].copy_from_slice(&[0x08, 0x00]);
        h[14] = 0x45;
        h[16..18].copy_from_slice(&100u16.to_be_bytes());
        h[20] = 0x40; // DF is allowed
        h[22] = 64;
        h[23] = 17;
        h[26..30].copy_from_slice(&[172, 30, 0, 11]);
        h[30..34].copy_from_slice(&VTEP.octets());
        h[34..36].copy_from_slice(&50000u16.to_be_bytes());
        h[36..38].copy_from_slice(&4789u16.to_be_bytes());
        h[42] = 0x08;
        h
    }

    /// The same checks, one field at a time.
    fn reference(h: &[u8; OUTER_MATCH_LEN], m: &OuterMatch) -> bool {
        let _ = m;
        h[0..6] == MAC.0
            && h[12..14] == [0x08, 0x00]
            && h[14] == 0x45
            && u16::from_be_bytes([h[20], h[21]]) & 0x3fff == 0
            && h[23] == 17
            && h[30..34] == VTEP.octets()
            && h[36..38] == 4789u16.to_be_bytes()
            && h[42] & 0x08 != 0
    }

    #[test]
    fn every_checked_field_matters_and_nothing_else() {
        let m = OuterMatch::new(MAC, VTEP, 4789);
        assert!(m.matches(&good()));
        for at in 0..OUTER_MATCH_LEN {
            for bit in 0..8 {
                let mut h = good();
                h[at] ^= 1 << bit;
                assert_eq!(m.matches(&h), reference(&h, &m), "byte {at} bit {bit}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_field_by_field_checks(
            edits in proptest::collection::vec((0usize..OUTER_MATCH_LEN, proptest::num::u8::ANY), 0..4),
        ) {
            let m = OuterMatch::new(MAC, VTEP, 4789);
            let mut h = good();
            for (at, v) in edits {
                h[at] = v;
            }
            proptest::prop_assert_eq!(m.matches(&h), reference(&h, &m));
        }
    }
}
