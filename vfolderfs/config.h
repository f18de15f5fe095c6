/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h - the daemon's configuration file, /etc/vfolderfs.conf by default
 * (vfolderfs.conf(5)): `key = value` lines giving defaults for the catalog
 * path, the scratch root and scratch_size, the storage uid/gid,
 * rw_can_delete and watch.  The
 * command line's -o options win over it; main.c applies the precedence.
 * An unknown key or a bad value is an error naming the file and line.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/vfolderfs.conf"
/* Longest accepted line, newline excluded. */
#define CONFIG_MAX_LINE 4096

struct vf_config {
        char *catalog;          /* NULL when not set */
        char *scratch;          /* NULL when not set */
        int64_t scratch_size;   /* -1 not set, 0 none, else bytes */
        bool has_storage_uid;
        unsigned int storage_uid;
        bool has_storage_gid;
        unsigned int storage_gid;
        int rw_can_delete;      /* -1 not set, 0 no, 1 yes */
        int watch;              /* -1 not set, 0 no, 1 yes */
};

/*
 * A size for scratch_size (option or key): "none" or "0" (no limit: 0),
 * else cat_size_parse().  Returns 0 or a negative errno.
 */
int config_parse_size(const char *s, int64_t *ret_bytes);

/* An empty configuration (nothing set). */
void config_init(struct vf_config *c);
/* Free what config_init/config_parse_* filled in; c is empty again. */
void config_free(struct vf_config *c);

/*
 * Parse the lines of f into c; name is used in messages ("NAME:LINE: ...").
 * Returns 0, or -EINVAL (syntax, unknown key, bad value), -ENOMEM, -EIO
 * with *reterr (if reterr) a malloc'd message to free.  On error c is left
 * empty.
 */
int config_parse_stream(FILE *f, const char *name, struct vf_config *c,
                        char **reterr);

/*
 * Parse the file at path.  A missing file is an error only when must_exist
 * (an explicitly named file); otherwise it leaves c empty and returns 0.
 */
int config_parse_file(const char *path, bool must_exist, struct vf_config *c,
                      char **reterr);
