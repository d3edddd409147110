#!/usr/bin/env bash
# Sweep scaling: throughput of `ruckus sweep` with 2 jobs against 1 job, on the same seeds.
# Each run is single-threaded; the sweep spreads runs over cores with rayon, so on an idle
# 2-core machine 2 jobs should give close to 2x (the target is at least 1.7x).
#
#   scenarios/scripts/scaling.sh [SEEDS] [DELIVERIES]
#
# Uses the release binary (built if needed) and the pingpong yardstick with fewer deliveries per
# run so each run is short and the sweep has many runs to balance. Prints runs/s for each job
# count and the ratio. Close other work first: a busy machine understates the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
SEEDS=${1:-40}
DELIVERIES=${2:-200000}
cargo build --release --quiet -p ruckus-scenarios --bin ruckus
BIN="${CARGO_TARGET_DIR:-target}/release/ruckus"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

rate() { # jobs -> runs per second
  local jobs=$1 start end
  start=$(date +%s.%N)
  "$BIN" sweep pingpong --seeds "$SEEDS" --jobs "$jobs" --no-traces \
    --set "workload.deliveries=$DELIVERIES" --out "$OUT/jobs$jobs.jsonl" > /dev/null
  end=$(date +%s.%N)
  awk -v n="$SEEDS" -v a="$start" -v b="$end" 'BEGIN { print n / (b - a) }'
}

"$BIN" sweep pingpong --seeds 2 --jobs 2 --no-traces --set "workload.deliveries=$DELIVERIES" > /dev/null 2>&1 # warm up
one=$(rate 1)
two=$(rate 2)
# Both sweeps must produce the same results, whatever the job count.
diff <(sort "$OUT/jobs1.jsonl") <(sort "$OUT/jobs2.jsonl") > /dev/null || { echo "results differ between 1 and 2 jobs" >&2; exit 1; }
printf 'sweep of %s pingpong runs (%s deliveries each)\n' "$SEEDS" "$DELIVERIES"
printf '  1 job : %8.2f runs/s\n' "$one"
printf '  2 jobs: %8.2f runs/s\n' "$two"
printf '  ratio : %8.2fx (target >= 1.7x)\n' "$(awk -v a="$two" -v b="$one" 'BEGIN { print a / b }')"
