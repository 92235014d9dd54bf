//! The general path's entry: a frame classified by its rx port's roles.

use super::decision::{Decision, DropReason};
use super::{access, external, mesh, underlay, Ctx, PacketBuf, Step};

/// Decides what to do with a frame received on `rx_port`. May rewrite `buf` (strip
/// outer headers, pop a tag, turn a request into a reply). Never panics.
#[inline]
pub fn ingress<B: PacketBuf>(ctx: &Ctx, rx_port: u16, buf: &mut B) -> Decision {
    let Some(port) = ctx.snap.port(rx_port) else {
        return Decision::Drop(DropReason::UnknownPort);
    };
    ctx.note(|| Step::Port {
        port: rx_port,
        underlay: port.underlay,
        access: port.access,
        external: port.external,
    });
    if buf.data().len() < crate::wire::ethernet::HEADER_LEN {
        return Decision::Drop(DropReason::Truncated);
    }
    if port.underlay {
        if let Some(d) = underlay::ingress(ctx, rx_port, port, buf) {
            return d;
        }
    }
    if port.external {
        if let Some(ext) = ctx.snap.external.as_ref().filter(|e| e.port == rx_port) {
            if let Some(r) = mesh::refusal(ctx, ext, buf.data()) {
                return Decision::Drop(r);
            }
            if let Some(d) = external::ingress(ctx, ext, buf) {
                return d;
            }
        }
    }
    if port.access {
        return access::ingress(ctx, rx_port, port, buf);
    }
    if port.underlay || port.external {
        return Decision::Drop(DropReason::NotForUs);
    }
    Decision::Drop(DropReason::NoRole)
}
