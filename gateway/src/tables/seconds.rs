//! Arithmetic on the tables' coarse clock: seconds since start in a `u32` that may
//! wrap (after 136 years, but tests start it anywhere). Comparisons go through the
//! signed difference, so they stay right across the wrap.

/// Is `now` later than `then`?
#[inline(always)]
pub(super) fn is_later(now: u32, then: u32) -> bool {
    (now.wrapping_sub(then) as i32) > 0
}

/// Seconds from `then` to `now`; 0 if `then` is in the future.
#[inline(always)]
pub(super) fn elapsed(now: u32, then: u32) -> u32 {
    (now.wrapping_sub(then) as i32).max(0) as u32
}

/// The later of two seconds.
#[inline(always)]
pub(super) fn latest(a: u32, b: u32) -> u32 {
    if is_later(b, a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_survives_the_wrap() {
        assert!(is_later(5, u32::MAX - 5));
        assert!(!is_later(u32::MAX - 5, 5));
        assert!(!is_later(7, 7));
        assert_eq!(elapsed(5, u32::MAX - 5), 11);
        assert_eq!(elapsed(3, 10), 0, "a future second is no time ago");
        assert_eq!(latest(u32::MAX, 2), 2);
        assert_eq!(latest(9, 4), 9);
    }
}
