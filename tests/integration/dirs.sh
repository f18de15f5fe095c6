#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# dirs.sh - directory listings without OPENDIR and RELEASEDIR (issue #5).
# The daemon answers the kernel's first OPENDIR with ENOSYS, after which no
# OPENDIR or RELEASEDIR is sent on the connection and the listing state
# (a directory stream, a view directory's snapshot) is kept per directory
# inode (vfolderfs/ops.c, "Directories").  These tests check that:
#   - listings cost no OPENDIR/RELEASEDIR requests and stay complete;
#   - a directory of 5,000 entries is listed completely and exactly once,
#     by `ls -f` and by two readers interleaving at different offsets while
#     entries come and go in another directory;
#   - the scratch root lists its scratch entries and folders exactly once,
#     also when a folder is shared in the middle of the listing;
#   - no directory stream is left open by finished listings, and listings
#     left unfinished stay within the descriptor limit;
#   - the kernel's cached listing follows a change on the storage host
#     within the attribute cache's second;
#   - a listing of a folder that is gone is still refused (EIO), and
#     fsync of a directory works without a handle;
#   - ls -l of the session root, whose listing gives folder entries
#     without attributes, shows each folder's backing directory's mode and
#     mtime, in two sessions, also after they change on the storage host.

. "$(dirname "$0")/lib.sh"
itest_begin dirs "$@"

U=1000
must admin user add alice --uid $U --gid $U
must admin folder create af --user alice
must admin folder create doomed --user alice
B=$(backing_of af) && [ -n "$B" ] || bail "no backing directory for folder af"
STATS=$T/stats
IO=$T/io # where the session user's helpers leave their results
mkdir -p "$IO"
chown $U:$U "$IO"

# counts_of OP: the count of OP in $STATS (0 when absent).
count_of() {
        awk -v op="$1" '$1 == op { n = $2 } END { print n + 0 }' "$STATS"
}

# dir_stream_count PID: the number of readable directory descriptors PID
# holds (not O_PATH: the inode table's descriptors do not count).
dir_stream_count() {
        python3 -c '
import os, stat, sys
pid, n = sys.argv[1], 0
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
            flags = int(f.read().split("flags:")[1].split()[0], 8)
        st = os.stat("/proc/%s/fd/%s" % (pid, fd))
    except (OSError, IndexError, ValueError):
        continue
    if not flags & 0o10000000 and stat.S_ISDIR(st.st_mode):
        n += 1
print(n)' "$1"
}

# A tree of 40 directories with 5 files each, and a directory of 5,000.
mkdir -p "$B/tree" "$B/big" "$B/churn"
mkdir -p "$B"/tree/d{1..40}/sub
touch "$B"/tree/d{1..40}/f{1..5}
(cd "$B/big" && seq -f 'entry-with-a-longish-name-%05g' 5000 | xargs touch)
chown -R $U:$U "$B"

listings_send_no_opendir_or_releasedir() {
        local want got
        export VFOLDERFS_STATS=$STATS
        rm -f "$STATS"
        daemon_start "$MNT" alice 2>"$T/start.err" ||
                bail "cannot start the daemon: $(tr '\n' ' ' <"$T/start.err")"
        unset VFOLDERFS_STATS
        want=$(cd "$B/tree" && find . | sort)
        got=$(cd "$MNT/af/tree" && asuser $U find . | sort)
        asuser $U ls -laR "$MNT/af/tree" >/dev/null 2>&1
        asuser $U ls -la "$MNT" >/dev/null 2>&1
        daemon_stop "$MNT" "$DAEMON_PID"
        assert_eq "$want" "$got" "the tree listed by find" || return 1
        # The first OPENDIR of the connection is what the ENOSYS answers.
        [ "$(count_of opendir)" -le 1 ] || {
                ITEST_WHY="expected at most 1 OPENDIR for $(count_of readdirplus) READDIRPLUS got $(count_of opendir)"
                return 1
        }
        assert_eq 0 "$(count_of releasedir)" "RELEASEDIR requests" &&
        [ "$(count_of readdirplus)" -ge 82 ] || {
                ITEST_WHY="${ITEST_WHY:-expected at least 82 READDIRPLUS (41 directories, twice) got $(count_of readdirplus)}"
                return 1
        }
}

a_large_directory_is_listed_exactly_once_by_ls() {
        local got
        got=$(asuser $U ls -f "$MNT/af/big" | sort)
        assert_eq 5002 "$(wc -l <<<"$got")" "entries listed (with . and ..)" &&
        assert_eq "$(ls -f "$B/big" | sort)" "$got" "the listing"
}

# Two readers of the same directory at different offsets (one starts when
# the other is a fifth of the way), each pausing every 50 entries so that
# their requests interleave, while a third process creates and removes
# names in that directory (each change drops the kernel's cached listing,
# so the readers' requests reach the daemon) and in another one.
two_interleaved_readers_each_list_a_large_directory_exactly_once() {
        local churn r1 r2 out
        asuser $U python3 -c '
import os, sys, time
end = time.time() + 30
i = 0
while time.time() < end and not os.path.exists(sys.argv[3]):
    for d in sys.argv[1:3]:
        p = os.path.join(d, "churn-%d" % (i % 200))
        open(p, "w").close()
        if i % 3 == 0:
            os.unlink(p)
    i += 1
    time.sleep(0.001)' "$MNT/af/big" "$MNT/af/churn" "$T/stop" 2>"$T/churn.err" &
        churn=$!
        cat >"$T/reader.py" <<'EOF'
import os, sys, time
d, start, out = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.time() + 20
while start != "-" and not os.path.exists(start) and time.time() < t:
    time.sleep(0.001)
names = []
with os.scandir(d) as it:
    for n, e in enumerate(it):
        names.append(e.name)
        if n == 20000:
            break  # a listing that does not end
        if n == 1000:
            open(out + ".started", "w").close()
        if n % 50 == 0:
            time.sleep(0.002)
open(out, "w").write("\n".join(names) + "\n")
EOF
        asuser $U python3 "$T/reader.py" "$MNT/af/big" - "$IO/r1" 2>"$IO/r1.err" &
        r1=$!
        # the second reader starts once the first passed entry 1000
        asuser $U python3 "$T/reader.py" "$MNT/af/big" "$IO/r1.started" "$IO/r2" 2>"$IO/r2.err" &
        r2=$!
        wait $r1 $r2
        touch "$T/stop"
        wait $churn
        for out in r1 r2; do
                [ -s "$IO/$out" ] || { ITEST_WHY="reader $out failed: $(cat "$IO/$out.err")"; return 1; }
                # churn names may or may not be listed
                grep -v '^churn-' "$IO/$out" >"$IO/$out.tmp" && mv "$IO/$out.tmp" "$IO/$out"
                assert_eq 5000 "$(wc -l <"$IO/$out")" "entries listed by $out" || return 1
                assert_eq 5000 "$(sort -u "$IO/$out" | wc -l)" "distinct entries listed by $out" || return 1
                assert_eq "$(ls "$B/big" | grep -v '^churn-' | sort)" "$(sort "$IO/$out")" "the listing of $out" || return 1
        done
}

# The scratch root merges scratch entries with folder entries.  A reader
# lists it slowly; after its first entries a folder is created (and so
# shared) with the admin tool, and the reader goes on only once the
# running session shows it.
the_scratch_root_lists_its_entries_and_folders_exactly_once_across_a_live_change() {
        local want got i
        asuser $U touch "$MNT"/scratch-entry-with-a-long-name-{1..600} || {
                ITEST_WHY="cannot create entries in the scratch root"
                return 1
        }
        want=$(printf '%s\n' . .. af doomed \
                scratch-entry-with-a-long-name-{1..600} | sort)
        asuser $U python3 -c '
import os, sys, time
names = []
with os.scandir(sys.argv[1]) as it:
    for n, e in enumerate(it):
        names.append(e.name)
        if n == 5000:
            break  # a listing that does not end
        if n == 20:
            open(sys.argv[2], "w").close()
            t = time.time() + 5
            while not os.path.exists(sys.argv[3]) and time.time() < t:
                time.sleep(0.05)
open(sys.argv[4], "w").write("\n".join(names) + "\n")' "$MNT" "$IO/mid" "$T/shared" "$IO/root.out" 2>"$T/root.err" &
        local reader=$!
        for i in $(seq 50); do [ -e "$IO/mid" ] && break; sleep 0.1; done
        [ -e "$IO/mid" ] || { ITEST_WHY="the reader did not start: $(cat "$T/root.err")"; return 1; }
        admin folder create newcomer --user alice >/dev/null 2>&1 || { ITEST_WHY="folder create failed"; return 1; }
        for i in $(seq 30); do
                [ "$(op $U stat "$MNT/newcomer")" = ok ] && break
                sleep 0.1
        done
        touch "$T/shared"
        wait $reader
        [ -s "$IO/root.out" ] || { ITEST_WHY="the reader failed: $(cat "$T/root.err")"; return 1; }
        # os.scandir leaves out . and ..; newcomer may or may not be listed
        got=$( (echo .; echo ..; grep -vx newcomer "$IO/root.out") | sort)
        assert_eq "$want" "$got" "the root listing" || return 1
        assert_eq 1 "$(grep -cx newcomer <(asuser $U ls -f "$MNT"))" "newcomer in a new listing" &&
        assert_eq "" "$(sort "$IO/root.out" | uniq -d)" "entries listed twice"
}

finished_listings_leave_no_directory_stream_behind() {
        local before after i
        mkdir -p "$B/many"
        mkdir "$B"/many/d{1..2000}
        touch "$B"/many/d{1..2000}/f
        chown -R $U:$U "$B/many"
        sleep 0.2
        before=$(dir_stream_count "$PID")
        assert_eq 4001 "$(asuser $U find "$MNT/af/many" | wc -l)" "entries found" || return 1
        after=$(dir_stream_count "$PID")
        [ "$after" -le $((before + 2)) ] || {
                ITEST_WHY="expected at most $((before + 2)) open directory streams after listing 2000 directories got $after (before: $before)"
                return 1
        }
}

# A daemon limited to 160 descriptors (a budget of 80) and 150 listings
# left open after their first entries: streams beyond the budget are not
# kept, so the daemon stays within its limit and every listing completes.
unfinished_listings_stay_within_the_descriptor_limit() {
        local pid i long
        long=$(printf 'n%.0s' {1..90})
        mkdir -p "$B"/open/d{1..150}
        for i in $(seq 150); do
                touch "$B/open/d$i/$long-"{1..300}
        done
        chown -R $U:$U "$B/open"
        printf '#!/bin/sh\nexec prlimit --nofile=160:160 "%s" "$@"\n' \
                "$VFOLDERFS" >"$T/vfolderfs-limited"
        chmod 755 "$T/vfolderfs-limited"
        mkdir -p "$T/mnt2"
        VFOLDERFS=$T/vfolderfs-limited daemon_start "$T/mnt2" alice 2>"$T/start.err" || {
                ITEST_WHY="cannot start the limited daemon: $(tr '\n' ' ' <"$T/start.err")"
                return 1
        }
        pid=$DAEMON_PID
        asuser $U python3 -c '
import os, sys, time
its = [os.scandir(os.path.join(sys.argv[1], "d%d" % i)) for i in range(1, 151)]
for it in its:
    next(it)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
counts = set(1 + sum(1 for _ in it) for it in its)
print(" ".join(str(c) for c in sorted(counts)))' "$T/mnt2/af/open" "$IO/opened" "$IO/count" >"$T/open.out" 2>&1 &
        local lister=$!
        for i in $(seq 300); do [ -e "$IO/opened" ] && break; sleep 0.1; done
        local fds
        fds=$(ls /proc/"$pid"/fd | wc -l)
        touch "$IO/count"
        wait $lister
        daemon_stop "$T/mnt2" "$pid"
        [ -e "$IO/opened" ] || { ITEST_WHY="the listings did not start: $(cat "$T/open.out")"; return 1; }
        [ "$fds" -le 160 ] || { ITEST_WHY="expected at most 160 descriptors got $fds"; return 1; }
        assert_eq 300 "$(cat "$T/open.out")" "entries of each listing"
}

# The kernel keeps a listing across opens (no OPENDIR answer can say
# otherwise); a name created on the storage host shows up once the
# one-second attribute cache has expired, as for lookups.
a_name_created_on_the_storage_host_is_listed_after_a_second() {
        asuser $U ls "$MNT/af/tree/d1" >/dev/null
        : >"$B/tree/d1/from-host"
        sleep 1.5
        assert_eq 1 "$(asuser $U ls "$MNT/af/tree/d1" | grep -cx from-host)" "from-host in the listing"
}

fsync_of_a_directory_works() {
        assert_eq ok "$(asuser $U python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
os.fsync(fd)
os.close(fd)
print("ok")' "$MNT/af/tree" 2>&1)" "fsync of a directory"
}

# ls -l LISTDIR: "MODE MTIME" of af in an ls -l of the session root.
af_in_root_listing() {
        asuser $U ls -ln --time-style=+%s "$1" | awk '$NF == "af" { print $1, $6 }'
}

# A listing of the session root gives folder entries without attributes
# (they are on each folder's storage host): ls -l then looks every folder
# up, and shows its backing directory's attributes, in two sessions, also
# after they changed on the storage host.
ls_l_of_the_root_shows_each_folders_attributes_in_two_sessions() {
        local m2=$T/mnt2 pid2 got1 got2
        mkdir -p "$m2"
        chmod 0750 "$B"
        touch -d @1600000000 "$B"
        daemon_start "$m2" alice 2>"$T/start2.err" || {
                ITEST_WHY="cannot start a second daemon: $(cat "$T/start2.err")"
                return 1
        }
        pid2=$DAEMON_PID
        sleep 1.1 # what either kernel knows of af expires
        got1=$(af_in_root_listing "$MNT")
        got2=$(af_in_root_listing "$m2")
        if [ "$got1 / $got2" != "drwxr-x--- 1600000000 / drwxr-x--- 1600000000" ]; then
                ITEST_WHY="ls -l of the roots: expected 'drwxr-x--- 1600000000' in both, got '$got1' and '$got2'"
        else
                chmod 0755 "$B"
                touch -d @1700000000 "$B"
                sleep 1.1
                got1=$(af_in_root_listing "$MNT")
                got2=$(af_in_root_listing "$m2")
                [ "$got1 / $got2" = "drwxr-xr-x 1700000000 / drwxr-xr-x 1700000000" ] ||
                        ITEST_WHY="after the change on the storage host: expected 'drwxr-xr-x 1700000000' in both, got '$got1' and '$got2'"
        fi
        daemon_stop "$m2" "$pid2"
        [ -z "$ITEST_WHY" ]
}

# A listing made from inside a folder that is force-trashed meanwhile is
# refused with EIO, as when OPENDIR checked it.
a_listing_in_a_gone_folder_is_refused_with_eio() {
        mkdir -p "$(backing_of doomed)/sub"
        chown -R $U:$U "$(backing_of doomed)"
        asuser $U python3 -c '
import errno, os, sys, time
os.chdir(sys.argv[1])
os.listdir(".")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
time.sleep(1.2)
try:
    os.listdir(".")
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$MNT/doomed/sub" "$IO/in" "$T/trashed" >"$T/gone.out" 2>&1 &
        local reader=$! i
        for i in $(seq 50); do [ -e "$IO/in" ] && break; sleep 0.1; done
        admin folder delete doomed --force >/dev/null 2>&1 || { ITEST_WHY="forced delete failed"; return 1; }
        touch "$T/trashed"
        wait $reader
        assert_eq EIO "$(cat "$T/gone.out")" "listing in the gone folder"
}

run_test listings_send_no_opendir_or_releasedir
must_start "$MNT" alice
PID=$DAEMON_PID
run_test a_large_directory_is_listed_exactly_once_by_ls
run_test two_interleaved_readers_each_list_a_large_directory_exactly_once
run_test the_scratch_root_lists_its_entries_and_folders_exactly_once_across_a_live_change
run_test finished_listings_leave_no_directory_stream_behind
run_test unfinished_listings_stay_within_the_descriptor_limit
run_test a_name_created_on_the_storage_host_is_listed_after_a_second
run_test fsync_of_a_directory_works
run_test ls_l_of_the_root_shows_each_folders_attributes_in_two_sessions
run_test a_listing_in_a_gone_folder_is_refused_with_eio
daemon_stop "$MNT" "$PID"
itest_end
