//! The buckets' fingerprints: a 16-bit fingerprint of the key in each slot, so that
//! learning a MAC the table does not hold (a MAC flood's every frame) reads no
//! bucket line.
//!
//! Why fingerprints and not a bit per key: with the 128-bit summary this replaced
//! (a bit per key, 7 hash bits), ~16 % of new MACs found their bit set by other
//! keys in one of their two buckets, and each such false positive searched both
//! buckets, four lines missing the cache: measured, that search was most of what a
//! MAC flood's frame cost beyond forwarding one (perf/RESULTS.md, section 5,
//! session 39). A fingerprint of 16 bits (never 0) in one of 15 slots clashes with
//! ~11 entries a bucket, i.e. ~0.03 % of new MACs search, for 32 bytes a bucket
//! instead of 16 (two buckets a line, as before).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Lanes of 16 bits; slot `i` is lane `i % 4` of word `i / 4` (lane 15 stays empty).
const LANES_LOW: u64 = 0x0001_0001_0001_0001;
const LANES_HIGH: u64 = 0x8000_8000_8000_8000;

/// The fingerprint of a key from its hash `x1`: bits 32-47, which neither the bucket
/// (the top bits) nor the home slot (bits 0-31) is chosen by; never 0 (an empty lane).
#[inline(always)]
pub(super) fn fingerprint(x1: u64) -> u16 {
    ((x1 >> 32) as u16).max(1)
}

/// One bucket's fingerprints, a 16-bit lane per slot (0 = empty), 32-byte aligned so
/// that all four words sit in one line. Written only by the holder of the bucket's
/// lock (a load and a store, no read-modify-write): a lane is set before its slot's
/// entry is published and cleared after the entry is removed, so a reader never
/// finds an entry whose fingerprint it did not see (a learn that raced the
/// publication goes to the locked path, which searches the bucket).
#[repr(C, align(32))]
#[derive(Default)]
pub(super) struct Fingerprints([AtomicU64; 4]);

impl Fingerprints {
    /// False when no slot of the bucket holds a key with fingerprint `fp`.
    #[inline(always)]
    pub(super) fn may_hold(&self, fp: u16) -> bool {
        self.matches(fp) != 0
    }

    /// Non-zero when a lane equals `fp`: the classic "has a zero lane" test on the
    /// words XORed with `fp` in every lane (exact for whether one matches; which
    /// lanes it flags above a match may be wrong, and nothing here asks).
    #[inline(always)]
    fn matches(&self, fp: u16) -> u64 {
        let all = fp as u64 * LANES_LOW;
        self.0.iter().fold(0, |m, w| {
            let x = w.load(Relaxed) ^ all;
            m | (x.wrapping_sub(LANES_LOW) & !x & LANES_HIGH)
        })
    }

    /// Sets slot `i`'s lane to `fp` (0 empties it). Lock held.
    #[inline]
    pub(super) fn set(&self, i: usize, fp: u16) {
        let (w, shift) = (&self.0[i / 4], 16 * (i % 4) as u32);
        let old = w.load(Relaxed);
        w.store(old & !(0xffff << shift) | (fp as u64) << shift, Relaxed);
    }

    /// Slot `i`'s lane (tests and validation).
    #[cfg(test)]
    pub(super) fn get(&self, i: usize) -> u16 {
        (self.0[i / 4].load(Relaxed) >> (16 * (i % 4))) as u16
    }

    /// The line to prefetch before [`Fingerprints::may_hold`].
    #[inline(always)]
    pub(super) fn line(&self) -> &AtomicU64 {
        &self.0[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `may_hold` is exactly "some lane equals the fingerprint", whatever the
        /// other lanes hold (the SWAR test's borrows never make a miss a match or
        /// hide a match).
        #[test]
        fn may_hold_is_exact(lanes in proptest::array::uniform15(any::<u16>()), fp in 1u16..) {
            let f = Fingerprints::default();
            for (i, &l) in lanes.iter().enumerate() {
                f.set(i, l);
            }
            for (i, &l) in lanes.iter().enumerate() {
                prop_assert_eq!(f.get(i), l);
            }
            prop_assert_eq!(f.may_hold(fp), lanes.contains(&fp));
            for &l in lanes.iter().filter(|&&l| l != 0) {
                prop_assert!(f.may_hold(l));
            }
        }
    }

    #[test]
    fn an_empty_lane_matches_no_fingerprint() {
        let f = Fingerprints::default();
        assert!((1..=u16::MAX).all(|fp| !f.may_hold(fp)));
        assert_eq!(fingerprint(0), 1);
        assert_eq!(fingerprint(0xabcd << 32 | 0xffff_ffff), 0xabcd);
    }
}
