/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * folders.c - folders and grants: creating a folder with its backing
 * directory, resolving a reference by UUID or name as a given user would,
 * effective permissions, renaming, trashing, restoring, purging, cloning and
 * sharing.  Every change is one BEGIN IMMEDIATE transaction that is rolled
 * back on any failure, and every change that adds a name to what some user
 * sees is checked against the names that user already sees (SPEC section 4).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog-private.h"

void cat_folder_release(struct cat_folder *folder)
{
        if (!folder)
                return;
        free(folder->name);
        free(folder->host);
        free(folder->owner_name);
        folder->name = folder->host = folder->owner_name = NULL;
}

void cat_folder_free(struct cat_folder *folder)
{
        cat_folder_release(folder);
        free(folder);
}

void cat_folder_list_free(struct cat_folder *folders, size_t n)
{
        if (!folders)
                return;
        for (size_t i = 0; i < n; i++)
                cat_folder_release(&folders[i]);
        free(folders);
}

/* Reads CAT_FOLDER_COLUMNS from col0 on, and the effective permission after. */
int cat_folder_from_row(sqlite3_stmt *stmt, int col0, struct cat_folder *f)
{
        const char *s;

        memset(f, 0, sizeof(*f));
        cat_copy_id(f->id, stmt, col0);
        f->name = cat_column_strdup(stmt, col0 + 1);
        f->host = cat_column_strdup(stmt, col0 + 2);
        (void)cat_owner_type_from_string(
                (const char *)sqlite3_column_text(stmt, col0 + 3),
                &f->owner_type);
        cat_copy_id(f->owner_id, stmt, col0 + 4);
        s = (const char *)sqlite3_column_text(stmt, col0 + 5);
        f->owner_name = strdup(s ? s : "");
        (void)cat_usage_mode_from_string(
                (const char *)sqlite3_column_text(stmt, col0 + 6),
                &f->usage_mode);
        (void)cat_perm_from_string(
                (const char *)sqlite3_column_text(stmt, col0 + 7),
                &f->permission);
        f->cloneable = sqlite3_column_int(stmt, col0 + 8) != 0;
        f->quota_bytes = sqlite3_column_int64(stmt, col0 + 9);
        (void)cat_status_from_string(
                (const char *)sqlite3_column_text(stmt, col0 + 10),
                &f->status);
        f->created_at = sqlite3_column_int64(stmt, col0 + 11);
        f->updated_at = sqlite3_column_int64(stmt, col0 + 12);
        if (sqlite3_column_count(stmt) > col0 + CAT_FOLDER_NCOLUMNS)
                (void)cat_perm_from_string(
                        (const char *)sqlite3_column_text(
                                stmt, col0 + CAT_FOLDER_NCOLUMNS),
                        &f->effective);
        if (!f->name || !f->host || !f->owner_name) {
                cat_folder_release(f);
                return -ENOMEM;
        }
        return 0;
}

static const char sql_by_id[] =
        "SELECT " CAT_FOLDER_COLUMNS ", 'none' FROM folders f WHERE f.id = ?1";
static const char sql_by_id_user[] =
        "SELECT * FROM (SELECT " CAT_FOLDER_COLUMNS ", " CAT_EFFECTIVE("?2")
        " AS eff FROM folders f WHERE f.id = ?1) WHERE eff IS NOT NULL";
static const char sql_by_name[] =
        "SELECT " CAT_FOLDER_COLUMNS ", 'none' FROM folders f"
        " WHERE f.name = ?1 ORDER BY f.id";
static const char sql_by_name_user[] =
        "SELECT * FROM (SELECT " CAT_FOLDER_COLUMNS ", " CAT_EFFECTIVE("?2")
        " AS eff FROM folders f WHERE f.name = ?1) WHERE eff IS NOT NULL"
        " ORDER BY 1";

/*
 * Resolve ref (a UUID, else a name) among every folder, or among those
 * user_id can see.  A name that looks like a UUID but is no folder's id is
 * still looked up as a name.
 */
int cat_folder_resolve_id(cat_catalog *cat, const char *ref,
                          const char *user_id, struct cat_folder *ret,
                          char **reterr)
{
        sqlite3_stmt *stmt = NULL;
        struct cat_folder f[1];
        char *ids = NULL;
        size_t n = 0, idslen = 0;
        FILE *out;
        int r, rc;

        if (!ref || !*ref)
                return cat_err(reterr, -EINVAL, "no folder given");
        if (cat_uuid_valid(ref)) {
                r = cat_prepare(cat, user_id ? sql_by_id_user : sql_by_id,
                                &stmt, reterr);
                if (r < 0)
                        return r;
                sqlite3_bind_text(stmt, 1, ref, -1, SQLITE_STATIC);
                if (user_id)
                        sqlite3_bind_text(stmt, 2, user_id, -1, SQLITE_STATIC);
                rc = sqlite3_step(stmt);
                if (rc == SQLITE_ROW) {
                        r = cat_folder_from_row(stmt, 0, ret);
                        sqlite3_finalize(stmt);
                        return r < 0 ? cat_oom(reterr) : 0;
                }
                sqlite3_finalize(stmt);
                if (rc != SQLITE_DONE)
                        return cat_sql_err(cat, reterr, rc,
                                           "cannot read folders");
        }

        r = cat_prepare(cat, user_id ? sql_by_name_user : sql_by_name, &stmt,
                        reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, ref, -1, SQLITE_STATIC);
        if (user_id)
                sqlite3_bind_text(stmt, 2, user_id, -1, SQLITE_STATIC);
        out = open_memstream(&ids, &idslen);
        if (!out) {
                sqlite3_finalize(stmt);
                return cat_oom(reterr);
        }
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                fprintf(out, "%s%s", n ? ", " : "",
                        (const char *)sqlite3_column_text(stmt, 0));
                if (n < 1 && cat_folder_from_row(stmt, 0, &f[n]) < 0) {
                        r = cat_oom(reterr);
                        goto out;
                }
                n++;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot read folders");
                goto out;
        }
        fflush(out);
        if (n == 0)
                r = cat_err(reterr, -ENOENT, "no folder '%s'", ref);
        else if (n > 1)
                r = cat_err(reterr, -ENOTUNIQ, "name '%s' matches several "
                            "folders: %s", ref, ids ? ids : "");
        else
                r = 0;
out:
        sqlite3_finalize(stmt);
        fclose(out);
        free(ids);
        if (r < 0) {
                if (n > 0)
                        cat_folder_release(&f[0]);
                return r;
        }
        *ret = f[0];
        return 0;
}

int cat_folder_resolve(cat_catalog *cat, const char *ref, const char *user,
                       struct cat_folder **ret_folder, char **reterr)
{
        char uid[CAT_UUID_STRLEN];
        struct cat_folder *f;
        int r;

        if (user) {
                r = cat_user_lookup(cat, user, uid, NULL, reterr);
                if (r < 0)
                        return r;
        }
        f = calloc(1, sizeof(*f));
        if (!f)
                return cat_oom(reterr);
        r = cat_folder_resolve_id(cat, ref, user ? uid : NULL, f, reterr);
        if (r < 0) {
                free(f);
                return r;
        }
        *ret_folder = f;
        return 0;
}

/* cat_collect_rows() callbacks. */
static int folder_row(sqlite3_stmt *stmt, void *ret_elem)
{
        return cat_folder_from_row(stmt, 0, ret_elem);
}

static void folders_free(void *elems, size_t n)
{
        cat_folder_list_free(elems, n);
}

static int folder_list_query(cat_catalog *cat, const char *sql,
                             const char *arg, struct cat_folder **ret_folders,
                             size_t *ret_n, char **reterr)
{
        sqlite3_stmt *stmt;
        void *v;
        int r;

        r = cat_prepare(cat, sql, &stmt, reterr);
        if (r < 0)
                return r;
        if (arg)
                sqlite3_bind_text(stmt, 1, arg, -1, SQLITE_STATIC);
        r = cat_collect_rows(cat, stmt, sizeof(struct cat_folder), folder_row,
                             folders_free, "cannot read folders", &v, ret_n,
                             reterr);
        if (r == 0)
                *ret_folders = v;
        return r;
}

int cat_folder_list(cat_catalog *cat, const char *user,
                    struct cat_folder **ret_folders, size_t *ret_n,
                    char **reterr)
{
        char uid[CAT_UUID_STRLEN];
        int r;

        if (!user)
                return folder_list_query(cat, "SELECT " CAT_FOLDER_COLUMNS
                                         ", 'none' FROM folders f"
                                         " ORDER BY f.name, f.id", NULL,
                                         ret_folders, ret_n, reterr);
        r = cat_user_lookup(cat, user, uid, NULL, reterr);
        if (r < 0)
                return r;
        return folder_list_query(cat, "SELECT " CAT_FOLDER_COLUMNS ", "
                                 CAT_EFFECTIVE("?1") " FROM folders f"
                                 " WHERE f.id IN (" CAT_VISIBLE_IDS("?1") ")"
                                 " ORDER BY f.name, f.id", uid, ret_folders,
                                 ret_n, reterr);
}

int cat_user_mountable(cat_catalog *cat, const char *user_id,
                       struct cat_folder **ret_folders, size_t *ret_n,
                       char **reterr)
{
        return folder_list_query(cat, "SELECT " CAT_FOLDER_COLUMNS ", "
                                 CAT_EFFECTIVE("?1") " FROM folders f"
                                 " WHERE f.id IN (" CAT_VISIBLE_IDS("?1") ")"
                                 " AND f.status = 'ready'"
                                 " ORDER BY f.name, f.id", user_id,
                                 ret_folders, ret_n, reterr);
}

int cat_effective_by_id(cat_catalog *cat, const char *folder_id,
                        const char *user_id, enum cat_perm *ret_perm,
                        char **reterr)
{
        sqlite3_stmt *stmt;
        enum cat_perm perm = CAT_PERM_NONE;
        int r, rc;

        r = cat_prepare(cat, "SELECT " CAT_EFFECTIVE("?2") " FROM folders f"
                        " WHERE f.id = ?1", &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, folder_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, user_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
                if (sqlite3_column_type(stmt, 0) != SQLITE_NULL)
                        (void)cat_perm_from_string(
                                (const char *)sqlite3_column_text(stmt, 0),
                                &perm);
                r = 0;
        } else if (rc == SQLITE_DONE) {
                r = cat_err(reterr, -ENOENT, "no folder '%s'", folder_id);
        } else {
                r = cat_sql_err(cat, reterr, rc, "cannot read folders");
        }
        sqlite3_finalize(stmt);
        if (r == 0)
                *ret_perm = perm;
        return r;
}

int cat_folder_effective_permission(cat_catalog *cat, const char *folder_id,
                                    const char *user, enum cat_perm *ret_perm,
                                    char **reterr)
{
        char uid[CAT_UUID_STRLEN];
        int r;

        r = cat_user_lookup(cat, user, uid, NULL, reterr);
        if (r < 0)
                return r;
        return cat_effective_by_id(cat, folder_id, uid, ret_perm, reterr);
}

int cat_folder_backing_path(cat_catalog *cat, const struct cat_folder *folder,
                            char **ret_path, char **reterr)
{
        char *root = NULL;
        int r;

        r = cat_host_root(cat, folder->host, &root, reterr);
        if (r < 0)
                return r;
        r = cat_backing_path(root, folder->owner_type, folder->owner_id,
                             folder->id, ret_path);
        free(root);
        if (r < 0)
                return cat_err(reterr, r, "no backing path for folder %s",
                               folder->id);
        return 0;
}

/* ---------------------------------------------------------------------------
 * Name clashes.
 */

/*
 * Fail with -EEXIST when a user of the set users_sql (a SELECT of user ids
 * using ?3 and ?4) already sees a folder called name other than exclude_id
 * (?2).  For project owners the project's own folders count too, members
 * or not, so that a member added later finds no clash among them.
 */
static int check_clash(cat_catalog *cat, const char *name,
                       const char *exclude_id, const char *users_sql,
                       const char *arg3, const char *project_id,
                       char **reterr)
{
        sqlite3_stmt *stmt = NULL;
        char *sql = NULL;
        int r, rc;

        if (asprintf(&sql, "SELECT f.id, u.name FROM folders f JOIN users u"
                     " ON u.id IN (%s) WHERE f.name = ?1 AND f.id <> ?2"
                     " AND " CAT_EFFECTIVE("u.id") " IS NOT NULL LIMIT 1",
                     users_sql) < 0)
                return cat_oom(reterr);
        r = cat_prepare(cat, sql, &stmt, reterr);
        free(sql);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, exclude_id ? exclude_id : "", -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, arg3, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
                r = cat_err(reterr, -EEXIST, "name '%s' is already used by "
                            "folder %s visible to user '%s'", name,
                            sqlite3_column_text(stmt, 0),
                            sqlite3_column_text(stmt, 1));
                goto out;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot check folder names");
                goto out;
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
        r = 0;
        if (!project_id)
                goto out;
        r = cat_prepare(cat, "SELECT f.id, p.name FROM folders f JOIN projects"
                        " p ON p.id = f.owner_id WHERE f.owner_type ="
                        " 'project' AND f.owner_id = ?3 AND f.name = ?1"
                        " AND f.id <> ?2 LIMIT 1", &stmt, reterr);
        if (r < 0)
                goto out;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, exclude_id ? exclude_id : "", -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, project_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
                r = cat_err(reterr, -EEXIST, "name '%s' is already used by "
                            "folder %s of project '%s'", name,
                            sqlite3_column_text(stmt, 0),
                            sqlite3_column_text(stmt, 1));
        else if (rc != SQLITE_DONE)
                r = cat_sql_err(cat, reterr, rc, "cannot check folder names");
out:
        sqlite3_finalize(stmt);
        return r;
}

/* Is the folder shared with anyone who is neither owner nor member? */
static int folder_has_shares(cat_catalog *cat, const char *folder_id,
                             bool *ret, char **reterr)
{
        sqlite3_stmt *stmt;
        int r, rc;

        r = cat_prepare(cat, "SELECT 1 FROM grants g JOIN folders f"
                        " ON f.id = g.folder_id WHERE g.folder_id = ?1 AND NOT"
                        " (f.owner_type = 'project' AND EXISTS (SELECT 1 FROM"
                        " members m WHERE m.project_id = f.owner_id AND"
                        " m.user_id = g.user_id)) LIMIT 1", &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, folder_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
                *ret = rc == SQLITE_ROW;
                r = 0;
        } else {
                r = cat_sql_err(cat, reterr, rc, "cannot read grants");
        }
        sqlite3_finalize(stmt);
        return r;
}

static int is_member(cat_catalog *cat, const char *project_id,
                     const char *user_id, bool *ret, char **reterr)
{
        sqlite3_stmt *stmt;
        int r, rc;

        r = cat_prepare(cat, "SELECT 1 FROM members WHERE project_id = ?"
                        " AND user_id = ?", &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, project_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, user_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
                *ret = rc == SQLITE_ROW;
                r = 0;
        } else {
                r = cat_sql_err(cat, reterr, rc, "cannot read members");
        }
        sqlite3_finalize(stmt);
        return r;
}

/*
 * -EBUSY when a session holds the folder: a running one that mounts it, or
 * one made with `session create` and not started yet that asked for it (it
 * would find the folder gone when it starts).
 */
static int check_not_mounted(cat_catalog *cat, const struct cat_folder *f,
                             char **reterr)
{
        sqlite3_stmt *stmt;
        int r, rc;

        r = cat_prepare(cat, "SELECT s.id, s.pid FROM mounts m JOIN sessions s"
                        " ON s.id = m.session_id WHERE m.folder_id = ?1"
                        " AND s.ended_at IS NULL"
                        " AND m.unmounted_at IS NULL"
                        " ORDER BY s.pid > 0 DESC, s.started_at LIMIT 1",
                        &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, f->id, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW && sqlite3_column_int64(stmt, 1) > 0)
                r = cat_err(reterr, -EBUSY, "folder '%s' is mounted in live "
                            "session %s (use force)", f->name,
                            sqlite3_column_text(stmt, 0));
        else if (rc == SQLITE_ROW)
                r = cat_err(reterr, -EBUSY, "folder '%s' is held by session "
                            "%s, created and not yet started (use force, or "
                            "end the session)", f->name,
                            sqlite3_column_text(stmt, 0));
        else if (rc == SQLITE_DONE)
                r = 0;
        else
                r = cat_sql_err(cat, reterr, rc, "cannot read mounts");
        sqlite3_finalize(stmt);
        return r;
}

static int step_done(cat_catalog *cat, sqlite3_stmt *stmt, const char *what,
                     char **reterr)
{
        int rc = sqlite3_step(stmt);

        if (rc == SQLITE_DONE)
                return 0;
        return cat_sql_err(cat, reterr, rc, what);
}

static int default_host(cat_catalog *cat, char **ret_host, char **reterr)
{
        struct cat_host *hosts = NULL;
        const char *name = NULL;
        size_t n = 0;
        char *h;
        int r;

        r = cat_host_list(cat, &hosts, &n, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (strcmp(hosts[i].name, "local") == 0)
                        name = "local";
        if (!name && n == 1)
                name = hosts[0].name;
        if (!name) {
                cat_host_list_free(hosts, n);
                return cat_err(reterr, -EINVAL, "no host given and no "
                               "default host (none is named 'local' and "
                               "there is not exactly one)");
        }
        h = strdup(name);
        cat_host_list_free(hosts, n);
        if (!h)
                return cat_oom(reterr);
        *ret_host = h;
        return 0;
}

/*
 * Insert the folder and make its backing directory; the caller holds the
 * transaction and commits.  *ret_path receives the backing directory made.
 */
static int folder_insert(cat_catalog *cat, const struct cat_folder_spec *spec,
                         struct cat_folder *ret, char **ret_path,
                         char **reterr)
{
        char owner_id[CAT_UUID_STRLEN], id[CAT_UUID_STRLEN];
        enum cat_owner_type owner_type;
        char *host = NULL, *root = NULL, *path = NULL;
        sqlite3_stmt *stmt = NULL;
        enum cat_perm perm;
        int64_t now = cat_now();
        int r;

        owner_type = spec->user ? CAT_OWNER_USER : CAT_OWNER_PROJECT;
        if (spec->user)
                r = cat_user_lookup(cat, spec->user, owner_id, NULL, reterr);
        else
                r = cat_project_lookup(cat, spec->project, owner_id, NULL,
                                       reterr);
        if (r < 0)
                return r;
        if (spec->host)
                host = strdup(spec->host);
        else
                r = default_host(cat, &host, reterr);
        if (r < 0)
                return r;
        if (!host)
                return cat_oom(reterr);
        r = cat_host_root(cat, host, &root, reterr);
        if (r < 0)
                goto out;

        if (owner_type == CAT_OWNER_USER)
                r = check_clash(cat, spec->name, NULL, "SELECT ?3", owner_id,
                                NULL, reterr);
        else
                r = check_clash(cat, spec->name, NULL, "SELECT user_id FROM"
                                " members WHERE project_id = ?3", owner_id,
                                owner_id, reterr);
        if (r < 0)
                goto out;

        cat_uuid_new(id);
        perm = spec->permission == CAT_PERM_NONE ? CAT_PERM_WD
                                                 : spec->permission;
        r = cat_prepare(cat, "INSERT INTO folders (id, name, owner_type,"
                        " owner_id, host, usage_mode, permission, cloneable,"
                        " quota_bytes, status, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ready', ?, ?)",
                        &stmt, reterr);
        if (r < 0)
                goto out;
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, spec->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, cat_owner_type_to_string(owner_type), -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(stmt, 4, owner_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 5, host, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 6, cat_usage_mode_to_string(spec->usage_mode),
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 7, cat_perm_to_string(perm), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int(stmt, 8, spec->cloneable);
        sqlite3_bind_int64(stmt, 9, spec->quota_bytes);
        sqlite3_bind_int64(stmt, 10, now);
        sqlite3_bind_int64(stmt, 11, now);
        r = step_done(cat, stmt, "cannot record folder", reterr);
        if (r < 0)
                goto out;

        r = cat_backing_path(root, owner_type, owner_id, id, &path);
        if (r < 0) {
                r = cat_err(reterr, r, "no backing path for folder %s", id);
                goto out;
        }
        r = cat_backing_mkdir(root, path);
        if (r < 0) {
                r = cat_err(reterr, r, "cannot create '%s': %s", path,
                            strerror(-r));
                goto out;
        }
        r = cat_folder_resolve_id(cat, id, NULL, ret, reterr);
        if (r < 0) {
                rmdir(path);
                goto out;
        }
        *ret_path = path;
        path = NULL;
out:
        sqlite3_finalize(stmt);
        free(path);
        free(root);
        free(host);
        return r;
}

static int check_spec(const struct cat_folder_spec *spec, char **reterr)
{
        int r;

        if (!spec)
                return cat_err(reterr, -EINVAL, "no folder given");
        r = cat_name_check(spec->name, reterr);
        if (r < 0)
                return r;
        if (!!spec->user == !!spec->project)
                return cat_err(reterr, -EINVAL, "a folder is owned by exactly "
                               "one user or one project");
        if ((unsigned)spec->usage_mode > CAT_USAGE_DATA)
                return cat_err(reterr, -EINVAL, "bad usage mode");
        if ((unsigned)spec->permission > CAT_PERM_WD)
                return cat_err(reterr, -EINVAL, "bad permission");
        if (spec->quota_bytes < 0)
                return cat_err(reterr, -EINVAL, "negative quota");
        return 0;
}

int cat_folder_create(cat_catalog *cat, const struct cat_folder_spec *spec,
                      struct cat_folder **ret_folder, char **reterr)
{
        struct cat_folder *f;
        char *path = NULL;
        int r;

        r = check_spec(spec, reterr);
        if (r < 0)
                return r;
        f = calloc(1, sizeof(*f));
        if (!f)
                return cat_oom(reterr);
        r = cat_begin(cat, reterr);
        if (r < 0)
                goto fail_free;
        r = folder_insert(cat, spec, f, &path, reterr);
        if (r < 0)
                goto fail;
        r = cat_commit(cat, reterr);
        if (r < 0) {
                rmdir(path);
                goto fail_free;
        }
        free(path);
        if (ret_folder)
                *ret_folder = f;
        else
                cat_folder_free(f);
        return 0;
fail:
        cat_rollback(cat);
fail_free:
        free(path);
        cat_folder_free(f);
        return r;
}

/* Start a write transaction and resolve ref among all folders. */
static int begin_with_folder(cat_catalog *cat, const char *ref,
                             struct cat_folder *f, char **reterr)
{
        int r = cat_begin(cat, reterr);

        if (r < 0)
                return r;
        r = cat_folder_resolve_id(cat, ref, NULL, f, reterr);
        if (r < 0)
                cat_rollback(cat);
        return r;
}

int cat_folder_rename(cat_catalog *cat, const char *ref, const char *new_name,
                      char **reterr)
{
        struct cat_folder f = { 0 };
        sqlite3_stmt *stmt = NULL;
        bool shared = false;
        int r;

        r = cat_name_check(new_name, reterr);
        if (r < 0)
                return r;
        r = begin_with_folder(cat, ref, &f, reterr);
        if (r < 0)
                return r;
        if (strcmp(f.name, new_name) == 0)
                goto commit;
        if (cat_name_is_automount(new_name)) {
                r = folder_has_shares(cat, f.id, &shared, reterr);
                if (r < 0)
                        goto fail;
                if (shared) {
                        r = cat_err(reterr, -EINVAL, "folder '%s' is shared "
                                    "and automount folders cannot be shared",
                                    f.name);
                        goto fail;
                }
        }
        r = check_clash(cat, new_name, f.id, CAT_ACCESSORS("?3"), f.id,
                        f.owner_type == CAT_OWNER_PROJECT ? f.owner_id : NULL,
                        reterr);
        if (r < 0)
                goto fail;
        r = cat_prepare(cat, "UPDATE folders SET name = ?, updated_at = ?"
                        " WHERE id = ?", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, new_name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, cat_now());
        sqlite3_bind_text(stmt, 3, f.id, -1, SQLITE_STATIC);
        r = step_done(cat, stmt, "cannot rename folder", reterr);
        if (r < 0)
                goto fail;
commit:
        r = cat_commit(cat, reterr);
        goto out;
fail:
        cat_rollback(cat);
out:
        sqlite3_finalize(stmt);
        cat_folder_release(&f);
        return r;
}

int cat_folder_set(cat_catalog *cat, const char *ref,
                   const struct cat_folder_update *update, char **reterr)
{
        struct cat_folder f = { 0 };
        sqlite3_stmt *stmt = NULL;
        enum cat_perm perm;
        int64_t quota;
        bool cloneable;
        int r;

        if (!update)
                return cat_err(reterr, -EINVAL, "nothing to change");
        if (update->set_permission &&
            (update->permission < CAT_PERM_RO ||
             update->permission > CAT_PERM_WD))
                return cat_err(reterr, -EINVAL, "bad permission");
        if (update->set_quota && update->quota_bytes < 0)
                return cat_err(reterr, -EINVAL, "negative quota");
        r = begin_with_folder(cat, ref, &f, reterr);
        if (r < 0)
                return r;
        perm = update->set_permission ? update->permission : f.permission;
        quota = update->set_quota ? update->quota_bytes : f.quota_bytes;
        cloneable = update->set_cloneable ? update->cloneable : f.cloneable;
        r = cat_prepare(cat, "UPDATE folders SET permission = ?,"
                        " quota_bytes = ?, cloneable = ?, updated_at = ?"
                        " WHERE id = ?", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, cat_perm_to_string(perm), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, quota);
        sqlite3_bind_int(stmt, 3, cloneable);
        sqlite3_bind_int64(stmt, 4, cat_now());
        sqlite3_bind_text(stmt, 5, f.id, -1, SQLITE_STATIC);
        r = step_done(cat, stmt, "cannot change folder", reterr);
        if (r < 0)
                goto fail;
        r = cat_commit(cat, reterr);
        /*
         * A folder without a quota has no maintained counter: drop it when
         * the quota goes or comes, so the next user counts afresh.
         */
        if (r == 0 && quota != f.quota_bytes &&
            (quota == 0 || f.quota_bytes == 0)) {
                char *path = NULL;

                if (cat_folder_backing_path(cat, &f, &path, NULL) == 0)
                        (void)cat_usage_remove(path, f.id);
                free(path);
        }
        goto out;
fail:
        cat_rollback(cat);
out:
        sqlite3_finalize(stmt);
        cat_folder_release(&f);
        return r;
}

static int set_status(cat_catalog *cat, const char *ref, enum cat_status from,
                      enum cat_status to, bool check_mounts, bool force,
                      char **reterr)
{
        struct cat_folder f = { 0 };
        sqlite3_stmt *stmt = NULL;
        int r;

        r = begin_with_folder(cat, ref, &f, reterr);
        if (r < 0)
                return r;
        if (f.status != from) {
                r = cat_err(reterr, -EINVAL, "folder '%s' is %s",
                            f.name, f.status == CAT_STATUS_TRASH
                                            ? "already in the trash"
                                            : "not in the trash");
                goto fail;
        }
        if (check_mounts && !force) {
                r = check_not_mounted(cat, &f, reterr);
                if (r < 0)
                        goto fail;
        }
        r = cat_prepare(cat, "UPDATE folders SET status = ?, updated_at = ?"
                        " WHERE id = ?", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, cat_status_to_string(to), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, cat_now());
        sqlite3_bind_text(stmt, 3, f.id, -1, SQLITE_STATIC);
        r = step_done(cat, stmt, "cannot change folder", reterr);
        if (r < 0)
                goto fail;
        r = cat_commit(cat, reterr);
        goto out;
fail:
        cat_rollback(cat);
out:
        sqlite3_finalize(stmt);
        cat_folder_release(&f);
        return r;
}

int cat_folder_delete(cat_catalog *cat, const char *ref, bool force,
                      char **reterr)
{
        return set_status(cat, ref, CAT_STATUS_READY, CAT_STATUS_TRASH, true,
                          force, reterr);
}

int cat_folder_restore(cat_catalog *cat, const char *ref, char **reterr)
{
        return set_status(cat, ref, CAT_STATUS_TRASH, CAT_STATUS_READY, false,
                          false, reterr);
}

/*
 * The row goes first, in a committed transaction, and the data after: a
 * crash in between leaves a directory that no folder owns, which
 * cat_fsck() reports as an orphan, instead of a folder whose data is half
 * gone without anyone being told.
 */
static int folder_remove(cat_catalog *cat, const struct cat_folder *f,
                         const char *path, char **reterr)
{
        sqlite3_stmt *stmt = NULL;
        int r;

        r = cat_prepare(cat, "DELETE FROM folders WHERE id = ?", &stmt,
                        reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, f->id, -1, SQLITE_STATIC);
        r = step_done(cat, stmt, "cannot remove folder", reterr);
        sqlite3_finalize(stmt);
        if (r < 0)
                return r;
        r = cat_commit(cat, reterr);
        if (r < 0)
                return r;
        r = cat_tree_remove(path);
        if (r < 0 && r != -ENOENT)
                return cat_err(reterr, r, "folder '%s' is gone from the "
                               "catalog, but its data at '%s' could not be "
                               "removed: %s", f->name, path, strerror(-r));
        return 0;
}

int cat_folder_purge(cat_catalog *cat, const char *ref, bool force,
                     char **reterr)
{
        struct cat_folder f = { 0 };
        char *path = NULL;
        int r;

        r = begin_with_folder(cat, ref, &f, reterr);
        if (r < 0)
                return r;
        if (f.status != CAT_STATUS_TRASH) {
                r = cat_err(reterr, -EINVAL, "folder '%s' is not in the "
                            "trash", f.name);
                goto fail;
        }
        if (!force) {
                r = check_not_mounted(cat, &f, reterr);
                if (r < 0)
                        goto fail;
        }
        r = cat_folder_backing_path(cat, &f, &path, reterr);
        if (r < 0)
                goto fail;
        /* folder_remove commits. */
        r = folder_remove(cat, &f, path, reterr);
        cat_rollback(cat);
        if (r == 0)
                (void)cat_usage_remove(path, f.id);
        goto out;
fail:
        cat_rollback(cat);
out:
        free(path);
        cat_folder_release(&f);
        return r;
}

int cat_folder_clone(cat_catalog *cat, const char *ref, const char *new_name,
                     const char *user, struct cat_folder **ret_folder,
                     char **reterr)
{
        char uid[CAT_UUID_STRLEN];
        struct cat_folder src = { 0 }, *dst = NULL;
        struct cat_folder_spec spec = { 0 };
        char *src_path = NULL, *dst_path = NULL;
        int r;

        r = cat_name_check(new_name, reterr);
        if (r < 0)
                return r;
        r = cat_user_lookup(cat, user, uid, NULL, reterr);
        if (r < 0)
                return r;
        r = cat_folder_resolve_id(cat, ref, uid, &src, reterr);
        if (r < 0)
                return r;
        if (!src.cloneable && !(src.owner_type == CAT_OWNER_USER &&
                                strcmp(src.owner_id, uid) == 0)) {
                r = cat_err(reterr, -EPERM, "folder '%s' is not cloneable",
                            src.name);
                goto out;
        }
        r = cat_folder_backing_path(cat, &src, &src_path, reterr);
        if (r < 0)
                goto out;

        spec.name = new_name;
        spec.user = uid;
        spec.host = src.host;
        spec.usage_mode = src.usage_mode;
        spec.permission = src.permission;
        dst = calloc(1, sizeof(*dst));
        if (!dst) {
                r = cat_oom(reterr);
                goto out;
        }
        r = cat_begin(cat, reterr);
        if (r < 0)
                goto out;
        r = folder_insert(cat, &spec, dst, &dst_path, reterr);
        if (r < 0) {
                cat_rollback(cat);
                goto out;
        }
        r = cat_commit(cat, reterr);
        if (r < 0) {
                rmdir(dst_path);
                goto out;
        }

        /* Copying may take long: it runs outside any transaction. */
        /* the copies are the cloner's: theirs to remove, also where rw */
        r = cat_tree_copy(src_path, dst_path, uid);
        if (r < 0) {
                int r2;

                r = cat_err(reterr, r, "cannot copy folder '%s': %s",
                            src.name, strerror(-r));
                r2 = cat_begin(cat, NULL);
                if (r2 == 0 && folder_remove(cat, dst, dst_path, NULL) < 0)
                        cat_rollback(cat);
                goto out;
        }
        if (ret_folder) {
                *ret_folder = dst;
                dst = NULL;
        }
out:
        cat_folder_free(dst);
        free(src_path);
        free(dst_path);
        cat_folder_release(&src);
        return r;
}

int cat_folder_share(cat_catalog *cat, const char *ref, const char *user,
                     enum cat_perm perm, char **reterr)
{
        char uid[CAT_UUID_STRLEN];
        struct cat_folder f = { 0 };
        sqlite3_stmt *stmt = NULL;
        char *uname = NULL;
        int r;

        if (perm < CAT_PERM_RO || perm > CAT_PERM_WD)
                return cat_err(reterr, -EINVAL, "bad permission");
        r = begin_with_folder(cat, ref, &f, reterr);
        if (r < 0)
                return r;
        r = cat_user_lookup(cat, user, uid, &uname, reterr);
        if (r < 0)
                goto fail;
        /* A member's per-user permission is not a share. */
        if (cat_name_is_automount(f.name)) {
                bool member = false;

                if (f.owner_type == CAT_OWNER_PROJECT) {
                        r = is_member(cat, f.owner_id, uid, &member, reterr);
                        if (r < 0)
                                goto fail;
                }
                if (!member) {
                        r = cat_err(reterr, -EINVAL, "automount folder '%s' "
                                    "cannot be shared", f.name);
                        goto fail;
                }
        }
        if (f.owner_type == CAT_OWNER_USER && strcmp(f.owner_id, uid) == 0) {
                r = cat_err(reterr, -EINVAL, "user '%s' owns folder '%s'",
                            uname, f.name);
                goto fail;
        }
        r = check_clash(cat, f.name, f.id, "SELECT ?3", uid, NULL, reterr);
        if (r < 0)
                goto fail;
        r = cat_prepare(cat, "INSERT OR REPLACE INTO grants (folder_id,"
                        " user_id, permission) VALUES (?, ?, ?)", &stmt,
                        reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, f.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, cat_perm_to_string(perm), -1,
                          SQLITE_STATIC);
        r = step_done(cat, stmt, "cannot share folder", reterr);
        if (r < 0)
                goto fail;
        r = cat_commit(cat, reterr);
        goto out;
fail:
        cat_rollback(cat);
out:
        sqlite3_finalize(stmt);
        free(uname);
        cat_folder_release(&f);
        return r;
}

int cat_folder_unshare(cat_catalog *cat, const char *ref, const char *user,
                       char **reterr)
{
        char uid[CAT_UUID_STRLEN];
        struct cat_folder f = { 0 };
        sqlite3_stmt *stmt = NULL;
        char *uname = NULL;
        int r;

        r = begin_with_folder(cat, ref, &f, reterr);
        if (r < 0)
                return r;
        r = cat_user_lookup(cat, user, uid, &uname, reterr);
        if (r < 0)
                goto fail;
        r = cat_prepare(cat, "DELETE FROM grants WHERE folder_id = ?"
                        " AND user_id = ?", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, f.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
        r = step_done(cat, stmt, "cannot unshare folder", reterr);
        if (r < 0)
                goto fail;
        if (sqlite3_changes(cat->db) == 0) {
                r = cat_err(reterr, -ENOENT, "folder '%s' is not shared with "
                            "user '%s'", f.name, uname);
                goto fail;
        }
        r = cat_commit(cat, reterr);
        goto out;
fail:
        cat_rollback(cat);
out:
        sqlite3_finalize(stmt);
        free(uname);
        cat_folder_release(&f);
        return r;
}

int cat_folder_usage(cat_catalog *cat, const char *ref, int64_t *ret_bytes,
                     int64_t *ret_files, char **reterr)
{
        struct cat_folder f = { 0 };
        int64_t bytes, files;
        char *path = NULL;
        int r;

        r = cat_folder_resolve_id(cat, ref, NULL, &f, reterr);
        if (r < 0)
                return r;
        r = cat_folder_backing_path(cat, &f, &path, reterr);
        if (r < 0)
                goto out;
        r = cat_tree_usage(path, &bytes, &files);
        if (r < 0) {
                r = cat_err(reterr, r, "cannot measure '%s': %s", path,
                            strerror(-r));
                goto out;
        }
        if (ret_bytes)
                *ret_bytes = bytes;
        if (ret_files)
                *ret_files = files;
out:
        free(path);
        cat_folder_release(&f);
        return r;
}
