/* The LVM module against real LVM: a volume group on a loop device that
 * tests/integration/test_lvm.sh makes (VG and LVM_SYSTEM_DIR in the
 * environment). Commands go through the real runner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lvm.h"

#define A "0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10"
#define B "1c8d6f49-3b70-4e5f-8b62-4d208e0f3c21"
#define S "2d9e7a5a-4c81-4f60-9c73-5e319f1a4d32"

static struct run_config cfg = { .timeout_ms = 30000 };
static struct lvm l;

static int setup(void **state)
{
	(void)state;
	cfg.lvm_system_dir = getenv("LVM_SYSTEM_DIR");
	l.runner = run_system(&cfg);
	snprintf(l.vg, sizeof(l.vg), "%s", getenv("VG") ? getenv("VG") : "");
	return l.vg[0] && cfg.lvm_system_dir ? 0 : -1;
}

struct seen {
	char names[1024];
	uint64_t size_a;
};

static int note(void *ctx, const struct lv_info *lv)
{
	struct seen *s = ctx;
	snprintf(s->names + strlen(s->names), sizeof(s->names) - strlen(s->names), "%s ", lv->name);
	if (strcmp(lv->name, "volume-" A) == 0)
		s->size_a = lv->size;
	return 0;
}

static void test_volumes_are_created_listed_extended_and_removed(void **state)
{
	struct cf_err err;
	struct seen seen = { "", 0 };
	uint64_t size, free_before, free_after;
	(void)state;

	assert_int_equal(lvm_vg_space(&l, &size, &free_before, &err), 0);
	assert_true(size >= 2ULL << 30);
	assert_int_equal(lvm_create_volume(&l, A, 1, &err), 0);
	assert_int_equal(lvm_create_volume(&l, B, 1, &err), 0);
	assert_int_equal(lvm_list(&l, note, &seen, &err), 0);
	assert_non_null(strstr(seen.names, "volume-" A " "));
	assert_non_null(strstr(seen.names, "volume-" B " "));
	assert_int_equal(seen.size_a, 1ULL << 30);
	assert_int_equal(lvm_vg_space(&l, &size, &free_after, &err), 0);
	assert_int_equal(free_before - free_after, 2ULL << 30);

	assert_int_equal(lvm_extend_volume(&l, A, 2, &err), 0);
	seen = (struct seen){ "", 0 };
	assert_int_equal(lvm_list(&l, note, &seen, &err), 0);
	assert_int_equal(seen.size_a, 2ULL << 30);

	/* One lvremove for both, a third that never existed counts as gone. */
	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A, B, S }, 3, &err), 0);
	seen = (struct seen){ "", 0 };
	assert_int_equal(lvm_list(&l, note, &seen, &err), 0);
	assert_string_equal(seen.names, "");
	/* Deleting again succeeds. */
	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A }, 1, &err), 0);
}

static void test_a_volume_larger_than_the_group_is_enospc(void **state)
{
	struct cf_err err;
	(void)state;

	assert_int_equal(lvm_create_volume(&l, A, 1000, &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "insufficient free space"));
}

static void test_deleting_a_missing_snapshot_succeeds(void **state)
{
	struct cf_err err;
	(void)state;
	assert_int_equal(lvm_delete_snapshot(&l, S, &err), 0);
}

static void test_snapshots_where_the_kernel_allows(void **state)
{
	struct cf_err err;
	int rc;
	(void)state;

	assert_int_equal(lvm_create_volume(&l, A, 1, &err), 0);
	rc = lvm_create_snapshot(&l, S, A, 1, &err);
	if (rc == -EOPNOTSUPP) {
		/* No device-mapper here: said loudly, not passed silently. */
		printf("SKIP: thick snapshots: %s\n", err.msg);
		assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A }, 1, &err), 0);
		skip();
	}
	assert_int_equal(rc, 0);
	/* An origin of snapshots is busy. */
	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A }, 1, &err), -EBUSY);
	assert_int_equal(lvm_delete_snapshot(&l, S, &err), 0);
	assert_int_equal(lvm_delete_volumes(&l, (const char *const[]){ A }, 1, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_volumes_are_created_listed_extended_and_removed),
		cmocka_unit_test(test_a_volume_larger_than_the_group_is_enospc),
		cmocka_unit_test(test_deleting_a_missing_snapshot_succeeds),
		cmocka_unit_test(test_snapshots_where_the_kernel_allows),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
