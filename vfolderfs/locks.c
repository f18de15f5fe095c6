/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * locks.c - POSIX and flock locks taken on the backing files (see locks.h):
 * per file, a list of lock contexts (owner, descriptor, references) under
 * the file's own mutex; per daemon, the registry of waiter threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "locks.h"
#include "watch.h"

/* The signal that wakes a waiter; its handler does nothing. */
#define LOCKS_SIGNAL (SIGRTMIN + 2)
/* A waiter's stack: it calls fcntl()/flock() and replies, nothing more. */
#define WAITER_STACK (128 * 1024)

/*
 * One owner's POSIX locks on one file: an open file description of the
 * backing file of its own.  The list of its file holds one reference, each
 * request using it one more (a waiter until it has replied); the
 * descriptor, and with it every lock on it, goes with the last.
 */
struct lock_ctx {
        struct lock_ctx *next;    /* in its file's list (under its lock) */
        uint64_t owner;           /* the kernel's lock owner */
        int fd;
        int via;                  /* backing fd of the open file last used
                                   * for it (locks_release()) */
        unsigned int refs;        /* atomic */
        struct inode_table *inodes; /* fd is counted there */
};

/* A file's lock state, attached to its inode record on its first lock. */
struct file_locks {
        pthread_mutex_t lock;
        struct lock_ctx *ctxs;
        size_t n;                 /* contexts in the list; atomic reads */
};

struct waiter {
        struct waiter *next, *prev; /* in the active or the done list */
        struct locks *locks;
        fuse_req_t req;
        fuse_ino_t ino;
        struct lock_ctx *ctx;     /* POSIX: a reference; flock: NULL */
        int fd;                   /* POSIX: ctx->fd; flock: a dup, ours */
        struct flock fl;          /* POSIX: the lock asked for */
        int op;                   /* flock: LOCK_SH or LOCK_EX */
        pthread_t thread;         /* written under the registry lock */
        int cancel;               /* atomic: 0, or the errno to end with */
};

struct locks {
        struct fuse_session *se;  /* for cache invalidations */
        struct vfs_ctx *ctx;      /* its storage watcher */
        struct inode_table *inodes;
        pthread_mutex_t lock;
        pthread_cond_t idle;      /* the active list became empty */
        struct waiter active;     /* list heads */
        struct waiter done;       /* finished, to be joined */
        size_t n_active;
        size_t max_active;        /* LOCKS_MAX_WAITERS */
        bool stopping;            /* atomic reads outside the lock */
};

static void list_init(struct waiter *head)
{
        head->next = head;
        head->prev = head;
}

static void list_del(struct waiter *w)
{
        w->prev->next = w->next;
        w->next->prev = w->prev;
}

static void list_add(struct waiter *head, struct waiter *w)
{
        w->next = head->next;
        w->prev = head;
        head->next->prev = w;
        head->next = w;
}

/* ---- lock contexts ------------------------------------------------------ */

static void ctx_put(struct lock_ctx *c)
{
        if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL))
                return;
        close(c->fd);
        inode_table_return_fd(c->inodes);
        free(c);
}

/* Release every lock the context holds, keeping the descriptor. */
static void ctx_unlock_all(struct lock_ctx *c)
{
        struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

        (void)fcntl(c->fd, F_OFD_SETLK, &fl);
}

static void file_locks_free(void *p)
{
        struct file_locks *fl = p;
        struct lock_ctx *c, *next;

        for (c = fl->ctxs; c; c = next) {
                next = c->next;
                ctx_put(c);
        }
        pthread_mutex_destroy(&fl->lock);
        free(fl);
}

/* inode's lock state, attached now if it has none; NULL: ENOMEM. */
static struct file_locks *file_locks_of(struct locks *locks,
                                        struct inode *inode)
{
        struct file_locks *fl = __atomic_load_n(&inode->locks,
                                                __ATOMIC_ACQUIRE);
        struct file_locks *now;

        if (fl)
                return fl;
        fl = calloc(1, sizeof(*fl));
        if (!fl)
                return NULL;
        pthread_mutex_init(&fl->lock, NULL);
        now = inode_locks_attach(locks->inodes, inode, fl, file_locks_free);
        if (now != fl)
                file_locks_free(fl);
        return now;
}

/*
 * inode's lock state when it has any lock context, else NULL: one atomic
 * load for a file that never had a lock (FLUSH and RELEASE ask at every
 * close).
 */
static struct file_locks *busy_locks(const struct inode *inode)
{
        struct file_locks *fl = __atomic_load_n(&inode->locks,
                                                __ATOMIC_ACQUIRE);

        if (!fl || !__atomic_load_n(&fl->n, __ATOMIC_ACQUIRE))
                return NULL;
        return fl;
}

/* The context of owner in fl with a reference added, or NULL. */
static struct lock_ctx *ctx_find_locked(struct file_locks *fl, uint64_t owner,
                                        int via)
{
        for (struct lock_ctx *c = fl->ctxs; c; c = c->next) {
                if (c->owner == owner) {
                        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
                        c->via = via;
                        return c;
                }
        }
        return NULL;
}

static struct lock_ctx *ctx_find(struct inode *inode, uint64_t owner, int via)
{
        struct file_locks *fl = busy_locks(inode);
        struct lock_ctx *c;

        if (!fl)
                return NULL;
        pthread_mutex_lock(&fl->lock);
        c = ctx_find_locked(fl, owner, via);
        pthread_mutex_unlock(&fl->lock);
        return c;
}

/*
 * A new descriptor of inode for lock context: read-write when the storage
 * lets us (one context serves an owner's read and write locks alike), else
 * what a lock of type needs (a read-only file system, a file the daemon may
 * only read, a running executable).  Returns it or a negative errno.
 */
static int ctx_open(struct inode *inode, short type)
{
        char path[32];
        int ifd, fd, err;

        ifd = inode_fd_get(inode);
        if (ifd < 0)
                return ifd;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", ifd);
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && (errno == EACCES || errno == EROFS ||
                       errno == ETXTBSY || errno == EPERM))
                fd = open(path, (type == F_WRLCK ? O_WRONLY : O_RDONLY) |
                                O_CLOEXEC | O_NOCTTY);
        err = errno;
        inode_fd_put(inode, ifd);
        return fd < 0 ? -err : fd;
}

/*
 * The context of owner on inode with a reference added, made now if it has
 * none (through open file via).  Returns 0 or a positive errno.
 */
static int ctx_get(struct locks *locks, struct inode *inode, uint64_t owner,
                   int via, short type, struct lock_ctx **ret_ctx)
{
        struct file_locks *fl = file_locks_of(locks, inode);
        struct lock_ctx *c, *fresh;
        int fd;

        if (!fl)
                return ENOMEM;
        pthread_mutex_lock(&fl->lock);
        c = ctx_find_locked(fl, owner, via);
        pthread_mutex_unlock(&fl->lock);
        if (c) {
                *ret_ctx = c;
                return 0;
        }
        /* Opened outside the lock: the storage may be slow to answer. */
        fresh = calloc(1, sizeof(*fresh));
        if (!fresh)
                return ENOMEM;
        fd = ctx_open(inode, type);
        if (fd < 0) {
                free(fresh);
                return -fd;
        }
        inode_table_count_fd(locks->inodes);
        fresh->owner = owner;
        fresh->fd = fd;
        fresh->via = via;
        fresh->refs = 2; /* the list's and the caller's */
        fresh->inodes = locks->inodes;
        pthread_mutex_lock(&fl->lock);
        c = ctx_find_locked(fl, owner, via); /* made meanwhile? */
        if (!c) {
                fresh->next = fl->ctxs;
                fl->ctxs = fresh;
                __atomic_add_fetch(&fl->n, 1, __ATOMIC_RELEASE);
                c = fresh;
                fresh = NULL;
        }
        pthread_mutex_unlock(&fl->lock);
        if (fresh) {
                fresh->refs = 1;
                ctx_put(fresh);
        }
        *ret_ctx = c;
        return 0;
}

/*
 * Take c out of its list (fl locked, *pp pointing at it): its locks go now,
 * its descriptor with the last reference.  One still in use by a waiter is
 * kept instead, without locks: the lock it waits for is the owner's once
 * granted, as a wait that a close does not cancel on a local file system.
 */
static bool ctx_drop_locked(struct file_locks *fl, struct lock_ctx **pp,
                            bool keep_busy)
{
        struct lock_ctx *c = *pp;

        if (keep_busy && __atomic_load_n(&c->refs, __ATOMIC_ACQUIRE) > 1) {
                ctx_unlock_all(c);
                return false;
        }
        *pp = c->next;
        __atomic_sub_fetch(&fl->n, 1, __ATOMIC_RELEASE);
        if (__atomic_load_n(&c->refs, __ATOMIC_ACQUIRE) > 1)
                ctx_unlock_all(c); /* now, not at the last reference */
        return true;
}

void locks_flush(struct inode *inode, uint64_t owner)
{
        struct file_locks *fl = busy_locks(inode);
        struct lock_ctx **pp, *gone = NULL;

        if (!fl)
                return;
        pthread_mutex_lock(&fl->lock);
        for (pp = &fl->ctxs; *pp; pp = &(*pp)->next) {
                if ((*pp)->owner == owner) {
                        struct lock_ctx *c = *pp;

                        if (ctx_drop_locked(fl, pp, true))
                                gone = c;
                        break;
                }
        }
        pthread_mutex_unlock(&fl->lock);
        /* The close (a round trip on NFS) outside the file's lock. */
        if (gone)
                ctx_put(gone);
}

void locks_release(struct inode *inode, int fh)
{
        struct file_locks *fl = busy_locks(inode);
        struct lock_ctx **pp, *gone = NULL;

        if (!fl)
                return;
        pthread_mutex_lock(&fl->lock);
        pp = &fl->ctxs;
        while (*pp) {
                struct lock_ctx *c = *pp;

                if (c->via == fh && ctx_drop_locked(fl, pp, false)) {
                        c->next = gone;
                        gone = c;
                } else {
                        pp = &c->next;
                }
        }
        pthread_mutex_unlock(&fl->lock);
        while (gone) {
                struct lock_ctx *next = gone->next;

                ctx_put(gone);
                gone = next;
        }
}

/*
 * A lock was granted on ino: before the holder is told, the kernel's
 * cache must show what whoever held the lock before it (in another session,
 * on the storage host) left behind.  So the storage watcher acts on every
 * change reported so far (names: a journal another session removed must
 * not be found in the dentry cache, watch_sync()), and the file's cached
 * data and attributes are dropped (an NFS client does the same when it
 * takes a lock).  Writes are not cached (no writeback cache): what the
 * holder writes is on the storage by the time it unlocks.
 */
static void drop_cache(struct locks *l, fuse_ino_t ino)
{
        watch_sync(l->ctx->watch);
        (void)fuse_lowlevel_notify_inval_inode(l->se, ino, 0, 0);
}

/* ---- waiters ------------------------------------------------------------ */

static void wake_handler(int sig)
{
        (void)sig;
}

int locks_new(struct fuse_session *se, struct vfs_ctx *ctx,
              struct locks **ret_locks)
{
        struct sigaction sa;
        struct locks *l;

        /* No SA_RESTART: the wake-up must end the blocking call. */
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = wake_handler;
        sigemptyset(&sa.sa_mask);
        if (sigaction(LOCKS_SIGNAL, &sa, NULL) < 0)
                return -errno;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->se = se;
        l->ctx = ctx;
        l->inodes = ctx->inodes;
        l->max_active = LOCKS_MAX_WAITERS;
        /* For tests only: a cap that a few waits reach. */
        {
                const char *m = getenv("VFOLDERFS_TEST_LOCK_WAITERS");

                if (m && *m)
                        l->max_active = strtoul(m, NULL, 10);
        }
        pthread_mutex_init(&l->lock, NULL);
        pthread_cond_init(&l->idle, NULL);
        list_init(&l->active);
        list_init(&l->done);
        *ret_locks = l;
        return 0;
}

/*
 * End w's wait with err: EINTR when the caller got a signal (the kernel
 * restarts the call for a handler with SA_RESTART: it does so only with a
 * signal pending), ENOLCK when the daemon stops.  The first reason wins.
 */
static void cancel(struct waiter *w, int err)
{
        int none = 0;

        __atomic_compare_exchange_n(&w->cancel, &none, err, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        pthread_kill(w->thread, LOCKS_SIGNAL);
}

static void interrupted(fuse_req_t req, void *data)
{
        (void)req;
        cancel(data, EINTR);
}

/*
 * A periodic LOCKS_SIGNAL to this thread while it waits: a wake-up that
 * came just before the blocking call is then acted on within a tick.
 */
static int start_ticks(timer_t *ret_timer)
{
        struct sigevent sev;
        struct itimerspec its = {
                .it_value = { 0, LOCKS_TICK_MS * 1000000L },
                .it_interval = { 0, LOCKS_TICK_MS * 1000000L },
        };
        timer_t timer;

        memset(&sev, 0, sizeof(sev));
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = LOCKS_SIGNAL;
        sev._sigev_un._tid = gettid();
        if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
                return -errno;
        if (timer_settime(timer, 0, &its, NULL) < 0) {
                int err = errno;

                timer_delete(timer);
                return -err;
        }
        *ret_timer = timer;
        return 0;
}

/* Block until granted or cancelled: 0 or a positive errno. */
static int wait_for_lock(struct waiter *w)
{
        for (;;) {
                int r = __atomic_load_n(&w->cancel, __ATOMIC_ACQUIRE);

                if (r)
                        return r;
                if (w->ctx)
                        r = fcntl(w->fd, F_OFD_SETLKW, &w->fl);
                else
                        r = flock(w->fd, w->op);
                if (r == 0)
                        return 0;
                if (errno != EINTR)
                        return errno;
        }
}

static void *waiter_main(void *arg)
{
        struct waiter *w = arg;
        struct locks *l = w->locks;
        sigset_t wake;
        timer_t timer = 0;
        bool granted;
        int err;

        pthread_setname_np(pthread_self(), "vfolderfs-lockw");
        /* w->thread is written by the creator under the registry lock. */
        pthread_mutex_lock(&l->lock);
        pthread_mutex_unlock(&l->lock);
        sigemptyset(&wake);
        sigaddset(&wake, LOCKS_SIGNAL);
        pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
        err = -start_ticks(&timer);
        if (!err) {
                /* Called at once when the request was interrupted already. */
                fuse_req_interrupt_func(w->req, interrupted, w);
                err = wait_for_lock(w);
                timer_delete(timer);
                /* Returns once no interrupt callback runs any more. */
                fuse_req_interrupt_func(w->req, NULL, NULL);
        } else {
                err = ENOLCK;
        }
        pthread_sigmask(SIG_BLOCK, &wake, NULL);
        /*
         * A lock granted while the daemon stops is not reported: dropping
         * the kernel's cache could need a request that no worker is left to
         * answer (a dirty page of a mapping written back).
         */
        granted = !err;
        if (granted && __atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE))
                err = ENOLCK;
        else if (granted)
                drop_cache(l, w->ino);
        if (fuse_reply_err(w->req, err) < 0 && !err)
                err = ENOTCONN; /* the request is gone */
        /* A lock granted and not reported is given back. */
        if (granted && err) {
                if (w->ctx) {
                        w->fl.l_type = F_UNLCK;
                        (void)fcntl(w->fd, F_OFD_SETLK, &w->fl);
                } else {
                        (void)flock(w->fd, LOCK_UN);
                }
        }
        if (w->ctx)
                ctx_put(w->ctx);
        else
                close(w->fd);
        pthread_mutex_lock(&l->lock);
        list_del(w);
        list_add(&l->done, w);
        if (--l->n_active == 0)
                pthread_cond_broadcast(&l->idle);
        pthread_mutex_unlock(&l->lock);
        return NULL;
}

/* Join (and free) every finished waiter. */
static void reap(struct locks *l)
{
        struct waiter done, *w;

        pthread_mutex_lock(&l->lock);
        if (l->done.next == &l->done) {
                pthread_mutex_unlock(&l->lock);
                return;
        }
        done.next = l->done.next;
        done.prev = l->done.prev;
        done.next->prev = &done;
        done.prev->next = &done;
        list_init(&l->done);
        pthread_mutex_unlock(&l->lock);
        while ((w = done.next) != &done) {
                list_del(w);
                pthread_join(w->thread, NULL);
                free(w);
        }
}

/*
 * Hand the wait of w to a thread of its own.  Returns 0 (the thread
 * replies and releases w's context or descriptor) or a positive errno
 * (nothing taken).
 */
static int spawn(struct locks *l, struct waiter *w)
{
        pthread_attr_t attr;
        sigset_t all, old;
        int r;

        reap(l);
        w->locks = l;
        pthread_mutex_lock(&l->lock);
        if (l->stopping || l->n_active >= l->max_active) {
                pthread_mutex_unlock(&l->lock);
                return ENOLCK;
        }
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, WAITER_STACK > PTHREAD_STACK_MIN ?
                                                 WAITER_STACK :
                                                 PTHREAD_STACK_MIN);
        /* Every signal but the wake-up is for the session's main thread. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&w->thread, &attr, waiter_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (r == 0) {
                list_add(&l->active, w);
                l->n_active++;
        }
        pthread_mutex_unlock(&l->lock);
        return r ? ENOLCK : 0;
}

void locks_stop(struct locks *l)
{
        if (!l)
                return;
        pthread_mutex_lock(&l->lock);
        __atomic_store_n(&l->stopping, true, __ATOMIC_RELEASE);
        for (struct waiter *w = l->active.next; w != &l->active;
             w = w->next)
                cancel(w, ENOLCK);
        while (l->n_active)
                pthread_cond_wait(&l->idle, &l->lock);
        pthread_mutex_unlock(&l->lock);
        reap(l);
}

void locks_free(struct locks *l)
{
        if (!l)
                return;
        pthread_mutex_destroy(&l->lock);
        pthread_cond_destroy(&l->idle);
        free(l);
}

/* ---- the operations ----------------------------------------------------- */

void locks_getlk(struct locks *l, fuse_req_t req, struct inode *inode,
                 struct fuse_file_info *fi, struct flock *lock)
{
        struct lock_ctx *c = ctx_find(inode, fi->lock_owner, (int)fi->fh);
        int r;

        (void)l;
        /*
         * On the owner's own descriptor, so that its own locks do not
         * count; an owner without one holds none, and no lock is ever
         * taken on fi->fh.
         */
        lock->l_pid = 0;
        r = fcntl(c ? c->fd : (int)fi->fh, F_OFD_GETLK, lock);
        if (c)
                ctx_put(c);
        if (r < 0) {
                fuse_reply_err(req, errno);
                return;
        }
        /* -1 (an OFD lock: another session's): no pid to show. */
        if (lock->l_pid < 0)
                lock->l_pid = 0;
        fuse_reply_lock(req, lock);
}

void locks_setlk(struct locks *l, fuse_req_t req, fuse_ino_t ino,
                 struct inode *inode, struct fuse_file_info *fi,
                 struct flock *lock, int sleep)
{
        struct lock_ctx *c;
        struct waiter *w;
        int err;

        lock->l_pid = 0;
        if (lock->l_type == F_UNLCK) {
                c = ctx_find(inode, fi->lock_owner, (int)fi->fh);
                if (!c) {
                        fuse_reply_err(req, 0); /* holds nothing */
                        return;
                }
                err = fcntl(c->fd, F_OFD_SETLK, lock) < 0 ? errno : 0;
                ctx_put(c);
                fuse_reply_err(req, err);
                return;
        }
        err = ctx_get(l, inode, fi->lock_owner, (int)fi->fh, lock->l_type,
                      &c);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        if (fcntl(c->fd, F_OFD_SETLK, lock) == 0) {
                ctx_put(c);
                drop_cache(l, ino);
                fuse_reply_err(req, 0);
                return;
        }
        err = errno;
        if (!sleep || (err != EAGAIN && err != EACCES)) {
                ctx_put(c);
                fuse_reply_err(req, err);
                return;
        }
        w = calloc(1, sizeof(*w));
        if (!w) {
                ctx_put(c);
                fuse_reply_err(req, ENOMEM);
                return;
        }
        w->req = req;
        w->ino = ino;
        w->ctx = c;
        w->fd = c->fd;
        w->fl = *lock;
        err = spawn(l, w);
        if (err) {
                free(w);
                ctx_put(c);
                fuse_reply_err(req, err);
        }
}

void locks_flock(struct locks *l, fuse_req_t req, fuse_ino_t ino,
                 struct fuse_file_info *fi, int op)
{
        struct waiter *w;
        int fd = (int)fi->fh, err;

        if (flock(fd, op | LOCK_NB) == 0) {
                if (!(op & LOCK_UN))
                        drop_cache(l, ino);
                fuse_reply_err(req, 0);
                return;
        }
        err = errno;
        if ((op & LOCK_NB) || err != EWOULDBLOCK) {
                fuse_reply_err(req, err);
                return;
        }
        w = calloc(1, sizeof(*w));
        if (!w) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        /*
         * The same open file description under a number of the waiter's
         * own, whatever becomes of fi->fh.
         */
        w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (w->fd < 0) {
                err = errno;
                free(w);
                fuse_reply_err(req, err);
                return;
        }
        w->req = req;
        w->ino = ino;
        w->op = op & (LOCK_SH | LOCK_EX);
        err = spawn(l, w);
        if (err) {
                close(w->fd);
                free(w);
                fuse_reply_err(req, err);
        }
}
