/* The listener thread: LISTEN on a dedicated connection, wake the targets
 * on each notification, reconnect with backoff when the connection drops. */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store.h"

#define WAIT_MS 1000          /* how often the thread looks at `stopping` */
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 5000

struct notify {
	pthread_t thread;
	char *db_path;
	struct notify_target *targets;
	size_t count;
	atomic_bool stopping;
	atomic_ulong received, connects;
};

bool notify_supported(const char *db_path)
{
	return store_notifies(db_path);
}

static void wake_all(struct notify *n)
{
	for (size_t i = 0; i < n->count; i++)
		n->targets[i].wake(n->targets[i].ctx);
}

static void sleep_ms(int ms)
{
	struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&d, NULL);
}

/* Connected and listening: 0; the store kept in *out. */
static int connect_listen(struct notify *n, struct store **out)
{
	struct cf_err err;
	int rc = store_open(n->db_path, STORE_RELAXED, out, &err);

	if (rc)
		return rc;
	rc = store_listen(*out);
	if (rc) {
		store_close(*out);
		*out = NULL;
	}
	return rc;
}

static void *run(void *arg)
{
	struct notify *n = arg;
	struct store *st = NULL;
	int backoff = BACKOFF_FIRST_MS;
	bool down_logged = false;

	while (!atomic_load(&n->stopping)) {
		int rc;

		if (!st) {
			rc = connect_listen(n, &st);
			if (rc) {
				if (!down_logged)
					log_warning("notifications from other daemons: cannot listen "
						    "(%s); polling until the database is back, "
						    "trying again every %d ms at most", strerror(-rc),
						    BACKOFF_MAX_MS);
				down_logged = true;
				sleep_ms(backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			if (down_logged)
				log_info("notifications from other daemons: listening again; reading "
					 "everything anew");
			down_logged = false;
			backoff = BACKOFF_FIRST_MS;
			atomic_fetch_add(&n->connects, 1);
			/* What was sent while nobody listened is lost: read
			 * everything again. */
			wake_all(n);
		}
		rc = store_wait_notify(st, WAIT_MS);
		if (rc > 0) {
			atomic_fetch_add(&n->received, 1);
			log_debug("a notification from a daemon: looking for work now");
			wake_all(n);
		} else if (rc < 0) {
			log_warning("notifications from other daemons: the connection failed (%s); "
				    "reconnecting", strerror(-rc));
			store_close(st);
			st = NULL;
			down_logged = true;
		}
	}
	store_close(st);
	return NULL;
}

int notify_start(const char *db_path, const struct notify_target *targets, size_t count,
		 struct notify **out)
{
	struct notify *n;
	int rc;

	if (!notify_supported(db_path))
		return -ENOTSUP;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->db_path = strdup(db_path);
	n->targets = calloc(count ? count : 1, sizeof(*targets));
	if (!n->db_path || !n->targets) {
		free(n->db_path);
		free(n->targets);
		free(n);
		return -ENOMEM;
	}
	memcpy(n->targets, targets, count * sizeof(*targets));
	n->count = count;
	rc = -pthread_create(&n->thread, NULL, run, n);
	if (rc) {
		free(n->db_path);
		free(n->targets);
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

void notify_stop(struct notify *n)
{
	if (!n)
		return;
	atomic_store(&n->stopping, true);
	pthread_join(n->thread, NULL);
	free(n->db_path);
	free(n->targets);
	free(n);
}

void notify_counts(struct notify *n, unsigned long *received, unsigned long *connects)
{
	*received = atomic_load(&n->received);
	*connects = atomic_load(&n->connects);
}
