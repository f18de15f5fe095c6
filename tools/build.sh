#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# build.sh - the one entry point for a fresh Debian 12 machine (run as root):
# installs the Debian packages vfolderfs needs that are missing, builds it with
# meson, and then either runs the main job (the guide's scenario on a real
# mount, `demo`) or every test suite (`test`), the latter twice: once in a
# plain -Werror build and once under AddressSanitizer and
# UndefinedBehaviorSanitizer, followed by a clang build that runs the
# libFuzzer targets for a bounded time.  .ci/run calls `tools/build.sh test`.
# `bench` runs the benchmark against native, bindfs and mergerfs.
set -euo pipefail

usage() {
        cat <<USAGE
Usage: tools/build.sh COMMAND
  deps    install the Debian packages that are missing
  build   deps, then build into build/
  demo    build, then run the guide's scenario on a real mount (tools/demo.sh)
  test    build, run every test suite; then again under ASan/UBSan; then
          build with clang and run the libFuzzer targets for a bounded time
  bench   build, then run the benchmark (tests/bench/bench.sh) against the
          native filesystem, bindfs and mergerfs; BENCH_SCALE=1 also runs
          the scale probes (tests/bench/scale.sh)
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages=(meson ninja-build gcc pkg-config libfuse3-dev fuse3 libsqlite3-dev
          sqlite3 uuid-dev libcmocka-dev util-linux mount jq python3 man-db
          bindfs mergerfs fio systemd clang libclang-rt-14-dev
          git attr python3-pip)

install_deps() {
        local missing=() p
        for p in "${packages[@]}"; do
                dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
                        grep -q 'install ok installed' || missing+=("$p")
        done
        if [ ${#missing[@]} -gt 0 ]; then
                echo "build.sh: installing ${missing[*]}" >&2
                export DEBIAN_FRONTEND=noninteractive
                apt-get update -qq
                apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        fi
}

# meson_build DIR [MESON OPTIONS...]: configure (once) and compile.
meson_build() {
        local dir=$1; shift
        local out
        if [ ! -f "$dir/build.ninja" ]; then
                meson setup "$dir" "$@" >/dev/null
        fi
        # ninja prints compiler errors on stdout: show them when it fails.
        if ! out=$(ninja -C "$dir" 2>&1); then
                printf '%s\n' "$out" >&2
                echo "build.sh: the build in $dir failed" >&2
                return 1
        fi
}

# run_suites DIR LABEL [MESON TEST OPTIONS...]: run the meson test suites
# in DIR (all unless options narrow them); print a summary.
run_suites() {
        local dir=$1 label=$2 rc=0
        shift 2
        meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || rc=$?
        python3 - "$dir/meson-logs/testlog.json" "$label" <<'PY'
import json, sys
ok = fail = skip = 0
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            ok += 1
        elif r == "SKIP":
            skip += 1
        else:
            fail += 1
print(f"{sys.argv[2]}: {ok} passed, {fail} failed, {skip} skipped")
PY
        return $rc
}

cmd=${1:-}
case "$cmd" in
deps)
        install_deps ;;
build)
        install_deps
        meson_build build -Dwerror=true ;;
demo)
        install_deps
        meson_build build -Dwerror=true
        exec "$top/tools/demo.sh" "$top/build" ;;
test)
        install_deps
        rc=0
        meson_build build -Dwerror=true
        run_suites build "plain" || rc=1
        meson_build build-asan -Dwerror=true -Db_sanitize=address,undefined \
                -Db_lundef=false -Dbuildtype=debug
        # The sanitized pass looks for memory and undefined-behaviour errors
        # in the same code paths; the plain pass already ran the hardening
        # loops at full length, so here they run shorter (CI time).
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        CRASH_TRIALS=8 LOAD_SECONDS=10 RACE_SECONDS=1 \
                run_suites build-asan "sanitized" --no-suite bench || rc=1
        # clang, -Werror, whole tree; then each libFuzzer target for 10 s
        # over its corpus (longer by hand: see README, Tests).
        CC=clang meson_build build-fuzz -Dwerror=true -Dbuildtype=debug
        ASAN_OPTIONS=detect_leaks=1 FUZZ_SECONDS=10 \
                run_suites build-fuzz "fuzz" --suite fuzz || rc=1
        exit $rc ;;
bench)
        install_deps
        meson_build build -Dwerror=true
        "$top/tests/bench/bench.sh" "$top/build"
        if [ "${BENCH_SCALE:-0}" = 1 ]; then
                "$top/tests/bench/scale.sh" "$top/build"
        fi ;;
-h|--help)
        usage ;;
*)
        usage >&2
        exit 2 ;;
esac
