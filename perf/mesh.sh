#!/usr/bin/env bash
# Routing-mesh benchmarks beside the I/O ceiling, same devices, same core, same run.
#
#   perf/mesh.sh [RUNS] [SECS] [FLOWS] [CASES]   (defaults: 3 runs of 16 s, 1000000 flows,
#                                                 "fwd rev")
#
#   fwd: net_pcap0 (external, infinite_rx of FLOWS distinct client TCP flows, 64-byte
#        frames) -> conntrack lookup (FLOWS tracked, table at most half full) + SNAT/DNAT
#        + VXLAN encap -> net_null0 (underlay). The first pass creates the connections
#        (mid-stream segments: re-balanced, tracked as established); the median skips
#        the first two seconds.
#   rev: net_pcap1 (external) reads the same client frames once to create FLOWS
#        connections (preserve mode, one backend per service), while net_pcap0
#        (underlay, infinite_rx) carries the backends' replies as VXLAN -> decap +
#        reverse lookup + un-NAT + route -> net_pcap1 (tx drops: a null sink).
# The ceiling is testpmd --forward-mode=io from the same infinite_rx pcap to net_null0.
# EAL -l 0-1: the forwarding lcore is 1 for both. FLOWS mbufs hold the pcap
# (infinite_rx preloads it): hugepages when enough are free (1M flows: about 1500 x
# 2 MiB, `scripts/setup-hugepages.sh --pages 2048`), else --no-huge -m 4096 (enough
# for about 500k flows).
# New connections per second per core: `cargo bench -p vxgw --bench mesh` (in-process,
# no I/O; see gateway/benches/mesh.rs), run at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECS=${2:-16}
FLOWS=${3:-1000000}
CASES=${4:-"fwd rev"}

cargo build --release -q -p vxgw --manifest-path "$ROOT/Cargo.toml"
VXGW=$ROOT/target/release/vxgw
MBUFS=$((FLOWS + 100000))
MEM=$(eal_mem_args $((MBUFS * 2400 / 2097152 + 200)) 4096)
echo "# mesh: EAL mem: $MEM, $FLOWS flows, $RUNS x $SECS s per program per case"
for mode in $CASES; do
  /usr/bin/python3 "$PERF_DIR/mk_mesh_inputs.py" "$mode" "$FLOWS" "$OUT"
  TOML=$OUT/$mode.toml
  if [ "$mode" = fwd ]; then
    TP_VDEVS=(--vdev="net_pcap0,rx_pcap=$OUT/fwd.pcap,infinite_rx=1" "--vdev=net_null0,no-rx=1")
    VX_VDEVS=("${TP_VDEVS[@]}")
  else
    TP_VDEVS=(--vdev="net_pcap0,rx_pcap=$OUT/rev.pcap,infinite_rx=1" "--vdev=net_null0,no-rx=1")
    VX_VDEVS=(--vdev="net_pcap0,rx_pcap=$OUT/rev.pcap,infinite_rx=1" --vdev="net_pcap1,rx_pcap=$OUT/rev_warm.pcap")
  fi
  tp=() vx=() cyc=()
  for r in $(seq 1 "$RUNS"); do
    P=perf_tp_$$
    # shellcheck disable=SC2086
    run_for "$SECS" "$OUT/tp_mesh_${mode}_$r.log" dpdk-testpmd --no-pci $MEM --file-prefix=$P -l 0-1 "${TP_VDEVS[@]}" -- \
      --forward-mode=io --nb-cores=1 --stats-period=1 --total-num-mbufs=$((MBUFS + 1)) --no-flush-rx
    cleanup_prefix $P
    P=perf_vx_$$
    # shellcheck disable=SC2086
    run_for "$SECS" "$OUT/vx_mesh_${mode}_$r.log" "$VXGW" --config "$TOML" --socket "$OUT/perf.sock" \
      --state none --metrics-addr none --stats-period 1 --mbufs $MBUFS -- --no-pci $MEM --file-prefix=$P -l 0-1 "${VX_VDEVS[@]}"
    cleanup_prefix $P
    t=$(testpmd_rate "$OUT/tp_mesh_${mode}_$r.log" 1)
    read -r v cy < <(vxgw_rate "$OUT/vx_mesh_${mode}_$r.log" 1)
    tp+=("$t"); vx+=("$v"); cyc+=("$cy")
    printf "%s run %d: testpmd io %s pps, vxgw %s pps (%s cycles/pkt)\n" "$mode" "$r" "$t" "$v" "$cy"
    grep -o '"drops":{[^}]*}' "$OUT/vx_mesh_${mode}_$r.log" | tail -1 || true
  done
  /usr/bin/python3 - "$mode" "$FLOWS" "${tp[*]}" "${vx[*]}" "${cyc[*]}" <<'PY'
import statistics, sys
mode, flows = sys.argv[1], sys.argv[2]
f = lambda s: [float(x) for x in s.split() if x != "NA"]
tp, vx, cy = f(sys.argv[3]), f(sys.argv[4]), f(sys.argv[5])
if tp and vx:
    t, v = statistics.median(tp), statistics.median(vx)
    print(f"RESULT mesh-{mode} flows={flows} testpmd_io_mpps={t/1e6:.2f} vxgw_mpps={v/1e6:.2f} ratio={v/t:.3f} cycles_per_pkt={statistics.median(cy):.1f}")
else:
    print(f"RESULT mesh-{mode} flows={flows} no valid samples")
PY
done
if [ "${MESH_BENCH:-1}" = 1 ]; then
  echo "# new connections per second per core (in-process): cargo bench -p vxgw --bench mesh"
  cargo bench -q -p vxgw --bench mesh --manifest-path "$ROOT/Cargo.toml" 2>/dev/null | grep -E '^(RESULT|#|  )'
fi
