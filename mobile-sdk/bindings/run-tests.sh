#!/usr/bin/env bash
# Generates the Kotlin, Python and Swift bindings from the host build of libdoudi_sdk with the
# workspace's own uniffi-bindgen, starts a real `doudi demo` server on loopback, and runs the
# Python (pytest) and Kotlin (Maven, JUnit 5 on the JVM) tests against it. Swift is generated
# only (no Swift toolchain here).
#
# Usage: bash mobile-sdk/bindings/run-tests.sh [python|kotlin|all]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
what=${1:-all}
target=${CARGO_TARGET_DIR:-$root/target}
out=$target/bindings

log() { printf '\n== %s\n' "$*"; }

log "building libdoudi_sdk, uniffi-bindgen and the doudi server"
cargo build -p doudi-sdk --lib --bin uniffi-bindgen
cargo build -p doudi-server --bin doudi
lib=$target/debug/libdoudi_sdk.so

log "generating bindings into $out"
rm -rf "$out"
for lang in kotlin python swift; do
  "$target/debug/uniffi-bindgen" generate --library "$lib" --language "$lang" --out-dir "$out/$lang" >/dev/null
done
cp "$lib" "$out/python/"
ls "$out/swift"

data=$(mktemp -d /tmp/doudi-bindings.XXXXXX)
"$target/debug/doudi" demo --listen 127.0.0.1:0 --data-dir "$data/server" >"$data/server.log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/.*address:[[:space:]]*\(http:[^[:space:]]*\).*/\1/p' "$data/server.log" | head -n 1)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$data/server.log"; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "the demo server did not start"; cat "$data/server.log"; exit 1; }
log "demo server at $url"
export DOUDI_TEST_SERVER=$url
export DOUDI_TEST_PHOTO=${DOUDI_TEST_PHOTO:-$root/../shared/data/photos/kite.jpg}

if [ "$what" = all ] || [ "$what" = python ]; then
  log "Python bindings: pytest"
  PYTHONPATH="$out/python" python3 -m pytest -q mobile-sdk/bindings/python
fi
if [ "$what" = all ] || [ "$what" = kotlin ]; then
  log "Kotlin bindings: Maven + JUnit 5 on the JVM"
  mvn -q -B -f mobile-sdk/bindings/kotlin/pom.xml test \
    -Dgenerated.dir="$out/kotlin" -Djna.library.path="$target/debug"
fi
log "bindings tests passed"
