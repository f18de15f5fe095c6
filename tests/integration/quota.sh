#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# quota.sh - SPEC section 2: a folder's quota is enforced by the daemon.  A
# write, truncate, fallocate or copy_file_range that would take the folder
# past its quota fails with EDQUOT and stores nothing past it; removing
# files gives the room back; several sessions (separate daemons) writing one
# folder at once share one limit (final usage <= quota and equal to what the
# folder really holds); statfs (df) inside the folder shows the quota as the
# size and what is left as free; a quota change reaches a running daemon;
# `fsck` reports a drifted usage counter and `fsck --repair` recounts it.
# A session's scratch limit (-o scratch_size, or the configuration file's
# scratch_size) is enforced the same way, shown by df at the session root,
# and a full scratch changes nothing for the catalog, other sessions or
# folders.
#
# What counts: st_size of regular files (each name of a hard link) -- the
# measure of `vfolderfs-admin usage`.

. "$(dirname "$0")/lib.sh"
itest_begin quota "$@"

U=1000
Q=1048576
must admin user add alice --uid $U --gid $U
must admin folder create q --user alice --quota 1M
must admin folder create free --user alice
must admin folder create shared --user alice --quota 4M
printf 'x%.0s' $(seq 1000) >"$(backing_of q)/seed"   # 1000 bytes before start

must_start "$MNT" alice

# py UID CODE ARGS...: python as UID; CODE prints the outcome.
py() {
        local uid=$1 code=$2
        shift 2
        asuser "$uid" /usr/bin/python3 -c "import errno, os, sys
def run(f):
    try:
        f()
        print('ok')
    except OSError as e:
        print(errno.errorcode[e.errno])
$code" "$@"
}

# writes PATH BYTES CHUNK: write BYTES in CHUNK-sized writes; prints ok or
# the errno that stopped it.
writes() {
        py $U '
def w():
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        left = int(sys.argv[2])
        while left > 0:
            n = min(left, int(sys.argv[3]))
            os.write(fd, b"a" * n)
            left -= n
    finally:
        os.close(fd)
run(w)' "$@"
}

size_of() { stat -c %s "$1"; }
usage_json() { admin --json usage "$1"; }
counted() { usage_json "$1" | jq -r .counted_bytes; }
real_bytes() { usage_json "$1" | jq -r .bytes; }

a_write_past_the_quota_fails_with_edquot_and_stores_nothing_past_it() {
        assert_eq ok "$(writes "$MNT/q/a" 1000000 65536)" "1000000 bytes under a 1 MiB quota" || return 1
        assert_eq EDQUOT "$(writes "$MNT/q/b" 100000 100000)" "100000 more bytes" || return 1
        assert_eq 0 "$(size_of "$(backing_of q)/b")" "bytes stored in b" || return 1
        assert_eq 1001000 "$(real_bytes q)" "what the folder holds" &&
        assert_eq 1001000 "$(counted q)" "the usage counter"
}

writing_exactly_up_to_the_quota_is_allowed() {
        local left=$((Q - $(real_bytes q)))
        assert_eq ok "$(writes "$MNT/q/b" $left 4096)" "the last $left bytes" &&
        assert_eq $Q "$(real_bytes q)" "the folder is full" &&
        assert_eq EDQUOT "$(writes "$MNT/q/b" 1 1)" "one byte more"
}

a_truncate_that_extends_past_the_quota_fails_with_edquot() {
        assert_eq EDQUOT "$(op $U truncate "$MNT/q/a" 2000000)" "truncate to 2000000" &&
        assert_eq 1000000 "$(size_of "$MNT/q/a")" "size after the refused truncate" &&
        assert_eq ok "$(op $U truncate "$MNT/q/a" 500000)" "shrinking truncate" &&
        assert_eq $((Q - 500000)) "$(counted q)" "counter after the shrink" &&
        assert_eq ok "$(op $U truncate "$MNT/q/a" 1000000)" "growing back within the quota"
}

removing_files_gives_the_room_back() {
        assert_eq ok "$(op $U unlink "$MNT/q/b")" "unlink b" &&
        assert_eq 1001000 "$(counted q)" "counter after unlink" &&
        assert_eq ok "$(writes "$MNT/q/c" 40000 40000)" "writing again"
}

fallocate_past_the_quota_fails_with_edquot() {
        assert_eq EDQUOT "$(py $U '
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
run(lambda: os.posix_fallocate(fd, 0, 200000))' "$MNT/q/f")" "fallocate of 200000" &&
        assert_eq 0 "$(size_of "$(backing_of q)/f")" "size of f" &&
        assert_eq ok "$(py $U '
fd = os.open(sys.argv[1], os.O_WRONLY, 0o644)
run(lambda: os.posix_fallocate(fd, 0, 2000))' "$MNT/q/f")" "fallocate of 2000" &&
        assert_eq 2000 "$(size_of "$(backing_of q)/f")" "size of f after fallocate" &&
        assert_eq EOPNOTSUPP "$(py $U '
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
fd = os.open(sys.argv[1], os.O_WRONLY, 0o644)
def keep_size():
    if libc.fallocate(fd, 1, 0, 500000) != 0:   # FALLOC_FL_KEEP_SIZE
        raise OSError(ctypes.get_errno(), "fallocate")
run(keep_size)' "$MNT/q/f" | sed s/^ENOTSUP$/EOPNOTSUPP/)" "keep-size preallocation past the end"
}

copy_file_range_past_the_quota_fails_with_edquot() {
        writes "$MNT/src" 300000 65536 >/dev/null
        assert_eq EDQUOT "$(py $U '
i = os.open(sys.argv[1], os.O_RDONLY)
o = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
run(lambda: os.copy_file_range(i, o, 300000))' "$MNT/src" "$MNT/q/copy")" "copying 300000 bytes" &&
        assert_eq 0 "$(size_of "$(backing_of q)/copy")" "size of the copy" &&
        assert_eq ok "$(py $U '
i = os.open(sys.argv[1], os.O_RDONLY)
o = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
run(lambda: os.copy_file_range(i, o, 3000))' "$MNT/src" "$MNT/q/copy")" "copying 3000 bytes" &&
        assert_eq "$(real_bytes q)" "$(counted q)" "counter after the copies"
}

df_shows_the_quota_as_size_and_the_rest_as_free() {
        local out bs blocks avail used
        out=$(asuser $U stat -f -c '%S %b %a' "$MNT/q") || { ITEST_WHY="statfs failed"; return 1; }
        read -r bs blocks avail <<<"$out"
        used=$(counted q)
        assert_eq $((Q / bs)) "$blocks" "size in $bs-byte blocks" &&
        assert_eq $(((Q - used) / bs)) "$avail" "free blocks with $used bytes used" &&
        assert_eq "$((Q / 1024))" "$(asuser $U df -k --output=size "$MNT/q" | tail -n 1 | tr -d ' ')" "df size in KiB"
}

a_quota_change_reaches_the_running_daemon() {
        local i got=
        assert_eq EDQUOT "$(writes "$MNT/q/big" 200000 200000)" "200000 bytes under 1 MiB" || return 1
        admin folder set q --quota 2M >/dev/null 2>&1 || { ITEST_WHY="folder set --quota failed"; return 1; }
        for i in $(seq 15); do
                got=$(writes "$MNT/q/big" 200000 200000)
                [ "$got" = ok ] && break
                sleep 0.1
        done
        assert_eq ok "$got" "the write within 1.5 s of raising the quota" &&
        assert_eq "$(real_bytes q)" "$(counted q)" "counter after the raise" || return 1
        admin folder set q --quota 1M >/dev/null 2>&1 || { ITEST_WHY="folder set --quota failed"; return 1; }
        for i in $(seq 15); do
                got=$(writes "$MNT/q/big" 10 10)
                [ "$got" = EDQUOT ] && break
                sleep 0.1
        done
        assert_eq EDQUOT "$got" "a write within 1.5 s of lowering the quota below the usage"
}

a_folder_without_quota_is_not_limited() {
        assert_eq ok "$(writes "$MNT/free/big" 3000000 1048576)" "3 MB in a folder without quota" &&
        assert_eq null "$(counted free)" "no counter for a folder without quota"
}

several_sessions_writing_one_folder_share_its_limit() {
        # three daemons (three sessions), three writers each, all at once
        local m pids=() i
        for i in 1 2 3; do
                m=$T/mnt$i
                mkdir -p "$m"
                daemon_start "$m" alice 2>"$T/start.err" || { ITEST_WHY="daemon $i: $(cat "$T/start.err")"; return 1; }
        done
        for i in 1 2 3; do
                for w in a b c; do
                        writes "$T/mnt$i/shared/w$i$w" 8000000 1000 >"$T/w$i$w.out" &
                        pids+=($!)
                done
        done
        wait "${pids[@]}"
        local stops
        stops=$(cat "$T"/w*.out | sort -u | tr '\n' ' ')
        assert_eq "EDQUOT " "$stops" "how every writer stopped" || return 1
        local real counter
        real=$(real_bytes shared)
        counter=$(counted shared)
        assert_eq "$real" "$counter" "counter against the folder's real total" || return 1
        if [ "$real" -gt $((4 * Q)) ]; then
                ITEST_WHY="expected at most $((4 * Q)) bytes got $real"
                return 1
        fi
        # a writer stops when its next 1000-byte write does not fit
        if [ "$real" -le $((4 * Q - 1000)) ]; then
                ITEST_WHY="expected the folder filled to within one write of $((4 * Q)) got $real"
                return 1
        fi
        echo "# 9 writers in 3 daemons filled the 4 MiB quota to $real bytes"
}

appends_through_two_sessions_are_held_to_the_real_end_of_the_file() {
        # The second session's kernel still believes the file empty (its
        # attribute cache), so its O_APPEND write comes with offset 0; the
        # data lands at the real end, and that is what must be checked.
        must admin folder create app --user alice --quota 1M
        local i
        for i in $(seq 30); do
                [ -d "$T/mnt1/app" ] && [ -d "$T/mnt2/app" ] && break
                sleep 0.1
        done
        assert_eq EDQUOT "$(py $U '
f1 = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
f2 = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND)
os.fstat(f2)
os.write(f1, b"a" * 600000)
run(lambda: os.write(f2, b"b" * 600000))' "$T/mnt1/app/f" "$T/mnt2/app/f")" "the second 600000-byte append" &&
        assert_eq 600000 "$(real_bytes app)" "what the folder holds"
}

fsck_reports_a_drifted_counter_and_repair_recounts_it() {
        printf 'written-behind-the-daemons-back' >"$(backing_of q)/direct"
        local issues
        issues=$(admin --json fsck 2>/dev/null)
        jq -e 'map(select(.kind == "usage-drift")) | length == 1' >/dev/null <<<"$issues" ||
                { ITEST_WHY="expected one usage-drift issue from fsck got $issues"; return 1; }
        assert_eq "$(($(real_bytes q) - 31))" "$(counted q)" "counter before repair" &&
        assert "fsck --repair to succeed" admin fsck --repair &&
        assert_eq "$(real_bytes q)" "$(counted q)" "counter after repair" &&
        assert_eq 0 "$(admin --json fsck | jq 'map(select(.kind == "usage-drift")) | length')" "drift issues after repair"
}

files_put_is_held_to_the_same_counter() {
        local left f
        # make room (the quota change test left the folder over its quota)
        for f in big c copy f; do
                op $U unlink "$MNT/q/$f" >/dev/null
        done
        left=$((Q - $(counted q)))
        if [ "$left" -le 0 ]; then
                ITEST_WHY="expected room in the folder, $left bytes left"
                return 1
        fi
        head -c $((left + 1)) /dev/zero >"$T/upload"
        refute "files put of one byte more than is left to fail" admin files put q "$T/upload" up &&
        head -c "$left" /dev/zero >"$T/upload" &&
        assert "files put of exactly what is left to work" admin files put q "$T/upload" up &&
        assert_eq $Q "$(counted q)" "counter after the upload" &&
        assert_eq EDQUOT "$(writes "$MNT/q/more" 1 1)" "a write in the session after the upload" || return 1
        # files rm gives the room back to the sessions
        assert "files rm to work" admin files rm q up &&
        assert_eq "$(real_bytes q)" "$(counted q)" "counter after files rm" &&
        assert_eq ok "$(writes "$MNT/q/more" 1 1)" "a write in the session after files rm"
}

# timed NAME: run_test NAME and print its duration as a "#" line.
timed() {
        local s=$EPOCHREALTIME
        run_test "$@"
        echo "# $1 took $(awk -v a="$s" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

[ -n "${QUOTA_ONLY:-}" ] && { timed "$QUOTA_ONLY"; itest_end; }
timed a_write_past_the_quota_fails_with_edquot_and_stores_nothing_past_it
timed writing_exactly_up_to_the_quota_is_allowed
timed a_truncate_that_extends_past_the_quota_fails_with_edquot
timed removing_files_gives_the_room_back
timed fallocate_past_the_quota_fails_with_edquot
timed copy_file_range_past_the_quota_fails_with_edquot
timed df_shows_the_quota_as_size_and_the_rest_as_free
timed a_quota_change_reaches_the_running_daemon
timed a_folder_without_quota_is_not_limited
timed several_sessions_writing_one_folder_share_its_limit
timed appends_through_two_sessions_are_held_to_the_real_end_of_the_file
timed fsck_reports_a_drifted_counter_and_repair_recounts_it
timed files_put_is_held_to_the_same_counter
for p in "${DAEMON_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
done
daemon_stop "$MNT" "$DAEMON_PID"

# ---- scratch_size: the session's scratch limit (SPEC section 6) -------------
# Session A runs with a 1 MiB scratch limit, session B (same user) with none.
SMNT=$T/smnt
mkdir -p "$SMNT"
chmod 755 "$SMNT"
must_start "$MNT" alice scratch_size=1M
PA=$DAEMON_PID
SA=$SCRATCH/$(session_of "$PA")
must_start "$SMNT" alice
PB=$DAEMON_PID

scratch_writes_past_the_limit_fail_with_edquot_and_store_nothing_past_it() {
        assert_eq ok "$(writes "$MNT/s1" 1000000 65536)" "1000000 bytes under a 1 MiB limit" &&
        assert_eq EDQUOT "$(writes "$MNT/s2" 100000 100000)" "100000 more bytes" &&
        assert_eq 0 "$(size_of "$SA/s2")" "bytes stored in s2" &&
        assert_eq EDQUOT "$(op $U truncate "$MNT/s1" 2000000)" "truncate to 2000000" &&
        assert_eq 1000000 "$(size_of "$SA/s1")" "s1 after the refused truncate"
}

df_of_the_session_root_shows_the_scratch_limit() {
        local out bs blocks avail
        out=$(asuser $U stat -f -c '%S %b %a' "$MNT") || { ITEST_WHY="statfs failed"; return 1; }
        read -r bs blocks avail <<<"$out"
        assert_eq $((Q / bs)) "$blocks" "size in $bs-byte blocks" &&
        assert_eq $(((Q - 1000000) / bs)) "$avail" "free blocks with 1000000 bytes used" &&
        assert_eq 1024 "$(asuser $U df -k --output=size "$MNT" | tail -n 1 | tr -d ' ')" "df size in KiB"
}

a_full_scratch_changes_nothing_for_the_catalog_other_sessions_or_folders() {
        # A's scratch is full (previous cases); everything else goes on.
        assert_eq EDQUOT "$(writes "$MNT/s3" 100000 100000)" "A's scratch is full" &&
        assert_eq ok "$(writes "$SMNT/big" 2000000 65536)" "2 MB in B's scratch" &&
        assert_eq ok "$(writes "$MNT/free/fromA" 2000000 65536)" "2 MB into a folder from A" &&
        assert "the catalog to answer" admin folder list &&
        assert_eq 2000000 "$(size_of "$(backing_of free)/fromA")" "what the folder holds"
}

removing_scratch_files_gives_the_room_back() {
        asuser $U rm -f "$MNT/s1" "$MNT/s2" "$MNT/s3"
        assert_eq ok "$(writes "$MNT/s4" 1000000 65536)" "1000000 bytes after the removal"
}

a_bad_scratch_size_fails_the_start_and_records_nothing() {
        local before status m=$T/badmnt
        mkdir -p "$m"
        before=$(admin --json session list --all | jq length)
        "$VFOLDERFS" -f -o "allow_other,catalog=$CAT,scratch=$SCRATCH,scratch_size=lots" \
                alice "$m" >"$T/ss.out" 2>"$T/ss.err"
        status=$?
        assert_eq 2 "$status" "exit status" &&
        assert_eq "vfolderfs: bad option 'scratch_size=lots': expected a size such as 10G, or none" \
                "$(head -n 1 "$T/ss.err")" "message" &&
        refute "the mountpoint to be mounted" mountpoint -q "$m" &&
        assert_eq "$before" "$(admin --json session list --all | jq length)" "sessions"
}

the_configuration_file_gives_the_default_limit_and_the_option_wins() {
        local conf=$T/vf.conf size_conf size_opt
        printf 'scratch_size = 2M\n' >"$conf"
        daemon_stop "$SMNT" "$PB"
        must_start "$SMNT" alice "config=$conf"
        size_conf=$(asuser $U df -k --output=size "$SMNT" | tail -n 1 | tr -d ' ')
        daemon_stop "$SMNT" "$DAEMON_PID"
        must_start "$SMNT" alice "config=$conf,scratch_size=512K"
        size_opt=$(asuser $U df -k --output=size "$SMNT" | tail -n 1 | tr -d ' ')
        daemon_stop "$SMNT" "$DAEMON_PID"
        assert_eq 2048 "$size_conf" "df size (KiB) from the configuration file" &&
        assert_eq 512 "$size_opt" "df size (KiB) with -o scratch_size=512K"
}

timed scratch_writes_past_the_limit_fail_with_edquot_and_store_nothing_past_it
timed df_of_the_session_root_shows_the_scratch_limit
timed a_full_scratch_changes_nothing_for_the_catalog_other_sessions_or_folders
timed removing_scratch_files_gives_the_room_back
timed a_bad_scratch_size_fails_the_start_and_records_nothing
timed the_configuration_file_gives_the_default_limit_and_the_option_wins
daemon_stop "$MNT" "$PA"

itest_end
