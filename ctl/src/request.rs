//! Mapping a parsed command to the typed `vxgw_api::Request` it sends: vxgw_api
//! serializes it, so nothing here writes JSON by hand. Values were checked by the
//! parsers in `args.rs`; what can still fail here (reading `config apply`'s file) is
//! a usage error.

use vxgw_api::{self as api, Mac, Request};

use crate::args::{
    AccessCmd, ArpCmd, BackendCmd, Cmd, ConfigCmd, ConntrackCmd, CtFilterArgs, FdbCmd, FloodCmd,
    NeighCmd, OrDefault, OrNone, ServiceCmd, TraceCmd, VniCmd, VtepCmd,
};

/// The protocol's MAC from a string `parse_mac` accepted.
fn mac(s: &str) -> Result<Mac, String> {
    s.parse().map_err(|e: api::ApiError| e.to_string())
}

/// The request for a command, typed: vxgw_api serializes it (nothing here writes
/// JSON by hand). Reading a file can fail (usage error).
pub(crate) fn request(cmd: &Cmd) -> Result<Request, String> {
    let access = |(p, v): &(String, u16)| api::Access {
        port: p.clone(),
        vlan: *v,
    };
    let ct = |f: &CtFilterArgs| api::CtFilter {
        service: f.service.clone(),
        client: f.client,
        backend: f.backend,
        state: f.state.clone(),
    };
    let none = api::NoArgs {};
    Ok(match cmd {
        Cmd::Status => Request::Status(none),
        Cmd::Stats => Request::Stats(none),
        Cmd::Vni { action } => match action {
            VniCmd::Show { id } => Request::VniShow(api::MaybeId { id: *id }),
            VniCmd::Add {
                id,
                flood,
                access: acc,
                learn_limit,
                ageing,
                gateway_ip,
                arp,
                managed_by,
            } => Request::VniAdd(api::VniAdd {
                id: *id,
                flood: flood.clone(),
                access: acc.iter().map(access).collect(),
                learn_limit: *learn_limit,
                ageing_secs: *ageing,
                gateway_ip: *gateway_ip,
                arp: arp
                    .iter()
                    .map(|(ip, m)| {
                        Ok(api::ArpEntry {
                            ip: *ip,
                            mac: mac(m)?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
                managed_by: managed_by.clone(),
            }),
            VniCmd::Del { id } => Request::VniDel(api::Id { id: *id }),
            VniCmd::Set {
                id,
                learn_limit,
                ageing,
                gateway_ip,
            } => Request::VniSet(api::VniSet {
                id: *id,
                learn_limit: learn_limit.map(|OrDefault(n)| n),
                ageing_secs: ageing.map(|OrDefault(n)| n),
                gateway_ip: gateway_ip.map(|OrNone(ip)| ip),
            }),
            VniCmd::Flood { action } => match action {
                FloodCmd::Add { id, ip } => Request::VniFloodAdd(api::IdIp { id: *id, ip: *ip }),
                FloodCmd::Del { id, ip } => Request::VniFloodDel(api::IdIp { id: *id, ip: *ip }),
            },
            VniCmd::Access { action } => match action {
                AccessCmd::Add { id, member } => Request::VniAccessAdd(api::IdAccess {
                    id: *id,
                    port: member.0.clone(),
                    vlan: member.1,
                }),
                AccessCmd::Del { id, member } => Request::VniAccessDel(api::IdAccess {
                    id: *id,
                    port: member.0.clone(),
                    vlan: member.1,
                }),
            },
        },
        Cmd::Vtep { action } => match action {
            VtepCmd::Show => Request::VtepShow(none),
            VtepCmd::Add { ip } => Request::VtepAdd(api::Ip { ip: *ip }),
            VtepCmd::Del { ip } => Request::VtepDel(api::Ip { ip: *ip }),
        },
        Cmd::Fdb { action } => match action {
            FdbCmd::Show { vni, mac: m } => Request::FdbShow(api::FdbShow {
                vni: *vni,
                mac: m.as_deref().map(mac).transpose()?,
            }),
            FdbCmd::Add {
                vni,
                mac: m,
                vtep,
                port,
                vlan,
            } => Request::FdbAdd(api::FdbAdd {
                vni: *vni,
                mac: mac(m)?,
                vtep: *vtep,
                port: port.clone(),
                vlan: port.as_ref().map(|_| vlan.unwrap_or(0)),
            }),
            FdbCmd::Del { vni, mac: m } => Request::FdbDel(api::VniMac {
                vni: *vni,
                mac: mac(m)?,
            }),
            FdbCmd::Flush { vni, all } => Request::FdbFlush(api::FdbFlush {
                vni: *vni,
                dynamic_only: !all,
            }),
        },
        Cmd::Neigh { action } => match action {
            NeighCmd::Show => Request::NeighShow(none),
            NeighCmd::Add { ip, mac: m } => Request::NeighAdd(api::NeighAdd {
                ip: *ip,
                mac: mac(m)?,
            }),
            NeighCmd::Del { ip } => Request::NeighDel(api::Ip { ip: *ip }),
        },
        Cmd::Arp { action } => match action {
            ArpCmd::Show { vni } => Request::ArpShow(api::MaybeVni { vni: *vni }),
            ArpCmd::Add { vni, ip, mac: m } => Request::ArpAdd(api::ArpAdd {
                vni: *vni,
                ip: *ip,
                mac: mac(m)?,
            }),
            ArpCmd::Del { vni, ip } => Request::ArpDel(api::ArpDel {
                vni: *vni,
                ip: *ip,
                mac: None,
            }),
        },
        Cmd::Config { action } => match action {
            ConfigCmd::Show => Request::ConfigShow(none),
            ConfigCmd::Apply { file } => {
                let toml = std::fs::read_to_string(file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                Request::ConfigApply(api::ConfigApply { toml })
            }
        },
        Cmd::Service { action } => match action {
            ServiceCmd::Show { name } => {
                Request::ServiceShow(api::MaybeName { name: name.clone() })
            }
            ServiceCmd::Add {
                name,
                proto,
                port,
                ip,
                vni,
                ingress,
                target_port,
                mode,
                backend,
                maglev_size,
                new_connection_rate,
                managed_by,
            } => Request::ServiceAdd(api::ServiceAdd {
                name: name.clone(),
                // clap admits only these names.
                protocol: match proto.as_str() {
                    "udp" => api::Proto::Udp,
                    _ => api::Proto::Tcp,
                },
                published_ip: *ip,
                published_port: *port,
                vni: *vni,
                ingress_ip: *ingress,
                target_port: *target_port,
                mode: mode.as_deref().map(|m| match m {
                    "preserve" => api::Mode::Preserve,
                    _ => api::Mode::Snat,
                }),
                maglev_size: *maglev_size,
                timeouts: None,
                managed_by: managed_by.clone(),
                backends: backend
                    .iter()
                    .map(|&(ip, weight)| api::Backend { ip, weight })
                    .collect(),
                new_connection_rate: *new_connection_rate,
            }),
            ServiceCmd::Del { name } => Request::ServiceDel(api::Name { name: name.clone() }),
        },
        Cmd::Backend { action } => match action {
            BackendCmd::Add {
                service,
                ip,
                weight,
            } => Request::BackendAdd(api::BackendAdd {
                service: service.clone(),
                ip: *ip,
                weight: *weight,
            }),
            BackendCmd::Del { service, ip } => Request::BackendDel(api::BackendRef {
                service: service.clone(),
                ip: *ip,
            }),
            BackendCmd::Drain { service, ip } => Request::BackendDrain(api::BackendRef {
                service: service.clone(),
                ip: *ip,
            }),
            BackendCmd::Set {
                service,
                ip,
                weight,
            } => Request::BackendSet(api::BackendSet {
                service: service.clone(),
                ip: *ip,
                weight: *weight,
            }),
        },
        Cmd::Trace { action } => match action {
            TraceCmd::Packet {
                port,
                hex,
                spec,
                pcap,
                index,
            } => Request::TracePacket(api::TracePacket {
                port: port.clone(),
                frame: match (hex, spec, pcap) {
                    (Some(h), _, _) => h.clone(),
                    (None, Some(s), _) => crate::spec::build(s)
                        .map_err(|e| format!("trace packet --spec: {e}"))?
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                    (None, None, Some(file)) => pcap_frame_hex(file, *index)?,
                    (None, None, None) => {
                        return Err("trace packet: --hex, --spec or --pcap".into())
                    }
                },
            }),
            TraceCmd::Live { what, .. } | TraceCmd::Start { what } => {
                Request::TraceStart(api::TraceStart {
                    count: what.count,
                    port: what.port.clone(),
                    filter: what.filter.clone(),
                })
            }
            TraceCmd::Show => Request::TraceShow(none),
            TraceCmd::Stop => Request::TraceStop(none),
        },
        Cmd::Conntrack { action } => match action {
            ConntrackCmd::Show { filter, limit } => {
                let f = ct(filter);
                Request::ConntrackShow(api::CtShow {
                    service: f.service,
                    client: f.client,
                    backend: f.backend,
                    state: f.state,
                    limit: limit.map(|n| n as usize),
                })
            }
            ConntrackCmd::Count { filter } => Request::ConntrackCount(ct(filter)),
            ConntrackCmd::Flush { filter, all } => {
                let f = ct(filter);
                Request::ConntrackFlush(api::CtFlush {
                    service: f.service,
                    client: f.client,
                    backend: f.backend,
                    state: f.state,
                    all: *all,
                })
            }
        },
    })
}

/// Frame `index` (from 1) of the pcap file `file`, in hex.
fn pcap_frame_hex(file: &std::path::Path, index: u64) -> Result<String, String> {
    let f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut r = pcap_file::pcap::PcapReader::new(f)
        .map_err(|e| format!("{}: not a pcap file: {e}", file.display()))?;
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        let p = p.map_err(|e| format!("{}: {e}", file.display()))?;
        n += 1;
        if n == index {
            return Ok(p.data.iter().map(|b| format!("{b:02x}")).collect());
        }
    }
    Err(format!("{}: {n} frames, no frame {index}", file.display()))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
