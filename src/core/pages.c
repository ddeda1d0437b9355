/*
 * The web application's pages that mail links to (see pages.h). Links
 * are built from config public_url, never from a request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/pages.h"

static const struct page_def page_defs[PAGE_COUNT] = {
	[PAGE_RESET_PASSWORD] = { "reset_password", "/reset-password?token=",
	    PAGE_ARG_TOKEN, "choose a new password (a reset link)" },
	[PAGE_VERIFY_EMAIL] = { "verify_email",
	    "/verify-email?token=", PAGE_ARG_TOKEN,
	    "confirm the address of a new account "
	    "(POST /v1/auth/verify-email)" },
	[PAGE_SET_PASSWORD] = { "set_password",
	    "/set-password?token=", PAGE_ARG_TOKEN,
	    "a staff invitation: choose the first password "
	    "(POST /v1/auth/set-password)" },
	[PAGE_ACCOUNT] = { "account", "/account", PAGE_ARG_NONE,
	    "the person's own account: details, password, sessions" },
	[PAGE_BOOKING] = { "booking", "/bookings/", PAGE_ARG_ID,
	    "one training booking" },
	[PAGE_CERTIFICATE] = { "certificate", "/certificates/", PAGE_ARG_ID,
	    "one certificate" },
	[PAGE_NOTIFICATIONS] = { "notifications", "/notifications",
	    PAGE_ARG_NONE, "the person's notifications" },
	[PAGE_NOT_ME] = { "not_me", "/not-me?token=", PAGE_ARG_TOKEN,
	    "the owner of an address given for a child's account refuses it" },
	[PAGE_REPORT_RUN] = { "report_run", "/reports/runs/", PAGE_ARG_ID,
	    "one report run and its result (staff)" },
};

const struct page_def *
pages_table(void)
{
	return (page_defs);
}

static int
arg_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return (0);
	for (i = 0; s[i] != '\0'; i++)
		if (i >= 256 ||
		    !((s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
			s[i] == '_'))
			return (0);
	return (1);
}

char *
pages_link(enum page p, const char *arg)
{
	const struct page_def *d;
	const char *base = config.public_url != NULL ? config.public_url : "";
	char	   *out;
	size_t	    blen = strlen(base);

	if ((int)p < 0 || p >= PAGE_COUNT)
		return (NULL);
	d = &page_defs[p];
	if ((d->arg == PAGE_ARG_NONE) != (arg == NULL) ||
	    (arg != NULL && !arg_valid(arg)))
		return (NULL);
	/* public_url "https://x/" and "https://x" give the same link */
	if (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (asprintf(&out, "%.*s%s%s", (int)blen, base, d->path,
		arg != NULL ? arg : "") < 0)
		return (NULL);
	return (out);
}
