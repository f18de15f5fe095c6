/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * targets.c - bind mounts of the folders whose target is outside the mount
 * point, and the watch that removes them when the FUSE mount goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "epoch.h"
#include "targets.h"
#include "thread.h"

struct targets {
        struct fuse_session *se;
        struct view *_Atomic *view; /* the session's current view */
        const char *mountpoint;
        void (*ready)(void *);
        void *arg;
        pthread_t thread;
        pthread_t main_thread;
        int wake[2];          /* written by targets_stop() */
        char **made;          /* targets bind-mounted, not yet removed */
        size_t n_made;
        atomic_bool bound;    /* every bind made (or failed): no more waits */
        atomic_bool stopping;
        bool failed;
};

/* mkdir -p path, mode 0755 for what it creates. */
static int make_dirs(const char *path)
{
        char *p = strdup(path);
        int r = 0;

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                {
                        char c = *s;

                        *s = '\0';
                        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                                r = -errno;
                                break;
                        }
                        *s = c;
                        if (c == '\0')
                                break;
                }
        }
        free(p);
        return r;
}

static void unmount_made(struct targets *t)
{
        for (size_t i = t->n_made; i-- > 0;) {
                if (umount2(t->made[i], MNT_DETACH) < 0)
                        fuse_log(FUSE_LOG_ERR,
                                 "vfolderfs: cannot unmount '%s': %s\n",
                                 t->made[i], strerror(errno));
                free(t->made[i]);
        }
        t->n_made = 0;
}

/*
 * Make every bind mount of the current view; 0, or -1 after printing why.
 * Called inside an epoch (epoch.h): the catalog watcher may replace the
 * view meanwhile, and frees the old one only after epoch_leave().
 */
static int bind_all(struct targets *t)
{
        const struct view *v = *t->view;

        t->made = calloc(v->n_folders ? v->n_folders : 1, sizeof(*t->made));
        if (!t->made) {
                fprintf(stderr, "vfolderfs: cannot mount folders: %s\n",
                        strerror(ENOMEM));
                return -1;
        }
        for (size_t i = 0; i < v->n_folders; i++) {
                const struct view_folder *f = &v->folders[i];
                char *src = NULL;
                int r;

                if (f->hidden_node < 0)
                        continue;
                if (asprintf(&src, "%s/%s", t->mountpoint,
                             v->nodes[f->hidden_node].name) < 0) {
                        fprintf(stderr, "vfolderfs: cannot mount folders: %s\n",
                                strerror(ENOMEM));
                        return -1;
                }
                r = make_dirs(f->target);
                if (r == 0 && mount(src, f->target, NULL, MS_BIND, NULL) < 0)
                        r = -errno;
                free(src);
                if (r < 0) {
                        if (!atomic_load(&t->stopping))
                                fprintf(stderr,
                                        "vfolderfs: cannot mount folder '%s' at '%s': %s\n",
                                        f->name, f->target, strerror(-r));
                        return -1;
                }
                t->made[t->n_made] = strdup(f->target);
                if (!t->made[t->n_made]) {
                        /* still recorded, by the one copy we can trust */
                        umount2(f->target, MNT_DETACH);
                        fprintf(stderr, "vfolderfs: cannot mount folders: %s\n",
                                strerror(ENOMEM));
                        return -1;
                }
                t->n_made++;
        }
        return 0;
}

/* The mount point as /proc/self/mountinfo writes it (octal escapes). */
static char *mountinfo_escape(const char *path)
{
        char *r = malloc(strlen(path) * 4 + 1), *o = r;

        if (!r)
                return NULL;
        for (const char *p = path; *p; p++) {
                if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\') {
                        sprintf(o, "\\%03o", (unsigned char)*p);
                        o += 4;
                } else {
                        *o++ = *p;
                }
        }
        *o = '\0';
        return r;
}

/*
 * Whether a mount of device dev is still at mountpoint (escaped); on a
 * read error, assume it is.
 */
static bool still_mounted(int fd, dev_t dev, const char *mountpoint)
{
        FILE *f;
        char *line = NULL;
        size_t cap = 0;
        bool found = false;
        int dfd = dup(fd);

        if (dfd < 0)
                return true;
        if (lseek(dfd, 0, SEEK_SET) < 0) {
                close(dfd);
                return true;
        }
        f = fdopen(dfd, "r");
        if (!f) {
                close(dfd);
                return true;
        }
        while (!found && getline(&line, &cap, f) > 0) {
                unsigned int ma, mi;
                char mp[4097];

                if (sscanf(line, "%*d %*d %u:%u %*s %4096s", &ma, &mi,
                           mp) != 3)
                        continue;
                found = ma == major(dev) && mi == minor(dev) &&
                        strcmp(mp, mountpoint) == 0;
        }
        free(line);
        fclose(f);
        return found;
}

/* Until told to stop, or the FUSE mount is gone (then unbind). */
static void watch(struct targets *t, dev_t dev)
{
        char *mp = mountinfo_escape(t->mountpoint);
        int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

        if (!mp || fd < 0) {
                fuse_log(FUSE_LOG_ERR,
                         "vfolderfs: cannot watch the mount table: %s\n",
                         strerror(mp ? errno : ENOMEM));
                free(mp);
                if (fd >= 0)
                        close(fd);
                return;
        }
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = fd, .events = POLLPRI },
                        { .fd = t->wake[0], .events = POLLIN },
                };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents)
                        break;
                if (p[0].revents && !still_mounted(fd, dev, mp)) {
                        unmount_made(t);
                        break;
                }
        }
        free(mp);
        close(fd);
}

static void *run(void *arg)
{
        struct targets *t = arg;
        struct stat st;
        int r;

        r = stat(t->mountpoint, &st);
        if (r < 0 && !atomic_load(&t->stopping))
                fprintf(stderr, "vfolderfs: cannot mount folders from '%s': %s\n",
                        t->mountpoint, strerror(errno));
        else if (r == 0) {
                r = epoch_enter();
                if (r < 0)
                        fprintf(stderr, "vfolderfs: cannot mount folders: "
                                        "%s\n", strerror(-r));
                else
                        r = bind_all(t);
                epoch_leave();
        }
        atomic_store(&t->bound, true);
        if (r < 0) {
                t->failed = true;
                fuse_session_exit(t->se);
                pthread_kill(t->main_thread, SIGTERM);
                return NULL;
        }
        t->ready(t->arg);
        watch(t, st.st_dev);
        return NULL;
}

static void targets_free(struct targets *t)
{
        if (t->wake[0] >= 0)
                close(t->wake[0]);
        if (t->wake[1] >= 0)
                close(t->wake[1]);
        for (size_t i = 0; i < t->n_made; i++)
                free(t->made[i]);
        free(t->made);
        free(t);
}

int targets_start(struct fuse_session *se, struct view *_Atomic *view,
                  const char *mountpoint, void (*ready)(void *), void *arg,
                  struct targets **ret)
{
        const struct view *v;
        struct targets *t;
        bool any = false;
        int r;

        *ret = NULL;
        r = epoch_enter(); /* the catalog watcher already runs */
        if (r < 0)
                return r;
        v = *view;
        for (size_t i = 0; i < v->n_folders; i++)
                any = any || v->folders[i].hidden_node >= 0;
        epoch_leave();
        if (!any) {
                ready(arg);
                return 0;
        }
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->se = se;
        t->view = view;
        t->mountpoint = mountpoint;
        t->ready = ready;
        t->arg = arg;
        t->main_thread = pthread_self();
        atomic_init(&t->bound, false);
        atomic_init(&t->stopping, false);
        t->wake[0] = t->wake[1] = -1;
        if (pipe2(t->wake, O_CLOEXEC) < 0) {
                r = -errno;
                targets_free(t);
                return r;
        }
        r = thread_start_unsignalled(&t->thread, run, t);
        if (r < 0) {
                targets_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

bool targets_stop(struct targets *t, struct fuse_session *se)
{
        bool failed;

        if (!t)
                return false;
        atomic_store(&t->stopping, true);
        if (!atomic_load(&t->bound))
                fuse_session_unmount(se);
        if (write(t->wake[1], "", 1) != 1) {
                /* the thread is gone or sees the pipe anyway */
        }
        pthread_join(t->thread, NULL);
        unmount_made(t);
        failed = t->failed;
        targets_free(t);
        return failed;
}
