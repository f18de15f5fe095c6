/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-rules.c - unit tests of the pure rules in metadata/rules.c and the
 * enum conversions: folder and entity names, sizes, backing paths, mount
 * targets and aliases, target sets and mount request parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog-private.h"
#include "unit.h"

static void name_ok(const char *name)
{
        char *err = NULL;
        int r = cat_name_check(name, &err);

        if (r != 0)
                fail_msg("name '%s' refused: %s", name, err);
}

static void name_bad(const char *name, const char *needle)
{
        assert_fails(cat_name_check(name, reterr), -EINVAL, needle);
}

static char *repeat(char c, size_t n)
{
        char *s = malloc(n + 1);

        assert_non_null(s);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

static void folder_name_of_1_and_64_characters_is_valid(void **state)
{
        char *s = repeat('a', 64);

        (void)state;
        name_ok("a");
        name_ok("7");
        name_ok(s);
        free(s);
}

static void folder_name_of_65_characters_is_too_long(void **state)
{
        char *s = repeat('a', 65);

        (void)state;
        name_bad(s, "longer than 64");
        free(s);
}

static void empty_or_null_folder_name_is_refused(void **state)
{
        (void)state;
        name_bad("", "empty");
        name_bad(NULL, "empty");
}

static void folder_name_allows_only_letters_digits_dot_underscore_dash(void **state)
{
        (void)state;
        name_ok("User1-ml_test.v2");
        name_ok("A.b-c_d");
        name_bad("a b", "may contain only");
        name_bad("a/b", "may contain only");
        name_bad("a:b", "may contain only");
        name_bad("caf\xc3\xa9", "may contain only");
        name_bad("tab\there", "may contain only");
        name_bad("star*", "may contain only");
}

static void folder_name_must_start_with_letter_digit_or_dot(void **state)
{
        (void)state;
        name_bad("-x", "must start with");
        name_bad("_x", "must start with");
        name_ok(".local");
        name_ok("9lives");
}

static void dot_and_dot_dot_are_not_folder_names(void **state)
{
        (void)state;
        name_bad(".", "'.' or '..'");
        name_bad("..", "'.' or '..'");
}

static void double_leading_dot_is_refused(void **state)
{
        (void)state;
        name_bad("..local", "single '.'");
        name_bad("...", "single '.'");
        name_ok(".a..b");
}

static void session_names_are_reserved(void **state)
{
        (void)state;
        name_bad(".ssh", "reserved");
        name_bad(".jupyter", "reserved");
        name_bad(".terminfo", "reserved");
        name_bad(".tmux.conf", "reserved");
        name_ok("ssh");
        name_ok(".sshx");
        name_ok(".SSH");
}

static void rc_files_are_reserved_case_sensitively(void **state)
{
        (void)state;
        name_bad(".bashrc", "reserved");
        name_bad(".zshrc", "reserved");
        name_bad(".vimrc", "reserved");
        name_bad(".npmrc", "reserved");
        name_bad(".x1rc", "reserved");
        /* ^\.[a-z0-9]+rc$ needs one character before "rc" and no capitals. */
        name_ok(".rc");
        name_ok(".Bashrc");
        name_ok(".bashRC");
        name_ok(".bash-rc");
        name_ok(".bashrc2");
        name_ok("bashrc");
}

static void profile_files_are_reserved_case_sensitively(void **state)
{
        (void)state;
        name_bad(".bash_profile", "reserved");
        name_bad(".zsh_profile", "reserved");
        name_bad(".x_profile", "reserved");
        name_ok("._profile");
        name_ok(".Bash_profile");
        name_ok(".bash_profile.d");
        name_ok(".bash_Profile");
        name_ok("bash_profile");
}

static void automount_names_have_a_single_leading_dot(void **state)
{
        (void)state;
        assert_true(cat_name_is_automount(".local"));
        assert_true(cat_name_is_automount(".linuxbrew"));
        assert_false(cat_name_is_automount("local"));
        assert_false(cat_name_is_automount("."));
        assert_false(cat_name_is_automount(".."));
        assert_false(cat_name_is_automount("..x"));
        assert_false(cat_name_is_automount(NULL));
}

static void entity_names_start_with_letter_or_digit(void **state)
{
        char *s64 = repeat('u', 64), *s65 = repeat('u', 65);

        (void)state;
        assert_ok(cat_entity_name_check("alice", reterr));
        assert_ok(cat_entity_name_check("nfs-1.example_2", reterr));
        assert_ok(cat_entity_name_check("1", reterr));
        assert_ok(cat_entity_name_check(s64, reterr));
        assert_fails(cat_entity_name_check(s65, reterr), -EINVAL, "longer");
        assert_fails(cat_entity_name_check("", reterr), -EINVAL, "empty");
        assert_fails(cat_entity_name_check(".alice", reterr), -EINVAL,
                     "must start");
        assert_fails(cat_entity_name_check("-alice", reterr), -EINVAL,
                     "must start");
        assert_fails(cat_entity_name_check("al ice", reterr), -EINVAL,
                     "may contain only");
        assert_fails(cat_entity_name_check("al/ice", reterr), -EINVAL,
                     "may contain only");
        free(s64);
        free(s65);
}

static void size_ok(const char *s, int64_t want)
{
        int64_t v = -1;
        int r = cat_size_parse(s, &v);

        if (r != 0 || v != want)
                fail_msg("size '%s': r=%d v=%lld want %lld", s, r,
                         (long long)v, (long long)want);
}

static void size_bad(const char *s, int err)
{
        int64_t v = 12345;
        int r = cat_size_parse(s, &v);

        if (r != err)
                fail_msg("size '%s': r=%d want %d", s ? s : "(null)", r,
                         err);
        assert_int_equal(v, 12345);
}

static void sizes_parse_with_binary_suffixes(void **state)
{
        (void)state;
        size_ok("1048576", 1048576);
        size_ok("1", 1);
        size_ok("512K", 512 * 1024);
        size_ok("512k", 512 * 1024);
        size_ok("10M", 10LL << 20);
        size_ok("1.5G", 3LL << 29);
        size_ok("2GiB", 2LL << 30);
        size_ok("2gib", 2LL << 30);
        size_ok("2GB", 2LL << 30);
        size_ok("3T", 3LL << 40);
        size_ok("1P", 1LL << 50);
        size_ok("0.5K", 512);
        size_ok("100B", 100);
        size_ok("9223372036854775807", INT64_MAX);
        size_ok("8191P", 8191LL << 50);
}

static void bad_sizes_are_refused_and_leave_the_result_alone(void **state)
{
        (void)state;
        size_bad("", -EINVAL);
        size_bad(NULL, -EINVAL);
        size_bad("0", -EINVAL);
        size_bad("0K", -EINVAL);
        size_bad("-1", -EINVAL);
        size_bad("+1", -EINVAL);
        size_bad(" 1", -EINVAL);
        size_bad("1 K", -EINVAL);
        size_bad("K", -EINVAL);
        size_bad("1X", -EINVAL);
        size_bad("1KK", -EINVAL);
        size_bad("1Kib2", -EINVAL);
        size_bad("1.5", -EINVAL);
        size_bad(".", -EINVAL);
        size_bad("1e6", -EINVAL);
        size_bad("9223372036854775808", -ERANGE);
        size_bad("8192P", -ERANGE);
        size_bad("99999999999999999999999", -ERANGE);
}

#define FOLDER_ID "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
#define OWNER_ID "11111111-2222-3333-4444-555555555555"

static void backing_path_follows_the_layout(void **state)
{
        char *p = NULL;

        (void)state;
        assert_int_equal(cat_backing_path("/srv/vf", CAT_OWNER_USER, OWNER_ID,
                                          FOLDER_ID, &p), 0);
        assert_string_equal(p, "/srv/vf/user-" OWNER_ID
                               "/0a/1b/2c3d4e5f60718293a4b5c6d7e8f9");
        free(p);
        assert_int_equal(cat_backing_path("/srv/vf/", CAT_OWNER_PROJECT,
                                          OWNER_ID, FOLDER_ID, &p), 0);
        assert_string_equal(p, "/srv/vf/project-" OWNER_ID
                               "/0a/1b/2c3d4e5f60718293a4b5c6d7e8f9");
        free(p);
        assert_int_equal(cat_backing_path("/", CAT_OWNER_USER, OWNER_ID,
                                          FOLDER_ID, &p), 0);
        assert_string_equal(p, "/user-" OWNER_ID
                               "/0a/1b/2c3d4e5f60718293a4b5c6d7e8f9");
        free(p);
}

static void backing_path_refuses_malformed_uuids_and_roots(void **state)
{
        char *p = (char *)"untouched";

        (void)state;
        assert_int_equal(cat_backing_path("/srv", CAT_OWNER_USER, OWNER_ID,
                                          "../../etc", &p), -EINVAL);
        assert_int_equal(cat_backing_path("/srv", CAT_OWNER_USER, "x",
                                          FOLDER_ID, &p), -EINVAL);
        assert_int_equal(cat_backing_path("/srv", CAT_OWNER_USER, OWNER_ID,
                                          "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                                          &p), -EINVAL);
        assert_int_equal(cat_backing_path("relative", CAT_OWNER_USER,
                                          OWNER_ID, FOLDER_ID, &p), -EINVAL);
        assert_int_equal(cat_backing_path(NULL, CAT_OWNER_USER, OWNER_ID,
                                          FOLDER_ID, &p), -EINVAL);
        assert_string_equal(p, "untouched");
}

static void target_ok(const char *name, const char *alias, const char *want)
{
        char *t = NULL, *err = NULL;
        int r = cat_target_resolve(name, alias, &t, &err);

        if (r != 0)
                fail_msg("target of '%s' alias '%s': %s", name,
                         alias ? alias : "(null)", err);
        assert_string_equal(t, want);
        free(t);
}

static void target_bad(const char *alias, const char *needle)
{
        char *t = (char *)"untouched";

        assert_fails(cat_target_resolve("data", alias, &t, reterr), -EINVAL,
                     needle);
        assert_string_equal(t, "untouched");
}

static void default_target_is_under_home(void **state)
{
        (void)state;
        target_ok("data", NULL, "/home/work/data");
        target_ok(".local", NULL, "/home/work/.local");
        target_ok(".linuxbrew", NULL, "/home/linuxbrew/.linuxbrew");
}

static void relative_alias_goes_under_home(void **state)
{
        (void)state;
        target_ok("data", "a/b", "/home/work/a/b");
        target_ok("data", "mydata", "/home/work/mydata");
        target_ok("data", "a/b/", "/home/work/a/b");
}

static void absolute_alias_is_taken_as_is(void **state)
{
        (void)state;
        target_ok("data", "/workspace", "/workspace");
        target_ok("data", "/data/x/y", "/data/x/y");
        target_ok("data", "/usr/local/data", "/usr/local/data");
        target_ok("data", "/home/linuxbrew/.linuxbrew", "/home/linuxbrew/.linuxbrew");
}

static void aliases_are_normalised(void **state)
{
        (void)state;
        target_ok("data", "//workspace//x/", "/workspace/x");
        target_ok("data", "/./workspace/./x/.", "/workspace/x");
        target_ok("data", "./a//./b", "/home/work/a/b");
        target_ok("data", "/home/work//./d", "/home/work/d");
}

static void empty_alias_is_refused(void **state)
{
        (void)state;
        target_bad("", "empty alias");
}

static void dot_dot_components_are_refused(void **state)
{
        (void)state;
        target_bad("..", "'..'");
        target_bad("a/../b", "'..'");
        target_bad("/workspace/..", "'..'");
        target_bad("../etc", "'..'");
        target_ok("data", "a..b/..c", "/home/work/a..b/..c");
}

static void home_itself_is_not_a_target(void **state)
{
        (void)state;
        target_bad("/home/work", "session home");
        target_bad("/home/work/", "session home");
        target_bad(".", "session home");
        target_bad("./", "session home");
        target_bad("/home//work/.", "session home");
}

static void every_reserved_system_path_is_refused(void **state)
{
        static const char *const reserved[] = {
                "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib",
                "/lib64", "/media", "/mnt", "/opt", "/proc", "/root", "/run",
                "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
        };

        (void)state;
        for (size_t i = 0; i < sizeof(reserved) / sizeof(*reserved); i++) {
                char *slashed;

                target_bad(reserved[i], "reserved");
                assert_true(asprintf(&slashed, "%s//", reserved[i]) > 0);
                target_bad(slashed, "reserved");
                free(slashed);
        }
        target_bad("//", "reserved");
        target_bad("/.", "reserved");
}

static void session_reserved_names_under_home_are_refused(void **state)
{
        (void)state;
        target_bad(".ssh", "reserved for the session");
        target_bad("/home/work/.ssh", "reserved for the session");
        target_bad(".ssh/keys", "reserved for the session");
        target_bad(".jupyter", "reserved for the session");
        target_bad(".terminfo/x", "reserved for the session");
        target_bad(".tmux.conf", "reserved for the session");
        target_bad(".bashrc", "reserved for the session");
        target_bad(".bash_profile", "reserved for the session");
        target_ok("data", "x/.ssh", "/home/work/x/.ssh");
        target_ok("data", "/srv2/.ssh", "/srv2/.ssh");
}

static void target_in_home_means_strictly_inside(void **state)
{
        (void)state;
        assert_true(cat_target_in_home("/home/work/a"));
        assert_true(cat_target_in_home("/home/work/a/b"));
        assert_false(cat_target_in_home("/home/work"));
        assert_false(cat_target_in_home("/home/work/"));
        assert_false(cat_target_in_home("/home/workspace"));
        assert_false(cat_target_in_home("/workspace"));
        assert_false(cat_target_in_home(NULL));
}

static void distinct_targets_pass_the_check(void **state)
{
        const char *names[] = { "a", "b", "c" };
        const char *targets[] = { "/home/work/a", "/workspace", "/home/work/x/y" };
        const char *others[] = { "a", "b", "c", "d" };

        (void)state;
        assert_ok(cat_targets_check(names, targets, 3, others, 4, reterr));
        assert_ok(cat_targets_check(NULL, NULL, 0, NULL, 0, reterr));
}

static void duplicate_targets_are_refused(void **state)
{
        const char *names[] = { "a", "b" };
        const char *targets[] = { "/workspace", "/workspace" };

        (void)state;
        assert_fails(cat_targets_check(names, targets, 2, NULL, 0, reterr),
                     -EINVAL, "'/workspace'");
}

static void nested_targets_are_refused_both_ways(void **state)
{
        const char *names[] = { "a", "b" };
        const char *outer_first[] = { "/workspace", "/workspace/b" };
        const char *inner_first[] = { "/data/x/y/z", "/data/x" };
        const char *siblings[] = { "/workspace", "/workspace2" };

        (void)state;
        assert_fails(cat_targets_check(names, outer_first, 2, NULL, 0, reterr),
                     -EINVAL, "inside");
        assert_fails(cat_targets_check(names, inner_first, 2, NULL, 0, reterr),
                     -EINVAL, "inside");
        assert_ok(cat_targets_check(names, siblings, 2, NULL, 0, reterr));
}

static void alias_equal_to_another_folders_default_target_is_refused(void **state)
{
        const char *names[] = { "a" };
        const char *targets[] = { "/home/work/b" };
        const char *own[] = { "/home/work/a" };
        const char *others[] = { "a", "b" };
        const char *brew[] = { "/home/linuxbrew/.linuxbrew" };
        const char *others_brew[] = { "a", ".linuxbrew" };

        (void)state;
        assert_fails(cat_targets_check(names, targets, 1, others, 2, reterr),
                     -EINVAL, "default target of folder 'b'");
        /* A folder's own default target is its own. */
        assert_ok(cat_targets_check(names, own, 1, others, 2, reterr));
        assert_fails(cat_targets_check(names, brew, 1, others_brew, 2, reterr),
                     -EINVAL, ".linuxbrew");
}

static void thousands_of_targets_are_checked_quickly(void **state)
{
        enum { N = 20000 };
        const char **names = calloc(N, sizeof(*names));
        const char **targets = calloc(N, sizeof(*targets));
        char (*buf)[2][80] = calloc(N, sizeof(*buf));

        (void)state;
        for (size_t i = 0; i < N; i++) {
                snprintf(buf[i][0], 80, "f%05zu", i);
                snprintf(buf[i][1], 80, "/home/work/f%05zu", i);
                names[i] = buf[i][0];
                targets[i] = buf[i][1];
        }
        assert_ok(cat_targets_check(names, targets, N, names, N, reterr));
        snprintf(buf[N - 1][1], 80, "/home/work/f00017/inner");
        assert_fails(cat_targets_check(names, targets, N, names, N, reterr),
                     -EINVAL, "inside");
        free(names);
        free(targets);
        free(buf);
}

static void request_ok(const char *s, const char *ref, const char *alias,
                       enum cat_perm perm)
{
        struct cat_mount_request req = { 0 };
        char *err = NULL;

        if (cat_mount_request_parse(s, &req, &err) != 0)
                fail_msg("request '%s': %s", s, err);
        assert_string_equal(req.ref, ref);
        if (alias)
                assert_string_equal(req.alias, alias);
        else
                assert_null(req.alias);
        assert_int_equal(req.perm, perm);
        cat_mount_request_release(&req);
        assert_null(req.ref);
}

static void request_bad(const char *s, const char *needle)
{
        struct cat_mount_request req = { .ref = (char *)"untouched" };

        assert_fails(cat_mount_request_parse(s, &req, reterr), -EINVAL, needle);
        assert_string_equal(req.ref, "untouched");
}

static void mount_requests_parse_ref_target_and_perm(void **state)
{
        (void)state;
        request_ok("data", "data", NULL, CAT_PERM_NONE);
        request_ok("data:/workspace", "data", "/workspace", CAT_PERM_NONE);
        request_ok("data:ro", "data", NULL, CAT_PERM_RO);
        request_ok("data:rw", "data", NULL, CAT_PERM_RW);
        request_ok("data:wd", "data", NULL, CAT_PERM_WD);
        request_ok("data:/workspace:ro", "data", "/workspace", CAT_PERM_RO);
        request_ok("data:a/b:wd", "data", "a/b", CAT_PERM_WD);
        request_ok(FOLDER_ID ":x", FOLDER_ID, "x", CAT_PERM_NONE);
        /* Only an exact permission is one. */
        request_ok("data:RO", "data", "RO", CAT_PERM_NONE);
        request_ok("data:./ro", "data", "./ro", CAT_PERM_NONE);
}

static void bad_mount_requests_are_refused(void **state)
{
        (void)state;
        request_bad("", "empty");
        request_bad(NULL, "empty");
        request_bad(":x", "empty folder reference");
        request_bad(":", "empty folder reference");
        request_bad("data:", "empty target");
        request_bad("data::ro", "empty target");
        request_bad("data:/w:rx", "bad permission 'rx'");
        request_bad("data:/w:none", "bad permission 'none'");
        request_bad("data:/w:", "bad permission ''");
        request_bad("data:/w:ro:x", "more than");
}

static void enums_convert_to_and_from_text_exactly(void **state)
{
        enum cat_perm p = CAT_PERM_WD;
        enum cat_status s = CAT_STATUS_READY;
        enum cat_owner_type o = CAT_OWNER_USER;
        enum cat_usage_mode u = CAT_USAGE_GENERAL;

        (void)state;
        assert_string_equal(cat_perm_to_string(CAT_PERM_NONE), "none");
        assert_string_equal(cat_perm_to_string(CAT_PERM_RO), "ro");
        assert_string_equal(cat_perm_to_string(CAT_PERM_RW), "rw");
        assert_string_equal(cat_perm_to_string(CAT_PERM_WD), "wd");
        assert_int_equal(cat_perm_from_string("ro", &p), 0);
        assert_int_equal(p, CAT_PERM_RO);
        assert_int_equal(cat_perm_from_string("RO", &p), -EINVAL);
        assert_int_equal(cat_perm_from_string("r", &p), -EINVAL);
        assert_int_equal(cat_perm_from_string(NULL, &p), -EINVAL);
        assert_int_equal(p, CAT_PERM_RO);
        assert_true(CAT_PERM_RO < CAT_PERM_RW && CAT_PERM_RW < CAT_PERM_WD);

        assert_string_equal(cat_status_to_string(CAT_STATUS_TRASH), "trash");
        assert_int_equal(cat_status_from_string("trash", &s), 0);
        assert_int_equal(s, CAT_STATUS_TRASH);
        assert_int_equal(cat_status_from_string("Trash", &s), -EINVAL);

        assert_string_equal(cat_owner_type_to_string(CAT_OWNER_PROJECT),
                            "project");
        assert_int_equal(cat_owner_type_from_string("project", &o), 0);
        assert_int_equal(o, CAT_OWNER_PROJECT);
        assert_int_equal(cat_owner_type_from_string("group", &o), -EINVAL);

        assert_string_equal(cat_usage_mode_to_string(CAT_USAGE_MODEL), "model");
        assert_string_equal(cat_usage_mode_to_string(CAT_USAGE_DATA), "data");
        assert_int_equal(cat_usage_mode_from_string("data", &u), 0);
        assert_int_equal(u, CAT_USAGE_DATA);
        assert_int_equal(cat_usage_mode_from_string("", &u), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(folder_name_of_1_and_64_characters_is_valid),
                cmocka_unit_test(folder_name_of_65_characters_is_too_long),
                cmocka_unit_test(empty_or_null_folder_name_is_refused),
                cmocka_unit_test(folder_name_allows_only_letters_digits_dot_underscore_dash),
                cmocka_unit_test(folder_name_must_start_with_letter_digit_or_dot),
                cmocka_unit_test(dot_and_dot_dot_are_not_folder_names),
                cmocka_unit_test(double_leading_dot_is_refused),
                cmocka_unit_test(session_names_are_reserved),
                cmocka_unit_test(rc_files_are_reserved_case_sensitively),
                cmocka_unit_test(profile_files_are_reserved_case_sensitively),
                cmocka_unit_test(automount_names_have_a_single_leading_dot),
                cmocka_unit_test(entity_names_start_with_letter_or_digit),
                cmocka_unit_test(sizes_parse_with_binary_suffixes),
                cmocka_unit_test(bad_sizes_are_refused_and_leave_the_result_alone),
                cmocka_unit_test(backing_path_follows_the_layout),
                cmocka_unit_test(backing_path_refuses_malformed_uuids_and_roots),
                cmocka_unit_test(default_target_is_under_home),
                cmocka_unit_test(relative_alias_goes_under_home),
                cmocka_unit_test(absolute_alias_is_taken_as_is),
                cmocka_unit_test(aliases_are_normalised),
                cmocka_unit_test(empty_alias_is_refused),
                cmocka_unit_test(dot_dot_components_are_refused),
                cmocka_unit_test(home_itself_is_not_a_target),
                cmocka_unit_test(every_reserved_system_path_is_refused),
                cmocka_unit_test(session_reserved_names_under_home_are_refused),
                cmocka_unit_test(target_in_home_means_strictly_inside),
                cmocka_unit_test(distinct_targets_pass_the_check),
                cmocka_unit_test(duplicate_targets_are_refused),
                cmocka_unit_test(nested_targets_are_refused_both_ways),
                cmocka_unit_test(alias_equal_to_another_folders_default_target_is_refused),
                cmocka_unit_test(thousands_of_targets_are_checked_quickly),
                cmocka_unit_test(mount_requests_parse_ref_target_and_perm),
                cmocka_unit_test(bad_mount_requests_are_refused),
                cmocka_unit_test(enums_convert_to_and_from_text_exactly),
        };

        return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
