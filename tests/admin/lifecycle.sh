#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# lifecycle.sh - folder status transitions of SPEC section 2 (ready -> trash ->
# ready, trash -> gone with its data) and their refusals, including a folder
# mounted in a live session, which needs --force to be trashed or purged.
#
# "Mounted in a live session" is read as: a mount row of a session that a
# daemon started (pid set) and that has not ended.  Without the daemon, the
# tests make such a session with `session create` and then fill in what the
# daemon would record (start_session in lib.sh: pid of this live shell,
# this hostname).  A created session that no daemon started has mounted
# nothing yet, so it does not block trashing.
source "$(dirname "$0")/lib.sh"

_data() {
        setup_catalog
        add_users alice bob
        mkfolder --user alice data; ID=$FID
        backing_dir "$ID"; DIR=$BACKING
        echo payload >"$DIR/file"
}

_setup() { fixture data _data ID DIR; } # alice's "data" with a file; $ID, $DIR

_status() {
        ok --json folder info "$1"
        jqo '.status'
}

# _mounted_session: a started, live session of alice with "data" mounted.
_mounted_session() {
        ok session create --user alice --mount data
        SID=$OUT
        start_session "$SID"
}

new_folder_is_ready() {
        _setup
        _status data
        assert_eq ready "$JQ"
        ok --json folder list --user alice
        assert_jq 'map(.status)' '["ready"]'
}

delete_moves_ready_folder_to_trash_and_keeps_data() {
        _setup
        ok folder delete data
        _status data
        assert_eq trash "$JQ"
        ok --json folder list --user alice
        assert_jq 'map([.name, .status])' '[["data","trash"]]'
        assert_file_content "$DIR/file" payload
}

delete_of_trashed_folder_fails_and_changes_nothing() {
        _setup
        ok folder delete data
        snapshot before
        fails folder delete data
        assert_unchanged before
}

restore_moves_trashed_folder_back_to_ready() {
        _setup
        ok folder delete data
        ok folder restore data
        _status data
        assert_eq ready "$JQ"
        assert_file_content "$DIR/file" payload
}

restore_of_ready_folder_fails_and_changes_nothing() {
        _setup
        snapshot before
        fails folder restore data
        assert_unchanged before
}

purge_of_ready_folder_fails_and_keeps_data() {
        _setup
        snapshot before
        fails folder purge data
        assert_unchanged before
        assert_file_content "$DIR/file" payload
}

purge_of_trashed_folder_removes_row_grants_and_backing_directory() {
        _setup
        mkdir -p "$DIR/sub/deeper"
        echo x >"$DIR/sub/deeper/f"
        ok folder share data bob --permission ro
        ok folder delete data
        ok folder purge data
        assert_absent "$DIR"
        assert_eq 0 "$(sql "SELECT count(*) FROM folders WHERE id = '$ID'")" "folder rows"
        assert_eq 0 "$(sql "SELECT count(*) FROM grants WHERE folder_id = '$ID'")" "grant rows"
        fails folder info "$ID"
        ok --json folder list --user bob
        assert_jq 'length' '0'
}

purge_keeps_other_folders_data() {
        local id2 dir2
        _setup
        mkfolder --user alice other; id2=$FID
        backing_dir "$id2"; dir2=$BACKING
        echo other >"$dir2/f"
        ok folder delete data
        ok folder purge data
        assert_file_content "$dir2/f" other
        _status other
        assert_eq ready "$JQ"
}

purge_does_not_follow_symlinks_out_of_the_folder() {
        _setup
        mkdir "$T/outside"
        echo sentinel >"$T/outside/keep"
        ln -s "$T/outside" "$DIR/link"
        ln -s "$(realpath -m --relative-to="$DIR" "$T/outside")" "$DIR/rel"
        [[ -f $DIR/rel/keep ]] || fail "relative link does not reach outside"
        ok folder delete data
        ok folder purge data
        assert_absent "$DIR"
        assert_file_content "$T/outside/keep" sentinel
}

# Defence in depth: whatever sits at the backing path, purge removes that
# entry and never what a symlink there points to.
purge_of_a_backing_directory_swapped_for_a_symlink_keeps_the_target() {
        _setup
        mkdir "$T/outside"
        echo sentinel >"$T/outside/keep"
        ok folder delete data
        rm -rf "$DIR"
        ln -s "$T/outside" "$DIR"
        adm folder purge data
        assert_file_content "$T/outside/keep" sentinel
}

trashed_folder_cannot_be_mounted() {
        _setup
        ok folder delete data
        snapshot before
        fails session create --user alice --mount data
        assert_unchanged before
}

delete_of_folder_mounted_in_live_session_is_refused_without_force() {
        _setup
        _mounted_session
        snapshot before
        fails folder delete data
        assert_unchanged before
        _status data
        assert_eq ready "$JQ"
}

delete_of_folder_mounted_in_live_session_succeeds_with_force() {
        _setup
        _mounted_session
        ok folder delete data --force
        _status data
        assert_eq trash "$JQ"
        assert_file_content "$DIR/file" payload
}

purge_of_folder_mounted_in_live_session_is_refused_without_force() {
        _setup
        _mounted_session
        ok folder delete data --force
        snapshot before
        fails folder purge data
        assert_unchanged before
        assert_file_content "$DIR/file" payload
}

purge_of_folder_mounted_in_live_session_succeeds_with_force() {
        _setup
        _mounted_session
        ok folder delete data --force
        ok folder purge data --force
        assert_absent "$DIR"
        assert_eq 0 "$(sql "SELECT count(*) FROM folders")" "folder rows"
}

# A session made with `session create` and not started yet holds its
# folders as a running one does (SPEC section 5).
_created_session() {
        ok session create --user alice --mount data
        SID=$OUT
}

delete_of_folder_in_a_created_session_is_refused_without_force() {
        _setup
        _created_session
        snapshot before
        fails folder delete data
        assert_unchanged before
        [[ $ERR == *"$SID"*"not yet started"* ]] ||
                fail "the refusal does not name the session" "session $SID, not yet started" "$ERR"
        _status data
        assert_eq ready "$JQ"
}

purge_of_folder_in_a_created_session_is_refused_without_force() {
        _setup
        _created_session
        ok folder delete data --force
        snapshot before
        fails folder purge data
        assert_unchanged before
        [[ $ERR == *"$SID"* ]] || fail "the refusal does not name the session" "$SID" "$ERR"
        assert_file_content "$DIR/file" payload
}

delete_and_purge_of_folder_in_a_created_session_succeed_with_force() {
        _setup
        _created_session
        ok folder delete data --force
        _status data
        assert_eq trash "$JQ"
        ok folder purge data --force
        assert_absent "$DIR"
}

ending_a_never_started_session_releases_its_folders() {
        _setup
        _created_session
        ok session end "$SID"
        ok folder delete data
        _status data
        assert_eq trash "$JQ"
        ok folder purge data
        assert_absent "$DIR"
}

delete_is_allowed_once_the_session_has_ended() {
        _setup
        _mounted_session
        start_session "$SID" "$(dead_pid)"
        ok session end "$SID"
        ok folder delete data
        _status data
        assert_eq trash "$JQ"
}

delete_of_unknown_folder_fails() {
        _setup
        snapshot before
        fails folder delete nosuch
        fails folder restore nosuch
        fails folder purge nosuch
        assert_unchanged before
}

# ---------------------------------------------------------------------------
# folder set and folder clone.

folder_set_changes_permission_quota_and_cloneable() {
        _setup
        ok folder set data --permission ro --quota 1G --cloneable yes
        ok --json folder info data
        assert_jq '[.permission, .quota_bytes, .cloneable]' '["ro",1073741824,true]'
        ok folder set data --cloneable no --quota none
        ok --json folder info data
        assert_jq '[.permission, (.quota_bytes // 0), .cloneable]' '["ro",0,false]'
}

folder_set_of_unknown_folder_fails() {
        _setup
        snapshot before
        fails folder set nosuch --permission ro
        assert_unchanged before
}

clone_copies_data_and_settings_to_a_new_folder_of_the_user() {
        local cid cdir
        _setup
        mkdir -p "$DIR/sub"
        echo inner >"$DIR/sub/f"
        ln -s sub/f "$DIR/link"
        ok folder set data --permission rw
        ok --json folder create m --user alice --usage-mode model
        ok --json folder clone data copy --user alice
        assert_jq '[.name, .owner_type, .owner, .permission, .status]' '["copy","user","alice","rw","ready"]'
        jqo .id; cid=$JQ
        assert_match "$UUID_RE" "$cid" "clone id"
        [[ $cid != "$ID" ]] || fail "clone has the source's id" "a new id" "$cid"
        backing_dir "$cid"; cdir=$BACKING
        assert_file_content "$cdir/file" payload
        assert_file_content "$cdir/sub/f" inner
        assert_eq sub/f "$(readlink "$cdir/link")" "symlink copied verbatim"
        assert_file_content "$DIR/file" payload
        ok --json folder clone m m2 --user alice
        assert_jq '.usage_mode' '"model"'
}

clone_copies_symlinks_verbatim_and_never_what_they_point_to() {
        local cid cdir rel
        _setup
        mkdir "$T/outside"
        echo secret >"$T/outside/secret"
        ln -s "$T/outside" "$DIR/out"
        rel=$(realpath -m --relative-to="$DIR" "$T/outside/secret")
        ln -s "$rel" "$DIR/rel"
        [[ -f $DIR/rel ]] || fail "relative link does not reach outside"
        _clone data copy alice; cid=$JQ
        backing_dir "$cid"; cdir=$BACKING
        assert_eq "$T/outside" "$(readlink "$cdir/out")" "absolute symlink"
        assert_eq "$rel" "$(readlink "$cdir/rel")" "relative symlink"
        assert_eq 0 "$(find "$cdir" -name secret | wc -l)" "copies of the outside file"
}

# _clone REF NEW USER: clone, echo the new id.
_clone() {
        ok --json folder clone "$1" "$2" --user "$3"
        jqo .id
}

clone_of_a_folder_not_cloneable_by_another_user_fails() {
        _setup
        ok folder share data bob --permission ro
        snapshot before
        fails folder clone data copy --user bob
        assert_unchanged before
}

clone_of_a_cloneable_shared_folder_by_another_user_works() {
        local cid
        _setup
        ok folder set data --cloneable yes
        ok folder share data bob --permission ro
        _clone data bobs-copy bob; cid=$JQ
        ok --json folder info "$cid"
        assert_jq '[.owner, .name]' '["bob","bobs-copy"]'
        backing_dir "$cid"
        assert_file_content "$BACKING/file" payload
}

clone_to_a_clashing_name_fails() {
        _setup
        mkfolder --user alice taken
        snapshot before
        fails folder clone data taken --user alice
        fails folder clone data .ssh --user alice
        assert_unchanged before
}

run_tests lifecycle "$@"
