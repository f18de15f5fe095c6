/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-size.c - size parsing (`--quota SIZE`, cat_size_parse).
 * Invariants: an accepted size is > 0; written back as plain bytes, with its
 * largest exact binary unit (K, M, G, T, P), in lower case and with "iB" or
 * "B", it parses to the same value; a plain decimal number parses to itself
 * (or -ERANGE above INT64_MAX); the only errors are -EINVAL and -ERANGE.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>

#include "catalog.h"
#include "fuzz.h"

static void reparse(const char *text, int64_t want)
{
        int64_t v = 0;
        int r = cat_size_parse(text, &v);

        CHECK(r == 0 && v == want, "'%s' gives %d/%" PRId64 ", expected %" PRId64,
              text, r, v, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char units[] = "KMGTP";
        char *s = fuzz_cstr(data, size), buf[64];
        int64_t v = -1, x;
        bool digits_only = s[0] != 0;
        int r, u = -1;

        for (const char *p = s; *p; p++)
                if (*p < '0' || *p > '9')
                        digits_only = false;
        r = cat_size_parse(s, &v);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ERANGE, "r=%d", r);
                CHECK(v == -1, "result written on failure");
                if (digits_only && r == -EINVAL) {
                        /* Only zero is refused. */
                        for (const char *p = s; *p; p++)
                                CHECK(*p == '0', "'%s' refused", s);
                }
                goto out;
        }
        CHECK(v > 0, "'%s' gives %" PRId64, s, v);
        if (digits_only) {
                errno = 0;
                CHECK((x = (int64_t)strtoll(s, NULL, 10)) == v && errno == 0,
                      "'%s' gives %" PRId64, s, v);
        }
        snprintf(buf, sizeof(buf), "%" PRId64, v);
        reparse(buf, v);
        snprintf(buf, sizeof(buf), "%" PRId64 "B", v);
        reparse(buf, v);
        x = v;
        while (x % 1024 == 0 && u < 4) {
                x /= 1024;
                u++;
        }
        if (u >= 0) {
                snprintf(buf, sizeof(buf), "%" PRId64 "%c", x, units[u]);
                reparse(buf, v);
                snprintf(buf, sizeof(buf), "%" PRId64 "%ciB", x, units[u] + 32);
                reparse(buf, v);
                snprintf(buf, sizeof(buf), "%" PRId64 "%cb", x, units[u]);
                reparse(buf, v);
        }
out:
        free(s);
        return 0;
}
