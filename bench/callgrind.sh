#!/usr/bin/env bash
# Instructions and SQL statements per request, repeatable on a busy machine (docs/benchmarks.md).
#
#   bench/callgrind.sh <toolkit-sync binary> [N]
#
# Starts the binary under `valgrind --tool=callgrind` on a fresh PostgreSQL database (on the
# server of BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; needs psql,
# curl, jq), seeds one project, one key (docs:read docs:write) and one doc of 2,048 characters,
# warms up, then zeroes the counters and sends N (200) sequential requests of each kind on one
# keep-alive connection: GET by key (200), GET with If-None-Match (304), PUT with If-Match.
# Prints the server's instructions (Ir) per request for each phase. With PGLOG set to the
# server's log file (log_line_prefix with %d), the database is created with log_statement=all
# and the statements each phase sent are counted too (BEGIN and COMMIT included). With
# CALLGRIND_KEEP=<dir>, the per-phase dumps are copied there (`callgrind_annotate <dump>`).
set -euo pipefail
bin=$(realpath "$1"); n=${2:-200}
source "$(dirname "$0")/../scripts/server-lib.sh"
keep_results() {
  if [[ -n ${CALLGRIND_KEEP:-} ]]; then mkdir -p "$CALLGRIND_KEEP" && cp "$work"/cg.out.* "$CALLGRIND_KEEP"/ 2>/dev/null || true; fi
}
bench_setup callgrind
if [[ -n ${PGLOG:-} ]]; then psql -q "$admin" -c "ALTER DATABASE $db SET log_statement = 'all'"; fi
start_bench_server 600 0.2 valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin"
seed_project CG
seed_doc
gets() { get_doc "$@"; }   # phase runners: one curl process, N requests on one connection
puts() { put_doc "$@"; }
log_lines() { if [[ -n ${PGLOG:-} ]]; then grep -c "@$db " "$PGLOG" || true; else echo 0; fi; }
statements() {  # lines logged for this database between two counts, per request
  if [[ -n ${PGLOG:-} ]]; then
    sed -n "$(($1 + 1)),$2p" <(grep "@$db " "$PGLOG") | grep -cE 'LOG:  (statement|execute)' || true
  fi
}

gets 20 ""; gets 20 "if-none-match: \"$version\""; puts 20   # warm-up: pools, caches, statements prepared
sleep 1
phase() {  # $1 name, then the runner and its arguments
  local name=$1; shift
  callgrind_control --zero "$pid" >/dev/null
  local before; before=$(log_lines)
  "$@"
  sleep 0.5
  callgrind_control --dump="$name" "$pid" >/dev/null
  local after; after=$(log_lines)
  local file; file=$(ls -t "$work"/cg.out.* | head -1)
  local ir; ir=$(grep -E '^(totals|summary):' "$file" | awk '{print $2}' | tail -1)
  local stmts=""
  if [[ -n ${PGLOG:-} ]]; then
    stmts=$(statements "$before" "$after")
    stmts=$(awk -v s="$stmts" -v n="$n" 'BEGIN { printf "  %.2f statements/request", s / n }')
  fi
  awk -v ir="$ir" -v n="$n" -v name="$name" -v st="$stmts" \
    'BEGIN { printf "%-10s %12.0f instructions/request (Ir, server process, %d requests)%s\n", name, ir / n, n, st }'
}
phase get gets "$n" ""
phase get304 gets "$n" "if-none-match: \"$version\""
phase put puts "$n"
