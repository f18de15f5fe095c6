#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# containment.sh - SPEC section 3 "Containment": no operation in a session
# reaches outside a folder's backing directory, not through "..", not through
# a symlink (absolute, relative, a symlinked directory, one swapped in by a
# concurrent rename), not through hard links.  Symlinks are returned verbatim
# and resolved by the kernel in the session's view, never by the daemon.
#
# How the two views are told apart: the folder's backing directory lies N
# levels below $T ($T/storage/<scope>/<hex2>/<hex2>/<rest>), and the mountpoint
# is put so that the folder's directory in the session also lies N levels
# below $T/view.  A symlink "../"*N"sentinel/secret" therefore means
# $T/sentinel/secret if the daemon followed it on the storage host, and
# $T/view/sentinel/secret (a decoy with different content) when the kernel
# resolves it in the session, as it must.  The sentinel tree (content
# checksums, modes, mtimes, xattrs, listing) must be unchanged at the end.

. "$(dirname "$0")/lib.sh"
itest_begin containment "$@"

U=1000
must admin user add alice --uid $U --gid $U
must admin folder create A --user alice --permission wd
must admin folder create R --user alice --permission ro
BA=$(backing_of A) || bail "no backing directory for folder A"
BR=$(backing_of R) || bail "no backing directory for folder R"

# N: components of the backing directory below $T.
rel=${BA#"$T"/}
N=$(awk -F/ '{ print NF }' <<<"$rel")
UP=
for _ in $(seq "$N"); do UP+="../"; done
MNT=$T/view
for i in $(seq $((N - 2))); do MNT+="/c$i"; done
MNT+=/mnt
mkdir -p "$MNT"
chmod -R 755 "$T/view"

# The sentinel (what the daemon would reach) and its decoy (what the kernel
# reaches in the session view).
mkdir -p "$T/sentinel/sub" "$T/view/sentinel"
printf 'backing-sentinel\n' >"$T/sentinel/secret"
printf 'deep\n' >"$T/sentinel/sub/deep"
"$FSOP" setxattr "$T/sentinel/secret" user.mark sentinel >/dev/null
printf 'session-view\n' >"$T/view/sentinel/secret"
: >"$T/view/sentinel/viewonly"
chmod 755 "$T/sentinel" "$T/sentinel/sub" "$T/view/sentinel"
chmod 644 "$T/sentinel/secret" "$T/sentinel/sub/deep" "$T/view/sentinel/secret"
# A neighbour of the folder's backing directory on the storage host.
mkdir -p "$(dirname "$BA")/decoy"
printf 'backing-neighbour\n' >"$(dirname "$BA")/decoy/secret"

# The planted symlinks, as an operator or an earlier session could leave them.
printf 'inside\n' >"$BA/afile"
printf 'ro-content\n' >"$BR/rfile"
ln -s /etc/hostname "$BA/abs_etc"
ln -s "$BR" "$BA/abs_other"
ln -s "${UP}sentinel/secret" "$BA/esc"
ln -s "${UP}sentinel" "$BA/escdir"
ln -s ../decoy/secret "$BA/nb"
ln -s ../R/rfile "$BA/tor"
mkdir "$BA/race"
ln -s "${UP}sentinel" "$BA/race_ln"
chmod 644 "$BA/afile" "$BR/rfile"

snapshot() {
        python3 - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
for dirpath, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    for name in [""] + sorted(dirs + files):
        p = os.path.join(dirpath, name) if name else dirpath
        st = os.lstat(p)
        line = [os.path.relpath(p, root), oct(st.st_mode), str(st.st_size),
                str(st.st_mtime_ns), str(st.st_uid), str(st.st_gid)]
        if stat.S_ISREG(st.st_mode):
            line.append(hashlib.sha256(open(p, "rb").read()).hexdigest())
        if stat.S_ISLNK(st.st_mode):
            line.append(os.readlink(p))
        else:
            line.append(",".join(sorted(f"{x}={os.getxattr(p, x).decode()}"
                                        for x in os.listxattr(p))))
        print(" ".join(line))
PY
}
SENTINEL_BEFORE=$(snapshot "$T/sentinel")
NEIGHBOUR_BEFORE=$(snapshot "$(dirname "$BA")/decoy")

must_start "$MNT" alice
D=$MNT/A
printf 'scratch-decoy\n' | asuser $U sh -c "mkdir -p '$MNT/decoy' && cat >'$MNT/decoy/secret'" ||
        bail "cannot write to scratch"

type_of() { asuser $U stat -c %F "$1" 2>&1; }

readlink_returns_an_absolute_symlink_verbatim() {
        assert_eq /etc/hostname "$(asuser $U readlink "$D/abs_etc" 2>&1)" "readlink abs_etc" &&
        assert_eq "$BR" "$(asuser $U readlink "$D/abs_other" 2>&1)" "readlink abs_other"
}

readlink_returns_a_relative_escape_chain_verbatim() {
        assert_eq "${UP}sentinel/secret" "$(asuser $U readlink "$D/esc" 2>&1)" "readlink esc" &&
        assert_eq "${UP}sentinel" "$(asuser $U readlink "$D/escdir" 2>&1)" "readlink escdir"
}

escaping_symlinks_appear_as_symlinks_not_as_their_targets() {
        local l
        for l in abs_etc abs_other esc escdir nb; do
                assert_eq "symbolic link" "$(type_of "$D/$l")" "type of $l" || return 1
        done
}

a_relative_escape_resolves_in_the_session_view() {
        assert_eq session-view "$(asuser $U cat "$D/esc" 2>&1)" "content read through esc"
}

a_symlinked_directory_resolves_in_the_session_view() {
        assert_eq "secret viewonly" "$(asuser $U ls "$D/escdir/" 2>&1 | tr '\n' ' ' | sed 's/ $//')" \
                "listing through escdir"
}

a_symlink_to_the_backing_neighbour_reads_scratch_instead() {
        assert_eq scratch-decoy "$(asuser $U cat "$D/nb" 2>&1)" "content read through nb"
}

a_symlink_into_a_ro_folder_gets_that_folders_enforcement() {
        assert_eq ro-content "$(asuser $U cat "$D/tor" 2>&1)" "content read through tor" &&
        assert_eq EROFS "$(op $U write "$D/tor" X)" "write through tor" &&
        assert_eq ro-content "$(cat "$BR/rfile")" "backing content of R/rfile"
}

an_absolute_symlink_to_another_backing_dir_is_resolved_by_the_kernel() {
        # The kernel resolves it on the host (this test has no container root),
        # where the backing dir belongs to root: the session user cannot write.
        assert_eq EACCES "$(op $U create "$D/abs_other/planted" 644)" "create through abs_other" &&
        refute "no file planted in R's backing dir" test -e "$BR/planted"
}

dotdot_at_a_folder_root_leads_to_the_mount_root() {
        assert_eq "$(stat -c %i "$MNT")" "$(asuser $U stat -c %i "$D/..")" "inode of A/.." &&
        assert_eq "A R decoy" "$(asuser $U ls "$D/.." 2>&1 | tr '\n' ' ' | sed 's/ $//')" "listing of A/.."
}

a_dotdot_chain_never_reaches_the_backing_host_root() {
        assert_eq session-view "$(asuser $U cat "$D/${UP}sentinel/secret" 2>&1)" "content via A/${UP}" &&
        assert_eq scratch-decoy "$(asuser $U cat "$D/../decoy/secret" 2>&1)" "content via A/../decoy"
}

hard_links_to_files_outside_cannot_be_made() {
        assert_eq EXDEV "$(op 0 link "$T/sentinel/secret" "$D/hl_in")" "link sentinel -> A" &&
        assert_eq EXDEV "$(op 0 link "$D/afile" "$T/hl_out")" "link A -> outside" &&
        assert_eq EXDEV "$(op 0 linkf "$D/esc" "$D/hl_follow")" "link following esc" &&
        assert_eq EXDEV "$(op $U link "$D/afile" "$MNT/R/hl_ro")" "link A -> R" &&
        refute "no link in A's backing dir" test -e "$BA/hl_in" &&
        refute "no link in A's backing dir" test -e "$BA/hl_follow"
}

attribute_changes_on_escaping_symlinks_stay_on_the_symlink() {
        # Root in the session: the daemon must act on the link itself (or
        # refuse), never on what it points to on the storage host.
        op 0 lsetxattr "$D/esc" user.evil 1 >/dev/null
        op 0 lsetxattr "$D/escdir" user.evil 1 >/dev/null
        op 0 lutimens "$D/esc" 1000000000 >/dev/null
        op 0 lutimens "$D/escdir" 1000000000 >/dev/null
        op 0 lchown "$D/esc" 0 0 >/dev/null
        assert_eq "$SENTINEL_BEFORE" "$(snapshot "$T/sentinel")" "sentinel tree"
}

writes_through_escaping_symlinks_never_reach_the_sentinel() {
        op $U write "$D/esc" EVIL >/dev/null
        op $U create "$D/escdir/planted" 644 >/dev/null
        op $U truncate "$D/esc" 0 >/dev/null
        op 0 create "$D/escdir/planted_by_root" 644 >/dev/null
        op 0 unlink "$D/escdir/secret" >/dev/null
        op 0 rename "$D/esc" "$D/esc_moved" >/dev/null
        op 0 rename "$D/esc_moved" "$D/esc" >/dev/null
        assert_eq "$SENTINEL_BEFORE" "$(snapshot "$T/sentinel")" "sentinel tree" &&
        assert_eq "$NEIGHBOUR_BEFORE" "$(snapshot "$(dirname "$BA")/decoy")" "backing neighbour"
}

a_symlink_swapped_in_by_a_concurrent_rename_is_never_followed() {
        # On the storage host, race/ (a real directory) and race_ln (a symlink
        # to the sentinel) trade places, pausing 100 us between swaps, while
        # the session user creates, writes, chmods and removes entries under
        # A/race/ in rounds of 2 s, until some calls have landed in the real
        # directory (at most 5 rounds; how many landed is printed, not
        # asserted: the deterministic test below is the one sure to reach
        # the daemon with a swapped directory).
        local swaps round i landed=0
        "$FSOP" swaploop "$BA/race" "$BA/race_ln" 60000 100 >"$T/swaps" &
        local swapper=$!
        for round in 1 2 3 4 5; do
                for i in $(seq "${round}000" "${round}999"); do
                        printf 'create\t%s\t644\n' "$D/race/f$i"
                        printf 'write\t%s\tEVIL\n' "$D/race/f$i"
                        printf 'mkdir\t%s\t755\n' "$D/race/d$i"
                        printf 'chmod\t%s\t777\n' "$D/race/secret"
                        printf 'setxattr\t%s\tuser.evil\t1\n' "$D/race/secret"
                        printf 'truncate\t%s\t0\n' "$D/race/secret"
                        printf 'unlink\t%s\n' "$D/race/sub/deep"
                        printf 'rename\t%s\t%s\n' "$D/race/secret" "$D/race/moved$i"
                done 2>/dev/null | asuser $U "$FSOP" batch 2000 >>"$T/race.out" 2>&1
                landed=$(grep -cx ok "$T/race.out")
                [ "$landed" -gt 0 ] && break
        done
        kill -USR1 "$swapper" 2>/dev/null
        wait "$swapper"
        swaps=$(cat "$T/swaps")
        echo "# race: $swaps swaps, $(wc -l <"$T/race.out") calls, $landed succeeded"
        assert "the swapper to run (got '$swaps')" test "$swaps" -gt 0 2>/dev/null &&
        assert_eq "$SENTINEL_BEFORE" "$(snapshot "$T/sentinel")" "sentinel tree"
}

a_directory_swapped_for_a_symlink_after_lookup_is_never_followed() {
        # Deterministic version of the race: the session looks the directory
        # up (the kernel caches it for the 1 s entry timeout), the host swaps
        # it with a symlink to the sentinel, and the session at once creates
        # and changes entries "in" it.  The kernel sends these calls to the
        # daemon for the directory it looked up; the daemon must act in that
        # directory (now named swapln) or refuse, never follow the symlink now
        # at its old name.  All of it by root (the worst case), in one process.
        local out
        # The storage watcher would show the swap to the kernel at once (the
        # kernel then follows the new symlink in the session view, which is
        # safe and tested below): this case needs the kernel's cached entry.
        daemon_stop "$MNT" "$DAEMON_PID"
        must_start "$MNT" alice nowatch
        mkdir "$BA/swapdir"
        ln -s "${UP}sentinel" "$BA/swapln"
        out=$(printf '%s\n' \
                "stat	$D/swapdir/." \
                "rename2	$BA/swapdir	$BA/swapln	exchange" \
                "create	$D/swapdir/planted	644" \
                "chmod	$D/swapdir/secret	777" \
                "setxattr	$D/swapdir/secret	user.evil	1" \
                "truncate	$D/swapdir/secret	0" \
                "mkdir	$D/swapdir/pdir	755" |
                "$FSOP" batch | tr '\n' ' ')
        echo "# swap after lookup: $out"
        assert_eq "ok ok" "$(cut -d' ' -f1-2 <<<"$out")" "the lookup and the swap" &&
        refute "the calls to reach the daemon, not the session view (took > 1 s?)" \
                test -e "$T/view/sentinel/planted" &&
        assert_eq "$SENTINEL_BEFORE" "$(snapshot "$T/sentinel")" "sentinel tree" &&
        if [ "$(cut -d' ' -f3 <<<"$out")" = ok ]; then
                assert "planted to be in the real directory (now swapln)" test -f "$BA/swapln/planted"
        fi
}

a_directory_swapped_for_a_symlink_on_the_host_is_seen_as_that_symlink_at_once() {
        # With the storage watcher (the default), the kernel drops its entry
        # for swapdir2 as soon as the host swaps it: the session sees the
        # symlink, and following it resolves in the session view.
        local out
        daemon_stop "$MNT" "$DAEMON_PID"
        must_start "$MNT" alice
        mkdir "$BA/swapdir2"
        ln -s "${UP}sentinel" "$BA/swapln2"
        out=$(printf '%s\n' \
                "stat	$D/swapdir2/." \
                "rename2	$BA/swapdir2	$BA/swapln2	exchange" |
                "$FSOP" batch | tr '\n' ' ')
        sleep 0.2
        out+=$(printf 'create	%s	644\n' "$D/swapdir2/planted2" | "$FSOP" batch)
        echo "# swap seen at once: $out"
        assert_eq "ok ok ok" "$out" "the lookup, the swap and the create" &&
        assert "planted2 in the session view's sentinel" test -f "$T/view/sentinel/planted2" &&
        refute "planted2 in the real directory" test -e "$BA/swapln2/planted2" &&
        assert_eq "$SENTINEL_BEFORE" "$(snapshot "$T/sentinel")" "sentinel tree"
}

run_test readlink_returns_an_absolute_symlink_verbatim
run_test readlink_returns_a_relative_escape_chain_verbatim
run_test escaping_symlinks_appear_as_symlinks_not_as_their_targets
run_test a_relative_escape_resolves_in_the_session_view
run_test a_symlinked_directory_resolves_in_the_session_view
run_test a_symlink_to_the_backing_neighbour_reads_scratch_instead
run_test a_symlink_into_a_ro_folder_gets_that_folders_enforcement
run_test an_absolute_symlink_to_another_backing_dir_is_resolved_by_the_kernel
run_test dotdot_at_a_folder_root_leads_to_the_mount_root
run_test a_dotdot_chain_never_reaches_the_backing_host_root
run_test hard_links_to_files_outside_cannot_be_made
run_test attribute_changes_on_escaping_symlinks_stay_on_the_symlink
run_test writes_through_escaping_symlinks_never_reach_the_sentinel
run_test a_directory_swapped_for_a_symlink_after_lookup_is_never_followed
run_test a_directory_swapped_for_a_symlink_on_the_host_is_seen_as_that_symlink_at_once
run_test a_symlink_swapped_in_by_a_concurrent_rename_is_never_followed

daemon_stop "$MNT" "$DAEMON_PID"
itest_end
