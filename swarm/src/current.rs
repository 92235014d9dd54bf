//! What vxgw holds now, of the VNIs the swarm owns: read through the control API
//! (`vni.show`, `fdb.show`, `service.show`, `vtep.show`), in the shape of
//! [`State`] so that [`plan`](crate::plan::plan) can compare the two.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use vxgw_api::client::{round_trip, Failure};
use vxgw_api::{Answer, FdbDestination, FdbShow, MaybeId, MaybeName, NoArgs, Request};

use crate::desired::{ServiceState, State, VniState};

/// Why vxgw could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum VxgwError {
    /// The socket failed.
    #[error("vxgw control socket: {0}")]
    Socket(#[from] Failure),
    /// vxgw refused a request.
    #[error("vxgw refused {cmd}: {why}")]
    Refused {
        /// The command.
        cmd: &'static str,
        /// Its error.
        why: String,
    },
    /// An answer that is not what the command answers.
    #[error("unexpected answer to {0}")]
    Unexpected(&'static str),
}

/// Sends one request; its answer, or why not.
pub fn ask(socket: &Path, req: &Request) -> Result<Answer, VxgwError> {
    let reply = round_trip(socket, req)?;
    if !reply.ok {
        return Err(VxgwError::Refused {
            cmd: req.cmd(),
            why: reply.error.unwrap_or_default(),
        });
    }
    Answer::decode(req, reply.result.unwrap_or_default())
        .map_err(|_| VxgwError::Unexpected(req.cmd()))
}

/// vxgw's tables for the VNIs in `owned`, and the VTEPs that something outside them
/// still uses.
pub fn read(
    socket: &Path,
    owned: &BTreeSet<u32>,
) -> Result<(State, BTreeSet<Ipv4Addr>), VxgwError> {
    let mut st = State::default();
    let Answer::Vnis(vnis) = ask(socket, &Request::VniShow(MaybeId { id: None }))? else {
        return Err(VxgwError::Unexpected("vni.show"));
    };
    let mut elsewhere = BTreeSet::new();
    for v in vnis {
        if !owned.contains(&v.id) {
            elsewhere.extend(v.flood.iter().copied());
            continue;
        }
        st.vteps.extend(v.flood.iter().copied());
        st.vnis.insert(
            v.id,
            VniState {
                flood: v.flood.into_iter().collect(),
                gateway_ip: v.gateway_ip,
                fdb: Default::default(),
                arp: v.arp.into_iter().map(|a| (a.ip, a.mac)).collect(),
            },
        );
    }
    let Answer::Fdb(rows) = ask(
        socket,
        &Request::FdbShow(FdbShow {
            vni: None,
            mac: None,
        }),
    )?
    else {
        return Err(VxgwError::Unexpected("fdb.show"));
    };
    for r in rows.into_iter().filter(|r| r.is_static) {
        let FdbDestination::Vtep(vtep) = r.destination else {
            continue;
        };
        match st.vnis.get_mut(&r.vni) {
            Some(v) => {
                v.fdb.insert(r.mac, vtep);
                st.vteps.insert(vtep);
            }
            None => {
                elsewhere.insert(vtep);
            }
        }
    }
    let Answer::Services(services) = ask(socket, &Request::ServiceShow(MaybeName { name: None }))?
    else {
        return Err(VxgwError::Unexpected("service.show"));
    };
    for s in services.into_iter().filter(|s| owned.contains(&s.vni)) {
        st.services.insert(
            s.name,
            ServiceState {
                proto: s.protocol,
                published_ip: s.published_ip,
                port: s.published_port,
                target: s.target_port,
                vni: s.vni,
                ingress_ip: s.ingress_ip,
                mode: s.mode,
                backends: s.backends.into_iter().map(|b| (b.ip, b.weight)).collect(),
            },
        );
    }
    // A VTEP the configuration names but no VNI uses is the operator's: keep it.
    let Answer::Vteps(vteps) = ask(socket, &Request::VtepShow(NoArgs {}))? else {
        return Err(VxgwError::Unexpected("vtep.show"));
    };
    for v in vteps {
        if !st.vteps.contains(&v.ip) {
            elsewhere.insert(v.ip);
        }
    }
    Ok((st, elsewhere))
}
