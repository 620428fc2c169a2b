#!/usr/bin/env bash
# Runs every test suite of doudi on this machine, setting up what they need:
# a throwaway PostgreSQL cluster on loopback (from Debian's packages when none is installed) and a
# throwaway S3-compatible server on loopback (s3s-fs from crates.io, installed into target/tools).
#
# Usage: bash tests/run-all.sh
# With DOUDI_TEST_PG_URL already set (postgres://user@host:port/db, the user may CREATE DATABASE),
# that server is used instead; likewise DOUDI_TEST_S3_ENDPOINT (with DOUDI_TEST_S3_BUCKET,
# DOUDI_TEST_S3_ACCESS_KEY_ID, DOUDI_TEST_S3_SECRET_ACCESS_KEY) for the S3 blob-store tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n== %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pg_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
  local bin
  bin=$(pg_bin_dir)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    log "installing PostgreSQL from Debian packages"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(pg_bin_dir)
  fi
  PG_DIR=$(mktemp -d /tmp/doudi-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  local run=()
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || as_root useradd --system --no-create-home postgres
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  log "starting a throwaway PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$PG_PORT"
  "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U doudi -A trust -E UTF8 --no-locale >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
  PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop)
  export DOUDI_TEST_PG_URL="postgres://doudi@127.0.0.1:$PG_PORT/postgres"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

S3S_VERSION=0.14.1
start_s3() {
  local tools="$root/target/tools"
  local bin="$tools/bin/s3s-fs"
  if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "$S3S_VERSION"; then
    log "installing s3s-fs $S3S_VERSION (S3-compatible test server) into target/tools"
    cargo install --locked --quiet "s3s-fs@$S3S_VERSION" --features binary --root "$tools"
  fi
  S3_DIR=$(mktemp -d /tmp/doudi-s3.XXXXXX)
  mkdir "$S3_DIR/doudi-test"  # a bucket is a directory of the root
  local port key secret
  port=$(free_port)
  key=doudi-test-key
  secret=doudi-test-secret
  "$bin" --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" "$S3_DIR" \
    >"$S3_DIR.log" 2>&1 &
  S3_PID=$!
  for _ in $(seq 50); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  log "started a throwaway S3-compatible server (s3s-fs $S3S_VERSION) on 127.0.0.1:$port"
  export DOUDI_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
  export DOUDI_TEST_S3_BUCKET=doudi-test
  export DOUDI_TEST_S3_ACCESS_KEY_ID="$key"
  export DOUDI_TEST_S3_SECRET_ACCESS_KEY="$secret"
}

cleanup() {
  if [ -n "${PG_STOP:-}" ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi
  if [ -n "${PG_DIR:-}" ]; then rm -rf "$PG_DIR"; fi
  if [ -n "${S3_PID:-}" ]; then kill "$S3_PID" 2>/dev/null || true; fi
  if [ -n "${S3_DIR:-}" ]; then rm -rf "$S3_DIR" "$S3_DIR.log"; fi
}
trap cleanup EXIT

if [ -z "${DOUDI_TEST_PG_URL:-}" ]; then
  start_postgres
fi
export DOUDI_TEST_REQUIRE_PG=1
# A one-off build: incremental state would only fill the disk.
export CARGO_INCREMENTAL=0
if [ -z "${DOUDI_TEST_S3_ENDPOINT:-}" ]; then
  start_s3
fi
export DOUDI_TEST_REQUIRE_S3=1
# The load balancer of the several-nodes test (tests/tests/e2e/nodes.rs): nginx, started by the
# test on a port of its own (the package's own service, if it starts, is left alone).
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  log "installing nginx from Debian packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
export DOUDI_TEST_REQUIRE_NGINX=1

log "Rust: formatting and clippy (warnings are errors)"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

log "Rust: every crate, SQLite and PostgreSQL, local and S3 blob stores"
cargo test --workspace --locked

log "Browser: the console in headless Chromium (Debian's package, driven by playwright-core)"
if [ ! -x /usr/bin/chromium ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
cargo build --locked -p doudi-server --bin doudi
(
  cd tests/console
  if [ ! -d node_modules/playwright-core ] || [ ! -f node_modules/axe-core/axe.min.js ]; then
    # playwright-core never downloads browsers; the test launches /usr/bin/chromium.
    npm ci --no-audit --no-fund
  fi
  node --test
)

log "API: schemathesis against a real demo server, every role, the document at /openapi.json"
(
  # Pinned; installed into a virtual environment under target/ on first use.
  st_version=4.32.5
  venv="$root/target/schemathesis-$st_version"
  if [ ! -x "$venv/bin/st" ]; then
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$st_version"
  fi
  DOUDI_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/doudi" bash tests/api/run.sh "$venv/bin/st"
)

log "phone SDK bindings: Python (pytest) and Kotlin (Maven, JUnit 5) against a real server; Swift generated"
bash mobile-sdk/bindings/run-tests.sh all

# ---- Fuzzing: each cargo-fuzz target for a short while (docs/RELIABILITY.md, "Fuzzing") ----
CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${DOUDI_FUZZ_SECONDS:-30}
run_fuzz_targets() {
  local tools="$root/target/tools"
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    log "installing Rust nightly with rustup (cargo-fuzz needs it)"
    if ! rustup toolchain install nightly --profile minimal; then
      echo "run-all: the fuzz targets need Rust nightly, which is not installed and rustup could not install it;" >&2
      echo "run-all: install it with 'rustup toolchain install nightly --profile minimal' and run again" >&2
      exit 1
    fi
  fi
  if [ ! -x "$tools/bin/cargo-fuzz" ] || ! "$tools/bin/cargo-fuzz" --version | grep -q "$CARGO_FUZZ_VERSION"; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION into target/tools"
    cargo install --locked --quiet "cargo-fuzz@$CARGO_FUZZ_VERSION" --root "$tools"
  fi
  local entry crate target corpus
  # The targets built without a sanitizer and without optimisation, with debug assertions and
  # overflow checks: a short smoke run whose build stays cheap (docs/RELIABILITY.md gives the
  # 10-minute runs with AddressSanitizer). Both fuzz crates share one target directory.
  for entry in protocol/validate_document protocol/apply_response server/sync_request server/push_changes server/image_check; do
    crate=${entry%%/*}
    target=${entry#*/}
    corpus=$(mktemp -d /tmp/doudi-fuzz.XXXXXX)
    log "fuzzing $target ($crate/fuzz) for ${FUZZ_SECONDS}s"
    (
      cd "$crate/fuzz"
      PATH="$tools/bin:$PATH" CARGO_TARGET_DIR="$root/target/fuzz" CARGO_PROFILE_DEV_DEBUG=line-tables-only \
        cargo +nightly fuzz run --dev -s none "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
    )
    rm -rf "$corpus"
  done
}
fuzz_started=$SECONDS
run_fuzz_targets
log "fuzzing took $((SECONDS - fuzz_started)) s with the build"
# ---- end of fuzzing ----

log "all suites passed"
