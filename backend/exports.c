/* Exports that outlive a target daemon restart. The database is the
 * record (provider_location, provider_auth): a target comes back with the
 * same IQN, LUN and CHAP credentials, so an initiator's stored login works
 * again; only its tid may change, when another target took it meanwhile. */
#include "exports.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dbtime.h"
#include "log.h"

int exports_restore(struct store *st, int64_t me, const struct driver *drv, int *restored,
		    struct cf_err *err)
{
	struct export_record *recs = NULL;
	struct timespec now;
	size_t count = 0;
	int rc;

	*restored = 0;
	if (!drv->ops->restore_exports)
		return 0;
	rc = store_list_exports(st, me, &recs, &count);
	if (rc)
		return err_set(err, -rc, "cannot list the exports of worker %lld: %s", (long long)me,
			       strerror(-rc));
	/* Nothing exported: nothing to ask tgtd. */
	if (count)
		rc = drv->ops->restore_exports(drv->ctx, recs, count, restored, err);
	for (size_t i = 0; i < count; i++) {
		int r;

		if (!recs[i].restored)
			continue;
		log_info("restored the target of volume %s%s%s", recs[i].volume_id,
			 recs[i].new_location[0] ? " under a new tid: " : "", recs[i].new_location);
		if (!recs[i].new_location[0])
			continue;
		dbtime_now(&now);
		r = store_set_export_location(st, recs[i].volume_id, recs[i].new_location, &now);
		if (r)
			log_error("volume %s: cannot record its new provider_location %s: %s",
				  recs[i].volume_id, recs[i].new_location, strerror(-r));
	}
	free(recs);
	return rc;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void exports_check(struct store *st, int64_t me, const struct driver *drv)
{
	/* Per backend thread (a process may run several in the unit tests). */
	static __thread long long last_ms;
	static __thread bool checked, failing;
	struct cf_err err = { "" };
	int restored = 0, rc;

	if (!drv->ops->restore_exports || (checked && mono_ms() - last_ms < EXPORTS_CHECK_MS))
		return;
	checked = true;
	last_ms = mono_ms();
	rc = exports_restore(st, me, drv, &restored, &err);
	if (rc && !failing)
		log_error("checking the exports failed: %s; the targets are restored once it answers",
			  err.msg);
	else if (!rc && (failing || restored))
		log_info("exports checked: %d target(s) restored", restored);
	failing = rc != 0;
}
