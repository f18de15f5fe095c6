/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * live.h - catalog watching: admin changes made while the session runs
 * (share, unshare, permission, rename, trash, restore, quota) reach the
 * daemon without a remount.  A thread blocks on inotify on the catalog's
 * directory; when the catalog or its WAL is written it waits for writes to
 * settle (LIVE_DEBOUNCE_MS of quiet, LIVE_SETTLE_MAX_MS at most), asks the
 * catalog whether another connection committed anything (PRAGMA
 * data_version, no table read), and only then
 * re-resolves the session's mounts (cat_session_refresh()), builds the next
 * view (view_update()), publishes it in the context and invalidates the
 * kernel's cached entries of every folder that went, moved or came.  The
 * file operations never run SQL: they read the published view.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "vfolderfs.h"

/* Quiet time after the last catalog write before looking, milliseconds. */
#define LIVE_DEBOUNCE_MS 20
/*
 * Longest wait for that quiet time, milliseconds: a catalog written without
 * pause (many daemons and admin commands at once) is looked at anyway.
 */
#define LIVE_SETTLE_MAX_MS 200
/* Longest wait between retries of a refresh that failed, milliseconds. */
#define LIVE_RETRY_MAX_MS 5000
/*
 * How often a replaced view still held by a running request (epoch.h) is
 * looked at again, milliseconds.
 */
#define LIVE_RETIRE_POLL_MS 100

struct live;

struct live_params {
        const char *catalog_path;
        const char *session_id;
        bool all_folders;      /* started from a user name: new folders
                                * appear; else only automount ones */
        int scratch_fd;        /* O_PATH fd of the scratch directory */
        uid_t chown_uid;       /* for new intermediate directories, or -1 */
        gid_t chown_gid;
};

/*
 * Open the quota counters of ctx->view's folders (counting a folder's
 * backing directory on first use), then start the watcher thread.  se is
 * used for kernel notifications only.  Returns 0 or a negative errno with a
 * reason in *reterr.  Call before the session is mounted.
 */
int live_start(struct fuse_session *se, struct vfs_ctx *ctx,
               const struct live_params *params, struct live **ret_live,
               char **reterr);

/*
 * Stop and join the thread, free every replaced view and the quota state
 * (ctx->view stays for the caller to free).  Accepts NULL.
 */
void live_stop(struct live *live);
