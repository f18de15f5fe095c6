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
# With -f the daemon gives no "started" signal beyond its FUSE mount; the
# bind mounts follow it at once (without -f the parent waits for them).
for i in $(seq 50); do
        mountpoint -q "$WS" && mountpoint -q /home/linuxbrew/.linuxbrew && break
        sleep 0.1
done

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

# ended_of SESSION: its ended_at ("null" while it runs).
ended_of() {
        admin --json session list --all | jq -r --arg id "$1" '.[] | select(.id == $id) | .ended_at'
}

sigterm_also_removes_the_outside_mounts() {
        local sid pid i
        sid=$(admin session create --user alice --mount "data:$T/ws3:ro" 2>&1) || {
                ITEST_WHY="session create failed: $sid"; return 1; }
        daemon_start /home/work "session:$sid" 2>/dev/null || {
                ITEST_WHY="the daemon did not start"; return 1; }
        pid=$DAEMON_PID
        for i in $(seq 50); do
                mountpoint -q "$T/ws3" && break
                sleep 0.1
        done
        assert "$T/ws3 to be a mountpoint" mountpoint -q "$T/ws3" || return 1
        kill -TERM "$pid"
        wait_exit "$pid"
        assert_eq 0 "$WAIT_STATUS" "exit status after SIGTERM" &&
        refute "$T/ws3 to be unmounted" mountpoint -q "$T/ws3" &&
        refute "/home/work to be unmounted" mountpoint -q /home/work &&
        refute "session $sid to be ended" test "$(ended_of "$sid")" = null
}

# A daemon that may mount FUSE (through fusermount3) but not bind mounts:
# uid $U, with a /dev/fuse it may open (in this namespace only).
without_privilege_the_start_fails_and_leaves_nothing() {
        local sid out rc
        mknod -m 666 "$T/fuse" c 10 229 && mount --bind "$T/fuse" /dev/fuse || {
                ITEST_WHY="cannot give uid $U a /dev/fuse"; return 1; }
        ITEST_EXTRA_MOUNTS+=(/dev/fuse)
        sid=$(admin session create --user alice --mount "data:$T/ws2:ro" 2>&1) || {
                ITEST_WHY="session create failed: $sid"; return 1; }
        mkdir -p "$T/umnt" "$T/ws2"
        chown "$U:$U" "$T" "$T/umnt" "$T/ws2" "$CAT"* "$SCRATCH"
        # The daemon runs as the storage uid here: only it (and root) may
        # traverse the layout above the folders (0700).
        chown -R "$U:$U" "$STORE"
        out=$(asuser $U timeout 20 "$VFOLDERFS" -f -o "catalog=$CAT,scratch=$SCRATCH" \
                "session:$sid" "$T/umnt" 2>&1)
        rc=$?
        umount /dev/fuse
        assert_eq 1 "$rc" "exit status" &&
        # one line, about one of the two outside folders (data, .linuxbrew)
        assert "one error line, got '$out'" \
                grep -qxE "vfolderfs: cannot mount folder '(data|\.linuxbrew)' at '[^']+': Operation not permitted" <<<"$out" &&
        assert_eq 1 "$(wc -l <<<"$out")" "error lines" &&
        refute "$T/umnt to be unmounted" mountpoint -q "$T/umnt" &&
        refute "$T/ws2 to be unmounted" mountpoint -q "$T/ws2" &&
        refute "session $sid to be ended" test "$(ended_of "$sid")" = null
}

run_test an_absolute_alias_is_mounted_at_its_target
run_test an_absolute_alias_keeps_its_permission
run_test an_absolute_alias_is_not_also_under_the_mountpoint
run_test an_absolute_alias_directory_cannot_be_removed
run_test linuxbrew_is_automounted_at_home_linuxbrew
run_test teardown_removes_the_outside_mounts
run_test sigterm_also_removes_the_outside_mounts
run_test without_privilege_the_start_fails_and_leaves_nothing

itest_end
