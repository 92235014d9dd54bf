//! NAT rewrite timing: DNAT + SNAT (+ TTL) of a TCP packet in a 64-byte frame (60
//! bytes without FCS: 14 Ethernet + 46 IPv4 = 20 IP + 20 TCP + 6 data), over bursts
//! of 32 distinct packets as a worker sees them (no serial dependency through one
//! buffer). Best of 7 runs, to shed noise from other load.
//!
//!   cargo bench -p vxgw --bench nat

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use etherparse::PacketBuilder;
use vxgw::pipeline::nat::rewrite;

type Ep = (Ipv4Addr, u16);
const CLIENT: Ep = (Ipv4Addr::new(92, 234, 68, 72), 53711);
const NODE: Ep = (Ipv4Addr::new(10, 0, 0, 4), 80);
const INGRESS: Ep = (Ipv4Addr::new(10, 255, 0, 2), 65408);
const CONTAINER: Ep = (Ipv4Addr::new(10, 255, 0, 6), 80);
const BURST: usize = 32;
/// Each round: NAT then un-NAT over the burst.
const ROUNDS: usize = 200_000;

fn main() {
    let mut fwd = Vec::new();
    PacketBuilder::ipv4(CLIENT.0.octets(), NODE.0.octets(), 64)
        .tcp(CLIENT.1, NODE.1, 1_862_583_515, 65535)
        .ack(3_626_128_582)
        .write(&mut fwd, b"GET / ")
        .unwrap();
    assert_eq!(fwd.len(), 46);
    let mut burst = vec![[0u8; 46]; BURST];
    let run = |burst: &mut Vec<[u8; 46]>, ttl_dec: bool| {
        for p in burst.iter_mut() {
            p.copy_from_slice(&fwd);
        }
        let t = Instant::now();
        for r in 0..ROUNDS {
            if ttl_dec && r % 50 == 0 {
                // Restore TTL now and then (amortised: 1 copy per 100 rewrites).
                for p in burst.iter_mut() {
                    p.copy_from_slice(&fwd);
                }
            }
            for p in burst.iter_mut() {
                let p = black_box(&mut p[..]);
                black_box(rewrite(p, Some(INGRESS), Some(CONTAINER), ttl_dec)).unwrap();
            }
            for p in burst.iter_mut() {
                let p = black_box(&mut p[..]);
                black_box(rewrite(p, Some(CLIENT), Some(NODE), false)).unwrap();
            }
        }
        t.elapsed().as_nanos() as f64 / (ROUNDS * BURST * 2) as f64
    };
    let best = |ttl_dec: bool, burst: &mut Vec<[u8; 46]>| {
        (0..7)
            .map(|_| run(burst, ttl_dec))
            .fold(f64::INFINITY, f64::min)
    };
    let plain = best(false, &mut burst);
    for p in &burst {
        assert_eq!(
            &p[..],
            &fwd[..],
            "NAT then un-NAT must give the packet back"
        );
    }
    let ttl = best(true, &mut burst);
    println!(
        "nat rewrite (DNAT+SNAT, 46-byte IPv4/TCP, bursts of {BURST}): {plain:.2} ns/packet; \
         half of them also decrementing TTL: {ttl:.2} ns/packet"
    );
}
