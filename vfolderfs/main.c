/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c - the vfolderfs daemon's command line, start and teardown: parse
 * the options (ours with fuse_opt_parse, libfuse's with fuse_parse_cmdline),
 * fill in what they leave unset from the configuration file (config.c),
 * start the session in the catalog (which creates the scratch directory and
 * returns the mounts), build the view, mount with the low-level API and run
 * the multi-threaded loop; on unmount or SIGTERM/SIGINT end the session
 * (scratch removed, folder data never touched).  Without -f the daemon forks
 * before touching the catalog, so the recorded pid is the daemon's own, and
 * the parent exits only once the mount is live (0) or has failed (1); live
 * includes the bind mounts of folders whose target is outside the mount
 * point (targets.c), made while the loop runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "devio.h"
#include "live.h"
#include "locks.h"
#include "loop.h"
#include "quota.h"
#include "epoch.h"
#include "stats.h"
#include "watch.h"
#include "targets.h"
#include "vfolderfs.h"

#ifndef VFOLDERFS_VERSION
#define VFOLDERFS_VERSION "unknown"
#endif

struct options {
        char *config;
        char *catalog;
        char *scratch;
        char *scratch_size;
        int rw_can_delete;
        int nowatch;
        unsigned int readahead_kb;
        unsigned int spin_us;
        unsigned int storage_uid;
        unsigned int storage_gid;
        int show_help;
        int show_version;
        char *source;
        char *mountpoint;
};

enum {
        KEY_HELP,
        KEY_VERSION,
};

/* Read-ahead window (KiB): see devio.h. */
#define READAHEAD_DEFAULT_KB 1024U
#define READAHEAD_MAX_KB 65536U
/* How long a worker polls for the next request (µs): see loop.h. */
#define SPIN_DEFAULT_US 0U
#define SPIN_MAX_US 1000U

#define OPT(t, p, v) { t, offsetof(struct options, p), v }
static const struct fuse_opt option_spec[] = {
        OPT("config=%s", config, 0),
        OPT("catalog=%s", catalog, 0),
        OPT("scratch=%s", scratch, 0),
        OPT("scratch_size=%s", scratch_size, 0),
        OPT("rw_can_delete", rw_can_delete, 1),
        OPT("nowatch", nowatch, 1),
        OPT("readahead=%u", readahead_kb, 0),
        OPT("spin=%u", spin_us, 0),
        OPT("storage_uid=%u", storage_uid, 0),
        OPT("storage_gid=%u", storage_gid, 0),
        FUSE_OPT_KEY("-h", KEY_HELP),
        FUSE_OPT_KEY("--help", KEY_HELP),
        FUSE_OPT_KEY("-V", KEY_VERSION),
        FUSE_OPT_KEY("--version", KEY_VERSION),
        FUSE_OPT_END
};

static int option_proc(void *data, const char *arg, int key,
                       struct fuse_args *outargs)
{
        struct options *o = data;

        (void)outargs;
        switch (key) {
        case KEY_HELP:
                o->show_help = 1;
                return 0;
        case KEY_VERSION:
                o->show_version = 1;
                return 0;
        case FUSE_OPT_KEY_NONOPT:
                if (!o->source) {
                        o->source = strdup(arg);
                        return o->source ? 0 : -1;
                }
                if (!o->mountpoint) {
                        /* Ours, so that its errors read like ours. */
                        o->mountpoint = strdup(arg);
                        return o->mountpoint ? 0 : -1;
                }
                fprintf(stderr, "vfolderfs: unexpected argument '%s'\n",
                        arg);
                return -1;
        default:
                return 1;
        }
}

static void show_help(const char *argv0)
{
        printf("usage: %s [-o OPTION[,OPTION...]] SOURCE MOUNTPOINT\n"
               "\n"
               "Mount a compute session's home: its scratch space, with the "
               "user's folders in it.\n"
               "SOURCE is a user name or UUID (all of the user's folders), "
               "or session:ID.\n"
               "\n"
               "vfolderfs options:\n"
               "    -o config=PATH         configuration file (default "
               "$VFOLDERFS_CONFIG, else\n"
               "                           " CONFIG_DEFAULT_PATH "; "
               "see vfolderfs.conf(5))\n"
               "    -o catalog=PATH        catalog file (default "
               "$VFOLDERFS_CATALOG, else the\n"
               "                           configuration file's, else "
               CAT_DEFAULT_PATH ")\n"
               "    -o scratch=DIR         where session scratch directories "
               "live (default:\n"
               "                           scratch/ beside the catalog "
               "file)\n"
               "    -o scratch_size=SIZE   the session's scratch limit (10G, 512M; "
               "none by default):\n"
               "                           writes past it get EDQUOT, df shows it\n"
               "    -o rw_can_delete       let rw folders remove anyone's "
               "entries (legacy rw;\n"
               "                           else only the user's own)\n"
               "    -o nowatch             do not watch the storage for changes "
               "made elsewhere:\n"
               "                           every folder is then cached for 1 s "
               "only (see\n"
               "                           CACHING in vfolderfs(8))\n"
               "    -o readahead=KB        the kernel's read-ahead for this mount "
               "(default 1024;\n"
               "                           0 keeps the kernel's 128)\n"
               "    -o spin=US             a worker polls /dev/fuse for up to US "
               "(1-1000) before\n"
               "                           it sleeps in read (default 0)\n"
               "    -o max_threads=N       requests of one storage host running "
               "at once (default\n"
               "                           10; see STALLED STORAGE HOSTS in "
               "vfolderfs(8))\n"
               "    -o storage_uid=N       owner of created files on the "
               "storage host\n"
               "    -o storage_gid=N       group of created files on the "
               "storage host\n"
               "    scratch, scratch_size, rw_can_delete, storage_uid, "
               "storage_gid and nowatch\n"
               "    (watch = no) also default to the configuration file's "
               "values; the options\n"
               "    above win.\n"
               "\n"
               "FUSE options:\n",
               argv0);
        fflush(stdout);
        fuse_cmdline_help();
        fuse_lowlevel_help();
        printf("\nSee vfolderfs(8).\n");
}

static void fail(const char *what, const char *subject, const char *why)
{
        if (subject)
                fprintf(stderr, "vfolderfs: %s '%s': %s\n", what, subject,
                        why);
        else
                fprintf(stderr, "vfolderfs: %s: %s\n", what, why);
}

/* An absolute version of path (the file itself need not exist). */
static char *absolute_path(const char *path)
{
        char cwd[PATH_MAX];
        char *r;

        if (path[0] == '/')
                return strdup(path);
        if (!getcwd(cwd, sizeof(cwd)))
                return NULL;
        if (asprintf(&r, "%s/%s", cwd, path) < 0)
                return NULL;
        return r;
}

static char *default_scratch(const char *catalog)
{
        const char *slash = strrchr(catalog, '/');
        char *r;

        if (asprintf(&r, "%.*s/scratch", (int)(slash - catalog), catalog) < 0)
                return NULL;
        return r;
}

/*
 * Fork; the parent waits for the child's word on the pipe and exits with
 * it.  In the child, returns the pipe's write end.
 */
static int background(void)
{
        int fds[2];
        pid_t pid;
        char status = 1;

        if (pipe2(fds, O_CLOEXEC) < 0) {
                fail("cannot start daemon", NULL, strerror(errno));
                exit(1);
        }
        pid = fork();
        if (pid < 0) {
                fail("cannot start daemon", NULL, strerror(errno));
                exit(1);
        }
        if (pid > 0) {
                close(fds[1]);
                if (read(fds[0], &status, 1) != 1) {
                        int ws;

                        /* The child died before reporting: its status. */
                        if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws))
                                _exit(WEXITSTATUS(ws) ? WEXITSTATUS(ws) : 1);
                        _exit(1);
                }
                _exit(status);
        }
        close(fds[0]);
        setsid();
        return fds[1];
}

/* After detaching, libfuse's and our own run-time messages go to syslog. */
static void log_to_syslog(enum fuse_log_level level, const char *fmt,
                          va_list ap)
{
        vsyslog((int)level, fmt, ap);
}

static void detach(int report_fd)
{
        char ok = 0;
        int null;

        if (report_fd < 0)
                return;
        openlog("vfolderfs", LOG_PID, LOG_DAEMON);
        fuse_set_log_func(log_to_syslog);
        if (chdir("/") < 0) {
                /* harmless: only keeps a directory busy */
        }
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
                if (null > 2)
                        close(null);
        }
        if (write(report_fd, &ok, 1) != 1) {
                /* the parent is gone; nothing to tell */
        }
        close(report_fd);
}

/* targets_start()'s ready callback: arg is &report_fd. */
static void mounted_ready(void *arg)
{
        int *report_fd = arg;

        detach(*report_fd);
        *report_fd = -1;
}

/*
 * What the daemon inherited from whoever started it (a shell, mount(8),
 * systemd) must not change what it does for a caller:
 *   - its umask: the kernel has applied the caller's umask to the mode of
 *     every CREATE, MKDIR and MKNOD already, and ours on top would store
 *     0755 for a mkdir(0777) made with umask 0.  Everything the daemon
 *     makes for itself names its mode;
 *   - a file size limit (ulimit -f), which would cut every caller's writes
 *     (EFBIG; SIGXFSZ would end the daemon): lifted, or where the hard
 *     limit cannot be (no CAP_SYS_RESOURCE) warned about and survived;
 *   - blocked or ignored SIGTERM and SIGINT, which end a session (a shell
 *     starts background commands with SIGINT ignored, and libfuse only
 *     handles signals that have their default action).
 * Called before any thread starts.
 */
static void reset_process_state(void)
{
        struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
        sigset_t none;

        umask(0);
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0 &&
            getrlimit(RLIMIT_FSIZE, &rl) == 0) {
                /* A hard limit needs CAP_SYS_RESOURCE to lift. */
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_FSIZE, &rl);
                fprintf(stderr, "vfolderfs: warning: started with a file "
                        "size limit of %llu bytes that cannot be lifted: "
                        "writes past it fail with EFBIG\n",
                        (unsigned long long)rl.rlim_max);
        }
        /* Past such a limit a write fails; it must not end the daemon. */
        signal(SIGXFSZ, SIG_IGN);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
}

/* Raise the soft descriptor limit to the hard one; returns the result. */
static size_t raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 1024;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        getrlimit(RLIMIT_NOFILE, &rl);
        }
        return rl.rlim_cur == RLIM_INFINITY ? (size_t)1 << 20
                                            : (size_t)rl.rlim_cur;
}

/*
 * Whether this process may reopen inodes from file handles
 * (open_by_handle_at() needs CAP_DAC_READ_SEARCH): try on fd.
 */
static bool handles_work(int path_fd)
{
        struct file_handle *h;
        int mount_id, r;
        int fd = openat(path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return false;

        h = malloc(sizeof(*h) + MAX_HANDLE_SZ);
        if (!h)
                return false;
        h->handle_bytes = MAX_HANDLE_SZ;
        r = name_to_handle_at(fd, "", h, &mount_id, AT_EMPTY_PATH);
        if (r == 0) {
                r = open_by_handle_at(fd, h, O_PATH | O_CLOEXEC);
                if (r >= 0)
                        close(r);
        } else {
                /* no handles on scratch's file system; folders may have */
                r = geteuid() == 0 ? 0 : -1;
        }
        free(h);
        close(fd);
        return r >= 0;
}

static void warn_folders(const struct view *view)
{
        for (size_t i = 0; i < view->n_folders; i++) {
                const struct view_folder *f = &view->folders[i];

                if (f->backing_errno)
                        fprintf(stderr,
                                "vfolderfs: warning: folder '%s': backing directory '%s': %s\n",
                                f->name, f->backing_path,
                                strerror(f->backing_errno));
        }
}

int main(int argc, char *argv[])
{
        struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
        struct options opts = {
                .readahead_kb = READAHEAD_DEFAULT_KB,
                .spin_us = SPIN_DEFAULT_US,
                .storage_uid = (unsigned int)-1,
                .storage_gid = (unsigned int)-1,
        };
        struct fuse_cmdline_opts cmd = { 0 };
        struct fuse_session *se = NULL;
        struct vfs_ctx ctx = { .view = NULL };
        struct targets *targets = NULL;
        struct loop *loop = NULL;
        struct live *live = NULL;
        struct cat_session *session = NULL;
        struct cat_mount *mounts = NULL;
        size_t n_mounts = 0;
        cat_catalog *cat = NULL;
        struct vf_config conf;
        char *catalog_path = NULL, *scratch_root = NULL, *mountpoint = NULL;
        char *fsname_opt = NULL, *err = NULL;
        char *stats_path = NULL;
        struct quota_folder *scratch_quota = NULL;
        int64_t scratch_size = 0;
        char hostname[HOST_NAME_MAX + 1];
        int report_fd = -1;
        size_t nofile;
        int ret = 1, r;
        bool mounted = false, signals_set = false;

        ctx.root.fd = -1;
        config_init(&conf);
        if (fuse_opt_parse(&args, &opts, option_spec, option_proc) < 0) {
                fprintf(stderr, "Try 'vfolderfs --help'\n");
                ret = 2;
                goto out;
        }
        if (opts.show_help) {
                show_help(argv[0]);
                ret = 0;
                goto out;
        }
        if (opts.show_version) {
                printf("vfolderfs %s\n", VFOLDERFS_VERSION);
                fflush(stdout); /* libfuse runs fusermount3 for its line */
                fuse_lowlevel_version();
                ret = 0;
                goto out;
        }
        if (!opts.source || opts.source[0] == '\0') {
                fprintf(stderr, "vfolderfs: missing SOURCE and MOUNTPOINT\n"
                                "Try 'vfolderfs --help'\n");
                ret = 2;
                goto out;
        }
        /* The mount source, shown in /proc/mounts. */
        if (fuse_opt_add_opt_escaped(&fsname_opt, opts.source) < 0 ||
            fuse_opt_add_arg(&args, "-o") < 0 ||
            fuse_opt_add_arg(&args, "default_permissions") < 0 ||
            fuse_opt_add_arg(&args, "-osubtype=vfolderfs") < 0)
                goto out_nomem;
        {
                char *o = NULL;

                if (asprintf(&o, "-ofsname=%s", fsname_opt) < 0)
                        goto out_nomem;
                r = fuse_opt_add_arg(&args, o);
                free(o);
                if (r < 0)
                        goto out_nomem;
        }
        if (fuse_parse_cmdline(&args, &cmd) != 0) {
                fprintf(stderr, "Try 'vfolderfs --help'\n");
                ret = 2;
                goto out;
        }
        if (opts.spin_us > SPIN_MAX_US) {
                fprintf(stderr, "vfolderfs: bad option 'spin=%u': at most "
                                "%u (microseconds)\n", opts.spin_us,
                        SPIN_MAX_US);
                ret = 2;
                goto out;
        }
        if (opts.readahead_kb > READAHEAD_MAX_KB) {
                fprintf(stderr, "vfolderfs: bad option 'readahead=%u': at "
                                "most %u (KiB)\n", opts.readahead_kb,
                        READAHEAD_MAX_KB);
                ret = 2;
                goto out;
        }
        if (!opts.mountpoint) {
                fprintf(stderr, "vfolderfs: missing MOUNTPOINT\n"
                                "Try 'vfolderfs --help'\n");
                ret = 2;
                goto out;
        }
        mountpoint = realpath(opts.mountpoint, NULL);
        if (!mountpoint) {
                fail("cannot mount at", opts.mountpoint, strerror(errno));
                goto out;
        }
        {
                struct stat st;

                if (stat(mountpoint, &st) < 0) {
                        fail("cannot mount at", mountpoint, strerror(errno));
                        goto out;
                }
                if (!S_ISDIR(st.st_mode)) {
                        fail("cannot mount at", mountpoint,
                             strerror(ENOTDIR));
                        goto out;
                }
        }
        /*
         * The configuration file: -o config=PATH, else $VFOLDERFS_CONFIG
         * (both must exist), else CONFIG_DEFAULT_PATH (may be absent).  The
         * command line wins over it, key by key.
         */
        {
                const char *cpath = opts.config;
                bool explicit = true;

                if (!cpath || !*cpath)
                        cpath = getenv("VFOLDERFS_CONFIG");
                if (!cpath || !*cpath) {
                        cpath = CONFIG_DEFAULT_PATH;
                        explicit = false;
                }
                r = config_parse_file(cpath, explicit, &conf, &err);
                if (r < 0) {
                        fprintf(stderr, "vfolderfs: %s\n",
                                err ? err : strerror(-r));
                        goto out;
                }
        }
        if (!opts.rw_can_delete && conf.rw_can_delete > 0)
                opts.rw_can_delete = 1;
        if (!opts.nowatch && conf.watch == 0)
                opts.nowatch = 1;
        if (opts.scratch_size) {
                r = config_parse_size(opts.scratch_size, &scratch_size);
                if (r < 0) {
                        fprintf(stderr, "vfolderfs: bad option "
                                        "'scratch_size=%s': expected a size "
                                        "such as 10G, or none\n"
                                        "Try 'vfolderfs --help'\n",
                                opts.scratch_size);
                        ret = 2;
                        goto out;
                }
        } else if (conf.scratch_size > 0) {
                scratch_size = conf.scratch_size;
        }
        if (opts.storage_uid == (unsigned int)-1 && conf.has_storage_uid)
                opts.storage_uid = conf.storage_uid;
        if (opts.storage_gid == (unsigned int)-1 && conf.has_storage_gid)
                opts.storage_gid = conf.storage_gid;
        /* catalog: -o catalog > $VFOLDERFS_CATALOG > file > built-in */
        if (opts.catalog)
                catalog_path = absolute_path(opts.catalog);
        else if (getenv("VFOLDERFS_CATALOG") && *getenv("VFOLDERFS_CATALOG"))
                catalog_path = absolute_path(getenv("VFOLDERFS_CATALOG"));
        else if (conf.catalog)
                catalog_path = absolute_path(conf.catalog);
        else
                catalog_path = strdup(CAT_DEFAULT_PATH);
        if (!catalog_path)
                goto out_nomem;
        scratch_root = opts.scratch ? absolute_path(opts.scratch)
                       : conf.scratch ? absolute_path(conf.scratch)
                                      : default_scratch(catalog_path);
        if (!scratch_root)
                goto out_nomem;
        if (gethostname(hostname, sizeof(hostname)) < 0) {
                fail("cannot get host name", NULL, strerror(errno));
                goto out;
        }
        hostname[sizeof(hostname) - 1] = '\0';
        if (getenv("VFOLDERFS_STATS") && *getenv("VFOLDERFS_STATS")) {
                stats_path = absolute_path(getenv("VFOLDERFS_STATS"));
                if (!stats_path)
                        goto out_nomem;
        }
        nofile = raise_nofile();
        reset_process_state();
        /* Every path is absolute now: keep no directory busy. */
        if (chdir("/") < 0) {
                fail("cannot change directory to", "/", strerror(errno));
                goto out;
        }

        ctx.storage_uid = opts.storage_uid;
        ctx.storage_gid = opts.storage_gid;
        ctx.chown_on_create =
                (ctx.storage_uid != (uid_t)-1 && ctx.storage_uid != geteuid()) ||
                (ctx.storage_gid != (gid_t)-1 && ctx.storage_gid != getegid());
        ctx.timeout = 1.0;

        /*
         * Parse the FUSE options now, so that a bad one fails before
         * anything is recorded in the catalog.  ctx is filled in below,
         * before the first request can arrive (at mount).
         */
        se = fuse_session_new(&args, stats_ops(stats_path != NULL),
                              sizeof(vfs_ops), &ctx);
        if (!se) {
                fail("cannot start FUSE session", NULL,
                     "bad FUSE options (see above)");
                goto out;
        }

        /* From here on the pid is the daemon's: fork first. */
        if (!cmd.foreground)
                report_fd = background();

        r = cat_open(catalog_path, 0, &cat, &err);
        if (r < 0) {
                if (err)
                        fail("cannot open catalog", NULL, err);
                else
                        fail("cannot open catalog", catalog_path,
                             strerror(-r));
                goto out;
        }
        if (mkdir(scratch_root, CAT_PRIVATE_DIR_MODE) < 0 && errno != EEXIST) {
                fail("cannot create scratch directory", scratch_root,
                     strerror(errno));
                goto out;
        }
        r = cat_session_start(cat, opts.source, mountpoint, hostname,
                              getpid(), scratch_root, &session, &mounts,
                              &n_mounts, &err);
        if (r < 0) {
                fail("cannot start session for", opts.source,
                     err ? err : strerror(-r));
                goto out;
        }
        ctx.uid = session->uid;
        ctx.gid = session->gid;
        memcpy(ctx.user_id, session->user_id, sizeof(ctx.user_id));

        ctx.root.fd = open(session->scratch,
                           O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ctx.root.fd < 0) {
                fail("cannot open scratch directory", session->scratch,
                     strerror(errno));
                goto out_end;
        }
        {
                struct stat st;

                if (fstat(ctx.root.fd, &st) < 0) {
                        fail("cannot open scratch directory",
                             session->scratch, strerror(errno));
                        goto out_end;
                }
                ctx.root.dev = st.st_dev;
                ctx.root.ino = st.st_ino;
                ctx.root.type = S_IFDIR;
                ctx.root.folder = VIEW_SCRATCH;
                ctx.root.vnode = VIEW_ROOT;
                ctx.root.nlookup = 1;
                ctx.root.generation = 0;
        }
        ctx.scratch_close_reports = view_close_reports(NULL, ctx.root.fd);
        r = view_build(mounts, n_mounts, ctx.root.fd, opts.rw_can_delete,
                       ctx.chown_on_create ? ctx.storage_uid : (uid_t)-1,
                       ctx.chown_on_create ? ctx.storage_gid : (gid_t)-1,
                       (struct view **)&ctx.view, &err); /* before any reader */
        if (r < 0) {
                fail("cannot build the session view", NULL,
                     err ? err : strerror(-r));
                goto out_end;
        }
        if (scratch_size > 0) {
                scratch_quota = quota_scratch_new();
                if (!scratch_quota) {
                        fail("cannot start", NULL, strerror(ENOMEM));
                        goto out_end;
                }
                ctx.view->scratch_quota = scratch_quota;
                ctx.view->scratch_quota_bytes = scratch_size;
        }
        warn_folders(ctx.view);
        r = inode_table_new(&ctx.inodes);
        if (r < 0) {
                fail("cannot start", NULL, strerror(-r));
                goto out_end;
        }
        /*
         * Half the descriptors for inodes the kernel knows, the rest for
         * open files and directories.
         */
        inode_table_set_budget(ctx.inodes, nofile / 2,
                               handles_work(ctx.root.fd));
        /* File locks taken on the storage (locks.h). */
        r = locks_new(se, &ctx, &ctx.locks);
        if (r < 0) {
                fail("cannot start", NULL, strerror(-r));
                goto out_end;
        }
        /*
         * Changes from elsewhere invalidate the kernel's cache (watch.h).
         * Without the privilege for it (an unprivileged daemon) the short
         * cache applies silently, as documented.
         */
        r = opts.nowatch ? 0 : watch_start(se, &ctx, &ctx.watch);
        if (r < 0 && r != -EPERM)
                fuse_log(FUSE_LOG_WARNING,
                         "vfolderfs: cannot watch the storage (%s): every "
                         "folder is cached for %.0f s only\n",
                         strerror(-r), ctx.timeout);
        if (ctx.watch)
                inode_table_set_release_hook(ctx.inodes, watch_release_hook,
                                             ctx.watch);
        watch_view(ctx.watch, (struct view *)ctx.view);
        {
                /* Admin changes reach the running session (live.h). */
                struct live_params lp = {
                        .catalog_path = catalog_path,
                        .session_id = session->id,
                        .all_folders = strncmp(opts.source, "session:", 8) != 0,
                        .scratch_fd = ctx.root.fd,
                        .chown_uid = ctx.chown_on_create ? ctx.storage_uid
                                                         : (uid_t)-1,
                        .chown_gid = ctx.chown_on_create ? ctx.storage_gid
                                                         : (gid_t)-1,
                };

                r = live_start(se, &ctx, &lp, &live, &err);
                if (r < 0) {
                        fail("cannot watch the catalog", NULL,
                             err ? err : strerror(-r));
                        goto out_end;
                }
        }

        if (fuse_set_signal_handlers(se) != 0) {
                fail("cannot start FUSE session", NULL,
                     "cannot install signal handlers");
                goto out_end;
        }
        signals_set = true;
        if (fuse_session_mount(se, mountpoint) != 0) {
                fail("cannot mount at", mountpoint, "FUSE mount failed (see above)");
                goto out_end;
        }
        mounted = true;
        r = devio_install(se, mountpoint, opts.readahead_kb);
        if (r < 0) {
                fail("cannot start FUSE session", NULL, strerror(-r));
                goto out_end;
        }
        /*
         * The bind mounts of outside targets need the loop to answer their
         * lookups: a thread makes them, then detaches (mounted_ready).
         */
        r = targets_start(se, &ctx.view, mountpoint, mounted_ready,
                          &report_fd, &targets);
        if (r < 0) {
                fail("cannot mount folders", NULL, strerror(-r));
                goto out_end;
        }

        if (cmd.singlethread) {
                r = fuse_session_loop(se);
        } else {
                /*
                 * max_threads is the limit per storage host (loop.h); idle
                 * workers are kept up to max_idle_threads, by default as
                 * many.
                 */
                struct loop_params lp = {
                        .limit = cmd.max_threads,
                        .idle = cmd.max_idle_threads == UINT_MAX ?
                                        cmd.max_threads :
                                        cmd.max_idle_threads,
                        .spin_us = opts.spin_us,
                        .classify = vfs_request_queue,
                        .hold = vfs_request_hold,
                        .release = vfs_request_release,
                        .arg = &ctx,
                };

                loop = loop_new(se, &lp);
                r = loop ? loop_run(loop) : -ENOMEM;
        }
        /* 0: unmounted; > 0: the signal that stopped us; < 0: an error. */
        ret = r < 0 ? 1 : 0;
        if (r < 0)
                fuse_log(FUSE_LOG_ERR, "vfolderfs: session loop failed: %s\n",
                         strerror(-r));
        if (stats_path) {
                r = stats_write(stats_path);
                if (r < 0)
                        fuse_log(FUSE_LOG_ERR,
                                 "vfolderfs: cannot write '%s': %s\n",
                                 stats_path, strerror(-r));
        }
        /* The thread is joined: report_fd is ours again (or -1). */
        if (targets_stop(targets, se))
                ret = 1;
        targets = NULL;

out_end:
        /*
         * Lock waits still running get ENOLCK (the kernel may still be
         * there, after a signal) and their threads are joined.
         */
        locks_stop(ctx.locks);
        /*
         * The watcher notifies through se: stop it before se goes, after
         * the unmount (a notification in flight then fails at once instead
         * of waiting on a request no worker is left to answer).
         */
        if (se && mounted) {
                fuse_session_unmount(se);
                mounted = false;
        }
        /*
         * Requests still running wait on a stalled storage host: they use
         * the watcher, the view and the inode table until it resumes.
         */
        loop_free(loop);
        loop = NULL;
        live_stop(live);
        live = NULL;
        watch_stop(ctx.watch);
        ctx.watch = NULL;
        if (se) {
                if (mounted)
                        fuse_session_unmount(se);
                if (signals_set)
                        fuse_remove_signal_handlers(se);
                fuse_session_destroy(se);
                se = NULL;
        }
        epoch_free(); /* no request runs any more */
        inode_table_free(ctx.inodes);
        ctx.inodes = NULL;
        if (ctx.root.fd >= 0)
                close(ctx.root.fd);
        free(err);
        err = NULL;
        r = cat_session_end(cat, session->id, &err);
        if (r < 0) {
                /* stderr, or syslog once detached */
                fuse_log(FUSE_LOG_ERR, "vfolderfs: cannot end session '%s': %s\n",
                         session->id, err ? err : strerror(-r));
                ret = 1;
        }
        goto out;
out_nomem:
        fail("cannot start", NULL, strerror(ENOMEM));
out:
        if (se)
                fuse_session_destroy(se);
        view_free(ctx.view);
        quota_scratch_free(scratch_quota);
        inode_table_free(ctx.inodes);
        locks_free(ctx.locks);
        cat_mount_list_free(mounts, n_mounts);
        cat_session_free(session);
        if (cat)
                cat_close(cat);
        free(err);
        free(fsname_opt);
        free(catalog_path);
        free(scratch_root);
        free(stats_path);
        free(mountpoint);
        free(cmd.mountpoint);
        config_free(&conf);
        free(opts.config);
        free(opts.catalog);
        free(opts.scratch);
        free(opts.scratch_size);
        free(opts.source);
        free(opts.mountpoint);
        fuse_opt_free_args(&args);
        if (report_fd >= 0) {
                char status = (char)ret;

                if (write(report_fd, &status, 1) != 1) {
                        /* the parent saw EOF and reports failure anyway */
                }
                close(report_fd);
        }
        return ret;
}
