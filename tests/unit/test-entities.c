/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-entities.c - unit tests of metadata/entities.c: storage hosts, users,
 * projects and project membership, including the name clash a new member
 * would bring and the per-user grants that leave with a member.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog-private.h"
#include "unit.h"

static void host_with_an_existing_absolute_root_is_added(void **state)
{
        struct fx *fx = *state;
        struct cat_host *h = NULL, *v = NULL;
        char *nfs = fx_path(fx, "nfs");
        size_t n = 0;

        assert_int_equal(mkdir(nfs, 0755), 0);
        assert_ok(cat_host_add(fx->cat, "nfs1", nfs, reterr));
        assert_ok(cat_host_get(fx->cat, "nfs1", &h, reterr));
        assert_string_equal(h->name, "nfs1");
        assert_string_equal(h->root, nfs);
        cat_host_free(h);
        assert_ok(cat_host_list(fx->cat, &v, &n, reterr));
        assert_int_equal(n, 2);
        assert_string_equal(v[0].name, "local");
        assert_string_equal(v[1].name, "nfs1");
        cat_host_list_free(v, n);
        free(nfs);
}

static void host_root_must_be_an_existing_absolute_directory(void **state)
{
        struct fx *fx = *state;
        char *missing = fx_path(fx, "missing");
        char *file = fx_path(fx, "file");

        fx_write_file(file, "x");
        assert_unchanged(fx, cat_host_add(fx->cat, "h", "relative/dir", reterr),
                         -EINVAL, "absolute");
        assert_unchanged(fx, cat_host_add(fx->cat, "h", "", reterr), -EINVAL,
                         "absolute");
        assert_unchanged(fx, cat_host_add(fx->cat, "h", missing, reterr),
                         -ENOENT, missing);
        assert_unchanged(fx, cat_host_add(fx->cat, "h", file, reterr),
                         -ENOTDIR, "not a directory");
        free(missing);
        free(file);
}

static void duplicate_or_badly_named_host_is_refused(void **state)
{
        struct fx *fx = *state;

        assert_unchanged(fx, cat_host_add(fx->cat, "local", fx->root, reterr),
                         -EEXIST, "already exists");
        assert_unchanged(fx, cat_host_add(fx->cat, ".h", fx->root, reterr),
                         -EINVAL, "must start");
        assert_unchanged(fx, cat_host_add(fx->cat, "a b", fx->root, reterr),
                         -EINVAL, "may contain only");
}

static void unknown_host_is_enoent(void **state)
{
        struct fx *fx = *state;
        struct cat_host *h = (struct cat_host *)0x1;

        assert_fails(cat_host_get(fx->cat, "nfs9", &h, reterr), -ENOENT,
                     "no host 'nfs9'");
        assert_ptr_equal(h, (struct cat_host *)0x1);
}

static void user_gets_default_ids_and_a_uuid(void **state)
{
        struct fx *fx = *state;
        struct cat_user *u = NULL, *g = NULL;

        assert_ok(cat_user_add(fx->cat, "alice", (uid_t)-1, (gid_t)-1, &u,
                               reterr));
        assert_string_equal(u->name, "alice");
        assert_int_equal(u->uid, 1000);
        assert_int_equal(u->gid, 1000);
        assert_true(cat_uuid_valid(u->id));
        assert_ok(cat_user_get(fx->cat, u->id, &g, reterr));
        assert_string_equal(g->name, "alice");
        cat_user_free(g);
        assert_ok(cat_user_get(fx->cat, "alice", &g, reterr));
        assert_string_equal(g->id, u->id);
        cat_user_free(g);
        cat_user_free(u);
}

static void user_keeps_explicit_ids(void **state)
{
        struct fx *fx = *state;
        struct cat_user *u = NULL;

        assert_ok(cat_user_add(fx->cat, "bob", 2001, 3002, NULL, reterr));
        assert_ok(cat_user_get(fx->cat, "bob", &u, reterr));
        assert_int_equal(u->uid, 2001);
        assert_int_equal(u->gid, 3002);
        cat_user_free(u);
}

static void duplicate_or_badly_named_user_is_refused(void **state)
{
        struct fx *fx = *state;
        struct cat_user *u = (struct cat_user *)0x1;

        fx_user(fx, "alice");
        assert_unchanged(fx, cat_user_add(fx->cat, "alice", 5, 5, &u, reterr),
                         -EEXIST, "user 'alice' already exists");
        assert_unchanged(fx, cat_user_add(fx->cat, "", 5, 5, &u, reterr),
                         -EINVAL, "empty");
        assert_unchanged(fx, cat_user_add(fx->cat, "-x", 5, 5, &u, reterr),
                         -EINVAL, "must start");
        assert_ptr_equal(u, (struct cat_user *)0x1);
}

static void users_are_listed_by_name(void **state)
{
        struct fx *fx = *state;
        struct cat_user *v = NULL;
        size_t n = 0;

        fx_user(fx, "carol");
        fx_user(fx, "alice");
        fx_user(fx, "bob");
        assert_ok(cat_user_list(fx->cat, &v, &n, reterr));
        assert_int_equal(n, 3);
        assert_string_equal(v[0].name, "alice");
        assert_string_equal(v[1].name, "bob");
        assert_string_equal(v[2].name, "carol");
        cat_user_list_free(v, n);
}

static void unknown_user_is_enoent(void **state)
{
        struct fx *fx = *state;
        struct cat_user *u = NULL;

        assert_fails(cat_user_get(fx->cat, "nobody", &u, reterr), -ENOENT,
                     "no user 'nobody'");
        assert_fails(cat_user_get(fx->cat,
                                  "11111111-2222-3333-4444-555555555555", &u,
                                  reterr), -ENOENT, "no user");
        assert_null(u);
}

static void project_members_are_added_listed_and_removed(void **state)
{
        struct fx *fx = *state;
        struct cat_project *p = NULL, *v = NULL;
        size_t n = 0;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        assert_ok(cat_project_add(fx->cat, "ml", &p, reterr));
        assert_string_equal(p->name, "ml");
        assert_null(p->members[0]);
        assert_ok(cat_project_member_add(fx->cat, p->id, "bob", reterr));
        assert_ok(cat_project_member_add(fx->cat, "ml", "alice", reterr));
        cat_project_free(p);
        assert_ok(cat_project_get(fx->cat, "ml", &p, reterr));
        assert_string_equal(p->members[0], "alice");
        assert_string_equal(p->members[1], "bob");
        assert_null(p->members[2]);
        cat_project_free(p);
        assert_ok(cat_project_member_remove(fx->cat, "ml", "alice", reterr));
        fx_project(fx, "empty", NULL);
        assert_ok(cat_project_list(fx->cat, &v, &n, reterr));
        assert_int_equal(n, 2);
        assert_string_equal(v[0].name, "empty");
        assert_null(v[0].members[0]);
        assert_string_equal(v[1].name, "ml");
        assert_string_equal(v[1].members[0], "bob");
        assert_null(v[1].members[1]);
        cat_project_list_free(v, n);
}

static void duplicate_project_is_refused(void **state)
{
        struct fx *fx = *state;

        fx_project(fx, "ml", NULL);
        assert_unchanged(fx, cat_project_add(fx->cat, "ml", NULL, reterr),
                         -EEXIST, "project 'ml' already exists");
        assert_unchanged(fx, cat_project_add(fx->cat, "m l", NULL, reterr),
                         -EINVAL, "may contain only");
}

static void adding_a_member_twice_is_eexist(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", NULL };

        fx_user(fx, "alice");
        fx_project(fx, "ml", members);
        assert_unchanged(fx, cat_project_member_add(fx->cat, "ml", "alice",
                                                    reterr),
                         -EEXIST, "already is a member");
}

static void removing_a_non_member_is_enoent(void **state)
{
        struct fx *fx = *state;

        fx_user(fx, "alice");
        fx_project(fx, "ml", NULL);
        assert_unchanged(fx, cat_project_member_remove(fx->cat, "ml", "alice",
                                                       reterr),
                         -ENOENT, "not a member");
}

static void membership_of_unknown_project_or_user_is_enoent(void **state)
{
        struct fx *fx = *state;

        fx_user(fx, "alice");
        fx_project(fx, "ml", NULL);
        assert_unchanged(fx, cat_project_member_add(fx->cat, "nope", "alice",
                                                    reterr),
                         -ENOENT, "no project 'nope'");
        assert_unchanged(fx, cat_project_member_add(fx->cat, "ml", "nobody",
                                                    reterr),
                         -ENOENT, "no user 'nobody'");
        assert_unchanged(fx, cat_project_member_remove(fx->cat, "ml", "nobody",
                                                       reterr),
                         -ENOENT, "no user 'nobody'");
}

static void new_member_whose_own_folder_clashes_with_a_project_folder_is_refused(void **state)
{
        struct fx *fx = *state;
        const char *own, *shared;
        struct cat_project *p = NULL;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_project(fx, "ml", NULL);
        fx_folder(fx, "datasets", NULL, "ml", CAT_PERM_RW);
        own = fx_folder(fx, "datasets", "alice", NULL, CAT_PERM_WD);
        assert_unchanged(fx, cat_project_member_add(fx->cat, "ml", "alice",
                                                    reterr),
                         -EEXIST, own);
        assert_ok(cat_project_get(fx->cat, "ml", &p, reterr));
        assert_null(p->members[0]);
        cat_project_free(p);

        /* A folder shared with the user counts as well. */
        fx_folder(fx, "models", NULL, "ml", CAT_PERM_RW);
        shared = fx_folder(fx, "models", "bob", NULL, CAT_PERM_WD);
        fx_user(fx, "carol");
        assert_ok(cat_folder_share(fx->cat, shared, "carol", CAT_PERM_RO,
                                   reterr));
        assert_unchanged(fx, cat_project_member_add(fx->cat, "ml", "carol",
                                                    reterr),
                         -EEXIST, "visible to user 'carol'");
        /* bob owns a 'models' folder of his own: refused as well. */
        assert_unchanged(fx, cat_project_member_add(fx->cat, "ml", "bob",
                                                    reterr),
                         -EEXIST, "'models'");
}

static void removed_member_loses_access_and_per_user_grants(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", NULL };
        const char *id;

        fx_user(fx, "alice");
        fx_project(fx, "ml", members);
        id = fx_folder(fx, "data", NULL, "ml", CAT_PERM_RO);
        assert_ok(cat_folder_share(fx->cat, id, "alice", CAT_PERM_WD, reterr));
        assert_int_equal(fx_effective(fx, id, "alice"), CAT_PERM_WD);
        assert_ok(cat_project_member_remove(fx->cat, "ml", "alice", reterr));
        assert_int_equal(fx_effective(fx, id, "alice"), CAT_PERM_NONE);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM grants"), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(host_with_an_existing_absolute_root_is_added),
                T(host_root_must_be_an_existing_absolute_directory),
                T(duplicate_or_badly_named_host_is_refused),
                T(unknown_host_is_enoent),
                T(user_gets_default_ids_and_a_uuid),
                T(user_keeps_explicit_ids),
                T(duplicate_or_badly_named_user_is_refused),
                T(users_are_listed_by_name),
                T(unknown_user_is_enoent),
                T(project_members_are_added_listed_and_removed),
                T(duplicate_project_is_refused),
                T(adding_a_member_twice_is_eexist),
                T(removing_a_non_member_is_enoent),
                T(membership_of_unknown_project_or_user_is_enoent),
                T(new_member_whose_own_folder_clashes_with_a_project_folder_is_refused),
                T(removed_member_loses_access_and_per_user_grants),
        };

        return cmocka_run_group_tests_name("entities", tests, NULL, NULL);
}
