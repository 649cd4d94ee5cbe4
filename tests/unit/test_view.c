/* Value files and info.json rendered from the same fields. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "view.h"

#define NOW_SEC 1795632114 /* 2026-11-25 18:41:54 UTC */

static const struct view_ctx ctx = { { NOW_SEC, 0 }, 60 };

static char *render(enum object_type type, const char *name, const void *obj)
{
	const struct field *f = view_find_field(type, name);
	char *text;
	size_t len;

	assert_non_null(f);
	assert_int_equal(view_render(type, f, obj, &ctx, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

#define ASSERT_FILE(type, name, obj, expected)         \
	do {                                           \
		char *t_ = render(type, name, obj);    \
		assert_string_equal(t_, expected);     \
		free(t_);                              \
	} while (0)

static struct volume_connection conn(const char *location, const char *auth)
{
	struct volume_connection c = { "6f0d5c1e-0000-4000-8000-000000000001", "", "" };
	snprintf(c.provider_location, sizeof(c.provider_location), "%s", location);
	snprintf(c.provider_auth, sizeof(c.provider_auth), "%s", auth);
	return c;
}

static void test_connection_is_cinders_iscsi_properties(void **state)
{
	struct volume_connection c = conn("10.0.0.5:3260,7 iqn.2010-10.org.openstack:volume-6f0d 1",
					  "CHAP user1 secret1");
	char *text;
	size_t len;
	(void)state;

	assert_int_equal(view_render_connection(&c, &text, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_string_equal(text,
		"{\n"
		"  \"driver_volume_type\": \"iscsi\",\n"
		"  \"data\": {\n"
		"    \"target_discovered\": false,\n"
		"    \"target_portal\": \"10.0.0.5:3260\",\n"
		"    \"target_iqn\": \"iqn.2010-10.org.openstack:volume-6f0d\",\n"
		"    \"target_lun\": 1,\n"
		"    \"volume_id\": \"6f0d5c1e-0000-4000-8000-000000000001\",\n"
		"    \"auth_method\": \"CHAP\",\n"
		"    \"auth_username\": \"user1\",\n"
		"    \"auth_password\": \"secret1\",\n"
		"    \"encrypted\": false,\n"
		"    \"access_mode\": \"rw\",\n"
		"    \"qos_specs\": null\n"
		"  }\n"
		"}\n");
	free(text);
}

static void test_connection_as_cinder_parses_the_location(void **state)
{
	struct volume_connection c;
	json_t *j;
	char *text;
	size_t len;
	(void)state;

	/* Several portals: the first is target_portal; no LUN: tgtadm's 1;
	 * no provider_auth: no auth keys (Cinder's "no authentication"). */
	c = conn("10.0.0.5:3260;10.0.1.5:3260,3 iqn.x:volume-a", "");
	assert_int_equal(view_render_connection(&c, &text, &len), 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "data"), "target_portal")),
			    "10.0.0.5:3260");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "data"), "target_lun")), 1);
	assert_null(json_object_get(json_object_get(j, "data"), "auth_method"));
	json_decref(j);
	free(text);
	c = conn("10.0.0.5:3260,3 iqn.x:volume-a 0", "");
	assert_int_equal(view_render_connection(&c, &text, &len), 0);
	assert_non_null(strstr(text, "\"target_lun\": 0,"));
	free(text);

	/* No export, and what Cinder could not parse either. */
	c = conn("", "CHAP u p");
	assert_int_equal(view_render_connection(&c, &text, &len), -ENOENT);
	c = conn("garbage", "");
	assert_int_equal(view_render_connection(&c, &text, &len), -EINVAL);
	c = conn("10.0.0.5:3260,3 iqn.x:volume-a one", "");
	assert_int_equal(view_render_connection(&c, &text, &len), -EINVAL);
	c = conn("10.0.0.5:3260,3 iqn.x:volume-a 1 extra", "");
	assert_int_equal(view_render_connection(&c, &text, &len), -EINVAL);
	c = conn("10.0.0.5:3260,3 iqn.x:volume-a 1", "CHAP onlyuser");
	assert_int_equal(view_render_connection(&c, &text, &len), -EINVAL);
}

static void test_worker_value_files(void **state)
{
	struct worker_view w = { .row = {
		.id = 4, .host = "n1@lvm", .binary = "cinder-volume", .cluster_name = "",
		.disabled = true, .created_at = "2026-11-25 10:00:00",
		.updated_at = "2026-11-25 18:41:00.250000", .version = "1.0",
	}, .disabled_reason = "disk swap" };
	struct service *svc = &w.row;
	(void)state;
	ASSERT_FILE(OBJ_WORKER, "host", svc, "n1@lvm\n");
	ASSERT_FILE(OBJ_WORKER, "cluster_name", svc, "\n");
	ASSERT_FILE(OBJ_WORKER, "disabled", svc, "true\n");
	ASSERT_FILE(OBJ_WORKER, "disabled_reason", svc, "disk swap\n");
	ASSERT_FILE(OBJ_WORKER, "is_up", svc, "true\n");
	ASSERT_FILE(OBJ_WORKER, "updated_at", svc, "2026-11-25T18:41:00Z\n");
	strcpy(svc->updated_at, "2026-11-25 18:40:00");
	ASSERT_FILE(OBJ_WORKER, "is_up", svc, "false\n");
	assert_true(view_find_field(OBJ_WORKER, "disabled")->writable);
	assert_true(view_find_field(OBJ_WORKER, "disabled_reason")->writable);
	assert_false(view_find_field(OBJ_WORKER, "host")->writable);
	assert_null(view_find_field(OBJ_WORKER, "id"));
}

static void test_info_json_holds_the_same_values(void **state)
{
	struct worker_view svc = { .row = {
		.id = 4, .host = "n1@lvm", .binary = "cinder-volume", .cluster_name = "c1@lvm",
		.created_at = "2026-11-25 10:00:00", .updated_at = "", .version = "1.0",
	} };
	json_error_t jerr;
	json_t *root;
	char *text = render(OBJ_WORKER, "info.json", &svc);
	(void)state;

	assert_int_equal(text[strlen(text) - 1], '\n');
	root = json_loads(text, 0, &jerr);
	assert_non_null(root);
	assert_int_equal(json_integer_value(json_object_get(root, "id")), 4);
	assert_string_equal(json_string_value(json_object_get(root, "cluster_name")), "c1@lvm");
	assert_true(json_is_null(json_object_get(root, "updated_at")));
	assert_true(json_is_false(json_object_get(root, "disabled")));
	/* No heartbeat yet: created_at decides, and 10:00 is long ago. */
	assert_true(json_is_false(json_object_get(root, "is_up")));
	assert_true(json_is_null(json_object_get(root, "disabled_reason")));
	assert_int_equal(json_object_size(root), 9);
	json_decref(root);
	free(text);
}

static void test_cluster_and_stuck_files(void **state)
{
	struct cluster_view cl = { .row = { .name = "c1@lvm", .binary = "cinder-volume" } };
	struct stuck res = {
		.resource_type = "Volume", .resource_id = "0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10",
		.status = "deleting", .service_id = 3, .host = "n3@lvm",
		.updated_at = "not a time",
	};
	json_t *root;
	char *text;
	(void)state;

	cl.summary.num_hosts = 3;
	cl.summary.num_down_hosts = 1;
	cl.summary.is_up = true;
	ASSERT_FILE(OBJ_CLUSTER, "num_hosts", &cl, "3\n");
	ASSERT_FILE(OBJ_CLUSTER, "num_down_hosts", &cl, "1\n");
	ASSERT_FILE(OBJ_CLUSTER, "is_up", &cl, "true\n");
	ASSERT_FILE(OBJ_STUCK, "worker_id", &res, "3\n");
	ASSERT_FILE(OBJ_STUCK, "cluster_name", &res, "\n");
	/* An unreadable stored time is shown as stored, not hidden. */
	ASSERT_FILE(OBJ_STUCK, "updated_at", &res, "not a time\n");
	text = render(OBJ_STUCK, "info.json", &res);
	root = json_loads(text, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(root, "resource_type")), "Volume");
	assert_string_equal(json_string_value(json_object_get(root, "status")), "deleting");
	json_decref(root);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_value_files),
		cmocka_unit_test(test_connection_is_cinders_iscsi_properties),
		cmocka_unit_test(test_connection_as_cinder_parses_the_location),
		cmocka_unit_test(test_info_json_holds_the_same_values),
		cmocka_unit_test(test_cluster_and_stuck_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
