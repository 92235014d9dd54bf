//! A tracked connection ([`Conn`]) and its packing into an entry's five words
//! (`Conn::pack`, `Conn::unpack` and the `*_of` decoders of single fields); the
//! lookup result that carries those words ([`CtHit`]); the selection ([`CtFilter`])
//! and listing ([`CtEntry`]) of connections on the control side.

use super::{CtState, Dir, FlowKey, LO32, W4_HAS_SNAT, W4_PROTO_SHIFT};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A tracked connection: who talks to whom, before and after translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conn {
    /// IP protocol (6 TCP, 17 UDP).
    pub proto: u8,
    /// The client's address and port (source of original packets).
    pub client: SocketAddrV4,
    /// The published address and port the client connected to.
    pub published: SocketAddrV4,
    /// The backend (DNAT destination).
    pub backend: SocketAddrV4,
    /// The SNAT source (ingress endpoint IP and a port of `owner`); `None` in
    /// preserve-client-IP mode.
    pub snat: Option<SocketAddrV4>,
    /// Service id.
    pub service: u32,
    /// Backend id within the service.
    pub backend_id: u32,
    /// The worker that created the connection; it owns the SNAT port, if any.
    pub owner: u16,
}

impl Conn {
    /// The key of original-direction packets: client -> published.
    #[inline]
    pub fn original_key(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            src: *self.client.ip(),
            src_port: self.client.port(),
            dst: *self.published.ip(),
            dst_port: self.published.port(),
        }
    }

    /// The key of reply packets: backend -> SNAT endpoint (or -> client when the
    /// client's address is preserved).
    #[inline]
    pub fn reply_key(&self) -> FlowKey {
        let to = self.snat.unwrap_or(self.client);
        FlowKey {
            proto: self.proto,
            src: *self.backend.ip(),
            src_port: self.backend.port(),
            dst: *to.ip(),
            dst_port: to.port(),
        }
    }

    /// The key of packets in `dir`.
    pub fn key(&self, dir: Dir) -> FlowKey {
        match dir {
            Dir::Original => self.original_key(),
            Dir::Reply => self.reply_key(),
        }
    }

    pub(super) fn pack(&self) -> [u64; 5] {
        let ip = |a: &SocketAddrV4| u32::from(*a.ip()) as u64;
        let (sip, sport) = self.snat.map_or((0, 0), |s| (ip(&s), s.port() as u64));
        [
            ip(&self.client) << 32 | ip(&self.published),
            ip(&self.backend) << 32 | sip,
            (self.client.port() as u64) << 48
                | (self.published.port() as u64) << 32
                | (self.backend.port() as u64) << 16
                | sport,
            (self.service as u64) << 32 | self.backend_id as u64,
            (self.proto as u64) << W4_PROTO_SHIFT
                | if self.snat.is_some() { W4_HAS_SNAT } else { 0 }
                | self.owner as u64,
        ]
    }

    pub(super) fn unpack(w: &[u64; 5]) -> Conn {
        Conn {
            proto: (w[4] >> W4_PROTO_SHIFT) as u8,
            client: client_of(w),
            published: published_of(w),
            backend: backend_of(w),
            snat: snat_of(w),
            service: (w[3] >> 32) as u32,
            backend_id: w[3] as u32,
            owner: owner_of(w),
        }
    }
}

/// The owner worker of a packed connection (see [`Conn::owner`]): the counter
/// stripe of its events.
#[inline(always)]
pub(super) fn owner_of(w: &[u64; 5]) -> u16 {
    w[4] as u16
}

/// The fields of a conn packed by `Conn::pack`, one decoder each.
#[inline(always)]
fn sock(ip: u64, port: u64) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(ip as u32), port as u16)
}

#[inline(always)]
fn client_of(w: &[u64; 5]) -> SocketAddrV4 {
    sock(w[0] >> 32, w[2] >> 48)
}

#[inline(always)]
fn published_of(w: &[u64; 5]) -> SocketAddrV4 {
    sock(w[0] & LO32, (w[2] >> 32) & 0xffff)
}

#[inline(always)]
fn backend_of(w: &[u64; 5]) -> SocketAddrV4 {
    sock(w[1] >> 32, (w[2] >> 16) & 0xffff)
}

#[inline(always)]
fn snat_of(w: &[u64; 5]) -> Option<SocketAddrV4> {
    (w[4] & W4_HAS_SNAT != 0).then(|| sock(w[1] & LO32, w[2] & 0xffff))
}

/// A lookup (or insert) result: everything the data path needs to translate. The
/// connection stays in the entry's packed words, read as copied: the data path
/// decodes the few fields it uses ([`CtHit::backend`], [`CtHit::snat`], ...), not a
/// whole [`Conn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtHit {
    /// Entry index.
    pub idx: u32,
    /// The entry's generation (changes whenever the entry is reused).
    pub gen: u32,
    /// Which key the packet matched.
    pub dir: Dir,
    /// Its state when looked up.
    pub state: CtState,
    /// Whether it was assured when looked up (the backend has answered).
    pub assured: bool,
    /// The connection's words (see `Conn::pack`).
    pub(super) words: [u64; 5],
}

impl CtHit {
    /// The connection.
    #[inline]
    pub fn conn(&self) -> Conn {
        Conn::unpack(&self.words)
    }

    /// The client's address and port.
    #[inline(always)]
    pub fn client(&self) -> SocketAddrV4 {
        client_of(&self.words)
    }

    /// The published address and port.
    #[inline(always)]
    pub fn published(&self) -> SocketAddrV4 {
        published_of(&self.words)
    }

    /// The backend's address and port.
    #[inline(always)]
    pub fn backend(&self) -> SocketAddrV4 {
        backend_of(&self.words)
    }

    /// The SNAT source, if the connection has one.
    #[inline(always)]
    pub fn snat(&self) -> Option<SocketAddrV4> {
        snat_of(&self.words)
    }

    /// Backend id within the service.
    #[inline(always)]
    pub fn backend_id(&self) -> u32 {
        self.words[3] as u32
    }
}

/// Selects connections for [`Conntrack::entries`](super::Conntrack::entries) and
/// [`Conntrack::flush`](super::Conntrack::flush); all set fields must match.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CtFilter {
    /// Only this service.
    pub service: Option<u32>,
    /// Only this client address.
    pub client: Option<Ipv4Addr>,
    /// Only this backend address.
    pub backend: Option<Ipv4Addr>,
    /// Only this backend id.
    pub backend_id: Option<u32>,
    /// Only this state.
    pub state: Option<CtState>,
}

impl CtFilter {
    /// Every connection.
    pub const fn all() -> CtFilter {
        CtFilter {
            service: None,
            client: None,
            backend: None,
            backend_id: None,
            state: None,
        }
    }

    /// Restricts to a service.
    pub const fn service(mut self, s: u32) -> CtFilter {
        self.service = Some(s);
        self
    }

    /// Restricts to a client address.
    pub const fn client(mut self, ip: Ipv4Addr) -> CtFilter {
        self.client = Some(ip);
        self
    }

    /// Restricts to a backend address.
    pub const fn backend(mut self, ip: Ipv4Addr) -> CtFilter {
        self.backend = Some(ip);
        self
    }

    /// Restricts to a backend id.
    pub const fn backend_id(mut self, id: u32) -> CtFilter {
        self.backend_id = Some(id);
        self
    }

    /// Restricts to a state.
    pub const fn state(mut self, s: CtState) -> CtFilter {
        self.state = Some(s);
        self
    }

    /// Does `conn` in `state` match?
    pub fn matches(&self, conn: &Conn, state: CtState) -> bool {
        self.service.is_none_or(|s| s == conn.service)
            && self.client.is_none_or(|ip| ip == *conn.client.ip())
            && self.backend.is_none_or(|ip| ip == *conn.backend.ip())
            && self.backend_id.is_none_or(|b| b == conn.backend_id)
            && self.state.is_none_or(|s| s == state)
    }
}

/// One connection, as listed by [`Conntrack::entries`](super::Conntrack::entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtEntry {
    /// Entry index.
    pub idx: u32,
    /// Generation.
    pub gen: u32,
    /// The connection.
    pub conn: Conn,
    /// Its state.
    pub state: CtState,
    /// The backend has answered (see "Assured connections" in `state.rs`).
    pub assured: bool,
    /// Last second a packet was seen, per direction ([`Dir`] as index).
    pub last_seen: [u32; 2],
    /// Seconds since the later of the two at the listing's `now`.
    pub idle: u32,
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
