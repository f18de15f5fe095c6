#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# crash.sh - SPEC sections 5 and 7 (issue #6): the daemon SIGKILLed in the
# middle of writes, over and over.  Each trial: two writers running as the
# session user (uid 1000) append checksummed, numbered records to three
# files each (one writer in folder `data`, one in folder `other`), fsync every
# record and only then log it (log kept outside the mount, see
# tests/hardening/crashwriter.c); once both have fsynced something the daemon
# is SIGKILLed after a random 0-600 ms.  Then, every trial:
#   - every writer stops with an error instead of hanging;
#   - the dead mount answers ENOTCONN (a lookup of a new name), and a lazy unmount releases the
#     mountpoint;
#   - every record logged as fsynced is intact in the backing directory;
#   - the next daemon start reaps the killed session (ended_at set, scratch
#     removed) and every logged record reads back intact through the fresh
#     mount, as uid 1000;
#   - `PRAGMA integrity_check` is ok and `vfolderfs-admin fsck` reports no
#     issue at all.
# At the end the last daemon unmounts cleanly, every trial's records are
# checked once more through the backing directories, and no session is live.
# Prints one line per trial (records fsynced, how each writer stopped) and
# "crash: N trials, F failed".
#
# Environment: CRASH_TRIALS (default 20; 200 with HARDEN_LONG=1).
# CRASH_MAX_SECONDS (default 150; 0: none): no new trial starts after that
# long, so that a slow (sanitized, loaded) machine ends within meson's
# timeout; the summary line then says how many trials ran, and fewer than 5
# is a failure.
# CRASH_BREAK=log-early makes the writers log each record BEFORE writing it
# (a deliberately broken writer): the intact-checks must then fail, which is
# how this test was shown to be able to fail.
# Needs HARDEN_CRASHWRITER (the built crashwriter helper), set by meson.

if [ -z "${HARDEN_CRASHWRITER:-}" ] || [ ! -x "$HARDEN_CRASHWRITER" ]; then
        echo "crash: \$HARDEN_CRASHWRITER is not set to an executable" >&2
        exit 1
fi
. "$(dirname "$0")/../integration/lib.sh"
itest_begin crash "$@"

CW=$HARDEN_CRASHWRITER
U=1000
if [ "${HARDEN_LONG:-0}" = 1 ]; then
        TRIALS=${CRASH_TRIALS:-200}
else
        TRIALS=${CRASH_TRIALS:-20}
fi
export CRASHWRITER_BREAK=${CRASH_BREAK:-}

must admin user add alice --uid $U --gid $U
must admin folder create data --user alice
must admin folder create other --user alice
declare -A BK
for f in data other; do
        BK[$f]=$(backing_of "$f") || bail "no backing directory for folder $f"
done
LOGS=$T/wlog
mkdir -p "$LOGS"
chown $U:$U "$LOGS"

ended_at_of() {
        admin --json session list --all |
                jq -r --arg id "$1" '.[] | select(.id == $id) | .ended_at // "null"'
}

must_start "$MNT" alice
PID=$DAEMON_PID
SID=$(session_of "$PID")
[ -n "$SID" ] || bail "no session recorded for the first daemon"

FAILS=0
TOTAL_RECORDS=0
# trial I: one kill; sets TRIAL_WHY on failure.
trial() {
        local i=$1 f wpids=() n kill_ms st why=() line oldpid=$PID oldsid=$SID
        local recs=() errs=()
        for f in data other; do
                asuser $U mkdir "$MNT/$f/t$i" || { TRIAL_WHY="mkdir $f/t$i failed"; return 1; }
                asuser $U "$CW" records "$MNT/$f/t$i" "$LOGS/$f.t$i" 3 30000 \
                        >"$T/w.$f.out" 2>"$T/w.$f.err" &
                wpids+=($!)
        done
        # Wait until both writers have fsynced at least one record.
        for n in $(seq 100); do
                [ -s "$LOGS/data.t$i" ] && [ -s "$LOGS/other.t$i" ] && break
                sleep 0.05
        done
        kill_ms=$((RANDOM % 600))
        sleep "$(printf '0.%03d' "$kill_ms")"
        kill -KILL "$oldpid"
        wait "$oldpid" 2>/dev/null
        # Writers must stop (ENOTCONN or similar), not hang.
        for n in "${!wpids[@]}"; do
                wait_exit "${wpids[$n]}" 100
                if [ "$WAIT_STATUS" = running ]; then
                        kill -KILL "${wpids[$n]}" 2>/dev/null
                        why+=("a writer hung after the kill")
                fi
        done
        for f in data other; do
                recs+=("$(wc -l <"$LOGS/$f.t$i")")
                errs+=("$(sed -n 's/.*: \(E[A-Z]*\)$/\1/p' "$T/w.$f.err" | head -n 1)")
        done
        [ "${recs[0]}" -gt 0 ] && [ "${recs[1]}" -gt 0 ] ||
                why+=("a writer fsynced nothing before the kill")
        # A name never looked up, so no cached attributes can answer.
        st=$(op 0 stat "$MNT/never-looked-up-$i")
        [ "$st" = ENOTCONN ] || why+=("stat in the dead mount: expected ENOTCONN got $st")
        umount -l "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
        if mountpoint -q "$MNT"; then
                why+=("the mountpoint is still mounted after a lazy unmount")
                TRIAL_WHY="${why[*]}"
                return 1
        fi
        for f in data other; do
                if ! out=$("$CW" verify "${BK[$f]}/t$i" "$LOGS/$f.t$i" 2>&1); then
                        why+=("backing $f/t$i: $(tr '\n' ' ' <<<"$out" | head -c 300)")
                fi
        done
        if ! daemon_start "$MNT" alice 2>"$T/start.err"; then
                why+=("the next daemon did not start: $(tr '\n' ' ' <"$T/start.err")")
                TRIAL_WHY="${why[*]}"
                return 1
        fi
        PID=$DAEMON_PID
        SID=$(session_of "$PID")
        [ "$(ended_at_of "$oldsid")" != null ] || why+=("killed session $oldsid not ended by the next start")
        [ ! -e "$SCRATCH/$oldsid" ] || why+=("scratch of killed session $oldsid not removed")
        for f in data other; do
                if ! out=$(asuser $U "$CW" verify "$MNT/$f/t$i" "$LOGS/$f.t$i" 2>&1); then
                        why+=("fresh mount $f/t$i: $(tr '\n' ' ' <<<"$out" | head -c 300)")
                fi
        done
        line=$(sqlite3 "$CAT" 'PRAGMA integrity_check' 2>&1)
        [ "$line" = ok ] || why+=("integrity_check: $line")
        if ! out=$(admin --json fsck 2>&1) || [ "$(jq length <<<"$out" 2>/dev/null)" != 0 ]; then
                why+=("fsck: $(tr '\n' ' ' <<<"$out" | head -c 300)")
        fi
        TOTAL_RECORDS=$((TOTAL_RECORDS + recs[0] + recs[1]))
        echo "# trial $i: killed after ${kill_ms} ms; fsynced data=${recs[0]} other=${recs[1]} records; writers stopped with ${errs[0]:-?}/${errs[1]:-?}"
        TRIAL_WHY="${why[*]}"
        [ ${#why[@]} -eq 0 ]
}

START=$SECONDS
MAX_SECONDS=${CRASH_MAX_SECONDS:-150}
RAN=0
for i in $(seq "$TRIALS"); do
        if [ "$MAX_SECONDS" -gt 0 ] && [ $((SECONDS - START)) -ge "$MAX_SECONDS" ]; then
                echo "# time budget of $MAX_SECONDS s spent: stopping after $RAN of $TRIALS trials"
                break
        fi
        RAN=$i
        TRIAL_WHY=
        if trial "$i"; then
                report "crash_trial_$i" 0
        else
                FAILS=$((FAILS + 1))
                report "crash_trial_$i" 1 "$TRIAL_WHY"
                mountpoint -q "$MNT" || break
        fi
done

every_record_is_still_intact_after_a_clean_stop() {
        local f i bad=0 out
        daemon_stop "$MNT" "$PID"
        assert_eq 0 "$WAIT_STATUS" "exit status of the last daemon" || return 1
        for i in $(seq "$RAN"); do
                for f in data other; do
                        [ -e "$LOGS/$f.t$i" ] || continue
                        out=$("$CW" verify "${BK[$f]}/t$i" "$LOGS/$f.t$i" 2>&1) ||
                                { bad=$((bad + 1)); ITEST_WHY="$f/t$i: $out"; }
                done
        done
        [ "$bad" = 0 ]
}

no_session_is_left_live() {
        assert_eq 0 "$(admin --json session list | jq length)" "live sessions" &&
        assert_eq "" "$(ls -A "$SCRATCH")" "scratch root contents" &&
        assert_eq ok "$(sqlite3 "$CAT" 'PRAGMA integrity_check' 2>&1)" "integrity_check"
}

enough_trials_ran() {
        assert "at least 5 trials (ran $RAN)" test "$RAN" -ge 5
}

run_test every_record_is_still_intact_after_a_clean_stop
run_test no_session_is_left_live
run_test enough_trials_ran
echo "crash: $RAN of $TRIALS trials ran, $FAILS failed, $TOTAL_RECORDS fsynced records checked, $((SECONDS - START)) s"
itest_end
