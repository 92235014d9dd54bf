//! The control side: static entries, removals, the sweeps (ageing and flushes) and
//! listings.

use super::bucket::OCC_MASK;
use super::counters::{C_AGED, C_FLUSHED};
use super::entry::{entry_vni, FdbDest, DEST_MASK, KIND_MASK, MAC_MASK, STATIC, VNI_HI_MASK};
use super::{Fdb, FdbFilter, MAX_VNI, SLOTS};
use crate::tables::seconds::elapsed;
use crate::wire::ethernet::MacAddr;
use core::fmt;
use std::sync::atomic::Ordering::Relaxed;

/// Why a control-plane change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FdbError {
    /// The MAC is multicast, broadcast or all-zero.
    NotUnicast,
    /// The VNI does not fit in 24 bits.
    BadVni,
    /// No free slot in the key's probe window.
    TableFull,
    /// The VNI table has no room for another VNI.
    VniTableFull,
}

impl fmt::Display for FdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FdbError::NotUnicast => "not a unicast MAC",
            FdbError::BadVni => "VNI does not fit in 24 bits",
            FdbError::TableFull => "FDB full",
            FdbError::VniTableFull => "FDB VNI table full",
        })
    }
}

impl std::error::Error for FdbError {}

/// One entry, as listed by [`Fdb::entries`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbEntry {
    /// VNI.
    pub vni: u32,
    /// MAC.
    pub mac: MacAddr,
    /// Destination.
    pub dest: FdbDest,
    /// Static (control-plane) entry.
    pub is_static: bool,
    /// Second the entry was learned or last refreshed (0 for static entries).
    pub last_seen: u32,
    /// Seconds since `last_seen` at the listing's `now` (0 for static entries).
    pub age: u32,
}

impl Fdb {
    /// Adds or replaces a static entry (it replaces a dynamic entry of the same MAC).
    /// Control plane only, like [`Fdb::register_vni`].
    pub fn add_static(&self, vni: u32, mac: MacAddr, dest: FdbDest) -> Result<(), FdbError> {
        let m = mac.to_u64();
        if mac.is_multicast() || m == 0 {
            return Err(FdbError::NotUnicast);
        }
        if vni > MAX_VNI {
            return Err(FdbError::BadVni);
        }
        // The control plane's own registration: it may reuse a released slot.
        self.register_vni(vni)?;
        let slot = self.vni_slot(vni, false).ok_or(FdbError::VniTableFull)?;
        let p = self.pos(vni, m);
        let want = dest.encode() | STATIC;
        self.lock_pair(&p);
        let r = if let Some((bi, i, v)) = self.find(&p) {
            if v & STATIC == 0 {
                slot.statics.fetch_add(1, Relaxed);
                slot.dynamic.fetch_sub(1, Relaxed);
            }
            self.store_value(bi, i, (v & !(DEST_MASK | STATIC)) | want, None);
            Ok(())
        } else {
            slot.statics.fetch_add(1, Relaxed);
            if self.insert_locked(&p, p.vhi | want, 0) {
                Ok(())
            } else {
                slot.statics.fetch_sub(1, Relaxed);
                Err(FdbError::TableFull)
            }
        };
        self.unlock_pair(&p);
        r
    }

    /// Removes the entry of `mac` in `vni` (static or dynamic); true if there was one.
    pub fn remove(&self, vni: u32, mac: MacAddr) -> bool {
        let m = mac.to_u64();
        if vni > MAX_VNI || m == 0 {
            return false;
        }
        let p = self.pos(vni, m);
        self.lock_pair(&p);
        let found = self.find(&p);
        if let Some((bi, i, v)) = found {
            self.clear_slot(&p, bi, i, v);
        }
        self.unlock_pair(&p);
        found.is_some()
    }

    /// Removes every entry for which `pred(vni, value, last_seen)` holds; returns how
    /// many. A lock-free pre-scan picks candidates; each is re-checked under its
    /// key's two locks, so buckets with nothing to remove are never locked.
    fn sweep(&self, pred: impl Fn(u32, u64, u32) -> bool) -> usize {
        let (mut removed, mut occupied) = (0, 0);
        for (bi, b) in self.buckets.iter().enumerate() {
            if b.header.load() & OCC_MASK != 0 {
                occupied += 1;
            }
            let (cands, _) = b.read(|b| {
                let mut c = [(0u64, 0u64); SLOTS];
                for (i, e) in c.iter_mut().enumerate() {
                    let (k, v) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                    if k != 0
                        && v & KIND_MASK != 0
                        && pred(entry_vni(k, v), v, self.last_seen[bi].0[i].load(Relaxed))
                    {
                        *e = (k, v);
                    }
                }
                c
            });
            for (i, &(k, v)) in cands.iter().enumerate() {
                if k == 0 {
                    continue;
                }
                let p = self.pos(entry_vni(k, v), k & MAC_MASK);
                self.lock_pair(&p);
                let (k2, v2) = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                if k2 == k
                    && v2 & (VNI_HI_MASK | KIND_MASK) == v & (VNI_HI_MASK | KIND_MASK)
                    && pred(entry_vni(k2, v2), v2, self.last_seen[bi].0[i].load(Relaxed))
                {
                    self.clear_slot(&p, bi, i, v2);
                    removed += 1;
                }
                self.unlock_pair(&p);
            }
        }
        self.occupied.store(occupied, Relaxed);
        removed
    }

    /// Removes dynamic entries not seen for at least `age_of(vni)` seconds at `now`
    /// (an age of 0 means the VNI's entries never age). Control thread only: it walks
    /// the whole table. Returns how many were removed.
    pub fn age(&self, now: u32, age_of: impl Fn(u32) -> u32) -> usize {
        let n = self.sweep(|vni, v, ls| {
            v & STATIC == 0 && {
                let a = age_of(vni);
                a != 0 && elapsed(now, ls) >= a
            }
        });
        self.count_n(C_AGED, n);
        n
    }

    /// Removes every entry `filter` selects; returns how many.
    pub fn flush(&self, filter: &FdbFilter) -> usize {
        let n = self.sweep(|vni, v, _| filter.matches(vni, v));
        self.count_n(C_FLUSHED, n);
        n
    }

    /// Lists the entries `filter` selects, with ages at `now` (allocates; each
    /// bucket is read consistently, the table as a whole is not a snapshot).
    pub fn entries(&self, filter: &FdbFilter, now: u32) -> Vec<FdbEntry> {
        let mut out = Vec::new();
        for (bi, b) in self.buckets.iter().enumerate() {
            let (snap, _) = b.read(|b| {
                let mut s = [(0u64, 0u64); SLOTS];
                for (i, e) in s.iter_mut().enumerate() {
                    *e = (b.keys[i].load(Relaxed), b.values[i].load(Relaxed));
                }
                s
            });
            for (i, &(k, v)) in snap.iter().enumerate() {
                if k == 0 || v & KIND_MASK == 0 {
                    continue;
                }
                let vni = entry_vni(k, v);
                if !filter.matches(vni, v) {
                    continue;
                }
                let is_static = v & STATIC != 0;
                let last_seen = if is_static {
                    0
                } else {
                    self.last_seen[bi].0[i].load(Relaxed)
                };
                out.push(FdbEntry {
                    vni,
                    mac: MacAddr::from_u64(k & MAC_MASK),
                    dest: FdbDest::decode(v),
                    is_static,
                    last_seen,
                    age: if is_static {
                        0
                    } else {
                        elapsed(now, last_seen)
                    },
                });
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
