//! A tiny immutable map from a non-zero u32 (an IPv4 address, a VNI) to a u16 index,
//! for the per-packet lookups of the snapshot (decap allow-list, VNI slot, FDB VTEP
//! -> template). Open addressing at <= 50 % load, one multiply to hash, linear probe:
//! a hit is one or two loads from a table that stays in L1, where a SwissTable with
//! ahash costs a hash, a SIMD group match and a compare.

/// Built once by the control side; read by every worker.
#[derive(Debug, Clone)]
pub struct U32Index {
    keys: Box<[u32]>,
    vals: Box<[u16]>,
    shift: u32,
}

impl Default for U32Index {
    fn default() -> Self {
        U32Index::build(std::iter::empty())
    }
}

impl U32Index {
    /// Builds from (key, value) pairs; a key of 0 is ignored (0 marks an empty slot).
    /// A later duplicate key overrides an earlier one.
    pub fn build(pairs: impl IntoIterator<Item = (u32, u16)>) -> U32Index {
        let pairs: Vec<(u32, u16)> = pairs.into_iter().filter(|&(k, _)| k != 0).collect();
        let size = (pairs.len() * 2).max(8).next_power_of_two();
        let mut keys = vec![0u32; size].into_boxed_slice();
        let mut vals = vec![0u16; size].into_boxed_slice();
        let shift = 32 - size.trailing_zeros();
        let mask = size - 1;
        for (k, v) in pairs {
            let mut i = Self::home(k, shift);
            while keys[i] != 0 && keys[i] != k {
                i = (i + 1) & mask;
            }
            keys[i] = k;
            vals[i] = v;
        }
        U32Index { keys, vals, shift }
    }

    #[inline(always)]
    fn home(k: u32, shift: u32) -> usize {
        (k.wrapping_mul(0x9E37_79B1) >> shift) as usize
    }

    /// The value of `k`, if present.
    #[inline]
    pub fn get(&self, k: u32) -> Option<u16> {
        let mask = self.keys.len() - 1;
        let mut i = Self::home(k, self.shift);
        loop {
            let x = self.keys[i];
            if x == k && k != 0 {
                return Some(self.vals[i]);
            }
            if x == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.iter().filter(|&&k| k != 0).count()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_a_hashmap(keys in proptest::collection::vec(any::<u32>(), 0..300), probes in proptest::collection::vec(any::<u32>(), 0..100)) {
            let model: std::collections::HashMap<u32, u16> =
                keys.iter().enumerate().filter(|(_, &k)| k != 0).map(|(i, &k)| (k, i as u16)).collect();
            let idx = U32Index::build(keys.iter().enumerate().map(|(i, &k)| (k, i as u16)));
            prop_assert_eq!(idx.len(), model.len());
            for k in keys.iter().chain(probes.iter()) {
                prop_assert_eq!(idx.get(*k), model.get(k).copied());
            }
            prop_assert_eq!(idx.get(0), None);
        }
    }
}
