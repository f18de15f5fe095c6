#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# diskfull.sh - SPEC section 7 (issue #6): full disks break nothing.
# 1. The storage host's root is an 8 MiB tmpfs (inside the private mount
#    namespace).  The session user (uid 1000) writes a known pattern into a
#    file of folder `big` until a write fails: the writer gets exactly
#    ENOSPC; the partial file is intact up to every byte the writer was told
#    it wrote (checked through the mount and on the host); the daemon stays
#    up; folder `small` on the same host stays readable; after the writer
#    removes its file, `small` is writable again; the catalog is sound
#    (integrity_check ok, fsck clean); a write that finds the disk full
#    while the daemon has yet to close a file just removed (its closer
#    thread held back 3 s by VFOLDERFS_TEST_CLOSE_DELAY_MS) waits for that
#    space and succeeds.
# 2. The catalog's own file system is full (a 2 MiB tmpfs filled up): every
#    admin command either works or fails with exit 1 and one line
#    "vfolderfs-admin: ..." (writes: saying the disk is full), nothing is
#    killed by a signal; the daemon either fails with one line or mounts and
#    stops cleanly; once space is freed the catalog passes integrity_check,
#    holds exactly what succeeded, and takes writes again.
# Needs HARDEN_CRASHWRITER (tests/hardening/crashwriter.c), set by meson.

if [ -z "${HARDEN_CRASHWRITER:-}" ] || [ ! -x "$HARDEN_CRASHWRITER" ]; then
        echo "diskfull: \$HARDEN_CRASHWRITER is not set to an executable" >&2
        exit 1
fi
. "$(dirname "$0")/../integration/lib.sh"
itest_begin diskfull "$@"

CW=$HARDEN_CRASHWRITER
U=1000
# The host root registered by itest_begin is still empty: put a small tmpfs
# over it (itest_cleanup unmounts everything under $T).
mount -t tmpfs -o size=8m,mode=755 tmpfs "$STORE" || bail "cannot mount a tmpfs on $STORE"
must admin user add alice --uid $U --gid $U
must admin folder create big --user alice
must admin folder create small --user alice
BIG=$(backing_of big) || bail "no backing directory for big"
SMALL=$(backing_of small) || bail "no backing directory for small"
printf 'precious\n' >"$SMALL/keep"
chmod 644 "$SMALL/keep"
must_start "$MNT" alice
PID=$DAEMON_PID

FILL_ERR=
FILL_BYTES=
the_writer_gets_ENOSPC_when_the_host_is_full() {
        local out
        out=$(asuser $U "$CW" fill "$MNT/big/fill" 65536 2>&1)
        FILL_ERR=${out% *}
        FILL_BYTES=${out#* }
        echo "# fill: $out"
        assert_eq ENOSPC "$FILL_ERR" "errno of the failing write" &&
        assert "some bytes written before ENOSPC (got '$FILL_BYTES')" test "${FILL_BYTES:-0}" -gt 1048576 &&
        assert "no more than the tmpfs size written (got $FILL_BYTES)" test "$FILL_BYTES" -le 8388608
}

the_partial_file_is_intact_up_to_what_was_written() {
        assert_eq "$FILL_BYTES" "$(stat -c %s "$BIG/fill" 2>&1)" "size of the partial file on the host" &&
        assert_eq "$FILL_BYTES" "$(asuser $U stat -c %s "$MNT/big/fill" 2>&1)" "size through the mount" &&
        assert_eq ok "$("$CW" checkfill "$BIG/fill" "$FILL_BYTES")" "content on the host" &&
        assert_eq ok "$(asuser $U "$CW" checkfill "$MNT/big/fill" "$FILL_BYTES")" "content through the mount"
}

the_daemon_and_the_other_folder_survive_the_full_disk() {
        assert "the daemon alive" kill -0 "$PID" &&
        assert "the mount still mounted" mountpoint -q "$MNT" &&
        assert_eq precious "$(asuser $U cat "$MNT/small/keep" 2>&1)" "small/keep while the disk is full" &&
        assert_eq ok "$(op $U create "$MNT/small/more" 0644)" "create (no data) in small while the disk is full" &&
        assert_eq ENOSPC "$(op $U write "$MNT/small/more" "$(head -c 65536 /dev/zero | tr '\0' x)")" \
                "a 64 KiB write to small while the disk is full"
}

after_freeing_space_the_other_folder_is_writable() {
        assert_eq ok "$(op $U unlink "$MNT/big/fill")" "unlink of the full file (wd)" &&
        assert_eq ok "$(op $U create "$MNT/small/after" 0644)" "create in small" &&
        assert_eq ok "$(op $U write "$MNT/small/after" "written after the disk was freed")" "write to small" &&
        assert_eq "written after the disk was freed" "$(cat "$SMALL/after" 2>&1)" "content on the host" &&
        assert_eq precious "$(asuser $U cat "$MNT/small/keep" 2>&1)" "small/keep" &&
        assert_eq ok "$(op $U write "$MNT/small/more" "big enough now")" "write to small/more"
}

# write_mib NAME MIB: as the user, write MIB MiB to big/NAME; prints "ok
# BYTES" or "ERRNO BYTES" (bytes written before the error).
write_mib() {
        asuser $U python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
total, n, chunk = int(sys.argv[2]) << 20, 0, b"x" * 65536
try:
    while n < total:  # a short write (the disk filling) is retried
        n += os.write(fd, chunk[:total - n])
    os.close(fd)
    print("ok", n)
except OSError as e:
    print(errno.errorcode[e.errno], n)' "$MNT/big/$1" "$2" 2>&1
}

a_write_waits_for_the_space_of_files_just_removed() {
        # The closer thread frees a removed file's space when it closes
        # the daemon's descriptor of it; here it waits 3 s first, so a
        # write that finds the disk full meets that space still held, and
        # must wait for the closer and try again rather than fail.
        local out t0 t1
        daemon_stop "$MNT" "$PID"
        export VFOLDERFS_TEST_CLOSE_DELAY_MS=3000
        daemon_start "$MNT" alice 2>"$T/start.err" ||
                bail "cannot start the daemon: $(tr '\n' ' ' <"$T/start.err")"
        unset VFOLDERFS_TEST_CLOSE_DELAY_MS
        PID=$DAEMON_PID
        out=$(write_mib first 5)
        assert_eq "ok 5242880" "$out" "writing 5 MiB to an empty 8 MiB disk" || return 1
        assert_eq ok "$(op $U unlink "$MNT/big/first")" "unlink of the 5 MiB file" || return 1
        sleep 0.5 # the kernel forgets the file; its descriptor waits
        t0=$EPOCHREALTIME
        out=$(write_mib second 5)
        t1=$EPOCHREALTIME
        echo "# second 5 MiB: $out in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
        assert_eq "ok 5242880" "$out" "writing 5 MiB more while the first file's space is still held" &&
        assert_eq 5242880 "$(stat -c %s "$BIG/second" 2>&1)" "size on the host" &&
        refute "the first file on the host" test -e "$BIG/first" &&
        assert_eq ok "$(op $U unlink "$MNT/big/second")" "unlink of the second file"
}

the_catalog_is_sound_after_the_full_disk() {
        daemon_stop "$MNT" "$PID"
        assert_eq 0 "$WAIT_STATUS" "daemon exit status after a clean unmount" &&
        assert_eq ok "$(sqlite3 "$CAT" 'PRAGMA integrity_check' 2>&1)" "integrity_check" &&
        assert_eq 0 "$(admin --json fsck | jq length)" "fsck issues" &&
        assert_eq 0 "$(admin --json session list | jq length)" "live sessions"
}

run_test the_writer_gets_ENOSPC_when_the_host_is_full
run_test the_partial_file_is_intact_up_to_what_was_written
run_test the_daemon_and_the_other_folder_survive_the_full_disk
run_test after_freeing_space_the_other_folder_is_writable
run_test a_write_waits_for_the_space_of_files_just_removed
run_test the_catalog_is_sound_after_the_full_disk

# ---- 2. the catalog's file system is full --------------------------------------
CFS=$T/catfs
C2=$CFS/catalog.db
mkdir -p "$CFS" "$T/store2" "$T/mnt2"
chmod 755 "$T/store2" "$T/mnt2"
mount -t tmpfs -o size=2m tmpfs "$CFS" || bail "cannot mount a tmpfs on $CFS"
admin2() { "$VFOLDERFS_ADMIN" --catalog "$C2" "$@"; }
must admin2 init
must admin2 host add local "$T/store2"
must admin2 user add alice --uid $U --gid $U
must admin2 folder create f1 --user alice
[ ! -e "$C2-wal" ] || bail "the catalog on $CFS still has a WAL file"
dd if=/dev/zero of="$CFS/filler" bs=4k status=none 2>/dev/null
[ "$(df --output=avail "$CFS" | tail -n 1)" -eq 0 ] || bail "could not fill $CFS"
cp "$C2" "$T/c2.before"

OK_USERS=alice
OK_FOLDERS=f1
admin_on_full_catalog_fails_with_one_line_or_works() {
        local c rc err why=() i
        for c in "user list" "folder list" "folder info f1" "session list --all" \
                "user add bob" "folder create f2 --user alice" "folder create f3 --user alice" \
                "session create --user alice" "fsck"; do
                # shellcheck disable=SC2086
                timeout 60 "$VFOLDERFS_ADMIN" --catalog "$C2" $c >"$T/out" 2>"$T/err"
                rc=$?
                err=$(<"$T/err")
                echo "# full catalog: '$c' -> $rc ${err:0:160}"
                if [[ $err == *Sanitizer* || $err == *"runtime error:"* ]]; then
                        why+=("'$c': sanitizer report")
                elif [ "$rc" = 0 ]; then
                        case $c in
                        "user add bob") OK_USERS+=" bob" ;;
                        "folder create f2"*) OK_FOLDERS+=" f2" ;;
                        "folder create f3"*) OK_FOLDERS+=" f3" ;;
                        esac
                elif [ "$rc" != 1 ] || [[ $err != "vfolderfs-admin: "* || $err == *$'\n'* ]]; then
                        why+=("'$c': status $rc, not one 'vfolderfs-admin:' line: ${err:0:200}")
                elif [[ $c == "user add"* || $c == "folder create"* ]] &&
                        ! grep -qiE 'full|space' "$T/err"; then
                        why+=("'$c' does not say the disk is full: $err")
                fi
        done
        ITEST_WHY="${why[*]}"
        [ ${#why[@]} -eq 0 ] &&
        assert "at least one write refused (users: $OK_USERS; folders: $OK_FOLDERS)" \
                test "$OK_USERS $OK_FOLDERS" != "alice bob f1 f2 f3"
}

the_daemon_on_a_full_catalog_fails_with_one_line_or_works() {
        local pid i err
        env --default-signal=INT "$VFOLDERFS" -f -o "allow_other,catalog=$C2,scratch=$T/scratch2" \
                alice "$T/mnt2" >/dev/null 2>"$T/d2.err" &
        pid=$!
        DAEMON_PIDS+=("$pid")
        for i in $(seq 100); do
                mountpoint -q "$T/mnt2" && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if mountpoint -q "$T/mnt2"; then
                echo "# full catalog: the daemon mounted"
                daemon_stop "$T/mnt2" "$pid"
                assert_eq 0 "$WAIT_STATUS" "exit status of the daemon on a full catalog"
                return
        fi
        wait_exit "$pid" 50
        err=$(<"$T/d2.err")
        echo "# full catalog: daemon -> $WAIT_STATUS ${err:0:160}"
        assert_eq 1 "$WAIT_STATUS" "exit status of the daemon on a full catalog" &&
        assert "one 'vfolderfs:' line (got '$err')" test "${err%%:*}" = vfolderfs -a "$(wc -l <"$T/d2.err")" = 1
}

the_full_catalog_is_sound_and_holds_what_succeeded_once_space_is_freed() {
        rm -f "$CFS/filler"
        assert_eq ok "$(sqlite3 "$C2" 'PRAGMA integrity_check' 2>&1)" "integrity_check" &&
        assert_eq "$(tr ' ' '\n' <<<"$OK_USERS" | sort | tr '\n' ' ')" \
                "$(admin2 --json user list | jq -r '.[].name' | sort | tr '\n' ' ')" "users" &&
        assert_eq "$(tr ' ' '\n' <<<"$OK_FOLDERS" | sort | tr '\n' ' ')" \
                "$(admin2 --json folder list | jq -r '.[].name' | sort | tr '\n' ' ')" "folders" &&
        assert "user add to work again" admin2 user add zed &&
        assert_eq ok "$(sqlite3 "$C2" 'PRAGMA integrity_check' 2>&1)" "integrity_check after a write"
}

run_test admin_on_full_catalog_fails_with_one_line_or_works
run_test the_daemon_on_a_full_catalog_fails_with_one_line_or_works
run_test the_full_catalog_is_sound_and_holds_what_succeeded_once_space_is_freed
itest_end
