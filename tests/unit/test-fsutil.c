/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-fsutil.c - unit tests of metadata/fsutil.c: mkdir -p, and removing,
 * copying and measuring trees without following symlinks, including trees
 * deeper than both PATH_MAX and the process's descriptor limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog-private.h"
#include "unit.h"

static char *join(const char *a, const char *b)
{
        char *p;

        assert_true(asprintf(&p, "%s/%s", a, b) > 0);
        return p;
}

static void mk(const char *dir, const char *rel)
{
        char *p = join(dir, rel);

        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
}

static void put(const char *dir, const char *rel, const char *content)
{
        char *p = join(dir, rel);

        fx_write_file(p, content);
        free(p);
}

static bool has(const char *dir, const char *rel)
{
        char *p = join(dir, rel);
        bool r = fx_exists(p);

        free(p);
        return r;
}

static void mkdir_p_makes_parents_and_refuses_what_is_in_the_way(void **state)
{
        struct fx *fx = *state;
        char *deep = fx_path(fx, "a/b/c"), *file = fx_path(fx, "f");
        char *under_file = fx_path(fx, "f/x");
        struct stat st;

        assert_int_equal(cat_mkdir_p(deep, 0755), 0);
        assert_int_equal(stat(deep, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(cat_mkdir_p(deep, 0755), -EEXIST);
        fx_write_file(file, "x");
        assert_int_equal(cat_mkdir_p(under_file, 0755), -ENOTDIR);
        assert_int_equal(cat_mkdir_p("relative/dir", 0755), -EINVAL);
        free(deep);
        free(file);
        free(under_file);
}

static void remove_deletes_the_tree_but_never_follows_symlinks(void **state)
{
        struct fx *fx = *state;
        char *tree = fx_path(fx, "tree"), *outside = fx_path(fx, "outside");
        char *p;

        mk(fx->dir, "outside");
        put(outside, "precious", "keep me");
        mk(fx->dir, "tree");
        mk(tree, "sub");
        mk(tree, "sub/locked");
        put(tree, "sub/locked/f", "x");
        put(tree, "file", "x");
        p = join(tree, "sub/dirlink");
        assert_int_equal(symlink(outside, p), 0);
        free(p);
        p = join(tree, "filelink");
        assert_int_equal(symlink("../outside/precious", p), 0);
        free(p);
        p = join(tree, "fifo");
        assert_int_equal(mkfifo(p, 0644), 0);
        free(p);
        p = join(tree, "sub/locked");
        assert_int_equal(chmod(p, 0), 0);
        free(p);

        assert_int_equal(cat_tree_remove(tree), 0);
        assert_false(fx_exists(tree));
        assert_true(has(outside, "precious"));
        assert_int_equal(cat_tree_remove(tree), -ENOENT);
        free(tree);
        free(outside);
}

static void removing_a_symlink_removes_only_the_link(void **state)
{
        struct fx *fx = *state;
        char *target = fx_path(fx, "target"), *link = fx_path(fx, "link");

        mk(fx->dir, "target");
        put(target, "f", "x");
        assert_int_equal(symlink(target, link), 0);
        assert_int_equal(cat_tree_remove(link), 0);
        assert_false(fx_exists(link));
        assert_true(has(target, "f"));
        free(target);
        free(link);
}

static void owner_without_root_removes_unreadable_and_unwritable_dirs(void **state)
{
        struct fx *fx = *state;
        char *home = fx_path(fx, "home"), *tree;
        pid_t pid;
        int status;

        if (geteuid() != 0)
                skip();
        /* A tree owned by an unprivileged uid, with a directory it made
         * unwritable and one it made unreadable, as a session user may. */
        assert_int_equal(chmod(fx->dir, 0711), 0);
        mk(fx->dir, "home");
        tree = join(home, "tree");
        mk(home, "tree");
        mk(tree, "ro");
        put(tree, "ro/f", "x");
        mk(tree, "none");
        mk(tree, "none/sub");
        put(tree, "none/sub/g", "y");
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *ro = join(tree, "ro"), *none = join(tree, "none");

                char *cmd;

                if (chown(home, 65534, 65534) < 0)
                        _exit(100);
                if (asprintf(&cmd, "chown -R 65534:65534 '%s'", tree) < 0 ||
                    system(cmd) != 0)
                        _exit(101);
                if (setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(102);
                if (chmod(ro, 0500) < 0 || chmod(none, 0) < 0)
                        _exit(103);
                _exit(-cat_tree_remove(tree));
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_false(fx_exists(tree));
        free(tree);
        free(home);
}

/* 400 levels of 11 bytes: a path longer than PATH_MAX. */
enum { DEPTH = 400 };
#define LEVEL "dddddddddd"

/* LEVEL/LEVEL/... DEPTH levels below dir, with a file at the bottom. */
static void make_deep(const char *dir)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY);

        assert_true(fd >= 0);
        for (int i = 0; i < DEPTH; i++) {
                int next;

                assert_int_equal(mkdirat(fd, LEVEL, 0755), 0);
                next = openat(fd, LEVEL, O_RDONLY | O_DIRECTORY);
                assert_true(next >= 0);
                close(fd);
                fd = next;
        }
        {
                int f = openat(fd, "bottom", O_WRONLY | O_CREAT, 0644);

                assert_true(f >= 0);
                assert_int_equal(write(f, "abc", 3), 3);
                close(f);
        }
        close(fd);
}

/* Depth of the LEVEL chain below dir, and whether "bottom" is there. */
static int measure_deep(const char *dir, bool *ret_bottom)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY), depth = 0;

        assert_true(fd >= 0);
        for (;;) {
                int next = openat(fd, LEVEL, O_RDONLY | O_DIRECTORY |
                                  O_NOFOLLOW);

                if (next < 0)
                        break;
                close(fd);
                fd = next;
                depth++;
        }
        *ret_bottom = faccessat(fd, "bottom", F_OK, 0) == 0;
        close(fd);
        return depth;
}

/* Run op in a child limited to 48 open descriptors. */
static int with_few_fds(int (*op)(const char *, const char *), const char *a,
                        const char *b)
{
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0) {
                struct rlimit rl = { 48, 48 };

                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        _exit(100);
                _exit(-op(a, b));
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return -WEXITSTATUS(status);
}

static int op_remove(const char *a, const char *b)
{
        (void)b;
        return cat_tree_remove(a);
}

static int op_copy(const char *a, const char *b)
{
        return cat_tree_copy(a, b, NULL);
}

static void trees_deeper_than_path_max_and_the_fd_limit_are_removed(void **state)
{
        struct fx *fx = *state;
        char *tree = fx_path(fx, "deep");

        mk(fx->dir, "deep");
        make_deep(tree);
        assert_int_equal(with_few_fds(op_remove, tree, NULL), 0);
        assert_false(fx_exists(tree));
        free(tree);
}

static void trees_deeper_than_path_max_and_the_fd_limit_are_copied(void **state)
{
        struct fx *fx = *state;
        char *tree = fx_path(fx, "deep"), *copy = fx_path(fx, "copy");
        int64_t bytes = 0, files = 0;
        bool bottom = false;

        mk(fx->dir, "deep");
        mk(fx->dir, "copy");
        make_deep(tree);
        assert_int_equal(with_few_fds(op_copy, tree, copy), 0);
        assert_int_equal(measure_deep(copy, &bottom), DEPTH);
        assert_true(bottom);
        assert_int_equal(cat_tree_usage(copy, &bytes, &files), 0);
        assert_int_equal(bytes, 3);
        assert_int_equal(files, DEPTH + 1);
        free(tree);
        free(copy);
}

static void copy_keeps_files_modes_times_and_symlinks_verbatim(void **state)
{
        struct fx *fx = *state;
        char *src = fx_path(fx, "src"), *dst = fx_path(fx, "dst"), *p;
        struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
        struct stat st;
        char buf[128];
        ssize_t k;

        mk(fx->dir, "src");
        mk(fx->dir, "dst");
        mk(src, "dir");
        put(src, "dir/a", "alpha");
        p = join(src, "dir/a");
        assert_int_equal(chmod(p, 0640), 0);
        assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
        free(p);
        p = join(src, "abs");
        assert_int_equal(symlink("/etc/passwd", p), 0);
        free(p);
        p = join(src, "dir/rel");
        assert_int_equal(symlink("../../outside", p), 0);
        free(p);
        p = join(src, "fifo");
        assert_int_equal(mkfifo(p, 0644), 0);
        free(p);
        p = join(src, "setuid");
        fx_write_file(p, "s");
        assert_int_equal(chmod(p, 04755), 0);
        free(p);

        assert_int_equal(cat_tree_copy(src, dst, NULL), 0);
        p = join(dst, "dir/a");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_mtim.tv_sec, 1000000000);
        assert_int_equal(st.st_size, 5);
        free(p);
        p = join(dst, "abs");
        k = readlink(p, buf, sizeof(buf) - 1);
        assert_true(k > 0);
        buf[k] = 0;
        assert_string_equal(buf, "/etc/passwd");
        free(p);
        p = join(dst, "dir/rel");
        k = readlink(p, buf, sizeof(buf) - 1);
        assert_true(k > 0);
        buf[k] = 0;
        assert_string_equal(buf, "../../outside");
        free(p);
        /* Fifos are not data; setuid bits are never copied. */
        assert_false(has(dst, "fifo"));
        p = join(dst, "setuid");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        free(p);
        p = join(dst, "dir");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        free(p);
        free(src);
        free(dst);
}

static void copy_refuses_to_overwrite_what_exists(void **state)
{
        struct fx *fx = *state;
        char *src = fx_path(fx, "src"), *dst = fx_path(fx, "dst");

        mk(fx->dir, "src");
        mk(fx->dir, "dst");
        put(src, "a", "new");
        put(dst, "a", "old");
        assert_int_equal(cat_tree_copy(src, dst, NULL), -EEXIST);
        assert_int_equal(cat_tree_copy(src, "/nonexistent/dir", NULL), -ENOENT);
        free(src);
        free(dst);
}

static void usage_counts_regular_file_bytes_and_every_entry(void **state)
{
        struct fx *fx = *state;
        char *t = fx_path(fx, "t"), *p;
        int64_t bytes = -1, files = -1;

        mk(fx->dir, "t");
        assert_int_equal(cat_tree_usage(t, &bytes, &files), 0);
        assert_int_equal(bytes, 0);
        assert_int_equal(files, 0);
        put(t, "a", "1234");
        mk(t, "d");
        put(t, "d/b", "123456");
        p = join(t, "d/l");
        assert_int_equal(symlink("a-long-target-that-does-not-count", p), 0);
        free(p);
        assert_int_equal(cat_tree_usage(t, &bytes, &files), 0);
        assert_int_equal(bytes, 10);
        assert_int_equal(files, 4);
        assert_int_equal(cat_tree_usage("/nonexistent", &bytes, &files),
                         -ENOENT);
        free(t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(mkdir_p_makes_parents_and_refuses_what_is_in_the_way),
                T(remove_deletes_the_tree_but_never_follows_symlinks),
                T(removing_a_symlink_removes_only_the_link),
                T(owner_without_root_removes_unreadable_and_unwritable_dirs),
                T(trees_deeper_than_path_max_and_the_fd_limit_are_removed),
                T(trees_deeper_than_path_max_and_the_fd_limit_are_copied),
                T(copy_keeps_files_modes_times_and_symlinks_verbatim),
                T(copy_refuses_to_overwrite_what_exists),
                T(usage_counts_regular_file_bytes_and_every_entry),
        };

        return cmocka_run_group_tests_name("fsutil", tests, NULL, NULL);
}
