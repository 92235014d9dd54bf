//! The requests that make vxgw's swarm-owned tables (`current`) equal to what the
//! swarm wants (`desired`), in an order that never leaves traffic without a path:
//! VTEPs, VNIs, flood lists, ARP and FDB entries first, then services and their new
//! backends, weights (drains), and only then what is gone. Nothing is flushed: an
//! entry that stays is not touched, so a restart of vxgw-swarm changes nothing.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use vxgw_api::{
    ArpAdd, ArpDel, ArpEntry, Backend, BackendAdd, BackendRef, BackendSet, FdbAdd, IdIp, Ip, Name,
    Request, ServiceAdd, VniAdd, VniMac, VniSet,
};

use crate::desired::{ServiceState, State};

/// What vxgw shows as the manager of the VNIs and services vxgw-swarm makes.
pub const MANAGER: &str = "vxgw-swarm";

/// The requests, in order. `vteps_elsewhere`: VTEPs that something vxgw-swarm does
/// not own still uses (another VNI's flood list or static entry): never deleted.
pub fn plan(
    current: &State,
    desired: &State,
    vteps_elsewhere: &BTreeSet<Ipv4Addr>,
) -> Vec<Request> {
    let mut adds = Vec::new();
    let mut dels = Vec::new();
    for ip in desired.vteps.difference(&current.vteps) {
        adds.push(Request::VtepAdd(Ip { ip: *ip }));
    }
    for (vni, want) in &desired.vnis {
        let Some(have) = current.vnis.get(vni) else {
            adds.push(Request::VniAdd(VniAdd {
                id: *vni,
                flood: want.flood.iter().copied().collect(),
                access: Vec::new(),
                learn_limit: None,
                ageing_secs: None,
                gateway_ip: want.gateway_ip,
                arp: want
                    .arp
                    .iter()
                    .map(|(ip, mac)| ArpEntry { ip: *ip, mac: *mac })
                    .collect(),
                managed_by: Some(MANAGER.into()),
            }));
            for (mac, vtep) in &want.fdb {
                adds.push(fdb_add(*vni, *mac, *vtep));
            }
            continue;
        };
        for ip in want.flood.difference(&have.flood) {
            adds.push(Request::VniFloodAdd(IdIp { id: *vni, ip: *ip }));
        }
        for ip in have.flood.difference(&want.flood) {
            dels.push(Request::VniFloodDel(IdIp { id: *vni, ip: *ip }));
        }
        if want.gateway_ip != have.gateway_ip {
            adds.push(Request::VniSet(VniSet {
                id: *vni,
                learn_limit: None,
                ageing_secs: None,
                gateway_ip: Some(want.gateway_ip),
            }));
        }
        for (ip, mac) in &want.arp {
            if have.arp.get(ip) != Some(mac) {
                adds.push(Request::ArpAdd(ArpAdd {
                    vni: *vni,
                    ip: *ip,
                    mac: *mac,
                }));
            }
        }
        for ip in have.arp.keys().filter(|ip| !want.arp.contains_key(ip)) {
            dels.push(Request::ArpDel(ArpDel {
                vni: *vni,
                ip: *ip,
                mac: None,
            }));
        }
        for (mac, vtep) in &want.fdb {
            if have.fdb.get(mac) != Some(vtep) {
                adds.push(fdb_add(*vni, *mac, *vtep));
            }
        }
        for mac in have.fdb.keys().filter(|m| !want.fdb.contains_key(m)) {
            dels.push(Request::FdbDel(VniMac {
                vni: *vni,
                mac: *mac,
            }));
        }
    }
    for (name, want) in &desired.services {
        match current.services.get(name) {
            Some(have) if same_front(have, want) => {
                for (ip, w) in &want.backends {
                    match have.backends.get(ip) {
                        None => adds.push(Request::BackendAdd(BackendAdd {
                            service: name.clone(),
                            ip: *ip,
                            weight: Some(*w),
                        })),
                        Some(hw) if hw != w => adds.push(Request::BackendSet(BackendSet {
                            service: name.clone(),
                            ip: *ip,
                            weight: *w,
                        })),
                        Some(_) => {}
                    }
                }
                for ip in have
                    .backends
                    .keys()
                    .filter(|ip| !want.backends.contains_key(ip))
                {
                    dels.push(Request::BackendDel(BackendRef {
                        service: name.clone(),
                        ip: *ip,
                    }));
                }
            }
            Some(_) => {
                // Its port, target, VNI or mode changed: made again.
                dels.push(Request::ServiceDel(Name { name: name.clone() }));
                dels.push(service_add(name, want));
            }
            None => adds.push(service_add(name, want)),
        }
    }
    for name in current
        .services
        .keys()
        .filter(|n| !desired.services.contains_key(*n))
    {
        dels.push(Request::ServiceDel(Name { name: name.clone() }));
    }
    for ip in current.vteps.difference(&desired.vteps) {
        if !vteps_elsewhere.contains(ip) {
            dels.push(Request::VtepDel(Ip { ip: *ip }));
        }
    }
    adds.extend(dels);
    adds
}

fn fdb_add(vni: u32, mac: vxgw_api::Mac, vtep: Ipv4Addr) -> Request {
    Request::FdbAdd(FdbAdd {
        vni,
        mac,
        vtep: Some(vtep),
        port: None,
        vlan: None,
    })
}

/// Same everything but the backends.
fn same_front(a: &ServiceState, b: &ServiceState) -> bool {
    (
        a.proto,
        a.published_ip,
        a.port,
        a.target,
        a.vni,
        a.ingress_ip,
        a.mode,
    ) == (
        b.proto,
        b.published_ip,
        b.port,
        b.target,
        b.vni,
        b.ingress_ip,
        b.mode,
    )
}

fn service_add(name: &str, s: &ServiceState) -> Request {
    Request::ServiceAdd(ServiceAdd {
        name: name.to_string(),
        protocol: s.proto,
        published_ip: s.published_ip,
        published_port: s.port,
        vni: s.vni,
        ingress_ip: s.ingress_ip,
        target_port: Some(s.target),
        mode: Some(s.mode),
        maglev_size: None,
        timeouts: None,
        backends: s
            .backends
            .iter()
            .map(|(ip, w)| Backend {
                ip: *ip,
                weight: Some(*w),
            })
            .collect(),
        new_connection_rate: None,
        managed_by: Some(MANAGER.into()),
    })
}
