//! The coarse [`Clock`] of workers and the control thread.

use crate::dpdk::tsc_now;

/// A coarse clock shared by workers and the control thread: seconds since start,
/// from the TSC (no syscall on the packet path).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    t0: u64,
    hz: u64,
}

impl Clock {
    /// Starts the clock now; `hz` is the TSC frequency.
    pub fn start(hz: u64) -> Clock {
        Clock {
            t0: tsc_now(),
            hz: hz.max(1),
        }
    }

    /// Seconds since start for a TSC reading.
    #[inline]
    pub fn secs_at(&self, tsc: u64) -> u32 {
        (tsc.wrapping_sub(self.t0) / self.hz) as u32
    }

    /// Seconds since start.
    pub fn now(&self) -> u32 {
        self.secs_at(tsc_now())
    }
}
