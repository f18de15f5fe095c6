#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# integrity.sh - issue #6: data integrity through the daemon.  The random
# operation exerciser (tests/hardening/exerciser.c: writes, truncates,
# fallocate punch/zero/extend, mmap writes with msync and mmap reads,
# fsync, close+reopen, preads, each mirrored into an in-memory model and
# checked after every operation, in full every 50) runs as the session user
# on several files at once in a wd folder, in an rw folder and in scratch;
# then the files on the storage host must equal the model's final content
# byte for byte.  The exerciser is also run once with a deliberately wrong
# model, which must fail: the checks are able to see a difference.
#
# Environment: HARDEN_EXERCISER (set by meson).  EXERCISER_SEED replays a
# base seed (each run prints the seed it used: base, base+1, base+2); EXERCISER_OPS sets the number of operations
# of the main run (default 3000; HARDEN_LONG=1 gives 100000).

. "$(dirname "$0")/../integration/lib.sh" || exit 1
if [ -z "${HARDEN_EXERCISER:-}" ] || [ ! -x "$HARDEN_EXERCISER" ]; then
        echo "integrity: \$HARDEN_EXERCISER is not set to an executable" >&2
        exit 1
fi
itest_begin integrity "$@"

U=1000
if [ -n "${EXERCISER_OPS:-}" ]; then
        OPS=$EXERCISER_OPS
elif [ -n "${HARDEN_LONG:-}" ]; then
        OPS=100000
else
        OPS=3000
fi
SEED=${EXERCISER_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}

must admin user add alice --uid $U --gid $U
must admin folder create W --user alice --permission wd
must admin folder create R --user alice --permission rw
BW=$(backing_of W) || bail "no backing directory for folder W"
BR=$(backing_of R) || bail "no backing directory for folder R"
EXP=$T/expected
mkdir -p "$EXP"
chmod 777 "$EXP"
must_start "$MNT" alice

# exercise DIR TAG OPS FILES SEED-OFFSET: run the exerciser as the user
# with seed SEED+SEED-OFFSET; prints its output as comments; returns its
# status.
exercise() {
        local dir=$1 tag=$2 ops=$3 files=$4 seed=$((SEED + $5)) rc
        shift 5
        asuser $U "$HARDEN_EXERCISER" -s "$seed" -n "$ops" -f "$files" -t "$tag" \
                -o "$EXP" "$@" "$dir" >"$T/$tag.out" 2>&1
        rc=$?
        sed 's/^/# /' "$T/$tag.out" | head -n 40
        return $rc
}

# same_as_model BACKING TAG FILES: the storage host's files equal the model.
same_as_model() {
        local i
        for ((i = 0; i < $3; i++)); do
                if ! cmp "$EXP/$2-$i" "$1/$2-$i" >"$T/cmp.out" 2>&1; then
                        ITEST_WHY="$1/$2-$i differs from the model: $(head -c 300 "$T/cmp.out")"
                        return 1
                fi
        done
}

the_exerciser_sees_its_model_in_a_wd_folder() {
        local t0=$SECONDS
        exercise "$MNT/W" wd "$OPS" 4 0 || { ITEST_WHY="the exerciser failed (seed $SEED)"; return 1; }
        echo "# wd: $OPS operations on 4 files in $((SECONDS - t0)) s"
        same_as_model "$BW" wd 4
}

the_exerciser_sees_its_model_in_an_rw_folder() {
        exercise "$MNT/R" rw $((OPS / 3)) 2 1 || { ITEST_WHY="the exerciser failed (seed $SEED)"; return 1; }
        same_as_model "$BR" rw 2
}

the_exerciser_sees_its_model_in_scratch() {
        local sid sdir
        exercise "$MNT" scratch $((OPS / 3)) 2 2 || { ITEST_WHY="the exerciser failed (seed $SEED)"; return 1; }
        sid=$(session_of "$DAEMON_PID")
        sdir=$SCRATCH/$sid
        assert "the session's scratch dir $sdir" test -d "$sdir" &&
        same_as_model "$sdir" scratch 2
}

a_wrong_model_is_caught() {
        # -B 1 drops the last byte of each write from the model, -B 2 keeps
        # stale bytes past a shrinking truncate: both must be reported.
        local b
        for b in 1 2; do
                asuser $U "$HARDEN_EXERCISER" -s "$SEED" -n 2000 -f 2 -t bug$b -B $b "$MNT/W" \
                        >"$T/bug$b.out" 2>&1
                assert_eq 1 "$?" "exit status with -B $b" || return 1
                assert "a FAILED line with -B $b" grep -q 'FAILED at operation' "$T/bug$b.out" || return 1
                echo "# -B $b: $(grep -m1 FAILED "$T/bug$b.out" | cut -c1-160)"
        done
}

run_test the_exerciser_sees_its_model_in_a_wd_folder
run_test the_exerciser_sees_its_model_in_an_rw_folder
run_test the_exerciser_sees_its_model_in_scratch
run_test a_wrong_model_is_caught

daemon_stop "$MNT" "$DAEMON_PID"
itest_end
