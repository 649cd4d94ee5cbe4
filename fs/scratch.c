/* The scratch area of cleanup/: a small table of in-memory files and
 * directories under one mutex. Entries are reference-counted so that an
 * open file outlives its name, as on any POSIX filesystem. */
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "array.h"

struct scratch_node {
	char *name;          /* NULL once removed */
	int refs;            /* the table's and each open's */
	struct scratch_attr attr;
	char *data;
	size_t cap;
};

static void now(struct timespec *t)
{
	clock_gettime(CLOCK_REALTIME, t);
}

void scratch_init(struct scratch *s, size_t max_entries, size_t max_size)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->max_entries = max_entries;
	s->max_size = max_size;
}

static void node_unref(struct scratch_node *n)
{
	if (--n->refs == 0) {
		free(n->name);
		free(n->data);
		free(n);
	}
}

/* Take entry i out of the table (the caller holds the lock). */
static void unlink_at(struct scratch *s, size_t i)
{
	struct scratch_node *n = s->nodes[i];

	s->nodes[i] = s->nodes[--s->count];
	free(n->name);
	n->name = NULL;
	node_unref(n);
}

void scratch_destroy(struct scratch *s)
{
	while (s->count)
		unlink_at(s, s->count - 1);
	free(s->nodes);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}

static ssize_t find(const struct scratch *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->nodes[i]->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static int make(struct scratch *s, const char *name, mode_t mode, uid_t uid, gid_t gid,
		struct scratch_node **out, struct cf_err *err)
{
	struct scratch_node *n;

	if (!strstr(name, SCRATCH_NAME_PART))
		return err_set(err, EACCES, "cleanup/%s: only cleanup/request takes specs; a temporary "
			       "file or lock directory here must have \"" SCRATCH_NAME_PART "\" in "
			       "its name, as Ansible, Puppet, Salt and Chef name theirs", name);
	if (s->count >= s->max_entries)
		return err_set(err, ENOSPC, "cleanup/%s: there are already %zu temporary files and lock "
			       "directories in cleanup/ (the limit, cleanup_temp_files); remove one "
			       "first", name, s->count);
	if (array_reserve((void **)&s->nodes, &s->cap, s->count + 1, sizeof(*s->nodes)))
		return err_set(err, ENOMEM, "cleanup/%s: out of memory", name);
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		return err_set(err, ENOMEM, "cleanup/%s: out of memory", name);
	}
	n->refs = 1;
	n->attr.mode = mode;
	n->attr.uid = uid;
	n->attr.gid = gid;
	now(&n->attr.mtime);
	n->attr.atime = n->attr.ctime = n->attr.mtime;
	s->nodes[s->count++] = n;
	*out = n;
	return 0;
}

static void truncate_locked(struct scratch_node *n, size_t size)
{
	if (size > (size_t)n->attr.size)
		memset(n->data + n->attr.size, 0, size - (size_t)n->attr.size);
	n->attr.size = (off_t)size;
	now(&n->attr.mtime);
	n->attr.ctime = n->attr.mtime;
}

/* Room for size bytes, within the limit. */
static int grow(struct scratch *s, struct scratch_node *n, size_t size, struct cf_err *err)
{
	if (size > s->max_size)
		return err_set(err, EFBIG, "cleanup/%s: a temporary file holds at most %zu bytes, "
			       "the largest spec cleanup/request takes",
			       n->name ? n->name : "(removed)", s->max_size);
	if (array_reserve((void **)&n->data, &n->cap, size, 1))
		return err_set(err, ENOMEM, "out of memory");
	return 0;
}

/* off + size without overflow, saturating past any limit. */
static size_t end_of(off_t off, size_t size)
{
	return (size_t)off > SIZE_MAX - size ? SIZE_MAX : (size_t)off + size;
}

int scratch_create(struct scratch *s, const char *name, mode_t mode, uid_t uid, gid_t gid,
		   int flags, struct scratch_node **out, struct cf_err *err)
{
	ssize_t i;
	int rc;

	pthread_mutex_lock(&s->lock);
	i = find(s, name);
	if (i >= 0) {
		/* Two creators raced past the kernel's lookup. */
		struct scratch_node *n = s->nodes[i];
		if (flags & O_EXCL)
			rc = -EEXIST;
		else if (S_ISDIR(n->attr.mode))
			rc = -EISDIR;
		else {
			if (flags & O_TRUNC)
				truncate_locked(n, 0);
			n->refs++;
			*out = n;
			rc = 0;
		}
	} else {
		rc = make(s, name, S_IFREG | (mode & 07777), uid, gid, out, err);
		if (rc == 0)
			(*out)->refs++;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int scratch_mkdir(struct scratch *s, const char *name, mode_t mode, uid_t uid, gid_t gid,
		  struct cf_err *err)
{
	struct scratch_node *n;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = find(s, name) >= 0 ? -EEXIST : make(s, name, S_IFDIR | (mode & 07777), uid, gid, &n, err);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int scratch_find(struct scratch *s, const char *name, struct scratch_node **out)
{
	ssize_t i;

	pthread_mutex_lock(&s->lock);
	i = find(s, name);
	if (i >= 0) {
		*out = s->nodes[i];
		(*out)->refs++;
	}
	pthread_mutex_unlock(&s->lock);
	return i >= 0 ? 0 : -ENOENT;
}

void scratch_put(struct scratch *s, struct scratch_node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&s->lock);
	node_unref(n);
	pthread_mutex_unlock(&s->lock);
}

void scratch_attr(struct scratch *s, struct scratch_node *n, struct scratch_attr *out)
{
	pthread_mutex_lock(&s->lock);
	*out = n->attr;
	pthread_mutex_unlock(&s->lock);
}

int scratch_read(struct scratch *s, struct scratch_node *n, char *buf, size_t size, off_t off)
{
	int got = 0;

	pthread_mutex_lock(&s->lock);
	if (S_ISDIR(n->attr.mode)) {
		got = -EISDIR;
	} else if (off >= 0 && off < n->attr.size) {
		size_t left = (size_t)(n->attr.size - off);
		if (size > left)
			size = left;
		memcpy(buf, n->data + off, size);
		got = (int)size;
		now(&n->attr.atime);
	}
	pthread_mutex_unlock(&s->lock);
	return got;
}

int scratch_write(struct scratch *s, struct scratch_node *n, const char *buf, size_t size,
		  off_t off, struct cf_err *err)
{
	int rc;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (S_ISDIR(n->attr.mode)) {
		rc = -EISDIR;
	} else if ((rc = grow(s, n, end_of(off, size), err)) == 0) {
		if ((size_t)off > (size_t)n->attr.size)
			memset(n->data + n->attr.size, 0, (size_t)off - (size_t)n->attr.size);
		memcpy(n->data + off, buf, size);
		if ((off_t)(off + (off_t)size) > n->attr.size)
			n->attr.size = off + (off_t)size;
		now(&n->attr.mtime);
		n->attr.ctime = n->attr.mtime;
		rc = (int)size;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int scratch_truncate(struct scratch *s, struct scratch_node *n, off_t size, struct cf_err *err)
{
	int rc;

	if (size < 0)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (S_ISDIR(n->attr.mode))
		rc = -EISDIR;
	else if ((rc = grow(s, n, (size_t)size, err)) == 0)
		truncate_locked(n, (size_t)size);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void scratch_chmod(struct scratch *s, struct scratch_node *n, mode_t mode)
{
	pthread_mutex_lock(&s->lock);
	n->attr.mode = (n->attr.mode & S_IFMT) | (mode & 07777);
	now(&n->attr.ctime);
	pthread_mutex_unlock(&s->lock);
}

void scratch_chown(struct scratch *s, struct scratch_node *n, uid_t uid, gid_t gid)
{
	pthread_mutex_lock(&s->lock);
	if (uid != (uid_t)-1)
		n->attr.uid = uid;
	if (gid != (gid_t)-1)
		n->attr.gid = gid;
	now(&n->attr.ctime);
	pthread_mutex_unlock(&s->lock);
}

static void set_time(struct timespec *slot, const struct timespec *tv, const struct timespec *t)
{
	if (!tv || tv->tv_nsec == UTIME_NOW)
		*slot = *t;
	else if (tv->tv_nsec != UTIME_OMIT)
		*slot = *tv;
}

void scratch_utimens(struct scratch *s, struct scratch_node *n, const struct timespec tv[2])
{
	struct timespec t;

	now(&t);
	pthread_mutex_lock(&s->lock);
	set_time(&n->attr.atime, tv ? &tv[0] : NULL, &t);
	set_time(&n->attr.mtime, tv ? &tv[1] : NULL, &t);
	n->attr.ctime = t;
	pthread_mutex_unlock(&s->lock);
}

int scratch_remove(struct scratch *s, const char *name, bool dir)
{
	ssize_t i;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	i = find(s, name);
	if (i < 0)
		rc = -ENOENT;
	else if (S_ISDIR(s->nodes[i]->attr.mode) != dir)
		rc = dir ? -ENOTDIR : -EISDIR;
	else
		unlink_at(s, (size_t)i);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int scratch_rename(struct scratch *s, const char *from, const char *to, unsigned int flags,
		   struct cf_err *err)
{
	ssize_t i, j;
	char *name;
	int rc = 0;

	if (!strstr(to, SCRATCH_NAME_PART))
		return err_set(err, EACCES, "cleanup/%s: a temporary file or lock directory here must "
			       "have \"" SCRATCH_NAME_PART "\" in its name", to);
	pthread_mutex_lock(&s->lock);
	i = find(s, from);
	j = find(s, to);
	if (i < 0) {
		rc = -ENOENT;
	} else if (i == j) {
		rc = 0;
	} else if (j >= 0 && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
	} else if (j >= 0 && S_ISDIR(s->nodes[i]->attr.mode) != S_ISDIR(s->nodes[j]->attr.mode)) {
		rc = S_ISDIR(s->nodes[j]->attr.mode) ? -EISDIR : -ENOTDIR;
	} else if (!(name = strdup(to))) {
		rc = -ENOMEM;
	} else {
		struct scratch_node *n = s->nodes[i];
		free(n->name);
		n->name = name;
		now(&n->attr.ctime);
		if (j >= 0)
			unlink_at(s, (size_t)j);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int scratch_take(struct scratch *s, const char *name, char **data, size_t *len)
{
	ssize_t i;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	i = find(s, name);
	if (i < 0) {
		rc = -ENOENT;
	} else if (S_ISDIR(s->nodes[i]->attr.mode)) {
		rc = -EISDIR;
	} else {
		struct scratch_node *n = s->nodes[i];
		*len = (size_t)n->attr.size;
		*data = malloc(*len + 1);
		if (*data) {
			if (*len)
				memcpy(*data, n->data, *len);
			(*data)[*len] = '\0';
		}
		/* Consumed either way: even out of memory, the file is gone. */
		unlink_at(s, (size_t)i);
		if (!*data)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int scratch_list(struct scratch *s, scratch_list_fn fn, void *ctx)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->count && rc == 0; i++)
		rc = fn(ctx, s->nodes[i]->name, &s->nodes[i]->attr);
	pthread_mutex_unlock(&s->lock);
	return rc;
}
