#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# output.sh - the output contract of SPEC section 6: --json lists are arrays
# with exactly the SPEC field names, create commands print the created object,
# tables have a header and aligned columns, errors are one line
# "vfolderfs-admin: <what>: <why>" with exit 1, usage errors exit 2 with the
# --help hint, --help works on every command and subcommand, --version.
source "$(dirname "$0")/lib.sh"

_people() {
        setup_catalog
        add_users alice bob
        ok project add p1
        ok project member add p1 bob
}

_setup() { fixture people _people; }

# ---------------------------------------------------------------------------
# JSON.

folder_list_json_is_an_array_with_exactly_the_spec_fields() {
        _setup
        mkfolder --user alice data
        mkfolder --project p1 team
        ok --json folder list
        assert_jq 'type' '"array"'
        assert_jq 'map(keys)' "[$FOLDER_KEYS,$FOLDER_KEYS]"
        assert_jq "map($FOLDER_TYPES) | all" true "field types"
        ok --json folder list --user bob
        assert_jq 'map(keys)' "[$FOLDER_KEYS]"
}

folder_create_json_prints_the_created_object() {
        local id
        _setup
        ok --json folder create data --user alice
        assert_jq 'type' '"object"'
        assert_jq 'keys' "$FOLDER_KEYS"
        assert_jq "$FOLDER_TYPES" true "field types"
        assert_jq '[.name, .host, .owner_type, .owner, .usage_mode, .permission, .cloneable, .status]' \
                '["data","local","user","alice","general","wd",false,"ready"]'
        assert_jq '.quota_bytes == null or .quota_bytes == 0' 'true' "quota of a folder without one"
        jqo .id; id=$JQ
        assert_match "$UUID_RE" "$id" "folder id"
        assert_eq "$id" "$(sql "SELECT id FROM folders WHERE name = 'data'")" "id in the catalog"
}

folder_create_json_reflects_every_option() {
        _setup
        mkdir "$T/nfs"
        ok host add nfs1 "$T/nfs"
        ok --json folder create m --project p1 --host nfs1 --usage-mode model --permission ro --quota 10M --cloneable
        assert_jq '[.host, .owner_type, .owner, .usage_mode, .permission, .cloneable, .quota_bytes]' \
                '["nfs1","project","p1","model","ro",true,10485760]'
        ok --json folder create d --user alice --usage-mode data --quota 1.5G
        assert_jq '[.usage_mode, .quota_bytes]' '["data",1610612736]'
}

folder_info_json_is_one_object_with_the_folder_fields() {
        local id
        _setup
        mkfolder --user alice data; id=$FID
        ok --json folder info "$id"
        assert_jq 'type' '"object"'
        assert_jq 'keys' "$FOLDER_INFO_KEYS" "folder fields and the documented backing_path"
        assert_jq "$FOLDER_TYPES" true "field types"
        assert_jq '[.id, .name]' "[\"$id\",\"data\"]"
        backing_dir "$id"
        assert_jq '.backing_path' "\"$BACKING\"" "backing_path is the SPEC layout path"
}

folder_times_are_set() {
        _setup
        ok --json folder create data --user alice
        assert_jq '[.created_at, .updated_at] | map(. != null and . != "" and . != 0)' '[true,true]'
}

host_list_json_has_exactly_name_and_root() {
        _setup
        ok --json host list
        assert_jq 'map(keys)' "[$HOST_KEYS]"
        assert_jq "map($HOST_TYPES) | all" true "field types"
        assert_jq 'map([.name, .root])' "[[\"local\",\"$ROOT\"]]"
}

user_list_json_has_the_spec_fields_and_id_and_default_ids() {
        _setup
        ok user add carol --uid 2000 --gid 3000
        ok --json user list
        assert_jq 'map(keys) | unique' "[$USER_KEYS]"
        assert_jq "map($USER_TYPES) | all" true "field types"
        assert_jq 'map([.name, .uid, .gid]) | sort' '[["alice",1000,1000],["bob",1000,1000],["carol",2000,3000]]'
}

add_commands_print_the_created_object_with_json() {
        _setup
        ok --json user add carol --uid 1234
        assert_jq '[.name, .uid, .gid]' '["carol",1234,1000]'
        mkdir "$T/nfs"
        ok --json host add nfs1 "$T/nfs"
        assert_jq '[.name, .root]' "[\"nfs1\",\"$T/nfs\"]"
        ok --json project add p2
        assert_jq '.name' '"p2"'
}

project_list_json_lists_projects() {
        _setup
        ok project add p2
        ok --json project list
        assert_jq 'map(.name) | sort' '["p1","p2"]'
}

session_list_json_has_exactly_the_spec_fields() {
        local sid
        _setup
        mkfolder --user alice data
        ok session create --user alice --mount data
        sid=$OUT
        ok --json session list
        assert_jq 'map(keys)' "[$SESSION_KEYS]"
        assert_jq "map($SESSION_TYPES) | all" true "field types"
        assert_jq 'map([.id, .user])' "[[\"$sid\",\"alice\"]]"
        start_session "$sid"
        ok --json session list
        assert_jq 'map([.pid, .hostname])' "[[$$,\"$HOSTNAME_NOW\"]]"
}

mount_list_json_has_exactly_the_spec_fields() {
        local sid id
        _setup
        mkfolder --user alice data; id=$FID
        ok session create --user alice --mount data:/workspace:rw
        sid=$OUT
        ok --json mount list
        assert_jq 'map(keys)' "[$MOUNT_KEYS]"
        assert_jq "map($MOUNT_TYPES) | all" true "field types"
        assert_jq 'map([.session, .folder, .name, .target, .permission])' "[[\"$sid\",\"$id\",\"data\",\"/workspace\",\"rw\"]]"
}

json_strings_are_escaped_exactly() {
        local weird=$T/we\"ird\\dir$'\n'x
        _setup
        mkdir "$weird"
        ok host add odd "$weird"
        ok --json host list
        jqo '.[] | select(.name == "odd") | .root'
        assert_eq "$weird" "$JQ" "root read back from JSON"
}

project_folder_lives_under_the_project_scope() {
        local id
        _setup
        mkfolder --project p1 team
        id=$FID
        backing_dir "$id"
        assert_match "^$ROOT/project-$(project_id p1)/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{28}\$" "$BACKING" "layout"
        assert_dir "$BACKING"
}

user_folder_lives_under_the_user_scope() {
        local id hex
        _setup
        mkfolder --user alice data
        id=$FID
        hex=${id//-/}
        assert_dir "$ROOT/user-$(user_id alice)/${hex:0:2}/${hex:2:2}/${hex:4}"
}

default_host_is_the_only_host() {
        mkdir "$ROOT/nfs"
        ok init
        ok host add nfs1 "$ROOT/nfs"
        ok user add alice
        ok --json folder create data --user alice
        assert_jq '.host' '"nfs1"'
}

default_host_among_several_without_local_is_an_error() {
        mkdir "$ROOT/a" "$ROOT/b"
        ok init
        ok host add nfs1 "$ROOT/a"
        ok host add nfs2 "$ROOT/b"
        ok user add alice
        snapshot before
        fails folder create data --user alice
        assert_unchanged before
}

empty_lists_are_empty_json_arrays() {
        _setup
        ok --json folder list
        assert_jq '.' '[]'
        ok --json session list --all
        assert_jq '.' '[]'
        ok --json mount list
        assert_jq '.' '[]'
}

# ---------------------------------------------------------------------------
# Tables.

folder_list_table_has_a_header_and_aligned_columns() {
        local a b
        _setup
        mkfolder --user alice a; a=$FID
        mkfolder --user alice a-much-longer-folder-name; b=$FID
        ok folder list
        assert_eq 3 "$(wc -l <"$T/.out")" "header plus two rows"
        local header col line
        header=$(head -1 "$T/.out")
        assert_match '(^|[[:space:]])(NAME|name|Name)([[:space:]]|$)' "$header" "header row"
        # The ID column starts at the same offset in the header and each row.
        col=$(awk 'NR == 1 {
                s = $0; off = 0
                while (match(s, /[^ ]+/)) {
                        if (toupper(substr(s, RSTART, RLENGTH)) == "ID") { print off + RSTART; exit }
                        off += RSTART + RLENGTH - 1; s = substr(s, RSTART + RLENGTH)
                } }' "$T/.out")
        [[ -n $col ]] || fail "no ID column in the header" "a column named ID" "$header"
        for line in 2 3; do
                local row pos
                row=$(sed -n "${line}p" "$T/.out")
                pos=$(awk -v a="$a" -v b="$b" '{ p = index($0, a); if (!p) p = index($0, b); print p }' <<<"$row")
                assert_eq "$col" "$pos" "column of the id in row $line"
        done
}

folder_list_table_shows_every_field_spec_names() {
        local id row want
        _setup
        mkfolder --project p1 data --usage-mode model --permission rw; id=$FID
        ok folder list --user bob
        row=$(sed -n 2p "$T/.out")
        # SPEC: name, id, host, usage mode, permission, owner, status.
        for want in data "$id" local model rw p1 ready; do
                [[ " $row " =~ [[:space:]]${want}[[:space:]] ]] || fail "table row lacks a field" "$want" "$row"
        done
}

empty_table_prints_only_the_header() {
        _setup
        ok session list
        assert_eq 1 "$(wc -l <"$T/.out")" "lines of an empty table"
        assert_match '[A-Za-z]' "$OUT" "header"
}

folder_create_without_json_prints_a_table_with_the_folder() {
        local id
        _setup
        ok folder create data --user alice
        id=$(sql "SELECT id FROM folders WHERE name = 'data'")
        assert_contains "$id" "$OUT"
        assert_eq 2 "$(wc -l <"$T/.out")" "header plus one row"
}

session_create_without_json_prints_only_the_id() {
        _setup
        mkfolder --user alice data
        ok session create --user alice --mount data
        assert_match "$UUID_RE" "$OUT"
}

# ---------------------------------------------------------------------------
# Errors.

error_is_one_line_with_quoted_subject_and_exit_1() {
        _setup
        fails folder info nosuch
        assert_contains "'nosuch'" "$ERR" "subject in single quotes"
        assert_match '^vfolderfs-admin: [a-z]' "$ERR" "lowercase message"
}

errors_of_several_commands_share_the_shape() {
        _setup
        fails folder create x --user nobody
        fails host add local "$ROOT"
        fails user add alice
        fails project member add p1 nobody
        fails session end "$(cat /proc/sys/kernel/random/uuid)"
        fails files ls nosuch
}

# _usage_error ARGS...: exit 2, hint, nothing on stdout, nothing changed.
_usage_error() {
        snapshot before
        usage_fails "$@"
        assert_eq "" "$OUT" "stdout of a usage error"
        assert_unchanged before
}

no_command_is_a_usage_error() { _setup; _usage_error; }
unknown_command_is_a_usage_error() { _setup; _usage_error frobnicate; }
unknown_subcommand_is_a_usage_error() { _setup; _usage_error folder bogus; }
group_without_subcommand_is_a_usage_error() { _setup; _usage_error folder; }
unknown_option_is_a_usage_error() { _setup; _usage_error folder list --bogus; }
missing_argument_is_a_usage_error() { _setup; _usage_error folder create; }
missing_owner_is_a_usage_error() { _setup; _usage_error folder create x; }
both_owners_is_a_usage_error() { _setup; _usage_error folder create x --user alice --project p1; }
extra_argument_is_a_usage_error() {
        _setup
        mkfolder --user alice a
        _usage_error folder rename a b c
}
missing_option_value_is_a_usage_error() { _setup; _usage_error folder create x --user; }
session_end_without_id_is_a_usage_error() { _setup; _usage_error session end; }
share_without_permission_is_a_usage_error() {
        _setup
        mkfolder --user alice a
        _usage_error folder share a bob
}

# ---------------------------------------------------------------------------
# --help and --version (no catalog needed).

help_of_every_command_and_subcommand_goes_to_stdout_with_exit_0() {
        local cmd
        local cmds=("" init host "host add" "host list" user "user add" "user list"
                project "project add" "project list" "project member"
                "project member add" "project member remove"
                folder "folder create" "folder list" "folder info" "folder rename"
                "folder set" "folder delete" "folder restore" "folder purge"
                "folder clone" "folder share" "folder unshare"
                session "session create" "session list" "session end"
                mount "mount list"
                files "files ls" "files mkdir" "files put" "files get" "files rm" "files mv"
                usage fsck)
        for cmd in "${cmds[@]}"; do
                # shellcheck disable=SC2086 # split the command words
                adm_raw --catalog "$T/none/cat.db" $cmd --help
                [[ $RC -eq 0 ]] || fail "--help failed" "exit 0" "exit $RC: $ERR"
                [[ -n $OUT ]] || fail "--help printed nothing on stdout" "text" "(nothing)"
                [[ -z $ERR ]] || fail "--help wrote to stderr" "(nothing)" "$ERR"
                assert_contains "vfolderfs-admin(8)" "${OUT##*$'\n'}" "last line of '$cmd --help'"
        done
        assert_absent "$T/none"
}

help_of_a_subcommand_describes_that_subcommand() {
        adm_raw folder create --help
        assert_contains "--permission" "$OUT"
        assert_contains "--quota" "$OUT"
        adm_raw files put --help
        assert_contains "LOCAL" "$OUT"
}

version_prints_the_version_with_exit_0() {
        adm_raw --version
        assert_eq 0 "$RC" "exit status"
        assert_match '[0-9]+\.[0-9]+\.[0-9]+' "$OUT" "version"
        assert_eq "" "$ERR" "stderr"
}

# ---------------------------------------------------------------------------
# The catalog option.

catalog_defaults_to_the_environment_variable() {
        _setup
        mkfolder --user alice data
        VFOLDERFS_CATALOG=$CAT adm_raw --json folder list
        assert_eq 0 "$RC" "exit status"
        assert_jq 'map(.name)' '["data"]'
}

commands_other_than_init_do_not_create_a_missing_catalog() {
        fails folder list
        assert_absent "$CAT"
        fails user add alice
        assert_absent "$CAT"
}

init_on_an_existing_catalog_keeps_it() {
        _setup
        mkfolder --user alice data
        snapshot before
        ok init
        assert_unchanged before
}

run_tests output "$@"
