/* Cleanup requests, from the bytes written to the stored request and its
 * jobs. The order of the checks is Cinder's; a refused request leaves no
 * trace in the database. */
#include "request.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "log.h"
#include "array.h"
#include "cleaner.h"
#include "planner.h"

const char request_empty_result[] = "{\n  \"cleaning\": [],\n  \"unavailable\": []\n}\n";

bool request_matched_none(const struct request_summary *sum)
{
	return sum->result_bytes == (int64_t)(sizeof(request_empty_result) - 1);
}

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

/* The result, written as jansson writes it (JSON_INDENT(2), keys in
 * order) without a jansson tree: a request over 100,000 workers is some
 * 13 MB of text, and a tree of it would be twenty times that. It goes to
 * the store as it is written, or into one buffer of its measured size. */
struct text {
	char *s;              /* with neither s nor emit: only count */
	size_t len;
	store_emit_fn emit;
	void *emit_ctx;
	int rc;               /* emit's first error */
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->emit) {
		if (t->rc == 0)
			t->rc = t->emit(t->emit_ctx, s, n);
	} else if (t->s) {
		memcpy(t->s + t->len, s, n);
	}
	t->len += n;
}

static void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

/* A JSON string as jansson escapes it (no flags): '"', '\\' and control
 * characters; everything else, UTF-8 included, as is. */
static void put_string(struct text *t, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *run = s;

	put(t, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7];
		size_t n = 2;

		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		put(t, run, (size_t)(s - run));
		run = s + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		put(t, esc, n);
	}
	put(t, run, (size_t)(s - run));
	put(t, "\"", 1);
}

static void put_list(struct text *t, const char *key, const struct plan *p, bool cleaning)
{
	bool first = true;

	puts_(t, "  \"");
	puts_(t, key);
	puts_(t, "\": [");
	for (size_t i = 0; i < p->count; i++) {
		const struct plan_entry *e = &p->entries[i];
		char id[32];

		if (e->cleaning != cleaning)
			continue;
		snprintf(id, sizeof(id), "%lld", (long long)e->id);
		puts_(t, first ? "\n    {\n      \"id\": " : ",\n    {\n      \"id\": ");
		first = false;
		puts_(t, id);
		puts_(t, ",\n      \"host\": ");
		put_string(t, plan_text(p, e->host));
		puts_(t, ",\n      \"binary\": ");
		put_string(t, plan_text(p, e->binary));
		puts_(t, ",\n      \"cluster_name\": ");
		if (e->cluster_name)
			put_string(t, plan_text(p, e->cluster_name));
		else
			puts_(t, "null");
		puts_(t, "\n    }");
	}
	puts_(t, first ? "]" : "\n  ]");
}

static void put_result(struct text *t, const struct plan *p)
{
	puts_(t, "{\n");
	put_list(t, "cleaning", p, true);
	puts_(t, ",\n");
	put_list(t, "unavailable", p, false);
	puts_(t, "\n}\n");
}

char *request_render_result(const struct plan *p)
{
	struct text count = { 0 }, t = { 0 };

	/* Measured first, then written into one allocation of its size. */
	put_result(&count, p);
	t.s = malloc(count.len + 1);
	if (!t.s)
		return NULL;
	put_result(&t, p);
	t.s[t.len] = '\0';
	return t.s;
}

static int emit_plan(void *ctx, store_emit_fn emit, void *emit_ctx)
{
	struct text t = { .emit = emit, .emit_ctx = emit_ctx };

	put_result(&t, ctx);
	return t.rc;
}

struct planning {
	struct store *st;
	struct plan *plan;
};

static int offer(void *ctx, const struct planner_worker *w)
{
	return planner_offer(ctx, w);
}

static void member(void *ctx, const char *cluster_name, const char *updated_at, bool cannot_clean)
{
	planner_member(ctx, cluster_name, updated_at, cannot_clean);
}

static int members(void *ctx, struct plan *p, const char *name)
{
	struct planning *pl = ctx;
	return store_cluster_beats(pl->st, name, member, p);
}

/* Steps 0-8 and the plan, shared by a request and its preview: reads
 * only. On an error, err says why and nothing is left to free. */
static int plan_request(struct store *st, const struct request_input *in, struct filter *f,
			struct plan *plan, struct cf_err *err)
{
	struct planning planning = { st, plan };
	char who[NAME_LEN] = "";
	bool older, every_row;
	int rc;

	memset(plan, 0, sizeof(*plan));
	rc = filter_parse(in->spec, in->len, f, err);
	if (rc)
		return rc;
	rc = locate_resource(st, f, err);
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

	/* The rows the filter can select, streamed into the plan: a filter
	 * by id, host or cluster reads what an index finds for it. */
	rc = planner_begin(plan, f, in->up_at.tv_sec ? &in->up_at : &in->now, in->down_time);
	if (rc == 0)
		rc = store_plan_candidates(st, f, offer, plan, &every_row);
	if (rc == 0)
		rc = planner_finish(plan, every_row, members, &planning);
	if (rc) {
		planner_free(plan);
		if (rc == -ENOMEM)
			return err_set(err, ENOMEM, "out of memory planning the cleanup");
		return err_set(err, -rc, "cannot read the workers: %s", strerror(-rc));
	}
	return 0;
}

int request_submit(struct store *st, const struct request_input *in, int64_t *id, char **result,
		   struct cf_err *err)
{
	struct filter f;
	size_t njobs = 0;
	struct plan plan;
	struct new_job *jobs = NULL;
	json_t *fjson = NULL;
	char *filter_text = NULL;
	int rc;

	rc = plan_request(st, in, &f, &plan, err);
	if (rc)
		return rc;
	jobs = calloc(plan.count ? plan.count : 1, sizeof(*jobs));
	fjson = filter_json(&f);
	if (!jobs || !fjson) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < plan.count; i++) {
		const struct plan_entry *e = &plan.entries[i];

		if (!e->cleaning)
			continue;
		jobs[njobs++] = (struct new_job){
			.service_id = e->id,
			.dest_cluster = e->dest == DEST_CLUSTER ? plan_text(&plan, e->cluster_name) : NULL,
			.dest_service = e->dest == DEST_SERVICE ? e->id : 0,
		};
	}
	filter_text = json_dumps(fjson, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!filter_text) {
		rc = -ENOMEM;
		goto out;
	}
	{
		struct new_request req = {
			.spec = in->spec, .spec_len = in->len, .filter_json = filter_text,
			.render_result = emit_plan, .render_ctx = &plan, .uid = in->uid, .pid = in->pid,
			.accepted_by = in->accepted_by, .until = in->now,
			.resource_type = f.resource_type[0] ? f.resource_type : NULL,
			.resource_id = f.resource_id[0] ? f.resource_id : NULL,
			.jobs = jobs, .job_count = njobs, .outage = in->outage,
		};
		rc = store_add_request(st, &req, id, err);
	}
	if (rc == 0) {
		/* For a caller that wants the text (the store has it in
		 * pieces): written once more from the plan. */
		if (result && !(*result = request_render_result(&plan)))
			log_warning("cleanup request %lld: out of memory showing its result",
				    (long long)*id);
		if (plan.count == 0)
			log_info("cleanup request %lld accepted: it " REQUEST_MATCHED_NONE " (nothing "
				 "to clean; is a value mistyped? its filter: %s)", (long long)*id,
				 filter_text);
		else
			log_info("cleanup request %lld accepted: %zu job(s), %zu worker(s) unavailable",
				 (long long)*id, njobs, plan.count - njobs);
	}
out:
	if (rc == -ENOMEM)
		err_set(err, ENOMEM, "out of memory planning the cleanup");
	free(filter_text);
	json_decref(fjson);
	free(jobs);
	planner_free(&plan);
	return rc;
}

/* ---- cleanup/request's read: what the spec would reach now ---- */

struct reach {
	const struct filter *f;
	struct timespec at;
	int down_time;
	int64_t rows;
};

static int count_reach(void *ctx, const struct planner_worker *w, const char *type, int64_t rows)
{
	struct reach *r = ctx;

	if (r->f->resource_type[0] && strcmp(type, r->f->resource_type) != 0)
		return 0;
	if (planner_selects(r->f, w, &r->at, r->down_time))
		r->rows += rows;
	/* Enough to say "or more": a {} over 100,000 stuck workers is not
	 * streamed whole for a stat (each row a step, on PostgreSQL a
	 * message). */
	return r->rows >= REQUEST_REACH_CAP ? 1 : 0;
}

int request_reach(struct store *st, const struct request_input *in, int64_t *rows)
{
	struct cf_err err = { "" };
	struct filter f;
	struct reach r = { .f = &f, .at = in->up_at.tv_sec ? in->up_at : in->now,
			   .down_time = in->down_time };
	int rc;

	*rows = 0;
	/* Accepted once, so it parses, unless the rules changed since (an
	 * upgrade): a spec a write would refuse reaches nothing. */
	if (filter_parse(in->spec, in->len, &f, &err) != 0 || f.service_id_matches_none)
		return 0;
	/* Step 7's lookup is the resource's rows, whoever owns them: the
	 * owner is then judged by the rest of the filter, as the request
	 * would judge the owner it finds. */
	rc = store_reach_rows(st, &f, count_reach, &r);
	if (rc == 1)
		rc = 0; /* stopped at the cap */
	if (rc == 0)
		*rows = r.rows < REQUEST_REACH_CAP ? r.rows : REQUEST_REACH_CAP;
	return rc;
}

/* ---- --check-spec --db: would the spec match a worker ---- */

struct naming {
	const struct filter *f;
	struct timespec at;
	int down_time;
	size_t count;
};

static int count_named(void *ctx, const struct planner_worker *w)
{
	struct naming *n = ctx;

	if (planner_selects(n->f, w, &n->at, n->down_time))
		n->count++;
	return 0;
}

int request_check(struct store *st, const struct request_input *in, size_t *selected,
		  size_t *named, struct cf_err *err)
{
	struct filter f;
	struct plan plan;
	struct naming n = { .f = &f, .at = in->up_at.tv_sec ? in->up_at : in->now,
			    .down_time = in->down_time };
	bool every_row;
	int rc = plan_request(st, in, &f, &plan, err);

	if (rc)
		return rc;
	*selected = plan.count;
	planner_free(&plan);
	/* The same filter, up or down, enabled or not: the workers its
	 * names (service_id, host, cluster_name, binary) name at all. */
	f.is_up = TRI_ANY;
	f.disabled = TRI_ANY;
	rc = store_plan_candidates(st, &f, count_named, &n, &every_row);
	if (rc)
		return err_set(err, -rc, "cannot read the workers: %s", strerror(-rc));
	*named = n.count;
	return 0;
}

/* ---- cleanup/preview ---- */

/* A text that grows as it is written: the preview is the caller's to
 * hold (its size is what the operator asked to see). */
struct grown {
	char *s;
	size_t len, cap;
};

static int grow(void *ctx, const char *bytes, size_t n)
{
	struct grown *g = ctx;

	if (array_reserve((void **)&g->s, &g->cap, g->len + n + 1, 1) != 0)
		return -ENOMEM;
	memcpy(g->s + g->len, bytes, n);
	g->len += n;
	g->s[g->len] = '\0';
	return 0;
}

/* Workers asked about at once: one statement per batch. */
#define PREVIEW_BATCH 256

struct foresight {
	struct text *t;
	const int64_t *ids;
	const bool *scheduler;
	size_t count;
	bool first;
};

static bool is_scheduler(const struct foresight *fs, int64_t id)
{
	size_t lo = 0, hi = fs->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (fs->ids[mid] == id)
			return fs->scheduler[mid];
		if (fs->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int put_resource(void *ctx, const struct store_preview_row *r)
{
	struct foresight *fs = ctx;
	struct text *t = fs->t;
	char why[512], id[32];
	const char *action = cleaner_foresee(is_scheduler(fs, r->service_id), r->resource_type,
					     r->row_status, r->status, r->attach_status, why,
					     sizeof(why));

	snprintf(id, sizeof(id), "%lld", (long long)r->service_id);
	puts_(t, fs->first ? "\n    {\n      \"worker_id\": " : ",\n    {\n      \"worker_id\": ");
	fs->first = false;
	puts_(t, id);
	puts_(t, ",\n      \"resource_type\": ");
	put_string(t, r->resource_type);
	puts_(t, ",\n      \"resource_id\": ");
	put_string(t, r->resource_id);
	puts_(t, ",\n      \"status\": ");
	if (r->status)
		put_string(t, r->status);
	else
		puts_(t, "null");
	puts_(t, ",\n      \"action\": ");
	put_string(t, action);
	puts_(t, ",\n      \"detail\": ");
	put_string(t, why);
	puts_(t, "\n    }");
	return t->rc;
}

/* Every resource the jobs of the plan's cleaning workers would reach, a
 * batch of workers at a time. */
static int put_resources(struct store *st, struct text *t, const struct plan *p,
			 const struct filter *f, const char *until)
{
	int64_t ids[PREVIEW_BATCH];
	bool scheduler[PREVIEW_BATCH];
	struct foresight fs = { .t = t, .ids = ids, .scheduler = scheduler, .first = true };
	size_t i = 0;
	int rc = 0;

	puts_(t, "  \"resources\": [");
	while (rc == 0 && i < p->count) {
		fs.count = 0;
		for (; i < p->count && fs.count < PREVIEW_BATCH; i++) {
			const struct plan_entry *e = &p->entries[i];
			if (!e->cleaning)
				continue;
			ids[fs.count] = e->id;
			scheduler[fs.count] = strcmp(plan_text(p, e->binary), BINARY_SCHEDULER) == 0;
			fs.count++;
		}
		if (fs.count)
			rc = store_preview_rows(st, ids, fs.count,
						f->resource_type[0] ? f->resource_type : NULL,
						f->resource_id[0] ? f->resource_id : NULL, until,
						put_resource, &fs);
	}
	puts_(t, fs.first ? "]" : "\n  ]");
	return rc ? rc : t->rc;
}

int request_preview(struct store *st, const struct request_input *in, char **out, size_t *len,
		    struct cf_err *err)
{
	struct filter f;
	struct plan plan;
	struct grown g = { 0 };
	struct text t = { .emit = grow, .emit_ctx = &g };
	char until[DBTIME_LEN];
	int rc = plan_request(st, in, &f, &plan, err);

	if (rc)
		return rc;
	dbtime_format(&in->now, until);
	puts_(&t, "{\n");
	put_list(&t, "cleaning", &plan, true);
	puts_(&t, ",\n");
	put_list(&t, "unavailable", &plan, false);
	puts_(&t, ",\n");
	rc = put_resources(st, &t, &plan, &f, until);
	puts_(&t, "\n}\n");
	if (rc == 0)
		rc = t.rc;
	planner_free(&plan);
	if (rc) {
		free(g.s);
		if (rc == -ENOMEM)
			return err_set(err, ENOMEM, "out of memory previewing the cleanup");
		return err_set(err, -rc, "cannot read the rows the cleanup would reach: %s",
			       strerror(-rc));
	}
	*out = g.s;
	*len = g.len;
	return 0;
}
