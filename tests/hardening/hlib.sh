# SPDX-License-Identifier: LGPL-2.1-or-later
# hlib.sh - what escape.sh and race.sh share on top of the integration
# harness (tests/integration/lib.sh, sourced here): the sentinel world, a
# snapshot of it that records content AND timestamps, and its comparison.
#
# The sentinel world: everything the daemon must never read, write, create
# or remove while it serves alice's folder A.  Every file in it holds the
# marker $MARKER (and the xattr user.mark=$MARKER); every entry is owned by
# root and closed to others (dirs 0700, files 0600), so the session user
# (uid 1000), for whom the kernel resolves symlinks in the session, can
# never read it himself: a read that returns $MARKER, or any change in the
# snapshot, can only come from the daemon (root) following a name out of
# the folder.
#   $ABS          a tmpfs mounted with strictatime (so every read shows in
#                 atime), reachable from the folder by absolute symlinks
#   $T/sentinel   beside the catalog, reached by relative ".." chains ($UP)
#   $BB           bob's folder's backing directory (another user's data)
#   $STORE        the storage host root (host-secret, hostdir/), minus the
#                 backing directories of alice's own folders A and O
#   $T            the catalog directory: catalog-secret, catdir/, and the
#                 set of names in it
# Atimes: every sentinel entry gets an atime in 2001 (older than its ctime),
# so that even on a relatime file system (the storage host here) the first
# read of it would move its atime.  The snapshot itself reads with
# O_NOATIME, so taking it changes nothing.

. "$(dirname "$0")/../integration/lib.sh" || exit 1

MARKER=SENTINEL-7f3a9c-MUST-NOT-LEAK
U=1000
UB=1001

# hsetup NAME "$@": itest_begin plus the users, folders and sentinel world.
# Sets BA BO BB D (alice's A in the session) MNT UP.
hsetup() {
        itest_begin "$@"
        # Everything below writes under $T: never run without it.
        case $T in
        /tmp/vfolderfs-itest.*) [ -d "$T" ] || exit 1 ;;
        *) echo "hsetup: no test world (T='$T')" >&2; exit 1 ;;
        esac
        must admin user add alice --uid $U --gid $U
        must admin user add bob --uid $UB --gid $UB
        must admin folder create A --user alice --permission wd
        must admin folder create O --user alice --permission wd
        must admin folder create B --user bob --permission wd
        BA=$(backing_of A) || bail "no backing directory for folder A"
        BO=$(backing_of O) || bail "no backing directory for folder O"
        BB=$(backing_of B) || bail "no backing directory for folder B"
        local v
        for v in "$BA" "$BO" "$BB"; do
                case $v in "$STORE"/?*) ;; *) bail "backing directory '$v' not under $STORE" ;; esac
        done
        local rel=${BA#"$T"/} n
        n=$(awk -F/ '{ print NF }' <<<"$rel")
        UP=
        for _ in $(seq "$n"); do UP+="../"; done

        ABS=$T/abs
        mkdir -p "$ABS"
        mount -t tmpfs -o strictatime,mode=0700,size=4m hsentinel "$ABS" ||
                bail "cannot mount the strictatime tmpfs sentinel"
        sentinel_fill "$ABS"
        mkdir -p "$T/sentinel"
        sentinel_fill "$T/sentinel"
        sentinel_fill "$BB"
        mkdir -p "$STORE/hostdir" "$T/catdir"
        sentinel_fill "$STORE/hostdir"
        sentinel_fill "$T/catdir"
        sentinel_file "$STORE/host-secret"
        sentinel_file "$T/catalog-secret"
        chmod 0700 "$T/sentinel" "$BB" "$STORE/hostdir" "$T/catdir"
        sentinel_age
}

sentinel_file() {
        printf '%s %s\n' "$MARKER" "$1" >"$1"
        chmod 0600 "$1"
        setfattr -n user.mark -v "$MARKER" "$1" 2>/dev/null ||
                "$FSOP" setxattr "$1" user.mark "$MARKER" >/dev/null
}

# sentinel_fill DIR: a small tree with the marker everywhere.
sentinel_fill() {
        local d=$1
        mkdir -p "$d/sub/deeper" "$d/$MARKER-dir"
        sentinel_file "$d/secret"
        sentinel_file "$d/sub/deep"
        sentinel_file "$d/sub/deeper/deepest"
        sentinel_file "$d/$MARKER-file"
        ln -sfn secret "$d/link-to-secret"
        chmod 0700 "$d/sub" "$d/sub/deeper" "$d/$MARKER-dir"
}

# sentinel_age: every sentinel entry gets an atime older than its ctime.
sentinel_age() {
        local p
        for p in "$ABS" "$T/sentinel" "$BB" "$STORE/hostdir" "$T/catdir" \
                 "$STORE/host-secret" "$T/catalog-secret" "$STORE"; do
                find "$p" -xdev \( -path "$BA" -o -path "$BO" \) -prune -o \
                        -exec touch -a -h -d @1000000000 {} + 2>/dev/null
        done
}

# hsnap: one line per sentinel entry (path, inode, type/mode, owner, size,
# nlink, atime, mtime, ctime, sha256, xattrs, listing), then the names in $T.
hsnap() {
        python3 - "$BA" "$BO" "$ABS" "$T/sentinel" "$BB" "$STORE" "$T/catdir" \
                "$T/catalog-secret" <<'PY'
import hashlib, os, stat, sys
skip = {sys.argv[1], sys.argv[2]}
def entry(p):
    st = os.lstat(p)
    line = [p, f"i{st.st_ino}", oct(st.st_mode), f"{st.st_uid}:{st.st_gid}", str(st.st_size),
            str(st.st_nlink), f"a{st.st_atime_ns}", f"m{st.st_mtime_ns}",
            f"c{st.st_ctime_ns}"]
    if stat.S_ISLNK(st.st_mode):
        # readlink(2) would move the link's atime: a symlink's target
        # cannot change without a new inode or a new ctime, both recorded.
        return line, []
    if stat.S_ISREG(st.st_mode):
        fd = os.open(p, os.O_RDONLY | os.O_NOATIME | os.O_NOFOLLOW)
        h = hashlib.sha256()
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
        os.close(fd)
        line.append(h.hexdigest())
    xs = sorted(os.listxattr(p, follow_symlinks=False))
    line.append(",".join(f"{x}={os.getxattr(p, x, follow_symlinks=False).hex()}"
                         for x in xs))
    kids = []
    if stat.S_ISDIR(st.st_mode):
        fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOATIME | os.O_NOFOLLOW)
        kids = sorted(os.listdir(fd))
        os.close(fd)
        line.append("[" + "/".join(kids) + "]")
    return line, kids
def walk(p):
    if p in skip:
        print(p, "(folder under test, not compared)")
        return
    line, kids = entry(p)
    print(" ".join(line))
    for k in kids:
        walk(os.path.join(p, k))
for root in sys.argv[3:]:
    walk(root)
PY
        # The catalog directory: which names exist (its other files change).
        echo "names in \$T: $(cd "$T" && ls -A | grep -vE '^(catalog\.db.*|daemon\.log|setup\.log|start\.err|.*\.out|.*\.tmp|work)$' | tr '\n' ' ')"
}

# sentinel_check BEFORE: compare hsnap with BEFORE; on a difference set
# ITEST_WHY to the first differing lines and return 1.
sentinel_check() {
        local now
        now=$(hsnap)
        if [ "$now" != "$1" ]; then
                ITEST_WHY="sentinel changed: $(diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") | grep '^[<>]' | head -n 6 | tr '\n' ' ')"
                return 1
        fi
}
