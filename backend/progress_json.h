/* progress.json: what became of a cleanup request, read from the store in
 * one snapshot and served at any offset; and its exact length, known from
 * the request's row alone, so that stat never renders. Both follow the one
 * layout of progress_json.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/* The entries of one of the document's arrays (jobs, resources), kept as
 * their rendered values only: the keys and indentation around them are
 * the same for every entry and are put back as the text is read. A
 * document of 100,000 resources takes about a third of its text. */
struct progress_json_array {
	const char *const *keys;
	size_t nkeys;
	char *values;       /* each entry's values, each value ended by '\1' */
	size_t values_len, values_cap;
	bool mapped;        /* values is mapped, not malloc'd */
	uint64_t *starts;   /* where each entry's values start in values */
	size_t count, starts_cap;
	size_t len;         /* the array's text: "[]", or "[" entries "\n  ]" */
};

struct progress_json {
	char *head;         /* everything before the jobs array */
	size_t head_len;
	struct progress_json_array jobs, resources;
	size_t len;         /* the document's length */
	/* What it was rendered from (its request's row, read in the same
	 * snapshot as its rows): a summary alike means the same document. */
	struct request_summary summary;
};

/* The exact length of the document a request with this summary renders
 * to. */
int64_t progress_json_size(const struct request_summary *sum);

/* Request `id`'s progress.json, read in one snapshot (-ENOENT when the
 * request is gone). Free it with progress_json_free. Each render is
 * logged at debug level (the tests count them: stat must render none). */
int progress_json_render(struct store *st, int64_t id, struct progress_json *out);
void progress_json_free(struct progress_json *doc);

/* Up to size bytes of the document's text from offset off; how many (0 at
 * or past its end). */
size_t progress_json_read(const struct progress_json *doc, char *buf, size_t size, off_t off);
