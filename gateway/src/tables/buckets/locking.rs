//! Bucket locks taken in one global order (ascending index), so that writers that
//! lock several buckets (a key's two, or both keys of a connection) never deadlock.

/// Sorts `buckets` and calls `lock` once for each distinct index, lowest first;
/// returns them sorted, for [`unlock_in_order`].
#[inline(always)]
pub(in crate::tables) fn lock_in_order<const N: usize>(
    mut buckets: [usize; N],
    lock: impl Fn(usize),
) -> [usize; N] {
    buckets.sort_unstable();
    for (i, &b) in buckets.iter().enumerate() {
        if i == 0 || buckets[i - 1] != b {
            lock(b);
        }
    }
    buckets
}

/// Calls `unlock` once for each distinct index of `sorted` (what
/// [`lock_in_order`] returned).
#[inline(always)]
pub(in crate::tables) fn unlock_in_order<const N: usize>(
    sorted: &[usize; N],
    unlock: impl Fn(usize),
) {
    for (i, &b) in sorted.iter().enumerate() {
        if i == 0 || sorted[i - 1] != b {
            unlock(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn each_distinct_bucket_once_in_ascending_order() {
        let locked = RefCell::new(Vec::new());
        let sorted = lock_in_order([9, 2, 9, 4], |b| locked.borrow_mut().push(b));
        assert_eq!(*locked.borrow(), [2, 4, 9]);
        assert_eq!(sorted, [2, 4, 9, 9]);
        let unlocked = RefCell::new(Vec::new());
        unlock_in_order(&sorted, |b| unlocked.borrow_mut().push(b));
        assert_eq!(*unlocked.borrow(), [2, 4, 9]);
    }
}
