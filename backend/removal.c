/* Removing many volumes' storage: the one path the deletes queued through
 * the mount and the deletes of a cleanup share. As few driver calls as the
 * driver takes (batch_max volumes each: one lvs, one lvremove with LVM);
 * a batch that fails for any reason is retried one volume at a time, so
 * that each volume gets its own answer and only one that cannot go stays. */
#include "removal.h"

#include <string.h>

#include "log.h"

void removal_run(const struct driver *drv, const struct volume *vols, size_t count,
		 struct removal *out)
{
	size_t max = drv->ops->delete_volumes && drv->ops->batch_max > 1 ? drv->ops->batch_max : 1;

	for (size_t start = 0; start < count; start += max) {
		size_t n = count - start < max ? count - start : max;
		struct cf_err err = { "" };
		int rc;

		if (n > 1) {
			log_info("deleting %zu volume(s) in one batch", n);
			rc = drv->ops->delete_volumes(drv->ctx, vols + start, n, &err);
			if (rc == 0) {
				for (size_t i = 0; i < n; i++)
					out[start + i] = (struct removal){ 0, { "" } };
				continue;
			}
			log_warning("the batch of %zu removals failed (%s); removing them one by one", n,
				    err.msg[0] ? err.msg : strerror(-rc));
		}
		for (size_t i = 0; i < n; i++) {
			struct removal *r = &out[start + i];
			r->err.msg[0] = '\0';
			r->rc = drv->ops->delete_volume(drv->ctx, &vols[start + i], &r->err);
		}
	}
}
