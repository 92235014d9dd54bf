//! What a live trace records, and how it names a packet: the headers of a frame (and,
//! for VXLAN, of its inner frame) read leniently from its first bytes, a filter over
//! them (`vxgwctl trace live --filter "vni 4097 and host 10.0.1.5 and tcp port 80"`),
//! and a one-line summary as `show trace` prints it.
//!
//! Off the packet path: a worker asks this only for packets of an armed live trace.

use std::fmt;
use std::net::Ipv4Addr;

use super::trace::Step;
use crate::wire::ethernet::{ethertype, HEADER_LEN as ETH_LEN};
use crate::wire::ipv4::protocol;
use crate::wire::vlan::parse_l2;
use crate::wire::vxlan::{VXLAN_HEADER_LEN, VXLAN_PORT};
use crate::wire::{EthernetFrame, Ipv4Packet, TcpPacket, UdpPacket, VxlanHeader};
use crate::wire::{MacAddr, WireError};

/// Shortest IPv4 header, TCP header and UDP header.
const IPV4_MIN: usize = 20;
const TCP_MIN: usize = 20;
const UDP_LEN: usize = 8;

/// A transport a filter can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterProto {
    /// IPv4 / TCP.
    Tcp,
    /// IPv4 / UDP.
    Udp,
    /// IPv4 / ICMP.
    Icmp,
    /// ARP.
    Arp,
}

/// Which packets a live trace records: every field given must match. Header fields
/// match one layer of the frame (its own headers, or a VXLAN frame's inner frame);
/// `vni` matches the VNI the pipeline put the packet in (the VXLAN header's, or the
/// access VLAN's), read from the packet's trace. The default matches everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketFilter {
    /// The VNI the packet is bridged or routed in.
    pub vni: Option<u32>,
    /// An 802.1Q VLAN id on the layer.
    pub vlan: Option<u16>,
    /// Source or destination MAC.
    pub mac: Option<MacAddr>,
    /// Source or destination IPv4 address.
    pub host: Option<Ipv4Addr>,
    /// TCP or UDP source or destination port.
    pub port: Option<u16>,
    /// The transport.
    pub proto: Option<FilterProto>,
}

impl PacketFilter {
    /// True when the frame's headers (outer, or a VXLAN frame's inner ones) match
    /// every header field of the filter: asked before the pipeline changes the frame.
    pub fn headers_match(&self, frame: &[u8]) -> bool {
        let h = Headers::parse(frame);
        self.layer_matches(&h.outer) || h.inner.is_some_and(|(_, l)| self.layer_matches(&l))
    }

    /// True when the packet's VNI, as its trace shows it, is the one asked for (or
    /// none is asked for): asked after the pipeline.
    pub fn vni_matches<'s>(&self, steps: impl IntoIterator<Item = &'s Option<Step>>) -> bool {
        let Some(want) = self.vni else { return true };
        steps.into_iter().flatten().any(|s| match *s {
            Step::Vxlan { vni, .. } => vni == want,
            Step::AccessVlan { vni, .. } => vni == Some(want),
            _ => false,
        })
    }

    fn layer_matches(&self, l: &Layer) -> bool {
        let ip = l.ip.as_ref();
        self.vlan.is_none_or(|v| l.vlan == Some(v))
            && self.mac.is_none_or(|m| l.src_mac == m || l.dst_mac == m)
            && self
                .host
                .is_none_or(|a| ip.is_some_and(|ip| ip.src == a || ip.dst == a))
            && self
                .port
                .is_none_or(|p| l.ports.is_some_and(|(s, d)| s == p || d == p))
            && self.proto.is_none_or(|want| match want {
                FilterProto::Arp => l.ethertype == ethertype::ARP,
                FilterProto::Tcp => ip.is_some_and(|ip| ip.proto == protocol::TCP),
                FilterProto::Udp => ip.is_some_and(|ip| ip.proto == protocol::UDP),
                FilterProto::Icmp => ip.is_some_and(|ip| ip.proto == protocol::ICMP),
            })
    }
}

/// One layer's headers: Ethernet (and a tag), IPv4, TCP/UDP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layer {
    /// Source MAC.
    pub src_mac: MacAddr,
    /// Destination MAC.
    pub dst_mac: MacAddr,
    /// The 802.1Q VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// The EtherType after any tag.
    pub ethertype: u16,
    /// The IPv4 header, if there is one.
    pub ip: Option<IpHeader>,
    /// TCP or UDP (source, destination) ports.
    pub ports: Option<(u16, u16)>,
    /// TCP flags.
    pub tcp_flags: Option<u8>,
}

/// The IPv4 fields a trace names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHeader {
    /// Source.
    pub src: Ipv4Addr,
    /// Destination.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub proto: u8,
    /// A fragment (not the first, or more to come).
    pub fragment: bool,
}

/// A frame's layers: its own, and a VXLAN frame's VNI and inner frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers {
    /// The frame's own headers.
    pub outer: Layer,
    /// A VXLAN frame's VNI and inner headers.
    pub inner: Option<(u32, Layer)>,
    /// The frame was shorter than its Ethernet header.
    pub runt: bool,
}

impl Headers {
    /// Reads what it can: a truncated or malformed layer ends the reading there
    /// (`frame` may be the first bytes of a longer frame).
    pub fn parse(frame: &[u8]) -> Headers {
        let (outer, udp_payload) = Layer::parse(frame).unwrap_or((EMPTY_LAYER, None));
        let inner = udp_payload.and_then(|(dst_port, payload)| {
            if dst_port != VXLAN_PORT || payload.len() < VXLAN_HEADER_LEN + ETH_LEN {
                return None;
            }
            let vni = VxlanHeader::new_checked(payload).ok()?.vni();
            let (l, _) = Layer::parse(&payload[VXLAN_HEADER_LEN..]).ok()?;
            Some((vni, l))
        });
        Headers {
            outer,
            inner,
            runt: frame.len() < ETH_LEN,
        }
    }
}

const EMPTY_LAYER: Layer = Layer {
    src_mac: MacAddr::ZERO,
    dst_mac: MacAddr::ZERO,
    vlan: None,
    ethertype: 0,
    ip: None,
    ports: None,
    tcp_flags: None,
};

/// A UDP datagram's destination port and payload.
type UdpPayload<'a> = Option<(u16, &'a [u8])>;

impl Layer {
    fn parse(frame: &[u8]) -> Result<(Layer, UdpPayload<'_>), WireError> {
        let l2 = parse_l2(frame)?;
        let eth = EthernetFrame::new_checked(frame)?;
        let mut l = Layer {
            src_mac: eth.src_addr(),
            dst_mac: eth.dst_addr(),
            vlan: l2.vid(),
            ethertype: l2.ethertype,
            ..EMPTY_LAYER
        };
        let b = &frame[l2.l3_offset..];
        if l.ethertype != ethertype::IPV4 || b.len() < IPV4_MIN {
            return Ok((l, None));
        }
        let ip = Ipv4Packet::new_unchecked(b);
        let hl = ip.header_len();
        if ip.version() != 4 || hl < IPV4_MIN || b.len() < hl {
            return Ok((l, None));
        }
        l.ip = Some(IpHeader {
            src: ip.src_ipv4(),
            dst: ip.dst_ipv4(),
            proto: ip.protocol(),
            fragment: ip.is_fragment(),
        });
        let l4 = &b[hl..];
        if ip.frag_offset() != 0 {
            return Ok((l, None));
        }
        let mut udp = None;
        match ip.protocol() {
            protocol::TCP if l4.len() >= TCP_MIN => {
                let t = TcpPacket::new_unchecked(l4);
                l.ports = Some((t.src_port(), t.dst_port()));
                l.tcp_flags = Some(t.flags());
            }
            protocol::UDP if l4.len() >= UDP_LEN => {
                let u = UdpPacket::new_unchecked(l4);
                l.ports = Some((u.src_port(), u.dst_port()));
                udp = Some((u.dst_port(), &l4[UDP_LEN..]));
            }
            _ => {}
        }
        Ok((l, udp))
    }
}

impl fmt::Display for Layer {
    /// `02:..:01 > 02:..:02 vlan 100 10.0.0.1:1234 > 10.0.1.5:80 tcp [S]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} > {}", self.src_mac, self.dst_mac)?;
        if let Some(v) = self.vlan {
            write!(f, " vlan {v}")?;
        }
        let Some(ip) = self.ip else {
            return match self.ethertype {
                ethertype::ARP => write!(f, " arp"),
                t => write!(f, " ethertype 0x{t:04x}"),
            };
        };
        let proto = match ip.proto {
            protocol::TCP => "tcp".to_string(),
            protocol::UDP => "udp".to_string(),
            protocol::ICMP => "icmp".to_string(),
            p => format!("proto {p}"),
        };
        match self.ports {
            Some((s, d)) => write!(f, " {}:{s} > {}:{d} {proto}", ip.src, ip.dst)?,
            None => write!(f, " {} > {} {proto}", ip.src, ip.dst)?,
        }
        if let Some(flags) = self.tcp_flags {
            write!(f, " [{}]", tcp_flag_letters(flags))?;
        }
        if ip.fragment {
            write!(f, " fragment")?;
        }
        Ok(())
    }
}

impl fmt::Display for Headers {
    /// One layer, or `outer | vxlan VNI | inner`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.runt {
            return write!(f, "runt frame");
        }
        write!(f, "{}", self.outer)?;
        if let Some((vni, inner)) = &self.inner {
            write!(f, " | vxlan {vni} | {inner}")?;
        }
        Ok(())
    }
}

/// tcpdump's letters: S F R P . (ACK) U.
fn tcp_flag_letters(flags: u8) -> String {
    use crate::wire::tcp::flags as tf;
    [
        (tf::SYN, 'S'),
        (tf::FIN, 'F'),
        (tf::RST, 'R'),
        (tf::PSH, 'P'),
        (tf::ACK, '.'),
        (tf::URG, 'U'),
    ]
    .iter()
    .filter(|(bit, _)| flags & bit != 0)
    .map(|&(_, c)| c)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

    fn tcp_frame(vlan: Option<u16>, src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let eth = PacketBuilder::ethernet2(MAC_A, MAC_B);
        match vlan {
            Some(v) => eth
                .single_vlan(v.try_into().unwrap())
                .ipv4(src, dst, 64)
                .tcp(sp, dp, 1, 1000)
                .syn()
                .write(&mut out, &[]),
            None => eth
                .ipv4(src, dst, 64)
                .tcp(sp, dp, 1, 1000)
                .syn()
                .write(&mut out, &[]),
        }
        .unwrap();
        out
    }

    fn vxlan(vni: u32, inner: &[u8]) -> Vec<u8> {
        let mut payload = vec![0x08, 0, 0, 0];
        payload.extend_from_slice(&(vni << 8).to_be_bytes());
        payload.extend_from_slice(inner);
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 1, 1], [2, 0, 0, 0, 1, 2])
            .ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64)
            .udp(50000, VXLAN_PORT)
            .write(&mut out, &payload)
            .unwrap();
        out
    }

    fn filter(f: impl FnOnce(&mut PacketFilter)) -> PacketFilter {
        let mut p = PacketFilter::default();
        f(&mut p);
        p
    }

    #[test]
    fn header_fields_match_the_frame_or_the_vxlan_inner_frame() {
        let plain = tcp_frame(None, [10, 0, 0, 1], [10, 0, 1, 5], 1234, 80);
        let tagged = tcp_frame(Some(100), [10, 0, 0, 1], [10, 0, 1, 5], 1234, 80);
        let tunnelled = vxlan(4097, &plain);
        let host = filter(|f| f.host = Some(Ipv4Addr::new(10, 0, 1, 5)));
        let vtep = filter(|f| f.host = Some(Ipv4Addr::new(192, 168, 0, 2)));
        let web = filter(|f| {
            f.proto = Some(FilterProto::Tcp);
            f.port = Some(80);
        });
        let other_port = filter(|f| f.port = Some(443));
        let vlan100 = filter(|f| f.vlan = Some(100));
        let mac = filter(|f| f.mac = Some(MacAddr(MAC_B)));
        let arp = filter(|f| f.proto = Some(FilterProto::Arp));
        for frame in [&plain, &tagged, &tunnelled] {
            assert!(PacketFilter::default().headers_match(frame));
            assert!(host.headers_match(frame));
            assert!(web.headers_match(frame));
            assert!(mac.headers_match(frame));
            assert!(!other_port.headers_match(frame));
            assert!(!arp.headers_match(frame));
        }
        assert!(vtep.headers_match(&tunnelled) && !vtep.headers_match(&plain));
        assert!(vlan100.headers_match(&tagged) && !vlan100.headers_match(&plain));
        // Fields match within one layer: the outer UDP port with the inner host is no match.
        let mixed = filter(|f| {
            f.host = Some(Ipv4Addr::new(10, 0, 1, 5));
            f.port = Some(VXLAN_PORT);
        });
        assert!(!mixed.headers_match(&tunnelled));
        assert!(!host.headers_match(&[0u8; 10]), "a runt matches no host");
    }

    #[test]
    fn the_vni_is_read_from_the_packets_trace() {
        let f = filter(|f| f.vni = Some(4097));
        let via_vxlan = [Some(Step::Vxlan {
            src: Ipv4Addr::new(192, 168, 0, 1),
            vni: 4097,
            vtep_known: true,
            vni_known: true,
        })];
        let via_vlan = [Some(Step::AccessVlan {
            vlan: 100,
            vni: Some(4097),
        })];
        let unmapped = [Some(Step::AccessVlan {
            vlan: 100,
            vni: None,
        })];
        assert!(f.vni_matches(&via_vxlan) && f.vni_matches(&via_vlan));
        assert!(!f.vni_matches(&unmapped) && !f.vni_matches(&[None]));
        assert!(PacketFilter::default().vni_matches(&unmapped));
    }

    #[test]
    fn a_summary_names_both_layers_and_survives_a_cut_frame() {
        let inner = tcp_frame(Some(100), [10, 0, 0, 1], [10, 0, 1, 5], 1234, 80);
        let f = vxlan(4097, &inner);
        let s = Headers::parse(&f).to_string();
        assert_eq!(
            s,
            "02:00:00:00:01:01 > 02:00:00:00:01:02 192.168.0.1:50000 > 192.168.0.2:4789 udp \
             | vxlan 4097 | 02:00:00:00:00:0a > 02:00:00:00:00:0b vlan 100 \
             10.0.0.1:1234 > 10.0.1.5:80 tcp [S]"
        );
        // Every prefix parses without a panic, and names what it holds.
        for n in 0..f.len() {
            let _ = Headers::parse(&f[..n]).to_string();
        }
        assert_eq!(Headers::parse(&f[..5]).to_string(), "runt frame");
    }
}
