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
before=$(sqlite3 "$dir/cat/catalog.db" .dump)
unshare -m --propagation private sh -ec '
        mount --bind "$1" "$1"
        mount -o remount,bind,ro "$1"
        touch "$1/probe" 2>/dev/null && { echo "mount is not read-only" >&2; exit 1; }
        "$2" check "$1/catalog.db"
' sh "$dir/cat" "$helper"
after=$(sqlite3 "$dir/cat/catalog.db" .dump)
[ "$before" = "$after" ] || { echo "catalog changed" >&2; exit 1; }
echo "ok"
