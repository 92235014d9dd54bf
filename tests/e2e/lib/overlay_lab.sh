# shellcheck shell=bash
# tests/e2e/lib/overlay_lab.sh - the end-to-end overlay lab for vxgw, in network namespaces.
# Source it (bash), do not execute it.  Needs root, iproute2, ethtool; tcpdump for
# lab_capture, curl for the HTTP readiness probe, /usr/bin/python3 for the HTTP servers.
# Proven by ../overlay_lab_selftest.sh (kernel peers only, the kernel standing in for vxgw).
#
#   source tests/e2e/lib/overlay_lab.sh
#   LAB_PREFIX=vxl_ LAB_MESH=1          # optional overrides, see VARIABLES
#   lab_trap_exit                       # lab_down on exit, Ctrl-C, SIGTERM
#   lab_up || exit 1
#   lab_spawn gw "$LAB_DIR/vxgw.log" /path/to/vxgw --vdev=net_af_packet0,iface=ul0 ...
#   lab_http_servers_start && lab_wait_ping srv 10.255.0.11 10 && lab_exec srv curl ...
#
# TOPOLOGY (P = $LAB_PREFIX, default "vxl_"; every interface lives in a namespace this
# library creates; nothing in the root namespace is created, moved or touched)
#
#      [P c1] eth0 10.255.0.11/16     [P c2] eth0 10.255.0.12/16      [P c3] eth0 10.255.0.13/16
#             02:42:0a:ff:00:0b              02:42:0a:ff:00:0c               02:42:0a:ff:00:0d
#             mtu 1450                       mtu 1450                        mtu 1450
#               |  veth                        |  veth                         |  veth
#          veth_c1                        veth_c2                          veth_c3
#   +-----------+------------------------------+-------+        +-------------+-------------------+
#   | [P n1]  br0 { veth_c1, veth_c2, vx4096 }         |        | [P n2]  br0 { veth_c3, vx4096 } |
#   |   vx4096: vxlan id 4096 dstport 4789 learning    |        |   vx4096: vxlan id 4096 ...     |
#   |           local 172.30.0.11 dev u0, mtu 1450     |        |       local 172.30.0.12 dev u0  |
#   |   fdb 00:00:00:00:00:00 dst 172.30.0.12, .0.1    |        |   fdb 00:..:00 dst .0.11, .0.1  |
#   |   u0 172.30.0.11/24 (mtu 1500)                   |        |   u0 172.30.0.12/24             |
#   +-------------------------+------------------------+        +-------------+-------------------+
#                             | veth                                          | veth
#                           p_n1                                            p_n2
#   +-------------------------+-----------------------------------------------+-------------------+
#   | [P ul]  brul { p_n1, p_n2, p_gw, (p_h) }   -- the underlay L2 segment 172.30.0.0/24         |
#   +---------------+--------------------------------------------+--------------------------------+
#                   | veth                                       | veth   (only with LAB_HOST=1)
#                  p_gw                                         p_h
#                   |                                     [P h] u0 172.30.0.99/24  (debug host)
#                  ul0  (NO IP: vxgw answers ARP for its VTEP 172.30.0.1 itself)
#   +---------------+---------------------------------------------------------------+
#   | [P gw]   vxgw runs here on net_af_packet ports ul0, acc0 (and ext0)           |
#   +---------------+---------------------------------------------+-----------------+
#                  acc0 (no IP)                                 ext0 (no IP, only with LAB_MESH=1)
#                   | veth                                        | veth
#                  eth0                                          eth0
#   [P srv] 10.255.0.100/16, 02:00:0a:ff:00:64, mtu 1450   [P cl] 192.0.2.10/24 mtu 1450,
#           (bare-metal server on vxgw's access port)              default via 192.0.2.1
#                                                                  (routing-mesh client, TEST-NET-1)
#
# MTU: the underlay is 1500; VXLAN adds 50 bytes (14 Ethernet + 20 IPv4 + 8 UDP + 8 VXLAN),
# so every overlay endpoint uses 1450: containers, vx4096, AND srv, although srv sits on a
# plain veth: vxgw encapsulates srv's frames without fragmenting, so they must fit.  The
# client cl also gets 1450 by default ($LAB_CL_MTU; set 1500 to test PMTU/MSS handling of
# routed traffic).  The gw-side ports (ul0, acc0, ext0) keep 1500; for af_packet they only
# bound what may be sent.
# Quiet wire: IPv6 is disabled in every namespace (no RS/MLD/DAD) and all bridges have
# mcast_snooping 0 (else every bridge sends IGMPv3 reports for 224.0.0.106, which the
# nodes would flood to vxgw).  An idle lab sends nothing at all.
# Names are fixed: the node devices are called vx4096/br0/u0 even if LAB_VNI changes.

# WHAT VXGW NEEDS TO REPLACE THE KERNEL STAND-IN (lab_standin_up) - run it in namespace P gw:
#   * underlay port : net_af_packet,iface=ul0 (MAC = ul0's own MAC, `lab_mac gw ul0`)
#   * VTEP IP       : 172.30.0.1 ($LAB_GW_VTEP), /24; vxgw answers ARP for it on ul0 and
#                     sends VXLAN with this outer source IP (the nodes learn against it)
#   * VXLAN         : VNI 4096 ($LAB_VNI), UDP dst port 4789 ($LAB_VXLAN_PORT); the kernel
#                     nodes send outer UDP checksum 0 and a flow-hashed source port
#   * flood list    : 172.30.0.11, 172.30.0.12 ($LAB_N1_IP, $LAB_N2_IP) - head-end
#                     replication of broadcast/unknown-unicast; outer dst MACs by ARP on ul0
#                     (the nodes' u0 MACs are random: `lab_mac n1 u0`, `lab_mac n2 u0`)
#   * remote MACs   : learned from VXLAN rx (inner src MAC -> outer src IP), or static:
#                     02:42:0a:ff:00:0b (10.255.0.11, c1) and 02:42:0a:ff:00:0c (10.255.0.12, c2)
#                     -> 172.30.0.11;  02:42:0a:ff:00:0d (10.255.0.13, c3) -> 172.30.0.12
#   * access port   : net_af_packet,iface=acc0, untagged, bridged into VNI 4096;
#                     behind it srv 10.255.0.100 / 02:00:0a:ff:00:64 (overlay 10.255.0.0/16)
#   * ext port      : (LAB_MESH=1) net_af_packet,iface=ext0; vxgw answers ARP for 192.0.2.1
#                     ($LAB_CL_GW); client 192.0.2.10 ($LAB_CL_IP) routes everything to it
#   * max inner frame 1464 bytes (1450 MTU + 14); max outer frame 1514 bytes
#   * in P gw, ul0/acc0/ext0 are up with no IP address, so the gw namespace's kernel
#     ignores what arrives there; vxgw is the only thing that answers
# The nodes already point their flood lists at 172.30.0.1, so nothing on the nodes changes
# when vxgw replaces the stand-in.  Their ARP entry for 172.30.0.1 keeps ul0's MAC, which is
# also the MAC af_packet gives vxgw, so it stays valid.
#
# CHECKSUM OFFLOAD: an af_packet socket on a veth receives locally originated TCP/UDP with
# the L4 checksum still left for "hardware" (CHECKSUM_PARTIAL: the field holds only the
# pseudo-header sum) and, with TSO on, up to 64 KB super-frames; DPDK's net_af_packet
# forwards both verbatim and the far end drops them.  So `ethtool -K IF tx off` (which also
# turns TSO off: segmentation then happens before the veth) runs on every interface that
# originates traffic: $LAB_TXOFF, default eth0 of c1 c2 c3 srv (and cl, h:u0 if built).
# Measured with the self-test's captures (what ul0/acc0 receive = what af_packet sees),
# 5 MiB TCP each way:
#   nothing off                    ul0 and acc0: ~250 frames up to 64424 B, ~all bad csum
#   c1-c3 eth0 + srv eth0 (default) ul0 max 1514 B, acc0 max 1464 B, 0 bad csum
#   srv eth0 + n1/n2 u0            clean too (u0 computes the inner csum, GSO at u0)
#   srv eth0 + n1/n2 vx4096        clean too (segmented/checksummed before encapsulation)
#   srv eth0 + n1/n2 br0           ul0 still broken (a bridge forwards, never finalizes)
#   c1-c3 eth0 only                ul0 clean, acc0 broken (srv's own traffic)
# So the nodes need nothing beyond their containers' setting; the outer header is fine by
# itself (kernel vxlan sends IPv4 outer UDP checksum 0).  Receive side: veth GRO is off by
# default, so ul0/acc0/ext0 never see coalesced frames - do not turn GRO on there.

# FUNCTIONS (return 0 on success, non-zero on failure; messages go to stderr)
#   lab_up                  build the topology. Refuses if any of its namespaces already
#                           exists. Records each namespace it creates (LAB_NS_CREATED) and
#                           makes a work dir LAB_DIR (/tmp/PREFIXlab.*). On failure, what was built
#                           stays recorded: the caller's trap/lab_down removes it.
#   lab_down                stop captures, HTTP servers and lab_spawn'ed processes (by PID),
#                           delete exactly the namespaces lab_up created, remove LAB_DIR
#                           (unless LAB_KEEP_DIR=1). Idempotent.
#   lab_trap_exit [FN]      install the caller's traps: on EXIT run FN (if given), then
#                           lab_down; INT -> exit 130, TERM -> exit 143.  While cleaning up,
#                           INT/TERM are ignored: Ctrl-C signals the whole process group and a
#                           parent may signal again, and a second signal would otherwise
#                           abort lab_down halfway and leak namespaces.  Use this rather than
#                           a bare `trap lab_down EXIT`.
#   lab_ns NAME             print the full namespace name (c1 -> vxl_c1). A name that
#                           already carries the prefix is printed unchanged.
#   lab_exec NS CMD...      run CMD inside namespace NS (short or full name).
#   lab_mac NS IF           print IF's MAC address in NS.
#   lab_wait_ping NS IP [TIMEOUT]
#                           ping IP from NS once a second until it answers or TIMEOUT
#                           seconds (default 10) pass.
#   lab_http_servers_start [NS...]
#                           in each NS (default: every container c1 c2 c3) start an HTTP
#                           server (/usr/bin/python3, port $LAB_HTTP_PORT=80) and wait until
#                           it answers.  GET / -> "NAME CLIENT_IP\n" (NAME = short ns name,
#                           CLIENT_IP = the peer address it saw); GET /PATH -> file PATH from
#                           LAB_DIR/www; PUT (any path) -> "SHA256HEX BYTES\n" of the body.
#                           PIDs in LAB_HTTP_PIDS; logs LAB_DIR/http_NAME.log.  A server
#                           exits by itself when the shell that started it is gone.
#   lab_http_servers_stop   stop those servers by PID.
#   lab_capture NS IF FILE [TCPDUMP_ARGS...]
#                           tcpdump -i IF -w FILE (full snaplen, packet-buffered) in NS, waits
#                           until it listens; PID in LAB_LAST_CAPTURE_PID / LAB_CAPTURE_PIDS.
#                           Extra args go to tcpdump (e.g. -Q in, or a filter).
#   lab_capture_stop [PID...]
#                           stop the given captures (default: all), files are complete after.
#   lab_spawn NS LOG CMD... start CMD in the background in NS (stdout+stderr to LOG), PID in
#                           LAB_LAST_PID and LAB_PIDS; lab_down stops it (e.g. vxgw).
#   lab_stop_pid PID [SIG] [TIMEOUT]
#                           SIG (default TERM), bounded wait (default 5 s), then KILL.
#   lab_standin_up / lab_standin_down
#                           the kernel as a stand-in for vxgw inside P gw: ul0 gets
#                           172.30.0.1/24, a kernel vx4096 (local 172.30.0.1 dev ul0,
#                           flood list n1+n2) is bridged (bridge brgw) with acc0.  Down
#                           removes all of it again (ul0 back to no address).
#
# VARIABLES (set before lab_up to override; defaults in brackets)
#   LAB_PREFIX [vxl_]  LAB_MESH [0]  LAB_HOST [0]  LAB_KEEP_DIR [0]
#   LAB_TXOFF [auto] - "ns:if ..." list for `ethtool -K if tx off`; "" = none
#   LAB_GW_VTEP [172.30.0.1] LAB_N1_IP [172.30.0.11] LAB_N2_IP [172.30.0.12]
#   LAB_H_IP [172.30.0.99] LAB_UL_PLEN [24]  LAB_VNI [4096] LAB_VXLAN_PORT [4789]
#   LAB_OVL_MTU [1450]  LAB_OVL_PLEN [16]
#   LAB_UL_MTU [1500] - the underlay veths' MTU (jumbo: 9000, with LAB_OVL_MTU=8950);
#                     vxgw's access veth acc0 gets the larger of 1500 and LAB_OVL_MTU
#   LAB_C{1,2,3}_IP / LAB_C{1,2,3}_MAC / LAB_SRV_IP / LAB_SRV_MAC  (see defaults below)
#   LAB_CL_IP [192.0.2.10] LAB_CL_GW [192.0.2.1] LAB_CL_PLEN [24] LAB_CL_MTU [1450]
#   LAB_HTTP_PORT [80]  LAB_PY [/usr/bin/python3]
#   LAB_WORKERS [1] - vxgw's worker lcores (lab_eal_lcores) and af_packet queue pairs
#                     (lab_afp_queues) in the scripts that start vxgw
# State set by the library: LAB_NS_CREATED LAB_DIR LAB_HTTP_PIDS LAB_CAPTURE_PIDS LAB_PIDS
# LAB_LAST_PID LAB_LAST_CAPTURE_PID.

[[ -n ${_OVERLAY_LAB_SOURCED:-} ]] && return 0
_OVERLAY_LAB_SOURCED=1

: "${LAB_PREFIX:=vxl_}"
: "${LAB_MESH:=0}"
: "${LAB_HOST:=0}"
: "${LAB_KEEP_DIR:=0}"
: "${LAB_TXOFF=auto}"
: "${LAB_GW_VTEP:=172.30.0.1}"
: "${LAB_N1_IP:=172.30.0.11}"
: "${LAB_N2_IP:=172.30.0.12}"
: "${LAB_H_IP:=172.30.0.99}"
: "${LAB_UL_PLEN:=24}"
: "${LAB_VNI:=4096}"
: "${LAB_VXLAN_PORT:=4789}"
: "${LAB_OVL_MTU:=1450}"
: "${LAB_UL_MTU:=1500}"
: "${LAB_WORKERS:=1}"
: "${LAB_OVL_PLEN:=16}"
: "${LAB_C1_IP:=10.255.0.11}"
: "${LAB_C1_MAC:=02:42:0a:ff:00:0b}"
: "${LAB_C2_IP:=10.255.0.12}"
: "${LAB_C2_MAC:=02:42:0a:ff:00:0c}"
: "${LAB_C3_IP:=10.255.0.13}"
: "${LAB_C3_MAC:=02:42:0a:ff:00:0d}"
: "${LAB_SRV_IP:=10.255.0.100}"
: "${LAB_SRV_MAC:=02:00:0a:ff:00:64}"
: "${LAB_CL_IP:=192.0.2.10}"
: "${LAB_CL_GW:=192.0.2.1}"
: "${LAB_CL_PLEN:=24}"
: "${LAB_CL_MTU:=1450}"
: "${LAB_HTTP_PORT:=80}"
: "${LAB_PY:=/usr/bin/python3}"

# Containers and the node each one sits behind (fixed topology).
LAB_CONTAINERS=(c1 c2 c3)
declare -gA LAB_CTR_NODE=([c1]=n1 [c2]=n1 [c3]=n2)

LAB_NS_CREATED=()
LAB_HTTP_PIDS=()
LAB_CAPTURE_PIDS=()
LAB_PIDS=()
LAB_DPDK_PREFIXES=()   # EAL --file-prefix of spawned DPDK programs: runtime dirs removed by lab_down
LAB_LAST_PID=""
LAB_LAST_CAPTURE_PID=""
LAB_DIR=""
_LAB_ACTIVE_PREFIX=""
_LAB_DIR_OURS=0
declare -gA _LAB_PID_START=()   # pid -> start time (field 22 of /proc/PID/stat), guards PID reuse

_lab_err() { echo "overlay_lab: $*" >&2; }

# _lab_x CMD... : run CMD, report it on failure.
_lab_x() {
    "$@" || { _lab_err "failed: $*"; return 1; }
}

lab_ns() {
    local p=${_LAB_ACTIVE_PREFIX:-$LAB_PREFIX}
    if [[ $1 == "$p"* ]]; then printf '%s\n' "$1"; else printf '%s%s\n' "$p" "$1"; fi
}

lab_exec() {
    local ns
    ns=$(lab_ns "$1") || return 1
    shift
    ip netns exec "$ns" "$@"
}

lab_mac() {
    local ns
    ns=$(lab_ns "$1") || return 1
    ip -n "$ns" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

_lab_ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$1"; }

_lab_ctr_var() { local v="LAB_${1^^}_$2"; printf '%s\n' "${!v}"; }   # _lab_ctr_var c1 IP

# --- process helpers ----------------------------------------------------------------
_lab_starttime() {   # field 22 of /proc/PID/stat (counted after the "(comm)" field)
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    awk '{print $20}' <<<"$stat"
}

_lab_track() {   # remember a PID's start time right after starting it
    _LAB_PID_START[$1]=$(_lab_starttime "$1")
}

_lab_alive() {   # running (not a zombie) and still the process we started (no reused PID)
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }                    # fields from 3 on: "STATE PPID ..."
    [[ ${stat%% *} != Z ]] || return 1
    [[ -z ${_LAB_PID_START[$1]:-} ]] || [[ $(awk '{print $20}' <<<"$stat") == "${_LAB_PID_START[$1]}" ]]
}

lab_stop_pid() {
    local pid=$1 sig=${2:-TERM} t=${3:-5} i
    if _lab_alive "$pid"; then
        kill "-$sig" "$pid" 2>/dev/null
        for ((i = 0; i < t * 10; i++)); do
            _lab_alive "$pid" || break
            sleep 0.1
        done
        if _lab_alive "$pid"; then
            _lab_err "pid $pid ignored SIG$sig for ${t}s, sending KILL"
            kill -KILL "$pid" 2>/dev/null
            for ((i = 0; i < 20; i++)); do _lab_alive "$pid" || break; sleep 0.1; done
        fi
    fi
    _lab_alive "$pid" || wait "$pid" 2>/dev/null   # reap our child; never block on a live one
    unset "_LAB_PID_START[$pid]"
    return 0
}

# lab_eal_lcores: EAL's lcore argument for LAB_WORKERS workers: the main lcore on CPU
# 0, the workers spread over CPUs 1, 0, 1, ... (several busy-polling workers share
# this machine's two CPUs). One word per line (read it with mapfile).
lab_eal_lcores() {
    if ((LAB_WORKERS <= 1)); then printf '%s\n' -l 0-1; return; fi
    local s="0@0" w
    for ((w = 1; w <= LAB_WORKERS; w++)); do s+=",$w@$((w % 2))"; done
    printf '%s\n' "--lcores=$s"
}

# lab_afp_queues: the net_af_packet devargs for one queue pair per worker (the kernel
# spreads the flows over them by hash: PACKET_FANOUT_HASH), empty for one worker.
lab_afp_queues() {
    ((LAB_WORKERS > 1)) && printf ',qpairs=%s' "$LAB_WORKERS"
    return 0
}

# lab_workers_busy STATS_JSON: how many workers received packets (from vxgwctl -j stats).
lab_workers_busy() {
    "$LAB_PY" -c 'import json,sys; print(sum(1 for w in json.load(sys.stdin)["workers"] if w["rx_packets"] > 0))' <<<"$1"
}

lab_spawn() {   # lab_spawn NS LOG CMD...
    local ns log=$2
    ns=$(lab_ns "$1") || return 1
    shift 2
    _lab_ns_exists "$ns" || { _lab_err "lab_spawn: no namespace $ns"; return 1; }
    ip netns exec "$ns" "$@" </dev/null >"$log" 2>&1 &
    LAB_LAST_PID=$!
    _lab_track "$LAB_LAST_PID"
    LAB_PIDS+=("$LAB_LAST_PID")
}

# --- lab_up / lab_down ----------------------------------------------------------------
_lab_ns_add() {
    # Recorded BEFORE it is created (lab_up checked that the name was free): a signal
    # landing between the two steps must not leave an unrecorded namespace behind.
    LAB_NS_CREATED+=("$1")
    if ! ip netns add "$1"; then
        _lab_err "failed: ip netns add $1"
        unset 'LAB_NS_CREATED[-1]'
        return 1
    fi
    _lab_x ip -n "$1" link set lo up || return 1
    if [[ -d /proc/sys/net/ipv6 ]]; then   # no IPv6 at all: nothing to silence
        _lab_x ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1 >/dev/null || return 1
    fi
}

# _lab_veth NS1 IF1 NS2 IF2 : a veth pair created directly inside its two namespaces
_lab_veth() {
    _lab_x ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
}

_lab_wire() {
    local P=$_LAB_ACTIVE_PREFIX UL GW n ip other c node ns mac
    UL=${P}ul GW=${P}gw

    # underlay segment
    _lab_x ip -n "$UL" link add brul type bridge mcast_snooping 0 || return 1
    _lab_x ip -n "$UL" link set brul up || return 1
    local legs=("n1 u0 p_n1 $LAB_N1_IP" "n2 u0 p_n2 $LAB_N2_IP" "gw ul0 p_gw -")
    [[ $LAB_HOST == 1 ]] && legs+=("h u0 p_h $LAB_H_IP")
    local leg l_ns l_if l_port l_ip
    for leg in "${legs[@]}"; do
        read -r l_ns l_if l_port l_ip <<<"$leg"
        _lab_veth "$P$l_ns" "$l_if" "$UL" "$l_port" || return 1
        _lab_x ip -n "$UL" link set "$l_port" mtu "$LAB_UL_MTU" master brul up || return 1
        _lab_x ip -n "$P$l_ns" link set "$l_if" mtu "$LAB_UL_MTU" || return 1
        if [[ $l_ip != - ]]; then
            _lab_x ip -n "$P$l_ns" addr add "$l_ip/$LAB_UL_PLEN" dev "$l_if" || return 1
        fi
        _lab_x ip -n "$P$l_ns" link set "$l_if" up || return 1
    done

    # swarm nodes: br0 + kernel VXLAN with head-end replication to the other node and vxgw
    for n in n1 n2; do
        ns=$P$n
        if [[ $n == n1 ]]; then ip=$LAB_N1_IP other=$LAB_N2_IP; else ip=$LAB_N2_IP other=$LAB_N1_IP; fi
        _lab_x ip -n "$ns" link add br0 type bridge mcast_snooping 0 || return 1
        _lab_x ip -n "$ns" link add vx4096 type vxlan id "$LAB_VNI" dstport "$LAB_VXLAN_PORT" \
            local "$ip" dev u0 learning || return 1
        _lab_x ip -n "$ns" link set vx4096 mtu "$LAB_OVL_MTU" master br0 up || return 1
        _lab_x ip -n "$ns" link set br0 up || return 1
        _lab_x ip netns exec "$ns" bridge fdb append 00:00:00:00:00:00 dev vx4096 dst "$other" || return 1
        _lab_x ip netns exec "$ns" bridge fdb append 00:00:00:00:00:00 dev vx4096 dst "$LAB_GW_VTEP" || return 1
    done

    # containers behind the nodes
    for c in "${LAB_CONTAINERS[@]}"; do
        node=$P${LAB_CTR_NODE[$c]} ns=$P$c
        ip=$(_lab_ctr_var "$c" IP) mac=$(_lab_ctr_var "$c" MAC)
        _lab_veth "$node" "veth_$c" "$ns" eth0 || return 1
        _lab_x ip -n "$node" link set "veth_$c" mtu "$LAB_OVL_MTU" master br0 up || return 1
        _lab_x ip -n "$ns" link set eth0 address "$mac" mtu "$LAB_OVL_MTU" up || return 1
        _lab_x ip -n "$ns" addr add "$ip/$LAB_OVL_PLEN" dev eth0 || return 1
    done

    # bare-metal server on vxgw's access port
    _lab_veth "${P}srv" eth0 "$GW" acc0 || return 1
    _lab_x ip -n "${P}srv" link set eth0 address "$LAB_SRV_MAC" mtu "$LAB_OVL_MTU" up || return 1
    _lab_x ip -n "${P}srv" addr add "$LAB_SRV_IP/$LAB_OVL_PLEN" dev eth0 || return 1
    _lab_x ip -n "$GW" link set acc0 mtu $((LAB_OVL_MTU > 1500 ? LAB_OVL_MTU : 1500)) up || return 1

    # routing-mesh client on vxgw's external port
    if [[ $LAB_MESH == 1 ]]; then
        _lab_veth "${P}cl" eth0 "$GW" ext0 || return 1
        _lab_x ip -n "${P}cl" addr add "$LAB_CL_IP/$LAB_CL_PLEN" dev eth0 || return 1
        _lab_x ip -n "${P}cl" link set eth0 mtu "$LAB_CL_MTU" up || return 1
        _lab_x ip -n "${P}cl" route add default via "$LAB_CL_GW" dev eth0 || return 1
        _lab_x ip -n "$GW" link set ext0 up || return 1
    fi

    # tx checksum offload (and with it TSO) off where traffic originates
    local list=$LAB_TXOFF item
    if [[ $list == auto ]]; then
        list="c1:eth0 c2:eth0 c3:eth0 srv:eth0"
        [[ $LAB_MESH == 1 ]] && list+=" cl:eth0"
        [[ $LAB_HOST == 1 ]] && list+=" h:u0"
    fi
    for item in $list; do
        _lab_x ip netns exec "$P${item%%:*}" ethtool -K "${item#*:}" tx off >/dev/null || return 1
    done
    return 0
}

lab_up() {
    local t0=$SECONDS P=$LAB_PREFIX n
    if ((${#LAB_NS_CREATED[@]})); then _lab_err "lab_up: already up (${LAB_NS_CREATED[*]})"; return 1; fi
    [[ $(id -u) == 0 ]] || { _lab_err "lab_up: needs root"; return 1; }
    [[ $P =~ ^[A-Za-z0-9_.-]{1,24}$ ]] || { _lab_err "lab_up: bad LAB_PREFIX '$P'"; return 1; }
    for n in ip bridge ethtool; do
        command -v "$n" >/dev/null || { _lab_err "lab_up: $n not found"; return 1; }
    done
    local names=(ul gw n1 n2 "${LAB_CONTAINERS[@]}" srv)
    [[ $LAB_MESH == 1 ]] && names+=(cl)
    [[ $LAB_HOST == 1 ]] && names+=(h)
    for n in "${names[@]}"; do
        if _lab_ns_exists "$P$n"; then
            _lab_err "lab_up: namespace $P$n already exists (stale run? use another LAB_PREFIX or 'ip netns del $P$n')"
            return 1
        fi
    done
    _LAB_ACTIVE_PREFIX=$P
    # name first, then mkdir (fails if it exists): lab_down can always remove what exists
    _LAB_DIR_OURS=1
    LAB_DIR="${TMPDIR:-/tmp}/${P}lab.$$.$RANDOM$RANDOM"
    mkdir -m 700 "$LAB_DIR" || { _lab_err "lab_up: cannot create $LAB_DIR"; LAB_DIR=""; return 1; }
    mkdir -p "$LAB_DIR/www"
    for n in "${names[@]}"; do _lab_ns_add "$P$n" || return 1; done
    _lab_wire || return 1
    _lab_err "up: prefix $P, ${#LAB_NS_CREATED[@]} namespaces, dir $LAB_DIR, $((SECONDS - t0)) s"
}

lab_down() {
    local rc=0 ns i pid left=()
    lab_capture_stop "${LAB_CAPTURE_PIDS[@]}"
    lab_http_servers_stop
    for pid in "${LAB_PIDS[@]}"; do lab_stop_pid "$pid"; done
    LAB_PIDS=()
    for p in "${LAB_DPDK_PREFIXES[@]}"; do [[ -n $p ]] && rm -rf -- "/var/run/dpdk/$p"; done
    LAB_DPDK_PREFIXES=()
    # reverse order of creation; deleting a namespace also destroys its veth ends
    for ((i = ${#LAB_NS_CREATED[@]} - 1; i >= 0; i--)); do
        ns=${LAB_NS_CREATED[i]}
        if _lab_ns_exists "$ns"; then
            ip netns del "$ns" 2>/dev/null || { _lab_err "lab_down: cannot delete $ns"; rc=1; left+=("$ns"); }
        fi
    done
    LAB_NS_CREATED=("${left[@]}")
    if [[ $_LAB_DIR_OURS == 1 && -n $LAB_DIR && $LAB_KEEP_DIR != 1 ]]; then
        rm -rf -- "$LAB_DIR"
    fi
    [[ $LAB_KEEP_DIR == 1 && -n $LAB_DIR ]] && _lab_err "lab_down: kept $LAB_DIR"
    LAB_DIR="" _LAB_DIR_OURS=0
    ((${#left[@]})) || _LAB_ACTIVE_PREFIX=""
    return $rc
}

lab_trap_exit() {
    _LAB_EXIT_FN=${1:-}
    trap '_lab_on_exit' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

_lab_on_exit() {
    trap '' INT TERM
    [[ -n ${_LAB_EXIT_FN:-} ]] && "$_LAB_EXIT_FN"
    lab_down
}

# --- helpers used by tests ------------------------------------------------------------
lab_wait_ping() {   # lab_wait_ping NS IP [TIMEOUT]
    local ns=$1 ip=$2 t=${3:-10} end
    end=$((SECONDS + t))
    while ((SECONDS < end)); do
        lab_exec "$ns" ping -c 1 -W 1 -q "$ip" >/dev/null 2>&1 && return 0
        ((SECONDS < end)) && sleep 0.2
    done
    _lab_err "lab_wait_ping: $ns -> $ip: no answer within ${t}s"
    return 1
}

# The HTTP server (python3 stdlib), written into LAB_DIR by lab_http_servers_start.
_LAB_HTTPD_PY='
import hashlib, http.server, os, sys, threading, time

NAME, PORT, ROOT = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "overlay-lab/1"

    def __init__(self, *a, **kw):
        super().__init__(*a, directory=ROOT, **kw)

    def _reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", NAME)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.split("?", 1)[0] in ("/", "/whoami"):
            self._reply(("%s %s\n" % (NAME, self.client_address[0])).encode())
        else:
            super().do_GET()

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        h, got = hashlib.sha256(), 0
        while got < n:
            chunk = self.rfile.read(min(65536, n - got))
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
        self._reply(("%s %d\n" % (h.hexdigest(), got)).encode())

    do_POST = do_PUT

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))
        sys.stderr.flush()

def orphan_watch(parent=os.getppid()):
    # exit when the lab shell that started us is gone (e.g. killed before it recorded our PID)
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)

threading.Thread(target=orphan_watch, daemon=True).start()
http.server.ThreadingHTTPServer.allow_reuse_address = True
# A listen backlog for the 200 concurrent requests of the mesh lab: with the default 5,
# most of their SYNs (or the last ACKs of their handshakes) were dropped by the full
# accept queue of the server and retried with backoff (1, 3, 7, 15, 31 s), so some
# took past the 60 s curl allows; real servers listen with hundreds.
http.server.ThreadingHTTPServer.request_queue_size = 1024
http.server.ThreadingHTTPServer(("", PORT), Handler).serve_forever()
'

lab_http_servers_start() {
    local names=("$@") n ns pid i ok
    ((${#names[@]})) || names=("${LAB_CONTAINERS[@]}")
    [[ -n $LAB_DIR && -d $LAB_DIR ]] || { _lab_err "lab_http_servers_start: lab is not up"; return 1; }
    [[ -x $LAB_PY ]] || { _lab_err "lab_http_servers_start: $LAB_PY missing"; return 1; }
    printf '%s' "$_LAB_HTTPD_PY" >"$LAB_DIR/httpd.py"
    mkdir -p "$LAB_DIR/www"
    for n in "${names[@]}"; do
        ns=$(lab_ns "$n")
        _lab_ns_exists "$ns" || { _lab_err "lab_http_servers_start: no namespace $ns"; return 1; }
        # `ip netns exec` execs the command: $! is python's own PID
        ip netns exec "$ns" "$LAB_PY" "$LAB_DIR/httpd.py" "${ns#"$_LAB_ACTIVE_PREFIX"}" "$LAB_HTTP_PORT" \
            "$LAB_DIR/www" </dev/null >>"$LAB_DIR/http_${ns#"$_LAB_ACTIVE_PREFIX"}.log" 2>&1 &
        pid=$!
        _lab_track "$pid"
        LAB_HTTP_PIDS+=("$pid")
    done
    # readiness: each server answers on its own loopback (bounded: 10 s each)
    for n in "${names[@]}"; do
        ok=0
        for ((i = 0; i < 100; i++)); do
            if lab_exec "$n" curl -s -o /dev/null --noproxy '*' -m 1 "http://127.0.0.1:$LAB_HTTP_PORT/"; then
                ok=1; break
            fi
            sleep 0.1
        done
        ((ok)) || { _lab_err "lab_http_servers_start: server in $n not answering"; return 1; }
    done
}

lab_http_servers_stop() {
    local pid
    for pid in "${LAB_HTTP_PIDS[@]}"; do lab_stop_pid "$pid" TERM 5; done
    LAB_HTTP_PIDS=()
}

lab_capture() {   # lab_capture NS IF FILE [TCPDUMP_ARGS...]
    local ns ifc=$2 file=$3 log pid i
    ns=$(lab_ns "$1") || return 1
    shift 3
    _lab_ns_exists "$ns" || { _lab_err "lab_capture: no namespace $ns"; return 1; }
    log="$file.tcpdump.log"
    : >"$log"
    # -Z root: do not drop privileges (the file may be in a root-only dir); -U: per-packet
    # flush; -B 8192: 8 MiB kernel buffer (no drops during the 5 MiB transfers)
    ip netns exec "$ns" tcpdump -i "$ifc" -w "$file" -U -n -s 0 -B 8192 -Z root "$@" </dev/null >"$log" 2>&1 &
    pid=$!
    _lab_track "$pid"
    LAB_CAPTURE_PIDS+=("$pid")
    # shellcheck disable=SC2034  # for the caller
    LAB_LAST_CAPTURE_PID=$pid
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$log" 2>/dev/null && return 0
        _lab_alive "$pid" || break
        sleep 0.05
    done
    _lab_err "lab_capture: tcpdump on $ns/$ifc did not start: $(head -c 300 "$log")"
    return 1
}

lab_capture_stop() {   # lab_capture_stop [PID...]
    local pids=("$@") pid keep=() p stop
    ((${#pids[@]})) || pids=("${LAB_CAPTURE_PIDS[@]}")
    for pid in "${pids[@]}"; do lab_stop_pid "$pid" TERM 5; done
    for p in "${LAB_CAPTURE_PIDS[@]}"; do
        stop=0
        for pid in "${pids[@]}"; do [[ $p == "$pid" ]] && stop=1; done
        ((stop)) || keep+=("$p")
    done
    LAB_CAPTURE_PIDS=("${keep[@]}")
    return 0
}

# --- the kernel as a stand-in for vxgw (reference peer; used by the self-test) ------------
lab_standin_up() {
    local gw
    gw=$(lab_ns gw)
    _lab_x ip -n "$gw" addr add "$LAB_GW_VTEP/$LAB_UL_PLEN" dev ul0 || return 1
    _lab_x ip -n "$gw" link add vx4096 type vxlan id "$LAB_VNI" dstport "$LAB_VXLAN_PORT" \
        local "$LAB_GW_VTEP" dev ul0 learning || return 1
    _lab_x ip -n "$gw" link add brgw type bridge mcast_snooping 0 || return 1
    _lab_x ip -n "$gw" link set vx4096 mtu "$LAB_OVL_MTU" master brgw up || return 1
    _lab_x ip -n "$gw" link set acc0 master brgw || return 1
    _lab_x ip -n "$gw" link set brgw up || return 1
    _lab_x ip netns exec "$gw" bridge fdb append 00:00:00:00:00:00 dev vx4096 dst "$LAB_N1_IP" || return 1
    _lab_x ip netns exec "$gw" bridge fdb append 00:00:00:00:00:00 dev vx4096 dst "$LAB_N2_IP" || return 1
}

lab_standin_down() {
    local gw rc=0
    gw=$(lab_ns gw)
    ip -n "$gw" link show brgw >/dev/null 2>&1 && { ip -n "$gw" link del brgw || rc=1; }
    ip -n "$gw" link show vx4096 >/dev/null 2>&1 && { ip -n "$gw" link del vx4096 || rc=1; }
    ip -n "$gw" addr flush dev ul0 || rc=1
    ip -n "$gw" neigh flush dev ul0 2>/dev/null
    return $rc
}
