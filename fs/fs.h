/* The FUSE layer's entry points: the ops table and its configuration. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Kernel cache lifetime of entries and attributes: short, so that a change
 * another daemon makes through the shared database (removals included)
 * shows within one second. */
#define FS_CACHE_TIMEOUT 0.5

struct control_state;
struct scratch;
struct watch;
struct watch_notifier;

struct fs_config {
	const char *db_path;
	int db_connections;       /* the mount's pool of database connections */
	int service_down_time;
	gid_t admin_gid;
	struct timespec started; /* mtime of the fixed directories */
	/* Cleanup requests. */
	int64_t service_id;      /* this worker, 0 for a control-only daemon */
	const char *version;     /* its protocol version, for the upgrade check */
	void (*queued)(void *ctx); /* called after a request was accepted */
	void *queued_ctx;
	struct control_state *cleanup;
	struct scratch *scratch;  /* cleanup/'s temporary files and lock directories */
	struct watch *watch;      /* wakes cleanup/history/<n>/wait and poll() */
	int wait_timeout;         /* seconds a read of wait may block */
	/* Volumes: made on this worker when it has storage. */
	const char *host;
	const char *cluster_name;
	bool has_storage;
	/* volumes/<uuid>/connection holds a CHAP secret: 0400 (root only) or
	 * 0440 (the admin group too), as connection_readers says. */
	mode_t connection_mode;
	struct control_state *volume_errors;
	struct control_state *snapshot_errors;
	/* Admin actions on workers/ and clusters/ (fs/admin.c). */
	struct control_state *worker_errors;
	struct control_state *cluster_errors;
};

extern const struct fuse_operations fs_ops;
/* Free what files and directories are still open once FUSE has stopped:
 * after an unmount the kernel sends no release for them. */
void fs_release_all(const struct fs_config *cfg);
/* How the watch thread tells the kernel a polled file has news. */
extern const struct watch_notifier fs_poll_notifier;
extern const char fs_readme_text[];
