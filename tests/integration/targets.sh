#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# targets.sh - SPEC section 3, targets outside the mountpoint (issue #4):
# "Targets outside the mountpoint are bind mounts of the folder's view inside
# the FUSE mount, so the same enforcement applies; the daemon makes them at
# start and removes them at teardown."  An absolute alias (here a path in the
# temporary directory, any absolute path outside the reserved set being
# allowed) and the automount folder '.linuxbrew' at /home/linuxbrew/.linuxbrew
# (with a tmpfs over /home inside this test's private mount namespace, so the
# machine's /home is never touched).
#
# Not registered in meson.build until issue #4 is done.

. "$(dirname "$0")/lib.sh"
itest_begin targets "$@"

U=1000
WS=$T/workspace
must admin user add alice --uid $U --gid $U
must admin folder create data --user alice
must admin folder create proj --user alice
must admin folder create .linuxbrew --user alice
printf 'data-file\n' >"$(backing_of data)/dfile"
printf 'brew-file\n' >"$(backing_of .linuxbrew)/bfile"
chmod 644 "$(backing_of data)/dfile" "$(backing_of .linuxbrew)/bfile"
mount -t tmpfs -o mode=755 itest-home /home || bail "cannot mount a tmpfs over /home"
ITEST_EXTRA_MOUNTS+=(/home)
mkdir -p /home/work

CSID=$(admin session create --user alice --mount "data:$WS:ro" --mount proj 2>&1) ||
        bail "session create failed: $CSID"
must_start /home/work "session:$CSID"
PID=$DAEMON_PID

an_absolute_alias_is_mounted_at_its_target() {
        assert "$WS to be a mountpoint" mountpoint -q "$WS" &&
        assert_eq data-file "$(asuser $U cat "$WS/dfile" 2>&1)" "$WS/dfile"
}

an_absolute_alias_keeps_its_permission() {
        assert_eq EROFS "$(op $U create "$WS/new" 644)" "create in the ro alias" &&
        assert_eq EROFS "$(op $U unlink "$WS/dfile")" "unlink in the ro alias"
}

an_absolute_alias_is_not_also_under_the_mountpoint() {
        assert_eq ENOENT "$(op $U stat /home/work/data)" "stat of /home/work/data"
}

an_absolute_alias_directory_cannot_be_removed() {
        assert_eq EBUSY "$(op 0 rmdir "$WS")" "rmdir of the alias"
}

linuxbrew_is_automounted_at_home_linuxbrew() {
        assert "/home/linuxbrew/.linuxbrew to be a mountpoint" mountpoint -q /home/linuxbrew/.linuxbrew &&
        assert_eq brew-file "$(asuser $U cat /home/linuxbrew/.linuxbrew/bfile 2>&1)" "bfile" &&
        assert_eq ok "$(op $U create /home/linuxbrew/.linuxbrew/installed 644)" "create in .linuxbrew" &&
        assert_eq ENOENT "$(op $U stat /home/work/.linuxbrew)" "stat of /home/work/.linuxbrew"
}

teardown_removes_the_outside_mounts() {
        daemon_stop /home/work "$PID"
        refute "$WS to be unmounted" mountpoint -q "$WS" &&
        refute "/home/linuxbrew/.linuxbrew to be unmounted" mountpoint -q /home/linuxbrew/.linuxbrew &&
        assert_eq data-file "$(cat "$(backing_of data)/dfile")" "folder data after teardown"
}

run_test an_absolute_alias_is_mounted_at_its_target
run_test an_absolute_alias_keeps_its_permission
run_test an_absolute_alias_is_not_also_under_the_mountpoint
run_test an_absolute_alias_directory_cannot_be_removed
run_test linuxbrew_is_automounted_at_home_linuxbrew
run_test teardown_removes_the_outside_mounts

itest_end
