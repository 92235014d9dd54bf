//! What the routing mesh accepts at its edges, checked before any state is touched.
//!
//! The external port faces the internet, so a client's IPv4 frame must pass, in
//! order (each refusal has its own drop reason):
//! - a unicast Ethernet source (`invalid_source_mac`);
//! - a consistent IPv4 header: version 4, IHL >= 5, IHL <= total length, the total
//!   length inside the frame (`bad_ip_length`), and a header checksum that verifies
//!   (`bad_ip_checksum`);
//! - RFC 1812 source rules (`martian_source`): not 0/8, 127/8, 224/4 (multicast) or
//!   240/4 (reserved, with the limited broadcast), not the external prefix's network
//!   or broadcast address, not one of vxgw's own addresses;
//! - RFC 1812 destination rules (`martian_destination`): not 0/8, 127/8, 224/4,
//!   240/4, nor the external prefix's network or broadcast address (a service
//!   published on "any address" is not reachable through them);
//! - an L4 header consistent with the packet (first fragments and whole packets;
//!   later fragments have none): TCP's data offset at least 5 and inside the
//!   segment (`bad_tcp_data_offset`); UDP's length at least 8 and inside the
//!   packet, or the fragment for a first fragment (`bad_udp_length`).
//!
//! What comes back from the overlay towards a client (a backend's reply) gets the
//! same header and L4 checks ([`check_packet`]); its addresses must be a tracked
//! connection's, which the conntrack lookup enforces.
//!
//! The checks run on the general path. The mesh fast path takes only packets of
//! tracked connections (their addresses were checked when the connection was made)
//! and makes the header and L4 checks itself at fixed offsets
//! (`mesh_fast::plain_ipv4`), declining anything that fails them to this module.

use std::net::Ipv4Addr;

use super::decision::DropReason;
use crate::tables::snapshot::ExternalView;
use crate::wire::checksum;
use crate::wire::ethernet::{field::SRC, HEADER_LEN};
use crate::wire::ipv4::field::{DST_ADDR, FLAGS_FRAG, PROTOCOL, SRC_ADDR, TOTAL_LEN, VER_IHL};
use crate::wire::ipv4::{protocol, MIN_HEADER_LEN as IP_MIN};
use crate::wire::tcp::{field::DATA_OFF, MIN_HEADER_LEN as TCP_MIN};
use crate::wire::udp::{field::LENGTH as UDP_LENGTH, HEADER_LEN as UDP_HDR};

/// Checks a client's frame on the external port: an Ethernet header and an IPv4
/// packet (see the module docs). `Ok` leaves everything to the routing mesh.
pub(super) fn check_client(ext: &ExternalView, frame: &[u8]) -> Result<(), DropReason> {
    let src_mac = frame.get(SRC).ok_or(DropReason::Truncated)?;
    if src_mac[0] & 1 != 0 || src_mac.iter().all(|&b| b == 0) {
        return Err(DropReason::InvalidSourceMac);
    }
    let ip = &frame[HEADER_LEN.min(frame.len())..];
    let (hl, total) = check_header(ip)?;
    check_addresses(ext, ip)?;
    check_l4(ip, hl, total)
}

/// The address checks of [`check_client`] (RFC 1812 martians) of a client's IPv4
/// header `ip` whose length was checked.
#[inline]
pub(super) fn check_addresses(ext: &ExternalView, ip: &[u8]) -> Result<(), DropReason> {
    let hdr = ip.first_chunk::<IP_MIN>().ok_or(DropReason::BadIpLength)?;
    let (s, d) = (SRC_ADDR.start, DST_ADDR.start);
    let src = Ipv4Addr::new(hdr[s], hdr[s + 1], hdr[s + 2], hdr[s + 3]);
    let dst = Ipv4Addr::new(hdr[d], hdr[d + 1], hdr[d + 2], hdr[d + 3]);
    if !routable(src) || ext.is_subnet_edge(src) || ext.is_own(src) {
        return Err(DropReason::MartianSource);
    }
    if !routable(dst) || ext.is_subnet_edge(dst) {
        return Err(DropReason::MartianDestination);
    }
    Ok(())
}

/// Checks an IPv4 packet `ip` (a backend's reply, decapsulated): header and L4 as
/// for a client's (see the module docs), addresses aside.
pub(super) fn check_packet(ip: &[u8]) -> Result<(), DropReason> {
    let (hl, total) = check_header(ip)?;
    check_l4(ip, hl, total)
}

/// A unicast address a host may have on the internet side: not in 0/8 ("this
/// network"), 127/8 (loopback), 224/4 (multicast) or 240/4 (reserved, and the
/// limited broadcast 255.255.255.255).
fn routable(a: Ipv4Addr) -> bool {
    let first = a.octets()[0];
    // 1..=223 but 127, without a branch per range.
    (first.wrapping_sub(1) < 223) & (first != 127)
}

/// The header length and total length of the IPv4 header at the start of `ip`, if
/// it is consistent and its checksum verifies.
fn check_header(ip: &[u8]) -> Result<(usize, usize), DropReason> {
    let fixed = ip.first_chunk::<IP_MIN>().ok_or(DropReason::BadIpLength)?;
    let hl = usize::from(fixed[VER_IHL] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([fixed[TOTAL_LEN], fixed[TOTAL_LEN + 1]]));
    if fixed[VER_IHL] >> 4 != 4 || hl < IP_MIN || total < hl || total > ip.len() {
        return Err(DropReason::BadIpLength);
    }
    // The common header without options: the fixed-size sum (as the fast path's).
    let verifies = match ip.first_chunk::<IP_MIN>() {
        Some(h) if hl == IP_MIN => checksum::ipv4_header_verifies(h),
        _ => checksum::checksum(&ip[..hl]) == 0,
    };
    if !verifies {
        return Err(DropReason::BadIpChecksum);
    }
    Ok((hl, total))
}

/// Checks the TCP or UDP header of a packet whose IPv4 header (`hl` bytes, `total`
/// in all, both checked) starts `ip`. Later fragments and other protocols pass.
fn check_l4(ip: &[u8], hl: usize, total: usize) -> Result<(), DropReason> {
    let frag = u16::from_be_bytes([ip[FLAGS_FRAG], ip[FLAGS_FRAG + 1]]);
    if frag & 0x1fff != 0 {
        return Ok(());
    }
    let more_fragments = frag & 0x2000 != 0;
    let l4 = &ip[hl..total];
    match ip[PROTOCOL] {
        protocol::TCP => {
            let offset = l4.get(DATA_OFF).map_or(0, |b| usize::from(b >> 4) * 4);
            if l4.len() < TCP_MIN || offset < TCP_MIN || (offset > l4.len() && !more_fragments) {
                return Err(DropReason::BadTcpDataOffset);
            }
        }
        protocol::UDP => {
            let len = l4.first_chunk::<UDP_HDR>().map_or(0, |h| {
                usize::from(u16::from_be_bytes([h[UDP_LENGTH], h[UDP_LENGTH + 1]]))
            });
            // A first fragment holds only the start of the datagram.
            if len < UDP_HDR || (len > l4.len() && !more_fragments) || l4.len() < UDP_HDR {
                return Err(DropReason::BadUdpLength);
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::MacAddr;

    const EXT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xee];
    const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xc1];

    fn ext() -> ExternalView {
        ExternalView {
            port: 2,
            mac: MacAddr(EXT_MAC),
            ip: Some(Ipv4Addr::new(192, 0, 2, 1)),
            mask: 0xffff_ff00,
            subnet_edges: ExternalView::subnet_edges_of(
                Some(Ipv4Addr::new(192, 0, 2, 1)),
                0xffff_ff00,
            ),
            gateway: None,
            local_ips: vec![Ipv4Addr::new(192, 0, 2, 1)],
            // Sorted, as the snapshot keeps them.
            own_ips: vec![
                Ipv4Addr::new(10, 255, 0, 2),
                Ipv4Addr::new(172, 30, 0, 1),
                Ipv4Addr::new(192, 0, 2, 1),
            ],
        }
    }

    /// A client's TCP SYN (or UDP datagram) from `src` to `dst`:80, valid in every
    /// respect; the tests then break one thing each.
    fn frame(proto: u8, src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let l4: Vec<u8> = if proto == protocol::TCP {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&40000u16.to_be_bytes());
            t[2..4].copy_from_slice(&80u16.to_be_bytes());
            t[12] = 5 << 4;
            t[13] = 0x02;
            t
        } else {
            let mut u = vec![0u8; 8 + 4];
            u[0..2].copy_from_slice(&40000u16.to_be_bytes());
            u[2..4].copy_from_slice(&53u16.to_be_bytes());
            u[4..6].copy_from_slice(&12u16.to_be_bytes());
            u
        };
        let mut f = Vec::new();
        f.extend_from_slice(&EXT_MAC);
        f.extend_from_slice(&CLIENT_MAC);
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        let total = (20 + l4.len()) as u16;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        let c = checksum::checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&l4);
        f
    }

    const CLIENT: [u8; 4] = [203, 0, 113, 7];
    const PUBLISHED: [u8; 4] = [192, 0, 2, 1];

    /// Rewrites the IPv4 header checksum after a test changed the header.
    fn fix_ip_checksum(f: &mut [u8]) {
        let hl = usize::from(f[14] & 0x0f) * 4;
        f[24..26].fill(0);
        let c = checksum::checksum(&f[14..14 + hl.max(20).min(f.len() - 14)]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
    }

    #[test]
    fn a_valid_client_packet_passes() {
        for proto in [protocol::TCP, protocol::UDP] {
            assert_eq!(
                check_client(&ext(), &frame(proto, CLIENT, PUBLISHED)),
                Ok(())
            );
        }
        // Ethernet padding after the packet is fine.
        let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
        f.extend_from_slice(&[0; 6]);
        assert_eq!(check_client(&ext(), &f), Ok(()));
    }

    #[test]
    fn martian_sources_are_refused() {
        let e = ext();
        for src in [
            [0, 0, 0, 0],
            [0, 1, 2, 3],
            [127, 0, 0, 1],
            [224, 0, 0, 5],
            [239, 255, 255, 250],
            [240, 0, 0, 1],
            [255, 255, 255, 255],
            [192, 0, 2, 0],   // the external prefix's network address
            [192, 0, 2, 255], // and its broadcast
            [192, 0, 2, 1],   // vxgw's own external address
            [172, 30, 0, 1],  // its VTEP address
            [10, 255, 0, 2],  // a service's ingress endpoint
        ] {
            assert_eq!(
                check_client(&e, &frame(protocol::TCP, src, PUBLISHED)),
                Err(DropReason::MartianSource),
                "{src:?}"
            );
        }
    }

    #[test]
    fn martian_destinations_are_refused() {
        for dst in [
            [0, 0, 0, 0],
            [127, 0, 0, 1],
            [224, 0, 0, 1],
            [255, 255, 255, 255],
            [192, 0, 2, 255],
            [192, 0, 2, 0],
        ] {
            assert_eq!(
                check_client(&ext(), &frame(protocol::UDP, CLIENT, dst)),
                Err(DropReason::MartianDestination),
                "{dst:?}"
            );
        }
        // A /31 or /32 external prefix has no network or broadcast address.
        let e = ExternalView {
            mask: 0xffff_ffff,
            subnet_edges: ExternalView::subnet_edges_of(Some(Ipv4Addr::new(192, 0, 2, 1)), !0),
            ..ext()
        };
        assert_eq!(e.subnet_edges, None);
        assert_eq!(
            check_client(&e, &frame(protocol::UDP, CLIENT, [192, 0, 2, 255])),
            Ok(())
        );
    }

    #[test]
    fn group_and_zero_source_macs_are_refused() {
        for mac in [[0xff; 6], [0x01, 0, 0x5e, 0, 0, 1], [0; 6]] {
            let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
            f[6..12].copy_from_slice(&mac);
            assert_eq!(check_client(&ext(), &f), Err(DropReason::InvalidSourceMac));
        }
    }

    #[test]
    fn a_bad_header_checksum_is_refused() {
        let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
        f[24] ^= 0x01;
        assert_eq!(check_client(&ext(), &f), Err(DropReason::BadIpChecksum));
        // With options too: the checksum covers them.
        let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
        f.splice(34..34, [1, 1, 1, 1]);
        f[14] = 0x46;
        f[17] += 4;
        fix_ip_checksum(&mut f);
        assert_eq!(check_client(&ext(), &f), Ok(()));
        f[36] = 7; // an option byte changed after the checksum
        assert_eq!(check_client(&ext(), &f), Err(DropReason::BadIpChecksum));
    }

    #[test]
    fn inconsistent_ip_lengths_are_refused() {
        type Breaker = fn(&mut Vec<u8>);
        let cases: [(&str, Breaker); 5] = [
            ("IHL 4", |f| f[14] = 0x44),
            ("version 6", |f| f[14] = 0x65),
            ("total below the header", |f| {
                f[16..18].copy_from_slice(&19u16.to_be_bytes())
            }),
            ("total beyond the frame", |f| {
                f[16..18].copy_from_slice(&100u16.to_be_bytes())
            }),
            ("IHL beyond the total", |f| f[14] = 0x4f),
        ];
        for (what, break_it) in cases {
            let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
            break_it(&mut f);
            fix_ip_checksum(&mut f);
            assert_eq!(
                check_client(&ext(), &f),
                Err(DropReason::BadIpLength),
                "{what}"
            );
        }
        let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
        f.truncate(30);
        assert_eq!(check_client(&ext(), &f), Err(DropReason::BadIpLength));
    }

    #[test]
    fn bad_udp_lengths_are_refused() {
        for len in [0u16, 7, 13, 400] {
            let mut f = frame(protocol::UDP, CLIENT, PUBLISHED);
            f[38..40].copy_from_slice(&len.to_be_bytes());
            assert_eq!(
                check_client(&ext(), &f),
                Err(DropReason::BadUdpLength),
                "UDP length {len}"
            );
        }
        // Shorter than the packet is allowed (as Linux does: the rest is trimmed).
        let mut f = frame(protocol::UDP, CLIENT, PUBLISHED);
        f[38..40].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(check_client(&ext(), &f), Ok(()));
        // A first fragment carries only the start of the datagram.
        let mut f = frame(protocol::UDP, CLIENT, PUBLISHED);
        f[38..40].copy_from_slice(&3000u16.to_be_bytes());
        f[20] = 0x20; // MF
        fix_ip_checksum(&mut f);
        assert_eq!(check_client(&ext(), &f), Ok(()));
        // A UDP header cut by the total length.
        let mut f = frame(protocol::UDP, CLIENT, PUBLISHED);
        f[16..18].copy_from_slice(&26u16.to_be_bytes());
        fix_ip_checksum(&mut f);
        assert_eq!(check_client(&ext(), &f), Err(DropReason::BadUdpLength));
    }

    #[test]
    fn bad_tcp_data_offsets_are_refused() {
        for offset in [0u8, 1, 4, 6, 15] {
            let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
            f[46] = offset << 4;
            assert_eq!(
                check_client(&ext(), &f),
                Err(DropReason::BadTcpDataOffset),
                "data offset {offset}"
            );
        }
        // Options inside the segment are fine.
        let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
        f.extend_from_slice(&[1, 1, 1, 0]);
        f[46] = 6 << 4;
        f[16..18].copy_from_slice(&44u16.to_be_bytes());
        fix_ip_checksum(&mut f);
        assert_eq!(check_client(&ext(), &f), Ok(()));
        // A segment shorter than TCP's fixed header.
        let mut f = frame(protocol::TCP, CLIENT, PUBLISHED);
        f[16..18].copy_from_slice(&30u16.to_be_bytes());
        fix_ip_checksum(&mut f);
        assert_eq!(check_client(&ext(), &f), Err(DropReason::BadTcpDataOffset));
    }

    #[test]
    fn later_fragments_have_no_l4_header_to_check() {
        let mut f = frame(protocol::UDP, CLIENT, PUBLISHED);
        f[38..40].copy_from_slice(&0u16.to_be_bytes());
        f[20..22].copy_from_slice(&185u16.to_be_bytes());
        fix_ip_checksum(&mut f);
        assert_eq!(check_client(&ext(), &f), Ok(()));
    }

    #[test]
    fn a_reply_gets_the_header_and_l4_checks() {
        let f = frame(protocol::TCP, [10, 255, 0, 11], [10, 255, 0, 2]);
        assert_eq!(check_packet(&f[14..]), Ok(()));
        let mut bad = f.clone();
        bad[25] ^= 0x40;
        assert_eq!(check_packet(&bad[14..]), Err(DropReason::BadIpChecksum));
        let mut bad = f;
        bad[46] = 0x20;
        assert_eq!(check_packet(&bad[14..]), Err(DropReason::BadTcpDataOffset));
    }
}
