/* cinderfs: start a volume worker and mount its control filesystem.
 *
 * Order matters: everything that can fail for a reason the operator must
 * read (options, mountpoint, database, registration) happens before the
 * mount and before daemonizing, so the message reaches the terminal. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "cleanup.h"
#include "filter.h"
#include "heartbeat.h"
#include "jobs.h"
#include "lvm_driver.h"
#include "log.h"
#include "mountpoint.h"
#include "notify.h"
#include "options.h"
#include "request.h"
#include "scratch.h"
#include "store.h"
#include "watch.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#else
/* Without libsystemd the unit is Type=simple and nothing is told. */
static inline int sd_notify(int unset, const char *state)
{
	(void)unset;
	(void)state;
	return 0;
}
#endif

/* The protocol version this worker reports in services.rpc_current_version;
 * the cleanup refuses to run while workers report different versions. */
#define CINDERFS_RPC_VERSION "1.0"

static int prepare_database(const struct options *o, const struct registration *reg,
			    int64_t *service_id, struct timespec *now)
{
	struct store *st;
	struct cf_err err;
	int rc;

	/* The default place is ours to create; a path given by the operator
	 * must already have its directory. */
	if (strcmp(o->db_path, DEFAULT_DB_PATH) == 0 && mkdir("/var/lib/cinderfs", 0750) != 0 &&
	    errno != EEXIST) {
		log_error("cannot create /var/lib/cinderfs: %s", strerror(errno));
		return -errno;
	}
	/* Root's and the admin group's only, wherever it is: it holds CHAP
	 * secrets. */
	rc = store_prepare_file(o->db_path, o->admin_gid, &err);
	if (rc) {
		log_error("%s", err.msg);
		return rc;
	}
	rc = store_open(o->db_path, STORE_CREATE | STORE_MIGRATE, &st, &err);
	if (rc) {
		log_error("%s", err.msg);
		return rc;
	}
	/* The file every thread's connection must find there later. */
	store_pin_file(st);
	/* PostgreSQL: from here on, times are the database server's. */
	if (store_sync_clock(st) == 0)
		dbtime_now(now);
	if (!o->control_only) {
		/* Refused while another daemon serves the same host: it
		 * would take that one's row, and its start-up cleanup that
		 * one's operations in flight. */
		rc = store_register_instance(st, reg, o->service_down_time, now, service_id, &err);
		if (rc)
			log_error("%s", err.msg);
		else {
			char who[NAME_LEN + 32];
			snprintf(who, sizeof(who), "%s worker %lld", reg->host, (long long)*service_id);
			log_set_who(who);
			log_info("registered worker %lld: host %s, binary %s, cluster %s",
				 (long long)*service_id, reg->host, reg->binary,
				 reg->cluster_name ? reg->cluster_name : "(none)");
		}
	} else {
		log_set_who("control-only");
	}
	/* Not carried across fork(): the threads open their own connections. */
	store_close(st);
	return rc;
}

/* The database file was deleted or replaced, or another daemon took this
 * worker's row: the daemon stops with status 1 (its service manager starts
 * it again, on the file that is there now). Not at once: LOST_GRACE_MS
 * later, so that the requests under way, the one that found it among
 * them, end with their own error rather than a connection the unmount
 * aborted (and a lookup refused with ESTALE, which the kernel asks once
 * more, is refused again). The loop ends on a SIGTERM to the main thread,
 * sent only while libfuse's handler is in place. */
#define LOST_GRACE_MS 1000

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t main_thread, stopper;
	bool armed, lost;
} lost = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void database_lost(void)
{
	pthread_mutex_lock(&lost.lock);
	if (lost.armed && !lost.lost) {
		lost.lost = true;
		pthread_cond_broadcast(&lost.wake);
	}
	pthread_mutex_unlock(&lost.lock);
}

static void *stop_when_lost(void *arg)
{
	struct timespec deadline;

	(void)arg;
	pthread_mutex_lock(&lost.lock);
	while (lost.armed && !lost.lost)
		pthread_cond_wait(&lost.wake, &lost.lock);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += LOST_GRACE_MS / 1000;
	deadline.tv_nsec += (LOST_GRACE_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (lost.armed &&
	       pthread_cond_timedwait(&lost.wake, &lost.lock, &deadline) != ETIMEDOUT)
		;
	if (lost.armed && lost.lost) {
		log_error("stopping: this daemon can no longer serve (see above); start it again");
		pthread_kill(lost.main_thread, SIGTERM);
	}
	pthread_mutex_unlock(&lost.lock);
	return NULL;
}

static int arm_lost(void)
{
	pthread_condattr_t attr;
	int rc;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&lost.wake, &attr);
	pthread_condattr_destroy(&attr);
	lost.main_thread = pthread_self();
	lost.armed = true;
	rc = pthread_create(&lost.stopper, NULL, stop_when_lost, NULL);
	if (rc) {
		lost.armed = false;
		return -rc;
	}
	store_set_lost_handler(database_lost);
	return 0;
}

/* Before libfuse's SIGTERM handler goes: a SIGTERM after it would kill
 * the process. Returns whether the daemon was lost. */
static bool disarm_lost(void)
{
	bool was_lost;

	store_set_lost_handler(NULL);
	pthread_mutex_lock(&lost.lock);
	if (!lost.armed) {
		was_lost = lost.lost;
		pthread_mutex_unlock(&lost.lock);
		return was_lost;
	}
	lost.armed = false;
	was_lost = lost.lost;
	pthread_cond_broadcast(&lost.wake);
	pthread_mutex_unlock(&lost.lock);
	pthread_join(lost.stopper, NULL);
	pthread_cond_destroy(&lost.wake);
	return was_lost;
}

/* How often a worker looks for jobs queued by other daemons: well within
 * the one second in which a job must be taken. */
#define JOBS_POLL_MS 250

/* How often the watch thread reads the requests someone waits on. */
#define WATCH_POLL_MS 100

/* With notifications from the other daemons (PostgreSQL), both threads are
 * woken by them and read on their own only this often, as a fallback. */
#define NOTIFIED_POLL_MS 1000

static void notified_jobs(void *ctx)
{
	jobs_wake(ctx);
}

static void notified_watch(void *ctx)
{
	watch_kick(ctx);
}

/* libfuse's own default: threads for every other request, besides the
 * ones readers of wait hold. */
#define FUSE_THREADS 10

static void wake_jobs(void *ctx)
{
	jobs_wake(*(struct jobs **)ctx);
}

/* The lock around every LVM metadata command (lvm.h): the volume group's
 * name lock in the database, shared by every host of the cluster, on a
 * connection of its own (the lock is the connection's; opened at the
 * first command, and again after one that could not be opened); the
 * mutex because the driver runs in more than one thread, and a lock a
 * connection holds is held for all of them. */
struct vg_lock {
	pthread_mutex_t mutex;
	const char *db_path;
	struct store *st;
};

/* A connection the server dropped (a restart: the lock went with it) is
 * made again by the next call: more tries, a second apart, before the
 * database counts as unreachable. */
#define VG_LOCK_TRIES 3

static int take_vg_lock(void *ctx, const char *name, struct cf_err *err)
{
	struct vg_lock *vl = ctx;
	int rc = 0;

	pthread_mutex_lock(&vl->mutex);
	if (!vl->st)
		rc = store_open(vl->db_path, STORE_RELAXED, &vl->st, err);
	for (int try = 1; rc == 0 && (rc = store_lock_name(vl->st, name)) == -ENOTCONN &&
	     try < VG_LOCK_TRIES; try++)
		sleep(1);
	if (rc && vl->st)
		err_set(err, -rc, "%s", rc == -EBUSY ? "another host held it past the lock wait" :
			rc == -ENOTCONN ? "the database cannot be reached" : strerror(-rc));
	if (rc)
		pthread_mutex_unlock(&vl->mutex);
	return rc;
}

static void let_go_vg_lock(void *ctx, const char *name)
{
	struct vg_lock *vl = ctx;

	store_unlock_name(vl->st, name);
	pthread_mutex_unlock(&vl->mutex);
}

/* The storage driver: LVM and tgt when a volume group is configured,
 * else none (the database side of each step only). */
static int storage_driver(const struct options *o, struct lvm_driver *lvm, struct vg_lock *vl,
			  struct driver *out)
{
	struct lvm_driver_config cfg;

	if (!o->volume_group) {
		*out = (struct driver){ &driver_none_ops, NULL };
		return 0;
	}
	if (strcmp(o->target_helper, "tgtadm") == 0 && mkdir(o->volumes_dir, 0750) != 0 &&
	    errno != EEXIST) {
		log_error("cannot create volumes_dir %s: %s", o->volumes_dir, strerror(errno));
		return -errno;
	}
	cfg = (struct lvm_driver_config){
		.volume_group = o->volume_group, .target_helper = o->target_helper,
		.target_prefix = o->target_prefix, .volumes_dir = o->volumes_dir,
		.bstype = o->tgt_bstype, .tgt_control_port = o->tgt_control_port,
		.lvm_system_dir = o->lvm_system_dir, .command_timeout = o->command_timeout,
		.target_ip_address = o->target_ip_address, .target_port = o->target_port,
		.lock = { take_vg_lock, let_go_vg_lock, vl },
	};
	lvm_driver_init(lvm, &cfg);
	*out = lvm_driver(lvm);
	return 0;
}

static int serve(const struct options *o, const struct registration *reg, int64_t service_id,
		 const struct timespec *started)
{
	struct lvm_driver lvm;
	struct vg_lock vg_lock = { .mutex = PTHREAD_MUTEX_INITIALIZER, .db_path = o->db_path };
	struct driver drv;
	struct control_state cleanup = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct control_state volume_errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct control_state snapshot_errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct control_state worker_errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct control_state cluster_errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct jobs *jobs = NULL;
	struct scratch scratch;
	struct watch *watch = NULL;
	struct notify *notify = NULL;
	bool notified;
	struct fs_config cfg = {
		.db_path = o->db_path,
		.service_down_time = o->service_down_time,
		.admin_gid = o->admin_gid,
		.service_id = o->control_only ? 0 : service_id,
		.version = CINDERFS_RPC_VERSION,
		.queued = wake_jobs,
		.queued_ctx = &jobs,
		.cleanup = &cleanup,
		.scratch = &scratch,
		.wait_timeout = o->wait_timeout,
		.db_connections = o->db_pool_size,
		.host = reg->host,
		.cluster_name = reg->cluster_name,
		.has_storage = o->volume_group != NULL,
		.connection_mode = strcmp(o->connection_readers, "admin") == 0 ? 0440 : 0400,
		.volume_errors = &volume_errors,
		.snapshot_errors = &snapshot_errors,
		.worker_errors = &worker_errors,
		.cluster_errors = &cluster_errors,
	};
	/* auto_unmount: a daemon that dies does not leave "Transport endpoint
	 * is not connected" behind. allow_other needs root; the kernel then
	 * enforces the modes (default_permissions). */
	const char *mount_opts = geteuid() == 0
		? "fsname=cinderfs,subtype=cinderfs,auto_unmount,default_permissions,allow_other"
		: "fsname=cinderfs,subtype=cinderfs,auto_unmount,default_permissions";
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop_cfg = NULL;
	struct heartbeat *hb = NULL;
	struct fuse *fuse;
	int rc = 1;

	dbtime_now(&cfg.started);
	cleanup.changed = cfg.started;
	volume_errors.changed = cfg.started;
	snapshot_errors.changed = cfg.started;
	worker_errors.changed = cfg.started;
	cluster_errors.changed = cfg.started;
	if (storage_driver(o, &lvm, &vg_lock, &drv) != 0)
		return 1;
	/* The largest a temporary file need be is the largest spec. */
	scratch_init(&scratch, (size_t)o->temp_files, FILTER_MAX_BYTES);
	if (fuse_opt_add_arg(&args, "cinderfs") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, mount_opts)) {
		log_error("out of memory");
		goto out_args;
	}
	fuse = fuse_new(&args, &fs_ops, sizeof(fs_ops), &cfg);
	if (!fuse) {
		log_error("cannot set up FUSE (is the fuse3 package installed?)");
		goto out_args;
	}
	if (fuse_mount(fuse, o->mountpoint) != 0) {
		log_error("cannot mount at %s (see the message above)", o->mountpoint);
		goto out_destroy;
	}
	if (fuse_daemonize(o->foreground) != 0) {
		log_error("cannot go to the background");
		goto out_unmount;
	}
	if (!o->foreground)
		log_setup("cinderfs", false, o->debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	/* A shell starts background jobs with SIGINT ignored, and libfuse
	 * leaves ignored signals alone; SIGINT must stop us all the same. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0) {
		log_error("cannot install signal handlers");
		goto out_unmount;
	}
	if (arm_lost() != 0) {
		log_error("cannot start the thread that stops a daemon whose database was lost");
		goto out_signals;
	}
	/* Threads start after fuse_daemonize(): a fork keeps none of them. */
	notified = notify_supported(o->db_path);
	if (watch_start(o->db_path, notified ? NOTIFIED_POLL_MS : WATCH_POLL_MS, &fs_poll_notifier,
			o->wait_max, &watch) != 0) {
		log_error("cannot start the thread that wakes readers of wait");
		goto out_signals;
	}
	cfg.watch = watch;
	/* A control-only daemon runs it too, as a probe of the write lock:
	 * its mount judges liveness by heartbeat_clock like a worker's. */
	rc = heartbeat_start(o->db_path, reg, o->control_only ? 0 : service_id, o->report_interval,
			     o->service_down_time, &hb);
	if (rc) {
		log_error("cannot start the heartbeat: %s", strerror(-rc));
		rc = 1;
		goto out_heartbeat;
	}
	if (!o->control_only) {
		struct jobs_config jc = {
			.db_path = o->db_path,
			.service_id = service_id,
			.cluster_name = reg->cluster_name,
			.driver = drv,
			.started = *started,
			.poll_ms = notified ? NOTIFIED_POLL_MS : JOBS_POLL_MS,
			.keep_requests = o->history_keep,
			.max_age_days = o->history_max_age,
			.down_time = o->service_down_time,
			.version = CINDERFS_RPC_VERSION,
		};
		rc = jobs_start(&jc, &jobs);
		if (rc) {
			log_error("cannot start the backend thread: %s", strerror(-rc));
			rc = 1;
			goto out_heartbeat;
		}
	}
	if (notified) {
		struct notify_target targets[2] = { { notified_watch, watch }, { notified_jobs, jobs } };

		rc = notify_start(o->db_path, targets, jobs ? 2 : 1, &notify);
		if (rc) {
			log_error("cannot start the thread that listens to the other daemons: %s",
				  strerror(-rc));
			rc = 1;
			goto out_heartbeat;
		}
	}
	loop_cfg = fuse_loop_cfg_create();
	if (!loop_cfg) {
		rc = 1;
		goto out_heartbeat;
	}
	fuse_loop_cfg_set_max_threads(loop_cfg, FUSE_THREADS + (unsigned)o->wait_max);
	log_info("serving %s at %s%s", o->db_path, o->mountpoint,
		 o->control_only ? " (control only)" : "");
	sd_notify(0, "READY=1");
	/* libfuse returns the number of the signal that stopped the loop. */
	rc = fuse_loop_mt(fuse, loop_cfg);
	rc = (rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP) ? 0 : 1;
	sd_notify(0, "STOPPING=1");
	log_info("stopping: unmounting %s", o->mountpoint);
	fuse_loop_cfg_destroy(loop_cfg);
out_heartbeat:
	notify_stop(notify);
	jobs_stop(jobs);
	heartbeat_stop(hb);
	/* FUSE's threads have ended: nobody waits, nothing more to notify. */
	fs_release_all(&cfg);
	watch_stop(watch);
out_signals:
	if (disarm_lost())
		rc = 1;
	fuse_remove_signal_handlers(fuse_get_session(fuse));
out_unmount:
	fuse_unmount(fuse);
out_destroy:
	fuse_destroy(fuse);
out_args:
	fuse_opt_free_args(&args);
	scratch_destroy(&scratch);
	if (vg_lock.st)
		store_close(vg_lock.st);
	return rc;
}

/* --check-spec FILE: Cinder's validation of a spec, without a database
 * (the resource lookup and the upgrade check happen when it is written):
 * for config-management tools to validate a file before it replaces
 * cleanup/request. */
/* With --db: the database's answer too, as a write would get it (the
 * resource lookup, the upgrade check), and whether the spec matches a
 * worker. Matching none now is fine (a healthy cluster has no down
 * worker); naming none at all, up or down, is a typo, and fails. */
static int check_spec_against(const char *path, const char *spec, size_t len, const char *db,
			      int down_time)
{
	struct request_input in = { .spec = spec, .len = len, .version = CINDERFS_RPC_VERSION,
				    .down_time = down_time };
	struct store *st = NULL;
	struct cf_err err = { "" };
	size_t selected = 0, named = 0;
	int rc = store_open(db, 0, &st, &err);

	if (rc) {
		fprintf(stderr, "cinderfs: %s: cannot check against the database: %s\n", path,
			err.msg);
		return 1;
	}
	dbtime_now(&in.now);
	rc = request_check(st, &in, &selected, &named, &err);
	store_close(st);
	if (rc) {
		fprintf(stderr, "cinderfs: %s: %s\n", path, err.msg);
		return 1;
	}
	if (named == 0) {
		fprintf(stderr, "cinderfs: %s: the spec " REQUEST_MATCHED_NONE ", up or down: no "
			"registered worker has its service_id, host or cluster_name (a typo?)\n",
			path);
		return 1;
	}
	if (selected == 0)
		printf("cinderfs: %s: valid; it " REQUEST_MATCHED_NONE " now (%zu worker%s it "
		       "names, none selected: is_up defaults to down workers)\n", path, named,
		       named == 1 ? "" : "s");
	else
		printf("cinderfs: %s: valid; it matches %zu worker%s now\n", path, selected,
		       selected == 1 ? "" : "s");
	return 0;
}

static int check_spec(const char *path, const char *db, int down_time)
{
	static char buf[FILTER_MAX_BYTES + 1];
	struct filter f;
	struct cf_err err;
	size_t len;
	int rc;
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");

	if (!in) {
		fprintf(stderr, "cinderfs: %s: %s\n", path, strerror(errno));
		return 1;
	}
	len = fread(buf, 1, sizeof(buf), in);
	rc = ferror(in) ? errno : 0;
	if (in != stdin)
		fclose(in);
	if (rc) {
		fprintf(stderr, "cinderfs: %s: %s\n", path, strerror(rc));
		return 1;
	}
	if (filter_parse(buf, len, &f, &err) != 0) {
		fprintf(stderr, "cinderfs: %s: %s\n", path, err.msg);
		return 1;
	}
	return db ? check_spec_against(path, buf, len, db, down_time) : 0;
}

int main(int argc, char **argv)
{
	struct options opts;
	struct cf_err err;
	struct registration reg;
	int64_t service_id = 0;
	struct timespec started;
	int rc = options_parse(argc, argv, &opts, &err);

	if (rc < 0) {
		fprintf(stderr, "cinderfs: %s\n", err.msg);
		options_free(&opts);
		return 2;
	}
	if (rc == OPTIONS_EXIT) {
		options_free(&opts);
		return 0;
	}
	if (rc == OPTIONS_CHECK) {
		rc = check_spec(opts.check_spec, opts.db_flag ? opts.db_path : NULL,
				opts.service_down_time);
		options_free(&opts);
		return rc;
	}
	/* Blocks of a megabyte or more (a request's result, a page of a
	 * PostgreSQL result, a listing's arrays) are mapped, and unmapped
	 * when freed. glibc would otherwise raise that threshold to the size
	 * of the largest block freed, serve the next ones from its heaps and
	 * keep them: reading a 9 MB cleanup/result three times left the
	 * daemon 35 MB larger for good. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	/* stderr until daemonized, so that start-up failures are seen. */
	log_setup("cinderfs", true, opts.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	reg = (struct registration){
		.host = opts.host,
		.binary = opts.binary,
		.cluster_name = opts.cluster,
		.version = CINDERFS_RPC_VERSION,
	};
	rc = mountpoint_prepare(opts.mountpoint, &err);
	if (rc) {
		log_error("%s", err.msg);
		rc = 1;
	} else if (dbtime_now(&started), prepare_database(&opts, &reg, &service_id, &started) != 0) {
		rc = 1;
	} else {
		rc = serve(&opts, &reg, service_id, &started);
	}
	options_free(&opts);
	return rc;
}
