/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lockop.c - file lock calls for the lock tests (tests/integration/locks.sh),
 * in one process that keeps its descriptors between steps:
 *
 *   lockop [-r|-w] PATH STEP...
 *
 * PATH is opened read-write (-r: read-only, -w: write-only), then each STEP
 * runs in order and prints one line (stdout is line-buffered, so a test can
 * watch the output file of a lockop running in the background):
 *
 *   set:T:START:LEN   fcntl F_SETLK, T one of r w u: "ok" or the errno name
 *   setw:T:START:LEN  F_SETLKW: "ok MS" or "ERRNO MS" (MS: how long it took)
 *   ofd:T:START:LEN   F_OFD_SETLK (a lock of the open file, not the process)
 *   get:T:START:LEN   F_GETLK: "unlocked" or "T START LEN pid=PID"
 *   flock:sh|ex|un    flock() with LOCK_NB: "ok" or the errno name
 *   flockw:sh|ex      blocking flock(): "ok MS" or "ERRNO MS"
 *   open2 / close2    open / close a second descriptor of PATH (same mode)
 *   close             close the first descriptor
 *   read:N            pread N bytes at 0 (through the page cache), printed
 *                     with '.' for what is not printable
 *   write:TEXT        pwrite TEXT at 0: "ok" or the errno name
 *   exists:FILE       stat FILE: "yes" or "no"
 *   unlink:FILE       unlink FILE: "ok" or the errno name
 *   waitfile:FILE     wait (20 s at most) until FILE exists: "go"
 *   sleep:MS          sleep MS milliseconds: "slept"
 *   hold              print "holding" and sleep until killed
 *
 * SIGUSR1 has a handler installed without SA_RESTART (a blocking call it
 * interrupts fails with EINTR), SIGUSR2 one with SA_RESTART (the call goes
 * on).  Exit status: 0, or 2 for bad usage and 1 when PATH cannot be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fd = -1, fd2 = -1;
static int open_flags = O_RDWR;
static const char *path;

static void on_signal(int sig)
{
        (void)sig;
}

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static const char *err_name(int e)
{
        const char *n = strerrorname_np(e);

        return n ? n : "EUNKNOWN";
}

static int usage(void)
{
        fputs("usage: lockop [-r|-w] PATH STEP...  (see lockop.c)\n", stderr);
        return 2;
}

/* "T:START:LEN" into fl; -1 when malformed. */
static int parse_range(const char *s, struct flock *fl)
{
        char t;
        long long start, len;
        int n = 0;

        if (sscanf(s, "%c:%lld:%lld%n", &t, &start, &len, &n) != 3 ||
            s[n] != '\0')
                return -1;
        memset(fl, 0, sizeof(*fl));
        switch (t) {
        case 'r': fl->l_type = F_RDLCK; break;
        case 'w': fl->l_type = F_WRLCK; break;
        case 'u': fl->l_type = F_UNLCK; break;
        default: return -1;
        }
        fl->l_whence = SEEK_SET;
        fl->l_start = start;
        fl->l_len = len;
        return 0;
}

static int flock_op(const char *s)
{
        if (strcmp(s, "sh") == 0)
                return LOCK_SH;
        if (strcmp(s, "ex") == 0)
                return LOCK_EX;
        if (strcmp(s, "un") == 0)
                return LOCK_UN;
        return -1;
}

static void print_timed(int r, long t0)
{
        if (r == 0)
                printf("ok %ld\n", now_ms() - t0);
        else
                printf("%s %ld\n", err_name(errno), now_ms() - t0);
}

static int step(const char *s)
{
        struct flock fl;
        long t0;
        int op;

        if (strncmp(s, "set:", 4) == 0 || strncmp(s, "ofd:", 4) == 0) {
                int cmd = s[0] == 's' ? F_SETLK : F_OFD_SETLK;

                if (parse_range(s + 4, &fl) < 0)
                        return -1;
                if (fcntl(fd, cmd, &fl) == 0)
                        puts("ok");
                else
                        puts(err_name(errno));
        } else if (strncmp(s, "setw:", 5) == 0) {
                if (parse_range(s + 5, &fl) < 0)
                        return -1;
                t0 = now_ms();
                print_timed(fcntl(fd, F_SETLKW, &fl), t0);
        } else if (strncmp(s, "get:", 4) == 0) {
                if (parse_range(s + 4, &fl) < 0)
                        return -1;
                if (fcntl(fd, F_GETLK, &fl) < 0)
                        puts(err_name(errno));
                else if (fl.l_type == F_UNLCK)
                        puts("unlocked");
                else
                        printf("%c %lld %lld pid=%d\n",
                               fl.l_type == F_RDLCK ? 'r' : 'w',
                               (long long)fl.l_start, (long long)fl.l_len,
                               (int)fl.l_pid);
        } else if (strncmp(s, "flock:", 6) == 0) {
                op = flock_op(s + 6);
                if (op < 0)
                        return -1;
                if (flock(fd, op | LOCK_NB) == 0)
                        puts("ok");
                else
                        puts(err_name(errno));
        } else if (strncmp(s, "flockw:", 7) == 0) {
                op = flock_op(s + 7);
                if (op < 0)
                        return -1;
                t0 = now_ms();
                print_timed(flock(fd, op), t0);
        } else if (strcmp(s, "open2") == 0) {
                fd2 = open(path, open_flags);
                puts(fd2 < 0 ? err_name(errno) : "ok");
        } else if (strcmp(s, "close2") == 0) {
                puts(close(fd2) < 0 ? err_name(errno) : "ok");
                fd2 = -1;
        } else if (strcmp(s, "close") == 0) {
                puts(close(fd) < 0 ? err_name(errno) : "ok");
                fd = -1;
        } else if (strncmp(s, "read:", 5) == 0) {
                char buf[256];
                int n = atoi(s + 5);
                ssize_t got;

                if (n <= 0 || n > (int)sizeof(buf))
                        return -1;
                got = pread(fd, buf, (size_t)n, 0);
                if (got < 0) {
                        puts(err_name(errno));
                } else {
                        for (ssize_t k = 0; k < got; k++)
                                putchar(buf[k] >= 0x20 && buf[k] < 0x7f ?
                                                buf[k] : '.');
                        putchar('\n');
                }
        } else if (strncmp(s, "write:", 6) == 0) {
                size_t n = strlen(s + 6);

                puts(pwrite(fd, s + 6, n, 0) == (ssize_t)n ? "ok"
                                                          : err_name(errno));
        } else if (strncmp(s, "exists:", 7) == 0) {
                struct stat st;

                puts(stat(s + 7, &st) == 0 ? "yes" : "no");
        } else if (strncmp(s, "unlink:", 7) == 0) {
                puts(unlink(s + 7) == 0 ? "ok" : err_name(errno));
        } else if (strncmp(s, "waitfile:", 9) == 0) {
                for (int i = 0; i < 2000 && access(s + 9, F_OK) < 0; i++)
                        usleep(10000);
                puts(access(s + 9, F_OK) == 0 ? "go" : "timeout");
        } else if (strncmp(s, "sleep:", 6) == 0) {
                usleep((useconds_t)atoi(s + 6) * 1000);
                puts("slept");
        } else if (strcmp(s, "hold") == 0) {
                puts("holding");
                for (;;)
                        pause();
        } else {
                return -1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct sigaction sa;
        int i = 1;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (i < argc && strcmp(argv[i], "-r") == 0) {
                open_flags = O_RDONLY;
                i++;
        } else if (i < argc && strcmp(argv[i], "-w") == 0) {
                open_flags = O_WRONLY;
                i++;
        }
        if (i >= argc)
                return usage();
        path = argv[i++];
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR2, &sa, NULL);
        fd = open(path, open_flags);
        if (fd < 0) {
                printf("open: %s\n", err_name(errno));
                return 1;
        }
        for (; i < argc; i++) {
                if (step(argv[i]) < 0) {
                        fprintf(stderr, "lockop: bad step '%s'\n", argv[i]);
                        return usage();
                }
        }
        return 0;
}
