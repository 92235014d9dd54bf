#!/usr/bin/env bash
# The test command: everything CI runs, in order, on a fresh Debian 12 machine.
#
#   sudo scripts/test.sh            # deps, lint, unit + DPDK + CLI tests, script tests, lab
#   scripts/test.sh --no-deps       # skip the apt step (packages already present)
#
# Needs root for the netns lab and EAL (hugepages are not needed: tests use --no-huge).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ "${1:-}" = "--no-deps" ] || scripts/install-deps.sh

# From here on every suite runs even when an earlier one failed; the summary decides.
set +e
step() { printf '\n== %s ==\n' "$*"; }
passed=0 failed=0
record() { if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $2"; fi; }

# dpdk-dumpcap needs EAL's shared hugepage memory; everything else runs --no-huge.
# Best effort: a machine that cannot reserve them skips the capture check.
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free:-0}" -lt 256 ] || ! grep -q hugetlbfs /proc/mounts; then
  scripts/setup-hugepages.sh --pages 512 >/dev/null 2>&1 || echo "(no hugepages: the dpdk-dumpcap check will be skipped)"
fi

step "format and lint"
cargo fmt --all -- --check; record $? "cargo fmt"
cargo clippy --workspace --all-targets -q -- -D warnings; record $? "cargo clippy"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --document-private-items -q; record $? "cargo doc (a broken doc link)"
python3 scripts/check_layers.py >/dev/null; record $? "scripts/check_layers.py (an import cycle between modules)"
# The layering check can fail: on a cycle between top-level modules, and on one inside
# a module directory (through a name its mod.rs re-exports), it must.
cyc=$(mktemp -d /tmp/vxgw-layers.XXXXXX); mkdir "$cyc/top" "$cyc/sub" "$cyc/sub/d"
echo 'use crate::b::Y;' >"$cyc/top/a.rs"; echo 'use crate::a::X;' >"$cyc/top/b.rs"
echo 'mod x; mod y; pub use y::Y;' >"$cyc/sub/d/mod.rs"
echo 'use super::Y;' >"$cyc/sub/d/x.rs"; echo 'use super::x::X;' >"$cyc/sub/d/y.rs"
layers_rc=0
for t in top sub; do python3 scripts/check_layers.py "$cyc/$t" >/dev/null && layers_rc=1; done
layers_out=$(python3 scripts/check_layers.py "$cyc/top" || true)
grep -q 'cycle among: a, b' <<<"$layers_out" || layers_rc=1
rm -rf "$cyc"; record $layers_rc "scripts/check_layers.py passed a tree with import cycles"
python3 scripts/check_sizes.py; record $? "scripts/check_sizes.py (a source file above 800 lines of code)"
bash scripts/check_header_literals.sh >/dev/null; record $? "scripts/check_header_literals.sh (a header offset written as a number outside wire/)"
# Every shell script of the repo, perf/ included (a perf script runs on a lent
# machine once, with no second try), at warning level; a warning must fail it.
mapfile -t shell_scripts < <(git ls-files '*.sh' .ci/run)
shellcheck -x -S warning "${shell_scripts[@]}"; record $? "shellcheck (a warning in a shell script)"
if printf '#!/bin/bash\nv=(a,b)\n' | shellcheck -S warning - >/dev/null; then sc_rc=1; else sc_rc=0; fi
record $sc_rc "shellcheck passed a script with a warning"

step "cargo test (unit, property, DPDK in-process, vxgw binary)"
# One test at a time: DPDK tests busy-poll lcores, and this machine has two cores.
cargo test --workspace -- --test-threads=1 2>&1 | tee /tmp/vxgw-cargo-test.log | grep -E '^(test result|running|test .* FAILED|failures)'
record "${PIPESTATUS[0]}" "cargo test (log: /tmp/vxgw-cargo-test.log)"

step "instruction-count gate: encap, decap, mesh fwd and rev against perf/instructions.baseline"
bash perf/instructions.sh --gate; record $? "perf/instructions.sh --gate (a path grew by more than 2 %?)"
# The gate can fail: against a baseline 3 % under the committed one it must.
tight=$(mktemp /tmp/vxgw-gate-baseline.XXXXXX)
awk '/^#/ {print; next} NF == 2 {printf "%s %.2f\n", $1, $2 * 0.97}' perf/instructions.baseline >"$tight"
if VXGW_GATE_BASELINE=$tight bash perf/instructions.sh --gate >/dev/null; then gate_rc=1; else gate_rc=0; fi
rm -f "$tight"; record $gate_rc "the instruction gate passed a baseline 3 % under the counts"

step "fuzzing: a short AFL++ run per port role (fuzz/run.sh; the long campaign: fuzz/CAMPAIGN.md)"
# A crash or hang fails the suite; fuzz/run.sh says where the inputs are. (The corpus
# and every crash found so far were replayed by cargo test above: fuzz/tests/replay.rs.)
fuzz_out=$(mktemp -d /tmp/vxgw-fuzz.XXXXXX)
for t in underlay access external; do
  FUZZ_NICE=0 fuzz/run.sh "$t" "${VXGW_FUZZ_SECONDS:-45}" "$fuzz_out/$t"; record $? "fuzz/run.sh $t (AFL state: $fuzz_out/$t)"
done

# The end-to-end scripts run the binaries (vxgwctl is not built by cargo test).
cargo build --workspace -q; record $? "cargo build"

step "TRex profiles and pktgen pcaps through vxgw on net_pcap; NDR/PDR search (perf/trex/run-tests.sh)"
bash perf/trex/run-tests.sh | tail -3; record "${PIPESTATUS[0]}" "perf/trex/run-tests.sh"

step "operator scripts"
bash tests/scripts_test.sh | tail -3; record "${PIPESTATUS[0]}" "tests/scripts_test.sh"

step "vxgwctl against a live vxgw (tests/e2e/vxgwctl_live.sh)"
bash tests/e2e/vxgwctl_live.sh | tail -3; record "${PIPESTATUS[0]}" "tests/e2e/vxgwctl_live.sh"

step "end to end: vxgw between Linux kernel VTEPs and a server (tests/e2e/overlay_vxgw.sh)"
bash tests/e2e/overlay_vxgw.sh; record $? "tests/e2e/overlay_vxgw.sh"

step "end to end: jumbo frames, MTU 9000 on the underlay (tests/e2e/overlay_jumbo.sh)"
bash tests/e2e/overlay_jumbo.sh; record $? "tests/e2e/overlay_jumbo.sh"

step "end to end: the routing mesh, curl through vxgw to containers (tests/e2e/overlay_mesh.sh)"
bash tests/e2e/overlay_mesh.sh; record $? "tests/e2e/overlay_mesh.sh"

step "end to end with three workers: overlay and routing mesh (LAB_WORKERS=3)"
# Three busy-polling workers share the two CPUs; af_packet spreads the flows over
# their queues, so a connection's two directions often land on different workers.
LAB_WORKERS=3 bash tests/e2e/overlay_vxgw.sh | tail -3; record "${PIPESTATUS[0]}" "LAB_WORKERS=3 tests/e2e/overlay_vxgw.sh"
LAB_WORKERS=3 bash tests/e2e/overlay_mesh.sh | tail -3; record "${PIPESTATUS[0]}" "LAB_WORKERS=3 tests/e2e/overlay_mesh.sh"

step "end to end: a real Docker Swarm followed by vxgw-swarm (tests/e2e/swarm_real.sh)"
bash tests/e2e/swarm_real.sh; record $? "tests/e2e/swarm_real.sh"

step "plain forwarding on af_packet (tests/e2e/forward_afpacket.sh: ping and TCP)"
bash tests/e2e/forward_afpacket.sh; record $? "tests/e2e/forward_afpacket.sh"

step "the README's run command (scripts/lab.sh)"
bash scripts/lab.sh; record $? "scripts/lab.sh"

echo
echo "suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
