//! EAL: initialisation from pass-through arguments, lcore discovery, cleanup.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{DpdkError, Result};

static EAL_INITIALISED: AtomicBool = AtomicBool::new(false);

/// The initialised Environment Abstraction Layer. One per process. Pools and rings
/// hold a share of it, so `rte_eal_cleanup` runs only once the `Eal` and everything
/// built on it are gone, whatever order they are dropped in.
pub struct Eal {
    guard: Arc<EalGuard>,
    main_lcore: u32,
    worker_lcores: Vec<u32>,
}

/// Keeps EAL's memory alive; the last one dropped cleans EAL up.
pub(crate) struct EalGuard;

impl Drop for EalGuard {
    fn drop(&mut self) {
        // SAFETY: the last holder of EAL memory is gone (pools, rings and ports hold
        // a guard), so nothing refers to EAL-managed memory any more.
        unsafe { dpdk_sys::rte_eal_cleanup() };
    }
}

impl Eal {
    /// Initialises EAL with `args` as its argv (`args[0]` is the program name).
    /// Arguments are passed through untouched, so every EAL option works.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
        if EAL_INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::Unsupported(
                "EAL is already initialised in this process".into(),
            ));
        }
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_ref()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| DpdkError::InvalidArgument(e.to_string()))?;
        // EAL keeps pointers into argv (e.g. for telemetry's cmdline), so argv lives
        // for the whole process: leak it once.
        let argv: &'static mut [*mut libc::c_char] = Vec::leak(
            cargs
                .into_iter()
                .map(|c| c.into_raw())
                .chain(std::iter::once(std::ptr::null_mut()))
                .collect(),
        );
        let argc = (argv.len() - 1) as i32;
        // SAFETY: argv is a NULL-terminated array of valid, 'static C strings; EAL
        // is initialised at most once per process (guarded by EAL_INITIALISED).
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            EAL_INITIALISED.store(false, Ordering::SeqCst);
            return Err(DpdkError::from_errno("rte_eal_init"));
        }
        // SAFETY: EAL is initialised; these only read its lcore configuration.
        let main_lcore = unsafe { dpdk_sys::rte_get_main_lcore() };
        let mut worker_lcores = Vec::new();
        // SAFETY: as above; rte_get_next_lcore(prev, skip_main=1, wrap=0) walks the
        // enabled worker lcores and returns RTE_MAX_LCORE at the end.
        let mut lc = unsafe { dpdk_sys::rte_get_next_lcore(u32::MAX, 1, 0) };
        while lc < dpdk_sys::RTE_MAX_LCORE {
            worker_lcores.push(lc);
            // SAFETY: as above.
            lc = unsafe { dpdk_sys::rte_get_next_lcore(lc, 1, 0) };
        }
        Ok(Eal {
            guard: Arc::new(EalGuard),
            main_lcore,
            worker_lcores,
        })
    }

    pub(crate) fn guard(&self) -> Arc<EalGuard> {
        self.guard.clone()
    }

    /// The lcore the calling (main) thread runs on.
    pub fn main_lcore(&self) -> u32 {
        self.main_lcore
    }

    /// The enabled lcores other than the main one, in EAL order.
    pub fn worker_lcores(&self) -> &[u32] {
        &self.worker_lcores
    }

    /// NUMA socket of an lcore (0 when unknown), for placing its mempool and queues.
    pub fn lcore_socket(&self, lcore: u32) -> u32 {
        // SAFETY: EAL is initialised; a read of its lcore table.
        let s = unsafe { dpdk_sys::rte_lcore_to_socket_id(lcore) };
        if s == u32::MAX {
            0
        } else {
            s
        }
    }

    /// Number of ethdev ports EAL probed (PCI devices and --vdev devices).
    pub fn port_count(&self) -> u16 {
        // SAFETY: EAL is initialised.
        unsafe { dpdk_sys::rte_eth_dev_count_avail() }
    }

    /// Starts the multi-process packet-capture server so `dpdk-dumpcap` can attach.
    pub fn enable_pdump(&self) -> Result<()> {
        // SAFETY: EAL is initialised; rte_pdump_init registers an IPC handler.
        let ret = unsafe { dpdk_sys::rte_pdump_init() };
        super::error::check("rte_pdump_init", ret).map(|_| ())
    }

    /// The DPDK version string, e.g. "DPDK 22.11.11".
    pub fn version() -> String {
        // SAFETY: rte_version returns a pointer to a static C string.
        unsafe { std::ffi::CStr::from_ptr(dpdk_sys::rte_version()) }
            .to_string_lossy()
            .into_owned()
    }
}
