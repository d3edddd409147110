#!/usr/bin/env bash
# The README's "Guided search" table: per planted bug, runs to the first failure with random
# seeds (`ruckus hunt --random`, i.e. `sweep --stop-on-failure`) and with the guided search
# (`ruckus hunt`), median over base seeds 1..SEEDS, each search capped at CAP runs; and the
# size of the shrunk plan of base seed 1's guided failure (`ruckus shrink`, default budget: 2,000
# runs or 5 minutes, whichever runs out first).
#
#   cargo build --release -p ruckus-scenarios
#   benches/guided_table.sh [SEEDS] [CAP] [SCENARIO...]
#
# SEEDS = 0 skips the searches and prints only the shrink column (a minute or two).
#
# Runs each search on one job (the figures are run counts, not times). Prints a Markdown table.
set -euo pipefail
seeds=${1:-20}
cap=${2:-200}
shift $(( $# > 2 ? 2 : $# ))
ruckus=${RUCKUS:-target/release/ruckus}
bugs=("$@")
if [ ${#bugs[@]} -eq 0 ]; then
  bugs=(lease_lock_no_fencing lease_lock_no_sync lease_lock_clock_tokens
        raft_vote_not_persisted raft_commit_previous_term raft_lease_without_drift_margin
        raft_stale_read_deposed_leader
        consul_cache_without_expiry consul_registrations_not_persisted eureka_no_self_preservation
        scheduler_applier_trusts_snapshot scheduler_evals_in_leader_memory
        scheduler_fixed_heartbeat_ttl scheduler_lost_allocs_not_replaced
        scheduler_reschedule_without_backoff scheduler_update_ignores_max_parallel
        swim_no_incarnation_bump swim_no_suspicion)
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Runs to the first failure of one search, or ">CAP".
runs_to_failure() {
  local out
  out=$("$ruckus" hunt "$1" --runs "$cap" --seed "$2" --jobs 1 --no-trace $3 || true)
  echo "$out" | sed -n "s/^found .* at run \([0-9]*\) of .*/\1/p" | grep . || echo ">$cap"
}

# The median of numbers and ">CAP" entries (which sort above every number).
median() {
  printf '%s\n' "$@" | sed "s/^>$cap$/999999999/" | sort -n | awk -v cap="$cap" '
    { v[NR] = $1 } END {
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      if (m > cap) print ">" cap; else print m }'
}

if [ "$seeds" -eq 0 ]; then
  echo "| planted bug (scenario) | shrunk plan (actions) |"
  echo "|---|---|"
else
  echo "| planted bug (scenario) | random: median runs | found in | guided: median runs | found in | shrunk plan (actions) |"
  echo "|---|---|---|---|---|---|"
fi
for bug in "${bugs[@]}"; do
  random=() guided=()
  for s in $(seq 1 "$seeds"); do
    random+=("$(runs_to_failure "$bug" "$s" --random)")
    guided+=("$(runs_to_failure "$bug" "$s" "")")
  done
  found_r=$(printf '%s\n' "${random[@]}" | grep -vc '^>' || true)
  found_g=$(printf '%s\n' "${guided[@]}" | grep -vc '^>' || true)
  # Shrink base seed 1's guided failure.
  shrunk="-"
  if "$ruckus" hunt "$bug" --runs "$cap" --seed 1 --jobs 1 --trace-dir "$dir" >"$dir/hunt.txt" 2>&1; then :; fi
  trace=$(sed -n 's/^trace:  //p' "$dir/hunt.txt")
  if [ -n "$trace" ]; then
    sh_out=$("$ruckus" shrink "$trace" --out "$dir/shrunk.trace" 2>&1 || true)
    kept=$(echo "$sh_out" | sed -n 's/^faults: kept \([0-9]*\) of \([0-9]*\).*/\1 of \2/p')
    shrunk=${kept:-?}
    runs=$(echo "$sh_out" | sed -n 's/^faults: .* in \([0-9]*\) test runs.*/\1/p')
    if echo "$sh_out" | grep -q "time budget ran out"; then shrunk="$shrunk (time budget out after $runs runs)"
    elif echo "$sh_out" | grep -q "budget of .* ran out"; then shrunk="$shrunk (budget out)"
    elif echo "$sh_out" | grep -q "^faults: .*1-minimal"; then shrunk="$shrunk, 1-minimal, $runs runs"
    else shrunk="$shrunk, $runs runs"; fi
    rm -f "$trace" "$dir/shrunk.trace"
  fi
  if [ "$seeds" -eq 0 ]; then
    echo "| $bug | $shrunk |"
  else
    echo "| $bug | $(median "${random[@]}") | $found_r/$seeds | $(median "${guided[@]}") | $found_g/$seeds | $shrunk |"
  fi
done
