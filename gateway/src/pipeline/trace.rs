//! Packet trace: the steps the pipeline's own decision points took for one packet
//! (which role, which VNI, which FDB entry, which connection or backend), recorded
//! into a [`Trace`] when the [`Ctx`](super::Ctx) carries one. Nothing is recorded,
//! and nothing is checked but one `Option`, on the general path without it; the
//! fast paths have no trace points (a traced packet takes the general path, whose
//! decisions the fast paths' differential tests hold equal).
//!
//! A *dry* trace also takes no side effect on the shared tables: nothing is learned
//! into the FDB or the neighbour table, no connection is made, observed or removed
//! (what would be made is recorded instead). With private caches and counters in
//! its `Ctx`, it runs a described packet through the live tables without changing
//! them: `vxgwctl trace packet`.

use std::cell::{Cell, RefCell};
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::tables::conntrack::{CtState, Dir};
use crate::tables::fdb::FdbDest;
use crate::wire::ethernet::MacAddr;

/// Steps a trace keeps; later ones are counted, not kept.
pub const TRACE_STEPS: usize = 32;

/// One decision point a packet passed, and what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The rx port and its roles.
    Port {
        /// Port id.
        port: u16,
        /// Underlay role.
        underlay: bool,
        /// Access role.
        access: bool,
        /// External role.
        external: bool,
    },
    /// A VXLAN packet to vxgw's VTEP: its outer source and VNI, and whether the
    /// source is a configured VTEP and the VNI a configured one.
    Vxlan {
        /// Outer source address.
        src: Ipv4Addr,
        /// The VNI in the header.
        vni: u32,
        /// The source is in the VTEP allow-list.
        vtep_known: bool,
        /// The VNI is configured.
        vni_known: bool,
    },
    /// An access frame's VLAN (0: untagged) and the VNI it maps to.
    AccessVlan {
        /// VLAN id.
        vlan: u16,
        /// The VNI, if the VLAN is mapped.
        vni: Option<u32>,
    },
    /// The source MAC learned (or, dry, that would be learned) against `dest`.
    Learn {
        /// VNI.
        vni: u32,
        /// Source MAC.
        mac: MacAddr,
        /// Where it was seen.
        dest: FdbDest,
        /// False in a dry trace: nothing was written.
        done: bool,
    },
    /// vxgw answers the frame itself (ARP for its addresses, ARP suppression, ping).
    Local(&'static str),
    /// The FDB's answer for the destination MAC.
    Fdb {
        /// VNI.
        vni: u32,
        /// Destination MAC.
        mac: MacAddr,
        /// The entry's destination; None: a miss.
        dest: Option<FdbDest>,
    },
    /// A published port matched: the service (snapshot index).
    Service(u16),
    /// The connection tracked for the packet's 5-tuple.
    Conntrack {
        /// Which of its keys matched: the client's (original) or the backend's
        /// (reply).
        dir: Dir,
        /// Its state before this packet.
        state: CtState,
        /// The backend it goes to.
        backend: SocketAddrV4,
    },
    /// The service's Maglev table asked for a new connection's backend.
    Maglev {
        /// The flow's hash.
        hash: u64,
        /// The slot it falls in.
        slot: u32,
        /// The table's size.
        size: u32,
    },
    /// No connection: a new one, to the backend Maglev picked (in a dry trace it is
    /// not made, and its SNAT port is one the worker might draw).
    NewConnection {
        /// The backend.
        backend: SocketAddrV4,
        /// Its SNAT source, in SNAT mode.
        snat: Option<SocketAddrV4>,
        /// False in a dry trace: nothing was inserted.
        made: bool,
    },
    /// The addresses after translation.
    Translated {
        /// Source.
        src: SocketAddrV4,
        /// Destination.
        dst: SocketAddrV4,
    },
}

/// A packet's recorded steps (at most [`TRACE_STEPS`]), and whether the run is dry.
/// Owned by one thread (`Cell`s); preallocated, nothing allocates while recording.
pub struct Trace {
    dry: bool,
    steps: RefCell<[Option<Step>; TRACE_STEPS]>,
    len: Cell<usize>,
}

impl Trace {
    /// An empty trace; `dry`: take no side effect on the shared tables.
    pub fn new(dry: bool) -> Trace {
        Trace {
            dry,
            steps: RefCell::new([None; TRACE_STEPS]),
            len: Cell::new(0),
        }
    }

    /// True for a dry trace.
    #[inline]
    pub fn dry(&self) -> bool {
        self.dry
    }

    /// Records a step.
    #[inline(never)]
    pub fn push(&self, s: Step) {
        let n = self.len.get();
        if let Some(slot) = self.steps.borrow_mut().get_mut(n) {
            *slot = Some(s);
        }
        self.len.set(n + 1);
    }

    /// The steps so far (the first [`TRACE_STEPS`]), and how many were recorded.
    pub fn steps(&self) -> (Vec<Step>, usize) {
        let kept = self.steps.borrow().iter().flatten().copied().collect();
        (kept, self.len.get())
    }

    /// The steps so far as kept (the first [`TRACE_STEPS`]), without allocating.
    pub fn kept(&self) -> [Option<Step>; TRACE_STEPS] {
        *self.steps.borrow()
    }

    /// Forgets the steps (the next packet's).
    pub fn clear(&self) {
        *self.steps.borrow_mut() = [None; TRACE_STEPS];
        self.len.set(0);
    }
}
