//! Owned mbufs and fixed-size bursts of them. Nothing here allocates on the heap.

use std::ptr::NonNull;

use super::{DpdkError, Mempool, Result};
use dpdk_sys::rte_mbuf;

/// Packets per rx/tx burst: twice DPDK's customary 32, as VPP takes vectors of up to
/// 256. The work done once per burst (the driver calls, the table snapshot, the
/// clock) is then shared by more packets: 10-11 fewer instructions a packet on the
/// overlay paths and 2-4 % more packets a second, while testpmd itself gains nothing
/// from 64 (perf/RESULTS.md).
pub const BURST_SIZE: usize = 64;

/// One packet buffer, owned: dropping it returns it to its pool.
/// Only the first segment is exposed as bytes; ports are configured without
/// scatter, so received packets are single-segment.
#[repr(transparent)]
pub struct Mbuf(NonNull<rte_mbuf>);

// SAFETY: an mbuf is owned by exactly one Mbuf handle at a time; moving it to another
// lcore moves that ownership (this is how DPDK rings hand mbufs between lcores).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Allocates an empty mbuf from `pool`.
    pub fn alloc(pool: &Mempool) -> Result<Mbuf> {
        // SAFETY: pool is a live mempool.
        let m = unsafe { dpdk_sys::rte_pktmbuf_alloc(pool.as_ptr()) };
        NonNull::new(m)
            .map(Mbuf)
            .ok_or_else(|| DpdkError::Unsupported(format!("mempool {} is empty", pool.name())))
    }

    /// Allocates an mbuf holding a copy of `bytes`.
    pub fn from_bytes(pool: &Mempool, bytes: &[u8]) -> Result<Mbuf> {
        let mut m = Mbuf::alloc(pool)?;
        let dst = m.append(bytes.len()).ok_or_else(|| {
            DpdkError::Unsupported(format!("{} bytes do not fit an mbuf", bytes.len()))
        })?;
        dst.copy_from_slice(bytes);
        Ok(m)
    }

    /// # Safety
    /// `raw` must be a valid mbuf that the caller owns and gives up.
    #[inline]
    pub(crate) unsafe fn from_raw(raw: *mut rte_mbuf) -> Mbuf {
        // SAFETY: the caller guarantees raw is a valid, owned, non-null mbuf.
        Mbuf(unsafe { NonNull::new_unchecked(raw) })
    }

    #[inline]
    pub(crate) fn into_raw(self) -> *mut rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    #[inline]
    fn raw(&self) -> &rte_mbuf {
        // SAFETY: we own a valid mbuf.
        unsafe { self.0.as_ref() }
    }

    /// Bytes of the packet (first segment).
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        let addr = m.buf_addr as *const u8;
        // SAFETY: a pool's mbuf always has its buffer (as in `data_mut`).
        unsafe { std::hint::assert_unchecked(!addr.is_null()) };
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer,
        // which we own for the lifetime of &self.
        unsafe { std::slice::from_raw_parts(addr.add(m.data_off as usize), m.data_len as usize) }
    }

    /// Mutable bytes of the packet (first segment).
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw();
        let (addr, off, len) = (
            m.buf_addr as *mut u8,
            m.data_off as usize,
            m.data_len as usize,
        );
        // SAFETY: a pool's mbuf always has its buffer (rte_pktmbuf_init sets it).
        // Told, the compiler drops a null test from every `Option` of these bytes
        // (`prepend`'s on the encap path).
        unsafe { std::hint::assert_unchecked(!addr.is_null()) };
        // SAFETY: as in `data`, and &mut self gives exclusive access; refcnt is 1 for
        // mbufs this layer hands out (no indirect/shared buffers are created).
        unsafe { std::slice::from_raw_parts_mut(addr.add(off), len) }
    }

    /// Total packet length (all segments).
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    /// Number of segments.
    #[inline]
    pub fn segments(&self) -> u16 {
        self.raw().nb_segs
    }

    /// Free bytes in front of the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.raw().data_off as usize
    }

    /// The port the packet was received on.
    #[inline]
    pub fn rx_port(&self) -> u16 {
        self.raw().port
    }

    #[inline]
    fn raw_mut(&mut self) -> &mut rte_mbuf {
        // SAFETY: we own a valid mbuf, exclusively through &mut self.
        unsafe { self.0.as_mut() }
    }

    /// Grows the packet at the front by `n` bytes; returns the whole new data.
    /// (DPDK's rte_pktmbuf_prepend, in Rust so it inlines into the packet path.)
    #[inline]
    pub fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let m = self.raw_mut();
        if n > m.data_off as usize {
            return None;
        }
        let n16 = n as u16;
        m.data_off -= n16;
        m.data_len += n16;
        m.pkt_len += n as u32;
        Some(self.data_mut())
    }

    /// Removes `n` bytes from the front; false if the first segment is shorter.
    /// (DPDK's rte_pktmbuf_adj.)
    #[inline]
    pub fn adj(&mut self, n: usize) -> bool {
        let m = self.raw_mut();
        if n > m.data_len as usize {
            return false;
        }
        let n16 = n as u16;
        m.data_off += n16;
        m.data_len -= n16;
        m.pkt_len -= n as u32;
        true
    }

    /// Grows the packet at the end by `n` bytes; returns the new tail bytes.
    pub fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        // SAFETY: we own the mbuf; rte_pktmbuf_append checks the tailroom and returns
        // a pointer to n writable bytes inside the last segment.
        let p = unsafe { dpdk_sys::rte_pktmbuf_append(self.0.as_ptr(), n16) };
        if p.is_null() {
            None
        } else {
            // SAFETY: p points to n bytes we own, valid for the borrow of self.
            Some(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, n) })
        }
    }

    /// Removes `n` bytes from the end; false if the packet has more than one segment
    /// or is shorter. (DPDK's rte_pktmbuf_trim, for the single-segment case.)
    #[inline]
    pub fn trim(&mut self, n: usize) -> bool {
        let m = self.raw_mut();
        if m.nb_segs != 1 || n > m.data_len as usize {
            return false;
        }
        m.data_len -= n as u16;
        m.pkt_len -= n as u32;
        true
    }

    /// A deep copy into a new mbuf from `pool` (for flooding one frame to many ports).
    pub fn copy(&self, pool: &Mempool) -> Option<Mbuf> {
        // SAFETY: both are live; rte_pktmbuf_copy allocates and copies all data.
        let m = unsafe { dpdk_sys::rte_pktmbuf_copy(self.0.as_ptr(), pool.as_ptr(), 0, u32::MAX) };
        NonNull::new(m).map(Mbuf)
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf and give it back exactly once.
        unsafe { dpdk_sys::rte_pktmbuf_free(self.0.as_ptr()) }
    }
}

/// Up to `BURST_SIZE` owned mbufs in a fixed array: what one rx call returns and
/// one tx call sends. Dropping it frees what is still inside (one bulk call).
pub struct MbufBurst {
    pub(super) ptrs: [*mut rte_mbuf; BURST_SIZE],
    pub(super) len: usize,
}

// SAFETY: the burst owns its mbufs (see Mbuf's Send).
unsafe impl Send for MbufBurst {}

impl Default for MbufBurst {
    fn default() -> Self {
        Self::new()
    }
}

impl MbufBurst {
    /// An empty burst.
    pub const fn new() -> Self {
        MbufBurst {
            ptrs: [std::ptr::null_mut(); BURST_SIZE],
            len: 0,
        }
    }

    /// Number of mbufs held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when no more mbufs fit.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len >= BURST_SIZE
    }

    /// Adds an mbuf; gives it back when the burst is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        // `>=`, not `==`: the compiler then knows the index below is in bounds.
        if self.len >= BURST_SIZE {
            return Err(m);
        }
        self.ptrs[self.len] = m.into_raw();
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the last mbuf.
    #[inline]
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: ptrs[..len] are owned, valid mbufs; this one leaves the burst.
        Some(unsafe { Mbuf::from_raw(self.ptrs[self.len]) })
    }

    /// The bytes of every packet held (first segments), in order.
    #[inline]
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> + Clone {
        self.ptrs[..self.len].iter().map(|p| {
            // SAFETY: each held pointer is an owned valid mbuf; Mbuf is
            // repr(transparent) over the pointer, and the view is shared.
            let m: &Mbuf = unsafe { &*(p as *const *mut rte_mbuf as *const Mbuf) };
            m.data()
        })
    }

    /// Hints the CPU to load every packet's first cache line (the headers).
    #[inline]
    pub fn prefetch_all(&self) {
        for &p in &self.ptrs[..self.len] {
            // SAFETY: each held pointer is a valid mbuf; reading its header is allowed.
            let m = unsafe { &*p };
            // SAFETY: computing an address inside the mbuf's buffer.
            let d = unsafe { (m.buf_addr as *const u8).add(m.data_off as usize) };
            super::prefetch::prefetch_ptr(d);
        }
    }

    /// Moves the mbufs out one by one (front to back). The burst is empty afterwards;
    /// mbufs the iterator did not yield are freed when it is dropped.
    #[inline]
    pub fn drain(&mut self) -> Drain<'_> {
        let end = std::mem::replace(&mut self.len, 0);
        Drain {
            ptrs: &mut self.ptrs[..end],
            next: 0,
            shown: 0,
        }
    }

    /// Frees every mbuf held (one bulk call).
    #[inline]
    pub fn free_all(&mut self) {
        if self.len > 0 {
            // SAFETY: ptrs[..len] are owned valid mbufs, freed once, then forgotten.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(self.ptrs.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }

    pub(crate) fn raw_parts_mut(&mut self) -> (&mut [*mut rte_mbuf; BURST_SIZE], &mut usize) {
        (&mut self.ptrs, &mut self.len)
    }
}

/// Iterator of [`MbufBurst::drain`].
pub struct Drain<'a> {
    ptrs: &'a mut [*mut rte_mbuf],
    /// The next frame [`Iterator::next`] takes.
    next: usize,
    /// The next frame [`Drain::next_in_place`] shows.
    shown: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;

    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        let p = *self.ptrs.get(self.next)?;
        self.next += 1;
        // SAFETY: each pointer of the drained burst is an owned mbuf, yielded once.
        Some(unsafe { Mbuf::from_raw(p) })
    }
}

impl<'a> Drain<'a> {
    /// The burst's length: its frames are `0..end()`, those not taken yet
    /// `taken()..end()`.
    #[inline]
    pub fn end(&self) -> usize {
        self.ptrs.len()
    }

    /// Frames taken so far: [`Iterator::next`] takes frame `taken()` next.
    #[inline]
    pub fn taken(&self) -> usize {
        self.next
    }

    /// The frame after the last one shown (or taken), and its index, left in place:
    /// the frames shown but not taken yet can then be taken, in order, by
    /// [`Iterator::next`] or [`TxBuffer::push_run`](super::TxBuffer::push_run).
    #[inline]
    pub fn next_in_place(&mut self) -> Option<(usize, &mut Mbuf)> {
        let i = self.shown.max(self.next);
        let p = self.ptrs.get_mut(i)?;
        self.shown = i + 1;
        // SAFETY: an mbuf the drain still owns (not yielded: i >= next); Mbuf is
        // repr(transparent) over the pointer, and the borrow is exclusive.
        Some((i, unsafe { &mut *(p as *mut *mut rte_mbuf as *mut Mbuf) }))
    }

    /// The next `n` mbufs (fewer when fewer are left), as raw pointers the caller
    /// now owns: they leave the drain.
    #[inline]
    pub(super) fn take_raw(&mut self, n: usize) -> &[*mut rte_mbuf] {
        let start = self.next.min(self.ptrs.len());
        let end = start + n.min(self.ptrs.len() - start);
        self.next = end;
        &self.ptrs[start..end]
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        let rest = &mut self.ptrs[self.next..];
        if !rest.is_empty() {
            // SAFETY: the mbufs not yielded are still owned by the drain; freed once.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(rest.as_mut_ptr(), rest.len() as u32) };
        }
    }
}

impl Drop for MbufBurst {
    fn drop(&mut self) {
        self.free_all();
    }
}
