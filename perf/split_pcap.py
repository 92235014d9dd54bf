#!/usr/bin/python3
"""Splits a pcap by flow into N pcaps, as RSS would spread it over N queues.

  split_pcap.py IN N OUT_PREFIX        (writes OUT_PREFIX0.pcap ... OUT_PREFIX{N-1}.pcap)

A frame's flow is the IPv4 addresses and L4 ports of its innermost IPv4 packet
(after the VXLAN header when the outer packet is UDP to port 4789), hashed: every
frame of a flow goes to the same file, the flows spread evenly. Frames that are not
IPv4 go to file 0. The record order within a file is the input's.
"""
import struct
import sys
import zlib

src, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]

with open(src, "rb") as f:
    data = f.read()
header, off = data[:24], 24
outs = [bytearray(header) for _ in range(n)]
endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"


def flow(frame):
    ip = 14
    if len(frame) < ip + 20 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[ip] & 0x0F) * 4
    if frame[ip + 9] == 17 and len(frame) >= ip + ihl + 8 + 8 + 14:
        dport = struct.unpack("!H", frame[ip + ihl + 2:ip + ihl + 4])[0]
        if dport == 4789:
            inner = ip + ihl + 8 + 8
            return flow(frame[inner:])
    return bytes(frame[ip + 12:ip + 20]) + bytes(frame[ip + ihl:ip + ihl + 4])


while off + 16 <= len(data):
    incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
    rec = data[off:off + 16 + incl]
    key = flow(rec[16:])
    q = zlib.crc32(key) % n if key is not None else 0
    outs[q] += rec
    off += 16 + incl

for q, out in enumerate(outs):
    with open(f"{prefix}{q}.pcap", "wb") as f:
        f.write(out)
