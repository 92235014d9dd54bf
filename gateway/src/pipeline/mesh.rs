//! The routing mesh (DESIGN "Packet paths" 3): a client's packet to a published port
//! is translated to a backend in the overlay; the backend's reply is translated back
//! and routed to the client.
//!
//! Forward (external rx, [`from_client`]): conntrack lookup of the client 5-tuple; a
//! new flow gets a backend from the service's Maglev table (a specified, seeded hash
//! of the 5-tuple, so every vxgw picks the same one) and, in SNAT mode, a source port
//! from this worker's range; then DNAT (+ SNAT), TTL decrement, MSS clamp on SYN,
//! inner MACs (vxgw's overlay MAC -> the backend's), and the frame is bridged in the
//! service's VNI like any other (FDB -> VTEP or access port; unknown -> flood).
//!
//! Reverse ([`from_backend`]): a frame in a VNI addressed to vxgw's overlay MAC that
//! is not for vxgw itself is a routed packet; its 5-tuple must be the reply key of a
//! tracked connection; un-NAT, TTL decrement, and route it out of the external port
//! to the client's next hop.
//!
//! An unknown TCP segment without SYN (the connection was created by another vxgw
//! behind the same ECMP group, or before a restart, or it expired) is re-balanced:
//! Maglev gives the same backend as before whenever the backend set did not change,
//! so the connection simply continues in preserve mode; in SNAT mode the backend sees
//! a new source port and answers with a RST, so the client learns at once (never a
//! black hole). A RST without state is dropped (`no_connection`).
//!
//! ICMP errors about tracked flows are translated both ways (quoted headers
//! included); a packet too big for the overlay with DF set gets ICMP fragmentation
//! needed back to the client.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::decision::{Decision, DropReason, MeshSide, Origin, Target};
use super::fragments;
use super::mesh_cache::WarmedSyn;
use super::{edge, Ctx, Event, MeshTables, PacketBuf, Step};
use crate::tables::conntrack::{
    Conn, Conntrack, CtHit, CtInsertError, CtState, Dir, FlowKey, PackedKey,
};
use crate::tables::fdb::FdbDest;
use crate::tables::flow_hash::FlowSeed;
use crate::tables::snapshot::{BackendView, ExternalView, ServiceView, ENCAP_LEN};
use crate::tables::snat_source::SNAT_TRIES;
use crate::wire::ethernet::field::{DST, ETHERTYPE, SRC};
use crate::wire::ethernet::{MacAddr, HEADER_LEN as ETH};
use crate::wire::ipv4::field::{DST_ADDR, FLAGS_FRAG, PROTOCOL, SRC_ADDR, TOTAL_LEN, TTL, VER_IHL};
use crate::wire::ipv4::{protocol, MIN_HEADER_LEN as IP_MIN};
use crate::wire::tcp::field::{DST_PORT, FLAGS as TCP_FLAGS, SRC_PORT};
use crate::wire::tcp::flags as tcp;

use super::mesh_key::{
    key_of, packed_at, plain_client, plain_client_any, total_and_flags, KEY_LEN,
};
use super::nat::{self, NatError};

/// Largest inner IPv4 packet that fits the underlay MTU once encapsulated.
#[inline]
pub(super) fn overlay_ip_mtu(ctx: &Ctx) -> usize {
    ctx.snap
        .underlay
        .as_ref()
        .map_or(1500 - ENCAP_LEN, |u| u.inner_ip_mtu as usize)
}

fn tcp_flags(ip: &[u8], proto: u8) -> u8 {
    if proto != protocol::TCP {
        return 0;
    }
    let hl = ((ip[VER_IHL] & 0x0f) as usize) * 4;
    ip.get(hl + TCP_FLAGS).copied().unwrap_or(0)
}

fn nat_drop(e: NatError) -> DropReason {
    match e {
        NatError::Fragment => DropReason::Fragment,
        NatError::TtlExpired => DropReason::TtlExpired,
        NatError::NotTcpUdp | NatError::NotTcp | NatError::NotIcmpEcho => {
            DropReason::UnsupportedProtocol
        }
        NatError::NotIcmpError | NatError::Suppressed => DropReason::MalformedIcmp,
        NatError::Malformed => DropReason::MalformedIpv4,
        NatError::Truncated | NatError::BufferTooSmall => DropReason::MalformedL4,
    }
}

/// A packet from a client on the external port, IPv4 to vxgw's MAC, not for vxgw
/// itself: a published port, or an ICMP error about a tracked connection.
pub(super) fn from_client<B: PacketBuf>(ctx: &Ctx, ext: &ExternalView, buf: &mut B) -> Decision {
    let Some(m) = ctx.mesh.as_ref() else {
        return Decision::Drop(DropReason::NoService);
    };
    let ip = &buf.data()[ETH..];
    let flow = match nat::parse_flow(ip) {
        Ok(f) if f.proto != protocol::ICMP => f,
        Ok(_) => return Decision::Drop(DropReason::NoService),
        Err(NatError::NotIcmpEcho) => return icmp_error_from_client(ctx, m, buf),
        Err(NatError::Fragment) => return later_fragment_from_client(ctx, m, buf),
        Err(e) => return Decision::Drop(nat_drop(e)),
    };
    let Some(si) = ctx.snap.service_for(flow.proto, flow.dst, flow.dst_port) else {
        return Decision::Drop(DropReason::NoService);
    };
    let svc = &ctx.snap.services[si as usize];
    ctx.note(|| Step::Service(si));
    let total = u16::from_be_bytes([ip[TOTAL_LEN], ip[TOTAL_LEN + 1]]) as usize;
    let flags = tcp_flags(ip, flow.proto);
    if total > overlay_ip_mtu(ctx) {
        return too_big(ctx, ext, buf, flow.dst);
    }
    // Whatever drops the packet must do so before a connection is made for it.
    if ip[TTL] <= 1 {
        return Decision::Drop(DropReason::TtlExpired);
    }
    let key = key_of(&flow);
    let syn_only = flags & (tcp::SYN | tcp::ACK) == tcp::SYN;
    let found = if syn_only {
        // A SYN is nearly always a new connection: no lookup first, the insert finds
        // a tracked one itself (a retransmission, or a reused 5-tuple).
        None
    } else {
        track(ctx, m, &key, flags, Dir::Original)
    };
    let (c, made) = match found {
        Some(h) if h.dir == Dir::Original => (h.conn(), None),
        // A client packet that matches a reply key: someone speaks for a backend.
        Some(_) => return Decision::Drop(DropReason::ConntrackConflict),
        None => match new_connection(ctx, m, si, svc, &key, flags) {
            Ok(made) => made,
            Err(r) => return Decision::Drop(r),
        },
    };
    let ip = &mut buf.data_mut()[ETH..];
    if fragments::is_first_fragment(ip) {
        m.cache
            .fragments
            .remember(ip, flow.src_port, flow.dst_port, ctx.now);
    }
    if flags & tcp::SYN != 0 {
        clamp(ctx, ip);
    }
    let snat = c.snat.map(|s| (*s.ip(), s.port()));
    let d = match nat::rewrite(ip, snat, Some((*c.backend.ip(), c.backend.port())), true) {
        Ok(_) => {
            ctx.note(|| Step::Translated {
                src: c.snat.unwrap_or(SocketAddrV4::new(flow.src, flow.src_port)),
                dst: c.backend,
            });
            m.backends.packet(c.backend_id, true, total);
            ctx.counters.event(Event::MeshToBackend);
            into_overlay(ctx, m, svc.vni, *c.backend.ip(), c.backend_id, buf)
        }
        Err(e) => Decision::Drop(nat_drop(e)),
    };
    // The checks above leave nothing for these to refuse; should one, the packet
    // leaves no connection behind.
    if let Some(hit) = made.filter(|_| matches!(d, Decision::Drop(_))) {
        m.conntrack.remove(hit.idx, hit.gen);
    }
    d
}

/// The tracked connection of `key`, with this packet accounted in direction `dir`
/// (observed) when the connection matches that direction: the burst's warmed hit
/// when it is still valid, else a lookup. A hit in the other direction is returned
/// unobserved (the caller refuses it).
/// Always inlined, like `into_overlay`, `nat::parse_flow`, `nat::rewrite` and
/// `Conntrack::observe_checked`: as calls, their frames cost ~120 of the forward
/// path's ~1540 instructions per packet (perf/instructions.sh).
///
/// A miss of the warm-up is trusted (except for a RST, rare, which must find a
/// connection an earlier packet of its burst made): the flow is new, and the
/// insert that follows finds a connection made since then anyway. A flood of new
/// flows pays one lookup a packet, not two.
#[inline(always)]
fn track(ctx: &Ctx, m: &MeshTables, key: &FlowKey, flags: u8, dir: Dir) -> Option<CtHit> {
    match m.cache.warmed_lookup(&PackedKey::of(key)) {
        Some(Some(h))
            if h.dir == dir && m.conntrack.observe_checked(&h, flags, ctx.now).is_some() =>
        {
            return Some(h);
        }
        Some(None) if flags & tcp::RST == 0 => return None,
        _ => {}
    }
    let h = m.conntrack.lookup(key)?;
    ctx.note(|| Step::Conntrack {
        dir: h.dir,
        state: h.state,
        backend: h.conn().backend,
    });
    if h.dir == dir && !ctx.dry() {
        m.conntrack.observe(&h, flags, ctx.now);
    }
    Some(h)
}

/// The refusals of a new flow of service `svc` (snapshot index `si`) that need no
/// state and make none, in order: the table full of connections it may not evict,
/// the flood guard's budget spent, no backend, no SNAT port left towards the
/// backend picked. Otherwise that backend, picked with `flow_hash()` (asked only
/// here: a refusal before the pick needs no hash). Both the general path
/// ([`new_connection`]) and the early refusal ([`refusal`]) ask this, so they
/// refuse alike.
#[inline(always)]
fn admission_check<'s>(
    ctx: &Ctx,
    m: &MeshTables,
    si: u16,
    svc: &'s ServiceView,
    flow_hash: impl FnOnce() -> u64,
) -> Result<&'s BackendView, DropReason> {
    let admission = m.admission;
    if admission.table_full(ctx.now) {
        return Err(DropReason::ConntrackFull);
    }
    if admission.spent(si, svc, ctx.now) {
        admission.note_refused(ctx.now);
        return Err(DropReason::NewConnectionRate);
    }
    // Whichever backend the pick gives has no SNAT port: no hash, no pick.
    if !svc.preserve_client && admission.service_exhausted(si, svc, ctx.snap.generation, ctx.now) {
        return Err(DropReason::SnatPortsExhausted);
    }
    let hash = flow_hash();
    ctx.note(|| Step::Maglev {
        hash,
        slot: svc.maglev.slot_of(hash),
        size: svc.maglev.size(),
    });
    let pick = svc.pick(hash).ok_or(DropReason::NoBackend)?;
    if !svc.preserve_client && admission.snat_exhausted(pick.slot, ctx.now) {
        return Err(DropReason::SnatPortsExhausted);
    }
    Ok(pick)
}

/// True when a SYN that finds connection `h` is balanced afresh instead of joining
/// it: `h` is finished (a client reusing its 5-tuple), or half-open towards a
/// backend removed since (its task died before answering; as IPVS's
/// expire_nodest_conn, rather than retransmitting after it until the client gives up).
fn syn_rebalances(flags: u8, h: &CtHit, svc: &ServiceView) -> bool {
    flags & (tcp::SYN | tcp::ACK) == tcp::SYN
        && (h.state.is_finished()
            || (h.state == CtState::SynSent
                && !svc.backends.iter().any(|b| b.ip == *h.conn().backend.ip())))
}

/// Whether `h`, a finished connection that a SYN of the same 5-tuple finds, was
/// refused by backend `pick` before it was ever answered: closed (by a RST)
/// while unassured. Mostly the RST to a SYN that `another_may_answer` withheld;
/// also a client's reset of a half-open connection, where another backend is as
/// good a choice.
fn refused_by(h: &CtHit, pick: &BackendView) -> bool {
    h.state == CtState::Closed && !h.assured && *h.conn().backend.ip() == pick.ip
}

/// Creates the connection of a packet with no state (service `svc`, snapshot index
/// `si`): admission, Maglev pick, SNAT port, insert. The connection, and its entry
/// when this call made it (not when another worker or an earlier packet just did).
/// A dry trace inserts nothing: the connection that would be made, without entry.
/// Every refusal is O(1) while its cause lasts (see `admission`).
fn new_connection(
    ctx: &Ctx,
    m: &MeshTables,
    si: u16,
    svc: &ServiceView,
    key: &FlowKey,
    flags: u8,
) -> Result<(Conn, Option<CtHit>), DropReason> {
    let state = if key.proto != protocol::TCP {
        CtState::UdpNew
    } else if flags & tcp::RST != 0 {
        return Err(DropReason::NoConnection);
    } else if flags & tcp::SYN != 0 && flags & tcp::ACK == 0 {
        CtState::SynSent
    } else {
        // Mid-stream: re-balance (see the module docs).
        CtState::Established
    };
    // A SYN warmed with its burst comes with its flow hash and first SNAT port.
    let warmed = m.cache.warmed_syn(&PackedKey::of(key));
    let mut pick = admission_check(ctx, m, si, svc, || {
        warmed.map_or_else(|| FlowSeed::DEFAULT.hash_flow(key), |w| w.flow_hash)
    })?;
    let admission = m.admission;
    // Not spent (checked just above): this takes one.
    admission.take(si, svc, ctx.now);
    let mut first_port = warmed.and_then(|w| w.snat_port);
    let mut ports = m.snat.borrow_mut();
    let mut conn = new_conn(key, svc, pick, ports.worker());
    // In SNAT mode, try source ports until one is free towards this backend (see
    // snat_source); in preserve mode there is one try.
    let tries = if svc.preserve_client { 1 } else { SNAT_TRIES };
    if ctx.dry() {
        // A SYN retransmitted (or a 5-tuple in use): the insert would find it.
        if let Some(h) = m
            .conntrack
            .lookup(key)
            .filter(|h| !syn_rebalances(flags, h, svc))
        {
            ctx.note(|| Step::Conntrack {
                dir: h.dir,
                state: h.state,
                backend: h.conn().backend,
            });
            return Ok((h.conn(), None));
        }
        if !svc.preserve_client {
            let port = first_port.take().unwrap_or_else(|| ports.candidate());
            conn.snat = Some(SocketAddrV4::new(svc.ingress_ip, port));
        }
        ctx.note(|| Step::NewConnection {
            backend: conn.backend,
            snat: conn.snat,
            made: false,
        });
        return Ok((conn, None));
    }
    // The entry of a finished connection on the same 5-tuple, removed below, costs
    // no try (in preserve mode there is only one).
    let mut tries = tries;
    let mut rebalanced = false;
    while tries > 0 {
        tries -= 1;
        if !svc.preserve_client {
            let port = first_port.take().unwrap_or_else(|| ports.candidate());
            conn.snat = Some(SocketAddrV4::new(svc.ingress_ip, port));
        }
        match m.conntrack.insert(&conn, state, ctx.now) {
            Ok(h) => {
                m.backends.connection(pick.slot);
                ctx.counters.event(Event::MeshNewConnections);
                if state == CtState::Established {
                    ctx.counters.event(Event::MeshRepicked);
                }
                ctx.note(|| Step::NewConnection {
                    backend: conn.backend,
                    snat: conn.snat,
                    made: true,
                });
                return Ok((conn, Some(h)));
            }
            // A new connection reusing the 5-tuple of a finished one is balanced
            // afresh (a drained backend takes no new connections, even on a reused
            // client port): the old entry goes, the insert is tried again.
            Err(CtInsertError::Exists(h)) if !rebalanced && syn_rebalances(flags, &h, svc) => {
                rebalanced = true;
                tries += 1;
                if !h.state.is_finished() {
                    ctx.counters.event(Event::MeshRepickedGone);
                }
                m.conntrack.remove(h.idx, h.gen);
                let refused = *h.conn().backend.ip();
                if refused_by(&h, pick) {
                    // Its backend refused the SYN this one retransmits (the RST was
                    // withheld, see `another_may_answer`): Maglev's next other one.
                    let hash =
                        warmed.map_or_else(|| FlowSeed::DEFAULT.hash_flow(key), |w| w.flow_hash);
                    if let Some(other) = svc.pick_other(hash, refused).filter(|b| {
                        svc.preserve_client || !admission.snat_exhausted(b.slot, ctx.now)
                    }) {
                        ctx.counters.event(Event::MeshRepickedRefused);
                        pick = other;
                        conn = new_conn(key, svc, pick, ports.worker());
                    }
                }
            }
            Err(CtInsertError::Exists(h)) => {
                ctx.note(|| Step::Conntrack {
                    dir: h.dir,
                    state: h.state,
                    backend: h.conn().backend,
                });
                m.conntrack.observe(&h, flags, ctx.now);
                return Ok((h.conn(), None));
            }
            Err(CtInsertError::Full) => {
                if table_stays_full(m.conntrack) {
                    admission.note_table_full(ctx.now);
                }
                return Err(DropReason::ConntrackFull);
            }
            Err(CtInsertError::KeyConflict) => {}
        }
    }
    if svc.preserve_client {
        return Err(DropReason::ConntrackConflict);
    }
    admission.note_service_backend_exhausted(si, svc, ctx.snap.generation, pick.slot, ctx.now);
    Err(DropReason::SnatPortsExhausted)
}

/// After an insert found no room: is the table full of connections no new one may
/// evict (so that new flows are refused without an insert for the rest of the
/// second)? Only when it has no free entry and no unassured or finished connection
/// anywhere: an insert's window of assured connections is that flow's bad luck,
/// and marking the table for it refused every new client for a second while a
/// flood of strangers (evictable, each) filled the rest. Out of the packet path:
/// it sums the table's gauges.
#[cold]
fn table_stays_full(ct: &Conntrack) -> bool {
    if ct.has_free_entry() {
        return false;
    }
    let s = ct.stats();
    s.unassured() + s.in_state(CtState::TimeWait) + s.in_state(CtState::Closed) == 0
}

/// The early refusal of a client's frame `f` on the external port: while the
/// admission refuses flows this second (a flood is likely: [`Admission::refusing`](super::Admission::refusing)),
/// a packet that the routing mesh would refuse without making state is refused
/// after one parse of its headers, instead of the general path's (edge checks,
/// `parse_flow`, the service, the conntrack, `new_connection`: ~1,300
/// instructions a packet). It makes the general path's checks in the general
/// path's order, so it refuses exactly what that path would refuse, for the same
/// reason (`edge_tests.rs` compares the two): the frame is a plain client packet
/// (`mesh_key::plain_client_any`: the edge's MAC, header and L4 checks; the
/// warm-up made them already for most), its addresses are no martians, its
/// service exists, it fits the overlay, it is a SYN or the burst's warm-up looked
/// it up and found nothing, and then [`admission_check`] refuses it. `None` leaves
/// the frame to the general path.
#[inline(never)]
pub(super) fn refusal(ctx: &Ctx, ext: &ExternalView, f: &[u8]) -> Option<DropReason> {
    let m = ctx.mesh.as_ref()?;
    if !m.admission.refusing(ctx.now) {
        return None;
    }
    // A plain client packet that the warm-up looked up in vain was checked there
    // (`plain_client`: those of `plain_client_any`, and no SYN or RST) and needs no
    // second parse: a flood of new non-SYN flows (spoofed ACKs, UDP) is mostly that.
    let miss = m.cache.plain_miss();
    let (key, flags, total) = match miss {
        Some(key) => {
            let (total, flags) = total_and_flags(f, key.proto())?;
            (key, flags, total)
        }
        None => plain_client_any(f, ext.mac.to_u64())?,
    };
    if let Err(r) = edge::check_addresses(ext, f.get(ETH..)?) {
        return Some(r);
    }
    let Some(si) = m
        .cache
        .service_for(ctx.snap, key.proto(), key.dst(), key.dst_port())
    else {
        return Some(DropReason::NoService);
    };
    let svc = ctx.snap.services.get(si as usize)?;
    if total > overlay_ip_mtu(ctx) || flags & tcp::RST != 0 {
        return None;
    }
    let syn_only = key.proto() == protocol::TCP && flags & (tcp::SYN | tcp::ACK) == tcp::SYN;
    if !syn_only && miss.is_none() && m.cache.warmed_lookup(&key) != Some(None) {
        return None;
    }
    let warmed = syn_only.then(|| m.cache.warmed_syn(&key)).flatten();
    admission_check(ctx, m, si, svc, || {
        warmed.map_or_else(|| FlowSeed::DEFAULT.hash_flow(&key.flow()), |w| w.flow_hash)
    })
    .err()
}

/// The connection of a new flow `key` of `svc` to backend `pick`, made by worker
/// `owner`, before its SNAT port is chosen.
fn new_conn(key: &FlowKey, svc: &ServiceView, pick: &BackendView, owner: u16) -> Conn {
    Conn {
        proto: key.proto,
        client: SocketAddrV4::new(key.src, key.src_port),
        published: SocketAddrV4::new(key.dst, key.dst_port),
        backend: SocketAddrV4::new(pick.ip, svc.target_port),
        snat: None,
        service: svc.id,
        backend_id: pick.slot,
        owner,
    }
}

/// Lowers the MSS of a SYN to what fits the overlay.
fn clamp(ctx: &Ctx, ip: &mut [u8]) {
    let mss = (overlay_ip_mtu(ctx) - 40) as u16;
    if let Ok(Some(_)) = nat::clamp_mss(ip, mss) {
        ctx.counters.event(Event::MssClamped);
    }
}

/// Addresses a translated packet (an IPv4 packet after 14 bytes) to `backend` (counter
/// slot `slot`) in VNI slot `vni` and bridges it there. The backend's MAC and FDB
/// answer are cached per worker for the current snapshot and second.
#[inline(always)]
fn into_overlay<B: PacketBuf>(
    ctx: &Ctx,
    m: &MeshTables,
    vni: u16,
    backend: Ipv4Addr,
    slot: u32,
    buf: &mut B,
) -> Decision {
    let Some(v) = ctx.snap.vnis.get(vni as usize) else {
        return Decision::Drop(DropReason::UnknownVni);
    };
    let f = buf.data_mut();
    f[SRC].copy_from_slice(&v.router_mac.0);
    f[ETHERTYPE..ETHERTYPE + 2]
        .copy_from_slice(&crate::wire::ethernet::ethertype::IPV4.to_be_bytes());
    let generation = ctx.snap.generation;
    if let Some((mac, d)) = m.cache.route(slot, generation, ctx.now) {
        f[DST].copy_from_slice(&mac.0);
        return d;
    }
    let mac = v
        .arp
        .get(&backend)
        .copied()
        .or_else(|| m.overlay_neigh.lookup(v.vni, backend));
    match mac {
        Some(mac) => {
            f[DST].copy_from_slice(&mac.0);
            let d = deliver_in_vni(ctx, vni, mac);
            m.cache.set_route(slot, generation, ctx.now, mac, d);
            d
        }
        None => Decision::Resolve { vni, ip: backend },
    }
}

/// Where a frame vxgw itself sends to `dst` in VNI slot `vni` goes: the FDB's
/// answer, or a flood to every member when the MAC's location is unknown.
pub fn deliver_in_vni(ctx: &Ctx, vni: u16, dst: MacAddr) -> Decision {
    let v = &ctx.snap.vnis[vni as usize];
    match ctx.fdb.lookup(v.vni, dst) {
        Some(FdbDest::Access { port, vlan }) => Decision::Forward {
            vni,
            to: Target::Access { port, vlan },
        },
        Some(FdbDest::Vtep(ip)) => match ctx.burst.vtep_slot(ctx.snap, ip) {
            Some(i) => Decision::Forward {
                vni,
                to: Target::Vtep(i),
            },
            None => Decision::Flood {
                vni,
                from: Origin::Local,
            },
        },
        None => Decision::Flood {
            vni,
            from: Origin::Local,
        },
    }
}

/// An IPv4 frame in VNI slot `vni` addressed to vxgw's overlay MAC and not to one
/// of its own addresses: a backend's reply (or an ICMP error about a connection).
pub(super) fn from_backend<B: PacketBuf>(ctx: &Ctx, buf: &mut B) -> Decision {
    let Some(m) = ctx.mesh.as_ref() else {
        return Decision::Drop(DropReason::NoConnection);
    };
    let Some(ext) = ctx.snap.external.as_ref() else {
        return Decision::Drop(DropReason::NotRoutable);
    };
    let ip = &buf.data()[ETH..];
    if let Err(reason) = edge::check_packet(ip) {
        return Decision::Drop(reason);
    }
    let flow = match nat::parse_flow(ip) {
        Ok(f) => f,
        Err(NatError::NotIcmpEcho) => return icmp_error_from_backend(ctx, m, ext, buf),
        Err(NatError::Fragment) => return later_fragment_from_backend(ctx, m, ext, buf),
        Err(e) => return Decision::Drop(nat_drop(e)),
    };
    let flags = tcp_flags(ip, flow.proto);
    let total = u16::from_be_bytes([ip[TOTAL_LEN], ip[TOTAL_LEN + 1]]) as usize;
    let hit = match track(ctx, m, &key_of(&flow), flags, Dir::Reply) {
        Some(h) if h.dir == Dir::Reply => h,
        _ => return Decision::Drop(DropReason::NoConnection),
    };
    let c = hit.conn();
    if flags & tcp::RST != 0 && hit.state == CtState::SynSent && another_may_answer(ctx, &c) {
        return Decision::Drop(DropReason::BackendRefused);
    }
    let ip = &mut buf.data_mut()[ETH..];
    if fragments::is_first_fragment(ip) {
        m.cache
            .fragments
            .remember(ip, flow.src_port, flow.dst_port, ctx.now);
    }
    if flags & tcp::SYN != 0 {
        clamp(ctx, ip);
    }
    let to_client = c.snat.map(|_| (*c.client.ip(), c.client.port()));
    if let Err(e) = nat::rewrite(
        ip,
        Some((*c.published.ip(), c.published.port())),
        to_client,
        true,
    ) {
        return Decision::Drop(nat_drop(e));
    }
    m.backends.packet(c.backend_id, false, total);
    ctx.counters.event(Event::MeshToClient);
    to_external(ext, *c.client.ip(), buf)
}

/// Whether connection `c`, refused by its backend (a RST to the client's SYN), can
/// be retried on another backend of its service instead of failing: then the RST
/// is withheld from the client (`backend_refused`), the connection is left
/// closed, and the client's retransmitted SYN is balanced afresh to another
/// backend ([`new_connection`]). A task killed, or a server not listening yet or
/// any more, costs the client one SYN retransmission instead of a refused
/// connection, as a proxy's retry on another upstream would. With no other
/// backend the RST goes through: the client learns at once.
fn another_may_answer(ctx: &Ctx, c: &Conn) -> bool {
    ctx.snap
        .services
        .iter()
        .find(|s| s.id == c.service)
        .is_some_and(|s| s.has_other_backend(*c.backend.ip()))
}

/// What a later fragment's datagram is: its first fragment's connection, observed
/// in direction `dir`, or not known yet.
enum FragmentOf {
    Connection(CtHit),
    /// No first fragment of this datagram remembered (yet).
    Unknown,
}

/// The connection of a later fragment (IPv4 header at `ip`) whose first fragment
/// this worker translated, matched in direction `dir`, observed.
fn fragment_connection(
    ctx: &Ctx,
    m: &MeshTables,
    ip: &[u8],
    dir: Dir,
) -> Result<FragmentOf, DropReason> {
    let Some((src_port, dst_port)) = m.cache.fragments.ports_of(ip, ctx.now) else {
        return Ok(FragmentOf::Unknown);
    };
    let (s, d) = (SRC_ADDR.start, DST_ADDR.start);
    let key = FlowKey {
        proto: ip[PROTOCOL],
        src: Ipv4Addr::new(ip[s], ip[s + 1], ip[s + 2], ip[s + 3]),
        dst: Ipv4Addr::new(ip[d], ip[d + 1], ip[d + 2], ip[d + 3]),
        src_port,
        dst_port,
    };
    match m.conntrack.lookup(&key) {
        Some(h) if h.dir == dir => {
            if !ctx.dry() {
                m.conntrack.observe(&h, 0, ctx.now);
            }
            Ok(FragmentOf::Connection(h))
        }
        _ => Err(DropReason::NoConnection),
    }
}

/// A later fragment of the routing mesh, again: one the worker held
/// ([`Decision::AwaitFirstFragment`]) after a first fragment was remembered. `buf`
/// is as the pipeline left it (a client's frame, or a backend's inner frame).
pub fn later_fragment<B: PacketBuf>(ctx: &Ctx, from: MeshSide, buf: &mut B) -> Decision {
    let Some(m) = ctx.mesh.as_ref() else {
        return Decision::Drop(DropReason::NoConnection);
    };
    if buf.data().len() < ETH + IP_MIN {
        return Decision::Drop(DropReason::Truncated);
    }
    match from {
        MeshSide::Client => later_fragment_from_client(ctx, m, buf),
        MeshSide::Backend => match ctx.snap.external.as_ref() {
            Some(ext) => later_fragment_from_backend(ctx, m, ext, buf),
            None => Decision::Drop(DropReason::NotRoutable),
        },
    }
}

/// A later fragment from a client (no L4 header): translated like its datagram's
/// first fragment (addresses only; the ports and the L4 checksum were in the first)
/// and sent to the same backend.
fn later_fragment_from_client<B: PacketBuf>(ctx: &Ctx, m: &MeshTables, buf: &mut B) -> Decision {
    let ip = &buf.data()[ETH..];
    let total = u16::from_be_bytes([ip[TOTAL_LEN], ip[TOTAL_LEN + 1]]) as usize;
    if total > overlay_ip_mtu(ctx) {
        return Decision::Drop(DropReason::MtuExceeded);
    }
    let hit = match fragment_connection(ctx, m, ip, Dir::Original) {
        Ok(FragmentOf::Connection(h)) => h,
        Ok(FragmentOf::Unknown) => {
            return Decision::AwaitFirstFragment {
                from: MeshSide::Client,
            }
        }
        Err(r) => return Decision::Drop(r),
    };
    let c = hit.conn();
    let Some(svc) = ctx.snap.services.iter().find(|s| s.id == c.service) else {
        return Decision::Drop(DropReason::NoService);
    };
    let ip = &mut buf.data_mut()[ETH..];
    if let Err(e) = nat::rewrite_later_fragment(ip, c.snat.map(|s| *s.ip()), Some(*c.backend.ip()))
    {
        return Decision::Drop(nat_drop(e));
    }
    m.backends.packet(c.backend_id, true, total);
    ctx.counters.event(Event::MeshToBackend);
    into_overlay(ctx, m, svc.vni, *c.backend.ip(), c.backend_id, buf)
}

/// A later fragment of a backend's reply: translated like its first fragment and
/// routed to the client.
fn later_fragment_from_backend<B: PacketBuf>(
    ctx: &Ctx,
    m: &MeshTables,
    ext: &ExternalView,
    buf: &mut B,
) -> Decision {
    let ip = &buf.data()[ETH..];
    let total = u16::from_be_bytes([ip[TOTAL_LEN], ip[TOTAL_LEN + 1]]) as usize;
    let hit = match fragment_connection(ctx, m, ip, Dir::Reply) {
        Ok(FragmentOf::Connection(h)) => h,
        Ok(FragmentOf::Unknown) => {
            return Decision::AwaitFirstFragment {
                from: MeshSide::Backend,
            }
        }
        Err(r) => return Decision::Drop(r),
    };
    let c = hit.conn();
    let to_client = c.snat.map(|_| *c.client.ip());
    let ip = &mut buf.data_mut()[ETH..];
    if let Err(e) = nat::rewrite_later_fragment(ip, Some(*c.published.ip()), to_client) {
        return Decision::Drop(nat_drop(e));
    }
    m.backends.packet(c.backend_id, false, total);
    ctx.counters.event(Event::MeshToClient);
    to_external(ext, *c.client.ip(), buf)
}

/// Sets the source MAC of a routed frame and sends it towards `client`.
fn to_external<B: PacketBuf>(ext: &ExternalView, client: Ipv4Addr, buf: &mut B) -> Decision {
    buf.data_mut()[SRC].copy_from_slice(&ext.mac.0);
    Decision::Route {
        port: ext.port,
        next_hop: ext.next_hop(client),
    }
}

/// An ICMP error from the client side (the client or a router on its path) about a
/// packet vxgw sent to the client: translated for the backend and sent to it.
fn icmp_error_from_client<B: PacketBuf>(ctx: &Ctx, m: &MeshTables, buf: &mut B) -> Decision {
    let Some(quoted) = nat::parse_icmp_error(&buf.data()[ETH..]) else {
        return Decision::Drop(DropReason::MalformedIcmp);
    };
    // The quote is published -> client; its original key is the reverse.
    let hit = match m.conntrack.lookup(&key_of(&quoted.reversed())) {
        Some(h) if h.dir == Dir::Original => h,
        _ => return Decision::Drop(DropReason::NoConnection),
    };
    let c = hit.conn();
    let Some(si) = ctx.snap.services.iter().position(|s| s.id == c.service) else {
        return Decision::Drop(DropReason::NoService);
    };
    let backend = (*c.backend.ip(), c.backend.port());
    let seen_as = c.snat.map(|s| (*s.ip(), s.port()));
    // Routed: one hop less (none left: dropped), as every packet vxgw routes.
    if let Err(e) = nat::decrement_ttl(&mut buf.data_mut()[ETH..]) {
        return Decision::Drop(nat_drop(e));
    }
    if let Err(e) = nat::translate_icmp_error(
        &mut buf.data_mut()[ETH..],
        seen_as.map(|s| s.0),
        Some(backend.0),
        Some(backend),
        seen_as,
    ) {
        return Decision::Drop(nat_drop(e));
    }
    ctx.counters.event(Event::IcmpErrorsTranslated);
    into_overlay(
        ctx,
        m,
        ctx.snap.services[si].vni,
        backend.0,
        c.backend_id,
        buf,
    )
}

/// An ICMP error from a backend (or the overlay) about a packet vxgw sent it:
/// translated for the client and routed to it.
fn icmp_error_from_backend<B: PacketBuf>(
    ctx: &Ctx,
    m: &MeshTables,
    ext: &ExternalView,
    buf: &mut B,
) -> Decision {
    let Some(quoted) = nat::parse_icmp_error(&buf.data()[ETH..]) else {
        return Decision::Drop(DropReason::MalformedIcmp);
    };
    // The quote is (ingress endpoint or client) -> backend: the reverse is the reply key.
    let hit = match m.conntrack.lookup(&key_of(&quoted.reversed())) {
        Some(h) if h.dir == Dir::Reply => h,
        _ => return Decision::Drop(DropReason::NoConnection),
    };
    let c = hit.conn();
    let published = (*c.published.ip(), c.published.port());
    let client = (*c.client.ip(), c.client.port());
    // Routed: one hop less (none left: dropped), as every packet vxgw routes.
    if let Err(e) = nat::decrement_ttl(&mut buf.data_mut()[ETH..]) {
        return Decision::Drop(nat_drop(e));
    }
    if let Err(e) = nat::translate_icmp_error(
        &mut buf.data_mut()[ETH..],
        Some(published.0),
        Some(client.0),
        Some(client),
        Some(published),
    ) {
        return Decision::Drop(nat_drop(e));
    }
    ctx.counters.event(Event::IcmpErrorsTranslated);
    to_external(ext, client.0, buf)
}

/// A client packet larger than the overlay carries: with DF, turned into ICMP
/// fragmentation needed back to the sender (from the address it talked to); without
/// DF, dropped (vxgw does not fragment).
fn too_big<B: PacketBuf>(
    ctx: &Ctx,
    ext: &ExternalView,
    buf: &mut B,
    talked_to: Ipv4Addr,
) -> Decision {
    let f = buf.data();
    // DF: the flags' high byte.
    let df = f[ETH + FLAGS_FRAG] & 0x40 != 0;
    if !df {
        return Decision::Drop(DropReason::MtuExceeded);
    }
    let mut icmp = [0u8; nat::ICMP_ERROR_MAX_LEN];
    let n = match nat::build_icmp_frag_needed(
        &mut icmp,
        &f[ETH..],
        ext.ip.unwrap_or(talked_to),
        overlay_ip_mtu(ctx) as u16,
    ) {
        Ok(n) => n,
        Err(_) => return Decision::Drop(DropReason::MtuExceeded),
    };
    let s = SRC.start;
    let sender = MacAddr([f[s], f[s + 1], f[s + 2], f[s + 3], f[s + 4], f[s + 5]]);
    let len = f.len();
    if !buf.trim(len - (ETH + n)) {
        return Decision::Drop(DropReason::MtuExceeded);
    }
    let f = buf.data_mut();
    f[DST].copy_from_slice(&sender.0);
    f[SRC].copy_from_slice(&ext.mac.0);
    f[ETH..ETH + n].copy_from_slice(&icmp[..n]);
    ctx.counters.drop(DropReason::MtuExceeded);
    ctx.counters.event(Event::IcmpFragNeededSent);
    Decision::Send { port: ext.port }
}

/// Looks up the connections of a burst of frames received on `rx_port` all at once
/// ([`Conntrack::lookup_burst`](crate::tables::conntrack::Conntrack::lookup_burst): the cache misses of the burst overlap instead of
/// coming one packet at a time) and keeps the hits by packet position in the
/// worker's [`MeshCache`](super::MeshCache); the per-packet path uses a hit only after re-validating
/// it, so nothing here can be stale. Client packets on the external port and
/// VXLAN-carried replies on the underlay are keyed at fixed offsets (no IP options);
/// anything else is skipped, and a client's SYN only has its bucket prefetched
/// ([`from_client`] inserts it without a lookup).
pub(super) fn warm_conntrack<'f>(ctx: &Ctx, rx_port: u16, frames: impl Iterator<Item = &'f [u8]>) {
    let Some(m) = ctx.mesh.as_ref() else {
        return;
    };
    if ctx.snap.services.is_empty() {
        m.cache.clear_burst();
        return;
    }
    // The external port's MAC, when it is this port (its frames may be plain client
    // packets for the fast path).
    let ext_mac = ctx
        .snap
        .external
        .as_ref()
        .filter(|e| e.port == rx_port)
        .map(|e| e.mac.to_u64());
    let at = if ext_mac.is_some() {
        ETH
    } else if ctx
        .snap
        .underlay
        .as_ref()
        .is_some_and(|u| u.port == rx_port)
    {
        ENCAP_LEN + ETH
    } else {
        m.cache.clear_burst();
        return;
    };
    m.cache.look_up_burst(m.conntrack, frames, |i, f| {
        // The common case first: a client's packet the fast path may take, checked
        // here once (the fast path trusts the mark instead of parsing again).
        if let Some(key) = ext_mac.and_then(|mac| plain_client(f, mac)) {
            return (key, true);
        }
        let Some(ip) = f.get(at..).and_then(|ip| ip.first_chunk::<KEY_LEN>()) else {
            return (PackedKey::NONE, false);
        };
        if ip[VER_IHL] != 0x45 || (ip[PROTOCOL] != protocol::TCP && ip[PROTOCOL] != protocol::UDP) {
            return (PackedKey::NONE, false);
        }
        let key = packed_at(ip);
        // A client's SYN is not looked up (`from_client` inserts it directly): the
        // lines of its insert are warmed instead.
        let flags = f.get(at + IP_MIN + TCP_FLAGS).copied().unwrap_or(0);
        if at == ETH && key.proto() == protocol::TCP && flags & (tcp::SYN | tcp::ACK) == tcp::SYN {
            if let Some(syn) = warm_new_connection(ctx, m, ip, key) {
                m.cache.note_syn(i, syn);
            }
            return (PackedKey::NONE, false);
        }
        (key, false)
    });
}

/// Warms the insert of a client's SYN whose IPv4 header starts `ip` (no options):
/// both its keys' buckets. The reply key needs the backend, so the Maglev pick is
/// made here (its flow hash kept for `new_connection`), and in SNAT mode the
/// connection's first SNAT port is taken from the worker's cursor now (the ports of
/// a burst's SYNs are consecutive; a port that turns out busy is retried with the
/// cursor's next, as without warming). Nothing is warmed for a SYN that will be
/// refused: no service, or its new-connection budget spent (`None`).
#[inline(never)]
fn warm_new_connection(
    ctx: &Ctx,
    m: &MeshTables,
    ip: &[u8; KEY_LEN],
    key: PackedKey,
) -> Option<WarmedSyn> {
    let addr = |off: usize| Ipv4Addr::new(ip[off], ip[off + 1], ip[off + 2], ip[off + 3]);
    let port = |off: usize| u16::from_be_bytes([ip[off], ip[off + 1]]);
    let flow = FlowKey {
        proto: protocol::TCP,
        src: addr(SRC_ADDR.start),
        dst: addr(DST_ADDR.start),
        src_port: port(IP_MIN + SRC_PORT),
        dst_port: port(IP_MIN + DST_PORT),
    };
    let si = ctx.snap.service_for(flow.proto, flow.dst, flow.dst_port)?;
    let svc = ctx.snap.services.get(si as usize)?;
    if m.admission.spent(si, svc, ctx.now) {
        return None;
    }
    m.conntrack.prefetch_key(&key);
    let flow_hash = FlowSeed::DEFAULT.hash_flow(&flow);
    let mut syn = WarmedSyn {
        key,
        flow_hash,
        snat_port: None,
    };
    let Some(pick) = svc.pick(flow_hash) else {
        return Some(syn);
    };
    let mut ports = m.snat.borrow_mut();
    let mut conn = new_conn(&flow, svc, pick, ports.worker());
    if !svc.preserve_client {
        let p = ports.candidate();
        syn.snat_port = Some(p);
        conn.snat = Some(SocketAddrV4::new(svc.ingress_ip, p));
    }
    m.conntrack.prefetch_key(&PackedKey::of(&conn.reply_key()));
    Some(syn)
}
