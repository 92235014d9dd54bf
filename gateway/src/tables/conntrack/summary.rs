//! The buckets' summaries: 128 bits a bucket, a bit per key it holds, so that most
//! lookups of an absent key read no slot of the bucket.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// A key's bit in its bucket's 128-bit summary: which of the two words (tag bit 39)
/// and which bit of it (tag bits 33-38), from the tag of a slot word or a
/// [`Pos`](super::key::Pos)
/// (the tag's lowest bit, 32, is always set). A lookup reads one word a bucket, in
/// which half the bucket's keys have their bits: ~16 % of absent keys find their bit
/// set in a full table, against ~30 % with one 64-bit word a bucket.
#[inline(always)]
pub(super) fn summary_bit(tag_or_slot: u64) -> (usize, u64) {
    (
        ((tag_or_slot >> 39) & 1) as usize,
        1 << ((tag_or_slot >> 33) & 63),
    )
}

/// Both words of a bucket's summary, from the slot words it holds.
pub(super) fn summary_of(slots: impl Iterator<Item = u64>) -> [u64; 2] {
    slots.filter(|&s| s != 0).fold([0; 2], |mut m, s| {
        let (w, bit) = summary_bit(s);
        m[w] |= bit;
        m
    })
}

/// A bucket's summary: 128 bits, a bit per key it holds ([`summary_bit`]), 16-byte
/// aligned so that both words sit in one line.
#[repr(C, align(16))]
#[derive(Default)]
pub(super) struct Summary(pub(super) [AtomicU64; 2]);

impl Summary {
    /// False when the bucket certainly does not hold a key with this tag.
    #[inline(always)]
    pub(super) fn holds(&self, tag: u64) -> bool {
        let (w, bit) = summary_bit(tag);
        self.0[w].load(Relaxed) & bit != 0
    }

    #[cfg(test)]
    pub(super) fn words(&self) -> [u64; 2] {
        [self.0[0].load(Relaxed), self.0[1].load(Relaxed)]
    }
}
