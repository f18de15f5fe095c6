/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * devio.h - the daemon's own reads and writes of /dev/fuse (libfuse's
 * custom I/O hooks), which exist for what libfuse 3.14 cannot express in
 * the INIT reply: to accept the kernel's FUSE_HANDLE_KILLPRIV_V2,
 * FUSE_PARALLEL_DIROPS and FUSE_DIRECT_IO_ALLOW_MMAP offers, and to raise
 * the mount's read-ahead window past the kernel's offer.
 *
 * Without HANDLE_KILLPRIV_V2 the kernel asks the daemon for "security.capability" before
 * every write(2), truncate and chown (a GETXATTR round trip each), and for
 * the attributes before every chown.  With it the superblock gets SB_NOSEC
 * and the kernel asks once per inode until its attributes change, leaving
 * the removal of setuid/setgid bits and file capabilities to the server:
 * the backing file system removes file capabilities itself when the daemon
 * writes, and ops.c clears setuid/setgid bits (which the daemon never
 * stores anyway) when a file is opened for writing, truncated or chowned.
 *
 * Everything else passes through unchanged: requests are read with read(2),
 * replies written with writev(2), splice goes through splice(2).  The INIT
 * reply is recognised by the unique id of the INIT request (always read
 * with read(2): libfuse splices only after INIT), and each flag is added
 * only when the kernel offered it.
 *
 * FUSE_DIRECT_IO_ALLOW_MMAP lets a file opened for direct I/O be mapped
 * shared, as any other: the daemon answers O_APPEND opens with direct I/O
 * (ops.c set_open_flags()), and without it the kernel refuses MAP_SHARED
 * on them with ENODEV (a file opened "a+" and mapped to be read, say).
 * The kernel then keeps the mapping coherent with the direct writes.
 *
 * Without PARALLEL_DIROPS the kernel sends one LOOKUP or READDIR at a time
 * per directory, holding a lock that no signal interrupts: a lookup of one
 * folder in the session root that waits on a stalled storage host then
 * stalls every other name in the root, and parallel walks of a directory
 * queue up.  The daemon needs no such lock: its inode table and each
 * directory's listing state have their own.
 */
#pragma once

#include "vfolderfs.h"

/*
 * Read-ahead: the kernel sends a sequential read to the daemon in requests
 * of at most its read-ahead window (the bdi's read_ahead_kb, 128 KiB by
 * default), one round trip each.  A larger window lets them grow to
 * max_read (1 MiB): a cold 1 GiB read measured 0.60 s with 128 KiB, 0.33 s
 * with 1 MiB and 0.29-0.30 s with 2-4 MiB windows (native 0.20 s).
 *
 * Install the hooks on se, which must be mounted at mountpoint and not yet
 * running; ra_kb (KiB; 0 leaves the kernel's) is set once INIT is taken.
 * Returns 0 or a negative errno.
 */
int devio_install(struct fuse_session *se, const char *mountpoint,
                  unsigned int ra_kb);

/* Whether the kernel accepted HANDLE_KILLPRIV_V2 (known after INIT). */
bool devio_killpriv_v2(void);
