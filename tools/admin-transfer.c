/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-transfer.c - `files put` and `files get`: copying a file into a
 * folder (through a temporary name, fsync'd, renamed into place, so a file
 * appears whole or not at all; within the folder's quota) and out of it (to
 * standard output, or to a local file through a temporary name).  Only
 * regular files travel; a final symlink is never followed.
 */
#include "admin-explorer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF_SIZE (128 * 1024)
#define PUT_TMP_PREFIX ".vfolderfs-put."

/* ---------------------------------------------------------------------------
 * Copying.
 */

/*
 * Copy in to out.  limit >= 0 caps the bytes copied (-EDQUOT past it).
 * *ret_copied gets the count.  Returns 0 or a negative errno; *ret_side
 * says which end failed ('r' or 'w').
 */
static int copy_fd(int in, int out, int64_t limit, int64_t *ret_copied,
                   char *ret_side)
{
        char *buf = xmalloc(COPY_BUF_SIZE);
        int64_t copied = 0;
        int r = 0;

        for (;;) {
                ssize_t n = read(in, buf, COPY_BUF_SIZE);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        *ret_side = 'r';
                        break;
                }
                if (n == 0)
                        break;
                if (limit >= 0 && copied + n > limit) {
                        r = -EDQUOT;
                        *ret_side = 'w';
                        break;
                }
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t)(n - off));

                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0) {
                                r = -errno;
                                *ret_side = 'w';
                                goto out;
                        }
                        off += w;
                }
                copied += n;
        }
out:
        *ret_copied = copied;
        free(buf);
        return r;
}

/* ---------------------------------------------------------------------------
 * files put.
 */

/* Create a temporary file in dirfd; its name goes to name (>= 32 bytes). */
static int create_tmp(int dirfd, char *name, size_t size)
{
        static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";

        for (int tries = 0; tries < 100; tries++) {
                unsigned char rnd[8];
                int fd;

                if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                        return -EIO;
                snprintf(name, size, "%s", PUT_TMP_PREFIX);
                for (size_t i = 0; i < sizeof(rnd); i++) {
                        size_t len = strlen(name);

                        name[len] = chars[rnd[i] % (sizeof(chars) - 1)];
                        name[len + 1] = '\0';
                }
                fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            0644);
                if (fd >= 0 || errno != EEXIST)
                        return fd >= 0 ? fd : -errno;
        }
        return -EEXIST;
}

/* Where a put goes: the directory (relative to the root) and the name. */
static int put_destination(const struct explorer *ex, const char *path,
                           const char *local, char **ret_dir, char **ret_name)
{
        char *base_copy = NULL, *dir, *name;
        const char *base;
        struct split sp;
        int r = 0, fd;

        /* Standard input has no name: PATH must give one. */
        base = strcmp(local, "-") ? path_base_name(local, &base_copy) : "";
        if (!path) {
                dir = xstrdup("");
                name = xstrdup(base);
        } else {
                path_split(path, &sp);
                fd = sp.name ? explorer_open_beneath(ex, sp.full, O_PATH | O_DIRECTORY)
                             : -ENOTDIR;
                if (!sp.name || sp.trailing_slash || fd >= 0) {
                        /* Into an existing directory, under the local file's name. */
                        dir = xstrdup(sp.full);
                        name = xstrdup(base);
                } else {
                        dir = xstrdup(sp.dir);
                        name = xstrdup(sp.name);
                }
                if (fd >= 0)
                        close(fd);
                path_split_free(&sp);
        }
        if (!name[0] || path_name_is_dots(name) || strchr(name, '/')) {
                free(dir);
                free(name);
                r = -EINVAL;
        } else {
                *ret_dir = dir;
                *ret_name = name;
        }
        free(base_copy);
        return r;
}

/*
 * Give the uploaded temporary file its name.  Replacing (--force) is a
 * removal of what was there: for a --user holding rw, only of a file that
 * user created, checked under the directory's lock (the daemon's rule and
 * lock).
 */
static int put_rename(const struct explorer *ex, int pfd, const char *tmp,
                      const char *name, bool force, char **ret_why)
{
        int lock = -1, r = 0;

        if (force) {
                r = explorer_lock(ex, pfd, &lock);
                if (r == 0) {
                        r = explorer_check_removal(ex, pfd, name, false, ret_why);
                        if (r == -ENOENT)
                                r = 0; /* gone meanwhile: nothing is replaced */
                }
        }
        if (r == 0 && renameat2(pfd, tmp, pfd, name, force ? 0 : RENAME_NOREPLACE) < 0) {
                r = -errno;
                if (r == -EEXIST)
                        *ret_why = xasprintf("'%s' exists (--force replaces it)", name);
        }
        cat_dir_unlock(lock);
        return r;
}

/*
 * Write from in to dir/name through a temporary file.  *ret_why may get a
 * reason that is better than the errno.
 */
static int put_file(struct admin_ctx *ctx, const struct explorer *ex, int in,
                    int pfd, const char *name, bool force, char **ret_why)
{
        char tmp[64], side = 0;
        int64_t limit = -1, copied = 0, replaced = 0;
        cat_usage *usage = NULL;
        bool existed = false;
        struct stat st;
        int fd, r;

        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (!S_ISREG(st.st_mode)) {
                        *ret_why = xasprintf("'%s' exists and is a %s", name,
                                             S_ISDIR(st.st_mode) ? "directory" :
                                             S_ISLNK(st.st_mode) ? "symbolic link" :
                                             "special file");
                        return -EEXIST;
                }
                if (!force) {
                        *ret_why = xasprintf("'%s' exists (--force replaces it)", name);
                        return -EEXIST;
                }
                /* refused at once rather than after the copy (checked again there) */
                r = explorer_check_removal(ex, pfd, name, false, ret_why);
                if (r < 0)
                        return r;
                replaced = st.st_size;
                existed = true;
        } else if (errno != ENOENT) {
                return -errno;
        }
        if (ex->folder->quota_bytes > 0) {
                int64_t bytes = 0;
                char *err = NULL, *path = NULL;

                /*
                 * Against the usage counter the daemons share, held locked
                 * for the copy, so that sessions writing the folder now and
                 * this upload share one limit.
                 */
                r = cat_folder_backing_path(ctx->cat, ex->folder, &path, &err);
                if (r == 0)
                        r = cat_usage_open(path, ex->folder->id, &usage, &err);
                free(path);
                if (r == 0) {
                        r = cat_usage_lock(usage);
                        if (r < 0) {
                                cat_usage_close(usage);
                                usage = NULL;
                        }
                }
                if (r == 0)
                        r = cat_usage_get(usage, &bytes, NULL);
                if (r < 0) {
                        *ret_why = err ? err : NULL;
                        goto out;
                }
                limit = ex->folder->quota_bytes - bytes + replaced;
                if (limit < 0)
                        limit = 0;
        }
        fd = create_tmp(pfd, tmp, sizeof(tmp));
        if (fd < 0) {
                r = fd;
                goto out;
        }
        /* the --user made it: the record travels with the file to its name */
        explorer_record(ex, fd, NULL);
        r = copy_fd(in, fd, limit, &copied, &side);
        if (r == -EDQUOT)
                *ret_why = xasprintf("the folder's quota of %" PRId64 " bytes would be exceeded",
                                     ex->folder->quota_bytes);
        else if (r < 0 && side == 'r')
                *ret_why = xasprintf("cannot read the input: %s", strerror(-r));
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0) {
                explorer_set_owner_fd(ex, fd);
                if (fsync(fd) < 0)
                        r = -errno;
        }
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0)
                r = put_rename(ex, pfd, tmp, name, force, ret_why);
        if (r < 0)
                unlinkat(pfd, tmp, 0);
out:
        if (usage) {
                if (r == 0)
                        (void)cat_usage_add(usage, copied - replaced,
                                            existed ? 0 : 1);
                cat_usage_unlock(usage);
                cat_usage_close(usage);
        }
        return r;
}

int admin_files_put(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv)
{
        static const char *const names[] = { "REF", "LOCAL", "PATH" };
        const char *local, *path;
        char *what = NULL, *why = NULL, *dir = NULL, *name = NULL;
        struct files_opts o;
        struct explorer ex;
        struct stat st;
        int r, in = -1, pfd = -1;

        r = explorer_parse_options(ctx, cmd, argc, argv, ALLOW_FORCE, &o, 2, 3, names);
        if (r != ADMIN_CONTINUE)
                return r;
        local = argv[optind + 1];
        path = optind + 2 < argc ? argv[optind + 2] : NULL;
        if (!strcmp(local, "-") && !path)
                return admin_usage_error("%s: PATH is needed to upload from standard input",
                                         cmd->path);
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        what = xasprintf("cannot upload '%s' to '%s' in folder '%s'", local,
                         path ? path : "/", ex.folder->name);
        if ((why = explorer_refuse(&ex, CAT_OP_CHANGE, false))) {
                r = admin_failx(why, "%s", what);
                goto out;
        }
        if (!strcmp(local, "-")) {
                in = STDIN_FILENO;
        } else {
                in = open(local, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (in < 0 || fstat(in, &st) < 0) {
                        r = admin_fail(-errno, NULL, "cannot open '%s'", local);
                        goto out;
                }
                if (S_ISDIR(st.st_mode)) {
                        r = admin_fail(-EISDIR, NULL, "cannot upload '%s'", local);
                        goto out;
                }
        }
        r = put_destination(&ex, path, local, &dir, &name);
        if (r < 0) {
                r = admin_failx(strcmp(local, "-") ? "not a valid file name" :
                                "PATH must name the file to write standard input to",
                                "%s", what);
                goto out;
        }
        pfd = explorer_open_beneath(&ex, dir, O_PATH | O_DIRECTORY);
        r = pfd < 0 ? pfd : put_file(ctx, &ex, in, pfd, name, o.force, &why);
        r = r < 0 ? admin_failx(why ? why : explorer_strerror(r), "%s", what) : 0;
out:
        if (in > STDIN_FILENO)
                close(in);
        if (pfd >= 0)
                close(pfd);
        free(dir);
        free(name);
        free(why);
        free(what);
        explorer_close(&ex);
        return r;
}

/* ---------------------------------------------------------------------------
 * files get.
 */

/* Open the regular file sp (never following a final symlink). */
static int open_regular(const struct explorer *ex, const struct split *sp,
                        char **ret_why)
{
        struct stat st, st2;
        int pfd, fd;

        if (!sp->name || path_name_is_dots(sp->name))
                return -EISDIR;
        pfd = explorer_open_beneath(ex, sp->dir, O_PATH | O_DIRECTORY);
        if (pfd < 0)
                return pfd;
        if (fstatat(pfd, sp->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                fd = -errno;
                goto out;
        }
        if (S_ISDIR(st.st_mode)) {
                fd = -EISDIR;
                goto out;
        }
        if (!S_ISREG(st.st_mode)) {
                *ret_why = xstrdup(S_ISLNK(st.st_mode) ? "it is a symbolic link" :
                                   "not a regular file");
                fd = -EINVAL;
                goto out;
        }
        /* O_NONBLOCK: should it have become a fifo meanwhile, do not hang. */
        fd = openat(pfd, sp->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
                fd = -errno;
                goto out;
        }
        if (fstat(fd, &st2) < 0) {
                st2.st_dev = ex->dev;
                st2.st_mode = 0;
        }
        if (!S_ISREG(st2.st_mode) || st2.st_dev != ex->dev) {
                close(fd);
                fd = st2.st_dev != ex->dev ? -EXDEV : -EINVAL;
                goto out;
        }
        fcntl(fd, F_SETFL, 0);
out:
        close(pfd);
        return fd;
}

/* Write fd to the local path dest (a directory: dest/base) via a temp file. */
static int get_to_local(const struct explorer *ex, int fd, const char *dest,
                        const char *base, char **ret_why)
{
        char *target, *tmp = NULL, side = 0;
        struct stat st;
        int64_t copied;
        int out, r;

        if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode))
                target = xasprintf("%s/%s", dest, base);
        else
                target = xstrdup(dest);
        tmp = xasprintf("%s.XXXXXX", target);
        out = mkostemp(tmp, O_CLOEXEC);
        if (out < 0) {
                r = -errno;
                *ret_why = xasprintf("cannot create '%s': %s", tmp, strerror(-r));
                goto done;
        }
        r = copy_fd(fd, out, -1, &copied, &side);
        if (r == 0 && fchmod(out, 0666 & ~ex->old_umask) < 0)
                r = -errno;
        if (close(out) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, target) < 0)
                r = -errno;
        if (r < 0) {
                if (!*ret_why)
                        *ret_why = xasprintf("cannot write '%s': %s", target, strerror(-r));
                unlink(tmp);
        }
done:
        free(tmp);
        free(target);
        return r;
}

int admin_files_get(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv)
{
        static const char *const names[] = { "REF", "PATH", "LOCAL" };
        const char *path, *local;
        char *what, *why = NULL, *base_copy = NULL, side = 0;
        struct files_opts o;
        struct explorer ex;
        struct split sp;
        int64_t copied;
        int r, fd;

        r = explorer_parse_options(ctx, cmd, argc, argv, 0, &o, 2, 3, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        path = argv[optind + 1];
        local = optind + 2 < argc ? argv[optind + 2] : "-";
        what = xasprintf("cannot download '%s' from folder '%s'", path, ex.folder->name);
        path_split(path, &sp);
        fd = open_regular(&ex, &sp, &why);
        if (fd < 0) {
                r = admin_failx(why ? why : explorer_strerror(fd), "%s", what);
                goto out;
        }
        if (!strcmp(local, "-")) {
                fflush(stdout);
                r = copy_fd(fd, STDOUT_FILENO, -1, &copied, &side);
                if (r < 0)
                        why = xasprintf("cannot %s: %s", side == 'r' ? "read" :
                                        "write the output", strerror(-r));
        } else {
                r = get_to_local(&ex, fd, local, path_base_name(sp.full, &base_copy), &why);
        }
        close(fd);
        r = r < 0 ? admin_failx(why ? why : strerror(-r), "%s", what) : 0;
out:
        free(base_copy);
        free(why);
        path_split_free(&sp);
        free(what);
        explorer_close(&ex);
        return r;
}
