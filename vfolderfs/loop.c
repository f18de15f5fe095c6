/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loop.c - the daemon's multi-threaded session loop: one reader at a time,
 * which keeps the turn while it answers quick requests (see loop.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/fuse.h>

#include "clock.h"
#include "loop.h"

/* A leader busy this long on one request hands the turn on (µs). */
#define LOOP_HANDOFF_US 1000
/* With no request for this long the deputy stops checking (µs). */
#define LOOP_IDLE_US 100000

struct loop {
        struct fuse_session *se;
        int fd;
        unsigned int spin_us;
        pthread_mutex_t lock;
        pthread_cond_t turn_free; /* the turn was handed on, or see deputy */
        /* Under lock: */
        bool reading;         /* some worker holds the turn */
        bool busy;            /* ... and is answering a request */
        uint64_t turn;        /* counts handings-on of the turn */
        int64_t busy_since;   /* when it took that request (µs) */
        bool deputy;          /* a waiter watches a busy leader */
        unsigned int sleepers; /* waiters not watching (no timeout) */
        int64_t last_request; /* when the last request came (µs) */
        sem_t ended;          /* posted by each worker as it ends */
        int error;            /* the first receive error (negative) */
};

/* Whether a request is queued on the device right now. */
static bool pending(const struct loop *l)
{
        struct pollfd p = { .fd = l->fd, .events = POLLIN };

        return poll(&p, 1, 0) > 0;
}

/*
 * Whether answering the request in buf may wait on the storage: moving
 * data, syncing, listing.  The others (lookups, attributes, opens and
 * releases, forgets...) are answered from the inode table and one system
 * call each, mostly from the backing file system's caches; a slow one
 * among them is left to the deputy.
 */
static bool may_block(const struct fuse_buf *buf)
{
        const struct fuse_in_header *in = buf->mem;

        if (buf->size < sizeof(*in))
                return true;
        switch (in->opcode) {
        case FUSE_READ:
        case FUSE_WRITE:
        case FUSE_FSYNC:
        case FUSE_FSYNCDIR:
        case FUSE_FLUSH:
        case FUSE_READDIR:
        case FUSE_READDIRPLUS:
        case FUSE_FALLOCATE:
        case FUSE_COPY_FILE_RANGE:
        case FUSE_LSEEK:
                return true;
        default:
                return false;
        }
}

/*
 * Wait for a request without sleeping, up to spin_us: a caller that sends
 * its next request right after the last reply (a tree walk, an untar)
 * finds the reader awake, and the kernel has no thread to wake.
 */
static void spin(const struct loop *l)
{
        int64_t t0;

        if (!l->spin_us)
                return;
        t0 = monotonic_us();
        do {
                if (pending(l))
                        return;
        } while (monotonic_us() - t0 < (int64_t)l->spin_us);
}

/*
 * Wait (under lock) until the turn is free, then take it.  One waiter, the
 * deputy, wakes every LOOP_HANDOFF_US while the session is active and takes
 * the turn from a leader that has been answering one request that long, so
 * a slow request (a cold disk, a stalled storage host) holds up the others
 * by at most about that.  Returns false when the session has ended.
 */
static bool take_turn(struct loop *l)
{
        while (l->reading && !fuse_session_exited(l->se)) {
                int64_t now = monotonic_us();

                if (!l->deputy && now - l->last_request < LOOP_IDLE_US) {
                        struct timespec ts;

                        l->deputy = true;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_nsec += LOOP_HANDOFF_US * 1000L;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&l->turn_free, &l->lock, &ts);
                        l->deputy = false;
                        if (l->reading && l->busy &&
                            monotonic_us() - l->busy_since >= LOOP_HANDOFF_US) {
                                l->reading = false; /* taken over */
                                l->turn++;
                        }
                } else {
                        l->sleepers++;
                        pthread_cond_wait(&l->turn_free, &l->lock);
                        l->sleepers--;
                }
        }
        if (fuse_session_exited(l->se))
                return false;
        l->reading = true;
        l->busy = false;
        l->turn++;
        /* Another waiter may become the deputy now. */
        if (l->sleepers && !l->deputy)
                pthread_cond_signal(&l->turn_free);
        return true;
}

static void give_turn(struct loop *l)
{
        l->reading = false;
        l->busy = false;
        l->turn++;
        pthread_cond_signal(&l->turn_free);
}

static void unlock_turn(void *arg)
{
        struct loop *l = arg;

        pthread_mutex_lock(&l->lock);
        give_turn(l);
        pthread_mutex_unlock(&l->lock);
}

static void *worker(void *arg)
{
        struct loop *l = arg;
        struct fuse_buf buf;
        bool mine = false; /* holding the turn */
        uint64_t turn = 0;
        int r;

        memset(&buf, 0, sizeof(buf));
        pthread_setname_np(pthread_self(), LOOP_THREAD_NAME);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        for (;;) {
                pthread_mutex_lock(&l->lock);
                if (mine && fuse_session_exited(l->se)) {
                        give_turn(l);
                        mine = false;
                }
                if (!mine) {
                        if (!take_turn(l)) {
                                pthread_mutex_unlock(&l->lock);
                                break;
                        }
                        turn = l->turn;
                        mine = true;
                } else {
                        l->busy = false;
                }
                pthread_mutex_unlock(&l->lock);

                /* Cancellable only here, where no request is held. */
                pthread_cleanup_push(unlock_turn, l);
                pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
                spin(l);
                r = fuse_session_receive_buf(l->se, &buf);
                pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
                pthread_cleanup_pop(0);

                pthread_mutex_lock(&l->lock);
                mine = l->reading && l->turn == turn;
                if (r <= 0 && r != -EINTR) {
                        if (r < 0 && !l->error)
                                l->error = r;
                        fuse_session_exit(l->se);
                        if (mine)
                                give_turn(l);
                        pthread_cond_broadcast(&l->turn_free);
                        pthread_mutex_unlock(&l->lock);
                        break;
                }
                if (r == -EINTR || !mine) {
                        /* Nothing to answer, or the turn was lost. */
                        pthread_mutex_unlock(&l->lock);
                        if (r == -EINTR)
                                continue;
                } else {
                        l->last_request = monotonic_us();
                        /*
                         * More requests queued already and this one may
                         * take a while: let the next worker read them
                         * while this one answers.
                         */
                        if (may_block(&buf) && pending(l)) {
                                give_turn(l);
                                mine = false;
                        } else {
                                l->busy = true;
                                l->busy_since = l->last_request;
                                /* After a quiet spell: wake a deputy. */
                                if (!l->deputy && l->sleepers)
                                        pthread_cond_signal(&l->turn_free);
                        }
                        pthread_mutex_unlock(&l->lock);
                }
                fuse_session_process_buf(l->se, &buf);
                if (mine) {
                        /* Still the leader, unless the deputy took over. */
                        pthread_mutex_lock(&l->lock);
                        mine = l->reading && l->turn == turn;
                        pthread_mutex_unlock(&l->lock);
                }
        }
        free(buf.mem);
        sem_post(&l->ended);
        return NULL;
}

int loop_run(struct fuse_session *se, unsigned int threads,
             unsigned int spin_us)
{
        struct loop l = {
                .se = se,
                .fd = fuse_session_fd(se),
                .spin_us = spin_us,
        };
        pthread_t *tid;
        unsigned int i, n = 0;
        int r = 0;

        if (threads == 0)
                threads = 1;
        tid = calloc(threads, sizeof(*tid));
        if (!tid)
                return -ENOMEM;
        pthread_mutex_init(&l.lock, NULL);
        pthread_cond_init(&l.turn_free, NULL);
        sem_init(&l.ended, 0, 0);
        for (i = 0; i < threads; i++) {
                r = -pthread_create(&tid[n], NULL, worker, &l);
                if (r < 0)
                        break;
                n++;
        }
        if (n == 0) {
                fuse_session_exit(se);
        } else {
                /*
                 * Until the session ends: unmounted (a worker's read says
                 * so), or a signal (libfuse's handlers exit the session;
                 * sem_wait returns on it in this thread, or the worker it
                 * interrupted ends).
                 */
                while (!fuse_session_exited(se))
                        sem_wait(&l.ended);
        }
        pthread_mutex_lock(&l.lock);
        pthread_cond_broadcast(&l.turn_free);
        pthread_mutex_unlock(&l.lock);
        for (i = 0; i < n; i++)
                pthread_cancel(tid[i]);
        for (i = 0; i < n; i++)
                pthread_join(tid[i], NULL);
        sem_destroy(&l.ended);
        pthread_cond_destroy(&l.turn_free);
        pthread_mutex_destroy(&l.lock);
        free(tid);
        if (l.error)
                return l.error;
        return r;
}
