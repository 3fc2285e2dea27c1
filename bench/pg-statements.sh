#!/usr/bin/env bash
# Where PostgreSQL spends a request's time, statement by statement (docs/benchmarks.md).
#
#   PGLOG=/var/log/postgresql/postgresql-15-main.log bench/pg-statements.sh <toolkit-sync binary> [N]
#
# Starts the binary (release build, native, not under valgrind) on a fresh PostgreSQL database
# with `log_min_duration_statement = 0` (needs psql, curl, jq, python3 and read access to the
# server's log, PGLOG), seeds one project, one key and one doc of 2,048 characters, warms up,
# then sends N (200) sequential GETs and N sequential PUTs (If-Match) on one connection. For
# each phase it prints, per kind of statement, how many ran per request and PostgreSQL's own
# time for them (parse + bind + execute as logged, ms per request): the server-side share of
# the round trips, the tailer's reads after each commit included. Sequential requests on an
# otherwise idle server, so a statement's logged time is close to the backend's CPU for it
# (COMMIT includes the WAL flush).
set -euo pipefail
bin=$(realpath "$1"); n=${2:-200}
: "${PGLOG:?set PGLOG to the PostgreSQL server log file}"
source "$(dirname "$0")/../scripts/server-lib.sh"
bench_setup pgstmt
psql -q "$admin" -c "ALTER DATABASE $db SET log_min_duration_statement = 0"
start_bench_server 200 0.05 "$bin"
seed_project PGS
seed_doc
gets() { get_doc "$1"; }
puts() { put_doc "$1"; }
log_lines() { grep -c "@$db " "$PGLOG" || true; }

report() {  # $1 name, $2 first log line, $3 last log line
  sed -n "$(($2 + 1)),$3p" <(grep "@$db " "$PGLOG") | python3 -c '
import re, sys, collections
name, n = sys.argv[1], int(sys.argv[2])
time = collections.defaultdict(float)
runs = collections.Counter()
for line in sys.stdin:
    m = re.search(r"duration: ([0-9.]+) ms  (parse|bind|execute|statement)[^:]*: (.*)", line)
    if not m:
        continue
    ms, step, sql = float(m.group(1)), m.group(2), " ".join(m.group(3).split())
    key = sql[:70]
    time[key] += ms
    if step in ("execute", "statement"):
        runs[key] += 1
total = sum(time.values())
print(f"{name}: {total / n:.3f} ms of PostgreSQL time per request, {sum(runs.values()) / n:.2f} statements")
for key, ms in sorted(time.items(), key=lambda kv: -kv[1]):
    print(f"  {ms / n:7.3f} ms  {runs[key] / n:5.2f}×  {key}")
' "$1" "$n"
}

gets 20; puts 20; sleep 1   # warm-up: pools, caches, statements prepared
for phase in gets puts; do
  before=$(log_lines)
  "$phase" "$n"
  sleep 0.5
  report "$phase" "$before" "$(log_lines)"
done
