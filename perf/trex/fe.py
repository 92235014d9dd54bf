"""TRex's field engine, run here: a stream's base packet and VM instructions (as
the TRex client sends them to the server, `STLStream.to_json()`) expanded into the
concrete frames TRex would send. The profile test and the pktgen pcaps use it.

Only the instructions vxgw's profiles use are modelled; any other is refused
(`Unsupported`), so a profile that starts using one fails its test until it is
modelled here. `random` variables are enumerated like `inc` (every value of the
range is covered, in order): the test wants every frame a profile can send.
"""
import base64
import struct


class Unsupported(Exception):
    pass


def _ipv4_checksum(pkt, at):
    hl = (pkt[at] & 0x0F) * 4
    pkt[at + 10:at + 12] = b"\0\0"
    pkt[at + 10:at + 12] = _csum(bytes(pkt[at:at + hl])).to_bytes(2, "big")


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _l4_checksum(pkt, l3, l4, proto):
    """A TCP or UDP checksum over the IPv4 pseudo-header, as the NIC computes it
    for fix_checksum_hw."""
    total = int.from_bytes(pkt[l3 + 2:l3 + 4], "big")
    seg_len = l3 + total - l4
    where = l4 + (16 if proto == 6 else 6)
    pkt[where:where + 2] = b"\0\0"
    pseudo = bytes(pkt[l3 + 12:l3 + 20]) + struct.pack("!BBH", 0, proto, seg_len)
    c = _csum(pseudo + bytes(pkt[l4:l4 + seg_len]))
    if proto == 17 and c == 0:
        c = 0xFFFF
    pkt[where:where + 2] = c.to_bytes(2, "big")


def _var_value(v, n):
    lo, hi, step = v["min_value"], v["max_value"], v.get("step", 1)
    span = hi - lo + 1
    start = v.get("init_value", lo) - lo
    if v["op"] in ("inc", "random"):
        return lo + (start + n * step) % span
    if v["op"] == "dec":
        return lo + (start - n * step) % span
    raise Unsupported(f"flow_var op {v['op']}")


def cycle(stream_json):
    """Frames before the stream's variables all wrap together (their ranges' LCM)."""
    from math import lcm
    n = 1
    for i in stream_json["vm"]["instructions"]:
        if i["type"] == "flow_var":
            n = lcm(n, (i["max_value"] - i["min_value"]) // max(1, i.get("step", 1)) + 1)
    return n


def expand(stream_json, count):
    """The first `count` frames of a stream."""
    base = base64.b64decode(stream_json["packet"]["binary"])
    ins = stream_json["vm"]["instructions"]
    frames = []
    for n in range(count):
        pkt = bytearray(base)
        values, sizes = {}, {}
        for i in ins:
            t = i["type"]
            if t == "flow_var":
                values[i["name"]] = _var_value(i, n)
                sizes[i["name"]] = i["size"]
            elif t == "write_flow_var":
                size = sizes[i["name"]]
                v = (values[i["name"]] + i["add_value"]) % (1 << (8 * size))
                order = "big" if i["is_big_endian"] else "little"
                at = i["pkt_offset"]
                pkt[at:at + size] = v.to_bytes(size, order)
            elif t == "write_mask_flow_var":
                size, at = i["pkt_cast_size"], i["pkt_offset"]
                order = "big" if i["is_big_endian"] else "little"
                v = values[i["name"]] + i["add_value"]
                v = v << i["shift"] if i["shift"] > 0 else v >> -i["shift"]
                old = int.from_bytes(pkt[at:at + size], order)
                new = (old & ~i["mask"]) | (v & i["mask"])
                pkt[at:at + size] = (new % (1 << (8 * size))).to_bytes(size, order)
            elif t == "fix_checksum_ipv4":
                _ipv4_checksum(pkt, i["pkt_offset"])
            elif t == "fix_checksum_hw":
                l3 = i["l2_len"]
                l4 = l3 + i["l3_len"]
                if i["l4_type"] == 17:  # L4_TYPE_IP: the IPv4 header only
                    _ipv4_checksum(pkt, l3)
                else:
                    _ipv4_checksum(pkt, l3)
                    _l4_checksum(pkt, l3, l4, {13: 6, 11: 17}[i["l4_type"]])
            else:
                raise Unsupported(f"field engine instruction {t}")
        frames.append(bytes(pkt))
    return frames


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, fr in enumerate(frames):
            f.write(struct.pack("<IIII", n // 1_000_000, n % 1_000_000, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    frames = []
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return frames
        magic = struct.unpack("<I", hdr[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return frames
            _, _, incl, _ = struct.unpack(endian + "IIII", rec)
            frames.append(f.read(incl))
