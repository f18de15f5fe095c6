#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# catalog-load.sh - SPEC section 5 (issue #6): many daemons and admin
# commands use one catalog at once without "database is locked" reaching
# anyone.  For LOAD_SECONDS (default 20; 120 with HARDEN_LONG=1), at once:
#   - 8 admin workers, each looping: folder create (own user), rename,
#     share with the next worker's user (and, for folders it never trashes,
#     with one daemon user, whose next daemon mounts it), set,
#     list --user (JSON checked), info, session create --mount + session end,
#     mount list, session list, files put + usage, and every other round
#     delete (trash) or delete + restore;
#   - 4 daemon slots, each looping: start a daemon for its own user (who
#     sees the folders the workers share with it), do file operations in the
#     mount as uid 1000 (create, write, read back, list, remove), then stop
#     it cleanly (fusermount3 -u), or every second round kill -9 it and
#     unmount lazily so that the next start must reap it under load.
# Then: no admin command failed and none died by a signal; no daemon start
# failed, every clean stop exited 0, every file operation worked; the words
# "locked" or a sanitizer report appear in no output; integrity_check is ok;
# fsck finds no issue; the catalog agrees with what succeeded: one folder
# per successful create (with its final name and ready/trash status), every
# recorded share visible to its grantee, every admin-made session ended,
# every daemon session (killed ones included) ended, no live session left.
# Prints the number of admin commands, daemon rounds and file operations.

. "$(dirname "$0")/../integration/lib.sh"
itest_begin catalog-load "$@"

WORKERS=8
SLOTS=4
if [ "${HARDEN_LONG:-0}" = 1 ]; then
        DURATION=${LOAD_SECONDS:-120}
else
        DURATION=${LOAD_SECONDS:-20}
fi
U=1000

for i in $(seq 0 $((WORKERS - 1))); do
        must admin user add "u$i" --uid $((2000 + i)) --gid $((2000 + i))
done
for j in $(seq 0 $((SLOTS - 1))); do
        must admin user add "d$j" --uid $U --gid $U
        must admin folder create "data-d$j" --user "d$j"
        must admin folder create ".local-d$j" --user "d$j"
        mkdir -p "$T/m$j"
        chmod 755 "$T/m$j"
done
printf 'upload\n' >"$T/upload"
W=$T/load
mkdir -p "$W"

# Daemons started in background subshells are not in DAEMON_PIDS: kill them
# from the pid file before the harness's own cleanup.
load_cleanup() {
        local rc=$? p
        if [ -s "$W/pids" ]; then
                while read -r p; do kill -TERM "$p" 2>/dev/null; done <"$W/pids"
                sleep 0.5
                while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$W/pids"
        fi
        (exit "$rc")
        itest_cleanup
}
trap load_cleanup EXIT

END=$(($(date +%s) + DURATION))

# aw I ARGS...: one admin command of worker I; counted; failures logged.
aw() {
        local i=$1 rc
        shift
        echo x >>"$W/cmds.$i"
        admin "$@" >"$W/out.$i" 2>"$W/err.$i.last"
        rc=$?
        cat "$W/err.$i.last" >>"$W/err.$i"
        if [ "$rc" != 0 ]; then
                echo "exit $rc from: $*: $(cat "$W/err.$i.last")" >>"$W/fail.$i"
                return 1
        fi
}

worker() {
        local i=$1 next=$(( ($1 + 1) % WORKERS )) d=d$(( $1 % SLOTS )) n=0 name sid
        while [ "$(date +%s)" -lt "$END" ]; do
                n=$((n + 1))
                name=w$i-$n
                aw "$i" folder create "$name" --user "u$i" || continue
                if aw "$i" folder rename "$name" "$name-r"; then
                        name=$name-r
                fi
                echo "$name" >>"$W/created.$i"
                aw "$i" folder share "$name" "u$next" --permission ro &&
                        echo "$name u$next" >>"$W/shared.$i"
                # Only folders never trashed go to a daemon user (trashing a
                # folder mounted in a live session is refused, by design).
                if [ $((n % 3)) = 0 ]; then
                        aw "$i" folder share "$name" "$d" --permission rw &&
                                echo "$name $d" >>"$W/shared.$i"
                fi
                aw "$i" folder set "$name" --permission rw
                if aw "$i" --json folder list --user "u$i"; then
                        jq -e --arg n "$name" 'map(.name) | index($n) != null' "$W/out.$i" >/dev/null ||
                                echo "folder list --user u$i lacks $name: $(head -c 200 "$W/out.$i")" >>"$W/fail.$i"
                fi
                aw "$i" --json folder info "$name"
                if aw "$i" session create --user "u$i" --mount "$name"; then
                        sid=$(cat "$W/out.$i")
                        echo "$sid" >>"$W/sessions.$i"
                        aw "$i" session end "$sid" || echo "$sid" >>"$W/unended.$i"
                fi
                aw "$i" mount list
                aw "$i" session list
                aw "$i" files put "$name" "$T/upload" up.txt && aw "$i" usage "$name"
                case $((n % 3)) in
                1) aw "$i" folder delete "$name" && echo "$name" >>"$W/trashed.$i" ;;
                2) aw "$i" folder delete "$name" && aw "$i" folder restore "$name" ;;
                esac
        done
}

# file_ops J ROUND: file operations in slot J's mount as uid 1000.
file_ops() {
        local j=$1 r=$2 mnt=$T/m$1
        asuser $U sh -c '
                set -e
                d=$1/data-d$2
                for k in 1 2 3 4 5 6 7 8 9 10; do
                        printf "round %s file %s\n" "$3" "$k" >"$d/f$k"
                        [ "$(cat "$d/f$k")" = "round $3 file $k" ]
                done
                ls -la "$1" "$d" >/dev/null
                for k in 1 2 3 4 5; do rm "$d/f$k"; done
                # folders shared by the workers are readable
                for s in "$1"/w*; do [ -d "$s" ] && ls "$s" >/dev/null; done
                true' sh "$mnt" "$j" "$r" >>"$W/fileops.$j" 2>&1
}

slot() {
        local j=$1 r=0 pid
        while [ "$(date +%s)" -lt "$END" ]; do
                r=$((r + 1))
                if ! daemon_start "$T/m$j" "d$j" 2>>"$W/dfail.$j"; then
                        echo "round $r: start failed" >>"$W/dfail.$j"
                        fusermount3 -uz "$T/m$j" 2>/dev/null
                        sleep 0.2
                        continue
                fi
                pid=$DAEMON_PID
                echo "$pid" >>"$W/pids"
                echo "$pid" >>"$W/started.$j"
                if file_ops "$j" "$r"; then
                        echo x >>"$W/fileops-ok.$j"
                else
                        echo "round $r: file operations failed: $(tail -n 2 "$W/fileops.$j" | tr '\n' ' ')" >>"$W/dfail.$j"
                fi
                if [ $((r % 2)) = 0 ]; then
                        kill -KILL "$pid"
                        wait "$pid" 2>/dev/null
                        umount -l "$T/m$j" 2>/dev/null || fusermount3 -uz "$T/m$j"
                        echo x >>"$W/killed.$j"
                else
                        daemon_stop "$T/m$j" "$pid"
                        [ "$WAIT_STATUS" = 0 ] ||
                                echo "round $r: clean stop gave status $WAIT_STATUS" >>"$W/dfail.$j"
                fi
        done
        # End with a clean daemon round so that the last kill is reaped.
        if daemon_start "$T/m$j" "d$j" 2>>"$W/dfail.$j"; then
                echo "$DAEMON_PID" >>"$W/pids"
                echo "$DAEMON_PID" >>"$W/started.$j"
                daemon_stop "$T/m$j" "$DAEMON_PID"
                [ "$WAIT_STATUS" = 0 ] || echo "last round: status $WAIT_STATUS" >>"$W/dfail.$j"
        else
                echo "last round: start failed" >>"$W/dfail.$j"
        fi
}

START=$SECONDS
bg=()
for j in $(seq 0 $((SLOTS - 1))); do
        slot "$j" &
        bg+=($!)
done
for i in $(seq 0 $((WORKERS - 1))); do
        worker "$i" &
        bg+=($!)
done
wait "${bg[@]}"
ELAPSED=$((SECONDS - START))

count() { cat "$@" 2>/dev/null | wc -l; }
CMDS=$(count "$W"/cmds.*)
ROUNDS=$(count "$W"/started.*)
KILLS=$(count "$W"/killed.*)
echo "# $ELAPSED s: $CMDS admin commands by $WORKERS workers, $ROUNDS daemon starts ($KILLS killed -9) in $SLOTS slots, $(count "$W"/fileops-ok.*) file-op rounds"

no_admin_command_failed() {
        local f
        f=$(cat "$W"/fail.* 2>/dev/null)
        assert "admin commands to run (got $CMDS)" test "$CMDS" -gt $((WORKERS * 5)) &&
        assert_eq "" "$(head -c 600 <<<"$f")" "admin failures ($(wc -l <<<"$f" | tr -d ' ') lines)"
}

no_daemon_round_failed() {
        assert "daemon rounds to run (got $ROUNDS)" test "$ROUNDS" -ge $((SLOTS * 2)) &&
        assert_eq "" "$(cat "$W"/dfail.* 2>/dev/null | head -c 600)" "daemon failures"
}

nobody_saw_a_locked_catalog_or_a_sanitizer_report() {
        local hits
        hits=$(cat "$W"/err.* "$W"/fail.* "$W"/dfail.* "$W"/fileops.* "$T/daemon.log" 2>/dev/null |
                grep -iE 'locked|Sanitizer|runtime error:' | head -n 3)
        assert_eq "" "$hits" "lines mentioning a lock or a sanitizer report"
}

the_catalog_is_sound() {
        assert_eq ok "$(sqlite3 "$CAT" 'PRAGMA integrity_check' 2>&1)" "integrity_check" &&
        assert_eq 0 "$(admin --json fsck | jq length)" "fsck issues" &&
        assert_eq 0 "$(admin --json session list | jq length)" "live sessions"
}

the_catalog_holds_exactly_what_succeeded() {
        local i j want got name user all sessions
        all=$(admin --json folder list) || { ITEST_WHY="folder list failed"; return 1; }
        sessions=$(admin --json session list --all) || { ITEST_WHY="session list failed"; return 1; }
        for i in $(seq 0 $((WORKERS - 1))); do
                want=$(sort "$W/created.$i" 2>/dev/null | tr '\n' ' ')
                got=$(jq -r --arg u "u$i" '.[] | select(.owner == $u) | .name' <<<"$all" | sort | tr '\n' ' ')
                assert_eq "$want" "$got" "folders of u$i" || return 1
                want=$(sort "$W/trashed.$i" 2>/dev/null | tr '\n' ' ')
                got=$(jq -r --arg u "u$i" '.[] | select(.owner == $u and .status == "trash") | .name' <<<"$all" | sort | tr '\n' ' ')
                assert_eq "$want" "$got" "trashed folders of u$i" || return 1
                while read -r name user; do
                        [ -n "$name" ] || continue
                        admin --json folder list --user "$user" |
                                jq -e --arg n "$name" 'map(.name) | index($n) != null' >/dev/null ||
                                { ITEST_WHY="share of $name with $user not visible"; return 1; }
                done < <(cat "$W/shared.$i" 2>/dev/null)
                want=$(count "$W/sessions.$i")
                got=$(jq --arg u "u$i" '[.[] | select(.user == $u and .ended_at != null)] | length' <<<"$sessions")
                assert_eq "$want" "$got" "ended sessions of u$i" || return 1
        done
        for j in $(seq 0 $((SLOTS - 1))); do
                want=$(count "$W/started.$j")
                got=$(jq --arg u "d$j" '[.[] | select(.user == $u and .ended_at != null and .pid != null)] | length' <<<"$sessions")
                assert_eq "$want" "$got" "ended daemon sessions of d$j" || return 1
        done
}

run_test no_admin_command_failed
run_test no_daemon_round_failed
run_test nobody_saw_a_locked_catalog_or_a_sanitizer_report
run_test the_catalog_is_sound
run_test the_catalog_holds_exactly_what_succeeded
itest_end
