#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# catalog-damage.sh - SPEC sections 5 and 7 (issue #6): a damaged catalog gets
# a clear error, never a crash and never a silent reset.  A small, valid
# catalog (a host, two users, folders, a share, an ended session) is copied
# and damaged in each of these ways:
#   truncated   at 0 bytes, inside the 100-byte header, after the first page,
#               in the middle, one page short, at an odd size;
#   corrupted   the header magic, the page-size field, page 1 (the schema),
#               the root pages of the users, folders and sessions tables and
#               of an index, with random bytes;
#   newer       PRAGMA user_version above the schema this build knows;
#   read-only   an intact catalog on a tmpfs remounted read-only.
# On each copy every admin read command (host/user/folder/session/mount
# list, folder info, usage, fsck) and write command (init, user add, folder
# create, session create) runs, and the daemon is started on
# it.  Every command must end by exit (never a signal, never hang) with 0 or
# its documented failure status 1 and then exactly one line on stderr
# ("vfolderfs-admin: ..." / "vfolderfs: ..."), no sanitizer report; the
# catalog file must be byte-identical afterwards unless a command succeeded
# in writing to it.  Stricter, per kind:
#   truncated (but at the odd size)/corrupt header/newer: every command and
#     the daemon fail, and the message names the catalog (newer: says
#     "newer");
#   corrupted pages, and the odd-size truncation (which cuts only the last
#     page): integrity_check fails (the damage is real), `fsck` does not pass, the daemon either fails with one
#     line or mounts and unmounts cleanly;
#   read-only: read commands print exactly what they print on the writable
#     original, writes and the daemon fail with one line saying "read-only".
# The empty (0-byte) file is refused by every command but `init`, which is
# run last on it and must make it a sound catalog (1ee16e1).

. "$(dirname "$0")/../integration/lib.sh"
itest_begin catalog-damage "$@"

must admin user add alice --uid 1000 --gid 1000
must admin user add bob --uid 1001 --gid 1001
must admin folder create f1 --user alice
must admin folder create f2 --user alice --quota 10M
must admin folder create shared --user bob
must admin folder share shared alice --permission ro
SID0=$(admin session create --user alice --mount f1) || bail "session create failed"
must admin session end "$SID0"
must admin files put f1 /etc/hostname notes
# Every admin process has closed the catalog, so its WAL is checkpointed and
# gone: the file alone is the catalog.
[ ! -e "$CAT-wal" ] || bail "the catalog still has a WAL file"
GOOD=$T/good.db
cp "$CAT" "$GOOD"
PAGE=$(sqlite3 "$GOOD" 'PRAGMA page_size')
SIZE=$(stat -c %s "$GOOD")
root_of() { sqlite3 "$GOOD" "SELECT rootpage FROM sqlite_master WHERE name = '$1'"; }

READ_CMDS=("host list" "user list" "folder list --user alice" "folder info f1"
        "session list --all" "mount list" "usage f1" "fsck")
WRITE_CMDS=("init" "user add carol" "folder create zz --user alice"
        "session create --user alice")

# overwrite FILE OFFSET COUNT: COUNT random bytes at OFFSET.
overwrite() {
        head -c "$3" /dev/urandom | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# damage NAME FILE: make FILE a copy of the good catalog damaged as NAME.
damage() {
        cp "$GOOD" "$2"
        case $1 in
        truncated-0) truncate -s 0 "$2" ;;
        truncated-50) truncate -s 50 "$2" ;;
        truncated-page) truncate -s "$PAGE" "$2" ;;
        truncated-half) truncate -s $((SIZE / PAGE / 2 * PAGE)) "$2" ;;
        truncated-1page) truncate -s $((SIZE - PAGE)) "$2" ;;
        truncated-odd) truncate -s $((SIZE - 1000)) "$2" ;;
        corrupt-magic) printf 'NOT A DATABASE!!' | dd of="$2" conv=notrunc status=none ;;
        corrupt-pagesize) printf '\x00\x03' | dd of="$2" bs=1 seek=16 conv=notrunc status=none ;;
        corrupt-schema) overwrite "$2" 100 $((PAGE - 100)) ;;
        corrupt-users) overwrite "$2" $(($(root_of users) * PAGE - PAGE)) "$PAGE" ;;
        corrupt-folders) overwrite "$2" $(($(root_of folders) * PAGE - PAGE)) "$PAGE" ;;
        corrupt-sessions) overwrite "$2" $(($(root_of sessions) * PAGE - PAGE)) "$PAGE" ;;
        corrupt-index) overwrite "$2" $(($(root_of folders_by_name) * PAGE - PAGE)) "$PAGE" ;;
        newer) sqlite3 "$2" 'PRAGMA user_version = 9999' ;;
        *) return 1 ;;
        esac
}

# one_line_error PREFIX FILE: FILE holds exactly one line starting PREFIX.
one_line_error() {
        [ "$(wc -l <"$2")" = 1 ] && [ "$(head -c ${#1} "$2")" = "$1" ]
}

sanitizer_in() { grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$1"; }

# run_admin CATALOG KIND CMD: run one admin command on CATALOG; add to WHY
# on a violation.  KIND: fail (must fail), any (0 or 1), same (must succeed
# and print what it prints on the writable original $GOOD_RO_REF).
# $CATALOG.ref holds the catalog as it must be: after a command that failed
# or only read, the file must equal it; a successful write updates it.
run_admin() {
        local cat=$1 kind=$2 cmd=$3 rc want err
        # shellcheck disable=SC2086
        timeout 60 "$VFOLDERFS_ADMIN" --catalog "$cat" $cmd >"$T/out" 2>"$T/err"
        rc=$?
        err=$(<"$T/err")
        if [ "$rc" -ge 124 ]; then
                WHY+=("'$cmd' ended by a signal or timeout (status $rc)")
                return
        fi
        if [[ $err == *Sanitizer* || $err == *"runtime error:"* ]]; then
                WHY+=("'$cmd': sanitizer report: ${err:0:300}")
                return
        fi
        case $rc in
        0) ;;
        1) [[ $err == "vfolderfs-admin: "* && $err != *$'\n'* ]] ||
                WHY+=("'$cmd' failed without one 'vfolderfs-admin:' line: ${err:0:300}")
           LAST_ERR=$err ;;
        *) WHY+=("'$cmd' exit status $rc (expected 0 or 1)"); return ;;
        esac
        if [ "$kind" = fail ] && [ "$rc" = 0 ]; then
                WHY+=("'$cmd' succeeded on a damaged catalog: $(head -c 200 "$T/out" | tr '\n' '|')")
        fi
        if [ "$kind" = fail ] && [ -n "$MUST_SAY" ] && [ "$rc" = 1 ] &&
                [[ $err != *"$MUST_SAY"* ]]; then
                WHY+=("'$cmd' error does not say '$MUST_SAY': $err")
        fi
        if [ "$kind" = same ]; then
                want=$("$VFOLDERFS_ADMIN" --catalog "$GOOD_RO_REF" $cmd 2>&1)
                [ "$rc" = 0 ] && [ "$(<"$T/out")" = "$want" ] ||
                        WHY+=("'$cmd' on the read-only catalog: status $rc, output differs from the writable copy: ${err:0:200}")
        fi
        if ! cmp -s "$cat" "$cat.ref"; then
                if [ "$rc" = 0 ] && [[ " ${WRITE_CMDS[*]} session list --all fsck " == *" $cmd "* ]]; then
                        cp "$cat" "$cat.ref"
                else
                        WHY+=("'$cmd' (status $rc) changed the catalog file")
                fi
        fi
}

# run_daemon CATALOG KIND: KIND fail (must fail with one line) or any
# (fail with one line, or mount and stop cleanly).
run_daemon() {
        local cat=$1 kind=$2 pid
        : >"$T/d.err"
        env --default-signal=INT "$VFOLDERFS" -f -o "allow_other,catalog=$cat,scratch=$SCRATCH" \
                alice "$MNT" >/dev/null 2>"$T/d.err" &
        pid=$!
        DAEMON_PIDS+=("$pid")
        local i
        for i in $(seq 100); do
                mountpoint -q "$MNT" && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        if mountpoint -q "$MNT"; then
                if [ "$kind" = fail ]; then
                        WHY+=("the daemon mounted a damaged catalog")
                fi
                daemon_stop "$MNT" "$pid"
                [ "$WAIT_STATUS" = 0 ] || WHY+=("the daemon on a damaged catalog stopped with status $WAIT_STATUS")
                return
        fi
        wait_exit "$pid" 50
        if [ "$WAIT_STATUS" = running ]; then
                kill -KILL "$pid" 2>/dev/null
                WHY+=("the daemon neither mounted nor exited in 15 s")
                return
        fi
        if sanitizer_in "$T/d.err"; then
                WHY+=("daemon: sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$T/d.err")")
        elif [ "$WAIT_STATUS" != 1 ] || ! one_line_error "vfolderfs: " "$T/d.err"; then
                WHY+=("the daemon failed with status $WAIT_STATUS and not one 'vfolderfs:' line: $(head -c 300 "$T/d.err" | tr '\n' '|')")
        elif [ -n "$MUST_SAY" ] && ! grep -qF -- "$MUST_SAY" "$T/d.err"; then
                WHY+=("the daemon's error does not say '$MUST_SAY': $(cat "$T/d.err")")
        fi
        cmp -s "$cat" "$cat.ref" || WHY+=("a failed daemon start changed the catalog file")
        DAEMON_MSG=$(cat "$T/d.err")
}

# damage_case NAME KIND: KIND unopenable (everything fails) or pages.
damage_case() {
        local name=$1 kind=$2 cat=$T/damaged-$1.db c
        WHY=()
        MUST_SAY=
        LAST_ERR=
        DAEMON_MSG=
        damage "$name" "$cat" || { ITEST_WHY="unknown damage $name"; return 1; }
        cp "$cat" "$cat.ref"
        cp "$cat" "$cat.orig"
        if [ "$kind" = unopenable ]; then
                MUST_SAY=$cat
                [ "$name" = newer ] && MUST_SAY="newer"
                for c in "${READ_CMDS[@]}" "${WRITE_CMDS[@]}"; do
                        [ "$name" = truncated-0 ] && [ "$c" = init ] && continue
                        run_admin "$cat" fail "$c"
                done
                run_daemon "$cat" fail
                cmp -s "$cat" "$cat.orig" || WHY+=("the catalog file changed")
                if [ "$name" = truncated-0 ]; then
                        "$VFOLDERFS_ADMIN" --catalog "$cat" init >/dev/null 2>"$T/err" ||
                                WHY+=("init of an empty file failed: $(<"$T/err")")
                        [ "$(sqlite3 "$cat" 'PRAGMA integrity_check' 2>&1)" = ok ] &&
                                "$VFOLDERFS_ADMIN" --catalog "$cat" user list >/dev/null 2>&1 ||
                                WHY+=("init did not make the empty file a sound catalog")
                fi
        else
                [ "$(sqlite3 "$cat" 'PRAGMA integrity_check' 2>&1 | head -n 1)" != ok ] ||
                        WHY+=("the damage did not damage (integrity_check ok)")
                for c in "${READ_CMDS[@]}"; do
                        run_admin "$cat" any "$c"
                done
                run_admin "$cat" fail fsck
                for c in "${WRITE_CMDS[@]}"; do
                        run_admin "$cat" any "$c"
                done
                run_daemon "$cat" any
        fi
        echo "# $name: admin says: ${LAST_ERR:-nothing}; daemon says: ${DAEMON_MSG:-(mounted)}"
        rm -f "$cat" "$cat-wal" "$cat-shm" "$cat.ref" "$cat.orig"
        ITEST_WHY="${WHY[*]}"
        [ ${#WHY[@]} -eq 0 ]
}

# run_case NAME KIND: one damage case, reported as damaged_NAME.
run_case() {
        local name=$1
        ITEST_WHY=
        if damage_case "$@"; then
                report "damaged_$name" 0
        else
                report "damaged_$name" 1 "$ITEST_WHY"
        fi
}

for c in truncated-0 truncated-50 truncated-page truncated-half truncated-1page \
        corrupt-magic corrupt-pagesize corrupt-schema newer; do
        run_case "$c" unopenable
done
for c in truncated-odd corrupt-users corrupt-folders corrupt-sessions corrupt-index; do
        run_case "$c" pages
done

# ---- read-only file system ---------------------------------------------------
read_only_catalog_reads_work_and_writes_fail_clearly() {
        local ro=$T/rofs c ref
        WHY=()
        MUST_SAY="read-only"
        mkdir -p "$ro"
        mount -t tmpfs -o size=4m tmpfs "$ro" || { ITEST_WHY="cannot mount a tmpfs"; return 1; }
        cp "$GOOD" "$ro/catalog.db"
        cp "$GOOD" "$ro/catalog.db.ref"
        GOOD_RO_REF=$T/good-ro-ref.db
        cp "$GOOD" "$GOOD_RO_REF"
        mount -o remount,ro "$ro" || { ITEST_WHY="cannot remount read-only"; return 1; }
        for c in "${READ_CMDS[@]}"; do
                [ "$c" = fsck ] && continue # its output names the catalog path
                run_admin "$ro/catalog.db" same "$c"
        done
        run_admin "$ro/catalog.db" any fsck
        for c in "${WRITE_CMDS[@]}"; do
                [ "$c" = init ] && continue # nothing to migrate: a no-op
                run_admin "$ro/catalog.db" fail "$c"
        done
        run_daemon "$ro/catalog.db" fail
        cmp -s "$ro/catalog.db" "$GOOD" || WHY+=("the read-only catalog changed")
        echo "# read-only: admin says: ${LAST_ERR:-nothing}; daemon says: ${DAEMON_MSG:-(mounted)}"
        umount "$ro"
        ITEST_WHY="${WHY[*]}"
        [ ${#WHY[@]} -eq 0 ]
}
run_test read_only_catalog_reads_work_and_writes_fail_clearly

the_original_catalog_is_untouched_and_sound() {
        assert "the original catalog byte-identical to its copy" cmp -s "$CAT" "$GOOD" &&
        assert_eq ok "$(sqlite3 "$CAT" 'PRAGMA integrity_check' 2>&1)" "integrity_check"
}
run_test the_original_catalog_is_untouched_and_sound
itest_end
