/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loop.c - the daemon's session loop: readers that classify each request
 * into its storage host's queue, a limit of running requests per queue,
 * backlogs for the rest, workers started on demand, and the interrupts of
 * queued and running requests (see loop.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "clock.h"
#include "loop.h"
#include "thread.h"

/* How often interrupted requests are checked for a dying caller (ms). */
#define RECHECK_MS 200
/* Interrupts whose request is not known yet: how many, how long (µs). */
#define PENDING_MAX 64
#define PENDING_US 1000000
/* Interrupted requests checked per round. */
#define RECHECK_MAX 256
/* Threads at most, whatever the number of queues. */
#define THREADS_MAX 4096U
/* Queues at most (a classifier's bug must not allocate gigabytes). */
#define QUEUES_MAX 65536

/* What the loop knows of a request it holds, queued or running. */
struct req {
        uint64_t unique;
        uint64_t nodeid;
        uint32_t opcode;
        uint32_t pid;
        int queue;
        bool early;       /* may be answered EINTR while it runs */
        bool interrupted; /* an INTERRUPT came for it */
        bool answered;    /* answered EINTR by the loop; nodeid held */
};

/* A request in a backlog. */
struct item {
        struct item *next;
        struct req r;
        struct fuse_buf buf;  /* mem owned, exactly size bytes */
        struct fuse_buf intr; /* its INTERRUPT, passed on when it runs */
};

struct queue {
        unsigned int running;
        struct item *head, *tail;
};

struct worker {
        struct worker *next;
        struct loop *l;
        pthread_t thread;
        bool busy;        /* runs cur */
        bool done;        /* has ended: to be joined */
        struct req cur;
};

struct loop {
        struct fuse_session *se;
        int fd;
        struct loop_params p;
        pthread_mutex_t lock;
        sem_t wake;              /* main thread: a worker ended, an
                                  * interrupted request to watch */
        /* Under lock: */
        struct worker *workers;  /* every worker started, until joined */
        unsigned int threads;    /* workers not ended */
        unsigned int idle;       /* workers reading (or about to) */
        bool stopping;
        struct queue *queues;
        size_t n_queues;
        uint64_t pending[PENDING_MAX];
        int64_t pending_at[PENDING_MAX];
        size_t n_pending;
        int error;               /* the first receive error (negative) */
        bool spawn_failed;       /* reported once */
        atomic_bool spinning;
};

static void *worker_main(void *arg);

/*
 * Whether the operation leaves nothing a late answer could not undo, so
 * that it may be answered EINTR while it still runs (its caller dying):
 * the kernel then refuses the real reply, and what that reply would have
 * created (a lookup, an open file) is undone by the operation itself.
 */
static bool early_ok(const struct fuse_in_header *in, size_t size)
{
        switch (in->opcode) {
        case FUSE_OPEN: {
                const struct fuse_open_in *arg = (const void *)(in + 1);

                /* A truncation would be done and not reported. */
                return size >= sizeof(*in) + sizeof(*arg) &&
                       !(arg->flags & O_TRUNC);
        }
        case FUSE_READ:
        case FUSE_GETATTR:
        case FUSE_LOOKUP:
        case FUSE_READDIR:
        case FUSE_READDIRPLUS:
        case FUSE_READLINK:
        case FUSE_GETXATTR:
        case FUSE_LISTXATTR:
        case FUSE_STATFS:
        case FUSE_ACCESS:
        case FUSE_LSEEK:
        case FUSE_GETLK:
        case FUSE_FSYNC:
        case FUSE_FSYNCDIR:
                return true;
        default:
                return false;
        }
}

static void req_init(struct req *r, const struct fuse_buf *buf, int queue)
{
        const struct fuse_in_header *in = buf->mem;

        memset(r, 0, sizeof(*r));
        r->unique = in->unique;
        r->nodeid = in->nodeid;
        r->opcode = in->opcode;
        r->pid = in->pid;
        r->queue = queue;
        r->early = early_ok(in, buf->size);
}

/*
 * Whether the thread pid (in the daemon's pid namespace) has SIGKILL
 * pending: killed, or ended by a signal whose default action it kept (the
 * kernel marks every thread of a dying process so).
 */
static bool caller_dying(uint32_t pid)
{
        char path[32], buf[4096];
        const char *keys[] = { "\nSigPnd:", "\nShdPnd:" };
        ssize_t n;
        int fd;

        if (pid == 0)
                return false;
        snprintf(path, sizeof(path), "/proc/%u/status", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                const char *p = strstr(buf, keys[k]);
                unsigned long long mask;

                if (p && sscanf(p + strlen(keys[k]), "%llx", &mask) == 1 &&
                    (mask & (1ULL << (SIGKILL - 1))))
                        return true;
        }
        return false;
}

/* A bare error reply; the kernel refuses it (ENOENT) once answered. */
static void answer_eintr(struct loop *l, uint64_t unique)
{
        struct fuse_out_header out = {
                .len = sizeof(out),
                .error = -EINTR,
                .unique = unique,
        };

        if (write(l->fd, &out, sizeof(out)) < 0) {
                /* answered meanwhile, or the session is gone */
        }
}

static void item_free(struct item *it)
{
        if (!it)
                return;
        free(it->buf.mem);
        free(it->intr.mem);
        free(it);
}

/* Queue q, made on first use (queue 0 when that fails).  Under lock. */
static struct queue *queue_get(struct loop *l, int q)
{
        if (q >= QUEUES_MAX)
                q = 0;
        if ((size_t)q >= l->n_queues) {
                size_t n = (size_t)q + 8;
                struct queue *v = realloc(l->queues, n * sizeof(*v));

                if (!v)
                        return &l->queues[0];
                memset(v + l->n_queues, 0, (n - l->n_queues) * sizeof(*v));
                l->queues = v;
                l->n_queues = n;
        }
        return &l->queues[q];
}

/* The queued request unique, and the link to it; NULL.  Under lock. */
static struct item *find_queued(struct loop *l, uint64_t unique,
                                struct queue **ret_q, struct item **ret_prev)
{
        for (size_t q = 0; q < l->n_queues; q++) {
                struct item *prev = NULL;

                for (struct item *it = l->queues[q].head; it; it = it->next) {
                        if (it->r.unique == unique) {
                                *ret_q = &l->queues[q];
                                *ret_prev = prev;
                                return it;
                        }
                        prev = it;
                }
        }
        return NULL;
}

static void unlink_item(struct queue *qu, struct item *prev, struct item *it)
{
        if (prev)
                prev->next = it->next;
        else
                qu->head = it->next;
        if (qu->tail == it)
                qu->tail = prev;
        it->next = NULL;
}

/* The worker running request unique, or NULL.  Under lock. */
static struct worker *find_running(struct loop *l, uint64_t unique)
{
        for (struct worker *w = l->workers; w; w = w->next)
                if (w->busy && w->cur.unique == unique)
                        return w;
        return NULL;
}

/*
 * Whether an interrupt for unique came before the request was known (it is
 * then taken from the list).  Under lock.
 */
static bool take_pending(struct loop *l, uint64_t unique)
{
        for (size_t i = 0; i < l->n_pending; i++) {
                if (l->pending[i] == unique) {
                        l->n_pending--;
                        l->pending[i] = l->pending[l->n_pending];
                        l->pending_at[i] = l->pending_at[l->n_pending];
                        return true;
                }
        }
        return false;
}

/*
 * Remember an interrupt for a request not known here: read by another
 * worker and not classified yet, or answered already (then it expires).
 * Under lock.
 */
static void add_pending(struct loop *l, uint64_t unique)
{
        int64_t now = monotonic_us();
        size_t i = 0;

        while (i < l->n_pending) {
                if (now - l->pending_at[i] > PENDING_US) {
                        l->n_pending--;
                        l->pending[i] = l->pending[l->n_pending];
                        l->pending_at[i] = l->pending_at[l->n_pending];
                } else {
                        i++;
                }
        }
        if (l->n_pending == PENDING_MAX)
                return; /* libfuse still has it (see interrupt()) */
        l->pending[l->n_pending] = unique;
        l->pending_at[l->n_pending++] = now;
}

/* Most threads for the queues known now.  Under lock. */
static unsigned int thread_cap(const struct loop *l)
{
        size_t n = l->n_queues ? l->n_queues : 1;
        size_t cap = (size_t)l->p.limit * n + l->p.idle + 1;

        return cap < THREADS_MAX ? (unsigned int)cap : THREADS_MAX;
}

/*
 * Start a worker, counted idle.  Under lock (a rare event: creating the
 * thread there keeps the worker list whole for the main thread).
 */
static void spawn_locked(struct loop *l)
{
        struct worker *w;
        int r;

        if (l->stopping || l->threads >= thread_cap(l))
                return;
        w = calloc(1, sizeof(*w));
        if (w)
                w->l = l;
        r = w ? thread_start_unsignalled(&w->thread, worker_main, w) : -ENOMEM;
        if (!w || r < 0) {
                free(w);
                if (!l->spawn_failed)
                        fuse_log(FUSE_LOG_ERR, "vfolderfs: cannot start a "
                                 "worker thread: %s\n", strerror(-r));
                l->spawn_failed = true;
                return;
        }
        w->next = l->workers;
        l->workers = w;
        l->threads++;
        l->idle++;
}

/*
 * Wait up to spin_us for a request, one worker at a time: a caller that
 * sends its next request right after the last reply finds it awake.
 */
static void spin(struct loop *l)
{
        bool none = false;
        struct pollfd p = { .fd = l->fd, .events = POLLIN };
        int64_t t0;

        if (!atomic_compare_exchange_strong(&l->spinning, &none, true))
                return;
        t0 = monotonic_us();
        do {
                if (poll(&p, 1, 0) > 0)
                        break;
        } while (monotonic_us() - t0 < (int64_t)l->p.spin_us);
        atomic_store(&l->spinning, false);
}

static void buf_free(void *arg)
{
        struct fuse_buf *buf = arg;

        free(buf->mem);
        buf->mem = NULL;
}

/* Read one request; cancellable only here (at the loop's end). */
static int receive(struct loop *l, struct fuse_buf *buf)
{
        int r;

        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        if (l->p.spin_us)
                spin(l);
        r = fuse_session_receive_buf(l->se, buf);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        return r;
}

/*
 * An INTERRUPT: see loop.h.  Found queued: answered when its caller is
 * dying or it is a lock wait, else kept for libfuse until it runs.  Found
 * running: answered when early_ok() and its caller is dying; libfuse is
 * told in any case.  Not found: libfuse is told (it keeps interrupts of
 * requests it has not seen yet) and the loop remembers it for a while.
 */
static void interrupt(struct loop *l, struct fuse_buf *buf)
{
        const struct fuse_in_header *in = buf->mem;
        const struct fuse_interrupt_in *arg = (const void *)(in + 1);
        struct queue *qu;
        struct item *it, *prev;
        struct worker *w;
        uint64_t target;
        uint32_t pid = 0;
        bool dying = false, watch = false, answer = false, to_libfuse = true;

        if (buf->size < sizeof(*in) + sizeof(*arg)) {
                fuse_session_process_buf(l->se, buf);
                return;
        }
        target = arg->unique;
        pthread_mutex_lock(&l->lock);
        it = find_queued(l, target, &qu, &prev);
        w = it ? NULL : find_running(l, target);
        if (it)
                pid = it->r.pid;
        else if (w && w->cur.early && !w->cur.answered)
                pid = w->cur.pid;
        pthread_mutex_unlock(&l->lock);
        if (pid)
                dying = caller_dying(pid);

        pthread_mutex_lock(&l->lock);
        it = find_queued(l, target, &qu, &prev);
        if (it) {
                watch = !it->r.interrupted;
                it->r.interrupted = true;
                if (dying || it->r.opcode == FUSE_SETLKW) {
                        unlink_item(qu, prev, it);
                        pthread_mutex_unlock(&l->lock);
                        answer_eintr(l, target);
                        item_free(it);
                        return;
                }
                if (!it->intr.mem) {
                        it->intr.mem = malloc(buf->size);
                        if (it->intr.mem) {
                                memcpy(it->intr.mem, buf->mem, buf->size);
                                it->intr.size = buf->size;
                                to_libfuse = false;
                        }
                } else {
                        to_libfuse = false; /* a repeat */
                }
        } else if ((w = find_running(l, target))) {
                watch = !w->cur.interrupted && w->cur.early;
                w->cur.interrupted = true;
                if (dying && w->cur.early && !w->cur.answered) {
                        /* Held before the worker can see it answered. */
                        l->p.hold(l->p.arg, w->cur.nodeid);
                        w->cur.answered = true;
                        watch = false;
                        answer = true;
                }
        } else {
                add_pending(l, target);
        }
        pthread_mutex_unlock(&l->lock);
        if (answer)
                answer_eintr(l, target);
        if (watch)
                sem_post(&l->wake);
        if (to_libfuse)
                fuse_session_process_buf(l->se, buf);
}

/*
 * After w ran a request: let the next of its queue's backlog run, here, or
 * go back to reading.  Returns false when w is to end (enough readers).
 */
static bool finish(struct loop *l, struct worker *w)
{
        for (;;) {
                struct queue *qu;
                struct item *it = NULL;
                uint64_t nodeid = w->cur.nodeid;
                bool release, watch = false, more = true;

                pthread_mutex_lock(&l->lock);
                qu = &l->queues[w->cur.queue];
                qu->running--;
                release = w->cur.answered;
                w->busy = false;
                if (!fuse_session_exited(l->se) && !l->stopping &&
                    qu->head && qu->running < l->p.limit) {
                        it = qu->head;
                        qu->head = it->next;
                        if (!qu->head)
                                qu->tail = NULL;
                        qu->running++;
                        w->cur = it->r;
                        w->busy = true;
                        /* Its interrupt now goes to libfuse, and here. */
                        watch = it->r.interrupted && it->r.early;
                } else if (l->stopping || l->idle >= l->p.idle) {
                        more = false;
                } else {
                        l->idle++;
                }
                pthread_mutex_unlock(&l->lock);
                if (release)
                        l->p.release(l->p.arg, nodeid);
                if (!it)
                        return more;
                if (watch)
                        sem_post(&l->wake);
                if (it->intr.mem)
                        fuse_session_process_buf(l->se, &it->intr);
                fuse_session_process_buf(l->se, &it->buf);
                item_free(it);
        }
}

/*
 * Run or queue the request in buf.  Returns false when the worker is to
 * end.
 */
static bool dispatch(struct loop *l, struct worker *w, struct fuse_buf *buf)
{
        const struct fuse_in_header *in = buf->mem;
        struct queue *qu;
        struct item *it;
        bool interrupted;
        int q;

        if ((buf->flags & FUSE_BUF_IS_FD) || buf->size < sizeof(*in)) {
                fuse_session_process_buf(l->se, buf); /* not used here */
                return true;
        }
        if (in->opcode == FUSE_INTERRUPT) {
                interrupt(l, buf);
                return true;
        }
        q = l->p.classify(l->p.arg, buf->mem, buf->size);
        if (q < 0) {
                fuse_session_process_buf(l->se, buf);
                return true;
        }
        pthread_mutex_lock(&l->lock);
        if (l->stopping) {
                /* The session ends: the kernel aborts what it still waits on. */
                pthread_mutex_unlock(&l->lock);
                return false;
        }
        qu = queue_get(l, q);
        q = (int)(qu - l->queues);
        interrupted = l->n_pending && take_pending(l, in->unique);
        it = qu->running >= l->p.limit ? calloc(1, sizeof(*it)) : NULL;
        if (it) {
                /* Kept at its own size; the next read gets a new buffer. */
                void *mem = realloc(buf->mem, buf->size);

                it->buf.mem = mem ? mem : buf->mem;
                it->buf.size = buf->size;
                buf->mem = NULL;
                req_init(&it->r, &it->buf, q);
                it->r.interrupted = interrupted;
                if (qu->tail)
                        qu->tail->next = it;
                else
                        qu->head = it;
                qu->tail = it;
                pthread_mutex_unlock(&l->lock);
                if (interrupted)
                        sem_post(&l->wake);
                return true;
        }
        /* Below its limit (or no memory to queue it): run it here. */
        qu->running++;
        l->idle--;
        req_init(&w->cur, buf, q);
        w->cur.interrupted = interrupted;
        w->busy = true;
        if (l->idle == 0)
                spawn_locked(l); /* a reader always exists */
        pthread_mutex_unlock(&l->lock);
        if (interrupted && w->cur.early)
                sem_post(&l->wake);
        fuse_session_process_buf(l->se, buf);
        return finish(l, w);
}

static void *worker_main(void *arg)
{
        struct worker *w = arg;
        struct loop *l;
        struct fuse_buf buf;

        memset(&buf, 0, sizeof(buf));
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        pthread_setname_np(pthread_self(), LOOP_THREAD_NAME);
        l = w->l;
        pthread_cleanup_push(buf_free, &buf);
        for (;;) {
                int r = receive(l, &buf);

                if (r == -EINTR || r == -EAGAIN)
                        continue;
                if (r <= 0) {
                        /* Unmounted (0), or an error. */
                        pthread_mutex_lock(&l->lock);
                        if (r < 0 && !l->error)
                                l->error = r;
                        l->idle--;
                        pthread_mutex_unlock(&l->lock);
                        fuse_session_exit(l->se);
                        break;
                }
                if (!dispatch(l, w, &buf))
                        break;
        }
        pthread_cleanup_pop(1);
        pthread_mutex_lock(&l->lock);
        l->threads--;
        w->done = true;
        pthread_mutex_unlock(&l->lock);
        sem_post(&l->wake);
        return NULL;
}

/* Join the workers that ended.  Not under lock. */
static void reap(struct loop *l)
{
        for (;;) {
                struct worker **pp, *w = NULL;

                pthread_mutex_lock(&l->lock);
                for (pp = &l->workers; *pp; pp = &(*pp)->next) {
                        if ((*pp)->done) {
                                w = *pp;
                                *pp = w->next;
                                break;
                        }
                }
                pthread_mutex_unlock(&l->lock);
                if (!w)
                        return;
                pthread_join(w->thread, NULL);
                free(w);
        }
}

/*
 * Answer the interrupted requests whose caller is dying by now.  Returns
 * whether interrupted requests that may be answered are left to watch.
 */
static bool recheck(struct loop *l)
{
        uint64_t uniques[RECHECK_MAX];
        uint32_t pids[RECHECK_MAX];
        bool dying[RECHECK_MAX];
        struct item *answered = NULL;
        uint64_t early_answered[RECHECK_MAX];
        size_t n = 0, n_early = 0, left = 0;

        pthread_mutex_lock(&l->lock);
        for (size_t q = 0; q < l->n_queues; q++)
                for (struct item *it = l->queues[q].head; it; it = it->next)
                        if (it->r.interrupted && n < RECHECK_MAX) {
                                uniques[n] = it->r.unique;
                                pids[n++] = it->r.pid;
                        }
        for (struct worker *w = l->workers; w; w = w->next)
                if (w->busy && w->cur.interrupted && w->cur.early &&
                    !w->cur.answered && n < RECHECK_MAX) {
                        uniques[n] = w->cur.unique;
                        pids[n++] = w->cur.pid;
                }
        pthread_mutex_unlock(&l->lock);
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                dying[i] = caller_dying(pids[i]);

        pthread_mutex_lock(&l->lock);
        for (size_t i = 0; i < n; i++) {
                struct queue *qu;
                struct item *it, *prev;
                struct worker *w;

                if (!dying[i]) {
                        left++;
                        continue;
                }
                it = find_queued(l, uniques[i], &qu, &prev);
                if (it) {
                        unlink_item(qu, prev, it);
                        it->next = answered;
                        answered = it;
                } else if ((w = find_running(l, uniques[i])) &&
                           w->cur.early && !w->cur.answered) {
                        l->p.hold(l->p.arg, w->cur.nodeid);
                        w->cur.answered = true;
                        early_answered[n_early++] = uniques[i];
                }
        }
        pthread_mutex_unlock(&l->lock);
        while (answered) {
                struct item *it = answered;

                answered = it->next;
                answer_eintr(l, it->r.unique);
                item_free(it);
        }
        for (size_t i = 0; i < n_early; i++)
                answer_eintr(l, early_answered[i]);
        return left > 0 || n == RECHECK_MAX;
}

/* Wait on the semaphore, at most ms when ms >= 0. */
static void wait_wake(struct loop *l, int ms)
{
        struct timespec ts;

        if (ms < 0) {
                sem_wait(&l->wake);
                return;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)ms * 1000000L;
        while (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        sem_timedwait(&l->wake, &ts);
}

struct loop *loop_new(struct fuse_session *se, const struct loop_params *params)
{
        struct loop *l = calloc(1, sizeof(*l));

        if (!l)
                return NULL;
        l->se = se;
        l->fd = fuse_session_fd(se);
        l->p = *params;
        if (l->p.limit == 0)
                l->p.limit = 1;
        if (l->p.idle == 0)
                l->p.idle = 1;
        if (!queue_get(l, 0) || l->n_queues == 0) {
                free(l);
                return NULL;
        }
        pthread_mutex_init(&l->lock, NULL);
        sem_init(&l->wake, 0, 0);
        return l;
}

int loop_run(struct loop *l)
{
        bool watching = false;
        int r = 0;

        pthread_mutex_lock(&l->lock);
        /* One reader; the others come on demand (loop.h). */
        spawn_locked(l);
        if (l->threads == 0)
                r = -EAGAIN;
        pthread_mutex_unlock(&l->lock);
        if (r < 0)
                fuse_session_exit(l->se);
        /*
         * Until the session ends: unmounted (a worker's read says so), or
         * a signal (libfuse's handlers exit the session; the workers block
         * signals, so sem_wait() here returns on it).
         */
        while (!fuse_session_exited(l->se)) {
                wait_wake(l, watching ? RECHECK_MS : -1);
                reap(l);
                watching = recheck(l);
        }

        /*
         * The idle workers end here; those running a request (it may wait
         * on a stalled host) end once it returns, in loop_free().
         */
        pthread_mutex_lock(&l->lock);
        l->stopping = true;
        for (struct worker *w = l->workers; w; w = w->next)
                if (!w->done && !w->busy)
                        pthread_cancel(w->thread);
        pthread_mutex_unlock(&l->lock);
        for (;;) {
                struct worker **pp, *w = NULL;

                pthread_mutex_lock(&l->lock);
                for (pp = &l->workers; *pp; pp = &(*pp)->next) {
                        if (!(*pp)->busy) {
                                w = *pp;
                                *pp = w->next;
                                break;
                        }
                }
                pthread_mutex_unlock(&l->lock);
                if (!w)
                        break;
                pthread_join(w->thread, NULL);
                free(w);
        }
        if (r < 0)
                return r;
        return l->error;
}

void loop_free(struct loop *l)
{
        if (!l)
                return;
        /* No worker starts any more: the list only shrinks, here. */
        for (;;) {
                struct worker *w;

                pthread_mutex_lock(&l->lock);
                w = l->workers;
                if (w)
                        l->workers = w->next;
                pthread_mutex_unlock(&l->lock);
                if (!w)
                        break;
                pthread_join(w->thread, NULL);
                free(w);
        }
        for (size_t q = 0; q < l->n_queues; q++) {
                while (l->queues[q].head) {
                        struct item *it = l->queues[q].head;

                        l->queues[q].head = it->next;
                        item_free(it);
                }
        }
        free(l->queues);
        sem_destroy(&l->wake);
        pthread_mutex_destroy(&l->lock);
        free(l);
}
