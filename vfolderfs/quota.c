/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quota.c - quota enforcement in the file operations (see quota.h): a
 * reservation check before a file grows and an exact settlement after,
 * both under the folder's usage counter lock, so that daemons of several
 * sessions writing one folder at once share its limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "quota.h"

static struct quota_folder *quota_of(const struct view *view, int folder)
{
        const struct view_folder *f = view_folder(view, folder);

        if (!f || f->quota_bytes <= 0 || !f->quota || !f->quota->usage)
                return NULL;
        return f->quota;
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
        r = cat_usage_lock(q->usage);
        if (r < 0)
                return -r;
        op->before = file_size(fd);
        if (append)
                new_end += op->before;
        if (new_end > op->before) {
                r = cat_usage_get(q->usage, &used, NULL);
                if (r < 0 ||
                    used + (new_end - op->before) >
                            view->folders[folder].quota_bytes) {
                        cat_usage_unlock(q->usage);
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
        (void)cat_usage_add(op->q->usage, file_size(fd) - op->before, 0);
        cat_usage_unlock(op->q->usage);
        op->q = NULL;
}

void quota_remove_begin(const struct view *view, int folder, int dfd,
                        const char *name, struct quota_op *op)
{
        struct quota_folder *q = quota_of(view, folder);
        struct stat st;

        memset(op, 0, sizeof(*op));
        if (!q || cat_usage_lock(q->usage) < 0)
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
                (void)cat_usage_add(op->q->usage, -op->bytes, -op->files);
        cat_usage_unlock(op->q->usage);
        op->q = NULL;
}

void quota_add_entry(const struct view *view, int folder, int64_t bytes)
{
        struct quota_folder *q = quota_of(view, folder);

        if (!q || cat_usage_lock(q->usage) < 0)
                return;
        (void)cat_usage_add(q->usage, bytes, 1);
        cat_usage_unlock(q->usage);
}

void quota_statfs(const struct view *view, int folder, struct statvfs *sv)
{
        struct quota_folder *q = quota_of(view, folder);
        int64_t quota, used = 0;
        unsigned long frsize;
        fsblkcnt_t blocks, left;

        if (!q)
                return;
        quota = view->folders[folder].quota_bytes;
        if (cat_usage_get(q->usage, &used, NULL) < 0)
                return;
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
