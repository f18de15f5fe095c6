# SPDX-License-Identifier: LGPL-2.1-or-later
# lib.sh - the harness shared by the integration tests: each test script
# sources it and calls itest_begin, which re-executes the script inside a
# private mount namespace (so no mount ever leaks to the machine), builds a
# temporary world (catalog, storage host root, scratch root, mountpoints) in
# one mktemp -d directory and arranges for everything to be unmounted, killed
# and removed on exit, failure included.  Tests are named functions run by
# run_test; each prints "ok N name" or "not ok N name: expected X got Y", and
# itest_end prints "integration-NAME: P passed, F failed" and sets the exit
# status.  Operations that must be checked to the errno go through $FSOP
# (tests/integration/fsop.c), run as an unprivileged uid with setpriv.
#
# Environment (set by meson): VFOLDERFS (the daemon), VFOLDERFS_ADMIN (the
# admin tool), FSOP (the one-syscall helper).

set -u
set -o pipefail
export LC_ALL=C

ITEST_NAME=
ITEST_N=0
ITEST_PASS=0
ITEST_FAIL=0
ITEST_WHY=
ITEST_FAILED_NAMES=()
DAEMON_PID=
DAEMON_PIDS=()
ITEST_EXTRA_MOUNTS=()  # mounts outside $T to remove at exit, outermost first
T=
CAT=
STORE=
SCRATCH=
MNT=

# itest_begin NAME "$@": check the environment, enter a private mount
# namespace (re-executing the calling script), create the temporary world.
itest_begin() {
        ITEST_NAME=$1
        shift
        if [ ! -c /dev/fuse ]; then
                echo "integration-$ITEST_NAME: /dev/fuse is absent, skipping"
                exit 77
        fi
        local v
        for v in VFOLDERFS VFOLDERFS_ADMIN FSOP; do
                if [ -z "${!v:-}" ] || [ ! -x "${!v}" ]; then
                        echo "integration-$ITEST_NAME: \$$v is not set to an executable" >&2
                        exit 1
                fi
        done
        if [ -z "${ITEST_IN_NAMESPACE:-}" ]; then
                export ITEST_IN_NAMESPACE=1
                exec unshare -m --propagation private -- bash "$0" "$@"
        fi
        umask 022
        T=$(mktemp -d /tmp/vfolderfs-itest.XXXXXX) || exit 1
        chmod 755 "$T"
        trap itest_cleanup EXIT
        trap 'exit 130' INT TERM
        CAT=$T/catalog.db
        STORE=$T/storage
        SCRATCH=$T/scratch
        MNT=$T/mnt
        mkdir -p "$STORE" "$SCRATCH" "$MNT"
        chmod 755 "$STORE" "$MNT"
        chmod 700 "$SCRATCH" # as the daemon makes a scratch root
        must admin init
        must admin host add local "$STORE"
}

# Unmount everything under $T (deepest first), stop every daemon we started,
# remove the temporary world.  Runs on every exit.
itest_cleanup() {
        local rc=$? m pid i
        trap - EXIT
        for ((i = ${#ITEST_EXTRA_MOUNTS[@]} - 1; i >= 0; i--)); do
                while read -r m; do
                        umount -l "$m" 2>/dev/null
                done < <(awk -v t="${ITEST_EXTRA_MOUNTS[$i]}" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r)
        done
        if [ -n "$T" ] && [ -d "$T" ]; then
                for i in 1 2; do
                        while read -r m; do
                                umount -l "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null
                        done < <(awk -v t="$T" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r)
                done
        fi
        for pid in "${DAEMON_PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null
        done
        for pid in "${DAEMON_PIDS[@]}"; do
                for i in $(seq 20); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$pid" 2>/dev/null
        done
        if [ -n "$T" ] && [ -d "$T" ]; then
                rm -rf --one-file-system "$T"
        fi
        exit "$rc"
}

# admin ARGS...: the admin tool on the test catalog.
admin() {
        "$VFOLDERFS_ADMIN" --catalog "$CAT" "$@"
}

# must CMD...: a setup step that has to work; on failure the script stops
# with a "not ok" line naming the command and its error output.
must() {
        local out
        if ! out=$("$@" 2>&1); then
                bail "setup step '$*' failed: $out"
        fi
        [ -z "$out" ] || printf '%s\n' "$out" >>"$T/setup.log"
}

# bail WHY: stop the script as failed.
bail() {
        ITEST_N=$((ITEST_N + 1))
        ITEST_FAIL=$((ITEST_FAIL + 1))
        echo "not ok $ITEST_N setup: $*"
        itest_summary
        exit 1
}

# asuser UID CMD...: run CMD as uid and gid UID with no supplementary groups
# (and a PATH without root's private directories).
asuser() {
        local uid=$1
        shift
        setpriv --reuid="$uid" --regid="$uid" --clear-groups -- \
                env PATH=/usr/local/bin:/usr/bin:/bin "$@"
}

# op UID FSOP-ARGS...: one syscall as UID; prints "ok" or the errno name.
op() {
        local uid=$1
        shift
        if [ "$uid" = 0 ]; then
                "$FSOP" "$@" 2>&1
        else
                asuser "$uid" "$FSOP" "$@" 2>&1
        fi
}

# backing_of FOLDER: the folder's backing directory (`folder info` gives
# backing_path; else found from the UUID through the SPEC section 2 layout
# <root>/<scope>/<hex2>/<hex2>/<rest>).
backing_of() {
        local info path id hex
        info=$(admin --json folder info "$1") || return 1
        path=$(jq -r '.backing_path // empty' <<<"$info")
        if [ -z "$path" ]; then
                id=$(jq -r .id <<<"$info")
                hex=${id//-/}
                [ ${#hex} -eq 32 ] || return 1
                path=$(find "$STORE" -mindepth 4 -maxdepth 4 -type d \
                        -path "*/${hex:0:2}/${hex:2:2}/${hex:4}" | head -n 1)
        fi
        [ -n "$path" ] && [ -d "$path" ] || return 1
        echo "$path"
}

# daemon_start MOUNTPOINT SOURCE [EXTRA-OPTIONS]: start the daemon in the
# foreground (backgrounded here), wait until MOUNTPOINT is mounted.  Sets
# DAEMON_PID.  Returns 1 (with the log tail on stderr) when the daemon died
# or did not mount within 10 seconds.
daemon_start() {
        local mnt=$1 src=$2 extra=${3:-} i
        echo "=== $(date +%T) start $src at $mnt ${extra}" >>"$T/daemon.log"
        # A non-interactive bash starts background commands with SIGINT
        # ignored, and libfuse keeps an inherited SIG_IGN; a daemon started by
        # mount(8), systemd or a shell has the default disposition, so give it
        # that back (lifecycle.sh checks that SIGINT ends a session cleanly).
        env --default-signal=INT,QUIT "$VFOLDERFS" -f -o "allow_other,catalog=$CAT,scratch=$SCRATCH${extra:+,$extra}" \
                "$src" "$mnt" >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        DAEMON_PIDS+=("$DAEMON_PID")
        for i in $(seq 100); do
                if mountpoint -q "$mnt"; then
                        return 0
                fi
                if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
                        echo "daemon exited before mounting $mnt:" >&2
                        tail -n 5 "$T/daemon.log" >&2
                        return 1
                fi
                sleep 0.1
        done
        echo "daemon did not mount $mnt within 10 s" >&2
        return 1
}

# must_start MOUNTPOINT SOURCE [EXTRA]: daemon_start or bail.
must_start() {
        daemon_start "$@" 2>"$T/start.err" ||
                bail "cannot start the daemon: $(tr '\n' ' ' <"$T/start.err")"
}

# wait_exit PID [TENTHS]: wait until PID (a child of this shell) exits,
# default 5 s; sets WAIT_STATUS to its exit status, or "running" when it is
# still alive.  Must not run in a subshell (only the parent can reap).
wait_exit() {
        local pid=$1 n=${2:-50} i
        WAIT_STATUS=running
        for i in $(seq "$n"); do
                if ! kill -0 "$pid" 2>/dev/null; then
                        wait "$pid" 2>/dev/null
                        WAIT_STATUS=$?
                        return 0
                fi
                sleep 0.1
        done
}

# daemon_stop MOUNTPOINT PID: clean unmount with fusermount3 -u and wait.
daemon_stop() {
        fusermount3 -u "$1" 2>/dev/null || umount "$1" 2>/dev/null
        wait_exit "$2"
}

# session_of PID: the id of the live session whose daemon pid is PID.
session_of() {
        admin --json session list --all |
                jq -r --argjson pid "$1" '[.[] | select(.pid == $pid)][0].id // empty'
}

# ---- test bookkeeping -------------------------------------------------------

# assert_eq EXPECTED GOT [WHAT]
assert_eq() {
        if [ "$1" != "$2" ]; then
                ITEST_WHY="${3:+$3: }expected '$1' got '$2'"
                return 1
        fi
}

# assert WHAT CMD...: CMD must succeed.
assert() {
        local what=$1
        shift
        if ! "$@" >/dev/null 2>&1; then
                ITEST_WHY="expected $what"
                return 1
        fi
}

# refute WHAT CMD...: CMD must fail.
refute() {
        local what=$1
        shift
        if "$@" >/dev/null 2>&1; then
                ITEST_WHY="expected $what"
                return 1
        fi
}

# report NAME PASSED(0|1) WHY: record one result.
report() {
        ITEST_N=$((ITEST_N + 1))
        if [ "$2" = 0 ]; then
                ITEST_PASS=$((ITEST_PASS + 1))
                echo "ok $ITEST_N $1"
        else
                ITEST_FAIL=$((ITEST_FAIL + 1))
                ITEST_FAILED_NAMES+=("$1")
                echo "not ok $ITEST_N $1: ${3:-failed}"
        fi
}

# run_test FUNCTION [ARGS...]: run one test function in this shell.
run_test() {
        ITEST_WHY=
        if "$@"; then
                report "$1" 0
        else
                report "$1" 1 "${ITEST_WHY:-the test function failed}"
        fi
}

itest_summary() {
        if [ "$ITEST_FAIL" -gt 0 ] && [ -n "$T" ] && [ -s "$T/daemon.log" ]; then
                echo "--- last lines of the daemon log ---"
                tail -n 30 "$T/daemon.log"
        fi
        echo "integration-$ITEST_NAME: $ITEST_PASS passed, $ITEST_FAIL failed"
}

# itest_end: check the daemon's log for sanitizer reports (an ASan/UBSan
# build of the daemon writes them to stderr, which lands in daemon.log), print
# the summary line and exit 1 when anything failed.
itest_end() {
        local reports
        reports=$(grep -cE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/daemon.log" 2>/dev/null)
        if [ "${reports:-0}" -gt 0 ]; then
                report the_daemon_reports_no_sanitizer_errors 1 \
                        "expected no sanitizer report got $reports line(s): $(grep -m1 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$T/daemon.log")"
        else
                report the_daemon_reports_no_sanitizer_errors 0
        fi
        itest_summary
        [ "$ITEST_FAIL" -eq 0 ] || exit 1
        exit 0
}
