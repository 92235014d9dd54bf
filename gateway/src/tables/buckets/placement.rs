//! Where a new key goes: a free slot of one bucket from its occupancy bits, and the
//! two-choice rule between a key's primary and secondary buckets.

/// A free slot of a bucket whose used slots are the set bits of `occupied` (within
/// `all`), and the number of used slots. `home` is taken when free (a key is looked
/// for there first), else the lowest free slot; `skip` counts as used (a slot
/// already chosen for another key of the same insert).
#[inline(always)]
pub(in crate::tables) fn free_slot(
    occupied: u32,
    all: u32,
    home: Option<usize>,
    skip: Option<usize>,
) -> (Option<usize>, usize) {
    let mut used = occupied & all;
    if let Some(k) = skip {
        used |= (1u32 << k) & all;
    }
    let free = !used & all;
    let first = match home {
        Some(h) if free & (1 << h) != 0 => Some(h),
        _ => (free != 0).then(|| free.trailing_zeros() as usize),
    };
    (first, used.count_ones() as usize)
}

/// Two-choice placement: the slot (bucket, index) for a new key whose buckets are
/// `b1` (primary) and `b2` (secondary; may equal `b1`), `free_slot(b)` answering
/// each bucket's free slot and use. The primary is filled up to `primary_fill`
/// used slots, then the emptier of the two takes it: primaries stay mostly
/// complete (a lookup reads its secondary only after an overflow) while both
/// buckets keep room. `None`: both are full.
#[inline(always)]
pub(in crate::tables) fn two_choice(
    b1: usize,
    b2: usize,
    slots: usize,
    primary_fill: usize,
    free_slot: impl Fn(usize) -> (Option<usize>, usize),
) -> Option<(usize, usize)> {
    let (free1, used1) = free_slot(b1);
    let (free2, used2) = if b2 != b1 {
        free_slot(b2)
    } else {
        (None, slots)
    };
    let primary_first = used1 < primary_fill || used1 <= used2;
    match (free1, free2) {
        (Some(i), _) if primary_first => Some((b1, i)),
        (_, Some(i)) => Some((b2, i)),
        (Some(i), None) => Some((b1, i)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_slot_prefers_home_then_the_lowest_and_counts_skip_as_used() {
        let all = 0x7fff;
        assert_eq!(free_slot(0, all, None, None), (Some(0), 0));
        assert_eq!(free_slot(0b1011, all, None, None), (Some(2), 3));
        assert_eq!(free_slot(0b1011, all, Some(5), None), (Some(5), 3));
        assert_eq!(free_slot(0b1011, all, Some(1), None), (Some(2), 3));
        assert_eq!(free_slot(0b1011, all, None, Some(2)), (Some(4), 4));
        assert_eq!(free_slot(all, all, Some(3), None), (None, 15));
        // Bits outside `all` are not slots.
        assert_eq!(free_slot(!0, 0b11, None, None), (None, 2));
    }

    #[test]
    fn two_choice_fills_the_primary_then_the_emptier() {
        let slots = 8;
        let of = |u1: usize, u2: usize| {
            move |b: usize| {
                let used = if b == 0 { u1 } else { u2 };
                ((used < slots).then_some(used), used)
            }
        };
        // Below the fill mark: the primary, however full the secondary.
        assert_eq!(two_choice(0, 1, slots, 6, of(5, 0)), Some((0, 5)));
        // Above it: the emptier (ties to the primary).
        assert_eq!(two_choice(0, 1, slots, 6, of(6, 2)), Some((1, 2)));
        assert_eq!(two_choice(0, 1, slots, 6, of(6, 6)), Some((0, 6)));
        // One full: the other; both full: none.
        assert_eq!(two_choice(0, 1, slots, 6, of(8, 7)), Some((1, 7)));
        assert_eq!(two_choice(0, 1, slots, 6, of(7, 8)), Some((0, 7)));
        assert_eq!(two_choice(0, 1, slots, 6, of(8, 8)), None);
        // One bucket for both choices.
        assert_eq!(two_choice(0, 0, slots, 6, of(7, 0)), Some((0, 7)));
        assert_eq!(two_choice(0, 0, slots, 6, of(8, 0)), None);
    }
}
