#include <string.h>

#include "core/embedded.h"

const struct embedded_file *
embedded_find(const char *path)
{
	const struct embedded_file *f;

	for (f = embedded_files; f->path != NULL; f++)
		if (strcmp(f->path, path) == 0)
			return (f);
	return (NULL);
}

const struct embedded_asset *
embedded_asset_find(const char *path)
{
	size_t lo = 0, hi = embedded_nassets, mid;
	int    c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(path, embedded_assets[mid].path);
		if (c == 0)
			return (&embedded_assets[mid]);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (NULL);
}
