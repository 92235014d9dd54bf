#!/usr/bin/env bash
# End to end: vxgw as a VXLAN gateway between Linux kernel VTEPs and a bare-metal server.
#
#   tests/e2e/overlay_vxgw.sh          (root; builds nothing: uses $VXGW / $VXGWCTL or
#                                       target/debug/{vxgw,vxgwctl})
#
# Two swarm "nodes" (kernel vxlan VNI 4096 + bridge) with three containers, the server
# on vxgw's access port (untagged, VNI 4096), vxgw on net_af_packet ports in its own
# namespace (tests/e2e/lib/overlay_lab.sh draws the topology). Checks, each counted:
#   ping server <-> every container; HTTP GET both ways; a 5 MiB transfer each way with
#   sha256 compared; ARP across the overlay (the server's neighbour table); the FDB
#   listing every MAC against the right VTEP or port (vxgwctl); the underlay neighbours
#   resolved by ARP; vxgw's VXLAN decoded by tshark as well-formed; a frame from an
#   unknown VTEP dropped and counted; a learned entry gone after the configured ageing.
# LAB_WORKERS=N runs vxgw with N workers (one af_packet queue pair each).
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VXGW=${VXGW:-$ROOT/target/debug/vxgw}
VXGWCTL=${VXGWCTL:-$ROOT/target/debug/vxgwctl}
export LAB_PREFIX=${LAB_PREFIX:-vxo_} LAB_HOST=1
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

AGEING=6
SOCK=$LAB_DIR/vxgw.sock
cat >"$LAB_DIR/vxgw.toml" <<EOF
[gateway]
vtep_ip = "172.30.0.1"

[[port]]
name = "net_af_packet0"
roles = ["underlay"]

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
ageing_secs = $AGEING
EOF
check "config is valid" "$VXGW" --check-config "$LAB_DIR/vxgw.toml"
lab_capture n1 u0 "$LAB_DIR/n1_u0.pcap" udp port 4789 || failed=$((failed + 1))
LAB_DPDK_PREFIXES+=("${LAB_PREFIX}gw_$$")
mapfile -t LCORES < <(lab_eal_lcores)
lab_spawn gw "$LAB_DIR/vxgw.log" "$VXGW" --config "$LAB_DIR/vxgw.toml" --socket "$SOCK" --state none -- \
    "${LCORES[@]}" --no-pci --no-huge -m 512 --file-prefix="${LAB_PREFIX}gw_$$" \
    --vdev="net_af_packet0,iface=ul0$(lab_afp_queues)" --vdev="net_af_packet1,iface=acc0$(lab_afp_queues)"
VXGW_PID=$LAB_LAST_PID
ctl() { lab_exec gw "$VXGWCTL" -s "$SOCK" "$@"; }
up=0
for _ in $(seq 1 100); do ctl status >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
check "vxgw is up and answers vxgwctl" test "$up" = 1
((up)) || { cat "$LAB_DIR/vxgw.log"; exit 1; }
lab_http_servers_start || failed=$((failed + 1))

# Reachability both ways (the first pings resolve ARP across the overlay).
for c in 11 12 13; do
    check "srv reaches 10.255.0.$c" lab_wait_ping srv "10.255.0.$c" 15
    check "c${c: -1} reaches srv" lab_exec "c$((c - 10))" ping -c 2 -W 2 -q 10.255.0.100
done
check "ARP across the overlay: srv knows c3's MAC" \
    bash -c "ip -n $(lab_ns srv) neigh show 10.255.0.13 | grep -q 02:42:0a:ff:00:0d"

# HTTP both ways, and 5 MiB each way with checksums.
http_ok() { # http_ok FROM URL EXPECT
    lab_exec "$1" curl -s --noproxy '*' -m 10 "$2" | grep -q "$3"
}
for c in 1 2 3; do
    check "HTTP srv -> c$c sees the server's own address" http_ok srv "http://10.255.0.1$c/" "c$c 10.255.0.100"
done
head -c $((5 * 1024 * 1024)) /dev/urandom >"$LAB_DIR/www/blob"
want=$(sha256sum "$LAB_DIR/www/blob" | cut -d' ' -f1)
# c1's server serves LAB_DIR/www: srv downloads it (container -> server direction).
got=$(lab_exec srv curl -s --noproxy '*' -m 60 "http://10.255.0.11/blob" | sha256sum | cut -d' ' -f1)
check "5 MiB c1 -> srv, sha256 matches" test "$got" = "$want"
# srv uploads it to c3 (server -> container direction, across the other node).
got=$(lab_exec srv curl -s --noproxy '*' -m 60 -T "$LAB_DIR/www/blob" "http://10.255.0.13/up" | cut -d' ' -f1)
check "5 MiB srv -> c3, sha256 matches" test "$got" = "$want"

# The FDB: containers against their node's VTEP, the server against the access port.
fdb=$(ctl -j fdb show --vni 4096)
fdb_has() { # fdb_has MAC JQ-LIKE-MATCH
    echo "$fdb" | /usr/bin/python3 -c "
import json, sys
rows = json.load(sys.stdin)
m = [r for r in rows if r['mac'] == sys.argv[1]]
sys.exit(0 if m and json.dumps(m[0]['dest']) == sys.argv[2] else 1)" "$1" "$2"
}
check "FDB: c1 behind 172.30.0.11" fdb_has 02:42:0a:ff:00:0b '"172.30.0.11"'
check "FDB: c2 behind 172.30.0.11" fdb_has 02:42:0a:ff:00:0c '"172.30.0.11"'
check "FDB: c3 behind 172.30.0.12" fdb_has 02:42:0a:ff:00:0d '"172.30.0.12"'
check "FDB: srv on the access port" fdb_has 02:00:0a:ff:00:64 '{"port": "net_af_packet1", "vlan": 0}'
ctl fdb show --vni 4096
neigh=$(ctl neigh show)
echo "$neigh"
check "neighbours: both nodes resolved by ARP" test "$(echo "$neigh" | grep -cE '^172\.30\.0\.1[12] +[0-9a-f]{2}:')" = 2

# vxgwctl trace: srv's frame to c3, as the access port would receive it, through the
# live tables without side effects: the FDB sends it to node 2's VTEP, resolved.
hex=$(/usr/bin/python3 -c 'from scapy.all import Ether, IP, UDP, raw
print(raw(Ether(src="02:00:0a:ff:00:64", dst="02:42:0a:ff:00:0d") / IP(src="10.255.0.100", dst="10.255.0.13") / UDP(sport=5555, dport=80) / b"x").hex())')
trace=$(ctl trace packet --port net_af_packet1 --hex "$hex")
echo "$trace"
check "trace: srv -> c3 goes to VTEP 172.30.0.12 (FDB), next hop resolved" bash -c \
    "grep -q 'fdb .*VTEP 172.30.0.12 (learned' <<<'$trace' && grep -q '^verdict: forwarded in VNI 4096' <<<'$trace' && grep -q -- '-> VXLAN to VTEP 172.30.0.12, next hop 172.30.0.12 at' <<<'$trace'"
check "trace: the outer headers vxgw would write" \
    grep -qE -- '-> outer 172\.30\.0\.1 -> 172\.30\.0\.12 .*UDP [0-9]+ -> 4789, VNI 4096, TTL 64' <<<"$trace"
verdict=$(ctl -j trace packet --port net_af_packet1 \
    --spec "eth src=02:00:0a:ff:00:64 dst=02:42:de:ad:be:ef / ipv4 src=10.255.0.100 dst=10.255.0.13 / udp 5555>80" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])')
check "trace: an unknown MAC is flooded to both nodes ($verdict)" test "$verdict" = "flooded in VNI 4096 (2 copies)"

# A VXLAN frame from a VTEP vxgw does not know (the debug host 172.30.0.99).
before=$(ctl -j stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"].get("unknown_vtep", 0))')
lab_exec h /usr/bin/python3 - <<'PY'
from scapy.all import Ether, IP, UDP, Raw, sendp, conf, getmacbyip
conf.verb = 0
inner = bytes.fromhex("ffffffffffff02000000009908060001080006040001020000000099ac1e0063000000000000ac1e0001")
vx = bytes([0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0x00]) + inner
dst = getmacbyip("172.30.0.1")
sendp(Ether(dst=dst) / IP(src="172.30.0.99", dst="172.30.0.1") / UDP(sport=55555, dport=4789) / Raw(vx),
      iface="u0", count=3)
PY
sleep 0.5
after=$(ctl -j stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"].get("unknown_vtep", 0))')
check "unknown VTEP dropped and counted ($before -> $after)" test "$after" -ge $((before + 3))

# vxgw's VXLAN, as node1 received it, decoded by tshark.
lab_capture_stop
n=$(tshark -r "$LAB_DIR/n1_u0.pcap" -Y 'ip.src == 172.30.0.1 && vxlan.vni == 4096 && eth.src == 02:00:0a:ff:00:64' 2>/dev/null | wc -l)
check "tshark decodes vxgw's VXLAN (VNI 4096, srv inside): $n frames" test "$n" -gt 10
bad=$(tshark -r "$LAB_DIR/n1_u0.pcap" -Y 'ip.src == 172.30.0.1 && (_ws.malformed || _ws.expert.severity >= 0x800000 || ip.checksum.status == 0)' \
    -o ip.check_checksum:TRUE 2>/dev/null | wc -l)
check "no malformed frame or bad outer IP checksum from vxgw ($bad)" test "$bad" = 0
sports=$(tshark -r "$LAB_DIR/n1_u0.pcap" -Y 'ip.src == 172.30.0.1' -T fields -e udp.srcport 2>/dev/null | sort -u | wc -l)
if [ "$bad" != 0 ]; then tshark -r "$LAB_DIR/n1_u0.pcap" -o ip.check_checksum:TRUE -Y 'ip.src == 172.30.0.1 && (_ws.malformed || _ws.expert.severity >= 0x800000 || ip.checksum.status == 0)' -V 2>/dev/null | grep -iE 'expert|malformed|checksum' | sort | uniq -c | head; fi
check "outer UDP source ports vary by flow ($sports distinct)" test "$sports" -gt 1

# Ageing: nothing from c2 for longer than the configured age -> its entry is gone.
lab_http_servers_stop
sleep $((AGEING + 3))
fdb=$(ctl -j fdb show --vni 4096)
check "FDB: c2 aged out after ${AGEING}s idle" bash -c "! echo '$fdb' | grep -q 02:42:0a:ff:00:0c"

if ((LAB_WORKERS > 1)); then
    busy=$(lab_workers_busy "$(ctl -j stats)")
    check "$busy of $LAB_WORKERS workers took traffic (af_packet spreads flows over queues)" test "$busy" -ge 2
fi
check "vxgw still running" kill -0 "$VXGW_PID"
ctl stats
exit $((failed > 0))
