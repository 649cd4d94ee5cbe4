/* volumes/create specs, through the same JSON-or-words reader as cleanup
 * specs. */
#include "volspec.h"

#include <ctype.h>
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

int volspec_parse(const char *spec, size_t len, struct volspec *out, struct cf_err *err)
{
	json_t *obj = NULL, *v;
	const char *key;
	char unknown[512] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	rc = filter_spec_object(spec, len, &obj, err);
	if (rc)
		return rc;
	if (!obj)
		return err_set(err, EINVAL, "A volume needs at least a size: write e.g. 'name=db1 size=10G'.");
	json_object_foreach(obj, key, v) {
		if (strcmp(key, "name") && strcmp(key, "size")) {
			size_t used = strlen(unknown);
			snprintf(unknown + used, sizeof(unknown) - used, "%s%s", used ? ", " : "", key);
		}
	}
	if (unknown[0]) {
		json_decref(obj);
		return err_set(err, EINVAL, "Invalid keys: %s (a volume takes name and size).", unknown);
	}
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
	v = json_object_get(obj, "name");
	if (!rc && v && !json_is_null(v)) {
		const char *name = json_is_string(v) ? json_string_value(v) : NULL;
		if (!name)
			rc = err_set(err, EINVAL, "Name must be a string.");
		else if (strlen(name) >= NAME_LEN)
			rc = err_set(err, EINVAL, "Name is %zu bytes long; the limit is 255.", strlen(name));
		else {
			for (const char *p = name; *p && !rc; p++)
				if (iscntrl((unsigned char)*p))
					rc = err_set(err, EINVAL, "Name must not hold control characters.");
			if (!rc)
				snprintf(out->name, sizeof(out->name), "%s", name);
		}
	}
	json_decref(obj);
	return rc;
}
