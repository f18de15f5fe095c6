/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quota.c - quota enforcement in the file operations (see quota.h): a
 * reservation check before a file grows and an exact settlement after,
 * both under the folder's usage counter lock, so that daemons of several
 * sessions writing one folder at once share its limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quota.h"

static struct quota_folder *quota_of(const struct view *view, int folder)
{
        const struct view_folder *f;

        if (folder == VIEW_SCRATCH)
                return view->scratch_quota_bytes > 0 ? view->scratch_quota
                                                     : NULL;
        f = view_folder(view, folder);
        if (!f || f->quota_bytes <= 0 || !f->quota || !f->quota->usage)
                return NULL;
        return f->quota;
}

static int64_t limit_of(const struct view *view, int folder)
{
        return folder == VIEW_SCRATCH ? view->scratch_quota_bytes
                                      : view->folders[folder].quota_bytes;
}

struct quota_folder *quota_scratch_new(void)
{
        struct quota_folder *q = calloc(1, sizeof(*q));

        if (q)
                pthread_mutex_init(&q->lock, NULL);
        return q;
}

void quota_scratch_free(struct quota_folder *q)
{
        if (!q)
                return;
        pthread_mutex_destroy(&q->lock);
        free(q);
}

/* The counter's lock: the folder's shared one, or scratch's own. */
static int counter_lock(struct quota_folder *q)
{
        if (q->usage)
                return cat_usage_lock(q->usage);
        pthread_mutex_lock(&q->lock);
        return 0;
}

static void counter_unlock(struct quota_folder *q)
{
        if (q->usage)
                cat_usage_unlock(q->usage);
        else
                pthread_mutex_unlock(&q->lock);
}

/* Bytes counted now; the lock held. */
static int counter_get(struct quota_folder *q, int64_t *ret_bytes)
{
        if (q->usage)
                return cat_usage_get(q->usage, ret_bytes, NULL);
        *ret_bytes = q->bytes;
        return 0;
}

static void counter_add(struct quota_folder *q, int64_t bytes, int64_t files)
{
        if (q->usage) {
                (void)cat_usage_add(q->usage, bytes, files);
                return;
        }
        q->bytes += bytes;
        q->files += files;
}

bool quota_enabled(const struct view *view, int folder)
{
        return quota_of(view, folder) != NULL;
}

static int64_t file_size(int fd)
{
        struct stat st;

        if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
                return 0;
        return st.st_size;
}

int quota_begin(const struct view *view, int folder, int fd, int64_t new_end,
                bool append, struct quota_op *op)
{
        struct quota_folder *q = quota_of(view, folder);
        int64_t used = 0;
        int r;

        memset(op, 0, sizeof(*op));
        if (!q)
                return 0;
        r = counter_lock(q);
        if (r < 0)
                return -r;
        op->before = file_size(fd);
        if (append)
                new_end += op->before;
        if (new_end > op->before) {
                r = counter_get(q, &used);
                if (r < 0 ||
                    used + (new_end - op->before) > limit_of(view, folder)) {
                        counter_unlock(q);
                        return r < 0 ? EIO : EDQUOT;
                }
        }
        op->q = q;
        return 0;
}

void quota_end(struct quota_op *op, int fd)
{
        if (!op->q)
                return;
        counter_add(op->q, file_size(fd) - op->before, 0);
        counter_unlock(op->q);
        op->q = NULL;
}

void quota_remove_begin(const struct view *view, int folder, int dfd,
                        const char *name, struct quota_op *op)
{
        struct quota_folder *q = quota_of(view, folder);
        struct stat st;

        memset(op, 0, sizeof(*op));
        if (!q || counter_lock(q) < 0)
                return;
        op->q = q;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        op->files = 1;
        if (S_ISREG(st.st_mode))
                op->bytes = st.st_size;
}

void quota_remove_end(struct quota_op *op, bool done)
{
        if (!op->q)
                return;
        if (done)
                counter_add(op->q, -op->bytes, -op->files);
        counter_unlock(op->q);
        op->q = NULL;
}

void quota_add_entry(const struct view *view, int folder, int64_t bytes)
{
        struct quota_folder *q = quota_of(view, folder);

        if (!q || counter_lock(q) < 0)
                return;
        counter_add(q, bytes, 1);
        counter_unlock(q);
}

void quota_statfs(const struct view *view, int folder, struct statvfs *sv)
{
        struct quota_folder *q = quota_of(view, folder);
        int64_t quota, used = 0;
        unsigned long frsize;
        fsblkcnt_t blocks, left;

        if (!q)
                return;
        quota = limit_of(view, folder);
        if (q->usage) {
                /* a snapshot of the shared counter is enough here */
                if (cat_usage_get(q->usage, &used, NULL) < 0)
                        return;
        } else {
                pthread_mutex_lock(&q->lock);
                used = q->bytes;
                pthread_mutex_unlock(&q->lock);
        }
        frsize = sv->f_frsize ? sv->f_frsize : sv->f_bsize;
        if (!frsize)
                frsize = 4096;
        blocks = (fsblkcnt_t)(quota / (int64_t)frsize);
        left = used >= quota ? 0 : (fsblkcnt_t)((quota - used) /
                                                (int64_t)frsize);
        sv->f_blocks = blocks;
        if (sv->f_bfree > left)
                sv->f_bfree = left;
        if (sv->f_bavail > left)
                sv->f_bavail = left;
}
