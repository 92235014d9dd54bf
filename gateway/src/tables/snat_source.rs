//! SNAT source ports of the routing mesh: every worker draws candidates at random
//! from the whole of `[lo, hi]` (default 1024-65535), each with its own key; the
//! conntrack insert is the uniqueness check.
//!
//! A SNATed connection's reply key is `backend:bp -> ingress:sp`, so a source port
//! only has to be unused *towards that backend*: like Linux NAT, the same port serves
//! one connection per backend at a time. The pipeline draws a port, inserts the
//! connection, and on a key conflict (that port is busy towards that backend) draws
//! again, at most [`SNAT_TRIES`] times. The insert locks the buckets of both keys and
//! checks that neither is tracked, so it decides between workers too: two workers
//! that draw the same port towards the same backend at the same instant race for
//! the reply key, one inserts, the other draws again. Nothing else is shared: no
//! free list, no give-back, no atomics. A port comes back by itself when its
//! connection is removed (its reply key is free again), and is never reused while
//! the previous connection is tracked (TIME_WAIT is tracked for 120 s).
//!
//! Capacity does not depend on the worker a flow lands on: up to `hi - lo + 1`
//! (64 512) connections per (ingress IP, backend) and protocol, whether RSS spreads a
//! service's clients over all workers or hashes them all to one; a service of N
//! backends carries N times that. (Disjoint ranges per worker, as before, made it
//! 64 512 / workers for flows that all landed on one worker: ~8k a backend at 8
//! workers.) A drawn port is busy towards the chosen backend with the probability
//! that backend's ports are in use, so a free one takes 1/(1 - occupancy) draws on
//! average: two at half the range. When every draw finds its port busy the new flow
//! is refused (`snat_ports_exhausted`), and the worker refuses that backend's new
//! flows without drawing for the rest of the second (`pipeline::admission`).
//!
//! The draws are RFC 6056's algorithm 1 (simple port randomization): a keyed
//! SipHash-1-3 of a counter, keyed at random per worker at start, mapped onto the
//! range. An outsider who sees some of vxgw's source ports cannot tell the next one
//! (a sequential cursor told everybody, and let a blind attacker aim at the ports of
//! connections about to be made).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::hash::{BuildHasher, RandomState};
use std::ops::RangeInclusive;

use super::flow_hash::siphash13;

/// Lowest SNAT port by default (the privileged ports are left alone).
pub const DEFAULT_LO: u16 = 1024;
/// Highest SNAT port by default.
pub const DEFAULT_HI: u16 = 65535;
/// Ports tried for one new connection before it is refused.
pub const SNAT_TRIES: usize = 32;

/// One worker's draws of source ports.
#[derive(Debug, Clone)]
pub struct SnatSource {
    worker: u16,
    workers: u16,
    lo: u16,
    hi: u16,
    /// Draws so far (the PRF's input).
    draws: u64,
    /// The PRF's key.
    key: [u8; 16],
}

impl SnatSource {
    /// One source per worker, each drawing from all of `[lo, hi]` with its own key.
    pub fn for_workers(lo: u16, hi: u16, workers: u16) -> Result<Vec<SnatSource>, String> {
        let random = RandomState::new();
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&random.hash_one(1u8).to_le_bytes());
        key[8..].copy_from_slice(&random.hash_one(2u8).to_le_bytes());
        SnatSource::for_workers_keyed(lo, hi, workers, key)
    }

    /// [`SnatSource::for_workers`] with the draws keyed by `key` (each worker's key
    /// is `key` with its index folded in): the same sequences every time, for tests
    /// that compare two pipelines.
    pub fn for_workers_keyed(
        lo: u16,
        hi: u16,
        workers: u16,
        key: [u8; 16],
    ) -> Result<Vec<SnatSource>, String> {
        if lo > hi || workers == 0 {
            return Err(format!("no SNAT ports: {lo}-{hi} for {workers} workers"));
        }
        Ok((0..workers)
            .map(|w| SnatSource {
                worker: w,
                workers,
                lo,
                hi,
                draws: 0,
                key: {
                    let mut k = key;
                    k[14] ^= w as u8;
                    k[15] ^= (w >> 8) as u8;
                    k
                },
            })
            .collect())
    }

    /// The worker these draws are for.
    pub fn worker(&self) -> u16 {
        self.worker
    }

    /// How many workers draw from the ports.
    pub fn workers(&self) -> u16 {
        self.workers
    }

    /// The ports drawn from (every worker's).
    pub fn range(&self) -> RangeInclusive<u16> {
        self.lo..=self.hi
    }

    /// A port to try, drawn at random from the range (see the module docs).
    #[inline]
    pub fn candidate(&mut self) -> u16 {
        self.draws = self.draws.wrapping_add(1);
        let x = siphash13(&self.key, &self.draws.to_le_bytes());
        let len = u64::from(self.hi - self.lo) + 1;
        // Multiply-shift onto the range: uniform to within len / 2^32.
        self.lo + (((x >> 32) * len) >> 32) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_draws_from_the_whole_range() {
        let s = SnatSource::for_workers(DEFAULT_LO, DEFAULT_HI, 3).unwrap();
        assert_eq!(s.len(), 3);
        for (w, src) in s.iter().enumerate() {
            assert_eq!(src.worker() as usize, w);
            assert_eq!(src.range(), 1024..=65535);
        }
        assert!(SnatSource::for_workers(10, 9, 1).is_err());
        assert!(SnatSource::for_workers(10, 11, 0).is_err());
        assert_eq!(SnatSource::for_workers(10, 11, 3).unwrap().len(), 3);
    }

    #[test]
    fn draws_stay_in_the_range_and_cover_it() {
        let mut s = SnatSource::for_workers(100, 102, 1).unwrap().remove(0);
        let mut seen = [0u32; 3];
        for _ in 0..3000 {
            let p = s.candidate();
            assert!((100..=102).contains(&p), "{p}");
            seen[(p - 100) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        let mut top = SnatSource::for_workers(65534, 65535, 1).unwrap().remove(0);
        assert!((0..100).all(|_| top.candidate() >= 65534));
        let mut all = SnatSource::for_workers(DEFAULT_LO, DEFAULT_HI, 1)
            .unwrap()
            .remove(0);
        let mut hit = vec![false; 65536];
        for _ in 0..2_000_000 {
            hit[all.candidate() as usize] = true;
        }
        let covered = hit.iter().filter(|&&h| h).count();
        assert_eq!(covered, 64512, "every port of the range can be drawn");
    }

    /// RFC 6056: the next port cannot be told from the previous ones. Not sequential,
    /// no fixed stride, and two workers (or two starts) draw different sequences.
    #[test]
    fn draws_are_not_predictable() {
        let mut a = SnatSource::for_workers(DEFAULT_LO, DEFAULT_HI, 1)
            .unwrap()
            .remove(0);
        let mut b = SnatSource::for_workers(DEFAULT_LO, DEFAULT_HI, 1)
            .unwrap()
            .remove(0);
        let xs: Vec<u16> = (0..64).map(|_| a.candidate()).collect();
        let ys: Vec<u16> = (0..64).map(|_| b.candidate()).collect();
        assert_ne!(xs, ys, "another start, other ports");
        let mut w = SnatSource::for_workers_keyed(DEFAULT_LO, DEFAULT_HI, 2, [7; 16]).unwrap();
        let w0: Vec<u16> = (0..64).map(|_| w[0].candidate()).collect();
        let mut again = SnatSource::for_workers_keyed(DEFAULT_LO, DEFAULT_HI, 2, [7; 16]).unwrap();
        assert_eq!(
            w0,
            (0..64).map(|_| again[0].candidate()).collect::<Vec<_>>()
        );
        let w1: Vec<u16> = (0..64).map(|_| w[1].candidate()).collect();
        assert_ne!(w0, w1, "workers draw different sequences");
        let strides: std::collections::HashSet<i32> =
            xs.windows(2).map(|w| w[1] as i32 - w[0] as i32).collect();
        assert!(strides.len() > 32, "no common stride: {strides:?}");
    }
}
