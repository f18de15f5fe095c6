/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-config.c - unit tests of the daemon's configuration file parser
 * (config.c): every key, comments and blank lines, blanks around keys and
 * values, the last of a repeated key winning, and each kind of error (no
 * '=', missing key, unknown key, empty value, bad boolean, bad or
 * out-of-range number, over-long line, missing file) reported with the file
 * name and line number and leaving nothing behind.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* Parse text; returns the result, *c and *err filled in. */
static int parse(const char *text, struct vf_config *c, char **err)
{
        FILE *f = fmemopen((void *)text, strlen(text), "r");
        int r;

        assert_non_null(f);
        *err = NULL;
        r = config_parse_stream(f, "t.conf", c, err);
        fclose(f);
        return r;
}

/* text must fail with -EINVAL and exactly the message want. */
static void expect_error(const char *text, const char *want)
{
        struct vf_config c;
        char *err;

        assert_int_equal(parse(text, &c, &err), -EINVAL);
        assert_non_null(err);
        assert_string_equal(err, want);
        /* nothing kept */
        assert_null(c.catalog);
        assert_null(c.scratch);
        assert_false(c.has_storage_uid);
        assert_false(c.has_storage_gid);
        assert_int_equal(c.rw_can_delete, -1);
        assert_int_equal(c.watch, -1);
        assert_int_equal(c.scratch_size, -1);
        free(err);
}

static void every_key(void **state)
{
        struct vf_config c;
        char *err;

        (void)state;
        assert_int_equal(parse("catalog = /srv/cat.db\n"
                               "scratch=/srv/scratch\n"
                               "storage_uid = 3000\n"
                               "storage_gid = 0\n"
                               "rw_can_delete = yes\n"
                               "scratch_size = 10G\n"
                               "watch = no\n", &c, &err), 0);
        assert_null(err);
        assert_string_equal(c.catalog, "/srv/cat.db");
        assert_string_equal(c.scratch, "/srv/scratch");
        assert_true(c.has_storage_uid);
        assert_int_equal(c.storage_uid, 3000);
        assert_true(c.has_storage_gid);
        assert_int_equal(c.storage_gid, 0);
        assert_int_equal(c.rw_can_delete, 1);
        assert_int_equal(c.watch, 0);
        assert_int_equal(c.scratch_size, 10LL << 30);
        config_free(&c);
        assert_null(c.catalog);
}

static void scratch_size_takes_sizes_and_none(void **state)
{
        struct vf_config c;
        char *err;

        (void)state;
        assert_int_equal(parse("scratch_size = 512K\n", &c, &err), 0);
        assert_int_equal(c.scratch_size, 512 * 1024);
        config_free(&c);
        assert_int_equal(parse("scratch_size = none\n", &c, &err), 0);
        assert_int_equal(c.scratch_size, 0);
        config_free(&c);
        assert_int_equal(parse("# nothing\n", &c, &err), 0);
        assert_int_equal(c.scratch_size, -1);
        config_free(&c);
        expect_error("scratch_size = lots\n",
                     "t.conf:1: bad value 'lots' for 'scratch_size' "
                     "(expected a size such as 10G, or none)");
        expect_error("scratch_size = -5M\n",
                     "t.conf:1: bad value '-5M' for 'scratch_size' "
                     "(expected a size such as 10G, or none)");
}

static void empty_file_sets_nothing(void **state)
{
        struct vf_config c;
        char *err;

        (void)state;
        assert_int_equal(parse("", &c, &err), 0);
        assert_null(c.catalog);
        assert_null(c.scratch);
        assert_false(c.has_storage_uid);
        assert_false(c.has_storage_gid);
        assert_int_equal(c.rw_can_delete, -1);
        config_free(&c);
}

static void comments_blanks_and_spaces(void **state)
{
        struct vf_config c;
        char *err;

        (void)state;
        assert_int_equal(parse("# a comment\n"
                               "\n"
                               "   \t\n"
                               "   # indented comment = x\n"
                               "\t catalog \t=\t /a b/c.db  \t \n"
                               "scratch = /s\r\n"
                               "storage_uid=7", &c, &err), 0);
        assert_string_equal(c.catalog, "/a b/c.db");
        assert_string_equal(c.scratch, "/s");
        assert_int_equal(c.storage_uid, 7);
        assert_false(c.has_storage_gid);
        config_free(&c);
}

static void booleans_and_repeats(void **state)
{
        static const struct { const char *v; int want; } cases[] = {
                { "yes", 1 }, { "true", 1 }, { "no", 0 }, { "false", 0 },
        };
        struct vf_config c;
        char *err, text[64];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                snprintf(text, sizeof(text), "rw_can_delete = %s\n",
                         cases[i].v);
                assert_int_equal(parse(text, &c, &err), 0);
                assert_int_equal(c.rw_can_delete, cases[i].want);
                config_free(&c);
        }
        assert_int_equal(parse("catalog = /one\ncatalog = /two\n"
                               "storage_uid = 1\nstorage_uid = 2\n",
                               &c, &err), 0);
        assert_string_equal(c.catalog, "/two");
        assert_int_equal(c.storage_uid, 2);
        config_free(&c);
}

static void errors_name_file_and_line(void **state)
{
        (void)state;
        expect_error("catalog = /x\n# c\nbogus = 1\n",
                     "t.conf:3: unknown key 'bogus'");
        expect_error("catalog /x\n", "t.conf:1: expected 'key = value'");
        expect_error("\n = 3\n", "t.conf:2: missing key");
        expect_error("catalog =   \n", "t.conf:1: empty value for 'catalog'");
        expect_error("scratch=\n", "t.conf:1: empty value for 'scratch'");
        expect_error("watch = sometimes\n",
                     "t.conf:1: bad value 'sometimes' for 'watch' "
                     "(expected yes, no, true or false)");
        expect_error("rw_can_delete = maybe\n",
                     "t.conf:1: bad value 'maybe' for 'rw_can_delete' "
                     "(expected yes, no, true or false)");
        expect_error("rw_can_delete =\n",
                     "t.conf:1: bad value '' for 'rw_can_delete' "
                     "(expected yes, no, true or false)");
        expect_error("rw_can_delete = YES\n",
                     "t.conf:1: bad value 'YES' for 'rw_can_delete' "
                     "(expected yes, no, true or false)");
        expect_error("storage_uid = -1\n",
                     "t.conf:1: bad value '-1' for 'storage_uid' "
                     "(expected a number below 4294967295)");
        expect_error("storage_gid = 4294967295\n",
                     "t.conf:1: bad value '4294967295' for 'storage_gid' "
                     "(expected a number below 4294967295)");
        expect_error("storage_uid = 99999999999999999999999\n",
                     "t.conf:1: bad value '99999999999999999999999' for "
                     "'storage_uid' (expected a number below 4294967295)");
        expect_error("storage_uid = 12abc\n",
                     "t.conf:1: bad value '12abc' for 'storage_uid' "
                     "(expected a number below 4294967295)");
        expect_error("storage_gid = 1 2\n",
                     "t.conf:1: bad value '1 2' for 'storage_gid' "
                     "(expected a number below 4294967295)");
        expect_error("storage_gid = \n",
                     "t.conf:1: bad value '' for 'storage_gid' "
                     "(expected a number below 4294967295)");
}

static void over_long_line_is_refused(void **state)
{
        size_t n = CONFIG_MAX_LINE + 100;
        char *text = malloc(n + 16);
        char want[64];

        (void)state;
        assert_non_null(text);
        strcpy(text, "# ok\ncatalog = /");
        memset(text + strlen(text), 'a', n);
        text[n] = '\0';
        snprintf(want, sizeof(want), "t.conf:2: line longer than %d "
                 "characters", CONFIG_MAX_LINE);
        expect_error(text, want);
        free(text);
}

static void missing_file(void **state)
{
        struct vf_config c;
        char *err = NULL;

        (void)state;
        assert_int_equal(config_parse_file("/nonexistent/vfolderfs.conf",
                                           false, &c, &err), 0);
        assert_null(err);
        assert_null(c.catalog);
        config_free(&c);
        assert_int_equal(config_parse_file("/nonexistent/vfolderfs.conf",
                                           true, &c, &err), -ENOENT);
        assert_non_null(err);
        assert_non_null(strstr(err, "/nonexistent/vfolderfs.conf"));
        free(err);
}

static void file_errors_name_the_path(void **state)
{
        char path[] = "/tmp/test-config.XXXXXX";
        struct vf_config c;
        char *err = NULL, want[96];
        int fd = mkstemp(path);

        (void)state;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "storage_uid = 5\nx = y\n", 22), 22);
        close(fd);
        assert_int_equal(config_parse_file(path, true, &c, &err), -EINVAL);
        snprintf(want, sizeof(want), "%s:2: unknown key 'x'", path);
        assert_string_equal(err, want);
        assert_false(c.has_storage_uid);
        free(err);
        unlink(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_key),
                cmocka_unit_test(empty_file_sets_nothing),
                cmocka_unit_test(comments_blanks_and_spaces),
                cmocka_unit_test(booleans_and_repeats),
                cmocka_unit_test(scratch_size_takes_sizes_and_none),
                cmocka_unit_test(errors_name_file_and_line),
                cmocka_unit_test(over_long_line_is_refused),
                cmocka_unit_test(missing_file),
                cmocka_unit_test(file_errors_name_the_path),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
