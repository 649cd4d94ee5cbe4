/* The cleanup/ control files: request (write a spec, read the last one
 * accepted), result, error, and history/<n>/. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "paths.h"
#include "progress_json.h"
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
/* cleanup/result or history/<n>/result opened: its request and size, not
 * its text (megabytes for a big request, and it never changes); a read
 * takes the pieces it covers (store_read_result). 1 when no request was
 * accepted yet: the caller renders the empty result. */
int cleanup_result_open(struct store *st, const struct path_match *m, int64_t *id, size_t *len,
			struct timespec *mtime);
int cleanup_render(struct store *st, const struct fs_config *cfg, const struct path_match *m,
		   char **out, size_t *len, struct timespec *mtime);

/* A history entry: what its files measure, and when it was made. */
struct cleanup_entry {
	struct request_summary summary;
	struct timespec when;
};

/* Whether history entry m->request_id exists (-ENOENT), and its summary:
 * one row read, none of its texts. */
int cleanup_history_entry(struct store *st, const struct path_match *m, struct cleanup_entry *out);

/* The files whose size cleanup_stat gives. */
bool cleanup_sized(enum node_kind kind);

/* A cleanup file's exact size and mtime without rendering it: for stat and
 * listings. entry is the history entry load() read (used for the files of
 * cleanup/history/<n>/ only). progress.json itself is read through
 * cleanup_progress_open, not cleanup_render. */
int cleanup_stat(struct store *st, const struct fs_config *cfg, const struct path_match *m,
		 const struct cleanup_entry *entry, off_t *size, struct timespec *mtime);

/* A request's progress.json as open files hold it: rendered once per state
 * of the request and shared by every open file that reads that state
 * (refcounted), freed with the last. -ENOENT when the request is gone. */
struct cleanup_doc {
	struct progress_json json; /* its text, and the summary it was rendered from */
	struct timespec mtime;
	/* The cache's own: */
	int64_t request_id;
	int refs;
	bool rendering;
	struct cleanup_doc *next;
};
int cleanup_progress_open(struct store *st, int64_t id, struct cleanup_doc **out);
void cleanup_progress_close(struct cleanup_doc *doc);

typedef int (*cleanup_history_fn)(void *ctx, const char *name, struct timespec mtime);
int cleanup_list_history(struct store *st, cleanup_history_fn fn, void *ctx);

/* One write() to cleanup/request: one whole spec. Returns size when it
 * was accepted (committed), with its number in *id (id may be NULL), or
 * -errno with the reason in cleanup/error. */
int cleanup_write(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		  uid_t uid, pid_t pid, int64_t *id);

/* One write() to cleanup/preview: what that spec written to request would
 * do, nothing done or recorded (request_preview). Returns size with the
 * preview in *out (malloc'd, *len bytes), or -errno with the reason in
 * cleanup/error, as the request's would be. */
int cleanup_preview(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		    uid_t uid, pid_t pid, char **out, size_t *len);

/* A write to cleanup/history/<id>/cancel: "true" cancels the request.
 * Returns size, or -errno with the reason in cleanup/error. */
int cleanup_cancel(struct store *st, const struct fs_config *cfg, int64_t id, const char *buf,
		   size_t size, uid_t uid);
