#!/usr/bin/env bash
# Checks that the server answers exactly what its OpenAPI document says: schemathesis (all
# phases) against the built `toolkit-sync` binary on a throw-away SQLite database, with a real
# user's token and a real project, failing on any finding (an undocumented status or header,
# a response that breaks its schema, a 5xx, ...).
#
# The virtualenv lives outside the clone (SCHEMATHESIS_VENV, default
# ~/.cache/toolkit-sync/schemathesis-venv) and is created with `pip install schemathesis` from
# PyPI the first time. The binary is $TOOLKIT_SYNC_BIN, else built with cargo. Needs python3,
# curl. SCHEMATHESIS_MAX_EXAMPLES (default 30) bounds the cases per operation and phase.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/toolkit-sync/schemathesis-venv}"
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="$(realpath -m "${TOOLKIT_SYNC_BIN:-$TARGET/debug/toolkit-sync}")"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-30}"

if [ ! -x "$VENV/bin/schemathesis" ]; then
    echo "== creating $VENV (pip install schemathesis)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet 'schemathesis>=4.3,<5'
fi
if [ -z "${TOOLKIT_SYNC_BIN:-}" ]; then
    cargo build --quiet -p toolkit-api --bin toolkit-sync
fi

workdir="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "${github:-}" ]; then
        kill "$github" 2>/dev/null || true
        wait "$github" 2>/dev/null || true
    fi
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

source scripts/server-lib.sh
port="$(free_port)"
base="http://127.0.0.1:$port"
# A "GitHub" that knows no repository (every path 404): linking answers its documented 422
# instead of depending on the real GitHub being reachable.
github_port="$(free_port)"
mkdir -p "$workdir/github"
python3 -m http.server "$github_port" --bind 127.0.0.1 --directory "$workdir/github" >/dev/null 2>&1 &
github=$!
echo "== starting $BIN on $base (SQLite in $workdir)"
# A long access-token lifetime: the run outlasts the default 15 minutes.
env -u REDIS_URL -u GITHUB_TOKEN \
    TOOLKIT_PROFILE=development \
    DATABASE_URL="sqlite://$workdir/toolkit-sync.db" \
    PORT="$port" \
    TOOLKIT__AUTH__ACCESS_TTL_SECONDS=86400 \
    TOOLKIT__GITHUB__WEBHOOK_SECRET="schemathesis-webhook-secret-0123456789" \
    TOOLKIT__GITHUB__API_URL="http://127.0.0.1:$github_port" \
    RUST_LOG=warn \
    "$BIN" >"$workdir/server.log" 2>&1 &
server=$!
wait_until_ready "$base/healthz" "$server" 100 0.1 "$workdir/server.log"

json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
token="$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d '{"email":"schemathesis@example.com","password":"correct horse battery","displayName":"Schemathesis"}' |
    json_field '["accessToken"]')"
project="$(curl -fsS -X POST "$base/api/v1/projects" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $token" -d '{"name":"Schemathesis"}' | json_field '["id"]')"
curl -fsS -X POST "$base/api/v1/projects/$project/docs" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $token" -d '{"path":"CLAUDE.md","content":"# Toolkit\nreview rules"}' >/dev/null

# Path parameters named projectId point at the real project half of the time, so the fuzzer
# reaches past the 404 of a random id.
#
# positive_data_acceptance ("schema-valid data is accepted") also accepts 422: the document
# states shapes, ranges and enums, but some rules of the domain have no JSON Schema (the doc
# path grammar, e-mail addresses, names that are not blank once trimmed, the cursor being one
# this server made); they are answered with the documented 422 `validation-failed`. A version
# in `If-Match` that schemathesis makes up is stale (412) or the doc locked (423), and a GET
# of /api/v1/ws without the WebSocket handshake headers is a documented 400.
cat >"$workdir/schemathesis.toml" <<EOF
headers = { Authorization = "Bearer ${token}" }

[parameters]
"path.projectId" = { dictionary = "projects", probability = 0.5 }

[dictionaries.projects]
values = ["${project}"]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]

[[operations]]
include-path-regex = "/docs/[^/]+(/revisions/[^/]+/restore)?\$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "423", "428", "429"]

# Both 'cursor' and 'after' on the events feed is a 400 (give one).
[[operations]]
include-path = "/api/v1/projects/{projectId}/events"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "429"]

# A missing required 'If-Match' is 428 Precondition Required (RFC 6585), not 400; with a
# made-up X-API-Key next to it, the credential is refused first (401).
[checks.missing_required_header]
expected-statuses = ["400", "401", "428"]

# Links between operations are inferred from the schemas (location-header inference links
# POST docs to the trash list, a schemathesis bug). A project's GitHub link is made by
# PUT .../github, not by creating the project, so "created resource not found" does not apply.
[phases.stateful]
inference.algorithms = ["dependency-analysis"]

[[operations]]
include-path = "/api/v1/projects/{projectId}/github"
checks.ensure_resource_availability.enabled = false

[[operations]]
include-path = "/api/v1/ws"
checks.positive_data_acceptance.expected-statuses = ["101", "400", "401", "403", "429"]
EOF

echo "== schemathesis against $base/api/openapi.json"
status=0
# From the temp dir: schemathesis keeps its cache (.schemathesis/) in the working directory.
# One worker: with two, hypothesis describes its filters by running ast.parse in two threads
# at once, which CPython 3.11.7 (this machine's) does not survive ("AST constructor recursion
# depth mismatch", CPython gh-106905, fixed in 3.11.8): a tool error, not a finding.
cd "$workdir"
"$VENV/bin/schemathesis" --config-file "$workdir/schemathesis.toml" run "$base/api/openapi.json" \
    --url "$base" \
    --phases "${SCHEMATHESIS_PHASES:-examples,coverage,fuzzing,stateful}" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --workers 1 \
    --request-timeout 10 \
    --suppress-health-check all \
    --warnings off || status=$?
if grep -q 'panicked' "$workdir/server.log"; then
    echo "== the server panicked:"
    grep -A5 'panicked' "$workdir/server.log"
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "== schemathesis found problems (server log: last 40 lines)"
    tail -40 "$workdir/server.log"
fi
exit "$status"
