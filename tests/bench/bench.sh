#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench.sh - the vfolderfs benchmark (issue #5): the same workloads on
#   native    a directory of the backing disk itself
#   vfolderfs a wd folder of a vfolderfs mount (user alice, uid 1000)
#   bindfs    bindfs (Debian) over its own backing directory
#   mergerfs  mergerfs (Debian) over its own backing directory (one branch)
# all four backing directories in one mktemp -d directory on the real disk
# (under /var/tmp; tmpfs is refused), interleaved in rounds: each group of
# workloads below runs on every system in turn before the next group starts,
# and the order of the systems rotates from round to round, so drift and
# noise from the rest of the machine hit all systems alike.  A group runs on
# one system from start to end, so the cache state its workloads see (cold
# after a drop, warm right after) is its own.
#
# Usage (as root):  tests/bench/bench.sh [BUILD_DIR]      (default: build)
#
# Environment:
#   BENCH_ROUNDS=5         rounds; the table shows the median over rounds
#   BENCH_OUT=FILE         the CSV (default ./bench-results.csv)
#   BENCH_TINY=1           tiny sizes (a smoke run of a few seconds)
#   BENCH_SYSTEMS="..."    a subset of "native vfolderfs bindfs mergerfs"
#   VFOLDERFS, VFOLDERFS_ADMIN   the daemon and admin tool (default: the
#                          ones in BUILD_DIR; VFOLDERFS may name another
#                          build's daemon, e.g. /work/wt-perf/build-perf/vfolderfs/vfolderfs)
#   VFOLDERFS2=DAEMON      a second vfolderfs daemon measured in the same run
#                          as system "vfolderfs2" (its own catalog, mount and
#                          folder; same admin tool): before/after comparisons
#                          under the same machine noise; added to the default
#                          systems after vfolderfs, or name it in BENCH_SYSTEMS
#   BENCH_LATENCY, BENCH_TREEUTIL  the helper programs (default: the ones in
#                          BUILD_DIR/tests/bench, else compiled on the fly
#                          from tests/bench/*.c with cc)
#   BENCH_TREE=DIR         the source tree to tar (default /usr/include,
#                          /usr/include/linux with BENCH_TINY)
#
# Workloads, by group (every one run as uid 1000 through setpriv; "cold"
# means right after sync + echo 3 > /proc/sys/vm/drop_caches):
#   untar:  untar           tar -xf of the tree (the tar file in the page cache)
#   stat:   stat_cold       find TREE -ls, cold
#           stat_warm       the same again at once
#   read:   read_cold       every regular file read to its end (treeutil read), cold
#           lat_OP_us, lat_OP_p99_us  then the latency probe on up to 1000 files
#                           of the tree just read: median and p99 of stat,
#                           open+close and pread 4 KiB (tests/bench/latency.c)
#   rm:     rm_cold         rm -rf of the tree, cold
#   seq:    seq_write       dd of 1 GiB (16 MiB tiny) from /dev/zero, conv=fsync
#           seq_read_cold   dd of that file to /dev/null, cold
#   fio:    randread_iops, randwrite_iops   fio psync 4 KiB random reads, then
#                           writes, buffered, on a 256 MiB file (16 MiB tiny)
#                           written and read once just before (warm, fio's
#                           invalidate off), 4 s each, time based (tiny:
#                           1024 calls each)
# Times are seconds and latencies microseconds (ratio = system / native); IOPS
# turn into ratio = native / system, so a ratio above 1 always means slower
# than native.
#
# Output: machine facts, the mount options of each system and the sizes, then
# the table of medians and ratios on stdout; progress on stderr; the CSV
# (one row per workload x system: workload,unit,system,median,min,max,
# rounds,ratio_to_native) in BENCH_OUT.  A workload that fails on a system is
# recorded as "fail" (and the run exits 1 at the end).
#
# Duration (default sizes, 2-core VM): 2 to 5 minutes per round depending on
# the load of the machine (BENCH_ROUNDS=3 took 938 s at loadavg 7-12); about
# half with BENCH_SYSTEMS="native vfolderfs".  BENCH_TINY=1 BENCH_ROUNDS=1:
# 15-35 s.
#
# Everything runs in a private mount namespace (the script re-executes
# itself under unshare -m); all mounts, daemons and files are removed on
# exit, failure and Ctrl-C included.
set -uo pipefail
export LC_ALL=C

ME=bench.sh
HERE=$(cd "$(dirname "$0")" && pwd)
ALL_SYSTEMS="native vfolderfs vfolderfs2 bindfs mergerfs"
UID1=1000
# shellcheck source=common.sh
. "$HERE/common.sh"

bench_start "$@"

ROUNDS=${BENCH_ROUNDS:-5}
OUT=${BENCH_OUT:-./bench-results.csv}
TINY=${BENCH_TINY:-0}
if [ -n "${VFOLDERFS2:-}" ]; then
        SYSTEMS=${BENCH_SYSTEMS:-native vfolderfs vfolderfs2 bindfs mergerfs}
else
        SYSTEMS=${BENCH_SYSTEMS:-native vfolderfs bindfs mergerfs}
fi
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive number"
for s in $SYSTEMS; do
        [[ " $ALL_SYSTEMS " == *" $s "* ]] || die "unknown system '$s' in BENCH_SYSTEMS (known: $ALL_SYSTEMS)"
done
OUT=$(realpath -m "$OUT")

if [ "$TINY" = 1 ]; then
        TREE_SRC=${BENCH_TREE:-/usr/include/linux}
        SEQ_MB=16
        FIO_MB=16
        FIO_SECONDS=0 # not time based: 1024 calls per job
        LAT_ITERS=500
        STEP_TIMEOUT=60
else
        TREE_SRC=${BENCH_TREE:-/usr/include}
        SEQ_MB=1024
        FIO_MB=256
        FIO_SECONDS=4
        LAT_ITERS=20000
        STEP_TIMEOUT=600
fi

# ---- programs -------------------------------------------------------------

needs_vfolderfs=0
[[ " $SYSTEMS " == *" vfolderfs "* || " $SYSTEMS " == *" vfolderfs2 "* ]] && needs_vfolderfs=1
if [[ " $SYSTEMS " == *" vfolderfs2 "* ]]; then
        [ -n "${VFOLDERFS2:-}" ] && [ -x "$VFOLDERFS2" ] ||
                die "system vfolderfs2 needs VFOLDERFS2 set to a daemon executable"
fi
if [ $needs_vfolderfs = 1 ]; then
        bench_tools check
else
        bench_tools
fi
for c in unshare setpriv fusermount3 mountpoint tar find dd fio jq python3 timeout; do
        command -v "$c" >/dev/null || die "'$c' is missing"
done
[[ " $SYSTEMS " == *" bindfs "* ]] && { command -v bindfs >/dev/null || die "'bindfs' is missing (apt-get install bindfs)"; }
[[ " $SYSTEMS " == *" mergerfs "* ]] && { command -v mergerfs >/dev/null || die "'mergerfs' is missing (apt-get install mergerfs)"; }
[ -c /dev/fuse ] || die "/dev/fuse is missing"
[ -d "$TREE_SRC" ] || die "no tree '$TREE_SRC' to tar"

# ---- the scratch world ----------------------------------------------------

bench_world vfolderfs-bench "the benchmark"
FSDEV=$(df --output=source "$W" | tail -n 1)

LATENCY=$(helper latency BENCH_LATENCY) || exit 1
TREEUTIL=$(helper treeutil BENCH_TREEUTIL) || exit 1

# wait_mounted DIR PID: poll until DIR is a mount point (10 s), or PID died.
wait_mounted() {
        local _
        for _ in $(seq 100); do
                mountpoint -q "$1" && return 0
                kill -0 "$2" 2>/dev/null || return 1
                sleep 0.1
        done
        return 1
}

# The tree: tarred once; its entries and regular files listed.
echo "$ME: preparing the tree from $TREE_SRC" >&2
tar -C "$(dirname "$TREE_SRC")" -cf "$W/tree.tar" "$(basename "$TREE_SRC")" 2>"$W/tar.err" ||
        die "cannot tar $TREE_SRC: $(head -n 3 "$W/tar.err")"
chmod 644 "$W/tree.tar"
TREE_ENTRIES=$(tar -tf "$W/tree.tar" | wc -l)
TREE_BYTES=$(stat -c %s "$W/tree.tar")
# Regular files of the tree (paths relative to the extraction directory).
python3 - "$W/tree.tar" >"$W/files.rel" <<'EOF' || die "cannot list the tree"
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        if m.isreg():
            print(m.name)
EOF
TREE_FILES=$(wc -l <"$W/files.rel")

# ---- the four systems -----------------------------------------------------

declare -A DIR OPTS
BINDFS_OPTS="-f -o allow_other"
MERGERFS_OPTS="-f -o allow_other,fsname=mergerfs-bench"

setup_native() {
        mkdir -p "$W/native"
        chown $UID1:$UID1 "$W/native"
        DIR[native]=$W/native
        OPTS[native]="(none: a directory on $FSDEV, $FSTYPE)"
}

declare -A VF_PID
# setup_vfolderfs NAME DAEMON: a catalog, storage host 'local', user alice
# (uid 1000) and her wd folder 'bench' in $W/NAME; DAEMON mounted on
# $W/mnt-NAME in the foreground (backgrounded here).
setup_vfolderfs() {
        local name=$1 daemon=$2 d=$W/$1 opts
        mkdir -p "$d/storage" "$d/scratch" "$W/mnt-$name"
        chmod 755 "$d" "$d/storage" "$d/scratch" "$W/mnt-$name"
        { "$VFOLDERFS_ADMIN" --catalog "$d/catalog.db" init &&
                "$VFOLDERFS_ADMIN" --catalog "$d/catalog.db" host add local "$d/storage" &&
                "$VFOLDERFS_ADMIN" --catalog "$d/catalog.db" user add alice --uid $UID1 --gid $UID1 &&
                "$VFOLDERFS_ADMIN" --catalog "$d/catalog.db" folder create bench --user alice --permission wd; } \
                >>"$d/setup.log" 2>&1 || die "$name setup failed: $(tail -n 3 "$d/setup.log")"
        opts="-f -o allow_other,catalog=$d/catalog.db,scratch=$d/scratch alice"
        # shellcheck disable=SC2086
        env --default-signal=INT "$daemon" $opts "$W/mnt-$name" >>"$d/daemon.log" 2>&1 &
        VF_PID[$name]=$!
        PIDS+=($!)
        MOUNTS+=("$W/mnt-$name")
        wait_mounted "$W/mnt-$name" $! || die "$name did not mount: $(tail -n 5 "$d/daemon.log")"
        [ -d "$W/mnt-$name/bench" ] || die "the folder 'bench' is not in the $name mount"
        DIR[$name]=$W/mnt-$name/bench
        OPTS[$name]="$daemon $opts MOUNTPOINT (folder bench, permission wd)"
}

setup_fuse() { # NAME PROGRAM OPTIONS
        local name=$1 prog=$2 opts=$3
        mkdir -p "$W/b-$name" "$W/mnt-$name"
        chown $UID1:$UID1 "$W/b-$name"
        # shellcheck disable=SC2086
        "$prog" $opts "$W/b-$name" "$W/mnt-$name" >>"$W/$name.log" 2>&1 &
        PIDS+=($!)
        MOUNTS+=("$W/mnt-$name")
        wait_mounted "$W/mnt-$name" $! || die "$name did not mount: $(tail -n 5 "$W/$name.log")"
        DIR[$name]=$W/mnt-$name
        OPTS[$name]="$prog $opts BACKING MOUNTPOINT"
}

for s in $SYSTEMS; do
        case $s in
        native) setup_native ;;
        vfolderfs) setup_vfolderfs vfolderfs "$VFOLDERFS" ;;
        vfolderfs2) setup_vfolderfs vfolderfs2 "$VFOLDERFS2" ;;
        bindfs) setup_fuse bindfs bindfs "$BINDFS_OPTS" ;;
        mergerfs) setup_fuse mergerfs mergerfs "$MERGERFS_OPTS" ;;
        esac
        asuser touch "${DIR[$s]}/.probe" && asuser rm "${DIR[$s]}/.probe" ||
                die "uid $UID1 cannot write in ${DIR[$s]} ($s)"
done

# ---- the header ------------------------------------------------------------


pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }

{
        echo "# vfolderfs benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "# machine: kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, loadavg at start $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "# disk: $W on $FSDEV ($FSTYPE); every backing directory is on it"
        echo "# versions: libfuse3 $(pkgver libfuse3-3), bindfs $(pkgver bindfs), mergerfs $(pkgver mergerfs), fio $(pkgver fio), tar $(pkgver tar)"
        for s in $SYSTEMS; do
                case $s in
                vfolderfs) echo "# vfolderfs: $VFOLDERFS ($("$VFOLDERFS" --version 2>&1 | head -n 1)); $(vf_rev "$VFOLDERFS")" ;;
                vfolderfs2) echo "# vfolderfs2: $VFOLDERFS2 ($("$VFOLDERFS2" --version 2>&1 | head -n 1)); $(vf_rev "$VFOLDERFS2")" ;;
                esac
        done
        for s in $SYSTEMS; do
                printf '#   %-10s %s\n' "$s" "${OPTS[$s]}"
        done
        echo "# tree: $TREE_SRC tarred: $TREE_ENTRIES entries, $TREE_FILES regular files, $((TREE_BYTES / 1048576)) MiB tar"
        echo "# sizes: seq ${SEQ_MB} MiB; fio ${FIO_MB} MiB file, $([ "$FIO_SECONDS" = 0 ] && echo "1024 calls" || echo "${FIO_SECONDS} s") per job; latency ${LAT_ITERS} calls per op on $( [ "$TREE_FILES" -lt 1000 ] && echo "$TREE_FILES" || echo 1000) files"
        echo "# rounds: $ROUNDS, interleaved (each workload on every system in turn, system order rotating)"
        echo "# all workloads as uid $UID1; times in s, latencies in us; ratio = system/native (IOPS: native/system), >1 = slower"
} | tee "$W/header.txt"

# ---- workloads -------------------------------------------------------------

RAW=$W/raw.tsv
: >"$RAW"
FAILED=0
head -n 1000 "$W/files.rel" >"$W/files.lat"

# record ROUND WORKLOAD SYSTEM UNIT VALUE
record() {
        printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"
        printf '%s: round %s %-15s %-9s %s %s\n' "$ME" "$1" "$2" "$3" "$5" "$4" >&2
}

# timed ROUND WORKLOAD SYSTEM CMD...: time CMD (run as uid 1000), record it.
timed() {
        local r=$1 w=$2 s=$3 t0 t1
        shift 3
        t0=$EPOCHREALTIME
        if timeout --foreground "$STEP_TIMEOUT" setpriv --reuid=$UID1 --regid=$UID1 --clear-groups -- \
                env -i PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C HOME=/nonexistent "$@" \
                >"$W/step.out" 2>"$W/step.err"; then
                t1=$EPOCHREALTIME
                record "$r" "$w" "$s" s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')"
                return 0
        fi
        fail_step "$r" "$w" "$s" s
        return 1
}

fail_step() {
        record "$1" "$2" "$3" "$4" fail
        echo "$ME: $2 failed on $3: $(head -c 300 "$W/step.err")" >&2
        FAILED=1
}

# Each group below runs on one system from start to end, so that the cache
# state a workload sees (cold after a drop, warm right after) is its own and
# not left over from another system's step.
g_untar() {
        cat "$W/tree.tar" >/dev/null # the tar file itself comes from the page cache
        sync
        asuser mkdir -p "$2/tree" &&
                timed "$1" untar "$3" tar -xf "$W/tree.tar" -C "$2/tree"
}
g_stat() {
        drop_caches
        timed "$1" stat_cold "$3" find "$2/tree" -ls
        timed "$1" stat_warm "$3" find "$2/tree" -ls
}
g_read() {
        local op med p99 f
        drop_caches
        if timed "$1" read_cold "$3" bash -c 'find "$1" -type f -print0 | "$2" read' _ "$2/tree" "$TREEUTIL"; then
                read -r f _ <"$W/step.out"
                [ "$f" = "$TREE_FILES" ] || {
                        echo "$ME: read_cold on $3 read $f files, expected $TREE_FILES" >&2
                        FAILED=1
                }
        fi
        # The latency probe, on the tree just read (warm).
        sed "s|^|$2/tree/|" "$W/files.lat" >"$W/lat.list"
        chmod 644 "$W/lat.list"
        if timeout --foreground "$STEP_TIMEOUT" setpriv --reuid=$UID1 --regid=$UID1 --clear-groups -- \
                "$LATENCY" -n "$LAT_ITERS" "$W/lat.list" >"$W/step.out" 2>"$W/step.err"; then
                while read -r op med p99; do
                        record "$1" "lat_${op}_us" "$3" us "$med"
                        record "$1" "lat_${op}_p99_us" "$3" us "$p99"
                done <"$W/step.out"
        else
                for op in stat open pread; do
                        fail_step "$1" "lat_${op}_us" "$3" us
                        fail_step "$1" "lat_${op}_p99_us" "$3" us
                done
        fi
}
g_rm() {
        drop_caches
        timed "$1" rm_cold "$3" rm -rf "$2/tree"
}
g_seq() {
        timed "$1" seq_write "$3" dd if=/dev/zero of="$2/seq.dat" bs=1M count="$SEQ_MB" conv=fsync
        drop_caches
        timed "$1" seq_read_cold "$3" dd if="$2/seq.dat" of=/dev/null bs=1M
        asuser rm -f "$2/seq.dat"
}
if [ "$FIO_SECONDS" = 0 ]; then
        FIO_LENGTH=--io_size=4M
else
        FIO_LENGTH="--runtime=$FIO_SECONDS --time_based"
fi
# fio_job ROUND WORKLOAD SYSTEM DIR RW FIELD
fio_job() {
        local iops
        if timeout --foreground "$STEP_TIMEOUT" setpriv --reuid=$UID1 --regid=$UID1 --clear-groups -- \
                env -i PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C HOME=/nonexistent \
                fio --name="$2" --filename="$4/fio.dat" --size="${FIO_MB}M" --bs=4k \
                --ioengine=psync --rw="$5" --invalidate=0 $FIO_LENGTH \
                --output-format=json >"$W/step.out" 2>"$W/step.err" &&
                iops=$(jq -r ".jobs[0].$6.iops" "$W/step.out") && [ -n "$iops" ] &&
                awk -v v="$iops" 'BEGIN { exit !(v > 0) }'; then
                record "$1" "$2" "$3" iops "$(printf '%.0f' "$iops")"
        else
                fail_step "$1" "$2" "$3" iops
        fi
}
g_fio() {
        # Warm: the file is written and read once through the system, and fio
        # does not invalidate it, so the figures are the per-call cost of each
        # file system's read and write path, not the disk's.
        asuser dd if=/dev/zero of="$2/fio.dat" bs=1M count="$FIO_MB" conv=fsync status=none &&
                asuser dd if="$2/fio.dat" of=/dev/null bs=1M status=none
        fio_job "$1" randread_iops "$3" "$2" randread read
        fio_job "$1" randwrite_iops "$3" "$2" randwrite write
        asuser rm -f "$2/fio.dat"
}

GROUPS_="untar stat read rm seq fio"
read -ra SYS <<<"$SYSTEMS"
NSYS=${#SYS[@]}
T_START=$EPOCHREALTIME
for ((r = 1; r <= ROUNDS; r++)); do
        echo "$ME: round $r of $ROUNDS" >&2
        for g in $GROUPS_; do
                for ((k = 0; k < NSYS; k++)); do
                        s=${SYS[$(((k + r - 1) % NSYS))]}
                        "g_$g" "$r" "${DIR[$s]}" "$s"
                done
        done
        # Leftovers of a failed step must not leak into the next round.
        for s in "${SYS[@]}"; do
                asuser rm -rf "${DIR[$s]}/tree" "${DIR[$s]}/seq.dat" "${DIR[$s]}/fio.dat" 2>/dev/null
        done
done
ELAPSED=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

for s in "${!VF_PID[@]}"; do
        if ! kill -0 "${VF_PID[$s]}" 2>/dev/null; then
                echo "$ME: the $s daemon died during the run: $(tail -n 5 "$W/$s/daemon.log")" >&2
                FAILED=1
        fi
done

# ---- the table ------------------------------------------------------------

python3 - "$RAW" "$OUT" "$SYSTEMS" "$ALL_SYSTEMS" <<'EOF' || FAILED=1
import csv, statistics, sys
raw, out, systems, order = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
systems = [s for s in order if s in systems]
data, units, workloads = {}, {}, []
for line in open(raw):
    r, w, s, u, v = line.rstrip("\n").split("\t")
    if w not in units:
        workloads.append(w)
    units[w] = u
    data.setdefault((w, s), []).append(None if v == "fail" else float(v))

def med(w, s):
    vals = data.get((w, s), [])
    if not vals or None in vals:
        return None
    return statistics.median(vals)

def ratio(w, s, base="native"):
    m, n = med(w, s), med(w, base)
    if m is None or n is None or m == 0 or n == 0:
        return None
    return n / m if units[w] == "iops" else m / n

def fmt(v, unit):
    if v is None:
        return "fail"
    if unit == "iops":
        return "%.0f" % v
    return "%.3f" % v if v < 100 else "%.1f" % v

others = [s for s in systems if s != "native"]
head = ["workload", "unit"] + systems + ["%s/nat" % s for s in others]
both = "vfolderfs" in systems and "vfolderfs2" in systems
if both:
    head.append("vf2/vf")
rows = []
for w in workloads:
    row = [w, units[w]] + [fmt(med(w, s), units[w]) for s in systems]
    if "native" in systems:
        row += ["fail" if ratio(w, s) is None else "%.2f" % ratio(w, s) for s in others]
    else:
        row += ["-" for s in others]
    if both:
        q = ratio(w, "vfolderfs2", "vfolderfs")
        row.append("fail" if q is None else "%.2f" % q)
    rows.append(row)
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
line = lambda r: "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
print(line(head))
print("  ".join("-" * wd for wd in widths))
for r in rows:
    print(line(r))

with open(out, "w", newline="") as f:
    c = csv.writer(f)
    c.writerow(["workload", "unit", "system", "median", "min", "max", "rounds", "ratio_to_native"])
    for w in workloads:
        for s in systems:
            vals = data.get((w, s), [])
            ok = [v for v in vals if v is not None]
            m = med(w, s)
            rt = ratio(w, s) if "native" in systems else None
            c.writerow([w, units[w], s, "fail" if m is None else "%.4f" % m,
                        "%.4f" % min(ok) if ok else "", "%.4f" % max(ok) if ok else "",
                        len(vals), "" if rt is None else "%.3f" % rt])
EOF
echo "# run time ${ELAPSED} s; loadavg at end $(cut -d' ' -f1-3 /proc/loadavg); CSV: $OUT"
if [ "$FAILED" != 0 ]; then
        echo "$ME: some workloads FAILED (see 'fail' above)" >&2
        exit 1
fi
exit 0
