/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfolderfs.h - the daemon's one context, reached from every FUSE operation
 * through fuse_req_userdata(), and the operation table that ops.c exports to
 * main.c.  Nothing in the context changes after the session is mounted
 * except the inode table, which has its own lock, and the view pointer,
 * which the catalog watcher swaps atomically (live.h).
 */
#pragma once

/* 3.12: the fuse_loop_config and fuse_parse_cmdline() of 3.12+ */
#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/types.h>

#include "inode.h"
#include "view.h"

struct locks;

struct vfs_ctx {
        /*
         * The session view; replaced (never changed in place) by the
         * catalog watcher (live.c), so every read is an atomic load.
         */
        struct view *_Atomic view;
        struct inode_table *inodes;
        struct inode root;     /* the scratch directory; node id FUSE_ROOT_ID */
        uid_t uid;             /* what every file appears owned by */
        char user_id[CAT_UUID_STRLEN]; /* the session's user (catalog id):
                                        * the creator recorded on new
                                        * entries of folders */
        gid_t gid;
        bool chown_on_create;  /* storage owner differs from our fsuid/fsgid */
        uid_t storage_uid;
        gid_t storage_gid;
        double timeout;        /* entry and attribute cache, seconds */
        bool scratch_close_reports; /* view_close_reports() of scratch */
        struct watch *watch;   /* storage watcher (watch.h), or NULL */
        struct locks *locks;   /* file locks and their waiters (locks.h) */
};

extern const struct fuse_lowlevel_ops vfs_ops;

/* Unanswered background requests the kernel allows (vfs_init()). */
#define VFS_MAX_BACKGROUND 1024

/*
 * The session loop's queues (loop.h): requests run inline by the reader,
 * the scratch area (and the view directories in it), lock requests in
 * scratch, and two queues per storage host h (view->hosts): its requests at
 * VFS_QUEUE_HOSTS + 2h, its lock requests (GETLK, SETLK, SETLKW) at
 * VFS_QUEUE_HOSTS + 2h + 1.
 */
enum {
        VFS_QUEUE_INLINE = -1,
        VFS_QUEUE_SCRATCH = 0,
        VFS_QUEUE_LOCKS = 1,
        VFS_QUEUE_HOSTS = 2,
};

/*
 * The queue of the request in mem (size bytes, starting with its
 * fuse_in_header): FORGET, BATCH_FORGET, INTERRUPT, INIT, DESTROY and
 * NOTIFY_REPLY touch no storage and are run inline; a blocking lock wait
 * (SETLKW) waits on other sessions, not on storage; anything else goes to
 * the storage host of its node's folder, or of the folder a LOOKUP in a
 * view directory names.  Loads the view inside an epoch, touches no
 * storage, takes no lock.  arg is the struct vfs_ctx.
 */
int vfs_request_queue(void *arg, const void *mem, size_t size);

/*
 * Keep the record of nodeid (no-op for the root) while the request that
 * the loop answered early (loop.h) still runs on it: the kernel may forget
 * it as soon as it has the answer.  Released by vfs_request_release().
 */
void vfs_request_hold(void *arg, uint64_t nodeid);
void vfs_request_release(void *arg, uint64_t nodeid);
