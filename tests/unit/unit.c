/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unit.c - the fixture and shortcuts declared in unit.h, shared by every
 * unit test executable of the catalog library.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog-private.h"
#include "unit.h"

char *fx_path(struct fx *fx, const char *rel)
{
        char *p;

        assert_true(asprintf(&p, "%s/%s", fx->dir, rel) > 0);
        return p;
}

static int setup(void **state, bool with_host)
{
        struct fx *fx = calloc(1, sizeof(*fx));
        char *err = NULL;
        int r;

        assert_non_null(fx);
        snprintf(fx->dir, sizeof(fx->dir), "/tmp/vf-unit-XXXXXX");
        assert_non_null(mkdtemp(fx->dir));
        fx->db = fx_path(fx, "catalog.db");
        fx->root = fx_path(fx, "storage");
        fx->scratch = fx_path(fx, "scratch");
        assert_int_equal(mkdir(fx->root, 0755), 0);
        r = cat_open(fx->db, CAT_OPEN_CREATE, &fx->cat, &err);
        if (r < 0)
                fail_msg("cat_open: %d %s", r, err ? err : "");
        if (with_host)
                assert_ok(cat_host_add(fx->cat, "local", fx->root, reterr));
        *state = fx;
        return 0;
}

int fx_setup(void **state)
{
        return setup(state, true);
}

int fx_setup_bare(void **state)
{
        return setup(state, false);
}

int fx_teardown(void **state)
{
        struct fx *fx = *state;

        if (!fx)
                return 0;
        cat_close(fx->cat);
        if (getenv("VF_UNIT_KEEP") == NULL)
                cat_tree_remove(fx->dir);
        free(fx->db);
        free(fx->root);
        free(fx->scratch);
        free(fx);
        return 0;
}

void fx_user(struct fx *fx, const char *name)
{
        assert_ok(cat_user_add(fx->cat, name, (uid_t)-1, (gid_t)-1, NULL,
                               reterr));
}

void fx_project(struct fx *fx, const char *name, const char *const *members)
{
        assert_ok(cat_project_add(fx->cat, name, NULL, reterr));
        for (; members && *members; members++)
                assert_ok(cat_project_member_add(fx->cat, name, *members,
                                                 reterr));
}

const char *fx_folder_spec(struct fx *fx, const struct cat_folder_spec *spec)
{
        static char ring[16][CAT_UUID_STRLEN];
        static unsigned next;
        struct cat_folder *f = NULL;
        char *id;

        assert_ok(cat_folder_create(fx->cat, spec, &f, reterr));
        id = ring[next++ % 16];
        memcpy(id, f->id, CAT_UUID_STRLEN);
        cat_folder_free(f);
        return id;
}

const char *fx_folder(struct fx *fx, const char *name, const char *user,
                      const char *project, enum cat_perm perm)
{
        struct cat_folder_spec spec = {
                .name = name, .user = user, .project = project,
                .permission = perm,
        };

        return fx_folder_spec(fx, &spec);
}

char *fx_backing(struct fx *fx, const char *ref)
{
        struct cat_folder *f = NULL;
        char *path = NULL;

        assert_ok(cat_folder_resolve(fx->cat, ref, NULL, &f, reterr));
        assert_ok(cat_folder_backing_path(fx->cat, f, &path, reterr));
        cat_folder_free(f);
        return path;
}

enum cat_perm fx_effective(struct fx *fx, const char *ref, const char *user)
{
        struct cat_folder *f = NULL;
        enum cat_perm perm = CAT_PERM_NONE;

        assert_ok(cat_folder_resolve(fx->cat, ref, NULL, &f, reterr));
        assert_ok(cat_folder_effective_permission(fx->cat, f->id, user, &perm,
                                                  reterr));
        cat_folder_free(f);
        return perm;
}

static sqlite3 *open_raw(struct fx *fx)
{
        sqlite3 *db = NULL;

        assert_int_equal(sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READWRITE,
                                         NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 10000);
        return db;
}

char *fx_snapshot(struct fx *fx)
{
        static const char *const queries[] = {
                "SELECT * FROM hosts ORDER BY 1",
                "SELECT * FROM users ORDER BY 1",
                "SELECT * FROM projects ORDER BY 1",
                "SELECT * FROM members ORDER BY 1, 2",
                "SELECT * FROM folders ORDER BY 1",
                "SELECT * FROM grants ORDER BY 1, 2",
                "SELECT * FROM sessions ORDER BY 1",
                "SELECT * FROM mounts ORDER BY 1, 2",
        };
        sqlite3 *db = open_raw(fx);
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);

        assert_non_null(out);
        for (size_t q = 0; q < sizeof(queries) / sizeof(*queries); q++) {
                sqlite3_stmt *stmt;

                assert_int_equal(sqlite3_prepare_v2(db, queries[q], -1, &stmt,
                                                    NULL), SQLITE_OK);
                fprintf(out, "%s\n", queries[q]);
                while (sqlite3_step(stmt) == SQLITE_ROW) {
                        for (int c = 0; c < sqlite3_column_count(stmt); c++) {
                                const unsigned char *s =
                                        sqlite3_column_text(stmt, c);

                                fprintf(out, "%s|", s ? (const char *)s : "NULL");
                        }
                        fputc('\n', out);
                }
                sqlite3_finalize(stmt);
        }
        fclose(out);
        sqlite3_close(db);
        return buf;
}

void fx_sql(struct fx *fx, const char *sql)
{
        sqlite3 *db = open_raw(fx);
        char *err = NULL;

        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
        sqlite3_close(db);
}

int64_t fx_sql_int(struct fx *fx, const char *sql)
{
        sqlite3 *db = open_raw(fx);
        sqlite3_stmt *stmt;
        int64_t v;

        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
        v = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        sqlite3_close(db);
        return v;
}

void fx_write_file(const char *path, const char *content)
{
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

bool fx_exists(const char *path)
{
        struct stat st;

        return lstat(path, &st) == 0;
}

void fx_check_reason(const char *call, char *reason, const char *needle)
{
        if (!reason)
                fail_msg("%s: no reason given", call);
        if (needle && !strstr(reason, needle))
                fail_msg("%s: reason '%s' lacks '%s'", call, reason, needle);
        free(reason);
}
