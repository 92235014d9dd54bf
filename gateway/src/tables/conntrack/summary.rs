//! The buckets' summaries: 128 bits a bucket, two bits per key it holds (a small
//! Bloom filter per bucket), so that most lookups of an absent key read no slot of
//! the bucket.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// A key's two bits in its bucket's 128-bit summary: which of the two words (tag
/// bit 45) and the two bits of it (tag bits 33-38 and 39-44), from the tag of a slot
/// word or a [`Pos`](super::key::Pos) (the tag's lowest bit, 32, is always set).
/// A lookup reads one word a bucket, in which half the bucket's keys have their
/// bits, and searches the bucket only when both of the key's bits are set: ~2.6 % of
/// absent keys a bucket in a full table (~5 % for the two buckets), against ~8 %
/// (~16 %) with one bit a key, for three more instructions a key.
#[inline(always)]
pub(super) fn summary_bits(tag_or_slot: u64) -> (usize, u64) {
    (
        ((tag_or_slot >> 45) & 1) as usize,
        1 << ((tag_or_slot >> 33) & 63) | 1 << ((tag_or_slot >> 39) & 63),
    )
}

/// Both words of a bucket's summary, from the slot words it holds.
pub(super) fn summary_of(slots: impl Iterator<Item = u64>) -> [u64; 2] {
    slots.filter(|&s| s != 0).fold([0; 2], |mut m, s| {
        let (w, bits) = summary_bits(s);
        m[w] |= bits;
        m
    })
}

/// A bucket's summary: 128 bits, two bits per key it holds ([`summary_bits`]),
/// 16-byte aligned so that both words sit in one line.
#[repr(C, align(16))]
#[derive(Default)]
pub(super) struct Summary(pub(super) [AtomicU64; 2]);

impl Summary {
    /// False when the bucket certainly does not hold a key with this tag.
    #[inline(always)]
    pub(super) fn holds(&self, tag: u64) -> bool {
        let (w, bits) = summary_bits(tag);
        self.0[w].load(Relaxed) & bits == bits
    }

    #[cfg(test)]
    pub(super) fn words(&self) -> [u64; 2] {
        [self.0[0].load(Relaxed), self.0[1].load(Relaxed)]
    }
}
