/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-fsck.c - unit tests of metadata/fsck.c: a clean catalog, missing
 * backing directories (recreated on repair, unless the host root itself is
 * gone), orphan directories (reported, never deleted), stale sessions
 * (ended on repair), leftover scratch and SQLite integrity complaints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog-private.h"
#include "unit.h"

struct report {
        struct cat_fsck_issue *v;
        size_t n;
};

static void run_fsck(struct fx *fx, bool repair, struct report *rep)
{
        assert_ok(cat_fsck(fx->cat, "h1", repair, &rep->v, &rep->n, reterr));
}

static void report_release(struct report *rep)
{
        cat_fsck_issue_list_free(rep->v, rep->n);
        memset(rep, 0, sizeof(*rep));
}

static const struct cat_fsck_issue *find(const struct report *rep,
                                         enum cat_fsck_kind kind,
                                         const char *subject)
{
        for (size_t i = 0; i < rep->n; i++)
                if (rep->v[i].kind == kind &&
                    strcmp(rep->v[i].subject, subject) == 0)
                        return &rep->v[i];
        return NULL;
}

static pid_t dead_pid(void)
{
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return pid;
}

static void clean_catalog_has_no_issues(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", NULL };
        struct report rep = { 0 };
        struct cat_session *s = NULL;
        struct cat_mount *m = NULL;
        size_t n = 0;

        fx_user(fx, "alice");
        fx_project(fx, "ml", members);
        fx_folder(fx, "a", "alice", NULL, CAT_PERM_WD);
        fx_folder(fx, "b", NULL, "ml", CAT_PERM_WD);
        assert_ok(cat_session_start(fx->cat, "alice", "/home/work", "h1",
                                    getpid(), fx->scratch, &s, &m, &n,
                                    reterr));
        /* Things outside the layout are none of fsck's business. */
        {
                char *p = fx_path(fx, "storage/lost+found");

                assert_int_equal(mkdir(p, 0700), 0);
                free(p);
                p = fx_path(fx, "storage/user-not-a-uuid");
                assert_int_equal(mkdir(p, 0700), 0);
                free(p);
        }
        run_fsck(fx, true, &rep);
        for (size_t i = 0; i < rep.n; i++)
                print_error("unexpected: %s %s\n", rep.v[i].subject,
                            rep.v[i].detail);
        assert_int_equal(rep.n, 0);
        report_release(&rep);
        cat_session_free(s);
        cat_mount_list_free(m, n);
}

static void missing_backing_directory_is_reported_and_recreated_on_repair(void **state)
{
        struct fx *fx = *state;
        struct report rep = { 0 };
        const struct cat_fsck_issue *is;
        struct stat st;
        const char *id;
        char *path;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        path = fx_backing(fx, id);
        assert_int_equal(rmdir(path), 0);

        run_fsck(fx, false, &rep);
        assert_int_equal(rep.n, 1);
        is = find(&rep, CAT_FSCK_MISSING_BACKING, id);
        assert_non_null(is);
        assert_false(is->repaired);
        assert_non_null(strstr(is->detail, path));
        assert_false(fx_exists(path));
        report_release(&rep);

        run_fsck(fx, true, &rep);
        is = find(&rep, CAT_FSCK_MISSING_BACKING, id);
        assert_non_null(is);
        assert_true(is->repaired);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        report_release(&rep);

        run_fsck(fx, false, &rep);
        assert_int_equal(rep.n, 0);
        report_release(&rep);
        free(path);
}

static void backing_is_not_recreated_when_the_host_root_is_gone(void **state)
{
        struct fx *fx = *state;
        struct report rep = { 0 };
        const struct cat_fsck_issue *is;
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        assert_int_equal(cat_tree_remove(fx->root), 0);
        run_fsck(fx, true, &rep);
        is = find(&rep, CAT_FSCK_MISSING_BACKING, id);
        assert_non_null(is);
        assert_false(is->repaired);
        assert_false(fx_exists(fx->root));
        report_release(&rep);
}

static void orphan_directory_is_reported_and_never_deleted(void **state)
{
        struct fx *fx = *state;
        struct report rep = { 0 };
        const struct cat_fsck_issue *is;
        char fid[CAT_UUID_STRLEN], oid[CAT_UUID_STRLEN];
        char *orphan, *file;

        fx_user(fx, "alice");
        fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        cat_uuid_new(fid);
        cat_uuid_new(oid);
        assert_int_equal(cat_backing_path(fx->root, CAT_OWNER_PROJECT, oid,
                                          fid, &orphan), 0);
        /* its parents private, as folder create makes them */
        assert_int_equal(cat_mkdir_p(orphan, 0700), 0);
        assert_true(asprintf(&file, "%s/data.bin", orphan) > 0);
        fx_write_file(file, "someone's data");

        run_fsck(fx, true, &rep);
        assert_int_equal(rep.n, 1);
        is = find(&rep, CAT_FSCK_ORPHAN_DIR, orphan);
        assert_non_null(is);
        assert_false(is->repaired);
        assert_true(fx_exists(file));
        report_release(&rep);
        free(orphan);
        free(file);
}

static void purged_folder_leaves_no_orphan(void **state)
{
        struct fx *fx = *state;
        struct report rep = { 0 };
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_delete(fx->cat, id, false, reterr));
        assert_ok(cat_folder_purge(fx->cat, id, false, reterr));
        run_fsck(fx, false, &rep);
        assert_int_equal(rep.n, 0);
        report_release(&rep);
}

static void stale_session_is_reported_and_ended_on_repair(void **state)
{
        struct fx *fx = *state;
        struct report rep = { 0 };
        const struct cat_fsck_issue *is;
        struct cat_session *s = NULL, *other = NULL, *got = NULL;
        struct cat_mount *m = NULL;
        size_t n = 0;
        char *sql;

        fx_user(fx, "alice");
        fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_session_start(fx->cat, "alice", "/home/work", "h1",
                                    getpid(), fx->scratch, &s, &m, &n,
                                    reterr));
        cat_mount_list_free(m, n);
        assert_ok(cat_session_start(fx->cat, "alice", "/home/work", "h2",
                                    getpid(), fx->scratch, &other, &m, &n,
                                    reterr));
        cat_mount_list_free(m, n);
        assert_true(asprintf(&sql, "UPDATE sessions SET pid = %d",
                             (int)dead_pid()) > 0);
        fx_sql(fx, sql);
        free(sql);

        run_fsck(fx, false, &rep);
        assert_int_equal(rep.n, 1); /* not the other host's */
        is = find(&rep, CAT_FSCK_STALE_SESSION, s->id);
        assert_non_null(is);
        assert_false(is->repaired);
        assert_true(fx_exists(s->scratch));
        report_release(&rep);

        run_fsck(fx, true, &rep);
        is = find(&rep, CAT_FSCK_STALE_SESSION, s->id);
        assert_non_null(is);
        assert_true(is->repaired);
        assert_false(fx_exists(s->scratch));
        assert_ok(cat_session_get(fx->cat, s->id, &got, reterr));
        assert_true(got->ended_at > 0);
        cat_session_free(got);
        assert_ok(cat_session_get(fx->cat, other->id, &got, reterr));
        assert_int_equal(got->ended_at, 0);
        cat_session_free(got);
        report_release(&rep);

        run_fsck(fx, false, &rep);
        assert_int_equal(rep.n, 0);
        report_release(&rep);
        cat_session_free(s);
        cat_session_free(other);
}

static void scratch_left_by_an_ended_session_is_removed_on_repair(void **state)
{
        struct fx *fx = *state;
        struct report rep = { 0 };
        const struct cat_fsck_issue *is;
        struct cat_session *s = NULL;
        struct cat_mount *m = NULL;
        size_t n = 0;

        fx_user(fx, "alice");
        assert_ok(cat_session_start(fx->cat, "alice", "/home/work", "h1",
                                    getpid(), fx->scratch, &s, &m, &n,
                                    reterr));
        cat_mount_list_free(m, n);
        /* As if the process ending it had died before removing scratch. */
        fx_sql(fx, "UPDATE sessions SET ended_at = 1");
        run_fsck(fx, false, &rep);
        is = find(&rep, CAT_FSCK_STALE_SESSION, s->id);
        assert_non_null(is);
        assert_non_null(strstr(is->detail, "scratch"));
        assert_false(is->repaired);
        report_release(&rep);
        run_fsck(fx, true, &rep);
        assert_true(find(&rep, CAT_FSCK_STALE_SESSION, s->id)->repaired);
        assert_false(fx_exists(s->scratch));
        report_release(&rep);
        cat_session_free(s);
}

static mode_t mode_of(const char *path)
{
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

/* The scope directory of a folder's backing path: three levels up. */
static char *scope_of(const char *backing)
{
        char *p = strdup(backing);

        assert_non_null(p);
        for (int i = 0; i < 3; i++)
                *strrchr(p, '/') = 0;
        return p;
}

static void new_folders_and_catalogs_are_private_whatever_the_umask(void **state)
{
        struct fx *fx = *state;
        mode_t old = umask(0);
        const char *id;
        char *path, *scope;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        path = fx_backing(fx, id);
        scope = scope_of(path);
        umask(old);
        assert_int_equal(mode_of(fx->db), 0600);
        assert_int_equal(mode_of(scope), 0700);
        *strrchr(path, '/') = 0;
        assert_int_equal(mode_of(path), 0700); /* second fan-out level */
        *strrchr(path, '/') = 0;
        assert_int_equal(mode_of(path), 0700); /* first fan-out level */
        free(path);
        path = fx_backing(fx, id);
        assert_int_equal(mode_of(path), 0755); /* the folder's own */
        free(path);
        free(scope);
}

static void loose_modes_are_reported_and_tightened_on_repair(void **state)
{
        struct fx *fx = *state;
        struct report rep = { 0 };
        const struct cat_fsck_issue *is;
        const char *id;
        char *path, *scope;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        path = fx_backing(fx, id);
        scope = scope_of(path);
        /* As an older vfolderfs made them. */
        assert_int_equal(chmod(scope, 0755), 0);
        assert_int_equal(chmod(fx->db, 0644), 0);

        run_fsck(fx, false, &rep);
        assert_int_equal(rep.n, 2);
        is = find(&rep, CAT_FSCK_LOOSE_MODE, scope);
        assert_non_null(is);
        assert_false(is->repaired);
        is = find(&rep, CAT_FSCK_LOOSE_MODE, fx->db);
        assert_non_null(is);
        assert_false(is->repaired);
        assert_int_equal(mode_of(scope), 0755);
        report_release(&rep);

        run_fsck(fx, true, &rep);
        assert_int_equal(rep.n, 2);
        assert_true(find(&rep, CAT_FSCK_LOOSE_MODE, scope)->repaired);
        assert_true(find(&rep, CAT_FSCK_LOOSE_MODE, fx->db)->repaired);
        report_release(&rep);
        assert_int_equal(mode_of(scope), 0700);
        assert_int_equal(mode_of(fx->db), 0600);
        assert_int_equal(mode_of(path), 0755); /* never the folder's own */

        run_fsck(fx, true, &rep);
        assert_int_equal(rep.n, 0);
        report_release(&rep);
        free(path);
        free(scope);
}

static void damaged_index_is_an_integrity_issue(void **state)
{
        struct fx *fx = *state;
        struct report rep = { 0 };
        bool found = false;

        fx_user(fx, "alice");
        fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        fx_folder(fx, "more", "alice", NULL, CAT_PERM_WD);
        /* Declare the name index as one on another column: its entries no
         * longer match the table. */
        fx_sql(fx, "PRAGMA writable_schema = ON;"
                   " UPDATE sqlite_master SET sql = 'CREATE INDEX"
                   " folders_by_name ON folders(host)' WHERE name ="
                   " 'folders_by_name';");
        cat_close(fx->cat);
        fx->cat = NULL;
        assert_ok(cat_open(fx->db, 0, &fx->cat, reterr));
        run_fsck(fx, false, &rep);
        for (size_t i = 0; i < rep.n; i++)
                found |= rep.v[i].kind == CAT_FSCK_INTEGRITY;
        assert_true(found);
        report_release(&rep);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(clean_catalog_has_no_issues),
                T(missing_backing_directory_is_reported_and_recreated_on_repair),
                T(backing_is_not_recreated_when_the_host_root_is_gone),
                T(orphan_directory_is_reported_and_never_deleted),
                T(purged_folder_leaves_no_orphan),
                T(stale_session_is_reported_and_ended_on_repair),
                T(scratch_left_by_an_ended_session_is_removed_on_repair),
                T(damaged_index_is_an_integrity_issue),
                T(new_folders_and_catalogs_are_private_whatever_the_umask),
                T(loose_modes_are_reported_and_tightened_on_repair),
        };

        return cmocka_run_group_tests_name("fsck", tests, NULL, NULL);
}
