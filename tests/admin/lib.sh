# SPDX-License-Identifier: LGPL-2.1-or-later
# lib.sh - shared helpers for the command-level tests of vfolderfs-admin.
#
# A test script sources this file, defines its test cases as functions named
# like sentences of behaviour (`name() {` at the start of a line; helpers that
# are not cases start with an underscore) and ends with `run_tests NAME`.
# Each case runs in its own subshell (and process group, under a watchdog)
# with a fresh temporary directory $T holding the catalog $CAT, and an empty
# storage host root $ROOT (the same path in every case of a script, so that
# `fixture` can hand out copies of a prepared catalog); both are removed after
# the case and, by trap, when the script is interrupted.  An assertion that
# fails prints what was expected and what came, then ends the case.  The
# runner prints "ok N name" / "not ok N name" and a final line
# "admin-NAME: P passed, F failed", and exits 1 if anything failed.
#
# The binary under test is $VFOLDERFS_ADMIN (meson sets it), by default
# build/tools/vfolderfs-admin relative to the source tree.  Run one script by
# hand with `bash tests/admin/names.sh [REGEX]` to run only matching cases.

# shellcheck disable=SC2034 # constants are used by the sourcing scripts
set -u
export LC_ALL=C

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ADMIN=${VFOLDERFS_ADMIN:-$TESTS_DIR/../../build/tools/vfolderfs-admin}
# Longest a case may take before it counts as hung and is killed (a
# watchdog per case rather than `timeout` per command: each process costs).
CASE_TIMEOUT=${CASE_TIMEOUT:-60}
HOSTNAME_NOW=$(hostname)
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
ERR_RE="^vfolderfs-admin: .+: .+[^.]\$"

# Every JSON field SPEC section 6 names, sorted as `jq keys` sorts them, plus
# the extras the man page documents (lead's ruling, 19:15: user `id`, folder
# info `backing_path`) and nothing else.
FOLDER_KEYS='["cloneable","created_at","host","id","name","owner","owner_type","permission","quota_bytes","status","updated_at","usage_mode"]'
FOLDER_INFO_KEYS='["backing_path","cloneable","created_at","host","id","name","owner","owner_type","permission","quota_bytes","status","updated_at","usage_mode"]'
SESSION_KEYS='["ended_at","hostname","id","mountpoint","pid","started_at","user"]'
MOUNT_KEYS='["folder","name","permission","session","target"]'
FILE_KEYS='["mtime","name","size","type"]'
HOST_KEYS='["name","root"]'
USER_KEYS='["gid","id","name","uid"]'

# jq predicates: every field has a sensible JSON type (times may be strings
# or numbers; unset values are null).
_str='type == "string"'
_time='(type == "string" or type == "number")'
FOLDER_TYPES="all(.id, .name, .host, .owner_type, .owner, .usage_mode, .permission, .status; $_str)
        and (.cloneable | type == \"boolean\") and (.quota_bytes | . == null or type == \"number\")
        and all(.created_at, .updated_at; $_time)"
SESSION_TYPES="all(.id, .user; $_str) and all(.mountpoint, .hostname; . == null or $_str)
        and (.pid | . == null or type == \"number\") and (.started_at | $_time)
        and (.ended_at | . == null or $_time)"
MOUNT_TYPES="all(.session, .folder, .name, .target, .permission; $_str)"
FILE_TYPES="all(.name, .type; $_str) and (.size | type == \"number\") and (.mtime | $_time)"
HOST_TYPES="all(.name, .root; $_str)"
USER_TYPES="all(.id, .name; $_str) and all(.uid, .gid; type == \"number\")"

# ---------------------------------------------------------------------------
# Failing.

# fail WHAT [EXPECTED GOT]: report where the case failed and end it.  The
# report goes to stderr and a marker file, so that a failure inside a command
# substitution still fails the case (which is then stopped).
fail() {
        local i=1
        # Walk up to the first frame that is not in this file: the case line.
        while [[ ${BASH_SOURCE[$i]:-} == "${BASH_SOURCE[0]}" ]]; do
                i=$((i + 1))
        done
        {
        echo "# FAIL ${BASH_SOURCE[$i]##*/}:${BASH_LINENO[$((i - 1))]} in ${FUNCNAME[$i]:-?}${CASE_NAME:+ (case $CASE_NAME)}: $1"
        if [[ $# -ge 3 ]]; then
                echo "#   expected: $2"
                echo "#   got:      $3"
        fi
        if [[ -n ${LAST_CMD:-} ]]; then
                echo "#   last command: $LAST_CMD"
                echo "#   exit status: ${RC:-?}"
                echo "#   stdout: $(head -c 2000 "$T/.out" 2>/dev/null | sed '2,$s/^/#           /')"
                echo "#   stderr: $(head -c 2000 "$T/.err" 2>/dev/null | sed '2,$s/^/#           /')"
        fi
        } >&2
        touch "$T/.failed"
        if [[ $BASHPID != "${CASE_PID:-$BASHPID}" ]]; then
                kill -USR1 "$CASE_PID" 2>/dev/null
        fi
        exit 1
}

# ---------------------------------------------------------------------------
# Running the tool.  Every run leaves $RC, $OUT and $ERR (and $T/.out, $T/.err).

# adm ARGS...: run vfolderfs-admin on the case's catalog; never fails itself.
adm() {
        adm_raw --catalog "$CAT" "$@"
}

# adm_raw ARGS...: run vfolderfs-admin with exactly these arguments.
adm_raw() {
        local quoted
        printf -v quoted ' %q' "$@"
        LAST_CMD=vfolderfs-admin$quoted
        # For the runner, should this command hang until the watchdog fires.
        printf '%s\n' "$LAST_CMD" >"$T/.last"
        "$ADMIN" "$@" >"$T/.out" 2>"$T/.err" </dev/null
        RC=$?
        OUT=$(<"$T/.out")
        ERR=$(<"$T/.err")
        [[ $RC -lt 128 ]] || fail "command died of signal $((RC - 128))"
        return 0
}

# ok ARGS...: the command succeeds (exit 0).
ok() {
        adm "$@"
        [[ $RC -eq 0 ]] || fail "command failed" "exit 0" "exit $RC: $ERR"
}

# fails ARGS...: the command fails as SPEC says errors fail: exit 1, nothing
# on stdout, exactly one line on stderr "vfolderfs-admin: <what>: <why>"
# with no final period.
fails() {
        adm "$@"
        _check_error_shape
}

_check_error_shape() {
        [[ $RC -eq 1 ]] || fail "command did not fail with exit 1" "exit 1" "exit $RC"
        [[ -z $OUT ]] || fail "failing command wrote to stdout" "(nothing)" "$OUT"
        local newlines=${ERR//[!$'\n']/}
        local lines=$((${#newlines} + 1))
        [[ $lines -eq 1 ]] || fail "error is not one line" "1 line on stderr" "$lines lines: $ERR"
        [[ $ERR =~ $ERR_RE ]] || fail "error line has the wrong shape" "$ERR_RE" "$ERR"
}

# usage_fails ARGS...: a usage error: exit 2, the hint on stderr.
usage_fails() {
        adm "$@"
        _check_usage_shape
}

_check_usage_shape() {
        [[ $RC -eq 2 ]] || fail "usage error did not exit 2" "exit 2" "exit $RC"
        [[ $ERR == *"Try 'vfolderfs-admin --help'"* ]] ||
                fail "usage error lacks the hint" "Try 'vfolderfs-admin --help'" "$ERR"
        [[ $ERR == "vfolderfs-admin: "* ]] ||
                fail "usage error lacks the program prefix" "vfolderfs-admin: ..." "$ERR"
}

# refused ARGS...: an invalid option value, which a tool may fairly call
# either an error (exit 1) or a usage error (exit 2); either way in the
# documented shape.
refused() {
        adm "$@"
        if [[ $RC -eq 2 ]]; then
                _check_usage_shape
        else
                _check_error_shape
        fi
}

# ---------------------------------------------------------------------------
# Assertions.

assert_eq() { # EXPECTED GOT [WHAT]
        [[ $1 == "$2" ]] || fail "${3:-values differ}" "$1" "$2"
}

assert_match() { # REGEX STRING [WHAT]
        [[ $2 =~ $1 ]] || fail "${3:-no match}" "/$1/" "$2"
}

assert_contains() { # NEEDLE HAYSTACK [WHAT]
        [[ $2 == *"$1"* ]] || fail "${3:-text missing}" "text containing '$1'" "$2"
}

assert_not_contains() { # NEEDLE HAYSTACK [WHAT]
        [[ $2 != *"$1"* ]] || fail "${3:-text present}" "text without '$1'" "$2"
}

# assert_jq FILTER EXPECTED [WHAT]: jq -c FILTER applied to $OUT gives EXPECTED.
assert_jq() {
        local got
        got=$(jq -c "$1" <<<"$OUT" 2>&1) || fail "stdout is not the expected JSON (jq '$1')" "$2" "$got"
        [[ $got == "$2" ]] || fail "${3:-jq '$1'}" "$2" "$got"
}

# jqo FILTER: $JQ = jq -r FILTER on $OUT, failing the case if $OUT is not
# JSON.  (Helpers here set variables rather than print: every command
# substitution is a fork, and forks are what these tests spend time on.)
jqo() {
        JQ=$(jq -r "$1" <<<"$OUT" 2>&1) || fail "stdout is not JSON (jq '$1')" "JSON" "$OUT"
}

assert_file_content() { # PATH EXPECTED
        [[ -f $1 ]] || fail "file missing" "$1 exists" "no such file"
        assert_eq "$2" "$(cat "$1")" "content of $1"
}

assert_exists() { [[ -e $1 || -L $1 ]] || fail "path missing" "$1 exists" "missing"; }
assert_absent() { [[ ! -e $1 && ! -L $1 ]] || fail "path present" "$1 absent" "$(ls -ld "$1")"; }
assert_dir() { [[ -d $1 && ! -L $1 ]] || fail "not a directory" "$1 a directory" "$(ls -ld "$1" 2>&1)"; }

# ---------------------------------------------------------------------------
# Catalog snapshots: "bad input changes nothing".

# snapshot NAME: remember the catalog's logical content and the host tree.
snapshot() {
        sqlite3 "$CAT" .dump >"$T/.snap-$1.sql" 2>&1 || fail "sqlite3 cannot dump the catalog"
        find "$ROOT" -printf '%P\n' >"$T/.snap-$1.tree"
}

# fixture_snapshot NAME: snapshot NAME, right after `fixture` and nothing
# else: the fixture's snapshot, taken once.
fixture_snapshot() {
        cp "$FIXTURE_SNAP.sql" "$T/.snap-$1.sql"
        cp "$FIXTURE_SNAP.tree" "$T/.snap-$1.tree"
}

# assert_unchanged NAME: catalog and host tree are as snapshot NAME saw them.
assert_unchanged() {
        local was now
        now=$(sqlite3 "$CAT" .dump 2>&1)
        was=$(<"$T/.snap-$1.sql")
        if [[ $now != "$was" ]]; then
                fail "catalog changed" "no change" "$(diff <(echo "$was") <(echo "$now") | head -20 | tr '\n' '|')"
        fi
        now=$(find "$ROOT" -printf '%P\n')
        was=$(<"$T/.snap-$1.tree")
        if [[ $now != "$was" ]]; then
                fail "storage host tree changed" "no change" "$(diff <(echo "$was") <(echo "$now") | head -20 | tr '\n' '|')"
        fi
}

# sql QUERY: run a query on the catalog (test setup and inspection only).
sql() {
        sqlite3 -cmd ".timeout 5000" "$CAT" "$1" || fail "sqlite3 failed: $1"
}

# ---------------------------------------------------------------------------
# Fixtures.

# setup_catalog: an initialised catalog with host "local" at $ROOT.
setup_catalog() {
        ok init
        ok host add local "$ROOT"
}

# add_users NAME...: add users with default ids.
add_users() {
        local u
        for u in "$@"; do
                ok user add "$u"
        done
}

# mkfolder ARGS...: folder create ARGS; $FID is the new folder's id.
mkfolder() {
        ok --json folder create "$@"
        # Not jq: this runs in most cases and jq costs a process start.
        [[ $OUT =~ \"id\":\ *\"([0-9a-f-]{36})\" ]] ||
                fail "folder create --json printed no id" "an object with a UUID id" "$OUT"
        FID=${BASH_REMATCH[1]}
}

user_id() { sql "SELECT id FROM users WHERE name = '$1'"; }
project_id() { sql "SELECT id FROM projects WHERE name = '$1'"; }

# backing_dir FOLDER_ID: $BACKING is where SPEC section 2 says the folder's
# data lives.
backing_dir() {
        local row scope owner hex
        row=$(sql "SELECT owner_type || '|' || owner_id FROM folders WHERE id = '$1'")
        [[ -n $row ]] || fail "no catalog row for folder $1"
        scope=${row%%|*}
        owner=${row#*|}
        hex=${1//-/}
        BACKING=$ROOT/$scope-$owner/${hex:0:2}/${hex:2:2}/${hex:4}
}

# dead_pid: the pid of a process that has exited.
dead_pid() {
        local p
        sleep 0 &
        p=$!
        wait "$p"
        printf '%s\n' "$p"
}

# start_session ID [PID [HOST]]: make a created session look started by a
# daemon (pid, hostname, mountpoint, scratch, mounted_at), as the daemon's
# cat_session_start() would; the daemon itself is not needed here.  PID
# defaults to this shell (alive), HOST to this host.  Creates the scratch
# directory $T/scratch/ID with a file in it.
start_session() {
        local id=$1 pid=${2:-$$} host=${3:-$HOSTNAME_NOW}
        mkdir -p "$T/scratch/$id"
        chmod 700 "$T/scratch" # as the daemon makes the scratch root
        echo scratch >"$T/scratch/$id/file"
        sql "UPDATE sessions SET pid = $pid, hostname = '$host', mountpoint = '$T/mnt',
               scratch = '$T/scratch/$id' WHERE id = '$id';
             UPDATE mounts SET mounted_at = strftime('%s', 'now') WHERE session_id = '$id'"
}

# fixture KEY FUNCTION [VAR...]: run the setup FUNCTION in the first case
# that asks for KEY and keep its catalog, host tree and the named variables;
# later cases get copies instead of running the same commands again (the
# commands themselves are tested where they are the subject).  The host root
# has the same path in every case of a script, so the copies stay valid.
fixture() {
        local key=$1 fn=$2 dir=$BASE/fixtures/$1
        shift 2
        if [[ -d $dir ]]; then
                cp "$dir/cat.db" "$CAT"
                cp -a "$dir/root/." "$ROOT/"
                # shellcheck disable=SC1091
                source "$dir/vars"
                FIXTURE_SNAP=$dir/snap
                return
        fi
        FIXTURE_SNAP=$dir/snap
        "$fn"
        sql "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
        mkdir -p "$dir.tmp"
        cp "$CAT" "$dir.tmp/cat.db"
        cp -a "$ROOT" "$dir.tmp/root"
        sqlite3 "$CAT" .dump >"$dir.tmp/snap.sql"
        find "$ROOT" -printf '%P\n' >"$dir.tmp/snap.tree"
        if [[ $# -gt 0 ]]; then
                declare -p "$@" | sed 's/^declare -[-a-zA-Z]* /declare -g /' >"$dir.tmp/vars"
        else
                : >"$dir.tmp/vars"
        fi
        mv "$dir.tmp" "$dir"
}

# ---------------------------------------------------------------------------
# Runner.

run_tests() {
        local suite=$1 filter=${2:-}
        local cases=() c n=0 passed=0 failed=0 rc line cpid wpid
        command -v jq >/dev/null || { echo "admin-$suite: jq is required" >&2; exit 1; }
        if [[ ! -x $ADMIN ]]; then
                echo "admin-$suite: no executable at '$ADMIN' (set VFOLDERFS_ADMIN)" >&2
                exit 1
        fi
        ADMIN=$(readlink -f "$ADMIN")
        while read -r c; do
                [[ -z $filter || $c =~ $filter ]] && cases+=("$c")
        done < <(grep -oE '^[a-z][a-z0-9_]*\(\) *\{' "$0" | sed 's/(.*//')

        # tmpfs when there is one: catalog commits fsync, and the machine's
        # disk is shared with benchmarks.
        local tmp=${TMPDIR:-/dev/shm} avail
        avail=$(df --output=avail -k "$tmp" 2>/dev/null | tail -1)
        [[ -d $tmp && -w $tmp && ${avail:-0} -gt 262144 ]] || tmp=/tmp
        BASE=$(mktemp -d "$tmp/admin-$suite.XXXXXX")
        trap 'rm -rf "$BASE"' EXIT
        # Cases run in their own process groups: take them along.
        trap 'kill -KILL -- "-${CASE_GROUP:-0}" "-${WATCH_GROUP:-0}" 2>/dev/null; exit 130' INT TERM
        echo "1..${#cases[@]}"
        for c in "${cases[@]}"; do
                n=$((n + 1))
                T=$BASE/case.$n
                mkdir "$T" "$BASE/root"
                # Job control puts the case in its own process group, which
                # the watchdog kills whole if the case outlives CASE_TIMEOUT.
                set -m
                (
                        CAT=$T/cat.db
                        ROOT=$BASE/root
                        cd "$T" || exit 1
                        CASE_PID=$BASHPID
                        CASE_NAME=$c
                        trap 'exit 1' USR1
                        "$c"
                ) >"$T.log" 2>&1 </dev/null &
                cpid=$!
                CASE_GROUP=$cpid
                (sleep "$CASE_TIMEOUT" && kill -KILL -- "-$cpid") >/dev/null 2>&1 </dev/null &
                wpid=$!
                WATCH_GROUP=$wpid
                set +m
                { wait "$cpid"; } 2>/dev/null # no "Killed" job notice
                rc=$?
                kill -KILL -- "-$wpid" 2>/dev/null
                wait "$wpid" 2>/dev/null
                if [[ $rc -eq 137 ]]; then
                        echo "# FAIL case killed after ${CASE_TIMEOUT}s; last command: $(cat "$T/.last" 2>/dev/null)" >>"$T.log"
                fi
                if [[ $rc -eq 0 && ! -e $T/.failed ]]; then
                        echo "ok $n $c"
                        # A passing case may leave notes ("# ...") worth seeing.
                        while IFS= read -r line; do
                                [[ $line != "# "* ]] || echo "    $line"
                        done <"$T.log"
                        passed=$((passed + 1))
                else
                        echo "not ok $n $c"
                        sed 's/^/    /' "$T.log"
                        failed=$((failed + 1))
                fi
                rm -rf "$T" "$T.log" "$BASE/root"
        done
        echo "admin-$suite: $passed passed, $failed failed"
        [[ $failed -eq 0 ]]
}
