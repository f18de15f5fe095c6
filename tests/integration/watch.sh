#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# watch.sh - the storage watcher (vfolderfs/watch.h, man vfolderfs(8)
# CACHING): in a folder on a local file system the kernel keeps names,
# attributes, listings and data for 60 s, and every change made elsewhere
# (another session's daemon, a program on the storage host) is invalidated
# as it happens; a folder on a file system that cannot be watched (here a
# FUSE storage host: bindfs), or a daemon started with -o nowatch, is
# cached for 1 s only.  The watcher's fanotify marks are on the directories
# the kernel knows: the count in the daemon's fdinfo follows a tree walk up
# and the kernel forgetting the inodes down.
#
# "As it happens" is checked by polling every 10 ms for at most 3 s: with
# the 60 s cache and no invalidation nothing would show before 60 s; the
# latency observed is printed as a "#" line (typically a few ms).

. "$(dirname "$0")/lib.sh"
itest_begin watch "$@"

U=1000
DEADLINE_S=3
must admin user add alice --uid $U --gid $U
must admin folder create shared --user alice
B=$(backing_of shared) || bail "no backing directory for folder shared"
mkdir -p "$B/dir"
printf 'one\n' >"$B/dir/file"
printf 'old\n' >"$B/dir/gone"
chown -R $U:$U "$B"
MNT2=$T/mnt2
mkdir -p "$MNT2"
chmod 755 "$MNT2"
STATS=$T/stats

# seen WHAT CMD...: poll CMD (every 10 ms) until it succeeds, at most
# DEADLINE_S; prints the delay.
seen() {
        local what=$1 t0 t
        shift
        t0=$EPOCHREALTIME
        while :; do
                if "$@" >/dev/null 2>&1; then
                        t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
                        echo "# $what after $t ms"
                        return 0
                fi
                if awk -v a="$t0" -v b="$EPOCHREALTIME" -v d=$DEADLINE_S 'BEGIN { exit !(b - a > d) }'; then
                        ITEST_WHY="expected $what within $DEADLINE_S s"
                        return 1
                fi
                sleep 0.01
        done
}

# requests_for_restat PATH [EXTRA]: on a fresh mount with counters (EXTRA:
# more daemon options), the user enters PATH's directory, stats PATH and
# lists the directory, waits 1.5 s, stats PATH 20 times and lists the
# directory twice; prints "LOOKUPS GETATTRS READDIRS" of the second part
# (the counts of a run without it subtracted).
requests_for_restat() {
        local path=$1 extra=${2:-} a b
        counts() {
                export VFOLDERFS_STATS=$STATS
                rm -f "$STATS"
                daemon_start "$MNT" alice "$extra" 2>"$T/start.err" ||
                        bail "cannot start the daemon: $(tr '\n' ' ' <"$T/start.err")"
                unset VFOLDERFS_STATS
                asuser $U python3 -c '
import os, sys, time
os.chdir(os.path.dirname(sys.argv[1]))
p = os.path.basename(sys.argv[1])
os.stat(p); os.listdir(".")
if sys.argv[2] == "1":
    time.sleep(1.5)
    for i in range(20):
        os.stat(p)
    os.listdir("."); os.listdir(".")' "$path" "$1" >/dev/null
                daemon_stop "$MNT" "$DAEMON_PID"
                awk '$1 == "lookup" { l = $2 } $1 == "getattr" { g = $2 }
                     $1 == "readdir" || $1 == "readdirplus" { r += $2 }
                     END { print l + 0, g + 0, r + 0 }' "$STATS"
        }
        a=$(counts 0)
        b=$(counts 1)
        awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y); print y[1] - x[1], y[2] - x[2], y[3] - x[3] }'
}

a_watched_folder_is_served_from_the_kernel_cache_after_one_second() {
        local got
        got=$(requests_for_restat "$MNT/shared/dir/file")
        echo "# lookups getattrs readdirs after 1.5 s: $got"
        # No lookup, no listing; at most the directory's attributes once
        # (the kernel marks its atime stale after a listing).
        assert "no lookup, no listing and at most one getattr 1.5 s later, got '$got'" \
                awk -v g="$got" 'BEGIN { split(g, x); exit !(x[1] == 0 && x[2] <= 1 && x[3] == 0) }'
}

with_nowatch_the_cache_lasts_one_second() {
        local got
        got=$(requests_for_restat "$MNT/shared/dir/file" nowatch)
        echo "# lookups getattrs readdirs after 1.5 s (nowatch): $got"
        assert "lookups again after 1.5 s, got '$got'" \
                awk -v g="$got" 'BEGIN { split(g, x); exit !(x[1] > 0) }'
}

has_entry() { asuser $U ls "$1" | grep -qx "$2"; }
lacks_entry() { ! asuser $U ls "$1" | grep -qx "$2"; }
reads_as() { [ "$(asuser $U cat "$2")" = "$1" ]; }
mode_is() { [ "$(asuser $U stat -c %a "$2")" = "$1" ]; }

changes_by_another_session_show_at_once() {
        local D1=$MNT/shared/dir D2=$MNT2/shared/dir p1 p2
        must_start "$MNT" alice
        p1=$DAEMON_PID
        must_start "$MNT2" alice
        p2=$DAEMON_PID
        # the observer caches the listing, the names, the attributes, the data
        asuser $U ls -l "$D1" >/dev/null
        reads_as one "$D1/file" || { ITEST_WHY="cannot read $D1/file"; return 1; }
        asuser $U stat "$D1/new" >/dev/null 2>&1 # a negative entry
        asuser $U sh -c "echo new >'$D2/new'"
        seen "a file created in another session" has_entry "$D1" new &&
        seen "its content" reads_as new "$D1/new" &&
        asuser $U rm "$D2/gone" &&
        seen "a file removed in another session" lacks_entry "$D1" gone &&
        asuser $U sh -c "echo two >>'$D2/file'" &&
        seen "an append in another session" reads_as "$(printf 'one\ntwo')" "$D1/file" &&
        asuser $U chmod 600 "$D2/file" &&
        seen "a chmod in another session" mode_is 600 "$D1/file" &&
        asuser $U mv "$D2/new" "$D2/renamed" &&
        seen "a rename in another session" has_entry "$D1" renamed &&
        lacks_entry "$D1" new || { ITEST_WHY=${ITEST_WHY:-"expected the old name to be gone"}; return 1; }
        asuser $U mkdir "$D2/sub" &&
        seen "a directory made in another session" has_entry "$D1" sub
        local rc=$?
        daemon_stop "$MNT2" "$p2"
        daemon_stop "$MNT" "$p1"
        return $rc
}

changes_on_the_storage_host_show_at_once() {
        local D1=$MNT/shared/dir
        must_start "$MNT" alice
        asuser $U ls -l "$D1" >/dev/null
        reads_as "$(printf 'one\ntwo')" "$D1/file" || { ITEST_WHY="cannot read $D1/file"; daemon_stop "$MNT" "$DAEMON_PID"; return 1; }
        printf 'host\n' >"$B/dir/hostfile"
        seen "a file created on the host" has_entry "$D1" hostfile &&
        printf 'three\n' >>"$B/dir/file" &&
        seen "an append on the host" reads_as "$(printf 'one\ntwo\nthree')" "$D1/file" &&
        rm "$B/dir/hostfile" &&
        seen "a removal on the host" lacks_entry "$D1" hostfile
        local rc=$?
        daemon_stop "$MNT" "$DAEMON_PID"
        return $rc
}

a_folder_on_unwatchable_storage_is_cached_for_one_second() {
        local FB=$T/fusestore-backing FS=$T/fusestore BB got
        mkdir -p "$FB" "$FS"
        bindfs "$FB" "$FS" || { ITEST_WHY="bindfs failed"; return 1; }
        must admin host add fusehost "$FS"
        must admin folder create onfuse --user alice --host fusehost
        BB=$(backing_of onfuse) || { ITEST_WHY="no backing directory for onfuse"; return 1; }
        mkdir "$BB/d"
        printf 'x\n' >"$BB/d/f"
        chown -R $U:$U "$BB"
        got=$(requests_for_restat "$MNT/onfuse/d/f")
        echo "# lookups getattrs readdirs after 1.5 s (FUSE storage): $got"
        assert "lookups again after 1.5 s, got '$got'" \
                awk -v g="$got" 'BEGIN { split(g, x); exit !(x[1] > 0) }' || return 1
        # and a change on that host still shows, by expiry
        must_start "$MNT" alice
        asuser $U ls "$MNT/onfuse/d" >/dev/null
        printf 'y\n' >"$BB/d/g"
        seen "a file created on the FUSE host (by expiry)" has_entry "$MNT/onfuse/d" g
        local rc=$?
        daemon_stop "$MNT" "$DAEMON_PID"
        return $rc
}

# marks PID: the number of inode marks of the daemon's fanotify group.
marks() {
        local fd
        for fd in /proc/"$1"/fd/*; do
                if [ "$(readlink "$fd")" = "anon_inode:[fanotify]" ]; then
                        grep -c '^fanotify ino:' /proc/"$1"/fdinfo/"${fd##*/}"
                        return
                fi
        done
        echo none
}

marks_follow_the_directories_the_kernel_knows() {
        local i before walked after
        for i in $(seq 40); do mkdir -p "$B/tree/d$i/e"; done
        chown -R $U:$U "$B/tree"
        must_start "$MNT" alice
        before=$(marks "$DAEMON_PID")
        asuser $U find "$MNT/shared/tree" >/dev/null
        walked=$(marks "$DAEMON_PID")
        sync
        echo 2 >/proc/sys/vm/drop_caches
        sleep 0.5
        after=$(marks "$DAEMON_PID")
        daemon_stop "$MNT" "$DAEMON_PID"
        rm -rf "$B/tree"
        echo "# marks: $before at start, $walked after walking 81 directories, $after after the kernel forgot them"
        assert "at least 81 marks more after the walk (before $before, after $walked)" \
                test "$walked" -ge $((before + 81)) &&
        assert "the marks removed with the kernel's inodes ($after left, $walked before)" \
                test "$after" -le $((before + 2))
}

# A kernel without fanotify file handles (before 5.9) has no watcher: the
# daemon says so at start, and there is nothing here to test.
must_start "$MNT" alice
daemon_stop "$MNT" "$DAEMON_PID"
if grep -q "cannot watch the storage" "$T/daemon.log"; then
        echo "integration-watch: $(grep -m1 "cannot watch the storage" "$T/daemon.log"); skipping"
        exit 77
fi

run_test marks_follow_the_directories_the_kernel_knows
run_test a_watched_folder_is_served_from_the_kernel_cache_after_one_second
run_test with_nowatch_the_cache_lasts_one_second
run_test changes_by_another_session_show_at_once
run_test changes_on_the_storage_host_show_at_once
watch_no_in_the_configuration_file_keeps_the_one_second_cache() {
        local got
        printf 'watch = no\n' >"$T/nowatch.conf"
        got=$(requests_for_restat "$MNT/shared/dir/file" "config=$T/nowatch.conf")
        echo "# lookups getattrs readdirs after 1.5 s (watch = no): $got"
        assert "lookups again after 1.5 s, got '$got'" \
                awk -v g="$got" 'BEGIN { split(g, x); exit !(x[1] > 0) }'
}

run_test watch_no_in_the_configuration_file_keeps_the_one_second_cache
run_test a_folder_on_unwatchable_storage_is_cached_for_one_second

itest_end
