/* volumes/create specs: sizes in whole GiB with their units, names, and a
 * clear message for everything refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "volspec.h"

static void accepts(const char *spec, const char *name, long long gib)
{
	struct volspec v;
	struct cf_err err;
	int rc = volspec_parse(spec, strlen(spec), &v, &err);

	if (rc)
		fail_msg("'%s' refused: %s", spec, err.msg);
	assert_string_equal(v.name, name);
	assert_int_equal(v.size_gib, gib);
}

static void refuses(const char *spec, const char *message)
{
	struct volspec v;
	struct cf_err err;

	assert_int_equal(volspec_parse(spec, strlen(spec), &v, &err), -EINVAL);
	if (strcmp(err.msg, message) != 0)
		fail_msg("'%s' said '%s', not '%s'", spec, err.msg, message);
}

static void test_sizes_and_units(void **state)
{
	(void)state;
	accepts("size=10", "", 10);
	accepts("size=10G name=db1", "db1", 10);
	accepts("size=10gib", "", 10);
	accepts("size=2T", "", 2048);
	accepts("{\"name\": \"db 1\", \"size\": 5}", "db 1", 5);
	accepts("{\"size\": \"3GB\"}", "", 3);
	refuses("size=10X", "Unknown size unit 'X' in 10X: sizes are whole GiB, written as 10, 10G or 2T.");
	refuses("size=512M", "Unknown size unit 'M' in 512M: sizes are whole GiB, written as 10, 10G or 2T.");
	refuses("size=0", "Size 0 is out of range: from 1 GiB to 1048576 GiB.");
	refuses("size=2000T", "Size 2000T is out of range: from 1 GiB to 1048576 GiB.");
	refuses("size=-1", "Size -1 is not a whole number of GiB (e.g. 10G).");
	refuses("size=ten", "Size ten is not a whole number of GiB (e.g. 10G).");
	refuses("{\"size\": 1.5}", "Size must be a number of GiB or a string such as 10G.");
}

static void test_keys_and_names(void **state)
{
	(void)state;
	refuses("", "A volume needs at least a size: write e.g. 'name=db1 size=10G'.");
	refuses("name=db1", "A volume needs a size: write e.g. 'size=10G'.");
	refuses("size=1 colour=red", "Invalid keys: colour (a volume takes name and size).");
	refuses("{\"size\": 1, \"name\": \"a\\u0001b\"}", "Name must not hold control characters.");
	refuses("{\"size\": 1, \"name\": 7}", "Name must be a string.");
	/* The shared spec parser names the spec by its kind. */
	refuses("size=1 size=2", "Duplicate volume key: size");
	refuses("[1]", "A volume spec must be a JSON object or key=value words, not an array");
	refuses("{\"size\": ", "Invalid JSON in volume spec at line 1, column 9: unexpected token near end of file");
}

static void test_snapshot_specs(void **state)
{
	struct snapspec s;
	struct cf_err err;
	const char ok[] = "volume_id=0B7C5E38-2A6F-4D4E-9A51-3C1F7D9E2B10 name=s1";
	(void)state;

	assert_int_equal(snapspec_parse(ok, strlen(ok), &s, &err), 0);
	assert_string_equal(s.volume_id, "0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10");
	assert_string_equal(s.name, "s1");
	assert_int_equal(snapspec_parse("name=s1", 7, &s, &err), -EINVAL);
	assert_string_equal(err.msg, "A snapshot needs a volume_id (the volume's UUID).");
	assert_int_equal(snapspec_parse("volume_id=x", 11, &s, &err), -EINVAL);
	assert_string_equal(err.msg, "Volume ID must be a UUID, and x is not.");
	assert_int_equal(snapspec_parse("size=1", 6, &s, &err), -EINVAL);
	assert_string_equal(err.msg, "Invalid keys: size (a snapshot takes volume_id and name).");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_and_units),
		cmocka_unit_test(test_keys_and_names),
		cmocka_unit_test(test_snapshot_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
