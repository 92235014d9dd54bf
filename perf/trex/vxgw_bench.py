"""The addressing plan shared by the TRex profiles, the pktgen pcaps, the profile
test and the shipped benchmark configs (configs/bench-overlay.toml,
configs/bench-mesh.toml, written by mk_configs.py): one place says which VTEPs,
VNIs, VLANs, MACs, clients, services and backends a benchmark uses, so a profile
and vxgw's configuration cannot disagree.

No TRex import here: profiles build their scapy packets from these bytes.

Overlay (bench-overlay.toml): vxgw's VTEP 172.30.0.1 on the underlay port, TRex
emulates VTEPS remote VTEPs 172.30.0.12.. behind the same port (static neighbours:
TREX_UL_MAC). VNIS segments: VNI 4096 untagged on the access port, 4097.. on
VLANs 101... MACS "local" MACs (L) sit on the access port and MACS "remote" MACs
(R) behind the VTEPs (R j behind VTEP j % VTEPS), as static FDB entries in every
VNI, so no benchmark depends on learning or flooding.

Routing mesh (bench-mesh.toml): clients 198.18.0.0/15 behind the external
gateway 192.0.2.254 reach 192.0.2.1: ports 8000-8003 are SNAT services of 8
backends each (the forward path), ports 9000-9003 preserve-mode services of one
backend each (the reverse path: a backend's reply goes to the client's own address,
known to the profile). Backends 10.255.1.x / 10.255.2.x sit behind VTEP 172.30.0.12.
"""
import ipaddress
import struct

# Port names in the shipped configs: the NICs of a two-port bare-metal box. The
# profile test renames them to net_pcap vdevs; an operator edits them to theirs.
UNDERLAY_PORT = "0000:3b:00.0"
ACCESS_PORT = "0000:3b:00.1"
EXTERNAL_PORT = "0000:3b:00.1"

# What TRex's ports look like to vxgw: the MACs vxgw sends to (static neighbours).
# Set TRex's ports to these (trex_cfg.yaml src_mac) or run them promiscuous.
TREX_UL_MAC = "02:00:00:7e:00:00"
TREX_EXT_MAC = "02:00:00:7e:00:01"

VXGW_VTEP = "172.30.0.1"
VTEP_BASE = "172.30.0.12"  # .12-.15: the low bits are the VTEP index
VTEPS = 4
VNI_BASE = 4096
VNIS = 4
VLAN_BASE = 100          # VNI 4096 + i is VLAN 100 + i (i > 0); VNI 4096 untagged
MACS = 64                # local and remote MACs per VNI (a multiple of VTEPS)
UNDERLAY_MTU = 1600      # a 1518-byte inner frame in VXLAN is 1568 bytes

PUBLISHED_IP = "192.0.2.1"
EXTERNAL_IP = "192.0.2.2"
EXTERNAL_GATEWAY = "192.0.2.254"
CLIENT_NET = "198.18.0.0"
INGRESS_IP = "10.255.0.2"
MESH_VNI = 4096
MESH_VTEP = VTEP_BASE
SNAT_PORT_BASE = 8000    # services web0-web3: SNAT, 8 backends each
PRESERVE_PORT_BASE = 9000  # services rev0-rev3: preserve, 1 backend each
SERVICES = 4
BACKENDS = 8
TARGET_PORT = 80
CLIENT_FLOWS = 1024      # default distinct client 5-tuples of the mesh profiles

VXLAN_PORT = 4789
ENCAP_LEN = 50           # outer Ethernet + IPv4 + UDP + VXLAN

# Frame sizes on the wire include the 4-byte FCS, which TRex and pktgen add.
FCS = 4
IMIX = [(64, 7), (594, 4), (1518, 1)]  # TRex's and CSIT's IMIX: size, weight


def sizes(spec):
    """`64`, `1518` or `imix`: [(wire size, weight)]."""
    if spec == "imix":
        return IMIX
    n = int(spec)
    if not 64 <= n <= 9018:
        raise ValueError(f"frame size {n}: 64-9018")
    return [(n, 1)]


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def mac_str(b):
    return ":".join(f"{x:02x}" for x in b)


def ip(s):
    return ipaddress.IPv4Address(s).packed


def ip_add(s, n):
    return str(ipaddress.IPv4Address(s) + n)


def local_mac(j):
    """L j: a container on the access side."""
    return bytes([0x02, 0x4C, 0, 0, j >> 8 & 0xFF, j & 0xFF])


def remote_mac(j):
    """R j: a container behind VTEP j % VTEPS."""
    return bytes([0x02, 0x52, 0, 0, j >> 8 & 0xFF, j & 0xFF])


def vtep_ip(k):
    return ip_add(VTEP_BASE, k)


def vni(i):
    return VNI_BASE + i


def vlan_of(i):
    """The access VLAN of VNI index i (0: untagged)."""
    return 0 if i == 0 else VLAN_BASE + i


def client_ip(i):
    return ip_add(CLIENT_NET, i)


def client_port(i):
    return 1024 + i % 60000


def backend_ip(service, b):
    """Backend b of SNAT service `service` (web0-web3)."""
    return f"10.255.1.{service * BACKENDS + b + 1}"


def rev_backend_ip(service):
    """The one backend of preserve-mode service `service` (rev0-rev3): .4-.7, so
    the low bits are the service index."""
    return f"10.255.2.{4 + service}"


def backend_mac(addr):
    """Docker's convention: 02:42 and the IPv4 address."""
    return bytes([0x02, 0x42]) + ip(addr)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, payload, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, ttl, proto, 0,
                    ip(src), ip(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def udp(src, dst, sport, dport, payload, checksum=True):
    h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    if not checksum:
        return h + payload
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 17, 8 + len(payload))
    c = csum(pseudo + h + payload) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + payload


def tcp(src, dst, sport, dport, payload=b"", flags=0x10):
    h = struct.pack("!HHIIBBHHH", sport, dport, 1000, 1, 5 << 4, flags, 64240, 0, 0)
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 6, len(h) + len(payload))
    c = csum(pseudo + h + payload)
    return h[:16] + struct.pack("!H", c) + h[18:] + payload


def ether(dst, src, ethertype, payload, vlan=0):
    tag = struct.pack("!HH", 0x8100, vlan) if vlan else b""
    return dst + src + tag + struct.pack("!H", ethertype) + payload


def pad_to(frame, wire_size):
    """Pads an Ethernet frame's IP payload so the frame is `wire_size` with FCS."""
    want = wire_size - FCS
    if len(frame) > want:
        raise ValueError(f"a {len(frame)}-byte frame does not fit {wire_size}")
    return frame + bytes(want - len(frame))


def inner_udp(dst_mac, src_mac, wire_size, vlan=0, sport=1000, dport=80):
    """A tenant's UDP frame of `wire_size` bytes on the wire (FCS included),
    10.0.0.1 -> 10.0.0.2 (UDP checksum 0: none, so its ports may vary)."""
    hdr = 14 + (4 if vlan else 0) + 20 + 8
    payload = bytes(max(0, wire_size - FCS - hdr))
    ip_pkt = ipv4("10.0.0.1", "10.0.0.2", 17,
                  udp("10.0.0.1", "10.0.0.2", sport, dport, payload, checksum=False))
    return ether(dst_mac, src_mac, 0x0800, ip_pkt, vlan)


def vxlan(outer_dst_mac, outer_src_mac, src, dst, sport, vni_id, inner):
    """`inner` in VXLAN from VTEP `src` to `dst` (outer UDP checksum 0, as VTEPs send)."""
    vx = struct.pack("!II", 0x08000000, vni_id << 8) + inner
    return ether(outer_dst_mac, outer_src_mac, 0x0800,
                 ipv4(src, dst, 17, udp(src, dst, sport, VXLAN_PORT, vx, checksum=False)))
