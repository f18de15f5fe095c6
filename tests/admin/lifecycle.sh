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
        ID=$(mkfolder --user alice data)
        DIR=$(backing_dir "$ID")
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
        assert_eq ready "$(_status data)"
        ok --json folder list --user alice
        assert_jq 'map(.status)' '["ready"]'
}

delete_moves_ready_folder_to_trash_and_keeps_data() {
        _setup
        ok folder delete data
        assert_eq trash "$(_status data)"
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
        assert_eq ready "$(_status data)"
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
        id2=$(mkfolder --user alice other)
        dir2=$(backing_dir "$id2")
        echo other >"$dir2/f"
        ok folder delete data
        ok folder purge data
        assert_file_content "$dir2/f" other
        assert_eq ready "$(_status other)"
}

purge_does_not_follow_symlinks_out_of_the_folder() {
        _setup
        mkdir "$T/outside"
        echo sentinel >"$T/outside/keep"
        ln -s "$T/outside" "$DIR/link"
        ln -s ../../../../../outside "$DIR/rel"
        ok folder delete data
        ok folder purge data
        assert_absent "$DIR"
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
        assert_eq ready "$(_status data)"
}

delete_of_folder_mounted_in_live_session_succeeds_with_force() {
        _setup
        _mounted_session
        ok folder delete data --force
        assert_eq trash "$(_status data)"
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

delete_is_allowed_once_the_session_has_ended() {
        _setup
        _mounted_session
        start_session "$SID" "$(dead_pid)"
        ok session end "$SID"
        ok folder delete data
        assert_eq trash "$(_status data)"
}

delete_of_unknown_folder_fails() {
        _setup
        snapshot before
        fails folder delete nosuch
        fails folder restore nosuch
        fails folder purge nosuch
        assert_unchanged before
}

run_tests lifecycle "$@"
