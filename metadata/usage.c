/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usage.c - the per-folder usage counters that make a folder's quota one
 * limit for every process on every machine writing it: a small file
 * <host root>/.vfolderfs-usage/<folder id> holding the bytes (st_size of
 * regular files) and entries below the folder's backing directory, the same
 * measure as cat_tree_usage().  Every change of a folder's size is made
 * under the counter's lock (a mutex for the threads of one process, an
 * open-file-description lock for other processes), and the counter is read
 * and written with pread/pwrite under that lock, so it is exact among the
 * processes that use it, and it also holds across machines sharing the host
 * over NFS, where taking a POSIX lock revalidates the client's cache and
 * releasing it flushes the write.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog-private.h"

#define USAGE_MAGIC 0x3165676173756676ULL /* "vfusage1", little-endian */

struct usage_record {
        uint64_t magic;
        int64_t bytes;
        int64_t files;
        int64_t recounted_at;
};

struct cat_usage {
        int fd;
        pthread_mutex_t lock;
};

char *cat_usage_path(const char *backing_path, const char *folder_id)
{
        const char *end = backing_path + strlen(backing_path);
        char *r;

        /* <root>/<scope>/<xx>/<yy>/<rest>: strip four components */
        for (int i = 0; i < 4; i++) {
                while (end > backing_path && end[-1] == '/')
                        end--;
                while (end > backing_path && end[-1] != '/')
                        end--;
                if (end == backing_path)
                        return NULL;
        }
        while (end > backing_path + 1 && end[-1] == '/')
                end--;
        if (asprintf(&r, "%.*s/" CAT_USAGE_DIR "/%s", (int)(end - backing_path),
                     backing_path, folder_id) < 0)
                return NULL;
        return r;
}

static int ofd_lock(int fd, short type)
{
        struct flock fl = { .l_type = type, .l_whence = SEEK_SET };

        while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
                if (errno != EINTR)
                        return -errno;
        }
        return 0;
}

static int record_read(int fd, struct usage_record *rec)
{
        ssize_t n = pread(fd, rec, sizeof(*rec), 0);

        if (n < 0)
                return -errno;
        if ((size_t)n != sizeof(*rec) || rec->magic != USAGE_MAGIC)
                return -ENODATA;
        return 0;
}

static int record_write(int fd, int64_t bytes, int64_t files)
{
        struct usage_record rec = {
                .magic = USAGE_MAGIC,
                .bytes = bytes,
                .files = files,
                .recounted_at = cat_now(),
        };
        struct usage_record old;

        if (record_read(fd, &old) == 0)
                rec.recounted_at = old.recounted_at;
        if (pwrite(fd, &rec, sizeof(rec), 0) != (ssize_t)sizeof(rec))
                return errno ? -errno : -EIO;
        return 0;
}

/* Count the backing directory and store the result; fd locked. */
static int recount_locked(int fd, const char *backing_path)
{
        struct usage_record rec = { .magic = USAGE_MAGIC };
        int r;

        r = cat_tree_usage(backing_path, &rec.bytes, &rec.files);
        if (r < 0)
                return r;
        rec.recounted_at = cat_now();
        if (pwrite(fd, &rec, sizeof(rec), 0) != (ssize_t)sizeof(rec))
                return errno ? -errno : -EIO;
        return 0;
}

int cat_usage_open(const char *backing_path, const char *folder_id,
                   cat_usage **ret_usage, char **reterr)
{
        struct usage_record rec;
        cat_usage *u;
        char *path, *slash;
        int fd, r;

        path = cat_usage_path(backing_path, folder_id);
        if (!path)
                return cat_err(reterr, -EINVAL, "no usage counter for '%s'",
                               backing_path);
        slash = strrchr(path, '/');
        *slash = '\0';
        if (mkdir(path, CAT_PRIVATE_DIR_MODE) < 0 && errno != EEXIST) {
                r = cat_err(reterr, -errno, "cannot create '%s': %s", path,
                            strerror(errno));
                free(path);
                return r;
        }
        *slash = '/';
        fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                  CAT_PRIVATE_FILE_MODE);
        if (fd < 0) {
                r = cat_err(reterr, -errno, "cannot open '%s': %s", path,
                            strerror(errno));
                free(path);
                return r;
        }
        r = ofd_lock(fd, F_WRLCK);
        if (r == 0 && record_read(fd, &rec) < 0) {
                /* first use: count what the folder holds now */
                r = recount_locked(fd, backing_path);
        }
        (void)ofd_lock(fd, F_UNLCK);
        if (r < 0) {
                r = cat_err(reterr, r, "cannot count '%s': %s", backing_path,
                            strerror(-r));
                close(fd);
                free(path);
                return r;
        }
        free(path);
        u = calloc(1, sizeof(*u));
        if (!u) {
                close(fd);
                return cat_oom(reterr);
        }
        u->fd = fd;
        pthread_mutex_init(&u->lock, NULL);
        *ret_usage = u;
        return 0;
}

void cat_usage_close(cat_usage *u)
{
        if (!u)
                return;
        close(u->fd);
        pthread_mutex_destroy(&u->lock);
        free(u);
}

int cat_usage_lock(cat_usage *u)
{
        int r;

        pthread_mutex_lock(&u->lock);
        r = ofd_lock(u->fd, F_WRLCK);
        if (r < 0)
                pthread_mutex_unlock(&u->lock);
        return r;
}

void cat_usage_unlock(cat_usage *u)
{
        (void)ofd_lock(u->fd, F_UNLCK);
        pthread_mutex_unlock(&u->lock);
}

int cat_usage_get(cat_usage *u, int64_t *ret_bytes, int64_t *ret_files)
{
        struct usage_record rec;
        int r = record_read(u->fd, &rec);

        if (r < 0)
                return r;
        if (ret_bytes)
                *ret_bytes = rec.bytes;
        if (ret_files)
                *ret_files = rec.files;
        return 0;
}

int cat_usage_add(cat_usage *u, int64_t bytes, int64_t files)
{
        struct usage_record rec;
        int r;

        if (bytes == 0 && files == 0)
                return 0;
        r = record_read(u->fd, &rec);
        if (r < 0)
                return r;
        return record_write(u->fd, rec.bytes + bytes, rec.files + files);
}

/* Read the counter of folder_id, after recounting it when recount is set. */
static int usage_get(const char *backing_path, const char *folder_id,
                     bool recount, int64_t *ret_bytes, int64_t *ret_files)
{
        struct usage_record rec;
        char *path = cat_usage_path(backing_path, folder_id);
        int fd, r;

        if (!path)
                return -EINVAL;
        fd = open(path, (recount ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
                  O_CLOEXEC);
        free(path);
        if (fd < 0)
                return -errno;
        r = ofd_lock(fd, recount ? F_WRLCK : F_RDLCK);
        if (r == 0 && recount)
                r = recount_locked(fd, backing_path);
        if (r == 0)
                r = record_read(fd, &rec);
        (void)ofd_lock(fd, F_UNLCK);
        close(fd);
        if (r < 0)
                return r;
        if (ret_bytes)
                *ret_bytes = rec.bytes;
        if (ret_files)
                *ret_files = rec.files;
        return 0;
}

int cat_usage_read(const char *backing_path, const char *folder_id,
                   int64_t *ret_bytes, int64_t *ret_files)
{
        return usage_get(backing_path, folder_id, false, ret_bytes,
                         ret_files);
}

int cat_usage_recount(const char *backing_path, const char *folder_id,
                      int64_t *ret_bytes, int64_t *ret_files)
{
        return usage_get(backing_path, folder_id, true, ret_bytes, ret_files);
}

int cat_usage_remove(const char *backing_path, const char *folder_id)
{
        char *path = cat_usage_path(backing_path, folder_id);
        int r = 0;

        if (!path)
                return -EINVAL;
        if (unlink(path) < 0 && errno != ENOENT)
                r = -errno;
        free(path);
        return r;
}

int cat_usage_measure(const char *path, int64_t *ret_bytes,
                      int64_t *ret_files)
{
        return cat_tree_usage(path, ret_bytes, ret_files);
}
