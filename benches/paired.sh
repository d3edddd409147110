#!/usr/bin/env bash
# Times two commands in turn (A B A B ...) by the user CPU seconds each takes, and prints each
# side's median and the median of the pair-by-pair ratios A/B. On a shared machine whose speed
# drifts by tens of percent within minutes, a ratio taken pair by pair is the figure to trust;
# two medians measured one after the other are not.
#
# Usage: benches/paired.sh [-n PAIRS] [--pin CPU] 'COMMAND_A' 'COMMAND_B'
#   e.g. benches/paired.sh -n 14 --pin 1 \
#          'target/release/pingpong_memory 20000000 10000 100000 untracked' \
#          'target/release/pingpong_memory 20000000'
# Each command is one string run by bash (so `env X=1 cmd` and redirections work); its output
# is discarded. --pin runs both on that processor (taskset).
set -euo pipefail

pairs=10
pin=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -n) pairs="${2:?-n needs a number}"; shift 2 ;;
        --pin) pin=(taskset -c "${2:?--pin needs a processor number}"); shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        -*) echo "paired.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) break ;;
    esac
done
if [[ $# -ne 2 ]]; then
    echo "paired.sh: give exactly two commands, each as one quoted string (see --help)" >&2
    exit 2
fi
[[ "$pairs" =~ ^[1-9][0-9]*$ ]] || { echo "paired.sh: -n must be a positive whole number" >&2; exit 2; }

# User CPU seconds of one run of a command string.
user_secs() {
    local TIMEFORMAT=%U
    { time "${pin[@]}" bash -c "$1" >/dev/null 2>&1; } 2>&1
}

a=(); b=(); ratios=()
user_secs "$1" >/dev/null # warm-up (page cache, CPU frequency)
for ((i = 0; i < pairs; i++)); do
    ta="$(user_secs "$1")"
    tb="$(user_secs "$2")"
    a+=("$ta"); b+=("$tb")
    ratios+=("$(awk -v x="$ta" -v y="$tb" 'BEGIN { printf "%.4f", (y > 0) ? x / y : 0 }')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
echo "A: $(median "${a[@]}") s user (median; $(range "${a[@]}"))  $1"
echo "B: $(median "${b[@]}") s user (median; $(range "${b[@]}"))  $2"
echo "A/B: $(median "${ratios[@]}") (median of $pairs pairs; $(range "${ratios[@]}"))"
