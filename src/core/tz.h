/*
 * IANA time zone names, as Debian's tzdata lists them at build time
 * (/usr/share/zoneinfo/tzdata.zi, compiled in by the Makefile): every
 * zone ("Europe/Berlin", "Etc/UTC") and every link to one ("UTC",
 * "Asia/Calcutta", "US/Eastern"), so a name a browser's Intl answers is
 * known whichever spelling it uses. The run-time machine's zoneinfo is
 * never read: a server without tzdata installed answers the same.
 */
#ifndef CORE_TZ_H
#define CORE_TZ_H

#define TZ_NAME_MAX 64 /* longest name kept; the list's longest is 32 */

/* 1 when name is a zone or link name of the compiled-in list. */
int tz_name_valid(const char *name);

#endif
