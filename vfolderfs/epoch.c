/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * epoch.c - epoch-based reclamation of session views (see epoch.h).  The
 * global epoch only grows.  A thread inside a request has its slot set to
 * the epoch it saw on entry, IDLE otherwise.  A view replaced while the
 * epoch was E can be reached only by requests that entered at E or before
 * (one that entered later loads the new view: the publication precedes the
 * advance, and every access here is sequentially consistent), so it is
 * free to go when no slot holds an epoch <= E.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "epoch.h"

#define IDLE UINT64_MAX

struct slot {
        _Atomic uint64_t epoch;
        _Atomic bool taken;   /* by a live thread */
        struct slot *next;
};

static _Atomic uint64_t global_epoch = 1;
static struct slot *_Atomic slots;
static _Thread_local struct slot *mine;
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

/* A thread that ends gives its slot back (the session loop's come and go). */
static void slot_release(void *p)
{
        struct slot *s = p;

        s->epoch = IDLE;
        s->taken = false;
}

static void slot_key_make(void)
{
        if (pthread_key_create(&slot_key, slot_release) != 0)
                abort();
}

/* A free slot, reused or added; NULL on ENOMEM. */
static struct slot *slot_take(void)
{
        struct slot *s;

        for (s = slots; s; s = s->next) {
                bool free_slot = false;

                if (atomic_compare_exchange_strong(&s->taken, &free_slot,
                                                   true))
                        return s;
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->epoch = IDLE;
        s->taken = true;
        s->next = slots;
        while (!atomic_compare_exchange_weak(&slots, &s->next, s))
                ;
        return s;
}

int epoch_enter(void)
{
        if (!mine) {
                struct slot *s;

                pthread_once(&slot_once, slot_key_make);
                s = slot_take();
                if (!s)
                        return -ENOMEM;
                if (pthread_setspecific(slot_key, s) != 0) {
                        slot_release(s);
                        return -ENOMEM;
                }
                mine = s;
        }
        mine->epoch = global_epoch;
        return 0;
}

void epoch_leave(void)
{
        if (mine)
                mine->epoch = IDLE;
}

uint64_t epoch_advance(void)
{
        return global_epoch++;
}

bool epoch_passed(uint64_t e)
{
        for (struct slot *s = slots; s; s = s->next)
                if (s->epoch <= e)
                        return false;
        return true;
}

void epoch_free(void)
{
        struct slot *s = slots;

        if (mine)
                pthread_setspecific(slot_key, NULL);
        slots = NULL;
        while (s) {
                struct slot *next = s->next;

                free(s);
                s = next;
        }
        mine = NULL;
}
