/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-rmtree.c - `files rm -r`: removing a directory tree of a folder
 * that a session may be changing at the same time, and that a hostile user
 * may have made deep or wide on purpose.  The walk never follows a symlink,
 * never enters another filesystem, holds two directories open at most (a
 * tree 100,000 levels deep costs no descriptors), and reads each directory
 * once per visit: the names of its subdirectories wait in memory.  Going up
 * is done through "..", checked against the inode seen on the way down, so
 * a directory renamed meanwhile stops the removal instead of leading it
 * astray.
 */
#include "admin-explorer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often entries appearing behind the walk are chased before giving up. */
#define RMTREE_RETRIES 100

/* One directory on the way down. */
struct frame {
        char *name;     /* its name in the parent */
        ino_t ino;      /* to recognise it when coming back through ".." */
        char **pending; /* subdirectories still to visit */
        size_t n, next;
};

static void frame_drop_pending(struct frame *f)
{
        for (size_t i = f->next; i < f->n; i++)
                free(f->pending[i]);
        free(f->pending);
        f->pending = NULL;
        f->n = f->next = 0;
}

/*
 * Read d from its start: remove every non-directory, and remember the names
 * of the subdirectories in f.  With user_id set, only entries that user
 * created are removed, with d locked meanwhile (cat_dir_lock()); another's
 * stops the scan with -EPERM.
 */
static int scan(DIR *d, struct frame *f, const char *user_id)
{
        struct dirent *de;
        size_t cap = 0;
        int lock = -1, r = 0;

        frame_drop_pending(f);
        if (user_id) {
                r = cat_dir_lock(dirfd(d), &lock);
                if (r < 0)
                        return r;
        }
        rewinddir(d);
        for (;;) {
                bool is_dir;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        r = errno ? -errno : 0;
                        break;
                }
                if (path_name_is_dots(de->d_name))
                        continue;
                is_dir = de->d_type == DT_DIR;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;

                        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        continue;
                                r = -errno;
                                break;
                        }
                        is_dir = S_ISDIR(st.st_mode);
                }
                if (!is_dir) {
                        if (user_id) {
                                r = cat_creator_is(dirfd(d), de->d_name, user_id);
                                if (r == -ENOENT)
                                        continue;
                                if (r <= 0) {
                                        r = r < 0 ? r : -EPERM;
                                        break;
                                }
                                r = 0;
                        }
                        if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
                                r = -errno;
                                break;
                        }
                        continue;
                }
                if (f->n == cap) {
                        cap = cap ? 2 * cap : 16;
                        f->pending = xrealloc(f->pending, cap * sizeof(char *));
                }
                f->pending[f->n++] = xstrdup(de->d_name);
        }
        cat_dir_unlock(lock);
        return r;
}

/*
 * Remove the empty directory name in dirfd; with user_id set, only if that
 * user created it (dirfd locked meanwhile), else -EPERM.
 */
static int remove_dir(int dirfd, const char *name, const char *user_id)
{
        int lock = -1, r = 0;

        if (user_id) {
                r = cat_dir_lock(dirfd, &lock);
                if (r == 0) {
                        r = cat_creator_is(dirfd, name, user_id);
                        r = r == 1 ? 0 : r == 0 ? -EPERM : r;
                }
        }
        if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
                r = -errno;
        cat_dir_unlock(lock);
        return r;
}

/*
 * Open the directory name in dirfd for reading, never following a symlink,
 * on filesystem dev.  A non-directory found there (swapped in meanwhile) is
 * removed -- unless user_id is set: then the next scan of dirfd checks it
 * -- and -ENOTDIR returned; a name gone is -ENOENT.
 */
static int open_dir(int dirfd, const char *name, dev_t dev, const char *user_id,
                    ino_t *ret_ino)
{
        struct stat st;
        int fd;

        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOTDIR && errno != ELOOP)
                        return -errno;
                if (user_id)
                        return -ENOTDIR;
                if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                        return -errno;
                return -ENOTDIR;
        }
        if (fstat(fd, &st) < 0 || st.st_dev != dev) {
                int r = st.st_dev != dev ? -EXDEV : -errno;

                close(fd);
                return r;
        }
        *ret_ino = st.st_ino;
        return fd;
}

static DIR *dir_from_fd(int fd)
{
        DIR *d = fdopendir(fd);

        if (!d)
                close(fd);
        return d;
}

int explorer_remove_tree(int pfd, const char *name, dev_t dev,
                         const char *user_id)
{
        struct frame *stack = NULL;
        size_t depth = 0, cap = 0;
        int retries = 0, fd, r = 0;
        DIR *d = NULL;
        ino_t ino;

        fd = open_dir(pfd, name, dev, user_id, &ino);
        if (fd < 0)
                return fd == -ENOTDIR || fd == -ENOENT ? 0 : fd;
        d = dir_from_fd(fd);
        if (!d)
                return -errno;
        stack = xcalloc(1, sizeof(*stack));
        cap = 1;
        stack[0].name = xstrdup(name);
        stack[0].ino = ino;
        depth = 1;

        for (;;) {
                struct frame *f = &stack[depth - 1];
                char *child;
                int up;

                if (f->next == f->n) {
                        r = scan(d, f, user_id);
                        if (r < 0)
                                goto out;
                }
                if (f->next < f->n) {
                        /* Down into the next subdirectory. */
                        child = f->pending[f->next++];
                        fd = open_dir(dirfd(d), child, dev, user_id, &ino);
                        if (fd == -ENOENT || fd == -ENOTDIR) {
                                free(child);
                                continue;
                        }
                        if (fd < 0) {
                                free(child);
                                r = fd;
                                goto out;
                        }
                        if (depth == cap) {
                                cap *= 2;
                                stack = xrealloc(stack, cap * sizeof(*stack));
                        }
                        stack[depth++] = (struct frame){ .name = child, .ino = ino };
                        closedir(d);
                        d = dir_from_fd(fd);
                        if (!d) {
                                r = -errno;
                                goto out;
                        }
                        continue;
                }

                /* f is empty: remove it from its parent and go up. */
                if (depth == 1) {
                        /* the caller checked and locked the top */
                        if (unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
                                r = 0;
                                goto out;
                        }
                        r = -errno;
                        /* Entries arrived behind us: chase them, a while. */
                        if (r != -ENOTEMPTY || ++retries > RMTREE_RETRIES)
                                goto out;
                        continue;
                }
                up = openat(dirfd(d), "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (up < 0) {
                        r = -errno;
                        goto out;
                }
                {
                        struct stat st;

                        if (fstat(up, &st) < 0 || st.st_dev != dev ||
                            st.st_ino != stack[depth - 2].ino) {
                                /* Moved meanwhile: ".." is not where we came from. */
                                close(up);
                                r = -EBUSY;
                                goto out;
                        }
                }
                closedir(d);
                d = NULL;
                r = remove_dir(up, f->name, user_id);
                if (r < 0 && r != -ENOENT) {
                        if (r != -ENOTEMPTY || ++retries > RMTREE_RETRIES) {
                                close(up);
                                goto out;
                        }
                        /* The parent's next scan finds it again. */
                }
                r = 0;
                frame_drop_pending(f);
                free(f->name);
                depth--;
                d = dir_from_fd(up);
                if (!d) {
                        r = -errno;
                        goto out;
                }
        }
out:
        if (d)
                closedir(d);
        for (size_t i = 0; i < depth; i++) {
                frame_drop_pending(&stack[i]);
                free(stack[i].name);
        }
        free(stack);
        return r;
}
