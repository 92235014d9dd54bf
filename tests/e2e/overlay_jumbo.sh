#!/usr/bin/env bash
# End to end: jumbo frames across vxgw between Linux kernel VTEPs and a server.
#
#   tests/e2e/overlay_jumbo.sh         (root; builds nothing: uses $VXGW / $VXGWCTL or
#                                       target/debug/{vxgw,vxgwctl})
#
# The overlay lab of overlay_vxgw.sh with MTU 9000 on the underlay veths and 8950 in
# the overlay (containers, the kernel VXLAN devices, the server): vxgw's underlay
# port is configured with MTU 9000. Checks, each counted: 8900-byte IPv4 pings with
# DF set (8950 bytes of IP once encapsulated) both ways, server <-> containers on
# both nodes; a 2 MiB HTTP transfer with 8910-byte TCP segments, sha256 compared;
# nothing dropped as multi_segment or truncated.
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VXGW=${VXGW:-$ROOT/target/debug/vxgw}
VXGWCTL=${VXGWCTL:-$ROOT/target/debug/vxgwctl}
export LAB_PREFIX=${LAB_PREFIX:-vxj_} LAB_UL_MTU=9000 LAB_OVL_MTU=8950
# shellcheck source=lib/overlay_lab.sh
source "$HERE/lib/overlay_lab.sh"

passed=0 failed=0
check() { # check NAME CMD...
    local name=$1; shift
    if "$@"; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"
    fi
}
finish() { echo "$passed passed, $failed failed"; }
lab_trap_exit finish
[[ -x $VXGW && -x $VXGWCTL ]] || { echo "build first: $VXGW, $VXGWCTL"; failed=1; exit 1; }
lab_up || { failed=$((failed + 1)); exit 1; }

SOCK=$LAB_DIR/vxgw.sock
cat >"$LAB_DIR/vxgw.toml" <<TOML
[gateway]
vtep_ip = "172.30.0.1"

[[port]]
name = "net_af_packet0"
roles = ["underlay"]
mtu = 9000

[[port]]
name = "net_af_packet1"
roles = ["access"]

[[vtep]]
ip = "172.30.0.11"

[[vtep]]
ip = "172.30.0.12"

[[vni]]
id = 4096
flood = ["172.30.0.11", "172.30.0.12"]
access = [{ port = "net_af_packet1", vlan = 0 }]
TOML
# af_packet's ring frames must hold a whole jumbo frame (its default is 2048 bytes)
# and, less their 52-byte header, fit an mbuf (vxgw's hold 9088 bytes at MTU 9000);
# the driver reads the frames at a stride of framesz, so a block (a whole number of
# pages) must be a whole number of frames: 32 x 9088 = 71 pages.
RING="framesz=9088,blocksz=290816,framecnt=256"
LAB_DPDK_PREFIXES+=("${LAB_PREFIX}gw_$$")
lab_spawn gw "$LAB_DIR/vxgw.log" "$VXGW" --config "$LAB_DIR/vxgw.toml" --socket "$SOCK" --state none -- \
    -l 0-1 --no-pci --no-huge -m 512 --file-prefix="${LAB_PREFIX}gw_$$" \
    --vdev="net_af_packet0,iface=ul0,$RING" --vdev="net_af_packet1,iface=acc0,$RING"
VXGW_PID=$LAB_LAST_PID
ctl() { lab_exec gw "$VXGWCTL" -s "$SOCK" "$@"; }
up=0
for _ in $(seq 1 100); do ctl status >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
check "vxgw is up with the underlay at MTU 9000" test "$up" = 1
((up)) || { cat "$LAB_DIR/vxgw.log"; exit 1; }
check "ul0 carries MTU 9000" bash -c "ip -n $(lab_ns gw) link show ul0 | grep -q 'mtu 9000'"
lab_capture n1 u0 "$LAB_DIR/n1_u0.pcap" udp port 4789 || failed=$((failed + 1))
lab_http_servers_start || failed=$((failed + 1))

# 8872 bytes of ICMP payload: an 8900-byte IPv4 packet, DF set (-M do).
jumbo_ping() { lab_exec "$1" ping -M "do" -s 8872 -c 2 -W 2 -q "$2" >/dev/null; }
for c in 11 13; do
    check "srv reaches 10.255.0.$c (any size)" lab_wait_ping srv "10.255.0.$c" 15
    check "8900-byte ping, DF: srv -> 10.255.0.$c" jumbo_ping srv "10.255.0.$c"
    check "8900-byte ping, DF: c${c: -1} -> srv" jumbo_ping "c$((c - 10))" 10.255.0.100
done

# On node 1's wire, vxgw's VXLAN frames of the pings to c1: 8900 + 14 + 50 bytes each,
# one frame a packet (nothing fragmented on the way).
lab_capture_stop
n=$(tshark -r "$LAB_DIR/n1_u0.pcap" -Y 'ip.src == 172.30.0.1 && frame.len == 8964 && icmp.type == 0' 2>/dev/null | wc -l)
check "vxgw's VXLAN to node 1 carries whole 8964-byte frames ($n echo replies)" test "$n" -ge 2

head -c $((2 * 1024 * 1024)) /dev/urandom >"$LAB_DIR/www/blob"
want=$(sha256sum "$LAB_DIR/www/blob" | cut -d' ' -f1)
got=$(lab_exec srv curl -s --noproxy '*' -m 60 "http://10.255.0.11/blob" | sha256sum | cut -d' ' -f1)
check "2 MiB c1 -> srv in jumbo segments, sha256 matches" test "$got" = "$want"

drops=$(ctl -j stats | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["drops"]; print(d.get("multi_segment", 0) + d.get("truncated", 0))')
check "nothing dropped as multi_segment or truncated ($drops)" test "$drops" = 0
check "vxgw still running" kill -0 "$VXGW_PID"
grep -E "mbufs of|MTU" "$LAB_DIR/vxgw.log"
((failed)) && ctl stats
exit $((failed > 0))
