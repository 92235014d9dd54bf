# shellcheck shell=bash
# OVS-DPDK helpers of perf/ovs_encap.sh (sourced after lib.sh): a private Open vSwitch
# (Debian openvswitch-switch-dpdk, OVS 3.1 / DPDK 22.11) configured as a VXLAN encap
# peer, everything under $OVSP_DIR, ovs-vswitchd inside its own network namespace.
#
#   ovsdb-server   root netns (serves a unix socket only)
#   ovs-vswitchd   netns $OVSP_NS: the taps behind the netdev bridges' LOCAL ports
#                  (br0, br-phy) and br-phy's IP live there, never in the root netns
#
#   in0 (dpdk vdev, ofport 1) --br0: in_port=1 -> output:2
#       vxlan0 (ofport 2): type=vxlan remote_ip=172.30.0.11 key=4096
#   tunnel push -> br-phy (LOCAL 172.30.0.1/24 in the netns; static tunnel neighbour
#                  172.30.0.11 -> 02:00:00:00:11:11 via tnl/arp/set)
#       --br-phy: in_port=LOCAL -> output:phy0
#   phy0 (dpdk vdev, ofport 1 of br-phy)
#
# The outer addresses are vxgw's (perf/mk_overlay_inputs.py encap): local VTEP
# 172.30.0.1, remote VTEP 172.30.0.11 with neighbour MAC 02:00:00:00:11:11, VNI 4096.
# Both bridges are fail_mode=secure (no NORMAL flow) and the flows are installed
# before in0 exists, so the first packet the PMD reads already has its flow.
#
# Every process is started in the foreground with '&' and stopped by PID.

OVSP_DIR=/tmp/vxgw_ovsperf
OVSP_NS=vxgw_ovsperf
OVSP_PREFIX=perf_ovs_$$
OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
OVSP_LOCAL_IP=172.30.0.1
OVSP_REMOTE_IP=172.30.0.11
OVSP_REMOTE_MAC=02:00:00:00:11:11
OVSP_VNI=4096
export OVS_RUNDIR=$OVSP_DIR/run OVS_LOGDIR=$OVSP_DIR/log OVS_DBDIR=$OVSP_DIR OVS_SYSCONFDIR=$OVSP_DIR/etc
OVSP_DB=unix:$OVSP_DIR/run/db.sock
OVSDB_PID="" VSWITCHD_PID="" OVSP_NS_MADE=0

vsctl() { ovs-vsctl --db="$OVSP_DB" --timeout=20 "$@"; }
ofctl() { ovs-ofctl "$@"; }   # finds br0.mgmt / br-phy.mgmt through OVS_RUNDIR
appctl() { ovs-appctl -t "$OVSP_DIR/run/ovs-vswitchd.ctl" "$@"; }

# stop_pid PID TIMEOUT_S SIG: SIG, bounded wait, then SIGKILL; only that PID.
stop_pid() {
  local pid=$1 t=${2:-15} sig=${3:-TERM} i
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < t * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "stop_pid: $pid ignored SIG$sig for ${t}s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# ovs_eal_extra MEM: dpdk-extra for OVS's EAL from perf/lib.sh eal_mem_args' MEM.
# Hugepages: nothing extra (OVS 3.1 appends --in-memory: no hugepage files). --no-huge:
# the same -m as testpmd/vxgw (1536 MB holds OVS's 262144-mbuf pool; 1024 MB, as in
# the lab recipe, falls back to 131072) plus an explicit --legacy-mem, since EAL
# rejects --no-huge with the --in-memory OVS would append otherwise.
ovs_eal_extra() {
  case "$1" in
    --no-huge*) echo "--no-pci --file-prefix=$OVSP_PREFIX $1 --legacy-mem" ;;
    *) echo "--no-pci --file-prefix=$OVSP_PREFIX" ;;
  esac
}

# ovs_up EAL_EXTRA IN0_DEVARGS PHY0_DEVARGS [extra in0 Interface settings...]
ovs_up() {
  local extra=$1 in0=$2 phy0=$3 i e; shift 3
  if ip netns list | grep -qw "$OVSP_NS"; then
    echo "# removing stale netns $OVSP_NS (left by an earlier run)"
    ip netns del "$OVSP_NS"
  fi
  ip netns add "$OVSP_NS" && OVSP_NS_MADE=1
  ip -n "$OVSP_NS" link set lo up
  ip netns exec "$OVSP_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
  ip netns exec "$OVSP_NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true

  rm -rf "$OVSP_DIR"; mkdir -p "$OVSP_DIR/run" "$OVSP_DIR/log" "$OVSP_DIR/etc"
  ovsdb-tool create "$OVSP_DIR/conf.db" "$OVS_SCHEMA"
  ovsdb-server "$OVSP_DIR/conf.db" --remote="punix:$OVSP_DIR/run/db.sock" \
    --unixctl="$OVSP_DIR/run/ovsdb-server.ctl" --log-file="$OVSP_DIR/log/ovsdb-server.log" \
    >/dev/null 2>&1 &
  OVSDB_PID=$!
  for ((i = 0; i < 50; i++)); do [ -S "$OVSP_DIR/run/db.sock" ] && break; sleep 0.1; done
  # --no-wait: vswitchd is not running yet (without it ovs-vsctl blocks until timeout)
  vsctl --no-wait init
  vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2 \
    "other_config:dpdk-extra=$extra"

  ip netns exec "$OVSP_NS" "$OVS_VSWITCHD" "$OVSP_DB" --unixctl="$OVSP_DIR/run/ovs-vswitchd.ctl" \
    --log-file="$OVSP_DIR/log/ovs-vswitchd.log" -vconsole:off \
    >"$OVSP_DIR/log/ovs-vswitchd.stdout" 2>&1 &
  VSWITCHD_PID=$!
  for ((i = 0; i < 150; i++)); do
    kill -0 "$VSWITCHD_PID" 2>/dev/null || { echo "ovs-vswitchd exited (see $OVSP_DIR/log)"; return 1; }
    [ "$(vsctl get Open_vSwitch . dpdk_initialized 2>/dev/null)" = true ] && break
    sleep 0.2
  done
  [ "$(vsctl get Open_vSwitch . dpdk_initialized 2>/dev/null)" = true ] ||
    { echo "ovs-vswitchd: DPDK not initialised after 30 s"; return 1; }

  vsctl add-br br-phy -- set bridge br-phy datapath_type=netdev fail_mode=secure
  vsctl add-port br-phy phy0 -- set Interface phy0 type=dpdk ofport_request=1 \
    "options:dpdk-devargs=$phy0"
  ip -n "$OVSP_NS" addr add "$OVSP_LOCAL_IP/24" dev br-phy
  ip -n "$OVSP_NS" link set br-phy up
  appctl tnl/arp/set br-phy "$OVSP_REMOTE_IP" "$OVSP_REMOTE_MAC" >/dev/null
  ofctl add-flow br-phy in_port=LOCAL,actions=output:1

  vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=secure
  vsctl add-port br0 vxlan0 -- set Interface vxlan0 type=vxlan ofport_request=2 \
    "options:remote_ip=$OVSP_REMOTE_IP" "options:key=$OVSP_VNI"
  ofctl add-flow br0 in_port=1,actions=output:2
  vsctl add-port br0 in0 -- set Interface in0 type=dpdk ofport_request=1 \
    "options:dpdk-devargs=$in0" "$@"
  e=$(vsctl --bare --columns=name,error find Interface 'error!=[]')
  [ -z "$e" ] || { echo "OVS interface error: $e"; return 1; }
  if [ "$(vsctl get Interface in0 ofport)" != 1 ] || [ "$(vsctl get Interface phy0 ofport)" != 1 ]; then
    echo "OVS: in0/phy0 did not get ofport 1"; return 1
  fi
}

# ovs_stop: vswitchd (closing phy0 flushes a tx_pcap), ovsdb-server, the netns, the
# EAL leftovers (with --in-memory there are none; --legacy-mem may leave a runtime dir).
ovs_stop() {
  stop_pid "$VSWITCHD_PID" 20 TERM; VSWITCHD_PID=""
  stop_pid "$OVSDB_PID" 10 TERM; OVSDB_PID=""
  if [ "$OVSP_NS_MADE" = 1 ]; then ip netns del "$OVSP_NS" 2>/dev/null || true; OVSP_NS_MADE=0; fi
  rm -rf "/var/run/dpdk/$OVSP_PREFIX"; rm -f /dev/hugepages/"$OVSP_PREFIX"map_* 2>/dev/null || true
}

# port_tx NAME: datapath TX packet counter of port NAME (dpctl/show -s)
port_tx() {
  appctl dpctl/show -s | awk -v p="$1" '
    $1 == "port" && $3 == p {hit = 1; next}
    $1 == "port" {hit = 0}
    hit && $1 == "TX" && $2 ~ /^packets:/ {split($2, a, ":"); print a[2]; exit}'
}
