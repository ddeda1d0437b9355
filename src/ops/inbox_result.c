/*
 * inbox_fail and inbox_parse_object on their own: the webhook payload checks (partners/input.c,
 * learning/storyblok_check.c) report through it, and their fuzz targets
 * link this file without the inbox and everything it needs. Also
 * inbox_result_reset, which inbox.c and inbox_rows.c share.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"
#include "ops/inbox.h"
#include "ops/ops_int.h"

int
inbox_fail(
    struct inbox_result *r, int rc, const char *code, const char *fmt, ...)
{
	va_list ap;

	r->rc = rc;
	strlcpy_cb(r->code, code != NULL ? code : "", sizeof(r->code));
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return (rc);
}

int
inbox_parse_object(const char *body, size_t			      len,
    int (*check)(json_t *, json_t *, struct inbox_result *), json_t **work,
    struct inbox_result *r)
{
	json_error_t jerr;
	json_t	    *p, *w;
	int	     rc;

	*work = NULL;
	if ((p = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		/* Position only: jansson's text can quote the body (an
		 * email address), and this line is stored in clear. */
		return (inbox_fail(r, ERR_MALFORMED, NULL,
		    "Invalid JSON at "
		    "line %d, column %d.",
		    jerr.line, jerr.column));
	if (!json_is_object(p)) {
		json_decref(p);
		return (inbox_fail(r, ERR_MALFORMED, NULL,
		    "The body must be a "
		    "JSON object."));
	}
	if ((w = json_object()) == NULL) {
		json_decref(p);
		return (inbox_fail(r, ERR_NOMEM, NULL, "Out of memory."));
	}
	rc = check(p, w, r);
	json_decref(p);
	if (rc != OK) {
		json_decref(w);
		return (rc);
	}
	*work = w;
	return (OK);
}

void
inbox_result_reset(struct inbox_result *r)
{
	json_decref(r->errors);
	json_decref(r->out);
	memset(r, 0, sizeof(*r));
}
