#!/usr/bin/env bash
# End to end: vxgw in front of a real Docker Swarm, followed live by vxgw-swarm.
#
#   tests/e2e/swarm_real.sh      (root; docker.io and busybox-static installed; uses
#                                 $VXGW / $VXGWCTL / $VXGW_SWARM or target/debug/*)
#
# Two dockerd (Debian's docker.io) in two network namespaces form a swarm over a
# bridged fabric; an overlay network "apps" (VNI 4097) runs a service "web" whose
# tasks (busybox httpd from an imported image) answer their task name. vxgw sits on
# the fabric (af_packet, VTEP 172.31.0.1) with a client namespace on its external
# port; vxgw-swarm sync follows the manager's Docker API into vxgw, a node agent per
# node installs vxgw in the nodes' overlay sandboxes. Swarm's own ingress mesh needs
# IPVS (not in this kernel): the service runs with --endpoint-mode dnsrr, vxgw is the
# mesh. Checks, each counted:
#   vxgw's backends equal the running tasks within seconds of each change (3 -> 6 ->
#   2, a task killed); curl from the client reaches every task, with zero failed
#   requests while the service scales and while a task is killed; the tasks ping
#   vxgw's gateway address; a 20 MiB download intact; a preserve-mode service whose
#   tasks see the client's address; a task that refuses connections costing no
#   request (its RSTs withheld, the SYNs retried on another task); vxgw-swarm restarted mid-run with no failed
#   request and no change made; the Docker API unreachable (tables kept, said,
#   counted); its metrics.
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VXGW=${VXGW:-$ROOT/target/debug/vxgw}
VXGWCTL=${VXGWCTL:-$ROOT/target/debug/vxgwctl}
VXGW_SWARM=${VXGW_SWARM:-$ROOT/target/debug/vxgw-swarm}
P=${SWARM_LAB_PREFIX:-vxs}          # namespace prefix
DIR=$(mktemp -d /tmp/vxgw-swarm-lab.XXXXXX)
SOCK=$DIR/vxgw.sock
PREFIX=vxgwt_swarm_$$
METRICS=127.0.0.1:$((19500 + $$ % 400))
NS=() PIDS=()

passed=0 failed=0
check() { # check NAME CMD...
    local name=$1; shift
    if "$@"; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"
    fi
}
say() { echo "-- $*"; }

d() { local n=$1; shift; docker -H "unix://$DIR/n$n/docker.sock" "$@"; }
ctl() { "$VXGWCTL" -s "$SOCK" "$@"; }
in_ns() { local ns=$1; shift; ip netns exec "$P$ns" "$@"; }
spawn() { # spawn LOG CMD...: in the background, remembered for the cleanup
    local log=$1; shift
    "$@" </dev/null >"$log" 2>&1 &
    PIDS+=($!)
}
stop_pid() { # stop_pid PID [SECS]: TERM, then KILL after SECS (10) seconds
    local pid=$1 t=${2:-10} i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < t * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    local pid n i
    # SWARM_LAB_HOLD=SECS: keep the lab up that long before tearing it down (debugging).
    [[ -n ${SWARM_LAB_HOLD:-} ]] && { echo "-- holding the lab ${SWARM_LAB_HOLD}s ($DIR)"; sleep "$SWARM_LAB_HOLD"; }
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    # The tasks first (a swarm's containers outlive dockerd), then the swarm, then
    # dockerd (it stops its containerd), then whatever shim is left.
    if [[ -S $DIR/n1/docker.sock ]]; then
        d 1 service rm web >/dev/null 2>&1
        for ((i = 0; i < 100; i++)); do
            [[ -z $(d 1 ps -q 2>/dev/null)$(d 2 ps -q 2>/dev/null) ]] && break
            sleep 0.2
        done
        d 2 swarm leave --force >/dev/null 2>&1
        d 1 swarm leave --force >/dev/null 2>&1
    fi
    for n in 1 2; do
        [[ -f $DIR/n$n/docker.pid ]] && stop_pid "$(cat "$DIR/n$n/docker.pid")" 30
    done
    for pid in $(pgrep -f "containerd-shim-runc-v2 .*$DIR/"); do stop_pid "$pid"; done
    # What dockerd mounted under its roots (overlay2, netns files).
    grep -F " $DIR/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null
    for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "/var/run/dpdk/$PREFIX" "$DIR"
    echo "$passed passed, $failed failed"
    ((failed == 0))
}
trap 'cleanup; exit $?' EXIT
trap 'exit 1' INT TERM

for b in "$VXGW" "$VXGWCTL" "$VXGW_SWARM"; do
    [[ -x $b ]] || { echo "build first: $b"; failed=1; exit 1; }
done
for t in dockerd docker busybox nsenter curl; do
    command -v "$t" >/dev/null || { echo "missing $t (scripts/install-deps.sh)"; failed=1; exit 1; }
done

# --- the fabric: nodes 172.31.0.11/.12, vxgw 172.31.0.1; the client 192.0.2.10 ------
for n in fab n1 n2 gw cl; do
    ip netns add "$P$n" || { failed=1; exit 1; }
    NS+=("$P$n")
    in_ns "$n" ip link set lo up
done
in_ns fab ip link add br0 type bridge && in_ns fab ip link set br0 up
for n in 1 2; do
    ip link add "f$n" netns "${P}fab" type veth peer name eth0 netns "${P}n$n"
    in_ns fab ip link set "f$n" master br0 up
    in_ns "n$n" ip addr add "172.31.0.1$n/24" dev eth0
    in_ns "n$n" ip link set eth0 up
done
ip link add fgw netns "${P}fab" type veth peer name ul0 netns "${P}gw"
in_ns fab ip link set fgw master br0 up
ip link add ext0 netns "${P}gw" type veth peer name eth0 netns "${P}cl"
for i in ul0 ext0; do in_ns gw ip link set "$i" up; done
in_ns cl ip addr add 192.0.2.10/24 dev eth0
in_ns cl ip link set eth0 up
in_ns cl ip route add default via 192.0.2.1
# Checksums and segmentation in software where traffic is sent towards vxgw's
# af_packet ports (tests/e2e/lib/overlay_lab.sh says why): the client's and the
# nodes' fabric interfaces.
for n in cl n1 n2; do in_ns "$n" ethtool -K eth0 tx off >/dev/null; done

# --- two docker nodes, a swarm, an image, the overlay network --------------------------
for n in 1 2; do
    mkdir -p "$DIR/n$n"
    # `ip netns exec` remounts /sys, which dockerd's cgroup setup does not survive.
    nsenter --net="/var/run/netns/${P}n$n" dockerd --data-root "$DIR/n$n/data" \
        --exec-root "$DIR/n$n/exec" -H "unix://$DIR/n$n/docker.sock" \
        --pidfile "$DIR/n$n/docker.pid" --bridge=none --iptables=false \
        </dev/null >"$DIR/n$n/dockerd.log" 2>&1 &
done
up=0
for _ in $(seq 1 100); do
    d 1 version >/dev/null 2>&1 && d 2 version >/dev/null 2>&1 && { up=1; break; }
    sleep 0.2
done
check "two dockerd up" test "$up" = 1
((up)) || { tail -5 "$DIR"/n*/dockerd.log; exit 1; }
d 1 swarm init --advertise-addr 172.31.0.11 --listen-addr 172.31.0.11:2377 >/dev/null
d 2 swarm join --token "$(d 1 swarm join-token -q worker)" --advertise-addr 172.31.0.12 \
    --listen-addr 172.31.0.12:2377 172.31.0.11:2377 >/dev/null
check "a swarm of two nodes" test "$(d 1 node ls -q | wc -l)" = 2
mkdir -p "$DIR/img/bin"
cp "$(command -v busybox)" "$DIR/img/bin/"
for c in sh httpd hostname dd mkdir ping ip chmod printf; do ln -sf busybox "$DIR/img/bin/$c"; done
for n in 1 2; do tar -C "$DIR/img" -c . | d "$n" import - vxgw/busybox:lab >/dev/null; done
d 1 network create -d overlay --subnet 10.0.1.0/24 apps >/dev/null
vni=$(d 1 network inspect apps --format '{{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}')
check "overlay network apps (VNI $vni)" test -n "$vni"

# --- vxgw, vxgw-swarm, the node agents -------------------------------------------------
cat >"$DIR/vxgw.toml" <<EOF
[gateway]
vtep_ip = "172.31.0.1"
external_ip = "192.0.2.1"

[[port]]
name = "net_af_packet0"
roles = ["underlay"]

[[port]]
name = "net_af_packet1"
roles = ["external"]
EOF
spawn "$DIR/vxgw.log" ip netns exec "${P}gw" "$VXGW" --config "$DIR/vxgw.toml" --socket "$SOCK" \
    --state none --metrics-addr none -- -l 0-1 --no-pci --no-huge -m 512 --file-prefix="$PREFIX" \
    --vdev=net_af_packet0,iface=ul0 --vdev=net_af_packet1,iface=ext0
up=0
for _ in $(seq 1 100); do ctl status >/dev/null 2>&1 && { up=1; break; }; sleep 0.1; done
check "vxgw is up" test "$up" = 1
((up)) || { cat "$DIR/vxgw.log"; exit 1; }
gw_mac=$(ip -n "${P}gw" -o link show ul0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
for n in 1 2; do
    spawn "$DIR/agent$n.log" "$VXGW_SWARM" node-agent --docker "unix://$DIR/n$n/docker.sock" \
        --exec-root "$DIR/n$n/exec" --vxgw-mac "$gw_mac" --vxgw-vtep 172.31.0.1 \
        --network apps=10.0.1.250,10.0.1.254 --period 1
done
sync_args=(sync --docker "unix://$DIR/n1/docker.sock" --vxgw "$SOCK"
    --network "apps=10.0.1.250,gateway=10.0.1.254" --published-ip 192.0.2.1 --resync 5
    --metrics-addr "$METRICS")
spawn "$DIR/sync.log" "$VXGW_SWARM" "${sync_args[@]}"
SYNC_PID=${PIDS[-1]}

# --- the service ------------------------------------------------------------------------
# Each task serves its task name, and 20 MiB of zeros.
d 1 service create -d --name web --network apps --endpoint-mode dnsrr --replicas 3 \
    --hostname '{{.Task.Name}}' --label vxgw.publish=tcp/80:80 --update-delay 0s \
    --stop-grace-period 2s vxgw/busybox:lab sh -c \
    'mkdir -p /www && hostname > /www/index.html && dd if=/dev/zero of=/www/big bs=1M count=20 2>/dev/null; exec httpd -f -p 80 -h /www' \
    >/dev/null

# backends: vxgw's backends of web-tcp-80, sorted; tasks: the running tasks' addresses.
backends() {
    ctl -j service show web-tcp-80 2>/dev/null | python3 -c \
        'import json,sys; print(" ".join(sorted(b["ip"] for s in json.load(sys.stdin) for b in s["backends"] if b["weight"] > 0)))' 2>/dev/null
}
tasks() {
    d 1 network inspect apps --verbose --format '{{json .Services}}' | python3 -c '
import json, subprocess, sys
svc = (json.load(sys.stdin) or {}).get("web", {})
print(" ".join(sorted(t["EndpointIP"] for t in svc.get("Tasks", []))))'
}
running() { d 1 service ps web -f desired-state=running --format '{{.CurrentState}}' | grep -c '^Running'; }
# converge N: waits until N tasks run and vxgw's backends are exactly their addresses.
converge() {
    local want=$1 i t b
    for ((i = 0; i < 300; i++)); do
        t=$(tasks) b=$(backends)
        if [[ $(running) == "$want" && $(wc -w <<<"$t") == "$want" && "$b" == "$t" ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "   tasks: [$t]  vxgw backends: [$b]" >&2
    return 1
}
# curl_loop OUT SECS: sequential requests for SECS seconds; one line per request
# ("<task name>" or "FAIL ..."). Each may take 5 s: a SYN retransmitted after a task
# died is balanced afresh once vxgw-swarm removed it (a client retries for minutes).
curl_loop() {
    local out=$1 secs=$2 end
    end=$((SECONDS + secs))
    : >"$out"
    while ((SECONDS < end)); do
        in_ns cl curl -s --noproxy '*' -m 5 --retry 0 http://192.0.2.1/ >>"$out" 2>/dev/null ||
            echo "FAIL curl exit $? at $SECONDS s" >>"$out"
    done
}
fails() { grep -c '^FAIL' "$1"; }
# RSTs of tasks to SYNs that vxgw withheld so that another task answers.
withheld() { ctl -j stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["drops"].get("backend_refused", 0))'; }
backend_set() { python3 -c 'import json,sys; print(sorted((b["ip"], b["weight"]) for b in json.loads(sys.argv[1])[0]["backends"]))' "$1"; }

t0=$SECONDS
check "3 tasks run and vxgw's backends are their addresses" converge 3
say "converged in $((SECONDS - t0)) s: backends $(backends)"
ctl service show web-tcp-80
flood=$(ctl -j vni show | python3 -c 'import json,sys; print(" ".join(str(v["id"]) + ":" + ",".join(v["flood"]) for v in json.load(sys.stdin)))')
check "vxgw holds the swarm's network: VNI $vni, both nodes in its flood list ($flood)" \
    test "$flood" = "$vni:172.31.0.11,172.31.0.12"

managed="$(ctl -j vni show | python3 -c 'import json,sys; print(" ".join(str(v["id"]) + "=" + str(v.get("managed_by")) for v in json.load(sys.stdin)))') $(ctl -j service show | python3 -c 'import json,sys; print(" ".join(v["name"] + "=" + str(v.get("managed_by")) for v in json.load(sys.stdin)))')"
check "vxgwctl shows what vxgw-swarm manages ($managed)" test "$managed" = "$vni=vxgw-swarm web-tcp-80=vxgw-swarm"

curl_loop "$DIR/first.out" 4
seen=$(grep -v '^FAIL' "$DIR/first.out" | sort -u | wc -l)
check "curl reaches every task ($seen distinct of 3; $(wc -l <"$DIR/first.out") requests, $(fails "$DIR/first.out") failed)" \
    bash -c "test $seen = 3 && test $(fails "$DIR/first.out") = 0"
c=$(d 1 ps -q --filter name=web | head -1)
check "a task pings vxgw's gateway address 10.0.1.254" d 1 exec "$c" ping -c 2 -W 2 10.0.1.254

got=$(in_ns cl curl -s --noproxy '*' -m 30 http://192.0.2.1/big | sha256sum | cut -d' ' -f1)
want=$(head -c $((20 * 1024 * 1024)) /dev/zero | sha256sum | cut -d' ' -f1)
check "20 MiB download intact" test "$got" = "$want"

# --- a preserve-mode service: the tasks see the client's own address --------------------
# The smallest recipe: the task routes the client network via vxgw's gateway address
# (it needs NET_ADMIN for that); a CGI answers the address it saw.
# shellcheck disable=SC2016  # $REMOTE_ADDR is the CGI's, expanded in the task
d 1 service create -d --name who --network apps --endpoint-mode dnsrr --replicas 2 \
    --cap-add NET_ADMIN --label vxgw.publish=tcp/8080:80 --label vxgw.mode=preserve \
    vxgw/busybox:lab sh -c 'ip route add 192.0.2.0/24 via 10.0.1.254 && mkdir -p /www/cgi-bin && printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \$REMOTE_ADDR\n" > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 80 -h /www' \
    >/dev/null
seen_ip=""
for _ in $(seq 1 150); do
    seen_ip=$(in_ns cl curl -s --noproxy '*' -m 2 http://192.0.2.1:8080/cgi-bin/ip 2>/dev/null)
    seen_ip=${seen_ip#"[::ffff:"} seen_ip=${seen_ip%]}   # busybox httpd listens dual-stack
    [[ $seen_ip == 192.0.2.10 ]] && break
    sleep 0.2
done
check "preserve mode (label vxgw.mode): the task saw the client's address ($seen_ip)" \
    test "$seen_ip" = 192.0.2.10
check "preserve mode: vxgw's service who-tcp-8080 is in preserve mode" bash -c \
    "$VXGWCTL -s $SOCK service show who-tcp-8080 | grep -q ' preserve '"
d 1 service rm who >/dev/null

# --- a task that refuses connections: the client's SYN goes to another ---------------
# Task 1 of `late` runs but never listens (a server not up yet, or gone: Swarm calls
# it running without a health check). Its kernel answers each SYN with a RST; vxgw
# withholds it, and the client's retransmitted SYN goes to task 2.
# shellcheck disable=SC2016  # $(hostname) is the task's, expanded in the task
d 1 service create -d --name late --network apps --endpoint-mode dnsrr --replicas 2 \
    --hostname 'late-{{.Task.Slot}}' --label vxgw.publish=tcp/8081:80 vxgw/busybox:lab sh -c \
    'mkdir -p /www && hostname > /www/index.html; [ "$(hostname)" = late-1 ] && exec sleep 3600; exec httpd -f -p 80 -h /www' \
    >/dev/null
late_backends() {
    ctl -j service show late-tcp-8081 2>/dev/null | python3 -c \
        'import json,sys; print(sum(1 for s in json.load(sys.stdin) for b in s["backends"] if b["weight"] > 0))' 2>/dev/null
}
for _ in $(seq 1 150); do
    [[ $(late_backends) == 2 ]] && in_ns cl curl -s --noproxy '*' -m 2 http://192.0.2.1:8081/ >/dev/null 2>&1 && break
    sleep 0.2
done
before=$(withheld)
: >"$DIR/late.out"
for _ in $(seq 1 12); do
    in_ns cl curl -s --noproxy '*' -m 5 --retry 0 http://192.0.2.1:8081/ >>"$DIR/late.out" 2>/dev/null ||
        echo "FAIL curl exit $?" >>"$DIR/late.out"
done
answers=$(sort "$DIR/late.out" | uniq -c | xargs)
refused=$(($(withheld) - before))
check "a task refusing connections: all 12 requests answered by the other ($answers), $refused refusals withheld" \
    bash -c "test '$answers' = '12 late-2' && test $refused -ge 1"
d 1 service rm late >/dev/null

# --- scale up and down under traffic --------------------------------------------------
curl_loop "$DIR/scale.out" 25 &
loop=$!
sleep 1
d 1 service scale -d web=6 >/dev/null
t0=$SECONDS
check "scaled to 6: vxgw's backends follow" converge 6
say "6 tasks in vxgw after $((SECONDS - t0)) s"
sleep 2
d 1 service scale -d web=2 >/dev/null
t0=$SECONDS
check "scaled to 2: vxgw's backends follow" converge 2
say "2 tasks in vxgw after $((SECONDS - t0)) s"
wait "$loop"
check "zero failed requests while scaling 3 -> 6 -> 2 ($(wc -l <"$DIR/scale.out") requests, $(fails "$DIR/scale.out") failed)" \
    test "$(fails "$DIR/scale.out")" = 0

# --- a task killed --------------------------------------------------------------------
curl_loop "$DIR/kill.out" 12 &
loop=$!
sleep 1
victim=$(d 2 ps -q --filter name=web | head -1)
[[ -n $victim ]] || victim=$(d 1 ps -q --filter name=web | head -1)
node=2; d 2 ps -q | grep -q "$victim" || node=1
before=$(withheld)
killed_at=$SECONDS
d "$node" kill "$victim" >/dev/null
say "killed a task on node $node at $killed_at s"
sleep 1
check "a killed task is replaced and vxgw follows" converge 2
wait "$loop"
# SIGKILL races the connections being made. A SYN that reaches the task after its
# process died and before Docker removed it is refused by the task's own kernel: vxgw
# withholds that RST (another backend may answer) and the client's retransmitted SYN
# goes to another task, so no request may fail for it (curl exit 7). What no L4
# balancer can hide is a request in flight on the task as it dies: its connection
# is cut (exit 52 or 56), in the kill's own second, at most one of them.
cut=$(awk -v k="$killed_at" '/^FAIL/ && ($4 == 52 || $4 == 56) && $6 >= k && $6 <= k + 1' "$DIR/kill.out" | wc -l)
check "a task killed: no failed request but one in flight on it ($(wc -l <"$DIR/kill.out") requests, $(fails "$DIR/kill.out") failed, $cut cut; $(($(withheld) - before)) refusals withheld)" \
    bash -c "test $(fails "$DIR/kill.out") = $cut && test $cut -le 1"
grep '^FAIL' "$DIR/kill.out" | head -3

# --- vxgw-swarm restarted mid-run -----------------------------------------------------
curl_loop "$DIR/restart.out" 8 &
loop=$!
sleep 1
stop_pid "$SYNC_PID"
before=$(ctl -j service show web-tcp-80)
sleep 1
spawn "$DIR/sync2.log" "$VXGW_SWARM" "${sync_args[@]}"
SYNC_PID=${PIDS[-1]}
wait "$loop"
for _ in $(seq 1 50); do grep -q "in sync\|following" "$DIR/sync2.log" && break; sleep 0.1; done
sleep 1
check "vxgw-swarm restarted: zero failed requests ($(wc -l <"$DIR/restart.out") requests)" \
    test "$(fails "$DIR/restart.out")" = 0
after=$(ctl -j service show web-tcp-80)
changes=$(grep -c ' {' "$DIR/sync2.log")
check "vxgw-swarm restarted: nothing changed in vxgw ($changes changes)" \
    bash -c "test $changes = 0 && test '$(backend_set "$before")' = '$(backend_set "$after")'"

# --- the Docker API unreachable: vxgw's tables stay, traffic flows, it is said ---------
stop_pid "$SYNC_PID"
before=$(ctl -j service show web-tcp-80)
spawn "$DIR/sync3.log" "$VXGW_SWARM" sync --docker "unix://$DIR/gone.sock" --vxgw "$SOCK" \
    --network "apps=10.0.1.250,gateway=10.0.1.254" --published-ip 192.0.2.1 --resync 1 \
    --metrics-addr "$METRICS"
OUTAGE_PID=${PIDS[-1]}
curl_loop "$DIR/outage.out" 4
after=$(ctl -j service show web-tcp-80)
check "Docker API unreachable: vxgw's tables as they were, zero failed requests ($(wc -l <"$DIR/outage.out") requests)" \
    bash -c "test '$(backend_set "$before")' = '$(backend_set "$after")' && test $(fails "$DIR/outage.out") = 0"
check "Docker API unreachable: vxgw-swarm says so" grep -q "left as they are" "$DIR/sync3.log"
curl -s --noproxy '*' -m 5 "http://$METRICS/metrics" >"$DIR/metrics.txt"
check "Docker API unreachable: vxgw_swarm_up 0, errors counted" bash -c \
    "grep -q '^vxgw_swarm_up 0' $DIR/metrics.txt && ! grep -q '^vxgw_swarm_sync_errors_total 0' $DIR/metrics.txt"
stop_pid "$OUTAGE_PID"
spawn "$DIR/sync4.log" "$VXGW_SWARM" "${sync_args[@]}"
SYNC_PID=${PIDS[-1]}
for _ in $(seq 1 50); do
    curl -s --noproxy '*' -m 1 "http://$METRICS/metrics" 2>/dev/null | grep -q '^vxgw_swarm_up 1' && break
    sleep 0.2
done
# A change, so that the lag is measured.
d 1 service scale -d web=3 >/dev/null
check "back in sync after the outage: 3 tasks" converge 3
curl -s --noproxy '*' -m 5 "http://$METRICS/metrics" >"$DIR/metrics.txt"
check "vxgw-swarm metrics: up, a lag, 3 backends, no sync error" bash -c \
    "grep -q '^vxgw_swarm_up 1' $DIR/metrics.txt && grep -q '^vxgw_swarm_sync_lag_seconds ' $DIR/metrics.txt && grep -q '^vxgw_swarm_backends 3' $DIR/metrics.txt && grep -q '^vxgw_swarm_sync_errors_total 0' $DIR/metrics.txt"
ctl stats | sed -n '/drops/,$p' | head -12
