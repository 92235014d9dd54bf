#!/usr/bin/env bash
# Fuzzes one port role's target with AFL++ (cargo-afl) for SECONDS seconds.
#
#   fuzz/run.sh TARGET SECONDS [OUT]     TARGET: underlay | access | external
#
# Builds the target instrumented (target/afl, profile `fuzz`), starts from the seed
# corpus fuzz/corpus/TARGET with the dictionary fuzz/vxgw.dict, and writes AFL's
# state to OUT (default target/fuzz-out/TARGET; an existing OUT is resumed). Prints
# executions, exec/s, edges, crashes and hangs; exits 1 if AFL saved a crash or a
# hang, with the files to minimise (`cargo afl tmin`) and put in
# fuzz/regressions/TARGET (tests/replay.rs runs them with plain `cargo test`).
# Environment: FUZZ_NICE (default 19), FUZZ_NO_BUILD=1 (use the binary as built).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${1:?usage: fuzz/run.sh TARGET SECONDS [OUT]}
SECONDS_=${2:?usage: fuzz/run.sh TARGET SECONDS [OUT]}
OUT=${3:-target/fuzz-out/$TARGET}
case "$TARGET" in underlay | access | external) ;; *) echo "unknown target $TARGET" >&2; exit 2 ;; esac
export CARGO_TARGET_DIR=$ROOT/target/afl
BIN=$CARGO_TARGET_DIR/fuzz/fuzz_$TARGET
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  cargo afl build -q --profile fuzz -p vxgw-fuzz --features afl --bin "fuzz_$TARGET"
fi
mkdir -p "$(dirname "$OUT")"
INPUT=(-i "fuzz/corpus/$TARGET")
[ -f "$OUT/default/fuzzer_stats" ] && INPUT=(-i -) # resume
# No UI, no core pinning (shared cores), no CPU governor or core_pattern demands.
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_STARTUP_CALIBRATION=1
rc=0
nice -n "${FUZZ_NICE:-19}" cargo afl fuzz "${INPUT[@]}" -o "$OUT" -x fuzz/vxgw.dict -V "$SECONDS_" \
  -- "$BIN" >"$OUT.log" 2>&1 || rc=$?
stats=$OUT/default/fuzzer_stats
if [ ! -f "$stats" ]; then
  echo "fuzz/run.sh: AFL did not start (rc $rc); its log: $OUT.log" >&2
  tail -30 "$OUT.log" >&2
  exit 1
fi
get() { awk -F' *: *' -v k="$1" '$1 == k {print $2}' "$stats"; }
crashes=$(get saved_crashes) hangs=$(get saved_hangs)
printf '%s: %s executions, %s exec/s, %s/%s edges (%s), %s corpus, %s crashes, %s hangs, %s s\n' \
  "$TARGET" "$(get execs_done)" "$(get execs_per_sec)" "$(get edges_found)" "$(get total_edges)" \
  "$(get bitmap_cvg)" "$(get corpus_count)" "$crashes" "$hangs" "$(get run_time)"
if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
  echo "fuzz/run.sh: $TARGET: crashes or hangs saved:" >&2
  ls "$OUT"/default/crashes/id:* "$OUT"/default/hangs/id:* 2>/dev/null >&2 || true
  exit 1
fi
