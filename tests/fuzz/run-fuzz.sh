#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-fuzz.sh FUZZER SEED_DIR WORK_DIR SECONDS [LIBFUZZER-OPTION...]:
# run one libFuzzer target for SECONDS over the committed seed corpus
# SEED_DIR (read only: new inputs go to WORK_DIR/corpus, crash reproducers to
# WORK_DIR/), then print the run count and exit with the fuzzer's status
# (non-zero when it found a crash, a leak, a sanitizer report or a broken
# invariant; the reproducer's path is in the output).  FUZZ_SECONDS in the
# environment overrides SECONDS (longer runs by hand).
set -u
fuzzer=$1 seeds=$2 work=$3 secs=${FUZZ_SECONDS:-$4}
shift 4
mkdir -p "$work/corpus" || exit 1
[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || { echo "no seed corpus in $seeds" >&2; exit 1; }
log=$work/last-run.log
# libFuzzer's own failure status is 77, which meson would count as a skip.
"$fuzzer" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
        -error_exitcode=1 -timeout_exitcode=1 \
        -rss_limit_mb=2048 -artifact_prefix="$work/" "$@" \
        "$work/corpus" "$seeds" >"$log" 2>&1
rc=$?
grep -E '^(INFO: Seed|#[0-9]+.*(INITED|DONE)|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log"
[ "$rc" -eq 77 ] && rc=1
if [ "$rc" -ne 0 ]; then
        echo "--- the fuzzer failed (status $rc); last lines of $log ---"
        tail -n 40 "$log"
fi
exit "$rc"
