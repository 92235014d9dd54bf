"""The NDR/PDR search (ndr.py) against DUTs whose loss curve is known, and its
TRex calls against the TRex client API's own signatures."""
import inspect

import pytest

import ndr


def dut(capacity_pps, noise=0.0):
    """A DUT that forwards up to `capacity_pps` (and loses `noise` of everything)."""
    calls = []

    def measure(rate):
        calls.append(rate)
        sent = int(rate * 10)
        received = int(min(rate, capacity_pps) * 10 * (1 - noise))
        return ndr.Trial(rate, sent, received)

    measure.calls = calls
    return measure


def test_ndr_is_the_capacity_and_pdr_half_a_percent_above():
    m = dut(10e6)
    n, p = ndr.ndr_pdr(m, 14.88e6, precision=0.001)
    assert 10e6 * 0.999 <= n.rate_pps <= 10e6
    assert n.trial.loss == 0
    assert 10e6 / (1 - ndr.PDR_LOSS) * 0.999 <= p.rate_pps <= 10e6 / (1 - ndr.PDR_LOSS)
    assert p.trial.loss <= ndr.PDR_LOSS
    # The NDR search reused the PDR search's trials: fewer than two full searches.
    assert len(m.calls) == len(set(m.calls)) < 2 * 12


def test_line_rate_passes_in_one_trial():
    m = dut(100e6)
    n, p = ndr.ndr_pdr(m, 14.88e6)
    assert n.rate_pps == p.rate_pps == 14.88e6
    assert m.calls == [14.88e6]


def test_a_dut_that_always_loses():
    # 1 % loss at any rate: no NDR, no PDR, and the search stops at the floor.
    n, p = ndr.ndr_pdr(dut(100e6, noise=0.01), 14.88e6)
    assert (n.rate_pps, n.trial) == (0.0, None)
    assert (p.rate_pps, p.trial) == (0.0, None)
    # 0.2 % loss: a PDR at line rate, no NDR.
    n, p = ndr.ndr_pdr(dut(100e6, noise=0.002), 14.88e6)
    assert p.rate_pps == 14.88e6 and n.rate_pps == 0.0


def test_precision_bounds_the_interval():
    for precision in (0.05, 0.01, 0.002):
        r = ndr.search(dut(3e6), 14.88e6, 0.0, precision)
        assert 3e6 * (1 - precision) <= r.rate_pps <= 3e6


def test_gbps_counts_preamble_and_gap():
    assert ndr.gbps(14.88e6, 64) == pytest.approx(10.0, rel=1e-3)


def test_the_trex_calls_match_the_client_api():
    """Every call TrexTrial and warm_once make exists in TRex's STLClient with the
    arguments passed (bound against the real signatures, no server needed)."""
    import lbr_trex_client  # noqa: F401
    from trex_stl_lib.api import STLClient, STLProfile

    calls = {
        "reset": {"ports": [0, 1]},
        "set_port_attr": {"ports": [0, 1], "promiscuous": True},
        "add_streams": {"streams": [], "ports": [0]},
        "clear_stats": {},
        "start": {"ports": [0], "mult": "1000pps", "duration": 10.0, "force": True},
        "wait_on_traffic": {"ports": [0]},
        "get_stats": {},
        "connect": {},
        "disconnect": {},
    }
    for name, kwargs in calls.items():
        inspect.signature(getattr(STLClient, name)).bind(None, **kwargs)
    inspect.signature(STLProfile.load_py).bind("p.py", direction=0, port_id=0,
                                               tunables=["--size", "64"])
    # And the source uses exactly these.
    src = inspect.getsource(ndr.TrexTrial) + inspect.getsource(ndr.warm_once)
    for name in calls:
        if name not in ("connect", "disconnect"):
            assert f".{name}(" in src, name


def test_mean_frame_size_of_imix():
    # 7:4:1 of 64, 594 and 1518 bytes on the wire: (448 + 2376 + 1518) / 12.
    assert ndr.mean_frame_bytes("decap.py", ["--size", "imix"]) == \
        pytest.approx((7 * (64 + 50) + 4 * (594 + 50) + 1518 + 50) / 12)
