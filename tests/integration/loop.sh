#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# loop.sh - the daemon's session loop (vfolderfs/loop.h).  Its workers take
# turns at reading /dev/fuse and hand the turn on before they answer, the
# reader polling for up to -o spin=US before it sleeps.  Checked here:
#   - a request stuck on a stalled storage host (a FUSE host, bindfs, stopped
#     with SIGSTOP) holds up nothing else: another folder and scratch
#     answer meanwhile, with the default loop and with
#     libfuse's (spin=0); the stuck request completes once the host resumes;
#   - a lookup in the session root that waits on the stalled host holds up
#     no other name in the root (the kernel's per-directory lookup lock is
#     lifted by FUSE_PARALLEL_DIROPS, vfolderfs/devio.h);
#   - spin=20 runs the daemon's loop: max_threads=N workers named
#     "vfolderfs-work" (10 by default); the default (spin=0) runs libfuse's
#     loop instead (no worker so named);
#   - spin=1001 fails the start (exit 2, one line, nothing mounted).
# The end of the loop on a signal or an unmount is checked by lifecycle.sh.

. "$(dirname "$0")/lib.sh"
itest_begin loop "$@"

U=1000
must admin user add alice --uid $U --gid $U
must admin folder create lf --user alice
LB=$(backing_of lf) || bail "no backing directory for folder lf"

# The slow host: bindfs in the foreground, so that its pid is ours to stop.
HB=$T/slowhost-backing
HOST=$T/slowhost
mkdir -p "$HB" "$HOST"
bindfs -f "$HB" "$HOST" >>"$T/bindfs.log" 2>&1 &
BINDFS_PID=$!
DAEMON_PIDS+=("$BINDFS_PID")
for i in $(seq 50); do mountpoint -q "$HOST" && break; sleep 0.1; done
mountpoint -q "$HOST" || bail "bindfs did not mount $HOST"
must admin host add slowhost "$HOST"
must admin folder create sf --user alice --host slowhost
SB=$(backing_of sf) || bail "no backing directory for folder sf"
printf 'slow data\n' >"$SB/f"
chown $U:$U "$SB/f"
printf 'x\n' >"$LB/x"
chown $U:$U "$LB/x"

# workers_of PID: the number of the daemon's threads named vfolderfs-work.
workers_of() {
        cat /proc/"$1"/task/*/comm 2>/dev/null | grep -cx vfolderfs-work
}

# stalled_host_case [OPTIONS]: on a fresh mount, stop the host, start a
# read of a file on it (stuck in a worker), then require three other
# requests to be answered within 5 s each; resume the host and require the
# stuck read to finish with the file's data.
stalled_host_case() {
        local reader ok=0 got
        must_start "$MNT" alice "${1:-}"
        # Both folder names known to the kernel first: a lookup of a name
        # in the session root that waits on the host would hold the root's
        # lookup lock (the kernel's, per directory) and stall the others.
        asuser $U stat "$MNT/sf" "$MNT/lf/x" >/dev/null
        kill -STOP "$BINDFS_PID"
        asuser $U timeout 30 cat "$MNT/sf/f" >"$T/stuck.out" 2>&1 &
        reader=$!
        sleep 0.5
        if ! kill -0 "$reader" 2>/dev/null; then
                kill -CONT "$BINDFS_PID"
                daemon_stop "$MNT" "$DAEMON_PID"
                ITEST_WHY="the read on the stopped host was not stuck: $(cat "$T/stuck.out")"
                return 1
        fi
        got=$(asuser $U timeout 5 cat "$MNT/lf/x" 2>&1) &&
        asuser $U timeout 5 sh -c "echo s >'$MNT/scratch-file'" &&
        asuser $U timeout 5 ls "$MNT/lf" >/dev/null || ok=1
        [ "$got" = x ] || ok=1
        kill -CONT "$BINDFS_PID"
        wait "$reader"
        got=$(cat "$T/stuck.out")
        daemon_stop "$MNT" "$DAEMON_PID"
        if [ $ok != 0 ]; then
                ITEST_WHY="a request elsewhere was held up while a worker waited on the stopped host"
                return 1
        fi
        assert_eq "slow data" "$got" "the stuck read, once the host resumed"
}

a_stalled_storage_host_holds_up_nothing_else() {
        stalled_host_case spin=20
}

a_stalled_storage_host_holds_up_nothing_else_with_libfuses_loop() {
        stalled_host_case
}

a_lookup_waiting_on_a_stalled_host_holds_up_no_other_name_in_the_root() {
        local reader net t0 t1 got
        must_start "$MNT" alice
        # The kernel's attributes of the host's folder root (bindfs: 1 s)
        # expire: the lookup of sf in the root must then ask the host.
        sleep 1.5
        kill -STOP "$BINDFS_PID"
        # A safety net: nothing here may wait on the host for ever.
        (sleep 6; kill -CONT "$BINDFS_PID") &
        net=$!
        asuser $U timeout 30 stat "$MNT/sf" >/dev/null 2>&1 &
        reader=$!
        sleep 0.5
        if ! kill -0 "$reader" 2>/dev/null; then
                ITEST_WHY="the lookup of sf did not wait on the stopped host"
        else
                t0=$EPOCHREALTIME
                got=$(asuser $U cat "$MNT/lf/x" 2>&1)
                t1=$EPOCHREALTIME
        fi
        kill -CONT "$BINDFS_PID"
        kill "$net" 2>/dev/null
        wait "$net" "$reader" 2>/dev/null
        daemon_stop "$MNT" "$DAEMON_PID"
        [ -z "$ITEST_WHY" ] || return 1
        assert_eq x "$got" "lf/x read while sf waited" || return 1
        awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 3) }' || {
                ITEST_WHY="lf/x took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s while the lookup of sf waited (limit 3 s)"
                return 1
        }
}

# workers_with OPTIONS: the worker count of a daemon started with OPTIONS.
workers_with() {
        local n
        must_start "$MNT" alice "$1"
        n=$(workers_of "$DAEMON_PID")
        daemon_stop "$MNT" "$DAEMON_PID"
        echo "$n"
}

spin_runs_ten_named_workers() {
        assert_eq 10 "$(workers_with spin=20)" "workers"
}

max_threads_sets_the_number_of_workers() {
        assert_eq 3 "$(workers_with spin=20,max_threads=3)" "workers"
}

libfuses_loop_by_default() {
        assert_eq 0 "$(workers_with "")" "workers named vfolderfs-work"
}

a_spin_too_long_fails_the_start() {
        local before status
        before=$(admin --json session list --all | jq length)
        "$VFOLDERFS" -f -o "allow_other,catalog=$CAT,scratch=$SCRATCH,spin=1001" \
                alice "$MNT" >"$T/spin.out" 2>"$T/spin.err"
        status=$?
        assert_eq 2 "$status" "exit status" &&
        assert_eq "vfolderfs: bad option 'spin=1001': at most 1000 (microseconds)" \
                "$(cat "$T/spin.err")" "message" &&
        refute "the mountpoint to be mounted" mountpoint -q "$MNT" &&
        assert_eq "$before" "$(admin --json session list --all | jq length)" "sessions"
}

run_test a_stalled_storage_host_holds_up_nothing_else
run_test a_stalled_storage_host_holds_up_nothing_else_with_libfuses_loop
run_test a_lookup_waiting_on_a_stalled_host_holds_up_no_other_name_in_the_root
run_test spin_runs_ten_named_workers
run_test max_threads_sets_the_number_of_workers
run_test libfuses_loop_by_default
run_test a_spin_too_long_fails_the_start
kill -CONT "$BINDFS_PID" 2>/dev/null
itest_end
