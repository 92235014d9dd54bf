//! The stop flag: set by SIGINT/SIGTERM, polled by workers once per loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared "please stop" flag. Workers read it with a relaxed load per poll loop:
/// a read of a line nobody writes until shutdown, so it stays in every core's cache.
#[derive(Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag that SIGINT and SIGTERM set.
    pub fn on_signals() -> std::io::Result<Self> {
        let f = Self::new();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, f.0.clone())?;
        }
        Ok(f)
    }

    /// Asks everyone to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once stop was asked.
    #[inline]
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
