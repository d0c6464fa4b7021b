#!/usr/bin/env bash
# Peak memory of `webmon run` (release build, dashboard on) with N checks at 10 s
# against the built-in demo target, which runs in the same process (so the figure
# includes it).
#
#   bash scripts/bench-rss.sh [CHECKS=1000] [SECONDS=40]
#   WEBMON_BIN=target/release/webmon bash scripts/bench-rss.sh   # skip the build
#
# Prints VmHWM (peak resident set) and VmRSS read from /proc/PID/status after SECONDS,
# plus how many results were stored. Target: VmHWM <= 64 MB with 1,000 checks.
set -euo pipefail
cd "$(dirname "$0")/.."
checks="${1:-1000}"
seconds="${2:-40}"

# WEBMON_BIN=path measures an existing binary instead of building one.
bin="${WEBMON_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release -p webmon >&2
  bin="$PWD/target/release/webmon"
fi
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
{
  echo "checks:"
  for i in $(seq 1 "$checks"); do
    echo "  - {id: rss-$i, url: 'http://127.0.0.1:$port/ok', interval: 10s, timeout: 1s, allow_private: true}"
  done
} >"$dir/checks.yaml"

RUST_LOG=warn "$bin" run --config "$dir/checks.yaml" --db "$dir/webmon.db" \
  --demo-target "127.0.0.1:$port" --port 0 --duration "$((seconds + 5))s" &
pid=$!
sleep "$seconds"
hwm_kb="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")"
rss_kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")"
# utime + stime (fields 14 and 15 of /proc/PID/stat, in clock ticks).
cpu_ticks="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
cpu_s="$(awk -v t="$cpu_ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}')"
wait "$pid"
stored="$(sqlite3 "$dir/webmon.db" 'SELECT COUNT(*) FROM results' 2>/dev/null || echo '?')"
available="$(sqlite3 "$dir/webmon.db" 'SELECT SUM(available) FROM results' 2>/dev/null || echo '?')"

echo "webmon run: $checks checks at 10s (5 requests each) for ${seconds}s"
echo "  VmHWM (peak RSS): $((hwm_kb / 1024)) MiB ($hwm_kb kB)"
echo "  VmRSS at ${seconds}s: $((rss_kb / 1024)) MiB ($rss_kb kB)"
echo "  CPU time in ${seconds}s: ${cpu_s} s (probes and the in-process demo target)"
echo "  results stored: $stored (available: $available)"
