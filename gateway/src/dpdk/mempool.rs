//! Packet-buffer pools (`rte_pktmbuf_pool_create`).

use std::ffi::CString;
use std::ptr::NonNull;

use std::sync::Arc;

use super::eal::EalGuard;
use super::{DpdkError, Eal, Result};

/// A pool of packet buffers. Shared by `Arc` with the rx queues that fill from it;
/// freed when the last holder is gone.
pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
    name: String,
    eal: Option<Arc<EalGuard>>,
}

// SAFETY: an rte_mempool is designed for concurrent use from many lcores
// (per-lcore caches plus a lock-free ring); the handle is just a pointer to it.
unsafe impl Send for Mempool {}
// SAFETY: as above; every method takes &self and DPDK synchronises internally.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `count` mbufs with `data_room` bytes each (headroom
    /// included), a per-lcore cache of `cache` mbufs, on NUMA `socket`.
    pub fn new(
        eal: &Eal,
        name: &str,
        count: u32,
        cache: u32,
        data_room: u16,
        socket: u32,
    ) -> Result<Mempool> {
        let cname = CString::new(name).map_err(|e| DpdkError::InvalidArgument(e.to_string()))?;
        // SAFETY: cname is a valid C string; EAL is initialised (an Eal exists).
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                count,
                cache,
                0,
                data_room,
                socket as i32,
            )
        };
        let raw =
            NonNull::new(raw).ok_or_else(|| DpdkError::from_errno("rte_pktmbuf_pool_create"))?;
        Ok(Mempool {
            raw,
            name: name.to_string(),
            eal: Some(eal.guard()),
        })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Mbufs currently handed out (in queues, in flight, held by the application).
    pub fn in_use(&self) -> u32 {
        // SAFETY: raw is a live pool.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    /// Mbufs available in the pool (including per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: raw is a live pool.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        let in_use = self.in_use();
        if in_use > 0 {
            // Mbufs of this pool are still owned somewhere: freeing the pool (or EAL's
            // memory) would leave them dangling. Leak both instead, loudly.
            eprintln!(
                "vxgw: mempool {} dropped with {in_use} mbufs in use; not freeing it",
                self.name
            );
            std::mem::forget(self.eal.take());
            return;
        }
        // SAFETY: last handle to the pool (queues keep an Arc) and no mbuf is out.
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) }
    }
}
