#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# identity.sh - SPEC section 3 "Identity": inside the session every file in a
# folder (and in scratch) appears owned by the session user's container
# uid/gid; on the storage host the daemon's files belong to the storage
# uid/gid (the daemon's own by default, -o storage_uid=N,storage_gid=N
# otherwise); chown/chgrp succeed and change nothing, so `tar` and `cp -a` run
# as root keep working; modes are kept as written.
#
# Reading of SPEC: "chown/chgrp inside a folder succeeds" is tested for root
# in the session (the case tar/cp -a need); for an unprivileged caller the
# kernel's default_permissions checks may refuse a chown to another uid first.

. "$(dirname "$0")/lib.sh"
itest_begin identity "$@"

U=2345
SU=3000
SG=3001
MNT2=$T/mnt2
mkdir -p "$MNT2"
chmod 755 "$MNT2"

must admin user add bob --uid $U --gid $U
must admin folder create bf --user bob
BB=$(backing_of bf) || bail "no backing directory for folder bf"
printf 'pre\n' >"$BB/pre"
printf 'other\n' >"$BB/pre_other"
chown 4444:4444 "$BB/pre_other"
chmod 640 "$BB/pre" "$BB/pre_other"

# A tree with foreign owners and unusual modes, for tar and cp -a.
SRC=$T/tarsrc
mkdir -p "$SRC/dir"
printf 'a\n' >"$SRC/dir/a"
printf 'b\n' >"$SRC/b"
ln -s dir/a "$SRC/link"
chmod 751 "$SRC/dir"
chmod 600 "$SRC/dir/a"
chmod 640 "$SRC/b"
chown -h 4444:4445 "$SRC/dir" "$SRC/dir/a" "$SRC/b" "$SRC/link"
tar -C "$SRC" -cf "$T/tree.tar" .

must_start "$MNT" bob
D=$MNT/bf
SID=$(session_of "$DAEMON_PID")
S1=$SCRATCH/$SID

owner_in() { asuser $U stat -c %u:%g "$1" 2>&1; }
owner_on_host() { stat -c %u:%g "$1" 2>&1; }

files_in_a_folder_appear_owned_by_the_session_user() {
        assert_eq $U:$U "$(owner_in "$D/pre")" "owner of pre (root's on the host)" &&
        assert_eq $U:$U "$(owner_in "$D/pre_other")" "owner of pre_other (4444's on the host)" &&
        assert_eq $U:$U "$(owner_in "$D")" "owner of the folder directory"
}

scratch_appears_owned_by_the_session_user() {
        asuser $U sh -c "echo s >'$MNT/sfile'" 2>/dev/null
        assert_eq $U:$U "$(owner_in "$MNT")" "owner of the mount root" &&
        assert_eq $U:$U "$(owner_in "$MNT/sfile")" "owner of a scratch file"
}

files_created_in_a_session_belong_to_the_daemon_on_the_storage_host() {
        asuser $U sh -c "echo n >'$D/new' && mkdir '$D/newdir' && ln -s new '$D/newlink'" 2>/dev/null
        assert_eq $U:$U "$(owner_in "$D/new")" "owner of new inside" &&
        assert_eq 0:0 "$(owner_on_host "$BB/new")" "owner of new on the host" &&
        assert_eq 0:0 "$(owner_on_host "$BB/newdir")" "owner of newdir on the host" &&
        assert_eq 0:0 "$(stat -c %u:%g "$BB/newlink" 2>&1)" "owner of newlink on the host"
}

chown_by_root_in_a_folder_succeeds_and_changes_nothing() {
        assert "chown 0:0 to succeed" chown 0:0 "$D/new" &&
        assert "chgrp 4444 to succeed" chgrp 4444 "$D/new" &&
        assert "chown -h on a symlink to succeed" chown -h 7:7 "$D/newlink" &&
        assert "chown 0:0 of a foreign file to succeed" chown 0:0 "$D/pre_other" &&
        assert_eq $U:$U "$(owner_in "$D/new")" "owner of new inside" &&
        assert_eq 0:0 "$(owner_on_host "$BB/new")" "owner of new on the host" &&
        assert_eq 4444:4444 "$(owner_on_host "$BB/pre_other")" "owner of pre_other on the host"
}

chown_by_the_user_to_itself_succeeds() {
        assert_eq ok "$(op $U chown "$D/new" $U $U)" "chown $U:$U by the user"
}

tar_run_as_root_extracts_with_ownership_and_modes() {
        local out
        mkdir "$D/untar" || { ITEST_WHY="cannot mkdir untar"; return 1; }
        out=$(tar --same-owner --same-permissions -xf "$T/tree.tar" -C "$D/untar" 2>&1)
        assert_eq "" "$out" "tar's complaints" &&
        assert_eq "751 600 640" "$(stat -c %a "$D/untar/dir" "$D/untar/dir/a" "$D/untar/b" | tr '\n' ' ' | sed 's/ $//')" "modes inside" &&
        assert_eq "751 600 640" "$(stat -c %a "$BB/untar/dir" "$BB/untar/dir/a" "$BB/untar/b" | tr '\n' ' ' | sed 's/ $//')" "modes on the host" &&
        assert_eq dir/a "$(readlink "$D/untar/link")" "symlink target" &&
        assert_eq $U:$U "$(owner_in "$D/untar/dir/a")" "owner inside"
}

cp_a_run_as_root_preserves_modes() {
        local out
        out=$(cp -a "$SRC" "$D/cpa" 2>&1)
        assert_eq "" "$out" "cp -a's complaints" &&
        assert_eq "751 600 640" "$(stat -c %a "$D/cpa/dir" "$D/cpa/dir/a" "$D/cpa/b" | tr '\n' ' ' | sed 's/ $//')" "modes inside" &&
        assert_eq a "$(asuser $U cat "$D/cpa/dir/a" 2>&1)" "content readable by the user"
}

modes_are_kept_as_written() {
        assert_eq ok "$(op $U create "$D/m640" 640)" "create 0640" &&
        assert_eq ok "$(op $U mkdir "$D/m700" 700)" "mkdir 0700" &&
        assert_eq ok "$(op $U create "$D/m751" 600)" "create 0600" &&
        assert_eq ok "$(op $U chmod "$D/m751" 751)" "chmod 0751" &&
        assert_eq "640 700 751" "$(asuser $U stat -c %a "$D/m640" "$D/m700" "$D/m751" | tr '\n' ' ' | sed 's/ $//')" "modes inside" &&
        assert_eq "640 700 751" "$(stat -c %a "$BB/m640" "$BB/m700" "$BB/m751" | tr '\n' ' ' | sed 's/ $//')" "modes on the host"
}

scratch_files_belong_to_the_daemon_on_the_storage_host() {
        assert_eq 0:0 "$(owner_on_host "$S1/sfile")" "owner of the scratch file on the host"
}

run_test files_in_a_folder_appear_owned_by_the_session_user
run_test scratch_appears_owned_by_the_session_user
run_test files_created_in_a_session_belong_to_the_daemon_on_the_storage_host
run_test chown_by_root_in_a_folder_succeeds_and_changes_nothing
run_test chown_by_the_user_to_itself_succeeds
run_test tar_run_as_root_extracts_with_ownership_and_modes
run_test cp_a_run_as_root_preserves_modes
run_test modes_are_kept_as_written
run_test scratch_files_belong_to_the_daemon_on_the_storage_host
daemon_stop "$MNT" "$DAEMON_PID"

# ---- -o storage_uid=3000,storage_gid=3001 ------------------------------------
must_start "$MNT2" bob "storage_uid=$SU,storage_gid=$SG"
D=$MNT2/bf

storage_uid_and_gid_own_what_a_session_creates_on_the_host() {
        asuser $U sh -c "echo n >'$D/new2' && mkdir '$D/newdir2' && ln -s new2 '$D/newlink2'" 2>/dev/null
        assert_eq $SU:$SG "$(owner_on_host "$BB/new2")" "owner of new2 on the host" &&
        assert_eq $SU:$SG "$(owner_on_host "$BB/newdir2")" "owner of newdir2 on the host" &&
        assert_eq $SU:$SG "$(owner_on_host "$BB/newlink2")" "owner of newlink2 on the host" &&
        assert_eq $U:$U "$(owner_in "$D/new2")" "owner of new2 inside"
}

chown_under_storage_uid_changes_nothing_on_the_host() {
        assert "chown 0:0 to succeed" chown 0:0 "$D/new2" &&
        assert_eq $SU:$SG "$(owner_on_host "$BB/new2")" "owner of new2 on the host" &&
        assert_eq $U:$U "$(owner_in "$D/new2")" "owner of new2 inside"
}

run_test storage_uid_and_gid_own_what_a_session_creates_on_the_host
run_test chown_under_storage_uid_changes_nothing_on_the_host
daemon_stop "$MNT2" "$DAEMON_PID"

itest_end
