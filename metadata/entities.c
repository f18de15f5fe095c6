/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * entities.c - storage hosts, users and projects (with their members): the
 * records that folders and sessions refer to.  Adding a project member also
 * checks that the project's folder names do not clash with names the new
 * member already sees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog-private.h"

int cat_host_root(cat_catalog *cat, const char *name, char **ret_root,
                  char **reterr)
{
        sqlite3_stmt *stmt;
        char *root;
        int r, rc;

        r = cat_prepare(cat, "SELECT root FROM hosts WHERE name = ?", &stmt,
                        reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
                root = cat_column_strdup(stmt, 0);
                r = root ? 0 : cat_oom(reterr);
                if (root)
                        *ret_root = root;
        } else if (rc == SQLITE_DONE) {
                r = cat_err(reterr, -ENOENT, "no host '%s'", name);
        } else {
                r = cat_sql_err(cat, reterr, rc, "cannot read hosts");
        }
        sqlite3_finalize(stmt);
        return r;
}

int cat_host_add(cat_catalog *cat, const char *name, const char *root,
                 char **reterr)
{
        sqlite3_stmt *stmt = NULL;
        struct stat st;
        int r, rc;

        r = cat_entity_name_check(name, reterr);
        if (r < 0)
                return r;
        if (!root || root[0] != '/')
                return cat_err(reterr, -EINVAL, "root '%s' of host '%s' is "
                               "not an absolute path", root ? root : "", name);
        if (stat(root, &st) < 0)
                return cat_err(reterr, -errno, "root '%s' of host '%s': %s",
                               root, name, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return cat_err(reterr, -ENOTDIR, "root '%s' of host '%s' is "
                               "not a directory", root, name);

        r = cat_begin(cat, reterr);
        if (r < 0)
                return r;
        r = cat_prepare(cat, "INSERT INTO hosts (name, root) VALUES (?, ?)",
                        &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, root, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
                r = cat_err(reterr, -EEXIST, "host '%s' already exists", name);
                goto fail;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot add host");
                goto fail;
        }
        sqlite3_finalize(stmt);
        return cat_commit(cat, reterr);
fail:
        sqlite3_finalize(stmt);
        cat_rollback(cat);
        return r;
}

static int host_from_row(sqlite3_stmt *stmt, struct cat_host *h)
{
        h->name = cat_column_strdup(stmt, 0);
        h->root = cat_column_strdup(stmt, 1);
        if (!h->name || !h->root) {
                free(h->name);
                free(h->root);
                return -ENOMEM;
        }
        return 0;
}

int cat_host_get(cat_catalog *cat, const char *name, struct cat_host **ret_host,
                 char **reterr)
{
        sqlite3_stmt *stmt;
        struct cat_host *h;
        int r, rc;

        h = calloc(1, sizeof(*h));
        if (!h)
                return cat_oom(reterr);
        r = cat_prepare(cat, "SELECT name, root FROM hosts WHERE name = ?",
                        &stmt, reterr);
        if (r < 0) {
                free(h);
                return r;
        }
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
                r = host_from_row(stmt, h) < 0 ? cat_oom(reterr) : 0;
        else if (rc == SQLITE_DONE)
                r = cat_err(reterr, -ENOENT, "no host '%s'", name);
        else
                r = cat_sql_err(cat, reterr, rc, "cannot read hosts");
        sqlite3_finalize(stmt);
        if (r < 0) {
                free(h);
                return r;
        }
        *ret_host = h;
        return 0;
}

void cat_host_free(struct cat_host *host)
{
        if (!host)
                return;
        free(host->name);
        free(host->root);
        free(host);
}

void cat_host_list_free(struct cat_host *hosts, size_t n)
{
        if (!hosts)
                return;
        for (size_t i = 0; i < n; i++) {
                free(hosts[i].name);
                free(hosts[i].root);
        }
        free(hosts);
}

/* cat_collect_rows() callbacks. */
static int host_row(sqlite3_stmt *stmt, void *ret_elem)
{
        return host_from_row(stmt, ret_elem);
}

static void hosts_free(void *elems, size_t n)
{
        cat_host_list_free(elems, n);
}

int cat_host_list(cat_catalog *cat, struct cat_host **ret_hosts, size_t *ret_n,
                  char **reterr)
{
        sqlite3_stmt *stmt;
        void *v;
        int r;

        r = cat_prepare(cat, "SELECT name, root FROM hosts ORDER BY name",
                        &stmt, reterr);
        if (r < 0)
                return r;
        r = cat_collect_rows(cat, stmt, sizeof(struct cat_host), host_row,
                             hosts_free, "cannot read hosts", &v, ret_n,
                             reterr);
        if (r == 0)
                *ret_hosts = v;
        return r;
}

/* ---------------------------------------------------------------------------
 * Users and projects share the lookup by UUID or name.
 */
static int entity_lookup(cat_catalog *cat, const char *table, const char *what,
                         const char *ref, char ret_id[CAT_UUID_STRLEN],
                         char **ret_name, char **reterr)
{
        sqlite3_stmt *stmt;
        char sql[128];
        int r, rc;

        if (!ref || !*ref)
                return cat_err(reterr, -EINVAL, "no %s given", what);
        snprintf(sql, sizeof(sql), "SELECT id, name FROM %s WHERE id = ?1 "
                 "OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1", table);
        r = cat_prepare(cat, sql, &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, ref, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
                char *name = ret_name ? cat_column_strdup(stmt, 1) : NULL;

                if (ret_name && !name) {
                        r = cat_oom(reterr);
                } else {
                        r = 0;
                        if (ret_name)
                                *ret_name = name;
                        cat_copy_id(ret_id, stmt, 0);
                }
        } else if (rc == SQLITE_DONE) {
                r = cat_err(reterr, -ENOENT, "no %s '%s'", what, ref);
        } else {
                r = cat_sql_err(cat, reterr, rc, "cannot read the catalog");
        }
        sqlite3_finalize(stmt);
        return r;
}

int cat_user_lookup(cat_catalog *cat, const char *ref,
                    char ret_id[CAT_UUID_STRLEN], char **ret_name,
                    char **reterr)
{
        return entity_lookup(cat, "users", "user", ref, ret_id, ret_name,
                             reterr);
}

int cat_project_lookup(cat_catalog *cat, const char *ref,
                       char ret_id[CAT_UUID_STRLEN], char **ret_name,
                       char **reterr)
{
        return entity_lookup(cat, "projects", "project", ref, ret_id,
                             ret_name, reterr);
}

static int user_from_row(sqlite3_stmt *stmt, struct cat_user *u)
{
        cat_copy_id(u->id, stmt, 0);
        u->name = cat_column_strdup(stmt, 1);
        u->uid = (uid_t)sqlite3_column_int64(stmt, 2);
        u->gid = (gid_t)sqlite3_column_int64(stmt, 3);
        return u->name ? 0 : -ENOMEM;
}

int cat_user_get(cat_catalog *cat, const char *ref, struct cat_user **ret_user,
                 char **reterr)
{
        sqlite3_stmt *stmt;
        struct cat_user *u;
        int r, rc;

        u = calloc(1, sizeof(*u));
        if (!u)
                return cat_oom(reterr);
        r = cat_prepare(cat, "SELECT id, name, uid, gid FROM users"
                        " WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC"
                        " LIMIT 1", &stmt, reterr);
        if (r < 0) {
                free(u);
                return r;
        }
        sqlite3_bind_text(stmt, 1, ref ? ref : "", -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW)
                r = user_from_row(stmt, u) < 0 ? cat_oom(reterr) : 0;
        else if (rc == SQLITE_DONE)
                r = cat_err(reterr, -ENOENT, "no user '%s'", ref ? ref : "");
        else
                r = cat_sql_err(cat, reterr, rc, "cannot read users");
        sqlite3_finalize(stmt);
        if (r < 0) {
                free(u);
                return r;
        }
        *ret_user = u;
        return 0;
}

int cat_user_add(cat_catalog *cat, const char *name, uid_t uid, gid_t gid,
                 struct cat_user **ret_user, char **reterr)
{
        sqlite3_stmt *stmt = NULL;
        char id[CAT_UUID_STRLEN];
        struct cat_user *u = NULL;
        int r, rc;

        r = cat_entity_name_check(name, reterr);
        if (r < 0)
                return r;
        if (uid == (uid_t)-1)
                uid = 1000;
        if (gid == (gid_t)-1)
                gid = 1000;
        if (ret_user) {
                u = calloc(1, sizeof(*u));
                if (!u || !(u->name = strdup(name))) {
                        free(u);
                        return cat_oom(reterr);
                }
        }
        cat_uuid_new(id);

        r = cat_begin(cat, reterr);
        if (r < 0)
                goto fail_free;
        r = cat_prepare(cat, "INSERT INTO users (id, name, uid, gid)"
                        " VALUES (?, ?, ?, ?)", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, uid);
        sqlite3_bind_int64(stmt, 4, gid);
        rc = sqlite3_step(stmt);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
                r = cat_err(reterr, -EEXIST, "user '%s' already exists", name);
                goto fail;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot add user");
                goto fail;
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
        r = cat_commit(cat, reterr);
        if (r < 0)
                goto fail_free;
        if (u) {
                memcpy(u->id, id, sizeof(id));
                u->uid = uid;
                u->gid = gid;
                *ret_user = u;
        }
        return 0;
fail:
        sqlite3_finalize(stmt);
        cat_rollback(cat);
fail_free:
        cat_user_free(u);
        return r;
}

void cat_user_free(struct cat_user *user)
{
        if (!user)
                return;
        free(user->name);
        free(user);
}

void cat_user_list_free(struct cat_user *users, size_t n)
{
        if (!users)
                return;
        for (size_t i = 0; i < n; i++)
                free(users[i].name);
        free(users);
}

/* cat_collect_rows() callbacks. */
static int user_row(sqlite3_stmt *stmt, void *ret_elem)
{
        return user_from_row(stmt, ret_elem);
}

static void users_free(void *elems, size_t n)
{
        cat_user_list_free(elems, n);
}

int cat_user_list(cat_catalog *cat, struct cat_user **ret_users, size_t *ret_n,
                  char **reterr)
{
        sqlite3_stmt *stmt;
        void *v;
        int r;

        r = cat_prepare(cat, "SELECT id, name, uid, gid FROM users"
                        " ORDER BY name", &stmt, reterr);
        if (r < 0)
                return r;
        r = cat_collect_rows(cat, stmt, sizeof(struct cat_user), user_row,
                             users_free, "cannot read users", &v, ret_n,
                             reterr);
        if (r == 0)
                *ret_users = v;
        return r;
}

int cat_project_add(cat_catalog *cat, const char *name,
                    struct cat_project **ret_project, char **reterr)
{
        sqlite3_stmt *stmt = NULL;
        char id[CAT_UUID_STRLEN];
        struct cat_project *p = NULL;
        int r, rc;

        r = cat_entity_name_check(name, reterr);
        if (r < 0)
                return r;
        if (ret_project) {
                p = calloc(1, sizeof(*p));
                if (!p || !(p->name = strdup(name)) ||
                    !(p->members = calloc(1, sizeof(char *)))) {
                        cat_project_free(p);
                        return cat_oom(reterr);
                }
        }
        cat_uuid_new(id);
        r = cat_begin(cat, reterr);
        if (r < 0)
                goto fail_free;
        r = cat_prepare(cat, "INSERT INTO projects (id, name) VALUES (?, ?)",
                        &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
                r = cat_err(reterr, -EEXIST, "project '%s' already exists",
                            name);
                goto fail;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot add project");
                goto fail;
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
        r = cat_commit(cat, reterr);
        if (r < 0)
                goto fail_free;
        if (p) {
                memcpy(p->id, id, sizeof(id));
                *ret_project = p;
        }
        return 0;
fail:
        sqlite3_finalize(stmt);
        cat_rollback(cat);
fail_free:
        cat_project_free(p);
        return r;
}

static int project_members(cat_catalog *cat, struct cat_project *p,
                           char **reterr)
{
        sqlite3_stmt *stmt;
        char **v = NULL;
        size_t n = 0;
        int r, rc;

        r = cat_prepare(cat, "SELECT u.name FROM members m JOIN users u"
                        " ON u.id = m.user_id WHERE m.project_id = ?"
                        " ORDER BY u.name", &stmt, reterr);
        if (r < 0)
                return r;
        sqlite3_bind_text(stmt, 1, p->id, -1, SQLITE_STATIC);
        v = calloc(1, sizeof(*v));
        if (!v)
                goto oom;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                char **nv = realloc(v, (n + 2) * sizeof(*v));

                if (!nv)
                        goto oom;
                v = nv;
                v[n] = cat_column_strdup(stmt, 0);
                if (!v[n])
                        goto oom;
                v[++n] = NULL;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot read members");
                goto fail;
        }
        sqlite3_finalize(stmt);
        p->members = v;
        return 0;
oom:
        r = cat_oom(reterr);
fail:
        sqlite3_finalize(stmt);
        if (v)
                for (size_t i = 0; i < n; i++)
                        free(v[i]);
        free(v);
        return r;
}

int cat_project_get(cat_catalog *cat, const char *ref,
                    struct cat_project **ret_project, char **reterr)
{
        struct cat_project *p;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return cat_oom(reterr);
        r = cat_project_lookup(cat, ref, p->id, &p->name, reterr);
        if (r < 0)
                goto fail;
        r = project_members(cat, p, reterr);
        if (r < 0)
                goto fail;
        *ret_project = p;
        return 0;
fail:
        cat_project_free(p);
        return r;
}

static void project_release(struct cat_project *p)
{
        free(p->name);
        if (p->members)
                for (char **m = p->members; *m; m++)
                        free(*m);
        free(p->members);
}

void cat_project_free(struct cat_project *project)
{
        if (!project)
                return;
        project_release(project);
        free(project);
}

void cat_project_list_free(struct cat_project *projects, size_t n)
{
        if (!projects)
                return;
        for (size_t i = 0; i < n; i++)
                project_release(&projects[i]);
        free(projects);
}

int cat_project_list(cat_catalog *cat, struct cat_project **ret_projects,
                     size_t *ret_n, char **reterr)
{
        sqlite3_stmt *stmt;
        struct cat_project *v = NULL;
        size_t n = 0;
        int r, rc;

        r = cat_prepare(cat, "SELECT id, name FROM projects ORDER BY name",
                        &stmt, reterr);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                struct cat_project *nv = realloc(v, (n + 1) * sizeof(*v));

                if (!nv)
                        goto oom;
                v = nv;
                memset(&v[n], 0, sizeof(v[n]));
                cat_copy_id(v[n].id, stmt, 0);
                v[n].name = cat_column_strdup(stmt, 1);
                n++;
                if (!v[n - 1].name)
                        goto oom;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot read projects");
                goto fail;
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
        for (size_t i = 0; i < n; i++) {
                r = project_members(cat, &v[i], reterr);
                if (r < 0)
                        goto fail;
        }
        *ret_projects = v;
        *ret_n = n;
        return 0;
oom:
        r = cat_oom(reterr);
fail:
        sqlite3_finalize(stmt);
        cat_project_list_free(v, n);
        return r;
}

int cat_project_member_add(cat_catalog *cat, const char *project,
                           const char *user, char **reterr)
{
        char pid[CAT_UUID_STRLEN], uid[CAT_UUID_STRLEN];
        char *pname = NULL, *uname = NULL;
        sqlite3_stmt *stmt = NULL;
        int r, rc;

        r = cat_begin(cat, reterr);
        if (r < 0)
                return r;
        r = cat_project_lookup(cat, project, pid, &pname, reterr);
        if (r < 0)
                goto fail;
        r = cat_user_lookup(cat, user, uid, &uname, reterr);
        if (r < 0)
                goto fail;

        /* A project folder named like a folder the user already sees. */
        r = cat_prepare(cat, "SELECT pf.name, pf.id, f.id FROM folders pf"
                        " JOIN folders f ON f.name = pf.name AND f.id <> pf.id"
                        " WHERE pf.owner_type = 'project' AND pf.owner_id = ?1"
                        "  AND f.id IN (" CAT_VISIBLE_IDS("?2") ") LIMIT 1",
                        &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, pid, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
                r = cat_err(reterr, -EEXIST, "name '%s' of project folder %s "
                            "is already used by folder %s visible to user "
                            "'%s'", sqlite3_column_text(stmt, 0),
                            sqlite3_column_text(stmt, 1),
                            sqlite3_column_text(stmt, 2), uname);
                goto fail;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot check folder names");
                goto fail;
        }
        sqlite3_finalize(stmt);

        r = cat_prepare(cat, "INSERT INTO members (project_id, user_id)"
                        " VALUES (?, ?)", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, pid, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
                r = cat_err(reterr, -EEXIST, "user '%s' already is a member "
                            "of project '%s'", uname, pname);
                goto fail;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot add member");
                goto fail;
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
        r = cat_commit(cat, reterr);
        goto out;
fail:
        sqlite3_finalize(stmt);
        cat_rollback(cat);
out:
        free(pname);
        free(uname);
        return r;
}

/*
 * A per-user grant on a project folder held by a member is part of the
 * membership: it goes with it, so a removed member loses access.
 */
int cat_project_member_remove(cat_catalog *cat, const char *project,
                              const char *user, char **reterr)
{
        char pid[CAT_UUID_STRLEN], uid[CAT_UUID_STRLEN];
        char *pname = NULL, *uname = NULL;
        sqlite3_stmt *stmt = NULL;
        int r, rc;

        r = cat_begin(cat, reterr);
        if (r < 0)
                return r;
        r = cat_project_lookup(cat, project, pid, &pname, reterr);
        if (r < 0)
                goto fail;
        r = cat_user_lookup(cat, user, uid, &uname, reterr);
        if (r < 0)
                goto fail;
        r = cat_prepare(cat, "DELETE FROM members WHERE project_id = ?"
                        " AND user_id = ?", &stmt, reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, pid, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot remove member");
                goto fail;
        }
        if (sqlite3_changes(cat->db) == 0) {
                r = cat_err(reterr, -ENOENT, "user '%s' is not a member of "
                            "project '%s'", uname, pname);
                goto fail;
        }
        sqlite3_finalize(stmt);
        r = cat_prepare(cat, "DELETE FROM grants WHERE user_id = ?2 AND"
                        " folder_id IN (SELECT id FROM folders WHERE"
                        " owner_type = 'project' AND owner_id = ?1)", &stmt,
                        reterr);
        if (r < 0)
                goto fail;
        sqlite3_bind_text(stmt, 1, pid, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, uid, -1, SQLITE_STATIC);
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, "cannot remove member");
                goto fail;
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
        r = cat_commit(cat, reterr);
        goto out;
fail:
        sqlite3_finalize(stmt);
        cat_rollback(cat);
out:
        free(pname);
        free(uname);
        return r;
}
