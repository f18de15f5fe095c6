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
WRITE_OPS="create mkdir write truncate chmod utimens symlink link setxattr rename_new rename_noreplace create_suid mkdir_sgid"
DELETE_OPS="unlink rmdir rename_replace rename_replace_dir removexattr"
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
        mkdir "$b/d_list" "$b/d_rmdir" "$b/d_rr_src" "$b/d_rr_dst"
        : >"$b/d_rr_src/inner"
        : >"$b/d_list/a"
        for f in f_write f_trunc f_chmod f_utime f_link f_xattr f_mv f_unlink \
                 f_rr_src f_rr_dst f_nr f_rmxattr f_xlink f_xren f_xslink f_xsren \
                 f_suid f_sgid f_in_ro f_in_rw f_in_wd f_in_scratch \
                 f_in_ro+rcd f_in_rw+rcd; do
                printf 'content-of-%s\n' "$f" >"$b/$f"
        done
        "$FSOP" setxattr "$b/f_rmxattr" user.test 1 >/dev/null
        chmod 644 "$b"/f_*
        chmod 755 "$b"/d_*
}

# xattr_of PATH NAME: the value of an extended attribute (ENODATA if none).
xattr_of() { "$FSOP" getxattrv "$1" "$2"; }

mode_of() { stat -c %a "$1" 2>/dev/null; }

# ---- the operations ---------------------------------------------------------
# Each op_X queues one fsop call (qop UID ARGS...; the queue runs as one
# process per uid, see run_queue); each effect_X succeeds when the backing
# store (or, for reads, the session as root) shows the operation happened,
# leaving a description in EFFECT.
# Globals: D (the column's directory in the session), B (its backing dir),
# OD/OB (another folder), SD/SB (scratch), ID/IB (where link_in/rename_in
# take their source: scratch, or a folder for the scratch column), M (the
# mountpoint), C (the column).

op_read() { qop $U read "$D/f_read"; }
effect_read() { local v; v=$(cat "$D/f_read" 2>&1); EFFECT="content '$v'"; [ "$v" = hello ]; }
op_stat() { qop $U stat "$D/f_read"; }
effect_stat() { local v; v=$(stat -c %s "$D/f_read" 2>&1); EFFECT="size $v"; [ "$v" = 6 ]; }
op_readdir() { qop $U readdir "$D/d_list"; }
effect_readdir() { local v; v=$(ls "$D/d_list" 2>&1); EFFECT="listing '$v'"; [ "$v" = a ]; }
op_readlink() { qop $U readlink "$D/l_link"; }
effect_readlink() { local v; v=$(readlink "$D/l_link" 2>&1); EFFECT="target '$v'"; [ "$v" = f_read ]; }
op_getxattr() { qop $U getxattr "$D/f_read" user.test; }
effect_getxattr() { local v; v=$("$FSOP" getxattrv "$D/f_read" user.test 2>&1); EFFECT="value '$v'"; [ "$v" = 1 ]; }
op_listxattr() { qop $U listxattr "$D/f_read"; }
effect_listxattr() { local v; v=$("$FSOP" listxattrv "$D/f_read" 2>&1); EFFECT="list '$v'"; [ "$v" = user.test ]; }

op_create() { qop $U create "$D/n_create" 644; }
effect_create() { EFFECT="backing file exists"; [ -f "$B/n_create" ]; }
op_mkdir() { qop $U mkdir "$D/n_mkdir" 755; }
effect_mkdir() { EFFECT="backing dir exists"; [ -d "$B/n_mkdir" ]; }
op_write() { qop $U write "$D/f_write" CHANGED; }
effect_write() { EFFECT="backing content '$(head -c 7 "$B/f_write")'"; [ "$(head -c 7 "$B/f_write")" = CHANGED ]; }
op_truncate() { qop $U truncate "$D/f_trunc" 3; }
effect_truncate() { EFFECT="backing size $(stat -c %s "$B/f_trunc")"; [ "$(stat -c %s "$B/f_trunc")" = 3 ]; }
op_chmod() { qop $U chmod "$D/f_chmod" 600; }
effect_chmod() { EFFECT="backing mode $(mode_of "$B/f_chmod")"; [ "$(mode_of "$B/f_chmod")" = 600 ]; }
op_utimens() { qop $U utimens "$D/f_utime" 1000000000; }
effect_utimens() { EFFECT="backing mtime $(stat -c %Y "$B/f_utime")"; [ "$(stat -c %Y "$B/f_utime")" = 1000000000 ]; }
op_symlink() { qop $U symlink f_read "$D/n_symlink"; }
effect_symlink() { EFFECT="backing symlink exists"; [ -L "$B/n_symlink" ] && [ "$(readlink "$B/n_symlink")" = f_read ]; }
op_link() { qop $U link "$D/f_link" "$D/n_link"; }
effect_link() { EFFECT="backing hard link exists"; [ -f "$B/n_link" ] && [ "$B/n_link" -ef "$B/f_link" ]; }
op_setxattr() { qop $U setxattr "$D/f_xattr" user.new v; }
effect_setxattr() { EFFECT="backing user.new='$(xattr_of "$B/f_xattr" user.new)'"; [ "$(xattr_of "$B/f_xattr" user.new)" = v ]; }
op_rename_new() { qop $U rename "$D/f_mv" "$D/n_mv"; }
effect_rename_new() { EFFECT="backing renamed"; [ -e "$B/n_mv" ] || [ ! -e "$B/f_mv" ]; }
op_rename_noreplace() { qop $U rename2 "$D/f_nr" "$D/n_nr" noreplace; }
effect_rename_noreplace() { EFFECT="backing renamed"; [ -e "$B/n_nr" ] || [ ! -e "$B/f_nr" ]; }
op_create_suid() { qop $U create "$D/n_suid" 4755; }
effect_create_suid() { EFFECT="backing mode $(mode_of "$B/n_suid")"; [ "$(mode_of "$B/n_suid")" = 755 ]; }
op_mkdir_sgid() { qop $U mkdir "$D/n_sgid" 2755; }
effect_mkdir_sgid() { EFFECT="backing mode $(mode_of "$B/n_sgid")"; [ "$(mode_of "$B/n_sgid")" = 755 ]; }

op_unlink() { qop $U unlink "$D/f_unlink"; }
effect_unlink() { EFFECT="backing file removed"; [ ! -e "$B/f_unlink" ]; }
op_rmdir() { qop $U rmdir "$D/d_rmdir"; }
effect_rmdir() { EFFECT="backing dir removed"; [ ! -e "$B/d_rmdir" ]; }
op_rename_replace() { qop $U rename "$D/f_rr_src" "$D/f_rr_dst"; }
effect_rename_replace() { EFFECT="backing target replaced"; [ ! -e "$B/f_rr_src" ] || [ "$(cat "$B/f_rr_dst")" = content-of-f_rr_src ]; }
op_rename_replace_dir() { qop $U rename "$D/d_rr_src" "$D/d_rr_dst"; }
effect_rename_replace_dir() { EFFECT="backing directory replaced"; [ ! -e "$B/d_rr_src" ] || [ -e "$B/d_rr_dst/inner" ]; }
op_removexattr() { qop $U removexattr "$D/f_rmxattr" user.test; }
effect_removexattr() { EFFECT="backing xattr removed"; [ "$(xattr_of "$B/f_rmxattr" user.test)" = ENODATA ]; }

op_link_out_folder() { qop $U link "$D/f_xlink" "$OD/xl_$C"; }
effect_link_out_folder() { EFFECT="link made in the other folder"; [ -e "$OB/xl_$C" ]; }
op_rename_out_folder() { qop $U rename "$D/f_xren" "$OD/xr_$C"; }
effect_rename_out_folder() { EFFECT="file moved to the other folder"; [ -e "$OB/xr_$C" ] || [ ! -e "$B/f_xren" ]; }
op_link_out_scratch() { qop $U link "$D/f_xslink" "$SD/xsl_$C"; }
effect_link_out_scratch() { EFFECT="link made in scratch"; [ -e "$SB/xsl_$C" ]; }
op_rename_out_scratch() { qop $U rename "$D/f_xsren" "$SD/xsr_$C"; }
effect_rename_out_scratch() { EFFECT="file moved to scratch"; [ -e "$SB/xsr_$C" ] || [ ! -e "$B/f_xsren" ]; }
op_link_in() { qop $U link "$ID/f_in_$C" "$D/li_$C"; }
effect_link_in() { EFFECT="link made from outside"; [ -e "$B/li_$C" ]; }
op_rename_in() { qop $U rename "$ID/f_in_$C" "$D/ri_$C"; }
effect_rename_in() { EFFECT="file moved in from outside"; [ -e "$B/ri_$C" ] || [ ! -e "$IB/f_in_$C" ]; }

op_mknod_user() { qop $U mknod "$D/n_dev_u" c 1 3; }
effect_mknod_user() { EFFECT="device node stored"; [ -e "$B/n_dev_u" ]; }
op_mknod_root() { qop 0 mknod "$D/n_dev_r" c 1 3; }
effect_mknod_root() { EFFECT="device node stored"; [ -e "$B/n_dev_r" ]; }
op_chmod_suid() { qop $U chmod "$D/f_suid" 4755; }
effect_chmod_suid() { EFFECT="backing mode $(mode_of "$B/f_suid")"; [ "$(mode_of "$B/f_suid")" != 644 ]; }
op_chmod_sgid() { qop $U chmod "$D/f_sgid" 2755; }
effect_chmod_sgid() { EFFECT="backing mode $(mode_of "$B/f_sgid")"; [ "$(mode_of "$B/f_sgid")" != 644 ]; }

op_folder_rmdir() { qop $U rmdir "$D"; }
effect_folder_rmdir() { EFFECT="folder directory gone"; [ ! -d "$B" ] || ! stat "$D" >/dev/null 2>&1; }
op_folder_rename() { qop $U rename "$D" "$M/renamed_$C"; }
effect_folder_rename() { EFFECT="folder directory renamed"; stat "$M/renamed_$C" >/dev/null 2>&1 || ! stat "$D" >/dev/null 2>&1; }

# ---- expectations -----------------------------------------------------------

in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

# expected_for OP COLUMN: the SPEC section 3 answer in EXP, or "n/a".
expected_for() {
        local o=$1 c=$2 perm=${2%+rcd} rcd=no
        [ "$c" = "$perm" ] || rcd=yes
        if in_list "$o" "$READ_OPS"; then
                EXP=ok
        elif in_list "$o" "$WRITE_OPS"; then
                [ "$perm" = ro ] && EXP=EROFS || EXP=ok
        elif in_list "$o" "$DELETE_OPS"; then
                case $perm in
                ro) EXP=EROFS ;;
                rw) [ $rcd = yes ] && EXP=ok || EXP=EPERM ;;
                *) EXP=ok ;;
                esac
        elif in_list "$o" "$CROSS_OPS"; then
                case $o in
                *_out_scratch) [ "$perm" = scratch ] && EXP=n/a || EXP=EXDEV ;;
                *) EXP=EXDEV ;;
                esac
        elif in_list "$o" "$SPECIAL_OPS"; then
                EXP=EPERM
        else
                [ "$perm" = scratch ] && EXP=n/a || EXP=EBUSY
        fi
}

# colname COLUMN -> COLN; opname OP -> OPN: the words of a test's name.
colname() {
        case $1 in
        scratch) COLN=scratch ;;
        *+rcd) COLN="${1%+rcd}_folder_under_rw_can_delete" ;;
        *) COLN="${1}_folder" ;;
        esac
}

opname() {
        case $1 in
        write) OPN=write_to_an_existing_file ;;
        link) OPN=link_within_the_folder ;;
        setxattr) OPN=setxattr_in_the_user_namespace ;;
        rename_new) OPN=rename_to_a_new_name ;;
        rename_replace) OPN=rename_replacing_an_existing_entry ;;
        rename_replace_dir) OPN=rename_replacing_an_empty_directory ;;
        rename_noreplace) OPN=rename_noreplace_to_a_new_name ;;
        create_suid) OPN=create_with_mode_4755_storing_mode_0755 ;;
        mkdir_sgid) OPN=mkdir_with_mode_2755_storing_mode_0755 ;;
        link_out_folder) OPN=link_to_another_folder ;;
        rename_out_folder) OPN=rename_to_another_folder ;;
        link_out_scratch) OPN=link_to_scratch ;;
        rename_out_scratch) OPN=rename_to_scratch ;;
        link_in) [ "$C" = scratch ] && OPN=link_into_a_folder || OPN=link_from_scratch ;;
        rename_in) [ "$C" = scratch ] && OPN=rename_into_a_folder || OPN=rename_from_scratch ;;
        mknod_user) OPN=mknod_of_a_char_device_by_the_user ;;
        mknod_root) OPN=mknod_of_a_char_device_by_root ;;
        chmod_suid) OPN=chmod_setting_setuid ;;
        chmod_sgid) OPN=chmod_setting_setgid ;;
        folder_rmdir) OPN=rmdir_of_its_own_directory ;;
        folder_rename) OPN=rename_of_its_own_directory ;;
        *) OPN=$1 ;;
        esac
}

# qop UID FSOP-ARGS...: queue one call.
qop() {
        local uid=$1 IFS=$'\t'
        shift
        QUEUE+=("$*")
        QUID+=("$uid")
}

# run_queue: run the queued calls, one fsop batch per uid; results in RES.
run_queue() {
        local uid i k lines idx out
        RES=()
        for uid in $(printf '%s\n' "${QUID[@]}" | sort -u); do
                lines=()
                idx=()
                for i in "${!QUEUE[@]}"; do
                        [ "${QUID[$i]}" = "$uid" ] || continue
                        lines+=("${QUEUE[$i]}")
                        idx+=("$i")
                done
                if [ "$uid" = 0 ]; then
                        mapfile -t out < <(printf '%s\n' "${lines[@]}" | "$FSOP" batch 2>/dev/null)
                else
                        mapfile -t out < <(printf '%s\n' "${lines[@]}" | asuser "$uid" "$FSOP" batch 2>/dev/null)
                fi
                for k in "${!idx[@]}"; do
                        RES[${idx[$k]}]=${out[$k]:-none}
                done
        done
}

declare -A SEEN

# cell OP GOT: one test case in the current column.
cell() {
        local o=$1 got=$2 name verdict=0 why=
        expected_for "$o" "$C"
        colname "$C"
        opname "$o"
        if [ "$EXP" = ok ]; then
                name="${COLN}_allows_$OPN"
        else
                name="${COLN}_refuses_${OPN}_with_${EXP,,}"
        fi
        EFFECT=
        if [ "$got" != "$EXP" ]; then
                verdict=1
                why="expected $EXP got $got"
        elif [ "$EXP" = ok ]; then
                if ! "effect_$o"; then
                        verdict=1
                        why="expected ok with the change on the backing store got ok but $EFFECT is wrong"
                fi
        elif "effect_$o"; then
                verdict=1
                why="expected $EXP and no change got $EXP but $EFFECT"
        fi
        if [ $verdict = 0 ]; then SEEN[$o|$C]=$got; else SEEN[$o|$C]="$got!"; fi
        report "$name" $verdict "$why"
}

# column C: queue every operation of column C, run them, judge each cell.
# D, B, ... are set by set_column.
column() {
        C=$1
        local o i ops=()
        QUEUE=()
        QUID=()
        for o in $ALL_OPS; do
                expected_for "$o" "$C"
                if [ "$EXP" = n/a ]; then
                        SEEN[$o|$C]=-
                        continue
                fi
                ops+=("$o")
                "op_$o"
        done
        run_queue
        for i in "${!ops[@]}"; do
                cell "${ops[$i]}" "${RES[$i]}"
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
