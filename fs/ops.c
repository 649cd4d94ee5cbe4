/* The FUSE operations. Each call resolves its path once through the path
 * table, loads the one object it names (an indexed query on this thread's
 * own connection), and answers from it; a file's content is rendered once
 * per open and served from that snapshot at every offset. */
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "actions.h"
#include "array.h"
#include "cleanup.h"
#include "heartbeat.h"
#include "log.h"
#include "metrics.h"
#include "paths.h"
#include "request.h"
#include "scratch.h"
#include "store.h"
#include "store_pool.h"
#include "view.h"
#include "volumes.h"
#include "watch.h"

#define DIR_MODE 0550     /* root and the admin group read and search */
#define FILE_MODE 0440    /* read-only values */
#define CONTROL_MODE 0660 /* files that take writes: cleanup/request */
#define SCRATCH_DIR_MODE 0770 /* cleanup/: the admin group makes temporary files */
/* volumes/, snapshots/ and workers/: the kernel (default_permissions) lets
 * rmdir of an entry through only with write permission on its parent, and
 * the admin group may do all root may. Anything else tried there is
 * refused here, with the reason in the directory's error file. */
#define REMOVABLE_DIR_MODE 0770

union object {
	struct service svc;
	struct worker_view worker; /* svc, and its disabled_reason */
	struct cluster_view cluster;
	struct stuck res;
	struct volume_row vol;
	struct cleanup_entry entry; /* a history entry (its row, none of its texts) */
	struct scratch_attr temp; /* a scratch entry of cleanup/ */
};

/* The content of an open file, rendered at open(); or an open scratch
 * file. progress.json renders again on a read at offset 0 after the first
 * (so a poller re-reads with lseek and read, as in sysfs), and wait renders
 * at its first read, once the request's work has ended. */
#define HANDLE_MAGIC 0x63666831u  /* "cfh1": an open file's fh */
#define LISTING_MAGIC 0x63666c31u /* "cfl1": an open directory's fh */

/* Every open file and directory, first in its fh: what it is, and a link
 * in the list of those open, so that the ones still open when the daemon
 * stops (no release comes after an unmount) are freed all the same. */
struct open_head {
	uint32_t magic;
	struct open_head *prev, *next;
	/* The path it was opened by: calls made by handle come without one
	 * (nullpath_ok), and their refusals name the file all the same. */
	char *path;
};

static struct open_head open_list = { 0, &open_list, &open_list, NULL };
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

/* Only a failed strdup leaves path NULL: refusals then name no file. */
static void open_track(struct open_head *o, uint32_t magic, const char *path)
{
	o->magic = magic;
	o->path = path ? strdup(path) : NULL;
	pthread_mutex_lock(&open_lock);
	o->prev = &open_list;
	o->next = open_list.next;
	open_list.next->prev = o;
	open_list.next = o;
	pthread_mutex_unlock(&open_lock);
}

static void open_untrack(struct open_head *o)
{
	if (!o->next)
		return; /* never tracked */
	pthread_mutex_lock(&open_lock);
	o->prev->next = o->next;
	o->next->prev = o->prev;
	o->prev = o->next = NULL;
	pthread_mutex_unlock(&open_lock);
	free(o->path);
	o->path = NULL;
}

struct handle {
	struct open_head head;
	size_t len;
	char *data;                 /* malloc'd (NULL with doc) */
	struct cleanup_doc *doc;    /* progress.json and wait: the shared snapshot held */
	struct timespec mtime;
	enum node_kind kind;
	struct scratch_node *temp;  /* NODE_CLEANUP_TEMP */
	int64_t request_id;         /* history files */
	int64_t result_id;          /* a result read by pieces: its request (0: data) */
	int64_t generation;         /* progress.json: the request's, when rendered */
	bool nonblock;              /* opened O_NONBLOCK: wait does not block */
	bool served;                /* a read was answered */
	bool waited;                /* wait: data is the final progress */
	/* A control file's answer to the last write() on this open file (the
	 * transaction-file pattern of nfsd's control files): a request's
	 * number and its result, a new volume's or snapshot's id, a preview;
	 * nothing after a refused write. It is read from where that write
	 * left the file offset (origin answer_base), or from offset 0 by a
	 * reader that went back there (seek, pread). */
	bool answered;
	off_t answer_base;
	off_t origin;               /* -1 until the answer's first read */
	size_t result_at;           /* with result_id: data's bytes before the result's */
	bool admin;                 /* a value file that takes an admin action (fs/actions.c) */
	/* data, len, mtime and the flags, for the files that re-render:
	 * held to copy or swap them only, never across a wait or a query. */
	pthread_mutex_t lock;
};

static const struct fs_config *config(void)
{
	return fuse_get_context()->private_data;
}

static struct handle *handle_new(enum node_kind kind, const char *path)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h) {
		h->kind = kind;
		pthread_mutex_init(&h->lock, NULL);
		open_track(&h->head, HANDLE_MAGIC, path);
	}
	return h;
}

static void handle_free(const struct fs_config *cfg, struct handle *h)
{
	if (!h)
		return;
	open_untrack(&h->head);
	if (h->kind == NODE_HISTORY_PROGRESS || h->kind == NODE_HISTORY_WAIT)
		watch_forget(cfg->watch, h);
	scratch_put(cfg->scratch, h->temp);
	pthread_mutex_destroy(&h->lock);
	if (h->doc)
		cleanup_progress_close(h->doc);
	else
		free(h->data);
	free(h);
}

static void handle_set_doc(struct handle *h, struct cleanup_doc *doc);

/* Where an answer starts in its open file (h->lock held): 0 when the file
 * holds none. */
static off_t answer_origin(const struct handle *h)
{
	if (!h->answered)
		return 0;
	return h->origin < 0 ? h->answer_base : h->origin;
}

/* The open file behind fi, or NULL (none, or an open directory: the
 * kernel passes directories' handles to setattr too). */
static struct handle *file_of(const struct fuse_file_info *fi)
{
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	return h && h->head.magic == HANDLE_MAGIC ? h : NULL;
}

/* The path a call names: its own, or, made by handle, the one the file or
 * directory was opened by (NULL when neither is known). */
static const char *call_path(const char *path, const struct fuse_file_info *fi)
{
	const struct open_head *o = fi ? (const struct open_head *)(uintptr_t)fi->fh : NULL;

	if (path || !o)
		return path;
	return o->magic == HANDLE_MAGIC || o->magic == LISTING_MAGIC ? o->path : NULL;
}

/* The mount's database connections: a few, shared by the FUSE threads,
 * each borrowed for one operation (a thread keeping its own would keep
 * ~30 open per daemon, libfuse never retiring its threads). */
/* A borrower waits at most this long for a connection. */
#define POOL_WAIT_MS 30000

static struct store_pool *pool;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_make(void)
{
	const struct fs_config *cfg = config();

	if (store_pool_new(cfg->db_path, STORE_LEAN, cfg->db_connections, &pool) != 0)
		pool = NULL;
}

/* err (may be NULL) says why no connection could be had. */
static int thread_store(struct store **out, struct cf_err *err)
{
	struct cf_err why;
	int rc;

	pthread_once(&pool_once, pool_make);
	if (!pool)
		return err_set(err ? err : &why, ENOMEM, "out of memory");
	rc = store_pool_get(pool, POOL_WAIT_MS, out, &why);
	if (rc && err)
		*err = why;
	return rc;
}

static void store_return(struct store **st)
{
	if (*st) {
		store_pool_put(pool, *st);
		*st = NULL;
	}
}
/* A borrowed connection, given back when the variable goes out of scope. */
#define BORROWED __attribute__((cleanup(store_return)))

static void view_now(struct view_ctx *ctx)
{
	/* Liveness is judged at the heartbeat's clock: a database that
	 * takes no beat (locked, full) must not make live workers look down. */
	heartbeat_clock(&ctx->now);
	ctx->down_time = config()->service_down_time;
}

static int sum_member(void *ctx, const struct service *svc)
{
	const struct view_ctx *view = ((void **)ctx)[0];
	struct liveness_cluster *sum = ((void **)ctx)[1];

	liveness_cluster_add(sum, svc->updated_at, &view->now, view->down_time);
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
	case NODE_WORKER_CAPACITY:
		return store_get_worker(st, m->worker_id, &obj->worker.row,
					obj->worker.disabled_reason);
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
	case NODE_HISTORY_LATEST: /* request_id 0: the newest */
	case NODE_HISTORY_ENTRY:
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
	case NODE_HISTORY_PROGRESS:
	case NODE_HISTORY_WAIT:
	case NODE_HISTORY_CANCEL:
		return cleanup_history_entry(st, m, &obj->entry);
	case NODE_VOLUME:
	case NODE_VOLUME_CONNECTION:
	case NODE_VOLUME_FIELD:
		return store_get_volume_row(st, m->uuid, &obj->vol);
	case NODE_SNAPSHOT:
	case NODE_SNAPSHOT_FIELD:
		return store_get_snapshot_row(st, m->uuid, &obj->vol);
	case NODE_WORKERS_ERROR:
	case NODE_CLUSTERS_ERROR:
	case NODE_VOLUMES:
	case NODE_VOLUMES_CREATE:
	case NODE_VOLUMES_ERROR:
	case NODE_SNAPSHOTS_CREATE:
	case NODE_SNAPSHOTS_ERROR:
	case NODE_SNAPSHOTS:
	case NODE_ROOT:
	case NODE_README:
	case NODE_METRICS:
	case NODE_STATUS:
	case NODE_WORKERS:
	case NODE_CLUSTERS:
	case NODE_STUCK:
	case NODE_STUCK_TYPE:
	case NODE_CLEANUP:
	case NODE_CLEANUP_REQUEST:
	case NODE_CLEANUP_RESULT:
	case NODE_CLEANUP_ERROR:
	case NODE_CLEANUP_PREVIEW:
	case NODE_HISTORY:
		return 0;
	case NODE_CLEANUP_TEMP: {
		struct scratch_node *n;
		rc = scratch_find(config()->scratch, m->temp, &n);
		if (rc)
			return rc;
		scratch_attr(config()->scratch, n, &obj->temp);
		scratch_put(config()->scratch, n);
		return 0;
	}
	}
	return -ENOENT;
}

static bool takes_writes(enum node_kind kind)
{
	return kind == NODE_CLEANUP_REQUEST || kind == NODE_CLEANUP_PREVIEW ||
	       kind == NODE_VOLUMES_CREATE || kind == NODE_SNAPSHOTS_CREATE ||
	       kind == NODE_HISTORY_CANCEL;
}

static mode_t node_mode(enum node_kind kind, enum node_type type)
{
	if (takes_writes(kind))
		return S_IFREG | CONTROL_MODE;
	if (kind == NODE_VOLUME_CONNECTION)
		return S_IFREG | config()->connection_mode;
	if (kind == NODE_CLEANUP)
		return S_IFDIR | SCRATCH_DIR_MODE;
	if (kind == NODE_VOLUMES || kind == NODE_SNAPSHOTS || kind == NODE_WORKERS ||
	    kind == NODE_CLUSTERS)
		return S_IFDIR | REMOVABLE_DIR_MODE;
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

/* A node's mode, its value files that take admin actions included. */
static mode_t match_mode(const struct path_match *m)
{
	if (actions_writable(m))
		return S_IFREG | CONTROL_MODE;
	return node_mode(m->rule->kind, m->rule->type);
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

/* A scratch entry has its own owner, mode and times. */
static void scratch_stat(struct stat *stbuf, const struct scratch_attr *a)
{
	memset(stbuf, 0, sizeof(*stbuf));
	stbuf->st_mode = a->mode;
	stbuf->st_nlink = S_ISDIR(a->mode) ? 2 : 1;
	stbuf->st_uid = a->uid;
	stbuf->st_gid = a->gid;
	stbuf->st_size = a->size;
	stbuf->st_blksize = 4096;
	stbuf->st_blocks = (a->size + 511) / 512;
	stbuf->st_atim = a->atime;
	stbuf->st_mtim = a->mtime;
	stbuf->st_ctim = a->ctime;
}

/* A link's target: a cluster member's worker directory, or history's
 * newest entry by the name its listing gives it. */
static int link_target(const struct path_match *m, const union object *obj, char *buf, size_t size)
{
	int n;

	if (m->rule->kind == NODE_HISTORY_LATEST)
		n = snprintf(buf, size, "%0*lld", HISTORY_NAME_WIDTH,
			     (long long)obj->entry.summary.id);
	else
		n = snprintf(buf, size, "../../../workers/%lld", (long long)m->worker_id);
	return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : n;
}

static struct timespec node_mtime(const struct path_match *m, const union object *obj)
{
	switch (m->rule->kind) {
	case NODE_CLUSTER_WORKER:
		return view_mtime(OBJ_WORKER, &obj->svc);
	case NODE_HISTORY_LATEST:
	case NODE_HISTORY_ENTRY:
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
	case NODE_HISTORY_PROGRESS:
	case NODE_HISTORY_WAIT:
	case NODE_HISTORY_CANCEL:
		return obj->entry.when;
	default:
		break;
	}
	if (m->rule->object == OBJ_NONE)
		return config()->started;
	return view_mtime(m->rule->object, obj);
}

/* metrics and status: one snapshot of the overview's aggregates, as at
 * the moment of the read (their mtime). A render is kept for
 * OVERVIEW_KEEP_MS and served again to the calls that come meanwhile:
 * `cat` asks the size (lookup), opens, and may fstat, and each would
 * render anew (the aggregates take ~0.3 s at 100,000 stuck resources),
 * while all of them then see the same bytes, so the size stat gives is
 * exactly what the read returns. One render at a time: a burst of
 * scrapers waits for one render, not one each. */
#define OVERVIEW_KEEP_MS 1000

struct overview_cache {
	pthread_mutex_t lock;
	char *text;
	size_t len;
	struct timespec mtime;    /* the render's now */
	struct timespec rendered; /* CLOCK_MONOTONIC */
};
static struct overview_cache overview_caches[2] = {
	{ .lock = PTHREAD_MUTEX_INITIALIZER }, { .lock = PTHREAD_MUTEX_INITIALIZER },
};

static int64_t ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static int render_overview(struct store *st, enum node_kind kind, const struct view_ctx *ctx,
			   char **out, size_t *len, struct timespec *mtime)
{
	struct overview_cache *c = &overview_caches[kind == NODE_METRICS ? 0 : 1];
	struct store_overview o;
	struct timespec bound;
	char *text;
	size_t n;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->text || ms_since(&c->rendered) >= OVERVIEW_KEEP_MS) {
		liveness_bound(&ctx->now, ctx->down_time, &bound);
		rc = store_read_overview(st, &bound, &o);
		if (rc == 0) {
			if (kind == NODE_METRICS)
				rc = metrics_render(&o, &ctx->now, &text, &n);
			else
				rc = status_render(&o, &ctx->now, ctx->down_time, &text, &n);
			store_overview_free(&o);
		}
		if (rc == 0) {
			free(c->text);
			c->text = text;
			c->len = n;
			c->mtime = ctx->now;
			clock_gettime(CLOCK_MONOTONIC, &c->rendered);
		}
	}
	if (rc == 0) {
		*out = malloc(c->len + 1);
		if (*out) {
			memcpy(*out, c->text, c->len + 1);
			*len = c->len;
			*mtime = c->mtime;
		} else {
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* What the cache holds, freed when the daemon stops. */
static void overview_forget(void)
{
	for (int i = 0; i < 2; i++) {
		pthread_mutex_lock(&overview_caches[i].lock);
		free(overview_caches[i].text);
		overview_caches[i].text = NULL;
		pthread_mutex_unlock(&overview_caches[i].lock);
	}
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
	case NODE_HISTORY_WAIT:
	case NODE_HISTORY_CANCEL:
		return cleanup_render(st, config(), m, out, len, mtime);
	case NODE_VOLUMES_CREATE:
	case NODE_SNAPSHOTS_CREATE:
	case NODE_CLEANUP_PREVIEW:
		/* Until this open file writes (its answer is read then): empty. */
		*out = strdup("");
		*len = 0;
		*mtime = config()->started;
		return *out ? 0 : -ENOMEM;
	case NODE_VOLUMES_ERROR:
		return control_error_render(config()->volume_errors, out, len, mtime);
	case NODE_SNAPSHOTS_ERROR:
		return control_error_render(config()->snapshot_errors, out, len, mtime);
	case NODE_WORKERS_ERROR:
		return control_error_render(config()->worker_errors, out, len, mtime);
	case NODE_WORKER_CAPACITY: {
		struct store_capacity cap;
		int rc = store_get_capacity(st, m->worker_id, &cap);
		if (rc && rc != -ENOENT)
			return rc;
		*mtime = rc ? node_mtime(m, obj) : view_last_change(cap.measured_at, NULL);
		return view_render_capacity(rc ? NULL : &cap, out, len);
	}
	case NODE_CLUSTERS_ERROR:
		return control_error_render(config()->cluster_errors, out, len, mtime);
	case NODE_VOLUME_CONNECTION: {
		struct volume_connection conn;
		int rc = store_get_volume_connection(st, m->uuid, &conn);
		if (rc)
			return rc;
		*mtime = node_mtime(m, obj);
		rc = view_render_connection(&conn, out, len);
		if (rc == -EINVAL) {
			/* Set by hand, or by another program: no export this
			 * mount can describe. */
			log_warning("volume %s: provider_location '%s' or its provider_auth is not as "
				    "Cinder writes them: it has no connection file", m->uuid,
				    conn.provider_location);
			rc = -ENOENT;
		}
		return rc;
	}
	case NODE_METRICS:
	case NODE_STATUS:
		return render_overview(st, m->rule->kind, ctx, out, len, mtime);
	default:
		*mtime = node_mtime(m, obj);
		return view_render(m->rule->object, m->field, obj, ctx, out, len);
	}
}

/* A file's exact size and mtime: the cleanup files' from what the
 * database keeps of them (a progress.json of 100,000 resources is never
 * rendered to be measured), the others' by rendering (a few bytes). */
static int file_size(struct store *st, const struct path_match *m, const union object *obj,
		     const struct view_ctx *ctx, off_t *size, struct timespec *mtime)
{
	char *text;
	size_t len;
	int rc;

	if (cleanup_sized(m->rule->kind))
		return cleanup_stat(st, config(), m, &obj->entry, size, mtime);
	rc = render(st, m, obj, ctx, &text, &len, mtime);
	if (rc)
		return rc;
	free(text);
	*size = (off_t)len;
	return 0;
}

/* Resolve a path and load its object: the start of every call. */
static int resolve(const char *path, struct path_match *m, union object *obj,
		   struct view_ctx *ctx, struct store **st)
{
	int rc = paths_match(path, m);

	if (rc)
		return rc;
	view_now(ctx);
	rc = thread_store(st, NULL);
	if (rc)
		return rc;
	return load(*st, m, ctx, obj);
}

static int node_stat(struct store *st, const struct path_match *m, const union object *obj,
		     const struct view_ctx *ctx, struct stat *stbuf)
{
	struct timespec mtime;
	off_t size = 0;

	if (m->rule->kind == NODE_CLEANUP_TEMP) {
		scratch_stat(stbuf, &obj->temp);
		return 0;
	}
	mtime = node_mtime(m, obj);
	if (m->rule->type == NT_FILE) {
		int rc = file_size(st, m, obj, ctx, &size, &mtime);
		if (rc)
			return rc;
	} else if (m->rule->type == NT_LINK) {
		char target[64];
		int n = link_target(m, obj, target, sizeof(target));
		if (n < 0)
			return n;
		size = n;
	}
	fill_stat(stbuf, match_mode(m), size, mtime);
	return 0;
}

static int listing_stat(const struct fuse_file_info *fi, struct stat *stbuf);

static int fs_getattr(const char *path, struct stat *stbuf, struct fuse_file_info *fi)
{
	struct path_match m;
	union object obj;
	struct view_ctx ctx;
	BORROWED struct store *st = NULL;
	int rc;

	struct handle *h = file_of(fi);

	if (h) {
		/* An open file is its snapshot: fstat agrees with what read
		 * gives, and costs no query. */
		if (h->temp) {
			struct scratch_attr a;
			scratch_attr(config()->scratch, h->temp, &a);
			scratch_stat(stbuf, &a);
			return 0;
		}
		pthread_mutex_lock(&h->lock);
		fill_stat(stbuf, h->admin ? S_IFREG | CONTROL_MODE : node_mode(h->kind, NT_FILE),
			  (off_t)h->len + answer_origin(h), h->mtime);
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	if (fi && fi->fh && listing_stat(fi, stbuf) == 0)
		return 0;
	if (!path)
		return -ENOENT; /* removed since it was opened */
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
	BORROWED struct store *st = NULL;
	int rc = resolve(path, &m, &obj, &ctx, &st);

	if (rc)
		return rc;
	if (m.rule->type != NT_LINK)
		return -EINVAL;
	rc = link_target(&m, &obj, buf, size);
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
	uid_t uid;
	gid_t gid;
	off_t size;
	struct timespec mtime;
};

struct listing {
	struct open_head head;
	struct listing_entry *entries;
	size_t count, cap;
	char *names;
	size_t names_len, names_cap;
	/* A stuck listing (its workers.resource_type; NULL for any other):
	 * opendir takes only its names, and the entries' times are read when
	 * the kernel asks for attributes (readdirplus). `ls -f` of 100,000
	 * asks for them with its first batch only; `ls -l` with every batch,
	 * and the first batch after the first reads all of them in one scan. */
	const char *stuck_type;
	size_t timed_until; /* entries before it have had their times read */
	bool all_timed;
};

/* An entry's mtime.tv_nsec until its time is read, and after, when its
 * row was gone by then (or the read failed): the entry is then given
 * without attributes, and a stat of it looks it up afresh. */
#define MTIME_LATER (-1L)
#define MTIME_NONE (-2L)
/* The entries whose times the first readdirplus reads by name: more than
 * the kernel's first request holds (32 KiB, about 170 entries). */
#define FIRST_TIMED 256

/* An open directory's own attributes: its "." entry. */
static int listing_stat(const struct fuse_file_info *fi, struct stat *stbuf)
{
	const struct listing *l = (const struct listing *)(uintptr_t)fi->fh;

	if (l->head.magic != LISTING_MAGIC || l->count == 0)
		return -EBADF;
	fill_stat(stbuf, l->entries[0].mode, 0, l->entries[0].mtime);
	stbuf->st_uid = l->entries[0].uid;
	stbuf->st_gid = l->entries[0].gid;
	return 0;
}

static void listing_free(struct listing *l)
{
	if (l) {
		open_untrack(&l->head);
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
		.name_off = l->names_len, .mode = mode, .uid = 0, .gid = config()->admin_gid,
		.size = size, .mtime = mtime,
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

static int add_stuck(void *arg, const char *resource_id)
{
	struct dir_fill *d = arg;

	if (!paths_valid_uuid(resource_id))
		return 0; /* not a canonical UUID: no path would find it */
	return listing_add(d->list, resource_id, S_IFDIR | DIR_MODE, 0,
			   (struct timespec){ 0, MTIME_LATER });
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
		rc = listing_add(d->list, file->name,
				 S_IFREG | (file->writable ? CONTROL_MODE : FILE_MODE), (off_t)len, mtime);
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

/* A scratch entry, with its own owner. */
static int add_scratch(void *arg, const char *name, const struct scratch_attr *a)
{
	struct dir_fill *d = arg;
	int rc = listing_add(d->list, name, a->mode, a->size, a->mtime);

	if (rc == 0) {
		d->list->entries[d->list->count - 1].uid = a->uid;
		d->list->entries[d->list->count - 1].gid = a->gid;
	}
	return rc;
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
	off_t size = 0;
	int rc;

	m.rule = child;
	if (child->type == NT_FILE) {
		rc = file_size(st, &m, obj, d->ctx, &size, &mtime);
		if (rc)
			return rc;
	}
	return listing_add(d->list, name, node_mode(child->kind, child->type), size, mtime);
}

/* The mode of a directory's parent, for its ".." entry. */
static mode_t parent_mode(const char *path)
{
	char parent[PATH_MAX];
	struct path_match m;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (!slash)
		return S_IFDIR | DIR_MODE;
	slash[slash == parent] = '\0'; /* "/volumes" -> "/" */
	if (paths_match(parent, &m) != 0 || m.rule->type != NT_DIR)
		return S_IFDIR | DIR_MODE;
	return node_mode(m.rule->kind, NT_DIR);
}

static int list_dir(const char *path, struct listing *list)
{
	struct path_match m;
	union object obj;
	struct view_ctx ctx;
	struct dir_fill d = { .list = list, .ctx = &ctx, .type = NT_DIR };
	BORROWED struct store *st = NULL;
	struct timespec bound;
	const struct path_rule *child;
	const char *name;
	int rc;

	rc = resolve(path, &m, &obj, &ctx, &st);
	if (rc)
		return rc;
	if (m.rule->kind == NODE_CLEANUP_TEMP && S_ISDIR(obj.temp.mode)) {
		/* A lock directory: empty, and nothing can be made in it. */
		if (listing_add(list, ".", obj.temp.mode, 0, obj.temp.mtime) ||
		    listing_add(list, "..", node_mode(NODE_CLEANUP, NT_DIR), 0, config()->started))
			return -ENOMEM;
		list->entries[0].uid = obj.temp.uid;
		list->entries[0].gid = obj.temp.gid;
		return 0;
	}
	if (m.rule->type != NT_DIR)
		return -ENOTDIR;
	if (listing_add(list, ".", node_mode(m.rule->kind, NT_DIR), 0, node_mtime(&m, &obj)) ||
	    listing_add(list, "..", parent_mode(path), 0, config()->started))
		return -ENOMEM;
	for (int i = 0; (child = paths_literal_child(m.rule, i, &name)) != NULL; i++) {
		if (child->kind == NODE_HISTORY_LATEST) /* found by name only */
			continue;
		rc = add_literal(&d, st, &m, &obj, child, name);
		/* A volume without an export has no connection file. */
		if (rc == -ENOENT && child->kind == NODE_VOLUME_CONNECTION)
			rc = 0;
		if (rc)
			return rc;
	}
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
		return scratch_list(config()->scratch, add_scratch, &d);
	case NODE_HISTORY_ENTRY:
		return 0;
	case NODE_STUCK_TYPE:
		liveness_bound(&ctx.now, ctx.down_time, &bound);
		list->stuck_type = m.stuck_type;
		list->timed_until = list->count; /* ".", ".." and what is not a row */
		return store_list_stuck_names(st, m.stuck_type, &bound, add_stuck, &d);
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
	list->head.magic = LISTING_MAGIC; /* for listing_stat, before tracking */
	rc = list_dir(path, list);
	if (rc) {
		listing_free(list);
		return rc;
	}
	open_track(&list->head, LISTING_MAGIC, path);
	fi->fh = (uint64_t)(uintptr_t)list;
	return 0;
}

/* Where a stuck listing's times go: the entries looked for, by name. */
struct times_fill {
	struct listing *list;
	size_t from, to; /* the entries asked for */
	size_t next;     /* times_by_order: where the last one was found, plus one */
	uint32_t *slots; /* times_by_hash: entry index + 1, 0 empty */
	size_t mask;
};

static void entry_timed(struct listing_entry *e, const char *created_at, const char *updated_at)
{
	e->mtime = view_last_change(updated_at, created_at);
}

/* A few entries' times: the rows come back in any order, mostly the
 * entries' own, so each search starts where the last one ended. */
static int times_by_order(void *arg, const char *id, const char *created_at, const char *updated_at)
{
	struct times_fill *t = arg;
	size_t n = t->to - t->from;

	for (size_t k = 0; k < n; k++) {
		size_t i = t->from + (t->next - t->from + k) % n;
		struct listing_entry *e = &t->list->entries[i];

		if (strcmp(t->list->names + e->name_off, id) == 0) {
			entry_timed(e, created_at, updated_at);
			t->next = i + 1 < t->to ? i + 1 : t->from;
			return 0;
		}
	}
	return 0; /* a row not asked for */
}

static size_t name_hash(const char *name)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

/* Every row's times, matched to the entries by a table of their names.
 * The scan mostly meets the rows in the order the listing took them (the
 * same table read the same way), so the entry after the last one found is
 * tried first: a random probe a row, into 100,000 entries, costs a cache
 * miss or three, and was a quarter of an `ls -l`'s time here. */
static int times_by_hash(void *arg, const char *id, const char *created_at, const char *updated_at)
{
	struct times_fill *t = arg;
	struct listing_entry *e = &t->list->entries[t->next];

	if (t->next < t->to && strcmp(t->list->names + e->name_off, id) == 0) {
		entry_timed(e, created_at, updated_at);
		t->next++;
		return 0;
	}
	for (size_t h = name_hash(id) & t->mask; t->slots[h]; h = (h + 1) & t->mask) {
		e = &t->list->entries[t->slots[h] - 1];
		if (strcmp(t->list->names + e->name_off, id) == 0) {
			entry_timed(e, created_at, updated_at);
			t->next = t->slots[h];
			return 0;
		}
	}
	return 0; /* a row the listing does not hold */
}

/* The times of a stuck listing's entries from `from` on, before they go
 * to the kernel with attributes: read now, so exact and at least as fresh
 * as the names. At offset 0 (every listing's first request, `ls -f`'s
 * only one with attributes) those of the next FIRST_TIMED entries, by
 * name; after that (a reader that stats what it lists, as `ls -l`), every
 * one, in one scan of the type's rows. An entry still without a time
 * after (its row gone, or the read failed) goes without attributes. */
static void listing_times(struct listing *list, size_t from)
{
	struct times_fill t = { .list = list, .to = list->count };
	BORROWED struct store *st = NULL;
	int rc;

	/* The first entry not read yet: the kernel may have sought past some,
	 * which then go without attributes. */
	t.from = from > list->timed_until ? from : list->timed_until;
	if (list->all_timed || t.from >= list->count)
		return;
	if (thread_store(&st, NULL) != 0) {
		rc = -EAGAIN;
	} else if (t.from < FIRST_TIMED) {
		const char **ids;

		t.to = t.from + FIRST_TIMED < list->count ? t.from + FIRST_TIMED : list->count;
		t.next = t.from;
		ids = malloc((t.to - t.from) * sizeof(*ids));
		if (!ids) {
			rc = -ENOMEM;
		} else {
			for (size_t i = t.from; i < t.to; i++)
				ids[i - t.from] = list->names + list->entries[i].name_off;
			rc = store_stuck_times(st, list->stuck_type, ids, t.to - t.from, times_by_order, &t);
			free(ids);
		}
	} else {
		size_t size = 16;

		while (size < 2 * (t.to - t.from))
			size *= 2;
		t.mask = size - 1;
		t.slots = calloc(size, sizeof(*t.slots));
		if (!t.slots) {
			rc = -ENOMEM;
		} else {
			for (size_t i = t.from; i < t.to; i++) {
				size_t h = name_hash(list->names + list->entries[i].name_off) & t.mask;

				while (t.slots[h])
					h = (h + 1) & t.mask;
				t.slots[h] = (uint32_t)(i + 1);
			}
			t.next = t.from;
			rc = store_stuck_times(st, list->stuck_type, NULL, 0, times_by_hash, &t);
			free(t.slots);
		}
		list->all_timed = true;
	}
	if (rc)
		log_warning("%s: the entries' times could not be read; they go without attributes "
			 "(%s)", list->head.path ? list->head.path : "a stuck listing", strerror(-rc));
	for (size_t i = t.from; i < t.to; i++)
		if (list->entries[i].mtime.tv_nsec == MTIME_LATER)
			list->entries[i].mtime.tv_nsec = MTIME_NONE;
	list->timed_until = t.to;
}

/* Offsets are entry indexes plus one: libfuse passes attributes to the
 * kernel (readdirplus) only for entries given with a non-zero offset. */
static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct listing *list = (struct listing *)(uintptr_t)fi->fh;
	bool plus = (flags & FUSE_READDIR_PLUS) != 0;
	struct stat stbuf;

	(void)path;
	if (!list)
		return -EBADF;
	if (plus && list->stuck_type && (size_t)offset < list->count)
		listing_times(list, (size_t)offset);
	for (size_t i = (size_t)offset; i < list->count; i++) {
		const struct listing_entry *e = &list->entries[i];
		enum fuse_fill_dir_flags with = FUSE_FILL_DIR_PLUS;

		if (e->mtime.tv_nsec < 0) {
			/* Times not read yet: a reply may end short (not
			 * empty: listing_times read the first one's), and the
			 * kernel asks again from here. */
			if (plus && i >= list->timed_until)
				break;
			with = 0;
		}
		fill_stat(&stbuf, e->mode, e->size, e->mtime.tv_nsec < 0 ? (struct timespec){ 0, 0 } : e->mtime);
		stbuf.st_uid = e->uid;
		stbuf.st_gid = e->gid;
		/* libfuse numbers every entry but "." and ".."; a zero d_ino
		 * would make readdir(3) skip them, so they get libfuse's own
		 * "unknown" number. */
		stbuf.st_ino = 0xffffffff;
		if (filler(buf, list->names + e->name_off, &stbuf, (off_t)(i + 1), with))
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

/* Whether path is dir or lies under it ("/cleanup" holds "/cleanup/x",
 * not "/cleanupx"). */
static bool path_under(const char *path, const char *dir)
{
	size_t len = strlen(dir);
	return path && strncmp(path, dir, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

/* A path as a refusal names it: relative to the mount, as the operator
 * typed it after the mountpoint. */
static const char *shown(const char *path)
{
	if (!path)
		return "(an open file)";
	return path[1] ? path + 1 : "(the mount's root)";
}

/* Where a refusal's words go: the error file of the directory the call
 * names (cleanup/error, volumes/error, snapshots/error, workers/error,
 * clusters/error), and the log. Every refusal of the daemon's own goes
 * through here, so that an error file never keeps an older refusal's
 * words after a newer one; a path elsewhere (the root) has the log only. */
__attribute__((format(printf, 3, 4)))
static int refuse(const char *path, int rc, const char *fmt, ...)
{
	struct control_state *state = NULL;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path_under(path, "/cleanup"))
		state = config()->cleanup;
	else if (path_under(path, "/workers"))
		state = config()->worker_errors;
	else if (path_under(path, "/clusters"))
		state = config()->cluster_errors;
	else if (path_under(path, "/volumes"))
		state = config()->volume_errors;
	else if (path_under(path, "/snapshots"))
		state = config()->snapshot_errors;
	if (state)
		control_error_set(state, msg);
	log_info("%s", msg);
	return rc;
}

/* What may be made where, for the refusal of a create, mkdir, mknod,
 * symlink or link. */
static const char *made_how(const char *path)
{
	if (path_under(path, "/volumes"))
		return "volumes are made by writing a spec such as 'name=db1 size=10G' to "
		       "volumes/create";
	if (path_under(path, "/snapshots"))
		return "snapshots are made by writing 'volume_id=<uuid> name=s1' to snapshots/create";
	if (path_under(path, "/cleanup"))
		return "the only things made here are regular files and lock directories "
		       "directly in cleanup/, named with 'request' (config-management tools' "
		       "temporary files)";
	return "the mount shows the database's state, and nothing can be made here";
}

/* A call the database could not be opened for. */
static int refuse_store(const char *path, const char *what, int rc, const struct cf_err *err)
{
	return refuse(path, rc, "%s %s: the database cannot be opened: %s", what, shown(path),
		      err->msg);
}

/* A scratch call's refusal. EEXIST and ENOENT are answers, not refusals:
 * a tool's O_EXCL create or lock mkdir that finds the name taken (Puppet
 * waits on its request.lock that way) must not overwrite the words of the
 * last real refusal in cleanup/error. */
static int refuse_err(int rc, const struct cf_err *err)
{
	return rc == -EEXIST || rc == -ENOENT ? rc : refuse("/cleanup", rc, "%s", err->msg);
}

/* An open file handle on a scratch file; takes over the reference n. */
static int attach_temp(struct scratch_node *n, const char *path, struct fuse_file_info *fi)
{
	struct handle *h = handle_new(NODE_CLEANUP_TEMP, path);

	if (!h) {
		scratch_put(config()->scratch, n);
		return -ENOMEM;
	}
	h->temp = n;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	return 0;
}

static int open_temp(const char *path, const struct path_match *m, const union object *obj,
		     struct fuse_file_info *fi)
{
	struct scratch *sc = config()->scratch;
	struct scratch_node *n;
	struct cf_err err = { "" };
	int rc;

	if (S_ISDIR(obj->temp.mode))
		return -EISDIR;
	rc = scratch_find(sc, m->temp, &n);
	if (rc)
		return rc;
	if ((fi->flags & O_TRUNC) && (rc = scratch_truncate(sc, n, 0, &err)) != 0) {
		scratch_put(sc, n);
		return refuse_err(rc, &err);
	}
	return attach_temp(n, path, fi);
}

/* An open that failed for want of the database (a path that names
 * nothing is no refusal: ENOENT says it all). */
static int open_failed(const char *path, int rc)
{
	if (rc == -ENOENT || rc == -ENAMETOOLONG)
		return rc;
	return refuse(path, rc, "open %s: %s (the daemon's log says more)", shown(path),
		      strerror(-rc));
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct path_match m;
	union object obj;
	struct view_ctx ctx;
	BORROWED struct store *st = NULL;
	struct handle *h;
	int rc = resolve(path, &m, &obj, &ctx, &st);

	if (rc)
		return open_failed(path, rc);
	if (m.rule->kind == NODE_CLEANUP_TEMP)
		return open_temp(path, &m, &obj, fi);
	if (m.rule->type == NT_DIR)
		return -EISDIR;
	/* Only the control files take writes; their O_TRUNC (from '>') is a
	 * no-op: one write() is one whole spec. */
	if (((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) &&
	    !takes_writes(m.rule->kind) && !actions_writable(&m))
		return refuse(path, -EACCES, "open %s for writing: it is read-only; only "
			      "cleanup/request, cleanup/preview, volumes/create, snapshots/create and "
			      "the admin actions' files (README: Admin actions) take writes",
			      shown(path));
	/* The kernel checks the mode (default_permissions); the secret is
	 * not left to that alone. */
	if (m.rule->kind == NODE_VOLUME_CONNECTION && fuse_get_context()->uid != 0 &&
	    !(config()->connection_mode & 0040))
		return refuse(path, -EACCES, "open %s: only root reads a volume's connection (its "
			      "CHAP secret); connection_readers = admin lets the admin group read it too",
			      shown(path));
	h = handle_new(m.rule->kind, path);
	if (!h)
		return -ENOMEM;
	h->admin = actions_writable(&m);
	h->request_id = m.request_id;
	h->nonblock = (fi->flags & O_NONBLOCK) != 0;
	if (m.rule->kind == NODE_HISTORY_PROGRESS) {
		/* Its generation is the render's own (one snapshot): a change
		 * after it shows as one more change, never as none. */
		struct cleanup_doc *doc;
		rc = cleanup_progress_open(st, m.request_id, &doc);
		if (rc == 0)
			handle_set_doc(h, doc);
	} else if (m.rule->kind == NODE_CLEANUP_RESULT || m.rule->kind == NODE_HISTORY_RESULT) {
		rc = cleanup_result_open(st, &m, &h->result_id, &h->len, &h->mtime);
		if (rc == 1)
			rc = render(st, &m, &obj, &ctx, &h->data, &h->len, &h->mtime);
	} else if (m.rule->kind == NODE_CLEANUP_REQUEST && (fi->flags & O_ACCMODE) == O_WRONLY) {
		/* A writer that cannot read (`echo spec > request`) is not
		 * given the spec's read, which counts what it would reach. */
		h->data = strdup("");
		rc = h->data ? 0 : -ENOMEM;
		h->mtime = config()->started;
	} else {
		rc = render(st, &m, &obj, &ctx, &h->data, &h->len, &h->mtime);
	}
	if (rc) {
		handle_free(config(), h);
		return open_failed(path, rc);
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	/* Generated content: no page cache, reads go to the snapshot. */
	fi->direct_io = 1;
	return 0;
}

/* A file's content rendered anew (h->lock held, or before the handle is
 * seen): a progress.json document, whose text, time and generation the
 * handle now holds; the one held before is let go. */
static void handle_set_doc(struct handle *h, struct cleanup_doc *doc)
{
	struct cleanup_doc *old = h->doc;

	if (!old)
		free(h->data); /* wait's empty text until it was read */
	h->doc = doc;
	h->data = NULL;
	h->len = doc->json.len;
	h->mtime = doc->mtime;
	h->generation = doc->json.summary.generation;
	cleanup_progress_close(old);
}

/* A waiting reader stops when it is interrupted (Ctrl-C), and when the
 * daemon is stopping: libfuse joins every request's thread before it
 * unmounts, and must not wait out a wait_timeout. */
static bool request_interrupted(void)
{
	return fuse_interrupted() ||
	       fuse_session_exited(fuse_get_session(fuse_get_context()->fuse));
}

/* A read of a history file that failed: its request is gone (pruned), or
 * the database failed. A reader that was interrupted gave up itself (or
 * the daemon is stopping): that is no refusal. */
static int read_failed(const struct handle *h, int rc, const struct cf_err *err)
{
	const char *path = h->head.path ? h->head.path : "/cleanup";

	if (rc == -EINTR)
		return rc;
	if (rc == -ENOENT)
		return refuse(path, rc, "read %s: request %lld is no longer in cleanup/history",
			      shown(h->head.path), (long long)h->request_id);
	if (err && err->msg[0])
		return refuse_store(path, "read", rc, err);
	return refuse(path, rc, "read %s: %s (the daemon's log says more)", shown(h->head.path),
		      strerror(-rc));
}

/* The kernel's cached attributes of a resource a request reached (its
 * stuck/ entry, its volumes/ or snapshots/ directory) are dropped. An
 * inode the kernel does not have is nothing to drop (-ENOENT). */
static int forget_resource(void *ctx, const struct progress_row *r)
{
	struct fuse *f = ctx;
	bool volume = strcmp(r->resource_type, "Volume") == 0;
	char path[NAME_LEN + 32];

	snprintf(path, sizeof(path), "/stuck/%s/%s", volume ? "volume" : "snapshot", r->resource_id);
	fuse_invalidate_path(f, path);
	snprintf(path, sizeof(path), "/%s/%s", volume ? "volumes" : "snapshots", r->resource_id);
	fuse_invalidate_path(f, path);
	return 0;
}

/* wait's first read: block until the request's jobs have all ended (or
 * wait_timeout, or the reader gives up), then hold its final progress.
 * The wait and the render run without h->lock: poll, fstat and lseek of
 * the same open file take it, and must never queue behind a reader that
 * blocks for up to cleanup_wait_timeout (a FUSE thread held there cannot
 * be let go by an interrupt). Two first reads at once both wait; the
 * first to finish installs its render. */
static int wait_done(struct handle *h)
{
	const struct fs_config *cfg = config();
	struct cf_err err = { "" };
	BORROWED struct store *st = NULL;
	struct timespec deadline;
	struct cleanup_doc *doc;
	int64_t generation, unfinished;
	bool waited;
	int rc;

	pthread_mutex_lock(&h->lock);
	waited = h->waited;
	pthread_mutex_unlock(&h->lock);
	if (waited)
		return 0;
	rc = thread_store(&st, &err);
	if (rc)
		return read_failed(h, rc, &err);
	rc = store_request_watch(st, h->request_id, &generation, &unfinished);
	if (rc == 0 && unfinished > 0) {
		if (h->nonblock)
			return refuse("/cleanup", -EAGAIN, "cleanup/history/%0*lld/wait: request %lld "
				      "still has jobs queued or running, and the file was opened "
				      "O_NONBLOCK, so its read does not wait; poll() it for POLLIN, "
				      "or read it without O_NONBLOCK", HISTORY_NAME_WIDTH,
				      (long long)h->request_id, (long long)h->request_id);
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += cfg->wait_timeout;
		log_debug("request %lld: a reader waits for %lld job(s)", (long long)h->request_id,
			  (long long)unfinished);
		store_return(&st); /* not held while waiting */
		rc = watch_wait(cfg->watch, h->request_id, &deadline, request_interrupted);
		if (rc == -ETIMEDOUT)
			return refuse("/cleanup", rc, "cleanup/history/%0*lld/wait: request %lld still "
				      "has jobs queued or running after %d s (cleanup_wait_timeout); "
				      "progress.json shows which", HISTORY_NAME_WIDTH,
				      (long long)h->request_id, (long long)h->request_id,
				      cfg->wait_timeout);
		if (rc == -EAGAIN)
			return refuse("/cleanup", rc, "cleanup/history/%0*lld/wait: too many readers "
				      "already wait (the limit, cleanup_wait_max); try again later",
				      HISTORY_NAME_WIDTH, (long long)h->request_id);
	}
	if (rc == 0 && !st)
		rc = thread_store(&st, &err);
	if (rc == 0)
		rc = cleanup_progress_open(st, h->request_id, &doc);
	if (rc)
		return read_failed(h, rc, NULL);
	/* What the request changed reads fresh the moment wait returns: the
	 * kernel's cached attributes of those paths are dropped, so a
	 * `test -e stuck/volume/<id>` right after asks the daemon. */
	store_list_progress(st, h->request_id, forget_resource, fuse_get_context()->fuse);
	pthread_mutex_lock(&h->lock);
	if (h->waited) {
		cleanup_progress_close(doc); /* another read of this file got there first */
	} else {
		handle_set_doc(h, doc);
		h->waited = true;
	}
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* progress.json read again from the start: the request as it is now (the
 * same document when nothing changed, rendered anew when something did),
 * with h->lock taken only to swap it in (a slow database must not hold
 * up a poll of the same file). */
static int progress_again(struct handle *h)
{
	struct cf_err err = { "" };
	BORROWED struct store *st = NULL;
	struct cleanup_doc *doc;
	int rc = thread_store(&st, &err);

	if (rc == 0)
		rc = cleanup_progress_open(st, h->request_id, &doc);
	if (rc)
		return read_failed(h, rc, &err);
	pthread_mutex_lock(&h->lock);
	handle_set_doc(h, doc);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

/* Whether this read of progress.json renders anew: one at offset 0 after
 * the first read was answered. */
static bool progress_rereads(struct handle *h, off_t offset)
{
	bool served;

	if (h->kind != NODE_HISTORY_PROGRESS || offset != 0)
		return false;
	pthread_mutex_lock(&h->lock);
	served = h->served;
	pthread_mutex_unlock(&h->lock);
	return served;
}

/* A request's result, read by the pieces a range covers (its length
 * never changes once accepted): n bytes at pos, nothing kept. */
static int read_result(const struct handle *h, int64_t id, size_t pos, char *buf, size_t n)
{
	struct store *st = NULL;
	struct cf_err err = { "" };
	size_t got = 0;
	int rc;

	rc = thread_store(&st, &err);
	if (rc)
		return read_failed(h, rc, &err);
	rc = store_read_result(st, id, (uint64_t)pos, buf, n, &got);
	store_return(&st);
	if (rc == 0 && got != n) {
		log_error("%s: request %lld's result has %zu of the %zu bytes at offset %zu its "
			  "size promises (cleanup_results is missing a piece)", h->head.path,
			  (long long)id, got, n, pos);
		rc = -EIO;
	}
	if (rc)
		return read_failed(h, rc, &err);
	return 0;
}

/* A read served from the open file's content: its render, its shared
 * progress.json, or its text in data followed, from result_at, by a
 * request's result read by pieces. h->lock is held only to copy: nothing
 * that can block (the wait, the database) runs under it. */
static int serve(struct handle *h, char *buf, size_t size, off_t offset)
{
	int64_t result_id = 0;
	size_t head = 0, result_pos = 0;
	int rc;

	pthread_mutex_lock(&h->lock);
	h->served = true;
	if (h->answered) {
		/* The answer's first read says where it starts: right
		 * after the write (`read <&3`), or back at 0 (a seek). */
		if (h->origin < 0)
			h->origin = offset >= h->answer_base ? h->answer_base : 0;
		offset -= h->origin;
	}
	if (offset < 0 || (size_t)offset >= h->len)
		size = 0;
	else if (size > h->len - (size_t)offset)
		size = h->len - (size_t)offset;
	if (size && h->doc) {
		size = progress_json_read(&h->doc->json, buf, size, offset);
	} else if (size && !h->result_id) {
		memcpy(buf, h->data + offset, size);
	} else if (size) {
		if ((size_t)offset < h->result_at) {
			head = h->result_at - (size_t)offset;
			if (head > size)
				head = size;
			memcpy(buf, h->data + offset, head);
		}
		result_id = h->result_id;
		result_pos = (size_t)offset + head - h->result_at;
	}
	pthread_mutex_unlock(&h->lock);
	if (size > head && result_id) {
		rc = read_result(h, result_id, result_pos, buf + head, size - head);
		if (rc)
			return rc;
	}
	return (int)size;
}

static int fs_read(const char *path, char *buf, size_t size, off_t offset,
		   struct fuse_file_info *fi)
{
	struct handle *h = file_of(fi);
	int rc = 0;

	(void)path;
	if (!h)
		return -EBADF;
	if (h->temp)
		return scratch_read(config()->scratch, h->temp, buf, size, offset);
	if (h->kind == NODE_HISTORY_WAIT)
		rc = wait_done(h);
	else if (progress_rereads(h, offset))
		rc = progress_again(h);
	if (rc)
		return rc;
	return serve(h, buf, size, offset);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	handle_free(config(), file_of(fi));
	return 0;
}

/* Nothing is buffered: every accepted write is already committed. */
static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path; (void)datasync; (void)fi;
	return 0;
}

static void pollhandle_notify(void *ph)
{
	fuse_notify_poll(ph);
}

static void pollhandle_destroy(void *ph)
{
	fuse_pollhandle_destroy(ph);
}

const struct watch_notifier fs_poll_notifier = { pollhandle_notify, pollhandle_destroy };

/* poll(): files are always readable (and the control files writable),
 * except wait, which is readable once the request's work has ended.
 * progress.json adds POLLPRI when it has changed since this file last
 * rendered it (read it again from offset 0), and POLLHUP once the
 * request's jobs have all ended: nothing more will change. Never blocks:
 * a poller that must wait is registered with the watch thread, which
 * notifies it. */
static int fs_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph,
		   unsigned *reventsp)
{
	struct handle *h = file_of(fi);
	unsigned rev = POLLIN | POLLRDNORM;
	BORROWED struct store *st = NULL;
	int64_t generation, unfinished, seen;
	bool waited;
	int rc;

	(void)path;
	if (!h || (h->kind != NODE_HISTORY_PROGRESS && h->kind != NODE_HISTORY_WAIT)) {
		if (h && (h->temp || h->admin || takes_writes(h->kind)))
			rev |= POLLOUT | POLLWRNORM;
		goto out;
	}
	rc = thread_store(&st, NULL);
	if (rc == 0)
		rc = store_request_watch(st, h->request_id, &generation, &unfinished);
	if (rc) {
		/* Gone (pruned) or unreadable: nothing more will come. */
		rev |= rc == -ENOENT ? POLLHUP : POLLERR;
		goto out;
	}
	pthread_mutex_lock(&h->lock);
	seen = h->generation;
	waited = h->waited;
	pthread_mutex_unlock(&h->lock);
	if (h->kind == NODE_HISTORY_PROGRESS) {
		if (generation != seen)
			rev |= POLLPRI;
		if (unfinished == 0)
			rev |= POLLHUP;
	} else if (unfinished > 0 && !waited) {
		rev = 0;
		seen = generation;
	}
	if (ph && (h->kind == NODE_HISTORY_PROGRESS ? !(rev & (POLLPRI | POLLHUP)) : rev == 0)) {
		/* Nothing new yet: the watch thread tells the kernel when. */
		watch_poll(config()->watch, h, h->request_id, seen, ph);
		ph = NULL;
	}
out:
	if (ph)
		fuse_pollhandle_destroy(ph);
	*reventsp = rev;
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

/* The one place things can be made: cleanup/, for the temporary files and
 * lock directories of config-management tools. */
static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_context *fc = fuse_get_context();
	struct scratch_node *n;
	struct path_match m;
	struct cf_err err = { "" };
	int rc;

	if (paths_match(path, &m) != 0 || m.rule->kind != NODE_CLEANUP_TEMP)
		return refuse(path, -EACCES, "create %s: %s", shown(path), made_how(path));
	rc = scratch_create(config()->scratch, m.temp, mode, fc->uid, fc->gid, fi->flags, &n, &err);
	if (rc)
		return refuse_err(rc, &err);
	rc = attach_temp(n, path, fi);
	if (rc)
		scratch_remove(config()->scratch, m.temp, false); /* not left half made */
	return rc;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct fuse_context *fc = fuse_get_context();
	struct path_match m;
	struct cf_err err = { "" };
	int rc;

	if (paths_match(path, &m) != 0 || m.rule->kind != NODE_CLEANUP_TEMP)
		return refuse(path, -EACCES, "mkdir %s: %s", shown(path), made_how(path));
	rc = scratch_mkdir(config()->scratch, m.temp, mode, fc->uid, fc->gid, &err);
	return rc ? refuse_err(rc, &err) : 0;
}

/* Device nodes, FIFOs, symlinks and hard links are never made, not even
 * in cleanup/ (tools make regular files and directories there). */
static int deny_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)dev;
	return refuse(path, -EACCES, "mknod %s (%s): %s", shown(path),
		      S_ISFIFO(mode) ? "a FIFO" : S_ISSOCK(mode) ? "a socket" :
		      S_ISCHR(mode) || S_ISBLK(mode) ? "a device node" : "a file",
		      made_how(path));
}

static int deny_symlink(const char *target, const char *path)
{
	return refuse(path, -EACCES, "symlink %s -> %s: %s", shown(path), target, made_how(path));
}

static int deny_link(const char *from, const char *path)
{
	return refuse(path, -EACCES, "link %s to %s: %s", shown(path), shown(from), made_how(path));
}

static int fs_unlink(const char *path)
{
	struct path_match m;

	if (paths_match(path, &m) != 0 || m.rule->kind != NODE_CLEANUP_TEMP)
		return refuse(path, -EACCES, "unlink %s: the mount's own files cannot be removed; "
			      "only the temporary files in cleanup/ can", shown(path));
	return scratch_remove(config()->scratch, m.temp, false);
}

/* rename: a temporary file over cleanup/request applies its content as a
 * spec, exactly as one write() of it would, and rename() answers as that
 * write would have; the temporary file is consumed either way. Within
 * the scratch area, names move freely; control files keep theirs. */
static int fs_rename(const char *from, const char *to, unsigned int flags)
{
	struct fuse_context *fc = fuse_get_context();
	struct path_match a, b;
	struct cf_err err = { "" };
	BORROWED struct store *st = NULL;
	char *spec;
	size_t len;
	int rc;

	if (paths_match(from, &a) != 0)
		return -ENOENT;
	if (a.rule->kind != NODE_CLEANUP_TEMP)
		return refuse(from, -EACCES, "rename %s: the mount's own files keep their names",
			      from + 1);
	if (paths_match(to, &b) != 0)
		b.rule = NULL;
	if (b.rule && b.rule->kind == NODE_CLEANUP_TEMP) {
		rc = scratch_rename(config()->scratch, a.temp, b.temp, flags, &err);
		return rc ? refuse_err(rc, &err) : 0;
	}
	if (!b.rule || b.rule->kind != NODE_CLEANUP_REQUEST)
		return refuse(from, -EACCES, "rename %s to %s: a temporary file of cleanup/ can "
			      "replace cleanup/request only", from + 1, to + 1);
	if (flags & RENAME_EXCHANGE)
		return refuse(from, -EINVAL, "rename %s: cleanup/request cannot be exchanged; "
			      "rename over it", from + 1);
	if (flags & RENAME_NOREPLACE)
		return refuse(from, -EEXIST, "rename %s to cleanup/request: RENAME_NOREPLACE, and "
			      "cleanup/request always exists; rename over it", from + 1);
	rc = scratch_take(config()->scratch, a.temp, &spec, &len);
	if (rc)
		return rc;
	rc = thread_store(&st, &err);
	if (rc == 0)
		rc = cleanup_write(st, config(), spec, len, fc->uid, fc->pid, NULL);
	else
		refuse_store("/cleanup/request", "rename over", rc, &err);
	free(spec);
	return rc < 0 ? rc : 0;
}

/* rmdir volumes/<uuid> and snapshots/<uuid> delete them (the work goes to
 * their worker), workers/<id> removes a retired worker's row,
 * clusters/<name> a cluster with no workers, and a lock directory of
 * cleanup/ goes; nothing else may be removed. */
static int fs_rmdir(const char *path)
{
	struct path_match m;
	struct cf_err err = { "" };
	BORROWED struct store *st = NULL;
	int rc = paths_match(path, &m);

	if (rc)
		return rc;
	if (m.rule->kind == NODE_CLEANUP_TEMP)
		return scratch_remove(config()->scratch, m.temp, true);
	if (m.rule->kind != NODE_VOLUME && m.rule->kind != NODE_SNAPSHOT &&
	    m.rule->kind != NODE_WORKER && m.rule->kind != NODE_CLUSTER)
		return refuse(path, -EACCES, "rmdir %s: only volumes/<uuid>, snapshots/<uuid>, "
			      "workers/<id> of a retired worker, clusters/<name> with no workers and "
			      "lock directories in cleanup/ can be removed", shown(path));
	rc = thread_store(&st, &err);
	if (rc)
		return refuse_store(path, "rmdir", rc, &err);
	if (m.rule->kind == NODE_CLUSTER)
		return actions_remove_cluster(st, config(), m.cluster, fuse_get_context()->uid);
	if (m.rule->kind == NODE_WORKER) {
		/* A retired worker's row, which would otherwise block cleanups
		 * as an "upgrade" forever. */
		struct view_ctx ctx;
		struct timespec bound;

		view_now(&ctx);
		liveness_bound(&ctx.now, ctx.down_time, &bound);
		rc = store_remove_service(st, m.worker_id, &bound, &ctx.now, &err);
		return rc ? refuse(path, rc, "rmdir %s: %s", shown(path), err.msg) : 0;
	}
	return m.rule->kind == NODE_VOLUME ? volumes_delete(st, config(), m.uuid)
					   : snapshots_delete(st, config(), m.uuid);
}

/* The scratch entry a call names, by open file or by path: t->node is
 * NULL when the call names something else. */
struct target {
	struct scratch_node *node;
	bool owned; /* found by path: a reference to put */
};

static int scratch_target(const char *path, struct fuse_file_info *fi, struct target *t)
{
	struct path_match m;
	int rc;

	*t = (struct target){ NULL, false };
	if (file_of(fi)) {
		t->node = file_of(fi)->temp;
		return 0;
	}
	if (fi && fi->fh)
		return 0; /* an open directory: never a scratch file */
	if (!path || paths_match(path, &m) != 0)
		return -ENOENT;
	if (m.rule->kind != NODE_CLEANUP_TEMP)
		return 0;
	rc = scratch_find(config()->scratch, m.temp, &t->node);
	t->owned = rc == 0;
	return rc;
}

static void target_done(struct target *t)
{
	if (t->owned)
		scratch_put(config()->scratch, t->node);
}

/* chmod, chown and utimens keep the mount's own files as they are: a call
 * that would change nothing succeeds (tools that copy the target's owner
 * and mode back after replacing it), any other is refused with EPERM.
 * Scratch entries are their creators' to change. */
struct attr_change {
	const char *what;  /* for the message: chmod, chown, utimens */
	bool (*same)(const struct stat *st, const struct attr_change *c);
	void (*apply)(struct scratch_node *n, const struct attr_change *c);
	mode_t mode;
	uid_t uid;
	gid_t gid;
	const struct timespec *tv;
};

static int change_attr(const char *path, struct fuse_file_info *fi, const struct attr_change *c)
{
	struct target t;
	struct stat st;
	int rc = scratch_target(path, fi, &t);

	if (rc)
		return rc;
	if (t.node) {
		c->apply(t.node, c);
		target_done(&t);
		return 0;
	}
	rc = fs_getattr(path, &st, fi);
	if (rc)
		return rc;
	if (c->same(&st, c))
		return 0;
	path = call_path(path, fi);
	return refuse(path, -EPERM, "%s %s: the mount's own files keep their owner (root:%u), "
		      "mode (%04o) and times", c->what, shown(path),
		      (unsigned)config()->admin_gid, (unsigned)(st.st_mode & 07777));
}

static bool same_mode(const struct stat *st, const struct attr_change *c)
{
	return (st->st_mode & 07777) == (c->mode & 07777);
}

static void apply_mode(struct scratch_node *n, const struct attr_change *c)
{
	scratch_chmod(config()->scratch, n, c->mode);
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct attr_change c = { .what = "chmod", .same = same_mode, .apply = apply_mode,
				 .mode = mode };
	return change_attr(path, fi, &c);
}

static bool same_owner(const struct stat *st, const struct attr_change *c)
{
	return (c->uid == (uid_t)-1 || c->uid == st->st_uid) &&
	       (c->gid == (gid_t)-1 || c->gid == st->st_gid);
}

static void apply_owner(struct scratch_node *n, const struct attr_change *c)
{
	scratch_chown(config()->scratch, n, c->uid, c->gid);
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct attr_change c = { .what = "chown", .same = same_owner, .apply = apply_owner,
				 .uid = uid, .gid = gid };
	return change_attr(path, fi, &c);
}

static bool same_time(const struct timespec *want, const struct timespec *have)
{
	return want->tv_nsec == UTIME_OMIT ||
	       (want->tv_nsec != UTIME_NOW && want->tv_sec == have->tv_sec &&
		want->tv_nsec == have->tv_nsec);
}

/* NULL times are "now": always a change. */
static bool same_times(const struct stat *st, const struct attr_change *c)
{
	return c->tv && same_time(&c->tv[0], &st->st_atim) && same_time(&c->tv[1], &st->st_mtim);
}

static void apply_times(struct scratch_node *n, const struct attr_change *c)
{
	scratch_utimens(config()->scratch, n, c->tv);
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct attr_change c = { .what = "utimens", .same = same_times, .apply = apply_times,
				 .tv = tv };
	return change_attr(path, fi, &c);
}

/* truncate: '>' truncates a control file before writing, a no-op there;
 * a scratch file is a file. */
static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct path_match m;
	enum node_kind kind;
	struct target t;
	struct cf_err err = { "" };
	int rc = scratch_target(path, fi, &t);

	if (rc)
		return rc;
	if (t.node) {
		rc = scratch_truncate(config()->scratch, t.node, size, &err);
		target_done(&t);
		return rc ? refuse_err(rc, &err) : 0;
	}
	if (file_of(fi)) {
		kind = file_of(fi)->kind;
		if (file_of(fi)->admin)
			return 0;
	} else if (path && paths_match(path, &m) == 0) {
		kind = m.rule->kind;
		if (actions_writable(&m))
			return 0;
	} else {
		return -ENOENT;
	}
	if (takes_writes(kind))
		return 0;
	path = call_path(path, fi);
	return refuse(path, -EACCES, "truncate %s: it is read-only", shown(path));
}

/* The answer a write leaves in its open file: text (malloc'd, taken
 * over; NULL: none, a refused write), followed by request result_id's
 * result of result_bytes when result_id is not 0; it starts where the
 * write left the offset. */
static void set_answer(struct handle *h, char *text, size_t len, int64_t result_id,
		       int64_t result_bytes, off_t end)
{
	char *old;

	pthread_mutex_lock(&h->lock);
	old = h->data;
	h->data = text;
	h->len = text ? len + (size_t)result_bytes : 0;
	h->result_id = text ? result_id : 0;
	h->result_at = len;
	h->answered = true;
	h->answer_base = end;
	h->origin = -1;
	dbtime_now(&h->mtime);
	pthread_mutex_unlock(&h->lock);
	free(old);
}

/* A request's answer: its number on a line, then its result, byte for
 * byte what cleanup/history/<n>/result holds. */
static void answer_request(struct store *st, struct handle *h, int64_t id, off_t end)
{
	struct request_summary sum;
	char *line = malloc(32);
	int rc;

	if (!line) {
		set_answer(h, NULL, 0, 0, 0, end);
		return;
	}
	snprintf(line, 32, "%lld\n", (long long)id);
	rc = store_request_summary(st, id, &sum);
	if (rc == 0 && request_matched_none(&sum)) {
		/* Its result is the empty one: the answer says so in a key of
		 * its own, so that the number then one object still parse
		 * (read -r n; jq .cleaning), and a script can test .note. */
		static const char note[] = "{\n  \"cleaning\": [],\n  \"unavailable\": [],\n"
					   "  \"note\": \"" REQUEST_MATCHED_NONE "\"\n}\n";
		size_t n = strlen(line);
		char *text = realloc(line, n + sizeof(note));

		if (text) {
			memcpy(text + n, note, sizeof(note));
			set_answer(h, text, n + sizeof(note) - 1, 0, 0, end);
			return;
		}
	}
	if (rc) {
		/* Committed all the same: the number alone. */
		log_warning("cleanup request %lld: its result's size could not be read for its "
			    "writer's answer (%s); the answer has its number only", (long long)id,
			    strerror(-rc));
		sum.result_bytes = 0;
	}
	set_answer(h, line, strlen(line), rc ? 0 : id, sum.result_bytes, end);
}

/* An id on a line, for the answer of a create. */
static void answer_id(struct handle *h, const char *id, off_t end)
{
	char *line = malloc(UUID_LEN + 1);

	if (line)
		snprintf(line, UUID_LEN + 1, "%s\n", id);
	set_answer(h, line, line ? strlen(line) : 0, 0, 0, end);
}

/* One write() to a control file is one whole spec, whatever the offset
 * (so '>>' works too); its answer is the request's, and a read of the
 * same open file then gives what the write made (set_answer). */
static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *h = file_of(fi);
	struct fuse_context *fc = fuse_get_context();
	struct cf_err err = { "" };
	BORROWED struct store *st = NULL;
	char id[UUID_LEN], *text = NULL;
	size_t len = 0;
	int64_t request_id = 0;
	int rc;

	if (h && h->temp) {
		rc = scratch_write(config()->scratch, h->temp, buf, size, off, &err);
		return rc < 0 ? refuse_err(rc, &err) : rc;
	}
	path = call_path(path, fi);
	if (!h || (!takes_writes(h->kind) && !h->admin)) /* open() let no such write through */
		return refuse(path, -EACCES, "write %s: it is read-only", shown(path));
	if (h->admin) {
		/* The file it names, as it was opened. */
		struct path_match m;

		rc = thread_store(&st, &err);
		if (rc)
			return refuse_store(path, "write", rc, &err);
		if (!path || paths_match(path, &m) != 0)
			return refuse(path, -EIO, "write %s: the file's path is unknown",
				      shown(path));
		return actions_write(st, config(), &m, buf, size, fc->uid);
	}
	if (h->kind == NODE_HISTORY_CANCEL) {
		rc = thread_store(&st, &err);
		if (rc)
			return refuse_store(path, "write", rc, &err);
		return cleanup_cancel(st, config(), h->request_id, buf, size, fc->uid);
	}
	rc = thread_store(&st, &err);
	if (rc) {
		set_answer(h, NULL, 0, 0, 0, off);
		return refuse_store(path, "write", rc, &err);
	}
	switch (h->kind) {
	case NODE_VOLUMES_CREATE:
		rc = volumes_create(st, config(), buf, size, id);
		break;
	case NODE_SNAPSHOTS_CREATE:
		rc = snapshots_create(st, config(), buf, size, id);
		break;
	case NODE_CLEANUP_PREVIEW:
		rc = cleanup_preview(st, config(), buf, size, fc->uid, fc->pid, &text, &len);
		break;
	default:
		rc = cleanup_write(st, config(), buf, size, fc->uid, fc->pid, &request_id);
		break;
	}
	/* A refused write leaves nothing to read: EOF. */
	if (rc < 0)
		set_answer(h, NULL, 0, 0, 0, off);
	else if (h->kind == NODE_CLEANUP_PREVIEW)
		set_answer(h, text, len, 0, 0, off + rc);
	else if (h->kind == NODE_CLEANUP_REQUEST)
		answer_request(st, h, request_id, off + rc);
	else
		answer_id(h, id, off + rc);
	return rc;
}

void fs_release_all(const struct fs_config *cfg)
{
	overview_forget();
	pthread_mutex_lock(&open_lock);
	while (open_list.next != &open_list) {
		struct open_head *o = open_list.next;
		pthread_mutex_unlock(&open_lock);
		if (o->magic == HANDLE_MAGIC)
			handle_free(cfg, (struct handle *)o);
		else
			listing_free((struct listing *)o);
		pthread_mutex_lock(&open_lock);
	}
	pthread_mutex_unlock(&open_lock);
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = FS_CACHE_TIMEOUT;
	cfg->attr_timeout = FS_CACHE_TIMEOUT;
	cfg->negative_timeout = FS_CACHE_TIMEOUT;
	cfg->use_ino = 0;
	cfg->kernel_cache = 0;
	/* A rename over cleanup/request while someone has it open must not
	 * make libfuse hide the open file under a .fuse_hidden name (our own
	 * rename would refuse that); open files are served by handle, so no
	 * operation on an open file needs its path. */
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 1;
	return fuse_get_context()->private_data;
}

/* The database unreachable (PostgreSQL over a network that dropped) is
 * EIO to the caller, with the engine's words in the log: ENOTCONN would
 * read as "Transport endpoint is not connected", which on a FUSE mount
 * means the daemon is gone, and it is not. */
static int db_errno_to_caller(int rc)
{
	return rc == -ENOTCONN || rc == -ECONNREFUSED || rc == -EHOSTUNREACH ? -EIO : rc;
}

/* The same for a call that changes something (or opens to): the refusal
 * is also in the directory's error file, as every refusal is. */
static int db_refusal(const char *what, const char *path, int rc)
{
	if (rc != -ENOTCONN && rc != -ECONNREFUSED && rc != -EHOSTUNREACH)
		return rc;
	return refuse(path, -EIO, "%s %s: the database cannot be reached (the daemon's log has the "
		      "server's words); nothing was changed; the daemon reconnects by itself: try "
		      "again", what, shown(path));
}

/* A lookup comes before every open: `echo spec > cleanup/request` fails
 * at its stat when the database is gone, and the refusal is said there. */
static int w_getattr(const char *path, struct stat *stbuf, struct fuse_file_info *fi)
{
	return db_refusal("stat", path, fs_getattr(path, stbuf, fi));
}

static int w_readlink(const char *path, char *buf, size_t size)
{
	return db_errno_to_caller(fs_readlink(path, buf, size));
}

static int w_opendir(const char *path, struct fuse_file_info *fi)
{
	return db_errno_to_caller(fs_opendir(path, fi));
}

static int w_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset,
		     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	return db_errno_to_caller(fs_readdir(path, buf, filler, offset, fi, flags));
}

static int w_open(const char *path, struct fuse_file_info *fi)
{
	return db_refusal("open", path, fs_open(path, fi));
}

static int w_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
	return db_errno_to_caller(fs_read(path, buf, size, offset, fi));
}

static int w_write(const char *path, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	return db_errno_to_caller(fs_write(path, buf, size, off, fi));
}

static int w_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return db_refusal("create", path, fs_create(path, mode, fi));
}

static int w_mkdir(const char *path, mode_t mode)
{
	return db_refusal("mkdir", path, fs_mkdir(path, mode));
}

static int w_unlink(const char *path)
{
	return db_refusal("unlink", path, fs_unlink(path));
}

static int w_rmdir(const char *path)
{
	return db_refusal("rmdir", path, fs_rmdir(path));
}

static int w_rename(const char *from, const char *to, unsigned int flags)
{
	return db_refusal("rename", from, fs_rename(from, to, flags));
}

static int w_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return db_refusal("truncate", path, fs_truncate(path, size, fi));
}

static int w_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph,
		  unsigned *reventsp)
{
	return db_errno_to_caller(fs_poll(path, fi, ph, reventsp));
}

static int w_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return db_errno_to_caller(fs_chmod(path, mode, fi));
}

static int w_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	return db_errno_to_caller(fs_chown(path, uid, gid, fi));
}

static int w_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	return db_errno_to_caller(fs_utimens(path, tv, fi));
}

const struct fuse_operations fs_ops = {
	.init = fs_init,
	.getattr = w_getattr,
	.readlink = w_readlink,
	.opendir = w_opendir,
	.readdir = w_readdir,
	.releasedir = fs_releasedir,
	.open = w_open,
	.read = w_read,
	.release = fs_release,
	.fsync = fs_fsync,
	.poll = w_poll,
	.statfs = fs_statfs,
	.write = w_write,
	.create = w_create,
	.mkdir = w_mkdir,
	.mknod = deny_mknod,
	.unlink = w_unlink,
	.rmdir = w_rmdir,
	.symlink = deny_symlink,
	.link = deny_link,
	.rename = w_rename,
	.chmod = w_chmod,
	.chown = w_chown,
	.truncate = w_truncate,
	.utimens = w_utimens,
};
