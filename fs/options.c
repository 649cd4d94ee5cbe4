/* Options: one table of settings serves both the INI file and the flags, so
 * a key is validated the same way wherever it comes from. Every refusal
 * names the option or key and the value. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

enum setting_kind {
	SET_NAME,       /* host, cluster: a Cinder host-like name */
	SET_OPT_NAME,   /* the same, empty meaning none */
	SET_BINARY,     /* cinder-volume or cinder-scheduler */
	SET_SECONDS,    /* a positive whole number of seconds */
	SET_COUNT,      /* a whole number, 0 or more */
	SET_WAITERS,    /* a whole number from 1 to WAIT_MAX_LIMIT */
	SET_POOL,       /* a whole number from 1 to POOL_MAX_LIMIT */
	SET_HELPER,     /* tgtadm or none */
	SET_BSTYPE,     /* rdwr or null */
	SET_READERS,    /* root or admin */
	SET_WORD,       /* non-empty, no spaces (target_prefix) */
	SET_GROUP,      /* a group name or gid */
	SET_PATH,       /* a file path */
	SET_CONNECTION, /* sqlite:///PATH, as cinder.conf's [database] connection */
};

struct setting {
	const char *section; /* in the INI file; NULL: flag only */
	const char *key;
	const char *flag;    /* long option; NULL: INI only */
	enum setting_kind kind;
	size_t offset;       /* into struct options */
};

#define AT(member) offsetof(struct options, member)

static const struct setting settings[] = {
	{ "DEFAULT", "host", "host", SET_NAME, AT(host) },
	{ "DEFAULT", "cluster", "cluster", SET_OPT_NAME, AT(cluster) },
	{ "DEFAULT", "binary", "binary", SET_BINARY, AT(binary) },
	{ "DEFAULT", "service_down_time", "service-down-time", SET_SECONDS, AT(service_down_time) },
	{ "DEFAULT", "report_interval", "report-interval", SET_SECONDS, AT(report_interval) },
	{ "DEFAULT", "admin_group", "admin-group", SET_GROUP, AT(admin_group) },
	{ "DEFAULT", "cleanup_history_keep", "history-keep", SET_COUNT, AT(history_keep) },
	{ "DEFAULT", "cleanup_history_max_age", "history-max-age", SET_COUNT, AT(history_max_age) },
	{ "DEFAULT", "cleanup_temp_files", "temp-files", SET_COUNT, AT(temp_files) },
	{ "DEFAULT", "cleanup_wait_timeout", "wait-timeout", SET_SECONDS, AT(wait_timeout) },
	{ "DEFAULT", "cleanup_wait_max", "wait-max", SET_WAITERS, AT(wait_max) },
	{ "DEFAULT", "volume_group", "volume-group", SET_OPT_NAME, AT(volume_group) },
	{ "DEFAULT", "target_helper", "target-helper", SET_HELPER, AT(target_helper) },
	{ "DEFAULT", "target_prefix", "target-prefix", SET_WORD, AT(target_prefix) },
	{ "DEFAULT", "volumes_dir", "volumes-dir", SET_PATH, AT(volumes_dir) },
	{ "DEFAULT", "tgt_bstype", "tgt-bstype", SET_BSTYPE, AT(tgt_bstype) },
	{ "DEFAULT", "tgt_control_port", "tgt-control-port", SET_COUNT, AT(tgt_control_port) },
	{ "DEFAULT", "lvm_system_dir", "lvm-system-dir", SET_PATH, AT(lvm_system_dir) },
	{ "DEFAULT", "command_timeout", "command-timeout", SET_SECONDS, AT(command_timeout) },
	{ "DEFAULT", "target_ip_address", "target-ip-address", SET_WORD, AT(target_ip_address) },
	{ "DEFAULT", "target_port", "target-port", SET_COUNT, AT(target_port) },
	{ "DEFAULT", "connection_readers", "connection-readers", SET_READERS, AT(connection_readers) },
	{ "database", "connection", NULL, SET_CONNECTION, AT(db_path) },
	{ "database", "max_pool_size", "db-pool-size", SET_POOL, AT(db_pool_size) },
	{ NULL, "db", "db", SET_PATH, AT(db_path) },
};
#define SETTINGS_COUNT ((int)(sizeof(settings) / sizeof(settings[0])))

void options_usage(FILE *out)
{
	fprintf(out,
		"Usage: cinderfs [OPTIONS] MOUNTPOINT\n"
		"       cinderfs --check-spec FILE [--db PATH|URI]\n"
		"\n"
		"A Cinder volume worker with a FUSE control filesystem at MOUNTPOINT.\n"
		"\n"
		"  --config FILE            INI file (default " DEFAULT_CONFIG_PATH " when it exists)\n"
		"  --db PATH|URI            the SQLite file (default " DEFAULT_DB_PATH "), or a\n"
		"                           PostgreSQL database: postgresql://USER@HOST[:PORT]/DB\n"
		"  --db-pool-size N         database connections the mount shares (default 4)\n"
		"  --host NAME              this worker's host (default <hostname>@lvm)\n"
		"  --cluster NAME           the cluster it belongs to (default: none)\n"
		"  --binary NAME            cinder-volume (default) or cinder-scheduler\n"
		"  --service-down-time SEC  a worker is down after SEC without a heartbeat (default 60)\n"
		"  --report-interval SEC    heartbeat period (default 10)\n"
		"  --admin-group GROUP      the group besides root that may use the mount (default root)\n"
		"  --history-keep N         cleanup requests kept in cleanup/history (default 1000, 0: all)\n"
		"  --history-max-age DAYS   and none older than DAYS, nor ended volume operations\n"
		"                           (default 90, 0: no limit)\n"
		"  --temp-files N           temporary files and lock directories config-management\n"
		"                           tools may keep in cleanup/ at once (default 64, 0: none)\n"
		"  --wait-timeout SEC       longest a read of cleanup/history/<n>/wait blocks (default 600)\n"
		"  --wait-max N             readers blocked in wait at once (default 16, at most 200)\n"
		"  --volume-group VG        LVM volume group of the volumes (default: no storage driver)\n"
		"  --target-helper H        tgtadm (default) or none: how volumes are exported\n"
		"  --target-prefix P        IQN prefix (default iqn.2010-10.org.openstack:)\n"
		"  --volumes-dir DIR        persistent target files (default " DEFAULT_VOLUMES_DIR ")\n"
		"  --tgt-bstype T           LUN backing store: rdwr (default) or null\n"
		"  --tgt-control-port N     tgtd's control port (default: its default socket)\n"
		"  --lvm-system-dir DIR     LVM_SYSTEM_DIR for LVM commands (default: the system's)\n"
		"  --command-timeout SEC    limit for each LVM or tgt command (default 120)\n"
		"  --target-ip-address IP   the portal initiators reach (default 127.0.0.1)\n"
		"  --target-port PORT       its port (default 3260)\n"
		"  --connection-readers R   who may read volumes/<uuid>/connection (CHAP secret):\n"
		"                           root (default) or admin (root and the admin group)\n"
		"  --control-only           mount the view without being a worker (an admin node)\n"
		"  --check-spec FILE        check a cleanup spec file and exit: 0 when it is valid,\n"
		"                           1 with the reason (e.g. Ansible's validate=); with\n"
		"                           --db, also 1 when it names no worker (a typo), and\n"
		"                           says how many workers it matches now\n"
		"  -f, --foreground         stay in the foreground and log to stderr\n"
		"  -d, --debug              log debug messages too\n"
		"  -V, --version            print the version and exit\n"
		"  -h, --help               print this help and exit\n"
		"\n"
		"Command-line flags override the config file. Exit codes: 0 stopped by\n"
		"SIGTERM/SIGINT, 1 failed to start or run, 2 bad options or config.\n");
}

static bool valid_name(const char *v)
{
	size_t len = strlen(v);

	if (len == 0 || len >= NAME_LEN)
		return false;
	for (const char *p = v; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == '/')
			return false;
	return true;
}

/* Digits only, from min to max. */
static int parse_whole(const char *v, long min, long max, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (!isdigit((unsigned char)v[0]) || *end != '\0' || errno || n < min || n > max)
		return -EINVAL;
	*out = (int)n;
	return 0;
}

static int resolve_group(const char *v, gid_t *out)
{
	struct group *gr = getgrnam(v);
	char *end;
	unsigned long n;

	if (gr) {
		*out = gr->gr_gid;
		return 0;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (isdigit((unsigned char)v[0]) && *end == '\0' && !errno && n < UINT_MAX) {
		*out = (gid_t)n;
		return 0;
	}
	return -EINVAL;
}

static int set_text(char **slot, const char *v)
{
	char *copy = strdup(v);

	if (!copy)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* Apply one value; `origin` says where it came from, for the message. */
/* A PostgreSQL database (a libpq URI); anything else is an SQLite file. */
static bool is_postgresql(const char *v)
{
	return strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0;
}

static int apply(struct options *o, const struct setting *s, const char *v, const char *origin,
		 struct cf_err *err)
{
	void *slot = (char *)o + s->offset;

	switch (s->kind) {
	case SET_NAME:
		if (!valid_name(v))
			return err_set(err, EINVAL, "%s: '%s' is not a valid name (1-255 characters, "
				       "no spaces, control characters or '/')", origin, v);
		return set_text(slot, v);
	case SET_OPT_NAME:
		if (*v == '\0') {
			free(*(char **)slot);
			*(char **)slot = NULL;
			return 0;
		}
		if (!valid_name(v))
			return err_set(err, EINVAL, "%s: '%s' is not a valid name (1-255 characters, "
				       "no spaces, control characters or '/'; empty for none)", origin, v);
		return set_text(slot, v);
	case SET_BINARY:
		if (strcmp(v, BINARY_VOLUME) != 0 && strcmp(v, BINARY_SCHEDULER) != 0)
			return err_set(err, EINVAL, "%s: '%s' is not a binary cinderfs runs as: "
				       "use " BINARY_VOLUME " or " BINARY_SCHEDULER, origin, v);
		return set_text(slot, v);
	case SET_SECONDS:
		if (parse_whole(v, 1, 86400 * 365, slot) != 0)
			return err_set(err, EINVAL, "%s: '%s' is not a whole number of seconds "
				       "from 1 to 31536000", origin, v);
		return 0;
	case SET_COUNT:
		if (parse_whole(v, 0, 1000000000, slot) != 0)
			return err_set(err, EINVAL, "%s: '%s' is not a whole number from 0 to 1000000000",
				       origin, v);
		return 0;
	case SET_WAITERS:
		if (parse_whole(v, 1, WAIT_MAX_LIMIT, slot) != 0)
			return err_set(err, EINVAL, "%s: '%s' is not a whole number from 1 to %d (each "
				       "waiting reader holds one of the daemon's threads)", origin, v,
				       WAIT_MAX_LIMIT);
		return 0;
	case SET_POOL:
		if (parse_whole(v, 1, POOL_MAX_LIMIT, slot) != 0)
			return err_set(err, EINVAL, "%s: '%s' is not a whole number from 1 to %d", origin,
				       v, POOL_MAX_LIMIT);
		return 0;
	case SET_HELPER:
		if (strcmp(v, "tgtadm") != 0 && strcmp(v, "none") != 0)
			return err_set(err, EINVAL, "%s: '%s' is not a target helper cinderfs has: use "
				       "tgtadm or none", origin, v);
		return set_text(slot, v);
	case SET_BSTYPE:
		if (strcmp(v, "rdwr") != 0 && strcmp(v, "null") != 0)
			return err_set(err, EINVAL, "%s: '%s' is not a backing store type: use rdwr (the "
				       "volume's device) or null (no device, e.g. without device-mapper)",
				       origin, v);
		return set_text(slot, v);
	case SET_READERS:
		if (strcmp(v, "root") != 0 && strcmp(v, "admin") != 0)
			return err_set(err, EINVAL, "%s: '%s' is not who may read a volume's connection "
				       "(its CHAP secret): use root or admin (root and the admin group)",
				       origin, v);
		return set_text(slot, v);
	case SET_WORD:
		if (!*v || strpbrk(v, " \t\n/"))
			return err_set(err, EINVAL, "%s: '%s' must be one word without '/'", origin, v);
		return set_text(slot, v);
	case SET_GROUP:
		if (resolve_group(v, &o->admin_gid) != 0)
			return err_set(err, EINVAL, "%s: no group '%s' on this system", origin, v);
		return set_text(slot, v);
	case SET_PATH:
		if (*v == '\0')
			return err_set(err, EINVAL, "%s: the path is empty", origin);
		return set_text(slot, v);
	case SET_CONNECTION:
		if (is_postgresql(v))
			return set_text(slot, v);
		if (strncmp(v, "sqlite:///", 10) != 0 || v[10] == '\0')
			return err_set(err, EINVAL, "%s: '%s' is not supported: cinderfs takes "
				       "sqlite:///RELATIVE, sqlite:////ABSOLUTE/PATH or "
				       "postgresql://USER@HOST[:PORT]/DATABASE[?...]", origin, v);
		return set_text(slot, v + 10);
	}
	return -EINVAL;
}

struct ini_ctx {
	struct options *opts;
	const char *path;
	struct cf_err *err;
	int rc;
};

/* inih gives the line of the first key its handler refused; read_config
 * puts the file and line in front of the handler's words. */
static int config_key(void *user, const char *section, const char *key, const char *value)
{
	struct ini_ctx *c = user;
	char origin[512];

	if (c->rc)
		return 1; /* report the first error only */
	if (*section == '\0' || strcasecmp(section, "default") == 0)
		section = "DEFAULT";
	snprintf(origin, sizeof(origin), "[%s] %s", section, key);
	for (int i = 0; i < SETTINGS_COUNT; i++) {
		const struct setting *s = &settings[i];
		if (s->section && strcmp(s->section, section) == 0 && strcmp(s->key, key) == 0) {
			c->rc = apply(c->opts, s, value, origin, c->err);
			return c->rc == 0;
		}
	}
	c->rc = err_set(c->err, EINVAL, "unknown key '%s' in [%s]", key, section);
	return 0;
}

static int read_config(struct options *o, const char *path, bool must_exist, struct cf_err *err)
{
	struct ini_ctx c = { .opts = o, .path = path, .err = err };
	FILE *f = fopen(path, "r");
	int line;

	if (!f) {
		if (!must_exist && errno == ENOENT)
			return 0;
		return err_set(err, EINVAL, "config %s: %s", path, strerror(errno));
	}
	line = ini_parse_file(f, config_key, &c);
	fclose(f);
	if (c.rc) {
		char words[sizeof(err->msg)];
		snprintf(words, sizeof(words), "%s", err->msg);
		return err_set(err, EINVAL, "config %s line %d: %s", path, line, words);
	}
	if (line != 0)
		return err_set(err, EINVAL, "config %s line %d: not a 'key = value' line or "
			       "'[section]'", path, line);
	return set_text(&o->config_path, path);
}

static int set_defaults(struct options *o)
{
	char hostname[HOST_NAME_MAX + 1];
	char host[NAME_LEN];

	if (gethostname(hostname, sizeof(hostname)) != 0)
		snprintf(hostname, sizeof(hostname), "localhost");
	hostname[HOST_NAME_MAX] = '\0';
	/* A volume worker's host is <host>@<backend>, as in Cinder. */
	snprintf(host, sizeof(host), "%.200s@lvm", hostname);
	o->service_down_time = 60;
	o->report_interval = 10;
	o->history_keep = 1000;
	o->history_max_age = 90;
	o->temp_files = 64;
	o->wait_timeout = 600;
	o->wait_max = 16;
	o->db_pool_size = 4;
	o->command_timeout = 120;
	o->target_port = 3260;
	o->admin_gid = 0;
	if (set_text(&o->host, host) || set_text(&o->binary, BINARY_VOLUME) ||
	    set_text(&o->db_path, DEFAULT_DB_PATH) || set_text(&o->admin_group, "root") ||
	    set_text(&o->target_helper, "tgtadm") ||
	    set_text(&o->target_prefix, "iqn.2010-10.org.openstack:") ||
	    set_text(&o->volumes_dir, DEFAULT_VOLUMES_DIR) || set_text(&o->tgt_bstype, "rdwr") ||
	    set_text(&o->target_ip_address, "127.0.0.1") ||
	    set_text(&o->connection_readers, "root"))
		return -ENOMEM;
	return 0;
}

/* --config is read before every other flag, so that flags override it. */
static const char *find_config_flag(int argc, char **argv)
{
	const char *found = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			found = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			found = argv[i] + 9;
	}
	return found;
}

enum { OPT_CONFIG = 256, OPT_CONTROL_ONLY, OPT_CHECK_SPEC, OPT_SETTING };

/* fuse_daemonize() changes to "/", even in the foreground: relative paths
 * are made absolute first. */
static int make_absolute(char **path, struct cf_err *err)
{
	char cwd[PATH_MAX], *abs;

	if ((*path)[0] == '/' || is_postgresql(*path))
		return 0;
	if (strncmp(*path, "sqlite:///", 10) == 0 && (*path)[10]) {
		/* --db sqlite:///PATH: the path (relative to here unless it
		 * starts with '/', as in cinder.conf). */
		memmove(*path, *path + 10, strlen(*path + 10) + 1);
		if ((*path)[0] == '/')
			return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return err_set(err, errno, "cannot read the current directory: %s", strerror(errno));
	if (asprintf(&abs, "%s/%s", cwd, *path) < 0)
		return err_set(err, ENOMEM, "out of memory");
	free(*path);
	*path = abs;
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, struct cf_err *err)
{
	struct option longopts[SETTINGS_COUNT + 9];

	const char *config;
	int n = 0, rc, c, index;

	memset(o, 0, sizeof(*o));
	rc = set_defaults(o);
	if (rc)
		return err_set(err, ENOMEM, "out of memory");
	config = find_config_flag(argc, argv);
	rc = read_config(o, config ? config : DEFAULT_CONFIG_PATH, config != NULL, err);
	if (rc)
		return rc;

	for (int i = 0; i < SETTINGS_COUNT; i++)
		if (settings[i].flag)
			longopts[n++] = (struct option){ settings[i].flag, required_argument, NULL,
							 OPT_SETTING };
	longopts[n++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	longopts[n++] = (struct option){ "control-only", no_argument, NULL, OPT_CONTROL_ONLY };
	longopts[n++] = (struct option){ "check-spec", required_argument, NULL, OPT_CHECK_SPEC };
	longopts[n++] = (struct option){ "foreground", no_argument, NULL, 'f' };
	longopts[n++] = (struct option){ "debug", no_argument, NULL, 'd' };
	longopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };

	opterr = 0;
	optind = 0; /* 0, not 1: glibc then forgets any earlier parse entirely */
	while ((c = getopt_long(argc, argv, ":fdVh", longopts, &index)) != -1) {
		switch (c) {
		case OPT_SETTING: {
			char origin[64];
			snprintf(origin, sizeof(origin), "option --%s", longopts[index].name);
			for (int i = 0; i < SETTINGS_COUNT; i++)
				if (settings[i].flag && strcmp(settings[i].flag, longopts[index].name) == 0)
					rc = apply(o, &settings[i], optarg, origin, err);
			if (strcmp(longopts[index].name, "db") == 0)
				o->db_flag = true;
			if (rc)
				return rc;
			break;
		}
		case OPT_CONFIG:
			break; /* read above */
		case OPT_CONTROL_ONLY:
			o->control_only = true;
			break;
		case OPT_CHECK_SPEC:
			if (set_text(&o->check_spec, optarg))
				return err_set(err, ENOMEM, "out of memory");
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'd':
			o->debug = true;
			break;
		case 'V':
			printf("cinderfs %s\n", CINDERFS_VERSION);
			return OPTIONS_EXIT;
		case 'h':
			options_usage(stdout);
			return OPTIONS_EXIT;
		case ':':
			return err_set(err, EINVAL, "option %s needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return err_set(err, EINVAL, "unknown option '-%c'; see cinderfs --help",
					       optopt);
			return err_set(err, EINVAL, "unknown option '%s'; see cinderfs --help",
				       argv[optind - 1]);
		}
	}
	if (o->check_spec) {
		if (optind < argc)
			return err_set(err, EINVAL, "--check-spec takes no MOUNTPOINT ('%s')", argv[optind]);
		return OPTIONS_CHECK;
	}
	if (optind == argc)
		return err_set(err, EINVAL, "missing MOUNTPOINT; see cinderfs --help");
	if (optind + 1 < argc)
		return err_set(err, EINVAL, "unexpected argument '%s' after MOUNTPOINT %s",
			       argv[optind + 1], argv[optind]);
	if (set_text(&o->mountpoint, argv[optind]))
		return err_set(err, ENOMEM, "out of memory");
	if ((rc = make_absolute(&o->mountpoint, err)) != 0 || (rc = make_absolute(&o->db_path, err)) != 0 ||
	    (rc = make_absolute(&o->volumes_dir, err)) != 0 ||
	    (o->lvm_system_dir && (rc = make_absolute(&o->lvm_system_dir, err)) != 0))
		return rc;
	if (o->report_interval >= o->service_down_time)
		return err_set(err, EINVAL, "report_interval (%d) must be less than "
			       "service_down_time (%d): the worker would look down between its "
			       "heartbeats", o->report_interval, o->service_down_time);
	return OPTIONS_RUN;
}

void options_free(struct options *o)
{
	free(o->config_path);
	free(o->db_path);
	free(o->host);
	free(o->cluster);
	free(o->binary);
	free(o->admin_group);
	free(o->mountpoint);
	free(o->check_spec);
	free(o->volume_group);
	free(o->target_helper);
	free(o->target_prefix);
	free(o->volumes_dir);
	free(o->tgt_bstype);
	free(o->lvm_system_dir);
	free(o->target_ip_address);
	free(o->connection_readers);
	memset(o, 0, sizeof(*o));
}
