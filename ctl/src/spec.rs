//! A packet described in a line, for `vxgwctl trace packet --spec`: layers from the
//! outside in, separated by `/`, built with etherparse (checksums and lengths right).
//!
//! ```text
//! eth src=02:00:00:00:00:01 dst=02:42:0a:ff:00:0b / ipv4 src=10.255.0.100 dst=10.255.0.11 / tcp 1234>80 syn
//! eth dst=02:70:63:61:70:00 / ipv4 src=172.30.0.11 dst=172.30.0.1 / udp 50000>4789 / vxlan 4096 / eth ... / ipv4 ... / udp 53>53
//! ```
//!
//! `eth [src=MAC] [dst=MAC] [vlan=N]` (defaults: 02:00:00:00:00:01, broadcast, no tag);
//! `ipv4 src=IP dst=IP [ttl=N]` (TTL 64); `tcp S>D [syn] [ack] [fin] [rst] [psh]`;
//! `udp S>D`; `vxlan VNI` followed by the inner frame's layers. A payload of
//! `len=N` zero bytes may end the `tcp` or `udp` layer.

use std::net::Ipv4Addr;

use etherparse::PacketBuilder;

/// One layer, parsed.
enum Layer {
    Eth {
        src: [u8; 6],
        dst: [u8; 6],
        vlan: Option<u16>,
    },
    Ipv4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
    },
    Tcp {
        sport: u16,
        dport: u16,
        flags: Vec<String>,
        len: usize,
    },
    Udp {
        sport: u16,
        dport: u16,
        len: usize,
    },
    Vxlan(u32),
}

/// The frame `spec` describes.
pub(crate) fn build(spec: &str) -> Result<Vec<u8>, String> {
    let layers = spec
        .split('/')
        .map(|l| parse_layer(l.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    build_frame(&layers)
}

fn parse_layer(text: &str) -> Result<Layer, String> {
    let mut words = text.split_whitespace();
    let kind = words.next().ok_or("an empty layer")?;
    let rest: Vec<&str> = words.collect();
    let kv = |key: &str| {
        rest.iter()
            .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    };
    let ports = |w: Option<&&str>| -> Result<(u16, u16), String> {
        let w = w.ok_or(format!("{kind}: SPORT>DPORT is missing"))?;
        let (s, d) = w
            .split_once('>')
            .ok_or(format!("{kind}: '{w}' is not SPORT>DPORT"))?;
        Ok((
            s.parse().map_err(|_| format!("{kind}: bad port '{s}'"))?,
            d.parse().map_err(|_| format!("{kind}: bad port '{d}'"))?,
        ))
    };
    let len = || -> Result<usize, String> {
        kv("len").map_or(Ok(0), |v| {
            v.parse().map_err(|_| format!("{kind}: bad len '{v}'"))
        })
    };
    Ok(match kind {
        "eth" => Layer::Eth {
            src: kv("src").map_or(Ok([2, 0, 0, 0, 0, 1]), mac)?,
            dst: kv("dst").map_or(Ok([0xff; 6]), mac)?,
            vlan: kv("vlan")
                .map(|v| v.parse::<u16>().ok().filter(|v| *v <= 4094))
                .map(|v| v.ok_or("eth: vlan must be 0-4094".to_string()))
                .transpose()?,
        },
        "ipv4" => Layer::Ipv4 {
            src: ip(kv("src").ok_or("ipv4: src= is missing")?)?,
            dst: ip(kv("dst").ok_or("ipv4: dst= is missing")?)?,
            ttl: kv("ttl").map_or(Ok(64), |v| {
                v.parse().map_err(|_| format!("ipv4: bad ttl '{v}'"))
            })?,
        },
        "tcp" => {
            let (sport, dport) = ports(rest.first())?;
            let flags: Vec<String> = rest[1..]
                .iter()
                .filter(|w| !w.contains('='))
                .map(|w| w.to_string())
                .collect();
            if let Some(f) = flags
                .iter()
                .find(|f| !["syn", "ack", "fin", "rst", "psh"].contains(&f.as_str()))
            {
                return Err(format!("tcp: unknown flag '{f}'"));
            }
            Layer::Tcp {
                sport,
                dport,
                flags,
                len: len()?,
            }
        }
        "udp" => {
            let (sport, dport) = ports(rest.first())?;
            Layer::Udp {
                sport,
                dport,
                len: len()?,
            }
        }
        "vxlan" => Layer::Vxlan(
            rest.first()
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0 && *v < 1 << 24)
                .ok_or("vxlan: a VNI 1-16777215 is needed")?,
        ),
        other => {
            return Err(format!(
                "unknown layer '{other}' (eth, ipv4, tcp, udp, vxlan)"
            ))
        }
    })
}

fn mac(text: &str) -> Result<[u8; 6], String> {
    let b: Vec<u8> = text
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bad MAC '{text}'"))?;
    b.try_into().map_err(|_| format!("bad MAC '{text}'"))
}

fn ip(text: &str) -> Result<Ipv4Addr, String> {
    text.parse()
        .map_err(|_| format!("bad IPv4 address '{text}'"))
}

/// eth / ipv4 / (tcp | udp [/ vxlan VNI / inner...]), built from the inside out.
fn build_frame(layers: &[Layer]) -> Result<Vec<u8>, String> {
    let [Layer::Eth { src, dst, vlan }, Layer::Ipv4 {
        src: s,
        dst: d,
        ttl,
    }, l4, inner @ ..] = layers
    else {
        return Err(
            "a frame is eth / ipv4 / tcp|udp (then, for VXLAN: vxlan VNI / eth ...)".into(),
        );
    };
    let eth = PacketBuilder::ethernet2(*src, *dst);
    let mut out = Vec::new();
    macro_rules! finish {
        ($ip:expr) => {
            match l4 {
                Layer::Tcp {
                    sport,
                    dport,
                    flags,
                    len,
                } => {
                    if !inner.is_empty() {
                        return Err("nothing goes after a tcp layer".into());
                    }
                    let mut b = $ip.tcp(*sport, *dport, 1000, 64240);
                    for f in flags {
                        b = match f.as_str() {
                            "syn" => b.syn(),
                            "ack" => b.ack(1),
                            "fin" => b.fin(),
                            "rst" => b.rst(),
                            _ => b.psh(),
                        };
                    }
                    b.write(&mut out, &vec![0; *len])
                        .map_err(|e| e.to_string())?;
                }
                Layer::Udp { sport, dport, len } => {
                    let payload = match inner {
                        [] => vec![0; *len],
                        [Layer::Vxlan(vni), frame @ ..] => {
                            let mut p = vec![0x08, 0, 0, 0];
                            p.extend_from_slice(&(vni << 8).to_be_bytes());
                            p.extend(build_frame(frame)?);
                            p
                        }
                        _ => return Err("after udp, only vxlan VNI / eth ...".into()),
                    };
                    $ip.udp(*sport, *dport)
                        .write(&mut out, &payload)
                        .map_err(|e| e.to_string())?;
                }
                _ => return Err("the third layer is tcp or udp".into()),
            }
        };
    }
    match vlan {
        Some(v) => finish!(eth
            .single_vlan((*v).try_into().map_err(|_| "bad VLAN")?)
            .ipv4(s.octets(), d.octets(), *ttl)),
        None => finish!(eth.ipv4(s.octets(), d.octets(), *ttl)),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::build;

    #[test]
    fn a_spec_builds_the_frame_it_says() {
        let f = build("eth src=02:00:00:00:00:01 dst=02:42:0a:ff:00:0b / ipv4 src=10.0.0.1 dst=10.0.0.2 / tcp 1234>80 syn")
            .unwrap();
        assert_eq!(&f[..6], &[2, 0x42, 0x0a, 0xff, 0, 0x0b]);
        assert_eq!(&f[12..14], &[8, 0], "IPv4");
        assert_eq!(f[23], 6, "TCP");
        assert_eq!(u16::from_be_bytes([f[34], f[35]]), 1234);
        assert_eq!(f[47] & 0x12, 0x02, "SYN alone");
        let tagged =
            build("eth vlan=100 / ipv4 src=10.0.0.1 dst=10.0.0.2 / udp 53>53 len=4").unwrap();
        assert_eq!(&tagged[12..16], &[0x81, 0, 0, 100]);
        assert_eq!(tagged.len(), 18 + 20 + 8 + 4);
        let vx = build("eth / ipv4 src=172.30.0.11 dst=172.30.0.1 / udp 5000>4789 / vxlan 4096 / eth dst=02:00:00:00:00:09 / ipv4 src=10.0.0.1 dst=10.0.0.2 / udp 1>2")
            .unwrap();
        assert_eq!(&vx[42..50], &[8, 0, 0, 0, 0, 0x10, 0, 0], "VXLAN, VNI 4096");
        assert_eq!(&vx[50..56], &[2, 0, 0, 0, 0, 9], "the inner frame");
        for bad in [
            "",
            "eth / tcp 1>2",
            "eth / ipv4 src=1.2.3.4 / tcp 1>2",
            "eth / ipv4 src=1.2.3.4 dst=1.2.3.5 / tcp 1-2",
            "eth / ipv4 src=1.2.3.4 dst=1.2.3.5 / tcp 1>2 urg",
            "eth vlan=5000 / ipv4 src=1.2.3.4 dst=1.2.3.5 / udp 1>2",
            "eth / ipv4 src=1.2.3.4 dst=1.2.3.5 / udp 1>2 / vxlan 0 / eth",
        ] {
            assert!(build(bad).is_err(), "{bad}");
        }
    }
}
