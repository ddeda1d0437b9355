/*
 * A domain module plugs into carebase through one of these: its routes,
 * its job kinds and recurring jobs, and an optional init. main.c lists
 * the modules.
 */
#ifndef MODULE_H
#define MODULE_H

#include <stddef.h>

#include "http/http.h"
#include "store/jobs.h"

struct buf;
struct resource;

struct store;

/*
 * The demo accounts of `carebase seed`. The people module's seed, which
 * runs first (modules.c), makes them, or finds them made by an earlier
 * seed, and fills this in; each other module's seed gives them its demo
 * data. An id is "" when there is no such account.
 */
struct seed_accounts {
	char admin[37];
	char therapist[37];
	char guardian[37];
	char child[37];
	char member[37];
	char instructor[37];
	char partner_admin[37];
};

struct module {
	const char		  *name;
	const struct route	  *routes;
	size_t			   nroutes;
	const struct job_kind	  *jobs;
	size_t			   njobs;
	const struct job_schedule *schedules;
	size_t			   nschedules;
	/* Declared resources: routes, validation, access (src/resource). */
	const struct resource *const *resources;
	size_t			      nresources;
	int (*init)(struct store *); /* may be NULL */
	/* Demo data for `carebase seed`, once (a second seed adds nothing);
	 * prints what it made. May be NULL. */
	int (*seed)(struct store *, struct seed_accounts *);
	/* May be NULL. Run by `carebase serve` once it answers no more
	 * requests, before the database closes: what the module keeps in
	 * memory to write later is written, its threads end. */
	void (*stop)(void);
	/* May be NULL. GET /metrics: the module's own families, this
	 * process's, appended to b in the text format. */
	int (*metrics)(struct buf *b);
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif
