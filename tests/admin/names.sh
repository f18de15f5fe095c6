#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# names.sh - every folder name rule of SPEC section 4, through `folder create`
# and `folder rename`: each valid form is created with its backing directory,
# each invalid form fails with one error line and changes nothing (catalog
# dump and storage host tree compared before and after).
source "$(dirname "$0")/lib.sh"

_alice() {
        setup_catalog
        add_users alice
}

_setup() {
        fixture alice _alice
        fixture_snapshot before
}

# _accepts NAME: folder create NAME succeeds, is listed under that exact name
# and has its backing directory.
_accepts() {
        local id dir
        _setup
        mkfolder --user alice "$1"; id=$FID
        ok --json folder list
        assert_jq "map(select(.id == \"$id\") | .name)" "[\"$1\"]" "listed name"
        backing_dir "$id"; dir=$BACKING
        assert_dir "$dir"
}

# _refuses NAME: folder create NAME fails and nothing changes.
_refuses() {
        _setup
        fails folder create --user alice -- "$1"
        assert_unchanged before
}

create_accepts_single_letter_name() { _accepts a; }
create_accepts_letter_digit_name() { _accepts A1; }
create_accepts_name_starting_with_digit() { _accepts 9lives; }
create_accepts_dots_dashes_and_underscores_after_first_character() { _accepts x.y-z_w; }
create_accepts_name_of_64_characters() { _accepts "$(printf 'n%.0s' {1..64})"; }
create_accepts_dot_local_automount_name() { _accepts .local; }
create_accepts_dot_linuxbrew_automount_name() { _accepts .linuxbrew; }
create_accepts_dot_profile_which_is_not_reserved() { _accepts .profile; }
create_accepts_dot_config_which_is_not_reserved() { _accepts .config; }
create_accepts_double_dot_inside_name() { _accepts x..y; }

create_refuses_empty_name() {
        _setup
        # An empty operand is a bad value: exit 1 or a usage error, never a folder.
        refused folder create --user alice -- ""
        assert_unchanged before
}
create_refuses_name_of_65_characters() { _refuses "$(printf 'n%.0s' {1..65})"; }
create_refuses_name_with_space() { _refuses "my data"; }
create_refuses_name_with_slash() { _refuses "a/b"; }
create_refuses_name_that_is_a_path_escape() { _refuses "../x"; }
create_refuses_name_with_leading_dash() { _refuses "-a"; }
create_refuses_name_with_leading_underscore() { _refuses "_a"; }
create_refuses_name_with_double_leading_dot() { _refuses "..x"; }
create_refuses_single_dot() { _refuses "."; }
create_refuses_double_dot() { _refuses ".."; }
create_refuses_reserved_dot_ssh() { _refuses .ssh; }
create_refuses_reserved_dot_jupyter() { _refuses .jupyter; }
create_refuses_reserved_dot_terminfo() { _refuses .terminfo; }
create_refuses_reserved_dot_tmux_conf() { _refuses .tmux.conf; }
create_refuses_rc_file_dot_bashrc() { _refuses .bashrc; }
create_refuses_rc_file_dot_zshrc() { _refuses .zshrc; }
create_refuses_rc_file_dot_vimrc() { _refuses .vimrc; }
create_refuses_profile_file_dot_bash_profile() { _refuses .bash_profile; }
create_refuses_non_ascii_name() { _refuses "café"; }
create_refuses_name_with_asterisk() { _refuses "a*b"; }
create_refuses_name_with_newline() { _refuses $'a\nb'; }
create_refuses_name_with_colon() { _refuses "a:b"; }

rename_refuses_reserved_name_and_keeps_old_one() {
        local id
        fixture alice _alice
        mkfolder --user alice data; id=$FID
        snapshot before
        fails folder rename data .ssh
        fails folder rename data .bashrc
        fails folder rename data "a/b"
        fails folder rename data "$(printf 'n%.0s' {1..65})"
        fails folder rename data ..
        assert_unchanged before
        ok --json folder info "$id"
        assert_jq '.name' '"data"'
}

rename_accepts_valid_name_and_moves_no_data() {
        local id dir
        fixture alice _alice
        mkfolder --user alice data; id=$FID
        backing_dir "$id"; dir=$BACKING
        echo kept >"$dir/file"
        ok folder rename data x.y-z_w
        ok --json folder info "$id"
        assert_jq '.name' '"x.y-z_w"'
        backing_dir "$id"
        assert_eq "$dir" "$BACKING" "backing path after rename"
        assert_file_content "$dir/file" kept
        assert_eq 1 "$(find "$ROOT" -type f | wc -l)" "files on the host"
}

user_add_refuses_invalid_user_names() {
        fixture alice _alice
        fixture_snapshot before
        fails user add "a b"
        fails user add "../x"
        fails user add .hidden
        fails user add "$(printf 'u%.0s' {1..65})"
        assert_unchanged before
}

host_add_refuses_invalid_host_names() {
        fixture alice _alice
        mkdir "$T/other"
        snapshot before
        fails host add "a/b" "$T/other"
        fails host add .h "$T/other"
        fails host add "a b" "$T/other"
        assert_unchanged before
}

project_add_refuses_invalid_project_names() {
        fixture alice _alice
        fixture_snapshot before
        fails project add "p/q"
        fails project add "_p"
        refused project add ""
        assert_unchanged before
}

run_tests names "$@"
