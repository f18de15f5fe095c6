/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inode.c - the inode table: a chained hash of (dev, ino, folder) to
 * records holding O_PATH descriptors and lookup counts, under one mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "inode.h"

struct inode_table {
        pthread_mutex_t lock;
        struct inode **buckets;
        size_t n_buckets; /* power of two */
        size_t count;
        uint64_t generation;
};

static size_t key_hash(dev_t dev, ino_t ino, int folder)
{
        uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL;

        h ^= ((uint64_t)dev + ((uint64_t)(unsigned)folder << 32)) *
             0xc2b2ae3d27d4eb4fULL;
        return (size_t)(h ^ (h >> 31));
}

int inode_table_new(struct inode_table **ret_table)
{
        struct inode_table *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->n_buckets = 1024;
        t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
        if (!t->buckets) {
                free(t);
                return -ENOMEM;
        }
        pthread_mutex_init(&t->lock, NULL);
        *ret_table = t;
        return 0;
}

void inode_table_free(struct inode_table *t)
{
        if (!t)
                return;
        for (size_t b = 0; b < t->n_buckets; b++) {
                struct inode *i = t->buckets[b];

                while (i) {
                        struct inode *next = i->hnext;

                        close(i->fd);
                        free(i);
                        i = next;
                }
        }
        free(t->buckets);
        pthread_mutex_destroy(&t->lock);
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

struct inode *inode_table_get(struct inode_table *t, int fd,
                              const struct stat *st, int folder, int vnode,
                              bool folder_root)
{
        struct inode *i, *fresh;
        size_t b;

        /* Allocate outside the lock; most lookups of a walk are new. */
        fresh = calloc(1, sizeof(*fresh));
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
        if (++t->count > t->n_buckets)
                grow(t);
        pthread_mutex_unlock(&t->lock);
        return fresh;
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
        pthread_mutex_unlock(&t->lock);
        close(inode->fd);
        free(inode);
}

size_t inode_table_count(struct inode_table *t)
{
        size_t n;

        pthread_mutex_lock(&t->lock);
        n = t->count;
        pthread_mutex_unlock(&t->lock);
        return n;
}
