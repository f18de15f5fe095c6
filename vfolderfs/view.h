/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * view.h - the session view: which folder appears where under the mount
 * root, and the permission table of SPEC section 3.
 *
 * A view is built at start from the catalog's mounts and is then
 * read-only, so every function here is thread-safe after view_build().
 * Admin changes while the session runs (live.c) build a new view from the
 * old one with view_update() and publish it in place of the old: indices
 * are stable across versions -- folders and nodes are only appended, a
 * folder that goes is marked gone and its node detached (left in the array,
 * in no child list and no name hash) -- so an inode's folder index and view
 * node mean the same thing in every version.  It is a small tree of nodes: directory nodes are real directories in the
 * session's scratch (the root, and the intermediate directories of relative
 * aliases such as "a" for "a/b"); folder nodes are the folders themselves,
 * synthesized by lookup and readdir in their parent directory node.  Every
 * inode of the daemon carries a folder index (or VIEW_SCRATCH), so a
 * permission check is an array index.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "catalog.h"

/* Folder index of everything in the scratch area. */
#define VIEW_SCRATCH (-1)
/* View node index of the mount root. */
#define VIEW_ROOT 0
/* Name in the mount root of the hidden entry of an outside folder. */
#define VIEW_TARGET_PREFIX ".vfolderfs-target-"

enum view_op {
        VIEW_OP_READ,   /* read, stat, readdir, readlink, getxattr, listxattr */
        VIEW_OP_CHANGE, /* create, mkdir, write, truncate, chmod, utimens,
                         * symlink, link, setxattr, rename to a new name */
        VIEW_OP_REMOVE, /* unlink, rmdir, rename replacing an entry,
                         * removexattr */
};

struct quota_folder;

struct view_folder {
        char folder_id[CAT_UUID_STRLEN];
        char *name;
        char *target;       /* absolute path in the session */
        char *backing_path; /* backing directory on the storage host */
        int host;           /* its storage host: an index in view->hosts,
                             * shared by every folder on that host and
                             * stable across versions of the view */
        enum cat_perm perm;
        int64_t quota_bytes;
        int node;           /* its view node, or -1 when not under the mount */
        int hidden_node;    /* target outside the mount: a folder node under
                             * the root named VIEW_TARGET_PREFIX<index>,
                             * found only by view_hidden(), never listed
                             * (the daemon bind-mounts it onto the target);
                             * -1 otherwise */
        ino_t backing_ino;  /* st_ino of the backing directory at start, 0 if
                             * it could not be stat'ed (backing_errno set) */
        int backing_errno;
        bool close_reports; /* backing file system may report write errors
                             * at close (network, FUSE): keep FLUSH */
        bool watched;       /* its file system is watched (watch.h): cached
                             * for WATCH_CACHE_S */
        bool gone;          /* trashed, revoked or purged since start: every
                             * operation in it fails (view_check_permission) */
        bool record_warned; /* the daemon logged that it cannot record
                             * creators here (ops.c; relaxed atomic, the one
                             * field written after the view is published) */
        struct quota_folder *quota; /* quota state (quota.c), shared by every
                                     * version of the view; NULL when none */
};

enum view_node_kind {
        VIEW_NODE_DIR,    /* a real directory in scratch */
        VIEW_NODE_FOLDER, /* a folder's root */
};

struct view_node {
        char *name;        /* component name in the parent ("" for the root) */
        enum view_node_kind kind;
        int parent;        /* node index, -1 for the root */
        int first_child;   /* node index or -1 */
        int next_sibling;  /* node index or -1 */
        int folder;        /* VIEW_NODE_FOLDER: folder index */
        bool hidden;       /* an outside folder's hidden node: in no child
                            * list and no name hash */
        bool gone;         /* detached by view_update(): in no child list and
                            * no name hash, kept for its index */
        dev_t dev;         /* VIEW_NODE_DIR: identity of the scratch dir */
        ino_t ino;
};

struct view {
        struct view_folder *folders;
        size_t n_folders;
        /*
         * The storage hosts' names (cat_mount.host; "" when unknown), only
         * appended to: a new version keeps the old one's and adds the hosts
         * of its new folders, so an index means the same host in every
         * version (the session loop keeps one queue per host: loop.h).
         */
        char **hosts;
        size_t n_hosts;
        struct view_node *nodes;
        size_t n_nodes;
        bool rw_can_delete;
        /*
         * The session's scratch limit (-o scratch_size; 0: none) and its
         * counter (quota.h), the same in every version of the view.
         */
        int64_t scratch_quota_bytes;
        struct quota_folder *scratch_quota;
        /* hash of (parent node, name) -> node index, chained through hnext */
        int *buckets;
        int *hnext;
        size_t n_buckets;
};

/*
 * Build the view for mounts (as returned by cat_session_start()).  Folders
 * whose target is inside CAT_HOME get a node at their path relative to
 * CAT_HOME; the intermediate directories are created in scratch (relative
 * to scratch_fd, an O_PATH fd of the scratch directory, never following
 * symlinks) with mode 0755 and, when chown_uid is not (uid_t)-1, chowned to
 * chown_uid:chown_gid.  Folders outside CAT_HOME are recorded with node -1
 * and a hidden_node: a folder node whose parent is the root but which is in
 * no child list and no name hash, so view_child() and readdir never see it.
 * Each backing directory is stat'ed once (backing_ino / backing_errno).
 * Returns 0, or a negative errno with a reason in *reterr.
 */
int view_build(const struct cat_mount *mounts, size_t n, int scratch_fd,
               bool rw_can_delete, uid_t chown_uid, gid_t chown_gid,
               struct view **ret_view, char **reterr);
void view_free(struct view *view);

/*
 * A new version of old for the mounts a running session has now
 * (cat_session_refresh()): folders are matched by id and keep their index;
 * one no longer in mounts is marked gone and its node detached; one whose
 * target changed (a rename) gets a new node at the new target, its old node
 * detached; new folders are appended.  name, permission and quota follow
 * mounts; the quota pointer is carried over.  Intermediate directories are
 * made as view_build() makes them.  A new folder whose target lies outside
 * the mount root gets its hidden node but no bind mount (only made at
 * start).  old is not changed.  Returns 0, or a negative errno with a
 * reason in *reterr.
 */
int view_update(const struct view *old, const struct cat_mount *mounts,
                size_t n, int scratch_fd, uid_t chown_uid, gid_t chown_gid,
                struct view **ret_view, char **reterr);

/*
 * The node named name inside directory node parent, or -1.  Thread-safe.
 */
int view_child(const struct view *view, int parent, const char *name);

/*
 * The hidden node of an outside folder named name (VIEW_TARGET_PREFIX and
 * the folder index in decimal) in the root, or -1.  Thread-safe.
 */
int view_hidden(const struct view *view, const char *name);

/*
 * Whether close(2) on the file system of path (or of fd when path is NULL)
 * may report errors that write(2) did not: true unless it is one of the
 * local file systems known to report every error at write or fsync
 * (ext2/3/4, XFS, Btrfs, tmpfs, F2FS); true as well when it cannot be told.
 */
bool view_close_reports(const char *path, int fd);

/* Folder number folder of view, or NULL (VIEW_SCRATCH, out of range). */
const struct view_folder *view_folder(const struct view *view, int folder);

/*
 * Whether operation op is allowed in folder (a folder index or
 * VIEW_SCRATCH): 0, or the positive errno the caller must get (EROFS,
 * EPERM; EIO for any operation, reads included, in a folder that is gone).
 * The table is cat_perm_check()'s; a removal here is of an entry someone
 * else created (the strict answer).  Thread-safe, no allocation.
 */
int view_check_permission(const struct view *view, int folder,
                          enum view_op op);

/*
 * The same for an entry whose creator is known: own when the session's
 * user created it (cat_creator_is()).
 */
int view_check_entry(const struct view *view, int folder, enum view_op op,
                     bool own);

/*
 * Whether a removal in folder depends on who created the entry (rw
 * without rw_can_delete): only then does the daemon read the creator
 * record and take the directory lock (cat_dir_lock()).  Thread-safe.
 */
bool view_asks_creator(const struct view *view, int folder);
