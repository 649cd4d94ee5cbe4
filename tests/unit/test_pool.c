/* The mount's connection pool: never more connections than its size,
 * a borrower waits for one given back, and gives up with EAGAIN. */
#include "testdb.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "store_pool.h"

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void test_connections_are_reused_not_multiplied(void **state)
{
	struct testdb *t = *state;
	struct store_pool *pool;
	struct store *a, *b;
	struct cf_err err;
	int open, peak;

	assert_int_equal(store_pool_new(t->path, 0, 3, &pool), 0);
	for (int i = 0; i < 100; i++) {
		int version;

		assert_int_equal(store_pool_get(pool, 1000, &a, &err), 0);
		assert_int_equal(store_schema_version(a, &version), 0);
		assert_int_equal(version, store_migrations_count);
		store_pool_put(pool, a);
	}
	store_pool_counts(pool, &open, &peak);
	assert_int_equal(open, 1);
	assert_int_equal(peak, 1);
	/* Two at once are two connections; given back, both are kept. */
	assert_int_equal(store_pool_get(pool, 1000, &a, &err), 0);
	assert_int_equal(store_pool_get(pool, 1000, &b, &err), 0);
	assert_ptr_not_equal(a, b);
	store_pool_put(pool, a);
	store_pool_put(pool, b);
	store_pool_counts(pool, &open, &peak);
	assert_int_equal(open, 2);
	assert_int_equal(peak, 2);
	store_pool_free(pool);
}

static void test_a_full_pool_makes_the_borrower_wait_then_refuses(void **state)
{
	struct testdb *t = *state;
	struct store_pool *pool;
	struct store *a, *b, *c;
	struct cf_err err;
	long long start;
	int open, peak;

	assert_int_equal(store_pool_new(t->path, 0, 2, &pool), 0);
	assert_int_equal(store_pool_get(pool, 1000, &a, &err), 0);
	assert_int_equal(store_pool_get(pool, 1000, &b, &err), 0);
	start = now_ms();
	assert_int_equal(store_pool_get(pool, 200, &c, &err), -EAGAIN);
	assert_true(now_ms() - start >= 190);
	assert_non_null(strstr(err.msg, "all 2 database connections of this daemon are busy"));
	store_pool_put(pool, b);
	assert_int_equal(store_pool_get(pool, 200, &c, &err), 0);
	assert_ptr_equal(c, b);
	store_pool_put(pool, a);
	store_pool_put(pool, c);
	store_pool_counts(pool, &open, &peak);
	assert_int_equal(peak, 2);
	store_pool_free(pool);
}

struct borrower {
	struct store_pool *pool;
	int rc;
};

static void *borrow_and_hold(void *arg)
{
	struct borrower *b = arg;
	struct store *st;
	struct cf_err err;

	b->rc = store_pool_get(b->pool, 5000, &st, &err);
	if (b->rc == 0) {
		struct timespec d = { 0, 5 * 1000000L };
		int version;

		b->rc = store_schema_version(st, &version);
		nanosleep(&d, NULL);
		store_pool_put(b->pool, st);
	}
	return NULL;
}

/* Many threads, few connections: every one served, the size never
 * exceeded. */
static void test_many_threads_share_few_connections(void **state)
{
	struct testdb *t = *state;
	struct borrower b[24];
	pthread_t th[24];
	struct store_pool *pool;
	int open, peak;

	assert_int_equal(store_pool_new(t->path, 0, 4, &pool), 0);
	for (int i = 0; i < 24; i++) {
		b[i].pool = pool;
		assert_int_equal(pthread_create(&th[i], NULL, borrow_and_hold, &b[i]), 0);
	}
	for (int i = 0; i < 24; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(b[i].rc, 0);
	}
	store_pool_counts(pool, &open, &peak);
	assert_true(peak <= 4);
	assert_true(peak >= 2);
	store_pool_free(pool);
}

static void test_a_database_that_cannot_open_is_an_error_and_frees_the_slot(void **state)
{
	struct testdb *t = *state;
	struct store_pool *pool;
	struct store *st;
	struct cf_err err;
	char missing[200];
	int open, peak;

	snprintf(missing, sizeof(missing), "%s/no/such/dir/state.db", t->dir);
	assert_int_equal(store_pool_new(missing, 0, 1, &pool), 0);
	assert_true(store_pool_get(pool, 100, &st, &err) < 0);
	assert_non_null(strstr(err.msg, missing));
	/* The slot is free again: the next try fails the same way, at once. */
	assert_true(store_pool_get(pool, 100, &st, &err) < 0);
	assert_int_not_equal(store_pool_get(pool, 100, &st, &err), -EAGAIN);
	store_pool_counts(pool, &open, &peak);
	assert_int_equal(open, 0);
	store_pool_free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connections_are_reused_not_multiplied,
						testdb_setup_store, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_a_full_pool_makes_the_borrower_wait_then_refuses,
						testdb_setup_store, testdb_teardown),
		cmocka_unit_test_setup_teardown(test_many_threads_share_few_connections,
						testdb_setup_store, testdb_teardown),
		cmocka_unit_test_setup_teardown(
			test_a_database_that_cannot_open_is_an_error_and_frees_the_slot,
			testdb_setup_store, testdb_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
