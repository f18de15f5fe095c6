#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# shared-integrity.sh - issue #6: data integrity across sessions.  Three
# daemons, each its own mount of the same folder S (alice's, shared wd with
# bob): two sessions of alice and one of bob.
#   - The exerciser (tests/hardening/exerciser.c) runs in all three at once,
#     each instance on its own files in S, while every session keeps reading
#     the others' files (so their page caches hold stale contents); once all
#     are done and the documented bound (1 s attribute cache) has passed,
#     every session compares every instance's files, through its own mount,
#     with that instance's final model, and so does the storage host.
#   - A file rewritten in place (same size) or shrunk by one session is seen
#     as such by another session that had it cached, after the bound.
#   - Three sessions write disjoint chunks of one file at once, with fsync,
#     close and reopen after each chunk (5000-byte chunks: neighbours share
#     pages), and again with O_DIRECT (64 KiB chunks); after the bound every
#     session, and the storage host, reads every chunk as its writer wrote it.
#
# Environment: HARDEN_EXERCISER (set by meson).  EXERCISER_SEED replays;
# EXERCISER_OPS sets operations per instance (default 1000; HARDEN_LONG=1
# gives 30000).

. "$(dirname "$0")/../integration/lib.sh" || exit 1
if [ -z "${HARDEN_EXERCISER:-}" ] || [ ! -x "$HARDEN_EXERCISER" ]; then
        echo "shared-integrity: \$HARDEN_EXERCISER is not set to an executable" >&2
        exit 1
fi
itest_begin shared-integrity "$@"

UA=1000
UB=1001
if [ -n "${EXERCISER_OPS:-}" ]; then
        OPS=$EXERCISER_OPS
elif [ -n "${HARDEN_LONG:-}" ]; then
        OPS=30000
else
        OPS=1000
fi
SEED=${EXERCISER_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
BOUND=1.2   # the 1 s attribute/entry cache of man/vfolderfs.8, plus margin

must admin user add alice --uid $UA --gid $UA
must admin user add bob --uid $UB --gid $UB
must admin folder create S --user alice --permission wd
must admin folder share S bob --permission wd
BS=$(backing_of S) || bail "no backing directory for folder S"
EXP=$T/expected
mkdir -p "$EXP" "$T/mnt2" "$T/mnt3"
chmod 777 "$EXP"
chmod 755 "$T/mnt2" "$T/mnt3"

# The three sessions: mount point and uid of each.
M=("$MNT" "$T/mnt2" "$T/mnt3")
UID_OF=($UA $UA $UB)
must_start "${M[0]}" alice
must_start "${M[1]}" alice
must_start "${M[2]}" bob
for i in 0 1 2; do
        asuser "${UID_OF[$i]}" test -d "${M[$i]}/S" || bail "session $i does not see S"
done

# cmp_as SESSION FILE EXPECTED: compare through that session's mount.
cmp_as() {
        asuser "${UID_OF[$1]}" cmp "$2" "$3" >"$T/cmp.out" 2>&1 && return 0
        ITEST_WHY="session $1 reads $2 differently from $3: $(head -c 200 "$T/cmp.out")"
        return 1
}

every_session_sees_every_exercisers_final_files() {
        local i j k pids=() rc t0=$SECONDS
        for i in 0 1 2; do
                asuser "${UID_OF[$i]}" "$HARDEN_EXERCISER" -s $((SEED + i)) -n "$OPS" -f 2 \
                        -t "s$i" -o "$EXP" "${M[$i]}/S" >"$T/ex$i.out" 2>&1 &
                pids+=($!)
        done
        # Every session keeps reading the others' files meanwhile, while
        # $T/reading exists (and for 10 minutes at most, so that no reader
        # outlives a failed run: the cleanup removes $T).
        local readers=()
        : >"$T/reading"
        for i in 0 1 2; do
                setpriv --reuid="${UID_OF[$i]}" --regid="${UID_OF[$i]}" --clear-groups -- \
                        sh -c 'n=0; while [ -e "$2" ] && [ $n -lt 12000 ]; do
                                cat "$1"/s*-* >/dev/null 2>&1; sleep 0.05; n=$((n + 1)); done' \
                        sh "${M[$i]}/S" "$T/reading" &
                readers+=($!)
        done
        rc=0
        for i in 0 1 2; do
                wait "${pids[$i]}" || rc=1
                sed "s/^/# session $i: /" "$T/ex$i.out" | grep -E 'seed|FAILED|^# session [0-9]: ok'
        done
        rm -f "$T/reading"
        wait "${readers[@]}" 2>/dev/null
        echo "# 3 x $OPS operations in $((SECONDS - t0)) s"
        assert_eq 0 "$rc" "exerciser status (see the lines above)" || return 1
        sleep "$BOUND"
        for i in 0 1 2; do
                for j in 0 1 2; do
                        for k in 0 1; do
                                cmp_as "$i" "${M[$i]}/S/s$j-$k" "$EXP/s$j-$k" || return 1
                        done
                done
        done
        for j in 0 1 2; do
                for k in 0 1; do
                        cmp "$BS/s$j-$k" "$EXP/s$j-$k" >/dev/null 2>&1 ||
                                { ITEST_WHY="storage host: s$j-$k differs from the model"; return 1; }
                done
        done
}

a_rewrite_and_a_shrink_reach_a_session_that_had_the_file_cached() {
        local v1 v2
        v1=$(head -c 30000 /dev/urandom | base64 -w0 | head -c 30000)
        v2=$(head -c 30000 /dev/urandom | base64 -w0 | head -c 30000)
        printf '%s' "$v1" >"$T/v1"
        printf '%s' "$v2" >"$T/v2"
        head -c 1000 "$T/v2" >"$T/v2short"
        chmod 644 "$T/v1" "$T/v2" "$T/v2short"
        asuser $UA cp "$T/v1" "${M[0]}/S/cached" || return 1
        sleep "$BOUND"
        cmp_as 2 "${M[2]}/S/cached" "$T/v1" || return 1      # bob caches v1
        cmp_as 1 "${M[1]}/S/cached" "$T/v1" || return 1
        # Same size, new bytes, in place (no new inode).
        asuser $UA dd if="$T/v2" of="${M[0]}/S/cached" conv=notrunc status=none || return 1
        sleep "$BOUND"
        cmp_as 2 "${M[2]}/S/cached" "$T/v2" || return 1
        cmp_as 1 "${M[1]}/S/cached" "$T/v2" || return 1
        # Shrunk by bob.
        asuser $UB truncate -s 1000 "${M[2]}/S/cached" || return 1
        sleep "$BOUND"
        cmp_as 0 "${M[0]}/S/cached" "$T/v2short" &&
        cmp_as 1 "${M[1]}/S/cached" "$T/v2short"
}

# stripes NAME CHUNK COUNT [-d]: three sessions write disjoint chunks at
# once, then everyone checks.
stripes() {
        local name=$1 chunk=$2 count=$3 i pids=() rc=0 seed=$((SEED + 7))
        shift 3
        asuser $UA truncate -s 0 "${M[0]}/S/$name" || return 1
        sleep "$BOUND"
        for i in 0 1 2; do
                asuser "${UID_OF[$i]}" "$HARDEN_EXERCISER" stripe -w $i -W 3 -c "$chunk" -C "$count" \
                        -s "$seed" "$@" "${M[$i]}/S/$name" >"$T/st$i.out" 2>&1 &
                pids+=($!)
        done
        for i in 0 1 2; do
                wait "${pids[$i]}" || rc=1
                echo "# $name session $i: $(tr '\n' ' ' <"$T/st$i.out")"
        done
        assert_eq 0 "$rc" "writer status" || return 1
        sleep "$BOUND"
        for i in 0 1 2; do
                asuser "${UID_OF[$i]}" "$HARDEN_EXERCISER" stripe-check -W 3 -c "$chunk" -C "$count" \
                        -s "$seed" "${M[$i]}/S/$name" >"$T/check.out" 2>&1 ||
                        { ITEST_WHY="session $i: $(tr '\n' ' ' <"$T/check.out")"; return 1; }
        done
        "$HARDEN_EXERCISER" stripe-check -W 3 -c "$chunk" -C "$count" -s "$seed" "$BS/$name" \
                >"$T/check.out" 2>&1 ||
                { ITEST_WHY="storage host: $(tr '\n' ' ' <"$T/check.out")"; return 1; }
}

disjoint_writes_with_fsync_and_reopen_from_three_sessions_all_land() {
        stripes stripes-fsync 5000 300
}

disjoint_o_direct_writes_from_three_sessions_all_land() {
        stripes stripes-direct 65536 48 -d
}

run_test every_session_sees_every_exercisers_final_files
run_test a_rewrite_and_a_shrink_reach_a_session_that_had_the_file_cached
run_test disjoint_writes_with_fsync_and_reopen_from_three_sessions_all_land
run_test disjoint_o_direct_writes_from_three_sessions_all_land

for i in 2 1 0; do
        daemon_stop "${M[$i]}" "${DAEMON_PIDS[$i]}"
done
itest_end
