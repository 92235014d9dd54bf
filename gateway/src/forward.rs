//! Plain port-to-port forwarding (testpmd's "io" mode): the plumbing check and the
//! baseline every pipeline benchmark is compared with.

use crate::dpdk::{tsc_now, MbufBurst, RxQueue, TxQueue};
use crate::metrics::{CachePadded, Counter};
use crate::shutdown::StopFlag;

/// One direction of a forwarding pair served by one worker: rx queue -> tx queue.
pub struct Lane {
    /// Where packets come from.
    pub rx: RxQueue,
    /// Where they go.
    pub tx: TxQueue,
}

/// Counters of one forwarding worker.
#[derive(Default)]
pub struct ForwardCounters {
    /// Packets received.
    pub rx_packets: Counter,
    /// Packets the tx queue accepted.
    pub tx_packets: Counter,
    /// Packets freed because the tx queue was full.
    pub tx_dropped: Counter,
    /// Poll iterations over all lanes.
    pub polls: Counter,
    /// Poll iterations that moved at least one packet.
    pub busy_polls: Counter,
    /// TSC cycles spent in busy iterations.
    pub busy_cycles: Counter,
}

/// Shared, padded per-worker counter blocks.
pub type WorkerCounters = CachePadded<ForwardCounters>;

/// Polls `lanes` until `stop` is set. Runs on a worker lcore; never allocates.
pub fn run(mut lanes: Vec<Lane>, stop: &StopFlag, c: &WorkerCounters) {
    let mut burst = MbufBurst::new();
    while !stop.is_set() {
        let t0 = tsc_now();
        let mut moved = 0usize;
        for lane in lanes.iter_mut() {
            let n = lane.rx.rx_burst(&mut burst);
            if n == 0 {
                continue;
            }
            moved += n;
            let sent = lane.tx.tx_burst(&mut burst);
            c.rx_packets.add(n as u64);
            c.tx_packets.add(sent as u64);
            if !burst.is_empty() {
                c.tx_dropped.add(burst.len() as u64);
                burst.free_all();
            }
        }
        c.polls.add(1);
        if moved > 0 {
            c.busy_polls.add(1);
            c.busy_cycles.add(tsc_now().wrapping_sub(t0));
        }
    }
}
