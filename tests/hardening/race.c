/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * race.c - the two halves of the symlink-swap race of tests/hardening/race.sh.
 *
 *   harden-race swap SECONDS PAUSE_US A1 B1 [A2 B2 ...]
 *      For SECONDS (a decimal fraction is fine) or until SIGUSR1, pair after
 *      pair: exchanges the two names with renameat2(RENAME_EXCHANGE), sleeps
 *      a pseudo-random 0..PAUSE_US/8 microseconds, exchanges them back and
 *      sleeps 0..PAUSE_US (0: never sleeps).  So A is mostly the real thing
 *      (the kernel in the session looks it up as such) and is a symlink in
 *      short windows of varying length, which is when the daemon gets calls
 *      for the real directory or file while its name points out.  Prints
 *      "swaps N".  Run as root on the backing directory (another node
 *      sharing the storage) or as the session user through the mount.
 *
 *   harden-race plant SECONDS PAUSE_US DIR TARGET N
 *      For SECONDS: for i in 0..N-1, makes DIR/c<i> a symlink to TARGET-<i>,
 *      sleeps 0..PAUSE_US microseconds, removes it, sleeps again; prints
 *      "plants N".  Run as root on the backing directory: a name that the
 *      session has just looked up and found absent (the kernel caches that
 *      for the entry timeout) becomes a symlink pointing out before the
 *      session creates it, so the daemon's create must not follow it.
 *
 *   harden-race work SECONDS THREADS DIR FILE MARKER [MAXITER]
 *      THREADS threads, each looping until SECONDS have passed (or MAXITER
 *      rounds each): under DIR (a directory that the swapper keeps trading
 *      for a symlink pointing out of the folder) and DIR/sub, it creates,
 *      writes, renames, links, unlinks, makes and removes directories, opens
 *      and reads "secret", opens it for writing, truncates, chmods, sets
 *      xattrs, lists the directory; on FILE (a regular file traded for a
 *      symlink) it opens for reading, for writing with O_TRUNC, truncates and
 *      chmods; and it looks up DIR/c<k> (k = round % 8), then opens it with
 *      O_CREAT (no O_EXCL) and writes (the names "plant" makes symlinks).
 *      Any read or listing that returns MARKER (a string present
 *      only in the sentinel trees outside the folder) is a LEAK: printed at
 *      once and counted.  At the end prints one line per operation kind with
 *      its successes and failures, "rounds N" and "leaks N"; exit status 1
 *      when there was a leak, 0 otherwise.
 *
 * Failures of individual calls are expected (the name is a symlink half of
 * the time, and the kernel resolves it in the session, where the sentinel is
 * out of the user's reach); what must never happen is the daemon following
 * the symlink: that shows up as MARKER in a read, or as a changed sentinel
 * tree, which race.sh checks afterwards.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

enum op {
        OP_CREATE, OP_WRITE, OP_RENAME, OP_LINK, OP_UNLINK, OP_MKDIR, OP_RMDIR,
        OP_READ, OP_OPENW, OP_TRUNCATE, OP_CHMOD, OP_SETXATTR, OP_LIST,
        OP_FREAD, OP_FOPENW, OP_FTRUNC, OP_FCHMOD, OP_CREATE_PLANTED, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
        "create", "write", "rename", "link", "unlink", "mkdir", "rmdir",
        "read-secret", "open-secret-w", "truncate-secret", "chmod-secret",
        "setxattr-secret", "readdir", "read-file", "open-file-wtrunc",
        "truncate-file", "chmod-file", "create-planted",
};

#define MAX_ERRNO 134
static atomic_ulong n_ok[OP_COUNT], n_fail[OP_COUNT];
static atomic_ulong n_errno[OP_COUNT][MAX_ERRNO];
static atomic_ulong n_leaks, n_rounds;
static volatile sig_atomic_t stop;

static const char *w_dir, *w_file, *w_marker;
static double w_seconds;
static unsigned long w_maxiter;

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_usr1(int sig)
{
        (void)sig;
        stop = 1;
}

static void count(enum op op, int r)
{
        if (r < 0) {
                atomic_fetch_add(&n_fail[op], 1);
                if (errno > 0 && errno < MAX_ERRNO)
                        atomic_fetch_add(&n_errno[op][errno], 1);
        }
        else
                atomic_fetch_add(&n_ok[op], 1);
}

static void leak(const char *what, const char *path)
{
        atomic_fetch_add(&n_leaks, 1);
        fprintf(stderr, "LEAK: %s %s returned the sentinel marker\n", what, path);
}

/* Read path; a leak when its content holds the marker. */
static int read_check(enum op op, const char *path)
{
        char buf[4096];
        int fd = open(path, O_RDONLY | O_NONBLOCK);

        if (fd < 0) {
                count(op, -1);
                return -1;
        }
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        count(op, n < 0 ? -1 : 0);
        if (n > 0) {
                buf[n] = '\0';
                if (strstr(buf, w_marker))
                        leak("read", path);
        }
        return 0;
}

static int open_write(enum op op, const char *path, int flags)
{
        int fd = open(path, O_WRONLY | O_NONBLOCK | flags);

        if (fd < 0) {
                count(op, -1);
                return -1;
        }
        ssize_t n = write(fd, "EVIL\n", 5);
        close(fd);
        count(op, n < 0 ? -1 : 0);
        return 0;
}

static void list_check(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *e;

        if (!d) {
                count(OP_LIST, -1);
                return;
        }
        while ((e = readdir(d)))
                if (strstr(e->d_name, w_marker))
                        leak("readdir", path);
        closedir(d);
        count(OP_LIST, 0);
}

static void one_round(unsigned id, unsigned long round, const char *dir)
{
        char a[4096], b[4096], c[4096], s[4096];

        snprintf(a, sizeof(a), "%s/w%u_%lu", dir, id, round);
        snprintf(b, sizeof(b), "%s/r%u_%lu", dir, id, round);
        snprintf(c, sizeof(c), "%s/l%u_%lu", dir, id, round);
        snprintf(s, sizeof(s), "%s/secret", dir);

        int fd = open(a, O_CREAT | O_EXCL | O_WRONLY, 0644);
        count(OP_CREATE, fd);
        if (fd >= 0) {
                count(OP_WRITE, write(fd, "inside\n", 7) == 7 ? 0 : -1);
                close(fd);
        }
        count(OP_RENAME, rename(a, b));
        count(OP_LINK, link(b, c));
        count(OP_UNLINK, unlink(c));
        count(OP_UNLINK, unlink(b));
        unlink(a); /* when the rename failed */
        count(OP_MKDIR, mkdir(a, 0755));
        count(OP_RMDIR, rmdir(a));
        read_check(OP_READ, s);
        open_write(OP_OPENW, s, O_APPEND);
        count(OP_TRUNCATE, truncate(s, 0));
        count(OP_CHMOD, chmod(s, 0666));
        count(OP_SETXATTR, setxattr(s, "user.evil", "1", 1, 0));
        list_check(dir);

        /* A name looked up absent, then created without O_EXCL. */
        struct stat st;
        snprintf(c, sizeof(c), "%s/c%lu", dir, round % 8);
        (void)!lstat(c, &st);
        fd = open(c, O_CREAT | O_WRONLY | O_APPEND | O_NONBLOCK, 0644);
        count(OP_CREATE_PLANTED, fd);
        if (fd >= 0) {
                (void)!write(fd, "EVIL\n", 5);
                close(fd);
                unlink(c);
        }
}

static void *worker(void *arg)
{
        unsigned id = (unsigned)(uintptr_t)arg;
        double end = now() + w_seconds;
        char sub[4096];

        snprintf(sub, sizeof(sub), "%s/sub", w_dir);
        for (unsigned long r = 0; !stop && now() < end &&
                                  (!w_maxiter || r < w_maxiter); r++) {
                one_round(id, r, w_dir);
                one_round(id, r, sub);
                read_check(OP_FREAD, w_file);
                open_write(OP_FOPENW, w_file, O_TRUNC);
                count(OP_FTRUNC, truncate(w_file, 0));
                count(OP_FCHMOD, chmod(w_file, 0666));
                atomic_fetch_add(&n_rounds, 1);
        }
        return NULL;
}

static int parse_seconds(const char *s, double *ret)
{
        char *end;

        errno = 0;
        *ret = strtod(s, &end);
        return (errno || end == s || *end || *ret <= 0) ? -1 : 0;
}

static int usage(void)
{
        fputs("usage: harden-race swap SECONDS PAUSE_US A1 B1 [A2 B2 ...]\n"
              "       harden-race plant SECONDS PAUSE_US DIR TARGET N\n"
              "       harden-race work SECONDS THREADS DIR FILE MARKER [MAXITER]\n",
              stderr);
        return 2;
}

static void swap_pair(const char *a, const char *b, unsigned long *swaps,
                      unsigned long *errors)
{
        if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0) {
                if ((*errors)++ < 3)
                        fprintf(stderr, "swap %s %s: %s\n", a, b, strerror(errno));
        } else {
                (*swaps)++;
        }
}

static int do_swap(int argc, char **argv)
{
        double seconds, end;
        unsigned long swaps = 0, errors = 0, pause_us;
        unsigned int seed = (unsigned int)getpid();
        struct sigaction sa = { .sa_handler = on_usr1 };
        char *e;

        if (argc < 5 || argc % 2 != 1 || parse_seconds(argv[1], &seconds) < 0)
                return usage();
        pause_us = strtoul(argv[2], &e, 10);
        if (*e || e == argv[2])
                return usage();
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        end = now() + seconds;
        while (!stop && now() < end) {
                for (int i = 3; i + 1 < argc; i += 2) {
                        /* out: the link at the worked-on name, briefly */
                        swap_pair(argv[i], argv[i + 1], &swaps, &errors);
                        if (pause_us)
                                usleep((useconds_t)(rand_r(&seed) % (pause_us / 8 + 1)));
                        /* back: the real thing, for longer */
                        swap_pair(argv[i], argv[i + 1], &swaps, &errors);
                        if (pause_us)
                                usleep((useconds_t)(rand_r(&seed) % (pause_us + 1)));
                }
        }
        printf("swaps %lu\nswap-errors %lu\n", swaps, errors);
        /* The swapper must have worked, or the race tested nothing. */
        return swaps > 0 ? 0 : 1;
}

static int do_plant(int argc, char **argv)
{
        double seconds, end;
        unsigned long pause_us, n, plants = 0;
        unsigned int seed = (unsigned int)getpid();
        char *e, link[4096], target[4096];
        struct sigaction sa = { .sa_handler = on_usr1 };

        if (argc != 6 || parse_seconds(argv[1], &seconds) < 0)
                return usage();
        pause_us = strtoul(argv[2], &e, 10);
        if (*e || e == argv[2])
                return usage();
        n = strtoul(argv[5], &e, 10);
        if (*e || n == 0 || n > 1000)
                return usage();
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        end = now() + seconds;
        while (!stop && now() < end) {
                for (unsigned long i = 0; i < n; i++) {
                        snprintf(link, sizeof(link), "%s/c%lu", argv[3], i);
                        snprintf(target, sizeof(target), "%s-%lu", argv[4], i);
                        if (symlink(target, link) == 0)
                                plants++;
                        if (pause_us)
                                usleep((useconds_t)(rand_r(&seed) % (pause_us + 1)));
                        unlink(link);
                        if (pause_us)
                                usleep((useconds_t)(rand_r(&seed) % (pause_us + 1)));
                }
        }
        printf("plants %lu\n", plants);
        return plants > 0 ? 0 : 1;
}

static int do_work(int argc, char **argv)
{
        unsigned long threads;
        char *end;
        struct sigaction sa = { .sa_handler = on_usr1 };

        if (argc != 6 && argc != 7)
                return usage();
        if (parse_seconds(argv[1], &w_seconds) < 0)
                return usage();
        threads = strtoul(argv[2], &end, 10);
        if (*end || threads == 0 || threads > 64)
                return usage();
        w_dir = argv[3];
        w_file = argv[4];
        w_marker = argv[5];
        if (argc == 7) {
                w_maxiter = strtoul(argv[6], &end, 10);
                if (*end)
                        return usage();
        }
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);

        pthread_t tids[64];
        unsigned long started = 0;
        for (unsigned long i = 0; i < threads; i++) {
                if (pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
                        fprintf(stderr, "pthread_create failed\n");
                        break;
                }
                started++;
        }
        for (unsigned long i = 0; i < started; i++)
                pthread_join(tids[i], NULL);

        unsigned long calls = 0;
        for (int i = 0; i < OP_COUNT; i++) {
                printf("%-18s ok %lu fail %lu", op_names[i],
                       atomic_load(&n_ok[i]), atomic_load(&n_fail[i]));
                for (int e = 1; e < MAX_ERRNO; e++)
                        if (atomic_load(&n_errno[i][e]))
                                printf(" %s:%lu", strerrorname_np(e),
                                       atomic_load(&n_errno[i][e]));
                putchar('\n');
                calls += atomic_load(&n_ok[i]) + atomic_load(&n_fail[i]);
        }
        printf("rounds %lu\ncalls %lu\nleaks %lu\n", atomic_load(&n_rounds),
               calls, atomic_load(&n_leaks));
        if (started != threads)
                return 2;
        return atomic_load(&n_leaks) ? 1 : 0;
}

int main(int argc, char **argv)
{
        umask(0);
        if (argc >= 2 && !strcmp(argv[1], "swap"))
                return do_swap(argc - 1, argv + 1);
        if (argc >= 2 && !strcmp(argv[1], "plant"))
                return do_plant(argc - 1, argv + 1);
        if (argc >= 2 && !strcmp(argv[1], "work"))
                return do_work(argc - 1, argv + 1);
        return usage();
}
