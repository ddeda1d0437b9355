/*
 * Private to src/people: relationships and their consent actions
 * (relationships.c), the digital-consent rule (consent.c), GDPR export and
 * erasure (gdpr.c), and the audit log's read endpoint and command
 * (audit_log.c).
 *
 * The handlers people.c lists (export, erasure) and relationships_resource
 * are declared in people_int.h. The routes below are their own module,
 * people_access_module, which main.c lists after people_module:
 *
 *	POST /v1/relationships/{id}/consent	record consent: pending -> active
 *	POST /v1/relationships/{id}/end		pending|active -> ended
 *	GET  /v1/me/health-consent		may health data be stored now?
 *	GET  /v1/audit-log			staff read of the audit log
 *
 * POST /v1/relationships (admins) and the reads (GET /v1/relationships,
 * /{id}: the rows the caller is a party to) come from the resource layer;
 * members make their family's in family.c (POST /v1/me/family/...).
 */
#ifndef PEOPLE_GDPR_H
#define PEOPLE_GDPR_H

#include <stdint.h>

#include <jansson.h>

struct module;
struct principal;
struct request;
struct tx;

extern const struct module people_access_module;

/* relationships.c */
void people_relationship_consent(struct request *);
void people_relationship_end(struct request *);
/* Relationships where user_id is lead or follower, for the export (not
 * an invitation of theirs not answered yet); *truncated set to 1 past
 * RESOURCE_EXPORT_MAX. */
int people_relationships_of(
    struct tx *, const char *user_id, json_t *out, int *truncated);

/* consent.c */
void people_health_consent_get(struct request *);
/*
 * The consent rule with its reason: "adult", "guardian_consent" (OK),
 * "consent_required" (a minor), "date_of_birth_required" (age unknown,
 * no guardian consent) (ERR_FORBIDDEN), or ERR_NOT_FOUND.
 */
int people_consent_status(
    struct tx *, const char *user_id, const char **reason);
/* *minor = 1 if user_id is under the digital-consent age of their
 * country (or of unknown age and did not accept the terms themselves);
 * ERR_NOT_FOUND for no live user. */
int people_is_minor(struct tx *, const char *user_id, int *minor);
/* people_is_minor, and *known = 1 when a birth date decided it (only
 * then is *minor = 0 an age over the consent age), *age (may be NULL)
 * the person's age in years then, else -1. */
int people_age_status(
    struct tx *, const char *user_id, int *minor, int *known, int *age);
/* *minor = 1 if a person born on dob ("YYYY-MM-DD") in country (NULL: the
 * default) is under the digital-consent age today; ERR_INVALID for a date
 * that is not one, or in the future. */
int people_dob_minor(const char *dob, const char *country, int *minor);
/* 1 if cc is an assigned ISO 3166-1 alpha-2 code (either case). */
int people_country_known(const char *cc);
/* audit_log.c */
void people_audit_log_list(struct request *);

/* gdpr.c */
/*
 * The export of user_id (what GET /v1/me/export answers) into *doc,
 * inside tx, a write transaction: health reads are audited as who's, and
 * with audited the export itself (users.export). ERR_NOT_FOUND for no
 * such user or an erased one.
 */
int people_export(struct tx *, const struct principal *who, struct request *,
    const char *user_id, int audited, json_t **doc);
/* Erase user_id inside tx as who (see gdpr.c); req may be NULL. */
int people_erase(struct tx *, const struct principal *who, struct request *,
    const char *user_id);

/* Shared helpers (gdpr.c) */
/* An ISO 8601 JSON string for a time in ms; null for the column's NULL. */
json_t *people_json_time(int null, int64_t ms);
/* A JSON object body when one was sent (NULL when none); answers 400 and
 * returns non-OK when it does not parse or is not an object. */
int people_body_object(struct request *, json_t **out);

#endif
