/* The scratch area of cleanup/: names, limits, references that outlive a
 * name, rename within the area, and take (the consuming rename over
 * request). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scratch.h"

static int setup(void **state)
{
	struct scratch *s = malloc(sizeof(*s));
	scratch_init(s, 3, 16);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	scratch_destroy(*state);
	free(*state);
	return 0;
}

static struct scratch_node *make_file(struct scratch *s, const char *name, const char *text)
{
	struct scratch_node *n;
	struct cf_err err;

	assert_int_equal(scratch_create(s, name, 0600, 7, 8, O_EXCL, &n, &err), 0);
	if (text)
		assert_int_equal(scratch_write(s, n, text, strlen(text), 0, &err), (int)strlen(text));
	return n;
}

static void test_a_file_is_made_written_and_read(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n = make_file(s, ".ansible_tmpab12request", "is_up=true");
	struct scratch_attr a;
	char buf[32] = "";

	scratch_attr(s, n, &a);
	assert_int_equal(a.mode, S_IFREG | 0600);
	assert_int_equal(a.uid, 7);
	assert_int_equal(a.gid, 8);
	assert_int_equal(a.size, 10);
	assert_int_equal(scratch_read(s, n, buf, sizeof(buf), 6), 4);
	assert_string_equal(buf, "true");
	assert_int_equal(scratch_read(s, n, buf, sizeof(buf), 10), 0);
	scratch_put(s, n);
}

static void test_names_without_request_are_refused(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n;
	struct cf_err err = { "" };

	assert_int_equal(scratch_create(s, "reqeust", 0600, 0, 0, 0, &n, &err), -EACCES);
	assert_non_null(strstr(err.msg, "cleanup/reqeust: only cleanup/request takes specs"));
	assert_int_equal(scratch_mkdir(s, "lock", 0700, 0, 0, &err), -EACCES);
}

static void test_the_entry_limit_counts_files_and_directories(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n;
	struct cf_err err = { "" };

	scratch_put(s, make_file(s, "request.1", NULL));
	assert_int_equal(scratch_mkdir(s, "request.lock", 0700, 0, 0, &err), 0);
	scratch_put(s, make_file(s, "request.2", NULL));
	assert_int_equal(scratch_create(s, "request.3", 0600, 0, 0, 0, &n, &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "already 3 temporary files and lock directories"));
	assert_int_equal(scratch_mkdir(s, "request.lock2", 0700, 0, 0, &err), -ENOSPC);
	/* Removing one makes room. */
	assert_int_equal(scratch_remove(s, "request.lock", true), 0);
	assert_int_equal(scratch_mkdir(s, "request.lock2", 0700, 0, 0, &err), 0);
}

static void test_the_size_limit_is_efbig(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n = make_file(s, "request.big", "0123456789abcdef");
	struct cf_err err = { "" };

	assert_int_equal(scratch_write(s, n, "x", 1, 16, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "holds at most 16 bytes"));
	assert_int_equal(scratch_write(s, n, "x", 1, INT64_MAX, &err), -EFBIG);
	assert_int_equal(scratch_truncate(s, n, 17, &err), -EFBIG);
	/* Nothing was lost by the refusals. */
	assert_int_equal(scratch_truncate(s, n, 4, &err), 0);
	assert_int_equal(scratch_write(s, n, "Z", 1, 8, &err), 1);
	{
		char buf[16];
		assert_int_equal(scratch_read(s, n, buf, sizeof(buf), 0), 9);
		assert_memory_equal(buf, "0123\0\0\0\0Z", 9);
	}
	scratch_put(s, n);
}

static void test_exclusive_create_and_truncating_open(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n = make_file(s, "request.x", "abc"), *again;
	struct scratch_attr a;
	struct cf_err err;

	assert_int_equal(scratch_create(s, "request.x", 0600, 0, 0, O_EXCL, &again, &err), -EEXIST);
	assert_int_equal(scratch_create(s, "request.x", 0600, 0, 0, O_TRUNC, &again, &err), 0);
	assert_ptr_equal(again, n);
	scratch_attr(s, n, &a);
	assert_int_equal(a.size, 0);
	scratch_put(s, again);
	scratch_put(s, n);
}

static void test_an_open_file_outlives_its_name(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n = make_file(s, "request.tmp", "kept"), *found;
	char buf[8] = "";

	assert_int_equal(scratch_remove(s, "request.tmp", false), 0);
	assert_int_equal(scratch_find(s, "request.tmp", &found), -ENOENT);
	assert_int_equal(scratch_read(s, n, buf, sizeof(buf), 0), 4);
	assert_string_equal(buf, "kept");
	scratch_put(s, n); /* frees it: ASan says whether that was right */
}

static void test_remove_checks_the_kind(void **state)
{
	struct scratch *s = *state;
	struct cf_err err;

	scratch_put(s, make_file(s, "request.f", NULL));
	assert_int_equal(scratch_mkdir(s, "request.d", 0700, 0, 0, &err), 0);
	assert_int_equal(scratch_remove(s, "request.f", true), -ENOTDIR);
	assert_int_equal(scratch_remove(s, "request.d", false), -EISDIR);
	assert_int_equal(scratch_remove(s, "request.none", false), -ENOENT);
}

static void test_rename_within_the_area(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n;
	struct cf_err err = { "" };
	char buf[8] = "";

	scratch_put(s, make_file(s, "request.a", "A"));
	scratch_put(s, make_file(s, "request.b", "B"));
	assert_int_equal(scratch_rename(s, "request.a", "request.b", RENAME_NOREPLACE, &err), -EEXIST);
	assert_int_equal(scratch_rename(s, "request.a", "other", 0, &err), -EACCES);
	assert_int_equal(scratch_rename(s, "request.a", "request.b", 0, &err), 0);
	assert_int_equal(scratch_find(s, "request.a", &n), -ENOENT);
	assert_int_equal(scratch_find(s, "request.b", &n), 0);
	assert_int_equal(scratch_read(s, n, buf, sizeof(buf), 0), 1);
	assert_string_equal(buf, "A");
	scratch_put(s, n);
	assert_int_equal(scratch_mkdir(s, "request.d", 0700, 0, 0, &err), 0);
	assert_int_equal(scratch_rename(s, "request.b", "request.d", 0, &err), -EISDIR);
}

static void test_take_consumes_the_file(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n;
	struct cf_err err;
	char *data;
	size_t len;

	scratch_put(s, make_file(s, "requestXYZ", "host=a@b"));
	assert_int_equal(scratch_take(s, "requestXYZ", &data, &len), 0);
	assert_int_equal(len, 8);
	assert_string_equal(data, "host=a@b");
	free(data);
	assert_int_equal(scratch_find(s, "requestXYZ", &n), -ENOENT);
	assert_int_equal(scratch_take(s, "requestXYZ", &data, &len), -ENOENT);
	assert_int_equal(scratch_mkdir(s, "request.lock", 0700, 0, 0, &err), 0);
	assert_int_equal(scratch_take(s, "request.lock", &data, &len), -EISDIR);
}

static void test_attributes_change_as_asked(void **state)
{
	struct scratch *s = *state;
	struct scratch_node *n = make_file(s, "request.m", NULL);
	struct timespec tv[2] = { { 100, 1 }, { 0, UTIME_OMIT } };
	struct scratch_attr before, after;

	scratch_attr(s, n, &before);
	scratch_chmod(s, n, S_IFREG | 0640);
	scratch_chown(s, n, (uid_t)-1, 99);
	scratch_utimens(s, n, tv);
	scratch_attr(s, n, &after);
	assert_int_equal(after.mode, S_IFREG | 0640);
	assert_int_equal(after.uid, 7);
	assert_int_equal(after.gid, 99);
	assert_int_equal(after.atime.tv_sec, 100);
	assert_int_equal(after.mtime.tv_sec, before.mtime.tv_sec);
	assert_int_equal(after.mtime.tv_nsec, before.mtime.tv_nsec);
	scratch_put(s, n);
}

struct seen {
	char names[4][32];
	int count;
};

static int collect(void *ctx, const char *name, const struct scratch_attr *a)
{
	struct seen *s = ctx;
	(void)a;
	snprintf(s->names[s->count++], sizeof(s->names[0]), "%s", name);
	return 0;
}

static void test_list_shows_what_exists(void **state)
{
	struct scratch *s = *state;
	struct seen seen = { .count = 0 };
	struct cf_err err;

	scratch_put(s, make_file(s, "request.1", NULL));
	assert_int_equal(scratch_mkdir(s, "request.lock", 0700, 0, 0, &err), 0);
	assert_int_equal(scratch_list(s, collect, &seen), 0);
	assert_int_equal(seen.count, 2);
	assert_string_equal(seen.names[0], "request.1");
	assert_string_equal(seen.names[1], "request.lock");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_file_is_made_written_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_without_request_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_entry_limit_counts_files_and_directories, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_size_limit_is_efbig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exclusive_create_and_truncating_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_open_file_outlives_its_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_checks_the_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_within_the_area, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_consumes_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attributes_change_as_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_shows_what_exists, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
