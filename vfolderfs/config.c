/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c - parser of the daemon's configuration file (see config.h and
 * vfolderfs.conf(5)).  Lines are `key = value`, `#` starts a comment line,
 * blank lines are skipped, blanks around key and value are ignored.  Every
 * problem is reported with the file name and line number; nothing partly
 * parsed is kept on error.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"

void config_init(struct vf_config *c)
{
        memset(c, 0, sizeof(*c));
        c->rw_can_delete = -1;
        c->scratch_size = -1;
        c->watch = -1;
}

void config_free(struct vf_config *c)
{
        free(c->catalog);
        free(c->scratch);
        config_init(c);
}

static int set_err(char **reterr, int r, const char *fmt, ...)
{
        va_list ap;

        if (reterr) {
                va_start(ap, fmt);
                if (vasprintf(reterr, fmt, ap) < 0)
                        *reterr = NULL;
                va_end(ap);
        }
        return r;
}

static char *trim(char *s)
{
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

/* A decimal id below (unsigned int)-1, which means "not set" elsewhere. */
static bool parse_id(const char *s, unsigned int *out)
{
        unsigned long v;
        char *end;

        if (!isdigit((unsigned char)s[0]))
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end != '\0' || v >= UINT_MAX)
                return false;
        *out = (unsigned int)v;
        return true;
}

static bool parse_bool(const char *s, int *out)
{
        if (!strcmp(s, "yes") || !strcmp(s, "true")) {
                *out = 1;
                return true;
        }
        if (!strcmp(s, "no") || !strcmp(s, "false")) {
                *out = 0;
                return true;
        }
        return false;
}

static int set_path(char **slot, const char *value)
{
        char *dup = strdup(value);

        if (!dup)
                return -ENOMEM;
        free(*slot);
        *slot = dup;
        return 0;
}

int config_parse_size(const char *s, int64_t *ret_bytes)
{
        if (!strcmp(s, "none") || !strcmp(s, "0")) {
                *ret_bytes = 0;
                return 0;
        }
        return cat_size_parse(s, ret_bytes);
}

/* One line without its newline; ln for messages. */
static int parse_line(char *line, const char *name, unsigned long ln,
                      struct vf_config *c, char **reterr)
{
        char *s = trim(line), *eq, *key, *value;

        if (*s == '\0' || *s == '#')
                return 0;
        eq = strchr(s, '=');
        if (!eq)
                return set_err(reterr, -EINVAL,
                               "%s:%lu: expected 'key = value'", name, ln);
        *eq = '\0';
        key = trim(s);
        value = trim(eq + 1);
        if (*key == '\0')
                return set_err(reterr, -EINVAL, "%s:%lu: missing key",
                               name, ln);
        if (!strcmp(key, "catalog") || !strcmp(key, "scratch")) {
                if (*value == '\0')
                        return set_err(reterr, -EINVAL,
                                       "%s:%lu: empty value for '%s'",
                                       name, ln, key);
                if (set_path(key[0] == 'c' ? &c->catalog : &c->scratch,
                             value) < 0)
                        return set_err(reterr, -ENOMEM, "%s",
                                       strerror(ENOMEM));
                return 0;
        }
        if (!strcmp(key, "scratch_size")) {
                if (config_parse_size(value, &c->scratch_size) < 0)
                        return set_err(reterr, -EINVAL,
                                       "%s:%lu: bad value '%s' for '%s' "
                                       "(expected a size such as 10G, or "
                                       "none)", name, ln, value, key);
                return 0;
        }
        if (!strcmp(key, "storage_uid") || !strcmp(key, "storage_gid")) {
                bool uid = !strcmp(key, "storage_uid");

                if (!parse_id(value, uid ? &c->storage_uid : &c->storage_gid))
                        return set_err(reterr, -EINVAL,
                                       "%s:%lu: bad value '%s' for '%s' "
                                       "(expected a number below %u)",
                                       name, ln, value, key, UINT_MAX);
                if (uid)
                        c->has_storage_uid = true;
                else
                        c->has_storage_gid = true;
                return 0;
        }
        if (!strcmp(key, "rw_can_delete") || !strcmp(key, "watch")) {
                if (!parse_bool(value, !strcmp(key, "watch")
                                               ? &c->watch
                                               : &c->rw_can_delete))
                        return set_err(reterr, -EINVAL,
                                       "%s:%lu: bad value '%s' for '%s' "
                                       "(expected yes, no, true or false)",
                                       name, ln, value, key);
                return 0;
        }
        return set_err(reterr, -EINVAL, "%s:%lu: unknown key '%s'", name, ln,
                       key);
}

int config_parse_stream(FILE *f, const char *name, struct vf_config *c,
                        char **reterr)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        unsigned long ln = 0;
        int r = 0;

        config_init(c);
        errno = 0;
        while ((n = getline(&line, &cap, f)) >= 0) {
                ln++;
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = '\0';
                if ((size_t)n > CONFIG_MAX_LINE) {
                        r = set_err(reterr, -EINVAL,
                                    "%s:%lu: line longer than %d characters",
                                    name, ln, CONFIG_MAX_LINE);
                        break;
                }
                if (strlen(line) != (size_t)n) {
                        r = set_err(reterr, -EINVAL,
                                    "%s:%lu: NUL byte in line", name, ln);
                        break;
                }
                r = parse_line(line, name, ln, c, reterr);
                if (r < 0)
                        break;
                errno = 0;
        }
        if (r == 0 && ferror(f)) {
                int e = errno ? errno : EIO;

                r = set_err(reterr, -e, "%s: %s", name, strerror(e));
        }
        free(line);
        if (r < 0)
                config_free(c);
        return r;
}

int config_parse_file(const char *path, bool must_exist, struct vf_config *c,
                      char **reterr)
{
        FILE *f;
        int r;

        config_init(c);
        f = fopen(path, "re");
        if (!f) {
                int e = errno;

                if (e == ENOENT && !must_exist)
                        return 0;
                return set_err(reterr, -e, "cannot read configuration "
                               "file '%s': %s", path, strerror(e));
        }
        r = config_parse_stream(f, path, c, reterr);
        fclose(f);
        return r;
}
