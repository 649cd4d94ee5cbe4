/* Watching cleanup requests for the mount's waiters: a thread of its own
 * (never a FUSE request's) reads the generation of every request someone
 * waits on or polls, and wakes them when it moves or the request's jobs
 * have all ended. It reads the shared database, so work done by any worker
 * of the cluster is seen, not only this daemon's. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct watch;

/* How poll registrations are told and let go: fuse_notify_poll and
 * fuse_pollhandle_destroy in the daemon, fakes in the unit test. */
struct watch_notifier {
	void (*notify)(void *ph);
	void (*destroy)(void *ph);
};

/* Start the thread; interval_ms is how often it reads the database while
 * anything is watched (it sleeps otherwise). */
int watch_start(const char *db_path, int interval_ms, const struct watch_notifier *notifier,
		int max_waiters, struct watch **out);
void watch_stop(struct watch *w);
/* Read the database now (a notification said a job may have ended). */
void watch_kick(struct watch *w);

/* Block until request `id` has no queued or running job (0), the
 * deadline (CLOCK_MONOTONIC) passes (-ETIMEDOUT), interrupted() says the
 * caller gave up (-EINTR), or the request is gone (-ENOENT). -EAGAIN when
 * max_waiters callers already wait. */
int watch_wait(struct watch *w, int64_t id, const struct timespec *deadline,
	       bool (*interrupted)(void));

/* A poll registration for an open file (key): ph is notified once, when
 * request id's generation is no longer `seen` or its jobs have all ended,
 * and is then destroyed. A newer registration for the same key replaces
 * (and destroys) the older one. */
void watch_poll(struct watch *w, const void *key, int64_t id, int64_t seen, void *ph);
/* The file is closed: its registration, if any, goes. */
void watch_forget(struct watch *w, const void *key);
