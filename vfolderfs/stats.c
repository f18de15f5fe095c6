/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stats.c - the operation table the daemon mounts with (see stats.h): a
 * copy of vfs_ops whose every entry runs the real operation inside an
 * epoch (epoch.h) and, with VFOLDERFS_STATS, first increments a relaxed
 * atomic counter.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "epoch.h"
#include "stats.h"

enum {
        S_LOOKUP, S_FORGET, S_FORGET_MULTI, S_GETATTR, S_SETATTR, S_READLINK,
        S_MKNOD, S_MKDIR, S_UNLINK, S_RMDIR, S_SYMLINK, S_RENAME, S_LINK,
        S_OPEN, S_READ, S_WRITE, S_WRITE_BUF, S_FLUSH, S_RELEASE, S_FSYNC,
        S_OPENDIR, S_READDIR, S_READDIRPLUS, S_RELEASEDIR, S_FSYNCDIR,
        S_STATFS, S_SETXATTR, S_GETXATTR, S_LISTXATTR, S_REMOVEXATTR,
        S_ACCESS, S_CREATE, S_FALLOCATE, S_COPY_FILE_RANGE, S_LSEEK,
        S_GETLK, S_SETLK, S_FLOCK,
        S_COUNT
};

static const char *const names[S_COUNT] = {
        "lookup", "forget", "forget_multi", "getattr", "setattr", "readlink",
        "mknod", "mkdir", "unlink", "rmdir", "symlink", "rename", "link",
        "open", "read", "write", "write_buf", "flush", "release", "fsync",
        "opendir", "readdir", "readdirplus", "releasedir", "fsyncdir",
        "statfs", "setxattr", "getxattr", "listxattr", "removexattr",
        "access", "create", "fallocate", "copy_file_range", "lseek",
        "getlk", "setlk", "flock",
};

static unsigned long long counts[S_COUNT];
static struct fuse_lowlevel_ops table;

#define COUNT(i) __atomic_add_fetch(&counts[i], 1, __ATOMIC_RELAXED)

static bool counting;

/*
 * One wrapper per operation: count (with VFOLDERFS_STATS), then call the
 * real one inside an epoch (epoch.h), so that a view it may load is not
 * freed under it.
 */
#define WRAP(op, idx, params, args)                                          \
        static void w_##op params                                            \
        {                                                                    \
                if (counting)                                                \
                        COUNT(idx);                                          \
                if (epoch_enter() < 0) {                                     \
                        fuse_reply_err(r, ENOMEM);                           \
                        return;                                              \
                }                                                            \
                vfs_ops.op args;                                             \
                epoch_leave();                                               \
        }

/* The same for forgets, which touch no view (and cannot fail). */
#define WRAP_NOVIEW(op, idx, params, args)                                   \
        static void w_##op params                                            \
        {                                                                    \
                if (counting)                                                \
                        COUNT(idx);                                          \
                vfs_ops.op args;                                             \
        }

WRAP(lookup, S_LOOKUP, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP_NOVIEW(forget, S_FORGET, (fuse_req_t r, fuse_ino_t i, uint64_t n), (r, i, n))
WRAP_NOVIEW(forget_multi, S_FORGET_MULTI,
     (fuse_req_t r, size_t c, struct fuse_forget_data *f), (r, c, f))
WRAP(getattr, S_GETATTR,
     (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))
WRAP(setattr, S_SETATTR,
     (fuse_req_t r, fuse_ino_t i, struct stat *a, int v,
      struct fuse_file_info *f), (r, i, a, v, f))
WRAP(readlink, S_READLINK, (fuse_req_t r, fuse_ino_t i), (r, i))
WRAP(mknod, S_MKNOD,
     (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, dev_t d),
     (r, p, n, m, d))
WRAP(mkdir, S_MKDIR, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m),
     (r, p, n, m))
WRAP(unlink, S_UNLINK, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP(rmdir, S_RMDIR, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP(symlink, S_SYMLINK,
     (fuse_req_t r, const char *l, fuse_ino_t p, const char *n), (r, l, p, n))
WRAP(rename, S_RENAME,
     (fuse_req_t r, fuse_ino_t p, const char *n, fuse_ino_t np,
      const char *nn, unsigned int f), (r, p, n, np, nn, f))
WRAP(link, S_LINK,
     (fuse_req_t r, fuse_ino_t i, fuse_ino_t np, const char *nn),
     (r, i, np, nn))
WRAP(open, S_OPEN, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f),
     (r, i, f))
WRAP(read, S_READ,
     (fuse_req_t r, fuse_ino_t i, size_t s, off_t o,
      struct fuse_file_info *f), (r, i, s, o, f))
WRAP(write, S_WRITE,
     (fuse_req_t r, fuse_ino_t i, const char *b, size_t s, off_t o,
      struct fuse_file_info *f), (r, i, b, s, o, f))
WRAP(write_buf, S_WRITE_BUF,
     (fuse_req_t r, fuse_ino_t i, struct fuse_bufvec *b, off_t o,
      struct fuse_file_info *f), (r, i, b, o, f))
WRAP(flush, S_FLUSH, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f),
     (r, i, f))
WRAP(release, S_RELEASE,
     (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))
WRAP(fsync, S_FSYNC,
     (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *f),
     (r, i, d, f))
WRAP(opendir, S_OPENDIR,
     (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))
WRAP(readdir, S_READDIR,
     (fuse_req_t r, fuse_ino_t i, size_t s, off_t o,
      struct fuse_file_info *f), (r, i, s, o, f))
WRAP(readdirplus, S_READDIRPLUS,
     (fuse_req_t r, fuse_ino_t i, size_t s, off_t o,
      struct fuse_file_info *f), (r, i, s, o, f))
WRAP(releasedir, S_RELEASEDIR,
     (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))
WRAP(fsyncdir, S_FSYNCDIR,
     (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *f),
     (r, i, d, f))
WRAP(statfs, S_STATFS, (fuse_req_t r, fuse_ino_t i), (r, i))
WRAP(setxattr, S_SETXATTR,
     (fuse_req_t r, fuse_ino_t i, const char *n, const char *v, size_t s,
      int f), (r, i, n, v, s, f))
WRAP(getxattr, S_GETXATTR,
     (fuse_req_t r, fuse_ino_t i, const char *n, size_t s), (r, i, n, s))
WRAP(listxattr, S_LISTXATTR, (fuse_req_t r, fuse_ino_t i, size_t s),
     (r, i, s))
WRAP(removexattr, S_REMOVEXATTR, (fuse_req_t r, fuse_ino_t i, const char *n),
     (r, i, n))
WRAP(access, S_ACCESS, (fuse_req_t r, fuse_ino_t i, int m), (r, i, m))
WRAP(create, S_CREATE,
     (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m,
      struct fuse_file_info *f), (r, p, n, m, f))
WRAP(fallocate, S_FALLOCATE,
     (fuse_req_t r, fuse_ino_t i, int m, off_t o, off_t l,
      struct fuse_file_info *f), (r, i, m, o, l, f))
WRAP(copy_file_range, S_COPY_FILE_RANGE,
     (fuse_req_t r, fuse_ino_t ii, off_t oi, struct fuse_file_info *fi,
      fuse_ino_t io, off_t oo, struct fuse_file_info *fo, size_t l, int f),
     (r, ii, oi, fi, io, oo, fo, l, f))
WRAP(lseek, S_LSEEK,
     (fuse_req_t r, fuse_ino_t i, off_t o, int w, struct fuse_file_info *f),
     (r, i, o, w, f))
WRAP(getlk, S_GETLK,
     (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f, struct flock *l),
     (r, i, f, l))
WRAP(setlk, S_SETLK,
     (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f, struct flock *l,
      int s), (r, i, f, l, s))
WRAP(flock, S_FLOCK,
     (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f, int o),
     (r, i, f, o))

#define HOOK(op)                                                             \
        do {                                                                 \
                if (vfs_ops.op)                                              \
                        table.op = w_##op;                                   \
        } while (0)

const struct fuse_lowlevel_ops *stats_ops(bool count)
{
        counting = count;
        table = vfs_ops;
        HOOK(lookup); HOOK(forget); HOOK(forget_multi); HOOK(getattr);
        HOOK(setattr); HOOK(readlink); HOOK(mknod); HOOK(mkdir);
        HOOK(unlink); HOOK(rmdir); HOOK(symlink); HOOK(rename); HOOK(link);
        HOOK(open); HOOK(read); HOOK(write); HOOK(write_buf); HOOK(flush);
        HOOK(release); HOOK(fsync); HOOK(opendir); HOOK(readdir);
        HOOK(readdirplus); HOOK(releasedir); HOOK(fsyncdir); HOOK(statfs);
        HOOK(setxattr); HOOK(getxattr); HOOK(listxattr); HOOK(removexattr);
        HOOK(access); HOOK(create); HOOK(fallocate); HOOK(copy_file_range);
        HOOK(lseek); HOOK(getlk); HOOK(setlk); HOOK(flock);
        return &table;
}

int stats_write(const char *path)
{
        /* 0644 whatever the umask (the daemon runs with umask 0). */
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
        int err = 0;

        if (!f) {
                err = -errno;
                if (fd >= 0)
                        close(fd);
                return err;
        }
        for (int i = 0; i < S_COUNT; i++) {
                unsigned long long n = __atomic_load_n(&counts[i],
                                                       __ATOMIC_RELAXED);

                if (n)
                        fprintf(f, "%s %llu\n", names[i], n);
        }
        if (fclose(f) != 0)
                err = -errno;
        return err;
}
