#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# rw.sh - what rw means (SPEC section 3): a member may add and change, and
# remove or replace only the entries they created; everyone else's entries,
# and entries of unknown origin (made on the storage host), cannot be
# removed or replaced by them.  The creator is recorded on the storage entry
# when it is created through vfolderfs, where no session can read or forge
# it, and it holds in every session, on every node and across restarts.
#
# The world: users alice (uid 1000, "the member") and bob (uid 1001, "the
# colleague"), both members of project lab, which owns the folders shared
# (rw), pro (ro), pwd (wd) and plain (rw, on a storage host without
# extended attributes: a ramfs).  alice's and bob's sessions run at the same
# time, on the same folders, each as its own daemon.
#
#  - The tools people save with, as alice in shared: Jupyter's save
#    sequence (copy to .~name, write, remove the copy), an atomic save (a
#    temporary file renamed over one's own file), an editor's swap and
#    backup files, git init/add/commit/gc in a directory one made, and
#    `pip install --target` then `--upgrade` into one's own directory, tar
#    extracting a symlink that leads up (through a placeholder file).
#  - The table: unlink, rmdir, rename over, RENAME_EXCHANGE, removexattr and
#    rename to a new name, as alice, of her own entry, bob's and one made on
#    the storage host, in ro, rw, wd and rw under -o rw_can_delete.  A cell
#    passes when alice gets the promised errno and the storage shows the
#    change exactly when the call succeeded (a refusal changes nothing).
#    The table is printed at the end.
#  - The other way round: bob cannot remove alice's entries.
#  - The record: survives a restart of the daemon and a new session, is
#    seen by a daemon of another node (a UTS namespace with another host
#    name), is kept by `vfolderfs-admin files mv`, is written by `files put`
#    and `files mkdir --user` (and not without --user); it belongs to the
#    inode (a file replaced on the storage host is no longer alice's, a
#    hard link to bob's file is bob's, bob's file renamed by alice is still
#    bob's); a session can neither read, list, set nor remove it.
#  - The race: a second session of alice's swapping bob's file in under the
#    name her first session removes never gets bob's file removed.
#  - A storage host without extended attributes: nothing can be recorded,
#    every entry counts as someone else's, and the daemon says so once.

. "$(dirname "$0")/lib.sh" || exit 1  # never run what follows outside its namespace
itest_begin rw "$@"

A=1000
B=1001
MNTB=$T/mntb   # bob's session
MNTR=$T/mntr   # alice, -o rw_can_delete
MNTN=$T/mntn   # alice on "node2"
mkdir -p "$MNTB" "$MNTR" "$MNTN" "$T/home-a" "$T/home-b" "$T/ram"
chmod 755 "$MNTB" "$MNTR" "$MNTN"
chown $A:$A "$T/home-a"
chown $B:$B "$T/home-b"

# A storage host that keeps no extended attributes at all.
mount -t ramfs -o mode=755 vfolderfs-test-ram "$T/ram" || bail "cannot mount a ramfs"

must admin user add alice --uid $A --gid $A
must admin user add bob --uid $B --gid $B
must admin host add ram "$T/ram"
must admin project add lab
must admin project member add lab alice
must admin project member add lab bob
must admin folder create shared --project lab --permission rw --host local
must admin folder create pro --project lab --permission ro --host local
must admin folder create pwd --project lab --permission wd --host local
must admin folder create plain --project lab --permission rw --host ram
ALICE_ID=$(admin --json user list | jq -r '.[] | select(.name == "alice") | .id')
BOB_ID=$(admin --json user list | jq -r '.[] | select(.name == "bob") | .id')
[ ${#ALICE_ID} = 36 ] && [ ${#BOB_ID} = 36 ] || bail "no user ids ('$ALICE_ID', '$BOB_ID')"
declare -A BK
for f in shared pro pwd plain; do
        BK[$f]=$(backing_of "$f") || bail "no backing directory for folder $f"
done
SH=${BK[shared]}

command -v git >/dev/null || bail "git is not installed (tools/build.sh installs it)"
command -v setfattr >/dev/null || bail "setfattr is not installed (package attr; tools/build.sh installs it)"
/usr/bin/python3 -m pip --version >/dev/null 2>&1 || bail "pip for /usr/bin/python3 is not installed (python3-pip; tools/build.sh installs it)"

# Two versions of a tiny Python package, as wheels built here, offline.
for v in 1 2; do
        src=$T/pysrc$v
        mkdir -p "$src/vfdemo"
        printf '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "vfdemo"\nversion = "%s.0"\n' "$v" >"$src/pyproject.toml"
        printf '[tool.setuptools.package-data]\nvfdemo = ["*.txt"]\n' >>"$src/pyproject.toml"
        printf 'V = %s\n' "$v" >"$src/vfdemo/__init__.py"
        printf 'data %s\n' "$v" >"$src/vfdemo/data$v.txt"
        must /usr/bin/python3 -m pip wheel -q --no-index --no-build-isolation --no-deps \
                --disable-pip-version-check --no-cache-dir -w "$T/wheels" "$src"
done
chmod -R a+rX "$T/wheels"

must_start "$MNT" alice
ALICE_PID=$DAEMON_PID
must_start "$MNTB" bob
BOB_PID=$DAEMON_PID
must_start "$MNTR" alice rw_can_delete

# as UID CMD...: CMD as the user, with a home of their own.
as() {
        local uid=$1 home=$T/home-a
        shift
        [ "$uid" = $B ] && home=$T/home-b
        asuser "$uid" env HOME="$home" "$@"
}

# script UID DIR SCRIPT: run a bash script as UID in DIR; its output is
# kept in $T/script.out; fails (with the output as the reason) when it fails.
script() {
        local uid=$1 dir=$2
        if ! as "$uid" bash -ec "cd \"\$1\"; $3" _ "$dir" >"$T/script.out" 2>&1; then
                ITEST_WHY="expected the steps to succeed, got: $(tr '\n' ' ' <"$T/script.out" | tail -c 400)"
                return 1
        fi
}

# record_of PATH: the creator record on the storage, or "none".
record_of() {
        local v
        v=$(getfattr -h --absolute-names --only-values -n "$CAT_XATTR" "$1" 2>/dev/null) && { echo "$v"; return; }
        echo none
}
CAT_XATTR=trusted.vfolderfs.creator

# is EXPECTED UID FSOP-ARGS...: one call as UID gives EXPECTED.
is() {
        local want=$1 got
        shift
        got=$(op "$@")
        [ "$got" = "$want" ] || { ITEST_WHY="expected $want from '${*:2}' got $got"; return 1; }
}

# ---- the tools people save with ----------------------------------------------

jupyter_save_sequence_works_for_a_rw_member() {
        script $A "$MNT/shared" '
                printf "{\"v\": 1}" >nb.ipynb
                /usr/bin/python3 -c "
import os, shutil
# jupyter_server atomic_writing(): a copy, the write, the copy removed
shutil.copy2(\"nb.ipynb\", \".~nb.ipynb\")
with open(\"nb.ipynb\", \"w\") as f:
    f.write(\"{\\\"v\\\": 2}\")
os.remove(\".~nb.ipynb\")
"' || return 1
        assert_eq '{"v": 2}' "$(cat "$SH/nb.ipynb")" "saved notebook on the storage" &&
                refute "the copy .~nb.ipynb to be gone" test -e "$SH/.~nb.ipynb"
}

atomic_save_over_ones_own_file_works() {
        script $A "$MNT/shared" '
                echo v1 >doc.txt
                echo v2 >.doc.txt.tmp
                mv -f .doc.txt.tmp doc.txt
                mkdir -p sub && echo w1 >sub/conf && echo w2 >sub/.conf.new
                /usr/bin/python3 -c "import os; os.replace(\"sub/.conf.new\", \"sub/conf\")"' || return 1
        assert_eq v2 "$(cat "$SH/doc.txt")" "doc.txt on the storage" &&
                assert_eq w2 "$(cat "$SH/sub/conf")" "sub/conf on the storage" &&
                refute "no temporary left" test -e "$SH/.doc.txt.tmp"
}

editor_swap_and_backup_files_work() {
        # vim: a swap file for the session, then on :w with writebackup the
        # file is renamed to a backup, written anew, and the backup removed
        script $A "$MNT/shared" '
                echo original >notes.txt
                : >.notes.txt.swp
                echo swapdata >>.notes.txt.swp
                mv notes.txt notes.txt~
                echo edited >notes.txt
                rm notes.txt~
                rm .notes.txt.swp' || return 1
        assert_eq edited "$(cat "$SH/notes.txt")" "notes.txt on the storage" &&
                refute "the swap file to be gone" test -e "$SH/.notes.txt.swp" &&
                refute "the backup to be gone" test -e "$SH/notes.txt~"
}

git_init_add_commit_in_a_directory_one_made_works() {
        script $A "$MNT/shared" '
                mkdir repo && cd repo
                git init -q
                git config user.name alice && git config user.email alice@example.org
                echo one >a.txt
                git add a.txt
                git commit -q -m one
                echo two >>a.txt
                git commit -q -am two
                git checkout -q -b topic
                echo three >b.txt
                git add b.txt && git commit -q -m three
                git checkout -q master 2>/dev/null || git checkout -q main
                git merge -q topic
                git gc -q --prune=now
                git fsck --no-progress
                test "$(git log --oneline | wc -l)" = 3' || return 1
        assert "git objects packed on the storage" test -d "$SH/repo/.git/objects/pack"
}

pip_install_target_and_upgrade_into_ones_own_directory_work() {
        script $A "$MNT/shared" "
                /usr/bin/python3 -m pip install -q --no-index --no-cache-dir --disable-pip-version-check \
                        --target pylib $T/wheels/vfdemo-1.0-py3-none-any.whl
                /usr/bin/python3 -m pip install -q --no-index --no-cache-dir --disable-pip-version-check \
                        --upgrade --target pylib $T/wheels/vfdemo-2.0-py3-none-any.whl
                test \"\$(PYTHONPATH=pylib /usr/bin/python3 -c 'import vfdemo; print(vfdemo.V)')\" = 2" || return 1
        # --upgrade replaced the package directory (pip --target leaves the
        # old dist-info, whose name differs, as it does everywhere)
        assert "version 2 installed" test -f "$SH/pylib/vfdemo-2.0.dist-info/METADATA" &&
                assert "version 2's data file" test -f "$SH/pylib/vfdemo/data2.txt" &&
                refute "version 1's data file to be gone" test -e "$SH/pylib/vfdemo/data1.txt"
}

tar_extracts_a_tree_with_symlinks_into_a_rw_folder() {
        # GNU tar makes a placeholder file for a symlink leading up ("..")
        # and replaces it with the link at the end: a removal of its own
        mkdir -p "$T/tarsrc/pkg/sub"
        echo data >"$T/tarsrc/pkg/file.h"
        ln -s ../file.h "$T/tarsrc/pkg/sub/link.h"
        tar -C "$T/tarsrc" -cf "$T/pkg.tar" pkg && chmod 644 "$T/pkg.tar"
        script $A "$MNT/shared" "tar -xf $T/pkg.tar" || return 1
        assert_eq ../file.h "$(readlink "$SH/pkg/sub/link.h")" "the extracted symlink"
}

# ---- the table -----------------------------------------------------------------
#
# Columns: ro (pro), rw (shared), wd (pwd), rw+rcd (shared, through alice's
# -o rw_can_delete session).  Whose entry: own (alice's), colleague
# (bob's), host (made on the storage host).  Entries made through sessions
# where the folder lets them be made; in pro (ro) nobody can create, so
# there alice's and bob's entries are made on the storage host carrying
# the record the daemon would have written.

COLS="ro rw wd rw+rcd"
OWNERS="own colleague host"
TOPS="unlink rmdir rename_over exchange removexattr rename_away"

col_folder() { case $1 in ro) echo pro ;; rw | rw+rcd) echo shared ;; wd) echo pwd ;; esac; }
col_mount() { [ "$1" = rw+rcd ] && echo "$MNTR" || echo "$MNT"; }
# the entries of column C and owner O are named t_<C>_<O>_... (no '+')
pfx() { echo "t_${1/+/_}_$2_"; }

# make_entries COL OWNER: the entries the operations work on, and alice's
# own sources for the renames.
make_entries() {
        local c=$1 o=$2 f p b body
        f=$(col_folder "$c")
        p=$(pfx "$c" "$o")
        b=${BK[$f]}
        body="printf 'target-$o' >${p}f_unlink; mkdir ${p}d_rmdir; printf 'target-$o' >${p}f_over
              printf 'target-$o' >${p}f_xchg; printf 'target-$o' >${p}f_rmx; printf 'target-$o' >${p}f_away
              setfattr -n user.t -v 1 ${p}f_rmx"
        if [ "$c" != ro ] && [ "$o" = own ]; then
                script $A "$MNT/$f" "$body" || bail "alice cannot make her entries in $f: $ITEST_WHY"
        elif [ "$c" != ro ] && [ "$o" = colleague ]; then
                script $B "$MNTB/$f" "$body" || bail "bob cannot make his entries in $f: $ITEST_WHY"
        else
                (cd "$b" && bash -ec "$body") || bail "cannot make the host's entries in $f"
                chmod 644 "$b/${p}"f_*
                if [ "$o" != host ]; then
                        local id=$ALICE_ID
                        [ "$o" = colleague ] && id=$BOB_ID
                        for e in f_unlink d_rmdir f_over f_xchg f_rmx f_away; do
                                setfattr -h -n "$CAT_XATTR" -v "$id" "$b/$p$e"
                        done
                fi
        fi
        # alice's own sources of the replacing renames
        body="printf 'source-$o' >${p}s_over; printf 'source-$o' >${p}s_xchg"
        if [ "$c" = ro ]; then
                (cd "$b" && bash -ec "$body") || bail "cannot make sources in $f"
                chmod 644 "$b/${p}"s_*
                setfattr -h -n "$CAT_XATTR" -v "$ALICE_ID" "$b/${p}s_over" "$b/${p}s_xchg"
        else
                script $A "$MNT/$f" "$body" || bail "alice cannot make her sources in $f: $ITEST_WHY"
        fi
}

# snapshot VAR: every t_* entry of the folders of the table, on the storage,
# as "inode size content user.t record" keyed by its path (one process:
# forks are the slow part of a shell test).
snapshot() {
        local -n _snap=$1
        local k v
        _snap=()
        while IFS=$'\t' read -r k v; do
                _snap[$k]=$v
        done < <(/usr/bin/python3 - "${BK[shared]}" "${BK[pro]}" "${BK[pwd]}" <<'PY'
import os, stat, sys

def attr(p, name):
    try:
        return os.getxattr(p, name, follow_symlinks=False).decode() or "-"
    except OSError:
        return "-"

for b in sys.argv[1:]:
    for n in sorted(os.listdir(b)):
        if not n.startswith("t_"):
            continue
        p = os.path.join(b, n)
        st = os.lstat(p)
        c = "-"
        if stat.S_ISREG(st.st_mode):
            with open(p) as f:
                c = f.read(40) or "-"
        print(f"{p}\t{st.st_ino} {st.st_size} {c} {attr(p, 'user.t')} "
              f"{attr(p, 'trusted.vfolderfs.creator')}")
PY
)
}

# content_in SNAPSHOT PATH: the content field, or "absent".
content_in() {
        local -n _s=$1
        local ino size c rest
        [ -n "${_s[$2]:-}" ] || { echo absent; return; }
        read -r ino size c rest <<<"${_s[$2]}"
        echo "$c"
}

# The operation's fsop arguments (ARGS), the entries a refusal must leave
# unchanged (WATCH) and the effect that shows it happened, on the storage.
top_paths() { # OP PREFIX MOUNTDIR
        local o=$1 p=$2 d=$3
        case $o in
        unlink) ARGS=(unlink "$d/${p}f_unlink"); WATCH=("${p}f_unlink") ;;
        rmdir) ARGS=(rmdir "$d/${p}d_rmdir"); WATCH=("${p}d_rmdir") ;;
        rename_over) ARGS=(rename "$d/${p}s_over" "$d/${p}f_over"); WATCH=("${p}s_over" "${p}f_over") ;;
        exchange) ARGS=(rename2 "$d/${p}s_xchg" "$d/${p}f_xchg" exchange); WATCH=("${p}s_xchg" "${p}f_xchg") ;;
        removexattr) ARGS=(removexattr "$d/${p}f_rmx" user.t); WATCH=("${p}f_rmx") ;;
        rename_away) ARGS=(rename "$d/${p}f_away" "$d/${p}f_away_moved"); WATCH=("${p}f_away" "${p}f_away_moved") ;;
        esac
}

top_effect() { # OP PREFIX BACKING OWNER (on the AFTER snapshot)
        local o=$1 p=$2 b=$3 who=$4 ino size c ut rest
        case $o in
        unlink) [ -z "${AFTER[$b/${p}f_unlink]:-}" ] ;;
        rmdir) [ -z "${AFTER[$b/${p}d_rmdir]:-}" ] ;;
        rename_over) [ -z "${AFTER[$b/${p}s_over]:-}" ] &&
                [ "$(content_in AFTER "$b/${p}f_over")" = "source-$who" ] ;;
        exchange) [ "$(content_in AFTER "$b/${p}f_xchg")" = "source-$who" ] &&
                [ "$(content_in AFTER "$b/${p}s_xchg")" = "target-$who" ] ;;
        removexattr) read -r ino size c ut rest <<<"${AFTER[$b/${p}f_rmx]:-}"
                [ "${ut:-}" = - ] ;;
        rename_away) [ -z "${AFTER[$b/${p}f_away]:-}" ] && [ -n "${AFTER[$b/${p}f_away_moved]:-}" ] ;;
        esac
}

top_expected() { # OP COL OWNER
        case $2 in
        ro) EXP=EROFS ;;
        wd | rw+rcd) EXP=ok ;;
        rw) if [ "$1" = rename_away ] || [ "$3" = own ]; then EXP=ok; else EXP=EPERM; fi ;;
        esac
}

declare -A TABLE BEFORE AFTER

# table_cell OP COL OWNER GOT: judge one cell from its result and the two
# snapshots.
table_cell() {
        local o=$1 c=$2 w=$3 got=$4 p b e before="" after=""
        p=$(pfx "$c" "$w")
        b=${BK[$(col_folder "$c")]}
        top_expected "$o" "$c" "$w"
        top_paths "$o" "$p" /
        for e in "${WATCH[@]}"; do
                before+="${BEFORE[$b/$e]:-absent};"
                after+="${AFTER[$b/$e]:-absent};"
        done
        TABLE[$o|$c|$w]="$got!"
        if [ "$got" != "$EXP" ]; then
                ITEST_WHY="expected $EXP got $got"
                return 1
        fi
        if [ "$EXP" = ok ]; then
                top_effect "$o" "$p" "$b" "$w" || {
                        ITEST_WHY="expected the change on the storage, got '$before' -> '$after'"
                        return 1
                }
        elif [ "$before" != "$after" ]; then
                ITEST_WHY="expected $EXP and nothing changed, got $EXP but '$before' became '$after'"
                return 1
        fi
        TABLE[$o|$c|$w]=$got
}

for c in $COLS; do
        for w in $OWNERS; do
                make_entries "$c" "$w"
        done
done
# every operation of the table as alice, in one fsop process
CELLS=()
LINES=()
for c in $COLS; do
        for w in $OWNERS; do
                for o in $TOPS; do
                        top_paths "$o" "$(pfx "$c" "$w")" "$(col_mount "$c")/$(col_folder "$c")"
                        CELLS+=("$o $c $w")
                        LINES+=("$(IFS=$'\t'; echo "${ARGS[*]}")")
                done
        done
done
snapshot BEFORE
mapfile -t RESULTS < <(printf '%s\n' "${LINES[@]}" | asuser $A "$FSOP" batch 2>/dev/null)
snapshot AFTER
for i in "${!CELLS[@]}"; do
        read -r o c w <<<"${CELLS[$i]}"
        top_expected "$o" "$c" "$w"
        case $w in
        own) wn="her_own" ;;
        colleague) wn="a_colleagues" ;;
        host) wn="a_storage_hosts" ;;
        esac
        cn=${c/+rcd/_under_rw_can_delete}
        if [ "$EXP" = ok ]; then
                name="${cn}_member_may_${o}_${wn}_entry"
        else
                name="${cn}_member_gets_${EXP,,}_for_${o}_of_${wn}_entry"
        fi
        ITEST_WHY=
        if table_cell "$o" "$c" "$w" "${RESULTS[$i]:-none}"; then
                report "$name" 0
        else
                report "$name" 1 "$ITEST_WHY"
        fi
done

# ---- the other way round, two sessions at once -----------------------------------

# sig PATH: what a refusal must leave as it was: inode, size, content,
# record; or "absent".
sig() {
        [ -e "$1" ] || { echo absent; return; }
        echo "$(stat -c '%i %s' "$1") $(head -c 40 "$1" 2>/dev/null) $(record_of "$1")"
}

colleague_cannot_remove_or_replace_the_members_entries() {
        script $A "$MNT/shared" 'echo mine >am_file; mkdir am_dir; echo mine >am_over' || return 1
        script $B "$MNTB/shared" 'echo bobs >bob_src' || return 1
        local before
        before="$(sig "$SH/am_file") $(sig "$SH/am_dir") $(sig "$SH/am_over") $(sig "$SH/bob_src")"
        is EPERM $B unlink "$MNTB/shared/am_file" &&
                is EPERM $B rmdir "$MNTB/shared/am_dir" &&
                is EPERM $B rename "$MNTB/shared/bob_src" "$MNTB/shared/am_over" &&
                is EPERM $B rename2 "$MNTB/shared/bob_src" "$MNTB/shared/am_over" exchange &&
                assert_eq "$before" "$(sig "$SH/am_file") $(sig "$SH/am_dir") $(sig "$SH/am_over") $(sig "$SH/bob_src")" \
                        "alice's entries on the storage" &&
                is ok $B unlink "$MNTB/shared/bob_src" &&
                is ok $A unlink "$MNT/shared/am_file"
}

# ---- the record ------------------------------------------------------------------

record_is_the_creators_uuid_on_the_storage_entry() {
        script $A "$MNT/shared" 'echo x >rec_file; mkdir rec_dir; ln -s rec_file rec_link; mkfifo rec_fifo' || return 1
        local e
        for e in rec_file rec_dir rec_link rec_fifo; do
                assert_eq "$ALICE_ID" "$(record_of "$SH/$e")" "record of $e" || return 1
        done
        # a symlink's record is its own, not its target's
        assert_eq "$ALICE_ID" "$(getfattr -h --absolute-names --only-values -n "$CAT_XATTR" "$SH/rec_link")" "the link's own record" &&
                is ok $A unlink "$MNT/shared/rec_link" &&
                is ok $A unlink "$MNT/shared/rec_fifo" &&
                is ok $A rmdir "$MNT/shared/rec_dir"
}

record_survives_a_daemon_restart() {
        script $A "$MNT/shared" 'echo x >restart_file' || return 1
        daemon_stop "$MNT" "$ALICE_PID"
        [ "$WAIT_STATUS" != running ] || { ITEST_WHY="alice's daemon did not stop"; return 1; }
        daemon_start "$MNT" alice 2>"$T/start.err" || { ITEST_WHY="cannot restart: $(cat "$T/start.err")"; return 1; }
        ALICE_PID=$DAEMON_PID
        is ok $A unlink "$MNT/shared/restart_file" &&
                refute "restart_file to be gone" test -e "$SH/restart_file"
}

record_is_seen_by_a_new_session_at_the_same_time() {
        # alice's rw_can_delete session would remove anything: start one more
        local m=$T/mnt_new pid
        mkdir -p "$m" && chmod 755 "$m"
        daemon_start "$m" alice 2>"$T/start.err" || { ITEST_WHY="cannot start: $(cat "$T/start.err")"; return 1; }
        pid=$DAEMON_PID
        script $A "$MNT/shared" 'echo x >new_session_file' || return 1
        script $B "$MNTB/shared" 'echo x >new_session_bob' || return 1
        is ok $A unlink "$m/shared/new_session_file" &&
                is EPERM $A unlink "$m/shared/new_session_bob" &&
                assert "bob's file to stay" test -e "$SH/new_session_bob"
        local r=$?
        daemon_stop "$m" "$pid"
        return $r
}

# node2_start: alice's daemon in a UTS namespace whose host name is node2
# (another node of the cluster: same catalog and storage).
node2_start() {
        local i
        echo "=== $(date +%T) start alice at $MNTN on node2" >>"$T/daemon.log"
        unshare --uts -- bash -c 'hostname node2 && exec env --default-signal=INT,QUIT "$@"' _ \
                "$VFOLDERFS" -f -o "allow_other,catalog=$CAT,scratch=$SCRATCH" alice "$MNTN" \
                >>"$T/daemon.log" 2>&1 &
        DAEMON_PID=$!
        DAEMON_PIDS+=("$DAEMON_PID")
        for i in $(seq 100); do
                mountpoint -q "$MNTN" && return 0
                kill -0 "$DAEMON_PID" 2>/dev/null || return 1
                sleep 0.1
        done
        return 1
}

record_is_seen_by_a_daemon_on_another_node() {
        local pid host
        script $A "$MNT/shared" 'echo x >node_file; mkdir node_dir' || return 1
        script $B "$MNTB/shared" 'echo x >node_bob' || return 1
        node2_start || { ITEST_WHY="the node2 daemon did not start: $(tail -n 3 "$T/daemon.log")"; return 1; }
        pid=$DAEMON_PID
        host=$(admin --json session list | jq -r --argjson p "$pid" '.[] | select(.pid == $p) | .hostname')
        assert_eq node2 "$host" "the session's node" &&
                is ok $A unlink "$MNTN/shared/node_file" &&
                is ok $A rmdir "$MNTN/shared/node_dir" &&
                is EPERM $A unlink "$MNTN/shared/node_bob" &&
                assert "bob's file to stay" test -e "$SH/node_bob" &&
                # and what node2 creates, node1 lets alice remove
                is ok $A create "$MNTN/shared/from_node2" 644 &&
                assert_eq "$ALICE_ID" "$(record_of "$SH/from_node2")" "record made on node2" &&
                is ok $A unlink "$MNT/shared/from_node2"
        local r=$?
        daemon_stop "$MNTN" "$pid"
        return $r
}

admin_files_mv_keeps_the_record() {
        script $A "$MNT/shared" 'echo x >mv_mine' || return 1
        script $B "$MNTB/shared" 'echo x >mv_bobs' || return 1
        admin files mv shared mv_mine mv_mine_moved >/dev/null 2>&1 &&
                admin files mv shared mv_bobs mv_bobs_moved >/dev/null 2>&1 ||
                { ITEST_WHY="files mv failed"; return 1; }
        assert_eq "$ALICE_ID" "$(record_of "$SH/mv_mine_moved")" "record after files mv" &&
                is ok $A unlink "$MNT/shared/mv_mine_moved" &&
                is EPERM $A unlink "$MNT/shared/mv_bobs_moved"
}

admin_files_put_and_mkdir_record_the_user() {
        echo local >"$T/local.txt"
        admin files put shared "$T/local.txt" put_alice --user alice >/dev/null 2>&1 &&
                admin files mkdir shared mkdir_alice --user alice >/dev/null 2>&1 &&
                admin files put shared "$T/local.txt" put_operator >/dev/null 2>&1 ||
                { ITEST_WHY="files put/mkdir failed"; return 1; }
        assert_eq "$ALICE_ID" "$(record_of "$SH/put_alice")" "record of put --user alice" &&
                assert_eq none "$(record_of "$SH/put_operator")" "record of a put without --user" &&
                is EPERM $B unlink "$MNTB/shared/put_alice" &&
                is ok $A unlink "$MNT/shared/put_alice" &&
                is ok $A rmdir "$MNT/shared/mkdir_alice" &&
                is EPERM $A unlink "$MNT/shared/put_operator" &&
                assert "the operator's file to stay" test -e "$SH/put_operator"
}

record_belongs_to_the_entry_not_its_name() {
        script $A "$MNT/shared" 'echo mine >name_file; echo mine >name_renamed_by_bob' || return 1
        script $B "$MNTB/shared" 'echo bobs >bob_linked; echo bobs >bob_renamed' || return 1
        # replaced on the storage host: a new entry, of unknown origin
        rm "$SH/name_file" && echo host >"$SH/name_file" && chmod 644 "$SH/name_file"
        is EPERM $A unlink "$MNT/shared/name_file" &&
                assert_eq host "$(cat "$SH/name_file")" "the host's file" &&
                # a hard link alice makes to bob's file is bob's inode
                is ok $A link "$MNT/shared/bob_linked" "$MNT/shared/alice_link" &&
                is EPERM $A unlink "$MNT/shared/alice_link" &&
                # bob's file renamed by alice (a new name: allowed) stays bob's
                is ok $A rename "$MNT/shared/bob_renamed" "$MNT/shared/renamed_by_alice" &&
                is EPERM $A unlink "$MNT/shared/renamed_by_alice" &&
                is ok $B unlink "$MNTB/shared/renamed_by_alice" &&
                # and alice's file renamed by bob stays alice's
                is ok $B rename "$MNTB/shared/name_renamed_by_bob" "$MNTB/shared/bob_moved_it" &&
                is EPERM $B unlink "$MNTB/shared/bob_moved_it" &&
                is ok $A unlink "$MNT/shared/bob_moved_it"
}

removing_ones_own_tree_stops_at_a_colleagues_entry() {
        script $A "$MNT/shared" 'mkdir -p tree/sub && echo a >tree/a && echo b >tree/sub/b' || return 1
        script $B "$MNTB/shared" 'echo bob >tree/sub/bobs' || return 1
        as $A rm -rf "$MNT/shared/tree" >/dev/null 2>&1
        assert "bob's file to stay" test -f "$SH/tree/sub/bobs" &&
                refute "alice's files to be gone" test -e "$SH/tree/a" &&
                refute "alice's files to be gone" test -e "$SH/tree/sub/b" &&
                is ENOTEMPTY $A rmdir "$MNT/shared/tree/sub"
}

# A member's second session swaps a colleague's file in under the name her
# first session is removing, and back, as fast as it can: the check of the
# record and the unlink are one step under the directory's lock, so the
# colleague's file is never the one removed.  (Without the lock the window
# between the two is a few microseconds; this loop found it in each of two
# runs of a daemon built without the lock, on a 2-core machine.  With the
# lock it cannot happen, so the test fails only when the lock is missing.)
swapping_names_never_gets_a_colleagues_file_removed() {
        local m2=$T/mnt_swap pid2 jobpid ino found n=6000 removed swaps
        mkdir -p "$m2" && chmod 755 "$m2"
        daemon_start "$m2" alice 2>"$T/start.err" || { ITEST_WHY="cannot start: $(cat "$T/start.err")"; return 1; }
        pid2=$DAEMON_PID
        script $A "$MNT/shared" 'mkdir race' || return 1
        script $B "$MNTB/shared" 'echo victim >race/victim' || return 1
        ino=$(stat -c %i "$SH/race/victim")
        awk -v n=$n -v d="$MNT/shared/race" 'BEGIN {
                for (i = 0; i < n; i++) printf "create\t%s/x\t644\nunlink\t%s/x\n", d, d }' |
                asuser $A timeout 60 "$FSOP" batch 10000 >"$T/race1.out" &
        jobpid=$!
        awk -v n=$n -v d="$m2/shared/race" 'BEGIN {
                for (i = 0; i < n; i++)
                        printf "rename\t%s/x\t%s/away\nrename\t%s/victim\t%s/x\nrename\t%s/x\t%s/victim\nrename\t%s/away\t%s/x\n",
                                d, d, d, d, d, d, d, d }' |
                asuser $A timeout 60 "$FSOP" batch 10000 >"$T/race2.out"
        wait "$jobpid"
        daemon_stop "$m2" "$pid2"
        removed=$(awk 'NR % 2 == 0 && $0 == "ok"' "$T/race1.out" | wc -l)
        swaps=$(grep -c '^ok$' "$T/race2.out")
        echo "# swap race: $removed removals of alice's x, $swaps renames in the other session"
        found=$(find "$SH/race" -inum "$ino" | wc -l)
        assert_eq 1 "$found" "bob's file (inode $ino) still under race/" &&
                assert "removals to have happened" test "$removed" -gt 100 &&
                assert "renames to have happened" test "$swaps" -gt 100
}

# ---- sessions never see or change the record ---------------------------------------

session_cannot_read_list_set_or_remove_the_record() {
        local f=$MNT/shared/xa_file h=$MNT/shared/xa_host u out
        script $A "$MNT/shared" 'echo x >xa_file; setfattr -n user.mine -v 1 xa_file' || return 1
        # on the storage host: a record in each namespace and a trusted.* of the host's own
        echo h >"$SH/xa_host" && chmod 644 "$SH/xa_host"
        setfattr -n "$CAT_XATTR" -v "$BOB_ID" "$SH/xa_host"
        setfattr -n user.vfolderfs.creator -v "$BOB_ID" "$SH/xa_host"
        setfattr -n trusted.hosts.own -v secret "$SH/xa_host"
        for u in $A 0; do
                is ENODATA $u getxattr "$f" "$CAT_XATTR" &&
                        is ENODATA $u getxattr "$h" "$CAT_XATTR" &&
                        is ENODATA $u getxattr "$h" user.vfolderfs.creator &&
                        is ENODATA $u getxattr "$h" trusted.hosts.own &&
                        is EPERM $u setxattr "$f" "$CAT_XATTR" "$BOB_ID" &&
                        is EPERM $u setxattr "$f" user.vfolderfs.creator "$ALICE_ID" &&
                        is EPERM $u setxattr "$h" user.vfolderfs.creator "$ALICE_ID" &&
                        is EPERM $u setxattr "$f" trusted.vfolderfs.other 1 &&
                        is EPERM $u removexattr "$f" "$CAT_XATTR" &&
                        is EPERM $u removexattr "$h" "$CAT_XATTR" &&
                        is EPERM $u removexattr "$h" user.vfolderfs.creator &&
                        assert_eq user.mine "$(op $u listxattrv "$f")" "names listed for alice's file" &&
                        assert_eq "" "$(op $u listxattrv "$h")" "names listed for the host's file" ||
                        return 1
        done
        # getfattr, as a person would look
        out=$(as $A getfattr -d -m - "$f" "$h" 2>&1)
        assert_eq user.mine "$(grep -oE '^[a-z]+\.[a-z.]+' <<<"$out" | sort -u | tr '\n' ' ' | sed 's/ $//')" \
                "attribute names getfattr -d -m - shows" || return 1
        assert_eq "$ALICE_ID" "$(record_of "$SH/xa_file")" "alice's record on the storage" &&
                assert_eq "$BOB_ID" "$(record_of "$SH/xa_host")" "the host's trusted record" &&
                assert_eq "$BOB_ID" "$(getfattr --absolute-names --only-values -n user.vfolderfs.creator "$SH/xa_host")" \
                        "the host's user record" &&
                # still bob's: alice cannot remove it, bob can
                is EPERM $A unlink "$h" &&
                is ok $B unlink "$MNTB/shared/xa_host"
}

# ---- a storage host without extended attributes --------------------------------------

storage_without_xattrs_records_nothing_and_says_so_once() {
        local n
        script $A "$MNT/plain" 'echo x >one; echo y >two; mkdir three' || return 1
        is EPERM $A unlink "$MNT/plain/one" &&
                is EPERM $A rmdir "$MNT/plain/three" &&
                assert "one to stay" test -f "${BK[plain]}/one" || return 1
        n=$(grep -c "folder 'plain': the storage keeps neither" "$T/daemon.log")
        assert_eq 1 "$n" "warnings about folder plain in the daemon log"
}

run_test jupyter_save_sequence_works_for_a_rw_member
run_test atomic_save_over_ones_own_file_works
run_test editor_swap_and_backup_files_work
run_test git_init_add_commit_in_a_directory_one_made_works
run_test pip_install_target_and_upgrade_into_ones_own_directory_work
run_test tar_extracts_a_tree_with_symlinks_into_a_rw_folder
run_test colleague_cannot_remove_or_replace_the_members_entries
run_test record_is_the_creators_uuid_on_the_storage_entry
run_test record_belongs_to_the_entry_not_its_name
run_test removing_ones_own_tree_stops_at_a_colleagues_entry
run_test session_cannot_read_list_set_or_remove_the_record
run_test swapping_names_never_gets_a_colleagues_file_removed
run_test admin_files_mv_keeps_the_record
run_test admin_files_put_and_mkdir_record_the_user
run_test record_is_seen_by_a_new_session_at_the_same_time
run_test record_is_seen_by_a_daemon_on_another_node
run_test storage_without_xattrs_records_nothing_and_says_so_once
run_test record_survives_a_daemon_restart

# ---- the table, printed ------------------------------------------------------------------
echo "# rw table: errno alice gets, by operation x whose entry ('!' = differs from SPEC or wrong effect)"
printf '# %-28s' "operation / entry"
for c in $COLS; do printf ' %-7s' "$c"; done
echo
for o in $TOPS; do
        for w in $OWNERS; do
                printf '# %-28s' "$o / $w"
                for c in $COLS; do printf ' %-7s' "${TABLE[$o|$c|$w]:-?}"; done
                echo
        done
done

itest_end
