#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# clashes.sh - name uniqueness among the folders a user can access (SPEC
# section 4) through create, rename, share and project member add; folder
# references by name and UUID, with and without --user, and the ambiguity
# error that lists the matching UUIDs; automount folders cannot be shared.
source "$(dirname "$0")/lib.sh"

_people() {
        setup_catalog
        add_users alice bob carol
        ok project add p1
        ok project member add p1 bob
}

_setup() { fixture people _people; }

create_of_name_the_owner_already_has_fails() {
        _setup
        mkfolder --user alice data
        snapshot before
        fails folder create data --user alice
        assert_unchanged before
}

same_name_for_two_unrelated_users_is_allowed() {
        _setup
        mkfolder --user alice data
        mkfolder --user carol data
        ok --json folder list
        assert_jq 'map(.name)' '["data","data"]'
}

create_of_name_shared_to_the_user_fails() {
        _setup
        mkfolder --user alice data
        ok folder share data bob --permission ro
        snapshot before
        fails folder create data --user bob
        assert_unchanged before
}

create_of_project_folder_clashing_with_a_member_folder_fails() {
        _setup
        mkfolder --user bob data
        snapshot before
        fails folder create data --project p1
        assert_unchanged before
}

create_of_user_folder_clashing_with_a_project_folder_fails() {
        _setup
        mkfolder --project p1 data
        snapshot before
        fails folder create data --user bob
        assert_unchanged before
}

create_of_user_folder_named_like_a_project_the_user_is_not_in_is_allowed() {
        _setup
        mkfolder --project p1 data
        mkfolder --user carol data
}

rename_to_a_name_the_owner_already_has_fails() {
        _setup
        mkfolder --user alice data
        mkfolder --user alice other
        snapshot before
        fails folder rename other data
        assert_unchanged before
}

rename_that_would_clash_for_a_grantee_fails() {
        local id
        _setup
        mkfolder --user alice shared; id=$FID
        mkfolder --user bob data
        ok folder share shared bob --permission ro
        snapshot before
        fails folder rename "$id" data
        assert_unchanged before
}

rename_that_would_clash_for_a_project_member_fails() {
        local id
        _setup
        mkfolder --project p1 team; id=$FID
        mkfolder --user bob data
        snapshot before
        fails folder rename "$id" data
        assert_unchanged before
}

rename_to_a_name_only_a_stranger_has_is_allowed() {
        local id
        _setup
        mkfolder --user alice data; id=$FID
        mkfolder --user carol other
        ok folder rename "$id" other
        ok --json folder info "$id"
        assert_jq '.name' '"other"'
}

share_that_would_clash_for_the_grantee_fails() {
        local id
        _setup
        mkfolder --user alice data; id=$FID
        mkfolder --user carol data
        snapshot before
        fails folder share "$id" carol --permission ro
        assert_unchanged before
}

project_member_add_that_would_clash_fails() {
        _setup
        mkfolder --project p1 data
        mkfolder --user carol data
        snapshot before
        fails project member add p1 carol
        assert_unchanged before
        ok --json folder list --user carol
        assert_jq 'map(.owner_type)' '["user"]'
}

project_member_add_of_existing_member_fails() {
        _setup
        snapshot before
        fails project member add p1 bob
        assert_unchanged before
}

ambiguous_name_without_user_fails_listing_both_uuids() {
        local a c
        _setup
        mkfolder --user alice data; a=$FID
        mkfolder --user carol data; c=$FID
        fails folder info data
        assert_contains "$a" "$ERR" "ambiguity error"
        assert_contains "$c" "$ERR" "ambiguity error"
}

ambiguous_name_refuses_changes_without_user() {
        _setup
        mkfolder --user alice data
        mkfolder --user carol data
        snapshot before
        fails folder delete data
        fails folder rename data x
        fails folder set data --permission ro
        assert_unchanged before
}

ambiguous_name_with_user_resolves_to_that_users_folder() {
        local a c
        _setup
        mkfolder --user alice data; a=$FID
        mkfolder --user carol data; c=$FID
        ok --json folder info data --user alice
        assert_jq '.id' "\"$a\""
        ok --json folder info data --user carol
        assert_jq '.id' "\"$c\""
}

uuid_reference_works_when_the_name_is_ambiguous() {
        local a c
        _setup
        mkfolder --user alice data; a=$FID
        mkfolder --user carol data; c=$FID
        ok folder rename "$c" carols
        ok --json folder info "$a"
        assert_jq '[.name, .owner]' '["data","alice"]'
        ok --json folder info carols
        assert_jq '.id' "\"$c\""
}

automount_folder_cannot_be_shared() {
        _setup
        mkfolder --user alice .local
        snapshot before
        fails folder share .local bob --permission ro
        assert_unchanged before
        ok --json folder list --user bob
        assert_jq 'map(.name)' '[]'
}

automount_folder_cannot_be_shared_by_uuid_either() {
        local id
        _setup
        mkfolder --user alice .linuxbrew; id=$FID
        snapshot before
        fails folder share "$id" carol --permission rw
        assert_unchanged before
}

run_tests clashes "$@"
