//! The only safe layer over `dpdk-sys`: EAL, mempools, mbufs, ports, queues, lcores;
//! and huge-page advice for the big tables (the one OS call the tables need).
//!
//! This layer moves packets; it knows nothing of VXLAN or of what the packets mean.
//! Every `unsafe` block of the gateway lives under this directory, each with a
//! `// SAFETY:` line saying why it holds.

mod eal;
mod error;
mod huge_pages;
mod lcore;
mod mbuf;
mod mempool;
mod port;
mod prefetch;
mod ring;
mod rss;
mod telemetry;
mod tx_buffer;
mod tx_target;

pub use eal::Eal;
pub use error::DpdkError;
pub use huge_pages::huge_table;
pub use lcore::{current_lcore, tsc_hz, tsc_now, LaunchedWorker};
pub use mbuf::{Drain, Mbuf, MbufBurst, BURST_SIZE};
pub use mempool::Mempool;
pub use port::{
    LinkStatus, MtuRefusal, Port, PortConfig, PortStats, RxQueue, StartedPort, TxQueue,
};
pub use prefetch::{prefetch, prefetch_ptr};
pub use ring::Ring;
pub use rss::{rss_field_names, RssState, RSS_IPV4_TCP_UDP, RSS_IPV4_UDP, RSS_KEY};
pub use telemetry::{register as register_telemetry, TelValue};
pub use tx_buffer::{Flushed, TxBuffer};
pub use tx_target::{SharedTxQueue, TxSink, TxTarget};

/// Result type of the DPDK layer.
pub type Result<T> = std::result::Result<T, DpdkError>;
