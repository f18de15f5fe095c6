#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# loop.sh - the daemon's session loop (vfolderfs/loop.h): requests are
# queued per storage host, each host running at most max_threads of them at
# once, so a stalled host holds up only what waits on it.  The stalled host
# here is a FUSE host (bindfs -f) stopped with SIGSTOP.  Checked here:
#   - with 50 calls stuck on the stalled host (10 stats running, filling its
#     limit, then cat of 25 files of 512 KiB opened before, stat of 10
#     files, ls of 5 directories), a read of a small and of a large file in a
#     folder on another host, a write and read back in scratch, ls and stat
#     of the session root and ls -l of the healthy folder each answer within
#     100 ms (the worst of 5 of each, timed around the calls themselves);
#     the large reads need the kernel's background limit raised (25 stuck
#     read-ahead requests would exceed its default of 12);
#   - a caller killed with SIGKILL while its lookup runs on the stalled host,
#     one ended by SIGTERM (its default action: the kernel marks it killed
#     too) and one whose lookup is queued behind the host's limit are gone
#     within 1 s; once the host resumes every other stuck call completes
#     with the right result, and the daemon's threads and descriptors come
#     back to what they were before (after a first short stall, so that its
#     idle workers exist: no lookup count or thread is leaked);
#   - two sessions sharing the stalled host's folder, 13 calls waiting in
#     each, both answer in another folder and their root (100 ms); a file
#     changed on the storage host meanwhile is read new once it resumes;
#   - a caught signal (a SIGUSR1 handler) does not make a stuck stat fail,
#     running or queued: it completes once the host resumes;
#   - max_threads is the limit per host: with max_threads=3 and three
#     truncates waiting on the stalled host, a read in another folder
#     answers; a fourth truncate there is queued (killed, it is gone at once
#     and its file keeps its data) while a running truncate is not answered
#     early (killed, it stays until the host resumes: it may truncate);
#   - SIGTERM while calls wait on the stopped host unmounts at once (the
#     callers get an error), the daemon exits (status 0) once it resumes;
#   - the same isolation with -o spin=20, and a lookup in the session root
#     waiting on the stalled host holds up no other name in the root;
#   - the workers are named vfolderfs-work and start on demand; after a stall
#     max_idle_threads of them stay idle (max_threads by default); spin=1001
#     fails the start.
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
# No caching in the kernel of what the host answered: every access the
# daemon makes waits on it when it is stopped.
bindfs -f -o entry_timeout=0,attr_timeout=0,negative_timeout=0 "$HB" "$HOST" >>"$T/bindfs.log" 2>&1 &
BINDFS_PID=$!
DAEMON_PIDS+=("$BINDFS_PID")
for i in $(seq 50); do mountpoint -q "$HOST" && break; sleep 0.1; done
mountpoint -q "$HOST" || bail "bindfs did not mount $HOST"
must admin host add slowhost "$HOST"
must admin folder create sf --user alice --host slowhost
SB=$(backing_of sf) || bail "no backing directory for folder sf"
# The same directory in bindfs's source: changed there, nothing waits on
# the stopped host.
SB_SOURCE=$HB${SB#"$HOST"}
[ -d "$SB_SOURCE" ] || bail "no $SB_SOURCE"
printf 'slow data\n' >"$SB/f"
for i in $(seq 200); do printf 'slow %s\n' "$i" >"$SB/f$i"; done
# Read by the cats: larger than what an open fetches ahead (ops.c), so that
# their reads wait on the host.
for i in $(seq 11 35); do head -c 512K /dev/urandom >"$SB/r$i"; done
for i in $(seq 10); do mkdir "$SB/d$i"; printf 'x\n' >"$SB/d$i/in$i"; done
for i in 1 2 3 4; do printf 'keep\n' >"$SB/t$i"; done
chown -R $U:$U "$SB"
printf 'x\n' >"$LB/x"
for i in $(seq 10); do printf 'x %s\n' "$i" >"$LB/x$i"; done
for i in $(seq 5); do head -c 2M /dev/urandom >"$LB/big$i"; done
chown -R $U:$U "$LB"

# workers_of PID: the number of the daemon's threads named vfolderfs-work.
workers_of() {
        cat /proc/"$1"/task/*/comm 2>/dev/null | grep -cx vfolderfs-work
}

threads_of() {
        ls /proc/"$1"/task | wc -l
}

fds_of() {
        ls /proc/"$1"/fd | wc -l
}

# spawn OUT CMD...: CMD as the user in the background, output to OUT; $! is
# CMD's own pid (setpriv and env exec it).
spawn() {
        local out=$1
        shift
        setpriv --reuid=$U --regid=$U --clear-groups -- \
                env PATH=/usr/local/bin:/usr/bin:/bin "$@" >"$out" 2>&1 &
}

# gone_within PID TENTHS: whether PID has exited (or is a zombie) within
# that many tenths of a second.
gone_within() {
        local pid=$1 n=$2 i state
        for ((i = 0; i <= n * 2; i++)); do
                state=$(awk '{ print $3 }' /proc/"$pid"/stat 2>/dev/null)
                [ -z "$state" ] || [ "$state" = Z ] && return 0
                sleep 0.05
        done
        return 1
}

# alive PID...: how many of PIDs still run.
alive() {
        local n=0 pid state
        for pid in "$@"; do
                state=$(awk '{ print $3 }' /proc/"$pid"/stat 2>/dev/null)
                [ -n "$state" ] && [ "$state" != Z ] && n=$((n + 1))
        done
        echo $n
}

# wait_sent PID...: wait (5 s at most) until every PID waits on a request
# it sent to the daemon (the kernel's request_wait_answer): on a loaded
# machine the processes may take a while to get there.
wait_sent() {
        local i pid n
        for i in $(seq 100); do
                n=0
                for pid in "$@"; do
                        [ "$(cat /proc/"$pid"/wchan 2>/dev/null)" = request_wait_answer ] &&
                                n=$((n + 1))
                done
                [ "$n" = $# ] && return 0
                sleep 0.05
        done
        return 1
}

# fill_workers: a short stall of 12 stats on the host, after which the
# daemon DAEMON_PID at MNT has as many idle workers as it keeps (they start
# on demand: 10 run, one more reads; 10 stay once idle).  Each call stats
# files of its own (a file the daemon looked up a moment ago may still be
# in bindfs's cache, and then nothing would wait).
FILL_NEXT=100
fill_workers() {
        local -a p=()
        local i pid n w last=
        asuser $U stat "$MNT/sf" >/dev/null
        kill -STOP "$BINDFS_PID"
        for i in $(seq $FILL_NEXT $((FILL_NEXT + 11))); do
                spawn /dev/null stat "$MNT/sf/f$i"
                p+=($!)
        done
        FILL_NEXT=$((FILL_NEXT + 12))
        wait_sent "${p[@]}"
        # Until the daemon has read them all: its workers stop growing.
        n=0
        for i in $(seq 100); do
                w=$(workers_of "$DAEMON_PID")
                if [ "$w" = "${last:-}" ]; then
                        n=$((n + 1))
                        [ $n = 6 ] && break
                else
                        n=0
                fi
                last=$w
                sleep 0.05
        done
        kill -CONT "$BINDFS_PID"
        for pid in "${p[@]}"; do
                gone_within "$pid" 100 || kill -KILL "$pid"
                { wait "$pid"; } 2>/dev/null
        done
        sleep 0.2
}

# The kernel forgets what it does not use, so that the daemon's inode
# table holds only what is in use (watch.sh does the same).
forget_caches() {
        echo 2 >/proc/sys/vm/drop_caches
        sleep 0.5
}

# probe NAME CMD-ARGS...: run `fsop timed CMD-ARGS` five times as the user
# (each ARG's "@" replaced by the round's number), bounded to 5 s each; sets
# PROBE[NAME] to the worst time in ms, or to what failed.
declare -A PROBE
probe() {
        local name=$1 k us worst=0 a args
        shift
        for k in 1 2 3 4 5; do
                args=()
                for a in "$@"; do args+=("${a//@/$k}"); done
                us=$(timeout -s KILL 5 setpriv --reuid=$U --regid=$U --clear-groups -- \
                        "$FSOP" timed "${args[@]}" 2>&1)
                if ! [[ $us =~ ^[0-9]+$ ]]; then
                        PROBE[$name]="failed(${us:-timed out after 5 s})"
                        return
                fi
                [ "$us" -gt "$worst" ] && worst=$us
        done
        PROBE[$name]=$(awk -v u="$worst" 'BEGIN { printf "%.1f", u / 1000 }')
}

# Results of fifty_stuck_calls, reported as five tests below.
STORM_RAN=0
WHY_TIMING= WHY_KILL_RUNNING= WHY_KILL_QUEUED= WHY_RESUME= WHY_LEAK=

fifty_stuck_calls() {
        local base_threads base_fds threads fds i n pid name
        local -a running=() queued=() cats=() stats=() lists=()
        STORM_RAN=1
        must_start "$MNT" alice
        asuser $U mkdir "$MNT/scr"
        rm -f "$T/go"
        # The baseline: with the idle workers it keeps.
        fill_workers
        # Once forgotten (the closer thread starts on the first forget).
        asuser $U stat "$MNT/sf" "$MNT/lf" "$MNT/scr" >/dev/null
        forget_caches
        asuser $U stat "$MNT/sf" "$MNT/lf" "$MNT/scr" >/dev/null
        base_threads=$(threads_of "$DAEMON_PID")
        base_fds=$(fds_of "$DAEMON_PID")
        # The cats open their files now and read once the host is stopped,
        # ahead first: reads in flight, as a reader has when its host
        # stalls, are the kernel's read-ahead, background requests.
        for i in $(seq 11 35); do
                spawn "$T/cat$i.out" "$FSOP" catgo "$MNT/sf/r$i" "$T/go"
                cats+=($!)
        done
        for i in $(seq 100); do
                n=0
                for pid in "${cats[@]}"; do
                        [ -e /proc/$pid/fd/3 ] && n=$((n + 1))
                done
                [ $n = 25 ] && break
                sleep 0.05
        done
        # The folder root sf is now known to the kernel (for 1 s): each of
        # the first ten stats sends one lookup, in sf, which waits on the
        # host and fills its limit of ten running requests.
        asuser $U stat "$MNT/sf" >/dev/null
        kill -STOP "$BINDFS_PID"
        for i in $(seq 10); do
                spawn "$T/run$i.out" stat -c %s "$MNT/sf/f$i"
                running+=($!)
        done
        wait_sent "${running[@]}" ||
                WHY_TIMING="the first ten stats did not all wait on the daemon"
        sleep 0.1
        # Forty more, queued behind them.
        touch "$T/go"
        for i in $(seq 41 50); do
                spawn "$T/stat$i.out" stat -c %s "$MNT/sf/f$i"
                stats+=($!)
        done
        for i in $(seq 5); do
                spawn "$T/ls$i.out" ls "$MNT/sf/d$i"
                lists+=($!)
        done
        queued=("${cats[@]}" "${stats[@]}" "${lists[@]}")
        sleep 1
        n=$(alive "${running[@]}" "${queued[@]}")
        if [ "$n" != 50 ]; then
                WHY_TIMING+="${WHY_TIMING:+; }only $n of the 50 calls on the stopped host were stuck"
        fi

        probe read read "$MNT/lf/x@"
        probe big-read read "$MNT/lf/big@"
        probe scratch writeread "$MNT/scr/w@" "scratch @"
        probe ls-root readdir "$MNT"
        probe stat-root stat "$MNT"
        probe ls-l-folder readdirstat "$MNT/lf"
        echo "# with $n calls stuck on the stopped host, worst of 5 (ms):" \
                "$(for name in read big-read scratch ls-root stat-root ls-l-folder; do
                        printf '%s %s, ' "$name" "${PROBE[$name]}"; done)"
        for name in read big-read scratch ls-root stat-root ls-l-folder; do
                if ! awk -v t="${PROBE[$name]}" 'BEGIN { exit !(t ~ /^[0-9.]+$/ && t < 100) }'; then
                        WHY_TIMING+="${WHY_TIMING:+; }$name took ${PROBE[$name]} ms (limit 100)"
                fi
        done

        # SIGKILL: one whose lookup runs on the host, one queued; and a
        # SIGTERM that ends its caller (default action) as SIGKILL does.
        kill -KILL "${running[0]}" "${stats[0]}"
        kill -TERM "${running[1]}"
        gone_within "${running[0]}" 10 ||
                WHY_KILL_RUNNING="the killed stat of sf/f1 (running) was still there after 1 s"
        gone_within "${running[1]}" 10 ||
                WHY_KILL_RUNNING+="${WHY_KILL_RUNNING:+; }the stat of sf/f2 (running) ended by SIGTERM was still there after 1 s"
        gone_within "${stats[0]}" 10 ||
                WHY_KILL_QUEUED="the killed stat of sf/f41 (queued) was still there after 1 s"

        kill -CONT "$BINDFS_PID"
        for pid in "${running[@]}" "${queued[@]}"; do
                if ! gone_within "$pid" 300; then
                        WHY_RESUME="call $pid still stuck 30 s after the host resumed"
                        kill -KILL "$pid"
                fi
                { wait "$pid"; } 2>/dev/null
        done
        for i in $(seq 3 10) $(seq 42 50); do
                [ -f "$T/run$i.out" ] && name=$T/run$i.out || name=$T/stat$i.out
                [ "$(cat "$name")" = "$(stat -c %s "$SB/f$i")" ] ||
                        WHY_RESUME+="${WHY_RESUME:+; }stat of sf/f$i gave '$(cat "$name")'"
        done
        for i in $(seq 11 35); do
                cmp -s "$T/cat$i.out" "$SB/r$i" ||
                        WHY_RESUME+="${WHY_RESUME:+; }cat of sf/r$i gave other data ($(head -c 60 "$T/cat$i.out" | tr -c '[:print:]' .))"
        done
        for i in $(seq 5); do
                [ "$(cat "$T/ls$i.out")" = "in$i" ] ||
                        WHY_RESUME+="${WHY_RESUME:+; }ls of sf/d$i gave '$(cat "$T/ls$i.out")'"
        done

        # Back to the baseline: the extra workers end once idle, and every
        # lookup the killed callers' requests made is forgotten with them.
        for i in $(seq 50); do
                threads=$(threads_of "$DAEMON_PID")
                [ "$threads" -le "$base_threads" ] && break
                sleep 0.1
        done
        for i in $(seq 10); do
                forget_caches
                asuser $U stat "$MNT/sf" "$MNT/lf" "$MNT/scr" >/dev/null
                fds=$(fds_of "$DAEMON_PID")
                [ "$fds" -le "$base_fds" ] && break
        done
        echo "# daemon threads $base_threads before, $threads after; descriptors $base_fds before, $fds after"
        [ "$threads" = "$base_threads" ] ||
                WHY_LEAK="threads: expected $base_threads got $threads"
        [ "$fds" = "$base_fds" ] ||
                WHY_LEAK+="${WHY_LEAK:+; }descriptors: expected $base_fds got $fds"
        daemon_stop "$MNT" "$DAEMON_PID"
}

storm_result() {
        ITEST_WHY=$1
        [ -z "$1" ]
}

with_fifty_calls_stuck_a_healthy_folder_scratch_and_the_root_answer_within_100_ms() {
        [ $STORM_RAN = 1 ] || fifty_stuck_calls
        storm_result "$WHY_TIMING"
}

a_caller_killed_or_ended_by_sigterm_while_its_lookup_runs_is_gone_within_1_s() {
        storm_result "$WHY_KILL_RUNNING"
}

a_killed_caller_whose_lookup_is_queued_is_gone_within_1_s() {
        storm_result "$WHY_KILL_QUEUED"
}

the_stuck_calls_complete_once_the_host_resumes() {
        storm_result "$WHY_RESUME"
}

the_daemons_threads_and_descriptors_come_back_to_their_baseline() {
        storm_result "$WHY_LEAK"
}

# Two sessions share sf; with the host stopped, twelve stats and a cat in
# each wait on it (more than the limit), while each session's other folder
# and root answer; a file is changed on the storage host meanwhile, and the
# stuck cats read the new data once it resumes.
two_sessions_sharing_the_stalled_hosts_folder_both_keep_answering() {
        local m2=$T/mnt2 pid1 pid2 m i pid t
        local -a stuck=()
        mkdir -p "$m2"
        must_start "$MNT" alice
        pid1=$DAEMON_PID
        must_start "$m2" alice
        pid2=$DAEMON_PID
        printf 'before\n' >"$SB/f70"
        asuser $U stat "$MNT/sf" "$m2/sf" >/dev/null
        kill -STOP "$BINDFS_PID"
        for m in "$MNT" "$m2"; do
                for i in $(seq 51 62); do
                        spawn /dev/null stat "$m/sf/f$i"
                        stuck+=($!)
                done
        done
        wait_sent "${stuck[@]}"
        spawn "$T/two1.out" cat "$MNT/sf/f70"
        stuck+=($!)
        spawn "$T/two2.out" cat "$m2/sf/f70"
        stuck+=($!)
        printf 'changed underneath\n' >"$SB_SOURCE/f70"
        wait_sent "${stuck[@]}"
        [ "$(alive "${stuck[@]}")" = 26 ] ||
                ITEST_WHY="only $(alive "${stuck[@]}") of the 26 calls waited on the stopped host"
        for m in "$MNT" "$m2"; do
                for t in "read $m/lf/x" "readdir $m" "stat $m"; do
                        # shellcheck disable=SC2086 # t is OP PATH
                        pid=$(timeout -s KILL 5 setpriv --reuid=$U --regid=$U --clear-groups -- \
                                "$FSOP" timed $t 2>&1)
                        [[ $pid =~ ^[0-9]+$ ]] && [ "$pid" -lt 100000 ] ||
                                ITEST_WHY+="${ITEST_WHY:+; }$t: ${pid:-no answer within 5 s} (limit 100 ms)"
                done
        done
        kill -CONT "$BINDFS_PID"
        for pid in "${stuck[@]}"; do
                gone_within "$pid" 300 || { ITEST_WHY+="${ITEST_WHY:+; }call $pid still stuck"; kill -KILL "$pid"; }
                { wait "$pid"; } 2>/dev/null
        done
        daemon_stop "$m2" "$pid2"
        daemon_stop "$MNT" "$pid1"
        [ -z "$ITEST_WHY" ] || return 1
        assert_eq "changed underneath / changed underneath" \
                "$(cat "$T/two1.out") / $(cat "$T/two2.out")" "the cats of f70 in the two sessions"
}

# With max_threads=2: two stats run on the stopped host, a third is queued;
# a running one and the queued one get SIGUSR1, which they catch.
a_caught_signal_does_not_make_a_stuck_stat_fail() {
        local r1 r2 q
        must_start "$MNT" alice max_threads=2
        asuser $U stat "$MNT/sf" >/dev/null
        kill -STOP "$BINDFS_PID"
        spawn "$T/sig1.out" "$FSOP" sigstat "$MNT/sf/f161"
        r1=$!
        spawn "$T/sig2.out" "$FSOP" sigstat "$MNT/sf/f162"
        r2=$!
        wait_sent "$r1" "$r2"
        spawn "$T/sig3.out" "$FSOP" sigstat "$MNT/sf/f163"
        q=$!
        wait_sent "$q"
        sleep 0.1
        kill -USR1 "$r1" "$q"
        sleep 0.5
        [ "$(alive "$r1" "$r2" "$q")" = 3 ] ||
                ITEST_WHY="a stat ended on SIGUSR1 while the host was stopped: $(cat "$T"/sig[13].out | tr '\n' ' ')"
        # A later SIGUSR1 again, then the host resumes.
        kill -USR1 "$r1" "$q"
        sleep 0.3
        kill -CONT "$BINDFS_PID"
        for pid in "$r1" "$r2" "$q"; do
                gone_within "$pid" 100 || kill -KILL "$pid"
                { wait "$pid"; } 2>/dev/null
        done
        daemon_stop "$MNT" "$DAEMON_PID"
        [ -z "$ITEST_WHY" ] || return 1
        assert_eq "ok ok ok" "$(cat "$T/sig1.out" "$T/sig2.out" "$T/sig3.out" | tr '\n' ' ' | sed 's/ $//')" \
                "the stats, once the host resumed"
}

max_threads_is_the_limit_per_storage_host() {
        local -a c=()
        local i
        must_start "$MNT" alice max_threads=3
        # Known to the kernel (for 1 s): each truncate's first request that
        # waits on the host is its SETATTR.
        asuser $U stat "$MNT/sf/t1" "$MNT/sf/t2" "$MNT/sf/t3" "$MNT/sf/t4" >/dev/null
        kill -STOP "$BINDFS_PID"
        for i in 1 2 3; do
                spawn "$T/trunc$i.out" "$FSOP" truncate "$MNT/sf/t$i" 0
                c+=($!)
        done
        wait_sent "${c[@]}"
        sleep 0.1
        spawn "$T/trunc4.out" "$FSOP" truncate "$MNT/sf/t4" 0
        c+=($!)
        wait_sent "${c[3]}"
        sleep 0.1
        [ "$(alive "${c[@]}")" = 4 ] ||
                ITEST_WHY="the truncates were not all stuck: $(cat "$T"/trunc?.out | tr '\n' ' ')"
        # The limit is the stalled host's: another folder still answers.
        [ -n "$ITEST_WHY" ] ||
                [ "$(asuser $U timeout -s KILL 5 "$FSOP" read "$MNT/lf/x" 2>&1)" = ok ] ||
                ITEST_WHY="a read in lf did not answer within 5 s while 3 truncates waited on sf"
        kill -KILL "${c[3]}" "${c[0]}"
        if [ -z "$ITEST_WHY" ]; then
                gone_within "${c[3]}" 10 ||
                        ITEST_WHY="the fourth truncate (queued) was still there 1 s after SIGKILL"
        fi
        if [ -z "$ITEST_WHY" ] && gone_within "${c[0]}" 10; then
                ITEST_WHY="the first truncate (running: it may truncate) was answered before the host resumed"
        fi
        kill -CONT "$BINDFS_PID"
        for pid in "${c[@]}"; do
                gone_within "$pid" 100 || kill -KILL "$pid"
                { wait "$pid"; } 2>/dev/null
        done
        daemon_stop "$MNT" "$DAEMON_PID"
        [ -z "$ITEST_WHY" ] || return 1
        assert_eq "ok ok" "$(cat "$T/trunc2.out" "$T/trunc3.out" | tr '\n' ' ' | sed 's/ $//')" \
                "the other running truncates" &&
        assert_eq "keep" "$(cat "$SB/t4")" "the file of the queued truncate that was killed"
}

# mounted_at DIR: whether DIR is a mount point, from /proc/self/mounts.
mounted_at() {
        awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# SIGTERM while calls wait on the stopped host: the session is unmounted
# at once (the waiting callers get an error instead of waiting), and the
# daemon, whose workers still wait on the host, exits once it resumes.
sigterm_with_calls_waiting_on_a_stalled_host_unmounts_at_once() {
        local -a p=()
        local i pid
        must_start "$MNT" alice
        asuser $U stat "$MNT/sf" >/dev/null
        kill -STOP "$BINDFS_PID"
        for i in $(seq 171 173); do
                spawn /dev/null stat "$MNT/sf/f$i"
                p+=($!)
        done
        wait_sent "${p[@]}"
        sleep 0.1
        kill -TERM "$DAEMON_PID"
        # Not mountpoint(1): its stat would wait on a daemon that answers
        # nothing any more.
        for i in $(seq 40); do
                mounted_at "$MNT" || break
                sleep 0.05
        done
        mounted_at "$MNT" &&
                ITEST_WHY="still mounted 2 s after SIGTERM"
        for pid in "${p[@]}"; do
                [ -z "$ITEST_WHY" ] && ! gone_within "$pid" 20 &&
                        ITEST_WHY="a stat waiting on the stopped host was still there 2 s after SIGTERM"
        done
        kill -CONT "$BINDFS_PID"
        for pid in "${p[@]}"; do
                gone_within "$pid" 100 || kill -KILL "$pid"
                { wait "$pid"; } 2>/dev/null
        done
        wait_exit "$DAEMON_PID" 100
        [ -z "$ITEST_WHY" ] || return 1
        assert_eq 0 "$WAIT_STATUS" "the daemon's exit status once the host resumed"
}

# stalled_host_case [OPTIONS]: on a fresh mount, stop the host, start a
# read of a file on it (stuck in a worker), then require three other
# requests to be answered within 5 s each; resume the host and require the
# stuck read to finish with the file's data.
stalled_host_case() {
        local reader ok=0 got
        must_start "$MNT" alice "${1:-}"
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

a_stalled_storage_host_holds_up_nothing_else_with_spin() {
        stalled_host_case spin=20
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

# workers_with OPTIONS: the worker counts of a daemon started with OPTIONS,
# when started ("a few": requests that overlap at the start may have made
# a second or third) and after a stall of more calls than its limit.
workers_with() {
        local first n i
        must_start "$MNT" alice "$1"
        asuser $U ls "$MNT" >/dev/null
        first=$(workers_of "$DAEMON_PID")
        [ "$first" -ge 1 ] && [ "$first" -le 3 ] && first="a few"
        fill_workers
        n=$(workers_of "$DAEMON_PID")
        daemon_stop "$MNT" "$DAEMON_PID"
        echo "$first, $n"
}

workers_start_on_demand_and_ten_stay_idle_by_default() {
        assert_eq "a few, 10" "$(workers_with "")" "workers named vfolderfs-work"
}

max_idle_threads_sets_the_number_of_idle_workers_kept() {
        assert_eq "a few, 3" "$(workers_with max_idle_threads=3)" "workers" &&
        assert_eq "a few, 4" "$(workers_with max_threads=4)" "workers with max_threads=4"
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

run_test with_fifty_calls_stuck_a_healthy_folder_scratch_and_the_root_answer_within_100_ms
run_test a_caller_killed_or_ended_by_sigterm_while_its_lookup_runs_is_gone_within_1_s
run_test a_killed_caller_whose_lookup_is_queued_is_gone_within_1_s
run_test the_stuck_calls_complete_once_the_host_resumes
run_test the_daemons_threads_and_descriptors_come_back_to_their_baseline
run_test two_sessions_sharing_the_stalled_hosts_folder_both_keep_answering
run_test a_caught_signal_does_not_make_a_stuck_stat_fail
run_test max_threads_is_the_limit_per_storage_host
run_test sigterm_with_calls_waiting_on_a_stalled_host_unmounts_at_once
run_test a_stalled_storage_host_holds_up_nothing_else_with_spin
run_test a_lookup_waiting_on_a_stalled_host_holds_up_no_other_name_in_the_root
run_test workers_start_on_demand_and_ten_stay_idle_by_default
run_test max_idle_threads_sets_the_number_of_idle_workers_kept
run_test a_spin_too_long_fails_the_start
kill -CONT "$BINDFS_PID" 2>/dev/null
itest_end
