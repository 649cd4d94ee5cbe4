/* Cinder's admin actions as values written to files: parsing and Cinder's
 * rules, nothing else (the store records, fs/ answers). */
#include "admin_rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "volspec.h"

static const char *const volume_statuses[] = {
	/* AdminController.valid_status, and VolumeAdminController's own. */
	"creating", "available", "deleting", "error", "error_deleting", "error_managing",
	"managing", "attaching", "in-use", "detaching", "maintenance", NULL,
};

static const char *const snapshot_statuses[] = {
	/* fields.SnapshotStatus.ALL */
	"error", "available", "creating", "deleting", "deleted", "updating", "error_deleting",
	"unmanaging", "backing-up", "restoring", NULL,
};

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

int admin_value(const char *buf, size_t len, const char *what, char *out, size_t size,
		struct cf_err *err)
{
	size_t start = 0, end = len;

	if (memchr(buf, '\0', len))
		return err_set(err, EINVAL, "%s: the value holds a NUL byte.", what);
	if (end && buf[end - 1] == '\n')
		end--;
	if (end && buf[end - 1] == '\r')
		end--;
	if (memchr(buf, '\n', end))
		return err_set(err, EINVAL, "%s takes one line; this write has several.", what);
	while (start < end && blank(buf[start]))
		start++;
	while (end > start && blank(buf[end - 1]))
		end--;
	if (end - start >= size)
		return err_set(err, EINVAL, "%s: the value is %zu bytes; at most %zu are taken.", what,
			       end - start, size - 1);
	memcpy(out, buf + start, end - start);
	out[end - start] = '\0';
	return 0;
}

int admin_parse_bool(const char *buf, size_t len, const char *what, bool *out, struct cf_err *err)
{
	static const char *const yes[] = { "1", "t", "true", "on", "y", "yes", NULL };
	static const char *const no[] = { "0", "f", "false", "off", "n", "no", NULL };
	char v[16];
	int rc = admin_value(buf, len, what, v, sizeof(v), err);

	if (rc)
		return rc;
	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return err_set(err, EINVAL, "Value %s for %s is not a boolean; write true or false.", v, what);
}

int admin_parse_auto_cleanup(const char *buf, size_t len, long long *seconds, struct cf_err *err)
{
	char v[32];
	long long n = 0;
	size_t i;
	int rc = admin_value(buf, len, "auto_cleanup", v, sizeof(v), err);

	if (rc)
		return rc;
	for (i = 0; v[i] && isdigit((unsigned char)v[i]) && n <= ADMIN_AUTO_CLEANUP_MAX; i++)
		n = n * 10 + (v[i] - '0');
	if (!v[0] || v[i] || n > ADMIN_AUTO_CLEANUP_MAX)
		return err_set(err, EINVAL, "auto_cleanup is a whole number of seconds from 0 (off) "
			       "to %d, and '%s' is not.", ADMIN_AUTO_CLEANUP_MAX, v);
	*seconds = n;
	return 0;
}

int admin_parse_reason(const char *buf, size_t len, char out[ADMIN_REASON_MAX + 1],
		       struct cf_err *err)
{
	int rc = admin_value(buf, len, "disabled_reason", out, ADMIN_REASON_MAX + 1, err);

	if (rc)
		return rc;
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return err_set(err, EINVAL, "disabled_reason: control character 0x%02x at byte "
				       "%zu; a reason is one line of text.", *p,
				       (size_t)(p - (const unsigned char *)out));
	return 0;
}

static const char *const *statuses(enum admin_resource type)
{
	return type == ADMIN_VOLUME ? volume_statuses : snapshot_statuses;
}

bool admin_status_allowed(enum admin_resource type, const char *status)
{
	for (const char *const *s = statuses(type); *s; s++)
		if (strcmp(*s, status) == 0)
			return true;
	return false;
}

int admin_parse_status(enum admin_resource type, const char *buf, size_t len, char out[64],
		       struct cf_err *err)
{
	char list[512] = "";
	size_t n = 0;
	int rc = admin_value(buf, len, "status", out, 64, err);

	if (rc)
		return rc;
	if (!out[0])
		return err_set(err, EINVAL, "Must specify 'status': write the status to set.");
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (admin_status_allowed(type, out))
		return 0;
	for (const char *const *s = statuses(type); *s; s++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", *s);
	return err_set(err, EINVAL, "Must specify a valid status: %s is not one reset-state sets on "
		       "a %s (%s).", out, type == ADMIN_VOLUME ? "volume" : "snapshot", list);
}

int admin_parse_extend(const char *buf, size_t len, long long current, long long *gib,
		       struct cf_err *err)
{
	char v[64];
	int rc = admin_value(buf, len, "size", v, sizeof(v), err);

	if (rc)
		return rc;
	if (!v[0])
		return err_set(err, EINVAL, "size: write the new size in GiB (e.g. 20 or 20G).");
	rc = volspec_size(v, gib, err);
	if (rc)
		return rc;
	if (*gib <= current)
		return err_set(err, EINVAL, "New size for extend must be greater than current size "
			       "(%lld GiB, asked %lld GiB): volumes are never shrunk.", current, *gib);
	return 0;
}
