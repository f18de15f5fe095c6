/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-files.c - the folder explorer (`files ls|mkdir|put|get|rm|mv`) and
 * `usage`.  The folder's backing directory is opened once; every path the
 * operator gives is then resolved beneath it with openat2(2) and
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, so neither "..",
 * nor a symlink (absolute, or relative and leaving the folder, or swapped in
 * meanwhile), nor a mount point leads out of the folder.  Changes are made
 * with *at() calls on the parent directory and the final name, which is
 * never followed when it is a symlink.  With --user the user's effective
 * permission is enforced as in a session: ro reads, rw also adds and changes,
 * wd also removes and replaces.
 */
#include "admin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COPY_BUF_SIZE (128 * 1024)
#define PUT_TMP_PREFIX ".vfolderfs-put."

/* An open folder: what every files command works on. */
struct explorer {
        struct cat_folder *folder;
        int rootfd;         /* O_PATH of the backing directory */
        dev_t dev;          /* its filesystem: nothing crosses to another */
        uid_t uid;          /* its owner: new entries get the same */
        gid_t gid;
        enum cat_perm perm; /* wd for the operator, else --user's */
        mode_t old_umask;   /* the caller's, for files written locally */
};

/* ---------------------------------------------------------------------------
 * Paths beneath the folder.
 */

/* Why a path operation failed, in words for the operator. */
static const char *files_strerror(int r)
{
        if (r == -EXDEV)
                return "path leads outside the folder";
        return strerror(-r);
}

/*
 * Open path (relative to the folder root; "" is the root) with openat2,
 * never leaving the folder.  Returns the fd or a negative errno.
 */
static int open_beneath(const struct explorer *ex, const char *path, int flags)
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

/*
 * A user path split into the directory holding it and its final name, both
 * relative to the folder root.  Leading and trailing slashes are dropped;
 * name is NULL for the root itself.
 */
struct split {
        char *buf;
        char *dir;  /* "" for the root */
        char *name; /* NULL: the path is the root */
        char *full; /* the whole path without outer slashes */
        bool trailing_slash;
};

static void split_path(const char *path, struct split *sp)
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

static void split_free(struct split *sp)
{
        free(sp->buf);
}

static bool name_is_dots(const char *name)
{
        return !strcmp(name, ".") || !strcmp(name, "..");
}

/* The last component of a local or folder path (may be ""). */
static const char *base_name(const char *path, char **ret_copy)
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
static int explorer_open(struct admin_ctx *ctx, const char *ref, const char *user,
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
        r = cat_folder_backing_path(ctx->cat, ex->folder, &backing, &err);
        if (r < 0) {
                r = admin_fail(r, err, "%s", what);
                goto out;
        }
        ex->rootfd = open(backing, O_PATH | O_DIRECTORY | O_CLOEXEC);
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
        free(backing);
        free(what);
        return r;
}

static void explorer_close(struct explorer *ex)
{
        if (ex->rootfd >= 0)
                close(ex->rootfd);
        cat_folder_free(ex->folder);
}

/*
 * May the caller make a change needing perm?  Returns NULL, or why not (a
 * malloc'd string).
 */
static char *refuse_change(const struct explorer *ex, enum cat_perm perm)
{
        if (ex->folder->status != CAT_STATUS_READY)
                return xstrdup("the folder is in the trash");
        if (ex->perm < perm)
                return xasprintf("permission denied (%s)", cat_perm_to_string(ex->perm));
        return NULL;
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

static void set_owner_fd(const struct explorer *ex, int fd)
{
        if (want_owner(ex))
                (void)!fchown(fd, ex->uid, ex->gid);
}

static void set_owner_at(const struct explorer *ex, int dirfd, const char *name)
{
        if (want_owner(ex))
                (void)!fchownat(dirfd, name, ex->uid, ex->gid, AT_SYMLINK_NOFOLLOW);
}

/* ---------------------------------------------------------------------------
 * Options shared by the files commands.
 */
enum {
        OPT_USER = ADMIN_OPT_FIRST_FREE,
};

enum {
        ALLOW_RECURSIVE = 1 << 0,
        ALLOW_FORCE = 1 << 1,
        ALLOW_PARENTS = 1 << 2,
};

struct files_opts {
        const char *user;
        bool recursive, force, parents;
};

static int parse_files(struct admin_ctx *ctx, const struct admin_command *cmd,
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

/* ---------------------------------------------------------------------------
 * files ls.
 */
static const char *type_of(mode_t mode)
{
        if (S_ISREG(mode))
                return "file";
        if (S_ISDIR(mode))
                return "dir";
        if (S_ISLNK(mode))
                return "symlink";
        return "other";
}

struct lister {
        struct json j;
        bool json;
};

static void lister_begin(struct lister *l, bool json)
{
        l->json = json;
        if (json) {
                json_init(&l->j, stdout);
                json_array_begin(&l->j);
        } else {
                printf("%-7s  %15s  %-20s  %s\n", "TYPE", "SIZE", "MTIME", "NAME");
        }
}

static void lister_entry(struct lister *l, const char *name, const struct stat *st)
{
        char mtime[ADMIN_TIME_LEN];

        admin_format_time(st->st_mtime, mtime);
        if (l->json) {
                json_object_begin(&l->j);
                json_kv_string(&l->j, "name", name);
                json_kv_string(&l->j, "type", type_of(st->st_mode));
                json_kv_int(&l->j, "size", st->st_size);
                json_kv_string(&l->j, "mtime", mtime);
                json_object_end(&l->j);
        } else {
                printf("%-7s  %15" PRId64 "  %-20s  ", type_of(st->st_mode),
                       (int64_t)st->st_size, mtime);
                table_print_cell(stdout, name, 0);
                putchar('\n');
        }
}

static void lister_end(struct lister *l)
{
        if (l->json) {
                json_array_end(&l->j);
                json_finish(&l->j);
        }
}

/* Stream the entries of the directory fd (taken over) in readdir order. */
static int list_dir(struct lister *l, int fd)
{
        DIR *d = fdopendir(fd);
        struct dirent *de;
        struct stat st;

        if (!d) {
                close(fd);
                return -errno;
        }
        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de)
                        break;
                if (name_is_dots(de->d_name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT) /* removed meanwhile */
                                continue;
                        break;
                }
                lister_entry(l, de->d_name, &st);
        }
        fd = errno ? -errno : 0;
        closedir(d);
        return fd;
}

static int run_ls(struct admin_ctx *ctx, const struct admin_command *cmd,
                  int argc, char **argv)
{
        static const char *const names[] = { "REF", "PATH" };
        const char *path;
        struct files_opts o;
        struct explorer ex;
        struct lister l;
        struct split sp;
        struct stat st;
        char *what;
        int r, fd = -1, pfd = -1;

        r = parse_files(ctx, cmd, argc, argv, 0, &o, 1, 2, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        path = optind + 1 < argc ? argv[optind + 1] : "/";
        what = xasprintf("cannot list '%s' in folder '%s'", path, ex.folder->name);
        split_path(path, &sp);

        if (!sp.name) {
                fd = open_beneath(&ex, "", O_RDONLY | O_DIRECTORY);
        } else {
                pfd = open_beneath(&ex, sp.dir, O_PATH | O_DIRECTORY);
                if (pfd < 0) {
                        fd = pfd;
                        goto opened;
                }
                if (fstatat(pfd, sp.name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        fd = -errno;
                        goto opened;
                }
                if (S_ISDIR(st.st_mode))
                        fd = open_beneath(&ex, sp.full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                else if (S_ISLNK(st.st_mode))
                        /* A link to a directory inside the folder is followed. */
                        fd = open_beneath(&ex, sp.full, O_RDONLY | O_DIRECTORY);
                if (!S_ISDIR(st.st_mode) && fd < 0) {
                        char *base = NULL;

                        lister_begin(&l, ctx->json);
                        lister_entry(&l, base_name(sp.full, &base), &st);
                        lister_end(&l);
                        free(base);
                        r = 0;
                        goto out;
                }
        }
opened:
        if (fd < 0) {
                r = admin_failx(files_strerror(fd), "%s", what);
                goto out;
        }
        lister_begin(&l, ctx->json);
        r = list_dir(&l, fd);
        lister_end(&l);
        r = r < 0 ? admin_failx(files_strerror(r), "%s", what) : 0;
out:
        if (pfd >= 0)
                close(pfd);
        split_free(&sp);
        free(what);
        explorer_close(&ex);
        return r;
}

/* ---------------------------------------------------------------------------
 * files mkdir.
 */

/* mkdir name in dirfd, owned like the folder; EEXIST is returned as is. */
static int make_dir(const struct explorer *ex, int dirfd, const char *name)
{
        if (mkdirat(dirfd, name, 0755) < 0)
                return -errno;
        set_owner_at(ex, dirfd, name);
        return 0;
}

/* mkdir -p of sp->full: every component, following links inside the folder. */
static int make_dirs(const struct explorer *ex, const struct split *sp)
{
        char *path = xstrdup(sp->full), *p = path;
        int fd = open_beneath(ex, "", O_PATH | O_DIRECTORY), r = 0;

        if (fd < 0) {
                free(path);
                return fd;
        }
        for (;;) {
                char *slash = strchr(p, '/'), save = 0, *comp;
                int next;

                if (slash) {
                        save = *slash;
                        *slash = '\0';
                }
                comp = strrchr(path, '/');
                comp = comp ? comp + 1 : path;
                if (!strcmp(comp, "..")) {
                        r = -EINVAL;
                        break;
                }
                if (comp[0] && strcmp(comp, ".") != 0) {
                        r = make_dir(ex, fd, comp);
                        if (r < 0 && r != -EEXIST)
                                break;
                        next = open_beneath(ex, path, O_PATH | O_DIRECTORY);
                        if (next < 0) {
                                r = next;
                                break;
                        }
                        close(fd);
                        fd = next;
                        r = 0;
                }
                if (!slash)
                        break;
                *slash = save;
                p = slash + 1;
        }
        close(fd);
        free(path);
        return r;
}

static int run_mkdir(struct admin_ctx *ctx, const struct admin_command *cmd,
                     int argc, char **argv)
{
        static const char *const names[] = { "REF", "PATH" };
        struct files_opts o;
        struct explorer ex;
        struct split sp;
        char *what, *why;
        int r, pfd;

        r = parse_files(ctx, cmd, argc, argv, ALLOW_PARENTS, &o, 2, 2, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        what = xasprintf("cannot make directory '%s' in folder '%s'", argv[optind + 1],
                         ex.folder->name);
        split_path(argv[optind + 1], &sp);
        if ((why = refuse_change(&ex, CAT_PERM_RW))) {
                r = admin_failx(why, "%s", what);
                free(why);
                goto out;
        }
        if (!sp.name) {
                r = o.parents ? 0 : admin_failx(strerror(EEXIST), "%s", what);
                goto out;
        }
        if (o.parents) {
                r = make_dirs(&ex, &sp);
        } else if (name_is_dots(sp.name)) {
                r = -EEXIST;
        } else {
                pfd = open_beneath(&ex, sp.dir, O_PATH | O_DIRECTORY);
                r = pfd < 0 ? pfd : make_dir(&ex, pfd, sp.name);
                if (pfd >= 0)
                        close(pfd);
        }
        if (r == -EINVAL)
                r = admin_failx("'..' is not allowed with --parents", "%s", what);
        else
                r = r < 0 ? admin_failx(files_strerror(r), "%s", what) : 0;
out:
        split_free(&sp);
        free(what);
        explorer_close(&ex);
        return r;
}

/* ---------------------------------------------------------------------------
 * Copying.
 */

/*
 * Copy in to out.  limit >= 0 caps the bytes copied (-ENOSPC past it).
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
                        r = -ENOSPC;
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
        char *base_copy = NULL;
        const char *base;
        struct split sp;
        int r = 0, fd;

        base = base_name(local, &base_copy);
        if (!path) {
                *ret_dir = xstrdup("");
                *ret_name = xstrdup(base);
                goto out;
        }
        split_path(path, &sp);
        fd = sp.name ? open_beneath(ex, sp.full, O_PATH | O_DIRECTORY) : -ENOTDIR;
        if (!sp.name || sp.trailing_slash || fd >= 0) {
                /* Into an existing directory, under the local file's name. */
                *ret_dir = xstrdup(sp.full);
                *ret_name = xstrdup(base);
        } else {
                *ret_dir = xstrdup(sp.dir);
                *ret_name = xstrdup(sp.name);
        }
        if (fd >= 0)
                close(fd);
        split_free(&sp);
out:
        if (!(*ret_name)[0] || name_is_dots(*ret_name) || strchr(*ret_name, '/')) {
                free(*ret_dir);
                free(*ret_name);
                r = -EINVAL;
        }
        free(base_copy);
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
                replaced = st.st_size;
        } else if (errno != ENOENT) {
                return -errno;
        }
        if (ex->folder->quota_bytes > 0) {
                int64_t bytes = 0, files = 0;
                char *err = NULL;

                r = cat_folder_usage(ctx->cat, ex->folder->id, &bytes, &files, &err);
                if (r < 0) {
                        *ret_why = err ? err : NULL;
                        return r;
                }
                limit = ex->folder->quota_bytes - bytes + replaced;
                if (limit < 0)
                        limit = 0;
        }
        fd = create_tmp(pfd, tmp, sizeof(tmp));
        if (fd < 0)
                return fd;
        r = copy_fd(in, fd, limit, &copied, &side);
        if (r == -ENOSPC && limit >= 0)
                *ret_why = xasprintf("the folder's quota of %" PRId64 " bytes would be exceeded",
                                     ex->folder->quota_bytes);
        else if (r < 0 && side == 'r')
                *ret_why = xasprintf("cannot read the input: %s", strerror(-r));
        if (r == 0 && fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0) {
                set_owner_fd(ex, fd);
                if (fsync(fd) < 0)
                        r = -errno;
        }
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat2(pfd, tmp, pfd, name, force ? 0 : RENAME_NOREPLACE) < 0) {
                r = -errno;
                if (r == -EEXIST)
                        *ret_why = xasprintf("'%s' exists (--force replaces it)", name);
        }
        if (r < 0)
                unlinkat(pfd, tmp, 0);
        return r;
}

static int run_put(struct admin_ctx *ctx, const struct admin_command *cmd,
                   int argc, char **argv)
{
        static const char *const names[] = { "REF", "LOCAL", "PATH" };
        const char *local, *path;
        char *what = NULL, *why = NULL, *dir = NULL, *name = NULL;
        struct files_opts o;
        struct explorer ex;
        struct stat st;
        int r, in = -1, pfd = -1;

        r = parse_files(ctx, cmd, argc, argv, ALLOW_FORCE, &o, 2, 3, names);
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
        if ((why = refuse_change(&ex, CAT_PERM_RW))) {
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
                r = admin_failx("not a valid file name", "%s", what);
                goto out;
        }
        pfd = open_beneath(&ex, dir, O_PATH | O_DIRECTORY);
        r = pfd < 0 ? pfd : put_file(ctx, &ex, in, pfd, name, o.force, &why);
        r = r < 0 ? admin_failx(why ? why : files_strerror(r), "%s", what) : 0;
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

        if (!sp->name || name_is_dots(sp->name))
                return -EISDIR;
        pfd = open_beneath(ex, sp->dir, O_PATH | O_DIRECTORY);
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

static int run_get(struct admin_ctx *ctx, const struct admin_command *cmd,
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

        r = parse_files(ctx, cmd, argc, argv, 0, &o, 2, 3, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        path = argv[optind + 1];
        local = optind + 2 < argc ? argv[optind + 2] : "-";
        what = xasprintf("cannot download '%s' from folder '%s'", path, ex.folder->name);
        split_path(path, &sp);
        fd = open_regular(&ex, &sp, &why);
        if (fd < 0) {
                r = admin_failx(why ? why : files_strerror(fd), "%s", what);
                goto out;
        }
        if (!strcmp(local, "-")) {
                fflush(stdout);
                r = copy_fd(fd, STDOUT_FILENO, -1, &copied, &side);
                if (r < 0)
                        why = xasprintf("cannot %s: %s", side == 'r' ? "read" :
                                        "write the output", strerror(-r));
        } else {
                r = get_to_local(&ex, fd, local, base_name(sp.full, &base_copy), &why);
        }
        close(fd);
        r = r < 0 ? admin_failx(why ? why : strerror(-r), "%s", what) : 0;
out:
        free(base_copy);
        free(why);
        split_free(&sp);
        free(what);
        explorer_close(&ex);
        return r;
}

/* ---------------------------------------------------------------------------
 * files rm.
 */

/*
 * Remove the directory name in pfd and everything in it, never following a
 * symlink and never leaving the filesystem dev.
 */
static int remove_tree(int pfd, const char *name, dev_t dev)
{
        struct dirent *de;
        struct stat st;
        int fd, r = 0;
        DIR *d;

        fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                /* Replaced by a non-directory meanwhile: remove that. */
                if (errno == ENOTDIR || errno == ELOOP)
                        return unlinkat(pfd, name, 0) < 0 ? -errno : 0;
                return errno == ENOENT ? 0 : -errno;
        }
        if (fstat(fd, &st) < 0 || st.st_dev != dev) {
                r = st.st_dev != dev ? -EXDEV : -errno;
                close(fd);
                return r;
        }
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        /* Removing while reading may hide entries: go round until empty. */
        for (int round = 0; round < 8; round++) {
                bool removed = false;

                rewinddir(d);
                while ((de = readdir(d))) {
                        bool is_dir = de->d_type == DT_DIR;

                        if (name_is_dots(de->d_name))
                                continue;
                        if (de->d_type == DT_UNKNOWN) {
                                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                        continue;
                                is_dir = S_ISDIR(st.st_mode);
                        }
                        if (is_dir)
                                r = remove_tree(dirfd(d), de->d_name, dev);
                        else if (unlinkat(dirfd(d), de->d_name, 0) < 0)
                                r = errno == ENOENT ? 0 : -errno;
                        if (r < 0)
                                goto out;
                        removed = true;
                }
                if (unlinkat(pfd, name, AT_REMOVEDIR) == 0) {
                        r = 0;
                        goto out;
                }
                r = -errno;
                if (r != -ENOTEMPTY || !removed)
                        goto out;
        }
out:
        closedir(d);
        return r;
}

static int run_rm(struct admin_ctx *ctx, const struct admin_command *cmd,
                  int argc, char **argv)
{
        static const char *const names[] = { "REF", "PATH" };
        struct files_opts o;
        struct explorer ex;
        struct split sp;
        struct stat st;
        char *what, *why;
        int r, pfd = -1;

        r = parse_files(ctx, cmd, argc, argv, ALLOW_RECURSIVE, &o, 2, 2, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        what = xasprintf("cannot remove '%s' in folder '%s'", argv[optind + 1],
                         ex.folder->name);
        split_path(argv[optind + 1], &sp);
        if ((why = refuse_change(&ex, CAT_PERM_WD))) {
                r = admin_failx(why, "%s", what);
                free(why);
                goto out;
        }
        if (!sp.name || name_is_dots(sp.name)) {
                r = admin_failx(sp.name ? "invalid path" :
                                "the folder's root cannot be removed (see 'folder delete')",
                                "%s", what);
                goto out;
        }
        pfd = open_beneath(&ex, sp.dir, O_PATH | O_DIRECTORY);
        if (pfd < 0) {
                r = pfd;
        } else if (fstatat(pfd, sp.name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
        } else if (S_ISDIR(st.st_mode)) {
                if (!o.recursive) {
                        r = admin_failx("is a directory (-r removes it)", "%s", what);
                        goto out;
                }
                r = remove_tree(pfd, sp.name, ex.dev);
        } else {
                r = unlinkat(pfd, sp.name, 0) < 0 ? -errno : 0;
        }
        r = r < 0 ? admin_failx(files_strerror(r), "%s", what) : 0;
out:
        if (pfd >= 0)
                close(pfd);
        split_free(&sp);
        free(what);
        explorer_close(&ex);
        return r;
}

/* ---------------------------------------------------------------------------
 * files mv.
 */
static int run_mv(struct admin_ctx *ctx, const struct admin_command *cmd,
                  int argc, char **argv)
{
        static const char *const names[] = { "REF", "SRC", "DST" };
        char *what, *why, *ddir = NULL, *dname = NULL;
        struct split src, dst;
        struct files_opts o;
        struct explorer ex;
        struct stat st;
        int r, spfd = -1, dpfd = -1, fd;
        unsigned flags;

        r = parse_files(ctx, cmd, argc, argv, 0, &o, 3, 3, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        what = xasprintf("cannot move '%s' to '%s' in folder '%s'", argv[optind + 1],
                         argv[optind + 2], ex.folder->name);
        split_path(argv[optind + 1], &src);
        split_path(argv[optind + 2], &dst);
        if ((why = refuse_change(&ex, CAT_PERM_RW))) {
                r = admin_failx(why, "%s", what);
                free(why);
                goto out;
        }
        if (!src.name || name_is_dots(src.name) || (dst.name && name_is_dots(dst.name))) {
                r = admin_failx(src.name ? "invalid path" : "the folder's root cannot be moved",
                                "%s", what);
                goto out;
        }
        /* Like mv(1): into an existing directory (not a symlink) under SRC's name. */
        fd = dst.name ? open_beneath(&ex, dst.full, O_PATH | O_DIRECTORY | O_NOFOLLOW) : -1;
        if (!dst.name || dst.trailing_slash || fd >= 0) {
                ddir = xstrdup(dst.full);
                dname = xstrdup(src.name);
        } else {
                ddir = xstrdup(dst.dir);
                dname = xstrdup(dst.name);
        }
        if (fd >= 0)
                close(fd);

        spfd = open_beneath(&ex, src.dir, O_PATH | O_DIRECTORY);
        dpfd = spfd < 0 ? -1 : open_beneath(&ex, ddir, O_PATH | O_DIRECTORY);
        r = spfd < 0 ? spfd : dpfd;
        if (r >= 0 && fstatat(spfd, src.name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                r = -errno;
        if (r < 0) {
                r = admin_failx(files_strerror(r), "%s", what);
                goto out;
        }
        /* Replacing an entry is a removal: wd (or the operator) only. */
        flags = ex.perm >= CAT_PERM_WD ? 0 : RENAME_NOREPLACE;
        if (flags && fstatat(dpfd, dname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                why = xasprintf("permission denied (%s)", cat_perm_to_string(ex.perm));
                r = admin_failx(why, "%s", what);
                free(why);
                goto out;
        }
        if (renameat2(spfd, src.name, dpfd, dname, flags) < 0) {
                r = -errno;
                r = admin_failx(r == -EEXIST && flags ?
                                "permission denied (rw)" : files_strerror(r), "%s", what);
                goto out;
        }
        r = 0;
out:
        if (spfd >= 0)
                close(spfd);
        if (dpfd >= 0)
                close(dpfd);
        free(ddir);
        free(dname);
        split_free(&src);
        split_free(&dst);
        free(what);
        explorer_close(&ex);
        return r;
}

/* ---------------------------------------------------------------------------
 * usage.
 */
static int run_usage(struct admin_ctx *ctx, const struct admin_command *cmd,
                     int argc, char **argv)
{
        static const char *const names[] = { "REF" };
        struct cat_folder *f = NULL;
        int64_t bytes = 0, files = 0;
        struct files_opts o;
        char *what, *err = NULL;
        int r;

        r = parse_files(ctx, cmd, argc, argv, 0, &o, 1, 1, names);
        if (r != ADMIN_CONTINUE)
                return r;
        what = xasprintf("cannot measure folder '%s'", argv[optind]);
        r = admin_folder_resolve(ctx, argv[optind], o.user, what, &f);
        if (r == 0) {
                r = cat_folder_usage(ctx->cat, f->id, &bytes, &files, &err);
                r = r < 0 ? admin_fail(r, err, "%s", what) : 0;
        }
        free(what);
        if (r) {
                cat_folder_free(f);
                return r;
        }
        if (ctx->json) {
                struct json j;

                json_init(&j, stdout);
                json_object_begin(&j);
                json_kv_string(&j, "id", f->id);
                json_kv_string(&j, "name", f->name);
                json_kv_int(&j, "bytes", bytes);
                json_kv_int(&j, "files", files);
                if (f->quota_bytes > 0)
                        json_kv_int(&j, "quota_bytes", f->quota_bytes);
                else
                        json_kv_null(&j, "quota_bytes");
                json_object_end(&j);
                json_finish(&j);
        } else {
                static const char *const headers[] = {
                        "NAME", "ID", "BYTES", "FILES", "QUOTA",
                };
                char b[24], n[24], q[ADMIN_SIZE_LEN];
                const char *cells[] = {
                        f->name, f->id, b, n,
                        f->quota_bytes > 0 ? admin_format_size(f->quota_bytes, q) : NULL,
                };
                struct table *t = table_new(5, headers);

                snprintf(b, sizeof(b), "%" PRId64, bytes);
                snprintf(n, sizeof(n), "%" PRId64, files);
                table_add(t, cells);
                table_print(t, stdout);
                table_free(t);
        }
        cat_folder_free(f);
        return 0;
}

const struct admin_command admin_usage_cmd = {
        .name = "usage", .path = "usage", .synopsis = "REF [--user U]",
        .help = "Print the bytes (sizes of regular files) and the number of entries\n"
                "of a folder, and its quota.\n\n"
                "Options:\n"
                "      --user U        resolve REF among the folders U sees",
        .run = run_usage,
};

#define USER_HELP \
        "      --user U        act as user U: REF among U's folders, U's permission"

static const struct admin_command files_sub[] = {
        { .name = "ls", .path = "files ls", .synopsis = "REF [PATH] [--user U]",
          .help = "List a directory of the folder (default: its root) in the order\n"
                  "the filesystem gives, or the one entry PATH names.\n\n"
                  "Options:\n" USER_HELP,
          .run = run_ls },
        { .name = "mkdir", .path = "files mkdir", .synopsis = "REF PATH [-p] [--user U]",
          .help = "Make a directory (mode 0755) in the folder.\n\n"
                  "Options:\n"
                  "  -p, --parents       make parent directories; no error if it exists\n"
                  USER_HELP,
          .run = run_mkdir },
        { .name = "put", .path = "files put", .synopsis = "REF LOCAL [PATH] [-f] [--user U]",
          .help = "Upload the local file LOCAL ('-': standard input) to PATH in the\n"
                  "folder (default: the root; an existing directory or a PATH ending\n"
                  "in '/' receives it under LOCAL's name).  The file (mode 0644)\n"
                  "appears whole or not at all.  An existing file is kept unless\n"
                  "--force.\n\n"
                  "Options:\n"
                  "  -f, --force         replace an existing regular file\n"
                  USER_HELP,
          .run = run_put },
        { .name = "get", .path = "files get", .synopsis = "REF PATH [LOCAL] [--user U]",
          .help = "Download the regular file PATH of the folder to LOCAL (default or\n"
                  "'-': standard output; an existing directory receives it under its\n"
                  "own name; an existing file is replaced).\n\n"
                  "Options:\n" USER_HELP,
          .run = run_get },
        { .name = "rm", .path = "files rm", .synopsis = "REF PATH [-r] [--user U]",
          .help = "Remove a file, symlink or (with -r) directory tree of the folder.\n"
                  "Symbolic links are removed, never followed.\n\n"
                  "Options:\n"
                  "  -r, --recursive     remove a directory and its contents\n"
                  USER_HELP,
          .run = run_rm },
        { .name = "mv", .path = "files mv", .synopsis = "REF SRC DST [--user U]",
          .help = "Rename SRC to DST inside the folder (into DST when it is an\n"
                  "existing directory).  An existing DST is replaced only with wd\n"
                  "permission (always for the operator).\n\n"
                  "Options:\n" USER_HELP,
          .run = run_mv },
        { 0 },
};

const struct admin_command admin_files_cmd = {
        .name = "files", .path = "files", .synopsis = "", .help = "",
        .sub = files_sub,
};
