//! The control commands of the routing mesh: published services, their backends,
//! and the connection table.
//!
//! - `service.show {name?}`, `service.add {ServiceConfig}`, `service.del {name}`
//! - `backend.add {service, ip, weight?}`, `backend.del {service, ip}`,
//!   `backend.set {service, ip, weight}`, `backend.drain {service, ip}` (weight 0: no
//!   new flows, existing ones continue)
//! - `conntrack.show {service?, client?, backend?, state?, limit?}`,
//!   `conntrack.count {filters}`, `conntrack.flush {filters | all: true}`
//!
//! As in [`super::commands`], arguments are strict (unknown keys are errors) and every
//! configuration change goes through [`Writer::commit`](super::live::Writer::commit):
//! validated whole, published atomically, saved; a refused request changes nothing.
//! Removing a service or a backend removes its connections (the commit does that and
//! reports `connections_removed`).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use vxgw_api::{
    Answer, ApiError, BackendRow, BackendState, ConnectionCount, ConnectionRow, ConnectionsRemoved,
    Mode, Proto, Request, ServiceRef, ServiceRow, TimeoutsShown,
};

use super::config::{BackendConfig, Config, NatMode, Protocol, ServiceConfig, ServiceTimeouts};
use super::live::{Live, Outcome};
use crate::tables::conntrack::{CtEntry, CtFilter, CtState};
use crate::tables::maglev::DEFAULT_TABLE_SIZE;
use crate::tables::snapshot::Snapshot;

/// Connections `conntrack.show` lists when no limit is given.
pub const DEFAULT_LIMIT: usize = 1000;

/// The filters every conntrack command takes.
#[derive(Default)]
struct CtFilters {
    service: Option<String>,
    client: Option<Ipv4Addr>,
    backend: Option<Ipv4Addr>,
    state: Option<String>,
}

fn unknown_service(name: &str) -> ApiError {
    ApiError::NotFound(format!("unknown service '{name}'"))
}

fn service_mut<'a>(cfg: &'a mut Config, name: &str) -> Result<&'a mut ServiceConfig, ApiError> {
    cfg.services
        .iter_mut()
        .find(|s| s.name == name)
        .ok_or_else(|| unknown_service(name))
}

fn backend_mut(sv: &mut ServiceConfig, ip: Ipv4Addr) -> Result<&mut BackendConfig, ApiError> {
    let name = sv.name.clone();
    sv.backends
        .iter_mut()
        .find(|b| b.ip == ip)
        .ok_or_else(|| ApiError::NotFound(format!("backend {ip} is not in service '{name}'")))
}

/// Validation names services by index (`service[2].vni: ...`); answers name them.
fn name_services(e: ApiError, names: &[String]) -> ApiError {
    let rename = |mut e: String| {
        for (i, n) in names.iter().enumerate() {
            e = e
                .replace(&format!("service[{i}]."), &format!("service '{n}' "))
                .replace(&format!("service[{i}]:"), &format!("service '{n}':"));
        }
        e
    };
    match e {
        ApiError::InvalidConfig(errs) => {
            ApiError::InvalidConfig(errs.into_iter().map(rename).collect())
        }
        e => e,
    }
}

/// Applies `f` to a copy of the running configuration and commits the result.
fn change(
    live: &Live,
    f: impl FnOnce(&mut Config) -> Result<(), ApiError>,
) -> Result<Answer, ApiError> {
    let mut w = live.writer();
    let mut new = w.config().clone();
    f(&mut new)?;
    let names: Vec<String> = new.services.iter().map(|s| s.name.clone()).collect();
    w.commit(new)
        .map(|o: Outcome| Answer::Change(o.to_reply()))
        .map_err(|e| name_services(e, &names))
}

/// The `[[service]]` a `service.add` describes.
fn service_config(s: vxgw_api::ServiceAdd) -> ServiceConfig {
    let t = s.timeouts.unwrap_or(vxgw_api::Timeouts {
        syn: None,
        established: None,
        closing: None,
        udp: None,
        udp_replied: None,
    });
    ServiceConfig {
        name: s.name,
        protocol: match s.protocol {
            vxgw_api::Proto::Tcp => Protocol::Tcp,
            vxgw_api::Proto::Udp => Protocol::Udp,
        },
        published_ip: s.published_ip,
        published_port: s.published_port,
        vni: s.vni,
        ingress_ip: s.ingress_ip,
        target_port: s.target_port,
        mode: match s.mode {
            None | Some(vxgw_api::Mode::Snat) => NatMode::Snat,
            Some(vxgw_api::Mode::Preserve) => NatMode::Preserve,
        },
        maglev_size: s.maglev_size,
        timeouts: ServiceTimeouts {
            syn: t.syn,
            established: t.established,
            closing: t.closing,
            udp: t.udp,
            udp_replied: t.udp_replied,
        },
        backends: s
            .backends
            .into_iter()
            .map(|b| BackendConfig {
                ip: b.ip,
                weight: b.weight.unwrap_or(1),
            })
            .collect(),
        new_connection_rate: s.new_connection_rate,
        managed_by: s.managed_by,
    }
}

/// String-in, string-out dispatch for the unit tests: the request as the socket
/// would get it.
#[cfg(test)]
pub(crate) fn dispatch(
    live: &Live,
    now: u32,
    cmd: &str,
    a: &serde_json::Map<String, serde_json::Value>,
) -> Option<Result<serde_json::Value, String>> {
    let line = serde_json::json!({"v": 1, "cmd": cmd, "args": a}).to_string();
    match vxgw_api::parse_request(&line) {
        Ok(r) => answer(live, now, &r).map(|r| r.map(|a| a.to_value()).map_err(|e| e.to_string())),
        Err(e) => Some(Err(e.to_string())),
    }
}

/// Answers `req` if it is one of this module's commands; `None` otherwise. `now` is
/// the gateway's coarse clock (seconds), for the idle times of connections.
pub fn answer(live: &Live, now: u32, req: &Request) -> Option<Result<Answer, ApiError>> {
    Some(match req.clone() {
        Request::ServiceShow(a) => service_show(live, now, a.name),
        Request::ServiceAdd(sv) => {
            let sv = service_config(sv);
            change(live, |c| {
                if c.services.iter().any(|o| o.name == sv.name) {
                    return Err(ApiError::Conflict(format!(
                        "service '{}' already exists",
                        sv.name
                    )));
                }
                c.services.push(sv);
                Ok(())
            })
        }
        Request::ServiceDel(vxgw_api::Name { name }) => change(live, |c| {
            let n = c.services.len();
            c.services.retain(|s| s.name != name);
            if c.services.len() == n {
                return Err(unknown_service(&name));
            }
            Ok(())
        }),
        Request::BackendAdd(b) => change(live, |c| {
            let sv = service_mut(c, &b.service)?;
            if sv.backends.iter().any(|o| o.ip == b.ip) {
                return Err(ApiError::Conflict(format!(
                    "backend {} is already in service '{}' (change its weight with backend.set)",
                    b.ip, b.service
                )));
            }
            if b.ip == sv.ingress_ip {
                return Err(ApiError::Conflict(format!(
                    "backend {} is the ingress endpoint of service '{}'",
                    b.ip, b.service
                )));
            }
            sv.backends.push(BackendConfig {
                ip: b.ip,
                weight: b.weight.unwrap_or(1),
            });
            Ok(())
        }),
        Request::BackendDel(vxgw_api::BackendRef { service, ip }) => change(live, |c| {
            let sv = service_mut(c, &service)?;
            backend_mut(sv, ip)?;
            sv.backends.retain(|b| b.ip != ip);
            Ok(())
        }),
        Request::BackendSet(b) => change(live, |c| {
            backend_mut(service_mut(c, &b.service)?, b.ip)?.weight = b.weight;
            Ok(())
        }),
        Request::BackendDrain(vxgw_api::BackendRef { service, ip }) => change(live, |c| {
            backend_mut(service_mut(c, &service)?, ip)?.weight = 0;
            Ok(())
        }),
        Request::ConntrackShow(s) => {
            let f = CtFilters {
                service: s.service,
                client: s.client,
                backend: s.backend,
                state: s.state,
            };
            conntrack_show(live, now, &f, s.limit.unwrap_or(DEFAULT_LIMIT))
        }
        Request::ConntrackCount(f) => conntrack_count(
            live,
            now,
            &CtFilters {
                service: f.service,
                client: f.client,
                backend: f.backend,
                state: f.state,
            },
        ),
        Request::ConntrackFlush(f) => {
            let all = f.all;
            let f = CtFilters {
                service: f.service,
                client: f.client,
                backend: f.backend,
                state: f.state,
            };
            let filtered = f.service.is_some()
                || f.client.is_some()
                || f.backend.is_some()
                || f.state.is_some();
            let bad = |msg: &str| ApiError::InvalidArguments {
                cmd: "conntrack.flush".into(),
                msg: msg.into(),
            };
            match (filtered, all) {
                (false, false) => Err(bad(
                    "give a filter (service, client, backend, state), or all: true to remove every connection",
                )),
                (true, true) => Err(bad(
                    "all: true removes every connection; give either filters or all, not both",
                )),
                _ => conntrack_flush(live, &f),
            }
        }
        _ => return None,
    })
}

fn api_proto(p: Protocol) -> Proto {
    match p {
        Protocol::Tcp => Proto::Tcp,
        Protocol::Udp => Proto::Udp,
    }
}

fn api_mode(m: NatMode) -> Mode {
    match m {
        NatMode::Snat => Mode::Snat,
        NatMode::Preserve => Mode::Preserve,
    }
}

/// Live connections per (service id, backend id) under `filter`.
fn conn_counts(live: &Live, filter: &CtFilter, now: u32) -> HashMap<(u32, u32), usize> {
    let mut m = HashMap::new();
    if let Some(ct) = live.conntrack() {
        for e in ct.entries(filter, now) {
            *m.entry((e.conn.service, e.conn.backend_id)).or_insert(0) += 1;
        }
    }
    m
}

/// Service ids and backend slots by name and address, from a published snapshot
/// (copied out: a snapshot held long would delay the grace period of a commit).
type Ids = HashMap<String, (u32, HashMap<Ipv4Addr, u32>)>;

fn ids_of(snap: &Snapshot) -> Ids {
    snap.services
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                (v.id, v.backends.iter().map(|b| (b.ip, b.slot)).collect()),
            )
        })
        .collect()
}

fn service_show(live: &Live, now: u32, name: Option<String>) -> Result<Answer, ApiError> {
    // The configuration and the snapshot it published, read together.
    let (cfg, ids) = {
        let w = live.writer();
        (w.config().clone(), ids_of(&w.live().snapshot()))
    };
    let services: Vec<&ServiceConfig> = match &name {
        Some(n) => vec![cfg
            .services
            .iter()
            .find(|s| &s.name == n)
            .ok_or_else(|| unknown_service(n))?],
        None => cfg.services.iter().collect(),
    };
    let filter = match name.as_ref().and_then(|n| ids.get(n)) {
        Some(&(id, _)) => CtFilter::all().service(id),
        None => CtFilter::all(),
    };
    let counts = conn_counts(live, &filter, now);
    Ok(Answer::Services(
        services
            .into_iter()
            .map(|sv| service_row(sv, ids.get(&sv.name), &counts))
            .collect(),
    ))
}

fn service_row(
    sv: &ServiceConfig,
    ids: Option<&(u32, HashMap<Ipv4Addr, u32>)>,
    counts: &HashMap<(u32, u32), usize>,
) -> ServiceRow {
    let id = ids.map(|&(id, _)| id);
    let total: usize = id.map_or(0, |id| {
        counts
            .iter()
            .filter(|((s, _), _)| *s == id)
            .map(|(_, n)| n)
            .sum()
    });
    let backends: Vec<BackendRow> = sv
        .backends
        .iter()
        .map(|b| {
            let conns = ids
                .and_then(|(id, slots)| counts.get(&(*id, *slots.get(&b.ip)?)))
                .copied()
                .unwrap_or(0);
            BackendRow {
                ip: b.ip,
                weight: b.weight,
                state: if b.weight == 0 {
                    BackendState::Drained
                } else {
                    BackendState::Active
                },
                connections: conns,
            }
        })
        .collect();
    let t = &sv.timeouts;
    ServiceRow {
        name: sv.name.clone(),
        id,
        protocol: api_proto(sv.protocol),
        published_ip: sv.published_ip,
        published_port: sv.published_port,
        vni: sv.vni,
        ingress_ip: sv.ingress_ip,
        target_port: sv.target_port.unwrap_or(sv.published_port),
        mode: api_mode(sv.mode),
        maglev_size: sv.maglev_size.unwrap_or(DEFAULT_TABLE_SIZE),
        new_connection_rate: sv.new_connection_rate,
        timeouts: TimeoutsShown {
            syn: t.syn,
            established: t.established,
            closing: t.closing,
            udp: t.udp,
            udp_replied: t.udp_replied,
        },
        backends,
        connections: total,
        managed_by: sv.managed_by.clone(),
    }
}

fn state_by_name(s: &str) -> Result<CtState, ApiError> {
    CtState::ALL
        .iter()
        .copied()
        .find(|st| st.name() == s)
        .ok_or_else(|| {
            ApiError::InvalidValue(format!(
                "unknown connection state '{s}' (known: {})",
                CtState::ALL.map(|st| st.name()).join(", ")
            ))
        })
}

/// The filter the arguments describe (service names resolved in the published
/// snapshot).
fn ct_filter(ids: &Ids, f: &CtFilters) -> Result<CtFilter, ApiError> {
    let mut filter = CtFilter::all();
    if let Some(n) = &f.service {
        let &(id, _) = ids.get(n).ok_or_else(|| unknown_service(n))?;
        filter = filter.service(id);
    }
    if let Some(ip) = f.client {
        filter = filter.client(ip);
    }
    if let Some(ip) = f.backend {
        filter = filter.backend(ip);
    }
    if let Some(s) = &f.state {
        filter = filter.state(state_by_name(s)?);
    }
    Ok(filter)
}

/// The connections the arguments select (none when there is no connection table).
fn entries(live: &Live, ids: &Ids, now: u32, f: &CtFilters) -> Result<Vec<CtEntry>, ApiError> {
    let filter = ct_filter(ids, f)?;
    Ok(live
        .conntrack()
        .map(|ct| ct.entries(&filter, now))
        .unwrap_or_default())
}

fn ip_proto_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        n => n.to_string(),
    }
}

fn conntrack_show(live: &Live, now: u32, f: &CtFilters, limit: usize) -> Result<Answer, ApiError> {
    let ids = ids_of(&live.snapshot());
    let mut list = entries(live, &ids, now, f)?;
    // Most recently active first, then a stable order.
    list.sort_by_key(|e| (e.idle, e.conn.service, e.conn.client, e.conn.published));
    list.truncate(limit);
    Ok(Answer::Connections(
        list.iter()
            .map(|e| {
                let c = &e.conn;
                let service = ids
                    .iter()
                    .find(|(_, (id, _))| *id == c.service)
                    .map_or(ServiceRef::Id(c.service), |(n, _)| {
                        ServiceRef::Name(n.clone())
                    });
                ConnectionRow {
                    proto: ip_proto_name(c.proto),
                    client: c.client,
                    published: c.published,
                    backend: c.backend,
                    snat: c.snat,
                    service,
                    state: e.state.name().into(),
                    assured: e.assured,
                    idle_s: e.idle,
                    owner: c.owner,
                }
            })
            .collect(),
    ))
}

fn conntrack_count(live: &Live, now: u32, f: &CtFilters) -> Result<Answer, ApiError> {
    let list = entries(live, &ids_of(&live.snapshot()), now, f)?;
    let mut n = [0u64; CtState::COUNT];
    for e in &list {
        n[e.state.index()] += 1;
    }
    let stats = live.conntrack().map(|ct| ct.stats()).unwrap_or_default();
    Ok(Answer::ConnectionCount(ConnectionCount {
        count: list.len(),
        states: CtState::ALL
            .iter()
            .map(|st| (st.name().to_string(), n[st.index()]))
            .collect(),
        capacity: live.conntrack().map_or(0, |ct| ct.capacity()),
        created: stats.created,
        expired: stats.expired,
        evicted: stats.evicted,
        early_evicted: stats.early_evicted,
        assured: stats.assured,
        unassured: stats.unassured(),
        refused: stats.refused,
        removed: stats.removed,
    }))
}

fn conntrack_flush(live: &Live, f: &CtFilters) -> Result<Answer, ApiError> {
    let filter = ct_filter(&ids_of(&live.snapshot()), f)?;
    let removed = live.conntrack().map_or(0, |ct| ct.flush(&filter));
    Ok(Answer::ConnectionsRemoved(ConnectionsRemoved { removed }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::sync::Arc;

    use serde_json::{json, Value};

    use super::dispatch;
    use crate::control::config::Config;
    use crate::control::live::Live;
    use crate::tables::conntrack::{Conn, Conntrack, CtState, Timeouts};
    use crate::tables::fdb::Fdb;
    use crate::tables::neighbours::Neighbours;
    use crate::tables::snapshot::{ResolvedPort, Snapshot, SnapshotCell};
    use crate::wire::MacAddr;

    const CFG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = 1024
conntrack_capacity = 1024

[[port]]
name = "p0"
roles = ["underlay"]

[[port]]
name = "p1"
roles = ["external"]

[[vni]]
id = 4096

[[service]]
name = "web"
protocol = "tcp"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
target_port = 8080
backends = [{ ip = "10.255.0.11" }, { ip = "10.255.0.12", weight = 3 }]
"#;

    struct Rig {
        live: Live,
        ct: Arc<Conntrack>,
    }

    fn rig() -> Rig {
        let cfg = Config::parse(CFG).unwrap();
        let ports: HashMap<String, ResolvedPort> = [("p0", 0u16), ("p1", 1)]
            .iter()
            .map(|&(n, id)| {
                let mac = MacAddr([2, 0, 0, 0, 0, id as u8]);
                (n.to_string(), ResolvedPort { id, mac, mtu: 1500 })
            })
            .collect();
        let snap = Snapshot::build(&cfg, &|n| ports.get(n).copied(), 1).unwrap();
        let cell = Arc::new(SnapshotCell::new(snap));
        let fdb = Arc::new(Fdb::new(1024, 64));
        let neigh = Arc::new(Neighbours::new(64));
        let live = Live::new(cfg, ports, cell, fdb, neigh, None);
        let ct = Arc::new(Conntrack::new(1024, Timeouts::default()));
        live.set_conntrack(ct.clone());
        Rig { live, ct }
    }

    const NOW: u32 = 100;

    impl Rig {
        fn req(&self, cmd: &str, args: Value) -> Result<Value, String> {
            let a = args.as_object().cloned().unwrap_or_default();
            dispatch(&self.live, NOW, cmd, &a).expect("a service command")
        }

        fn ok(&self, cmd: &str, args: Value) -> Value {
            self.req(cmd, args.clone())
                .unwrap_or_else(|e| panic!("{cmd} {args}: {e}"))
        }

        fn err(&self, cmd: &str, args: Value) -> String {
            match self.req(cmd, args.clone()) {
                Ok(v) => panic!("{cmd} {args} must be refused, got {v}"),
                Err(e) => e,
            }
        }

        fn show(&self, name: &str) -> Value {
            self.ok("service.show", json!({"name": name}))[0].clone()
        }

        fn service_id(&self, name: &str) -> u32 {
            let snap = self.live.snapshot();
            snap.services.iter().find(|s| s.name == name).unwrap().id
        }

        /// A connection of `service` to its backend `ip` (its slot from the snapshot).
        fn connect(&self, service: &str, client: [u8; 4], port: u16, ip: [u8; 4], st: CtState) {
            let snap = self.live.snapshot();
            let sv = snap.services.iter().find(|s| s.name == service).unwrap();
            let ip = Ipv4Addr::from(ip);
            let b = sv.backends.iter().find(|b| b.ip == ip).unwrap();
            let conn = Conn {
                proto: if st.is_udp() { 17 } else { 6 },
                client: SocketAddrV4::new(Ipv4Addr::from(client), port),
                published: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), sv.published_port),
                backend: SocketAddrV4::new(ip, sv.target_port),
                snat: Some(SocketAddrV4::new(sv.ingress_ip, 40000 + port)),
                service: sv.id,
                backend_id: b.slot,
                owner: 1,
            };
            self.ct.insert(&conn, st, NOW - 5).unwrap();
        }
    }

    fn ips(v: &Value) -> Vec<(String, u64, String)> {
        v["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["ip"].as_str().unwrap().to_string(),
                    b["weight"].as_u64().unwrap(),
                    b["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn services_and_backends_change_the_running_configuration() {
        let r = rig();
        let web = r.show("web");
        assert_eq!(
            (
                &web["protocol"],
                &web["published_ip"],
                &web["published_port"],
                &web["target_port"],
                &web["mode"],
                &web["maglev_size"],
                &web["vni"],
                &web["ingress_ip"],
                &web["connections"],
            ),
            (
                &json!("tcp"),
                &Value::Null,
                &json!(80),
                &json!(8080),
                &json!("snat"),
                &json!(65537),
                &json!(4096),
                &json!("10.255.0.2"),
                &json!(0)
            ),
            "{web}"
        );
        assert_eq!(web["id"], r.service_id("web"));
        assert_eq!(
            ips(&web),
            [
                ("10.255.0.11".into(), 1, "active".into()),
                ("10.255.0.12".into(), 3, "active".into())
            ]
        );

        // service.add: in the configuration and the snapshot.
        let o = r.ok(
            "service.add",
            json!({"name": "dns", "protocol": "udp", "published_port": 53, "published_ip": "192.0.2.53",
                   "vni": 4096, "ingress_ip": "10.255.0.3", "mode": "preserve", "maglev_size": 251,
                   "backends": [{"ip": "10.255.0.21"}]}),
        );
        assert_eq!(o["changes"], json!(["service dns added"]), "{o}");
        assert!(r.live.snapshot().services.iter().any(|s| s.name == "dns"));
        let all = r.ok("service.show", json!({}));
        assert_eq!(all.as_array().unwrap().len(), 2);
        let dns = r.show("dns");
        assert_eq!(
            (
                &dns["protocol"],
                &dns["published_ip"],
                &dns["target_port"],
                &dns["mode"],
                &dns["maglev_size"]
            ),
            (
                &json!("udp"),
                &json!("192.0.2.53"),
                &json!(53),
                &json!("preserve"),
                &json!(251)
            )
        );
        assert!(r.live.config().to_toml().contains("name = \"dns\""));

        // Backends: add (default weight 1), set, drain, del.
        r.ok(
            "backend.add",
            json!({"service": "dns", "ip": "10.255.0.22"}),
        );
        r.ok(
            "backend.add",
            json!({"service": "dns", "ip": "10.255.0.23", "weight": 5}),
        );
        r.ok(
            "backend.set",
            json!({"service": "dns", "ip": "10.255.0.22", "weight": 2}),
        );
        r.ok(
            "backend.drain",
            json!({"service": "dns", "ip": "10.255.0.21"}),
        );
        assert_eq!(
            ips(&r.show("dns")),
            [
                ("10.255.0.21".into(), 0, "drained".into()),
                ("10.255.0.22".into(), 2, "active".into()),
                ("10.255.0.23".into(), 5, "active".into())
            ]
        );
        let snap = r.live.snapshot();
        let v = snap.services.iter().find(|s| s.name == "dns").unwrap();
        assert_eq!(
            v.backends.iter().map(|b| b.weight).collect::<Vec<_>>(),
            [0, 2, 5],
            "published"
        );
        drop(snap);
        let o = r.ok(
            "backend.del",
            json!({"service": "dns", "ip": "10.255.0.23"}),
        );
        assert_eq!(o["connections_removed"], 0, "{o}");
        assert_eq!(r.show("dns")["backends"].as_array().unwrap().len(), 2);

        // service.del.
        r.ok("service.del", json!({"name": "dns"}));
        assert!(r.req("service.show", json!({"name": "dns"})).is_err());
        assert!(!r.live.snapshot().services.iter().any(|s| s.name == "dns"));
    }

    #[test]
    fn refused_requests_change_nothing() {
        let r = rig();
        let (before, gen) = (r.live.config(), r.live.snapshot().generation);
        let svc = |name: &str, vni: u32, port: u16| {
            json!({"name": name, "protocol": "tcp", "published_port": port, "vni": vni,
                   "ingress_ip": "10.255.0.2"})
        };
        let cases: &[(&str, Value, &str)] = &[
            (
                "service.add",
                svc("web", 4096, 81),
                "service 'web' already exists",
            ),
            (
                "service.add",
                svc("api", 7, 81),
                "service 'api' vni: 7 is not a configured VNI",
            ),
            (
                "service.add",
                svc("api", 4096, 80),
                "port 80 on any address is already published",
            ),
            (
                "service.add",
                svc("api", 4096, 0),
                "service 'api' published_port: must be 1-65535",
            ),
            (
                "service.add",
                json!({"name": "api", "protocol": "sctp", "published_port": 1, "vni": 4096, "ingress_ip": "10.255.0.2"}),
                "unknown variant `sctp`",
            ),
            (
                "service.add",
                json!({"name": "api", "protocol": "tcp", "published_port": 1, "vni": 4096, "ingress_ip": "10.255.0.2", "bogus": 1}),
                "unknown field `bogus`",
            ),
            (
                "service.add",
                json!({"name": "api", "protocol": "tcp", "published_port": 1, "vni": 4096, "ingress_ip": "10.255.0.2", "maglev_size": 100}),
                "service 'api' maglev_size: 100 is not a prime",
            ),
            (
                "service.del",
                json!({"name": "nope"}),
                "unknown service 'nope'",
            ),
            (
                "service.show",
                json!({"name": "nope"}),
                "unknown service 'nope'",
            ),
            (
                "backend.add",
                json!({"service": "nope", "ip": "10.255.0.9"}),
                "unknown service 'nope'",
            ),
            (
                "backend.add",
                json!({"service": "web", "ip": "10.255.0.11"}),
                "backend 10.255.0.11 is already in service 'web'",
            ),
            (
                "backend.add",
                json!({"service": "web", "ip": "10.255.0.2"}),
                "backend 10.255.0.2 is the ingress endpoint of service 'web'",
            ),
            (
                "backend.add",
                json!({"service": "web", "ip": "10.255.0"}),
                "invalid IPv4 address syntax",
            ),
            (
                "backend.del",
                json!({"service": "web", "ip": "10.255.0.9"}),
                "backend 10.255.0.9 is not in service 'web'",
            ),
            (
                "backend.set",
                json!({"service": "web", "ip": "10.255.0.9", "weight": 2}),
                "backend 10.255.0.9 is not in service 'web'",
            ),
            (
                "backend.set",
                json!({"service": "web", "ip": "10.255.0.11"}),
                "missing field `weight`",
            ),
            (
                "backend.drain",
                json!({"service": "web", "ip": "10.255.0.9"}),
                "backend 10.255.0.9 is not in service 'web'",
            ),
            (
                "backend.drain",
                json!({"service": "web", "ip": "10.255.0.11", "weight": 0}),
                "unknown field `weight`",
            ),
        ];
        for (cmd, args, want) in cases {
            let e = r.err(cmd, args.clone());
            assert!(e.contains(want), "{cmd} {args}: '{e}' lacks '{want}'");
            assert_eq!(
                r.live.config(),
                before,
                "{cmd} {args} changed the configuration"
            );
            assert_eq!(r.live.snapshot().generation, gen, "{cmd} {args} published");
        }
    }

    #[test]
    fn connections_are_counted_listed_and_flushed() {
        let r = rig();
        let (b1, b2) = ([10, 255, 0, 11], [10, 255, 0, 12]);
        r.connect("web", [198, 51, 100, 1], 1001, b1, CtState::Established);
        r.connect("web", [198, 51, 100, 1], 1002, b1, CtState::SynSent);
        r.connect("web", [198, 51, 100, 2], 1003, b2, CtState::Established);
        let web = r.show("web");
        assert_eq!(web["connections"], 3, "{web}");
        assert_eq!(web["backends"][0]["connections"], 2, "{web}");
        assert_eq!(web["backends"][1]["connections"], 1, "{web}");
        assert_eq!(r.ok("service.show", json!({}))[0]["connections"], 3);

        // show: filters, fields, limit.
        let all = r.ok("conntrack.show", json!({}));
        assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
        let one = r.ok("conntrack.show", json!({"client": "198.51.100.2"}));
        assert_eq!(
            one,
            json!([{"proto": "tcp", "client": "198.51.100.2:1003", "published": "192.0.2.1:80",
                    "backend": "10.255.0.12:8080", "snat": "10.255.0.2:41003", "service": "web",
                    "state": "established", "assured": false, "idle_s": 5, "owner": 1}])
        );
        let n = |args: Value| r.ok("conntrack.show", args).as_array().unwrap().len();
        assert_eq!(n(json!({"backend": "10.255.0.11"})), 2);
        assert_eq!(n(json!({"state": "syn_sent"})), 1);
        assert_eq!(n(json!({"service": "web", "state": "established"})), 2);
        assert_eq!(n(json!({"limit": 2})), 2);
        assert_eq!(n(json!({"client": "198.51.100.9"})), 0);

        // count: per state, and the table-wide counters.
        let c = r.ok("conntrack.count", json!({"service": "web"}));
        assert_eq!(c["count"], 3, "{c}");
        assert_eq!(c["states"]["established"], 2, "{c}");
        assert_eq!(c["states"]["syn_sent"], 1, "{c}");
        assert_eq!(c["states"]["udp_new"], 0, "{c}");
        assert_eq!(c["created"], 3, "{c}");
        assert_eq!(
            r.ok("conntrack.count", json!({"backend": "10.255.0.12"}))["count"],
            1
        );

        // Bad filters are errors and remove nothing.
        for (args, want) in [
            (
                json!({"state": "bogus"}),
                "unknown connection state 'bogus'",
            ),
            (json!({"service": "nope"}), "unknown service 'nope'"),
            (json!({"client": "1.2.3"}), "invalid IPv4 address syntax"),
            (json!({}), "give a filter"),
            (json!({"all": true, "service": "web"}), "not both"),
            (json!({"vni": 4096}), "unknown field `vni`"),
        ] {
            let e = r.err("conntrack.flush", args.clone());
            assert!(e.contains(want), "{args}: '{e}' lacks '{want}'");
        }
        assert!(r
            .err("conntrack.show", json!({"state": "bogus"}))
            .contains("known: syn_sent"));
        assert!(r
            .err("conntrack.count", json!({"limit": 3}))
            .contains("unknown field `limit`"));
        assert_eq!(r.ct.len(), 3);

        // flush with a filter, then a drained backend keeps its connections and a
        // deleted one loses them.
        assert_eq!(
            r.ok("conntrack.flush", json!({"state": "syn_sent"})),
            json!({"removed": 1})
        );
        assert_eq!(r.ct.len(), 2);
        r.ok(
            "backend.drain",
            json!({"service": "web", "ip": "10.255.0.11"}),
        );
        assert_eq!(r.show("web")["backends"][0]["connections"], 1);
        let o = r.ok(
            "backend.del",
            json!({"service": "web", "ip": "10.255.0.11"}),
        );
        assert_eq!(o["connections_removed"], 1, "{o}");
        assert_eq!(r.show("web")["connections"], 1);
        r.connect("web", [198, 51, 100, 3], 1004, b2, CtState::Established);
        assert_eq!(
            r.ok("conntrack.flush", json!({"all": true})),
            json!({"removed": 2})
        );
        assert_eq!(r.ok("conntrack.count", json!({}))["removed"], 2 + 1 + 1);

        // service.del removes the service's connections.
        r.connect("web", [198, 51, 100, 4], 1005, b2, CtState::Established);
        let o = r.ok("service.del", json!({"name": "web"}));
        assert_eq!(o["connections_removed"], 1, "{o}");
        assert!(r.ct.is_empty());
    }

    #[test]
    fn without_a_connection_table_everything_is_zero() {
        let cfg = Config::parse(CFG).unwrap();
        let ports: HashMap<String, ResolvedPort> = [("p0", 0u16), ("p1", 1)]
            .iter()
            .map(|&(n, id)| {
                let mac = MacAddr([2, 0, 0, 0, 0, id as u8]);
                (n.to_string(), ResolvedPort { id, mac, mtu: 1500 })
            })
            .collect();
        let snap = Snapshot::build(&cfg, &|n| ports.get(n).copied(), 1).unwrap();
        let live = Live::new(
            cfg,
            ports,
            Arc::new(SnapshotCell::new(snap)),
            Arc::new(Fdb::new(1024, 64)),
            Arc::new(Neighbours::new(64)),
            None,
        );
        let d = |cmd: &str, a: Value| {
            dispatch(&live, 0, cmd, a.as_object().unwrap())
                .unwrap()
                .unwrap()
        };
        assert_eq!(d("service.show", json!({}))[0]["connections"], 0);
        assert_eq!(d("conntrack.show", json!({})), json!([]));
        assert_eq!(d("conntrack.count", json!({}))["count"], 0);
        assert_eq!(
            d("conntrack.flush", json!({"all": true})),
            json!({"removed": 0})
        );
        assert!(dispatch(&live, 0, "vni.show", &Default::default()).is_none());
    }
}
