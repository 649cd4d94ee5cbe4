/* volumes/create specs, through the same JSON-or-words reader as cleanup
 * specs. */
#include "volspec.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter.h"

int volspec_size(const char *text, long long *gib, struct cf_err *err)
{
	char *end;
	long long n, scale = 0;

	errno = 0;
	n = strtoll(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || errno)
		return err_set(err, EINVAL, "Size %s is not a whole number of GiB (e.g. 10G).", text);
	if (*end == '\0' || !strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
		scale = 1;
	else if (!strcasecmp(end, "t") || !strcasecmp(end, "tb") || !strcasecmp(end, "tib"))
		scale = 1024;
	else
		return err_set(err, EINVAL, "Unknown size unit '%s' in %s: sizes are whole GiB, "
			       "written as 10, 10G or 2T.", end, text);
	if (n < 1 || n > VOLUME_MAX_GIB / scale)
		return err_set(err, EINVAL, "Size %s is out of range: from 1 GiB to %lld GiB.", text,
			       VOLUME_MAX_GIB);
	*gib = n * scale;
	return 0;
}

/* A name: a string of at most 255 bytes, no control characters. */
static int take_name(json_t *v, char out[NAME_LEN], struct cf_err *err)
{
	const char *name;

	if (!v || json_is_null(v))
		return 0;
	name = json_is_string(v) ? json_string_value(v) : NULL;
	if (!name)
		return err_set(err, EINVAL, "Name must be a string.");
	if (strlen(name) >= NAME_LEN)
		return err_set(err, EINVAL, "Name is %zu bytes long; the limit is 255.", strlen(name));
	for (const char *p = name; *p; p++)
		if (iscntrl((unsigned char)*p))
			return err_set(err, EINVAL, "Name must not hold control characters.");
	snprintf(out, NAME_LEN, "%s", name);
	return 0;
}

/* The spec as an object with only the given keys. */
static int spec_object(const char *spec, size_t len, const char *kind, const char *const keys[],
		       const char *what, json_t **obj, struct cf_err *err)
{
	const char *key;
	json_t *v;
	char unknown[512] = "";
	int rc = filter_spec_object(spec, len, kind, obj, err);

	if (rc)
		return rc;
	if (!*obj)
		return 0;
	json_object_foreach(*obj, key, v) {
		bool known = false;
		for (int i = 0; keys[i]; i++)
			known = known || strcmp(key, keys[i]) == 0;
		if (!known) {
			size_t used = strlen(unknown);
			snprintf(unknown + used, sizeof(unknown) - used, "%s%s", used ? ", " : "", key);
		}
	}
	if (unknown[0]) {
		json_decref(*obj);
		*obj = NULL;
		return err_set(err, EINVAL, "Invalid keys: %s (%s).", unknown, what);
	}
	return 0;
}

int snapspec_parse(const char *spec, size_t len, struct snapspec *out, struct cf_err *err)
{
	static const char *const keys[] = { "volume_id", "name", NULL };
	json_t *obj = NULL, *v;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = spec_object(spec, len, "snapshot", keys, "a snapshot takes volume_id and name", &obj, err);
	if (rc)
		return rc;
	if (!obj)
		return err_set(err, EINVAL, "A snapshot needs a volume: write e.g. 'volume_id=<uuid> name=s1'.");
	v = json_object_get(obj, "volume_id");
	if (!v || !json_is_string(v))
		rc = err_set(err, EINVAL, "A snapshot needs a volume_id (the volume's UUID).");
	else if (!filter_canonical_uuid(json_string_value(v), out->volume_id))
		rc = err_set(err, EINVAL, "Volume ID must be a UUID, and %s is not.", json_string_value(v));
	if (!rc)
		rc = take_name(json_object_get(obj, "name"), out->name, err);
	json_decref(obj);
	return rc;
}

int volspec_parse(const char *spec, size_t len, struct volspec *out, struct cf_err *err)
{
	static const char *const keys[] = { "name", "size", NULL };
	json_t *obj = NULL, *v;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = spec_object(spec, len, "volume", keys, "a volume takes name and size", &obj, err);
	if (rc)
		return rc;
	if (!obj)
		return err_set(err, EINVAL, "A volume needs at least a size: write e.g. 'name=db1 size=10G'.");
	v = json_object_get(obj, "size");
	if (!v || json_is_null(v)) {
		rc = err_set(err, EINVAL, "A volume needs a size: write e.g. 'size=10G'.");
	} else if (json_is_integer(v)) {
		char text[32];
		snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
		rc = volspec_size(text, &out->size_gib, err);
	} else if (json_is_string(v)) {
		rc = volspec_size(json_string_value(v), &out->size_gib, err);
	} else {
		rc = err_set(err, EINVAL, "Size must be a number of GiB or a string such as 10G.");
	}
	if (!rc)
		rc = take_name(json_object_get(obj, "name"), out->name, err);
	json_decref(obj);
	return rc;
}
