//! The memory layouts: the index's [`Bucket`] (header and 15 key slots, with its
//! seqlock read and its locked writes), the connection [`Entry`] (one line), the
//! free stacks' heads ([`FreeHead`]) and a stripe of counters ([`CounterBlock`]).

use super::{CtState, Header, N_EVENTS, OCC_MASK, OCC_SHIFT, SLOTS};
use crate::tables::buckets::placement;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64};

/// One bucket of the key index: header and 15 slots, 128 bytes.
#[repr(C, align(128))]
#[derive(Default)]
pub(super) struct Bucket {
    pub(super) header: Header,
    pub(super) slots: [AtomicU64; SLOTS],
}

/// One connection, one cache line.
#[repr(C, align(64))]
#[derive(Default)]
pub(super) struct Entry {
    pub(super) meta: AtomicU64,
    pub(super) state: AtomicU64,
    pub(super) w: [AtomicU64; 5],
    pub(super) last_seen: [AtomicU32; 2],
}

/// A free-stack head: tag << 32 | (index + 1), 0 = empty. Its own 128 bytes.
#[repr(align(128))]
#[derive(Default)]
pub(super) struct FreeHead(pub(super) AtomicU64);

/// The counters of one stripe.
#[derive(Default)]
pub(super) struct CounterBlock {
    pub(super) events: [AtomicU64; N_EVENTS],
    pub(super) states: [AtomicI64; CtState::COUNT],
    pub(super) assured: AtomicI64,
}

impl Bucket {
    /// A consistent copy of the slots (seqlock read) and the header it was read under.
    #[inline]
    pub(super) fn read(&self) -> ([u64; SLOTS], u64) {
        self.read_with(|| {})
    }

    /// `read` with a hook run halfway through the slot loads (tests interleave a
    /// writer there; the empty hook compiles away).
    #[inline(always)]
    pub(super) fn read_with(&self, mid: impl Fn()) -> ([u64; SLOTS], u64) {
        self.header.read(|| {
            std::array::from_fn(|i| {
                if i == SLOTS / 2 {
                    mid();
                }
                self.slots[i].load(Relaxed)
            })
        })
    }

    /// Stores `word` in slot `i` inside a write section (lock held), and its
    /// occupancy bit.
    pub(super) fn write_slot(&self, i: usize, word: u64) {
        self.header.begin_write();
        self.slots[i].store(word, Relaxed);
        self.header
            .set_table_bits(1 << (OCC_SHIFT + i as u32), word != 0);
        self.header.end_write();
    }

    /// The slots in use, one bit each (lock held).
    pub(super) fn occupancy(&self) -> u32 {
        (self.header.load() >> OCC_SHIFT) as u32 & OCC_MASK
    }

    /// First free slot not in `skip`, and the number of used slots counting `skip`
    /// (lock held), from the occupancy bits.
    #[inline(always)]
    pub(super) fn free_slot(&self, skip: Option<usize>) -> (Option<usize>, usize) {
        placement::free_slot(
            self.occupancy(),
            OCC_MASK,
            None,
            skip.filter(|&k| k < SLOTS),
        )
    }
}

#[cfg(test)]
#[path = "bucket_tests.rs"]
mod tests;
