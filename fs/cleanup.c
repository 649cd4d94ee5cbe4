/* cleanup/: the one place in the mount that takes writes. A spec written
 * to request is validated, planned and committed before write() returns;
 * the backend threads of the workers then do the work. */
#include "cleanup.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "fs.h"
#include "heartbeat.h"
#include "log.h"
#include "progress_json.h"
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

/* ---- cleanup/request's read: the spec, and whether it still has work ----
 *
 * Config-management tools compare a file's content with what they want
 * and write only when it differs. So that writing the same spec again
 * converges ("nothing of node6 stuck") rather than firing once, the read
 * gives the last accepted spec byte for byte only while applying it now
 * would reach nothing: no workers row of a worker it selects (of its type
 * and id), and no job of that request queued or running. Otherwise the
 * spec is followed by a note line (FILTER_NOTE_PREFIX, which the parser
 * ignores: what the read gives, written back, is the same spec). */

/* How long a count stands (seconds): stat and read use the same one, so
 * they agree; a new request, or a job of the last one starting or ending,
 * counts anew at once. Rows that become stuck without any of that (a
 * worker going down) show within this time. */
#define REACH_TTL_NS 1000000000LL

struct reach_state {
	int64_t request_id, jobs_open;
	bool ends_in_newline;  /* the spec's last byte */
	int64_t spec_bytes;
	int64_t rows;
	struct timespec counted; /* CLOCK_MONOTONIC */
	bool valid;
};

static struct reach_state reach_cache;
static pthread_mutex_t reach_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

static int64_t jobs_open(const struct request_summary *sum)
{
	return sum->jobs_queued + sum->jobs_running;
}

/* The note line for a state (with its leading newline when the spec does
 * not end in one), into buf; its length (snprintf's: buf may be NULL).
 * Nothing when the spec would reach nothing. */
static int reach_note(const struct reach_state *r, char *buf, size_t size)
{
	const char *nl = r->spec_bytes && !r->ends_in_newline ? "\n" : "";

	if (r->rows == 0 && r->jobs_open == 0)
		return buf && size ? (buf[0] = '\0', 0) : 0;
	const char *more = r->rows >= REQUEST_REACH_CAP ? " or more" : "";

	if (r->jobs_open == 0)
		return snprintf(buf, size, "%s" FILTER_NOTE_PREFIX "would reach %lld%s resource%s now; "
				"writing this spec again cleans %s\n", nl, (long long)r->rows, more,
				r->rows == 1 ? "" : "s", r->rows == 1 ? "it" : "them");
	return snprintf(buf, size, "%s" FILTER_NOTE_PREFIX "would reach %lld%s resource%s now; "
			"request %lld has %lld job%s not ended\n", nl, (long long)r->rows, more,
			r->rows == 1 ? "" : "s", (long long)r->request_id, (long long)r->jobs_open,
			r->jobs_open == 1 ? "" : "s");
}

/* What the last request (its summary in sum) would reach now: the
 * cached count when it stands, else counted. spec (may be NULL: loaded
 * then) is its text. */
static int request_reach_state(struct store *st, const struct fs_config *cfg,
			       const struct request_summary *sum, const struct request_row *spec,
			       struct reach_state *out)
{
	struct request_row loaded;
	struct request_input in;
	struct timespec mono;
	struct reach_state r = { .request_id = sum->id, .jobs_open = jobs_open(sum),
				 .spec_bytes = sum->spec_bytes, .valid = true };
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	pthread_mutex_lock(&reach_lock);
	if (reach_cache.valid && reach_cache.request_id == r.request_id &&
	    reach_cache.jobs_open == r.jobs_open &&
	    ns_between(&reach_cache.counted, &mono) < REACH_TTL_NS) {
		*out = reach_cache;
		pthread_mutex_unlock(&reach_lock);
		return 0;
	}
	pthread_mutex_unlock(&reach_lock);
	if (!spec) {
		rc = store_get_request(st, sum->id, &loaded);
		if (rc)
			return rc;
		spec = &loaded;
	}
	r.ends_in_newline = spec->spec_len && spec->spec[spec->spec_len - 1] == '\n';
	in = (struct request_input){ .spec = spec->spec, .len = spec->spec_len,
				     .down_time = cfg->service_down_time };
	dbtime_now(&in.now);
	heartbeat_clock(&in.up_at);
	rc = request_reach(st, &in, &r.rows);
	if (spec == &loaded)
		store_request_free(&loaded);
	if (rc)
		return rc;
	/* From the count's end: a count that took long still serves. */
	clock_gettime(CLOCK_MONOTONIC, &r.counted);
	pthread_mutex_lock(&reach_lock);
	reach_cache = r;
	pthread_mutex_unlock(&reach_lock);
	*out = r;
	return 0;
}

/* cleanup/request's content: the spec, and the note while it has work. */
static int request_render(struct store *st, const struct fs_config *cfg, char **out, size_t *len,
			  struct timespec *mtime)
{
	struct request_summary sum;
	struct request_row req;
	struct reach_state r;
	char *text;
	int note, rc = store_request_summary(st, 0, &sum);

	if (rc == -ENOENT) {
		/* Nothing accepted yet: an empty request. */
		*mtime = cfg->started;
		return take(strdup(""), out, len);
	}
	if (rc)
		return rc;
	rc = store_get_request(st, sum.id, &req);
	if (rc)
		return rc;
	rc = request_reach_state(st, cfg, &sum, &req, &r);
	note = rc ? 0 : reach_note(&r, NULL, 0);
	text = rc ? NULL : malloc(req.spec_len + (size_t)note + 1);
	if (!rc && !text)
		rc = -ENOMEM;
	if (!rc) {
		memcpy(text, req.spec, req.spec_len);
		reach_note(&r, text + req.spec_len, (size_t)note + 1);
		*out = text;
		*len = req.spec_len + (size_t)note;
		*mtime = stored_time(req.created_at);
	}
	store_request_free(&req);
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
		return request_render(st, cfg, out, len, mtime);
	case NODE_CLEANUP_RESULT:
		rc = store_last_request(st, &req);
		if (rc == -ENOENT) {
			/* Nothing accepted yet: an empty result. */
			*mtime = cfg->started;
			return take(strdup(request_empty_result), out, len);
		}
		break;
	case NODE_HISTORY_WAIT: {
		/* Until it is read, wait says nothing: its read blocks. */
		struct cleanup_entry entry;
		rc = cleanup_history_entry(st, m, &entry);
		if (rc)
			return rc;
		*mtime = entry.when;
		return take(strdup(""), out, len);
	}
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
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

int cleanup_stat(struct store *st, const struct fs_config *cfg, const struct path_match *m,
		 const struct cleanup_entry *entry, off_t *size, struct timespec *mtime)
{
	struct cleanup_entry last;
	const struct request_summary *sum;
	int64_t n;
	int rc;

	switch (m->rule->kind) {
	case NODE_CLEANUP_ERROR: {
		char *text;
		size_t len;
		rc = control_error_render(cfg->cleanup, &text, &len, mtime);
		free(text);
		*size = (off_t)len;
		return rc;
	}
	case NODE_CLEANUP_REQUEST:
	case NODE_CLEANUP_RESULT:
		rc = store_request_summary(st, 0, &last.summary);
		if (rc == -ENOENT) {
			*mtime = cfg->started;
			*size = m->rule->kind == NODE_CLEANUP_REQUEST ? 0
				: (off_t)strlen(request_empty_result);
			return 0;
		}
		if (rc)
			return rc;
		last.when = stored_time(last.summary.created_at);
		entry = &last;
		break;
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
	case NODE_HISTORY_PROGRESS:
	case NODE_HISTORY_WAIT:
	case NODE_HISTORY_CANCEL:
		break;
	default:
		return -EINVAL;
	}
	sum = &entry->summary;
	*mtime = entry->when;
	switch (m->rule->kind) {
	case NODE_CLEANUP_REQUEST: {
		struct reach_state r;
		rc = request_reach_state(st, cfg, sum, NULL, &r);
		if (rc)
			return rc;
		n = sum->spec_bytes + reach_note(&r, NULL, 0);
		break;
	}
	case NODE_HISTORY_REQUEST:
		n = sum->spec_bytes;
		break;
	case NODE_CLEANUP_RESULT:
	case NODE_HISTORY_RESULT:
		n = sum->result_bytes;
		break;
	case NODE_HISTORY_PROGRESS:
		n = progress_json_size(sum);
		break;
	case NODE_HISTORY_CANCEL:
		n = (int64_t)strlen(sum->cancelled_at[0] ? "true\n" : "false\n");
		break;
	default:
		/* wait: once the request has ended, its read gives progress.json
		 * at once, and its size is that one's. While a job is queued or
		 * running the final document's size is not known yet: 0, which
		 * readers of a direct_io file never take for its end. */
		n = sum->jobs_queued || sum->jobs_running ? 0 : progress_json_size(sum);
		break;
	}
	if (n < 0)
		return (int)n;
	*size = (off_t)n;
	return 0;
}

int cleanup_result_open(struct store *st, const struct path_match *m, int64_t *id, size_t *len,
			struct timespec *mtime)
{
	bool last = m->rule->kind == NODE_CLEANUP_RESULT;
	struct request_summary sum;
	int rc = store_request_summary(st, last ? 0 : m->request_id, &sum);

	if (rc == -ENOENT && last)
		return 1;
	if (rc)
		return rc;
	*id = sum.id;
	*len = (size_t)sum.result_bytes;
	*mtime = stored_time(sum.created_at);
	return 0;
}

bool cleanup_sized(enum node_kind kind)
{
	switch (kind) {
	case NODE_CLEANUP_REQUEST:
	case NODE_CLEANUP_RESULT:
	case NODE_CLEANUP_ERROR:
	case NODE_HISTORY_REQUEST:
	case NODE_HISTORY_RESULT:
	case NODE_HISTORY_PROGRESS:
	case NODE_HISTORY_WAIT:
	case NODE_HISTORY_CANCEL:
		return true;
	default:
		return false;
	}
}

/* The progress.json documents open files hold, shared by every open file
 * that read the request in the same state: two dozen readers of a
 * request's 30 MB document hold it once, and a reader that reads again
 * from the start with nothing changed renders nothing. A document lives
 * while an open file holds it. */
static struct cleanup_doc *docs;
static pthread_mutex_t docs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t docs_rendered = PTHREAD_COND_INITIALIZER;

static void doc_unlink(struct cleanup_doc *doc)
{
	for (struct cleanup_doc **p = &docs; *p; p = &(*p)->next)
		if (*p == doc) {
			*p = doc->next;
			return;
		}
}

/* A document of request `id` rendered from this state, or being rendered
 * (docs_lock held). */
static struct cleanup_doc *doc_find(int64_t id, const struct request_summary *sum, bool *busy)
{
	*busy = false;
	for (struct cleanup_doc *d = docs; d; d = d->next) {
		if (d->request_id != id)
			continue;
		if (d->rendering)
			*busy = true;
		else if (sum && !memcmp(&d->json.summary, sum, sizeof(*sum)))
			return d;
	}
	return NULL;
}

int cleanup_progress_open(struct store *st, int64_t id, struct cleanup_doc **out)
{
	struct request_summary sum;
	struct cleanup_doc *doc;
	bool busy;
	int rc = store_request_summary(st, id, &sum);

	if (rc)
		return rc;
	pthread_mutex_lock(&docs_lock);
	/* A render of the same request under way may be of this very
	 * state: wait for it rather than render a second copy. */
	while (!(doc = doc_find(id, &sum, &busy)) && busy)
		pthread_cond_wait(&docs_rendered, &docs_lock);
	if (doc) {
		doc->refs++;
		pthread_mutex_unlock(&docs_lock);
		*out = doc;
		return 0;
	}
	doc = calloc(1, sizeof(*doc));
	if (!doc) {
		pthread_mutex_unlock(&docs_lock);
		return -ENOMEM;
	}
	doc->request_id = id;
	doc->refs = 1;
	doc->rendering = true;
	doc->next = docs;
	docs = doc;
	pthread_mutex_unlock(&docs_lock);

	rc = progress_json_render(st, id, &doc->json);

	pthread_mutex_lock(&docs_lock);
	doc->rendering = false;
	if (rc)
		doc_unlink(doc);
	else
		doc->mtime = stored_time(doc->json.summary.created_at);
	pthread_cond_broadcast(&docs_rendered);
	pthread_mutex_unlock(&docs_lock);
	if (rc) {
		free(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

void cleanup_progress_close(struct cleanup_doc *doc)
{
	bool last;

	if (!doc)
		return;
	pthread_mutex_lock(&docs_lock);
	last = --doc->refs == 0;
	if (last)
		doc_unlink(doc);
	pthread_mutex_unlock(&docs_lock);
	if (last) {
		progress_json_free(&doc->json);
		free(doc);
	}
}

int cleanup_history_entry(struct store *st, const struct path_match *m, struct cleanup_entry *out)
{
	int rc = store_request_summary(st, m->request_id, &out->summary);

	if (rc)
		return rc;
	out->when = stored_time(out->summary.created_at);
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

/* A request's input from a write: the writer, and the times it is
 * planned at. */
static struct request_input request_input_of(const struct fs_config *cfg, const char *buf,
					     size_t size, uid_t uid, pid_t pid)
{
	struct request_input in = {
		.spec = buf, .len = size, .uid = uid, .pid = pid, .accepted_by = cfg->service_id,
		.version = cfg->version, .down_time = cfg->service_down_time,
	};

	dbtime_now(&in.now);
	heartbeat_clock(&in.up_at);
	return in;
}

int cleanup_write(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		  uid_t uid, pid_t pid, int64_t *id_out)
{
	struct request_input in = request_input_of(cfg, buf, size, uid, pid);
	struct cf_err err = { "" };
	int64_t id;
	int rc;

	rc = request_submit(st, &in, &id, NULL, &err);
	control_error_set(cfg->cleanup, rc ? err.msg : NULL);
	if (rc) {
		log_info("cleanup request from uid %d pid %d refused: %s", (int)uid, (int)pid, err.msg);
		return rc;
	}
	if (id_out)
		*id_out = id;
	if (cfg->queued)
		cfg->queued(cfg->queued_ctx);
	return (int)size;
}

int cleanup_preview(struct store *st, const struct fs_config *cfg, const char *buf, size_t size,
		    uid_t uid, pid_t pid, char **out, size_t *len)
{
	struct request_input in = request_input_of(cfg, buf, size, uid, pid);
	struct cf_err err = { "" };
	int rc = request_preview(st, &in, out, len, &err);

	/* Refused as the request would be, in the same words and place; a
	 * preview that succeeds records nothing, not even the error file's
	 * clearing: the words of a refused request stay for its writer. */
	if (rc)
		control_error_set(cfg->cleanup, err.msg);
	if (rc) {
		log_info("cleanup preview from uid %d pid %d refused: %s", (int)uid, (int)pid, err.msg);
		return rc;
	}
	log_debug("cleanup preview from uid %d pid %d: %zu bytes", (int)uid, (int)pid, *len);
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
