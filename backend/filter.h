/* Filter specs for cleanup requests: parsing (a JSON object, or key=value
 * words) and Cinder's validation, in doc/cleanup.md section 3's order.
 * Steps 1-6 are here and pure; the resource lookup (7) and the upgrade
 * check (8) need the database and live in the request module. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"

#define FILTER_MAX_BYTES 65536

enum tristate { TRI_ANY = -1, TRI_FALSE = 0, TRI_TRUE = 1 };

struct filter {
	/* Whether the key was given at all, even as null: step 7 looks the
	 * resource up only when none of service_id, cluster_name, host is. */
	bool service_id_present, cluster_name_present, host_present;

	bool has_service_id;        /* a value to match */
	int64_t service_id;
	bool service_id_matches_none; /* an integer no row can have (too large) */

	char cluster_name[NAME_LEN]; /* "" = no filter */
	char host[NAME_LEN];         /* "" = no filter */
	char binary[NAME_LEN];       /* "" = cinder-volume and cinder-scheduler */
	int is_up;                   /* enum tristate; absent means TRI_FALSE */
	int disabled;                /* enum tristate; absent or null means TRI_ANY */
	char resource_type[16];      /* "", "Volume" or "Snapshot" */
	char resource_id[UUID_LEN];  /* "" or a canonical lower-case UUID */
};

/* A spec's bytes as one JSON object: the size, NUL and UTF-8 checks, then a
 * JSON object or key=value words (the word null is JSON null; a key given
 * twice is refused). NULL in *out for an empty or blank spec. Shared by
 * every control file that takes a spec; `kind` ("filter", "volume",
 * "snapshot") names it in the messages. */
struct json_t;
int filter_spec_object(const char *spec, size_t len, const char *kind, struct json_t **out,
		       struct cf_err *err);

/* The start of the note line cleanup/request's read adds while its spec
 * would reach something. A line (len bytes, no newline) whose first
 * characters past spaces and tabs are these is a note: filter_parse
 * ignores it, so that what a read gives, written back, is the same spec.
 * Any other '#' is the spec's own (host=a@b#pool; a line "# x" is still
 * refused: a commented-out spec must not become an empty one, which
 * cleans every down worker). */
#define FILTER_NOTE_PREFIX "# cinderfs: "
bool filter_is_note_line(const char *line, size_t len);

/* Parse and validate one whole spec, its note lines ignored (a spec of
 * notes alone is the empty spec, as the read of an empty spec shows it).
 * Returns 0, -EINVAL or -EFBIG with the
 * operator's message in err (Cinder's words where Cinder has them). */
int filter_parse(const char *spec, size_t len, struct filter *out, struct cf_err *err);

/* The canonical form of a UUID given in any of the forms Python's
 * uuid.UUID() takes (any case, 32 hex digits, braces, urn:uuid:).
 * Returns false when text is not a UUID. */
bool filter_canonical_uuid(const char *text, char out[UUID_LEN]);
