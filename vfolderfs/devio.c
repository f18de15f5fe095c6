/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * devio.c - /dev/fuse I/O hooks that add to the INIT reply what libfuse
 * 3.14 cannot (see devio.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "devio.h"

/* Protocol 7.39 (Linux 6.6); the kernel headers here may be older. */
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

/* Set once by the INIT request, read by the INIT reply (same thread). */
static uint64_t init_unique;
static bool init_offered;
static bool dirops_offered;
static bool mmap_offered;
static bool killpriv_v2;
/* Set before the loop runs: the read-ahead to set once INIT is taken. */
static unsigned int readahead_kb;
static char readahead_path[64];

static ssize_t dev_read(int fd, void *buf, size_t len, void *userdata)
{
        const struct fuse_in_header *in = buf;
        ssize_t n;

        (void)userdata;
        n = read(fd, buf, len);
        if (n >= (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in,
                                                  flags2)) &&
            in->opcode == FUSE_INIT && init_unique == 0) {
                const struct fuse_init_in *arg = (const void *)(in + 1);

                init_unique = in->unique;
                init_offered = (arg->flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
                dirops_offered = (arg->flags & FUSE_PARALLEL_DIROPS) != 0;
                mmap_offered = (arg->flags & FUSE_INIT_EXT) &&
                               n >= (ssize_t)(sizeof(*in) +
                                              offsetof(struct fuse_init_in,
                                                       flags2) +
                                              sizeof(arg->flags2)) &&
                               (arg->flags2 &
                                (uint32_t)(FUSE_DIRECT_IO_ALLOW_MMAP >> 32));
        }
        return n;
}

/*
 * The kernel takes the smaller of its bdi's read_ahead_kb and the INIT
 * reply's max_readahead, and offers the bdi's (128 KiB by default): the
 * reply says more, and the bdi is raised once the reply is taken.  Best
 * effort: without root (or with a read-only /sys) the kernel's stays.
 */
static void write_readahead(void)
{
        char val[16];
        int fd, n;

        n = snprintf(val, sizeof(val), "%u\n", readahead_kb);
        fd = open(readahead_path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        if (write(fd, val, (size_t)n) != n)
                fuse_log(FUSE_LOG_DEBUG, "vfolderfs: cannot set %s: %s\n",
                         readahead_path, strerror(errno));
        close(fd);
}

static ssize_t dev_writev(int fd, struct iovec *iov, int count,
                          void *userdata)
{
        (void)userdata;
        if (init_unique && count == 2 &&
            iov[0].iov_len == sizeof(struct fuse_out_header) &&
            iov[1].iov_len >= offsetof(struct fuse_init_out, max_background)) {
                const struct fuse_out_header *out = iov[0].iov_base;

                if (out->unique == init_unique && out->error == 0) {
                        struct fuse_init_out *arg = iov[1].iov_base;
                        ssize_t n;

                        if (init_offered) {
                                arg->flags |= FUSE_HANDLE_KILLPRIV_V2;
                                killpriv_v2 = true;
                        }
                        if (dirops_offered)
                                arg->flags |= FUSE_PARALLEL_DIROPS;
                        if (mmap_offered &&
                            iov[1].iov_len >= offsetof(struct fuse_init_out,
                                                       flags2) +
                                                      sizeof(arg->flags2)) {
                                arg->flags |= FUSE_INIT_EXT;
                                arg->flags2 |= (uint32_t)
                                        (FUSE_DIRECT_IO_ALLOW_MMAP >> 32);
                        }
                        init_unique = 0;
                        if (readahead_kb && arg->max_readahead <
                                            readahead_kb * 1024U)
                                arg->max_readahead = readahead_kb * 1024U;
                        n = writev(fd, iov, count);
                        /* The kernel has applied the reply: now raise. */
                        if (n >= 0 && readahead_kb)
                                write_readahead();
                        return n;
                }
        }
        return writev(fd, iov, count);
}

static ssize_t dev_splice_receive(int fdin, off_t *offin, int fdout,
                                  off_t *offout, size_t len,
                                  unsigned int flags, void *userdata)
{
        (void)userdata;
        return splice(fdin, offin, fdout, offout, len, flags);
}

static ssize_t dev_splice_send(int fdin, off_t *offin, int fdout,
                               off_t *offout, size_t len, unsigned int flags,
                               void *userdata)
{
        (void)userdata;
        return splice(fdin, offin, fdout, offout, len, flags);
}

int devio_install(struct fuse_session *se, const char *mountpoint,
                  unsigned int ra_kb)
{
        static const struct fuse_custom_io io = {
                .read = dev_read,
                .writev = dev_writev,
                .splice_receive = dev_splice_receive,
                .splice_send = dev_splice_send,
        };

        struct statx stx;

        /*
         * The mount's own bdi (it goes with the unmount), named by the
         * device number: a statx that may not ask the daemon (no loop
         * runs yet).
         */
        if (ra_kb && statx(AT_FDCWD, mountpoint, AT_STATX_DONT_SYNC, 0,
                           &stx) == 0) {
                snprintf(readahead_path, sizeof(readahead_path),
                         "/sys/class/bdi/%u:%u/read_ahead_kb",
                         stx.stx_dev_major, stx.stx_dev_minor);
                readahead_kb = ra_kb;
        }
        return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

bool devio_killpriv_v2(void)
{
        return killpriv_v2;
}
