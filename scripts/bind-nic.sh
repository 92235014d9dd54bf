#!/usr/bin/env bash
# bind-nic.sh - hand NICs to DPDK (vfio-pci) or give them back to a kernel driver,
# refusing anything that could cut this machine off the network.
#
# Wraps dpdk-devbind.py (Debian package dpdk). Before changing anything, every device is
# checked; any failed check refuses the whole run (exit 1, nothing changed):
#   - the PCI address must be DDDD:BB:DD.F or BB:DD.F (hex);
#   - the device must exist (/sys/bus/pci/devices/ADDR);
#   - none of its network interfaces (ADDR/net/*, and ADDR/virtio*/net/* for virtio-net)
#     may carry the default route (IPv4 or IPv6); --force does NOT override this;
#   - none of its interfaces may be UP with addresses (link-local ones are ignored),
#     unless --force.
# For vfio-pci the machine must also have an IOMMU (/sys/kernel/iommu_groups non-empty),
# unless --noiommu. Then it loads the driver (modprobe; a failure is reported, not fatal)
# and runs dpdk-devbind.py -b DRIVER ADDR...
#
# Usage:
#   scripts/bind-nic.sh --status                      # or: list, status
#   sudo scripts/bind-nic.sh bind 0000:03:00.0 [03:00.1 ...] [--driver vfio-pci]
#   sudo scripts/bind-nic.sh unbind 0000:03:00.0 --driver ixgbe
#   scripts/bind-nic.sh --dry-run bind 03:00.0        # print the commands only
#
# Options:
#   --driver NAME     bind: driver to use (default vfio-pci); unbind: the kernel driver to
#                     go back to (required)
#   --noiommu         no IOMMU: set vfio's enable_unsafe_noiommu_mode=Y (no DMA isolation:
#                     the device can write anywhere in memory)
#   --force           bind even if an interface is UP with addresses (passed on to
#                     dpdk-devbind.py); never overrides the default-route check
#   --dry-run         print the commands and writes it would do, change nothing
#   --sysfs-root DIR  read DIR/sys instead of /sys (for tests; only with --dry-run)
#   -h, --help        this text
# Environment (for tests):
#   VXGW_ROUTE_CMD    shell command printing the default route lines to check, instead of
#                     `ip -4 route show default; ip -6 route show default`; every
#                     "dev NAME" in its output counts as a default-route interface
#   VXGW_ADDR_CMD     shell command printing `ip -o addr` lines for the interface name
#                     given as its argument, instead of `ip -o addr show dev NAME`
#
# Exit status: 0 ok; 1 refusal or failure; 2 usage error.
set -euo pipefail

PROG=bind-nic

die() { echo "$PROG: error: $*" >&2; exit 1; }
warn() { echo "$PROG: warning: $*" >&2; }
info() { echo "$PROG: $*"; }
usage() { sed -n '2,/^# Exit status/{s/^# \{0,1\}//;p}' "$0"; }
usage_error() { echo "$PROG: $*" >&2; usage >&2; exit 2; }

ACTION="" DRIVER="" NOIOMMU=0 FORCE=0 DRY=0 SYSFS_ROOT=/
ADDRS=()

set_action() {
  [[ -z $ACTION || $ACTION == "$1" ]] || usage_error "give one action, not '$ACTION' and '$1'"
  ACTION=$1
}

while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --status | status | list) set_action status; shift ;;
    bind | unbind) set_action "$1"; shift ;;
    --driver | --sysfs-root)
      [[ $# -ge 2 ]] || usage_error "$1 needs a value"
      if [[ $1 == --driver ]]; then DRIVER=$2; else SYSFS_ROOT=$2; fi
      shift 2 ;;
    --driver=*) DRIVER=${1#*=}; shift ;;
    --sysfs-root=*) SYSFS_ROOT=${1#*=}; shift ;;
    --noiommu) NOIOMMU=1; shift ;;
    --force) FORCE=1; shift ;;
    --dry-run) DRY=1; shift ;;
    -*) usage_error "unknown option: $1" ;;
    *)
      [[ $ACTION == bind || $ACTION == unbind ]] || usage_error "unexpected argument: $1"
      ADDRS+=("$1"); shift ;;
  esac
done

[[ -n $ACTION ]] || usage_error "say what to do: --status, bind or unbind"
[[ -d $SYSFS_ROOT ]] || usage_error "--sysfs-root '$SYSFS_ROOT' does not exist"
SYS="${SYSFS_ROOT%/}/sys"

need_devbind() {
  command -v dpdk-devbind.py >/dev/null ||
    die "dpdk-devbind.py not found: install the Debian package dpdk (scripts/install-deps.sh)"
}

if [[ $ACTION == status ]]; then
  need_devbind
  exec dpdk-devbind.py --status-dev net
fi

# --- validate the request -----------------------------------------------------------

((${#ADDRS[@]})) || usage_error "$ACTION needs at least one PCI address"
if [[ $ACTION == bind ]]; then
  DRIVER=${DRIVER:-vfio-pci}
else
  [[ -n $DRIVER ]] || usage_error "unbind needs --driver ORIGDRIVER (the kernel driver to go back to, e.g. ixgbe)"
fi
[[ $DRIVER =~ ^[A-Za-z0-9_-]+$ ]] || usage_error "bad driver name '$DRIVER'"

if [[ -n ${SYSFS_ROOT%/} ]] && ((!DRY)); then
  usage_error "--sysfs-root is for tests and works only with --dry-run (dpdk-devbind.py always acts on the real /sys)"
fi
if ((!DRY)) && [[ $EUID -ne 0 ]]; then
  die "must run as root to bind devices (use --dry-run to see what it would do)"
fi
((DRY)) || need_devbind

# Interfaces carrying a default route, one per line.
default_route_devs() {
  local out
  if [[ -n ${VXGW_ROUTE_CMD:-} ]]; then
    out=$(bash -c "$VXGW_ROUTE_CMD") || die "VXGW_ROUTE_CMD failed: $VXGW_ROUTE_CMD"
  else
    command -v ip >/dev/null || die "cannot check default routes: 'ip' not found (package iproute2)"
    out=$(ip -4 route show default) || die "'ip -4 route show default' failed"
    out+=$'\n'$(ip -6 route show default 2>/dev/null || true) # IPv6 may be disabled
  fi
  # Multipath routes put "dev X" on continuation lines: take every "dev X" pair.
  awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' <<<"$out" | sort -u
}

# Non-link-local addresses of interface $1, one `ip -o addr` line each.
iface_addrs() {
  local out
  if [[ -n ${VXGW_ADDR_CMD:-} ]]; then
    out=$(bash -c "$VXGW_ADDR_CMD \"\$1\"" vxgw-addr "$1" 2>/dev/null) || out=""
  else
    out=$(ip -o addr show dev "$1" 2>/dev/null) || out=""
  fi
  grep -E '[[:space:]]inet6?[[:space:]]' <<<"$out" | grep -vE 'scope (link|host)' || true
}

iface_is_up() { # $1 = the interface's sysfs dir
  local flags state
  if flags=$(cat -- "$1/flags" 2>/dev/null) && [[ $flags =~ ^0x[0-9a-fA-F]+$ ]]; then
    (((flags & 0x1) != 0)) # IFF_UP
    return
  fi
  state=$(cat -- "$1/operstate" 2>/dev/null || true)
  [[ $state == up ]]
}

route_devs=$(default_route_devs) # a failure here stops the script (set -e)
mapfile -t ROUTE_DEVS <<<"$route_devs"

problems=() pci=()
for a in "${ADDRS[@]}"; do
  if [[ ! $a =~ ^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[01][0-9a-fA-F]\.[0-7]$ ]]; then
    problems+=("'$a' is not a PCI address (want DDDD:BB:DD.F or BB:DD.F, hex; device <= 1f, function <= 7)")
    continue
  fi
  if [[ ${#a} -eq 7 ]]; then a="0000:$a"; fi
  a=${a,,}
  dev="$SYS/bus/pci/devices/$a"
  if [[ ! -e $dev ]]; then
    problems+=("$a: no such PCI device ($dev does not exist)")
    continue
  fi
  bad=0
  shopt -s nullglob
  for ifdir in "$dev"/net/* "$dev"/virtio*/net/*; do
    ifname=${ifdir##*/}
    for r in "${ROUTE_DEVS[@]}"; do
      if [[ $r == "$ifname" ]]; then
        problems+=("$a is $ifname, which carries the default route: taking it would cut this machine off the network")
        bad=1
      fi
    done
    if ((!FORCE)) && iface_is_up "$ifdir"; then
      addrs=$(iface_addrs "$ifname" | awk '{for (i = 1; i < NF; i++) if ($i ~ /^inet6?$/) print $(i + 1)}' | paste -sd' ' -)
      if [[ -n $addrs ]]; then
        problems+=("$a is $ifname, which is UP with addresses ($addrs): take it down first or use --force")
        bad=1
      fi
    fi
  done
  shopt -u nullglob
  ((bad)) || pci+=("$a")
done

if [[ $DRIVER == vfio-pci ]]; then
  iommu_groups=("$SYS"/kernel/iommu_groups/*)
  if [[ ! -e ${iommu_groups[0]} ]]; then
    if ((NOIOMMU)); then
      use_noiommu=1
    else
      problems+=("no IOMMU ($SYS/kernel/iommu_groups is empty): enable VT-d/AMD-Vi and boot with intel_iommu=on (or amd_iommu=on) iommu=pt, or pass --noiommu to run vfio without DMA isolation")
    fi
  elif ((NOIOMMU)); then
    info "an IOMMU is present; ignoring --noiommu"
  fi
fi

if ((${#problems[@]})); then
  for p in "${problems[@]}"; do echo "$PROG: refusing: $p" >&2; done
  echo "$PROG: nothing was changed" >&2
  exit 1
fi

# --- act ----------------------------------------------------------------------------

run() {
  if ((DRY)); then
    local out="" a
    for a in "$@"; do out+=" $(printf '%q' "$a")"; done
    echo "would run:${out}"
  else
    "$@"
  fi
}

if ! run modprobe "$DRIVER"; then
  warn "modprobe $DRIVER failed (module missing, or built into the kernel); trying to bind anyway"
fi

if ((${use_noiommu:-0})); then
  knob="$SYS/module/vfio/parameters/enable_unsafe_noiommu_mode"
  cat >&2 <<EOF
$PROG: ################################################################################
$PROG: WARNING: enabling vfio no-IOMMU mode. The device gets unrestricted DMA: a buggy
$PROG: or hostile device or DPDK program can overwrite ANY memory of this machine, and
$PROG: the kernel is tainted. Use only on a dedicated test box or in a VM without vIOMMU.
$PROG: ################################################################################
EOF
  if ((DRY)); then
    echo "would write Y > $knob"
  else
    [[ -e $knob ]] || die "$knob is missing: is the vfio module loaded (modprobe vfio-pci)?"
    echo Y >"$knob" || die "cannot write Y to $knob"
  fi
fi

args=(-b "$DRIVER")
if ((FORCE)); then args+=(--force); fi
run dpdk-devbind.py "${args[@]}" "${pci[@]}"

if ((DRY)); then
  info "dry run: nothing was changed"
else
  dpdk-devbind.py --status-dev net
fi
