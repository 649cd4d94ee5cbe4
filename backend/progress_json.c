/* progress.json, read from the store in one snapshot and kept as its
 * entries' values, its text put together at whatever offset it is read;
 * and its size computed from the request's row alone. The layout is
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
#include "request.h"

/* Values this big or bigger are mapped: freed, their memory goes back to
 * the system at once, whatever the allocator keeps of its heap. */
#define MAP_AT ((size_t)1 << 20)

/* An output buffer. An array's values are reserved at the size the
 * request's row promises; they grow only when the rows say otherwise. */
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
	/* A daemon's own request (automatic cleanup): uid and pid are the
	 * daemon's, and this says which member asked and why. Only here,
	 * so an operator's request reads as it always did. */
	if (s->auto_by) {
		out_str(o, ",\n    \"auto_cleanup\": {\n      \"by_worker\": ");
		out_int(o, s->auto_by);
		out_str(o, ",\n      \"worker_id\": ");
		out_int(o, s->auto_worker);
		out_str(o, ",\n      \"down_since\": ");
		out_time(o, s->auto_down_since);
		out_str(o, ",\n      \"after_seconds\": ");
		out_int(o, s->auto_after);
		out_str(o, "\n    }");
	}
	out_str(o, "\n  },\n  \"accepted_by\": ");
	out_id(o, s->accepted_by);
	if (request_matched_none(s)) {
		/* Accepted, as Cinder accepts it, but said: a typo in a value
		 * (host=node6@lvn) is otherwise a silent success. */
		out_str(o, ",\n  \"note\": ");
		out_json(o, REQUEST_MATCHED_NONE);
	}
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

/* ---- The snapshot ---- */

/* What separates an entry's values: no rendered value holds a control
 * character (strings escape them). */
#define VALUE_END '\1'

/* Where entry i's text starts in its array's entries (after the "["): the
 * frames and commas before it, and its values' bytes without their ends. */
static uint64_t entry_start(const struct progress_json_array *a, size_t i)
{
	uint64_t frame = (uint64_t)entry_frame(a->keys, a->nkeys);

	return (i ? i - 1 : 0) + i * (frame - a->nkeys) + (i < a->count ? a->starts[i] : a->values_len);
}

static void array_init(struct progress_json_array *a, const char *const *keys, size_t nkeys)
{
	*a = (struct progress_json_array){ .keys = keys, .nkeys = nkeys };
}

static void array_free(struct progress_json_array *a)
{
	struct out o = { .p = a->values, .cap = a->values_cap, .mapped = a->mapped };

	out_free(&o);
	free(a->starts);
	a->values = NULL;
	a->starts = NULL;
}

/* Room for n entries whose values take value_bytes (what the row says). */
static int array_reserve_for(struct progress_json_array *a, int64_t n, int64_t value_bytes)
{
	struct out o = { .p = a->values, .len = a->values_len, .cap = a->values_cap,
			 .mapped = a->mapped };
	int rc = 0;

	if (n > 0 && value_bytes >= 0)
		rc = out_grow(&o, (size_t)(value_bytes + n * (int64_t)a->nkeys));
	a->values = o.p;
	a->values_cap = o.cap;
	a->mapped = o.mapped;
	if (rc == 0 && n > 0 && (size_t)n > a->starts_cap) {
		uint64_t *starts = realloc(a->starts, (size_t)n * sizeof(*starts));
		if (!starts)
			return -ENOMEM;
		a->starts = starts;
		a->starts_cap = (size_t)n;
	}
	return rc;
}

/* A new entry: its values are written to *o (the array's values) next. */
static int array_entry(struct progress_json_array *a, struct out *o)
{
	if (a->count == a->starts_cap) {
		size_t cap = a->starts_cap ? a->starts_cap * 2 : 64;
		uint64_t *starts = realloc(a->starts, cap * sizeof(*starts));
		if (!starts)
			return -ENOMEM;
		a->starts = starts;
		a->starts_cap = cap;
	}
	a->starts[a->count++] = a->values_len;
	*o = (struct out){ .p = a->values, .len = a->values_len, .cap = a->values_cap,
			   .mapped = a->mapped };
	return 0;
}

static void value_end(struct out *o)
{
	out_put(o, &(char){ VALUE_END }, 1);
}

static int array_entry_done(struct progress_json_array *a, struct out *o)
{
	a->values = o->p;
	a->values_len = o->len;
	a->values_cap = o->cap;
	a->mapped = o->mapped;
	return o->err;
}

/* Entry i's text, "\n    {" ... "\n    }" with its comma before. */
static void entry_text(const struct progress_json_array *a, size_t i, struct out *o)
{
	const char *v = a->values + a->starts[i];

	out_str(o, i ? ",\n    {" : "\n    {");
	for (size_t k = 0; k < a->nkeys; k++) {
		const char *end = strchr(v, VALUE_END);

		out_key(o, a->keys, k);
		out_put(o, v, (size_t)(end - v));
		v = end + 1;
	}
	out_str(o, "\n    }");
}

static void array_close(struct progress_json_array *a)
{
	a->len = a->count ? strlen("[") + entry_start(a, a->count) + strlen("\n  ]") : strlen("[]");
}

/* A piece of literal text at pos: what of it falls in [pos, pos + n). */
static size_t piece(const char *text, size_t len, uint64_t pos, char *buf, size_t n)
{
	size_t k;

	if (pos >= len)
		return 0;
	k = len - (size_t)pos < n ? len - (size_t)pos : n;
	memcpy(buf, text + pos, k);
	return k;
}

/* Up to n bytes of the array's text from pos (pos < a->len). */
static size_t array_read(const struct progress_json_array *a, uint64_t pos, char *buf, size_t n)
{
	uint64_t entries = a->count ? entry_start(a, a->count) : 0;
	struct out tmp = { 0 };
	size_t done = 0;

	if (!a->count)
		return piece("[]", 2, pos, buf, n);
	if (pos == 0) {
		buf[done++] = '[';
	} else {
		pos--;
	}
	if (pos < entries && done < n) {
		/* The entry pos falls in: the last that starts at or before it. */
		size_t lo = 0, hi = a->count - 1;

		while (lo < hi) {
			size_t mid = lo + (hi - lo + 1) / 2;
			if (entry_start(a, mid) <= pos)
				lo = mid;
			else
				hi = mid - 1;
		}
		for (size_t i = lo; i < a->count && done < n; i++) {
			uint64_t at = entry_start(a, i);

			tmp.len = 0;
			entry_text(a, i, &tmp);
			if (tmp.err)
				break;
			done += piece(tmp.p, tmp.len, pos > at ? pos - at : 0, buf + done, n - done);
		}
		out_free(&tmp);
		pos = entries;
	}
	if (done < n && pos >= entries)
		done += piece("\n  ]", 4, pos - entries, buf + done, n - done);
	return done;
}

size_t progress_json_read(const struct progress_json *doc, char *buf, size_t size, off_t off)
{
	const struct {
		const char *text;
		const struct progress_json_array *array;
		size_t len;
	} parts[] = {
		{ doc->head, NULL, doc->head_len },
		{ NULL, &doc->jobs, doc->jobs.len },
		{ BETWEEN_ARRAYS, NULL, strlen(BETWEEN_ARRAYS) },
		{ NULL, &doc->resources, doc->resources.len },
		{ DOCUMENT_END, NULL, strlen(DOCUMENT_END) },
	};
	uint64_t pos = off < 0 ? UINT64_MAX : (uint64_t)off;
	size_t done = 0;

	for (size_t i = 0; i < COUNT(parts) && done < size; i++) {
		if (pos >= parts[i].len) {
			pos -= parts[i].len;
			continue;
		}
		done += parts[i].array ? array_read(parts[i].array, pos, buf + done, size - done)
				       : piece(parts[i].text, parts[i].len, pos, buf + done, size - done);
		pos = 0;
	}
	return done;
}

/* ---- The render ---- */

struct render {
	struct progress_json *doc;
	struct request_summary counted; /* the request's row, its counts counted from the rows */
	int64_t expected;               /* what the row says the document takes */
};

static int on_summary(void *ctx, const struct request_summary *sum)
{
	struct render *r = ctx;
	int rc;

	r->doc->summary = *sum;
	r->counted = *sum;
	r->counted.jobs_total = r->counted.jobs_queued = r->counted.jobs_running = 0;
	r->counted.jobs_failed = r->counted.jobs_cancelled = 0;
	r->counted.resources_total = 0;
	memset(r->counted.resources_by_state, 0, sizeof(r->counted.resources_by_state));
	r->expected = progress_json_size(sum);
	if (r->expected < 0)
		return (int)r->expected;
	/* The values take what the row says: one allocation each. */
	rc = array_reserve_for(&r->doc->jobs, sum->jobs_total, sum->jobs_value_bytes);
	if (rc == 0)
		rc = array_reserve_for(&r->doc->resources, sum->resources_total,
				       sum->resources_value_bytes);
	return rc;
}

static int on_job(void *ctx, const struct progress_job_entry *j)
{
	struct render *r = ctx;
	const char *state = j->state ? j->state : "";
	struct out o;
	int rc = array_entry(&r->doc->jobs, &o);

	if (rc)
		return rc;
	out_int(&o, j->id);
	value_end(&o);
	out_int(&o, j->worker_id);
	value_end(&o);
	out_json(&o, state);
	value_end(&o);
	out_id(&o, j->taken_by);
	value_end(&o);
	out_json_or_null(&o, j->error);
	value_end(&o);
	r->counted.jobs_total++;
	if (!strcmp(state, "queued"))
		r->counted.jobs_queued++;
	else if (!strcmp(state, "running"))
		r->counted.jobs_running++;
	else if (!strcmp(state, "failed"))
		r->counted.jobs_failed++;
	else if (!strcmp(state, "cancelled"))
		r->counted.jobs_cancelled++;
	return array_entry_done(&r->doc->jobs, &o);
}

static int on_resource(void *ctx, const struct progress_resource_entry *e)
{
	struct render *r = ctx;
	const char *state = e->state ? e->state : "";
	struct out o;
	int rc = array_entry(&r->doc->resources, &o);

	if (rc)
		return rc;
	out_json(&o, e->resource_type);
	value_end(&o);
	out_json(&o, e->resource_id);
	value_end(&o);
	out_json(&o, state);
	value_end(&o);
	out_json_or_null(&o, e->detail);
	value_end(&o);
	out_int(&o, e->job_id);
	value_end(&o);
	out_id(&o, e->worker_id);
	value_end(&o);
	out_time(&o, e->updated_at);
	value_end(&o);
	r->counted.resources_total++;
	for (int i = 0; i < STORE_RESOURCE_STATES; i++)
		if (!strcmp(state, store_resource_states[i]))
			r->counted.resources_by_state[i]++;
	return array_entry_done(&r->doc->resources, &o);
}

int progress_json_render(struct store *st, int64_t id, struct progress_json *out)
{
	static const struct store_progress_reader reader = { on_summary, on_job, on_resource };
	struct progress_json *doc = out;
	struct render r = { .doc = doc };
	struct out head = { 0 };
	int rc;

	*doc = (struct progress_json){ 0 };
	array_init(&doc->jobs, job_keys, COUNT(job_keys));
	array_init(&doc->resources, resource_keys, COUNT(resource_keys));
	rc = store_read_progress(st, id, &reader, &r);
	if (rc == 0) {
		/* The header from the counts the rows gave: the document says
		 * what its rows say even if the request's row were off (its
		 * length then differs from what stat said, and that is
		 * logged). */
		header(&head, &r.counted);
		rc = head.err;
	}
	if (rc) {
		out_free(&head);
		progress_json_free(doc);
		return rc;
	}
	doc->head = head.p;
	doc->head_len = head.len;
	array_close(&doc->jobs);
	array_close(&doc->resources);
	doc->len = doc->head_len + doc->jobs.len + strlen(BETWEEN_ARRAYS) + doc->resources.len +
		   strlen(DOCUMENT_END);
	if ((int64_t)doc->len != r.expected)
		log_error("cleanup request %lld: progress.json renders to %zu bytes, but its row in "
			  "cleanup_requests says %lld (migration 0009's columns are off): stat shows "
			  "the row's size", (long long)id, doc->len, (long long)r.expected);
	log_debug("cleanup request %lld: progress.json rendered, %zu bytes (%zu kept)", (long long)id,
		  doc->len, doc->head_len + doc->jobs.values_len + doc->resources.values_len);
	return 0;
}

void progress_json_free(struct progress_json *doc)
{
	if (!doc)
		return;
	free(doc->head);
	doc->head = NULL;
	array_free(&doc->jobs);
	array_free(&doc->resources);
	doc->len = 0;
}
