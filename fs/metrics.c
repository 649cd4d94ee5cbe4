/* The metrics and status files, rendered from the store's overview (one
 * snapshot of a handful of aggregates) once per open. The metrics follow
 * the Prometheus text exposition format 0.0.4: every family's HELP and
 * TYPE before its samples, families never split, label values escaped and
 * valid UTF-8. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "dbtime.h"

/* A text being written; out of memory is remembered and said once. */
struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || array_reserve((void **)&t->buf, &t->cap, t->len + (size_t)n + 1, 1)) {
		t->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static int text_done(struct text *t, char **out, size_t *len)
{
	if (!t->oom && !t->buf) {
		t->buf = strdup("");
		t->oom = !t->buf;
	}
	if (t->oom) {
		free(t->buf);
		return -ENOMEM;
	}
	*out = t->buf;
	*len = t->len;
	return 0;
}

/* The length of the valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

size_t metrics_escape_label(const char *in, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t need = 0;

	while (*s) {
		char esc[4] = "";
		const char *piece;
		size_t n = utf8_seq(s), plen;

		if (*s == '\\' || *s == '"')
			esc[0] = '\\', esc[1] = (char)*s, piece = esc, plen = 2;
		else if (*s == '\n')
			piece = "\\n", plen = 2;
		else if (n == 0)
			piece = "\xef\xbf\xbd", plen = 3, n = 1; /* U+FFFD for a stray byte */
		else
			piece = (const char *)s, plen = n;
		for (size_t i = 0; i < plen; i++, need++)
			if (need + 1 < size)
				out[need] = piece[i];
		s += n;
	}
	if (size)
		out[need < size ? need : size - 1] = '\0';
	return need;
}

void metrics_format_number(double v, char *out, size_t size)
{
	if (isnan(v)) {
		snprintf(out, size, "NaN");
	} else if (isinf(v)) {
		snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
		snprintf(out, size, "%.0f", v == 0 ? 0.0 : v); /* never "-0" */
	} else {
		char *end;

		snprintf(out, size, "%.6f", v);
		end = out + strlen(out);
		while (end > out && end[-1] == '0')
			*--end = '\0';
		if (end > out && end[-1] == '.')
			*--end = '\0';
	}
}

/* A label value, escaped, with its quotes. */
static void put_label(struct text *t, const char *name, const char *value, bool first)
{
	char small[512];
	size_t n = metrics_escape_label(value, small, sizeof(small));

	if (n < sizeof(small)) {
		put(t, "%s%s=\"%s\"", first ? "" : ",", name, small);
		return;
	}
	char *big = malloc(n + 1);
	if (!big) {
		t->oom = true;
		return;
	}
	metrics_escape_label(value, big, n + 1);
	put(t, "%s%s=\"%s\"", first ? "" : ",", name, big);
	free(big);
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	/* HELP's own escapes are backslash and newline; ours have neither. */
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: name{labels} value. labels: name, value pairs, NULL-ended. */
static void sample(struct text *t, const char *name, const char *const *labels, double v)
{
	char num[64];

	put(t, "%s", name);
	if (labels && labels[0]) {
		put(t, "{");
		for (int i = 0; labels[i]; i += 2)
			put_label(t, labels[i], labels[i + 1], i == 0);
		put(t, "}");
	}
	metrics_format_number(v, num, sizeof(num));
	put(t, " %s\n", num);
}

/* Seconds from a stored time to now, never negative; -1 when unreadable. */
static double age_of(const char *stored, const struct timespec *now)
{
	struct timespec t;
	double age;

	if (!stored || !*stored || dbtime_parse(stored, &t) != 0)
		return -1;
	age = (double)(now->tv_sec - t.tv_sec) + (double)(now->tv_nsec - t.tv_nsec) / 1e9;
	return age < 0 ? 0 : age;
}

/* The mount's name of a stuck type: "Volume" is stuck/volume. */
static void type_dir(const char *type, char *out, size_t size)
{
	size_t i = 0;

	for (; type[i] && i + 1 < size; i++)
		out[i] = (type[i] >= 'A' && type[i] <= 'Z') ? (char)(type[i] - 'A' + 'a') : type[i];
	out[i] = '\0';
}

static void render_workers(struct text *t, const struct store_overview *o)
{
	family(t, "cinderfs_workers", "gauge",
	       "Workers (services rows) by cluster and state: up while the last heartbeat is at "
	       "most service_down_time old. cluster is empty for workers in none.");
	for (size_t i = 0; i < o->n_clusters; i++) {
		const struct overview_cluster *c = &o->clusters[i];
		const char *up[] = { "cluster", c->name, "state", "up", NULL };
		const char *down[] = { "cluster", c->name, "state", "down", NULL };

		sample(t, "cinderfs_workers", up, (double)c->up);
		sample(t, "cinderfs_workers", down, (double)c->down);
	}
}

static void render_stuck(struct text *t, const struct store_overview *o, const struct timespec *now)
{
	/* The mount's two types always have an oldest-age sample (0: none). */
	static const char *const types[] = { "Volume", "Snapshot" };
	char dir[16];

	family(t, "cinderfs_stuck_resources", "gauge",
	       "Resources left in an ongoing status by a worker that is down (stuck/), by type "
	       "and status.");
	for (size_t i = 0; i < o->n_stuck; i++) {
		const char *labels[] = { "type", dir, "status", o->stuck[i].status, NULL };

		type_dir(o->stuck[i].type, dir, sizeof(dir));
		sample(t, "cinderfs_stuck_resources", labels, (double)o->stuck[i].count);
	}
	family(t, "cinderfs_stuck_oldest_age_seconds", "gauge",
	       "Seconds since the oldest stuck resource of a type last changed (its updated_at), "
	       "at the time of the read; 0 when none is stuck.");
	for (size_t k = 0; k < 2; k++) {
		const char *labels[] = { "type", dir, NULL };
		double oldest = 0;

		for (size_t i = 0; i < o->n_stuck; i++) {
			double age = age_of(o->stuck[i].oldest, now);
			if (strcmp(o->stuck[i].type, types[k]) == 0 && age > oldest)
				oldest = age;
		}
		type_dir(types[k], dir, sizeof(dir));
		sample(t, "cinderfs_stuck_oldest_age_seconds", labels, oldest);
	}
}

static void render_cleanups(struct text *t, const struct store_overview *o)
{
	family(t, "cinderfs_cleanup_history_requests", "gauge",
	       "Cleanup requests kept in cleanup/history, by state (queued, running, done, failed, "
	       "cancelled; as progress.json says).");
	for (int i = 0; i < STORE_REQUEST_STATES; i++) {
		const char *labels[] = { "state", store_request_states[i], NULL };
		sample(t, "cinderfs_cleanup_history_requests", labels, (double)o->requests_by_state[i]);
	}
	family(t, "cinderfs_cleanup_requests_total", "counter",
	       "Cleanup requests accepted since the database was made (pruned ones included).");
	sample(t, "cinderfs_cleanup_requests_total", NULL, (double)o->requests_total);
	family(t, "cinderfs_cleanup_requests_ended_total", "counter",
	       "Cleanup requests that ended, by outcome, since the database was made (pruned ones "
	       "included).");
	for (int i = 2; i < STORE_REQUEST_STATES; i++) {
		const char *labels[] = { "state", store_request_states[i], NULL };
		sample(t, "cinderfs_cleanup_requests_ended_total", labels, (double)o->requests_ended[i]);
	}
	family(t, "cinderfs_cleanup_resources_total", "counter",
	       "Resources cleanup requests reached, by what became of them (cleaned, skipped, "
	       "refused, failed, cancelled), since the database was made (pruned requests' "
	       "included).");
	for (int k = 2; k < STORE_RESOURCE_STATES; k++) {
		const char *labels[] = { "state", store_resource_states[k], NULL };
		sample(t, "cinderfs_cleanup_resources_total", labels, (double)o->resources_total[k]);
	}
	family(t, "cinderfs_cleanup_resources_pending", "gauge",
	       "Resources of cleanup requests not reached yet (queued) or being cleaned (claimed).");
	for (int k = 0; k < 2; k++) {
		const char *labels[] = { "state", store_resource_states[k], NULL };
		sample(t, "cinderfs_cleanup_resources_pending", labels, (double)o->resources_total[k]);
	}
}

static bool op_ended(const struct overview_ops *op)
{
	return strcmp(op->state, "done") == 0 || strcmp(op->state, "failed") == 0;
}

static void render_ops(struct text *t, const struct store_overview *o)
{
	family(t, "cinderfs_storage_operations_in_flight", "gauge",
	       "Volume and snapshot operations (volume_operations) queued or running, by kind and "
	       "state.");
	for (size_t i = 0; i < o->n_ops; i++) {
		const char *labels[] = { "kind", o->ops[i].kind, "state", o->ops[i].state, NULL };
		if (!op_ended(&o->ops[i]))
			sample(t, "cinderfs_storage_operations_in_flight", labels, (double)o->ops[i].count);
	}
	family(t, "cinderfs_storage_operations_total", "counter",
	       "Volume and snapshot operations that ended, by kind and state (done, failed).");
	for (size_t i = 0; i < o->n_ops; i++) {
		const char *labels[] = { "kind", o->ops[i].kind, "state", o->ops[i].state, NULL };
		if (op_ended(&o->ops[i]))
			sample(t, "cinderfs_storage_operations_total", labels, (double)o->ops[i].count);
	}
	family(t, "cinderfs_storage_operation_duration_seconds", "histogram",
	       "Seconds from an operation's request to its end (time queued included), of the "
	       "operations that ended, by kind and state.");
	for (size_t i = 0; i < o->n_ops; i++) {
		const struct overview_ops *op = &o->ops[i];
		char le[32];
		const char *labels[] = { "kind", op->kind, "state", op->state, "le", le, NULL };
		const char *plain[] = { "kind", op->kind, "state", op->state, NULL };

		if (!op_ended(op))
			continue;
		for (int b = 0; b < STORE_DURATION_BUCKETS; b++) {
			metrics_format_number(store_duration_buckets[b], le, sizeof(le));
			sample(t, "cinderfs_storage_operation_duration_seconds_bucket", labels,
			       (double)op->le[b]);
		}
		snprintf(le, sizeof(le), "+Inf");
		sample(t, "cinderfs_storage_operation_duration_seconds_bucket", labels,
		       (double)op->timed);
		sample(t, "cinderfs_storage_operation_duration_seconds_sum", plain,
		       (double)op->duration_us / 1e6);
		sample(t, "cinderfs_storage_operation_duration_seconds_count", plain,
		       (double)op->timed);
	}
}

static void render_capacity(struct text *t, const struct store_overview *o,
			    const struct timespec *now)
{
	static const struct {
		const char *name, *help;
	} families[] = {
		{ "cinderfs_volume_group_size_bytes",
		  "Size of a worker's volume group, as the worker last measured it (vgs)." },
		{ "cinderfs_volume_group_free_bytes",
		  "Free space of a worker's volume group, as the worker last measured it (vgs)." },
		{ "cinderfs_volume_group_measured_age_seconds",
		  "Seconds since the worker last measured its volume group, at the time of the read." },
	};

	for (size_t f = 0; f < 3; f++) {
		family(t, families[f].name, "gauge", families[f].help);
		for (size_t i = 0; i < o->n_capacity; i++) {
			const struct overview_capacity *c = &o->capacity[i];
			char worker[24];
			const char *labels[] = { "worker", worker, "host", c->host,
						 "volume_group", c->volume_group, NULL };
			double v = f == 0 ? (double)c->size_bytes : f == 1 ? (double)c->free_bytes
									   : age_of(c->measured_at, now);

			snprintf(worker, sizeof(worker), "%lld", (long long)c->worker);
			sample(t, families[f].name, labels, v < 0 ? (double)NAN : v);
		}
	}
}

int metrics_render(const struct store_overview *o, const struct timespec *now, char **out,
		   size_t *len)
{
	struct text t = { 0 };

	render_workers(&t, o);
	render_stuck(&t, o, now);
	render_cleanups(&t, o);
	render_ops(&t, o);
	render_capacity(&t, o, now);
	return text_done(&t, out, len);
}

/* ---- status ---- */

void status_format_age(int64_t s, char *out, size_t size)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, size, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, size, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(out, size, "%lldd%02lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
}

void status_format_bytes(int64_t bytes, char *out, size_t size)
{
	double v = (double)(bytes < 0 ? 0 : bytes);

	if (v >= 1024.0 * 1024 * 1024 * 1024)
		snprintf(out, size, "%.1f TiB", v / (1024.0 * 1024 * 1024 * 1024));
	else if (v >= 1024.0 * 1024 * 1024)
		snprintf(out, size, "%.1f GiB", v / (1024.0 * 1024 * 1024));
	else
		snprintf(out, size, "%.1f MiB", v / (1024.0 * 1024));
}

/* A name as one word of a line: control characters and spaces shown as
 * '?' and '_', so that the columns split on blanks. */
static void word(const char *in, char *out, size_t size)
{
	size_t i = 0;

	for (; in[i] && i + 1 < size; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? '?' : in[i] == ' ' ? '_' : in[i];
	out[i] = '\0';
}

static void iso(const char *stored, char out[DBTIME_LEN])
{
	if (!stored || !dbtime_to_iso(stored, out))
		snprintf(out, DBTIME_LEN, "-");
}

/* Lines per section: one screen. The metrics file has every row. */
#define STATUS_ROWS 20

static void status_workers(struct text *t, const struct store_overview *o)
{
	int64_t up = 0, down = 0;
	char name[NAME_LEN];

	for (size_t i = 0; i < o->n_clusters; i++)
		up += o->clusters[i].up, down += o->clusters[i].down;
	put(t, "workers: %lld up, %lld down\n", (long long)up, (long long)down);
	if (o->n_clusters == 0)
		return;
	put(t, "  %-32s %8s %8s\n", "cluster", "up", "down");
	for (size_t i = 0; i < o->n_clusters && i < STATUS_ROWS; i++) {
		word(o->clusters[i].name[0] ? o->clusters[i].name : "(none)", name, sizeof(name));
		put(t, "  %-32s %8lld %8lld\n", name, (long long)o->clusters[i].up,
		    (long long)o->clusters[i].down);
	}
	if (o->n_clusters > STATUS_ROWS)
		put(t, "  ... %zu more clusters (metrics lists every one)\n",
		    o->n_clusters - STATUS_ROWS);
}

static void status_stuck(struct text *t, const struct store_overview *o, const struct timespec *now)
{
	int64_t total = 0;
	double oldest = -1;
	size_t which = 0;
	char age[32], dir[16], status[64], when[DBTIME_LEN];

	for (size_t i = 0; i < o->n_stuck; i++) {
		double a = age_of(o->stuck[i].oldest, now);
		total += o->stuck[i].count;
		if (a > oldest)
			oldest = a, which = i;
	}
	if (total == 0) {
		put(t, "stuck: none\n");
		return;
	}
	type_dir(o->stuck[which].type, dir, sizeof(dir));
	word(o->stuck[which].status, status, sizeof(status));
	iso(o->stuck[which].oldest, when);
	status_format_age((int64_t)oldest, age, sizeof(age));
	put(t, "stuck: %lld, the oldest %s (%s %s since %s)\n", (long long)total,
	    oldest < 0 ? "-" : age, dir, status, when);
	put(t, "  %-10s %-20s %8s  %s\n", "type", "status", "count", "oldest");
	for (size_t i = 0; i < o->n_stuck && i < STATUS_ROWS; i++) {
		double a = age_of(o->stuck[i].oldest, now);

		type_dir(o->stuck[i].type, dir, sizeof(dir));
		word(o->stuck[i].status, status, sizeof(status));
		status_format_age((int64_t)a, age, sizeof(age));
		put(t, "  %-10s %-20s %8lld  %s\n", dir, status, (long long)o->stuck[i].count,
		    a < 0 ? "-" : age);
	}
	if (o->n_stuck > STATUS_ROWS)
		put(t, "  ... %zu more statuses (metrics lists every one)\n", o->n_stuck - STATUS_ROWS);
}

/* A spec on one line: its first 40 bytes, line breaks and control
 * characters as spaces, "..." when there is more. */
static void spec_line(const struct overview_request *r, char *out, size_t size)
{
	size_t n = strlen(r->spec), i = 0, o = 0;
	bool more = r->spec_len > 40;

	if (n > 40)
		n = 40;
	for (; i < n && o + 1 < size; i++)
		out[o++] = (unsigned char)r->spec[i] < 0x20 || r->spec[i] == 0x7f ? ' ' : r->spec[i];
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	if (o == 0)
		snprintf(out, size, "(no filter)");
	else if (more && o + 4 < size)
		memcpy(out + o, "...", 4);
}

static void status_cleanups(struct text *t, const struct store_overview *o)
{
	int64_t kept = 0;
	char when[DBTIME_LEN], spec[64];

	for (int i = 0; i < STORE_REQUEST_STATES; i++)
		kept += o->requests_by_state[i];
	if (kept == 0) {
		put(t, "cleanups: none kept\n");
		return;
	}
	put(t, "cleanups: %lld kept:", (long long)kept);
	for (int i = 0; i < STORE_REQUEST_STATES; i++)
		put(t, "%s %lld %s", i ? "," : "", (long long)o->requests_by_state[i],
		    store_request_states[i]);
	put(t, "\n  %-8s %-20s %-9s %9s %7s %7s %6s  %s\n", "request", "accepted", "state",
	    "resources", "cleaned", "skipped", "failed", "spec");
	for (size_t i = 0; i < o->n_recent; i++) {
		const struct overview_request *r = &o->recent[i];

		iso(r->created_at, when);
		spec_line(r, spec, sizeof(spec));
		/* failed as progress.json's state counts it: failed or refused. */
		put(t, "  %-8lld %-20s %-9s %9lld %7lld %7lld %6lld  %s\n", (long long)r->id, when,
		    r->state, (long long)r->resources_total, (long long)r->resources_by_state[2],
		    (long long)r->resources_by_state[3],
		    (long long)(r->resources_by_state[4] + r->resources_by_state[5]), spec);
	}
}

/* Volume groups by name: workers sharing a group (the same name, as the
 * space check counts them) show once, with the freshest measurement. */
struct vg_row {
	const struct overview_capacity *latest;
	size_t workers;
};

static int by_group(const void *a, const void *b)
{
	const struct overview_capacity *x = *(const struct overview_capacity *const *)a;
	const struct overview_capacity *y = *(const struct overview_capacity *const *)b;
	int c = strcmp(x->volume_group, y->volume_group);

	return c ? c : strcmp(y->measured_at, x->measured_at); /* the freshest first */
}

static void status_groups(struct text *t, const struct store_overview *o, const struct timespec *now)
{
	const struct overview_capacity **sorted;
	size_t groups = 0, shown = 0;
	char name[NAME_LEN], size[32], free_[32], age[32];

	if (o->n_capacity == 0) {
		put(t, "volume groups: none measured\n");
		return;
	}
	sorted = malloc(o->n_capacity * sizeof(*sorted));
	if (!sorted) {
		t->oom = true;
		return;
	}
	for (size_t i = 0; i < o->n_capacity; i++)
		sorted[i] = &o->capacity[i];
	qsort(sorted, o->n_capacity, sizeof(*sorted), by_group);
	for (size_t i = 0; i < o->n_capacity; i++)
		groups += i == 0 || strcmp(sorted[i]->volume_group, sorted[i - 1]->volume_group) != 0;
	put(t, "volume groups: %zu\n", groups);
	put(t, "  %-24s %12s %12s %5s %8s  %s\n", "name", "size", "free", "used", "measured",
	    "workers");
	for (size_t i = 0; i < o->n_capacity && shown < STATUS_ROWS;) {
		const struct overview_capacity *c = sorted[i];
		size_t n = 0;
		double a = age_of(c->measured_at, now);
		char used[8];

		while (i + n < o->n_capacity &&
		       strcmp(sorted[i + n]->volume_group, c->volume_group) == 0)
			n++;
		word(c->volume_group, name, sizeof(name));
		status_format_bytes(c->size_bytes, size, sizeof(size));
		status_format_bytes(c->free_bytes, free_, sizeof(free_));
		if (c->size_bytes > 0 && c->free_bytes <= c->size_bytes)
			snprintf(used, sizeof(used), "%d%%",
				 (int)((c->size_bytes - c->free_bytes) * 100 / c->size_bytes));
		else
			snprintf(used, sizeof(used), "-");
		status_format_age((int64_t)a, age, sizeof(age));
		put(t, "  %-24s %12s %12s %5s %8s  %zu\n", name, size, free_, used, a < 0 ? "-" : age, n);
		i += n;
		shown++;
	}
	if (groups > shown)
		put(t, "  ... %zu more volume groups (metrics lists every worker's)\n", groups - shown);
	free(sorted);
}

int status_render(const struct store_overview *o, const struct timespec *now, int down_time,
		  char **out, size_t *len)
{
	struct text t = { 0 };
	char stamp[DBTIME_LEN], when[DBTIME_LEN];

	dbtime_format(now, stamp);
	iso(stamp, when);
	put(&t, "cinderfs status at %s (service_down_time %d s)\n\n", when, down_time);
	status_workers(&t, o);
	put(&t, "\n");
	status_stuck(&t, o, now);
	put(&t, "\n");
	status_cleanups(&t, o);
	put(&t, "\n");
	status_groups(&t, o, now);
	return text_done(&t, out, len);
}
