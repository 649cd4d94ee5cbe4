/* cleanup/'s scratch files: the temporary files and lock directories that
 * config-management tools (Ansible, Puppet, Salt, Chef) make beside
 * cleanup/request while they replace it. They live in memory only, within
 * limits, and are never part of the state: a restart forgets them, and the
 * only way their content reaches the database is a rename over request. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

/* The name every scratch entry must carry: each of those tools names its
 * temporary file after the target (.ansible_tmpXXXXrequest, requestXXXX,
 * request20261125-..., .chef-request...), and Puppet's lock is
 * request.lock. A typo such as `echo ... > cleanup/reqeust` is then
 * refused rather than silently kept. */
#define SCRATCH_NAME_PART "request"

struct scratch_node;

struct scratch {
	pthread_mutex_t lock;
	struct scratch_node **nodes;
	size_t count, cap;
	size_t max_entries;  /* files and directories together */
	size_t max_size;     /* bytes in one file */
};

struct scratch_attr {
	mode_t mode;         /* S_IFREG or S_IFDIR, and the permission bits */
	uid_t uid;
	gid_t gid;
	off_t size;
	struct timespec atime, mtime, ctime;
};

void scratch_init(struct scratch *s, size_t max_entries, size_t max_size);
void scratch_destroy(struct scratch *s);

/* Make a file (O_EXCL honoured, O_TRUNC applied to an existing one) or a
 * directory. A file comes back referenced, for the open that made it;
 * release it with scratch_put. -EACCES for a name without
 * SCRATCH_NAME_PART, -ENOSPC beyond max_entries, -EEXIST. */
int scratch_create(struct scratch *s, const char *name, mode_t mode, uid_t uid, gid_t gid,
		   int flags, struct scratch_node **out, struct cf_err *err);
int scratch_mkdir(struct scratch *s, const char *name, mode_t mode, uid_t uid, gid_t gid,
		  struct cf_err *err);

/* A reference to an entry by name (-ENOENT), and its release. An entry
 * removed while referenced stays readable through the reference. */
int scratch_find(struct scratch *s, const char *name, struct scratch_node **out);
void scratch_put(struct scratch *s, struct scratch_node *n);

void scratch_attr(struct scratch *s, struct scratch_node *n, struct scratch_attr *out);
int scratch_read(struct scratch *s, struct scratch_node *n, char *buf, size_t size, off_t off);
/* -EFBIG (with err) past max_size; -EISDIR on a directory. */
int scratch_write(struct scratch *s, struct scratch_node *n, const char *buf, size_t size,
		  off_t off, struct cf_err *err);
int scratch_truncate(struct scratch *s, struct scratch_node *n, off_t size, struct cf_err *err);

/* chmod, chown ((uid_t)-1 / (gid_t)-1 keep) and utimens (UTIME_NOW and
 * UTIME_OMIT as utimensat(2) takes them; NULL tv is now). */
void scratch_chmod(struct scratch *s, struct scratch_node *n, mode_t mode);
void scratch_chown(struct scratch *s, struct scratch_node *n, uid_t uid, gid_t gid);
void scratch_utimens(struct scratch *s, struct scratch_node *n, const struct timespec tv[2]);

/* unlink (dir false) or rmdir (dir true): -ENOENT, -EISDIR, -ENOTDIR. */
int scratch_remove(struct scratch *s, const char *name, bool dir);

/* Rename within the scratch area; an existing target of the same kind is
 * replaced (-EEXIST with RENAME_NOREPLACE). */
int scratch_rename(struct scratch *s, const char *from, const char *to, unsigned int flags,
		   struct cf_err *err);

/* Remove a file and hand over its content (malloc'd, NUL-terminated, *len
 * bytes): the file is consumed whatever the caller then does with it. */
int scratch_take(struct scratch *s, const char *name, char **data, size_t *len);

typedef int (*scratch_list_fn)(void *ctx, const char *name, const struct scratch_attr *attr);
int scratch_list(struct scratch *s, scratch_list_fn fn, void *ctx);
