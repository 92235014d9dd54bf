//! `trace.packet`: a frame, as received on a named port, through the pipeline's own
//! code against the live snapshot and tables, changing nothing
//! ([`pipeline::dry_run`](crate::pipeline::dry_run)); its steps and verdict in words
//! for `vxgwctl trace packet`.

use std::net::Ipv4Addr;

use vxgw_api::{
    ApiError, LivePacket, LiveTraceReport, Mac, TraceFilter, TracePacket, TraceProto, TraceReport,
    TraceStart, TraceStep,
};

use super::live::Live;
use crate::pipeline::{
    dry_run, Decision, DryTables, Egress, FilterProto, Headers, Origin, PacketFilter, Step, Target,
};
use crate::runtime::{LiveTraceError, Shared};
use crate::tables::conntrack::Dir;
use crate::tables::fdb::{FdbDest, FdbFilter};
use crate::tables::snapshot::Snapshot;
use crate::wire::ethernet::ethertype;
use crate::wire::udp::UdpPacket;
use crate::wire::vxlan::VxlanHeader;
use crate::wire::{EthernetFrame, Ipv4Packet, MacAddr};

/// The largest frame a trace takes (a jumbo frame and then some).
const MAX_FRAME: usize = 16 * 1024;

/// Answers `trace.packet`.
pub fn trace_packet(
    sh: &Shared,
    live: &Live,
    now: u32,
    a: &TracePacket,
) -> Result<TraceReport, ApiError> {
    let bad = |msg: String| ApiError::InvalidArguments {
        cmd: "trace.packet".into(),
        msg,
    };
    let frame = parse_hex(&a.frame).map_err(bad)?;
    let snap = sh.snap.load();
    let port = live
        .port_id(&a.port)
        .ok_or_else(|| bad(format!("port: no port named '{}'", a.port)))?;
    let run = dry_run(
        &DryTables {
            snap: &snap,
            fdb: &sh.fdb,
            neigh: &sh.neigh,
            mesh: Some((&sh.conntrack, &sh.overlay_neigh)),
            now,
        },
        port,
        &frame,
    );
    let mut steps: Vec<TraceStep> = run
        .steps
        .iter()
        .map(|s| {
            let mut d = describe(&snap, s);
            // The FDB entry's kind and age (asked of the FDB, not the packet path).
            if let Step::Fdb {
                vni,
                mac,
                dest: Some(_),
            } = s
            {
                let e = sh.fdb.entries(&FdbFilter::all().vni(*vni), now);
                if let Some(e) = e.iter().find(|e| e.mac == *mac) {
                    d.detail += &if e.is_static {
                        " (static)".to_string()
                    } else {
                        format!(" (learned, {}s ago)", e.age)
                    };
                }
            }
            d
        })
        .collect();
    if run.recorded > run.steps.len() {
        steps.push(TraceStep {
            step: "...".into(),
            detail: format!("{} more steps not kept", run.recorded - run.steps.len()),
        });
    }
    let (mut verdict, mut drop_reason, mut out) = verdict(sh, &snap, run.decision);
    // What the egress makes of a frame forwarded to one destination.
    match &run.egress {
        Some(Egress::Dropped(r)) => {
            verdict = format!("{verdict}, then dropped at egress: {}", r.name());
            drop_reason = Some(r.name().into());
        }
        Some(Egress::AwaitsNeighbour) => {
            verdict = format!("{verdict}, held while vxgw resolves the next hop");
        }
        Some(Egress::Sent(bytes)) => out.extend(outer_words(bytes)),
        None => {}
    }
    Ok(TraceReport {
        port: a.port.clone(),
        steps,
        verdict,
        drop_reason,
        out,
    })
}

/// Answers `trace.start`: arms the live trace (refused while one runs).
pub fn trace_start(sh: &Shared, live: &Live, a: &TraceStart) -> Result<LiveTraceReport, ApiError> {
    let bad = |msg: String| ApiError::InvalidArguments {
        cmd: "trace.start".into(),
        msg,
    };
    let port = match &a.port {
        None => None,
        Some(name) => Some(
            live.port_id(name)
                .ok_or_else(|| bad(format!("port: no port named '{name}'")))?,
        ),
    };
    let filter = a
        .filter
        .as_ref()
        .map_or_else(PacketFilter::default, packet_filter);
    sh.live_trace
        .start(port, a.count, filter)
        .map_err(|e| match e {
            LiveTraceError::Count => bad(e.to_string()),
            LiveTraceError::Busy { .. } => ApiError::Conflict(e.to_string()),
        })?;
    Ok(live_report(sh))
}

/// Answers `trace.show` (and, after stopping it, `trace.stop`).
pub fn live_report(sh: &Shared) -> LiveTraceReport {
    let snap = sh.snap.load();
    let (armed, port, requested, _) = sh.live_trace.state();
    let filter = sh.live_trace.filter();
    let records = sh.live_trace.records();
    let hz = crate::dpdk::tsc_hz().max(1);
    let t0 = records.iter().map(|r| r.tsc).min().unwrap_or(0);
    LiveTraceReport {
        armed,
        port: port.map(|p| port_name(&snap, p)),
        requested,
        filter: (filter != PacketFilter::default()).then(|| trace_filter(&filter)),
        packets: records
            .iter()
            .map(|r| {
                let (verdict, drop_reason, _) = verdict(sh, &snap, r.decision);
                LivePacket {
                    worker: r.worker,
                    port: port_name(&snap, r.port),
                    t_us: ((r.tsc - t0) as u128 * 1_000_000 / hz as u128) as u64,
                    len: r.len,
                    headers: Headers::parse(&r.head[..usize::from(r.head_len)]).to_string(),
                    steps: r
                        .steps
                        .iter()
                        .flatten()
                        .map(|s| describe(&snap, s))
                        .collect(),
                    verdict,
                    drop_reason,
                }
            })
            .collect(),
    }
}

/// The API's filter as the pipeline asks it.
fn packet_filter(f: &TraceFilter) -> PacketFilter {
    PacketFilter {
        vni: f.vni,
        vlan: f.vlan,
        mac: f.mac.map(|m| MacAddr(m.0)),
        host: f.host,
        port: f.port,
        proto: f.proto.map(|p| match p {
            TraceProto::Tcp => FilterProto::Tcp,
            TraceProto::Udp => FilterProto::Udp,
            TraceProto::Icmp => FilterProto::Icmp,
            TraceProto::Arp => FilterProto::Arp,
        }),
    }
}

/// The pipeline's filter as the API writes it (its `Display` is the filter's text).
pub fn trace_filter(f: &PacketFilter) -> TraceFilter {
    TraceFilter {
        vni: f.vni,
        vlan: f.vlan,
        mac: f.mac.map(|m| Mac(m.0)),
        host: f.host,
        port: f.port,
        proto: f.proto.map(|p| match p {
            FilterProto::Tcp => TraceProto::Tcp,
            FilterProto::Udp => TraceProto::Udp,
            FilterProto::Icmp => TraceProto::Icmp,
            FilterProto::Arp => TraceProto::Arp,
        }),
    }
}

/// Hex digits, with any spaces, colons or newlines between them.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b':' | b'\n' | b'\r' | b'\t'))
        .collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return Err("frame: an even number of hex digits is needed".into());
    }
    if digits.len() / 2 > MAX_FRAME {
        return Err(format!("frame: longer than {MAX_FRAME} bytes"));
    }
    digits
        .chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| "frame: not hex".to_string())
        })
        .collect()
}

fn port_name(snap: &Snapshot, port: u16) -> String {
    snap.port(port)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| format!("port {port}"))
}

fn dest_words(snap: &Snapshot, d: &FdbDest) -> String {
    match d {
        FdbDest::Vtep(ip) => format!("VTEP {ip}"),
        FdbDest::Access { port, vlan: 0 } => format!("{} untagged", port_name(snap, *port)),
        FdbDest::Access { port, vlan } => format!("{} VLAN {vlan}", port_name(snap, *port)),
    }
}

fn describe(snap: &Snapshot, s: &Step) -> TraceStep {
    let (step, detail) = match s {
        Step::Port {
            port,
            underlay,
            access,
            external,
        } => {
            let roles: Vec<&str> = [
                (underlay, "underlay"),
                (access, "access"),
                (external, "external"),
            ]
            .iter()
            .filter(|(on, _)| **on)
            .map(|(_, r)| *r)
            .collect();
            (
                "port",
                format!("{} (roles: {})", port_name(snap, *port), roles.join(", ")),
            )
        }
        Step::Vxlan {
            src,
            vni,
            vtep_known,
            vni_known,
        } => (
            "vxlan",
            format!(
                "from {src} ({}), VNI {vni} ({})",
                if *vtep_known {
                    "a configured VTEP"
                } else {
                    "not in the VTEP list"
                },
                if *vni_known {
                    "configured"
                } else {
                    "not configured"
                }
            ),
        ),
        Step::AccessVlan { vlan, vni } => (
            "access",
            match vni {
                Some(v) => format!("VLAN {vlan} -> VNI {v}"),
                None => format!("VLAN {vlan}: mapped to no VNI"),
            },
        ),
        Step::Learn {
            vni,
            mac,
            dest,
            done,
        } => (
            "learn",
            format!(
                "{mac} in VNI {vni} at {}{}",
                dest_words(snap, dest),
                if *done { "" } else { " (would be learned)" }
            ),
        ),
        Step::Local(what) => ("local", (*what).to_string()),
        Step::Fdb { vni, mac, dest } => (
            "fdb",
            match dest {
                Some(d) => format!("{mac} in VNI {vni}: {}", dest_words(snap, d)),
                None => format!("{mac} in VNI {vni}: unknown (flooded)"),
            },
        ),
        Step::Service(si) => (
            "service",
            snap.services
                .get(*si as usize)
                .map(|s| s.name.clone())
                .unwrap_or_else(|| format!("#{si}")),
        ),
        Step::Conntrack {
            dir,
            state,
            backend,
        } => (
            "conntrack",
            format!(
                "{} key of a tracked connection ({state:?}), backend {backend}",
                match dir {
                    Dir::Original => "the client's",
                    Dir::Reply => "the backend's",
                }
            ),
        ),
        Step::Maglev { hash, slot, size } => (
            "maglev",
            format!("flow hash {hash:#018x}: slot {slot} of {size}"),
        ),
        Step::NewConnection {
            backend,
            snat,
            made,
        } => (
            "new-connection",
            format!(
                "Maglev picks backend {backend}{}{}",
                snat.map(|s| format!(", SNAT source {s}"))
                    .unwrap_or_default(),
                if *made {
                    ""
                } else {
                    " (would be made; the SNAT port is drawn at random)"
                }
            ),
        ),
        Step::Translated { src, dst } => ("translate", format!("{src} -> {dst}")),
    };
    TraceStep {
        step: step.into(),
        detail,
    }
}

/// The outer headers of a VXLAN frame as it would leave, in words (None for a frame
/// that is not VXLAN: one for an access port).
fn outer_words(frame: &[u8]) -> Option<String> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != ethertype::IPV4 {
        return Some(format!("leaves as a {}-byte frame", frame.len()));
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    let vx = VxlanHeader::new_checked(udp.payload()).ok()?;
    Some(format!(
        "outer {} -> {} ({} -> {}), UDP {} -> {}, VNI {}, TTL {}, DSCP {}{}, {} bytes",
        Ipv4Addr::from(ip.src_addr()),
        Ipv4Addr::from(ip.dst_addr()),
        eth.src_addr(),
        eth.dst_addr(),
        udp.src_port(),
        udp.dst_port(),
        vx.vni(),
        ip.ttl(),
        ip.dscp(),
        if ip.dont_frag() { ", DF" } else { "" },
        frame.len()
    ))
}

/// The next hop `ip` and what the neighbour table knows of it.
fn next_hop_words(sh: &Shared, ip: Ipv4Addr) -> String {
    match sh.neigh.lookup(ip) {
        Some(mac) => format!("next hop {ip} at {mac}"),
        None => format!("next hop {ip} unresolved (vxgw would ARP for it and hold the frame)"),
    }
}

fn vtep_words(sh: &Shared, snap: &Snapshot, i: u16) -> String {
    match snap.vteps.get(i as usize) {
        Some(v) => format!("VXLAN to VTEP {}, {}", v.ip, next_hop_words(sh, v.next_hop)),
        None => format!("VTEP #{i}"),
    }
}

fn verdict(sh: &Shared, snap: &Snapshot, d: Decision) -> (String, Option<String>, Vec<String>) {
    let vni_of = |slot: u16| snap.vnis.get(slot as usize).map_or(0, |v| v.vni);
    match d {
        Decision::Drop(r) => (
            format!("dropped: {}", r.name()),
            Some(r.name().into()),
            vec![],
        ),
        Decision::Consumed => ("consumed by vxgw".into(), None, vec![]),
        Decision::Send { port } => (
            format!("answered by vxgw out of {}", port_name(snap, port)),
            None,
            vec![],
        ),
        Decision::Forward { vni, to } => {
            let out = match to {
                Target::Vtep(i) => vtep_words(sh, snap, i),
                Target::Access { port, vlan } => dest_words(snap, &FdbDest::Access { port, vlan }),
            };
            (format!("forwarded in VNI {}", vni_of(vni)), None, vec![out])
        }
        Decision::Flood { vni, from } => {
            let Some(v) = snap.vnis.get(vni as usize) else {
                return ("flooded".into(), None, vec![]);
            };
            let mut out = Vec::new();
            // Split horizon: what came from a VTEP goes to the access members only.
            if !matches!(from, Origin::Vtep(_)) {
                out.extend(v.flood.iter().map(|&i| vtep_words(sh, snap, i)));
            }
            out.extend(
                v.access
                    .iter()
                    .filter(|&&(port, vlan)| from != (Origin::Access { port, vlan }))
                    .map(|&(port, vlan)| dest_words(snap, &FdbDest::Access { port, vlan })),
            );
            (
                format!("flooded in VNI {} ({} copies)", v.vni, out.len()),
                None,
                out,
            )
        }
        Decision::Route { port, next_hop } => (
            format!("routed out of {}", port_name(snap, port)),
            None,
            vec![next_hop_words(sh, next_hop)],
        ),
        Decision::Resolve { vni, ip } => (
            format!("held while vxgw resolves {ip} in VNI {}", vni_of(vni)),
            None,
            vec![],
        ),
        Decision::AwaitFirstFragment { .. } => (
            "held until its datagram's first fragment comes".into(),
            None,
            vec![],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_hex;

    #[test]
    fn hex_takes_separators_and_refuses_the_rest() {
        assert_eq!(parse_hex("ff 00:0a\n0B").unwrap(), [0xff, 0, 0x0a, 0x0b]);
        assert!(parse_hex("").is_err());
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(parse_hex(&"00".repeat(16 * 1024 + 1)).is_err());
    }
}
