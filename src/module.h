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

struct resource;

struct store;

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
	/* Demo data for `carebase seed`; prints what it made. May be NULL. */
	int (*seed)(struct store *);
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif
