#!/usr/bin/env python3
"""NDR and PDR of a vxgw path with a TRex server, reported as FD.io CSIT does: the
highest offered rate with no loss (NDR) and with at most 0.5 % loss (PDR), found by
an RFC 2544 binary search, in Mpps and Gbps (L1: frame + 20 bytes of preamble and
gap), per frame size.

  target/trex-venv/bin/python perf/trex/ndr.py --server 127.0.0.1 \\
      --profile decap.py --tx 0 --rx 1 --size 64 --max-rate 29.76 -t --dst-mac 3c:fd:...

  --profile P    a profile of this directory; --tx/--rx: TRex ports (a bidirectional
                 profile such as overlay.py: --tx 0 1 --rx 1 0, the rate is per port)
  --warm P       run this profile once first (mesh_rev.py's `--phase warm`)
  --max-rate M   line rate in Mpps for the frame size (64 B at 10G: 14.88, 25G:
                 37.20, 100G: 148.81); the search starts there
  -t ...         the profile's tunables, passed on as TRex's `-t` takes them

The search (`search`) is separate from TRex (`TrexTrial`) and unit-tested
(test_ndr.py); the trial uses the TRex client API as `trex-console` does.
"""
import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

PDR_LOSS = 0.005  # CSIT's partial drop rate: 0.5 % loss
L1_OVERHEAD = 20  # preamble, SFD and inter-frame gap, in bytes


@dataclass
class Trial:
    rate_pps: float
    sent: int
    received: int

    @property
    def loss(self):
        return 0.0 if self.sent == 0 else max(0, self.sent - self.received) / self.sent


@dataclass
class Result:
    """One goal's answer: the highest rate that met it, and its trial."""
    goal_loss: float
    rate_pps: float
    trial: Trial | None


def search(measure, max_rate_pps, goal_loss, precision=0.005, min_rate_pps=None,
           known=None):
    """The highest rate in [min_rate, max_rate] whose trial loses at most
    `goal_loss`, to within `precision` (relative width of the last interval), by
    binary search (RFC 2544, 26.1). `measure(rate) -> Trial`. `known`: trials
    already made (rate -> Trial, shared between goals: the NDR search reuses the
    PDR search's trials). A rate is assumed to pass when every higher one passed
    (the search is not meant for DUTs whose loss is not monotonic in the rate).
    """
    known = {} if known is None else known
    min_rate = min_rate_pps if min_rate_pps is not None else max_rate_pps / 1000

    def trial(rate):
        if rate not in known:
            known[rate] = measure(rate)
        return known[rate]

    # Start from what earlier trials bound: the lowest failing and highest passing.
    hi = min([r for r, t in known.items() if t.loss > goal_loss] + [max_rate_pps])
    passed = [r for r, t in known.items() if t.loss <= goal_loss and r < hi]
    lo = max(passed) if passed else None
    if lo is None and hi == max_rate_pps:
        t = trial(max_rate_pps)
        if t.loss <= goal_loss:
            return Result(goal_loss, max_rate_pps, t)
    if lo is None:
        t = trial(min_rate)
        if t.loss > goal_loss:
            return Result(goal_loss, 0.0, None)
        lo = min_rate
    while (hi - lo) > precision * hi:
        mid = (lo + hi) / 2
        if trial(mid).loss <= goal_loss:
            lo = mid
        else:
            hi = mid
    return Result(goal_loss, lo, known[lo])


def ndr_pdr(measure, max_rate_pps, precision=0.005):
    """(NDR, PDR): the PDR first, then the NDR below it from the same trials."""
    known = {}
    pdr = search(measure, max_rate_pps, PDR_LOSS, precision, known=known)
    ndr = search(measure, max_rate_pps, 0.0, precision, known=known)
    return ndr, pdr


def gbps(rate_pps, mean_frame_bytes):
    return rate_pps * (mean_frame_bytes + L1_OVERHEAD) * 8 / 1e9


class TrexTrial:
    """A trial on a TRex server: the profile's streams on the tx ports at a total
    rate per port, for `duration` seconds, then the ports' counters (packets sent
    on tx, received on rx)."""

    def __init__(self, client, profile_path, tunables, tx, rx, duration, warm=None):
        from trex_stl_lib.api import STLProfile
        self.c, self.tx, self.rx, self.duration = client, tx, rx, duration
        self.warm = warm
        ports = sorted(set(tx) | set(rx))
        self.c.reset(ports=ports)
        self.c.set_port_attr(ports=ports, promiscuous=True)
        for i, p in enumerate(tx):
            prof = STLProfile.load_py(profile_path, direction=i % 2, port_id=p,
                                      tunables=list(tunables))
            self.c.add_streams(prof.get_streams(), ports=[p])

    def __call__(self, rate_pps):
        if self.warm:
            self.warm()
        self.c.clear_stats()
        self.c.start(ports=self.tx, mult=f"{rate_pps:.0f}pps", duration=self.duration,
                     force=True)
        self.c.wait_on_traffic(ports=self.tx)
        time.sleep(0.5)  # what is in flight arrives
        st = self.c.get_stats()
        sent = sum(st[p]["opackets"] for p in self.tx)
        received = sum(st[p]["ipackets"] for p in self.rx)
        return Trial(rate_pps, sent, received)


def warm_once(client, profile_path, tunables, port):
    """Runs a profile's single bursts (mesh_rev.py --phase warm) to the end."""
    from trex_stl_lib.api import STLProfile

    def run():
        client.reset(ports=[port])
        prof = STLProfile.load_py(profile_path, direction=1, port_id=port,
                                  tunables=list(tunables) + ["--phase", "warm"])
        client.add_streams(prof.get_streams(), ports=[port])
        client.start(ports=[port], mult="100kpps", force=True)
        client.wait_on_traffic(ports=[port])
    return run


def mean_frame_bytes(profile_path, tunables):
    """The profile's mean frame size on the wire (FCS included), weighted by rate."""
    import frames
    streams = frames.streams_of(os.path.basename(profile_path), {"tunables": list(tunables)})
    total = sum(s["mode"]["rate"]["value"] for s in streams)
    import base64
    return sum((len(base64.b64decode(s["packet"]["binary"])) + 4) * s["mode"]["rate"]["value"]
               for s in streams) / total


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--profile", required=True)
    p.add_argument("--tx", type=int, nargs="+", default=[0])
    p.add_argument("--rx", type=int, nargs="+", default=[1])
    p.add_argument("--warm", default=None, help="a profile run once before each trial")
    p.add_argument("--warm-port", type=int, default=1)
    p.add_argument("--max-rate", type=float, required=True, help="Mpps per tx port")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per trial")
    p.add_argument("--precision", type=float, default=0.005)
    p.add_argument("--json", action="store_true")
    p.add_argument("-t", dest="tunables", nargs=argparse.REMAINDER, default=[])
    a = p.parse_args(argv)

    import lbr_trex_client  # noqa: F401
    from trex_stl_lib.api import STLClient
    path = os.path.join(here, a.profile)
    c = STLClient(server=a.server)
    c.connect()
    try:
        warm = warm_once(c, os.path.join(here, a.warm), a.tunables, a.warm_port) \
            if a.warm else None
        trial = TrexTrial(c, path, a.tunables, a.tx, a.rx, a.duration, warm)
        ndr, pdr = ndr_pdr(trial, a.max_rate * 1e6, a.precision)
    finally:
        c.disconnect()
    size = mean_frame_bytes(path, a.tunables)
    rows = []
    for name, r in (("NDR", ndr), ("PDR", pdr)):
        total = r.rate_pps * len(a.tx)
        rows.append({"goal": name, "loss_goal": r.goal_loss, "mpps": total / 1e6,
                     "gbps_l1": gbps(total, size),
                     "loss": r.trial.loss if r.trial else None})
    if a.json:
        print(json.dumps({"profile": a.profile, "tunables": a.tunables,
                          "mean_frame_bytes": size, "results": rows}))
    else:
        print(f"{a.profile} {' '.join(a.tunables)}: mean frame {size:.1f} B, "
              f"{len(a.tx)} tx port(s), {a.duration:.0f} s trials")
        for row in rows:
            print(f"  {row['goal']}: {row['mpps']:8.3f} Mpps {row['gbps_l1']:8.3f} Gbps"
                  f"  (loss {100 * (row['loss'] or 0):.3f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
