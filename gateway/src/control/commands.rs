//! The control commands that read or change the running configuration: VNIs, VTEPs,
//! flood lists, access members, static FDB entries, neighbours, ARP suppression
//! entries, and the whole configuration as TOML (`config.show`, `config.apply`).
//!
//! Arguments are checked strictly (unknown keys are errors) before anything happens;
//! every change goes through [`Writer::commit`](super::live::Writer::commit), which
//! validates the whole result, publishes it atomically and saves it.

use std::net::Ipv4Addr;

use vxgw_api::{
    AccessMember, Answer, ApiError, ArpEntryRow, ArpRow, ChangeOutcome, ConfigShown, Removed,
    Request, VniRow, VtepRow,
};

use super::config::{
    AccessConfig, ArpEntryConfig, Config, NeighbourConfig, StaticFdbConfig, VniConfig, VtepConfig,
    VNI_MAX,
};
use super::live::{Live, Outcome, Writer};
use crate::tables::fdb::FdbFilter;
use crate::wire::MacAddr;

/// The protocol's MAC as the gateway's.
pub(super) fn mac(m: vxgw_api::Mac) -> MacAddr {
    MacAddr(m.0)
}

/// The gateway's MAC as the protocol's.
pub(super) fn api_mac(m: MacAddr) -> vxgw_api::Mac {
    vxgw_api::Mac(m.0)
}

fn unknown_vni(id: u32) -> ApiError {
    ApiError::NotFound(if id == 0 || id > VNI_MAX {
        format!("unknown VNI {id} (a VNI is 1-{VNI_MAX})")
    } else {
        format!("unknown VNI {id}")
    })
}

fn conflict(msg: String) -> ApiError {
    ApiError::Conflict(msg)
}

fn vni_mut(cfg: &mut Config, id: u32) -> Result<&mut VniConfig, ApiError> {
    cfg.vnis
        .iter_mut()
        .find(|v| v.id == id)
        .ok_or_else(|| unknown_vni(id))
}

/// Applies `f` to a copy of the running configuration and commits the result (which
/// validates the whole of it).
fn change(
    live: &Live,
    f: impl FnOnce(&mut Config) -> Result<(), ApiError>,
) -> Result<Outcome, ApiError> {
    let mut w = live.writer();
    let mut new = w.config().clone();
    f(&mut new)?;
    w.commit(new)
}

fn done(o: Outcome) -> Result<Answer, ApiError> {
    Ok(Answer::Change(o.to_reply()))
}

/// What a change that published nothing answers (a learned entry forgotten).
fn unpublished(live: &Live) -> ChangeOutcome {
    ChangeOutcome {
        generation: live.snapshot().generation,
        ..ChangeOutcome::default()
    }
}

/// The `[[vni]]` a `vni.add` describes.
fn vni_config(v: vxgw_api::VniAdd) -> VniConfig {
    VniConfig {
        id: v.id,
        flood: v.flood,
        access: v
            .access
            .into_iter()
            .map(|a| AccessConfig {
                port: a.port,
                vlan: a.vlan,
            })
            .collect(),
        learn_limit: v.learn_limit,
        ageing_secs: v.ageing_secs,
        gateway_ip: v.gateway_ip,
        arp: v
            .arp
            .into_iter()
            .map(|e| ArpEntryConfig {
                ip: e.ip,
                mac: mac(e.mac),
            })
            .collect(),
        managed_by: v.managed_by,
    }
}

/// String-in, string-out dispatch for the unit tests: the request as the socket
/// would get it.
#[cfg(test)]
pub(crate) fn dispatch(
    live: &Live,
    cmd: &str,
    a: &serde_json::Map<String, serde_json::Value>,
) -> Option<Result<serde_json::Value, String>> {
    let line = serde_json::json!({"v": 1, "cmd": cmd, "args": a}).to_string();
    match vxgw_api::parse_request(&line) {
        Ok(r) => answer(live, &r).map(|r| r.map(|a| a.to_value()).map_err(|e| e.to_string())),
        Err(e) => Some(Err(e.to_string())),
    }
}

/// Answers `req` if it is one of this module's commands; `None` otherwise.
pub fn answer(live: &Live, req: &Request) -> Option<Result<Answer, ApiError>> {
    let req = req.clone();
    Some(match req {
        Request::ConfigShow(_) => {
            let cfg = live.config();
            Ok(Answer::Config(ConfigShown {
                toml: cfg.to_toml(),
                generation: live.snapshot().generation,
                state_file: live.state_file().map(|p| p.display().to_string()),
            }))
        }
        Request::ConfigApply(a) => config_apply(live, &a.toml),
        Request::VniShow(a) => vni_show(live, a.id),
        Request::VniAdd(v) => {
            let v = vni_config(v);
            change(live, |c| {
                if c.vnis.iter().any(|o| o.id == v.id) {
                    return Err(conflict(format!(
                        "VNI {} already exists (change it with vni.set, vni.flood.*, vni.access.*, arp.*)",
                        v.id
                    )));
                }
                c.vnis.push(v);
                Ok(())
            })
            .and_then(done)
        }
        Request::VniDel(vxgw_api::Id { id }) => {
            // The VNI's static FDB entries go with it.
            change(live, |c| {
                let n = c.vnis.len();
                c.vnis.retain(|v| v.id != id);
                if c.vnis.len() == n {
                    return Err(unknown_vni(id));
                }
                c.fdb.retain(|f| f.vni != id);
                Ok(())
            })
            .and_then(done)
        }
        Request::VniSet(a) => vni_set(live, a),
        Request::VniFloodAdd(vxgw_api::IdIp { id, ip })
        | Request::VniFloodDel(vxgw_api::IdIp { id, ip }) => {
            let add = matches!(req, Request::VniFloodAdd(_));
            change(live, |c| {
                let v = vni_mut(c, id)?;
                let there = v.flood.contains(&ip);
                match (add, there) {
                    (true, true) => Err(conflict(format!(
                        "{ip} is already in the flood list of VNI {id}"
                    ))),
                    (false, false) => Err(ApiError::NotFound(format!(
                        "{ip} is not in the flood list of VNI {id}"
                    ))),
                    (true, false) => {
                        v.flood.push(ip);
                        Ok(())
                    }
                    (false, true) => {
                        v.flood.retain(|x| *x != ip);
                        Ok(())
                    }
                }
            })
            .and_then(done)
        }
        Request::VniAccessAdd(vxgw_api::IdAccess { id, ref port, vlan })
        | Request::VniAccessDel(vxgw_api::IdAccess { id, ref port, vlan }) => {
            let add = matches!(req, Request::VniAccessAdd(_));
            let m = AccessConfig {
                port: port.clone(),
                vlan,
            };
            change(live, |c| {
                if add {
                    if let Some(o) = c.vnis.iter().find(|v| v.access.contains(&m)) {
                        return Err(conflict(format!(
                            "port '{}' vlan {} is already mapped to VNI {}",
                            m.port, m.vlan, o.id
                        )));
                    }
                }
                let v = vni_mut(c, id)?;
                let there = v.access.contains(&m);
                if add {
                    v.access.push(m);
                } else if there {
                    v.access.retain(|x| *x != m);
                } else {
                    return Err(ApiError::NotFound(format!(
                        "port '{}' vlan {} is not an access member of VNI {id}",
                        m.port, m.vlan
                    )));
                }
                Ok(())
            })
            .and_then(done)
        }
        Request::VtepShow(_) => Ok(Answer::Vteps(vtep_show(live))),
        Request::VtepAdd(vxgw_api::Ip { ip }) => change(live, |c| {
            if c.vteps.iter().any(|v| v.ip == ip) {
                return Err(conflict(format!("VTEP {ip} already exists")));
            }
            c.vteps.push(VtepConfig { ip });
            Ok(())
        })
        .and_then(done),
        Request::VtepDel(vxgw_api::Ip { ip }) => {
            // Refused while anything names it: a VTEP disappearing from flood lists
            // or static entries as a side effect would be a silent traffic change.
            change(live, |c| {
                if !c.vteps.iter().any(|v| v.ip == ip) {
                    return Err(ApiError::NotFound(format!("unknown VTEP {ip}")));
                }
                let mut users: Vec<String> = c
                    .vnis
                    .iter()
                    .filter(|v| v.flood.contains(&ip))
                    .map(|v| format!("the flood list of VNI {}", v.id))
                    .collect();
                users.extend(
                    c.fdb
                        .iter()
                        .filter(|f| f.vtep == Some(ip))
                        .map(|f| format!("static FDB entry {} in VNI {}", f.mac, f.vni)),
                );
                if !users.is_empty() {
                    return Err(conflict(format!(
                        "VTEP {ip} is still used by {}; remove it there first (vni.flood.del, fdb.del)",
                        users.join(", ")
                    )));
                }
                c.vteps.retain(|v| v.ip != ip);
                Ok(())
            })
            .and_then(done)
        }
        Request::FdbAdd(f) => {
            let f = StaticFdbConfig {
                vni: f.vni,
                mac: mac(f.mac),
                vtep: f.vtep,
                port: f.port,
                vlan: f.vlan.unwrap_or(0),
            };
            change(live, |c| {
                if !c.vnis.iter().any(|v| v.id == f.vni) {
                    return Err(unknown_vni(f.vni));
                }
                // Replaces the destination of an existing static entry.
                match c.fdb.iter_mut().find(|o| o.vni == f.vni && o.mac == f.mac) {
                    Some(o) => *o = f,
                    None => c.fdb.push(f),
                }
                Ok(())
            })
            .and_then(done)
        }
        Request::FdbDel(a) => fdb_del(live, a.vni, mac(a.mac)),
        Request::FdbFlush(f) => fdb_flush(live, f.vni, f.dynamic_only),
        Request::NeighAdd(n) => {
            let n = NeighbourConfig {
                ip: n.ip,
                mac: mac(n.mac),
            };
            change(live, |c| {
                match c.neighbours.iter_mut().find(|o| o.ip == n.ip) {
                    Some(o) => *o = n,
                    None => c.neighbours.push(n),
                }
                Ok(())
            })
            .and_then(done)
        }
        Request::NeighDel(vxgw_api::Ip { ip }) => neigh_del(live, ip),
        Request::ArpShow(vxgw_api::MaybeVni { vni }) => {
            let cfg = live.config();
            if let Some(id) = vni {
                if !cfg.vnis.iter().any(|v| v.id == id) {
                    return Some(Err(unknown_vni(id)));
                }
            }
            Ok(Answer::Arp(
                cfg.vnis
                    .iter()
                    .filter(|v| vni.is_none_or(|id| id == v.id))
                    .flat_map(|v| {
                        v.arp.iter().map(move |e| ArpRow {
                            vni: v.id,
                            ip: e.ip,
                            mac: api_mac(e.mac),
                        })
                    })
                    .collect(),
            ))
        }
        Request::ArpAdd(vxgw_api::ArpAdd { vni, ip, mac: m }) => {
            let m = mac(m);
            change(live, |c| {
                let v = vni_mut(c, vni)?;
                match v.arp.iter_mut().find(|e| e.ip == ip) {
                    Some(e) => e.mac = m,
                    None => v.arp.push(ArpEntryConfig { ip, mac: m }),
                }
                Ok(())
            })
            .and_then(done)
        }
        Request::ArpDel(vxgw_api::ArpDel { vni, ip, mac: m }) => {
            let m = m.map(mac);
            change(live, |c| {
                let v = vni_mut(c, vni)?;
                let n = v.arp.len();
                v.arp
                    .retain(|e| !(e.ip == ip && m.is_none_or(|m| m == e.mac)));
                if v.arp.len() == n {
                    return Err(ApiError::NotFound(format!(
                        "no ARP entry for {ip} in VNI {vni}"
                    )));
                }
                Ok(())
            })
            .and_then(done)
        }
        _ => return None,
    })
}

fn config_apply(live: &Live, toml: &str) -> Result<Answer, ApiError> {
    let new = Config::parse(toml).map_err(|errs| {
        ApiError::InvalidConfig(vec![format!(
            "the configuration given is invalid; nothing changed: {}",
            errs.join("; ")
        )])
    })?;
    let mut w = live.writer();
    if new.ports != w.config().ports {
        return Err(conflict(super::live::PORTS_FIXED.into()));
    }
    done(w.commit(new)?)
}

fn vni_row(live: &Live, cfg: &Config, v: &VniConfig) -> VniRow {
    VniRow {
        id: v.id,
        flood: v.flood.clone(),
        access: v
            .access
            .iter()
            .map(|a| AccessMember {
                port: a.port.clone(),
                vlan: a.vlan,
            })
            .collect(),
        learn_limit: v.learn_limit.unwrap_or(cfg.gateway.learn_limit),
        ageing_secs: v.ageing_secs.unwrap_or(cfg.gateway.ageing_secs),
        gateway_ip: v.gateway_ip,
        arp: v
            .arp
            .iter()
            .map(|e| ArpEntryRow {
                ip: e.ip,
                mac: api_mac(e.mac),
            })
            .collect(),
        fdb_entries: live.fdb().len_vni(v.id),
        fdb_learned: live.fdb().learned_vni(v.id),
        managed_by: v.managed_by.clone(),
    }
}

fn vni_show(live: &Live, id: Option<u32>) -> Result<Answer, ApiError> {
    let cfg = live.config();
    let rows = match id {
        Some(id) => vec![cfg
            .vnis
            .iter()
            .find(|v| v.id == id)
            .map(|v| vni_row(live, &cfg, v))
            .ok_or_else(|| unknown_vni(id))?],
        None => cfg.vnis.iter().map(|v| vni_row(live, &cfg, v)).collect(),
    };
    Ok(Answer::Vnis(rows))
}

/// `vni.set {id, learn_limit?, ageing_secs?, gateway_ip?}`: each key given is set; a
/// null goes back to the default (learn_limit, ageing_secs) or to none (gateway_ip).
fn vni_set(live: &Live, a: vxgw_api::VniSet) -> Result<Answer, ApiError> {
    if a.learn_limit.is_none() && a.ageing_secs.is_none() && a.gateway_ip.is_none() {
        return Err(ApiError::InvalidArguments {
            cmd: "vni.set".into(),
            msg: "nothing to set (give learn_limit, ageing_secs or gateway_ip)".into(),
        });
    }
    change(live, |c| {
        let v = vni_mut(c, a.id)?;
        if let Some(x) = a.learn_limit {
            v.learn_limit = x;
        }
        if let Some(x) = a.ageing_secs {
            v.ageing_secs = x;
        }
        if let Some(x) = a.gateway_ip {
            v.gateway_ip = x;
        }
        Ok(())
    })
    .and_then(done)
}

fn vtep_show(live: &Live) -> Vec<VtepRow> {
    let cfg = live.config();
    let snap = live.snapshot();
    cfg.vteps
        .iter()
        .map(|t| {
            let next_hop = snap
                .vtep_slot(t.ip)
                .map(|i| snap.vteps[i as usize].next_hop)
                .unwrap_or(t.ip);
            VtepRow {
                ip: t.ip,
                next_hop,
                next_hop_mac: live.neigh().lookup(next_hop).map(api_mac),
                flood_vnis: cfg
                    .vnis
                    .iter()
                    .filter(|v| v.flood.contains(&t.ip))
                    .map(|v| v.id)
                    .collect(),
                static_fdb: cfg.fdb.iter().filter(|f| f.vtep == Some(t.ip)).count(),
            }
        })
        .collect()
}

/// Deletes a static entry (from the running configuration and the FDB) or forgets a
/// learned one.
fn fdb_del(live: &Live, vni: u32, mac: MacAddr) -> Result<Answer, ApiError> {
    let mut w: Writer = live.writer();
    if !w.config().vnis.iter().any(|v| v.id == vni) {
        return Err(unknown_vni(vni));
    }
    if w.config().fdb.iter().any(|f| f.vni == vni && f.mac == mac) {
        let mut new = w.config().clone();
        new.fdb.retain(|f| !(f.vni == vni && f.mac == mac));
        return Ok(Answer::Change(ChangeOutcome {
            removed: Some(Removed::Static),
            ..w.commit(new)?.to_reply()
        }));
    }
    match w.live().fdb().lookup_hit(vni, mac) {
        Some(h) if !h.is_static => {
            w.live().fdb().remove(vni, mac);
            Ok(Answer::Change(ChangeOutcome {
                removed: Some(Removed::Dynamic),
                ..unpublished(w.live())
            }))
        }
        _ => Err(ApiError::NotFound(format!(
            "no FDB entry for {mac} in VNI {vni}"
        ))),
    }
}

/// Flushes learned entries (of one VNI or all); with `dynamic_only: false`, static
/// entries too, which leaves the running configuration.
fn fdb_flush(live: &Live, vni: Option<u32>, dynamic_only: bool) -> Result<Answer, ApiError> {
    let mut w = live.writer();
    if let Some(id) = vni {
        if !w.config().vnis.iter().any(|v| v.id == id) {
            return Err(unknown_vni(id));
        }
    }
    let out = if dynamic_only {
        unpublished(w.live())
    } else {
        let mut new = w.config().clone();
        new.fdb.retain(|e| vni.is_some_and(|id| id != e.vni));
        w.commit(new)?.to_reply()
    };
    let mut filter = FdbFilter::all().dynamic_only();
    if let Some(id) = vni {
        filter = filter.vni(id);
    }
    Ok(Answer::Change(ChangeOutcome {
        flushed: Some(w.live().fdb().flush(&filter)),
        ..out
    }))
}

/// Deletes a static neighbour (from the running configuration; the entry is
/// invalidated, ARP resolves it again) or forgets a learned one.
fn neigh_del(live: &Live, ip: Ipv4Addr) -> Result<Answer, ApiError> {
    let mut w = live.writer();
    if w.config().neighbours.iter().any(|n| n.ip == ip) {
        let mut new = w.config().clone();
        new.neighbours.retain(|n| n.ip != ip);
        return Ok(Answer::Change(ChangeOutcome {
            removed: Some(Removed::Static),
            ..w.commit(new)?.to_reply()
        }));
    }
    if w.live().neigh().lookup(ip).is_some() {
        w.live().neigh().invalidate(ip);
        return Ok(Answer::Change(ChangeOutcome {
            removed: Some(Removed::Dynamic),
            ..unpublished(w.live())
        }));
    }
    Err(ApiError::NotFound(format!("no neighbour {ip}")))
}
