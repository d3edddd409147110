#!/bin/sh
# Smoke test for the HTML timeline export: records a failing lease_lock run and a
# 100,000-delivery pingpong run, exports both as HTML, opens them in headless Chromium, takes
# screenshots and checks the page rendered without script errors.
#
#   scenarios/tests/html_smoke.sh [OUT_DIR]      (default OUT_DIR: target/html-smoke)
#
# Skips (exit 0 with a message) when chromium is not installed: apt-get install -y chromium
set -eu
cd "$(dirname "$0")/../.."
OUT=${1:-target/html-smoke}
mkdir -p "$OUT"
BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$BROWSER" ]; then
    echo "html_smoke: SKIPPED, chromium is not installed (apt-get install -y chromium)"
    exit 0
fi
cargo build --release -q -p ruckus-scenarios
RUCKUS=${CARGO_TARGET_DIR:-target}/release/ruckus

# A planted-bug failure (seed 1 violates storage_fenced) and a large healthy run.
"$RUCKUS" run lease_lock_no_fencing --seed 1 --trace "$OUT/lease.trace" >/dev/null && {
    echo "html_smoke: FAILED, lease_lock_no_fencing seed 1 was expected to fail"; exit 1; } || true
"$RUCKUS" export "$OUT/lease.trace" -o "$OUT/lease.html" >/dev/null
"$RUCKUS" run pingpong --seed 3 --set workload.deliveries=100000 --trace "$OUT/pp.trace" >/dev/null
"$RUCKUS" export "$OUT/pp.trace" -o "$OUT/pp.html" --no-payloads >/dev/null

status=0
for page in lease pp; do
    file="$(cd "$OUT" && pwd)/$page.html"
    profile=$(mktemp -d)
    flags="--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
           --disable-component-update --disable-sync --user-data-dir=$profile --window-size=1400,800"
    # shellcheck disable=SC2086
    "$BROWSER" $flags --enable-logging=stderr --v=0 --dump-dom "file://$file" >"$OUT/$page.dom" 2>"$OUT/$page.log" || true
    # shellcheck disable=SC2086
    "$BROWSER" $flags --screenshot="$OUT/$page.png" "file://$file" >/dev/null 2>&1 || true
    rm -rf "$profile"
    tag=$(grep -o '<div id="status"[^>]*>' "$OUT/$page.dom" || true)
    if ! echo "$tag" | grep -q 'data-render="ok"'; then
        echo "html_smoke: FAILED, $page.html did not render: ${tag:-no status element}"
        status=1
    elif echo "$tag" | grep -q 'data-errors=' || grep -q 'Uncaught' "$OUT/$page.log"; then
        echo "html_smoke: FAILED, $page.html logged script errors:"
        grep 'Uncaught' "$OUT/$page.log" || echo "$tag"
        status=1
    elif ! echo "$tag" | grep -q 'data-arrows="[1-9]'; then
        echo "html_smoke: FAILED, $page.html drew no message arrows: $tag"
        status=1
    elif [ ! -s "$OUT/$page.png" ]; then
        echo "html_smoke: FAILED, no screenshot of $page.html"
        status=1
    else
        echo "html_smoke: ok  $page.html $(echo "$tag" | grep -o 'data-events="[0-9]*" data-markers="[0-9]*" data-arrows="[0-9]*"')  screenshot $OUT/$page.png"
    fi
done
exit $status
