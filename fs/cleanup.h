/* The cleanup/ control files: request (write a spec, read the last one
 * accepted), result, error, and history/<n>/. */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "paths.h"
#include "store.h"

struct fs_config;

/* A control file's last refusal on this mount (cleanup/error,
 * volumes/error, snapshots/error). */
struct control_state {
	pthread_mutex_t lock;
	char error[1100];
	struct timespec changed;
};

/* A control file's last refusal: set (msg) or cleared (NULL), and its
 * rendering for cleanup/error and volumes/error. */
void control_error_set(struct control_state *state, const char *msg);
int control_error_render(struct control_state *state, char **out, size_t *len,
			 struct timespec *mtime);

/* Render a cleanup file (malloc'd) and the time it last changed. */
int cleanup_render(struct store *st, const struct fs_config *cfg, const struct path_match *m,
		   char **out, size_t *len, struct timespec *mtime);

/* A request's progress.json (-ENOENT when it is gone). */
int cleanup_render_progress(struct store *st, int64_t id, char **out, size_t *len,
			    struct timespec *mtime);

/* Whether history entry m->request_id exists, and when it was made. */
int cleanup_history_entry(struct store *st, const struct path_match *m, struct timespec *mtime);

typedef int (*cleanup_history_fn)(void *ctx, const char *name, struct timespec mtime);
int cleanup_list_history(struct store *st, cleanup_history_fn fn, void *ctx);

/* One write() to cleanup/request: one whole spec. Returns size when it
 * was accepted (committed), or -errno with the reason in cleanup/error. */
int cleanup_write(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		  uid_t uid, pid_t pid);

/* A write to cleanup/history/<id>/cancel: "true" cancels the request.
 * Returns size, or -errno with the reason in cleanup/error. */
int cleanup_cancel(struct store *st, const struct fs_config *cfg, int64_t id, const char *buf,
		   size_t size, uid_t uid);
