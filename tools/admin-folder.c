/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-folder.c - the `folder` commands: create, list, info, rename, set,
 * delete (to trash), restore, purge, clone, share and unshare, and the table
 * and JSON forms of a folder that other commands print too.  Every rule
 * (names, clashes, permissions, lifecycle) is the library's; this file parses
 * the command line, resolves references and prints.
 */
#include "admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Output.
 */
static const char *const folder_headers[] = {
        "NAME", "ID", "HOST", "USAGE_MODE", "PERMISSION", "OWNER", "STATUS",
};
#define FOLDER_NCOLS 7

static enum cat_perm shown_perm(const struct cat_folder *f, bool effective)
{
        return effective ? f->effective : f->permission;
}

static void json_folder_fields(struct json *j, const struct cat_folder *f,
                               bool effective)
{
        json_kv_string(j, "id", f->id);
        json_kv_string(j, "name", f->name);
        json_kv_string(j, "host", f->host);
        json_kv_string(j, "owner_type", cat_owner_type_to_string(f->owner_type));
        json_kv_string(j, "owner", f->owner_name);
        json_kv_string(j, "usage_mode", cat_usage_mode_to_string(f->usage_mode));
        json_kv_string(j, "permission", cat_perm_to_string(shown_perm(f, effective)));
        json_kv_bool(j, "cloneable", f->cloneable);
        if (f->quota_bytes > 0)
                json_kv_int(j, "quota_bytes", f->quota_bytes);
        else
                json_kv_null(j, "quota_bytes");
        json_kv_string(j, "status", cat_status_to_string(f->status));
        json_kv_time(j, "created_at", f->created_at);
        json_kv_time(j, "updated_at", f->updated_at);
}

void admin_json_folder(struct json *j, const struct cat_folder *f,
                       bool effective)
{
        json_object_begin(j);
        json_folder_fields(j, f, effective);
        json_object_end(j);
}

static void table_folder(struct table *t, const struct cat_folder *f,
                         bool effective)
{
        const char *cells[FOLDER_NCOLS] = {
                f->name, f->id, f->host,
                cat_usage_mode_to_string(f->usage_mode),
                cat_perm_to_string(shown_perm(f, effective)),
                f->owner_name,
                cat_status_to_string(f->status),
        };

        table_add(t, cells);
}

void admin_print_folder(struct admin_ctx *ctx, const struct cat_folder *f)
{
        if (ctx->json) {
                struct json j;

                json_init(&j, stdout);
                admin_json_folder(&j, f, false);
                json_finish(&j);
        } else {
                struct table *t = table_new(FOLDER_NCOLS, folder_headers);

                table_folder(t, f, false);
                table_print(t, stdout);
                table_free(t);
        }
}

/* Print the folder with id after a change (only with --json). */
static int print_changed(struct admin_ctx *ctx, const char *id)
{
        struct cat_folder *f = NULL;

        if (!ctx->json)
                return 0;
        if (admin_folder_resolve(ctx, id, NULL, "cannot read folder", &f))
                return 1;
        admin_print_folder(ctx, f);
        cat_folder_free(f);
        return 0;
}

/* ---------------------------------------------------------------------------
 * Option values.
 */
static int parse_usage_mode(const struct admin_command *cmd, const char *s,
                            enum cat_usage_mode *ret)
{
        if (cat_usage_mode_from_string(s, ret) < 0)
                return admin_usage_error("%s: invalid usage mode '%s' (general, model or data)",
                                         cmd->path, s);
        return 0;
}

static int parse_yes_no(const struct admin_command *cmd, const char *what,
                        const char *s, bool *ret)
{
        if (!strcmp(s, "yes") || !strcmp(s, "true")) {
                *ret = true;
                return 0;
        }
        if (!strcmp(s, "no") || !strcmp(s, "false")) {
                *ret = false;
                return 0;
        }
        return admin_usage_error("%s: invalid %s '%s' (yes or no)", cmd->path,
                                 what, s);
}

/* ---------------------------------------------------------------------------
 * create, list, info.
 */
enum {
        OPT_USER = ADMIN_OPT_FIRST_FREE,
        OPT_PROJECT,
        OPT_HOST,
        OPT_USAGE_MODE,
        OPT_PERMISSION,
        OPT_QUOTA,
        OPT_CLONEABLE,
        OPT_FORCE,
};

static int run_create(struct admin_ctx *ctx, const struct admin_command *cmd,
                      int argc, char **argv)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "user", required_argument, NULL, OPT_USER },
                { "project", required_argument, NULL, OPT_PROJECT },
                { "host", required_argument, NULL, OPT_HOST },
                { "usage-mode", required_argument, NULL, OPT_USAGE_MODE },
                { "permission", required_argument, NULL, OPT_PERMISSION },
                { "quota", required_argument, NULL, OPT_QUOTA },
                { "cloneable", no_argument, NULL, OPT_CLONEABLE },
                { 0 },
        };
        static const char *const names[] = { "NAME" };
        struct cat_folder_spec spec = { .usage_mode = CAT_USAGE_GENERAL };
        struct cat_folder *f = NULL;
        cat_catalog *cat;
        char *err = NULL;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                r = 0;
                switch (c) {
                case OPT_USER: spec.user = optarg; break;
                case OPT_PROJECT: spec.project = optarg; break;
                case OPT_HOST: spec.host = optarg; break;
                case OPT_USAGE_MODE:
                        r = parse_usage_mode(cmd, optarg, &spec.usage_mode);
                        break;
                case OPT_PERMISSION:
                        r = admin_parse_perm(cmd, optarg, &spec.permission);
                        break;
                case OPT_QUOTA:
                        r = admin_parse_size(cmd, "quota", optarg, &spec.quota_bytes);
                        break;
                case OPT_CLONEABLE: spec.cloneable = true; break;
                default:
                        r = admin_common_option(ctx, cmd, c, argv);
                        if (r != ADMIN_CONTINUE)
                                return r; /* 0 after --help */
                        r = 0;
                }
                if (r)
                        return r;
        }
        if ((r = admin_check_args(cmd, argc, argv, 1, 1, names)) != ADMIN_CONTINUE)
                return r;
        if (!spec.user == !spec.project)
                return admin_usage_error("%s: exactly one of --user and --project is needed",
                                         cmd->path);
        spec.name = argv[optind];
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_folder_create(cat, &spec, &f, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot create folder '%s'", spec.name);
        admin_print_folder(ctx, f);
        cat_folder_free(f);
        return 0;
}

/* Parse [--user U] and the common options; then [min, max] arguments. */
static int parse_user_option(struct admin_ctx *ctx, const struct admin_command *cmd,
                             int argc, char **argv, const char **ret_user,
                             int min, int max, const char *const *names)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "user", required_argument, NULL, OPT_USER },
                { 0 },
        };
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == OPT_USER)
                        *ret_user = optarg;
                else if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                        return r;
        }
        return admin_check_args(cmd, argc, argv, min, max, names);
}

static int run_list(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv)
{
        struct cat_folder *folders = NULL;
        const char *user = NULL;
        cat_catalog *cat;
        char *err = NULL;
        size_t n = 0;
        int r;

        r = parse_user_option(ctx, cmd, argc, argv, &user, 0, 0, NULL);
        if (r != ADMIN_CONTINUE)
                return r;
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_folder_list(cat, user, &folders, &n, &err);
        if (r < 0) {
                if (user)
                        return admin_fail(r, err, "cannot list folders of user '%s'", user);
                return admin_fail(r, err, "cannot list folders");
        }
        if (ctx->json) {
                struct json j;

                json_init(&j, stdout);
                json_array_begin(&j);
                for (size_t i = 0; i < n; i++) {
                        admin_json_folder(&j, &folders[i], user != NULL);
                }
                json_array_end(&j);
                json_finish(&j);
        } else {
                struct table *t = table_new(FOLDER_NCOLS, folder_headers);

                for (size_t i = 0; i < n; i++)
                        table_folder(t, &folders[i], user != NULL);
                table_print(t, stdout);
                table_free(t);
        }
        cat_folder_list_free(folders, n);
        return 0;
}

static int run_info(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv)
{
        static const char *const names[] = { "REF" };
        struct cat_folder *f = NULL;
        const char *user = NULL;
        char *backing = NULL, *err = NULL, *what;
        cat_catalog *cat;
        int r;

        r = parse_user_option(ctx, cmd, argc, argv, &user, 1, 1, names);
        if (r != ADMIN_CONTINUE)
                return r;
        what = xasprintf("cannot find folder '%s'", argv[optind]);
        r = admin_folder_resolve(ctx, argv[optind], user, what, &f);
        free(what);
        if (r)
                return r;
        cat = ctx->cat;
        r = cat_folder_backing_path(cat, f, &backing, &err);
        if (r < 0) {
                cat_folder_free(f);
                return admin_fail(r, err, "cannot find the backing directory of folder '%s'",
                                  argv[optind]);
        }
        if (ctx->json) {
                struct json j;

                json_init(&j, stdout);
                json_object_begin(&j);
                json_folder_fields(&j, f, user != NULL);
                json_kv_string(&j, "backing_path", backing);
                json_object_end(&j);
                json_finish(&j);
        } else {
                char quota[32], created[ADMIN_TIME_LEN], updated[ADMIN_TIME_LEN];
                const char *rows[][2] = {
                        { "id", f->id },
                        { "name", f->name },
                        { "host", f->host },
                        { "owner_type", cat_owner_type_to_string(f->owner_type) },
                        { "owner", f->owner_name },
                        { "usage_mode", cat_usage_mode_to_string(f->usage_mode) },
                        { "permission", cat_perm_to_string(shown_perm(f, user != NULL)) },
                        { "cloneable", f->cloneable ? "yes" : "no" },
                        { "quota_bytes", f->quota_bytes > 0 ? quota : NULL },
                        { "status", cat_status_to_string(f->status) },
                        { "created_at", admin_format_time(f->created_at, created) },
                        { "updated_at", admin_format_time(f->updated_at, updated) },
                        { "backing_path", backing },
                };
                struct table *t = table_new(2, NULL);

                snprintf(quota, sizeof(quota), "%" PRId64, f->quota_bytes);
                for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
                        table_add(t, rows[i]);
                table_print(t, stdout);
                table_free(t);
        }
        free(backing);
        cat_folder_free(f);
        return 0;
}

/* ---------------------------------------------------------------------------
 * Changes to one folder.
 */

/* Resolve ref among all folders, keeping its id. */
static int resolve_id(struct admin_ctx *ctx, const char *ref, const char *what,
                      char id[CAT_UUID_STRLEN])
{
        struct cat_folder *f = NULL;

        if (admin_folder_resolve(ctx, ref, NULL, what, &f))
                return 1;
        memcpy(id, f->id, CAT_UUID_STRLEN);
        cat_folder_free(f);
        return 0;
}

static int run_rename(struct admin_ctx *ctx, const struct admin_command *cmd,
                      int argc, char **argv)
{
        static const char *const names[] = { "REF", "NEW" };
        char id[CAT_UUID_STRLEN], *what, *err = NULL;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 2, 2, names)) != ADMIN_CONTINUE)
                return r;
        what = xasprintf("cannot rename folder '%s'", argv[optind]);
        r = resolve_id(ctx, argv[optind], what, id);
        if (r == 0) {
                r = cat_folder_rename(ctx->cat, id, argv[optind + 1], &err);
                r = r < 0 ? admin_fail(r, err, "%s", what) : 0;
        }
        free(what);
        return r ? r : print_changed(ctx, id);
}

static int run_set(struct admin_ctx *ctx, const struct admin_command *cmd,
                   int argc, char **argv)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "permission", required_argument, NULL, OPT_PERMISSION },
                { "quota", required_argument, NULL, OPT_QUOTA },
                { "cloneable", required_argument, NULL, OPT_CLONEABLE },
                { 0 },
        };
        static const char *const names[] = { "REF" };
        struct cat_folder_update up = { 0 };
        char id[CAT_UUID_STRLEN], *what, *err = NULL;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                r = 0;
                switch (c) {
                case OPT_PERMISSION:
                        up.set_permission = true;
                        r = admin_parse_perm(cmd, optarg, &up.permission);
                        break;
                case OPT_QUOTA:
                        up.set_quota = true;
                        up.quota_bytes = 0;
                        if (strcmp(optarg, "none") != 0)
                                r = admin_parse_size(cmd, "quota", optarg,
                                                     &up.quota_bytes);
                        break;
                case OPT_CLONEABLE:
                        up.set_cloneable = true;
                        r = parse_yes_no(cmd, "cloneable value", optarg, &up.cloneable);
                        break;
                default:
                        r = admin_common_option(ctx, cmd, c, argv);
                        if (r != ADMIN_CONTINUE)
                                return r; /* 0 after --help */
                        r = 0;
                }
                if (r)
                        return r;
        }
        if ((r = admin_check_args(cmd, argc, argv, 1, 1, names)) != ADMIN_CONTINUE)
                return r;
        if (!up.set_permission && !up.set_quota && !up.set_cloneable)
                return admin_usage_error("%s: nothing to set "
                                         "(--permission, --quota or --cloneable)",
                                         cmd->path);
        what = xasprintf("cannot change folder '%s'", argv[optind]);
        r = resolve_id(ctx, argv[optind], what, id);
        if (r == 0) {
                r = cat_folder_set(ctx->cat, id, &up, &err);
                r = r < 0 ? admin_fail(r, err, "%s", what) : 0;
        }
        free(what);
        return r ? r : print_changed(ctx, id);
}

/* delete, restore and purge: REF [--force]. */
enum lifecycle { DELETE, RESTORE, PURGE };

static int run_lifecycle(struct admin_ctx *ctx, const struct admin_command *cmd,
                         int argc, char **argv, enum lifecycle op)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "force", no_argument, NULL, OPT_FORCE },
                { 0 },
        };
        static const struct option opts_noforce[] = { ADMIN_COMMON_OPTIONS, { 0 } };
        static const char *const names[] = { "REF" };
        static const char *const verbs[] = { "delete", "restore", "purge" };
        char id[CAT_UUID_STRLEN], *what, *err = NULL;
        bool force = false;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, op == RESTORE ? ":h" : ":hf",
                                op == RESTORE ? opts_noforce : opts, NULL)) != -1) {
                if (c == OPT_FORCE || c == 'f')
                        force = true;
                else if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                        return r;
        }
        if ((r = admin_check_args(cmd, argc, argv, 1, 1, names)) != ADMIN_CONTINUE)
                return r;
        what = xasprintf("cannot %s folder '%s'", verbs[op], argv[optind]);
        r = resolve_id(ctx, argv[optind], what, id);
        if (r == 0) {
                switch (op) {
                case DELETE: r = cat_folder_delete(ctx->cat, id, force, &err); break;
                case RESTORE: r = cat_folder_restore(ctx->cat, id, &err); break;
                case PURGE: r = cat_folder_purge(ctx->cat, id, force, &err); break;
                }
                r = r < 0 ? admin_fail(r, err, "%s", what) : 0;
        }
        free(what);
        if (r || op == PURGE)
                return r;
        return print_changed(ctx, id);
}

static int run_delete(struct admin_ctx *ctx, const struct admin_command *cmd,
                      int argc, char **argv)
{
        return run_lifecycle(ctx, cmd, argc, argv, DELETE);
}

static int run_restore(struct admin_ctx *ctx, const struct admin_command *cmd,
                       int argc, char **argv)
{
        return run_lifecycle(ctx, cmd, argc, argv, RESTORE);
}

static int run_purge(struct admin_ctx *ctx, const struct admin_command *cmd,
                     int argc, char **argv)
{
        return run_lifecycle(ctx, cmd, argc, argv, PURGE);
}

static int run_clone(struct admin_ctx *ctx, const struct admin_command *cmd,
                     int argc, char **argv)
{
        static const char *const names[] = { "REF", "NEW" };
        struct cat_folder *f = NULL;
        const char *user = NULL;
        cat_catalog *cat;
        char *err = NULL;
        int r;

        r = parse_user_option(ctx, cmd, argc, argv, &user, 2, 2, names);
        if (r != ADMIN_CONTINUE)
                return r;
        if (!user)
                return admin_usage_error("%s: missing option --user", cmd->path);
        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_folder_clone(cat, argv[optind], argv[optind + 1], user, &f, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot clone folder '%s' to '%s'",
                                  argv[optind], argv[optind + 1]);
        admin_print_folder(ctx, f);
        cat_folder_free(f);
        return 0;
}

static int run_share(struct admin_ctx *ctx, const struct admin_command *cmd,
                     int argc, char **argv)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "permission", required_argument, NULL, OPT_PERMISSION },
                { 0 },
        };
        static const char *const names[] = { "REF", "USER" };
        enum cat_perm perm = CAT_PERM_NONE;
        char id[CAT_UUID_STRLEN], *what, *err = NULL;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
                if (c == OPT_PERMISSION) {
                        if ((r = admin_parse_perm(cmd, optarg, &perm)))
                                return r;
                } else if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE) {
                        return r;
                }
        }
        if ((r = admin_check_args(cmd, argc, argv, 2, 2, names)) != ADMIN_CONTINUE)
                return r;
        if (perm == CAT_PERM_NONE)
                return admin_usage_error("%s: missing option --permission", cmd->path);
        what = xasprintf("cannot share folder '%s' with '%s'", argv[optind],
                         argv[optind + 1]);
        r = resolve_id(ctx, argv[optind], what, id);
        if (r == 0) {
                r = cat_folder_share(ctx->cat, id, argv[optind + 1], perm, &err);
                r = r < 0 ? admin_fail(r, err, "%s", what) : 0;
        }
        free(what);
        return r ? r : print_changed(ctx, id);
}

static int run_unshare(struct admin_ctx *ctx, const struct admin_command *cmd,
                       int argc, char **argv)
{
        static const char *const names[] = { "REF", "USER" };
        char id[CAT_UUID_STRLEN], *what, *err = NULL;
        int r;

        if ((r = admin_parse_plain(ctx, cmd, argc, argv, 2, 2, names)) != ADMIN_CONTINUE)
                return r;
        what = xasprintf("cannot unshare folder '%s' from '%s'", argv[optind],
                         argv[optind + 1]);
        r = resolve_id(ctx, argv[optind], what, id);
        if (r == 0) {
                r = cat_folder_unshare(ctx->cat, id, argv[optind + 1], &err);
                r = r < 0 ? admin_fail(r, err, "%s", what) : 0;
        }
        free(what);
        return r ? r : print_changed(ctx, id);
}

static const struct admin_command folder_sub[] = {
        { .name = "create", .path = "folder create",
          .synopsis = "NAME (--user U | --project P) [--host H] [--usage-mode M]\n"
                      "        [--permission P] [--quota SIZE] [--cloneable]",
          .help = "Create a folder owned by a user or a project, and its backing\n"
                  "directory on the storage host.  Prints the folder.\n\n"
                  "Options:\n"
                  "      --user U            owner user (name or UUID)\n"
                  "      --project P         owner project (name or UUID)\n"
                  "      --host H            storage host (default: 'local', or the only host)\n"
                  "      --usage-mode M      general (default), model or data\n"
                  "      --permission P      ro, rw or wd (default wd)\n"
                  "      --quota SIZE        e.g. 512M, 10G, 1.5T (powers of 1024)\n"
                  "      --cloneable         allow others to clone it",
          .run = run_create },
        { .name = "list", .path = "folder list", .synopsis = "[--user U]",
          .help = "List every folder, or, with --user, the folders U can see (own,\n"
                  "shared with U, U's projects') with U's effective permission.\n\n"
                  "Options:\n"
                  "      --user U        list what user U sees",
          .run = run_list },
        { .name = "info", .path = "folder info", .synopsis = "REF [--user U]",
          .help = "Show every field of a folder and its backing directory.  REF is a\n"
                  "UUID or a name (resolved among what --user U sees, if given).\n\n"
                  "Options:\n"
                  "      --user U        resolve REF among U's folders; show U's permission",
          .run = run_info },
        { .name = "rename", .path = "folder rename", .synopsis = "REF NEW",
          .help = "Rename a folder; no data moves.  Prints nothing (with --json: the\n"
                  "folder).",
          .run = run_rename },
        { .name = "set", .path = "folder set",
          .synopsis = "REF [--permission P] [--quota SIZE|none] [--cloneable yes|no]",
          .help = "Change a folder's permission, quota or cloneable flag.  Prints\n"
                  "nothing (with --json: the folder).\n\n"
                  "Options:\n"
                  "      --permission P      ro, rw or wd\n"
                  "      --quota SIZE|none   a new quota, or none to remove it\n"
                  "      --cloneable yes|no  whether others may clone it",
          .run = run_set },
        { .name = "delete", .path = "folder delete", .synopsis = "REF [--force]",
          .help = "Move a folder to the trash.  A folder held by a session (mounted in\n"
                  "a running one, or asked for by one created and not yet started) is\n"
                  "refused unless --force, which removes it from running sessions at\n"
                  "once.  Prints nothing (with --json: the folder).\n\n"
                  "Options:\n"
                  "  -f, --force         trash it even if mounted",
          .run = run_delete },
        { .name = "restore", .path = "folder restore", .synopsis = "REF",
          .help = "Bring a folder back from the trash.  Prints nothing (with --json:\n"
                  "the folder).",
          .run = run_restore },
        { .name = "purge", .path = "folder purge", .synopsis = "REF [--force]",
          .help = "Remove a folder in the trash for good, with its data.  A folder\n"
                  "held by a running or created session is refused unless --force.\n"
                  "Prints nothing.\n\n"
                  "Options:\n"
                  "  -f, --force         purge it even if mounted",
          .run = run_purge },
        { .name = "clone", .path = "folder clone", .synopsis = "REF NEW --user U",
          .help = "Copy a cloneable folder (or one U owns) into a new folder NEW owned\n"
                  "by U.  Prints the new folder.\n\n"
                  "Options:\n"
                  "      --user U        the owner of the new folder",
          .run = run_clone },
        { .name = "share", .path = "folder share", .synopsis = "REF USER --permission P",
          .help = "Share a folder with USER at permission P (ro, rw or wd), replacing\n"
                  "an earlier share.  Prints nothing (with --json: the folder).\n\n"
                  "Options:\n"
                  "      --permission P  ro, rw or wd",
          .run = run_share },
        { .name = "unshare", .path = "folder unshare", .synopsis = "REF USER",
          .help = "Withdraw USER's share of a folder.  Prints nothing (with --json:\n"
                  "the folder).",
          .run = run_unshare },
        { 0 },
};

const struct admin_command admin_folder_cmd = {
        .name = "folder", .path = "folder", .synopsis = "", .help = "",
        .sub = folder_sub,
};
