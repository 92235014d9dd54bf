//! Software prefetch (DPDK's `rte_prefetch0`): a hint that a cache line will be read
//! soon, so a burst's independent misses overlap instead of stalling one by one.
//!
//! It lives in the DPDK layer only because the instruction is `unsafe` in Rust; it
//! needs no EAL and is used by the tables' burst lookups as well as for mbufs.

/// Prefetches the cache line holding `*r` into all cache levels.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    prefetch_ptr(r as *const T as *const u8);
}

/// Prefetches the cache line at `p` (any address; a prefetch never faults).
#[inline(always)]
pub fn prefetch_ptr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint; it never faults and reads nothing, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
