//! The per-VNI entry counts: what the learn limit compares with, and what [`Fdb::len`]
//! and [`Fdb::len_vni`] add up.
//!
//! **VNI slots**: a fixed open-addressing table (`max_vnis` rounded up to a power
//! of two, times two) of `{vni, dynamic count, static count}`, one per 64-byte
//! line. A VNI takes a slot when the control plane registers it
//! ([`Fdb::register_vni`]) or when its first entry is created, and keeps it until
//! the control plane releases it ([`Fdb::release_vni`], once the VNI is deleted and
//! flushed): the slot becomes a *tombstone* that probes walk past and the next
//! registration reuses, so VNIs created and deleted over a gateway's life never
//! exhaust the table.

use super::{Fdb, FdbError, MAX_VNI};
use crate::tables::folded_mul::folded_mul;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

/// The tag of a released VNI slot: not free (a probe goes on past it, so the VNIs
/// placed behind it stay reachable), and only [`Fdb::register_vni`] reuses it.
const VNI_TOMBSTONE: u32 = u32::MAX;

/// Per-VNI entry counts.
#[repr(align(64))]
#[derive(Default)]
pub(super) struct VniSlot {
    /// VNI + 1; 0 = never used; [`VNI_TOMBSTONE`] = released.
    pub(super) tag: AtomicU32,
    pub(super) dynamic: AtomicU32,
    pub(super) statics: AtomicU32,
}

impl Fdb {
    /// Where `vni`'s probe for a count slot starts.
    #[inline]
    fn vni_home(&self, vni: u32) -> usize {
        folded_mul(vni as u64 ^ self.k1, 0x9e37_79b9_7f4a_7c15) as usize & self.vni_mask
    }

    /// The VNI's count slot; registers the VNI when `create` (None: table full).
    /// Claims only never-used slots: tombstones are for [`Fdb::register_vni`].
    pub(super) fn vni_slot(&self, vni: u32, create: bool) -> Option<&VniSlot> {
        let tag = vni + 1;
        let mut i = self.vni_home(vni);
        for _ in 0..=self.vni_mask {
            let s = &self.vnis[i];
            let t = s.tag.load(Acquire);
            if t == tag {
                return Some(s);
            }
            if t == 0 {
                if !create {
                    return None;
                }
                if self.vnis_used.fetch_add(1, Relaxed) >= self.max_vnis {
                    self.vnis_used.fetch_sub(1, Relaxed);
                    return None;
                }
                match s.tag.compare_exchange(0, tag, AcqRel, Acquire) {
                    Ok(_) => return Some(s),
                    Err(t) => {
                        self.vnis_used.fetch_sub(1, Relaxed);
                        if t == tag {
                            return Some(s);
                        }
                    }
                }
            }
            i = (i + 1) & self.vni_mask;
        }
        None
    }

    /// Reserves `vni`'s count slot ahead of its first entry, reusing a released one
    /// when its probe passes one. Control plane only: one caller at a time, and no
    /// worker may be learning into `vni` yet (register it before a snapshot that has
    /// it is published). Idempotent.
    pub fn register_vni(&self, vni: u32) -> Result<(), FdbError> {
        let vni = vni & MAX_VNI;
        let tag = vni + 1;
        let mut i = self.vni_home(vni);
        let mut tombstone = None;
        for _ in 0..=self.vni_mask {
            let s = &self.vnis[i];
            match s.tag.load(Acquire) {
                t if t == tag => return Ok(()),
                VNI_TOMBSTONE => {
                    tombstone = tombstone.or(Some(i));
                }
                0 => break,
                _ => {}
            }
            i = (i + 1) & self.vni_mask;
        }
        if let Some(t) = tombstone {
            if self.vnis_used.fetch_add(1, Relaxed) >= self.max_vnis {
                self.vnis_used.fetch_sub(1, Relaxed);
                return Err(FdbError::VniTableFull);
            }
            // Workers may only read a tombstone (they never claim one), so plain
            // stores suffice: counts first, then the tag that makes them reachable.
            let s = &self.vnis[t];
            s.dynamic.store(0, Relaxed);
            s.statics.store(0, Relaxed);
            s.tag.store(tag, Release);
            return Ok(());
        }
        // A never-used slot, claimed like a worker's first learn does (a worker may
        // be claiming one for another VNI at the same time).
        self.vni_slot(vni, true)
            .map(|_| ())
            .ok_or(FdbError::VniTableFull)
    }

    /// Releases `vni`'s count slot (a tombstone from now on). Control plane only, once
    /// the VNI's entries are flushed and no worker can learn into it any more (after
    /// the grace period of the snapshot that deleted it). False if it had no slot.
    pub fn release_vni(&self, vni: u32) -> bool {
        let vni = vni & MAX_VNI;
        let Some(s) = self.vni_slot(vni, false) else {
            return false;
        };
        s.tag.store(VNI_TOMBSTONE, Release);
        s.dynamic.store(0, Relaxed);
        s.statics.store(0, Relaxed);
        self.vnis_used.fetch_sub(1, Relaxed);
        true
    }

    /// Number of VNIs holding a count slot.
    pub fn vnis_in_use(&self) -> usize {
        self.vnis_used.load(Relaxed) as usize
    }

    /// Number of entries (static and dynamic), from the per-VNI counts.
    pub fn len(&self) -> usize {
        self.vnis
            .iter()
            .map(|s| s.dynamic.load(Relaxed) as usize + s.statics.load(Relaxed) as usize)
            .sum()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of entries (static and dynamic) in `vni`.
    pub fn len_vni(&self, vni: u32) -> usize {
        self.vni_slot(vni & MAX_VNI, false).map_or(0, |s| {
            s.dynamic.load(Relaxed) as usize + s.statics.load(Relaxed) as usize
        })
    }

    /// Number of learned (dynamic) entries in `vni`: what the learn limit counts.
    pub fn learned_vni(&self, vni: u32) -> usize {
        self.vni_slot(vni & MAX_VNI, false)
            .map_or(0, |s| s.dynamic.load(Relaxed) as usize)
    }
}

#[cfg(test)]
#[path = "vni_tests.rs"]
mod tests;
