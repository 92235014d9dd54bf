//! What the pipeline needs of a packet buffer: its bytes, and growing or shrinking
//! it at either end. An mbuf implements it in the worker glue; `VecBuf` in tests.

/// A contiguous packet buffer with headroom.
pub trait PacketBuf {
    /// The packet's bytes.
    fn data(&self) -> &[u8];
    /// The packet's bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the packet by `n` bytes at the front and returns all its bytes (like
    /// `rte_pktmbuf_prepend`); `None`, buffer unchanged, when the headroom is short.
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]>;
    /// Removes `n` bytes from the front; false when the packet is shorter.
    fn adj(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the end; false when the packet is shorter.
    fn trim(&mut self, n: usize) -> bool;
}

/// A heap buffer with headroom, for tests, fuzzing and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecBuf {
    bytes: Vec<u8>,
    start: usize,
}

impl VecBuf {
    /// Headroom of a new VecBuf: like an mbuf's (128 bytes).
    pub const HEADROOM: usize = 128;

    /// A buffer holding `frame` after `HEADROOM` free bytes.
    pub fn new(frame: &[u8]) -> VecBuf {
        let mut bytes = vec![0u8; Self::HEADROOM];
        bytes.extend_from_slice(frame);
        VecBuf {
            bytes,
            start: Self::HEADROOM,
        }
    }
}

impl PacketBuf for VecBuf {
    fn data(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..]
    }
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start {
            return None;
        }
        self.start -= n;
        Some(self.data_mut())
    }
    fn adj(&mut self, n: usize) -> bool {
        if n > self.bytes.len() - self.start {
            return false;
        }
        self.start += n;
        true
    }
    fn trim(&mut self, n: usize) -> bool {
        if n > self.bytes.len() - self.start {
            return false;
        }
        self.bytes.truncate(self.bytes.len() - n);
        true
    }
}
