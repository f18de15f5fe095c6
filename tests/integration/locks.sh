#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# locks.sh - file locks are shared between sessions and with the storage
# host (issue 15, item 1; vfolderfs/locks.h): two sessions on one folder and
# the storage host (a process on the backing file) see one set of locks.
#   - the lock matrix: for POSIX write/write, read/read, read/write, byte
#     ranges, flock exclusive/exclusive and shared/shared/exclusive, each of
#     the three parties holds and each of the other two asks (printed as
#     "# KIND: HOLDER holds ..., ASKER asks ... -> RESULT" lines);
#   - POSIX semantics: a process's locks go when it closes any descriptor of
#     the file and when it dies (kill -9); one process's locks convert and
#     split as one owner's; an OFD lock taken in the session survives the
#     close of another descriptor and goes with its own open file; F_GETLK
#     names the conflicting lock (pid 0 for another session's, the pid of a
#     process on the storage host);
#   - waiting: F_SETLKW and a blocking flock wait until the holder (another
#     session or the host) releases, then get the lock; a signal without
#     SA_RESTART ends the wait with EINTR, one with SA_RESTART does not; a
#     waiter killed with SIGKILL dies at once; afterwards the daemon has no
#     waiter thread and no extra descriptor left; past the cap on waits
#     (lowered for the test) a wait fails with ENOLCK;
#   - a daemon stopped (SIGTERM) while a process waits ends the wait with
#     ENOLCK and exits; a daemon killed with SIGKILL leaves no lock behind;
#   - once a lock is granted in a session, it reads what the previous
#     holder (on the storage host) wrote and does not find the file it
#     removed: the kernel's cached data and names are brought up to date
#     before the lock is (vfolderfs/watch.h watch_sync());
#   - locks in scratch, in a read-only folder (read lock yes, write lock
#     EBADF as the kernel says), and EIO in a folder that went away;
#   - SQLite in rollback-journal mode: one writer process in each session,
#     WRITES (default 2000) transactions each, every tenth held open for
#     20 ms (so that the other session looks up the journal while it
#     exists), ends with integrity_check ok and every row.
# On a daemon without lock operations the kernel keeps locks per mount:
# every cross-session and host case fails there.

. "$(dirname "$0")/lib.sh"
itest_begin locks "$@"

LOCKOP=${LOCKOP:-$(dirname "$FSOP")/lockop}
[ -x "$LOCKOP" ] || bail "no lock helper at '$LOCKOP' (set LOCKOP)"
WRITES=${WRITES:-2000}

U=1000
must admin user add alice --uid $U --gid $U
must admin user add bob --uid 1001 --gid 1001
must admin folder create shared --user alice
must admin folder create bobro --user bob
must admin folder share bobro alice --permission ro
must admin folder create doomed --user alice
B=$(backing_of shared) || bail "no backing directory for folder shared"
BRO=$(backing_of bobro) || bail "no backing directory for folder bobro"
MNT2=$T/mnt2
MNT3=$T/mnt3
mkdir -p "$MNT2" "$MNT3"
must_start "$MNT" alice
PID1=$DAEMON_PID
must_start "$MNT2" alice
PID2=$DAEMON_PID

BG_PIDS=()
locks_cleanup() {
        local rc=$?
        [ ${#BG_PIDS[@]} -eq 0 ] || kill -KILL "${BG_PIDS[@]}" 2>/dev/null
        (exit $rc)
        itest_cleanup
}
trap locks_cleanup EXIT

# path_of WHO NAME: NAME in folder shared as WHO (s1, s2: the sessions;
# host: the backing directory) sees it.
path_of() {
        case $1 in
        s1) echo "$MNT/shared/$2" ;;
        s2) echo "$MNT2/shared/$2" ;;
        host) echo "$B/$2" ;;
        esac
}

# newfile NAME: a 4 KiB file of the session user in folder shared.
newfile() {
        head -c 4096 /dev/zero >"$B/$1"
        chown $U:$U "$B/$1"
}

# lk WHO NAME STEP...: lockop as WHO (the session user in a session, root on
# the host) on NAME, 10 s at most; prints its output.
lk() {
        local who=$1 path=$2
        shift 2
        [ "${path:0:1}" = / ] || path=$(path_of "$who" "$path")
        if [ "$who" = host ]; then
                timeout 10 "$LOCKOP" "$path" "$@" 2>&1
        else
                asuser $U timeout 10 "$LOCKOP" "$path" "$@" 2>&1
        fi
}

# bg WHO NAME STEP...: lk in the background; sets BG_PID and BG_OUT.
BG_N=0
bg() {
        local who=$1 path=$2
        shift 2
        [ "${path:0:1}" = / ] || path=$(path_of "$who" "$path")
        BG_N=$((BG_N + 1))
        BG_OUT=$T/bg.$BG_N
        # Simple commands, not functions: $! is then lockop itself (setpriv
        # and env exec), which the tests signal.
        if [ "$who" = host ]; then
                "$LOCKOP" "$path" "$@" >"$BG_OUT" 2>&1 &
        else
                setpriv --reuid=$U --regid=$U --clear-groups -- \
                        env PATH=/usr/local/bin:/usr/bin:/bin \
                        "$LOCKOP" "$path" "$@" >"$BG_OUT" 2>&1 &
        fi
        BG_PID=$!
        BG_PIDS+=("$BG_PID")
}

# lines_of FILE N [TENTHS]: wait until FILE has N lines (default 10 s);
# fails when it has not.
lines_of() {
        local i
        for i in $(seq "${3:-100}"); do
                [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
                sleep 0.1
        done
        return 1
}

# line_of FILE N: line N of FILE.
line_of() {
        sed -n "${2}p" "$1"
}

# stop PID: kill PID (SIGKILL) and reap it.
stop() {
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        return 0
}

# holding WHO NAME STEP...: bg WHO NAME STEP... hold, and wait until every
# step printed "ok"; fails (ITEST_WHY set, holder stopped) otherwise.
holding() {
        local n=$(($# - 2))
        bg "$@" hold
        if ! lines_of "$BG_OUT" $((n + 1)) ||
           [ "$(grep -c '^ok$' "$BG_OUT")" != "$n" ]; then
                ITEST_WHY="$1 could not lock ($*): $(tr '\n' ' ' <"$BG_OUT")"
                stop "$BG_PID"
                return 1
        fi
}

# matrix KIND HOLD ASK WANT: each of s1, s2 and host holds a lock (step
# HOLD) on one file while each of the two others asks (step ASK); every
# answer must be WANT.
matrix() {
        local kind=$1 hold=$2 ask=$3 want=$4 h a got bad=0 why=
        newfile m
        for h in s1 s2 host; do
                holding $h m "$hold" || return 1
                for a in s1 s2 host; do
                        [ $a = $h ] && continue
                        got=$(lk $a m "$ask")
                        echo "# $kind: $h holds $hold, $a asks $ask -> $got"
                        if [ "$got" != "$want" ]; then
                                bad=1
                                why="${why:+$why; }$h holds $hold, $a asks $ask: expected $want got $got"
                        fi
                done
                stop "$BG_PID"
        done
        ITEST_WHY=$why
        return $bad
}

posix_write_locks_exclude_each_other_across_sessions_and_the_host() {
        matrix posix set:w:0:0 set:w:0:0 EAGAIN
}

posix_read_locks_are_shared_across_sessions_and_the_host() {
        matrix posix set:r:0:0 set:r:0:0 ok
}

a_posix_write_lock_excludes_read_locks_and_a_read_lock_write_locks() {
        matrix posix set:w:0:0 set:r:0:0 EAGAIN &&
        matrix posix set:r:0:0 set:w:0:0 EAGAIN
}

posix_locks_cover_only_their_byte_range() {
        matrix range set:w:0:100 set:w:100:100 ok &&
        matrix range set:w:0:100 set:w:50:100 EAGAIN &&
        matrix range set:w:0:100 set:r:99:1 EAGAIN
}

flock_exclusive_locks_exclude_each_other_across_sessions_and_the_host() {
        matrix flock flock:ex flock:ex EAGAIN
}

flock_shared_locks_are_shared_and_exclude_exclusive_ones() {
        matrix flock flock:sh flock:sh ok &&
        matrix flock flock:sh flock:ex EAGAIN
}

# the holder: lock, open a second descriptor, wait, close it, wait
a_process_loses_its_locks_when_it_closes_any_descriptor_of_the_file() {
        local before after
        newfile c
        bg s1 c set:w:0:0 open2 waitfile:$T/c.go close2 hold
        lines_of "$BG_OUT" 2 || { ITEST_WHY="holder: $(cat "$BG_OUT")"; stop "$BG_PID"; return 1; }
        before="$(lk s2 c set:w:0:0) $(lk host c set:w:0:0)"
        touch "$T/c.go"
        lines_of "$BG_OUT" 5
        after="$(lk s2 c set:w:0:0) $(lk host c set:w:0:0)"
        stop "$BG_PID"
        assert_eq "EAGAIN EAGAIN" "$before" "session 2 and host while the lock is held" &&
        assert_eq "ok ok" "$after" "session 2 and host after the holder closed another descriptor"
}

a_process_killed_with_sigkill_loses_its_locks() {
        local before after
        newfile k
        holding s1 k set:w:0:0 || return 1
        before="$(lk s2 k set:w:0:0) $(lk host k set:w:0:0)"
        stop "$BG_PID"
        after="$(lk s2 k set:w:0:0) $(lk host k set:w:0:0)"
        assert_eq "EAGAIN EAGAIN" "$before" "session 2 and host while the lock is held" &&
        assert_eq "ok ok" "$after" "session 2 and host after the holder was killed"
}

# One process's locks are one owner's: converting and splitting them does
# not conflict with itself, and others see the result.
a_process_converts_and_splits_its_own_locks() {
        local got
        newfile o
        bg s1 o set:w:0:100 set:r:0:100 set:w:0:50 set:u:0:25 hold
        lines_of "$BG_OUT" 5 || { ITEST_WHY="holder: $(cat "$BG_OUT")"; stop "$BG_PID"; return 1; }
        # now: unlocked 0-24, write 25-49, read 50-99
        got="$(head -n 4 "$BG_OUT" | tr '\n' ' ')| $(lk s2 o set:w:0:25) $(lk s2 o set:r:25:1) $(lk host o set:r:50:50) $(lk s2 o set:w:99:1)"
        stop "$BG_PID"
        assert_eq "ok ok ok ok | ok EAGAIN ok EAGAIN" "$got" \
                "the holder's four calls | others: w 0-24, r 25, r 50-99, w 99"
}

an_ofd_lock_taken_in_a_session_stays_until_its_open_file_is_closed() {
        local got
        newfile d
        bg s1 d ofd:w:0:0 open2 close2 waitfile:$T/d.go close hold
        lines_of "$BG_OUT" 3 || { ITEST_WHY="holder: $(cat "$BG_OUT")"; stop "$BG_PID"; return 1; }
        got="$(lk s2 d set:w:0:0) $(lk host d set:w:0:0)"
        touch "$T/d.go"
        lines_of "$BG_OUT" 6
        got="$got | $(lk s2 d set:w:0:0) $(lk host d set:w:0:0)"
        stop "$BG_PID"
        assert_eq "EAGAIN EAGAIN | ok ok" "$got" \
                "after closing another descriptor | after closing its own"
}

getlk_names_the_conflicting_lock() {
        local got hostpid
        newfile g
        holding s1 g set:w:10:20 || return 1
        got="$(lk s2 g get:w:0:0) / $(lk host g get:w:0:0) / $(lk s1 g get:r:0:0)"
        stop "$BG_PID"
        holding host g set:r:5:5 || return 1
        hostpid=$BG_PID
        got="$got / $(lk s1 g get:w:0:0)"
        stop "$BG_PID"
        # host's F_GETLK of an OFD lock reports pid -1
        assert_eq "w 10 20 pid=0 / w 10 20 pid=-1 / w 10 20 pid=0 / r 5 5 pid=$hostpid" "$got" \
                "session 2, host and another session-1 process ask about session 1's lock / session 1 about the host's"
}

# daemon_waiters PID: how many waiter threads daemon PID has.
daemon_waiters() {
        grep -lx vfolderfs-lockw /proc/"$1"/task/*/comm 2>/dev/null | wc -l
}

# daemon_fds PID: how many open files daemon PID has (descriptors other
# than the O_PATH ones of the inodes the kernel knows).
daemon_fds() {
        local f flags n=0
        for f in /proc/"$1"/fdinfo/*; do
                flags=$(awk '$1 == "flags:" { print $2 }' "$f" 2>/dev/null)
                [ -n "$flags" ] && ((!(8#$flags & 8#10000000))) && n=$((n + 1))
        done
        echo $n
}

# waits WHO HOLDER STEP: HOLDER holds a write lock (POSIX, or flock when
# STEP is a flock step) on a file; WHO asks with STEP in the background; it
# must still wait after 1 s, and get the lock within 5 s once the holder
# releases it.
waits() {
        local who=$1 holder=$2 st=$3 hold=set:w:0:0 got
        [ "${st#flock}" != "$st" ] && hold=flock:ex
        newfile "w$BG_N"
        local f=w$BG_N
        holding "$holder" $f "$hold" || return 1
        local hpid=$BG_PID
        bg "$who" $f "$st"
        local wpid=$BG_PID wout=$BG_OUT
        sleep 1
        got=$(cat "$wout")
        stop "$hpid"
        lines_of "$wout" 1 50
        got="${got:-waiting} | $(cut -d' ' -f1 "$wout")"
        stop "$wpid"
        echo "# $who waits ($st) on $holder: $(cat "$wout") ms"
        assert_eq "waiting | ok" "$got" "$who's $st while $holder holds, after 1 s | after the release"
}

setlkw_waits_until_another_session_releases() {
        waits s2 s1 setw:w:0:0
}

setlkw_waits_until_the_host_releases() {
        waits s1 host setw:w:0:0
}

the_host_waits_until_a_session_releases() {
        waits host s2 setw:w:0:0
}

a_blocking_flock_waits_until_another_session_releases() {
        waits s1 s2 flockw:ex
}

# interrupted SIGNAL STEP: s1 holds, s2 waits with STEP; SIGNAL is sent to
# the waiter after 0.5 s; prints the waiter's output 1 s after the signal
# and after the release, and leaves INT_PID (the daemon of s2).
interrupted() {
        local sig=$1 st=$2 hold=set:w:0:0 first
        [ "${st#flock}" != "$st" ] && hold=flock:ex
        newfile i
        holding s1 i $hold || return 1
        local hpid=$BG_PID
        bg s2 i sleep:0 "$st"
        local wpid=$BG_PID wout=$BG_OUT
        lines_of "$wout" 1
        sleep 0.5
        kill -"$sig" "$wpid"
        sleep 1
        first=$(sed -n 2p "$wout" | cut -d' ' -f1)
        stop "$hpid"
        lines_of "$wout" 2 50
        INT_OUT="${first:-waiting} | $(sed -n 2p "$wout" | cut -d' ' -f1)"
        stop "$wpid"
}

# no_waiters_left PID FDS: daemon PID has no waiter thread (within 1 s)
# and FDS descriptors.
no_waiters_left() {
        local i n
        for i in $(seq 10); do
                n=$(daemon_waiters "$1")
                [ "$n" = 0 ] && break
                sleep 0.1
        done
        assert_eq 0 "$n" "waiter threads left in the daemon" &&
        assert_eq "$2" "$(daemon_fds "$1")" "descriptors of the daemon, before and after"
}

a_signal_ends_a_setlkw_wait_with_eintr_and_leaves_nothing_behind() {
        local fds
        fds=$(daemon_fds "$PID2")
        interrupted USR1 setw:w:0:0 || return 1
        assert_eq "EINTR | EINTR" "$INT_OUT" "the wait 1 s after SIGUSR1 | after the release" &&
        no_waiters_left "$PID2" "$fds"
}

a_signal_ends_a_blocking_flock_with_eintr() {
        local fds
        fds=$(daemon_fds "$PID2")
        interrupted USR1 flockw:ex || return 1
        assert_eq "EINTR | EINTR" "$INT_OUT" "the wait 1 s after SIGUSR1 | after the release" &&
        no_waiters_left "$PID2" "$fds"
}

a_signal_with_sa_restart_lets_setlkw_wait_on() {
        interrupted USR2 setw:w:0:0 || return 1
        assert_eq "waiting | ok" "$INT_OUT" "the wait 1 s after SIGUSR2 | after the release"
}

a_waiter_killed_with_sigkill_dies_at_once() {
        local fds i gone=no
        fds=$(daemon_fds "$PID2")
        newfile x
        holding s1 x set:w:0:0 || return 1
        local hpid=$BG_PID
        bg s2 x sleep:0 setw:w:0:0
        local wpid=$BG_PID
        lines_of "$BG_OUT" 1
        sleep 0.5
        kill -KILL "$wpid"
        for i in $(seq 20); do
                if ! kill -0 "$wpid" 2>/dev/null; then
                        gone=yes
                        break
                fi
                sleep 0.1
        done
        wait "$wpid" 2>/dev/null
        # the lock is still the holder's, and free once it goes
        local still after
        still=$(lk host x set:w:0:0)
        stop "$hpid"
        after=$(lk host x set:w:0:0)
        assert_eq "yes EAGAIN ok" "$gone $still $after" \
                "waiter gone within 2 s, host while held, host after" &&
        no_waiters_left "$PID2" "$fds"
}

# With the cap on waits lowered to 2 (VFOLDERFS_TEST_LOCK_WAITERS), a third
# wait fails with ENOLCK at once; the two others go on waiting.
waits_past_the_cap_fail_with_enolck() {
        local pid3 got w1 w2 w3
        newfile e
        export VFOLDERFS_TEST_LOCK_WAITERS=2
        daemon_start "$MNT3" alice 2>"$T/start.err"
        local r=$?
        unset VFOLDERFS_TEST_LOCK_WAITERS
        [ $r = 0 ] || { ITEST_WHY="cannot start the daemon: $(cat "$T/start.err")"; return 1; }
        pid3=$DAEMON_PID
        holding host e set:w:0:0 flock:ex || return 1
        local hpid=$BG_PID
        bg s1 "$MNT3/shared/e" setw:w:0:0
        w1=$BG_PID
        bg s1 "$MNT3/shared/e" flockw:ex
        w2=$BG_PID
        sleep 0.5
        got=$(lk s1 "$MNT3/shared/e" setw:w:0:0 | cut -d' ' -f1)
        got="$got $(daemon_waiters "$pid3")"
        stop "$w1"
        stop "$w2"
        stop "$hpid"
        daemon_stop "$MNT3" "$pid3"
        assert_eq "ENOLCK 2" "$got" "a third wait, waiter threads"
}

a_daemon_stopped_while_a_process_waits_ends_the_wait_and_exits() {
        local pid3 got
        newfile y
        must_start "$MNT3" alice
        pid3=$DAEMON_PID
        holding host y set:w:0:0 || return 1
        local hpid=$BG_PID
        bg s1 "$MNT3/shared/y" sleep:0 setw:w:0:0
        local wpid=$BG_PID wout=$BG_OUT
        lines_of "$wout" 1
        sleep 0.5
        kill -TERM "$pid3"
        wait_exit "$pid3" 50
        lines_of "$wout" 2 50
        got="$WAIT_STATUS $(sed -n 2p "$wout" | cut -d' ' -f1)"
        stop "$wpid"
        stop "$hpid"
        umount -l "$MNT3" 2>/dev/null
        assert_eq "0 ENOLCK" "$got" "the daemon's exit status (within 5 s), the waiter's answer"
}

a_killed_daemon_leaves_no_lock_behind() {
        local pid3 before after
        newfile z
        must_start "$MNT3" alice
        pid3=$DAEMON_PID
        holding s1 "$MNT3/shared/z" set:w:0:0 || return 1
        local hpid=$BG_PID
        bg s1 "$MNT3/shared/z" flock:ex hold
        local fpid=$BG_PID
        lines_of "$BG_OUT" 2
        before="$(lk host z set:w:0:0) $(lk s2 z flock:ex)"
        kill -KILL "$pid3"
        wait "$pid3" 2>/dev/null
        after="$(lk host z set:w:0:0) $(lk s2 z flock:ex)"
        stop "$hpid"
        stop "$fpid"
        umount -l "$MNT3" 2>/dev/null
        assert_eq "EAGAIN EAGAIN | ok ok" "$before | $after" \
                "host POSIX and session-2 flock while the daemon holds | after it was killed"
}

locks_in_scratch_are_taken_on_the_scratch_file() {
        local sid got
        sid=$(session_of "$PID1")
        printf 'x' >"$SCRATCH/$sid/scratchfile"
        chown $U:$U "$SCRATCH/$sid/scratchfile"
        holding s1 "$MNT/scratchfile" set:w:0:0 || return 1
        got="$(lk s1 "$MNT/scratchfile" set:w:0:0) $(lk host "$SCRATCH/$sid/scratchfile" set:w:0:0)"
        stop "$BG_PID"
        got="$got | $(lk host "$SCRATCH/$sid/scratchfile" set:w:0:0)"
        assert_eq "EAGAIN EAGAIN | ok" "$got" \
                "another process of the session and the host while held | host after"
}

a_read_only_folder_allows_read_locks() {
        local got
        printf 'ro' >"$BRO/r"
        chmod 644 "$BRO/r"
        got=$(asuser $U timeout 10 "$LOCKOP" -r "$MNT/bobro/r" set:r:0:0 set:w:0:0 flock:sh flock:un | tr '\n' ' ')
        # held read lock, seen from the host and the other session
        setpriv --reuid=$U --regid=$U --clear-groups -- \
                "$LOCKOP" -r "$MNT/bobro/r" set:r:0:0 hold >"$T/ro.out" 2>&1 &
        local hpid=$!
        BG_PIDS+=("$hpid")
        lines_of "$T/ro.out" 2
        got="$got| $(lk host "$BRO/r" set:w:0:0) $(asuser $U timeout 10 "$LOCKOP" -r "$MNT2/bobro/r" set:r:0:0)"
        stop "$hpid"
        assert_eq "ok EBADF ok ok | EAGAIN ok" "$got" \
                "read lock, write lock, flock sh and un on a read-only descriptor | host write and session-2 read while held"
}

a_folder_that_went_away_refuses_locks_with_eio() {
        local got i
        printf 'd' >"$(backing_of doomed)/f"
        chown $U:$U "$(backing_of doomed)/f"
        bg s1 "$MNT/doomed/f" set:r:0:0 waitfile:$T/doomed.go set:w:0:0 flock:ex get:w:0:0 set:u:0:0 hold
        lines_of "$BG_OUT" 1 || { ITEST_WHY="holder: $(cat "$BG_OUT")"; stop "$BG_PID"; return 1; }
        admin folder delete doomed --force >/dev/null 2>&1 || { ITEST_WHY="forced delete failed"; stop "$BG_PID"; return 1; }
        # the catalog watcher takes the change within 1 s
        for i in $(seq 15); do
                [ -e "$MNT/doomed" ] || break
                sleep 0.1
        done
        touch "$T/doomed.go"
        lines_of "$BG_OUT" 7
        got=$(head -n 6 "$BG_OUT" | tr '\n' ' ')
        stop "$BG_PID"
        assert_eq "ok go EIO EIO EIO ok " "$got" \
                "read lock before; write lock, flock, getlk, unlock after the folder went"
}

# A lock granted in a session comes after what the previous holder did on
# the storage host: the session reads the data it wrote (not its own cached
# pages) and does not find the file it removed (not its own cached entry),
# at once, not a cache period or a watcher batch later.
a_lock_holder_sees_what_the_previous_holder_wrote_and_removed() {
        local got
        printf 'OLD!' >"$B/v"
        printf 'j' >"$B/j"
        chown $U:$U "$B/v" "$B/j"
        bg host v set:w:0:0 waitfile:$T/v.go write:NEW! unlink:$B/j set:u:0:0 hold
        local hpid=$BG_PID hout=$BG_OUT
        lines_of "$hout" 1 || { ITEST_WHY="host: $(cat "$hout")"; stop "$hpid"; return 1; }
        bg s1 v read:4 exists:$MNT/shared/j setw:w:0:0 read:4 exists:$MNT/shared/j
        local wout=$BG_OUT wpid=$BG_PID
        lines_of "$wout" 2
        sleep 0.5
        touch "$T/v.go"
        lines_of "$wout" 5 50
        got="$(sed -n 1,2p "$wout" | tr '\n' ' ')| $(sed -n 3p "$wout" | cut -d' ' -f1) $(sed -n 4,5p "$wout" | tr '\n' ' ')"
        stop "$hpid"
        stop "$wpid"
        assert_eq "OLD! yes | ok NEW! no " "$got" \
                "session 1 before waiting (data, the other file) | once granted"
}

# ---- SQLite in rollback-journal mode, one writer in each session ----------

cat >"$T/sqlw.py" <<'EOF'
import sqlite3, sys, time
path, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(path, timeout=60, isolation_level=None)
mode = db.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
assert mode == "delete", mode
db.execute("CREATE TABLE IF NOT EXISTS t(who TEXT, i INTEGER, pad BLOB)")
for i in range(n):
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO t VALUES (?, ?, randomblob(300))", (who, i))
    if i % 10 == 0:
        # a transaction longer than the storage watcher's 10 ms batch, so
        # the other session has looked up the journal before it goes
        time.sleep(0.02)
    db.execute("COMMIT")
db.close()
print("done", n)
EOF

sqlite_in_rollback_mode_written_from_two_sessions_stays_whole() {
        local db=$B/t.db p1 p2 t0 t1 r1 r2 check count distinct
        rm -f "$db" "$db-journal"
        asuser $U python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=DELETE")
db.execute("CREATE TABLE t(who TEXT, i INTEGER, pad BLOB)")' "$MNT/shared/t.db" ||
                { ITEST_WHY="cannot create the database"; return 1; }
        t0=$(date +%s.%N)
        asuser $U timeout 240 python3 "$T/sqlw.py" "$MNT/shared/t.db" s1 "$WRITES" >"$T/sql1.out" 2>&1 &
        p1=$!
        asuser $U timeout 240 python3 "$T/sqlw.py" "$MNT2/shared/t.db" s2 "$WRITES" >"$T/sql2.out" 2>&1 &
        p2=$!
        wait "$p1"; r1=$?
        wait "$p2"; r2=$?
        t1=$(date +%s.%N)
        check=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1 | head -n 3 | tr '\n' ' ')
        count=$(sqlite3 "$db" 'SELECT count(*) FROM t' 2>&1)
        distinct=$(sqlite3 "$db" 'SELECT count(*) FROM (SELECT DISTINCT who, i FROM t)' 2>&1)
        echo "# sqlite: $WRITES transactions in each of two sessions in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; writers: $(tail -n 1 "$T/sql1.out") / $(tail -n 1 "$T/sql2.out"); integrity_check: $check; rows $count, distinct $distinct"
        assert_eq "0 0" "$r1 $r2" "writers' exit status" &&
        assert_eq "ok " "$check" "integrity_check" &&
        assert_eq $((2 * WRITES)) "$count" "rows" &&
        assert_eq $((2 * WRITES)) "$distinct" "distinct rows"
}

run_test posix_write_locks_exclude_each_other_across_sessions_and_the_host
run_test posix_read_locks_are_shared_across_sessions_and_the_host
run_test a_posix_write_lock_excludes_read_locks_and_a_read_lock_write_locks
run_test posix_locks_cover_only_their_byte_range
run_test flock_exclusive_locks_exclude_each_other_across_sessions_and_the_host
run_test flock_shared_locks_are_shared_and_exclude_exclusive_ones
run_test a_process_loses_its_locks_when_it_closes_any_descriptor_of_the_file
run_test a_process_killed_with_sigkill_loses_its_locks
run_test a_process_converts_and_splits_its_own_locks
run_test an_ofd_lock_taken_in_a_session_stays_until_its_open_file_is_closed
run_test getlk_names_the_conflicting_lock
run_test setlkw_waits_until_another_session_releases
run_test setlkw_waits_until_the_host_releases
run_test the_host_waits_until_a_session_releases
run_test a_blocking_flock_waits_until_another_session_releases
run_test a_signal_ends_a_setlkw_wait_with_eintr_and_leaves_nothing_behind
run_test a_signal_ends_a_blocking_flock_with_eintr
run_test a_signal_with_sa_restart_lets_setlkw_wait_on
run_test a_waiter_killed_with_sigkill_dies_at_once
run_test locks_in_scratch_are_taken_on_the_scratch_file
run_test a_read_only_folder_allows_read_locks
run_test a_folder_that_went_away_refuses_locks_with_eio
run_test a_lock_holder_sees_what_the_previous_holder_wrote_and_removed
run_test sqlite_in_rollback_mode_written_from_two_sessions_stays_whole
run_test waits_past_the_cap_fail_with_enolck
run_test a_daemon_stopped_while_a_process_waits_ends_the_wait_and_exits
run_test a_killed_daemon_leaves_no_lock_behind
daemon_stop "$MNT2" "$PID2"
daemon_stop "$MNT" "$PID1"
itest_end
