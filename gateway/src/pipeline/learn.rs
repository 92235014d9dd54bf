//! Learning a frame's source MAC into the FDB, through the worker's
//! [`LearnCache`](super::LearnCache) of recent learns (a repeated learn within a
//! second changes nothing, so the FDB is not even read).

use super::decision::{Decision, DropReason};
use super::{Ctx, EncapCache, Event, Step};
use crate::tables::fdb::{FdbDest, LearnOutcome};
use crate::wire::ethernet::field::ETHERTYPE;
use crate::wire::ethernet::{ethertype, src_mac_u64, MacAddr, GROUP_BIT_U64, HEADER_LEN};

/// True for the ethertype of an 802.1Q or 802.1ad tag. A VNI's frames are untagged:
/// one that still carries a tag once its VXLAN header or its access VLAN's tag is
/// gone would come out of an access port in the VLAN of that tag, another VNI's.
#[inline(always)]
pub(super) fn is_tag(etype: u16) -> bool {
    etype == ethertype::VLAN || etype == ethertype::QINQ
}

/// Learns the frame's source MAC in VNI slot `vni` against `dest`. Returns a drop
/// when the source is not a unicast MAC (such a frame is invalid, 802.1Q 8.7), or
/// when the frame still carries a VLAN tag ([`is_tag`]: it is no frame of the VNI).
/// Inlined: per packet it is a check against the worker's last learn; the FDB is
/// touched out of line.
#[inline(always)]
pub(super) fn learn_source(ctx: &Ctx, vni: u16, frame: &[u8], dest: FdbDest) -> Option<Decision> {
    // One bounds check for the whole header; the MACs are read as words.
    let Some(h) = frame.first_chunk::<HEADER_LEN>() else {
        return Some(Decision::Drop(DropReason::Truncated));
    };
    let src = src_mac_u64(h);
    if src & GROUP_BIT_U64 != 0 || src == 0 {
        return Some(Decision::Drop(DropReason::InvalidSourceMac));
    }
    if is_tag(u16::from_be_bytes([h[ETHERTYPE], h[ETHERTYPE + 1]])) {
        return Some(Decision::Drop(DropReason::UnsupportedTag));
    }
    learn_mac(ctx, vni, src, dest);
    None
}

/// Learns unicast source `src` (as [`src_mac_u64`] reads it) in VNI slot `slot`
/// against `dest`: a check against the worker's learn cache, the FDB out of line.
#[inline(always)]
pub(super) fn learn_mac(ctx: &Ctx, slot: u16, src: u64, dest: FdbDest) {
    let dest_key = match dest {
        FdbDest::Access { port, vlan } => (1 << 48) | (port as u64) << 16 | vlan as u64,
        FdbDest::Vtep(ip) => (2 << 48) | u32::from(ip) as u64,
    };
    if !ctx.learn_cache.seen(slot, src, dest_key, ctx.now) {
        learn_in_fdb(ctx, slot, MacAddr::from_u64(src), dest);
    }
}

/// The FDB half of [`learn_mac`]: once per source, destination and second.
#[inline(never)]
fn learn_in_fdb(ctx: &Ctx, vni: u16, src: MacAddr, dest: FdbDest) {
    let v = &ctx.snap.vnis[vni as usize];
    ctx.note(|| Step::Learn {
        vni: v.vni,
        mac: src,
        dest,
        done: !ctx.dry(),
    });
    if ctx.dry() {
        return;
    }
    match ctx.fdb.learn(v.vni, src, dest, ctx.now, v.learn_limit) {
        LearnOutcome::Learned => ctx.counters.event(Event::FdbLearned),
        LearnOutcome::Moved => {
            ctx.encap_cache.forget(EncapCache::key(vni, src.to_u64()));
            ctx.counters.event(Event::FdbMoved)
        }
        LearnOutcome::LimitHit => ctx.counters.event(Event::FdbLimitHit),
        LearnOutcome::TableFull => ctx.counters.event(Event::FdbTableFull),
        LearnOutcome::StaticRefused => ctx.counters.event(Event::FdbStaticKept),
        _ => {}
    }
}
