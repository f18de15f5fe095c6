#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# usage.sh - `usage REF` (bytes of regular files and their count, symlinks not
# followed) and `fsck [--repair]`: a missing backing directory is reported and
# recreated with --repair, an orphan directory in the backing layout is
# reported and never deleted, a stale session of this host is ended.
# Field names of usage and fsck JSON are not in SPEC; they follow
# /work/notes/admin-decisions.md (usage: bytes, files; fsck: kind, subject,
# detail, repaired).
source "$(dirname "$0")/lib.sh"

_data() {
        setup_catalog
        add_users alice
        mkfolder --user alice data; ID=$FID
        backing_dir "$ID"; DIR=$BACKING
}

_setup() { fixture data _data ID DIR; }

_usage() { # REF: "bytes files"
        ok --json usage "$1"
        jqo '"\(.bytes) \(.files)"'
}

usage_of_an_empty_folder_is_zero() {
        _setup
        _usage data
        assert_eq "0 0" "$JQ"
}

usage_counts_bytes_and_files_put_in_the_folder() {
        _setup
        head -c 1000 /dev/zero >"$T/a"
        head -c 2345 /dev/zero >"$T/b"
        head -c 7 /dev/zero >"$T/c"
        ok files put data "$T/a"
        ok files put data "$T/b"
        ok files put data "$T/c"
        _usage data
        assert_eq "3352 3" "$JQ"
        ok usage data
        assert_contains 3352 "$OUT" "usage table"
}

usage_counts_files_in_subdirectories() {
        _setup
        mkdir -p "$DIR/x/y"
        head -c 100 /dev/zero >"$DIR/x/y/f"
        head -c 20 /dev/zero >"$DIR/x/g"
        ok --json usage data
        assert_jq '.bytes' 120
}

usage_does_not_follow_symlinks_out_of_the_folder() {
        _setup
        head -c 1048576 /dev/zero >"$T/big"
        ln -s "$T/big" "$DIR/link"
        ln -s / "$DIR/root"
        head -c 10 /dev/zero >"$DIR/f"
        ok --json usage data
        assert_jq '.bytes' 10
}

usage_never_counts_what_a_swapped_backing_symlink_points_to() {
        _setup
        mkdir "$T/outside"
        head -c 4096 /dev/zero >"$T/outside/big"
        rmdir "$DIR"
        ln -s "$T/outside" "$DIR"
        adm --json usage data
        if [[ $RC -eq 0 ]]; then
                assert_jq '.bytes' 0 "bytes counted through the swapped backing path"
        else
                _check_error_shape
        fi
}

usage_of_unknown_folder_fails() {
        _setup
        fails usage nosuch
}

fsck_of_a_consistent_catalog_reports_nothing() {
        _setup
        ok --json fsck
        assert_jq '.' '[]'
}

fsck_reports_a_missing_backing_directory_and_repair_recreates_it() {
        _setup
        rmdir "$DIR"
        adm --json fsck
        assert_eq 1 "$RC" "exit status with an unrepaired issue"
        assert_jq "map(select(.subject == \"$ID\") | [(.kind | test(\"missing\")), .repaired])" '[[true,false]]'
        assert_absent "$DIR"
        ok --json fsck --repair
        assert_jq "map(select(.subject == \"$ID\") | .repaired)" '[true]'
        assert_dir "$DIR"
        ok --json fsck
        assert_jq '.' '[]'
}

fsck_reports_an_orphan_directory_and_never_deletes_it() {
        local orphan
        _setup
        orphan="$ROOT/user-$(user_id alice)/ab/cd/0123456789abcdef0123456789ab"
        mkdir -p "$orphan"
        echo precious >"$orphan/f"
        adm --json fsck
        assert_eq 1 "$RC" "exit status with an orphan"
        assert_jq "map(select(.subject | contains(\"0123456789abcdef0123456789ab\")) | [(.kind | test(\"orphan\")), .repaired])" '[[true,false]]'
        adm --json fsck --repair
        assert_eq 1 "$RC" "exit status: an orphan is never repaired"
        assert_file_content "$orphan/f" precious
        assert_dir "$DIR"
}

fsck_ends_a_stale_session_of_this_host() {
        local sid
        _setup
        ok session create --user alice --mount data
        sid=$OUT
        start_session "$sid" "$(dead_pid)"
        adm --json fsck --repair
        assert_eq 0 "$RC" "exit status once the stale session is ended"
        assert_jq "map(select(.subject == \"$sid\") | [(.kind | test(\"stale\")), .repaired])" '[[true,true]]'
        assert_absent "$T/scratch/$sid"
        ok --json session list --all
        assert_jq "map(select(.id == \"$sid\") | .ended_at != null)" '[true]'
}

fsck_leaves_a_live_session_alone() {
        local sid
        _setup
        ok session create --user alice --mount data
        sid=$OUT
        start_session "$sid" $$
        ok --json fsck --repair
        assert_jq '.' '[]'
        ok --json session list
        assert_jq 'map(.id)' "[\"$sid\"]"
}

fsck_never_touches_folder_data() {
        _setup
        echo keep >"$DIR/f"
        ok fsck --repair
        assert_file_content "$DIR/f" keep
}

run_tests usage "$@"
