/* progress.json, rendered row by row into one buffer of its exact size,
 * and that size computed from the request's row alone. The layout is
 * jansson's JSON_INDENT(2) (what the mount showed before), written here
 * so that each part's length is known: a header from the request's row,
 * then each entry a fixed frame around its values, whose lengths the
 * store keeps (migration 0009 says how it measures each kind of value;
 * escaping is jansson's and the databases' JSON quoting alike). */
#include "progress_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dbtime.h"
#include "log.h"

/* A document this big or bigger is mapped: freed, its memory goes back to
 * the system at once, whatever the allocator keeps of its heap. */
#define MAP_AT ((size_t)1 << 20)

/* The output buffer. The first reservation is the size the request's row
 * promises; it grows only when the rows say otherwise. */
struct out {
	char *p;
	size_t len, cap;
	bool mapped;
	int err;
};

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (n + page - 1) / page * page;
}

static int out_grow(struct out *o, size_t need)
{
	size_t cap = o->cap ? o->cap + o->cap / 2 : 256;
	char *p;

	if (o->err)
		return o->err;
	if (need <= o->cap)
		return 0;
	if (cap < need)
		cap = need;
	if (cap >= MAP_AT) {
		cap = page_round(cap);
		if (o->mapped) {
			p = mremap(o->p, o->cap, cap, MREMAP_MAYMOVE);
		} else {
			p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p != MAP_FAILED && o->len)
				memcpy(p, o->p, o->len);
			if (p != MAP_FAILED)
				free(o->p);
		}
		if (p == MAP_FAILED)
			return o->err = -ENOMEM;
		o->mapped = true;
	} else {
		p = realloc(o->p, cap);
		if (!p)
			return o->err = -ENOMEM;
	}
	o->p = p;
	o->cap = cap;
	return 0;
}

static void out_free(struct out *o)
{
	if (o->mapped)
		munmap(o->p, o->cap);
	else
		free(o->p);
	*o = (struct out){ 0 };
}

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap && out_grow(o, o->len + n))
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_int(struct out *o, long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", v);
	out_put(o, num, (size_t)n);
}

/* An id that shows as null when there is none (0). */
static void out_id(struct out *o, long long v)
{
	if (v)
		out_int(o, v);
	else
		out_str(o, "null");
}

/* A JSON string, escaped as jansson escapes (and SQLite's json_quote and
 * PostgreSQL's to_json, by which migration 0009 measures): the quote, the
 * backslash and control characters; every other byte as it is. NULL is
 * the empty string. */
static void out_json(struct out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const unsigned char *run = p;

	out_put(o, "\"", 1);
	for (; *p; p++) {
		char esc[7] = "\\u00";
		const char *e = esc;

		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		out_put(o, (const char *)run, (size_t)(p - run));
		run = p + 1;
		switch (*p) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			esc[6] = '\0';
			break;
		}
		out_str(o, e);
	}
	out_put(o, (const char *)run, (size_t)(p - run));
	out_put(o, "\"", 1);
}

/* A text that shows as null when NULL or empty (detail, error). */
static void out_json_or_null(struct out *o, const char *s)
{
	if (s && *s)
		out_json(o, s);
	else
		out_str(o, "null");
}

/* A stored time as ISO 8601 ("" when it is not a time). */
static void out_time(struct out *o, const char *stored)
{
	char iso[DBTIME_LEN];

	dbtime_to_iso(stored, iso);
	out_json(o, iso);
}

/* ---- The layout ---- */

/* Entries are objects at depth 2 of the document (its arrays at depth 1):
 * "\n    {", then for each key "\n      \"key\": " and its value, with
 * commas between, then "\n    }". */
static const char *const job_keys[] = { "id", "worker_id", "state", "taken_by", "error" };
static const char *const resource_keys[] = {
	"resource_type", "resource_id", "state", "detail", "job_id", "by_worker", "updated_at",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void out_key(struct out *o, const char *const *keys, size_t i)
{
	if (i)
		out_put(o, ",", 1);
	out_str(o, "\n      \"");
	out_str(o, keys[i]);
	out_str(o, "\": ");
}

/* An entry's bytes besides its values. */
static int64_t entry_frame(const char *const *keys, size_t n)
{
	int64_t len = (int64_t)(strlen("\n    {") + strlen("\n    }") + (n - 1));

	for (size_t i = 0; i < n; i++)
		len += (int64_t)(strlen("\n      \"") + strlen(keys[i]) + strlen("\": "));
	return len;
}

/* An array of n entries whose values take value_bytes. */
static int64_t array_size(int64_t n, int64_t frame, int64_t value_bytes)
{
	if (n <= 0)
		return (int64_t)strlen("[]");
	return (int64_t)strlen("[") + n * frame + (n - 1) + value_bytes + (int64_t)strlen("\n  ]");
}

#define BETWEEN_ARRAYS ",\n  \"resources\": "
#define DOCUMENT_END "\n}\n"

/* The request's state: queued or running while a job is; once all ended,
 * done only when every resource was cleaned or had moved on (skipped);
 * failed when a job failed or a resource failed or was refused;
 * cancelled when an admin cancelled it. */
static int64_t resources_in(const struct request_summary *s, const char *state)
{
	for (int i = 0; i < STORE_RESOURCE_STATES; i++)
		if (!strcmp(store_resource_states[i], state))
			return s->resources_by_state[i];
	return 0;
}

static const char *request_state(const struct request_summary *s)
{
	if (s->jobs_running)
		return "running";
	if (s->jobs_queued)
		return "queued";
	if (s->cancelled_at[0])
		return "cancelled";
	if (s->jobs_failed || resources_in(s, "failed") || resources_in(s, "refused"))
		return "failed";
	return "done";
}

/* Everything before the jobs array. */
static void header(struct out *o, const struct request_summary *s)
{
	out_str(o, "{\n  \"request\": ");
	out_int(o, s->id);
	out_str(o, ",\n  \"state\": ");
	out_json(o, request_state(s));
	out_str(o, ",\n  \"generation\": ");
	out_int(o, s->generation);
	out_str(o, ",\n  \"created_at\": ");
	out_time(o, s->created_at);
	out_str(o, ",\n  \"requested_by\": {\n    \"uid\": ");
	out_int(o, s->uid);
	out_str(o, ",\n    \"pid\": ");
	out_int(o, s->pid);
	out_str(o, "\n  },\n  \"accepted_by\": ");
	out_id(o, s->accepted_by);
	out_str(o, ",\n  \"counts\": {");
	for (int i = 0; i < STORE_RESOURCE_STATES; i++) {
		out_str(o, i ? ",\n    \"" : "\n    \"");
		out_str(o, store_resource_states[i]);
		out_str(o, "\": ");
		out_int(o, s->resources_by_state[i]);
	}
	out_str(o, "\n  }");
	if (s->cancelled_at[0]) {
		out_str(o, ",\n  \"cancelled\": {\n    \"at\": ");
		out_time(o, s->cancelled_at);
		out_str(o, ",\n    \"by_uid\": ");
		out_int(o, s->cancelled_by);
		out_str(o, "\n  }");
	}
	out_str(o, ",\n  \"jobs\": ");
}

static int64_t header_size(const struct request_summary *s)
{
	struct out o = { 0 };
	int64_t len;

	header(&o, s);
	len = o.err ? -1 : (int64_t)o.len;
	out_free(&o);
	return len;
}

int64_t progress_json_size(const struct request_summary *s)
{
	int64_t head = header_size(s);

	if (head < 0)
		return -ENOMEM;
	return head +
	       array_size(s->jobs_total, entry_frame(job_keys, COUNT(job_keys)), s->jobs_value_bytes) +
	       (int64_t)strlen(BETWEEN_ARRAYS) +
	       array_size(s->resources_total, entry_frame(resource_keys, COUNT(resource_keys)),
			  s->resources_value_bytes) +
	       (int64_t)strlen(DOCUMENT_END);
}

/* ---- The render ---- */

struct render {
	struct out out;
	struct request_summary stored;  /* the request's row */
	struct request_summary counted; /* the same, counted from the rows */
	int64_t expected;               /* what the row says the document takes */
	size_t header_len;
	bool in_resources;
};

static int on_summary(void *ctx, const struct request_summary *sum)
{
	struct render *r = ctx;

	r->stored = *sum;
	r->counted = *sum;
	r->counted.jobs_total = r->counted.jobs_queued = r->counted.jobs_running = 0;
	r->counted.jobs_failed = r->counted.jobs_cancelled = 0;
	r->counted.resources_total = 0;
	memset(r->counted.resources_by_state, 0, sizeof(r->counted.resources_by_state));
	r->expected = progress_json_size(sum);
	if (r->expected < 0)
		return (int)r->expected;
	/* One allocation of the promised size (and a NUL after it). */
	if (out_grow(&r->out, (size_t)r->expected + 1))
		return r->out.err;
	header(&r->out, sum);
	r->header_len = r->out.len;
	out_put(&r->out, "[", 1);
	return r->out.err;
}

static int on_job(void *ctx, const struct progress_job_entry *j)
{
	struct render *r = ctx;
	struct out *o = &r->out;
	const char *state = j->state ? j->state : "";

	out_str(o, r->counted.jobs_total++ ? ",\n    {" : "\n    {");
	out_key(o, job_keys, 0);
	out_int(o, j->id);
	out_key(o, job_keys, 1);
	out_int(o, j->worker_id);
	out_key(o, job_keys, 2);
	out_json(o, state);
	out_key(o, job_keys, 3);
	out_id(o, j->taken_by);
	out_key(o, job_keys, 4);
	out_json_or_null(o, j->error);
	out_str(o, "\n    }");
	if (!strcmp(state, "queued"))
		r->counted.jobs_queued++;
	else if (!strcmp(state, "running"))
		r->counted.jobs_running++;
	else if (!strcmp(state, "failed"))
		r->counted.jobs_failed++;
	else if (!strcmp(state, "cancelled"))
		r->counted.jobs_cancelled++;
	return o->err;
}

static void close_array(struct out *o, int64_t n)
{
	out_str(o, n ? "\n  ]" : "]");
}

/* The jobs array ends and the resources' begins. */
static void to_resources(struct render *r)
{
	if (r->in_resources)
		return;
	close_array(&r->out, r->counted.jobs_total);
	out_str(&r->out, BETWEEN_ARRAYS "[");
	r->in_resources = true;
}

static int on_resource(void *ctx, const struct progress_resource_entry *e)
{
	struct render *r = ctx;
	struct out *o = &r->out;
	const char *state = e->state ? e->state : "";

	to_resources(r);
	out_str(o, r->counted.resources_total++ ? ",\n    {" : "\n    {");
	out_key(o, resource_keys, 0);
	out_json(o, e->resource_type);
	out_key(o, resource_keys, 1);
	out_json(o, e->resource_id);
	out_key(o, resource_keys, 2);
	out_json(o, state);
	out_key(o, resource_keys, 3);
	out_json_or_null(o, e->detail);
	out_key(o, resource_keys, 4);
	out_int(o, e->job_id);
	out_key(o, resource_keys, 5);
	out_id(o, e->worker_id);
	out_key(o, resource_keys, 6);
	out_time(o, e->updated_at);
	out_str(o, "\n    }");
	for (int i = 0; i < STORE_RESOURCE_STATES; i++)
		if (!strcmp(state, store_resource_states[i]))
			r->counted.resources_by_state[i]++;
	return o->err;
}

/* The header again, from the counts the rows gave: the document says
 * what its rows say even if the request's row were off (its length then
 * differs from what stat said, and that is logged). */
static int fix_header(struct render *r)
{
	struct out h = { 0 };
	int rc;

	header(&h, &r->counted);
	if ((rc = h.err) != 0)
		goto out;
	if (h.len != r->header_len) {
		size_t body = r->out.len - r->header_len;

		if ((rc = out_grow(&r->out, h.len + body + 1)) != 0)
			goto out;
		memmove(r->out.p + h.len, r->out.p + r->header_len, body);
		r->out.len = h.len + body;
	}
	memcpy(r->out.p, h.p, h.len);
out:
	out_free(&h);
	return rc;
}

int progress_json_render(struct store *st, int64_t id, struct progress_json *out)
{
	static const struct store_progress_reader reader = { on_summary, on_job, on_resource };
	struct render r = { 0 };
	int rc = store_read_progress(st, id, &reader, &r);

	if (rc == 0) {
		to_resources(&r);
		close_array(&r.out, r.counted.resources_total);
		out_str(&r.out, DOCUMENT_END);
		rc = r.out.err;
	}
	if (rc == 0)
		rc = fix_header(&r);
	if (rc == 0)
		out_put(&r.out, "", 1); /* a NUL after the text */
	if (rc == 0 && (rc = r.out.err) == 0) {
		r.out.len--;
		if ((int64_t)r.out.len != r.expected)
			log_error("cleanup request %lld: progress.json renders to %zu bytes, but its "
				  "row in cleanup_requests says %lld (migration 0009's columns are off): "
				  "stat shows the row's size", (long long)id, r.out.len,
				  (long long)r.expected);
		log_debug("cleanup request %lld: progress.json rendered, %zu bytes",
			  (long long)id, r.out.len);
	}
	if (rc) {
		out_free(&r.out);
		return rc;
	}
	*out = (struct progress_json){
		.data = r.out.p, .len = r.out.len, .cap = r.out.cap, .mapped = r.out.mapped,
		.summary = r.stored,
	};
	return 0;
}

void progress_json_free(struct progress_json *doc)
{
	struct out o;

	if (!doc || !doc->data)
		return;
	o = (struct out){ .p = doc->data, .len = doc->len, .cap = doc->cap, .mapped = doc->mapped };
	out_free(&o);
	doc->data = NULL;
	doc->len = 0;
}
