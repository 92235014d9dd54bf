//! Tests of lookups (single and burst), of the entry's seqlock read and of observe.

use super::super::bucket::Entry;
use super::super::test_support::*;
use super::super::{Conn, CtFilter, Timeouts};
use super::*;
use std::net::Ipv4Addr;

#[test]
fn insert_and_lookup_both_directions() {
    let t = Conntrack::with_seed(64, Timeouts::default(), 7);
    let c = trace_conn();
    let hit = t.insert(&c, CtState::SynSent, 100).unwrap();
    assert_eq!(
        (hit.dir, hit.conn(), hit.state),
        (Dir::Original, c, CtState::SynSent)
    );
    let o = t.lookup(&c.original_key()).unwrap();
    assert_eq!(
        (o.idx, o.gen, o.dir, o.conn()),
        (hit.idx, hit.gen, Dir::Original, c)
    );
    let r = t.lookup(&c.reply_key()).unwrap();
    assert_eq!((r.idx, r.dir, r.conn()), (hit.idx, Dir::Reply, c));
    // The other ways round, and near misses, are not tracked.
    let mut k = c.original_key();
    k.src_port += 1;
    assert!(t.lookup(&k).is_none());
    let mut k = c.original_key();
    k.proto = UDP;
    assert!(t.lookup(&k).is_none());
    let k = c.original_key();
    let swapped = FlowKey {
        src: k.dst,
        dst: k.src,
        src_port: k.dst_port,
        dst_port: k.src_port,
        ..k
    };
    assert!(t.lookup(&swapped).is_none());
    // Preserve-client-IP mode: the reply key is backend -> client.
    let p = Conn {
        snat: None,
        client: sa([92, 234, 68, 73], 53711),
        ..c
    };
    let ph = t.insert(&p, CtState::SynSent, 100).unwrap();
    let pr = t.lookup(&FlowKey {
        proto: TCP,
        src: Ipv4Addr::new(10, 255, 0, 6),
        src_port: 80,
        dst: Ipv4Addr::new(92, 234, 68, 73),
        dst_port: 53711,
    });
    assert_eq!(pr.map(|h| (h.idx, h.dir)), Some((ph.idx, Dir::Reply)));
    assert_eq!(t.len(), 2);
    assert_eq!(t.stats().created, 2);
    assert_eq!(t.stats().in_state(CtState::SynSent), 2);
    validate(&t).unwrap();
}

#[test]
fn lookup_burst_matches_lookup() {
    let t = Conntrack::with_seed(300, Timeouts::default(), 17);
    for n in 0..225 {
        t.insert(&conn(n, n % 3 != 0), CtState::Established, 1)
            .unwrap();
    }
    // 75 keys: hits in both directions and misses, across a partial second chunk.
    let keys: Vec<FlowKey> = (0..75u32)
        .map(|i| {
            let c = conn(i * 3, (i * 3) % 3 != 0);
            match i % 3 {
                0 => c.original_key(),
                1 => c.reply_key(),
                _ => conn(1000 + i, true).original_key(),
            }
        })
        .collect();
    // Whatever `out` held before is overwritten, misses too.
    let stale = t.lookup(&conn(0, false).original_key());
    assert!(stale.is_some());
    let mut out = vec![stale; keys.len()];
    t.lookup_burst(&keys, &mut out);
    let want: Vec<Option<CtHit>> = keys.iter().map(|k| t.lookup(k)).collect();
    assert_eq!(out, want);
    assert_eq!(out.iter().filter(|h| h.is_some()).count(), 50);
    // A key not looked up (NONE) finds nothing, beside keys that do.
    let packed: Vec<PackedKey> = keys[..LOOKUP_BURST]
        .iter()
        .enumerate()
        .map(|(i, k)| {
            if i % 4 == 1 {
                PackedKey::NONE
            } else {
                pack_key(k)
            }
        })
        .collect();
    let mut out = vec![stale; packed.len()];
    t.lookup_packed_burst(&packed, &mut out);
    for (i, (o, k)) in out.iter().zip(&keys).enumerate() {
        let want = if i % 4 == 1 { None } else { t.lookup(k) };
        assert_eq!(*o, want, "key {i}");
    }
    t.lookup_burst(&[], &mut []);
    // Every key of the table, including those the burst's scan of first lines
    // does not see: in a bucket's second line, or in the secondary bucket.
    let beyond_first_line = t
        .buckets
        .iter()
        .flat_map(|b| &b.slots[FIRST_LINE_SLOTS..])
        .filter(|s| s.load(Relaxed) != 0)
        .count();
    let overflowing = t
        .buckets
        .iter()
        .filter(|b| Header::overflow(b.header.load()) != 0)
        .count();
    assert!(beyond_first_line > 0 && overflowing > 0);
    let all: Vec<FlowKey> = (0..225)
        .flat_map(|n| {
            let c = conn(n, n % 3 != 0);
            [c.original_key(), c.reply_key()]
        })
        .collect();
    let mut out = vec![None; all.len()];
    t.lookup_burst(&all, &mut out);
    assert!(out.iter().all(|h| h.is_some()));
    let want: Vec<Option<CtHit>> = all.iter().map(|k| t.lookup(k)).collect();
    assert_eq!(out, want);
}

#[test]
fn observe_refreshes_last_seen_once_per_second_and_per_direction() {
    let t = Conntrack::with_seed(16, Timeouts::default(), 3);
    let hit = insert_assured(&t, &conn(1, true), 100);
    let e = &t.entries[hit.idx as usize];
    let words = |e: &Entry| {
        (
            e.state.load(Relaxed),
            e.last_seen[0].load(Relaxed),
            e.last_seen[1].load(Relaxed),
        )
    };
    let before = words(e);
    t.observe(&hit, ACK, 100);
    t.observe(&hit, ACK, 99); // a lagging clock never moves it back
    assert_eq!(words(e), before, "a same-second packet wrote");
    t.observe(&hit, ACK, 105);
    t.observe(
        &CtHit {
            dir: Dir::Reply,
            ..hit
        },
        ACK,
        107,
    );
    assert_eq!(words(e), (before.0, 105, 107));
    assert_eq!(t.entries(&CtFilter::all(), 110)[0].idle, 3);
    // A stale hit (the entry was reused) changes nothing.
    t.remove(hit.idx, hit.gen).unwrap();
    let c2 = Conn {
        owner: hit.conn().owner,
        ..conn(2, true)
    };
    let again = t.insert(&c2, CtState::SynSent, 200).unwrap();
    assert_eq!(again.idx, hit.idx, "the freed entry is reused first");
    assert_ne!(again.gen, hit.gen);
    let before = words(e);
    assert_eq!(t.observe(&hit, RST, 300), CtState::Closed);
    assert_eq!(words(e), before);
    assert_eq!(
        t.lookup(&again.conn().original_key()).unwrap().state,
        CtState::SynSent
    );
    validate(&t).unwrap();
}

#[test]
fn entry_read_retries_when_the_entry_is_reused_in_the_middle() {
    let t = Conntrack::with_seed(8, Timeouts::default(), 2);
    let a = conn(1, true);
    let b = Conn {
        owner: a.owner,
        ..conn(2, false)
    };
    let ha = t.insert(&a, CtState::Established, 1).unwrap();
    let calls = std::cell::Cell::new(0);
    let snap = t
        .read_entry_with(ha.idx as usize, || {
            if calls.get() == 0 {
                // Another thread removes the connection and reuses the entry.
                t.remove(ha.idx, ha.gen).unwrap();
                let hb = t.insert(&b, CtState::SynSent, 2).unwrap();
                assert_eq!(hb.idx, ha.idx);
            }
            calls.set(calls.get() + 1);
        })
        .unwrap();
    assert_eq!(Conn::unpack(&snap.w), b, "a torn (a, b) entry was accepted");
    assert_eq!(CtState::from_word(snap.state), CtState::SynSent);
    assert_eq!(calls.get(), 2);
    // A freed entry reads as None.
    t.remove(ha.idx, snap.gen()).unwrap();
    assert!(t.read_entry(ha.idx as usize).is_none());
}
