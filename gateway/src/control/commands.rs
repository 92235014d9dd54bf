//! The control commands that read or change the running configuration: VNIs, VTEPs,
//! flood lists, access members, static FDB entries, neighbours, ARP suppression
//! entries, and the whole configuration as TOML (`config.show`, `config.apply`).
//!
//! Arguments are checked strictly (unknown keys are errors) before anything happens;
//! every change goes through [`Writer::commit`](super::live::Writer::commit), which
//! validates the whole result, publishes it atomically and saves it.

use std::net::Ipv4Addr;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::config::{
    AccessConfig, ArpEntryConfig, Config, NeighbourConfig, StaticFdbConfig, VniConfig, VtepConfig,
    VNI_MAX,
};
use super::live::{Live, Outcome, Writer};
use crate::tables::fdb::FdbFilter;
use crate::wire::MacAddr;

/// Every command this module answers.
pub const COMMANDS: &[&str] = &[
    "config.show",
    "config.apply",
    "vni.show",
    "vni.add",
    "vni.del",
    "vni.set",
    "vni.flood.add",
    "vni.flood.del",
    "vni.access.add",
    "vni.access.del",
    "vtep.show",
    "vtep.add",
    "vtep.del",
    "fdb.add",
    "fdb.del",
    "fdb.flush",
    "neigh.add",
    "neigh.del",
    "arp.show",
    "arp.add",
    "arp.del",
];

/// Decodes `args` strictly into `T` (unknown keys, wrong types and bad values are errors).
fn args<T: DeserializeOwned>(cmd: &str, a: &Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(a.clone())).map_err(|e| format!("{cmd}: {e}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Id {
    id: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaybeId {
    #[serde(default)]
    id: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdIp {
    id: u32,
    ip: Ipv4Addr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdAccess {
    id: u32,
    port: String,
    #[serde(default)]
    vlan: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ip {
    ip: Ipv4Addr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VniMac {
    vni: u32,
    mac: MacAddr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flush {
    #[serde(default)]
    vni: Option<u32>,
    #[serde(default = "yes")]
    dynamic_only: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Arp {
    vni: u32,
    ip: Ipv4Addr,
    mac: MacAddr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArpDel {
    vni: u32,
    ip: Ipv4Addr,
    #[serde(default)]
    mac: Option<MacAddr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaybeVni {
    #[serde(default)]
    vni: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Apply {
    toml: String,
}

fn unknown_vni(id: u32) -> String {
    if id == 0 || id > VNI_MAX {
        format!("unknown VNI {id} (a VNI is 1-{VNI_MAX})")
    } else {
        format!("unknown VNI {id}")
    }
}

fn vni_mut(cfg: &mut Config, id: u32) -> Result<&mut VniConfig, String> {
    cfg.vnis
        .iter_mut()
        .find(|v| v.id == id)
        .ok_or_else(|| unknown_vni(id))
}

/// Applies `f` to a copy of the running configuration and commits the result.
fn change(
    live: &Live,
    f: impl FnOnce(&mut Config) -> Result<(), String>,
) -> Result<Outcome, String> {
    let mut w = live.writer();
    let mut new = w.config().clone();
    f(&mut new)?;
    w.commit(new)
}

fn done(o: Outcome) -> Result<Value, String> {
    Ok(o.to_json())
}

/// Answers `cmd` if it is one of [`COMMANDS`]; `None` otherwise.
pub fn dispatch(live: &Live, cmd: &str, a: &Map<String, Value>) -> Option<Result<Value, String>> {
    Some(match cmd {
        "config.show" => args::<NoArgs>(cmd, a).map(|_| {
            let cfg = live.config();
            json!({"toml": cfg.to_toml(), "generation": live.snapshot().generation,
                   "state_file": live.state_file().map(|p| p.display().to_string())})
        }),
        "config.apply" => config_apply(live, cmd, a),
        "vni.show" => vni_show(live, cmd, a),
        "vni.add" => args::<VniConfig>(cmd, a).and_then(|v| {
            done(change(live, |c| {
                if c.vnis.iter().any(|o| o.id == v.id) {
                    return Err(format!(
                        "VNI {} already exists (change it with vni.set, vni.flood.*, vni.access.*, arp.*)",
                        v.id
                    ));
                }
                c.vnis.push(v);
                Ok(())
            })?)
        }),
        "vni.del" => args::<Id>(cmd, a).and_then(|Id { id }| {
            // The VNI's static FDB entries go with it.
            done(change(live, |c| {
                let n = c.vnis.len();
                c.vnis.retain(|v| v.id != id);
                if c.vnis.len() == n {
                    return Err(unknown_vni(id));
                }
                c.fdb.retain(|f| f.vni != id);
                Ok(())
            })?)
        }),
        "vni.set" => vni_set(live, cmd, a),
        "vni.flood.add" | "vni.flood.del" => args::<IdIp>(cmd, a).and_then(|IdIp { id, ip }| {
            let add = cmd.ends_with("add");
            done(change(live, |c| {
                let v = vni_mut(c, id)?;
                let there = v.flood.contains(&ip);
                match (add, there) {
                    (true, true) => Err(format!("{ip} is already in the flood list of VNI {id}")),
                    (false, false) => Err(format!("{ip} is not in the flood list of VNI {id}")),
                    (true, false) => {
                        v.flood.push(ip);
                        Ok(())
                    }
                    (false, true) => {
                        v.flood.retain(|x| *x != ip);
                        Ok(())
                    }
                }
            })?)
        }),
        "vni.access.add" | "vni.access.del" => {
            args::<IdAccess>(cmd, a).and_then(|IdAccess { id, port, vlan }| {
                let add = cmd.ends_with("add");
                let m = AccessConfig { port, vlan };
                done(change(live, |c| {
                    if add {
                        if let Some(o) = c.vnis.iter().find(|v| v.access.contains(&m)) {
                            return Err(format!(
                                "port '{}' vlan {} is already mapped to VNI {}",
                                m.port, m.vlan, o.id
                            ));
                        }
                    }
                    let v = vni_mut(c, id)?;
                    let there = v.access.contains(&m);
                    if add {
                        v.access.push(m);
                    } else if there {
                        v.access.retain(|x| *x != m);
                    } else {
                        return Err(format!(
                            "port '{}' vlan {} is not an access member of VNI {id}",
                            m.port, m.vlan
                        ));
                    }
                    Ok(())
                })?)
            })
        }
        "vtep.show" => args::<NoArgs>(cmd, a).map(|_| vtep_show(live)),
        "vtep.add" => args::<Ip>(cmd, a).and_then(|Ip { ip }| {
            done(change(live, |c| {
                if c.vteps.iter().any(|v| v.ip == ip) {
                    return Err(format!("VTEP {ip} already exists"));
                }
                c.vteps.push(VtepConfig { ip });
                Ok(())
            })?)
        }),
        "vtep.del" => args::<Ip>(cmd, a).and_then(|Ip { ip }| {
            // Refused while anything names it: a VTEP disappearing from flood lists
            // or static entries as a side effect would be a silent traffic change.
            done(change(live, |c| {
                if !c.vteps.iter().any(|v| v.ip == ip) {
                    return Err(format!("unknown VTEP {ip}"));
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
                    return Err(format!(
                        "VTEP {ip} is still used by {}; remove it there first (vni.flood.del, fdb.del)",
                        users.join(", ")
                    ));
                }
                c.vteps.retain(|v| v.ip != ip);
                Ok(())
            })?)
        }),
        "fdb.add" => args::<StaticFdbConfig>(cmd, a).and_then(|f| {
            done(change(live, |c| {
                if !c.vnis.iter().any(|v| v.id == f.vni) {
                    return Err(unknown_vni(f.vni));
                }
                // Replaces the destination of an existing static entry.
                match c.fdb.iter_mut().find(|o| o.vni == f.vni && o.mac == f.mac) {
                    Some(o) => *o = f,
                    None => c.fdb.push(f),
                }
                Ok(())
            })?)
        }),
        "fdb.del" => args::<VniMac>(cmd, a).and_then(|VniMac { vni, mac }| fdb_del(live, vni, mac)),
        "fdb.flush" => args::<Flush>(cmd, a).and_then(|f| fdb_flush(live, f)),
        "neigh.add" => args::<NeighbourConfig>(cmd, a).and_then(|n| {
            done(change(live, |c| {
                match c.neighbours.iter_mut().find(|o| o.ip == n.ip) {
                    Some(o) => *o = n,
                    None => c.neighbours.push(n),
                }
                Ok(())
            })?)
        }),
        "neigh.del" => args::<Ip>(cmd, a).and_then(|Ip { ip }| neigh_del(live, ip)),
        "arp.show" => args::<MaybeVni>(cmd, a).and_then(|MaybeVni { vni }| {
            let cfg = live.config();
            if let Some(id) = vni {
                if !cfg.vnis.iter().any(|v| v.id == id) {
                    return Err(unknown_vni(id));
                }
            }
            Ok(Value::Array(
                cfg.vnis
                    .iter()
                    .filter(|v| vni.is_none_or(|id| id == v.id))
                    .flat_map(|v| {
                        v.arp.iter().map(move |e| {
                            json!({"vni": v.id, "ip": e.ip.to_string(), "mac": e.mac.to_string()})
                        })
                    })
                    .collect(),
            ))
        }),
        "arp.add" => args::<Arp>(cmd, a).and_then(|Arp { vni, ip, mac }| {
            done(change(live, |c| {
                let v = vni_mut(c, vni)?;
                match v.arp.iter_mut().find(|e| e.ip == ip) {
                    Some(e) => e.mac = mac,
                    None => v.arp.push(ArpEntryConfig { ip, mac }),
                }
                Ok(())
            })?)
        }),
        "arp.del" => args::<ArpDel>(cmd, a).and_then(|ArpDel { vni, ip, mac }| {
            done(change(live, |c| {
                let v = vni_mut(c, vni)?;
                let n = v.arp.len();
                v.arp
                    .retain(|e| !(e.ip == ip && mac.is_none_or(|m| m == e.mac)));
                if v.arp.len() == n {
                    return Err(format!("no ARP entry for {ip} in VNI {vni}"));
                }
                Ok(())
            })?)
        }),
        _ => return None,
    })
}

fn config_apply(live: &Live, cmd: &str, a: &Map<String, Value>) -> Result<Value, String> {
    let Apply { toml } = args(cmd, a)?;
    let new = Config::parse(&toml).map_err(|errs| {
        format!(
            "the configuration given is invalid; nothing changed: {}",
            errs.join("; ")
        )
    })?;
    let mut w = live.writer();
    if new.ports != w.config().ports {
        return Err(super::live::PORTS_FIXED.into());
    }
    done(w.commit(new)?)
}

fn vni_json(live: &Live, cfg: &Config, v: &VniConfig) -> Value {
    json!({
        "id": v.id,
        "flood": v.flood.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "access": v.access.iter().map(|a| json!({"port": a.port, "vlan": a.vlan})).collect::<Vec<_>>(),
        "learn_limit": v.learn_limit.unwrap_or(cfg.gateway.learn_limit),
        "ageing_secs": v.ageing_secs.unwrap_or(cfg.gateway.ageing_secs),
        "gateway_ip": v.gateway_ip.map(|i| i.to_string()),
        "arp": v.arp.iter().map(|e| json!({"ip": e.ip.to_string(), "mac": e.mac.to_string()})).collect::<Vec<_>>(),
        "fdb_entries": live.fdb().len_vni(v.id),
        "fdb_learned": live.fdb().learned_vni(v.id),
    })
}

fn vni_show(live: &Live, cmd: &str, a: &Map<String, Value>) -> Result<Value, String> {
    let MaybeId { id } = args(cmd, a)?;
    let cfg = live.config();
    match id {
        Some(id) => cfg
            .vnis
            .iter()
            .find(|v| v.id == id)
            .map(|v| Value::Array(vec![vni_json(live, &cfg, v)]))
            .ok_or_else(|| unknown_vni(id)),
        None => Ok(Value::Array(
            cfg.vnis.iter().map(|v| vni_json(live, &cfg, v)).collect(),
        )),
    }
}

/// `vni.set {id, learn_limit?, ageing_secs?, gateway_ip?}`: each key given is set; a
/// null goes back to the default (learn_limit, ageing_secs) or to none (gateway_ip).
fn vni_set(live: &Live, cmd: &str, a: &Map<String, Value>) -> Result<Value, String> {
    for k in a.keys() {
        if !["id", "learn_limit", "ageing_secs", "gateway_ip"].contains(&k.as_str()) {
            return Err(format!(
                "{cmd}: unknown field `{k}`, expected one of `id`, `learn_limit`, `ageing_secs`, `gateway_ip`"
            ));
        }
    }
    let Id { id } = args(
        cmd,
        &a.iter()
            .filter(|(k, _)| *k == "id")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )?;
    if a.len() == 1 {
        return Err(format!(
            "{cmd}: nothing to set (give learn_limit, ageing_secs or gateway_ip)"
        ));
    }
    fn field<T: DeserializeOwned>(
        a: &Map<String, Value>,
        k: &str,
    ) -> Result<Option<Option<T>>, String> {
        match a.get(k) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => serde_json::from_value(v.clone())
                .map(|x| Some(Some(x)))
                .map_err(|e| format!("vni.set: {k}: {e}")),
        }
    }
    let learn_limit = field::<u32>(a, "learn_limit")?;
    let ageing_secs = field::<u32>(a, "ageing_secs")?;
    let gateway_ip = field::<Ipv4Addr>(a, "gateway_ip")?;
    done(change(live, |c| {
        let v = vni_mut(c, id)?;
        if let Some(x) = learn_limit {
            v.learn_limit = x;
        }
        if let Some(x) = ageing_secs {
            v.ageing_secs = x;
        }
        if let Some(x) = gateway_ip {
            v.gateway_ip = x;
        }
        Ok(())
    })?)
}

fn vtep_show(live: &Live) -> Value {
    let cfg = live.config();
    let snap = live.snapshot();
    Value::Array(
        cfg.vteps
            .iter()
            .map(|t| {
                let next_hop = snap
                    .vtep_slot(t.ip)
                    .map(|i| snap.vteps[i as usize].next_hop)
                    .unwrap_or(t.ip);
                json!({
                    "ip": t.ip.to_string(),
                    "next_hop": next_hop.to_string(),
                    "next_hop_mac": live.neigh().lookup(next_hop).map(|m| m.to_string()),
                    "flood_vnis": cfg.vnis.iter().filter(|v| v.flood.contains(&t.ip)).map(|v| v.id).collect::<Vec<_>>(),
                    "static_fdb": cfg.fdb.iter().filter(|f| f.vtep == Some(t.ip)).count(),
                })
            })
            .collect(),
    )
}

/// Deletes a static entry (from the running configuration and the FDB) or forgets a
/// learned one.
fn fdb_del(live: &Live, vni: u32, mac: MacAddr) -> Result<Value, String> {
    let mut w: Writer = live.writer();
    if !w.config().vnis.iter().any(|v| v.id == vni) {
        return Err(unknown_vni(vni));
    }
    if w.config().fdb.iter().any(|f| f.vni == vni && f.mac == mac) {
        let mut new = w.config().clone();
        new.fdb.retain(|f| !(f.vni == vni && f.mac == mac));
        let o = w.commit(new)?;
        let mut v = o.to_json();
        v["removed"] = json!("static");
        return Ok(v);
    }
    match w.live().fdb().lookup_hit(vni, mac) {
        Some(h) if !h.is_static => {
            w.live().fdb().remove(vni, mac);
            Ok(
                json!({"removed": "dynamic", "generation": w.live().snapshot().generation, "changes": []}),
            )
        }
        _ => Err(format!("no FDB entry for {mac} in VNI {vni}")),
    }
}

/// Flushes learned entries (of one VNI or all); with `dynamic_only: false`, static
/// entries too, which leaves the running configuration.
fn fdb_flush(live: &Live, f: Flush) -> Result<Value, String> {
    let mut w = live.writer();
    if let Some(id) = f.vni {
        if !w.config().vnis.iter().any(|v| v.id == id) {
            return Err(unknown_vni(id));
        }
    }
    let mut out = if f.dynamic_only {
        json!({"generation": w.live().snapshot().generation, "changes": []})
    } else {
        let mut new = w.config().clone();
        new.fdb.retain(|e| f.vni.is_some_and(|id| id != e.vni));
        w.commit(new)?.to_json()
    };
    let mut filter = FdbFilter::all().dynamic_only();
    if let Some(id) = f.vni {
        filter = filter.vni(id);
    }
    out["flushed"] = json!(w.live().fdb().flush(&filter));
    Ok(out)
}

/// Deletes a static neighbour (from the running configuration; the entry is
/// invalidated, ARP resolves it again) or forgets a learned one.
fn neigh_del(live: &Live, ip: Ipv4Addr) -> Result<Value, String> {
    let mut w = live.writer();
    if w.config().neighbours.iter().any(|n| n.ip == ip) {
        let mut new = w.config().clone();
        new.neighbours.retain(|n| n.ip != ip);
        let mut v = w.commit(new)?.to_json();
        v["removed"] = json!("static");
        return Ok(v);
    }
    if w.live().neigh().lookup(ip).is_some() {
        w.live().neigh().invalidate(ip);
        return Ok(
            json!({"removed": "dynamic", "generation": w.live().snapshot().generation, "changes": []}),
        );
    }
    Err(format!("no neighbour {ip}"))
}
