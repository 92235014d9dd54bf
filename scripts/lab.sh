#!/usr/bin/env bash
# The local lab: vxgw as the VXLAN gateway of a Swarm-style overlay, in network
# namespaces, torn down on exit.
#
#   sudo scripts/lab.sh            # build, bring up, show traffic + vxgw's tables, tear down
#   sudo scripts/lab.sh --hold     # same, then keep it up until Ctrl-C; try e.g.
#        ip netns exec vxlab_srv ping 10.255.0.13
#        ip netns exec vxlab_gw target/release/vxgwctl -s /tmp/vxlab_lab.*/vxgw.sock fdb show
#
# Two swarm nodes (Linux kernel VXLAN, VNI 4096) with containers c1, c2 (node 1) and c3
# (node 2); a bare-metal server srv on vxgw's access port; a client cl (192.0.2.10) on
# vxgw's external port; vxgw on net_af_packet ports in namespace vxlab_gw (topology:
# tests/e2e/lib/overlay_lab.sh). The lab publishes TCP port 80 on 192.0.2.1 with
# vxgwctl (the routing mesh) and shows curl being balanced over the three containers.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOLD=0
[ "${1:-}" = "--hold" ] && HOLD=1
[ "$(id -u)" = 0 ] || { echo "lab: needs root (network namespaces, DPDK)"; exit 1; }
command -v dpdk-testpmd >/dev/null && command -v tcpdump >/dev/null || "$ROOT/scripts/install-deps.sh"
cargo build --release -q --manifest-path "$ROOT/Cargo.toml" || exit 1
VXGW=$ROOT/target/release/vxgw VXGWCTL=$ROOT/target/release/vxgwctl
export LAB_PREFIX=vxlab_ LAB_MESH=1
# shellcheck source=../tests/e2e/lib/overlay_lab.sh
source "$ROOT/tests/e2e/lib/overlay_lab.sh"
lab_trap_exit
lab_up || exit 1
SOCK=$LAB_DIR/vxgw.sock
cat >"$LAB_DIR/vxgw.toml" <<'TOML'
[gateway]
vtep_ip = "172.30.0.1"
external_ip = "192.0.2.1"

[[port]]
name = "net_af_packet0"
roles = ["underlay"]

[[port]]
name = "net_af_packet1"
roles = ["access"]

[[port]]
name = "net_af_packet2"
roles = ["external"]

[[vtep]]
ip = "172.30.0.11"

[[vtep]]
ip = "172.30.0.12"

[[vni]]
id = 4096
flood = ["172.30.0.11", "172.30.0.12"]
access = [{ port = "net_af_packet1", vlan = 0 }]
gateway_ip = "10.255.0.1"
TOML
LAB_DPDK_PREFIXES+=("vxlab_$$")
lab_spawn gw "$LAB_DIR/vxgw.log" "$VXGW" --config "$LAB_DIR/vxgw.toml" --socket "$SOCK" \
    --state "$LAB_DIR/running.toml" --metrics-addr 127.0.0.1:9465 -- \
    -l 0-1 --no-pci --no-huge -m 512 --file-prefix=vxlab_$$ \
    --vdev=net_af_packet0,iface=ul0 --vdev=net_af_packet1,iface=acc0 --vdev=net_af_packet2,iface=ext0
ctl() { lab_exec gw "$VXGWCTL" -s "$SOCK" "$@"; }
for _ in $(seq 1 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status || { cat "$LAB_DIR/vxgw.log"; exit 1; }
lab_http_servers_start || exit 1

ok=0
echo; echo "lab: srv (10.255.0.100, on vxgw's access port) -> containers across the overlay"
for c in 11 12 13; do lab_wait_ping srv "10.255.0.$c" 15 && echo "  ping 10.255.0.$c: ok" || ok=1; done
lab_exec srv ping -c 1 -W 2 -q 10.255.0.1 >/dev/null && echo "  ping vxgw's overlay address 10.255.0.1: ok" || ok=1
for c in 1 2 3; do
  printf '  curl http://10.255.0.1%s/ -> ' "$c"
  lab_exec srv curl -s --noproxy '*' -m 5 "http://10.255.0.1$c/" || { echo "FAILED"; ok=1; }
done
echo; echo "lab: the routing mesh: publish tcp/80 on 192.0.2.1, backends c1-c3"
echo "  vxgwctl service add web --proto tcp --ip 192.0.2.1 --port 80 --vni 4096 --ingress 10.255.0.2 --backend 10.255.0.11 --backend 10.255.0.12 --backend 10.255.0.13"
ctl service add web --proto tcp --ip 192.0.2.1 --port 80 --vni 4096 --ingress 10.255.0.2 \
    --backend 10.255.0.11 --backend 10.255.0.12 --backend 10.255.0.13 || ok=1
sleep 1.5 # vxgw resolves the backends' MACs (ARP in the overlay)
echo "  client 192.0.2.10: 30 x curl http://192.0.2.1/ (answers: container, source address it saw)"
lab_exec cl curl -s --noproxy '*' -m 30 "http://192.0.2.1/?r=[1-30]" >"$LAB_DIR/mesh.out" || ok=1
sort "$LAB_DIR/mesh.out" | uniq -c | sed 's/^/   /'
[ "$(grep -c ' 10.255.0.2$' "$LAB_DIR/mesh.out")" = 30 ] || ok=1
[ "$(cut -d' ' -f1 "$LAB_DIR/mesh.out" | sort -u | wc -l)" = 3 ] || ok=1
echo; echo "lab: vxgwctl service show"; ctl service show
echo; echo "lab: vxgwctl conntrack show --limit 5"; ctl conntrack show --limit 5
echo; echo "lab: curl http://127.0.0.1:9465/metrics | grep vxgw_backend_connections_total"
lab_exec gw curl -s --noproxy '*' -m 5 http://127.0.0.1:9465/metrics | grep '^vxgw_backend_connections_total' | sed 's/^/  /'
echo; echo "lab: vxgwctl fdb show"; ctl fdb show
echo; echo "lab: vxgwctl neigh show"; ctl neigh show
echo; echo "lab: vxgwctl stats"; ctl stats
if [ "$HOLD" = 1 ]; then
  echo; echo "lab: holding (Ctrl-C to tear down). vxgwctl: ip netns exec vxlab_gw $VXGWCTL -s $SOCK fdb show"
  while kill -0 "$LAB_LAST_PID" 2>/dev/null; do sleep 1; done
fi
[ "$ok" = 0 ] && echo "lab: OK" || echo "lab: FAILED"
exit "$ok"
