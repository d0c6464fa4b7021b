#!/usr/bin/env bash
# Runs the dashboard's headless-browser test (core/tests/dashboard_browser.rs), installing
# Debian's chromium first when it is missing (as root; CI runs as root).
#
#   scripts/browser-test.sh                       # run the test
#   scripts/browser-test.sh --update-screenshots  # also refresh docs/screenshot-*.png
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: /usr/bin/chromium is missing: install it with 'apt-get update && apt-get install -y chromium'" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ "${1:-}" = "--update-screenshots" ]; then
  export WEBMON_UPDATE_SCREENSHOTS=1
fi
cargo test -p webmon-core --test dashboard_browser
