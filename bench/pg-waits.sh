#!/usr/bin/env bash
# What PUTs wait for in PostgreSQL under load (docs/benchmarks.md, "Where a PUT's time goes").
#
#   bench/pg-waits.sh <toolkit-sync binary> <nest-prisma dir with node_modules>
#
# Starts the binary on a fresh database (server of BENCH_DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/postgres), seeds one project, one key and 50 docs of 2,048
# characters, runs the anchors' PUT script (autocannon, 50 connections, one doc each, 10 s) and
# samples pg_stat_activity every 100 ms: how many of the server's sessions were waiting, on
# what (wait_event_type/wait_event: Lock/tuple or Lock/transactionid = a row lock, Lock/advisory
# = the outbox lock, IO/WALSync = commit fsync), and which statement they were in.
set -euo pipefail
bin=$(realpath "$1"); nest=$(realpath "$2")
source "$(dirname "$0")/../scripts/server-lib.sh"
bench_setup pgwaits
# A pool of 10, like the anchors (`PG_POOL_MAX`).
start_bench_server 300 0.1 env TOOLKIT__DATABASE__MAX_CONNECTIONS=10 "$bin"
seed_project W
for i in $(seq 1 50); do
  post "/projects/$project/docs" "{\"path\":\"doc-$i.md\",\"content\":\"$content\\n\"}" | jq -r .id >>"$work/ids"
done
(cd "$nest" && URL_BASE="http://127.0.0.1:$port" BENCH_PROJECT_ID=$project BENCH_API_KEY=$key \
  BENCH_DOC_IDS_FILE="$work/ids" CONNECTIONS=50 DURATION=10 node scripts/bench-put.mjs >"$work/put.json") &
load=$!
sleep 2
samples=0
while kill -0 $load 2>/dev/null && [[ $samples -lt 70 ]]; do
  psql -At "$admin" -c "SELECT coalesce(wait_event_type, 'CPU') || '/' || coalesce(wait_event, '-') || ' | ' ||
    left(regexp_replace(query, '\s+', ' ', 'g'), 60) FROM pg_stat_activity
    WHERE datname = '$db' AND state <> 'idle' AND pid <> pg_backend_pid()" >>"$work/waits"
  samples=$((samples + 1)); sleep 0.1
done
wait $load
echo "PUT run: $(cat "$work/put.json")"
echo "$samples samples of the server's busy sessions (of 10): count, wait, statement"
sort "$work/waits" | uniq -c | sort -rn | head -15
