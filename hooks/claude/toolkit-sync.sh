#!/bin/sh
# toolkit-sync.sh — Claude Code SessionStart hook for Toolkit Sync.
#
# Pulls the project's docs bundle (CLAUDE.md, .claude/commands/*, ...) from a
# Toolkit Sync server into the project directory, without ever overwriting a
# file the developer changed since the last sync.  See docs/hooks.md.
#
# Needs only: POSIX sh, curl, tar, gzip, sha256sum or shasum.
#
# Only toolkit files are ever written (a local policy the server cannot change):
# CLAUDE.md, AGENTS.md, .claude/commands/, .claude/agents/, .claude/skills/,
# .claude/output-styles/, plus the prefixes in TOOLKIT_SYNC_EXTRA_PATHS; never
# .claude/settings*.json, .claude/hooks/, .mcp.json, .git*, .husky/, .envrc,
# .vscode/, .idea/ (whatever the configuration), nor a file the bundle marks
# executable, nor through a symlinked or non-directory parent.
#
# Environment:
#   TOOLKIT_SYNC_URL       server base URL, e.g. https://sync.example.com
#                          (https:// required unless the host is 127.0.0.1,
#                          [::1] or localhost)
#   TOOLKIT_SYNC_PROJECT   project id (UUID)
#   TOOLKIT_SYNC_API_KEY   API key (tks_...) with scope docs:read; if unset the
#                          first line of <target>/.toolkit-sync/key is used
#   TOOLKIT_SYNC_TIMEOUT   seconds for the whole request (default 10)
#   TOOLKIT_SYNC_EXTRA_PATHS  more paths to sync, separated by ':'; "docs/"
#                          means everything under docs/, "notes.md" that file
#   TOOLKIT_SYNC_MAX_FILE_BYTES   largest file written (default 1048576)
#   TOOLKIT_SYNC_MAX_TOTAL_BYTES  largest bundle, packed or unpacked
#                          (default 52428800); above it nothing is written
#   CLAUDE_PROJECT_DIR     target directory (default: current directory)
#
# Options:
#   --dry-run   say what would change; write nothing (not even state)
#   --refresh   ignore the saved etag and fetch the full bundle
#   -h, --help  show this help
#
# Exit status is 0 whenever the sync itself fails (server down, bad key,
# timeout, malformed bundle): the hook fails open and never blocks a session.
# Only a wrong command line exits 2.

set -u

PROG=toolkit-sync
DRY_RUN=0
REFRESH=0

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
}

for arg in "$@"; do
    case $arg in
        --dry-run) DRY_RUN=1 ;;
        --refresh) REFRESH=1 ;;
        -h|--help) usage; exit 0 ;;
        *) printf '%s: unknown option: %s (try --help)\n' "$PROG" "$arg" >&2; exit 2 ;;
    esac
done

# ---------------------------------------------------------------- helpers --

TMP=
LOCK=

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    if [ -n "$LOCK" ]; then rmdir "$LOCK" 2>/dev/null; fi
    if [ -n "$TMP" ]; then rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# One line on stderr, exit 0: the hook fails open.
fail_open() {
    printf '%s: %s; docs not synced\n' "$PROG" "$1" >&2
    exit 0
}

warn() {
    printf '%s: %s\n' "$PROG" "$1" >&2
}

# sha256 of a file's content (hex, lower case).
if command -v sha256sum >/dev/null 2>&1; then
    sha_of() { _h=$(sha256sum <"$1") || return 1; printf '%s\n' "${_h%% *}"; }
elif command -v shasum >/dev/null 2>&1; then
    sha_of() { _h=$(shasum -a 256 <"$1") || return 1; printf '%s\n' "${_h%% *}"; }
else
    fail_open "neither sha256sum nor shasum found"
fi

command -v curl >/dev/null 2>&1 || fail_open "curl not found"
command -v tar >/dev/null 2>&1 || fail_open "tar not found"
command -v gzip >/dev/null 2>&1 || fail_open "gzip not found"

# A manifest path is safe when it is relative and has no empty, "." or ".."
# segment.  Anything else means the server (or the state file) misbehaves.
is_safe_path() {
    case $1 in
        ''|/*|*/|.|..|./*|../*|*/.|*/..|*/./*|*/../*|*//*) return 1 ;;
    esac
    return 0
}

# Paths the hook refuses to write even if the server lists them: its own
# state directory and anything inside a .git directory (a doc there could be
# a git hook, i.e. code).  Matched case-insensitively for macOS/Windows.
is_reserved_path() {
    case $1 in
        .[Tt][Oo][Oo][Ll][Kk][Ii][Tt]-[Ss][Yy][Nn][Cc]|.[Tt][Oo][Oo][Ll][Kk][Ii][Tt]-[Ss][Yy][Nn][Cc]/*) return 0 ;;
        .[Gg][Ii][Tt]|.[Gg][Ii][Tt]/*|*/.[Gg][Ii][Tt]|*/.[Gg][Ii][Tt]/*) return 0 ;;
    esac
    return 1
}

# Lower-case copy of $1 (the policy is case-insensitive, as macOS and Windows
# file systems are).
lower() {
    printf '%s\n' "$1" | tr '[:upper:]' '[:lower:]'
}

# Paths never written whatever the configuration: configuration that runs
# code (Claude settings and hooks, MCP servers, git and its hooks, husky,
# direnv, editor settings).  Checked on every segment, so a nested copy
# (sub/.envrc, sub/.git/...) is refused as well.
is_forbidden_path() {
    _p=$(lower "$1")
    case /$_p/ in
        */.git*) return 0 ;;
        */.claude/settings*|*/.claude/hooks/*|*/.claude/hooks) return 0 ;;
        */.mcp.json/*|*/.husky/*|*/.githooks/*|*/.envrc/*|*/.vscode/*|*/.idea/*) return 0 ;;
    esac
    return 1
}

# The allow-list: toolkit files, plus TOOLKIT_SYNC_EXTRA_PATHS.
is_allowed_path() {
    is_forbidden_path "$1" && return 1
    case $1 in
        CLAUDE.md|AGENTS.md) return 0 ;;
        .claude/commands/*|.claude/agents/*|.claude/skills/*|.claude/output-styles/*) return 0 ;;
    esac
    _old_ifs=$IFS; IFS=:; set -f
    for _prefix in $EXTRA_PATHS; do
        IFS=$_old_ifs; set +f
        case $_prefix in
            */) case $1 in "$_prefix"*) return 0 ;; esac ;;
            *) [ "$1" = "$_prefix" ] && return 0
               case $1 in "$_prefix"/*) return 0 ;; esac ;;
        esac
    done
    IFS=$_old_ifs; set +f
    return 1
}

# True when every parent directory of $1 that exists is a real directory (not
# a symlink, not a file): a write must never follow a link out of the target.
parents_are_real() {
    _rest=$1; _cur=
    while :; do
        case $_rest in */*) ;; *) return 0 ;; esac
        _seg=${_rest%%/*}; _rest=${_rest#*/}
        _cur=${_cur:+$_cur/}$_seg
        if [ -L "$_cur" ]; then return 1; fi
        if [ -e "$_cur" ] && [ ! -d "$_cur" ]; then return 1; fi
    done
}

# The file's mode string has an execute bit (portable: from ls -l).
is_executable_file() {
    _mode=$(ls -ld "$1" 2>/dev/null) || return 1
    case $_mode in ???[xs]*|??????[xs]*|?????????[xt]*) return 0 ;; esac
    return 1
}

# Size of a file in bytes.
size_of() {
    wc -c <"$1" | tr -d ' '
}

# Local state of a target path: "absent", "other" (directory, symlink, ...)
# or the sha256 of the regular file.
local_state() {
    if [ -L "$1" ]; then
        echo other
    elif [ -f "$1" ]; then
        sha_of "$1" || echo other
    elif [ -e "$1" ]; then
        echo other
    else
        echo absent
    fi
}

# "a, b, c" from a list file, at most $2 names then "+N more".
join_list() {
    awk -v max="$2" '
        NR <= max { out = out (NR > 1 ? ", " : "") $0 }
        END { if (NR > max) out = out ", +" (NR - max) " more"; print out }
    ' "$1"
}

count_lines() {
    if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# ---------------------------------------------------------- configuration --

TARGET=${CLAUDE_PROJECT_DIR:-$(pwd)}
cd "$TARGET" 2>/dev/null || fail_open "cannot enter target directory $TARGET"
STATE_DIR=.toolkit-sync

URL=${TOOLKIT_SYNC_URL:-}
PROJECT=${TOOLKIT_SYNC_PROJECT:-}
[ -n "$URL" ] || fail_open "TOOLKIT_SYNC_URL is not set"
[ -n "$PROJECT" ] || fail_open "TOOLKIT_SYNC_PROJECT is not set"
# https:// only, except for a server on this machine (the key travels in clear
# over http://).  Redirects are not followed.
PROTO='=https'
case $URL in
    https://*) ;;
    http://127.0.0.1|http://127.0.0.1[:/]*|http://localhost|http://localhost[:/]*|http://\[::1\]|http://\[::1\][:/]*)
        PROTO='=http' ;;
    http://*) fail_open "TOOLKIT_SYNC_URL must use https:// (http:// only for 127.0.0.1, [::1] or localhost)" ;;
    *) fail_open "TOOLKIT_SYNC_URL must start with https://" ;;
esac
while :; do
    case $URL in */) URL=${URL%/} ;; *) break ;; esac
done
case $PROJECT in
    *[!A-Za-z0-9._~-]*) fail_open "TOOLKIT_SYNC_PROJECT contains unexpected characters" ;;
esac

KEY=${TOOLKIT_SYNC_API_KEY:-}
KEY_FROM_FILE=0
if [ -z "$KEY" ] && [ -f "$STATE_DIR/key" ]; then
    IFS= read -r KEY <"$STATE_DIR/key" || [ -n "$KEY" ]
    KEY=$(printf '%s' "$KEY" | tr -d ' \t\r')
    KEY_FROM_FILE=1
fi
[ -n "$KEY" ] || fail_open "no API key (set TOOLKIT_SYNC_API_KEY or write it to $STATE_DIR/key)"
case $KEY in
    *[!A-Za-z0-9_-]*) fail_open "the API key contains unexpected characters" ;;
esac

TIMEOUT=${TOOLKIT_SYNC_TIMEOUT:-10}
case $TIMEOUT in
    ''|*[!0-9.]*|*.*.*|.|0|0.|.0|0.0) warn "ignoring bad TOOLKIT_SYNC_TIMEOUT '$TIMEOUT', using 10"; TIMEOUT=10 ;;
esac

EXTRA_PATHS=
_old_ifs=$IFS; IFS=:; set -f
for _prefix in ${TOOLKIT_SYNC_EXTRA_PATHS:-}; do
    IFS=$_old_ifs; set +f
    [ -n "$_prefix" ] || continue
    _bare=${_prefix%/}
    if ! is_safe_path "$_bare" || is_forbidden_path "$_bare" || is_reserved_path "$_bare"; then
        warn "ignoring TOOLKIT_SYNC_EXTRA_PATHS entry '$_prefix' (not a plain relative path, or never allowed)"
        continue
    fi
    EXTRA_PATHS=${EXTRA_PATHS:+$EXTRA_PATHS:}$_prefix
done
IFS=$_old_ifs; set +f

number_setting() { # name value default
    case $2 in
        ''|*[!0-9]*) [ -z "$2" ] || warn "ignoring bad $1 '$2', using $3"; echo "$3" ;;
        *) echo "$2" ;;
    esac
}
MAX_FILE=$(number_setting TOOLKIT_SYNC_MAX_FILE_BYTES "${TOOLKIT_SYNC_MAX_FILE_BYTES:-}" 1048576)
MAX_TOTAL=$(number_setting TOOLKIT_SYNC_MAX_TOTAL_BYTES "${TOOLKIT_SYNC_MAX_TOTAL_BYTES:-}" 52428800)

# What the saved etag was fetched under (see the download below).
POLICY="1:$MAX_FILE:$EXTRA_PATHS"

# The key file must never be committed: make the state dir ignore itself.
if [ "$KEY_FROM_FILE" = 1 ] && [ "$DRY_RUN" = 0 ] && [ ! -e "$STATE_DIR/.gitignore" ]; then
    printf '*\n' >"$STATE_DIR/.gitignore" 2>/dev/null || :
fi

# --------------------------------------------------------------- download --

TMP=$(mktemp -d "${TMPDIR:-/tmp}/toolkit-sync.XXXXXX") || fail_open "cannot create a temporary directory"

OLD_ETAG=
if [ "$REFRESH" = 0 ] && [ -f "$STATE_DIR/etag" ] && [ -f "$STATE_DIR/state" ]; then
    IFS= read -r OLD_ETAG <"$STATE_DIR/etag" || :
    case $OLD_ETAG in *[!\ -~]*) OLD_ETAG= ;; esac   # printable ASCII only
    # A bundle fetched under another local policy may hold paths skipped then
    # and allowed now: fetch it in full again.
    OLD_POLICY=
    [ -f "$STATE_DIR/policy" ] && { IFS= read -r OLD_POLICY <"$STATE_DIR/policy" || :; }
    [ "$OLD_POLICY" = "$POLICY" ] || OLD_ETAG=
fi

set --
if [ -n "$OLD_ETAG" ]; then
    set -- -H "If-None-Match: $OLD_ETAG"
fi

# The key goes to curl on stdin, so it never shows up in `ps`.
# -q first: no ~/.curlrc can add options (a proxy, -k, ...).
HTTP_CODE=$(printf 'header = "X-API-Key: %s"\n' "$KEY" | curl -q -sS -K - \
    --proto "$PROTO" --proto-redir '=https' \
    --connect-timeout "$TIMEOUT" --max-time "$TIMEOUT" \
    --max-filesize "$MAX_TOTAL" \
    -H 'Accept: application/gzip' \
    -H 'User-Agent: toolkit-sync-hook/1' \
    ${1+"$@"} \
    -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' \
    "$URL/api/v1/projects/$PROJECT/bundle" 2>"$TMP/curl.err")
CURL_RC=$?

if [ "$CURL_RC" -ne 0 ]; then
    case $CURL_RC in
        28) fail_open "server did not answer within ${TIMEOUT}s ($URL)" ;;
        6) fail_open "cannot resolve host of $URL" ;;
        63) fail_open "bundle larger than $MAX_TOTAL bytes (TOOLKIT_SYNC_MAX_TOTAL_BYTES)" ;;
        7) fail_open "cannot connect to $URL (server down?)" ;;
        *) fail_open "request failed: $(head -n 1 "$TMP/curl.err" | tr -d '\r')" ;;
    esac
fi

case $HTTP_CODE in
    200) ;;
    304)
        if [ "$DRY_RUN" = 1 ]; then
            echo "Toolkit Sync (dry run): up to date, nothing would change."
        else
            echo "Toolkit Sync: up to date."
        fi
        exit 0 ;;
    401) fail_open "API key rejected (401: unknown, revoked or expired key)" ;;
    403) fail_open "API key not allowed (403: it needs the docs:read scope)" ;;
    404) fail_open "project not found (404: check TOOLKIT_SYNC_PROJECT; a key works only on its own project)" ;;
    429) fail_open "server busy (429), try again later" ;;
    5*) fail_open "server error (HTTP $HTTP_CODE)" ;;
    *) fail_open "unexpected answer from server (HTTP $HTTP_CODE)" ;;
esac

NEW_ETAG=$(tr -d '\r' <"$TMP/headers" | awk '
    tolower($1) == "etag:" { sub(/^[^:]*:[ \t]*/, ""); sub(/[ \t]+$/, ""); e = $0 }
    END { print e }')
case $NEW_ETAG in *[!\ -~]*) NEW_ETAG= ;; esac

# -------------------------------------------------------- unpack & verify --

[ -s "$TMP/body" ] || fail_open "malformed response (empty body)"

# Unpacked, the bundle may not exceed MAX_TOTAL either (no gzip bomb fills the
# disk): decompress at most one byte more than allowed.
if ! gzip -dc <"$TMP/body" 2>/dev/null | head -c "$((MAX_TOTAL + 1))" >"$TMP/body.tar"; then
    fail_open "malformed response (not a gzip'd tar)"
fi
[ "$(size_of "$TMP/body.tar")" -le "$MAX_TOTAL" ] ||
    fail_open "bundle larger than $MAX_TOTAL bytes unpacked (TOOLKIT_SYNC_MAX_TOTAL_BYTES)"

# Only regular files and directories are allowed in the archive: no links,
# devices or fifos that could point extraction outside the temp dir.
tar -tvf "$TMP/body.tar" >"$TMP/listing" 2>/dev/null || fail_open "malformed response (not a gzip'd tar)"
if awk 'substr($0, 1, 1) != "-" && substr($0, 1, 1) != "d" { bad = 1 } END { exit !bad }' "$TMP/listing"; then
    fail_open "malformed response (archive contains links or special files)"
fi
mkdir "$TMP/x" || fail_open "cannot create a temporary directory"
# -p keeps the archive's modes, so an executable entry is seen (and skipped).
tar -xpf "$TMP/body.tar" -C "$TMP/x" 2>/dev/null || fail_open "malformed response (cannot unpack archive)"
if [ -n "$(find "$TMP/x" ! -type f ! -type d | head -n 1)" ]; then
    fail_open "malformed response (archive contains links or special files)"
fi

MANIFEST=$TMP/x/.toolkit-sync/manifest
[ -f "$MANIFEST" ] || fail_open "malformed response (no .toolkit-sync/manifest)"

# Normalise and validate the manifest: "<64 hex>  <path>" per line.
tr -d '\r' <"$MANIFEST" | awk '
    /^[ \t]*$/ { next }
    !/^[0-9a-fA-F]+  ./ || index($0, "  ") != 65 { bad = 1; exit }
    { print tolower(substr($0, 1, 64)) "  " substr($0, 67) }
    END { exit bad }' >"$TMP/manifest" || fail_open "malformed response (bad manifest line)"

if [ -n "$(awk '{ print substr($0, 67) }' "$TMP/manifest" | sort | uniq -d | head -n 1)" ]; then
    fail_open "malformed response (duplicate path in manifest)"
fi

: >"$TMP/skipped"
: >"$TMP/wanted"
while IFS= read -r line; do
    sha=${line%%  *}
    path=${line#*  }
    is_safe_path "$path" || fail_open "malformed response (unsafe path in manifest: $path)"
    if is_reserved_path "$path" || ! is_allowed_path "$path"; then
        printf '%s\n' "$path" >>"$TMP/skipped"
        continue
    fi
    src=$TMP/x/$path
    if [ -L "$src" ] || [ ! -f "$src" ]; then
        fail_open "malformed response ($path is in the manifest but not in the archive)"
    fi
    got=$(sha_of "$src") || fail_open "cannot hash $path"
    [ "$got" = "$sha" ] || fail_open "malformed response (checksum mismatch for $path)"
    if is_executable_file "$src"; then
        printf '%s (executable)\n' "$path" >>"$TMP/skipped"
        continue
    fi
    if [ "$(size_of "$src")" -gt "$MAX_FILE" ]; then
        printf '%s (over %s bytes)\n' "$path" "$MAX_FILE" >>"$TMP/skipped"
        continue
    fi
    printf '%s\n' "$line" >>"$TMP/wanted"
done <"$TMP/manifest"

# ------------------------------------------------------------------ apply --

# Previous state, keeping only well-formed lines with safe paths.
: >"$TMP/old"
if [ -f "$STATE_DIR/state" ]; then
    awk 'length($0) > 66 && substr($0, 65, 2) == "  " && substr($0, 1, 64) !~ /[^0-9a-f]/' \
        "$STATE_DIR/state" >"$TMP/old.raw" 2>/dev/null || :
    while IFS= read -r line; do
        path=${line#*  }
        if is_safe_path "$path" && ! is_reserved_path "$path" && is_allowed_path "$path"; then
            printf '%s\n' "$line" >>"$TMP/old"
        fi
    done <"$TMP/old.raw"
fi

if [ "$DRY_RUN" = 0 ]; then
    mkdir -p "$STATE_DIR" 2>/dev/null || fail_open "cannot create $STATE_DIR"
    [ -e "$STATE_DIR/.gitignore" ] || printf '*\n' >"$STATE_DIR/.gitignore" 2>/dev/null || :
    LOCK=$STATE_DIR/lock
    if ! mkdir "$LOCK" 2>/dev/null; then
        if [ -n "$(find "$LOCK" -prune -mmin +5 2>/dev/null)" ]; then
            rmdir "$LOCK" 2>/dev/null
            mkdir "$LOCK" 2>/dev/null || { LOCK=; fail_open "another sync is running"; }
        else
            LOCK=
            fail_open "another sync is running ($STATE_DIR/lock)"
        fi
    fi
fi

: >"$TMP/added"; : >"$TMP/updated"; : >"$TMP/removed"
: >"$TMP/kept"; : >"$TMP/failed"; : >"$TMP/new-state"; : >"$TMP/unsafe"
N=0

# The physical path of the target: every write must land below it.
TARGET_REAL=$(pwd -P)

# Write $1 (source) to $2 atomically: temp file in the same directory + mv.
# $3 is the local state seen when planning; abort if the file changed since.
# Returns 3 when a parent is a symlink or not a directory inside the target.
# The copy is a new file (cat, no chmod): it is never executable.
install_file() {
    _dir=$(dirname "$2")
    parents_are_real "$2" || return 3
    mkdir -p "$_dir" 2>/dev/null || return 1
    parents_are_real "$2" || return 3
    case $(cd "$_dir" 2>/dev/null && pwd -P) in
        "$TARGET_REAL"|"$TARGET_REAL"/*) ;;
        *) return 3 ;;
    esac
    N=$((N + 1))
    _tmp=$_dir/.toolkit-sync-tmp.$$.$N
    (set -C; cat "$1" >"$_tmp") 2>/dev/null || { rm -f "$_tmp"; return 1; }
    [ "$(local_state "$2")" = "$3" ] || { rm -f "$_tmp"; return 2; }
    mv -f "$_tmp" "$2" 2>/dev/null || { rm -f "$_tmp"; return 1; }
}

# Join manifest with old state: "<new sha> <old sha or -> <path>".
awk 'FILENAME == ARGV[1] { old[substr($0, 67)] = substr($0, 1, 64); next }
     { p = substr($0, 67); print substr($0, 1, 64), ((p in old) ? old[p] : "-"), p }' \
    "$TMP/old" "$TMP/wanted" >"$TMP/plan"

while IFS= read -r line; do
    new=${line%% *}; rest=${line#* }
    old=${rest%% *}; path=${rest#* }
    cur=$(local_state "$path")

    if [ "$cur" = "$new" ]; then
        # Already what the server has (written by us or by hand): adopt it.
        printf '%s  %s\n' "$new" "$path" >>"$TMP/new-state"
        continue
    fi

    if [ "$cur" = absent ]; then
        action=added
    elif [ "$old" != - ] && [ "$cur" = "$old" ]; then
        action=updated
    else
        # Edited since the last sync, never written by us, or not a file.
        printf '%s\n' "$path" >>"$TMP/kept"
        [ "$old" = - ] || printf '%s  %s\n' "$old" "$path" >>"$TMP/new-state"
        continue
    fi

    if ! parents_are_real "$path"; then
        printf '%s\n' "$path" >>"$TMP/unsafe"
        [ "$old" = - ] || printf '%s  %s\n' "$old" "$path" >>"$TMP/new-state"
        continue
    fi
    if [ "$DRY_RUN" = 1 ]; then
        printf '%s\n' "$path" >>"$TMP/$action"
        continue
    fi
    install_file "$TMP/x/$path" "$path" "$cur"
    case $? in
        3)  printf '%s\n' "$path" >>"$TMP/unsafe"
            [ "$old" = - ] || printf '%s  %s\n' "$old" "$path" >>"$TMP/new-state" ;;
        0)  printf '%s\n' "$path" >>"$TMP/$action"
            printf '%s  %s\n' "$new" "$path" >>"$TMP/new-state" ;;
        2)  printf '%s\n' "$path" >>"$TMP/kept"
            [ "$old" = - ] || printf '%s  %s\n' "$old" "$path" >>"$TMP/new-state" ;;
        *)  printf '%s\n' "$path" >>"$TMP/failed"
            [ "$old" = - ] || printf '%s  %s\n' "$old" "$path" >>"$TMP/new-state" ;;
    esac
done <"$TMP/plan"

# Files we wrote earlier whose doc is gone from the server.
awk 'FILENAME == ARGV[1] { want[substr($0, 67)] = 1; next }
     !(substr($0, 67) in want)' "$TMP/wanted" "$TMP/old" >"$TMP/gone"

while IFS= read -r line; do
    old=${line%%  *}
    path=${line#*  }
    cur=$(local_state "$path")
    if [ "$cur" = absent ]; then
        continue                      # already gone: forget it
    fi
    if ! parents_are_real "$path"; then
        printf '%s\n' "$path" >>"$TMP/unsafe"
        printf '%s\n' "$line" >>"$TMP/new-state"
        continue
    fi
    if [ "$cur" != "$old" ]; then
        printf '%s\n' "$path" >>"$TMP/kept"
        printf '%s\n' "$line" >>"$TMP/new-state"   # stays "changed"
        continue
    fi
    if [ "$DRY_RUN" = 1 ]; then
        printf '%s\n' "$path" >>"$TMP/removed"
        continue
    fi
    if rm -f "$path" 2>/dev/null && [ ! -e "$path" ]; then
        printf '%s\n' "$path" >>"$TMP/removed"
        # Drop directories this left empty (rmdir never removes a non-empty one).
        d=$(dirname "$path")
        while [ "$d" != . ] && [ "$d" != / ] && rmdir "$d" 2>/dev/null; do
            d=$(dirname "$d")
        done
    else
        printf '%s\n' "$path" >>"$TMP/failed"
        printf '%s\n' "$line" >>"$TMP/new-state"
    fi
done <"$TMP/gone"

# Save state, then the etag (only when everything was applied).
if [ "$DRY_RUN" = 0 ]; then
    if cp "$TMP/new-state" "$STATE_DIR/state.tmp.$$" 2>/dev/null &&
        mv -f "$STATE_DIR/state.tmp.$$" "$STATE_DIR/state" 2>/dev/null; then
        if [ -n "$NEW_ETAG" ] && [ ! -s "$TMP/failed" ] && [ ! -s "$TMP/unsafe" ]; then
            printf '%s\n' "$POLICY" >"$STATE_DIR/policy.tmp.$$" 2>/dev/null &&
                mv -f "$STATE_DIR/policy.tmp.$$" "$STATE_DIR/policy" 2>/dev/null &&
                printf '%s\n' "$NEW_ETAG" >"$STATE_DIR/etag.tmp.$$" 2>/dev/null &&
                mv -f "$STATE_DIR/etag.tmp.$$" "$STATE_DIR/etag" 2>/dev/null
        else
            rm -f "$STATE_DIR/etag"
        fi
    else
        rm -f "$STATE_DIR/state.tmp.$$" "$STATE_DIR/etag"
        warn "cannot save $STATE_DIR/state"
    fi
fi

# ---------------------------------------------------------------- summary --

n_added=$(count_lines "$TMP/added")
n_updated=$(count_lines "$TMP/updated")
n_removed=$(count_lines "$TMP/removed")
n_kept=$(count_lines "$TMP/kept")
n_failed=$(count_lines "$TMP/failed")
n_skipped=$(count_lines "$TMP/skipped")
n_unsafe=$(count_lines "$TMP/unsafe")

# What the local policy refused goes to stderr, once per run.
if [ "$n_skipped" -gt 0 ]; then
    warn "skipped $n_skipped path(s) outside the local path policy: $(join_list "$TMP/skipped" 10) (see docs/hooks.md; TOOLKIT_SYNC_EXTRA_PATHS allows more, never configuration that runs code)"
fi
if [ "$n_unsafe" -gt 0 ]; then
    warn "refused to write $n_unsafe path(s) whose parent is a symlink or not a directory inside $TARGET_REAL: $(join_list "$TMP/unsafe" 10)"
fi

if [ "$DRY_RUN" = 1 ]; then
    head="Toolkit Sync (dry run, nothing written):"; would="would be "
else
    head="Toolkit Sync:"; would=
fi

if [ $((n_added + n_updated + n_removed + n_kept + n_failed)) -eq 0 ]; then
    if [ "$DRY_RUN" = 1 ]; then
        echo "Toolkit Sync (dry run): up to date, nothing would change."
    else
        echo "Toolkit Sync: up to date."
    fi
    exit 0
fi

# "3 files updated (a, b, c), 1 removed (d), ..." - the first part names the noun.
parts=
add_part() { # count label list-file max-names
    [ "$1" -gt 0 ] || return 0
    if [ -z "$parts" ]; then
        if [ "$1" -eq 1 ]; then _n="1 file"; else _n="$1 files"; fi
        parts="$_n $2 ($(join_list "$3" "$4"))"
    else
        parts="$parts, $1 $2 ($(join_list "$3" "$4"))"
    fi
}
add_part "$n_added" "${would}added" "$TMP/added" 10
add_part "$n_updated" "${would}updated" "$TMP/updated" 10
add_part "$n_removed" "${would}removed" "$TMP/removed" 10
add_part "$n_kept" "${would}kept with local changes" "$TMP/kept" 1000000
add_part "$n_failed" "could not be written" "$TMP/failed" 1000000

msg="$head $parts."
if [ "$n_kept" -gt 0 ]; then
    msg="$msg Files kept with local changes were edited here (or existed before the first sync) and differ from the shared version; the hook left them alone, so they may be out of date: compare them with the project in Toolkit Sync."
fi
if [ "$n_failed" -gt 0 ]; then
    msg="$msg Some files could not be written (permissions or a directory in the way); the next session will retry."
fi
printf '%s\n' "$msg"
exit 0
