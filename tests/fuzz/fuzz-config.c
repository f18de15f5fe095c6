/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-config.c - the daemon's configuration file parser
 * (vfolderfs/config.c, config_parse_stream), fed the input as the file's
 * text.  Invariants: a rejected file leaves the configuration empty and
 * gives a one-line message starting with the file name; an accepted one
 * gives values without newlines or surrounding blanks, and written back as
 * `key = value` lines it parses to the same configuration.
 */
#include <errno.h>
#include <stdbool.h>

#include "config.h"
#include "fuzz.h"

static bool same(const struct vf_config *a, const struct vf_config *b)
{
        return !a->catalog == !b->catalog &&
               (!a->catalog || !strcmp(a->catalog, b->catalog)) &&
               !a->scratch == !b->scratch &&
               (!a->scratch || !strcmp(a->scratch, b->scratch)) &&
               a->has_storage_uid == b->has_storage_uid &&
               (!a->has_storage_uid || a->storage_uid == b->storage_uid) &&
               a->has_storage_gid == b->has_storage_gid &&
               (!a->has_storage_gid || a->storage_gid == b->storage_gid) &&
               a->scratch_size == b->scratch_size &&
               a->rw_can_delete == b->rw_can_delete && a->watch == b->watch;
}

static void check_value(const char *v)
{
        size_t n;

        if (!v)
                return;
        n = strlen(v);
        CHECK(n > 0, "empty value accepted");
        CHECK(!strchr(v, '\n'), "newline in value");
        CHECK(v[0] != ' ' && v[0] != '\t', "leading blank in '%s'", v);
        CHECK(v[n - 1] != ' ' && v[n - 1] != '\t' && v[n - 1] != '\r',
              "trailing blank in '%s'", v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vf_config c, again;
        char *err = NULL, *text = NULL;
        size_t len = 0;
        FILE *f, *out;
        int r;

        if (size == 0)
                return 0; /* fmemopen refuses an empty buffer */
        f = fmemopen((void *)data, size, "r");
        if (!f)
                abort();
        r = config_parse_stream(f, "fuzz.conf", &c, &err);
        fclose(f);
        if (r < 0) {
                CHECK(r == -EINVAL || r == -ENOMEM || r == -EIO, "r=%d", r);
                fuzz_check_reterr(r, err, "(config)");
                CHECK(!strncmp(err, "fuzz.conf", 9), "message '%s'", err);
                CHECK(!c.catalog && !c.scratch && !c.has_storage_uid &&
                      !c.has_storage_gid && c.rw_can_delete == -1 &&
                      c.watch == -1 && c.scratch_size == -1,
                      "configuration not empty after an error");
                free(err);
                return 0;
        }
        CHECK(err == NULL, "message on success");
        check_value(c.catalog);
        check_value(c.scratch);
        CHECK(c.rw_can_delete >= -1 && c.rw_can_delete <= 1, "%d", c.rw_can_delete);
        CHECK(c.watch >= -1 && c.watch <= 1, "%d", c.watch);
        CHECK(c.scratch_size >= -1, "%lld", (long long)c.scratch_size);
        out = open_memstream(&text, &len);
        if (!out)
                abort();
        if (c.catalog)
                fprintf(out, "catalog = %s\n", c.catalog);
        if (c.scratch)
                fprintf(out, "\tscratch=%s  \n", c.scratch);
        if (c.has_storage_uid)
                fprintf(out, "# a comment\nstorage_uid = %u\n", c.storage_uid);
        if (c.has_storage_gid)
                fprintf(out, "\nstorage_gid = %u\n", c.storage_gid);
        if (c.rw_can_delete >= 0)
                fprintf(out, "rw_can_delete = %s\n", c.rw_can_delete ? "yes" : "no");
        if (c.watch >= 0)
                fprintf(out, "watch = %s\n", c.watch ? "true" : "false");
        if (c.scratch_size >= 0)
                fprintf(out, "scratch_size = %lld\n", (long long)c.scratch_size);
        fprintf(out, "# end\n");
        fclose(out);
        f = fmemopen(text, len, "r");
        if (!f)
                abort();
        r = config_parse_stream(f, "again.conf", &again, &err);
        fclose(f);
        CHECK(r == 0, "written-back configuration rejected: %s\n---\n%s---",
              err ? err : "?", text);
        CHECK(same(&c, &again), "written-back configuration differs:\n%s", text);
        config_free(&again);
        config_free(&c);
        free(text);
        return 0;
}
