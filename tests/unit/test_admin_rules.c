/* Admin actions' values: one line as echo writes it, Cinder's booleans,
 * reasons of at most 255 bytes, reset-state's lists of statuses, and an
 * extend that only grows; each refusal with its words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "admin_rules.h"

#define S(text) text, strlen(text)

static void test_value_takes_one_line_as_echo_writes_it(void **state)
{
	struct cf_err err;
	char out[32];
	(void)state;

	assert_int_equal(admin_value(S("  true \n"), "disabled", out, sizeof(out), &err), 0);
	assert_string_equal(out, "true");
	assert_int_equal(admin_value(S("x\r\n"), "disabled", out, sizeof(out), &err), 0);
	assert_string_equal(out, "x");
	assert_int_equal(admin_value(S("\n"), "disabled", out, sizeof(out), &err), 0);
	assert_string_equal(out, "");
	assert_int_equal(admin_value(S("a\nb\n"), "disabled", out, sizeof(out), &err), -EINVAL);
	assert_string_equal(err.msg, "disabled takes one line; this write has several.");
	assert_int_equal(admin_value("a\0b", 3, "status", out, sizeof(out), &err), -EINVAL);
	assert_string_equal(err.msg, "status: the value holds a NUL byte.");
	assert_int_equal(admin_value(S("0123456789"), "size", out, 8, &err), -EINVAL);
	assert_string_equal(err.msg, "size: the value is 10 bytes; at most 7 are taken.");
}

static void test_bool_takes_cinders_words_in_any_case(void **state)
{
	const char *yes[] = { "true\n", "TRUE", "1", "t", "on", "y", "Yes" };
	const char *no[] = { "false\n", "False", "0", "f", "off", "n", "NO" };
	struct cf_err err;
	bool v;
	(void)state;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v = false;
		assert_int_equal(admin_parse_bool(S(yes[i]), "disabled", &v, &err), 0);
		assert_true(v);
		v = true;
		assert_int_equal(admin_parse_bool(S(no[i]), "disabled", &v, &err), 0);
		assert_false(v);
	}
	assert_int_equal(admin_parse_bool(S("maybe\n"), "disabled", &v, &err), -EINVAL);
	assert_string_equal(err.msg, "Value maybe for disabled is not a boolean; write true or false.");
	assert_int_equal(admin_parse_bool(S("\n"), "disabled", &v, &err), -EINVAL);
}

static void test_reason_is_one_line_of_at_most_255_bytes(void **state)
{
	char reason[ADMIN_REASON_MAX + 1], big[300];
	struct cf_err err;
	(void)state;

	assert_int_equal(admin_parse_reason(S("  disk swap\n"), reason, &err), 0);
	assert_string_equal(reason, "disk swap");
	assert_int_equal(admin_parse_reason(S("\n"), reason, &err), 0);
	assert_string_equal(reason, "");
	memset(big, 'x', 255);
	big[255] = '\n';
	assert_int_equal(admin_parse_reason(big, 256, reason, &err), 0);
	assert_int_equal(strlen(reason), 255);
	memset(big, 'x', 256);
	assert_int_equal(admin_parse_reason(big, 256, reason, &err), -EINVAL);
	assert_string_equal(err.msg, "disabled_reason: the value is 256 bytes; at most 255 are taken.");
	assert_int_equal(admin_parse_reason(S("a\tb"), reason, &err), -EINVAL);
	assert_string_equal(err.msg, "disabled_reason: control character 0x09 at byte 1; a reason is "
			    "one line of text.");
}

static void test_status_follows_cinders_lists(void **state)
{
	char status[64];
	struct cf_err err;
	(void)state;

	assert_int_equal(admin_parse_status(ADMIN_VOLUME, S("In-Use\n"), status, &err), 0);
	assert_string_equal(status, "in-use");
	assert_true(admin_status_allowed(ADMIN_VOLUME, "maintenance"));
	assert_false(admin_status_allowed(ADMIN_VOLUME, "deleted"));
	assert_false(admin_status_allowed(ADMIN_VOLUME, "extending"));
	assert_true(admin_status_allowed(ADMIN_SNAPSHOT, "deleted"));
	assert_true(admin_status_allowed(ADMIN_SNAPSHOT, "backing-up"));
	assert_false(admin_status_allowed(ADMIN_SNAPSHOT, "in-use"));
	assert_int_equal(admin_parse_status(ADMIN_SNAPSHOT, S("in-use"), status, &err), -EINVAL);
	assert_string_equal(err.msg, "Must specify a valid status: in-use is not one reset-state sets "
			    "on a snapshot (error, available, creating, deleting, deleted, updating, "
			    "error_deleting, unmanaging, backing-up, restoring).");
	assert_int_equal(admin_parse_status(ADMIN_VOLUME, S("\n"), status, &err), -EINVAL);
	assert_string_equal(err.msg, "Must specify 'status': write the status to set.");
}

static void test_auto_cleanup_is_whole_seconds_or_zero(void **state)
{
	struct cf_err err;
	long long n = -1;

	(void)state;
	assert_int_equal(admin_parse_auto_cleanup("600\n", 4, &n, &err), 0);
	assert_int_equal(n, 600);
	assert_int_equal(admin_parse_auto_cleanup(" 0 \n", 4, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(admin_parse_auto_cleanup("31536000", 8, &n, &err), 0);
	assert_int_equal(n, 31536000);
	assert_int_equal(admin_parse_auto_cleanup("31536001", 8, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "auto_cleanup is a whole number of seconds from 0 (off) to "
			    "31536000, and '31536001' is not.");
	assert_int_equal(admin_parse_auto_cleanup("99999999999999999999999", 23, &n, &err), -EINVAL);
	assert_int_equal(admin_parse_auto_cleanup("-5", 2, &n, &err), -EINVAL);
	assert_int_equal(admin_parse_auto_cleanup("+5", 2, &n, &err), -EINVAL);
	assert_int_equal(admin_parse_auto_cleanup("10m", 3, &n, &err), -EINVAL);
	assert_int_equal(admin_parse_auto_cleanup("\n", 1, &n, &err), -EINVAL);
	assert_int_equal(admin_parse_auto_cleanup("5\n6\n", 4, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "auto_cleanup takes one line; this write has several.");
}

static void test_extend_only_grows(void **state)
{
	struct cf_err err;
	long long gib = 0;
	(void)state;

	assert_int_equal(admin_parse_extend(S("2\n"), 1, &gib, &err), 0);
	assert_int_equal(gib, 2);
	assert_int_equal(admin_parse_extend(S("1T"), 1, &gib, &err), 0);
	assert_int_equal(gib, 1024);
	assert_int_equal(admin_parse_extend(S("1\n"), 1, &gib, &err), -EINVAL);
	assert_string_equal(err.msg, "New size for extend must be greater than current size (1 GiB, "
			    "asked 1 GiB): volumes are never shrunk.");
	assert_int_equal(admin_parse_extend(S("1"), 4, &gib, &err), -EINVAL);
	assert_int_equal(admin_parse_extend(S("2X"), 1, &gib, &err), -EINVAL);
	assert_int_equal(admin_parse_extend(S("\n"), 1, &gib, &err), -EINVAL);
	assert_string_equal(err.msg, "size: write the new size in GiB (e.g. 20 or 20G).");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_takes_one_line_as_echo_writes_it),
		cmocka_unit_test(test_bool_takes_cinders_words_in_any_case),
		cmocka_unit_test(test_reason_is_one_line_of_at_most_255_bytes),
		cmocka_unit_test(test_status_follows_cinders_lists),
		cmocka_unit_test(test_extend_only_grows),
		cmocka_unit_test(test_auto_cleanup_is_whole_seconds_or_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
