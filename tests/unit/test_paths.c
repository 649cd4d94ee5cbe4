/* The path table: every pattern resolves to its node with its captures,
 * and paths that must not match do not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "paths.h"

#define UUID "0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10"

static void expect_kind(const char *path, enum node_kind kind)
{
	struct path_match m;
	int rc = paths_match(path, &m);

	if (rc != 0)
		fail_msg("%s did not match (%d)", path, rc);
	if (m.rule->kind != kind)
		fail_msg("%s matched %s, not the expected kind", path, m.rule->pattern);
}

static void expect_no_match(const char *path)
{
	struct path_match m;

	if (paths_match(path, &m) == 0)
		fail_msg("%s matched %s but must not", path, m.rule->pattern);
}

static void test_every_pattern_matches_its_paths(void **state)
{
	(void)state;
	expect_kind("/", NODE_ROOT);
	expect_kind("/README", NODE_README);
	expect_kind("/workers", NODE_WORKERS);
	expect_kind("/workers/1", NODE_WORKER);
	expect_kind("/workers/42/host", NODE_WORKER_FIELD);
	expect_kind("/workers/42/info.json", NODE_WORKER_FIELD);
	expect_kind("/clusters", NODE_CLUSTERS);
	expect_kind("/clusters/c1@lvm", NODE_CLUSTER);
	expect_kind("/clusters/c1@lvm/num_down_hosts", NODE_CLUSTER_FIELD);
	expect_kind("/clusters/c1@lvm/info.json", NODE_CLUSTER_FIELD);
	expect_kind("/clusters/c1@lvm/workers", NODE_CLUSTER_WORKERS);
	expect_kind("/clusters/c1@lvm/workers/7", NODE_CLUSTER_WORKER);
	expect_kind("/stuck", NODE_STUCK);
	expect_kind("/stuck/volume", NODE_STUCK_TYPE);
	expect_kind("/stuck/snapshot", NODE_STUCK_TYPE);
	expect_kind("/stuck/volume/" UUID, NODE_STUCK_RESOURCE);
	expect_kind("/stuck/snapshot/" UUID "/status", NODE_STUCK_FIELD);
	expect_kind("/stuck/volume/" UUID "/info.json", NODE_STUCK_FIELD);
	expect_kind("/volumes", NODE_VOLUMES);
	expect_kind("/volumes/" UUID, NODE_VOLUME);
	expect_kind("/volumes/" UUID "/target_iqn", NODE_VOLUME_FIELD);
	expect_kind("/snapshots", NODE_SNAPSHOTS);
	expect_kind("/snapshots/" UUID, NODE_SNAPSHOT);
	expect_kind("/snapshots/" UUID "/volume_id", NODE_SNAPSHOT_FIELD);
	expect_kind("/cleanup", NODE_CLEANUP);
	expect_kind("/cleanup/request", NODE_CLEANUP_REQUEST);
	expect_kind("/cleanup/result", NODE_CLEANUP_RESULT);
	expect_kind("/cleanup/error", NODE_CLEANUP_ERROR);
	expect_kind("/cleanup/preview", NODE_CLEANUP_PREVIEW);
	expect_kind("/cleanup/history/latest", NODE_HISTORY_LATEST);
	expect_kind("/cleanup/history", NODE_HISTORY);
	expect_kind("/cleanup/history/00000012", NODE_HISTORY_ENTRY);
	expect_kind("/cleanup/history/12", NODE_HISTORY_ENTRY);
	expect_kind("/cleanup/history/12/request", NODE_HISTORY_REQUEST);
	expect_kind("/cleanup/history/12/result", NODE_HISTORY_RESULT);
	expect_kind("/cleanup/history/12/progress.json", NODE_HISTORY_PROGRESS);
	expect_kind("/cleanup/history/12/wait", NODE_HISTORY_WAIT);
	/* Any other name in cleanup/ is a scratch entry's (which may not
	 * exist): the control files' own names come first. */
	expect_kind("/cleanup/.ansible_tmpk3j2request", NODE_CLEANUP_TEMP);
	expect_kind("/cleanup/request.lock", NODE_CLEANUP_TEMP);
	expect_kind("/cleanup/requests", NODE_CLEANUP_TEMP);
}

static void test_every_rule_is_reachable(void **state)
{
	/* Each rule's own pattern, with captures filled in, resolves to it:
	 * no rule is shadowed by an earlier one. */
	static const char *const samples[][2] = {
		{ "%id", "3" }, { "%name", "c9@x" }, { "%type", "volume" },
		{ "%uuid", UUID }, { "%field", "info.json" }, { "%req", "12" },
	};
	(void)state;
	for (int r = 0; r < path_rules_count; r++) {
		char path[512] = "";
		const char *p = path_rules[r].pattern;
		struct path_match m;

		while (*p) {
			int done = 0;
			for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
				size_t n = strlen(samples[s][0]);
				if (strncmp(p, samples[s][0], n) == 0) {
					strcat(path, samples[s][1]);
					p += n;
					done = 1;
					break;
				}
			}
			if (!done)
				strncat(path, p++, 1);
		}
		assert_int_equal(paths_match(path, &m), 0);
		assert_ptr_equal(m.rule, &path_rules[r]);
	}
}

static void test_captures_are_returned(void **state)
{
	struct path_match m;
	(void)state;

	assert_int_equal(paths_match("/workers/123/cluster_name", &m), 0);
	assert_int_equal(m.worker_id, 123);
	assert_string_equal(m.field->name, "cluster_name");

	assert_int_equal(paths_match("/clusters/c1@lvm#pool/workers/9", &m), 0);
	assert_string_equal(m.cluster, "c1@lvm#pool");
	assert_int_equal(m.worker_id, 9);

	assert_int_equal(paths_match("/stuck/snapshot/" UUID "/worker_id", &m), 0);
	assert_string_equal(m.stuck_type, "Snapshot");
	assert_string_equal(m.stuck_dir, "snapshot");
	assert_string_equal(m.uuid, UUID);
	assert_string_equal(m.field->name, "worker_id");

	assert_int_equal(paths_match("/clusters/c1/info.json", &m), 0);
	assert_ptr_equal(m.field, &view_info_json);

	assert_int_equal(paths_match("/cleanup/history/00000042/progress.json", &m), 0);
	assert_int_equal(m.request_id, 42);
}

static void test_paths_that_must_not_match(void **state)
{
	(void)state;
	expect_no_match("");
	expect_no_match("workers");
	expect_no_match("//");
	expect_no_match("/workers/");
	expect_no_match("/workers//1");
	expect_no_match("/README/x");
	expect_no_match("/readme");
	expect_no_match("/workers/0");
	expect_no_match("/workers/01");
	expect_no_match("/workers/-1");
	expect_no_match("/workers/1x");
	expect_no_match("/workers/abc");
	expect_no_match("/workers/1234567890123456789");
	expect_no_match("/workers/1/nope");
	expect_no_match("/workers/1/id");            /* in info.json only */
	expect_no_match("/workers/1/host/x");
	expect_no_match("/workers/1/num_hosts");     /* a cluster's field */
	expect_no_match("/clusters/.");
	expect_no_match("/clusters/..");
	expect_no_match("/clusters/c1/name");        /* in info.json only */
	expect_no_match("/clusters/c1/host");
	expect_no_match("/clusters/c1/workers/x");
	expect_no_match("/clusters/c1/workers/1/host");
	expect_no_match("/stuck/volumes");
	expect_no_match("/stuck/Volume");
	expect_no_match("/stuck/volume/not-a-uuid");
	expect_no_match("/stuck/volume/0B7C5E38-2A6F-4D4E-9A51-3C1F7D9E2B10"); /* stored lower case */
	expect_no_match("/stuck/volume/0b7c5e382a6f4d4e9a513c1f7d9e2b10");
	expect_no_match("/stuck/volume/" UUID "/is_up");
	expect_no_match("/stuck/volume/" UUID "/resource_id");
	expect_no_match("/a/b/c/d/e/f/g/h/i/j");
	expect_no_match("/volumes/" UUID "/volume_id");  /* a snapshot's field */
	expect_no_match("/snapshots/" UUID "/target_iqn"); /* a volume's field */
	expect_no_match("/volumes/db1");
	expect_no_match("/cleanup/request.lock/x");  /* lock directories stay empty */
	expect_no_match("/cleanup/history/1/wait/x");
	expect_no_match("/cleanup/history/latest/x"); /* the kernel follows the link itself */
	expect_no_match("/cleanup/preview/x");
	expect_no_match("/cleanup/history/0");
	expect_no_match("/cleanup/history/00000000");
	expect_no_match("/cleanup/history/x1");
	expect_no_match("/cleanup/history/1/error");
	expect_no_match("/cleanup/history/1/request/x");
}

static void test_overlong_component_is_enametoolong(void **state)
{
	char path[600] = "/clusters/";
	struct path_match m;
	(void)state;

	memset(path + strlen(path), 'a', 300);
	assert_int_equal(paths_match(path, &m), -ENAMETOOLONG);
}

static void test_literal_children_come_from_the_table(void **state)
{
	const char *name;
	const struct path_rule *root = &path_rules[0], *cluster = NULL;
	const char *expected[] = { "README", "metrics", "status", "workers", "clusters", "stuck",
				   "cleanup", "volumes", "snapshots" };
	int i;
	(void)state;

	for (i = 0; paths_literal_child(root, i, &name); i++) {
		assert_true(i < 9);
		assert_string_equal(name, expected[i]);
	}
	assert_int_equal(i, 9);
	for (int r = 0; r < path_rules_count; r++)
		if (path_rules[r].kind == NODE_CLUSTER)
			cluster = &path_rules[r];
	assert_non_null(cluster);
	assert_non_null(paths_literal_child(cluster, 0, &name));
	assert_string_equal(name, "workers");
	assert_null(paths_literal_child(cluster, 1, &name));
}

static void test_names_readdir_may_list(void **state)
{
	(void)state;
	assert_true(paths_valid_cluster_name("c1@lvm"));
	assert_false(paths_valid_cluster_name(""));
	assert_false(paths_valid_cluster_name("a/b"));
	assert_false(paths_valid_cluster_name(".."));
	assert_true(paths_valid_uuid(UUID));
	assert_false(paths_valid_uuid("0B7C5E38-2A6F-4D4E-9A51-3C1F7D9E2B10"));
	assert_false(paths_valid_uuid("0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b1"));
	assert_false(paths_valid_uuid("0b7c5e38x2a6f-4d4e-9a51-3c1f7d9e2b10"));
	/* Every position: a digit, a letter past f, a dash elsewhere. */
	for (int i = 0; i < 36; i++) {
		char bad[37];

		for (int k = 0; k < 3; k++) {
			memcpy(bad, UUID, sizeof(bad));
			if (i == 8 || i == 13 || i == 18 || i == 23)
				bad[i] = k == 0 ? 'a' : k == 1 ? '0' : '_';
			else
				bad[i] = k == 0 ? 'g' : k == 1 ? '-' : (char)0xc3;
			assert_false(paths_valid_uuid(bad));
		}
	}
	assert_false(paths_valid_uuid("0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b100"));
	assert_false(paths_valid_uuid(""));
	assert_true(paths_valid_uuid("abcdef01-2345-6789-abcd-ef0123456789"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_pattern_matches_its_paths),
		cmocka_unit_test(test_every_rule_is_reachable),
		cmocka_unit_test(test_captures_are_returned),
		cmocka_unit_test(test_paths_that_must_not_match),
		cmocka_unit_test(test_overlong_component_is_enametoolong),
		cmocka_unit_test(test_literal_children_come_from_the_table),
		cmocka_unit_test(test_names_readdir_may_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
