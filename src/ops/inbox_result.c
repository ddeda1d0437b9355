/*
 * inbox_fail on its own: the webhook payload checks (partners/input.c,
 * learning/storyblok_check.c) report through it, and their fuzz targets
 * link this file without the inbox and everything it needs.
 */
#include <stdarg.h>
#include <stdio.h>

#include <jansson.h>

#include "core/util.h"
#include "ops/inbox.h"

int
inbox_fail(struct inbox_result *r, int rc, const char *code,
    const char *fmt, ...)
{
	va_list	 ap;

	r->rc = rc;
	strlcpy_cb(r->code, code != NULL ? code : "", sizeof(r->code));
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return (rc);
}
