#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# exposure.sh - what an unprivileged account on a compute node or storage
# host can see of vfolderfs: nothing.  The catalog (and its -wal and -shm)
# is made 0600; the directories above each folder's own directory on a
# storage host (scope and fan-out), the host's usage directory and the
# scratch root are made 0700, so such an account can neither list nor
# reach any folder's files or any session's scratch -- while sessions, the
# admin tool's `files` and the daemon work as before.  A folder's own
# directory keeps the mode its user gives it (nothing changes inside a
# session).  `fsck` reports looser modes on an existing host and
# `fsck --repair` tightens them.

. "$(dirname "$0")/lib.sh"
itest_begin exposure "$@"

U=1000        # the session user (container uid)
H=4321        # some other account on the host
# A scratch root the daemon makes itself (lib.sh's own is made 0755 by hand).
SROOT=$T/private-scratch

must admin user add alice --uid $U --gid $U
must admin folder create data --user alice --quota 10M
B=$(backing_of data) || bail "no backing directory for folder data"
printf 'secret\n' >"$B/known"
chown $U:$U "$B/known"

as_host_user() { asuser $H "$@"; }

mode_of() { stat -c %a "$1"; }

the_catalog_and_its_wal_are_readable_by_root_only() {
        local holder wal shm i
        # The -wal and -shm exist while a connection is open.
        (echo 'SELECT count(*) FROM folders;'; sleep 3) | sqlite3 "$CAT" >/dev/null &
        holder=$!
        for i in $(seq 50); do [ -e "$CAT-shm" ] && break; sleep 0.05; done
        wal=$(mode_of "$CAT-wal" 2>&1)
        shm=$(mode_of "$CAT-shm" 2>&1)
        local readable=no
        as_host_user cat "$CAT-wal" >/dev/null 2>&1 && readable=yes
        kill "$holder" 2>/dev/null
        wait "$holder" 2>/dev/null
        assert_eq 600 "$(mode_of "$CAT")" "catalog mode" &&
        assert_eq 600 "$wal" "catalog -wal mode" &&
        assert_eq 600 "$shm" "catalog -shm mode" &&
        assert_eq no "$readable" "another host user reading the catalog's WAL" &&
        refute "another host user to read the catalog" as_host_user cat "$CAT"
}

the_layout_above_a_folder_is_private() {
        local scope fan1 fan2
        fan2=$(dirname "$B")
        fan1=$(dirname "$fan2")
        scope=$(dirname "$fan1")
        assert_eq 700 "$(mode_of "$scope")" "scope directory mode" &&
        assert_eq 700 "$(mode_of "$fan1")" "first fan-out directory mode" &&
        assert_eq 700 "$(mode_of "$fan2")" "second fan-out directory mode" &&
        assert_eq 755 "$(mode_of "$B")" "the folder's own directory mode"
}

another_host_user_reads_nothing_under_the_storage_root() {
        local listed
        # Not by walking, not by the exact path of a file it has learnt.
        listed=$(as_host_user find "$STORE" -mindepth 2 2>/dev/null | wc -l)
        assert_eq 0 "$listed" "entries below the scopes that another host user can list" &&
        refute "another host user to read a folder's file by its path" as_host_user cat "$B/known" &&
        refute "another host user to list the folder" as_host_user ls "$B"
}

sessions_and_scratch_work_and_stay_private() {
        local sid got
        must_start "$MNT" alice "scratch=$SROOT"
        sid=$(session_of "$DAEMON_PID")
        asuser $U sh -c "echo s >'$MNT/scratch-file' && echo d >'$MNT/data/new'" 2>/dev/null
        got=$(asuser $U cat "$MNT/scratch-file" "$MNT/data/known" "$MNT/data/new" 2>&1 | tr '\n' ' ')
        local mode listed reach
        mode=$(mode_of "$SROOT")
        listed=$(as_host_user ls "$SROOT" 2>/dev/null | wc -l)
        reach=no
        as_host_user cat "$SROOT/$sid/scratch-file" >/dev/null 2>&1 && reach=yes
        daemon_stop "$MNT" "$DAEMON_PID"
        assert_eq "s secret d " "$got" "what the session reads" &&
        assert_eq 700 "$mode" "scratch root mode" &&
        assert_eq 0 "$listed" "scratch entries another host user can list" &&
        assert_eq no "$reach" "another host user reading a session's scratch file" &&
        assert_eq 700 "$(mode_of "$STORE/.vfolderfs-usage")" "usage directory mode" &&
        refute "another host user to list the usage counters" as_host_user ls "$STORE/.vfolderfs-usage"
}

the_admin_tools_files_work_as_before() {
        local got
        must admin files put data "$T/exposure-in" in.txt 2>/dev/null ||
                { ITEST_WHY="files put failed"; return 1; }
        got=$(admin files get data in.txt - 2>&1)
        assert_eq "payload" "$got" "files get of what files put stored"
}

fsck_reports_and_repair_tightens_loose_modes() {
        local scope issues after
        scope=$(dirname "$(dirname "$(dirname "$B")")")
        # As an older vfolderfs left them.
        chmod 644 "$CAT"
        chmod 755 "$scope" "$STORE/.vfolderfs-usage" "$SROOT"
        issues=$(admin --json fsck 2>/dev/null)
        admin --json fsck --repair >/dev/null 2>&1
        after=$(admin --json fsck 2>/dev/null)
        assert "fsck to report the catalog ($issues)" \
                jq -e --arg p "$CAT" 'any(.[]; .kind == "loose-mode" and .subject == $p)' <<<"$issues" &&
        assert "fsck to report the scope directory ($issues)" \
                jq -e --arg p "$scope" 'any(.[]; .kind == "loose-mode" and .subject == $p)' <<<"$issues" &&
        assert "fsck to report the usage directory ($issues)" \
                jq -e --arg p "$STORE/.vfolderfs-usage" 'any(.[]; .kind == "loose-mode" and .subject == $p)' <<<"$issues" &&
        assert "fsck to report the scratch root ($issues)" \
                jq -e --arg p "$SROOT" 'any(.[]; .kind == "loose-mode" and .subject == $p)' <<<"$issues" &&
        assert_eq 600 "$(mode_of "$CAT")" "catalog mode after repair" &&
        assert_eq 700 "$(mode_of "$scope")" "scope mode after repair" &&
        assert_eq 700 "$(mode_of "$SROOT")" "scratch root mode after repair" &&
        assert_eq 755 "$(mode_of "$B")" "the folder's own directory after repair" &&
        assert_eq '[]' "$(jq -c '[.[] | select(.kind == "loose-mode")]' <<<"$after")" "loose modes left"
}

printf 'payload' >"$T/exposure-in"
run_test the_catalog_and_its_wal_are_readable_by_root_only
run_test the_layout_above_a_folder_is_private
run_test another_host_user_reads_nothing_under_the_storage_root
run_test sessions_and_scratch_work_and_stay_private
run_test the_admin_tools_files_work_as_before
run_test fsck_reports_and_repair_tightens_loose_modes
itest_end
