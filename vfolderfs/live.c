/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * live.c - the catalog watcher thread (see live.h): inotify on the
 * catalog's directory, a short debounce, PRAGMA data_version, then
 * cat_session_refresh(), view_update(), publication of the new view and
 * kernel invalidations.  The thread holds no lock of the daemon while it
 * notifies the kernel (a notification can wait on a request of ours), and
 * it is the only writer of ctx->view after start.  A replaced view is
 * freed once every request that could have loaded it has finished
 * (epoch.h), checked every LIVE_RETIRE_POLL_MS while one waits; when
 * nothing changes the thread sleeps in poll() with no timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "epoch.h"
#include "live.h"
#include "quota.h"
#include "thread.h"
#include "watch.h"

struct retired {
        struct view *view;
        uint64_t epoch; /* requests of this epoch or before may hold it */
        struct retired *next;
};

struct live {
        struct fuse_session *se;
        struct vfs_ctx *ctx;
        cat_catalog *cat;
        char *session_id;
        char *catalog_dir;
        char *catalog_base;
        bool all_folders;
        int scratch_fd;
        uid_t chown_uid;
        gid_t chown_gid;
        int inotify_fd;
        int stop_fd;
        int64_t data_version;
        struct retired *retired;
        struct quota_folder *quotas;
        pthread_t thread;
        bool started;
};

/*
 * Give every folder with a quota an open counter: carried over from the
 * view it came from, or opened now (the first user of a folder counts its
 * backing directory).  A folder whose quota was off in the old view opens
 * afresh: the admin tool drops a counter nobody maintained.
 */
static void open_quotas(struct live *live, const struct view *old,
                        struct view *view)
{
        for (size_t i = 0; i < view->n_folders; i++) {
                struct view_folder *f = &view->folders[i];
                struct quota_folder *q;
                char *err = NULL;
                int r;

                if (f->quota_bytes <= 0 || f->gone)
                        continue;
                if (f->quota && old && i < old->n_folders &&
                    old->folders[i].quota_bytes > 0)
                        continue;
                q = calloc(1, sizeof(*q));
                if (!q)
                        continue;
                r = cat_usage_open(f->backing_path, f->folder_id, &q->usage,
                                   &err);
                if (r < 0) {
                        fuse_log(FUSE_LOG_ERR,
                                 "vfolderfs: folder '%s': no usage counter, quota not enforced: %s\n",
                                 f->name, err ? err : strerror(-r));
                        free(err);
                        free(q);
                        continue;
                }
                q->next = live->quotas;
                live->quotas = q;
                f->quota = q;
        }
}

/* The first component of target below CAT_HOME, or NULL (outside). */
static bool home_component(const char *target, char *buf, size_t size)
{
        const char *rel, *slash;
        size_t len;

        if (!cat_target_in_home(target))
                return false;
        rel = target + strlen(CAT_HOME);
        while (*rel == '/')
                rel++;
        slash = strchr(rel, '/');
        len = slash ? (size_t)(slash - rel) : strlen(rel);
        if (len == 0 || len >= size)
                return false;
        memcpy(buf, rel, len);
        buf[len] = '\0';
        return true;
}

static void invalidate(struct live *live, const char *target)
{
        char name[NAME_MAX + 1];

        if (!home_component(target, name, sizeof(name)))
                return;
        /*
         * Drops the kernel's dentry (and, for an alias's directory, the
         * subtree below it); -ENOENT only means it had none cached.
         */
        (void)fuse_lowlevel_notify_inval_entry(live->se, FUSE_ROOT_ID, name,
                                               strlen(name));
}

static void notify_changes(struct live *live, const struct view *old,
                           const struct view *view)
{
        for (size_t i = 0; i < view->n_folders; i++) {
                const struct view_folder *f = &view->folders[i];
                const struct view_folder *o =
                        i < old->n_folders ? &old->folders[i] : NULL;
                bool was = o && !o->gone, is = !f->gone;

                if (was && (!is || strcmp(o->target, f->target) != 0))
                        invalidate(live, o->target);
                if (is && (!was || strcmp(o->target, f->target) != 0))
                        invalidate(live, f->target);
        }
}

/*
 * The kernel caches directory listings (vfolderfs/ops.c, "Directories") and
 * drops them when a directory's mtime changes; the folder entries of a view
 * directory change with the view while its mtime does not, so the cached
 * listings of every view directory (and folder root) are dropped here.
 */
/* Whether a listing of some view directory differs between a and b. */
static bool listings_differ(const struct view *a, const struct view *b)
{
        if (a->n_nodes != b->n_nodes || a->n_folders != b->n_folders)
                return true;
        for (size_t i = 0; i < a->n_nodes; i++) {
                const struct view_node *x = &a->nodes[i], *y = &b->nodes[i];

                if (x->kind != y->kind || x->parent != y->parent ||
                    x->gone != y->gone || x->folder != y->folder ||
                    x->first_child != y->first_child ||
                    x->next_sibling != y->next_sibling ||
                    strcmp(x->name, y->name) != 0)
                        return true;
        }
        for (size_t i = 0; i < a->n_folders; i++)
                if (a->folders[i].gone != b->folders[i].gone ||
                    a->folders[i].node != b->folders[i].node)
                        return true;
        return false;
}

static void invalidate_listings(struct live *live)
{
        struct inode **nodes;
        size_t n;

        if (fuse_session_fd(live->se) < 0)
                return; /* not mounted yet (or any more): nothing cached */
        (void)fuse_lowlevel_notify_inval_inode(live->se, FUSE_ROOT_ID, 0, 0);
        if (inode_table_view_nodes(live->ctx->inodes, &nodes, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                (void)fuse_lowlevel_notify_inval_inode(
                        live->se, (fuse_ino_t)(uintptr_t)nodes[i], 0, 0);
        free(nodes);
}

static void free_retired(struct live *live, bool all)
{
        struct retired **p = &live->retired;

        while (*p) {
                struct retired *r = *p;

                if (all || epoch_passed(r->epoch)) {
                        *p = r->next;
                        view_free(r->view);
                        free(r);
                } else {
                        p = &r->next;
                }
        }
}

/* Re-resolve the session's mounts and publish what changed. */
static int refresh(struct live *live)
{
        struct vfs_ctx *ctx = live->ctx;
        struct view *old = ctx->view, *view = NULL;
        struct cat_mount *mounts = NULL;
        struct retired *r;
        size_t n = 0;
        char *err = NULL;
        int ret;

        /*
         * Read and apply first, record in the catalog after: the record's
         * commit waits for the catalog's write lock and an fsync, which on
         * a busy storage can take longer than the change may.
         */
        ret = cat_session_refresh(live->cat, live->session_id,
                                  live->all_folders, false, &mounts, &n,
                                  &err);
        if (ret == 0)
                ret = view_update(old, mounts, n, live->scratch_fd,
                                  live->chown_uid, live->chown_gid, &view,
                                  &err);
        cat_mount_list_free(mounts, n);
        mounts = NULL;
        n = 0;
        if (ret < 0) {
                fuse_log(FUSE_LOG_ERR,
                         "vfolderfs: cannot follow catalog changes: %s\n",
                         err ? err : strerror(-ret));
                free(err);
                return ret;
        }
        r = calloc(1, sizeof(*r));
        if (!r) {
                view_free(view);
                return -ENOMEM;
        }
        open_quotas(live, old, view);
        watch_view(ctx->watch, view);
        ctx->view = view; /* an atomic store: see vfolderfs.h */
        notify_changes(live, old, view);
        if (listings_differ(old, view))
                invalidate_listings(live);
        r->view = old;
        r->epoch = epoch_advance();
        r->next = live->retired;
        live->retired = r;
        ret = cat_session_refresh(live->cat, live->session_id,
                                  live->all_folders, true, &mounts, &n, &err);
        if (ret < 0) {
                fuse_log(FUSE_LOG_ERR,
                         "vfolderfs: cannot record the session's mounts: %s\n",
                         err ? err : strerror(-ret));
                free(err);
        }
        cat_mount_list_free(mounts, n);
        return 0;
}

/* Whether any queued inotify event names the catalog or its WAL. */
static bool drain_events(struct live *live)
{
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        size_t blen = strlen(live->catalog_base);
        bool hit = false;
        ssize_t n;

        while ((n = read(live->inotify_fd, buf, sizeof(buf))) > 0) {
                for (char *p = buf; p < buf + n;) {
                        struct inotify_event *ev = (struct inotify_event *)p;

                        if (ev->mask & IN_Q_OVERFLOW)
                                hit = true;
                        else if (ev->len &&
                                 strncmp(ev->name, live->catalog_base,
                                         blen) == 0 &&
                                 (ev->name[blen] == '\0' ||
                                  strcmp(ev->name + blen, "-wal") == 0))
                                hit = true;
                        p += sizeof(*ev) + ev->len;
                }
        }
        return hit;
}

/*
 * Refresh when the catalog changed.  A failed refresh (the catalog busy
 * past its timeout, a transient error) is retried: *retry_ms is set to the
 * next delay (doubling up to LIVE_RETRY_MAX_MS), -1 once it worked.
 */
static void check_catalog(struct live *live, int *retry_ms)
{
        int64_t v;

        if (cat_data_version(live->cat, &v) < 0) {
                v = live->data_version;
                *retry_ms = *retry_ms < 0 ? 100 : *retry_ms;
        }
        if (v == live->data_version && *retry_ms < 0)
                return;
        live->data_version = v;
        if (refresh(live) == 0)
                *retry_ms = -1;
        else if (*retry_ms < 0)
                *retry_ms = 100;
        else if (*retry_ms < LIVE_RETRY_MAX_MS)
                *retry_ms *= 2;
}

/*
 * Let a burst of writes (one admin command) settle: wait until the catalog
 * has been quiet for LIVE_DEBOUNCE_MS, but no longer than LIVE_SETTLE_MAX_MS
 * in all, so that writes that never pause (other daemons and admin
 * commands busy on the catalog) neither hold changes back nor keep the
 * thread from its stop.  Returns true when asked to stop.
 */
static bool settle(struct live *live, struct pollfd pfd[2])
{
        int64_t end = monotonic_us() / 1000 + LIVE_SETTLE_MAX_MS;

        for (;;) {
                int64_t left = end - monotonic_us() / 1000;
                int r;

                if (left <= 0)
                        return false;
                r = poll(pfd, 2, left < LIVE_DEBOUNCE_MS ? (int)left
                                                        : LIVE_DEBOUNCE_MS);
                if (r == 0)
                        return false; /* quiet, or the time is up */
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return false;
                }
                if (pfd[1].revents)
                        return true;
                (void)drain_events(live);
        }
}

static void *watch(void *arg)
{
        struct live *live = arg;
        struct pollfd pfd[2] = {
                { .fd = live->inotify_fd, .events = POLLIN },
                { .fd = live->stop_fd, .events = POLLIN },
        };

        int retry_ms = -1;

        /* Whatever changed between the session's start and now. */
        (void)cat_data_version(live->cat, &live->data_version);
        if (refresh(live) < 0)
                retry_ms = 100;
        for (;;) {
                int timeout = live->retired ? LIVE_RETIRE_POLL_MS : -1;
                int r;

                if (retry_ms >= 0 && (timeout < 0 || retry_ms < timeout))
                        timeout = retry_ms;
                r = poll(pfd, 2, timeout);
                if (r < 0 && errno != EINTR)
                        break;
                if (pfd[1].revents)
                        break;
                free_retired(live, false);
                if (r == 0 && retry_ms >= 0) {
                        check_catalog(live, &retry_ms);
                        continue;
                }
                if (r <= 0 || !(pfd[0].revents & POLLIN))
                        continue;
                if (!drain_events(live))
                        continue;
                if (settle(live, pfd))
                        break;
                check_catalog(live, &retry_ms);
        }
        return NULL;
}

int live_start(struct fuse_session *se, struct vfs_ctx *ctx,
               const struct live_params *params, struct live **ret_live,
               char **reterr)
{
        struct live *live;
        const char *slash;
        int r;

        live = calloc(1, sizeof(*live));
        if (!live)
                return -ENOMEM;
        live->se = se;
        live->ctx = ctx;
        live->all_folders = params->all_folders;
        live->scratch_fd = params->scratch_fd;
        live->chown_uid = params->chown_uid;
        live->chown_gid = params->chown_gid;
        live->inotify_fd = -1;
        live->stop_fd = -1;
        slash = strrchr(params->catalog_path, '/');
        live->session_id = strdup(params->session_id);
        live->catalog_base = strdup(slash ? slash + 1 : params->catalog_path);
        live->catalog_dir = slash ? strndup(params->catalog_path,
                                            slash == params->catalog_path ?
                                                    1 : (size_t)(slash - params->catalog_path))
                                  : strdup(".");
        if (!live->session_id || !live->catalog_base || !live->catalog_dir) {
                r = -ENOMEM;
                goto fail;
        }
        open_quotas(live, NULL, ctx->view);
        r = cat_open(params->catalog_path, 0, &live->cat, reterr);
        if (r < 0)
                goto fail;
        live->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        live->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (live->inotify_fd < 0 || live->stop_fd < 0) {
                r = -errno;
                goto fail;
        }
        if (inotify_add_watch(live->inotify_fd, live->catalog_dir,
                              IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
                              IN_CREATE) < 0) {
                r = -errno;
                if (reterr && asprintf(reterr, "cannot watch '%s': %s",
                                       live->catalog_dir, strerror(-r)) < 0)
                        *reterr = NULL;
                goto fail;
        }
        /* Signals (SIGTERM, SIGINT: unmount) are for the loop's thread. */
        r = thread_start_unsignalled(&live->thread, watch, live);
        if (r < 0)
                goto fail;
        live->started = true;
        *ret_live = live;
        return 0;
fail:
        live_stop(live);
        return r;
}

void live_stop(struct live *live)
{
        if (!live)
                return;
        if (live->started) {
                uint64_t one = 1;

                if (write(live->stop_fd, &one, sizeof(one)) < 0) {
                        /* an eventfd write cannot fail short of overflow */
                }
                pthread_join(live->thread, NULL);
        }
        free_retired(live, true);
        while (live->quotas) {
                struct quota_folder *q = live->quotas;

                live->quotas = q->next;
                cat_usage_close(q->usage);
                free(q);
        }
        if (live->cat)
                cat_close(live->cat);
        if (live->inotify_fd >= 0)
                close(live->inotify_fd);
        if (live->stop_fd >= 0)
                close(live->stop_fd);
        free(live->session_id);
        free(live->catalog_dir);
        free(live->catalog_base);
        free(live);
}
