/* The metrics and status files' pure rendering: label escaping, numbers,
 * ages and sizes, and a whole render from a hand-made overview. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <math.h>

#include "metrics.h"

static const char *escaped(const char *in)
{
	static char out[256];
	size_t n = metrics_escape_label(in, out, sizeof(out));
	assert_int_equal(n, strlen(out));
	return out;
}

static void test_label_escapes_quote_backslash_newline(void **state)
{
	(void)state;
	assert_string_equal(escaped("c1@lvm"), "c1@lvm");
	assert_string_equal(escaped("a\"b"), "a\\\"b");
	assert_string_equal(escaped("a\\b"), "a\\\\b");
	assert_string_equal(escaped("a\nb"), "a\\nb");
	assert_string_equal(escaped(""), "");
}

static void test_label_keeps_utf8_and_replaces_stray_bytes(void **state)
{
	(void)state;
	assert_string_equal(escaped("été 日本 \xf0\x9f\x98\x80"), "été 日本 \xf0\x9f\x98\x80");
	assert_string_equal(escaped("a\xff" "b"), "a\xef\xbf\xbd" "b");
	/* An overlong '/', a surrogate, a cut sequence. */
	assert_string_equal(escaped("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(escaped("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(escaped("x\xe6\x97"), "x\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_label_says_the_length_it_needs(void **state)
{
	char small[4];
	(void)state;
	assert_int_equal(metrics_escape_label("a\"bcd", small, sizeof(small)), 6);
	assert_string_equal(small, "a\\\"");
	assert_int_equal(metrics_escape_label("xyz", NULL, 0), 3);
}

static const char *number(double v)
{
	static char out[64];
	metrics_format_number(v, out, sizeof(out));
	return out;
}

static void test_numbers_as_the_format_spells_them(void **state)
{
	(void)state;
	assert_string_equal(number(3), "3");
	assert_string_equal(number(0), "0");
	assert_string_equal(number(-0.0), "0");
	assert_string_equal(number(8589934592.0), "8589934592");
	assert_string_equal(number(0.25), "0.25");
	assert_string_equal(number(3.2), "3.2");
	assert_string_equal(number(1.0 / 3), "0.333333");
	assert_string_equal(number(-2.5), "-2.5");
	assert_string_equal(number((double)NAN), "NaN");
	assert_string_equal(number((double)INFINITY), "+Inf");
	assert_string_equal(number(-(double)INFINITY), "-Inf");
}

static void test_ages_and_sizes_for_status(void **state)
{
	char out[32];
	(void)state;
	status_format_age(42, out, sizeof(out));
	assert_string_equal(out, "42s");
	status_format_age(310, out, sizeof(out));
	assert_string_equal(out, "5m10s");
	status_format_age(3720, out, sizeof(out));
	assert_string_equal(out, "1h02m");
	status_format_age(3 * 86400 + 4 * 3600 + 59, out, sizeof(out));
	assert_string_equal(out, "3d04h");
	status_format_age(-5, out, sizeof(out));
	assert_string_equal(out, "0s");
	status_format_bytes(512LL << 20, out, sizeof(out));
	assert_string_equal(out, "512.0 MiB");
	status_format_bytes(8LL << 30, out, sizeof(out));
	assert_string_equal(out, "8.0 GiB");
	status_format_bytes(5LL << 39, out, sizeof(out));
	assert_string_equal(out, "2.5 TiB");
}

static struct store_overview sample_overview(void)
{
	static struct overview_cluster clusters[] = { { "", 0, 1 }, { "c\"1", 2, 1 } };
	static struct overview_stuck stuck[] = {
		{ "Volume", "creating", 3, "2026-11-25 16:41:54.000000" },
	};
	static struct overview_ops ops[] = {
		{ "create_volume", "done", 2, 2, 3200000, { 0, 1, 1, 1, 1, 2, 2, 2, 2, 2 } },
		{ "create_volume", "queued", 1, 0, 0, { 0 } },
	};
	static struct overview_capacity capacity[] = {
		{ 3, "n1@lvm", "vg one", 8LL << 30, 6LL << 30, "2026-11-25 18:41:44.000000" },
	};
	struct store_overview o = {
		.clusters = clusters, .n_clusters = 2, .stuck = stuck, .n_stuck = 1,
		.requests_by_state = { 1, 0, 2, 0, 0 }, .requests_total = 7,
		.requests_ended = { 0, 0, 6, 0, 0 }, .resources_total = { 1, 0, 9, 0, 0, 0, 0 },
		.ops = ops, .n_ops = 2, .capacity = capacity, .n_capacity = 1,
	};
	return o;
}

static const struct timespec NOW = { 1795632114, 0 }; /* 2026-11-25T18:41:54Z */

static void test_metrics_render_families_and_samples(void **state)
{
	struct store_overview o = sample_overview();
	char *text;
	size_t len;
	(void)state;

	assert_int_equal(metrics_render(&o, &NOW, &text, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_non_null(strstr(text, "# TYPE cinderfs_workers gauge\n"
				     "cinderfs_workers{cluster=\"\",state=\"up\"} 0\n"
				     "cinderfs_workers{cluster=\"\",state=\"down\"} 1\n"
				     "cinderfs_workers{cluster=\"c\\\"1\",state=\"up\"} 2\n"));
	assert_non_null(strstr(text, "cinderfs_stuck_resources{type=\"volume\",status=\"creating\"} 3\n"));
	assert_non_null(strstr(text, "cinderfs_stuck_oldest_age_seconds{type=\"volume\"} 7200\n"));
	assert_non_null(strstr(text, "cinderfs_stuck_oldest_age_seconds{type=\"snapshot\"} 0\n"));
	assert_non_null(strstr(text, "cinderfs_cleanup_requests_total 7\n"));
	assert_non_null(strstr(text, "cinderfs_storage_operations_in_flight{kind=\"create_volume\",state=\"queued\"} 1\n"));
	assert_non_null(strstr(text,
		"cinderfs_storage_operation_duration_seconds_bucket{kind=\"create_volume\",state=\"done\",le=\"0.25\"} 1\n"));
	assert_non_null(strstr(text,
		"cinderfs_storage_operation_duration_seconds_bucket{kind=\"create_volume\",state=\"done\",le=\"+Inf\"} 2\n"
		"cinderfs_storage_operation_duration_seconds_sum{kind=\"create_volume\",state=\"done\"} 3.2\n"
		"cinderfs_storage_operation_duration_seconds_count{kind=\"create_volume\",state=\"done\"} 2\n"));
	assert_non_null(strstr(text, "cinderfs_volume_group_free_bytes{worker=\"3\",host=\"n1@lvm\",volume_group=\"vg one\"} 6442450944\n"));
	assert_non_null(strstr(text, "cinderfs_volume_group_measured_age_seconds{worker=\"3\",host=\"n1@lvm\",volume_group=\"vg one\"} 10\n"));
	/* Every family's HELP comes right before its TYPE. */
	for (const char *p = text; (p = strstr(p, "# TYPE ")) != NULL; p++)
		assert_true(p > text && strncmp(p - 1, "\n", 1) == 0);
	free(text);
}

static void test_status_render_one_screen(void **state)
{
	struct store_overview o = sample_overview();
	char *text;
	size_t len;
	(void)state;

	assert_int_equal(status_render(&o, &NOW, 60, &text, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_non_null(strstr(text, "cinderfs status at 2026-11-25T18:41:54Z (service_down_time 60 s)\n\n"));
	assert_non_null(strstr(text, "workers: 2 up, 2 down\n"));
	assert_non_null(strstr(text, "stuck: 3, the oldest 2h00m (volume creating since 2026-11-25T16:41:54Z)\n"));
	assert_non_null(strstr(text, "cleanups: 3 kept: 1 queued, 0 running, 2 done, 0 failed, 0 cancelled\n"));
	/* A name with a space stays one column. */
	assert_non_null(strstr(text, "  vg_one "));
	assert_non_null(strstr(text, "8.0 GiB      6.0 GiB   25%      10s  1\n"));
	free(text);
}

static void test_status_render_empty(void **state)
{
	struct store_overview o = { 0 };
	char *text;
	size_t len;
	(void)state;

	assert_int_equal(status_render(&o, &NOW, 60, &text, &len), 0);
	assert_string_equal(text, "cinderfs status at 2026-11-25T18:41:54Z (service_down_time 60 s)\n\n"
				  "workers: 0 up, 0 down\n\nstuck: none\n\ncleanups: none kept\n\n"
				  "volume groups: none measured\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escapes_quote_backslash_newline),
		cmocka_unit_test(test_label_keeps_utf8_and_replaces_stray_bytes),
		cmocka_unit_test(test_label_says_the_length_it_needs),
		cmocka_unit_test(test_numbers_as_the_format_spells_them),
		cmocka_unit_test(test_ages_and_sizes_for_status),
		cmocka_unit_test(test_metrics_render_families_and_samples),
		cmocka_unit_test(test_status_render_one_screen),
		cmocka_unit_test(test_status_render_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
