/* cleanup/: the one place in the mount that takes writes. A spec written
 * to request is validated, planned and committed before write() returns;
 * the backend threads of the workers then do the work. */
#include "cleanup.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "heartbeat.h"
#include "log.h"
#include "request.h"

static struct timespec stored_time(const char *text)
{
	struct timespec t = { 0, 0 };
	dbtime_parse(text, &t);
	return t;
}

static int take(char *text, char **out, size_t *len)
{
	if (!text)
		return -ENOMEM;
	*out = text;
	*len = strlen(text);
	return 0;
}

static int take_bytes(const char *data, size_t n, char **out, size_t *len)
{
	char *copy = malloc(n + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, n);
	copy[n] = '\0';
	*out = copy;
	*len = n;
	return 0;
}

/* The states a resource of a request can be in, counted at the top of
 * progress.json. */
static const char *const resource_states[] = {
	"queued", "claimed", "cleaned", "skipped", "refused", "failed", "cancelled",
};
#define RESOURCE_STATES (sizeof(resource_states) / sizeof(resource_states[0]))

struct progress_ctx {
	json_t *jobs, *resources;
	int queued, running, done, failed, cancelled;
	int counts[RESOURCE_STATES];
};

static int count_of(const struct progress_ctx *p, const char *state)
{
	for (size_t i = 0; i < RESOURCE_STATES; i++)
		if (strcmp(resource_states[i], state) == 0)
			return p->counts[i];
	return 0;
}

static json_t *id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

static int add_job(void *arg, const struct job *j)
{
	struct progress_ctx *p = arg;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(j->id));
	json_object_set_new(o, "worker_id", json_integer(j->service_id));
	json_object_set_new(o, "state", json_string(j->state));
	json_object_set_new(o, "taken_by", id_or_null(j->taken_by));
	json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
	json_array_append_new(p->jobs, o);
	if (!strcmp(j->state, "queued"))
		p->queued++;
	else if (!strcmp(j->state, "running"))
		p->running++;
	else if (!strcmp(j->state, "failed"))
		p->failed++;
	else if (!strcmp(j->state, "cancelled"))
		p->cancelled++;
	else
		p->done++;
	return 0;
}

static int add_resource(void *arg, const struct progress_row *r)
{
	struct progress_ctx *p = arg;
	json_t *o = json_object();
	char iso[DBTIME_LEN];

	dbtime_to_iso(r->updated_at, iso);
	json_object_set_new(o, "resource_type", json_string(r->resource_type));
	json_object_set_new(o, "resource_id", json_string(r->resource_id));
	json_object_set_new(o, "state", json_string(r->state));
	json_object_set_new(o, "detail", r->detail[0] ? json_string(r->detail) : json_null());
	json_object_set_new(o, "job_id", json_integer(r->job_id));
	json_object_set_new(o, "by_worker", id_or_null(r->worker_id));
	json_object_set_new(o, "updated_at", json_string(iso));
	json_array_append_new(p->resources, o);
	for (size_t i = 0; i < RESOURCE_STATES; i++)
		if (strcmp(r->state, resource_states[i]) == 0)
			p->counts[i]++;
	return 0;
}

/* progress.json: the request, its jobs, and every resource it reached. */
static int render_progress(struct store *st, const struct request_row *req, char **out, size_t *len)
{
	struct progress_ctx p = { .jobs = json_array(), .resources = json_array() };
	json_t *root = json_object(), *who = json_object();
	char iso[DBTIME_LEN];
	const char *state;
	int rc;

	rc = store_list_jobs(st, req->id, add_job, &p);
	if (!rc)
		rc = store_list_progress(st, req->id, add_resource, &p);
	if (rc) {
		json_decref(root);
		json_decref(who);
		json_decref(p.jobs);
		json_decref(p.resources);
		return rc;
	}
	/* The request's state: queued or running while a job is; once all
	 * ended, done only when every resource was cleaned or had moved on
	 * (skipped); failed when a job failed or a resource failed or was
	 * refused; cancelled when an admin cancelled it. */
	if (p.running)
		state = "running";
	else if (p.queued)
		state = "queued";
	else if (req->cancelled_at[0])
		state = "cancelled";
	else if (p.failed || count_of(&p, "failed") || count_of(&p, "refused"))
		state = "failed";
	else
		state = "done";
	dbtime_to_iso(req->created_at, iso);
	json_object_set_new(who, "uid", json_integer(req->uid));
	json_object_set_new(who, "pid", json_integer(req->pid));
	json_object_set_new(root, "request", json_integer(req->id));
	json_object_set_new(root, "state", json_string(state));
	json_object_set_new(root, "generation", json_integer(req->generation));
	json_object_set_new(root, "created_at", json_string(iso));
	json_object_set_new(root, "requested_by", who);
	json_object_set_new(root, "accepted_by", id_or_null(req->accepted_by));
	{
		json_t *counts = json_object();
		for (size_t i = 0; i < RESOURCE_STATES; i++)
			json_object_set_new(counts, resource_states[i], json_integer(p.counts[i]));
		json_object_set_new(root, "counts", counts);
	}
	if (req->cancelled_at[0]) {
		char when[DBTIME_LEN];
		json_t *c = json_object();
		dbtime_to_iso(req->cancelled_at, when);
		json_object_set_new(c, "at", json_string(when));
		json_object_set_new(c, "by_uid", json_integer(req->cancelled_by));
		json_object_set_new(root, "cancelled", c);
	}
	json_object_set_new(root, "jobs", p.jobs);
	json_object_set_new(root, "resources", p.resources);
	{
		char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		char *full = text ? malloc(strlen(text) + 2) : NULL;
		json_decref(root);
		if (full)
			sprintf(full, "%s\n", text);
		free(text);
		return take(full, out, len);
	}
}

void control_error_set(struct control_state *state, const char *msg)
{
	pthread_mutex_lock(&state->lock);
	if (msg)
		snprintf(state->error, sizeof(state->error), "%s\n", msg);
	else
		state->error[0] = '\0';
	dbtime_now(&state->changed);
	pthread_mutex_unlock(&state->lock);
}

int control_error_render(struct control_state *state, char **out, size_t *len,
			 struct timespec *mtime)
{
	int rc;

	pthread_mutex_lock(&state->lock);
	rc = take(strdup(state->error), out, len);
	*mtime = state->changed;
	pthread_mutex_unlock(&state->lock);
	return rc;
}

int cleanup_render(struct store *st, const struct fs_config *cfg, const struct path_match *m,
		   char **out, size_t *len, struct timespec *mtime)
{
	struct request_row req;
	int rc;

	switch (m->rule->kind) {
	case NODE_CLEANUP_ERROR:
		return control_error_render(cfg->cleanup, out, len, mtime);
	case NODE_CLEANUP_REQUEST:
	case NODE_CLEANUP_RESULT:
		rc = store_last_request(st, &req);
		if (rc == -ENOENT) {
			/* Nothing accepted yet: an empty request, an empty result. */
			*mtime = cfg->started;
			return m->rule->kind == NODE_CLEANUP_REQUEST ? take(strdup(""), out, len)
				: take(strdup(request_empty_result), out, len);
		}
		break;
	case NODE_HISTORY_WAIT:
		/* Until it is read, wait says nothing: its read blocks. */
		rc = cleanup_history_entry(st, m, mtime);
		return rc ? rc : take(strdup(""), out, len);
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
	case NODE_HISTORY_PROGRESS:
	case NODE_HISTORY_CANCEL:
		rc = store_get_request(st, m->request_id, &req);
		break;
	default:
		return -EINVAL;
	}
	if (rc)
		return rc;
	*mtime = stored_time(req.created_at);
	if (m->rule->kind == NODE_CLEANUP_REQUEST || m->rule->kind == NODE_HISTORY_REQUEST)
		rc = take_bytes(req.spec, req.spec_len, out, len);
	else if (m->rule->kind == NODE_HISTORY_PROGRESS)
		rc = render_progress(st, &req, out, len);
	else if (m->rule->kind == NODE_HISTORY_CANCEL)
		rc = take(strdup(req.cancelled_at[0] ? "true\n" : "false\n"), out, len);
	else {
		char *text;
		size_t n;
		rc = store_request_result(st, req.id, &text, &n);
		if (rc == 0) {
			*out = text;
			*len = n;
		}
	}
	store_request_free(&req);
	return rc;
}

int cleanup_render_progress(struct store *st, int64_t id, char **out, size_t *len,
			    struct timespec *mtime)
{
	struct request_row req;
	int rc = store_get_request(st, id, &req);

	if (rc)
		return rc;
	*mtime = stored_time(req.created_at);
	rc = render_progress(st, &req, out, len);
	store_request_free(&req);
	return rc;
}

int cleanup_history_entry(struct store *st, const struct path_match *m, struct timespec *mtime)
{
	struct request_row req;
	int rc = store_get_request(st, m->request_id, &req);

	if (rc)
		return rc;
	*mtime = stored_time(req.created_at);
	store_request_free(&req);
	return 0;
}

struct history_ctx {
	cleanup_history_fn fn;
	void *ctx;
};

static int history_entry(void *arg, int64_t id, const char *created_at)
{
	struct history_ctx *h = arg;
	char name[32];

	snprintf(name, sizeof(name), "%0*lld", HISTORY_NAME_WIDTH, (long long)id);
	return h->fn(h->ctx, name, stored_time(created_at));
}

int cleanup_list_history(struct store *st, cleanup_history_fn fn, void *ctx)
{
	struct history_ctx h = { fn, ctx };
	return store_list_requests(st, history_entry, &h);
}

int cleanup_write(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		  uid_t uid, pid_t pid)
{
	struct request_input in = {
		.spec = buf, .len = size, .uid = uid, .pid = pid, .accepted_by = cfg->service_id,
		.version = cfg->version, .down_time = cfg->service_down_time,
	};
	struct cf_err err = { "" };
	int64_t id;
	int rc;

	dbtime_now(&in.now);
	heartbeat_clock(&in.up_at);
	rc = request_submit(st, &in, &id, NULL, &err);
	control_error_set(cfg->cleanup, rc ? err.msg : NULL);
	if (rc) {
		log_info("cleanup request from uid %d pid %d refused: %s", (int)uid, (int)pid, err.msg);
		return rc;
	}
	if (cfg->queued)
		cfg->queued(cfg->queued_ctx);
	return (int)size;
}

static void __attribute__((format(printf, 2, 3)))
cancel_refused(const struct fs_config *cfg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	control_error_set(cfg->cleanup, msg);
	log_info("%s", msg);
}

/* cleanup/history/<n>/cancel: `echo true > cancel` cancels the request:
 * its queued jobs end as cancelled, a running one stops before its next
 * batch of rows (what a row's end already did stays done). A cancel cannot be
 * taken back; a request that has ended has nothing left to cancel. */
int cleanup_cancel(struct store *st, const struct fs_config *cfg, int64_t id, const char *buf,
		   size_t size, uid_t uid)
{
	char word[16];
	struct timespec now;
	struct request_row req;
	int64_t generation, unfinished;
	int rc, jobs = 0;
	size_t n = size;

	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n == 0 || n >= sizeof(word)) {
		cancel_refused(cfg, "cleanup/history/%lld/cancel: write true to cancel the "
				  "request", (long long)id);
		return -EINVAL;
	}
	memcpy(word, buf, n);
	word[n] = '\0';
	if (strcmp(word, "true") != 0 && strcmp(word, "1") != 0 && strcmp(word, "yes") != 0) {
		cancel_refused(cfg, "cleanup/history/%lld/cancel: '%s': write true to "
				  "cancel the request (a cancel cannot be taken back)", (long long)id,
				  word);
		return -EINVAL;
	}
	rc = store_get_request(st, id, &req);
	if (rc) {
		cancel_refused(cfg, "cleanup/history/%lld/cancel: request %lld is no longer "
				  "in cleanup/history", (long long)id, (long long)id);
		return rc;
	}
	rc = req.cancelled_at[0] ? 0 : store_request_watch(st, id, &generation, &unfinished);
	if (!rc && !req.cancelled_at[0] && unfinished == 0) {
		store_request_free(&req);
		cancel_refused(cfg, "cleanup/history/%lld/cancel: request %lld has already "
				  "ended; nothing to cancel", (long long)id, (long long)id);
		return -EBUSY;
	}
	store_request_free(&req);
	dbtime_now(&now);
	if (!rc)
		rc = store_cancel_request(st, id, uid, &now, &jobs);
	if (rc) {
		cancel_refused(cfg, "cleanup/history/%lld/cancel: %s", (long long)id,
				  strerror(-rc));
		return rc;
	}
	control_error_set(cfg->cleanup, NULL);
	log_info("cleanup request %lld cancelled by uid %d (%d queued job(s) cancelled; a running "
		 "one stops before its next batch of rows)", (long long)id, (int)uid, jobs);
	return (int)size;
}
