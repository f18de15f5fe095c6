/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stats.h - optional per-operation request counters, for measuring how many
 * round trips each file system call costs.  When the environment variable
 * VFOLDERFS_STATS names a file, main.c mounts with stats_ops() instead of
 * vfs_ops: the same operations, each first adding one to its counter; at
 * exit stats_write() writes one line "OPERATION COUNT" per operation that
 * was called at least once.  Without the variable nothing is counted and
 * nothing costs anything.
 */
#pragma once

#include "vfolderfs.h"

/* The counting operation table (wraps every operation vfs_ops has). */
const struct fuse_lowlevel_ops *stats_ops(void);

/* Write the counters to path; returns 0 or a negative errno. */
int stats_write(const char *path);
