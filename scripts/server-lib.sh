# Shared by the scripts that start a throw-away `toolkit-sync` and drive it over HTTP
# (bench/callgrind.sh, bench/pg-waits.sh, scripts/schemathesis.sh): sourced, never run. Each
# of them needs the same free port, readiness wait and, for the benchmarks, the same fresh
# PostgreSQL database and seeded project; one copy keeps them starting the server alike.

# A TCP port nobody listens on right now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_until_ready URL PID TRIES INTERVAL: polls URL until it answers 2xx; if process PID ends
# first, prints LOG (the server's output, 5th argument) and exits 1. Gives up silently after
# TRIES polls INTERVAL seconds apart (the next request then fails loudly).
wait_until_ready() {
  local url=$1 server_pid=$2 tries=$3 interval=$4 log=$5
  for _ in $(seq 1 "$tries"); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$log"; exit 1; }
    sleep "$interval"
  done
}

# bench_database PREFIX: a fresh PostgreSQL database named PREFIX_<pid>_<random> on the server
# of BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres). Sets `scheme`,
# `authority`, `db`, `admin` (the maintenance database's URL) and `db_url`; the caller drops it
# with `drop_bench_database` on exit. `db_url` asks for no TLS (`BENCH_DB_SSLMODE`, default
# `disable`), like the anchors, whose sqlx has no TLS: on loopback, TLS only adds CPU on both
# sides of every statement.
bench_database() {
  local server=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  authority=${server#*://}; authority=${authority%%/*}; scheme=${server%%://*}
  db=$1_$$_$RANDOM
  admin="$scheme://$authority/postgres"
  db_url="$scheme://$authority/$db?sslmode=${BENCH_DB_SSLMODE:-disable}"
  psql -q "$admin" -c "CREATE DATABASE $db"
}

drop_bench_database() { psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }

# bench_setup PREFIX: a scratch folder `work`, a fresh database (bench_database PREFIX) and an
# exit trap that stops the server (`pid`, once the caller sets it), runs the caller's
# `keep_results` if it defines one (while `work` still exists), drops the database and removes
# `work`: whatever way the benchmark ends, nothing is left behind.
bench_setup() {
  work=$(mktemp -d)
  pid=
  trap bench_cleanup EXIT
  bench_database "$1"
}

bench_cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  drop_bench_database
  if declare -F keep_results >/dev/null; then keep_results; fi
  rm -rf "$work"
}

# A random 64-character JWT secret, so a benchmark's server starts with no configuration.
random_jwt_secret() { head -c 48 /dev/urandom | base64 | tr -d '/+=' | head -c 64; }

# post PATH JSON: POST to $base/PATH, as $token when set; prints the answer, fails on 4xx/5xx.
post() { curl -fsS -H 'content-type: application/json' ${token:+-H "authorization: Bearer $token"} -d "$2" "$base$1"; }

# seed_project NAME: registers NAME@example.com, creates project NAME (slug NAME, lower case)
# and a key with docs:read and docs:write. Sets `token`, `project`, `key`, and `content` (2,047
# characters, a doc of 2,048 with its newline).
seed_project() {
  local name=$1 slug
  slug=$(tr '[:upper:]' '[:lower:]' <<<"$name")
  token=$(post /auth/register "{\"email\":\"$slug@example.com\",\"password\":\"$slug-bench-password\",\"displayName\":\"$name\"}" | jq -r .accessToken)
  project=$(post /projects "{\"name\":\"$name\",\"slug\":\"$slug\"}" | jq -r .id)
  key=$(post "/projects/$project/api-keys" "{\"name\":\"$slug\",\"scopes\":[\"docs:read\",\"docs:write\"]}" | jq -r .key)
  content=$(printf 'x%.0s' $(seq 1 2047))
}

# start_bench_server TRIES INTERVAL COMMAND...: starts COMMAND (the server binary, or it behind a
# wrapper such as valgrind) on the bench database (`db_url`, from bench_setup) on a free port,
# in development with a random JWT secret, its output in $work/server.log; sets `port`, `base`
# and `pid` and waits for readiness (TRIES polls INTERVAL seconds apart).
start_bench_server() {
  local tries=$1 interval=$2; shift 2
  port=$(free_port)
  base="http://127.0.0.1:$port/api/v1"
  TOOLKIT_PROFILE=development DATABASE_URL="$db_url" TOOLKIT__SERVER__PORT=$port \
    TOOLKIT__LOG__LEVEL=warn TOOLKIT__AUTH__JWT_SECRET=$(random_jwt_secret) \
    "$@" >"$work/server.log" 2>&1 &
  pid=$!
  wait_until_ready "http://127.0.0.1:$port/readyz" "$pid" "$tries" "$interval" "$work/server.log"
}

# seed_doc: one doc of `content` (2,048 characters with its newline) in `project`; sets `url`
# (the doc's) and `version` (1).
seed_doc() {
  local doc
  doc=$(post "/projects/$project/docs" "{\"path\":\"doc.md\",\"content\":\"$content\\n\"}" | jq -r .id)
  url="$base/projects/$project/docs/$doc"
  version=1
}

# get_doc N [HEADER]: N GETs of `url` with `key` on one connection (one curl process), each
# with HEADER if given.
get_doc() {
  local args=()
  for _ in $(seq 1 "$1"); do args+=(--next -o /dev/null -H "x-api-key: $key" ${2:+-H "$2"} "$url"); done
  curl -s "${args[@]:1}"
}

# put_doc N: N PUTs of `url` with `key` on one connection, each with `If-Match` of the version
# the previous one made (`version` follows along).
put_doc() {
  local args=()
  for _ in $(seq 1 "$1"); do
    args+=(--next -o /dev/null -X PUT -H "x-api-key: $key" -H 'content-type: application/json'
      -H "if-match: \"$version\"" -d "{\"content\":\"edit $version $content\"}" "$url")
    version=$((version + 1))
  done
  curl -s "${args[@]:1}"
}
