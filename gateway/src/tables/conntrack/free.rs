//! The free entries: [`FREE_STRIPES`] Treiber stacks linked through the first conn
//! word of the free entries, their head words tagged against ABA. An insert pops
//! from its owner's stripe first; a removal pushes onto the owner's stripe.

use super::{Conntrack, FREE_STRIPES, LO32};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

impl Conntrack {
    /// Is any entry free? (16 loads: for a refusal, not for every insert.)
    pub fn has_free_entry(&self) -> bool {
        self.free.iter().any(|h| h.0.load(Relaxed) & LO32 != 0)
    }

    pub(super) fn pop_free(&self, home: usize) -> Option<u32> {
        (0..FREE_STRIPES).find_map(|k| self.pop_stripe((home + k) % FREE_STRIPES))
    }

    fn pop_stripe(&self, s: usize) -> Option<u32> {
        let head = &self.free[s].0;
        let mut h = head.load(Acquire);
        loop {
            let top = h & LO32;
            if top == 0 {
                return None;
            }
            let i = (top - 1) as usize;
            // A stale read (the entry was popped meanwhile) fails the CAS below (the tag
            // changed); the bound check keeps even a wrapped tag from indexing out.
            let next = self.entries[i].w[0].load(Relaxed) & LO32;
            if next <= self.entries.len() as u64 {
                let new = ((h >> 32).wrapping_add(1) << 32) | next;
                match head.compare_exchange_weak(h, new, Acquire, Acquire) {
                    Ok(_) => return Some(i as u32),
                    Err(x) => h = x,
                }
            } else {
                h = head.load(Acquire);
            }
        }
    }

    pub(super) fn push_free(&self, s: usize, idx: u32) {
        let head = &self.free[s % FREE_STRIPES].0;
        let mut h = head.load(Relaxed);
        loop {
            self.entries[idx as usize].w[0].store(h & LO32, Relaxed);
            let new = ((h >> 32).wrapping_add(1) << 32) | (idx as u64 + 1);
            match head.compare_exchange_weak(h, new, Release, Relaxed) {
                Ok(_) => return,
                Err(x) => h = x,
            }
        }
    }
}
