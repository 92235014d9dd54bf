//! Event counters striped over cache lines: a table's writers (learning workers,
//! connection set-up) count with a relaxed `fetch_add` on one of [`STRIPES`]
//! blocks of 128 bytes, so that workers do not all bounce one line; a reader sums
//! the stripes. The table picks the stripe: the FDB by bucket (a learn is once a
//! MAC), the conntrack by the connection's owner worker (a worker's inserts then
//! write its own line).

use std::ops::Index;

/// Stripes a table's counters are spread over.
pub(in crate::tables) const STRIPES: usize = 16;

/// [`STRIPES`] blocks of counters `B`, each on its own 128 bytes.
pub(in crate::tables) struct Striped<B>(Box<[Line<B>]>);

#[repr(align(128))]
#[derive(Default)]
struct Line<B>(B);

impl<B: Default> Default for Striped<B> {
    fn default() -> Self {
        Striped((0..STRIPES).map(|_| Line::default()).collect())
    }
}

impl<B> Striped<B> {
    /// Every stripe (to sum a counter).
    pub(in crate::tables) fn iter(&self) -> impl Iterator<Item = &B> {
        self.0.iter().map(|l| &l.0)
    }
}

impl<B> Index<usize> for Striped<B> {
    type Output = B;

    /// The stripe of `key` (any number: a bucket or entry index).
    #[inline(always)]
    fn index(&self, key: usize) -> &B {
        &self.0[key % STRIPES].0
    }
}
