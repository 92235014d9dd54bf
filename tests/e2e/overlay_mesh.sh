#!/usr/bin/env bash
# End to end: vxgw's routing mesh between a real client and containers behind Linux
# kernel VTEPs.
#
#   tests/e2e/overlay_mesh.sh          (root; uses $VXGW / $VXGWCTL or target/debug/*)
#
# The netns lab (tests/e2e/lib/overlay_lab.sh, LAB_MESH=1): two swarm "nodes" (kernel
# VXLAN, VNI 4096) with three containers running an HTTP server on port 80 that
# answers "<name> <client address it saw>", and a client 192.0.2.10 on vxgw's external
# port. vxgw publishes TCP port 80 on 192.0.2.1 (configured live with vxgwctl) with the
# containers as backends. Checks, each counted:
#   ping of the published address; 1000 sequential and 200 concurrent curl requests
#   with zero failures and every container serving 25-42 % of them; the containers
#   see the ingress endpoint (SNAT mode), then the client's own address (preserve
#   mode); a 20 MiB download's sha256; a backend drained in the middle of a run loses
#   no request and takes no new ones; a removed backend's new flows go elsewhere;
#   conntrack, per-backend metrics and drop counters as vxgwctl and /metrics show them.
# LAB_WORKERS=N runs vxgw with N workers (one af_packet queue pair each).
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VXGW=${VXGW:-$ROOT/target/debug/vxgw}
VXGWCTL=${VXGWCTL:-$ROOT/target/debug/vxgwctl}
export LAB_PREFIX=${LAB_PREFIX:-vxm_} LAB_MESH=1
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
METRICS=127.0.0.1:$((19000 + $$ % 1000))
cat >"$LAB_DIR/vxgw.toml" <<EOF
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
EOF
check "config is valid" "$VXGW" --check-config "$LAB_DIR/vxgw.toml"
LAB_DPDK_PREFIXES+=("${LAB_PREFIX}gw_$$")
mapfile -t LCORES < <(lab_eal_lcores)
lab_spawn gw "$LAB_DIR/vxgw.log" "$VXGW" --config "$LAB_DIR/vxgw.toml" --socket "$SOCK" --state none \
    --metrics-addr "$METRICS" -- \
    "${LCORES[@]}" --no-pci --no-huge -m 512 --file-prefix="${LAB_PREFIX}gw_$$" \
    --vdev="net_af_packet0,iface=ul0$(lab_afp_queues)" --vdev="net_af_packet1,iface=acc0$(lab_afp_queues)" --vdev="net_af_packet2,iface=ext0$(lab_afp_queues)"
ctl() { lab_exec gw "$VXGWCTL" -s "$SOCK" "$@"; }
up=0
for _ in $(seq 1 100); do ctl status >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
check "vxgw is up and answers vxgwctl" test "$up" = 1
((up)) || { cat "$LAB_DIR/vxgw.log"; exit 1; }
lab_http_servers_start || failed=$((failed + 1))

check "publish tcp/80 on 192.0.2.1 with three backends (vxgwctl)" \
    ctl service add web --proto tcp --ip 192.0.2.1 --port 80 --vni 4096 --ingress 10.255.0.2 \
    --backend 10.255.0.11 --backend 10.255.0.12 --backend 10.255.0.13
ctl service show
tel=$(echo /vxgw/services | dpdk-telemetry.py -f "${LAB_PREFIX}gw_$$" 2>&1)
check "DPDK telemetry: /vxgw/services lists web" grep -q 'tcp 192.0.2.1:80 snat -> 10.255.0.11(1)' <<<"$tel"
check "the client pings the published address" lab_exec cl ping -c 2 -W 2 -q 192.0.2.1
sleep 1.5 # the backends' MACs: vxgw ARPs for them in the overlay once a second
ctl neigh show
check "neigh show: the backends' MACs learned in the overlay" \
    bash -c "test \$(grep -cE '^10\.255\.0\.1[123] +02:42:0a:ff:00:0[bcd] +dynamic +[0-9]+s +overlay +4096' <<<\"\$0\") = 3" "$(ctl neigh show)"
check "neigh show: the client learned on the external side" \
    bash -c "grep -qE '^192\.0\.2\.10 +[0-9a-f:]{17} +dynamic +[0-9]+s +link' <<<\"\$0\"" "$(ctl neigh show)"

# vxgwctl trace: a client's SYN to the published port, as the external port would
# receive it, through the live tables without side effects: the service, the backend
# Maglev picks, the translation, the VXLAN out to that backend's node.
ext_mac=$(ctl -j status | /usr/bin/python3 -c 'import json,sys; print([p["mac"] for p in json.load(sys.stdin)["ports"] if p["name"] == "net_af_packet2"][0])')
hex=$(/usr/bin/python3 -c 'import sys
from scapy.all import Ether, IP, TCP, raw
print(raw(Ether(src="02:00:c0:00:02:0a", dst=sys.argv[1]) / IP(src="192.0.2.10", dst="192.0.2.1") / TCP(sport=44444, dport=80, flags="S")).hex())' "$ext_mac")
created_before=$(ctl -j conntrack count | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["created"])')
trace=$(ctl trace packet --port net_af_packet2 --hex "$hex")
echo "$trace"
check "trace: a client SYN -> service web, a backend, SNAT, VXLAN to its node" bash -c \
    "grep -q 'service .*web' <<<'$trace' && grep -qE 'new-connection .*Maglev picks backend 10\.255\.0\.1[123]:80, SNAT source 10\.255\.0\.2:' <<<'$trace' && grep -q '^verdict: forwarded in VNI 4096' <<<'$trace' && grep -qE -- '-> VXLAN to VTEP 172\.30\.0\.1[12]' <<<'$trace'"
created_after=$(ctl -j conntrack count | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["created"])')
check "trace: no connection made ($created_before -> $created_after)" test "$created_before" = "$created_after"
check "trace: the Maglev slot of the flow" grep -qE 'maglev +flow hash 0x[0-9a-f]{16}: slot [0-9]+ of 65537' <<<"$trace"

# vxgwctl trace live: the next 2 TCP packets of the client to port 80 (its ping and
# ARP are not), recorded by the workers while a real curl goes through.
ctl trace live --port net_af_packet2 --count 2 --filter "host 192.0.2.10 and tcp port 80" --wait 20 \
    >"$LAB_DIR/live.txt" 2>&1 &
live_pid=$!
sleep 0.3
lab_exec cl ping -c 1 -W 2 -q 192.0.2.1 >/dev/null
lab_exec cl curl -s --noproxy '*' -m 10 -o /dev/null "http://192.0.2.1/"
wait "$live_pid"
cat "$LAB_DIR/live.txt"
check "trace live: 2 packets of the client's connection, its SYN first, made and forwarded" bash -c '
    grep -q "^live trace: 2 of 2 packets (net_af_packet2), stopped" "$0" &&
    grep -q "^filter: host 192.0.2.10 and tcp port 80" "$0" &&
    grep -qE "192\.0\.2\.10:[0-9]+ > 192\.0\.2\.1:80 tcp \[S\]" "$0" &&
    grep -qE "new-connection +Maglev picks backend 10\.255\.0\.1[123]:80, SNAT source 10\.255\.0\.2:[0-9]+$" "$0" &&
    grep -qE "conntrack +the client.s key of a tracked connection \(SynRecv\), backend 10\.255\.0\.1[123]:80" "$0" &&
    test "$(grep -c "verdict: forwarded in VNI 4096" "$0")" = 2' "$LAB_DIR/live.txt"
tel=$(echo /vxgw/trace | dpdk-telemetry.py -f "${LAB_PREFIX}gw_$$" 2>&1)
check "DPDK telemetry: /vxgw/trace shows the last trace, stopped, with its filter" bash -c \
    'grep -q "\"armed\": 0" <<<"$0" && grep -q "\"filter\": \"host 192.0.2.10 and tcp port 80\"" <<<"$0" && grep -q "\"recorded\": 2" <<<"$0"' "$tel"

# tally FILE: "c1 c2 c3 ok total" counts of the response lines of a run.
tally() {
    /usr/bin/python3 - "$1" <<'PY'
import collections, sys
lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
c = collections.Counter(l[0] for l in lines if len(l) == 2)
print(c["c1"], c["c2"], c["c3"], sum(c.values()), len(lines))
PY
}
# share_ok N A B C: every one of A B C is 25-42 % of N
share_ok() {
    local n=$1 x; shift
    for x in "$@"; do
        ((x * 100 >= 25 * n && x * 100 <= 42 * n)) || return 1
    done
}
curl_run() { # curl_run OUT N [curl options...]: N requests, one connection each
    local out=$1 n=$2; shift 2
    lab_exec cl curl -s --noproxy '*' -m 60 --retry 0 "$@" "http://192.0.2.1/?r=[1-$n]" >"$out" 2>"$out.err"
}

# 1000 sequential requests (curl opens one connection per request: HTTP/1.0 server).
curl_run "$LAB_DIR/seq.out" 1000
read -r a b c ok total < <(tally "$LAB_DIR/seq.out")
echo "sequential: c1=$a c2=$b c3=$c ok=$ok lines=$total"
check "1000 sequential requests, zero failures" test "$ok" = 1000
check "sequential: each container serves 25-42 % ($a/$b/$c)" share_ok 1000 "$a" "$b" "$c"
check "SNAT mode: the containers see the ingress endpoint" \
    bash -c "! grep -v ' 10.255.0.2\$' '$LAB_DIR/seq.out' | grep -q ."

# 200 concurrent requests.
curl_run "$LAB_DIR/par.out" 200 --parallel --parallel-max 200 --parallel-immediate
read -r a b c ok total < <(tally "$LAB_DIR/par.out")
echo "concurrent: c1=$a c2=$b c3=$c ok=$ok lines=$total"
check "200 concurrent requests, zero failures" test "$ok" = 200
# The share is checked over all 1200 requests: 200 alone would miss 25-42 % by
# chance in about one run in four (one sigma is 3.3 %).
cat "$LAB_DIR/seq.out" "$LAB_DIR/par.out" >"$LAB_DIR/all.out"
read -r a b c ok total < <(tally "$LAB_DIR/all.out")
check "all 1200: each container serves 25-42 % ($a/$b/$c)" share_ok 1200 "$a" "$b" "$c"

# A large download through the mesh (every container serves the same file).
head -c $((20 * 1024 * 1024)) /dev/urandom >"$LAB_DIR/www/blob"
want=$(sha256sum "$LAB_DIR/www/blob" | cut -d' ' -f1)
got=$(lab_exec cl curl -s --noproxy '*' -m 120 "http://192.0.2.1/blob" | sha256sum | cut -d' ' -f1)
check "20 MiB download, sha256 matches" test "$got" = "$want"

# Conntrack and metrics after the runs.
ctl conntrack count
read -r n created < <(ctl -j conntrack count | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["count"], d["created"])')
# A client port reused after a finished connection replaces that entry (balanced afresh).
check "conntrack created one connection per request ($created), holds $n" \
    bash -c "test $created = 1202 && test $n -ge 1000" # 1000 + 200 + the download + the traced one
metrics=$(lab_exec gw curl -s --noproxy '*' -m 5 "http://$METRICS/metrics")
conns=$(echo "$metrics" | awk '/^vxgw_backend_connections_total\{/ {s += $2} END {print s + 0}')
check "per-backend connection counters sum to the requests ($conns)" test "$conns" = 1202
metric_ok() { grep -Eq "$1" <<<"$metrics"; }
check "the mesh metrics pass promtool check metrics" bash -c "promtool check metrics <<<\"\$0\"" "$metrics"
check "per-backend byte counters move" \
    metric_ok '^vxgw_backend_bytes_total\{.*backend="10.255.0.11".*direction="to_client".*\} [1-9]' 

# Drain c2 in the middle of a sequential run: nothing lost, no new flows to c2.
curl_run "$LAB_DIR/drain.out" 400 &
run=$!
sleep 1
check "drain 10.255.0.12 (vxgwctl backend drain)" ctl backend drain web 10.255.0.12
wait "$run"
read -r a b c ok total < <(tally "$LAB_DIR/drain.out")
echo "drain run: c1=$a c2=$b c3=$c ok=$ok lines=$total"
check "draining mid-run loses no request" test "$ok" = 400
curl_run "$LAB_DIR/drained.out" 200
read -r a b c ok total < <(tally "$LAB_DIR/drained.out")
echo "after drain: c1=$a c2=$b c3=$c ok=$ok"
check "after the drain: c2 takes no new flows, 200 ok" test "$ok:$b" = "200:0"

# Remove c3: its new flows go to c1 (c2 is still drained).
check "remove 10.255.0.13 (vxgwctl backend del)" ctl backend del web 10.255.0.13
curl_run "$LAB_DIR/removed.out" 100
read -r a b c ok total < <(tally "$LAB_DIR/removed.out")
echo "after removal: c1=$a c2=$b c3=$c ok=$ok"
check "after the removal: all 100 on c1" test "$ok:$a" = "100:100"

# Preserve mode: the containers see the client's address. They reply through vxgw,
# their overlay gateway for the client network.
for i in 1 2 3; do lab_exec "c$i" ip route add 192.0.2.0/24 via 10.255.0.1; done
republish_preserve() {
    ctl service del web && ctl service add web --proto tcp --ip 192.0.2.1 --port 80 --vni 4096 \
        --ingress 10.255.0.2 --mode preserve --backend 10.255.0.11 --backend 10.255.0.12 --backend 10.255.0.13
}
check "service re-published in preserve mode" republish_preserve
curl_run "$LAB_DIR/preserve.out" 300
read -r a b c ok total < <(tally "$LAB_DIR/preserve.out")
echo "preserve: c1=$a c2=$b c3=$c ok=$ok"
check "preserve mode: 300 requests ok, all three serve" bash -c "test $ok = 300 && test $a -gt 0 && test $b -gt 0 && test $c -gt 0"
check "preserve mode: the containers see 192.0.2.10" \
    bash -c "! grep -v ' 192.0.2.10\$' '$LAB_DIR/preserve.out' | grep -q ."

drops=$(ctl -j stats | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["drops"]; print(" ".join(f"{k}={v}" for k,v in d.items()))')
echo "drops: ${drops:-none}"
check "no connection refused or unroutable" bash -c "! echo '$drops' | grep -Eq 'conntrack_full|snat_ports_exhausted|no_backend|not_routable|neighbour_timeout'"
if ((LAB_WORKERS > 1)); then
    busy=$(lab_workers_busy "$(ctl -j stats)")
    check "$busy of $LAB_WORKERS workers took traffic (af_packet spreads flows over queues)" test "$busy" -ge 2
fi
ctl stats | tail -n 20
exit $((failed > 0))
