/* The watch thread. Waiters and poll registrations hang off one entry per
 * watched request; the thread reads each watched request's generation and
 * unfinished job count once per interval (one indexed query each) and
 * wakes whoever it concerns. Notifications are sent with the lock dropped. */
#include "watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "store.h"

/* A waiter wakes at least this often to see whether its caller gave up. */
#define WAIT_SLICE_MS 200

struct poll_reg {
	const void *key;
	int64_t seen;
	void *ph;
};

struct entry {
	int64_t id;
	int waiters;
	struct poll_reg *regs;
	size_t nregs, cap;
	/* What the thread last read, and how many times it has read it. */
	unsigned passes;
	bool gone, finished;
	int64_t generation;
};

struct watch {
	pthread_mutex_t lock;
	pthread_cond_t kick;     /* to the thread: something to read */
	pthread_cond_t changed;  /* to the waiters: the thread has read */
	struct entry **entries;
	size_t count, cap;
	int waiting, max_waiters;
	bool stop;
	bool kicked;             /* watch_kick: read now, not at the interval */
	int interval_ms;
	struct watch_notifier nt;
	struct store *st;
	pthread_t thread;
};

static void deadline_in(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static struct entry *find_entry(struct watch *w, int64_t id)
{
	for (size_t i = 0; i < w->count; i++)
		if (w->entries[i]->id == id)
			return w->entries[i];
	return NULL;
}

static struct entry *get_entry(struct watch *w, int64_t id)
{
	struct entry *e = find_entry(w, id);

	if (e)
		return e;
	if (array_reserve((void **)&w->entries, &w->cap, w->count + 1, sizeof(*w->entries)))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->id = id;
	w->entries[w->count++] = e;
	pthread_cond_signal(&w->kick);
	return e;
}

/* Drop an entry nobody uses any more (the lock held). */
static void release_entry(struct watch *w, struct entry *e)
{
	if (e->waiters || e->nregs)
		return;
	for (size_t i = 0; i < w->count; i++) {
		if (w->entries[i] == e) {
			w->entries[i] = w->entries[--w->count];
			break;
		}
	}
	free(e->regs);
	free(e);
}

/* What one pass read of one request. */
struct reading {
	int64_t id, generation, unfinished;
	int rc;
};

/* One pass (the lock held, dropped while reading): read every watched
 * request, then settle waiters and polls. */
static void pass(struct watch *w)
{
	size_t n = w->count;
	struct reading *r = calloc(n ? n : 1, sizeof(*r));
	void **notify = NULL;
	size_t nnotify = 0, notify_cap = 0;

	if (!r)
		return; /* the next pass tries again */
	for (size_t i = 0; i < n; i++)
		r[i].id = w->entries[i]->id;
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < n; i++)
		r[i].rc = store_request_watch(w->st, r[i].id, &r[i].generation, &r[i].unfinished);
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < n; i++) {
		struct entry *e = find_entry(w, r[i].id);
		if (!e)
			continue; /* its last user left meanwhile */
		if (r[i].rc && r[i].rc != -ENOENT) {
			log_error("watching cleanup request %lld: %s", (long long)r[i].id,
				  strerror(-r[i].rc));
			continue; /* read again next pass */
		}
		e->gone = r[i].rc == -ENOENT;
		e->finished = !e->gone && r[i].unfinished == 0;
		e->generation = e->gone ? 0 : r[i].generation;
		e->passes++;
		for (size_t k = 0; k < e->nregs;) {
			if (e->gone || e->finished || e->regs[k].seen != e->generation) {
				if (array_reserve((void **)&notify, &notify_cap, nnotify + 1,
						  sizeof(*notify)) == 0)
					notify[nnotify++] = e->regs[k].ph;
				else
					w->nt.destroy(e->regs[k].ph);
				e->regs[k] = e->regs[--e->nregs];
			} else {
				k++;
			}
		}
		release_entry(w, e);
	}
	pthread_cond_broadcast(&w->changed);
	if (nnotify) {
		pthread_mutex_unlock(&w->lock);
		for (size_t i = 0; i < nnotify; i++) {
			w->nt.notify(notify[i]);
			w->nt.destroy(notify[i]);
		}
		pthread_mutex_lock(&w->lock);
	}
	free(r);
	free(notify);
}

static void *run(void *arg)
{
	struct watch *w = arg;
	struct timespec t;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		if (w->count == 0) {
			pthread_cond_wait(&w->kick, &w->lock);
			continue;
		}
		pass(w);
		/* A kick (a new entry) only ends the idle wait above; while
		 * anything is watched, passes come every interval. */
		deadline_in(&t, w->interval_ms);
		while (!w->stop && w->count && !w->kicked) {
			if (pthread_cond_timedwait(&w->kick, &w->lock, &t) == ETIMEDOUT)
				break;
		}
		w->kicked = false;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int watch_start(const char *db_path, int interval_ms, const struct watch_notifier *notifier,
		int max_waiters, struct watch **out)
{
	struct watch *w = calloc(1, sizeof(*w));
	pthread_condattr_t attr;
	struct cf_err err;
	int rc;

	if (!w)
		return -ENOMEM;
	rc = store_open(db_path, 0, &w->st, &err);
	if (rc) {
		log_error("%s", err.msg);
		free(w);
		return rc;
	}
	w->interval_ms = interval_ms;
	w->nt = *notifier;
	w->max_waiters = max_waiters;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->kick, &attr);
	pthread_cond_init(&w->changed, &attr);
	pthread_condattr_destroy(&attr);
	rc = -pthread_create(&w->thread, NULL, run, w);
	if (rc) {
		store_close(w->st);
		pthread_cond_destroy(&w->kick);
		pthread_cond_destroy(&w->changed);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void watch_kick(struct watch *w)
{
	pthread_mutex_lock(&w->lock);
	w->kicked = true;
	pthread_cond_signal(&w->kick);
	pthread_mutex_unlock(&w->lock);
}

void watch_stop(struct watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->kick);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	/* FUSE has stopped: nobody waits, and registrations only go. */
	for (size_t i = 0; i < w->count; i++) {
		for (size_t r = 0; r < w->entries[i]->nregs; r++)
			w->nt.destroy(w->entries[i]->regs[r].ph);
		free(w->entries[i]->regs);
		free(w->entries[i]);
	}
	free(w->entries);
	store_close(w->st);
	pthread_cond_destroy(&w->kick);
	pthread_cond_destroy(&w->changed);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int watch_wait(struct watch *w, int64_t id, const struct timespec *deadline,
	       bool (*interrupted)(void))
{
	struct entry *e;
	unsigned start;
	struct timespec t;
	int rc;

	pthread_mutex_lock(&w->lock);
	if (w->waiting >= w->max_waiters) {
		pthread_mutex_unlock(&w->lock);
		return -EAGAIN;
	}
	e = get_entry(w, id);
	if (!e) {
		pthread_mutex_unlock(&w->lock);
		return -ENOMEM;
	}
	e->waiters++;
	w->waiting++;
	/* Only a read made after we came counts. */
	start = e->passes;
	for (;;) {
		if (e->passes != start && (e->gone || e->finished)) {
			rc = e->gone ? -ENOENT : 0;
			break;
		}
		if (interrupted && interrupted()) {
			rc = -EINTR;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!before(&t, deadline)) {
			rc = -ETIMEDOUT;
			break;
		}
		deadline_in(&t, WAIT_SLICE_MS);
		pthread_cond_timedwait(&w->changed, &w->lock, before(&t, deadline) ? &t : deadline);
	}
	e->waiters--;
	w->waiting--;
	release_entry(w, e);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* Take key's registration out, returning its handle (the lock held). */
static void *take_reg(struct watch *w, const void *key)
{
	for (size_t i = 0; i < w->count; i++) {
		struct entry *e = w->entries[i];
		for (size_t r = 0; r < e->nregs; r++) {
			if (e->regs[r].key == key) {
				void *ph = e->regs[r].ph;
				e->regs[r] = e->regs[--e->nregs];
				release_entry(w, e);
				return ph;
			}
		}
	}
	return NULL;
}

void watch_poll(struct watch *w, const void *key, int64_t id, int64_t seen, void *ph)
{
	struct entry *e;
	void *old;

	pthread_mutex_lock(&w->lock);
	/* A file polls one request: an older registration of the key goes. */
	old = take_reg(w, key);
	e = get_entry(w, id);
	if (e && array_reserve((void **)&e->regs, &e->cap, e->nregs + 1, sizeof(*e->regs)) == 0) {
		e->regs[e->nregs++] = (struct poll_reg){ key, seen, ph };
		ph = NULL;
	} else if (e) {
		release_entry(w, e);
	}
	pthread_mutex_unlock(&w->lock);
	if (ph) {
		/* No memory to remember it: wake the poller now rather than
		 * never. */
		w->nt.notify(ph);
		w->nt.destroy(ph);
	}
	if (old)
		w->nt.destroy(old);
}

void watch_forget(struct watch *w, const void *key)
{
	void *old;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	old = take_reg(w, key);
	pthread_mutex_unlock(&w->lock);
	if (old)
		w->nt.destroy(old);
}
