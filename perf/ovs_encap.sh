#!/usr/bin/env bash
# Peer comparison: VXLAN encap in vxgw vs Open vSwitch with DPDK (userspace datapath),
# beside the I/O ceiling, same source vdev, same forwarding core, same run.
#
#   perf/ovs_encap.sh [RUNS] [SECS] [MACS]      (defaults: 3 runs of 14 s, 1000 MACs)
#
# Input (perf/mk_overlay_inputs.py encap MACS): 64-byte untagged frames to MACS
# distinct MACs, replayed by net_pcap0 (rx_pcap, infinite_rx=1); sink net_null0 (no-rx).
# Per run, in this order, each with its forwarding thread on core 1:
#   testpmd  --forward-mode=io net_pcap0 -> net_null0           (the I/O ceiling)
#   vxgw     net_pcap0 (access) -> FDB (MACS static entries behind VTEP 172.30.0.11,
#            static neighbour) + VXLAN encap, VNI 4096 -> net_null0 (underlay)
#   OVS-DPDK in0 = the same net_pcap vdev -> br0 flow in_port=in0,actions=output:vxlan0
#            (remote_ip 172.30.0.11, key 4096; native tunnel via br-phy 172.30.0.1/24,
#            static tunnel neighbour) -> phy0 = net_null0,no-rx=1; one PMD on core 1
#            (pmd-cpu-mask=0x2), main thread core 0 (dpdk-lcore-mask=0x1). Layout in
#            perf/ovs_lib.sh.
# Rates are packets/s out of net_null0: testpmd and vxgw from their 1-s stats (first
# two samples and the last dropped, median); OVS from the phy0 TX counter of
# `dpctl/show -s` read once per second for SECS s after in0 is added (first two 1-s
# deltas dropped, median). Per program the median over runs; ratios to testpmd io.
#
# Before the rate runs a functional check proves OVS encapsulates these frames: in0
# with ingress policing (~6 kpps of the infinite replay), phy0 = net_pcap tx_pcap, 2 s,
# decoded by tshark (VNI, outer addresses, inner destination MACs vs the input pcap).
#
# Memory (perf/lib.sh eal_mem_args): with >= 256 free 2 MiB hugepages every program
# uses hugepages (testpmd/vxgw --huge-unlink; OVS dpdk-extra without --no-huge, OVS adds
# --in-memory itself, so no hugepage files); PERF_NO_HUGE=1 gives all three
# --no-huge -m ${PERF_NO_HUGE_MB:-1536}, OVS with --legacy-mem added. Pools: testpmd and
# vxgw 262144/262143 mbufs, OVS its default shared pool of 262144 (MTU 1500), ~380 of
# the 2 MiB pages. The programs run one after the other, never together.
# OVS lives under /tmp/vxgw_ovsperf, ovs-vswitchd in netns vxgw_ovsperf; everything is
# stopped by PID at the end and on error or interrupt. Needs root.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=ovs_lib.sh
source "$PERF_DIR/ovs_lib.sh"
RUNS=${1:-3}
SECS=${2:-14}
MACS=${3:-1000}
[ "$SECS" -ge 8 ] || { echo "SECS must be >= 8 (start-up and warm-up samples are skipped)"; exit 2; }
[ "$(id -u)" = 0 ] || { echo "ovs_encap: needs root (DPDK, network namespace)"; exit 1; }

CHILD_PID=""
cleanup() {
  stop_pid "$CHILD_PID" 10 INT; CHILD_PID=""
  ovs_stop
  cleanup_prefix "perf_tp_$$"; cleanup_prefix "perf_vx_$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_for SECS LOG CMD... (as perf/lib.sh, but the PID is kept for the trap)
run_for() {
  local secs=$1 log=$2 i; shift 2
  "$@" >"$log" 2>&1 &
  CHILD_PID=$!
  sleep "$secs" & wait $!      # (a trap runs at once, not after the sleep)
  kill -INT "$CHILD_PID" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$CHILD_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$CHILD_PID" 1 KILL; CHILD_PID=""
}

if [ ! -x "$OVS_VSWITCHD" ]; then
  echo "# installing openvswitch-switch-dpdk"
  DEBIAN_FRONTEND=noninteractive apt-get install -y openvswitch-switch-dpdk >/dev/null
fi
for t in dpdk-testpmd tshark ovsdb-tool; do
  command -v "$t" >/dev/null || { echo "ovs_encap: $t missing (scripts/install-deps.sh --with-perf)"; exit 1; }
done
cargo build --release -q -p vxgw --manifest-path "$ROOT/Cargo.toml"
VXGW=$ROOT/target/release/vxgw
MEM=$(eal_mem_args)
OVS_EXTRA=$(ovs_eal_extra "$MEM")
MBUFS=262143
PCAP=$OUT/encap_$MACS.pcap TOML=$OUT/encap_$MACS.toml
/usr/bin/python3 "$PERF_DIR/mk_overlay_inputs.py" encap "$MACS" "$PCAP" "$TOML"
SRC="net_pcap0,rx_pcap=$PCAP,infinite_rx=1" SINK=net_null0,no-rx=1
VDEVS=(--vdev="$SRC" --vdev="$SINK")
echo "# ovs_encap: macs=$MACS, $RUNS x $SECS s per program; EAL mem: $MEM; OVS dpdk-extra: $OVS_EXTRA;" \
  "load: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- functional check -------------------------------------------------------------
FUNC_PCAP=$OUT/ovs_func_$MACS.pcap
rm -f "$FUNC_PCAP"
# ingress policing on in0 (2000 kbit/s, burst 200 kbit) lets ~6 kpps of the infinite
# replay through, so 2 s produce a small capture (a finite rx_pcap would be read before
# the port is known to the ofproto layer and lost)
ovs_up "$OVS_EXTRA" "$SRC" "net_pcap1,tx_pcap=$FUNC_PCAP" \
  ingress_policing_rate=2000 ingress_policing_burst=200 || exit 1
sleep 2 & wait $!
FUNC_DPFLOW=$(appctl dpctl/dump-flows | grep -m1 tnl_push || true)
ovs_stop                 # closing phy0 flushes the tx pcap
cp "$OVSP_DIR/log/ovs-vswitchd.log" "$OUT/ovs_func_vswitchd.log" 2>/dev/null || true
echo "# OVS datapath flow: ${FUNC_DPFLOW:-none}"
tshark -r "$FUNC_PCAP" -T fields -E separator=/t -e frame.len -e eth.dst -e ip.src -e ip.dst \
  -e udp.srcport -e udp.dstport -e vxlan.vni 2>/dev/null >"$OUT/ovs_func_$MACS.tsv" || true
# tshark lists outer,inner for eth/ip/udp fields of a VXLAN frame
/usr/bin/python3 - "$PCAP" "$OUT/ovs_func_$MACS.tsv" <<'PY' | tee "$OUT/ovs_func_$MACS.txt"
import struct, sys
from collections import Counter
src, tsv = sys.argv[1], sys.argv[2]
want = set()
with open(src, "rb") as f:
    f.read(24)
    while len(h := f.read(16)) == 16:
        want.add(":".join(f"{b:02x}" for b in f.read(struct.unpack("<IIII", h)[2])[:6]))
rows = [[c.split(",") for c in l.rstrip("\n").split("\t")] for l in open(tsv) if l.strip()]
vx = [r for r in rows if len(r) == 7 and r[6] == ["4096"] and len(r[1]) == 2]
outer = Counter(f"len={r[0][0]},eth.dst={r[1][0]},{r[2][0]}->{r[3][0]},udp.dst={r[5][0]}" for r in vx)
inner = [r[1][1] for r in vx]
ok = sum(m in want for m in inner)
good = bool(vx) and len(vx) == len(rows) and ok == len(vx) and len(outer) == 1
print(f"FUNC ovs_encap frames={len(rows)} vxlan_vni4096={len(vx)} outer: {' | '.join(outer) or 'none'}"
      f" udp.src_ports={len({r[4][0] for r in vx})} inner_dst_mac_in_input={ok}/{len(vx)}"
      f" distinct_inner_dst_macs={len(set(inner))}/{len(want)} -> {'PASS' if good else 'FAIL'}")
sys.exit(0 if good else 1)
PY

# ---- rate runs --------------------------------------------------------------------
# ovs_rate SECS LOG: phy0 TX counter once per second for SECS s; prints the median of
# the 1-s rates after dropping the first two, and the PMD's cycles per packet
ovs_rate() {
  local secs=$1 log=$2 k t0 t c
  : >"$log"
  t0=$(date +%s.%N)
  for ((k = 0; k <= secs; k++)); do
    t=$(date +%s.%N); c=$(port_tx phy0)
    echo "$t $c" >>"$log"
    if [ "$k" = 2 ]; then appctl dpif-netdev/pmd-stats-clear >/dev/null; fi
    # sleep to the next whole second after t0 (1-s cadence, no drift from appctl)
    if [ "$k" -lt "$secs" ]; then
      sleep "$(awk -v t0="$t0" -v k="$k" -v now="$(date +%s.%N)" \
        'BEGIN {d = t0 + k + 1 - now; print (d > 0 ? d : 0)}')"
    fi
  done
  { appctl dpif-netdev/pmd-stats-show; appctl netdev-dpdk/get-mempool-info in0 | head -4
    grep -E 'HugePages_(Total|Free)' /proc/meminfo; } >>"$log" 2>&1
  /usr/bin/python3 - "$log" <<'PY'
import re, statistics, sys
pts, cyc = [], "NA"
for l in open(sys.argv[1]):
    f = l.split()
    if len(f) == 2 and re.fullmatch(r"[\d.]+", f[0]) and f[1].isdigit():
        pts.append((float(f[0]), int(f[1])))
    m = re.search(r"avg processing cycles per packet: ([\d.]+)", l)
    if m: cyc = m.group(1)
r = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(pts, pts[1:])][2:]
print(f"{statistics.median(r):.0f} {cyc}" if r else f"NA {cyc}")
PY
}

tp=() vx=() ov=()
for r in $(seq 1 "$RUNS"); do
  P=perf_tp_$$
  # shellcheck disable=SC2086
  run_for "$SECS" "$OUT/ovsenc_tp_${MACS}_$r.log" dpdk-testpmd --no-pci $MEM --file-prefix=$P -l 0-1 "${VDEVS[@]}" -- \
    --forward-mode=io --nb-cores=1 --stats-period=1 --total-num-mbufs=$((MBUFS + 1)) --no-flush-rx
  cleanup_prefix $P
  P=perf_vx_$$
  # shellcheck disable=SC2086
  run_for "$SECS" "$OUT/ovsenc_vx_${MACS}_$r.log" "$VXGW" --config "$TOML" --socket "$OUT/ovsenc.sock" \
    --stats-period 1 --mbufs $MBUFS -- --no-pci $MEM --file-prefix=$P -l 0-1 "${VDEVS[@]}"
  cleanup_prefix $P
  ovs_up "$OVS_EXTRA" "$SRC" "$SINK" || exit 1
  read -r o ocy < <(ovs_rate "$SECS" "$OUT/ovsenc_ovs_${MACS}_$r.log")
  ovs_stop
  cp "$OVSP_DIR/log/ovs-vswitchd.log" "$OUT/ovsenc_ovs_${MACS}_${r}_vswitchd.log" 2>/dev/null || true
  t=$(testpmd_rate "$OUT/ovsenc_tp_${MACS}_$r.log" 1)
  read -r v cy < <(vxgw_rate "$OUT/ovsenc_vx_${MACS}_$r.log" 1)
  tp+=("$t"); vx+=("$v"); ov+=("$o")
  printf "encap %s run %d: testpmd io %s pps, vxgw %s pps (%s cycles/pkt), ovs %s pps (%s cycles/pkt)\n" \
    "$MACS" "$r" "$t" "$v" "$cy" "$o" "$ocy"
done
/usr/bin/python3 - "$MACS" "${tp[*]}" "${vx[*]}" "${ov[*]}" <<'PY'
import statistics, sys
macs = sys.argv[1]
f = lambda s: [float(x) for x in s.split() if x != "NA"]
tp, vx, ov = f(sys.argv[2]), f(sys.argv[3]), f(sys.argv[4])
if not (tp and vx and ov):
    print(f"RESULT ovs_encap macs={macs} no valid samples"); sys.exit(1)
t, v, o = statistics.median(tp), statistics.median(vx), statistics.median(ov)
print(f"RESULT ovs_encap macs={macs} testpmd_io_mpps={t/1e6:.2f} vxgw_mpps={v/1e6:.2f} ovs_mpps={o/1e6:.2f} "
      f"vxgw_ratio={v/t:.3f} ovs_ratio={o/t:.3f} vxgw_over_ovs={v/o:.2f}")
PY
