/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-explorer.c - the machinery under the `files` commands: opening a
 * folder's backing directory once, resolving every path the operator gives
 * beneath it with openat2(2) (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV) so that neither "..", nor a symlink (absolute, or leaving
 * the folder, or swapped in meanwhile), nor a mount point leads out of it;
 * splitting paths into parent and final name for *at() calls; the trash and
 * permission checks of changes; and ownership of new entries.
 */
#include "admin-explorer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------
 * Paths beneath the folder.
 */

/* Why a path operation failed, in words for the operator. */
const char *explorer_strerror(int r)
{
        if (r == -EXDEV)
                return "path leads outside the folder";
        return strerror(-r);
}

/*
 * Open path (relative to the folder root; "" is the root) with openat2,
 * never leaving the folder.  Returns the fd or a negative errno.
 */
int explorer_open_beneath(const struct explorer *ex, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        long fd;

        /* EAGAIN: a concurrent rename raced with the ".." check; retry. */
        for (int tries = 0; tries < 16; tries++) {
                fd = syscall(SYS_openat2, ex->rootfd, path[0] ? path : ".", &how,
                             sizeof(how));
                if (fd >= 0)
                        return (int)fd;
                if (errno != EAGAIN)
                        break;
        }
        return -errno;
}

void path_split(const char *path, struct split *sp)
{
        char *p, *slash;
        size_t len;

        while (*path == '/')
                path++;
        len = strlen(path);
        /* buf holds full, then a copy that is cut into dir and name. */
        sp->buf = xmalloc(2 * len + 2);
        memcpy(sp->buf, path, len + 1);
        sp->trailing_slash = false;
        while (len > 0 && sp->buf[len - 1] == '/') {
                sp->buf[--len] = '\0';
                sp->trailing_slash = true;
        }
        sp->full = sp->buf;
        p = sp->buf + len + 1;
        memcpy(p, sp->full, len + 1);
        if (len == 0 || !strcmp(sp->full, ".")) {
                sp->dir = p;
                sp->name = NULL;
                p[0] = '\0';
                return;
        }
        slash = strrchr(p, '/');
        if (slash) {
                *slash = '\0';
                sp->dir = p;
                sp->name = slash + 1;
        } else {
                sp->dir = p + len; /* "" */
                sp->name = p;
        }
}

void path_split_free(struct split *sp)
{
        free(sp->buf);
}

bool path_name_is_dots(const char *name)
{
        return !strcmp(name, ".") || !strcmp(name, "..");
}

/* The last component of a local or folder path (may be ""). */
const char *path_base_name(const char *path, char **ret_copy)
{
        char *copy = xstrdup(path), *slash;
        size_t len = strlen(copy);

        while (len > 1 && copy[len - 1] == '/')
                copy[--len] = '\0';
        slash = strrchr(copy, '/');
        *ret_copy = copy;
        return slash ? slash + 1 : copy;
}

/* ---------------------------------------------------------------------------
 * Opening a folder, permissions, ownership.
 */

/*
 * Open the backing directory O_PATH.  The host root is the operator's
 * (it may be a symlink); below it, the scope and fan-out directories are
 * the library's, and no symlink there is followed: a backing path replaced
 * by a link on the storage host does not lead the explorer elsewhere.
 * Returns the fd, or -1 with errno set.
 */
static int open_backing(cat_catalog *cat, const struct cat_folder *folder,
                        const char *backing)
{
        struct open_how how = {
                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
        };
        struct cat_host *host = NULL;
        const char *rest = NULL;
        size_t len;
        int hostfd, fd;

        if (cat_host_get(cat, folder->host, &host, NULL) == 0) {
                len = strlen(host->root);
                while (len > 1 && host->root[len - 1] == '/')
                        len--;
                if (!strncmp(backing, host->root, len) && backing[len] == '/')
                        rest = backing + len + 1;
        }
        if (!rest) {
                /* Not under its host's root: at least do not follow the last link. */
                cat_host_free(host);
                return open(backing, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        hostfd = open(host->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        cat_host_free(host);
        if (hostfd < 0)
                return -1;
        fd = (int)syscall(SYS_openat2, hostfd, rest, &how, sizeof(how));
        if (fd < 0 && errno == ELOOP)
                errno = ENOTDIR; /* "a symbolic link, not a directory" */
        close(hostfd);
        return fd;
}
int explorer_open(struct admin_ctx *ctx, const char *ref, const char *user,
                  struct explorer *ex)
{
        char *what, *backing = NULL, *err = NULL;
        struct stat st;
        int r;

        memset(ex, 0, sizeof(*ex));
        ex->rootfd = -1;
        what = xasprintf("cannot open folder '%s'", ref);
        r = admin_folder_resolve(ctx, ref, user, what, &ex->folder);
        if (r)
                goto out;
        ex->perm = user ? ex->folder->effective : CAT_PERM_WD;
        ex->user = user;
        if (user) {
                struct cat_user *u = NULL;

                r = cat_user_get(ctx->cat, user, &u, &err);
                if (r < 0) {
                        r = admin_fail(r, err, "%s", what);
                        goto out;
                }
                memcpy(ex->user_id, u->id, sizeof(ex->user_id));
                cat_user_free(u);
        }
        r = cat_folder_backing_path(ctx->cat, ex->folder, &backing, &err);
        if (r < 0) {
                r = admin_fail(r, err, "%s", what);
                goto out;
        }
        ex->rootfd = open_backing(ctx->cat, ex->folder, backing);
        if (ex->rootfd < 0 || fstat(ex->rootfd, &st) < 0) {
                r = admin_fail(-errno, NULL, "cannot open the directory of folder '%s' ('%s')",
                               ex->folder->name, backing);
                goto out;
        }
        ex->dev = st.st_dev;
        ex->uid = st.st_uid;
        ex->gid = st.st_gid;
        /* New entries get exactly 0644 / 0755. */
        ex->old_umask = umask(022);
out:
        if (r) {
                explorer_close(ex);
                ex->folder = NULL;
                ex->rootfd = -1;
        }
        free(backing);
        free(what);
        return r;
}

void explorer_close(struct explorer *ex)
{
        if (ex->rootfd >= 0)
                close(ex->rootfd);
        cat_folder_free(ex->folder);
}

char *explorer_refuse(const struct explorer *ex, enum cat_op op, bool own)
{
        if (ex->folder->status != CAT_STATUS_READY)
                return xstrdup("the folder is in the trash");
        if (cat_perm_check(ex->perm, op, own, false) < 0)
                return xasprintf("permission denied (%s)", cat_perm_to_string(ex->perm));
        return NULL;
}

bool explorer_asks_creator(const struct explorer *ex)
{
        return ex->user_id[0] && cat_perm_asks_creator(ex->perm, CAT_OP_REMOVE, false);
}

int explorer_check_removal(const struct explorer *ex, int dirfd,
                           const char *name, bool tree, char **ret_why)
{
        char *foreign = NULL;
        struct stat st;
        int own;

        if (!explorer_asks_creator(ex))
                return 0;
        if (tree && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode))
                own = cat_tree_created_by(dirfd, name, ex->user_id, &foreign);
        else
                own = cat_creator_is(dirfd, name, ex->user_id);
        if (own < 0)
                return own;
        if (own == 0) {
                *ret_why = foreign && strcmp(foreign, name) != 0 ?
                        xasprintf("permission denied (%s): '%s' in it was not created by '%s'",
                                  cat_perm_to_string(ex->perm), foreign, ex->user) :
                        xasprintf("permission denied (%s): '%s' was not created by '%s'",
                                  cat_perm_to_string(ex->perm), name, ex->user);
                free(foreign);
                return -EPERM;
        }
        return 0;
}

int explorer_lock(const struct explorer *ex, int dirfd, int *ret_lock)
{
        *ret_lock = -1;
        if (!explorer_asks_creator(ex))
                return 0;
        return cat_dir_lock(dirfd, ret_lock);
}

void explorer_record(const struct explorer *ex, int fd, const char *name)
{
        if (ex->user_id[0])
                (void)cat_creator_set(fd, name, ex->user_id);
}

/*
 * Give a new entry (the open fd, or name in dirfd) the owner of the folder's
 * directory, when running as root.  Best effort: the content is there either
 * way, and a session shows every file as its user's anyway.
 */
static bool want_owner(const struct explorer *ex)
{
        return geteuid() == 0 && (ex->uid != 0 || ex->gid != 0);
}

void explorer_set_owner_fd(const struct explorer *ex, int fd)
{
        if (want_owner(ex))
                (void)!fchown(fd, ex->uid, ex->gid);
}

void explorer_set_owner_at(const struct explorer *ex, int dirfd, const char *name)
{
        if (want_owner(ex))
                (void)!fchownat(dirfd, name, ex->uid, ex->gid, AT_SYMLINK_NOFOLLOW);
}

/* ---------------------------------------------------------------------------
 * Options shared by the files commands.
 */



int explorer_parse_options(struct admin_ctx *ctx, const struct admin_command *cmd,
                           int argc, char **argv, unsigned allow,
                           struct files_opts *o, int min, int max,
                           const char *const *names)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "user", required_argument, NULL, OPT_USER },
                { "recursive", no_argument, NULL, 'r' },
                { "force", no_argument, NULL, 'f' },
                { "parents", no_argument, NULL, 'p' },
                { 0 },
        };
        int c, r;

        memset(o, 0, sizeof(*o));
        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hrfp", opts, NULL)) != -1) {
                if (c == OPT_USER) {
                        o->user = optarg;
                } else if (c == 'r' && (allow & ALLOW_RECURSIVE)) {
                        o->recursive = true;
                } else if (c == 'f' && (allow & ALLOW_FORCE)) {
                        o->force = true;
                } else if (c == 'p' && (allow & ALLOW_PARENTS)) {
                        o->parents = true;
                } else {
                        if (c == 'r' || c == 'f' || c == 'p') {
                                optopt = c;
                                c = '?';
                        }
                        if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                                return r;
                }
        }
        return admin_check_args(cmd, argc, argv, min, max, names);
}
