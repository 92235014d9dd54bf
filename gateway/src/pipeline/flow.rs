//! Hash of an inner frame's flow, for the outer UDP source port (RFC 7348 section 5:
//! "a hash of fields from the inner packet"), so underlay ECMP and RSS spread flows
//! while each flow keeps one path. In-process only: any good mix will do.

use crate::wire::ethernet::ethertype;

#[inline(always)]
fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser: full avalanche in a few multiplies.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Flow hash of an untagged Ethernet frame: IPv4 addresses, protocol and (for
/// unfragmented TCP/UDP) ports; MAC addresses and ethertype otherwise.
#[inline]
pub fn inner_flow_hash(frame: &[u8]) -> u64 {
    let rd32 = |o: usize| u32::from_be_bytes([frame[o], frame[o + 1], frame[o + 2], frame[o + 3]]);
    if frame.len() >= 34 && u16::from_be_bytes([frame[12], frame[13]]) == ethertype::IPV4 {
        let ihl = ((frame[14] & 0x0f) as usize) * 4;
        let proto = frame[23];
        let frag = u16::from_be_bytes([frame[20], frame[21]]) & 0x3fff != 0;
        let addrs = ((rd32(26) as u64) << 32) | rd32(30) as u64;
        let l4 = 14 + ihl;
        let ports = if !frag && (proto == 6 || proto == 17) && ihl >= 20 && frame.len() >= l4 + 4 {
            rd32(l4) as u64
        } else {
            0
        };
        return mix(addrs ^ mix(ports << 8 | proto as u64));
    }
    if frame.len() >= 14 {
        let a = u64::from_be_bytes([
            0, 0, frame[0], frame[1], frame[2], frame[3], frame[4], frame[5],
        ]);
        let b = u64::from_be_bytes([
            0, 0, frame[6], frame[7], frame[8], frame[9], frame[10], frame[11],
        ]);
        return mix(a ^ mix(b ^ (u16::from_be_bytes([frame[12], frame[13]]) as u64) << 48));
    }
    0
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
