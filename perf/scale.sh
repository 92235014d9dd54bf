#!/usr/bin/env bash
# Scaling: N workers beside testpmd with N forwarding cores, same vdevs, same run.
#
#   perf/scale.sh [WORKERS] [SECS] [CASES] [FLOWS]
#
# WORKERS: the worker counts to measure (default: 1, 2, 4, 8, ... below the number of
#          CPUs, and CPUs - 1: one CPU is the main lcore's). On a machine with fewer
#          CPUs than N + 1 the lcores share CPUs (--lcores), and the line says
#          "oversubscribed": a smoke test of the multi-queue setup, not a figure.
# SECS:    seconds of forwarding per program per point, from when it starts forwarding
#          (default 12; the median skips the first 2 and the last second).
# CASES:   decap encap fwd rev (default all):
#   decap/encap: perf/overlay.sh's inputs (1000 MACs, 64-byte inner frames); every
#          rx queue of net_pcap0 replays the same capture (infinite_rx) -> net_null0.
#   fwd/rev: perf/mesh.sh's inputs (FLOWS client flows, default 100000), split by flow
#          over the N queues as RSS would (perf/split_pcap.py): fwd on the external
#          port, rev as the backends' VXLAN replies on the underlay (the connections
#          made first from the client frames, read once on the external port).
# Each point: testpmd --forward-mode=io with --nb-cores=N --rxq=N --txq=N, then vxgw
# with N workers (one queue pair each on every port), on the same vdevs and lcores.
# Rates are packets per second out of the output port, all queues; cycles/packet is
# the workers' mean, beside testpmd's (--record-core-cycles: its busy cycles over the
# run / packets): what grows in vxgw's and not in testpmd's is vxgw's own. Prints
# RESULT lines and a Markdown table for perf/RESULTS.md with the machine's description.
#
# VXGW_KIT=DIR runs the programs of a kit made by perf/scale_kit.sh (a machine with no
# DPDK packages and no Rust): no build, the kit's vxgw and testpmd, its libraries and
# PMD plugins.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CPUS=$(nproc)
default_workers() {
  local n=1 out=""
  while ((n < CPUS - 1)); do out+="$n "; n=$((n * 2)); done
  out+="$((CPUS > 1 ? CPUS - 1 : 1))"
  echo "$out"
}
WORKERS=${1:-$(default_workers)}
SECS=${2:-12}
CASES=${3:-"decap encap fwd rev"}
FLOWS=${4:-100000}

if [ -n "${VXGW_KIT:-}" ]; then
  VXGW=$VXGW_KIT/bin/vxgw TESTPMD=$VXGW_KIT/bin/dpdk-testpmd
  export LD_LIBRARY_PATH=$VXGW_KIT/lib
  EAL_KIT=(-d "$VXGW_KIT/pmds" --iova-mode=va)
  DPDK_VERSION="$(cat "$VXGW_KIT/dpdk-version" 2>/dev/null || echo '?') (kit)"
else
  cargo build --release -q -p vxgw --manifest-path "$ROOT/Cargo.toml"
  VXGW=$ROOT/target/release/vxgw TESTPMD=dpdk-testpmd
  EAL_KIT=()
  DPDK_VERSION=$(pkg-config --modversion libdpdk 2>/dev/null || echo '?')
fi
MBUFS=262143
MEM=$(eal_mem_args 1024 4096)
MACHINE="$( (lscpu 2>/dev/null || true) | sed -n 's/^Model name: *//p' | head -1), $CPUS CPUs"
echo "# scale: $MACHINE; EAL mem: $MEM; workers: $WORKERS; $SECS s per program per point"

# lcores N: EAL's lcore argument for a main lcore and N forwarding lcores.
lcores() {
  local n=$1
  if ((n + 1 <= CPUS)); then echo "-l 0-$n"; return; fi
  local s="0@0" w
  for ((w = 1; w <= n; w++)); do s+=",$w@$((w % CPUS))"; done
  echo "--lcores=$s"
}

# rx_list PREFIX N: ",rx_pcap=PREFIX0.pcap,...", one per queue.
rx_list() {
  local q s=""
  for ((q = 0; q < $2; q++)); do s+=",rx_pcap=$1$q.pcap"; done
  echo "$s"
}

# Median total tx pps of port PORT and the workers' mean cycles/packet, from vxgw's
# --stats-period 1 JSON lines (first 2 and last skipped).
vxgw_rate_all() {
  "$PY" - "$1" "$2" <<'PY'
import json, statistics, sys
log, want = sys.argv[1], int(sys.argv[2])
rows = []
for line in open(log, errors="replace"):
    if line.startswith("{"):
        d = json.loads(line)
        p = [x for x in d["ports"] if x["id"] == want][0]
        ws = [w["busy_cycles_per_packet"] for w in d["workers"] if w["busy_cycles_per_packet"] > 0]
        rows.append((p["tx_pps"], statistics.mean(ws) if ws else 0.0))
s = rows[2:-1]
print(f"{statistics.median(r[0] for r in s)} {statistics.median(r[1] for r in s):.1f}" if s else "NA NA")
PY
}

TABLE=()
for mode in $CASES; do
  case $mode in
    decap|encap)
      "$PY" "$PERF_DIR/mk_overlay_inputs.py" "$mode" 1000 "$OUT/scale_${mode}.pcap" "$OUT/scale_${mode}.toml"
      TOML=$OUT/scale_${mode}.toml ;;
    fwd|rev)
      "$PY" "$PERF_DIR/mk_mesh_inputs.py" "$mode" "$FLOWS" "$OUT"
      TOML=$OUT/$mode.toml ;;
    *) echo "unknown case $mode"; exit 2 ;;
  esac
  for n in $WORKERS; do
    read -ra LC <<<"$(lcores "$n")"
    case $mode in
      decap|encap)
        for ((q = 0; q < n; q++)); do cp "$OUT/scale_${mode}.pcap" "$OUT/scale_in_q$q.pcap"; done
        TP_VDEVS=(--vdev="net_pcap0$(rx_list "$OUT/scale_in_q" "$n"),infinite_rx=1" "--vdev=net_null0,no-rx=1")
        VX_VDEVS=("${TP_VDEVS[@]}") ;;
      fwd)
        "$PY" "$PERF_DIR/split_pcap.py" "$OUT/fwd.pcap" "$n" "$OUT/scale_in_q"
        TP_VDEVS=(--vdev="net_pcap0$(rx_list "$OUT/scale_in_q" "$n"),infinite_rx=1" "--vdev=net_null0,no-rx=1")
        VX_VDEVS=("${TP_VDEVS[@]}") ;;
      rev)
        "$PY" "$PERF_DIR/split_pcap.py" "$OUT/rev.pcap" "$n" "$OUT/scale_in_q"
        "$PY" "$PERF_DIR/split_pcap.py" "$OUT/rev_warm.pcap" "$n" "$OUT/scale_warm_q"
        TP_VDEVS=(--vdev="net_pcap0$(rx_list "$OUT/scale_in_q" "$n"),infinite_rx=1" "--vdev=net_null0,no-rx=1")
        VX_VDEVS=(--vdev="net_pcap0$(rx_list "$OUT/scale_in_q" "$n"),infinite_rx=1"
                  --vdev="net_pcap1$(rx_list "$OUT/scale_warm_q" "$n")") ;;
    esac
    P=perf_tp_$$
    # shellcheck disable=SC2086
    RUN_FOR_READY='packet forwarding - ports=' run_for "$SECS" "$OUT/scale_tp_${mode}_$n.log" "$TESTPMD" --no-pci $MEM "${EAL_KIT[@]}" --file-prefix=$P "${LC[@]}" "${TP_VDEVS[@]}" -- \
      --forward-mode=io --nb-cores="$n" --rxq="$n" --txq="$n" --stats-period=1 --record-core-cycles --total-num-mbufs=$((MBUFS + 1)) --no-flush-rx
    cleanup_prefix $P
    P=perf_vx_$$
    # shellcheck disable=SC2086
    RUN_FOR_READY='gateway running on' run_for "$SECS" "$OUT/scale_vx_${mode}_$n.log" "$VXGW" --config "$TOML" --socket "$OUT/perf.sock" \
      --state none --metrics-addr none --stats-period 1 --mbufs $MBUFS -- --no-pci $MEM "${EAL_KIT[@]}" --file-prefix=$P "${LC[@]}" "${VX_VDEVS[@]}"
    cleanup_prefix $P
    t=$(testpmd_rate "$OUT/scale_tp_${mode}_$n.log" 1)
    tcy=$(sed -n 's|.*CPU cycles/packet=\([0-9.]*\).*|\1|p' "$OUT/scale_tp_${mode}_$n.log" | tail -1)
    read -r v cy < <(vxgw_rate_all "$OUT/scale_vx_${mode}_$n.log" 1)
    over=""
    ((n + 1 > CPUS)) && over=" oversubscribed"
    line=$("$PY" - "$mode" "$n" "$t" "$v" "$cy" "${tcy:-NA}" "$over" <<'PY'
import sys
mode, n, t, v, cy, tcy, over = sys.argv[1:8]
if "NA" in (t, v):
    print(f"RESULT scale {mode} workers={n} no valid samples{over}")
else:
    t, v = float(t), float(v)
    print(f"RESULT scale {mode} workers={n} testpmd_io_mpps={t/1e6:.2f} vxgw_mpps={v/1e6:.2f} "
          f"ratio={v/t:.3f} cycles_per_pkt={cy} testpmd_cycles_per_pkt={tcy}{over}")
PY
)
    echo "$line"
    TABLE+=("$line")
  done
done

echo
echo "Machine: $MACHINE ($(date -u +%F)), DPDK $DPDK_VERSION, EAL $MEM"
echo
echo "| path | workers | testpmd io, Mpps | vxgw, Mpps | ratio | cycles/packet | testpmd cycles/packet | note |"
echo "|---|---|---|---|---|---|---|---|"
for l in "${TABLE[@]}"; do
  "$PY" - "$l" <<'PY'
import sys
w = sys.argv[1].split()
kv = dict(x.split("=", 1) for x in w if "=" in x)
note = "oversubscribed" if "oversubscribed" in w else ""
print(f"| {w[2]} | {kv.get('workers')} | {kv.get('testpmd_io_mpps', '-')} | {kv.get('vxgw_mpps', '-')} | "
      f"{kv.get('ratio', '-')} | {kv.get('cycles_per_pkt', '-')} | {kv.get('testpmd_cycles_per_pkt', '-')} | {note} |")
PY
done

# The issue's goal, per path: the ratio at each worker count against the ratio at 1
# worker (within 10 % at 8 workers), and how much of the cycles per packet that vxgw
# adds over testpmd's grew with the workers (its own sharing, not the I/O's).
echo
"$PY" - "${TABLE[@]}" <<'PY'
import sys
rows = {}
for l in sys.argv[1:]:
    w = l.split()
    kv = dict(x.split("=", 1) for x in w if "=" in x)
    if "ratio" in kv:
        rows.setdefault(w[2], {})[int(kv["workers"])] = kv
for path, by_n in rows.items():
    one = by_n.get(1)
    if not one:
        continue
    own1 = float(one["cycles_per_pkt"]) - float(one["testpmd_cycles_per_pkt"]) if one["testpmd_cycles_per_pkt"] != "NA" else None
    for n, kv in sorted(by_n.items()):
        if n == 1:
            continue
        rel = float(kv["ratio"]) / float(one["ratio"])
        verdict = "" if n < 8 else (" within 10 %" if rel >= 0.9 else " NOT within 10 %")
        own = ""
        if own1 is not None and kv["testpmd_cycles_per_pkt"] != "NA":
            ownn = float(kv["cycles_per_pkt"]) - float(kv["testpmd_cycles_per_pkt"])
            own = f"; vxgw's own cycles/packet {own1:.1f} -> {ownn:.1f}"
        print(f"GOAL {path} workers={n}: ratio {rel:.3f} of 1 worker's{verdict}{own}")
PY
