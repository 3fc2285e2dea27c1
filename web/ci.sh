#!/usr/bin/env bash
# The console's and the TypeScript client's CI step: installs Debian's chromium when missing,
# installs the npm packages from the lockfiles, runs the client's tests (vitest) and the browser
# tests against the real server, then `cargo xtask web --check`.
#
# TOOLKIT_SYNC_BIN: the built server binary; without it the debug binary is built here (and
# found in $CARGO_TARGET_DIR or target/). CHROMIUM_PATH: another Chromium/Chrome to use.
# Screenshots land in web/test-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
    echo "== installing chromium (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"

if [ -z "${TOOLKIT_SYNC_BIN:-}" ]; then
    echo "== building the server"
    cargo build -p toolkit-api --bin toolkit-sync
    export TOOLKIT_SYNC_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/toolkit-sync"
fi
[ -x "$TOOLKIT_SYNC_BIN" ] || { echo "no server binary at $TOOLKIT_SYNC_BIN" >&2; exit 1; }

echo "== clients/typescript: npm ci, type check, vitest against the real server"
(cd clients/typescript && npm ci --no-audit --no-fund && npm run typecheck && npm test)

echo "== web: npm ci, type check, browser tests (chromium)"
(cd web && npm ci --no-audit --no-fund && npm run typecheck && npm run test:browser)

echo "== generated client and console assets are current"
cargo xtask web --check
