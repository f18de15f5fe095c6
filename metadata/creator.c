/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * creator.c - the permission table of SPEC section 3 as one function, and
 * the record it needs for rw: who created each entry of a folder, kept in
 * an extended attribute of the entry on the storage host (trusted.*, which
 * only CAP_SYS_ADMIN reads or writes, else user.*), set when the daemon or
 * the explorer creates the entry and read when a rw user removes or
 * replaces it; plus the directory lock that keeps a name from being swapped
 * between that check and the removal.  Shared by the daemon and the admin
 * tool, so that both apply one rule to one record.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "catalog-private.h"

/* The value: a UUID's text, without its NUL. */
#define RECORD_LEN (CAT_UUID_STRLEN - 1)
/* "/proc/self/fd/" + an int + "/" + a name */
#define ENTRY_PATH_MAX (sizeof("/proc/self/fd//") + 11 + NAME_MAX)

int cat_perm_check(enum cat_perm perm, enum cat_op op, bool own,
                   bool rw_can_delete)
{
        /* Nobody asks for a folder the user cannot see; refuse anyway. */
        if (perm < CAT_PERM_RO)
                return -EROFS;
        switch (op) {
        case CAT_OP_READ:
                return 0;
        case CAT_OP_CHANGE:
                return perm >= CAT_PERM_RW ? 0 : -EROFS;
        case CAT_OP_REMOVE:
                if (perm >= CAT_PERM_WD)
                        return 0;
                if (perm == CAT_PERM_RW)
                        return own || rw_can_delete ? 0 : -EPERM;
                return -EROFS;
        }
        return -EINVAL;
}

bool cat_perm_asks_creator(enum cat_perm perm, enum cat_op op,
                           bool rw_can_delete)
{
        return cat_perm_check(perm, op, true, rw_can_delete) !=
               cat_perm_check(perm, op, false, rw_can_delete);
}

bool cat_xattr_name_reserved(const char *name)
{
        return strncmp(name, "trusted.vfolderfs.", 18) == 0 ||
               strncmp(name, "user.vfolderfs.", 15) == 0;
}

/*
 * The path that reaches the entry: /proc/self/fd/N/name (the caller does
 * not follow its last component), or /proc/self/fd/N, which the kernel
 * resolves to the very entry fd was opened on, a symlink included.
 */
static int entry_path(char buf[ENTRY_PATH_MAX], int fd, const char *name)
{
        int n;

        if (name) {
                if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
                    !strcmp(name, ".."))
                        return -EINVAL;
                n = snprintf(buf, ENTRY_PATH_MAX, "/proc/self/fd/%d/%s", fd,
                             name);
        } else {
                n = snprintf(buf, ENTRY_PATH_MAX, "/proc/self/fd/%d", fd);
        }
        if (n < 0 || (size_t)n >= ENTRY_PATH_MAX)
                return -ENAMETOOLONG;
        return 0;
}

/*
 * The attribute is not kept here: no support in the file system (or, for
 * user.*, not on this type of entry), or no privilege for trusted.*.
 */
static bool refused(int err)
{
        return err == EPERM || err == ENOTSUP || err == EOPNOTSUPP;
}

int cat_creator_set(int fd, const char *name, const char *user_id)
{
        int (*set)(const char *, const char *, const void *, size_t, int) =
                name ? lsetxattr : setxattr;
        char path[ENTRY_PATH_MAX];
        int r;

        if (!cat_uuid_valid(user_id))
                return -EINVAL;
        r = entry_path(path, fd, name);
        if (r < 0)
                return r;
        /* XATTR_CREATE: a record, once there, is never replaced. */
        if (set(path, CAT_CREATOR_XATTR, user_id, RECORD_LEN,
                XATTR_CREATE) == 0)
                return 0;
        if (!refused(errno))
                return -errno;
        if (set(path, CAT_CREATOR_XATTR_USER, user_id, RECORD_LEN,
                XATTR_CREATE) == 0)
                return 0;
        return refused(errno) ? -EOPNOTSUPP : -errno;
}

int cat_creator_is(int fd, const char *name, const char *user_id)
{
        ssize_t (*get)(const char *, const char *, void *, size_t) =
                name ? lgetxattr : getxattr;
        char path[ENTRY_PATH_MAX], buf[RECORD_LEN + 8];
        ssize_t n;
        int r;

        if (!cat_uuid_valid(user_id))
                return -EINVAL;
        r = entry_path(path, fd, name);
        if (r < 0)
                return r;
        /*
         * trusted.* first: where it is kept, a user.* record (which the
         * storage uid could write) never overrides it.  Without
         * CAP_SYS_ADMIN the kernel answers ENODATA for trusted.*.
         */
        n = get(path, CAT_CREATOR_XATTR, buf, sizeof(buf));
        if (n < 0 && (errno == ENODATA || refused(errno)))
                n = get(path, CAT_CREATOR_XATTR_USER, buf, sizeof(buf));
        if (n < 0) {
                /* ERANGE: longer than any record we write: not a record */
                if (errno == ENODATA || errno == ERANGE || refused(errno))
                        return 0;
                return -errno;
        }
        return n == RECORD_LEN && memcmp(buf, user_id, RECORD_LEN) == 0;
}

int cat_dir_lock(int fd, int *ret_lock)
{
        long waited_us = 0, pause_us = 50;
        int lfd;

        /* An O_PATH descriptor cannot be locked: open the directory itself. */
        lfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lfd < 0)
                return -errno;
        /*
         * Polled rather than blocking, so that a lock held for long (by a
         * process on the storage host) costs a bounded wait: between
         * vfolderfs processes it is held for a few system calls.
         */
        for (;;) {
                if (flock(lfd, LOCK_EX | LOCK_NB) == 0) {
                        *ret_lock = lfd;
                        return 0;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK) {
                        /* e.g. NFS, whose flock needs a file open for writing */
                        close(lfd);
                        *ret_lock = -1;
                        return 0;
                }
                if (waited_us >= (long)CAT_DIR_LOCK_WAIT_MS * 1000) {
                        close(lfd);
                        return -EBUSY;
                }
                {
                        struct timespec ts = { 0, pause_us * 1000 };

                        nanosleep(&ts, NULL);
                }
                waited_us += pause_us;
                if (pause_us < 10000)
                        pause_us *= 2;
        }
}

int cat_dir_lock2(int fd1, int fd2, int *ret_lock1, int *ret_lock2)
{
        struct stat a, b;
        bool swap;
        int l1, l2 = -1, r;

        if (fstat(fd1, &a) < 0 || fstat(fd2, &b) < 0)
                return -errno;
        if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                r = cat_dir_lock(fd1, &l1);
                if (r < 0)
                        return r;
                *ret_lock1 = l1;
                *ret_lock2 = -1;
                return 0;
        }
        /* Lower (device, inode) first, in every process. */
        swap = a.st_dev > b.st_dev ||
               (a.st_dev == b.st_dev && a.st_ino > b.st_ino);
        r = cat_dir_lock(swap ? fd2 : fd1, &l1);
        if (r < 0)
                return r;
        r = cat_dir_lock(swap ? fd1 : fd2, &l2);
        if (r < 0) {
                cat_dir_unlock(l1);
                return r;
        }
        *ret_lock1 = swap ? l2 : l1;
        *ret_lock2 = swap ? l1 : l2;
        return 0;
}

void cat_dir_unlock(int lock)
{
        /* Closing the only descriptor of the description drops the lock. */
        if (lock >= 0)
                close(lock);
}
