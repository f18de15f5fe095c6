/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loop.h - the daemon's multi-threaded session loop, in which a stalled
 * storage host holds up only the requests that wait on it.
 *
 * Storage hosts stall (an NFS server restarting, a saturated array).  In
 * libfuse's loop every worker may end up waiting on the one stalled host,
 * and then nothing in the session is answered.  Here every request is
 * classified before it runs, without touching storage, into a queue: its
 * storage host (the folder of its node, or of the folder a lookup in a view
 * directory names), the scratch area, the lock requests of a host or of
 * scratch (the classifier's choice: vfs_request_queue()), or none for the
 * requests that touch no storage (forgets, interrupts, INIT...), which the
 * reader runs at once.  A queue runs at most limit requests at once.  A worker
 * that reads a request of a queue below its limit runs it itself (no
 * hand-off between threads); one at its limit is kept in the queue's
 * backlog and the reader goes back to reading; a worker that finishes a
 * request of a queue runs that queue's next one.  A worker is started
 * whenever no thread is left reading, as in libfuse's loop, so that a
 * reader always exists (up to limit x queues + idle + 1 threads); one that
 * would make more than idle idle workers ends once its request is done.
 * Idle workers all wait in read(2), where the kernel wakes them in turn:
 * starting idle of them at once made open+close about 5 µs slower than
 * starting them on demand (fewer of them then take turns).
 *
 * Interrupts (the caller got a signal) are handled here first.  A request
 * still in a backlog is answered EINTR at once when its caller is dying
 * (SIGKILL pending: a default-action SIGTERM or SIGINT shows as one too) or
 * when it is a lock wait (which any signal interrupts); nothing of it ran.
 * A running request is answered EINTR at once when its caller is dying and
 * the operation has no effect that a late answer could not undo (reads,
 * lookups, attributes, listings, opens without O_TRUNC, fsync...): its node
 * is held (hold/release) until the operation ends, and the operation undoes
 * what its reply would have created when the kernel refuses that reply.
 * Otherwise the interrupt reaches libfuse as usual (fuse_req_interrupted(),
 * fuse_req_interrupt_func()), for a queued request right before it runs: a
 * caught signal does not make a read or a lookup fail with EINTR, the caller
 * waits as on a hard NFS mount.  Since the kernel sends one interrupt per
 * request, interrupted requests are checked again every RECHECK_MS while
 * any is left, so that a SIGKILL that comes later still frees its caller.
 *
 * With spin_us, a worker about to sleep in read(2) first polls the device
 * for up to spin_us (one worker at a time), so that a caller sending one
 * request after another finds a thread awake.
 */
#pragma once

#include <stdint.h>

#include "vfolderfs.h"

/* The workers' name (/proc/PID/task/TID/comm). */
#define LOOP_THREAD_NAME "vfolderfs-work"

struct loop_params {
        unsigned int limit;   /* requests of one queue running at once */
        unsigned int idle;    /* idle workers kept (at least 1) */
        unsigned int spin_us; /* poll before read(2), 0: none */
        /*
         * The queue of a request (mem, size bytes: a fuse_in_header and its
         * arguments): negative for one to run inline, else 0, 1, 2...
         * Called by the reader: must not block.
         */
        int (*classify)(void *arg, const void *mem, size_t size);
        /* Keep / let go node nodeid while an answered request runs on. */
        void (*hold)(void *arg, uint64_t nodeid);
        void (*release)(void *arg, uint64_t nodeid);
        void *arg;
};

struct loop;

/* A loop for se (mounted, not running yet), or NULL (ENOMEM). */
struct loop *loop_new(struct fuse_session *se,
                      const struct loop_params *params);

/*
 * Run the session until it ends (unmounted, or a signal through libfuse's
 * handlers, which must reach the calling thread: the workers block every
 * signal).  Returns at once then, while workers running a request (on a
 * stalled storage host, say) may go on: unmount, then loop_free().
 * Returns 0 or a negative errno.
 */
int loop_run(struct loop *l);

/*
 * Wait for the requests still running (until a stalled host resumes) and
 * free l; what was queued is dropped (the unmount aborted it).  Accepts
 * NULL.
 */
void loop_free(struct loop *l);
