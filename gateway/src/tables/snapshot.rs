//! The immutable configuration snapshot the workers read: ports and roles, the VTEP,
//! VNIs with their VLAN mappings and flood lists, VTEPs with precomputed outer
//! headers. Built by the control side (`control::snapshot_build`); workers load the current one
//! once per burst (RCU style, see `SnapshotCell`) and never see it change under them.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use ahash::RandomState;
use arc_swap::ArcSwap;

use super::maglev::MaglevTable;
use super::u32_index::U32Index;
use crate::wire::outer_match::OuterMatch;
use crate::wire::MacAddr;

/// Highest DPDK port id the snapshot indexes (ports are a small dense range).
pub const MAX_PORTS: usize = 32;
/// Backend slots: every backend of every service has one, stable while it exists,
/// for its per-worker counters (and the conntrack's backend id).
pub const MAX_BACKEND_SLOTS: usize = 4096;
/// Bytes vxgw puts in front of an inner frame: Ethernet, IPv4, UDP, VXLAN.
pub use crate::wire::vxlan::VXLAN_ENCAP_OVERHEAD as ENCAP_LEN;

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
pub fn published_key(proto: u8, port: u16) -> u32 {
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
    /// Connection timeouts: the defaults with the service's overrides.
    pub timeouts: super::conntrack::Timeouts,
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

    /// The backend a flow of hash `flow_hash` goes to when the backend at `avoid`
    /// refused it: Maglev's next other owner ([`MaglevTable::lookup_other`]);
    /// `None` when no other backend takes new connections.
    pub fn pick_other(&self, flow_hash: u64, avoid: Ipv4Addr) -> Option<&BackendView> {
        let Some(i) = self.backends.iter().position(|b| b.ip == avoid) else {
            return self.pick(flow_hash);
        };
        self.maglev
            .lookup_other(flow_hash, i as u32)
            .and_then(|i| self.backends.get(i as usize))
    }

    /// Whether a backend other than `ip` takes new connections (weight > 0).
    pub fn has_other_backend(&self, ip: Ipv4Addr) -> bool {
        self.backends.iter().any(|b| b.ip != ip && b.weight > 0)
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

impl Snapshot {
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
        self.services
            .iter()
            .find(|s| s.id == id)
            .map_or_else(Default::default, |s| s.timeouts)
    }

    /// Ageing time of a VNI (seconds); for the sweeper.
    pub fn ageing_of(&self, vni: u32) -> u32 {
        self.vni_slot(vni)
            .map(|s| self.vnis[s as usize].ageing_secs)
            .unwrap_or(300)
    }
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
