//! The outcome of one packet's ingress decision, and the named drop reasons.

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An access port, tagged with `vlan` (0 = untagged).
    Access {
        /// Port id.
        port: u16,
        /// VLAN id.
        vlan: u16,
    },
    /// A remote VTEP (index into the snapshot's VTEPs).
    Vtep(u16),
}

/// Where a frame came from (for split horizon when flooding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An access port and VLAN.
    Access {
        /// Port id.
        port: u16,
        /// VLAN id.
        vlan: u16,
    },
    /// A remote VTEP (index).
    Vtep(u16),
    /// vxgw itself (routing-mesh traffic): floods reach every VTEP and access member.
    Local,
}

/// The side of the routing mesh a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshSide {
    /// A client, on the external port.
    Client,
    /// A backend, from the overlay (the buffer holds the inner frame).
    Backend,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Free it and count the reason.
    Drop(DropReason),
    /// The buffer holds an untagged frame of VNI slot `vni`; send it to `to`.
    Forward {
        /// VNI slot.
        vni: u16,
        /// Destination.
        to: Target,
    },
    /// The buffer holds an untagged frame of VNI slot `vni`; replicate it to every
    /// member of the VNI except `from` (and never from a VTEP back to VTEPs).
    Flood {
        /// VNI slot.
        vni: u16,
        /// Ingress member.
        from: Origin,
    },
    /// The buffer is a complete frame (a local reply); send it as is on `port`.
    Send {
        /// Port id.
        port: u16,
    },
    /// The buffer is a later fragment of a routing-mesh datagram (from a client or
    /// from a backend, as `from` says) whose first fragment this worker has not
    /// translated yet: hold it briefly and give it to
    /// [`later_fragment`](super::later_fragment) again after a first fragment was
    /// remembered (see the `fragments` module).
    AwaitFirstFragment {
        /// The side it came from.
        from: MeshSide,
    },
    /// Handled (e.g. an ARP reply learned into the neighbour table); free it.
    Consumed,
    /// The buffer is a routed Ethernet frame with its source MAC set; write the MAC
    /// of `next_hop` as its destination and send it on `port` (ARP for it first if
    /// it is not known).
    Route {
        /// Port id.
        port: u16,
        /// Neighbour to deliver to.
        next_hop: std::net::Ipv4Addr,
    },
    /// The buffer holds an untagged frame of VNI slot `vni` for the overlay address
    /// `ip`, whose MAC is not known yet: ARP for it in the VNI and hold the frame.
    Resolve {
        /// VNI slot.
        vni: u16,
        /// Overlay address.
        ip: std::net::Ipv4Addr,
    },
}

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal,)*) => {
        /// Why a packet was dropped. Every drop has one; `name()` is the metric label.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason { $(#[doc = $name] $variant,)* }

        /// Number of drop reasons.
        pub const DROP_REASON_COUNT: usize = [$(DropReason::$variant,)*].len();

        impl DropReason {
            /// Every reason, in index order.
            pub const ALL: [DropReason; DROP_REASON_COUNT] = [$(DropReason::$variant,)*];

            /// The snake_case name used in metrics and `vxgwctl stats`.
            pub fn name(self) -> &'static str {
                match self { $(DropReason::$variant => $name,)* }
            }
        }
    };
}

drop_reasons! {
    UnknownPort => "unknown_port",
    NoRole => "no_role",
    Truncated => "truncated",
    MalformedIpv4 => "malformed_ipv4",
    MalformedUdp => "malformed_udp",
    MalformedVxlan => "malformed_vxlan",
    MalformedArp => "malformed_arp",
    MalformedIcmp => "malformed_icmp",
    NotForUs => "not_for_us",
    OuterFragment => "outer_fragment",
    UnsupportedProtocol => "unsupported_protocol",
    UnknownVtep => "unknown_vtep",
    VxlanNoIFlag => "vxlan_no_i_flag",
    UnknownVni => "unknown_vni",
    InvalidSourceMac => "invalid_source_mac",
    UnsupportedTag => "unsupported_tag",
    UnknownVlan => "unknown_vlan",
    SameSegment => "same_segment",
    SplitHorizon => "split_horizon",
    MtuExceeded => "mtu_exceeded",
    NoHeadroom => "no_headroom",
    NoUnderlay => "no_underlay",
    ArpIgnored => "arp_ignored",
    NeighbourPendingFull => "neighbour_pending_full",
    NeighbourTimeout => "neighbour_timeout",
    FloodNoMembers => "flood_no_members",
    ReplicaAllocFailed => "replica_alloc_failed",
    MultiSegment => "multi_segment",
    TxQueueFull => "tx_queue_full",
    NoService => "no_service",
    NoBackend => "no_backend",
    NoConnection => "no_connection",
    SnatPortsExhausted => "snat_ports_exhausted",
    ConntrackFull => "conntrack_full",
    ConntrackConflict => "conntrack_conflict",
    TtlExpired => "ttl_expired",
    Fragment => "fragment",
    FragmentTimeout => "fragment_timeout",
    FragmentHoldFull => "fragment_hold_full",
    MalformedL4 => "malformed_l4",
    NotRoutable => "not_routable",
    OverlayNeighbourTimeout => "overlay_neighbour_timeout",
    MartianSource => "martian_source",
    MartianDestination => "martian_destination",
    BadIpChecksum => "bad_ip_checksum",
    BadIpLength => "bad_ip_length",
    BadUdpLength => "bad_udp_length",
    BadTcpDataOffset => "bad_tcp_data_offset",
    NewConnectionRate => "new_connection_rate",
    VniIsolation => "vni_isolation",
    BackendRefused => "backend_refused",
}

impl DropReason {
    /// Index into per-reason counter arrays.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}
