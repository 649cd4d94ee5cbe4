/* The command runner with real processes: the allow-list, output capture,
 * exit codes with the command's own words, the fixed environment, the
 * timeout. The tests name their own harmless programs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "run.h"

static const char *const test_programs[] = { "echo", "false", "sleep", "printenv", "ls", NULL };
static const struct run_config cfg = { .timeout_ms = 2000, .lvm_system_dir = "/x/lvm",
				       .allow = test_programs };

static int run(const struct run_config *c, const char *const argv[], struct run_result *res,
	       struct cf_err *err)
{
	struct runner r = run_system(c);
	return r.run(r.ctx, argv, res, err);
}

static void test_programs_off_the_list_are_refused(void **state)
{
	struct run_result res;
	struct cf_err err;
	struct run_config real = { .timeout_ms = 1000 };
	char path[256];
	(void)state;

	assert_int_equal(run(&real, (const char *const[]){ "sh", "-c", "true", NULL }, &res, &err), -EPERM);
	assert_string_equal(err.msg, "sh is not a program cinderfs runs");
	assert_false(run_allowed("rm", path, sizeof(path)));
	assert_true(run_allowed("lvcreate", path, sizeof(path)));
	assert_true(run_allowed("tgtadm", path, sizeof(path)));
	/* Found by absolute path, never through PATH. */
	assert_int_equal(path[0], '/');
}

static void test_stdout_is_captured(void **state)
{
	struct run_result res;
	struct cf_err err;
	(void)state;

	assert_int_equal(run(&cfg, (const char *const[]){ "echo", "hello", "world", NULL }, &res, &err), 0);
	assert_int_equal(res.exit_code, 0);
	assert_string_equal(res.out, "hello world\n");
	assert_string_equal(res.err, "");
	run_result_free(&res);
}

static void test_a_failure_carries_the_command_and_its_words(void **state)
{
	struct run_result res;
	struct cf_err err;
	(void)state;

	assert_int_equal(run(&cfg, (const char *const[]){ "false", NULL }, &res, &err), -EIO);
	assert_int_equal(res.exit_code, 1);
	assert_string_equal(err.msg, "false exited with 1: (no message)");
	run_result_free(&res);
	assert_int_equal(run(&cfg, (const char *const[]){ "ls", "/nonexistent-cinderfs", NULL }, &res, &err), -EIO);
	assert_int_equal(res.exit_code, 2);
	assert_string_equal(err.msg, "ls /nonexistent-cinderfs exited with 2: ls: cannot access "
			    "'/nonexistent-cinderfs': No such file or directory");
	run_result_free(&res);
}

static void test_the_environment_is_fixed(void **state)
{
	struct run_result res;
	struct cf_err err;
	(void)state;

	assert_int_equal(run(&cfg, (const char *const[]){ "printenv", NULL }, &res, &err), 0);
	assert_non_null(strstr(res.out, "LC_ALL=C\n"));
	assert_non_null(strstr(res.out, "LVM_SYSTEM_DIR=/x/lvm\n"));
	assert_non_null(strstr(res.out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
	assert_null(strstr(res.out, "HOME="));
	run_result_free(&res);
}

static void test_a_command_past_its_timeout_is_killed(void **state)
{
	struct run_config quick = cfg;
	struct run_result res;
	struct cf_err err;
	struct timespec a, b;
	(void)state;

	quick.timeout_ms = 200;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(run(&quick, (const char *const[]){ "sleep", "10", NULL }, &res, &err), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec < 5);
	assert_string_equal(err.msg, "sleep 10 did not finish within 200 ms and was killed");
	run_result_free(&res);
}

static void test_last_line(void **state)
{
	char out[64];
	(void)state;
	run_last_line("  WARNING: x\n  Volume group \"vg\" not found\n\n", out, sizeof(out));
	assert_string_equal(out, "Volume group \"vg\" not found");
	run_last_line("", out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_programs_off_the_list_are_refused),
		cmocka_unit_test(test_stdout_is_captured),
		cmocka_unit_test(test_a_failure_carries_the_command_and_its_words),
		cmocka_unit_test(test_the_environment_is_fixed),
		cmocka_unit_test(test_a_command_past_its_timeout_is_killed),
		cmocka_unit_test(test_last_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
