/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-sessions.c - unit tests of metadata/sessions.c: recording a session
 * with its mount requests (and every refusal), starting it for a daemon from
 * a user or from session:ID, ending it, reaping sessions whose daemon died,
 * and listing sessions and mounts.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog-private.h"
#include "unit.h"

/* A pid that existed and is gone. */
static pid_t dead_pid(void)
{
        pid_t pid = fork();
        int status;

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return pid;
}

static void create_session(struct fx *fx, const char *user,
                           const char *const *specs, char id[CAT_UUID_STRLEN])
{
        struct cat_mount_request reqs[8] = { 0 };
        size_t n = 0;

        for (; specs && specs[n]; n++)
                assert_ok(cat_mount_request_parse(specs[n], &reqs[n], reterr));
        assert_ok(cat_session_create(fx->cat, user, reqs, n, id, reterr));
        for (size_t i = 0; i < n; i++)
                cat_mount_request_release(&reqs[i]);
}

/* cat_session_create with one request, returning its result. */
static int create_one(struct fx *fx, const char *user, const char *spec,
                      char **reterr)
{
        struct cat_mount_request req;
        char id[CAT_UUID_STRLEN] = "untouched";
        int r;

        assert_int_equal(cat_mount_request_parse(spec, &req, NULL), 0);
        r = cat_session_create(fx->cat, user, &req, 1, id, reterr);
        cat_mount_request_release(&req);
        if (r < 0)
                assert_string_equal(id, "untouched");
        return r;
}

static int create_two(struct fx *fx, const char *user, const char *a,
                      const char *b, char **reterr)
{
        struct cat_mount_request reqs[2];
        char id[CAT_UUID_STRLEN];
        int r;

        assert_int_equal(cat_mount_request_parse(a, &reqs[0], NULL), 0);
        assert_int_equal(cat_mount_request_parse(b, &reqs[1], NULL), 0);
        r = cat_session_create(fx->cat, user, reqs, 2, id, reterr);
        cat_mount_request_release(&reqs[0]);
        cat_mount_request_release(&reqs[1]);
        return r;
}

struct started {
        struct cat_session *s;
        struct cat_mount *m;
        size_t n;
};

static void start(struct fx *fx, const char *source, pid_t pid,
                  struct started *st)
{
        assert_ok(cat_session_start(fx->cat, source, "/home/work", "h1", pid,
                                    fx->scratch, &st->s, &st->m, &st->n,
                                    reterr));
}

static void started_release(struct started *st)
{
        cat_session_free(st->s);
        cat_mount_list_free(st->m, st->n);
        memset(st, 0, sizeof(*st));
}

static const struct cat_mount *find_mount(const struct started *st,
                                          const char *name)
{
        for (size_t i = 0; i < st->n; i++)
                if (strcmp(st->m[i].folder_name, name) == 0)
                        return &st->m[i];
        return NULL;
}

/* alice: own data (rw), .local, .linuxbrew, trashed 'old'; bob's 'shared'
 * (ro to alice); project 'ml' folder 'proj' (wd); carol's 'private'. */
static void populate(struct fx *fx)
{
        const char *members[] = { "alice", NULL };
        const char *shared, *old;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_user(fx, "carol");
        fx_project(fx, "ml", members);
        fx_folder(fx, "data", "alice", NULL, CAT_PERM_RW);
        fx_folder(fx, ".local", "alice", NULL, CAT_PERM_WD);
        fx_folder(fx, ".linuxbrew", "alice", NULL, CAT_PERM_WD);
        old = fx_folder(fx, "old", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_delete(fx->cat, old, false, reterr));
        shared = fx_folder(fx, "shared", "bob", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_share(fx->cat, shared, "alice", CAT_PERM_RO,
                                   reterr));
        fx_folder(fx, "proj", NULL, "ml", CAT_PERM_WD);
        fx_folder(fx, "private", "carol", NULL, CAT_PERM_WD);
}

static void created_session_records_its_requests_without_starting(void **state)
{
        struct fx *fx = *state;
        const char *specs[] = { "data:/workspace:ro", "proj:a/b", NULL };
        char id[CAT_UUID_STRLEN];
        struct cat_session *s = NULL;
        struct cat_mount *m = NULL;
        size_t n = 0;

        populate(fx);
        create_session(fx, "alice", specs, id);
        assert_ok(cat_session_get(fx->cat, id, &s, reterr));
        assert_string_equal(s->user_name, "alice");
        assert_int_equal(s->pid, 0);
        assert_null(s->mountpoint);
        assert_null(s->hostname);
        assert_null(s->scratch);
        assert_int_equal(s->ended_at, 0);
        assert_true(s->started_at > 0);
        assert_int_equal(s->uid, 1000);
        cat_session_free(s);
        assert_ok(cat_mount_list(fx->cat, id, NULL, &m, &n, reterr));
        assert_int_equal(n, 2);
        assert_string_equal(m[0].folder_name, "proj");
        assert_string_equal(m[0].target, "/home/work/a/b");
        assert_int_equal(m[0].permission, CAT_PERM_WD); /* the effective */
        assert_string_equal(m[1].folder_name, "data");
        assert_string_equal(m[1].target, "/workspace");
        assert_int_equal(m[1].permission, CAT_PERM_RO);
        assert_int_equal(m[1].mounted_at, 0);
        cat_mount_list_free(m, n);
}

static void asking_more_than_the_effective_permission_is_eperm(void **state)
{
        struct fx *fx = *state;

        populate(fx);
        assert_unchanged(fx, create_one(fx, "alice", "shared:rw", reterr),
                         -EPERM, "holds 'ro'");
        assert_unchanged(fx, create_one(fx, "alice", "data:wd", reterr),
                         -EPERM, "'wd'");
        assert_ok(create_one(fx, "alice", "shared:ro", reterr));
        assert_ok(create_one(fx, "alice", "data:rw", reterr));
}

static void trashed_folder_cannot_be_requested(void **state)
{
        struct fx *fx = *state;

        populate(fx);
        assert_unchanged(fx, create_one(fx, "alice", "old", reterr), -EINVAL,
                         "trash");
}

static void invisible_folder_cannot_be_requested_by_name_or_uuid(void **state)
{
        struct fx *fx = *state;
        struct cat_folder *f = NULL;
        char *spec;

        populate(fx);
        assert_unchanged(fx, create_one(fx, "alice", "private", reterr),
                         -ENOENT, "no folder 'private'");
        assert_ok(cat_folder_resolve(fx->cat, "private", NULL, &f, reterr));
        assert_true(asprintf(&spec, "%s:ro", f->id) > 0);
        assert_unchanged(fx, create_one(fx, "alice", spec, reterr), -ENOENT,
                         f->id);
        assert_unchanged(fx, create_one(fx, "nobody", "data", reterr),
                         -ENOENT, "no user 'nobody'");
        free(spec);
        cat_folder_free(f);
}

static void bad_targets_are_refused_at_create(void **state)
{
        struct fx *fx = *state;

        populate(fx);
        assert_unchanged(fx, create_one(fx, "alice", "data:/etc", reterr),
                         -EINVAL, "reserved");
        assert_unchanged(fx, create_one(fx, "alice", "data:/home/work", reterr),
                         -EINVAL, "session home");
        assert_unchanged(fx, create_one(fx, "alice", "data:.ssh", reterr),
                         -EINVAL, "reserved for the session");
        assert_unchanged(fx, create_one(fx, "alice", "data:../x", reterr),
                         -EINVAL, "'..'");
        /* Another folder's default target. */
        assert_unchanged(fx, create_one(fx, "alice", "data:proj", reterr),
                         -EINVAL, "default target of folder 'proj'");
        assert_unchanged(fx, create_one(fx, "alice", "data:.local", reterr),
                         -EINVAL, "default target of folder '.local'");
        assert_unchanged(fx, create_one(fx, "alice",
                                        "data:/home/linuxbrew/.linuxbrew",
                                        reterr),
                         -EINVAL, "'.linuxbrew'");
        /* Two requests that collide. */
        assert_unchanged(fx, create_two(fx, "alice", "data:/w", "proj:/w",
                                        reterr), -EINVAL, "'/w'");
        assert_unchanged(fx, create_two(fx, "alice", "data:/w", "proj:/w/x",
                                        reterr), -EINVAL, "inside");
        assert_unchanged(fx, create_two(fx, "alice", "data:/w/x/y", "proj:/w",
                                        reterr), -EINVAL, "inside");
        assert_unchanged(fx, create_two(fx, "alice", "data:/a", "data:/b",
                                        reterr), -EINVAL, "twice");
        /* A folder's own default target is fine, so is its name elsewhere. */
        assert_ok(create_one(fx, "alice", "data:data", reterr));
        assert_ok(create_one(fx, "alice", "data:x/proj", reterr));
}

static void user_source_mounts_every_ready_visible_folder(void **state)
{
        struct fx *fx = *state;
        struct started st = { 0 };
        const struct cat_mount *m;
        struct stat sb;
        char *path;

        populate(fx);
        start(fx, "alice", getpid(), &st);
        assert_int_equal(st.n, 5);
        /* Ordered by target. */
        for (size_t i = 1; i < st.n; i++)
                assert_true(strcmp(st.m[i - 1].target, st.m[i].target) < 0);
        assert_null(find_mount(&st, "old"));
        assert_null(find_mount(&st, "private"));
        m = find_mount(&st, "data");
        assert_non_null(m);
        assert_string_equal(m->target, "/home/work/data");
        assert_int_equal(m->permission, CAT_PERM_RW);
        path = fx_backing(fx, m->folder_id);
        assert_string_equal(m->backing_path, path);
        free(path);
        assert_true(m->mounted_at > 0);
        assert_int_equal(m->unmounted_at, 0);
        assert_string_equal(m->session_id, st.s->id);
        m = find_mount(&st, "shared");
        assert_int_equal(m->permission, CAT_PERM_RO);
        m = find_mount(&st, "proj");
        assert_int_equal(m->permission, CAT_PERM_WD);
        m = find_mount(&st, ".local");
        assert_string_equal(m->target, "/home/work/.local");
        m = find_mount(&st, ".linuxbrew");
        assert_string_equal(m->target, "/home/linuxbrew/.linuxbrew");

        assert_int_equal(st.s->pid, getpid());
        assert_string_equal(st.s->hostname, "h1");
        assert_string_equal(st.s->mountpoint, "/home/work");
        assert_string_equal(st.s->user_name, "alice");
        assert_int_equal(lstat(st.s->scratch, &sb), 0);
        assert_true(S_ISDIR(sb.st_mode));
        assert_int_equal(sb.st_mode & 07777, 0755);
        assert_non_null(strstr(st.s->scratch, st.s->id));
        started_release(&st);
}

static void user_source_may_be_a_uuid_and_carries_quota(void **state)
{
        struct fx *fx = *state;
        struct cat_user *u = NULL;
        struct started st = { 0 };
        struct cat_folder_update up = { .set_quota = true,
                                        .quota_bytes = 1 << 30 };

        populate(fx);
        assert_ok(cat_folder_set(fx->cat, "data", &up, reterr));
        assert_ok(cat_user_get(fx->cat, "alice", &u, reterr));
        start(fx, u->id, getpid(), &st);
        assert_int_equal(find_mount(&st, "data")->quota_bytes, 1 << 30);
        assert_int_equal(find_mount(&st, "proj")->quota_bytes, 0);
        started_release(&st);
        cat_user_free(u);
}

static void session_source_mounts_its_requests_plus_automount(void **state)
{
        struct fx *fx = *state;
        const char *specs[] = { "shared:/workspace", "data:d:ro", NULL };
        char id[CAT_UUID_STRLEN], source[64];
        struct started st = { 0 };

        populate(fx);
        create_session(fx, "alice", specs, id);
        snprintf(source, sizeof(source), "session:%s", id);
        start(fx, source, getpid(), &st);
        assert_string_equal(st.s->id, id);
        assert_int_equal(st.n, 4);
        assert_string_equal(find_mount(&st, "shared")->target, "/workspace");
        assert_int_equal(find_mount(&st, "shared")->permission, CAT_PERM_RO);
        assert_string_equal(find_mount(&st, "data")->target, "/home/work/d");
        assert_int_equal(find_mount(&st, "data")->permission, CAT_PERM_RO);
        assert_non_null(find_mount(&st, ".local"));
        assert_string_equal(find_mount(&st, ".linuxbrew")->target,
                            "/home/linuxbrew/.linuxbrew");
        assert_null(find_mount(&st, "proj"));
        started_release(&st);
}

static void requested_automount_folder_is_not_mounted_twice(void **state)
{
        struct fx *fx = *state;
        const char *specs[] = { ".local:/opt2/local", NULL };
        char id[CAT_UUID_STRLEN], source[64];
        struct started st = { 0 };

        populate(fx);
        create_session(fx, "alice", specs, id);
        snprintf(source, sizeof(source), "session:%s", id);
        start(fx, source, getpid(), &st);
        assert_int_equal(st.n, 2);
        assert_string_equal(find_mount(&st, ".local")->target, "/opt2/local");
        started_release(&st);
}

static int start_result(struct fx *fx, const char *source, char **reterr)
{
        struct cat_session *s = (struct cat_session *)0x1;
        struct cat_mount *m = (struct cat_mount *)0x1;
        size_t n = 77;
        int r;

        r = cat_session_start(fx->cat, source, "/home/work", "h1", getpid(),
                              fx->scratch, &s, &m, &n, reterr);
        if (r < 0) {
                assert_ptr_equal(s, (struct cat_session *)0x1);
                assert_ptr_equal(m, (struct cat_mount *)0x1);
                assert_int_equal(n, 77);
        } else {
                cat_session_free(s);
                cat_mount_list_free(m, n);
        }
        return r;
}

static void session_attaches_once_and_never_after_it_ended(void **state)
{
        struct fx *fx = *state;
        const char *specs[] = { "data", NULL };
        char id[CAT_UUID_STRLEN], source[64];

        populate(fx);
        create_session(fx, "alice", specs, id);
        snprintf(source, sizeof(source), "session:%s", id);
        assert_ok(start_result(fx, source, reterr));
        assert_unchanged(fx, start_result(fx, source, reterr), -EBUSY,
                         "already started");
        assert_ok(cat_session_end(fx->cat, id, reterr));
        assert_unchanged(fx, start_result(fx, source, reterr), -ENOENT,
                         "has ended");
        assert_unchanged(fx, start_result(fx,
                         "session:11111111-2222-3333-4444-555555555555",
                         reterr), -ENOENT, "no session");
        assert_unchanged(fx, start_result(fx, "nobody", reterr), -ENOENT,
                         "no user 'nobody'");
}

static void requested_folder_gone_meanwhile_fails_the_start(void **state)
{
        struct fx *fx = *state;
        const char *specs[] = { "data", NULL };
        char id[CAT_UUID_STRLEN], source[64];
        char *scratch;

        populate(fx);
        create_session(fx, "alice", specs, id);
        snprintf(source, sizeof(source), "session:%s", id);
        /* The created session holds it: only a forced delete takes it. */
        assert_unchanged(fx, cat_folder_delete(fx->cat, "data", false, reterr),
                         -EBUSY, id);
        assert_ok(cat_folder_delete(fx->cat, "data", true, reterr));
        assert_unchanged(fx, start_result(fx, source, reterr), -ENOENT,
                         "'data'");
        assert_true(asprintf(&scratch, "%s/%s", fx->scratch, id) > 0);
        assert_false(fx_exists(scratch));
        free(scratch);
        /* Unshared meanwhile: gone as well. */
        specs[0] = "shared";
        create_session(fx, "alice", specs, id);
        snprintf(source, sizeof(source), "session:%s", id);
        assert_ok(cat_folder_unshare(fx->cat, "shared", "alice", reterr));
        assert_unchanged(fx, start_result(fx, source, reterr), -ENOENT,
                         "'shared'");
}

static void start_never_grants_more_than_the_user_holds_now(void **state)
{
        struct fx *fx = *state;
        const char *specs[] = { "data:rw", NULL };
        struct cat_folder_update up = { .set_permission = true,
                                        .permission = CAT_PERM_RO };
        char id[CAT_UUID_STRLEN], source[64];
        struct started st = { 0 };

        populate(fx);
        create_session(fx, "alice", specs, id);
        assert_ok(cat_folder_set(fx->cat, "data", &up, reterr));
        snprintf(source, sizeof(source), "session:%s", id);
        start(fx, source, getpid(), &st);
        assert_int_equal(find_mount(&st, "data")->permission, CAT_PERM_RO);
        started_release(&st);
}

static void bad_start_arguments_are_einval(void **state)
{
        struct fx *fx = *state;
        struct cat_session *s = NULL;
        struct cat_mount *m = NULL;
        size_t n = 0;

        populate(fx);
        assert_fails(cat_session_start(fx->cat, "", "/home/work", "h1",
                                       getpid(), fx->scratch, &s, &m, &n,
                                       reterr), -EINVAL, NULL);
        assert_fails(cat_session_start(fx->cat, "alice", "/home/work", "h1",
                                       0, fx->scratch, &s, &m, &n, reterr),
                     -EINVAL, NULL);
        assert_fails(cat_session_start(fx->cat, "alice", "/home/work", "h1",
                                       getpid(), "relative", &s, &m, &n,
                                       reterr), -EINVAL, "scratch");
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM sessions"), 0);
}

static void ending_removes_scratch_and_keeps_folder_data(void **state)
{
        struct fx *fx = *state;
        struct started st = { 0 };
        struct cat_session *s = NULL;
        struct cat_mount *m = NULL;
        const struct cat_mount *data;
        char *p, *kept;
        size_t n = 0;

        populate(fx);
        start(fx, "alice", getpid(), &st);
        data = find_mount(&st, "data");
        assert_true(asprintf(&kept, "%s/result.txt", data->backing_path) > 0);
        fx_write_file(kept, "42");
        /* Scratch with a tree, an unwritable directory and a symlink into
         * the folder: removed without following the link. */
        assert_true(asprintf(&p, "%s/deep", st.s->scratch) > 0);
        assert_int_equal(mkdir(p, 0755), 0);
        free(p);
        assert_true(asprintf(&p, "%s/deep/file", st.s->scratch) > 0);
        fx_write_file(p, "scratch");
        free(p);
        assert_true(asprintf(&p, "%s/deep", st.s->scratch) > 0);
        assert_int_equal(chmod(p, 0500), 0);
        free(p);
        assert_true(asprintf(&p, "%s/to-data", st.s->scratch) > 0);
        assert_int_equal(symlink(data->backing_path, p), 0);
        free(p);

        assert_ok(cat_session_end(fx->cat, st.s->id, reterr));
        assert_false(fx_exists(st.s->scratch));
        assert_true(fx_exists(kept));
        assert_true(fx_exists(data->backing_path));
        assert_ok(cat_session_get(fx->cat, st.s->id, &s, reterr));
        assert_true(s->ended_at > 0);
        cat_session_free(s);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM mounts WHERE"
                                    " unmounted_at IS NULL"), 0);
        assert_ok(cat_mount_list(fx->cat, st.s->id, NULL, &m, &n, reterr));
        assert_int_equal(n, 0);
        cat_mount_list_free(m, n);
        assert_unchanged(fx, cat_session_end(fx->cat, st.s->id, reterr),
                         -EALREADY, "already ended");
        assert_unchanged(fx, cat_session_end(fx->cat,
                         "11111111-2222-3333-4444-555555555555", reterr),
                         -ENOENT, "no session");
        free(kept);
        started_release(&st);
}

static void created_session_can_be_ended_before_it_starts(void **state)
{
        struct fx *fx = *state;
        const char *specs[] = { "data", NULL };
        char id[CAT_UUID_STRLEN];

        populate(fx);
        create_session(fx, "alice", specs, id);
        assert_ok(cat_session_end(fx->cat, id, reterr));
}

static void reap_ends_only_sessions_whose_pid_is_dead_on_this_host(void **state)
{
        struct fx *fx = *state;
        struct started dead = { 0 }, live = { 0 }, elsewhere = { 0 };
        struct cat_session *s = NULL;
        size_t reaped = 99;

        populate(fx);
        start(fx, "alice", getpid(), &dead);
        start(fx, "alice", getpid(), &live);
        assert_ok(cat_session_start(fx->cat, "bob", "/home/work", "h2",
                                    getpid(), fx->scratch, &elsewhere.s,
                                    &elsewhere.m, &elsewhere.n, reterr));
        /* Their daemons die (starting one would reap the others). */
        {
                char *sql;

                assert_true(asprintf(&sql, "UPDATE sessions SET pid = %d"
                                     " WHERE id IN ('%s', '%s')",
                                     (int)dead_pid(), dead.s->id,
                                     elsewhere.s->id) > 0);
                fx_sql(fx, sql);
                free(sql);
        }
        assert_true(fx_exists(dead.s->scratch));

        assert_ok(cat_session_reap(fx->cat, "h1", &reaped, reterr));
        assert_int_equal(reaped, 1);
        assert_false(fx_exists(dead.s->scratch));
        assert_ok(cat_session_get(fx->cat, dead.s->id, &s, reterr));
        assert_true(s->ended_at > 0);
        cat_session_free(s);
        assert_ok(cat_session_get(fx->cat, live.s->id, &s, reterr));
        assert_int_equal(s->ended_at, 0);
        cat_session_free(s);
        assert_ok(cat_session_get(fx->cat, elsewhere.s->id, &s, reterr));
        assert_int_equal(s->ended_at, 0);
        cat_session_free(s);
        assert_true(fx_exists(elsewhere.s->scratch));

        assert_ok(cat_session_reap(fx->cat, "h1", &reaped, reterr));
        assert_int_equal(reaped, 0);
        assert_ok(cat_session_reap(fx->cat, "h1", NULL, reterr));
        started_release(&dead);
        started_release(&live);
        started_release(&elsewhere);
}

static void process_identity_tells_a_reused_pid_apart(void **state)
{
        char *me = cat_process_identity(getpid());
        char *again = cat_process_identity(getpid());
        char *parent = cat_process_identity(getppid());

        (void)state;
        assert_non_null(me);
        assert_string_equal(me, again);
        assert_non_null(parent);
        assert_string_not_equal(me, parent);
        assert_null(cat_process_identity(dead_pid()));
        assert_false(cat_process_gone(getpid(), me));
        assert_false(cat_process_gone(getpid(), NULL));
        assert_true(cat_process_gone(getpid(), "another-boot:1"));
        assert_true(cat_process_gone(dead_pid(), NULL));
        free(me);
        free(again);
        free(parent);
}

/*
 * A child killed and not waited for: a zombie, which still answers
 * kill(pid, 0) and keeps its start time.  Returns its pid (reap it with
 * waitpid()); *ret_identity is its identity while it lived.
 */
static pid_t zombie(char **ret_identity)
{
        char path[64], buf[256];
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        *ret_identity = cat_process_identity(pid);
        assert_non_null(*ret_identity);
        assert_int_equal(kill(pid, SIGKILL), 0);
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        for (int i = 0; i < 500; i++) {
                FILE *f = fopen(path, "re");
                char *p = NULL;

                if (f && fgets(buf, sizeof(buf), f))
                        p = strrchr(buf, ')');
                if (f)
                        fclose(f);
                if (p && p[2] == 'Z')
                        return pid;
                usleep(10000);
        }
        fail_msg("child %d did not become a zombie", (int)pid);
        return -1;
}

static void a_zombie_daemon_is_gone(void **state)
{
        char *identity = NULL;
        pid_t pid = zombie(&identity);

        (void)state;
        assert_int_equal(kill(pid, 0), 0); /* what made it look alive */
        assert_true(cat_process_gone(pid, identity));
        assert_true(cat_process_gone(pid, NULL));
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        free(identity);
}

static void reap_ends_a_session_whose_daemon_is_a_zombie(void **state)
{
        struct fx *fx = *state;
        struct started z = { 0 };
        struct cat_session *s = NULL;
        char *identity = NULL, *sql;
        size_t reaped = 0;
        pid_t pid;

        populate(fx);
        pid = zombie(&identity);
        start(fx, "alice", pid, &z);
        /* started with the zombie's pid; its identity as when it lived */
        assert_true(asprintf(&sql, "UPDATE sessions SET pid_identity = '%s'"
                             " WHERE id = '%s'", identity, z.s->id) > 0);
        fx_sql(fx, sql);
        free(sql);
        assert_ok(cat_session_reap(fx->cat, "h1", &reaped, reterr));
        assert_int_equal(reaped, 1);
        assert_ok(cat_session_get(fx->cat, z.s->id, &s, reterr));
        assert_true(s->ended_at > 0);
        assert_false(fx_exists(z.s->scratch));
        cat_session_free(s);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        started_release(&z);
        free(identity);
}

static void reap_ends_a_session_whose_pid_now_belongs_to_another_process(void **state)
{
        struct fx *fx = *state;
        struct started reused = { 0 }, old = { 0 };
        struct cat_session *s = NULL;
        size_t reaped = 0;
        char *sql;

        populate(fx);
        start(fx, "alice", getpid(), &reused);
        start(fx, "bob", getpid(), &old);
        /* The daemon died, and after a reboot our pid went to someone else;
         * a session recorded before identities were kept stays to kill(). */
        assert_true(asprintf(&sql, "UPDATE sessions SET pid_identity ="
                             " 'another-boot:1' WHERE id = '%s';"
                             " UPDATE sessions SET pid_identity = NULL"
                             " WHERE id = '%s'", reused.s->id,
                             old.s->id) > 0);
        fx_sql(fx, sql);
        free(sql);
        assert_ok(cat_session_reap(fx->cat, "h1", &reaped, reterr));
        assert_int_equal(reaped, 1);
        assert_ok(cat_session_get(fx->cat, reused.s->id, &s, reterr));
        assert_true(s->ended_at > 0);
        cat_session_free(s);
        assert_false(fx_exists(reused.s->scratch));
        assert_ok(cat_session_get(fx->cat, old.s->id, &s, reterr));
        assert_int_equal(s->ended_at, 0);
        cat_session_free(s);
        started_release(&reused);
        started_release(&old);
}

static void starting_a_session_reaps_stale_ones_of_the_host(void **state)
{
        struct fx *fx = *state;
        struct started dead = { 0 }, next = { 0 };
        struct cat_session *s = NULL;

        populate(fx);
        start(fx, "alice", dead_pid(), &dead);
        start(fx, "bob", getpid(), &next);
        assert_ok(cat_session_get(fx->cat, dead.s->id, &s, reterr));
        assert_true(s->ended_at > 0);
        assert_false(fx_exists(dead.s->scratch));
        cat_session_free(s);
        started_release(&dead);
        started_release(&next);
}

static void session_list_shows_live_ones_or_all_oldest_first(void **state)
{
        struct fx *fx = *state;
        struct started a = { 0 }, b = { 0 };
        struct cat_session *v = NULL;
        size_t n = 0;

        populate(fx);
        start(fx, "alice", getpid(), &a);
        start(fx, "bob", getpid(), &b);
        fx_sql(fx, "UPDATE sessions SET started_at = started_at - 100 WHERE"
                   " user_id = (SELECT id FROM users WHERE name = 'bob')");
        assert_ok(cat_session_end(fx->cat, a.s->id, reterr));
        assert_ok(cat_session_list(fx->cat, false, &v, &n, reterr));
        assert_int_equal(n, 1);
        assert_string_equal(v[0].id, b.s->id);
        cat_session_list_free(v, n);
        assert_ok(cat_session_list(fx->cat, true, &v, &n, reterr));
        assert_int_equal(n, 2);
        assert_string_equal(v[0].id, b.s->id);
        assert_string_equal(v[1].id, a.s->id);
        assert_true(v[1].ended_at > 0);
        cat_session_list_free(v, n);
        started_release(&a);
        started_release(&b);
}

static void mount_list_filters_by_session_and_folder(void **state)
{
        struct fx *fx = *state;
        struct started a = { 0 }, b = { 0 };
        struct cat_mount *m = NULL;
        size_t n = 0;

        populate(fx);
        start(fx, "alice", getpid(), &a);
        start(fx, "bob", getpid(), &b);
        assert_ok(cat_mount_list(fx->cat, NULL, NULL, &m, &n, reterr));
        assert_int_equal(n, a.n + b.n);
        cat_mount_list_free(m, n);
        assert_ok(cat_mount_list(fx->cat, b.s->id, NULL, &m, &n, reterr));
        assert_int_equal(n, 1);
        assert_string_equal(m[0].folder_name, "shared");
        cat_mount_list_free(m, n);
        /* 'shared' is mounted by both its owner and its grantee. */
        assert_ok(cat_mount_list(fx->cat, NULL, "shared", &m, &n, reterr));
        assert_int_equal(n, 2);
        cat_mount_list_free(m, n);
        assert_ok(cat_mount_list(fx->cat, a.s->id, "shared", &m, &n, reterr));
        assert_int_equal(n, 1);
        assert_string_equal(m[0].session_id, a.s->id);
        assert_int_equal(m[0].permission, CAT_PERM_RO);
        cat_mount_list_free(m, n);
        /* Renames show at once. */
        assert_ok(cat_folder_rename(fx->cat, "shared", "shared2", reterr));
        assert_ok(cat_mount_list(fx->cat, b.s->id, NULL, &m, &n, reterr));
        assert_string_equal(m[0].folder_name, "shared2");
        cat_mount_list_free(m, n);
        m = (struct cat_mount *)0x1;
        assert_fails(cat_mount_list(fx->cat, NULL, "nope", &m, &n, reterr),
                     -ENOENT, "no folder 'nope'");
        assert_fails(cat_mount_list(fx->cat, "nope", NULL, &m, &n, reterr),
                     -ENOENT, "no session 'nope'");
        assert_ptr_equal(m, (struct cat_mount *)0x1);
        /* Ended sessions have no mounts any more. */
        assert_ok(cat_session_end(fx->cat, b.s->id, reterr));
        assert_ok(cat_mount_list(fx->cat, NULL, "shared2", &m, &n, reterr));
        assert_int_equal(n, 1);
        cat_mount_list_free(m, n);
        started_release(&a);
        started_release(&b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

/* ---- cat_session_refresh: what a running session mounts now ---- */

struct refreshed {
        struct cat_mount *m;
        size_t n;
};

static void refresh(struct fx *fx, const char *id, bool all,
                    struct refreshed *rf)
{
        cat_mount_list_free(rf->m, rf->n);
        memset(rf, 0, sizeof(*rf));
        assert_ok(cat_session_refresh(fx->cat, id, all, true, &rf->m,
                                      &rf->n, reterr));
}

static const struct cat_mount *refreshed_mount(const struct refreshed *rf,
                                               const char *name)
{
        for (size_t i = 0; i < rf->n; i++)
                if (strcmp(rf->m[i].folder_name, name) == 0)
                        return &rf->m[i];
        return NULL;
}

static void refresh_of_a_user_session_follows_shares_renames_and_trash(void **state)
{
        struct fx *fx = *state;
        struct started st = { 0 };
        struct refreshed rf = { 0 };
        const struct cat_mount *m;

        fx_user(fx, "alice");
        fx_user(fx, "bob");
        fx_folder(fx, "mine", "alice", NULL, CAT_PERM_WD);
        fx_folder(fx, "bobs", "bob", NULL, CAT_PERM_WD);
        start(fx, "alice", getpid(), &st);
        refresh(fx, st.s->id, true, &rf);
        assert_int_equal(rf.n, 1);
        assert_null(refreshed_mount(&rf, "bobs"));

        assert_ok(cat_folder_share(fx->cat, "bobs", "alice", CAT_PERM_RO,
                                   reterr));
        /* without record: the answer, nothing written */
        cat_mount_list_free(rf.m, rf.n);
        memset(&rf, 0, sizeof(rf));
        assert_ok(cat_session_refresh(fx->cat, st.s->id, true, false, &rf.m,
                                      &rf.n, reterr));
        assert_non_null(refreshed_mount(&rf, "bobs"));
        assert_non_null(refreshed_mount(&rf, "bobs")->backing_path);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM mounts WHERE"
                                    " folder_name = 'bobs'"), 0);
        refresh(fx, st.s->id, true, &rf);
        m = refreshed_mount(&rf, "bobs");
        assert_non_null(m);
        assert_int_equal(m->permission, CAT_PERM_RO);
        assert_string_equal(m->target, "/home/work/bobs");
        assert_non_null(m->backing_path);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM mounts WHERE"
                                    " folder_name = 'bobs' AND unmounted_at"
                                    " IS NULL"), 1);

        assert_ok(cat_folder_rename(fx->cat, "mine", "ours", reterr));
        refresh(fx, st.s->id, true, &rf);
        m = refreshed_mount(&rf, "ours");
        assert_non_null(m);
        assert_string_equal(m->target, "/home/work/ours");

        assert_ok(cat_folder_set(fx->cat, "ours",
                                 &(struct cat_folder_update){
                                         .set_permission = true,
                                         .permission = CAT_PERM_RO },
                                 reterr));
        assert_ok(cat_folder_unshare(fx->cat, "bobs", "alice", reterr));
        refresh(fx, st.s->id, true, &rf);
        assert_null(refreshed_mount(&rf, "bobs"));
        assert_int_equal(refreshed_mount(&rf, "ours")->permission,
                         CAT_PERM_RO);
        assert_int_equal(fx_sql_int(fx, "SELECT count(*) FROM mounts WHERE"
                                    " folder_name = 'bobs' AND unmounted_at"
                                    " IS NOT NULL"), 1);

        assert_ok(cat_folder_delete(fx->cat, "ours", true, reterr));
        refresh(fx, st.s->id, true, &rf);
        assert_int_equal(rf.n, 0);
        assert_ok(cat_folder_restore(fx->cat, "ours", reterr));
        refresh(fx, st.s->id, true, &rf);
        assert_non_null(refreshed_mount(&rf, "ours"));

        cat_mount_list_free(rf.m, rf.n);
        started_release(&st);
}

static void refresh_of_a_requested_session_keeps_its_set_and_aliases(void **state)
{
        struct fx *fx = *state;
        const char *specs[] = { "a:models:rw", "b", NULL };
        struct started st = { 0 };
        struct refreshed rf = { 0 };
        char id[CAT_UUID_STRLEN], source[64];

        fx_user(fx, "alice");
        fx_folder(fx, "a", "alice", NULL, CAT_PERM_WD);
        fx_folder(fx, "b", "alice", NULL, CAT_PERM_WD);
        create_session(fx, "alice", specs, id);
        snprintf(source, sizeof(source), "session:%s", id);
        start(fx, source, getpid(), &st);
        fx_folder(fx, "c", "alice", NULL, CAT_PERM_WD);
        fx_folder(fx, ".auto", "alice", NULL, CAT_PERM_WD);
        assert_ok(cat_folder_rename(fx->cat, "a", "a2", reterr));
        assert_ok(cat_folder_rename(fx->cat, "b", "b2", reterr));
        refresh(fx, id, false, &rf);
        assert_int_equal(rf.n, 3);
        assert_null(refreshed_mount(&rf, "c"));
        assert_non_null(refreshed_mount(&rf, ".auto"));
        /* asked rw: stays rw though the user holds wd */
        assert_int_equal(refreshed_mount(&rf, "a2")->permission, CAT_PERM_RW);
        assert_string_equal(refreshed_mount(&rf, "a2")->target,
                            "/home/work/models");
        assert_string_equal(refreshed_mount(&rf, "b2")->target,
                            "/home/work/b2");
        /* the permission asked for is capped by what the user holds now */
        assert_ok(cat_folder_set(fx->cat, "a2",
                                 &(struct cat_folder_update){
                                         .set_permission = true,
                                         .permission = CAT_PERM_RO },
                                 reterr));
        refresh(fx, id, false, &rf);
        assert_int_equal(refreshed_mount(&rf, "a2")->permission, CAT_PERM_RO);
        cat_mount_list_free(rf.m, rf.n);
        started_release(&st);
}

static void refresh_of_an_ended_session_is_enoent(void **state)
{
        struct fx *fx = *state;
        struct started st = { 0 };
        struct cat_mount *m = NULL;
        size_t n = 0;

        fx_user(fx, "alice");
        start(fx, "alice", getpid(), &st);
        assert_ok(cat_session_end(fx->cat, st.s->id, reterr));
        assert_fails(cat_session_refresh(fx->cat, st.s->id, true, true, &m,
                                         &n, reterr), -ENOENT, "ended");
        assert_null(m);
        started_release(&st);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(created_session_records_its_requests_without_starting),
                T(asking_more_than_the_effective_permission_is_eperm),
                T(trashed_folder_cannot_be_requested),
                T(invisible_folder_cannot_be_requested_by_name_or_uuid),
                T(bad_targets_are_refused_at_create),
                T(user_source_mounts_every_ready_visible_folder),
                T(user_source_may_be_a_uuid_and_carries_quota),
                T(session_source_mounts_its_requests_plus_automount),
                T(requested_automount_folder_is_not_mounted_twice),
                T(session_attaches_once_and_never_after_it_ended),
                T(requested_folder_gone_meanwhile_fails_the_start),
                T(start_never_grants_more_than_the_user_holds_now),
                T(bad_start_arguments_are_einval),
                T(ending_removes_scratch_and_keeps_folder_data),
                T(created_session_can_be_ended_before_it_starts),
                T(reap_ends_only_sessions_whose_pid_is_dead_on_this_host),
                cmocka_unit_test(process_identity_tells_a_reused_pid_apart),
                cmocka_unit_test(a_zombie_daemon_is_gone),
                T(reap_ends_a_session_whose_daemon_is_a_zombie),
                T(reap_ends_a_session_whose_pid_now_belongs_to_another_process),
                T(starting_a_session_reaps_stale_ones_of_the_host),
                T(session_list_shows_live_ones_or_all_oldest_first),
                T(mount_list_filters_by_session_and_folder),
                T(refresh_of_a_user_session_follows_shares_renames_and_trash),
                T(refresh_of_a_requested_session_keeps_its_set_and_aliases),
                T(refresh_of_an_ended_session_is_enoent),
        };

        return cmocka_run_group_tests_name("sessions", tests, NULL, NULL);
}
