/* The FUSE operations. Each call resolves its path once through the path
 * table, loads the one object it names (an indexed query on this thread's
 * own connection), and answers from it; a file's content is rendered once
 * per open and served from that snapshot at every offset. */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "array.h"
#include "cleanup.h"
#include "log.h"
#include "paths.h"
#include "store.h"
#include "view.h"
#include "volumes.h"

#define DIR_MODE 0550     /* root and the admin group read and search */
#define FILE_MODE 0440    /* read-only values */
#define CONTROL_MODE 0660 /* files that take writes: cleanup/request */

union object {
	struct service svc;
	struct cluster_view cluster;
	struct stuck res;
	struct volume_row vol;
	struct timespec when; /* a history entry's time */
};

/* The content of an open file, rendered at open(). */
struct handle {
	size_t len;
	char *data;
	struct timespec mtime;
	enum node_kind kind;
};

static const struct fs_config *config(void)
{
	return fuse_get_context()->private_data;
}

/* One SQLite connection per FUSE thread, opened on first use and closed
 * when the thread ends (libfuse ends idle threads). */
static pthread_key_t store_key;
static pthread_once_t store_key_once = PTHREAD_ONCE_INIT;

static void store_key_free(void *st)
{
	store_close(st);
}

static void store_key_make(void)
{
	pthread_key_create(&store_key, store_key_free);
}

static int thread_store(struct store **out)
{
	struct store *st;

	pthread_once(&store_key_once, store_key_make);
	st = pthread_getspecific(store_key);
	if (!st) {
		struct cf_err err;
		int rc = store_open(config()->db_path, 0, &st, &err);
		if (rc) {
			log_error("%s", err.msg);
			return rc;
		}
		pthread_setspecific(store_key, st);
	}
	*out = st;
	return 0;
}

static void view_now(struct view_ctx *ctx)
{
	dbtime_now(&ctx->now);
	ctx->down_time = config()->service_down_time;
}

static int sum_member(void *ctx, const struct service *svc)
{
	const struct view_ctx *view = ((void **)ctx)[0];
	struct liveness_cluster *sum = ((void **)ctx)[1];

	liveness_cluster_add(sum, svc->updated_at, svc->created_at, &view->now, view->down_time);
	return 0;
}

/* Load the object a matched path names, or -ENOENT when it does not exist.
 * A cluster's member summary is computed only for its value files. */
static int load(struct store *st, const struct path_match *m, const struct view_ctx *ctx,
		union object *obj)
{
	struct timespec bound;
	int rc;

	switch (m->rule->kind) {
	case NODE_WORKER:
	case NODE_WORKER_FIELD:
		return store_get_service(st, m->worker_id, &obj->svc);
	case NODE_CLUSTER:
	case NODE_CLUSTER_WORKERS:
		return store_get_cluster(st, m->cluster, &obj->cluster.row);
	case NODE_CLUSTER_FIELD: {
		void *args[2] = { (void *)ctx, &obj->cluster.summary };
		rc = store_get_cluster(st, m->cluster, &obj->cluster.row);
		if (rc)
			return rc;
		liveness_cluster_init(&obj->cluster.summary);
		return store_list_cluster_members(st, m->cluster, sum_member, args);
	}
	case NODE_CLUSTER_WORKER:
		rc = store_get_cluster(st, m->cluster, &obj->cluster.row);
		if (rc)
			return rc;
		rc = store_get_service(st, m->worker_id, &obj->svc);
		if (rc)
			return rc;
		return strcmp(obj->svc.cluster_name, m->cluster) == 0 ? 0 : -ENOENT;
	case NODE_STUCK_RESOURCE:
	case NODE_STUCK_FIELD:
		liveness_bound(&ctx->now, ctx->down_time, &bound);
		return store_get_stuck(st, m->stuck_type, m->uuid, &bound, &obj->res);
	case NODE_HISTORY_ENTRY:
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
	case NODE_HISTORY_PROGRESS:
		return cleanup_history_entry(st, m, &obj->when);
	case NODE_VOLUME:
	case NODE_VOLUME_FIELD:
		return store_get_volume_row(st, m->uuid, &obj->vol);
	case NODE_SNAPSHOT:
	case NODE_SNAPSHOT_FIELD:
		return store_get_snapshot_row(st, m->uuid, &obj->vol);
	case NODE_VOLUMES:
	case NODE_VOLUMES_CREATE:
	case NODE_VOLUMES_ERROR:
	case NODE_SNAPSHOTS_CREATE:
	case NODE_SNAPSHOTS_ERROR:
	case NODE_SNAPSHOTS:
	case NODE_ROOT:
	case NODE_README:
	case NODE_WORKERS:
	case NODE_CLUSTERS:
	case NODE_STUCK:
	case NODE_STUCK_TYPE:
	case NODE_CLEANUP:
	case NODE_CLEANUP_REQUEST:
	case NODE_CLEANUP_RESULT:
	case NODE_CLEANUP_ERROR:
	case NODE_HISTORY:
		return 0;
	}
	return -ENOENT;
}

static bool takes_writes(enum node_kind kind)
{
	return kind == NODE_CLEANUP_REQUEST || kind == NODE_VOLUMES_CREATE ||
	       kind == NODE_SNAPSHOTS_CREATE;
}

static mode_t node_mode(enum node_kind kind, enum node_type type)
{
	if (takes_writes(kind))
		return S_IFREG | CONTROL_MODE;
	switch (type) {
	case NT_DIR:
		return S_IFDIR | DIR_MODE;
	case NT_FILE:
		return S_IFREG | FILE_MODE;
	case NT_LINK:
		break;
	}
	return S_IFLNK | 0777;
}

static void fill_stat(struct stat *stbuf, mode_t mode, off_t size, struct timespec mtime)
{
	memset(stbuf, 0, sizeof(*stbuf));
	stbuf->st_mode = mode;
	stbuf->st_nlink = S_ISDIR(mode) ? 2 : 1;
	stbuf->st_uid = 0;
	stbuf->st_gid = config()->admin_gid;
	stbuf->st_size = size;
	stbuf->st_blksize = 4096;
	stbuf->st_blocks = (size + 511) / 512;
	stbuf->st_atim = stbuf->st_mtim = stbuf->st_ctim = mtime;
}

static int link_target(const struct path_match *m, char *buf, size_t size)
{
	int n = snprintf(buf, size, "../../../workers/%lld", (long long)m->worker_id);
	return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : n;
}

static struct timespec node_mtime(const struct path_match *m, const union object *obj)
{
	switch (m->rule->kind) {
	case NODE_CLUSTER_WORKER:
		return view_mtime(OBJ_WORKER, &obj->svc);
	case NODE_HISTORY_ENTRY:
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
	case NODE_HISTORY_PROGRESS:
		return obj->when;
	default:
		break;
	}
	if (m->rule->object == OBJ_NONE)
		return config()->started;
	return view_mtime(m->rule->object, obj);
}

/* Render a file node's content from its loaded object, and say when it
 * last changed. */
static int render(struct store *st, const struct path_match *m, const union object *obj,
		  const struct view_ctx *ctx, char **out, size_t *len, struct timespec *mtime)
{
	switch (m->rule->kind) {
	case NODE_README:
		*out = strdup(fs_readme_text);
		if (!*out)
			return -ENOMEM;
		*len = strlen(fs_readme_text);
		*mtime = config()->started;
		return 0;
	case NODE_CLEANUP_REQUEST:
	case NODE_CLEANUP_RESULT:
	case NODE_CLEANUP_ERROR:
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
	case NODE_HISTORY_PROGRESS:
		return cleanup_render(st, config(), m, out, len, mtime);
	case NODE_VOLUMES_CREATE:
	case NODE_SNAPSHOTS_CREATE:
		/* Write-only in spirit: it reads as empty. */
		*out = strdup("");
		*len = 0;
		*mtime = config()->started;
		return *out ? 0 : -ENOMEM;
	case NODE_VOLUMES_ERROR:
		return control_error_render(config()->volume_errors, out, len, mtime);
	case NODE_SNAPSHOTS_ERROR:
		return control_error_render(config()->snapshot_errors, out, len, mtime);
	default:
		*mtime = node_mtime(m, obj);
		return view_render(m->rule->object, m->field, obj, ctx, out, len);
	}
}

/* Resolve a path and load its object: the start of every call. */
static int resolve(const char *path, struct path_match *m, union object *obj,
		   struct view_ctx *ctx, struct store **st)
{
	int rc = paths_match(path, m);

	if (rc)
		return rc;
	view_now(ctx);
	rc = thread_store(st);
	if (rc)
		return rc;
	return load(*st, m, ctx, obj);
}

static int node_stat(struct store *st, const struct path_match *m, const union object *obj,
		     const struct view_ctx *ctx, struct stat *stbuf)
{
	struct timespec mtime = node_mtime(m, obj);
	off_t size = 0;

	if (m->rule->type == NT_FILE) {
		char *text;
		size_t len;
		int rc = render(st, m, obj, ctx, &text, &len, &mtime);
		if (rc)
			return rc;
		free(text);
		size = (off_t)len;
	} else if (m->rule->type == NT_LINK) {
		char target[64];
		int n = link_target(m, target, sizeof(target));
		if (n < 0)
			return n;
		size = n;
	}
	fill_stat(stbuf, node_mode(m->rule->kind, m->rule->type), size, mtime);
	return 0;
}

static int fs_getattr(const char *path, struct stat *stbuf, struct fuse_file_info *fi)
{
	struct path_match m;
	union object obj;
	struct view_ctx ctx;
	struct store *st;
	int rc;

	if (fi && fi->fh) {
		/* An open file is its snapshot: fstat agrees with what read
		 * gives, and costs no query. */
		const struct handle *h = (const struct handle *)(uintptr_t)fi->fh;
		fill_stat(stbuf, node_mode(h->kind, NT_FILE), (off_t)h->len, h->mtime);
		return 0;
	}
	rc = resolve(path, &m, &obj, &ctx, &st);
	if (rc)
		return rc;
	return node_stat(st, &m, &obj, &ctx, stbuf);
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
	struct path_match m;
	union object obj;
	struct view_ctx ctx;
	struct store *st;
	int rc = resolve(path, &m, &obj, &ctx, &st);

	if (rc)
		return rc;
	if (m.rule->type != NT_LINK)
		return -EINVAL;
	rc = link_target(&m, buf, size);
	return rc < 0 ? rc : 0;
}

/* A directory's listing, taken at opendir() and served from there at every
 * offset: one query per listing, never one per entry, and a listing that
 * stays consistent across the kernel's several readdir calls. Entries are
 * compact (100,000 stuck resources are a few MB); the names live in one
 * arena. */
struct listing_entry {
	size_t name_off;
	mode_t mode;
	off_t size;
	struct timespec mtime;
};

struct listing {
	struct listing_entry *entries;
	size_t count, cap;
	char *names;
	size_t names_len, names_cap;
};

static void listing_free(struct listing *l)
{
	if (l) {
		free(l->entries);
		free(l->names);
		free(l);
	}
}

static int listing_add(struct listing *l, const char *name, mode_t mode, off_t size,
		       struct timespec mtime)
{
	size_t len = strlen(name) + 1;

	if (array_reserve((void **)&l->entries, &l->cap, l->count + 1, sizeof(*l->entries)) ||
	    array_reserve((void **)&l->names, &l->names_cap, l->names_len + len, 1))
		return -ENOMEM;
	memcpy(l->names + l->names_len, name, len);
	l->entries[l->count++] = (struct listing_entry){
		.name_off = l->names_len, .mode = mode, .size = size, .mtime = mtime,
	};
	l->names_len += len;
	return 0;
}

struct dir_fill {
	struct listing *list;
	struct view_ctx *ctx;
	enum node_type type;
};

static int add_worker(void *arg, const struct service *svc)
{
	struct dir_fill *d = arg;
	char name[32];
	int n = snprintf(name, sizeof(name), "%lld", (long long)svc->id);
	off_t size = 0;

	if (d->type == NT_LINK)
		size = (off_t)strlen("../../../workers/") + n;
	return listing_add(d->list, name, node_mode(NODE_WORKER, d->type), size,
			   view_mtime(OBJ_WORKER, svc));
}

static int add_cluster(void *arg, const struct cluster *cl)
{
	struct dir_fill *d = arg;
	struct cluster_view view = { .row = *cl };

	if (!paths_valid_cluster_name(cl->name))
		return 0; /* a name the mount cannot show (it has a '/') */
	return listing_add(d->list, cl->name, S_IFDIR | DIR_MODE, 0, view_mtime(OBJ_CLUSTER, &view));
}

static int add_stuck(void *arg, const struct stuck *res)
{
	struct dir_fill *d = arg;

	if (!paths_valid_uuid(res->resource_id))
		return 0; /* not a canonical UUID: no path would find it */
	return listing_add(d->list, res->resource_id, S_IFDIR | DIR_MODE, 0,
			   view_mtime(OBJ_STUCK, res));
}

/* An object's directory lists its value files with their exact sizes,
 * rendered from the one object already loaded. */
static int add_fields(struct dir_fill *d, const struct path_match *dir, const union object *obj)
{
	const struct field *f = view_fields(dir->rule->object);
	struct timespec mtime = view_mtime(dir->rule->object, obj);
	char *text;
	size_t len;
	int rc;

	for (;; f++) {
		const struct field *file = f->name ? f : &view_info_json;
		if (f->name && f->json_only)
			continue;
		rc = view_render(dir->rule->object, file, obj, d->ctx, &text, &len);
		if (rc)
			return rc;
		free(text);
		rc = listing_add(d->list, file->name, S_IFREG | FILE_MODE, (off_t)len, mtime);
		if (rc || !f->name)
			return rc;
	}
}

static int add_volume(void *arg, const struct volume_row *row)
{
	struct dir_fill *d = arg;

	if (!paths_valid_uuid(row->id))
		return 0; /* not a canonical UUID: no path would find it */
	return listing_add(d->list, row->id, S_IFDIR | DIR_MODE, 0,
			   view_mtime(OBJ_VOLUME, row));
}

static int add_history(void *arg, const char *name, struct timespec mtime)
{
	struct dir_fill *d = arg;
	return listing_add(d->list, name, S_IFDIR | DIR_MODE, 0, mtime);
}

/* A fixed child (README, cleanup/request, ...) with its exact size: a file
 * is rendered like any other, from the parent's match. */
static int add_literal(struct dir_fill *d, struct store *st, const struct path_match *dir,
		       const union object *obj, const struct path_rule *child, const char *name)
{
	struct path_match m = *dir;
	struct timespec mtime = node_mtime(dir, obj);
	size_t len = 0;
	char *text;
	int rc;

	m.rule = child;
	if (child->type == NT_FILE) {
		rc = render(st, &m, obj, d->ctx, &text, &len, &mtime);
		if (rc)
			return rc;
		free(text);
	}
	return listing_add(d->list, name, node_mode(child->kind, child->type), (off_t)len, mtime);
}

static int list_dir(const char *path, struct listing *list)
{
	struct path_match m;
	union object obj;
	struct view_ctx ctx;
	struct dir_fill d = { .list = list, .ctx = &ctx, .type = NT_DIR };
	struct store *st;
	struct timespec bound;
	const struct path_rule *child;
	const char *name;
	int rc;

	rc = resolve(path, &m, &obj, &ctx, &st);
	if (rc)
		return rc;
	if (m.rule->type != NT_DIR)
		return -ENOTDIR;
	if (listing_add(list, ".", S_IFDIR | DIR_MODE, 0, node_mtime(&m, &obj)) ||
	    listing_add(list, "..", S_IFDIR | DIR_MODE, 0, config()->started))
		return -ENOMEM;
	for (int i = 0; (child = paths_literal_child(m.rule, i, &name)) != NULL; i++)
		if ((rc = add_literal(&d, st, &m, &obj, child, name)) != 0)
			return rc;
	switch (m.rule->kind) {
	case NODE_WORKERS:
		return store_list_services(st, add_worker, &d);
	case NODE_WORKER:
	case NODE_STUCK_RESOURCE:
	case NODE_VOLUME:
	case NODE_SNAPSHOT:
		return add_fields(&d, &m, &obj);
	case NODE_VOLUMES:
		return store_list_volume_rows(st, add_volume, &d);
	case NODE_SNAPSHOTS:
		return store_list_snapshot_rows(st, add_volume, &d);
	case NODE_CLUSTER: {
		void *args[2] = { &ctx, &obj.cluster.summary };
		liveness_cluster_init(&obj.cluster.summary);
		rc = store_list_cluster_members(st, m.cluster, sum_member, args);
		return rc ? rc : add_fields(&d, &m, &obj);
	}
	case NODE_CLUSTERS:
		return store_list_clusters(st, add_cluster, &d);
	case NODE_CLUSTER_WORKERS:
		d.type = NT_LINK;
		return store_list_cluster_members(st, m.cluster, add_worker, &d);
	case NODE_STUCK:
		for (int i = 0; i < stuck_types_count; i++)
			if ((rc = listing_add(list, stuck_types[i].dir, S_IFDIR | DIR_MODE, 0,
					      config()->started)))
				return rc;
		return 0;
	case NODE_HISTORY:
		return cleanup_list_history(st, add_history, &d);
	case NODE_CLEANUP:
	case NODE_HISTORY_ENTRY:
		return 0;
	case NODE_STUCK_TYPE:
		liveness_bound(&ctx.now, ctx.down_time, &bound);
		return store_list_stuck(st, m.stuck_type, &bound, add_stuck, &d);
	case NODE_ROOT:
		return 0;
	default:
		break; /* files and links were refused above */
	}
	return -ENOTDIR;
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct listing *list = calloc(1, sizeof(*list));
	int rc;

	if (!list)
		return -ENOMEM;
	rc = list_dir(path, list);
	if (rc) {
		listing_free(list);
		return rc;
	}
	fi->fh = (uint64_t)(uintptr_t)list;
	return 0;
}

/* Offsets are entry indexes plus one: libfuse passes attributes to the
 * kernel (readdirplus) only for entries given with a non-zero offset. */
static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	const struct listing *list = (const struct listing *)(uintptr_t)fi->fh;
	struct stat stbuf;

	(void)path;
	(void)flags;
	if (!list)
		return -EBADF;
	for (size_t i = (size_t)offset; i < list->count; i++) {
		const struct listing_entry *e = &list->entries[i];
		fill_stat(&stbuf, e->mode, e->size, e->mtime);
		/* libfuse numbers every entry but "." and ".."; a zero d_ino
		 * would make readdir(3) skip them, so they get libfuse's own
		 * "unknown" number. */
		stbuf.st_ino = 0xffffffff;
		if (filler(buf, list->names + e->name_off, &stbuf, (off_t)(i + 1), FUSE_FILL_DIR_PLUS))
			break;
	}
	return 0;
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	listing_free((struct listing *)(uintptr_t)fi->fh);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct path_match m;
	union object obj;
	struct view_ctx ctx;
	struct store *st;
	struct handle *h;
	int rc = resolve(path, &m, &obj, &ctx, &st);

	if (rc)
		return rc;
	if (m.rule->type == NT_DIR)
		return -EISDIR;
	/* Only cleanup/request takes writes; its O_TRUNC (from '>') is a
	 * no-op: one write() is one whole spec. */
	if (((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) &&
	    !takes_writes(m.rule->kind))
		return -EACCES;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->kind = m.rule->kind;
	rc = render(st, &m, &obj, &ctx, &h->data, &h->len, &h->mtime);
	if (rc) {
		free(h);
		return rc;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	/* Generated content: no page cache, reads go to the snapshot. */
	fi->direct_io = 1;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t offset,
		   struct fuse_file_info *fi)
{
	const struct handle *h = (const struct handle *)(uintptr_t)fi->fh;

	(void)path;
	if (!h)
		return -EBADF;
	if (offset < 0 || (size_t)offset >= h->len)
		return 0;
	if (size > h->len - (size_t)offset)
		size = h->len - (size_t)offset;
	memcpy(buf, h->data + offset, size);
	return (int)size;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)path;
	if (h) {
		free(h->data);
		free(h);
	}
	return 0;
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = 255;
	return 0;
}

/* The read-only half refuses every change; the kernel has already answered
 * ENOENT for paths that do not exist. */
static int deny_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path; (void)mode; (void)fi;
	return -EACCES;
}
static int deny_mkdir(const char *path, mode_t mode) { (void)path; (void)mode; return -EACCES; }
static int deny_mknod(const char *path, mode_t mode, dev_t dev) { (void)path; (void)mode; (void)dev; return -EACCES; }
static int deny_path(const char *path) { (void)path; return -EACCES; }
static int deny_two(const char *from, const char *to) { (void)from; (void)to; return -EACCES; }
static int deny_rename(const char *from, const char *to, unsigned int flags)
{
	(void)from; (void)to; (void)flags;
	return -EACCES;
}
static int deny_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path; (void)mode; (void)fi;
	return -EACCES;
}
static int deny_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)path; (void)uid; (void)gid; (void)fi;
	return -EACCES;
}
/* truncate: '>' truncates cleanup/request before writing; a no-op there. */
static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct path_match m;

	(void)size;
	if (fi && fi->fh)
		return takes_writes(((const struct handle *)(uintptr_t)fi->fh)->kind) ? 0 : -EACCES;
	if (paths_match(path, &m) != 0)
		return -ENOENT;
	return takes_writes(m.rule->kind) ? 0 : -EACCES;
}
static int deny_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)path; (void)tv; (void)fi;
	return -EACCES;
}
/* One write() to cleanup/request is one whole spec, whatever the offset
 * (so '>>' works too); its answer is the request's. */
static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	const struct handle *h = (const struct handle *)(uintptr_t)fi->fh;
	struct fuse_context *fc = fuse_get_context();
	struct store *st;
	int rc;

	(void)path;
	(void)off;
	if (!h || !takes_writes(h->kind))
		return -EACCES;
	rc = thread_store(&st);
	if (rc)
		return rc;
	if (h->kind == NODE_VOLUMES_CREATE)
		return volumes_create(st, config(), buf, size);
	if (h->kind == NODE_SNAPSHOTS_CREATE)
		return snapshots_create(st, config(), buf, size);
	return cleanup_write(st, config(), buf, size, fc->uid, fc->pid);
}

/* rmdir volumes/<uuid> deletes the volume (the work goes to its worker);
 * nothing else may be removed. */
static int fs_rmdir(const char *path)
{
	struct path_match m;
	struct store *st;
	int rc = paths_match(path, &m);

	if (rc)
		return rc;
	if (m.rule->kind != NODE_VOLUME && m.rule->kind != NODE_SNAPSHOT &&
	    m.rule->kind != NODE_WORKER)
		return -EACCES;
	rc = thread_store(&st);
	if (rc)
		return rc;
	if (m.rule->kind == NODE_WORKER) {
		/* A retired worker's row, which would otherwise block cleanups
		 * as an "upgrade" forever. */
		struct view_ctx ctx;
		struct timespec bound;
		struct cf_err err;

		view_now(&ctx);
		liveness_bound(&ctx.now, ctx.down_time, &bound);
		rc = store_remove_service(st, m.worker_id, &bound, &ctx.now, &err);
		if (rc)
			log_info("rmdir workers/%lld refused: %s", (long long)m.worker_id, err.msg);
		return rc;
	}
	return m.rule->kind == NODE_VOLUME ? volumes_delete(st, config(), m.uuid)
					   : snapshots_delete(st, config(), m.uuid);
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = FS_CACHE_TIMEOUT;
	cfg->attr_timeout = FS_CACHE_TIMEOUT;
	cfg->negative_timeout = FS_CACHE_TIMEOUT;
	cfg->use_ino = 0;
	cfg->kernel_cache = 0;
	return fuse_get_context()->private_data;
}

const struct fuse_operations fs_ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readlink = fs_readlink,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.open = fs_open,
	.read = fs_read,
	.release = fs_release,
	.statfs = fs_statfs,
	.write = fs_write,
	.create = deny_create,
	.mkdir = deny_mkdir,
	.mknod = deny_mknod,
	.unlink = deny_path,
	.rmdir = fs_rmdir,
	.symlink = deny_two,
	.link = deny_two,
	.rename = deny_rename,
	.chmod = deny_chmod,
	.chown = deny_chown,
	.truncate = fs_truncate,
	.utimens = deny_utimens,
};
