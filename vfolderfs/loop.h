/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * loop.h - the daemon's multi-threaded session loop.
 *
 * libfuse's loop keeps every idle worker blocked in read(2) on /dev/fuse,
 * and the kernel wakes them in turn (first in, first out): a caller that
 * sends one request after another (a tree walk, an untar, open+close)
 * meets a different, sleeping thread each time, often on the other CPU.
 *
 * Here one worker at a time holds the turn: it reads a request, answers
 * it and reads the next, polling for up to spin_us before it sleeps in
 * read(2), so back-to-back requests find the same thread awake and the
 * kernel wakes no one.  The others wait for the turn, not on the device.
 * The turn passes on at once when more requests are queued when one is
 * taken (parallel callers, read-ahead), and a deputy among the waiters,
 * awake every millisecond while the session is active, takes it from a
 * leader that has been answering one request for a millisecond (a cold
 * disk, a stalled storage host): a slow request holds up the others by
 * about a millisecond at most, while workers remain.
 */
#pragma once

#include "vfolderfs.h"

/* The workers' name (/proc/PID/task/TID/comm). */
#define LOOP_THREAD_NAME "vfolderfs-work"

/*
 * Run se with threads workers until it ends (unmounted, or a signal through
 * libfuse's handlers).  Returns 0 or a negative errno.
 */
int loop_run(struct fuse_session *se, unsigned int threads,
             unsigned int spin_us);
