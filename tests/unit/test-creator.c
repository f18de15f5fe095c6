/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-creator.c - unit tests of metadata/creator.c: the permission table
 * of SPEC section 3 (every permission x operation x own/someone else's x
 * rw_can_delete, written out here, not derived), the names reserved for
 * vfolderfs's own attributes, the creator record on every type of entry
 * (by descriptor and by name, never following a symlink, never replaced,
 * user.* when trusted.* is refused, trusted.* winning over user.*), the
 * check of a whole tree, and the directory lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "catalog-private.h"
#include "unit.h"

#define ALICE "0b7c1a9e-3f2d-4c55-9d1e-6a8b2f4e7c10"
#define BOB "5e2d8f41-9a3c-4b7e-8f60-1d2c3b4a5f6e"

/* ---------------------------------------------------------------------------
 * The table.
 */

struct cell {
        enum cat_perm perm;
        enum cat_op op;
        bool own, rcd;
        int expect;
};

static void permission_table_matches_spec_in_every_cell(void **state)
{
        /* SPEC section 3, one line per cell. */
        static const struct cell cells[] = {
                { CAT_PERM_RO, CAT_OP_READ, false, false, 0 },
                { CAT_PERM_RO, CAT_OP_READ, true, false, 0 },
                { CAT_PERM_RO, CAT_OP_READ, false, true, 0 },
                { CAT_PERM_RO, CAT_OP_READ, true, true, 0 },
                { CAT_PERM_RO, CAT_OP_CHANGE, false, false, -EROFS },
                { CAT_PERM_RO, CAT_OP_CHANGE, true, false, -EROFS },
                { CAT_PERM_RO, CAT_OP_CHANGE, false, true, -EROFS },
                { CAT_PERM_RO, CAT_OP_CHANGE, true, true, -EROFS },
                { CAT_PERM_RO, CAT_OP_REMOVE, false, false, -EROFS },
                { CAT_PERM_RO, CAT_OP_REMOVE, true, false, -EROFS },
                { CAT_PERM_RO, CAT_OP_REMOVE, false, true, -EROFS },
                { CAT_PERM_RO, CAT_OP_REMOVE, true, true, -EROFS },
                { CAT_PERM_RW, CAT_OP_READ, false, false, 0 },
                { CAT_PERM_RW, CAT_OP_READ, true, false, 0 },
                { CAT_PERM_RW, CAT_OP_READ, false, true, 0 },
                { CAT_PERM_RW, CAT_OP_READ, true, true, 0 },
                { CAT_PERM_RW, CAT_OP_CHANGE, false, false, 0 },
                { CAT_PERM_RW, CAT_OP_CHANGE, true, false, 0 },
                { CAT_PERM_RW, CAT_OP_CHANGE, false, true, 0 },
                { CAT_PERM_RW, CAT_OP_CHANGE, true, true, 0 },
                { CAT_PERM_RW, CAT_OP_REMOVE, false, false, -EPERM },
                { CAT_PERM_RW, CAT_OP_REMOVE, true, false, 0 },
                { CAT_PERM_RW, CAT_OP_REMOVE, false, true, 0 },
                { CAT_PERM_RW, CAT_OP_REMOVE, true, true, 0 },
                { CAT_PERM_WD, CAT_OP_READ, false, false, 0 },
                { CAT_PERM_WD, CAT_OP_READ, true, false, 0 },
                { CAT_PERM_WD, CAT_OP_READ, false, true, 0 },
                { CAT_PERM_WD, CAT_OP_READ, true, true, 0 },
                { CAT_PERM_WD, CAT_OP_CHANGE, false, false, 0 },
                { CAT_PERM_WD, CAT_OP_CHANGE, true, false, 0 },
                { CAT_PERM_WD, CAT_OP_CHANGE, false, true, 0 },
                { CAT_PERM_WD, CAT_OP_CHANGE, true, true, 0 },
                { CAT_PERM_WD, CAT_OP_REMOVE, false, false, 0 },
                { CAT_PERM_WD, CAT_OP_REMOVE, true, false, 0 },
                { CAT_PERM_WD, CAT_OP_REMOVE, false, true, 0 },
                { CAT_PERM_WD, CAT_OP_REMOVE, true, true, 0 },
        };
        int cell_count = 0;

        (void)state;
        for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
                const struct cell *c = &cells[i];
                int got = cat_perm_check(c->perm, c->op, c->own, c->rcd);

                if (got != c->expect)
                        fail_msg("%s op %d own %d rw_can_delete %d: expected %d got %d",
                                 cat_perm_to_string(c->perm), (int)c->op,
                                 c->own, c->rcd, c->expect, got);
                cell_count++;
        }
        assert_int_equal(cell_count, 3 * 3 * 2 * 2);
        /* A folder the user cannot see allows nothing. */
        for (int op = CAT_OP_READ; op <= CAT_OP_REMOVE; op++)
                assert_int_equal(cat_perm_check(CAT_PERM_NONE, (enum cat_op)op,
                                                true, true), -EROFS);
}

static void only_rw_removal_without_rw_can_delete_asks_for_the_creator(void **state)
{
        (void)state;
        for (int p = CAT_PERM_NONE; p <= CAT_PERM_WD; p++)
                for (int op = CAT_OP_READ; op <= CAT_OP_REMOVE; op++)
                        for (int rcd = 0; rcd <= 1; rcd++) {
                                bool want = p == CAT_PERM_RW &&
                                            op == CAT_OP_REMOVE && !rcd;

                                if (cat_perm_asks_creator((enum cat_perm)p,
                                                          (enum cat_op)op,
                                                          rcd) != want)
                                        fail_msg("perm %d op %d rcd %d", p, op, rcd);
                        }
}

static void vfolderfs_attribute_names_are_reserved(void **state)
{
        (void)state;
        assert_true(cat_xattr_name_reserved(CAT_CREATOR_XATTR));
        assert_true(cat_xattr_name_reserved(CAT_CREATOR_XATTR_USER));
        assert_true(cat_xattr_name_reserved("trusted.vfolderfs.anything"));
        assert_true(cat_xattr_name_reserved("user.vfolderfs."));
        assert_false(cat_xattr_name_reserved("user.vfolderfs"));
        assert_false(cat_xattr_name_reserved("user.test"));
        assert_false(cat_xattr_name_reserved("trusted.overlay.opaque"));
        assert_false(cat_xattr_name_reserved("security.selinux"));
        assert_false(cat_xattr_name_reserved("User.vfolderfs.creator"));
}

/* ---------------------------------------------------------------------------
 * The record.
 */

/* Whether this process and this file system keep trusted.* (root, local). */
static bool trusted_works(const char *dir)
{
        char *p;
        bool ok;

        assert_true(asprintf(&p, "%s/.probe", dir) > 0);
        fx_write_file(p, "");
        ok = setxattr(p, "trusted.probe", "1", 1, 0) == 0;
        unlink(p);
        free(p);
        return ok;
}

static int open_dir(struct fx *fx)
{
        int fd = open(fx->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

        assert_true(fd >= 0);
        return fd;
}

/* Make one entry of each type in dirfd. */
static void make_entries(int dirfd)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char *sock;
        int fd, s;

        fd = openat(dirfd, "file", O_WRONLY | O_CREAT | O_EXCL, 0644);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(mkdirat(dirfd, "dir", 0755), 0);
        assert_int_equal(symlinkat("file", dirfd, "link"), 0);
        assert_int_equal(symlinkat("/nonexistent", dirfd, "dangling"), 0);
        assert_int_equal(mknodat(dirfd, "fifo", S_IFIFO | 0644, 0), 0);
        assert_true(asprintf(&sock, "/proc/self/fd/%d/sock", dirfd) > 0);
        assert_true(strlen(sock) < sizeof(sa.sun_path));
        strcpy(sa.sun_path, sock);
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(s >= 0);
        assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(s);
        free(sock);
}

static const char *const entries[] = { "file", "dir", "link", "dangling",
                                       "fifo", "sock" };
#define N_ENTRIES (sizeof(entries) / sizeof(entries[0]))

/* The raw attribute of name in dirfd (never followed), or "" when none. */
static char *raw(int dirfd, const char *name, const char *attr)
{
        static char buf[128];
        char path[512];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dirfd, name);
        n = lgetxattr(path, attr, buf, sizeof(buf) - 1);
        buf[n < 0 ? 0 : n] = '\0';
        return buf;
}

static void record_set_by_name_is_read_back_on_every_type_of_entry(void **state)
{
        struct fx *fx = *state;
        int dfd;

        if (!trusted_works(fx->dir))
                skip();
        dfd = open_dir(fx);
        make_entries(dfd);
        for (size_t i = 0; i < N_ENTRIES; i++) {
                assert_int_equal(cat_creator_is(dfd, entries[i], ALICE), 0);
                assert_int_equal(cat_creator_set(dfd, entries[i], ALICE), 0);
                assert_int_equal(cat_creator_is(dfd, entries[i], ALICE), 1);
                assert_int_equal(cat_creator_is(dfd, entries[i], BOB), 0);
                /* the value is the UUID's text, nothing more */
                assert_string_equal(raw(dfd, entries[i], CAT_CREATOR_XATTR), ALICE);
        }
        /* A symlink's record is its own: the target has none. */
        {
                int fd = openat(dfd, "file", O_RDONLY);

                assert_int_equal(fremovexattr(fd, CAT_CREATOR_XATTR), 0);
                close(fd);
                assert_int_equal(cat_creator_is(dfd, "link", ALICE), 1);
                assert_int_equal(cat_creator_is(dfd, "file", ALICE), 0);
        }
        close(dfd);
}

static void record_set_by_descriptor_reaches_the_entry_not_a_symlink_target(void **state)
{
        struct fx *fx = *state;
        int dfd;

        if (!trusted_works(fx->dir))
                skip();
        dfd = open_dir(fx);
        make_entries(dfd);
        for (size_t i = 0; i < N_ENTRIES; i++) {
                int fd = openat(dfd, entries[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);

                assert_true(fd >= 0);
                assert_int_equal(cat_creator_set(fd, NULL, BOB), 0);
                assert_int_equal(cat_creator_is(fd, NULL, BOB), 1);
                close(fd);
                assert_int_equal(cat_creator_is(dfd, entries[i], BOB), 1);
        }
        /* "link" points to "file": both got their own record, no more */
        assert_string_equal(raw(dfd, "file", CAT_CREATOR_XATTR), BOB);
        close(dfd);
}

static void a_record_is_never_replaced(void **state)
{
        struct fx *fx = *state;
        int dfd;

        if (!trusted_works(fx->dir))
                skip();
        dfd = open_dir(fx);
        make_entries(dfd);
        assert_int_equal(cat_creator_set(dfd, "file", ALICE), 0);
        assert_int_equal(cat_creator_set(dfd, "file", BOB), -EEXIST);
        assert_int_equal(cat_creator_is(dfd, "file", ALICE), 1);
        assert_int_equal(cat_creator_is(dfd, "file", BOB), 0);
        close(dfd);
}

static void bad_input_is_refused_and_missing_entries_are_enoent(void **state)
{
        struct fx *fx = *state;
        int dfd = open_dir(fx);

        make_entries(dfd);
        assert_int_equal(cat_creator_set(dfd, "file", "not-a-uuid"), -EINVAL);
        assert_int_equal(cat_creator_is(dfd, "file", ""), -EINVAL);
        assert_int_equal(cat_creator_set(dfd, "a/b", ALICE), -EINVAL);
        assert_int_equal(cat_creator_set(dfd, "..", ALICE), -EINVAL);
        assert_int_equal(cat_creator_is(dfd, "", ALICE), -EINVAL);
        assert_int_equal(cat_creator_is(dfd, "missing", ALICE), -ENOENT);
        assert_int_equal(cat_creator_set(dfd, "missing", ALICE), -ENOENT);
        close(dfd);
}

static void a_record_of_another_length_or_value_is_someone_elses(void **state)
{
        struct fx *fx = *state;
        char *p = fx_path(fx, "f"), big[200];
        int dfd;

        if (!trusted_works(fx->dir))
                skip();
        dfd = open_dir(fx);
        fx_write_file(p, "");
        assert_int_equal(setxattr(p, CAT_CREATOR_XATTR, ALICE, 35, 0), 0);
        assert_int_equal(cat_creator_is(dfd, "f", ALICE), 0);
        memset(big, 'a', sizeof(big));
        assert_int_equal(setxattr(p, CAT_CREATOR_XATTR, big, sizeof(big), 0), 0);
        assert_int_equal(cat_creator_is(dfd, "f", ALICE), 0);
        /* the text, case included */
        assert_int_equal(setxattr(p, CAT_CREATOR_XATTR,
                                  "0B7C1A9E-3F2D-4C55-9D1E-6A8B2F4E7C10", 36, 0), 0);
        assert_int_equal(cat_creator_is(dfd, "f", ALICE), 0);
        free(p);
        close(dfd);
}

static void trusted_record_wins_over_a_user_one(void **state)
{
        struct fx *fx = *state;
        char *p = fx_path(fx, "f");
        int dfd;

        if (!trusted_works(fx->dir))
                skip();
        dfd = open_dir(fx);
        fx_write_file(p, "");
        /* what the storage uid could write on the host */
        assert_int_equal(setxattr(p, CAT_CREATOR_XATTR_USER, ALICE, 36, 0), 0);
        assert_int_equal(cat_creator_is(dfd, "f", ALICE), 1);
        assert_int_equal(setxattr(p, CAT_CREATOR_XATTR, BOB, 36, 0), 0);
        assert_int_equal(cat_creator_is(dfd, "f", ALICE), 0);
        assert_int_equal(cat_creator_is(dfd, "f", BOB), 1);
        free(p);
        close(dfd);
}

/* Drop CAP_SYS_ADMIN from this process's effective set. */
static int drop_sys_admin(void)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2];

        if (syscall(SYS_capget, &h, d) < 0)
                return -1;
        d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
        return (int)syscall(SYS_capset, &h, d);
}

static void without_cap_sys_admin_the_record_is_a_user_attribute(void **state)
{
        struct fx *fx = *state;
        int dfd, status;
        pid_t pid;

        if (!trusted_works(fx->dir))
                skip();
        dfd = open_dir(fx);
        make_entries(dfd);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* exit codes say which step failed */
                if (drop_sys_admin() < 0)
                        _exit(10);
                if (setxattr(fx->dir, "trusted.probe", "1", 1, 0) == 0 || errno != EPERM)
                        _exit(11);
                if (cat_creator_set(dfd, "file", ALICE) != 0)
                        _exit(12);
                if (cat_creator_set(dfd, "dir", ALICE) != 0)
                        _exit(13);
                /* Linux keeps user.* on files and directories only */
                if (cat_creator_set(dfd, "link", ALICE) != -EOPNOTSUPP)
                        _exit(14);
                if (cat_creator_set(dfd, "fifo", ALICE) != -EOPNOTSUPP)
                        _exit(15);
                if (cat_creator_is(dfd, "file", ALICE) != 1 ||
                    cat_creator_is(dfd, "dir", ALICE) != 1 ||
                    cat_creator_is(dfd, "file", BOB) != 0 ||
                    cat_creator_is(dfd, "link", ALICE) != 0)
                        _exit(16);
                if (cat_creator_set(dfd, "file", BOB) != -EEXIST)
                        _exit(17);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_string_equal(raw(dfd, "file", CAT_CREATOR_XATTR_USER), ALICE);
        assert_string_equal(raw(dfd, "file", CAT_CREATOR_XATTR), "");
        /* and a privileged reader agrees */
        assert_int_equal(cat_creator_is(dfd, "file", ALICE), 1);
        assert_int_equal(cat_creator_is(dfd, "dir", ALICE), 1);
        close(dfd);
}

/* ---------------------------------------------------------------------------
 * Trees.
 */

static void a_tree_is_own_only_when_every_entry_is(void **state)
{
        struct fx *fx = *state;
        char *foreign = NULL;
        int dfd, t;

        if (!trusted_works(fx->dir))
                skip();
        dfd = open_dir(fx);
        assert_int_equal(mkdirat(dfd, "t", 0755), 0);
        t = openat(dfd, "t", O_PATH | O_DIRECTORY);
        assert_true(t >= 0);
        make_entries(t);
        assert_int_equal(mkdirat(t, "dir/deeper", 0755), 0);
        assert_int_equal(cat_tree_created_by(dfd, "t", ALICE, &foreign), 0);
        assert_string_equal(foreign, "t");
        free(foreign);
        foreign = NULL;
        assert_int_equal(cat_creator_set(dfd, "t", ALICE), 0);
        for (size_t i = 0; i < N_ENTRIES; i++)
                assert_int_equal(cat_creator_set(t, entries[i], ALICE), 0);
        {
                int d = openat(t, "dir", O_PATH | O_DIRECTORY);
                int f = openat(d, "new", O_WRONLY | O_CREAT | O_EXCL, 0644);

                assert_true(f >= 0);
                close(f);
                assert_int_equal(cat_creator_set(d, "deeper", ALICE), 0);
                assert_int_equal(cat_tree_created_by(dfd, "t", ALICE, &foreign), 0);
                assert_string_equal(foreign, "new");
                free(foreign);
                foreign = NULL;
                assert_int_equal(cat_creator_set(d, "new", BOB), 0);
                assert_int_equal(cat_tree_created_by(dfd, "t", ALICE, &foreign), 0);
                assert_string_equal(foreign, "new");
                free(foreign);
                foreign = NULL;
                assert_int_equal(cat_tree_created_by(dfd, "t", BOB, NULL), 0);
                assert_int_equal(unlinkat(d, "new", 0), 0);
                close(d);
        }
        assert_int_equal(cat_tree_created_by(dfd, "t", ALICE, &foreign), 1);
        assert_null(foreign);
        /* a single entry is a tree of one */
        assert_int_equal(cat_tree_created_by(t, "file", ALICE, NULL), 1);
        assert_int_equal(cat_tree_created_by(t, "file", BOB, NULL), 0);
        assert_int_equal(cat_tree_created_by(t, "missing", ALICE, NULL), -ENOENT);
        close(t);
        close(dfd);
}

/* ---------------------------------------------------------------------------
 * The directory lock.
 */

struct holder {
        int dirfd;
        int lock;
        int held_ms;
};

static void *hold_then_release(void *p)
{
        struct holder *h = p;
        struct timespec ts = { 0, h->held_ms * 1000000L };

        nanosleep(&ts, NULL);
        cat_dir_unlock(h->lock);
        return NULL;
}

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void dir_lock_excludes_until_released(void **state)
{
        struct fx *fx = *state;
        struct holder h = { .held_ms = 300 };
        pthread_t th;
        double t0, waited;
        int lock = -1, lock2 = -1;

        h.dirfd = open_dir(fx);
        assert_int_equal(cat_dir_lock(h.dirfd, &h.lock), 0);
        assert_true(h.lock >= 0);
        t0 = now_ms();
        assert_int_equal(pthread_create(&th, NULL, hold_then_release, &h), 0);
        /* another descriptor, as another process has: it waits */
        assert_int_equal(cat_dir_lock(h.dirfd, &lock), 0);
        waited = now_ms() - t0;
        assert_int_equal(pthread_join(th, NULL), 0);
        if (waited < 250)
                fail_msg("the second lock was granted after %.0f ms, while the first was held 300 ms",
                         waited);
        cat_dir_unlock(lock);
        /* two names of one directory: one lock */
        assert_int_equal(cat_dir_lock2(h.dirfd, h.dirfd, &lock, &lock2), 0);
        assert_true(lock >= 0);
        assert_int_equal(lock2, -1);
        cat_dir_unlock(lock);
        cat_dir_unlock(-1);
        close(h.dirfd);
}

static void dir_lock2_takes_both_in_one_order(void **state)
{
        struct fx *fx = *state;
        int dfd = open_dir(fx), a, b, la, lb, la2, lb2;

        assert_int_equal(mkdirat(dfd, "a", 0755), 0);
        assert_int_equal(mkdirat(dfd, "b", 0755), 0);
        a = openat(dfd, "a", O_PATH | O_DIRECTORY);
        b = openat(dfd, "b", O_PATH | O_DIRECTORY);
        assert_int_equal(cat_dir_lock2(a, b, &la, &lb), 0);
        assert_true(la >= 0 && lb >= 0);
        /* each returned lock is on its own directory */
        {
                struct stat s1, s2;

                assert_int_equal(fstat(la, &s1), 0);
                assert_int_equal(fstat(a, &s2), 0);
                assert_int_equal(s1.st_ino, s2.st_ino);
                assert_int_equal(fstat(lb, &s1), 0);
                assert_int_equal(fstat(b, &s2), 0);
                assert_int_equal(s1.st_ino, s2.st_ino);
        }
        cat_dir_unlock(la);
        cat_dir_unlock(lb);
        /* the other way round works too, once released */
        assert_int_equal(cat_dir_lock2(b, a, &lb2, &la2), 0);
        cat_dir_unlock(la2);
        cat_dir_unlock(lb2);
        close(a);
        close(b);
        close(dfd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(permission_table_matches_spec_in_every_cell),
                cmocka_unit_test(only_rw_removal_without_rw_can_delete_asks_for_the_creator),
                cmocka_unit_test(vfolderfs_attribute_names_are_reserved),
                T(record_set_by_name_is_read_back_on_every_type_of_entry),
                T(record_set_by_descriptor_reaches_the_entry_not_a_symlink_target),
                T(a_record_is_never_replaced),
                T(bad_input_is_refused_and_missing_entries_are_enoent),
                T(a_record_of_another_length_or_value_is_someone_elses),
                T(trusted_record_wins_over_a_user_one),
                T(without_cap_sys_admin_the_record_is_a_user_attribute),
                T(a_tree_is_own_only_when_every_entry_is),
                T(dir_lock_excludes_until_released),
                T(dir_lock2_takes_both_in_one_order),
        };

        return cmocka_run_group_tests_name("creator", tests, NULL, NULL);
}
