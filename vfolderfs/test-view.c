/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-view.c - unit tests of the daemon's session view: every cell of the
 * permission table of SPEC section 3 as view_check_permission() answers it,
 * and the layout view_build() makes from a session's mounts (folders under
 * /home/work at their relative paths, intermediate scratch directories made
 * for real, targets outside /home/work recorded with a hidden node, bad layouts
 * refused), and the storage hosts' indices kept across versions.  The FUSE
 * side is covered by tests/integration.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "view.h"

struct fixture {
        char dir[64];    /* temporary directory */
        int scratch_fd;  /* O_PATH fd of dir/scratch */
        char backing[96];/* dir/backing, an existing directory */
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        char path[96];

        assert_non_null(f);
        strcpy(f->dir, "/tmp/vf-view-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(path, sizeof(path), "%s/scratch", f->dir);
        assert_int_equal(mkdir(path, 0755), 0);
        f->scratch_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->scratch_fd >= 0);
        snprintf(f->backing, sizeof(f->backing), "%s/backing", f->dir);
        assert_int_equal(mkdir(f->backing, 0755), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[128];

        close(f->scratch_fd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
                return -1;
        free(f);
        return 0;
}

static struct cat_mount mount_of(const char *name, const char *target,
                                 enum cat_perm perm, const char *backing)
{
        struct cat_mount m;

        memset(&m, 0, sizeof(m));
        m.folder_name = (char *)name;
        m.target = (char *)target;
        m.permission = perm;
        m.backing_path = (char *)backing;
        return m;
}

/* A view with one folder of each permission, for the table tests. */
static struct view *table_view(struct fixture *f, bool rw_can_delete)
{
        struct cat_mount m[3] = {
                mount_of("ro", CAT_HOME "/ro", CAT_PERM_RO, f->backing),
                mount_of("rw", CAT_HOME "/rw", CAT_PERM_RW, f->backing),
                mount_of("wd", CAT_HOME "/wd", CAT_PERM_WD, f->backing),
        };
        struct view *v = NULL;

        assert_int_equal(view_build(m, 3, f->scratch_fd, rw_can_delete,
                                    (uid_t)-1, (gid_t)-1, &v, NULL),
                         0);
        return v;
}

static void read_is_allowed_everywhere(void **state)
{
        struct view *v = table_view(*state, false);

        for (int i = 0; i < 3; i++)
                assert_int_equal(view_check_permission(v, i, VIEW_OP_READ),
                                 0);
        assert_int_equal(view_check_permission(v, VIEW_SCRATCH, VIEW_OP_READ),
                         0);
        view_free(v);
}

static void ro_folder_refuses_changes_and_removals_with_erofs(void **state)
{
        struct view *v = table_view(*state, false);

        assert_int_equal(view_check_permission(v, 0, VIEW_OP_CHANGE), EROFS);
        assert_int_equal(view_check_permission(v, 0, VIEW_OP_REMOVE), EROFS);
        view_free(v);
}

static void rw_folder_allows_changes_and_refuses_removal_with_eperm(void **state)
{
        struct view *v = table_view(*state, false);

        assert_int_equal(view_check_permission(v, 1, VIEW_OP_CHANGE), 0);
        assert_int_equal(view_check_permission(v, 1, VIEW_OP_REMOVE), EPERM);
        view_free(v);
}

static void rw_folder_removes_only_entries_the_user_created(void **state)
{
        struct view *v = table_view(*state, false);

        assert_true(view_asks_creator(v, 1));
        assert_int_equal(view_check_entry(v, 1, VIEW_OP_REMOVE, true), 0);
        assert_int_equal(view_check_entry(v, 1, VIEW_OP_REMOVE, false), EPERM);
        /* nowhere else does the creator matter */
        assert_false(view_asks_creator(v, 0));
        assert_false(view_asks_creator(v, 2));
        assert_false(view_asks_creator(v, VIEW_SCRATCH));
        assert_false(view_asks_creator(v, 3));
        assert_int_equal(view_check_entry(v, 0, VIEW_OP_REMOVE, true), EROFS);
        assert_int_equal(view_check_entry(v, 2, VIEW_OP_REMOVE, false), 0);
        view_free(v);
        v = table_view(*state, true);
        assert_false(view_asks_creator(v, 1));
        assert_int_equal(view_check_entry(v, 1, VIEW_OP_REMOVE, false), 0);
        view_free(v);
}

static void rw_can_delete_makes_rw_remove_like_wd(void **state)
{
        struct view *v = table_view(*state, true);

        assert_int_equal(view_check_permission(v, 1, VIEW_OP_REMOVE), 0);
        /* and leaves ro alone */
        assert_int_equal(view_check_permission(v, 0, VIEW_OP_REMOVE), EROFS);
        view_free(v);
}

static void wd_folder_and_scratch_allow_everything(void **state)
{
        struct view *v = table_view(*state, false);

        assert_int_equal(view_check_permission(v, 2, VIEW_OP_CHANGE), 0);
        assert_int_equal(view_check_permission(v, 2, VIEW_OP_REMOVE), 0);
        assert_int_equal(view_check_permission(v, VIEW_SCRATCH,
                                               VIEW_OP_CHANGE), 0);
        assert_int_equal(view_check_permission(v, VIEW_SCRATCH,
                                               VIEW_OP_REMOVE), 0);
        view_free(v);
}

static void unknown_folder_index_is_eio(void **state)
{
        struct view *v = table_view(*state, false);

        assert_int_equal(view_check_permission(v, 3, VIEW_OP_CHANGE), EIO);
        view_free(v);
}

static void folders_appear_at_their_path_under_home(void **state)
{
        struct fixture *f = *state;
        struct cat_mount m[4] = {
                mount_of("data", CAT_HOME "/data", CAT_PERM_RO, f->backing),
                mount_of("proj", CAT_HOME "/a/b", CAT_PERM_RW, f->backing),
                mount_of("deep", CAT_HOME "/a/c/d", CAT_PERM_WD, f->backing),
                mount_of("ws", "/workspace", CAT_PERM_RO, f->backing),
        };
        struct view *v = NULL;
        struct stat st;
        int a, b, c, d, data;

        assert_int_equal(view_build(m, 4, f->scratch_fd, false, (uid_t)-1,
                                    (gid_t)-1, &v, NULL),
                         0);
        data = view_child(v, VIEW_ROOT, "data");
        assert_true(data > 0);
        assert_int_equal(v->nodes[data].kind, VIEW_NODE_FOLDER);
        assert_int_equal(v->nodes[data].folder, 0);
        assert_int_equal(v->folders[0].node, data);

        a = view_child(v, VIEW_ROOT, "a");
        assert_true(a > 0);
        assert_int_equal(v->nodes[a].kind, VIEW_NODE_DIR);
        /* the intermediate directory exists for real in scratch */
        assert_int_equal(fstatat(f->scratch_fd, "a", &st, AT_SYMLINK_NOFOLLOW),
                         0);
        assert_true(S_ISDIR(st.st_mode));
        assert_true(v->nodes[a].ino == st.st_ino);
        assert_int_equal(fstatat(f->scratch_fd, "a/c", &st,
                                 AT_SYMLINK_NOFOLLOW), 0);

        b = view_child(v, a, "b");
        assert_true(b > 0);
        assert_int_equal(v->nodes[b].folder, 1);
        c = view_child(v, a, "c");
        assert_true(c > 0);
        d = view_child(v, c, "d");
        assert_true(d > 0);
        assert_int_equal(v->nodes[d].folder, 2);

        /* outside /home/work: recorded, not placed */
        assert_int_equal(v->n_folders, 4);
        assert_int_equal(v->folders[3].node, -1);
        assert_int_equal(view_child(v, VIEW_ROOT, "workspace"), -1);
        /* ... but reachable, by its hidden name only, as the bind source */
        {
                int h = v->folders[3].hidden_node;

                assert_true(h > 0);
                assert_int_equal(v->nodes[h].kind, VIEW_NODE_FOLDER);
                assert_int_equal(v->nodes[h].folder, 3);
                assert_int_equal(v->nodes[h].parent, VIEW_ROOT);
                assert_string_equal(v->nodes[h].name,
                                    VIEW_TARGET_PREFIX "3");
                assert_int_equal(view_hidden(v, VIEW_TARGET_PREFIX "3"), h);
                assert_int_equal(view_child(v, VIEW_ROOT,
                                            VIEW_TARGET_PREFIX "3"), -1);
                for (int n = v->nodes[VIEW_ROOT].first_child; n >= 0;
                     n = v->nodes[n].next_sibling)
                        assert_int_not_equal(n, h);
                /* folders under the mount have no hidden entry */
                assert_int_equal(v->folders[0].hidden_node, -1);
                assert_int_equal(view_hidden(v, VIEW_TARGET_PREFIX "0"), -1);
                assert_int_equal(view_hidden(v, VIEW_TARGET_PREFIX "03"), -1);
                assert_int_equal(view_hidden(v, VIEW_TARGET_PREFIX "4"), -1);
                assert_int_equal(view_hidden(v, VIEW_TARGET_PREFIX), -1);
                assert_int_equal(view_hidden(v, VIEW_TARGET_PREFIX "3x"), -1);
                assert_int_equal(view_hidden(v, "workspace"), -1);
        }
        /* no entry for a folder's own name when it has an alias */
        assert_int_equal(view_child(v, VIEW_ROOT, "proj"), -1);
        assert_int_equal(view_child(v, VIEW_ROOT, "b"), -1);
        view_free(v);
}

static void missing_backing_directory_is_reported_not_fatal(void **state)
{
        struct fixture *f = *state;
        struct cat_mount m = mount_of("gone", CAT_HOME "/gone", CAT_PERM_RW,
                                      "/nonexistent/vfolderfs/backing");
        struct view *v = NULL;

        assert_int_equal(view_build(&m, 1, f->scratch_fd, false, (uid_t)-1,
                                    (gid_t)-1, &v, NULL),
                         0);
        assert_int_equal(v->folders[0].backing_errno, ENOENT);
        assert_true(view_child(v, VIEW_ROOT, "gone") > 0);
        view_free(v);
}

static void duplicate_and_nested_targets_are_refused(void **state)
{
        struct fixture *f = *state;
        struct cat_mount dup[2] = {
                mount_of("x", CAT_HOME "/same", CAT_PERM_RO, f->backing),
                mount_of("y", CAT_HOME "/same", CAT_PERM_RO, f->backing),
        };
        struct cat_mount nested[2] = {
                mount_of("x", CAT_HOME "/outer", CAT_PERM_RO, f->backing),
                mount_of("y", CAT_HOME "/outer/inner", CAT_PERM_RO,
                         f->backing),
        };
        struct view *v = NULL;
        char *err = NULL;

        assert_int_equal(view_build(dup, 2, f->scratch_fd, false, (uid_t)-1,
                                    (gid_t)-1, &v, &err),
                         -EINVAL);
        assert_null(v);
        assert_non_null(err);
        assert_non_null(strstr(err, "/same"));
        free(err);
        err = NULL;
        assert_int_equal(view_build(nested, 2, f->scratch_fd, false,
                                    (uid_t)-1, (gid_t)-1, &v, &err),
                         -EINVAL);
        assert_null(v);
        assert_non_null(err);
        free(err);
}

static void intermediate_directory_never_follows_a_symlink(void **state)
{
        struct fixture *f = *state;
        struct cat_mount m = mount_of("p", CAT_HOME "/trap/p", CAT_PERM_RW,
                                      f->backing);
        struct view *v = NULL;
        char *err = NULL;

        /* scratch/trap is a symlink to somewhere else */
        assert_int_equal(symlinkat(f->backing, f->scratch_fd, "trap"), 0);
        assert_true(view_build(&m, 1, f->scratch_fd, false, (uid_t)-1,
                               (gid_t)-1, &v, &err) < 0);
        assert_null(v);
        free(err);
}

static void many_folders_are_all_found(void **state)
{
        struct fixture *f = *state;
        enum { N = 10000 };
        struct cat_mount *m = calloc(N, sizeof(*m));
        char (*targets)[64] = calloc(N, 64);
        struct view *v = NULL;

        assert_non_null(m);
        assert_non_null(targets);
        for (int i = 0; i < N; i++) {
                snprintf(targets[i], 64, CAT_HOME "/f%05d", i);
                m[i] = mount_of(targets[i] + strlen(CAT_HOME) + 1, targets[i],
                                CAT_PERM_RW, f->backing);
        }
        assert_int_equal(view_build(m, N, f->scratch_fd, false, (uid_t)-1,
                                    (gid_t)-1, &v, NULL),
                         0);
        for (int i = 0; i < N; i++) {
                int n = view_child(v, VIEW_ROOT, targets[i] +
                                                 strlen(CAT_HOME) + 1);

                assert_true(n > 0);
                assert_int_equal(v->nodes[n].folder, i);
        }
        assert_int_equal(view_child(v, VIEW_ROOT, "f10000"), -1);
        view_free(v);
        free(targets);
        free(m);
}

static struct cat_mount mount_id(const char *id, const char *name,
                                 const char *target, enum cat_perm perm,
                                 const char *backing)
{
        struct cat_mount m = mount_of(name, target, perm, backing);

        snprintf(m.folder_id, sizeof(m.folder_id), "%s", id);
        return m;
}

static void update_keeps_indices_and_detaches_what_went_or_moved(void **state)
{
        struct fixture *f = *state;
        struct cat_mount m1[3] = {
                mount_id("id-a", "a", CAT_HOME "/a", CAT_PERM_WD, f->backing),
                mount_id("id-b", "b", CAT_HOME "/b", CAT_PERM_WD, f->backing),
                mount_id("id-c", "c", CAT_HOME "/x/c", CAT_PERM_RW, f->backing),
        };
        /* a trashed, b renamed to b2 and now ro, c unchanged, d new */
        struct cat_mount m2[3] = {
                mount_id("id-d", "d", CAT_HOME "/d", CAT_PERM_RO, f->backing),
                mount_id("id-c", "c", CAT_HOME "/x/c", CAT_PERM_RW, f->backing),
                mount_id("id-b", "b2", CAT_HOME "/b2", CAT_PERM_RO, f->backing),
        };
        struct view *v1 = NULL, *v2 = NULL, *v3 = NULL;
        int old_b, x;

        assert_int_equal(view_build(m1, 3, f->scratch_fd, false, (uid_t)-1,
                                    (gid_t)-1, &v1, NULL), 0);
        old_b = v1->folders[1].node;
        x = view_child(v1, VIEW_ROOT, "x");
        assert_int_equal(view_update(v1, m2, 3, f->scratch_fd, (uid_t)-1,
                                     (gid_t)-1, &v2, NULL), 0);
        /* the old view is untouched */
        assert_int_equal(view_child(v1, VIEW_ROOT, "a"), v1->folders[0].node);
        assert_false(v1->folders[0].gone);

        assert_int_equal(v2->n_folders, 4);
        assert_true(v2->folders[0].gone);
        assert_int_equal(view_child(v2, VIEW_ROOT, "a"), -1);
        assert_int_equal(view_check_permission(v2, 0, VIEW_OP_READ), EIO);
        assert_int_equal(view_check_permission(v2, 0, VIEW_OP_CHANGE), EIO);

        assert_false(v2->folders[1].gone);
        assert_string_equal(v2->folders[1].name, "b2");
        assert_int_equal(view_child(v2, VIEW_ROOT, "b"), -1);
        assert_int_equal(view_child(v2, VIEW_ROOT, "b2"), v2->folders[1].node);
        assert_int_equal(v2->nodes[v2->folders[1].node].folder, 1);
        assert_int_equal(view_check_permission(v2, 1, VIEW_OP_CHANGE), EROFS);
        /* the old node keeps its index and parent (".." of old inodes) */
        assert_true(v2->nodes[old_b].gone);
        assert_int_equal(v2->nodes[old_b].parent, VIEW_ROOT);

        /* unchanged folders keep their nodes, intermediate dirs too */
        assert_int_equal(view_child(v2, VIEW_ROOT, "x"), x);
        assert_int_equal(view_child(v2, x, "c"), v1->folders[2].node);

        assert_string_equal(v2->folders[3].folder_id, "id-d");
        assert_int_equal(view_child(v2, VIEW_ROOT, "d"), v2->folders[3].node);

        /* back from the trash: same index, a new node */
        assert_int_equal(view_update(v2, m1, 3, f->scratch_fd, (uid_t)-1,
                                     (gid_t)-1, &v3, NULL), 0);
        assert_false(v3->folders[0].gone);
        assert_int_equal(view_child(v3, VIEW_ROOT, "a"), v3->folders[0].node);
        assert_true(v3->folders[3].gone);
        assert_int_equal(view_child(v3, VIEW_ROOT, "b"), v3->folders[1].node);
        assert_int_equal(view_child(v3, VIEW_ROOT, "b2"), -1);
        view_free(v1);
        view_free(v2);
        view_free(v3);
}

static struct cat_mount on_host(struct cat_mount m, const char *host)
{
        m.host = (char *)host;
        return m;
}

/*
 * Folders on one storage host share its index (the session loop's queue,
 * loop.h); indices only grow across versions, a folder on a new host gets
 * a new one.
 */
static void folders_on_one_host_share_its_index_in_every_version(void **state)
{
        struct fixture *f = *state;
        struct cat_mount m1[3] = {
                on_host(mount_id("id-a", "a", CAT_HOME "/a", CAT_PERM_WD,
                                 f->backing), "nfs1"),
                on_host(mount_id("id-b", "b", CAT_HOME "/b", CAT_PERM_WD,
                                 f->backing), "local"),
                on_host(mount_id("id-c", "c", CAT_HOME "/c", CAT_PERM_RW,
                                 f->backing), "nfs1"),
        };
        /* a gone, d new on a new host, e new on nfs1 */
        struct cat_mount m2[4] = {
                on_host(mount_id("id-b", "b", CAT_HOME "/b", CAT_PERM_WD,
                                 f->backing), "local"),
                on_host(mount_id("id-c", "c", CAT_HOME "/c", CAT_PERM_RW,
                                 f->backing), "nfs1"),
                on_host(mount_id("id-d", "d", CAT_HOME "/d", CAT_PERM_RW,
                                 f->backing), "nfs2"),
                on_host(mount_id("id-e", "e", CAT_HOME "/e", CAT_PERM_RW,
                                 f->backing), "nfs1"),
        };
        struct view *v1 = NULL, *v2 = NULL;

        assert_int_equal(view_build(m1, 3, f->scratch_fd, false, (uid_t)-1,
                                    (gid_t)-1, &v1, NULL), 0);
        assert_int_equal(v1->n_hosts, 2);
        assert_int_equal(v1->folders[0].host, v1->folders[2].host);
        assert_int_not_equal(v1->folders[0].host, v1->folders[1].host);
        assert_string_equal(v1->hosts[v1->folders[0].host], "nfs1");
        assert_string_equal(v1->hosts[v1->folders[1].host], "local");

        assert_int_equal(view_update(v1, m2, 4, f->scratch_fd, (uid_t)-1,
                                     (gid_t)-1, &v2, NULL), 0);
        assert_int_equal(v2->n_hosts, 3);
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(v2->folders[i].host, v1->folders[i].host);
                assert_string_equal(v2->hosts[i < 2 ? i : 0],
                                    v1->hosts[i < 2 ? i : 0]);
        }
        assert_string_equal(v2->folders[3].folder_id, "id-d");
        assert_int_equal(v2->folders[3].host, 2);
        assert_string_equal(v2->hosts[2], "nfs2");
        assert_string_equal(v2->folders[4].folder_id, "id-e");
        assert_int_equal(v2->folders[4].host, v1->folders[0].host);
        view_free(v1);
        view_free(v2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(read_is_allowed_everywhere,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(
                        update_keeps_indices_and_detaches_what_went_or_moved,
                        setup, teardown),
                cmocka_unit_test_setup_teardown(
                        ro_folder_refuses_changes_and_removals_with_erofs,
                        setup, teardown),
                cmocka_unit_test_setup_teardown(
                        rw_folder_allows_changes_and_refuses_removal_with_eperm,
                        setup, teardown),
                cmocka_unit_test_setup_teardown(
                        rw_can_delete_makes_rw_remove_like_wd, setup,
                        teardown),
                cmocka_unit_test_setup_teardown(
                        wd_folder_and_scratch_allow_everything, setup,
                        teardown),
                cmocka_unit_test_setup_teardown(
                        rw_folder_removes_only_entries_the_user_created,
                        setup, teardown),
                cmocka_unit_test_setup_teardown(unknown_folder_index_is_eio,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(
                        folders_appear_at_their_path_under_home, setup,
                        teardown),
                cmocka_unit_test_setup_teardown(
                        missing_backing_directory_is_reported_not_fatal,
                        setup, teardown),
                cmocka_unit_test_setup_teardown(
                        duplicate_and_nested_targets_are_refused, setup,
                        teardown),
                cmocka_unit_test_setup_teardown(
                        intermediate_directory_never_follows_a_symlink,
                        setup, teardown),
                cmocka_unit_test_setup_teardown(many_folders_are_all_found,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(
                        folders_on_one_host_share_its_index_in_every_version,
                        setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
