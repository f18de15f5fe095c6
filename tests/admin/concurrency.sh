#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# concurrency.sh - SPEC section 5: many admin commands use one catalog at once
# without "database is locked" reaching anyone.  Eight admin processes run in
# parallel for several seconds, each creating, renaming, sharing, re-setting
# and listing folders; no command may fail, and the catalog must end up
# consistent: one folder per successful create, one grant per successful
# share, integrity_check ok, every folder's backing directory present and no
# stray one, fsck clean.
source "$(dirname "$0")/lib.sh"

WORKERS=8
DURATION=${CONC_SECONDS:-6}

# _worker I: loop until the deadline; log every failure to $T/fail.I.
_worker() {
        local i=$1 next=$((($1 + 1) % WORKERS)) n=0 name end
        end=$(($(date +%s) + DURATION))
        _w() { # ARGS...: run one command, log it if it fails
                if ! "$ADMIN" --catalog "$CAT" "$@" \
                        >"$T/out.$i" 2>"$T/err.$i.last"; then
                        echo "exit $? from: $*: $(cat "$T/err.$i.last")" >>"$T/fail.$i"
                        cat "$T/err.$i.last" >>"$T/err.$i"
                        return 1
                fi
                cat "$T/err.$i.last" >>"$T/err.$i"
        }
        while [[ $(date +%s) -lt $end ]]; do
                n=$((n + 1))
                name=w$i-$n
                _w folder create "$name" --user "u$i" || continue
                echo "$name" >>"$T/created.$i"
                _w folder rename "$name" "$name-r" && name=$name-r
                _w folder share "$name" "u$next" --permission ro && echo "$name" >>"$T/shared.$i"
                _w folder set "$name" --permission rw
                if _w --json folder list --user "u$i"; then
                        jq -e 'type == "array" and length > 0' "$T/out.$i" >/dev/null ||
                                echo "folder list --user u$i printed no folders: $(head -c 300 "$T/out.$i")" >>"$T/fail.$i"
                fi
                _w --json folder info "$name" --user "u$next" >/dev/null
        done
}

eight_parallel_admin_processes_never_fail_and_leave_a_consistent_catalog() {
        local i pids=() created shared folders grants
        setup_catalog
        for ((i = 0; i < WORKERS; i++)); do
                ok user add "u$i"
        done
        for ((i = 0; i < WORKERS; i++)); do
                _worker "$i" &
                pids+=($!)
        done
        trap 'kill "${pids[@]}" 2>/dev/null' EXIT
        wait "${pids[@]}"
        trap - EXIT

        if cat "$T"/fail.* >"$T/failures" 2>/dev/null && [[ -s $T/failures ]]; then
                fail "commands failed under concurrency" "no failure" "$(head -5 "$T/failures" | tr '\n' '|') ($(wc -l <"$T/failures") in all)"
        fi
        if cat "$T"/err.[0-9] 2>/dev/null | grep -qiE 'locked|busy'; then
                fail "a lock error reached the user" "no 'locked'/'busy'" "$(cat "$T"/err.[0-9] | grep -iE 'locked|busy' | head -3)"
        fi
        created=$(cat "$T"/created.* 2>/dev/null | wc -l)
        shared=$(cat "$T"/shared.* 2>/dev/null | wc -l)
        [[ $created -ge $WORKERS ]] || fail "too few creates to mean anything" ">= $WORKERS" "$created"
        echo "# $created folders created, $shared shared in ${DURATION}s by $WORKERS processes"

        folders=$(sql "SELECT count(*) FROM folders")
        assert_eq "$created" "$folders" "folders in the catalog vs successful creates"
        grants=$(sql "SELECT count(*) FROM grants")
        assert_eq "$shared" "$grants" "grants in the catalog vs successful shares"
        assert_eq 0 "$(sql "SELECT count(*) FROM folders WHERE name NOT LIKE '%-r' OR permission != 'rw'")" \
                "folders not renamed or not set to rw"
        assert_eq ok "$(sql "PRAGMA integrity_check")" "integrity_check"
        assert_eq "" "$(sql "PRAGMA foreign_key_check")" "foreign_key_check"

        # Every folder's backing directory exists, and there is no other one.
        local missing=0 path
        while read -r path; do
                [[ -d $ROOT/$path ]] || missing=$((missing + 1))
        done < <(sql "SELECT owner_type || '-' || owner_id || '/' ||
                             substr(replace(id, '-', ''), 1, 2) || '/' ||
                             substr(replace(id, '-', ''), 3, 2) || '/' ||
                             substr(replace(id, '-', ''), 5) FROM folders")
        assert_eq 0 "$missing" "folders without a backing directory"
        assert_eq "$folders" "$(find "$ROOT" -mindepth 4 -maxdepth 4 -type d | wc -l)" "backing directories on disk"
        ok --json fsck
        assert_jq '.' '[]' "fsck after the run"
}

# Name uniqueness under races: in each round eight processes create a folder
# of the same name for one user at once (half of them by sharing: a folder of
# that name shared to the user).  Exactly one may win; the losers fail with
# an error in the usual shape (never a lock error) and leave no backing
# directory behind.
same_name_raced_by_eight_processes_is_taken_once() {
        local round i pids rc ids creates=0 shares=0 rounds=8
        setup_catalog
        for ((i = 0; i < WORKERS; i++)); do
                ok user add "u$i"
        done
        for ((round = 0; round < rounds; round++)); do
                # u1..u3 each own a folder "r$round", to be shared to u0.
                ids=()
                for ((i = 1; i < 4; i++)); do
                        mkfolder "r$round" --user "u$i"
                        ids[$i]=$FID
                done
                pids=()
                for ((i = 0; i < WORKERS; i++)); do
                        if ((i >= 1 && i < 4)); then
                                "$ADMIN" --catalog "$CAT" folder share "${ids[$i]}" u0 --permission ro \
                                        >"$T/race.$i.out" 2>"$T/race.$i.err" &
                        else
                                "$ADMIN" --catalog "$CAT" folder create "r$round" --user u0 \
                                        >"$T/race.$i.out" 2>"$T/race.$i.err" &
                        fi
                        pids+=($!)
                done
                for ((i = 0; i < WORKERS; i++)); do
                        wait "${pids[$i]}"
                        rc=$?
                        if [[ $rc -eq 0 ]]; then
                                if ((i >= 1 && i < 4)); then
                                        shares=$((shares + 1))
                                else
                                        creates=$((creates + 1))
                                fi
                                continue
                        fi
                        cp "$T/race.$i.out" "$T/.out"
                        cp "$T/race.$i.err" "$T/.err"
                        # shellcheck disable=SC2034 # read by _check_error_shape and fail
                        RC=$rc OUT=$(<"$T/.out") ERR=$(<"$T/.err")
                        # shellcheck disable=SC2034
                        LAST_CMD="(round $round, process $i of the race)"
                        _check_error_shape
                        [[ $ERR != *locked* && $ERR != *busy* ]] || fail "a lock error reached the user" "a clash error" "$ERR"
                done
                ok --json folder list --user u0
                assert_jq "map(select(.name == \"r$round\")) | length" 1 "folders named r$round that u0 sees after round $round"
        done
        echo "# of $rounds rounds, $creates were won by a create, $shares by a share"
        assert_eq "$rounds" "$((creates + shares))" "winners, one per round"
        assert_eq "$((rounds * 3 + creates))" "$(sql "SELECT count(*) FROM folders")" "folders in the catalog"
        assert_eq "$shares" "$(sql "SELECT count(*) FROM grants")" "grants in the catalog"
        assert_eq "$((rounds * 3 + creates))" "$(find "$ROOT" -mindepth 4 -maxdepth 4 -type d | wc -l)" "backing directories on disk"
        assert_eq ok "$(sql "PRAGMA integrity_check")" "integrity_check"
}

run_tests concurrency "$@"
