#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# files.sh - the folder explorer `files ls/mkdir/put/get/rm/mv` (SPEC section
# 6): operations inside a folder, containment (no '..' escape, no symlink
# escape to /, to another folder's backing directory or through a relative
# ../ chain; a sentinel tree outside is compared byte for byte), a directory
# of 100,000 entries, and the --user permission (ro, rw, wd) of SPEC section 3.
source "$(dirname "$0")/lib.sh"

# alice owns "data" ($ID, $DIR); bob owns "bobs" ($BDIR) holding bsecret;
# $T/outside holds a sentinel file "secret" next to the host root.
_folders() {
        setup_catalog
        add_users alice bob
        mkfolder --user alice data; ID=$FID
        backing_dir "$ID"; DIR=$BACKING
        mkfolder --user bob bobs; BID=$FID
        backing_dir "$BID"; BDIR=$BACKING
        echo "bob's secret" >"$BDIR/bsecret"
}

_setup() {
        fixture folders _folders ID DIR BID BDIR
        mkdir -p "$T/outside"
        echo "outside secret" >"$T/outside/secret"
        echo "local content" >"$T/in.txt"
        # The relative way from the folder root to $T/outside; checked, so
        # that every escape below aims at something real.
        OUT_REL=$(realpath -m --relative-to="$DIR" "$T/outside")
        [[ $OUT_REL == ../* && -f $DIR/$OUT_REL/secret ]] ||
                fail "no relative way out of the folder" "$DIR/$OUT_REL/secret" "missing"
        OUTSIDE_TREE=$(_tree "$T/outside")
        BOBS_TREE=$(_tree "$BDIR")
}

# _tree DIR: names, types, sizes, link targets, modification and change
# times of every entry (a write, chmod, rename or removal shows).  Unsorted:
# the order of an unchanged tmpfs directory is stable.
_tree() {
        find "$1" -printf '%p %y %s %l %T@ %C@\n'
}

# _same_tree WHAT BEFORE DIR: DIR's _tree is still BEFORE.
_same_tree() {
        local now
        now=$(_tree "$3")
        [[ $now == "$2" ]] || fail "$1 changed" "$(tr '\n' '|' <<<"$2")" "$(tr '\n' '|' <<<"$now")"
}

# _outside_unchanged: nothing outside alice's folder was written or removed.
_outside_unchanged() {
        _same_tree "the tree outside the folder" "$OUTSIDE_TREE" "$T/outside"
        _same_tree "another folder's backing directory" "$BOBS_TREE" "$BDIR"
}

# _names: entry names of a `files ls --json` on $OUT, sorted, comma-joined.
_names() { jqo 'map(.name) | sort | join(",")'; }

# _ls_does_not_reveal PATH NAME...: `files ls data PATH` fails, or lists
# only the entry itself: never the names inside the target.
_ls_does_not_reveal() {
        local path=$1 n
        shift
        adm --json files ls data "$path"
        if [[ $RC -ne 0 ]]; then
                _check_error_shape
                return
        fi
        for n in "$@"; do
                assert_not_contains "\"$n\"" "$OUT" "listing through '$path'"
        done
}

# _get_fails PATH: `files get` fails; neither the local file nor stdout
# carries anything.
_get_fails() {
        fails files get data "$1" "$T/got"
        assert_absent "$T/got"
        fails files get data "$1"
}

# ---------------------------------------------------------------------------
# Operations.

put_then_get_round_trips_binary_content() {
        _setup
        head -c 200000 /dev/urandom >"$T/in.bin"
        ok files put data "$T/in.bin"
        cmp -s "$T/in.bin" "$DIR/in.bin" || fail "stored bytes differ" "in.bin stored" "$(ls -l "$DIR")"
        ok files get data in.bin "$T/back.bin"
        cmp -s "$T/in.bin" "$T/back.bin" || fail "fetched bytes differ" "same bytes" "$(ls -l "$T/back.bin")"
}

put_stores_at_the_given_path() {
        _setup
        mkdir "$DIR/sub"
        ok files put data "$T/in.txt" sub/x.txt
        assert_file_content "$DIR/sub/x.txt" "local content"
        assert_absent "$DIR/in.txt"
}

put_over_an_existing_file_needs_force() {
        _setup
        echo old >"$DIR/in.txt"
        fails files put data "$T/in.txt"
        assert_file_content "$DIR/in.txt" old
        ok files put data "$T/in.txt" --force
        assert_file_content "$DIR/in.txt" "local content"
}

get_without_local_writes_to_stdout() {
        _setup
        echo hello >"$DIR/h"
        ok files get data h
        assert_eq hello "$OUT"
}

get_of_a_directory_fails() {
        _setup
        mkdir "$DIR/d"
        fails files get data d "$T/got"
        assert_absent "$T/got"
}

put_beyond_the_quota_fails_and_leaves_nothing() {
        _setup
        ok folder set data --quota 1K
        head -c 600 /dev/zero >"$T/small"
        head -c 2000 /dev/zero >"$T/big"
        ok files put data "$T/small"
        fails files put data "$T/big"
        assert_absent "$DIR/big"
        assert_eq "small" "$(ls -A "$DIR")" "entries of the folder"
}

json_file_names_are_exact_for_any_byte() {
        _setup
        touch "$DIR/q\"uote" "$DIR/back\\slash" "$DIR/new"$'\n'"line" "$DIR/tab"$'\t' "$DIR/ünï"
        ok --json files ls data
        jqo '.[].name | @json'
        assert_eq "$(printf '%s\n' '"back\\slash"' '"new\nline"' '"q\"uote"' '"tab\t"' '"ünï"' | sort)" \
                "$(sort <<<"$JQ")" "names as JSON strings"
}

get_of_missing_file_fails() {
        _setup
        _get_fails nosuch
}

ls_lists_files_directories_and_symlinks_with_sizes() {
        _setup
        printf 12345 >"$DIR/f"
        mkdir "$DIR/d"
        ln -s f "$DIR/l"
        ok --json files ls data
        assert_jq 'length' 3 "entries"
        assert_jq 'map(keys) | unique' "[$FILE_KEYS]"
        assert_jq "map($FILE_TYPES) | all" true "field types"
        assert_jq 'sort_by(.name) | map([.name, .type])' '[["d","dir"],["f","file"],["l","symlink"]]'
        assert_jq 'map(select(.name == "f") | .size)' '[5]'
}

ls_of_subdirectory_lists_its_entries() {
        _setup
        mkdir -p "$DIR/a/b"
        touch "$DIR/a/x" "$DIR/a/y"
        ok --json files ls data a
        _names
        assert_eq "b,x,y" "$JQ"
        ok --json files ls data /a
        _names
        assert_eq "b,x,y" "$JQ" "a leading / names the folder root"
}

ls_table_has_a_header_and_one_line_per_entry() {
        _setup
        touch "$DIR/one" "$DIR/two"
        ok files ls data
        assert_eq 3 "$(wc -l <"$T/.out")" "lines of the table"
        assert_match 'NAME' "$(head -1 "$T/.out")" "header"
}

ls_of_missing_path_fails() {
        _setup
        fails files ls data nosuch
}

mkdir_creates_a_directory() {
        _setup
        ok files mkdir data newdir
        assert_dir "$DIR/newdir"
        ok files mkdir data newdir/inner
        assert_dir "$DIR/newdir/inner"
}

mkdir_of_existing_directory_fails() {
        _setup
        mkdir "$DIR/d"
        fails files mkdir data d
}

rm_removes_a_file() {
        _setup
        echo x >"$DIR/f"
        ok files rm data f
        assert_absent "$DIR/f"
}

rm_of_a_directory_needs_r() {
        _setup
        mkdir -p "$DIR/d/e"
        echo x >"$DIR/d/e/f"
        fails files rm data d
        assert_exists "$DIR/d/e/f"
        ok files rm data d -r
        assert_absent "$DIR/d"
        assert_dir "$DIR"
}

rm_of_missing_file_fails() {
        _setup
        fails files rm data nosuch
}

rm_r_of_the_folder_root_is_refused() {
        _setup
        echo x >"$DIR/f"
        fails files rm data / -r
        assert_file_content "$DIR/f" x
        fails files rm data . -r
        assert_file_content "$DIR/f" x
}

mv_renames_within_the_folder() {
        _setup
        echo x >"$DIR/a"
        mkdir "$DIR/sub"
        ok files mv data a b
        assert_absent "$DIR/a"
        assert_file_content "$DIR/b" x
        ok files mv data b sub/c
        assert_file_content "$DIR/sub/c" x
}

# ---------------------------------------------------------------------------
# Containment.  $OUT_REL leads from the folder root to $T/outside.

dotdot_escape_is_refused_for_get() {
        _setup
        mkdir "$DIR/sub"
        _get_fails "$OUT_REL"/secret
        _get_fails "sub/../$OUT_REL/secret"
        _outside_unchanged
}

dotdot_escape_is_refused_for_ls() {
        _setup
        fails files ls data "$OUT_REL"
        fails files ls data ..
        _outside_unchanged
}

dotdot_escape_is_refused_for_put_mkdir_rm_mv() {
        _setup
        echo x >"$DIR/inner"
        fails files put data "$T/in.txt" "$OUT_REL"/new-put
        fails files put data "$T/in.txt" "$OUT_REL"/secret --force
        fails files mkdir data "$OUT_REL"/new-dir
        fails files rm data "$OUT_REL"/secret
        fails files rm data "$OUT_REL" -r
        fails files mv data "$OUT_REL"/secret stolen
        fails files mv data inner "$OUT_REL"/new-mv
        assert_absent "$DIR/stolen"
        _outside_unchanged
}

absolute_path_is_taken_inside_the_folder() {
        _setup
        _get_fails /etc/hostname
        mkdir "$DIR/etc"
        echo mine >"$DIR/etc/hostname"
        ok files get data /etc/hostname
        assert_eq mine "$OUT"
}

symlink_to_root_is_not_followed() {
        _setup
        ln -s / "$DIR/root"
        _get_fails root/etc/hostname
        _ls_does_not_reveal root etc proc usr
        fails files put data "$T/in.txt" root/tmp/new-through-root
        fails files mkdir data root/tmp/new-dir-through-root
        assert_absent /tmp/new-through-root
        assert_absent /tmp/new-dir-through-root
        _outside_unchanged
}

symlink_to_another_folders_backing_directory_is_not_followed() {
        _setup
        ln -s "$BDIR" "$DIR/peek"
        _get_fails peek/bsecret
        _ls_does_not_reveal peek bsecret
        fails files put data "$T/in.txt" peek/new-put
        fails files mkdir data peek/new-dir
        fails files rm data peek/bsecret
        fails files mv data peek/bsecret stolen
        assert_absent "$DIR/stolen"
        _outside_unchanged
}

relative_symlink_chain_out_of_the_folder_is_not_followed() {
        _setup
        mkdir "$DIR/a"
        ln -s "../$OUT_REL" "$DIR/a/out"
        ln -s a/out "$DIR/hop"
        [[ -f $DIR/hop/secret ]] || fail "the chain does not reach outside"
        _get_fails a/out/secret
        _get_fails hop/secret
        _ls_does_not_reveal a/out secret
        _ls_does_not_reveal hop secret
        fails files put data "$T/in.txt" hop/new-put
        fails files mkdir data hop/new-dir
        fails files rm data hop/secret
        fails files mv data hop/secret stolen
        _outside_unchanged
}

final_symlink_to_outside_file_is_neither_read_nor_written_through() {
        _setup
        ln -s "$T/outside/secret" "$DIR/abs"
        ln -s "$OUT_REL/secret" "$DIR/rel"
        _get_fails abs
        _get_fails rel
        adm files put data "$T/in.txt" abs --force
        adm files put data "$T/in.txt" rel --force
        _outside_unchanged
}

rm_of_a_symlink_removes_the_link_not_its_target() {
        _setup
        ln -s "$T/outside" "$DIR/out"
        ok files rm data out
        assert_absent "$DIR/out"
        ln -s "$T/outside" "$DIR/out"
        ok files rm data out -r
        assert_absent "$DIR/out"
        _outside_unchanged
}

rm_r_does_not_follow_symlinks_inside_the_tree() {
        _setup
        mkdir -p "$DIR/d/e"
        ln -s "$T/outside" "$DIR/d/abs"
        ln -s "../../$OUT_REL" "$DIR/d/e/rel"
        [[ -f $DIR/d/e/rel/secret ]] || fail "the link does not reach outside"
        ln -s "$BDIR" "$DIR/d/bob"
        ok files rm data d -r
        assert_absent "$DIR/d"
        _outside_unchanged
}

# ---------------------------------------------------------------------------
# Scale.

ls_of_a_directory_with_100000_entries_lists_them_all() {
        _setup
        mkdir "$DIR/big"
        (cd "$DIR/big" && seq -f 'e%06g' 0 99999 | xargs touch) || fail "cannot make 100000 entries"
        ok --json files ls data big
        # Each name exactly once, nothing else (one jq run: it is slow on 5 MB).
        jq -r '.[].name' "$T/.out" | sort >"$T/listed" || fail "files ls printed no JSON array"
        seq -f 'e%06g' 0 99999 >"$T/expected"
        cmp -s "$T/expected" "$T/listed" ||
                fail "listing differs from the directory" "100000 names e000000..e099999" \
                        "$(wc -l <"$T/listed") names; first difference: $(diff "$T/expected" "$T/listed" | sed -n 2p)"
        ok files ls data big
        assert_eq 100001 "$(wc -l <"$T/.out")" "table lines (header and 100000 rows)"
}

# ---------------------------------------------------------------------------
# Permission of --user.

_share() { # PERM: share alice's data with bob at PERM; a file and a dir in it
        _setup
        echo keep >"$DIR/f"
        mkdir "$DIR/d"
        echo other >"$DIR/g"
        ok folder share data bob --permission "$1"
        DATA_TREE=$(_tree "$DIR")
}

_data_unchanged() { _same_tree "the folder" "$DATA_TREE" "$DIR"; }

read_only_user_can_list_and_get() {
        _share ro
        ok --json files ls data --user bob
        _names
        assert_eq "d,f,g" "$JQ"
        ok files get data f --user bob
        assert_eq keep "$OUT"
}

read_only_user_cannot_mkdir_put_rm_or_mv() {
        _share ro
        fails files mkdir data newdir --user bob
        fails files put data "$T/in.txt" --user bob
        fails files put data "$T/in.txt" f --force --user bob
        fails files rm data f --user bob
        fails files rm data d -r --user bob
        fails files mv data f renamed --user bob
        _data_unchanged
}

read_write_user_can_mkdir_put_and_rename_to_a_new_name() {
        _share rw
        ok files mkdir data newdir --user bob
        assert_dir "$DIR/newdir"
        ok files put data "$T/in.txt" --user bob
        assert_file_content "$DIR/in.txt" "local content"
        ok files mv data f renamed --user bob
        assert_file_content "$DIR/renamed" keep
        assert_absent "$DIR/f"
}

# _record PATH: the creator record on the storage (trusted.*, else user.*),
# or "none".
_record() {
        getfattr -h --absolute-names --only-values -n trusted.vfolderfs.creator "$1" 2>/dev/null ||
                getfattr -h --absolute-names --only-values -n user.vfolderfs.creator "$1" 2>/dev/null ||
                echo none
}

# SPEC section 3: rw removes or replaces only what the same user created;
# `put --force` replaces a file (a new file takes its name), so with rw it
# is refused over a file the user did not create.
read_write_user_cannot_replace_someone_elses_file_with_put_force() {
        _share rw
        fails files put data "$T/in.txt" f --force --user bob
        assert_contains "permission denied (rw): 'f' was not created by 'bob'" "$ERR"
        _data_unchanged
}

read_write_user_can_replace_remove_and_rename_over_what_they_created() {
        _share rw
        ok files put data "$T/in.txt" mine --user bob
        ok files put data "$T/in.txt" mine --force --user bob
        assert_file_content "$DIR/mine" "local content"
        ok files mkdir data mydir --user bob
        ok files put data "$T/in.txt" mydir/inner --user bob
        ok files mkdir data mydir/sub --user bob
        ok files rm data mydir -r --user bob
        assert_absent "$DIR/mydir"
        ok files put data "$T/in.txt" other --user bob
        ok files mv data other mine --user bob
        assert_absent "$DIR/other"
        ok files rm data mine --user bob
        assert_absent "$DIR/mine"
        # alice's entries as they were (the folder's own directory changed)
        local now
        now=$(_tree "$DIR" | tail -n +2)
        assert_eq "$(tail -n +2 <<<"$DATA_TREE")" "$now" "alice's entries"
}

read_write_user_cannot_remove_a_tree_holding_someone_elses_entry() {
        _share rw
        ok files mkdir data mydir --user bob
        ok files mkdir data mydir/sub --user bob
        ok files put data "$T/in.txt" mydir/a --user bob
        echo alice >"$DIR/mydir/sub/alices"
        local before
        before=$(_tree "$DIR/mydir")
        fails files rm data mydir -r --user bob
        assert_contains "'alices' in it was not created by 'bob'" "$ERR"
        _same_tree "bob's directory" "$before" "$DIR/mydir"
}

read_write_user_cannot_move_over_someone_elses_entry() {
        _share rw
        ok files put data "$T/in.txt" mine --user bob
        fails files mv data mine f --user bob
        assert_contains "'f' was not created by 'bob'" "$ERR"
        assert_file_content "$DIR/f" keep
        assert_file_content "$DIR/mine" "local content"
}

files_put_and_mkdir_record_the_user_and_the_operator_records_nothing() {
        _share rw
        ok files put data "$T/in.txt" by_bob --user bob
        ok files mkdir data dir_by_bob --user bob
        ok files mkdir data a/b/c -p --user bob
        ok files put data "$T/in.txt" by_operator
        ok files mkdir data dir_by_operator
        local bob
        bob=$(user_id bob)
        assert_eq "$bob" "$(_record "$DIR/by_bob")" "record of a put --user bob"
        assert_eq "$bob" "$(_record "$DIR/dir_by_bob")" "record of a mkdir --user bob"
        assert_eq "$bob" "$(_record "$DIR/a/b/c")" "record of a mkdir -p --user bob"
        assert_eq "$bob" "$(_record "$DIR/a")" "record of a parent made by mkdir -p --user bob"
        assert_eq none "$(_record "$DIR/by_operator")" "record of a put by the operator"
        assert_eq none "$(_record "$DIR/dir_by_operator")" "record of a mkdir by the operator"
        # the operator's entries are of unknown origin: not bob's
        fails files rm data by_operator --user bob
        assert_exists "$DIR/by_operator"
}

files_mv_keeps_the_record() {
        _share rw
        ok files put data "$T/in.txt" by_bob --user bob
        ok files mv data by_bob moved
        assert_eq "$(user_id bob)" "$(_record "$DIR/moved")" "record after the operator's mv"
        ok files rm data moved --user bob
        assert_absent "$DIR/moved"
}

# The explorer never shows or copies the record: get writes the content
# only, ls shows no attribute.
files_get_copies_no_record() {
        _share rw
        ok files put data "$T/in.txt" by_bob --user bob
        ok files get data by_bob "$T/got.txt" --user bob
        assert_file_content "$T/got.txt" "local content"
        assert_eq none "$(_record "$T/got.txt")" "record on the downloaded copy"
}

read_write_user_cannot_remove_or_replace() {
        _share rw
        fails files rm data f --user bob
        fails files rm data d --user bob
        fails files rm data d -r --user bob
        fails files mv data f g --user bob
        _data_unchanged
}

read_write_delete_user_can_remove_and_replace() {
        _share wd
        ok files rm data f --user bob
        assert_absent "$DIR/f"
        ok files rm data d -r --user bob
        assert_absent "$DIR/d"
        echo new >"$DIR/n"
        ok files mv data n g --user bob
        assert_file_content "$DIR/g" new
        assert_absent "$DIR/n"
}

owner_of_read_only_folder_cannot_write_with_user() {
        _setup
        ok folder set data --permission ro
        fails files mkdir data newdir --user alice
        fails files put data "$T/in.txt" --user alice
        assert_absent "$DIR/newdir"
        assert_absent "$DIR/in.txt"
        ok files mkdir data newdir
        assert_dir "$DIR/newdir"
}

files_of_a_trashed_folder_can_be_listed_but_not_changed() {
        _setup
        echo x >"$DIR/f"
        ok folder delete data
        ok --json files ls data
        _names
        assert_eq f "$JQ"
        fails files put data "$T/in.txt"
        fails files rm data f
        assert_absent "$DIR/in.txt"
        assert_file_content "$DIR/f" x
}

run_tests files "$@"
