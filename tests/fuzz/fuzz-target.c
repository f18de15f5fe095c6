/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-target.c - alias and target rules (SPEC section 3:
 * cat_target_resolve, cat_target_in_home, cat_targets_check).
 * Input: "NAME\nALIAS" (no newline: no alias, the default target).
 * Invariants on an accepted target: absolute, no empty, "." or ".."
 * component, no trailing '/', not CAT_HOME, not a reserved system
 * directory, first component under CAT_HOME not reserved for the session;
 * resolving it again as an absolute alias gives the same target
 * (normalisation is idempotent); a relative alias lands inside CAT_HOME; one
 * target alone passes cat_targets_check, the same target twice never does,
 * and neither does a target with a child of itself.  Rejections carry a
 * one-line reason.
 */
#include <errno.h>
#include <stdbool.h>

#include "catalog.h"
#include "fuzz.h"

static const char *const reserved[] = {
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64",
        "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv",
        "/sys", "/tmp", "/usr", "/var",
};

static void check_shape(const char *t)
{
        const char *p;

        CHECK(t[0] == '/', "target '%s' not absolute", t);
        CHECK(strcmp(t, CAT_HOME) != 0, "target is the home");
        for (size_t i = 0; i < sizeof(reserved) / sizeof(*reserved); i++)
                CHECK(strcmp(t, reserved[i]) != 0, "reserved target '%s'", t);
        CHECK(t[strlen(t) - 1] != '/', "trailing slash in '%s'", t);
        for (p = t; *p; ) {
                const char *e;
                size_t n;

                CHECK(*p == '/', "'%s'", t);
                p++;
                e = strchrnul(p, '/');
                n = (size_t)(e - p);
                CHECK(n > 0, "empty component in '%s'", t);
                CHECK(!(n == 1 && p[0] == '.'), "'.' component in '%s'", t);
                CHECK(!(n == 2 && p[0] == '.' && p[1] == '.'),
                      "'..' component in '%s'", t);
                p = e;
        }
        if (cat_target_in_home(t)) {
                const char *first = t + strlen(CAT_HOME) + 1;
                size_t n = strcspn(first, "/");
                char *comp = strndup(first, n);

                CHECK(comp != NULL, "oom");
                /* A reserved session name is never a valid folder name. */
                if (comp[0] == '.' && cat_name_check(comp, NULL) < 0 &&
                    (!strcmp(comp, ".ssh") || !strcmp(comp, ".jupyter") ||
                     !strcmp(comp, ".terminfo") || !strcmp(comp, ".tmux.conf")))
                        CHECK(0, "target '%s' in a reserved session name", t);
                free(comp);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = fuzz_cstr(data, size), *nl, *alias = NULL, *t = NULL;
        char *t2 = NULL, *err = NULL, *child = NULL;
        int r;

        nl = strchr(s, '\n');
        if (nl) {
                *nl = 0;
                alias = nl + 1;
        }
        r = cat_target_resolve(s, alias, &t, &err);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ENOMEM, "r=%d", r);
                fuzz_check_reterr(r, err, alias ? alias : s);
                CHECK(t == NULL, "target set on failure");
                goto out;
        }
        CHECK(err == NULL, "message on success");
        if (!alias)
                goto out; /* default targets: fuzz-name checks them */
        check_shape(t);
        if (alias[0] != '/')
                CHECK(cat_target_in_home(t), "relative alias '%s' gave '%s'",
                      alias, t);
        r = cat_target_resolve(s, t, &t2, &err);
        CHECK(r == 0, "target '%s' rejected when given again: %s", t,
              err ? err : "?");
        CHECK(!strcmp(t, t2), "not idempotent: '%s' -> '%s'", t, t2);
        {
                const char *names[2] = { s, "other" };
                const char *targets[2] = { t, t };

                r = cat_targets_check(names, targets, 1, NULL, 0, &err);
                CHECK(r == 0, "one target '%s' alone fails: %s", t,
                      err ? err : "?");
                r = cat_targets_check(names, targets, 2, NULL, 0, &err);
                CHECK(r == -EINVAL, "duplicate target '%s' accepted", t);
                fuzz_check_reterr(r, err, t);
                free(err);
                err = NULL;
                if (asprintf(&child, "%s/x", t) < 0)
                        abort();
                targets[1] = child;
                r = cat_targets_check(names, targets, 2, NULL, 0, &err);
                CHECK(r == -EINVAL, "nested target '%s' accepted", child);
                fuzz_check_reterr(r, err, child);
        }
out:
        free(child);
        free(t);
        free(t2);
        free(err);
        free(s);
        return 0;
}
