#!/usr/bin/python3
"""Inputs of perf/overlay.sh: a pcap and a vxgw config for one benchmark case.

  mk_overlay_inputs.py {decap|encap} MACS OUT_PCAP OUT_TOML

decap: VXLAN frames (64-byte inner frames, VNI 4096) from VTEP 172.30.0.11 to our
       VTEP 172.30.0.1; the inner destinations are MACS distinct MACs, each a static
       FDB entry on the access port (net_null0). Port net_pcap0 = underlay.
encap: 64-byte untagged frames on the access port (net_pcap0) to MACS distinct MACs,
       each a static FDB entry behind VTEP 172.30.0.11 (static neighbour, no ARP);
       the underlay port is net_null0.
Frames cycle through the MACs in a scattered order (not sequential) so consecutive
lookups do not share cache lines.
"""
import struct
import sys

mode, macs, out_pcap, out_toml = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
frames = min(macs, 100_000)


def mac(i):
    return bytes([0x02, 0x10, (i >> 24) & 0xFF, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF])


def mac_s(b):
    return ":".join(f"{x:02x}" for x in b)


def csum(b):
    s = sum(struct.unpack(f"!{len(b)//2}H", b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                    bytes(src), bytes(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def inner(i):
    # 64-byte frame on the wire = 60 bytes + FCS: Ethernet + IPv4 + UDP + 18 bytes.
    udp = struct.pack("!HHHH", 1000 + i % 50000, 80, 8 + 18, 0) + bytes(18)
    return mac(i) + bytes([0x02, 0x20, 0, 0, 0, 1]) + b"\x08\x00" + ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, udp)


UL_MAC = bytes([0x02, 0x70, 0x63, 0x61, 0x70, 0x00])  # net_pcap0's MAC
order = [(k * 7919) % frames for k in range(frames)] if frames > 1 else [0]
pkts = []
for i in order:
    f = inner(i)
    if mode == "decap":
        vx = struct.pack("!BBBBI", 0x08, 0, 0, 0, 4096 << 8) + f
        udp = struct.pack("!HHHH", 49152 + i % 16384, 4789, 8 + len(vx), 0) + vx
        f = UL_MAC + bytes([0x02, 0, 0, 0, 0x11, 0x11]) + b"\x08\x00" + ipv4([172, 30, 0, 11], [172, 30, 0, 1], 17, udp)
    pkts.append(f)

with open(out_pcap, "wb") as w:
    w.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n, p in enumerate(pkts):
        w.write(struct.pack("<IIII", n, 0, len(p), len(p)))
        w.write(p)

ul, acc = ("net_pcap0", "net_null0") if mode == "decap" else ("net_null0", "net_pcap0")
with open(out_toml, "w") as t:
    t.write(f'''[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = {max(1024, 2 * macs + 1024)}

[[port]]
name = "{ul}"
roles = ["underlay"]

[[port]]
name = "{acc}"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[neighbour]]
ip = "172.30.0.11"
mac = "02:00:00:00:11:11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{{ port = "{acc}", vlan = 0 }}]
learn_limit = {max(1024, 2 * macs + 1024)}
''')
    dest = f'port = "{acc}"' if mode == "decap" else 'vtep = "172.30.0.11"'
    for i in range(macs):
        t.write(f'[[fdb]]\nvni = 4096\nmac = "{mac_s(mac(i))}"\n{dest}\n')
