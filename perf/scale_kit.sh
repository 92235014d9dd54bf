#!/usr/bin/env bash
# perf/scale.sh on a machine with more cores and no DPDK packages, no Rust, no scapy
# (the lent 16-core machine): build a kit here, carry it there, run it there in one go.
#
#   perf/scale_kit.sh make [KIT]                  here: release build + kit (default .kit)
#   perf/scale_kit.sh run RESULTS [WORKERS] [SECS] [CASES]
#                                                 there: hugepages, then perf/scale.sh with
#                                                 the kit; RESULTS gets scale.txt (written
#                                                 as it goes), machine.txt and the logs
#   perf/scale_kit.sh test [KIT]                  here: `run` with the system's PMD plugin
#                                                 directory hidden, as it is there
#
# The kit (about 19 MB) holds vxgw and dpdk-testpmd, every shared library they and the
# PMD plugins need except glibc's, and the plugins (net_pcap, net_null, net_ring, the
# mempool drivers) named *.so.23.0 so that EAL's `-d DIR` loads them. The inputs are
# generated there by perf/mk_*_inputs.py (struct only). With the device tool:
#   run(command="perf/scale_kit.sh run \"\$OUT\" '1 4 8 15' 10", carry=[".kit"], timeout_s=560)
# fits one call: 4 cases x 4 points x 2 programs x ~12 s, plus the inputs. SECS count
# from when a program forwards; the median skips the first two seconds and the last.
set -euo pipefail
PERF_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$PERF_DIR/.." && pwd)
LIBDIR=/usr/lib/x86_64-linux-gnu
PMD_DIR=$LIBDIR/dpdk/pmds-23.0
PLUGINS="net_pcap net_null net_ring mempool_ring mempool_stack"
# glibc's own libraries: every machine has them, and they must match its loader
GLIBC='/(libc|libm|libpthread|libdl|librt)\.so|ld-linux'

make_kit() {
  local kit=$1 p f b
  cargo build --release -q -p vxgw --manifest-path "$ROOT/Cargo.toml"
  rm -rf "$kit"
  mkdir -p "$kit/bin" "$kit/lib" "$kit/pmds"
  for p in "$ROOT/target/release/vxgw" "$(command -v dpdk-testpmd)"; do
    cp "$p" "$kit/bin/"
    strip "$kit/bin/$(basename "$p")"
  done
  local plugins=()
  for p in $PLUGINS; do plugins+=("$LIBDIR/librte_$p.so.23"); done
  # every library the programs and plugins load, except glibc's own
  for f in $(ldd "$kit"/bin/* "${plugins[@]}" | awk '/=>/ {print $3}' | sort -u |
    grep -v -E "$GLIBC"); do
    cp -L "$f" "$kit/lib/"
  done
  for f in "${plugins[@]}"; do
    b=$(basename "$f")
    # a plugin a program links directly is already in lib/: a second copy panics EAL
    [ -e "$kit/lib/$b" ] || cp -L "$f" "$kit/pmds/$b.0"
  done
  pkg-config --modversion libdpdk >"$kit/dpdk-version"
  echo "kit: $(du -sh "$kit" | cut -f1) in $kit"
}

run_kit() {
  local results=$1; shift
  local kit=${VXGW_KIT:-$ROOT/.kit}
  [ -x "$kit/bin/vxgw" ] || { echo "no kit in $kit: perf/scale_kit.sh make" >&2; exit 2; }
  mkdir -p "$results"
  {
    echo "# $(date -u +%FT%TZ)"
    lscpu 2>/dev/null || nproc
    free -g 2>/dev/null || true
  } >"$results/machine.txt"
  # 2 MiB hugepages, as deployed (perf/lib.sh falls back to --no-huge without them)
  if [ "${PERF_NO_HUGE:-0}" != 1 ]; then
    local want=4096
    (($(cat /proc/sys/vm/nr_hugepages) >= want)) || echo "$want" >/proc/sys/vm/nr_hugepages || true
    grep -q hugetlbfs /proc/mounts || { mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages; } || true
    grep -i huge /proc/meminfo >>"$results/machine.txt"
  fi
  # the pcaps (hundreds of MB at 100k flows) stay out of RESULTS
  WORK=${SCALE_WORK:-/tmp/vxgw-scale}
  RESULTS=$results
  mkdir -p "$WORK"
  trap 'cp "$WORK"/scale_*.log "$RESULTS/" 2>/dev/null || true' EXIT
  OUT=$WORK VXGW_KIT=$kit "$PERF_DIR/scale.sh" "$@" 2>&1 | tee "$results/scale.txt"
}

case ${1:-} in
  make) make_kit "${2:-$ROOT/.kit}" ;;
  run)
    [ $# -ge 2 ] || { sed -n 2,12p "$0"; exit 2; }
    shift
    run_kit "$@" ;;
  test)
    # Here the system's plugins would load beside the kit's and EAL panics: hide them
    # in a private mount namespace, as on a machine without DPDK packages.
    kit=$(cd "${2:-$ROOT/.kit}" && pwd)
    # every library resolves inside the kit, but glibc's
    missing=$(LD_LIBRARY_PATH=$kit/lib ldd "$kit"/bin/* "$kit"/pmds/* | awk '/=>/ {print $3}' |
      sort -u | grep -v -E "^$kit/lib/|$GLIBC" || true)
    [ -z "$missing" ] || { echo "FAIL: libraries outside the kit: $missing" >&2; exit 1; }
    empty=$(mktemp -d)
    results=$(mktemp -d)
    # shellcheck disable=SC2016 # expanded by the inner shell
    VXGW_KIT=$kit unshare -m bash -c 'mount --bind "$1" "$2" && PERF_NO_HUGE=1 "$3" run "$4" "1 2" 12' \
      _ "$empty" "$PMD_DIR" "$0" "$results"
    rmdir "$empty"
    grep -q "^RESULT scale .* ratio=" "$results/scale.txt" || { echo "FAIL: no figures in $results" >&2; exit 1; }
    echo "kit test: figures in $results/scale.txt"
    ;;
  *) sed -n 2,12p "$0"; exit 2 ;;
esac
