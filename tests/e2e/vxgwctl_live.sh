#!/usr/bin/env bash
# vxgwctl against a running vxgw: every changing subcommand round-trips (the change,
# the matching show, config show), exit codes mean what the README says (1 refused,
# 2 usage, 3 socket missing or not accessible), and the running configuration
# survives kill -9 (restart with the same --state and the original --config).
# The routing mesh's commands too: service add/show/del, backend add/drain/set/del,
# refusals that change nothing, conntrack count/show/flush (on an empty table: no
# traffic here).
#
#   tests/e2e/vxgwctl_live.sh      (root for EAL; builds nothing: uses $VXGW / $VXGWCTL
#                                   or target/debug/{vxgw,vxgwctl})
#
# vxgw runs in the root namespace on net_null vdevs (no-rx) with --no-huge, a temporary
# socket and state file. Last line: "N passed, M failed"; non-zero exit on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VXGW=${VXGW:-$ROOT/target/debug/vxgw}
VXGWCTL=${VXGWCTL:-$ROOT/target/debug/vxgwctl}
TMP=$(mktemp -d /tmp/vxgwctl_live.XXXXXX)
SOCK=$TMP/vxgw.sock
STATE=$TMP/state/running.toml
PREFIX=vxctl_$$
VXGW_PID=

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { # bad NAME [OUTPUT]
    failed=$((failed + 1)); echo "FAIL $1"
    [ -n "${2:-}" ] && while IFS= read -r l; do echo "     $l"; done <<<"$2"
    return 0
}
check() { # check NAME CMD...
    local name=$1; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
# rc WANT NAME [--err TEXT] -- vxgwctl ARGS...: exit status WANT (and stderr containing TEXT)
rc() {
    local want=$1 name=$2 text=
    shift 2
    if [ "$1" = --err ]; then text=$2; shift 2; fi
    [ "$1" = -- ] && shift
    local out got
    out=$("$VXGWCTL" -s "$SOCK" "$@" 2>&1); got=$?
    if [ "$got" = "$want" ] && { [ -z "$text" ] || grep -qF -- "$text" <<<"$out"; }; then
        ok "$name"
    else
        bad "$name (exit $got, want $want${text:+, text \"$text\"})" "$out"
    fi
}
ctl() { "$VXGWCTL" -s "$SOCK" "$@"; }
# jcheck NAME JSON EXPR: the Python expression EXPR is true of v = the parsed JSON
jcheck() {
    if python3 -c "import json, sys; v = json.loads(sys.argv[1]); sys.exit(0 if ($3) else 1)" "$2"; then
        ok "$1"
    else
        bad "$1" "$2"
    fi
}
has() { grep -qF -- "$2" <<<"$1"; } # has OUTPUT TEXT

start_vxgw() { # start_vxgw TAG
    "$VXGW" --config "$TMP/gw.toml" --socket "$SOCK" --state "$STATE" --metrics-addr none -- \
        -l 0-1 --no-pci --no-huge -m 256 --file-prefix="${PREFIX}_$1" \
        --vdev=net_null0,no-rx=1 --vdev=net_null1,no-rx=1 --vdev=net_null2,no-rx=1 \
        >>"$TMP/vxgw.log" 2>&1 &
    VXGW_PID=$!
    for _ in $(seq 1 200); do
        ctl status >/dev/null 2>&1 && return 0
        kill -0 "$VXGW_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "vxgw did not come up:"; cat "$TMP/vxgw.log"
    return 1
}
finish() {
    if [ -n "$VXGW_PID" ] && kill -0 "$VXGW_PID" 2>/dev/null; then
        kill -INT "$VXGW_PID"; wait "$VXGW_PID" 2>/dev/null
    fi
    rm -rf "$TMP" /var/run/dpdk/"${PREFIX}"_*
    echo "$passed passed, $failed failed"
    # An EXIT trap's own status is not the script's: exit with it.
    [ "$failed" = 0 ] || exit 1
}
trap finish EXIT
[[ -x $VXGW && -x $VXGWCTL ]] || { echo "build first: $VXGW, $VXGWCTL"; failed=1; exit 1; }

cat >"$TMP/gw.toml" <<'EOF'
[gateway]
vtep_ip = "172.30.0.1"
fdb_capacity = 4096

[[port]]
name = "net_null0"
roles = ["underlay"]

[[port]]
name = "net_null1"
roles = ["access"]

[[port]]
name = "net_null2"
roles = ["external"]

[[vtep]]
ip = "172.30.0.11"

[[vni]]
id = 4096
flood = ["172.30.0.11"]
access = [{ port = "net_null1", vlan = 100 }]
EOF

rc 3 "no vxgw yet: socket missing -> exit 3" --err "no vxgw is listening" -- status
start_vxgw 1 || { failed=$((failed + 1)); exit 1; }
rc 0 "status" -- status
out=$(ctl status)
check "status: the gateway's line" has "$out" "workers [1]  config generation 1  state $STATE"
check "status: a row per port, link up" test "$(grep -Ec '^[0-9] +net_null[0-9] .* up ' <<<"$out")" = 3
out=$(ctl stats)
check "stats: totals, events, drops" eval 'has "$out" "rx_packets " && has "$out" "events:" && has "$out" "drops:"'
jcheck "stats -j: counters by name, a worker" "$(ctl -j stats)" 'isinstance(v["rx_packets"], int) and
    isinstance(v["drops"], dict) and isinstance(v["events"], dict) and len(v["workers"]) >= 1'
check "no state file before the first change" test ! -e "$STATE"

# Changes, each followed by the show that must reflect it.
rc 0 "vtep add" -- vtep add 172.30.0.13
check "vtep show lists it" has "$(ctl vtep show)" "172.30.0.13"
rc 0 "vni add with flood, access, arp" -- vni add 5000 --flood 172.30.0.13 --access net_null1:200 \
    --ageing 60 --gateway-ip 10.0.5.1 --arp 10.0.5.9=02:00:00:00:05:09
out=$(ctl vni show 5000)
check "vni show: flood, access, ageing" has "$out" "5000  172.30.0.13  net_null1:200  65536        60s"
rc 0 "vni flood add" -- vni flood add 4096 172.30.0.13
check "vni show 4096: two flood VTEPs" has "$(ctl vni show 4096)" "172.30.0.11,172.30.0.13"
rc 0 "vni flood del" -- vni flood del 4096 172.30.0.13
check "vni show 4096: one flood VTEP" has "$(ctl vni show 4096)" "4096  172.30.0.11  "
rc 0 "vni access add" -- vni access add 5000 net_null1:201
check "vni show: two access members" has "$(ctl vni show 5000)" "net_null1:200,net_null1:201"
rc 0 "vni access del" -- vni access del 5000 net_null1:201
rc 0 "vni set" -- vni set 5000 --learn-limit 50 --gateway-ip none
out=$(ctl -j vni show 5000)
check "vni show -j: learn_limit 50, no gateway" python3 -c '
import json, sys
v = json.loads(sys.argv[1])[0]
sys.exit(not (v["learn_limit"] == 50 and v["gateway_ip"] is None))' "$out"
rc 0 "fdb add --vtep" -- fdb add 5000 02:00:00:00:50:01 --vtep 172.30.0.13
rc 0 "fdb add --port --vlan" -- fdb add 5000 02:00:00:00:50:02 --port net_null1 --vlan 200
out=$(ctl fdb show --vni 5000)
check "fdb show: static behind the VTEP" has "$out" "02:00:00:00:50:01  vtep 172.30.0.13"
check "fdb show: static on the port" has "$out" "02:00:00:00:50:02  port net_null1 vlan 200  static"
rc 0 "fdb del" -- fdb del 5000 02:00:00:00:50:02
check "fdb show: one entry left" test "$(ctl -j fdb show --vni 5000 | grep -c '"mac"')" = 1
rc 0 "neigh add" -- neigh add 172.30.0.13 02:00:00:00:13:13
check "neigh show: static" has "$(ctl neigh show)" "172.30.0.13  02:00:00:00:13:13  static"
check "vtep show: next hop resolved" has "$(ctl vtep show)" "172.30.0.13  172.30.0.13  02:00:00:00:13:13  5000"
rc 0 "arp add" -- arp add 4096 10.255.0.7 02:00:00:00:00:07
check "arp show" has "$(ctl arp show --vni 4096)" "4096  10.255.0.7  02:00:00:00:00:07"
rc 0 "arp del" -- arp del 4096 10.255.0.7
check "arp show: gone" test "$(ctl arp show --vni 4096 | wc -l)" = 1
check "config show is TOML with the changes" has "$(ctl config show)" "id = 5000"
state_valid() { "$VXGW" --check-config "$STATE" >/dev/null; }
check "the state file is saved and valid" state_valid

# Exit 1: vxgw refuses, with its reason; nothing changes.
before=$(ctl config show)
rc 1 "unknown VNI -> 1" --err "unknown VNI 4097" -- vni del 4097
rc 1 "flood to a non-VTEP -> 1" --err "172.30.0.99 is not a configured [[vtep]]" -- vni flood add 4096 172.30.0.99
rc 1 "VTEP still in a flood list -> 1" --err "still used by the flood list of VNI 5000" -- vtep del 172.30.0.13
rc 1 "duplicate VNI -> 1" --err "VNI 5000 already exists" -- vni add 5000
sed 's/net_null1/net_null7/g' "$TMP/gw.toml" >"$TMP/other_ports.toml"
rc 1 "config apply with other ports -> 1" --err "ports cannot change while running" -- config apply "$TMP/other_ports.toml"
check "refusals changed nothing" test "$(ctl config show)" = "$before"

# Routing mesh: services and backends, each change reflected in service show -j.
rc 0 "service add" -- service add web --proto tcp --port 80 --vni 4096 --ingress 10.255.0.2 \
    --target-port 8080 --backend 10.255.0.11 --backend 10.255.0.12:3
out=$(ctl -j service show)
jcheck "service show -j: the service" "$out" 'len(v) == 1 and {k: v[0][k] for k in
    ("name", "protocol", "published_ip", "published_port", "vni", "ingress_ip", "target_port", "mode",
     "maglev_size", "connections")} == {"name": "web", "protocol": "tcp", "published_ip": None,
     "published_port": 80, "vni": 4096, "ingress_ip": "10.255.0.2", "target_port": 8080, "mode": "snat",
     "maglev_size": 65537, "connections": 0} and isinstance(v[0]["id"], int)'
jcheck "service show -j: its backends" "$out" 'v[0]["backends"] == [
    {"ip": "10.255.0.11", "weight": 1, "state": "active", "connections": 0},
    {"ip": "10.255.0.12", "weight": 3, "state": "active", "connections": 0}]'
out=$(ctl service show)
check "service show: the service line" has "$out" "web   tcp    *:80       4096  10.255.0.2  8080    snat  2         0"
check "service show: its backends" has "$out" "  10.255.0.12  3       active  0"
backends() { ctl -j service show web | python3 -c 'import json, sys
print(" ".join("%s/%s/%s" % (b["ip"], b["weight"], b["state"]) for b in json.load(sys.stdin)[0]["backends"]))'; }
rc 0 "backend add --weight" -- backend add web 10.255.0.13 --weight 2
check "backend add: in service show" test "$(backends)" = "10.255.0.11/1/active 10.255.0.12/3/active 10.255.0.13/2/active"
rc 0 "backend drain" -- backend drain web 10.255.0.11
check "backend drain: weight 0, drained" test "$(backends)" = "10.255.0.11/0/drained 10.255.0.12/3/active 10.255.0.13/2/active"
check "service show: 1 drained" has "$(ctl service show web)" "3 (1 drained)"
rc 0 "backend set" -- backend set web 10.255.0.11 --weight 5
check "backend set: weight 5, active" test "$(backends)" = "10.255.0.11/5/active 10.255.0.12/3/active 10.255.0.13/2/active"
out=$(ctl backend del web 10.255.0.13 2>&1)
check "backend del: says what changed" has "$out" "service web changed"
check "backend del: gone from service show" test "$(backends)" = "10.255.0.11/5/active 10.255.0.12/3/active"
rc 0 "service add udp, published address, preserve" -- service add dns --proto udp --port 53 --ip 192.0.2.53 \
    --vni 4096 --ingress 10.255.0.3 --mode preserve --maglev-size 251 --backend 10.255.0.21
jcheck "service show dns -j" "$(ctl -j service show dns)" 'v[0]["protocol"] == "udp" and
    v[0]["published_ip"] == "192.0.2.53" and v[0]["target_port"] == 53 and v[0]["mode"] == "preserve" and
    v[0]["maglev_size"] == 251 and [b["ip"] for b in v[0]["backends"]] == ["10.255.0.21"]'
rc 0 "service del" -- service del dns
rc 1 "service show of a deleted service -> 1" --err "unknown service 'dns'" -- service show dns
out=$(ctl config show)
check "config show: the [[service]]" has "$out" "[[service]]"
check "config show: its name and backends" python3 -c '
import sys, tomllib
s = tomllib.loads(sys.argv[1])["service"]
sys.exit(not (len(s) == 1 and s[0]["name"] == "web" and s[0]["target_port"] == 8080 and
    [(b["ip"], b["weight"]) for b in s[0]["backends"]] == [("10.255.0.11", 5), ("10.255.0.12", 3)]))' "$out"
check "the state file with the service is valid" state_valid

# Refused (exit 1, with the reason), and nothing changes.
before=$(ctl config show)
rc 1 "backend add to an unknown service -> 1" --err "unknown service 'nope'" -- backend add nope 10.255.0.9
rc 1 "duplicate backend -> 1" --err "backend 10.255.0.12 is already in service 'web'" -- backend add web 10.255.0.12
rc 1 "backend = ingress endpoint -> 1" --err "backend 10.255.0.2 is the ingress endpoint of service 'web'" -- \
    backend add web 10.255.0.2
rc 1 "backend del of a non-member -> 1" --err "backend 10.255.0.99 is not in service 'web'" -- backend del web 10.255.0.99
rc 1 "backend drain of a non-member -> 1" --err "is not in service 'web'" -- backend drain web 10.255.0.99
rc 1 "backend set in an unknown service -> 1" --err "unknown service 'nope'" -- backend set nope 10.255.0.11 --weight 1
rc 1 "duplicate service -> 1" --err "service 'web' already exists" -- \
    service add web --proto tcp --port 81 --vni 4096 --ingress 10.255.0.2
rc 1 "service in an unknown VNI -> 1" --err "service 'api' vni: 4097 is not a configured VNI" -- \
    service add api --proto tcp --port 81 --vni 4097 --ingress 10.255.0.2
rc 1 "port already published -> 1" --err "port 80 on any address is already published" -- \
    service add api --proto tcp --port 80 --vni 4096 --ingress 10.255.0.2
rc 1 "Maglev size not a prime -> 1" --err "maglev_size: 100 is not a prime" -- \
    service add api --proto tcp --port 81 --vni 4096 --ingress 10.255.0.2 --maglev-size 100
rc 1 "service del of an unknown service -> 1" --err "unknown service 'nope'" -- service del nope
rc 1 "unknown state name -> 1" --err "unknown connection state 'bogus'" -- conntrack show --state bogus
rc 1 "conntrack count of an unknown service -> 1" --err "unknown service 'nope'" -- conntrack count --service nope
rc 1 "conntrack flush without a filter or --all -> 1" --err "give a filter" -- conntrack flush
check "mesh refusals changed nothing" test "$(ctl config show)" = "$before"

# The connection table (empty: net_null receives nothing).
jcheck "conntrack count -j: empty" "$(ctl -j conntrack count)" 'v["count"] == 0 and
    set(v["states"]) >= {"established", "syn_sent", "udp_replied"} and sum(v["states"].values()) == 0 and
    all(isinstance(v[k], int) for k in ("created", "expired", "evicted", "refused", "removed"))'
check "conntrack count: 0 connections" has "$(ctl conntrack count --service web --state established)" "0 connections"
check "conntrack show: header only" test "$(ctl conntrack show --service web | wc -l)" = 1
check "conntrack show: the columns" has "$(ctl conntrack show)" "PROTO  CLIENT  PUBLISHED  BACKEND  SNAT  SERVICE  STATE  IDLE  OWNER"
check "conntrack show -j: []" test "$(ctl -j conntrack show --client 198.51.100.1 --limit 5)" = "[]"
check "conntrack flush --all" has "$(ctl conntrack flush --all)" "removed 0 connections"
jcheck "conntrack flush --backend -j" "$(ctl -j conntrack flush --service web --backend 10.255.0.11)" 'v == {"removed": 0}'

# Exit 2: usage errors, caught before anything is sent.
rc 2 "invalid MAC -> 2" --err "not a MAC address" -- fdb add 5000 zz --vtep 172.30.0.13
rc 2 "VNI 0 -> 2" --err "not a VNI" -- vni add 0
rc 2 "VNI 16777216 -> 2" -- vni show 16777216
rc 2 "VLAN 4095 -> 2" -- vni access add 5000 net_null1:4095
rc 2 "fdb add without a destination -> 2" -- fdb add 5000 02:00:00:00:50:09
rc 2 "bad IP -> 2" -- vtep add 172.30.0
rc 2 "unknown subcommand -> 2" -- vni frob
rc 2 "config apply of a missing file -> 2" -- config apply "$TMP/nope.toml"
rc 2 "service port 0 -> 2" --err "not a port" -- service add x --proto tcp --port 0 --vni 4096 --ingress 10.255.0.2
rc 2 "service proto sctp -> 2" -- service add x --proto sctp --port 80 --vni 4096 --ingress 10.255.0.2
rc 2 "service mode dsr -> 2" -- service add x --proto tcp --port 80 --vni 4096 --ingress 10.255.0.2 --mode dsr
rc 2 "service bad ingress IP -> 2" -- service add x --proto tcp --port 80 --vni 4096 --ingress 10.255.0
rc 2 "service bad backend weight -> 2" --err "not a weight" -- \
    service add x --proto tcp --port 80 --vni 4096 --ingress 10.255.0.2 --backend 10.255.0.5:w
rc 2 "backend bad IP -> 2" -- backend add web 10.255.0.300
rc 2 "backend set without --weight -> 2" -- backend set web 10.255.0.11
rc 2 "conntrack bad client IP -> 2" -- conntrack show --client 198.51.100
rc 2 "conntrack flush --all with a filter -> 2" -- conntrack flush --all --service web

# Exit 3: socket missing, or not accessible to an unprivileged user.
out=$("$VXGWCTL" -s "$TMP/nope.sock" status 2>&1); got=$?
if [ "$got" = 3 ] && has "$out" "no vxgw is listening"; then ok "missing socket -> 3"; else bad "missing socket -> 3 (exit $got)" "$out"; fi
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups "$VXGWCTL" --version >/dev/null 2>&1; then
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$VXGWCTL" -s "$SOCK" status 2>&1); got=$?
    if [ "$got" = 3 ] && has "$out" "permission denied"; then ok "unprivileged user -> 3 (permission denied)"; else bad "unprivileged user -> 3" "$out"; fi
else
    echo "skip unprivileged user check (nobody cannot run $VXGWCTL)"
fi

# config apply: the startup file again, then the same file (no change).
ctl config show >"$TMP/running_before.toml"
out=$(ctl config apply "$TMP/gw.toml" 2>&1)
check "config apply: summary" has "$out" "vni 5000 deleted"
check "config apply: service web deleted" has "$out" "service web deleted"
check "config apply: VNI 5000 gone" test "$(ctl -j vni show | grep -c '"id"')" = 1
rc 0 "config apply: back to the saved text" -- config apply "$TMP/running_before.toml"
check "config apply: config show is the applied text" test "$(ctl config show)" = "$(cat "$TMP/running_before.toml")"
check "config apply of the running config: no change" has "$(ctl config apply "$TMP/running_before.toml")" "no change"
rc 0 "fdb flush --all" -- fdb flush --vni 5000 --all
check "fdb flush --all removed the static entry" test "$(ctl -j fdb show --vni 5000)" = "[]"

# kill -9, restart with the same --state and the original --config.
shown=$(ctl config show)
kill -9 "$VXGW_PID"; wait "$VXGW_PID" 2>/dev/null; VXGW_PID=
start_vxgw 2 || { failed=$((failed + 1)); exit 1; }
check "restart logs the restore" grep -qF "restoring running configuration from $STATE" "$TMP/vxgw.log"
check "kill -9 + restart: config show unchanged" test "$(ctl config show)" = "$shown"
check "kill -9 + restart: VNI 5000 is back" has "$(ctl vni show)" "5000"
jcheck "kill -9 + restart: service web is back with its backends" "$(ctl -j service show web)" \
    '[(b["ip"], b["weight"]) for b in v[0]["backends"]] == [("10.255.0.11", 5), ("10.255.0.12", 3)]'

