/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inode.c - the inode table: a chained hash of (dev, ino, folder) to
 * records holding O_PATH descriptors and lookup counts, under one mutex.
 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inode.h"
#include "thread.h"

/* Records a table must have held before forgetting them trims malloc. */
#define TRIM_RECORDS 65536

/*
 * Descriptors of forgotten records waiting for the closer thread; a forget
 * that finds the queue full closes its descriptor itself.  Small, because
 * queued descriptors are outside the budget.
 */
#define CLOSE_QUEUE 256

/*
 * The closer.  The last close of an inode that was unlinked is where the
 * storage's file system frees it (about 100 us a file on ext3 here, the
 * whole cost of an unlink natively): done by the request that forgot it,
 * that work would delay the requests behind it; done here, it overlaps
 * them.
 */
struct closer {
        pthread_mutex_t lock;
        pthread_cond_t work;     /* fds queued, or stopping */
        pthread_cond_t done;     /* a batch was closed */
        int fds[CLOSE_QUEUE];
        size_t n;
        bool started, failed, stopping, waiting, closing;
        unsigned int delay_ms;   /* VFOLDERFS_TEST_CLOSE_DELAY_MS */
        pthread_t thread;
};

struct mount_fd {
        int mount_id;
        int fd;
};

struct inode_table {
        pthread_mutex_t lock;
        struct inode **buckets;
        size_t n_buckets; /* power of two */
        size_t count;
        size_t high;      /* most records since the last trim */
        uint64_t generation;
        size_t fds_held;  /* records and directory streams holding a
                           * descriptor */
        size_t budget;
        void (*dir_free)(void *dir); /* of records' listing state */
        void (*locks_free)(void *locks); /* of records' lock state */
        bool handles_ok;
        struct mount_fd *mounts; /* one fd per mount that handles came from */
        void (*release_hook)(void *arg, const struct inode *inode, int fd);
        void *hook_arg;
        size_t n_mounts;
        struct closer closer;
};

/*
 * The folder is not hashed: every record of one backing inode, whatever
 * its folder, is on one chain (inode_table_ids()).
 */
static size_t key_hash(dev_t dev, ino_t ino, int folder)
{
        uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL;

        (void)folder;
        h ^= (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;
        return (size_t)(h ^ (h >> 31));
}

int inode_table_new(struct inode_table **ret_table)
{
        struct inode_table *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->n_buckets = 1024;
        t->budget = (size_t)-1;
        t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
        if (!t->buckets) {
                free(t);
                return -ENOMEM;
        }
        pthread_mutex_init(&t->lock, NULL);
        pthread_mutex_init(&t->closer.lock, NULL);
        pthread_cond_init(&t->closer.work, NULL);
        pthread_cond_init(&t->closer.done, NULL);
        /*
         * For tests only: the closer waits this long before closing each
         * batch, so that a write finding the storage full meets descriptors
         * of removed files still open (see inode_table_settle()).
         */
        {
                const char *d = getenv("VFOLDERFS_TEST_CLOSE_DELAY_MS");

                if (d && *d)
                        t->closer.delay_ms = (unsigned int)strtoul(d, NULL, 10);
        }
        *ret_table = t;
        return 0;
}

static void *closer_main(void *arg)
{
        struct closer *c = arg;
        int fds[CLOSE_QUEUE];
        size_t n;

        pthread_setname_np(pthread_self(), "vfolderfs-close");
        pthread_mutex_lock(&c->lock);
        for (;;) {
                while (!c->n && !c->stopping) {
                        c->waiting = true;
                        pthread_cond_wait(&c->work, &c->lock);
                        c->waiting = false;
                }
                if (!c->n)
                        break;
                n = c->n;
                memcpy(fds, c->fds, n * sizeof(*fds));
                c->n = 0;
                c->closing = true;
                pthread_mutex_unlock(&c->lock);
                if (c->delay_ms) {
                        struct timespec d = { c->delay_ms / 1000,
                                              (long)(c->delay_ms % 1000) *
                                                      1000000L };

                        while (nanosleep(&d, &d) < 0 && errno == EINTR)
                                ;
                }
                for (size_t k = 0; k < n; k++)
                        close(fds[k]);
                pthread_mutex_lock(&c->lock);
                c->closing = false;
                pthread_cond_broadcast(&c->done);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

/*
 * Hand fd to the closer, starting it on first use (after any fork of the
 * daemon's start-up); close it here when the closer cannot take it.
 */
static void close_later(struct inode_table *t, int fd)
{
        struct closer *c = &t->closer;

        pthread_mutex_lock(&c->lock);
        if (!c->started && !c->failed && !c->stopping) {
                c->started = !thread_start_unsignalled(&c->thread,
                                                       closer_main, c);
                c->failed = !c->started;
        }
        if (!c->started || c->stopping || c->n == CLOSE_QUEUE) {
                pthread_mutex_unlock(&c->lock);
                close(fd);
                return;
        }
        c->fds[c->n++] = fd;
        if (c->waiting)
                pthread_cond_signal(&c->work);
        pthread_mutex_unlock(&c->lock);
}

void inode_table_settle(struct inode_table *t)
{
        struct closer *c = &t->closer;
        int fds[CLOSE_QUEUE];
        size_t n;

        pthread_mutex_lock(&c->lock);
        n = c->n;
        memcpy(fds, c->fds, n * sizeof(*fds));
        c->n = 0;
        while (c->closing)
                pthread_cond_wait(&c->done, &c->lock);
        pthread_mutex_unlock(&c->lock);
        for (size_t k = 0; k < n; k++)
                close(fds[k]);
}

void inode_table_free(struct inode_table *t)
{
        if (!t)
                return;
        pthread_mutex_lock(&t->closer.lock);
        t->closer.stopping = true;
        pthread_cond_signal(&t->closer.work);
        pthread_mutex_unlock(&t->closer.lock);
        if (t->closer.started)
                pthread_join(t->closer.thread, NULL);
        inode_table_settle(t);
        for (size_t b = 0; b < t->n_buckets; b++) {
                struct inode *i = t->buckets[b];

                while (i) {
                        struct inode *next = i->hnext;

                        if (i->dir)
                                t->dir_free(i->dir);
                        if (i->locks)
                                t->locks_free(i->locks);
                        if (i->fd >= 0)
                                close(i->fd);
                        free(i->handle);
                        free(i);
                        i = next;
                }
        }
        for (size_t m = 0; m < t->n_mounts; m++)
                close(t->mounts[m].fd);
        free(t->mounts);
        free(t->buckets);
        pthread_mutex_destroy(&t->lock);
        pthread_mutex_destroy(&t->closer.lock);
        pthread_cond_destroy(&t->closer.work);
        pthread_cond_destroy(&t->closer.done);
        free(t);
}

/* Called with the lock held; on allocation failure the table stays. */
static void grow(struct inode_table *t)
{
        size_t nb = t->n_buckets * 2;
        struct inode **buckets = calloc(nb, sizeof(*buckets));

        if (!buckets)
                return;
        for (size_t b = 0; b < t->n_buckets; b++) {
                struct inode *i = t->buckets[b];

                while (i) {
                        struct inode *next = i->hnext;
                        size_t nbk = key_hash(i->dev, i->ino, i->folder) &
                                     (nb - 1);

                        i->hnext = buckets[nbk];
                        buckets[nbk] = i;
                        i = next;
                }
        }
        free(t->buckets);
        t->buckets = buckets;
        t->n_buckets = nb;
}

void inode_table_set_budget(struct inode_table *t, size_t budget,
                            bool handles_ok)
{
        t->budget = budget;
        t->handles_ok = handles_ok;
}

/* The table's descriptor for mount_id, or -1.  Called with the lock held. */
static int mount_fd_find(struct inode_table *t, int mount_id)
{
        for (size_t i = 0; i < t->n_mounts; i++) {
                if (t->mounts[i].mount_id == mount_id)
                        return t->mounts[i].fd;
        }
        return -1;
}

/*
 * The table's descriptor for mount_id; for a new mount, a readable
 * descriptor of dir_fd's directory (open_by_handle_at() refuses O_PATH
 * mount descriptors), opened without the lock: on a stalled storage host
 * that open waits, and so would every forget.  Returns -1 when none can be
 * had.
 */
static int mount_fd_of(struct inode_table *t, int mount_id, int dir_fd)
{
        struct mount_fd *m;
        int fd, dupfd;

        pthread_mutex_lock(&t->lock);
        fd = mount_fd_find(t, mount_id);
        pthread_mutex_unlock(&t->lock);
        if (fd >= 0)
                return fd;
        dupfd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dupfd < 0)
                return -1;
        pthread_mutex_lock(&t->lock);
        fd = mount_fd_find(t, mount_id);
        if (fd < 0) {
                m = realloc(t->mounts, (t->n_mounts + 1) * sizeof(*m));
                if (m) {
                        t->mounts = m;
                        m[t->n_mounts].mount_id = mount_id;
                        m[t->n_mounts].fd = dupfd;
                        t->n_mounts++;
                        fd = dupfd;
                        dupfd = -1;
                }
        }
        pthread_mutex_unlock(&t->lock);
        if (dupfd >= 0)
                close(dupfd); /* another thread added it, or no memory */
        return fd;
}

/* A file handle for fd, or NULL (file system without handles, ENOMEM). */
static struct file_handle *handle_of(int fd, int *ret_mount_id)
{
        struct file_handle *h;
        unsigned int size = 64;

        for (int tries = 0; tries < 2; tries++) {
                h = malloc(sizeof(*h) + size);
                if (!h)
                        return NULL;
                h->handle_bytes = size;
                if (name_to_handle_at(fd, "", h, ret_mount_id,
                                      AT_EMPTY_PATH) == 0) {
                        /* A million of them may be kept: no slack. */
                        struct file_handle *fit = realloc(h, sizeof(*h) +
                                                          h->handle_bytes);

                        return fit ? fit : h;
                }
                size = h->handle_bytes;
                free(h);
                if (errno != EOVERFLOW)
                        return NULL;
        }
        return NULL;
}

int inode_fd_get(const struct inode *inode)
{
        int fd;

        if (inode->fd >= 0)
                return inode->fd;
        fd = open_by_handle_at(inode->mount_fd, inode->handle,
                               O_PATH | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

void inode_fd_put(const struct inode *inode, int fd)
{
        if (fd >= 0 && fd != inode->fd)
                close(fd);
}

struct inode *inode_table_get(struct inode_table *t, int fd,
                              const struct stat *st, int folder, int vnode,
                              bool folder_root, int parent_fd,
                              dev_t parent_dev)
{
        struct file_handle *handle = NULL;
        struct inode *i, *fresh;
        int mount_id = 0, mount_src = -1, mount_fd = -1;
        size_t b;

        /*
         * Allocate, and make the handle past the budget, outside the lock;
         * most lookups of a walk are new.  The budget read is racy: a few
         * descriptors more or less do not matter.
         */
        fresh = calloc(1, sizeof(*fresh));
        /* A readable descriptor on the same mount, if a handle is made. */
        if (S_ISDIR(st->st_mode))
                mount_src = fd;
        else if (parent_fd >= 0 && parent_dev == st->st_dev)
                mount_src = parent_fd;
        if (fresh && mount_src >= 0 && t->handles_ok &&
            __atomic_load_n(&t->fds_held, __ATOMIC_RELAXED) >= t->budget)
                handle = handle_of(fd, &mount_id);
        if (handle) {
                mount_fd = mount_fd_of(t, mount_id, mount_src);
                if (mount_fd < 0) {
                        free(handle);
                        handle = NULL;
                }
        }
        pthread_mutex_lock(&t->lock);
        b = key_hash(st->st_dev, st->st_ino, folder) & (t->n_buckets - 1);
        for (i = t->buckets[b]; i; i = i->hnext) {
                if (i->ino == st->st_ino && i->dev == st->st_dev &&
                    i->folder == folder)
                        break;
        }
        if (i) {
                i->nlookup++;
                if (vnode >= 0) {
                        i->vnode = vnode;
                        i->folder_root = folder_root;
                }
                pthread_mutex_unlock(&t->lock);
                free(handle);
                free(fresh);
                close(fd);
                return i;
        }
        if (!fresh) {
                pthread_mutex_unlock(&t->lock);
                close(fd);
                errno = ENOMEM;
                return NULL;
        }
        fresh->fd = fd;
        fresh->mount_fd = -1;
        if (handle) {
                fresh->mount_fd = mount_fd;
                fresh->handle = handle;
                fresh->fd = -1;
        }
        if (fresh->fd >= 0)
                __atomic_add_fetch(&t->fds_held, 1, __ATOMIC_RELAXED);
        fresh->dev = st->st_dev;
        fresh->ino = st->st_ino;
        fresh->type = st->st_mode & S_IFMT;
        fresh->folder = folder;
        fresh->vnode = vnode;
        fresh->folder_root = folder_root;
        fresh->nlookup = 1;
        fresh->generation = ++t->generation;
        fresh->hnext = t->buckets[b];
        t->buckets[b] = fresh;
        if (++t->count > t->high)
                t->high = t->count;
        if (t->count > t->n_buckets)
                grow(t);
        pthread_mutex_unlock(&t->lock);
        if (fresh->fd < 0)
                close(fd); /* the record keeps the handle */
        return fresh;
}

struct inode *inode_table_find(struct inode_table *t, dev_t dev, ino_t ino,
                               int folder)
{
        struct inode *i;

        pthread_mutex_lock(&t->lock);
        for (i = t->buckets[key_hash(dev, ino, folder) & (t->n_buckets - 1)];
             i; i = i->hnext) {
                if (i->ino == ino && i->dev == dev && i->folder == folder) {
                        i->nlookup++;
                        break;
                }
        }
        pthread_mutex_unlock(&t->lock);
        return i;
}

void inode_table_set_release_hook(struct inode_table *t,
                                  void (*fn)(void *arg,
                                             const struct inode *inode,
                                             int fd),
                                  void *arg)
{
        t->release_hook = fn;
        t->hook_arg = arg;
}

size_t inode_table_ids(struct inode_table *t, dev_t dev, ino_t ino,
                       uint64_t *ids, size_t max)
{
        struct inode *i;
        size_t n = 0;

        pthread_mutex_lock(&t->lock);
        for (i = t->buckets[key_hash(dev, ino, 0) & (t->n_buckets - 1)]; i;
             i = i->hnext) {
                if (i->ino == ino && i->dev == dev) {
                        if (n < max)
                                ids[n] = (uint64_t)(uintptr_t)i;
                        n++;
                }
        }
        pthread_mutex_unlock(&t->lock);
        return n;
}

void inode_table_ref(struct inode_table *t, struct inode *inode, uint64_t n)
{
        pthread_mutex_lock(&t->lock);
        inode->nlookup += n;
        pthread_mutex_unlock(&t->lock);
}

void inode_table_forget(struct inode_table *t, struct inode *inode,
                        uint64_t n)
{
        struct inode **pp;
        bool trim = false;

        pthread_mutex_lock(&t->lock);
        if (inode->nlookup > n) {
                inode->nlookup -= n;
                pthread_mutex_unlock(&t->lock);
                return;
        }
        inode->nlookup = 0;
        pp = &t->buckets[key_hash(inode->dev, inode->ino, inode->folder) &
                         (t->n_buckets - 1)];
        while (*pp && *pp != inode)
                pp = &(*pp)->hnext;
        if (*pp) {
                *pp = inode->hnext;
                t->count--;
        }
        /*
         * Once the kernel has forgotten half of a large number of records
         * (a tree walk it no longer caches), give the freed memory back to
         * the system instead of keeping it in malloc's free lists.
         */
        if (t->high >= TRIM_RECORDS && t->count <= t->high / 2) {
                t->high = t->count;
                trim = true;
        }
        if (inode->fd >= 0)
                __atomic_sub_fetch(&t->fds_held, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&t->lock);
        /* No request is left on the record: its listing state goes too. */
        if (inode->dir)
                t->dir_free(inode->dir);
        /* Nor on its lock state: no file of it is open any more. */
        if (inode->locks)
                t->locks_free(inode->locks);
        if (inode->fd >= 0) {
                if (inode->watched && t->release_hook)
                        t->release_hook(t->hook_arg, inode, inode->fd);
                close_later(t, inode->fd);
        }
        free(inode->handle);
        free(inode);
        if (trim)
                malloc_trim(0);
}

void *inode_dir_attach(struct inode_table *t, struct inode *inode,
                       void *dir, void (*dir_free)(void *dir))
{
        void *none = NULL;

        __atomic_store_n(&t->dir_free, dir_free, __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(&inode->dir, &none, dir, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return dir;
        return none;
}

void *inode_locks_attach(struct inode_table *t, struct inode *inode,
                         void *locks, void (*locks_free)(void *locks))
{
        void *none = NULL;

        __atomic_store_n(&t->locks_free, locks_free, __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(&inode->locks, &none, locks, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return locks;
        return none;
}

bool inode_table_take_fd(struct inode_table *t)
{
        size_t held = __atomic_load_n(&t->fds_held, __ATOMIC_RELAXED);

        do {
                if (held >= t->budget)
                        return false;
        } while (!__atomic_compare_exchange_n(&t->fds_held, &held, held + 1,
                                              true, __ATOMIC_RELAXED,
                                              __ATOMIC_RELAXED));
        return true;
}

void inode_table_count_fd(struct inode_table *t)
{
        __atomic_add_fetch(&t->fds_held, 1, __ATOMIC_RELAXED);
}

void inode_table_return_fd(struct inode_table *t)
{
        __atomic_sub_fetch(&t->fds_held, 1, __ATOMIC_RELAXED);
}

int inode_table_view_nodes(struct inode_table *t, struct inode ***ret_nodes,
                           size_t *ret_n)
{
        struct inode **nodes = NULL;
        size_t n = 0, cap = 0;

        pthread_mutex_lock(&t->lock);
        for (size_t b = 0; b < t->n_buckets; b++) {
                for (struct inode *i = t->buckets[b]; i; i = i->hnext) {
                        if (i->vnode < 0)
                                continue;
                        if (n == cap) {
                                size_t ncap = cap ? cap * 2 : 16;
                                struct inode **m = realloc(nodes, ncap *
                                                           sizeof(*m));

                                if (!m) {
                                        pthread_mutex_unlock(&t->lock);
                                        free(nodes);
                                        return -ENOMEM;
                                }
                                nodes = m;
                                cap = ncap;
                        }
                        nodes[n++] = i;
                }
        }
        pthread_mutex_unlock(&t->lock);
        *ret_nodes = nodes;
        *ret_n = n;
        return 0;
}

size_t inode_table_count(struct inode_table *t)
{
        size_t n;

        pthread_mutex_lock(&t->lock);
        n = t->count;
        pthread_mutex_unlock(&t->lock);
        return n;
}
