/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crashwriter.c - the writer and checker of the crash and disk-full tests
 * (tests/hardening/crash.sh, diskfull.sh).
 *
 *   crashwriter records DIR LOG NFILES MAX_MS
 *       Append checksummed records (a 32-byte header: magic, sequence
 *       number, file index, payload length, CRC-32 of the payload; then a
 *       pseudo-random payload of 64..16384 bytes derived from the sequence
 *       number) to DIR/f0 .. DIR/f<NFILES-1> in turn; after each record is
 *       written and fsync(2)ed, append "FILE OFFSET SEQ LEN" to LOG (kept
 *       outside the mount).  Runs until a call fails (then prints the failing
 *       call and errno name on stderr, exit 3) or MAX_MS pass (exit 0).
 *       The number of records written is printed on stdout either way.
 *       CRASHWRITER_BREAK=log-early logs each record BEFORE writing it: a
 *       deliberately broken writer, to prove the test catches lost records.
 *
 *   crashwriter verify DIR LOG
 *       Check every record named in LOG in DIR/f<FILE>: header and CRC.
 *       Prints "verified N records, B bytes, F files"; every bad record on
 *       stderr; exit 1 when any is bad (or LOG cannot be read), else 0.
 *
 *   crashwriter fill FILE CHUNK
 *       Create FILE and write a known pattern in CHUNK-byte writes until a
 *       write fails; print "ERRNO BYTES" (errno name, bytes written in
 *       total), exit 0; exit 1 when no write ever failed (1 GiB cap).
 *
 *   crashwriter checkfill FILE BYTES
 *       The first BYTES bytes of FILE hold the fill pattern: print "ok", or
 *       the first differing offset and exit 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define MAGIC 0x52434656u /* "VFCR" */
#define HDR 32
#define MAX_PAYLOAD 16384
#define MAX_FILES 64

struct hdr {
        uint32_t magic;
        uint32_t file;
        uint64_t seq;
        uint32_t len;
        uint32_t crc;
        uint64_t pad;
};
_Static_assert(sizeof(struct hdr) == HDR, "header size");

static uint32_t crc_table[256];

static void crc_init(void)
{
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;

                for (int k = 0; k < 8; k++)
                        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
                crc_table[i] = c;
        }
}

static uint32_t crc32(const unsigned char *p, size_t n)
{
        uint32_t c = 0xffffffffu;

        while (n--)
                c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
        return c ^ 0xffffffffu;
}

static uint64_t xorshift(uint64_t *s)
{
        uint64_t x = *s;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *s = x;
}

/* The payload of record seq: its length and bytes. */
static uint32_t payload(uint64_t seq, unsigned char *buf)
{
        uint64_t s = seq * 0x9e3779b97f4a7c15ull + 1;
        uint32_t len = 64 + (uint32_t)(xorshift(&s) % (MAX_PAYLOAD - 64 + 1));

        for (uint32_t i = 0; i < len; i++)
                buf[i] = (unsigned char)(xorshift(&s) >> 24);
        return len;
}

static const char *ename(int e)
{
        const char *n = strerrorname_np(e);

        return n ? n : "E?";
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const void *buf, size_t n)
{
        const char *p = buf;

        while (n > 0) {
                ssize_t w = write(fd, p, n);

                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

static int do_records(const char *dir, const char *logpath, long nfiles,
                      long max_ms)
{
        static unsigned char rec[HDR + MAX_PAYLOAD];
        int fds[MAX_FILES], logfd, r = 0, ret = 0;
        const char *brk = getenv("CRASHWRITER_BREAK");
        bool log_early = brk && !strcmp(brk, "log-early");
        int64_t end = now_ms() + max_ms;
        uint64_t seq = 0;
        char path[4096], line[128];
        const char *what = "";

        if (nfiles < 1 || nfiles > MAX_FILES) {
                fprintf(stderr, "crashwriter: NFILES must be 1..%d\n", MAX_FILES);
                return 2;
        }
        logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (logfd < 0) {
                fprintf(stderr, "crashwriter: open %s: %s\n", logpath,
                        ename(errno));
                return 2;
        }
        for (long i = 0; i < nfiles; i++)
                fds[i] = -1;
        for (long i = 0; i < nfiles; i++) {
                snprintf(path, sizeof(path), "%s/f%ld", dir, i);
                fds[i] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                              0644);
                if (fds[i] < 0) {
                        r = -errno;
                        what = "open";
                        goto out;
                }
        }
        while (now_ms() < end) {
                long f = (long)(seq % (uint64_t)nfiles);
                struct hdr h = { .magic = MAGIC, .file = (uint32_t)f,
                                 .seq = seq };
                struct stat st;
                int n;

                h.len = payload(seq, rec + HDR);
                h.crc = crc32(rec + HDR, h.len);
                memcpy(rec, &h, HDR);
                if (fstat(fds[f], &st) < 0) {
                        r = -errno;
                        what = "fstat";
                        break;
                }
                n = snprintf(line, sizeof(line), "%ld %jd %" PRIu64 " %u\n", f,
                             (intmax_t)st.st_size, seq, h.len);
                if (log_early && write_all(logfd, line, (size_t)n) < 0) {
                        fprintf(stderr, "crashwriter: cannot write the log\n");
                        ret = 2;
                        goto out;
                }
                r = write_all(fds[f], rec, HDR + h.len);
                if (r < 0) {
                        what = "write";
                        break;
                }
                if (fsync(fds[f]) < 0) {
                        r = -errno;
                        what = "fsync";
                        break;
                }
                if (!log_early && write_all(logfd, line, (size_t)n) < 0) {
                        fprintf(stderr, "crashwriter: cannot write the log\n");
                        ret = 2;
                        goto out;
                }
                seq++;
        }
out:
        printf("%" PRIu64 "\n", seq);
        if (r < 0) {
                fprintf(stderr, "crashwriter: %s after %" PRIu64 " records: %s\n",
                        what, seq, ename(-r));
                ret = 3;
        }
        for (long i = 0; i < nfiles; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        close(logfd);
        return ret;
}

static int do_verify(const char *dir, const char *logpath)
{
        static unsigned char rec[HDR + MAX_PAYLOAD], want[MAX_PAYLOAD];
        int fds[MAX_FILES], bad = 0, nf = 0;
        uint64_t n = 0, bytes = 0;
        long f;
        intmax_t off;
        uint64_t seq;
        unsigned len;
        FILE *log;
        char path[4096];

        for (int i = 0; i < MAX_FILES; i++)
                fds[i] = -1;
        log = fopen(logpath, "re");
        if (!log) {
                fprintf(stderr, "crashwriter: open %s: %s\n", logpath,
                        ename(errno));
                return 1;
        }
        while (fscanf(log, "%ld %jd %" SCNu64 " %u", &f, &off, &seq, &len) == 4) {
                struct hdr h;
                ssize_t got;

                if (f < 0 || f >= MAX_FILES || len > MAX_PAYLOAD) {
                        fprintf(stderr, "bad log line for seq %" PRIu64 "\n", seq);
                        bad++;
                        break;
                }
                if (fds[f] < 0) {
                        snprintf(path, sizeof(path), "%s/f%ld", dir, f);
                        fds[f] = open(path, O_RDONLY | O_CLOEXEC);
                        if (fds[f] < 0) {
                                fprintf(stderr, "record %" PRIu64 ": open %s: %s\n",
                                        seq, path, ename(errno));
                                bad++;
                                continue;
                        }
                        nf++;
                }
                got = pread(fds[f], rec, HDR + len, (off_t)off);
                if (got != (ssize_t)(HDR + len)) {
                        fprintf(stderr, "record %" PRIu64 " in f%ld at %jd: "
                                "short read (%zd of %u bytes)\n", seq, f, off,
                                got, HDR + len);
                        bad++;
                        continue;
                }
                memcpy(&h, rec, HDR);
                if (h.magic != MAGIC || h.seq != seq || h.file != (uint32_t)f ||
                    h.len != len) {
                        fprintf(stderr, "record %" PRIu64 " in f%ld at %jd: "
                                "bad header\n", seq, f, off);
                        bad++;
                        continue;
                }
                if (crc32(rec + HDR, len) != h.crc ||
                    payload(seq, want) != len || memcmp(want, rec + HDR, len)) {
                        fprintf(stderr, "record %" PRIu64 " in f%ld at %jd: "
                                "bad payload\n", seq, f, off);
                        bad++;
                        continue;
                }
                n++;
                bytes += HDR + len;
        }
        fclose(log);
        for (int i = 0; i < MAX_FILES; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        printf("verified %" PRIu64 " records, %" PRIu64 " bytes, %d files\n",
               n, bytes, nf);
        if (bad)
                fprintf(stderr, "%d bad records\n", bad);
        return bad ? 1 : 0;
}

static unsigned char fill_byte(uint64_t o)
{
        return (unsigned char)((o >> 12) * 31 + o * 7 + (o >> 20));
}

static int do_fill(const char *file, long chunk)
{
        unsigned char *buf;
        uint64_t total = 0;
        int fd, e = 0;

        if (chunk < 1 || chunk > (1 << 24))
                return 2;
        buf = malloc((size_t)chunk);
        if (!buf)
                return 2;
        fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                printf("%s 0\n", ename(errno));
                free(buf);
                return 0;
        }
        while (total < (1ull << 30)) {
                ssize_t w;

                for (long i = 0; i < chunk; i++)
                        buf[i] = fill_byte(total + (uint64_t)i);
                w = write(fd, buf, (size_t)chunk);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        e = errno;
                        break;
                }
                total += (uint64_t)w;
        }
        close(fd);
        free(buf);
        if (!e) {
                printf("none %" PRIu64 "\n", total);
                return 1;
        }
        printf("%s %" PRIu64 "\n", ename(e), total);
        return 0;
}

static int do_checkfill(const char *file, long long bytes)
{
        unsigned char buf[65536];
        uint64_t o = 0;
        int fd = open(file, O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
                printf("open: %s\n", ename(errno));
                return 1;
        }
        while (o < (uint64_t)bytes) {
                size_t want = sizeof(buf);
                ssize_t got;

                if ((uint64_t)bytes - o < want)
                        want = (size_t)((uint64_t)bytes - o);
                got = read(fd, buf, want);
                if (got <= 0) {
                        printf("short: %" PRIu64 " of %lld bytes\n", o, bytes);
                        close(fd);
                        return 1;
                }
                for (ssize_t i = 0; i < got; i++)
                        if (buf[i] != fill_byte(o + (uint64_t)i)) {
                                printf("differs at %" PRIu64 "\n",
                                       o + (uint64_t)i);
                                close(fd);
                                return 1;
                        }
                o += (uint64_t)got;
        }
        close(fd);
        printf("ok\n");
        return 0;
}

int main(int argc, char **argv)
{
        crc_init();
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc == 6 && !strcmp(argv[1], "records"))
                return do_records(argv[2], argv[3], atol(argv[4]),
                                  atol(argv[5]));
        if (argc == 4 && !strcmp(argv[1], "verify"))
                return do_verify(argv[2], argv[3]);
        if (argc == 4 && !strcmp(argv[1], "fill"))
                return do_fill(argv[2], atol(argv[3]));
        if (argc == 4 && !strcmp(argv[1], "checkfill"))
                return do_checkfill(argv[2], atoll(argv[3]));
        fputs("usage: crashwriter records DIR LOG NFILES MAX_MS | verify DIR LOG |"
              " fill FILE CHUNK | checkfill FILE BYTES\n", stderr);
        return 2;
}
