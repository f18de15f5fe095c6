/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-epoch.c - unit tests of the view reclamation epochs (epoch.c): a
 * request running when a view is replaced holds the epoch back until it
 * leaves, however long it runs; one that enters after the advance does not;
 * several threads and several advances; nothing held when idle.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "epoch.h"

struct gate {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int step; /* 1: the thread entered; 2: it may leave; 3: it left */
};

static void gate_set(struct gate *g, int step)
{
        pthread_mutex_lock(&g->lock);
        g->step = step;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
}

static void gate_wait(struct gate *g, int step)
{
        pthread_mutex_lock(&g->lock);
        while (g->step < step)
                pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
}

/* A "request": enter, tell, wait to be let go, leave, tell. */
static void *request(void *arg)
{
        struct gate *g = arg;

        if (epoch_enter() < 0)
                return NULL;
        gate_set(g, 1);
        gate_wait(g, 2);
        epoch_leave();
        gate_set(g, 3);
        return NULL;
}

static void start(pthread_t *t, struct gate *g)
{
        pthread_mutex_init(&g->lock, NULL);
        pthread_cond_init(&g->cond, NULL);
        g->step = 0;
        assert_int_equal(pthread_create(t, NULL, request, g), 0);
        gate_wait(g, 1);
}

static void finish(pthread_t t, struct gate *g)
{
        gate_set(g, 2);
        gate_wait(g, 3);
        pthread_join(t, NULL);
        pthread_mutex_destroy(&g->lock);
        pthread_cond_destroy(&g->cond);
}

static void idle_threads_hold_nothing(void **state)
{
        (void)state;
        assert_true(epoch_passed(epoch_advance()));
        assert_int_equal(epoch_enter(), 0);
        epoch_leave();
        assert_true(epoch_passed(epoch_advance()));
}

static void a_running_request_holds_the_epoch_until_it_leaves(void **state)
{
        struct gate g;
        pthread_t t;
        uint64_t e;

        (void)state;
        start(&t, &g);
        e = epoch_advance(); /* a view replaced while t runs */
        assert_false(epoch_passed(e));
        usleep(50 * 1000); /* however long it takes */
        assert_false(epoch_passed(e));
        finish(t, &g);
        assert_true(epoch_passed(e));
}

static void a_request_entered_after_the_advance_does_not_hold_it(void **state)
{
        struct gate g;
        pthread_t t;
        uint64_t e;

        (void)state;
        e = epoch_advance();
        start(&t, &g);
        assert_true(epoch_passed(e));
        assert_false(epoch_passed(epoch_advance()));
        finish(t, &g);
}

static void each_replaced_view_waits_for_its_own_requests(void **state)
{
        struct gate g1, g2;
        pthread_t t1, t2;
        uint64_t e1, e2;

        (void)state;
        start(&t1, &g1);
        e1 = epoch_advance();
        start(&t2, &g2);
        e2 = epoch_advance();
        assert_false(epoch_passed(e1));
        assert_false(epoch_passed(e2));
        finish(t1, &g1);
        assert_true(epoch_passed(e1));
        assert_false(epoch_passed(e2));
        finish(t2, &g2);
        assert_true(epoch_passed(e2));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(idle_threads_hold_nothing),
                cmocka_unit_test(a_running_request_holds_the_epoch_until_it_leaves),
                cmocka_unit_test(a_request_entered_after_the_advance_does_not_hold_it),
                cmocka_unit_test(each_replaced_view_waits_for_its_own_requests),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);

        epoch_free();
        return r;
}
