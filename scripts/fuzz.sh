#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz + libFuzzer on nightly): first each input of
# its corpus once (fuzz/corpus/<target>: seeds, kept finds and crash reproducers, the
# regression tests), then fuzzing for SECONDS (default 60) from that corpus, new inputs
# going to a scratch folder. Prints executions per second and coverage per target; fails on
# any crash (libFuzzer writes the input to fuzz/artifacts/<target>/: add it to the corpus
# once fixed). Instrumented builds go to their own target directory.
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export CARGO_TARGET_DIR="$HOME/.cache/edgeprice/fuzz-target"
SECS="${1:-60}"
shift || true
[ -d fuzz/corpus ] || python3 scripts/fuzz-seeds.py
cd fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
# No sanitizer: the code under test is safe Rust (panics, overflow checks and the targets'
# own assertions are what can fail); without ASan the build and the runs are several times faster.
cargo +nightly fuzz build --sanitizer none
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  mkdir -p "$scratch/new"
  cargo +nightly fuzz run --sanitizer none "$t" "corpus/$t" -- -runs=0 2>"$scratch/regress.log" \
    || { tail -40 "$scratch/regress.log" >&2; echo "fuzz $t: a corpus input fails" >&2; exit 1; }
  regress=$(grep -c '' < <(find "corpus/$t" -type f))
  cargo +nightly fuzz run --sanitizer none "$t" "$scratch/new" "corpus/$t" -- \
    -max_total_time="$SECS" -print_final_stats=1 -max_len=65536 2>"$scratch/run.log" \
    || { tail -40 "$scratch/run.log" >&2; echo "fuzz $t: crash (input in fuzz/artifacts/$t/)" >&2; exit 1; }
  done_line=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$scratch/run.log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/run.log")
  per_s=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$scratch/run.log")
  cov=$(grep -o 'cov: [0-9]*' <<<"$done_line" | tail -1)
  ft=$(grep -o 'ft: [0-9]*' <<<"$done_line" | tail -1)
  printf "fuzz %-9s %3d corpus inputs pass; %4ss: %10s runs, %7s/s, %s, %s, no crash\n" "$t" "$regress" "$SECS" "$execs" "$per_s" "$cov" "$ft"
  rm -rf "$scratch"
done
