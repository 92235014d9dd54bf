//! SNAT source ports of the routing mesh: each worker allocates from its own range,
//! with no atomic read-modify-write on the packet path.
//!
//! # Ownership
//!
//! The ports `[lo, hi]` (default 1024-65535) are split into one contiguous,
//! disjoint range per worker ([`PortSplit`]: the first `n % workers` ranges have
//! one port more than the others), so the owner of a port is arithmetic
//! ([`PortSplit::owner`]), never a lookup. The split gives two parts:
//!
//! * [`SnatPorts`], one per worker, moved into the worker and used through `&mut`:
//!   a FIFO ring of its free ports (a `VecDeque` allocated with room for the whole
//!   range, so it never reallocates) and a bitmap of the ports it has handed out.
//!   [`SnatPorts::alloc`] is a `pop_front` and a bit set: plain memory, nothing
//!   shared; the only atomics are plain stores to the worker's own counters. FIFO rather than LIFO: a freed port is reused as late as possible,
//!   so a backend still holding the previous connection of that port in TIME_WAIT
//!   (`S:sp -> B:bp` is the same 4-tuple) rarely sees it come back.
//! * [`SnatReturns`], shared (`Arc`) by everyone: one bounded lock-free queue
//!   (`crossbeam::queue::ArrayQueue`) per worker, each with room for the worker's
//!   whole range, so a give-back of a port that is out can never find it full.
//!   Whoever removes a connection (the control thread's sweep or flush, or another
//!   worker evicting it: see the conntrack release hook) calls
//!   [`SnatReturns::give_back`], which pushes the port on its owner's queue; the
//!   owner drains its queue with [`SnatPorts::reclaim`], e.g. once per poll round
//!   (an empty queue costs two loads, no read-modify-write, no fence).
//!
//! The owner also validates what comes back: a port outside its range or not
//! handed out (a double free) is dropped and counted instead of being handed out
//! twice. A port the owner frees itself (e.g. its conntrack insert lost a race to
//! another worker) goes straight back to its ring with [`SnatPorts::free`].
//!
//! Wiring (the conntrack's release hook is the one place ports go back):
//!
//! ```text
//! let (returns, ports) = SnatPorts::split(DEFAULT_LO, DEFAULT_HI, workers)?;
//! let r = returns.clone();
//! let ct = Conntrack::with_release(capacity, Timeouts::default(), move |c: &Conn| {
//!     if let Some(s) = c.snat { r.give_back(s.port()); }
//! });
//! // ports[w] moves into worker w, which calls reclaim() once per poll round.
//! ```
//!
//! # Counters
//!
//! Per worker, in that worker's own 128 bytes of [`SnatReturns`]: exhausted
//! allocations and ports in use (owner-written: a load and a store, no
//! read-modify-write, like the pipeline's counters), and rejected give-backs
//! (double frees found by the owner; foreign ports, counted by the giver with a
//! `fetch_add`, which only a bug makes happen). [`SnatReturns::stats`] reads them
//! from any thread.
//!
//! # Capacity
//!
//! Ports are unique per worker range, not per backend: one ingress endpoint IP
//! carries at most `hi - lo + 1` (64 512 by default) SNATed connections at once,
//! each worker `1/workers` of them. More needs more ingress IPs (one split per
//! IP) or preserve-client-IP mode, which uses no port. (Reusing a port towards
//! different backends, as Linux NAT does, would lift the limit: the conntrack
//! reply key includes the backend, so it only needs `B:bp -> S:sp` to be unused,
//! which [`Conntrack::insert`](super::conntrack::Conntrack::insert) already
//! checks; it would trade the O(1) allocator for retries when a backend is busy.)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;
use crossbeam::queue::ArrayQueue;
use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Lowest SNAT port by default (the privileged ports are left alone).
pub const DEFAULT_LO: u16 = 1024;
/// Highest SNAT port by default.
pub const DEFAULT_HI: u16 = 65535;

/// Why a split cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnatError {
    /// `lo > hi`, or `lo` is 0 (port 0 is not a port).
    BadRange,
    /// Zero workers, or fewer ports than workers.
    BadWorkers,
}

impl fmt::Display for SnatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SnatError::BadRange => "SNAT port range empty or starting at 0",
            SnatError::BadWorkers => "no workers, or fewer SNAT ports than workers",
        })
    }
}

impl std::error::Error for SnatError {}

/// The split of `[lo, hi]` into one contiguous range per worker: worker `w` gets
/// `q + 1` ports if `w < r`, else `q`, where `n = hi - lo + 1 = q * workers + r`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortSplit {
    lo: u16,
    hi: u16,
    workers: u16,
    q: u32,
    r: u32,
}

impl PortSplit {
    /// Splits `[lo, hi]` among `workers`.
    pub fn new(lo: u16, hi: u16, workers: u16) -> Result<PortSplit, SnatError> {
        if lo == 0 || lo > hi {
            return Err(SnatError::BadRange);
        }
        let n = (hi - lo) as u32 + 1;
        if workers == 0 || (workers as u32) > n {
            return Err(SnatError::BadWorkers);
        }
        let w = workers as u32;
        Ok(PortSplit {
            lo,
            hi,
            workers,
            q: n / w,
            r: n % w,
        })
    }

    /// Lowest port.
    pub fn lo(&self) -> u16 {
        self.lo
    }

    /// Highest port.
    pub fn hi(&self) -> u16 {
        self.hi
    }

    /// Number of workers.
    pub fn workers(&self) -> u16 {
        self.workers
    }

    /// Ports in all ranges.
    pub fn len(&self) -> usize {
        (self.hi - self.lo) as usize + 1
    }

    /// Never true: a split has at least one port.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// First port of worker `w` (for `w == workers`, one past the last port).
    fn start(&self, w: u32) -> u32 {
        self.lo as u32 + w * self.q + w.min(self.r)
    }

    /// The ports of worker `w` (`w < workers`).
    pub fn range(&self, w: u16) -> RangeInclusive<u16> {
        assert!(w < self.workers, "worker {w} of {}", self.workers);
        let w = w as u32;
        self.start(w) as u16..=(self.start(w + 1) - 1) as u16
    }

    /// The worker that owns `port`, `None` outside `[lo, hi]`.
    #[inline]
    pub fn owner(&self, port: u16) -> Option<u16> {
        if port < self.lo || port > self.hi {
            return None;
        }
        let off = (port - self.lo) as u32;
        let big = self.r * (self.q + 1);
        Some(if off < big {
            off / (self.q + 1)
        } else {
            self.r + (off - big) / self.q
        } as u16)
    }
}

/// A counter written by one thread only (load + store, no read-modify-write),
/// readable from any.
#[derive(Default)]
struct OwnerCounter(AtomicU64);

impl OwnerCounter {
    #[inline]
    fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }

    #[inline]
    fn add(&self, n: u64) {
        self.set(self.get().wrapping_add(n));
    }

    #[inline]
    fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// One worker's counters, its own 128 bytes.
#[repr(align(128))]
#[derive(Default)]
struct WorkerCounters {
    /// Owner-written.
    exhausted: OwnerCounter,
    /// Owner-written gauge.
    in_use: OwnerCounter,
    /// Owner-written: give-backs of ports it had not handed out.
    double_frees: OwnerCounter,
    /// Any thread (`fetch_add`): give-backs that could not be queued.
    bad_returns: AtomicU64,
}

/// One worker's SNAT counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnatStats {
    /// Allocations that found the worker's range exhausted.
    pub exhausted: u64,
    /// Ports handed out and not yet reclaimed.
    pub in_use: u64,
    /// Ports given back that the worker had not handed out (dropped).
    pub double_frees: u64,
    /// Give-backs refused: port outside the split, or its owner's queue full
    /// (which only a double give-back can cause).
    pub bad_returns: u64,
}

/// The shared part: each worker's return queue and counters. `Send + Sync`.
pub struct SnatReturns {
    split: PortSplit,
    queues: Box<[ArrayQueue<u16>]>,
    counters: Box<[WorkerCounters]>,
}

impl fmt::Debug for SnatReturns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnatReturns")
            .field("split", &self.split)
            .finish()
    }
}

impl SnatReturns {
    /// The port split.
    pub fn split(&self) -> PortSplit {
        self.split
    }

    /// The worker that owns `port`.
    #[inline]
    pub fn owner(&self, port: u16) -> Option<u16> {
        self.split.owner(port)
    }

    /// Returns `port` to its owner's queue (any thread; lock-free). False, and
    /// counted, if the port is outside the split or the queue is full (a double
    /// give-back).
    pub fn give_back(&self, port: u16) -> bool {
        let Some(w) = self.owner(port) else {
            self.counters[0].bad_returns.fetch_add(1, Relaxed);
            return false;
        };
        let ok = self.queues[w as usize].push(port).is_ok();
        if !ok {
            self.counters[w as usize].bad_returns.fetch_add(1, Relaxed);
        }
        ok
    }

    /// Ports waiting in worker `w`'s queue.
    pub fn pending(&self, w: u16) -> usize {
        self.queues[w as usize].len()
    }

    /// Worker `w`'s counters (any thread).
    pub fn stats(&self, w: u16) -> SnatStats {
        let c = &self.counters[w as usize];
        SnatStats {
            exhausted: c.exhausted.get(),
            in_use: c.in_use.get(),
            double_frees: c.double_frees.get(),
            bad_returns: c.bad_returns.load(Relaxed),
        }
    }
}

/// One worker's allocator: lives in the worker, used through `&mut`.
pub struct SnatPorts {
    worker: u16,
    ring: Ring,
    shared: Arc<SnatReturns>,
}

/// The worker-owned state: free ports in FIFO order and who is out.
struct Ring {
    lo: u16,
    hi: u16,
    free: VecDeque<u16>,
    /// Bit `port - lo` set while the port is handed out.
    out: Box<[u64]>,
    in_use: u64,
}

impl Ring {
    #[inline]
    fn bit(&self, port: u16) -> (usize, u64) {
        let off = (port - self.lo) as usize;
        (off / 64, 1 << (off % 64))
    }

    /// Puts a handed-out port back at the end of the ring; false (and counted as a
    /// double free) if it is not out, false if it is not in the range.
    #[inline]
    fn take_back(&mut self, port: u16, c: &WorkerCounters) -> bool {
        if port < self.lo || port > self.hi {
            return false;
        }
        let (i, b) = self.bit(port);
        if self.out[i] & b == 0 {
            c.double_frees.add(1);
            return false;
        }
        self.out[i] &= !b;
        self.in_use -= 1;
        c.in_use.set(self.in_use);
        // Never reallocates: the ring has room for the whole range, and this port
        // was not in it.
        self.free.push_back(port);
        true
    }
}

impl fmt::Debug for SnatPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnatPorts")
            .field("worker", &self.worker)
            .field("range", &self.range())
            .field("available", &self.available())
            .finish()
    }
}

impl SnatPorts {
    /// Splits `[lo, hi]` among `workers`: the shared return queues, and one
    /// allocator per worker (index = worker id) to move into its worker.
    pub fn split(
        lo: u16,
        hi: u16,
        workers: u16,
    ) -> Result<(Arc<SnatReturns>, Vec<SnatPorts>), SnatError> {
        let split = PortSplit::new(lo, hi, workers)?;
        let shared = Arc::new(SnatReturns {
            split,
            queues: (0..workers)
                .map(|w| ArrayQueue::new(split.range(w).len()))
                .collect(),
            counters: (0..workers).map(|_| WorkerCounters::default()).collect(),
        });
        let ports = (0..workers)
            .map(|w| {
                let r = split.range(w);
                let n = r.len();
                let mut free = VecDeque::with_capacity(n);
                free.extend(r.clone());
                SnatPorts {
                    worker: w,
                    ring: Ring {
                        lo: *r.start(),
                        hi: *r.end(),
                        free,
                        out: vec![0; n.div_ceil(64)].into_boxed_slice(),
                        in_use: 0,
                    },
                    shared: shared.clone(),
                }
            })
            .collect();
        Ok((shared, ports))
    }

    /// This allocator's worker id.
    pub fn worker(&self) -> u16 {
        self.worker
    }

    /// This worker's ports.
    pub fn range(&self) -> RangeInclusive<u16> {
        self.ring.lo..=self.ring.hi
    }

    /// The worker that owns `port` (any worker's).
    #[inline]
    pub fn owner(&self, port: u16) -> Option<u16> {
        self.shared.owner(port)
    }

    /// The shared return queues.
    pub fn returns(&self) -> &Arc<SnatReturns> {
        &self.shared
    }

    /// Ports free to allocate now (not counting those waiting in the queue).
    pub fn available(&self) -> usize {
        self.ring.free.len()
    }

    /// Ports handed out and not yet back.
    pub fn in_use(&self) -> usize {
        self.ring.in_use as usize
    }

    /// A free port of this worker's range (the one freed longest ago), or `None`
    /// (counted) when all are out. Plain memory only.
    #[inline]
    pub fn alloc(&mut self) -> Option<u16> {
        let c = &self.shared.counters[self.worker as usize];
        let r = &mut self.ring;
        let Some(port) = r.free.pop_front() else {
            c.exhausted.add(1);
            return None;
        };
        let (i, b) = r.bit(port);
        debug_assert!(r.out[i] & b == 0, "free port {port} was out");
        r.out[i] |= b;
        r.in_use += 1;
        c.in_use.set(r.in_use);
        Some(port)
    }

    /// Takes back a port of this worker's range that this worker holds (e.g. its
    /// insert lost a race). False, and dropped, if the port is not this worker's
    /// or not out (counted as a double free).
    #[inline]
    pub fn free(&mut self, port: u16) -> bool {
        let c = &self.shared.counters[self.worker as usize];
        self.ring.take_back(port, c)
    }

    /// Drains this worker's return queue into its free ring; returns how many ports
    /// came back. Call it once per poll round: an empty queue costs two loads and no
    /// read-modify-write.
    pub fn reclaim(&mut self) -> usize {
        let q = &self.shared.queues[self.worker as usize];
        // Two loads; `pop` on an empty queue would also issue a SeqCst fence.
        if q.is_empty() {
            return 0;
        }
        let c = &self.shared.counters[self.worker as usize];
        let mut n = 0;
        while let Some(port) = q.pop() {
            if self.ring.take_back(port, c) {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::super::conntrack::{Conn, Conntrack, CtState, Timeouts};
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

    #[test]
    fn split_is_disjoint_covering_and_owner_is_its_inverse() {
        for &(lo, hi, w) in &[
            (1024u16, 65535u16, 1u16),
            (1024, 65535, 2),
            (1024, 65535, 3),
            (1024, 65535, 7),
            (1024, 65535, 64),
            (1, 65535, 5),
            (40000, 40009, 4),
            (5, 5, 1),
            (100, 103, 4),
        ] {
            let s = PortSplit::new(lo, hi, w).unwrap();
            let mut next = lo as u32;
            let sizes: Vec<usize> = (0..w).map(|k| s.range(k).len()).collect();
            for k in 0..w {
                let r = s.range(k);
                assert_eq!(
                    *r.start() as u32,
                    next,
                    "{lo}-{hi}/{w}: gap or overlap at {k}"
                );
                next = *r.end() as u32 + 1;
                for p in r {
                    assert_eq!(s.owner(p), Some(k), "{lo}-{hi}/{w}: port {p}");
                }
            }
            assert_eq!(next, hi as u32 + 1);
            assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            assert_eq!(sizes.iter().sum::<usize>(), s.len());
            if lo > 1 {
                assert_eq!(s.owner(lo - 1), None);
            }
            if hi < u16::MAX {
                assert_eq!(s.owner(hi + 1), None);
            }
            assert_eq!(s.owner(0), None);
        }
        assert_eq!(PortSplit::new(0, 10, 1), Err(SnatError::BadRange));
        assert_eq!(PortSplit::new(11, 10, 1), Err(SnatError::BadRange));
        assert_eq!(PortSplit::new(10, 12, 4), Err(SnatError::BadWorkers));
        assert_eq!(PortSplit::new(10, 12, 0), Err(SnatError::BadWorkers));
        let s = PortSplit::new(DEFAULT_LO, DEFAULT_HI, 3).unwrap();
        assert_eq!(s.range(0), 1024..=22527);
        assert_eq!(s.range(2), 44032..=65535);
    }

    #[test]
    fn alloc_until_exhausted() {
        let (shared, mut ws) = SnatPorts::split(2000, 2099, 3).unwrap();
        let w = &mut ws[1];
        assert_eq!(w.range(), 2034..=2066);
        let mut got = Vec::new();
        while let Some(p) = w.alloc() {
            got.push(p);
        }
        assert_eq!(
            got,
            (2034..=2066).collect::<Vec<u16>>(),
            "FIFO over the range"
        );
        assert_eq!(w.alloc(), None);
        assert_eq!(w.alloc(), None);
        let s = shared.stats(1);
        assert_eq!(
            (s.exhausted, s.in_use),
            (3, 33),
            "the loop's last call counts too"
        );
        assert_eq!(shared.stats(0), SnatStats::default());
        // A local free makes one port available again, at the back.
        assert!(w.free(2040));
        assert!(!w.free(2040), "double free");
        assert!(!w.free(2000), "another worker's port");
        assert_eq!(w.alloc(), Some(2040));
        assert_eq!(shared.stats(1).double_frees, 1);
    }

    #[test]
    fn give_back_goes_to_the_owner_queue() {
        let (shared, mut ws) = SnatPorts::split(DEFAULT_LO, DEFAULT_HI, 3).unwrap();
        let a: Vec<u16> = (0..5).map(|_| ws[0].alloc().unwrap()).collect();
        let b: Vec<u16> = (0..5).map(|_| ws[2].alloc().unwrap()).collect();
        // The control thread gives them back (mixed order, from another thread).
        {
            let shared = shared.clone();
            let all: Vec<u16> = a.iter().chain(&b).copied().rev().collect();
            std::thread::spawn(move || {
                for p in all {
                    assert!(shared.give_back(p));
                }
            })
            .join()
            .unwrap();
        }
        assert_eq!(
            (shared.pending(0), shared.pending(1), shared.pending(2)),
            (5, 0, 5)
        );
        assert_eq!(ws[1].reclaim(), 0);
        assert_eq!(ws[0].available(), ws[0].range().len() - 5);
        assert_eq!(ws[0].reclaim(), 5);
        assert_eq!(ws[2].reclaim(), 5);
        assert_eq!((ws[0].in_use(), ws[2].in_use()), (0, 0));
        assert_eq!(ws[0].available(), ws[0].range().len());
        // A second give-back of the same port is dropped by the owner.
        assert!(shared.give_back(a[0]));
        assert_eq!(ws[0].reclaim(), 0);
        assert_eq!(shared.stats(0).double_frees, 1);
        // A port outside the split is refused and counted.
        assert!(!shared.give_back(80));
        assert_eq!(shared.stats(0).bad_returns, 1);
        // Reclaimed ports are reused last.
        let next = ws[0].alloc().unwrap();
        assert!(!a.contains(&next));
    }

    #[test]
    fn conntrack_release_hook_returns_ports_to_their_owners() {
        let (shared, mut ws) = SnatPorts::split(DEFAULT_LO, DEFAULT_HI, 2).unwrap();
        let hook = shared.clone();
        let ct = Conntrack::with_release(64, Timeouts::default(), move |c: &Conn| {
            if let Some(s) = c.snat {
                assert!(hook.give_back(s.port()));
            }
        });
        for n in 0..20u16 {
            let w = &mut ws[(n % 2) as usize];
            let port = w.alloc().unwrap();
            let c = Conn {
                proto: 6,
                client: SocketAddrV4::new(Ipv4Addr::new(92, 234, 68, 72), 50000 + n),
                published: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 4), 80),
                backend: SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 6), 80),
                snat: Some(SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 2), port)),
                service: 1,
                backend_id: 0,
                owner: w.worker(),
            };
            ct.insert(&c, CtState::SynSent, 10).unwrap();
        }
        assert_eq!((ws[0].in_use(), ws[1].in_use()), (10, 10));
        assert_eq!(ct.sweep(10 + 30, |_| Timeouts::default(), |_| {}), 20);
        assert_eq!((shared.pending(0), shared.pending(1)), (10, 10));
        assert_eq!((ws[0].reclaim(), ws[1].reclaim()), (10, 10));
        assert_eq!((ws[0].in_use(), ws[1].in_use()), (0, 0));
    }

    #[test]
    fn concurrent_workers_and_a_returning_control_thread_never_share_a_port() {
        const WORKERS: u16 = 2;
        let (shared, ws) = SnatPorts::split(10_000, 10_999, WORKERS).unwrap();
        // held[p] is set while some connection holds port p.
        let held: Arc<Vec<AtomicBool>> =
            Arc::new((0..1000).map(|_| AtomicBool::new(false)).collect());
        let (tx, rx) = crossbeam::channel::unbounded::<u16>();
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for mut w in ws {
            let (held, tx, stop) = (held.clone(), tx.clone(), stop.clone());
            handles.push(std::thread::spawn(move || {
                let mut allocs = 0u64;
                while !stop.load(SeqCst) {
                    w.reclaim();
                    for _ in 0..32 {
                        let Some(p) = w.alloc() else { break };
                        assert_eq!(w.owner(p), Some(w.worker()));
                        assert!(
                            !held[(p - 10_000) as usize].swap(true, SeqCst),
                            "port {p} handed out twice"
                        );
                        allocs += 1;
                        tx.send(p).unwrap();
                    }
                }
                (allocs, w)
            }));
        }
        drop(tx);
        let control = {
            let (held, shared) = (held.clone(), shared.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                for p in rx.iter() {
                    held[(p - 10_000) as usize].store(false, SeqCst);
                    assert!(shared.give_back(p));
                    n += 1;
                }
                n
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        stop.store(true, SeqCst);
        let mut allocs = 0;
        let mut ws: Vec<SnatPorts> = Vec::new();
        for h in handles {
            let (a, w) = h.join().unwrap();
            allocs += a;
            ws.push(w);
        }
        let returned = control.join().unwrap();
        assert_eq!(allocs, returned);
        assert!(allocs > 10_000, "only {allocs} allocations");
        for w in &mut ws {
            w.reclaim();
            assert_eq!(w.in_use(), 0);
            assert_eq!(w.available(), w.range().len());
            let s = shared.stats(w.worker());
            assert_eq!((s.double_frees, s.bad_returns, s.in_use), (0, 0, 0));
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Alloc(u16),
        /// Give back the i-th held port (modulo) through its owner's queue.
        GiveBack(usize),
        /// Free the i-th held port locally, by the worker `w` (wrong worker: refused).
        Free(usize, u16),
        Reclaim(u16),
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn no_port_is_handed_out_twice(
            (lo, len, workers) in (1u16..60000, 1u16..200, 1u16..5),
            ops in prop::collection::vec(prop_oneof![
                4 => (0u16..5).prop_map(Op::Alloc),
                2 => any::<usize>().prop_map(Op::GiveBack),
                1 => (any::<usize>(), 0u16..5).prop_map(|(i, w)| Op::Free(i, w)),
                2 => (0u16..5).prop_map(Op::Reclaim),
            ], 1..300),
        ) {
            let hi = lo.saturating_add(len);
            prop_assume!(workers as usize <= (hi - lo) as usize + 1);
            let (shared, mut ws) = SnatPorts::split(lo, hi, workers).unwrap();
            let split = shared.split();
            let mut held: Vec<u16> = Vec::new();
            let mut queued: HashMap<u16, Vec<u16>> = HashMap::new();
            let mut exhausted = vec![0u64; workers as usize];
            for op in ops {
                match op {
                    Op::Alloc(w) => {
                        let w = w % workers;
                        let avail = ws[w as usize].available();
                        match ws[w as usize].alloc() {
                            Some(p) => {
                                prop_assert_eq!(split.owner(p), Some(w));
                                prop_assert!(!held.contains(&p), "port {} handed out twice", p);
                                prop_assert!(!queued.values().any(|q| q.contains(&p)));
                                held.push(p);
                            }
                            None => {
                                prop_assert_eq!(avail, 0);
                                exhausted[w as usize] += 1;
                            }
                        }
                    }
                    Op::GiveBack(i) if !held.is_empty() => {
                        let p = held.swap_remove(i % held.len());
                        prop_assert!(shared.give_back(p));
                        queued.entry(split.owner(p).unwrap()).or_default().push(p);
                    }
                    Op::Free(i, w) if !held.is_empty() => {
                        let w = w % workers;
                        let i = i % held.len();
                        let p = held[i];
                        let ok = ws[w as usize].free(p);
                        prop_assert_eq!(ok, split.owner(p) == Some(w));
                        if ok {
                            held.swap_remove(i);
                        }
                    }
                    Op::Reclaim(w) => {
                        let w = w % workers;
                        let n = ws[w as usize].reclaim();
                        prop_assert_eq!(n, queued.remove(&w).map_or(0, |q| q.len()));
                    }
                    _ => {}
                }
                let mut seen = HashSet::new();
                for w in &ws {
                    let out = held.iter().filter(|&&p| split.owner(p) == Some(w.worker())).count();
                    let q = queued.get(&w.worker()).map_or(0, |q| q.len());
                    prop_assert_eq!(w.in_use(), out + q);
                    prop_assert_eq!(w.available() + w.in_use(), w.range().len());
                    for &p in &w.ring.free {
                        prop_assert!(seen.insert(p), "port {} free twice", p);
                        prop_assert!(!held.contains(&p));
                    }
                    let s = shared.stats(w.worker());
                    prop_assert_eq!(s.exhausted, exhausted[w.worker() as usize]);
                    prop_assert_eq!((s.double_frees, s.bad_returns), (0, 0));
                }
            }
        }
    }
}
