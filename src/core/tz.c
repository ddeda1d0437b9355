/*
 * The time zone names of the compiled-in tzdata.zi, read once into a
 * sorted table and looked up by halving. tzdata.zi's lines that matter:
 * "Z NAME ..." (a zone) and "L TARGET NAME" (a link); the rest are rules
 * and comments.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/embedded.h"
#include "core/log.h"
#include "core/tz.h"

#define TZDATA_PATH "/usr/share/zoneinfo/tzdata.zi"
#define TZ_NAMES    2048 /* room for the list (about 600 names) */

struct tz_name {
	const char *s; /* borrowed from the embedded file */
	size_t	    len;
};

static void tz_build(void);
static void tz_add(const char *, const char *);
static int  tz_cmp(const void *, const void *);

static struct tz_name tz_names[TZ_NAMES];
static size_t	      tz_count;
static pthread_once_t tz_once = PTHREAD_ONCE_INIT;

int
tz_name_valid(const char *name)
{
	struct tz_name key;
	size_t	       len;

	pthread_once(&tz_once, tz_build);
	if (name == NULL || (len = strlen(name)) == 0 || len > TZ_NAME_MAX)
		return (0);
	key.s = name;
	key.len = len;
	return (bsearch(&key, tz_names, tz_count, sizeof(tz_names[0]),
		    tz_cmp) != NULL);
}

static void
tz_build(void)
{
	const struct embedded_file *f;
	const char		   *p, *end, *nl, *name, *sp;

	if ((f = embedded_find(TZDATA_PATH)) == NULL) {
		log_warn("event=tzdata_missing path=%s", TZDATA_PATH);
		return;
	}
	for (p = f->data, end = f->data + f->len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (nl - p < 3 || p[1] != ' ' || (p[0] != 'Z' && p[0] != 'L'))
			continue;
		name = p + 2;
		/* A link names its target first, then itself. */
		if (p[0] == 'L') {
			if ((sp = memchr(name, ' ', (size_t)(nl - name))) ==
			    NULL)
				continue;
			name = sp + 1;
		}
		if ((sp = memchr(name, ' ', (size_t)(nl - name))) == NULL)
			sp = nl;
		tz_add(name, sp);
	}
	qsort(tz_names, tz_count, sizeof(tz_names[0]), tz_cmp);
}

static void
tz_add(const char *s, const char *e)
{
	if (e <= s || (size_t)(e - s) > TZ_NAME_MAX || tz_count >= TZ_NAMES)
		return;
	tz_names[tz_count].s = s;
	tz_names[tz_count].len = (size_t)(e - s);
	tz_count++;
}

static int
tz_cmp(const void *a, const void *b)
{
	const struct tz_name *x = a, *y = b;
	int		      c;

	c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return (c);
	return (x->len < y->len ? -1 : x->len > y->len);
}
