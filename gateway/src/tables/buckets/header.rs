//! The header word of a hash bucket that lock-free readers and locking writers share
//! (the FDB's and the conntrack's key buckets): one `u64` holding
//!
//! * bits 0-31: a seqlock **sequence**, odd while a write is in progress. Readers
//!   copy what they need between two loads of an even, unchanged sequence;
//! * bit 32: the writers' **lock** (a CAS takes it; only its holder stores the word,
//!   so everything else is plain stores);
//! * bits 33 to 33 + `OVF_BITS`: the **overflow count**, how many keys whose primary
//!   bucket this is live in their secondary (a lookup reads the secondary only when it
//!   is not zero);
//! * the bits above: the table's own (the FDB and the conntrack keep their slots'
//!   occupancy there), stored by the lock holder inside a write.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{fence, AtomicU64};

/// The sequence bits.
pub(in crate::tables) const SEQ_MASK: u64 = 0xffff_ffff;
/// The writers' lock bit.
pub(in crate::tables) const LOCK: u64 = 1 << 32;
const OVF_SHIFT: u32 = 33;

/// A bucket header whose overflow count is `OVF_BITS` wide.
#[derive(Default)]
pub(in crate::tables) struct BucketHeader<const OVF_BITS: u32>(AtomicU64);

/// Spins, then yields once a writer has obviously been descheduled.
#[inline]
pub(in crate::tables) fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 1024 {
        std::hint::spin_loop();
    } else {
        // Tests fail instead of hanging when a writer died holding a lock.
        #[cfg(test)]
        assert!(*spins < 1 << 22, "bucket lock or sequence stuck");
        std::thread::yield_now();
    }
}

/// The next sequence value of a header (or of any seqlock word laid out the same).
#[inline(always)]
pub(in crate::tables) fn bump_seq(h: u64) -> u64 {
    (h & !SEQ_MASK) | (h.wrapping_add(1) & SEQ_MASK)
}

impl<const OVF_BITS: u32> BucketHeader<OVF_BITS> {
    const OVF_MASK: u64 = (u64::MAX >> (64 - OVF_BITS)) << OVF_SHIFT;
    /// The lowest bit the table may use for itself.
    pub(in crate::tables) const TABLE_SHIFT: u32 = OVF_SHIFT + OVF_BITS;

    /// The word, unsynchronised (inside a `read`, or with the lock held).
    #[inline(always)]
    pub(in crate::tables) fn load(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// The word, loaded with Acquire (the start of a hand-rolled seqlock read).
    #[inline(always)]
    pub(in crate::tables) fn load_acquire(&self) -> u64 {
        self.0.load(Acquire)
    }

    /// The overflow count of a header word.
    #[inline(always)]
    pub(in crate::tables) fn overflow(h: u64) -> u64 {
        (h & Self::OVF_MASK) >> OVF_SHIFT
    }

    /// Runs `f` until it ran on a consistent bucket (seqlock read) and returns its
    /// result with the header word it ran under. `f` must only read.
    #[inline(always)]
    pub(in crate::tables) fn read<R>(&self, mut f: impl FnMut() -> R) -> (R, u64) {
        let mut spins = 0;
        loop {
            let h1 = self.0.load(Acquire);
            if h1 & 1 == 0 {
                let r = f();
                fence(Acquire);
                if self.unchanged_since(h1) {
                    return (r, h1);
                }
            }
            backoff(&mut spins);
        }
    }

    /// True when no write started since `h` was loaded (and, if `h` was even, what
    /// was read since is consistent; order the reads before this with a fence).
    #[inline(always)]
    pub(in crate::tables) fn unchanged_since(&self, h: u64) -> bool {
        (self.0.load(Relaxed) ^ h) & SEQ_MASK == 0
    }

    /// Takes the writers' lock (spins while another writer holds it).
    pub(in crate::tables) fn lock(&self) {
        let mut spins = 0;
        loop {
            let h = self.0.load(Relaxed);
            if h & LOCK == 0
                && self
                    .0
                    .compare_exchange_weak(h, h | LOCK, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
            backoff(&mut spins);
        }
    }

    // Only the lock holder stores the word, so the following are plain stores.

    /// Releases the lock (outside a write).
    pub(in crate::tables) fn unlock(&self) {
        let h = self.0.load(Relaxed);
        debug_assert!(h & LOCK != 0 && h & 1 == 0);
        self.0.store(h & !LOCK, Release);
    }

    /// Starts a write: readers from now on retry until [`Self::end_write`].
    pub(in crate::tables) fn begin_write(&self) {
        let h = self.0.load(Relaxed);
        debug_assert!(h & LOCK != 0 && h & 1 == 0);
        self.0.store(bump_seq(h), Relaxed);
        fence(Release);
    }

    /// Ends a write: the bucket is consistent again, under a new sequence.
    pub(in crate::tables) fn end_write(&self) {
        let h = self.0.load(Relaxed);
        debug_assert!(h & LOCK != 0 && h & 1 == 1);
        self.0.store(bump_seq(h), Release);
    }

    /// Sets (`on`) or clears the table's own `bits` (lock held, inside a write).
    pub(in crate::tables) fn set_table_bits(&self, bits: u64, on: bool) {
        let h = self.0.load(Relaxed);
        debug_assert!(h & LOCK != 0 && h & 1 == 1);
        debug_assert!(bits >> Self::TABLE_SHIFT << Self::TABLE_SHIFT == bits);
        self.0.store(if on { h | bits } else { h & !bits }, Relaxed);
    }

    /// Changes the overflow count by `delta`, saturating (lock held). It does not
    /// bump the sequence: readers use the count they loaded with their snapshot.
    pub(in crate::tables) fn add_overflow(&self, delta: i64) {
        let h = self.0.load(Relaxed);
        debug_assert!(h & LOCK != 0);
        let max = (Self::OVF_MASK >> OVF_SHIFT) as i64;
        let n = (Self::overflow(h) as i64 + delta).clamp(0, max);
        self.0
            .store((h & !Self::OVF_MASK) | ((n as u64) << OVF_SHIFT), Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type H = BucketHeader<16>;

    #[test]
    fn fields_do_not_overlap() {
        let h = H::default();
        h.lock();
        h.begin_write();
        h.set_table_bits(0b101 << H::TABLE_SHIFT, true);
        h.end_write();
        h.add_overflow(3);
        h.add_overflow(-1);
        let w = h.load();
        assert_eq!(H::overflow(w), 2);
        assert_eq!(w & SEQ_MASK, 2, "one write: two sequence steps");
        assert_eq!(w >> H::TABLE_SHIFT, 0b101);
        assert_ne!(w & LOCK, 0);
        h.unlock();
        assert_eq!(h.load() & LOCK, 0);
        // Saturates at both ends instead of spilling into the neighbours.
        h.lock();
        h.add_overflow(-10);
        assert_eq!(H::overflow(h.load()), 0);
        h.add_overflow(1 << 20);
        assert_eq!(H::overflow(h.load()), 0xffff);
        assert_eq!(h.load() >> H::TABLE_SHIFT, 0b101);
        assert_eq!(BucketHeader::<31>::TABLE_SHIFT, 64);
    }

    #[test]
    fn a_read_retries_across_a_write() {
        let h = H::default();
        let (r, w) = h.read(|| 7);
        assert_eq!((r, w & SEQ_MASK), (7, 0));
        h.lock();
        h.begin_write();
        assert!(
            !h.unchanged_since(w),
            "a write in progress changes the sequence"
        );
        h.end_write();
        h.unlock();
        assert!(!h.unchanged_since(w));
        let (_, w2) = h.read(|| ());
        assert!(h.unchanged_since(w2));
    }
}
