/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stats.h - the operation table the daemon mounts with, and optional
 * per-operation request counters for measuring how many round trips each
 * file system call costs.  stats_ops() wraps every operation of vfs_ops in
 * epoch_enter()/epoch_leave() (epoch.h); with count (the environment
 * variable VFOLDERFS_STATS names a file) each also first adds one to its
 * counter, and at exit stats_write() writes one line "OPERATION COUNT" per
 * operation that was called at least once.
 */
#pragma once

#include <stdbool.h>

#include "vfolderfs.h"

/* The operation table (wraps every operation vfs_ops has); counting or not. */
const struct fuse_lowlevel_ops *stats_ops(bool count);

/* Write the counters to path; returns 0 or a negative errno. */
int stats_write(const char *path);
