/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fsop.c - perform exactly one file-system system call and print its outcome,
 * for the integration tests: "ok" when the call succeeded, else the errno
 * name ("EROFS", "EPERM", ...).  Exit status is 0 in both cases, so a shell
 * test compares the printed word with the errno the SPEC promises; only bad
 * usage exits 2.  The umask is cleared so that modes given on the command
 * line reach the file system exactly as written.
 *
 * "fsop batch" reads one operation per line (tab-separated fields) and prints
 * one result per line, to run many calls as one user in one process.
 *
 * One helper extra: "swaploop A B MS" exchanges two names with
 * renameat2(RENAME_EXCHANGE) for MS milliseconds or until SIGUSR1 (the
 * containment test's concurrent symlink swap) and prints the number of swaps.
 * For the session loop's test (loop.sh): "timed OP PATH" prints how long the
 * calls of OP took, in microseconds, "sigstat PATH" is a stat made with a
 * SIGUSR1 handler installed, and "catgo PATH GOFILE" a cat that opens PATH at
 * once and reads it (ahead first) once GOFILE exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

static int usage(void)
{
        fputs("usage: fsop OP ARGS...\n"
              "  stat|lstat|read|readdir|readlink|listxattr|unlink|rmdir PATH\n"
              "  getxattr|removexattr PATH NAME    setxattr|lsetxattr PATH NAME VALUE\n"
              "  getxattrv PATH NAME, listxattrv PATH (print the value / the names)\n"
              "  create|mkdir|chmod PATH MODE    truncate PATH LEN    write PATH DATA\n"
              "  chown|lchown PATH UID GID    utimens|lutimens PATH SECONDS\n"
              "  symlink TARGET PATH    link|linkf OLD NEW    rename OLD NEW\n"
              "  rename2 OLD NEW noreplace|exchange    mknod PATH c|b|p MAJOR MINOR\n"
              "  swaploop A B MILLISECONDS [PAUSE_MICROSECONDS]\n"
              "  timed read|stat|readdir|readdirstat PATH, timed writeread PATH DATA\n"
              "        (print the calls' elapsed microseconds instead of \"ok\")\n"
              "  sigstat PATH (stat with a SIGUSR1 handler installed, no SA_RESTART)\n"
              "  catgo PATH GOFILE (open PATH, wait for GOFILE, read PATH ahead\n"
              "        with posix_fadvise, copy it to stdout)\n"
              "  batch [MS] (reads \"OP<TAB>ARG...\" lines from stdin, for at most MS ms)\n",
              stderr);
        return 2;
}

static int parse_ulong(const char *s, int base, unsigned long *ret)
{
        char *end;

        errno = 0;
        unsigned long v = strtoul(s, &end, base);
        if (errno != 0 || end == s || *end != '\0')
                return -1;
        *ret = v;
        return 0;
}

static int report(int r)
{
        if (r < 0) {
                const char *name = strerrorname_np(errno);
                printf("%s\n", name ? name : "EUNKNOWN");
        } else {
                puts("ok");
        }
        return 0;
}

static int do_read(const char *path)
{
        char buf[65536];
        int fd = open(path, O_RDONLY);
        if (fd < 0)
                return -1;
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                ;
        int saved = errno;
        close(fd);
        errno = saved;
        return n < 0 ? -1 : 0;
}

static int do_readdir(const char *path)
{
        DIR *d = opendir(path);
        if (!d)
                return -1;
        errno = 0;
        while (readdir(d))
                ;
        int saved = errno;
        closedir(d);
        errno = saved;
        return saved ? -1 : 0;
}

static int do_write(const char *path, const char *data)
{
        int fd = open(path, O_WRONLY);
        if (fd < 0)
                return -1;
        size_t len = strlen(data);
        ssize_t n = pwrite(fd, data, len, 0);
        int saved = errno;
        if (close(fd) < 0 && n >= 0)
                return -1;
        errno = saved;
        if (n >= 0 && (size_t)n != len) {
                errno = EIO;
                return -1;
        }
        return n < 0 ? -1 : 0;
}

static int do_create(const char *path, mode_t mode)
{
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, mode);
        if (fd < 0)
                return -1;
        return close(fd);
}

static int do_utimens(const char *path, time_t sec, int flags)
{
        struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };
        return utimensat(AT_FDCWD, path, ts, flags);
}

static long long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t swap_stop;

static void on_stop(int sig)
{
        (void)sig;
        swap_stop = 1;
}

/*
 * Exchange a and b until ms have passed or SIGUSR1 arrives, pausing
 * pause_us microseconds after each exchange.
 */
static int swaploop(const char *a, const char *b, unsigned long ms,
                    unsigned long pause_us)
{
        long long end = now_ms() + (long long)ms;
        unsigned long n = 0;
        struct sigaction sa = { .sa_handler = on_stop };

        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        while (!swap_stop && now_ms() < end) {
                if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0)
                        return report(-1);
                n++;
                if (pause_us)
                        usleep((useconds_t)pause_us);
        }
        printf("%lu\n", n);
        return 0;
}

static long long now_us(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* readdir of path with an fstatat() of every entry (what ls -l does). */
static int do_readdirstat(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        struct stat st;
        if (!d)
                return -1;
        errno = 0;
        while ((de = readdir(d))) {
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        int saved = errno;
                        closedir(d);
                        errno = saved;
                        return -1;
                }
        }
        int saved = errno;
        closedir(d);
        errno = saved;
        return saved ? -1 : 0;
}

/* data written to path (created or truncated), then read back whole. */
static int do_writeread(const char *path, const char *data)
{
        size_t len = strlen(data);
        char buf[4096];
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, data, len);
        int saved = errno;
        if (close(fd) < 0 && n >= 0)
                return -1;
        errno = saved;
        if (n < 0)
                return -1;
        fd = open(path, O_RDONLY);
        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof(buf));
        saved = errno;
        close(fd);
        errno = saved;
        if (n < 0)
                return -1;
        if ((size_t)n != len || memcmp(buf, data, len) != 0) {
                errno = EIO;
                return -1;
        }
        return 0;
}

/*
 * timed OP PATH [DATA]: the calls of OP, timed with CLOCK_MONOTONIC around
 * them only (not the process start); prints the microseconds or the errno.
 */
static int timed(int argc, char **argv)
{
        const char *op = argv[0], *p = argv[1];
        struct stat st;
        long long t0;
        int r;

        t0 = now_us();
        if (!strcmp(op, "read") && argc == 2)
                r = do_read(p);
        else if (!strcmp(op, "stat") && argc == 2)
                r = stat(p, &st);
        else if (!strcmp(op, "readdir") && argc == 2)
                r = do_readdir(p);
        else if (!strcmp(op, "readdirstat") && argc == 2)
                r = do_readdirstat(p);
        else if (!strcmp(op, "writeread") && argc == 3)
                r = do_writeread(p, argv[2]);
        else
                return usage();
        if (r < 0)
                return report(r);
        printf("%lld\n", now_us() - t0);
        return 0;
}

/*
 * catgo PATH GOFILE: open PATH now; once GOFILE exists ask the kernel to
 * read all of it ahead (POSIX_FADV_WILLNEED: background requests, as a
 * sequential reader has in flight), then copy it to stdout.
 */
static int catgo(const char *path, const char *go)
{
        char buf[65536];
        ssize_t n;
        int fd = open(path, O_RDONLY);

        if (fd < 0)
                return report(-1);
        while (access(go, F_OK) < 0)
                usleep(10000);
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
                        return 1;
        }
        if (n < 0)
                return report(-1);
        close(fd);
        return 0;
}

static void on_usr1(int sig)
{
        (void)sig;
}

/* run OP PATH ARGS...: argv[0] is the operation. */
static int run(int argc, char **argv)
{
        unsigned long u1, u2;

        if (argc < 2)
                return usage();
        const char *op = argv[0];
        const char *p = argv[1];
        int nargs = argc - 2; /* arguments after PATH */

#define NEED(n) do { if (nargs != (n)) return usage(); } while (0)
        if (!strcmp(op, "stat") || !strcmp(op, "lstat")) {
                struct stat st;
                NEED(0);
                return report(op[0] == 'l' ? lstat(p, &st) : stat(p, &st));
        } else if (!strcmp(op, "read")) {
                NEED(0);
                return report(do_read(p));
        } else if (!strcmp(op, "readdir")) {
                NEED(0);
                return report(do_readdir(p));
        } else if (!strcmp(op, "readlink")) {
                char buf[4096];
                NEED(0);
                return report(readlink(p, buf, sizeof(buf)) < 0 ? -1 : 0);
        } else if (!strcmp(op, "listxattr")) {
                char buf[65536];
                NEED(0);
                return report(listxattr(p, buf, sizeof(buf)) < 0 ? -1 : 0);
        } else if (!strcmp(op, "getxattrv")) {
                char buf[65536];
                NEED(1);
                ssize_t n = getxattr(p, argv[2], buf, sizeof(buf) - 1);
                if (n < 0)
                        return report(-1);
                buf[n] = '\0';
                puts(buf);
                return 0;
        } else if (!strcmp(op, "listxattrv")) {
                char buf[65536];
                NEED(0);
                ssize_t n = listxattr(p, buf, sizeof(buf));
                if (n < 0)
                        return report(-1);
                /* names are NUL-separated; print them comma-separated */
                for (ssize_t i = 0; i + 1 < n; i++)
                        if (buf[i] == '\0')
                                buf[i] = ',';
                printf("%.*s\n", (int)n, buf);
                return 0;
        } else if (!strcmp(op, "getxattr")) {
                char buf[65536];
                NEED(1);
                return report(getxattr(p, argv[2], buf, sizeof(buf)) < 0 ? -1 : 0);
        } else if (!strcmp(op, "setxattr") || !strcmp(op, "lsetxattr")) {
                NEED(2);
                size_t len = strlen(argv[3]);
                return report(op[0] == 'l'
                                      ? lsetxattr(p, argv[2], argv[3], len, 0)
                                      : setxattr(p, argv[2], argv[3], len, 0));
        } else if (!strcmp(op, "removexattr")) {
                NEED(1);
                return report(removexattr(p, argv[2]));
        } else if (!strcmp(op, "unlink")) {
                NEED(0);
                return report(unlink(p));
        } else if (!strcmp(op, "rmdir")) {
                NEED(0);
                return report(rmdir(p));
        } else if (!strcmp(op, "create") || !strcmp(op, "mkdir") ||
                   !strcmp(op, "chmod")) {
                NEED(1);
                if (parse_ulong(argv[2], 8, &u1) < 0)
                        return usage();
                if (op[0] == 'c' && op[1] == 'r')
                        return report(do_create(p, (mode_t)u1));
                if (op[0] == 'm')
                        return report(mkdir(p, (mode_t)u1));
                return report(chmod(p, (mode_t)u1));
        } else if (!strcmp(op, "truncate")) {
                NEED(1);
                if (parse_ulong(argv[2], 10, &u1) < 0)
                        return usage();
                return report(truncate(p, (off_t)u1));
        } else if (!strcmp(op, "write")) {
                NEED(1);
                return report(do_write(p, argv[2]));
        } else if (!strcmp(op, "chown") || !strcmp(op, "lchown")) {
                NEED(2);
                if (parse_ulong(argv[2], 10, &u1) < 0 ||
                    parse_ulong(argv[3], 10, &u2) < 0)
                        return usage();
                return report(op[0] == 'l' ? lchown(p, (uid_t)u1, (gid_t)u2)
                                           : chown(p, (uid_t)u1, (gid_t)u2));
        } else if (!strcmp(op, "utimens") || !strcmp(op, "lutimens")) {
                NEED(1);
                if (parse_ulong(argv[2], 10, &u1) < 0)
                        return usage();
                return report(do_utimens(p, (time_t)u1,
                                         op[0] == 'l' ? AT_SYMLINK_NOFOLLOW : 0));
        } else if (!strcmp(op, "symlink")) {
                NEED(1);
                return report(symlink(p, argv[2]));
        } else if (!strcmp(op, "link") || !strcmp(op, "linkf")) {
                NEED(1);
                return report(linkat(AT_FDCWD, p, AT_FDCWD, argv[2],
                                     !strcmp(op, "linkf") ? AT_SYMLINK_FOLLOW : 0));
        } else if (!strcmp(op, "rename")) {
                NEED(1);
                return report(rename(p, argv[2]));
        } else if (!strcmp(op, "rename2")) {
                NEED(2);
                unsigned flags;
                if (!strcmp(argv[3], "noreplace"))
                        flags = RENAME_NOREPLACE;
                else if (!strcmp(argv[3], "exchange"))
                        flags = RENAME_EXCHANGE;
                else
                        return usage();
                return report(renameat2(AT_FDCWD, p, AT_FDCWD, argv[2], flags));
        } else if (!strcmp(op, "mknod")) {
                NEED(3);
                mode_t type;
                if (!strcmp(argv[2], "c"))
                        type = S_IFCHR;
                else if (!strcmp(argv[2], "b"))
                        type = S_IFBLK;
                else if (!strcmp(argv[2], "p"))
                        type = S_IFIFO;
                else
                        return usage();
                if (parse_ulong(argv[3], 10, &u1) < 0 ||
                    parse_ulong(argv[4], 10, &u2) < 0)
                        return usage();
                return report(mknod(p, type | 0644,
                                    makedev((unsigned)u1, (unsigned)u2)));
        } else if (!strcmp(op, "timed")) {
                return timed(argc - 1, argv + 1);
        } else if (!strcmp(op, "catgo")) {
                NEED(1);
                return catgo(p, argv[2]);
        } else if (!strcmp(op, "sigstat")) {
                /* A caught signal must not make the call fail (loop.h). */
                struct sigaction sa = { .sa_handler = on_usr1 };
                struct stat st;
                NEED(0);
                sigemptyset(&sa.sa_mask);
                sigaction(SIGUSR1, &sa, NULL);
                return report(stat(p, &st));
        } else if (!strcmp(op, "swaploop")) {
                if (nargs != 2 && nargs != 3)
                        return usage();
                u2 = 0;
                if (parse_ulong(argv[3], 10, &u1) < 0 ||
                    (nargs == 3 && parse_ulong(argv[4], 10, &u2) < 0))
                        return usage();
                return swaploop(p, argv[2], u1, u2);
        }
#undef NEED
        return usage();
}

/*
 * batch: one operation per input line, fields separated by tabs; one result
 * line per operation (a bad line gives "EUSAGE").  Lets a test run many
 * calls as one user without starting a process for each.  With ms, stops
 * reading after that many milliseconds.
 */
static int batch(unsigned long ms)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        long long end = ms ? now_ms() + (long long)ms : 0;

        while ((!end || now_ms() < end) &&
               (len = getline(&line, &cap, stdin)) > 0) {
                char *fields[8];
                int n = 0;

                if (line[len - 1] == '\n')
                        line[len - 1] = '\0';
                for (char *f = line, *next; f && n < 8; f = next) {
                        next = strchr(f, '\t');
                        if (next)
                                *next++ = '\0';
                        fields[n++] = f;
                }
                if (run(n, fields) == 2)
                        puts("EUSAGE");
                fflush(stdout);
        }
        free(line);
        return 0;
}

int main(int argc, char **argv)
{
        umask(0);
        if (argc >= 2 && !strcmp(argv[1], "batch")) {
                unsigned long ms = 0;
                if (argc > 3 || (argc == 3 && parse_ulong(argv[2], 10, &ms) < 0))
                        return usage();
                return batch(ms);
        }
        if (argc < 3)
                return usage();
        return run(argc - 1, argv + 1);
}
