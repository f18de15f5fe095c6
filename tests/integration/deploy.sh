#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# deploy.sh - vfolderfs deployed the way operators do it (issue #4):
#  - `mount -t fuse.vfolderfs alice MNT -o catalog=...,allow_other` and an
#    fstab(5) line (a temporary fstab given to `mount -T`), both through the
#    system's mount.fuse3, which runs the `vfolderfs` it finds in PATH; umount
#    ends the session in the catalog.  mount(8) drops the caller's PATH before
#    running a helper, so /bin/sh looks in its default path
#    (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin): the
#    daemon under test is put there by an overlay on /usr/local/bin, visible
#    only in this mount namespace;
#  - `meson install --destdir` of the build under test: binaries, man pages
#    and systemd units land in their standard places below the prefix and
#    nothing else is installed; the units pass `systemd-analyze verify`; the
#    staged admin tool inits a catalog and the staged daemon mounts a session.
# Everything happens inside lib.sh's private mount namespace and temp dir.

. "$(dirname "$0")/lib.sh"
itest_begin deploy "$@"

U=1000
# The build under test: meson puts the daemon at BUILD/vfolderfs/vfolderfs.
BUILD=$(cd "$(dirname "$VFOLDERFS")/.." && pwd)
DAEMON_DIR=$(dirname "$VFOLDERFS")
must admin user add alice --uid $U --gid $U
must admin folder create notes --user alice
echo "alice's note" >"$T/note"
must admin files put notes "$T/note" note

# session_field PID FIELD: FIELD of the session (live or ended) whose daemon
# pid was PID.
session_field() {
        admin --json session list --all |
                jq -r --argjson pid "$1" --arg f "$2" '[.[] | select(.pid == $pid)][0][$f] // empty'
}

# daemon_pid_at MNT: the pid of the live session mounted at MNT.
daemon_pid_at() {
        admin --json session list |
                jq -r --arg m "$1" '[.[] | select(.mountpoint == $m)][0].pid // empty'
}

# wait_gone PID: wait up to 5 s for a process that is not our child to end.
wait_gone() {
        local i
        for i in $(seq 50); do
                kill -0 "$1" 2>/dev/null || return 0
                sleep 0.1
        done
        return 1
}

# check_mounted_then_umount MNT: the mount at MNT is alice's session home
# (her folder readable by her uid), run by a vfolderfs daemon recorded in the
# catalog; `umount MNT` stops it and the session gets its ended_at.
check_mounted_then_umount() {
        local mnt=$1 pid
        assert "a mount at $mnt" mountpoint -q "$mnt" || return 1
        assert_eq fuse.vfolderfs "$(findmnt -n -o FSTYPE "$mnt")" "the fstype" || return 1
        pid=$(daemon_pid_at "$mnt")
        [ -n "$pid" ] || { ITEST_WHY="expected a live session at $mnt got none"; return 1; }
        DAEMON_PIDS+=("$pid")
        assert_eq "$(readlink -f "$VFOLDERFS_RUN")" "$(readlink -f "/proc/$pid/exe")" \
                "the daemon binary run by mount.fuse3" || return 1
        assert_eq "alice's note" "$(asuser $U cat "$mnt/notes/note" 2>&1)" "alice reading notes/note" || return 1
        assert_eq "" "$(session_field "$pid" ended_at)" "ended_at while mounted" || return 1
        umount "$mnt" || { ITEST_WHY="expected umount $mnt to work"; return 1; }
        wait_gone "$pid" || { ITEST_WHY="expected the daemon $pid to exit after umount"; return 1; }
        refute "$mnt to be unmounted" mountpoint -q "$mnt" &&
        assert "ended_at set after umount" test -n "$(session_field "$pid" ended_at)"
}

VFOLDERFS_RUN=$VFOLDERFS

# overlay_bin DIR...: lay DIRs (read-only) over /usr/local/bin in this
# namespace; the real directory stays visible below them.
overlay_bin() {
        local lower
        lower=$(IFS=:; echo "$*"):/usr/local/bin
        mount -t overlay overlay -o "lowerdir=$lower" /usr/local/bin || return 1
        ITEST_EXTRA_MOUNTS+=(/usr/local/bin)
}
mkdir -p "$T/pathbin"
ln -s "$VFOLDERFS" "$T/pathbin/vfolderfs"
[ -d /usr/local/bin ] || bail "/usr/local/bin does not exist"
overlay_bin "$T/pathbin" || bail "cannot overlay /usr/local/bin"

mount_t_fuse_vfolderfs_runs_the_daemon_from_path() {
        local out
        mkdir -p "$T/m1"
        if ! out=$(mount -t fuse.vfolderfs alice "$T/m1" \
                        -o "catalog=$CAT,allow_other" 2>&1); then
                ITEST_WHY="expected mount -t fuse.vfolderfs to work got: $out"
                return 1
        fi
        check_mounted_then_umount "$T/m1"
}

an_fstab_line_mounts_with_mount_T() {
        local out
        mkdir -p "$T/m2"
        printf '# temporary fstab of deploy.sh\nalice  %s  fuse.vfolderfs  catalog=%s,allow_other  0 0\n' \
                "$T/m2" "$CAT" >"$T/fstab"
        if ! out=$(mount -T "$T/fstab" "$T/m2" 2>&1); then
                ITEST_WHY="expected mount -T fstab MNT to work got: $out"
                return 1
        fi
        check_mounted_then_umount "$T/m2"
}

an_unknown_user_in_fstab_fails_the_mount() {
        mkdir -p "$T/m3"
        printf 'nobody-here  %s  fuse.vfolderfs  catalog=%s,allow_other  0 0\n' "$T/m3" "$CAT" >"$T/fstab.bad"
        local out
        if out=$(mount -T "$T/fstab.bad" "$T/m3" 2>&1); then
                ITEST_WHY="expected the mount of an unknown user to fail"
                return 1
        fi
        assert "the daemon's own error, got: $out" grep -q "^vfolderfs: .*nobody-here" <<<"$out" &&
        refute "no mount at m3" mountpoint -q "$T/m3"
}

# ---- meson install --destdir -------------------------------------------------

STAGE=$T/stage
opt() {
        meson introspect "$BUILD" --buildoptions | jq -r --arg n "$1" '.[] | select(.name == $n) | .value'
}
PREFIX=$(opt prefix)
BINDIR=$PREFIX/$(opt bindir)
SBINDIR=$PREFIX/$(opt sbindir)
MANDIR=$PREFIX/$(opt mandir)
UNITDIR=$PREFIX/lib/systemd/system

meson_install_stages_only_the_expected_files() {
        local out want got
        if ! out=$(meson install -C "$BUILD" --destdir "$STAGE" --no-rebuild 2>&1); then
                ITEST_WHY="expected meson install to work got: $(tail -n 3 <<<"$out")"
                return 1
        fi
        want=$(printf '%s\n' "$BINDIR/vfolderfs" "$SBINDIR/vfolderfs-admin" \
                "$MANDIR/man8/vfolderfs.8" "$MANDIR/man8/vfolderfs-admin.8" "$MANDIR/man5/vfolderfs.conf.5" \
                "$UNITDIR/home-work.mount" "$UNITDIR/vfolderfs@.service" | sort)
        got=$(cd "$STAGE" && find . ! -type d | sed 's|^\.||' | sort)
        assert_eq "$(tr '\n' ' ' <<<"$want")" "$(tr '\n' ' ' <<<"$got")" "the staged files" &&
        assert "executable staged binaries" test -x "$STAGE$BINDIR/vfolderfs" -a -x "$STAGE$SBINDIR/vfolderfs-admin" &&
        assert "the service runs the installed daemon" \
                grep -qx "ExecStart=$BINDIR/vfolderfs -f -o allow_other,catalog=/var/lib/vfolderfs/catalog.db session:%i /home/work" \
                "$STAGE$UNITDIR/vfolderfs@.service"
}

# Make the staged binaries appear at their installed paths in this namespace
# only (a read-only overlay of the staged directory above the real one).
overlay_staged() {
        local d
        # First take away the build's daemon laid over /usr/local/bin above.
        umount /usr/local/bin || { ITEST_WHY="expected to remove the /usr/local/bin overlay"; return 1; }
        for d in "$BINDIR" "$SBINDIR"; do
                [ -d "$d" ] || { ITEST_WHY="expected $d to exist to overlay it"; return 1; }
                mount -t overlay overlay -o "lowerdir=$STAGE$d:$d" "$d" ||
                        { ITEST_WHY="expected an overlay on $d"; return 1; }
                ITEST_EXTRA_MOUNTS+=("$d")
        done
}

the_units_pass_systemd_analyze_verify() {
        local out uuid=0b6c1e2a-1111-4222-8333-444455556666
        if ! command -v systemd-analyze >/dev/null; then
                ITEST_WHY="expected systemd-analyze (Debian package systemd)"
                return 1
        fi
        overlay_staged || return 1
        # The mount unit as installed; its name is the escaped Where= path.
        out=$(systemd-analyze verify --man=no "$STAGE$UNITDIR/home-work.mount" 2>&1) ||
                { ITEST_WHY="home-work.mount: $out"; return 1; }
        # The template as installed (verify names its instance "i"), and as
        # an instance named by a session UUID.
        out=$(systemd-analyze verify --man=no "$STAGE$UNITDIR/vfolderfs@.service" 2>&1) ||
                { ITEST_WHY="vfolderfs@.service: $out"; return 1; }
        mkdir -p "$T/units"
        cp "$STAGE$UNITDIR/vfolderfs@.service" "$T/units/vfolderfs@$uuid.service"
        out=$(systemd-analyze verify --man=no "$T/units/vfolderfs@$uuid.service" 2>&1) ||
                { ITEST_WHY="vfolderfs@$uuid.service: $out"; return 1; }
        # verify does check the name of a mount unit against Where=.
        cp "$STAGE$UNITDIR/home-work.mount" "$T/units/home-other.mount"
        refute "verify to refuse a mount unit named unlike its Where=" \
                systemd-analyze verify --man=no "$T/units/home-other.mount"
}

the_staged_tools_init_a_catalog_and_mount_a_session() {
        local cat2=$T/staged/catalog.db sadmin="$STAGE$SBINDIR/vfolderfs-admin" sid out
        mkdir -p "$T/staged/store" "$T/m4"
        chmod 755 "$T/staged" "$T/staged/store"
        "$sadmin" --catalog "$cat2" init >/dev/null 2>&1 &&
        "$sadmin" --catalog "$cat2" host add local "$T/staged/store" >/dev/null 2>&1 &&
        "$sadmin" --catalog "$cat2" user add alice --uid $U --gid $U >/dev/null 2>&1 &&
        "$sadmin" --catalog "$cat2" folder create data --user alice >/dev/null 2>&1 ||
                { ITEST_WHY="expected the staged vfolderfs-admin to init and fill a catalog"; return 1; }
        sid=$("$sadmin" --catalog "$cat2" session create --user alice --mount data 2>&1) ||
                { ITEST_WHY="session create: $sid"; return 1; }
        # The staged daemon is at its installed path (overlay_staged).
        if ! out=$(mount -t fuse.vfolderfs \
                        "session:$sid" "$T/m4" -o "catalog=$cat2,allow_other" 2>&1); then
                ITEST_WHY="expected the staged daemon to mount session:$sid got: $out"
                return 1
        fi
        local pid
        pid=$(CAT=$cat2 daemon_pid_at "$T/m4")
        [ -n "$pid" ] || { ITEST_WHY="expected a live session at $T/m4"; return 1; }
        DAEMON_PIDS+=("$pid")
        assert_eq "$BINDIR/vfolderfs" "$(readlink "/proc/$pid/exe")" "the daemon's path" &&
        assert "the daemon to be the staged one" cmp -s "/proc/$pid/exe" "$STAGE$BINDIR/vfolderfs" &&
        assert "alice writing into data" asuser $U sh -c "echo hi > '$T/m4/data/f'" &&
        assert "umount" umount "$T/m4" &&
        assert "the daemon to exit" wait_gone "$pid" &&
        assert "the session ended" test -n "$(CAT=$cat2 session_field "$pid" ended_at)" &&
        assert "the staged explorer to download f" "$sadmin" --catalog "$cat2" files get data f "$T/got" &&
        assert_eq hi "$(cat "$T/got")" "the file via the staged explorer"
}

run_test mount_t_fuse_vfolderfs_runs_the_daemon_from_path
run_test an_fstab_line_mounts_with_mount_T
run_test an_unknown_user_in_fstab_fails_the_mount
run_test meson_install_stages_only_the_expected_files
run_test the_units_pass_systemd_analyze_verify
run_test the_staged_tools_init_a_catalog_and_mount_a_session
itest_end
