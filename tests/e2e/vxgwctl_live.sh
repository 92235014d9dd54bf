#!/usr/bin/env bash
# vxgwctl against a running vxgw: every changing subcommand round-trips (the change,
# the matching show, config show), exit codes mean what the README says (1 refused,
# 2 usage, 3 socket missing or not accessible), and the running configuration
# survives kill -9 (restart with the same --state and the original --config).
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
has() { grep -qF -- "$2" <<<"$1"; } # has OUTPUT TEXT

start_vxgw() { # start_vxgw TAG
    "$VXGW" --config "$TMP/gw.toml" --socket "$SOCK" --state "$STATE" --metrics-addr none -- \
        -l 0-1 --no-pci --no-huge -m 256 --file-prefix="${PREFIX}_$1" \
        --vdev=net_null0,no-rx=1 --vdev=net_null1,no-rx=1 >>"$TMP/vxgw.log" 2>&1 &
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
    [ "$failed" = 0 ]
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

# Exit 2: usage errors, caught before anything is sent.
rc 2 "invalid MAC -> 2" --err "not a MAC address" -- fdb add 5000 zz --vtep 172.30.0.13
rc 2 "VNI 0 -> 2" --err "not a VNI" -- vni add 0
rc 2 "VNI 16777216 -> 2" -- vni show 16777216
rc 2 "VLAN 4095 -> 2" -- vni access add 5000 net_null1:4095
rc 2 "fdb add without a destination -> 2" -- fdb add 5000 02:00:00:00:50:09
rc 2 "bad IP -> 2" -- vtep add 172.30.0
rc 2 "unknown subcommand -> 2" -- vni frob
rc 2 "config apply of a missing file -> 2" -- config apply "$TMP/nope.toml"

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
