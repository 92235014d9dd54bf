//! Hash of an inner frame's flow, for the outer UDP source port (RFC 7348 section 5:
//! "a hash of fields from the inner packet"), so underlay ECMP and RSS spread flows
//! while each flow keeps one path. In-process only: any good mix will do.

use crate::tables::folded_mul::folded_mul;
use crate::wire::ethernet::ethertype;

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
    let Some(h) = frame.first_chunk::<34>() else {
        return match frame.first_chunk::<14>() {
            Some(e) => ether_hash(e),
            None => 0,
        };
    };
    if u16::from_be_bytes([h[12], h[13]]) != ethertype::IPV4 {
        return ether_hash(frame.first_chunk::<14>().unwrap_or(&[0; 14]));
    }
    // Words in memory order (no byte swaps): a hash needs the bits, not their values.
    let addrs = u64::from_le_bytes([h[26], h[27], h[28], h[29], h[30], h[31], h[32], h[33]]);
    let proto = h[23];
    let l4 = 14 + ((h[14] & 0x0f) as usize) * 4;
    let unfragmented = u16::from_be_bytes([h[20], h[21]]) & 0x3fff == 0;
    let ports = match frame.get(l4..l4 + 4) {
        Some(p) if unfragmented && (proto == 6 || proto == 17) && l4 >= 34 => {
            u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as u64
        }
        _ => 0,
    };
    mix(addrs, ports << 8 | proto as u64)
}

/// Hash of the MAC addresses and ethertype (frames that are not IPv4).
#[inline]
fn ether_hash(h: &[u8; 14]) -> u64 {
    let dst = u64::from_be_bytes([0, 0, h[0], h[1], h[2], h[3], h[4], h[5]]);
    let src = u64::from_be_bytes([0, 0, h[6], h[7], h[8], h[9], h[10], h[11]]);
    mix(dst ^ (u16::from_be_bytes([h[12], h[13]]) as u64) << 48, src)
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
