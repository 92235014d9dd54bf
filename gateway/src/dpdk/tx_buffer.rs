//! A per-queue transmit buffer ([`TxBuffer`]): packets are collected and sent a
//! burst at a time.

use super::{Drain, Mbuf, MbufBurst, TxSink, BURST_SIZE};
use dpdk_sys::rte_mbuf;

/// What a transmit-buffer flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Packets the device took.
    pub sent: u64,
    /// Packets freed because the device queue was full.
    pub dropped: u64,
}

/// A per-queue transmit buffer: packets are collected and sent a burst at a time.
/// Owned by one worker together with its queue (its own `TxQueue`, or a share of one).
pub struct TxBuffer {
    burst: MbufBurst,
}

impl Default for TxBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl TxBuffer {
    /// An empty buffer.
    pub const fn new() -> Self {
        TxBuffer {
            burst: MbufBurst::new(),
        }
    }

    /// Queues `m`, sending a full burst first when needed. Inlined, the common case
    /// is a compare and a store; the caller sees a zero `Flushed` it can fold away.
    #[inline]
    pub fn push(&mut self, m: Mbuf, q: &mut impl TxSink) -> Flushed {
        if self.burst.is_full() {
            return self.flush_and_push(m, q);
        }
        // Cannot fail: the burst has room.
        let _ = self.burst.push(m);
        Flushed::default()
    }

    /// Queues the next `n` mbufs of `frames` (fewer when fewer are left), sending a
    /// full burst when needed: a run of frames to one queue in one copy.
    #[inline]
    pub fn push_run(&mut self, frames: &mut Drain<'_>, n: usize, q: &mut impl TxSink) -> Flushed {
        let run = frames.take_raw(n);
        let len = self.burst.len;
        match self.burst.ptrs.get_mut(len..len + run.len()) {
            Some(room) => {
                room.copy_from_slice(run);
                self.burst.len = len + run.len();
                Flushed::default()
            }
            None => self.flush_and_push_run(run, q),
        }
    }

    /// [`TxBuffer::push_run`] of a run that does not fit: fills the buffer, sends
    /// it, queues the rest (a run is at most a burst, so it fits then).
    #[cold]
    #[inline(never)]
    fn flush_and_push_run(&mut self, run: &[*mut rte_mbuf], q: &mut impl TxSink) -> Flushed {
        let len = self.burst.len.min(BURST_SIZE);
        let (now, later) = run.split_at(BURST_SIZE - len);
        self.burst.ptrs[len..].copy_from_slice(now);
        self.burst.len = BURST_SIZE;
        let f = self.flush(q);
        self.burst.ptrs[..later.len()].copy_from_slice(later);
        self.burst.len = later.len();
        f
    }

    /// Once a burst: sends the full buffer, then queues `m`.
    #[cold]
    #[inline(never)]
    fn flush_and_push(&mut self, m: Mbuf, q: &mut impl TxSink) -> Flushed {
        let f = self.flush(q);
        // Cannot fail: the burst was just emptied.
        let _ = self.burst.push(m);
        f
    }

    /// Sends what is queued; frees what the device refused.
    #[inline]
    pub fn flush(&mut self, q: &mut impl TxSink) -> Flushed {
        if self.burst.is_empty() {
            return Flushed::default();
        }
        let want = self.burst.len();
        let sent = q.tx_burst(&mut self.burst);
        self.burst.free_all();
        Flushed {
            sent: sent as u64,
            dropped: (want - sent) as u64,
        }
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.burst.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.burst.is_empty()
    }
}
