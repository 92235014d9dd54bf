//! Hash of an inner frame's flow, for the outer UDP source port (RFC 7348 section 5:
//! "a hash of fields from the inner packet"), so underlay ECMP and RSS spread flows
//! while each flow keeps one path. In-process only: any good mix will do.

use crate::tables::folded_mul::folded_mul;
use crate::wire::ethernet::field::{DST, ETHERTYPE, SRC};
use crate::wire::ethernet::{ethertype, HEADER_LEN};
use crate::wire::frame::{field as at, IP, L4};
use crate::wire::ipv4::protocol;
use crate::wire::udp::field::PORTS;

/// One folded 64x64->128 multiply of two seeded words: the high bits (the ones
/// [`source_port`] keeps) depend on every input bit. Half the cost of two rounds of a
/// finaliser, and enough for spreading flows over paths.
#[inline(always)]
fn mix(a: u64, b: u64) -> u64 {
    folded_mul(a ^ 0x243f_6a88_85a3_08d3, b ^ 0x1319_8a2e_0370_7344)
}

/// Flow hash of an untagged Ethernet frame: IPv4 addresses, protocol and (for
/// unfragmented TCP/UDP) ports; MAC addresses and ethertype otherwise.
#[inline(always)]
pub fn inner_flow_hash(frame: &[u8]) -> u64 {
    // The common case first: IPv4 without options, ports at a fixed place.
    if let Some(h) = frame.first_chunk::<{ at::L4_PORTS.end }>() {
        if u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]) == ethertype::IPV4
            && h[at::IP_VER_IHL] == 0x45
        {
            let p = at::L4_PORTS.start;
            return ip_hash(h, u32::from_le_bytes([h[p], h[p + 1], h[p + 2], h[p + 3]]));
        }
    }
    other_flow_hash(frame)
}

/// [`inner_flow_hash`] of an IPv4 packet (header at 14, `N` >= 34 bytes) whose
/// first 4 bytes after the IPv4 header are `l4` (the ports, if TCP or UDP).
#[inline(always)]
fn ip_hash<const N: usize>(h: &[u8; N], l4: u32) -> u64 {
    // Words in memory order (no byte swaps): a hash needs the bits, not their values.
    let a = at::IP_ADDRS.start;
    let addrs = u64::from_le_bytes([
        h[a],
        h[a + 1],
        h[a + 2],
        h[a + 3],
        h[a + 4],
        h[a + 5],
        h[a + 6],
        h[a + 7],
    ]);
    let proto = h[at::IP_PROTOCOL];
    let unfragmented =
        u16::from_be_bytes([h[at::IP_FLAGS_FRAG], h[at::IP_FLAGS_FRAG + 1]]) & 0x3fff == 0;
    let ports = if unfragmented && (proto == protocol::TCP || proto == protocol::UDP) {
        l4 as u64
    } else {
        0
    };
    mix(addrs, ports << 8 | proto as u64)
}

/// [`inner_flow_hash`] of anything but IPv4 without options.
#[inline(never)]
fn other_flow_hash(frame: &[u8]) -> u64 {
    let Some(h) = frame.first_chunk::<L4>() else {
        return match frame.first_chunk::<HEADER_LEN>() {
            Some(e) => ether_hash(e),
            None => 0,
        };
    };
    if u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]) != ethertype::IPV4 {
        return ether_hash(
            frame
                .first_chunk::<HEADER_LEN>()
                .unwrap_or(&[0; HEADER_LEN]),
        );
    }
    let l4 = IP + ((h[at::IP_VER_IHL] & 0x0f) as usize) * 4;
    match frame.get(l4 + PORTS.start..l4 + PORTS.end) {
        Some(p) if l4 >= L4 => ip_hash(h, u32::from_le_bytes([p[0], p[1], p[2], p[3]])),
        _ => ip_hash(h, 0),
    }
}

/// Hash of the MAC addresses and ethertype (frames that are not IPv4).
#[inline]
fn ether_hash(h: &[u8; HEADER_LEN]) -> u64 {
    let (d, s) = (DST.start, SRC.start);
    let dst = u64::from_be_bytes([0, 0, h[d], h[d + 1], h[d + 2], h[d + 3], h[d + 4], h[d + 5]]);
    let src = u64::from_be_bytes([0, 0, h[s], h[s + 1], h[s + 2], h[s + 3], h[s + 4], h[s + 5]]);
    mix(
        dst ^ (u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]]) as u64) << 48,
        src,
    )
}

/// The outer UDP source port for a flow hash: the dynamic range 49152-65535 (RFC 7348).
#[inline]
pub fn source_port(hash: u64) -> u16 {
    0xc000 | (hash >> 50) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp_frame(sport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[12] = 0x08;
        f[14] = 0x45;
        f[23] = 17;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f
    }

    #[test]
    fn ports_spread_and_are_stable() {
        let mut seen = std::collections::HashSet::new();
        for p in 0..1000 {
            let h = inner_flow_hash(&udp_frame(p));
            assert_eq!(h, inner_flow_hash(&udp_frame(p)));
            let sp = source_port(h);
            assert!(sp >= 49152);
            seen.insert(sp);
        }
        assert!(
            seen.len() > 950,
            "only {} distinct source ports",
            seen.len()
        );
    }

    /// The hash as first written: one path for every frame.
    fn reference(frame: &[u8]) -> u64 {
        let Some(h) = frame.first_chunk::<34>() else {
            return frame.first_chunk::<14>().map_or(0, ether_hash);
        };
        if u16::from_be_bytes([h[12], h[13]]) != ethertype::IPV4 {
            return ether_hash(frame.first_chunk::<14>().unwrap());
        }
        let addrs = u64::from_le_bytes(h[26..34].try_into().unwrap());
        let proto = h[23];
        let l4 = 14 + ((h[14] & 0x0f) as usize) * 4;
        let unfragmented = u16::from_be_bytes([h[20], h[21]]) & 0x3fff == 0;
        let ports = match frame.get(l4..l4 + 4) {
            Some(p) if unfragmented && (proto == 6 || proto == 17) && l4 >= 34 => {
                u32::from_le_bytes(p.try_into().unwrap()) as u64
            }
            _ => 0,
        };
        mix(addrs, ports << 8 | proto as u64)
    }

    proptest::proptest! {
        #[test]
        fn the_fixed_offset_case_hashes_as_the_general_one(
            len in 0usize..80,
            ihl in 0u8..16,
            proto in proptest::sample::select(vec![6u8, 17, 1, 47]),
            frag in proptest::sample::select(vec![0u16, 0x4000, 0x2000, 0x0001]),
            ipv4 in proptest::bool::weighted(0.9),
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 80),
        ) {
            let mut f = bytes;
            f[12..14].copy_from_slice(if ipv4 { &[0x08, 0x00] } else { &[0x86, 0xdd] });
            f[14] = 0x40 | ihl;
            f[20..22].copy_from_slice(&frag.to_be_bytes());
            f[23] = proto;
            f.truncate(len);
            proptest::prop_assert_eq!(inner_flow_hash(&f), reference(&f));
        }
    }

    #[test]
    fn short_and_odd_frames_do_not_panic() {
        for n in 0..80 {
            let _ = inner_flow_hash(&vec![0x45; n]);
            let mut f = udp_frame(1);
            f.truncate(n.min(60));
            let _ = inner_flow_hash(&f);
        }
    }
}
