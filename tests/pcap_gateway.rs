//! The two-port pcap gateway used by several integration tests: net_pcap0 is the
//! underlay (VTEP 172.30.0.1, one remote VTEP 172.30.0.11 with a static neighbour),
//! net_pcap1 the access port with VLAN 100 mapped to VNI 4096; and frame builders
//! for its traffic.

use etherparse::PacketBuilder;

use crate::{write_pcap, TempDir};

/// net_pcap's MAC of device 0: `02:70:63:61:70:<device index>` ("pcap").
pub const UL_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x00];
/// The remote VTEP's (static) MAC.
pub const NODE1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x11, 0x11];
/// The server behind the access port.
pub const SRV: [u8; 6] = [0x02, 0x00, 0x0a, 0xff, 0x00, 0x64];
/// A container behind the remote VTEP.
pub const C1: [u8; 6] = [0x02, 0x42, 0x0a, 0xff, 0x00, 0x0b];

/// The gateway's configuration.
pub const CONFIG: &str = r#"
[gateway]
vtep_ip = "172.30.0.1"

[[port]]
name = "net_pcap0"
roles = ["underlay"]

[[port]]
name = "net_pcap1"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[neighbour]]
ip = "172.30.0.11"
mac = "02:00:00:00:11:11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{ port = "net_pcap1", vlan = 100 }]
"#;

/// An untagged UDP frame `src` -> `dst` whose port and payload encode `n`.
pub fn inner(src: [u8; 6], dst: [u8; 6], n: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(src, dst)
        .ipv4([10, 255, 0, 100], [10, 255, 0, 11], 64)
        .udp(1000 + n, 80)
        .write(&mut v, &[n as u8; 64])
        .unwrap();
    v
}

/// `frame` with an 802.1Q tag carrying `tci` inserted after the MACs.
pub fn tagged(frame: &[u8], tci: u16) -> Vec<u8> {
    let mut v = frame[..12].to_vec();
    v.extend_from_slice(&[0x81, 0x00]);
    v.extend_from_slice(&tci.to_be_bytes());
    v.extend_from_slice(&frame[12..]);
    v
}

/// `inner` in VXLAN (VNI `vni`, I flag) from `src_ip` to the gateway's VTEP.
pub fn vxlan(src_ip: [u8; 4], vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = vec![0x08, 0, 0, 0];
    payload.extend_from_slice(&(vni << 8).to_be_bytes());
    payload.extend_from_slice(inner);
    let mut v = Vec::new();
    PacketBuilder::ethernet2(NODE1_MAC, UL_MAC)
        .ipv4(src_ip, [172, 30, 0, 1], 64)
        .udp(50000, 4789)
        .write(&mut v, &payload)
        .unwrap();
    v
}

/// Two net_pcap ports on `dir`: the underlay (net_pcap0) reading `ul_in`, the access
/// port (net_pcap1) reading `acc_in` (both captures written here), each writing
/// `ul_out.pcap` / `acc_out.pcap`. Returns their `--vdev` arguments.
pub fn pcap_ports(dir: &TempDir, ul_in: &[Vec<u8>], acc_in: &[Vec<u8>]) -> Vec<String> {
    write_pcap(&dir.join("ul_in.pcap"), ul_in);
    write_pcap(&dir.join("acc_in.pcap"), acc_in);
    ["ul", "acc"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "net_pcap{i},rx_pcap={},tx_pcap={}",
                dir.join(&format!("{n}_in.pcap")).display(),
                dir.join(&format!("{n}_out.pcap")).display()
            )
        })
        .collect()
}
