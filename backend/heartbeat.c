/* The heartbeat thread. A failed beat is retried every half second until
 * it lands (a busy database must not make a live worker look down for
 * longer than one report interval), logged each time, and an error once
 * the worker has gone service_down_time without one: from then on its
 * peers may take its rows, and the backend thread starts no new work
 * until a beat lands again (heartbeat_age_ms). */
#include "heartbeat.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "dbtime.h"
#include "log.h"
#include "store.h"

/* When the last beat landed, in CLOCK_MONOTONIC ms: one worker per
 * process, read by the backend thread. 0: none yet (the registration at
 * start counts as one, see heartbeat_start). */
static _Atomic int64_t last_ok_ms;

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

#define RETRY_MS 500

static int64_t wall_ms(void)
{
	struct timespec t;
	dbtime_now(&t); /* the database's clock */
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The clock liveness is judged at (heartbeat_clock), in CLOCK_REALTIME ms.
 * It runs with real time while this process's beats land. When they stop
 * landing for longer than one report interval (reach), it stops at
 * last beat + reach. When they land again, it stays there one more reach
 * and a second (the time its peers need to land theirs), then catches up
 * at twice real speed. */
static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ok_wall;   /* when the last beat landed */
static int64_t reach;          /* report_interval; 0: no heartbeat in this process */
static int64_t frozen;         /* where the clock stopped in the last outage, 0: none */
static int64_t recovered;      /* when beats landed again after it */

/* A beat that lands this much after its time (one failed try and its
 * retry) ends an outage; a beat a few milliseconds late does not. */
#define OUTAGE_AFTER_MS (2 * RETRY_MS)
/* After an outage the clock waits this long at the moment it stopped (its
 * peers land their own beats, retried every RETRY_MS), then catches up at
 * CATCH_UP times real speed. */
#define HOLD_MS 2000
#define CATCH_UP 4

static void landed(void)
{
	int64_t now = wall_ms();

	atomic_store(&last_ok_ms, mono_ms());
	pthread_mutex_lock(&clock_lock);
	if (last_ok_wall && reach && now > last_ok_wall + reach + OUTAGE_AFTER_MS) {
		frozen = last_ok_wall + reach;
		recovered = now;
	}
	last_ok_wall = now;
	pthread_mutex_unlock(&clock_lock);
}

void heartbeat_clock(struct timespec *out)
{
	int64_t now = wall_ms(), t = now;

	/* While beats do not land, its peers' most likely do not either (one
	 * database, one write lock: held by a stalled process, a full
	 * disk). Judged at the moment ours stopped, every peer that was
	 * beating then stays up; a peer that truly died is seen once beats
	 * land again. */
	pthread_mutex_lock(&clock_lock);
	if (reach && last_ok_wall && now > last_ok_wall + reach) {
		t = last_ok_wall + reach;
		if (frozen && frozen < t)
			t = frozen; /* still behind from the outage before */
	} else if (frozen) {
		int64_t caught = frozen + CATCH_UP * (now - recovered - HOLD_MS);
		if (caught < frozen)
			caught = frozen;
		if (caught >= now)
			frozen = 0; /* caught up */
		else
			t = caught;
	}
	pthread_mutex_unlock(&clock_lock);
	out->tv_sec = (time_t)(t / 1000);
	out->tv_nsec = (long)(t % 1000) * 1000000L;
}

int64_t heartbeat_age_ms(void)
{
	int64_t last = atomic_load(&last_ok_ms);
	return last ? mono_ms() - last : 0;
}


struct heartbeat {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	struct store *st;
	int64_t service_id;
	int interval, down_time;
	int failures;             /* beats failed in a row */
	char host[NAME_LEN];
	char binary[NAME_LEN];
	char cluster_name[NAME_LEN];
	char version[NAME_LEN];
};

static int beat(struct heartbeat *hb)
{
	struct timespec now;
	int rc;

	/* PostgreSQL: the server's clock, measured again at every beat. A
	 * failed measure keeps the last one; the beat then says why. */
	store_sync_clock(hb->st);
	dbtime_now(&now);
	/* A control-only daemon has no row to beat: it checks that the
	 * database would take a beat (its write lock can be had), which is
	 * all heartbeat_clock needs to know. Both check first that the
	 * database file is still the one opened. */
	rc = hb->service_id ? store_beat(hb->st, hb->service_id, &now) : store_probe_write(hb->st);
	if (rc == -ESTALE || rc == -EOWNERDEAD)
		return rc; /* the store said why; the daemon stops */
	if (rc == -ENOENT) {
		struct registration reg = {
			.host = hb->host, .binary = hb->binary,
			.cluster_name = hb->cluster_name[0] ? hb->cluster_name : NULL,
			.version = hb->version,
		};

		/* Same id, so the backend thread and the mount (which know
		 * this worker by it) never strand work addressed to a new one. */
		log_warning("worker %lld's services row was removed while it runs; bringing it back "
			    "with the same id", (long long)hb->service_id);
		rc = store_revive_service(hb->st, hb->service_id, &reg, &now);
	}
	if (rc == 0) {
		if (hb->failures)
			log_info("heartbeat of worker %lld landed again after %d failed attempt(s)",
				 (long long)hb->service_id, hb->failures);
		hb->failures = 0;
		landed();
		return 0;
	}
	hb->failures++;
	if (heartbeat_age_ms() > (int64_t)hb->down_time * 1000)
		log_error("heartbeat of worker %lld failed: %s; none has landed for over %d s "
			  "(service_down_time): peers may see this worker as down and take its rows; "
			  "it starts no new work until one lands", (long long)hb->service_id,
			  strerror(-rc), hb->down_time);
	else
		log_warning("heartbeat of worker %lld failed: %s; retrying in %d ms",
			    (long long)hb->service_id, strerror(-rc), RETRY_MS);
	return rc;
}

static void *heartbeat_main(void *arg)
{
	struct heartbeat *hb = arg;
	struct timespec deadline;
	bool failed = false, first = true;
	int rc;

	struct timespec now, next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&hb->lock);
	while (!hb->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* The first beat at once: it records this process's pid (the
		 * registration's was the parent's, gone once daemonized).
		 * Then one every interval, at a fixed rate (not an interval
		 * after the last one ended), so beats land report_interval
		 * apart; a failed one is tried again every RETRY_MS. */
		if (first) {
			first = false;
			deadline = now;
		} else if (failed) {
			deadline = now;
			deadline.tv_nsec += RETRY_MS * 1000000L;
			deadline.tv_sec += deadline.tv_nsec / 1000000000L;
			deadline.tv_nsec %= 1000000000L;
		} else {
			next.tv_sec += hb->interval;
			if (next.tv_sec < now.tv_sec) /* fell behind: start again from now */
				next = now;
			deadline = next;
		}
		while (!hb->stopping &&
		       pthread_cond_timedwait(&hb->wake, &hb->lock, &deadline) != ETIMEDOUT)
			;
		if (hb->stopping)
			break;
		pthread_mutex_unlock(&hb->lock);
		rc = beat(hb);
		pthread_mutex_lock(&hb->lock);
		/* The file or the row is no longer this daemon's: it stops,
		 * and beats into neither meanwhile. */
		if (rc == -ESTALE || rc == -EOWNERDEAD)
			break;
		if (rc == 0 && failed) /* the rate starts again from this beat */
			clock_gettime(CLOCK_MONOTONIC, &next);
		failed = rc != 0;
	}
	pthread_mutex_unlock(&hb->lock);
	return NULL;
}

static void copy_name(char dst[NAME_LEN], const char *src)
{
	snprintf(dst, NAME_LEN, "%s", src ? src : "");
}

int heartbeat_start(const char *db_path, const struct registration *reg, int64_t service_id,
		    int interval, int down_time, struct heartbeat **out)
{
	struct heartbeat *hb = calloc(1, sizeof(*hb));
	pthread_condattr_t attr;
	struct cf_err err;
	int rc;

	if (!hb)
		return -ENOMEM;
	rc = store_open(db_path, STORE_RELAXED | STORE_SHORT_WAIT, &hb->st, &err);
	if (rc) {
		log_error("heartbeat: %s", err.msg);
		free(hb);
		return rc;
	}
	hb->service_id = service_id;
	hb->interval = interval;
	hb->down_time = down_time;
	/* The registration that preceded this was a beat. */
	pthread_mutex_lock(&clock_lock);
	reach = (int64_t)interval * 1000;
	pthread_mutex_unlock(&clock_lock);
	landed();
	copy_name(hb->host, reg->host);
	copy_name(hb->binary, reg->binary);
	copy_name(hb->cluster_name, reg->cluster_name);
	copy_name(hb->version, reg->version);
	pthread_mutex_init(&hb->lock, NULL);
	/* A monotonic clock: a wall-clock step must not stop the heartbeat. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&hb->wake, &attr);
	pthread_condattr_destroy(&attr);
	rc = pthread_create(&hb->thread, NULL, heartbeat_main, hb);
	if (rc) {
		store_close(hb->st);
		free(hb);
		return -rc;
	}
	*out = hb;
	return 0;
}

void heartbeat_stop(struct heartbeat *hb)
{
	if (!hb)
		return;
	pthread_mutex_lock(&hb->lock);
	hb->stopping = true;
	pthread_cond_signal(&hb->wake);
	pthread_mutex_unlock(&hb->lock);
	pthread_join(hb->thread, NULL);
	pthread_mutex_destroy(&hb->lock);
	pthread_cond_destroy(&hb->wake);
	store_close(hb->st);
	free(hb);
}
