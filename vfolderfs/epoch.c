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
#include <stdatomic.h>
#include <stdlib.h>

#include "epoch.h"

#define IDLE UINT64_MAX

struct slot {
        _Atomic uint64_t epoch;
        struct slot *next;
};

static _Atomic uint64_t global_epoch = 1;
static struct slot *_Atomic slots;
static _Thread_local struct slot *mine;

int epoch_enter(void)
{
        if (!mine) {
                struct slot *s = calloc(1, sizeof(*s));

                if (!s)
                        return -ENOMEM;
                s->epoch = IDLE;
                s->next = slots;
                while (!atomic_compare_exchange_weak(&slots, &s->next, s))
                        ;
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

        slots = NULL;
        while (s) {
                struct slot *next = s->next;

                free(s);
                s = next;
        }
        mine = NULL;
}
