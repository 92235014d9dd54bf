//! Ingress on an access port (DESIGN "Packet paths" 2): VLAN -> VNI, pop the tag,
//! learn the source against the port and VLAN, then bridge.

use super::bridge;
use super::decision::{Decision, DropReason, Origin};
use super::learn;
use super::{Ctx, PacketBuf, Step};
use crate::tables::fdb::FdbDest;
use crate::tables::snapshot::PortView;
use crate::wire::ethernet::{ethertype, field::ETHERTYPE};
use crate::wire::vlan;

#[inline]
pub(super) fn ingress<B: PacketBuf>(
    ctx: &Ctx,
    rx_port: u16,
    port: &PortView,
    buf: &mut B,
) -> Decision {
    let Some(map) = port.vlan_to_vni.as_ref() else {
        return Decision::Drop(DropReason::NoRole);
    };
    let frame = buf.data();
    let outer_type = u16::from_be_bytes([frame[ETHERTYPE], frame[ETHERTYPE + 1]]);
    let (vlan, tagged) = match outer_type {
        ethertype::VLAN => {
            if frame.len() < vlan::TAGGED_HEADER_LEN {
                return Decision::Drop(DropReason::Truncated);
            }
            let tci = u16::from_be_bytes([frame[vlan::tagged::TCI], frame[vlan::tagged::TCI + 1]]);
            // A priority tag (VID 0) belongs to the untagged segment.
            (tci & vlan::VID_MAX, true)
        }
        ethertype::QINQ => return Decision::Drop(DropReason::UnsupportedTag),
        _ => (0, false),
    };
    let slot = map[vlan as usize];
    ctx.note(|| Step::AccessVlan {
        vlan,
        vni: (slot != 0).then(|| ctx.snap.vnis[slot as usize - 1].vni),
    });
    if slot == 0 {
        return Decision::Drop(DropReason::UnknownVlan);
    }
    let vni = slot - 1;
    if tagged
        && (vlan::pop_vlan_tag_in_place(buf.data_mut()).is_err() || !buf.adj(vlan::HEADER_LEN))
    {
        return Decision::Drop(DropReason::Truncated);
    }
    if let Some(d) = learn::learn_source(
        ctx,
        vni,
        buf.data(),
        FdbDest::Access {
            port: rx_port,
            vlan,
        },
    ) {
        return d;
    }
    bridge::forward(
        ctx,
        vni,
        Origin::Access {
            port: rx_port,
            vlan,
        },
        buf,
    )
}
