#!/usr/bin/env bash
# Checks are shell code in single quotes, eval'd by check(): SC2016/SC2034 are expected.
# shellcheck disable=SC2016,SC2034
# tests/scripts_test.sh - tests scripts/setup-hugepages.sh and scripts/bind-nic.sh.
#
# Everything runs against fake sysfs/proc/etc trees in a mktemp dir (removed on exit),
# with stub mount/umount/modprobe/dpdk-devbind.py first in PATH that only log their
# arguments. Nothing here reserves real hugepages, mounts anything or (un)binds a device:
# setup-hugepages runs use --dry-run or fully fake roots; bind-nic runs use --dry-run
# (bind-nic itself refuses a fake --sysfs-root without it). The only runs against the
# real machine are read-only: --dry-run, or refusals that happen before any action.
#
# Usage: bash tests/scripts_test.sh
# Prints one line per check; the last line is "N passed, M failed"; exits 1 on any failure.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HP="$REPO/scripts/setup-hugepages.sh"
BN="$REPO/scripts/bind-nic.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

PASS=0 FAIL=0 SKIP=0
OUT="" RC=0

# run CMD...: capture combined output in OUT and the exit status in RC.
run() { OUT=$("$@" 2>&1); RC=$?; }
# check NAME CONDITION: CONDITION is shell code (eval'd) that must succeed.
check() {
  if eval "$2"; then
    PASS=$((PASS + 1)); echo "ok   $1"
  else
    FAIL=$((FAIL + 1)); echo "FAIL $1"
    echo "     condition: $2"
    echo "     last exit status: $RC; last output:"
    head -n 25 <<<"$OUT" | while IFS= read -r l; do echo "     | $l"; done
  fi
}
skip() { SKIP=$((SKIP + 1)); echo "skip $1"; }
has() { grep -qF -- "$1" <<<"$OUT"; }
has_re() { grep -qE -- "$1" <<<"$OUT"; }
lacks() { ! grep -qF -- "$1" <<<"$OUT"; }
rc() { [[ $RC -eq $1 ]]; }
val() { tr -d '[:space:]' <"$1"; }
calls() { cat "$T/calls.log" 2>/dev/null; }
no_calls() { [[ ! -s $T/calls.log ]]; }
reset_calls() { : >"$T/calls.log"; }
# Contents, names and modes of all regular files and dirs below $1.
snap() { (cd "$1" && find . -printf '%y %m %p\n' | sort && find . -type f -exec md5sum {} + | sort); }

# --- stubs: first in PATH, they only log ---------------------------------------------
mkdir -p "$T/bin"
for c in mount umount modprobe; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/calls.log"\n' "$c" "$T" >"$T/bin/$c"
done
cat >"$T/bin/dpdk-devbind.py" <<EOF
#!/bin/sh
echo "dpdk-devbind.py \$*" >>"$T/calls.log"
if [ "\$1" = --status-dev ]; then
  echo "Network devices using kernel driver"
  echo "0000:03:00.0 'Fake NIC 10fb' if=ens3 drv=ixgbe unused=vfio-pci"
fi
EOF
# Fake `ip -o addr show dev IF` for the fake interfaces.
cat >"$T/bin/fake-addrs" <<'EOF'
#!/bin/sh
case $1 in
  ens6) echo "6: ens6    inet 198.51.100.7/24 brd 198.51.100.255 scope global ens6\\       valid_lft forever preferred_lft forever"
        echo "6: ens6    inet6 fe80::6/64 scope link \\       valid_lft forever preferred_lft forever" ;;
  ens7) echo "7: ens7    inet6 fe80::7/64 scope link \\       valid_lft forever preferred_lft forever" ;;
esac
EOF
chmod +x "$T"/bin/*
export PATH="$T/bin:$PATH"
for c in mount umount modprobe dpdk-devbind.py; do
  if [[ $(command -v "$c") != "$T/bin/$c" ]]; then
    echo "stub $c is not first in PATH; refusing to run tests" >&2
    exit 1
  fi
done
reset_calls

# --- fake hugepage trees -----------------------------------------------------------

# mk_hp_tree DIR "NODES" "SIZES_KB": NODES empty = no NUMA sysfs.
mk_hp_tree() {
  local r=$1 nodes=$2 sizes=$3 kb n d
  mkdir -p "$r/sys/kernel/mm/hugepages" "$r/proc/sys/vm" "$r/etc"
  for kb in $sizes; do
    d="$r/sys/kernel/mm/hugepages/hugepages-${kb}kB"
    mkdir -p "$d"; echo 0 >"$d/nr_hugepages"; echo 0 >"$d/free_hugepages"
    for n in $nodes; do
      d="$r/sys/devices/system/node/node$n/hugepages/hugepages-${kb}kB"
      mkdir -p "$d"; echo 0 >"$d/nr_hugepages"; echo 0 >"$d/free_hugepages"
    done
  done
  if [[ -z $nodes && -d $r/sys/kernel/mm/hugepages/hugepages-2048kB ]]; then
    # As in the kernel (default size 2M), both files are one counter.
    ln -s "$r/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages" "$r/proc/sys/vm/nr_hugepages"
  else
    echo 0 >"$r/proc/sys/vm/nr_hugepages"
  fi
  printf 'MemTotal:       16318460 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n' >"$r/proc/meminfo"
  printf 'sysfs /sys sysfs rw,nosuid 0 0\nproc /proc proc rw 0 0\n' >"$r/proc/mounts"
  printf '# /etc/fstab\nUUID=0a1b2c3d / ext4 errors=remount-ro 0 1\n' >"$r/etc/fstab"
}
hp() { bash "$HP" --sysfs-root "$R" --proc-root "$R" --etc-root "$R" "$@"; }
N2M() { echo "$R/sys/devices/system/node/node$1/hugepages/hugepages-2048kB/nr_hugepages"; }
N1G() { echo "$R/sys/devices/system/node/node$1/hugepages/hugepages-1048576kB/nr_hugepages"; }

echo "# setup-hugepages.sh"

run bash "$HP" --help
check "hp: --help exits 0 and documents the options" 'rc 0 && has "--sysfs-root" && has "--persist"'
run bash "$HP" --bogus
check "hp: unknown option -> usage, exit 2" 'rc 2 && has "unknown option: --bogus" && has "Usage:"'
run bash "$HP" --pages 4 --mem 1G --dry-run
check "hp: --pages with --mem -> exit 2" 'rc 2 && has "not both"'
run bash "$HP" --size 4M --pages 1 --dry-run
check "hp: --size 4M -> exit 2" 'rc 2 && has "--size must be 2M or 1G"'

R="$T/hp-dry"; mk_hp_tree "$R" "0 1" "2048 1048576"
before=$(snap "$R")
run hp --dry-run --pages 512 --persist
check "hp: dry-run prints the per-node writes" \
  'rc 0 && has "would write 512 > $(N2M 0)" && has "would write 512 > $(N2M 1)"'
check "hp: dry-run prints the mount command" \
  'has "would run: mkdir -p $R/dev/hugepages" && has "would run: mount -t hugetlbfs nodev $R/dev/hugepages"'
check "hp: dry-run prints the persist writes" \
  'has "would write vm.nr_hugepages=1024 > $R/etc/sysctl.d/80-vxgw-hugepages.conf" && has "would write nodev /dev/hugepages hugetlbfs defaults 0 0 >> $R/etc/fstab"'
check "hp: dry-run changes nothing and runs nothing" '[[ $(snap "$R") == "$before" ]] && no_calls'
run hp --dry-run --size 1G --pages 2 --node 1
check "hp: dry-run 1G on one node" \
  'rc 0 && has "would write 2 > $(N1G 1)" && lacks "$(N1G 0)" && has "mount -t hugetlbfs -o pagesize=1G nodev $R/dev/hugepages" && [[ $(snap "$R") == "$before" ]]'

R="$T/hp-node1"; mk_hp_tree "$R" "0 1" "2048 1048576"
echo "nodev $R/dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0" >>"$R/proc/mounts"
reset_calls
run hp --node 1 --pages 64
check "hp: --node 1 writes node1's 2M counter only" \
  'rc 0 && [[ $(val "$(N2M 1)") == 64 && $(val "$(N2M 0)") == 0 && $(val "$(N1G 1)") == 0 ]]'
check "hp: reports what the kernel reserved" 'has "node1: asked for 64 x 2M pages, the kernel reserved 64"'
check "hp: existing hugetlbfs mount is left alone" 'has "already mounted at $R/dev/hugepages" && no_calls'

R="$T/hp-mem"; mk_hp_tree "$R" "0 1" "2048"
echo "nodev $R/dev/hugepages hugetlbfs rw,relatime 0 0" >>"$R/proc/mounts"
run hp --mem 1G
check "hp: --mem 1G on all nodes -> 512 x 2M per node" \
  'rc 0 && [[ $(val "$(N2M 0)") == 512 && $(val "$(N2M 1)") == 512 ]]'
run hp --mem 3M --node 0
check "hp: --mem rounds up to whole pages" 'rc 0 && has "rounding up to 2 pages" && [[ $(val "$(N2M 0)") == 2 ]]'
run hp --pages 4 --node 7
check "hp: unknown NUMA node -> exit 1" 'rc 1 && has "NUMA node 7"'

R="$T/hp-1g"; mk_hp_tree "$R" "0 1" "2048 1048576"
reset_calls
run hp --size 1G --node 0 --pages 2
check "hp: 1G writes node0's 1G counter only" \
  'rc 0 && [[ $(val "$(N1G 0)") == 2 && $(val "$(N1G 1)") == 0 && $(val "$(N2M 0)") == 0 ]]'
check "hp: 1G mounts hugetlbfs with pagesize=1G" \
  '[[ $(calls) == "mount -t hugetlbfs -o pagesize=1G nodev $R/dev/hugepages" && -d $R/dev/hugepages ]]'

R="$T/hp-busy"; mk_hp_tree "$R" "0" "2048"
echo "tmpfs $R/dev/hugepages tmpfs rw 0 0" >>"$R/proc/mounts"
run hp --pages 8
check "hp: mount point taken by another fs -> exit 1 before any change" \
  'rc 1 && has "already mounted as tmpfs" && [[ $(val "$(N2M 0)") == 0 ]]'

R="$T/hp-flat"; mk_hp_tree "$R" "" "2048 1048576"
echo "nodev $R/dev/hugepages hugetlbfs rw,relatime 0 0" >>"$R/proc/mounts"
run hp --pages 100
check "hp: no NUMA sysfs -> 2M falls back to /proc/sys/vm/nr_hugepages" \
  'rc 0 && [[ $(val "$R/proc/sys/vm/nr_hugepages") == 100 ]] && has "machine: asked for 100"'
run hp --size 1G --pages 3 --no-mount
check "hp: no NUMA sysfs -> 1G uses /sys/kernel/mm/hugepages" \
  'rc 0 && [[ $(val "$R/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages") == 3 ]]'
run hp --pages 1 --node 1
check "hp: no NUMA sysfs -> --node 1 refused" 'rc 1 && has "no NUMA node 1"'

# The kernel may reserve fewer pages than written. Emulate it: node1's counter is a FIFO
# served by a fake kernel that reads the request and answers min(request, 10).
R="$T/hp-short"; mk_hp_tree "$R" "0 1" "2048"
rm "$(N2M 1)"; mkfifo "$(N2M 1)"
timeout 20 bash -c 'read -r v <"$1"; echo $((v < 10 ? v : 10)) >"$1"' fake-kernel "$(N2M 1)" &
kernel=$!
reset_calls
run timeout 30 bash "$HP" --sysfs-root "$R" --proc-root "$R" --etc-root "$R" --pages 64
wait "$kernel"
check "hp: fewer pages obtained -> exit 1 naming node and counts" \
  'rc 1 && has "node1: asked for 64 x 2M pages, the kernel reserved 10" && has "fewer 2M pages than asked: node1 got 10 of 64"'
check "hp: ... node0 got its pages, nothing mounted after the shortage" \
  '[[ $(val "$(N2M 0)") == 64 ]] && no_calls'

R="$T/hp-no1g"; mk_hp_tree "$R" "0" "2048"
run hp --size 1G --pages 1
check "hp: 1G without kernel support -> exit 1" 'rc 1 && has "this CPU/kernel offers no 1G pages"'
run hp --size 1G --pages 1 --dry-run
check "hp: ... also in dry-run" 'rc 1 && has "this CPU/kernel offers no 1G pages" && lacks "would write"'

R="$T/hp-status"; mk_hp_tree "$R" "0 1" "2048 1048576"
echo 512 >"$(N2M 0)"; echo 500 >"${R}/sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages"
echo 256 >"$(N2M 1)"; echo 256 >"${R}/sys/devices/system/node/node1/hugepages/hugepages-2048kB/free_hugepages"
echo 2 >"$(N1G 0)"; echo 1 >"${R}/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/free_hugepages"
printf 'hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\nnodev /mnt/huge1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n' >>"$R/proc/mounts"
before=$(snap "$R")
run hp --status
check "hp: --status header" 'rc 0 && has_re "^NODE +SIZE +TOTAL +FREE +MOUNTS$"'
check "hp: --status per node and size" \
  'has_re "^0 +2M +512 +500 +/dev/hugepages$" && has_re "^1 +2M +256 +256 +/dev/hugepages$" && has_re "^0 +1G +2 +1 +/mnt/huge1G$" && has_re "^1 +1G +0 +0 +/mnt/huge1G$"'
check "hp: --status changes nothing" '[[ $(snap "$R") == "$before" ]]'
R="$T/hp-flat"
run hp --status
check "hp: --status without NUMA sysfs" 'rc 0 && has_re "^- +2M +100 +0 +$R/dev/hugepages$" && has_re "^- +1G +3 +0 +-$"'

R="$T/hp-persist"; mk_hp_tree "$R" "0 1" "2048"
echo "nodev $R/dev/hugepages hugetlbfs rw,relatime 0 0" >>"$R/proc/mounts"
conf="$R/etc/sysctl.d/80-vxgw-hugepages.conf"
run hp --pages 64 --persist
check "hp: --persist writes the sysctl file" 'rc 0 && [[ $(cat "$conf") == "vm.nr_hugepages=128" ]]'
check "hp: --persist adds one fstab line and keeps the others" \
  '[[ $(grep -c hugetlbfs "$R/etc/fstab") == 1 ]] && grep -qx "nodev /dev/hugepages hugetlbfs defaults 0 0" "$R/etc/fstab" && grep -q "^UUID=0a1b2c3d / ext4" "$R/etc/fstab"'
fstab_before=$(cat "$R/etc/fstab")
run hp --pages 64 --persist
check "hp: --persist is idempotent" \
  'rc 0 && [[ $(cat "$conf") == "vm.nr_hugepages=128" && $(cat "$R/etc/fstab") == "$fstab_before" ]] && has "already says" && has "already has a hugetlbfs line"'

R="$T/hp-persist1g"; mk_hp_tree "$R" "0 1" "2048 1048576"
reset_calls
run hp --size 1G --pages 4 --node 0 --persist --mount /dev/hugepages-1G
check "hp: --persist 1G prints the kernel command line" \
  'rc 0 && has "default_hugepagesz=1G hugepagesz=1G hugepages=4" && has "does not edit the bootloader"'
check "hp: --persist 1G writes no sysctl, fstab line with pagesize=1G" \
  '[[ ! -e $R/etc/sysctl.d/80-vxgw-hugepages.conf ]] && grep -qx "nodev /dev/hugepages-1G hugetlbfs pagesize=1G 0 0" "$R/etc/fstab"'

if [[ $EUID -eq 0 ]] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  # Real roots, not root: must stop before touching anything (a broken check would only
  # hit EACCES). --dry-run as non-root only reads.
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  run "${as_nobody[@]}" bash "$HP" --pages 8 --no-mount
  check "hp: not root -> exit 1" 'rc 1 && has "must run as root"'
  run "${as_nobody[@]}" bash "$HP" --pages 8 --dry-run
  check "hp: not root with --dry-run is allowed" 'rc 0 && has "would write 8 >"'
else
  skip "hp: not-root checks (need root, setpriv and user nobody)"
fi

# --- bind-nic ----------------------------------------------------------------------

echo "# bind-nic.sh"

# mk_pci DEVDIR [IFNAME FLAGS]: a fake PCI device, optionally with a net interface.
mk_pci() {
  mkdir -p "$1"
  echo 0x020000 >"$1/class"
  if [[ -n ${2:-} ]]; then mkdir -p "$1/net/$2"; echo "$3" >"$1/net/$2/flags"; fi
}
mk_bn_tree() {
  local r=$1 d="$1/sys/bus/pci/devices"
  mk_pci "$d/0000:03:00.0" ens3 0x1002        # down: free to take
  mk_pci "$d/0000:03:00.1"                    # no interface (already with DPDK)
  mk_pci "$d/0000:04:00.0" ens4 0x1003        # carries the IPv4 default route
  mkdir -p "$d/0000:05:00.0/virtio1/net/ens5" # virtio-net: interface below virtioN/
  echo 0x1003 >"$d/0000:05:00.0/virtio1/net/ens5/flags"
  mk_pci "$d/0000:06:00.0" ens6 0x1003        # UP with a global address
  mk_pci "$d/0000:07:00.0" ens7 0x1003        # UP with a link-local address only
  mkdir -p "$r/sys/kernel/iommu_groups" "$r/sys/module/vfio/parameters"
  echo N >"$r/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"
}
B="$T/bn"; mk_bn_tree "$B"; mkdir -p "$B/sys/kernel/iommu_groups/7/devices"
B2="$T/bn-noiommu"; mk_bn_tree "$B2"
printf '%s\n' "default via 10.0.0.1 dev ens4 proto dhcp metric 100" \
  "default proto static metric 1024 pref medium" \
  "	nexthop via fe80::1 dev ens5 weight 1" \
  "	nexthop via fe80::2 dev ens9 weight 1" >"$T/routes"
VXGW_ROUTE_CMD="cat $(printf '%q' "$T/routes")"
VXGW_ADDR_CMD=$(printf '%q' "$T/bin/fake-addrs")
export VXGW_ROUTE_CMD VXGW_ADDR_CMD
bn() { bash "$BN" --sysfs-root "$B" "$@"; }
reset_calls
before=$(snap "$B")

run bash "$BN" --help
check "bn: --help exits 0 and documents VXGW_ROUTE_CMD" 'rc 0 && has "VXGW_ROUTE_CMD"'
run bn --dry-run bind 03:00.0 --bogus
check "bn: unknown option -> exit 2" 'rc 2 && has "unknown option: --bogus"'
for a in 3:00.0 0000:3:00.0 0000:03:00.8 0000:03:20.0 zz:00.0 00000:03:00.0 "03:00.0;reboot" eth0; do
  run bn --dry-run bind "$a"
  check "bn: malformed address '$a' refused" 'rc 1 && has "is not a PCI address" && lacks "would run"'
done
run bn --dry-run bind 0000:09:00.0
check "bn: missing device refused" 'rc 1 && has "0000:09:00.0: no such PCI device" && lacks "would run"'
run bn --dry-run bind 0000:04:00.0
check "bn: default-route device refused" \
  'rc 1 && has "0000:04:00.0 is ens4, which carries the default route" && lacks "would run"'
run bn --dry-run --force bind 04:00.0
check "bn: ... even with --force" 'rc 1 && has "carries the default route" && lacks "would run"'
run bn --dry-run bind 0000:05:00.0
check "bn: virtio-net default-route device (multipath nexthop) refused" \
  'rc 1 && has "0000:05:00.0 is ens5, which carries the default route" && lacks "would run"'
run bn --dry-run bind 0000:06:00.0
check "bn: UP interface with addresses refused" \
  'rc 1 && has "ens6, which is UP with addresses (198.51.100.7/24)" && lacks "would run"'
run bn --dry-run bind 0000:06:00.0 --force
check "bn: ... allowed with --force, passed on to dpdk-devbind.py" \
  'rc 0 && has "would run: dpdk-devbind.py -b vfio-pci --force 0000:06:00.0"'
run bn --dry-run bind 0000:07:00.0
check "bn: UP with only link-local addresses is allowed" 'rc 0 && has "would run: dpdk-devbind.py -b vfio-pci 0000:07:00.0"'
run bn --dry-run bind 03:00.0 0000:04:00.0
check "bn: one bad device refuses the whole run" 'rc 1 && has "ens4" && lacks "would run"'

run bn --dry-run bind 03:00.0 0000:03:00.1
check "bn: dry-run bind prints modprobe and the dpdk-devbind.py command" \
  'rc 0 && has "would run: modprobe vfio-pci" && has "would run: dpdk-devbind.py -b vfio-pci 0000:03:00.0 0000:03:00.1"'
run bn --dry-run bind 0000:03:00.0 --driver uio_pci_generic
check "bn: --driver is honoured" 'rc 0 && has "would run: dpdk-devbind.py -b uio_pci_generic 0000:03:00.0"'
check "bn: dry-runs ran nothing and changed nothing" 'no_calls && [[ $(snap "$B") == "$before" ]]'

run bash "$BN" --sysfs-root "$B2" --dry-run bind 0000:03:00.0
check "bn: no IOMMU -> refused" 'rc 1 && has "no IOMMU" && has "--noiommu" && lacks "would run"'
before2=$(snap "$B2")
run bash "$BN" --sysfs-root "$B2" --dry-run bind 0000:03:00.0 --noiommu
check "bn: --noiommu warns loudly and would set the vfio knob" \
  'rc 0 && has "WARNING: enabling vfio no-IOMMU mode" && has "would write Y > $B2/sys/module/vfio/parameters/enable_unsafe_noiommu_mode" && has "would run: dpdk-devbind.py -b vfio-pci 0000:03:00.0"'
check "bn: ... and changed nothing" '[[ $(snap "$B2") == "$before2" ]] && no_calls'

run bn --dry-run unbind 0000:03:00.1
check "bn: unbind without --driver -> exit 2" 'rc 2 && has "unbind needs --driver"'
run bash "$BN" --sysfs-root "$B2" --dry-run unbind 0000:03:00.1 --driver ixgbe
check "bn: unbind rebinds to the kernel driver (no IOMMU needed)" \
  'rc 0 && has "would run: modprobe ixgbe" && has "would run: dpdk-devbind.py -b ixgbe 0000:03:00.1" && lacks "IOMMU"'

run bn bind 0000:03:00.0
check "bn: fake --sysfs-root without --dry-run -> exit 2, nothing run" 'rc 2 && has "only with --dry-run" && no_calls'

run bash "$BN" --status
check "bn: --status shows net devices via dpdk-devbind.py" \
  'rc 0 && has "if=ens3 drv=ixgbe" && [[ $(calls) == "dpdk-devbind.py --status-dev net" ]]'
reset_calls
run bash "$BN" list
check "bn: 'list' is --status" 'rc 0 && [[ $(calls) == "dpdk-devbind.py --status-dev net" ]]'
reset_calls

# This machine's own default-route NIC, real sysfs and real `ip route`, dry-run only.
real_dev=$(ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
real_pci=""
if [[ -n $real_dev && -e /sys/class/net/$real_dev/device ]]; then
  p=$(readlink -f "/sys/class/net/$real_dev/device")
  while [[ $p == /sys/devices/* ]]; do
    if [[ ${p##*/} =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]]; then real_pci=${p##*/}; break; fi
    p=${p%/*}
  done
fi
if [[ -n $real_pci ]]; then
  run env -u VXGW_ROUTE_CMD -u VXGW_ADDR_CMD bash "$BN" --dry-run bind "$real_pci"
  check "bn: this machine's $real_dev ($real_pci) is refused (real ip route)" \
    'rc 1 && has "is $real_dev, which carries the default route" && lacks "would run" && no_calls'
else
  skip "bn: default-route NIC of this machine is not a PCI device"
fi

if command -v shellcheck >/dev/null; then
  run shellcheck "$HP" "$BN" "${BASH_SOURCE[0]}"
  check "shellcheck: both scripts and this test are clean" 'rc 0'
else
  skip "shellcheck not installed"
fi

echo "$SKIP skipped"
echo "$PASS passed, $FAIL failed"
((FAIL == 0))
