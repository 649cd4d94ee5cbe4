/* Up and down at the exact boundary of service_down_time, cluster counts,
 * and the stored time format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "dbtime.h"
#include "liveness.h"

/* 2026-11-25 18:41:54 UTC */
#define NOW_SEC 1795632114

static const struct timespec now = { NOW_SEC, 500000000 };

static void test_parse_and_format_round_trip(void **state)
{
	struct timespec t;
	char text[DBTIME_LEN];
	(void)state;

	assert_int_equal(dbtime_parse("2026-11-25 18:41:54", &t), 0);
	assert_int_equal(t.tv_sec, NOW_SEC);
	assert_int_equal(t.tv_nsec, 0);
	assert_int_equal(dbtime_parse("2026-11-25 18:41:54.5", &t), 0);
	assert_int_equal(t.tv_nsec, 500000000);
	assert_int_equal(dbtime_parse("2026-11-25T18:41:54.123456Z", &t), 0);
	assert_int_equal(t.tv_nsec, 123456000);
	dbtime_format(&t, text);
	assert_string_equal(text, "2026-11-25 18:41:54.123456");
	assert_true(dbtime_to_iso("2026-11-25 18:41:54.999999", text));
	assert_string_equal(text, "2026-11-25T18:41:54Z");
}

static void test_parse_agrees_with_gmtime_across_years(void **state)
{
	/* Every 13 hours 7 minutes from 1970 to 2100: leap years, month
	 * ends and centuries included. */
	(void)state;
	for (time_t t = 0; t < 4102444800; t += 47227) {
		struct tm tm;
		char text[DBTIME_LEN];
		struct timespec parsed;

		gmtime_r(&t, &tm);
		strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
		assert_int_equal(dbtime_parse(text, &parsed), 0);
		if (parsed.tv_sec != t)
			fail_msg("%s parsed as %lld, not %lld", text, (long long)parsed.tv_sec, (long long)t);
	}
}

static void test_parse_refuses_what_is_not_a_time(void **state)
{
	struct timespec t;
	char text[DBTIME_LEN];
	(void)state;

	assert_int_equal(dbtime_parse(NULL, &t), -EINVAL);
	assert_int_equal(dbtime_parse("", &t), -EINVAL);
	assert_int_equal(dbtime_parse("2026-11-25", &t), -EINVAL);
	assert_int_equal(dbtime_parse("2026-13-25 00:00:00", &t), -EINVAL);
	assert_int_equal(dbtime_parse("2026-11-25 18:41:54.", &t), -EINVAL);
	assert_int_equal(dbtime_parse("2026-11-25 18:41:54 junk", &t), -EINVAL);
	assert_false(dbtime_to_iso("yesterday", text));
	assert_string_equal(text, "");
}

static void test_bound_text_drops_a_zero_fraction(void **state)
{
	struct timespec whole = { NOW_SEC, 0 };
	char text[DBTIME_LEN];
	(void)state;

	liveness_bound_text(&whole, 60, text);
	assert_string_equal(text, "2026-11-25 18:40:54");
	liveness_bound_text(&now, 60, text);
	assert_string_equal(text, "2026-11-25 18:40:54.500000");
}

static void test_worker_up_at_exact_boundary(void **state)
{
	(void)state;
	/* now - 60 s is 18:40:54.5: a heartbeat then is still up. */
	assert_true(liveness_worker_is_up("2026-11-25 18:40:54.500000", &now, 60));
	assert_true(liveness_worker_is_up("2026-11-25 18:40:54.5", &now, 60));
	assert_false(liveness_worker_is_up("2026-11-25 18:40:54.499999", &now, 60));
	assert_true(liveness_worker_is_up("2026-11-25 18:41:54", &now, 60));
	/* A shorter down time moves the boundary. */
	assert_false(liveness_worker_is_up("2026-11-25 18:41:50", &now, 4));
	assert_true(liveness_worker_is_up("2026-11-25 18:41:50.5", &now, 4));
}

static void test_worker_without_heartbeat_is_down(void **state)
{
	(void)state;
	/* Cinder's Service.is_up: no heartbeat is down, however new the row
	 * (created_at plays no part here; selection by is_up is the
	 * planner's, tested there). */
	assert_false(liveness_worker_is_up(NULL, &now, 60));
	assert_false(liveness_worker_is_up("", &now, 60));
	assert_false(liveness_worker_is_up("garbage", &now, 60));
	/* Selection still takes created_at: registered 10 s ago, no beat. */
	assert_true(liveness_selected_up(NULL, "2026-11-25 18:41:44", &now, 60));
	assert_false(liveness_selected_up(NULL, "2026-11-25 18:00:00", &now, 60));
	assert_true(liveness_selected_up("2026-11-25 18:41:44", "2026-11-25 18:00:00", &now, 60));
}

static void test_cluster_of_never_beaten_members_is_down(void **state)
{
	struct liveness_cluster c;
	(void)state;

	liveness_cluster_init(&c);
	liveness_cluster_add(&c, NULL, &now, 60);
	liveness_cluster_add(&c, "2026-11-25 17:00:00", &now, 60);
	assert_int_equal(c.num_hosts, 2);
	assert_int_equal(c.num_down_hosts, 2);
	assert_false(c.is_up);
	assert_string_equal(c.last_heartbeat, "2026-11-25 17:00:00.000000");
}

static void test_cluster_counts(void **state)
{
	struct liveness_cluster c;
	(void)state;

	liveness_cluster_init(&c);
	assert_int_equal(c.num_hosts, 0);
	assert_false(c.is_up);
	liveness_cluster_add(&c, "2026-11-25 18:00:00", &now, 60);
	assert_int_equal(c.num_hosts, 1);
	assert_int_equal(c.num_down_hosts, 1);
	assert_false(c.is_up);
	assert_string_equal(c.last_heartbeat, "2026-11-25 18:00:00.000000");
	liveness_cluster_add(&c, "2026-11-25 18:41:50", &now, 60);
	liveness_cluster_add(&c, "2026-11-25 18:30:00", &now, 60);
	assert_int_equal(c.num_hosts, 3);
	assert_int_equal(c.num_down_hosts, 2);
	assert_true(c.is_up);
	assert_string_equal(c.last_heartbeat, "2026-11-25 18:41:50.000000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_format_round_trip),
		cmocka_unit_test(test_parse_agrees_with_gmtime_across_years),
		cmocka_unit_test(test_parse_refuses_what_is_not_a_time),
		cmocka_unit_test(test_bound_text_drops_a_zero_fraction),
		cmocka_unit_test(test_worker_up_at_exact_boundary),
		cmocka_unit_test(test_worker_without_heartbeat_is_down),
		cmocka_unit_test(test_cluster_of_never_beaten_members_is_down),
		cmocka_unit_test(test_cluster_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
