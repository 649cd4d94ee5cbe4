/* A few store connections shared by many threads, each borrowed for one
 * operation: a stack of idle ones, opened on demand up to the size. */
#include "store_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct store_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	char *setting;
	unsigned flags;
	int size;
	int open;      /* idle + lent + being opened */
	int peak;
	int idle_count;
	struct store **idle;
};

int store_pool_new(const char *setting, unsigned flags, int size, struct store_pool **out)
{
	struct store_pool *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return -ENOMEM;
	p->setting = strdup(setting);
	p->idle = calloc((size_t)(size > 0 ? size : 1), sizeof(*p->idle));
	if (!p->setting || !p->idle) {
		free(p->setting);
		free(p->idle);
		free(p);
		return -ENOMEM;
	}
	p->flags = flags;
	p->size = size > 0 ? size : 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->freed, &ca);
	pthread_condattr_destroy(&ca);
	*out = p;
	return 0;
}

void store_pool_free(struct store_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->idle_count; i++)
		store_close(p->idle[i]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	free(p->idle);
	free(p->setting);
	free(p);
}

int store_pool_get(struct store_pool *p, int wait_ms, struct store **out, struct cf_err *err)
{
	struct timespec deadline;
	struct store *st;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (p->idle_count == 0 && p->open >= p->size) {
		if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT &&
		    p->idle_count == 0 && p->open >= p->size) {
			pthread_mutex_unlock(&p->lock);
			return err_set(err, EAGAIN, "all %d database connections of this daemon are "
				       "busy (waited %d ms); try again", p->size, wait_ms);
		}
	}
	if (p->idle_count > 0) {
		*out = p->idle[--p->idle_count];
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	p->open++;
	if (p->open > p->peak)
		p->peak = p->open;
	pthread_mutex_unlock(&p->lock);
	/* Opened outside the lock: a slow server delays only this caller. */
	rc = store_open(p->setting, p->flags, &st, err);
	if (rc) {
		log_error("%s", err->msg);
		pthread_mutex_lock(&p->lock);
		p->open--;
		pthread_cond_signal(&p->freed);
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	*out = st;
	return 0;
}

void store_pool_put(struct store_pool *p, struct store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&p->lock);
	p->idle[p->idle_count++] = st;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

void store_pool_counts(struct store_pool *p, int *open, int *peak)
{
	pthread_mutex_lock(&p->lock);
	*open = p->open;
	*peak = p->peak;
	pthread_mutex_unlock(&p->lock);
}
