//! The incremental checksum update (RFC 1624 eqn. 3, generalised to several words):
//! [`Delta`] accumulates `~old + new` over every changed word, and the field writes
//! record their change in a `Delta` as they write (see the checksum strategy in the
//! module documentation of `nat`).

use std::net::Ipv4Addr;

use super::layout::{rd_addr, rd_raw, wr_addr, wr_raw};

/// A pending RFC 1624 update: the sum of `~old + new` over every changed word.
///
/// Words are taken as they lie in memory (native byte order, "raw"): the ones'
/// complement sum commutes with byte swapping (RFC 1071 section 2(B)), so a
/// checksum read raw, updated with raw words and written back raw is the same as
/// doing it all in network order — without a byte swap per word. A 32-bit field
/// counts as one 32-bit term: 2^16 = 1 (mod 0xffff), so that equals its two
/// 16-bit halves.
#[derive(Clone, Copy, Default)]
pub(super) struct Delta(u64);

impl Delta {
    /// A 16-bit word changed (raw values).
    #[inline(always)]
    pub(super) fn word(&mut self, old: u16, new: u16) {
        self.0 += u64::from(!old) + u64::from(new);
    }

    /// A 4-byte field (an address) changed.
    #[inline(always)]
    pub(super) fn addr(&mut self, old: [u8; 4], new: [u8; 4]) {
        self.0 += u64::from(!u32::from_ne_bytes(old)) + u64::from(u32::from_ne_bytes(new));
    }

    #[inline(always)]
    pub(super) fn plus(self, o: Delta) -> Delta {
        Delta(self.0 + o.0)
    }

    /// The raw checksum `csum` updated by this delta.
    #[inline(always)]
    pub(super) fn apply(self, csum: u16) -> u16 {
        // A delta holds a few dozen terms at most (< 2^40), so three
        // end-around-carry rounds always reach 16 bits: branch-free, unlike the
        // general `checksum::fold` loop (which it equals, see the tests).
        let a = u64::from(!csum) + self.0;
        let a = (a & 0xffff) + (a >> 16);
        let a = (a & 0xffff) + (a >> 16);
        let a = (a & 0xffff) + (a >> 16);
        !(a as u16)
    }
}

/// Writes an address at `at`, recording the change in `d`.
#[inline(always)]
pub(super) fn set_addr(ip: &mut [u8], at: usize, new: Ipv4Addr, d: &mut Delta) {
    let new = new.octets();
    d.addr(rd_addr(ip, at), new);
    wr_addr(ip, at, new);
}

/// Writes the 16-bit (host order) value `new` at `at`, recording the change in `d`.
#[inline(always)]
pub(super) fn set_word(ip: &mut [u8], at: usize, new: u16, d: &mut Delta) {
    let new = new.to_be();
    d.word(rd_raw(ip, at), new);
    wr_raw(ip, at, new);
}

/// Applies `d` to the checksum stored at `at`; returns its (old, new) raw values.
#[inline(always)]
pub(super) fn fix_csum(ip: &mut [u8], at: usize, d: Delta) -> (u16, u16) {
    let old = rd_raw(ip, at);
    let new = d.apply(old);
    wr_raw(ip, at, new);
    (old, new)
}

#[cfg(test)]
#[path = "delta_tests.rs"]
mod tests;
