/* Cleanup requests, from the bytes written to the stored request and its
 * jobs. The order of the checks is Cinder's; a refused request leaves no
 * trace in the database. */
#include "request.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "log.h"
#include "planner.h"

const char request_empty_result[] = "{\n  \"cleaning\": [],\n  \"unavailable\": []\n}\n";

/* Step 7: a resource named without saying where it is is looked up, so
 * that the request goes to its owner only. */
static int locate_resource(struct store *st, struct filter *f, struct cf_err *err)
{
	int64_t owner = 0;
	char type[16] = "";
	int count, rc;

	if (!f->resource_id[0] || f->service_id_present || f->cluster_name_present ||
	    f->host_present)
		return 0;
	/* binary is not part of the lookup (fix): workers rows have none. */
	rc = store_find_pending(st, f->resource_id, f->resource_type[0] ? f->resource_type : NULL,
				&count, &owner, type);
	if (rc)
		return err_set(err, -rc, "cannot look up resource %s: %s", f->resource_id, strerror(-rc));
	if (count == 0)
		return err_set(err, EINVAL, "There is no resource with UUID %s pending cleanup.",
			       f->resource_id);
	if (count > 1)
		return err_set(err, EINVAL, "There are multiple resources with UUID %s pending "
			       "cleanup.  Please be more specific.", f->resource_id);
	f->service_id_present = true;
	f->has_service_id = owner != 0;
	f->service_id = owner;
	snprintf(f->resource_type, sizeof(f->resource_type), "%s", type);
	return 0;
}

static json_t *filter_json(const struct filter *f)
{
	json_t *o = json_object();
	json_t *tri[] = { json_null(), json_false(), json_true() };

	json_object_set_new(o, "service_id", f->service_id_matches_none ? json_string("(none)")
				: f->has_service_id ? json_integer(f->service_id) : json_null());
	json_object_set_new(o, "cluster_name", f->cluster_name[0] ? json_string(f->cluster_name) : json_null());
	json_object_set_new(o, "host", f->host[0] ? json_string(f->host) : json_null());
	json_object_set_new(o, "binary", f->binary[0] ? json_string(f->binary) : json_null());
	json_object_set(o, "is_up", tri[f->is_up + 1]);
	json_object_set(o, "disabled", tri[f->disabled + 1]);
	json_object_set_new(o, "resource_type", f->resource_type[0] ? json_string(f->resource_type) : json_null());
	json_object_set_new(o, "resource_id", f->resource_id[0] ? json_string(f->resource_id) : json_null());
	for (int i = 0; i < 3; i++)
		json_decref(tri[i]);
	return o;
}

static json_t *service_json(const struct service *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(s->id));
	json_object_set_new(o, "host", json_string(s->host));
	json_object_set_new(o, "binary", json_string(s->binary));
	json_object_set_new(o, "cluster_name", s->cluster_name[0] ? json_string(s->cluster_name) : json_null());
	return o;
}

static char *dump(json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *with_newline;
	size_t len;

	if (!text)
		return NULL;
	len = strlen(text);
	with_newline = realloc(text, len + 2);
	if (!with_newline) {
		free(text);
		return NULL;
	}
	with_newline[len] = '\n';
	with_newline[len + 1] = '\0';
	return with_newline;
}

int request_submit(struct store *st, const struct request_input *in, int64_t *id, char **result,
		   struct cf_err *err)
{
	struct filter f;
	struct planner_worker *workers = NULL;
	size_t count = 0, njobs = 0;
	struct plan plan = { 0 };
	struct new_job *jobs = NULL;
	json_t *res = NULL, *fjson = NULL;
	char *result_text = NULL, *filter_text = NULL, who[NAME_LEN] = "";
	bool older;
	int rc;

	rc = filter_parse(in->spec, in->len, &f, err);
	if (rc)
		return rc;
	rc = locate_resource(st, &f, err);
	if (rc)
		return rc;
	/* Step 8: not while workers run different versions. */
	rc = store_older_worker(st, in->version, &older, who);
	if (rc)
		return err_set(err, -rc, "cannot read the workers' versions: %s", strerror(-rc));
	if (older) {
		log_warning("cleanup refused: worker %s runs a version older than %s", who, in->version);
		return err_set(err, EBUSY, "Cannot perform workers cleanup during system upgrade.");
	}

	rc = store_planner_workers(st, &workers, &count);
	if (rc)
		return err_set(err, -rc, "cannot read the workers: %s", strerror(-rc));
	rc = planner_plan(&f, workers, count, in->up_at.tv_sec ? &in->up_at : &in->now, in->down_time,
			  &plan);
	if (rc)
		goto out;
	jobs = calloc(plan.count ? plan.count : 1, sizeof(*jobs));
	res = json_object();
	fjson = filter_json(&f);
	if (!jobs || !res || !fjson) {
		rc = -ENOMEM;
		goto out;
	}
	json_object_set_new(res, "cleaning", json_array());
	json_object_set_new(res, "unavailable", json_array());
	for (size_t i = 0; i < plan.count; i++) {
		const struct plan_entry *e = &plan.entries[i];
		json_array_append_new(json_object_get(res, e->cleaning ? "cleaning" : "unavailable"),
				      service_json(e->svc));
		if (!e->cleaning)
			continue;
		jobs[njobs] = (struct new_job){
			.service_id = e->svc->id,
			.resource_type = f.resource_type[0] ? f.resource_type : NULL,
			.resource_id = f.resource_id[0] ? f.resource_id : NULL,
			.dest_cluster = e->dest == DEST_CLUSTER ? e->svc->cluster_name : NULL,
			.dest_service = e->dest == DEST_SERVICE ? e->svc->id : 0,
		};
		njobs++;
	}
	result_text = dump(res);
	filter_text = json_dumps(fjson, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!result_text || !filter_text) {
		rc = -ENOMEM;
		goto out;
	}
	{
		struct new_request req = {
			.spec = in->spec, .spec_len = in->len, .filter_json = filter_text,
			.result_json = result_text, .uid = in->uid, .pid = in->pid,
			.accepted_by = in->accepted_by, .until = in->now, .jobs = jobs,
			.job_count = njobs,
		};
		rc = store_add_request(st, &req, id, err);
	}
	if (rc == 0) {
		*result = result_text;
		result_text = NULL;
		log_info("cleanup request %lld accepted: %zu job(s), %zu worker(s) unavailable",
			 (long long)*id, njobs, plan.count - njobs);
	}
out:
	if (rc == -ENOMEM)
		err_set(err, ENOMEM, "out of memory planning the cleanup");
	free(result_text);
	free(filter_text);
	json_decref(res);
	json_decref(fjson);
	free(jobs);
	planner_free(&plan);
	free(workers);
	return rc;
}
