//! Which entries a flush or a listing selects ([`FdbFilter`]).

use super::entry::{FdbDest, DEST_MASK, STATIC};

/// Which entries a kind filter selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KindFilter {
    /// Static and dynamic entries.
    #[default]
    All,
    /// Learned entries only.
    Dynamic,
    /// Static entries only.
    Static,
}

/// Which destinations a filter selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestFilter {
    /// Exactly this destination (e.g. every MAC behind one VTEP).
    Exact(FdbDest),
    /// Any VLAN of this access port (e.g. the port went down).
    Port(u16),
}

/// Selects entries for [`Fdb::flush`] and [`Fdb::entries`]; all fields must match.
///
/// [`Fdb::flush`]: super::Fdb::flush
/// [`Fdb::entries`]: super::Fdb::entries
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FdbFilter {
    /// Only this VNI.
    pub vni: Option<u32>,
    /// Only these destinations.
    pub dest: Option<DestFilter>,
    /// Only these kinds.
    pub kind: KindFilter,
}

impl FdbFilter {
    /// Every entry.
    pub const fn all() -> FdbFilter {
        FdbFilter {
            vni: None,
            dest: None,
            kind: KindFilter::All,
        }
    }

    /// Restricts to one VNI.
    pub const fn vni(mut self, vni: u32) -> FdbFilter {
        self.vni = Some(vni);
        self
    }

    /// Restricts to a destination.
    pub const fn dest(mut self, dest: DestFilter) -> FdbFilter {
        self.dest = Some(dest);
        self
    }

    /// Restricts to dynamic (learned) entries.
    pub const fn dynamic_only(mut self) -> FdbFilter {
        self.kind = KindFilter::Dynamic;
        self
    }

    /// Restricts to static entries.
    pub const fn static_only(mut self) -> FdbFilter {
        self.kind = KindFilter::Static;
        self
    }

    pub(super) fn matches(&self, vni: u32, value: u64) -> bool {
        if self.vni.is_some_and(|v| v != vni) {
            return false;
        }
        let is_static = value & STATIC != 0;
        match self.kind {
            KindFilter::All => {}
            KindFilter::Dynamic if is_static => return false,
            KindFilter::Static if !is_static => return false,
            _ => {}
        }
        match self.dest {
            None => true,
            Some(DestFilter::Exact(d)) => value & DEST_MASK == d.encode(),
            Some(DestFilter::Port(p)) => matches!(
                FdbDest::decode(value),
                FdbDest::Access { port, .. } if port == p
            ),
        }
    }
}
