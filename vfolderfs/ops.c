/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ops.c - the FUSE low-level operations: a passthrough to the scratch
 * directory and the folders' backing directories that never resolves a
 * path.  Every backing access is an *at() call relative to an inode's
 * O_PATH descriptor with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH,
 * or goes through /proc/self/fd/N where the kernel offers no other way
 * (reopening an O_PATH descriptor, xattrs, chmod).  Each operation checks
 * the view first: folder entries synthesized in their parent directory,
 * folder directories that cannot be removed or renamed, the permission
 * table of SPEC section 3 (for rw, with the record of who created each
 * entry: written here at creation, read at removal, metadata/creator.c),
 * and the presented identity (every file appears owned by the session
 * user).  Every request gets exactly one reply.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "epoch.h"
#include "locks.h"
#include "quota.h"
#include "vfolderfs.h"
#include "watch.h"

#define PROC_FD_MAX 32

static struct vfs_ctx *ctx_of(fuse_req_t req)
{
        return fuse_req_userdata(req);
}

static struct inode *inode_of(fuse_req_t req, fuse_ino_t ino)
{
        if (ino == FUSE_ROOT_ID)
                return &ctx_of(req)->root;
        return (struct inode *)(uintptr_t)ino;
}

static fuse_ino_t nodeid_of(struct vfs_ctx *ctx, struct inode *inode)
{
        if (inode == &ctx->root)
                return FUSE_ROOT_ID;
        return (fuse_ino_t)(uintptr_t)inode;
}

static void proc_path(char buf[PROC_FD_MAX], int fd)
{
        snprintf(buf, PROC_FD_MAX, "/proc/self/fd/%d", fd);
}

/* Present the session identity, whatever the backing owner is. */
static void fix_attr(const struct vfs_ctx *ctx, struct stat *st)
{
        st->st_uid = ctx->uid;
        st->st_gid = ctx->gid;
}

static int stat_inode(const struct vfs_ctx *ctx, const struct inode *inode,
                      struct stat *st)
{
        int fd = inode_fd_get(inode);
        int err = 0;

        if (fd < 0)
                return -fd;
        if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
                err = errno;
        else
                fix_attr(ctx, st);
        inode_fd_put(inode, fd);
        return err;
}

static int check(const struct vfs_ctx *ctx, const struct inode *inode,
                 enum view_op op)
{
        return view_check_permission(ctx->view, inode->folder, op);
}

/*
 * Record the session's user as the creator of a new entry of folder (fd:
 * any descriptor of it, O_PATH included): what lets the same user remove
 * it again where the folder is rw (SPEC section 3), from any session on
 * any node.  Recorded whatever this session's permission (the folder may
 * be rw for another member); scratch keeps none.  Where the storage keeps
 * no record the entry stays without one (someone else's, for rw), which
 * is logged once per folder.
 */
static void record_creator(struct vfs_ctx *ctx, int folder, int fd,
                           mode_t type)
{
        const struct view_folder *f;
        int r;

        if (folder == VIEW_SCRATCH)
                return;
        r = cat_creator_set(fd, NULL, ctx->user_id);
        /* -EEXIST: the entry has a record already, never replaced */
        if (r == 0 || r == -EEXIST)
                return;
        f = view_folder(ctx->view, folder);
        if (!f || __atomic_exchange_n((bool *)&f->record_warned, true,
                                      __ATOMIC_RELAXED))
                return;
        if (r == -EOPNOTSUPP)
                fuse_log(FUSE_LOG_WARNING,
                         "vfolderfs: folder '%s': the storage keeps neither "
                         CAT_CREATOR_XATTR " nor " CAT_CREATOR_XATTR_USER
                         " on a new %s, so it has no creator record and "
                         "users with rw cannot remove it (wd or -o "
                         "rw_can_delete lift this); logged once per folder\n",
                         f->name, S_ISDIR(type) ? "directory" :
                                  S_ISREG(type) ? "file" : "special file");
        else
                fuse_log(FUSE_LOG_WARNING,
                         "vfolderfs: folder '%s': cannot record the creator "
                         "of a new entry: %s; logged once per folder\n",
                         f->name, strerror(-r));
}

/*
 * Where a removal depends on who created the entry (rw), the lock of
 * directory dfd that keeps its names from being swapped between a check
 * of a record and the change it allows (cat_dir_lock()); -1 elsewhere.
 * Returns 0 or a positive errno (EBUSY: held elsewhere for too long).
 */
static int lock_dir(struct vfs_ctx *ctx, int folder, int dfd, int *ret_lock)
{
        *ret_lock = -1;
        if (!view_asks_creator(ctx->view, folder))
                return 0;
        return -cat_dir_lock(dfd, ret_lock);
}

/*
 * Whether name in dfd (a directory of folder) may be removed or replaced
 * by this session, from its creator record: 0 or a positive errno (EPERM:
 * someone else's; ENOENT: no such entry).  For a folder where the answer
 * depends on it (view_asks_creator()), under the directory's lock.
 */
static int check_removal_at(struct vfs_ctx *ctx, int folder, int dfd,
                            const char *name)
{
        int own = cat_creator_is(dfd, name, ctx->user_id);

        if (own < 0)
                return -own;
        return view_check_entry(ctx->view, folder, VIEW_OP_REMOVE, own == 1);
}

/*
 * Whether FLUSH must close a duplicate of the backing descriptor: only where
 * the backing file system may report an error at close (NFS, FUSE...).  On
 * a local one every error came from write(2) or comes from fsync(2).
 */
static bool flush_needed(const struct vfs_ctx *ctx, const struct inode *inode)
{
        const struct view_folder *f = view_folder(ctx->view, inode->folder);

        if (inode->folder == VIEW_SCRATCH)
                return ctx->scratch_close_reports;
        return !f || f->close_reports;
}

/* Directory inode in which folder entries are synthesized, or -1. */
static int view_dir(const struct inode *dir)
{
        if (dir->folder_root || dir->folder != VIEW_SCRATCH)
                return -1;
        return dir->vnode;
}

/* Whether name in dir is a view entry (a folder or a view directory). */
static bool view_entry(const struct vfs_ctx *ctx, const struct inode *dir,
                       const char *name)
{
        int vd = view_dir(dir);

        return vd >= 0 && view_child(ctx->view, vd, name) >= 0;
}

static bool is_dot_or_dotdot(const char *name)
{
        return name[0] == '.' &&
               (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Names from the kernel are single components; a '/' would make an *at()
 * call walk, so it is refused rather than trusted.
 */
static bool bad_name(const char *name)
{
        return name[0] == '\0' || strchr(name, '/') != NULL;
}

/*
 * Give a newly created object the storage owner, through its own O_PATH
 * descriptor (never by name, so nothing swapped in is touched).
 */
static int chown_new(const struct vfs_ctx *ctx, const struct inode *inode)
{
        int fd, err = 0;

        if (!ctx->chown_on_create)
                return 0;
        fd = inode_fd_get(inode);
        if (fd < 0)
                return -fd;
        if (fchownat(fd, "", ctx->storage_uid, ctx->storage_gid,
                     AT_EMPTY_PATH) < 0)
                err = errno;
        inode_fd_put(inode, fd);
        return err;
}

/*
 * Setuid and setgid bits are never stored (see vfs_setattr()); one that a
 * file got on the storage host is removed when the file is opened for
 * writing, truncated or chowned through the daemon.  The kernel leaves this
 * to us under HANDLE_KILLPRIV_V2 (devio.h).  fd is a descriptor of the
 * file (O_PATH is enough); *st is its current status, updated.
 */
static int clear_sxid(int fd, struct stat *st)
{
        char path[PROC_FD_MAX];

        if (!S_ISREG(st->st_mode) || !(st->st_mode & (S_ISUID | S_ISGID)))
                return 0;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (fchmodat(AT_FDCWD, path, st->st_mode & 01777, 0) < 0)
                return errno;
        st->st_mode &= ~(mode_t)(S_ISUID | S_ISGID);
        return 0;
}

/*
 * How long the kernel may keep what it learns of names and attributes
 * inside folder: WATCH_CACHE_S in a folder whose file system is watched
 * (watch.h: changes from elsewhere are invalidated as they happen),
 * ctx->timeout elsewhere (scratch, network storage, no watcher).
 */
static double cache_time(const struct vfs_ctx *ctx, int folder)
{
        const struct view_folder *f = view_folder(ctx->view, folder);

        return f && f->watched ? WATCH_CACHE_S : ctx->timeout;
}

/*
 * A folder root's own name lies in scratch, where the catalog watcher
 * (live.c) rules: it keeps ctx->timeout.
 */
static double inode_cache_time(const struct vfs_ctx *ctx,
                               const struct inode *inode)
{
        return inode->folder_root ? ctx->timeout
                                  : cache_time(ctx, inode->folder);
}

static void fill_entry(struct vfs_ctx *ctx, struct inode *inode,
                       const struct stat *st, struct fuse_entry_param *e)
{
        memset(e, 0, sizeof(*e));
        e->ino = nodeid_of(ctx, inode);
        e->generation = inode->generation;
        e->attr = *st;
        fix_attr(ctx, &e->attr);
        e->attr_timeout = inode_cache_time(ctx, inode);
        e->entry_timeout = e->attr_timeout;
}

/* Turn an O_PATH fd into a known inode; takes ownership of fd. */
static int adopt(struct vfs_ctx *ctx, int fd, int folder, int vnode,
                 bool folder_root, int parent_fd, dev_t parent_dev,
                 struct fuse_entry_param *e)
{
        struct inode *inode;
        struct stat st;
        bool watched = false;

        if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
                int err = errno;

                close(fd);
                return err;
        }
        if (folder == VIEW_SCRATCH && st.st_dev == ctx->root.dev &&
            st.st_ino == ctx->root.ino) {
                /* ".." of a top-level scratch directory: the root. */
                close(fd);
                fill_entry(ctx, &ctx->root, &st, e);
                return 0;
        }
        /*
         * A directory of a watched folder gets its mark before its status
         * is taken again: no change after that status goes unreported.
         */
        if (S_ISDIR(st.st_mode) && cache_time(ctx, folder) > ctx->timeout &&
            watch_dir(ctx->watch, fd) == 0) {
                watched = true;
                if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) <
                    0) {
                        int err = errno;

                        watch_undir(ctx->watch, fd);
                        close(fd);
                        return err;
                }
        }
        inode = inode_table_get(ctx->inodes, fd, &st, folder, vnode,
                                folder_root, parent_fd, parent_dev);
        if (!inode)
                return ENOMEM;
        if (watched)
                inode->watched = true; /* marked, by this call or before */
        fill_entry(ctx, inode, &st, e);
        return 0;
}

/*
 * Open the scratch directory of view node vnode by walking the view's names
 * down from the root, one O_NOFOLLOW component at a time.  Returns an O_PATH
 * fd or a negative errno.
 */
static int open_view_dir(struct vfs_ctx *ctx, int vnode)
{
        const struct view *v = ctx->view;
        int chain[64];
        int depth = 0;
        int fd = -1;

        for (int n = vnode; n != VIEW_ROOT; n = v->nodes[n].parent) {
                if (depth == 64)
                        return -ELOOP;
                chain[depth++] = n;
        }
        for (int i = depth - 1; i >= 0; i--) {
                int next = openat(fd < 0 ? ctx->root.fd : fd,
                                  v->nodes[chain[i]].name,
                                  O_PATH | O_DIRECTORY | O_NOFOLLOW |
                                  O_CLOEXEC);
                int err = errno;

                if (fd >= 0)
                        close(fd);
                if (next < 0)
                        return -err;
                fd = next;
        }
        return fd < 0 ? -ENOENT : fd;
}

/* The view directory node whose scratch directory fd is, or -1. */
static int view_dir_of(struct vfs_ctx *ctx, int fd)
{
        const struct view *v = ctx->view;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -1;
        for (size_t i = 1; i < v->n_nodes; i++) {
                if (v->nodes[i].kind == VIEW_NODE_DIR &&
                    v->nodes[i].dev == st.st_dev &&
                    v->nodes[i].ino == st.st_ino)
                        return (int)i;
        }
        return -1;
}

/*
 * Look name up in parent and add one lookup to the result.  The view comes
 * first: in a view directory a folder's name is the folder, whatever scratch
 * holds under that name.  Returns 0 or a positive errno.
 */
static int lookup_at(struct vfs_ctx *ctx, struct inode *parent, int pfd,
                     const char *name, struct fuse_entry_param *e);

static int do_lookup(struct vfs_ctx *ctx, struct inode *parent,
                     const char *name, struct fuse_entry_param *e)
{
        int fd, pfd, err;

        if (!S_ISDIR(parent->type))
                return ENOTDIR;
        if (check(ctx, parent, VIEW_OP_READ))
                return ENOENT; /* its folder is gone (live.h) */
        if (bad_name(name))
                return EINVAL;
        if (strcmp(name, ".") == 0) {
                struct stat st;

                err = stat_inode(ctx, parent, &st);
                if (err)
                        return err;
                if (parent != &ctx->root)
                        inode_table_ref(ctx->inodes, parent, 1);
                fill_entry(ctx, parent, &st, e);
                return 0;
        }
        if (strcmp(name, "..") == 0) {
                /* Never climb out of a folder or the scratch root. */
                if (parent == &ctx->root)
                        return do_lookup(ctx, parent, ".", e);
                if (parent->folder_root) {
                        int vparent = ctx->view->nodes[parent->vnode].parent;

                        if (vparent == VIEW_ROOT)
                                return do_lookup(ctx, &ctx->root, ".", e);
                        fd = open_view_dir(ctx, vparent);
                        if (fd < 0)
                                return -fd;
                        return adopt(ctx, fd, VIEW_SCRATCH, vparent, false,
                                     -1, 0, e);
                }
        }
        pfd = inode_fd_get(parent);
        if (pfd < 0)
                return -pfd;
        err = lookup_at(ctx, parent, pfd, name, e);
        inode_fd_put(parent, pfd);
        return err;
}

/* do_lookup() of name in parent, whose descriptor for now is pfd. */
static int lookup_at(struct vfs_ctx *ctx, struct inode *parent, int pfd,
                     const char *name, struct fuse_entry_param *e)
{
        int vd = view_dir(parent);
        int fd;

        if (strcmp(name, "..") == 0) {
                fd = openat(pfd, "..",
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return errno;
                return adopt(ctx, fd, parent->folder,
                             parent->folder == VIEW_SCRATCH ?
                                     view_dir_of(ctx, fd) : -1,
                             false, -1, 0, e);
        }
        if (vd >= 0 && !is_dot_or_dotdot(name)) {
                int node = view_child(ctx->view, vd, name);

                /* an outside folder's hidden entry, the source of its bind */
                if (node < 0 && vd == VIEW_ROOT)
                        node = view_hidden(ctx->view, name);

                if (node >= 0) {
                        const struct view_node *vn = &ctx->view->nodes[node];

                        if (vn->kind == VIEW_NODE_FOLDER) {
                                const struct view_folder *f =
                                        &ctx->view->folders[vn->folder];

                                fd = open(f->backing_path,
                                          O_PATH | O_DIRECTORY | O_NOFOLLOW |
                                          O_CLOEXEC);
                                if (fd < 0) {
                                        fuse_log(FUSE_LOG_ERR,
                                                 "vfolderfs: folder '%s': cannot open '%s': %s\n",
                                                 f->name, f->backing_path,
                                                 strerror(errno));
                                        return EIO;
                                }
                                return adopt(ctx, fd, vn->folder, node, true,
                                             -1, 0, e);
                        }
                        fd = openat(pfd, name,
                                    O_PATH | O_DIRECTORY | O_NOFOLLOW |
                                    O_CLOEXEC);
                        if (fd < 0)
                                return errno == ENOTDIR ? EIO : errno;
                        return adopt(ctx, fd, VIEW_SCRATCH, node, false,
                                     -1, 0, e);
                }
        }
        if (!is_dot_or_dotdot(name)) {
                /*
                 * Most lookups are of inodes the table knows (the kernel
                 * revalidating an entry): one fstatat() answers them
                 * without opening anything.  A name that vanishes meanwhile
                 * gets ENOENT from openat() below, as before.
                 */
                struct stat st;
                struct inode *known;

                if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return errno;
                known = inode_table_find(ctx->inodes, st.st_dev, st.st_ino,
                                         parent->folder);
                if (known) {
                        fill_entry(ctx, known, &st, e);
                        return 0;
                }
        }
        fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno;
        return adopt(ctx, fd, parent->folder, -1, false, pfd, parent->dev,
                     e);
}

static void forget_entry(struct vfs_ctx *ctx, fuse_ino_t ino)
{
        if (ino != FUSE_ROOT_ID && ino != 0)
                inode_table_forget(ctx->inodes,
                                   (struct inode *)(uintptr_t)ino, 1);
}

static void vfs_init(void *userdata, struct fuse_conn_info *conn)
{
        (void)userdata;
        /*
         * No splice either way.  Requests: libfuse would read every one
         * with two system calls (splice into a pipe, read of the header),
         * and a measured 4 KiB write, a 1 GiB write and an untar all took
         * longer with it.  Replies: see vfs_read().
         */
        conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                        FUSE_CAP_SPLICE_MOVE);
        /*
         * Page cache kept across opens (keep_cache), dropped by the kernel
         * whenever a fresh getattr shows another mtime or size: a folder
         * changed by another session or on the storage host is seen once
         * the one-second attribute cache expires.
         */
        if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
                conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
        /* Writeback caching would hide EROFS/EPERM from write(2). */
        conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
        /*
         * Always READDIRPLUS: tree walks (find, du, ls -l, rsync) stat every
         * entry, and one readdirplus answers a page of them where "auto"
         * would fall back to a LOOKUP round trip per entry.
         */
        if (conn->capable & FUSE_CAP_READDIRPLUS)
                conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
        /*
         * A symlink's target never changes (a new one is a new inode): the
         * kernel may keep it, dropped with the inode's pages when invalid.
         */
        if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
                conn->want |= FUSE_CAP_CACHE_SYMLINKS;
        conn->max_write = 1U << 20;
        /*
         * Reads the kernel issues for read-ahead (and releases) are
         * background requests, of which it lets a connection have
         * max_background unanswered (12 by default): that many stuck on a
         * stalled storage host would hold up every read of a file on the
         * healthy ones, in the kernel, before the daemon could see it.
         * Past congestion_threshold the kernel stops reading ahead.
         */
        conn->max_background = VFS_MAX_BACKGROUND;
        conn->congestion_threshold = VFS_MAX_BACKGROUND / 4 * 3;
}

static void vfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct fuse_entry_param e;
        struct inode *dir = inode_of(req, parent);
        int err = do_lookup(ctx, dir, name, &e);

        if (err == ENOENT) {
                /*
                 * A negative entry, cached as long as positive ones: a name
                 * created on the storage host or by another session shows
                 * up within the same second, and repeated probes of missing
                 * names (PATH, Python imports) stay in the kernel.
                 */
                memset(&e, 0, sizeof(e));
                e.ino = 0;
                e.entry_timeout = view_dir(dir) >= 0
                                          ? ctx->timeout
                                          : cache_time(ctx, dir->folder);
                fuse_reply_entry(req, &e);
        } else if (err) {
                fuse_reply_err(req, err);
        } else if (fuse_reply_entry(req, &e) < 0) {
                /* Not taken (interrupted, loop.h): the kernel counts none. */
                forget_entry(ctx, e.ino);
        }
}

static void vfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
        struct vfs_ctx *ctx = ctx_of(req);

        if (ino != FUSE_ROOT_ID)
                inode_table_forget(ctx->inodes, inode_of(req, ino), nlookup);
        fuse_reply_none(req);
}

static void vfs_forget_multi(fuse_req_t req, size_t count,
                             struct fuse_forget_data *forgets)
{
        struct vfs_ctx *ctx = ctx_of(req);

        for (size_t i = 0; i < count; i++) {
                if (forgets[i].ino != FUSE_ROOT_ID)
                        inode_table_forget(ctx->inodes,
                                           inode_of(req, forgets[i].ino),
                                           forgets[i].nlookup);
        }
        fuse_reply_none(req);
}

static void vfs_getattr(fuse_req_t req, fuse_ino_t ino,
                        struct fuse_file_info *fi)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        struct stat st;
        int err = check(ctx, inode, VIEW_OP_READ);

        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        /*
         * An open file may be unlinked: its descriptor still answers.  (The
         * kernel passes a handle only for regular files; a directory's fh
         * is 0: see vfs_opendir().)
         */
        if (fi && S_ISREG(inode->type) && fstat((int)fi->fh, &st) == 0) {
                fix_attr(ctx, &st);
        } else {
                err = stat_inode(ctx, inode, &st);
        }
        if (err)
                fuse_reply_err(req, err);
        else
                fuse_reply_attr(req, &st, inode_cache_time(ctx, inode));
}

static int set_times(struct inode *inode, int ifd, const struct stat *attr,
                     int valid, struct fuse_file_info *fi)
{
        struct timespec tv[2];
        char path[PROC_FD_MAX];

        tv[0].tv_sec = 0;
        tv[1].tv_sec = 0;
        tv[0].tv_nsec = UTIME_OMIT;
        tv[1].tv_nsec = UTIME_OMIT;
        if (valid & FUSE_SET_ATTR_ATIME_NOW)
                tv[0].tv_nsec = UTIME_NOW;
        else if (valid & FUSE_SET_ATTR_ATIME)
                tv[0] = attr->st_atim;
        if (valid & FUSE_SET_ATTR_MTIME_NOW)
                tv[1].tv_nsec = UTIME_NOW;
        else if (valid & FUSE_SET_ATTR_MTIME)
                tv[1] = attr->st_mtim;
        if (fi)
                return futimens((int)fi->fh, tv) < 0 ? errno : 0;
        if (utimensat(ifd, "", tv, AT_EMPTY_PATH) == 0)
                return 0;
        if (errno != EINVAL || S_ISLNK(inode->type))
                return errno;
        /* Kernels without AT_EMPTY_PATH for utimensat(). */
        proc_path(path, ifd);
        return utimensat(AT_FDCWD, path, tv, 0) < 0 ? errno : 0;
}

static void vfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                        int valid, struct fuse_file_info *fi)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        char path[PROC_FD_MAX];
        struct stat st;
        int err, ifd;

        /* Only a regular file's fh is a descriptor (see vfs_getattr()). */
        if (fi && !S_ISREG(inode->type))
                fi = NULL;
        /* Refuse before changing anything, so a refusal changes nothing. */
        if ((valid & FUSE_SET_ATTR_MODE) &&
            (attr->st_mode & (S_ISUID | S_ISGID))) {
                fuse_reply_err(req, EPERM);
                return;
        }
        if (valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE |
                     FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                     FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
                err = check(ctx, inode, VIEW_OP_CHANGE);
                if (err)
                        goto out_err;
        }
        if (valid & FUSE_SET_ATTR_SIZE) {
                if (S_ISDIR(inode->type)) {
                        err = EISDIR;
                        goto out_err;
                }
                if (!S_ISREG(inode->type)) {
                        err = EINVAL;
                        goto out_err;
                }
        }
        if ((valid & FUSE_SET_ATTR_MODE) && S_ISLNK(inode->type)) {
                err = EOPNOTSUPP;
                goto out_err;
        }
        /* uid/gid: ownership is presented, never stored (SPEC identity). */
        ifd = inode_fd_get(inode);
        if (ifd < 0) {
                err = -ifd;
                goto out_err;
        }
        if (valid & FUSE_SET_ATTR_MODE) {
                mode_t mode = attr->st_mode & 07777;

                if (fi)
                        err = fchmod((int)fi->fh, mode) < 0 ? errno : 0;
                else {
                        proc_path(path, ifd);
                        err = fchmodat(AT_FDCWD, path, mode, 0) < 0 ? errno
                                                                    : 0;
                }
                if (err)
                        goto out_put;
        }
        if (valid & FUSE_SET_ATTR_SIZE) {
                struct quota_op q;

                err = quota_begin(ctx->view, inode->folder, ifd,
                                  attr->st_size, false, &q);
                if (err)
                        goto out_put;
                if (fi) {
                        err = ftruncate((int)fi->fh, attr->st_size) < 0 ?
                              errno : 0;
                } else {
                        int fd;

                        proc_path(path, ifd);
                        fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
                        if (fd < 0) {
                                err = errno;
                        } else {
                                err = ftruncate(fd, attr->st_size) < 0 ?
                                      errno : 0;
                                close(fd);
                        }
                }
                quota_end(&q, ifd);
                if (err)
                        goto out_put;
        }
        if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                     FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
                err = set_times(inode, ifd, attr, valid, fi);
                if (err)
                        goto out_put;
        }
        if (fstatat(ifd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
                err = errno;
                goto out_put;
        }
        if (valid & (FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_UID |
                     FUSE_SET_ATTR_GID | FUSE_SET_ATTR_KILL_SUID |
                     FUSE_SET_ATTR_KILL_SGID)) {
                err = clear_sxid(ifd, &st);
                if (err)
                        goto out_put;
        }
        inode_fd_put(inode, ifd);
        fix_attr(ctx, &st);
        fuse_reply_attr(req, &st, inode_cache_time(ctx, inode));
        return;
out_put:
        inode_fd_put(inode, ifd);
out_err:
        fuse_reply_err(req, err);
}

static void vfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
        struct inode *inode = inode_of(req, ino);
        char buf[PATH_MAX + 1];
        ssize_t n;
        int fd = inode_fd_get(inode);

        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        n = readlinkat(fd, "", buf, sizeof(buf));
        if (n < 0)
                n = -errno;
        inode_fd_put(inode, fd);
        if (n < 0) {
                fuse_reply_err(req, (int)-n);
                return;
        }
        if ((size_t)n >= sizeof(buf)) {
                fuse_reply_err(req, ENAMETOOLONG);
                return;
        }
        buf[n] = '\0';
        fuse_reply_readlink(req, buf);
}

/*
 * Shared tail of mknod, mkdir and symlink: look the new entry up, record
 * its creator, give it the storage owner, clear a setgid bit inherited from
 * its directory.  The lookup is by name, so in rw it runs under the
 * directory's lock (lock_dir()), which every rename into the directory
 * takes there: no entry of someone else's can be swapped in under the new
 * name and get this user's record.  Returns 0 with *e filled in (one
 * lookup taken), or a positive errno.
 */
static int finish_created(struct vfs_ctx *ctx, struct inode *parent,
                          const char *name, struct fuse_entry_param *e)
{
        struct inode *inode;
        int err, fd;

        err = do_lookup(ctx, parent, name, e);
        if (err)
                return err;
        inode = (struct inode *)(uintptr_t)e->ino;
        fd = inode_fd_get(inode);
        if (fd < 0) {
                err = -fd;
                goto out;
        }
        /* by the inode's descriptor: the entry made, whatever its name is now */
        record_creator(ctx, parent->folder, fd, e->attr.st_mode);
        err = chown_new(ctx, inode);
        if (!err && S_ISDIR(e->attr.st_mode) &&
            (e->attr.st_mode & (S_ISUID | S_ISGID))) {
                char path[PROC_FD_MAX];

                proc_path(path, fd);
                if (fchmodat(AT_FDCWD, path, e->attr.st_mode & 0777, 0) < 0)
                        err = errno;
                else
                        e->attr.st_mode &= ~(mode_t)(S_ISUID | S_ISGID);
        }
        inode_fd_put(inode, fd);
out:
        if (err)
                forget_entry(ctx, e->ino);
        return err;
}

/* Reply to mknod, mkdir or symlink: err, or the entry (counted). */
static void reply_created(fuse_req_t req, struct inode *parent, int err,
                          const struct fuse_entry_param *e)
{
        struct vfs_ctx *ctx = ctx_of(req);

        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        quota_add_entry(ctx->view, parent->folder, 0);
        if (fuse_reply_entry(req, e) < 0)
                forget_entry(ctx, e->ino); /* not taken: see vfs_lookup() */
}

/* Checks common to every operation that adds name to parent. */
static int check_new_name(struct vfs_ctx *ctx, struct inode *parent,
                          const char *name)
{
        if (bad_name(name) || is_dot_or_dotdot(name))
                return bad_name(name) ? EINVAL : EEXIST;
        if (view_entry(ctx, parent, name))
                return EEXIST;
        return check(ctx, parent, VIEW_OP_CHANGE);
}

static void vfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, dev_t rdev)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *dir = inode_of(req, parent);
        struct fuse_entry_param e;
        int err, dfd, lock;

        (void)rdev;
        if (S_ISCHR(mode) || S_ISBLK(mode)) {
                fuse_reply_err(req, EPERM);
                return;
        }
        if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode)) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        err = check_new_name(ctx, dir, name);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        dfd = inode_fd_get(dir);
        if (dfd < 0) {
                fuse_reply_err(req, -dfd);
                return;
        }
        err = lock_dir(ctx, dir->folder, dfd, &lock);
        if (!err && mknodat(dfd, name, mode & ~(mode_t)(S_ISUID | S_ISGID),
                            0) < 0)
                err = errno;
        if (!err)
                err = finish_created(ctx, dir, name, &e);
        cat_dir_unlock(lock);
        inode_fd_put(dir, dfd);
        reply_created(req, dir, err, &e);
}

static void vfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *dir = inode_of(req, parent);
        struct fuse_entry_param e;
        int err, dfd, lock;

        err = check_new_name(ctx, dir, name);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        dfd = inode_fd_get(dir);
        if (dfd < 0) {
                fuse_reply_err(req, -dfd);
                return;
        }
        err = lock_dir(ctx, dir->folder, dfd, &lock);
        if (!err && mkdirat(dfd, name, mode & 01777) < 0)
                err = errno;
        if (!err)
                err = finish_created(ctx, dir, name, &e);
        cat_dir_unlock(lock);
        inode_fd_put(dir, dfd);
        reply_created(req, dir, err, &e);
}

static void vfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
                        const char *name)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *dir = inode_of(req, parent);
        struct fuse_entry_param e;
        int err, dfd, lock;

        err = check_new_name(ctx, dir, name);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        dfd = inode_fd_get(dir);
        if (dfd < 0) {
                fuse_reply_err(req, -dfd);
                return;
        }
        err = lock_dir(ctx, dir->folder, dfd, &lock);
        if (!err && symlinkat(link, dfd, name) < 0)
                err = errno;
        if (!err)
                err = finish_created(ctx, dir, name, &e);
        cat_dir_unlock(lock);
        inode_fd_put(dir, dfd);
        reply_created(req, dir, err, &e);
}

static void vfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
                     const char *newname)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        struct inode *dir = inode_of(req, newparent);
        struct fuse_entry_param e;
        char path[PROC_FD_MAX];
        int err, fd, dfd;

        if (inode->folder != dir->folder) {
                fuse_reply_err(req, EXDEV);
                return;
        }
        err = check_new_name(ctx, dir, newname);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        if (S_ISDIR(inode->type)) {
                fuse_reply_err(req, EPERM);
                return;
        }
        /* Link the inode we hold, not whatever a name points to now. */
        fd = inode_fd_get(inode);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        dfd = inode_fd_get(dir);
        if (dfd < 0) {
                inode_fd_put(inode, fd);
                fuse_reply_err(req, -dfd);
                return;
        }
        proc_path(path, fd);
        err = linkat(AT_FDCWD, path, dfd, newname, AT_SYMLINK_FOLLOW) < 0
                      ? errno : 0;
        inode_fd_put(dir, dfd);
        inode_fd_put(inode, fd);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        err = do_lookup(ctx, dir, newname, &e);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        /* every name of a file counts its size, as `usage` counts */
        quota_add_entry(ctx->view, dir->folder,
                        S_ISREG(e.attr.st_mode) ? e.attr.st_size : 0);
        if (fuse_reply_entry(req, &e) < 0)
                forget_entry(ctx, e.ino); /* not taken: see vfs_lookup() */
}

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name,
                      int flags)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *dir = inode_of(req, parent);
        int err, dfd, lock = -1;
        bool asks;

        if (bad_name(name)) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        if (view_entry(ctx, dir, name)) {
                fuse_reply_err(req, EBUSY);
                return;
        }
        /* rw: the answer depends on who created the entry, read below */
        asks = view_asks_creator(ctx->view, dir->folder);
        err = asks ? 0 : check(ctx, dir, VIEW_OP_REMOVE);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        dfd = inode_fd_get(dir);
        if (dfd < 0) {
                fuse_reply_err(req, -dfd);
                return;
        }
        {
                struct quota_op q;

                /* the usage counter's lock first, then the directory's */
                quota_remove_begin(ctx->view, dir->folder, dfd, name, &q);
                if (asks) {
                        err = lock_dir(ctx, dir->folder, dfd, &lock);
                        if (!err)
                                err = check_removal_at(ctx, dir->folder, dfd,
                                                       name);
                }
                if (!err && unlinkat(dfd, name, flags) < 0)
                        err = errno;
                cat_dir_unlock(lock);
                quota_remove_end(&q, err == 0);
        }
        inode_fd_put(dir, dfd);
        fuse_reply_err(req, err);
}

static void vfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        do_remove(req, parent, name, 0);
}

static void vfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        do_remove(req, parent, name, AT_REMOVEDIR);
}

static bool same_entry(int dfd1, const char *n1, int dfd2, const char *n2)
{
        struct stat a, b;

        if (fstatat(dfd1, n1, &a, AT_SYMLINK_NOFOLLOW) < 0 ||
            fstatat(dfd2, n2, &b, AT_SYMLINK_NOFOLLOW) < 0)
                return false;
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * The rename itself.  Where a replacement depends on who created the
 * replaced entry (asks; the caller holds the directory lock), a plain
 * rename first tries RENAME_NOREPLACE -- the test and the rename one
 * atomic step -- and replaces only an entry the user created; an exchange
 * needs both entries to be the user's.  Returns 0 or a positive errno.
 */
static int rename_at(struct vfs_ctx *ctx, struct inode *dir, int dfd,
                     const char *name, int ndfd, const char *newname,
                     unsigned int flags, bool asks)
{
        int err;

        if (!asks || (flags & RENAME_NOREPLACE))
                return renameat2(dfd, name, ndfd, newname, flags) < 0 ? errno
                                                                      : 0;
        if (flags & RENAME_EXCHANGE) {
                err = check_removal_at(ctx, dir->folder, dfd, name);
                if (!err)
                        err = check_removal_at(ctx, dir->folder, ndfd,
                                               newname);
                if (err)
                        return err;
                return renameat2(dfd, name, ndfd, newname, flags) < 0 ? errno
                                                                      : 0;
        }
        if (renameat2(dfd, name, ndfd, newname, RENAME_NOREPLACE) == 0)
                return 0;
        err = errno;
        if (err != EEXIST)
                return err;
        /* rename(2) of a name onto itself is a no-op. */
        if (same_entry(dfd, name, ndfd, newname))
                return 0;
        err = check_removal_at(ctx, dir->folder, ndfd, newname);
        if (err)
                return err;
        return renameat2(dfd, name, ndfd, newname, 0) < 0 ? errno : 0;
}

static void vfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                       fuse_ino_t newparent, const char *newname,
                       unsigned int flags)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *dir = inode_of(req, parent);
        struct inode *newdir = inode_of(req, newparent);
        int err, dfd, ndfd, lock1 = -1, lock2 = -1;
        bool asks;

        if (bad_name(name) || bad_name(newname) ||
            (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        if (view_entry(ctx, dir, name) || view_entry(ctx, newdir, newname)) {
                fuse_reply_err(req, EBUSY);
                return;
        }
        if (dir->folder != newdir->folder) {
                fuse_reply_err(req, EXDEV);
                return;
        }
        err = check(ctx, dir, VIEW_OP_CHANGE);
        asks = !err && view_asks_creator(ctx->view, dir->folder);
        if (!err && !asks && (flags & RENAME_EXCHANGE))
                err = check(ctx, dir, VIEW_OP_REMOVE);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        dfd = inode_fd_get(dir);
        if (dfd < 0) {
                fuse_reply_err(req, -dfd);
                return;
        }
        ndfd = inode_fd_get(newdir);
        if (ndfd < 0) {
                inode_fd_put(dir, dfd);
                fuse_reply_err(req, -ndfd);
                return;
        }
        {
                struct quota_op q = { 0 };

                /* a replaced entry stops counting */
                if (!(flags & (RENAME_NOREPLACE | RENAME_EXCHANGE)) &&
                    !same_entry(dfd, name, ndfd, newname))
                        quota_remove_begin(ctx->view, newdir->folder, ndfd,
                                           newname, &q);
                /*
                 * In rw every rename takes the lock of the directory a
                 * name appears in (both, for an exchange): renames are
                 * what could swap an entry in under another session's
                 * check (see cat_dir_lock()).
                 */
                if (asks)
                        err = -((flags & RENAME_EXCHANGE) ?
                                cat_dir_lock2(dfd, ndfd, &lock1, &lock2) :
                                cat_dir_lock(ndfd, &lock1));
                if (!err)
                        err = rename_at(ctx, dir, dfd, name, ndfd, newname,
                                        flags, asks);
                cat_dir_unlock(lock2);
                cat_dir_unlock(lock1);
                quota_remove_end(&q, err == 0);
        }
        inode_fd_put(newdir, ndfd);
        inode_fd_put(dir, dfd);
        fuse_reply_err(req, err);
}

/*
 * A file opened for reading is read next: ask the storage for its first
 * PREFETCH_BYTES at once (posix_fadvise() only starts the I/O), so that the
 * disk works while the OPEN reply and the READ request cross.  A cold read
 * of every file of /usr/include (8,026 files), 6 alternated rounds: 1.38 s
 * without, 1.19 s with (native 0.66 s).  Not when this record has served a
 * READ already: the kernel may then hold the data in its own cache and send
 * no READ, while the storage's copy, possibly evicted since, would be read
 * for nothing.  Not for writing either (nothing says it will be read).
 */
#define PREFETCH_BYTES (128 * 1024)

static void prefetch(const struct inode *inode, int fd)
{
        if (!__atomic_load_n(&inode->data_served, __ATOMIC_RELAXED))
                (void)posix_fadvise(fd, 0, PREFETCH_BYTES, POSIX_FADV_WILLNEED);
}

/*
 * What an open or a create answers besides the handle:
 *   - an O_APPEND open is direct I/O: the kernel then sends each write(2)
 *     as one WRITE (up to max_write) straight from the caller's buffer.
 *     Through the page cache a write that reaches into a page not read yet
 *     is split in two WRITEs, and another session's append could land
 *     between the halves; as one WRITE on the O_APPEND backing descriptor
 *     it lands whole at the storage file's real end, whatever its size in
 *     the kernel's cache.  (Such a handle may still be mapped: see
 *     FUSE_DIRECT_IO_ALLOW_MMAP in devio.h.)
 *   - FLUSH is sent at every close(2): the kernel keeps no record of the
 *     POSIX locks the daemon takes for it (locks.h), and FLUSH, which
 *     names the closing lock owner, is where they are released.
 */
static void set_open_flags(struct fuse_file_info *fi)
{
        fi->direct_io = (fi->flags & O_APPEND) != 0;
        fi->noflush = 0;
}

static void vfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        char path[PROC_FD_MAX];
        int fd, ifd, err;
        bool writing;

        if (S_ISLNK(inode->type)) {
                fuse_reply_err(req, ELOOP);
                return;
        }
        err = check(ctx, inode, VIEW_OP_READ);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        writing = (fi->flags & O_ACCMODE) != O_RDONLY ||
                  (fi->flags & O_TRUNC);
        if (writing) {
                err = check(ctx, inode, VIEW_OP_CHANGE);
                if (err) {
                        fuse_reply_err(req, err);
                        return;
                }
        }
        ifd = inode_fd_get(inode);
        if (ifd < 0) {
                fuse_reply_err(req, -ifd);
                return;
        }
        proc_path(path, ifd);
        /*
         * Without O_DIRECT: the kernel already sends O_DIRECT I/O uncached,
         * and the data of a WRITE request is not aligned as the backing
         * file system would require.
         */
        {
                struct quota_op q = { 0 };

                if (fi->flags & O_TRUNC)
                        (void)quota_begin(ctx->view, inode->folder, ifd, 0,
                                          false, &q);
                fd = open(path, (fi->flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL |
                                               O_DIRECT)) | O_CLOEXEC);
                err = errno;
                quota_end(&q, ifd);
        }
        inode_fd_put(inode, ifd);
        if (fd < 0) {
                fuse_reply_err(req, err);
                return;
        }
        if (writing) {
                struct stat st;

                err = fstat(fd, &st) < 0 ? errno : clear_sxid(fd, &st);
                if (err) {
                        close(fd);
                        fuse_reply_err(req, err);
                        return;
                }
        }
        if (!writing)
                prefetch(inode, fd);
        fi->fh = (uint64_t)fd;
        /* See vfs_init(): the kernel invalidates on mtime/size change. */
        fi->keep_cache = 1;
        set_open_flags(fi);
        if (fuse_reply_open(req, fi) < 0)
                close(fd); /* not taken (interrupted): no release will come */
}

/*
 * Open name in dfd for CREATE.  The file is made with O_EXCL, so that a
 * creator is recorded only on a file made here (*ret_created): when the
 * name exists -- made on the storage host or by another session while the
 * kernel still took it as absent -- and the caller did not ask for O_EXCL,
 * the existing file is opened as open(2) would.  Returns the descriptor or
 * a negative errno.
 */
static int create_file(int dfd, const char *name, int flags, mode_t mode,
                       bool *ret_created)
{
        flags = (flags & ~O_DIRECT) | O_NOFOLLOW | O_CLOEXEC;
        mode &= ~(mode_t)(S_ISUID | S_ISGID) & 07777;
        for (int tries = 0; tries < 8; tries++) {
                int fd = openat(dfd, name, flags | O_CREAT | O_EXCL, mode);

                if (fd >= 0) {
                        *ret_created = true;
                        return fd;
                }
                if (errno != EEXIST || (flags & O_EXCL))
                        return -errno;
                fd = openat(dfd, name, flags & ~O_CREAT);
                if (fd >= 0) {
                        *ret_created = false;
                        return fd;
                }
                if (errno != ENOENT)
                        return -errno;
                /* removed again meanwhile: make it after all */
        }
        return -EEXIST;
}

static void vfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                       mode_t mode, struct fuse_file_info *fi)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *dir = inode_of(req, parent);
        struct fuse_entry_param e;
        bool created = false;
        int fd, dfd, err;

        err = check_new_name(ctx, dir, name);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        dfd = inode_fd_get(dir);
        if (dfd < 0) {
                fuse_reply_err(req, -dfd);
                return;
        }
        /*
         * No directory lock: the record goes through the descriptor that
         * made the file, which no rename elsewhere can swap for another.
         */
        fd = create_file(dfd, name, fi->flags, mode, &created);
        if (created)
                record_creator(ctx, dir->folder, fd, S_IFREG);
        inode_fd_put(dir, dfd);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        err = do_lookup(ctx, dir, name, &e);
        if (err)
                goto out_close;
        if (created) {
                err = chown_new(ctx, inode_of(req, e.ino));
                if (err) {
                        forget_entry(ctx, e.ino);
                        goto out_close;
                }
                quota_add_entry(ctx->view, dir->folder, 0);
        }
        fi->fh = (uint64_t)fd;
        fi->keep_cache = 1;
        set_open_flags(fi);
        if (fuse_reply_create(req, &e, fi) < 0) {
                forget_entry(ctx, e.ino);
                close(fd);
        }
        return;
out_close:
        close(fd);
        fuse_reply_err(req, err);
}

/*
 * Each worker thread reads into a buffer of its own, kept for its next
 * read (max_read, 1 MiB, at most) and freed when the thread ends.
 */
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;

struct read_buf {
        size_t size;
        char data[];
};

static void read_buf_make_key(void)
{
        if (pthread_key_create(&read_buf_key, free) != 0)
                abort();
}

static char *read_buf(size_t size)
{
        struct read_buf *b;

        pthread_once(&read_buf_once, read_buf_make_key);
        b = pthread_getspecific(read_buf_key);
        if (b && b->size >= size)
                return b->data;
        free(b);
        pthread_setspecific(read_buf_key, NULL);
        b = malloc(sizeof(*b) + size);
        if (!b)
                return NULL;
        b->size = size;
        pthread_setspecific(read_buf_key, b);
        return b->data;
}

/*
 * A pread into the thread's buffer, then one write to /dev/fuse.  Not
 * libfuse's splice: measured slower at every request size here, and past
 * 1 MiB - 12 KiB its pipe cannot grow without CAP_SYS_RESOURCE, so each
 * 1 MiB read-ahead request fell back to a fresh 1 MiB malloc (cold 1 GiB
 * read 3.7-4.5 s; with this buffer 0.33-0.36 s, native 0.20-0.24 s).
 */
static void vfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
        struct inode *inode = inode_of(req, ino);
        int err = check(ctx_of(req), inode, VIEW_OP_READ);
        ssize_t n;
        char *buf;

        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        buf = read_buf(size);
        if (!buf) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        n = pread((int)fi->fh, buf, size, off);
        if (!__atomic_load_n(&inode->data_served, __ATOMIC_RELAXED))
                __atomic_store_n(&inode->data_served, true, __ATOMIC_RELAXED);
        if (n < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_buf(req, buf, (size_t)n);
}

/*
 * Write data, a page of a shared mapping written back (FUSE_WRITE_CACHE),
 * at off.  The kernel sends it through any writable open of the file, and
 * one opened with O_APPEND has a backing descriptor that would append it at
 * the end instead: RWF_NOAPPEND writes it where it belongs (without that
 * flag, before Linux 4.16: through a descriptor of its own).  Returns the
 * bytes written or a negative errno.
 */
static ssize_t write_page(int fd, const struct fuse_buf *data, off_t off)
{
        struct iovec iov = { data->mem, data->size };
        char path[PROC_FD_MAX];
        ssize_t n;
        int wfd;

        n = pwritev2(fd, &iov, 1, off, RWF_NOAPPEND);
        if (n >= 0 || (errno != EOPNOTSUPP && errno != EINVAL))
                return n < 0 ? -errno : n;
        proc_path(path, fd);
        wfd = open(path, O_WRONLY | O_CLOEXEC);
        if (wfd < 0)
                return -errno;
        n = pwrite(wfd, data->mem, data->size, off);
        if (n < 0)
                n = -errno;
        close(wfd);
        return n;
}

static void vfs_write_buf(fuse_req_t req, fuse_ino_t ino,
                          struct fuse_bufvec *in_buf, off_t off,
                          struct fuse_file_info *fi)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
        ssize_t res;
        int err;

        err = check(ctx, inode_of(req, ino), VIEW_OP_CHANGE);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
        out.buf[0].fd = (int)fi->fh;
        out.buf[0].pos = off;
        {
                struct quota_op q;

                bool append = (fi->flags & O_APPEND) && !fi->writepage;
                bool page = fi->writepage && in_buf->count == 1 &&
                            !(in_buf->buf[0].flags & FUSE_BUF_IS_FD);
                size_t n = fuse_buf_size(in_buf);

                err = quota_begin(ctx->view, inode_of(req, ino)->folder,
                                  (int)fi->fh, append ? (off_t)n : off + (off_t)n,
                                  append, &q);
                if (err) {
                        fuse_reply_err(req, err);
                        return;
                }
                res = page ? write_page((int)fi->fh, &in_buf->buf[0], off)
                           : fuse_buf_copy(&out, in_buf, 0);
                if (res == -ENOSPC) {
                        /* Files forgotten just now may still hold space. */
                        inode_table_settle(ctx->inodes);
                        in_buf->idx = 0;
                        in_buf->off = 0;
                        out.idx = 0;
                        out.off = 0;
                        res = page ? write_page((int)fi->fh, &in_buf->buf[0],
                                                off)
                                   : fuse_buf_copy(&out, in_buf, 0);
                }
                quota_end(&q, (int)fi->fh);
        }
        if (res < 0)
                fuse_reply_err(req, (int)-res);
        else
                fuse_reply_write(req, (size_t)res);
}

static void vfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        int fd;

        /* A close by a process releases its POSIX locks on the file. */
        locks_flush(inode, fi->lock_owner);
        if (!flush_needed(ctx, inode)) {
                fuse_reply_err(req, 0);
                return;
        }
        /* close() of a duplicate reports deferred write errors (NFS). */
        fd = dup((int)fi->fh);
        if (fd < 0) {
                fuse_reply_err(req, errno);
                return;
        }
        fuse_reply_err(req, close(fd) < 0 ? errno : 0);
}

static void vfs_release(fuse_req_t req, fuse_ino_t ino,
                        struct fuse_file_info *fi)
{
        locks_release(inode_of(req, ino), (int)fi->fh);
        close((int)fi->fh); /* and with it the open file's flock() lock */
        fuse_reply_err(req, 0);
}

static void vfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                      struct fuse_file_info *fi)
{
        int r;

        (void)ino;
        r = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
        fuse_reply_err(req, r < 0 ? errno : 0);
}

/* ------------------------------------------------------------------------
 * Directories.  OPENDIR is answered with ENOSYS, after which the kernel
 * sends no OPENDIR or RELEASEDIR for the rest of the connection (two round
 * trips saved per directory listed) and every READDIR comes without a
 * handle.  The listing state lives on the directory's inode instead, one
 * struct dir_state per directory under its own lock:
 *   - an ordinary directory is streamed with telldir cookies as offsets.
 *     One stream per inode is kept between requests, continued when a
 *     request starts where the last one stopped and moved with seekdir()
 *     otherwise, so readers at different offsets can share it.  It is
 *     closed when a listing reaches its end or the inode is forgotten, and
 *     counts against the inode table's descriptor budget: over it, each
 *     request opens a stream of its own and closes it.  The end of a
 *     listing is remembered with the directory's ctime, so the request the
 *     kernel sends after the last entry is answered without opening the
 *     directory again while nothing changed in it;
 *   - a view directory (the root, an alias's intermediate directory) is
 *     listed into a snapshot that merges its scratch entries (minus any
 *     that a folder hides) with its folder entries, rebuilt when a listing
 *     starts (offset 0) or the view changed.  Its offsets are derived from
 *     the names (a hash; the snapshot is sorted by it), so a listing that
 *     goes on in a newer snapshot still gets every entry that did not
 *     change exactly once.
 */
struct snap_entry {
        char *name;
        ino_t ino;
        off_t off;             /* name_offset(name) */
        unsigned char type;
        bool folder;           /* a folder's entry: listed without attributes */
};

struct dir_cursor {
        DIR *dp;
        off_t offset;          /* cookie of the next entry */
        struct dirent *entry;  /* read but not yet returned */
};

struct dir_state {
        pthread_mutex_t lock;
        struct inode_table *table; /* whose budget cur.dp counts against */
        struct dir_cursor cur; /* ordinary directory: the kept stream */
        off_t eof;             /* offset where the last listing ended, or 0 */
        struct timespec eof_ctime; /* the directory's ctime then */
        struct snap_entry *snap; /* view directory snapshot, or NULL */
        size_t n_snap;
        const struct view *snap_view; /* the view snap was built from */
};

static void snap_free(struct snap_entry *snap, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(snap[i].name);
        free(snap);
}

static void dir_stream_close(struct dir_state *d)
{
        if (!d->cur.dp)
                return;
        closedir(d->cur.dp);
        inode_table_return_fd(d->table);
        d->cur.dp = NULL;
        d->cur.entry = NULL;
}

static void dir_state_free(void *p)
{
        struct dir_state *d = p;

        if (!d)
                return;
        dir_stream_close(d);
        snap_free(d->snap, d->n_snap);
        pthread_mutex_destroy(&d->lock);
        free(d);
}

/* The listing state of dir, attached on first use; NULL: ENOMEM. */
static struct dir_state *dir_state_of(struct vfs_ctx *ctx, struct inode *dir)
{
        struct dir_state *d = __atomic_load_n(&dir->dir, __ATOMIC_ACQUIRE);
        struct dir_state *fresh;

        if (d)
                return d;
        fresh = calloc(1, sizeof(*fresh));
        if (!fresh)
                return NULL;
        pthread_mutex_init(&fresh->lock, NULL);
        fresh->table = ctx->inodes;
        d = inode_dir_attach(ctx->inodes, dir, fresh, dir_state_free);
        if (d != fresh)
                dir_state_free(fresh); /* another request attached first */
        return d;
}

static int open_dir_stream(const struct inode *inode, DIR **ret_dp)
{
        int ifd = inode_fd_get(inode);
        int fd, err;
        DIR *dp;

        if (ifd < 0)
                return -ifd;
        fd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        err = errno;
        inode_fd_put(inode, ifd);
        if (fd < 0)
                return err;
        dp = fdopendir(fd);
        if (!dp) {
                err = errno;
                close(fd);
                return err;
        }
        *ret_dp = dp;
        return 0;
}

/*
 * The offset of a view directory entry: "." and ".." first, then a 61-bit
 * FNV-1a hash of the name, never 0 (the start of a listing).
 */
static off_t name_offset(const char *name)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        if (strcmp(name, ".") == 0)
                return 1;
        if (strcmp(name, "..") == 0)
                return 2;
        for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
                h ^= *c;
                h *= 0x100000001b3ULL;
        }
        return (off_t)(h >> 3) + 3;
}

static int snap_cmp(const void *a, const void *b)
{
        const struct snap_entry *x = a, *y = b;

        if (x->off != y->off)
                return x->off < y->off ? -1 : 1;
        return strcmp(x->name, y->name);
}

static int snap_add(struct snap_entry **snap, size_t *n, size_t *cap,
                    const char *name, ino_t ino, unsigned char type,
                    bool folder)
{
        if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 64;
                struct snap_entry *s = realloc(*snap, ncap * sizeof(*s));

                if (!s)
                        return ENOMEM;
                *snap = s;
                *cap = ncap;
        }
        (*snap)[*n].name = strdup(name);
        if (!(*snap)[*n].name)
                return ENOMEM;
        (*snap)[*n].ino = ino;
        (*snap)[*n].off = name_offset(name);
        (*snap)[*n].type = type;
        (*snap)[*n].folder = folder;
        (*n)++;
        return 0;
}

/* Replace d's snapshot with a new one of view directory dir (node vnode). */
static int snapshot_view_dir(const struct view *v, struct dir_state *d,
                             const struct inode *dir, int vnode)
{
        struct snap_entry *snap = NULL;
        size_t n = 0, cap = 0;
        DIR *dp;
        int err = open_dir_stream(dir, &dp);

        if (err)
                return err;
        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(dp);
                if (!de) {
                        err = errno;
                        break;
                }
                if (!is_dot_or_dotdot(de->d_name)) {
                        int c = view_child(v, vnode, de->d_name);

                        if (c >= 0 && v->nodes[c].kind == VIEW_NODE_FOLDER)
                                continue; /* hidden by the folder */
                }
                err = snap_add(&snap, &n, &cap, de->d_name, de->d_ino,
                               de->d_type, false);
                if (err)
                        break;
        }
        closedir(dp);
        for (int c = v->nodes[vnode].first_child; !err && c >= 0;
             c = v->nodes[c].next_sibling) {
                const struct view_node *vn = &v->nodes[c];
                ino_t ino;

                if (vn->kind != VIEW_NODE_FOLDER)
                        continue; /* a real scratch dir, listed above */
                ino = v->folders[vn->folder].backing_ino;
                err = snap_add(&snap, &n, &cap, vn->name, ino ? ino : 1,
                               DT_DIR, true);
        }
        if (err) {
                snap_free(snap, n);
                return err;
        }
        qsort(snap, n, sizeof(*snap), snap_cmp);
        snap_free(d->snap, d->n_snap);
        d->snap = snap;
        d->n_snap = n;
        d->snap_view = v;
        return 0;
}

static void vfs_opendir(fuse_req_t req, fuse_ino_t ino,
                        struct fuse_file_info *fi)
{
        int err = check(ctx_of(req), inode_of(req, ino), VIEW_OP_READ);

        /*
         * A directory that may not be listed is still refused here while
         * the kernel asks; do_readdir() checks again in any case.
         */
        (void)fi;
        fuse_reply_err(req, err ? err : ENOSYS);
}

/*
 * do_lookup() of an entry just listed in dir (not a view directory) with
 * inode number d_ino: when the table knows that inode, one fstatat()
 * confirms the name still leads to it; when it does not, the entry is
 * opened without the fstatat() that do_lookup() would try first.
 */
static int lookup_listed(struct vfs_ctx *ctx, struct inode *dir,
                         const char *name, ino_t d_ino,
                         struct fuse_entry_param *e)
{
        struct inode *known;
        struct stat st;
        int pfd, fd, err;

        if (is_dot_or_dotdot(name) || bad_name(name))
                return do_lookup(ctx, dir, name, e);
        pfd = inode_fd_get(dir);
        if (pfd < 0)
                return -pfd;
        known = inode_table_find(ctx->inodes, dir->dev, d_ino, dir->folder);
        if (known) {
                if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    st.st_ino == d_ino && st.st_dev == dir->dev) {
                        inode_fd_put(dir, pfd);
                        fill_entry(ctx, known, &st, e);
                        return 0;
                }
                inode_table_forget(ctx->inodes, known, 1);
                err = lookup_at(ctx, dir, pfd, name, e);
                inode_fd_put(dir, pfd);
                return err;
        }
        fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                err = errno;
        else
                err = adopt(ctx, fd, dir->folder, -1, false, pfd, dir->dev,
                            e);
        inode_fd_put(dir, pfd);
        return err;
}

/*
 * Add one entry to buf; returns its size, or 0 when it did not fit (then
 * any lookup made for it is undone).  *err is set on lookup failure.  A
 * bare entry gets no lookup in a READDIRPLUS listing: the kernel then
 * looks it up by itself when it needs it.
 */
static size_t add_entry(fuse_req_t req, struct inode *dir, char *buf,
                        size_t rem, const char *name, ino_t d_ino,
                        unsigned char d_type, off_t nextoff, bool plus,
                        bool bare, int *err)
{
        struct vfs_ctx *ctx = ctx_of(req);
        size_t size;

        *err = 0;
        if (!plus || bare || is_dot_or_dotdot(name)) {
                struct stat st;

                memset(&st, 0, sizeof(st));
                st.st_ino = d_ino;
                st.st_mode = (mode_t)d_type << 12;
                if (!plus)
                        return fuse_add_direntry(req, buf, rem, name, &st,
                                                 nextoff);
                struct fuse_entry_param e;

                memset(&e, 0, sizeof(e));
                e.attr = st;
                return fuse_add_direntry_plus(req, buf, rem, name, &e,
                                              nextoff);
        }
        struct fuse_entry_param e;

        if (view_dir(dir) < 0)
                *err = lookup_listed(ctx, dir, name, d_ino, &e);
        else
                *err = do_lookup(ctx, dir, name, &e);
        if (*err == ENOENT)
                return 0; /* gone since it was listed: skipped */
        if (*err) {
                /*
                 * Listed but not looked up (a folder whose backing directory
                 * is missing, EMFILE, ...): list the name without attributes
                 * so that one bad entry does not fail the whole listing; a
                 * later lookup reports the error for that name alone.
                 */
                *err = 0;
                memset(&e, 0, sizeof(e));
                e.attr.st_ino = d_ino;
                e.attr.st_mode = (mode_t)d_type << 12;
                return fuse_add_direntry_plus(req, buf, rem, name, &e,
                                              nextoff);
        }
        size = fuse_add_direntry_plus(req, buf, rem, name, &e, nextoff);
        if (size > rem)
                forget_entry(ctx, e.ino);
        return size;
}

/* A listing of a view directory from offset on, out of its snapshot. */
static int list_view_dir(fuse_req_t req, struct inode *dir,
                         struct dir_state *d, int vnode, off_t offset,
                         bool plus, char **pp, size_t *rem)
{
        const struct view *v = ctx_of(req)->view;
        size_t lo = 0, hi;
        int err = 0;

        if (offset == 0 || d->snap_view != v) {
                err = snapshot_view_dir(v, d, dir, vnode);
                if (err)
                        return err;
        }
        /* The first entry past offset, in this snapshot or an older one. */
        hi = d->n_snap;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (d->snap[mid].off <= offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = lo; i < d->n_snap; i++) {
                const struct snap_entry *s = &d->snap[i];
                /*
                 * A folder's entry is listed bare: its attributes are its
                 * backing directory's, on its storage host, and a listing
                 * of the session root must not wait on every host (one
                 * stalled host would hold up `ls /home/work`).  The kernel
                 * looks a folder up when it needs more (`ls -l`), each
                 * lookup on that folder's own host (loop.h).
                 */
                size_t n = add_entry(req, dir, *pp, *rem, s->name, s->ino,
                                     s->type, s->off, plus, s->folder, &err);

                if (err == ENOENT) {
                        err = 0; /* vanished since the snapshot */
                        continue;
                }
                if (err || n > *rem)
                        break;
                *pp += n;
                *rem -= n;
        }
        return err;
}

/*
 * A listing of an ordinary directory from offset on, through cursor c.
 * *ret_last is the offset of the last entry returned (offset when none);
 * *ret_end is set when the directory's end was reached.
 */
static int list_dir(fuse_req_t req, struct inode *dir, struct dir_cursor *c,
                    off_t offset, bool plus, char **pp, size_t *rem,
                    off_t *ret_last, bool *ret_end)
{
        int err = 0;

        if (offset != c->offset) {
                seekdir(c->dp, offset);
                c->entry = NULL;
                c->offset = offset;
        }
        *ret_last = offset;
        for (;;) {
                size_t n;

                if (!c->entry) {
                        errno = 0;
                        c->entry = readdir(c->dp);
                        if (!c->entry) {
                                *ret_end = errno == 0;
                                return errno;
                        }
                }
                n = add_entry(req, dir, *pp, *rem, c->entry->d_name,
                              c->entry->d_ino, c->entry->d_type,
                              c->entry->d_off, plus, false, &err);
                if (err == ENOENT) {
                        err = 0; /* removed meanwhile: skip it */
                } else if (err || n > *rem) {
                        return err;
                } else {
                        *pp += n;
                        *rem -= n;
                        *ret_last = c->entry->d_off;
                }
                c->offset = c->entry->d_off;
                c->entry = NULL;
        }
}

/* Whether dir's ctime is t (false when it cannot be had). */
static bool ctime_is(const struct inode *dir, const struct timespec *t)
{
        struct stat st;
        int fd = inode_fd_get(dir);
        bool same;

        if (fd < 0)
                return false;
        same = fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ==
                       0 &&
               st.st_ctim.tv_sec == t->tv_sec &&
               st.st_ctim.tv_nsec == t->tv_nsec;
        inode_fd_put(dir, fd);
        return same;
}

/* Called with d locked. */
static int list_ordinary_dir(fuse_req_t req, struct inode *dir,
                             struct dir_state *d, off_t offset, bool plus,
                             char **pp, size_t *rem)
{
        struct dir_cursor own = { NULL, 0, NULL };
        struct dir_cursor *c = &d->cur;
        struct stat st;
        off_t last;
        bool end = false;
        int err;

        if (offset != 0 && offset == d->eof && ctime_is(dir, &d->eof_ctime))
                return 0; /* at the end, and nothing changed since */
        d->eof = 0;
        if (!c->dp) {
                err = open_dir_stream(dir, &own.dp);
                if (err)
                        return err;
                if (inode_table_take_fd(d->table)) {
                        d->cur = own;
                        own.dp = NULL;
                } else {
                        c = &own; /* over budget: for this request only */
                }
        }
        err = list_dir(req, dir, c, offset, plus, pp, rem, &last, &end);
        if (end) {
                /*
                 * The ctime read after the last entry: any later change
                 * to the directory gives it another one.
                 */
                if (fstat(dirfd(c->dp), &st) == 0) {
                        d->eof = last;
                        d->eof_ctime = st.st_ctim;
                }
                if (c == &d->cur)
                        dir_stream_close(d);
        }
        if (own.dp)
                closedir(own.dp);
        return err;
}

/*
 * Undo the lookups of a READDIRPLUS reply the kernel did not take (the
 * request was interrupted, loop.h): it counts none of them.
 */
static void forget_listed(struct vfs_ctx *ctx, const char *buf, size_t len)
{
        size_t off = 0;

        while (off + FUSE_NAME_OFFSET_DIRENTPLUS <= len) {
                const struct fuse_direntplus *dp =
                        (const struct fuse_direntplus *)(buf + off);

                forget_entry(ctx, dp->entry_out.nodeid);
                off += FUSE_DIRENTPLUS_SIZE(dp);
        }
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
                       off_t offset, bool plus)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *dir = inode_of(req, ino);
        struct dir_state *d;
        char *buf, *p;
        size_t rem = size;
        int vd, err = check(ctx, dir, VIEW_OP_READ);

        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        d = dir_state_of(ctx, dir);
        buf = malloc(size);
        if (!d || !buf) {
                free(buf);
                fuse_reply_err(req, ENOMEM);
                return;
        }
        p = buf;
        vd = view_dir(dir);
        pthread_mutex_lock(&d->lock);
        if (vd >= 0)
                err = list_view_dir(req, dir, d, vd, offset, plus, &p, &rem);
        else
                err = list_ordinary_dir(req, dir, d, offset, plus, &p, &rem);
        pthread_mutex_unlock(&d->lock);
        /* A partial listing is still an answer; report errors only alone. */
        if (err && p == buf)
                fuse_reply_err(req, err);
        else if (fuse_reply_buf(req, buf, (size_t)(p - buf)) < 0 && plus)
                forget_listed(ctx, buf, (size_t)(p - buf));
        free(buf);
}

static void vfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
                        off_t offset, struct fuse_file_info *fi)
{
        (void)fi; /* no handle: see vfs_opendir() */
        do_readdir(req, ino, size, offset, false);
}

static void vfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
                            off_t offset, struct fuse_file_info *fi)
{
        (void)fi;
        do_readdir(req, ino, size, offset, true);
}

/*
 * Never sent once OPENDIR was answered with ENOSYS; kept so that
 * VFOLDERFS_STATS would count one.
 */
static void vfs_releasedir(fuse_req_t req, fuse_ino_t ino,
                           struct fuse_file_info *fi)
{
        (void)ino;
        (void)fi;
        fuse_reply_err(req, 0);
}

static void vfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
                         struct fuse_file_info *fi)
{
        struct inode *inode = inode_of(req, ino);
        int ifd = inode_fd_get(inode);
        int fd, err = 0;

        (void)fi;
        if (ifd < 0) {
                fuse_reply_err(req, -ifd);
                return;
        }
        fd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                err = errno;
        inode_fd_put(inode, ifd);
        if (fd >= 0) {
                if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
                        err = errno;
                close(fd);
        }
        fuse_reply_err(req, err);
}

/* The root is no table record: its listing state goes here. */
static void vfs_destroy(void *userdata)
{
        struct vfs_ctx *ctx = userdata;

        dir_state_free(ctx->root.dir);
        ctx->root.dir = NULL;
}

static void vfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
        struct inode *inode = inode_of(req, ino);
        struct statvfs sv;
        int fd = inode_fd_get(inode);
        int err = 0;

        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        if (fstatvfs(fd, &sv) < 0)
                err = errno;
        else
                quota_statfs(ctx_of(req)->view, inode->folder, &sv);
        inode_fd_put(inode, fd);
        if (err)
                fuse_reply_err(req, err);
        else
                fuse_reply_statfs(req, &sv);
}

/* ------------------------------------------------------------------------
 * Extended attributes.  O_PATH descriptors refuse f*xattr(), so regular
 * files and directories are reached through /proc/self/fd/N (the magic
 * link lands on the inode itself).  Symlinks have no race-free path: they
 * report no attributes and refuse changes.  Only the "user." namespace may
 * be written (others get EOPNOTSUPP, which copying tools take as "not
 * supported here" and skip): trusted., security. and system. would act on
 * the storage host with the daemon's privileges.  vfolderfs's own names
 * (the creator record, cat_xattr_name_reserved()) are never read, listed,
 * set or removed for a session: absent to read, EPERM to change.
 */
static bool xattr_name_writable(const char *name)
{
        return strncmp(name, "user.", 5) == 0;
}

static void vfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                         const char *value, size_t size, int flags)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        char path[PROC_FD_MAX];
        int err, fd;

        err = check(ctx, inode, VIEW_OP_CHANGE);
        if (!err && S_ISLNK(inode->type))
                err = EPERM; /* as the kernel says for user.* on symlinks */
        else if (!err && cat_xattr_name_reserved(name))
                err = EPERM; /* the creator record is never the session's */
        else if (!err && !xattr_name_writable(name))
                err = EOPNOTSUPP;
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        fd = inode_fd_get(inode);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        proc_path(path, fd);
        err = setxattr(path, name, value, size, flags) < 0 ? errno : 0;
        inode_fd_put(inode, fd);
        fuse_reply_err(req, err);
}

/*
 * Names a listing shows: not trusted.* (kept by the storage host for
 * itself, e.g. Lustre's trusted.lov, and hidden by the kernel from
 * unprivileged callers of local file systems), not vfolderfs's own
 * (cat_xattr_name_reserved(): the creator record, also as user.*) and not
 * security.capability (reported absent, see vfs_getxattr()).
 */
static bool xattr_name_listed(const char *name)
{
        return strncmp(name, "trusted.", 8) != 0 &&
               !cat_xattr_name_reserved(name) &&
               strcmp(name, "security.capability") != 0;
}

/*
 * Reply to LISTXATTR for path (a /proc/self/fd link) with the names
 * xattr_name_listed() keeps; size 0 asks for the size only.
 */
static void reply_xattr_list(fuse_req_t req, const char *path, size_t size)
{
        char *all = NULL, *p, *q;
        ssize_t n;
        int err = 0;

        for (int tries = 0; tries < 4; tries++) {
                n = listxattr(path, NULL, 0);
                if (n <= 0)
                        break;
                free(all);
                all = malloc((size_t)n);
                if (!all) {
                        err = ENOMEM;
                        break;
                }
                n = listxattr(path, all, (size_t)n);
                if (n >= 0 || errno != ERANGE)
                        break;
        }
        if (!err && n < 0)
                err = errno;
        if (err) {
                free(all);
                fuse_reply_err(req, err);
                return;
        }
        /* Keep the listed names, in place. */
        q = all;
        for (p = all; n > 0 && p < all + n;) {
                size_t len = strnlen(p, (size_t)(all + n - p)) + 1;

                if (xattr_name_listed(p)) {
                        memmove(q, p, len);
                        q += len;
                }
                p += len;
        }
        n = all ? q - all : 0;
        if (!size)
                fuse_reply_xattr(req, (size_t)n);
        else if ((size_t)n > size)
                fuse_reply_err(req, ERANGE);
        else
                fuse_reply_buf(req, all, (size_t)n);
        free(all);
}

/*
 * Shared by getxattr and listxattr: name NULL lists.  A size of 0 asks
 * for the size only.
 */
static void do_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                        size_t size)
{
        struct inode *inode = inode_of(req, ino);
        char path[PROC_FD_MAX];
        char *buf = NULL;
        ssize_t n;
        int fd;

        if (S_ISLNK(inode->type)) {
                if (name)
                        fuse_reply_err(req, ENODATA);
                else if (size)
                        fuse_reply_buf(req, NULL, 0);
                else
                        fuse_reply_xattr(req, 0);
                return;
        }
        if (size && name) {
                buf = malloc(size);
                if (!buf) {
                        fuse_reply_err(req, ENOMEM);
                        return;
                }
        }
        fd = inode_fd_get(inode);
        if (fd < 0) {
                free(buf);
                fuse_reply_err(req, -fd);
                return;
        }
        proc_path(path, fd);
        if (!name) {
                reply_xattr_list(req, path, size);
                inode_fd_put(inode, fd);
                return;
        }
        n = name ? getxattr(path, name, buf, size)
                 : listxattr(path, buf, size);
        if (n < 0)
                n = -errno;
        inode_fd_put(inode, fd);
        if (n < 0)
                fuse_reply_err(req, (int)-n);
        else if (size)
                fuse_reply_buf(req, buf, (size_t)n);
        else
                fuse_reply_xattr(req, (size_t)n);
        free(buf);
}

static void vfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                         size_t size)
{
        /*
         * The kernel asks this before writes, truncates and chowns.  File
         * capabilities grant nothing on this nosuid mount and cannot be set
         * through it: report none at once, without a system call.
         */
        if (strcmp(name, "security.capability") == 0) {
                fuse_reply_err(req, ENODATA);
                return;
        }
        /*
         * Nor is anything of the storage host's own namespace (trusted.*,
         * readable only with the daemon's privilege) or vfolderfs's record
         * of who created the entry (also kept as user.*): absent, as an
         * unprivileged caller of a local file system finds trusted.*.
         */
        if (strncmp(name, "trusted.", 8) == 0 ||
            cat_xattr_name_reserved(name)) {
                fuse_reply_err(req, ENODATA);
                return;
        }
        do_getxattr(req, ino, name, size);
}

static void vfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
        do_getxattr(req, ino, NULL, size);
}

static void vfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        char path[PROC_FD_MAX];
        int err, fd, own = 0;

        err = check(ctx, inode, VIEW_OP_CHANGE);
        if (!err && S_ISLNK(inode->type))
                err = EPERM;
        else if (!err && cat_xattr_name_reserved(name))
                err = EPERM;
        else if (!err && !xattr_name_writable(name))
                err = EOPNOTSUPP;
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        fd = inode_fd_get(inode);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        /* rw: only on an entry the user created (its inode's record) */
        if (view_asks_creator(ctx->view, inode->folder))
                own = cat_creator_is(fd, NULL, ctx->user_id);
        err = own < 0 ? -own
                      : view_check_entry(ctx->view, inode->folder,
                                         VIEW_OP_REMOVE, own == 1);
        if (!err) {
                proc_path(path, fd);
                err = removexattr(path, name) < 0 ? errno : 0;
        }
        inode_fd_put(inode, fd);
        fuse_reply_err(req, err);
}

/*
 * With default_permissions the kernel answers access(2) itself; this is
 * the same check for mounts without it: the mode bits against the
 * presented owner, and the folder's permission for W_OK.
 */
static void vfs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        const struct fuse_ctx *caller = fuse_req_ctx(req);
        struct stat st;
        mode_t bits;
        int err;

        err = stat_inode(ctx, inode, &st);
        if (!err && (mask & W_OK))
                err = check(ctx, inode, VIEW_OP_CHANGE);
        if (err || mask == F_OK) {
                fuse_reply_err(req, err);
                return;
        }
        if (caller->uid == 0) {
                /* root: x needs some x bit on non-directories */
                bool ok = !(mask & X_OK) || S_ISDIR(st.st_mode) ||
                          (st.st_mode & 0111);

                fuse_reply_err(req, ok ? 0 : EACCES);
                return;
        }
        if (caller->uid == st.st_uid)
                bits = (st.st_mode >> 6) & 7;
        else if (caller->gid == st.st_gid)
                bits = (st.st_mode >> 3) & 7;
        else
                bits = st.st_mode & 7;
        fuse_reply_err(req, ((mode_t)mask & ~bits & 7) ? EACCES : 0);
}

static void vfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
                          off_t offset, off_t length,
                          struct fuse_file_info *fi)
{
        const struct view *view = ctx_of(req)->view;
        int folder = inode_of(req, ino)->folder;
        int err = check(ctx_of(req), inode_of(req, ino), VIEW_OP_CHANGE);
        struct quota_op q = { 0 };

        /*
         * In a folder with a quota, blocks past the end of the file would be
         * stored without counting: only size-changing allocation, or
         * keep-size modes within the file (punching holes), are done.
         */
        if (!err && quota_enabled(view, folder) &&
            (mode & FALLOC_FL_KEEP_SIZE)) {
                struct stat st;

                if (fstat((int)fi->fh, &st) < 0)
                        err = errno;
                else if (offset + length > st.st_size)
                        err = EOPNOTSUPP;
        } else if (!err) {
                /* inserting a range grows the file by length */
                bool insert = mode & FALLOC_FL_INSERT_RANGE;

                err = quota_begin(view, folder, (int)fi->fh,
                                  insert ? length : offset + length, insert,
                                  &q);
        }
        if (!err && fallocate((int)fi->fh, mode, offset, length) < 0)
                err = errno;
        quota_end(&q, (int)fi->fh);
        fuse_reply_err(req, err);
}

static void vfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
                                off_t off_in, struct fuse_file_info *fi_in,
                                fuse_ino_t ino_out, off_t off_out,
                                struct fuse_file_info *fi_out, size_t len,
                                int flags)
{
        ssize_t n;
        int err;

        (void)ino_in;
        /*
         * Both descriptors were opened (and permission-checked) through the
         * daemon; copying data between folders breaks no containment.
         */
        err = check(ctx_of(req), inode_of(req, ino_out), VIEW_OP_CHANGE);
        if (err) {
                fuse_reply_err(req, err);
                return;
        }
        {
                const struct view *view = ctx_of(req)->view;
                struct quota_op q;
                struct stat st;
                off_t end = off_out;

                /* no further than the input has bytes */
                if (fstat((int)fi_in->fh, &st) < 0)
                        st.st_size = INT64_MAX - off_out;
                if (off_in < st.st_size)
                        end += (uint64_t)(st.st_size - off_in) < len ?
                               st.st_size - off_in : (off_t)len;
                err = quota_begin(view, inode_of(req, ino_out)->folder,
                                  (int)fi_out->fh, end, false, &q);
                if (err) {
                        fuse_reply_err(req, err);
                        return;
                }
                n = copy_file_range((int)fi_in->fh, &off_in, (int)fi_out->fh,
                                    &off_out, len, (unsigned)flags);
                if (n < 0)
                        err = errno;
                quota_end(&q, (int)fi_out->fh);
                errno = err;
        }
        if (n < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_write(req, (size_t)n);
}

/*
 * Locks (locks.h).  They need no write permission: a read lock in a
 * read-only folder is fine, and the kernel itself refuses a write lock on
 * a descriptor not open for writing.  In a folder that is gone, taking or
 * testing a lock fails with EIO as every operation does; releasing one
 * still works.
 */
static void vfs_getlk(fuse_req_t req, fuse_ino_t ino,
                      struct fuse_file_info *fi, struct flock *lock)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        int err = check(ctx, inode, VIEW_OP_READ);

        if (err)
                fuse_reply_err(req, err);
        else
                locks_getlk(ctx->locks, req, inode, fi, lock);
}

static void vfs_setlk(fuse_req_t req, fuse_ino_t ino,
                      struct fuse_file_info *fi, struct flock *lock,
                      int sleep)
{
        struct vfs_ctx *ctx = ctx_of(req);
        struct inode *inode = inode_of(req, ino);
        int err = lock->l_type == F_UNLCK ? 0
                                          : check(ctx, inode, VIEW_OP_READ);

        if (err)
                fuse_reply_err(req, err);
        else
                locks_setlk(ctx->locks, req, ino, inode, fi, lock, sleep);
}

static void vfs_flock(fuse_req_t req, fuse_ino_t ino,
                      struct fuse_file_info *fi, int op)
{
        struct vfs_ctx *ctx = ctx_of(req);
        int err = (op & LOCK_UN) ? 0
                                 : check(ctx, inode_of(req, ino),
                                         VIEW_OP_READ);

        if (err)
                fuse_reply_err(req, err);
        else
                locks_flock(ctx->locks, req, ino, fi, op);
}

static void vfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                      struct fuse_file_info *fi)
{
        off_t r;

        (void)ino;
        r = lseek((int)fi->fh, off, whence);
        if (r < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_lseek(req, r);
}

/* ------------------------------------------------------------------------
 * The session loop's questions (loop.h).
 */
int vfs_request_queue(void *arg, const void *mem, size_t size)
{
        struct vfs_ctx *ctx = arg;
        const struct fuse_in_header *in = mem;
        const struct view_folder *f;
        const struct view *v;
        struct inode *inode;
        int folder, queue = VFS_QUEUE_SCRATCH;
        bool lock;

        switch (in->opcode) {
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
        case FUSE_INTERRUPT:
        case FUSE_INIT:
        case FUSE_DESTROY:
        case FUSE_NOTIFY_REPLY:
                return VFS_QUEUE_INLINE;
        default:
                break;
        }
        /*
         * Lock requests queue apart from the rest of their host: a granted
         * lock drops the kernel's cached pages and names of the file
         * (locks.c), which can wait for reads and creates of that host; they
         * must never be stuck behind lock requests holding all its slots.
         */
        lock = in->opcode == FUSE_GETLK || in->opcode == FUSE_SETLK ||
               in->opcode == FUSE_SETLKW;
        if (lock)
                queue = VFS_QUEUE_LOCKS;
        if (in->nodeid == 0)
                return queue;
        /*
         * The kernel sends only node ids it holds a lookup of, and holds it
         * until this request is answered: the record stays.
         */
        inode = in->nodeid == FUSE_ROOT_ID ? &ctx->root
                                           : (struct inode *)(uintptr_t)
                                                     in->nodeid;
        folder = inode->folder;
        if (epoch_enter() < 0)
                return queue;
        v = ctx->view;
        if (in->opcode == FUSE_LOOKUP && size > sizeof(*in)) {
                const char *name = (const char *)(in + 1);
                size_t max = size - sizeof(*in);
                int vd = view_dir(inode);

                if (strnlen(name, max) == max) {
                        /* no name: libfuse answers it */
                } else if (vd >= 0 && !is_dot_or_dotdot(name)) {
                        /* A folder's name opens its backing directory. */
                        int node = view_child(v, vd, name);

                        if (node < 0 && vd == VIEW_ROOT)
                                node = view_hidden(v, name);
                        if (node >= 0 &&
                            v->nodes[node].kind == VIEW_NODE_FOLDER)
                                folder = v->nodes[node].folder;
                } else if (inode->folder_root && strcmp(name, "..") == 0) {
                        folder = VIEW_SCRATCH; /* a view directory */
                }
        }
        f = view_folder(v, folder);
        if (f)
                queue = VFS_QUEUE_HOSTS + 2 * f->host + (lock ? 1 : 0);
        epoch_leave();
        return queue;
}

void vfs_request_hold(void *arg, uint64_t nodeid)
{
        struct vfs_ctx *ctx = arg;

        if (nodeid != FUSE_ROOT_ID && nodeid != 0)
                inode_table_ref(ctx->inodes,
                                (struct inode *)(uintptr_t)nodeid, 1);
}

void vfs_request_release(void *arg, uint64_t nodeid)
{
        forget_entry(arg, nodeid);
}

const struct fuse_lowlevel_ops vfs_ops = {
        .init = vfs_init,
        .lookup = vfs_lookup,
        .forget = vfs_forget,
        .forget_multi = vfs_forget_multi,
        .getattr = vfs_getattr,
        .setattr = vfs_setattr,
        .readlink = vfs_readlink,
        .mknod = vfs_mknod,
        .mkdir = vfs_mkdir,
        .unlink = vfs_unlink,
        .rmdir = vfs_rmdir,
        .symlink = vfs_symlink,
        .rename = vfs_rename,
        .link = vfs_link,
        .open = vfs_open,
        .read = vfs_read,
        .write_buf = vfs_write_buf,
        .flush = vfs_flush,
        .release = vfs_release,
        .fsync = vfs_fsync,
        .opendir = vfs_opendir,
        .readdir = vfs_readdir,
        .readdirplus = vfs_readdirplus,
        .releasedir = vfs_releasedir,
        .fsyncdir = vfs_fsyncdir,
        .destroy = vfs_destroy,
        .statfs = vfs_statfs,
        .setxattr = vfs_setxattr,
        .getxattr = vfs_getxattr,
        .listxattr = vfs_listxattr,
        .removexattr = vfs_removexattr,
        .access = vfs_access,
        .create = vfs_create,
        .fallocate = vfs_fallocate,
        .copy_file_range = vfs_copy_file_range,
        .lseek = vfs_lseek,
        .getlk = vfs_getlk,
        .setlk = vfs_setlk,
        .flock = vfs_flock,
};
