/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * admin-explorer.h - the folder explorer's common ground, shared by the
 * `files` commands: an open folder (its backing directory as an O_PATH fd,
 * the permission in force), paths resolved beneath it with openat2(2) so
 * nothing leads out of the folder, the checks every change passes, and the
 * option parsing of the files commands.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "admin.h"

/* An open folder: what every files command works on. */
struct explorer {
        struct cat_folder *folder;
        int rootfd;         /* O_PATH of the backing directory */
        dev_t dev;          /* its filesystem: nothing crosses to another */
        uid_t uid;          /* its owner: new entries get the same */
        gid_t gid;
        enum cat_perm perm; /* wd for the operator, else --user's */
        const char *user;   /* --user's name, or NULL for the operator */
        char user_id[CAT_UUID_STRLEN]; /* --user's id: the creator recorded
                                        * on new entries; "" for the operator
                                        * (nothing is recorded) */
        mode_t old_umask;   /* the caller's, for files written locally */
};

/*
 * Resolve ref (among what user sees when user is set), open its backing
 * directory and set the umask to 022 so new entries are exactly 0644/0755.
 * Returns 0 (release with explorer_close()), or 1 after printing the error
 * with nothing left to release.
 */
int explorer_open(struct admin_ctx *ctx, const char *ref, const char *user,
                  struct explorer *ex);
void explorer_close(struct explorer *ex);

/*
 * Open path (relative to the folder root; "" is the root) with openat2 and
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, adding
 * O_CLOEXEC to flags.  Returns the fd or a negative errno (-EXDEV: the path
 * leads outside the folder).
 */
int explorer_open_beneath(const struct explorer *ex, const char *path, int flags);

/* Why a path operation failed, in words for the operator (static string). */
const char *explorer_strerror(int r);

/*
 * NULL when op may be done to an entry in the folder (own: the --user
 * created it), else why not (malloc'd): the folder is in the trash, or
 * "permission denied (rw)" -- cat_perm_check(), the daemon's own rule.
 * Before the entry is known, own true asks whether op can be allowed at
 * all.
 */
char *explorer_refuse(const struct explorer *ex, enum cat_op op, bool own);

/*
 * Whether removing or replacing an entry depends on who created it (a
 * --user holding rw): only then is a record read and a directory locked.
 */
bool explorer_asks_creator(const struct explorer *ex);

/*
 * Before removing or replacing name in dirfd: 0 when allowed, -EPERM with
 * why in *ret_why (malloc'd) when the --user holds rw and did not create
 * it, or another negative errno (-ENOENT).  A directory is checked whole
 * (cat_tree_created_by()) when tree is set.  Call with the directory
 * locked (explorer_lock()).
 */
int explorer_check_removal(const struct explorer *ex, int dirfd,
                           const char *name, bool tree, char **ret_why);

/*
 * Where removals depend on the creator, lock directory dirfd for a check
 * and the change it allows (cat_dir_lock(); the daemon takes the same
 * lock), else *ret_lock is -1.  0 or a negative errno (-EBUSY).  Release
 * with cat_dir_unlock().
 */
int explorer_lock(const struct explorer *ex, int dirfd, int *ret_lock);

/*
 * Record the --user as the creator of a new entry: name in dirfd (never
 * followed), or the entry fd itself when name is NULL; nothing for the
 * operator, whose entries are of unknown origin.  Best effort: an entry
 * without a record is only harder to remove.
 */
void explorer_record(const struct explorer *ex, int fd, const char *name);

/*
 * Give a new entry (the open fd, or name in dirfd, never followed) the owner
 * of the folder's directory when running as root.  Best effort.
 */
void explorer_set_owner_fd(const struct explorer *ex, int fd);
void explorer_set_owner_at(const struct explorer *ex, int dirfd, const char *name);

/*
 * Remove the directory name in pfd and everything in it, never following a
 * symlink and never leaving the filesystem dev, with at most two directories
 * open whatever the depth (admin-rmtree.c).  With user_id set (a --user at
 * rw), each entry is removed only if that user created it, each directory
 * locked while it is read and emptied (cat_dir_lock()): the first that is
 * not stops the walk with -EPERM.  0 or a negative errno (-EBUSY: a
 * directory was moved during the walk).
 */
int explorer_remove_tree(int pfd, const char *name, dev_t dev,
                         const char *user_id);

/*
 * A user path split into the directory holding it and its final name, both
 * relative to the folder root.  Leading and trailing slashes are dropped;
 * name is NULL for the root itself.
 */
struct split {
        char *buf;
        char *dir;  /* "" for the root */
        char *name; /* NULL: the path is the root */
        char *full; /* the whole path without outer slashes */
        bool trailing_slash;
};

/* Split path (path_split_free() releases it). */
void path_split(const char *path, struct split *sp);
void path_split_free(struct split *sp);
/* True for "." and "..". */
bool path_name_is_dots(const char *name);
/*
 * The last component of a local or folder path (may be ""), pointing into a
 * copy that is returned in *ret_copy for the caller to free.
 */
const char *path_base_name(const char *path, char **ret_copy);

/* Options of the files commands. */
enum {
        OPT_USER = ADMIN_OPT_FIRST_FREE,
};

/* Which short options a files command takes besides --user. */
enum {
        ALLOW_RECURSIVE = 1 << 0,
        ALLOW_FORCE = 1 << 1,
        ALLOW_PARENTS = 1 << 2,
};

struct files_opts {
        const char *user;
        bool recursive, force, parents;
};

/*
 * Parse a files command's options (those in allow, --user, the common ones)
 * and check it has [min, max] arguments.  Returns ADMIN_CONTINUE or the exit
 * status to return.
 */
int explorer_parse_options(struct admin_ctx *ctx, const struct admin_command *cmd,
                           int argc, char **argv, unsigned allow,
                           struct files_opts *o, int min, int max,
                           const char *const *names);

/* The commands that live in admin-transfer.c. */
int admin_files_put(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv);
int admin_files_get(struct admin_ctx *ctx, const struct admin_command *cmd,
                    int argc, char **argv);
