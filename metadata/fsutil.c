/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsutil.c - file trees on storage hosts and in scratch: making a directory
 * with its parents, and removing, copying and measuring a tree without ever
 * following a symlink (every step is relative to an open directory, with
 * O_NOFOLLOW / AT_SYMLINK_NOFOLLOW).  The walk is iterative and keeps at most
 * FD_BUDGET directories open: deeper ancestors are closed and reopened
 * through ".." when the walk climbs back, checked by device and inode, so a
 * tree of any depth is handled and a tree moved meanwhile is refused
 * (-ESTALE) instead of being followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog-private.h"

/* Directories kept open at once per tree (two trees when copying). */
#define FD_BUDGET 16

int cat_mkdir_p(const char *path, mode_t mode)
{
        char buf[PATH_MAX];
        size_t len;
        struct stat st;

        if (!path || path[0] != '/')
                return -EINVAL;
        len = strlen(path);
        if (len >= sizeof(buf))
                return -ENAMETOOLONG;
        memcpy(buf, path, len + 1);
        while (len > 1 && buf[len - 1] == '/')
                buf[--len] = 0;
        for (char *p = buf + 1;; p++) {
                bool last = *p == 0;

                if (*p != '/' && !last)
                        continue;
                *p = 0;
                if (mkdir(buf, mode) < 0) {
                        if (errno != EEXIST)
                                return -errno;
                        if (last)
                                return -EEXIST;
                        if (stat(buf, &st) < 0)
                                return -errno;
                        if (!S_ISDIR(st.st_mode))
                                return -ENOTDIR;
                }
                if (last)
                        return 0;
                *p = '/';
        }
}

int cat_backing_mkdir(const char *root, const char *path)
{
        char buf[PATH_MAX];
        size_t rlen, len;
        struct stat rst;
        int r;

        rlen = strlen(root);
        while (rlen > 1 && root[rlen - 1] == '/')
                rlen--;
        len = strlen(path);
        if (len >= sizeof(buf))
                return -ENAMETOOLONG;
        if (strncmp(path, root, rlen) != 0 || path[rlen] != '/')
                return -EINVAL;
        /* The host root is the operator's: made (0755) only when missing. */
        memcpy(buf, path, rlen);
        buf[rlen] = 0;
        r = cat_mkdir_p(buf, 0755);
        if (r < 0 && r != -EEXIST)
                return r;
        if (stat(buf, &rst) < 0)
                return -errno;
        memcpy(buf, path, len + 1);
        for (char *p = buf + rlen + 1;; p++) {
                bool last = *p == 0;

                if (*p != '/' && !last)
                        continue;
                *p = 0;
                if (mkdir(buf, last ? 0755 : CAT_PRIVATE_DIR_MODE) == 0) {
                        /*
                         * Owned like the host root, so that a storage uid
                         * owning it (NFS with root squash) still traverses.
                         */
                        if (!last && geteuid() == 0 &&
                            (rst.st_uid != 0 || rst.st_gid != 0))
                                (void)!lchown(buf, rst.st_uid, rst.st_gid);
                } else if (errno != EEXIST) {
                        return -errno;
                } else if (last) {
                        return -EEXIST;
                }
                if (last)
                        return 0;
                *p = '/';
        }
}

enum walk_mode { WALK_REMOVE, WALK_COPY, WALK_USAGE, WALK_CREATOR };

struct frame {
        int fd, dst_fd;    /* -1 while closed to save descriptors */
        dev_t dev, dst_dev;
        ino_t ino, dst_ino;
        mode_t mode;
        struct timespec atime, mtime;
        char *name;        /* in the parent; NULL for the top */
        char **names;
        size_t n, i;
};

struct walk {
        enum walk_mode mode;
        struct frame *frames;
        size_t depth, cap, open;
        int64_t bytes, files;
        const char *user_id; /* WALK_CREATOR: whose entries they must be;
                              * WALK_COPY: the creator recorded on the
                              * copies, or NULL */
        char *foreign;       /* WALK_CREATOR: the first that is not */
};

/*
 * WALK_CREATOR: stop the walk (1) at the first entry (name in dirfd, or
 * fd itself when name is NULL) that user_id did not create.
 */
static int check_creator(struct walk *w, int fd, const char *name,
                         const char *shown)
{
        int r = cat_creator_is(fd, name, w->user_id);

        if (r == 0 && !w->foreign) {
                w->foreign = strdup(shown);
                if (!w->foreign)
                        return -ENOMEM;
        }
        return r < 0 ? (r == -ENOENT ? 0 : r) : !r;
}

static void free_names(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* Read all entry names, so that the directory need not stay open. */
static int list_names(int fd, char ***ret_names, size_t *ret_n)
{
        char **v = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        DIR *d;
        int dfd, r = 0;

        dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return r;
        }
        errno = 0;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 ||
                    strcmp(de->d_name, "..") == 0)
                        continue;
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        char **nv = realloc(v, ncap * sizeof(*v));

                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        v = nv;
                        cap = ncap;
                }
                v[n] = strdup(de->d_name);
                if (!v[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
                errno = 0;
        }
        if (r == 0 && errno != 0)
                r = -errno;
        closedir(d);
        if (r < 0) {
                free_names(v, n);
                return r;
        }
        *ret_names = v;
        *ret_n = n;
        return 0;
}

static void frame_release(struct frame *f)
{
        if (f->fd >= 0)
                close(f->fd);
        if (f->dst_fd >= 0)
                close(f->dst_fd);
        free(f->name);
        free_names(f->names, f->n);
        memset(f, 0, sizeof(*f));
        f->fd = f->dst_fd = -1;
}

static int open_dir_at(int dirfd, const char *name, dev_t *ret_dev,
                       ino_t *ret_ino)
{
        struct stat st;
        int fd;

        fd = openat(dirfd, name,
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        *ret_dev = st.st_dev;
        *ret_ino = st.st_ino;
        return fd;
}

/* Reopen a closed ancestor through ".." of its open child. */
static int reopen_parent(int child_fd, dev_t dev, ino_t ino)
{
        dev_t d = 0;
        ino_t i = 0;
        int fd = open_dir_at(child_fd, "..", &d, &i);

        if (fd < 0)
                return fd;
        if (d != dev || i != ino) {
                close(fd);
                return -ESTALE;
        }
        return fd;
}

/* Keep the number of open directories within budget. */
static void close_ancestors(struct walk *w)
{
        for (size_t k = 0; w->open > FD_BUDGET && k + 1 < w->depth; k++) {
                struct frame *f = &w->frames[k];

                if (f->fd < 0)
                        continue;
                close(f->fd);
                f->fd = -1;
                if (f->dst_fd >= 0) {
                        close(f->dst_fd);
                        f->dst_fd = -1;
                }
                w->open--;
        }
}

static int push(struct walk *w, int fd, int dst_fd, const struct stat *st,
                char *name)
{
        struct frame *f;
        struct stat dst;
        int r;

        if (w->depth == w->cap) {
                size_t ncap = w->cap ? w->cap * 2 : 16;
                struct frame *nv = realloc(w->frames, ncap * sizeof(*nv));

                if (!nv)
                        return -ENOMEM;
                w->frames = nv;
                w->cap = ncap;
        }
        f = &w->frames[w->depth];
        memset(f, 0, sizeof(*f));
        f->fd = fd;
        f->dst_fd = dst_fd;
        f->dev = st->st_dev;
        f->ino = st->st_ino;
        f->mode = st->st_mode;
        f->atime = st->st_atim;
        f->mtime = st->st_mtim;
        if (dst_fd >= 0) {
                if (fstat(dst_fd, &dst) < 0)
                        return -errno;
                f->dst_dev = dst.st_dev;
                f->dst_ino = dst.st_ino;
        }
        r = list_names(fd, &f->names, &f->n);
        if (r < 0)
                return r;
        f->name = name;
        w->depth++;
        w->open++;
        close_ancestors(w);
        return 0;
}

static int copy_file(int sfd, int dfd, const char *name, const struct stat *st,
                     const char *creator)
{
        struct timespec times[2] = { st->st_atim, st->st_mtim };
        struct stat cur;
        int in, out, r = 0;

        in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
                                       O_NOCTTY);
        if (in < 0)
                return -errno;
        if (fstat(in, &cur) < 0 || !S_ISREG(cur.st_mode)) {
                close(in);
                return 0; /* swapped for something else meanwhile: skip */
        }
        out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                                        O_CLOEXEC,
                     cur.st_mode & 0777);
        if (out < 0) {
                r = -errno;
                close(in);
                return r;
        }
        if (creator)
                (void)cat_creator_set(out, NULL, creator); /* best effort */
        for (;;) {
                ssize_t k = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);

                if (k == 0)
                        break;
                if (k > 0)
                        continue;
                if (errno == EINTR)
                        continue;
                if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
                    errno != EOPNOTSUPP) {
                        r = -errno;
                        break;
                }
                /* Fallback: plain read and write. */
                for (;;) {
                        char buf[65536];
                        ssize_t got = read(in, buf, sizeof(buf)), off = 0;

                        if (got < 0 && errno == EINTR)
                                continue;
                        if (got < 0) {
                                r = -errno;
                                break;
                        }
                        if (got == 0)
                                break;
                        while (off < got) {
                                ssize_t put = write(out, buf + off,
                                                    (size_t)(got - off));

                                if (put < 0 && errno == EINTR)
                                        continue;
                                if (put < 0) {
                                        r = -errno;
                                        break;
                                }
                                off += put;
                        }
                        if (r < 0)
                                break;
                }
                break;
        }
        if (r == 0 && futimens(out, times) < 0)
                r = -errno;
        if (close(out) < 0 && r == 0)
                r = -errno;
        close(in);
        return r;
}

static int copy_symlink(int sfd, int dfd, const char *name,
                        const struct stat *st, const char *creator)
{
        struct timespec times[2] = { st->st_atim, st->st_mtim };
        char buf[PATH_MAX + 1];
        ssize_t k;

        k = readlinkat(sfd, name, buf, sizeof(buf) - 1);
        if (k < 0)
                return -errno;
        buf[k] = 0;
        if (symlinkat(buf, dfd, name) < 0)
                return -errno;
        if (creator)
                (void)cat_creator_set(dfd, name, creator);
        (void)utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW);
        return 0;
}

/* Remove a non-directory, making its directory writable if need be. */
static int unlink_entry(int dirfd, const char *name, int flags)
{
        if (unlinkat(dirfd, name, flags) == 0)
                return 0;
        if (errno == EACCES || errno == EPERM) {
                struct stat st;

                if (fstat(dirfd, &st) == 0 && !(st.st_mode & S_IWUSR) &&
                    fchmod(dirfd, (st.st_mode & 07777) | S_IRWXU) == 0 &&
                    unlinkat(dirfd, name, flags) == 0)
                        return 0;
        }
        return errno == ENOENT ? 0 : -errno;
}

/* Visit one entry of the current frame. */
static int visit(struct walk *w, const char *name)
{
        struct frame *f = &w->frames[w->depth - 1];
        struct stat st;
        dev_t dev = 0;
        ino_t ino = 0;
        int fd, dst_fd = -1, r;
        char *copy;

        if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;

        if (!S_ISDIR(st.st_mode)) {
                switch (w->mode) {
                case WALK_REMOVE:
                        return unlink_entry(f->fd, name, 0);
                case WALK_USAGE:
                        w->files++;
                        if (S_ISREG(st.st_mode))
                                w->bytes += st.st_size;
                        return 0;
                case WALK_COPY:
                        if (S_ISREG(st.st_mode))
                                return copy_file(f->fd, f->dst_fd, name, &st,
                                                 w->user_id);
                        if (S_ISLNK(st.st_mode))
                                return copy_symlink(f->fd, f->dst_fd, name,
                                                    &st, w->user_id);
                        return 0; /* devices, fifos, sockets are not data */
                case WALK_CREATOR:
                        return check_creator(w, f->fd, name, name);
                }
        }

        fd = open_dir_at(f->fd, name, &dev, &ino);
        if (fd == -EACCES && w->mode == WALK_REMOVE &&
            fchmodat(f->fd, name, (st.st_mode & 07777) | S_IRWXU,
                     AT_SYMLINK_NOFOLLOW) == 0)
                fd = open_dir_at(f->fd, name, &dev, &ino);
        if (fd < 0)
                return fd == -ENOENT ? 0 : fd;
        if (dev != st.st_dev || ino != st.st_ino) {
                close(fd);
                return -ESTALE;
        }
        if (w->mode == WALK_USAGE)
                w->files++;
        if (w->mode == WALK_CREATOR) {
                r = check_creator(w, fd, NULL, name);
                if (r != 0) {
                        close(fd);
                        return r;
                }
        }
        if (w->mode == WALK_COPY) {
                if (mkdirat(f->dst_fd, name, 0700) < 0) {
                        r = -errno;
                        close(fd);
                        return r;
                }
                dst_fd = open_dir_at(f->dst_fd, name, &dev, &ino);
                if (dst_fd < 0) {
                        close(fd);
                        return dst_fd;
                }
                if (w->user_id)
                        (void)cat_creator_set(dst_fd, NULL, w->user_id);
        }
        copy = strdup(name);
        if (!copy) {
                close(fd);
                if (dst_fd >= 0)
                        close(dst_fd);
                return -ENOMEM;
        }
        r = push(w, fd, dst_fd, &st, copy);
        if (r < 0) {
                /* push took nothing when it failed. */
                free(copy);
                close(fd);
                if (dst_fd >= 0)
                        close(dst_fd);
        }
        return r;
}

/* Leave the finished top frame: the directory itself is handled now. */
static int leave(struct walk *w)
{
        struct frame *f = &w->frames[w->depth - 1];
        struct frame *p = w->depth > 1 ? &w->frames[w->depth - 2] : NULL;
        struct timespec times[2] = { f->atime, f->mtime };
        int r = 0;

        if (p && p->fd < 0) {
                p->fd = reopen_parent(f->fd, p->dev, p->ino);
                if (p->fd < 0)
                        return p->fd;
                if (w->mode == WALK_COPY) {
                        p->dst_fd = reopen_parent(f->dst_fd, p->dst_dev,
                                                  p->dst_ino);
                        if (p->dst_fd < 0)
                                return p->dst_fd;
                }
                w->open++;
        }
        if (w->mode == WALK_COPY) {
                if (fchmod(f->dst_fd, f->mode & 0777) < 0 ||
                    futimens(f->dst_fd, times) < 0)
                        r = -errno;
        }
        if (r == 0 && w->mode == WALK_REMOVE && p)
                r = unlink_entry(p->fd, f->name, AT_REMOVEDIR);
        frame_release(f);
        w->depth--;
        w->open--;
        return r;
}

static int walk_run(struct walk *w)
{
        int r = 0;

        while (w->depth > 0 && r == 0) {
                struct frame *f = &w->frames[w->depth - 1];

                if (f->i < f->n) {
                        /* Our own copy of the name: push may move frames. */
                        char *name = f->names[f->i++];

                        r = visit(w, name);
                } else if (w->depth > 1) {
                        r = leave(w);
                } else {
                        break;
                }
        }
        return r;
}

static void walk_release(struct walk *w)
{
        while (w->depth > 0)
                frame_release(&w->frames[--w->depth]);
        free(w->frames);
}

static int walk_tree_at(struct walk *w, int dirfd, const char *path,
                        const char *dst)
{
        struct stat st;
        int fd, dst_fd = -1, r;
        dev_t dev = 0;
        ino_t ino = 0;

        fd = open_dir_at(dirfd, path, &dev, &ino);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        if (dst) {
                dst_fd = open_dir_at(AT_FDCWD, dst, &dev, &ino);
                if (dst_fd < 0) {
                        close(fd);
                        return dst_fd;
                }
        }
        if (w->mode == WALK_CREATOR) {
                r = check_creator(w, fd, NULL, path);
                if (r != 0) {
                        close(fd);
                        return r;
                }
        }
        r = push(w, fd, dst_fd, &st, NULL);
        if (r < 0) {
                close(fd);
                if (dst_fd >= 0)
                        close(dst_fd);
                free(w->frames);
                return r;
        }
        r = walk_run(w);
        walk_release(w);
        return r;
}

static int walk_tree(struct walk *w, const char *path, const char *dst)
{
        return walk_tree_at(w, AT_FDCWD, path, dst);
}

int cat_tree_remove(const char *path)
{
        struct walk w = { .mode = WALK_REMOVE };
        struct stat st;
        int r;

        if (!path || !*path)
                return -EINVAL;
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 ? -errno : 0;
        r = walk_tree(&w, path, NULL);
        if (r < 0)
                return r;
        if (rmdir(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}

int cat_tree_copy(const char *src, const char *dst, const char *creator)
{
        struct walk w = { .mode = WALK_COPY, .user_id = creator };

        if (!src || !dst)
                return -EINVAL;
        return walk_tree(&w, src, dst);
}

int cat_tree_usage(const char *path, int64_t *ret_bytes, int64_t *ret_files)
{
        struct walk w = { .mode = WALK_USAGE };
        int r;

        if (!path)
                return -EINVAL;
        r = walk_tree(&w, path, NULL);
        if (r < 0)
                return r;
        *ret_bytes = w.bytes;
        *ret_files = w.files;
        return 0;
}

int cat_tree_created_by(int fd, const char *name, const char *user_id,
                        char **ret_foreign)
{
        struct walk w = { .mode = WALK_CREATOR, .user_id = user_id };
        struct stat st;
        int r;

        if (!name || !*name || strchr(name, '/'))
                return -EINVAL;
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                r = check_creator(&w, fd, name, name);
        else
                r = walk_tree_at(&w, fd, name, NULL);
        if (r < 0) {
                free(w.foreign);
                return r;
        }
        if (r > 0 && ret_foreign)
                *ret_foreign = w.foreign;
        else
                free(w.foreign);
        return r > 0 ? 0 : 1;
}
