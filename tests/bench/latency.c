// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * latency.c - the benchmark's per-operation latency probe (tests/bench/bench.sh).
 *
 *   latency [-n ITERATIONS] LISTFILE
 *
 * LISTFILE names the files to use, one path per line (regular files of the
 * untarred tree).  For each of three operations the probe runs ITERATIONS
 * (default 20000) timed calls, cycling through the files, and prints one
 * line per operation:
 *
 *   stat  MEDIAN_US P99_US
 *   open  MEDIAN_US P99_US     (open O_RDONLY + close)
 *   pread MEDIAN_US P99_US     (pread of 4 KiB at offset 0 of an open file)
 *
 * Each call is timed on its own with CLOCK_MONOTONIC, so the figures are
 * the latency one caller sees (no batching).  Any failing call stops the
 * probe with exit status 1 and a message naming the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_OPEN 256 /* files held open for the pread probe */

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

/* Sort SAMPLES (N of them, in ns) and print NAME, the median and the 99th
 * percentile in microseconds. */
static void print_stats(const char *name, uint64_t *samples, size_t n)
{
        size_t p99 = (n * 99) / 100;

        qsort(samples, n, sizeof(*samples), cmp_u64);
        if (p99 >= n)
                p99 = n - 1;
        printf("%-5s %.3f %.3f\n", name, (double)samples[n / 2] / 1000.0,
               (double)samples[p99] / 1000.0);
}

/* Read LISTFILE into an array of paths; returns the count, or -1. */
static long read_list(const char *listfile, char ***ret_paths)
{
        FILE *f;
        char *line = NULL, **paths = NULL, **grown;
        size_t cap = 0, linecap = 0;
        long n = 0;
        ssize_t len;

        f = fopen(listfile, "re");
        if (!f) {
                fprintf(stderr, "latency: cannot open '%s': %s\n", listfile, strerror(errno));
                return -1;
        }
        while ((len = getline(&line, &linecap, f)) > 0) {
                if (line[len - 1] == '\n')
                        line[--len] = '\0';
                if (len == 0)
                        continue;
                if ((size_t)n == cap) {
                        cap = cap ? cap * 2 : 1024;
                        grown = realloc(paths, cap * sizeof(*paths));
                        if (!grown)
                                goto fail;
                        paths = grown;
                }
                paths[n] = strdup(line);
                if (!paths[n])
                        goto fail;
                n++;
        }
        free(line);
        fclose(f);
        *ret_paths = paths;
        return n;
fail:
        fprintf(stderr, "latency: out of memory\n");
        while (n > 0)
                free(paths[--n]);
        free(paths);
        free(line);
        fclose(f);
        return -1;
}

int main(int argc, char **argv)
{
        char **paths = NULL, buf[4096];
        uint64_t *samples = NULL, t;
        long iterations = 20000, nfiles, nopen = 0, i;
        int fds[MAX_OPEN], opt, fd, rc = 1;
        struct stat st;

        while ((opt = getopt(argc, argv, "n:")) != -1) {
                switch (opt) {
                case 'n':
                        iterations = strtol(optarg, NULL, 10);
                        break;
                default:
                        goto usage;
                }
        }
        if (optind != argc - 1 || iterations < 1)
                goto usage;

        nfiles = read_list(argv[optind], &paths);
        if (nfiles < 0)
                return 1;
        if (nfiles == 0) {
                fprintf(stderr, "latency: no file in '%s'\n", argv[optind]);
                goto out;
        }
        samples = malloc((size_t)iterations * sizeof(*samples));
        if (!samples) {
                fprintf(stderr, "latency: out of memory\n");
                goto out;
        }

        for (i = 0; i < iterations; i++) {
                const char *p = paths[i % nfiles];

                t = now_ns();
                if (stat(p, &st) < 0) {
                        fprintf(stderr, "latency: cannot stat '%s': %s\n", p, strerror(errno));
                        goto out;
                }
                samples[i] = now_ns() - t;
        }
        print_stats("stat", samples, (size_t)iterations);

        for (i = 0; i < iterations; i++) {
                const char *p = paths[i % nfiles];

                t = now_ns();
                fd = open(p, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        fprintf(stderr, "latency: cannot open '%s': %s\n", p, strerror(errno));
                        goto out;
                }
                close(fd);
                samples[i] = now_ns() - t;
        }
        print_stats("open", samples, (size_t)iterations);

        for (nopen = 0; nopen < nfiles && nopen < MAX_OPEN; nopen++) {
                fds[nopen] = open(paths[nopen], O_RDONLY | O_CLOEXEC);
                if (fds[nopen] < 0) {
                        fprintf(stderr, "latency: cannot open '%s': %s\n", paths[nopen],
                                strerror(errno));
                        goto out;
                }
        }
        for (i = 0; i < iterations; i++) {
                t = now_ns();
                if (pread(fds[i % nopen], buf, sizeof(buf), 0) < 0) {
                        fprintf(stderr, "latency: cannot read '%s': %s\n", paths[i % nopen],
                                strerror(errno));
                        goto out;
                }
                samples[i] = now_ns() - t;
        }
        print_stats("pread", samples, (size_t)iterations);
        rc = 0;
out:
        while (nopen > 0)
                close(fds[--nopen]);
        free(samples);
        for (i = 0; i < nfiles; i++)
                free(paths[i]);
        free(paths);
        return rc;

usage:
        fprintf(stderr, "usage: latency [-n ITERATIONS] LISTFILE\n");
        return 2;
}
