/* The cleaner: Cinder's do_cleanup, on the worker that took a job
 * (doc/cleanup.md section 5), and a worker's own cleanup at start
 * (section 6). Each row is claimed with an optimistic update, checked, acted
 * on through the driver, and deleted, or given back when the action fails;
 * rows go in batches, claimed and ended a batch at a time. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "driver.h"
#include "store.h"

#define CLEANER_BACKENDS 8

struct cleaner {
	struct store *st;
	struct driver drv;
	int64_t me;        /* services.id of the worker doing the cleanup */
	/* Whether the last hosts asked about (in this job) are on this
	 * worker's backend. */
	size_t n_backends, next_backend;
	struct cleaner_backend {
		char host[NAME_LEN], cluster[NAME_LEN];
		bool mine;
	} backends[CLEANER_BACKENDS];
};

struct cleaner_counts {
	int cleaned, skipped, failed, refused;
};

/* Clean the rows a job reaches, recording each one's progress. Returns 0,
 * or -errno when the database failed (the job then failed as a whole). */
int cleaner_run_job(struct cleaner *c, const struct job *job, struct cleaner_counts *counts);

/* A starting worker cleans the rows it owns from before `started`. */
int cleaner_clean_own(struct cleaner *c, const struct timespec *started,
		      struct cleaner_counts *counts);

/* What cleaning one workers row would do: the decision clean_row acts on
 * (the same function), before any driver call, for cleanup/preview, which
 * acts on nothing:
 * "error", "delete", "available", "in-use" or "skip", and in `why` the
 * words of it. status is the resource's status now (NULL: it is gone),
 * attach_status a volume's ("" for a snapshot). Not foreseen: what a
 * driver or the database would answer, a volume of another backend than
 * the cleaning worker's (refused), a snapshot of a deleting volume that is
 * not deleting itself (the volume then ends in error_deleting). */
const char *cleaner_foresee(bool scheduler, const char *type, const char *row_status,
			    const char *status, const char *attach_status, char *why, size_t size);
