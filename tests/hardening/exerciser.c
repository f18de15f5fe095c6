/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * exerciser.c - a random-operation data integrity exerciser in the spirit of
 * fsx: every operation on the files under test is mirrored into an
 * in-memory model, and the files are checked against the model all along.
 *
 *   harden-exerciser [-s SEED] [-n OPS] [-f FILES] [-m MAXSIZE] [-N EVERY]
 *                    [-t TAG] [-o DIR] [-B BUG] DIR
 *      Creates FILES files DIR/TAG-<i> (truncating them) and performs OPS
 *      operations, each on a randomly chosen file: write (random offsets and
 *      lengths, unaligned), ftruncate (shrink and extend), fallocate
 *      (PUNCH_HOLE, ZERO_RANGE, plain and KEEP_SIZE allocation: a mode the
 *      file system refuses with EOPNOTSUPP is counted and not tried again),
 *      write and read through a shared mmap (with msync), fsync/fdatasync,
 *      close and reopen, and pread.  After each operation the touched range
 *      and the size are read back and compared; every EVERY operations (and
 *      at the end) every file is compared in full.  Prints the seed first
 *      and, at the end, the count of each kind of operation.  On a mismatch
 *      prints where, what was expected and found, and the last operations,
 *      and exits 1.  With -o, writes each file's final expected content to
 *      DIR/TAG-<i> so that another session can compare its own view (cmp).
 *      -B 1 (drop the last byte of each write from the model) and -B 2
 *      (forget to zero the model on a shrinking truncate) give a
 *      deliberately wrong model: the run must then fail, which shows the
 *      checks work.
 *
 *   harden-exerciser stripe -w K -W N -c CHUNK -C COUNT -s SEED [-d] FILE
 *      Writer K of N: writes chunks j = K, K+N, K+2N... (< COUNT) of CHUNK
 *      bytes of FILE (which must exist), each one followed by fsync, close
 *      and reopen, or with -d through O_DIRECT (CHUNK a multiple of 4096).
 *      Chunk content is a function of (SEED, offset), never zero.
 *   harden-exerciser stripe-check -W N -c CHUNK -C COUNT -s SEED FILE
 *      Checks that FILE holds every chunk as the writers wrote it and has
 *      the size CHUNK * COUNT; prints the first difference and exits 1.
 *
 * Exit status: 0 ok, 1 mismatch or failed system call, 2 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 16
#define LOG_SIZE 24

enum op {
        OP_WRITE, OP_TRUNC_SHRINK, OP_TRUNC_EXTEND, OP_PUNCH, OP_ZERO,
        OP_FALLOC, OP_FALLOC_KEEP, OP_MAPWRITE, OP_MAPREAD, OP_FSYNC,
        OP_REOPEN, OP_READ, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
        "write", "truncate-shrink", "truncate-extend", "punch-hole",
        "zero-range", "fallocate", "fallocate-keep-size", "mmap-write",
        "mmap-read", "fsync", "close-reopen", "pread",
};

/* Relative weights of the operations. */
static const unsigned weights[OP_COUNT] = {
        30, 4, 4, 5, 4, 3, 3, 8, 6, 3, 4, 10,
};

struct file {
        char path[4096];
        int fd;
        unsigned char *model;
        size_t size;
};

struct logent {
        unsigned long n;
        int file;
        enum op op;
        size_t off, len, size_after;
        int result;
};

static uint64_t rng;
static size_t maxsize = 1 << 20;
static int bug;
static unsigned long op_done[OP_COUNT], op_unsupported[OP_COUNT];
static bool op_disabled[OP_COUNT];
static struct logent oplog[LOG_SIZE];
static unsigned long opnum;
static long pagesize;

static uint64_t next(void)
{
        /* xorshift64* */
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return rng * 2685821657736338717ULL;
}

static size_t below(size_t n)
{
        return n ? (size_t)(next() % n) : 0;
}

/* A length in [1, max], biased to small and odd sizes. */
static size_t some_len(size_t max)
{
        size_t cap;

        if (max == 0)
                return 0;
        switch (below(4)) {
        case 0: cap = 16; break;
        case 1: cap = 4096 + 1; break;
        case 2: cap = 65536; break;
        default: cap = 256 * 1024; break;
        }
        if (cap > max)
                cap = max;
        return 1 + below(cap);
}

static void fill_random(unsigned char *buf, size_t len)
{
        for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)(next() >> 56);
}

static void log_op(int file, enum op op, size_t off, size_t len, size_t size_after,
                   int result)
{
        struct logent *e = &oplog[opnum % LOG_SIZE];

        e->n = opnum;
        e->file = file;
        e->op = op;
        e->off = off;
        e->len = len;
        e->size_after = size_after;
        e->result = result;
}

static void print_log(void)
{
        unsigned long first = opnum >= LOG_SIZE ? opnum - LOG_SIZE + 1 : 0;

        fprintf(stderr, "last operations (n file op offset length size-after result):\n");
        for (unsigned long n = first; n <= opnum; n++) {
                const struct logent *e = &oplog[n % LOG_SIZE];
                if (e->n != n)
                        continue;
                fprintf(stderr, "  %6lu %d %-19s %8zu %7zu %8zu %s\n", e->n, e->file,
                        op_names[e->op], e->off, e->len, e->size_after,
                        e->result ? strerrorname_np(e->result) : "ok");
        }
}

/* What fail() releases before exiting (so that leak checkers stay quiet). */
static struct file *g_files;
static int g_opened;
static unsigned char *g_buf;

static void release(void)
{
        for (int i = 0; i < g_opened; i++) {
                if (g_files[i].fd >= 0)
                        close(g_files[i].fd);
                free(g_files[i].model);
        }
        g_opened = 0;
        free(g_buf);
        g_buf = NULL;
}

static void fail(uint64_t seed, const char *fmt, ...)
        __attribute__((format(printf, 2, 3), noreturn));

static void fail(uint64_t seed, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "exerciser: FAILED at operation %lu (seed %" PRIu64 "): ", opnum, seed);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        print_log();
        release();
        exit(1);
}

static uint64_t g_seed;

static void pread_all(struct file *f, unsigned char *buf, size_t off, size_t len)
{
        size_t done = 0;

        while (done < len) {
                ssize_t n = pread(f->fd, buf + done, len - done, (off_t)(off + done));
                if (n < 0)
                        fail(g_seed, "pread %s at %zu: %s", f->path, off + done, strerror(errno));
                if (n == 0) {
                        memset(buf + done, 0, len - done); /* past EOF: compared as short */
                        fail(g_seed, "%s: short read at %zu (wanted %zu bytes, got %zu)",
                             f->path, off, len, done);
                }
                done += (size_t)n;
        }
}

static void compare(struct file *f, const unsigned char *got, size_t off, size_t len,
                    const char *how)
{
        if (memcmp(got, f->model + off, len) == 0)
                return;
        for (size_t i = 0; i < len; i++)
                if (got[i] != f->model[off + i])
                        fail(g_seed, "%s: %s: byte %zu expected 0x%02x got 0x%02x "
                             "(checked range %zu+%zu, size %zu)", f->path, how, off + i,
                             f->model[off + i], got[i], off, len, f->size);
}

static void check_size(struct file *f)
{
        struct stat st;

        if (fstat(f->fd, &st) < 0)
                fail(g_seed, "fstat %s: %s", f->path, strerror(errno));
        if ((size_t)st.st_size != f->size)
                fail(g_seed, "%s: size expected %zu got %jd", f->path, f->size,
                     (intmax_t)st.st_size);
}

/* Compare [off, off+len) clipped to the size, and the size. */
static void check_range(struct file *f, size_t off, size_t len, unsigned char *buf)
{
        check_size(f);
        if (off >= f->size)
                return;
        if (len > f->size - off)
                len = f->size - off;
        pread_all(f, buf, off, len);
        compare(f, buf, off, len, "pread after the operation");
}

static void check_full(struct file *f, unsigned char *buf)
{
        check_size(f);
        pread_all(f, buf, 0, f->size);
        compare(f, buf, 0, f->size, "full compare");
}

static int open_file(struct file *f, int flags)
{
        f->fd = open(f->path, O_RDWR | O_CLOEXEC | flags, 0644);
        return f->fd < 0 ? -1 : 0;
}

static enum op pick_op(void)
{
        unsigned total = 0;

        for (int i = 0; i < OP_COUNT; i++)
                if (!op_disabled[i])
                        total += weights[i];
        unsigned r = (unsigned)below(total);
        for (int i = 0; i < OP_COUNT; i++) {
                if (op_disabled[i])
                        continue;
                if (r < weights[i])
                        return (enum op)i;
                r -= weights[i];
        }
        return OP_READ;
}

/* fallocate; EOPNOTSUPP disables the operation.  Returns 0 when done. */
static int try_fallocate(struct file *f, enum op op, int mode, size_t off, size_t len)
{
        if (fallocate(f->fd, mode, (off_t)off, (off_t)len) == 0)
                return 0;
        if (errno == EOPNOTSUPP) {
                op_unsupported[op]++;
                op_disabled[op] = true;
                return -1;
        }
        fail(g_seed, "fallocate(%s, mode %#x, %zu, %zu): %s", f->path, mode, off, len,
             strerror(errno));
}

static void do_op(struct file *files, int nfiles, unsigned char *buf)
{
        int fi = (int)below((size_t)nfiles);
        struct file *f = &files[fi];
        enum op op = pick_op();
        size_t off = 0, len = 0;
        int result = 0;

        switch (op) {
        case OP_WRITE: {
                off = below(maxsize);
                len = some_len(maxsize - off);
                fill_random(buf, len);
                size_t done = 0;
                while (done < len) {
                        ssize_t n = pwrite(f->fd, buf + done, len - done, (off_t)(off + done));
                        if (n <= 0)
                                fail(g_seed, "pwrite %s at %zu: %s", f->path, off + done,
                                     n < 0 ? strerror(errno) : "wrote nothing");
                        done += (size_t)n;
                }
                memcpy(f->model + off, buf, len - (bug == 1 && len > 1));
                if (off + len > f->size)
                        f->size = off + len;
                break;
        }
        case OP_TRUNC_SHRINK:
        case OP_TRUNC_EXTEND: {
                size_t ns = op == OP_TRUNC_SHRINK ? below(f->size + 1)
                                                  : f->size + below(maxsize - f->size + 1);
                if (ftruncate(f->fd, (off_t)ns) < 0)
                        fail(g_seed, "ftruncate %s to %zu: %s", f->path, ns, strerror(errno));
                if (ns < f->size && bug != 2)
                        memset(f->model + ns, 0, f->size - ns);
                off = ns < f->size ? ns : f->size;
                len = (ns < f->size ? f->size - ns : ns - f->size) + 1;
                f->size = ns;
                break;
        }
        case OP_PUNCH:
        case OP_ZERO: {
                if (f->size == 0)
                        break;
                off = below(f->size);
                len = some_len(f->size - off);
                int mode = op == OP_PUNCH ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                                          : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
                if (try_fallocate(f, op, mode, off, len) < 0) {
                        result = EOPNOTSUPP;
                        break;
                }
                memset(f->model + off, 0, len);
                break;
        }
        case OP_FALLOC:
        case OP_FALLOC_KEEP: {
                off = below(maxsize);
                len = some_len(maxsize - off);
                int mode = op == OP_FALLOC ? 0 : FALLOC_FL_KEEP_SIZE;
                if (try_fallocate(f, op, mode, off, len) < 0) {
                        result = EOPNOTSUPP;
                        break;
                }
                if (op == OP_FALLOC && off + len > f->size)
                        f->size = off + len;
                break;
        }
        case OP_MAPWRITE:
        case OP_MAPREAD: {
                if (f->size == 0)
                        break;
                off = below(f->size);
                len = some_len(f->size - off);
                size_t start = off - off % (size_t)pagesize;
                size_t maplen = off + len - start;
                int prot = op == OP_MAPWRITE ? PROT_READ | PROT_WRITE : PROT_READ;
                unsigned char *m = mmap(NULL, maplen, prot, MAP_SHARED, f->fd, (off_t)start);
                if (m == MAP_FAILED)
                        fail(g_seed, "mmap %s %zu+%zu: %s", f->path, start, maplen, strerror(errno));
                if (op == OP_MAPWRITE) {
                        fill_random(buf, len);
                        memcpy(m + (off - start), buf, len);
                        if (msync(m, maplen, MS_SYNC) < 0)
                                fail(g_seed, "msync %s: %s", f->path, strerror(errno));
                        memcpy(f->model + off, buf, len);
                } else {
                        compare(f, m + (off - start), off, len, "read through mmap");
                }
                munmap(m, maplen);
                break;
        }
        case OP_FSYNC:
                if ((below(2) ? fsync(f->fd) : fdatasync(f->fd)) < 0)
                        fail(g_seed, "fsync %s: %s", f->path, strerror(errno));
                break;
        case OP_REOPEN:
                if (close(f->fd) < 0)
                        fail(g_seed, "close %s: %s", f->path, strerror(errno));
                if (open_file(f, 0) < 0)
                        fail(g_seed, "reopen %s: %s", f->path, strerror(errno));
                break;
        case OP_READ:
                if (f->size == 0)
                        break;
                off = below(f->size);
                len = some_len(f->size - off);
                pread_all(f, buf, off, len);
                compare(f, buf, off, len, "pread");
                break;
        case OP_COUNT:
                break;
        }
        op_done[op]++;
        log_op(fi, op, off, len, f->size, result);
        /* The touched range, a little around it, and the size. */
        size_t lo = off > 64 ? off - 64 : 0;
        check_range(f, lo, len + 128, buf);
}

static int parse_u64(const char *s, uint64_t *ret)
{
        char *end;

        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (errno || end == s || *end)
                return -1;
        *ret = v;
        return 0;
}

static int usage(void)
{
        fputs("usage: harden-exerciser [-s SEED] [-n OPS] [-f FILES] [-m MAXSIZE] [-N EVERY]\n"
              "                        [-t TAG] [-o DIR] [-B 1|2] DIR\n"
              "       harden-exerciser stripe -w K -W N -c CHUNK -C COUNT -s SEED [-d] FILE\n"
              "       harden-exerciser stripe-check -W N -c CHUNK -C COUNT -s SEED FILE\n",
              stderr);
        return 2;
}

static int write_expected(const char *dir, const char *tag, int i, const struct file *f)
{
        char path[4096];
        FILE *out;

        snprintf(path, sizeof(path), "%s/%s-%d", dir, tag, i);
        out = fopen(path, "w");
        if (!out) {
                fprintf(stderr, "exerciser: %s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t n = fwrite(f->model, 1, f->size, out);
        if (fclose(out) != 0 || n != f->size) {
                fprintf(stderr, "exerciser: writing %s failed\n", path);
                return -1;
        }
        return 0;
}

static int exercise(int argc, char **argv)
{
        uint64_t seed = 0, nops = 1000, nfiles = 1, every = 50, v;
        const char *tag = "ex", *outdir = NULL;
        bool have_seed = false;
        int c;

        while ((c = getopt(argc, argv, "s:n:f:m:N:t:o:B:")) != -1) {
                switch (c) {
                case 's': if (parse_u64(optarg, &seed)) return usage(); have_seed = true; break;
                case 'n': if (parse_u64(optarg, &nops)) return usage(); break;
                case 'f': if (parse_u64(optarg, &nfiles) || !nfiles || nfiles > MAX_FILES) return usage(); break;
                case 'm': if (parse_u64(optarg, &v) || v < 4096 || v > (1u << 30)) return usage(); maxsize = v; break;
                case 'N': if (parse_u64(optarg, &every) || !every) return usage(); break;
                case 't': tag = optarg; break;
                case 'o': outdir = optarg; break;
                case 'B': if (parse_u64(optarg, &v) || v < 1 || v > 2) return usage(); bug = (int)v; break;
                default: return usage();
                }
        }
        if (optind != argc - 1)
                return usage();
        if (!have_seed) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
        }
        g_seed = seed;
        rng = seed * 0x9e3779b97f4a7c15ULL + 1;
        if (!rng)
                rng = 1;
        printf("seed %" PRIu64 " ops %" PRIu64 " files %" PRIu64 " maxsize %zu%s\n", seed,
               nops, nfiles, maxsize, bug ? " (deliberately wrong model)" : "");
        fflush(stdout);

        static struct file files[MAX_FILES];
        unsigned char *buf = malloc(maxsize + 256);
        int ret = 1;

        g_files = files;
        g_buf = buf;
        g_opened = 0;
        if (!buf) {
                fprintf(stderr, "exerciser: out of memory\n");
                return 1;
        }
        for (; g_opened < (int)nfiles; g_opened++) {
                struct file *f = &files[g_opened];
                snprintf(f->path, sizeof(f->path), "%s/%s-%d", argv[optind], tag, g_opened);
                f->size = 0;
                f->fd = -1;
                f->model = calloc(1, maxsize);
                if (!f->model) {
                        fprintf(stderr, "exerciser: out of memory\n");
                        goto out;
                }
                if (open_file(f, O_CREAT | O_TRUNC) < 0) {
                        fprintf(stderr, "exerciser: open %s: %s\n", f->path, strerror(errno));
                        free(f->model);
                        goto out;
                }
        }
        for (opnum = 0; opnum < nops; opnum++) {
                do_op(files, (int)nfiles, buf);
                if ((opnum + 1) % every == 0)
                        for (int i = 0; i < (int)nfiles; i++)
                                check_full(&files[i], buf);
        }
        for (int i = 0; i < (int)nfiles; i++) {
                check_full(&files[i], buf);
                if (fsync(files[i].fd) < 0)
                        fail(g_seed, "final fsync %s: %s", files[i].path, strerror(errno));
        }
        printf("ok: %" PRIu64 " operations on %" PRIu64 " files, seed %" PRIu64 "\n", nops, nfiles, seed);
        for (int i = 0; i < OP_COUNT; i++) {
                printf("  %-19s %lu", op_names[i], op_done[i]);
                if (op_unsupported[i])
                        printf(" (EOPNOTSUPP %lu, then skipped)", op_unsupported[i]);
                putchar('\n');
        }
        ret = 0;
        if (outdir)
                for (int i = 0; i < (int)nfiles; i++)
                        if (write_expected(outdir, tag, i, &files[i]) < 0)
                                ret = 1;
out:
        release();
        return ret;
}

/* ---- stripes: several writers, disjoint chunks of one file -------------- */

static unsigned char stripe_byte(uint64_t seed, uint64_t off)
{
        uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL ^ (off * 0xbf58476d1ce4e5b9ULL);
        x ^= x >> 31;
        x *= 0x94d049bb133111ebULL;
        x ^= x >> 29;
        return (unsigned char)(x | 1); /* never zero: a lost chunk shows */
}

static int stripe(int argc, char **argv, bool check)
{
        uint64_t k = 0, n = 0, chunk = 0, count = 0, seed = 0;
        bool direct = false, have_k = false;
        int c;

        while ((c = getopt(argc, argv, "w:W:c:C:s:d")) != -1) {
                switch (c) {
                case 'w': if (parse_u64(optarg, &k)) return usage(); have_k = true; break;
                case 'W': if (parse_u64(optarg, &n) || !n) return usage(); break;
                case 'c': if (parse_u64(optarg, &chunk) || !chunk || chunk > (64u << 20)) return usage(); break;
                case 'C': if (parse_u64(optarg, &count) || !count) return usage(); break;
                case 's': if (parse_u64(optarg, &seed)) return usage(); break;
                case 'd': direct = true; break;
                default: return usage();
                }
        }
        if (optind != argc - 1 || !n || !chunk || !count || (!check && (!have_k || k >= n)) ||
            (direct && chunk % 4096))
                return usage();
        const char *path = argv[optind];
        unsigned char *buf;
        if (posix_memalign((void **)&buf, 4096, chunk) != 0) {
                fprintf(stderr, "exerciser: out of memory\n");
                return 1;
        }
        int ret = 1, fd = -1;
        if (check) {
                fd = open(path, O_RDONLY | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        fprintf(stderr, "exerciser: %s: %s\n", path, strerror(errno));
                        goto out;
                }
                if ((uint64_t)st.st_size != chunk * count) {
                        fprintf(stderr, "exerciser: %s: size expected %" PRIu64 " got %jd\n",
                                path, chunk * count, (intmax_t)st.st_size);
                        goto out;
                }
                for (uint64_t j = 0; j < count; j++) {
                        ssize_t got = pread(fd, buf, chunk, (off_t)(j * chunk));
                        if (got != (ssize_t)chunk) {
                                fprintf(stderr, "exerciser: %s: short read of chunk %" PRIu64 "\n", path, j);
                                goto out;
                        }
                        for (uint64_t i = 0; i < chunk; i++) {
                                unsigned char want = stripe_byte(seed, j * chunk + i);
                                if (buf[i] != want) {
                                        fprintf(stderr, "exerciser: %s: chunk %" PRIu64 " (writer %" PRIu64
                                                ") byte %" PRIu64 " expected 0x%02x got 0x%02x\n",
                                                path, j, j % n, j * chunk + i, want, buf[i]);
                                        goto out;
                                }
                        }
                }
                printf("ok: %" PRIu64 " chunks of %" PRIu64 " bytes from %" PRIu64 " writers\n",
                       count, chunk, n);
                ret = 0;
                goto out;
        }
        unsigned long written = 0;
        int flags = O_WRONLY | O_CLOEXEC | (direct ? O_DIRECT : 0);
        fd = open(path, flags);
        if (fd < 0) {
                fprintf(stderr, "exerciser: open %s%s: %s\n", path, direct ? " O_DIRECT" : "",
                        strerror(errno));
                ret = direct && errno == EINVAL ? 3 : 1;
                goto out;
        }
        for (uint64_t j = k; j < count; j += n) {
                for (uint64_t i = 0; i < chunk; i++)
                        buf[i] = stripe_byte(seed, j * chunk + i);
                if (pwrite(fd, buf, chunk, (off_t)(j * chunk)) != (ssize_t)chunk) {
                        fprintf(stderr, "exerciser: pwrite %s chunk %" PRIu64 ": %s\n", path, j,
                                strerror(errno));
                        goto out;
                }
                if (!direct) {
                        if (fsync(fd) < 0 || close(fd) < 0) {
                                fd = -1;
                                fprintf(stderr, "exerciser: fsync/close %s: %s\n", path, strerror(errno));
                                goto out;
                        }
                        fd = open(path, flags);
                        if (fd < 0) {
                                fprintf(stderr, "exerciser: reopen %s: %s\n", path, strerror(errno));
                                goto out;
                        }
                }
                written++;
        }
        printf("ok: writer %" PRIu64 " of %" PRIu64 " wrote %lu chunks%s\n", k, n, written,
               direct ? " with O_DIRECT" : " with fsync and reopen");
        ret = 0;
out:
        if (fd >= 0)
                close(fd);
        free(buf);
        return ret;
}

int main(int argc, char **argv)
{
        pagesize = sysconf(_SC_PAGESIZE);
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc >= 2 && !strcmp(argv[1], "stripe"))
                return stripe(argc - 1, argv + 1, false);
        if (argc >= 2 && !strcmp(argv[1], "stripe-check"))
                return stripe(argc - 1, argv + 1, true);
        return exercise(argc, argv);
}
