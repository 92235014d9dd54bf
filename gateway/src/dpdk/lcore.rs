//! Launching work on EAL worker lcores, and the TSC clock.

use super::{DpdkError, Result};

/// A closure running on a worker lcore; `wait` joins it.
pub struct LaunchedWorker {
    lcore: u32,
}

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

unsafe extern "C" fn trampoline(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: arg is the Box<Job> leaked by `launch` for exactly this call.
    let job: Box<Job> = unsafe { Box::from_raw(arg as *mut Job) };
    job()
}

impl LaunchedWorker {
    /// Runs `f` on worker lcore `lcore` (pinned by EAL). The lcore must be idle.
    pub fn launch<F>(lcore: u32, f: F) -> Result<LaunchedWorker>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        let job: Box<Job> = Box::new(Box::new(f));
        let arg = Box::into_raw(job) as *mut libc::c_void;
        // SAFETY: trampoline takes back ownership of `arg` exactly once; EAL runs it
        // on the given lcore. On failure the box is reclaimed below.
        let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
        if ret < 0 {
            // SAFETY: the launch failed, so the trampoline never ran and never will.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            return Err(DpdkError::from_ret("rte_eal_remote_launch", ret));
        }
        Ok(LaunchedWorker { lcore })
    }

    /// The lcore this worker runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Blocks until the worker returns; gives its return value.
    pub fn wait(self) -> i32 {
        // SAFETY: waits for the lcore launched by `launch`.
        unsafe { dpdk_sys::rte_eal_wait_lcore(self.lcore) }
    }
}

/// The EAL lcore id of the calling thread (u32::MAX for a non-EAL thread).
#[inline]
pub fn current_lcore() -> u32 {
    // SAFETY: reads a thread-local.
    unsafe { dpdk_sys::rte_lcore_id() }
}

/// The time-stamp counter, for cycle accounting on the packet path.
#[inline]
pub fn tsc_now() -> u64 {
    // SAFETY: rdtsc has no preconditions.
    unsafe { dpdk_sys::rte_rdtsc() }
}

/// TSC ticks per second as measured by EAL.
pub fn tsc_hz() -> u64 {
    // SAFETY: EAL must be initialised; returns its calibrated value.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}
