/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-entities.c - the commands for the things folders belong to: storage
 * hosts (`host add|list`), users (`user add|list`) and projects
 * (`project add|list`, `project member add|remove`), with their table and
 * JSON output.
 */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Output.
 */
static const char *const host_headers[] = { "NAME", "ROOT" };
static const char *const user_headers[] = { "NAME", "ID", "UID", "GID" };
static const char *const project_headers[] = { "NAME", "ID", "MEMBERS" };

static void json_host(struct json *j, const struct cat_host *h)
{
        json_object_begin(j);
        json_kv_string(j, "name", h->name);
        json_kv_string(j, "root", h->root);
        json_object_end(j);
}

static void table_host(struct table *t, const struct cat_host *h)
{
        const char *cells[] = { h->name, h->root };

        table_add(t, cells);
}

static void json_user(struct json *j, const struct cat_user *u)
{
        /* SPEC's fields plus id (documented): the backing scope is user-<id>. */
        json_object_begin(j);
        json_kv_string(j, "id", u->id);
        json_kv_string(j, "name", u->name);
        json_kv_int(j, "uid", u->uid);
        json_kv_int(j, "gid", u->gid);
        json_object_end(j);
}

static void table_user(struct table *t, const struct cat_user *u)
{
        char uid[16], gid[16];
        const char *cells[] = { u->name, u->id, uid, gid };

        snprintf(uid, sizeof(uid), "%u", (unsigned)u->uid);
        snprintf(gid, sizeof(gid), "%u", (unsigned)u->gid);
        table_add(t, cells);
}

static void json_project(struct json *j, const struct cat_project *p)
{
        json_object_begin(j);
        json_kv_string(j, "id", p->id);
        json_kv_string(j, "name", p->name);
        json_key(j, "members");
        json_array_begin(j);
        for (char **m = p->members; m && *m; m++)
                json_string(j, *m);
        json_array_end(j);
        json_object_end(j);
}

static void table_project(struct table *t, const struct cat_project *p)
{
        size_t len = 1;
        char *members;
        const char *cells[3];

        for (char **m = p->members; m && *m; m++)
                len += strlen(*m) + 1;
        members = xmalloc(len);
        members[0] = '\0';
        for (char **m = p->members; m && *m; m++) {
                if (m != p->members)
                        strcat(members, ",");
                strcat(members, *m);
        }
        cells[0] = p->name;
        cells[1] = p->id;
        cells[2] = members[0] ? members : NULL;
        table_add(t, cells);
        free(members);
}

/* ---------------------------------------------------------------------------
 * host.
 */
static int run_host_add(struct admin_ctx *ctx, const struct admin_command *cmd,
                        int argc, char **argv)
{
        static const char *const names[] = { "NAME", "ROOT" };
        struct cat_host *host = NULL;
        cat_catalog *cat;
        const char *name, *root;
        char *err = NULL;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 2, 2, names)) != ADMIN_CONTINUE)
                return r;
        name = argv[optind];
        root = argv[optind + 1];
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_host_add(cat, name, root, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot add host '%s'", name);
        r = cat_host_get(cat, name, &host, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot read host '%s'", name);
        ADMIN_PRINT_ONE(ctx, host_headers, 2, json_host, table_host, host);
        cat_host_free(host);
        return 0;
}

static int run_host_list(struct admin_ctx *ctx, const struct admin_command *cmd,
                         int argc, char **argv)
{
        struct cat_host *hosts = NULL;
        cat_catalog *cat;
        char *err = NULL;
        size_t n = 0;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 0, 0, NULL)) != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_host_list(cat, &hosts, &n, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot list hosts");
        ADMIN_PRINT_LIST(ctx, host_headers, 2, json_host, table_host, hosts, n);
        cat_host_list_free(hosts, n);
        return 0;
}

static const struct admin_command host_sub[] = {
        { .name = "add", .path = "host add", .synopsis = "NAME ROOT",
          .help = "Register a storage host: NAME (letters, digits, '.', '_', '-')\n"
                  "and ROOT, the absolute path of an existing directory under which\n"
                  "the folders of this host are stored.  Prints the host.",
          .run = run_host_add },
        { .name = "list", .path = "host list", .synopsis = "",
          .help = "List the storage hosts.",
          .run = run_host_list },
        { 0 },
};

const struct admin_command admin_host_cmd = {
        .name = "host", .path = "host", .synopsis = "", .help = "", .sub = host_sub,
};

/* ---------------------------------------------------------------------------
 * user.
 */

/* A container uid or gid: decimal, 0 .. 2^32 - 2 ((uid_t)-1 means "unset"). */
static int parse_id(const struct admin_command *cmd, const char *what,
                    const char *s, uint32_t *ret)
{
        unsigned long long v;
        char *end;

        errno = 0;
        if (s[0] < '0' || s[0] > '9')
                goto bad;
        v = strtoull(s, &end, 10);
        if (errno || *end || v >= UINT32_MAX)
                goto bad;
        *ret = (uint32_t)v;
        return 0;
bad:
        return admin_usage_error("%s: invalid %s '%s'", cmd->path, what, s);
}

static int run_user_add(struct admin_ctx *ctx, const struct admin_command *cmd,
                        int argc, char **argv)
{
        enum { OPT_UID = ADMIN_OPT_FIRST_FREE, OPT_GID };
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "uid", required_argument, NULL, OPT_UID },
                { "gid", required_argument, NULL, OPT_GID },
                { 0 },
        };
        static const char *const names[] = { "NAME" };
        uint32_t uid = (uint32_t)-1, gid = (uint32_t)-1;
        struct cat_user *user = NULL;
        cat_catalog *cat;
        char *err = NULL;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                switch (c) {
                case OPT_UID:
                        if ((r = parse_id(cmd, "uid", optarg, &uid)))
                                return r;
                        break;
                case OPT_GID:
                        if ((r = parse_id(cmd, "gid", optarg, &gid)))
                                return r;
                        break;
                default:
                        if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                                return r;
                }
        }
        if ((r = admin_check_args(cmd, argc, argv, 1, 1, names)) != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_user_add(cat, argv[optind], (uid_t)uid, (gid_t)gid, &user, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot add user '%s'", argv[optind]);
        ADMIN_PRINT_ONE(ctx, user_headers, 4, json_user, table_user, user);
        cat_user_free(user);
        return 0;
}

static int run_user_list(struct admin_ctx *ctx, const struct admin_command *cmd,
                         int argc, char **argv)
{
        struct cat_user *users = NULL;
        cat_catalog *cat;
        char *err = NULL;
        size_t n = 0;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 0, 0, NULL)) != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_user_list(cat, &users, &n, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot list users");
        ADMIN_PRINT_LIST(ctx, user_headers, 4, json_user, table_user, users, n);
        cat_user_list_free(users, n);
        return 0;
}

static const struct admin_command user_sub[] = {
        { .name = "add", .path = "user add", .synopsis = "NAME [--uid N] [--gid N]",
          .help = "Register a user.  --uid and --gid give the container uid and gid\n"
                  "the user's files appear as inside a session (default 1000).\n"
                  "Prints the user.\n\n"
                  "Options:\n"
                  "      --uid N         container uid (decimal)\n"
                  "      --gid N         container gid (decimal)",
          .run = run_user_add },
        { .name = "list", .path = "user list", .synopsis = "",
          .help = "List the users.",
          .run = run_user_list },
        { 0 },
};

const struct admin_command admin_user_cmd = {
        .name = "user", .path = "user", .synopsis = "", .help = "", .sub = user_sub,
};

/* ---------------------------------------------------------------------------
 * project.
 */
static int run_project_add(struct admin_ctx *ctx, const struct admin_command *cmd,
                           int argc, char **argv)
{
        static const char *const names[] = { "NAME" };
        struct cat_project *project = NULL;
        cat_catalog *cat;
        char *err = NULL;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 1, 1, names)) != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_project_add(cat, argv[optind], &project, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot add project '%s'", argv[optind]);
        ADMIN_PRINT_ONE(ctx, project_headers, 3, json_project, table_project, project);
        cat_project_free(project);
        return 0;
}

static int run_project_list(struct admin_ctx *ctx, const struct admin_command *cmd,
                            int argc, char **argv)
{
        struct cat_project *projects = NULL;
        cat_catalog *cat;
        char *err = NULL;
        size_t n = 0;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 0, 0, NULL)) != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_project_list(cat, &projects, &n, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot list projects");
        ADMIN_PRINT_LIST(ctx, project_headers, 3, json_project, table_project,
                         projects, n);
        cat_project_list_free(projects, n);
        return 0;
}

static int run_member(struct admin_ctx *ctx, const struct admin_command *cmd,
                      int argc, char **argv, bool add)
{
        static const char *const names[] = { "PROJECT", "USER" };
        struct cat_project *project = NULL;
        const char *pname, *uname;
        cat_catalog *cat;
        char *err = NULL;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 2, 2, names)) != ADMIN_CONTINUE)
                return r;
        pname = argv[optind];
        uname = argv[optind + 1];
        if (admin_catalog(ctx, &cat))
                return 1;
        if (add)
                r = cat_project_member_add(cat, pname, uname, &err);
        else
                r = cat_project_member_remove(cat, pname, uname, &err);
        if (r < 0)
                return admin_fail(r, err, add ? "cannot add user '%s' to project '%s'"
                                              : "cannot remove user '%s' from project '%s'",
                                  uname, pname);
        if (!ctx->json)
                return 0;
        r = cat_project_get(cat, pname, &project, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot read project '%s'", pname);
        ADMIN_PRINT_ONE(ctx, project_headers, 3, json_project, table_project, project);
        cat_project_free(project);
        return 0;
}

static int run_member_add(struct admin_ctx *ctx, const struct admin_command *cmd,
                          int argc, char **argv)
{
        return run_member(ctx, cmd, argc, argv, true);
}

static int run_member_remove(struct admin_ctx *ctx,
                             const struct admin_command *cmd, int argc,
                             char **argv)
{
        return run_member(ctx, cmd, argc, argv, false);
}

static const struct admin_command member_sub[] = {
        { .name = "add", .path = "project member add", .synopsis = "PROJECT USER",
          .help = "Make USER a member of PROJECT: the project's folders become\n"
                  "visible to USER.  Fails if a project folder's name clashes with a\n"
                  "folder USER already sees.  Prints nothing (with --json: the project).",
          .run = run_member_add },
        { .name = "remove", .path = "project member remove", .synopsis = "PROJECT USER",
          .help = "Remove USER from PROJECT.  Prints nothing (with --json: the project).",
          .run = run_member_remove },
        { 0 },
};

static const struct admin_command project_sub[] = {
        { .name = "add", .path = "project add", .synopsis = "NAME",
          .help = "Create a project.  Prints the project.",
          .run = run_project_add },
        { .name = "list", .path = "project list", .synopsis = "",
          .help = "List the projects with their members.",
          .run = run_project_list },
        { .name = "member", .path = "project member", .synopsis = "", .help = "",
          .sub = member_sub },
        { 0 },
};

const struct admin_command admin_project_cmd = {
        .name = "project", .path = "project", .synopsis = "", .help = "",
        .sub = project_sub,
};
