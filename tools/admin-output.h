/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-output.h - how vfolderfs-admin talks: aligned tables, a streaming
 * JSON writer with exact string escaping, the formats of times and sizes, the
 * one-line error and usage messages, and allocation helpers that end the
 * program on out-of-memory (as a command-line tool may).
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ADMIN_PROG "vfolderfs-admin"

/* Allocation that cannot fail: on out-of-memory print one line and exit 1. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Print "vfolderfs-admin: <what>: <why>" on stderr, where why is reterr when
 * set, else strerror(-r).  reterr is freed.  Returns 1, the exit status of a
 * failed command, so callers can `return admin_fail(...)`.
 */
int admin_fail(int r, char *reterr, const char *what_fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Same with an explicit reason instead of an errno. */
int admin_failx(const char *why, const char *what_fmt, ...)
        __attribute__((format(printf, 2, 3)));
/*
 * Print "vfolderfs-admin: <problem>" and "Try 'vfolderfs-admin --help'" on
 * stderr.  Returns 2, the exit status of a usage error.
 */
int admin_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A warning line on stderr; the command goes on. */
void admin_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "2026-11-27T18:37:52Z" (UTC) into buf; t == 0 gives "-". */
#define ADMIN_TIME_LEN 32
const char *admin_format_time(int64_t t, char buf[ADMIN_TIME_LEN]);
/* An exact size with the largest binary unit dividing it: "10G", "1536M", "1000". */
#define ADMIN_SIZE_LEN 32
const char *admin_format_size(int64_t bytes, char buf[ADMIN_SIZE_LEN]);

/* ---------------------------------------------------------------------------
 * Tables: rows are collected, then printed with columns aligned.
 */
struct table;
/* A table whose header row is the ncols strings of headers (NULL: none). */
struct table *table_new(size_t ncols, const char *const *headers);
/* Append a row of ncols cells (copied; NULL prints as "-"). */
void table_add(struct table *t, const char *const *cells);
/* Print the header and the rows: columns separated by two spaces. */
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);
/*
 * Print one cell with control characters and backslash as C escapes, padded
 * with spaces to width display columns (0: no padding).  Used by streaming
 * tables of fixed widths.
 */
void table_print_cell(FILE *f, const char *s, size_t width);

/* ---------------------------------------------------------------------------
 * JSON: a streaming writer.  Arrays at the top level put one element per
 * line; everything else is compact.  Strings are escaped exactly; bytes that
 * are not valid UTF-8 become U+FFFD.
 */
#define JSON_MAX_DEPTH 16
struct json {
        FILE *f;
        int depth;
        bool has_items[JSON_MAX_DEPTH];
        bool after_key;
};

void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
/* End the top-level value with a newline. */
void json_finish(struct json *j);
void json_key(struct json *j, const char *key);
/* s NULL writes null. */
void json_string(struct json *j, const char *s);
void json_int(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

void json_kv_string(struct json *j, const char *key, const char *s);
void json_kv_int(struct json *j, const char *key, int64_t v);
void json_kv_bool(struct json *j, const char *key, bool v);
void json_kv_null(struct json *j, const char *key);
/* A time as an ISO-8601 UTC string, or null when t == 0. */
void json_kv_time(struct json *j, const char *key, int64_t t);
