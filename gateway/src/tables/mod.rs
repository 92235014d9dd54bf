//! Tables the packet path reads: the configuration snapshot (immutable, swapped
//! whole), the FDB and the neighbour table (lock-free, written by learning).

mod buckets;
pub mod conntrack;
pub mod fdb;
pub mod fdb_cache;
pub mod flow_hash;
pub mod folded_mul;
pub mod maglev;
pub mod neighbours;
pub mod overlay_neighbours;
mod seconds;
pub mod snapshot;
pub mod snat_source;
pub mod u32_index;
