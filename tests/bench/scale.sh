#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# scale.sh - the vfolderfs scale probes (issue #5): how the daemon's costs
# grow with the number of folders, of entries in one directory and of files
# walked.  Each probe prints its numbers at several sizes so growth is visible:
#
#   folders  a user with 10, 100, 1000, 10000 folders (tiny: 10, 50): the
#            time the daemon takes to start (vfolderfs without -f returns
#            once the file system is mounted) and `ls` of the mount root as
#            uid 1000, then the daemon's RSS and open fd count
#   entries  one folder directory of 1k, 10k, 100k entries (tiny: 100, 1000):
#            `ls -f` and `ls -l` of it, each cold (caches dropped), through
#            vfolderfs and natively on its backing directory for reference
#   walk     a folder tree of 10k, 100k, 1M files, 1000 per directory (tiny:
#            1k, 5k): `find -type f` of it through the mount as uid 1000,
#            cold, on a freshly started daemon (natively too, for reference);
#            then the daemon's RSS, peak RSS (VmHWM) and open fd count; then
#            the same after dropping the caches (the kernel forgets its inodes)
#
# Entries and files are created directly in the backing directory with
# tests/bench/treeutil (fast), grown from one size to the next, and removed
# at the end; the counts seen through the mount are checked.
#
# Usage (as root):  tests/bench/scale.sh [BUILD_DIR]      (default: build)
#
# Environment: SCALE_FOLDERS, SCALE_ENTRIES, SCALE_WALK (the sizes of each
# probe, space-separated; empty skips the probe), BENCH_TINY=1 (small sizes, a few seconds), SCALE_OUT=FILE (the
# CSV, default ./scale-results.csv: probe,size,system,metric,value,unit),
# VFOLDERFS, VFOLDERFS_ADMIN, BENCH_TREEUTIL as for bench.sh.
#
# Duration with the default sizes: about 6 minutes on a 2-core VM (creating
# 10,000 folders with vfolderfs-admin, one process each, is about 2 of them;
# creating, walking and removing 1,000,000 files most of the rest); it needs
# about 1 GiB of free disk (inodes mostly).
#
# Like bench.sh it runs in a private mount namespace, keeps everything in one
# mktemp -d directory under /var/tmp, and removes mounts, daemons and files
# on exit, failure and Ctrl-C included.  Exit status 1 when a probe failed.
set -uo pipefail
export LC_ALL=C

ME=scale.sh
HERE=$(cd "$(dirname "$0")" && pwd)
UID1=1000
# shellcheck source=common.sh
. "$HERE/common.sh"

bench_start "$@"

OUT=$(realpath -m "${SCALE_OUT:-./scale-results.csv}")
if [ "${BENCH_TINY:-0}" = 1 ]; then
        FOLDER_SIZES="10 50"
        ENTRY_SIZES="100 1000"
        WALK_SIZES="1000 5000"
        STEP_TIMEOUT=60
else
        FOLDER_SIZES=${SCALE_FOLDERS-"10 100 1000 10000"}
        ENTRY_SIZES=${SCALE_ENTRIES-"1000 10000 100000"}
        WALK_SIZES=${SCALE_WALK-"10000 100000 1000000"}
        STEP_TIMEOUT=900
fi

bench_tools check
for c in unshare setpriv fusermount3 mountpoint find jq python3 timeout; do
        command -v "$c" >/dev/null || die "'$c' is missing"
done
[ -c /dev/fuse ] || die "/dev/fuse is missing"

bench_world vfolderfs-scale "the probes"
MNT=$W/mnt
CAT=$W/catalog.db
MOUNTS=("$MNT")

TREEUTIL=$(helper treeutil BENCH_TREEUTIL) || exit 1

admin() {
        "$VFOLDERFS_ADMIN" --catalog "$CAT" "$@"
}
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }

RAW=$W/raw.csv
FAILED=0
echo "probe,size,system,metric,value,unit" >"$RAW"
# record PROBE SIZE SYSTEM METRIC VALUE UNIT
record() {
        echo "$1,$2,$3,$4,$5,$6" >>"$RAW"
        printf '%s: %-8s %8s %-9s %-16s %s %s\n' "$ME" "$1" "$2" "$3" "$4" "$5" "$6" >&2
}
failed() {
        echo "$ME: $*" >&2
        FAILED=1
}

mkdir -p "$W/storage" "$W/scratch" "$MNT"
chmod 755 "$W/storage" "$W/scratch" "$MNT"
{ admin init && admin host add local "$W/storage" &&
        admin user add alice --uid $UID1 --gid $UID1 &&
        admin user add bob --uid $UID1 --gid $UID1 &&
        admin folder create big --user bob --permission wd &&
        admin folder create walk --user bob --permission wd; } >"$W/setup.log" 2>&1 ||
        die "setup failed: $(tail -n 3 "$W/setup.log")"
backing() { admin --json folder info "$1" | jq -r .backing_path; }
BIG=$(backing big) && [ -d "$BIG" ] || die "no backing directory for folder 'big'"
WALK=$(backing walk) && [ -d "$WALK" ] || die "no backing directory for folder 'walk'"
# The native reference runs as uid $UID1 on the backing directories, whose
# parents vfolderfs makes 0700 (root's alone): let it pass through them.
for d in "$BIG" "$WALK"; do
        for p in "$(dirname "$d")" "$(dirname "$(dirname "$d")")" \
                 "$(dirname "$(dirname "$(dirname "$d")")")"; do
                chmod o+x "$p"
        done
done

# start USER: mount USER's folders at $MNT (the daemon daemonizes once mounted);
# sets DPID and START_S; returns 1 on failure.
start() {
        local t0 _
        t0=$(now)
        if ! timeout --foreground "$STEP_TIMEOUT" "$VFOLDERFS" -o "allow_other,catalog=$CAT,scratch=$W/scratch" \
                "$1" "$MNT" >>"$W/daemon.log" 2>&1; then
                failed "the daemon did not start for $1: $(tail -n 3 "$W/daemon.log")"
                return 1
        fi
        START_S=$(elapsed "$t0")
        DPID=$(admin --json session list | jq -r --arg m "$MNT" '[.[] | select(.mountpoint == $m)][0].pid // empty')
        [ -n "$DPID" ] || { failed "no live session on $MNT"; return 1; }
        PIDS+=("$DPID")
        for _ in $(seq 50); do
                mountpoint -q "$MNT" && return 0
                sleep 0.1
        done
        failed "$MNT is not mounted after the daemon returned"
        return 1
}
stop() {
        local _
        fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT"
        for _ in $(seq 100); do
                kill -0 "$DPID" 2>/dev/null || return 0
                sleep 0.1
        done
        failed "the daemon $DPID did not exit after unmount"
        kill -TERM "$DPID" 2>/dev/null
}
# memory PROBE SIZE SUFFIX: record the daemon's RSS, peak RSS and fd count.
memory() {
        local rss hwm fds
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status" 2>/dev/null)
        hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DPID/status" 2>/dev/null)
        fds=$(find "/proc/$DPID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        if [ -z "$rss" ]; then
                failed "the daemon $DPID is gone (probe $1, size $2)"
                return 1
        fi
        record "$1" "$2" vfolderfs "rss_kib$3" "$rss" KiB
        record "$1" "$2" vfolderfs "hwm_kib$3" "$hwm" KiB
        record "$1" "$2" vfolderfs "fds$3" "$fds" fds
}
# timed_as_user PROBE SIZE SYSTEM METRIC WANT CMD: run CMD (a shell line, as
# uid 1000), record its time; its output (a count) must be WANT.
timed_as_user() {
        local t0 out s
        t0=$(now)
        if out=$(timeout --foreground "$STEP_TIMEOUT" setpriv --reuid=$UID1 --regid=$UID1 --clear-groups -- \
                env -i PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C bash -c "$6" 2>"$W/step.err"); then
                s=$(elapsed "$t0")
                if [ "$out" = "$5" ]; then
                        record "$1" "$2" "$3" "$4" "$s" s
                        return 0
                fi
                failed "$1 $2 $3 $4: expected $5 got '$out'"
        else
                failed "$1 $2 $3 $4 failed: $(head -c 300 "$W/step.err")"
        fi
        record "$1" "$2" "$3" "$4" fail s
        return 1
}

{
        echo "# vfolderfs scale probes  $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "# machine: kernel $(uname -r), $(nproc) cpus, loadavg at start $(cut -d' ' -f1-3 /proc/loadavg); disk $(df --output=source "$W" | tail -n 1) ($FSTYPE)"
        echo "# vfolderfs: $VFOLDERFS ($("$VFOLDERFS" --version 2>&1 | head -n 1)); $(vf_rev "$VFOLDERFS")"
        echo "# daemon options: -o allow_other,catalog=...,scratch=... USER MOUNTPOINT; RLIMIT_NOFILE of root here: soft $(ulimit -Sn), hard $(ulimit -Hn)"
        echo "# sizes: folders $FOLDER_SIZES; entries $ENTRY_SIZES; walk $WALK_SIZES; all as uid $UID1, times in s"
} | tee "$W/header.txt"
T_START=$EPOCHREALTIME

# ---- folders --------------------------------------------------------------
have=0
for n in $FOLDER_SIZES; do
        echo "$ME: creating folders up to $n" >&2
        t0=$(now)
        # Two admin processes at a time (the catalog takes concurrent writers).
        seq -f 'f%05g' "$have" $((n - 1)) |
                xargs -P 2 -I NAME "$VFOLDERFS_ADMIN" --catalog "$CAT" folder create NAME --user alice \
                >/dev/null 2>>"$W/setup.log" || die "folder create failed: $(tail -n 2 "$W/setup.log")"
        have=$(admin --json folder list --user alice | jq length)
        [ "$have" = "$n" ] || die "alice has $have folders, expected $n"
        echo "$ME: ($(elapsed "$t0") s to create them)" >&2
        drop_caches
        start alice || continue
        record folders "$n" vfolderfs start_s "$START_S" s
        timed_as_user folders "$n" vfolderfs ls_s "$n" "ls '$MNT' | wc -l"
        memory folders "$n" ""
        stop
done

# ---- entries --------------------------------------------------------------
have=0
for n in $ENTRY_SIZES; do
        "$TREEUTIL" mkfiles "$BIG" $have "$n" 0 || die "cannot create entries in $BIG"
        have=$n
        start bob || continue
        drop_caches
        timed_as_user entries "$n" vfolderfs ls_f_s $((n + 2)) "ls -f '$MNT/big' | wc -l"
        drop_caches
        timed_as_user entries "$n" vfolderfs ls_l_s $((n + 1)) "ls -l '$MNT/big' | wc -l"
        memory entries "$n" ""
        stop
        drop_caches
        timed_as_user entries "$n" native ls_f_s $((n + 2)) "ls -f '$BIG' | wc -l"
        drop_caches
        timed_as_user entries "$n" native ls_l_s $((n + 1)) "ls -l '$BIG' | wc -l"
done
find "$BIG" -mindepth 1 -delete

# ---- walk -----------------------------------------------------------------
have=0
for n in $WALK_SIZES; do
        echo "$ME: creating files up to $n" >&2
        "$TREEUTIL" mkfiles "$WALK" $have "$n" 1000 || die "cannot create files in $WALK"
        have=$n
        drop_caches
        start bob || continue
        timed_as_user walk "$n" vfolderfs find_s "$n" "find '$MNT/walk' -type f | wc -l"
        memory walk "$n" ""
        drop_caches
        sleep 1
        memory walk "$n" _after_drop
        stop
        drop_caches
        timed_as_user walk "$n" native find_s "$n" "find '$WALK' -type f | wc -l"
done
echo "$ME: removing the files" >&2
rm -rf --one-file-system "${WALK:?}"/*
ELAPSED=$(elapsed "$T_START")

# ---- the tables -----------------------------------------------------------
cp "$RAW" "$OUT"
python3 - "$RAW" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
probes = []
for r in rows:
    if r["probe"] not in probes:
        probes.append(r["probe"])
for p in probes:
    cols, sizes, val = [], [], {}
    for r in rows:
        if r["probe"] != p:
            continue
        c = r["metric"] if r["system"] == "vfolderfs" else "%s(%s)" % (r["metric"], r["system"])
        if c not in cols:
            cols.append(c)
        if r["size"] not in sizes:
            sizes.append(r["size"])
        val[(r["size"], c)] = r["value"]
    head = [p] + cols
    table = [[s] + [val.get((s, c), "-") for c in cols] for s in sizes]
    w = [max(len(x[i]) for x in table + [head]) for i in range(len(head))]
    print()
    print("  ".join(h.rjust(w[i]) for i, h in enumerate(head)))
    for t in table:
        print("  ".join(x.rjust(w[i]) for i, x in enumerate(t)))
EOF
echo
echo "# metrics: start_s daemon start until mounted; ls_s, ls_f_s, ls_l_s, find_s wall time of the command;"
echo "# rss_kib/hwm_kib/fds: the daemon's VmRSS, VmHWM and open descriptors right after the command"
echo "# (_after_drop: after drop_caches made the kernel forget its inodes); (native): the backing directory directly"
echo "# run time $(printf '%.0f' "$ELAPSED") s; loadavg at end $(cut -d' ' -f1-3 /proc/loadavg); CSV: $OUT"
if [ "$FAILED" != 0 ]; then
        echo "$ME: some probes FAILED" >&2
        exit 1
fi
exit 0
