#!/usr/bin/env bash
# Side-by-side pingpong (5 hosts, 50 in flight, latency 1-10 ms, 1,000,000 deliveries):
# ruckus (fingerprint and flight recorder on), the bare binary-heap loop, turmoil and madsim,
# all built and measured in one run of this script. Prints one line per system with its
# deliveries per second, then `ratios: vs_bare=X vs_turmoil=Y vs_madsim=Z` (ruckus throughput
# divided by each). ruckus, bare and turmoil come from the criterion bench group
# `pingpong_5_hosts` (mean time per run); madsim from its own crate, built with --cfg madsim.
#
# Usage: benches/compare.sh        (from anywhere; needs cargo and jq)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
deliveries=1000000
command -v jq >/dev/null || { echo "compare.sh needs jq to read criterion's estimates" >&2; exit 2; }

echo "== building and running the criterion group pingpong_5_hosts (ruckus, bare_heap, turmoil)" >&2
(cd "$root" && cargo bench -p ruckus-benches --bench engine -- --noplot pingpong_5_hosts/ >&2)

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

# Deliveries per second from criterion's mean time per iteration (nanoseconds).
rate_of() {
    local est="$target/criterion/pingpong_5_hosts/$1/new/estimates.json"
    [[ -f "$est" ]] || { echo "missing $est" >&2; exit 1; }
    jq -r --argjson n "$deliveries" '$n / (.mean.point_estimate / 1e9)' "$est"
}
ruckus="$(rate_of ruckus)"
bare="$(rate_of bare_heap)"
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
echo "ratios: vs_bare=$(ratio "$ruckus" "$bare") vs_turmoil=$(ratio "$ruckus" "$turmoil") vs_madsim=$(ratio "$ruckus" "$madsim_line")"
