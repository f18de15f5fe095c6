#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-rofs.sh - a catalog on a read-only mount: reads work, writes fail with
# -EROFS and change nothing.  Root ignores file modes, so the only honest way
# to make the catalog read-only is a read-only bind mount, made inside a
# private mount namespace (unshare -m) that disappears with the test.
# Usage: test-rofs.sh ROFS-HELPER
set -eu
helper=$1
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
        echo "needs root and unshare" >&2
        exit 77
fi
dir=$(mktemp -d /tmp/vf-rofs-XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/storage" "$dir/cat"
"$helper" prepare "$dir/cat/catalog.db" "$dir/storage"
# The same catalog claiming the schema version before the current one.
cp -a "$dir/cat" "$dir/old"
sqlite3 "$dir/old/catalog.db" "PRAGMA user_version = 2"
before=$(sqlite3 "$dir/cat/catalog.db" .dump)
before_old=$(sqlite3 "$dir/old/catalog.db" .dump)
unshare -m --propagation private sh -ec '
        for d in "$1" "$2"; do
                mount --bind "$d" "$d"
                mount -o remount,bind,ro "$d"
                touch "$d/probe" 2>/dev/null && { echo "$d is not read-only" >&2; exit 1; }
        done
        "$3" check "$1/catalog.db"
        "$3" check-old "$2/catalog.db"
' sh "$dir/cat" "$dir/old" "$helper"
after=$(sqlite3 "$dir/cat/catalog.db" .dump)
after_old=$(sqlite3 "$dir/old/catalog.db" .dump)
[ "$before" = "$after" ] || { echo "catalog changed" >&2; exit 1; }
[ "$before_old" = "$after_old" ] || { echo "old catalog changed" >&2; exit 1; }
echo "ok"
