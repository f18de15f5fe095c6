/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin.h - what the parts of vfolderfs-admin share: the context of one run
 * (catalog path, output mode, the open catalog), the command tables each
 * module exports, and the helpers every command uses to parse its options
 * with getopt_long, check its positional arguments, open the catalog and
 * resolve a folder reference.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog.h"
#include "admin-output.h"

struct admin_ctx {
        const char *catalog_path; /* --catalog, or NULL */
        bool json;                /* --json */
        cat_catalog *cat;         /* opened on first use */
};

struct admin_command;
typedef int (*admin_run_fn)(struct admin_ctx *ctx,
                            const struct admin_command *cmd, int argc,
                            char **argv);

/*
 * A command or a group of commands.  path is the full command ("folder
 * create"), synopsis its arguments, help the text after the synopsis.  A
 * group has sub (terminated by a NULL name) and no run.
 */
struct admin_command {
        const char *name;
        const char *path;
        const char *synopsis;
        const char *help;
        admin_run_fn run;
        const struct admin_command *sub;
};

/* Command groups and top-level commands, one table per module. */
extern const struct admin_command admin_host_cmd;
extern const struct admin_command admin_user_cmd;
extern const struct admin_command admin_project_cmd;
extern const struct admin_command admin_folder_cmd;
extern const struct admin_command admin_session_cmd;
extern const struct admin_command admin_mount_cmd;
extern const struct admin_command admin_fsck_cmd;
extern const struct admin_command admin_files_cmd;
extern const struct admin_command admin_usage_cmd;

/* Print the help of cmd (a command or a group) on stdout. */
void admin_print_help(const struct admin_command *cmd);

/* Long options every command accepts besides its own. */
enum {
        ADMIN_OPT_JSON = 0x100,
        ADMIN_OPT_CATALOG,
        ADMIN_OPT_FIRST_FREE, /* commands number their own long-only options from here */
};
#define ADMIN_COMMON_OPTIONS \
        { "help", no_argument, NULL, 'h' }, \
        { "json", no_argument, NULL, ADMIN_OPT_JSON }, \
        { "catalog", required_argument, NULL, ADMIN_OPT_CATALOG }

/* What parse helpers return when the command should go on. */
#define ADMIN_CONTINUE (-1)

/* Start a getopt_long parse of a command's own argv (argv[0] is its name). */
void admin_getopt_reset(void);
/*
 * Handle an option the command did not: the common ones and getopt's errors.
 * Returns ADMIN_CONTINUE to go on parsing, else the exit status the command
 * must return at once (0 after --help, 2 after a usage error).
 */
int admin_common_option(struct admin_ctx *ctx, const struct admin_command *cmd,
                        int c, char **argv);
/*
 * Check the number of positional arguments left (argc - optind) is within
 * [min, max]; names lists the names of the arguments for the message.
 * Returns ADMIN_CONTINUE, or 2 after printing a usage error.
 */
int admin_check_args(const struct admin_command *cmd, int argc, char **argv,
                     int min, int max, const char *const *names);

/*
 * Parse the options of a command that has only the common ones and check it
 * has [min, max] positional arguments.  Returns ADMIN_CONTINUE or the exit
 * status to return.
 */
int admin_parse_plain(struct admin_ctx *ctx, const struct admin_command *cmd,
                      int argc, char **argv, int min, int max,
                      const char *const *names);

/*
 * The open catalog (opened on first use, without creating it).  Returns 0,
 * or 1 after printing the error.
 */
int admin_catalog(struct admin_ctx *ctx, cat_catalog **ret_cat);
/* The catalog path in use: --catalog, $VFOLDERFS_CATALOG or the default. */
const char *admin_catalog_path(const struct admin_ctx *ctx);

/*
 * Resolve a folder reference (among what user sees when user is set).
 * On failure prints "<what>: <why>" (what is e.g. "cannot rename folder 'x'")
 * and returns 1; else 0 and the folder in *ret.
 */
int admin_folder_resolve(struct admin_ctx *ctx, const char *ref,
                         const char *user, const char *what,
                         struct cat_folder **ret);

/* Parse option values; each returns 0, or 2 after a usage error naming it. */
int admin_parse_perm(const struct admin_command *cmd, const char *s,
                     enum cat_perm *ret);
int admin_parse_size(const struct admin_command *cmd, const char *what,
                     const char *s, int64_t *ret);

/* This machine's host name, as sessions record it. */
int admin_hostname(char *buf, size_t size);

/*
 * Folders and sessions as JSON objects (the SPEC section 6 fields; with
 * effective, a folder's "permission" is f->effective), and printed alone:
 * a JSON object with --json, else a one-row table.
 */
void admin_json_folder(struct json *j, const struct cat_folder *f,
                       bool effective);
void admin_print_folder(struct admin_ctx *ctx, const struct cat_folder *f);
void admin_json_session(struct json *j, const struct cat_session *s);
void admin_print_session(struct admin_ctx *ctx, const struct cat_session *s);

/* One object: a JSON object, or a one-row table. */
#define ADMIN_PRINT_ONE(ctx, headers, ncols, json_fn, table_fn, obj) \
        do { \
                if ((ctx)->json) { \
                        struct json j_; \
                        json_init(&j_, stdout); \
                        json_fn(&j_, obj); \
                        json_finish(&j_); \
                } else { \
                        struct table *t_ = table_new(ncols, headers); \
                        table_fn(t_, obj); \
                        table_print(t_, stdout); \
                        table_free(t_); \
                } \
        } while (0)

/* A list: a JSON array, or a table. */
#define ADMIN_PRINT_LIST(ctx, headers, ncols, json_fn, table_fn, arr, n) \
        do { \
                if ((ctx)->json) { \
                        struct json j_; \
                        json_init(&j_, stdout); \
                        json_array_begin(&j_); \
                        for (size_t i_ = 0; i_ < (n); i_++) \
                                json_fn(&j_, &(arr)[i_]); \
                        json_array_end(&j_); \
                        json_finish(&j_); \
                } else { \
                        struct table *t_ = table_new(ncols, headers); \
                        for (size_t i_ = 0; i_ < (n); i_++) \
                                table_fn(t_, &(arr)[i_]); \
                        table_print(t_, stdout); \
                        table_free(t_); \
                } \
        } while (0)
