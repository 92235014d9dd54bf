#!/usr/bin/env python3
"""pktgen-dpdk inputs built from the TRex profiles: pktgen's own VXLAN option writes
no inner frame, so its pcap mode replays the frames the profiles' field engines
make (frames.py: the same frames the profile test runs through vxgw).

  target/trex-venv/bin/python perf/trex/mk_pktgen.py [OUT_DIR] [--flows N]

writes, per path and frame size, OUT_DIR/<path>-<size>.pcap, and per path a
command file OUT_DIR/<path>.pkt (pktgen -f) that starts the replay; it prints the
pktgen command line of each (default OUT_DIR: perf/out/pktgen).
"""
import argparse
import os

import fe
import frames
import vxgw_bench as b

HERE = os.path.dirname(os.path.abspath(__file__))

# path: (profile, tunables, pktgen port: 0 faces vxgw's underlay, 1 its access or
# external port; the sizes made)
PATHS = {
    "decap": ("decap.py", {}, 0, ["64", "1518", "imix"]),
    "encap": ("encap.py", {"vlan": "untagged"}, 1, ["64", "1518", "imix"]),
    "encap-vlan": ("encap.py", {"vlan": "tagged"}, 1, ["64", "imix"]),
    "mesh-fwd": ("mesh_fwd.py", {}, 1, ["64", "imix"]),
    "mesh-rev": ("mesh_rev.py", {}, 0, ["64", "imix"]),
}

PKT = """# vxgw {path}, {size}-byte frames: pktgen replays {pcap} on port {port}.
# {doc}
{warm}enable {port} pcap
set {port} rate 100
start {port}
"""

WARM = """# The connections first: the clients' segments once, on port 1.
set 1 count {flows}
enable 1 pcap
start 1
delay 2000
stop 1
disable 1 pcap
"""


def build(out, flows, vxgw_ul_mac, vxgw_port1_mac):
    os.makedirs(out, exist_ok=True)
    made = {}
    for path, (profile, tunables, port, sizes) in PATHS.items():
        mac = vxgw_ul_mac if port == 0 else vxgw_port1_mac
        for size in sizes:
            t = dict(tunables, size=size, **{"dst-mac": mac})
            if profile.startswith("mesh"):
                t["flows"] = flows
            pcap = os.path.join(out, f"{path}-{size}.pcap")
            fe.write_pcap(pcap, frames.frames_of(profile, t, port, per_stream=4096))
            made[(path, size)] = pcap
        warm = ""
        if path == "mesh-rev":
            wpcap = os.path.join(out, "mesh-rev-warm.pcap")
            fe.write_pcap(wpcap, frames.frames_of(
                profile, {"phase": "warm", "flows": flows, "dst-mac": vxgw_port1_mac}, 1))
            made[(path, "warm")] = wpcap
            warm = WARM.format(flows=flows)
        with open(os.path.join(out, f"{path}.pkt"), "w") as f:
            f.write(PKT.format(path=path, size=sizes[0], pcap=f"{path}-{sizes[0]}.pcap",
                               port=port, warm=warm,
                               doc=f"Made by perf/trex/mk_pktgen.py from perf/trex/{profile}."))
    return made


def command_line(path, size, out):
    port = PATHS[path][2]
    pcaps = f"-s {port}:{out}/{path}-{size}.pcap"
    if path == "mesh-rev":
        pcaps += f" -s 1:{out}/mesh-rev-warm.pcap"
    return (f"pktgen -l 0-4 -n 4 -a <NIC to vxgw underlay> -a <NIC to vxgw access/external> "
            f"-- -P -T -m '[1:2].0, [3:4].1' {pcaps} -f {out}/{path}.pkt")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("out", nargs="?", default=os.path.join(HERE, "..", "out", "pktgen"))
    p.add_argument("--flows", type=int, default=b.CLIENT_FLOWS)
    p.add_argument("--vxgw-underlay-mac", required=True,
                   help="vxgw's underlay NIC MAC (the frames' destination on port 0)")
    p.add_argument("--vxgw-port1-mac", required=True,
                   help="vxgw's access (overlay) or external (mesh) NIC MAC")
    a = p.parse_args()
    out = os.path.abspath(a.out)
    for (path, size), pcap in build(out, a.flows, a.vxgw_underlay_mac, a.vxgw_port1_mac).items():
        print(f"{pcap}")
    for path in PATHS:
        print(command_line(path, PATHS[path][3][0], out))
