/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rofs-helper.c - driven by test-rofs.sh: "prepare DB ROOT" makes a catalog
 * with one user and one folder; "check DB" runs on that catalog after it has
 * been made read-only, and exits 0 only when reading still works and every
 * write is refused with -EROFS and a reason; "check-old DB" expects a
 * catalog of an older schema to be refused with -EROFS, as it cannot be
 * migrated.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

static int fail(const char *what, int r, char *err)
{
        fprintf(stderr, "rofs-helper: %s: %d (%s)\n", what, r,
                err ? err : "no reason");
        free(err);
        return 1;
}

static int expect_erofs(const char *what, int r, char *err)
{
        if (r != -EROFS || !err)
                return fail(what, r, err);
        printf("%s: -EROFS: %s\n", what, err);
        free(err);
        return 0;
}

int main(int argc, char **argv)
{
        struct cat_folder_spec spec = { .name = "data", .user = "alice" };
        cat_catalog *cat = NULL;
        struct cat_user *u = NULL;
        char *err = NULL;
        int r, bad = 0;

        if (argc == 4 && strcmp(argv[1], "prepare") == 0) {
                r = cat_open(argv[2], CAT_OPEN_CREATE, &cat, &err);
                if (r == 0)
                        r = cat_host_add(cat, "local", argv[3], &err);
                if (r == 0)
                        r = cat_user_add(cat, "alice", (uid_t)-1, (gid_t)-1,
                                         NULL, &err);
                if (r == 0)
                        r = cat_folder_create(cat, &spec, NULL, &err);
                cat_close(cat);
                return r < 0 ? fail("prepare", r, err) : 0;
        }
        if (argc == 3 && strcmp(argv[1], "check-old") == 0) {
                /* An older schema cannot be migrated on a read-only mount. */
                r = cat_open(argv[2], 0, &cat, &err);
                if (r == 0)
                        cat_close(cat);
                if (r == -EROFS && err && strstr(err, "schema upgrade"))
                        return expect_erofs("open old schema", r, err);
                return fail("open old schema", r, err);
        }
        if (argc != 3 || strcmp(argv[1], "check") != 0) {
                fprintf(stderr, "usage: rofs-helper prepare DB ROOT | check DB"
                        " | check-old DB\n");
                return 2;
        }
        r = cat_open(argv[2], 0, &cat, &err);
        if (r == -EROFS)
                return expect_erofs("open", r, err);
        if (r < 0)
                return fail("open", r, err);
        r = cat_user_get(cat, "alice", &u, &err);
        if (r < 0)
                return fail("read", r, err);
        cat_user_free(u);
        err = NULL;
        r = cat_user_add(cat, "bob", (uid_t)-1, (gid_t)-1, NULL, &err);
        bad |= expect_erofs("user add", r, err);
        err = NULL;
        r = cat_folder_rename(cat, "data", "data2", &err);
        bad |= expect_erofs("folder rename", r, err);
        err = NULL;
        r = cat_user_get(cat, "bob", &u, &err);
        if (r != -ENOENT)
                bad |= fail("bob must not exist", r, err);
        else
                free(err);
        cat_close(cat);
        return bad;
}
