#!/usr/bin/env bash
# tests/e2e/overlay_lab_selftest.sh - proves lib/overlay_lab.sh with Linux kernel peers only
# (no vxgw).  The kernel stands in for vxgw inside the gw namespace (lab_standin_up: ul0 gets
# 172.30.0.1, a kernel vx4096 bridged with acc0, flood list n1+n2); then real ARP, ping,
# HTTP and a 5 MiB TCP transfer each way cross the overlay, and captures on the gw's ports
# show that what an af_packet socket there receives is usable as-is (frames <= 1514 bytes,
# correct inner TCP checksums), i.e. that the checksum-offload settings are right.
# Also checked: the nodes' fdb learns srv behind 172.30.0.1; a second lab_up with the same
# prefix refuses and touches nothing; a lab_up failing halfway is cleaned up; a second lab
# (prefix ${LAB_PREFIX}i_) interrupted by SIGTERM cleans up after itself only; the stand-in
# is removed again; after lab_down no "$LAB_PREFIX" namespace remains.
#
# Usage (root): tests/e2e/overlay_lab_selftest.sh
#   env: LAB_PREFIX (default vxl_), LAB_MESH (default 1 here), LAB_KEEP_DIR=1 (keep LAB_DIR)
# One line per check, "# phase  seconds" lines, the last line is "N passed, M failed";
# exit 1 on any failure.  A failing capture check keeps its pcap in /tmp and says so.
# Cleans up on exit, Ctrl-C and SIGTERM.  Takes ~10-15 s.
# The check primitives below are only called through check(): SC2317 is expected.
# shellcheck disable=SC2317
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${LAB_MESH:=1}"
# shellcheck source=lib/overlay_lab.sh
source "$HERE/lib/overlay_lab.sh"

PASS=0 FAIL=0 OUT="" OUTF="" CHILD="" T0=$(date +%s.%N) TPHASE="" PHASE=""
BLOB_BYTES=$((5 * 1024 * 1024))

# runs on exit before lab_down (lab_trap_exit: INT/TERM are ignored meanwhile)
cleanup() {
    if [[ -n $CHILD ]] && kill -0 "$CHILD" 2>/dev/null; then lab_stop_pid "$CHILD" TERM 15; fi
    [[ -n $OUTF ]] && rm -f "$OUTF"
}
lab_trap_exit cleanup
OUTF=$(mktemp "${TMPDIR:-/tmp}/${LAB_PREFIX}selftest.XXXXXX")

# check NAME CMD... : pass if CMD succeeds. CMD runs in this shell (lab_* functions keep
# their state), its output goes to OUTF and is shown on failure.
check() {
    local name=$1 rc
    shift
    "$@" >"$OUTF" 2>&1
    rc=$?
    OUT=$(<"$OUTF")
    if ((rc == 0)); then
        PASS=$((PASS + 1)); echo "ok   $name"
    else
        FAIL=$((FAIL + 1)); echo "FAIL $name"
        echo "     command: $*"
        head -n 20 <<<"$OUT" | while IFS= read -r l; do echo "     | $l"; done
    fi
}
now() { date +%s.%N; }
phase() {   # phase NAME : print the time since the previous phase
    local t
    t=$(now)
    [[ -n $TPHASE ]] && awk -v a="$TPHASE" -v b="$t" -v p="$PHASE" 'BEGIN {printf "# %-34s %5.1f s\n", p, b - a}'
    PHASE=$1 TPHASE=$t
}
finish() {
    phase end
    awk -v a="$T0" -v b="$(now)" 'BEGIN {printf "# total %.1f s\n", b - a}'
    echo "$PASS passed, $FAIL failed"
    ((FAIL == 0))
    exit
}

# --- check primitives -------------------------------------------------------------------
ns_exists() { ip netns list | awk '{print $1}' | grep -qxF -- "$(lab_ns "$1")"; }
no_ipv4() { ! lab_exec "$1" ip -4 -o addr show dev "$2" | grep -q inet; }
txoff() { lab_exec "$1" ethtool -k "$2" | grep -qx 'tx-checksumming: off'; }
link_has() {   # link_has NS IF WORD... : `ip -d link show` of IF contains every WORD
    local ns=$1 ifc=$2 w s
    shift 2
    s=$(lab_exec "$ns" ip -d link show dev "$ifc") || return 1
    echo "$s"
    for w in "$@"; do grep -qF -- "$w" <<<"$s" || { echo "missing: $w"; return 1; }; done
}
fdb_has() {   # fdb_has NS REGEX : `bridge fdb show dev vx4096` in NS matches REGEX
    local s
    s=$(lab_exec "$1" bridge fdb show dev vx4096) || return 1
    echo "$s"
    grep -qiE -- "$2" <<<"$s"
}
no_ping() { ! lab_exec "$1" ping -c 1 -W 1 -q "$2"; }
http_is() {   # http_is FROM_NS URL EXPECTED_BODY
    local body
    body=$(lab_exec "$1" curl -sS --noproxy '*' -m 10 "$2") || return 1
    echo "got: '$body' want: '$3'"
    [[ $body == "$3" ]]
}
download_sha() {   # download_sha FROM_NS URL SHA
    local got
    got=$(lab_exec "$1" curl -sS --noproxy '*' -m 30 "$2" | sha256sum | cut -d' ' -f1)
    echo "got $got want $3"
    [[ $got == "$3" ]]
}
upload_sha() {   # upload_sha FROM_NS FILE URL SHA : the server answers "SHA BYTES"
    local got
    got=$(lab_exec "$1" curl -sS --noproxy '*' -m 30 -T "$2" "$3") || return 1
    echo "got '$got' want '$4 $BLOB_BYTES'"
    [[ $got == "$4 $BLOB_BYTES" ]]
}
# pcap_ok FILE MIN_TCP [VXLAN] : every frame <= 1514 bytes, >= MIN_TCP TCP segments, all with
# a correct (inner) TCP checksum; with VXLAN, every TCP segment is inside VXLAN VNI $LAB_VNI.
pcap_ok() {
    local f=$1 min=$2 vx=${3:-} s
    s=$(tshark -r "$f" -o tcp.check_checksum:TRUE -T fields -E separator=' ' \
        -e frame.len -e tcp.checksum.status -e vxlan.vni 2>/dev/null |
        awk -v vx="$vx" -v vni="$LAB_VNI" '
            { n++; if ($1 > max) max = $1; if ($1 > 1514) big++ }
            $2 != "" { tcp++; if ($2 == "0") bad++; if (vx != "" && $3 != vni) novx++ }
            END { printf "frames=%d max_len=%d over_1514=%d tcp=%d bad_csum=%d tcp_outside_vni=%d\n",
                  n, max, big, tcp, bad, novx }')
    echo "$s"
    if [[ $s =~ over_1514=0\ tcp=([0-9]+)\ bad_csum=0\ tcp_outside_vni=0 ]] && ((BASH_REMATCH[1] >= min)); then
        return 0
    fi
    # keep the evidence: the work dir is removed on exit
    local keep
    keep="${TMPDIR:-/tmp}/overlay_lab_selftest.$$.${f##*/}"
    cp "$f" "$keep" && echo "capture kept: $keep"
    echo "bad/oversized frames (no. len src dst sport dport flags tcp.len csum calculated):"
    tshark -r "$f" -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status == 0 || frame.len > 1514' \
        -T fields -e frame.number -e frame.len -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport \
        -e tcp.flags.str -e tcp.len -e tcp.checksum -e tcp.checksum.calculated 2>/dev/null | head -n 8
    return 1
}
# none_left PREFIX : no namespace whose name starts with PREFIX
none_left() {
    local left
    left=$(ip netns list | awk -v p="$1" 'index($1, p) == 1 {print $1}')
    echo "left: ${left:-none}"
    [[ -z $left ]]
}
# child_lab_up_fails PREFIX MESSAGE [VAR=VALUE...] : in a child bash (with the given env),
# lab_up must fail with MESSAGE; the child's exit trap then runs lab_down.
child_lab_up_fails() {
    local prefix=$1 msg=$2 out rc
    shift 2
    # shellcheck disable=SC2016  # expanded by the child
    out=$(env "$@" LAB_PREFIX="$prefix" bash -c 'source "$1"; lab_trap_exit; if lab_up; then exit 3; fi' \
        _ "$HERE/lib/overlay_lab.sh" 2>&1)
    rc=$?
    echo "$out"
    [[ $rc == 0 ]] && grep -qF -- "$msg" <<<"$out"
}
ours_intact() {
    local n
    for n in "${LAB_NS_CREATED[@]}"; do ns_exists "$n" || { echo "gone: $n"; return 1; }; done
}
# pids_dead PID... : none of them runs (a zombie counts as dead: orphans are reparented
# to PID 1, which here does not reap them)
pids_dead() {
    local p st
    for p in "$@"; do
        st=$(ps -o stat= -p "$p" 2>/dev/null)
        [[ -z $st || $st == Z* ]] || { echo "alive: $p ($st)"; return 1; }
    done
}

# --- interrupted second lab ---------------------------------------------------------------
# A child bash builds a lab with prefix ${LAB_PREFIX}i_, starts an HTTP server, then gets
# SIGTERM: its trap must remove its namespaces, stop its server, and leave ours alone.
interrupt_test() {
    local p2="${LAB_PREFIX}i_" log i child_pids=""
    log=$LAB_DIR/interrupt_test.log
    # shellcheck disable=SC2016  # expanded by the child
    LAB_PREFIX=$p2 LAB_MESH=0 bash -c '
        source "$1"
        SP=""
        stop_sleep() { [[ -n $SP ]] && kill "$SP" 2>/dev/null; }
        lab_trap_exit stop_sleep
        lab_up || exit 1
        lab_http_servers_start c1 || exit 1
        echo "READY ${LAB_HTTP_PIDS[*]}"
        sleep 60 & SP=$!
        wait $SP' _ "$HERE/lib/overlay_lab.sh" >"$log" 2>&1 &
    CHILD=$!
    for ((i = 0; i < 150; i++)); do
        grep -q '^READY' "$log" && break
        kill -0 "$CHILD" 2>/dev/null || break
        sleep 0.1
    done
    check "interrupt: second lab ($p2) came up" grep -q '^READY' "$log"
    child_pids=$(sed -n 's/^READY //p' "$log")
    check "interrupt: its namespaces exist beside ours" ns_exists "${p2}c1"
    kill -TERM "$CHILD" 2>/dev/null
    for ((i = 0; i < 150; i++)); do kill -0 "$CHILD" 2>/dev/null || break; sleep 0.1; done
    check "interrupt: child exited after SIGTERM" pids_dead "$CHILD"
    lab_stop_pid "$CHILD" TERM 5   # reaps it (bounded, KILL if it still runs)
    CHILD=""
    check "interrupt: no ${p2} namespace left" none_left "$p2"
    # shellcheck disable=SC2086  # word list of PIDs
    check "interrupt: its HTTP server stopped" pids_dead $child_pids
    check "interrupt: all ${#LAB_NS_CREATED[@]} of our namespaces untouched" ours_intact
}

# ==========================================================================================
phase "lab_up"
[[ $(id -u) == 0 ]] || { echo "needs root"; FAIL=1; finish; }
for t in ip bridge ethtool tcpdump tshark curl sha256sum "$LAB_PY"; do
    command -v "$t" >/dev/null || { echo "missing tool: $t"; FAIL=$((FAIL + 1)); }
done
((FAIL == 0)) || finish
check "lab_up" lab_up
((FAIL == 0)) || finish

phase "topology checks"
for n in ul gw n1 n2 c1 c2 c3 srv; do check "namespace $(lab_ns $n) exists" ns_exists $n; done
if [[ $LAB_MESH == 1 ]]; then
    check "namespace $(lab_ns cl) exists (LAB_MESH=1)" ns_exists cl
    check "cl: default route via $LAB_CL_GW" eval "lab_exec cl ip route show default | grep -q 'via $LAB_CL_GW dev eth0'"
    check "gw: ext0 has no IPv4 address" no_ipv4 gw ext0
    check "cl: eth0 tx checksum offload off" txoff cl eth0
fi
check "gw: ul0 has no IPv4 address" no_ipv4 gw ul0
check "gw: acc0 has no IPv4 address" no_ipv4 gw acc0
check "n1: vx4096 id $LAB_VNI dstport $LAB_VXLAN_PORT local $LAB_N1_IP mtu $LAB_OVL_MTU in br0" \
    link_has n1 vx4096 "vxlan id $LAB_VNI" "local $LAB_N1_IP dev u0" "dstport $LAB_VXLAN_PORT" "mtu $LAB_OVL_MTU" "master br0"
check "n2: vx4096 local $LAB_N2_IP" link_has n2 vx4096 "vxlan id $LAB_VNI" "local $LAB_N2_IP dev u0" "mtu $LAB_OVL_MTU"
check "n1: flood list -> $LAB_N2_IP and $LAB_GW_VTEP" \
    eval "fdb_has n1 '^00:00:00:00:00:00 dst $LAB_N2_IP ' && fdb_has n1 '^00:00:00:00:00:00 dst $LAB_GW_VTEP '"
check "n2: flood list -> $LAB_N1_IP and $LAB_GW_VTEP" \
    eval "fdb_has n2 '^00:00:00:00:00:00 dst $LAB_N1_IP ' && fdb_has n2 '^00:00:00:00:00:00 dst $LAB_GW_VTEP '"
for c in c1 c2 c3; do
    mac=$(_lab_ctr_var $c MAC) ip=$(_lab_ctr_var $c IP)
    check "$c: eth0 $ip/$LAB_OVL_PLEN $mac mtu $LAB_OVL_MTU" \
        eval "link_has $c eth0 'link/ether $mac' 'mtu $LAB_OVL_MTU' && lab_exec $c ip -o addr show dev eth0 | grep -q 'inet $ip/$LAB_OVL_PLEN'"
    check "$c: eth0 tx checksum offload off" txoff $c eth0
done
check "srv: eth0 $LAB_SRV_IP $LAB_SRV_MAC mtu $LAB_OVL_MTU" \
    eval "link_has srv eth0 'link/ether $LAB_SRV_MAC' 'mtu $LAB_OVL_MTU' && lab_exec srv ip -o addr show dev eth0 | grep -q 'inet $LAB_SRV_IP/'"
check "srv: eth0 tx checksum offload off" txoff srv eth0
check "without a gateway, srv cannot reach c1" no_ping srv "$LAB_C1_IP"
check "a 2nd lab_up with our prefix refuses (namespace exists)" child_lab_up_fails "$LAB_PREFIX" "already exists"
check "... and leaves all ${#LAB_NS_CREATED[@]} of our namespaces alone" ours_intact
check "a lab_up failing halfway (bad LAB_C3_IP) fails" \
    child_lab_up_fails "${LAB_PREFIX}f_" "failed: ip" LAB_C3_IP=999.0.0.13
check "... and its lab_down leaves no ${LAB_PREFIX}f_ namespace" none_left "${LAB_PREFIX}f_"

phase "http servers"
check "lab_http_servers_start (c1 c2 c3)" lab_http_servers_start
head -c "$BLOB_BYTES" /dev/urandom >"$LAB_DIR/www/blob"
SHA=$(sha256sum <"$LAB_DIR/www/blob" | cut -d' ' -f1)

phase "kernel stand-in + ping"
check "lab_standin_up (kernel vx4096 in $(lab_ns gw))" lab_standin_up
check "srv pings c1 ($LAB_C1_IP)" lab_wait_ping srv "$LAB_C1_IP" 10
check "srv pings c2 ($LAB_C2_IP)" lab_wait_ping srv "$LAB_C2_IP" 10
check "srv pings c3 ($LAB_C3_IP)" lab_wait_ping srv "$LAB_C3_IP" 10
check "c1 pings c3 (across nodes)" lab_wait_ping c1 "$LAB_C3_IP" 10
check "c3 pings srv" lab_wait_ping c3 "$LAB_SRV_IP" 10
check "srv: full-size ping to c3 (1422 B payload, DF)" lab_exec srv ping -c 3 -i 0.2 -W 2 -M "do" -s 1422 -q "$LAB_C3_IP"

phase "http + 5 MiB each way"
for c in c1 c2 c3; do
    ip=$(_lab_ctr_var $c IP)
    check "HTTP srv -> $c: '$c $LAB_SRV_IP'" http_is srv "http://$ip/" "$c $LAB_SRV_IP"
done
check "HTTP c1 -> c3 (across nodes): 'c3 $LAB_C1_IP'" http_is c1 "http://$LAB_C3_IP/" "c3 $LAB_C1_IP"
check "capture gw/ul0 (inbound)" lab_capture gw ul0 "$LAB_DIR/ul0.pcap" -Q in
CAP_UL=$LAB_LAST_CAPTURE_PID
check "capture gw/acc0 (inbound)" lab_capture gw acc0 "$LAB_DIR/acc0.pcap" -Q in
CAP_ACC=$LAB_LAST_CAPTURE_PID
check "5 MiB download c3 -> srv, sha256 matches" download_sha srv "http://$LAB_C3_IP/blob" "$SHA"
check "5 MiB upload srv -> c1, sha256 matches" upload_sha srv "$LAB_DIR/www/blob" "http://$LAB_C1_IP/up" "$SHA"
check "lab_capture_stop (2 captures)" lab_capture_stop "$CAP_UL" "$CAP_ACC"
check "captures stopped" pids_dead "$CAP_UL" "$CAP_ACC"
# what an af_packet socket on ul0 / acc0 (= vxgw) would have received
check "ul0 rx: VXLAN VNI $LAB_VNI, frames <= 1514, inner TCP checksums good" pcap_ok "$LAB_DIR/ul0.pcap" 3000 vxlan
check "acc0 rx: frames <= 1514, TCP checksums good" pcap_ok "$LAB_DIR/acc0.pcap" 3000

phase "fdb learning"
check "n1 fdb: srv $LAB_SRV_MAC -> dst $LAB_GW_VTEP" fdb_has n1 "^$LAB_SRV_MAC dst $LAB_GW_VTEP "
check "n2 fdb: srv $LAB_SRV_MAC -> dst $LAB_GW_VTEP" fdb_has n2 "^$LAB_SRV_MAC dst $LAB_GW_VTEP "
check "n1 fdb: c3 $LAB_C3_MAC -> dst $LAB_N2_IP" fdb_has n1 "^$LAB_C3_MAC dst $LAB_N2_IP "
check "gw fdb: c1 $LAB_C1_MAC -> dst $LAB_N1_IP" fdb_has gw "^$LAB_C1_MAC dst $LAB_N1_IP "

if [[ $LAB_MESH == 1 ]]; then
    phase "mesh client link"
    check "cl reaches $LAB_CL_GW (temporarily on ext0)" \
        eval "lab_exec gw ip addr add $LAB_CL_GW/$LAB_CL_PLEN dev ext0 && lab_wait_ping cl $LAB_CL_GW 5"
    check "ext0 address removed again" eval "lab_exec gw ip addr flush dev ext0 && no_ipv4 gw ext0"
fi

phase "stand-in removal"
check "lab_standin_down" lab_standin_down
check "gw: ul0 has no IPv4 address again" no_ipv4 gw ul0
check "gw: no vx4096 / brgw left" eval "! lab_exec gw ip link show vx4096 2>/dev/null && ! lab_exec gw ip link show brgw 2>/dev/null"
check "without the stand-in, srv cannot reach c1" no_ping srv "$LAB_C1_IP"

phase "interrupted second lab"
interrupt_test

phase "lab_down"
HTTP_PIDS=("${LAB_HTTP_PIDS[@]}")
LABDIR=$LAB_DIR
check "lab_down" lab_down
check "no $LAB_PREFIX namespace left" none_left "$LAB_PREFIX"
check "HTTP servers stopped" pids_dead "${HTTP_PIDS[@]}"
if [[ $LAB_KEEP_DIR == 1 ]]; then echo "# kept $LABDIR"; else check "work dir removed" test ! -e "$LABDIR"; fi
finish
