#!/usr/bin/env bash
# One fuzz test as ctest runs it:
#   run.sh TARGET SEED_DIR REGRESSION_DIR WORK_DIR [DICT]
# 1. replays every file of REGRESSION_DIR (inputs that once crashed: each
#    must now pass), 2. fuzzes for KN_FUZZ_SECONDS (default 60) starting
#    from a copy of SEED_DIR kept in WORK_DIR, so inputs found by earlier
#    runs are reused and nothing is ever written into the repository.
# A crash, leak or UB report fails the test; the input that caused it is in
# WORK_DIR/artifacts/ (add it to REGRESSION_DIR once fixed).
set -euo pipefail

target=$1 seeds=$2 regressions=$3 work=$4 dict=${5:-}
seconds=${KN_FUZZ_SECONDS:-${KN_FUZZ_DEFAULT_SECONDS:-60}}

mkdir -p "$work/corpus" "$work/artifacts"
cp -rn "$seeds"/. "$work/corpus"/

if [[ -d $regressions ]]; then
  mapfile -t inputs < <(find "$regressions" -type f ! -name '*.md' | sort)
  if ((${#inputs[@]} > 0)); then
    echo "run.sh: replaying ${#inputs[@]} regression input(s)"
    "$target" -rss_limit_mb=2048 -timeout=10 "${inputs[@]}"
  fi
fi

opts=()
if [[ -n $dict && -f $dict ]]; then
  opts+=(-dict="$dict")
fi
echo "run.sh: fuzzing for ${seconds}s from $work/corpus"
exec "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -max_len=8192 -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${opts[@]}" \
  "$work/corpus"
