#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# escape.sh - issue #6: attempts to get out of a wd folder, by the session
# user (uid 1000, setpriv) and, where the kernel lets root act on a name
# without following it, by root in the session.  Goes beyond
# tests/integration/containment.sh (which checks relative ".." chains,
# symlinks planted by the host, a deterministic swap): here the attacker
# makes the symlinks himself (to /, to another user's backing directory, to
# the storage host root, to the catalog directory, to an absolute sentinel
# on a strictatime tmpfs), reads their xattrs and attributes, hard-links and
# renames them, moves things across folders and scratch, makes device nodes,
# FIFOs, sockets and O_TMPFILE files, plays with setuid/setgid bits and with
# the trusted., security. and system. xattr namespaces, and uses names of
# 255/256 bytes, with newlines and with invalid UTF-8.
#
# Pass criterion (tests/hardening/hlib.sh): no read ever returns the
# sentinel marker, and the sentinel world (content, modes, owners, xattrs,
# atime, mtime, ctime, listings) is unchanged after each group of attacks.
# Runs in a few seconds; no long variant.

. "$(dirname "$0")/hlib.sh"
hsetup escape "$@"

must_start "$MNT" alice
D=$MNT/A
O=$MNT/O
mkdir -p "$T/work"
BEFORE=$(hsnap)
printf 'inside-A\n' >"$BA/f"
printf 'inside-O\n' >"$BO/g"
mkdir "$BA/dir" "$BO/odir"
chmod 644 "$BA/f" "$BO/g"

# The escape symlinks the user makes: name -> target.
declare -A LINKS=(
        [root]=/
        [abs]=$ABS/secret
        [absdir]=$ABS
        [absdeep]=$ABS/sub/deeper/deepest
        [bob]=$BB/secret
        [bobdir]=$BB
        [rel]=${UP}sentinel/secret
        [reldir]=${UP}sentinel
        [host]=${UP}storage/host-secret
        [hostdir]=${UP}storage
        [cat]=${UP}catalog-secret
        [catdir]=${UP}catdir
        [dotdots]=../../../../../../../../../../../../
        [chain]=chain2
        [chain2]=${UP}sentinel/link-to-secret
)

# Every link name: those made through the mount and those planted (p_*).
NAMES=("${!LINKS[@]}")
ALL_LINKS=("${NAMES[@]}" "${NAMES[@]/#/p_}")
# The links that calls which change things are aimed at: all but those
# leading to the machine's real / (root, dotdots).  A broken daemon that
# follows links then damages only the test world, never the machine (a
# mutation test of an earlier version chmod-ed / to 777 that way).
W_LINKS=()
for l in "${NAMES[@]}"; do
        case $l in root | dotdots) ;; *) W_LINKS+=("$l") ;; esac
done

# pyas UID CODE ARGS...: python3 as UID (root when 0).
pyas() {
        local uid=$1
        shift
        if [ "$uid" = 0 ]; then
                python3 -c "$@" 2>&1
        else
                asuser "$uid" python3 -c "$@" 2>&1
        fi
}

user_made_escape_symlinks_are_stored_verbatim() {
        # Made by the session user through the mount; the same set is also
        # planted on the storage host as p_NAME (as another node could).
        local l r bad=
        for l in "${!LINKS[@]}"; do
                ln -s "${LINKS[$l]}" "$BA/p_$l"
        done
        r=$(for l in "${NAMES[@]}"; do
                printf 'symlink\t%s\t%s\n' "${LINKS[$l]}" "$D/$l"
        done | asuser $U "$FSOP" batch | tr '\n' ' ')
        [ "$r" = "$(printf 'ok %.0s' "${NAMES[@]}")" ] || bad+="symlinks made (in the order ${NAMES[*]}): $r; "
        for l in "${!LINKS[@]}"; do
                [ "$(readlink "$BA/$l")" = "${LINKS[$l]}" ] || bad+="backing link $l: $(readlink "$BA/$l"); "
        done
        # lstat in the session: the link itself (size = target length).
        local want got
        want=$(for l in "${ALL_LINKS[@]}"; do
                printf '%s|symbolic link %s\n' "$D/$l" "${#LINKS[${l#p_}]}"
        done)
        got=$(asuser $U stat -c '%n|%F %s' "${ALL_LINKS[@]/#/$D/}" 2>&1)
        [ "$got" = "$want" ] ||
                bad+="lstat: $(diff <(echo "$want") <(echo "$got") | grep '^>' | head -n 3 | tr '\n' ' ')"
        if [ -n "$bad" ]; then
                ITEST_WHY="$bad"
                return 1
        fi
        # (the sentinel is compared by the next test, which only reads)
}

reads_through_escape_symlinks_never_return_the_sentinel() {
        # The kernel resolves them in the session: on the host, where the
        # sentinel is closed to uid 1000.  Only the daemon could read it.
        local out
        out=$(asuser $U bash -c '
                d=$1 r=$2; shift 2
                for l in "$@"; do
                        cat "$d/$l" "$d/$l/secret" "$d/$l/sub/deep"
                        ls -la "$d/$l/"
                done
                cat "$r"
                find "$d/" -maxdepth 3' bash "$D" "$D/root$ABS/secret" "${ALL_LINKS[@]}" 2>&1)
        out+=$(asuser $U cat "$D/root$BB/secret" "$D/root$T/catalog-secret" "$D/root$STORE/host-secret" 2>&1)
        if grep -q "$MARKER" <<<"$out"; then
                ITEST_WHY="a read returned the sentinel: $(grep -m1 "$MARKER" <<<"$out")"
                return 1
        fi
        sentinel_check "$BEFORE"
}

xattrs_read_on_a_symlink_are_never_its_targets() {
        # lgetxattr/llistxattr reach the daemon for the link's own inode; the
        # targets all carry user.mark=$MARKER.
        local out
        out=$(pyas 0 '
import os, sys
for p in sys.argv[1:]:
    try:
        print(os.listxattr(p, follow_symlinks=False))
        print(os.getxattr(p, "user.mark", follow_symlinks=False))
    except OSError as e:
        print(p, e.strerror)' "${ALL_LINKS[@]/#/$D/}")
        if grep -q "$MARKER\|user.mark" <<<"$out"; then
                ITEST_WHY="xattr of a link target: $(grep -m1 "$MARKER\|user.mark" <<<"$out")"
                return 1
        fi
        # (the sentinel is compared by the next test)
}

changes_aimed_at_escape_symlinks_by_root_act_on_the_link_only() {
        # Root in the session, with the calls that do not follow the last
        # component: the daemon gets the link's inode and must act on it (or
        # refuse), never on what it points to.
        local l out want
        out=$(for l in "${W_LINKS[@]}"; do
                printf 'lchown\t%s\t0\t0\n' "$D/$l"
                printf 'lutimens\t%s\t1234567890\n' "$D/$l"
                printf 'lsetxattr\t%s\tuser.evil\t1\n' "$D/$l"
                printf 'lsetxattr\t%s\ttrusted.evil\t1\n' "$D/$l"
                printf 'link\t%s\t%s\n' "$D/$l" "$D/$l.hl"
                printf 'rename\t%s\t%s\n' "$D/$l.hl" "$D/$l.mv"
                printf 'unlink\t%s\n' "$D/$l.mv"
        done | "$FSOP" batch | awk 'NR % 7 >= 5 || NR % 7 == 0' | tr '\n' ' ')
        # link, rename and unlink of each link must work, on the link.
        want=$(printf 'ok ok ok %.0s' "${W_LINKS[@]}")
        assert_eq "$want" "$out" "link/rename/unlink of the links ${W_LINKS[*]}" || return 1
        for l in "${W_LINKS[@]}"; do
                assert_eq "${LINKS[$l]}" "$(readlink "$BA/$l")" "link $l after the attacks" || return 1
        done
        # Replace a link by a file and exchange a file with a link.
        printf 'x\n' >"$T/work/x"
        assert_eq ok "$(op $U create "$D/repl" 644)" "create repl" &&
        assert_eq ok "$(op $U rename "$D/repl" "$D/abs")" "rename over the abs link" &&
        assert_eq "regular empty file" "$(stat -c %F "$BA/abs")" "abs replaced in the backing dir" &&
        assert_eq ok "$(op $U rename2 "$D/f" "$D/bob" exchange)" "exchange f with the bob link" &&
        assert_eq "$BB/secret" "$(readlink "$BA/f")" "f is now the link" &&
        assert_eq ok "$(op $U rename2 "$D/f" "$D/bob" exchange)" "exchange back" &&
        assert_eq ok "$(op $U unlink "$D/rel")" "unlink of the rel link" &&
        refute "rel gone" test -L "$BA/rel" &&
        assert_eq ENOTDIR "$(op $U rmdir "$D/reldir")" "rmdir of a dir link" &&
        assert_eq ENOTDIR "$(op $U rmdir "$D/absdir")" "rmdir of an absolute dir link" &&
        sentinel_check "$BEFORE"
}

following_calls_by_the_user_through_escape_symlinks_change_nothing() {
        # The kernel resolves these in the session (on the host, where the
        # sentinel is closed to uid 1000): they must all fail, and the
        # sentinel must not move, whatever the daemon is asked on the way.
        local l out calls
        calls=$(for l in "${W_LINKS[@]}"; do
                printf 'write\t%s\tEVIL\n' "$D/$l"
                printf 'truncate\t%s\t0\n' "$D/$l"
                printf 'chmod\t%s\t777\n' "$D/$l"
                printf 'setxattr\t%s\tuser.evil\t1\n' "$D/$l"
                printf 'utimens\t%s\t1\n' "$D/$l"
                printf 'create\t%s\t644\n' "$D/$l/planted"
                printf 'mkdir\t%s\t755\n' "$D/$l/pdir"
                printf 'unlink\t%s\n' "$D/$l/secret"
                printf 'rename\t%s\t%s\n' "$D/f" "$D/$l/f"
                printf 'link\t%s\t%s\n' "$D/f" "$D/$l/hl"
                printf 'symlink\tx\t%s\n' "$D/$l/sl"
                printf 'read\t%s\n' "$D/$l/sub/deeper/deepest"
        done)
        out=$(asuser $U "$FSOP" batch <<<"$calls")
        echo "# results: $(sort <<<"$out" | uniq -c | tr -s ' \n' ' ')"
        assert_eq "" "$(paste <(printf '%s\n' "$calls") <(printf '%s\n' "$out") | awk -F'\t' '$NF == "ok"' | tr '\t\n' ' ;')" "calls that succeeded" &&
        sentinel_check "$BEFORE"
}

links_and_renames_never_cross_folders() {
        assert_eq EXDEV "$(op $U link "$D/f" "$O/f")" "link A -> O" &&
        assert_eq EXDEV "$(op $U link "$O/g" "$D/g")" "link O -> A" &&
        assert_eq EXDEV "$(op $U rename "$D/f" "$O/f")" "rename A -> O" &&
        assert_eq EXDEV "$(op $U rename "$O/g" "$D/g")" "rename O -> A" &&
        assert_eq EXDEV "$(op $U rename "$D/dir" "$O/dir")" "rename dir A -> O" &&
        assert_eq EXDEV "$(op $U rename2 "$D/f" "$O/g" exchange)" "exchange A <-> O" &&
        assert_eq EXDEV "$(op $U rename2 "$D/dir" "$O/odir" exchange)" "exchange dirs A <-> O" &&
        assert_eq EXDEV "$(op $U rename2 "$D/f" "$MNT/nofile" noreplace)" "rename A -> scratch" &&
        assert_eq EXDEV "$(op 0 link "$BB/secret" "$D/bobhl")" "root: link bob's file into A" &&
        assert_eq EXDEV "$(op 0 rename "$D/f" "$BB/f")" "root: rename into bob's backing dir" &&
        assert_eq EXDEV "$(op 0 link "$D/f" "$BO/hl")" "root: link into O's backing dir" &&
        assert_eq "inside-A" "$(cat "$BA/f")" "A/f" && assert_eq "inside-O" "$(cat "$BO/g")" "O/g" &&
        assert_eq "dir f" "$(ls "$BA" | grep -E '^(f|g|dir|odir|bobhl)$' | tr '\n' ' ' | sed 's/ $//')" "A's entries" &&
        assert_eq "g odir" "$(ls "$BO" | tr '\n' ' ' | sed 's/ $//')" "O's entries" &&
        sentinel_check "$BEFORE"
}

device_nodes_cannot_be_made_fifos_and_sockets_stay_inside() {
        assert_eq EPERM "$(op $U mknod "$D/cdev" c 1 5)" "user mknod c" &&
        assert_eq EPERM "$(op $U mknod "$D/bdev" b 7 0)" "user mknod b" &&
        assert_eq EPERM "$(op 0 mknod "$D/cdev" c 1 5)" "root mknod c" &&
        assert_eq EPERM "$(op 0 mknod "$D/bdev" b 7 0)" "root mknod b" &&
        refute "no cdev" test -e "$BA/cdev" && refute "no bdev" test -e "$BA/bdev" &&
        assert_eq ok "$(op $U mknod "$D/fifo" p 0 0)" "user mkfifo" &&
        assert_eq fifo "$(stat -c %F "$BA/fifo")" "fifo in the backing dir" &&
        assert_eq ok "$(pyas $U 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); print("ok")' "$D/sock")" "bind a socket" &&
        assert_eq socket "$(stat -c %F "$BA/sock")" "socket in the backing dir" &&
        sentinel_check "$BEFORE"
}

a_device_node_planted_on_the_storage_host_gives_no_device_access() {
        # Another node's root (or an operator) left a /dev/zero and a /dev/mem
        # in the folder.  Through the session they must not open as devices.
        mknod -m 0666 "$BA/planted-zero" c 1 5 || return 1
        mknod -m 0666 "$BA/planted-mem" c 1 1 || return 1
        local out
        out=$(pyas $U '
import os, sys
for p in sys.argv[1:]:
    try:
        fd = os.open(p, os.O_RDONLY)
        print("OPENED", p, len(os.read(fd, 16)))
        os.close(fd)
    except OSError as e:
        print(e.strerror)' "$D/planted-zero" "$D/planted-mem")
        echo "# planted devices: $(tr '\n' ' ' <<<"$out")"
        rm -f "$BA/planted-zero" "$BA/planted-mem"
        refute "no device opened through the mount ($out)" grep -q OPENED <<<"$out"
}

o_tmpfile_stays_in_the_folder() {
        # Either refused (EOPNOTSUPP: FUSE without a tmpfile operation), or
        # the unnamed file lives in A's backing dir and can be linked into A
        # only.
        local out
        out=$(pyas $U '
import os, sys
d, o = sys.argv[1], sys.argv[2]
try:
    fd = os.open(d, os.O_TMPFILE | os.O_RDWR, 0o600)
except OSError as e:
    print("refused", e.errno == 95 and "EOPNOTSUPP" or e.strerror); sys.exit(0)
os.write(fd, b"tmp\n")
try:
    os.link("/proc/self/fd/%d" % fd, o + "/tmpx", follow_symlinks=True)
    print("linked-into-O")
except OSError as e:
    print("O:", e.strerror)
os.link("/proc/self/fd/%d" % fd, d + "/tmpfile", follow_symlinks=True)
print("linked")' "$D" "$O")
        echo "# O_TMPFILE: $(tr '\n' ' ' <<<"$out")"
        case $out in
        "refused EOPNOTSUPP") ;;
        *linked-into-O*) ITEST_WHY="an O_TMPFILE of A was linked into O"; return 1 ;;
        *linked) assert_eq "tmp" "$(cat "$BA/tmpfile")" "tmpfile in A's backing dir" || return 1 ;;
        *) ITEST_WHY="unexpected O_TMPFILE outcome: $out"; return 1 ;;
        esac
        sentinel_check "$BEFORE"
}

setuid_and_setgid_bits_never_reach_the_storage_host() {
        # permissions.sh covers create 04755, mkdir 02755 and chmod; here the
        # other ways in: fchmod on an open descriptor, root in the session,
        # and a setgid directory planted on the storage host (whose bit the
        # backing file system would pass on to new subdirectories).
        local out
        assert_eq ok "$(op $U create "$D/s1" 755)" "create s1" || return 1
        out=$(pyas $U '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for m in (0o4755, 0o2755, 0o6777):
    try:
        os.fchmod(fd, m); print("ok")
    except OSError as e:
        print(e.strerror)' "$D/s1" | tr '\n' ' ')
        assert_eq "Operation not permitted Operation not permitted Operation not permitted " "$out" "fchmod with setuid/setgid" &&
        assert_eq EPERM "$(op 0 chmod "$D/s1" 4755)" "root: chmod 4755" &&
        assert_eq EPERM "$(op 0 chmod "$D/dir" 2755)" "root: chmod g+s on a dir" &&
        assert_eq 755 "$(stat -c %a "$BA/s1")" "mode of s1" || return 1
        mkdir "$BA/sgid" && chmod 2777 "$BA/sgid"
        op $U mkdir "$D/sgid/sub" 755 >/dev/null
        op $U create "$D/sgid/file" 2755 >/dev/null
        op 0 mkdir "$D/sgid/rootsub" 2755 >/dev/null
        local m1 m2 m3
        m1=$(stat -c %a "$BA/sgid/sub" 2>&1) m2=$(stat -c %a "$BA/sgid/file" 2>&1) m3=$(stat -c %a "$BA/sgid/rootsub" 2>&1)
        assert_eq "755 755 755" "$m1 $m2 $m3" "modes stored under a planted setgid dir (sub file rootsub)"
}

a_planted_setuid_root_program_runs_without_root() {
        # Another node's root left a setuid-root copy of id(1) in the folder.
        cp /usr/bin/id "$BA/suid-id" && chown 0:0 "$BA/suid-id" && chmod 4755 "$BA/suid-id" || return 1
        local out
        out=$(asuser $U "$D/suid-id" -u 2>&1)
        rm -f "$BA/suid-id"
        assert_eq $U "$out" "effective uid of a planted setuid-root program"
}

privileged_xattr_namespaces_are_refused() {
        setfattr_backing() { "$FSOP" setxattr "$1" "$2" "$3" >/dev/null; }
        setfattr_backing "$BA/f" trusted.planted secret-t
        setfattr_backing "$BA/f" security.planted secret-s
        local acl out
        # A valid POSIX ACL value (version 2; user::rwx group::rwx other::rwx
        # user:1000:rwx mask::rwx): the kernel parses it before the daemon.
        acl=$(python3 -c '
import struct
e = lambda tag, perm, id: struct.pack("<HHI", tag, perm, id)
print((struct.pack("<I", 2) + e(1,7,0xffffffff) + e(2,7,1000) + e(4,7,0xffffffff) + e(0x10,7,0xffffffff) + e(0x20,7,0xffffffff)).hex())')
        out=$(pyas 0 '
import os, sys
p, acl = sys.argv[1], bytes.fromhex(sys.argv[2])
for n, v in (("trusted.evil", b"1"), ("security.evil", b"1"), ("security.capability", b"\x01\x00\x00\x02\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00"),
             ("system.posix_acl_access", acl), ("system.posix_acl_default", acl)):
    t = p + ("/dir" if n.endswith("default") else "/f")
    try:
        os.setxattr(t, n, v); print(n, "ok")
    except OSError as e:
        print(n, e.errno == 95 and "EOPNOTSUPP" or e.strerror)
for n in ("trusted.planted", "security.planted"):
    try:
        os.removexattr(p + "/f", n); print("rm", n, "ok")
    except OSError as e:
        print("rm", n, e.errno == 95 and "EOPNOTSUPP" or e.strerror)
' "$D" "$acl")
        echo "# root in the session: $(tr '\n' ';' <<<"$out")"
        if grep -qv "EOPNOTSUPP" <<<"$out"; then
                ITEST_WHY="expected EOPNOTSUPP everywhere got: $(grep -v EOPNOTSUPP <<<"$out" | tr '\n' ';')"
                return 1
        fi
        # (the kernel refuses security.* to an unprivileged caller first)
        assert_eq EPERM "$(op $U setxattr "$D/f" security.evil 1)" "user: security.evil" &&
        assert_eq EPERM "$(op $U setxattr "$D/f" trusted.evil 1)" "user: trusted.evil" &&
        assert_eq "trusted.planted=secret-t security.planted=secret-s" \
                "trusted.planted=$("$FSOP" getxattrv "$BA/f" trusted.planted) security.planted=$("$FSOP" getxattrv "$BA/f" security.planted)" \
                "planted xattrs still there" &&
        assert_eq ENODATA "$(op 0 getxattr "$BA/f" trusted.evil)" "no trusted.evil on the backing file" &&
        assert_eq ENODATA "$(op 0 getxattr "$BA/f" system.posix_acl_access)" "no ACL on the backing file" &&
        assert_eq ENODATA "$(op 0 getxattr "$BA/dir" system.posix_acl_default)" "no default ACL on the backing dir" &&
        assert_eq ENODATA "$(op 0 getxattr "$BA/f" security.capability)" "no file capability on the backing file" &&
        sentinel_check "$BEFORE"
}

trusted_xattr_names_are_not_listed_to_the_session_user() {
        # On a local file system an unprivileged listxattr(2) never shows
        # trusted.* names; through the daemon (root) it must not either.
        local out
        out=$(asuser $U "$FSOP" listxattrv "$D/f")
        echo "# user sees xattr names: $out"
        refute "no trusted.* name in the user's listing (got '$out')" grep -q trusted <<<"$out"
}

names_of_255_bytes_work_and_256_give_enametoolong() {
        local n255 n256 n255b
        n255=$(printf 'a%.0s' $(seq 255))
        n255b=$(printf 'b%.0s' $(seq 255))
        n256=$(printf 'c%.0s' $(seq 256))
        assert_eq ok "$(op $U create "$D/$n255" 644)" "create 255" &&
        assert_eq ok "$(op $U write "$D/$n255" hello)" "write 255" &&
        assert_eq hello "$(cat "$BA/$n255")" "backing 255" &&
        assert_eq ok "$(op $U rename "$D/$n255" "$D/$n255b")" "rename 255 -> 255" &&
        assert_eq ok "$(op $U mkdir "$D/$n255" 755)" "mkdir 255" &&
        assert_eq ok "$(op $U symlink "../$n255b" "$D/$n255/$n255")" "symlink 255 in 255" &&
        assert_eq "../$n255b" "$(readlink "$BA/$n255/$n255")" "backing symlink 255" &&
        assert_eq ok "$(op $U stat "$D/$n255/$n255")" "stat through a 255-byte symlink" &&
        assert_eq ENAMETOOLONG "$(op $U create "$D/$n256" 644)" "create 256" &&
        assert_eq ENAMETOOLONG "$(op $U mkdir "$D/$n256" 755)" "mkdir 256" &&
        assert_eq ENAMETOOLONG "$(op $U symlink x "$D/$n256")" "symlink 256" &&
        assert_eq ENAMETOOLONG "$(op $U rename "$D/$n255b" "$D/$n256")" "rename to 256" &&
        assert_eq ENAMETOOLONG "$(op $U link "$D/$n255b" "$D/$n256")" "link to 256" &&
        assert_eq ENAMETOOLONG "$(op $U stat "$D/$n256")" "lookup 256" &&
        assert_eq "" "$(ls "$BA" | grep ccc)" "no 256-byte name anywhere" &&
        assert_eq ok "$(op $U unlink "$D/$n255b")" "unlink 255" &&
        assert_eq ok "$(op $U unlink "$D/$n255/$n255")" "unlink 255 symlink" &&
        assert_eq ok "$(op $U rmdir "$D/$n255")" "rmdir 255" &&
        assert_eq ok "$(op $U symlink "$(printf 'd%.0s' $(seq 4095))" "$D/longtarget")" "4095-byte symlink target" &&
        assert_eq 4095 "$(readlink "$BA/longtarget" | tr -d '\n' | wc -c)" "backing target length"
}

names_with_newlines_and_invalid_utf8_are_kept_byte_for_byte() {
        local out
        out=$(pyas $U '
import os, sys
d = os.fsencode(sys.argv[1])
names = [b"new\nline", b"\nlead", b"trail\n", b"\xff\xfe\x80bad", b"\xc3\x28", b"tab\tand\x01ctl", b" ", b"-rf", b"...", b"\xed\xa0\x80surrogate"]
for n in names:
    p = d + b"/" + n
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, n); os.close(fd)
    os.mkdir(p + b".d"); os.symlink(n, p + b".l")
listed = set(os.listdir(d))
missing = [n for n in names if n not in listed or n + b".d" not in listed or n + b".l" not in listed]
print("missing", missing)
for n in names:
    p = d + b"/" + n
    assert open(p, "rb").read() == n, n
    assert os.readlink(p + b".l") == n, n
    os.rename(p, p + b".r")
print("ok")' "$D")
        assert_eq "missing [] ok" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')" "through the mount" || return 1
        out=$(python3 -c '
import os, sys
d = os.fsencode(sys.argv[1])
names = [b"new\nline", b"\nlead", b"trail\n", b"\xff\xfe\x80bad", b"\xc3\x28", b"tab\tand\x01ctl", b" ", b"-rf", b"...", b"\xed\xa0\x80surrogate"]
l = set(os.listdir(d))
bad = [n for n in names if n + b".r" not in l or open(d + b"/" + n + b".r", "rb").read() != n or os.readlink(d + b"/" + n + b".l") != n]
print("bad", bad)' "$BA")
        assert_eq "bad []" "$out" "on the backing store" &&
        sentinel_check "$BEFORE"
}

the_sentinel_world_is_unchanged_after_every_attack() {
        sentinel_check "$BEFORE"
}

run_test user_made_escape_symlinks_are_stored_verbatim
run_test reads_through_escape_symlinks_never_return_the_sentinel
run_test xattrs_read_on_a_symlink_are_never_its_targets
run_test following_calls_by_the_user_through_escape_symlinks_change_nothing
run_test changes_aimed_at_escape_symlinks_by_root_act_on_the_link_only
run_test links_and_renames_never_cross_folders
run_test device_nodes_cannot_be_made_fifos_and_sockets_stay_inside
run_test a_device_node_planted_on_the_storage_host_gives_no_device_access
run_test o_tmpfile_stays_in_the_folder
run_test setuid_and_setgid_bits_never_reach_the_storage_host
run_test a_planted_setuid_root_program_runs_without_root
run_test privileged_xattr_namespaces_are_refused
run_test trusted_xattr_names_are_not_listed_to_the_session_user
run_test names_of_255_bytes_work_and_256_give_enametoolong
run_test names_with_newlines_and_invalid_utf8_are_kept_byte_for_byte
run_test the_sentinel_world_is_unchanged_after_every_attack

daemon_stop "$MNT" "$DAEMON_PID"
itest_end
