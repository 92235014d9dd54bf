//! The benches' packet buffer (shared by `pipeline` and `mesh`).

use vxgw::pipeline::PacketBuf;

/// A fixed 2 KiB buffer with 128 bytes of headroom, like an mbuf; no allocation.
pub struct Buf {
    bytes: [u8; 2048],
    start: usize,
    end: usize,
}

impl Buf {
    /// An empty buffer.
    pub fn new() -> Buf {
        Buf {
            bytes: [0; 2048],
            start: 0,
            end: 0,
        }
    }

    pub fn load(&mut self, frame: &[u8]) {
        self.start = 128;
        self.end = 128 + frame.len();
        self.bytes[self.start..self.end].copy_from_slice(frame);
    }
}

impl PacketBuf for Buf {
    fn data(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.end]
    }
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start {
            return None;
        }
        self.start -= n;
        Some(self.data_mut())
    }
    fn adj(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }
    fn trim(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.end -= n;
        true
    }
}
