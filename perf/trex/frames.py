"""A TRex profile's frames, offline: load the profile with the TRex client library
(PyPI `lbr-trex-client`, no TRex server), take each stream's base packet and field
engine, and expand them (fe.py) into the frames TRex would send, in the order it
would send them (IMIX streams interleaved by weight).

  frames_of("decap.py", {"size": "imix"}, direction=0, per_stream=256)
"""
import os

import lbr_trex_client  # noqa: F401  (puts TRex's modules on sys.path)
from trex_stl_lib.api import STLProfile

import fe

HERE = os.path.dirname(os.path.abspath(__file__))
PER_STREAM = 512


def streams_of(profile, tunables, direction=0):
    """The profile's streams as TRex's client sends them to the server (JSON)."""
    p = STLProfile.load_py(os.path.join(HERE, profile), direction=direction,
                           port_id=direction, **tunables)
    if p is None:
        raise ValueError(f"{profile}: no streams for {tunables}")
    return [s.to_json() for s in p.get_streams()]


def frames_of(profile, tunables, direction=0, per_stream=PER_STREAM):
    """Up to `per_stream` frames of every stream (a variable's full cycle when it is
    shorter; a single burst's own count), interleaved by the streams' rates."""
    per = []
    for s in streams_of(profile, tunables, direction):
        n = min(fe.cycle(s), per_stream)
        if s["mode"]["type"] == "single_burst":
            n = s["mode"]["total_pkts"]
        rate = s["mode"]["rate"]["value"]
        per.append((fe.expand(s, n), rate))
    out = []
    lowest = min(r for _, r in per)
    queues = [(list(reversed(f)), max(1, round(r / lowest))) for f, r in per]
    while any(q for q, _ in queues):
        for q, weight in queues:
            for _ in range(weight):
                if q:
                    out.append(q.pop())
    return out
