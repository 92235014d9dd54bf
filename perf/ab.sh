#!/usr/bin/env bash
# Interleaved timed A/B of two vxgw builds on one benchmark input, vxgw alone.
#
#   perf/ab.sh CASE PAIRS SECS BIN_A BIN_B
#
# CASE: encap:N or decap:N (the inputs of perf/overlay.sh, N MACs), fwd:N (the input
# of perf/mesh.sh, N flows). Each pair runs both builds for SECS, alternating which
# goes first (the first of two back-to-back runs is often faster on this VM), and the
# summary gives each build's mean rate and how many pairs it won.
#
# Why: this VM's rates drift by 10-20 % over minutes, more than most single changes
# are worth, and testpmd's ceiling drifts differently from vxgw's. Instruction
# counts (perf/instructions.sh) judge a change that lowers them; a change that raises
# them, or that should cut stalls rather than instructions, needs this: the builds
# side by side in the same minutes. Build BIN_B from the change, copy the old binary
# to BIN_A first (`cp target/release/vxgw /tmp/vxgw_a`); do not build while this runs.
set -euo pipefail
# shellcheck source=perf/lib.sh
source "$(dirname "$0")/lib.sh"
if [ $# -ne 5 ]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
CASE=$1 PAIRS=$2 SECS=$3 A=$4 B=$5
mode=${CASE%%:*} n=${CASE##*:}
for bin in "$A" "$B"; do
  [ -x "$bin" ] || { echo "ab.sh: $bin is not an executable" >&2; exit 2; }
done
case $mode in
  encap | decap)
    PCAP=$OUT/${mode}_${n}.pcap TOML=$OUT/${mode}_${n}.toml MBUFS=262143
    /usr/bin/python3 "$PERF_DIR/mk_overlay_inputs.py" "$mode" "$n" "$PCAP" "$TOML"
    MEM=$(eal_mem_args) ;;
  fwd)
    D=$OUT/ab_fwd_$n
    mkdir -p "$D"
    [ -f "$D/fwd.pcap" ] || /usr/bin/python3 "$PERF_DIR/mk_mesh_inputs.py" fwd "$n" "$D" >/dev/null
    PCAP=$D/fwd.pcap TOML=$D/fwd.toml MBUFS=$((n + 100000))
    MEM=$(eal_mem_args $((MBUFS * 2400 / 2097152 + 200)) 4096) ;;
  *) echo "ab.sh: unknown case $CASE (encap:N, decap:N, fwd:N)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2054 # the commas are the vdev's own arguments
VDEVS=(--vdev="net_pcap0,rx_pcap=$PCAP,infinite_rx=1" --vdev=net_null0,no-rx=1)
echo "# ab: $CASE, $PAIRS pairs of $SECS s, EAL mem: $MEM; A=$A B=$B"

# one BIN TAG: one run; prints the median rate (pps) out of net_null0 (port 1).
one() {
  local P=perf_ab_$$ log=$OUT/ab_$2.log
  # shellcheck disable=SC2086 # $MEM is several EAL arguments
  run_for "$SECS" "$log" "$1" --config "$TOML" --socket "$OUT/ab.sock" --state none \
    --metrics-addr none --stats-period 1 --mbufs $MBUFS -- --no-pci $MEM --file-prefix=$P -l 0-1 "${VDEVS[@]}"
  cleanup_prefix $P
  vxgw_rate "$log" 1 | cut -d' ' -f1
}

ra=() rb=()
for p in $(seq 1 "$PAIRS"); do
  if [ $((p % 2)) = 1 ]; then a=$(one "$A" a); b=$(one "$B" b); else b=$(one "$B" b); a=$(one "$A" a); fi
  ra+=("$a") rb+=("$b")
  echo "pair $p: A $a pps, B $b pps"
done
/usr/bin/python3 - "${ra[*]}" "${rb[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split() if x != "NA"]
b = [float(x) for x in sys.argv[2].split() if x != "NA"]
if a and b and len(a) == len(b):
    wins = sum(y > x for x, y in zip(a, b))
    ma, mb = statistics.mean(a) / 1e6, statistics.mean(b) / 1e6
    # The best run of each: this VM's noise only ever slows a run (other guests'
    # time), so in a noisy hour the fastest runs are the builds' own speeds.
    xa, xb = max(a) / 1e6, max(b) / 1e6
    print(f"RESULT ab mean_a_mpps={ma:.2f} mean_b_mpps={mb:.2f} b_over_a={mb / ma:.3f} b_won={wins}/{len(a)}"
          f" best_a_mpps={xa:.2f} best_b_mpps={xb:.2f} best_b_over_a={xb / xa:.3f}")
else:
    print("RESULT ab no valid samples")
PY
