//! Test fixtures of the exporter, shared by the families' and the HTTP server's
//! tests: a collector over a fixed [`Reading`] (no DPDK), and a reading with a
//! little of everything in it.

use std::net::Ipv4Addr;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;

use super::reading::Reading;
use crate::dpdk::PortStats;
use crate::pipeline::{DropReason, Event};
use crate::runtime::WorkerCounters;
use crate::tables::fdb::{Fdb, FdbDest};
use crate::tables::neighbours::Neighbours;
use crate::wire::MacAddr;

/// A collector over plain values (no DPDK): the families of a fixed reading.
pub(super) struct Fixed(pub(super) Reading, pub(super) Vec<Desc>);

impl Collector for Fixed {
    fn desc(&self) -> Vec<&Desc> {
        self.1.iter().collect()
    }
    fn collect(&self) -> Vec<MetricFamily> {
        self.0.families()
    }
}

pub(super) fn reading() -> Reading {
    let workers: Vec<WorkerCounters> = (0..2).map(|_| WorkerCounters::default()).collect();
    workers[0].rx_packets.add(10);
    workers[1].rx_packets.add(5);
    workers[0].busy_cycles.add(3_000_000);
    workers[0].pipeline.drop(DropReason::UnknownVtep);
    workers[1].pipeline.drop_n(DropReason::UnknownVtep, 2);
    workers[1].pipeline.event_n(Event::Encapsulated, 7);
    workers[0].pipeline.event_n(Event::FdbLimitHit, 4);
    workers[1].pipeline.event_n(Event::FdbLimitHit, 5);
    workers[1].pipeline.event(Event::FdbStaticKept);
    workers[0].pipeline.drop_n(DropReason::InvalidSourceMac, 6);
    let fdb = Fdb::new(1024, 16);
    let mac = |b| MacAddr([2, 0, 0, 0, 0, b]);
    fdb.add_static(4096, mac(1), FdbDest::Vtep(Ipv4Addr::new(172, 30, 0, 11)))
        .unwrap();
    let neigh = Neighbours::new(16);
    neigh
        .set_static(Ipv4Addr::new(172, 30, 0, 11), mac(2))
        .unwrap();
    neigh.learn(Ipv4Addr::new(172, 30, 0, 12), mac(3), 1);
    let mut r = Reading::tables(&workers, &[1, 3], &fdb, &neigh);
    r.ports = vec![
        (
            "net_pcap0".into(),
            PortStats {
                rx_packets: 23,
                rx_bytes: 2300,
                ..PortStats::default()
            },
            true,
        ),
        ("0000:01:00.0".into(), PortStats::default(), false),
    ];
    r.tsc_hz = 1_000_000_000;
    r.uptime = 1.5;
    r
}
