//! Per-worker counters: written by their owner only, read by anyone.
//!
//! A counter is bumped with a relaxed load and store of the owner's own cache line:
//! no atomic read-modify-write, no lock, and no line shared with other writers.
//! Readers (exporter, stats printer) sum the workers' values when asked.

use std::sync::atomic::{AtomicU64, Ordering};

/// One owner-written counter.
#[derive(Default)]
#[repr(transparent)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Call only from the owning worker.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Current value (from any thread).
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Pads a worker's block of counters to its own cache lines (128 bytes: adjacent-line
/// prefetch pairs lines on x86), so two workers never write the same line.
#[repr(align(128))]
#[derive(Default)]
pub struct CachePadded<T>(pub T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
