#!/usr/bin/env bash
# The one test command: runs every test of the project, step by step, and ends with a
# summary line. It installs what the tests need first (scripts/install-test-deps.sh);
# `.ci/run` calls it.
#
# To add tests, append a `step "name" command args...` line in the steps section. A
# step that fails does not stop the others; the script exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One-off builds gain nothing from incremental state, which took about 4 GB of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# What the tests need (Debian packages, moto, cargo-lambda, pytest, cargo-nextest):
# installed unless already there. WEBMON_SKIP_INSTALL=1 skips it.
if [ -z "${WEBMON_SKIP_INSTALL:-}" ]; then
  bash scripts/install-test-deps.sh
fi

# The disk the build has to work with, for the log: a full run needs about 5 GB.
df -h . | tail -1 | awk '{ print "disk: " $4 " free of " $2 }'

passed=()
failed=()
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

step() {
  local name="$1"
  shift
  echo
  echo "=== step: ${name}"
  local start=$SECONDS
  # Each step's output is kept to count the tests it ran (see the summary).
  if "$@" 2>&1 | tee "$logs/$((${#passed[@]} + ${#failed[@]})).log"; then
    passed+=("$name")
    echo "=== step: ${name}: ok ($((SECONDS - start)) s)"
  else
    failed+=("$name")
    echo "=== step: ${name}: FAILED ($((SECONDS - start)) s)"
  fi
}

# ---------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------

# The rooms and the one-way arrows between them (docs/architecture.md): crate
# dependencies, no HTTP server or AWS SDK in the domain crate, no module import cycles.
step "layout: rooms and arrows" python3 scripts/check-layout.py

# Formatting and lints, on everything that ships and the benchmark code.
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy -D warnings" cargo clippy -q --workspace --all-targets --features webmon/bench -- -D warnings

# Every crate: unit tests, integration tests (real servers on 127.0.0.1) and CLI tests
# that run the real `webmon` binary. With cargo-nextest (installed by `.ci/run`), each
# test has a time limit (.config/nextest.toml, profile `ci`); without it, `cargo test`
# runs the same tests without per-test limits, and says so. The `bench` feature is on
# so that the documented `webmon bench` commands are checked too (docs_commands).
if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest --workspace (per-test time limits)" \
    cargo nextest run --workspace --features webmon/bench --profile ci --no-tests=fail
elif [ -n "${WEBMON_CI_NEXTEST:-}" ]; then
  step "cargo nextest --workspace (per-test time limits)" \
    sh -c 'echo "error: cargo-nextest is not installed" >&2; exit 1'
else
  echo "note: cargo-nextest not found: running cargo test, without per-test time limits"
  step "cargo test --workspace" cargo test --workspace --features webmon/bench
fi

# The release build that ships: the three Lambdas for arm64, zipped, exactly as
# docs/deploy.md builds them, then the deploy guide's artifact check (every zip the
# Pulumi programs name exists). About 10 minutes on 2 cores.
step "arm64 release Lambda build and artifact check" sh -c '
  cargo lambda build --release --arm64 --output-format zip -p probe-lambda -p writer-lambda -p config-lambda -p notifier-lambda -p sweeper-lambda &&
  WEBMON_REQUIRE_ARTIFACTS=1 python3 infra-tests/checker.py'

# The README's quick start: `webmon run --config examples/checks.yaml --demo-target` for
# a bounded duration, then `webmon report` on what it stored.
step "quick start (webmon run --demo-target, webmon report)" bash scripts/quickstart-smoke.sh

# The Pulumi YAML programs checked offline against the AWS provider's own definitions
# (the Pulumi CLI is not needed), with the planted-mistake fixtures; and every generated
# Timestream query parsed with sqlglot (test_timestream_sql.py runs the Rust test that
# dumps them, so it never reads a dump an earlier step left).
step "infra: offline Pulumi checks, Timestream SQL parsed" python3 -m pytest infra-tests -q

# The real Lambda binaries under `cargo lambda watch` on moto's server, each invoked once
# with its event fixture (needs cargo-lambda and moto[server]).
step "lambda binaries under cargo lambda watch" bash scripts/lambda-watch-smoke.sh

# The cost benchmark on a small run with its target: fails if a result is lost on the
# way to Timestream or if the cost per million executions misses $0.60 (it exits
# non-zero then). 1,000 checks is the smallest documented run that meets the target
# (about 100 s here); at 100 checks the offset waiting is spread over too few executions.
step "bench cost (1,000 checks, 5 minutes)" env RUST_LOG=warn cargo run -q -p webmon --features bench -- bench cost --checks 1000 --minutes 5

# The store benchmark, small (50 checks, 30 days, a week raw) with its targets: bytes per
# execution, overview and series query times, ingest while queries run; it exits
# non-zero when one is missed. The full run (1,000 checks, 90 days) stays manual.
step "bench store (50 checks, 30 days)" env RUST_LOG=warn cargo run -q -p webmon --features bench -- bench store --checks 50 --days 30 --raw-days 7 --queries 10 --ingest-for 3s

# The alert evaluation benchmark, small: it has no target to miss, so this step shows
# that it runs and prints its figures (the full 10,000-check run stays manual, as do
# `bench probe`, whose CPU target needs a release build of the CLI, and `bench lambda`).
step "bench alerts (1,000 checks, 5 rounds)" env RUST_LOG=warn cargo run -q -p webmon --features bench -- bench alerts --checks 1000 --rounds 5

# ---------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------
echo
echo "=== steps: ${#passed[@]} passed, ${#failed[@]} failed${failed:+ (${failed[*]})}"
# Tests counted from cargo's "test result:" lines, nextest's summary and pytest's
# closing line.
read -r tests_passed tests_failed < <(
  cat "$logs"/*.log | awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;/) p += $(i-1); if ($i ~ /^failed;/) f += $(i-1) } }
    /Summary \[/ && / tests? run:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
    /^[0-9]+ passed/ && / in [0-9.]+s/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
    END { print p + 0, f + 0 }'
)
echo "tests: ${tests_passed} passed, ${tests_failed} failed"
[ "${#failed[@]}" -eq 0 ]
