/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfolderfs-admin.c - the entry point of the operator's tool: global options
 * (--catalog, --json, --help, --version), dispatch of a command line to the
 * command tables of the other admin-*.c files, the helpers all commands share
 * (option errors, argument counts, opening the catalog, resolving a folder
 * reference) and the `init` command, which creates the catalog.
 */
#include "admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef VFOLDERFS_VERSION
#define VFOLDERFS_VERSION "unknown"
#endif

static int run_init(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv);

static const struct admin_command init_cmd = {
        .name = "init",
        .path = "init",
        .synopsis = "",
        .help = "Create the catalog (and its directory) if it does not exist yet,\n"
                "or migrate an existing one to the current schema.  Running it\n"
                "again is harmless.  Prints nothing (with --json: the catalog\n"
                "path and schema version).",
        .run = run_init,
};

static const struct admin_command *const top_commands[] = {
        &init_cmd,
        &admin_host_cmd,
        &admin_user_cmd,
        &admin_project_cmd,
        &admin_folder_cmd,
        &admin_session_cmd,
        &admin_mount_cmd,
        &admin_files_cmd,
        &admin_usage_cmd,
        &admin_fsck_cmd,
        NULL,
};

/* ---------------------------------------------------------------------------
 * Help.
 */
static void print_synopses(const struct admin_command *cmd)
{
        if (cmd->sub) {
                for (const struct admin_command *s = cmd->sub; s->name; s++)
                        print_synopses(s);
                return;
        }
        printf("  %s %s%s%s\n", ADMIN_PROG, cmd->path,
               cmd->synopsis[0] ? " " : "", cmd->synopsis);
}

static void print_common_options(void)
{
        fputs("Options of every command:\n"
              "      --catalog PATH  the catalog file (default: $VFOLDERFS_CATALOG,\n"
              "                      else " CAT_DEFAULT_PATH ")\n"
              "      --json          print JSON instead of a table\n"
              "  -h, --help          print this help and exit\n",
              stdout);
}

void admin_print_help(const struct admin_command *cmd)
{
        if (cmd->sub) {
                puts("Usage:");
                print_synopses(cmd);
                printf("\nRun '%s %s COMMAND --help' for the options of a command.\n\n",
                       ADMIN_PROG, cmd->path);
        } else {
                printf("Usage: %s %s%s%s\n\n%s\n\n", ADMIN_PROG, cmd->path,
                       cmd->synopsis[0] ? " " : "", cmd->synopsis, cmd->help);
        }
        print_common_options();
        puts("\nSee vfolderfs-admin(8).");
}

static void print_main_help(void)
{
        printf("Usage: %s [--catalog PATH] [--json] COMMAND ...\n\n"
               "Manage the vfolderfs catalog: storage hosts, users, projects, folders,\n"
               "sessions and their mounts, and the files inside folders.\n\n"
               "Commands:\n", ADMIN_PROG);
        for (size_t i = 0; top_commands[i]; i++)
                print_synopses(top_commands[i]);
        fputs("\nGlobal options:\n"
              "      --catalog PATH  the catalog file (default: $VFOLDERFS_CATALOG,\n"
              "                      else " CAT_DEFAULT_PATH ")\n"
              "      --json          print JSON instead of a table\n"
              "  -h, --help          print this help and exit (also after any command)\n"
              "  -V, --version       print the version and exit\n\n"
              "Run '" ADMIN_PROG " COMMAND --help' for the options of a command.\n\n"
              "See vfolderfs-admin(8).\n",
              stdout);
}

/* ---------------------------------------------------------------------------
 * Option and argument helpers.
 */
void admin_getopt_reset(void)
{
        /* 0, not 1: glibc then forgets the state of the previous parse. */
        optind = 0;
        opterr = 0;
}

static const char *bad_option(int opt, char **argv)
{
        static char buf[3];

        if (opt > 0 && opt < 128 && opt != '?' && opt != ':' &&
            argv[optind - 1][0] == '-' && argv[optind - 1][1] != '-') {
                buf[0] = '-';
                buf[1] = (char)opt;
                buf[2] = '\0';
                return buf;
        }
        return argv[optind - 1];
}

int admin_common_option(struct admin_ctx *ctx, const struct admin_command *cmd,
                        int c, char **argv)
{
        switch (c) {
        case 'h':
                admin_print_help(cmd);
                return 0;
        case ADMIN_OPT_JSON:
                ctx->json = true;
                return ADMIN_CONTINUE;
        case ADMIN_OPT_CATALOG:
                ctx->catalog_path = optarg;
                return ADMIN_CONTINUE;
        case ':':
                return admin_usage_error("%s: option '%s' requires an argument",
                                         cmd->path, bad_option(optopt, argv));
        default:
                return admin_usage_error("%s: unrecognized option '%s'",
                                         cmd->path, bad_option(optopt, argv));
        }
}

int admin_check_args(const struct admin_command *cmd, int argc, char **argv,
                     int min, int max, const char *const *names)
{
        int n = argc - optind;

        if (n < min)
                return admin_usage_error("%s: missing argument %s", cmd->path,
                                         names[n]);
        if (n > max)
                return admin_usage_error("%s: unexpected argument '%s'",
                                         cmd->path, argv[optind + max]);
        return ADMIN_CONTINUE;
}

int admin_parse_plain(struct admin_ctx *ctx, const struct admin_command *cmd,
                      int argc, char **argv, int min, int max,
                      const char *const *names)
{
        static const struct option opts[] = { ADMIN_COMMON_OPTIONS, { 0 } };
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1)
                if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                        return r;
        return admin_check_args(cmd, argc, argv, min, max, names);
}

int admin_parse_perm(const struct admin_command *cmd, const char *s,
                     enum cat_perm *ret)
{
        enum cat_perm p;

        if (cat_perm_from_string(s, &p) < 0 || p == CAT_PERM_NONE)
                return admin_usage_error("%s: invalid permission '%s' (ro, rw or wd)",
                                         cmd->path, s);
        *ret = p;
        return 0;
}

int admin_parse_size(const struct admin_command *cmd, const char *what,
                     const char *s, int64_t *ret)
{
        int64_t v;
        int r = cat_size_parse(s, &v);

        if (r == -ERANGE)
                return admin_usage_error("%s: %s '%s' is too large", cmd->path,
                                         what, s);
        if (r < 0)
                return admin_usage_error("%s: invalid %s '%s'", cmd->path, what, s);
        *ret = v;
        return 0;
}

int admin_hostname(char *buf, size_t size)
{
        if (gethostname(buf, size) < 0)
                return -errno;
        buf[size - 1] = '\0';
        return 0;
}

/* ---------------------------------------------------------------------------
 * The catalog.
 */
const char *admin_catalog_path(const struct admin_ctx *ctx)
{
        const char *env;

        if (ctx->catalog_path)
                return ctx->catalog_path;
        env = getenv("VFOLDERFS_CATALOG");
        if (env && env[0])
                return env;
        return CAT_DEFAULT_PATH;
}

int admin_catalog(struct admin_ctx *ctx, cat_catalog **ret_cat)
{
        const char *path = admin_catalog_path(ctx);
        char *err = NULL;
        int r;

        if (!ctx->cat) {
                r = cat_open(path, 0, &ctx->cat, &err);
                if (r == -ENOENT) {
                        char *why = xasprintf("%s (run '" ADMIN_PROG " init' first)",
                                              strerror(ENOENT));

                        free(err);
                        admin_failx(why, "cannot open catalog '%s'", path);
                        free(why);
                        return 1;
                }
                if (r < 0)
                        return admin_fail(r, err, "cannot open catalog '%s'", path);
        }
        *ret_cat = ctx->cat;
        return 0;
}

int admin_folder_resolve(struct admin_ctx *ctx, const char *ref,
                         const char *user, const char *what,
                         struct cat_folder **ret)
{
        cat_catalog *cat;
        char *err = NULL;
        int r;

        if (admin_catalog(ctx, &cat))
                return 1;
        r = cat_folder_resolve(cat, ref, user, ret, &err);
        if (r < 0)
                return admin_fail(r, err, "%s", what);
        return 0;
}

/* ---------------------------------------------------------------------------
 * init.
 */

/* mkdir -p of the directory part of path. */
static int make_parent_dirs(const char *path, char **ret_failed)
{
        char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        int r = 0;

        if (!slash || slash == dir)
                goto out;
        *slash = '\0';
        for (char *p = dir + 1;; p++) {
                bool end = *p == '\0';

                if (*p != '/' && !end)
                        continue;
                *p = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                        r = -errno;
                        *ret_failed = xstrdup(dir);
                        goto out;
                }
                if (end)
                        break;
                *p = '/';
        }
out:
        free(dir);
        return r;
}

static int run_init(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv)
{
        static const struct option opts[] = { ADMIN_COMMON_OPTIONS, { 0 } };
        const char *path;
        char *failed = NULL, *err = NULL;
        cat_catalog *cat;
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1)
                if ((r = admin_common_option(ctx, cmd, c, argv)) != ADMIN_CONTINUE)
                        return r;
        if ((r = admin_check_args(cmd, argc, argv, 0, 0, NULL)) != ADMIN_CONTINUE)
                return r;

        path = admin_catalog_path(ctx);
        r = make_parent_dirs(path, &failed);
        if (r < 0) {
                r = admin_fail(r, NULL, "cannot create directory '%s'", failed);
                free(failed);
                return r;
        }
        r = cat_open(path, CAT_OPEN_CREATE, &cat, &err);
        if (r < 0)
                return admin_fail(r, err, "cannot create catalog '%s'", path);
        cat_close(cat);
        if (ctx->json) {
                struct json j;

                json_init(&j, stdout);
                json_object_begin(&j);
                json_kv_string(&j, "catalog", path);
                json_kv_int(&j, "schema_version", cat_schema_version());
                json_object_end(&j);
                json_finish(&j);
        }
        return 0;
}

/* ---------------------------------------------------------------------------
 * Dispatch.
 */
static int dispatch(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv)
{
        if (!cmd->sub)
                return cmd->run(ctx, cmd, argc, argv);
        /* Common options may also come between a group and its command. */
        while (argc >= 2) {
                if (!strcmp(argv[1], "--json")) {
                        ctx->json = true;
                } else if (!strncmp(argv[1], "--catalog=", 10)) {
                        ctx->catalog_path = argv[1] + 10;
                } else if (!strcmp(argv[1], "--catalog")) {
                        if (argc < 3)
                                return admin_usage_error("%s: option '--catalog' "
                                                         "requires an argument", cmd->path);
                        ctx->catalog_path = argv[2];
                        argc--;
                        argv++;
                } else {
                        break;
                }
                argc--;
                argv++;
        }
        if (argc < 2)
                return admin_usage_error("%s: missing command", cmd->path);
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                admin_print_help(cmd);
                return 0;
        }
        for (const struct admin_command *s = cmd->sub; s->name; s++)
                if (!strcmp(argv[1], s->name))
                        return dispatch(ctx, s, argc - 1, argv + 1);
        return admin_usage_error("%s: unknown command '%s'", cmd->path, argv[1]);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                ADMIN_COMMON_OPTIONS,
                { "version", no_argument, NULL, 'V' },
                { 0 },
        };
        struct admin_ctx ctx = { 0 };
        int c, r;

        admin_getopt_reset();
        while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        print_main_help();
                        return 0;
                case 'V':
                        puts(ADMIN_PROG " " VFOLDERFS_VERSION);
                        return 0;
                case ADMIN_OPT_JSON:
                        ctx.json = true;
                        break;
                case ADMIN_OPT_CATALOG:
                        ctx.catalog_path = optarg;
                        break;
                case ':':
                        return admin_usage_error("option '%s' requires an argument",
                                                 bad_option(optopt, argv));
                default:
                        return admin_usage_error("unrecognized option '%s'",
                                                 bad_option(optopt, argv));
                }
        }
        if (optind >= argc)
                return admin_usage_error("missing command");

        r = -1;
        for (size_t i = 0; top_commands[i]; i++)
                if (!strcmp(argv[optind], top_commands[i]->name)) {
                        r = dispatch(&ctx, top_commands[i], argc - optind,
                                     argv + optind);
                        break;
                }
        if (r < 0)
                r = admin_usage_error("unknown command '%s'", argv[optind]);

        if (ctx.cat)
                cat_close(ctx.cat);
        errno = 0;
        if ((fflush(stdout) != 0 || ferror(stdout)) && r == 0)
                r = admin_fail(errno ? -errno : -EIO, NULL, "cannot write output");
        return r;
}
