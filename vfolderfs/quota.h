/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quota.h - a folder's quota enforced by the daemon (SPEC section 2): what
 * counts is the folder's apparent size (st_size of its regular files, one
 * per name) and its number of entries, kept in the folder's usage counter
 * (cat_usage_*, shared by every daemon and admin command on the storage
 * host).  An operation that may change a file's size runs between
 * quota_begin() and quota_end(), under the counter's lock: begin refuses
 * with EDQUOT when the new size would take the folder past its quota, end
 * adds the size change that really happened.  Folders without a quota cost
 * one array index.
 *
 * Scratch (folder VIEW_SCRATCH) has a limit of its own when the session
 * was started with one (-o scratch_size): the same rules, against a counter
 * this daemon keeps in memory (no other daemon or admin command writes a
 * session's scratch).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "catalog.h"
#include "view.h"

struct quota_folder {
        cat_usage *usage;          /* the folder's shared counter, or NULL */
        pthread_mutex_t lock;      /* without usage (scratch): the counter */
        int64_t bytes, files;      /* kept here, under lock */
        struct quota_folder *next; /* all of them, for freeing (live.c) */
};

/*
 * A counter for the session's scratch, starting at zero (the scratch
 * directory of a new session is empty); NULL when out of memory.  Set it
 * as view->scratch_quota with the limit in view->scratch_quota_bytes.
 */
struct quota_folder *quota_scratch_new(void);
void quota_scratch_free(struct quota_folder *q);

struct quota_op {
        struct quota_folder *q; /* NULL: nothing to account */
        int64_t before;         /* st_size before, 0 for a non-file */
        int64_t bytes, files;   /* removals: what the entry counted */
};

/*
 * Begin an operation on the file open as fd (any descriptor of it, O_PATH
 * included) in folder that may make it new_end bytes long (new_end below
 * the current size: a shrink, always allowed), or, with append, new_end
 * bytes longer than it is now (O_APPEND writes, which land at the real end
 * whatever offset the kernel gave).  Returns 0 (op filled in; pair with
 * quota_end()) or a positive errno (EDQUOT; nothing held).
 */
int quota_begin(const struct view *view, int folder, int fd, int64_t new_end,
                bool append, struct quota_op *op);
/* Account the size fd's file has now and release the lock. */
void quota_end(struct quota_op *op, int fd);

/*
 * Before removing or replacing name in directory dfd of folder: lock and
 * note what the entry counts (nothing if it does not exist).  Pair with
 * quota_remove_end(), done saying whether the entry went.
 */
void quota_remove_begin(const struct view *view, int folder, int dfd,
                        const char *name, struct quota_op *op);
void quota_remove_end(struct quota_op *op, bool done);

/* A new entry of bytes (a hard link: its size; else 0) in folder. */
void quota_add_entry(const struct view *view, int folder, int64_t bytes);

/* Whether folder has a quota (fallocate refuses preallocation past EOF). */
bool quota_enabled(const struct view *view, int folder);

/*
 * statfs in a folder with a quota (or in scratch with a limit): the quota as
 * size, what is left free.
 */
void quota_statfs(const struct view *view, int folder, struct statvfs *sv);
