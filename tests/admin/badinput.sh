#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# badinput.sh - "a bad input gets a clear error and changes nothing" (SPEC
# section 7): unknown user, host, project; a host root that is missing or not
# a directory; invalid quota, permission, usage mode; duplicate names; a
# catalog that is not SQLite, not a catalog, or of a newer schema; a
# read-only catalog (a read-only bind mount inside `unshare -m`, since file
# modes do not stop root).  Each compares the catalog dump and the storage
# host tree before and after.
source "$(dirname "$0")/lib.sh"

_people() {
        setup_catalog
        add_users alice bob
        ok project add p1
        mkfolder --user alice data
}

_setup() {
        fixture people _people
        fixture_snapshot before
}

create_for_unknown_user_changes_nothing() {
        _setup
        fails folder create x --user nobody
        assert_unchanged before
}

create_for_unknown_project_changes_nothing() {
        _setup
        fails folder create x --project nope
        assert_unchanged before
}

create_on_unknown_host_changes_nothing() {
        _setup
        fails folder create x --user alice --host nfs9
        assert_unchanged before
}

create_whose_backing_directory_cannot_be_made_records_nothing() {
        _setup
        # A file where bob's scope directory would go: mkdir fails (ENOTDIR).
        echo blocker >"$ROOT/user-$(user_id bob)"
        snapshot before
        fails folder create x --user bob
        assert_unchanged before
        assert_file_content "$ROOT/user-$(user_id bob)" blocker
}

host_add_with_missing_root_changes_nothing() {
        _setup
        fails host add nfs1 "$T/no/such/dir"
        assert_unchanged before
        assert_absent "$T/no"
}

host_add_with_root_that_is_a_file_changes_nothing() {
        _setup
        touch "$T/file"
        fails host add nfs1 "$T/file"
        assert_unchanged before
}

host_add_with_relative_root_changes_nothing() {
        _setup
        mkdir "$T/rel"
        fails host add nfs1 rel
        assert_unchanged before
}

duplicate_host_user_and_project_names_change_nothing() {
        _setup
        mkdir "$T/other"
        fails host add local "$T/other"
        fails user add alice
        fails user add bob --uid 5
        fails project add p1
        assert_unchanged before
}

_bad_quota() { # VALUE
        refused folder create x --user alice --quota "$1"
        refused folder set data --quota "$1"
        assert_unchanged before
}

quota_with_unknown_suffix_is_refused() { _setup; _bad_quota 12X; }
negative_quota_is_refused() { _setup; _bad_quota -5; }
empty_quota_is_refused() { _setup; _bad_quota ""; }
quota_with_garbage_after_number_is_refused() { _setup; _bad_quota 10Mx; }
overflowing_quota_is_refused() { _setup; _bad_quota 99999999999P; }
# A quota of nothing is not a quota; `folder set --quota none` removes one.
zero_quota_is_refused() { _setup; _bad_quota 0; }

valid_quota_sizes_are_stored_in_bytes() {
        _setup
        ok --json folder create q1 --user alice --quota 1048576
        assert_jq '.quota_bytes' 1048576
        ok --json folder create q2 --user alice --quota 512K
        assert_jq '.quota_bytes' 524288
        ok --json folder create q3 --user alice --quota 2GiB
        assert_jq '.quota_bytes' 2147483648
        ok folder set q1 --quota 3T
        ok --json folder info q1
        assert_jq '.quota_bytes' 3298534883328
}

invalid_permission_is_refused_everywhere() {
        _setup
        refused folder create x --user alice --permission rx
        refused folder create x --user alice --permission RW
        refused folder set data --permission admin
        refused folder set data --permission ""
        refused folder share data bob --permission none
        refused folder share data bob --permission w
        assert_unchanged before
}

invalid_usage_mode_is_refused() {
        _setup
        refused folder create x --user alice --usage-mode scratch
        assert_unchanged before
}

invalid_cloneable_value_is_refused() {
        _setup
        refused folder set data --cloneable maybe
        assert_unchanged before
}

invalid_uid_is_refused() {
        _setup
        refused user add carol --uid abc
        refused user add carol --gid -1
        refused user add carol --uid 4294967296
        assert_unchanged before
}

share_with_unknown_user_changes_nothing() {
        _setup
        fails folder share data nobody --permission ro
        assert_unchanged before
}

member_add_of_unknown_user_or_project_changes_nothing() {
        _setup
        fails project member add p1 nobody
        fails project member add nope alice
        fails project member remove p1 alice
        assert_unchanged before
}

clone_of_unknown_folder_changes_nothing() {
        _setup
        fails folder clone nosuch copy --user alice
        fails folder clone data copy --user nobody
        assert_unchanged before
}

# ---------------------------------------------------------------------------
# Broken catalogs.

catalog_that_is_not_sqlite_is_an_error_and_stays_unchanged() {
        local sum
        head -c 8192 /dev/urandom >"$CAT"
        sum=$(sha256sum <"$CAT")
        fails folder list
        fails init
        fails user add alice
        assert_eq "$sum" "$(sha256sum <"$CAT")" "catalog bytes"
        assert_absent "$CAT-wal"
}

text_file_as_catalog_is_an_error_and_stays_unchanged() {
        local sum
        printf 'not a database\n' >"$CAT"
        sum=$(sha256sum <"$CAT")
        fails folder list
        fails init
        assert_eq "$sum" "$(sha256sum <"$CAT")" "catalog bytes"
}

sqlite_database_that_is_not_a_catalog_is_an_error_and_stays_unchanged() {
        local sum
        sqlite3 "$CAT" "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine');"
        sum=$(sha256sum <"$CAT")
        snapshot before
        fails folder list
        fails init
        fails user add alice
        assert_unchanged before
        # Not even its journal mode may change: it is someone else's database.
        assert_eq "$sum" "$(sha256sum <"$CAT")" "database bytes"
        assert_absent "$CAT-wal"
}

catalog_of_a_newer_schema_is_an_error_and_stays_unchanged() {
        setup_catalog
        add_users alice
        sql "PRAGMA user_version = 999"
        snapshot before
        fails folder list
        fails user add bob
        assert_unchanged before
}

# _read_only ARGS...: run the tool on $CAT with the catalog's directory
# bind-mounted read-only in a private mount namespace; sets RC, OUT, ERR.
_read_only() {
        local d=${CAT%/*} rc
        T=$T unshare -m bash -c '
                set -u
                mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99
                shift
                timeout 30 "$@" >"$T/.out" 2>"$T/.err"
        ' ro "$d" "$ADMIN" --catalog "$CAT" "$@"
        rc=$?
        [[ $rc -ne 99 ]] || fail "cannot make a read-only bind mount"
        # shellcheck disable=SC2034 # read by _check_error_shape and fail
        RC=$rc OUT=$(<"$T/.out") ERR=$(<"$T/.err")
        printf -v LAST_CMD ' %q' "$@"
        LAST_CMD="(read-only catalog) vfolderfs-admin$LAST_CMD"
}

_read_only_setup() {
        mkdir "$T/cat"
        CAT=$T/cat/cat.db
        _setup
        # A clean checkpoint so the file alone holds the catalog.
        sql "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
}

read_only_catalog_is_a_clear_error_and_changes_nothing() {
        _read_only_setup
        _read_only folder create new --user alice
        _check_error_shape
        assert_match '[Rr]ead-only' "$ERR" "the error says why"
        _read_only user add carol
        _check_error_shape
        assert_unchanged before
}

read_only_catalog_can_still_be_read() {
        _read_only_setup
        _read_only --json folder list
        assert_eq 0 "$RC" "exit status of a read on a read-only catalog"
        assert_jq 'map(.name)' '["data"]'
}

run_tests badinput "$@"
