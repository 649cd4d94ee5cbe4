/* progress.json: what became of a cleanup request, rendered straight from
 * the store's rows into one buffer; and its exact length, known from the
 * request's row alone, so that stat never renders. Both follow the one
 * layout of progress_json.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* A rendered document: len bytes at data. Documents of a megabyte or
 * more are mapped, not malloc'd, so that freeing one gives its memory
 * back to the system at once. */
struct progress_json {
	char *data;
	size_t len;
	size_t cap;
	bool mapped;
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
