/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * locks.h - file locks shared with every other session, every node on the
 * same storage and every process on the storage host: each lock a process
 * takes in the session is taken on the backing file itself, so the storage
 * decides who holds what (a kernel bind mount and NFS behave the same).
 *
 * POSIX locks (fcntl F_SETLK/F_SETLKW/F_GETLK) belong to the lock owner
 * the kernel names in the request (a process's file table, or the open file
 * of an OFD lock taken in the session).  Linux cannot take a classic POSIX
 * lock on behalf of another owner, so each (file, owner) gets a lock
 * context: a descriptor of its own on the backing file, opened on the
 * owner's first lock, on which the owner's locks are taken as
 * open-file-description locks (F_OFD_*).  OFD locks of different
 * descriptors conflict with each other, with the classic POSIX locks of
 * processes on the storage host and, through NFS, with those of other
 * nodes; within one descriptor they merge, split and convert as one
 * owner's POSIX locks do.  The kernel keeps no record of locks that a FUSE
 * server implements: a process's locks go when it closes any descriptor of
 * the file, which the daemon learns from the FLUSH that close sends
 * (locks_flush()), and when the open file they were taken through is
 * released (locks_release()).  A daemon that dies closes its descriptors,
 * which releases everything it held.
 *
 * flock() locks belong to an open file: each FUSE open has a backing
 * descriptor of its own, on which flock() is taken as is; its close at
 * RELEASE drops it.
 *
 * A request that must wait (F_SETLKW, blocking flock) does not hold a FUSE
 * worker: after a non-blocking attempt fails it is handed to a waiter
 * thread of its own that blocks on the storage and replies when the lock is
 * granted.  When the caller gets a signal the kernel interrupts the request
 * (FUSE_INTERRUPT); the waiter is woken by a signal of the daemon's own
 * (LOCKS_SIGNAL, installed without SA_RESTART) and replies EINTR, which the
 * kernel restarts for a handler with SA_RESTART.  A periodic timer signal
 * bounds the one race (a wake-up sent just before the waiter blocks) to
 * LOCKS_TICK_MS.  At most LOCKS_MAX_WAITERS waits run at once; more get
 * ENOLCK.
 *
 * Every function is thread-safe.
 */
#pragma once

#include <stdint.h>

#include "vfolderfs.h"

/* Waits running at once, past which a blocking request gets ENOLCK. */
#define LOCKS_MAX_WAITERS 4096
/* Longest time a waiter may miss its wake-up, milliseconds. */
#define LOCKS_TICK_MS 150

struct locks;

/*
 * The daemon's lock state (waiters) for session se and ctx (its inode
 * table; its storage watcher, read when a lock is granted); installs the
 * handler of LOCKS_SIGNAL.  Returns 0 or a negative errno.
 */
int locks_new(struct fuse_session *se, struct vfs_ctx *ctx,
              struct locks **ret_locks);

/*
 * Cancel every waiter (each replies ENOLCK, to a kernel that may be gone)
 * and join them.  Call once no request can start any more (the session
 * loop has returned), before the session and the inode table are freed.
 */
void locks_stop(struct locks *locks);

/* Free what locks_new() made (after locks_stop()); accepts NULL. */
void locks_free(struct locks *locks);

/*
 * The FUSE operations, with the arguments libfuse gives (ino is inode's
 * node id); each replies, a blocking setlk or flock possibly later, from
 * a waiter.  The caller has checked the folder's permission.  A lock
 * granted drops the kernel's cached data of the file first (see
 * drop_cache() in locks.c).
 */
void locks_getlk(struct locks *locks, fuse_req_t req, struct inode *inode,
                 struct fuse_file_info *fi, struct flock *lock);
void locks_setlk(struct locks *locks, fuse_req_t req, fuse_ino_t ino,
                 struct inode *inode, struct fuse_file_info *fi,
                 struct flock *lock, int sleep);
void locks_flock(struct locks *locks, fuse_req_t req, fuse_ino_t ino,
                 struct fuse_file_info *fi, int op);

/*
 * A descriptor of inode was closed by lock owner owner (FLUSH): release
 * every POSIX lock owner holds on it.  Costs one atomic load when the file
 * has no lock state.
 */
void locks_flush(struct inode *inode, uint64_t owner);

/*
 * The open file whose backing descriptor is fh was released (RELEASE,
 * before fh is closed): drop the lock contexts last used through it.
 * Every process that had it open has closed it, and each close sent FLUSH
 * for its own locks; what is left are the OFD locks a process in the
 * session took on that open file (their owner is the open file itself).
 * Once every open file of an inode is released it has no context left.
 * One atomic load when the file has no lock state.
 */
void locks_release(struct inode *inode, int fh);
