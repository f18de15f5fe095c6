/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-files.c - the folder explorer's commands `files ls|mkdir|rm|mv`
 * (put and get are in admin-transfer.c), the `files` command table, and
 * `usage`.  `ls` streams entries as readdir returns them, so a directory of
 * 100,000 entries costs no memory.  With --user the user's effective
 * permission is enforced as in a session: ro reads, rw also adds and
 * changes, wd also removes and replaces.
 */
#include "admin-explorer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
                if (path_name_is_dots(de->d_name))
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

        r = explorer_parse_options(ctx, cmd, argc, argv, 0, &o, 1, 2, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        path = optind + 1 < argc ? argv[optind + 1] : "/";
        what = xasprintf("cannot list '%s' in folder '%s'", path, ex.folder->name);
        path_split(path, &sp);

        if (!sp.name) {
                fd = explorer_open_beneath(&ex, "", O_RDONLY | O_DIRECTORY);
        } else {
                pfd = explorer_open_beneath(&ex, sp.dir, O_PATH | O_DIRECTORY);
                if (pfd < 0) {
                        fd = pfd;
                        goto opened;
                }
                if (fstatat(pfd, sp.name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        fd = -errno;
                        goto opened;
                }
                if (S_ISDIR(st.st_mode))
                        fd = explorer_open_beneath(&ex, sp.full,
                                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                else if (S_ISLNK(st.st_mode))
                        /* A link to a directory inside the folder is followed. */
                        fd = explorer_open_beneath(&ex, sp.full, O_RDONLY | O_DIRECTORY);
                if (!S_ISDIR(st.st_mode) && fd < 0) {
                        char *base = NULL;

                        lister_begin(&l, ctx->json);
                        lister_entry(&l, path_base_name(sp.full, &base), &st);
                        lister_end(&l);
                        free(base);
                        r = 0;
                        goto out;
                }
        }
opened:
        if (fd < 0) {
                r = admin_failx(explorer_strerror(fd), "%s", what);
                goto out;
        }
        lister_begin(&l, ctx->json);
        r = list_dir(&l, fd);
        lister_end(&l);
        r = r < 0 ? admin_failx(explorer_strerror(r), "%s", what) : 0;
out:
        if (pfd >= 0)
                close(pfd);
        path_split_free(&sp);
        free(what);
        explorer_close(&ex);
        return r;
}

/* ---------------------------------------------------------------------------
 * files mkdir.
 */

/*
 * mkdir name in dirfd, owned like the folder, its creator the --user (under
 * the directory's lock where rw needs it, so that what gets the record is
 * the directory made here); EEXIST is returned as is.
 */
static int make_dir(const struct explorer *ex, int dirfd, const char *name)
{
        int lock, r;

        r = explorer_lock(ex, dirfd, &lock);
        if (r < 0)
                return r;
        if (mkdirat(dirfd, name, 0755) < 0) {
                r = -errno;
        } else {
                explorer_set_owner_at(ex, dirfd, name);
                explorer_record(ex, dirfd, name);
        }
        cat_dir_unlock(lock);
        return r;
}

/* mkdir -p of sp->full: every component, following links inside the folder. */
static int make_dirs(const struct explorer *ex, const struct split *sp)
{
        char *path = xstrdup(sp->full), *p = path;
        int fd = explorer_open_beneath(ex, "", O_PATH | O_DIRECTORY), r = 0;

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
                        next = explorer_open_beneath(ex, path, O_PATH | O_DIRECTORY);
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

        r = explorer_parse_options(ctx, cmd, argc, argv, ALLOW_PARENTS, &o, 2, 2, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        what = xasprintf("cannot make directory '%s' in folder '%s'", argv[optind + 1],
                         ex.folder->name);
        path_split(argv[optind + 1], &sp);
        if ((why = explorer_refuse(&ex, CAT_OP_CHANGE, false))) {
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
        } else if (path_name_is_dots(sp.name)) {
                r = -EEXIST;
        } else {
                pfd = explorer_open_beneath(&ex, sp.dir, O_PATH | O_DIRECTORY);
                r = pfd < 0 ? pfd : make_dir(&ex, pfd, sp.name);
                if (pfd >= 0)
                        close(pfd);
        }
        if (r == -EINVAL)
                r = admin_failx("'..' is not allowed with --parents", "%s", what);
        else
                r = r < 0 ? admin_failx(explorer_strerror(r), "%s", what) : 0;
out:
        path_split_free(&sp);
        free(what);
        explorer_close(&ex);
        return r;
}

/* ---------------------------------------------------------------------------
 * files rm.
 */

/* What name in pfd counts in a usage counter: bytes and entries. */
static void entry_usage(int pfd, const char *name, int64_t *ret_bytes,
                        int64_t *ret_files)
{
        char path[64 + NAME_MAX];
        struct stat st;

        *ret_bytes = 0;
        *ret_files = 0;
        if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        *ret_files = 1;
        if (S_ISREG(st.st_mode)) {
                *ret_bytes = st.st_size;
        } else if (S_ISDIR(st.st_mode)) {
                int64_t b = 0, f = 0;

                snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", pfd, name);
                if (cat_usage_measure(path, &b, &f) == 0) {
                        *ret_bytes = b;
                        *ret_files += f;
                }
        }
}

/*
 * The usage counter of a folder with a quota, locked, when one exists
 * (sessions or uploads use it); NULL otherwise.
 */
static cat_usage *usage_locked(struct admin_ctx *ctx, const struct cat_folder *f)
{
        cat_usage *u = NULL;
        char *path = NULL;

        if (f->quota_bytes <= 0 ||
            cat_folder_backing_path(ctx->cat, f, &path, NULL) < 0)
                return NULL;
        if (cat_usage_read(path, f->id, NULL, NULL) == 0 &&
            cat_usage_open(path, f->id, &u, NULL) == 0 &&
            cat_usage_lock(u) < 0) {
                cat_usage_close(u);
                u = NULL;
        }
        free(path);
        return u;
}

static int run_rm(struct admin_ctx *ctx, const struct admin_command *cmd,
                  int argc, char **argv)
{
        static const char *const names[] = { "REF", "PATH" };
        struct files_opts o;
        struct explorer ex;
        struct split sp;
        struct stat st;
        char *what, *why = NULL;
        int r, pfd = -1;

        r = explorer_parse_options(ctx, cmd, argc, argv, ALLOW_RECURSIVE, &o, 2, 2, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        what = xasprintf("cannot remove '%s' in folder '%s'", argv[optind + 1],
                         ex.folder->name);
        path_split(argv[optind + 1], &sp);
        /* own: whether the entry is the --user's is read below */
        if ((why = explorer_refuse(&ex, CAT_OP_REMOVE, true))) {
                r = admin_failx(why, "%s", what);
                goto out;
        }
        if (!sp.name || path_name_is_dots(sp.name)) {
                r = admin_failx(sp.name ? "invalid path" :
                                "the folder's root cannot be removed (see 'folder delete')",
                                "%s", what);
                goto out;
        }
        pfd = explorer_open_beneath(&ex, sp.dir, O_PATH | O_DIRECTORY);
        if (pfd < 0) {
                r = pfd;
        } else if (fstatat(pfd, sp.name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
        } else if (S_ISDIR(st.st_mode) && !o.recursive) {
                r = admin_failx("is a directory (-r removes it)", "%s", what);
                goto out;
        } else {
                /* what goes stops counting against the quota */
                cat_usage *u = usage_locked(ctx, ex.folder);
                int64_t b0 = 0, f0 = 0, b1, f1;
                int lock = -1;

                /*
                 * rw: only what the --user created, the whole tree checked
                 * first so that a refusal removes nothing.  The counter's
                 * lock first, then the directory's, as in the daemon.
                 */
                r = explorer_lock(&ex, pfd, &lock);
                if (r == 0)
                        r = explorer_check_removal(&ex, pfd, sp.name, true, &why);
                if (r == 0 && u)
                        entry_usage(pfd, sp.name, &b0, &f0);
                if (r == 0 && S_ISDIR(st.st_mode))
                        r = explorer_remove_tree(pfd, sp.name, ex.dev,
                                                 explorer_asks_creator(&ex) ?
                                                 ex.user_id : NULL);
                else if (r == 0)
                        r = unlinkat(pfd, sp.name, 0) < 0 ? -errno : 0;
                cat_dir_unlock(lock);
                if (u) {
                        entry_usage(pfd, sp.name, &b1, &f1);
                        (void)cat_usage_add(u, b1 - b0, f1 - f0);
                        cat_usage_unlock(u);
                        cat_usage_close(u);
                }
        }
        if (r == -EPERM && !why && explorer_asks_creator(&ex))
                /* met in the walk: it appeared after the check */
                why = xasprintf("permission denied (%s): an entry in it was not created by '%s'",
                                cat_perm_to_string(ex.perm), ex.user);
        if (r == -EPERM && why)
                r = admin_failx(why, "%s", what);
        else
                r = r < 0 ? admin_failx(explorer_strerror(r), "%s", what) : 0;
out:
        if (pfd >= 0)
                close(pfd);
        free(why);
        path_split_free(&sp);
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
        char *what, *why = NULL, *ddir = NULL, *dname = NULL;
        struct split src, dst;
        struct files_opts o;
        struct explorer ex;
        struct stat st;
        int r, spfd = -1, dpfd = -1, fd, lock = -1;
        unsigned flags;

        r = explorer_parse_options(ctx, cmd, argc, argv, 0, &o, 3, 3, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (explorer_open(ctx, argv[optind], o.user, &ex))
                return 1;
        what = xasprintf("cannot move '%s' to '%s' in folder '%s'", argv[optind + 1],
                         argv[optind + 2], ex.folder->name);
        path_split(argv[optind + 1], &src);
        path_split(argv[optind + 2], &dst);
        if ((why = explorer_refuse(&ex, CAT_OP_CHANGE, false))) {
                r = admin_failx(why, "%s", what);
                goto out;
        }
        if (!src.name || path_name_is_dots(src.name) ||
            (dst.name && path_name_is_dots(dst.name))) {
                r = admin_failx(src.name ? "invalid path" : "the folder's root cannot be moved",
                                "%s", what);
                goto out;
        }
        /* Like mv(1): into an existing directory (not a symlink) under SRC's name. */
        fd = !dst.name ? -1 :
             explorer_open_beneath(&ex, dst.full, O_PATH | O_DIRECTORY | O_NOFOLLOW);
        if (!dst.name || dst.trailing_slash || fd >= 0) {
                ddir = xstrdup(dst.full);
                dname = xstrdup(src.name);
        } else {
                ddir = xstrdup(dst.dir);
                dname = xstrdup(dst.name);
        }
        if (fd >= 0)
                close(fd);

        spfd = explorer_open_beneath(&ex, src.dir, O_PATH | O_DIRECTORY);
        dpfd = spfd < 0 ? -1 : explorer_open_beneath(&ex, ddir, O_PATH | O_DIRECTORY);
        r = spfd < 0 ? spfd : dpfd;
        if (r >= 0 && fstatat(spfd, src.name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                r = -errno;
        if (r < 0) {
                r = admin_failx(explorer_strerror(r), "%s", what);
                goto out;
        }
        /*
         * Replacing an entry is a removal: for rw, only of an entry the
         * --user created, checked under the lock of the destination
         * directory, which every rename for a rw user takes (as in the
         * daemon), so nothing is swapped in between.
         */
        flags = 0;
        r = explorer_lock(&ex, dpfd, &lock);
        if (r == 0 && explorer_asks_creator(&ex)) {
                struct stat dst_st;

                flags = RENAME_NOREPLACE;
                if (fstatat(dpfd, dname, &dst_st, AT_SYMLINK_NOFOLLOW) == 0) {
                        r = explorer_check_removal(&ex, dpfd, dname, false, &why);
                        flags = 0;
                        /* rename(2) of a name onto itself changes nothing */
                        if (r == 0 && dst_st.st_dev == st.st_dev &&
                            dst_st.st_ino == st.st_ino)
                                goto unlock;
                }
        }
        if (r == 0 && renameat2(spfd, src.name, dpfd, dname, flags) < 0)
                r = -errno;
unlock:
        cat_dir_unlock(lock);
        if (r < 0) {
                if (r == -EEXIST && flags)
                        why = xasprintf("permission denied (%s): '%s' exists",
                                        cat_perm_to_string(ex.perm), dname);
                r = admin_failx(why ? why : explorer_strerror(r), "%s", what);
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
        path_split_free(&src);
        path_split_free(&dst);
        free(why);
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
        int64_t bytes = 0, files = 0, cbytes = 0, cfiles = 0;
        bool have_counter = false;
        struct files_opts o;
        char *what, *err = NULL;
        int r;

        r = explorer_parse_options(ctx, cmd, argc, argv, 0, &o, 1, 1, names);
        if (r != ADMIN_CONTINUE)
                return r;
        what = xasprintf("cannot measure folder '%s'", argv[optind]);
        r = admin_folder_resolve(ctx, argv[optind], o.user, what, &f);
        if (r == 0) {
                r = cat_folder_usage(ctx->cat, f->id, &bytes, &files, &err);
                r = r < 0 ? admin_fail(r, err, "%s", what) : 0;
        }
        if (r == 0 && f->quota_bytes > 0) {
                char *path = NULL;

                if (cat_folder_backing_path(ctx->cat, f, &path, NULL) == 0)
                        have_counter = cat_usage_read(path, f->id, &cbytes,
                                                      &cfiles) == 0;
                free(path);
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
                /* what running daemons enforce the quota against */
                if (have_counter) {
                        json_kv_int(&j, "counted_bytes", cbytes);
                        json_kv_int(&j, "counted_files", cfiles);
                } else {
                        json_kv_null(&j, "counted_bytes");
                        json_kv_null(&j, "counted_files");
                }
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
                "of a folder, and its quota.  With --json, also the usage counter\n"
                "that running daemons enforce the quota against (counted_bytes,\n"
                "counted_files; null when the folder has none).\n\n"
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
          .help = "Make a directory (mode 0755) in the folder.  With --user, U is\n"
                  "recorded as its creator.\n\n"
                  "Options:\n"
                  "  -p, --parents       make parent directories; no error if it exists\n"
                  USER_HELP,
          .run = run_mkdir },
        { .name = "put", .path = "files put", .synopsis = "REF LOCAL [PATH] [-f] [--user U]",
          .help = "Upload the local file LOCAL ('-': standard input) to PATH in the\n"
                  "folder (default: the root; an existing directory or a PATH ending\n"
                  "in '/' receives it under LOCAL's name).  The file (mode 0644)\n"
                  "appears whole or not at all.  An existing file is kept unless\n"
                  "--force.  With --user, U is recorded as the file's creator.\n\n"
                  "Options:\n"
                  "  -f, --force         replace an existing regular file (with rw:\n"
                  "                      one that U created)\n"
                  USER_HELP,
          .run = admin_files_put },
        { .name = "get", .path = "files get", .synopsis = "REF PATH [LOCAL] [--user U]",
          .help = "Download the regular file PATH of the folder to LOCAL (default or\n"
                  "'-': standard output; an existing directory receives it under its\n"
                  "own name; an existing file is replaced).\n\n"
                  "Options:\n" USER_HELP,
          .run = admin_files_get },
        { .name = "rm", .path = "files rm", .synopsis = "REF PATH [-r] [--user U]",
          .help = "Remove a file, symlink or (with -r) directory tree of the folder.\n"
                  "Symbolic links are removed, never followed.  With rw, only what\n"
                  "U created (a tree: all of it, else nothing is removed).\n\n"
                  "Options:\n"
                  "  -r, --recursive     remove a directory and its contents\n"
                  USER_HELP,
          .run = run_rm },
        { .name = "mv", .path = "files mv", .synopsis = "REF SRC DST [--user U]",
          .help = "Rename SRC to DST inside the folder (into DST when it is an\n"
                  "existing directory).  An existing DST is replaced for the\n"
                  "operator, with wd permission, and with rw only when U created it.\n\n"
                  "Options:\n" USER_HELP,
          .run = run_mv },
        { 0 },
};

const struct admin_command admin_files_cmd = {
        .name = "files", .path = "files", .synopsis = "", .help = "",
        .sub = files_sub,
};
