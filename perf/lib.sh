# shellcheck shell=bash
# Shared helpers of the perf scripts (sourced). Every helper stops only what it
# started, by PID, and removes the EAL runtime directories it created.

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # ROOT: for the scripts that source this
ROOT=$(cd "$PERF_DIR/.." && pwd)
OUT=${OUT:-$PERF_DIR/out}
mkdir -p "$OUT"
# The system's Python (not a venv's); a machine without one at /usr/bin (the lent
# bigger machine) uses the first on PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# EAL memory arguments: hugepages when at least PAGES (default 256) free 2 MiB pages
# exist (the deployment case), else --no-huge with MB (default 1536) MiB (slower: TLB
# misses over the pool).
eal_mem_args() {
  local free pages=${1:-256} mb=${2:-${PERF_NO_HUGE_MB:-1536}}
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if [ "${PERF_NO_HUGE:-0}" != 1 ] && [ "${free:-0}" -ge "$pages" ] && grep -q hugetlbfs /proc/mounts; then
    echo "--huge-unlink"
  else
    echo "--no-huge -m $mb"
  fi
}

# run_for SECS LOG CMD...: runs CMD with stdout+stderr to LOG, SIGINT after SECS, KILL
# if it has not exited RUN_FOR_GRACE seconds later (default 10). With RUN_FOR_READY (an
# extended regex), SECS count from when LOG first matches it (at most 120 s of start):
# a start that fills a large pool without hugepages then eats no samples.
run_for() {
  local secs=$1 log=$2; shift 2
  "$@" >"$log" 2>&1 &
  local pid=$!
  if [ -n "${RUN_FOR_READY:-}" ]; then
    for _ in $(seq 1 1200); do
      grep -q -E "$RUN_FOR_READY" "$log" 2>/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  sleep "$secs"
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((${RUN_FOR_GRACE:-10} * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup_prefix() { rm -rf "/var/run/dpdk/$1"; rm -f /dev/hugepages/"$1"map_* 2>/dev/null || true; }

# 64-byte UDP frames (60 B + FCS on the wire), 64 flows, as a pcap.
make_udp64_pcap() {
  "$PY" - "$1" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                     IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + i, dport=2000) /
                     Raw(b"\0" * 18) for i in range(64)])
PY
}

# Median steady-state rate from a testpmd --stats-period=1 log: Tx-pps of port PORT,
# skipping the first 2 prints and the last one.
testpmd_rate() {
  "$PY" - "$1" "$2" <<'PY'
import re, statistics, sys
log, want = sys.argv[1], int(sys.argv[2])
samples, port = [], None
for line in open(log, errors="replace"):
    m = re.search(r"NIC statistics for port (\d+)", line)
    if m: port = int(m.group(1)); continue
    m = re.search(r"Tx-pps:\s+(\d+)", line)
    if m and port == want: samples.append(int(m.group(1)))
s = samples[2:-1]
print(statistics.median(s) if s else "NA")
PY
}

# Median steady-state rate from vxgw --stats-period 1 JSON lines: tx_pps of port
# PORT, skipping the first 2 lines and the last one. Also prints cycles/packet.
vxgw_rate() {
  "$PY" - "$1" "$2" <<'PY'
import json, statistics, sys
log, want = sys.argv[1], int(sys.argv[2])
rows = []
for line in open(log, errors="replace"):
    if line.startswith("{"):
        d = json.loads(line)
        p = [x for x in d["ports"] if x["id"] == want][0]
        rows.append((p["tx_pps"], d["workers"][0]["busy_cycles_per_packet"]))
s = rows[2:-1]
print(f"{statistics.median(r[0] for r in s)} {statistics.median(r[1] for r in s):.1f}" if s else "NA NA")
PY
}
