"""TRex stateless streams for vxgw's benchmark paths, shared by the profiles in this
directory (decap.py, encap.py, overlay.py, mesh_fwd.py, mesh_rev.py).

Each path is one base frame per frame size plus a field engine (STLVM) that varies
it the way real senders do. One flow variable `j` drives every field that must
agree with another (an inner MAC and the VTEP it sits behind, a client and its
service), through masked writes, so the frames stay consistent with vxgw's
configuration even when TRex splits the variable's range over its cores.

Frame sizes: `--size 64|1518|imix` is the size of the tenant's frame (the inner
frame of VXLAN, FCS included, as TRex counts frames); a VXLAN frame on the wire is
50 bytes longer. IMIX is 64:594:1518 at 7:4:1 (TRex's and CSIT's).
"""
import argparse

from trex_stl_lib.api import (
    CTRexVmInsFixHwCs,
    STLPktBuilder,
    STLStream,
    STLStreamDstMAC_PKT,
    STLTXCont,
    STLTXSingleBurst,
    STLVM,
)

import vxgw_bench as b

# Field offsets in the frames built here (VXLAN: outer Ethernet, IPv4, UDP, VXLAN).
OUTER_IP = 14
OUTER_SRC_IP_LAST = 29
OUTER_UDP_SPORT = 34
VNI_LOW = 48
INNER = b.ENCAP_LEN
INNER_DST_MAC_LOW = INNER + 4
INNER_SRC_MAC_LOW = INNER + 10
INNER_IP = INNER + 14
INNER_SRC_IP_LAST = INNER_IP + 15
INNER_DST_IP = INNER_IP + 16
INNER_L4 = INNER_IP + 20
# A plain frame: Ethernet, (802.1Q), IPv4, TCP/UDP.
DST_MAC_LOW = 4
SRC_MAC_LOW = 10
TCI = 14
IP = 14
SRC_IP = 26
L4 = 34
DPORT_LOW = 37


def parser(doc):
    """The tunables every profile takes (`-t --size imix --flows 4096`)."""
    p = argparse.ArgumentParser(description=doc, prog="-t")
    p.add_argument("--size", default="64", help="64, 1518 (any 64-9018) or imix")
    p.add_argument("--dst-mac", default=None,
                   help="vxgw's port MAC; default: TRex's port config (trex_cfg.yaml dest_mac)")
    p.add_argument("--pps", type=float, default=1.0,
                   help="base rate in packets/s (scale it with start -m)")
    return p


def parse(p, tunables):
    """The tunables as TRex passes them: `-t --size imix` (argparse, TRex 2.89 and
    later) or `-t size=imix,flows=4096` (the older key=value form)."""
    argv = []
    for t in tunables:
        for item in (t.split(",") if "=" in t and not t.startswith("--") else [t]):
            if "=" in item and not item.startswith("--"):
                k, v = item.split("=", 1)
                argv += [f"--{k}", v]
            else:
                argv.append(item)
    return p.parse_args(argv)


def stream(frame, vm, pps, args, burst=None):
    """One stream of `frame` varied by `vm`, continuous (or `burst` packets once)."""
    mode = STLTXSingleBurst(total_pkts=burst, pps=pps) if burst else STLTXCont(pps=pps)
    kw = {}
    if args.dst_mac:
        kw["mac_dst_override_mode"] = STLStreamDstMAC_PKT
    return STLStream(packet=STLPktBuilder(pkt_buffer=frame, vm=vm), mode=mode, **kw)


def dst_mac(args):
    return b.mac(args.dst_mac) if args.dst_mac else bytes(6)


def per_size(args, build):
    """A stream per frame size of `--size` (rates in IMIX's proportions)."""
    return [build(size, weight * args.pps) for size, weight in b.sizes(args.size)]


# --- overlay: VXLAN -> access (decap) -----------------------------------------


def decap_streams(args):
    """VXLAN from the VTEPs: frame j comes from VTEP j % VTEPS in VNI (j >> 2) %
    VNIS, remote MAC R(j) (which sits behind that VTEP) to local MAC L(j) (on the
    access port); the outer UDP source port varies as senders' inner-flow entropy."""
    macs = args.macs

    def build(size, pps):
        inner = b.inner_udp(b.local_mac(0), b.remote_mac(0), size)
        frame = b.vxlan(dst_mac(args), b.mac(b.TREX_UL_MAC), b.vtep_ip(0), b.VXGW_VTEP,
                        49152, b.vni(0), inner)
        vm = STLVM()
        vm.var(name="j", min_value=0, max_value=macs - 1, size=2, op="inc", step=1)
        vm.var(name="sport", min_value=49152, max_value=65535, size=2, op="inc", step=1)
        vm.write_mask(fv_name="j", pkt_offset=OUTER_SRC_IP_LAST, pkt_cast_size=1,
                      mask=b.VTEPS - 1)
        vm.write(fv_name="sport", pkt_offset=OUTER_UDP_SPORT)
        vm.write_mask(fv_name="j", pkt_offset=VNI_LOW, pkt_cast_size=1, mask=b.VNIS - 1,
                      shift=-2)
        vm.write(fv_name="j", pkt_offset=INNER_DST_MAC_LOW)
        vm.write(fv_name="j", pkt_offset=INNER_SRC_MAC_LOW)
        vm.fix_chksum(offset=OUTER_IP)
        return stream(frame, vm, pps, args)

    return per_size(args, build)


def decap_args(p):
    p.add_argument("--macs", type=int, default=b.MACS,
                   help=f"inner MACs per VNI (a multiple of {b.VTEPS}, at most {b.MACS})")


def check_overlay(args):
    if not (b.VTEPS <= args.macs <= b.MACS and args.macs % b.VTEPS == 0):
        raise ValueError(f"--macs {args.macs}: a multiple of {b.VTEPS} up to {b.MACS}")


# --- overlay: access -> VXLAN (encap) -----------------------------------------


def encap_streams(args):
    """Frames on the access port from L(j) to R(j): untagged (VNI 4096) or tagged
    with VLANs 101.. (VNIs 4097..); the inner UDP source port varies over --flows
    (vxgw hashes the inner flow into the outer source port)."""
    macs, tagged = args.macs, args.vlan == "tagged"

    def build(size, pps):
        vlan = b.vlan_of(1) if tagged else 0
        frame = b.inner_udp(b.remote_mac(0), b.local_mac(0), size, vlan=vlan, sport=1024)
        l4 = L4 + (4 if tagged else 0)
        vm = STLVM()
        vm.var(name="j", min_value=0, max_value=macs - 1, size=2, op="inc", step=1)
        vm.var(name="flow", min_value=1024, max_value=1024 + args.flows - 1, size=2,
               op="inc", step=1)
        vm.write(fv_name="j", pkt_offset=DST_MAC_LOW)
        vm.write(fv_name="j", pkt_offset=SRC_MAC_LOW)
        vm.write(fv_name="flow", pkt_offset=l4)
        if tagged:
            vm.var(name="vlan", min_value=b.vlan_of(1), max_value=b.vlan_of(b.VNIS - 1),
                   size=2, op="inc", step=1)
            vm.write(fv_name="vlan", pkt_offset=TCI)
        return stream(frame, vm, pps, args)

    return per_size(args, build)


def encap_args(p):
    decap_args(p)
    p.add_argument("--vlan", choices=["untagged", "tagged"], default="untagged",
                   help="untagged into VNI 4096, or 802.1Q VLANs 101.. into VNIs 4097..")
    p.add_argument("--flows", type=int, default=1024, help="inner UDP flows (1-64512)")


# --- routing mesh ---------------------------------------------------------------


def client_streams(args, port_base, once=False):
    """Clients' TCP ACKs (mid-stream segments: vxgw tracks a new flow as
    established) to the published address: client c = 198.18.0.0 + c, port
    1024 + c, to service c % 4 (port `port_base` + c % 4)."""

    def build(size, pps):
        seg = b.tcp(b.client_ip(0), b.PUBLISHED_IP, b.client_port(0), port_base)
        frame = b.ether(dst_mac(args), b.mac(b.TREX_EXT_MAC), 0x0800,
                        b.ipv4(b.client_ip(0), b.PUBLISHED_IP, 6, seg))
        frame = fix_ip_len(b.pad_to(frame, size), IP)
        vm = STLVM()
        vm.var(name="c", min_value=0, max_value=args.flows - 1, size=4, op="inc", step=1)
        vm.write(fv_name="c", pkt_offset=SRC_IP, add_val=ip_int(b.CLIENT_NET))
        vm.write_mask(fv_name="c", pkt_offset=L4, pkt_cast_size=2, mask=0xFFFF, add_val=1024)
        vm.write_mask(fv_name="c", pkt_offset=DPORT_LOW, pkt_cast_size=1,
                      mask=b.SERVICES - 1)
        vm.fix_chksum_hw(l3_offset=IP, l4_offset=L4, l4_type=CTRexVmInsFixHwCs.L4_TYPE_TCP)
        return stream(frame, vm, pps, args, burst=args.flows if once else None)

    return per_size(args, build)


def reply_streams(args):
    """The preserve-mode backends' replies as VXLAN from their node: backend
    10.255.2.(4 + c % 4):80 -> client c, inner destination MAC vxgw's (the
    backends' gateway)."""

    if not args.dst_mac:
        raise ValueError("--dst-mac: vxgw's underlay MAC is required (the backends' "
                         "gateway in the overlay, the replies' inner destination)")

    def build(size, pps):
        backend = b.rev_backend_ip(0)
        seg = b.tcp(backend, b.client_ip(0), b.TARGET_PORT, b.client_port(0))
        inner = b.ether(dst_mac(args), b.backend_mac(backend), 0x0800,
                        b.ipv4(backend, b.client_ip(0), 6, seg))
        inner = fix_ip_len(b.pad_to(inner, max(size, 64)), 14)
        frame = b.vxlan(dst_mac(args), b.mac(b.TREX_UL_MAC), b.MESH_VTEP, b.VXGW_VTEP, 49152,
                        b.MESH_VNI, inner)
        vm = STLVM()
        vm.var(name="c", min_value=0, max_value=args.flows - 1, size=4, op="inc", step=1)
        vm.write_mask(fv_name="c", pkt_offset=OUTER_UDP_SPORT, pkt_cast_size=2,
                      mask=0x3FFF, add_val=0)
        vm.write_mask(fv_name="c", pkt_offset=INNER_SRC_MAC_LOW + 1, pkt_cast_size=1,
                      mask=b.SERVICES - 1)
        vm.write_mask(fv_name="c", pkt_offset=INNER_SRC_IP_LAST, pkt_cast_size=1,
                      mask=b.SERVICES - 1)
        vm.write(fv_name="c", pkt_offset=INNER_DST_IP, add_val=ip_int(b.CLIENT_NET))
        vm.write_mask(fv_name="c", pkt_offset=INNER_L4 + 2, pkt_cast_size=2, mask=0xFFFF,
                      add_val=1024)
        vm.fix_chksum(offset=INNER_IP)
        vm.fix_chksum_hw(l3_offset=INNER_IP, l4_offset=INNER_L4,
                         l4_type=CTRexVmInsFixHwCs.L4_TYPE_TCP)
        return stream(frame, vm, pps, args)

    return per_size(args, build)


def mesh_args(p):
    p.add_argument("--flows", type=int, default=b.CLIENT_FLOWS,
                   help="client flows (1-64512), spread over the 4 services")


def check_mesh(args):
    if not 1 <= args.flows <= 64512:
        raise ValueError(f"--flows {args.flows}: 1-64512")


def ip_int(s):
    return int.from_bytes(b.ip(s), "big")


def fix_ip_len(frame, at):
    """Sets the IPv4 total length (and checksum) to the frame's padded length."""
    total = len(frame) - at
    h = bytearray(frame[at:at + 20])
    h[2:4] = total.to_bytes(2, "big")
    h[10:12] = b"\0\0"
    h[10:12] = b.csum(bytes(h)).to_bytes(2, "big")
    return frame[:at] + bytes(h) + frame[at + 20:]
