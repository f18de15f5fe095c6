/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.h - the storage watcher: fanotify on the file systems of the
 * session's folders, turning changes made by any other process (another
 * session's daemon, the admin tool, a program on the storage host) into
 * kernel cache invalidations of this mount at once.
 *
 * Every directory of a watched folder that the kernel knows carries a mark
 * (watch_dir(), from the lookup that made its record, until its forget):
 * changes elsewhere in the file system raise no event.
 *
 * A folder whose file system is watched is cached by the kernel for
 * WATCH_CACHE_S seconds (entries, attributes, negative entries, directory
 * listings) instead of ctx->timeout (one second): an unchanged tree is served without a
 * request, and a change elsewhere still shows within milliseconds.  Only
 * local file systems (view_close_reports() false) are watched: a network
 * file system changed from another machine reports nothing here.  Changes
 * this daemon makes itself are not notified back (the kernel already knows
 * them).  What fanotify cannot see (writes through a shared mapping made
 * directly on the storage host) shows within WATCH_CACHE_S.
 */
#ifndef VFOLDERFS_WATCH_H
#define VFOLDERFS_WATCH_H

#include <stdbool.h>

#include "vfolderfs.h"

/* Cache time of folders on a watched file system, seconds. */
#define WATCH_CACHE_S 60.0

struct watch;

/*
 * Start the watcher for se and ctx (inode table and root set).  Returns 0,
 * or a negative errno when fanotify cannot be had (no CAP_SYS_ADMIN, an old
 * kernel): then *ret_watch is NULL and every folder keeps ctx->timeout.
 */
int watch_start(struct fuse_session *se, struct vfs_ctx *ctx,
                struct watch **ret_watch);

/*
 * Watch the file systems of view's folders where possible and set each
 * folder's `watched`.  Call before the view is published; accepts a NULL
 * watch (then nothing is watched).
 */
void watch_view(struct watch *watch, struct view *view);

/*
 * Mark the directory of fd (any descriptor, O_PATH too) so that changes in
 * it are reported; 0 or a negative errno.  Marking twice is harmless; one
 * watch_undir() removes the mark.
 */
int watch_dir(struct watch *watch, int fd);
void watch_undir(struct watch *watch, int fd);

/* For inode_table_set_release_hook() (arg: the watch): watch_undir(). */
struct inode;
void watch_release_hook(void *arg, const struct inode *inode, int fd);

/*
 * Act on every change reported so far, now, in the calling thread (the
 * watcher thread otherwise lets events gather for 10 ms): once it
 * returns, what the kernel caches of this mount reflects every change made
 * elsewhere before the call.  A lock granted on the storage comes after
 * whatever its previous holder did, so locks.c calls this before telling a
 * process it holds a lock.  Accepts NULL; thread-safe.
 */
void watch_sync(struct watch *watch);

/* Stop the thread and free everything; accepts NULL. */
void watch_stop(struct watch *watch);

#endif
