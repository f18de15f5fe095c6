#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# config.sh - the daemon's configuration file (vfolderfs.conf(5)): its keys
# give defaults, -o options win over them, and a bad file stops the start
# with a "FILE:LINE: ..." line and exit 1 before anything is mounted or
# recorded in the catalog.  The file is named with -o config=PATH or
# $VFOLDERFS_CONFIG here, never /etc/vfolderfs.conf.

. "$(dirname "$0")/lib.sh"
itest_begin config "$@"

U=2345
SU=3000
SG=3001
MNT2=$T/mnt2
mkdir -p "$MNT2"
chmod 755 "$MNT2"

must admin user add bob --uid $U --gid $U
must admin folder create cf --user bob --permission rw
BB=$(backing_of cf) || bail "no backing directory for folder cf"
printf 'old\n' >"$BB/old"

CONF=$T/vfolderfs.conf
cat >"$CONF" <<CONF_EOF
# storage identity for created files
storage_uid = $SU
storage_gid=$SG

rw_can_delete = yes
CONF_EOF

n_sessions() { admin --json session list --all | jq length; }

# ---- session 1: everything from the file -------------------------------------
must_start "$MNT" bob "config=$CONF"
D=$MNT/cf

storage_uid_and_gid_from_the_file_own_created_files() {
        asuser $U sh -c "echo n >'$D/new' && mkdir '$D/newdir'" 2>/dev/null
        assert_eq $SU:$SG "$(stat -c %u:%g "$BB/new" 2>&1)" "owner of new on the host" &&
        assert_eq $SU:$SG "$(stat -c %u:%g "$BB/newdir" 2>&1)" "owner of newdir on the host"
}

rw_can_delete_yes_in_the_file_lets_rw_folders_unlink() {
        assert "unlink in the rw folder to succeed" asuser $U rm "$D/old" &&
        refute "old to be gone from the backing store" test -e "$BB/old"
}

run_test storage_uid_and_gid_from_the_file_own_created_files
run_test rw_can_delete_yes_in_the_file_lets_rw_folders_unlink
daemon_stop "$MNT" "$DAEMON_PID"

# ---- session 2: -o storage_uid wins over the file ----------------------------
printf 'old\n' >"$BB/old2"
must_start "$MNT2" bob "config=$CONF,storage_uid=4000"

o_storage_uid_overrides_the_file() {
        asuser $U sh -c "echo n >'$MNT2/cf/new2'" 2>/dev/null
        assert_eq 4000:$SG "$(stat -c %u:%g "$BB/new2" 2>&1)" "owner of new2 on the host"
}

run_test o_storage_uid_overrides_the_file
daemon_stop "$MNT2" "$DAEMON_PID"

# ---- session 3: the file via $VFOLDERFS_CONFIG, rw_can_delete = no -----------
CONF_NO=$T/no-delete.conf
printf 'rw_can_delete = false\n' >"$CONF_NO"
VFOLDERFS_CONFIG=$CONF_NO must_start "$MNT" bob

vfolderfs_config_env_names_the_file_and_no_keeps_rw_without_unlink() {
        refute "unlink in the rw folder to fail" asuser $U rm "$MNT/cf/old2" &&
        assert "old2 to stay on the backing store" test -e "$BB/old2"
}

run_test vfolderfs_config_env_names_the_file_and_no_keeps_rw_without_unlink
daemon_stop "$MNT" "$DAEMON_PID"

# ---- bad files: nothing mounted, nothing recorded ----------------------------
# start_fails CONFIG-OPTION: run the daemon (foreground); sets FAIL_STATUS,
# FAIL_ERR (its stderr) and FAIL_DELTA (sessions recorded meanwhile).
start_fails() {
        local before after
        before=$(n_sessions)
        FAIL_ERR=$(timeout 10 "$VFOLDERFS" -f -o "allow_other,catalog=$CAT,scratch=$SCRATCH,$1" \
                bob "$MNT" 2>&1 >/dev/null)
        FAIL_STATUS=$?
        after=$(n_sessions)
        FAIL_DELTA=$((after - before))
}

an_unknown_key_fails_the_start_with_a_clear_line() {
        local bad=$T/bad.conf
        printf '# fine\nstorage_uid = 1\nfrobnicate = 3\n' >"$bad"
        start_fails "config=$bad"
        assert_eq 1 "$FAIL_STATUS" "exit status" &&
        assert_eq "vfolderfs: $bad:3: unknown key 'frobnicate'" "$FAIL_ERR" "error output" &&
        refute "$MNT not to be mounted" mountpoint -q "$MNT" &&
        assert_eq 0 "$FAIL_DELTA" "sessions recorded"
}

a_bad_value_fails_the_start_with_a_clear_line() {
        local bad=$T/badval.conf
        printf 'storage_gid = 99999999999\n' >"$bad"
        start_fails "config=$bad"
        assert_eq 1 "$FAIL_STATUS" "exit status" &&
        assert_eq "vfolderfs: $bad:1: bad value '99999999999' for 'storage_gid' (expected a number below 4294967295)" \
                "$FAIL_ERR" "error output" &&
        refute "$MNT not to be mounted" mountpoint -q "$MNT" &&
        assert_eq 0 "$FAIL_DELTA" "sessions recorded"
}

a_missing_named_file_fails_the_start() {
        start_fails "config=$T/absent.conf"
        assert_eq 1 "$FAIL_STATUS" "exit status" &&
        assert_eq "vfolderfs: cannot read configuration file '$T/absent.conf': No such file or directory" \
                "$FAIL_ERR" "error output" &&
        refute "$MNT not to be mounted" mountpoint -q "$MNT" &&
        assert_eq 0 "$FAIL_DELTA" "sessions recorded"
}

run_test an_unknown_key_fails_the_start_with_a_clear_line
run_test a_bad_value_fails_the_start_with_a_clear_line
run_test a_missing_named_file_fails_the_start

# ---- catalog and scratch from the file ---------------------------------------
catalog_and_scratch_come_from_the_file_when_not_given() {
        local c=$T/paths.conf pid sid ok=0
        printf 'catalog = %s\nscratch = %s\n' "$CAT" "$SCRATCH" >"$c"
        env -u VFOLDERFS_CATALOG --default-signal=INT,QUIT \
                "$VFOLDERFS" -f -o "allow_other,config=$c" bob "$MNT2" \
                >>"$T/daemon.log" 2>&1 &
        pid=$!
        DAEMON_PIDS+=("$pid")
        for _ in $(seq 100); do
                mountpoint -q "$MNT2" && break
                sleep 0.1
        done
        sid=$(session_of "$pid")
        if [ -n "$sid" ] && [ -d "$SCRATCH/$sid" ]; then
                ok=1
        fi
        daemon_stop "$MNT2" "$pid"
        [ $ok = 1 ] || ITEST_WHY="expected a session of pid $pid in $CAT with scratch under $SCRATCH, got '$sid'"
        [ $ok = 1 ]
}

run_test catalog_and_scratch_come_from_the_file_when_not_given

itest_end
