//! The benches' small PRNG (shared by `conntrack` and `fdb`): xorshift64, fixed
//! seeds, so a run draws the same keys every time.

/// xorshift64 (Marsaglia); the seed must not be 0.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next value.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
