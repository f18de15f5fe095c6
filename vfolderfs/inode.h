/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inode.h - the daemon's inode table: one record per backing inode the
 * kernel knows, holding an O_PATH file descriptor through which every access
 * to that inode is made (*at() calls, never paths), the kernel's lookup
 * count, and the folder the inode belongs to.
 *
 * Records are keyed by (st_dev, st_ino, folder): the same backing inode seen
 * through two folders is two records, so a record's folder, inherited from
 * its parent at lookup, is always the folder it was reached through.  The
 * FUSE node id of a record is its address; the record stays valid until the
 * kernel's lookup count drops to zero (forget).  All functions are
 * thread-safe.
 *
 * The process is capped at RLIMIT_NOFILE (20,000 on the target platform)
 * while the kernel may know millions of inodes.  So records hold their
 * O_PATH descriptor while the table holds fewer descriptors than its
 * budget; past the budget a new record keeps a file handle
 * (name_to_handle_at()) instead and is reopened for the duration of each
 * operation with open_by_handle_at(), which needs CAP_DAC_READ_SEARCH.
 * Without that capability, or on a file system that has no file handles,
 * records keep descriptors whatever the budget.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct file_handle;

struct inode {
        struct inode *hnext; /* hash chain (table private) */
        int fd;              /* O_PATH | O_NOFOLLOW, or -1: use handle */
        struct file_handle *handle; /* when fd is -1 */
        int mount_fd;        /* when fd is -1: an fd on the handle's mount,
                              * owned by the table */
        dev_t dev;
        ino_t ino;
        mode_t type;         /* S_IFMT bits */
        int folder;          /* folder index, or VIEW_SCRATCH */
        int vnode;           /* view node: a scratch view directory, or the
                              * folder node of a folder root; -1 otherwise */
        bool folder_root;
        bool watched;        /* carries a storage watcher mark (watch.h) */
        bool data_served;    /* a READ was answered (ops.c; relaxed atomic) */
        uint64_t nlookup;    /* guarded by the table lock */
        uint64_t generation;
        void *dir;           /* listing state of a directory (ops.c), or
                              * NULL: see inode_dir_attach() */
        void *locks;         /* lock state of a file (locks.c), or NULL:
                              * see inode_locks_attach() */
};

struct inode_table;

int inode_table_new(struct inode_table **ret_table);
/* Closes every descriptor; accepts NULL. */
void inode_table_free(struct inode_table *table);

/*
 * Set the number of descriptors records may hold before new non-directory
 * records switch to file handles, and whether open_by_handle_at() works
 * for this process.  Call before the table is shared.
 */
void inode_table_set_budget(struct inode_table *table, size_t budget,
                            bool handles_ok);

/*
 * Find the record for (st->st_dev, st->st_ino, folder) and add one lookup,
 * or create it with one lookup, taking ownership of fd (an O_PATH fd of
 * that inode).  When a record already exists fd is closed.  A new record
 * beyond the descriptor budget keeps a file handle and fd is closed: a
 * directory always can, another file when parent_fd (an O_PATH fd of the
 * directory it was found in, or -1) lies on the same file system
 * (parent_dev).  Returns the record, or NULL with errno ENOMEM (fd
 * closed).  vnode and folder_root are applied to a new record, and to an
 * existing one when vnode >= 0.
 */
struct inode *inode_table_get(struct inode_table *table, int fd,
                              const struct stat *st, int folder, int vnode,
                              bool folder_root, int parent_fd,
                              dev_t parent_dev);

/*
 * The record for (dev, ino, folder) with one lookup added, or NULL when
 * there is none (then nothing changes).  Lets a lookup of a known inode
 * skip opening it.
 */
struct inode *inode_table_find(struct inode_table *table, dev_t dev,
                               ino_t ino, int folder);

/*
 * An O_PATH descriptor of the record's inode for one operation: its own
 * (no cost), or one reopened from its handle.  Returns the fd or a negative
 * errno (-ESTALE when the inode is gone).  Pair every success with
 * inode_fd_put().
 */
int inode_fd_get(const struct inode *inode);
void inode_fd_put(const struct inode *inode, int fd);

/*
 * Store in ids (at most max of them) the node ids (record addresses) of
 * every record of (dev, ino), in any folder, adding no lookup; returns how
 * many records there are.  For invalidations only: a record may be gone
 * by the time an id is used.
 */
size_t inode_table_ids(struct inode_table *table, dev_t dev, ino_t ino,
                       uint64_t *ids, size_t max);

/*
 * Call fn(arg, record, fd) when a record with watched set is removed, just
 * before its descriptor is closed.  Call before the table is shared.
 */
void inode_table_set_release_hook(struct inode_table *table,
                                  void (*fn)(void *arg,
                                             const struct inode *inode,
                                             int fd),
                                  void *arg);

/* Add n lookups to a known record. */
void inode_table_ref(struct inode_table *table, struct inode *inode,
                     uint64_t n);

/*
 * Drop n lookups; at zero the record is removed and freed and its fd
 * handed to the table's closer thread (closed at once when its queue is
 * full), so that what the storage does on that close (freeing an unlinked
 * file) does not hold up the request.
 */
void inode_table_forget(struct inode_table *table, struct inode *inode,
                        uint64_t n);

/*
 * Return once every descriptor forgotten so far is closed (e.g. before
 * retrying a write that found the storage full: space of files unlinked
 * and forgotten is freed only at that close).
 */
void inode_table_settle(struct inode_table *table);

/*
 * Attach dir, the listing state of a directory record, unless the record
 * has one already.  The table frees the state with dir_free when it removes
 * the record (forget) or is freed; every call must pass the same dir_free.
 * A record outside the table (the root) keeps its state until its owner
 * frees it.  Returns the state now attached: dir, or the earlier one (then
 * dir is not taken).
 */
void *inode_dir_attach(struct inode_table *table, struct inode *inode,
                       void *dir, void (*dir_free)(void *dir));

/*
 * The same for the lock state of a file (locks.h): attach locks unless
 * the record has lock state already; the table frees it with locks_free
 * when it removes the record or is freed.  Returns the state now attached.
 */
void *inode_locks_attach(struct inode_table *table, struct inode *inode,
                         void *locks, void (*locks_free)(void *locks));

/*
 * Count one descriptor kept outside the records (a cached directory
 * stream) against the budget.  Returns false, counting nothing, when the
 * table holds its budget already; pair every true with
 * inode_table_return_fd().
 */
bool inode_table_take_fd(struct inode_table *table);
/*
 * Count one descriptor that must be kept whatever the budget (one that
 * holds a lock: closing it would release the lock); pair with
 * inode_table_return_fd().
 */
void inode_table_count_fd(struct inode_table *table);
void inode_table_return_fd(struct inode_table *table);

/*
 * The records that have a view node (vnode >= 0: view directories and
 * folder roots), in *ret_nodes (free() it), their count in *ret_n.  A
 * record may be forgotten as soon as this returns: use the addresses as
 * node ids only.  Returns 0 or -ENOMEM.
 */
int inode_table_view_nodes(struct inode_table *table,
                           struct inode ***ret_nodes, size_t *ret_n);

/* Number of records (for diagnostics). */
size_t inode_table_count(struct inode_table *table);
