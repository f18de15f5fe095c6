#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# permissions.sh - every cell of the SPEC section 3 permission table, on a
# real mount: each operation is performed once, as one system call (fsop), by
# the session user (uid 1000) in a ro, a rw and a wd folder and in scratch,
# and again in a second session started with -o rw_can_delete (where rw must
# behave as wd and ro must stay ro).  A cell passes when the caller gets the
# promised errno AND the backing directory shows the change exactly when the
# call succeeded.  The matrix operation x permission -> errno observed is
# printed at the end.
#
# Readings of SPEC where it is terse (said here so nobody has to guess):
#  - "link or rename across folders (or to scratch)": tested in both
#    directions, folder -> other folder, folder -> scratch, scratch -> folder;
#    EXDEV whatever the permissions of either side.
#  - "mknod of device nodes ... EPERM" applies to ro folders too (the table's
#    ro cell says EPERM, not EROFS); the same for chmod setting setuid/setgid.
#  - "setuid/setgid bits are never stored (stripped on create)": create with
#    04755 and mkdir with 02755 succeed where writing is allowed and leave
#    mode 0755 on the backing store.
#  - "A folder's directory ... cannot be removed or renamed (EBUSY)" holds for
#    every permission; scratch has no such directory.

. "$(dirname "$0")/lib.sh"
itest_begin permissions "$@"

U=1000
MNT2=$T/mnt2
mkdir -p "$MNT2"
chmod 755 "$MNT2"

must admin user add alice --uid $U --gid $U
for p in ro rw wd; do
        must admin folder create "f-$p" --user alice --permission "$p"
done
must admin folder create f-other --user alice --permission wd

declare -A BK
for f in f-ro f-rw f-wd f-other; do
        BK[$f]=$(backing_of "$f") || bail "no backing directory for folder $f"
done

COLS="ro rw wd scratch"
RCD_COLS="ro+rcd rw+rcd"

READ_OPS="read stat readdir readlink getxattr listxattr"
WRITE_OPS="create mkdir write truncate chmod utimens symlink link setxattr rename_new create_suid mkdir_sgid"
DELETE_OPS="unlink rmdir rename_replace removexattr"
CROSS_OPS="link_out_folder rename_out_folder link_out_scratch rename_out_scratch link_in rename_in"
SPECIAL_OPS="mknod_user mknod_root chmod_suid chmod_sgid"
OWN_OPS="folder_rmdir folder_rename"
ALL_OPS="$READ_OPS $WRITE_OPS $DELETE_OPS $CROSS_OPS $SPECIAL_OPS $OWN_OPS"

# populate DIR: the entries every operation works on (as root, on the
# backing store, before the session looks at them).
populate() {
        local b=$1 f
        find "$b" -mindepth 1 -delete
        printf 'hello\n' >"$b/f_read"
        "$FSOP" setxattr "$b/f_read" user.test 1 >/dev/null
        ln -s f_read "$b/l_link"
        mkdir "$b/d_list" "$b/d_rmdir"
        : >"$b/d_list/a"
        for f in f_write f_trunc f_chmod f_utime f_link f_xattr f_mv f_unlink \
                 f_rr_src f_rr_dst f_rmxattr f_xlink f_xren f_xslink f_xsren \
                 f_suid f_sgid f_in_ro f_in_rw f_in_wd f_in_scratch \
                 f_in_ro+rcd f_in_rw+rcd; do
                printf 'content-of-%s\n' "$f" >"$b/$f"
        done
        "$FSOP" setxattr "$b/f_rmxattr" user.test 1 >/dev/null
        chmod 644 "$b"/f_*
        chmod 755 "$b"/d_*
}

# xattr_of PATH NAME: the value of an extended attribute (empty if none).
xattr_of() {
        python3 -c 'import os,sys
try: print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())
except OSError: pass' "$1" "$2"
}

mode_of() { stat -c %a "$1" 2>/dev/null; }

# ---- the operations ---------------------------------------------------------
# Each op_X prints fsop's answer; each effect_X succeeds when the backing
# store shows the operation happened, leaving a description in EFFECT.
# Globals: D (the column's directory in the session), B (its backing dir),
# OD/OB (another folder), SD/SB (scratch), ID/IB (where link_in/rename_in
# take their source: scratch, or a folder for the scratch column), M (the
# mountpoint), C (the column).

op_read() { op $U read "$D/f_read"; }
effect_read() { EFFECT="content '$(asuser $U cat "$D/f_read" 2>&1)'"; [ "$(asuser $U cat "$D/f_read" 2>/dev/null)" = hello ]; }
op_stat() { op $U stat "$D/f_read"; }
effect_stat() { EFFECT="size $(asuser $U stat -c %s "$D/f_read" 2>&1)"; [ "$(asuser $U stat -c %s "$D/f_read" 2>/dev/null)" = 6 ]; }
op_readdir() { op $U readdir "$D/d_list"; }
effect_readdir() { EFFECT="listing '$(asuser $U ls "$D/d_list" 2>&1)'"; [ "$(asuser $U ls "$D/d_list" 2>/dev/null)" = a ]; }
op_readlink() { op $U readlink "$D/l_link"; }
effect_readlink() { EFFECT="target '$(asuser $U readlink "$D/l_link" 2>&1)'"; [ "$(asuser $U readlink "$D/l_link" 2>/dev/null)" = f_read ]; }
op_getxattr() { op $U getxattr "$D/f_read" user.test; }
effect_getxattr() { local v; v=$(asuser $U python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.test").decode())' "$D/f_read" 2>&1); EFFECT="value '$v'"; [ "$v" = 1 ]; }
op_listxattr() { op $U listxattr "$D/f_read"; }
effect_listxattr() { local v; v=$(asuser $U python3 -c 'import os,sys; print(",".join(sorted(os.listxattr(sys.argv[1]))))' "$D/f_read" 2>&1); EFFECT="list '$v'"; [ "$v" = user.test ]; }

op_create() { op $U create "$D/n_create" 644; }
effect_create() { EFFECT="backing file exists"; [ -f "$B/n_create" ]; }
op_mkdir() { op $U mkdir "$D/n_mkdir" 755; }
effect_mkdir() { EFFECT="backing dir exists"; [ -d "$B/n_mkdir" ]; }
op_write() { op $U write "$D/f_write" CHANGED; }
effect_write() { EFFECT="backing content '$(head -c 7 "$B/f_write")'"; [ "$(head -c 7 "$B/f_write")" = CHANGED ]; }
op_truncate() { op $U truncate "$D/f_trunc" 3; }
effect_truncate() { EFFECT="backing size $(stat -c %s "$B/f_trunc")"; [ "$(stat -c %s "$B/f_trunc")" = 3 ]; }
op_chmod() { op $U chmod "$D/f_chmod" 600; }
effect_chmod() { EFFECT="backing mode $(mode_of "$B/f_chmod")"; [ "$(mode_of "$B/f_chmod")" = 600 ]; }
op_utimens() { op $U utimens "$D/f_utime" 1000000000; }
effect_utimens() { EFFECT="backing mtime $(stat -c %Y "$B/f_utime")"; [ "$(stat -c %Y "$B/f_utime")" = 1000000000 ]; }
op_symlink() { op $U symlink f_read "$D/n_symlink"; }
effect_symlink() { EFFECT="backing symlink exists"; [ -L "$B/n_symlink" ] && [ "$(readlink "$B/n_symlink")" = f_read ]; }
op_link() { op $U link "$D/f_link" "$D/n_link"; }
effect_link() { EFFECT="backing hard link exists"; [ -f "$B/n_link" ] && [ "$B/n_link" -ef "$B/f_link" ]; }
op_setxattr() { op $U setxattr "$D/f_xattr" user.new v; }
effect_setxattr() { EFFECT="backing user.new='$(xattr_of "$B/f_xattr" user.new)'"; [ "$(xattr_of "$B/f_xattr" user.new)" = v ]; }
op_rename_new() { op $U rename "$D/f_mv" "$D/n_mv"; }
effect_rename_new() { EFFECT="backing renamed"; [ -e "$B/n_mv" ] || [ ! -e "$B/f_mv" ]; }
op_create_suid() { op $U create "$D/n_suid" 4755; }
effect_create_suid() { EFFECT="backing mode $(mode_of "$B/n_suid")"; [ "$(mode_of "$B/n_suid")" = 755 ]; }
op_mkdir_sgid() { op $U mkdir "$D/n_sgid" 2755; }
effect_mkdir_sgid() { EFFECT="backing mode $(mode_of "$B/n_sgid")"; [ "$(mode_of "$B/n_sgid")" = 755 ]; }

op_unlink() { op $U unlink "$D/f_unlink"; }
effect_unlink() { EFFECT="backing file removed"; [ ! -e "$B/f_unlink" ]; }
op_rmdir() { op $U rmdir "$D/d_rmdir"; }
effect_rmdir() { EFFECT="backing dir removed"; [ ! -e "$B/d_rmdir" ]; }
op_rename_replace() { op $U rename "$D/f_rr_src" "$D/f_rr_dst"; }
effect_rename_replace() { EFFECT="backing target replaced"; [ ! -e "$B/f_rr_src" ] || [ "$(cat "$B/f_rr_dst")" = content-of-f_rr_src ]; }
op_removexattr() { op $U removexattr "$D/f_rmxattr" user.test; }
effect_removexattr() { EFFECT="backing xattr removed"; [ -z "$(xattr_of "$B/f_rmxattr" user.test)" ]; }

op_link_out_folder() { op $U link "$D/f_xlink" "$OD/xl_$C"; }
effect_link_out_folder() { EFFECT="link made in the other folder"; [ -e "$OB/xl_$C" ]; }
op_rename_out_folder() { op $U rename "$D/f_xren" "$OD/xr_$C"; }
effect_rename_out_folder() { EFFECT="file moved to the other folder"; [ -e "$OB/xr_$C" ] || [ ! -e "$B/f_xren" ]; }
op_link_out_scratch() { op $U link "$D/f_xslink" "$SD/xsl_$C"; }
effect_link_out_scratch() { EFFECT="link made in scratch"; [ -e "$SB/xsl_$C" ]; }
op_rename_out_scratch() { op $U rename "$D/f_xsren" "$SD/xsr_$C"; }
effect_rename_out_scratch() { EFFECT="file moved to scratch"; [ -e "$SB/xsr_$C" ] || [ ! -e "$B/f_xsren" ]; }
op_link_in() { op $U link "$ID/f_in_$C" "$D/li_$C"; }
effect_link_in() { EFFECT="link made from outside"; [ -e "$B/li_$C" ]; }
op_rename_in() { op $U rename "$ID/f_in_$C" "$D/ri_$C"; }
effect_rename_in() { EFFECT="file moved in from outside"; [ -e "$B/ri_$C" ] || [ ! -e "$IB/f_in_$C" ]; }

op_mknod_user() { op $U mknod "$D/n_dev_u" c 1 3; }
effect_mknod_user() { EFFECT="device node stored"; [ -e "$B/n_dev_u" ]; }
op_mknod_root() { op 0 mknod "$D/n_dev_r" c 1 3; }
effect_mknod_root() { EFFECT="device node stored"; [ -e "$B/n_dev_r" ]; }
op_chmod_suid() { op $U chmod "$D/f_suid" 4755; }
effect_chmod_suid() { EFFECT="backing mode $(mode_of "$B/f_suid")"; [ "$(mode_of "$B/f_suid")" != 644 ]; }
op_chmod_sgid() { op $U chmod "$D/f_sgid" 2755; }
effect_chmod_sgid() { EFFECT="backing mode $(mode_of "$B/f_sgid")"; [ "$(mode_of "$B/f_sgid")" != 644 ]; }

op_folder_rmdir() { op $U rmdir "$D"; }
effect_folder_rmdir() { EFFECT="folder directory gone"; [ ! -d "$B" ] || ! stat "$D" >/dev/null 2>&1; }
op_folder_rename() { op $U rename "$D" "$M/renamed_$C"; }
effect_folder_rename() { EFFECT="folder directory renamed"; stat "$M/renamed_$C" >/dev/null 2>&1 || ! stat "$D" >/dev/null 2>&1; }

# ---- expectations -----------------------------------------------------------

in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

# expected_for OP COLUMN: the SPEC section 3 answer, or "n/a".
expected_for() {
        local o=$1 c=$2 perm=${2%+rcd} rcd=no
        [ "$c" = "$perm" ] || rcd=yes
        if in_list "$o" "$READ_OPS"; then
                echo ok
        elif in_list "$o" "$WRITE_OPS"; then
                [ "$perm" = ro ] && echo EROFS || echo ok
        elif in_list "$o" "$DELETE_OPS"; then
                case $perm in
                ro) echo EROFS ;;
                rw) [ $rcd = yes ] && echo ok || echo EPERM ;;
                *) echo ok ;;
                esac
        elif in_list "$o" "$CROSS_OPS"; then
                case $o in
                *_out_scratch) [ "$perm" = scratch ] && echo n/a || echo EXDEV ;;
                *) echo EXDEV ;;
                esac
        elif in_list "$o" "$SPECIAL_OPS"; then
                echo EPERM
        else
                [ "$perm" = scratch ] && echo n/a || echo EBUSY
        fi
}

colname() {
        case $1 in
        scratch) echo scratch ;;
        *+rcd) echo "${1%+rcd}_folder_under_rw_can_delete" ;;
        *) echo "${1}_folder" ;;
        esac
}

opname() {
        case $1 in
        write) echo write_to_an_existing_file ;;
        link) echo link_within_the_folder ;;
        setxattr) echo setxattr_in_the_user_namespace ;;
        rename_new) echo rename_to_a_new_name ;;
        rename_replace) echo rename_replacing_an_existing_entry ;;
        create_suid) echo create_with_mode_4755_storing_mode_0755 ;;
        mkdir_sgid) echo mkdir_with_mode_2755_storing_mode_0755 ;;
        link_out_folder) echo link_to_another_folder ;;
        rename_out_folder) echo rename_to_another_folder ;;
        link_out_scratch) echo link_to_scratch ;;
        rename_out_scratch) echo rename_to_scratch ;;
        link_in) [ "$C" = scratch ] && echo link_into_a_folder || echo link_from_scratch ;;
        rename_in) [ "$C" = scratch ] && echo rename_into_a_folder || echo rename_from_scratch ;;
        mknod_user) echo mknod_of_a_char_device_by_the_user ;;
        mknod_root) echo mknod_of_a_char_device_by_root ;;
        chmod_suid) echo chmod_setting_setuid ;;
        chmod_sgid) echo chmod_setting_setgid ;;
        folder_rmdir) echo rmdir_of_its_own_directory ;;
        folder_rename) echo rename_of_its_own_directory ;;
        *) echo "$1" ;;
        esac
}

declare -A SEEN

# cell OP: one test case in the current column.
cell() {
        local o=$1 exp got name verdict=0 why=
        exp=$(expected_for "$o" "$C")
        [ "$exp" = n/a ] && { SEEN[$o|$C]=-; return; }
        if [ "$exp" = ok ]; then
                name="$(colname "$C")_allows_$(opname "$o")"
        else
                name="$(colname "$C")_refuses_$(opname "$o")_with_${exp,,}"
        fi
        got=$("op_$o")
        EFFECT=
        if [ "$got" != "$exp" ]; then
                verdict=1
                why="expected $exp got $got"
        elif [ "$exp" = ok ]; then
                if ! "effect_$o"; then
                        verdict=1
                        why="expected ok with the change on the backing store got ok but $EFFECT is wrong"
                fi
        elif "effect_$o"; then
                verdict=1
                why="expected $exp and no change got $exp but $EFFECT"
        fi
        SEEN[$o|$C]=$got$([ $verdict = 0 ] || echo '!')
        report "$name" $verdict "$why"
}

# column C: run every operation in column C.  D, B, ... set by the caller.
column() {
        C=$1
        local o
        for o in $ALL_OPS; do
                cell "$o"
        done
}

# set_column COL MOUNTPOINT SCRATCH-BACKING
set_column() {
        M=$2
        SD=$M
        SB=$3
        case $1 in
        scratch)
                D=$M B=$3 OD=$M/f-other OB=${BK[f-other]} ID=$M/f-other IB=${BK[f-other]} ;;
        *)
                local p=${1%+rcd}
                D=$M/f-$p B=${BK[f-$p]} OD=$M/f-other OB=${BK[f-other]} ID=$M IB=$3 ;;
        esac
}

# ---- session 1: default semantics --------------------------------------------
for f in f-ro f-rw f-wd f-other; do
        populate "${BK[$f]}"
done
must_start "$MNT" alice
SID=$(session_of "$DAEMON_PID")
[ -n "$SID" ] && [ -d "$SCRATCH/$SID" ] || bail "no scratch directory for the session (id '$SID')"
S1=$SCRATCH/$SID
populate "$S1"
for c in $COLS; do
        set_column "$c" "$MNT" "$S1"
        column "$c"
done
daemon_stop "$MNT" "$DAEMON_PID"

# ---- session 2: -o rw_can_delete ---------------------------------------------
for f in f-ro f-rw f-other; do
        populate "${BK[$f]}"
done
must_start "$MNT2" alice rw_can_delete
SID=$(session_of "$DAEMON_PID")
[ -n "$SID" ] && [ -d "$SCRATCH/$SID" ] || bail "no scratch directory for the rw_can_delete session"
S2=$SCRATCH/$SID
populate "$S2"
for c in $RCD_COLS; do
        set_column "$c" "$MNT2" "$S2"
        column "$c"
done
daemon_stop "$MNT2" "$DAEMON_PID"

# ---- the matrix ---------------------------------------------------------------
echo "# permission matrix: errno seen by the session user ('!' = differs from SPEC or wrong effect)"
printf '# %-20s' operation
for c in $COLS $RCD_COLS; do printf ' %-8s' "$c"; done
echo
for o in $ALL_OPS; do
        printf '# %-20s' "$o"
        for c in $COLS $RCD_COLS; do printf ' %-8s' "${SEEN[$o|$c]:-?}"; done
        echo
done

itest_end
