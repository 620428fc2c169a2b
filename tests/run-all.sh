#!/usr/bin/env bash
# Runs every test suite of doudi on this machine, setting up what they need:
# a throwaway PostgreSQL cluster on loopback (from Debian's packages when none is installed).
#
# Usage: bash tests/run-all.sh
# With DOUDI_TEST_PG_URL already set (postgres://user@host:port/db, the user may CREATE DATABASE),
# that server is used instead.
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

cleanup() {
  if [ -n "${PG_STOP:-}" ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi
  if [ -n "${PG_DIR:-}" ]; then rm -rf "$PG_DIR"; fi
}
trap cleanup EXIT

if [ -z "${DOUDI_TEST_PG_URL:-}" ]; then
  start_postgres
fi
export DOUDI_TEST_REQUIRE_PG=1

log "Rust: every crate, SQLite and PostgreSQL"
cargo test --workspace --locked

log "phone SDK bindings: Python (pytest) and Kotlin (Maven, JUnit 5) against a real server; Swift generated"
bash mobile-sdk/bindings/run-tests.sh all

log "all suites passed"
