#!/usr/bin/env bash
# I/O ceiling vs vxgw plain forwarding, same devices, same core, same run.
#
#   perf/io_ceiling.sh [RUNS] [SECS]      (defaults: 3 runs of 12 s each)
#
# Source: net_pcap rx_pcap=64 B UDP frames with infinite_rx=1; sink: net_null
# (no-rx). EAL -l 0-1: main lcore 0, the forwarding lcore is 1 for both programs.
# Prints each run's rates, the medians and vxgw/testpmd. Set PERF_NO_HUGE=1 to
# force --no-huge (the default uses hugepages when 256 free 2 MiB pages exist).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-3}
SECS=${2:-12}
[ "$SECS" -ge 8 ] || { echo "SECS must be >= 8 (start-up and warm-up samples are skipped)"; exit 2; }

cargo build --release -q -p vxgw --manifest-path "$ROOT/Cargo.toml"
VXGW=$ROOT/target/release/vxgw
PCAP=$OUT/udp64.pcap
make_udp64_pcap "$PCAP"
MEM=$(eal_mem_args)
VDEVS=(--vdev="net_pcap0,rx_pcap=$PCAP,infinite_rx=1" "--vdev=net_null0,no-rx=1")
echo "# io ceiling: net_pcap(infinite_rx, 64 B) -> net_null, 1 forwarding core, EAL mem: $MEM"

tp=() vx=() cyc=()
for r in $(seq 1 "$RUNS"); do
  P=perf_tp_$$
  # shellcheck disable=SC2086
  run_for "$SECS" "$OUT/testpmd_$r.log" dpdk-testpmd --no-pci $MEM --file-prefix=$P -l 0-1 "${VDEVS[@]}" -- \
    --forward-mode=io --nb-cores=1 --stats-period=1 --total-num-mbufs=32768 --no-flush-rx
  cleanup_prefix $P
  P=perf_vx_$$
  # shellcheck disable=SC2086
  run_for "$SECS" "$OUT/vxgw_$r.log" "$VXGW" --forward net_pcap0,net_null0 --stats-period 1 --mbufs 32767 -- \
    --no-pci $MEM --file-prefix=$P -l 0-1 "${VDEVS[@]}"
  cleanup_prefix $P
  t=$(testpmd_rate "$OUT/testpmd_$r.log" 1)
  read -r v c < <(vxgw_rate "$OUT/vxgw_$r.log" 1)
  printf "run %d: testpmd io %s pps, vxgw forward %s pps (%s cycles/pkt)\n" "$r" "$t" "$v" "$c"
  tp+=("$t"); vx+=("$v"); cyc+=("$c")
done
/usr/bin/python3 - "${tp[*]}" "${vx[*]}" "${cyc[*]}" <<'PY'
import statistics, sys
tp = [float(x) for x in sys.argv[1].split() if x != "NA"]
vx = [float(x) for x in sys.argv[2].split() if x != "NA"]
cy = [float(x) for x in sys.argv[3].split() if x != "NA"]
if not tp or not vx:
    print("RESULT: no valid samples"); sys.exit(1)
t, v = statistics.median(tp), statistics.median(vx)
print(f"RESULT testpmd_io_mpps={t/1e6:.2f} vxgw_forward_mpps={v/1e6:.2f} ratio={v/t:.3f} vxgw_cycles_per_pkt={statistics.median(cy):.1f}")
PY
