#!/usr/bin/env bash
# Instructions executed per event by the engine and by the bare loop for one vs_bare workload,
# counted by callgrind: exact and repeatable, where timings on a shared machine move by 5-10%
# from run to run. A change that only moves time by a few percent shows here as a count. It
# is not a time: two builds with the same count can differ in speed (code layout, inlining).
#
# Usage: benches/instructions.sh [WORKLOAD]   (default pingpong_5; any vs_bare workload with a
#        bare loop). Needs valgrind. Builds vs_bare with `--profile profiling` first.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
workload="${1:-pingpong_5}"
command -v valgrind >/dev/null || { echo "instructions.sh needs valgrind (apt install valgrind)" >&2; exit 2; }
(cd "$root" && cargo build --profile profiling -p ruckus-benches --bin vs_bare >&2)
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" \
    "${CARGO_TARGET_DIR:-$root/target}/profiling/vs_bare" "$workload" 1 >/dev/null 2>&1
# The events of the workload, as vs_bare counts them: deliveries for pingpong, events for probes.
case "$workload" in
    pingpong_*) events=1000000 ;;
    *) echo "instructions.sh: events per run unknown for $workload; give a pingpong workload" >&2; exit 2 ;;
esac
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk -v n="$events" -v w="$workload" '
    # The run loop is in run_until_event, or inlined into Sim::run: the larger of the two.
    /ruckus_sim::sim::dispatch::<impl ruckus_sim::sim::Sim<P>>::run_until_event|ruckus_sim::sim::Sim<P>::run / {
        c = $1; gsub(",", "", c); if (c + 0 > engine) engine = c + 0 }
    /ruckus_benches::bare_pingpong/ { c = $1; gsub(",", "", c); if (c + 0 > bare) bare = c + 0 }
    END {
        if (engine == 0 || bare == 0) { print "instructions.sh: run_until_event or bare_pingpong not found in the profile" > "/dev/stderr"; exit 1 }
        printf "%s: engine %.1f instructions per event, bare loop %.1f (%.2fx)\n", w, engine / n, bare / n, engine / bare }'
