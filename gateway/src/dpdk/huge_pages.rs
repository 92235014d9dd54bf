//! Big tables on huge pages. DPDK keeps its own tables (rte_hash, LPM) in hugepage
//! memory so that a lookup's random access costs a cache miss, not also a page walk;
//! vxgw's connection table and FDB are Rust allocations, so they ask the kernel for
//! transparent huge pages instead (`madvise(MADV_HUGEPAGE)` before first touch).
//! With 4 KiB pages a 180 MB connection table needs ~46k TLB entries and every random
//! key costs a page walk; with 2 MiB pages it needs ~90.
//!
//! The advice is a hint: a kernel without THP, or with it off, gives ordinary pages,
//! and nothing else changes.

use std::mem::size_of;

/// Huge page size the advice aims at (x86-64, aarch64 with 4 KiB base pages).
const HUGE: usize = 2 << 20;

/// Tables smaller than this stay on ordinary pages (they fit the TLB anyway).
const MIN_BYTES: usize = 8 << 20;

/// A table of `n` values made by `init`, its memory advised as huge-page backed
/// before any of it is written.
pub fn huge_table<T>(n: usize, init: impl FnMut() -> T) -> Box<[T]> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    let bytes = n.saturating_mul(size_of::<T>());
    if bytes >= MIN_BYTES {
        let start = v.spare_capacity_mut().as_mut_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > first {
            // SAFETY: [first, end) lies inside the allocation `v` owns (capacity n,
            // nothing written yet); MADV_HUGEPAGE changes only how the range is
            // backed, never its contents or its validity. A failure is harmless.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
    v.extend(std::iter::repeat_with(init).take(n));
    v.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_hold_what_init_made_whatever_their_size() {
        for n in [0, 1, 1000, (MIN_BYTES / 8) + 12345] {
            let mut k = 0u64;
            let t = huge_table(n, || {
                k += 1;
                k
            });
            assert_eq!(t.len(), n);
            assert!(t.iter().enumerate().all(|(i, &x)| x == i as u64 + 1));
        }
    }
}
