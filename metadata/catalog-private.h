/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * catalog-private.h - definitions shared by the catalog library's own files
 * and never by its users: the opaque handle, the mapping of SQLite result
 * codes to errno, reterr helpers, transactions with bounded retries, the SQL
 * that computes who may see which folder, and the safe file-tree helpers of
 * fsutil.c.
 */
#pragma once

#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>

#include "catalog.h"

struct cat_catalog {
        sqlite3 *db;
        char *path;
        bool read_only;
};

/* The schema version written by this library (see catalog.c). */
#define CAT_SCHEMA_VERSION 3
/* PRAGMA application_id of a catalog: "vfld". */
#define CAT_APPLICATION_ID 0x76666c64

/*
 * Who may see which folder, as SQL fragments over "folders f".  U is the
 * SQL parameter holding a user id, F the one holding a folder id.  Every
 * fragment walks an index (owner, members by user, grants by user or
 * folder), so none of them grows with the number of folders in the catalog.
 *
 * CAT_EFFECTIVE(U): the effective permission of U on f as text, NULL for
 * none: owner of a user folder -> the folder's permission; member of the
 * owning project -> the per-user grant, else the folder's permission;
 * anyone else -> their grant.
 */
#define CAT_EFFECTIVE(U)                                                      \
        "(CASE WHEN f.owner_type = 'user' AND f.owner_id = " U                \
        "  THEN f.permission"                                                 \
        " WHEN f.owner_type = 'project' AND EXISTS (SELECT 1 FROM members m"  \
        "  WHERE m.project_id = f.owner_id AND m.user_id = " U ")"            \
        "  THEN COALESCE((SELECT g.permission FROM grants g"                  \
        "   WHERE g.folder_id = f.id AND g.user_id = " U "), f.permission)"   \
        " ELSE (SELECT g.permission FROM grants g"                            \
        "  WHERE g.folder_id = f.id AND g.user_id = " U ") END)"

/* The ids of every folder U can see (own, their projects', shared). */
#define CAT_VISIBLE_IDS(U)                                                    \
        "SELECT v.id FROM folders v WHERE v.owner_type = 'user'"              \
        "  AND v.owner_id = " U                                               \
        " UNION SELECT v.id FROM members m JOIN folders v"                    \
        "  ON v.owner_type = 'project' AND v.owner_id = m.project_id"         \
        "  WHERE m.user_id = " U                                              \
        " UNION SELECT g.folder_id FROM grants g WHERE g.user_id = " U

/* The ids of every user who can see folder F. */
#define CAT_ACCESSORS(F)                                                      \
        "SELECT v.owner_id FROM folders v WHERE v.id = " F                    \
        "  AND v.owner_type = 'user'"                                         \
        " UNION SELECT m.user_id FROM folders v JOIN members m"               \
        "  ON m.project_id = v.owner_id WHERE v.id = " F                      \
        "  AND v.owner_type = 'project'"                                      \
        " UNION SELECT g.user_id FROM grants g WHERE g.folder_id = " F

/* Columns read by cat_folder_from_row(), for "FROM folders f". */
#define CAT_FOLDER_COLUMNS                                                    \
        "f.id, f.name, f.host, f.owner_type, f.owner_id,"                     \
        " CASE f.owner_type WHEN 'user' THEN"                                 \
        "  (SELECT name FROM users WHERE id = f.owner_id)"                    \
        "  ELSE (SELECT name FROM projects WHERE id = f.owner_id) END,"       \
        " f.usage_mode, f.permission, f.cloneable, f.quota_bytes, f.status,"  \
        " f.created_at, f.updated_at"
#define CAT_FOLDER_NCOLUMNS 13

/* catalog.c: errors. */
int cat_errno_from_sqlite(int rc, int sys_errno);
int cat_err(char **reterr, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int cat_sql_err(cat_catalog *cat, char **reterr, int rc, const char *what);
int cat_oom(char **reterr);

/* catalog.c: statements and transactions. */

/*
 * Step stmt to its end, filling a malloc'd array of elements of elem_size
 * bytes with read_row(stmt, element) (0, or < 0 when out of memory).  Always
 * finalizes stmt.  On failure the rows read so far are released with
 * free_rows and *ret_elems / *ret_n are untouched; what names the rows in the
 * error ("cannot read folders").
 */
typedef int (*cat_row_reader)(sqlite3_stmt *stmt, void *ret_elem);
typedef void (*cat_rows_free)(void *elems, size_t n);
int cat_collect_rows(cat_catalog *cat, sqlite3_stmt *stmt, size_t elem_size,
                     cat_row_reader read_row, cat_rows_free free_rows,
                     const char *what, void **ret_elems, size_t *ret_n,
                     char **reterr);
int cat_prepare(cat_catalog *cat, const char *sql, sqlite3_stmt **ret_stmt,
                char **reterr);
int cat_exec(cat_catalog *cat, const char *sql, char **reterr);
int cat_begin(cat_catalog *cat, char **reterr);
int cat_commit(cat_catalog *cat, char **reterr);
void cat_rollback(cat_catalog *cat);
int64_t cat_now(void);
void cat_uuid_new(char out[CAT_UUID_STRLEN]);
bool cat_uuid_valid(const char *s);
char *cat_column_strdup(sqlite3_stmt *stmt, int col);
void cat_copy_id(char dst[CAT_UUID_STRLEN], sqlite3_stmt *stmt, int col);

/* entities.c: lookups used by the other files. */
int cat_user_lookup(cat_catalog *cat, const char *ref,
                    char ret_id[CAT_UUID_STRLEN], char **ret_name,
                    char **reterr);
int cat_project_lookup(cat_catalog *cat, const char *ref,
                       char ret_id[CAT_UUID_STRLEN], char **ret_name,
                       char **reterr);
int cat_host_root(cat_catalog *cat, const char *name, char **ret_root,
                  char **reterr);

/* folders.c: internal helpers used by sessions.c and fsck.c. */
int cat_folder_from_row(sqlite3_stmt *stmt, int col0,
                        struct cat_folder *ret);
void cat_folder_release(struct cat_folder *folder);
int cat_folder_resolve_id(cat_catalog *cat, const char *ref,
                          const char *user_id, struct cat_folder *ret,
                          char **reterr);
int cat_user_mountable(cat_catalog *cat, const char *user_id,
                       struct cat_folder **ret_folders, size_t *ret_n,
                       char **reterr);
int cat_effective_by_id(cat_catalog *cat, const char *folder_id,
                        const char *user_id, enum cat_perm *ret_perm,
                        char **reterr);

/* sessions.c */
int cat_session_end_internal(cat_catalog *cat, const char *id,
                             char **reterr);
/*
 * "<boot id>:<start time>" of a process on this machine (malloc'd), or NULL
 * when it cannot be read.  Together with the pid it tells a daemon from a
 * later process that got the same pid, also after a reboot.
 */
char *cat_process_identity(pid_t pid);
/* True when the daemon pid recorded with identity is gone from this host. */
bool cat_process_gone(pid_t pid, const char *identity);

/* fsutil.c: file trees, never following symlinks. */
int cat_mkdir_p(const char *path, mode_t mode);

/*
 * mkdir -p of path, a folder's backing directory under the host root root:
 * the root is made (0755) only when missing; the directories between root
 * and path are made CAT_PRIVATE_DIR_MODE and, when running as root, given
 * the host root's owner; path itself 0755.  Returns 0, -EEXIST when path
 * exists already, or another negative errno.
 */
int cat_backing_mkdir(const char *root, const char *path);
int cat_tree_remove(const char *path);
/* creator: recorded on every copy (cat_creator_set()), or NULL. */
int cat_tree_copy(const char *src, const char *dst, const char *creator);
int cat_tree_usage(const char *path, int64_t *ret_bytes, int64_t *ret_files);
