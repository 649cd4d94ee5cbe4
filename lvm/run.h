/* Running external commands: the only place in cinderfs that does. argv
 * only, never a shell; programs from an allow-list, found in the system's
 * sbin and bin directories (never through PATH, which could reach into our
 * own mount); a timeout; stdout and stderr captured; a non-zero exit an
 * error carrying the command's own words. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct run_result {
	int exit_code;     /* -1 when killed by a signal or the timeout */
	char *out;         /* stdout, NUL-terminated, malloc'd */
	char *err;         /* stderr, NUL-terminated, malloc'd */
};

void run_result_free(struct run_result *r);

/* How commands run: the environment they get and how long they may take. */
struct run_config {
	int timeout_ms;             /* killed (SIGKILL) after this */
	const char *lvm_system_dir; /* LVM_SYSTEM_DIR, or NULL */
	const char *const *allow;   /* NULL: cinderfs's allow-list (tests name their own) */
};

/* A runner: the real one, or a recording fake in unit tests. run() returns
 * 0 when the command ran and exited 0; -EIO when it exited non-zero (the
 * result still filled, err naming the command and its last stderr line);
 * -ETIMEDOUT; -EPERM for a program not on the allow-list. */
struct runner {
	int (*run)(void *ctx, const char *const argv[], struct run_result *res, struct cf_err *err);
	void *ctx;
};

/* The real runner; cfg must outlive it. */
struct runner run_system(const struct run_config *cfg);

/* Whether a program is on the allow-list, and its absolute path. */
bool run_allowed(const char *program, char *path, size_t size);

/* The last non-empty line of a command's stderr, trimmed: the words an
 * operator needs (LVM and tgtadm put the reason there). */
void run_last_line(const char *text, char *out, size_t size);
