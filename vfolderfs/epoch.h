/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * epoch.h - when a replaced session view may be freed.  Every request runs
 * between epoch_enter() and epoch_leave() (the operation table wraps each
 * operation, stats.c); the catalog watcher, after publishing a new view,
 * takes epoch_advance() and frees the old view once epoch_passed() says no
 * request that could have loaded it is still running, however long that
 * request waits on the storage.  A request costs two stores to its thread's
 * slot; a thread takes a slot on its first request and gives it back when it
 * ends (for the next new thread to reuse); slots are freed by epoch_free().
 */
#ifndef VFOLDERFS_EPOCH_H
#define VFOLDERFS_EPOCH_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Mark the calling thread as inside a request from now on (before it
 * loads ctx->view).  Returns 0, or -ENOMEM when its slot cannot be made
 * (then the request must not run).
 */
int epoch_enter(void);
void epoch_leave(void);

/*
 * Called after a new view is published: returns the epoch E of which every
 * request may hold the replaced view.
 */
uint64_t epoch_advance(void);

/* Whether no request of epoch E or earlier is still running. */
bool epoch_passed(uint64_t e);

/* Free every slot (at exit, when no thread runs requests any more). */
void epoch_free(void);

#endif
