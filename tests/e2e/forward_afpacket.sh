#!/usr/bin/env bash
# vxgw plain forwarding (no config) between two namespaces on af_packet: ping and TCP.
#
#   sudo tests/e2e/forward_afpacket.sh          # set up, show traffic through vxgw, tear down
#   sudo tests/e2e/forward_afpacket.sh --hold   # same, but keep it running until Ctrl-C
#
# Topology (every interface lives in a namespace this script creates):
#
#   vxgwlab_a: a0 10.77.0.1/24 --veth-- g0 [vxgwlab_gw: vxgw on net_af_packet g0,g1] g1 --veth-- b0 10.77.0.2/24 :vxgwlab_b
#
# vxgw forwards g0 <-> g1 on one worker lcore; a real ping and a real TCP transfer
# (iperf3) cross it. Exit status 0 only if both worked.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HOLD=0
[ "${1:-}" = "--hold" ] && HOLD=1
NS_A=vxgwlab_a NS_B=vxgwlab_b NS_GW=vxgwlab_gw
PREFIX=vxgwlab_$$
LOG=$(mktemp /tmp/vxgwlab.XXXXXX.log)
VXGW_PID=""

cleanup() {
  set +e
  if [ -n "$VXGW_PID" ]; then
    kill -INT "$VXGW_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$VXGW_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$VXGW_PID" 2>/dev/null
  fi
  for ns in $NS_A $NS_B $NS_GW; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "/var/run/dpdk/$PREFIX"
  echo "lab: torn down (vxgw log: $LOG)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "lab: needs root (network namespaces)"; exit 1; }
command -v dpdk-testpmd >/dev/null || "$ROOT/scripts/install-deps.sh"
cargo build --release -q -p vxgw --manifest-path "$ROOT/Cargo.toml"

for ns in $NS_A $NS_B $NS_GW; do ip netns del "$ns" 2>/dev/null || true; ip netns add "$ns"; done
ip link add a0 netns $NS_A type veth peer name g0 netns $NS_GW
ip link add b0 netns $NS_B type veth peer name g1 netns $NS_GW
ip -n $NS_A addr add 10.77.0.1/24 dev a0
ip -n $NS_B addr add 10.77.0.2/24 dev b0
for l in "$NS_A a0" "$NS_B b0" "$NS_GW g0" "$NS_GW g1" "$NS_A lo" "$NS_B lo"; do
  set -- $l; ip -n "$1" link set "$2" up
done
# veth hands af_packet frames with checksums left for "hardware" to fill; nothing
# fills them between two af_packet ports, so the end hosts compute their own.
for l in "$NS_A a0" "$NS_B b0"; do
  set -- $l; ip netns exec "$1" ethtool -K "$2" tx off >/dev/null
done

ip netns exec $NS_GW "$ROOT/target/release/vxgw" --forward net_af_packet0,net_af_packet1 --stats-period 1 -- \
  -l 0-1 --no-pci --no-huge -m 256 --file-prefix=$PREFIX \
  --vdev=net_af_packet0,iface=g0 --vdev=net_af_packet1,iface=g1 >"$LOG" 2>&1 &
VXGW_PID=$!
for _ in $(seq 1 100); do grep -q "forwarding on" "$LOG" && break; sleep 0.1; done
grep -q "forwarding on" "$LOG" || { echo "lab: vxgw did not start:"; cat "$LOG"; exit 1; }
echo "lab: vxgw running (pid $VXGW_PID) between $NS_A and $NS_B"

ok=0
echo "lab: ping 10.77.0.2 from $NS_A through vxgw"
ip netns exec $NS_A ping -c 5 -i 0.2 -W 2 10.77.0.2 || ok=1
echo "lab: TCP (iperf3, 2 s) from $NS_A to $NS_B through vxgw"
ip netns exec $NS_B iperf3 -s -1 -B 10.77.0.2 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5
ip netns exec $NS_A iperf3 -c 10.77.0.2 -t 2 -f m --connect-timeout 3000 | grep -E "sender|receiver" || ok=1
kill "$IPERF_PID" 2>/dev/null || true
wait "$IPERF_PID" 2>/dev/null || true
echo "lab: vxgw's last statistics line:"
grep '^{' "$LOG" | tail -1

if [ "$HOLD" = 1 ]; then
  echo "lab: holding; try: ip netns exec $NS_A ping 10.77.0.2   (Ctrl-C to stop)"
  while kill -0 "$VXGW_PID" 2>/dev/null; do sleep 1; done
fi
[ "$ok" = 0 ] && echo "lab: OK" || echo "lab: FAILED"
exit "$ok"
