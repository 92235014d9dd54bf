"""The TRex profiles against vxgw, without a TRex server: every profile (and its
size and VLAN variants) is loaded with the TRex client library, its field engine
expanded into frames (frames.py), and the frames run through a real vxgw on
net_pcap ports with the profile's shipped config (configs/bench-*.toml, the port
names changed to the vdevs'). Every frame must come out of the right port with the
right rewrite, and vxgw must count no drop: a profile that sends what vxgw drops,
or a config that drifted from the plan, fails.

  perf/trex/run-tests.sh     (makes the virtualenv, then runs this with pytest)

VXGW: the vxgw binary (default target/debug/vxgw).
"""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

import fe
import frames
import mk_configs
import mk_pktgen
import vxgw_bench as b

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VXGW = os.environ.get("VXGW", os.path.join(ROOT, "target", "debug", "vxgw"))

# The two NICs of the configs become net_pcap vdevs (what each port reads is
# read in bursts of 64, one burst per port a poll round).
PORT1 = b.ACCESS_PORT      # == EXTERNAL_PORT: net_pcap0
PORT0 = b.UNDERLAY_PORT    # net_pcap1
PCAP_MAC = {PORT1: "02:70:63:61:70:00", PORT0: "02:70:63:61:70:01"}
VDEV = {PORT1: "net_pcap0", PORT0: "net_pcap1"}


def tagged(frame, vlan):
    if not vlan:
        return frame
    return frame[:12] + (0x8100).to_bytes(2, "big") + vlan.to_bytes(2, "big") + frame[12:]


def untagged(frame):
    if frame[12:14] == b"\x81\x00":
        return frame[:12] + frame[16:]
    return frame


def ipv4_ok(p, at):
    hl = (p[at] & 0xF) * 4
    return b.csum(p[at:at + hl]) == 0


def tcp_ok(p, l3):
    total = int.from_bytes(p[l3 + 2:l3 + 4], "big")
    hl = (p[l3] & 0xF) * 4
    seg = p[l3 + hl:l3 + total]
    pseudo = p[l3 + 12:l3 + 20] + bytes([0, 6]) + len(seg).to_bytes(2, "big")
    return b.csum(pseudo + seg) == 0


class Run:
    """One vxgw on two net_pcap ports: `inputs` maps a config port name to the
    frames it receives; afterwards `out[port]` holds what vxgw sent there and
    `stats` its final counters."""

    def __init__(self, config_text, inputs, tmp, poll_first=None):
        self.tmp = tmp
        if poll_first:
            config_text = first_port(config_text, poll_first)
        for name, vdev in VDEV.items():
            config_text = config_text.replace(f'"{name}"', f'"{vdev}"')
        cfg = os.path.join(tmp, "gw.toml")
        with open(cfg, "w") as f:
            f.write(config_text)
        prefix = f"vxgwt_trex_{os.getpid()}_{os.path.basename(tmp)}"
        vdevs = []
        for name in (PORT1, PORT0):
            rx = os.path.join(tmp, f"{VDEV[name]}_in.pcap")
            fe.write_pcap(rx, inputs.get(name, []))
            tx = os.path.join(tmp, f"{VDEV[name]}_out.pcap")
            vdevs.append(f"--vdev={VDEV[name]},rx_pcap={rx},tx_pcap={tx}")
        total = sum(len(f) for f in inputs.values())
        args = [VXGW, "--config", cfg, "--state", "none", "--metrics-addr", "none",
                "--socket", os.path.join(tmp, "vxgw.sock"), "--stats-period", "1", "--",
                "-l", "0-1", "--no-pci", "--no-huge", "-m", "512",
                f"--file-prefix={prefix}"] + vdevs
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = None
        deadline = time.monotonic() + 30
        try:
            for line in p.stdout:
                s = json.loads(line)
                if s.get("rx_packets") == total:
                    seen = s
                    break
                if time.monotonic() > deadline:
                    break
        finally:
            # One more stats period: what the last round queued is sent by then.
            time.sleep(0.2)
            p.send_signal(signal.SIGTERM)
            _, err = p.communicate(timeout=30)
            subprocess.run(["rm", "-rf", f"/var/run/dpdk/{prefix}"], check=False)
        self.stderr = err
        assert seen is not None, f"vxgw did not receive all {total} frames:\n{err}"
        final = [ln for ln in err.splitlines() if ln.startswith("vxgw: stopped: ")]
        assert final, err
        self.stats = json.loads(final[-1][len("vxgw: stopped: "):])
        self.out = {name: fe.read_pcap(os.path.join(tmp, f"{VDEV[name]}_out.pcap"))
                    for name in VDEV}

    def no_drops(self):
        assert self.stats.get("drops", {}) == {}, \
            f"vxgw dropped: {self.stats['drops']}\n{self.stderr}"


def first_port(config_text, name):
    """The config with port `name`'s [[port]] table first: a worker polls its ports
    in the config's order, so what that port reads in a round is handled before
    what the others read in the same round."""
    blocks = config_text.split("\n\n")
    ports = [i for i, blk in enumerate(blocks) if blk.startswith("[[port]]")]
    mine = next(i for i in ports if f'name = "{name}"' in blocks[i])
    blocks.insert(ports[0], blocks.pop(mine))
    return "\n\n".join(blocks)


def config(name):
    with open(os.path.join(ROOT, "configs", name)) as f:
        return f.read()


def sent(profile, tunables, direction=0):
    return frames.frames_of(profile, tunables, direction)


# --- the shipped configs are the plan's ------------------------------------------


def test_shipped_configs_are_what_mk_configs_writes():
    for name, make in mk_configs.CONFIGS.items():
        assert config(name) == make(), \
            f"configs/{name} drifted from perf/trex/vxgw_bench.py: run perf/trex/mk_configs.py"


# --- overlay ---------------------------------------------------------------------


def expect_decap(ins, outs):
    """Each VXLAN frame leaves the access port as its inner frame, tagged with the
    VLAN of its VNI (VNI 4096 untagged), byte for byte and in order."""
    want = []
    for f in ins:
        vni = int.from_bytes(f[46:49], "big")
        want.append(tagged(f[b.ENCAP_LEN:], b.vlan_of(vni - b.VNI_BASE)))
    assert len(outs) == len(want), f"{len(outs)} of {len(want)} frames left the access port"
    for i, (o, w) in enumerate(zip(outs, want)):
        assert o == w, f"frame {i}: {o.hex()} != {w.hex()}"


def expect_encap(ins, outs):
    """Each access frame leaves the underlay in VXLAN: to the VTEP its destination
    MAC sits behind, in its VLAN's VNI, the inner frame untagged and whole."""
    assert len(outs) == len(ins), f"{len(outs)} of {len(ins)} frames left the underlay"
    for i, (f, o) in enumerate(zip(ins, outs)):
        j = int.from_bytes(f[4:6], "big")
        vlan = int.from_bytes(f[14:16], "big") & 0xFFF if f[12:14] == b"\x81\x00" else 0
        vni = b.VNI_BASE + (vlan - b.VLAN_BASE if vlan else 0)
        assert o[:6] == b.mac(b.TREX_UL_MAC), f"frame {i}: outer destination MAC"
        assert o[26:30] == b.ip(b.VXGW_VTEP), f"frame {i}: outer source"
        assert o[30:34] == b.ip(b.vtep_ip(j % b.VTEPS)), f"frame {i}: to R({j})'s VTEP"
        assert int.from_bytes(o[36:38], "big") == b.VXLAN_PORT
        assert int.from_bytes(o[46:49], "big") == vni, f"frame {i}: VNI"
        assert ipv4_ok(o, 14), f"frame {i}: outer IPv4 checksum"
        assert o[b.ENCAP_LEN:] == untagged(f), f"frame {i}: inner frame"


@pytest.mark.parametrize("size", ["64", "1518", "imix"])
def test_decap(size, tmp_path):
    ins = sent("decap.py", {"size": size, "dst-mac": PCAP_MAC[PORT0]})
    r = Run(config("bench-overlay.toml"), {PORT0: ins}, str(tmp_path))
    r.no_drops()
    expect_decap(ins, r.out[PORT1])
    assert r.out[PORT0] == [], "nothing back to the underlay"


@pytest.mark.parametrize("vlan,size", [("untagged", "64"), ("tagged", "64"),
                                       ("tagged", "imix"), ("untagged", "1518")])
def test_encap(vlan, size, tmp_path):
    ins = sent("encap.py", {"size": size, "vlan": vlan, "dst-mac": PCAP_MAC[PORT1]})
    r = Run(config("bench-overlay.toml"), {PORT1: ins}, str(tmp_path))
    r.no_drops()
    expect_encap(ins, r.out[PORT0])
    assert r.out[PORT1] == [], "nothing back to the access port"


def test_overlay_both_ways(tmp_path):
    t = {"size": "imix", "vlan": "tagged", "dst-mac": PCAP_MAC[PORT0],
         "dst-mac-1": PCAP_MAC[PORT1]}
    dec, enc = sent("overlay.py", t, 0), sent("overlay.py", t, 1)
    r = Run(config("bench-overlay.toml"), {PORT0: dec, PORT1: enc}, str(tmp_path))
    r.no_drops()
    expect_decap(dec, r.out[PORT1])
    expect_encap(enc, r.out[PORT0])


def test_a_profile_vxgw_would_drop_fails(tmp_path):
    """The check can fail: with VTEP 172.30.0.15 gone from the config (a drift),
    decap's frames from it are dropped and the test says so."""
    cfg = config("bench-overlay.toml")
    gone = b.vtep_ip(b.VTEPS - 1)
    cfg = cfg.replace(f'[[vtep]]\nip = "{gone}"\n', "")
    cfg = "\n".join(block for block in cfg.split("\n\n") if f'vtep = "{gone}"' not in block)
    ins = sent("decap.py", {"dst-mac": PCAP_MAC[PORT0]})
    r = Run(cfg, {PORT0: ins}, str(tmp_path))
    with pytest.raises(AssertionError, match="unknown_vtep"):
        r.no_drops()
    with pytest.raises(AssertionError, match="frames left the access port"):
        expect_decap(ins, r.out[PORT1])


# --- routing mesh ------------------------------------------------------------------


def test_mesh_forward(tmp_path):
    flows = 256
    for size in ["64", "imix"]:
        d = tmp_path / size
        d.mkdir()
        ins = sent("mesh_fwd.py", {"size": size, "flows": flows, "dst-mac": PCAP_MAC[PORT1]})
        r = Run(config("bench-mesh.toml"), {PORT1: ins}, str(d))
        r.no_drops()
        outs = r.out[PORT0]
        assert len(outs) == len(ins), f"{len(outs)} of {len(ins)} client segments forwarded"
        snat = set()
        for i, (f, o) in enumerate(zip(ins, outs)):
            service = int.from_bytes(f[36:38], "big") - b.SNAT_PORT_BASE
            backends = {b.backend_ip(service, k) for k in range(b.BACKENDS)}
            inner = o[b.ENCAP_LEN:]
            dst = ".".join(str(x) for x in inner[30:34])
            assert o[:6] == b.mac(b.TREX_UL_MAC) and o[30:34] == b.ip(b.MESH_VTEP), i
            assert int.from_bytes(o[46:49], "big") == b.MESH_VNI, i
            assert dst in backends, f"segment {i} to service {service} went to {dst}"
            assert inner[:6] == b.backend_mac(dst), f"segment {i}: the backend's MAC"
            assert inner[26:30] == b.ip(b.INGRESS_IP), f"segment {i}: SNAT source"
            assert int.from_bytes(inner[36:38], "big") == b.TARGET_PORT, i
            assert ipv4_ok(inner, 14) and tcp_ok(inner, 14), f"segment {i}: checksums"
            snat.add((f[26:30], f[34:36], inner[34:36]))
        # One SNAT port per client flow: frames of a flow repeat it.
        assert len({(c, p) for c, p, _ in snat}) == len(snat) == min(flows, len(ins))


def test_mesh_reverse(tmp_path):
    flows = 256
    for size in ["64", "1518"]:
        d = tmp_path / size
        d.mkdir()
        warm = sent("mesh_rev.py", {"phase": "warm", "flows": flows,
                                    "dst-mac": PCAP_MAC[PORT1]})
        replies = sent("mesh_rev.py", {"size": size, "flows": flows,
                                       "dst-mac": PCAP_MAC[PORT0]})
        assert len(warm) == flows
        # The clients' segments of a round make their connections before the
        # replies of the same round are read (as the warm phase precedes the run).
        r = Run(config("bench-mesh.toml"), {PORT1: warm, PORT0: replies}, str(d),
                poll_first=PORT1)
        r.no_drops()
        assert len(r.out[PORT0]) == flows, "the clients' segments went to the backends"
        outs = r.out[PORT1]
        assert len(outs) == len(replies), f"{len(outs)} of {len(replies)} replies routed"
        for i, (f, o) in enumerate(zip(replies, outs)):
            inner = f[b.ENCAP_LEN:]
            service = inner[29] - 4
            assert o[:6] == b.mac(b.TREX_EXT_MAC), f"reply {i}: to the clients' gateway"
            assert o[6:12] == b.mac(PCAP_MAC[PORT1]), f"reply {i}: from vxgw's external port"
            assert o[26:30] == b.ip(b.PUBLISHED_IP), f"reply {i}: from the published address"
            assert int.from_bytes(o[34:36], "big") == b.PRESERVE_PORT_BASE + service, i
            assert o[30:34] == inner[30:34] and o[36:38] == inner[36:38], f"reply {i}: client"
            assert ipv4_ok(o, 14) and tcp_ok(o, 14), f"reply {i}: checksums"
            assert len(o) == len(inner), f"reply {i}: length"


# --- the field engine model --------------------------------------------------------


def test_the_field_engine_model_refuses_what_it_does_not_know():
    s = frames.streams_of("decap.py", {})[0]
    s["vm"]["instructions"].append({"type": "trim_pkt_size", "name": "j"})
    with pytest.raises(fe.Unsupported):
        fe.expand(s, 1)
    # Masked writes keep the bits outside the mask: VTEP .12-.15 from j's low bits.
    f = fe.expand(frames.streams_of("decap.py", {})[0], 8)
    assert [x[29] for x in f] == [12, 13, 14, 15, 12, 13, 14, 15]
    assert [x[48] for x in f] == [0, 0, 0, 0, 1, 1, 1, 1]


# --- pktgen --------------------------------------------------------------------------


def test_pktgen_pcaps_are_the_profiles_frames(tmp_path):
    """mk_pktgen.py's pcaps hold the frames the tests above run through vxgw (it
    expands longer cycles: those frames and more), and each path's command
    file starts the replay on the port its pcap belongs to."""
    made = mk_pktgen.build(str(tmp_path), 256, PCAP_MAC[PORT0], PCAP_MAC[PORT1])
    tested = sent("decap.py", {"size": "imix", "dst-mac": PCAP_MAC[PORT0]})
    assert set(tested) <= set(fe.read_pcap(made[("decap", "imix")]))
    enc = fe.read_pcap(made[("encap-vlan", "64")])
    assert enc[:512] == sent("encap.py", {"vlan": "tagged", "dst-mac": PCAP_MAC[PORT1]})
    warm = fe.read_pcap(made[("mesh-rev", "warm")])
    assert warm == sent("mesh_rev.py", {"phase": "warm", "flows": 256,
                                        "dst-mac": PCAP_MAC[PORT1]})
    for path, (_, _, port, _) in mk_pktgen.PATHS.items():
        pkt = (tmp_path / f"{path}.pkt").read_text()
        assert f"enable {port} pcap" in pkt and f"start {port}" in pkt, pkt
        assert f"-s {port}:" in mk_pktgen.command_line(path, "64", str(tmp_path))


def test_tunables_in_either_of_trexs_forms():
    new = sent("mesh_fwd.py", {"tunables": ["--flows", "8", "--size", "imix"]})
    old = sent("mesh_fwd.py", {"tunables": ["flows=8,size=imix"]})
    assert new == old and len({len(f) for f in new}) == 3
