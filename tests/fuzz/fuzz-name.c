/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-name.c - folder and entity name validation (SPEC section 4,
 * cat_name_check, cat_entity_name_check, cat_name_is_automount).
 * Invariants: every verdict matches the rule written out independently
 * below; a rejection carries a one-line reason; an accepted folder name
 * round-trips to its default target CAT_HOME/NAME (or the .linuxbrew
 * target) through cat_target_resolve; an accepted entity name is also an
 * accepted folder name.
 */
#include <errno.h>
#include <stdbool.h>

#include "catalog.h"
#include "fuzz.h"

static bool lower_alnum(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

static bool alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9');
}

/* The SPEC's rule, written independently of rules.c. */
static bool spec_name_ok(const char *s)
{
        size_t n = strlen(s);

        if (n < 1 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
                        return false;
        if (!strcmp(s, ".") || !strcmp(s, ".."))
                return false;
        if (s[0] == '.' && s[1] == '.')
                return false;
        if (!alnum(s[0]) && s[0] != '.')
                return false;
        if (!strcmp(s, ".ssh") || !strcmp(s, ".jupyter") ||
            !strcmp(s, ".terminfo") || !strcmp(s, ".tmux.conf"))
                return false;
        if (s[0] == '.' && n > 3 && !strcmp(s + n - 2, "rc") &&
            lower_alnum(s + 1, n - 3))
                return false;
        if (s[0] == '.' && n > 9 && !strcmp(s + n - 8, "_profile") &&
            lower_alnum(s + 1, n - 9))
                return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = fuzz_cstr(data, size), *err = NULL, *target = NULL;
        int r = cat_name_check(s, &err);
        bool ok = spec_name_ok(s);

        CHECK((r == 0) == ok, "cat_name_check('%s') = %d, SPEC says %s", s, r,
              ok ? "valid" : "invalid");
        if (r == 0) {
                CHECK(err == NULL, "message on success: %s", err);
                CHECK(cat_name_is_automount(s) == (s[0] == '.'),
                      "automount('%s')", s);
                r = cat_target_resolve(s, NULL, &target, &err);
                CHECK(r == 0, "default target of valid name '%s': %s", s,
                      err ? err : "?");
                if (!strcmp(s, ".linuxbrew")) {
                        CHECK(!strcmp(target, CAT_LINUXBREW_TARGET), "%s", target);
                } else {
                        CHECK(!strncmp(target, CAT_HOME "/", strlen(CAT_HOME) + 1) &&
                              !strcmp(target + strlen(CAT_HOME) + 1, s),
                              "target of '%s' is '%s'", s, target);
                        CHECK(cat_target_in_home(target), "%s", target);
                }
                free(target);
        } else {
                CHECK(r == -EINVAL, "r=%d", r);
                fuzz_check_reterr(r, err, s);
        }
        free(err);
        err = NULL;

        r = cat_entity_name_check(s, &err);
        if (r == 0) {
                CHECK(err == NULL, "message on success");
                CHECK(alnum(s[0]) && strlen(s) <= 64, "entity name '%s'", s);
                CHECK(cat_name_check(s, NULL) == 0,
                      "entity name '%s' is not a folder name", s);
        } else {
                CHECK(r == -EINVAL, "r=%d", r);
                fuzz_check_reterr(r, err, s);
        }
        free(err);
        free(s);
        return 0;
}
