#!/usr/bin/env bash
# Installs what vxgw needs to build, run and test on Debian 12. Idempotent: packages
# already present are skipped by apt; safe to run on every CI start.
set -euo pipefail

PKGS=(
  # build: DPDK headers/libs (pkg-config libdpdk), bindgen's libclang, C compiler
  libdpdk-dev dpdk dpdk-dev pkg-config libclang-dev clang build-essential libpcap-dev
  # lab and tests: namespaces, captures, peers, traffic
  iproute2 iputils-ping tshark tcpdump python3-scapy iperf3 curl procps ethtool shellcheck
  # metrics test: promtool and a real Prometheus server (gateway/tests/metrics_prometheus.rs)
  prometheus
  # the instruction-count gate (perf/instructions.sh --gate): callgrind
  valgrind
  # the TRex profile tests' virtualenv (perf/trex/run-tests.sh: the client from PyPI)
  python3-venv python3-pip
  # the real-swarm lab (tests/e2e/swarm_real.sh): two dockerd, a busybox image
  docker.io busybox-static
)
# Extra groups, selected by the caller: `install-deps.sh --with-perf`.
for arg in "$@"; do
  case "$arg" in
    --with-perf) PKGS+=(openvswitch-switch-dpdk linux-perf) ;;
    --with-metrics) ;; # prometheus is in the default list now; kept for old callers
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# Fuzzing (fuzz/run.sh, a short run in scripts/test.sh): cargo-afl from crates.io and
# the AFL++ it builds for this Rust toolchain (needs clang and make, above). Runs
# after the packages; skipped when both are there.
install_afl() {
  if ! cargo afl --version >/dev/null 2>&1; then
    echo "install-deps: cargo install cargo-afl $AFL_VERSION"
    cargo install --locked --quiet cargo-afl --version "$AFL_VERSION"
  fi
  # Builds AFL++ once per toolchain; "already built" is an error we do not mind.
  local out
  if ! out=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$out"; then
    echo "$out" >&2
    return 1
  fi
}
AFL_VERSION=0.18.2

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  install_afl
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_afl
echo "install-deps: done"
