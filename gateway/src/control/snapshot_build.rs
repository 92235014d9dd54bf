//! Building a [`Snapshot`] from the configuration: ports resolved by name, VTEPs and
//! VNIs indexed, services' Maglev tables and ids (kept across snapshots), the
//! external side's addresses, each VTEP's outer header template. The control side
//! builds; the tables only hold the result, so `tables` knows nothing of the
//! configuration's types.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use ahash::RandomState;

use super::config::{Config, NatMode, Role, ServiceTimeouts};
use crate::tables::conntrack::Timeouts;
use crate::tables::flow_hash::BackendKey;
use crate::tables::maglev::{Backend, MaglevTable, DEFAULT_TABLE_SIZE};
use crate::tables::snapshot::{
    published_key, BackendView, ExternalView, PortView, PublishedPort, ResolvedPort, ServiceView,
    Snapshot, UnderlayView, VniView, VtepView, ENCAP_LEN, MAX_BACKEND_SLOTS, MAX_PORTS,
};
use crate::tables::u32_index::U32Index;
use crate::wire::encap::{self, field as outer};
use crate::wire::ethernet::ethertype;
use crate::wire::ipv4::{field as ip4, protocol};
use crate::wire::outer_match::OuterMatch;
use crate::wire::vxlan::FLAG_I;

fn fixed_state() -> RandomState {
    // In-process tables only; fixed keys keep snapshots comparable in tests.
    RandomState::with_seeds(0x7667_7778, 0x766e_6920, 0x6764_6220, 0x7461_626c)
}

impl Snapshot {
    /// Builds a snapshot from a validated configuration and the ports DPDK resolved
    /// (by configured name). Fails if a configured port is missing.
    pub fn build(
        cfg: &Config,
        resolve: &dyn Fn(&str) -> Option<ResolvedPort>,
        generation: u64,
    ) -> Result<Snapshot, String> {
        Snapshot::build_after(cfg, resolve, generation, None)
    }

    /// [`Snapshot::build`] as the successor of `prev`: services and backends that
    /// exist in both keep their ids and counter slots.
    pub fn build_after(
        cfg: &Config,
        resolve: &dyn Fn(&str) -> Option<ResolvedPort>,
        generation: u64,
        prev: Option<&Snapshot>,
    ) -> Result<Snapshot, String> {
        let g = &cfg.gateway;
        let mut ports = vec![PortView::default(); MAX_PORTS];
        let mut ids = HashMap::new();
        let mut ids_of_ports = HashMap::new();
        for p in &cfg.ports {
            let r = resolve(&p.name).ok_or_else(|| format!("port '{}' does not exist", p.name))?;
            if r.id as usize >= MAX_PORTS {
                return Err(format!("port '{}' has id {} >= {MAX_PORTS}", p.name, r.id));
            }
            ids.insert(p.name.clone(), r);
            ids_of_ports.insert(p.name.clone(), r);
            ports[r.id as usize] = PortView {
                present: true,
                name: p.name.clone(),
                underlay: p.roles.contains(&Role::Underlay),
                access: p.roles.contains(&Role::Access),
                external: p.roles.contains(&Role::External),
                mac: r.mac,
                vlan_to_vni: p
                    .roles
                    .contains(&Role::Access)
                    .then(|| Box::new([0u16; 4096])),
            };
        }
        let underlay = match (
            cfg.ports.iter().find(|p| p.roles.contains(&Role::Underlay)),
            g.vtep_ip,
        ) {
            (Some(p), Some(vtep_ip)) => {
                let r = ids[&p.name];
                let mtu = p.mtu.unwrap_or(r.mtu);
                Some(UnderlayView {
                    port: r.id,
                    mac: r.mac,
                    vtep_ip,
                    mtu,
                    inner_ip_mtu: mtu.saturating_sub(ENCAP_LEN as u16).max(68),
                    vxlan_port: g.vxlan_port,
                    outer_match: OuterMatch::new(r.mac, vtep_ip, g.vxlan_port),
                })
            }
            _ => None,
        };
        let mut vteps = Vec::new();
        let mut vtep_index = HashMap::new();
        if let Some(ul) = &underlay {
            let mask = prefix_mask(g.underlay_prefix_len);
            for v in &cfg.vteps {
                let on_link = u32::from(v.ip) & mask == u32::from(ul.vtep_ip) & mask;
                let next_hop = match (on_link, g.underlay_gateway) {
                    (true, _) | (false, None) => v.ip,
                    (false, Some(gw)) => gw,
                };
                let (header, ip_sum_base) = outer_template(ul, v.ip, g.ttl, g.dscp, g.df);
                vtep_index.insert(v.ip, vteps.len() as u16);
                vteps.push(VtepView {
                    ip: v.ip,
                    next_hop,
                    header,
                    ip_sum_base,
                });
            }
        }
        let mut vnis = Vec::new();
        let mut vni_index = Vec::new();
        for v in &cfg.vnis {
            let slot = vnis.len() as u16;
            let mut access = Vec::new();
            for a in &v.access {
                let r = ids[&a.port];
                if let Some(map) = ports[r.id as usize].vlan_to_vni.as_mut() {
                    map[a.vlan as usize] = slot + 1;
                }
                access.push((r.id, a.vlan));
            }
            let gw_mac = underlay.as_ref().map(|u| u.mac).unwrap_or_default();
            vni_index.push((v.id, slot));
            vnis.push(VniView {
                vni: v.id,
                flood: v
                    .flood
                    .iter()
                    .filter_map(|ip| vtep_index.get(ip).copied())
                    .collect(),
                first_member: access
                    .first()
                    .map_or(u32::MAX, |&(p, vl)| u32::from(p) << 16 | u32::from(vl)),
                access,
                learn_limit: v.learn_limit.unwrap_or(g.learn_limit),
                ageing_secs: v.ageing_secs.unwrap_or(g.ageing_secs),
                gateway: v.gateway_ip.map(|ip| (ip, gw_mac)),
                router_mac: gw_mac,
                local_ips: v
                    .gateway_ip
                    .into_iter()
                    .chain(
                        cfg.services
                            .iter()
                            .filter(|s| s.vni == v.id)
                            .map(|s| s.ingress_ip),
                    )
                    .fold(Vec::new(), |mut a, ip| {
                        if !a.contains(&ip) {
                            a.push(ip);
                        }
                        a
                    }),
                arp: {
                    let mut m = HashMap::with_hasher(fixed_state());
                    m.extend(v.arp.iter().map(|e| (e.ip, e.mac)));
                    m
                },
            });
        }
        let mut services = Vec::new();
        let mut sids = ServiceIds::new(prev);
        for sv in &cfg.services {
            let target_port = sv.target_port.unwrap_or(sv.published_port);
            let backends: Vec<Backend> = sv
                .backends
                .iter()
                .enumerate()
                .map(|(i, b)| Backend {
                    id: i as u32,
                    key: BackendKey::new(b.ip, target_port),
                    weight: b.weight,
                })
                .collect();
            let size = sv.maglev_size.unwrap_or(DEFAULT_TABLE_SIZE);
            let maglev = MaglevTable::build(&backends, size)
                .map_err(|e| format!("service '{}': Maglev table: {e:?}", sv.name))?;
            let vni = vni_index
                .iter()
                .find(|&&(id, _)| id == sv.vni)
                .map(|&(_, slot)| slot)
                .ok_or_else(|| {
                    format!("service '{}': VNI {} is not configured", sv.name, sv.vni)
                })?;
            let id = sids.service(&sv.name);
            services.push(ServiceView {
                id,
                name: sv.name.clone(),
                proto: sv.protocol.number(),
                published_ip: sv.published_ip,
                published_port: sv.published_port,
                vni,
                ingress_ip: sv.ingress_ip,
                target_port,
                preserve_client: sv.mode == NatMode::Preserve,
                backends: sv
                    .backends
                    .iter()
                    .map(|b| BackendView {
                        ip: b.ip,
                        weight: b.weight,
                        slot: sids.backend(&sv.name, b.ip),
                    })
                    .collect(),
                maglev,
                timeouts: timeouts(&sv.timeouts),
                new_connection_rate: sv.new_connection_rate.unwrap_or(0),
            });
        }
        let external = cfg
            .ports
            .iter()
            .find(|p| p.roles.contains(&Role::External))
            .map(|p| {
                let r = ids_of_ports[&p.name];
                let mut local_ips: Vec<Ipv4Addr> = g.external_ip.into_iter().collect();
                for s in &cfg.services {
                    if let Some(ip) = s.published_ip {
                        if !local_ips.contains(&ip) {
                            local_ips.push(ip);
                        }
                    }
                }
                let mut own_ips = local_ips.clone();
                let others = g
                    .vtep_ip
                    .into_iter()
                    .chain(cfg.vnis.iter().filter_map(|v| v.gateway_ip))
                    .chain(cfg.services.iter().map(|s| s.ingress_ip));
                own_ips.extend(others);
                own_ips.sort_unstable();
                own_ips.dedup();
                ExternalView {
                    port: r.id,
                    mac: r.mac,
                    ip: g.external_ip,
                    mask: prefix_mask(g.external_prefix_len),
                    subnet_edges: ExternalView::subnet_edges_of(
                        g.external_ip,
                        prefix_mask(g.external_prefix_len),
                    ),
                    gateway: g.external_gateway,
                    local_ips,
                    own_ips,
                }
            });
        let (next_service_id, next_backend_slot) = sids.next();
        let mut published_ports: Vec<PublishedPort> = Vec::new();
        let mut groups: HashMap<u32, u16> = HashMap::new();
        for (i, s) in services.iter().enumerate() {
            let g = *groups
                .entry(published_key(s.proto, s.published_port))
                .or_insert_with(|| {
                    published_ports.push(PublishedPort::default());
                    (published_ports.len() - 1) as u16
                });
            let p = &mut published_ports[g as usize];
            match s.published_ip {
                Some(ip) => p.exact.push((ip, i as u16)),
                None => p.any = Some(i as u16),
            }
        }
        Ok(Snapshot {
            generation,
            services,
            published_index: U32Index::build(groups),
            published_ports,
            external,
            next_service_id,
            next_backend_slot,
            ports,
            underlay,
            vteps,
            vtep_index: U32Index::build(vtep_index.into_iter().map(|(ip, i)| (u32::from(ip), i))),
            vnis,
            vni_index: U32Index::build(vni_index),
        })
    }
}

/// The conntrack timeouts of a service: the defaults with its overrides.
fn timeouts(o: &ServiceTimeouts) -> Timeouts {
    let mut t = Timeouts::default();
    t.syn = o.syn.unwrap_or(t.syn);
    t.established = o.established.unwrap_or(t.established);
    t.closing = o.closing.unwrap_or(t.closing);
    t.udp = o.udp.unwrap_or(t.udp);
    t.udp_replied = o.udp_replied.unwrap_or(t.udp_replied);
    t
}

/// The netmask of a prefix length (0-32).
fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len.min(32) as u32)
    }
}

/// Assigns service ids and backend counter slots, keeping those of `prev`.
struct ServiceIds {
    services: HashMap<String, u32>,
    backends: HashMap<(String, Ipv4Addr), u32>,
    taken: Vec<bool>,
    next_service: u32,
    next_slot: u32,
}

impl ServiceIds {
    fn new(prev: Option<&Snapshot>) -> ServiceIds {
        let mut services = HashMap::new();
        let mut backends = HashMap::new();
        if let Some(p) = prev {
            for s in &p.services {
                services.insert(s.name.clone(), s.id);
                for b in &s.backends {
                    backends.insert((s.name.clone(), b.ip), b.slot);
                }
            }
        }
        ServiceIds {
            services,
            backends,
            taken: vec![false; MAX_BACKEND_SLOTS],
            next_service: prev.map_or(0, |p| p.next_service_id),
            next_slot: prev.map_or(0, |p| p.next_backend_slot),
        }
    }

    fn service(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.services.get(name) {
            return id;
        }
        let id = self.next_service;
        self.next_service = self.next_service.wrapping_add(1);
        self.services.insert(name.to_string(), id);
        id
    }

    /// The backend's slot: its old one, else the next slot not in use by a kept
    /// backend (round robin, so a slot is reused as late as possible).
    fn backend(&mut self, service: &str, ip: Ipv4Addr) -> u32 {
        let key = (service.to_string(), ip);
        if let Some(&slot) = self.backends.get(&key) {
            if !self.taken[slot as usize] {
                self.taken[slot as usize] = true;
                return slot;
            }
        }
        // Slots of backends this build keeps are reserved lazily: a new backend may
        // only take a slot that no previous backend of a kept name still holds.
        let kept: std::collections::HashSet<u32> = self.backends.values().copied().collect();
        for _ in 0..MAX_BACKEND_SLOTS {
            let s = self.next_slot % MAX_BACKEND_SLOTS as u32;
            self.next_slot = (s + 1) % MAX_BACKEND_SLOTS as u32;
            if !self.taken[s as usize] && !kept.contains(&s) {
                self.taken[s as usize] = true;
                self.backends.insert(key, s);
                return s;
            }
        }
        // More backends than slots (validation prevents it): share the last slot.
        (MAX_BACKEND_SLOTS - 1) as u32
    }

    fn next(&self) -> (u32, u32) {
        (self.next_service, self.next_slot)
    }
}

/// Precomputes a VTEP's outer header and the constant part of its IPv4 checksum.
fn outer_template(
    ul: &UnderlayView,
    dst: Ipv4Addr,
    ttl: u8,
    dscp: u8,
    df: bool,
) -> ([u8; ENCAP_LEN], u16) {
    let mut h = [0u8; ENCAP_LEN];
    h[outer::SRC_MAC].copy_from_slice(&ul.mac.0);
    h[outer::ETHERTYPE..outer::ETHERTYPE + 2].copy_from_slice(&ethertype::IPV4.to_be_bytes());
    let ip = &mut h[encap::IP..encap::UDP];
    ip[ip4::VER_IHL] = 0x45;
    ip[ip4::DSCP_ECN] = dscp << 2;
    ip[ip4::FLAGS_FRAG] = if df { 0x40 } else { 0 };
    ip[ip4::TTL] = ttl;
    ip[ip4::PROTOCOL] = protocol::UDP;
    ip[ip4::SRC_ADDR].copy_from_slice(&ul.vtep_ip.octets());
    ip[ip4::DST_ADDR].copy_from_slice(&dst.octets());
    let sum = crate::wire::checksum::sum(ip);
    h[outer::UDP_DST_PORT..outer::UDP_DST_PORT + 2].copy_from_slice(&ul.vxlan_port.to_be_bytes());
    h[outer::VXLAN_FLAGS] = FLAG_I;
    (h, sum)
}

#[cfg(test)]
#[path = "snapshot_build_tests.rs"]
mod tests;
