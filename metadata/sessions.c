/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sessions.c - sessions and their mounts: recording a session with the
 * folders it asks for, starting it for a daemon (which folders, at which
 * targets, with which permission and backing directory), ending it with its
 * scratch directory, and reaping sessions whose daemon died on this host.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog-private.h"

static char *read_line(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "re");
        char *r;

        if (!f)
                return NULL;
        r = fgets(buf, (int)size, f);
        fclose(f);
        if (r)
                buf[strcspn(buf, "\n")] = 0;
        return r;
}

/*
 * The fields of /proc/PID/stat after the command name (which may hold
 * spaces and ')'), from field 3 (the state) on, into buf; NULL when the
 * process or /proc is not there.
 */
static const char *proc_stat_fields(pid_t pid, char *buf, size_t size)
{
        char path[64], *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        if (!read_line(path, buf, size))
                return NULL;
        p = strrchr(buf, ')');
        if (!p || p[1] != ' ')
                return NULL;
        return p + 2;
}

char *cat_process_identity(pid_t pid)
{
        char boot[64], stat[1024], *id;
        const char *p;
        unsigned long long start;

        if (pid <= 0 || !read_line("/proc/sys/kernel/random/boot_id", boot,
                                   sizeof(boot)))
                return NULL;
        p = proc_stat_fields(pid, stat, sizeof(stat));
        /* Field 3 (state) comes first; start time is field 22. */
        for (int field = 3; field < 22 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        if (!p || sscanf(p, "%llu", &start) != 1)
                return NULL;
        if (asprintf(&id, "%s:%llu", boot, start) < 0)
                return NULL;
        return id;
}

/*
 * A zombie (Z) or dead (X) process still answers kill(pid, 0) and keeps its
 * start time until its parent waits for it, which a parent may do late or
 * never: it is gone all the same.
 */
static bool process_dead(pid_t pid)
{
        char stat[1024];
        const char *p = proc_stat_fields(pid, stat, sizeof(stat));

        return p && (*p == 'Z' || *p == 'X');
}

bool cat_process_gone(pid_t pid, const char *identity)
{
        char *now;
        bool gone;

        if (kill(pid, 0) < 0 && errno == ESRCH)
                return true;
        if (process_dead(pid))
                return true;
        if (!identity)
                return false;
        now = cat_process_identity(pid);
        /* Unknown now (no /proc): only kill() can tell. */
        gone = now && strcmp(now, identity) != 0;
        free(now);
        return gone;
}

void cat_session_free(struct cat_session *session)
{
        if (!session)
                return;
        free(session->user_name);
        free(session->mountpoint);
        free(session->hostname);
        free(session->scratch);
        free(session);
}

static void session_release(struct cat_session *s)
{
        free(s->user_name);
        free(s->mountpoint);
        free(s->hostname);
        free(s->scratch);
}

void cat_session_list_free(struct cat_session *sessions, size_t n)
{
        if (!sessions)
                return;
        for (size_t i = 0; i < n; i++)
                session_release(&sessions[i]);
        free(sessions);
}

static void mount_release(struct cat_mount *m)
{
        free(m->folder_name);
        free(m->target);
        free(m->backing_path);
        free(m->host);
}

void cat_mount_list_free(struct cat_mount *mounts, size_t n)
{
        if (!mounts)
                return;
        for (size_t i = 0; i < n; i++)
                mount_release(&mounts[i]);
        free(mounts);
}

#define SESSION_COLUMNS                                                       \
        "s.id, s.user_id, u.name, u.uid, u.gid, s.mountpoint, s.hostname,"    \
        " s.pid, s.scratch, s.started_at, s.ended_at"                         \
        " FROM sessions s JOIN users u ON u.id = s.user_id"

static int session_from_row(sqlite3_stmt *stmt, struct cat_session *s)
{
        memset(s, 0, sizeof(*s));
        cat_copy_id(s->id, stmt, 0);
        cat_copy_id(s->user_id, stmt, 1);
        s->user_name = cat_column_strdup(stmt, 2);
        s->uid = (uid_t)sqlite3_column_int64(stmt, 3);
        s->gid = (gid_t)sqlite3_column_int64(stmt, 4);
        s->mountpoint = cat_column_strdup(stmt, 5);
        s->hostname = cat_column_strdup(stmt, 6);
        s->pid = (pid_t)sqlite3_column_int64(stmt, 7);
        s->scratch = cat_column_strdup(stmt, 8);
        s->started_at = sqlite3_column_int64(stmt, 9);
        s->ended_at = sqlite3_column_int64(stmt, 10);
        if (!s->user_name ||
            (!s->mountpoint && sqlite3_column_type(stmt, 5) != SQLITE_NULL) ||
            (!s->hostname && sqlite3_column_type(stmt, 6) != SQLITE_NULL) ||
            (!s->scratch && sqlite3_column_type(stmt, 8) != SQLITE_NULL)) {
                session_release(s);
                return -ENOMEM;
        }
        return 0;
}

int cat_session_get(cat_catalog *cat, const char *id,
                    struct cat_session **ret_session, char **reterr)
{
        sqlite3_stmt *stmt;
        struct cat_session *s;
        int r, rc;

        s = calloc(1, sizeof(*s));
        if (!s)
                return cat_oom(reterr);
        r = cat_prepare(cat, "SELECT " SESSION_COLUMNS " WHERE s.id = ?",
                        &stmt, reterr);
        if (r < 0) {
                free(s);
                return r;
        }
        sqlite3_bind_text(stmt, 1, id ? id : "", -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
                r = session_from_row(stmt, s) < 0 ? cat_oom(reterr) : 0;
        else if (rc == SQLITE_DONE)
                r = cat_err(reterr, -ENOENT, "no session '%s'", id ? id : "");
        else
                r = cat_sql_err(cat, reterr, rc, "cannot read sessions");
        sqlite3_finalize(stmt);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret_session = s;
        return 0;
}

/* cat_collect_rows() callbacks. */
static int session_row(sqlite3_stmt *stmt, void *ret_elem)
{
        return session_from_row(stmt, ret_elem);
}

static void sessions_free(void *elems, size_t n)
{
        cat_session_list_free(elems, n);
}

int cat_session_list(cat_catalog *cat, bool all,
                     struct cat_session **ret_sessions, size_t *ret_n,
                     char **reterr)
{
        sqlite3_stmt *stmt;
        void *v;
        int r;

        r = cat_prepare(cat, all ? "SELECT " SESSION_COLUMNS
                                   " ORDER BY s.started_at, s.id"
                                 : "SELECT " SESSION_COLUMNS
                                   " WHERE s.ended_at IS NULL"
                                   " ORDER BY s.started_at, s.id",
                        &stmt, reterr);
        if (r < 0)
                return r;
        r = cat_collect_rows(cat, stmt, sizeof(struct cat_session),
                             session_row, sessions_free,
                             "cannot read sessions", &v, ret_n, reterr);
        if (r == 0)
                *ret_sessions = v;
        return r;
}

/* A growing array of mounts being assembled for one session. */
struct mount_set {
        struct cat_mount *v;
        enum cat_perm *requested;
        size_t n, cap;
};

static void mount_set_release(struct mount_set *set)
{
        cat_mount_list_free(set->v, set->n);
        free(set->requested);
        memset(set, 0, sizeof(*set));
}

/* Takes ownership of target. */
static int mount_set_add(struct mount_set *set, const char *session_id,
                         const struct cat_folder *f, char *target,
                         enum cat_perm requested, enum cat_perm perm)
{
        struct cat_mount *m;

        if (set->n == set->cap) {
                size_t ncap = set->cap ? set->cap * 2 : 8;
                struct cat_mount *nv = realloc(set->v, ncap * sizeof(*nv));
                enum cat_perm *nr;

                if (!nv) {
                        free(target);
                        return -ENOMEM;
                }
                set->v = nv;
                nr = realloc(set->requested, ncap * sizeof(*nr));
                if (!nr) {
                        free(target);
                        return -ENOMEM;
                }
                set->requested = nr;
                set->cap = ncap;
        }
        m = &set->v[set->n];
        memset(m, 0, sizeof(*m));
        snprintf(m->session_id, sizeof(m->session_id), "%s", session_id);
        memcpy(m->folder_id, f->id, sizeof(m->folder_id));
        m->folder_name = strdup(f->name);
        m->target = target;
        m->permission = perm;
        m->quota_bytes = f->quota_bytes;
        if (!m->folder_name) {
                free(target);
                return -ENOMEM;
        }
        set->requested[set->n++] = requested;
        return 0;
}

static int check_targets(const struct mount_set *set,
                         const struct cat_folder *mountable, size_t n_mountable,
                         char **reterr)
{
        const char **names, **targets, **others;
        int r;

        names = calloc(set->n + 1, sizeof(*names));
        targets = calloc(set->n + 1, sizeof(*targets));
        others = calloc(n_mountable + 1, sizeof(*others));
        if (!names || !targets || !others) {
                r = cat_oom(reterr);
                goto out;
        }
        for (size_t i = 0; i < set->n; i++) {
                names[i] = set->v[i].folder_name;
                targets[i] = set->v[i].target;
        }
        for (size_t i = 0; i < n_mountable; i++)
                others[i] = mountable[i].name;
        r = cat_targets_check(names, targets, set->n, others, n_mountable,
                              reterr);
out:
        free(names);
        free(targets);
        free(others);
        return r;
}

/*
 * Reset stmt and bind parameters 1-6 of a mounts row in column order:
 * session_id, folder_id, folder_name, target, permission, requested.
 */
static void bind_mount_row(sqlite3_stmt *stmt, const char *session_id,
                           const struct cat_mount *m, enum cat_perm requested)
{
        sqlite3_reset(stmt);
        sqlite3_bind_text(stmt, 1, session_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, m->folder_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, m->folder_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 4, m->target, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 5, cat_perm_to_string(m->permission), -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(stmt, 6, cat_perm_to_string(requested), -1,
                          SQLITE_STATIC);
}

static int insert_mounts(cat_catalog *cat, const char *session_id,
                         const struct mount_set *set, int64_t mounted_at,
                         char **reterr)
{
        sqlite3_stmt *stmt;
        int r = 0, rc;

        r = cat_prepare(cat, "INSERT OR REPLACE INTO mounts (session_id,"
                        " folder_id, folder_name, target, permission,"
                        " requested, mounted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        &stmt, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < set->n; i++) {
                const struct cat_mount *m = &set->v[i];

                bind_mount_row(stmt, session_id, m, set->requested[i]);
                if (mounted_at)
                        sqlite3_bind_int64(stmt, 7, mounted_at);
                else
                        sqlite3_bind_null(stmt, 7);
                rc = sqlite3_step(stmt);
                if (rc != SQLITE_DONE) {
                        r = cat_sql_err(cat, reterr, rc,
                                        "cannot record mounts");
                        break;
                }
        }
        sqlite3_finalize(stmt);
        return r;
}

int cat_session_create(cat_catalog *cat, const char *user,
                       const struct cat_mount_request *reqs, size_t n,
                       char ret_id[CAT_UUID_STRLEN], char **reterr)
{
        char uid[CAT_UUID_STRLEN], id[CAT_UUID_STRLEN];
        struct cat_folder *mountable = NULL;
        struct mount_set set = { 0 };
        size_t n_mountable = 0;
        sqlite3_stmt *stmt = NULL;
        char *uname = NULL;
        int r;

        if (n > 0 && !reqs)
                return cat_err(reterr, -EINVAL, "no mount requests");
        cat_uuid_new(id);
        r = cat_begin(cat, reterr);
        if (r < 0)
                return r;
        r = cat_user_lookup(cat, user, uid, &uname, reterr);
        if (r < 0)
                goto fail;
        r = cat_user_mountable(cat, uid, &mountable, &n_mountable, reterr);
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < n; i++) {
                struct cat_folder f = { 0 };
                enum cat_perm perm = reqs[i].perm;
                char *target = NULL;

                if ((unsigned)perm > CAT_PERM_WD) {
                        r = cat_err(reterr, -EINVAL, "bad permission for "
                                    "folder '%s'", reqs[i].ref);
                        goto fail;
                }
                r = cat_folder_resolve_id(cat, reqs[i].ref, uid, &f, reterr);
                if (r < 0)
                        goto fail;
                if (f.status != CAT_STATUS_READY)
                        r = cat_err(reterr, -EINVAL, "folder '%s' is in the "
                                    "trash", f.name);
                else if (perm > f.effective)
                        r = cat_err(reterr, -EPERM, "folder '%s' asked with "
                                    "'%s', but user '%s' holds '%s'", f.name,
                                    cat_perm_to_string(perm), uname,
                                    cat_perm_to_string(f.effective));
                for (size_t j = 0; r == 0 && j < set.n; j++)
                        if (strcmp(set.v[j].folder_id, f.id) == 0)
                                r = cat_err(reterr, -EINVAL, "folder '%s' is "
                                            "requested twice", f.name);
                if (r == 0)
                        r = cat_target_resolve(f.name, reqs[i].alias, &target,
                                               reterr);
                if (r == 0) {
                        r = mount_set_add(&set, id, &f, target, perm,
                                          perm ? perm : f.effective);
                        if (r < 0)
                                r = cat_oom(reterr);
                }
                cat_folder_release(&f);
                if (r < 0)
                        goto fail;
        }
        r = check_targets(&set, mountable, n_mountable, reterr);
        if (r < 0)
                goto fail;

        r = cat_prepare(cat, "INSERT INTO sessions (id, user_id, started_at)"
                        " VALUES (?, ?, ?)", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, cat_now());
        if (sqlite3_step(stmt) != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, sqlite3_errcode(cat->db),
                                "cannot record session");
                goto fail;
        }
        r = insert_mounts(cat, id, &set, 0, reterr);
        if (r < 0)
                goto fail;
        r = cat_commit(cat, reterr);
        if (r < 0)
                goto out;
        memcpy(ret_id, id, CAT_UUID_STRLEN);
        goto out;
fail:
        cat_rollback(cat);
out:
        sqlite3_finalize(stmt);
        mount_set_release(&set);
        cat_folder_list_free(mountable, n_mountable);
        free(uname);
        return r;
}

static int mount_cmp(const void *a, const void *b)
{
        return strcmp(((const struct cat_mount *)a)->target,
                      ((const struct cat_mount *)b)->target);
}

/* The mounts a created session asked for, checked again now. */
static int load_requested(cat_catalog *cat, const char *session_id,
                          const char *uid, struct mount_set *set,
                          char **reterr)
{
        sqlite3_stmt *stmt;
        int r = 0, rc;

        r = cat_prepare(cat, "SELECT folder_id, folder_name, target, requested"
                        " FROM mounts WHERE session_id = ?", &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, session_id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                struct cat_folder f = { 0 };
                const char *fid = (const char *)sqlite3_column_text(stmt, 0);
                const char *fname = (const char *)sqlite3_column_text(stmt, 1);
                enum cat_perm req = CAT_PERM_NONE, perm;
                char *target;

                (void)cat_perm_from_string(
                        (const char *)sqlite3_column_text(stmt, 3), &req);
                r = cat_folder_resolve_id(cat, fid, uid, &f, NULL);
                if (r < 0 || f.status != CAT_STATUS_READY) {
                        cat_folder_release(&f);
                        r = cat_err(reterr, -ENOENT, "folder '%s' (%s) is no "
                                    "longer mountable", fname, fid);
                        break;
                }
                /* Never more than the user holds now. */
                perm = req != CAT_PERM_NONE && req < f.effective ? req
                                                                 : f.effective;
                target = cat_column_strdup(stmt, 2);
                r = target ? mount_set_add(set, session_id, &f, target, req,
                                           perm)
                           : -ENOMEM;
                cat_folder_release(&f);
                if (r < 0) {
                        r = cat_oom(reterr);
                        break;
                }
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = cat_sql_err(cat, reterr, rc, "cannot read mounts");
        sqlite3_finalize(stmt);
        return r;
}

static int mount_by_folder_cmp(const void *a, const void *b)
{
        const struct cat_mount *const *x = a, *const *y = b;

        return strcmp((*x)->folder_id, (*y)->folder_id);
}

/*
 * The backing path of every mount, from one query over the mounts just
 * recorded (a session may hold thousands).
 */
static int fill_backing_from(cat_catalog *cat, const char *session_id,
                             const char *user_id, struct mount_set *set,
                             char **reterr);

static int fill_backing(cat_catalog *cat, const char *session_id,
                        struct mount_set *set, char **reterr)
{
        return fill_backing_from(cat, session_id, NULL, set, reterr);
}

/*
 * With user_id: from the folders that user sees (mounts not recorded yet),
 * else from the session's recorded mounts.
 */
static int fill_backing_from(cat_catalog *cat, const char *session_id,
                             const char *user_id, struct mount_set *set,
                             char **reterr)
{
        struct cat_mount **by_id;
        sqlite3_stmt *stmt = NULL;
        int r, rc;

        by_id = calloc(set->n + 1, sizeof(*by_id));
        if (!by_id)
                return cat_oom(reterr);
        for (size_t i = 0; i < set->n; i++)
                by_id[i] = &set->v[i];
        qsort(by_id, set->n, sizeof(*by_id), mount_by_folder_cmp);
        r = cat_prepare(cat, user_id ?
                        "SELECT f.id, f.owner_type, f.owner_id, h.root, h.name"
                        " FROM folders f JOIN hosts h ON h.name = f.host"
                        " WHERE f.id IN (" CAT_VISIBLE_IDS("?1") ")" :
                        "SELECT f.id, f.owner_type, f.owner_id, h.root, h.name"
                        " FROM mounts m JOIN folders f ON f.id = m.folder_id"
                        " JOIN hosts h ON h.name = f.host"
                        " WHERE m.session_id = ?1", &stmt, reterr);
        if (r < 0)
                goto out;
        sqlite3_bind_text(stmt, 1, user_id ? user_id : session_id, -1,
                          SQLITE_STATIC);
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                struct cat_mount key, *kp = &key, **hit;
                enum cat_owner_type type = CAT_OWNER_USER;

                cat_copy_id(key.folder_id, stmt, 0);
                hit = bsearch(&kp, by_id, set->n, sizeof(*by_id),
                              mount_by_folder_cmp);
                if (!hit || (*hit)->backing_path)
                        continue;
                (void)cat_owner_type_from_string(
                        (const char *)sqlite3_column_text(stmt, 1), &type);
                r = cat_backing_path((const char *)sqlite3_column_text(stmt, 3),
                                     type,
                                     (const char *)sqlite3_column_text(stmt, 2),
                                     key.folder_id, &(*hit)->backing_path);
                if (r < 0) {
                        r = cat_err(reterr, r, "no backing path for folder %s",
                                    key.folder_id);
                        goto out;
                }
                (*hit)->host = cat_column_strdup(stmt, 4);
                if (!(*hit)->host) {
                        r = cat_oom(reterr);
                        goto out;
                }
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot read mounts");
                goto out;
        }
        for (size_t i = 0; i < set->n; i++)
                if (!set->v[i].backing_path) {
                        r = cat_err(reterr, -ENOENT, "folder %s is gone",
                                    set->v[i].folder_id);
                        goto out;
                }
out:
        sqlite3_finalize(stmt);
        free(by_id);
        return r;
}

static int make_scratch(const char *root, const char *id, char **ret_path,
                        char **reterr)
{
        struct stat st;
        char *path;
        int r;

        if (!root || root[0] != '/')
                return cat_err(reterr, -EINVAL, "scratch root '%s' is not an "
                               "absolute path", root ? root : "");
        r = cat_mkdir_p(root, CAT_PRIVATE_DIR_MODE);
        if (r < 0 && r != -EEXIST)
                return cat_err(reterr, r, "cannot create '%s': %s", root,
                               strerror(-r));
        if (asprintf(&path, "%s/%s", root, id) < 0)
                return cat_oom(reterr);
        if (mkdir(path, 0755) < 0) {
                r = -errno;
                if (r != -EEXIST || lstat(path, &st) < 0 ||
                    !S_ISDIR(st.st_mode)) {
                        r = cat_err(reterr, r, "cannot create '%s': %s", path,
                                    strerror(-r));
                        free(path);
                        return r;
                }
        }
        *ret_path = path;
        return 0;
}

int cat_session_start(cat_catalog *cat, const char *source,
                      const char *mountpoint, const char *hostname, pid_t pid,
                      const char *scratch_root,
                      struct cat_session **ret_session,
                      struct cat_mount **ret_mounts, size_t *ret_n,
                      char **reterr)
{
        char uid[CAT_UUID_STRLEN], id[CAT_UUID_STRLEN];
        struct cat_folder *mountable = NULL;
        struct cat_session *session = NULL;
        struct mount_set set = { 0 };
        size_t n_mountable = 0;
        sqlite3_stmt *stmt = NULL;
        char *scratch = NULL, *identity = NULL;
        bool attach;
        int64_t now = cat_now();
        int r, rc;

        if (!source || !*source || !mountpoint || !hostname || pid <= 0)
                return cat_err(reterr, -EINVAL, "a session needs a source, a "
                               "mountpoint, a hostname and a pid");
        (void)cat_session_reap(cat, hostname, NULL, NULL);

        attach = strncmp(source, "session:", 8) == 0;
        r = cat_begin(cat, reterr);
        if (r < 0)
                return r;
        if (attach) {
                snprintf(id, sizeof(id), "%s", source + 8);
                r = cat_prepare(cat, "SELECT user_id, pid, ended_at FROM"
                                " sessions WHERE id = ?", &stmt, reterr);
                if (r < 0)
                        goto fail;
                sqlite3_bind_text(stmt, 1, source + 8, -1, SQLITE_STATIC);
                rc = sqlite3_step(stmt);
                if (rc == SQLITE_DONE)
                        r = cat_err(reterr, -ENOENT, "no session '%s'",
                                    source + 8);
                else if (rc != SQLITE_ROW)
                        r = cat_sql_err(cat, reterr, rc,
                                        "cannot read sessions");
                else if (sqlite3_column_type(stmt, 2) != SQLITE_NULL)
                        r = cat_err(reterr, -ENOENT, "session '%s' has ended",
                                    source + 8);
                else if (sqlite3_column_int64(stmt, 1) != 0)
                        r = cat_err(reterr, -EBUSY, "session '%s' is already "
                                    "started (pid %lld)", source + 8,
                                    (long long)sqlite3_column_int64(stmt, 1));
                else
                        cat_copy_id(uid, stmt, 0);
                sqlite3_finalize(stmt);
                stmt = NULL;
                if (r < 0)
                        goto fail;
        } else {
                r = cat_user_lookup(cat, source, uid, NULL, reterr);
                if (r < 0)
                        goto fail;
                cat_uuid_new(id);
        }

        r = cat_user_mountable(cat, uid, &mountable, &n_mountable, reterr);
        if (r < 0)
                goto fail;
        if (attach) {
                r = load_requested(cat, id, uid, &set, reterr);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < n_mountable; i++) {
                const struct cat_folder *f = &mountable[i];
                char *target = NULL;
                bool have = false;

                if (attach && !cat_name_is_automount(f->name))
                        continue;
                for (size_t j = 0; attach && j < set.n && !have; j++)
                        have = strcmp(set.v[j].folder_id, f->id) == 0;
                if (have)
                        continue;
                r = cat_target_resolve(f->name, NULL, &target, reterr);
                if (r < 0)
                        goto fail;
                r = mount_set_add(&set, id, f, target, CAT_PERM_NONE,
                                  f->effective);
                if (r < 0) {
                        r = cat_oom(reterr);
                        goto fail;
                }
        }
        r = check_targets(&set, mountable, n_mountable, reterr);
        if (r < 0)
                goto fail;

        r = cat_prepare(cat, attach ? "UPDATE sessions SET mountpoint = ?2,"
                                      " hostname = ?3, pid = ?4, scratch = ?5,"
                                      " pid_identity = ?8 WHERE id = ?1"
                                    : "INSERT INTO sessions (id, mountpoint,"
                                      " hostname, pid, scratch, user_id,"
                                      " started_at, pid_identity) VALUES (?1,"
                                      " ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        &stmt, reterr);
        if (r < 0)
                goto fail;
        r = make_scratch(scratch_root, id, &scratch, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, mountpoint, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, hostname, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 4, pid);
        sqlite3_bind_text(stmt, 5, scratch, -1, SQLITE_STATIC);
        if (!attach) {
                sqlite3_bind_text(stmt, 6, uid, -1, SQLITE_STATIC);
                sqlite3_bind_int64(stmt, 7, now);
        }
        identity = cat_process_identity(pid);
        if (identity)
                sqlite3_bind_text(stmt, 8, identity, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(stmt, 8);
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot record session");
                goto fail_scratch;
        }
        r = insert_mounts(cat, id, &set, now, reterr);
        if (r < 0)
                goto fail_scratch;
        r = fill_backing(cat, id, &set, reterr);
        if (r < 0)
                goto fail_scratch;
        r = cat_session_get(cat, id, &session, reterr);
        if (r < 0)
                goto fail_scratch;
        r = cat_commit(cat, reterr);
        if (r < 0) {
                rmdir(scratch);
                goto out;
        }
        for (size_t i = 0; i < set.n; i++)
                set.v[i].mounted_at = now;
        if (set.n > 1)
                qsort(set.v, set.n, sizeof(*set.v), mount_cmp);
        *ret_session = session;
        session = NULL;
        *ret_mounts = set.v;
        *ret_n = set.n;
        set.v = NULL;
        set.n = 0;
        goto out;
fail_scratch:
        rmdir(scratch);
fail:
        cat_rollback(cat);
out:
        sqlite3_finalize(stmt);
        cat_session_free(session);
        mount_set_release(&set);
        cat_folder_list_free(mountable, n_mountable);
        free(scratch);
        free(identity);
        return r;
}

/*
 * The session is marked ended in a committed transaction before its scratch
 * is removed: removing a large scratch tree must not hold the catalog's
 * write lock.  A scratch left behind by a crash in between is found and
 * removed by cat_fsck().
 */
int cat_session_end_internal(cat_catalog *cat, const char *id, char **reterr)
{
        sqlite3_stmt *stmt = NULL;
        char *scratch = NULL;
        int64_t now = cat_now();
        int r, rc;

        r = cat_begin(cat, reterr);
        if (r < 0)
                return r;
        r = cat_prepare(cat, "SELECT scratch, ended_at FROM sessions"
                        " WHERE id = ?", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, id ? id : "", -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
                r = cat_err(reterr, -ENOENT, "no session '%s'", id ? id : "");
        else if (rc != SQLITE_ROW)
                r = cat_sql_err(cat, reterr, rc, "cannot read sessions");
        else if (sqlite3_column_type(stmt, 1) != SQLITE_NULL)
                r = cat_err(reterr, -EALREADY, "session '%s' has already "
                            "ended", id);
        else if (sqlite3_column_type(stmt, 0) != SQLITE_NULL &&
                 !(scratch = cat_column_strdup(stmt, 0)))
                r = cat_oom(reterr);
        sqlite3_finalize(stmt);
        stmt = NULL;
        if (r < 0)
                goto fail;

        r = cat_prepare(cat, "UPDATE sessions SET ended_at = ?2 WHERE id = ?1",
                        &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, now);
        rc = sqlite3_step(stmt);
        sqlite3_finalize(stmt);
        stmt = NULL;
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot end session");
                goto fail;
        }
        r = cat_prepare(cat, "UPDATE mounts SET unmounted_at = ?2 WHERE"
                        " session_id = ?1 AND unmounted_at IS NULL", &stmt,
                        reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, now);
        rc = sqlite3_step(stmt);
        sqlite3_finalize(stmt);
        stmt = NULL;
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot end session");
                goto fail;
        }
        r = cat_commit(cat, reterr);
        if (r < 0)
                goto out;
        if (scratch) {
                r = cat_tree_remove(scratch);
                if (r == -ENOENT)
                        r = 0;
                if (r < 0)
                        r = cat_err(reterr, r, "session '%s' ended, but its "
                                    "scratch '%s' could not be removed: %s",
                                    id, scratch, strerror(-r));
        }
        goto out;
fail:
        cat_rollback(cat);
out:
        free(scratch);
        return r;
}

int cat_session_end(cat_catalog *cat, const char *id, char **reterr)
{
        return cat_session_end_internal(cat, id, reterr);
}

int cat_session_reap(cat_catalog *cat, const char *hostname,
                     size_t *ret_reaped, char **reterr)
{
        sqlite3_stmt *stmt;
        char (*ids)[CAT_UUID_STRLEN] = NULL;
        size_t n = 0, reaped = 0;
        int r, rc, first_err = 0;

        if (!hostname)
                return cat_err(reterr, -EINVAL, "no hostname given");
        r = cat_prepare(cat, "SELECT id, pid, pid_identity FROM sessions"
                        " WHERE ended_at IS NULL AND pid > 0 AND hostname = ?",
                        &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, hostname, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                pid_t pid = (pid_t)sqlite3_column_int64(stmt, 1);
                void *nv;

                if (!cat_process_gone(pid, (const char *)
                                      sqlite3_column_text(stmt, 2)))
                        continue;
                nv = realloc(ids, (n + 1) * sizeof(*ids));
                if (!nv) {
                        sqlite3_finalize(stmt);
                        free(ids);
                        return cat_oom(reterr);
                }
                ids = nv;
                cat_copy_id(ids[n++], stmt, 0);
        }
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE) {
                free(ids);
                return cat_sql_err(cat, reterr, rc, "cannot read sessions");
        }
        for (size_t i = 0; i < n; i++) {
                char *err = NULL;

                r = cat_session_end_internal(cat, ids[i], &err);
                if (r == 0) {
                        reaped++;
                } else if (r != -EALREADY && first_err == 0) {
                        /* Another reaper may have been faster. */
                        first_err = r;
                        if (reterr)
                                *reterr = err;
                        err = NULL;
                }
                free(err);
        }
        free(ids);
        if (first_err < 0)
                return first_err;
        if (ret_reaped)
                *ret_reaped = reaped;
        return 0;
}

int cat_mount_list(cat_catalog *cat, const char *session_id,
                   const char *folder_ref, struct cat_mount **ret_mounts,
                   size_t *ret_n, char **reterr)
{
        struct cat_folder f = { 0 };
        sqlite3_stmt *stmt = NULL;
        struct cat_mount *v = NULL;
        size_t n = 0;
        int r, rc;

        if (session_id) {
                struct cat_session *s;

                r = cat_session_get(cat, session_id, &s, reterr);
                if (r < 0)
                        return r;
                cat_session_free(s);
        }
        if (folder_ref) {
                r = cat_folder_resolve_id(cat, folder_ref, NULL, &f, reterr);
                if (r < 0)
                        return r;
        }
        r = cat_prepare(cat, "SELECT m.session_id, m.folder_id,"
                        " COALESCE(f.name, m.folder_name), m.target,"
                        " m.permission, m.mounted_at, m.unmounted_at,"
                        " f.quota_bytes FROM mounts m"
                        " JOIN sessions s ON s.id = m.session_id"
                        " LEFT JOIN folders f ON f.id = m.folder_id"
                        " WHERE s.ended_at IS NULL"
                        " AND (?1 IS NULL OR m.session_id = ?1)"
                        " AND (?2 IS NULL OR m.folder_id = ?2)"
                        " ORDER BY s.started_at, s.id, m.target",
                        &stmt, reterr);
        if (r < 0)
                goto out;
        if (session_id)
                sqlite3_bind_text(stmt, 1, session_id, -1, SQLITE_STATIC);
        if (folder_ref)
                sqlite3_bind_text(stmt, 2, f.id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                struct cat_mount *nv = realloc(v, (n + 1) * sizeof(*v)), *m;

                if (!nv)
                        goto oom;
                v = nv;
                m = &v[n];
                memset(m, 0, sizeof(*m));
                cat_copy_id(m->session_id, stmt, 0);
                cat_copy_id(m->folder_id, stmt, 1);
                m->folder_name = cat_column_strdup(stmt, 2);
                m->target = cat_column_strdup(stmt, 3);
                (void)cat_perm_from_string(
                        (const char *)sqlite3_column_text(stmt, 4),
                        &m->permission);
                m->mounted_at = sqlite3_column_int64(stmt, 5);
                m->unmounted_at = sqlite3_column_int64(stmt, 6);
                m->quota_bytes = sqlite3_column_int64(stmt, 7);
                n++;
                if (!m->folder_name || !m->target)
                        goto oom;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot read mounts");
                goto fail;
        }
        *ret_mounts = v;
        *ret_n = n;
        v = NULL;
        n = 0;
        r = 0;
        goto out;
oom:
        r = cat_oom(reterr);
fail:
        cat_mount_list_free(v, n);
out:
        sqlite3_finalize(stmt);
        cat_folder_release(&f);
        return r;
}

/* One row of a running session's mounts, as recorded. */
struct mount_row {
        char folder_id[CAT_UUID_STRLEN];
        char *folder_name;
        char *target;
        enum cat_perm requested;
        enum cat_perm permission;
        bool mounted;
};

static void mount_rows_free(struct mount_row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(rows[i].folder_name);
                free(rows[i].target);
        }
        free(rows);
}

static int load_rows(cat_catalog *cat, const char *session_id,
                     struct mount_row **ret_rows, size_t *ret_n, char **reterr)
{
        struct mount_row *rows = NULL;
        size_t n = 0, cap = 0;
        sqlite3_stmt *stmt;
        int r, rc;

        r = cat_prepare(cat, "SELECT folder_id, folder_name, target,"
                        " requested, permission, unmounted_at IS NULL"
                        " FROM mounts WHERE session_id = ?", &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, session_id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                struct mount_row *row;

                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        struct mount_row *nv = realloc(rows,
                                                       ncap * sizeof(*nv));

                        if (!nv) {
                                r = cat_oom(reterr);
                                break;
                        }
                        rows = nv;
                        cap = ncap;
                }
                row = &rows[n];
                memset(row, 0, sizeof(*row));
                cat_copy_id(row->folder_id, stmt, 0);
                row->folder_name = cat_column_strdup(stmt, 1);
                row->target = cat_column_strdup(stmt, 2);
                n++;
                if (!row->folder_name || !row->target) {
                        r = cat_oom(reterr);
                        break;
                }
                (void)cat_perm_from_string(
                        (const char *)sqlite3_column_text(stmt, 3),
                        &row->requested);
                (void)cat_perm_from_string(
                        (const char *)sqlite3_column_text(stmt, 4),
                        &row->permission);
                row->mounted = sqlite3_column_int(stmt, 5) != 0;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = cat_sql_err(cat, reterr, rc, "cannot read mounts");
        sqlite3_finalize(stmt);
        if (r < 0) {
                mount_rows_free(rows, n);
                return r;
        }
        *ret_rows = rows;
        *ret_n = n;
        return 0;
}

/*
 * Lookups by folder id in id-sorted arrays (a user may see 10,000 folders:
 * no quadratic matching).  Both structs begin with the id.
 */
static int by_id_cmp(const void *a, const void *b)
{
        return strcmp((const char *)a, (const char *)b);
}

static const struct cat_folder *find_folder(const struct cat_folder *v,
                                            size_t n, const char *id)
{
        return n ? bsearch(id, v, n, sizeof(*v), by_id_cmp) : NULL;
}

static const struct mount_row *find_row(const struct mount_row *rows,
                                        size_t n, const char *id)
{
        return n ? bsearch(id, rows, n, sizeof(*rows), by_id_cmp) : NULL;
}

/* Record the refreshed set where it differs from rows. */
static int record_refresh(cat_catalog *cat, const char *session_id,
                          const struct mount_row *rows, size_t n_rows,
                          const struct mount_set *set, char **reterr)
{
        sqlite3_stmt *up = NULL, *gone = NULL;
        int64_t now = cat_now();
        bool *kept;
        int r;

        /* rows (sorted by id) that stay mounted */
        kept = calloc(n_rows + 1, sizeof(*kept));
        if (!kept)
                return cat_oom(reterr);
        for (size_t j = 0; j < set->n; j++) {
                const struct mount_row *row = find_row(rows, n_rows,
                                                       set->v[j].folder_id);

                if (row)
                        kept[row - rows] = true;
        }

        r = cat_prepare(cat, "INSERT INTO mounts (session_id, folder_id,"
                        " folder_name, target, permission, requested,"
                        " mounted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                        " ON CONFLICT (session_id, folder_id) DO UPDATE SET"
                        " folder_name = ?3, target = ?4, permission = ?5,"
                        " mounted_at = CASE WHEN unmounted_at IS NULL THEN"
                        " mounted_at ELSE ?7 END, unmounted_at = NULL",
                        &up, reterr);
        if (r < 0)
                goto out;
        r = cat_prepare(cat, "UPDATE mounts SET unmounted_at = ?3 WHERE"
                        " session_id = ?1 AND folder_id = ?2", &gone, reterr);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < set->n && r == 0; i++) {
                const struct cat_mount *m = &set->v[i];
                const struct mount_row *row = find_row(rows, n_rows,
                                                       m->folder_id);

                if (row && row->mounted && row->permission == m->permission &&
                    strcmp(row->folder_name, m->folder_name) == 0 &&
                    strcmp(row->target, m->target) == 0)
                        continue;
                bind_mount_row(up, session_id, m, set->requested[i]);
                sqlite3_bind_int64(up, 7, now);
                if (sqlite3_step(up) != SQLITE_DONE)
                        r = cat_sql_err(cat, reterr, sqlite3_errcode(cat->db),
                                        "cannot record mounts");
        }
        for (size_t i = 0; i < n_rows && r == 0; i++) {
                if (!rows[i].mounted || kept[i])
                        continue;
                sqlite3_reset(gone);
                sqlite3_bind_text(gone, 1, session_id, -1, SQLITE_STATIC);
                sqlite3_bind_text(gone, 2, rows[i].folder_id, -1,
                                  SQLITE_STATIC);
                sqlite3_bind_int64(gone, 3, now);
                if (sqlite3_step(gone) != SQLITE_DONE)
                        r = cat_sql_err(cat, reterr, sqlite3_errcode(cat->db),
                                        "cannot record mounts");
        }
out:
        sqlite3_finalize(up);
        sqlite3_finalize(gone);
        free(kept);
        return r;
}

int cat_session_refresh(cat_catalog *cat, const char *session_id,
                        bool all_folders, bool record,
                        struct cat_mount **ret_mounts, size_t *ret_n,
                        char **reterr)
{
        char uid[CAT_UUID_STRLEN];
        struct cat_folder *mountable = NULL;
        struct mount_row *rows = NULL;
        struct mount_set set = { 0 };
        size_t n_mountable = 0, n_rows = 0;
        sqlite3_stmt *stmt = NULL;
        int r, rc;

        /* Only reading: a deferred transaction, nothing to write or sync. */
        r = record ? cat_begin(cat, reterr) : cat_exec(cat, "BEGIN", reterr);
        if (r < 0)
                return r;
        r = cat_prepare(cat, "SELECT user_id, ended_at FROM sessions"
                        " WHERE id = ?", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, session_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
                r = cat_err(reterr, -ENOENT, "no session '%s'", session_id);
        else if (rc != SQLITE_ROW)
                r = cat_sql_err(cat, reterr, rc, "cannot read sessions");
        else if (sqlite3_column_type(stmt, 1) != SQLITE_NULL)
                r = cat_err(reterr, -ENOENT, "session '%s' has ended",
                            session_id);
        else
                cat_copy_id(uid, stmt, 0);
        sqlite3_finalize(stmt);
        if (r < 0)
                goto fail;
        r = cat_user_mountable(cat, uid, &mountable, &n_mountable, reterr);
        if (r < 0)
                goto fail;
        r = load_rows(cat, session_id, &rows, &n_rows, reterr);
        if (r < 0)
                goto fail;
        if (n_mountable > 1)
                qsort(mountable, n_mountable, sizeof(*mountable), by_id_cmp);
        if (n_rows > 1)
                qsort(rows, n_rows, sizeof(*rows), by_id_cmp);

        /* What it mounted (or asked for), as the catalog stands now. */
        for (size_t i = 0; i < n_rows; i++) {
                const struct mount_row *row = &rows[i];
                const struct cat_folder *f = find_folder(mountable,
                                                         n_mountable,
                                                         row->folder_id);
                enum cat_perm perm;
                char *old_default = NULL, *target = NULL;

                if (!f)
                        continue; /* trashed, revoked or purged */
                perm = row->requested != CAT_PERM_NONE &&
                       row->requested < f->effective ? row->requested
                                                     : f->effective;
                /* A folder at its default target follows its name. */
                r = cat_target_resolve(row->folder_name, NULL, &old_default,
                                       NULL);
                if (r == 0 && strcmp(old_default, row->target) == 0)
                        r = cat_target_resolve(f->name, NULL, &target,
                                               reterr);
                else
                        target = strdup(row->target);
                free(old_default);
                if (r == 0 && !target)
                        r = cat_oom(reterr);
                if (r == 0) {
                        r = mount_set_add(&set, session_id, f, target,
                                          row->requested, perm);
                        if (r < 0)
                                r = cat_oom(reterr);
                }
                if (r < 0)
                        goto fail;
        }
        /* What appeared: every new folder for a user's session, else only
         * automount folders. */
        for (size_t i = 0; i < n_mountable; i++) {
                const struct cat_folder *f = &mountable[i];
                char *target = NULL;

                if (find_row(rows, n_rows, f->id))
                        continue;
                if (!all_folders && !cat_name_is_automount(f->name))
                        continue;
                r = cat_target_resolve(f->name, NULL, &target, reterr);
                if (r < 0)
                        goto fail;
                r = mount_set_add(&set, session_id, f, target, CAT_PERM_NONE,
                                  f->effective);
                if (r < 0) {
                        r = cat_oom(reterr);
                        goto fail;
                }
        }
        r = check_targets(&set, NULL, 0, reterr);
        if (r < 0)
                goto fail;
        if (record)
                r = record_refresh(cat, session_id, rows, n_rows, &set,
                                   reterr);
        if (r < 0)
                goto fail;
        r = fill_backing_from(cat, session_id, uid, &set, reterr);
        if (r < 0)
                goto fail;
        r = cat_commit(cat, reterr);
        if (r < 0)
                goto out;
        *ret_mounts = set.v;
        *ret_n = set.n;
        set.v = NULL;
        set.n = 0;
        goto out;
fail:
        cat_rollback(cat);
out:
        mount_set_release(&set);
        mount_rows_free(rows, n_rows);
        cat_folder_list_free(mountable, n_mountable);
        return r;
}
