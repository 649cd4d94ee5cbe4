/* The path table and its matcher. A path is split into components and held
 * against each pattern in turn; captures are checked as strictly as the
 * database's values are, so a name either resolves or is ENOENT. */
#include "paths.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 8

const struct path_rule path_rules[] = {
	{ "/",                                NODE_ROOT,            NT_DIR,  OBJ_NONE },
	{ "/README",                          NODE_README,          NT_FILE, OBJ_NONE },
	{ "/metrics",                         NODE_METRICS,         NT_FILE, OBJ_NONE },
	{ "/status",                          NODE_STATUS,          NT_FILE, OBJ_NONE },
	{ "/workers",                         NODE_WORKERS,         NT_DIR,  OBJ_NONE },
	{ "/workers/error",                   NODE_WORKERS_ERROR,   NT_FILE, OBJ_NONE },
	{ "/workers/%id",                     NODE_WORKER,          NT_DIR,  OBJ_WORKER },
	{ "/workers/%id/capacity",            NODE_WORKER_CAPACITY, NT_FILE, OBJ_WORKER },
	{ "/workers/%id/%field",              NODE_WORKER_FIELD,    NT_FILE, OBJ_WORKER },
	{ "/clusters",                        NODE_CLUSTERS,        NT_DIR,  OBJ_NONE },
	/* Before %name: a cluster named "error" is not shown (paths_valid_cluster_name). */
	{ "/clusters/error",                  NODE_CLUSTERS_ERROR,  NT_FILE, OBJ_NONE },
	{ "/clusters/%name",                  NODE_CLUSTER,         NT_DIR,  OBJ_CLUSTER },
	{ "/clusters/%name/workers",          NODE_CLUSTER_WORKERS, NT_DIR,  OBJ_CLUSTER },
	{ "/clusters/%name/workers/%id",      NODE_CLUSTER_WORKER,  NT_LINK, OBJ_CLUSTER },
	{ "/clusters/%name/%field",           NODE_CLUSTER_FIELD,   NT_FILE, OBJ_CLUSTER },
	{ "/stuck",                           NODE_STUCK,           NT_DIR,  OBJ_NONE },
	{ "/stuck/%type",                     NODE_STUCK_TYPE,      NT_DIR,  OBJ_NONE },
	{ "/stuck/%type/%uuid",               NODE_STUCK_RESOURCE,  NT_DIR,  OBJ_STUCK },
	{ "/stuck/%type/%uuid/%field",        NODE_STUCK_FIELD,     NT_FILE, OBJ_STUCK },
	{ "/cleanup",                         NODE_CLEANUP,         NT_DIR,  OBJ_NONE },
	{ "/volumes",                         NODE_VOLUMES,         NT_DIR,  OBJ_NONE },
	{ "/volumes/create",                  NODE_VOLUMES_CREATE,  NT_FILE, OBJ_NONE },
	{ "/volumes/error",                   NODE_VOLUMES_ERROR,   NT_FILE, OBJ_NONE },
	{ "/volumes/%uuid",                   NODE_VOLUME,          NT_DIR,  OBJ_VOLUME },
	/* Listed only while the volume has an export (fs/ops.c). */
	{ "/volumes/%uuid/connection",        NODE_VOLUME_CONNECTION, NT_FILE, OBJ_VOLUME },
	{ "/volumes/%uuid/%field",            NODE_VOLUME_FIELD,    NT_FILE, OBJ_VOLUME },
	{ "/snapshots",                       NODE_SNAPSHOTS,       NT_DIR,  OBJ_NONE },
	{ "/snapshots/create",                NODE_SNAPSHOTS_CREATE, NT_FILE, OBJ_NONE },
	{ "/snapshots/error",                 NODE_SNAPSHOTS_ERROR, NT_FILE, OBJ_NONE },
	{ "/snapshots/%uuid",                 NODE_SNAPSHOT,        NT_DIR,  OBJ_SNAPSHOT },
	{ "/snapshots/%uuid/%field",          NODE_SNAPSHOT_FIELD,  NT_FILE, OBJ_SNAPSHOT },
	{ "/cleanup/request",                 NODE_CLEANUP_REQUEST, NT_FILE, OBJ_NONE },
	{ "/cleanup/result",                  NODE_CLEANUP_RESULT,  NT_FILE, OBJ_NONE },
	{ "/cleanup/error",                   NODE_CLEANUP_ERROR,   NT_FILE, OBJ_NONE },
	{ "/cleanup/preview",                 NODE_CLEANUP_PREVIEW, NT_FILE, OBJ_NONE },
	{ "/cleanup/history",                 NODE_HISTORY,         NT_DIR,  OBJ_NONE },
	/* The newest entry, found by name only: never listed, so that
	 * `ls | tail -1`, `wc -l` and globs over the entries keep counting
	 * each request once. */
	{ "/cleanup/history/latest",          NODE_HISTORY_LATEST,  NT_LINK, OBJ_NONE },
	{ "/cleanup/history/%req",            NODE_HISTORY_ENTRY,   NT_DIR,  OBJ_NONE },
	{ "/cleanup/history/%req/request",    NODE_HISTORY_REQUEST, NT_FILE, OBJ_NONE },
	{ "/cleanup/history/%req/result",     NODE_HISTORY_RESULT,  NT_FILE, OBJ_NONE },
	{ "/cleanup/history/%req/progress.json", NODE_HISTORY_PROGRESS, NT_FILE, OBJ_NONE },
	{ "/cleanup/history/%req/wait",       NODE_HISTORY_WAIT,    NT_FILE, OBJ_NONE },
	{ "/cleanup/history/%req/cancel",     NODE_HISTORY_CANCEL,  NT_FILE, OBJ_NONE },
	/* Last: any other name in cleanup/ is a scratch entry (a temporary
	 * file or lock directory), which may or may not exist. */
	{ "/cleanup/%temp",                   NODE_CLEANUP_TEMP,    NT_FILE, OBJ_NONE },
};
const int path_rules_count = sizeof(path_rules) / sizeof(path_rules[0]);

const struct stuck_type stuck_types[] = {
	{ "volume", "Volume" },
	{ "snapshot", "Snapshot" },
};
const int stuck_types_count = sizeof(stuck_types) / sizeof(stuck_types[0]);

struct parts {
	int count;
	const char *start[MAX_DEPTH];
	size_t len[MAX_DEPTH];
};

/* Split "/a/b" into components without copying; "//" and a trailing "/"
 * are not paths the kernel sends, and are refused. */
static int split(const char *path, struct parts *p)
{
	const char *s = path;

	p->count = 0;
	if (*s != '/')
		return -ENOENT;
	if (strcmp(s, "/") == 0)
		return 0;
	while (*s == '/') {
		const char *end;
		s++;
		end = strchrnul(s, '/');
		if (end == s)
			return -ENOENT;
		if (p->count == MAX_DEPTH)
			return -ENOENT;
		p->start[p->count] = s;
		p->len[p->count] = (size_t)(end - s);
		p->count++;
		s = end;
	}
	return 0;
}

static bool seg_equals(const char *seg, size_t len, const char *text)
{
	return strlen(text) == len && memcmp(seg, text, len) == 0;
}

static bool parse_id(const char *seg, size_t len, int64_t *out)
{
	int64_t v = 0;

	/* Ids as the database prints them: no sign, no leading zero. */
	if (len == 0 || len > 18 || (seg[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)seg[i]))
			return false;
		v = v * 10 + (seg[i] - '0');
	}
	*out = v;
	return true;
}

bool paths_valid_cluster_name(const char *name)
{
	size_t len = strlen(name);

	/* "error" is clusters/error, the admin actions' error file. */
	if (len == 0 || len >= NAME_LEN || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strcmp(name, "error") == 0)
		return false;
	return strchr(name, '/') == NULL;
}

/* The lower-case hex digits, as a table: a listing checks 32 of them a
 * row. */
static const unsigned char lower_hex[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
};

bool paths_valid_uuid(const char *text)
{
	/* Canonical lower case, as the store keeps resource ids. Checked for
	 * every row of a listing: a table, not a branch a character (hex
	 * digits are random, and a mispredicted branch each cost more than
	 * all the rest of the check). */
	const unsigned char *t = (const unsigned char *)text;
	unsigned ok = 1;

	if (strnlen(text, 37) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-')
		return false;
	for (int i = 0; i < 8; i++)
		ok &= lower_hex[t[i]];
	for (int i = 9; i < 13; i++)
		ok &= lower_hex[t[i]];
	for (int i = 14; i < 18; i++)
		ok &= lower_hex[t[i]];
	for (int i = 19; i < 23; i++)
		ok &= lower_hex[t[i]];
	for (int i = 24; i < 36; i++)
		ok &= lower_hex[t[i]];
	return ok;
}

static bool capture(const struct path_rule *rule, const char *pat, size_t pat_len,
		    const char *seg, size_t len, struct path_match *m)
{
	char name[NAME_LEN];

	if (len >= NAME_LEN)
		return false;
	memcpy(name, seg, len);
	name[len] = '\0';
	if (seg_equals(pat, pat_len, "%id"))
		return parse_id(seg, len, &m->worker_id);
	if (seg_equals(pat, pat_len, "%name")) {
		if (!paths_valid_cluster_name(name))
			return false;
		memcpy(m->cluster, name, len + 1);
		return true;
	}
	if (seg_equals(pat, pat_len, "%type")) {
		for (int i = 0; i < stuck_types_count; i++) {
			if (strcmp(name, stuck_types[i].dir) == 0) {
				m->stuck_dir = stuck_types[i].dir;
				m->stuck_type = stuck_types[i].type;
				return true;
			}
		}
		return false;
	}
	if (seg_equals(pat, pat_len, "%uuid")) {
		if (!paths_valid_uuid(name))
			return false;
		memcpy(m->uuid, name, len + 1);
		return true;
	}
	if (seg_equals(pat, pat_len, "%req")) {
		/* Digits, zero-padded or not; 0 is no request. */
		int64_t v = 0;
		if (len == 0 || len > 18)
			return false;
		for (size_t i = 0; i < len; i++) {
			if (!isdigit((unsigned char)seg[i]))
				return false;
			v = v * 10 + (seg[i] - '0');
		}
		m->request_id = v;
		return v > 0;
	}
	if (seg_equals(pat, pat_len, "%temp")) {
		memcpy(m->temp, name, len + 1);
		return true;
	}
	if (seg_equals(pat, pat_len, "%field")) {
		m->field = view_find_field(rule->object, name);
		return m->field != NULL;
	}
	return false;
}

static bool match_rule(const struct path_rule *rule, const struct parts *path,
		       struct path_match *m)
{
	struct parts pat;

	if (split(rule->pattern, &pat) != 0 || pat.count != path->count)
		return false;
	/* Field by field: the name buffers are large, and only their first
	 * byte says anything. */
	m->worker_id = 0;
	m->cluster[0] = '\0';
	m->stuck_type = m->stuck_dir = NULL;
	m->uuid[0] = '\0';
	m->field = NULL;
	m->request_id = 0;
	m->temp[0] = '\0';
	for (int i = 0; i < pat.count; i++) {
		if (pat.start[i][0] == '%') {
			if (!capture(rule, pat.start[i], pat.len[i], path->start[i], path->len[i], m))
				return false;
		} else if (pat.len[i] != path->len[i] ||
			   memcmp(pat.start[i], path->start[i], pat.len[i]) != 0) {
			return false;
		}
	}
	m->rule = rule;
	return true;
}

int paths_match(const char *path, struct path_match *m)
{
	struct parts parts;

	if (split(path, &parts) != 0)
		return -ENOENT;
	for (int i = 0; i < parts.count; i++)
		if (parts.len[i] > 255)
			return -ENAMETOOLONG;
	for (int i = 0; i < path_rules_count; i++)
		if (match_rule(&path_rules[i], &parts, m))
			return 0;
	return -ENOENT;
}

const struct path_rule *paths_literal_child(const struct path_rule *dir, int i, const char **name)
{
	size_t dir_len = strcmp(dir->pattern, "/") == 0 ? 0 : strlen(dir->pattern);

	for (int r = 0; r < path_rules_count; r++) {
		const char *p = path_rules[r].pattern;
		const char *last;

		if (strncmp(p, dir->pattern, dir_len) != 0 || p[dir_len] != '/' || p[dir_len + 1] == '\0')
			continue;
		last = p + dir_len + 1;
		if (strchr(last, '/') || last[0] == '%')
			continue;
		if (i-- == 0) {
			*name = last;
			return &path_rules[r];
		}
	}
	return NULL;
}
