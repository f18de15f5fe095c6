/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-output.c - the output side of vfolderfs-admin: error and usage
 * messages in the one-line house format, aligned tables (collected, then
 * printed) and fixed-width cells for streaming tables, a streaming JSON
 * writer that escapes strings exactly and replaces invalid UTF-8, and the
 * formats of times (ISO-8601 UTC) and sizes.
 */
#include "admin-output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------------------
 * Allocation.
 */
static void out_of_memory(void)
{
        fputs(ADMIN_PROG ": out of memory\n", stderr);
        exit(1);
}

void *xmalloc(size_t size)
{
        void *p = malloc(size ? size : 1);

        if (!p)
                out_of_memory();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (!p)
                out_of_memory();
        return p;
}

void *xrealloc(void *p, size_t size)
{
        void *q = realloc(p, size ? size : 1);

        if (!q)
                out_of_memory();
        return q;
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);

        if (!p)
                out_of_memory();
        return p;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                out_of_memory();
        return s;
}

/* ---------------------------------------------------------------------------
 * Messages.
 */
/*
 * Print s with control characters as C escapes, so that a message naming a
 * hostile input stays on one line.
 */
static void fputs_escaped(const char *s, FILE *f)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '\r': fputs("\\r", f); break;
                default:
                        if (*p < 0x20 || *p == 0x7f)
                                fprintf(f, "\\x%02x", *p);
                        else
                                fputc(*p, f);
                }
        }
}

static void vmessage(const char *prefix, const char *what_fmt, va_list ap,
                     const char *why)
{
        char *what;

        if (vasprintf(&what, what_fmt, ap) < 0)
                out_of_memory();
        fputs(prefix, stderr);
        fputs_escaped(what, stderr);
        if (why) {
                fputs(": ", stderr);
                fputs_escaped(why, stderr);
        }
        fputc('\n', stderr);
        free(what);
}

int admin_fail(int r, char *reterr, const char *what_fmt, ...)
{
        va_list ap;

        va_start(ap, what_fmt);
        vmessage(ADMIN_PROG ": ", what_fmt, ap, reterr ? reterr : strerror(r < 0 ? -r : r));
        va_end(ap);
        free(reterr);
        return 1;
}

int admin_failx(const char *why, const char *what_fmt, ...)
{
        va_list ap;

        va_start(ap, what_fmt);
        vmessage(ADMIN_PROG ": ", what_fmt, ap, why);
        va_end(ap);
        return 1;
}

int admin_usage_error(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmessage(ADMIN_PROG ": ", fmt, ap, NULL);
        va_end(ap);
        fputs("Try '" ADMIN_PROG " --help'\n", stderr);
        return 2;
}

void admin_warn(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vmessage(ADMIN_PROG ": warning: ", fmt, ap, NULL);
        va_end(ap);
}

/* ---------------------------------------------------------------------------
 * Times and sizes.
 */
const char *admin_format_time(int64_t t, char buf[ADMIN_TIME_LEN])
{
        time_t tt = (time_t)t;
        struct tm tm;

        if (t == 0 || !gmtime_r(&tt, &tm) ||
            strftime(buf, ADMIN_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, ADMIN_TIME_LEN, "-");
        return buf;
}

const char *admin_format_size(int64_t bytes, char buf[ADMIN_SIZE_LEN])
{
        static const char units[] = "KMGTP";
        int64_t v = bytes;
        int u = -1;

        while (v != 0 && v % 1024 == 0 && u < 4) {
                v /= 1024;
                u++;
        }
        if (u < 0)
                snprintf(buf, ADMIN_SIZE_LEN, "%" PRId64, bytes);
        else
                snprintf(buf, ADMIN_SIZE_LEN, "%" PRId64 "%c", v, units[u]);
        return buf;
}

/* ---------------------------------------------------------------------------
 * Tables.
 */
struct table {
        size_t ncols;
        size_t nrows; /* including the header row */
        size_t cap;
        char **cells; /* nrows * ncols, row-major */
};

struct table *table_new(size_t ncols, const char *const *headers)
{
        struct table *t = xcalloc(1, sizeof(*t));

        t->ncols = ncols;
        if (headers)
                table_add(t, headers);
        return t;
}

void table_add(struct table *t, const char *const *cells)
{
        if (t->nrows == t->cap) {
                t->cap = t->cap ? t->cap * 2 : 8;
                t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
        }
        for (size_t c = 0; c < t->ncols; c++)
                t->cells[t->nrows * t->ncols + c] = xstrdup(cells[c] ? cells[c] : "-");
        t->nrows++;
}

/* How a cell byte is shown: NULL when as itself, else its escape. */
static const char *cell_escape(unsigned char c, char buf[8])
{
        switch (c) {
        case '\\': return "\\\\";
        case '\n': return "\\n";
        case '\t': return "\\t";
        case '\r': return "\\r";
        default:
                break;
        }
        if (c < 0x20 || c == 0x7f) {
                snprintf(buf, 8, "\\x%02x", c);
                return buf;
        }
        return NULL;
}

/* Display width: escapes count their length, UTF-8 continuation bytes nothing. */
static size_t cell_width(const char *s)
{
        size_t w = 0;
        char buf[8];

        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                const char *e = cell_escape(*p, buf);

                if (e)
                        w += strlen(e);
                else if ((*p & 0xc0) != 0x80)
                        w++;
        }
        return w;
}

void table_print_cell(FILE *f, const char *s, size_t width)
{
        size_t w = 0;
        char buf[8];

        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                const char *e = cell_escape(*p, buf);

                if (e) {
                        fputs(e, f);
                        w += strlen(e);
                } else {
                        fputc(*p, f);
                        if ((*p & 0xc0) != 0x80)
                                w++;
                }
        }
        for (; w < width; w++)
                fputc(' ', f);
}

void table_print(const struct table *t, FILE *f)
{
        size_t *widths = xcalloc(t->ncols, sizeof(size_t));

        for (size_t r = 0; r < t->nrows; r++)
                for (size_t c = 0; c < t->ncols; c++) {
                        size_t w = cell_width(t->cells[r * t->ncols + c]);

                        if (w > widths[c])
                                widths[c] = w;
                }
        for (size_t r = 0; r < t->nrows; r++) {
                for (size_t c = 0; c < t->ncols; c++) {
                        bool last = c + 1 == t->ncols;

                        table_print_cell(f, t->cells[r * t->ncols + c],
                                         last ? 0 : widths[c]);
                        if (!last)
                                fputs("  ", f);
                }
                fputc('\n', f);
        }
        free(widths);
}

void table_free(struct table *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->nrows * t->ncols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}

/* ---------------------------------------------------------------------------
 * JSON.
 */
void json_init(struct json *j, FILE *f)
{
        memset(j, 0, sizeof(*j));
        j->f = f;
}

/* Separator before a value or a key at the current depth. */
static void json_before_item(struct json *j)
{
        if (j->after_key) {
                j->after_key = false;
                return;
        }
        if (j->depth == 0)
                return;
        if (j->has_items[j->depth])
                fputc(',', j->f);
        /* Elements of a top-level array go one per line. */
        if (j->depth == 1 && j->has_items[0])
                fputc('\n', j->f);
        j->has_items[j->depth] = true;
}

static void json_open(struct json *j, char c, bool is_array)
{
        json_before_item(j);
        fputc(c, j->f);
        if (j->depth + 1 < JSON_MAX_DEPTH) {
                j->depth++;
                j->has_items[j->depth] = false;
        }
        /* has_items[0] marks "the top level is an array". */
        if (j->depth == 1)
                j->has_items[0] = is_array;
}

static void json_close(struct json *j, char c)
{
        if (j->depth == 1 && j->has_items[0] && j->has_items[1])
                fputc('\n', j->f);
        if (j->depth == 1)
                j->has_items[0] = false;
        if (j->depth > 0)
                j->depth--;
        fputc(c, j->f);
}

void json_object_begin(struct json *j) { json_open(j, '{', false); }
void json_object_end(struct json *j) { json_close(j, '}'); }
void json_array_begin(struct json *j) { json_open(j, '[', true); }
void json_array_end(struct json *j) { json_close(j, ']'); }

void json_finish(struct json *j)
{
        fputc('\n', j->f);
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_valid_len(const unsigned char *p, size_t n)
{
        size_t len;
        uint32_t cp;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                len = 2;
                cp = p[0] & 0x1f;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                len = 3;
                cp = p[0] & 0x0f;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                len = 4;
                cp = p[0] & 0x07;
        } else {
                return 0;
        }
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF. */
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
                return 0;
        return len;
}

static void json_write_string(FILE *f, const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t n = strlen(s);

        fputc('"', f);
        while (n > 0) {
                size_t len;

                switch (*p) {
                case '"': fputs("\\\"", f); p++; n--; continue;
                case '\\': fputs("\\\\", f); p++; n--; continue;
                case '\n': fputs("\\n", f); p++; n--; continue;
                case '\t': fputs("\\t", f); p++; n--; continue;
                case '\r': fputs("\\r", f); p++; n--; continue;
                case '\b': fputs("\\b", f); p++; n--; continue;
                case '\f': fputs("\\f", f); p++; n--; continue;
                default:
                        break;
                }
                if (*p < 0x20 || *p == 0x7f) {
                        fprintf(f, "\\u%04x", *p);
                        p++;
                        n--;
                        continue;
                }
                len = utf8_valid_len(p, n);
                if (len == 0) {
                        fputs("\xef\xbf\xbd", f); /* U+FFFD */
                        len = 1;
                } else {
                        fwrite(p, 1, len, f);
                }
                p += len;
                n -= len;
        }
        fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
        json_before_item(j);
        json_write_string(j->f, key);
        fputc(':', j->f);
        j->after_key = true;
}

void json_string(struct json *j, const char *s)
{
        json_before_item(j);
        if (s)
                json_write_string(j->f, s);
        else
                fputs("null", j->f);
}

void json_int(struct json *j, int64_t v)
{
        json_before_item(j);
        fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json *j, bool v)
{
        json_before_item(j);
        fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
        json_before_item(j);
        fputs("null", j->f);
}

void json_kv_string(struct json *j, const char *key, const char *s)
{
        json_key(j, key);
        json_string(j, s);
}

void json_kv_int(struct json *j, const char *key, int64_t v)
{
        json_key(j, key);
        json_int(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
        json_key(j, key);
        json_bool(j, v);
}

void json_kv_null(struct json *j, const char *key)
{
        json_key(j, key);
        json_null(j);
}

void json_kv_time(struct json *j, const char *key, int64_t t)
{
        char buf[ADMIN_TIME_LEN];

        json_key(j, key);
        if (t == 0)
                json_null(j);
        else
                json_string(j, admin_format_time(t, buf));
}
