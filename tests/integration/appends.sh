#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# appends.sh - appends from several sessions to one file land whole
# (issue 15, item 2; vfolderfs/ops.c set_open_flags()): three sessions on
# one folder, two processes in each, append distinct numbered lines (one
# write(2) of 10 bytes per line, O_APPEND) to one file for APPEND_SECONDS
# (default 3); then every line is whole and every line written is present
# exactly once, read on the storage host and through each session.  Lines
# crossing a page boundary are the ones the page cache used to split in
# two WRITE requests, with another session's append landing in between.
# Also: in a folder with a quota, concurrent appends from two sessions
# leave the usage counter equal to what the folder holds; a write of 1 MiB
# less a page from an unaligned buffer lands whole between other sessions'
# appends; an O_APPEND file can be mapped shared (the mount accepts
# FUSE_DIRECT_IO_ALLOW_MMAP when the kernel offers it) and privately.

. "$(dirname "$0")/lib.sh"
itest_begin appends "$@"

SECS=${APPEND_SECONDS:-3}
U=1000
must admin user add alice --uid $U --gid $U
must admin folder create shared --user alice
must admin folder create quoted --user alice --quota 1G
B=$(backing_of shared) || bail "no backing directory for folder shared"
BQ=$(backing_of quoted) || bail "no backing directory for folder quoted"
MNTS=("$MNT" "$T/mnt2" "$T/mnt3")
PIDS=()
for m in "${MNTS[@]}"; do
        mkdir -p "$m"
        must_start "$m" alice
        PIDS+=("$DAEMON_PID")
done

# userbg CMD...: CMD as the user, with a PATH without root's private
# directories (asuser's, for commands run in the background).
userbg() {
        setpriv --reuid=$U --regid=$U --clear-groups -- \
                env PATH=/usr/local/bin:/usr/bin:/bin "$@"
}

# appender PATH TAG SECONDS: append "TAG NNNNNN\n" lines, one write(2) each,
# for SECONDS (at most 2,000,000 lines); prints how many it wrote.
cat >"$T/append.py" <<'EOF'
import os, sys, time
path, tag, secs = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
end = time.monotonic() + secs
n = 0
while n < 2000000 and time.monotonic() < end:
    line = b"%s %06d\n" % (tag, n)
    if os.write(fd, line) != len(line):
        sys.exit("short write")
    n += 1
os.close(fd)
print(n)
EOF

# check.py PATH TAG=COUNT...: "lines L whole W present P" for PATH, where
# whole lines are "TAG NNNNNN" of a known tag and present counts each
# (TAG, N < COUNT) found exactly once.
cat >"$T/check.py" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read()
want = dict(a.split("=") for a in sys.argv[2:])
lines = data.split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
pat = re.compile(rb"^([a-z][0-9]) ([0-9]{6})$")
seen = {}
whole = 0
for l in lines:
    m = pat.match(l)
    if m and m.group(1).decode() in want:
        whole += 1
        k = (m.group(1).decode(), int(m.group(2)))
        seen[k] = seen.get(k, 0) + 1
present = sum(1 for t, c in want.items() for i in range(int(c))
              if seen.get((t, i)) == 1)
bad = [l for l in lines if not pat.match(l)][:3]
print("lines %d whole %d present %d%s" % (len(lines), whole, present,
      (" first bad: %r" % bad) if bad else ""))
EOF

# session_view MNT FILE SHA: wait (5 s at most) until FILE read through MNT
# has SHA256 SHA (the kernel's cache of another session's appends expires
# within 1 s); prints the check of what it reads.
session_view() {
        local i
        for i in $(seq 50); do
                [ "$(asuser $U sha256sum <"$1/$2" | cut -c1-64)" = "$3" ] && break
                sleep 0.1
        done
        asuser $U python3 "$T/check.py" "$1/$2" "${@:4}"
}

appends_from_three_sessions_land_whole_and_all_present() {
        local pids=() tags=() i j total=0 want=() got host sha expect
        : >"$B/log"
        chown $U:$U "$B/log"
        for i in 0 1 2; do
                for j in 1 2; do
                        local tag
                        tag=$(printf "\\x$(printf %x $((97 + i)))")$j
                        tags+=("$tag")
                        userbg python3 "$T/append.py" "${MNTS[$i]}/shared/log" "$tag" "$SECS" \
                                >"$T/app.$tag" 2>&1 &
                        pids+=($!)
                done
        done
        for i in "${!pids[@]}"; do
                wait "${pids[$i]}" || { ITEST_WHY="appender ${tags[$i]}: $(cat "$T/app.${tags[$i]}")"; return 1; }
                want+=("${tags[$i]}=$(cat "$T/app.${tags[$i]}")")
                total=$((total + $(cat "$T/app.${tags[$i]}")))
        done
        host=$(python3 "$T/check.py" "$B/log" "${want[@]}")
        echo "# ${#pids[@]} appenders for $SECS s wrote $total lines (${want[*]}); storage host: $host"
        expect="lines $total whole $total present $total"
        assert_eq "$expect" "$host" "the file on the storage host" &&
        assert_eq $((total * 10)) "$(stat -c %s "$B/log")" "its size" || return 1
        sha=$(sha256sum <"$B/log" | cut -c1-64)
        for i in 0 1 2; do
                got=$(session_view "${MNTS[$i]}/shared" log "$sha" "${want[@]}")
                echo "# through session $((i + 1)): $got"
                assert_eq "$expect" "$got" "the file read through session $((i + 1))" || return 1
        done
}

# A write of 1 MiB less one page from an unaligned buffer is one WRITE
# request (max_write 1 MiB, 256 pages).
a_large_append_lands_whole_between_other_sessions_appends() {
        local p1 p2 got
        : >"$B/big"
        chown $U:$U "$B/big"
        userbg python3 "$T/append.py" "$MNT/shared/big" a1 2 >"$T/big.a1" 2>&1 &
        p1=$!
        userbg python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
buf = bytearray(1 + 1048576 - 4096)
block = memoryview(buf)[1:]   # not page-aligned
n = 0
end = time.monotonic() + 2
while time.monotonic() < end:
    block[:] = (b"%c" % (65 + n % 26)) * (len(block) - 1) + b"\n"
    assert os.write(fd, block) == len(block)
    n += 1
print(n)' "${MNTS[1]}/shared/big" >"$T/big.b" 2>&1 &
        p2=$!
        wait $p1 && wait $p2 || { ITEST_WHY="appenders: $(cat "$T/big.a1" "$T/big.b")"; return 1; }
        got=$(python3 -c '
import re, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
small = sum(1 for l in lines if re.fullmatch(rb"a1 [0-9]{6}", l))
big = sum(1 for l in lines if len(l) == 1048576 - 4096 - 1 and l == l[:1] * len(l))
print("small %d big %d other %d" % (small, big, len(lines) - small - big))' "$B/big")
        echo "# large appends: $got (written: $(cat "$T/big.a1") small, $(cat "$T/big.b") big)"
        assert_eq "small $(cat "$T/big.a1") big $(cat "$T/big.b") other 0" "$got" "lines in the file"
}

concurrent_appends_keep_the_quota_exact() {
        local pids=() i j used real
        : >"$BQ/log"
        chown $U:$U "$BQ/log"
        for i in 0 1; do
                for j in 1 2; do
                        userbg python3 "$T/append.py" "${MNTS[$i]}/quoted/log" "q$j" 2 \
                                >/dev/null 2>&1 &
                        pids+=($!)
                done
        done
        for i in "${pids[@]}"; do
                wait "$i" || { ITEST_WHY="an appender failed"; return 1; }
        done
        used=$(admin --json usage quoted | jq -r .counted_bytes)
        real=$(stat -c %s "$BQ/log")
        echo "# quota'd folder: counter $used, file $real bytes"
        assert_eq "$real" "$used" "the usage counter against the file's size"
}

# maps PATH FLAGS: mmap PATH (opened O_RDWR|O_APPEND) with FLAGS, write one
# byte through the mapping and msync; prints "ok" or the error.
maps() {
        asuser $U python3 -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND)
try:
    m = mmap.mmap(fd, 4096, flags=getattr(mmap, sys.argv[2]))
    m[0:1] = b"M"
    m.flush()
    m.close()
    print("ok")
except OSError as e:
    print(os.strerror(e.errno))' "$1" "$2"
}

an_append_only_file_can_be_mapped() {
        local shared private
        head -c 4096 /dev/zero >"$B/mm"
        chown $U:$U "$B/mm"
        shared=$(maps "$MNT/shared/mm" MAP_SHARED)
        private=$(maps "$MNT/shared/mm" MAP_PRIVATE)
        assert_eq "ok ok" "$shared $private" "MAP_SHARED, MAP_PRIVATE" &&
        assert_eq "4096 M" "$(stat -c %s "$B/mm") $(head -c 1 "$B/mm" | tr '\0' 0)" \
                "size and first byte of the file after a write through the shared mapping"
}

run_test appends_from_three_sessions_land_whole_and_all_present
run_test a_large_append_lands_whole_between_other_sessions_appends
run_test concurrent_appends_keep_the_quota_exact
run_test an_append_only_file_can_be_mapped
for i in 2 1 0; do
        daemon_stop "${MNTS[$i]}" "${PIDS[$i]}"
done
itest_end
