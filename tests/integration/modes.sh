#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# modes.sh - SPEC section 3 "Modes are kept as written", and nothing of the
# daemon's own process state reaches what it does for a caller.
#   - A file, directory or FIFO made through a session gets exactly the mode
#     the caller asked for less the caller's umask (setuid/setgid aside):
#     create, mkdir and mkfifo x umask 000, 002, 022, 077 x mode 0620,
#     0777, 0751, 01777, as uid 1000 and as root, in a folder and in
#     scratch; checked inside the session and on the storage host; and a
#     socket bound at a path x the four umasks.  The
#     daemon itself is started with umask 077 here, which must not show.
#   - A directory made 0777 with umask 0 lets a second uid create and rename
#     in it (what a POSIX conformance run trips on).
#   - A daemon started with a file size limit (ulimit -f), from a directory
#     that must not stay busy, and with SIGTERM blocked and ignored still
#     takes writes past a soft limit (a hard one it cannot lift without
#     CAP_SYS_RESOURCE: it warns, the writer gets EFBIG and the daemon
#     lives), keeps no directory busy and ends its session cleanly on
#     SIGTERM.

. "$(dirname "$0")/lib.sh"
itest_begin modes "$@"

U=1000
U2=2000
must admin user add alice --uid $U --gid $U
must admin folder create m --user alice
FB=$(backing_of m) || bail "no backing directory for folder m"

# start_with SHELL-PREFIX [OPTIONS]: start the daemon in the foreground
# through `bash -c "PREFIX; exec vfolderfs ..."`, so that it inherits what
# PREFIX sets (umask, ulimit, cwd, signal dispositions); wait for the mount.
start_with() {
        local prefix=$1 extra=${2:-} i
        echo "=== $(date +%T) start alice at $MNT via '$prefix'" >>"$T/daemon.log"
        bash -c "$prefix; exec \"\$@\"" start-with \
                env --default-signal=INT,QUIT "$VFOLDERFS" -f \
                -o "allow_other,catalog=$CAT,scratch=$SCRATCH${extra:+,$extra}" \
                alice "$MNT" >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        DAEMON_PIDS+=("$DAEMON_PID")
        for i in $(seq 100); do
                mountpoint -q "$MNT" && return 0
                kill -0 "$DAEMON_PID" 2>/dev/null || return 1
                sleep 0.1
        done
        return 1
}

# matrix UID DIR: as UID, make one entry per op x umask x mode in DIR;
# prints "name requested-mode seen-mode" per entry (seen inside).
matrix() {
        local uid=$1 dir=$2
        local py='
import os, stat, sys
d = sys.argv[1]
for op in ("create", "mkdir", "mkfifo"):
    for um in (0o000, 0o002, 0o022, 0o077):
        for mode in (0o620, 0o777, 0o751, 0o1777):
            name = "%s-%03o-%04o" % (op, um, mode)
            p = os.path.join(d, name)
            old = os.umask(um)
            try:
                if op == "create":
                    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))
                elif op == "mkdir":
                    os.mkdir(p, mode)
                else:
                    os.mkfifo(p, mode)
            finally:
                os.umask(old)
            want = mode & ~um & 0o7777
            print(name, "%04o" % want, "%04o" % stat.S_IMODE(os.lstat(p).st_mode))
'
        if [ "$uid" = 0 ]; then
                python3 -c "$py" "$dir"
        else
                asuser "$uid" python3 -c "$py" "$dir"
        fi
}

# check_matrix UID DIR HOSTDIR: every entry's mode, inside and on the host.
check_matrix() {
        local uid=$1 dir=$2 host=$3 out name want seen onhost bad=0 n=0
        rm -rf "$host/matrix-$uid"
        mkdir "$dir/matrix-$uid" 2>/dev/null || asuser $U mkdir "$dir/matrix-$uid"
        chmod 777 "$dir/matrix-$uid"
        out=$(matrix "$uid" "$dir/matrix-$uid" 2>&1) || {
                ITEST_WHY="making the entries as uid $uid failed: $out"
                return 1
        }
        while read -r name want seen; do
                n=$((n + 1))
                onhost=$(stat -c %04a "$host/matrix-$uid/$name" 2>&1)
                if [ "$seen" != "$want" ] || [ "$onhost" != "$want" ]; then
                        bad=$((bad + 1))
                        [ $bad -le 3 ] && ITEST_WHY="${ITEST_WHY}$name as uid $uid: want $want, inside $seen, on the host $onhost; "
                fi
        done <<<"$out"
        assert_eq 48 "$n" "entries made" || return 1
        [ $bad -eq 0 ] || { ITEST_WHY="$bad of 48 modes differ: $ITEST_WHY"; return 1; }
}

start_with "umask 077" || bail "cannot start the daemon with umask 077"
SID=$(session_of "$DAEMON_PID")

modes_in_a_folder_as_a_user_are_the_callers() { check_matrix $U "$MNT/m" "$FB"; }
modes_in_a_folder_as_root_are_the_callers() { check_matrix 0 "$MNT/m" "$FB"; }
modes_in_scratch_as_a_user_are_the_callers() { check_matrix $U "$MNT" "$SCRATCH/$SID"; }
modes_in_scratch_as_root_are_the_callers() { check_matrix 0 "$MNT" "$SCRATCH/$SID"; }

a_second_uid_works_in_a_0777_directory_made_with_umask_0() {
        asuser $U sh -c "umask 0 && mkdir '$MNT/m/open'" || { ITEST_WHY="mkdir failed"; return 1; }
        assert_eq 777 "$(stat -c %a "$FB/open")" "mode on the host" &&
        assert_eq ok "$(op $U2 create "$MNT/m/open/by2" 0644)" "a second uid creating in it" &&
        assert_eq ok "$(op $U2 rename "$MNT/m/open/by2" "$MNT/m/open/by2-renamed")" "a second uid renaming in it"
}

# A socket bound at a path gets 0777 less the binder's umask.
sockets_get_0777_less_the_callers_umask() {
        local got
        got=$(asuser $U python3 -c '
import os, socket, stat, sys
for um in (0o000, 0o002, 0o022, 0o077):
    p = "%s/sock-%03o" % (sys.argv[1], um)
    old = os.umask(um)
    s = socket.socket(socket.AF_UNIX)
    s.bind(p)
    os.umask(old)
    s.close()
    print("%04o" % stat.S_IMODE(os.lstat(p).st_mode), end=" ")
' "$MNT/m" 2>&1)
        assert_eq "0777 0775 0755 0700 " "$got" "socket modes inside (umask 000 002 022 077)" &&
        assert_eq "777 775 755 700" "$(stat -c %a "$FB"/sock-000 "$FB"/sock-002 "$FB"/sock-022 "$FB"/sock-077 | tr '\n' ' ' | sed 's/ $//')" "on the host"
}

run_test modes_in_a_folder_as_a_user_are_the_callers
run_test modes_in_a_folder_as_root_are_the_callers
run_test modes_in_scratch_as_a_user_are_the_callers
run_test modes_in_scratch_as_root_are_the_callers
run_test sockets_get_0777_less_the_callers_umask
run_test a_second_uid_works_in_a_0777_directory_made_with_umask_0
daemon_stop "$MNT" "$DAEMON_PID"

# ---- the rest of the daemon's inherited state -------------------------------
CWD=$T/started-here
mkdir -p "$CWD"

a_file_size_limit_of_the_starter_does_not_cut_writes() {
        local got status
        # A soft limit (ulimit -S): the daemon lifts it.
        start_with "ulimit -S -f 1024" || { ITEST_WHY="cannot start the daemon under ulimit -S -f"; return 1; }
        got=$(asuser $U sh -c "head -c 3000000 /dev/zero >'$MNT/m/big' && echo written" 2>&1)
        kill -0 "$DAEMON_PID" 2>/dev/null && status=alive || status=dead
        daemon_stop "$MNT" "$DAEMON_PID"
        assert_eq written "$got" "3 MB written through a daemon started under ulimit -S -f 1024" &&
        assert_eq alive "$status" "the daemon after the write" &&
        assert_eq 3000000 "$(stat -c %s "$FB/big")" "size on the host"
}

a_hard_file_size_limit_is_warned_about_and_survived() {
        local got status lifted
        # A hard limit needs CAP_SYS_RESOURCE to lift (which root here may
        # lack): the daemon warns, the writer gets EFBIG, the daemon lives.
        rm -f "$FB/big2"
        : >"$T/hard.log"
        start_with "ulimit -H -f 1024 2>/dev/null; ulimit -S -f 1024" || { ITEST_WHY="cannot start the daemon under ulimit -f"; return 1; }
        lifted=$(awk '/^Max file size/ { print $5 }' "/proc/$DAEMON_PID/limits")
        got=$(asuser $U sh -c "head -c 3000000 /dev/zero >'$MNT/m/big2' && echo written" 2>&1)
        kill -0 "$DAEMON_PID" 2>/dev/null && status=alive || status=dead
        daemon_stop "$MNT" "$DAEMON_PID"
        assert_eq alive "$status" "the daemon after a write past its hard limit" || return 1
        if [ "$lifted" = unlimited ]; then
                # a root with CAP_SYS_RESOURCE lifts even a hard limit
                assert_eq written "$got" "3 MB written once the limit was lifted"
                return
        fi
        assert "the writer to be told File too large (got: $got)" grep -q 'File too large' <<<"$got" &&
        assert "a start warning about the limit" grep -q 'file size limit of 1048576 bytes that cannot be lifted' "$T/daemon.log"
}

the_daemon_keeps_no_directory_busy() {
        local cwd
        start_with "cd '$CWD'" || { ITEST_WHY="cannot start the daemon in $CWD"; return 1; }
        cwd=$(readlink "/proc/$DAEMON_PID/cwd")
        daemon_stop "$MNT" "$DAEMON_PID"
        assert_eq / "$cwd" "the daemon's working directory"
}

sigterm_ends_the_session_even_when_the_starter_blocked_and_ignored_it() {
        local sid
        # SIGTERM ignored by trap, and blocked by a python exec wrapper.
        start_with "trap '' TERM; set -- python3 -c 'import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT}); os.execvp(sys.argv[1], sys.argv[1:])' \"\$@\"" ||
                { ITEST_WHY="cannot start the daemon with SIGTERM blocked"; return 1; }
        sid=$(session_of "$DAEMON_PID")
        kill -TERM "$DAEMON_PID"
        wait_exit "$DAEMON_PID" 50
        [ "$WAIT_STATUS" = running ] && { kill -KILL "$DAEMON_PID"; umount -l "$MNT"; }
        assert_eq 0 "$WAIT_STATUS" "exit status after SIGTERM" &&
        refute "the mountpoint to stay mounted" mountpoint -q "$MNT" &&
        assert "the session to be ended" test "$(admin --json session list --all | jq -r --arg id "$sid" '.[] | select(.id == $id) | .ended_at')" != null
}

run_test a_file_size_limit_of_the_starter_does_not_cut_writes
run_test a_hard_file_size_limit_is_warned_about_and_survived
run_test the_daemon_keeps_no_directory_busy
run_test sigterm_ends_the_session_even_when_the_starter_blocked_and_ignored_it
itest_end
