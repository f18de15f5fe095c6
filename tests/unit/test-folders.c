/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-folders.c - unit tests of metadata/folders.c: creating folders and
 * their backing directories, the default host, name clashes on create,
 * rename and share, effective permissions for owners, members, grantees and
 * strangers, resolving by UUID and name, the ready/trash/purge lifecycle,
 * refusals while mounted, clone and usage.  Every refusal is checked to
 * leave the catalog unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog-private.h"
#include "unit.h"

static size_t count_folders(struct fx *fx)
{
        return (size_t)fx_sql_int(fx, "SELECT count(*) FROM folders");
}

static void creating_a_folder_records_it_and_makes_its_backing_directory(void **state)
{
        struct fx *fx = *state;
        struct cat_folder_spec spec = {
                .name = "user1-ml-test", .user = "alice",
                .usage_mode = CAT_USAGE_MODEL, .quota_bytes = 1 << 20,
                .cloneable = true,
        };
        struct cat_folder *f = NULL;
        struct cat_user *u = NULL;
        struct stat st;
        char *path = NULL, *want = NULL;
        int64_t now = cat_now();

        assert_ok(cat_user_add(fx->cat, "alice", (uid_t)-1, (gid_t)-1, &u,
                               reterr));
        assert_ok(cat_folder_create(fx->cat, &spec, &f, reterr));
        assert_true(cat_uuid_valid(f->id));
        assert_string_equal(f->name, "user1-ml-test");
        assert_string_equal(f->host, "local");
        assert_int_equal(f->owner_type, CAT_OWNER_USER);
        assert_string_equal(f->owner_id, u->id);
        assert_string_equal(f->owner_name, "alice");
        assert_int_equal(f->usage_mode, CAT_USAGE_MODEL);
        assert_int_equal(f->permission, CAT_PERM_WD); /* the default */
        assert_true(f->cloneable);
        assert_int_equal(f->quota_bytes, 1 << 20);
        assert_int_equal(f->status, CAT_STATUS_READY);
        assert_true(f->created_at >= now - 5 && f->created_at <= now + 5);
        assert_int_equal(f->updated_at, f->created_at);

        assert_ok(cat_folder_backing_path(fx->cat, f, &path, reterr));
        assert_int_equal(cat_backing_path(fx->root, CAT_OWNER_USER, u->id,
                                          f->id, &want), 0);
        assert_string_equal(path, want);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
        /* Stored as readable text. */
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM folders WHERE"
                                    " usage_mode = 'model' AND permission ="
                                    " 'wd' AND status = 'ready' AND"
                                    " owner_type = 'user'"), 1);
        free(path);
        free(want);
        cat_folder_free(f);
        cat_user_free(u);
}

static void project_folder_lives_under_the_project_scope(void **state)
{
        struct fx *fx = *state;
        struct cat_project *p = NULL;
        char *path, *prefix;
        const char *id;

        assert_ok(cat_project_add(fx->cat, "ml", &p, reterr));
        id = fx_folder(fx, "shared-data", NULL, "ml", CAT_PERM_RO);
        path = fx_backing(fx, id);
        assert_true(asprintf(&prefix, "%s/project-%s/", fx->root, p->id) > 0);
        assert_memory_equal(path, prefix, strlen(prefix));
        assert_true(fx_exists(path));
        free(path);
        free(prefix);
        cat_project_free(p);
}

static void bad_folder_names_are_refused_on_create(void **state)
{
        static const char *const bad[] = {
                "", ".", "..", "..x", "-x", "a b", "a/b", ".ssh", ".jupyter",
                ".terminfo", ".tmux.conf", ".bashrc", ".zshrc", ".bash_profile",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        };
        struct fx *fx = *state;

        fx_user(fx, "alice");
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                struct cat_folder_spec spec = { .name = bad[i], .user = "alice" };

                assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL,
                                                       reterr), -EINVAL, "name");
        }
        /* Nothing was made on the storage host either. */
        assert_int_equal(rmdir(fx->root), 0);
        assert_int_equal(mkdir(fx->root, 0755), 0);
}

static void folder_needs_exactly_one_existing_owner_and_host(void **state)
{
        struct fx *fx = *state;
        struct cat_folder_spec both = { .name = "x", .user = "alice",
                                        .project = "ml" };
        struct cat_folder_spec none = { .name = "x" };
        struct cat_folder_spec nouser = { .name = "x", .user = "nobody" };
        struct cat_folder_spec noproj = { .name = "x", .project = "nope" };
        struct cat_folder_spec nohost = { .name = "x", .user = "alice",
                                          .host = "nfs9" };
        struct cat_folder_spec badperm = { .name = "x", .user = "alice",
                                           .permission = 7 };

        fx_user(fx, "alice");
        fx_project(fx, "ml", NULL);
        assert_unchanged(fx, cat_folder_create(fx->cat, &both, NULL, reterr),
                         -EINVAL, "exactly one");
        assert_unchanged(fx, cat_folder_create(fx->cat, &none, NULL, reterr),
                         -EINVAL, "exactly one");
        assert_unchanged(fx, cat_folder_create(fx->cat, &nouser, NULL, reterr),
                         -ENOENT, "no user 'nobody'");
        assert_unchanged(fx, cat_folder_create(fx->cat, &noproj, NULL, reterr),
                         -ENOENT, "no project 'nope'");
        assert_unchanged(fx, cat_folder_create(fx->cat, &nohost, NULL, reterr),
                         -ENOENT, "no host 'nfs9'");
        assert_unchanged(fx, cat_folder_create(fx->cat, &badperm, NULL, reterr),
                         -EINVAL, "permission");
}

static void default_host_is_local_else_the_only_host_else_none(void **state)
{
        struct fx *fx = *state;
        struct cat_folder_spec spec = { .name = "a", .user = "alice" };
        struct cat_folder *f = NULL;
        char *h1 = fx_path(fx, "h1"), *h2 = fx_path(fx, "h2");

        fx_user(fx, "alice");
        assert_int_equal(mkdir(h1, 0755), 0);
        assert_int_equal(mkdir(h2, 0755), 0);
        assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL, reterr),
                         -EINVAL, "no default host");

        assert_ok(cat_host_add(fx->cat, "nfs1", h1, reterr));
        assert_ok(cat_folder_create(fx->cat, &spec, &f, reterr));
        assert_string_equal(f->host, "nfs1");
        cat_folder_free(f);

        assert_ok(cat_host_add(fx->cat, "nfs2", h2, reterr));
        spec.name = "b";
        assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL, reterr),
                         -EINVAL, "no default host");

        assert_ok(cat_host_add(fx->cat, "local", fx->root, reterr));
        assert_ok(cat_folder_create(fx->cat, &spec, &f, reterr));
        assert_string_equal(f->host, "local");
        cat_folder_free(f);

        spec.name = "c";
        spec.host = "nfs2";
        assert_ok(cat_folder_create(fx->cat, &spec, &f, reterr));
        assert_string_equal(f->host, "nfs2");
        cat_folder_free(f);
        free(h1);
        free(h2);
}

static void folder_whose_directory_cannot_be_made_is_not_recorded(void **state)
{
        struct fx *fx = *state;
        struct cat_folder_spec spec = { .name = "data", .user = "alice" };
        struct cat_user *u = NULL;
        char *scope;

        assert_ok(cat_user_add(fx->cat, "alice", (uid_t)-1, (gid_t)-1, &u,
                               reterr));
        /* A file where the user's scope directory should go. */
        assert_true(asprintf(&scope, "%s/user-%s", fx->root, u->id) > 0);
        fx_write_file(scope, "in the way");
        assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL, reterr),
                         -ENOTDIR, "cannot create");
        assert_int_equal(count_folders(fx), 0);
        free(scope);
        cat_user_free(u);
}

static void same_name_twice_for_one_user_is_eexist_even_in_trash(void **state)
{
        struct fx *fx = *state;
        struct cat_folder_spec spec = { .name = "data", .user = "alice" };
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL, reterr),
                         -EEXIST, id);
        assert_ok(cat_folder_delete(fx->cat, id, false, reterr));
        assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL, reterr),
                         -EEXIST, "visible to user 'alice'");
}

static void same_name_for_different_users_is_allowed(void **state)
{
        struct fx *fx = *state;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        fx_folder(fx, "data", "bob", NULL, CAT_PERM_WD);
        assert_int_equal(count_folders(fx), 2);
}

static void project_folder_may_not_clash_with_a_members_folder(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", "bob", NULL };
        struct cat_folder_spec spec = { .name = "data", .project = "ml" };

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_project(fx, "ml", members);
        fx_folder(fx, "data", "bob", NULL, CAT_PERM_WD);
        assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL, reterr),
                         -EEXIST, "visible to user 'bob'");
}

static void project_folder_names_are_unique_within_the_project(void **state)
{
        struct fx *fx = *state;
        struct cat_folder_spec spec = { .name = "data", .project = "ml" };

        fx_project(fx, "ml", NULL); /* no members at all */
        fx_folder(fx, "data", NULL, "ml", CAT_PERM_RW);
        assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL, reterr),
                         -EEXIST, "of project 'ml'");
}

static void user_folder_may_not_clash_with_a_project_folder_of_the_user(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", NULL };
        struct cat_folder_spec spec = { .name = "data", .user = "alice" };
        const char *id;

        fx_user(fx, "alice");
        fx_project(fx, "ml", members);
        id = fx_folder(fx, "data", NULL, "ml", CAT_PERM_RW);
        assert_unchanged(fx, cat_folder_create(fx->cat, &spec, NULL, reterr),
                         -EEXIST, id);
}

static void rename_changes_the_name_and_moves_no_data(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = NULL;
        char *before, *after, *file;
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        before = fx_backing(fx, id);
        assert_true(asprintf(&file, "%s/keep.txt", before) > 0);
        fx_write_file(file, "kept");
        assert_ok(cat_folder_rename(fx->cat, "data", "data2", reterr));
        assert_ok(cat_folder_resolve(fx->cat, id, NULL, &f, reterr));
        assert_string_equal(f->name, "data2");
        after = fx_backing(fx, id);
        assert_string_equal(before, after);
        assert_true(fx_exists(file));
        cat_folder_free(f);
        /* Renaming to the same name is a no-op, not a clash with itself. */
        assert_ok(cat_folder_rename(fx->cat, id, "data2", reterr));
        assert_unchanged(fx, cat_folder_rename(fx->cat, id, "..bad", reterr),
                         -EINVAL, "single '.'");
        assert_unchanged(fx, cat_folder_rename(fx->cat, "nope", "x", reterr),
                         -ENOENT, "no folder 'nope'");
        free(before);
        free(after);
        free(file);
}

static void rename_clash_is_checked_for_owner_members_and_grantees(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "bob", NULL };
        const char *shared, *proj;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_user(fx, "carol");
        fx_project(fx, "ml", members);

        /* Owner's own names. */
        fx_folder(fx, "a1", "alice", NULL, CAT_PERM_WD);
        shared = fx_folder(fx, "a2", "alice", NULL, CAT_PERM_WD);
        assert_unchanged(fx, cat_folder_rename(fx->cat, shared, "a1", reterr),
                         -EEXIST, "visible to user 'alice'");

        /* A grantee's names. */
        assert_ok(cat_folder_share(fx->cat, shared, "carol", CAT_PERM_RO,
                                   reterr));
        fx_folder(fx, "c1", "carol", NULL, CAT_PERM_WD);
        assert_unchanged(fx, cat_folder_rename(fx->cat, shared, "c1", reterr),
                         -EEXIST, "visible to user 'carol'");

        /* A project member's names. */
        proj = fx_folder(fx, "p1", NULL, "ml", CAT_PERM_RW);
        fx_folder(fx, "b1", "bob", NULL, CAT_PERM_WD);
        assert_unchanged(fx, cat_folder_rename(fx->cat, proj, "b1", reterr),
                         -EEXIST, "visible to user 'bob'");
        /* Names nobody concerned sees are free. */
        assert_ok(cat_folder_rename(fx->cat, proj, "c1", reterr));
}

static void shared_folder_cannot_become_an_automount_folder(void **state)
{
        struct fx *fx = *state;
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        id = fx_folder(fx, "local", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_share(fx->cat, id, "bob", CAT_PERM_RO, reterr));
        assert_unchanged(fx, cat_folder_rename(fx->cat, id, ".local", reterr),
                         -EINVAL, "automount");
        assert_ok(cat_folder_unshare(fx->cat, id, "bob", reterr));
        assert_ok(cat_folder_rename(fx->cat, id, ".local", reterr));
}

static void owner_gets_the_folders_permission(void **state)
{
        struct fx *fx = *state;
        const char *ro, *rw, *wd;

        fx_user(fx, "alice");
        ro = fx_folder(fx, "ro", "alice", NULL, CAT_PERM_RO);
        rw = fx_folder(fx, "rw", "alice", NULL, CAT_PERM_RW);
        wd = fx_folder(fx, "wd", "alice", NULL, CAT_PERM_NONE);
        assert_int_equal(fx_effective(fx, ro, "alice"), CAT_PERM_RO);
        assert_int_equal(fx_effective(fx, rw, "alice"), CAT_PERM_RW);
        assert_int_equal(fx_effective(fx, wd, "alice"), CAT_PERM_WD);
}

static void project_member_gets_the_folders_permission_or_a_per_user_grant(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", "bob", "carol", NULL };
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_user(fx, "carol");
        fx_project(fx, "ml", members);
        id = fx_folder(fx, "data", NULL, "ml", CAT_PERM_RW);
        assert_int_equal(fx_effective(fx, id, "alice"), CAT_PERM_RW);
        /* A per-user grant replaces it, higher or lower. */
        assert_ok(cat_folder_share(fx->cat, id, "bob", CAT_PERM_WD, reterr));
        assert_ok(cat_folder_share(fx->cat, id, "carol", CAT_PERM_RO, reterr));
        assert_int_equal(fx_effective(fx, id, "bob"), CAT_PERM_WD);
        assert_int_equal(fx_effective(fx, id, "carol"), CAT_PERM_RO);
        assert_int_equal(fx_effective(fx, id, "alice"), CAT_PERM_RW);
        /* Changing the folder's permission moves members without a grant. */
        {
                struct cat_folder_update up = { .set_permission = true,
                                                .permission = CAT_PERM_RO };

                assert_ok(cat_folder_set(fx->cat, id, &up, reterr));
        }
        assert_int_equal(fx_effective(fx, id, "alice"), CAT_PERM_RO);
        assert_int_equal(fx_effective(fx, id, "bob"), CAT_PERM_WD);
        assert_ok(cat_folder_unshare(fx->cat, id, "bob", reterr));
        assert_int_equal(fx_effective(fx, id, "bob"), CAT_PERM_RO);
}

static void grantee_gets_the_grant_and_stranger_gets_none(void **state)
{
        struct fx *fx = *state;
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_user(fx, "mallory");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_RO);
        assert_ok(cat_folder_share(fx->cat, id, "bob", CAT_PERM_WD, reterr));
        assert_int_equal(fx_effective(fx, id, "bob"), CAT_PERM_WD);
        assert_int_equal(fx_effective(fx, id, "alice"), CAT_PERM_RO);
        assert_int_equal(fx_effective(fx, id, "mallory"), CAT_PERM_NONE);
        /* Sharing again replaces the grant. */
        assert_ok(cat_folder_share(fx->cat, id, "bob", CAT_PERM_RO, reterr));
        assert_int_equal(fx_effective(fx, id, "bob"), CAT_PERM_RO);
        assert_ok(cat_folder_unshare(fx->cat, id, "bob", reterr));
        assert_int_equal(fx_effective(fx, id, "bob"), CAT_PERM_NONE);
        assert_unchanged(fx, cat_folder_unshare(fx->cat, id, "bob", reterr),
                         -ENOENT, "not shared with user 'bob'");
}

static void project_folder_shared_with_an_outsider_gives_the_grant(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", NULL };
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_project(fx, "ml", members);
        id = fx_folder(fx, "data", NULL, "ml", CAT_PERM_WD);
        assert_int_equal(fx_effective(fx, id, "bob"), CAT_PERM_NONE);
        assert_ok(cat_folder_share(fx->cat, id, "bob", CAT_PERM_RO, reterr));
        assert_int_equal(fx_effective(fx, id, "bob"), CAT_PERM_RO);
}

static void effective_permission_of_unknown_folder_or_user_is_enoent(void **state)
{
        struct fx *fx = *state;
        enum cat_perm p = CAT_PERM_WD;
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_RO);
        assert_fails(cat_folder_effective_permission(fx->cat,
                        "11111111-2222-3333-4444-555555555555", "alice", &p,
                        reterr), -ENOENT, "no folder");
        assert_fails(cat_folder_effective_permission(fx->cat, id, "nobody", &p,
                                                     reterr), -ENOENT,
                     "no user 'nobody'");
        assert_int_equal(p, CAT_PERM_WD);
}

static void stranger_cannot_resolve_folder_by_name_nor_uuid_nor_list_it(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = (struct cat_folder *)0x1, *v = NULL;
        char *e_unknown = NULL, *e_hidden = NULL;
        size_t n = 99;
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "mallory");
        id = fx_folder(fx, "secret", "alice", NULL, CAT_PERM_WD);
        assert_fails(cat_folder_resolve(fx->cat, "secret", "mallory", &f,
                                        reterr), -ENOENT, "no folder 'secret'");
        assert_fails(cat_folder_resolve(fx->cat, id, "mallory", &f, reterr),
                     -ENOENT, "no folder");
        assert_ptr_equal(f, (struct cat_folder *)0x1);
        assert_ok(cat_folder_list(fx->cat, "mallory", &v, &n, reterr));
        assert_int_equal(n, 0);
        cat_folder_list_free(v, n);

        /* Not guessable: an existing UUID reads like an unknown one. */
        assert_int_equal(cat_folder_resolve(fx->cat, id, "mallory", &f,
                                            &e_hidden), -ENOENT);
        {
                char unknown[CAT_UUID_STRLEN];

                cat_uuid_new(unknown);
                assert_int_equal(cat_folder_resolve(fx->cat, unknown, "mallory",
                                                    &f, &e_unknown), -ENOENT);
                assert_non_null(strstr(e_unknown, unknown));
                assert_non_null(strstr(e_hidden, id));
                assert_int_equal(strlen(e_unknown), strlen(e_hidden));
        }
        free(e_unknown);
        free(e_hidden);
}

static void folders_resolve_by_uuid_or_name(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = NULL;
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_RW);
        assert_ok(cat_folder_resolve(fx->cat, id, NULL, &f, reterr));
        assert_string_equal(f->name, "data");
        assert_int_equal(f->effective, CAT_PERM_NONE);
        cat_folder_free(f);
        assert_ok(cat_folder_resolve(fx->cat, "data", "alice", &f, reterr));
        assert_string_equal(f->id, id);
        assert_int_equal(f->effective, CAT_PERM_RW);
        cat_folder_free(f);
        assert_fails(cat_folder_resolve(fx->cat, "data", "nobody", &f, reterr),
                     -ENOENT, "no user 'nobody'");
        assert_fails(cat_folder_resolve(fx->cat, "", NULL, &f, reterr),
                     -EINVAL, NULL);
}

static void reasons_stay_on_one_line_whatever_the_input(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = NULL;
        char *err = NULL;

        assert_int_equal(cat_folder_resolve(fx->cat, "a\nb\x1b[2J\tc", NULL,
                                            &f, &err), -ENOENT);
        assert_string_equal(err, "no folder 'a\\nb\\x1b[2J\\tc'");
        free(err);
}

static void folder_named_like_a_uuid_still_resolves_by_name(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = NULL;
        const char *name = "01234567-89ab-cdef-0123-456789abcdef";
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, name, "alice", NULL, CAT_PERM_RW);
        assert_ok(cat_folder_resolve(fx->cat, name, "alice", &f, reterr));
        assert_string_equal(f->id, id);
        cat_folder_free(f);
}

static void ambiguous_name_is_enotuniq_listing_both_uuids(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = (struct cat_folder *)0x1;
        char a[CAT_UUID_STRLEN], b[CAT_UUID_STRLEN];

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        memcpy(a, fx_folder(fx, "data", "alice", NULL, CAT_PERM_RW), sizeof(a));
        memcpy(b, fx_folder(fx, "data", "bob", NULL, CAT_PERM_RW), sizeof(b));
        assert_fails(cat_folder_resolve(fx->cat, "data", NULL, &f, reterr),
                     -ENOTUNIQ, a);
        assert_fails(cat_folder_resolve(fx->cat, "data", NULL, &f, reterr),
                     -ENOTUNIQ, b);
        assert_ptr_equal(f, (struct cat_folder *)0x1);
        /* With a user, the name is unique among what that user sees. */
        assert_ok(cat_folder_resolve(fx->cat, "data", "bob", &f, reterr));
        assert_string_equal(f->id, b);
        cat_folder_free(f);
        /* Changing commands refuse an ambiguous name too. */
        assert_unchanged(fx, cat_folder_delete(fx->cat, "data", false, reterr),
                         -ENOTUNIQ, a);
}

static void list_shows_what_a_user_sees_ordered_by_name(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", NULL };
        struct cat_folder *v = NULL;
        size_t n = 0;
        const char *shared, *trashed;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_project(fx, "ml", members);
        fx_folder(fx, "zeta", "alice", NULL, CAT_PERM_RW);
        fx_folder(fx, "beta", NULL, "ml", CAT_PERM_RO);
        shared = fx_folder(fx, "alpha", "bob", NULL, CAT_PERM_WD);
        fx_folder(fx, "bobs-own", "bob", NULL, CAT_PERM_WD);
        trashed = fx_folder(fx, "gamma", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_share(fx->cat, shared, "alice", CAT_PERM_RW,
                                   reterr));
        assert_ok(cat_folder_delete(fx->cat, trashed, false, reterr));

        assert_ok(cat_folder_list(fx->cat, "alice", &v, &n, reterr));
        assert_int_equal(n, 4);
        assert_string_equal(v[0].name, "alpha");
        assert_int_equal(v[0].effective, CAT_PERM_RW);
        assert_string_equal(v[0].owner_name, "bob");
        assert_string_equal(v[1].name, "beta");
        assert_int_equal(v[1].effective, CAT_PERM_RO);
        assert_int_equal(v[1].owner_type, CAT_OWNER_PROJECT);
        assert_string_equal(v[1].owner_name, "ml");
        assert_string_equal(v[2].name, "gamma");
        assert_int_equal(v[2].status, CAT_STATUS_TRASH);
        assert_string_equal(v[3].name, "zeta");
        cat_folder_list_free(v, n);

        assert_ok(cat_folder_list(fx->cat, NULL, &v, &n, reterr));
        assert_int_equal(n, 5);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(v[i].effective, CAT_PERM_NONE);
        cat_folder_list_free(v, n);
}

static void automount_folders_cannot_be_shared(void **state)
{
        struct fx *fx = *state;
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        id = fx_folder(fx, ".local", "alice", NULL, CAT_PERM_WD);
        assert_unchanged(fx, cat_folder_share(fx->cat, id, "bob", CAT_PERM_RO,
                                              reterr),
                         -EINVAL, "automount");
}

static void project_automount_folder_takes_member_grants_but_no_shares(void **state)
{
        struct fx *fx = *state;
        const char *members[] = { "alice", NULL };
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_project(fx, "ml", members);
        id = fx_folder(fx, ".cache", NULL, "ml", CAT_PERM_WD);
        assert_ok(cat_folder_share(fx->cat, id, "alice", CAT_PERM_RO, reterr));
        assert_int_equal(fx_effective(fx, id, "alice"), CAT_PERM_RO);
        assert_unchanged(fx, cat_folder_share(fx->cat, id, "bob", CAT_PERM_RO,
                                              reterr),
                         -EINVAL, "automount");
}

static void sharing_with_the_owner_is_refused(void **state)
{
        struct fx *fx = *state;
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_RO);
        assert_unchanged(fx, cat_folder_share(fx->cat, id, "alice",
                                              CAT_PERM_WD, reterr),
                         -EINVAL, "owns");
        assert_unchanged(fx, cat_folder_share(fx->cat, id, "nobody",
                                              CAT_PERM_WD, reterr),
                         -ENOENT, "no user 'nobody'");
        assert_unchanged(fx, cat_folder_share(fx->cat, id, "alice",
                                              CAT_PERM_NONE, reterr),
                         -EINVAL, "permission");
}

static void sharing_a_name_the_grantee_already_sees_is_eexist(void **state)
{
        struct fx *fx = *state;
        const char *alices, *bobs;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        alices = fx_folder(fx, "data", "alice", NULL, CAT_PERM_RW);
        bobs = fx_folder(fx, "data", "bob", NULL, CAT_PERM_RW);
        assert_unchanged(fx, cat_folder_share(fx->cat, alices, "bob",
                                              CAT_PERM_RO, reterr),
                         -EEXIST, bobs);
}

static void folder_settings_change_and_bad_ones_are_refused(void **state)
{
        struct fx *fx = *state;
        struct cat_folder_update up = {
                .set_permission = true, .permission = CAT_PERM_RO,
                .set_quota = true, .quota_bytes = 4096,
                .set_cloneable = true, .cloneable = true,
        };
        struct cat_folder_update bad = { .set_permission = true,
                                         .permission = CAT_PERM_NONE };
        struct cat_folder_update neg = { .set_quota = true, .quota_bytes = -1 };
        struct cat_folder *f = NULL;
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_set(fx->cat, id, &up, reterr));
        assert_ok(cat_folder_resolve(fx->cat, id, "alice", &f, reterr));
        assert_int_equal(f->permission, CAT_PERM_RO);
        assert_int_equal(f->effective, CAT_PERM_RO);
        assert_int_equal(f->quota_bytes, 4096);
        assert_true(f->cloneable);
        cat_folder_free(f);
        up = (struct cat_folder_update){ .set_quota = true, .quota_bytes = 0 };
        assert_ok(cat_folder_set(fx->cat, id, &up, reterr));
        assert_ok(cat_folder_resolve(fx->cat, id, NULL, &f, reterr));
        assert_int_equal(f->quota_bytes, 0);
        assert_int_equal(f->permission, CAT_PERM_RO);
        cat_folder_free(f);
        assert_unchanged(fx, cat_folder_set(fx->cat, id, &bad, reterr),
                         -EINVAL, "permission");
        assert_unchanged(fx, cat_folder_set(fx->cat, id, &neg, reterr),
                         -EINVAL, "quota");
}

static void delete_moves_ready_to_trash_and_restore_back(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = NULL;
        const char *id;
        char *path;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        path = fx_backing(fx, id);
        assert_ok(cat_folder_delete(fx->cat, "data", false, reterr));
        assert_ok(cat_folder_resolve(fx->cat, id, "alice", &f, reterr));
        assert_int_equal(f->status, CAT_STATUS_TRASH);
        cat_folder_free(f);
        assert_true(fx_exists(path)); /* trash keeps the data */
        assert_unchanged(fx, cat_folder_delete(fx->cat, id, false, reterr),
                         -EINVAL, "already in the trash");
        assert_ok(cat_folder_restore(fx->cat, id, reterr));
        assert_ok(cat_folder_resolve(fx->cat, id, NULL, &f, reterr));
        assert_int_equal(f->status, CAT_STATUS_READY);
        cat_folder_free(f);
        assert_unchanged(fx, cat_folder_restore(fx->cat, id, reterr), -EINVAL,
                         "not in the trash");
        free(path);
}

static void purge_removes_row_grants_and_data_of_a_trashed_folder(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = NULL;
        char *path, *file, *outside, *link;
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_share(fx->cat, id, "bob", CAT_PERM_RO, reterr));
        path = fx_backing(fx, id);
        assert_true(asprintf(&file, "%s/sub/file", path) > 0);
        assert_true(asprintf(&link, "%s/sub/escape", path) > 0);
        outside = fx_path(fx, "outside");
        assert_int_equal(mkdir(outside, 0755), 0);
        {
                char *o = fx_path(fx, "outside/precious");

                fx_write_file(o, "do not remove");
                free(o);
        }
        {
                char *sub;

                assert_true(asprintf(&sub, "%s/sub", path) > 0);
                assert_int_equal(mkdir(sub, 0755), 0);
                free(sub);
        }
        fx_write_file(file, "x");
        assert_int_equal(symlink(outside, link), 0);

        assert_unchanged(fx, cat_folder_purge(fx->cat, id, false, reterr),
                         -EINVAL, "not in the trash");
        assert_true(fx_exists(file));
        assert_ok(cat_folder_delete(fx->cat, id, false, reterr));
        assert_ok(cat_folder_purge(fx->cat, id, false, reterr));
        assert_false(fx_exists(path));
        assert_int_equal(count_folders(fx), 0);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM grants"), 0);
        assert_fails(cat_folder_resolve(fx->cat, id, NULL, &f, reterr),
                     -ENOENT, NULL);
        /* The symlink was removed, never followed. */
        {
                char *o = fx_path(fx, "outside/precious");

                assert_true(fx_exists(o));
                free(o);
        }
        assert_fails(cat_folder_purge(fx->cat, id, false, reterr), -ENOENT,
                     NULL);
        free(path);
        free(file);
        free(link);
        free(outside);
}

static void mounted_folder_cannot_be_trashed_or_purged_unless_forced(void **state)
{
        struct fx *fx = *state;
        struct cat_session *s = NULL;
        struct cat_mount *m = NULL;
        size_t n = 0;
        const char *id;
        char *path;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        path = fx_backing(fx, id);
        assert_ok(cat_session_start(fx->cat, "alice", "/home/work", "h1",
                                    getpid(), fx->scratch, &s, &m, &n,
                                    reterr));
        assert_unchanged(fx, cat_folder_delete(fx->cat, id, false, reterr),
                         -EBUSY, s->id);
        assert_ok(cat_folder_delete(fx->cat, id, true, reterr));
        assert_unchanged(fx, cat_folder_purge(fx->cat, id, false, reterr),
                         -EBUSY, s->id);
        assert_true(fx_exists(path));
        /* Once the session ended, nothing holds it. */
        assert_ok(cat_session_end(fx->cat, s->id, reterr));
        assert_ok(cat_folder_restore(fx->cat, id, reterr));
        cat_session_free(s);
        cat_mount_list_free(m, n);
        assert_ok(cat_session_start(fx->cat, "alice", "/home/work", "h1",
                                    getpid(), fx->scratch, &s, &m, &n,
                                    reterr));
        assert_int_equal(n, 1);
        cat_mount_list_free(m, n);
        assert_ok(cat_folder_delete(fx->cat, id, true, reterr));
        assert_ok(cat_folder_purge(fx->cat, id, true, reterr));
        assert_false(fx_exists(path));
        cat_session_free(s);
        free(path);
}

static void clone_copies_data_into_a_new_folder_of_the_user(void **state)
{
        struct fx *fx = *state;
        struct cat_folder_spec spec = {
                .name = "dataset", .user = "alice", .cloneable = true,
                .usage_mode = CAT_USAGE_DATA, .permission = CAT_PERM_RW,
        };
        struct cat_folder *c = NULL;
        char *src, *dst, *p, buf[64];
        int64_t bytes = 0, files = 0;
        const char *id;
        ssize_t k;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        id = fx_folder_spec(fx, &spec);
        assert_ok(cat_folder_share(fx->cat, id, "bob", CAT_PERM_RO, reterr));
        src = fx_backing(fx, id);
        assert_true(asprintf(&p, "%s/dir", src) > 0);
        assert_int_equal(mkdir(p, 0750), 0);
        free(p);
        assert_true(asprintf(&p, "%s/dir/a.txt", src) > 0);
        fx_write_file(p, "hello");
        free(p);
        assert_true(asprintf(&p, "%s/link", src) > 0);
        assert_int_equal(symlink("../../../etc/passwd", p), 0);
        free(p);

        assert_ok(cat_folder_clone(fx->cat, id, "my-dataset", "bob", &c,
                                   reterr));
        assert_string_equal(c->name, "my-dataset");
        assert_string_equal(c->owner_name, "bob");
        assert_int_equal(c->usage_mode, CAT_USAGE_DATA);
        assert_int_equal(c->permission, CAT_PERM_RW);
        assert_string_equal(c->host, "local");
        dst = fx_backing(fx, c->id);
        assert_string_not_equal(src, dst);
        assert_true(asprintf(&p, "%s/dir/a.txt", dst) > 0);
        {
                FILE *f = fopen(p, "r");

                assert_non_null(f);
                assert_non_null(fgets(buf, sizeof(buf), f));
                fclose(f);
                assert_string_equal(buf, "hello");
        }
        free(p);
        assert_true(asprintf(&p, "%s/link", dst) > 0);
        k = readlink(p, buf, sizeof(buf) - 1);
        assert_true(k > 0);
        buf[k] = 0;
        assert_string_equal(buf, "../../../etc/passwd");
        free(p);
        assert_ok(cat_folder_usage(fx->cat, c->id, &bytes, &files, reterr));
        assert_int_equal(bytes, 5);
        assert_int_equal(files, 3);
        /* the copies are bob's: he created them, so rw lets him remove them */
        {
                struct cat_user *bob = NULL;
                int d = open(dst, O_PATH | O_DIRECTORY), sub;

                assert_ok(cat_user_get(fx->cat, "bob", &bob, reterr));
                assert_true(d >= 0);
                sub = openat(d, "dir", O_PATH | O_DIRECTORY);
                assert_true(sub >= 0);
                assert_int_equal(cat_creator_is(d, "dir", bob->id), 1);
                assert_int_equal(cat_creator_is(sub, "a.txt", bob->id), 1);
                assert_int_equal(cat_creator_is(d, "link", bob->id), 1);
                close(sub);
                close(d);
                cat_user_free(bob);
        }
        cat_folder_free(c);
        free(src);
        free(dst);
}

static void clone_is_refused_when_not_cloneable_invisible_or_clashing(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *c = (struct cat_folder *)0x1;
        const char *id;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_user(fx, "mallory");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_RW);
        assert_ok(cat_folder_share(fx->cat, id, "bob", CAT_PERM_RO, reterr));
        assert_unchanged(fx, cat_folder_clone(fx->cat, id, "copy", "bob", &c,
                                              reterr), -EPERM, "not cloneable");
        assert_unchanged(fx, cat_folder_clone(fx->cat, id, "copy", "mallory",
                                              &c, reterr), -ENOENT, NULL);
        assert_unchanged(fx, cat_folder_clone(fx->cat, id, "data", "alice", &c,
                                              reterr), -EEXIST, "'data'");
        assert_unchanged(fx, cat_folder_clone(fx->cat, id, ".ssh", "alice", &c,
                                              reterr), -EINVAL, "reserved");
        assert_ptr_equal(c, (struct cat_folder *)0x1);
        /* The owner may clone a folder that is not cloneable. */
        assert_ok(cat_folder_clone(fx->cat, id, "copy", "alice", NULL, reterr));
}

static void failed_clone_leaves_no_folder_and_no_directory(void **state)
{
        struct fx *fx = *state;
        struct cat_fsck_issue *issues = NULL;
        size_t n_issues = 0;
        char *src, *secret, *cmd;
        const char *id;
        pid_t pid;
        int status;

        if (geteuid() != 0)
                skip();
        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_WD);
        src = fx_backing(fx, id);
        assert_true(asprintf(&secret, "%s/secret", src) > 0);
        fx_write_file(secret, "x");
        /* Everything belongs to an unprivileged uid, but the one file it
         * cannot read: copying as that uid fails half way. */
        assert_true(asprintf(&cmd, "chown -R 65534:65534 '%s'", fx->dir) > 0);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(chown(secret, 0, 0), 0);
        assert_int_equal(chmod(secret, 0600), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                cat_catalog *cat = NULL;
                int r;

                if (setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0 ||
                    cat_open(fx->db, 0, &cat, NULL) < 0)
                        _exit(100);
                r = cat_folder_clone(cat, id, "copy", "alice", NULL, NULL);
                cat_close(cat);
                _exit(r == -EACCES ? 0 : 101);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(count_folders(fx), 1);
        assert_ok(cat_fsck(fx->cat, "h1", false, &issues, &n_issues, reterr));
        assert_int_equal(n_issues, 0); /* no orphan directory either */
        cat_fsck_issue_list_free(issues, n_issues);
        free(cmd);
        free(secret);
        free(src);
}

static void usage_counts_bytes_of_files_and_entries(void **state)
{
        struct fx *fx = *state;
        int64_t bytes = -1, files = -1;
        char *path, *p;
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder(fx, "data", "alice", NULL, CAT_PERM_RW);
        assert_ok(cat_folder_usage(fx->cat, id, &bytes, &files, reterr));
        assert_int_equal(bytes, 0);
        assert_int_equal(files, 0);
        path = fx_backing(fx, id);
        assert_true(asprintf(&p, "%s/a", path) > 0);
        fx_write_file(p, "12345678");
        free(p);
        assert_true(asprintf(&p, "%s/d", path) > 0);
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
        assert_true(asprintf(&p, "%s/d/b", path) > 0);
        fx_write_file(p, "12");
        free(p);
        assert_true(asprintf(&p, "%s/d/l", path) > 0);
        assert_int_equal(symlink("/", p), 0);
        free(p);
        assert_ok(cat_folder_usage(fx->cat, "data", &bytes, &files, reterr));
        assert_int_equal(bytes, 10);
        assert_int_equal(files, 4);
        free(path);
}

static double seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * SPEC section 7: 10,000 folders per user.  The rows are inserted directly
 * (creating them one by one would time fsync, not the library); then every
 * operation a user or a daemon runs must stay far below a second's scale.
 */
static void ten_thousand_folders_of_one_user_stay_fast(void **state)
{
        enum { N = 10000 };
        struct fx *fx = *state;
        struct cat_folder *v = NULL, *f = NULL;
        struct cat_session *s = NULL;
        struct cat_mount *m = NULL;
        struct cat_user *u = NULL;
        size_t n = 0;
        double t;
        char *sql;

        assert_ok(cat_user_add(fx->cat, "alice", (uid_t)-1, (gid_t)-1, &u,
                               reterr));
        fx_user(fx, "bob");
        assert_true(asprintf(&sql,
                "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1"
                " FROM k WHERE i < %d)"
                " INSERT INTO folders SELECT printf('%%08x-0000-4000-8000-"
                "%%012x', i, i), printf('f%%05d', i), 'user', '%s', 'local',"
                " 'general', 'rw', 0, 0, 'ready', 1, 1 FROM k", N, u->id) > 0);
        fx_sql(fx, sql);
        free(sql);

        t = seconds();
        assert_ok(cat_folder_list(fx->cat, "alice", &v, &n, reterr));
        assert_int_equal(n, N);
        assert_string_equal(v[0].name, "f00001");
        assert_string_equal(v[N - 1].name, "f10000");
        assert_int_equal(v[N - 1].effective, CAT_PERM_RW);
        cat_folder_list_free(v, n);
        assert_ok(cat_folder_list(fx->cat, "bob", &v, &n, reterr));
        assert_int_equal(n, 0);
        cat_folder_list_free(v, n);
        for (int i = 0; i < 100; i++) {
                assert_ok(cat_folder_resolve(fx->cat, "f05000", "alice", &f,
                                             reterr));
                cat_folder_free(f);
        }
        fx_folder(fx, "one-more", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_rename(fx->cat, "f00002", "renamed", reterr));
        assert_ok(cat_folder_share(fx->cat, "f00003", "bob", CAT_PERM_RO,
                                   reterr));
        assert_ok(cat_session_start(fx->cat, "alice", "/home/work", "h1",
                                    getpid(), fx->scratch, &s, &m, &n,
                                    reterr));
        assert_int_equal(n, N + 1);
        t = seconds() - t;
        print_message("10,000 folders: %.2f s\n", t);
        /* About 0.3 s here; a quadratic step would take minutes. */
        if (t > 10.0)
                fail_msg("10,000 folders took %.1f s", t);
        cat_session_free(s);
        cat_mount_list_free(m, n);
        cat_user_free(u);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(creating_a_folder_records_it_and_makes_its_backing_directory),
                T(project_folder_lives_under_the_project_scope),
                T(bad_folder_names_are_refused_on_create),
                T(folder_needs_exactly_one_existing_owner_and_host),
                cmocka_unit_test_setup_teardown(
                        default_host_is_local_else_the_only_host_else_none,
                        fx_setup_bare, fx_teardown),
                T(folder_whose_directory_cannot_be_made_is_not_recorded),
                T(same_name_twice_for_one_user_is_eexist_even_in_trash),
                T(same_name_for_different_users_is_allowed),
                T(project_folder_may_not_clash_with_a_members_folder),
                T(project_folder_names_are_unique_within_the_project),
                T(user_folder_may_not_clash_with_a_project_folder_of_the_user),
                T(rename_changes_the_name_and_moves_no_data),
                T(rename_clash_is_checked_for_owner_members_and_grantees),
                T(shared_folder_cannot_become_an_automount_folder),
                T(owner_gets_the_folders_permission),
                T(project_member_gets_the_folders_permission_or_a_per_user_grant),
                T(grantee_gets_the_grant_and_stranger_gets_none),
                T(project_folder_shared_with_an_outsider_gives_the_grant),
                T(effective_permission_of_unknown_folder_or_user_is_enoent),
                T(stranger_cannot_resolve_folder_by_name_nor_uuid_nor_list_it),
                T(folders_resolve_by_uuid_or_name),
                T(reasons_stay_on_one_line_whatever_the_input),
                T(folder_named_like_a_uuid_still_resolves_by_name),
                T(ambiguous_name_is_enotuniq_listing_both_uuids),
                T(list_shows_what_a_user_sees_ordered_by_name),
                T(automount_folders_cannot_be_shared),
                T(project_automount_folder_takes_member_grants_but_no_shares),
                T(sharing_with_the_owner_is_refused),
                T(sharing_a_name_the_grantee_already_sees_is_eexist),
                T(folder_settings_change_and_bad_ones_are_refused),
                T(delete_moves_ready_to_trash_and_restore_back),
                T(purge_removes_row_grants_and_data_of_a_trashed_folder),
                T(mounted_folder_cannot_be_trashed_or_purged_unless_forced),
                T(clone_copies_data_into_a_new_folder_of_the_user),
                T(clone_is_refused_when_not_cloneable_invisible_or_clashing),
                T(failed_clone_leaves_no_folder_and_no_directory),
                T(usage_counts_bytes_of_files_and_entries),
                T(ten_thousand_folders_of_one_user_stay_fast),
        };

        return cmocka_run_group_tests_name("folders", tests, NULL, NULL);
}
