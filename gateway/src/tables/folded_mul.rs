//! The mixing step of the tables' seeded hashes: a 64 x 64 -> 128-bit multiply folded
//! back to 64 bits (high half XOR low half). One multiply, and every output bit
//! depends on every input bit of both operands.

/// `a * b` as 128 bits, halves XORed.
#[inline(always)]
pub fn folded_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}
