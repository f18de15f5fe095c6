/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.c - the storage watcher (see watch.h).  One fanotify group
 * reporting directory and object file handles, with a mark on every
 * directory of a watched folder the kernel knows (so only changes in those
 * directories raise events: other sessions' trees and the rest of the
 * storage host's file system cost nothing here, nor their writers); one
 * thread reads the events, maps each handle to the records of the inode
 * table (and the root) and notifies the kernel.  Like the catalog watcher
 * (live.c) it holds no lock of the daemon while it notifies: a
 * notification can wait for a request in flight in that directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "inode.h"
#include "view.h"
#include "watch.h"

#define WATCH_MAX_FS 64
#define WATCH_BUF (64 * 1024)
#define WATCH_MAX_IDS 16
#define WATCH_BATCH_MS 10
#define EXT_SUPER_MAGIC 0xEF53
#define FILEID_INO32_GEN 1 /* a 32-bit inode number, then a generation */

#define WATCH_MASK                                                           \
        (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO |           \
         FAN_ATTRIB | FAN_MODIFY | FAN_ONDIR | FAN_EVENT_ON_CHILD)
#define WATCH_DIRENT (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)

struct watched_fs {
        fsid_t fsid;
        dev_t dev;
        int mount_fd; /* O_PATH, for open_by_handle_at() */
        bool ino32;   /* FILEID_INO32_GEN handles hold the inode number */
};

struct watch {
        struct fuse_session *se;
        struct inode_table *inodes;
        dev_t root_dev;
        ino_t root_ino;
        pid_t self;
        int fan_fd;
        int stop_fd;
        pthread_mutex_t lock; /* fs[] and n_fs */
        struct watched_fs fs[WATCH_MAX_FS];
        size_t n_fs;
        /*
         * Held while events are read and acted on (by the thread or by
         * watch_sync()): once watch_sync() has it, every event read before
         * has been acted on.
         */
        pthread_mutex_t read_lock;
        char *buf;            /* WATCH_BUF, under read_lock */
        pthread_t thread;
        bool started;
};

static bool same_fsid(const fsid_t *a, const fsid_t *b)
{
        return !memcmp(a, b, sizeof(*a));
}

/*
 * Whether directories on the file system of path, a local one (the caller
 * knows: view_close_reports() false), can be watched: whether a mark
 * reporting file handles is accepted (tried once per file system, on path
 * itself).
 */
static bool watch_path(struct watch *w, const char *path)
{
        struct statfs sf;
        struct stat st;
        bool ok = false;
        int fd;

        if (statfs(path, &sf) < 0 || stat(path, &st) < 0)
                return false;
        pthread_mutex_lock(&w->lock);
        for (size_t i = 0; i < w->n_fs; i++) {
                if (same_fsid(&w->fs[i].fsid, &sf.f_fsid)) {
                        ok = w->fs[i].dev == st.st_dev;
                        goto out;
                }
        }
        if (w->n_fs == WATCH_MAX_FS)
                goto out;
        if (fanotify_mark(w->fan_fd, FAN_MARK_ADD, WATCH_MASK, AT_FDCWD,
                          path) < 0)
                goto out;
        fanotify_mark(w->fan_fd, FAN_MARK_REMOVE, WATCH_MASK, AT_FDCWD, path);
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                goto out;
        w->fs[w->n_fs++] = (struct watched_fs){
                .fsid = sf.f_fsid,
                .dev = st.st_dev,
                .mount_fd = fd,
                .ino32 = sf.f_type == EXT_SUPER_MAGIC,
        };
        ok = true;
out:
        pthread_mutex_unlock(&w->lock);
        return ok;
}

int watch_dir(struct watch *w, int fd)
{
        if (!w)
                return -EINVAL;
        if (fanotify_mark(w->fan_fd, FAN_MARK_ADD, WATCH_MASK, fd, ".") < 0)
                return -errno;
        return 0;
}

void watch_undir(struct watch *w, int fd)
{
        if (w)
                fanotify_mark(w->fan_fd, FAN_MARK_REMOVE, WATCH_MASK, fd,
                              ".");
}

void watch_release_hook(void *arg, const struct inode *inode, int fd)
{
        (void)inode;
        watch_undir(arg, fd);
}

void watch_view(struct watch *w, struct view *view)
{
        for (size_t i = 0; i < view->n_folders; i++) {
                struct view_folder *f = &view->folders[i];

                /* close_reports: not a local file system (view.h) */
                f->watched = w && !f->gone && !f->backing_errno &&
                             !f->close_reports &&
                             watch_path(w, f->backing_path);
        }
}

/*
 * The node ids this mount has for the object of handle on file system
 * fsid: at most WATCH_MAX_IDS stored in ids; returns how many.
 */
static size_t resolve(struct watch *w, const fsid_t *fsid,
                      struct file_handle *fh, uint64_t *ids)
{
        struct watched_fs fs;
        bool found = false;
        struct stat st;
        size_t n;
        ino_t ino;
        dev_t dev;

        pthread_mutex_lock(&w->lock);
        for (size_t i = 0; i < w->n_fs; i++) {
                if (same_fsid(&w->fs[i].fsid, fsid)) {
                        fs = w->fs[i];
                        found = true;
                        break;
                }
        }
        pthread_mutex_unlock(&w->lock);
        if (!found)
                return 0;
        dev = fs.dev;
        if (fs.ino32 && fh->handle_type == FILEID_INO32_GEN &&
            fh->handle_bytes >= 8) {
                uint32_t i32;

                memcpy(&i32, fh->f_handle, sizeof(i32));
                ino = i32;
        } else {
                int fd = open_by_handle_at(fs.mount_fd, fh,
                                           O_PATH | O_CLOEXEC);

                if (fd < 0)
                        return 0; /* gone: nothing of ours can be stale */
                if (fstat(fd, &st) < 0) {
                        close(fd);
                        return 0;
                }
                close(fd);
                ino = st.st_ino;
                dev = st.st_dev;
        }
        n = inode_table_ids(w->inodes, dev, ino, ids, WATCH_MAX_IDS);
        if (n > WATCH_MAX_IDS)
                n = WATCH_MAX_IDS;
        if (dev == w->root_dev && ino == w->root_ino && n < WATCH_MAX_IDS)
                ids[n++] = FUSE_ROOT_ID;
        return n;
}

/*
 * One event (m, with its info records from p to end): a directory entry
 * created, removed or moved invalidates that name and the directory
 * (attributes and cached listing); a change to an object invalidates its
 * attributes, and its data when written.  Records are only 4-byte aligned:
 * every field is copied out before use.
 */
static void handle_event(struct watch *w,
                         const struct fanotify_event_metadata *m,
                         const char *p, const char *end)
{
        uint64_t ids[WATCH_MAX_IDS];
        union {
                struct file_handle fh;
                char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
        } h;

        while (p + sizeof(struct fanotify_event_info_fid) +
                       sizeof(struct file_handle) <= end) {
                struct fanotify_event_info_fid fid;
                const char *handle, *name;
                size_t n;

                memcpy(&fid, p, sizeof(fid));
                if (fid.hdr.len < sizeof(fid) + sizeof(h.fh) ||
                    p + fid.hdr.len > end)
                        return;
                handle = p + sizeof(fid);
                memcpy(&h.fh, handle, sizeof(h.fh));
                if (h.fh.handle_bytes > MAX_HANDLE_SZ ||
                    sizeof(fid) + sizeof(h.fh) + h.fh.handle_bytes >
                            fid.hdr.len)
                        return;
                memcpy(h.fh.f_handle, handle + sizeof(h.fh),
                       h.fh.handle_bytes);
                name = handle + sizeof(h.fh) + h.fh.handle_bytes;
                if (fid.hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
                    (m->mask & WATCH_DIRENT)) {
                        size_t len = strnlen(name, (size_t)(p + fid.hdr.len -
                                                            name));

                        n = resolve(w, (const fsid_t *)&fid.fsid, &h.fh, ids);
                        for (size_t i = 0; i < n; i++) {
                                fuse_lowlevel_notify_inval_entry(w->se, ids[i],
                                                                 name, len);
                                fuse_lowlevel_notify_inval_inode(w->se,
                                                                 ids[i], 0, 0);
                        }
                } else if (fid.hdr.info_type == FAN_EVENT_INFO_TYPE_FID &&
                           (m->mask & (FAN_ATTRIB | FAN_MODIFY))) {
                        off_t off = (m->mask & FAN_MODIFY) ? 0 : -1;

                        n = resolve(w, (const fsid_t *)&fid.fsid, &h.fh, ids);
                        for (size_t i = 0; i < n; i++)
                                fuse_lowlevel_notify_inval_inode(w->se,
                                                                 ids[i], off,
                                                                 0);
                }
                p += fid.hdr.len;
        }
}

/*
 * Read the events queued now and act on them, until none is left (all of
 * them: more than a buffer may be queued).  Called with read_lock held.
 */
static void drain(struct watch *w)
{
        char *buf = w->buf;

        for (;;) {
                ssize_t len = read(w->fan_fd, buf, WATCH_BUF);
                size_t off = 0;

                if (len <= 0)
                        return; /* EAGAIN: the queue is empty */
                while (off + FAN_EVENT_METADATA_LEN <= (size_t)len) {
                        struct fanotify_event_metadata m;

                        memcpy(&m, buf + off, sizeof(m));
                        if (m.vers != FANOTIFY_METADATA_VERSION ||
                            m.event_len < FAN_EVENT_METADATA_LEN ||
                            m.metadata_len > m.event_len ||
                            off + m.event_len > (size_t)len)
                                break;
                        if (m.fd >= 0)
                                close(m.fd);
                        if (m.pid != w->self) /* ours: the kernel knows */
                                handle_event(w, &m,
                                             buf + off + m.metadata_len,
                                             buf + off + m.event_len);
                        off += m.event_len;
                }
        }
}

static void *watch_thread(void *arg)
{
        struct watch *w = arg;
        struct pollfd pfd[2] = {
                { .fd = w->fan_fd, .events = POLLIN },
                { .fd = w->stop_fd, .events = POLLIN },
        };

        for (;;) {
                if (poll(pfd, 2, -1) < 0 && errno != EINTR)
                        break;
                if (pfd[1].revents)
                        break;
                /*
                 * Let the events of a burst gather first: the kernel merges
                 * repeats (a file written a thousand times in that time is
                 * one event), and a stream of writes, this daemon's own
                 * included, wakes this thread WATCH_BATCH_MS apart at most
                 * instead of once per write.
                 */
                nanosleep(&(struct timespec){ .tv_nsec = WATCH_BATCH_MS *
                                                         1000000L },
                          NULL);
                pthread_mutex_lock(&w->read_lock);
                drain(w);
                pthread_mutex_unlock(&w->read_lock);
        }
        return NULL;
}

void watch_sync(struct watch *w)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->read_lock);
        drain(w);
        pthread_mutex_unlock(&w->read_lock);
}

int watch_start(struct fuse_session *se, struct vfs_ctx *ctx,
                struct watch **ret_watch)
{
        struct watch *w;
        int r;

        *ret_watch = NULL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->se = se;
        w->inodes = ctx->inodes;
        w->root_dev = ctx->root.dev;
        w->root_ino = ctx->root.ino;
        w->self = getpid();
        w->stop_fd = -1;
        w->fan_fd = -1;
        pthread_mutex_init(&w->lock, NULL);
        pthread_mutex_init(&w->read_lock, NULL);
        w->buf = malloc(WATCH_BUF);
        if (!w->buf) {
                r = -ENOMEM;
                goto fail;
        }
        w->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC |
                                          FAN_NONBLOCK | FAN_UNLIMITED_QUEUE |
                                          FAN_UNLIMITED_MARKS |
                                          FAN_REPORT_DFID_NAME |
                                          FAN_REPORT_FID,
                                  O_RDONLY | O_LARGEFILE | O_CLOEXEC);
        if (w->fan_fd < 0) {
                r = -errno;
                goto fail;
        }
        w->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (w->stop_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = -pthread_create(&w->thread, NULL, watch_thread, w);
        if (r < 0)
                goto fail;
        w->started = true;
        *ret_watch = w;
        return 0;
fail:
        w->started = false;
        watch_stop(w);
        return r;
}

void watch_stop(struct watch *w)
{
        if (!w)
                return;
        if (w->started) {
                uint64_t one = 1;

                if (write(w->stop_fd, &one, sizeof(one)) < 0)
                        pthread_cancel(w->thread);
                pthread_join(w->thread, NULL);
        }
        for (size_t i = 0; i < w->n_fs; i++)
                close(w->fs[i].mount_fd);
        if (w->fan_fd >= 0)
                close(w->fan_fd);
        if (w->stop_fd >= 0)
                close(w->stop_fd);
        pthread_mutex_destroy(&w->lock);
        pthread_mutex_destroy(&w->read_lock);
        free(w->buf);
        free(w);
}
