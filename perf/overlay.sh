#!/usr/bin/env bash
# Overlay data-plane benchmarks beside the I/O ceiling, same devices, same core, same run.
#
#   perf/overlay.sh [RUNS] [SECS] [CASES]     (defaults: 3 runs of 14 s; all cases)
#
# CASES: space-separated MODE:MACS, MODE decap|encap (default: "decap:1 decap:1000
# decap:100000 encap:1 encap:1000 encap:100000").
#   decap: net_pcap0 (underlay, infinite_rx of VXLAN frames with 64-byte inner frames)
#          -> decap + FDB lookup (MACS static entries) -> net_null0 (access)
#   encap: net_pcap0 (access, infinite_rx of 64-byte frames) -> FDB lookup (MACS
#          entries behind a VTEP) + VXLAN encap -> net_null0 (underlay)
# The ceiling is testpmd --forward-mode=io on the same two vdevs. EAL -l 0-1: the
# forwarding lcore is 1 for both. Rates are packets per second out of net_null0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECS=${2:-14}
CASES=${3:-"decap:1 decap:1000 decap:100000 encap:1 encap:1000 encap:100000"}

cargo build --release -q -p vxgw --manifest-path "$ROOT/Cargo.toml"
VXGW=$ROOT/target/release/vxgw
MEM=$(eal_mem_args)
MBUFS=262143
echo "# overlay: EAL mem: $MEM, $RUNS x $SECS s per program per case"
for c in $CASES; do
  mode=${c%%:*} macs=${c##*:}
  PCAP=$OUT/${mode}_${macs}.pcap TOML=$OUT/${mode}_${macs}.toml
  /usr/bin/python3 "$PERF_DIR/mk_overlay_inputs.py" "$mode" "$macs" "$PCAP" "$TOML"
  VDEVS=(--vdev="net_pcap0,rx_pcap=$PCAP,infinite_rx=1" "--vdev=net_null0,no-rx=1")
  tp=() vx=() cyc=()
  for r in $(seq 1 "$RUNS"); do
    P=perf_tp_$$
    # shellcheck disable=SC2086
    run_for "$SECS" "$OUT/tp_${mode}_${macs}_$r.log" dpdk-testpmd --no-pci $MEM --file-prefix=$P -l 0-1 "${VDEVS[@]}" -- \
      --forward-mode=io --nb-cores=1 --stats-period=1 --total-num-mbufs=$((MBUFS + 1)) --no-flush-rx
    cleanup_prefix $P
    P=perf_vx_$$
    # shellcheck disable=SC2086
    run_for "$SECS" "$OUT/vx_${mode}_${macs}_$r.log" "$VXGW" --config "$TOML" --socket "$OUT/perf.sock" \
      --stats-period 1 --mbufs $MBUFS -- --no-pci $MEM --file-prefix=$P -l 0-1 "${VDEVS[@]}"
    cleanup_prefix $P
    t=$(testpmd_rate "$OUT/tp_${mode}_${macs}_$r.log" 1)
    read -r v cy < <(vxgw_rate "$OUT/vx_${mode}_${macs}_$r.log" 1)
    tp+=("$t"); vx+=("$v"); cyc+=("$cy")
    printf "%s %s run %d: testpmd io %s pps, vxgw %s pps (%s cycles/pkt)\n" "$mode" "$macs" "$r" "$t" "$v" "$cy"
  done
  /usr/bin/python3 - "$mode" "$macs" "${tp[*]}" "${vx[*]}" "${cyc[*]}" <<'PY'
import statistics, sys
mode, macs = sys.argv[1], sys.argv[2]
f = lambda s: [float(x) for x in s.split() if x != "NA"]
tp, vx, cy = f(sys.argv[3]), f(sys.argv[4]), f(sys.argv[5])
if tp and vx:
    t, v = statistics.median(tp), statistics.median(vx)
    print(f"RESULT {mode} macs={macs} testpmd_io_mpps={t/1e6:.2f} vxgw_mpps={v/1e6:.2f} ratio={v/t:.3f} cycles_per_pkt={statistics.median(cy):.1f}")
else:
    print(f"RESULT {mode} macs={macs} no valid samples")
PY
done
