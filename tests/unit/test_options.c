/* Options and config: defaults, precedence, and a message naming the option
 * or key and the value for everything refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

static char config_path[64];

static int setup(void **state)
{
	int fd;
	(void)state;
	snprintf(config_path, sizeof(config_path), "/tmp/cinderfs-conf.XXXXXX");
	fd = mkstemp(config_path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(config_path);
	return 0;
}

static void write_config(const char *text)
{
	FILE *f = fopen(config_path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* options_parse takes a real argv: writable copies of the words. */
static int parse_args(struct options *o, struct cf_err *err, const char *const *words)
{
	char *argv[32];
	int argc = 0, rc;

	argv[argc++] = strdup("cinderfs");
	for (; *words; words++)
		argv[argc++] = strdup(*words);
	argv[argc] = NULL;
	rc = options_parse(argc, argv, o, err);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return rc;
}

#define PARSE(opts, err, ...) parse_args(opts, err, (const char *const[]){ __VA_ARGS__, NULL })

static void expect_refused(const char *needle, int rc, struct options *o, struct cf_err *err)
{
	assert_int_equal(rc, -EINVAL);
	if (!strstr(err->msg, needle))
		fail_msg("message '%s' lacks '%s'", err->msg, needle);
	options_free(o);
}

static void test_flags_and_defaults(void **state)
{
	struct options o;
	struct cf_err err;
	char host[300];
	(void)state;

	assert_int_equal(PARSE(&o, &err, "--db", "/x/y.db", "/mnt/c"), OPTIONS_RUN);
	assert_string_equal(o.db_path, "/x/y.db");
	assert_string_equal(o.mountpoint, "/mnt/c");
	assert_string_equal(o.binary, "cinder-volume");
	assert_null(o.cluster);
	assert_int_equal(o.service_down_time, 60);
	assert_int_equal(o.report_interval, 10);
	assert_int_equal(o.admin_gid, 0);
	assert_int_equal(o.history_keep, 1000);
	assert_string_equal(o.connection_readers, "root");
	assert_false(o.foreground);
	gethostname(host, sizeof(host));
	assert_non_null(strstr(o.host, "@lvm"));
	assert_int_equal(strncmp(o.host, host, strlen(host) > 200 ? 200 : strlen(host)), 0);
	options_free(&o);

	assert_int_equal(PARSE(&o, &err, "-f", "--host", "n1@lvm", "--cluster", "c1@lvm",
			       "--binary", "cinder-scheduler", "--service-down-time", "5",
			       "--report-interval", "1", "--control-only", "--admin-group", "0",
			       "relative/mnt"), OPTIONS_RUN);
	assert_true(o.foreground);
	assert_true(o.control_only);
	assert_string_equal(o.host, "n1@lvm");
	assert_string_equal(o.cluster, "c1@lvm");
	assert_string_equal(o.binary, "cinder-scheduler");
	assert_int_equal(o.service_down_time, 5);
	assert_int_equal(o.report_interval, 1);
	/* fuse_daemonize changes directory: paths are made absolute. */
	assert_int_equal(o.mountpoint[0], '/');
	assert_non_null(strstr(o.mountpoint, "/relative/mnt"));
	options_free(&o);
}

static void test_connection_readers_root_or_admin(void **state)
{
	struct options o;
	struct cf_err err;
	(void)state;

	assert_int_equal(PARSE(&o, &err, "--connection-readers", "admin", "/m"), OPTIONS_RUN);
	assert_string_equal(o.connection_readers, "admin");
	options_free(&o);
	assert_int_equal(PARSE(&o, &err, "--connection-readers", "root", "/m"), OPTIONS_RUN);
	assert_string_equal(o.connection_readers, "root");
	options_free(&o);
}

static void test_bad_flags_name_the_option_and_value(void **state)
{
	struct options o;
	struct cf_err err;
	(void)state;

	expect_refused("unknown option '--bogus'", PARSE(&o, &err, "--bogus", "/m"), &o, &err);
	expect_refused("unknown option '-z'", PARSE(&o, &err, "-z", "/m"), &o, &err);
	expect_refused("option --service-down-time: 'abc' is not a whole number",
		       PARSE(&o, &err, "--service-down-time", "abc", "/m"), &o, &err);
	expect_refused("option --report-interval: '0'",
		       PARSE(&o, &err, "--report-interval", "0", "/m"), &o, &err);
	expect_refused("option --service-down-time: '-5'",
		       PARSE(&o, &err, "--service-down-time", "-5", "/m"), &o, &err);
	expect_refused("option --binary: 'cinder-backup' is not a binary",
		       PARSE(&o, &err, "--binary", "cinder-backup", "/m"), &o, &err);
	expect_refused("option --host: 'a b' is not a valid name",
		       PARSE(&o, &err, "--host", "a b", "/m"), &o, &err);
	expect_refused("option --admin-group: no group 'no-such-group-here'",
		       PARSE(&o, &err, "--admin-group", "no-such-group-here", "/m"), &o, &err);
	expect_refused("option --history-keep: 'many' is not a whole number from 0 to 1000000000",
		       PARSE(&o, &err, "--history-keep", "many", "/m"), &o, &err);
	expect_refused("option --connection-readers: 'everyone' is not who may read a volume's "
		       "connection (its CHAP secret): use root or admin",
		       PARSE(&o, &err, "--connection-readers", "everyone", "/m"), &o, &err);
	expect_refused("missing MOUNTPOINT", PARSE(&o, &err, "-f"), &o, &err);
	expect_refused("unexpected argument 'extra'", PARSE(&o, &err, "/m", "extra"), &o, &err);
	expect_refused("report_interval (60) must be less than service_down_time (60)",
		       PARSE(&o, &err, "--report-interval", "60", "/m"), &o, &err);
	expect_refused("option --db needs a value", PARSE(&o, &err, "/m", "--db"), &o, &err);
}

static void test_config_file_then_flags_over_it(void **state)
{
	struct options o;
	struct cf_err err;
	(void)state;

	write_config("# a comment\n"
		     "[DEFAULT]\n"
		     "host = cfg@lvm\n"
		     "cluster = c9@lvm\n"
		     "service_down_time = 30\n"
		     "report_interval = 3\n"
		     "cleanup_history_keep = 0\n"
		     "[database]\n"
		     "connection = sqlite:////var/tmp/from-config.db\n");
	assert_int_equal(PARSE(&o, &err, "--config", config_path, "--host", "flag@lvm", "/m"),
			 OPTIONS_RUN);
	assert_string_equal(o.host, "flag@lvm");
	assert_string_equal(o.cluster, "c9@lvm");
	assert_int_equal(o.service_down_time, 30);
	assert_int_equal(o.report_interval, 3);
	assert_int_equal(o.history_keep, 0);
	assert_string_equal(o.db_path, "/var/tmp/from-config.db");
	assert_string_equal(o.config_path, config_path);
	options_free(&o);

	/* --cluster '' makes a clustered config's worker unclustered. */
	assert_int_equal(PARSE(&o, &err, "--config", config_path, "--cluster", "", "/m"),
			 OPTIONS_RUN);
	assert_null(o.cluster);
	options_free(&o);
}

static void test_bad_config_names_file_line_key_and_value(void **state)
{
	struct options o;
	struct cf_err err;
	char needle[160];
	(void)state;

	write_config("[DEFAULT]\nhost = ok@lvm\nservice_down_time = soon\n");
	snprintf(needle, sizeof(needle), "config %s line 3: [DEFAULT] service_down_time: 'soon'",
		 config_path);
	expect_refused(needle, PARSE(&o, &err, "--config", config_path, "/m"), &o, &err);

	write_config("[DEFAULT]\nvolume_grop = x\n");
	snprintf(needle, sizeof(needle), "config %s line 2: unknown key 'volume_grop' in [DEFAULT]",
		 config_path);
	expect_refused(needle, PARSE(&o, &err, "--config", config_path, "/m"), &o, &err);

	write_config("[database]\nconnection = mysql://db/cinder\n");
	expect_refused("'mysql://db/cinder' is not supported",
		       PARSE(&o, &err, "--config", config_path, "/m"), &o, &err);

	write_config("[DEFAULT]\nthis line has no equals sign\n");
	expect_refused("line 2: not a 'key = value' line",
		       PARSE(&o, &err, "--config", config_path, "/m"), &o, &err);

	expect_refused("config /nonexistent/cinderfs.conf: No such file or directory",
		       PARSE(&o, &err, "--config", "/nonexistent/cinderfs.conf", "/m"), &o, &err);
}

static void test_help_and_version_exit(void **state)
{
	struct options o;
	struct cf_err err;
	(void)state;

	assert_int_equal(PARSE(&o, &err, "--version"), OPTIONS_EXIT);
	options_free(&o);
	assert_int_equal(PARSE(&o, &err, "-h"), OPTIONS_EXIT);
	options_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags_and_defaults),
		cmocka_unit_test(test_bad_flags_name_the_option_and_value),
		cmocka_unit_test(test_connection_readers_root_or_admin),
		cmocka_unit_test_setup_teardown(test_config_file_then_flags_over_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config_names_file_line_key_and_value, setup, teardown),
		cmocka_unit_test(test_help_and_version_exit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
