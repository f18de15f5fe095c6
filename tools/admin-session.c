/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-session.c - the commands about running things: `session create`
 * (record a session a daemon will start with source session:ID), `session
 * list` (after ending stale sessions of this host), `session end` (asking a
 * live daemon on this host to stop first), `mount list`, and `fsck`, which
 * compares the catalog with the storage hosts.
 */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long `session end` waits for a daemon to end its own session. */
#define END_WAIT_MS 10000
#define END_POLL_MS 100

/* ---------------------------------------------------------------------------
 * Output.
 */
static const char *const session_headers[] = {
        "ID", "USER", "MOUNTPOINT", "PID", "HOSTNAME", "STARTED_AT", "ENDED_AT",
};
static const char *const mount_headers[] = {
        "SESSION", "FOLDER", "NAME", "TARGET", "PERMISSION",
};
static const char *const fsck_headers[] = { "KIND", "SUBJECT", "REPAIRED", "DETAIL" };

void admin_json_session(struct json *j, const struct cat_session *s)
{
        json_object_begin(j);
        json_kv_string(j, "id", s->id);
        json_kv_string(j, "user", s->user_name);
        json_kv_string(j, "mountpoint", s->mountpoint);
        if (s->pid > 0)
                json_kv_int(j, "pid", s->pid);
        else
                json_kv_null(j, "pid");
        json_kv_string(j, "hostname", s->hostname);
        json_kv_time(j, "started_at", s->started_at);
        json_kv_time(j, "ended_at", s->ended_at);
        json_object_end(j);
}

static void table_session(struct table *t, const struct cat_session *s)
{
        char pid[24], started[ADMIN_TIME_LEN], ended[ADMIN_TIME_LEN];
        const char *cells[] = {
                s->id, s->user_name, s->mountpoint, s->pid > 0 ? pid : NULL,
                s->hostname, admin_format_time(s->started_at, started),
                admin_format_time(s->ended_at, ended),
        };

        snprintf(pid, sizeof(pid), "%ld", (long)s->pid);
        table_add(t, cells);
}

void admin_print_session(struct admin_ctx *ctx, const struct cat_session *s)
{
        ADMIN_PRINT_ONE(ctx, session_headers, 7, admin_json_session, table_session, s);
}

static void json_mount(struct json *j, const struct cat_mount *m)
{
        json_object_begin(j);
        json_kv_string(j, "session", m->session_id);
        json_kv_string(j, "folder", m->folder_id);
        json_kv_string(j, "name", m->folder_name);
        json_kv_string(j, "target", m->target);
        json_kv_string(j, "permission", cat_perm_to_string(m->permission));
        json_object_end(j);
}

static void table_mount(struct table *t, const struct cat_mount *m)
{
        const char *cells[] = {
                m->session_id, m->folder_id, m->folder_name, m->target,
                cat_perm_to_string(m->permission),
        };

        table_add(t, cells);
}

static const char *fsck_kind_to_string(enum cat_fsck_kind kind)
{
        switch (kind) {
        case CAT_FSCK_INTEGRITY: return "integrity";
        case CAT_FSCK_MISSING_BACKING: return "missing-backing";
        case CAT_FSCK_ORPHAN_DIR: return "orphan-dir";
        case CAT_FSCK_STALE_SESSION: return "stale-session";
        case CAT_FSCK_USAGE_DRIFT: return "usage-drift";
        case CAT_FSCK_LOOSE_MODE: return "loose-mode";
        }
        return "unknown";
}

static void json_issue(struct json *j, const struct cat_fsck_issue *i)
{
        json_object_begin(j);
        json_kv_string(j, "kind", fsck_kind_to_string(i->kind));
        json_kv_string(j, "subject", i->subject);
        json_kv_string(j, "detail", i->detail);
        json_kv_bool(j, "repaired", i->repaired);
        json_object_end(j);
}

static void table_issue(struct table *t, const struct cat_fsck_issue *i)
{
        const char *cells[] = {
                fsck_kind_to_string(i->kind), i->subject,
                i->repaired ? "yes" : "no", i->detail,
        };

        table_add(t, cells);
}

/* ---------------------------------------------------------------------------
 * session create.
 */
enum {
        OPT_USER = ADMIN_OPT_FIRST_FREE,
        OPT_MOUNT,
        OPT_ALL,
        OPT_SESSION,
        OPT_FOLDER,
        OPT_REPAIR,
};

static void free_requests(struct cat_mount_request *reqs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                cat_mount_request_release(&reqs[i]);
        free(reqs);
}

static int run_session_create(struct admin_ctx *ctx,
                              const struct admin_command *cmd, int argc,
                              char **argv)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "user", required_argument, NULL, OPT_USER },
                { "mount", required_argument, NULL, OPT_MOUNT },
                { 0 },
        };
        struct cat_mount_request *reqs = NULL;
        struct cat_session *session = NULL;
        char id[CAT_UUID_STRLEN], *err = NULL;
        const char *user = NULL, **specs;
        size_t n = 0, nspecs = 0;
        cat_catalog *cat;
        int c, r;

        /* --mount values are parsed once --user is known, for the message. */
        specs = xcalloc((size_t)argc, sizeof(*specs));
        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == OPT_USER) {
                        user = optarg;
                } else if (c == OPT_MOUNT) {
                        specs[nspecs++] = optarg;
                } else if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE) {
                        free(specs);
                        return r;
                }
        }
        r = admin_check_args(cmd, argc, argv, 0, 0, NULL);
        if (r == ADMIN_CONTINUE && !user)
                r = admin_usage_error("%s: missing option --user", cmd->path);
        if (r != ADMIN_CONTINUE) {
                free(specs);
                return r;
        }
        reqs = xcalloc(nspecs, sizeof(*reqs));
        for (r = 0; n < nspecs && r == 0; n++) {
                r = cat_mount_request_parse(specs[n], &reqs[n], &err);
                if (r < 0)
                        r = admin_fail(r, err, "cannot create a session for user '%s'", user);
        }
        if (r == 0 && (r = admin_catalog(ctx, &cat)) == 0) {
                r = cat_session_create(cat, user, reqs, n, id, &err);
                if (r < 0)
                        r = admin_fail(r, err, "cannot create a session for user '%s'", user);
                else if (!ctx->json)
                        puts(id);
                else if ((r = cat_session_get(cat, id, &session, &err)) < 0)
                        r = admin_fail(r, err, "cannot read session '%s'", id);
                else
                        admin_print_session(ctx, session);
        }
        free(specs);
        cat_session_free(session);
        free_requests(reqs, n);
        return r;
}

/* ---------------------------------------------------------------------------
 * session list, session end.
 */

/* End stale sessions of this host; a failure only warns. */
static void reap_stale(cat_catalog *cat)
{
        char host[HOST_NAME_MAX + 1], *err = NULL;
        int r;

        if ((r = admin_hostname(host, sizeof(host))) < 0) {
                admin_warn("cannot end stale sessions: cannot get the host name: %s",
                           strerror(-r));
                return;
        }
        r = cat_session_reap(cat, host, NULL, &err);
        if (r < 0)
                admin_warn("cannot end stale sessions: %s", err ? err : strerror(-r));
        free(err);
}

static int run_session_list(struct admin_ctx *ctx,
                            const struct admin_command *cmd, int argc,
                            char **argv)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "all", no_argument, NULL, OPT_ALL },
                { 0 },
        };
        struct cat_session *sessions = NULL;
        bool all = false;
        cat_catalog *cat;
        char *err = NULL;
        size_t n = 0;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":ha", opts, NULL)) != -1) {
                if (c == OPT_ALL || c == 'a')
                        all = true;
                else if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                        return r;
        }
        if ((r = admin_check_args(cmd, argc, argv, 0, 0, NULL)) != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        reap_stale(cat);
        r = cat_session_list(cat, all, &sessions, &n, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot list sessions");
        ADMIN_PRINT_LIST(ctx, session_headers, 7, admin_json_session, table_session,
                         sessions, n);
        cat_session_list_free(sessions, n);
        return 0;
}

/* True when pid is a live process named "vfolderfs". */
static bool is_vfolderfs_daemon(pid_t pid)
{
        char path[64], comm[32] = "";
        size_t len;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        if (!fgets(comm, sizeof(comm), f))
                comm[0] = '\0';
        fclose(f);
        len = strlen(comm);
        if (len > 0 && comm[len - 1] == '\n')
                comm[len - 1] = '\0';
        return strcmp(comm, "vfolderfs") == 0;
}

/*
 * Ask the daemon running session s on this host to stop, and wait for it to
 * end the session.  Returns true when the session ended meanwhile.
 */
static bool stop_daemon(cat_catalog *cat, const struct cat_session *s)
{
        char host[HOST_NAME_MAX + 1];
        struct timespec pause = { 0, END_POLL_MS * 1000000L };

        if (s->pid <= 0 || !s->hostname || admin_hostname(host, sizeof(host)) < 0 ||
            strcmp(host, s->hostname) != 0 || !is_vfolderfs_daemon(s->pid))
                return false;
        if (kill(s->pid, SIGTERM) < 0)
                return false;
        for (int waited = 0; waited < END_WAIT_MS; waited += END_POLL_MS) {
                struct cat_session *now = NULL;
                bool ended;

                nanosleep(&pause, NULL);
                if (cat_session_get(cat, s->id, &now, NULL) < 0)
                        return false;
                ended = now->ended_at != 0;
                cat_session_free(now);
                if (ended)
                        return true;
        }
        admin_warn("the daemon of session '%s' (pid %ld) did not end it within %d s",
                   s->id, (long)s->pid, END_WAIT_MS / 1000);
        return false;
}

static int run_session_end(struct admin_ctx *ctx,
                           const struct admin_command *cmd, int argc,
                           char **argv)
{
        static const char *const names[] = { "ID" };
        struct cat_session *s = NULL;
        const char *id;
        cat_catalog *cat;
        char *err = NULL;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 1, 1, names)) != ADMIN_CONTINUE)
                return r;
        id = argv[optind];
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_session_get(cat, id, &s, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot end session '%s'", id);
        if (s->ended_at != 0) {
                cat_session_free(s);
                return admin_failx("the session has already ended",
                                   "cannot end session '%s'", id);
        }
        if (!stop_daemon(cat, s)) {
                r = cat_session_end(cat, s->id, &err);
                /* The daemon may have ended it just now. */
                if (r == -EALREADY) {
                        free(err);
                        err = NULL;
                        r = 0;
                }
                if (r < 0) {
                        cat_session_free(s);
                        return admin_fail(r, err, "cannot end session '%s'", id);
                }
        }
        cat_session_free(s);
        s = NULL;
        if (!ctx->json)
                return 0;
        r = cat_session_get(cat, id, &s, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot read session '%s'", id);
        admin_print_session(ctx, s);
        cat_session_free(s);
        return 0;
}

static const struct admin_command session_sub[] = {
        { .name = "create", .path = "session create",
          .synopsis = "--user U [--mount REF[:TARGET][:PERM]]...",
          .help = "Record a session for user U that a daemon will run with source\n"
                  "session:ID, and print its id.  Each --mount asks for a folder\n"
                  "(UUID or name, among U's folders), optionally at TARGET (relative\n"
                  "to /home/work, or absolute) and with a permission PERM (ro, rw or\n"
                  "wd) not above U's.  Automount folders ('.name') are added when the\n"
                  "daemon starts.  With --json, prints the session.\n\n"
                  "Options:\n"
                  "      --user U                    the session's user\n"
                  "      --mount REF[:TARGET][:PERM] a folder to mount (repeatable)",
          .run = run_session_create },
        { .name = "list", .path = "session list", .synopsis = "[--all]",
          .help = "List live sessions (with --all, ended ones too), oldest first,\n"
                  "after ending the sessions of this host whose daemon is gone.\n\n"
                  "Options:\n"
                  "  -a, --all           include ended sessions",
          .run = run_session_list },
        { .name = "end", .path = "session end", .synopsis = "ID",
          .help = "End a session.  If its daemon runs on this host it gets SIGTERM and\n"
                  "up to 10 seconds to unmount and end the session itself; otherwise\n"
                  "(or then) the session is ended in the catalog and its scratch\n"
                  "directory removed.  Prints nothing (with --json: the session).",
          .run = run_session_end },
        { 0 },
};

const struct admin_command admin_session_cmd = {
        .name = "session", .path = "session", .synopsis = "", .help = "",
        .sub = session_sub,
};

/* ---------------------------------------------------------------------------
 * mount list.
 */
static int run_mount_list(struct admin_ctx *ctx, const struct admin_command *cmd,
                          int argc, char **argv)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "session", required_argument, NULL, OPT_SESSION },
                { "folder", required_argument, NULL, OPT_FOLDER },
                { 0 },
        };
        const char *session = NULL, *folder = NULL;
        struct cat_mount *mounts = NULL;
        cat_catalog *cat;
        char *err = NULL;
        size_t n = 0;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == OPT_SESSION)
                        session = optarg;
                else if (c == OPT_FOLDER)
                        folder = optarg;
                else if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                        return r;
        }
        if ((r = admin_check_args(cmd, argc, argv, 0, 0, NULL)) != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_mount_list(cat, session, folder, &mounts, &n, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot list mounts");
        ADMIN_PRINT_LIST(ctx, mount_headers, 5, json_mount, table_mount, mounts, n);
        cat_mount_list_free(mounts, n);
        return 0;
}

static const struct admin_command mount_sub[] = {
        { .name = "list", .path = "mount list",
          .synopsis = "[--session ID] [--folder REF]",
          .help = "List the mounts of live sessions, by session then target.\n\n"
                  "Options:\n"
                  "      --session ID    only this session's mounts\n"
                  "      --folder REF    only the mounts of this folder",
          .run = run_mount_list },
        { 0 },
};

const struct admin_command admin_mount_cmd = {
        .name = "mount", .path = "mount", .synopsis = "", .help = "",
        .sub = mount_sub,
};

/* ---------------------------------------------------------------------------
 * fsck.
 */
static int run_fsck(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "repair", no_argument, NULL, OPT_REPAIR },
                { 0 },
        };
        char host[HOST_NAME_MAX + 1], *err = NULL, *why;
        struct cat_fsck_issue *issues = NULL;
        bool repair = false;
        size_t n = 0, left = 0;
        cat_catalog *cat;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == OPT_REPAIR)
                        repair = true;
                else if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                        return r;
        }
        if ((r = admin_check_args(cmd, argc, argv, 0, 0, NULL)) != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        if ((r = admin_hostname(host, sizeof(host))) < 0)
                return admin_fail(r, NULL, "cannot check catalog '%s'",
                                  admin_catalog_path(ctx));
        r = cat_fsck(cat, host, repair, &issues, &n, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot check catalog '%s'",
                                  admin_catalog_path(ctx));
        /* SPEC: fsck ends stale sessions of this host even without --repair. */
        for (size_t i = 0; i < n; i++) {
                if (issues[i].kind != CAT_FSCK_STALE_SESSION || issues[i].repaired)
                        continue;
                r = cat_session_end(cat, issues[i].subject, &err);
                if (r == 0 || r == -EALREADY)
                        issues[i].repaired = true;
                free(err);
                err = NULL;
        }
        ADMIN_PRINT_LIST(ctx, fsck_headers, 4, json_issue, table_issue, issues, n);
        for (size_t i = 0; i < n; i++)
                left += !issues[i].repaired;
        cat_fsck_issue_list_free(issues, n);
        if (left == 0)
                return 0;
        fflush(stdout);
        why = xasprintf("%zu issue%s not repaired", left, left == 1 ? "" : "s");
        admin_failx(why, "fsck of catalog '%s'", admin_catalog_path(ctx));
        free(why);
        return 1;
}

const struct admin_command admin_fsck_cmd = {
        .name = "fsck", .path = "fsck", .synopsis = "[--repair]",
        .help = "Check the catalog against the storage hosts and print every issue:\n"
                "integrity (SQLite integrity check), missing-backing (a folder whose\n"
                "directory is gone), orphan-dir (a directory in the backing layout no\n"
                "folder owns), stale-session (a live session of this host whose\n"
                "daemon is gone), usage-drift (a quota folder's usage counter that\n"
                "differs from its files), loose-mode (the catalog, a directory above\n"
                "the folders or a scratch root that other users of the host can\n"
                "read).  Stale sessions are always ended.  A damaged catalog gets\n"
                "only its integrity issues listed.  With --repair, missing backing\n"
                "directories are recreated empty, drifted usage counters recounted\n"
                "and loose modes tightened (0700 directories, 0600 catalog);\n"
                "orphan directories are never removed.  Exits 1 when an issue is\n"
                "left unrepaired.\n\n"
                "Options:\n"
                "      --repair        repair what can be repaired",
        .run = run_fsck,
};
