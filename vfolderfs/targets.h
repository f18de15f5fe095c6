/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * targets.h - folders whose target is outside the mount point (SPEC section
 * 3): bind mounts of each one's hidden entry in the mount root
 * (MOUNTPOINT/.vfolderfs-target-N, see view.h) onto its target, made at
 * start by a thread of the daemon while the session loop answers the
 * lookups they need, and removed (MNT_DETACH) at teardown.  The thread then
 * watches the mount table: once the FUSE mount itself is gone (fusermount3
 * -u, umount), it detaches the bind mounts too, which ends the loop like an
 * unmount without them would.
 */
#pragma once

#include <stdbool.h>

#include "vfolderfs.h"

struct targets;

/*
 * Start the thread if the view *view (the session's, read inside epochs:
 * the catalog watcher may replace it) has outside folders (else *ret is
 * NULL and ready(arg) is called at once).  ready(arg) runs in the thread once every
 * bind mount is made; on a failure the thread prints one line on stderr,
 * sets targets_failed() and stops the session loop.  Call after
 * fuse_set_signal_handlers() and fuse_session_mount(), before the loop.
 * Returns 0 or a negative errno.
 */
int targets_start(struct fuse_session *se, struct view *_Atomic *view,
                  const char *mountpoint, void (*ready)(void *), void *arg,
                  struct targets **ret);

/*
 * After the loop has ended: stop the thread, remove the bind mounts made,
 * free.  If the bind mounts were not all made yet, the FUSE mount is
 * unmounted first (so that a bind waiting for a lookup fails).  Returns
 * whether the thread had failed (accepts NULL: false).
 */
bool targets_stop(struct targets *t, struct fuse_session *se);
