// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * treeutil.c - two small helpers of the benchmark (tests/bench/bench.sh and
 * tests/bench/scale.sh) that shell tools do badly or slowly.
 *
 *   treeutil read
 *       Read NUL-separated paths from standard input (find -print0) and read
 *       every one of them to its end with read(2) into a 128 KiB buffer, so
 *       that every byte really is fetched (tar to /dev/null skips reading,
 *       cat may take shortcuts).  Prints "FILES BYTES".
 *
 *   treeutil mkfiles DIR FROM TO PER_DIR
 *       Create the empty files numbered FROM .. TO-1 under DIR: with PER_DIR
 *       0 all in DIR itself as e0000000, e0000001, ...; otherwise PER_DIR
 *       files per subdirectory, DIR/d00000/f0000, ... (subdirectories are
 *       created as needed).  Existing files are kept, so a tree can be grown
 *       step by step.  Used to make 100,000-entry directories and
 *       1,000,000-file trees on the backing file system quickly.
 *
 * Exit status 0, or 1 with a message on the first failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_all(void)
{
        static char buf[128 * 1024];
        char *path = NULL;
        size_t cap = 0;
        ssize_t len, n;
        unsigned long long files = 0, bytes = 0;
        int fd, rc = 1;

        while ((len = getdelim(&path, &cap, '\0', stdin)) > 0) {
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0) {
                        fprintf(stderr, "treeutil: cannot open '%s': %s\n", path, strerror(errno));
                        goto out;
                }
                while ((n = read(fd, buf, sizeof(buf))) > 0)
                        bytes += (unsigned long long)n;
                if (n < 0) {
                        fprintf(stderr, "treeutil: cannot read '%s': %s\n", path, strerror(errno));
                        close(fd);
                        goto out;
                }
                close(fd);
                files++;
        }
        printf("%llu %llu\n", files, bytes);
        rc = 0;
out:
        free(path);
        return rc;
}

static int make_files(const char *dir, long from, long to, long per_dir)
{
        char path[4096];
        long i;
        int fd;

        for (i = from; i < to; i++) {
                if (per_dir == 0) {
                        snprintf(path, sizeof(path), "%s/e%07ld", dir, i);
                } else {
                        if (i % per_dir == 0 || i == from) {
                                snprintf(path, sizeof(path), "%s/d%05ld", dir, i / per_dir);
                                if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                                        fprintf(stderr, "treeutil: cannot create '%s': %s\n",
                                                path, strerror(errno));
                                        return 1;
                                }
                        }
                        snprintf(path, sizeof(path), "%s/d%05ld/f%04ld", dir, i / per_dir,
                                 i % per_dir);
                }
                fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0) {
                        fprintf(stderr, "treeutil: cannot create '%s': %s\n", path,
                                strerror(errno));
                        return 1;
                }
                close(fd);
        }
        return 0;
}

int main(int argc, char **argv)
{
        char *end;
        long v[3];
        int i;

        if (argc == 2 && strcmp(argv[1], "read") == 0)
                return read_all();
        if (argc == 6 && strcmp(argv[1], "mkfiles") == 0) {
                for (i = 0; i < 3; i++) {
                        errno = 0;
                        v[i] = strtol(argv[3 + i], &end, 10);
                        if (errno || *end || v[i] < 0)
                                goto usage;
                }
                if (v[0] > v[1])
                        goto usage;
                return make_files(argv[2], v[0], v[1], v[2]);
        }
usage:
        fprintf(stderr, "usage: treeutil read < NUL-SEPARATED-PATHS\n"
                        "       treeutil mkfiles DIR FROM TO PER_DIR\n");
        return 2;
}
