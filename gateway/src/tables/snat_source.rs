//! SNAT source ports of the routing mesh: each worker owns a disjoint range of
//! `[lo, hi]` (default 1024-65535) and walks it with a cursor; the conntrack insert is
//! the uniqueness check.
//!
//! A SNATed connection's reply key is `backend:bp -> ingress:sp`, so a source port
//! only has to be unused *towards that backend*: like Linux NAT, the same port serves
//! one connection per backend at a time. The pipeline takes the cursor's next port,
//! inserts the connection, and on a key conflict (that port is busy towards that
//! backend) tries the next one, at most [`SNAT_TRIES`] times. The ranges are disjoint,
//! so two workers never race for one port, and nothing is shared: no free list, no
//! give-back, no atomics. A port comes back by itself when its connection is removed
//! (its reply key is free again); a port is reused towards the same backend only after
//! the whole range went round, and never while the previous connection is tracked
//! (TIME_WAIT is tracked for 120 s).
//!
//! Capacity: up to `hi - lo + 1` (64 512) connections per (ingress IP, backend); a
//! service of N backends carries N times that. The cursor's port is busy towards the
//! chosen backend with the probability that backend's ports are in use, so a free one
//! takes 1/(1 - occupancy) tries on average: two at half the range. Measured
//! (`cargo bench -p vxgw --bench mesh`: 1M new connections over 32 backends, each
//! backend's ports ending half used): with 16 tries 63 in a million were refused,
//! with [`SNAT_TRIES`] = 32 none. When every try finds its port busy the new flow is
//! refused (`snat_ports_exhausted`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::ops::RangeInclusive;

/// Lowest SNAT port by default (the privileged ports are left alone).
pub const DEFAULT_LO: u16 = 1024;
/// Highest SNAT port by default.
pub const DEFAULT_HI: u16 = 65535;
/// Ports tried for one new connection before it is refused.
pub const SNAT_TRIES: usize = 32;

/// One worker's source ports.
#[derive(Debug, Clone)]
pub struct SnatSource {
    worker: u16,
    lo: u16,
    hi: u16,
    next: u16,
}

impl SnatSource {
    /// Splits `[lo, hi]` into one contiguous range per worker (the first ones one port
    /// longer when it does not divide evenly). Every worker gets at least one port.
    pub fn split(lo: u16, hi: u16, workers: u16) -> Result<Vec<SnatSource>, String> {
        if lo > hi || workers == 0 {
            return Err(format!("no SNAT ports: {lo}-{hi} for {workers} workers"));
        }
        let n = (hi - lo) as u32 + 1;
        if n < workers as u32 {
            return Err(format!(
                "{n} SNAT ports ({lo}-{hi}) for {workers} workers: need one per worker"
            ));
        }
        let (each, extra) = (n / workers as u32, n % workers as u32);
        let mut start = lo as u32;
        Ok((0..workers)
            .map(|w| {
                let len = each + u32::from((w as u32) < extra);
                let s = SnatSource {
                    worker: w,
                    lo: start as u16,
                    hi: (start + len - 1) as u16,
                    next: start as u16,
                };
                start += len;
                s
            })
            .collect())
    }

    /// The worker this range belongs to.
    pub fn worker(&self) -> u16 {
        self.worker
    }

    /// This worker's ports.
    pub fn range(&self) -> RangeInclusive<u16> {
        self.lo..=self.hi
    }

    /// The next port to try (wraps round the range).
    #[inline]
    pub fn candidate(&mut self) -> u16 {
        let p = self.next;
        self.next = if p == self.hi { self.lo } else { p + 1 };
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_disjoint_and_cover_everything() {
        let s = SnatSource::split(DEFAULT_LO, DEFAULT_HI, 3).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(*s[0].range().start(), 1024);
        assert_eq!(*s[2].range().end(), 65535);
        let total: usize = s.iter().map(|r| r.range().count()).sum();
        assert_eq!(total, 64512);
        for w in s.windows(2) {
            assert_eq!(*w[0].range().end() + 1, *w[1].range().start());
        }
        assert!(SnatSource::split(10, 11, 3).is_err());
        assert!(SnatSource::split(10, 9, 1).is_err());
    }

    #[test]
    fn the_cursor_walks_and_wraps() {
        let mut s = SnatSource::split(100, 102, 1).unwrap().remove(0);
        let got: Vec<u16> = (0..5).map(|_| s.candidate()).collect();
        assert_eq!(got, [100, 101, 102, 100, 101]);
        let mut top = SnatSource::split(65534, 65535, 1).unwrap().remove(0);
        assert_eq!(
            [top.candidate(), top.candidate(), top.candidate()],
            [65534, 65535, 65534]
        );
    }
}
