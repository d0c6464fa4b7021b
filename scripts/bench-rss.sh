#!/usr/bin/env bash
# `webmon run` at scale (release build, dashboard on) with N checks at an interval
# against the built-in demo target, which runs in the same process (so the figures
# include it): peak memory, CPU, schedule lateness and lost results.
#
#   bash scripts/bench-rss.sh [CHECKS=1000] [SECONDS=40] [INTERVAL=10s]
#   bash scripts/bench-rss.sh 10000 90 30s
#   WEBMON_BIN=target/release/webmon bash scripts/bench-rss.sh   # skip the build
#
# Prints VmHWM (peak resident set) and VmRSS read from /proc/PID/status after SECONDS,
# CPU time, how many results were stored, the lateness of their starts (started minus
# scheduled, p50/p99/max) and the results that could not be stored, from the run's
# closing line. Targets: VmHWM <= 64 MB with 1,000 checks at 10 s; with 10,000 checks
# at 30 s, lateness p99 <= 10 ms, VmHWM <= 256 MB and no result lost.
set -euo pipefail
cd "$(dirname "$0")/.."
checks="${1:-1000}"
seconds="${2:-40}"
interval="${3:-10s}"

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
    echo "  - {id: rss-$i, url: 'http://127.0.0.1:$port/ok', interval: $interval, timeout: 1s, allow_private: true}"
  done
} >"$dir/checks.yaml"

RUST_LOG=info "$bin" run --config "$dir/checks.yaml" --db "$dir/webmon.db" \
  --demo-target "127.0.0.1:$port" --port 0 --duration "$((seconds + 5))s" \
  --summary-every 10m ${WEBMON_RUN_ARGS:-} 2>"$dir/run.log" &
pid=$!
sleep "$seconds"
hwm_kb="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")"
rss_kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")"
# utime + stime (fields 14 and 15 of /proc/PID/stat, in clock ticks).
cpu_ticks="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
cpu_s="$(awk -v t="$cpu_ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}')"
wait "$pid"

echo "webmon run: $checks checks at $interval (5 requests each) for ${seconds}s"
echo "  VmHWM (peak RSS): $((hwm_kb / 1024)) MiB ($hwm_kb kB)"
echo "  VmRSS at ${seconds}s: $((rss_kb / 1024)) MiB ($rss_kb kB)"
echo "  CPU time in ${seconds}s: ${cpu_s} s (probes and the in-process demo target)"
python3 - "$dir/webmon.db" "$interval" <<'PY'
import re, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)", sys.argv[2]).groups()
interval_ms = int(number) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}[unit]
stored, available = db.execute("SELECT COUNT(*), SUM(available) FROM executions").fetchone()
rows = db.execute("SELECT at, started FROM executions").fetchall()
first = min((at for at, _ in rows), default=0)
def line(label, late):
    late = sorted(late)
    def pct(p):
        return late[min(len(late) - 1, max(0, -(-len(late) * p // 100) - 1))] if late else "n/a"
    print(f"  lateness {label} (started - scheduled, {len(late)} executions): "
          f"p50 {pct(50)} ms, p99 {pct(99)} ms, max {late[-1] if late else 'n/a'} ms")
print(f"  results stored: {stored} (available: {available})")
line("overall", [s for _, s in rows])
# After the first interval: every check on its grid, the first runs done.
line("after the first interval", [s for at, s in rows if at >= first + interval_ms])
PY
pattern='[0-9]* executions ([^)]*); [0-9]* results stored, [0-9]* could not be stored'
closing="$(grep -o "$pattern" "$dir/run.log" | tail -1)"
echo "  closing line: ${closing:-missing, see the log of the run}"
