/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rules.c - the rules that the daemon and the admin tool share and that need
 * no catalog: folder and entity names, sizes, the backing layout of a folder
 * on its storage host, mount targets and their aliases, and the parsing of
 * a session's mount requests.  Every function here is pure and thread-safe.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog-private.h"

static bool is_name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9');
}

static bool is_lower_alnum(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

static const char *const session_names[] = {
        ".ssh", ".jupyter", ".terminfo", ".tmux.conf",
};

/* Names the session itself uses in its home: the list plus rc files. */
static bool name_is_reserved(const char *s, size_t n)
{
        static const char rc[] = "rc", profile[] = "_profile";

        for (size_t i = 0; i < sizeof(session_names) / sizeof(*session_names);
             i++)
                if (strlen(session_names[i]) == n &&
                    memcmp(session_names[i], s, n) == 0)
                        return true;
        if (n < 1 || s[0] != '.')
                return false;
        /* ^\.[a-z0-9]+rc$ */
        if (n > 3 && memcmp(s + n - 2, rc, 2) == 0 &&
            is_lower_alnum(s + 1, n - 3))
                return true;
        /* ^\.[a-z0-9]+_profile$ */
        if (n > 9 && memcmp(s + n - 8, profile, 8) == 0 &&
            is_lower_alnum(s + 1, n - 9))
                return true;
        return false;
}

static int check_charset(const char *name, size_t len, char **reterr)
{
        for (size_t i = 0; i < len; i++)
                if (!is_name_char(name[i]))
                        return cat_err(reterr, -EINVAL,
                                       "name may contain only letters, digits,"
                                       " '.', '_' and '-'");
        return 0;
}

int cat_name_check(const char *name, char **reterr)
{
        size_t len;
        int r;

        if (!name || !*name)
                return cat_err(reterr, -EINVAL, "name is empty");
        len = strlen(name);
        if (len > CAT_NAME_MAX)
                return cat_err(reterr, -EINVAL, "name is longer than %d "
                               "characters", CAT_NAME_MAX);
        r = check_charset(name, len, reterr);
        if (r < 0)
                return r;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return cat_err(reterr, -EINVAL, "name may not be '.' or '..'");
        if (name[0] == '.' && name[1] == '.')
                return cat_err(reterr, -EINVAL, "name may start with a single "
                               "'.' only");
        if (!is_alnum(name[0]) && name[0] != '.')
                return cat_err(reterr, -EINVAL, "name must start with a "
                               "letter, a digit or '.'");
        if (name_is_reserved(name, len))
                return cat_err(reterr, -EINVAL, "name is reserved for the "
                               "session");
        return 0;
}

bool cat_name_is_automount(const char *name)
{
        return name && name[0] == '.' && name[1] && name[1] != '.';
}

int cat_entity_name_check(const char *name, char **reterr)
{
        size_t len;
        int r;

        if (!name || !*name)
                return cat_err(reterr, -EINVAL, "name is empty");
        len = strlen(name);
        if (len > CAT_NAME_MAX)
                return cat_err(reterr, -EINVAL, "name is longer than %d "
                               "characters", CAT_NAME_MAX);
        r = check_charset(name, len, reterr);
        if (r < 0)
                return r;
        if (!is_alnum(name[0]))
                return cat_err(reterr, -EINVAL, "name must start with a "
                               "letter or a digit");
        return 0;
}

int cat_size_parse(const char *s, int64_t *ret_bytes)
{
        unsigned __int128 ip = 0, frac = 0, scale = 1, mult = 1, v;
        const char *p = s;
        bool digits = false, fraction = false;

        if (!s)
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                ip = ip * 10 + (unsigned)(*p - '0');
                if (ip > (unsigned __int128)INT64_MAX)
                        return -ERANGE;
                digits = true;
        }
        if (*p == '.') {
                p++;
                fraction = true;
                for (; *p >= '0' && *p <= '9'; p++) {
                        /* Digits past 18 cannot change a whole byte count. */
                        if (scale < 1000000000000000000ULL) {
                                frac = frac * 10 + (unsigned)(*p - '0');
                                scale *= 10;
                        }
                        digits = true;
                }
        }
        if (!digits)
                return -EINVAL;
        if (*p) {
                static const char units[] = "KMGTP";
                const char *u = strchr(units, *p >= 'a' ? *p - 32 : *p);

                if (u && *p) {
                        for (long i = 0; i <= u - units; i++)
                                mult *= 1024;
                        p++;
                        if (strcasecmp(p, "ib") == 0)
                                p += 2;
                        else if (strcasecmp(p, "b") == 0)
                                p += 1;
                } else if (strcasecmp(p, "b") == 0) {
                        p += 1;
                }
                if (*p)
                        return -EINVAL;
        }
        if (fraction && mult == 1 && frac != 0)
                return -EINVAL; /* a fraction of a byte */
        v = ip * mult + frac * mult / scale;
        if (v > (unsigned __int128)INT64_MAX)
                return -ERANGE;
        if (v == 0)
                return -EINVAL;
        *ret_bytes = (int64_t)v;
        return 0;
}

int cat_backing_path(const char *host_root, enum cat_owner_type owner_type,
                     const char *owner_id, const char *folder_id,
                     char **ret_path)
{
        char hex[33];
        size_t j = 0, rootlen;
        char *path;

        if (!host_root || host_root[0] != '/' || !cat_uuid_valid(owner_id) ||
            !cat_uuid_valid(folder_id) ||
            (owner_type != CAT_OWNER_USER && owner_type != CAT_OWNER_PROJECT))
                return -EINVAL;
        for (const char *p = folder_id; *p; p++)
                if (*p != '-')
                        hex[j++] = (*p >= 'A' && *p <= 'F') ? *p + 32 : *p;
        hex[j] = 0;
        rootlen = strlen(host_root);
        while (rootlen > 1 && host_root[rootlen - 1] == '/')
                rootlen--;
        if (asprintf(&path, "%.*s/%s-%s/%.2s/%.2s/%s",
                     (int)(rootlen == 1 ? 0 : rootlen), host_root,
                     owner_type == CAT_OWNER_USER ? "user" : "project",
                     owner_id, hex, hex + 2, hex + 4) < 0)
                return -ENOMEM;
        *ret_path = path;
        return 0;
}

static const char *const reserved_targets[] = {
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64",
        "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv",
        "/sys", "/tmp", "/usr", "/var",
};

/* Join the components of path onto out (which ends without '/'). */
static int normalise_onto(char *out, size_t outsz, const char *path,
                          const char *alias, char **reterr)
{
        size_t len = strlen(out);
        const char *p = path;

        while (*p) {
                const char *e;
                size_t n;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                e = strchrnul(p, '/');
                n = (size_t)(e - p);
                if (n == 1 && p[0] == '.') {
                        p = e;
                        continue;
                }
                if (n == 2 && p[0] == '.' && p[1] == '.')
                        return cat_err(reterr, -EINVAL, "alias '%s' contains "
                                       "a '..' component", alias);
                if (len + 1 + n + 1 > outsz)
                        return cat_err(reterr, -EINVAL, "alias '%s' is too "
                                       "long", alias);
                out[len++] = '/';
                memcpy(out + len, p, n);
                len += n;
                out[len] = 0;
                p = e;
        }
        return 0;
}

bool cat_target_in_home(const char *target)
{
        size_t n = strlen(CAT_HOME);

        return target && strncmp(target, CAT_HOME, n) == 0 &&
               target[n] == '/' && target[n + 1] != 0;
}

int cat_target_resolve(const char *name, const char *alias, char **ret_target,
                       char **reterr)
{
        char buf[PATH_MAX];
        char *t;
        int r;

        if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
            strcmp(name, "..") == 0)
                return cat_err(reterr, -EINVAL, "bad folder name '%s'",
                               name ? name : "");
        if (!alias) {
                if (strcmp(name, ".linuxbrew") == 0)
                        t = strdup(CAT_LINUXBREW_TARGET);
                else if (asprintf(&t, "%s/%s", CAT_HOME, name) < 0)
                        t = NULL;
                if (!t)
                        return cat_oom(reterr);
                *ret_target = t;
                return 0;
        }
        if (!*alias)
                return cat_err(reterr, -EINVAL, "empty alias for folder '%s'",
                               name);
        if (alias[0] == '/')
                buf[0] = 0;
        else
                snprintf(buf, sizeof(buf), "%s", CAT_HOME);
        r = normalise_onto(buf, sizeof(buf), alias, alias, reterr);
        if (r < 0)
                return r;
        if (!buf[0])
                strcpy(buf, "/");

        if (strcmp(buf, CAT_HOME) == 0)
                return cat_err(reterr, -EINVAL, "target '%s' of folder '%s' "
                               "is the session home itself", buf, name);
        for (size_t i = 0;
             i < sizeof(reserved_targets) / sizeof(*reserved_targets); i++)
                if (strcmp(buf, reserved_targets[i]) == 0)
                        return cat_err(reterr, -EINVAL, "target '%s' of "
                                       "folder '%s' is reserved", buf, name);
        if (cat_target_in_home(buf)) {
                const char *first = buf + strlen(CAT_HOME) + 1;

                if (name_is_reserved(first, strcspn(first, "/")))
                        return cat_err(reterr, -EINVAL, "target '%s' of "
                                       "folder '%s' is reserved for the "
                                       "session", buf, name);
        }
        t = strdup(buf);
        if (!t)
                return cat_oom(reterr);
        *ret_target = t;
        return 0;
}

struct target_ref {
        const char *target;
        size_t index;
};

static int target_ref_cmp(const void *a, const void *b)
{
        return strcmp(((const struct target_ref *)a)->target,
                      ((const struct target_ref *)b)->target);
}

static const struct target_ref *target_find(const struct target_ref *v,
                                            size_t n, const char *s)
{
        struct target_ref key = { .target = s };

        return bsearch(&key, v, n, sizeof(*v), target_ref_cmp);
}

/*
 * Sorting keeps this O(n log n) for the thousands of folders one user may
 * own: equal targets become neighbours, and each target's ancestors are
 * looked up by binary search.
 */
int cat_targets_check(const char *const *names, const char *const *targets,
                      size_t n, const char *const *other_names, size_t n_other,
                      char **reterr)
{
        struct target_ref *v = NULL, *d = NULL;
        char **defaults = NULL;
        size_t nd = 0;
        char buf[PATH_MAX];
        int r = 0;

        v = calloc(n ? n : 1, sizeof(*v));
        d = calloc(n_other ? n_other : 1, sizeof(*d));
        defaults = calloc(n_other ? n_other : 1, sizeof(*defaults));
        if (!v || !d || !defaults) {
                r = cat_oom(reterr);
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                v[i] = (struct target_ref){ targets[i], i };
        qsort(v, n, sizeof(*v), target_ref_cmp);

        for (size_t i = 0; i + 1 < n; i++)
                if (strcmp(v[i].target, v[i + 1].target) == 0) {
                        r = cat_err(reterr, -EINVAL, "target '%s' is used by "
                                    "both '%s' and '%s'", v[i].target,
                                    names[v[i].index], names[v[i + 1].index]);
                        goto out;
                }

        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(targets[i]);

                if (len >= sizeof(buf))
                        continue;
                memcpy(buf, targets[i], len + 1);
                for (size_t k = len; k > 0; k--) {
                        const struct target_ref *hit;

                        if (buf[k] != '/')
                                continue;
                        buf[k] = 0;
                        hit = target_find(v, n, buf);
                        if (hit) {
                                r = cat_err(reterr, -EINVAL, "target '%s' of "
                                            "'%s' is inside target '%s' of "
                                            "'%s'", targets[i], names[i],
                                            hit->target, names[hit->index]);
                                goto out;
                        }
                }
                /* "/" is an ancestor of everything. */
                if (len > 1 && target_find(v, n, "/")) {
                        const struct target_ref *hit = target_find(v, n, "/");

                        r = cat_err(reterr, -EINVAL, "target '%s' of '%s' is "
                                    "inside target '/' of '%s'", targets[i],
                                    names[i], names[hit->index]);
                        goto out;
                }
        }

        for (size_t i = 0; i < n_other; i++) {
                if (cat_target_resolve(other_names[i], NULL, &defaults[nd],
                                       NULL) < 0)
                        continue;
                d[nd] = (struct target_ref){ defaults[nd], i };
                nd++;
        }
        qsort(d, nd, sizeof(*d), target_ref_cmp);
        for (size_t i = 0; i < n; i++) {
                const struct target_ref *hit = target_find(d, nd, targets[i]);

                if (!hit)
                        continue;
                /* The folder's own default target; duplicates share it. */
                for (; hit > d && strcmp(hit[-1].target, targets[i]) == 0;
                     hit--)
                        ;
                for (; hit < d + nd && strcmp(hit->target, targets[i]) == 0;
                     hit++) {
                        if (strcmp(other_names[hit->index], names[i]) == 0)
                                continue;
                        r = cat_err(reterr, -EINVAL, "target '%s' of '%s' is "
                                    "the default target of folder '%s'",
                                    targets[i], names[i],
                                    other_names[hit->index]);
                        goto out;
                }
        }
out:
        if (defaults)
                for (size_t i = 0; i < nd; i++)
                        free(defaults[i]);
        free(defaults);
        free(d);
        free(v);
        return r;
}

int cat_mount_request_parse(const char *s, struct cat_mount_request *ret_req,
                            char **reterr)
{
        const char *parts[3];
        size_t lens[3], n = 0;
        enum cat_perm perm = CAT_PERM_NONE;
        const char *p = s, *alias = NULL;
        size_t alias_len = 0;
        char *ref, *a = NULL;

        if (!s || !*s)
                return cat_err(reterr, -EINVAL, "empty mount request");
        for (;;) {
                const char *e = strchrnul(p, ':');

                if (n == 3)
                        return cat_err(reterr, -EINVAL, "mount request '%s' "
                                       "has more than REF:TARGET:PERM", s);
                parts[n] = p;
                lens[n++] = (size_t)(e - p);
                if (!*e)
                        break;
                p = e + 1;
        }
        if (lens[0] == 0)
                return cat_err(reterr, -EINVAL, "mount request '%s' has an "
                               "empty folder reference", s);
        if (n >= 2) {
                char last[3] = "";
                size_t ll = lens[n - 1];

                if (ll == 2)
                        memcpy(last, parts[n - 1], 2);
                if (cat_perm_from_string(last, &perm) == 0 &&
                    perm != CAT_PERM_NONE) {
                        n--;
                } else if (n == 3) {
                        return cat_err(reterr, -EINVAL, "bad permission "
                                       "'%.*s' in mount request '%s' (use ro, "
                                       "rw or wd)", (int)ll, parts[2], s);
                } else {
                        perm = CAT_PERM_NONE;
                }
        }
        if (n == 2) {
                alias = parts[1];
                alias_len = lens[1];
                if (alias_len == 0)
                        return cat_err(reterr, -EINVAL, "mount request '%s' "
                                       "has an empty target", s);
        }
        ref = strndup(parts[0], lens[0]);
        if (alias)
                a = strndup(alias, alias_len);
        if (!ref || (alias && !a)) {
                free(ref);
                free(a);
                return cat_oom(reterr);
        }
        ret_req->ref = ref;
        ret_req->alias = a;
        ret_req->perm = perm;
        return 0;
}

void cat_mount_request_release(struct cat_mount_request *req)
{
        if (!req)
                return;
        free(req->ref);
        free(req->alias);
        req->ref = NULL;
        req->alias = NULL;
}
