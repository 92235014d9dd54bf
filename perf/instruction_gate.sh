#!/usr/bin/env bash
# The instruction-count gate (`perf/instructions.sh --gate [--update]`; see there).
#
# For each path of gateway/benches/paths.rs: callgrind counts the instructions of
# `counted_burst` (the pipeline on bursts of that path) exactly; divided by the
# packets the bench reports, compared with perf/instructions.baseline. The counts
# depend on the compiler too: the baseline names the rustc that measured it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASELINE=${VXGW_GATE_BASELINE:-$ROOT/perf/instructions.baseline}   # (another: the gate's own check)
PATHS="encap decap fwd rev"
LIMIT_PCT=2
UPDATE=0
[ "${1:-}" = --update ] && UPDATE=1
command -v valgrind >/dev/null || apt-get install -y -q valgrind >/dev/null

BIN=$(cargo bench -q -p vxgw --bench paths --no-run --message-format=json --manifest-path "$ROOT/Cargo.toml" |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "paths" and m.get("executable"):
        print(m["executable"])')
[ -x "$BIN" ] || { echo "instruction gate: no bench binary" >&2; exit 1; }
RUSTC=$(rustc --version)
CG=$(mktemp -d /tmp/vxgw-gate.XXXXXX)
trap 'rm -rf "$CG"' EXIT

measured=()
for p in $PATHS; do
  out=$(valgrind --tool=callgrind --toggle-collect='*counted_burst*' --callgrind-out-file="$CG/$p" "$BIN" "$p" 2>"$CG/$p.err") || {
    cat "$CG/$p.err" >&2; echo "instruction gate: the $p bench failed" >&2; exit 1; }
  packets=$(grep -o 'packets=[0-9]*' <<<"$out" | cut -d= -f2)
  instr=$(awk '/^(summary|totals):/ {print $2; exit}' "$CG/$p")
  measured+=("$p $(python3 -c "print(f'{$instr / $packets:.2f}')")")
done

if [ "$UPDATE" = 1 ]; then
  {
    echo "# Instructions a packet of the pipeline on each established path, counted exactly by"
    echo "# perf/instructions.sh --gate (gateway/benches/paths.rs under callgrind). The test"
    echo "# command fails when a path exceeds its figure by more than $LIMIT_PCT %. Rewrite it with"
    echo "# \`perf/instructions.sh --gate --update\` in the commit that changes the cost, and say why."
    echo "# measured with: $RUSTC"
    printf '%s\n' "${measured[@]}"
  } >"$BASELINE"
  echo "instruction gate: baseline written to $BASELINE"
  cat "$BASELINE"
  exit 0
fi

[ -f "$BASELINE" ] || { echo "instruction gate: no $BASELINE (run with --update)" >&2; exit 1; }
python3 - "$BASELINE" "$LIMIT_PCT" "$RUSTC" "${measured[@]}" <<'PY'
import sys
path, limit, rustc = sys.argv[1], float(sys.argv[2]), sys.argv[3]
measured = sys.argv[4:]
base, base_rustc = {}, None
for line in open(path):
    if line.startswith("# measured with: "):
        base_rustc = line.split(": ", 1)[1].strip()
    elif line.strip() and not line.startswith("#"):
        name, figure = line.split()
        base[name] = float(figure)
failed = []
print(f"{'path':<6} {'baseline':>9} {'now':>9} {'change':>8}")
if not measured:
    failed.append("nothing measured")
for line in measured:
    name, now = line.split()[0], float(line.split()[1])
    if name not in base:
        failed.append(f"{name}: not in the baseline")
        continue
    change = (now / base[name] - 1) * 100
    print(f"{name:<6} {base[name]:>9.2f} {now:>9.2f} {change:>+7.2f}%")
    if change > limit:
        failed.append(f"{name}: {now:.2f} instructions a packet, {change:+.2f} % over the baseline's {base[name]:.2f}")
    elif change < -limit:
        print(f"  ({name} is {-change:.2f} % under the baseline: update it to keep the gain)")
if failed:
    print("instruction gate FAILED (limit +%g %%):" % limit)
    for f in failed:
        print("  " + f)
    if base_rustc and base_rustc != rustc:
        print(f"  note: the baseline was measured with {base_rustc}, this is {rustc}: a new compiler"
              " changes the counts; re-measure with --update in a commit of its own")
    print("  If the cost is intended, run `perf/instructions.sh --gate --update` and commit the"
          " baseline with the change, saying why.")
    sys.exit(1)
print("instruction gate: passed")
PY
