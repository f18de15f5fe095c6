/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * catalog.h - the public interface of the vfolderfs catalog library.
 *
 * The catalog is one SQLite file (WAL mode, busy timeout, foreign keys on, a
 * schema version migrated forward on open) that records storage hosts, users,
 * projects, folders, grants, sessions and their mounts.  This header is also
 * the single home of the rules that the daemon and the admin tool share:
 * folder names, permission order, effective permission, mount targets and the
 * backing layout of a folder on its storage host.
 *
 * Conventions:
 *  - Functions return 0 on success or a negative errno.  On failure, when
 *    reterr is not NULL, *reterr receives a malloc'd one-line explanation
 *    (lowercase, no final period) which the caller frees.  On success
 *    *reterr is left untouched; on failure every ret_ out-parameter is.
 *  - Records (struct cat_folder, ...) returned through ret_ parameters are
 *    owned by the caller and released with the matching *_free function,
 *    which accepts NULL.
 *  - A cat_catalog handle is not thread-safe: use one handle per thread.
 *    The pure rule functions (cat_name_check(), cat_target_resolve(), ...)
 *    are thread-safe.
 *  - The library never prints.
 *
 * Errno values used throughout:
 *   -EINVAL   bad input (a name, size, alias, permission, ...)
 *   -ENOENT   no such host, user, project, folder or session (also returned
 *             for a folder that exists but that the given user may not see)
 *   -EEXIST   a name that is already taken, or a clash of folder names
 *   -ENOTUNIQ a folder name that matches several folders (reterr lists UUIDs)
 *   -EBUSY    a folder mounted in a live session, without force
 *   -EPERM    more permission asked than the user holds
 *   -EROFS    the catalog file or its directory is read-only
 *   -EBADMSG  the file is not a catalog, or it is damaged
 *   -EPROTO   the catalog has a newer schema version than this library knows
 *   -EAGAIN   the catalog stayed locked past the busy timeout
 *   -ENOTDIR  a host root that is not a directory
 *   other     system errors from the storage host (-EACCES, -ENOSPC, ...)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A UUID in its 36-character text form, plus the terminating NUL. */
#define CAT_UUID_STRLEN 37
/* The session home inside which folders are mounted by default. */
#define CAT_HOME "/home/work"
/* Longest folder (and host, user, project) name, in bytes. */
#define CAT_NAME_MAX 64
/* Where the automount folder '.linuxbrew' appears in a session. */
#define CAT_LINUXBREW_TARGET "/home/linuxbrew/.linuxbrew"
/* Default catalog path when neither an option nor $VFOLDERFS_CATALOG names one. */
#define CAT_DEFAULT_PATH "/var/lib/vfolderfs/catalog.db"
/* Busy timeout on every connection, in milliseconds. */
#define CAT_BUSY_TIMEOUT_MS 30000

typedef struct cat_catalog cat_catalog;

/* Permissions, ordered: a larger value allows more. */
enum cat_perm {
        CAT_PERM_NONE = 0, /* the folder does not exist for this user */
        CAT_PERM_RO = 1,   /* read-only */
        CAT_PERM_RW = 2,   /* read-write, no removal */
        CAT_PERM_WD = 3,   /* read-write-delete */
};

enum cat_status {
        CAT_STATUS_READY = 0,
        CAT_STATUS_TRASH = 1,
};

enum cat_owner_type {
        CAT_OWNER_USER = 0,
        CAT_OWNER_PROJECT = 1,
};

enum cat_usage_mode {
        CAT_USAGE_GENERAL = 0,
        CAT_USAGE_MODEL = 1,
        CAT_USAGE_DATA = 2,
};

/* ---------------------------------------------------------------------------
 * Enumerations to and from text.  to_string returns a static string ("ro",
 * "rw", "wd", "none"; "ready", "trash"; "user", "project"; "general",
 * "model", "data"); from_string returns 0 or -EINVAL and writes ret_ only on
 * success.  Parsing is exact and case-sensitive.
 */
const char *cat_perm_to_string(enum cat_perm perm);
int cat_perm_from_string(const char *s, enum cat_perm *ret_perm);
const char *cat_status_to_string(enum cat_status status);
int cat_status_from_string(const char *s, enum cat_status *ret_status);
const char *cat_owner_type_to_string(enum cat_owner_type type);
int cat_owner_type_from_string(const char *s, enum cat_owner_type *ret_type);
const char *cat_usage_mode_to_string(enum cat_usage_mode mode);
int cat_usage_mode_from_string(const char *s, enum cat_usage_mode *ret_mode);

/* ---------------------------------------------------------------------------
 * Rules (pure functions, thread-safe, no catalog needed).
 */

/*
 * Check a folder name against SPEC section 4: 1-64 characters of
 * [A-Za-z0-9._-], starting with a letter, a digit or a single leading '.';
 * not "." or ".."; not reserved (.ssh, .jupyter, .terminfo, .tmux.conf,
 * ^\.[a-z0-9]+rc$, ^\.[a-z0-9]+_profile$).  Returns 0 or -EINVAL with the
 * reason in *reterr (e.g. "name is reserved for the session").
 */
int cat_name_check(const char *name, char **reterr);

/* True when name marks an automount folder (a single leading '.'). */
bool cat_name_is_automount(const char *name);

/*
 * Check the name of a storage host, user or project: 1-64 characters of
 * [A-Za-z0-9._-] starting with a letter or digit.  0 or -EINVAL.
 */
int cat_entity_name_check(const char *name, char **reterr);

/*
 * Parse a size such as "1048576", "512K", "10M", "1.5G", "2GiB", "3T".
 * Suffixes K, M, G, T, P are powers of 1024, optionally followed by "iB" or
 * "B"; case-insensitive.  The result must be > 0 and fit in int64_t.
 * Returns 0 or -EINVAL (-ERANGE on overflow).
 */
int cat_size_parse(const char *s, int64_t *ret_bytes);

/*
 * The backing directory of a folder:
 *   <host_root>/<scope>/<hex[0:2]>/<hex[2:4]>/<hex[4:]>
 * where hex is folder_id without dashes and scope is "user-<owner_id>" or
 * "project-<owner_id>".  Returns 0 or -EINVAL (malformed UUID), -ENOMEM.
 */
int cat_backing_path(const char *host_root, enum cat_owner_type owner_type,
                     const char *owner_id, const char *folder_id,
                     char **ret_path);

/*
 * The target path of a folder in a session (SPEC section 3 alias rules):
 *   alias NULL        -> CAT_HOME "/" name   (CAT_LINUXBREW_TARGET for the
 *                        folder named ".linuxbrew")
 *   relative "a/b"    -> CAT_HOME "/a/b"
 *   absolute "/x/y"   -> "/x/y"
 * Redundant slashes and "." components are removed.  Rejected with -EINVAL
 * and a reason: an empty alias, a ".." component, a target equal to CAT_HOME,
 * a target in the reserved set (/, /bin, /boot, /dev, /etc, /home, /lib,
 * /lib64, /media, /mnt, /opt, /proc, /root, /run, /sbin, /srv, /sys, /tmp,
 * /usr, /var), and a target whose first component under CAT_HOME is a name
 * reserved for the session (.ssh, .jupyter, .terminfo, .tmux.conf).
 * Thread-safe.
 */
int cat_target_resolve(const char *name, const char *alias, char **ret_target,
                       char **reterr);

/* True when target lies inside CAT_HOME (and is not CAT_HOME itself). */
bool cat_target_in_home(const char *target);

/*
 * Check a set of resolved targets for one session.  targets[i] belongs to
 * the folder named names[i].  other_names lists every folder name the user
 * can mount (their default targets are taken).  Fails with -EINVAL and a
 * reason naming the offending target when two targets are equal, one target
 * is nested in another, or an alias target equals the default target of
 * another folder in other_names.
 */
int cat_targets_check(const char *const *names, const char *const *targets,
                      size_t n, const char *const *other_names, size_t n_other,
                      char **reterr);

/* A session's mount request, as given to `session create --mount`. */
struct cat_mount_request {
        char *ref;           /* folder UUID or name */
        char *alias;         /* NULL: the default target */
        enum cat_perm perm;  /* CAT_PERM_NONE: the effective permission */
};

/*
 * Parse "REF[:TARGET][:PERM]" into req (fields malloc'd; release with
 * cat_mount_request_release()).  The last component is taken as PERM when it
 * is exactly "ro", "rw" or "wd".  Returns 0 or -EINVAL with a reason.
 */
int cat_mount_request_parse(const char *s, struct cat_mount_request *ret_req,
                            char **reterr);
void cat_mount_request_release(struct cat_mount_request *req);

/* ---------------------------------------------------------------------------
 * Opening.
 */
enum {
        CAT_OPEN_CREATE = 1 << 0, /* create the file (and schema) if missing */
};

/*
 * What no other user of a storage host or compute node may read: the
 * directories above each folder's own directory (scope and fan-out), the
 * usage counters' directory and the scratch root (0700), and the catalog
 * file with its -wal and -shm (0600).  A folder's own directory keeps the
 * mode its user gives it.
 */
#define CAT_PRIVATE_DIR_MODE 0700
#define CAT_PRIVATE_FILE_MODE 0600

/*
 * Open the catalog at path (NULL: $VFOLDERFS_CATALOG, else CAT_DEFAULT_PATH),
 * migrating its schema forward.  Without CAT_OPEN_CREATE a missing file is
 * -ENOENT.  Returns 0 and the handle in *ret_cat, or a negative errno
 * (-EBADMSG not a catalog, -EPROTO newer schema, -EROFS read-only and in
 * need of a migration, ...).  A file that is refused is left byte for byte
 * as it was.  A catalog that cannot be written (read-only file or file
 * system) opens for reading; every change then fails with -EROFS.
 */
int cat_open(const char *path, unsigned flags, cat_catalog **ret_cat,
             char **reterr);
void cat_close(cat_catalog *cat);
/* The path the handle was opened with (owned by the handle). */
const char *cat_path(const cat_catalog *cat);
/* The schema version this library writes. */
int cat_schema_version(void);

/*
 * A number that changes whenever another connection commits a change to the
 * catalog (PRAGMA data_version).  Cheap: no table is read.  Used by daemons
 * to notice admin changes.
 */
int cat_data_version(cat_catalog *cat, int64_t *ret_version);

/* ---------------------------------------------------------------------------
 * Storage hosts, users, projects.
 */
struct cat_host {
        char *name;
        char *root; /* absolute path of an existing directory */
};

struct cat_user {
        char id[CAT_UUID_STRLEN];
        char *name;
        uid_t uid; /* container uid, default 1000 */
        gid_t gid; /* container gid, default 1000 */
};

struct cat_project {
        char id[CAT_UUID_STRLEN];
        char *name;
        char **members; /* user names, NULL-terminated */
};

/* root must be absolute and an existing directory (-ENOENT/-ENOTDIR). */
int cat_host_add(cat_catalog *cat, const char *name, const char *root,
                 char **reterr);
int cat_host_get(cat_catalog *cat, const char *name, struct cat_host **ret_host,
                 char **reterr);
int cat_host_list(cat_catalog *cat, struct cat_host **ret_hosts, size_t *ret_n,
                  char **reterr);
void cat_host_free(struct cat_host *host);
void cat_host_list_free(struct cat_host *hosts, size_t n);

/* uid/gid: pass (uid_t)-1 / (gid_t)-1 for the default 1000. */
int cat_user_add(cat_catalog *cat, const char *name, uid_t uid, gid_t gid,
                 struct cat_user **ret_user, char **reterr);
/* ref: a user's UUID or name. */
int cat_user_get(cat_catalog *cat, const char *ref, struct cat_user **ret_user,
                 char **reterr);
int cat_user_list(cat_catalog *cat, struct cat_user **ret_users, size_t *ret_n,
                  char **reterr);
void cat_user_free(struct cat_user *user);
void cat_user_list_free(struct cat_user *users, size_t n);

int cat_project_add(cat_catalog *cat, const char *name,
                    struct cat_project **ret_project, char **reterr);
int cat_project_get(cat_catalog *cat, const char *ref,
                    struct cat_project **ret_project, char **reterr);
int cat_project_list(cat_catalog *cat, struct cat_project **ret_projects,
                     size_t *ret_n, char **reterr);
/*
 * Adding a member fails with -EEXIST when the user already is one, or when
 * a project folder's name would clash with a folder the user already sees.
 * Removing a non-member is -ENOENT; removing a member also removes their
 * per-user grants on the project's folders.
 */
int cat_project_member_add(cat_catalog *cat, const char *project,
                           const char *user, char **reterr);
int cat_project_member_remove(cat_catalog *cat, const char *project,
                              const char *user, char **reterr);
void cat_project_free(struct cat_project *project);
void cat_project_list_free(struct cat_project *projects, size_t n);

/* ---------------------------------------------------------------------------
 * Folders and grants.
 */
struct cat_folder {
        char id[CAT_UUID_STRLEN];
        char *name;
        char *host;
        enum cat_owner_type owner_type;
        char owner_id[CAT_UUID_STRLEN];
        char *owner_name;         /* user or project name */
        enum cat_usage_mode usage_mode;
        enum cat_perm permission; /* the folder's own permission field */
        bool cloneable;
        int64_t quota_bytes;      /* 0: no quota */
        enum cat_status status;
        int64_t created_at;       /* seconds since the epoch, UTC */
        int64_t updated_at;
        /*
         * The permission of the user a function was asked about
         * (cat_folder_list() with a user, cat_folder_resolve() with a user);
         * CAT_PERM_NONE otherwise.
         */
        enum cat_perm effective;
};

struct cat_folder_spec {
        const char *name;
        const char *user;    /* owner user, or NULL */
        const char *project; /* owner project, or NULL (exactly one is set) */
        const char *host;    /* NULL: the host named "local" if it exists,
                              * else the only host, else -EINVAL */
        enum cat_usage_mode usage_mode;
        enum cat_perm permission; /* CAT_PERM_NONE: the default, wd */
        bool cloneable;
        int64_t quota_bytes; /* 0: none */
};

/*
 * Create a folder and its backing directory (mode 0755, parents created as
 * needed), in one transaction: if the directory cannot be made nothing is
 * recorded.  The name must pass cat_name_check() and must not clash with a
 * folder any user who would see it already sees, nor with another folder of
 * the same project (-EEXIST).  spec->host NULL: the host named "local", else
 * the only host, else -EINVAL.  ret_folder may be NULL.
 */
int cat_folder_create(cat_catalog *cat, const struct cat_folder_spec *spec,
                      struct cat_folder **ret_folder, char **reterr);

/*
 * Resolve a folder reference: a UUID, or a name.  With user set, only
 * folders that user can see are candidates (others are -ENOENT, even by
 * UUID) and ret->effective is filled in; with user NULL every folder is a
 * candidate.  A name matching several folders is -ENOTUNIQ with the UUIDs
 * listed in *reterr.
 */
int cat_folder_resolve(cat_catalog *cat, const char *ref, const char *user,
                       struct cat_folder **ret_folder, char **reterr);

/*
 * List folders ordered by name: all of them (user NULL), or those user can
 * see (own, their projects', shared with them; ready and trash) with
 * effective filled in.
 */
int cat_folder_list(cat_catalog *cat, const char *user,
                    struct cat_folder **ret_folders, size_t *ret_n,
                    char **reterr);
void cat_folder_free(struct cat_folder *folder);
void cat_folder_list_free(struct cat_folder *folders, size_t n);

/*
 * The effective permission of user on folder (SPEC section 2): owner of a
 * user folder -> the folder's permission; member of the owning project ->
 * the per-user grant if any, else the folder's permission; grantee -> the
 * grant; anyone else -> CAT_PERM_NONE.
 */
int cat_folder_effective_permission(cat_catalog *cat, const char *folder_id,
                                    const char *user, enum cat_perm *ret_perm,
                                    char **reterr);

/* The backing directory of folder (see cat_backing_path()). */
int cat_folder_backing_path(cat_catalog *cat, const struct cat_folder *folder,
                            char **ret_path, char **reterr);

/* Rename; no data moves.  Clash with any user's visible names: -EEXIST. */
int cat_folder_rename(cat_catalog *cat, const char *ref, const char *new_name,
                      char **reterr);

struct cat_folder_update {
        bool set_permission;
        enum cat_perm permission;
        bool set_quota;
        int64_t quota_bytes; /* 0 removes the quota */
        bool set_cloneable;
        bool cloneable;
};
int cat_folder_set(cat_catalog *cat, const char *ref,
                   const struct cat_folder_update *update, char **reterr);

/*
 * ready -> trash.  A folder held by a session -- mounted in a running one,
 * or asked for by one created and not yet started -- is -EBUSY unless
 * force (the message names the session).  Trashing a folder already in trash is -EINVAL.
 */
int cat_folder_delete(cat_catalog *cat, const char *ref, bool force,
                      char **reterr);
/* trash -> ready; a ready folder is -EINVAL. */
int cat_folder_restore(cat_catalog *cat, const char *ref, char **reterr);
/*
 * trash -> gone: the catalog row, its grants and the backing directory are
 * removed.  A ready folder is -EINVAL; a folder held by a session (as for
 * cat_folder_delete()) is -EBUSY unless force.
 */
int cat_folder_purge(cat_catalog *cat, const char *ref, bool force,
                     char **reterr);
/*
 * Copy folder ref (which must be visible to user, -ENOENT, and cloneable or
 * owned by user, -EPERM) into a new folder new_name owned by user on the
 * same host, with the same usage mode and permission (not cloneable, no
 * quota), copying its data (regular files, directories, symlinks verbatim;
 * modes without setuid/setgid, modification times).  The copy runs outside
 * any transaction; if it fails the new folder is removed again.
 */
int cat_folder_clone(cat_catalog *cat, const char *ref, const char *new_name,
                     const char *user, struct cat_folder **ret_folder,
                     char **reterr);
/*
 * Share with user at perm (replacing an existing grant).  Refused: automount
 * folders (-EINVAL), the owner of a user folder (-EINVAL), a name clash for
 * user (-EEXIST).  On a project folder, a grant to a member of the project
 * is that member's per-user permission, replacing the folder's permission
 * for them (SPEC section 2); it is removed with their membership.
 */
int cat_folder_share(cat_catalog *cat, const char *ref, const char *user,
                     enum cat_perm perm, char **reterr);
/* Remove user's grant; no grant is -ENOENT. */
int cat_folder_unshare(cat_catalog *cat, const char *ref, const char *user,
                       char **reterr);

/* Bytes (st_blocks * 512 is not used: sizes of regular files) and entries. */
int cat_folder_usage(cat_catalog *cat, const char *ref, int64_t *ret_bytes,
                     int64_t *ret_files, char **reterr);

/* ---------------------------------------------------------------------------
 * Usage counters: the bytes (st_size of regular files, each name of a hard
 * link counted) and entries (everything below the top, as cat_tree_usage()
 * and cat_folder_usage() count) of a folder with a quota, kept in a small
 * file <host root>/CAT_USAGE_DIR/<folder id> shared by every daemon and
 * admin command that changes the folder.  A change of size is made between
 * cat_usage_lock() and cat_usage_unlock(), which exclude the other threads
 * of the process and other processes (an open-file-description lock), so
 * the counter is exact among its users; data written around them (on the
 * storage host directly) makes it drift until cat_usage_recount().
 */
#define CAT_USAGE_DIR ".vfolderfs-usage"

typedef struct cat_usage cat_usage;

/*
 * The counter file of a folder whose backing directory is backing_path
 * (laid out as cat_backing_path() builds it); malloc'd, NULL if
 * backing_path has too few components or on ENOMEM.  Thread-safe.
 */
char *cat_usage_path(const char *backing_path, const char *folder_id);

/*
 * Open a folder's counter, creating it (and CAT_USAGE_DIR) and counting the
 * backing directory when it does not exist yet.  One handle may be used by
 * several threads.  Returns 0 or a negative errno.
 */
int cat_usage_open(const char *backing_path, const char *folder_id,
                   cat_usage **ret_usage, char **reterr);
void cat_usage_close(cat_usage *usage);
/* Exclusive access across threads and processes; 0 or a negative errno. */
int cat_usage_lock(cat_usage *usage);
void cat_usage_unlock(cat_usage *usage);
/* Read, or add to (negative: subtract), the counter; hold the lock. */
int cat_usage_get(cat_usage *usage, int64_t *ret_bytes, int64_t *ret_files);
int cat_usage_add(cat_usage *usage, int64_t bytes, int64_t files);
/*
 * Without a handle: read the counter (-ENOENT when the folder has none),
 * recount it from the backing directory under its lock (-ENOENT when it has
 * none), remove it (none is not an error).
 */
int cat_usage_read(const char *backing_path, const char *folder_id,
                   int64_t *ret_bytes, int64_t *ret_files);
int cat_usage_recount(const char *backing_path, const char *folder_id,
                      int64_t *ret_bytes, int64_t *ret_files);
int cat_usage_remove(const char *backing_path, const char *folder_id);
/*
 * Measure the tree at path as a counter counts it (bytes of regular files,
 * entries below path), never following symlinks.  0 or a negative errno.
 */
int cat_usage_measure(const char *path, int64_t *ret_bytes,
                      int64_t *ret_files);

/* ---------------------------------------------------------------------------
 * Who may do what to an entry of a folder (SPEC section 3), and the record
 * of who created each entry, which the rule needs for rw: rw adds and
 * changes, and removes or replaces only the entries the same user created.
 * The daemon (view_check_permission()) and the folder explorer (`files
 * --user`) both ask cat_perm_check(); nothing else holds the table.
 *
 * The record is the extended attribute CAT_CREATOR_XATTR on the entry in
 * the storage, its value the creating user's UUID as its 36 characters of
 * text (no terminating NUL).  trusted.* can be read and written only with
 * CAP_SYS_ADMIN, so neither a session (the daemon refuses every name of
 * vfolderfs's own, cat_xattr_name_reserved()) nor an unprivileged user of
 * the storage host can forge it.  Where the file system or the process
 * refuses trusted.*, CAT_CREATOR_XATTR_USER is used instead (writable only
 * by the file's owner, the storage uid, and root on the host; Linux keeps
 * user.* only on regular files and directories).  Where neither can be
 * kept, nothing is recorded and every entry counts as someone else's.  The
 * record lives on the inode: it follows renames and is shared by hard
 * links; a record once set is never replaced.
 */
#define CAT_CREATOR_XATTR "trusted.vfolderfs.creator"
#define CAT_CREATOR_XATTR_USER "user.vfolderfs.creator"

enum cat_op {
        CAT_OP_READ,   /* read, stat, readdir, readlink, getxattr, listxattr */
        CAT_OP_CHANGE, /* create, mkdir, write, truncate, chmod, utimens,
                        * symlink, link, setxattr, rename to a new name */
        CAT_OP_REMOVE, /* unlink, rmdir, rename that replaces an entry,
                        * removexattr */
};

/*
 * The permission table: 0 when a user holding perm may do op to an entry
 * (own: the entry's creator record names that user), else -EROFS (ro, or
 * CAT_PERM_NONE) or -EPERM (rw removing someone else's entry).
 * rw_can_delete gives rw the legacy meaning (rw removes as wd does).  Pure,
 * thread-safe.
 */
int cat_perm_check(enum cat_perm perm, enum cat_op op, bool own,
                   bool rw_can_delete);

/*
 * Whether the answer of cat_perm_check() for (perm, op, rw_can_delete)
 * depends on own: the only case in which a caller reads a record (rw
 * removing, without rw_can_delete).  Pure, thread-safe.
 */
bool cat_perm_asks_creator(enum cat_perm perm, enum cat_op op,
                           bool rw_can_delete);

/*
 * True for the extended attribute names vfolderfs keeps for itself
 * ("trusted.vfolderfs." and "user.vfolderfs." followed by anything): a
 * session or an explorer user never reads, sets or removes them.
 */
bool cat_xattr_name_reserved(const char *name);

/*
 * Record user_id (a UUID in text form) as the creator of an entry: name in
 * the directory fd, never following a symlink, or the entry fd itself when
 * name is NULL (any descriptor of it, O_PATH included, whatever its type:
 * the call goes through /proc/self/fd/N, which reaches a symlink itself,
 * not its target).  CAT_CREATOR_XATTR, else CAT_CREATOR_XATTR_USER where
 * the file system or the process refuses trusted.*.  An existing record is
 * never replaced.  Returns 0, -EEXIST (the entry has a record already),
 * -EOPNOTSUPP (neither attribute can be kept on this entry), -EINVAL (not a
 * UUID) or another negative errno.  Thread-safe.
 */
int cat_creator_set(int fd, const char *name, const char *user_id);

/*
 * Whether the entry (name in directory fd never followed, or fd itself
 * when name is NULL, as for cat_creator_set()) was created by user_id: 1
 * when its record names user_id, 0 when it names someone else or there is
 * none (no record, or the storage keeps none), or a negative errno (-ENOENT
 * for no such entry, ...).  Thread-safe.
 */
int cat_creator_is(int fd, const char *name, const char *user_id);

/*
 * Whether every entry of the tree name in directory fd (the top included,
 * never following a symlink) was created by user_id: 1, or 0 with the name
 * of the first entry that was not in *ret_foreign (malloc'd; ret_foreign
 * may be NULL), or a negative errno.  Used before removing a tree for a rw
 * user, so that a refusal changes nothing.
 */
int cat_tree_created_by(int fd, const char *name, const char *user_id,
                        char **ret_foreign);

/* How long cat_dir_lock() waits for a directory held by another process. */
#define CAT_DIR_LOCK_WAIT_MS 5000

/*
 * Serialize, across processes and machines, a check of a record with the
 * removal or replacement it allows: an exclusive flock(2) on a new
 * descriptor of the directory fd (any descriptor of it, O_PATH included).
 * Every process that removes, replaces or renames for a rw user, or makes
 * an entry whose record it then writes by name, takes the lock of the
 * directory the name is removed, replaced or made in, or renamed into (see
 * vfolderfs(8), PERMISSIONS), so that no other entry is swapped in under
 * the name between the check (or the making) and the change (or the
 * record).  Waits CAT_DIR_LOCK_WAIT_MS at most (-EBUSY after
 * that).  On a file system that refuses flock on directories *ret_lock is
 * -1 and 0 is returned: the change goes on unserialized.  Release with
 * cat_dir_unlock(), which accepts -1.  Thread-safe (each call has its own
 * descriptor; the lock excludes other threads of the process as well).
 */
int cat_dir_lock(int fd, int *ret_lock);
/* The same for two directories (a rename exchanging names), in an order
 * every process agrees on; one lock when both are the same directory. */
int cat_dir_lock2(int fd1, int fd2, int *ret_lock1, int *ret_lock2);
void cat_dir_unlock(int lock);

/* ---------------------------------------------------------------------------
 * Sessions and mounts.
 */
struct cat_session {
        char id[CAT_UUID_STRLEN];
        char user_id[CAT_UUID_STRLEN];
        char *user_name;
        uid_t uid;          /* the user's container uid/gid */
        gid_t gid;
        char *mountpoint;   /* NULL until a daemon starts it */
        char *hostname;     /* NULL until a daemon starts it */
        pid_t pid;          /* 0 until a daemon starts it */
        char *scratch;      /* scratch directory; NULL until started */
        int64_t started_at; /* creation time */
        int64_t ended_at;   /* 0 while live */
};

struct cat_mount {
        char session_id[CAT_UUID_STRLEN];
        char folder_id[CAT_UUID_STRLEN];
        char *folder_name;
        char *target;             /* absolute path inside the session */
        enum cat_perm permission; /* effective permission of this mount */
        char *backing_path;       /* filled by cat_session_start() and
                                   * cat_session_refresh() only */
        char *host;               /* the folder's storage host (name); as
                                   * backing_path */
        int64_t quota_bytes;      /* filled by cat_session_start() only */
        int64_t mounted_at;       /* 0 until a daemon starts the session */
        int64_t unmounted_at;     /* 0 while mounted */
};

/*
 * Record a session for user with the requested mounts, in one transaction;
 * the session is not started (no pid) until a daemon runs it with source
 * "session:ID".  Every request is checked: the folder visible to the user
 * (-ENOENT) and ready (-EINVAL for a folder in the trash), perm not above
 * the effective permission (-EPERM), no folder twice, targets by
 * cat_target_resolve() and cat_targets_check() (other_names: every folder
 * the user can mount).  Automount folders are added when the daemon starts.
 * The new id is written to ret_id.
 */
int cat_session_create(cat_catalog *cat, const char *user,
                       const struct cat_mount_request *reqs, size_t n,
                       char ret_id[CAT_UUID_STRLEN], char **reterr);

/*
 * Start a session for a daemon, in one transaction, after reaping stale
 * sessions of this hostname (cat_session_reap()).
 *   source "USER"       (a user name or UUID): a new session with every
 *                       mountable (ready) folder of the user at its default
 *                       target, with its effective permission;
 *   source "session:ID": attaches to a created, not yet started session
 *                       (started or ended ones are -EBUSY / -ENOENT) and
 *                       adds the automount folders it did not request.
 * A folder requested earlier that is no longer ready or visible is -ENOENT;
 * one whose effective permission dropped is mounted with the lower one.
 * The scratch directory <scratch_root>/<session id> is created (mode 0755).
 * Returns the session and its mounts (backing_path and quota filled in),
 * ordered by target.
 */
int cat_session_start(cat_catalog *cat, const char *source,
                      const char *mountpoint, const char *hostname, pid_t pid,
                      const char *scratch_root,
                      struct cat_session **ret_session,
                      struct cat_mount **ret_mounts, size_t *ret_n,
                      char **reterr);

/*
 * What running session session_id should mount now (SPEC section 5: admin
 * changes reach running daemons), in one transaction that also records it
 * in the session's mounts (with record).  Every folder it mounts or asked for that the
 * user can still mount (ready, visible), with the permission it asked for
 * capped by the user's effective permission now; a folder mounted at its
 * default target follows a rename, one at an alias keeps the alias.  Plus
 * the folders it does not have yet: all of them when all_folders (a session
 * started from a user name), else the automount folders.  Folders no
 * longer mountable are left out and their mounts marked unmounted.
 * Returns the mounts (backing_path and quota_bytes filled in) in no
 * particular order; -ENOENT for an ended or unknown session; -EINVAL when
 * the new targets clash (a rename onto an alias's path).  Without record
 * nothing is written (a read transaction: no lock, no sync), so a daemon
 * can apply the result first and record it afterwards.
 */
int cat_session_refresh(cat_catalog *cat, const char *session_id,
                        bool all_folders, bool record,
                        struct cat_mount **ret_mounts, size_t *ret_n,
                        char **reterr);

/*
 * End a session: ended_at and every mount's unmounted_at set, scratch
 * directory removed (never following symlinks).  An ended session is
 * -EALREADY.  Folder data is never touched.  The session is marked ended
 * before its scratch is removed; if the removal fails the error is returned
 * but the session stays ended (cat_fsck() finds and removes the leftover).
 */
int cat_session_end(cat_catalog *cat, const char *id, char **reterr);

/*
 * End every live session started on hostname whose daemon pid no longer
 * exists, removing their scratch.  *ret_reaped (may be NULL) counts them.
 * The boot id and start time recorded with the pid at start tell a dead
 * daemon from a later process that got its pid (also after a reboot).
 */
int cat_session_reap(cat_catalog *cat, const char *hostname,
                     size_t *ret_reaped, char **reterr);

int cat_session_get(cat_catalog *cat, const char *id,
                    struct cat_session **ret_session, char **reterr);
/* Sessions not ended (all: every session), oldest first. */
int cat_session_list(cat_catalog *cat, bool all,
                     struct cat_session **ret_sessions, size_t *ret_n,
                     char **reterr);
void cat_session_free(struct cat_session *session);
void cat_session_list_free(struct cat_session *sessions, size_t n);

/*
 * Mounts of live sessions, filtered by session id and/or folder ref (either
 * may be NULL).  Ordered by session, then target.
 */
int cat_mount_list(cat_catalog *cat, const char *session_id,
                   const char *folder_ref, struct cat_mount **ret_mounts,
                   size_t *ret_n, char **reterr);
void cat_mount_list_free(struct cat_mount *mounts, size_t n);

/* ---------------------------------------------------------------------------
 * Consistency check.
 */
enum cat_fsck_kind {
        CAT_FSCK_INTEGRITY,      /* SQLite integrity_check complaint */
        CAT_FSCK_MISSING_BACKING,/* folder whose backing directory is gone */
        CAT_FSCK_ORPHAN_DIR,     /* backing-layout directory no folder owns */
        CAT_FSCK_STALE_SESSION,  /* live session whose pid is gone here */
        CAT_FSCK_USAGE_DRIFT,    /* a quota folder's usage counter differs
                                  * from what its backing directory holds */
        CAT_FSCK_LOOSE_MODE,     /* the catalog, a directory above a folder,
                                  * the usage directory or a scratch root
                                  * that other users of the host can read */
};

struct cat_fsck_issue {
        enum cat_fsck_kind kind;
        char *subject;  /* folder id, directory path or session id */
        char *detail;   /* one line */
        bool repaired;
};

/*
 * Compare catalog and storage hosts.  With repair: stale sessions are ended
 * (scratch removed) and missing backing directories are recreated empty
 * (only under a host root that exists); orphan directories are reported,
 * never deleted.  The scratch of an ended session of this hostname that is
 * still there is reported as CAT_FSCK_STALE_SESSION and removed on repair.
 * The usage counter of a folder with a quota that differs from a count of
 * its backing directory is CAT_FSCK_USAGE_DRIFT, recounted on repair.
 * CAT_FSCK_LOOSE_MODE: the catalog file (-wal, -shm), a scope or fan-out
 * directory of a host, a host's usage directory or a scratch root with any
 * group or other bit; the bits are removed on repair.
 * hostname NULL: gethostname().
 */
int cat_fsck(cat_catalog *cat, const char *hostname, bool repair,
             struct cat_fsck_issue **ret_issues, size_t *ret_n, char **reterr);
void cat_fsck_issue_list_free(struct cat_fsck_issue *issues, size_t n);

#ifdef __cplusplus
}
#endif
