/* The watch thread on a real SQLite file: waiters wake when a request's
 * jobs have all ended, time out, give up, or find it gone; poll
 * registrations are notified once per change, and forgotten on close. The
 * notifier is a fake (FUSE's would write to /dev/fuse). */
#include "testdb.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "watch.h"

#define INTERVAL_MS 20

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static int notified[8], destroyed[8];

static void fake_notify(void *ph)
{
	pthread_mutex_lock(&fake_lock);
	notified[*(int *)ph]++;
	pthread_mutex_unlock(&fake_lock);
}

static void fake_destroy(void *ph)
{
	pthread_mutex_lock(&fake_lock);
	destroyed[*(int *)ph]++;
	pthread_mutex_unlock(&fake_lock);
}

static const struct watch_notifier fake = { fake_notify, fake_destroy };
static int handles[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };

static int setup(void **state)
{
	struct testdb *t;

	if (testdb_setup_store(state) != 0)
		return -1;
	t = *state;
	memset(notified, 0, sizeof(notified));
	memset(destroyed, 0, sizeof(destroyed));
	/* Request 1 with a queued and a done job; request 2 with none. */
	testdb_sql(t->path,
		   "INSERT INTO cleanup_requests (id, created_at, spec, filter) VALUES "
		   "(1, '2026-11-25 10:00:00', '', '{}'), (2, '2026-11-25 10:00:00', '', '{}');"
		   "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state) VALUES "
		   "(1, 1, 5, '2026-11-25 10:00:00', 'queued'), (2, 1, 6, '2026-11-25 10:00:00', 'done');");
	return 0;
}

static void in_ms(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static long ms_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

struct finisher {
	const char *path;
	int after_ms;
	const char *sql;
};

static void *finish_later(void *arg)
{
	struct finisher *f = arg;
	struct timespec d = { f->after_ms / 1000, (long)(f->after_ms % 1000) * 1000000L };
	nanosleep(&d, NULL);
	testdb_sql(f->path, f->sql);
	return NULL;
}

static void test_a_waiter_wakes_when_the_jobs_end(void **state)
{
	struct testdb *t = *state;
	struct finisher f = { t->path, 150, "UPDATE cleanup_jobs SET state = 'done' WHERE id = 1" };
	struct timespec start, deadline;
	struct watch *w;
	pthread_t th;

	assert_int_equal(watch_start(t->path, INTERVAL_MS, &fake, 4, &w), 0);
	pthread_create(&th, NULL, finish_later, &f);
	clock_gettime(CLOCK_MONOTONIC, &start);
	in_ms(&deadline, 5000);
	assert_int_equal(watch_wait(w, 1, &deadline, NULL), 0);
	/* Not before the job ended, and soon after. */
	assert_true(ms_since(&start) >= 140);
	assert_true(ms_since(&start) < 2000);
	pthread_join(th, NULL);
	/* A request without jobs has ended already. */
	assert_int_equal(watch_wait(w, 2, &deadline, NULL), 0);
	watch_stop(w);
}

static void test_a_waiter_times_out(void **state)
{
	struct testdb *t = *state;
	struct timespec start, deadline;
	struct watch *w;

	assert_int_equal(watch_start(t->path, INTERVAL_MS, &fake, 4, &w), 0);
	clock_gettime(CLOCK_MONOTONIC, &start);
	in_ms(&deadline, 300);
	assert_int_equal(watch_wait(w, 1, &deadline, NULL), -ETIMEDOUT);
	assert_true(ms_since(&start) >= 290);
	watch_stop(w);
}

static int interruptions;
static bool interrupted_on_third_look(void)
{
	return ++interruptions >= 3;
}

static void test_a_waiter_that_gives_up_is_let_go(void **state)
{
	struct testdb *t = *state;
	struct timespec deadline;
	struct watch *w;

	assert_int_equal(watch_start(t->path, INTERVAL_MS, &fake, 4, &w), 0);
	in_ms(&deadline, 10000);
	interruptions = 0;
	assert_int_equal(watch_wait(w, 1, &deadline, interrupted_on_third_look), -EINTR);
	assert_int_equal(interruptions, 3);
	watch_stop(w);
}

static void test_a_missing_request_is_enoent(void **state)
{
	struct testdb *t = *state;
	struct timespec deadline;
	struct watch *w;

	assert_int_equal(watch_start(t->path, INTERVAL_MS, &fake, 4, &w), 0);
	in_ms(&deadline, 5000);
	assert_int_equal(watch_wait(w, 99, &deadline, NULL), -ENOENT);
	watch_stop(w);
}

struct waiter {
	struct watch *w;
	int rc;
};

static void *wait_one(void *arg)
{
	struct waiter *x = arg;
	struct timespec deadline;
	in_ms(&deadline, 400);
	x->rc = watch_wait(x->w, 1, &deadline, NULL);
	return NULL;
}

static void test_waiters_beyond_the_limit_get_eagain(void **state)
{
	struct testdb *t = *state;
	struct timespec deadline, pause = { 0, 100 * 1000000L };
	struct waiter x;
	struct watch *w;
	pthread_t th;

	assert_int_equal(watch_start(t->path, INTERVAL_MS, &fake, 1, &w), 0);
	x.w = w;
	pthread_create(&th, NULL, wait_one, &x);
	nanosleep(&pause, NULL);
	in_ms(&deadline, 1000);
	assert_int_equal(watch_wait(w, 1, &deadline, NULL), -EAGAIN);
	pthread_join(th, NULL);
	assert_int_equal(x.rc, -ETIMEDOUT);
	watch_stop(w);
}

static int count(int *slot)
{
	int v;
	pthread_mutex_lock(&fake_lock);
	v = *slot;
	pthread_mutex_unlock(&fake_lock);
	return v;
}

static bool eventually(int *slot, int want)
{
	for (int i = 0; i < 200; i++) {
		struct timespec d = { 0, 10 * 1000000L };
		if (count(slot) == want)
			return true;
		nanosleep(&d, NULL);
	}
	return false;
}

static void test_a_poller_is_notified_once_per_change(void **state)
{
	struct testdb *t = *state;
	struct timespec settle = { 0, 150 * 1000000L };
	int64_t generation;
	struct watch *w;

	generation = testdb_int(t->path, "SELECT generation FROM cleanup_request_sizes WHERE request_id = 1");
	assert_int_equal(watch_start(t->path, INTERVAL_MS, &fake, 4, &w), 0);
	watch_poll(w, "file A", 1, generation, &handles[1]);
	/* Nothing changed: several passes, no notification. */
	nanosleep(&settle, NULL);
	assert_int_equal(count(&notified[1]), 0);
	testdb_sql(t->path, "INSERT INTO cleanup_progress (request_id, job_id, resource_type, "
		   "resource_id, state, updated_at) VALUES (1, 1, 'Volume', 'v', 'queued', 'x')");
	assert_true(eventually(&notified[1], 1));
	assert_true(eventually(&destroyed[1], 1));
	/* Notified once: the registration is gone until the next poll. */
	testdb_sql(t->path, "UPDATE cleanup_progress SET state = 'cleaned'");
	nanosleep(&settle, NULL);
	assert_int_equal(count(&notified[1]), 1);
	watch_stop(w);
}

static void test_a_newer_registration_replaces_and_close_forgets(void **state)
{
	struct testdb *t = *state;
	int64_t generation = testdb_int(t->path, "SELECT generation FROM cleanup_request_sizes WHERE request_id = 1");
	struct watch *w;

	assert_int_equal(watch_start(t->path, INTERVAL_MS, &fake, 4, &w), 0);
	watch_poll(w, "file A", 1, generation, &handles[2]);
	watch_poll(w, "file A", 1, generation, &handles[3]);
	assert_int_equal(count(&destroyed[2]), 1); /* replaced */
	watch_forget(w, "file A");
	assert_int_equal(count(&destroyed[3]), 1); /* closed */
	/* Registered with a generation already gone by: told at once. */
	watch_poll(w, "file B", 1, generation - 1, &handles[4]);
	assert_true(eventually(&notified[4], 1));
	/* A registration left at stop is destroyed, not notified. */
	watch_poll(w, "file C", 1, generation, &handles[5]);
	watch_stop(w);
	assert_int_equal(count(&notified[5]), 0);
	assert_int_equal(count(&destroyed[5]), 1);
	assert_int_equal(count(&notified[2]) + count(&notified[3]), 0);
}

static void test_the_end_of_the_work_notifies(void **state)
{
	struct testdb *t = *state;
	int64_t generation = testdb_int(t->path, "SELECT generation FROM cleanup_request_sizes WHERE request_id = 1");
	struct watch *w;

	assert_int_equal(watch_start(t->path, INTERVAL_MS, &fake, 4, &w), 0);
	watch_poll(w, "file A", 1, generation, &handles[6]);
	testdb_sql(t->path, "UPDATE cleanup_jobs SET state = 'failed' WHERE id = 1");
	assert_true(eventually(&notified[6], 1));
	watch_stop(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_waiter_wakes_when_the_jobs_end, setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_a_waiter_times_out, setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_a_waiter_that_gives_up_is_let_go, setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_a_missing_request_is_enoent, setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_waiters_beyond_the_limit_get_eagain, setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_a_poller_is_notified_once_per_change, setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_a_newer_registration_replaces_and_close_forgets, setup, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_the_end_of_the_work_notifies, setup, testdb_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
