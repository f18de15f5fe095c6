/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * view.c - builds the session view (folder nodes at their targets under the
 * mount root, intermediate scratch directories for relative aliases) and
 * answers the permission table of SPEC section 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "view.h"

static size_t name_hash(int parent, const char *name)
{
        /* FNV-1a over the parent index and the name */
        uint64_t h = 1469598103934665603ULL;

        h = (h ^ (uint64_t)(unsigned)parent) * 1099511628211ULL;
        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return (size_t)(h ^ (h >> 29));
}

int view_child(const struct view *view, int parent, const char *name)
{
        size_t b = name_hash(parent, name) & (view->n_buckets - 1);

        for (int i = view->buckets[b]; i >= 0; i = view->hnext[i]) {
                const struct view_node *node = &view->nodes[i];

                if (node->parent == parent && strcmp(node->name, name) == 0)
                        return i;
        }
        return -1;
}

int view_hidden(const struct view *view, const char *name)
{
        size_t plen = strlen(VIEW_TARGET_PREFIX);
        unsigned long i = 0;
        const char *p;

        if (strncmp(name, VIEW_TARGET_PREFIX, plen) != 0)
                return -1;
        p = name + plen;
        if (*p < '0' || *p > '9' || (*p == '0' && p[1] != '\0'))
                return -1;
        for (; *p; p++) {
                if (*p < '0' || *p > '9' || i >= view->n_folders)
                        return -1;
                i = i * 10 + (unsigned long)(*p - '0');
        }
        if (i >= view->n_folders)
                return -1;
        return view->folders[i].hidden_node;
}

const struct view_folder *view_folder(const struct view *view, int folder)
{
        if (folder < 0 || (size_t)folder >= view->n_folders)
                return NULL;
        return &view->folders[folder];
}

static enum cat_op cat_op_of(enum view_op op)
{
        switch (op) {
        case VIEW_OP_READ:
                return CAT_OP_READ;
        case VIEW_OP_CHANGE:
                return CAT_OP_CHANGE;
        case VIEW_OP_REMOVE:
                break;
        }
        return CAT_OP_REMOVE;
}

int view_check_entry(const struct view *view, int folder, enum view_op op,
                     bool own)
{
        const struct view_folder *f = view_folder(view, folder);

        if (folder == VIEW_SCRATCH)
                return 0;
        if (!f)
                return op == VIEW_OP_READ ? 0 : EIO;
        if (f->gone)
                return EIO;
        return -cat_perm_check(f->perm, cat_op_of(op), own,
                               view->rw_can_delete);
}

int view_check_permission(const struct view *view, int folder,
                          enum view_op op)
{
        return view_check_entry(view, folder, op, false);
}

bool view_asks_creator(const struct view *view, int folder)
{
        const struct view_folder *f = view_folder(view, folder);

        return f && !f->gone &&
               cat_perm_asks_creator(f->perm, CAT_OP_REMOVE,
                                     view->rw_can_delete);
}

/* Set *reterr (when wanted) and return -err. */
__attribute__((format(printf, 3, 4)))
static int set_err(char **reterr, int err, const char *fmt, ...)
{
        va_list ap;

        if (reterr) {
                char *s = NULL;

                va_start(ap, fmt);
                if (vasprintf(&s, fmt, ap) < 0)
                        s = NULL;
                va_end(ap);
                *reterr = s;
        }
        return -err;
}

static int view_child_len(const struct view *view, int parent,
                          const char *name, size_t len)
{
        char buf[len + 1];

        memcpy(buf, name, len);
        buf[len] = '\0';
        return view_child(view, parent, buf);
}

static int hash_grow(struct view *view, size_t nb)
{
        int *buckets = malloc(nb * sizeof(int));

        if (!buckets)
                return -ENOMEM;
        for (size_t i = 0; i < nb; i++)
                buckets[i] = -1;
        for (size_t i = 1; i < view->n_nodes; i++) {
                const struct view_node *node = &view->nodes[i];
                size_t b = name_hash(node->parent, node->name) & (nb - 1);

                if (node->hidden || node->gone)
                        continue;
                view->hnext[i] = buckets[b];
                buckets[b] = (int)i;
        }
        free(view->buckets);
        view->buckets = buckets;
        view->n_buckets = nb;
        return 0;
}

/*
 * Append a node, link it under its parent and into the name hash; returns
 * its index or -ENOMEM.
 */
static int node_add(struct view *view, size_t *cap, const char *name,
                    size_t len, enum view_node_kind kind, int parent)
{
        struct view_node *node;
        int idx;

        if (view->n_nodes == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                struct view_node *n = realloc(view->nodes, ncap * sizeof(*n));
                int *h;

                if (!n)
                        return -ENOMEM;
                view->nodes = n;
                h = realloc(view->hnext, ncap * sizeof(*h));
                if (!h)
                        return -ENOMEM;
                view->hnext = h;
                *cap = ncap;
        }
        node = &view->nodes[view->n_nodes];
        memset(node, 0, sizeof(*node));
        node->name = strndup(name, len);
        if (!node->name)
                return -ENOMEM;
        node->kind = kind;
        node->parent = parent;
        node->first_child = -1;
        node->next_sibling = -1;
        node->folder = -1;
        idx = (int)view->n_nodes++;
        view->hnext[idx] = -1;
        if (parent < 0)
                return idx;
        node->next_sibling = view->nodes[parent].first_child;
        view->nodes[parent].first_child = idx;
        if (view->n_nodes * 2 > view->n_buckets) {
                int r = hash_grow(view, view->n_buckets ?
                                        view->n_buckets * 4 : 64);

                if (r < 0)
                        return r;
        } else {
                size_t b = name_hash(parent, node->name) &
                           (view->n_buckets - 1);

                view->hnext[idx] = view->buckets[b];
                view->buckets[b] = idx;
        }
        return idx;
}

/*
 * Create (or reuse) the scratch directory for an intermediate node, never
 * following a symlink, and record its identity.
 */
static int make_scratch_dir(int parent_fd, const char *name, uid_t uid,
                            gid_t gid, int *ret_fd, struct stat *ret_st)
{
        int fd;

        if (mkdirat(parent_fd, name, 0755) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(parent_fd, name,
                    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (uid != (uid_t)-1 &&
            fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        if (fstat(fd, ret_st) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/*
 * Lay out one folder whose target is inside CAT_HOME: walk the relative
 * path, creating directory nodes for every component but the last.
 */
static int place_folder(struct view *view, size_t *cap, int scratch_fd,
                        size_t folder, uid_t uid, gid_t gid, char **reterr)
{
        const char *target = view->folders[folder].target;
        const char *rel = target + strlen(CAT_HOME);
        int parent = VIEW_ROOT;
        int parent_fd = scratch_fd;
        int r = 0;

        while (*rel == '/')
                rel++;
        for (;;) {
                const char *slash = strchr(rel, '/');
                size_t len = slash ? (size_t)(slash - rel) : strlen(rel);
                int idx;

                if (len == 0) {
                        r = set_err(reterr, EINVAL, "bad target '%s'",
                                    target);
                        break;
                }
                idx = view_child_len(view, parent, rel, len);
                if (!slash) {
                        if (idx >= 0) {
                                r = set_err(reterr, EINVAL,
                                            "target '%s' is used twice",
                                            target);
                                break;
                        }
                        idx = node_add(view, cap, rel, len, VIEW_NODE_FOLDER,
                                       parent);
                        if (idx < 0) {
                                r = idx;
                                break;
                        }
                        view->nodes[idx].folder = (int)folder;
                        view->folders[folder].node = idx;
                        break;
                }
                if (idx >= 0 && view->nodes[idx].kind != VIEW_NODE_DIR) {
                        r = set_err(reterr, EINVAL,
                                    "target '%s' is nested in another folder",
                                    target);
                        break;
                }
                {
                        char name[len + 1];
                        struct stat st;
                        int fd = -1;

                        memcpy(name, rel, len);
                        name[len] = '\0';
                        r = make_scratch_dir(parent_fd, name, uid, gid, &fd,
                                             &st);
                        if (r < 0) {
                                set_err(reterr, -r,
                                        "cannot create scratch directory '%s': %s",
                                        name, strerror(-r));
                                break;
                        }
                        if (parent_fd != scratch_fd)
                                close(parent_fd);
                        parent_fd = fd;
                        if (idx < 0) {
                                idx = node_add(view, cap, rel, len,
                                               VIEW_NODE_DIR, parent);
                                if (idx < 0) {
                                        r = idx;
                                        break;
                                }
                                view->nodes[idx].dev = st.st_dev;
                                view->nodes[idx].ino = st.st_ino;
                        }
                }
                parent = idx;
                rel = slash + 1;
        }
        if (parent_fd != scratch_fd)
                close(parent_fd);
        return r;
}

/*
 * Give folder its node: at its target under the root, or a hidden node for
 * a target outside the mount.
 */
static int add_folder_node(struct view *view, size_t *cap, int scratch_fd,
                           size_t folder, uid_t uid, gid_t gid, char **reterr)
{
        struct view_folder *f = &view->folders[folder];

        if (!cat_target_in_home(f->target)) {
                char name[sizeof(VIEW_TARGET_PREFIX) + 24];
                int len = snprintf(name, sizeof(name), "%s%zu",
                                   VIEW_TARGET_PREFIX, folder);
                int r;

                /* parent -1: linked in no list and no hash */
                r = node_add(view, cap, name, (size_t)len, VIEW_NODE_FOLDER,
                             -1);
                if (r < 0)
                        return r;
                view->nodes[r].parent = VIEW_ROOT;
                view->nodes[r].hidden = true;
                view->nodes[r].folder = (int)folder;
                f->hidden_node = r;
                return 0;
        }
        return place_folder(view, cap, scratch_fd, folder, uid, gid, reterr);
}

bool view_close_reports(const char *path, int fd)
{
        static const unsigned long local[] = {
                0xEF53,     /* ext2, ext3, ext4 */
                0x58465342, /* XFS */
                0x9123683E, /* Btrfs */
                0x01021994, /* tmpfs */
                0xF2F52010, /* F2FS */
        };
        struct statfs sf;

        if ((path ? statfs(path, &sf) : fstatfs(fd, &sf)) < 0)
                return true;
        for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
                if ((unsigned long)sf.f_type == local[i])
                        return false;
        return true;
}

/* The index of host name in view->hosts, appended when new; or -ENOMEM. */
static int host_index(struct view *view, const char *name)
{
        char **hosts, *copy;

        if (!name)
                name = "";
        for (size_t i = 0; i < view->n_hosts; i++)
                if (strcmp(view->hosts[i], name) == 0)
                        return (int)i;
        copy = strdup(name);
        hosts = copy ? realloc(view->hosts, (view->n_hosts + 1) *
                                                    sizeof(*hosts))
                     : NULL;
        if (!hosts) {
                free(copy);
                return -ENOMEM;
        }
        view->hosts = hosts;
        hosts[view->n_hosts] = copy;
        return (int)view->n_hosts++;
}

/*
 * Fill folder f (zeroed) from mount m: names, storage host (its index in
 * view->hosts), permission, quota, and the identity of its backing
 * directory (stat'ed once, here).  Returns 0 or -ENOMEM; what was copied is
 * freed with the view.
 */
static int folder_from_mount(struct view *view, struct view_folder *f,
                             const struct cat_mount *m)
{
        struct stat bst;

        f->host = host_index(view, m->host);
        if (f->host < 0)
                return f->host;
        f->node = -1;
        f->hidden_node = -1;
        memcpy(f->folder_id, m->folder_id, sizeof(f->folder_id));
        f->name = strdup(m->folder_name);
        f->target = strdup(m->target);
        f->backing_path = strdup(m->backing_path ? m->backing_path : "");
        if (!f->name || !f->target || !f->backing_path)
                return -ENOMEM;
        f->perm = m->permission;
        f->quota_bytes = m->quota_bytes;
        if (stat(f->backing_path, &bst) < 0)
                f->backing_errno = errno;
        else if (!S_ISDIR(bst.st_mode))
                f->backing_errno = ENOTDIR;
        else
                f->backing_ino = bst.st_ino;
        f->close_reports = view_close_reports(f->backing_path, -1);
        return 0;
}

int view_build(const struct cat_mount *mounts, size_t n, int scratch_fd,
               bool rw_can_delete, uid_t chown_uid, gid_t chown_gid,
               struct view **ret_view, char **reterr)
{
        struct view *view;
        struct stat st;
        size_t cap = 0;
        int r;

        view = calloc(1, sizeof(*view));
        if (!view)
                return -ENOMEM;
        view->rw_can_delete = rw_can_delete;
        view->folders = calloc(n ? n : 1, sizeof(*view->folders));
        if (!view->folders) {
                r = -ENOMEM;
                goto fail;
        }
        if (fstat(scratch_fd, &st) < 0) {
                r = set_err(reterr, errno, "cannot stat scratch: %s",
                            strerror(errno));
                goto fail;
        }
        r = node_add(view, &cap, "", 0, VIEW_NODE_DIR, -1);
        if (r < 0)
                goto fail;
        view->nodes[VIEW_ROOT].dev = st.st_dev;
        view->nodes[VIEW_ROOT].ino = st.st_ino;
        r = hash_grow(view, 64);
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < n; i++) {
                struct view_folder *f = &view->folders[i];

                view->n_folders = i + 1;
                r = folder_from_mount(view, f, &mounts[i]);
                if (r < 0)
                        goto fail;
                r = add_folder_node(view, &cap, scratch_fd, i, chown_uid,
                                    chown_gid, reterr);
                if (r < 0)
                        goto fail;
        }
        *ret_view = view;
        return 0;
fail:
        view_free(view);
        return r;
}

void view_free(struct view *view)
{
        if (!view)
                return;
        for (size_t i = 0; i < view->n_folders; i++) {
                free(view->folders[i].name);
                free(view->folders[i].target);
                free(view->folders[i].backing_path);
        }
        free(view->folders);
        for (size_t i = 0; i < view->n_hosts; i++)
                free(view->hosts[i]);
        free(view->hosts);
        for (size_t i = 0; i < view->n_nodes; i++)
                free(view->nodes[i].name);
        free(view->nodes);
        free(view->buckets);
        free(view->hnext);
        free(view);
}

/* Copy old's folders and nodes (strings duplicated) into a new view. */
static int view_copy(const struct view *old, size_t extra_folders,
                     struct view **ret_view, size_t *ret_cap)
{
        struct view *view = calloc(1, sizeof(*view));
        size_t cap = old->n_nodes;

        if (!view)
                return -ENOMEM;
        view->rw_can_delete = old->rw_can_delete;
        view->scratch_quota_bytes = old->scratch_quota_bytes;
        view->scratch_quota = old->scratch_quota;
        view->folders = calloc(old->n_folders + extra_folders + 1,
                               sizeof(*view->folders));
        view->nodes = calloc(cap, sizeof(*view->nodes));
        view->hnext = calloc(cap, sizeof(*view->hnext));
        if (!view->folders || !view->nodes || !view->hnext)
                goto fail;
        for (size_t i = 0; i < old->n_folders; i++) {
                struct view_folder *f = &view->folders[i];

                *f = old->folders[i];
                f->name = strdup(old->folders[i].name);
                f->target = strdup(old->folders[i].target);
                f->backing_path = strdup(old->folders[i].backing_path);
                view->n_folders = i + 1;
                if (!f->name || !f->target || !f->backing_path)
                        goto fail;
        }
        if (old->n_hosts) {
                view->hosts = calloc(old->n_hosts, sizeof(*view->hosts));
                if (!view->hosts)
                        goto fail;
        }
        for (size_t i = 0; i < old->n_hosts; i++) {
                view->hosts[i] = strdup(old->hosts[i]);
                if (!view->hosts[i])
                        goto fail;
                view->n_hosts = i + 1;
        }
        for (size_t i = 0; i < old->n_nodes; i++) {
                view->nodes[i] = old->nodes[i];
                view->nodes[i].name = strdup(old->nodes[i].name);
                view->n_nodes = i + 1;
                if (!view->nodes[i].name)
                        goto fail;
        }
        *ret_view = view;
        *ret_cap = cap;
        return 0;
fail:
        view_free(view);
        return -ENOMEM;
}

/* Rebuild child lists and the name hash without detached nodes. */
static int relink(struct view *view)
{
        for (size_t i = 0; i < view->n_nodes; i++) {
                view->nodes[i].first_child = -1;
                view->nodes[i].next_sibling = -1;
        }
        for (size_t i = 1; i < view->n_nodes; i++) {
                struct view_node *node = &view->nodes[i];

                if (node->hidden || node->gone || node->parent < 0)
                        continue;
                node->next_sibling = view->nodes[node->parent].first_child;
                view->nodes[node->parent].first_child = (int)i;
        }
        return hash_grow(view, view->n_buckets ? view->n_buckets : 64);
}

/* Mount pointers sorted by folder id, for mount_of(). */
static int mount_ptr_cmp(const void *a, const void *b)
{
        const struct cat_mount *const *x = a, *const *y = b;

        return strcmp((*x)->folder_id, (*y)->folder_id);
}

static const struct cat_mount *mount_of(const struct cat_mount **sorted,
                                        size_t n, const char *folder_id)
{
        struct cat_mount key;
        const struct cat_mount *kp = &key, **hit;

        if (n == 0)
                return NULL;
        snprintf(key.folder_id, sizeof(key.folder_id), "%s", folder_id);
        hit = bsearch(&kp, sorted, n, sizeof(*sorted), mount_ptr_cmp);
        return hit ? *hit : NULL;
}

static void detach_folder(struct view *view, struct view_folder *f)
{
        if (f->node >= 0)
                view->nodes[f->node].gone = true;
        f->node = -1;
}

int view_update(const struct view *old, const struct cat_mount *mounts,
                size_t n, int scratch_fd, uid_t chown_uid, gid_t chown_gid,
                struct view **ret_view, char **reterr)
{
        struct view *view = NULL;
        size_t cap, n_old = old->n_folders;
        bool *placed = NULL, *is_new = NULL;
        const struct cat_mount **sorted = NULL;
        int r;

        placed = calloc(n + 1, sizeof(*placed));
        is_new = calloc(n + 1, sizeof(*is_new));
        sorted = calloc(n + 1, sizeof(*sorted));
        if (!placed || !is_new || !sorted) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++)
                sorted[i] = &mounts[i];
        if (n > 1)
                qsort(sorted, n, sizeof(*sorted), mount_ptr_cmp);
        r = view_copy(old, n, &view, &cap);
        if (r < 0)
                goto out;
        /* First detach what went or moved, so its name is free. */
        for (size_t i = 0; i < n_old; i++) {
                struct view_folder *f = &view->folders[i];
                const struct cat_mount *m = mount_of(sorted, n, f->folder_id);
                char *s;

                if (!m) {
                        f->gone = true;
                        detach_folder(view, f);
                        continue;
                }
                placed[m - mounts] = true;
                if (strcmp(f->name, m->folder_name) != 0) {
                        s = strdup(m->folder_name);
                        if (!s) {
                                r = -ENOMEM;
                                goto out;
                        }
                        free(f->name);
                        f->name = s;
                }
                f->perm = m->permission;
                f->quota_bytes = m->quota_bytes;
                if (!f->gone && strcmp(f->target, m->target) == 0)
                        continue;
                /* moved or back from the trash: a new node below */
                s = strdup(m->target);
                if (!s) {
                        r = -ENOMEM;
                        goto out;
                }
                free(f->target);
                f->target = s;
                if (f->hidden_node < 0)
                        detach_folder(view, f);
                f->gone = false;
                is_new[m - mounts] = f->hidden_node < 0;
        }
        r = relink(view);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < n_old; i++) {
                struct view_folder *f = &view->folders[i];
                const struct cat_mount *m = mount_of(sorted, n, f->folder_id);

                if (!m || !is_new[m - mounts])
                        continue;
                r = place_folder(view, &cap, scratch_fd, i, chown_uid,
                                 chown_gid, reterr);
                if (r < 0)
                        goto out;
        }
        for (size_t j = 0; j < n; j++) {
                struct view_folder *f;
                size_t i;

                if (placed[j])
                        continue;
                i = view->n_folders++;
                f = &view->folders[i];
                memset(f, 0, sizeof(*f));
                r = folder_from_mount(view, f, &mounts[j]);
                if (r < 0)
                        goto out;
                r = add_folder_node(view, &cap, scratch_fd, i, chown_uid,
                                    chown_gid, reterr);
                if (r < 0)
                        goto out;
        }
        *ret_view = view;
        view = NULL;
out:
        view_free(view);
        free(placed);
        free(is_new);
        free(sorted);
        return r;
}
