//! The live packet trace (`vxgwctl trace live`): the decisions of the next N packets
//! the workers receive (on one port, or any), recorded by the workers themselves as
//! VPP's `trace add` + `show trace` do.
//!
//! Off, it costs a worker one relaxed load of a line nobody writes, once per poll
//! round ([`LiveTrace::armed`]). Armed, a worker takes the whole burst through the
//! general path with a (non-dry) trace in its context, and for each packet that it
//! may still record ([`LiveTrace::take_one`]: exactly N in all, over all workers)
//! appends a [`LiveRecord`] under a lock, into room reserved when the trace was
//! armed (nothing allocates). The last record disarms it. A [`PacketFilter`] picks
//! the packets: its header fields are asked before the pipeline, its VNI after. One trace at a time: a
//! second is refused while one runs, so two are never mixed.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::Mutex;

use crate::pipeline::{Decision, PacketFilter, Step, TRACE_STEPS};

/// Bytes of each recorded frame kept, for its headers (a VXLAN frame's inner TCP
/// header, behind two VLAN tags, ends before 112).
pub const LIVE_HEAD: usize = 128;

/// Most packets one live trace records.
pub const LIVE_TRACE_MAX: u32 = 1000;

/// One packet a worker recorded.
#[derive(Debug, Clone, Copy)]
pub struct LiveRecord {
    /// The worker's index.
    pub worker: u16,
    /// The rx port.
    pub port: u16,
    /// When (TSC).
    pub tsc: u64,
    /// The frame's length.
    pub len: usize,
    /// Its first bytes (at most [`LIVE_HEAD`]), as received.
    pub head: [u8; LIVE_HEAD],
    /// How many of `head` are the frame's.
    pub head_len: u8,
    /// The steps (the first [`TRACE_STEPS`]).
    pub steps: [Option<Step>; TRACE_STEPS],
    /// The pipeline's decision.
    pub decision: Decision,
}

/// The live trace's state, shared by the workers and the control plane.
pub struct LiveTrace {
    armed: AtomicBool,
    /// The port to trace (`u32::MAX`: any).
    port: AtomicU32,
    /// Packets still to record.
    remaining: AtomicU32,
    /// Packets asked for by the running (or last) trace.
    requested: AtomicU32,
    /// Which packets (read by a worker once per round while armed).
    filter: Mutex<PacketFilter>,
    records: Mutex<Vec<LiveRecord>>,
}

/// Why a live trace was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveTraceError {
    /// Another one runs.
    #[error("a live trace is running ({captured} of {requested} packets recorded)")]
    Busy {
        /// Recorded so far.
        captured: u32,
        /// Asked for.
        requested: u32,
    },
    /// 0 packets, or more than [`LIVE_TRACE_MAX`].
    #[error("count must be 1-{LIVE_TRACE_MAX}")]
    Count,
}

impl Default for LiveTrace {
    fn default() -> Self {
        LiveTrace {
            armed: AtomicBool::new(false),
            port: AtomicU32::new(u32::MAX),
            remaining: AtomicU32::new(0),
            requested: AtomicU32::new(0),
            filter: Mutex::new(PacketFilter::default()),
            records: Mutex::new(Vec::new()),
        }
    }
}

impl LiveTrace {
    /// True while packets are to be recorded: what a worker asks once per round.
    #[inline(always)]
    pub fn armed(&self) -> bool {
        self.armed.load(Relaxed)
    }

    /// True when packets received on `port` are traced.
    #[inline]
    pub fn traces_port(&self, port: u16) -> bool {
        let p = self.port.load(Relaxed);
        p == u32::MAX || p == u32::from(port)
    }

    /// The filter of the running (or last) trace.
    pub fn filter(&self) -> PacketFilter {
        *self.filter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a trace of the next `count` packets (on `port`, or any) that `filter`
    /// matches: the records of the last one are dropped. Refused while one runs.
    pub fn start(
        &self,
        port: Option<u16>,
        count: u32,
        filter: PacketFilter,
    ) -> Result<(), LiveTraceError> {
        if count == 0 || count > LIVE_TRACE_MAX {
            return Err(LiveTraceError::Count);
        }
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if self.armed() {
            return Err(LiveTraceError::Busy {
                captured: records.len() as u32,
                requested: self.requested.load(Relaxed),
            });
        }
        records.clear();
        records.reserve(count as usize);
        *self.filter.lock().unwrap_or_else(|e| e.into_inner()) = filter;
        self.port.store(port.map_or(u32::MAX, u32::from), Relaxed);
        self.requested.store(count, Relaxed);
        self.remaining.store(count, Relaxed);
        self.armed.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Stops the running trace (what it recorded stays).
    pub fn stop(&self) {
        self.armed.store(false, Relaxed);
        self.remaining.store(0, Relaxed);
    }

    /// Claims one of the packets still to record: false when none is left.
    #[inline]
    pub fn take_one(&self) -> bool {
        self.remaining
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Stores a record claimed with [`LiveTrace::take_one`]; the last one disarms.
    pub fn record(&self, r: LiveRecord) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() < records.capacity() {
            records.push(r);
        }
        if records.len() as u32 >= self.requested.load(Relaxed) {
            self.armed.store(false, Relaxed);
        }
    }

    /// (armed, port traced (None: any), packets asked for, recorded so far).
    pub fn state(&self) -> (bool, Option<u16>, u32, u32) {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        let p = self.port.load(Relaxed);
        (
            self.armed(),
            (p != u32::MAX).then_some(p as u16),
            self.requested.load(Relaxed),
            records.len() as u32,
        )
    }

    /// The records so far, in the order they were stored.
    pub fn records(&self) -> Vec<LiveRecord> {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::DropReason;

    fn rec(worker: u16) -> LiveRecord {
        LiveRecord {
            worker,
            port: 0,
            tsc: 0,
            len: 60,
            head: [0; LIVE_HEAD],
            head_len: 0,
            steps: [None; TRACE_STEPS],
            decision: Decision::Drop(DropReason::Truncated),
        }
    }

    #[test]
    fn exactly_n_are_recorded_and_a_second_trace_waits_its_turn() {
        let t = LiveTrace::default();
        assert!(!t.armed());
        assert_eq!(
            t.start(None, 0, PacketFilter::default()),
            Err(LiveTraceError::Count)
        );
        t.start(Some(3), 2, PacketFilter::default()).unwrap();
        assert!(t.armed() && t.traces_port(3) && !t.traces_port(4));
        assert!(matches!(
            t.start(None, 5, PacketFilter::default()),
            Err(LiveTraceError::Busy { .. })
        ));
        for w in 0..5 {
            if t.take_one() {
                t.record(rec(w));
            }
        }
        assert!(!t.armed(), "the last record disarms");
        assert_eq!(t.records().len(), 2);
        assert_eq!(t.state(), (false, Some(3), 2, 2));
        t.start(None, 1, PacketFilter::default()).unwrap();
        assert!(t.records().is_empty(), "a new trace starts empty");
        assert!(t.traces_port(9));
    }
}
