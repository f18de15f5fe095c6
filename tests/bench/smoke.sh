#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# smoke.sh - the CI test 'bench-smoke' (suite 'bench'): runs the benchmark
# (bench.sh, BENCH_TINY=1 BENCH_ROUNDS=1) and the scale probes (scale.sh,
# BENCH_TINY=1) at tiny sizes, then checks that their CSVs hold a row for
# every workload x system (and every scale probe x size x metric) with a
# positive number, and a positive ratio to native for every other system.
# It proves the harness works end to end on all four systems; it measures
# nothing worth reading.  It uses about 28 s of CPU time (user + system);
# wall time 94 s measured on a 2-core VM at loadavg 8-12, well under 60 s
# expected on an idle one.
#
# Environment (set by meson): VFOLDERFS, VFOLDERFS_ADMIN, BENCH_LATENCY,
# BENCH_TREEUTIL.  Exit 77 (skip) only when /dev/fuse is absent.
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -c /dev/fuse ]; then
        echo "bench-smoke: /dev/fuse is absent, skipping"
        exit 77
fi
D=$(mktemp -d /tmp/vfolderfs-bench-smoke.XXXXXX) || exit 1
trap 'rm -rf "$D"' EXIT
FAIL=0

echo "== bench.sh (tiny)"
if ! BENCH_TINY=1 BENCH_ROUNDS=1 BENCH_OUT=$D/bench.csv bash "$HERE/bench.sh" 2>"$D/bench.err"; then
        echo "not ok: bench.sh failed:"
        tail -n 20 "$D/bench.err"
        FAIL=1
fi
echo "== scale.sh (tiny)"
if ! BENCH_TINY=1 SCALE_OUT=$D/scale.csv bash "$HERE/scale.sh" 2>"$D/scale.err"; then
        echo "not ok: scale.sh failed:"
        tail -n 20 "$D/scale.err"
        FAIL=1
fi

echo "== the CSVs"
python3 - "$D/bench.csv" "$D/scale.csv" <<'EOF' || FAIL=1
import csv, os, sys

def num(v):
    try:
        return float(v)
    except ValueError:
        return None

bad = []
systems = ["native", "vfolderfs", "bindfs", "mergerfs"]
workloads = ["untar", "stat_cold", "stat_warm", "read_cold",
             "lat_stat_us", "lat_stat_p99_us", "lat_open_us", "lat_open_p99_us",
             "lat_pread_us", "lat_pread_p99_us", "rm_cold", "seq_write",
             "seq_read_cold", "randread_iops", "randwrite_iops"]
rows = {}
if os.path.exists(sys.argv[1]):
    for r in csv.DictReader(open(sys.argv[1])):
        rows[(r["workload"], r["system"])] = r
for w in workloads:
    for s in systems:
        r = rows.get((w, s))
        if r is None:
            bad.append("bench: no row %s x %s" % (w, s))
            continue
        m = num(r["median"])
        if m is None or m <= 0:
            bad.append("bench: %s x %s median '%s' is not a positive number" % (w, s, r["median"]))
        if s != "native":
            q = num(r["ratio_to_native"])
            if q is None or q <= 0:
                bad.append("bench: %s x %s ratio '%s' is not a positive number" % (w, s, r["ratio_to_native"]))
print("bench.csv: %d rows checked" % (len(workloads) * len(systems)))

expected = []
for n in ("10", "50"):
    expected += [("folders", n, "vfolderfs", m) for m in ("start_s", "ls_s", "rss_kib", "hwm_kib", "fds")]
for n in ("100", "1000"):
    expected += [("entries", n, "vfolderfs", m) for m in ("ls_f_s", "ls_l_s", "rss_kib", "hwm_kib", "fds")]
    expected += [("entries", n, "native", m) for m in ("ls_f_s", "ls_l_s")]
for n in ("1000", "5000"):
    expected += [("walk", n, "vfolderfs", m + sfx) for m in ("rss_kib", "hwm_kib", "fds")
                 for sfx in ("", "_after_drop")]
    expected += [("walk", n, s, "find_s") for s in ("vfolderfs", "native")]
srows = {}
if os.path.exists(sys.argv[2]):
    for r in csv.DictReader(open(sys.argv[2])):
        srows[(r["probe"], r["size"], r["system"], r["metric"])] = r["value"]
for k in expected:
    v = srows.get(k)
    if v is None:
        bad.append("scale: no row %s" % ",".join(k))
    elif num(v) is None or num(v) <= 0:
        bad.append("scale: %s value '%s' is not a positive number" % (",".join(k), v))
print("scale.csv: %d rows checked" % len(expected))
for b in bad:
    print("not ok: " + b)
sys.exit(1 if bad else 0)
EOF

if [ $FAIL = 0 ]; then
        echo "bench-smoke: ok"
else
        echo "bench-smoke: FAILED"
fi
exit $FAIL
