/* Growing a malloc'd array by doubling: the one helper the listings and
 * row collections share. */
#pragma once

#include <errno.h>
#include <stdlib.h>

/* Make room for `need` items of `size` bytes in *items (capacity *cap).
 * Returns 0, or -ENOMEM leaving the array as it was. */
static inline int array_reserve(void **items, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *bigger;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	bigger = realloc(*items, n * size);
	if (!bigger)
		return -ENOMEM;
	*items = bigger;
	*cap = n;
	return 0;
}
