/*
 * Private to src/therapy. therapy.c holds the module (routes, resources)
 * and the helpers below; therapists.c the therapists resource and the
 * public directory; sessions.c therapy sessions and their status actions,
 * session_notes.c their private notes; forms.c forms, field and rule
 * validation, scoring and the form_responses resource; library.c
 * resources and assignments.
 */
#ifndef THERAPY_THERAPY_INT_H
#define THERAPY_THERAPY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "resource/resource.h"

struct request;
struct store;
struct tx;
struct principal;
struct resource;

#define THERAPY_NOTES_MAX  20000 /* code points of a note */
#define THERAPY_TEXT_MAX   10000 /* bio, descriptions */
#define THERAPY_REASON_MAX 500	 /* code points of a cancel's reason */

/* therapists.c */
extern const struct resource therapists_resource;
void			     therapy_directory_list(struct request *);
void			     therapy_directory_get(struct request *);

/* sessions.c */
extern const struct resource therapy_sessions_resource;
/* One session, as its actions and private notes see it. */
struct tsession {
	char	id[37];
	char	therapist_id[37];
	char	therapist_user[37];
	char	client_id[37];
	char	status[16];
	char	type[16];
	char	format[16];
	int64_t start; /* start_time, ms */
	char   *meta;  /* malloc'd JSON text: free it */
};
/* Session id into s; ERR_NOT_FOUND. */
int  therapy_session_load(struct tx *, const char *id, struct tsession *);
void therapy_session_complete(struct request *);
void therapy_session_cancel(struct request *);
void therapy_session_no_show(struct request *);
void therapy_session_reschedule(struct request *);

/* session_notes.c */
void therapy_session_notes_get(struct request *);
void therapy_session_notes_put(struct request *);
/* Write s's private notes (NULL: clear them), sealed under the client's
 * key, audited as by who (NULL: no actor); req may be NULL. */
int therapy_session_notes_store(struct tx *, struct request *,
    const struct principal *who, const struct tsession *s, const char *text);

/* seed.c: the practice's demo data for `carebase seed` */
struct seed_accounts;
int therapy_seed(struct store *, struct seed_accounts *);

/* forms.c */
extern const struct resource forms_resource;
extern const struct resource form_responses_resource;
/*
 * Check a form's field list and scoring (NULL = none); append one entry
 * per problem to errs. Pure, for unit tests too.
 */
void therapy_form_check(json_t *fields, json_t *scoring, json_t *errs);
/*
 * Check answers against a form's fields (one entry per bad field, named
 * "responses.<id>") and, when OK and scoring is not NULL, set *score to
 * {"items": {...}, "total": n, "max": m, "severity": label}.
 */
void therapy_answers_check(json_t *fields, json_t *scoring, json_t *answers,
    json_t *errs, json_t **score);

/* library.c */
extern const struct resource resources_resource;
extern const struct resource resource_assignments_resource;
void			     therapy_library_list(struct request *);
void			     therapy_assignment_open(struct request *);
void			     therapy_assignment_complete(struct request *);

/* therapy.c: shared helpers */
/* Append {"field", "code", "detail"} to errs. */
#define therapy_err resource_field_err
/* Answer 422 with errs (taken) when it has entries: returns ERR_INVALID;
 * OK (errs freed) when empty. */
#define therapy_errs_answer resource_errs_answer
/* The therapist profile of user_id: id into out (37); ERR_NOT_FOUND. */
int therapy_therapist_of(struct tx *, const char *user_id, char *out);
/* The user and active flag of therapist_id; ERR_NOT_FOUND. */
int therapy_therapist_user(
    struct tx *, const char *therapist_id, char *user_out, int *active);
/* OK if lead has an active relationship of kind with follower, else
 * ERR_NOT_FOUND. */
int therapy_related(
    struct tx *, const char *lead, const char *follower, const char *kind);
/* people_health_consent_answer: 403 CONSENT_REQUIRED or
 * DATE_OF_BIRTH_REQUIRED. */
int therapy_consent(struct request *, struct tx *, const char *user_id);
/* Characters (code points) of UTF-8 s, as the field bounds count. */
size_t therapy_chars(const char *s);
/* Serialise writers per key inside tx (PostgreSQL: an advisory
 * transaction lock; SQLite: the write transaction already does). */
int therapy_lock(struct tx *, const char *key);

#endif
