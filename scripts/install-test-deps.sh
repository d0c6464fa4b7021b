#!/usr/bin/env bash
# Installs what the test suite needs, skipping what is already there (idempotent).
# Called by scripts/test-all.sh, the README's test command, so a fresh machine with only
# the Rust toolchain, Python 3.11 with pip and Debian's packages can run every test.
# Debian packages need root (apt-get); run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_get() {
  if [ "$(id -u)" -eq 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi
}

# Debian packages: procps for `kill` (the Ctrl-C test of `webmon run`), chromium for the
# dashboard's headless browser test.
apt_packages=()
command -v kill >/dev/null 2>&1 || apt_packages+=(procps)
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
# npm for the offline Pulumi checks (they unpack the AWS provider's package definitions).
command -v npm >/dev/null 2>&1 || apt_packages+=(nodejs npm)
# influxdb (InfluxDB 1.x, `influxd`) and victoria-metrics for the InfluxDB store's tests.
command -v influxd >/dev/null 2>&1 || apt_packages+=(influxdb)
command -v victoria-metrics >/dev/null 2>&1 || apt_packages+=(victoria-metrics)
# unshare (util-linux) and ip (iproute2) for the address guard's test inside a network
# namespace without routes (core/tests/probe_netns.rs).
command -v unshare >/dev/null 2>&1 || apt_packages+=(util-linux)
command -v ip >/dev/null 2>&1 || apt_packages+=(iproute2)
# curl and blackbox_exporter: the reference client and the peer of `webmon bench probe`.
command -v curl >/dev/null 2>&1 || apt_packages+=(curl)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || apt_packages+=(prometheus-blackbox-exporter)
if [ "${#apt_packages[@]}" -gt 0 ]; then
  echo "installing: ${apt_packages[*]}"
  apt_get update -qq
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq "${apt_packages[@]}" >/dev/null
fi

# Python tools, pinned: moto's server (AWS adapter tests) and cargo-lambda (the local
# Lambda runtime emulator for the Lambda binaries' tests). Reinstalled only when the
# installed version is not the pinned one.
MOTO_VERSION=5.2.1
CARGO_LAMBDA_VERSION=1.9.2
installed() { python3 -m pip show "$1" 2>/dev/null | awk '/^Version:/ { print $2 }'; }
if [ "$(installed moto)" != "$MOTO_VERSION" ] || ! python3 -c 'import moto.server' >/dev/null 2>&1 ||
  [ "$(installed cargo-lambda)" != "$CARGO_LAMBDA_VERSION" ]; then
  echo "installing: moto[server]==$MOTO_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION"
  python3 -m pip install -q --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi

# Python test tools for the offline Pulumi checks and sqlglot, the SQL parser that reads
# every generated Timestream query (pinned in the requirements file).
python3 -m pip install -q --disable-pip-version-check -r infra-tests/requirements.txt

# cargo-nextest runs the workspace's tests with per-test time limits (.config/nextest.toml).
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing: cargo-nextest"
  cargo install cargo-nextest --locked
fi
# The arm64 Linux target for the release build of the Lambdas (cargo lambda cross-links
# it with zig, which the cargo-lambda package brings).
rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$' ||
  rustup target add aarch64-unknown-linux-gnu
# rustfmt and clippy for the format and lint steps.
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" ||
    rustup component add "$component"
done

