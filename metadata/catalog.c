/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * catalog.c - opening the catalog: the SQLite connection and its pragmas,
 * the schema and its forward migrations (PRAGMA user_version), transactions
 * that wait for other writers instead of failing, the one mapping of SQLite
 * result codes to errno, and the reterr helpers used by every other file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "catalog-private.h"

/*
 * SQLite answers SQLITE_BUSY after the busy handler waited its timeout, but
 * also at once, without the handler, where waiting could deadlock (a lock
 * upgrade, a journal mode switch, WAL recovery).  exec_patiently() retries
 * such statements with a growing pause until CAT_BUSY_TIMEOUT_MS of wall
 * time has passed, so "database is locked" never reaches a caller early.
 */
static int64_t monotonic_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_busy(int rc)
{
        return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static void pause_a_little(long *pause_ms)
{
        usleep((useconds_t)*pause_ms * 1000);
        if (*pause_ms < 64)
                *pause_ms *= 2;
}

static int exec_patiently(cat_catalog *cat, const char *sql)
{
        int64_t deadline = monotonic_ms() + CAT_BUSY_TIMEOUT_MS;
        long pause_ms = 1;
        int rc;

        for (;;) {
                rc = sqlite3_exec(cat->db, sql, NULL, NULL, NULL);
                if (!is_busy(rc) || monotonic_ms() >= deadline)
                        return rc;
                pause_a_little(&pause_ms);
        }
}

/* The same as exec_patiently(), for a prepared statement. */
static int step_patiently(sqlite3_stmt *stmt)
{
        int64_t deadline = monotonic_ms() + CAT_BUSY_TIMEOUT_MS;
        long pause_ms = 1;
        int rc;

        for (;;) {
                rc = sqlite3_step(stmt);
                if (!is_busy(rc) || monotonic_ms() >= deadline)
                        return rc;
                sqlite3_reset(stmt);
                pause_a_little(&pause_ms);
        }
}

/*
 * Schema steps: entry i migrates version i to version i + 1, and each runs
 * inside the same BEGIN IMMEDIATE transaction as the user_version update.
 * Version 1 is the first released schema; version 2 added mounts.requested
 * (the permission a session asked for, so that later changes to the
 * effective permission can be followed) and the index on mounts.folder_id;
 * version 3 added sessions.pid_identity (boot id and start time of the
 * daemon, so that a reused pid or a reboot does not keep a dead session
 * alive).
 */
static const char *const schema_steps[CAT_SCHEMA_VERSION] = {
        /* 0 -> 1 */
        "CREATE TABLE hosts ("
        " name TEXT PRIMARY KEY NOT NULL,"
        " root TEXT NOT NULL);"
        "CREATE TABLE users ("
        " id TEXT PRIMARY KEY NOT NULL,"
        " name TEXT NOT NULL UNIQUE,"
        " uid INTEGER NOT NULL,"
        " gid INTEGER NOT NULL);"
        "CREATE TABLE projects ("
        " id TEXT PRIMARY KEY NOT NULL,"
        " name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE members ("
        " project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
        " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        " PRIMARY KEY (project_id, user_id));"
        "CREATE INDEX members_by_user ON members(user_id);"
        "CREATE TABLE folders ("
        " id TEXT PRIMARY KEY NOT NULL,"
        " name TEXT NOT NULL,"
        " owner_type TEXT NOT NULL CHECK (owner_type IN ('user', 'project')),"
        " owner_id TEXT NOT NULL,"
        " host TEXT NOT NULL REFERENCES hosts(name),"
        " usage_mode TEXT NOT NULL"
        "  CHECK (usage_mode IN ('general', 'model', 'data')),"
        " permission TEXT NOT NULL CHECK (permission IN ('ro', 'rw', 'wd')),"
        " cloneable INTEGER NOT NULL DEFAULT 0,"
        " quota_bytes INTEGER NOT NULL DEFAULT 0,"
        " status TEXT NOT NULL CHECK (status IN ('ready', 'trash')),"
        " created_at INTEGER NOT NULL,"
        " updated_at INTEGER NOT NULL);"
        "CREATE INDEX folders_by_owner ON folders(owner_type, owner_id);"
        "CREATE INDEX folders_by_name ON folders(name);"
        "CREATE TABLE grants ("
        " folder_id TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
        " user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
        " permission TEXT NOT NULL CHECK (permission IN ('ro', 'rw', 'wd')),"
        " PRIMARY KEY (folder_id, user_id));"
        "CREATE INDEX grants_by_user ON grants(user_id);"
        "CREATE TABLE sessions ("
        " id TEXT PRIMARY KEY NOT NULL,"
        " user_id TEXT NOT NULL REFERENCES users(id),"
        " mountpoint TEXT,"
        " hostname TEXT,"
        " pid INTEGER NOT NULL DEFAULT 0,"
        " scratch TEXT,"
        " started_at INTEGER NOT NULL,"
        " ended_at INTEGER);"
        "CREATE INDEX sessions_live ON sessions(ended_at, hostname);"
        "CREATE TABLE mounts ("
        " session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
        " folder_id TEXT NOT NULL,"
        " folder_name TEXT NOT NULL,"
        " target TEXT NOT NULL,"
        " permission TEXT NOT NULL,"
        " mounted_at INTEGER,"
        " unmounted_at INTEGER,"
        " PRIMARY KEY (session_id, folder_id));",
        /* 1 -> 2 */
        ("ALTER TABLE mounts ADD COLUMN requested TEXT NOT NULL DEFAULT 'none';"
         "CREATE INDEX mounts_by_folder ON mounts(folder_id);"),
        /* 2 -> 3 */
        "ALTER TABLE sessions ADD COLUMN pid_identity TEXT;",
};

int cat_schema_version(void)
{
        return CAT_SCHEMA_VERSION;
}

/* The one place where SQLite result codes become errno values. */
int cat_errno_from_sqlite(int rc, int sys_errno)
{
        switch (rc) {
        case SQLITE_CONSTRAINT_FOREIGNKEY:
                return -ENOENT;
        case SQLITE_CONSTRAINT_CHECK:
        case SQLITE_CONSTRAINT_NOTNULL:
                return -EINVAL;
        case SQLITE_CANTOPEN_ISDIR:
                return -EISDIR;
        }
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_PROTOCOL:
                return -EAGAIN;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
        case SQLITE_FORMAT:
        case SQLITE_SCHEMA:
                return -EBADMSG;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
        case SQLITE_MISUSE:
                return -EINVAL;
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
                return sys_errno > 0 ? -sys_errno : -EIO;
        default:
                return -EIO;
        }
}

/*
 * Messages quote what callers passed in (names, references, paths), which
 * may hold control characters: they are written as C escapes ("\n",
 * "\x1b"), so that a message stays one line and cannot steer a terminal.
 */
static char *escape_controls(char *s)
{
        size_t extra = 0, n = 0;
        char *e, *p;

        for (p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        extra += 3;
        if (!extra)
                return s;
        e = malloc(strlen(s) + extra + 1);
        if (!e) {
                free(s);
                return NULL;
        }
        for (p = s; *p; p++) {
                unsigned char c = (unsigned char)*p;

                if (c == '\n' || c == '\t' || c == '\r') {
                        e[n++] = '\\';
                        e[n++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
                } else if (c < 0x20 || c == 0x7f) {
                        n += (size_t)sprintf(e + n, "\\x%02x", c);
                } else {
                        e[n++] = (char)c;
                }
        }
        e[n] = 0;
        free(s);
        return e;
}

int cat_err(char **reterr, int r, const char *fmt, ...)
{
        va_list ap;
        char *s;

        if (!reterr)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        *reterr = s ? escape_controls(s) : NULL;
        return r;
}

int cat_oom(char **reterr)
{
        return cat_err(reterr, -ENOMEM, "out of memory");
}

int cat_collect_rows(cat_catalog *cat, sqlite3_stmt *stmt, size_t elem_size,
                     cat_row_reader read_row, cat_rows_free free_rows,
                     const char *what, void **ret_elems, size_t *ret_n,
                     char **reterr)
{
        char *v = NULL;
        size_t n = 0, cap = 0;
        int r, rc;

        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        char *nv = realloc(v, ncap * elem_size);

                        if (!nv)
                                goto oom;
                        v = nv;
                        cap = ncap;
                }
                if (read_row(stmt, v + n * elem_size) < 0)
                        goto oom;
                n++;
        }
        if (rc != SQLITE_DONE) {
                r = cat_sql_err(cat, reterr, rc, what);
                goto fail;
        }
        sqlite3_finalize(stmt);
        *ret_elems = v;
        *ret_n = n;
        return 0;
oom:
        r = cat_oom(reterr);
fail:
        sqlite3_finalize(stmt);
        free_rows(v, n);
        return r;
}

int cat_sql_err(cat_catalog *cat, char **reterr, int rc, const char *what)
{
        int r = cat_errno_from_sqlite(rc, sqlite3_system_errno(cat->db));

        if (r == 0)
                r = -EIO;
        if (r == -EAGAIN)
                return cat_err(reterr, r, "%s: the catalog stayed locked "
                               "for more than %d seconds", what,
                               CAT_BUSY_TIMEOUT_MS / 1000);
        if (r == -EROFS)
                return cat_err(reterr, r, "%s: the catalog is read-only",
                               what);
        /* "disk I/O error" says nothing: name the system's reason. */
        if (((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN ||
             (rc & 0xff) == SQLITE_FULL) && r != -EIO)
                return cat_err(reterr, r, "%s: %s", what, strerror(-r));
        return cat_err(reterr, r, "%s: %s", what, sqlite3_errmsg(cat->db));
}

int cat_prepare(cat_catalog *cat, const char *sql, sqlite3_stmt **ret_stmt,
                char **reterr)
{
        int rc = sqlite3_prepare_v2(cat->db, sql, -1, ret_stmt, NULL);

        if (rc != SQLITE_OK)
                return cat_sql_err(cat, reterr, rc, "cannot query the catalog");
        return 0;
}

int cat_exec(cat_catalog *cat, const char *sql, char **reterr)
{
        int rc = sqlite3_exec(cat->db, sql, NULL, NULL, NULL);

        if (rc != SQLITE_OK)
                return cat_sql_err(cat, reterr, rc, "cannot update the catalog");
        return 0;
}

/*
 * BEGIN IMMEDIATE takes the write lock at once, so the busy handler is
 * honoured; a deferred BEGIN that later upgrades to a writer would get
 * SQLITE_BUSY at once, without waiting.
 */
int cat_begin(cat_catalog *cat, char **reterr)
{
        int rc;

        if (cat->read_only)
                return cat_err(reterr, -EROFS, "the catalog '%s' is read-only",
                               cat->path);
        rc = exec_patiently(cat, "BEGIN IMMEDIATE");
        if (rc != SQLITE_OK)
                return cat_sql_err(cat, reterr, rc,
                                   "cannot start a catalog transaction");
        return 0;
}

int cat_commit(cat_catalog *cat, char **reterr)
{
        int rc = exec_patiently(cat, "COMMIT");
        if (rc != SQLITE_OK) {
                int r = cat_sql_err(cat, reterr, rc,
                                    "cannot commit to the catalog");
                cat_rollback(cat);
                return r;
        }
        return 0;
}

void cat_rollback(cat_catalog *cat)
{
        if (!sqlite3_get_autocommit(cat->db))
                sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
}

int64_t cat_now(void)
{
        return (int64_t)time(NULL);
}

void cat_uuid_new(char out[CAT_UUID_STRLEN])
{
        uuid_t u;

        uuid_generate(u);
        uuid_unparse_lower(u, out);
}

bool cat_uuid_valid(const char *s)
{
        uuid_t u;

        return s && strlen(s) == CAT_UUID_STRLEN - 1 && uuid_parse(s, u) == 0;
}

char *cat_column_strdup(sqlite3_stmt *stmt, int col)
{
        const unsigned char *s = sqlite3_column_text(stmt, col);

        return s ? strdup((const char *)s) : NULL;
}

void cat_copy_id(char dst[CAT_UUID_STRLEN], sqlite3_stmt *stmt, int col)
{
        const unsigned char *s = sqlite3_column_text(stmt, col);

        snprintf(dst, CAT_UUID_STRLEN, "%s", s ? (const char *)s : "");
}

static int pragma_int(cat_catalog *cat, const char *sql, int64_t *ret,
                      char **reterr)
{
        sqlite3_stmt *stmt;
        int r, rc;

        r = cat_prepare(cat, sql, &stmt, reterr);
        if (r < 0)
                return r;
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
                *ret = sqlite3_column_int64(stmt, 0);
                r = 0;
        } else {
                r = cat_sql_err(cat, reterr, rc, "cannot read the catalog");
        }
        sqlite3_finalize(stmt);
        return r;
}

/*
 * Bring the schema to CAT_SCHEMA_VERSION.  The version is read again after
 * BEGIN IMMEDIATE so that several processes opening a new catalog at once
 * migrate it exactly once.
 */
static int migrate(cat_catalog *cat, char **reterr)
{
        int64_t version = 0, app_id = 0, tables = 0;
        char sql[64];
        int r;

        r = pragma_int(cat, "PRAGMA user_version", &version, reterr);
        if (r < 0)
                return r;
        if (version > CAT_SCHEMA_VERSION)
                return cat_err(reterr, -EPROTO, "the catalog '%s' has schema "
                               "version %lld, newer than %d", cat->path,
                               (long long)version, CAT_SCHEMA_VERSION);
        if (version == CAT_SCHEMA_VERSION)
                return 0;
        if (cat->read_only)
                return cat_err(reterr, -EROFS, "the catalog '%s' is read-only "
                               "and needs a schema upgrade", cat->path);

        r = cat_begin(cat, reterr);
        if (r < 0)
                return r;
        r = pragma_int(cat, "PRAGMA user_version", &version, reterr);
        if (r < 0)
                goto fail;
        r = pragma_int(cat, "PRAGMA application_id", &app_id, reterr);
        if (r < 0)
                goto fail;
        r = pragma_int(cat, "SELECT count(*) FROM sqlite_master", &tables,
                       reterr);
        if (r < 0)
                goto fail;
        if (version > CAT_SCHEMA_VERSION) {
                r = cat_err(reterr, -EPROTO, "the catalog '%s' has schema "
                            "version %lld, newer than %d", cat->path,
                            (long long)version, CAT_SCHEMA_VERSION);
                goto fail;
        }
        if ((version == 0 && tables > 0) ||
            (app_id != 0 && app_id != CAT_APPLICATION_ID)) {
                r = cat_err(reterr, -EBADMSG, "'%s' is not a vfolderfs "
                            "catalog", cat->path);
                goto fail;
        }
        if (version == CAT_SCHEMA_VERSION) {
                /* Another process migrated it meanwhile. */
                cat_rollback(cat);
                return 0;
        }
        for (; version < CAT_SCHEMA_VERSION; version++) {
                r = cat_exec(cat, schema_steps[version], reterr);
                if (r < 0)
                        goto fail;
        }
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
                 CAT_SCHEMA_VERSION);
        r = cat_exec(cat, sql, reterr);
        if (r < 0)
                goto fail;
        snprintf(sql, sizeof(sql), "PRAGMA application_id = %d",
                 CAT_APPLICATION_ID);
        r = cat_exec(cat, sql, reterr);
        if (r < 0)
                goto fail;
        return cat_commit(cat, reterr);
fail:
        cat_rollback(cat);
        return r;
}

static int set_pragmas(cat_catalog *cat, char **reterr)
{
        int r, rc;

        rc = sqlite3_busy_timeout(cat->db, CAT_BUSY_TIMEOUT_MS);
        if (rc != SQLITE_OK)
                return cat_sql_err(cat, reterr, rc, "cannot open the catalog");
        r = cat_exec(cat, "PRAGMA foreign_keys = ON", reterr);
        if (r < 0)
                return r;
        /*
         * FULL: every commit is fsynced, so a folder whose backing directory
         * exists is not forgotten after a power cut.  WAL with NORMAL
         * would survive a killed process but not a lost machine; catalog
         * writes are rare enough that the extra fsync costs nothing.
         */
        r = cat_exec(cat, "PRAGMA synchronous = FULL", reterr);
        if (r < 0)
                return r;
        return 0;
}

/*
 * Refuse a file that is not ours before anything is written to it: not even
 * the journal mode of somebody else's database may change.
 */
static int check_identity(cat_catalog *cat, char **reterr)
{
        int64_t version, app_id, tables;
        sqlite3_stmt *stmt;
        int r, rc;

        /*
         * One statement, so one snapshot: read one by one, the values could
         * straddle another process's first migration and look foreign.
         */
        r = cat_prepare(cat, "SELECT (SELECT application_id FROM"
                        " pragma_application_id), (SELECT user_version FROM"
                        " pragma_user_version), (SELECT count(*) FROM"
                        " sqlite_master)", &stmt, reterr);
        if (r < 0)
                return r;
        rc = step_patiently(stmt);
        if (rc != SQLITE_ROW) {
                r = cat_sql_err(cat, reterr, rc, "cannot read the catalog");
                sqlite3_finalize(stmt);
                return r;
        }
        app_id = sqlite3_column_int64(stmt, 0);
        version = sqlite3_column_int64(stmt, 1);
        tables = sqlite3_column_int64(stmt, 2);
        sqlite3_finalize(stmt);
        if ((app_id != 0 && app_id != CAT_APPLICATION_ID) ||
            (version == 0 && tables > 0))
                return cat_err(reterr, -EBADMSG, "'%s' is not a vfolderfs "
                               "catalog", cat->path);
        if (version > CAT_SCHEMA_VERSION)
                return cat_err(reterr, -EPROTO, "the catalog '%s' has schema "
                               "version %lld, newer than %d", cat->path,
                               (long long)version, CAT_SCHEMA_VERSION);
        return 0;
}

static int set_wal(cat_catalog *cat, char **reterr)
{
        sqlite3_stmt *stmt;
        int r, rc;

        if (cat->read_only)
                return 0;
        r = cat_prepare(cat, "PRAGMA journal_mode = WAL", &stmt, reterr);
        if (r < 0)
                return r;
        rc = step_patiently(stmt);
        if (rc != SQLITE_ROW)
                r = cat_sql_err(cat, reterr, rc, "cannot open the catalog");
        sqlite3_finalize(stmt);
        return r;
}

/*
 * A WAL catalog on a read-only file system cannot be read without its -shm
 * file, which cannot be created there.  Such a catalog is then read as an
 * immutable snapshot; every write still fails with -EROFS.
 */
static int open_read_only(cat_catalog *cat, char **reterr)
{
        static const char hex[] = "0123456789abcdef";
        sqlite3_stmt *stmt = NULL;
        char *uri, *u;
        int rc;

        rc = sqlite3_prepare_v2(cat->db, "SELECT count(*) FROM sqlite_master",
                                -1, &stmt, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(stmt);
        sqlite3_finalize(stmt);
        if ((rc & 0xff) != SQLITE_CANTOPEN)
                return 0;

        uri = malloc(strlen(cat->path) * 3 + sizeof("file:?immutable=1"));
        if (!uri)
                return cat_oom(reterr);
        u = stpcpy(uri, "file:");
        for (const unsigned char *p = (const unsigned char *)cat->path; *p;
             p++) {
                if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 ||
                    *p >= 0x7f) {
                        *u++ = '%';
                        *u++ = hex[*p >> 4];
                        *u++ = hex[*p & 15];
                } else {
                        *u++ = (char)*p;
                }
        }
        strcpy(u, "?immutable=1");
        sqlite3_close_v2(cat->db);
        cat->db = NULL;
        rc = sqlite3_open_v2(uri, &cat->db, SQLITE_OPEN_READONLY |
                             SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
        free(uri);
        if (rc != SQLITE_OK) {
                if (!cat->db)
                        return cat_oom(reterr);
                return cat_err(reterr, -EROFS, "the catalog '%s' is "
                               "read-only and cannot be read: %s", cat->path,
                               sqlite3_errmsg(cat->db));
        }
        sqlite3_extended_result_codes(cat->db, 1);
        return 0;
}

int cat_open(const char *path, unsigned flags, cat_catalog **ret_cat,
             char **reterr)
{
        cat_catalog *cat;
        struct stat st;
        int oflags, rc, r;

        if (!path)
                path = getenv("VFOLDERFS_CATALOG");
        if (!path || !*path)
                path = CAT_DEFAULT_PATH;

        if (stat(path, &st) < 0) {
                int fd;

                if (errno != ENOENT || !(flags & CAT_OPEN_CREATE))
                        return cat_err(reterr, -errno, "cannot open '%s': %s",
                                       path, strerror(errno));
                /*
                 * It names every user, folder and share: made here, 0600,
                 * whatever the umask; SQLite gives its -wal and -shm the
                 * same mode.
                 */
                fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                          O_CLOEXEC, CAT_PRIVATE_FILE_MODE);
                if (fd < 0 && errno != EEXIST)
                        return cat_err(reterr, -errno, "cannot create '%s': "
                                       "%s", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
        } else if (S_ISDIR(st.st_mode)) {
                return cat_err(reterr, -EISDIR, "cannot open '%s': %s", path,
                               strerror(EISDIR));
        } else if (st.st_size == 0 && !(flags & CAT_OPEN_CREATE)) {
                /* SQLite would silently make a new catalog in it. */
                return cat_err(reterr, -EBADMSG, "cannot open '%s': the file "
                               "is empty, not a vfolderfs catalog", path);
        }

        cat = calloc(1, sizeof(*cat));
        if (!cat)
                return cat_oom(reterr);
        cat->path = strdup(path);
        if (!cat->path) {
                r = cat_oom(reterr);
                goto fail;
        }
        oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
        if (flags & CAT_OPEN_CREATE)
                oflags |= SQLITE_OPEN_CREATE;
        rc = sqlite3_open_v2(path, &cat->db, oflags, NULL);
        if (rc != SQLITE_OK) {
                if (!cat->db) {
                        r = cat_oom(reterr);
                        goto fail;
                }
                r = cat_errno_from_sqlite(rc, sqlite3_system_errno(cat->db));
                r = cat_err(reterr, r ? r : -EIO, "cannot open '%s': %s",
                            path, sqlite3_errmsg(cat->db));
                goto fail;
        }
        sqlite3_extended_result_codes(cat->db, 1);
        /* SQLite silently falls back to read-only when it cannot write. */
        cat->read_only = sqlite3_db_readonly(cat->db, "main") == 1;
        if (cat->read_only) {
                r = open_read_only(cat, reterr);
                if (r < 0)
                        goto fail;
        }

        r = set_pragmas(cat, reterr);
        if (r < 0)
                goto fail_msg;
        r = check_identity(cat, reterr);
        if (r < 0)
                goto fail_msg;
        r = set_wal(cat, reterr);
        if (r < 0)
                goto fail_msg;
        r = migrate(cat, reterr);
        if (r < 0)
                goto fail_msg;
        *ret_cat = cat;
        return 0;

fail_msg:
        if (r == -EBADMSG && reterr && *reterr) {
                free(*reterr);
                r = cat_err(reterr, r, "'%s' is not a vfolderfs catalog",
                            path);
        }
fail:
        cat_close(cat);
        return r;
}

void cat_close(cat_catalog *cat)
{
        if (!cat)
                return;
        sqlite3_close_v2(cat->db);
        free(cat->path);
        free(cat);
}

const char *cat_path(const cat_catalog *cat)
{
        return cat->path;
}

int cat_data_version(cat_catalog *cat, int64_t *ret_version)
{
        int64_t v = 0;
        int r;

        r = pragma_int(cat, "PRAGMA data_version", &v, NULL);
        if (r < 0)
                return r;
        *ret_version = v;
        return 0;
}

/* ------------------------------------------------------------------------- */

static const char *const perm_names[] = { "none", "ro", "rw", "wd" };
static const char *const status_names[] = { "ready", "trash" };
static const char *const owner_type_names[] = { "user", "project" };
static const char *const usage_mode_names[] = { "general", "model", "data" };

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static int lookup(const char *const *names, size_t n, const char *s)
{
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (strcmp(names[i], s) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *cat_perm_to_string(enum cat_perm perm)
{
        return (unsigned)perm < ELEMENTSOF(perm_names) ? perm_names[perm]
                                                        : "none";
}

int cat_perm_from_string(const char *s, enum cat_perm *ret_perm)
{
        int i = lookup(perm_names, ELEMENTSOF(perm_names), s);

        if (i < 0)
                return i;
        *ret_perm = (enum cat_perm)i;
        return 0;
}

const char *cat_status_to_string(enum cat_status status)
{
        return (unsigned)status < ELEMENTSOF(status_names)
                       ? status_names[status] : "ready";
}

int cat_status_from_string(const char *s, enum cat_status *ret_status)
{
        int i = lookup(status_names, ELEMENTSOF(status_names), s);

        if (i < 0)
                return i;
        *ret_status = (enum cat_status)i;
        return 0;
}

const char *cat_owner_type_to_string(enum cat_owner_type type)
{
        return (unsigned)type < ELEMENTSOF(owner_type_names)
                       ? owner_type_names[type] : "user";
}

int cat_owner_type_from_string(const char *s, enum cat_owner_type *ret_type)
{
        int i = lookup(owner_type_names, ELEMENTSOF(owner_type_names), s);

        if (i < 0)
                return i;
        *ret_type = (enum cat_owner_type)i;
        return 0;
}

const char *cat_usage_mode_to_string(enum cat_usage_mode mode)
{
        return (unsigned)mode < ELEMENTSOF(usage_mode_names)
                       ? usage_mode_names[mode] : "general";
}

int cat_usage_mode_from_string(const char *s, enum cat_usage_mode *ret_mode)
{
        int i = lookup(usage_mode_names, ELEMENTSOF(usage_mode_names), s);

        if (i < 0)
                return i;
        *ret_mode = (enum cat_usage_mode)i;
        return 0;
}
