#!/usr/bin/env bash
# Instructions per packet of vxgw and of the I/O ceiling, counted exactly (callgrind),
# on the same virtual devices and inputs as perf/overlay.sh.
#
#   perf/instructions.sh [SECS] [CASES]   (defaults: 40 s under callgrind per program;
#                                          "encap:1000 decap:1000 fwd:10000 rev:10000")
#   VXGW=/path/to/other/vxgw perf/instructions.sh ...   (count another build)
#
# CASES: MODE:N; encap/decap with N MACs (the inputs of perf/overlay.sh), fwd/rev with
# N routing-mesh flows (the inputs of perf/mesh.sh). The first pass over the flows
# creates the connections (~2600 instructions each) and is counted too, so keep N
# small beside the 1-5M packets a run sends under callgrind: 10k flows add ~10 per
# packet. The count does not depend on the table's size (only cache misses do, and
# those this figure does not show).
#
# Why: this VM's timings drift by +-15 % between runs (the host moves its vCPUs), so a
# change of 10-20 % in the per-packet work cannot be seen in Mpps. An instruction count
# is exact and repeatable. For each case both programs run under valgrind (no
# hugepages, so any machine can run this) for SECS; the forwarding thread's
# instructions (the busiest thread's callgrind total: the lcore polling the ports)
# divided by the packets it sent is the figure. It includes the PMDs' rx/tx work, which
# is the same for both programs; "instruction ratio" = testpmd's / vxgw's, what the
# rate ratio would be at equal instructions per cycle (vxgw's IPC is higher in
# practice: its code is simple integer work while testpmd's is mostly the PMDs' copies).
#
#   perf/instructions.sh --gate [--update]
#
# The instruction-count gate (the test command runs it): the pipeline alone on the four
# established paths (encap, decap, mesh fwd, mesh rev: gateway/benches/paths.rs, fixed
# inputs, seeds and clock, so a build executes the same instructions every run),
# counted by callgrind against perf/instructions.baseline. Fails when a path takes
# more than 2 % more instructions a packet than the baseline says. A change that
# costs instructions on purpose updates the baseline in the same commit
# (`--update` rewrites it) and says why in the commit's body.
set -euo pipefail
if [ "${1:-}" = --gate ]; then
  exec bash "$(dirname "$0")/instruction_gate.sh" "${@:2}"
fi
source "$(dirname "$0")/lib.sh"
SECS=${1:-40}
CASES=${2:-"encap:1000 decap:1000 fwd:10000 rev:10000"}
command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null

if [ -z "${VXGW:-}" ]; then
  cargo build --release -q -p vxgw --manifest-path "$ROOT/Cargo.toml"
  VXGW=$ROOT/target/release/vxgw
fi
CG=$(mktemp -d /tmp/vxgw-cg.XXXXXX)
trap 'rm -rf "$CG"' EXIT

# run_callgrind NAME LOG CMD...: runs CMD under callgrind for SECS, stops it with SIGINT
# (valgrind passes it on; writing the profile may take a minute) and prints the
# busiest thread's instruction count.
run_callgrind() {
  local name=$1 log=$2; shift 2
  rm -f "$CG/$name".*
  RUN_FOR_GRACE=60 run_for "$SECS" "$log" \
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$CG/$name.%p" "$@"
  cat "$CG/$name".* 2>/dev/null | awk '/^(summary|totals):/ {if ($2 + 0 > m) m = $2 + 0} END {printf "%.0f\n", m}'
}

echo "# instructions per packet (callgrind, $SECS s per program per case)"
for c in $CASES; do
  mode=${c%%:*} macs=${c##*:}
  case $mode in
    encap | decap)
      PCAP=$OUT/${mode}_${macs}.pcap TOML=$OUT/${mode}_${macs}.toml MBUFS=16383
      /usr/bin/python3 "$PERF_DIR/mk_overlay_inputs.py" "$mode" "$macs" "$PCAP" "$TOML"
      VDEVS=(--vdev="net_pcap0,rx_pcap=$PCAP,infinite_rx=1" "--vdev=net_null0,no-rx=1")
      VX_VDEVS=("${VDEVS[@]}") ;;
    fwd | rev)
      /usr/bin/python3 "$PERF_DIR/mk_mesh_inputs.py" "$mode" "$macs" "$OUT" >/dev/null
      PCAP=$OUT/$mode.pcap TOML=$OUT/$mode.toml MBUFS=$((macs + 16384))
      VDEVS=(--vdev="net_pcap0,rx_pcap=$PCAP,infinite_rx=1" "--vdev=net_null0,no-rx=1")
      VX_VDEVS=("${VDEVS[@]}")
      [ "$mode" = rev ] && VX_VDEVS=("${VDEVS[0]}" --vdev="net_pcap1,rx_pcap=$OUT/rev_warm.pcap") ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
  EAL=(--no-pci --no-huge -m $((512 + MBUFS * 2560 / 1048576)) -l 0-1)
  P=perf_cgt_$$
  ti=$(run_callgrind tp "$OUT/cg_tp_${mode}_${macs}.log" dpdk-testpmd "${EAL[@]}" --file-prefix=$P "${VDEVS[@]}" -- \
    --forward-mode=io --nb-cores=1 --stats-period=10 --total-num-mbufs=$((MBUFS + 1)) --no-flush-rx)
  cleanup_prefix $P
  tn=$(grep -o 'TX-packets: *[0-9]*' "$OUT/cg_tp_${mode}_${macs}.log" | awk '{if ($2 + 0 > m) m = $2 + 0} END {printf "%.0f\n", m}')
  P=perf_cgv_$$
  vi=$(run_callgrind vx "$OUT/cg_vx_${mode}_${macs}.log" "$VXGW" --config "$TOML" --socket "$CG/perf.sock" \
    --state none --metrics-addr none --stats-period 10 --mbufs $MBUFS -- "${EAL[@]}" --file-prefix=$P "${VX_VDEVS[@]}")
  cleanup_prefix $P
  vn=$(grep 'vxgw: stopped' "$OUT/cg_vx_${mode}_${macs}.log" | grep -o '"tx_packets":[0-9]*' | tail -1 | cut -d: -f2)
  /usr/bin/python3 - "$mode" "$macs" "$ti" "$tn" "$vi" "${vn:-0}" <<'PY'
import sys
mode, macs = sys.argv[1], sys.argv[2]
ti, tn, vi, vn = (int(x) for x in sys.argv[3:7])
if tn and vn:
    t, v = ti / tn, vi / vn
    print(f"RESULT instructions-{mode} macs={macs} testpmd_io={t:.0f} vxgw={v:.0f} "
          f"instruction_ratio={t / v:.3f} (packets: testpmd {tn}, vxgw {vn})")
else:
    print(f"RESULT instructions-{mode} macs={macs} no packets counted (testpmd {tn}, vxgw {vn})")
PY
done
