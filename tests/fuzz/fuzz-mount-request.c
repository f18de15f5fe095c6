/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-mount-request.c - `session create --mount REF[:TARGET][:PERM]`
 * parsing (cat_mount_request_parse).  Invariants: an accepted request has
 * a non-empty REF and, if any, a non-empty TARGET, neither containing ':';
 * PERM is NONE or ro/rw/wd; formatting it back to text and parsing again
 * gives the same fields; at most three components are ever accepted; a
 * rejection carries a one-line reason and leaves nothing allocated.
 */
#include <errno.h>

#include "catalog.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct cat_mount_request req = { 0 }, again = { 0 };
        char *s = fuzz_cstr(data, size), *err = NULL, *text = NULL;
        size_t colons = 0;
        int r;

        for (const char *p = s; *p; p++)
                colons += *p == ':';
        r = cat_mount_request_parse(s, &req, &err);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ENOMEM, "r=%d", r);
                fuzz_check_reterr(r, err, s);
                CHECK(req.ref == NULL && req.alias == NULL, "fields on failure");
                goto out;
        }
        CHECK(err == NULL, "message on success");
        CHECK(colons <= 2, "'%s' has %zu colons", s, colons);
        CHECK(req.ref && req.ref[0] && !strchr(req.ref, ':'), "ref '%s'",
              req.ref ? req.ref : "(null)");
        CHECK(!req.alias || (req.alias[0] && !strchr(req.alias, ':')),
              "alias '%s'", req.alias);
        CHECK(req.perm == CAT_PERM_NONE || req.perm == CAT_PERM_RO ||
              req.perm == CAT_PERM_RW || req.perm == CAT_PERM_WD, "perm %d",
              (int)req.perm);
        if (asprintf(&text, "%s%s%s%s%s", req.ref, req.alias ? ":" : "",
                     req.alias ? req.alias : "",
                     req.perm != CAT_PERM_NONE ? ":" : "",
                     req.perm != CAT_PERM_NONE ? cat_perm_to_string(req.perm) : "") < 0)
                abort();
        CHECK(!strcmp(text, s), "'%s' re-formats as '%s'", s, text);
        r = cat_mount_request_parse(text, &again, &err);
        CHECK(r == 0, "re-formatted '%s' rejected: %s", text, err ? err : "?");
        CHECK(!strcmp(again.ref, req.ref) && again.perm == req.perm &&
              (!again.alias == !req.alias) &&
              (!req.alias || !strcmp(again.alias, req.alias)),
              "'%s' does not round-trip", text);
out:
        cat_mount_request_release(&req);
        cat_mount_request_release(&again);
        free(text);
        free(err);
        free(s);
        return 0;
}
