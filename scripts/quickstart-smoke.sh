#!/usr/bin/env bash
# The README's quick start, bounded: `webmon run --config examples/checks.yaml
# --demo-target` for a fixed duration in a temporary directory, then `webmon report` on
# the database it wrote. Fails if either command fails or if the report has no samples.
# Usage: scripts/quickstart-smoke.sh [DURATION] (default 70s: every enabled check of the
# example file runs at least every minute, so each has a sample by then)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-70s}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A debug build (the same code as the release build of the README's command, which
# would add a long optimised build to every CI run), with the `bench` feature so that
# the cost benchmark step of scripts/test-all.sh reuses this very build instead of
# making a second one.
timeout 1200 cargo build -q -p webmon --features bench
bin="${CARGO_TARGET_DIR:-target}/debug/webmon"

# The run stops by itself after --duration; the outer timeout only bounds a hang.
timeout 120 "$bin" run --config examples/checks.yaml --demo-target \
  --duration "$duration" --db "$work/webmon.db"
timeout 60 "$bin" report --db "$work/webmon.db" | tee "$work/report.txt"
# Every enabled check of the example file appears in the report.
ids=$(python3 -c 'import yaml; print(" ".join(c["id"] for c in yaml.safe_load(open("examples/checks.yaml"))["checks"] if c.get("enabled", True)))')
missing=0
for id in $ids; do
  if ! grep -q -- "$id" "$work/report.txt"; then
    echo "error: check $id is not in the report" >&2
    missing=1
  fi
done
[ "$missing" -eq 0 ]
echo "quick start: ok"
