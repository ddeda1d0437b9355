/*
 * The pages of the web application that mail links to: one table, so the
 * web application serves exactly these paths and every link a template
 * carries is public_url + one of them (tests/api/test_mail_templates.py
 * checks each template against it). A path ends where its argument goes:
 * "?token=" takes a token, "/" an id; PAGE_ARG_NONE pages take nothing.
 */
#ifndef CORE_PAGES_H
#define CORE_PAGES_H

#include <stddef.h>

enum page {
	PAGE_RESET_PASSWORD, /* a password reset link */
	PAGE_VERIFY_EMAIL,   /* an address confirmed at sign-up */
	PAGE_SET_PASSWORD,   /* a staff invitation: the first password */
	PAGE_ACCOUNT,	     /* the person's own account */
	PAGE_BOOKING,	     /* one training booking */
	PAGE_CERTIFICATE,    /* one certificate */
	PAGE_NOTIFICATIONS,  /* the person's notifications */
	PAGE_NOT_ME,	     /* a child's address refused by its owner */
	PAGE_REPORT_RUN,     /* one report run (staff) */
	PAGE_COUNT
};

enum page_arg { PAGE_ARG_NONE, PAGE_ARG_TOKEN, PAGE_ARG_ID };

struct page_def {
	const char   *name; /* stable, for `carebase mail preview` and docs */
	const char   *path; /* "/verify-email?token=", "/bookings/" */
	enum page_arg arg;
	const char   *doc;
};

/* The table (borrowed), PAGE_COUNT rows in enum order. */
const struct page_def *pages_table(void);
/*
 * public_url + the page's path + arg (a token or an id; NULL for a page
 * that takes none), malloc'd; NULL when out of memory or arg is missing
 * or has a character outside [A-Za-z0-9_-].
 */
char *pages_link(enum page, const char *arg);

#endif
