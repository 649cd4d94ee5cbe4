/* Checking the mountpoint. /proc/self/mountinfo says what is mounted where;
 * statfs() tells a live FUSE mount from a stale one (ENOTCONN). */
#include "mountpoint.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "log.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The filesystem type mounted at `path` (the last mount there), or "". */
static void mounted_type(const char *path, char *type, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char *line = NULL;
	size_t cap = 0;

	type[0] = '\0';
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *point, *sep, *fstype;
		strtok_r(line, " ", &save);              /* mount id */
		strtok_r(NULL, " ", &save);              /* parent id */
		strtok_r(NULL, " ", &save);              /* major:minor */
		strtok_r(NULL, " ", &save);              /* root */
		point = strtok_r(NULL, " ", &save);
		sep = strstr(save ? save : "", " - ");
		if (!point || !sep)
			continue;
		fstype = strtok_r(sep + 3, " ", &save);
		unescape(point);
		if (fstype && strcmp(point, path) == 0)
			snprintf(type, size, "%s", fstype);
	}
	free(line);
	fclose(f);
}

/* The absolute path without touching the last component, which may be a
 * dead mount that stat() cannot enter. */
static int absolute(const char *path, char out[PATH_MAX], struct cf_err *err)
{
	char *dir_copy = strdup(path), *base_copy = strdup(path);
	char parent[PATH_MAX];
	int rc = 0;

	if (!dir_copy || !base_copy) {
		rc = err_set(err, ENOMEM, "out of memory");
	} else if (!realpath(dirname(dir_copy), parent)) {
		rc = err_set(err, errno, "mountpoint %s: %s", path, strerror(errno));
	} else {
		const char *base = basename(base_copy);
		if (strcmp(base, "/") == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
			if (!realpath(path, out))
				rc = err_set(err, errno, "mountpoint %s: %s", path, strerror(errno));
		} else if ((size_t)snprintf(out, PATH_MAX, "%s/%s", strcmp(parent, "/") ? parent : "",
					    base) >= PATH_MAX) {
			rc = err_set(err, ENAMETOOLONG, "mountpoint %s: path too long", path);
		}
	}
	free(dir_copy);
	free(base_copy);
	return rc;
}

int mountpoint_prepare(const char *path, struct cf_err *err)
{
	char abs[PATH_MAX], type[128];
	struct statfs sfs;
	struct stat st;
	int rc = absolute(path, abs, err);

	if (rc)
		return rc;
	mounted_type(abs, type, sizeof(type));
	/* statfs, not stat: the kernel may answer stat from its attribute
	 * cache for a moment after the daemon died, but statfs always asks
	 * the daemon, so a dead connection says ENOTCONN at once. */
	if (strncmp(type, "fuse", 4) == 0 && statfs(abs, &sfs) != 0 && errno == ENOTCONN) {
		/* A daemon died without its auto_unmount helper: detach the
		 * dead mount so the new one can take its place. */
		log_warning("mountpoint %s holds a stale mount (Transport endpoint is not "
			    "connected); detaching it", abs);
		if (umount2(abs, MNT_DETACH) != 0)
			return err_set(err, errno, "mountpoint %s holds a stale mount that cannot be "
				       "detached: %s", path, strerror(errno));
		mounted_type(abs, type, sizeof(type));
	}
	if (strcmp(type, "fuse.cinderfs") == 0)
		return err_set(err, EBUSY, "mountpoint %s is already served by a running cinderfs; "
			       "stop it first", path);
	if (stat(abs, &st) != 0)
		return err_set(err, errno, "mountpoint %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(err, ENOTDIR, "mountpoint %s is not a directory", path);
	return 0;
}
