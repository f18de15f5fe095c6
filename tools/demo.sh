#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# demo.sh - the README's main job: run the user guide's scenario
# (seed/mounting-folders.txt) on a real vfolderfs mount at /home/work and
# show it as a transcript.  Run as root with the build directory as argument
# (tools/build.sh demo does both); it builds nothing.
#
# Nothing on the machine is touched: the demo re-executes itself in a private
# mount namespace, mounts a tmpfs over /home there (so /home/work exists only
# inside the namespace), keeps its catalog, storage host and scratch in one
# mktemp -d directory, and removes everything on exit, failure included.
# Operator commands are shown as "root# ...", the session user's (uid 1000,
# run with setpriv) as "user1$ ...".  Any failing step stops the demo with a
# non-zero exit status.
set -uo pipefail
export LC_ALL=C

usage() {
        echo "usage: tools/demo.sh BUILD_DIR" >&2
        exit 2
}

[ $# -eq 1 ] || usage
if [ "$(id -u)" != 0 ]; then
        echo "demo.sh: must run as root (it mounts a FUSE file system)" >&2
        exit 1
fi
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "demo.sh: no build directory '$1'" >&2; exit 1; }
VFOLDERFS=$BUILD/vfolderfs/vfolderfs
ADMIN=$BUILD/tools/vfolderfs-admin
for b in "$VFOLDERFS" "$ADMIN"; do
        [ -x "$b" ] || { echo "demo.sh: '$b' is missing: build first (tools/build.sh build)" >&2; exit 1; }
done
for c in unshare setpriv fusermount3 mountpoint jq python3; do
        command -v "$c" >/dev/null || { echo "demo.sh: '$c' is missing" >&2; exit 1; }
done
[ -c /dev/fuse ] || { echo "demo.sh: /dev/fuse is missing" >&2; exit 1; }
[ -d /home ] || { echo "demo.sh: /home does not exist on this machine" >&2; exit 1; }

if [ -z "${VFOLDERFS_DEMO_IN_NAMESPACE:-}" ]; then
        export VFOLDERFS_DEMO_IN_NAMESPACE=1
        exec unshare -m --propagation private -- bash "$0" "$@"
fi

UID1=1000
HOME_WORK=/home/work
W=$(mktemp -d /tmp/vfolderfs-demo.XXXXXX) || exit 1
chmod 755 "$W"
export VFOLDERFS_CATALOG=$W/catalog.db
export PATH="$BUILD/tools:$BUILD/vfolderfs:$PATH"

cleanup() {
        local rc=$? pid i
        trap - EXIT
        # Daemons of live sessions: unmount (which ends them), then make sure.
        for pid in $("$ADMIN" --json session list 2>/dev/null | jq -r '.[].pid // empty'); do
                fusermount3 -u "$HOME_WORK" 2>/dev/null
                for i in $(seq 50); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                kill -TERM "$pid" 2>/dev/null
        done
        if mountpoint -q "$HOME_WORK" 2>/dev/null; then
                umount -l "$HOME_WORK" 2>/dev/null
        fi
        mountpoint -q /home && umount -l /home 2>/dev/null
        rm -rf --one-file-system "$W"
        if [ $rc -eq 0 ]; then
                echo "demo: everything worked; the temporary world is removed"
        else
                echo "demo: FAILED (exit $rc)" >&2
        fi
        exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
        echo "demo: step failed: $*" >&2
        exit 1
}

# root CMD: show an operator command and its output, stop if it fails.
root() {
        echo "root# $1"
        OUT=$(cd "$W" && bash -c "$1" 2>&1)
        local rc=$?
        [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  /'
        [ $rc -eq 0 ] || fail "'$1' exited $rc"
}

# user CMD: the same for the session user, in /home/work with HOME=/home/work.
user() {
        echo "user1\$ $1"
        OUT=$(setpriv --reuid=$UID1 --regid=$UID1 --clear-groups -- \
                env -i HOME=$HOME_WORK PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C \
                bash -c "cd $HOME_WORK && $1" 2>&1)
        local rc=$?
        [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  /'
        [ $rc -eq 0 ] || fail "'$1' exited $rc"
}

# expect WHAT WANT: the last command's output must be WANT.
expect() {
        [ "$OUT" = "$2" ] || fail "$1: expected '$2', got '$OUT'"
}

# wait_gone PID: the daemon has exited (it ends its session on the way out).
wait_gone() {
        local i
        for i in $(seq 100); do
                kill -0 "$1" 2>/dev/null || return 0
                sleep 0.1
        done
        fail "the daemon (pid $1) did not exit"
}

daemon_pid() {
        "$ADMIN" --json session list | jq -r --arg mp "$HOME_WORK" '[.[] | select(.mountpoint == $mp)][0].pid // empty'
}

section() {
        echo
        echo "== $* =="
}

CONTENT="file inside user2-vfolder"
SITE=.local/lib/python3.11/site-packages

section "a /home/work that exists only in this demo's mount namespace"
mount -t tmpfs -o mode=755 demo-home /home || fail "cannot mount a tmpfs over /home"
mkdir -p "$HOME_WORK" "$W/storage" "$W/download"
echo "(catalog: \$VFOLDERFS_CATALOG=$VFOLDERFS_CATALOG, storage host 'local': $W/storage)"

section "the operator sets up the catalog, a storage host, a user and three folders"
root "vfolderfs-admin init"
root "vfolderfs-admin host add local $W/storage"
root "vfolderfs-admin user add user1 --uid $UID1 --gid $UID1"
root "vfolderfs-admin folder create user1-ml-test --user user1"
root "vfolderfs-admin folder create user2-vfolder --user user1"
root "vfolderfs-admin folder create .local --user user1"
root "vfolderfs-admin folder list --user user1"

section "a session mounting user1-ml-test and user2-vfolder starts"
root "vfolderfs-admin session create --user user1 --mount user1-ml-test --mount user2-vfolder"
SID=$OUT
root "vfolderfs -o allow_other session:$SID $HOME_WORK"
mountpoint -q "$HOME_WORK" || fail "$HOME_WORK is not mounted"
PID1=$(daemon_pid)
[ -n "$PID1" ] || fail "no live session recorded for $HOME_WORK"
root "vfolderfs-admin session list"
root "vfolderfs-admin mount list --session $SID"

section "inside the session (guide: 'Mounting Folders to a Compute Session')"
user "ls"
expect "ls of /home/work" "$(printf 'user1-ml-test\nuser2-vfolder')"
user "echo \"$CONTENT\" > user2-vfolder/test_file"
user "ls user2-vfolder"
expect "ls of user2-vfolder" test_file
user "cat user2-vfolder/test_file"
expect "cat of test_file" "$CONTENT"
user "echo 'this is scratch' > notes.txt && ls -A"

section "the automount folder .local (guide: 'Install Python packages via pip')"
echo "(no network here: what 'pip install --user tqdm' leaves in ~/.local is written by hand)"
user "mkdir -p $SITE/tqdm && echo '__version__ = \"4.66.1\"' > $SITE/tqdm/__init__.py"
user "python3 -c 'import tqdm; print(\"tqdm\", tqdm.__version__, \"from\", tqdm.__file__)'"
expect "import tqdm" "tqdm 4.66.1 from $HOME_WORK/$SITE/tqdm/__init__.py"

section "the session ends"
root "fusermount3 -u $HOME_WORK"
wait_gone "$PID1"
root "vfolderfs-admin session list --all"

section "the Storage page: the folder explorer still has test_file"
root "vfolderfs-admin files ls user2-vfolder"
root "vfolderfs-admin files get user2-vfolder test_file download/test_file && cat download/test_file"
expect "downloaded test_file" "$CONTENT"

section "a new session: scratch is fresh, folders and .local are back"
root "vfolderfs -o allow_other user1 $HOME_WORK"
PID2=$(daemon_pid)
[ -n "$PID2" ] || fail "no live session recorded for $HOME_WORK"
user "ls -A"
expect "ls -A of the new session" "$(printf '.local\nuser1-ml-test\nuser2-vfolder')"
user "python3 -c 'import tqdm; print(\"tqdm\", tqdm.__version__, \"from\", tqdm.__file__)'"
expect "import tqdm in the new session" "tqdm 4.66.1 from $HOME_WORK/$SITE/tqdm/__init__.py"
user "cat user2-vfolder/test_file"
expect "cat of test_file in the new session" "$CONTENT"
root "fusermount3 -u $HOME_WORK"
wait_gone "$PID2"
echo
