#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# permissions.sh - who sees which folder with which permission (SPEC section 2),
# as `folder list --user U --json` and `folder info REF --user U --json` show
# it: owner, project member, member with a per-user grant (higher and lower),
# grantee, and a stranger for whom the folder does not exist at all.
source "$(dirname "$0")/lib.sh"

# _perm_in_list USER NAME: U's effective permission on NAME per folder list.
_perm_in_list() {
        ok --json folder list --user "$1"
        jqo "map(select(.name == \"$2\")) | if length == 1 then .[0].permission else \"listed \(length) times\" end"
}

# _perm_in_info USER REF: U's effective permission per folder info.
_perm_in_info() {
        ok --json folder info "$2" --user "$1"
        jqo '.permission'
}

# _expect_perm USER NAME PERM: both views agree on PERM.
_expect_perm() {
        _perm_in_list "$1" "$2"
        assert_eq "$3" "$JQ" "permission of '$2' for '$1' in folder list"
        _perm_in_info "$1" "$2"
        assert_eq "$3" "$JQ" "permission of '$2' for '$1' in folder info"
}

# Users alice, bob, carol, dave; project p1 with members bob and carol.
_people() {
        setup_catalog
        add_users alice bob carol dave
        ok project add p1
        ok project member add p1 bob
        ok project member add p1 carol
}

_project_setup() { fixture people _people; }

owner_gets_wd_by_default() {
        _project_setup
        mkfolder --user alice data
        _expect_perm alice data wd
}

owner_gets_folder_permission_ro() {
        _project_setup
        mkfolder --user alice data --permission ro
        _expect_perm alice data ro
}

owner_gets_folder_permission_rw() {
        _project_setup
        mkfolder --user alice data --permission rw
        _expect_perm alice data rw
}

owner_gets_folder_permission_wd() {
        _project_setup
        mkfolder --user alice data --permission wd
        _expect_perm alice data wd
}

owner_follows_folder_set_permission() {
        _project_setup
        mkfolder --user alice data
        ok folder set data --permission ro
        _expect_perm alice data ro
}

user_folder_shows_owner_type_user_and_owner_name() {
        _project_setup
        mkfolder --user alice data
        ok --json folder list --user alice
        assert_jq 'map([.owner_type, .owner])' '[["user","alice"]]'
        ok --json folder info data
        assert_jq '[.owner_type, .owner]' '["user","alice"]'
}

project_folder_shows_owner_type_project_and_project_name() {
        _project_setup
        mkfolder --project p1 shared
        ok --json folder list --user bob
        assert_jq 'map([.owner_type, .owner])' '[["project","p1"]]'
        ok --json folder info shared
        assert_jq '[.owner_type, .owner]' '["project","p1"]'
}

project_member_gets_folder_permission() {
        _project_setup
        mkfolder --project p1 shared --permission rw
        _expect_perm bob shared rw
        _expect_perm carol shared rw
}

project_member_follows_folder_set_permission() {
        _project_setup
        mkfolder --project p1 shared --permission rw
        ok folder set shared --permission ro
        _expect_perm bob shared ro
}

project_member_with_higher_grant_gets_the_grant() {
        _project_setup
        mkfolder --project p1 shared --permission ro
        ok folder share shared bob --permission wd
        _expect_perm bob shared wd
        _expect_perm carol shared ro
}

project_member_with_lower_grant_gets_the_grant() {
        _project_setup
        mkfolder --project p1 shared --permission wd
        ok folder share shared bob --permission ro
        _expect_perm bob shared ro
        _expect_perm carol shared wd
}

project_member_whose_grant_is_removed_gets_folder_permission_again() {
        _project_setup
        mkfolder --project p1 shared --permission rw
        ok folder share shared bob --permission ro
        ok folder unshare shared bob
        _expect_perm bob shared rw
}

grantee_gets_the_grant_permission() {
        _project_setup
        mkfolder --user alice data --permission wd
        ok folder share data bob --permission ro
        _expect_perm bob data ro
        _expect_perm alice data wd
}

grantee_gets_grant_above_folder_permission() {
        _project_setup
        mkfolder --user alice data --permission ro
        ok folder share data bob --permission rw
        _expect_perm bob data rw
}

second_share_replaces_the_grant() {
        _project_setup
        mkfolder --user alice data
        ok folder share data bob --permission ro
        ok folder share data bob --permission wd
        _expect_perm bob data wd
        assert_eq 1 "$(sql "SELECT count(*) FROM grants")" "grant rows"
}

grantee_sees_owner_as_the_owner() {
        _project_setup
        mkfolder --user alice data
        ok folder share data bob --permission ro
        ok --json folder list --user bob
        assert_jq 'map([.name, .owner_type, .owner])' '[["data","user","alice"]]'
}

unshared_user_no_longer_sees_folder() {
        _project_setup
        mkfolder --user alice data
        ok folder share data bob --permission rw
        ok folder unshare data bob
        ok --json folder list --user bob
        assert_jq 'length' '0'
        fails folder info data --user bob
}

unshare_of_user_without_grant_fails() {
        _project_setup
        mkfolder --user alice data
        snapshot before
        fails folder unshare data bob
        assert_unchanged before
}

share_with_the_owner_is_refused() {
        _project_setup
        mkfolder --user alice data
        snapshot before
        fails folder share data alice --permission ro
        assert_unchanged before
}

removed_project_member_loses_access() {
        _project_setup
        mkfolder --project p1 shared
        ok project member remove p1 carol
        ok --json folder list --user carol
        assert_jq 'length' '0'
        fails folder info shared --user carol
}

stranger_does_not_see_folder_name_in_list() {
        _project_setup
        mkfolder --user alice secret-alice
        mkfolder --project p1 secret-p1
        ok --json folder list --user dave
        assert_jq '.' '[]'
        ok folder list --user dave
        assert_not_contains secret "$OUT" "table for a stranger"
}

non_member_does_not_see_project_folder() {
        _project_setup
        mkfolder --project p1 shared
        ok --json folder list --user alice
        assert_jq 'map(.name)' '[]'
}

# The error for a folder that exists but is invisible must be the error for
# a folder that does not exist: same text once the reference is replaced.
stranger_cannot_info_folder_by_name_and_error_reveals_nothing() {
        local id err_hidden err_absent
        _project_setup
        mkfolder --user alice secret; id=$FID
        fails folder info secret --user dave
        err_hidden=${ERR//secret/REF}
        assert_not_contains "$id" "$ERR" "error for a stranger"
        assert_not_contains alice "$ERR" "error for a stranger"
        fails folder info absent --user dave
        err_absent=${ERR//absent/REF}
        assert_eq "$err_absent" "$err_hidden" "error for a hidden folder vs a missing one"
}

stranger_cannot_info_folder_by_uuid_and_error_reveals_nothing() {
        local id other err_hidden err_absent
        _project_setup
        mkfolder --user alice secret; id=$FID
        other=$(cat /proc/sys/kernel/random/uuid)
        fails folder info "$id" --user dave
        err_hidden=${ERR//$id/REF}
        assert_not_contains secret "$ERR" "error for a stranger"
        assert_not_contains alice "$ERR" "error for a stranger"
        fails folder info "$other" --user dave
        err_absent=${ERR//$other/REF}
        assert_eq "$err_absent" "$err_hidden" "error for a hidden folder vs a missing one"
}

# _same_error_as_missing HIDDEN MISSING ARGS...: the command, run with REF
# standing for HIDDEN and then for MISSING, fails with the same message once
# the reference is masked.
_same_error_as_missing() {
        local hidden=$1 missing=$2 err_hidden
        shift 2
        fails "${@//REF/$hidden}"
        err_hidden=${ERR//$hidden/REF}
        fails "${@//REF/$missing}"
        assert_eq "${ERR//$missing/REF}" "$err_hidden" "error for a hidden folder vs a missing one"
}

stranger_cannot_use_files_or_usage_on_hidden_folder() {
        local id
        _project_setup
        mkfolder --user alice secret
        id=$FID
        backing_dir "$id"
        echo s >"$BACKING/f"
        _same_error_as_missing secret absent files ls REF --user dave
        _same_error_as_missing "$id" "$(cat /proc/sys/kernel/random/uuid)" files get REF f --user dave
        _same_error_as_missing secret absent usage REF --user dave
}

stranger_cannot_mount_hidden_folder() {
        local id
        _project_setup
        mkfolder --user alice secret
        id=$FID
        snapshot before
        _same_error_as_missing secret absent session create --user dave --mount REF
        _same_error_as_missing "$id" "$(cat /proc/sys/kernel/random/uuid)" session create --user dave --mount REF:ro
        assert_unchanged before
}

folder_list_without_user_lists_every_folder_with_its_own_permission() {
        _project_setup
        mkfolder --user alice a1 --permission ro
        mkfolder --user bob b1 --permission rw
        mkfolder --project p1 p1f
        ok --json folder list
        assert_jq 'map([.name, .permission]) | sort' '[["a1","ro"],["b1","rw"],["p1f","wd"]]'
}

folder_list_with_user_includes_own_shared_and_project_folders_only() {
        _project_setup
        mkfolder --user bob own
        mkfolder --user alice shared-in
        mkfolder --user alice not-shared
        mkfolder --project p1 team
        ok folder share shared-in bob --permission ro
        ok --json folder list --user bob
        assert_jq 'map(.name) | sort' '["own","shared-in","team"]'
}

folder_list_with_unknown_user_fails() {
        _project_setup
        fails folder list --user nobody
}

run_tests permissions "$@"
