/* How many workers one database holds at a report interval before a
 * heartbeat is late. Each simulated worker is what a daemon is to the
 * database: a connection of its own (store_open with STORE_RELAXED |
 * STORE_SHORT_WAIT, as backend/heartbeat.c), a registration
 * (store_register_instance, as fs/main.c), and a beat at a fixed rate of
 * report_interval (store_sync_clock, dbtime_now, store_beat: heartbeat.c's
 * beat(), retried every 500 ms when it fails). Only the threads are
 * pooled: a few threads drive every connection, in order of their beats'
 * due times.
 *
 *   heartbeat --db SETTING [--interval S] [--duration S] [--max-workers N]
 *             [--steps N,N,...] [--threads N] [--register instance|plain]
 *             [--keep-going] [--quick]
 *
 * For each number of workers W of the ramp (100, 250, 500, 1000, 2000,
 * then doubling, up to --max-workers), W connections (kept from the step
 * before, and more opened), each worker's phase spread evenly over the
 * interval, then --duration seconds of beats. A beat is late when it lands
 * more than 1 s after its due time (heartbeat.c's OUTAGE_AFTER_MS). The
 * ramp stops after the first step with a late beat (unless --keep-going)
 * or when the server refuses a connection. One table row and one CSV line
 * per step. Exit status: 0, 1 when a beat never landed (or a set-up
 * failure), 2 for usage. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dbtime.h"
#include "log.h"
#include "store.h"

/* heartbeat.c's RETRY_MS and OUTAGE_AFTER_MS. */
#define RETRY_US 500000LL
#define LATE_US 1000000LL
/* Steps start this long after every connection of theirs is ready. */
#define START_DELAY_US 200000LL
/* The service_down_time given to registration (fs/options.c's default). */
#define DOWN_TIME 60

struct worker {
	struct store *st;
	int64_t service_id;
	int64_t due;        /* the pending beat's time, µs on CLOCK_MONOTONIC */
	int64_t next_try;   /* when to try it (after a failed try: RETRY_US later) */
	bool done;          /* no beat left in this step, or it stopped */
};

struct beat_record {
	int64_t latency_us;   /* the try that landed: clock sync and store_beat */
	int64_t lateness_us;  /* landed minus due */
};

struct thread_ctx {
	pthread_t thread;
	int index;
	/* This step's workers: the global indexes index, index + threads, ... */
	size_t *mine;
	size_t count;
	size_t *heap;          /* of indexes into mine, by workers' next_try */
	size_t heap_len;
	struct beat_record *records;
	size_t n_records, cap_records;
	int64_t retries;       /* failed tries */
	int64_t lost;          /* beats that never landed */
	int first_error;       /* -errno of the first failed try, 0: none */
	char first_error_msg[1100];
	int open_error;        /* set-up: -errno, 0: fine */
	char open_error_msg[1100];
};

static struct {
	const char *db;
	int interval;          /* s */
	int duration;          /* s */
	long max_workers;
	int threads;
	bool plain;            /* store_register, store_beat without an instance */
	bool keep_going;
	bool quick;
	long steps[64];
	int n_steps;
} opt = {
	.interval = 10, .max_workers = 0, .threads = 8,
};

static struct worker *workers;
static size_t n_open;           /* workers[0..n_open) are open and registered */
static size_t n_allocated;
static int64_t step_start_us, step_end_us, give_up_us;

/* Connections open now (a refused step leaves some past n_open). */
static size_t open_connections(void)
{
	size_t n = 0;

	for (size_t i = 0; i < n_allocated; i++)
		n += workers[i].st != NULL;
	return n;
}

static int64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void sleep_until(int64_t us)
{
	struct timespec t = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

static void set_error(int *rc_out, char *msg_out, size_t size, int rc, const char *msg)
{
	if (*rc_out)
		return;
	*rc_out = rc;
	snprintf(msg_out, size, "%s", msg);
}

/* ---- Set-up: every worker's connection and registration ---- */

static int open_worker(size_t i, struct cf_err *err)
{
	struct worker *w = &workers[i];
	char host[64];
	struct registration reg = {
		.host = host, .binary = BINARY_VOLUME, .cluster_name = NULL, .version = "1.0",
	};
	struct timespec now;
	int rc;

	snprintf(host, sizeof(host), "bench%zu@lvm", i + 1);
	rc = store_open(opt.db, STORE_RELAXED | STORE_SHORT_WAIT, &w->st, err);
	if (rc)
		return rc;
	dbtime_now(&now);
	rc = opt.plain ? store_register(w->st, &reg, &now, &w->service_id, err)
		       : store_register_instance(w->st, &reg, DOWN_TIME, &now, &w->service_id, err);
	if (rc) {
		store_close(w->st);
		w->st = NULL;
	}
	return rc;
}

static void *setup_main(void *arg)
{
	struct thread_ctx *t = arg;
	struct cf_err err;

	for (size_t k = 0; k < t->count; k++) {
		size_t i = t->mine[k];
		int rc;

		if (i < n_open || workers[i].st)
			continue;
		rc = open_worker(i, &err);
		if (rc) {
			set_error(&t->open_error, t->open_error_msg, sizeof(t->open_error_msg), rc,
				  err.msg);
			break;
		}
	}
	return NULL;
}

/* ---- The beats ---- */

static bool earlier(struct thread_ctx *t, size_t a, size_t b)
{
	return workers[t->mine[t->heap[a]]].next_try < workers[t->mine[t->heap[b]]].next_try;
}

static void heap_swap(struct thread_ctx *t, size_t a, size_t b)
{
	size_t x = t->heap[a];

	t->heap[a] = t->heap[b];
	t->heap[b] = x;
}

static void heap_down(struct thread_ctx *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < t->heap_len && earlier(t, l, m))
			m = l;
		if (r < t->heap_len && earlier(t, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(t, i, m);
		i = m;
	}
}

/* heartbeat.c's beat() for a worker with a row: the server's clock
 * measured, the beat, the row brought back when an operator removed it. */
static int beat(struct worker *w, size_t i)
{
	struct timespec now;
	int rc;

	store_sync_clock(w->st);
	dbtime_now(&now);
	rc = store_beat(w->st, w->service_id, &now);
	if (rc == -ENOENT) {
		char host[64];
		struct registration reg = {
			.host = host, .binary = BINARY_VOLUME, .cluster_name = NULL,
			.version = "1.0",
		};

		snprintf(host, sizeof(host), "bench%zu@lvm", i + 1);
		rc = store_revive_service(w->st, w->service_id, &reg, &now);
	}
	return rc;
}

static void *beat_main(void *arg)
{
	struct thread_ctx *t = arg;

	while (t->heap_len) {
		size_t k = t->heap[0];
		size_t i = t->mine[k];
		struct worker *w = &workers[i];
		int64_t start, end;
		int rc;

		if (w->next_try > give_up_us) {
			/* Every beat still pending here never landed. */
			int64_t iv = (int64_t)opt.interval * 1000000;

			for (size_t h = 0; h < t->heap_len; h++) {
				int64_t due = workers[t->mine[t->heap[h]]].due;

				t->lost += (step_end_us - due + iv - 1) / iv;
			}
			t->heap_len = 0;
			break;
		}
		sleep_until(w->next_try);
		start = mono_us();
		rc = beat(w, i);
		end = mono_us();
		if (rc == 0) {
			if (t->n_records < t->cap_records)
				t->records[t->n_records++] = (struct beat_record){
					.latency_us = end - start, .lateness_us = end - w->due,
				};
			w->due += (int64_t)opt.interval * 1000000;
			w->next_try = w->due;
			if (w->due >= step_end_us)
				w->done = true;
		} else {
			char msg[512];

			t->retries++;
			snprintf(msg, sizeof(msg), "worker %zu: %s", i + 1, strerror(-rc));
			set_error(&t->first_error, t->first_error_msg, sizeof(t->first_error_msg), rc,
				  msg);
			if (rc == -ESTALE || rc == -EOWNERDEAD) {
				/* The daemon would stop: so does this worker. */
				t->lost++;
				w->done = true;
			} else {
				w->next_try = end + RETRY_US;
			}
		}
		if (w->done) {
			t->heap[0] = t->heap[--t->heap_len];
		}
		heap_down(t, 0);
	}
	return NULL;
}

/* ---- Figures ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest rank. */
static double pct_ms(const int64_t *sorted, size_t n, double p)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)sorted[rank - 1] / 1000.0;
}

struct step_result {
	long workers;
	size_t beats;          /* landed */
	int64_t expected;
	int64_t retries, lost, late;
	double lat_p50, lat_p99, lat_max;
	double late_p99, late_max;
	double setup_s;
};

static void summarize(struct thread_ctx *ts, int nt, struct step_result *r)
{
	size_t n = 0, at = 0;
	int64_t *lat, *late;

	for (int k = 0; k < nt; k++)
		n += ts[k].n_records;
	lat = calloc(n ? n : 1, sizeof(*lat));
	late = calloc(n ? n : 1, sizeof(*late));
	if (!lat || !late) {
		fprintf(stderr, "heartbeat: out of memory\n");
		exit(1);
	}
	r->retries = r->lost = r->late = 0;
	for (int k = 0; k < nt; k++) {
		for (size_t j = 0; j < ts[k].n_records; j++, at++) {
			lat[at] = ts[k].records[j].latency_us;
			late[at] = ts[k].records[j].lateness_us;
			if (late[at] > LATE_US)
				r->late++;
		}
		r->retries += ts[k].retries;
		r->lost += ts[k].lost;
	}
	qsort(lat, n, sizeof(*lat), cmp_i64);
	qsort(late, n, sizeof(*late), cmp_i64);
	r->beats = n;
	r->lat_p50 = pct_ms(lat, n, 50);
	r->lat_p99 = pct_ms(lat, n, 99);
	r->lat_max = n ? (double)lat[n - 1] / 1000.0 : 0;
	r->late_p99 = pct_ms(late, n, 99);
	r->late_max = n ? (double)late[n - 1] / 1000.0 : 0;
	free(lat);
	free(late);
}

/* ---- One step of the ramp ---- */

/* 0: measured; -errno: the step could not start (connections refused),
 * with words in why. */
static int run_step(const char *engine, long w_count, struct step_result *r, char *why,
		    size_t why_size)
{
	int nt = opt.threads < w_count ? opt.threads : (int)w_count;
	struct thread_ctx *ts = calloc((size_t)nt, sizeof(*ts));
	int64_t per_worker = (opt.duration + opt.interval - 1) / opt.interval + 1;
	int64_t setup_start = mono_us();
	int rc = 0;

	if (!ts) {
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	memset(r, 0, sizeof(*r));
	r->workers = w_count;
	for (int k = 0; k < nt; k++) {
		struct thread_ctx *t = &ts[k];

		t->index = k;
		t->mine = calloc((size_t)w_count / (size_t)nt + 1, sizeof(*t->mine));
		t->heap = calloc((size_t)w_count / (size_t)nt + 1, sizeof(*t->heap));
		t->cap_records = ((size_t)w_count / (size_t)nt + 1) * (size_t)per_worker;
		t->records = calloc(t->cap_records, sizeof(*t->records));
		if (!t->mine || !t->heap || !t->records) {
			fprintf(stderr, "heartbeat: out of memory\n");
			exit(1);
		}
		for (size_t i = (size_t)k; i < (size_t)w_count; i += (size_t)nt)
			t->mine[t->count++] = i;
	}

	/* Set-up: the new workers' connections and registrations, opened by
	 * the same threads (a server takes connections in parallel). */
	for (int k = 0; k < nt; k++)
		pthread_create(&ts[k].thread, NULL, setup_main, &ts[k]);
	for (int k = 0; k < nt; k++)
		pthread_join(ts[k].thread, NULL);
	for (int k = 0; k < nt; k++) {
		if (ts[k].open_error) {
			rc = ts[k].open_error;
			snprintf(why, why_size, "%s", ts[k].open_error_msg);
			break;
		}
	}
	/* Whatever opened stays open (the next step would reuse it); the
	 * workers open so far are the contiguous ones. */
	while (n_open < (size_t)w_count && workers[n_open].st)
		n_open++;
	r->setup_s = (double)(mono_us() - setup_start) / 1e6;
	if (rc)
		goto out;

	/* The beats: worker i's first at start + i/W of the interval. */
	step_start_us = mono_us() + START_DELAY_US;
	step_end_us = step_start_us + (int64_t)opt.duration * 1000000;
	give_up_us = step_end_us + (int64_t)opt.interval * 1000000;
	r->expected = 0;
	for (size_t i = 0; i < (size_t)w_count; i++) {
		struct worker *w = &workers[i];

		w->due = step_start_us + (int64_t)((double)i * opt.interval * 1e6 / (double)w_count);
		w->next_try = w->due;
		w->done = w->due >= step_end_us;
		if (!w->done)
			r->expected += (step_end_us - w->due + (int64_t)opt.interval * 1000000 - 1) /
				       ((int64_t)opt.interval * 1000000);
	}
	for (int k = 0; k < nt; k++) {
		struct thread_ctx *t = &ts[k];

		for (size_t j = 0; j < t->count; j++)
			if (!workers[t->mine[j]].done)
				t->heap[t->heap_len++] = j;
		for (size_t j = t->heap_len; j-- > 0;)
			heap_down(t, j);
		pthread_create(&t->thread, NULL, beat_main, t);
	}
	for (int k = 0; k < nt; k++)
		pthread_join(ts[k].thread, NULL);
	summarize(ts, nt, r);
	for (int k = 0; k < nt; k++) {
		if (ts[k].first_error) {
			fprintf(stderr, "heartbeat: %s, %ld workers: a beat failed (first: %s)\n",
				engine, w_count, ts[k].first_error_msg);
			break;
		}
	}
out:
	for (int k = 0; k < nt; k++) {
		free(ts[k].mine);
		free(ts[k].heap);
		free(ts[k].records);
	}
	free(ts);
	return rc;
}

/* ---- Options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: heartbeat --db SETTING [--interval S] [--duration S] [--max-workers N]\n"
		"                 [--steps N,N,...] [--threads N] [--register instance|plain]\n"
		"                 [--keep-going] [--quick]\n"
		"  --db SETTING         an SQLite file (made when missing) or a postgresql:// URI\n"
		"  --interval S         report_interval: each worker beats every S s (10)\n"
		"  --duration S         seconds of beats per step, at least two intervals (2 x S)\n"
		"  --max-workers N      the last step (10000); steps 100, 250, 500, 1000, 2000,\n"
		"                       then doubling, and N itself\n"
		"  --steps N,N,...      these numbers of workers instead\n"
		"  --threads N          threads driving the connections (8)\n"
		"  --register instance  as a daemon registers: store_register_instance, whose\n"
		"                       beats check the worker's instance (default)\n"
		"  --register plain     store_register: store_beat is the services row's UPDATE\n"
		"  --keep-going         go on after a step with a late beat\n"
		"  --quick              a smoke run: 10 then 30 workers, 1 s interval, 2 s each\n");
}

static long parse_long(const char *s, const char *what, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min) {
		fprintf(stderr, "heartbeat: %s must be a whole number of at least %ld, and %s is "
			"not\n", what, min, s);
		exit(2);
	}
	return v;
}

static void parse_steps(const char *s)
{
	char *copy = strdup(s), *save = NULL;

	if (!copy)
		exit(1);
	opt.n_steps = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (opt.n_steps == (int)(sizeof(opt.steps) / sizeof(opt.steps[0]))) {
			fprintf(stderr, "heartbeat: at most %zu steps\n",
				sizeof(opt.steps) / sizeof(opt.steps[0]));
			exit(2);
		}
		opt.steps[opt.n_steps++] = parse_long(tok, "--steps' each number", 1);
	}
	free(copy);
}

static void parse_options(int argc, char **argv)
{
	bool duration_set = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			opt.quick = true;
		} else if (!strcmp(a, "--keep-going")) {
			opt.keep_going = true;
		} else if (!v) {
			usage(stderr);
			exit(2);
		} else if (!strcmp(a, "--db")) {
			opt.db = v, i++;
		} else if (!strcmp(a, "--interval")) {
			opt.interval = (int)parse_long(v, "--interval", 1), i++;
		} else if (!strcmp(a, "--duration")) {
			opt.duration = (int)parse_long(v, "--duration", 1), i++;
			duration_set = true;
		} else if (!strcmp(a, "--max-workers")) {
			opt.max_workers = parse_long(v, "--max-workers", 1), i++;
		} else if (!strcmp(a, "--threads")) {
			opt.threads = (int)parse_long(v, "--threads", 1), i++;
		} else if (!strcmp(a, "--steps")) {
			parse_steps(v), i++;
		} else if (!strcmp(a, "--register")) {
			if (strcmp(v, "plain") && strcmp(v, "instance")) {
				usage(stderr);
				exit(2);
			}
			opt.plain = !strcmp(v, "plain"), i++;
		} else {
			usage(stderr);
			exit(2);
		}
	}
	if (!opt.db) {
		usage(stderr);
		exit(2);
	}
	if (opt.quick) {
		opt.interval = 1;
		if (!duration_set)
			opt.duration = 2;
		if (!opt.n_steps) {
			opt.steps[0] = 10;
			opt.steps[1] = 30;
			opt.n_steps = 2;
		}
	}
	if (!duration_set && !opt.quick)
		opt.duration = 2 * opt.interval;
	if (!opt.max_workers)
		opt.max_workers = 10000;
	if (!opt.n_steps) {
		static const long ladder[] = { 100, 250, 500, 1000 };

		for (size_t k = 0; k < sizeof(ladder) / sizeof(ladder[0]); k++)
			if (ladder[k] < opt.max_workers)
				opt.steps[opt.n_steps++] = ladder[k];
		for (long w = 2000; w < opt.max_workers && opt.n_steps < 63; w *= 2)
			opt.steps[opt.n_steps++] = w;
		opt.steps[opt.n_steps++] = opt.max_workers;
	}
	for (int k = 0; k < opt.n_steps; k++) {
		if (opt.steps[k] > opt.max_workers)
			opt.n_steps = k;
		else if (k && opt.steps[k] <= opt.steps[k - 1]) {
			fprintf(stderr, "heartbeat: --steps must grow\n");
			exit(2);
		}
	}
}

/* A connection per worker, and SQLite's file descriptors per connection. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct store *setup = NULL;
	struct cf_err err;
	struct step_result results[64];
	int measured = 0, status = 0;
	long best = 0;
	const char *engine;
	char stop_why[1100] = "";
	bool refused = false, any_late = false;
	int rc;

	parse_options(argc, argv);
	/* The store's own warnings (a failed try's words) on stderr. */
	log_setup("heartbeat-bench", true, LOG_LVL_WARNING);
	raise_fd_limit();
	/* store_notifies: true for the settings that name PostgreSQL. */
	engine = store_notifies(opt.db) ? "postgresql" : "sqlite";

	/* What a daemon does once at start: the schema brought up to date;
	 * this connection stays open, as the daemon's own would. */
	rc = store_open(opt.db, STORE_CREATE | STORE_MIGRATE, &setup, &err);
	if (rc) {
		fprintf(stderr, "heartbeat: %s\n", err.msg);
		return 1;
	}
	if (store_sync_clock(setup) != 0)
		fprintf(stderr, "heartbeat: cannot measure the server's clock\n");
	n_allocated = (size_t)opt.steps[opt.n_steps - 1];
	workers = calloc(n_allocated, sizeof(*workers));
	if (!workers) {
		fprintf(stderr, "heartbeat: out of memory\n");
		return 1;
	}

	printf("heartbeat bench on %s: report_interval %d s, %d s of beats per step, %d threads, "
	       "register %s\n", engine, opt.interval, opt.duration, opt.threads,
	       opt.plain ? "plain" : "instance");
	printf("every worker on its own connection; late: landed > %lld ms after its time\n",
	       LATE_US / 1000);
	printf("%8s %7s %7s %8s %8s %8s %6s %8s %8s %8s\n", "workers", "beats", "retries",
	       "p50 ms", "p99 ms", "max ms", "late", "late p99", "late max", "setup s");
	fflush(stdout);
	for (int k = 0; k < opt.n_steps; k++) {
		struct step_result *r = &results[measured];

		rc = run_step(engine, opt.steps[k], r, stop_why, sizeof(stop_why));
		if (rc) {
			/* PostgreSQL's words at max_connections (less the
			 * superuser's reserved slots, for a plain role). */
			refused = strstr(stop_why, "too many clients") ||
				  strstr(stop_why, "connection slots are reserved");
			printf("%8ld stopped: %zu connections open, the next refused: %s\n",
			       opt.steps[k], open_connections() + 1, stop_why);
			break;
		}
		measured++;
		printf("%8ld %7zu %7" PRId64 " %8.2f %8.2f %8.2f %6" PRId64 " %8.1f %8.1f %8.1f\n",
		       r->workers, r->beats, r->retries, r->lat_p50, r->lat_p99, r->lat_max,
		       r->late + r->lost, r->late_p99, r->late_max, r->setup_s);
		if (r->lost) {
			printf("%8s %" PRId64 " of %" PRId64 " beats never landed\n", "", r->lost,
			       r->expected);
			status = 1;
		}
		fflush(stdout);
		if (r->late + r->lost == 0)
			best = r->workers;
		else
			any_late = true;
		if (any_late && !opt.keep_going)
			break;
	}
	printf("csv,engine,interval_s,workers,beats,expected,retries,lost,late,"
	       "p50_ms,p99_ms,max_ms,late_p99_ms,late_max_ms,setup_s\n");
	for (int k = 0; k < measured; k++) {
		struct step_result *r = &results[k];

		printf("csv,%s,%d,%ld,%zu,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
		       ",%.3f,%.3f,%.3f,%.1f,%.1f,%.2f\n", engine, opt.interval, r->workers,
		       r->beats, r->expected, r->retries, r->lost, r->late + r->lost, r->lat_p50,
		       r->lat_p99, r->lat_max, r->late_p99, r->late_max, r->setup_s);
	}
	if (best)
		printf("answer,%s,%ld: the most workers with no late beat%s\n", engine, best,
		       any_late ? "" : " (no step had one)");
	else
		printf("answer,%s,0: every step had a late beat\n", engine);
	if (refused)
		printf("limit,%s: the server's max_connections (the ramp stopped at %zu "
		       "connections: %zu workers and this program's own)\n", engine,
		       open_connections() + 1, open_connections());
	else if (stop_why[0])
		printf("limit,%s: %s\n", engine, stop_why);

	/* A refused step may leave connections past n_open. */
	for (size_t i = 0; i < n_allocated; i++)
		store_close(workers[i].st);
	free(workers);
	store_close(setup);
	if (!measured)
		return 1;
	return status;
}
