#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# scenario.sh - the user guide's scenario (seed/mounting-folders.txt) on a
# real mount: user1 mounts user1-ml-test and user2-vfolder in a session,
# `ls` shows both, a test_file written with the shell in user2-vfolder is
# listed and read back; the session ends; the folder explorer
# (`vfolderfs-admin files ls/get`) lists and downloads test_file with the same
# content.  Then the automount part: a package "pip-installed" into
# ~/.local in session 1 is importable by Python in session 2 without being
# installed again.  A transcript of the user's commands is printed as "#"
# lines.

. "$(dirname "$0")/lib.sh"
itest_begin scenario "$@"

U=1000
CONTENT="file inside user2-vfolder"
SITE=.local/lib/python3.11/site-packages
must admin user add user1 --uid $U --gid $U
must admin folder create user1-ml-test --user user1
must admin folder create user2-vfolder --user user1
must admin folder create .local --user user1

# say CMD...: show a user command and its output as transcript lines, run
# it as the session user with HOME=/home/work's stand-in; keeps its status.
say() {
        local out rc
        echo "# \$ $*"
        out=$(cd "$MNT" && asuser $U env HOME="$MNT" bash -c "$*" 2>&1)
        rc=$?
        [ -z "$out" ] || sed 's/^/#   /' <<<"$out"
        return $rc
}

SID=$(admin session create --user user1 --mount user1-ml-test --mount user2-vfolder 2>&1) ||
        bail "session create failed: $SID"
must_start "$MNT" "session:$SID"
PID1=$DAEMON_PID

ls_of_home_work_shows_both_mounted_folders() {
        say ls -A "$MNT"
        assert_eq ".local user1-ml-test user2-vfolder" \
                "$(asuser $U ls -A "$MNT" | tr '\n' ' ' | sed 's/ $//')" "ls -A of the session home"
}

a_file_written_with_the_shell_is_listed_and_readable() {
        say "echo '$CONTENT' > user2-vfolder/test_file" &&
        say ls user2-vfolder &&
        say cat user2-vfolder/test_file &&
        assert_eq test_file "$(asuser $U ls "$MNT/user2-vfolder")" "ls user2-vfolder" &&
        assert_eq "$CONTENT" "$(asuser $U cat "$MNT/user2-vfolder/test_file")" "cat test_file"
}

a_package_installed_into_dot_local_lands_in_the_automount_folder() {
        # What `pip install --user tqdm` leaves behind, written the same way.
        say "mkdir -p $SITE/tqdm && echo '__version__ = \"4.66.1\"' > $SITE/tqdm/__init__.py" &&
        say "python3 -c 'import tqdm; print(tqdm.__version__, tqdm.__file__)'" &&
        assert "the package in the .local folder's backing dir" \
                test -f "$(backing_of .local)/lib/python3.11/site-packages/tqdm/__init__.py"
}

ending_the_session_unmounts_it_and_ends_it_in_the_catalog() {
        echo "# (the session ends: fusermount3 -u)"
        fusermount3 -u "$MNT"
        wait_exit "$PID1"
        assert_eq 0 "$WAIT_STATUS" "daemon exit status" &&
        refute "the mount to be gone" mountpoint -q "$MNT" &&
        assert_eq "" "$(admin --json session list | jq -r --arg id "$SID" '.[] | select(.id == $id) | .id')" \
                "the session among live sessions"
}

the_folder_explorer_lists_test_file_after_the_session() {
        local out
        out=$(admin files ls user2-vfolder 2>&1)
        echo "# \$ vfolderfs-admin files ls user2-vfolder"
        sed 's/^/#   /' <<<"$out"
        assert_eq test_file "$(admin --json files ls user2-vfolder | jq -r '.[].name')" "files ls --json names"
}

the_download_has_the_same_content() {
        mkdir -p "$T/download"
        echo "# \$ vfolderfs-admin files get user2-vfolder test_file ./test_file && cat test_file"
        admin files get user2-vfolder test_file "$T/download/test_file" 2>&1 | sed 's/^/#   /'
        sed 's/^/#   /' "$T/download/test_file" 2>&1
        assert_eq "$CONTENT" "$(cat "$T/download/test_file" 2>&1)" "downloaded content"
}

run_test ls_of_home_work_shows_both_mounted_folders
run_test a_file_written_with_the_shell_is_listed_and_readable
run_test a_package_installed_into_dot_local_lands_in_the_automount_folder
run_test ending_the_session_unmounts_it_and_ends_it_in_the_catalog
run_test the_folder_explorer_lists_test_file_after_the_session
run_test the_download_has_the_same_content

# ---- session 2: a new daemon ---------------------------------------------------
echo "# (a new session starts: vfolderfs user1 /home/work)"
must_start "$MNT" user1

a_new_session_finds_the_package_without_installing_it() {
        say "python3 -c 'import tqdm; print(tqdm.__version__, tqdm.__file__)'"
        assert_eq "4.66.1 $MNT/$SITE/tqdm/__init__.py" \
                "$(cd "$MNT" && asuser $U env HOME="$MNT" python3 -c 'import tqdm; print(tqdm.__version__, tqdm.__file__)' 2>&1)" \
                "python3 import tqdm in session 2"
}

a_new_session_sees_test_file_again() {
        say cat user2-vfolder/test_file
        assert_eq "$CONTENT" "$(asuser $U cat "$MNT/user2-vfolder/test_file" 2>&1)" "cat test_file in session 2"
}

run_test a_new_session_finds_the_package_without_installing_it
run_test a_new_session_sees_test_file_again
daemon_stop "$MNT" "$DAEMON_PID"

itest_end
