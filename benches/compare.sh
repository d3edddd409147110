#!/usr/bin/env bash
# Side-by-side pingpong (5 hosts, 50 in flight, latency 1-10 ms, 1,000,000 deliveries):
# ruckus (fingerprint and flight recorder on), the bare binary-heap loop, turmoil and madsim,
# all built and measured in one run of this script. Prints one line per system with its
# deliveries per second, then `ratios: vs_bare=X vs_turmoil=Y vs_madsim=Z` (ruckus throughput
# divided by each). ruckus, bare and turmoil come from the criterion bench group
# `pingpong_5_hosts` (each side's median of ten samples of time per run); madsim from its own
# crate, built with --cfg madsim (best of three runs).
#
# ruckus and the bare loop are measured in ROUNDS rounds (default 5), each the two one after
# the other (which goes first alternating), and `vs_bare` is the median of the rounds'
# ratios: on a shared machine a burst of load from another tenant slows one side's samples by
# up to a third for seconds at a time, and a single round's ratio then says which side the
# burst hit. The rounds' ratios are printed, so their spread shows how quiet the machine was.
#
# Usage: benches/compare.sh        (from anywhere; needs cargo and jq; ROUNDS=N to change)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
deliveries=1000000
command -v jq >/dev/null || { echo "compare.sh needs jq to read criterion's estimates" >&2; exit 2; }

rounds="${ROUNDS:-5}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: ROUNDS must be a positive whole number" >&2; exit 2; }

echo "== building the criterion bench engine" >&2
(cd "$root" && cargo bench -p ruckus-benches --bench engine --no-run >&2)

# Deliveries per second from criterion's median time per iteration (nanoseconds).
rate_of() {
    local est="$target/criterion/pingpong_5_hosts/$1/new/estimates.json"
    [[ -f "$est" ]] || { echo "missing $est" >&2; exit 1; }
    jq -r --argjson n "$deliveries" '$n / (.median.point_estimate / 1e9)' "$est"
}
# The median of numbers given one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

ruckus_rates=()
bare_rates=()
round_ratios=()
for round in $(seq 1 "$rounds"); do
    # Odd rounds measure ruckus first, even rounds the bare loop, so neither side always
    # comes first.
    order=(ruckus bare_heap)
    ((round % 2 == 0)) && order=(bare_heap ruckus)
    for side in "${order[@]}"; do
        echo "== round $round of $rounds: pingpong_5_hosts/$side" >&2
        (cd "$root" && cargo bench -p ruckus-benches --bench engine -- --noplot "pingpong_5_hosts/$side\$" >&2)
    done
    r="$(rate_of ruckus)"
    b="$(rate_of bare_heap)"
    ruckus_rates+=("$r")
    bare_rates+=("$b")
    round_ratios+=("$(awk -v a="$r" -v b="$b" 'BEGIN { printf "%.3f", a / b }')")
done
echo "== pingpong_5_hosts/turmoil" >&2
(cd "$root" && cargo bench -p ruckus-benches --bench engine -- --noplot 'pingpong_5_hosts/turmoil$' >&2)

echo "== building madsim-pingpong with --cfg madsim" >&2
madsim_line=""
if (cd "$root/benches/madsim-pingpong" &&
    RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR="$target/madsim" cargo build --release >&2); then
    # Best of three runs, as criterion's mean is over many runs.
    best=0
    for _ in 1 2 3; do
        line="$("$target/madsim/release/madsim-pingpong" "$deliveries")"
        echo "$line" >&2
        rate="$(awk '{print $2}' <<<"$line")"
        best="$(awk -v a="$best" -v b="$rate" 'BEGIN { print (b > a) ? b : a }')"
    done
    madsim_line="$best"
else
    echo "madsim-pingpong did not build (see above)" >&2
fi

ruckus="$(printf '%s\n' "${ruckus_rates[@]}" | median)"
bare="$(printf '%s\n' "${bare_rates[@]}" | median)"
vs_bare="$(printf '%s\n' "${round_ratios[@]}" | median)"
turmoil="$(rate_of turmoil)"

fmt() { awk -v r="$1" 'BEGIN { printf "%14.0f deliveries/s\n", r }'; }
ratio() { if [[ -n "$2" ]]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "n/a"; fi; }

echo
printf '%-10s %s\n' ruckus "$(fmt "$ruckus")"
printf '%-10s %s\n' bare_heap "$(fmt "$bare")"
printf '%-10s %s\n' turmoil "$(fmt "$turmoil")"
if [[ -n "$madsim_line" ]]; then
    printf '%-10s %s\n' madsim "$(fmt "$madsim_line")"
else
    printf '%-10s %s\n' madsim "unavailable (build failed)"
fi
echo "vs_bare by round: ${round_ratios[*]}"
echo "ratios: vs_bare=$(awk -v r="$vs_bare" 'BEGIN { printf "%.2f", r }') vs_turmoil=$(ratio "$ruckus" "$turmoil") vs_madsim=$(ratio "$ruckus" "$madsim_line")"
