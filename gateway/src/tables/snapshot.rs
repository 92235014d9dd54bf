//! The immutable configuration snapshot the workers read: ports and roles, the VTEP,
//! VNIs with their VLAN mappings and flood lists, VTEPs with precomputed outer
//! headers. Built by the control side from a [`Config`]; workers load the current one
//! once per burst (RCU style, see `SnapshotCell`) and never see it change under them.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use ahash::RandomState;
use arc_swap::ArcSwap;

use super::flow_hash::BackendKey;
use super::maglev::{Backend, MaglevTable, DEFAULT_TABLE_SIZE};
use super::u32_index::U32Index;
use crate::control::config::{Config, NatMode, Role, ServiceTimeouts};
use crate::wire::outer_match::OuterMatch;
use crate::wire::MacAddr;

/// Highest DPDK port id the snapshot indexes (ports are a small dense range).
pub const MAX_PORTS: usize = 32;
/// Backend slots: every backend of every service has one, stable while it exists,
/// for its per-worker counters (and the conntrack's backend id).
pub const MAX_BACKEND_SLOTS: usize = 4096;
/// Bytes vxgw puts in front of an inner frame: Ethernet, IPv4, UDP, VXLAN.
pub const ENCAP_LEN: usize = 14 + 20 + 8 + 8;

/// A port as the pipeline sees it.
#[derive(Debug, Clone, Default)]
pub struct PortView {
    /// Configured (the pipeline drops traffic of ports it does not know).
    pub present: bool,
    /// Name from the configuration.
    pub name: String,
    /// Carries VXLAN to/from VTEPs.
    pub underlay: bool,
    /// Carries access segments.
    pub access: bool,
    /// Carries client traffic of published ports.
    pub external: bool,
    /// The port's MAC.
    pub mac: MacAddr,
    /// Access ports: VLAN id (0 = untagged) -> VNI slot + 1 (0 = not mapped).
    pub vlan_to_vni: Option<Box<[u16; 4096]>>,
}

/// The underlay side of the gateway.
#[derive(Debug, Clone)]
pub struct UnderlayView {
    /// Port id.
    pub port: u16,
    /// Its MAC (outer source MAC).
    pub mac: MacAddr,
    /// Our VTEP address.
    pub vtep_ip: Ipv4Addr,
    /// Largest outer IPv4 packet (the port's MTU).
    pub mtu: u16,
    /// Largest inner IPv4 packet that fits `mtu` once encapsulated (at least 68, the
    /// IPv4 minimum).
    pub inner_ip_mtu: u16,
    /// VXLAN UDP port.
    pub vxlan_port: u16,
    /// The constant outer fields of VXLAN to us (the decap fast path's first check).
    pub outer_match: OuterMatch,
}

/// A remote VTEP with its precomputed outer headers.
#[derive(Debug, Clone)]
pub struct VtepView {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Whose MAC the outer frame is sent to (the VTEP itself, or the underlay gateway).
    pub next_hop: Ipv4Addr,
    /// Outer Ethernet + IPv4 + UDP + VXLAN with every constant field filled; the
    /// destination MAC, IP total length and checksum, UDP source port and length,
    /// and the VNI are written per packet.
    pub header: [u8; ENCAP_LEN],
    /// One's-complement sum of the constant IPv4 header words (checksum and total
    /// length taken as zero), folded to 16 bits, so the per-packet checksum is one
    /// ones' complement add ([`crate::wire::checksum::add16`]).
    pub ip_sum_base: u16,
}

/// A VXLAN segment.
#[derive(Debug, Clone)]
pub struct VniView {
    /// The VNI.
    pub vni: u32,
    /// VTEP indexes receiving head-end replicated BUM frames.
    pub flood: Vec<u16>,
    /// Access members: (port id, VLAN id; 0 = untagged).
    pub access: Vec<(u16, u16)>,
    /// The first access member as `port << 16 | vlan` (`u32::MAX`: none): the
    /// egress's VNI-isolation check compares with it first, one compare on the VNI
    /// it has at hand, and asks the port's VLAN map only for other members.
    pub first_member: u32,
    /// Learned-entry limit.
    pub learn_limit: u32,
    /// Dynamic-entry age (seconds).
    pub ageing_secs: u32,
    /// vxgw's own overlay address in this VNI, with the MAC it answers with.
    pub gateway: Option<(Ipv4Addr, MacAddr)>,
    /// vxgw's MAC in the overlay (its gateway address and the ingress endpoints).
    pub router_mac: MacAddr,
    /// vxgw's own overlay addresses here: the gateway address and the ingress
    /// endpoints of the services in this VNI (answers ARP and ping for them).
    pub local_ips: Vec<Ipv4Addr>,
    /// ARP suppression: overlay IP -> MAC.
    pub arp: HashMap<Ipv4Addr, MacAddr, RandomState>,
}

/// A backend of a service.
#[derive(Debug, Clone)]
pub struct BackendView {
    /// Overlay address.
    pub ip: Ipv4Addr,
    /// Weight (0 = drained).
    pub weight: u32,
    /// Counter slot (< [`MAX_BACKEND_SLOTS`]), stable while the backend exists.
    pub slot: u32,
}

/// The services published on one (protocol, port).
#[derive(Debug, Clone, Default)]
pub struct PublishedPort {
    /// Published on a specific address: (address, service index).
    pub exact: Vec<(Ipv4Addr, u16)>,
    /// Published on any address: service index.
    pub any: Option<u16>,
}

/// The key of a (protocol, port) in [`Snapshot::published_index`] (never 0).
fn published_key(proto: u8, port: u16) -> u32 {
    (proto as u32) << 16 | port as u32
}

/// The external side: the port clients reach published ports on, and how replies
/// are routed back to them.
#[derive(Debug, Clone)]
pub struct ExternalView {
    /// Port id.
    pub port: u16,
    /// Its MAC.
    pub mac: MacAddr,
    /// vxgw's address there (ARP, ping, source of ICMP errors).
    pub ip: Option<Ipv4Addr>,
    /// Netmask of the external prefix.
    pub mask: u32,
    /// The prefix's network and broadcast addresses, when it has them (see
    /// [`ExternalView::subnet_edges_of`]): every new client packet is checked
    /// against them.
    pub subnet_edges: Option<[u32; 2]>,
    /// Next hop for clients off the prefix.
    pub gateway: Option<Ipv4Addr>,
    /// Addresses answered for on the external port: `ip` and every published IP.
    pub local_ips: Vec<Ipv4Addr>,
    /// Every address vxgw itself uses: `local_ips`, the VTEP address, the VNIs'
    /// gateway addresses and the services' ingress endpoints. No client has one
    /// (RFC 1812 5.3.7: a packet from one of them is a martian). Sorted: every
    /// client packet is checked against it (binary search, not a scan of one
    /// address per VNI and service).
    pub own_ips: Vec<Ipv4Addr>,
}

impl ExternalView {
    /// The next hop towards `client`: itself when on-link (or when there is no
    /// gateway), else the gateway.
    #[inline]
    pub fn next_hop(&self, client: Ipv4Addr) -> Ipv4Addr {
        match (self.ip, self.gateway) {
            (Some(ip), Some(gw)) if u32::from(ip) & self.mask != u32::from(client) & self.mask => {
                gw
            }
            (None, Some(gw)) => gw,
            _ => client,
        }
    }

    /// Is `ip` one of vxgw's external addresses?
    #[inline]
    pub fn is_local(&self, ip: Ipv4Addr) -> bool {
        self.local_ips.contains(&ip)
    }

    /// Is `ip` one of vxgw's own addresses ([`ExternalView::own_ips`])?
    #[inline]
    pub fn is_own(&self, ip: Ipv4Addr) -> bool {
        // As integers: a comparison of two addresses is one instruction, not a
        // byte-wise slice comparison.
        let ip = u32::from(ip);
        self.own_ips
            .binary_search_by_key(&ip, |&a| u32::from(a))
            .is_ok()
    }

    /// Is `ip` the network or the broadcast address of the external prefix (when
    /// it has them: /30 and shorter)?
    #[inline]
    pub fn is_subnet_edge(&self, ip: Ipv4Addr) -> bool {
        self.subnet_edges
            .is_some_and(|[net, bcast]| u32::from(ip) == net || u32::from(ip) == bcast)
    }

    /// The network and broadcast addresses of the prefix of `ip` with netmask
    /// `mask`, when it has them (/30 and shorter; a /31 or /32 has neither).
    pub fn subnet_edges_of(ip: Option<Ipv4Addr>, mask: u32) -> Option<[u32; 2]> {
        let net = u32::from(ip?) & mask;
        (mask < 0xffff_fffe).then_some([net, net | !mask])
    }
}

/// A published port with its Maglev table (built on the control side).
#[derive(Debug, Clone)]
pub struct ServiceView {
    /// Stable id (kept across snapshots while the service exists; conntrack's
    /// service id).
    pub id: u32,
    /// Name.
    pub name: String,
    /// IPv4 protocol number (6 or 17).
    pub proto: u8,
    /// External address (None: any).
    pub published_ip: Option<Ipv4Addr>,
    /// External port.
    pub published_port: u16,
    /// VNI slot of the backends.
    pub vni: u16,
    /// Ingress endpoint (SNAT source).
    pub ingress_ip: Ipv4Addr,
    /// Port on the backends.
    pub target_port: u16,
    /// Keep the client's address (DNAT only).
    pub preserve_client: bool,
    /// Backends; Maglev answers indexes into this list.
    pub backends: Vec<BackendView>,
    /// The consistent-hash table.
    pub maglev: MaglevTable,
    /// Connection timeouts (None: the defaults).
    pub timeouts: ServiceTimeouts,
    /// New connections a second, all workers together (0: no limit).
    pub new_connection_rate: u32,
}

impl ServiceView {
    /// The backend Maglev gives a flow of hash `flow_hash`.
    #[inline]
    pub fn pick(&self, flow_hash: u64) -> Option<&BackendView> {
        self.maglev
            .lookup(flow_hash)
            .and_then(|i| self.backends.get(i as usize))
    }
}

/// One complete, immutable view of the configuration.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Increments with every published change.
    pub generation: u64,
    /// Ports by id.
    pub ports: Vec<PortView>,
    /// The underlay, when VXLAN is configured.
    pub underlay: Option<UnderlayView>,
    /// VTEPs; indexes are stable within one snapshot.
    pub vteps: Vec<VtepView>,
    /// VTEP address -> index (the decap allow-list).
    pub vtep_index: U32Index,
    /// VNIs by slot.
    pub vnis: Vec<VniView>,
    /// VNI -> slot.
    pub vni_index: U32Index,
    /// Published ports.
    pub services: Vec<ServiceView>,
    /// (protocol, published port) -> index into `published_ports`: the packet path
    /// finds a service with one hash probe, whatever the number of services.
    pub published_index: U32Index,
    /// The services published on one (protocol, port).
    pub published_ports: Vec<PublishedPort>,
    /// The external side, when a port has the external role.
    pub external: Option<ExternalView>,
    /// Next backend slot to try (slots are reused as late as possible).
    pub next_backend_slot: u32,
    /// Next service id.
    pub next_service_id: u32,
}

/// A port the DPDK side resolved: its id and MAC.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedPort {
    /// DPDK port id.
    pub id: u16,
    /// Its MAC.
    pub mac: MacAddr,
    /// Its MTU (bytes of IP packet).
    pub mtu: u16,
}

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
                timeouts: sv.timeouts.clone(),
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

    /// The port view of `id`, if configured.
    #[inline]
    pub fn port(&self, id: u16) -> Option<&PortView> {
        self.ports.get(id as usize).filter(|p| p.present)
    }

    /// VNI slot of a VNI.
    #[inline]
    pub fn vni_slot(&self, vni: u32) -> Option<u16> {
        self.vni_index.get(vni)
    }

    /// Index of a VTEP by address (the decap allow-list).
    #[inline]
    pub fn vtep_slot(&self, ip: Ipv4Addr) -> Option<u16> {
        self.vtep_index.get(u32::from(ip))
    }

    /// The service published at (proto, destination address, port): an exact address
    /// match first, then a service published on any address. One hash probe. Always
    /// inlined: it is on the mesh's per-packet path, and as a call it cost twice.
    #[inline(always)]
    pub fn service_for(&self, proto: u8, dst: Ipv4Addr, port: u16) -> Option<u16> {
        let g = self.published_index.get(published_key(proto, port))?;
        let p = self.published_ports.get(g as usize)?;
        p.exact
            .iter()
            .find(|&&(ip, _)| ip == dst)
            .map(|&(_, i)| i)
            .or(p.any)
    }

    /// Connection timeouts of service `id` (the defaults with its overrides; the
    /// defaults for a service that no longer exists).
    pub fn timeouts_of(&self, id: u32) -> super::conntrack::Timeouts {
        let mut t = super::conntrack::Timeouts::default();
        if let Some(s) = self.services.iter().find(|s| s.id == id) {
            let o = &s.timeouts;
            t.syn = o.syn.unwrap_or(t.syn);
            t.established = o.established.unwrap_or(t.established);
            t.closing = o.closing.unwrap_or(t.closing);
            t.udp = o.udp.unwrap_or(t.udp);
            t.udp_replied = o.udp_replied.unwrap_or(t.udp_replied);
        }
        t
    }

    /// Ageing time of a VNI (seconds); for the sweeper.
    pub fn ageing_of(&self, vni: u32) -> u32 {
        self.vni_slot(vni)
            .map(|s| self.vnis[s as usize].ageing_secs)
            .unwrap_or(300)
    }
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
    h[6..12].copy_from_slice(&ul.mac.0);
    h[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut h[14..34];
    ip[0] = 0x45;
    ip[1] = dscp << 2;
    ip[6] = if df { 0x40 } else { 0 };
    ip[8] = ttl;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&ul.vtep_ip.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let sum = crate::wire::checksum::sum(ip);
    h[36..38].copy_from_slice(&ul.vxlan_port.to_be_bytes());
    h[42] = crate::wire::vxlan::FLAG_I;
    (h, sum)
}

/// The published snapshot: workers `load()` it once per burst; the control thread
/// `publish()`es a new one. Readers never block and never see a partial update.
pub struct SnapshotCell(ArcSwap<Snapshot>);

impl SnapshotCell {
    /// A cell holding `s`.
    pub fn new(s: Snapshot) -> SnapshotCell {
        SnapshotCell(ArcSwap::from_pointee(s))
    }

    /// The current snapshot (a cheap, lock-free guard; hold it for one burst).
    #[inline]
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.0.load()
    }

    /// The current snapshot as an owned Arc (control side).
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// Makes `s` current for every worker's next burst.
    pub fn publish(&self, s: Snapshot) {
        self.0.store(Arc::new(s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"
[[port]]
name = "ul"
roles = ["underlay"]
[[port]]
name = "ext"
roles = ["external"]
[[vtep]]
ip = "172.30.0.11"
[[vni]]
id = 4096
flood = ["172.30.0.11"]
[[service]]
name = "web"
protocol = "tcp"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
backends = [{ ip = "10.255.0.11" }, { ip = "10.255.0.12" }, { ip = "10.255.0.13", weight = 0 }]
[[service]]
name = "web-vip"
protocol = "tcp"
published_ip = "192.0.2.1"
published_port = 80
vni = 4096
ingress_ip = "10.255.0.2"
target_port = 8080
mode = "preserve"
backends = [{ ip = "10.255.0.13" }]
"#;

    fn snap() -> Snapshot {
        let cfg = Config::parse(CFG).expect("config");
        Snapshot::build(
            &cfg,
            &|n| {
                Some(ResolvedPort {
                    id: if n == "ul" { 0 } else { 1 },
                    mac: MacAddr([2, 0, 0, 0, 0, if n == "ul" { 1 } else { 2 }]),
                    mtu: 1500,
                })
            },
            1,
        )
        .expect("snapshot")
    }

    #[test]
    fn services_resolve_exact_address_first() {
        let s = snap();
        let any = Ipv4Addr::new(198, 51, 100, 7);
        let vip = Ipv4Addr::new(192, 0, 2, 1);
        assert_eq!(s.service_for(6, any, 80), Some(0));
        assert_eq!(s.service_for(6, vip, 80), Some(1));
        assert_eq!(s.service_for(17, vip, 80), None, "UDP is not published");
        assert_eq!(s.service_for(6, vip, 81), None);
        let vip_svc = &s.services[1];
        assert!(vip_svc.preserve_client);
        assert_eq!(vip_svc.target_port, 8080);
        assert_eq!(
            s.services[0].target_port, 80,
            "defaults to the published port"
        );
    }

    #[test]
    fn maglev_spreads_over_active_backends_only() {
        let s = snap();
        let web = &s.services[0];
        let mut hits = [0u32; 3];
        for h in 0..60_000u64 {
            let b = web
                .maglev
                .lookup(h.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .expect("a backend");
            hits[b as usize] += 1;
        }
        assert_eq!(hits[2], 0, "the drained backend takes no new flows");
        assert!(hits[0].abs_diff(hits[1]) < 3_000, "balanced: {hits:?}");
    }
}
