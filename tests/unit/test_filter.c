/* Filter specs: both forms, Cinder's checks in Cinder's order with its
 * messages, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define UUID "0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10"

static int parse(const char *spec, struct filter *f, struct cf_err *err)
{
	return filter_parse(spec, strlen(spec), f, err);
}

static void accepts(const char *spec, struct filter *f)
{
	struct cf_err err;
	int rc = parse(spec, f, &err);
	if (rc != 0)
		fail_msg("'%s' was refused (%d): %s", spec, rc, err.msg);
}

static void refuses(const char *spec, int errnum, const char *message)
{
	struct filter f;
	struct cf_err err;
	int rc = parse(spec, &f, &err);

	if (rc != -errnum)
		fail_msg("'%s' gave %d, not -%d", spec, rc, errnum);
	if (strcmp(err.msg, message) != 0)
		fail_msg("'%s' said '%s', not '%s'", spec, err.msg, message);
}

static void test_empty_spec_is_no_filter_with_cinder_defaults(void **state)
{
	struct filter f;
	(void)state;
	accepts("", &f);
	assert_int_equal(f.is_up, TRI_FALSE); /* only workers that are down */
	assert_int_equal(f.disabled, TRI_ANY);
	assert_false(f.has_service_id);
	assert_string_equal(f.binary, "");
	accepts("  \n\t ", &f);
	assert_int_equal(f.is_up, TRI_FALSE);
	accepts("{}", &f);
	assert_int_equal(f.is_up, TRI_FALSE);
}

static void test_key_value_words_and_json_give_the_same_filter(void **state)
{
	struct filter a, b;
	(void)state;
	accepts("cluster_name=c1@lvm, host=node1\nbinary=cinder-volume is_up=true", &a);
	accepts("{\"cluster_name\": \"c1@lvm\", \"host\": \"node1\", \"binary\": \"cinder-volume\","
		" \"is_up\": true}", &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_string_equal(a.cluster_name, "c1@lvm");
	assert_string_equal(a.host, "node1");
	assert_int_equal(a.is_up, TRI_TRUE);
}

/* What cleanup/request's read adds while a spec would reach something:
 * written back, the same spec, in either form. */
static void test_note_lines_are_ignored_in_both_forms(void **state)
{
	struct filter plain, noted;
	(void)state;
	accepts("host=node6@lvm\n", &plain);
	accepts("host=node6@lvm\n# cinderfs: would reach 3 resources now; writing this spec "
		"again cleans them\n", &noted);
	assert_memory_equal(&plain, &noted, sizeof(plain));
	accepts("# cinderfs: a note before\nhost=node6@lvm\n  \t# cinderfs: indented\n", &noted);
	assert_memory_equal(&plain, &noted, sizeof(plain));
	accepts("{\"host\": \"node6@lvm\"}", &plain);
	accepts("{\"host\": \"node6@lvm\"}\n# cinderfs: would reach 1 resource now; request 4 "
		"has 1 job not ended\n", &noted);
	assert_memory_equal(&plain, &noted, sizeof(plain));
	/* A note alone is the empty spec, as an empty spec reads back. */
	accepts("# cinderfs: would reach 2 resources now\n", &noted);
	accepts("", &plain);
	assert_memory_equal(&plain, &noted, sizeof(plain));
	/* A '#' of the spec's own stays the spec's. */
	accepts("host=node1@lvm#pool\n# cinderfs: note", &noted);
	assert_string_equal(noted.host, "node1@lvm#pool");
}

static void test_other_comments_are_still_refused(void **state)
{
	(void)state;
	/* A commented-out spec must not become the empty one (every down
	 * worker). */
	refuses("# host=node6@lvm\n", EINVAL,
		"Invalid filter word '#': expected key=value (or a JSON object)");
	refuses("#cinderfs: close but not the note\n", EINVAL,
		"Invalid filter word '#cinderfs:': expected key=value (or a JSON object)");
	refuses("host=a # cinderfs: not at a line's start", EINVAL,
		"Invalid filter word '#': expected key=value (or a JSON object)");
	/* In JSON, the parser names the place, which the blanking keeps. */
	refuses("{\"host\": \"a\"}\n# other", EINVAL,
		"Invalid JSON in filter spec at line 2, column 1: end of file expected near '#'");
	refuses("{\"host\": \"a\"}\n# cinderfs: a note\n}", EINVAL,
		"Invalid JSON in filter spec at line 3, column 1: end of file expected near '}'");
}

static void test_null_word_is_json_null(void **state)
{
	struct filter f;
	(void)state;
	accepts("is_up=null", &f);
	assert_int_equal(f.is_up, TRI_ANY); /* either up or down */
	accepts("{\"is_up\": null, \"disabled\": null, \"service_id\": null}", &f);
	assert_int_equal(f.is_up, TRI_ANY);
	assert_int_equal(f.disabled, TRI_ANY);
	assert_true(f.service_id_present);
	assert_false(f.has_service_id);
	accepts("host=null", &f);
	assert_true(f.host_present);
	assert_string_equal(f.host, "");
	/* In quotes, null is the string. */
	accepts("host=\"null\"", &f);
	assert_string_equal(f.host, "null");
}

static void test_unknown_keys_are_listed_in_order(void **state)
{
	(void)state;
	refuses("fake=1", EINVAL, "Invalid filter keys: fake");
	refuses("bad=1 host=x other=2", EINVAL, "Invalid filter keys: bad, other");
	refuses("{\"Host\": \"x\"}", EINVAL, "Invalid filter keys: Host");
	/* The request's time is stamped on acceptance: a client cannot set it. */
	refuses("until=2026-11-25T00:00:00", EINVAL, "Invalid filter keys: until");
	/* Unknown keys come first, before any value is looked at. */
	refuses("is_up=maybe zzz=1", EINVAL, "Invalid filter keys: zzz");
}

static void test_binary(void **state)
{
	struct filter f;
	(void)state;
	accepts("binary=cinder-scheduler", &f);
	assert_string_equal(f.binary, "cinder-scheduler");
	accepts("{\"binary\": null}", &f);
	assert_string_equal(f.binary, "");
	refuses("binary=cinder-backup", EINVAL,
		"binary must be empty or set to cinder-volume or cinder-scheduler");
	refuses("binary=", EINVAL, "binary must be empty or set to cinder-volume or cinder-scheduler");
	refuses("{\"binary\": 7}", EINVAL,
		"binary must be empty or set to cinder-volume or cinder-scheduler");
	/* binary is checked before the booleans. */
	refuses("is_up=maybe binary=x", EINVAL,
		"binary must be empty or set to cinder-volume or cinder-scheduler");
}

static void test_booleans(void **state)
{
	static const char *const yes[] = { "1", "t", "true", "on", "y", "yes", "TRUE", "Yes", "On" };
	static const char *const no[] = { "0", "f", "false", "off", "n", "no", "FALSE", "No" };
	struct filter f;
	char spec[64];
	(void)state;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(spec, sizeof(spec), "is_up=%s disabled=%s", yes[i], yes[i]);
		accepts(spec, &f);
		assert_int_equal(f.is_up, TRI_TRUE);
		assert_int_equal(f.disabled, TRI_TRUE);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(spec, sizeof(spec), "is_up=%s disabled=%s", no[i], no[i]);
		accepts(spec, &f);
		assert_int_equal(f.is_up, TRI_FALSE);
		assert_int_equal(f.disabled, TRI_FALSE);
	}
	accepts("{\"is_up\": 1, \"disabled\": 0}", &f);
	assert_int_equal(f.is_up, TRI_TRUE);
	assert_int_equal(f.disabled, TRI_FALSE);
	accepts("{\"is_up\": false}", &f);
	assert_int_equal(f.is_up, TRI_FALSE);
	refuses("is_up=maybe", EINVAL, "Value maybe for is_up is not a boolean.");
	refuses("{\"is_up\": \" true\"}", EINVAL, "Value  true for is_up is not a boolean.");
	refuses("{\"is_up\": 2}", EINVAL, "Value 2 for is_up is not a boolean.");
	refuses("{\"is_up\": 1.0}", EINVAL, "Value 1.0 for is_up is not a boolean.");
	refuses("{\"is_up\": [true]}", EINVAL, "Value [true] for is_up is not a boolean.");
	/* disabled is checked before is_up. */
	refuses("is_up=x disabled=z", EINVAL, "Value z for disabled is not a boolean.");
}

static void test_resource_type_is_title_cased(void **state)
{
	struct filter f;
	(void)state;
	accepts("resource_type=volume", &f);
	assert_string_equal(f.resource_type, "Volume");
	accepts("resource_type=SNAPSHOT", &f);
	assert_string_equal(f.resource_type, "Snapshot");
	refuses("resource_type=backup", EINVAL, "Resource type Backup not valid, must be Volume or Snapshot");
	refuses("resource_type=vol_ume", EINVAL, "Resource type Vol_Ume not valid, must be Volume or Snapshot");
	refuses("{\"resource_type\": 3}", EINVAL, "Resource type 3 not valid, must be Volume or Snapshot");
	/* resource_type before resource_id. */
	refuses("resource_id=x resource_type=x", EINVAL, "Resource type X not valid, must be Volume or Snapshot");
}

static void test_resource_id_takes_every_uuid_form(void **state)
{
	static const char *const forms[] = {
		UUID,
		"0B7C5E38-2A6F-4D4E-9A51-3C1F7D9E2B10",
		"0b7c5e382a6f4d4e9a513c1f7d9e2b10",
		"{0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10}",
		"urn:uuid:0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10",
	};
	struct filter f;
	char spec[128];
	(void)state;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(spec, sizeof(spec), "resource_id=%s", forms[i]);
		accepts(spec, &f);
		assert_string_equal(f.resource_id, UUID);
	}
	refuses("resource_id=abc", EINVAL, "Resource ID must be a UUID, and abc is not.");
	refuses("resource_id=0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b1", EINVAL,
		"Resource ID must be a UUID, and 0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b1 is not.");
	refuses("resource_id=0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10aa", EINVAL,
		"Resource ID must be a UUID, and 0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10aa is not.");
	refuses("{\"resource_id\": 12}", EINVAL, "Resource ID must be a UUID, and 12 is not.");
	/* resource_id before service_id. */
	refuses("service_id=x resource_id=y", EINVAL, "Resource ID must be a UUID, and y is not.");
}

static void test_service_id(void **state)
{
	struct filter f;
	(void)state;
	accepts("service_id=42", &f);
	assert_true(f.has_service_id);
	assert_int_equal(f.service_id, 42);
	accepts("{\"service_id\": 7}", &f);
	assert_int_equal(f.service_id, 7);
	accepts("{\"service_id\": \"0007\"}", &f);
	assert_int_equal(f.service_id, 7);
	accepts("service_id=99999999999999999999999999", &f);
	assert_true(f.service_id_matches_none);
	refuses("service_id=abc", EINVAL, "Value abc for service_id is not an integer.");
	refuses("service_id=-1", EINVAL, "Value -1 for service_id is not an integer.");
	refuses("service_id=", EINVAL, "service_id must not be empty.");
	refuses("{\"service_id\": 1.5}", EINVAL, "Value 1.5 for service_id is not an integer.");
	refuses("{\"service_id\": true}", EINVAL, "Value true for service_id is not an integer.");
}

static void test_host_and_cluster_name_must_be_strings(void **state)
{
	char spec[400];
	(void)state;
	refuses("{\"host\": 5}", EINVAL, "Value 5 for host is not a string.");
	refuses("{\"cluster_name\": {\"a\": 1}}", EINVAL, "Value {\"a\":1} for cluster_name is not a string.");
	snprintf(spec, sizeof(spec), "host=%0300d", 0);
	refuses(spec, EINVAL, "Value for host is 300 characters long; the limit is 255.");
}

static void test_hostile_input(void **state)
{
	struct filter f;
	struct cf_err err;
	char *big, *deep;
	(void)state;

	assert_int_equal(filter_parse("host=a\0b", 8, &f, &err), -EINVAL);
	assert_string_equal(err.msg, "Filter spec has a NUL byte at offset 6.");
	refuses("host=caf\xc3", EINVAL, "Filter spec is not valid UTF-8 (byte 8).");
	refuses("host=\xc0\xaf", EINVAL, "Filter spec is not valid UTF-8 (byte 5).");   /* overlong */
	refuses("host=\xed\xa0\x80", EINVAL, "Filter spec is not valid UTF-8 (byte 5)."); /* surrogate */
	accepts("host=caf\xc3\xa9@lvm", &f);
	assert_string_equal(f.host, "caf\xc3\xa9@lvm");

	big = malloc(FILTER_MAX_BYTES + 2);
	memset(big, ' ', FILTER_MAX_BYTES + 1);
	big[FILTER_MAX_BYTES + 1] = '\0';
	refuses(big, EFBIG, "Filter spec is 65537 bytes; the limit is 65536 bytes.");
	big[FILTER_MAX_BYTES] = '\0';
	accepts(big, &f); /* exactly the limit, all blank: no filter */
	free(big);

	deep = malloc(20001);
	for (int i = 0; i < 10000; i++) {
		deep[i] = '[';
		deep[10000 + i] = ']';
	}
	deep[20000] = '\0';
	deep[0] = '{'; /* starts as JSON, nests far too deep */
	assert_int_equal(parse(deep, &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "Invalid JSON in filter spec"));
	free(deep);

	refuses("{\"service_id\": 123456789012345678901234567890}", EINVAL,
		"Invalid JSON in filter spec at line 1, column 45: too big integer");
	refuses("[1, 2]", EINVAL, "A filter spec must be a JSON object or key=value words, not an array");
	refuses("\"x\"", EINVAL, "A filter spec must be a JSON object or key=value words, not a string");
	/* A whole spec that is a JSON value is JSON, refused as one. */
	refuses("null", EINVAL, "A filter spec must be a JSON object or key=value words, not null");
	refuses(" true\n", EINVAL, "A filter spec must be a JSON object or key=value words, not a boolean");
	refuses("5", EINVAL, "A filter spec must be a JSON object or key=value words, not a number");
	refuses("[", EINVAL, "Invalid JSON in filter spec at line 1, column 1: ']' expected near end of file");
	refuses("{\"host\": \"x\"", EINVAL,
		"Invalid JSON in filter spec at line 1, column 12: '}' expected near end of file");
	refuses("host", EINVAL, "Invalid filter word 'host': expected key=value (or a JSON object)");
	refuses("=x", EINVAL, "Invalid filter word '=x': expected key=value (or a JSON object)");
}

static void test_empty_value_never_widens_a_cleanup(void **state)
{
	struct filter f;
	static const char *const keys[] = { "host", "cluster_name", "resource_id", "resource_type",
					     "service_id" };
	char spec[128], message[128];
	(void)state;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(message, sizeof(message), "%s must not be empty.", keys[i]);
		snprintf(spec, sizeof(spec), "%s=", keys[i]);
		refuses(spec, EINVAL, message);
		snprintf(spec, sizeof(spec), "{\"%s\": \"\"}", keys[i]);
		refuses(spec, EINVAL, message);
		snprintf(spec, sizeof(spec), "%s=''", keys[i]); /* quotes removed: empty */
		refuses(spec, EINVAL, message);
	}
	/* `echo "host=$H cluster_name=c1"` with H unset. */
	refuses("host= cluster_name=c1@lvm", EINVAL, "host must not be empty.");
	/* After the unknown keys (step 1), before binary (step 2). */
	refuses("host= bogus=1", EINVAL, "Invalid filter keys: bogus");
	refuses("binary=x host=", EINVAL, "host must not be empty.");
	refuses("is_up=maybe resource_id=", EINVAL, "resource_id must not be empty.");
	/* Several: the first given. */
	refuses("cluster_name= host=", EINVAL, "cluster_name must not be empty.");
	/* Left out, or null, is how not to filter; a blank is a value. */
	accepts("{\"host\": null}", &f);
	assert_string_equal(f.host, "");
	accepts("{\"host\": \" \"}", &f); /* not empty: matches a host named " " */
	assert_string_equal(f.host, " ");
}

static void test_a_key_given_twice_is_refused(void **state)
{
	(void)state;
	refuses("host=a host=b", EINVAL, "Duplicate filter key: host");
	refuses("host=a,host=a", EINVAL, "Duplicate filter key: host");
	refuses("{\"is_up\": \"junk\", \"is_up\": \"false\"}", EINVAL, "Duplicate filter key: is_up");
	/* The key as the parser decoded it. */
	refuses("{\"host\": \"a\", \"ho\\u0073t\": \"b\"}", EINVAL, "Duplicate filter key: host");
	/* Step 0: before unknown keys and values are looked at. */
	refuses("zzz=1 zzz=2", EINVAL, "Duplicate filter key: zzz");
	refuses("{\"zzz\": 1, \"zzz\": 1}", EINVAL, "Duplicate filter key: zzz");
	/* A key longer than the parser's own error text is still named. */
	{
		char key[301], spec[700], want[340];
		memset(key, 'k', 300);
		key[300] = '\0';
		snprintf(spec, sizeof(spec), "{\"%s\": 1, \"%s\": 2}", key, key);
		snprintf(want, sizeof(want), "Duplicate filter key: %s", key);
		refuses(spec, EINVAL, want);
	}
	refuses("{\"a\\\"b\": 1, \"a\\\"b\": 2}", EINVAL, "Duplicate filter key: a\"b");
}

static void test_quoted_word_values_lose_their_quotes(void **state)
{
	struct filter f;
	(void)state;
	accepts("host=\"node3@lvm\"", &f);
	assert_string_equal(f.host, "node3@lvm");
	accepts("host='node3@lvm' cluster_name=\"c1@lvm\"", &f);
	assert_string_equal(f.host, "node3@lvm");
	assert_string_equal(f.cluster_name, "c1@lvm");
	accepts("is_up='true'", &f);
	assert_int_equal(f.is_up, TRI_TRUE);
	/* Anywhere else, or unmatched, quotes are literal. */
	accepts("host=node3\"@lvm", &f);
	assert_string_equal(f.host, "node3\"@lvm");
	accepts("host=\"node3@lvm'", &f);
	assert_string_equal(f.host, "\"node3@lvm'");
	accepts("host=\"", &f);
	assert_string_equal(f.host, "\"");
	/* In JSON, a string's quotes are JSON's: inner ones stay. */
	accepts("{\"host\": \"'n'\"}", &f);
	assert_string_equal(f.host, "'n'");
}

static void test_disabled_null_means_either(void **state)
{
	struct filter f;
	(void)state;
	accepts("{\"disabled\": null}", &f);
	assert_int_equal(f.disabled, TRI_ANY);
	accepts("disabled=null", &f);
	assert_int_equal(f.disabled, TRI_ANY);
	accepts("disabled=true", &f);
	assert_int_equal(f.disabled, TRI_TRUE);
	accepts("", &f);
	assert_int_equal(f.disabled, TRI_ANY);
}

static void test_canonical_uuid(void **state)
{
	char out[UUID_LEN];
	(void)state;
	/* As Python's uuid.UUID(): the urn prefix is lower case only. */
	assert_true(filter_canonical_uuid("urn:uuid:{0B7C5E38-2A6F-4D4E-9A51-3C1F7D9E2B10}", out));
	assert_string_equal(out, UUID);
	assert_false(filter_canonical_uuid("URN:UUID:0B7C5E38-2A6F-4D4E-9A51-3C1F7D9E2B10", out));
	assert_true(filter_canonical_uuid("0b7c5e38-2a6f4d4e-9a51-3c1f7d9e2b10", out));
	assert_string_equal(out, UUID);
	assert_false(filter_canonical_uuid("", out));
	assert_false(filter_canonical_uuid("{}", out));
	assert_false(filter_canonical_uuid("0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b1g", out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_spec_is_no_filter_with_cinder_defaults),
		cmocka_unit_test(test_key_value_words_and_json_give_the_same_filter),
		cmocka_unit_test(test_null_word_is_json_null),
		cmocka_unit_test(test_unknown_keys_are_listed_in_order),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_resource_type_is_title_cased),
		cmocka_unit_test(test_resource_id_takes_every_uuid_form),
		cmocka_unit_test(test_service_id),
		cmocka_unit_test(test_host_and_cluster_name_must_be_strings),
		cmocka_unit_test(test_hostile_input),
		cmocka_unit_test(test_empty_value_never_widens_a_cleanup),
		cmocka_unit_test(test_a_key_given_twice_is_refused),
		cmocka_unit_test(test_quoted_word_values_lose_their_quotes),
		cmocka_unit_test(test_disabled_null_means_either),
		cmocka_unit_test(test_canonical_uuid),
		cmocka_unit_test(test_note_lines_are_ignored_in_both_forms),
		cmocka_unit_test(test_other_comments_are_still_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
