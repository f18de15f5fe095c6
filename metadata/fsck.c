/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsck.c - comparing the catalog with the storage hosts: SQLite's own
 * integrity check, folders whose backing directory is gone, directories in
 * the backing layout that no folder owns, and sessions whose daemon died on
 * this host (or whose scratch outlived them), and modes that let other
 * users of the host read the catalog, the layout above the folders or the
 * scratch roots.  Repair is conservative: stale sessions are ended, missing
 * backing directories recreated empty and loose modes tightened; orphan
 * directories hold somebody's data and are only reported.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog-private.h"

struct issues {
        struct cat_fsck_issue *v;
        size_t n;
};

void cat_fsck_issue_list_free(struct cat_fsck_issue *issues, size_t n)
{
        if (!issues)
                return;
        for (size_t i = 0; i < n; i++) {
                free(issues[i].subject);
                free(issues[i].detail);
        }
        free(issues);
}

static int add_issue(struct issues *is, enum cat_fsck_kind kind,
                     const char *subject, bool repaired, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int add_issue(struct issues *is, enum cat_fsck_kind kind,
                     const char *subject, bool repaired, const char *fmt, ...)
{
        struct cat_fsck_issue *nv, *x;
        va_list ap;
        int k;

        nv = realloc(is->v, (is->n + 1) * sizeof(*nv));
        if (!nv)
                return -ENOMEM;
        is->v = nv;
        x = &nv[is->n];
        x->kind = kind;
        x->repaired = repaired;
        x->subject = strdup(subject);
        va_start(ap, fmt);
        k = vasprintf(&x->detail, fmt, ap);
        va_end(ap);
        if (k < 0)
                x->detail = NULL;
        if (!x->subject || !x->detail) {
                free(x->subject);
                free(x->detail);
                return -ENOMEM;
        }
        is->n++;
        return 0;
}

static int check_integrity(cat_catalog *cat, struct issues *is, char **reterr)
{
        sqlite3_stmt *stmt;
        int r, rc;

        r = cat_prepare(cat, "PRAGMA integrity_check", &stmt, reterr);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                const char *s = (const char *)sqlite3_column_text(stmt, 0);

                if (s && strcmp(s, "ok") == 0)
                        continue;
                if (add_issue(is, CAT_FSCK_INTEGRITY, cat->path, false, "%s",
                              s ? s : "?") < 0) {
                        sqlite3_finalize(stmt);
                        return cat_oom(reterr);
                }
        }
        /*
         * Damage in the schema or a table's root page stops the check itself:
         * that, too, is a finding to report, not a failure of fsck.
         */
        if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
                r = add_issue(is, CAT_FSCK_INTEGRITY, cat->path, false, "%s",
                              sqlite3_errmsg(cat->db));
                sqlite3_finalize(stmt);
                return r < 0 ? cat_oom(reterr) : 0;
        }
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE)
                return cat_sql_err(cat, reterr, rc, "cannot check the catalog");
        return 0;
}

static int strcmp_ptr(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Missing backing directories; collects every expected path in *ret. */
static int check_backing(cat_catalog *cat, bool repair, struct issues *is,
                         char ***ret_paths, size_t *ret_n, char **reterr)
{
        struct cat_folder *folders = NULL;
        char **paths = NULL;
        size_t n = 0, np = 0;
        int r;

        r = cat_folder_list(cat, NULL, &folders, &n, reterr);
        if (r < 0)
                return r;
        paths = calloc(n + 1, sizeof(*paths));
        if (!paths) {
                r = cat_oom(reterr);
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                const struct cat_folder *f = &folders[i];
                struct stat st;
                char *path = NULL;
                bool fixed = false;

                r = cat_folder_backing_path(cat, f, &path, reterr);
                if (r < 0)
                        goto out;
                paths[np++] = path;
                if (lstat(path, &st) == 0) {
                        if (S_ISDIR(st.st_mode))
                                continue;
                        errno = EEXIST; /* something else is in the way */
                }
                /*
                 * Recreate only under an existing host root: a root that is
                 * missing is a storage host that is not mounted.
                 */
                if (repair && errno == ENOENT) {
                        char *root = NULL;

                        if (cat_host_root(cat, f->host, &root, NULL) == 0 &&
                            access(root, F_OK) == 0)
                                fixed = cat_backing_mkdir(root, path) == 0;
                        free(root);
                }
                if (add_issue(is, CAT_FSCK_MISSING_BACKING, f->id, fixed,
                              "backing directory '%s' of folder '%s' is "
                              "missing%s", path, f->name,
                              fixed ? " (recreated empty)" : "") < 0) {
                        r = cat_oom(reterr);
                        goto out;
                }
        }
        qsort(paths, np, sizeof(*paths), strcmp_ptr);
        *ret_paths = paths;
        *ret_n = np;
        paths = NULL;
        r = 0;
out:
        if (paths)
                for (size_t i = 0; i < np; i++)
                        free(paths[i]);
        free(paths);
        cat_folder_list_free(folders, n);
        return r;
}

static bool is_hex(const char *s, size_t n)
{
        if (strlen(s) != n)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') ||
                      (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool is_scope(const char *s)
{
        if (strncmp(s, "user-", 5) == 0)
                return cat_uuid_valid(s + 5);
        if (strncmp(s, "project-", 8) == 0)
                return cat_uuid_valid(s + 8);
        return false;
}

typedef bool (*name_filter)(const char *name);

static bool hex2(const char *s) { return is_hex(s, 2); }
static bool hex28(const char *s) { return is_hex(s, 28); }

/* Entries of dir (directories only) that pass filter; never follows links. */
static int subdirs(const char *dir, name_filter filter, char ***ret,
                   size_t *ret_n)
{
        char **v = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;

        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                struct stat st;
                char **nv;

                if (!filter(de->d_name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                nv = realloc(v, (n + 1) * sizeof(*v));
                if (!nv)
                        goto oom;
                v = nv;
                if (asprintf(&v[n], "%s/%s", strcmp(dir, "/") ? dir : "",
                             de->d_name) < 0)
                        goto oom;
                n++;
        }
        closedir(d);
        *ret = v;
        *ret_n = n;
        return 0;
oom:
        closedir(d);
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
        return -ENOMEM;
}

static void strv_free(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/*
 * path, when other users of this host may read or enter it (any group or
 * other bit): reported, and on repair those bits are removed (0700 for a
 * directory made 0755, 0600 for a file made 0644).  A symlink or an absent
 * path is left alone.
 */
static int check_mode(const char *path, bool repair, struct issues *is)
{
        struct stat st;
        bool fixed = false;
        mode_t want;

        if (lstat(path, &st) < 0 || S_ISLNK(st.st_mode) ||
            !(st.st_mode & 077))
                return 0;
        want = st.st_mode & 07700;
        if (repair) {
                int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
                                    O_NONBLOCK);

                fixed = fd >= 0 && fchmod(fd, want) == 0;
                if (fd >= 0)
                        close(fd);
        }
        return add_issue(is, CAT_FSCK_LOOSE_MODE, path, fixed,
                         "'%s' has mode %04o: other users of this host can "
                         "read it (want %04o)%s", path,
                         (unsigned)(st.st_mode & 07777), (unsigned)want,
                         fixed ? " (tightened)" : "");
}

/*
 * Walk <root>/<scope>/<xx>/<yy>/<rest>: report what no folder owns, and
 * the scope and fan-out directories that other users of the host can read
 * (check_mode()).
 */
static int scan_level(const char *dir, int level, char **expected,
                      size_t n_expected, bool repair, struct issues *is)
{
        static const name_filter filters[] = { is_scope, hex2, hex2, hex28 };
        char **v = NULL;
        size_t n = 0;
        int r;

        r = subdirs(dir, filters[level], &v, &n);
        if (r == -ENOENT || r == -EACCES)
                return 0;
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r == 0; i++) {
                if (level < 3) {
                        r = check_mode(v[i], repair, is);
                        if (r == 0)
                                r = scan_level(v[i], level + 1, expected,
                                               n_expected, repair, is);
                        continue;
                }
                if (bsearch(&v[i], expected, n_expected, sizeof(*expected),
                            strcmp_ptr))
                        continue;
                r = add_issue(is, CAT_FSCK_ORPHAN_DIR, v[i], false,
                              "directory '%s' belongs to no folder (left in "
                              "place)", v[i]);
        }
        strv_free(v, n);
        return r;
}

/* Every host's layout (scan_level()) and its usage counters' directory. */
static int check_layout(cat_catalog *cat, char **expected, size_t n_expected,
                        bool repair, struct issues *is, char **reterr)
{
        struct cat_host *hosts = NULL;
        size_t n = 0;
        int r;

        r = cat_host_list(cat, &hosts, &n, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r == 0; i++) {
                char root[4096], usage[4096 + sizeof(CAT_USAGE_DIR) + 1];
                size_t len = strlen(hosts[i].root);

                /* Expected paths are built without a trailing slash. */
                while (len > 1 && hosts[i].root[len - 1] == '/')
                        len--;
                snprintf(root, sizeof(root), "%.*s", (int)len, hosts[i].root);
                r = scan_level(root, 0, expected, n_expected, repair, is);
                if (r == 0) {
                        snprintf(usage, sizeof(usage), "%s/%s", root,
                                 CAT_USAGE_DIR);
                        r = check_mode(usage, repair, is);
                }
                if (r < 0)
                        r = cat_err(reterr, r, "cannot scan '%s': %s", root,
                                    strerror(-r));
        }
        cat_host_list_free(hosts, n);
        return r;
}

static int session_identity(cat_catalog *cat, const char *id,
                            char **ret_identity, char **reterr)
{
        sqlite3_stmt *stmt;
        int r, rc;

        r = cat_prepare(cat, "SELECT pid_identity FROM sessions WHERE id = ?",
                        &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        *ret_identity = NULL;
        if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
                *ret_identity = cat_column_strdup(stmt, 0);
                if (!*ret_identity)
                        r = cat_oom(reterr);
        } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot read sessions");
        }
        sqlite3_finalize(stmt);
        return r;
}

static int check_sessions(cat_catalog *cat, const char *hostname, bool repair,
                          struct issues *is, char **reterr)
{
        struct cat_session *v = NULL;
        size_t n = 0;
        int r;

        r = cat_session_list(cat, true, &v, &n, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r == 0; i++) {
                const struct cat_session *s = &v[i];
                struct stat st;
                bool fixed = false;

                if (!s->hostname || strcmp(s->hostname, hostname) != 0 ||
                    s->pid <= 0)
                        continue;
                if (s->ended_at == 0) {
                        char *identity = NULL;
                        bool gone;

                        r = session_identity(cat, s->id, &identity, reterr);
                        if (r < 0)
                                break;
                        gone = cat_process_gone(s->pid, identity);
                        free(identity);
                        if (!gone)
                                continue;
                        if (repair)
                                fixed = cat_session_end_internal(cat, s->id,
                                                                 NULL) == 0;
                        r = add_issue(is, CAT_FSCK_STALE_SESSION, s->id, fixed,
                                      "session of user '%s' lost its daemon "
                                      "(pid %d)%s", s->user_name, (int)s->pid,
                                      fixed ? " (ended)" : "");
                } else if (s->scratch && lstat(s->scratch, &st) == 0) {
                        if (repair)
                                fixed = cat_tree_remove(s->scratch) == 0;
                        r = add_issue(is, CAT_FSCK_STALE_SESSION, s->id, fixed,
                                      "scratch '%s' of ended session remains%s",
                                      s->scratch, fixed ? " (removed)" : "");
                }
                if (r < 0)
                        r = cat_oom(reterr);
        }
        cat_session_list_free(v, n);
        return r;
}

/* Usage counters of folders with a quota against their backing trees. */
static int check_usage(cat_catalog *cat, bool repair, struct issues *is,
                       char **reterr)
{
        struct cat_folder *v = NULL;
        size_t n = 0;
        int r;

        r = cat_folder_list(cat, NULL, &v, &n, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r == 0; i++) {
                int64_t cb, cf, tb, tf;
                char *path = NULL;
                bool fixed = false;

                if (v[i].quota_bytes <= 0 ||
                    cat_folder_backing_path(cat, &v[i], &path, NULL) < 0)
                        continue;
                if (cat_usage_read(path, v[i].id, &cb, &cf) == 0 &&
                    cat_tree_usage(path, &tb, &tf) == 0 &&
                    (cb != tb || cf != tf)) {
                        if (repair)
                                fixed = cat_usage_recount(path, v[i].id, NULL,
                                                          NULL) == 0;
                        r = add_issue(is, CAT_FSCK_USAGE_DRIFT, v[i].id, fixed,
                                      "usage counter of folder '%s' says %"
                                      PRId64 " bytes in %" PRId64 " entries, "
                                      "the folder holds %" PRId64 " in %"
                                      PRId64 "%s", v[i].name, cb, cf, tb, tf,
                                      fixed ? " (recounted)" : "");
                        if (r < 0)
                                r = cat_oom(reterr);
                }
                free(path);
        }
        cat_folder_list_free(v, n);
        return r;
}

/* The directory part of path, malloc'd ("/" for "/x"), or NULL. */
static char *dir_of(const char *path)
{
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/*
 * What other users of this host must not read, beside the storage layout
 * (check_layout()): the catalog (and its -wal, -shm) and the scratch roots
 * (the one beside the catalog, and each one a recorded session used).
 */
static int check_modes(cat_catalog *cat, bool repair, struct issues *is,
                       char **reterr)
{
        static const char *const suffixes[] = { "", "-wal", "-shm" };
        struct cat_session *v = NULL;
        char **roots = NULL, *p, *dir;
        size_t n = 0, nr = 0;
        int r = 0;

        for (size_t i = 0; i < 3 && r == 0; i++) {
                if (asprintf(&p, "%s%s", cat_path(cat), suffixes[i]) < 0)
                        return cat_oom(reterr);
                r = check_mode(p, repair, is);
                free(p);
        }
        if (r < 0)
                return cat_oom(reterr);
        r = cat_session_list(cat, true, &v, &n, reterr);
        if (r < 0)
                return r;
        /* Each scratch root once: the default one and every one used. */
        roots = calloc(n + 1, sizeof(*roots));
        dir = roots ? dir_of(cat_path(cat)) : NULL;
        if (!dir || asprintf(&roots[nr++], "%s/scratch", dir) < 0)
                r = -ENOMEM;
        free(dir);
        for (size_t i = 0; i < n && r == 0; i++) {
                if (!v[i].scratch)
                        continue;
                roots[nr] = dir_of(v[i].scratch);
                if (!roots[nr++])
                        r = -ENOMEM;
        }
        cat_session_list_free(v, n);
        if (r == 0) {
                qsort(roots, nr, sizeof(*roots), strcmp_ptr);
                for (size_t i = 0; i < nr && r == 0; i++)
                        if (i == 0 || strcmp(roots[i], roots[i - 1]) != 0)
                                r = check_mode(roots[i], repair, is);
        }
        if (roots)
                strv_free(roots, nr);
        return r < 0 ? cat_oom(reterr) : 0;
}

int cat_fsck(cat_catalog *cat, const char *hostname, bool repair,
             struct cat_fsck_issue **ret_issues, size_t *ret_n, char **reterr)
{
        struct issues is = { 0 };
        char **expected = NULL;
        size_t n_expected = 0;
        char host[256];
        int r;

        if (!hostname) {
                if (gethostname(host, sizeof(host)) < 0)
                        return cat_err(reterr, -errno, "cannot get the host "
                                       "name: %s", strerror(errno));
                host[sizeof(host) - 1] = 0;
                hostname = host;
        }
        r = check_integrity(cat, &is, reterr);
        if (r < 0)
                goto out;
        /* A damaged catalog cannot be trusted to check anything else. */
        if (is.n > 0)
                goto done;
        r = check_backing(cat, repair, &is, &expected, &n_expected, reterr);
        if (r < 0)
                goto out;
        r = check_layout(cat, expected, n_expected, repair, &is, reterr);
        if (r < 0)
                goto out;
        r = check_sessions(cat, hostname, repair, &is, reterr);
        if (r < 0)
                goto out;
        r = check_usage(cat, repair, &is, reterr);
        if (r < 0)
                goto out;
        r = check_modes(cat, repair, &is, reterr);
        if (r < 0)
                goto out;
done:
        *ret_issues = is.v;
        *ret_n = is.n;
        is.v = NULL;
        is.n = 0;
out:
        strv_free(expected, n_expected);
        cat_fsck_issue_list_free(is.v, is.n);
        return r;
}
