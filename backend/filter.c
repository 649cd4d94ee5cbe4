/* Filter specs: two input forms into one JSON object, then Cinder's checks
 * in Cinder's order, each refusing with Cinder's message. */
#include "filter.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const valid_keys[] = {
	"service_id", "cluster_name", "host", "binary", "is_up", "disabled",
	"resource_type", "resource_id",
};
#define VALID_KEYS (sizeof(valid_keys) / sizeof(valid_keys[0]))

static const char *const non_empty_keys[] = {
	"host", "cluster_name", "resource_id", "resource_type", "service_id",
};

/* Strict UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
 * Returns the offset of the first bad byte, or len when all is well. */
static size_t utf8_bad_offset(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07;
		} else {
			return i;
		}
		for (size_t k = 1; k <= n; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

/* A value as the operator wrote it, for messages: strings as they are,
 * anything else as compact JSON. The result is malloc'd. */
static char *shown(const json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

#define REFUSE(err, errnum, value, fmt)                                   \
	({                                                                \
		char *s_ = shown(value);                                  \
		int r_ = err_set(err, errnum, fmt, s_ ? s_ : "?");        \
		free(s_);                                                 \
		r_;                                                       \
	})

/* key=value words, separated by spaces, commas or newlines; the word null
 * is JSON null, every other value a string. */
static int parse_words(const char *spec, size_t len, const char *kind, json_t **out,
		       struct cf_err *err)
{
	json_t *obj = json_object();
	size_t i = 0;

	if (!obj)
		return err_set(err, ENOMEM, "out of memory");
	while (i < len) {
		size_t start, eq, end;
		char *key, *val;
		bool quoted;
		json_t *v;

		while (i < len && (isspace((unsigned char)spec[i]) || spec[i] == ','))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && !isspace((unsigned char)spec[i]) && spec[i] != ',')
			i++;
		end = i;
		for (eq = start; eq < end && spec[eq] != '='; eq++)
			;
		if (eq == end || eq == start) {
			int rc = err_set(err, EINVAL, "Invalid %s word '%.*s': expected key=value "
					 "(or a JSON object)", kind, (int)(end - start), spec + start);
			json_decref(obj);
			return rc;
		}
		key = strndup(spec + start, eq - start);
		if (key && json_object_get(obj, key)) {
			int rc = err_set(err, EINVAL, "Duplicate %s key: %s", kind, key);
			free(key);
			json_decref(obj);
			return rc;
		}
		/* A value in matching quotes loses them, as a shell user means
		 * it (host="node3@lvm"); "null" in quotes is the string. */
		quoted = end - eq - 1 >= 2 && (spec[eq + 1] == '"' || spec[eq + 1] == '\'') &&
			 spec[end - 1] == spec[eq + 1];
		val = quoted ? strndup(spec + eq + 2, end - eq - 3) : strndup(spec + eq + 1, end - eq - 1);
		v = (val && !quoted && strcmp(val, "null") == 0) ? json_null() : json_string(val ? val : "");
		if (!key || !val || !v || json_object_set_new(obj, key, v) != 0) {
			free(key);
			free(val);
			json_decref(obj);
			return err_set(err, ENOMEM, "out of memory");
		}
		free(key);
		free(val);
	}
	*out = obj;
	return 0;
}

/* The key jansson found twice: the JSON string that ends where its
 * error points (jerr.position is just past the key's closing quote),
 * decoded, so escapes and long keys come out as the key itself. */
static char *duplicate_key(const char *spec, size_t len, const json_error_t *jerr)
{
	size_t end = (size_t)jerr->position, start;
	json_t *key;
	char *out = NULL;

	if (end == 0 || end > len || spec[end - 1] != '"')
		return NULL;
	for (start = end - 1; start > 0; start--) {
		size_t backslashes = 0;
		if (spec[start - 1] != '"')
			continue;
		/* An opening quote is one not escaped by an odd run of '\'. */
		while (start - 1 >= backslashes + 1 && spec[start - 2 - backslashes] == '\\')
			backslashes++;
		if (backslashes % 2 == 0)
			break;
	}
	if (start == 0)
		return NULL;
	key = json_loadb(spec + start - 1, end - start + 1, JSON_DECODE_ANY, NULL);
	if (json_is_string(key))
		out = strdup(json_string_value(key));
	json_decref(key);
	return out;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	default: return "something else";
	}
}

static int parse_json(const char *spec, size_t len, const char *kind, json_t **out,
		      struct cf_err *err)
{
	json_error_t jerr;
	/* A key given twice is refused (fix: Cinder keeps the last, which
	 * hides a typo or a pasting mistake). */
	json_t *v = json_loadb(spec, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

	if (!v && json_error_code(&jerr) == json_error_duplicate_key) {
		char *key = duplicate_key(spec, len, &jerr);
		int rc = key ? err_set(err, EINVAL, "Duplicate %s key: %s", kind, key)
			     : err_set(err, EINVAL, "Duplicate %s key at line %d, column %d", kind,
				       jerr.line, jerr.column);
		free(key);
		return rc;
	}
	if (!v)
		return err_set(err, EINVAL, "Invalid JSON in %s spec at line %d, column %d: %s", kind,
			       jerr.line, jerr.column, jerr.text);
	if (!json_is_object(v)) {
		int rc = err_set(err, EINVAL, "A %s spec must be a JSON object or key=value words, "
				 "not %s", kind, json_kind(v));
		json_decref(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* oslo's strutils.bool_from_string(strict=True), as Cinder applies it:
 * booleans, and strings (or numbers, through str()) of the known words. */
static int parse_bool(const json_t *v, int *out)
{
	static const char *const yes[] = { "1", "t", "true", "on", "y", "yes" };
	static const char *const no[] = { "0", "f", "false", "off", "n", "no" };
	char word[8];
	const char *text;
	size_t len;

	if (json_is_boolean(v)) {
		*out = json_is_true(v) ? TRI_TRUE : TRI_FALSE;
		return 0;
	}
	if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
		*out = json_integer_value(v) ? TRI_TRUE : TRI_FALSE;
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	text = json_string_value(v);
	len = strlen(text);
	if (len >= sizeof(word))
		return -EINVAL;
	for (size_t i = 0; i <= len; i++)
		word[i] = (char)tolower((unsigned char)text[i]);
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(word, yes[i]) == 0) {
			*out = TRI_TRUE;
			return 0;
		}
		if (strcmp(word, no[i]) == 0) {
			*out = TRI_FALSE;
			return 0;
		}
	}
	return -EINVAL;
}

/* Python's str.title() for ASCII: a letter after a non-letter is upper
 * case, every other letter lower case. */
static void title_case(const char *in, char *out, size_t size)
{
	bool after_letter = false;
	size_t i;

	for (i = 0; in[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (char)(after_letter ? tolower(c) : toupper(c));
		after_letter = isalpha(c) != 0;
	}
	out[i] = '\0';
}

bool filter_canonical_uuid(const char *text, char out[UUID_LEN])
{
	char hex[33];
	size_t n = 0, len;
	const char *p = text;

	/* As uuid.UUID(): urn:uuid: and braces may wrap it, dashes anywhere
	 * are dropped, and 32 hex digits must remain. */
	if (strncmp(p, "urn:uuid:", 9) == 0)
		p += 9;
	len = strlen(p);
	if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
		p++;
		len -= 2;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '-')
			continue;
		if (!isxdigit((unsigned char)p[i]) || n == 32)
			return false;
		hex[n++] = (char)tolower((unsigned char)p[i]);
	}
	if (n != 32)
		return false;
	hex[32] = '\0';
	snprintf(out, UUID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
		 hex + 20);
	return true;
}

/* service_id: an integer, or a string of digits. */
static int parse_service_id(const json_t *v, struct filter *f)
{
	if (json_is_integer(v)) {
		f->has_service_id = true;
		f->service_id = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t len = strlen(s);
		int64_t n = 0;

		if (len == 0)
			return -EINVAL;
		for (size_t i = 0; i < len; i++) {
			if (!isdigit((unsigned char)s[i]))
				return -EINVAL;
			if (n > (INT64_MAX - 9) / 10)
				f->service_id_matches_none = true;
			else
				n = n * 10 + (s[i] - '0');
		}
		f->has_service_id = true;
		f->service_id = n;
		return 0;
	}
	return -EINVAL;
}

/* host and cluster_name: strings of at most 255 characters (Cinder's
 * column); null means no filter ("" was refused at step 1b). */
static int parse_name(const json_t *v, const char *key, char out[NAME_LEN], struct cf_err *err)
{
	const char *s;

	if (json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		char *text = shown(v);
		int rc = err_set(err, EINVAL, "Value %s for %s is not a string.", text ? text : "?", key);
		free(text);
		return rc;
	}
	s = json_string_value(v);
	if (strlen(s) >= NAME_LEN)
		return err_set(err, EINVAL, "Value for %s is %zu characters long; the limit is %d.", key,
			       strlen(s), NAME_LEN - 1);
	snprintf(out, NAME_LEN, "%s", s);
	return 0;
}

static int validate(json_t *obj, struct filter *f, struct cf_err *err)
{
	const char *key;
	json_t *v;
	char unknown[1024] = "";
	int rc;

	/* 1. Unknown keys, all of them, in the order given. */
	json_object_foreach(obj, key, v) {
		bool known = false;
		for (size_t i = 0; i < VALID_KEYS; i++)
			known = known || strcmp(key, valid_keys[i]) == 0;
		if (!known) {
			size_t used = strlen(unknown);
			snprintf(unknown + used, sizeof(unknown) - used, "%s%s", used ? ", " : "", key);
		}
	}
	if (unknown[0])
		return err_set(err, EINVAL, "Invalid filter keys: %s", unknown);

	/* 1b. An empty value never widens a cleanup: `host=$H` with H unset
	 * must not select every down worker (Cinder's schema: too short). */
	json_object_foreach(obj, key, v) {
		for (size_t i = 0; i < sizeof(non_empty_keys) / sizeof(non_empty_keys[0]); i++)
			if (strcmp(key, non_empty_keys[i]) == 0 && json_is_string(v) &&
			    json_string_value(v)[0] == '\0')
				return err_set(err, EINVAL, "%s must not be empty.", key);
	}

	/* 2. binary. */
	v = json_object_get(obj, "binary");
	if (v && !json_is_null(v)) {
		const char *b = json_is_string(v) ? json_string_value(v) : "";
		if (strcmp(b, BINARY_VOLUME) != 0 && strcmp(b, BINARY_SCHEDULER) != 0)
			return err_set(err, EINVAL, "binary must be empty or set to " BINARY_VOLUME
				       " or " BINARY_SCHEDULER);
		snprintf(f->binary, sizeof(f->binary), "%s", b);
	}

	/* 3. disabled, then is_up. */
	v = json_object_get(obj, "disabled");
	if (v && !json_is_null(v) && parse_bool(v, &f->disabled) != 0)
		return REFUSE(err, EINVAL, v, "Value %s for disabled is not a boolean.");
	v = json_object_get(obj, "is_up");
	if (v && json_is_null(v))
		f->is_up = TRI_ANY;
	else if (v && parse_bool(v, &f->is_up) != 0)
		return REFUSE(err, EINVAL, v, "Value %s for is_up is not a boolean.");

	/* 4. resource_type, title-cased. */
	v = json_object_get(obj, "resource_type");
	if (v && !json_is_null(v)) {
		char titled[NAME_LEN];
		if (!json_is_string(v))
			return REFUSE(err, EINVAL, v,
				      "Resource type %s not valid, must be Volume or Snapshot");
		title_case(json_string_value(v), titled, sizeof(titled));
		if (strcmp(titled, "Volume") != 0 && strcmp(titled, "Snapshot") != 0)
			return err_set(err, EINVAL,
				       "Resource type %s not valid, must be Volume or Snapshot", titled);
		strcpy(f->resource_type, titled[0] == 'V' ? "Volume" : "Snapshot");
	}

	/* 5. resource_id, a UUID in any of its forms. */
	v = json_object_get(obj, "resource_id");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !filter_canonical_uuid(json_string_value(v), f->resource_id))
			return REFUSE(err, EINVAL, v, "Resource ID must be a UUID, and %s is not.");
	}

	/* 6. service_id. */
	v = json_object_get(obj, "service_id");
	f->service_id_present = v != NULL;
	if (v && !json_is_null(v) && parse_service_id(v, f) != 0)
		return REFUSE(err, EINVAL, v, "Value %s for service_id is not an integer.");

	/* host and cluster_name: the strings the selection matches. */
	v = json_object_get(obj, "host");
	f->host_present = v != NULL;
	if (v && (rc = parse_name(v, "host", f->host, err)) != 0)
		return rc;
	v = json_object_get(obj, "cluster_name");
	f->cluster_name_present = v != NULL;
	if (v && (rc = parse_name(v, "cluster_name", f->cluster_name, err)) != 0)
		return rc;
	return 0;
}

int filter_spec_object(const char *spec, size_t len, const char *kind, json_t **out,
		       struct cf_err *err)
{
	size_t i, bad;
	char Kind[32];

	/* The messages name the spec by its kind ("Volume spec is ..."). */
	snprintf(Kind, sizeof(Kind), "%s", kind);
	Kind[0] = (char)toupper((unsigned char)Kind[0]);
	*out = NULL;
	if (len > FILTER_MAX_BYTES)
		return err_set(err, EFBIG, "%s spec is %zu bytes; the limit is %d bytes.", Kind, len,
			       FILTER_MAX_BYTES);
	if (memchr(spec, '\0', len))
		return err_set(err, EINVAL, "%s spec has a NUL byte at offset %zu.", Kind,
			       (size_t)((const char *)memchr(spec, '\0', len) - spec));
	bad = utf8_bad_offset((const unsigned char *)spec, len);
	if (bad != len)
		return err_set(err, EINVAL, "%s spec is not valid UTF-8 (byte %zu).", Kind, bad);
	for (i = 0; i < len && isspace((unsigned char)spec[i]); i++)
		;
	if (i == len)
		return 0; /* an empty spec */
	/* JSON when it starts as JSON does ({, [ or "), or when the whole of
	 * it is a JSON value (null, true, 5); a JSON text that is not an
	 * object is then refused in the parser's words. */
	if (!strchr("{[\"", spec[i])) {
		json_t *scalar = json_loadb(spec, len, JSON_DECODE_ANY, NULL);
		bool is_json = scalar != NULL;
		json_decref(scalar);
		if (!is_json)
			return parse_words(spec, len, kind, out, err);
	}
	return parse_json(spec, len, kind, out, err);
}

bool filter_is_note_line(const char *line, size_t len)
{
	size_t i = 0, n = strlen(FILTER_NOTE_PREFIX);

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return len - i >= n && memcmp(line + i, FILTER_NOTE_PREFIX, n) == 0;
}

/* The spec with its note lines blanked (each byte of them but the
 * newline a space): offsets in the parser's messages stay the writer's.
 * A JSON string cannot hold a newline, so a line that starts with '#' is
 * never inside one. NULL when there is no note line (or no memory: the
 * spec is then parsed as it is, and a note in it refused). */
static char *without_comments(const char *spec, size_t len)
{
	char *copy = NULL;

	for (size_t start = 0; start < len;) {
		const char *nl = memchr(spec + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - spec) : len;

		if (filter_is_note_line(spec + start, end - start)) {
			if (!copy) {
				if (!(copy = malloc(len + 1)))
					return NULL;
				memcpy(copy, spec, len);
				copy[len] = '\0';
			}
			memset(copy + start, ' ', end - start);
		}
		start = end + 1;
	}
	return copy;
}

int filter_parse(const char *spec, size_t len, struct filter *out, struct cf_err *err)
{
	json_t *obj = NULL;
	char *blanked = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->is_up = TRI_FALSE; /* Cinder's default: only workers that are down */
	out->disabled = TRI_ANY;
	/* Note lines are what cleanup/request's read adds while the spec
	 * would reach something: what a read gives, written back, applies
	 * the same spec. */
	if (len <= FILTER_MAX_BYTES && !memchr(spec, '\0', len))
		blanked = without_comments(spec, len);
	rc = filter_spec_object(blanked ? blanked : spec, len, "filter", &obj, err);
	free(blanked);
	if (rc || !obj)
		return rc; /* an empty spec is no filter */
	rc = validate(obj, out, err);
	json_decref(obj);
	return rc;
}
