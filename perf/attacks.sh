#!/usr/bin/env bash
# Attacks as benchmarks: the routing mesh's established traffic beside a SYN flood, a
# spoofed-ACK flood, a flood of flows refused for lack of SNAT ports, and a MAC flood,
# each over the same established traffic alone, in one run on one core
# (gateway/benches/attacks.rs says how; in-process, no I/O).
#
#   perf/attacks.sh            (pinned to CPU 1 when there is one)
#
# The figure per attack is "ratio": packets a second with the attack beside / packets
# a second of the established traffic alone (goal: >= 0.9). Results: perf/RESULTS.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PIN=()
[ "$(nproc)" -gt 1 ] && command -v taskset >/dev/null && PIN=(taskset -c 1)
cargo bench -q -p vxgw --bench attacks --manifest-path "$ROOT/Cargo.toml" --no-run
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs"
"${PIN[@]}" cargo bench -q -p vxgw --bench attacks --manifest-path "$ROOT/Cargo.toml" 2>/dev/null |
  grep -E '^(RESULT|#)'
