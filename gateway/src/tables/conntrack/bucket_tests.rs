//! Tests of the layouts and of the bucket's seqlock.

use super::super::test_support::*;
use super::super::{Conntrack, Timeouts, FIRST_LINE_SLOTS};
use super::*;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn layout_and_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Conntrack>();
    assert_eq!(std::mem::size_of::<Entry>(), 64);
    assert_eq!(std::mem::size_of::<Bucket>(), 128);
    assert_eq!(std::mem::align_of::<Bucket>(), 128);
    assert_eq!(std::mem::offset_of!(Bucket, slots), 8);
    assert!(std::mem::offset_of!(Bucket, slots) + FIRST_LINE_SLOTS * 8 <= 64);
    assert!(std::mem::size_of::<CounterBlock>() <= 256);
    let t = Conntrack::with_seed(1000, Timeouts::default(), 1);
    assert_eq!(t.capacity(), 1000);
    assert!(t.key_slots() >= 2000 * 4 / 3 && t.key_slots() < 2000 * 4 / 3 + SLOTS);
    assert!(t.is_empty());
    validate(&t).unwrap();
    // 64 + 2 * (128 + 16)/15 * 4/3 bytes per connection (+ 4 KiB of stack heads
    // and counters).
    let t = Conntrack::with_seed(100_000, Timeouts::default(), 1);
    let per = t.memory_bytes() as f64 / 100_000.0;
    assert!((89.3..90.3).contains(&per), "{per} bytes per connection");
}

#[test]
fn free_slot_finds_the_first_free_slot_and_counts_the_used_ones() {
    let b = Bucket::default();
    b.header.lock();
    assert_eq!(b.free_slot(None), (Some(0), 0));
    assert_eq!(b.free_slot(Some(0)), (Some(1), 1));
    for i in [0, 1, 3] {
        b.write_slot(i, 1);
    }
    assert_eq!(b.free_slot(None), (Some(2), 3));
    assert_eq!(b.free_slot(Some(2)), (Some(4), 4));
    for i in 0..SLOTS {
        b.write_slot(i, 1);
    }
    assert_eq!(b.free_slot(None), (None, SLOTS));
    b.write_slot(SLOTS - 1, 0);
    assert_eq!(b.free_slot(None), (Some(SLOTS - 1), SLOTS - 1));
    assert_eq!(b.free_slot(Some(SLOTS - 1)), (None, SLOTS));
    assert_eq!(b.occupancy(), OCC_MASK >> 1);
    b.header.unlock();
}

#[test]
fn seqlock_read_retries_when_a_write_lands_in_the_middle() {
    let b = Bucket::default();
    b.slots[0].store(11, Relaxed);
    b.slots[SLOTS - 1].store(111, Relaxed);
    let calls = std::cell::Cell::new(0);
    // A writer slips in after the first half of the slots was copied.
    let (s, _) = b.read_with(|| {
        if calls.get() == 0 {
            b.header.lock();
            b.write_slot(0, 22);
            b.write_slot(SLOTS - 1, 222);
            b.header.unlock();
        }
        calls.set(calls.get() + 1);
    });
    assert_eq!(
        (s[0], s[SLOTS - 1]),
        (22, 222),
        "a torn (old, new) copy was accepted"
    );
    assert_eq!(calls.get(), 2);
    // The lock bit and the overflow count alone do not force a retry.
    calls.set(0);
    let (s, _) = b.read_with(|| {
        if calls.get() == 0 {
            b.header.lock();
            b.header.add_overflow(1);
            b.header.unlock();
        }
        calls.set(calls.get() + 1);
    });
    assert_eq!((s[0], calls.get()), (22, 1));
    // A reader waits while a write is in progress.
    let b = Arc::new(Bucket::default());
    b.header.lock();
    b.header.begin_write();
    b.slots[0].store(5, Relaxed);
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (b, done) = (b.clone(), done.clone());
        std::thread::spawn(move || {
            let (s, _) = b.read();
            done.store(true, Relaxed);
            s[0]
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    assert!(!done.load(Relaxed), "read while the sequence was odd");
    b.slots[0].store(6, Relaxed);
    b.header.end_write();
    b.header.unlock();
    assert_eq!(reader.join().unwrap(), 6);
}
