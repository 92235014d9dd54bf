//! DPDK rings of mbufs: lock-free FIFOs for handing packets between lcores, and
//! the backing of net_ring ports in tests.

use std::ffi::CString;
use std::ptr::NonNull;

use std::sync::Arc;

use super::eal::EalGuard;
use super::{DpdkError, Eal, Mbuf, Result};

/// A multi-producer multi-consumer ring of mbufs.
pub struct Ring {
    raw: NonNull<dpdk_sys::rte_ring>,
    _eal: Arc<EalGuard>,
}

// SAFETY: an MP/MC rte_ring is safe for concurrent enqueue/dequeue from any lcore.
unsafe impl Send for Ring {}
// SAFETY: as above.
unsafe impl Sync for Ring {}

impl Ring {
    /// Creates a ring with room for `count - 1` mbufs (`count` a power of two).
    pub fn new(eal: &Eal, name: &str, count: u32, socket: u32) -> Result<Ring> {
        let c = CString::new(name).map_err(|e| DpdkError::InvalidArgument(e.to_string()))?;
        // SAFETY: valid C string; flags 0 = multi-producer/multi-consumer.
        let raw = unsafe { dpdk_sys::rte_ring_create(c.as_ptr(), count, socket as i32, 0) };
        NonNull::new(raw)
            .map(|raw| Ring {
                raw,
                _eal: eal.guard(),
            })
            .ok_or_else(|| DpdkError::from_errno("rte_ring_create"))
    }

    /// Enqueues `m`; gives it back when the ring is full.
    pub fn enqueue(&self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        let p = m.into_raw() as *mut libc::c_void;
        // SAFETY: ring is live; on success the ring owns the mbuf pointer.
        let n = unsafe {
            dpdk_sys::rte_ring_enqueue_burst(self.raw.as_ptr(), &p, 1, std::ptr::null_mut())
        };
        if n == 1 {
            Ok(())
        } else {
            // SAFETY: not enqueued, so we still own it.
            Err(unsafe { Mbuf::from_raw(p as *mut dpdk_sys::rte_mbuf) })
        }
    }

    /// Dequeues one mbuf.
    pub fn dequeue(&self) -> Option<Mbuf> {
        let mut p: *mut libc::c_void = std::ptr::null_mut();
        // SAFETY: ring is live; a dequeued pointer is an mbuf someone enqueued.
        let n = unsafe {
            dpdk_sys::rte_ring_dequeue_burst(self.raw.as_ptr(), &mut p, 1, std::ptr::null_mut())
        };
        // SAFETY: ownership of the dequeued mbuf passes to us.
        (n == 1).then(|| unsafe { Mbuf::from_raw(p as *mut dpdk_sys::rte_mbuf) })
    }

    /// Entries currently in the ring.
    pub fn count(&self) -> u32 {
        // SAFETY: ring is live.
        unsafe { dpdk_sys::rte_ring_count(self.raw.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_ring {
        self.raw.as_ptr()
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        while self.dequeue().is_some() {}
        // SAFETY: last handle; ports using the ring hold an Arc and are gone.
        unsafe { dpdk_sys::rte_ring_free(self.raw.as_ptr()) }
    }
}
