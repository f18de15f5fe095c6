/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unit.h - what the catalog library's unit tests share: a fixture with its
 * own temporary directory (catalog, one storage host root, scratch root),
 * shortcuts to create users, projects and folders that fail the test when
 * they fail, and a snapshot of every catalog row to prove that a refused
 * operation changed nothing.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "catalog.h"

struct fx {
        char dir[64];      /* mktemp -d */
        char *db;          /* <dir>/catalog.db */
        char *root;        /* <dir>/storage: host "local" */
        char *scratch;     /* <dir>/scratch */
        cat_catalog *cat;
};

/* cmocka setup/teardown: a fresh catalog with host "local". */
int fx_setup(void **state);
/* The same without any host. */
int fx_setup_bare(void **state);
int fx_teardown(void **state);

/* Shortcuts that fail the test on error. */
void fx_user(struct fx *fx, const char *name);
void fx_project(struct fx *fx, const char *name, const char *const *members);
/* Returns the new folder's id in a static ring of buffers. */
const char *fx_folder(struct fx *fx, const char *name, const char *user,
                      const char *project, enum cat_perm perm);
const char *fx_folder_spec(struct fx *fx, const struct cat_folder_spec *spec);
char *fx_backing(struct fx *fx, const char *ref); /* malloc'd */
enum cat_perm fx_effective(struct fx *fx, const char *ref, const char *user);

/* Every row of every table, as text (malloc'd). */
char *fx_snapshot(struct fx *fx);
/* Run SQL directly on the catalog file, failing the test on error. */
void fx_sql(struct fx *fx, const char *sql);
int64_t fx_sql_int(struct fx *fx, const char *sql);

/* Path helpers (malloc'd). */
char *fx_path(struct fx *fx, const char *rel);
void fx_write_file(const char *path, const char *content);
bool fx_exists(const char *path);

/* Fail unless reason is set and contains needle (when needle is set); frees. */
void fx_check_reason(const char *call, char *reason, const char *needle);

/*
 * Assert that a call fails with errno value err, that reterr names what
 * went wrong (contains needle, when not NULL) and free the message.
 */
#define assert_fails(call, err, needle)                                       \
        do {                                                                  \
                char *e_ = NULL;                                              \
                char **reterr = &e_;                                          \
                int r_ = (call);                                              \
                (void)reterr;                                                 \
                if (r_ != (err))                                              \
                        fail_msg("%s: expected %d, got %d (%s)", #call,       \
                                 (err), r_, e_ ? e_ : "no reason");           \
                fx_check_reason(#call, e_, (needle));                         \
        } while (0)

#define assert_ok(call)                                                       \
        do {                                                                  \
                char *e_ = NULL;                                              \
                char **reterr = &e_;                                          \
                int r_ = (call);                                              \
                (void)reterr;                                                 \
                if (r_ != 0)                                                  \
                        fail_msg("%s: %d (%s)", #call, r_,                    \
                                 e_ ? e_ : "no reason");                      \
                free(e_);                                                     \
        } while (0)

/* A refused call must leave every row as it was. */
#define assert_unchanged(fx, call, err, needle)                               \
        do {                                                                  \
                char *before_ = fx_snapshot(fx);                              \
                char *after_;                                                 \
                assert_fails(call, err, needle);                              \
                after_ = fx_snapshot(fx);                                     \
                assert_string_equal(before_, after_);                         \
                free(before_);                                                \
                free(after_);                                                 \
        } while (0)
