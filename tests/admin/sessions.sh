#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sessions.sh - `session create/list/end` and `mount list` (SPEC sections 3,
# 5, 6): --mount REF[:TARGET][:PERM] forms, the permission ceiling, every
# alias rule (each refusal records nothing), listing and ending sessions, and
# the reaping of a session whose daemon pid is gone on this host.  Started
# sessions are simulated by filling in what the daemon records
# (start_session in lib.sh).
source "$(dirname "$0")/lib.sh"

# alice owns "data" ($DATA) and "other" ($OTHER), both wd, and sees bob's
# "shared" read-only.
_folders() {
        setup_catalog
        add_users alice bob
        mkfolder --user alice data; DATA=$FID
        mkfolder --user alice other; OTHER=$FID
        mkfolder --user bob shared
        ok folder share shared alice --permission ro
}

_setup() {
        fixture folders _folders DATA OTHER
        fixture_snapshot before
}

# _create MOUNT...: session create --user alice --mount each; $SID.
_create() {
        local args=() m
        for m in "$@"; do
                args+=(--mount "$m")
        done
        ok session create --user alice "${args[@]}"
        SID=$OUT
}

# _mounts SID: "target permission name" per mount of the session, sorted.
_mounts() {
        ok --json mount list --session "$1"
        jqo 'map("\(.target) \(.permission) \(.name)") | sort | join(",")'
}

# _refuses MOUNT...: session create fails and records nothing.
# (_refuses_value: the --mount value itself is malformed, which may be an
# error or a usage error, see `refused` in lib.sh.)
_refuses() { _refuses_with fails "$@"; }
_refuses_value() { _refuses_with refused "$@"; }
_refuses_with() {
        local how=$1 args=() m
        shift
        for m in "$@"; do
                args+=(--mount "$m")
        done
        "$how" session create --user alice "${args[@]}"
        assert_unchanged before # the dump includes the sessions and mounts tables
}

session_create_prints_the_bare_session_id() {
        _setup
        ok session create --user alice --mount data
        assert_match "$UUID_RE" "$OUT" "stdout of session create"
        assert_eq 1 "$(wc -l <"$T/.out")" "lines on stdout"
        assert_eq 1 "$(sql "SELECT count(*) FROM sessions WHERE id = '$OUT'")" "recorded sessions"
}

session_create_json_prints_the_session_object() {
        _setup
        ok --json session create --user alice --mount data
        assert_jq 'keys' "$SESSION_KEYS"
        assert_jq "$SESSION_TYPES" true "field types"
        assert_jq '[.user, .ended_at]' '["alice",null]'
        jqo .id
        assert_match "$UUID_RE" "$JQ" "session id"
}

session_create_without_mounts_is_allowed() {
        _setup
        _create
        _mounts "$SID"
        assert_eq "" "$JQ" "mounts of a session with none requested"
}

mount_without_alias_or_perm_gets_default_target_and_effective_permission() {
        _setup
        _create data shared
        _mounts "$SID"
        assert_eq "/home/work/data wd data,/home/work/shared ro shared" "$JQ"
}

mount_with_relative_alias_goes_under_home() {
        _setup
        _create data:a/b
        _mounts "$SID"
        assert_eq "/home/work/a/b wd data" "$JQ"
}

mount_with_absolute_alias_goes_there() {
        _setup
        _create data:/workspace
        _mounts "$SID"
        assert_eq "/workspace wd data" "$JQ"
}

mount_with_permission_only_keeps_default_target() {
        _setup
        _create data:ro
        _mounts "$SID"
        assert_eq "/home/work/data ro data" "$JQ"
}

mount_with_alias_and_permission() {
        _setup
        _create data:/workspace:rw
        _mounts "$SID"
        assert_eq "/workspace rw data" "$JQ"
}

mount_by_uuid_reference() {
        _setup
        _create "$DATA:/workspace:ro"
        _mounts "$SID"
        assert_eq "/workspace ro data" "$JQ"
}

mount_asking_equal_to_effective_permission_is_allowed() {
        _setup
        _create shared:ro
        _mounts "$SID"
        assert_eq "/home/work/shared ro shared" "$JQ"
}

mount_asking_rw_on_read_only_grant_fails_and_records_nothing() { _setup; _refuses shared:rw; }
mount_asking_wd_on_read_only_grant_fails_and_records_nothing() { _setup; _refuses shared:/w:wd; }
mount_asking_wd_on_rw_folder_fails() {
        _setup
        ok folder set data --permission rw
        snapshot before
        _refuses data:wd
}
one_bad_mount_records_none_of_the_others() { _setup; _refuses data other:/x shared:rw; }
mount_of_unknown_folder_fails() { _setup; _refuses nosuch; }
mount_of_trashed_folder_fails() {
        _setup
        ok folder delete other
        snapshot before
        _refuses other
}
session_create_for_unknown_user_fails() {
        _setup
        fails session create --user nobody
        assert_unchanged before
}

alias_empty_is_refused() { _setup; _refuses_value data:; }
alias_empty_with_permission_is_refused() { _setup; _refuses_value data::ro; }
alias_with_dotdot_component_is_refused() { _setup; _refuses data:a/../b; }
alias_absolute_with_dotdot_component_is_refused() { _setup; _refuses data:/workspace/../etc; }
alias_leading_dotdot_is_refused() { _setup; _refuses data:../x; }
alias_home_work_itself_is_refused() { _setup; _refuses data:/home/work; }
alias_home_work_with_trailing_slash_is_refused() { _setup; _refuses data:/home/work/; }
alias_dot_is_home_work_and_is_refused() { _setup; _refuses data:.; }
alias_dot_ssh_is_refused() { _setup; _refuses data:.ssh; }
alias_absolute_dot_ssh_under_home_is_refused() { _setup; _refuses data:/home/work/.ssh; }
alias_inside_dot_ssh_is_refused() { _setup; _refuses data:.ssh/keys; }
alias_dot_jupyter_is_refused() { _setup; _refuses data:.jupyter; }
alias_dot_terminfo_is_refused() { _setup; _refuses data:.terminfo; }
alias_dot_tmux_conf_is_refused() { _setup; _refuses data:/home/work/.tmux.conf; }

alias_in_reserved_set_is_refused_for_each_reserved_target() {
        local t
        _setup
        for t in / /bin /boot /dev /etc /home /lib /lib64 /media /mnt /opt /proc \
                 /root /run /sbin /srv /sys /tmp /usr /var; do
                fails session create --user alice --mount "data:$t"
                fails session create --user alice --mount "other:$t/:ro"
        done
        assert_unchanged before
}

duplicate_targets_are_refused() { _setup; _refuses data:/workspace other:/workspace; }
duplicate_targets_after_normalisation_are_refused() { _setup; _refuses data:/workspace other://workspace/./; }
target_nested_in_another_target_is_refused() { _setup; _refuses data:/workspace other:/workspace/sub; }
target_nested_in_a_default_target_is_refused() { _setup; _refuses data other:data/sub; }
alias_equal_to_another_folders_default_target_is_refused() { _setup; _refuses data:other; }
alias_absolute_equal_to_another_folders_default_target_is_refused() { _setup; _refuses data:/home/work/shared; }

linuxbrew_folder_defaults_to_home_linuxbrew() {
        _setup
        mkfolder --user alice .linuxbrew
        mkfolder --user alice .local
        _create .linuxbrew .local
        _mounts "$SID"
        assert_eq "/home/linuxbrew/.linuxbrew wd .linuxbrew,/home/work/.local wd .local" "$JQ"
}

session_list_shows_live_sessions() {
        local s1 s2
        _setup
        _create data
        s1=$SID
        _create other
        s2=$SID
        ok --json session list
        assert_jq 'map(.id) | sort' "$(jq -cn --arg a "$s1" --arg b "$s2" '[$a, $b] | sort')"
        assert_jq 'map(.user) | unique' '["alice"]'
        ok session list
        assert_contains "$s1" "$OUT"
        assert_contains "$s2" "$OUT"
}

session_end_ends_the_session() {
        _setup
        _create data
        ok session end "$SID"
        ok --json session list
        assert_jq 'length' '0'
        ok --json session list --all
        assert_jq "map(select(.id == \"$SID\") | .ended_at != null)" '[true]'
        ok --json mount list
        assert_jq 'length' '0' "mounts of ended sessions"
}

session_end_of_ended_session_fails() {
        _setup
        _create data
        ok session end "$SID"
        snapshot ended
        fails session end "$SID"
        assert_unchanged ended
}

session_end_of_unknown_session_fails() {
        _setup
        fails session end "$(cat /proc/sys/kernel/random/uuid)"
        fails session end not-a-uuid
        assert_unchanged before
}

session_end_keeps_folder_data() {
        _setup
        backing_dir "$DATA"
        echo keep >"$BACKING/f"
        _create data
        start_session "$SID" "$(dead_pid)"
        ok session end "$SID"
        backing_dir "$DATA"
        assert_file_content "$BACKING/f" keep
        assert_absent "$T/scratch/$SID"
}

mount_list_filters_by_session() {
        local s1
        _setup
        _create data
        s1=$SID
        _create other:/w shared
        ok --json mount list --session "$s1"
        assert_jq 'map([.session, .name])' "[[\"$s1\",\"data\"]]"
        ok --json mount list
        assert_jq 'length' '3'
}

mount_list_filters_by_folder() {
        local s1 s2
        _setup
        _create data
        s1=$SID
        _create data:/w other
        s2=$SID
        ok --json mount list --folder data
        assert_jq 'map("\(.session) \(.target)") | sort' \
                "$(jq -cn --arg a "$s1 /home/work/data" --arg b "$s2 /w" '[$a, $b] | sort')"
        ok --json mount list --folder "$OTHER"
        assert_jq 'map(.folder)' "[\"$OTHER\"]"
}

session_with_dead_pid_on_this_host_is_reaped_by_session_list() {
        _setup
        backing_dir "$DATA"
        echo keep >"$BACKING/f"
        _create data
        start_session "$SID" "$(dead_pid)"
        ok --json session list
        assert_jq 'map(.id)' '[]' "live sessions after reaping"
        ok --json session list --all
        assert_jq "map(select(.id == \"$SID\") | .ended_at != null)" '[true]'
        assert_absent "$T/scratch/$SID"
        backing_dir "$DATA"
        assert_file_content "$BACKING/f" keep
        ok --json mount list --folder data
        assert_jq 'length' '0'
}

session_with_live_pid_is_not_reaped() {
        _setup
        _create data
        start_session "$SID" $$
        ok --json session list
        assert_jq 'map(.id)' "[\"$SID\"]"
        assert_jq ".[0].pid" "$$"
        assert_exists "$T/scratch/$SID/file"
}

session_with_dead_pid_on_another_host_is_not_reaped() {
        _setup
        _create data
        start_session "$SID" "$(dead_pid)" "elsewhere.example"
        ok --json session list
        assert_jq 'map(.id)' "[\"$SID\"]"
        assert_exists "$T/scratch/$SID/file"
}

run_tests sessions "$@"
