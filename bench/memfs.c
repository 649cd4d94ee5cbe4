/* The benchmark's baseline: a trivial in-memory FUSE filesystem with the
 * same shape as a cinderfs mount (stuck/volume/<uuid>/ and workers/<id>/
 * with the same files), the same FUSE settings (entry and attribute
 * timeouts, direct_io, readdir with offsets and attributes), and nothing
 * behind it but arrays. What cinderfs costs above this is its own.
 * cleanup/request takes any write whole and forgets it (bench/cleanup's
 * baseline for a write of a spec).
 *
 *   memfs NAMES_FILE WORKERS MOUNTPOINT
 *
 * NAMES_FILE holds the stuck volumes' UUIDs, one per line. */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char **names;
static size_t names_count;
static long workers_count;

static const char *const stuck_files[] = { "cluster_name", "host", "info.json", "status",
					    "updated_at", "worker_id" };
/* The same names as cinderfs's workers/<id>/ (fs/view.c and the capacity
 * file): `find workers` walks as many entries on both. */
static const char *const worker_files[] = { "binary", "capacity", "cluster_name", "disabled",
					     "disabled_reason", "host", "info.json", "is_up",
					     "updated_at", "version" };
static const char stuck_json[] =
	"{\n  \"resource_type\": \"Volume\",\n  \"resource_id\": "
	"\"00000000-0000-4000-8000-000000000000\",\n  \"status\": \"creating\",\n"
	"  \"worker_id\": 1,\n  \"host\": \"node1@lvm\",\n  \"cluster_name\": \"c1@lvm\",\n"
	"  \"updated_at\": \"2026-11-25T10:00:00Z\"\n}\n";
static const char worker_json[] =
	"{\n  \"id\": 1,\n  \"host\": \"node1@lvm\",\n  \"binary\": \"cinder-volume\",\n"
	"  \"cluster_name\": \"c1@lvm\",\n  \"disabled\": false,\n  \"is_up\": false,\n"
	"  \"updated_at\": \"2026-11-25T10:00:00Z\",\n  \"version\": \"1.0\"\n}\n";
static const char value[] = "node1@lvm\n";

enum kind { K_NONE, K_DIR, K_FILE, K_CONTROL };

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool known(const char *name, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
			return true;
	return false;
}

/* Classify a path; *content is the file's text. */
static enum kind classify(const char *path, const char **content)
{
	char key[64];
	const char *rest, *slash;

	*content = NULL;
	if (!strcmp(path, "/") || !strcmp(path, "/stuck") || !strcmp(path, "/stuck/volume") ||
	    !strcmp(path, "/workers") || !strcmp(path, "/cleanup"))
		return K_DIR;
	if (!strcmp(path, "/cleanup/request")) {
		*content = "";
		return K_CONTROL;
	}
	if (!strncmp(path, "/stuck/volume/", 14)) {
		rest = path + 14;
		slash = strchr(rest, '/');
		size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
		char *k = key;
		if (len >= sizeof(key))
			return K_NONE;
		memcpy(key, rest, len);
		key[len] = '\0';
		if (!bsearch(&k, names, names_count, sizeof(*names), by_name))
			return K_NONE;
		if (!slash)
			return K_DIR;
		if (!known(slash + 1, strlen(slash + 1), stuck_files, 6))
			return K_NONE;
		*content = strcmp(slash + 1, "info.json") ? value : stuck_json;
		return K_FILE;
	}
	if (!strncmp(path, "/workers/", 9)) {
		char *end;
		long id = strtol(path + 9, &end, 10);
		if (end == path + 9 || id < 1 || id > workers_count)
			return K_NONE;
		if (*end == '\0')
			return K_DIR;
		if (*end != '/' || !known(end + 1, strlen(end + 1), worker_files, 8))
			return K_NONE;
		*content = strcmp(end + 1, "info.json") ? value : worker_json;
		return K_FILE;
	}
	return K_NONE;
}

static void fill(struct stat *st, enum kind k, const char *content)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = k == K_DIR ? (S_IFDIR | 0550) : k == K_CONTROL ? (S_IFREG | 0660) : (S_IFREG | 0440);
	st->st_nlink = k == K_DIR ? 2 : 1;
	st->st_size = content ? (off_t)strlen(content) : 0;
	st->st_ino = 0xffffffff;
}

static int m_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	const char *content;
	enum kind k = classify(path, &content);
	(void)fi;
	if (k == K_NONE)
		return -ENOENT;
	fill(st, k, content);
	return 0;
}

static int m_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	const char *content;
	struct stat st;
	char name[32];
	size_t n = 0;
	(void)fi;
	(void)flags;

	if (classify(path, &content) != K_DIR)
		return -ENOTDIR;
#define EMIT(nm, k, c)                                                                      \
	do {                                                                                \
		if ((off_t)n++ >= off) {                                                    \
			fill(&st, k, c);                                                    \
			if (filler(buf, nm, &st, (off_t)n, FUSE_FILL_DIR_PLUS))             \
				return 0;                                                   \
		}                                                                           \
	} while (0)
	EMIT(".", K_DIR, NULL);
	EMIT("..", K_DIR, NULL);
	if (!strcmp(path, "/")) {
		EMIT("cleanup", K_DIR, NULL);
		EMIT("stuck", K_DIR, NULL);
		EMIT("workers", K_DIR, NULL);
	} else if (!strcmp(path, "/cleanup")) {
		EMIT("request", K_CONTROL, "");
	} else if (!strcmp(path, "/stuck")) {
		EMIT("volume", K_DIR, NULL);
	} else if (!strcmp(path, "/stuck/volume")) {
		for (size_t i = 0; i < names_count; i++)
			EMIT(names[i], K_DIR, NULL);
	} else if (!strcmp(path, "/workers")) {
		for (long i = 1; i <= workers_count; i++) {
			snprintf(name, sizeof(name), "%ld", i);
			EMIT(name, K_DIR, NULL);
		}
	} else if (!strncmp(path, "/workers/", 9)) {
		for (size_t i = 0; i < 8; i++)
			EMIT(worker_files[i], K_FILE, strcmp(worker_files[i], "info.json") ? value : worker_json);
	} else {
		for (size_t i = 0; i < 6; i++)
			EMIT(stuck_files[i], K_FILE, strcmp(stuck_files[i], "info.json") ? value : stuck_json);
	}
	return 0;
}

static int m_open(const char *path, struct fuse_file_info *fi)
{
	const char *content;
	enum kind k = classify(path, &content);
	if (k != K_FILE && k != K_CONTROL)
		return -ENOENT;
	if (k == K_FILE && (fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	fi->fh = (uint64_t)(uintptr_t)content;
	fi->direct_io = 1;
	return 0;
}

static int m_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	const char *content = (const char *)(uintptr_t)fi->fh;
	size_t len = strlen(content);
	(void)path;
	if ((size_t)off >= len)
		return 0;
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	memcpy(buf, content + off, size);
	return (int)size;
}

/* cleanup/request: a write is taken whole, at any offset ('>' and '>>'),
 * and kept nowhere; reads of it are empty. */
static int m_write(const char *path, const char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)off;
	(void)fi;
	return (int)size;
}

static int m_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	const char *content;
	(void)size;
	(void)fi;
	return classify(path, &content) == K_CONTROL ? 0 : -EACCES;
}

static void *m_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0.5;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = m_init, .getattr = m_getattr, .readdir = m_readdir,
	.open = m_open, .read = m_read, .write = m_write, .truncate = m_truncate,
};

int main(int argc, char **argv)
{
	FILE *f;
	char line[128];
	size_t cap = 1024;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse *fuse;
	struct fuse_loop_config *loop;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: memfs NAMES_FILE WORKERS MOUNTPOINT\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	names = malloc(cap * sizeof(*names));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (names_count == cap)
			names = realloc(names, (cap *= 2) * sizeof(*names));
		names[names_count++] = strdup(line);
	}
	fclose(f);
	qsort(names, names_count, sizeof(*names), by_name);
	workers_count = atol(argv[2]);
	fuse_opt_add_arg(&args, "memfs");
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, "fsname=memfs,auto_unmount,default_permissions,allow_other");
	fuse = fuse_new(&args, &ops, sizeof(ops), NULL);
	if (!fuse || fuse_mount(fuse, argv[3]) != 0)
		return 1;
	fuse_set_signal_handlers(fuse_get_session(fuse));
	loop = fuse_loop_cfg_create();
	rc = fuse_loop_mt(fuse, loop);
	fuse_loop_cfg_destroy(loop);
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	fuse_unmount(fuse);
	fuse_destroy(fuse);
	fuse_opt_free_args(&args);
	for (size_t i = 0; i < names_count; i++)
		free(names[i]);
	free(names);
	return (rc == 0 || rc == SIGTERM || rc == SIGINT) ? 0 : 1;
}
