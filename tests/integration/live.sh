#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# live.sh - SPEC section 5: changes made with vfolderfs-admin while a session
# runs (share, unshare, permission change, rename, trash) reach the running
# daemon within one second, without a remount; SPEC section 2: a folder
# mounted in a live session cannot be trashed unless forced, and forced it
# disappears at once (ENOENT for new lookups, EIO or ESTALE for open handles).
#
# "Within one second" is checked by polling every 0.1 s for at most 1.5 s:
# the half second is scheduling slack on a loaded 2-core CI machine, not a
# second cache period.  The latency observed is printed as a "#" line.
#
# Also: a write through a file handle opened before a downgrade is refused;
# a restored folder comes back; a session started from session:ID keeps its
# requested set (a new share does not appear in it) but gets downgrades,
# revocations and renames (a folder at its default target follows the new
# name, one at an alias stays at the alias); the daemon uses no CPU while
# nothing changes; a catalog written without a pause neither holds changes
# back nor keeps the daemon from ending.
#
# LIVE_TRIALS=N (default 0) adds a measurement: N rounds of each change kind
# timed with 10 ms polling, printed as "# delay KIND: median M ms, worst W
# ms, N trials" lines (not a pass/fail check beyond the 1 s bound).

. "$(dirname "$0")/lib.sh"
itest_begin live "$@"

U=1000
DEADLINE_TENTHS=15
must admin user add alice --uid $U --gid $U
must admin user add bob --uid 1001 --gid 1001
must admin folder create keep --user alice
must admin folder create flip --user alice
must admin folder create doomed --user alice
must admin folder create held --user alice
must admin folder create bobdata --user bob
printf 'bob-file\n' >"$(backing_of bobdata)/bfile"
printf 'held-content\n' >"$(backing_of held)/hfile"
chmod 644 "$(backing_of bobdata)/bfile" "$(backing_of held)/hfile"

must_start "$MNT" alice
MAIN_PID=$DAEMON_PID

# within WHAT CMD...: poll CMD until it succeeds, at most DEADLINE_TENTHS.
within() {
        local what=$1 i
        shift
        for i in $(seq 0 "$DEADLINE_TENTHS"); do
                if "$@" >/dev/null 2>&1; then
                        echo "# $what after ~$((i / 10)).$((i % 10)) s"
                        return 0
                fi
                sleep 0.1
        done
        ITEST_WHY="expected $what within $((DEADLINE_TENTHS / 10)).$((DEADLINE_TENTHS % 10)) s, still not after that"
        return 1
}

is() { [ "$(op $U "$2" "$3" ${4:+"$4"})" = "$1" ]; }
# reads_as CONTENT PATH: PATH read by the session user gives CONTENT (a
# function, so that `within` runs the read again at every try).
reads_as() { [ "$(asuser $U cat "$2" 2>/dev/null)" = "$1" ]; }
# create_gives ERRNO DIR: creating a new name in DIR gives ERRNO (or ok).
# A fresh name each time: a probe that succeeded before the change arrived
# must not make the next one fail with EEXIST.
create_gives() { [ "$(op $U create "$2/probe.${EPOCHREALTIME/./}" 644)" = "$1" ]; }

a_share_appears_in_a_running_session() {
        assert_eq ENOENT "$(op $U stat "$MNT/bobdata")" "bobdata before the share" || return 1
        admin folder share bobdata alice --permission ro >/dev/null 2>&1 || { ITEST_WHY="share failed"; return 1; }
        within "bobdata appeared" reads_as bob-file "$MNT/bobdata/bfile" &&
        assert_eq EROFS "$(op $U create "$MNT/bobdata/new" 644)" "create in the ro share"
}

an_unshare_removes_the_folder_from_a_running_session() {
        assert_eq ok "$(op $U stat "$MNT/bobdata")" "bobdata visible before the unshare" || return 1
        admin folder unshare bobdata alice >/dev/null 2>&1 || { ITEST_WHY="unshare failed"; return 1; }
        within "bobdata disappeared" is ENOENT stat "$MNT/bobdata"
}

a_permission_change_reaches_a_running_session() {
        assert_eq ok "$(op $U create "$MNT/flip/before" 644)" "create while wd" || return 1
        admin folder set flip --permission ro >/dev/null 2>&1 || { ITEST_WHY="folder set failed"; return 1; }
        within "flip became ro" create_gives EROFS "$MNT/flip" || return 1
        admin folder set flip --permission wd >/dev/null 2>&1 || { ITEST_WHY="folder set failed"; return 1; }
        within "flip became wd again" create_gives ok "$MNT/flip"
}

a_rename_reaches_a_running_session() {
        printf 'kept\n' >"$(backing_of keep)/kfile"
        admin folder rename keep kept >/dev/null 2>&1 || { ITEST_WHY="rename failed"; return 1; }
        within "keep renamed to kept" reads_as kept "$MNT/kept/kfile" &&
        assert_eq ENOENT "$(op $U stat "$MNT/keep")" "the old name"
}

trashing_a_mounted_folder_needs_force() {
        refute "folder delete without --force to fail" admin folder delete doomed &&
        assert_eq ready "$(admin --json folder info doomed | jq -r .status)" "status of doomed"
}

a_forced_trash_removes_the_folder_at_once() {
        admin folder delete doomed --force >/dev/null 2>&1 || { ITEST_WHY="forced delete failed"; return 1; }
        within "doomed disappeared" is ENOENT stat "$MNT/doomed" &&
        refute "doomed in the listing" grep -qx doomed < <(asuser $U ls -A "$MNT")
}

an_open_handle_of_a_force_trashed_folder_fails_with_eio_or_estale() {
        # The user holds a file open, the operator force-trashes the folder,
        # then the user reads through the handle.
        local got
        asuser $U /usr/bin/python3 -c '
import errno, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
time.sleep(1.2)
try:
    os.pread(fd, 100, 0)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$MNT/held/hfile" "$MNT/opened" "$T/go" >"$T/held.out" 2>&1 &
        local reader=$! i
        for i in $(seq 50); do
                [ -e "$MNT/opened" ] && break
                sleep 0.1
        done
        admin folder delete held --force >/dev/null 2>&1 || { ITEST_WHY="forced delete failed"; return 1; }
        touch "$T/go"
        wait "$reader"
        got=$(cat "$T/held.out")
        case $got in
        EIO | ESTALE) return 0 ;;
        *) ITEST_WHY="expected EIO or ESTALE got $got"; return 1 ;;
        esac
}

a_write_through_a_handle_opened_before_a_downgrade_is_refused() {
        local got
        asuser $U /usr/bin/python3 -c '
import errno, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"before\n")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)
for i in range(150):
    try:
        os.write(fd, b"after\n")
    except OSError as e:
        print(errno.errorcode[e.errno], i)
        break
    time.sleep(0.01)
else:
    print("never refused")' "$MNT/flip/handle" "$MNT/h-opened" "$T/h-go" >"$T/handle.out" 2>&1 &
        local writer=$! i
        for i in $(seq 50); do
                [ -e "$MNT/h-opened" ] && break
                sleep 0.1
        done
        admin folder set flip --permission ro >/dev/null 2>&1 || { ITEST_WHY="folder set failed"; return 1; }
        touch "$T/h-go"
        wait "$writer"
        got=$(cat "$T/handle.out")
        admin folder set flip --permission wd >/dev/null 2>&1
        case $got in
        "EROFS "*) echo "# refused after ${got#EROFS } writes of 10 ms" ;;
        *) ITEST_WHY="expected EROFS through the old handle got $got"; return 1 ;;
        esac
}

a_restored_folder_comes_back() {
        must admin folder create phoenix --user alice
        printf 'risen\n' >"$(backing_of phoenix)/p"
        chmod 644 "$(backing_of phoenix)/p"
        within "phoenix appeared" is ok stat "$MNT/phoenix" || return 1
        admin folder delete phoenix --force >/dev/null 2>&1 || { ITEST_WHY="delete failed"; return 1; }
        within "phoenix went" is ENOENT stat "$MNT/phoenix" || return 1
        admin folder restore phoenix >/dev/null 2>&1 || { ITEST_WHY="restore failed"; return 1; }
        within "phoenix came back" reads_as risen "$MNT/phoenix/p"
}

the_daemon_is_idle_when_nothing_changes() {
        # utime + stime of the daemon over 3 s of no activity, in clock ticks
        local a b
        sleep 0.5
        a=$(awk '{ print $14 + $15 }' "/proc/$MAIN_PID/stat") &&
        sleep 3 &&
        b=$(awk '{ print $14 + $15 }' "/proc/$MAIN_PID/stat") || { ITEST_WHY="cannot read the daemon's CPU time"; return 1; }
        echo "# daemon CPU over 3 s idle: $((b - a)) ticks"
        [ $((b - a)) -le 1 ] || { ITEST_WHY="expected at most 1 tick of CPU in 3 idle seconds got $((b - a))"; return 1; }
}

# A catalog that is never quiet (other daemons and admin commands writing
# without a pause), played by a file in its directory rewritten every 5 ms:
# a change still reaches a session within the second, and its daemon still
# ends at once when unmounted.
changes_arrive_and_the_daemon_stops_while_the_catalog_is_never_quiet() {
        local pid noise ok=0
        mkdir -p "$T/mnt-busy"
        daemon_start "$T/mnt-busy" alice 2>"$T/start.err" ||
                { ITEST_WHY="cannot start a second session: $(cat "$T/start.err")"; return 1; }
        pid=$DAEMON_PID
        (while :; do echo x >"$T/noise"; sleep 0.005; done) &
        noise=$!
        if admin folder create busy --user alice >/dev/null 2>&1; then
                within "busy appeared while the catalog was never quiet" \
                        is ok stat "$T/mnt-busy/busy" || ok=1
        else
                ITEST_WHY="folder create failed"
                ok=1
        fi
        daemon_stop "$T/mnt-busy" "$pid"
        kill "$noise"
        wait "$noise" 2>/dev/null
        [ $ok = 0 ] &&
        assert_eq 0 "$WAIT_STATUS" "exit status of the daemon unmounted while the catalog was never quiet"
}

# A session started from session:ID with explicit requests, on a second
# mountpoint.
S2=$T/mnt-s
a_requested_session_keeps_its_set_but_follows_changes() {
        must admin folder create req1 --user alice
        must admin folder create req2 --user alice
        must admin folder create later --user bob
        local id
        id=$(admin session create --user alice --mount req1 --mount req2:models/r2) || { ITEST_WHY="session create failed"; return 1; }
        mkdir -p "$S2"
        daemon_start "$S2" "session:$id" 2>"$T/start.err" || { ITEST_WHY="cannot start session:$id: $(cat "$T/start.err")"; return 1; }
        local pid=$DAEMON_PID
        assert_eq ok "$(op $U stat "$S2/req1")" "req1 in the requested session" &&
        assert_eq ok "$(op $U stat "$S2/models/r2")" "req2 at its alias" &&
        assert_eq ENOENT "$(op $U stat "$S2/keep")" "an unrequested folder" || return 1
        admin folder share later alice --permission rw >/dev/null 2>&1 || { ITEST_WHY="share failed"; return 1; }
        within "later in the user session" is ok stat "$MNT/later" || return 1
        assert_eq ENOENT "$(op $U stat "$S2/later")" "a new share in the requested session" || return 1
        admin folder set req1 --permission ro >/dev/null 2>&1 || { ITEST_WHY="folder set failed"; return 1; }
        within "req1 became ro" create_gives EROFS "$S2/req1" || return 1
        admin folder rename req1 req1b >/dev/null 2>&1 || { ITEST_WHY="rename failed"; return 1; }
        within "req1 (default target) followed its rename" is ok stat "$S2/req1b" || return 1
        assert_eq ENOENT "$(op $U stat "$S2/req1")" "the old name" || return 1
        admin folder rename req2 req2b >/dev/null 2>&1 || { ITEST_WHY="rename failed"; return 1; }
        sleep 1.2
        assert_eq ok "$(op $U stat "$S2/models/r2")" "req2 still at its alias after a rename" &&
        assert_eq ENOENT "$(op $U stat "$S2/req2b")" "req2's new name" || return 1
        admin folder share later alice --permission ro >/dev/null 2>&1
        admin folder unshare later alice >/dev/null 2>&1 || { ITEST_WHY="unshare failed"; return 1; }
        within "later went from the user session" is ENOENT stat "$MNT/later" || return 1
        assert_eq "$(admin --json mount list --session "$id" | jq -r 'map(.name) | sort | join(",")')" \
                "req1b,req2b" "mounts recorded for the requested session" || return 1
        daemon_stop "$S2" "$pid"
}

# The kernel keeps a looked-up entry for 1 s (entry_timeout); the daemon
# invalidates it when the folder goes, so the folder is gone well before
# that second ends.  The grant is removed with one SQL statement (the same
# catalog change `folder unshare` commits, in ~10 ms instead of an admin
# command's start-up, which under ASan on a loaded machine can eat the
# second); an attempt where even that takes more than 0.35 s proves
# nothing either way and is repeated (at most 5 times).
the_kernel_cache_is_invalidated_at_once() {
        local i t0 t1 conclusive=0
        must admin folder create cached --user bob
        for i in 1 2 3 4 5; do
                admin folder share cached alice --permission ro >/dev/null 2>&1 || { ITEST_WHY="share failed"; return 1; }
                within "cached appeared" is ok stat "$MNT/cached" >/dev/null || return 1
                sleep 1.1          # let every cached entry expire
                t0=$EPOCHREALTIME
                [ -e "$MNT/cached" ] || { ITEST_WHY="cached vanished by itself"; return 1; }
                sqlite3 "$CAT" "PRAGMA busy_timeout = 30000; DELETE FROM grants WHERE folder_id = (SELECT id FROM folders WHERE name = 'cached');" >/dev/null ||
                        { ITEST_WHY="removing the grant failed"; return 1; }
                t1=$EPOCHREALTIME
                if awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a > 0.35) }'; then
                        continue
                fi
                sleep "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", 0.8 - (b - a) }')"
                if [ -e "$MNT/cached" ]; then
                        ITEST_WHY="expected the unshared folder gone 0.8 s after its lookup (the kernel's entry was not invalidated)"
                        return 1
                fi
                conclusive=$((conclusive + 1))
                break
        done
        [ "$conclusive" -gt 0 ] || { ITEST_WHY="every change took more than 0.35 s to commit: nothing measured"; return 1; }
}

# delay_ms CMD...: milliseconds until CMD succeeds (CMD is a shell builtin
# check run as root, so a probe costs no fork; 5 ms polling, 2 s cap).
delay_ms() {
        local start=$EPOCHREALTIME i
        for i in $(seq 400); do
                if "$@" 2>/dev/null; then
                        echo "$start $EPOCHREALTIME" | awk '{ printf "%d\n", ($2 - $1) * 1000 }'
                        return 0
                fi
                sleep 0.005
        done
        echo 9999
}
exists() { [ -e "$1" ]; }
absent() { [ ! -e "$1" ]; }
refuses_create() { ! { : >"$1"; } 2>/dev/null; }

stats() {
        sort -n | awk -v k="$1" '{ v[NR] = $1 } END { printf "# delay %s: median %d ms, worst %d ms, %d trials\n", k, v[int((NR + 1) / 2)], v[NR], NR }'
}

measure_propagation_delays() {
        local n=${LIVE_TRIALS:-0} i
        [ "$n" -gt 0 ] || return 0
        must admin folder create meas --user bob
        must admin folder create mperm --user alice
        must admin folder create mname --user alice
        must admin folder create mtrash --user alice
        : >"$T/d.share"; : >"$T/d.unshare"; : >"$T/d.perm"; : >"$T/d.rename"; : >"$T/d.trash"; : >"$T/d.restore"
        local cur=mname
        for i in $(seq "$n"); do
                admin folder share meas alice --permission ro >/dev/null
                delay_ms exists "$MNT/meas" >>"$T/d.share"
                admin folder unshare meas alice >/dev/null
                delay_ms absent "$MNT/meas" >>"$T/d.unshare"
                admin folder set mperm --permission ro >/dev/null
                delay_ms refuses_create "$MNT/mperm/f$i" >>"$T/d.perm"
                admin folder set mperm --permission wd >/dev/null
                admin folder rename "$cur" "mname$i" >/dev/null
                cur=mname$i
                delay_ms exists "$MNT/$cur" >>"$T/d.rename"
                admin folder delete mtrash --force >/dev/null
                delay_ms absent "$MNT/mtrash" >>"$T/d.trash"
                admin folder restore mtrash >/dev/null
                delay_ms exists "$MNT/mtrash" >>"$T/d.restore"
        done
        local k worst=0 w
        for k in share unshare perm rename trash restore; do
                stats "$k" <"$T/d.$k"
                w=$(sort -n "$T/d.$k" | tail -n 1)
                [ "$w" -gt "$worst" ] && worst=$w
        done
        [ "$worst" -le 1000 ] || { ITEST_WHY="expected every delay within 1000 ms, worst $worst"; return 1; }
}

run_test a_share_appears_in_a_running_session
run_test an_unshare_removes_the_folder_from_a_running_session
run_test a_permission_change_reaches_a_running_session
run_test a_rename_reaches_a_running_session
run_test trashing_a_mounted_folder_needs_force
run_test a_forced_trash_removes_the_folder_at_once
run_test an_open_handle_of_a_force_trashed_folder_fails_with_eio_or_estale
run_test a_write_through_a_handle_opened_before_a_downgrade_is_refused
run_test a_restored_folder_comes_back
run_test the_kernel_cache_is_invalidated_at_once
run_test a_requested_session_keeps_its_set_but_follows_changes
run_test the_daemon_is_idle_when_nothing_changes
run_test changes_arrive_and_the_daemon_stops_while_the_catalog_is_never_quiet
run_test measure_propagation_delays
daemon_stop "$MNT" "$MAIN_PID"

itest_end
