#!/usr/bin/env bash
# setup-hugepages.sh - reserve hugepages for vxgw (DPDK) and mount hugetlbfs.
#
# What it does, in order:
#   1. writes the page count to the kernel counter of every selected NUMA node
#      (/sys/devices/system/node/nodeX/hugepages/hugepages-<kB>kB/nr_hugepages); on a
#      machine without NUMA sysfs, to /proc/sys/vm/nr_hugepages (2M) or to
#      /sys/kernel/mm/hugepages/hugepages-<kB>kB/nr_hugepages (1G);
#   2. reads every counter back and exits 1 if the kernel reserved fewer pages than
#      asked (it does so silently when free memory is short or fragmented);
#   3. mounts hugetlbfs, unless it is already mounted there;
#   4. with --persist, makes the reservation and the mount survive a reboot.
#
# Usage:
#   sudo scripts/setup-hugepages.sh --pages 1024            # 1024 x 2M on every node
#   sudo scripts/setup-hugepages.sh --size 1G --mem 4G --node 0 --mount /dev/hugepages-1G
#   scripts/setup-hugepages.sh --status
#   scripts/setup-hugepages.sh --dry-run --pages 512 --persist
#
# Options:
#   --size 2M|1G      page size (default 2M)
#   --pages N         pages to reserve on EACH selected node (0 releases them); on a
#                     machine without NUMA sysfs, the machine-wide count
#   --mem SIZE        the same as memory per node, e.g. 512M, 4G (rounded up to whole pages)
#   --node N|all      NUMA node (default all)
#   --mount DIR       hugetlbfs mount point (default /dev/hugepages); gets pagesize=1G for 1G
#   --no-mount        do not mount (e.g. systemd's dev-hugepages.mount already does)
#   --persist         2M: write /etc/sysctl.d/80-vxgw-hugepages.conf (vm.nr_hugepages=total);
#                     1G: print the kernel command line to add (the bootloader is not edited);
#                     both: add a hugetlbfs line for DIR to /etc/fstab if it has none
#   --dry-run         print every action (`would write VALUE > PATH`, `would run: CMD`),
#                     change nothing
#   --status          print node, size, total, free and mount points; change nothing
#   --sysfs-root DIR, --proc-root DIR, --etc-root DIR
#                     use DIR/sys, DIR/proc, DIR/etc (and mount below DIR) instead of the
#                     real ones (default /); for tests. Root is not required when all
#                     three point at a fake tree.
#   -h, --help        this text
#
# Exit status: 0 ok; 1 failure or refusal (not root, no 1G pages, the kernel reserved
# fewer pages than asked, ...); 2 usage error.
set -euo pipefail

PROG=setup-hugepages

die() { echo "$PROG: error: $*" >&2; exit 1; }
warn() { echo "$PROG: warning: $*" >&2; }
info() { echo "$PROG: $*"; }
usage() { sed -n '2,/^# Exit status/{s/^# \{0,1\}//;p}' "$0"; }
usage_error() { echo "$PROG: $*" >&2; usage >&2; exit 2; }

SIZE=2M PAGES="" MEM="" NODE=all MOUNT_DIR=/dev/hugepages
DO_MOUNT=1 PERSIST=0 DRY=0 STATUS=0
SYSFS_ROOT=/ PROC_ROOT=/ ETC_ROOT=/

set_opt() {
  case $1 in
    --size) SIZE=$2 ;;
    --pages) PAGES=$2 ;;
    --mem) MEM=$2 ;;
    --node) NODE=$2 ;;
    --mount) MOUNT_DIR=$2 ;;
    --sysfs-root) SYSFS_ROOT=$2 ;;
    --proc-root) PROC_ROOT=$2 ;;
    --etc-root) ETC_ROOT=$2 ;;
    *) usage_error "unknown option: $1" ;;
  esac
}

while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --dry-run) DRY=1; shift ;;
    --status) STATUS=1; shift ;;
    --persist) PERSIST=1; shift ;;
    --no-mount) DO_MOUNT=0; shift ;;
    --size | --pages | --mem | --node | --mount | --sysfs-root | --proc-root | --etc-root)
      [[ $# -ge 2 ]] || usage_error "$1 needs a value"
      set_opt "$1" "$2"; shift 2 ;;
    --*=*) set_opt "${1%%=*}" "${1#*=}"; shift ;;
    *) usage_error "unknown option: $1" ;;
  esac
done

# --- helpers ------------------------------------------------------------------------

# "2M" / "1024M" / "1G" / "2048k" -> kB; prints nothing when it cannot parse.
to_kb() {
  local s=${1^^}
  s=${s%B}
  [[ $s =~ ^([0-9]+)([KMGT]?)$ ]] || return 0
  local n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in
    K) echo "$n" ;;
    M) echo $((n * 1024)) ;;
    G) echo $((n * 1024 * 1024)) ;;
    T) echo $((n * 1024 * 1024 * 1024)) ;;
    *) ;; # a bare number is ambiguous: refuse it
  esac
}

# kB -> "2M", "1G", ...
label_of() {
  local kb=$1
  if ((kb % 1048576 == 0)); then echo "$((kb / 1048576))G"
  elif ((kb % 1024 == 0)); then echo "$((kb / 1024))M"
  else echo "${kb}kB"; fi
}

# "/" -> "", "/tmp/x/" -> "/tmp/x": prefix for absolute paths.
strip_root() { local r=${1%/}; echo "$r"; }

# Print the command (dry-run) or run it.
run() {
  if ((DRY)); then
    local out="" a
    for a in "$@"; do out+=" $(printf '%q' "$a")"; done
    echo "would run:${out}"
  else
    "$@"
  fi
}

# write_val VALUE PATH [append]: one write, as the kernel's sysfs files expect.
write_val() {
  local value=$1 path=$2 mode=${3:-}
  if ((DRY)); then
    if [[ $mode == append ]]; then echo "would write $value >> $path"
    else echo "would write $value > $path"; fi
    return 0
  fi
  if [[ $mode == append ]]; then
    printf '%s\n' "$value" >>"$path" || die "cannot append to $path"
  else
    printf '%s\n' "$value" >"$path" || die "cannot write $value to $path"
  fi
}

# One value from a sysfs/proc file, or "?".
read_val() {
  local v
  if v=$(cat -- "$1" 2>/dev/null); then echo "${v//[[:space:]]/}"; else echo "?"; fi
}

# --- validate -----------------------------------------------------------------------

PAGE_KB=$(to_kb "$SIZE")
case ${PAGE_KB:-} in
  2048 | 1048576) ;;
  *) usage_error "--size must be 2M or 1G, not '$SIZE'" ;;
esac
LABEL=$(label_of "$PAGE_KB")

[[ $NODE == all || $NODE =~ ^[0-9]+$ ]] || usage_error "--node must be a number or 'all', not '$NODE'"
[[ $MOUNT_DIR == /* ]] || usage_error "--mount needs an absolute path, not '$MOUNT_DIR'"
for r in "$SYSFS_ROOT" "$PROC_ROOT" "$ETC_ROOT"; do
  [[ -d $r ]] || usage_error "root directory '$r' does not exist"
done

if ((!STATUS)); then
  if [[ -n $PAGES && -n $MEM ]]; then usage_error "give --pages or --mem, not both"; fi
  if [[ -z $PAGES && -z $MEM ]]; then usage_error "say how many pages: --pages N or --mem SIZE"; fi
  if [[ -n $PAGES ]]; then
    [[ $PAGES =~ ^[0-9]+$ ]] || usage_error "--pages must be a whole number, not '$PAGES'"
    PAGES=$((10#$PAGES))
  else
    mem_kb=$(to_kb "$MEM")
    [[ -n $mem_kb ]] || usage_error "--mem must look like 512M or 4G, not '$MEM'"
    PAGES=$(((mem_kb + PAGE_KB - 1) / PAGE_KB))
    if ((mem_kb % PAGE_KB)); then
      info "--mem $MEM is not a whole number of $LABEL pages; rounding up to $PAGES pages"
    fi
  fi
fi

SYS="$(strip_root "$SYSFS_ROOT")/sys"
PROC="$(strip_root "$PROC_ROOT")/proc"
ETC="$(strip_root "$ETC_ROOT")/etc"
MOUNT_TARGET="$(strip_root "$ETC_ROOT")$MOUNT_DIR"
NODE_DIR="$SYS/devices/system/node"

# The kernel's default hugepage size (what /proc/sys/vm/nr_hugepages and a hugetlbfs
# mount without pagesize= mean).
DEFAULT_KB=$(awk '/^Hugepagesize:/ {print $2}' "$PROC/meminfo" 2>/dev/null || true)
DEFAULT_KB=${DEFAULT_KB:-2048}

# NUMA nodes that have hugepage counters, ascending.
numa_nodes() {
  local d
  for d in "$NODE_DIR"/node[0-9]*; do
    if [[ -d $d/hugepages ]]; then echo "${d##*/node}"; fi
  done | sort -n
}

# hugetlbfs mount points (as listed in /proc/mounts) serving pages of $1 kB.
mounts_for_kb() {
  local target fstype opts kb o opt found=()
  [[ -r $PROC/mounts ]] || return 0
  while read -r _ target fstype opts _; do
    [[ $fstype == hugetlbfs ]] || continue
    kb=$DEFAULT_KB
    IFS=, read -ra o <<<"$opts"
    for opt in "${o[@]}"; do
      [[ $opt == pagesize=* ]] && kb=$(to_kb "${opt#pagesize=}")
    done
    if [[ $kb == "$1" ]]; then found+=("$target"); fi
  done <"$PROC/mounts"
  local IFS=,
  echo "${found[*]}"
}

# --- status -------------------------------------------------------------------------

if ((STATUS)); then
  shopt -s nullglob
  kbs=()
  for d in "$SYS"/kernel/mm/hugepages/hugepages-*kB; do
    d=${d##*/hugepages-}
    kbs+=("${d%kB}")
  done
  if ((${#kbs[@]} == 0)); then
    die "this kernel offers no hugepages ($SYS/kernel/mm/hugepages is missing or empty)"
  fi
  mapfile -t kbs < <(printf '%s\n' "${kbs[@]}" | sort -n)
  mapfile -t nodes < <(numa_nodes)
  printf '%-6s %-5s %8s %8s  %s\n' NODE SIZE TOTAL FREE MOUNTS
  for kb in "${kbs[@]}"; do
    mnt=$(mounts_for_kb "$kb")
    if ((${#nodes[@]})); then
      for n in "${nodes[@]}"; do
        d="$NODE_DIR/node$n/hugepages/hugepages-${kb}kB"
        [[ -d $d ]] || continue
        printf '%-6s %-5s %8s %8s  %s\n' "$n" "$(label_of "$kb")" \
          "$(read_val "$d/nr_hugepages")" "$(read_val "$d/free_hugepages")" "${mnt:--}"
      done
    else
      d="$SYS/kernel/mm/hugepages/hugepages-${kb}kB"
      printf '%-6s %-5s %8s %8s  %s\n' "-" "$(label_of "$kb")" \
        "$(read_val "$d/nr_hugepages")" "$(read_val "$d/free_hugepages")" "${mnt:--}"
    fi
  done
  exit 0
fi

# --- allocate -----------------------------------------------------------------------

SIZE_DIR="$SYS/kernel/mm/hugepages/hugepages-${PAGE_KB}kB"
if [[ ! -d $SIZE_DIR ]]; then
  if ((PAGE_KB == 1048576)); then
    die "this CPU/kernel offers no 1G pages ($SIZE_DIR is missing; on x86 the CPU needs the pdpe1gb flag). Use --size 2M."
  fi
  die "this kernel offers no $LABEL hugepages ($SIZE_DIR is missing)"
fi

all_roots_fake=0
if [[ $(strip_root "$SYSFS_ROOT") && $(strip_root "$PROC_ROOT") && $(strip_root "$ETC_ROOT") ]]; then
  all_roots_fake=1
fi
if ((!DRY && !all_roots_fake)) && [[ $EUID -ne 0 ]]; then
  die "must run as root to reserve hugepages (use --dry-run to see what it would do, --status to look)"
fi

# Fail on a conflicting mount before changing anything.
MOUNTED_FSTYPE=""
if ((DO_MOUNT)) && [[ -r $PROC/mounts ]]; then
  MOUNTED_FSTYPE=$(awk -v t="$MOUNT_TARGET" '$2 == t {print $3}' "$PROC/mounts" | tail -n 1)
  if [[ -n $MOUNTED_FSTYPE && $MOUNTED_FSTYPE != hugetlbfs ]]; then
    die "$MOUNT_TARGET is already mounted as $MOUNTED_FSTYPE, not hugetlbfs; pick another --mount"
  fi
fi
mount_opts=()
fstab_opts=defaults
if ((PAGE_KB == 1048576 || PAGE_KB != DEFAULT_KB)); then
  mount_opts=(-o "pagesize=$LABEL")
  fstab_opts="pagesize=$LABEL"
fi

# Counters to write: names (for messages) and paths.
names=() targets=()
mapfile -t nodes < <(numa_nodes)
if ((${#nodes[@]})); then
  if [[ $NODE == all ]]; then sel=("${nodes[@]}"); else sel=("$NODE"); fi
  for n in "${sel[@]}"; do
    t="$NODE_DIR/node$n/hugepages/hugepages-${PAGE_KB}kB/nr_hugepages"
    if [[ ! -e $t ]]; then
      die "NUMA node $n has no $LABEL hugepage counter ($t); nodes here: ${nodes[*]}"
    fi
    names+=("node$n") targets+=("$t")
  done
else
  if [[ $NODE != all && $NODE != 0 ]]; then
    die "no NUMA node $NODE: this machine has no NUMA sysfs ($NODE_DIR), use --node 0 or all"
  fi
  if ((PAGE_KB == 2048 && DEFAULT_KB == 2048)); then
    t="$PROC/sys/vm/nr_hugepages"
  else
    t="$SIZE_DIR/nr_hugepages"   # /proc/sys/vm/nr_hugepages counts default-size pages only
  fi
  [[ -e $t ]] || die "hugepage counter $t is missing"
  names+=("machine") targets+=("$t")
fi

short=()
for i in "${!targets[@]}"; do
  write_val "$PAGES" "${targets[$i]}"
  ((DRY)) && continue
  # The kernel accepts the write and quietly reserves what it can: read back the truth.
  got=$(read_val "${targets[$i]}")
  [[ $got =~ ^[0-9]+$ ]] || die "cannot read back ${targets[$i]} (got '$got')"
  info "${names[$i]}: asked for $PAGES x $LABEL pages, the kernel reserved $got"
  if ((got < PAGES)); then
    short+=("${names[$i]} got $got of $PAGES")
  elif ((got > PAGES)); then
    warn "${names[$i]} still holds $got pages (more than $PAGES): pages in use cannot be released"
  fi
done
if ((${#short[@]})); then
  die "the kernel reserved fewer $LABEL pages than asked: ${short[*]}." \
    "Free memory is short or too fragmented: stop other memory users, ask for fewer pages," \
    "or reserve them at boot (--persist; for 1G the kernel command line)."
fi

# --- mount --------------------------------------------------------------------------

if ((DO_MOUNT)); then
  if [[ -n $MOUNTED_FSTYPE ]]; then
    if [[ ,$(mounts_for_kb "$PAGE_KB"), == *",$MOUNT_TARGET,"* ]]; then
      info "hugetlbfs for $LABEL pages already mounted at $MOUNT_TARGET, leaving it"
    else
      warn "$MOUNT_TARGET is already a hugetlbfs mount for another page size; DPDK will not" \
        "find $LABEL pages through it. Use e.g. --mount /dev/hugepages-$LABEL"
    fi
  else
    run mkdir -p "$MOUNT_TARGET"
    run mount -t hugetlbfs "${mount_opts[@]}" nodev "$MOUNT_TARGET"
    ((DRY)) || info "mounted hugetlbfs ($LABEL) at $MOUNT_TARGET"
  fi
fi

# --- persist ------------------------------------------------------------------------

if ((PERSIST)); then
  total=$((PAGES * ${#targets[@]}))
  if ((PAGE_KB == 2048)); then
    conf="$ETC/sysctl.d/80-vxgw-hugepages.conf"
    line="vm.nr_hugepages=$total"
    if ((DEFAULT_KB != 2048)); then
      warn "the default hugepage size here is $(label_of "$DEFAULT_KB"), so vm.nr_hugepages" \
        "would not count 2M pages; not writing $conf. Add 'hugepagesz=2M hugepages=$total'" \
        "to the kernel command line instead."
    else
      if [[ $NODE != all ]] && ((${#nodes[@]} > 1)); then
        warn "vm.nr_hugepages is machine-wide: at boot the kernel spreads $total pages over" \
          "all ${#nodes[@]} nodes, not only node $NODE"
      fi
      if [[ -f $conf ]] && grep -qx "$line" "$conf"; then
        info "$conf already says $line"
      else
        run mkdir -p "$ETC/sysctl.d"
        write_val "$line" "$conf"
      fi
    fi
  else
    info "1G pages are reserved reliably only at boot. Add this to the kernel command line"
    info "(e.g. GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub and reboot);"
    info "this script does not edit the bootloader:"
    echo "    default_hugepagesz=1G hugepagesz=1G hugepages=$total"
  fi

  if ((DO_MOUNT)); then
    fstab="$ETC/fstab"
    entry="nodev $MOUNT_DIR hugetlbfs $fstab_opts 0 0"
    if [[ -f $fstab ]] && awk -v d="$MOUNT_DIR" '$1 !~ /^#/ && $2 == d && $3 == "hugetlbfs" {f = 1} END {exit !f}' "$fstab"; then
      info "$fstab already has a hugetlbfs line for $MOUNT_DIR"
    else
      write_val "$entry" "$fstab" append
    fi
  fi
fi

((DRY)) && info "dry run: nothing was changed"
exit 0
