# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# common.sh - what bench.sh and scale.sh share; sourced by both, after they
# set ME (their name, for messages) and HERE (this directory).
#
# bench_world PREFIX WHAT makes W, a fresh directory under /var/tmp that
# must be on a real disk (WHAT names the caller in the refusal), and arms
# cleanup: at exit, failure and Ctrl-C every mount point in MOUNTS and
# anything else mounted below W is unmounted, the daemons in PIDS are given
# 5 s to go and then sent SIGTERM, and W is removed.

die() {
        echo "$ME: $*" >&2
        exit 1
}

# bench_start ARGS...: check the command line ([BUILD_DIR], set as
# BUILD_ARG) and that we are root, then run the script again in a private
# mount namespace (once).
bench_start() {
        [ $# -le 1 ] || { echo "usage: tests/bench/$ME [BUILD_DIR]" >&2; exit 2; }
        [ "$(id -u)" = 0 ] || die "must run as root (it mounts file systems and drops caches)"
        # shellcheck disable=SC2034 # used by the script that sources this
        BUILD_ARG=${1:-build}
        if [ -z "${BENCH_IN_NAMESPACE:-}" ]; then
                export BENCH_IN_NAMESPACE=1
                exec unshare -m --propagation private -- bash "$0" "$@"
        fi
}

# bench_tools [check]: BUILD (BUILD_ARG made absolute, or empty when it is
# no directory), VFOLDERFS and VFOLDERFS_ADMIN (from the environment, else
# BUILD); with "check", dies unless both are executables.
bench_tools() {
        local v
        if [ -d "$BUILD_ARG" ]; then
                BUILD=$(cd "$BUILD_ARG" && pwd)
        else
                BUILD=
        fi
        VFOLDERFS=${VFOLDERFS:-${BUILD:+$BUILD/vfolderfs/vfolderfs}}
        VFOLDERFS_ADMIN=${VFOLDERFS_ADMIN:-${BUILD:+$BUILD/tools/vfolderfs-admin}}
        [ "${1:-}" = check ] || return 0
        for v in VFOLDERFS VFOLDERFS_ADMIN; do
                [ -n "${!v}" ] && [ -x "${!v}" ] ||
                        die "${v} '${!v}' is not an executable (build first, or give BUILD_DIR)"
        done
}

cleanup() {
        local rc=$? m pid _
        trap - EXIT INT TERM
        for m in "${MOUNTS[@]}"; do
                mountpoint -q "$m" 2>/dev/null &&
                        { fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
        done
        for pid in "${PIDS[@]}"; do
                for _ in $(seq 50); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                kill -TERM "$pid" 2>/dev/null
        done
        # Anything still mounted below $W (a daemon that would not go).
        awk -v t="$W/" 'index($2, t) == 1 { print $2 }' /proc/self/mounts | sort -r |
                while read -r m; do umount -l "$m" 2>/dev/null; done
        rm -rf --one-file-system "$W"
        exit "$rc"
}

bench_world() {
        W=$(mktemp -d "/var/tmp/$1.XXXXXX") || die "cannot create a directory under /var/tmp"
        chmod 755 "$W"
        PIDS=()
        MOUNTS=()
        trap cleanup EXIT
        trap 'exit 130' INT TERM
        FSTYPE=$(stat -f -c %T "$W")
        case $FSTYPE in
        tmpfs | ramfs) die "$W is on $FSTYPE; $2 needs a real disk" ;;
        esac
}

# helper NAME VAR: the path of helper program NAME: $VAR if set, else the
# build's, else compiled from $HERE/NAME.c into $W.
helper() {
        local name=$1 var=$2
        if [ -n "${!var:-}" ]; then
                [ -x "${!var}" ] || die "$var '${!var}' is not an executable"
                echo "${!var}"
        elif [ -n "$BUILD" ] && [ -x "$BUILD/tests/bench/$name" ]; then
                echo "$BUILD/tests/bench/$name"
        else
                cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$W/$name" "$HERE/$name.c" >&2 ||
                        die "cannot compile $HERE/$name.c"
                echo "$W/$name"
        fi
}

# asuser CMD...: run CMD as uid/gid $UID1 without supplementary groups.
asuser() {
        setpriv --reuid="$UID1" --regid="$UID1" --clear-groups -- \
                env -i PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C HOME=/nonexistent "$@"
}

drop_caches() {
        sync
        echo 3 >/proc/sys/vm/drop_caches
}

# vf_rev BINARY: the git state of the worktree BINARY was built in (its
# HEAD, the last commit that changed the daemon or library sources, and
# whether those have uncommitted changes).
vf_rev() {
        local d head last dirty=
        d=$(dirname "$1")
        head=$(git -C "$d" rev-parse --short HEAD 2>/dev/null) || { echo "git: unknown"; return; }
        last=$(git -C "$d" log -1 --format='%h %s' -- :/vfolderfs :/metadata | cut -c1-60)
        git -C "$d" diff --quiet HEAD -- :/vfolderfs :/metadata || dirty=" + uncommitted changes"
        echo "git: HEAD $head $(git -C "$d" branch --show-current); daemon sources at $last$dirty"
}
