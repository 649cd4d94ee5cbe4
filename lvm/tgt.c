/* tgt exports. tgtadm is idempotent in nothing, so every step looks first
 * (one --op show) and acts on what it finds; the persistent file is
 * written before the target is made live and removed after it is gone, so
 * a crash in between leaves a file that restore or removal finishes. */
#include "tgt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "filter.h"
#include "log.h"

#define MAX_ARGS 24
/* Tries at a free tid before giving up (each after another look). */
#define TGT_TID_TRIES 8

/* What tgtadm says when nothing answers on the control socket: no socket
 * at all, or one that a killed tgtd left behind ("failed to send request
 * hdr to tgt daemon, Transport endpoint is not connected"). */
static bool tgtd_unreachable(const char *text)
{
	static const char *const words[] = {
		"Transport endpoint is not connected", "can't send the request to the tgt daemon",
		"can't connect to the tgt daemon", "Connection refused",
	};

	for (size_t i = 0; text && i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(text, words[i]))
			return true;
	return false;
}

/* tgtadm [-C port] --lld iscsi <args...>; -ENOTCONN when tgtd does not
 * answer, whatever the step: the operator's next move is to start it. */
static int tgtadm(struct tgt *t, const char *const args[], struct run_result *res, struct cf_err *err)
{
	const char *argv[MAX_ARGS];
	char port[16], last[512];
	int n = 0, rc;

	argv[n++] = "tgtadm";
	if (t->control_port) {
		snprintf(port, sizeof(port), "%d", t->control_port);
		argv[n++] = "-C";
		argv[n++] = port;
	}
	argv[n++] = "--lld";
	argv[n++] = "iscsi";
	for (int i = 0; args[i] && n < MAX_ARGS - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	rc = t->runner.run(t->runner.ctx, argv, res, err);
	if (rc == -EIO && res->err && tgtd_unreachable(res->err)) {
		run_last_line(res->err, last, sizeof(last));
		if (t->control_port)
			snprintf(port, sizeof(port), "%d", t->control_port);
		rc = err_set(err, ENOTCONN, "tgtd is not running (control port %s): %s",
			     t->control_port ? port : "default", last);
	}
	return rc;
}

/* Run and forget the output. */
static int tgtadm_do(struct tgt *t, const char *const args[], struct cf_err *err)
{
	struct run_result res;
	int rc = tgtadm(t, args, &res, err);
	run_result_free(&res);
	return rc;
}

void tgt_iqn(const struct tgt *t, const char *uuid, char *out, size_t size)
{
	snprintf(out, size, "%svolume-%s", t->target_prefix, uuid);
}

int tgt_parse_show(const char *text, const char *iqn, int *tid, int *max_tid, char *account,
		   size_t account_size)
{
	const char *line = text;
	bool in_target = false, in_accounts = false;

	*tid = 0;
	*max_tid = 0;
	if (account)
		account[0] = '\0';
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		int n;
		char name[512];

		/* "Target 1: iqn..." starts a target; indented lines belong to it. */
		if (len < sizeof(name) && sscanf(line, "Target %d: %511s", &n, name) == 2 && line[0] == 'T') {
			if (n > *max_tid)
				*max_tid = n;
			in_target = strcmp(name, iqn) == 0;
			if (in_target)
				*tid = n;
			in_accounts = false;
		} else if (in_target) {
			const char *p = line;
			while (p < line + len && *p == ' ')
				p++;
			if ((size_t)(p - line) == 4) {
				in_accounts = strncmp(p, "Account information:", 20) == 0;
			} else if (in_accounts && (size_t)(p - line) >= 8 && account && !account[0]) {
				snprintf(account, account_size, "%.*s", (int)(line + len - p), p);
			}
		}
		line = end ? end + 1 : NULL;
	}
	return 0;
}

static int show(struct tgt *t, const char *iqn, int *tid, int *max_tid, char *account,
		size_t account_size, struct cf_err *err)
{
	static const char *const args[] = { "--mode", "target", "--op", "show", NULL };
	struct run_result res;
	int rc = tgtadm(t, args, &res, err);

	if (rc == 0)
		tgt_parse_show(res.out, iqn, tid, max_tid, account, account_size);
	run_result_free(&res);
	return rc;
}

int tgt_parse_targets(const char *text, tgt_target_fn fn, void *ctx)
{
	const char *line = text;
	int rc = 0;

	while (rc == 0 && line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char name[512];
		int n;

		if (line[0] == 'T' && len < sizeof(name) && sscanf(line, "Target %d: %511s", &n, name) == 2)
			rc = fn(ctx, n, name);
		line = end ? end + 1 : NULL;
	}
	return rc;
}

int tgt_targets(struct tgt *t, tgt_target_fn fn, void *ctx, struct cf_err *err)
{
	static const char *const args[] = { "--mode", "target", "--op", "show", NULL };
	struct run_result res;
	int rc = tgtadm(t, args, &res, err);

	if (rc == 0)
		rc = tgt_parse_targets(res.out, fn, ctx);
	run_result_free(&res);
	return rc;
}

int tgt_random_secret(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char bytes[64];

	if (len == 0 || len > sizeof(bytes))
		return -EINVAL;
	if (getrandom(bytes, len - 1, 0) != (ssize_t)(len - 1))
		return -errno;
	for (size_t i = 0; i + 1 < len; i++)
		out[i] = alphabet[bytes[i] % (sizeof(alphabet) - 1)];
	out[len - 1] = '\0';
	return 0;
}

static void target_file(const struct tgt *t, const char *uuid, char *out, size_t size)
{
	snprintf(out, size, "%s/volume-%s", t->volumes_dir, uuid);
}

/* The file tgt-admin would read, written whole or not at all. */
static int write_target_file(struct tgt *t, const char *uuid, const char *iqn, const char *device,
			     const struct export_info *auth, struct cf_err *err)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	FILE *f;
	int fd;

	target_file(t, uuid, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return err_set(err, errno, "cannot write target file %s: %s", tmp, strerror(errno));
	}
	fprintf(f, "<target %s>\n    backing-store %s\n%s    driver iscsi\n"
		"    incominguser %s %s\n    write-cache on\n</target>\n", iqn, device,
		strcmp(t->bstype, "rdwr") ? (strcmp(t->bstype, "null") ? "" : "    bs-type null\n") : "",
		auth->chap_user, auth->chap_password);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		int e = errno;
		fclose(f);
		unlink(tmp);
		return err_set(err, e, "cannot write target file %s: %s", tmp, strerror(e));
	}
	fclose(f);
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return err_set(err, e, "cannot install target file %s: %s", path, strerror(e));
	}
	return 0;
}

/* tgtd refuses a target whose tid (or name) it has already: another worker
 * sharing this tgtd took the tid between our look and our --op new. */
static bool already_exists(const struct cf_err *err)
{
	return strstr(err->msg, "this target already exists") != NULL;
}

/* Make the target live: the recorded tid when there is one (a restore) and
 * it is free, else one past the highest. Two workers on one tgtd can both
 * pick the same tid; the one that loses looks again and takes the next,
 * a bounded number of times. *tid is 0 when the target turned out to exist
 * meanwhile (a peer made it). */
static int new_target(struct tgt *t, const char *iqn, int want_tid, int max_tid, int *tid,
		      struct cf_err *err)
{
	char tid_text[16];
	int rc = 0;

	*tid = want_tid > 0 ? want_tid : max_tid + 1;
	for (int attempt = 0; attempt < TGT_TID_TRIES; attempt++) {
		const char *const target[] = { "--mode", "target", "--op", "new", "--tid", tid_text,
					       "--targetname", iqn, NULL };
		struct cf_err why = { "" };
		int have;

		snprintf(tid_text, sizeof(tid_text), "%d", *tid);
		rc = tgtadm_do(t, target, &why);
		if (rc == 0)
			return 0;
		if (!already_exists(&why))
			return err_set(err, -rc, "%s", why.msg);
		rc = show(t, iqn, &have, &max_tid, NULL, 0, err);
		if (rc)
			return rc;
		if (have) {
			*tid = 0;
			return 0;
		}
		log_info("tid %d was taken meanwhile (another worker on this tgtd); trying %d for %s",
			 *tid, max_tid + 1, iqn);
		*tid = max_tid + 1;
	}
	return err_set(err, EEXIST, "no free target id for %s after %d tries: other workers on this "
		       "tgtd took each one first", iqn, TGT_TID_TRIES);
}

static int create_export(struct tgt *t, const char *uuid, const char *device,
			 const struct export_info *auth, int want_tid, int *tid_out, struct cf_err *err)
{
	char iqn[NAME_LEN * 2], tid_text[16], canonical[UUID_LEN];
	int tid, max_tid, rc;

	if (!filter_canonical_uuid(uuid, canonical) || strcmp(canonical, uuid) != 0)
		return err_set(err, EINVAL, "'%s' is not a canonical UUID; no target made", uuid);
	tgt_iqn(t, uuid, iqn, sizeof(iqn));
	rc = show(t, iqn, &tid, &max_tid, NULL, 0, err);
	if (rc) {
		char words[sizeof(err->msg)];
		snprintf(words, sizeof(words), "%s", err->msg);
		return err_set(err, -rc, "exporting volume %s failed: %.900s", uuid, words);
	}
	if (tid) {
		log_debug("target %s exists already (tid %d)", iqn, tid);
		if (tid_out)
			*tid_out = tid;
		return 0;
	}
	rc = write_target_file(t, uuid, iqn, device, auth, err);
	if (rc)
		return rc;
	rc = new_target(t, iqn, want_tid, max_tid, &tid, err);
	if (rc == 0 && tid == 0) {
		/* Made by a peer meanwhile, with its own steps: as if it had
		 * existed at the first look. */
		rc = show(t, iqn, &tid, &max_tid, NULL, 0, err);
		if (tid_out)
			*tid_out = tid;
		return rc;
	}
	snprintf(tid_text, sizeof(tid_text), "%d", tid);
	if (rc == 0) {
		const char *const lun[] = { "--mode", "logicalunit", "--op", "new", "--tid", tid_text,
					    "--lun", "1", "--bstype", t->bstype, "--backing-store", device, NULL };
		const char *const account[] = { "--mode", "account", "--op", "new", "--user",
						auth->chap_user, "--password", auth->chap_password, NULL };
		const char *const bind_account[] = { "--mode", "account", "--op", "bind", "--tid",
						     tid_text, "--user", auth->chap_user, NULL };
		const char *const bind_all[] = { "--mode", "target", "--op", "bind", "--tid", tid_text,
						 "--initiator-address", "ALL", NULL };

		rc = tgtadm_do(t, lun, err);
		if (!rc)
			rc = tgtadm_do(t, account, err);
		if (!rc)
			rc = tgtadm_do(t, bind_account, err);
		if (!rc)
			rc = tgtadm_do(t, bind_all, err);
	}
	if (rc) {
		/* Half a target is worse than none: take it down again. */
		struct cf_err ignored;
		char words[sizeof(err->msg)];
		snprintf(words, sizeof(words), "%s", err->msg);
		tgt_remove_export(t, uuid, &ignored);
		return err_set(err, -rc, "exporting volume %s failed: %.900s", uuid, words);
	}
	log_info("exported volume %s as %s (tid %d)", uuid, iqn, tid);
	if (tid_out)
		*tid_out = tid;
	return 0;
}

int tgt_create_export(struct tgt *t, const char *uuid, const char *device,
		      const struct export_info *auth, int *tid_out, struct cf_err *err)
{
	return create_export(t, uuid, device, auth, 0, tid_out, err);
}

int tgt_restore_export(struct tgt *t, const char *uuid, const char *device,
		       const struct export_info *auth, int want_tid, int *tid_out, struct cf_err *err)
{
	return create_export(t, uuid, device, auth, want_tid, tid_out, err);
}

int tgt_remove_export(struct tgt *t, const char *uuid, struct cf_err *err)
{
	char iqn[NAME_LEN * 2], tid_text[16], account[128], path[PATH_MAX + 64], canonical[UUID_LEN];
	int tid, max_tid, rc;

	if (!filter_canonical_uuid(uuid, canonical) || strcmp(canonical, uuid) != 0)
		return err_set(err, EINVAL, "'%s' is not a canonical UUID; no target removed", uuid);
	tgt_iqn(t, uuid, iqn, sizeof(iqn));
	rc = show(t, iqn, &tid, &max_tid, account, sizeof(account), err);
	if (rc)
		return rc;
	if (tid) {
		snprintf(tid_text, sizeof(tid_text), "%d", tid);
		const char *const force[] = { "--mode", "target", "--op", "delete", "--force", "--tid",
					      tid_text, NULL };
		const char *const plain[] = { "--mode", "target", "--op", "delete", "--tid", tid_text, NULL };
		struct cf_err first;

		/* Cinder's order: forced delete, look again, plain delete. */
		if (tgtadm_do(t, force, &first) != 0)
			log_warning("forced delete of target %s: %s", iqn, first.msg);
		rc = show(t, iqn, &tid, &max_tid, NULL, 0, err);
		if (rc)
			return rc;
		if (tid && (rc = tgtadm_do(t, plain, err)) != 0)
			return rc;
		if (account[0]) {
			const char *const drop[] = { "--mode", "account", "--op", "delete", "--user",
						     account, NULL };
			struct cf_err ignored;
			tgtadm_do(t, drop, &ignored);
		}
		log_info("removed the export of volume %s (%s)", uuid, iqn);
	}
	target_file(t, uuid, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		return err_set(err, errno, "cannot remove target file %s: %s", path, strerror(errno));
	return 0;
}

int tgt_parse_sessions(const char *text, int *sessions, char *initiator, size_t initiator_size)
{
	const char *line = text;

	*sessions = 0;
	if (initiator_size)
		initiator[0] = '\0';
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *p = line;
		int n;

		while (p < line + len && *p == ' ')
			p++;
		if (p == line && sscanf(line, "Session: %d", &n) == 1)
			(*sessions)++;
		else if (*sessions == 1 && initiator_size && !initiator[0] &&
			 (size_t)(line + len - p) > 11 && strncmp(p, "Initiator: ", 11) == 0)
			snprintf(initiator, initiator_size, "%.*s", (int)(line + len - p - 11), p + 11);
		line = end ? end + 1 : NULL;
	}
	return 0;
}

/* The target's tid (0 when it has none) and its sessions. */
static int target_sessions(struct tgt *t, const char *uuid, int *tid, int *sessions,
			   char *initiator, size_t initiator_size, struct cf_err *err)
{
	char iqn[NAME_LEN * 2], tid_text[16], canonical[UUID_LEN];
	struct run_result res;
	int max_tid, rc;

	*sessions = 0;
	if (initiator_size)
		initiator[0] = '\0';
	if (!filter_canonical_uuid(uuid, canonical) || strcmp(canonical, uuid) != 0)
		return err_set(err, EINVAL, "'%s' is not a canonical UUID", uuid);
	tgt_iqn(t, uuid, iqn, sizeof(iqn));
	rc = show(t, iqn, tid, &max_tid, NULL, 0, err);
	if (rc || !*tid)
		return rc;
	snprintf(tid_text, sizeof(tid_text), "%d", *tid);
	const char *const args[] = { "--mode", "conn", "--op", "show", "--tid", tid_text, NULL };
	rc = tgtadm(t, args, &res, err);
	if (rc == 0)
		tgt_parse_sessions(res.out, sessions, initiator, initiator_size);
	run_result_free(&res);
	return rc;
}

int tgt_sessions(struct tgt *t, const char *uuid, int *sessions, char *initiator,
		 size_t initiator_size, struct cf_err *err)
{
	int tid;
	return target_sessions(t, uuid, &tid, sessions, initiator, initiator_size, err);
}

int tgt_recreate_lun(struct tgt *t, const char *uuid, const char *device, struct cf_err *err)
{
	char iqn[NAME_LEN * 2], tid_text[16], initiator[256];
	int tid = 0, sessions, rc;

	rc = target_sessions(t, uuid, &tid, &sessions, initiator, sizeof(initiator), err);
	if (rc)
		return rc;
	tgt_iqn(t, uuid, iqn, sizeof(iqn));
	if (!tid)
		return err_set(err, ENOENT, "tgtd has no target %s: no LUN to make again", iqn);
	if (sessions)
		return err_set(err, EBUSY, "target %s has %d initiator session(s) (%s): its LUN is not "
			       "made again under them", iqn, sessions, initiator);
	snprintf(tid_text, sizeof(tid_text), "%d", tid);
	const char *const drop[] = { "--mode", "logicalunit", "--op", "delete", "--tid", tid_text,
				     "--lun", "1", NULL };
	const char *const lun[] = { "--mode", "logicalunit", "--op", "new", "--tid", tid_text, "--lun",
				    "1", "--bstype", t->bstype, "--backing-store", device, NULL };
	rc = tgtadm_do(t, drop, err);
	if (rc)
		return rc;
	rc = tgtadm_do(t, lun, err);
	if (rc) {
		/* One more try: a target without its LUN serves nothing. */
		struct cf_err again = { "" };
		if (tgtadm_do(t, lun, &again) == 0)
			rc = 0;
		else
			return err_set(err, -rc, "target %s lost LUN 1 and could not have it back: %s",
				       iqn, again.msg);
	}
	log_info("LUN 1 of %s made again on %s (tid %d): it shows the volume's new size", iqn,
		 device, tid);
	return 0;
}

/* A target file, read back: iqn, backing store, credentials. */
static bool read_target_file(const char *path, char *iqn, size_t iqn_size, char *device,
			     size_t device_size, struct export_info *auth)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	bool have_iqn = false, have_dev = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char a[512], b[512];
		if (sscanf(line, " <target %511[^>]>", a) == 1) {
			snprintf(iqn, iqn_size, "%s", a);
			have_iqn = true;
		} else if (sscanf(line, " backing-store %511s", a) == 1) {
			snprintf(device, device_size, "%s", a);
			have_dev = true;
		} else if (sscanf(line, " incominguser %63s %63s", a, b) == 2) {
			memcpy(auth->chap_user, a, strlen(a) + 1);
			memcpy(auth->chap_password, b, strlen(b) + 1);
		}
	}
	fclose(f);
	return have_iqn && have_dev;
}

int tgt_restore(struct tgt *t, int *restored, struct cf_err *err)
{
	DIR *dir = opendir(t->volumes_dir);
	struct dirent *de;
	int rc = 0;

	*restored = 0;
	if (!dir)
		return err_set(err, errno, "cannot read volumes_dir %s: %s", t->volumes_dir, strerror(errno));
	while ((de = readdir(dir)) != NULL) {
		char path[PATH_MAX + 300], iqn[NAME_LEN * 2], device[PATH_MAX], expected[NAME_LEN * 2];
		struct export_info auth = { "", "", "" };
		const char *uuid;
		int tid, max_tid;

		if (strncmp(de->d_name, "volume-", 7) != 0 || strchr(de->d_name, '.'))
			continue;
		uuid = de->d_name + 7;
		snprintf(path, sizeof(path), "%s/%s", t->volumes_dir, de->d_name);
		if (!read_target_file(path, iqn, sizeof(iqn), device, sizeof(device), &auth)) {
			log_warning("target file %s cannot be read; left alone", path);
			continue;
		}
		tgt_iqn(t, uuid, expected, sizeof(expected));
		if (strcmp(iqn, expected) != 0) {
			log_warning("target file %s names %s, not %s; left alone", path, iqn, expected);
			continue;
		}
		rc = show(t, iqn, &tid, &max_tid, NULL, 0, err);
		if (rc)
			break;
		if (tid)
			continue;
		rc = tgt_create_export(t, uuid, device, &auth, NULL, err);
		if (rc)
			break;
		(*restored)++;
	}
	closedir(dir);
	return rc;
}
