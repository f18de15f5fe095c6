/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-catalog.c - unit tests of metadata/catalog.c: opening (missing file,
 * not SQLite, another application's database, newer schema), forward
 * migration from schema version 1, the pragmas the catalog promises, change
 * detection through cat_data_version(), and many processes writing at once
 * without "database is locked" reaching them.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog-private.h"
#include "unit.h"

static void open_fails(const char *path, unsigned flags, int err,
                       const char *needle)
{
        cat_catalog *cat = (cat_catalog *)0x1;

        assert_fails(cat_open(path, flags, &cat, reterr), err, needle);
        assert_ptr_equal(cat, (cat_catalog *)0x1);
}

static void raw_exec(const char *path, const char *sql)
{
        sqlite3 *db;
        char *err = NULL;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", sql, err);
        sqlite3_close(db);
}

static void missing_file_without_create_is_enoent(void **state)
{
        struct fx *fx = *state;
        char *path = fx_path(fx, "nothing.db");

        open_fails(path, 0, -ENOENT, "nothing.db");
        assert_false(fx_exists(path));
        free(path);
}

static void missing_directory_with_create_is_enoent(void **state)
{
        struct fx *fx = *state;
        char *path = fx_path(fx, "no/such/dir/catalog.db");

        open_fails(path, CAT_OPEN_CREATE, -ENOENT, NULL);
        free(path);
}

static void a_directory_is_not_a_catalog(void **state)
{
        struct fx *fx = *state;

        open_fails(fx->root, CAT_OPEN_CREATE, -EISDIR, NULL);
}

static void new_catalog_has_wal_schema_version_and_path(void **state)
{
        struct fx *fx = *state;
        sqlite3 *db;
        sqlite3_stmt *stmt;

        assert_string_equal(cat_path(fx->cat), fx->db);
        assert_int_equal(fx_sql_int(fx, "PRAGMA user_version"),
                         cat_schema_version());
        assert_int_equal(fx_sql_int(fx, "PRAGMA application_id"),
                         CAT_APPLICATION_ID);
        assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
                                            &stmt, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
        sqlite3_finalize(stmt);
        sqlite3_close(db);
}

static void foreign_keys_are_enforced(void **state)
{
        struct fx *fx = *state;
        sqlite3_stmt *stmt;

        /* A grant for a folder that does not exist is refused. */
        assert_int_equal(sqlite3_prepare_v2(fx->cat->db,
                "INSERT INTO grants VALUES ('nope', 'nobody', 'ro')", -1,
                &stmt, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(stmt), SQLITE_CONSTRAINT_FOREIGNKEY);
        sqlite3_finalize(stmt);
}

static void reopening_an_existing_catalog_keeps_its_content(void **state)
{
        struct fx *fx = *state;
        cat_catalog *cat = NULL;
        struct cat_user *u = NULL;

        fx_user(fx, "alice");
        assert_ok(cat_open(fx->db, 0, &cat, reterr));
        assert_ok(cat_user_get(cat, "alice", &u, reterr));
        assert_string_equal(u->name, "alice");
        cat_user_free(u);
        cat_close(cat);
}

static void path_defaults_to_the_environment(void **state)
{
        struct fx *fx = *state;
        cat_catalog *cat = NULL;

        setenv("VFOLDERFS_CATALOG", fx->db, 1);
        assert_ok(cat_open(NULL, 0, &cat, reterr));
        unsetenv("VFOLDERFS_CATALOG");
        assert_string_equal(cat_path(cat), fx->db);
        cat_close(cat);
}

static void file_that_is_not_sqlite_is_ebadmsg(void **state)
{
        struct fx *fx = *state;
        char *path = fx_path(fx, "text.db");
        char *before = NULL;

        fx_write_file(path, "this is a shopping list, not a database\n"
                            "milk\neggs\nbread\nbutter\ncheese\napples\n");
        open_fails(path, 0, -EBADMSG, "not a vfolderfs catalog");
        open_fails(path, CAT_OPEN_CREATE, -EBADMSG, "not a vfolderfs catalog");
        /* The file was not touched. */
        {
                FILE *f = fopen(path, "r");
                char buf[64] = "";

                assert_non_null(f);
                assert_non_null(fgets(buf, sizeof(buf), f));
                fclose(f);
                assert_string_equal(buf, "this is a shopping list, not a database\n");
        }
        free(before);
        free(path);
}

static char *slurp(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t cap = 0;
        FILE *out = open_memstream(&buf, &cap);
        int c;

        assert_non_null(f);
        assert_non_null(out);
        while ((c = fgetc(f)) != EOF)
                fputc(c, out);
        fclose(f);
        fclose(out);
        *ret_len = cap;
        return buf;
}

static void another_applications_database_is_ebadmsg_and_left_unchanged(void **state)
{
        struct fx *fx = *state;
        char *path = fx_path(fx, "other.db");
        char *app = fx_path(fx, "app.db");
        char *before, *after;
        size_t nb, na;

        raw_exec(path, "CREATE TABLE recipes (name TEXT);"
                       "INSERT INTO recipes VALUES ('soup')");
        before = slurp(path, &nb);
        open_fails(path, CAT_OPEN_CREATE, -EBADMSG, "not a vfolderfs catalog");
        open_fails(path, 0, -EBADMSG, "not a vfolderfs catalog");
        after = slurp(path, &na);
        assert_int_equal(na, nb);
        assert_memory_equal(before, after, nb);
        free(before);
        free(after);
        {
                /* Still in its rollback journal mode, not turned into WAL. */
                char *wal;

                assert_true(asprintf(&wal, "%s-wal", path) > 0);
                assert_false(fx_exists(wal));
                free(wal);
        }
        raw_exec(app, "PRAGMA application_id = 1234; PRAGMA user_version = 1;"
                      "CREATE TABLE t (x)");
        open_fails(app, 0, -EBADMSG, "not a vfolderfs catalog");
        free(path);
        free(app);
}

static void newer_schema_version_is_eproto(void **state)
{
        struct fx *fx = *state;
        char *before, *after;

        fx_user(fx, "alice");
        fx_sql(fx, "PRAGMA user_version = 99");
        before = fx_snapshot(fx);
        open_fails(fx->db, 0, -EPROTO, "schema version 99");
        open_fails(fx->db, CAT_OPEN_CREATE, -EPROTO, "newer than");
        after = fx_snapshot(fx);
        assert_string_equal(before, after);
        assert_int_equal(fx_sql_int(fx, "PRAGMA user_version"), 99);
        free(before);
        free(after);
}

/*
 * An empty file is refused (it may be a catalog lost to a crash or a full
 * disk: silently making a new one would hide that); only init
 * (CAT_OPEN_CREATE) makes a catalog in it.
 */
static void empty_file_is_refused_unless_creating(void **state)
{
        struct fx *fx = *state;
        char *path = fx_path(fx, "empty.db");
        cat_catalog *cat = NULL;
        struct stat st;

        fx_write_file(path, "");
        open_fails(path, 0, -EBADMSG, "empty");
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_ok(cat_open(path, CAT_OPEN_CREATE, &cat, reterr));
        assert_ok(cat_user_add(cat, "bob", (uid_t)-1, (gid_t)-1, NULL, reterr));
        cat_close(cat);
        free(path);
}

/* The schema as version 1 of this library wrote it. */
static const char schema_v1[] =
        "CREATE TABLE hosts (name TEXT PRIMARY KEY NOT NULL, root TEXT NOT NULL);"
        "CREATE TABLE users (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL"
        " UNIQUE, uid INTEGER NOT NULL, gid INTEGER NOT NULL);"
        "CREATE TABLE projects (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL"
        " UNIQUE);"
        "CREATE TABLE members (project_id TEXT NOT NULL REFERENCES projects(id)"
        " ON DELETE CASCADE, user_id TEXT NOT NULL REFERENCES users(id) ON"
        " DELETE CASCADE, PRIMARY KEY (project_id, user_id));"
        "CREATE INDEX members_by_user ON members(user_id);"
        "CREATE TABLE folders (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,"
        " owner_type TEXT NOT NULL CHECK (owner_type IN ('user', 'project')),"
        " owner_id TEXT NOT NULL, host TEXT NOT NULL REFERENCES hosts(name),"
        " usage_mode TEXT NOT NULL CHECK (usage_mode IN ('general', 'model',"
        " 'data')), permission TEXT NOT NULL CHECK (permission IN ('ro', 'rw',"
        " 'wd')), cloneable INTEGER NOT NULL DEFAULT 0, quota_bytes INTEGER NOT"
        " NULL DEFAULT 0, status TEXT NOT NULL CHECK (status IN ('ready',"
        " 'trash')), created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
        "CREATE INDEX folders_by_owner ON folders(owner_type, owner_id);"
        "CREATE INDEX folders_by_name ON folders(name);"
        "CREATE TABLE grants (folder_id TEXT NOT NULL REFERENCES folders(id) ON"
        " DELETE CASCADE, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE"
        " CASCADE, permission TEXT NOT NULL CHECK (permission IN ('ro', 'rw',"
        " 'wd')), PRIMARY KEY (folder_id, user_id));"
        "CREATE INDEX grants_by_user ON grants(user_id);"
        "CREATE TABLE sessions (id TEXT PRIMARY KEY NOT NULL, user_id TEXT NOT"
        " NULL REFERENCES users(id), mountpoint TEXT, hostname TEXT, pid INTEGER"
        " NOT NULL DEFAULT 0, scratch TEXT, started_at INTEGER NOT NULL,"
        " ended_at INTEGER);"
        "CREATE INDEX sessions_live ON sessions(ended_at, hostname);"
        "CREATE TABLE mounts (session_id TEXT NOT NULL REFERENCES sessions(id)"
        " ON DELETE CASCADE, folder_id TEXT NOT NULL, folder_name TEXT NOT NULL,"
        " target TEXT NOT NULL, permission TEXT NOT NULL, mounted_at INTEGER,"
        " unmounted_at INTEGER, PRIMARY KEY (session_id, folder_id));"
        "PRAGMA user_version = 1;";

static void version_1_catalog_is_migrated_forward(void **state)
{
        struct fx *fx = *state;
        char *path = fx_path(fx, "v1.db"), *sql;
        cat_catalog *cat = NULL;
        struct cat_folder *f = NULL;
        struct cat_mount *m = NULL;
        size_t n = 0;

        raw_exec(path, schema_v1);
        assert_true(asprintf(&sql,
                "INSERT INTO hosts VALUES ('local', '%s');"
                "INSERT INTO users VALUES ('aaaaaaaa-0000-0000-0000-000000000001',"
                " 'alice', 1000, 1000);"
                "INSERT INTO folders VALUES ('ffffffff-0000-0000-0000-000000000001',"
                " 'data', 'user', 'aaaaaaaa-0000-0000-0000-000000000001', 'local',"
                " 'general', 'rw', 0, 0, 'ready', 1, 1);"
                "INSERT INTO sessions VALUES ('5e5e5e5e-0000-0000-0000-000000000001',"
                " 'aaaaaaaa-0000-0000-0000-000000000001', NULL, NULL, 0, NULL, 1,"
                " NULL);"
                "INSERT INTO mounts VALUES ('5e5e5e5e-0000-0000-0000-000000000001',"
                " 'ffffffff-0000-0000-0000-000000000001', 'data', '/workspace',"
                " 'ro', NULL, NULL);", fx->root) > 0);
        raw_exec(path, sql);
        free(sql);

        assert_ok(cat_open(path, 0, &cat, reterr));
        cat_close(cat);
        {
                struct fx v1 = *fx;

                v1.db = path;
                assert_int_equal(fx_sql_int(&v1, "PRAGMA user_version"),
                                 cat_schema_version());
                /* The columns added by versions 2 and 3 exist. */
                assert_int_equal(fx_sql_int(&v1, "SELECT count(*) FROM mounts"
                                            " WHERE requested = 'none'"), 1);
                assert_int_equal(fx_sql_int(&v1, "SELECT count(*) FROM"
                                            " sessions WHERE pid_identity"
                                            " IS NULL"), 1);
        }
        assert_ok(cat_open(path, 0, &cat, reterr));
        assert_ok(cat_folder_resolve(cat, "data", "alice", &f, reterr));
        assert_string_equal(f->id, "ffffffff-0000-0000-0000-000000000001");
        assert_int_equal(f->effective, CAT_PERM_RW);
        cat_folder_free(f);
        assert_ok(cat_mount_list(cat, NULL, NULL, &m, &n, reterr));
        assert_int_equal(n, 1);
        assert_string_equal(m[0].target, "/workspace");
        assert_int_equal(m[0].permission, CAT_PERM_RO);
        cat_mount_list_free(m, n);
        cat_close(cat);
        free(path);
}

static void data_version_changes_when_another_connection_commits(void **state)
{
        struct fx *fx = *state;
        cat_catalog *other = NULL;
        int64_t v1 = -1, v2 = -1, v3 = -1;

        assert_ok(cat_open(fx->db, 0, &other, reterr));
        assert_int_equal(cat_data_version(fx->cat, &v1), 0);
        assert_int_equal(cat_data_version(fx->cat, &v2), 0);
        assert_int_equal(v1, v2);
        assert_ok(cat_user_add(other, "carol", (uid_t)-1, (gid_t)-1, NULL,
                               reterr));
        assert_int_equal(cat_data_version(fx->cat, &v3), 0);
        assert_true(v3 != v2);
        cat_close(other);
}

enum { WRITERS = 8, PER_WRITER = 15 };

/*
 * Reap every child before judging any: a failed assertion must not remove
 * the catalog under children still running.  Returns how many failed.
 */
static int wait_all(const pid_t *pids)
{
        int failed = 0;

        for (int k = 0; k < WRITERS; k++) {
                int status = 0;

                if (waitpid(pids[k], &status, 0) != pids[k] ||
                    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        failed++;
        }
        return failed;
}

/* Child: its own handle, many small write transactions. */
static int writer(const char *db, int k)
{
        cat_catalog *cat = NULL;
        char name[32], *err = NULL;
        int r;

        r = cat_open(db, CAT_OPEN_CREATE, &cat, &err);
        if (r < 0) {
                fprintf(stderr, "writer %d: open: %s\n", k, err);
                return 1;
        }
        snprintf(name, sizeof(name), "u%d", k);
        r = cat_user_add(cat, name, (uid_t)-1, (gid_t)-1, NULL, &err);
        for (int i = 0; r == 0 && i < PER_WRITER; i++) {
                struct cat_folder_spec spec = { .user = name };
                char fname[32];

                snprintf(fname, sizeof(fname), "f%d", i);
                spec.name = fname;
                struct cat_folder *f = NULL;

                r = cat_folder_create(cat, &spec, &f, &err);
                if (r == 0 && i % 3 == 0) {
                        snprintf(fname, sizeof(fname), "renamed%d", i);
                        r = cat_folder_rename(cat, f->id, fname, &err);
                }
                cat_folder_free(f);
        }
        if (r < 0) {
                fprintf(stderr, "writer %d: %d %s\n", k, r, err ? err : "");
                free(err);
        }
        cat_close(cat);
        return r < 0 ? 1 : 0;
}

static void run_writers(const char *db)
{
        pid_t pids[WRITERS];

        for (int k = 0; k < WRITERS; k++) {
                pids[k] = fork();
                assert_true(pids[k] >= 0);
                if (pids[k] == 0)
                        _exit(writer(db, k));
        }
        assert_int_equal(wait_all(pids), 0);
}

static void eight_concurrent_writers_never_see_a_locked_catalog(void **state)
{
        struct fx *fx = *state;

        run_writers(fx->db);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM users"), WRITERS);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM folders"),
                         WRITERS * PER_WRITER);
}

static void many_processes_creating_one_new_catalog_migrate_it_once(void **state)
{
        struct fx *fx = *state;
        char *path = fx_path(fx, "fresh.db");
        struct fx fresh = *fx;
        char *root_sql;

        /* Host first, from one process, then everyone at once. */
        {
                cat_catalog *cat = NULL;

                assert_ok(cat_open(path, CAT_OPEN_CREATE, &cat, reterr));
                assert_ok(cat_host_add(cat, "local", fx->root, reterr));
                cat_close(cat);
        }
        run_writers(path);
        fresh.db = path;
        assert_int_equal(fx_sql_int(&fresh, "SELECT count(*) FROM users"),
                         WRITERS);
        (void)root_sql;
        free(path);
}

static void simultaneous_first_opens_all_succeed(void **state)
{
        struct fx *fx = *state;
        char *path = fx_path(fx, "race.db");
        pid_t pids[WRITERS];
        struct fx race = *fx;

        for (int k = 0; k < WRITERS; k++) {
                pids[k] = fork();
                assert_true(pids[k] >= 0);
                if (pids[k] == 0) {
                        cat_catalog *cat = NULL;
                        char name[16], *err = NULL;
                        int r = cat_open(path, CAT_OPEN_CREATE, &cat, &err);

                        snprintf(name, sizeof(name), "p%d", k);
                        if (r == 0)
                                r = cat_project_add(cat, name, NULL, &err);
                        if (r < 0)
                                fprintf(stderr, "%d: %s\n", r, err);
                        cat_close(cat);
                        _exit(r < 0);
                }
        }
        assert_int_equal(wait_all(pids), 0);
        race.db = path;
        assert_int_equal(fx_sql_int(&race, "SELECT count(*) FROM projects"),
                         WRITERS);
        assert_int_equal(fx_sql_int(&race, "PRAGMA user_version"),
                         cat_schema_version());
        free(path);
}

/* Child: sessions, shares, lists and deletes, all at once with others. */
static int mixed_worker(const char *db, const char *scratch, int k)
{
        cat_catalog *cat = NULL;
        char user[32], *err = NULL;
        int r;

        r = cat_open(db, 0, &cat, &err);
        snprintf(user, sizeof(user), "m%d", k);
        for (int i = 0; r == 0 && i < 6; i++) {
                struct cat_folder_spec spec = { .user = user };
                struct cat_folder *f = NULL, *v = NULL;
                struct cat_session *s = NULL;
                struct cat_mount *m = NULL;
                size_t n = 0;
                char name[32], other[32];

                snprintf(name, sizeof(name), "g%d-%d", k, i);
                snprintf(other, sizeof(other), "m%d", (k + 1) % WRITERS);
                spec.name = name;
                r = cat_folder_create(cat, &spec, &f, &err);
                if (r == 0)
                        r = cat_folder_share(cat, f->id, other, CAT_PERM_RO,
                                             &err);
                if (r == 0)
                        r = cat_folder_list(cat, user, &v, &n, &err);
                cat_folder_list_free(v, n);
                if (r == 0)
                        r = cat_session_start(cat, user, "/home/work", "h1",
                                              getpid(), scratch, &s, &m, &n,
                                              &err);
                cat_mount_list_free(m, n);
                if (r == 0)
                        r = cat_session_end(cat, s->id, &err);
                cat_session_free(s);
                /* Force: another worker's session may mount it (shared). */
                if (r == 0)
                        r = cat_folder_delete(cat, f->id, true, &err);
                if (r == 0)
                        r = cat_folder_purge(cat, f->id, true, &err);
                cat_folder_free(f);
        }
        if (r < 0) {
                fprintf(stderr, "worker %d: %d %s\n", k, r, err ? err : "");
                free(err);
        }
        cat_close(cat);
        return r < 0 ? 1 : 0;
}

static void mixed_concurrent_changes_never_see_a_locked_catalog(void **state)
{
        struct fx *fx = *state;
        pid_t pids[WRITERS];

        for (int k = 0; k < WRITERS; k++) {
                char name[32];

                snprintf(name, sizeof(name), "m%d", k);
                fx_user(fx, name);
        }
        for (int k = 0; k < WRITERS; k++) {
                pids[k] = fork();
                assert_true(pids[k] >= 0);
                if (pids[k] == 0)
                        _exit(mixed_worker(fx->db, fx->scratch, k));
        }
        assert_int_equal(wait_all(pids), 0);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM folders"), 0);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM sessions WHERE"
                                    " ended_at IS NULL"), 0);
}

static void sqlite_codes_map_to_errno(void **state)
{
        (void)state;
        assert_int_equal(cat_errno_from_sqlite(SQLITE_OK, 0), 0);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_DONE, 0), 0);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_BUSY, 0), -EAGAIN);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_BUSY_SNAPSHOT, 0), -EAGAIN);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_LOCKED, 0), -EAGAIN);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_READONLY, 0), -EROFS);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_READONLY_DBMOVED, 0), -EROFS);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_NOTADB, 0), -EBADMSG);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_CORRUPT, 0), -EBADMSG);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_FULL, 0), -ENOSPC);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_NOMEM, 0), -ENOMEM);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_CONSTRAINT_UNIQUE, 0), -EEXIST);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_CONSTRAINT_PRIMARYKEY, 0), -EEXIST);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_CONSTRAINT_FOREIGNKEY, 0), -ENOENT);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_CONSTRAINT_CHECK, 0), -EINVAL);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_IOERR_WRITE, EIO), -EIO);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_IOERR_FSYNC, ENOSPC), -ENOSPC);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_IOERR, 0), -EIO);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_CANTOPEN, EACCES), -EACCES);
        assert_int_equal(cat_errno_from_sqlite(SQLITE_PERM, 0), -EACCES);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(missing_file_without_create_is_enoent),
                T(missing_directory_with_create_is_enoent),
                T(a_directory_is_not_a_catalog),
                T(new_catalog_has_wal_schema_version_and_path),
                T(foreign_keys_are_enforced),
                T(reopening_an_existing_catalog_keeps_its_content),
                T(path_defaults_to_the_environment),
                T(file_that_is_not_sqlite_is_ebadmsg),
                T(another_applications_database_is_ebadmsg_and_left_unchanged),
                T(newer_schema_version_is_eproto),
                T(empty_file_is_refused_unless_creating),
                T(version_1_catalog_is_migrated_forward),
                T(data_version_changes_when_another_connection_commits),
                T(eight_concurrent_writers_never_see_a_locked_catalog),
                T(many_processes_creating_one_new_catalog_migrate_it_once),
                T(simultaneous_first_opens_all_succeed),
                T(mixed_concurrent_changes_never_see_a_locked_catalog),
                cmocka_unit_test(sqlite_codes_map_to_errno),
        };

        return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
