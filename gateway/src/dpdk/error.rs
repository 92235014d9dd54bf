//! Errors of the DPDK layer, carrying DPDK's own errno text.

use std::ffi::CStr;

/// A failed DPDK call: which call, and DPDK's reason.
#[derive(Debug, thiserror::Error)]
pub enum DpdkError {
    /// A DPDK function returned an error code.
    #[error("{call} failed: {reason} ({code})")]
    Call {
        call: &'static str,
        code: i32,
        reason: String,
    },
    /// A request that DPDK would accept but that does not fit the device.
    #[error("{0}")]
    Unsupported(String),
    /// A name or argument DPDK cannot take (e.g. an interior NUL byte).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl DpdkError {
    /// Builds an error from a negative DPDK return value (`-errno`).
    pub(crate) fn from_ret(call: &'static str, ret: i32) -> Self {
        let code = ret.abs();
        DpdkError::Call {
            call,
            code,
            reason: strerror(code),
        }
    }

    /// Builds an error from the thread's `rte_errno` (for calls returning NULL / -1).
    pub(crate) fn from_errno(call: &'static str) -> Self {
        // SAFETY: reads the calling thread's rte_errno; no preconditions.
        let code = unsafe { dpdk_sys::vxgw_rte_errno() };
        DpdkError::Call {
            call,
            code,
            reason: strerror(code),
        }
    }
}

fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local C string.
    let s = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(code)) };
    s.to_string_lossy().into_owned()
}

/// Turns a DPDK return code (negative errno on failure) into a Result.
pub(crate) fn check(call: &'static str, ret: i32) -> super::Result<i32> {
    if ret < 0 {
        Err(DpdkError::from_ret(call, ret))
    } else {
        Ok(ret)
    }
}
