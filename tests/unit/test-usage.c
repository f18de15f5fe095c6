/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-usage.c - the usage counters behind daemon-enforced quotas: where a
 * counter lives, that its first user counts the folder, that changes made
 * under its lock by many threads and many processes at once add up
 * exactly, recount, and that the admin side drops a counter when a quota
 * comes or goes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

#define ROUNDS 500

static const char *quota_folder(struct fx *fx, char **ret_backing)
{
        struct cat_folder_spec spec = {
                .name = "q", .user = "alice", .quota_bytes = 1 << 20,
        };
        const char *id;

        fx_user(fx, "alice");
        id = fx_folder_spec(fx, &spec);
        *ret_backing = fx_backing(fx, "q");
        return id;
}

static void counter_lives_under_the_host_root(void **state)
{
        struct fx *fx = *state;
        char *backing, *path, *want;
        const char *id = quota_folder(fx, &backing);

        path = cat_usage_path(backing, id);
        assert_non_null(path);
        assert_true(asprintf(&want, "%s/" CAT_USAGE_DIR "/%s", fx->root,
                             id) > 0);
        assert_string_equal(path, want);
        assert_null(cat_usage_path("/too/short", id));
        free(want);
        free(path);
        free(backing);
}

static void first_open_counts_what_the_folder_holds(void **state)
{
        struct fx *fx = *state;
        char *backing, *p, *sub;
        const char *id = quota_folder(fx, &backing);
        cat_usage *u = NULL;
        int64_t bytes = -1, files = -1;

        assert_int_equal(cat_usage_read(backing, id, NULL, NULL), -ENOENT);
        assert_true(asprintf(&p, "%s/a", backing) > 0);
        fx_write_file(p, "12345");
        assert_true(asprintf(&sub, "%s/d", backing) > 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        free(p);
        assert_true(asprintf(&p, "%s/d/b", backing) > 0);
        fx_write_file(p, "123");
        assert_ok(cat_usage_open(backing, id, &u, reterr));
        assert_ok(cat_usage_get(u, &bytes, &files));
        assert_int_equal(bytes, 8);
        assert_int_equal(files, 3);
        /* a second open uses the counter, it does not count again */
        fx_write_file(p, "123456789");
        cat_usage_close(u);
        assert_ok(cat_usage_open(backing, id, &u, reterr));
        assert_ok(cat_usage_get(u, &bytes, NULL));
        assert_int_equal(bytes, 8);
        /* recount fixes the drift */
        assert_int_equal(cat_usage_recount(backing, id, &bytes, &files), 0);
        assert_int_equal(bytes, 14);
        assert_ok(cat_usage_get(u, &bytes, NULL));
        assert_int_equal(bytes, 14);
        cat_usage_close(u);
        free(p);
        free(sub);
        free(backing);
}

/* ROUNDS read-modify-write increments, each under the lock. */
static void add_rounds(cat_usage *u)
{
        for (int i = 0; i < ROUNDS; i++) {
                assert_int_equal(cat_usage_lock(u), 0);
                assert_int_equal(cat_usage_add(u, 3, 1), 0);
                cat_usage_unlock(u);
        }
}

static void *adder_thread(void *arg)
{
        add_rounds(arg);
        return NULL;
}

static void locked_changes_of_threads_and_processes_add_up_exactly(void **state)
{
        struct fx *fx = *state;
        char *backing;
        const char *id = quota_folder(fx, &backing);
        cat_usage *u = NULL;
        pthread_t th[3];
        pid_t pids[3];
        int64_t bytes, files;

        assert_ok(cat_usage_open(backing, id, &u, reterr));
        for (int i = 0; i < 3; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0) {
                        /* its own handle, as another daemon would have */
                        cat_usage *c = NULL;

                        if (cat_usage_open(backing, id, &c, NULL) < 0)
                                _exit(1);
                        add_rounds(c);
                        cat_usage_close(c);
                        _exit(0);
                }
        }
        for (int i = 0; i < 3; i++)
                assert_int_equal(pthread_create(&th[i], NULL, adder_thread, u),
                                 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(pthread_join(th[i], NULL), 0);
        for (int i = 0; i < 3; i++) {
                int status;

                assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        assert_ok(cat_usage_get(u, &bytes, &files));
        assert_int_equal(bytes, 6 * ROUNDS * 3);
        assert_int_equal(files, 6 * ROUNDS);
        cat_usage_close(u);
        free(backing);
}

static void a_quota_coming_or_going_drops_the_counter(void **state)
{
        struct fx *fx = *state;
        char *backing;
        const char *id = quota_folder(fx, &backing);
        cat_usage *u = NULL;
        struct cat_folder_update up = { .set_quota = true };

        assert_ok(cat_usage_open(backing, id, &u, reterr));
        cat_usage_close(u);
        up.quota_bytes = 2 << 20; /* changed, still a quota: kept */
        assert_ok(cat_folder_set(fx->cat, "q", &up, reterr));
        assert_int_equal(cat_usage_read(backing, id, NULL, NULL), 0);
        up.quota_bytes = 0;
        assert_ok(cat_folder_set(fx->cat, "q", &up, reterr));
        assert_int_equal(cat_usage_read(backing, id, NULL, NULL), -ENOENT);
        assert_int_equal(cat_usage_remove(backing, id), 0);
        free(backing);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
        const struct CMUnitTest tests[] = {
                T(counter_lives_under_the_host_root),
                T(first_open_counts_what_the_folder_holds),
                T(locked_changes_of_threads_and_processes_add_up_exactly),
                T(a_quota_coming_or_going_drops_the_counter),
        };

        return cmocka_run_group_tests_name("usage", tests, NULL, NULL);
}
