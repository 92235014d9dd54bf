//! Where a worker's transmit buffer sends: a tx queue of its own ([`TxQueue`]), or,
//! on a device with fewer tx queues than workers, one it shares with other workers
//! ([`SharedTxQueue`]: DPDK's queues are not thread-safe, so a spin lock is taken
//! around each burst sent, never per packet). A gateway whose devices give every
//! worker its own queue takes no lock at all.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{MbufBurst, TxQueue};

/// Anything a [`TxBuffer`](super::TxBuffer) can send a burst to.
pub trait TxSink {
    /// Sends the burst's packets in order; returns how many the device took. The
    /// ones it did not take stay in `burst`, moved to its front.
    fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize;
}

impl TxSink for TxQueue {
    #[inline]
    fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        TxQueue::tx_burst(self, burst)
    }
}

/// A tx queue several workers send to, one burst at a time.
pub struct SharedTxQueue {
    port: u16,
    busy: AtomicBool,
    q: UnsafeCell<TxQueue>,
}

// SAFETY: the queue inside is only reached through `tx_burst`, which holds the
// spin lock (`busy`) for as long as it uses it: one thread at a time.
unsafe impl Sync for SharedTxQueue {}

impl SharedTxQueue {
    /// Shares `q`.
    pub fn new(q: TxQueue) -> Arc<SharedTxQueue> {
        Arc::new(SharedTxQueue {
            port: q.port(),
            busy: AtomicBool::new(false),
            q: UnsafeCell::new(q),
        })
    }

    /// [`TxQueue::tx_burst`] under the lock.
    #[inline]
    pub fn tx_burst(&self, burst: &mut MbufBurst) -> usize {
        while self
            .busy
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held: no other thread uses the queue until the
        // release below.
        let sent = unsafe { (*self.q.get()).tx_burst(burst) };
        self.busy.store(false, Ordering::Release);
        sent
    }
}

/// A worker's way out through one port.
pub enum TxTarget {
    /// The worker's own queue.
    Own(TxQueue),
    /// A queue shared with other workers (the device has fewer than workers).
    Shared(Arc<SharedTxQueue>),
}

impl TxTarget {
    /// The port's id.
    pub fn port(&self) -> u16 {
        match self {
            TxTarget::Own(q) => q.port(),
            TxTarget::Shared(s) => s.port,
        }
    }
}

impl TxSink for TxTarget {
    #[inline]
    fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        match self {
            TxTarget::Own(q) => q.tx_burst(burst),
            TxTarget::Shared(s) => s.tx_burst(burst),
        }
    }
}
